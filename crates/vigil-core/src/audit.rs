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
//!
//! The chain alone proves only that the entries are as written; the records they describe are
//! rows beside them, which a hand edit can change without touching an entry. So every entry that
//! writes an incident, a token or an alert also records, in its (hashed) payload, a digest of the
//! state the write left the record in ([`incident_state`], [`token_state`], [`alert_state`];
//! [`STATE_FIELD`], and [`STATES_FIELD`] for the other incidents a write changed); an `org.apply`
//! entry holds the whole document it applied, whose state is [`org_state`]. [`recorded_states`] reads the
//! latest recorded state of every record from the chain and [`check_records`] compares them with
//! the records as stored now: a record that differs, that no entry wrote, or that is gone was
//! changed outside Vigil. Entries written before states were recorded carry none; a record whose
//! latest entry is one of them cannot be checked and is counted as such.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::alert::Alert;
use crate::ids::IncidentId;
use crate::incident::{ActionEntry, Incident};
use crate::role::TokenInfo;

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
    /// A record is not in the state the latest entry that wrote it recorded: it was changed
    /// outside Vigil after that entry.
    #[error(
        "{record} is not as audit entry {entry} left it: it was changed outside Vigil; compare it with the audit trail's entries for it and restore it from a backup"
    )]
    RecordAltered {
        /// The record (`incident INC-3`, `token "alice" (id)`, `alert ALR-5`,
        /// `organisation document version 2`).
        record: String,
        /// The latest entry that wrote it, whose recorded state it no longer has.
        entry: u64,
    },
    /// A record no entry wrote: Vigil audits every write, so it was added outside Vigil.
    #[error(
        "{record} has no audit entry: it was added outside Vigil; remove it (or restore the database from a backup) and find out who had write access to the data directory"
    )]
    RecordUnaudited {
        /// The record.
        record: String,
    },
    /// A record the audit trail wrote is gone: Vigil deletes no incident, token, alert or
    /// version of the organisation document, so it was deleted outside Vigil.
    #[error(
        "{record}, last written by audit entry {entry}, is gone: it was deleted outside Vigil; restore it from a backup"
    )]
    RecordMissing {
        /// The record.
        record: String,
        /// The latest entry that wrote it.
        entry: u64,
    },
}

impl ChainProblem {
    /// Whether the problem is in a record rather than in the chain (which is then intact).
    pub fn is_record(&self) -> bool {
        matches!(
            self,
            ChainProblem::RecordAltered { .. }
                | ChainProblem::RecordUnaudited { .. }
                | ChainProblem::RecordMissing { .. }
        )
    }
}

/// The first broken link of a chain, or the first record that does not match it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChainBreak {
    /// The seq at which the chain breaks; for a record problem ([`ChainProblem::is_record`]),
    /// the chain is intact and this is its last entry.
    pub seq: u64,
    /// What is wrong.
    pub problem: ChainProblem,
}

impl ChainBreak {
    /// How many entries were found intact.
    pub fn intact_entries(&self) -> u64 {
        if self.problem.is_record() {
            self.seq
        } else {
            self.seq.saturating_sub(1)
        }
    }
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.problem.is_record() {
            write!(
                f,
                "a record was changed outside Vigil: {} (the audit chain's {} entries are intact)",
                self.problem, self.seq
            )
        } else {
            write!(
                f,
                "audit chain broken at entry {}: {}; restore the audit table from a backup and investigate who changed it",
                self.seq, self.problem
            )
        }
    }
}

impl std::error::Error for ChainBreak {}

/// An audit trail found whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerified {
    /// Entries whose hash and link were checked.
    pub entries: u64,
    /// Records (tokens, versions of the organisation document, incidents, alerts people acted
    /// on) found in the state their latest entry recorded.
    pub records_checked: u64,
    /// Records whose latest entry was written before states were recorded: they could not be
    /// checked.
    pub records_unchecked: u64,
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

// ---- record states ------------------------------------------------------------------------

