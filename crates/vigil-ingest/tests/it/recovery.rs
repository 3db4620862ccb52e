//! Detections across a crash: events stored whose detections were never recorded (the process
//! stopped between the two) are matched again at the next start, and nothing is recorded twice.

use chrono::Utc;
use vigil_core::{NewDetection, RuleLevel};
use vigil_ingest::{Envelope, RawEvent, Recovered};
use vigil_logs::NewEvent;

use crate::support::{Harness, SSH_RULE_ID};

/// Where the tests' events come from.
fn bastion() -> Envelope {
    Envelope {
        service: "bastion".into(),
        host: "bastion-1".into(),
        tenant: "acme".into(),
    }
}

fn sshd(message: &str) -> RawEvent {
    RawEvent {
        time: Some(Utc::now()),
        envelope: bastion(),
        json: format!(r#"{{"message":"{message}"}}"#),
    }
}

/// The key of the JSON-lines `body` that `token` sends from bastion-1 under `name`.
fn keyed(token: uuid::Uuid, name: &str, body: &str) -> vigil_ingest::BatchKey {
    vigil_ingest::BatchKey::new(
        token,
        name.into(),
        &bastion(),
        &vigil_events::batch::BodyFormat::JsonLines,
        body.as_bytes(),
    )
}

/// JSON lines as the ingestor appends them to the log store from bastion-1.
fn appended<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<NewEvent> {
    lines
        .into_iter()
        .map(|json| {
            stored(RawEvent {
                time: Some(Utc::now()),
                envelope: bastion(),
                json: json.into(),
            })
        })
        .collect()
}

fn stored(raw: RawEvent) -> NewEvent {
    NewEvent {
        time: raw.time.unwrap_or_else(Utc::now),
        service: raw.envelope.service,
        host: raw.envelope.host,
        tenant: raw.envelope.tenant,
        json: raw.json,
        json_checked: false,
    }
}

/// Records a detection of bastion-1's event `event_id` by the rule, as the ingest path would
/// have before the crash.
async fn record(h: &Harness, event_id: u64, rule_id: &str, rule_title: &str) {
    let detection = NewDetection {
        event_id,
        event_time: Utc::now(),
        service: "bastion".into(),
        host: "bastion-1".into(),
        tenant: "acme".into(),
        rule_id: rule_id.into(),
        rule_title: rule_title.into(),
        level: RuleLevel::Medium,
        tags: Vec::new(),
    };
    h.store
        .record_matches("vigil", vec![detection], Vec::new(), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn events_stored_without_their_detections_are_matched_at_the_next_start_once() {
    let h = Harness::new().await;
    assert!(
        h.ingestor.begin_detection_recovery().is_none(),
        "a new store owes nothing"
    );
    let failed = "Failed password for root from 203.0.113.7";
    let report = h
        .ingestor
        .ingest_raw(vec![sshd(failed), sshd("Accepted publickey for ann")])
        .await
        .unwrap();
    assert_eq!(report.detections, 1);

    // The crash window: a batch stored, its detections never recorded (the ingestor's append
    // without the rest), except for the first event's, whose recording committed while the
    // detection mark that says so did not reach the disk.
    let batch = vec![
        stored(sshd(failed)),
        stored(sshd("session opened for user ann")),
        stored(sshd(failed)),
        stored(sshd(failed)),
    ];
    let ids = h.events.append(batch).unwrap().stored;
    record(&h, ids[0], SSH_RULE_ID, "SSH failed password").await;

    let h = h.reopen();
    let recovery = h
        .ingestor
        .begin_detection_recovery()
        .expect("the events stored after the mark are owed");
    assert_eq!(recovery.ids(), ids[0]..ids[3] + 1);
    assert_eq!(
        recovery.run().await.unwrap(),
        Recovered {
            read: 4,
            already_recorded: 1,
            detections: 2,
            answered: 0,
        }
    );
    let mut detected: Vec<u64> = h
        .detections()
        .await
        .iter()
        .map(|d| d.detection.event_id)
        .collect();
    detected.sort_unstable();
    assert_eq!(
        detected,
        [report.stored[0], ids[0], ids[2], ids[3]],
        "one detection per failed login, none twice"
    );
    let alerts = h
        .store
        .list_alerts(&vigil_store::AlertFilter::default())
        .await
        .unwrap();
    let alerted: Vec<u64> = alerts
        .items
        .iter()
        .flat_map(|a| a.alert.event_ids.clone())
        .collect();
    assert_eq!(
        alerted,
        [report.stored[0], ids[2], ids[3]],
        "the recovered detections alert as ingest does (into the open alert of their rule and \
         host); the one recorded before the crash had raised its own then: {alerts:?}"
    );

    // The mark moved past them: the next start owes nothing.
    let h = h.reopen();
    assert!(h.ingestor.begin_detection_recovery().is_none());
    assert_eq!(h.detections().await.len(), 4);
}

/// Batches acknowledged as usual move the mark: a clean restart owes nothing.
#[tokio::test]
async fn a_clean_restart_owes_no_detection() {
    let h = Harness::new().await;
    for _ in 0..3 {
        h.ingestor
            .ingest_raw(vec![sshd("Failed password for root"), sshd("hello")])
            .await
            .unwrap();
    }
    let h = h.reopen();
    assert!(h.ingestor.begin_detection_recovery().is_none());
}

/// Root's failure at 10:MM on 2026-12-01 (the repeated-failures correlation counts them).
fn root_failure(minute: u32) -> RawEvent {
    use chrono::TimeZone;
    RawEvent {
        time: Some(
            chrono::Utc
                .with_ymd_and_hms(2026, 12, 1, 10, minute, 0)
                .unwrap(),
        ),
        envelope: Envelope {
            service: "bastion".into(),
            host: "bastion-1".into(),
            tenant: "acme".into(),
        },
        json: r#"{"user":"root","outcome":"failure"}"#.into(),
    }
}

/// The correlation an unrecorded event completed is recorded by the rebuild of the windows
/// at the next start — once, also when the crash came after it was recorded.
#[tokio::test]
async fn a_correlation_completed_by_an_unrecorded_event_is_recorded_at_the_next_start_once() {
    use vigil_testkit::RULE_REPEATED_FAILURES;
    for recorded_before_the_crash in [false, true] {
        let h = Harness::with_rules(RULE_REPEATED_FAILURES, 2).await;
        let report = h.ingestor.ingest_raw(vec![root_failure(0)]).await.unwrap();
        assert_eq!(report.detections, 0, "one failure is not a correlation yet");
        // The second failure is stored; the crash comes before its detections are recorded
        // (or, the second time round, after that but before the mark reached the disk).
        let ids = h
            .events
            .append(vec![stored(root_failure(1))])
            .unwrap()
            .stored;
        if recorded_before_the_crash {
            record(&h, ids[0], "repeated", "Repeated failures").await;
        }

        let h = h.reopen();
        let recovery = h.ingestor.begin_detection_recovery().expect("owed");
        let rebuild = h.ingestor.begin_correlation_rebuild();
        recovery.run().await.unwrap();
        rebuild.run(1_000).await.unwrap();
        let detections = h.detections().await;
        assert_eq!(
            detections
                .iter()
                .map(|d| (d.detection.event_id, d.detection.rule_id.as_str()))
                .collect::<Vec<_>>(),
            [(ids[0], "repeated")],
            "recorded before the crash: {recorded_before_the_crash}"
        );
        // The completed window was cleared: the next failure opens a new one.
        let report = h.ingestor.ingest_raw(vec![root_failure(2)]).await.unwrap();
        assert_eq!(report.detections, 0);
    }
}

/// A caller that stops waiting (an HTTP client hanging up mid-request drops the handler) does
/// not stop its batch half-way: the batch is stored and its detections recorded all the same.
#[tokio::test]
async fn a_caller_that_stops_waiting_leaves_no_batch_half_done() {
    let h = Harness::new().await;
    let batch: Vec<RawEvent> = (0..2000)
        .map(|i| sshd(&format!("Failed password for user{i} from 203.0.113.7")))
        .collect();
    let gave_up = tokio::time::timeout(
        std::time::Duration::from_micros(1),
        h.ingestor.ingest_raw(batch),
    )
    .await;
    assert!(
        gave_up.is_err(),
        "the caller stopped waiting before the batch was done"
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut recorded = 0;
    while recorded < 2000 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        recorded = h
            .store
            .list_detections(&vigil_store::DetectionFilter::default())
            .await
            .unwrap()
            .total;
    }
    assert_eq!(recorded, 2000, "every stored event's detection is recorded");
    assert_eq!(h.events.next_id(), 2000, "the whole batch is stored");
}

/// A batch sent under an idempotency key is stored with a mark naming its key; when the
/// process stops between storing it and recording its answer, the next start finds the mark,
/// matches the batch and records its answer — the one it would have had — while refusing the
/// key as being stored until then. A batch whose answer was recorded is answered as it was.
#[tokio::test]
async fn a_keyed_batch_a_crash_left_unanswered_is_answered_at_the_next_start() {
    use vigil_events::batch::BodyFormat;
    let h = Harness::new().await;
    let token = uuid::Uuid::now_v7();
    let body = "{\"message\":\"Failed password for root from 203.0.113.7\"}\n\
                {\"message\":\"Accepted publickey for ann\"}\n\
                not json\n";
    let key = |name: &str| keyed(token, name, body);

    // Sent and answered before the crash: recorded with its detections.
    let answered = h
        .ingestor
        .ingest_body(
            body.as_bytes().to_vec(),
            BodyFormat::JsonLines,
            bastion(),
            Some(h.ingestor.claim(key("answered")).unwrap()),
        )
        .await
        .unwrap();
    assert_eq!((answered.stored.len(), answered.detections), (2, 1));
    let recorded = h
        .store
        .ingest_key(token, "answered")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded.fingerprint, key("answered").fingerprint);
    let first_answer: serde_json::Value = serde_json::from_str(&recorded.answer).unwrap();
    assert_eq!(first_answer["stored"], 2, "{first_answer}");
    assert_eq!(first_answer["rejected"][0]["line"], 3, "{first_answer}");
    assert_eq!(first_answer["detections"], 1, "{first_answer}");
    assert_eq!(first_answer["alerts"], 1, "{first_answer}");

    // The crash window: the same events stored under another key, with the mark the ingestor
    // writes, and nothing recorded.
    let rejected = vec![vigil_ingest::RejectedEvent {
        line: Some(3),
        index: None,
        reason: first_answer["rejected"][0]["reason"]
            .as_str()
            .unwrap()
            .to_owned(),
    }];
    let mark = vigil_ingest::once::mark(&key("lost"), &rejected);
    let events = appended(body.lines().take(2));
    let ids = h.events.append_marked(events, mark).unwrap().stored;

    let h = h.reopen();
    let recovery = h
        .ingestor
        .begin_detection_recovery()
        .expect("the batch is owed");
    assert!(
        h.ingestor.is_recovering(token, "lost"),
        "sent again now, the batch would be refused as being stored"
    );
    assert!(h.ingestor.claim(key("lost")).is_none());
    assert!(!h.ingestor.is_recovering(token, "answered"));
    let recovered = recovery.run().await.unwrap();
    assert_eq!(
        (recovered.answered, recovered.detections),
        (1, 1),
        "its one detection counted once: {recovered:?}"
    );
    assert!(!h.ingestor.is_recovering(token, "lost"));
    let recorded = h.store.ingest_key(token, "lost").await.unwrap().unwrap();
    assert_eq!(recorded.fingerprint, key("lost").fingerprint);
    let mut answer: serde_json::Value = serde_json::from_str(&recorded.answer).unwrap();
    assert_eq!(
        answer["alerts"], 0,
        "its alert folds into the one the first batch opened: {answer}"
    );
    answer["alerts"] = first_answer["alerts"].clone();
    assert_eq!(answer, first_answer, "the answer the batch would have had");
    let detected: Vec<u64> = h
        .detections()
        .await
        .iter()
        .map(|d| d.detection.event_id)
        .filter(|id| ids.contains(id))
        .collect();
    assert_eq!(detected, [ids[0]], "matched once, with its answer");

    let h = h.reopen();
    assert!(
        h.ingestor.begin_detection_recovery().is_none(),
        "nothing is owed after the recovery"
    );
}

/// The answer recorded for the batch `token` sent under `key`.
async fn answer(h: &Harness, token: uuid::Uuid, key: &str) -> Option<serde_json::Value> {
    let known = h.store.ingest_key(token, key).await.unwrap()?;
    Some(serde_json::from_str(&known.answer).unwrap())
}

/// Makes every transaction that records an answer fail, as a database refusing writes would.
const REFUSE_ANSWERS: &str = "CREATE TRIGGER refuse_answers BEFORE INSERT ON ingest_keys \
    BEGIN SELECT RAISE(ABORT, 'disk trouble'); END";
const ACCEPT_ANSWERS: &str = "DROP TRIGGER refuse_answers";

/// A keyed batch stored whose answer the database refused to record is not stored again when
/// it is sent again: the ingestor kept it, and answers it from its stored events — once the
/// database takes the answer — with the answer it would have had, its detection recorded once.
/// So are the batches a start's recovery failed to answer, instead of being refused as "being
/// stored" until the next start.
#[tokio::test]
async fn a_keyed_batch_whose_answer_was_refused_is_answered_when_sent_again() {
    use vigil_events::batch::BodyFormat;
    let h = Harness::new().await;
    let token = uuid::Uuid::now_v7();
    let body = "{\"message\":\"Failed password for root from 203.0.113.7\"}\n\
                not json\n\
                {\"message\":\"Accepted publickey for ann\"}\n";
    let key = |name: &str| keyed(token, name, body);
    let send = |name: &str| {
        h.ingestor.ingest_body(
            body.as_bytes().to_vec(),
            BodyFormat::JsonLines,
            bastion(),
            Some(h.ingestor.claim(key(name)).unwrap()),
        )
    };

    h.sqlite(REFUSE_ANSWERS).await;
    let refused = send("first").await.expect_err("the answer is refused");
    assert!(
        matches!(refused, vigil_ingest::IngestError::Detections(_)),
        "{refused}"
    );
    assert_eq!(h.events.next_id(), 2, "its events are stored");
    assert!(answer(&h, token, "first").await.is_none());
    assert!(h.detections().await.is_empty(), "nothing of it is recorded");

    // Sent again while the database still refuses: refused again, still not stored twice.
    assert!(
        h.ingestor
            .answer_unrecorded(&h.ingestor.claim(key("first")).unwrap())
            .await
            .is_err()
    );
    // Another batch under the key is not this one: left to the caller's fingerprint check.
    let other = vigil_ingest::BatchKey {
        fingerprint: "0".repeat(64),
        ..key("first")
    };
    h.ingestor
        .answer_unrecorded(&h.ingestor.claim(other).unwrap())
        .await
        .unwrap();
    assert!(answer(&h, token, "first").await.is_none());

    h.sqlite(ACCEPT_ANSWERS).await;
    h.ingestor
        .answer_unrecorded(&h.ingestor.claim(key("first")).unwrap())
        .await
        .unwrap();
    let answered = answer(&h, token, "first")
        .await
        .expect("answered from the stored events");
    assert_eq!(
        answered,
        serde_json::json!({
            "stored": 2,
            "rejected": [{"line": 2, "reason": answered["rejected"][0]["reason"]}],
            "detections": 1,
            "alerts": 1,
        }),
        "the answer it would have had"
    );
    assert_eq!(h.events.next_id(), 2, "stored once");
    h.ingestor
        .answer_unrecorded(&h.ingestor.claim(key("first")).unwrap())
        .await
        .unwrap();
    assert_eq!(h.detections().await.len(), 1, "its detection recorded once");

    // A start's recovery that fails leaves its batches to be answered when sent again.
    let events = appended(body.lines().filter(|l| l.starts_with('{')));
    let mark = vigil_ingest::once::mark(&key("lost"), &[]);
    h.events.append_marked(events, mark).unwrap();
    let h = h.reopen();
    let recovery = h.ingestor.begin_detection_recovery().expect("owed");
    assert!(h.ingestor.is_recovering(token, "lost"));
    h.sqlite(REFUSE_ANSWERS).await;
    assert!(recovery.run().await.is_err());
    assert!(
        !h.ingestor.is_recovering(token, "lost"),
        "not refused as being stored until the next start"
    );
    h.sqlite(ACCEPT_ANSWERS).await;
    h.ingestor
        .answer_unrecorded(&h.ingestor.claim(key("lost")).unwrap())
        .await
        .unwrap();
    let lost = answer(&h, token, "lost").await.expect("answered");
    assert_eq!(
        (lost["stored"].as_u64(), lost["detections"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(h.events.next_id(), 4);
    assert_eq!(h.detections().await.len(), 2, "one detection per batch");
}

/// A keyed batch is stored with a mark listing every refusal of its answer (the decoder's; the
/// log store's own would be listed too, but a host over 256 bytes taken from an event, which it
/// once refused, is now left out of the envelope and the event stored): when the process stops
/// between storing the batch and recording its answer (here the database refused the answer,
/// then the process stopped), the next start records the answer the batch would have had.
#[tokio::test]
async fn an_answer_recorded_after_a_crash_lists_every_refusal() {
    use vigil_events::batch::BodyFormat;
    let h = Harness::new().await;
    let token = uuid::Uuid::now_v7();
    let body = format!(
        "{{\"message\":\"Failed password for root from 203.0.113.7\",\"hostname\":\"web-1\"}}\n\
         not json\n\
         {{\"message\":\"Accepted publickey for ann\",\"hostname\":\"{}\"}}\n",
        "h".repeat(300)
    );
    // Each event's host is its own.
    let envelope = Envelope {
        host: String::new(),
        ..bastion()
    };
    let key = |name: &str| {
        vigil_ingest::BatchKey::new(
            token,
            name.into(),
            &envelope,
            &BodyFormat::JsonLines,
            body.as_bytes(),
        )
    };
    let send = |name: &str| {
        h.ingestor.ingest_body(
            body.clone().into_bytes(),
            BodyFormat::JsonLines,
            envelope.clone(),
            Some(h.ingestor.claim(key(name)).unwrap()),
        )
    };
    send("reference").await.unwrap();
    let expected = answer(&h, token, "reference").await.unwrap();
    let reasons: Vec<&str> = expected["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 1, "the decoder's refusal: {expected}");
    assert_eq!(expected["stored"], 2, "{expected}");

    h.sqlite(REFUSE_ANSWERS).await;
    send("lost").await.expect_err("the answer is refused");
    h.sqlite(ACCEPT_ANSWERS).await;
    // The process stops: what it kept in memory is gone, the batch's mark is not.
    let h = h.reopen();
    let recovery = h.ingestor.begin_detection_recovery().expect("owed");
    assert_eq!(recovery.run().await.unwrap().answered, 1);
    let mut recorded = answer(&h, token, "lost").await.unwrap();
    assert_eq!(recorded["alerts"], 0, "its alert folds into the first's");
    recorded["alerts"] = expected["alerts"].clone();
    assert_eq!(recorded, expected, "the answer it would have had");
}
