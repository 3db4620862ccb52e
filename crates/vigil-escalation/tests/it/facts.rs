//! A detection's page says when the matched events happened and when the alert was raised, the
//! rule and its ATT&CK tags, a few fields of the first event kept to one line each, and why
//! the central team is paged: by e-mail (a real aiosmtpd) and in the webhook's JSON.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use vigil_core::{AlertSource, EventJson, NewAlert, NewDetection, RuleLevel, Severity};
use vigil_escalation::Escalator;
use vigil_notify::{Notifier, NotifierConfig, RetryPolicy, SmtpConfig};
use vigil_store::{AlertPolicy, RaisedId};
use vigil_testkit::SmtpReceiver;

use crate::{Env, after};

const RULE: &str = "1ecd3ee6-0ae5-4f5b-a4b9-5b7f5c4a3d01";

fn detection(event_id: u64, event_time: &str) -> NewDetection {
    NewDetection {
        event_id,
        event_time: event_time.parse::<DateTime<Utc>>().unwrap(),
        service: "billing".to_owned(),
        host: "bill-1".to_owned(),
        tenant: String::new(),
        rule_id: RULE.to_owned(),
        rule_title: "HackTool - Dumpert Process Dumper Default File".to_owned(),
        level: RuleLevel::Critical,
        tags: vec![
            "attack.credential-access".to_owned(),
            "attack.t1003.001".to_owned(),
            "detection.emerging-threats".to_owned(),
        ],
    }
}

/// The plain-text body of a raw message, decoded by Python's `email` package (the body of a
/// page with non-ASCII text is quoted-printable or base64).
fn mail_text(raw: &str) -> String {
    let script = "import email, email.policy, sys\n\
                  m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)\n\
                  sys.stdout.write(m.get_body(('plain',)).get_content())";
    let mut child = std::process::Command::new("/usr/bin/python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(raw.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn a_detections_page_says_when_what_matched_and_why_this_team_is_paged() {
    let env = Env::start().await;
    let smtp = SmtpReceiver::start();
    let notifier = Notifier::new(NotifierConfig {
        attempt_timeout: Duration::from_secs(30),
        retry: RetryPolicy {
            max_attempts: 1,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
            jitter: false,
        },
        smtp: Some(SmtpConfig::plain(
            "127.0.0.1",
            smtp.port,
            "vigil@example.org",
        )),
        user_agent: "vigil-escalation-test".to_owned(),
    })
    .unwrap();
    let escalator = Escalator::new(
        Arc::clone(&env.store),
        Arc::new(notifier),
        "http://vigil.test",
    );
    env.apply(json!({
        "people": [{"name": "sam", "contacts": [
            {"kind": "webhook", "address": format!("{}/sam", env.hooks.base)},
            {"kind": "email", "address": "sam@example.org"}
        ]}],
        "teams": [{"name": "central-secops", "members": ["sam"],
                   "schedules": [Env::always("primary", "sam")]}],
        "central_team": "central-secops",
        "services": []
    }))
    .await;

    // A backfill of 2019 logs: the events are years older than the alert.
    let forged = format!(
        "dumpert.exe -p 612\r\nBcc: attacker@evil.example\r\n{}",
        "A".repeat(400)
    );
    let events = [
        json!({"Event": {"EventData": {
            "Image": "C:\\Windows\\Temp\\Outflank-Dumpert.exe",
            "CommandLine": forged,
            "TargetFilename": "C:\\Windows\\Temp\\dumpert.dmp",
            "User": "BILL\\eve"
        }}}),
        json!({"Event": {"EventData": {"Image": "C:\\Windows\\Temp\\Outflank-Dumpert.exe"}}}),
    ];
    let alert = NewAlert {
        title: "HackTool - Dumpert Process Dumper Default File".to_owned(),
        source: AlertSource::Detection,
        severity: Severity::parse("SEV1").unwrap(),
        service: "billing".to_owned(),
        tenant: None,
        dedup_key: format!("{RULE}|billing|bill-1"),
        rule_id: Some(RULE.to_owned()),
        summary: Some(
            "Sigma rule \"HackTool - Dumpert Process Dumper Default File\" (critical) matched on host \"bill-1\"".to_owned(),
        ),
        origin: Some("vigil-detect".to_owned()),
        reporter: None,
        event_ids: vec![1, 2],
        events: events.iter().map(EventJson::from_value).collect(),
        times: 2,
    };
    let (_, raised) = env
        .store
        .record_matches(
            "test",
            vec![
                detection(1, "2019-06-21T10:02:11Z"),
                detection(2, "2019-06-21T10:04:40Z"),
            ],
            vec![(alert, AlertPolicy::default())],
            None,
        )
        .await
        .unwrap();
    let RaisedId::Created(id) = raised[0] else {
        panic!("{raised:?}")
    };
    let alert = env.store.get_alert(id).await.unwrap();
    escalator.tick(after(alert.first_seen, 1)).await.unwrap();
    let raised_at = alert.first_seen.format("%Y-%m-%dT%H:%M:%SZ").to_string();

    // The webhook: the same facts among its fields, the existing fields as they were.
    assert_eq!(env.hooks.paged(), ["/sam"]);
    let page: Value = serde_json::from_str(&env.hooks.bodies()[0]).unwrap();
    let fields: Vec<(&str, &str)> = page["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["value"].as_str().unwrap()))
        .collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no field {name} in {fields:#?}"))
    };
    assert_eq!(field("team"), "central-secops");
    assert_eq!(field("fired"), "2");
    assert_eq!(field("origin"), "vigil-detect");
    assert_eq!(
        field("paged because"),
        "no team owns service \"billing\", so the central team central-secops is paged"
    );
    assert_eq!(
        field("events"),
        "2019-06-21T10:02:11Z … 2019-06-21T10:04:40Z"
    );
    assert_eq!(field("raised"), raised_at);
    assert_eq!(field("rule"), RULE);
    assert_eq!(
        field("ATT&CK"),
        "attack.credential-access, attack.t1003.001"
    );
    assert_eq!(
        field("event.Image"),
        "C:\\Windows\\Temp\\Outflank-Dumpert.exe"
    );
    assert_eq!(
        field("event.TargetFilename"),
        "C:\\Windows\\Temp\\dumpert.dmp"
    );
    assert_eq!(field("event.User"), "BILL\\eve");
    let command = field("event.CommandLine");
    assert!(
        command.starts_with("dumpert.exe -p 612\u{fffd}\u{fffd}Bcc: attacker@evil.example")
            && command.chars().count() == 200
            && command.ends_with('…'),
        "{command}"
    );
    assert_eq!(page["key"], format!("ALR-{id}"));
    assert_eq!(page["severity"], "SEV1");

    // The e-mail: one line per fact, and no line forged by the event.
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    let text = mail_text(&messages[0].0);
    for line in [
        "paged because: no team owns service \"billing\", so the central team central-secops is paged".to_owned(),
        "events: 2019-06-21T10:02:11Z … 2019-06-21T10:04:40Z".to_owned(),
        format!("raised: {raised_at}"),
        format!("rule: {RULE}"),
        "ATT&CK: attack.credential-access, attack.t1003.001".to_owned(),
        "event.Image: C:\\Windows\\Temp\\Outflank-Dumpert.exe".to_owned(),
        format!("event.CommandLine: {command}"),
    ] {
        assert!(text.lines().any(|l| l == line), "no line {line:?} in\n{text}");
    }
    assert!(
        !text.lines().any(|l| l.starts_with("Bcc:")),
        "a line forged by the event in\n{text}"
    );
}
