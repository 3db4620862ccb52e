//! Correlation windows across a crash: a new ingestor over the same stores rebuilds them from
//! the stored events.

use std::sync::atomic::AtomicBool;

use chrono::{TimeZone, Utc};
use vigil_ingest::correlation::{Late, LateSpan, Rebuilt};
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

/// `user`'s failure (or success) at HH:MM on 2026-12-01, at acme.
fn logon(user: &str, outcome: &str, hour: u32, minute: u32) -> RawEvent {
    RawEvent {
        time: Some(Utc.with_ymd_and_hms(2026, 12, 1, hour, minute, 0).unwrap()),
        envelope: Envelope {
            service: "bastion".into(),
            host: format!("{user}-laptop"),
            tenant: "acme".into(),
        },
        json: format!(r#"{{"user":"{user}","outcome":"{outcome}"}}"#),
    }
}

/// 2026-12-01 HH:MM, in ms since the epoch.
fn ms_at(hour: u32, minute: u32) -> i64 {
    Utc.with_ymd_and_hms(2026, 12, 1, hour, minute, 0)
        .unwrap()
        .timestamp_millis()
}

/// The correlations run over acme's stored events around late events from `from_ms` to
/// `to_ms`, the time read in slices of about `slice_events`.
fn late_run(h: &Harness, from_ms: i64, to_ms: i64, slice_events: u64) -> Late {
    late_run_until(h, from_ms, to_ms, slice_events, &AtomicBool::new(false))
        .expect("not asked to stop")
}

/// [`late_run`] giving up once `stop` is set (`None`).
fn late_run_until(
    h: &Harness,
    from_ms: i64,
    to_ms: i64,
    slice_events: u64,
    stop: &AtomicBool,
) -> Option<Late> {
    vigil_ingest::correlation::Correlations::correlate_late(
        &h.ingestor.rules().current(),
        &vigil_ingest::org::OrgView::default(),
        h.events.as_ref(),
        "acme",
        LateSpan::between(from_ms, to_ms),
        slice_events,
        stop,
    )
    .unwrap()
}

/// A user seen once and never again: the window is decided when the stream — events no rule
/// matches too — has passed it by its timespan, recorded (with the batch that moved time) on
/// the user's event, with the sender that event had; across a restart that saved the windows.
#[tokio::test]
async fn a_rare_event_whose_group_never_returns_is_recorded_once_the_stream_has_passed_it() {
    // The repeated-failures correlation turned around: failures that stay rare (fewer than
    // two of a user within the hour).
    let rare = RULE_REPEATED_FAILURES.replace("gte: 2", "lt: 2");
    let mut h = Harness::with_rules(&rare, 2).await;
    let ingest = |h: &Harness, events: Vec<RawEvent>| {
        let ingestor = std::sync::Arc::clone(&h.ingestor);
        async move { ingestor.ingest_raw(events).await.unwrap() }
    };
    let first = ingest(&h, vec![logon("alice", "failure", 10, 0)]).await;
    assert_eq!(
        first.detections, 0,
        "a rule a correlation counts reports nothing itself, and the hour is not over"
    );
    let alice = first.stored[0];
    // bob fails twice within the hour: not rare.
    ingest(
        &h,
        vec![
            logon("bob", "failure", 10, 30),
            logon("bob", "failure", 10, 40),
        ],
    )
    .await;
    // An hour after alice's window ended, it still waits for her.
    assert_eq!(
        ingest(&h, vec![logon("carol", "success", 12, 0)])
            .await
            .detections,
        0
    );
    // A clean stop saves the windows, as `vigil serve` writes them to its file.
    let saved = serde_json::to_string(&h.ingestor.save_correlations()).unwrap();
    h.restart();
    h.ingestor
        .restore_correlations(serde_json::from_str(&saved).unwrap());
    // Then time passes it (a success no rule matches): alice's hour held one failure.
    assert_eq!(
        ingest(&h, vec![logon("carol", "success", 12, 1)])
            .await
            .detections,
        1
    );
    let detections = h.detections().await;
    let rare: Vec<_> = detections
        .iter()
        .filter(|d| d.detection.rule_id == "repeated")
        .collect();
    assert_eq!(rare.len(), 1, "{detections:?}");
    let rare = &rare[0].detection;
    assert_eq!(rare.event_id, alice);
    assert_eq!(
        (
            rare.service.as_str(),
            rare.host.as_str(),
            rare.tenant.as_str()
        ),
        ("bastion", "alice-laptop", "acme")
    );
    assert_eq!(
        rare.event_time,
        Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap()
    );
    // bob's windows lapse later without firing; alice's is not decided twice.
    assert_eq!(
        ingest(&h, vec![logon("carol", "success", 15, 0)])
            .await
            .detections,
        0
    );
}

/// A rare event followed by silence — no event at all reaches the server — is decided once the
/// clock has run a grace and the window's reach past the last batch, recorded on its event; a
/// window decided again after a restart that lost the decision is not recorded twice.
#[tokio::test]
async fn a_rare_event_followed_by_silence_is_recorded_by_the_clock() {
    let rare = RULE_REPEATED_FAILURES.replace("gte: 2", "lt: 2");
    let mut h = Harness::with_rules(&rare, 2).await;
    let report = h
        .ingestor
        .ingest_raw(vec![logon("alice", "failure", 10, 0)])
        .await
        .unwrap();
    let alice = report.stored[0];
    let fed_at = Utc::now();
    // The state a crash right after the decision would leave the rebuild to find again.
    let before = serde_json::to_string(&h.ingestor.save_correlations()).unwrap();
    let grace = chrono::Duration::milliseconds(vigil_ingest::correlation::IDLE_GRACE_MS);
    let silent_for = |d: chrono::Duration| fed_at + grace + d;
    // Her hour ends at 11:00 and waits an hour more for her next failure.
    assert_eq!(
        h.ingestor
            .pass_idle_time(silent_for(chrono::Duration::minutes(59)))
            .await
            .unwrap(),
        0
    );
    // A second past it: the batch may have been fed in the very millisecond `fed_at` was read,
    // and the window is decided once time is past its end, not at it.
    assert_eq!(
        h.ingestor
            .pass_idle_time(silent_for(
                chrono::Duration::hours(2) + chrono::Duration::seconds(1)
            ))
            .await
            .unwrap(),
        1
    );
    let detections = h.detections().await;
    assert_eq!(detections.len(), 1, "{detections:?}");
    assert_eq!(detections[0].detection.rule_id, "repeated");
    assert_eq!(detections[0].detection.event_id, alice);
    assert_eq!(
        h.ingestor
            .pass_idle_time(silent_for(chrono::Duration::hours(3)))
            .await
            .unwrap(),
        0,
        "decided once"
    );
    h.restart();
    h.ingestor
        .restore_correlations(serde_json::from_str(&before).unwrap());
    // The first tick after a start only starts the grace; the next decides the window again,
    // which the store has already.
    let restarted = Utc::now();
    h.ingestor.pass_idle_time(restarted).await.unwrap();
    assert_eq!(
        h.ingestor
            .pass_idle_time(
                restarted + grace + chrono::Duration::hours(2) + chrono::Duration::seconds(1)
            )
            .await
            .unwrap(),
        0
    );
    assert_eq!(h.detections().await.len(), 1);
}

/// A window the clock decided while the database refused detections is not lost: the next
/// tick records it, once.
#[tokio::test]
async fn a_window_the_clock_decided_is_recorded_at_the_next_tick_when_the_store_failed() {
    let rare = RULE_REPEATED_FAILURES.replace("gte: 2", "lt: 2");
    let h = Harness::with_rules(&rare, 2).await;
    let report = h
        .ingestor
        .ingest_raw(vec![logon("alice", "failure", 10, 0)])
        .await
        .unwrap();
    let alice = report.stored[0];
    let grace = chrono::Duration::milliseconds(vigil_ingest::correlation::IDLE_GRACE_MS);
    let decided = Utc::now() + grace + chrono::Duration::hours(2) + chrono::Duration::seconds(1);
    h.sqlite(
        "CREATE TRIGGER refuse_detections BEFORE INSERT ON detections \
         BEGIN SELECT RAISE(ABORT, 'disk trouble'); END",
    )
    .await;
    let refused = h.ingestor.pass_idle_time(decided).await;
    assert!(refused.is_err(), "{refused:?}");
    // Still refused at the next tick: still owed.
    let next = decided + chrono::Duration::seconds(30);
    assert!(h.ingestor.pass_idle_time(next).await.is_err());
    assert!(h.detections().await.is_empty());
    h.sqlite("DROP TRIGGER refuse_detections").await;
    let later = next + chrono::Duration::seconds(30);
    assert_eq!(h.ingestor.pass_idle_time(later).await.unwrap(), 1);
    let detections = h.detections().await;
    assert_eq!(detections.len(), 1, "{detections:?}");
    assert_eq!(
        (
            detections[0].detection.rule_id.as_str(),
            detections[0].detection.event_id
        ),
        ("repeated", alice)
    );
    assert_eq!(
        h.ingestor
            .pass_idle_time(later + chrono::Duration::seconds(30))
            .await
            .unwrap(),
        0,
        "recorded once"
    );
}

/// Events that come later than the correlations' reach (a collection of old logs, ingested
/// after newer ones) are correlated over the store, with every event of their time, once they
/// stop coming: what they complete is recorded on the event that completed it, and what the
/// live windows found in that time already is not recorded twice.
#[tokio::test]
async fn events_that_come_late_are_correlated_over_the_store_once_they_stop_coming() {
    let h = Harness::with_rules(RULE_REPEATED_FAILURES, 2).await;
    let ingest = |h: &Harness, events: Vec<RawEvent>| {
        let ingestor = std::sync::Arc::clone(&h.ingestor);
        async move { ingestor.ingest_raw(events).await.unwrap() }
    };
    // eve's failures come in time: the live windows fire.
    ingest(&h, vec![logon("eve", "failure", 10, 5)]).await;
    assert_eq!(
        ingest(&h, vec![logon("eve", "failure", 10, 10)])
            .await
            .detections,
        1
    );
    // Then the stream is at 15:00, and bob's failures of 10:00 come, one batch each.
    ingest(&h, vec![logon("carol", "success", 15, 0)]).await;
    let early = ingest(
        &h,
        vec![
            logon("bob", "failure", 10, 0),
            logon("carol", "success", 10, 1),
        ],
    )
    .await;
    assert_eq!(early.detections, 0);
    assert_eq!(
        early.correlated_later, 1,
        "bob's failure; carol's success no correlation counts"
    );
    let second = ingest(&h, vec![logon("bob", "failure", 10, 20)]).await;
    assert_eq!(
        second.detections, 0,
        "too late for the live windows, which no longer hold 10:00"
    );
    let bob = second.stored[0];
    let waiting = h.ingestor.correlation_windows().late;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let (tenant, span) = &waiting[0];
    assert_eq!(
        (tenant.as_str(), span.from_ms, span.to_ms),
        ("acme", ms_at(10, 0), ms_at(10, 20))
    );
    let now = Utc::now();
    assert_eq!(
        h.ingestor.correlate_late(now).await.unwrap(),
        0,
        "still coming"
    );
    let settled = now + chrono::Duration::seconds(61);
    assert_eq!(h.ingestor.correlate_late(settled).await.unwrap(), 1);
    assert_eq!(h.ingestor.correlate_late(settled).await.unwrap(), 0, "once");
    assert!(h.ingestor.correlation_windows().late.is_empty());
    let detections = h.detections().await;
    let on: Vec<(u64, &str)> = detections
        .iter()
        .map(|d| (d.detection.event_id, d.detection.rule_id.as_str()))
        .collect();
    assert_eq!(on.len(), 2, "eve's, once, and bob's: {on:?}");
    assert!(on.contains(&(bob, "repeated")), "{on:?}");
    // The server's metrics count the run's detection, and no batch for it.
    let totals = h.ingestor.totals();
    assert_eq!(
        (
            totals.batches,
            totals.stored,
            totals.rejected,
            totals.detections
        ),
        (5, 6, 0, 2),
        "{totals:?}"
    );
}

/// The spans of late events are on disk before their batch is acknowledged: a crash before
/// their run leaves them to the next start, which runs them at once (over whole days of their
/// time); once run, the file is gone.
#[tokio::test]
async fn late_events_a_crash_left_unrun_are_run_after_the_restart() {
    let mut h = Harness::with_rules(RULE_REPEATED_FAILURES, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("correlations-late.json");
    assert_eq!(h.ingestor.keep_late_in(file.clone()).unwrap(), 0);
    let ingest = |h: &Harness, events: Vec<RawEvent>| {
        let ingestor = std::sync::Arc::clone(&h.ingestor);
        async move { ingestor.ingest_raw(events).await.unwrap() }
    };
    ingest(&h, vec![logon("carol", "success", 15, 0)]).await;
    assert!(!file.exists(), "nothing late yet");
    ingest(&h, vec![logon("bob", "failure", 10, 0)]).await;
    let bob = ingest(&h, vec![logon("bob", "failure", 10, 20)])
        .await
        .stored[0];
    assert!(file.exists());
    // The crash: nothing saved, the windows and spans in memory gone.
    h.restart();
    assert!(h.ingestor.correlation_windows().late.is_empty());
    assert_eq!(h.ingestor.keep_late_in(file.clone()).unwrap(), 1);
    let waiting = h.ingestor.correlation_windows().late;
    let day = (ms_at(0, 0), ms_at(23, 59) + 59_999);
    assert_eq!(
        waiting
            .iter()
            .map(|(t, s)| (t.as_str(), s.from_ms, s.to_ms))
            .collect::<Vec<_>>(),
        [("acme", day.0, day.1)]
    );
    assert_eq!(h.ingestor.correlate_late(Utc::now()).await.unwrap(), 1);
    let detections = h.detections().await;
    assert_eq!(detections.len(), 1, "{detections:?}");
    assert_eq!(detections[0].detection.event_id, bob);
    assert!(!file.exists(), "run and recorded: nothing left to keep");
}

/// A server asked to stop does not wait for a run over late events to read the rest of their
/// time: the run gives up at its next slice, records nothing, and its span stays pending (in
/// the file too) to run whole at the next start.
#[tokio::test]
async fn a_run_over_late_events_gives_up_when_the_server_stops_and_runs_again_after() {
    let mut h = Harness::with_rules(RULE_REPEATED_FAILURES, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("correlations-late.json");
    h.ingestor.keep_late_in(file.clone()).unwrap();
    let ingest = |h: &Harness, events: Vec<RawEvent>| {
        let ingestor = std::sync::Arc::clone(&h.ingestor);
        async move { ingestor.ingest_raw(events).await.unwrap() }
    };
    ingest(&h, vec![logon("carol", "success", 15, 0)]).await;
    ingest(&h, vec![logon("bob", "failure", 10, 0)]).await;
    let bob = ingest(&h, vec![logon("bob", "failure", 10, 20)])
        .await
        .stored[0];
    // Straight from the store, a run told to stop finds nothing to record.
    let stopped = late_run_until(&h, ms_at(10, 0), ms_at(10, 20), 1, &AtomicBool::new(true));
    assert!(stopped.is_none());
    // Through the server's path: the settled span is taken, given up and put back.
    let settled = Utc::now() + chrono::Duration::seconds(61);
    let stop = std::sync::Arc::new(AtomicBool::new(true));
    assert_eq!(
        h.ingestor
            .correlate_late_until(settled, &stop)
            .await
            .unwrap(),
        0
    );
    assert!(h.detections().await.is_empty());
    assert_eq!(h.ingestor.correlation_windows().late.len(), 1);
    assert!(file.exists(), "still pending on disk");
    // The next start runs it whole.
    h.restart();
    assert_eq!(h.ingestor.keep_late_in(file.clone()).unwrap(), 1);
    assert_eq!(h.ingestor.correlate_late(Utc::now()).await.unwrap(), 1);
    let detections = h.detections().await;
    assert_eq!(detections.len(), 1, "{detections:?}");
    assert_eq!(detections[0].detection.event_id, bob);
    assert!(!file.exists());
}

/// A run over late events reads its time in slices, oldest first; windows that cross a slice
/// find the same as when the time is read whole, in slices of any size.
#[tokio::test]
async fn a_run_over_late_events_finds_the_same_in_slices_of_any_size() {
    let h = Harness::with_rules(RULE_REPEATED_FAILURES, 2).await;
    let mut events = vec![
        logon("bob", "failure", 10, 0),
        logon("dave", "failure", 10, 0),
        logon("bob", "failure", 10, 50),
        logon("dave", "failure", 11, 30),
    ];
    events.extend((0..12).map(|i| logon("carol", "success", 10 + i / 6, (i % 6) * 10)));
    events.extend([(4, 30), (5, 10), (7, 0), (7, 30)].map(|(h, m)| logon("eve", "failure", h, m)));
    let stored = h.ingestor.ingest_raw(events).await.unwrap().stored;
    let found = |slice_events: u64| {
        let late = late_run(&h, ms_at(5, 0), ms_at(12, 0), slice_events);
        let mut fired: Vec<(u64, Vec<u64>)> = late
            .fired
            .iter()
            .map(|f| {
                let on = late.events[f.index].id;
                (on, f.events.iter().map(|(id, _)| *id).collect())
            })
            .collect();
        fired.sort();
        fired
    };
    let whole = found(1_000_000);
    // bob's two within the hour; eve's 04:30 and 05:10 (the second in the span), and her
    // 07:00 and 07:30; not dave's, an hour and a half apart.
    let mut expected = vec![
        (stored[2], vec![stored[0], stored[2]]),
        (stored[17], vec![stored[16], stored[17]]),
        (stored[19], vec![stored[18], stored[19]]),
    ];
    expected.sort();
    assert_eq!(whole, expected);
    for slice_events in [1, 2, 3, 5, 8] {
        assert_eq!(
            found(slice_events),
            whole,
            "slices of {slice_events} events"
        );
    }
}

/// Windows decided at their close are decided as the slices pass them, the same in slices of
/// any size.
#[tokio::test]
async fn a_run_over_late_events_decides_rare_windows_the_same_in_slices() {
    let rare = RULE_REPEATED_FAILURES.replace("gte: 2", "lt: 2");
    let h = Harness::with_rules(&rare, 2).await;
    let mut events = vec![
        logon("alice", "failure", 9, 0),
        logon("bob", "failure", 9, 10),
        logon("bob", "failure", 9, 20),
        logon("alice", "failure", 10, 30),
    ];
    events.extend((0..12).map(|i| logon("carol", "success", 8 + i / 3, (i % 3) * 20)));
    let stored = h.ingestor.ingest_raw(events).await.unwrap().stored;
    let found = |slice_events: u64| {
        let late = late_run(&h, ms_at(9, 0), ms_at(11, 0), slice_events);
        let mut on: Vec<u64> = late.fired.iter().map(|f| late.events[f.index].id).collect();
        on.sort();
        on
    };
    // alice's 09:00 and 10:30 are each alone in their hour; bob's two are not rare.
    assert_eq!(found(1_000_000), vec![stored[0], stored[3]]);
    for slice_events in [1, 2, 3, 5] {
        assert_eq!(
            found(slice_events),
            vec![stored[0], stored[3]],
            "slices of {slice_events}"
        );
    }
}

/// A rare event among late ones is decided over the store too, with what else came late.
#[tokio::test]
async fn a_rare_event_that_comes_late_is_decided_over_the_store() {
    let rare = RULE_REPEATED_FAILURES.replace("gte: 2", "lt: 2");
    let h = Harness::with_rules(&rare, 2).await;
    h.ingestor
        .ingest_raw(vec![logon("carol", "success", 15, 0)])
        .await
        .unwrap();
    let late = h
        .ingestor
        .ingest_raw(vec![
            logon("alice", "failure", 9, 0),
            logon("bob", "failure", 9, 10),
            logon("bob", "failure", 9, 20),
        ])
        .await
        .unwrap();
    assert_eq!(late.detections, 0);
    let settled = Utc::now() + chrono::Duration::seconds(61);
    assert_eq!(h.ingestor.correlate_late(settled).await.unwrap(), 1);
    let detections = h.detections().await;
    assert_eq!(detections.len(), 1, "{detections:?}");
    assert_eq!(detections[0].detection.event_id, late.stored[0]);
}

/// A window closed by its group's next event in the same batch is recorded on the window's
/// own last event, stored just before in that batch, and nothing is recorded twice.
#[tokio::test]
async fn a_rare_event_closed_within_its_batch_is_recorded_on_itself() {
    let rare = RULE_REPEATED_FAILURES.replace("gte: 2", "lt: 2");
    let h = Harness::with_rules(&rare, 2).await;
    let report = h
        .ingestor
        .ingest_raw(vec![
            logon("dave", "failure", 10, 0),
            logon("dave", "failure", 11, 30),
        ])
        .await
        .unwrap();
    assert_eq!(report.detections, 1, "{report:?}");
    let detections = h.detections().await;
    assert_eq!(detections.len(), 1, "{detections:?}");
    let rare = &detections[0].detection;
    assert_eq!(
        (rare.event_id, rare.rule_id.as_str()),
        (report.stored[0], "repeated")
    );
    assert_eq!(rare.host, "dave-laptop");
}
