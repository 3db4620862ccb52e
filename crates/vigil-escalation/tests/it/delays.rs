//! Every level waits its `after`, counted from the start of its round: the first level too,
//! in the first round (from the alert's raise) and in repeats.

use serde_json::json;
use vigil_core::AlertAction;

use crate::{Env, after};

fn org(env: &Env) -> serde_json::Value {
    json!({
        "people": [env.person("alice"), env.person("bob")],
        "teams": [{
            "name": "payments", "members": ["alice", "bob"],
            "schedules": [Env::always("primary", "alice")],
            "escalation": {
                "levels": [
                    {"after": "15s", "notify": ["schedule:primary"]},
                    {"after": "30s", "notify": ["person:bob"]}
                ],
                "repeat": 1, "repeat_after": "60s"
            }
        }],
        "services": [{"name": "payments-api", "team": "payments"}]
    })
}

#[tokio::test]
async fn the_first_level_is_paged_after_its_delay() {
    let env = Env::start().await;
    env.apply(org(&env)).await;
    let (id, raised) = env.raise("payments-api", "det-1").await;
    env.tick(after(raised, 1)).await;
    env.tick(after(raised, 10)).await;
    assert!(env.hooks.paged().is_empty(), "paged before `after: 15s`");
    let log = env.log(id).await;
    assert_eq!(log.len(), 1, "{log:#?}");
    let due = (raised + chrono::Duration::seconds(15)).format("%Y-%m-%dT%H:%M:%SZ");
    assert_eq!(
        log[0].1,
        format!("level 1 of 2 (round 1) is due at {due} (after 15s) unless acknowledged")
    );

    env.tick(after(raised, 16)).await;
    assert_eq!(env.hooks.paged(), ["/alice"]);
    env.tick(after(raised, 29)).await;
    assert_eq!(
        env.hooks.paged(),
        ["/alice"],
        "bob is due 30 s after the raise"
    );
    env.tick(after(raised, 32)).await;
    assert_eq!(env.hooks.paged(), ["/alice", "/bob"]);

    // The repeat starts 60 s after the last level, and its first level waits 15 s more.
    env.tick(after(raised, 92)).await;
    assert_eq!(env.hooks.paged().len(), 2);
    env.tick(after(raised, 108)).await;
    assert_eq!(env.hooks.paged(), ["/alice", "/bob", "/alice"]);
}

#[tokio::test]
async fn an_acknowledgement_before_the_first_level_pages_nobody() {
    let env = Env::start().await;
    env.apply(org(&env)).await;
    let (id, raised) = env.raise("payments-api", "det-1").await;
    env.tick(after(raised, 1)).await;
    env.store
        .act_on_alert("alice", id, AlertAction::Acknowledge)
        .await
        .unwrap();
    env.tick(after(raised, 16)).await;
    env.tick(after(raised, 40)).await;
    assert!(env.hooks.paged().is_empty());
}
