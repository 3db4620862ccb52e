//! Batches stored once: a batch sent under an idempotency key is answered again, not stored
//! again, when its sender sends it a second time (the first answer was lost).
//!
//! The answer is recorded in the transaction that records the batch's detections, and the
//! detection mark does not pass the batch before that transaction commits. A crash between the
//! batch's append and that commit leaves it stored without its answer; so the batch is
//! appended with a mark naming its key ([`vigil_logs::EventStore::append_marked`]), and the
//! next start, finding the mark among the events owed detection, matches the batch and records
//! its answer before a sender can store it again ([`crate::DetectionRecovery`]).

use std::collections::HashSet;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_events::batch::BodyFormat;
use vigil_store::KeyedAnswer;

use crate::pipeline::{Envelope, IngestReport, RejectedEvent};

/// How long the answer to a batch sent under an idempotency key is kept.
pub const KEEP_ANSWERS: Duration = Duration::hours(24);

/// A batch sent under an idempotency key: whose key, and what was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchKey {
    /// The sending token (a key is its sender's own).
    pub token: Uuid,
    /// The idempotency key.
    pub key: String,
    /// SHA-256 (hex) of what was sent, to tell the same batch sent again from another batch
    /// under a reused key.
    pub fingerprint: String,
}

impl BatchKey {
    /// The key of a batch `token` sends under `key`: where it is stored and its events, as
    /// sent, hashed (tens of milliseconds for the largest bodies: not on an async thread).
    pub fn new(
        token: Uuid,
        key: String,
        envelope: &Envelope,
        format: BodyFormat,
        body: &[u8],
    ) -> BatchKey {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for part in [&envelope.service, &envelope.host, &envelope.tenant] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        hash.update(format!("{format:?}").as_bytes());
        hash.update([0]);
        hash.update(body);
        let fingerprint = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        BatchKey {
            token,
            key,
            fingerprint,
        }
    }
}

/// What a batch's journal mark holds: its key and the events refused before it was appended
/// (the ids of those stored are the mark's own), which its answer lists. The log store's own
/// refusals (a host name over 256 bytes taken from an event) come after the mark is made and
/// are missing from an answer recorded after a crash.
#[derive(Debug, Serialize, Deserialize)]
struct Tag {
    key: BatchKey,
    rejected: Vec<TagRejected>,
}

#[derive(Debug, Serialize, Deserialize)]
struct TagRejected {
    line: Option<u64>,
    index: Option<u64>,
    reason: String,
}

/// The mark a keyed batch is appended with (public so that tests can leave the log store as a
/// crash between storing a batch and recording its answer leaves it).
pub fn mark(key: &BatchKey, rejected: &[RejectedEvent]) -> Vec<u8> {
    let tag = Tag {
        key: key.clone(),
        rejected: rejected
            .iter()
            .map(|r| TagRejected {
                line: r.line,
                index: r.index,
                reason: r.reason.clone(),
            })
            .collect(),
    };
    serde_json::to_vec(&tag).unwrap_or_default()
}

/// A keyed batch a crash left stored without its answer, read from its mark.
#[derive(Debug)]
pub(crate) struct Unanswered {
    pub key: BatchKey,
    pub ids: std::ops::Range<u64>,
    pub rejected: Vec<RejectedEvent>,
}

/// The keyed batch a mark names; `None` for a mark this version does not read.
pub(crate) fn unanswered(ids: std::ops::Range<u64>, mark: &[u8]) -> Option<Unanswered> {
    let tag: Tag = serde_json::from_slice(mark).ok()?;
    Some(Unanswered {
        key: tag.key,
        ids,
        rejected: tag
            .rejected
            .into_iter()
            .map(|r| RejectedEvent {
                line: r.line,
                index: r.index,
                reason: r.reason,
            })
            .collect(),
    })
}

/// The answer as `POST /api/v1/events` gives it (`vigil_api::IngestResponse`), which is what
/// a batch sent again gets.
#[derive(Serialize)]
struct Answer<'a> {
    stored: u64,
    rejected: Vec<AnswerRejected<'a>>,
    detections: u64,
    alerts: u64,
}

#[derive(Serialize)]
struct AnswerRejected<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u64>,
    reason: &'a str,
}

/// The answer to record for `report` under `key`, completed in the recording transaction with
/// the number of alerts it created.
pub(crate) fn keyed_answer(
    key: BatchKey,
    report: &IngestReport,
    now: DateTime<Utc>,
) -> KeyedAnswer {
    let stored = report.stored.len() as u64;
    let detections = report.detections as u64;
    let rejected = report.rejected.clone();
    KeyedAnswer {
        token: key.token,
        key: key.key,
        fingerprint: key.fingerprint,
        answer: Box::new(move |created| {
            let answer = Answer {
                stored,
                rejected: rejected
                    .iter()
                    .map(|r| AnswerRejected {
                        line: r.line,
                        index: r.index,
                        reason: &r.reason,
                    })
                    .collect(),
                detections,
                alerts: created as u64,
            };
            serde_json::to_string(&answer).unwrap_or_default()
        }),
        forget_before: now - KEEP_ANSWERS,
    }
}

/// The keys of the batches a start is recording the answers of (see the module's comment):
/// a batch sent again under one of them must wait.
#[derive(Debug, Default)]
pub(crate) struct Recovering {
    keys: Mutex<HashSet<(Uuid, String)>>,
}

impl Recovering {
    pub fn add(&self, key: &BatchKey) {
        self.lock().insert((key.token, key.key.clone()));
    }

    pub fn remove(&self, key: &BatchKey) {
        self.lock().remove(&(key.token, key.key.clone()));
    }

    pub fn contains(&self, token: Uuid, key: &str) -> bool {
        self.lock().contains(&(token, key.to_owned()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<(Uuid, String)>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_names_its_batch_and_what_was_refused() {
        let key = BatchKey {
            token: Uuid::now_v7(),
            key: "batch-1".into(),
            fingerprint: "abc".into(),
        };
        let rejected = vec![RejectedEvent {
            line: Some(3),
            index: None,
            reason: "not JSON: \"é\"".into(),
        }];
        let read = unanswered(7..9, &mark(&key, &rejected)).expect("reads");
        assert_eq!(read.key, key);
        assert_eq!(read.ids, 7..9);
        assert_eq!(read.rejected, rejected);
        assert!(
            unanswered(0..1, b"").is_none(),
            "a foreign mark is left alone"
        );
    }

    #[test]
    fn the_answer_has_the_shape_of_the_api_answer() {
        let key = BatchKey {
            token: Uuid::now_v7(),
            key: "k".into(),
            fingerprint: "f".into(),
        };
        let report = IngestReport {
            stored: vec![4, 5],
            rejected: vec![RejectedEvent {
                line: None,
                index: Some(1),
                reason: "empty".into(),
            }],
            detections: 3,
            alerts: 0,
        };
        let now = Utc::now();
        let answer = keyed_answer(key.clone(), &report, now);
        assert_eq!(answer.forget_before, now - KEEP_ANSWERS);
        assert_eq!(
            (answer.answer)(2),
            r#"{"stored":2,"rejected":[{"index":1,"reason":"empty"}],"detections":3,"alerts":2}"#
        );
    }
}
