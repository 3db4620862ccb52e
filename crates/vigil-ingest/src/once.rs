//! Batches stored once: a batch sent under an idempotency key is answered again, not stored
//! again, when its sender sends it a second time (the first answer was lost).
//!
//! The answer is recorded in the transaction that records the batch's detections, and the
//! detection mark does not pass the batch before that transaction commits. A crash between the
//! batch's append and that commit leaves it stored without its answer; so the batch is
//! appended with a mark naming its key ([`vigil_logs::EventStore::append_marked`]), and the
//! next start, finding the mark among the events owed detection, matches the batch and records
//! its answer before a sender can store it again ([`crate::DetectionRecovery`]). When recording
//! the answer fails without a crash (the database refused the transaction), the batch is kept
//! in memory and answered from its stored events when it is sent again
//! ([`crate::Ingestor::answer_unrecorded`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

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
        format: &BodyFormat,
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

/// What a batch's journal mark holds: its key and the events refused — by the decoder, and by
/// the log store as it will (`NewEvent::check`) — which its answer lists (the ids of those
/// stored are the mark's own).
#[derive(Debug, Serialize, Deserialize)]
struct Tag {
    key: BatchKey,
    rejected: Vec<RejectedEvent>,
}

/// The mark a keyed batch is appended with (public so that tests can leave the log store as a
/// crash between storing a batch and recording its answer leaves it).
pub fn mark(key: &BatchKey, rejected: &[RejectedEvent]) -> Vec<u8> {
    let tag = Tag {
        key: key.clone(),
        rejected: rejected.to_vec(),
    };
    serde_json::to_vec(&tag).unwrap_or_default()
}

/// A keyed batch stored without its answer: read from its mark after a crash, or kept when
/// recording its answer failed.
#[derive(Debug, Clone)]
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
        rejected: tag.rejected,
    })
}

/// The answer as `POST /api/v1/events` gives it (`vigil_api::IngestResponse`), which is what
/// a batch sent again gets: a client running the same command again (`vigil ingest`) hears
/// what the first sending was told, the events past their retention among it.
#[derive(Serialize)]
struct Answer<'a> {
    stored: u64,
    rejected: &'a [RejectedEvent],
    detections: u64,
    alerts: u64,
    #[serde(skip_serializing_if = "is_zero")]
    correlated_later: u64,
    #[serde(skip_serializing_if = "is_zero")]
    expiring: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
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
    let (correlated_later, expiring) = (report.correlated_later as u64, report.expiring as u64);
    let rejected = report.rejected.clone();
    KeyedAnswer {
        token: key.token,
        key: key.key,
        fingerprint: key.fingerprint,
        answer: Box::new(move |created| {
            let answer = Answer {
                stored,
                rejected: &rejected,
                detections,
                alerts: created as u64,
                correlated_later,
                expiring,
            };
            serde_json::to_string(&answer).unwrap_or_default()
        }),
        forget_before: now - KEEP_ANSWERS,
    }
}

/// A batch sent under an idempotency key, its key claimed for this sending
/// ([`crate::Ingestor::claim`]): while it or a clone of it lives, the same key from the same
/// token is refused as being stored. The ingest path keeps it until the batch's answer is
/// recorded — or kept to be answered when the batch is sent again, or nothing of the batch
/// was stored —, whether or not the sender is still waiting for the answer.
#[derive(Debug, Clone)]
pub struct ClaimedBatch {
    key: BatchKey,
    _hold: Arc<Hold>,
}

impl ClaimedBatch {
    /// The batch's key.
    pub fn key(&self) -> &BatchKey {
        &self.key
    }
}

/// A key held in [`Unrecorded::sending`], released when the last [`ClaimedBatch`] holding it
/// is dropped.
#[derive(Debug)]
struct Hold {
    sending: Arc<Mutex<HashSet<(Uuid, String)>>>,
    id: (Uuid, String),
}

impl Drop for Hold {
    fn drop(&mut self) {
        lock(&self.sending).remove(&self.id);
    }
}

/// What this process keeps of a batch whose answer it could not record, for a batch sent under
/// the same token and key.
#[derive(Debug)]
pub(crate) enum Kept {
    /// Nothing is kept under the key.
    Nothing,
    /// This very batch (the same fingerprint), no longer kept: to be answered now.
    This(Unanswered),
    /// Another batch is kept under the key: this one reuses a key that names stored events.
    Another,
}

/// Keyed batches stored whose answers are not recorded yet: those being sent now (sent again,
/// a batch is refused as being stored), those a start's recovery is answering (sent again, a
/// batch must wait for it), and those whose recording failed in this process (sent again, a
/// batch is answered from its stored events, not stored a second time).
#[derive(Debug, Default)]
pub(crate) struct Unrecorded {
    /// The keys of the batches being sent now, each held by its [`ClaimedBatch`]es; shared with
    /// their holds, which release the key when dropped.
    sending: Arc<Mutex<HashSet<(Uuid, String)>>>,
    recovering: Mutex<HashSet<(Uuid, String)>>,
    failed: Mutex<HashMap<(Uuid, String), Unanswered>>,
}

