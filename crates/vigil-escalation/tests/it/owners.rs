//! Alerts nobody owns still reach a responder: the central team is paged for them, and an alert
//! raised before anyone could be paged waits and is paged once the organisation is corrected.
//! A policy shortened mid-escalation goes on at its last level.

use serde_json::json;

use crate::{Env, after};

fn central_org(env: &Env, central_team: Option<&str>) -> serde_json::Value {
    let mut org = json!({
        "people": [env.person("alice"), env.person("sam")],
        "teams": [
            {"name": "payments", "members": ["alice"], "schedules": [Env::always("primary", "alice")]},
            {"name": "security-response", "members": ["sam"], "schedules": [Env::always("primary", "sam")]}
        ],
        "services": [{"name": "payments-api", "team": "payments"}]
    });
    if let Some(t) = central_team {
        org["central_team"] = json!(t);
    }
    org
}

#[tokio::test]
async fn an_alert_of_a_service_nobody_owns_pages_the_central_team() {
    let env = Env::start().await;
    env.apply(central_org(&env, Some("security-response")))
        .await;
    // A report through the form that named no service.
    let (id, raised) = env.raise("unknown", "report-1").await;
    env.tick(after(raised, 1)).await;
    assert_eq!(env.hooks.paged(), ["/sam"]);
    let log = env.log(id).await;
    let texts: Vec<&str> = log.iter().map(|(_, t)| t.as_str()).collect();
    assert!(
        texts.contains(
            &"no team owns service \"unknown\", so the central team security-response is paged"
        ),
        "{texts:#?}"
    );
    assert!(
        texts.iter().any(|t| t.starts_with(
            "level 1 of 1 (round 1): paged sam (on call in schedule primary) by webhook"
        )),
        "{texts:#?}"
    );
    // Owned services still page their own team.
    let (_, raised) = env.raise("payments-api", "det-1").await;
    env.tick(after(raised, 1)).await;
    assert_eq!(env.hooks.paged(), ["/sam", "/alice"]);
}

#[tokio::test]
async fn an_alert_nobody_could_be_paged_for_waits_and_is_paged_once_the_org_is_fixed() {
    let env = Env::start().await;
    // Raised before the first `vigil apply`.
    let (id, raised) = env.raise("unknown", "report-1").await;
    for s in [1, 61, 122] {
        env.tick(after(raised, s)).await;
    }
    let log = env.log(id).await;
    assert_eq!(
        log,
        [(
            "escalation".to_owned(),
            "no organisation is configured, so nobody was paged; run `vigil apply -f org.yaml` (paging is tried again every 60 s)".to_owned()
        )],
        "said once, not at every retry"
    );

    // An organisation that still leaves the service to nobody: the new reason, once.
    env.apply(central_org(&env, None)).await;
    for s in [183, 244] {
        env.tick(after(raised, s)).await;
    }
    let log = env.log(id).await;
    assert_eq!(log.len(), 2, "{log:#?}");
    assert_eq!(
        log[1].1,
        "no team owns service \"unknown\" and no `central_team` is named, so nobody was paged; add the service to `services`, or name the Security Response team as `central_team`, in the organisation file (paging is tried again every 60 s)"
    );
    assert!(env.hooks.paged().is_empty());

    // Raising it again folds into the waiting alert.
    let (again, _) = env.raise("unknown", "report-1").await;
    assert_eq!(again, id);

    // The central team named: the next try pages it.
    env.apply(central_org(&env, Some("security-response")))
        .await;
    env.tick(after(raised, 246)).await;
    assert!(
        env.hooks.paged().is_empty(),
        "not due yet: tried every 60 s"
    );
    env.tick(after(raised, 305)).await;
    assert_eq!(env.hooks.paged(), ["/sam"]);
    let log = env.log(id).await;
    assert_eq!(
        log[log.len() - 2].1,
        "level 1 of 1 (round 1): paging sam; the policy has no further level"
    );
    assert!(
        log.last()
            .unwrap()
            .1
            .starts_with("level 1 of 1 (round 1): paged sam "),
        "{log:#?}"
    );
    // And it is over: no later tick pages again.
    env.tick(after(raised, 3600)).await;
    assert_eq!(env.hooks.paged(), ["/sam"]);
}

#[tokio::test]
async fn a_team_with_nobody_to_page_hands_its_alerts_to_the_central_team() {
    let env = Env::start().await;
    let mut org = central_org(&env, Some("security-response"));
    org["teams"][0]["schedules"] = json!([]);
    env.apply(org).await;
    let (id, raised) = env.raise("payments-api", "det-1").await;
    env.tick(after(raised, 1)).await;
    assert_eq!(env.hooks.paged(), ["/sam"]);
    let log = env.log(id).await;
    assert_eq!(
        log[0].1,
        "team payments has no one to page (no schedules, manager or escalation policy), so the central team security-response is paged"
    );
}

#[tokio::test]
async fn a_policy_shortened_mid_escalation_goes_on_at_its_last_level_and_repeats() {
    let env = Env::start().await;
    let mut org = json!({
        "people": [env.person("alice"), env.person("bob"), env.person("carol")],
        "teams": [{
            "name": "payments", "members": ["alice", "bob", "carol"],
            "schedules": [Env::always("primary", "alice")],
            "escalation": {"levels": [
                {"after": "0", "notify": ["schedule:primary"]},
                {"after": "10s", "notify": ["person:bob"]},
                {"after": "20s", "notify": ["person:carol"]}
            ]}
        }],
        "services": [{"name": "payments-api", "team": "payments"}]
    });
    env.apply(org.clone()).await;
    let (id, raised) = env.raise("payments-api", "det-1").await;
    env.tick(after(raised, 1)).await;
    env.tick(after(raised, 11)).await;
    assert_eq!(env.hooks.paged(), ["/alice", "/bob"]);

    // carol's level is removed while it is due next; the policy now repeats once after 60 s.
    org["teams"][0]["escalation"]["levels"]
        .as_array_mut()
        .unwrap()
        .truncate(2);
    org["teams"][0]["escalation"]["repeat"] = json!(1);
    org["teams"][0]["escalation"]["repeat_after"] = json!("60s");
    env.apply(org).await;
    env.tick(after(raised, 21)).await;
    assert_eq!(env.hooks.paged(), ["/alice", "/bob", "/bob"]);
    let log = env.log(id).await;
    let texts: Vec<&str> = log.iter().map(|(_, t)| t.as_str()).collect();
    assert!(
        texts.contains(
            &"the escalation policy of team payments now has 2 level(s), so its last level is paged in place of level 3"
        ),
        "{texts:#?}"
    );
    assert!(
        texts[texts.len() - 2].starts_with("level 2 of 2 (round 1): paging bob; round 2 begins at"),
        "{texts:#?}"
    );

    // The repeat the new policy asks for.
    env.tick(after(raised, 50)).await;
    assert_eq!(env.hooks.paged().len(), 3, "the repeat is not due yet");
    env.tick(after(raised, 82)).await;
    env.tick(after(raised, 93)).await;
    assert_eq!(
        env.hooks.paged(),
        ["/alice", "/bob", "/bob", "/alice", "/bob"]
    );
    let log = env.log(id).await;
    assert_eq!(
        log[log.len() - 2].1,
        "level 2 of 2 (round 2): paging bob; the policy has no further level"
    );
}
