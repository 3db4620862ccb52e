//! A page that reached its person on no contact (the receiver down, a webhook failing) is
//! tried again, apart from the escalation clock, until it is delivered or the alert is
//! acknowledged: the next level still comes at its own time, a retry kept in the store
//! survives a restart, and a delivered page is never sent again.

use serde_json::json;
use vigil_core::AlertAction;

use crate::{Env, after, escalator};

fn texts(log: &[(String, String)]) -> Vec<&str> {
    log.iter().map(|(_, t)| t.as_str()).collect()
}

/// Alice on call for service db, her webhook refusing, and an alert of db raised.
async fn alice_paged_while_her_webhook_is_down() -> (Env, i64, chrono::DateTime<chrono::Utc>) {
    let env = Env::start().await;
    env.apply(json!({
        "people": [env.person("alice")],
        "teams": [{"name": "ops", "members": ["alice"], "schedules": [Env::always("primary", "alice")]}],
        "services": [{"name": "db", "team": "ops"}]
    }))
    .await;
    env.hooks.set_down(true);
    let (id, raised) = env.raise("db", "det-1").await;
    (env, id, raised)
}

#[tokio::test]
async fn an_undelivered_page_is_tried_again_until_delivered_and_sent_once() {
    let (env, id, raised) = alice_paged_while_her_webhook_is_down().await;
    env.tick(after(raised, 1)).await;
    assert_eq!(env.hooks.refused(), 1);
    let log = env.log(id).await;
    let retry_at = after(raised, 61).format("%Y-%m-%dT%H:%M:%SZ");
    assert_eq!(
        texts(&log)[0],
        "level 1 of 1 (round 1): paging alice; the policy has no further level"
    );
    assert!(
        texts(&log)[1].starts_with("level 1 of 1 (round 1): could not page alice"),
        "{log:#?}"
    );
    assert!(
        texts(&log)[2].starts_with(&format!(
            "level 1 of 1 (round 1): alice was not reached; the page is tried again at {retry_at}"
        )),
        "{log:#?}"
    );
    assert_eq!(log.len(), 3, "{log:#?}");
    assert_eq!(env.store.page_retry_backlog().await.unwrap().0, 1);
    // The alert says what is failing now, for `vigil alerts show` and the API.
    let alert = env.store.get_alert(id).await.unwrap();
    let [page] = &alert.undelivered[..] else {
        panic!("{:#?}", alert.undelivered)
    };
    assert_eq!(
        (page.person.as_str(), page.tries, page.next_try),
        ("alice", 1, after(raised, 61))
    );
    assert_eq!(page.step, "level 1 of 1 (round 1)");
    assert!(page.error.contains("503"), "{}", page.error);

    // Not before its time; then tried again, failing the same way: no new line in the log.
    env.tick(after(raised, 30)).await;
    assert_eq!(env.hooks.refused(), 1);
    env.tick(after(raised, 62)).await;
    assert_eq!(env.hooks.refused(), 2);
    assert_eq!(env.log(id).await.len(), log.len());

    // The receiver is back and the server restarted: the stored retry pages alice, after the
    // doubled wait (120 s after the second try).
    env.hooks.set_down(false);
    let restarted = escalator(&env.store);
    restarted.tick(after(raised, 150)).await.unwrap();
    assert!(env.hooks.paged().is_empty());
    restarted.tick(after(raised, 183)).await.unwrap();
    assert_eq!(env.hooks.paged(), ["/alice"]);
    let log = env.log(id).await;
    assert!(
        texts(&log).last().unwrap().starts_with(
            "level 1 of 1 (round 1): paged alice (on call in schedule primary) by webhook after 1 attempt(s), try 3 since"
        ),
        "{log:#?}"
    );
    assert_eq!(env.store.page_retry_backlog().await.unwrap(), (0, None));
    assert!(
        env.store
            .get_alert(id)
            .await
            .unwrap()
            .undelivered
            .is_empty()
    );

    // Delivered once: never again.
    restarted.tick(after(raised, 2000)).await.unwrap();
    env.tick(after(raised, 4000)).await;
    assert_eq!(env.hooks.paged(), ["/alice"]);
}

