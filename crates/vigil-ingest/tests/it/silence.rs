//! Services that stop sending their logs: the organisation document's `silent_after` raises an
//! alert for them, resolved by itself when their events come again — across a restart too.

use chrono::Utc;
use serde_json::json;
use vigil_core::{AlertSource, AlertStatus, Severity};
use vigil_ingest::{Envelope, RawEvent};
use vigil_store::AlertFilter;

use crate::support::Harness;

fn event_of(service: &str) -> RawEvent {
    RawEvent {
        time: None,
        envelope: Envelope {
            service: service.into(),
            host: "h1".into(),
            tenant: "acme".into(),
        },
        json: r#"{"message":"still here"}"#.into(),
    }
}

/// An event of service payments for `tenant`.
fn payments_of(tenant: &str) -> RawEvent {
    RawEvent {
        envelope: Envelope {
            tenant: tenant.into(),
            ..event_of("payments").envelope
        },
        ..event_of("payments")
    }
}

/// The alerts a check `minutes` from now raises, by name.
async fn raised_in(h: &Harness, minutes: i64) -> Vec<(String, i64)> {
    let later = Utc::now() + chrono::Duration::minutes(minutes);
    let mut raised = h.ingestor.check_silence(later).await.unwrap().raised;
    raised.sort();
    raised
}

fn names(raised: &[(String, i64)]) -> Vec<&str> {
    raised.iter().map(|(n, _)| n.as_str()).collect()
}

/// What is silent when payments' tenants acme and globex both stop.
const PAYMENTS_SILENT: [&str; 3] = [
    "payments",
    "payments (tenant acme)",
    "payments (tenant globex)",
];

async fn apply(h: &Harness, services: serde_json::Value) {
    let org = json!({
        "people": [{"name": "alice"}],
        "teams": [{"name": "platform", "members": ["alice"]}],
        "services": services,
    });
    let parsed: vigil_oncall::OrgDocument = serde_json::from_value(org.clone()).unwrap();
    parsed.validate().expect("a valid document");
    h.store.apply_org("test", org).await.unwrap();
    h.ingestor.forget_org();
}

async fn silence_alerts(h: &Harness) -> Vec<vigil_core::Alert> {
    h.store
        .list_alerts(&AlertFilter::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|a| a.alert.source == AlertSource::Monitor)
        .collect()
}