/// The payload field in which an entry records the state its write left its record in: the
/// entry's incident ([`incident_state`]), for a `token.*` entry the token named by the
/// payload's `id` ([`token_state`]), for an `alert.*` entry the alert its `alert` names
/// ([`alert_state`]).
pub const STATE_FIELD: &str = "state";

/// The payload field in which an entry records the states of the other incidents its write
/// changed, as an object from incident id to state: a link is part of both incidents' records,
/// so linking or unlinking changes the other incident as much as the entry's own.
pub const STATES_FIELD: &str = "states";

/// The SHA-256 (hex) of the canonical form of `v` without its empty members
/// ([`without_empty_members`]).
fn digest(v: Value) -> String {
    hex::encode(Sha256::digest(
        canonical_json(&without_empty_members(v)).as_bytes(),
    ))
}

/// `v` with every object member that is `null`, `[]` or `{}` (once its own members are gone)
/// left out. States recorded by one version are checked by later ones: a field added to a
/// record later is absent, `null` or empty in every record written before it, so leaving such
/// members out keeps the states recorded so far valid. Array elements are kept, whatever they
/// hold: their positions are part of the record.
fn without_empty_members(v: Value) -> Value {
    match v {
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .map(|(k, v)| (k, without_empty_members(v)))
                .filter(|(_, v)| !is_empty_member(v))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_empty_members).collect()),
        other => other,
    }
}