impl Unrecorded {
    /// Claims `key` for one sending; `None` while a batch under the same token and key is being
    /// sent or answered by a start's recovery.
    pub fn claim(&self, key: BatchKey) -> Option<ClaimedBatch> {
        let id = (key.token, key.key.clone());
        if lock(&self.recovering).contains(&id) {
            return None;
        }
        if !lock(&self.sending).insert(id.clone()) {
            return None;
        }
        let hold = Hold {
            sending: Arc::clone(&self.sending),
            id,
        };
        Some(ClaimedBatch {
            key,
            _hold: Arc::new(hold),
        })
    }

    pub fn recovering(&self, key: &BatchKey) {
        lock(&self.recovering).insert((key.token, key.key.clone()));
    }

    pub fn recovered(&self, key: &BatchKey) {
        lock(&self.recovering).remove(&(key.token, key.key.clone()));
    }

    pub fn is_recovering(&self, token: Uuid, key: &str) -> bool {
        lock(&self.recovering).contains(&(token, key.to_owned()))
    }

    /// Keeps a batch whose answer could not be recorded, for the next time it is sent.
    pub fn failed(&self, batch: Unanswered) {
        let id = (batch.key.token, batch.key.key.clone());
        lock(&self.failed).insert(id, batch);
    }

    /// What is kept under `key`'s token and key: the batch `key` names (the same
    /// fingerprint), no longer kept, or another.
    pub fn take_failed(&self, key: &BatchKey) -> Kept {
        let mut failed = lock(&self.failed);
        let id = (key.token, key.key.clone());
        match failed.get(&id) {
            None => Kept::Nothing,
            Some(batch) if batch.key == *key => {
                failed.remove(&id).map_or(Kept::Nothing, Kept::This)
            }
            Some(_) => Kept::Another,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each change is one insert or remove: the sets stay consistent whatever panicked.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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
        // Marks written before refusals were kept without their empty parts read the same.
        let older = format!(
            r#"{{"key":{},"rejected":[{{"line":3,"index":null,"reason":"not JSON: \"é\""}}]}}"#,
            serde_json::to_string(&key).unwrap()
        );
        assert_eq!(
            unanswered(7..9, older.as_bytes()).unwrap().rejected,
            rejected
        );
    }

    #[test]
    fn a_key_stays_claimed_while_any_holder_of_its_claim_lives() {
        let unrecorded = Unrecorded::default();
        let key = |token: Uuid, name: &str| BatchKey {
            token,
            key: name.into(),
            fingerprint: "f".into(),
        };
        let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let claimed = unrecorded.claim(key(ann, "k")).expect("a new key");
        assert!(unrecorded.claim(key(ann, "k")).is_none(), "being stored");
        let other_batch = BatchKey {
            fingerprint: "g".into(),
            ..key(ann, "k")
        };
        assert!(
            unrecorded.claim(other_batch).is_none(),
            "another batch under the key waits too"
        );
        let theirs = unrecorded.claim(key(bob, "k"));
        assert!(theirs.is_some(), "another sender's key is its own");
        // The task storing the batch holds a clone when its sender stops waiting.
        let storing = claimed.clone();
        drop(claimed);
        assert!(unrecorded.claim(key(ann, "k")).is_none());
        drop(storing);
        assert!(unrecorded.claim(key(ann, "k")).is_some(), "released");

        unrecorded.recovering(&key(ann, "lost"));
        assert!(
            unrecorded.claim(key(ann, "lost")).is_none(),
            "being answered by the start's recovery"
        );
        unrecorded.recovered(&key(ann, "lost"));
        assert!(unrecorded.claim(key(ann, "lost")).is_some());
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
            correlated_later: 0,
            expiring: 0,
        };
        let now = Utc::now();
        let answer = keyed_answer(key.clone(), &report, now);
        assert_eq!(answer.forget_before, now - KEEP_ANSWERS);
        assert_eq!(
            (answer.answer)(2),
            r#"{"stored":2,"rejected":[{"index":1,"reason":"empty"}],"detections":3,"alerts":2}"#
        );
        let late = IngestReport {
            correlated_later: 1,
            expiring: 2,
            ..report
        };
        let answer = keyed_answer(key.clone(), &late, now);
        assert_eq!(
            (answer.answer)(0),
            r#"{"stored":2,"rejected":[{"index":1,"reason":"empty"}],"detections":3,"alerts":0,"correlated_later":1,"expiring":2}"#
        );
    }
}
