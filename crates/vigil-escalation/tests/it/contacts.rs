//! What the alert's log says about each person of a level: a contact Vigil cannot use (a
//! phone number) is named with what to add, and a level that reached nobody is not "paged".

use serde_json::json;

use vigil_core::{AlertSource, NewAlert, Severity};

use crate::{Env, after};

#[tokio::test]
async fn a_phone_only_person_is_named_as_not_reached_and_the_level_is_not_paged() {
    let env = Env::start().await;
    let dead = vigil_testkit::closed_port();
    env.apply(json!({
        "people": [
            {"name": "pat", "contacts": [{"kind": "phone", "address": "+49 30 1234567"}]},
            {"name": "dan", "contacts": [{"kind": "webhook", "address": format!("http://127.0.0.1:{}/dan", dead.port)}]},
            env.person("bob")
        ],
        "teams": [{
            "name": "payments", "members": ["pat", "dan", "bob"],
            "schedules": [Env::always("primary", "pat")],
            "escalation": {"levels": [
                {"after": "0", "notify": ["schedule:primary", "person:dan"]},
                {"after": "10s", "notify": ["person:bob"]}
            ]}
        }],
        "services": [{"name": "payments-api", "team": "payments"}]
    }))
    .await;
    let (id, raised) = env.raise("payments-api", "det-1").await;
    env.tick(after(raised, 1)).await;
    let log = env.log(id).await;
    let texts: Vec<&str> = log.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        texts[0],
        "level 1 of 2 (round 1): could not page pat (on call in schedule primary) by phone: Vigil does not place phone calls; add an e-mail or webhook contact for pat in the organisation file"
    );
    assert_eq!(log[0].0, "page");
    // The level says whom it pages and when the next comes before any delivery is made.
    assert!(
        texts[1].starts_with("level 1 of 2 (round 1): paging dan; level 2 is due at"),
        "{texts:#?}"
    );
    assert!(
        texts[2].starts_with("level 1 of 2 (round 1): could not page dan (named in the policy) by webhook after 1 attempt(s): failed"),
        "{texts:#?}"
    );
    // dan's page is kept to be tried again; pat's phone never will be.
    assert!(
        texts[3]
            .starts_with("level 1 of 2 (round 1): dan was not reached; the page is tried again at"),
        "{texts:#?}"
    );
    assert_eq!(texts.len(), 4, "{texts:#?}");
    assert!(!texts.iter().any(|t| t.contains("paged ")), "{texts:#?}");

    // The next level reaches bob and says so.
    env.tick(after(raised, 11)).await;
    assert_eq!(env.hooks.paged(), ["/bob"]);
    let log = env.log(id).await;
    let texts: Vec<&str> = log.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        texts[texts.len() - 2],
        "level 2 of 2 (round 1): paging bob; the policy has no further level"
    );
    assert!(
        texts[texts.len() - 1].starts_with("level 2 of 2 (round 1): paged bob (named in the policy) by webhook after 1 attempt(s): delivered"),
        "{texts:#?}"
    );
}

/// A webhook contact's `format` decides its payload whatever its URL: a Teams workflow behind
/// a relay gets a Teams card, a Slack one its blocks; without one the URL is guessed from, and
/// a URL like this loopback one gets the generic JSON.
#[tokio::test]
async fn a_webhook_contact_is_sent_the_format_it_names() {
    let env = Env::start().await;
    let hook = |name: &str, format: Option<&str>| {
        let mut contact =
            json!({"kind": "webhook", "address": format!("{}/{name}", env.hooks.base)});
        if let Some(format) = format {
            contact["format"] = json!(format);
        }
        json!({"name": name, "contacts": [contact]})
    };
    env.apply(json!({
        "people": [hook("tess", Some("teams")), hook("sam", Some("slack")), hook("gene", None)],
        "teams": [{
            "name": "payments", "members": ["tess", "sam", "gene"],
            "schedules": [Env::always("primary", "tess")],
            "escalation": {"levels": [
                {"after": "0", "notify": ["person:tess", "person:sam", "person:gene"]}
            ]}
        }],
        "services": [{"name": "payments-api", "team": "payments"}]
    }))
    .await;
    let (_, raised) = env.raise("payments-api", "det-1").await;
    env.tick(after(raised, 1)).await;
    let mut paged = env
        .hooks
        .paged()
        .into_iter()
        .zip(env.hooks.bodies())
        .collect::<Vec<_>>();
    paged.sort();
    let bodies: Vec<serde_json::Value> = paged
        .iter()
        .map(|(_, body)| serde_json::from_str(body).unwrap())
        .collect();
    let paths: Vec<&str> = paged.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["/gene", "/sam", "/tess"]);
    assert_eq!(bodies[0]["version"], 1, "{}", bodies[0]);
    assert!(bodies[1]["blocks"].is_array(), "{}", bodies[1]);
    assert_eq!(
        bodies[2]["attachments"][0]["contentType"], "application/vnd.microsoft.card.adaptive",
        "{}",
        bodies[2]
    );
}

/// A summary as long as the API takes reaches a Teams contact cut to a card Teams accepts
/// (it refuses one over about 28 KB), which says where the whole alert is.
#[tokio::test]
async fn a_long_summary_reaches_teams_cut_with_where_the_whole_alert_is() {
    let env = Env::start().await;
    env.apply(json!({
        "people": [{"name": "tess", "contacts": [
            {"kind": "webhook", "address": format!("{}/tess", env.hooks.base), "format": "teams"}
        ]}],
        "teams": [{"name": "payments", "members": ["tess"], "schedules": [Env::always("primary", "tess")]}],
        "services": [{"name": "payments-api", "team": "payments"}]
    }))
    .await;
    let (_, raised) = env
        .raise_alert(NewAlert {
            title: "Suspicious login".to_owned(),
            source: AlertSource::External,
            severity: Severity::parse("SEV2").unwrap(),
            service: "payments-api".to_owned(),
            tenant: None,
            dedup_key: "long".to_owned(),
            rule_id: None,
            summary: Some("failed login for admin\n".repeat(850)),
            origin: None,
            reporter: None,
            event_ids: Vec::new(),
            events: Vec::new(),
            times: 1,
        })
        .await;
    env.tick(after(raised, 1)).await;
    let bodies = env.hooks.bodies();
    assert_eq!(bodies.len(), 1);
    assert!(bodies[0].len() < 28_000, "{} bytes", bodies[0].len());
    assert!(
        bodies[0].contains("the whole alert: vigil alerts show ALR-1"),
        "{}",
        bodies[0]
    );
}