#[tokio::test]
async fn a_service_that_stops_sending_raises_an_alert_resolved_when_its_events_come_again() {
    let h = Harness::new().await;
    apply(
        &h,
        json!([
            {"name": "bastion", "team": "platform", "silent_after": "5m", "criticality": "critical"},
            {"name": "ledger", "team": "platform", "silent_after": "1h"},
            {"name": "wiki", "team": "platform"},
        ]),
    )
    .await;
    h.ingestor
        .ingest_raw(vec![event_of("bastion"), event_of("wiki")])
        .await
        .unwrap();
    let minutes = |m: i64| Utc::now() + chrono::Duration::minutes(m);

    // Within its five minutes: nothing.
    let report = h.ingestor.check_silence(minutes(4)).await.unwrap();
    assert!(
        report.raised.is_empty() && report.resolved.is_empty(),
        "{report:?}"
    );

    // Past them: one alert for the bastion; the ledger (no event since the start) has an
    // hour, and the wiki is not watched.
    let report = h.ingestor.check_silence(minutes(6)).await.unwrap();
    assert_eq!(report.raised.len(), 1, "{report:?}");
    assert_eq!(report.raised[0].0, "bastion");
    let alerts = silence_alerts(&h).await;
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert_eq!(alert.status, AlertStatus::Triggered);
    assert_eq!(alert.alert.service, "bastion");
    assert_eq!(alert.alert.title, "No logs from bastion for 6m");
    // A medium concern, one step worse on a critical service.
    assert_eq!(alert.alert.severity, Severity::Sev2);
    let summary = alert.alert.summary.as_deref().unwrap();
    assert!(
        summary.contains("silent_after: 5m") && summary.contains("its last event was stored at"),
        "{summary}"
    );
    let logged = h.store.get_alert(alert.id).await.unwrap().log;
    assert_eq!(
        logged[0].text,
        "raised (monitor) for service bastion: \"No logs from bastion for 6m\", preliminary severity SEV2"
    );
    // Checked again while still silent: the same alert, not another one nor a count per tick.
    let report = h.ingestor.check_silence(minutes(7)).await.unwrap();
    assert!(report.raised.is_empty(), "{report:?}");
    assert_eq!(silence_alerts(&h).await[0].count, 1);

    // The ledger never sent: silent an hour after the start.
    let report = h.ingestor.check_silence(minutes(61)).await.unwrap();
    assert_eq!(report.raised.len(), 1, "{report:?}");
    assert_eq!(report.raised[0].0, "ledger");
    let ledger = silence_alerts(&h)
        .await
        .into_iter()
        .find(|a| a.alert.service == "ledger")
        .unwrap();
    assert!(
        ledger
            .alert
            .summary
            .as_deref()
            .unwrap()
            .contains("none has been stored since the server started"),
        "{:?}",
        ledger.alert.summary
    );
    assert_eq!(ledger.alert.severity, Severity::Sev3);

    // The bastion sends again: its alert is resolved, with the gap in its log.
    h.ingestor
        .ingest_raw(vec![event_of("bastion")])
        .await
        .unwrap();
    let report = h.ingestor.check_silence(Utc::now()).await.unwrap();
    assert_eq!(report.resolved.len(), 1, "{report:?}");
    let bastion = h.store.get_alert(report.resolved[0].1).await.unwrap();
    assert_eq!(bastion.status, AlertStatus::Resolved);
    assert!(
        bastion.log.iter().any(|l| l
            .text
            .starts_with("events come again: none was stored from ")),
        "{:?}",
        bastion.log
    );

    // After a restart, the ledger's open alert is resolved the same way once it sends.
    let h = h.reopen();
    let report = h.ingestor.check_silence(Utc::now()).await.unwrap();
    assert!(
        report.raised.is_empty() && report.resolved.is_empty(),
        "{report:?}"
    );
    h.ingestor
        .ingest_raw(vec![event_of("ledger")])
        .await
        .unwrap();
    let report = h.ingestor.check_silence(Utc::now()).await.unwrap();
    assert_eq!(report.resolved, vec![("ledger".to_owned(), ledger.id)]);

    // A service no longer watched has its open alert resolved, saying why.
    h.ingestor.check_silence(minutes(10)).await.unwrap();
    let open: Vec<_> = silence_alerts(&h)
        .await
        .into_iter()
        .filter(|a| a.status == AlertStatus::Triggered)
        .collect();
    assert_eq!(open.len(), 1, "the bastion is silent again: {open:?}");
    apply(&h, json!([{"name": "bastion", "team": "platform"}])).await;
    let report = h.ingestor.check_silence(minutes(11)).await.unwrap();
    assert_eq!(report.resolved.len(), 1, "{report:?}");
    let closed = h.store.get_alert(report.resolved[0].1).await.unwrap();
    assert!(
        closed
            .log
            .iter()
            .any(|l| l.text.contains("no longer watched")),
        "{:?}",
        closed.log
    );
}

