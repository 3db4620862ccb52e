//! A receiver that hangs holds up nothing but its own delivery: not another alert, not the
//! person's other contacts, not the other people of the level, not the next level, not
//! another person's retry. A step cut short (the process killed while a level's pages were
//! under way) sends, when the server starts again, only what it had not delivered, and an
//! acknowledgement stops a delivery between two attempts.

use std::time::Duration;

use serde_json::json;
use vigil_core::AlertAction;

use crate::{Env, after, escalator, escalator_trying};

fn hook(env: &Env, path: &str) -> serde_json::Value {
    json!({"kind": "webhook", "address": format!("{}{path}", env.hooks.base)})
}

fn org(env: &Env) -> serde_json::Value {
    json!({
        "people": [
            {"name": "hal", "contacts": [hook(env, "/held-hal")]},
            {"name": "alice", "contacts": [hook(env, "/alice")]},
            {"name": "dave", "contacts": [hook(env, "/held-dave")]},
            env.person("bob")
        ],
        "teams": [
            {"name": "slow", "members": ["hal"], "schedules": [Env::always("primary", "hal")]},
            {"name": "pair", "members": ["alice", "dave"],
             "schedules": [Env::always("primary", "alice"), Env::always("secondary", "dave")]},
            {"name": "fast", "members": ["bob"], "schedules": [Env::always("primary", "bob")]}
        ],
        "services": [
            {"name": "slow-api", "team": "slow"},
            {"name": "pair-api", "team": "pair"},
            {"name": "fast-api", "team": "fast"}
        ]
    })
}

/// The escalator's lines in an alert's log.
async fn texts(env: &Env, id: i64) -> Vec<String> {
    env.log(id).await.into_iter().map(|(_, t)| t).collect()
}

