//! A page for a person's report carries who reported it, so the responder can call them back.

use serde_json::json;
use vigil_core::{AlertSource, NewAlert, Severity};

use crate::{Env, after};

#[tokio::test]
async fn a_reports_page_names_the_reporter_and_how_it_came() {
    let env = Env::start().await;
    env.apply(json!({
        "people": [env.person("alice")],
        "teams": [{
            "name": "it", "members": ["alice"],
            "schedules": [Env::always("primary", "alice")],
            "escalation": {"levels": [{"after": "0s", "notify": ["schedule:primary"]}]}
        }],
        "services": [{"name": "vpn", "team": "it"}]
    }))
    .await;
    let (_, raised) = env
        .raise_alert(NewAlert {
            title: "Reported: a mail asking for my VPN password".to_owned(),
            source: AlertSource::Report,
            severity: Severity::parse("SEV2").unwrap(),
            service: "vpn".to_owned(),
            tenant: None,
            dedup_key: "report|1".to_owned(),
            rule_id: None,
            summary: Some("a mail asking for my VPN password".to_owned()),
            origin: Some("report form".to_owned()),
            reporter: Some("Dana, dana@example.com".to_owned()),
            event_ids: Vec::new(),
            events: Vec::new(),
            times: 1,
        })
        .await;
    env.tick(after(raised, 1)).await;
    assert_eq!(env.hooks.paged(), ["/alice"]);
    let body = &env.hooks.bodies()[0];
    assert!(body.contains("Dana, dana@example.com"), "{body}");
    assert!(body.contains("report form"), "{body}");
}