fn is_empty_member(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// The digest of an incident's state: the record as the store loads it and its action log.
///
/// SHA-256 (hex) of the canonical JSON of `["vigil-incident-state-v1", incident, actions]`, its
/// empty members left out (see [`without_empty_members`]). Each
/// link's `key` is left out: it is the *other* incident's key, read from that incident's row,
/// which that incident's own state covers; what the link itself says (the other's id, the note,
/// who and when) stays in. Nothing here depends on the time the digest is taken. The action
/// log is in because the record holds only its length, and its texts are what responders did.
pub fn incident_state(incident: &Incident, actions: &[ActionEntry]) -> String {
    let mut record = serde_json::to_value(incident).unwrap_or(Value::Null);
    if let Some(Value::Array(links)) = record.get_mut("links") {
        for link in links.iter_mut() {
            if let Value::Object(fields) = link {
                fields.remove("key");
            }
        }
    }
    let actions = serde_json::to_value(actions).unwrap_or(Value::Null);
    digest(json!(["vigil-incident-state-v1", record, actions]))
}

/// The digest of a token's state: its record and its stored hash.
///
/// SHA-256 (hex) of the canonical JSON of `["vigil-token-state-v1", token, SHA-256(token_hash)]`:
/// the hash is covered, so a token given another secret by hand is caught, and only a digest of
/// it goes into the pre-image (the secret itself is never stored).
pub fn token_state(token: &TokenInfo, token_hash: &str) -> String {
    let record = serde_json::to_value(token).unwrap_or(Value::Null);
    let hash = hex::encode(Sha256::digest(token_hash.as_bytes()));
    digest(json!(["vigil-token-state-v1", record, hash]))
}

/// The actions of an alert's log that are audited (`alert.acknowledged` …): the steps people
/// take on it. The other lines (raised, deduplicated, paged) are machine-written at ingest rate
/// and are not.
pub const AUDITED_ALERT_ACTIONS: [&str; 5] = [
    "acknowledged",
    "resolved",
    "dismissed",
    "declared",
    "merged",
];

/// The digest of an alert's audited state: what people's steps on it set and what no later
/// unaudited write changes.
///
/// SHA-256 (hex) of the canonical JSON of `["vigil-alert-state-v1", alert, log]`, its empty
/// members left out (see [`without_empty_members`]). `alert` is the record without `count`,
/// `last_seen` and its events, which grow as matches fold into an acknowledged alert, and its
/// undelivered pages, which the escalator keeps unaudited; `log` is
/// its log up to the last line an audited step wrote ([`AUDITED_ALERT_ACTIONS`]): the lines
/// after it are pages and folds written since, unaudited.
pub fn alert_state(alert: &Alert) -> String {
    let mut record = serde_json::to_value(alert).unwrap_or(Value::Null);
    if let Value::Object(fields) = &mut record {
        for field in [
            "count",
            "last_seen",
            "event_ids",
            "events",
            "log",
            "undelivered",
        ] {
            fields.remove(field);
        }
    }
    let audited = alert
        .log
        .iter()
        .rposition(|l| AUDITED_ALERT_ACTIONS.contains(&l.action.as_str()))
        .map_or(0, |last| last + 1);
    let log = serde_json::to_value(&alert.log[..audited]).unwrap_or(Value::Null);
    digest(json!(["vigil-alert-state-v1", record, log]))
}

/// The digest of one version of the organisation document: its number, who applied it and the
/// document, as an `org.apply` entry records them in full.
///
/// SHA-256 (hex) of the canonical JSON of `["vigil-org-state-v1", version, applied_by,
/// document]`. Both sides are computed by the running Vigil (the entry holds the document
/// itself), so nothing is left out: an emptied list is a change.
pub fn org_state(version: i64, applied_by: &str, document: &Value) -> String {
    let text = canonical_json(&json!([
        "vigil-org-state-v1",
        version,
        applied_by,
        document
    ]));
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A record whose writes the audit trail records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuditedRecord {
    /// A token, by id.
    Token(Uuid),
    /// A version of the organisation document, by number.
    OrgVersion(i64),
    /// An incident, by id.
    Incident(IncidentId),
    /// An alert people have acted on, by number.
    Alert(i64),
}

/// What the audit trail says of one record: the latest entry that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedState {
    /// The entry's seq.
    pub entry: u64,
    /// The state it recorded; `None` for an entry written before states were recorded.
    pub state: Option<String>,
    /// The record's name in the latest entry that gave one (an incident's `key`, a token's
    /// `name`), to name a record that is gone.
    pub name: Option<String>,
}

/// The latest recorded state of every record the entries wrote: an entry writes its incident,
/// the incidents named in its [`STATES_FIELD`]; when its action is `token.*`, the token whose id
/// is its payload's `id`; `alert.*`, the alert its payload's `alert` names; `org.apply`, the
/// version of the organisation document its payload holds (whose state is worked out from the
/// document the entry records, [`org_state`]).
pub fn recorded_states<'a, I>(entries: I) -> BTreeMap<AuditedRecord, RecordedState>
where
    I: IntoIterator<Item = &'a AuditEntry>,
{
    let mut out: BTreeMap<AuditedRecord, RecordedState> = BTreeMap::new();
    let mut record = |record: AuditedRecord, entry: u64, state: Option<&Value>, name: &Value| {
        let known = out.remove(&record).and_then(|r| r.name);
        out.insert(
            record,
            RecordedState {
                entry,
                state: state.and_then(Value::as_str).map(str::to_owned),
                name: name.as_str().map(str::to_owned).or(known),
            },
        );
    };
    for e in entries {
        let state = e.payload.get(STATE_FIELD);
        if let Some(id) = e.incident_id {
            record(AuditedRecord::Incident(id), e.seq, state, &e.payload["key"]);
        } else if e.action.starts_with("token.")
            && let Some(id) = e.payload["id"]
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
        {
            record(AuditedRecord::Token(id), e.seq, state, &e.payload["name"]);
        } else if e.action.starts_with("alert.")
            && let Some(key) = e.payload["alert"].as_str()
            && let Some(id) = key.strip_prefix("ALR-").and_then(|n| n.parse().ok())
        {
            record(AuditedRecord::Alert(id), e.seq, state, &e.payload["alert"]);
        } else if e.action == "org.apply"
            && let Some(version) = e.payload["version"].as_i64()
        {
            let state = e
                .payload
                .get("document")
                .map(|document| Value::String(org_state(version, &e.actor, document)));
            record(
                AuditedRecord::OrgVersion(version),
                e.seq,
                state.as_ref(),
                &Value::Null,
            );
        }
        if let Some(Value::Object(states)) = e.payload.get(STATES_FIELD) {
            for (id, state) in states {
                if let Ok(id) = IncidentId::parse(id) {
                    record(
                        AuditedRecord::Incident(id),
                        e.seq,
                        Some(state),
                        &Value::Null,
                    );
                }
            }
        }
    }
    out
}

/// How a record is named in a report: `incident INC-3`, `token "alice" (id)`.
pub fn record_name(record: AuditedRecord, name: Option<&str>) -> String {
    match (record, name) {
        (AuditedRecord::Incident(_), Some(key)) => format!("incident {key}"),
        (AuditedRecord::Incident(id), None) => format!("incident {id}"),
        (AuditedRecord::Token(id), Some(name)) => format!("token {name:?} ({id})"),
        (AuditedRecord::Token(id), None) => format!("token {id}"),
        (AuditedRecord::OrgVersion(version), _) => {
            format!("organisation document version {version}")
        }
        (AuditedRecord::Alert(id), _) => format!("alert ALR-{id}"),
    }
}

/// One record as stored now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Which record.
    pub record: AuditedRecord,
    /// Its name as stored (an incident's key, a token's name).
    pub name: String,
    /// Its state now; `None` when it cannot even be read back (Vigil never writes such a row).
    pub state: Option<String>,
}