/// With `silent_per_tenant`, a tenant whose events stop while the service's others go on has
/// an alert of its own, resolved when that tenant sends again.
#[tokio::test]
async fn a_tenant_watched_on_its_own_has_its_own_silence() {
    let h = Harness::new().await;
    apply(
        &h,
        json!([{"name": "payments", "team": "platform", "silent_after": "5m", "silent_per_tenant": true}]),
    )
    .await;
    h.ingestor
        .ingest_raw(vec![payments_of("acme"), payments_of("globex")])
        .await
        .unwrap();
    let raised = raised_in(&h, 6).await;
    assert_eq!(names(&raised), PAYMENTS_SILENT);
    let acme = silence_alerts(&h)
        .await
        .into_iter()
        .find(|a| {
            a.alert
                .title
                .starts_with("No logs from payments (tenant acme) for ")
        })
        .expect("acme's own alert");
    assert!(
        acme.alert
            .summary
            .as_deref()
            .unwrap()
            .contains("for tenant \"acme\""),
        "{:?}",
        acme.alert.summary
    );

    // globex sends again: its alert and the service's are resolved; acme's stays open.
    h.ingestor
        .ingest_raw(vec![payments_of("globex")])
        .await
        .unwrap();
    let mut resolved = h
        .ingestor
        .check_silence(Utc::now() + chrono::Duration::minutes(1))
        .await
        .unwrap()
        .resolved;
    resolved.sort();
    assert_eq!(names(&resolved), ["payments", "payments (tenant globex)"]);
    let silent: Vec<String> = h
        .ingestor
        .silent_services()
        .into_iter()
        .map(|(w, _)| w.name())
        .collect();
    assert_eq!(silent, ["payments (tenant acme)"]);

    // Read back after a restart as acme's, and resolved when acme sends.
    let h = h.reopen();
    h.ingestor.check_silence(Utc::now()).await.unwrap();
    h.ingestor
        .ingest_raw(vec![payments_of("acme")])
        .await
        .unwrap();
    let report = h.ingestor.check_silence(Utc::now()).await.unwrap();
    assert_eq!(
        report.resolved,
        vec![("payments (tenant acme)".to_owned(), acme.id)]
    );
}

/// The watch's file in the data directory, as `vigil serve` keeps it.
fn keep_watch(h: &Harness) -> usize {
    h.ingestor
        .keep_silence_in(h.data_dir().join("silence.json"))
        .expect("the watch's file reads")
}

/// After a restart the tenants heard from before it are watched still, and an alert says when
/// the last event was stored, before the restart.
#[tokio::test]
async fn a_restart_keeps_the_tenants_heard_and_when_they_last_sent() {
    let mut h = Harness::new().await;
    apply(
        &h,
        json!([{"name": "payments", "team": "platform", "silent_after": "5m", "silent_per_tenant": true}]),
    )
    .await;
    assert_eq!(keep_watch(&h), 0, "no file yet");
    h.ingestor
        .ingest_raw(vec![payments_of("acme"), payments_of("globex")])
        .await
        .unwrap();
    let report = h.ingestor.check_silence(Utc::now()).await.unwrap();
    assert_eq!(report, Default::default());
    assert!(h.data_dir().join("silence.json").exists());

    // A second apart, so that the restart's time and the last event's differ in the notes.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let restarted = Utc::now();
    h.restart();
    assert_eq!(keep_watch(&h), 0, "nothing silent yet");
    let raised = raised_in(&h, 6).await;
    assert_eq!(
        names(&raised),
        PAYMENTS_SILENT,
        "the tenants of the last run are watched"
    );
    let acme = h.store.get_alert(raised[1].1).await.unwrap();
    let summary = acme.alert.summary.unwrap_or_default();
    assert!(
        summary.contains("its last event was stored at ")
            && summary.contains(", before the server started at "),
        "{summary}"
    );

    // acme sends again: the gap its alert's log gives began before the restart.
    h.ingestor
        .ingest_raw(vec![payments_of("acme")])
        .await
        .unwrap();
    let report = h.ingestor.check_silence(Utc::now()).await.unwrap();
    assert!(
        report
            .resolved
            .contains(&("payments (tenant acme)".to_owned(), acme.id))
    );
    let acme = h.store.get_alert(acme.id).await.unwrap();
    let note = acme
        .log
        .iter()
        .find_map(|l| {
            l.text
                .strip_prefix("events come again: none was stored from ")
        })
        .expect("the note of the gap");
    let from: chrono::DateTime<Utc> = note[..20].parse().expect(note);
    assert!(from < restarted - chrono::Duration::seconds(1), "{note}");
}

