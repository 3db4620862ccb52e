//! The tamper-evident audit trail as pure functions.
//!
//! Entry `n` carries `prev_hash` (the hash of entry `n - 1`, or [`GENESIS_HASH`] for the first)
//! and `hash = SHA-256(prev_hash ‖ "\n" ‖ canonical(seq, at, actor, action, incident_id,
//! payload))`, hex-encoded. The canonical form is a JSON array
//! `["vigil-audit-v1", seq, at, actor, action, incident_id|null, payload]` where `at` is RFC 3339
//! UTC with microseconds (`2026-03-01T10:00:00.000000Z`) and the payload's object keys are sorted
//! at every level, so the hash does not depend on map ordering. Sequence numbers start at 1 and
//! have no gaps. Changing any field of any entry, or deleting or reordering entries, breaks the
//! chain at that entry's seq; [`verify_chain`] reports the first break. (Deleting the *last*
//! entries leaves a shorter valid chain; the store guards against that by comparing the count.)

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::ids::IncidentId;

/// The `prev_hash` of the first entry: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit-trail entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// When the write happened.
    pub at: DateTime<Utc>,
    /// Who made it (token name).
    pub actor: String,
    /// What kind of write (`incident.create`, `token.revoke` …).
    pub action: String,
    /// The incident written to, when the write concerns one.
    pub incident_id: Option<IncidentId>,
    /// The write's details.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: Value,
    /// Hash of the previous entry (hex).
    pub prev_hash: String,
    /// This entry's hash (hex).
    pub hash: String,
}

/// The content of an entry before it is chained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What kind of write.
    pub action: String,
    /// The incident concerned.
    pub incident_id: Option<IncidentId>,
    /// Details.
    pub payload: Value,
}

impl NewAuditEntry {
    /// Chains this entry after the entry with sequence `prev_seq` and hash `prev_hash`
    /// (`0` and [`GENESIS_HASH`] for the first). `at` is truncated to microseconds.
    pub fn chain(self, prev_seq: u64, prev_hash: &str) -> AuditEntry {
        let at = truncate_micros(self.at);
        let seq = prev_seq + 1;
        let hash = entry_hash(
            prev_hash,
            seq,
            at,
            &self.actor,
            &self.action,
            self.incident_id,
            &self.payload,
        );
        AuditEntry {
            seq,
            at,
            actor: self.actor,
            action: self.action,
            incident_id: self.incident_id,
            payload: self.payload,
            prev_hash: prev_hash.to_owned(),
            hash,
        }
    }
}

/// `at` with sub-microsecond precision dropped (what storage keeps and what is hashed).
pub fn truncate_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = at.timestamp_subsec_nanos();
    at - chrono::Duration::nanoseconds(i64::from(nanos % 1000))
}

/// The canonical text of a time: RFC 3339 UTC with microseconds.
pub fn canonical_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Writes `v` as JSON with object keys sorted at every level.
pub fn canonical_json(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String((*k).clone()).to_string());
                    out.push(':');
                    write(&m[*k], out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// The hash of an entry with these fields.
pub fn entry_hash(
    prev_hash: &str,
    seq: u64,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    incident_id: Option<IncidentId>,
    payload: &Value,
) -> String {
    let head = serde_json::json!([
        "vigil-audit-v1",
        seq,
        canonical_time(at),
        actor,
        action,
        incident_id.map(|i| i.to_string()),
    ]);
    let head = head.to_string();
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    // head without its closing bracket, then the payload, then the bracket
    h.update(&head.as_bytes()[..head.len() - 1]);
    h.update(b",");
    h.update(canonical_json(payload).as_bytes());
    h.update(b"]");
    hex::encode(h.finalize())
}

/// What is wrong at a broken link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ChainProblem {
    /// The sequence number is not the one expected: an entry was deleted or reordered.
    #[error("expected entry {expected} here, found {found}: an entry is missing or out of order")]
    SequenceGap {
        /// The seq that should be here.
        expected: u64,
        /// The seq found.
        found: u64,
    },
    /// The entry's `prev_hash` is not the previous entry's hash.
    #[error("its prev_hash does not match the previous entry's hash")]
    PrevHashMismatch,
    /// The entry's content does not hash to its recorded hash: it was altered.
    #[error("its content does not match its hash: the entry was altered")]
    HashMismatch,
    /// Fewer entries than the store's own count: entries at the end were deleted.
    #[error(
        "the chain ends at {found} but {expected} entries were written: entries at the end were deleted"
    )]
    Truncated {
        /// Entries the store recorded writing.
        expected: u64,
        /// Entries found.
        found: u64,
    },
    /// The chain's last entry is not the one the store recorded writing last: entries were
    /// added at the end, or the newest rewritten, by hand.
    #[error(
        "the chain ends at entry {found}, but the last entry the store wrote was {expected} with another hash: the newest entries were added or rewritten by hand"
    )]
    HeadMismatch {
        /// The last entry the store recorded writing.
        expected: u64,
        /// The last entry found.
        found: u64,
    },
    /// The store's record of the last entry written is gone while entries, or the records
    /// they account for, remain: the chain was cut or emptied by hand.
    #[error(
        "the store's record of the last entry written is missing while {records} remain: the chain was cut or emptied by hand"
    )]
    HeadMissing {
        /// What remains: entries and records.
        records: String,
    },
}