/// A receiver that takes its timeout before failing: the next try is a minute after the
/// delivery gave up, not a minute after the page was due (which left seconds).
#[tokio::test]
async fn the_wait_before_a_retry_counts_from_when_the_delivery_gave_up() {
    let env = Env::start().await;
    env.apply(json!({
        "people": [{"name": "alice", "contacts": [
            {"kind": "webhook", "address": format!("{}/held-alice", env.hooks.base)}
        ]}],
        "teams": [{"name": "ops", "members": ["alice"], "schedules": [Env::always("primary", "alice")]}],
        "services": [{"name": "db", "team": "ops"}]
    }))
    .await;
    let (id, raised) = env.raise("db", "det-1").await;
    let slow = crate::escalator_timing_out(
        &env.store,
        1,
        std::time::Duration::from_millis(10),
        std::time::Duration::from_secs(2),
    );
    slow.tick(after(raised, 1)).await.unwrap();
    let log = env.log(id).await;
    let retry_at = after(raised, 1 + 2 + 60).format("%Y-%m-%dT%H:%M:%SZ");
    assert!(
        texts(&log).iter().any(|t| t.starts_with(&format!(
            "level 1 of 1 (round 1): alice was not reached; the page is tried again at {retry_at}"
        ))),
        "{log:#?}"
    );
    env.hooks.release(1);
}

#[tokio::test]
async fn the_next_level_is_paged_in_addition_and_a_corrected_address_is_used() {
    let env = Env::start().await;
    let dead = vigil_testkit::closed_port();
    let org = |alice: String| {
        json!({
            "people": [
                {"name": "alice", "contacts": [{"kind": "webhook", "address": alice}]},
                env.person("bob")
            ],
            "teams": [{
                "name": "ops", "members": ["alice", "bob"],
                "schedules": [Env::always("primary", "alice")],
                "escalation": {"levels": [
                    {"after": "0", "notify": ["schedule:primary"]},
                    {"after": "10s", "notify": ["person:bob"]}
                ]}
            }],
            "services": [{"name": "db", "team": "ops"}]
        })
    };
    env.apply(org(format!("http://127.0.0.1:{}/alice", dead.port)))
        .await;
    let (id, raised) = env.raise("db", "det-1").await;
    env.tick(after(raised, 1)).await;
    assert!(env.hooks.paged().is_empty());

    // Level 2 comes at its own time, while alice's page waits to be tried again.
    env.tick(after(raised, 11)).await;
    assert_eq!(env.hooks.paged(), ["/bob"]);
    let log = env.log(id).await;
    assert!(
        texts(&log)
            .last()
            .unwrap()
            .starts_with("level 2 of 2 (round 1): paged bob"),
        "{log:#?}"
    );

    // alice's address is corrected: the retry reads it from the organisation in force.
    env.apply(org(format!("{}/alice", env.hooks.base))).await;
    env.tick(after(raised, 62)).await;
    assert_eq!(env.hooks.paged(), ["/bob", "/alice"]);
    let body: serde_json::Value = serde_json::from_str(&env.hooks.bodies()[1]).unwrap();
    assert!(
        body.to_string().contains("level 1 of 2 (round 1)"),
        "the retried page names its level: {body}"
    );
    env.tick(after(raised, 1000)).await;
    assert_eq!(env.hooks.paged(), ["/bob", "/alice"]);
}

#[tokio::test]
async fn an_acknowledgement_stops_the_retries() {
    let (env, id, raised) = alice_paged_while_her_webhook_is_down().await;
    env.tick(after(raised, 1)).await;
    assert_eq!(env.store.page_retry_backlog().await.unwrap().0, 1);
    env.store
        .act_on_alert("alice", id, AlertAction::Acknowledge)
        .await
        .unwrap();
    assert_eq!(env.store.page_retry_backlog().await.unwrap(), (0, None));
    env.hooks.set_down(false);
    env.tick(after(raised, 100)).await;
    env.tick(after(raised, 1000)).await;
    assert!(env.hooks.paged().is_empty());
    assert_eq!(env.hooks.refused(), 1);
}

#[tokio::test]
async fn a_person_reached_at_a_later_level_is_not_paged_again_for_the_earlier_one() {
    let env = Env::start().await;
    env.apply(json!({
        "people": [env.person("alice")],
        "teams": [{
            "name": "ops", "members": ["alice"],
            "schedules": [Env::always("primary", "alice")],
            "escalation": {"levels": [
                {"after": "0", "notify": ["schedule:primary"]},
                {"after": "10s", "notify": ["person:alice"]}
            ]}
        }],
        "services": [{"name": "db", "team": "ops"}]
    }))
    .await;
    env.hooks.set_down(true);
    let (_, raised) = env.raise("db", "det-1").await;
    env.tick(after(raised, 1)).await;
    env.hooks.set_down(false);
    env.tick(after(raised, 11)).await;
    assert_eq!(env.hooks.paged(), ["/alice"]);
    assert_eq!(env.store.page_retry_backlog().await.unwrap(), (0, None));
    env.tick(after(raised, 1000)).await;
    assert_eq!(env.hooks.paged(), ["/alice"]);
}