/// A silence whose alert a responder closed is not raised again by a restart while the
/// service stays silent; it is once its events have come back and stopped again.
#[tokio::test]
async fn a_silence_closed_by_hand_stays_closed_across_a_restart() {
    let mut h = Harness::new().await;
    apply(
        &h,
        json!([{"name": "bastion", "team": "platform", "silent_after": "5m"}]),
    )
    .await;
    keep_watch(&h);
    let minutes = |m: i64| Utc::now() + chrono::Duration::minutes(m);
    let report = h.ingestor.check_silence(minutes(6)).await.unwrap();
    assert_eq!(report.raised.len(), 1, "{report:?}");
    let alert = report.raised[0].1;
    h.store
        .act_on_alert("alice", alert, vigil_core::AlertAction::Resolve)
        .await
        .unwrap();

    h.restart();
    assert_eq!(keep_watch(&h), 1, "the silence is kept");
    let report = h.ingestor.check_silence(minutes(12)).await.unwrap();
    assert!(report.raised.is_empty(), "raised again: {report:?}");
    assert_eq!(
        h.ingestor.silent_services(),
        vec![(
            vigil_ingest::silence::Watched {
                service: "bastion".into(),
                tenant: None
            },
            alert
        )]
    );

    // Its events come back: the silence ends (the alert stays as the responder left it).
    h.ingestor
        .ingest_raw(vec![event_of("bastion")])
        .await
        .unwrap();
    let report = h.ingestor.check_silence(Utc::now()).await.unwrap();
    assert_eq!(report.resolved, vec![("bastion".to_owned(), alert)]);
    let left = h.store.get_alert(alert).await.unwrap();
    assert!(
        !left
            .log
            .iter()
            .any(|l| l.text.starts_with("events come again")),
        "{:?}",
        left.log
    );
    // And a new silence after that is a new alert.
    let report = h.ingestor.check_silence(minutes(6)).await.unwrap();
    assert_eq!(report.raised.len(), 1, "{report:?}");
    assert_ne!(report.raised[0].1, alert);
}

/// A file the watch cannot read is reported and replaced at the next check; the watch goes on
/// as after a first start.
#[tokio::test]
async fn an_unreadable_watch_file_is_reported_and_replaced() {
    let h = Harness::new().await;
    let file = h.data_dir().join("silence.json");
    std::fs::write(&file, "{not json").unwrap();
    let e = h.ingestor.keep_silence_in(file.clone()).unwrap_err();
    assert!(e.to_string().contains("key must be a string"), "{e}");
    apply(
        &h,
        json!([{"name": "bastion", "team": "platform", "silent_after": "5m"}]),
    )
    .await;
    h.ingestor
        .ingest_raw(vec![event_of("bastion")])
        .await
        .unwrap();
    h.ingestor.check_silence(Utc::now()).await.unwrap();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["heard"][0]["service"], "bastion", "{saved}");
}

/// A restart that lost the watch's file finds every silence alert left open in the store, more
/// than one page of them, so that none is raised a second time.
#[tokio::test]
async fn a_restart_without_the_watch_file_finds_every_open_silence() {
    let mut h = Harness::new().await;
    let services: Vec<_> = (0..1003)
        .map(|i| json!({"name": format!("svc-{i:04}"), "team": "platform", "silent_after": "5m"}))
        .collect();
    apply(&h, json!(services)).await;
    let raised = raised_in(&h, 6).await;
    assert_eq!(raised.len(), 1003);

    h.restart();
    let again = raised_in(&h, 12).await;
    assert!(again.is_empty(), "raised again: {:?}", names(&again));
    assert_eq!(h.ingestor.silent_services().len(), 1003);
}