/// Waits (at most a minute) until the alert's log holds a line starting with `start`.
async fn wait_for_line(env: &Env, id: i64, start: &str) -> Vec<String> {
    for _ in 0..600 {
        let texts = texts(env, id).await;
        if texts.iter().any(|t| t.starts_with(start)) {
            return texts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "timed out waiting for {start:?}: {:#?}",
        texts(env, id).await
    );
}

#[tokio::test]
async fn a_hanging_receiver_holds_up_no_other_alert() {
    let env = Env::start().await;
    env.apply(org(&env)).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(escalator(&env.store).run(Duration::from_millis(50), stopped));
    let (slow, _) = env.raise("slow-api", "a").await;
    env.hooks
        .wait_for("hal's page to arrive", |p| {
            p.contains(&"/held-hal".to_owned())
        })
        .await;
    // hal's receiver has not answered; bob's alert, raised now, is paged all the same.
    let (fast, _) = env.raise("fast-api", "b").await;
    env.hooks
        .wait_for("bob's page", |p| p.contains(&"/bob".to_owned()))
        .await;
    wait_for_line(&env, fast, "level 1 of 1 (round 1): paged bob").await;
    assert_eq!(
        texts(&env, slow).await,
        ["level 1 of 1 (round 1): paging hal; the policy has no further level"],
        "hal's page is still under way"
    );
    // Once hal's receiver answers, hal's page is recorded, once.
    env.hooks.release(1);
    let log = wait_for_line(&env, slow, "level 1 of 1 (round 1): paged hal").await;
    assert_eq!(log.len(), 2, "{log:#?}");
    assert_eq!(
        env.hooks
            .paged()
            .iter()
            .filter(|p| *p == "/held-hal")
            .count(),
        1,
        "{log:#?}"
    );
    stop.send(true).unwrap();
    run.await.unwrap();
}

/// tim's webhook answers while his mail relay (here a second webhook) hangs; the next level,
/// and the one after, are paged at their time while level 1's page still hangs; and the retry
/// of another person of level 1 is made at its time too.
#[tokio::test]
async fn a_hanging_delivery_delays_no_other_contact_level_or_retry() {
    let env = Env::start().await;
    let dead = vigil_testkit::closed_port();
    let org = |carl: String| {
        json!({
            "people": [
                {"name": "tim", "contacts": [hook(&env, "/held-tim"), hook(&env, "/tim")]},
                {"name": "carl", "contacts": [{"kind": "webhook", "address": carl}]},
                env.person("bob"),
                env.person("carol")
            ],
            "teams": [{
                "name": "ops", "members": ["tim", "carl", "bob", "carol"],
                "schedules": [Env::always("primary", "tim"), Env::always("secondary", "carl")],
                "escalation": {"levels": [
                    {"after": "0", "notify": ["schedule:primary", "schedule:secondary"]},
                    {"after": "1s", "notify": ["person:bob"]},
                    {"after": "2s", "notify": ["person:carol"]}
                ]}
            }],
            "services": [{"name": "db", "team": "ops"}]
        })
    };
    env.apply(org(format!("http://127.0.0.1:{}/carl", dead.port)))
        .await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let escalator = escalator(&env.store).with_page_retry(Duration::from_millis(500));
    let run = tokio::spawn(escalator.run(Duration::from_millis(50), stopped));
    let (id, _) = env.raise("db", "a").await;
    // tim's other contact is paged at once, not after the hanging one.
    env.hooks
        .wait_for("tim's second contact", |p| p.contains(&"/tim".to_owned()))
        .await;
    let log = wait_for_line(&env, id, "level 1 of 3 (round 1): carl was not reached").await;
    // carl's address is corrected: his retry comes while tim's hanging page is under way.
    env.apply(org(format!("{}/carl", env.hooks.base))).await;
    env.hooks
        .wait_for("carl's retry, bob's and carol's levels", |p| {
            ["/carl", "/bob", "/carol"]
                .iter()
                .all(|w| p.contains(&(*w).to_owned()))
        })
        .await;
    let log = [log, texts(&env, id).await].concat();
    assert!(
        !log.iter()
            .any(|t| t.starts_with("level 1 of 3 (round 1): could not page tim")),
        "tim's hanging contact timed out first: {log:#?}"
    );
    // Each level said when the next is due before its pages were delivered.
    let level1 = log
        .iter()
        .position(|t| t.starts_with("level 1 of 3 (round 1): paging tim, carl; level 2 is due at"))
        .unwrap_or_else(|| panic!("{log:#?}"));
    let tim = log
        .iter()
        .position(|t| t.starts_with("level 1 of 3 (round 1): paged tim"))
        .unwrap_or_else(|| panic!("{log:#?}"));
    assert!(level1 < tim, "{log:#?}");
    assert_eq!(
        env.hooks
            .paged()
            .iter()
            .filter(|p| *p == "/held-tim")
            .count(),
        1,
        "the hanging contact is not paged again while its page is under way"
    );
    env.hooks.release(1);
    stop.send(true).unwrap();
    run.await.unwrap();
}

#[tokio::test]
async fn a_step_cut_short_resends_only_what_it_had_not_delivered() {
    let env = Env::start().await;
    env.apply(org(&env)).await;
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(escalator(&env.store).run(Duration::from_millis(50), stopped));
    let (id, raised) = env.raise("pair-api", "a").await;
    env.hooks
        .wait_for("both pages to arrive", |p| p.len() == 2)
        .await;
    wait_for_line(&env, id, "level 1 of 1 (round 1): paged alice").await;
    // Killed while dave's page hangs: alice's was delivered and recorded, the clock moved on.
    run.abort();
    let _ = run.await;

    // The next start delivers dave's page, kept in the store, and only his (two permits: the
    // killed request's handler may still be waiting for one).
    env.hooks.release(2);
    escalator(&env.store).tick(after(raised, 1)).await.unwrap();
    let mut paged = env.hooks.paged();
    paged.sort();
    assert_eq!(
        paged,
        ["/alice", "/held-dave", "/held-dave"],
        "the delivered page was sent again"
    );
    let log = texts(&env, id).await;
    assert_eq!(
        log.iter().filter(|t| t.contains(": delivered")).count(),
        2,
        "{log:#?}"
    );
    assert_eq!(
        log.iter().filter(|t| t.contains("paging")).count(),
        1,
        "{log:#?}"
    );
    assert!(
        log.last()
            .unwrap()
            .starts_with("level 1 of 1 (round 1): paged dave"),
        "{log:#?}"
    );
    escalator(&env.store)
        .tick(after(raised, 1000))
        .await
        .unwrap();
    assert_eq!(env.hooks.paged().len(), 3);
}

/// alice's webhook refuses; the alert is acknowledged while her delivery waits to try again:
/// no further attempt is made, and the log says why it stopped.
#[tokio::test]
async fn an_acknowledgement_stops_a_delivery_between_attempts() {
    let env = Env::start().await;
    env.apply(json!({
        "people": [env.person("alice"), env.person("bob")],
        "teams": [{
            "name": "ops", "members": ["alice", "bob"],
            "schedules": [Env::always("primary", "alice")],
            "escalation": {"levels": [
                {"after": "0", "notify": ["schedule:primary"]},
                {"after": "10m", "notify": ["person:bob"]}
            ]}
        }],
        "services": [{"name": "db", "team": "ops"}]
    }))
    .await;
    env.hooks.set_down(true);
    let (id, raised) = env.raise("db", "a").await;
    let escalator = escalator_trying(&env.store, 4, Duration::from_secs(2));
    let ack = async {
        for _ in 0..600 {
            if env.hooks.refused() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        env.store
            .act_on_alert("carol", id, AlertAction::Acknowledge)
            .await
            .unwrap();
    };
    let (stepped, ()) = tokio::join!(escalator.tick(after(raised, 1)), ack);
    stepped.unwrap();
    assert_eq!(env.hooks.refused(), 1, "an attempt was made after the ack");
    let log = texts(&env, id).await;
    assert!(
        log[log.len() - 2].contains("after 1 attempt(s): failed: HTTP 503: down; not tried again: the alert was acknowledged meanwhile"),
        "{log:#?}"
    );
    assert_eq!(
        log.last().unwrap(),
        "level 1 of 2 (round 1): alice was not reached; the alert was acknowledged meanwhile, so the page is not tried again"
    );
    assert!(!log.last().unwrap().contains("due"));
    assert_eq!(env.store.page_retry_backlog().await.unwrap(), (0, None));
}
