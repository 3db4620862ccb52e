//! Correlation windows across a crash: a new ingestor over the same stores rebuilds them from
//! the stored events.

use chrono::{TimeZone, Utc};
use vigil_ingest::correlation::Rebuilt;
use vigil_ingest::{Envelope, RawEvent};
use vigil_testkit::RULE_REPEATED_FAILURES;

use crate::support::Harness;

/// Root's failure at 10:MM on 2026-12-01, at `tenant`.
fn failure(tenant: &str, minute: u32) -> RawEvent {
    RawEvent {
        time: Some(Utc.with_ymd_and_hms(2026, 12, 1, 10, minute, 0).unwrap()),
        envelope: Envelope {
            service: "bastion".into(),
            host: "bastion-1".into(),
            tenant: tenant.into(),
        },
        json: r#"{"user":"root","outcome":"failure"}"#.into(),
    }
}

#[tokio::test]
async fn a_restart_rebuilds_the_open_windows_and_not_the_completed_ones() {
    let mut h = Harness::with_rules(RULE_REPEATED_FAILURES, 2).await;
    let ingest = |h: &Harness, events: Vec<RawEvent>| {
        let ingestor = std::sync::Arc::clone(&h.ingestor);
        async move { ingestor.ingest_raw(events).await.unwrap().detections }
    };
    assert_eq!(ingest(&h, vec![failure("acme", 0)]).await, 0);
    assert_eq!(ingest(&h, vec![failure("acme", 1)]).await, 1);
    // Another tenant's failure and an unrelated event never count with acme's.
    let mut other = failure("acme", 2);
    other.json = r#"{"user":"root","outcome":"success"}"#.into();
    assert_eq!(
        ingest(&h, vec![failure("acme", 2), failure("globex", 2), other]).await,
        0
    );

    h.restart();
    let rebuilt = h.ingestor.rebuild_correlations(1_000).await.unwrap();
    assert_eq!(
        rebuilt,
        Rebuilt {
            read: 5,
            fed: 4,
            truncated: false,
            // acme's minute 2 and globex's: minutes 0 and 1 completed before the crash.
            held: 2,
            deferred: 0,
        }
    );
    assert_eq!(ingest(&h, vec![failure("globex", 3)]).await, 1);
    assert_eq!(ingest(&h, vec![failure("acme", 3)]).await, 1);
    let detections = h.detections().await;
    assert_eq!(detections.len(), 3, "{detections:?}");
}

#[tokio::test]
async fn a_rebuild_reads_at_most_its_limit_newest_first() {
    let mut h = Harness::with_rules(RULE_REPEATED_FAILURES, 2).await;
    let report = h
        .ingestor
        .ingest_raw(vec![
            failure("acme", 0),
            failure("globex", 1),
            failure("initech", 2),
        ])
        .await
        .unwrap();
    assert_eq!(report.stored.len(), 3);
    h.restart();
    let rebuilt = h.ingestor.rebuild_correlations(2).await.unwrap();
    assert_eq!(
        rebuilt,
        Rebuilt {
            read: 2,
            fed: 2,
            truncated: true,
            held: 2,
            deferred: 0,
        }
    );
    // Initech's and globex's windows were rebuilt; acme's, the oldest, was not read.
    assert_eq!(
        h.ingestor
            .ingest_raw(vec![failure("initech", 3), failure("acme", 3)])
            .await
            .unwrap()
            .detections,
        1
    );
}

#[tokio::test]
async fn without_correlations_nothing_is_read() {
    let mut h = Harness::new().await;
    h.ingestor
        .ingest_raw(vec![failure("acme", 0)])
        .await
        .unwrap();
    h.restart();
    assert_eq!(
        h.ingestor.rebuild_correlations(1_000).await.unwrap(),
        Rebuilt::default()
    );
}

#[tokio::test]
async fn a_batch_arriving_during_a_rebuild_is_acknowledged_and_correlated_after_it_once() {
    let mut h = Harness::with_rules(RULE_REPEATED_FAILURES, 2).await;
    let report = h
        .ingestor
        .ingest_raw(vec![failure("acme", 0)])
        .await
        .unwrap();
    assert_eq!(report.detections, 0);
    h.restart();
    let rebuild = h.ingestor.begin_correlation_rebuild();
    assert!(h.ingestor.correlation_windows().rebuilding);
    // The live failure is stored and acknowledged at once; its correlation waits.
    let live = h
        .ingestor
        .ingest_raw(vec![failure("acme", 1)])
        .await
        .unwrap();
    assert_eq!((live.stored.len(), live.detections), (1, 0));
    // It is searchable before the rebuild reads the store, which leaves it to the deferred.
    h.events.refresh().unwrap();
    let rebuilt = rebuild.run(1_000).await.unwrap();
    assert!(!h.ingestor.correlation_windows().rebuilding);
    assert_eq!(
        (rebuilt.fed, rebuilt.deferred, rebuilt.held),
        (1, 1, 0),
        "{rebuilt:?}"
    );
    // The live failure completed the window the rebuilt one opened: recorded once, late.
    let detections = h.detections().await;
    assert_eq!(detections.len(), 1, "{detections:?}");
    assert_eq!(detections[0].detection.rule_id, "repeated");
    assert_eq!(detections[0].detection.event_id, live.stored[0]);
    // Then batches correlate as they come.
    assert_eq!(
        h.ingestor
            .ingest_raw(vec![failure("acme", 2), failure("acme", 3)])
            .await
            .unwrap()
            .detections,
        1
    );
}