/// The first broken link of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[error(
    "audit chain broken at entry {seq}: {problem}; restore the audit table from a backup and investigate who changed it"
)]
pub struct ChainBreak {
    /// The seq at which the chain breaks.
    pub seq: u64,
    /// What is wrong.
    pub problem: ChainProblem,
}

/// Walks entries in order; `Ok(count)` when every link holds, else the first break.
pub fn verify_chain<I>(entries: I) -> Result<u64, ChainBreak>
where
    I: IntoIterator<Item = AuditEntry>,
{
    let mut prev = GENESIS_HASH.to_owned();
    let mut count = 0u64;
    for e in entries {
        let expected = count + 1;
        if e.seq != expected {
            return Err(ChainBreak {
                seq: expected,
                problem: ChainProblem::SequenceGap {
                    expected,
                    found: e.seq,
                },
            });
        }
        if e.prev_hash != prev {
            return Err(ChainBreak {
                seq: e.seq,
                problem: ChainProblem::PrevHashMismatch,
            });
        }
        let h = entry_hash(
            &e.prev_hash,
            e.seq,
            e.at,
            &e.actor,
            &e.action,
            e.incident_id,
            &e.payload,
        );
        if h != e.hash {
            return Err(ChainBreak {
                seq: e.seq,
                problem: ChainProblem::HashMismatch,
            });
        }
        prev = e.hash;
        count = expected;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain(n: u64) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let (seq, prev) = out
                .last()
                .map(|e| (e.seq, e.hash.clone()))
                .unwrap_or((0, GENESIS_HASH.to_owned()));
            out.push(
                NewAuditEntry {
                    at: Utc::now(),
                    actor: format!("user{i}"),
                    action: "incident.update".into(),
                    incident_id: Some(IncidentId::new()),
                    payload: json!({"b": i, "a": [1, {"y": 2, "x": 1}]}),
                }
                .chain(seq, &prev),
            );
        }
        out
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify_chain(chain(5)), Ok(5));
        assert_eq!(verify_chain(Vec::new()), Ok(0));
    }

    #[test]
    fn tampering_is_found_at_the_right_seq() {
        let mut c = chain(5);
        c[2].payload = json!({"b": 99});
        assert_eq!(
            verify_chain(c),
            Err(ChainBreak {
                seq: 3,
                problem: ChainProblem::HashMismatch
            })
        );

        let mut c = chain(5);
        c[1].actor = "mallory".into();
        assert_eq!(verify_chain(c).unwrap_err().seq, 2);

        let mut c = chain(5);
        c[3].at += chrono::Duration::seconds(1);
        assert_eq!(verify_chain(c).unwrap_err().seq, 4);

        let mut c = chain(5);
        c.remove(1);
        assert_eq!(
            verify_chain(c),
            Err(ChainBreak {
                seq: 2,
                problem: ChainProblem::SequenceGap {
                    expected: 2,
                    found: 3
                }
            })
        );

        let mut c = chain(5);
        let fake = NewAuditEntry {
            at: Utc::now(),
            actor: "mallory".into(),
            action: "x".into(),
            incident_id: None,
            payload: json!(null),
        }
        .chain(3, "f".repeat(64).as_str());
        c[3] = fake;
        assert_eq!(
            verify_chain(c),
            Err(ChainBreak {
                seq: 4,
                problem: ChainProblem::PrevHashMismatch
            })
        );
    }

    #[test]
    fn canonical_json_sorts_keys() {
        assert_eq!(
            canonical_json(&json!({"b": 1, "a": {"d": [true, null], "c": "x"}})),
            r#"{"a":{"c":"x","d":[true,null]},"b":1}"#
        );
    }

    #[test]
    fn hash_survives_storage_round_trip() {
        let e = &chain(1)[0];
        let text = canonical_time(e.at);
        let back: DateTime<Utc> = DateTime::parse_from_rfc3339(&text)
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(back, e.at);
        let json = serde_json::to_string(e).unwrap();
        let again: AuditEntry = serde_json::from_str(&json).unwrap();
        assert_eq!(verify_chain([again]), Ok(1));
    }
}
