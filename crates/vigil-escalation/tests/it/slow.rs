//! A receiver that hangs holds up only its own alert's escalation, and a step cut short (the
//! process killed between two deliveries of a level) sends, when it runs again, only what it
//! had not delivered.

use std::time::Duration;

use serde_json::json;

use crate::{Env, after, escalator};

fn org(env: &Env) -> serde_json::Value {
    let hook =
        |path: &str| json!({"kind": "webhook", "address": format!("{}{path}", env.hooks.base)});
    json!({
        "people": [
            {"name": "hal", "contacts": [hook("/held-hal")]},
            {"name": "alice", "contacts": [hook("/alice-1"), hook("/held-alice-2")]},
            env.person("bob")
        ],
        "teams": [
            {"name": "slow", "members": ["hal"], "schedules": [Env::always("primary", "hal")]},
            {"name": "twice", "members": ["alice"], "schedules": [Env::always("primary", "alice")]},
            {"name": "fast", "members": ["bob"], "schedules": [Env::always("primary", "bob")]}
        ],
        "services": [
            {"name": "slow-api", "team": "slow"},
            {"name": "twice-api", "team": "twice"},
            {"name": "fast-api", "team": "fast"}
        ]
    })
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
    assert!(
        env.log(fast).await.last().unwrap().1.contains("paged"),
        "{:?}",
        env.log(fast).await
    );
    assert!(
        env.log(slow).await.is_empty(),
        "hal's step is still under way"
    );
    // Once hal's receiver answers, hal's step ends, once.
    env.hooks.release(1);
    for _ in 0..600 {
        if env.log(slow).await.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = env.log(slow).await;
    assert_eq!(log.len(), 2, "{log:#?}");
    assert_eq!(
        env.hooks
            .paged()
            .iter()
            .filter(|p| *p == "/held-hal")
            .count(),
        1
    );
    stop.send(true).unwrap();
    run.await.unwrap();
}

#[tokio::test]
async fn a_step_cut_short_resends_only_what_it_had_not_delivered() {
    let env = Env::start().await;
    env.apply(org(&env)).await;
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(escalator(&env.store).run(Duration::from_millis(50), stopped));
    let (id, raised) = env.raise("twice-api", "a").await;
    env.hooks
        .wait_for("alice's second page to arrive", |p| {
            p.contains(&"/held-alice-2".to_owned())
        })
        .await;
    // Killed between the two deliveries of the level: the first was delivered and recorded.
    run.abort();
    let _ = run.await;
    assert_eq!(env.hooks.paged(), ["/alice-1", "/held-alice-2"]);

    // The next start takes the level up again (two permits: the killed request's handler may
    // still be waiting for one).
    env.hooks.release(2);
    escalator(&env.store).tick(after(raised, 1)).await.unwrap();
    assert_eq!(
        env.hooks.paged(),
        ["/alice-1", "/held-alice-2", "/held-alice-2"],
        "the delivered page was sent again"
    );
    let log = env.log(id).await;
    let texts: Vec<&str> = log.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.contains("by webhook after 1 attempt(s): delivered"))
            .count(),
        2,
        "{texts:#?}"
    );
    assert_eq!(
        *texts.last().unwrap(),
        "level 1 of 1 (round 1) paged; the policy has no further level"
    );
}