/// Records compared with the audit trail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordCounts {
    /// Found in the state their latest entry recorded.
    pub checked: u64,
    /// Whose latest entry recorded no state.
    pub unchecked: u64,
}

/// Compares every stored record, in the order given, with the state the trail recorded for it
/// (`recorded`, from [`recorded_states`]), then looks for records the trail wrote that are no
/// longer stored; the counts, or the first record that does not match.
pub fn check_records<I>(
    recorded: &BTreeMap<AuditedRecord, RecordedState>,
    stored: I,
) -> Result<RecordCounts, ChainProblem>
where
    I: IntoIterator<Item = StoredRecord>,
{
    let mut counts = RecordCounts::default();
    let mut seen = BTreeSet::new();
    for s in stored {
        seen.insert(s.record);
        let name = record_name(s.record, Some(&s.name));
        let Some(r) = recorded.get(&s.record) else {
            return Err(ChainProblem::RecordUnaudited { record: name });
        };
        match (&r.state, &s.state) {
            (Some(was), Some(now)) if was == now => counts.checked += 1,
            // An unreadable row was not written by Vigil, whatever the entry recorded.
            (Some(_), _) | (None, None) => {
                return Err(ChainProblem::RecordAltered {
                    record: name,
                    entry: r.entry,
                });
            }
            (None, Some(_)) => counts.unchecked += 1,
        }
    }
    if let Some((record, r)) = recorded.iter().find(|(k, _)| !seen.contains(*k)) {
        return Err(ChainProblem::RecordMissing {
            record: record_name(*record, r.name.as_deref()),
            entry: r.entry,
        });
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    mod states {
        use super::*;
        use crate::evidence::{CustodyEntry, Evidence, Sha256 as Content};
        use crate::incident::{ActionKind, IncidentLink, NewIncident, NewIndicator};
        use crate::{IncidentKey, Role, Severity};
        use chrono::TimeZone;

        fn at(minute: u32) -> DateTime<Utc> {
            Utc.with_ymd_and_hms(2026, 3, 1, 10, minute, 0).unwrap()
        }

        fn incident() -> Incident {
            let mut n = NewIncident::new("Phish", "creds phished", Severity::Sev3);
            n.indicators = vec![NewIndicator {
                kind: "ip".into(),
                value: "10.0.0.1".into(),
                note: None,
            }];
            let mut i = Incident::open(
                IncidentId::new(),
                IncidentKey::new(3).unwrap(),
                n,
                "ann",
                at(0),
            )
            .unwrap();
            i.evidence.push(Evidence {
                id: Uuid::now_v7(),
                incident_id: i.id,
                file_name: "mail.eml".into(),
                sha256: Content::of(b"mail"),
                size: 4,
                collected_by: "ann".into(),
                collected_at: at(1),
                description: None,
                custody: vec![CustodyEntry::new("ann", at(1), "collected", "uploaded").unwrap()],
            });
            i.links.push(IncidentLink {
                incident_id: IncidentId::new(),
                key: IncidentKey::new(7).unwrap(),
                note: Some("same sender".into()),
                linked_by: "ann".into(),
                linked_at: at(2),
            });
            i
        }

        fn action(i: &Incident, text: &str) -> ActionEntry {
            ActionEntry {
                id: Uuid::now_v7(),
                incident_id: i.id,
                actor: "ann".into(),
                at: at(3),
                kind: ActionKind::Containment,
                text: text.into(),
            }
        }

        #[test]
        fn an_incident_state_is_a_digest_of_what_is_stored_and_nothing_else() {
            let i = incident();
            let actions = vec![action(&i, "disabled the account")];
            let state = incident_state(&i, &actions);
            assert_eq!(state.len(), 64);
            assert!(state.chars().all(|c| c.is_ascii_hexdigit()));
            // The same record read back (as `load` gives it) has the same state, whenever
            // it is taken.
            let back: Incident = serde_json::from_value(serde_json::to_value(&i).unwrap()).unwrap();
            assert_eq!(incident_state(&back, &actions), state);

            type Edit<'a> = &'a dyn Fn(&mut Incident, &mut Vec<ActionEntry>);
            let changed = |edit: Edit<'_>| {
                let (mut i, mut a) = (i.clone(), actions.clone());
                edit(&mut i, &mut a);
                incident_state(&i, &a)
            };
            let edits: [(&str, Edit<'_>); 8] = [
                ("severity", &|i, _| i.severity = Severity::Sev4),
                ("title", &|i, _| i.title.push('!')),
                ("indicator deleted", &|i, _| {
                    i.indicators.clear();
                }),
                ("evidence hash", &|i, _| {
                    i.evidence[0].sha256 = Content::of(b"other");
                }),
                ("custody", &|i, _| i.evidence[0].custody.clear()),
                ("link note", &|i, _| i.links[0].note = None),
                ("action text", &|_, a| a[0].text = "nothing".into()),
                ("action deleted", &|_, a| a.clear()),
            ];
            for (what, edit) in edits {
                assert_ne!(changed(edit), state, "{what} is not covered");
            }
        }

        /// Recorded states are compared with states computed by later versions of Vigil: a
        /// change to what an incident or a token serialises to (a new field, a renamed one)
        /// changes every state, and `vigil audit verify` would call every record altered.
        #[test]
        fn the_digests_of_a_fixed_record_do_not_change() {
            let fixed = |n: u128| Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n);
            let mut i = incident();
            i.id = IncidentId::from_uuid(fixed(1));
            i.indicators[0].id = fixed(2);
            i.evidence[0].id = fixed(3);
            i.evidence[0].incident_id = i.id;
            i.links[0].incident_id = IncidentId::from_uuid(fixed(4));
            let mut a = action(&i, "disabled the account");
            a.id = fixed(5);
            let mut t = token();
            t.id = fixed(6);
            let why = "the serialised form changed: every state recorded so far no longer \
                       matches; record the new states in a migration (an audit entry per record) \
                       or keep the form";
            assert_eq!(
                incident_state(&i, &[a]),
                "f4554f4dc6932161848af16b31a16c6f6f61493e4e9e03045a271d8dfa3a2247",
                "{why}"
            );
            assert_eq!(
                token_state(&t, "f00d"),
                "4a7304b73e3bac7a5844d2721b93dc338b5d04e8fe4f88cb9a0c1160e2e017fa",
                "{why}"
            );
        }

        /// A version that adds a field to a record finds it absent, `null` or empty in the
        /// records written before it: their recorded states must still match.
        #[test]
        fn a_member_added_empty_leaves_the_state_as_it_was() {
            let before = json!({"title": "t", "tags": ["a", null], "scope": {"services": ["x"]}});
            let after = json!({
                "title": "t", "tags": ["a", null], "scope": {"services": ["x"], "regions": []},
                "added": null, "nested": {"empty": {}}, "list": []
            });
            assert_eq!(digest(before.clone()), digest(after));
            let changed = json!({"title": "t", "tags": ["a"], "scope": {"services": ["x"]}});
            assert_ne!(
                digest(before),
                digest(changed),
                "array elements keep their places"
            );
        }

        #[test]
        fn a_link_s_key_belongs_to_the_other_incident() {
            let i = incident();
            let mut other_renumbered = i.clone();
            other_renumbered.links[0].key = IncidentKey::new(8).unwrap();
            assert_eq!(
                incident_state(&other_renumbered, &[]),
                incident_state(&i, &[])
            );
            let mut other_replaced = i.clone();
            other_replaced.links[0].incident_id = IncidentId::new();
            assert_ne!(
                incident_state(&other_replaced, &[]),
                incident_state(&i, &[])
            );
        }

        fn token() -> TokenInfo {
            TokenInfo {
                id: Uuid::now_v7(),
                name: "alice".into(),
                role: Role::Viewer,
                created_by: "root".into(),
                created_at: at(0),
                revoked_at: Some(at(5)),
                service: None,
                tenant: None,
            }
        }

        #[test]
        fn a_token_state_covers_its_record_and_its_hash() {
            let t = token();
            let hash = Content::of(b"vgl_secret").to_string();
            let state = token_state(&t, &hash);
            assert_eq!(state, token_state(&t.clone(), &hash));
            assert!(!state.contains(&hash));
            let mut admin = t.clone();
            admin.role = Role::Admin;
            let mut unrevoked = t.clone();
            unrevoked.revoked_at = None;
            let mut scoped = t.clone();
            scoped.tenant = Some("contoso".into());
            for other in [admin, unrevoked, scoped] {
                assert_ne!(token_state(&other, &hash), state, "{other:?}");
            }
            let another_secret = Content::of(b"vgl_mallory").to_string();
            assert_ne!(token_state(&t, &another_secret), state);
        }

        fn entries(payloads: Vec<(&str, Option<IncidentId>, Value)>) -> Vec<AuditEntry> {
            let mut out: Vec<AuditEntry> = Vec::new();
            for (action, incident_id, payload) in payloads {
                let (seq, prev) = out
                    .last()
                    .map(|e| (e.seq, e.hash.clone()))
                    .unwrap_or((0, GENESIS_HASH.to_owned()));
                out.push(
                    NewAuditEntry {
                        at: at(0),
                        actor: "ann".into(),
                        action: action.into(),
                        incident_id,
                        payload,
                    }
                    .chain(seq, &prev),
                );
            }
            out
        }

        #[test]
        fn the_latest_entry_writing_a_record_says_its_state() {
            let (a, b, t) = (IncidentId::new(), IncidentId::new(), Uuid::now_v7());
            let trail = entries(vec![
                ("incident.create", Some(a), json!({"key": "INC-1"})),
                (
                    "incident.create",
                    Some(b),
                    json!({"key": "INC-2", "state": "b1"}),
                ),
                (
                    "token.create",
                    None,
                    json!({"id": t, "name": "alice", "state": "t1"}),
                ),
                (
                    "incident.link",
                    Some(a),
                    json!({"key": "INC-1", "state": "a2", "states": {b.to_string(): "b2"}}),
                ),
                ("token.revoke", None, json!({"id": t, "name": "alice"})),
                (
                    "alert.acknowledged",
                    None,
                    json!({"alert": "ALR-1", "state": "x1"}),
                ),
                // From before alerts' states were recorded: unchecked.
                ("alert.declared", None, json!({"alert": "ALR-2"})),
                (
                    "org.apply",
                    None,
                    json!({"version": 3, "document": {"people": []}}),
                ),
            ]);
            let states = recorded_states(&trail);
            let state = |entry: u64, state: Option<&str>, name: &str| RecordedState {
                entry,
                state: state.map(str::to_owned),
                name: Some(name.to_owned()),
            };
            let org = org_state(3, "ann", &json!({"people": []}));
            assert_eq!(
                states,
                BTreeMap::from([
                    (AuditedRecord::Incident(a), state(4, Some("a2"), "INC-1")),
                    (AuditedRecord::Incident(b), state(4, Some("b2"), "INC-2")),
                    // A revocation from before states were recorded: the token is unchecked.
                    (AuditedRecord::Token(t), state(5, None, "alice")),
                    (AuditedRecord::Alert(1), state(6, Some("x1"), "ALR-1")),
                    (AuditedRecord::Alert(2), state(7, None, "ALR-2")),
                    (
                        AuditedRecord::OrgVersion(3),
                        RecordedState {
                            entry: 8,
                            state: Some(org),
                            name: None
                        }
                    ),
                ])
            );
        }

        fn alert() -> crate::Alert {
            use crate::{AlertLogEntry, AlertSource, AlertStatus, NewAlert};
            let line = |minute, action: &str| AlertLogEntry {
                at: at(minute),
                actor: "ann".into(),
                action: action.into(),
                text: action.into(),
            };
            crate::Alert {
                id: 5,
                key: "ALR-5".into(),
                status: AlertStatus::Acknowledged,
                count: 2,
                first_seen: at(0),
                last_seen: at(1),
                dismissal: None,
                incident: None,
                alert: NewAlert {
                    title: "Brute force on vpn".into(),
                    source: AlertSource::Detection,
                    severity: Severity::Sev2,
                    service: "vpn".into(),
                    tenant: None,
                    dedup_key: "rule:vpn".into(),
                    rule_id: Some("r1".into()),
                    summary: None,
                    origin: None,
                    reporter: None,
                    event_ids: vec![1, 2],
                    events: Vec::new(),
                    times: 1,
                },
                log: vec![
                    line(0, "created"),
                    line(1, "page"),
                    line(2, "acknowledged"),
                    line(3, "deduplicated"),
                ],
                undelivered: Vec::new(),
            }
        }

        /// What people's steps set is covered; what folds and pages change after them is not,
        /// as they are not audited.
        #[test]
        fn an_alert_state_covers_what_people_set_and_the_log_up_to_their_last_step() {
            let a = alert();
            let state = alert_state(&a);
            type Edit<'a> = &'a dyn Fn(&mut crate::Alert);
            let changed = |edit: Edit<'_>| {
                let mut a = a.clone();
                edit(&mut a);
                alert_state(&a)
            };
            let covered: [(&str, Edit<'_>); 7] = [
                ("status", &|a| a.status = crate::AlertStatus::Triggered),
                ("tenant", &|a| a.alert.tenant = Some("globex".into())),
                ("severity", &|a| a.alert.severity = Severity::Sev4),
                ("title", &|a| a.alert.title = "nothing".into()),
                ("incident", &|a| a.incident = Some("INC-9".into())),
                ("log emptied", &|a| a.log.clear()),
                ("page line deleted", &|a| {
                    a.log.remove(1);
                }),
            ];
            for (what, edit) in covered {
                assert_ne!(changed(edit), state, "{what} is not covered");
            }
            let unaudited: [(&str, Edit<'_>); 5] = [
                ("count", &|a| a.count += 1),
                ("a page failing", &|a| {
                    a.undelivered.push(crate::UndeliveredPage {
                        person: "bob".into(),
                        step: "level 1 of 1 (round 1)".into(),
                        reason: "on call in schedule primary".into(),
                        tries: 1,
                        since: at(4),
                        next_try: at(5),
                        error: "503".into(),
                    })
                }),
                ("last seen", &|a| a.last_seen = at(9)),
                ("events", &|a| a.alert.event_ids.push(3)),
                ("a line after the last step", &|a| {
                    a.log.pop();
                }),
            ];
            for (what, edit) in unaudited {
                assert_eq!(changed(edit), state, "{what} is covered");
            }
        }

        /// See [`the_digests_of_a_fixed_record_do_not_change`]: an alert's recorded state is
        /// compared with one computed by a later Vigil.
        #[test]
        fn the_digest_of_a_fixed_alert_does_not_change() {
            assert_eq!(
                alert_state(&alert()),
                "dd10d133fd8e390d2a08b348827454d127ad2e4e09ca4c7034e423a792f4165a",
                "the serialised form changed: every alert state recorded so far no longer \
                 matches; record the new states in a migration or keep the form"
            );
        }

        #[test]
        fn an_org_version_s_state_covers_its_number_author_and_document() {
            let doc = json!({"people": [{"name": "ann", "contacts": []}]});
            let state = org_state(2, "ann", &doc);
            assert_ne!(org_state(3, "ann", &doc), state);
            assert_ne!(org_state(2, "mallory", &doc), state);
            assert_ne!(
                org_state(2, "ann", &json!({"people": [{"name": "ann"}]})),
                state,
                "an emptied list is a change"
            );
        }

        #[test]
        fn records_are_compared_with_their_latest_state() {
            let (a, b, t) = (IncidentId::new(), IncidentId::new(), Uuid::now_v7());
            let recorded = BTreeMap::from([
                (
                    AuditedRecord::Incident(a),
                    RecordedState {
                        entry: 4,
                        state: Some("a".into()),
                        name: Some("INC-1".into()),
                    },
                ),
                (
                    AuditedRecord::Token(t),
                    RecordedState {
                        entry: 2,
                        state: None,
                        name: Some("alice".into()),
                    },
                ),
            ]);
            let stored = |record, name: &str, state: Option<&str>| StoredRecord {
                record,
                name: name.into(),
                state: state.map(str::to_owned),
            };
            let a_now = |state| stored(AuditedRecord::Incident(a), "INC-1", state);
            let t_now = stored(AuditedRecord::Token(t), "alice", Some("whatever"));
            assert_eq!(
                check_records(&recorded, [t_now.clone(), a_now(Some("a"))]),
                Ok(RecordCounts {
                    checked: 1,
                    unchecked: 1
                })
            );
            assert_eq!(
                check_records(&recorded, [t_now.clone(), a_now(Some("edited"))]),
                Err(ChainProblem::RecordAltered {
                    record: "incident INC-1".into(),
                    entry: 4
                })
            );
            assert_eq!(
                check_records(&recorded, [t_now.clone(), a_now(None)]),
                Err(ChainProblem::RecordAltered {
                    record: "incident INC-1".into(),
                    entry: 4
                }),
                "an unreadable record is altered"
            );
            let forged = stored(AuditedRecord::Incident(b), "INC-2", Some("b"));
            assert_eq!(
                check_records(&recorded, [t_now.clone(), a_now(Some("a")), forged]),
                Err(ChainProblem::RecordUnaudited {
                    record: "incident INC-2".into()
                })
            );
            assert_eq!(
                check_records(&recorded, [a_now(Some("a"))]),
                Err(ChainProblem::RecordMissing {
                    record: format!("token \"alice\" ({t})"),
                    entry: 2
                })
            );
        }

        #[test]
        fn a_record_problem_leaves_the_chain_intact() {
            let b = ChainBreak {
                seq: 9,
                problem: ChainProblem::RecordUnaudited {
                    record: "token \"mallory\"".into(),
                },
            };
            assert_eq!(b.intact_entries(), 9);
            let text = b.to_string();
            assert!(text.contains("outside Vigil") && text.contains("9 entries are intact"));
            let c = ChainBreak {
                seq: 3,
                problem: ChainProblem::HashMismatch,
            };
            assert_eq!(c.intact_entries(), 2);
            assert!(c.to_string().starts_with("audit chain broken at entry 3"));
        }
    }
}
