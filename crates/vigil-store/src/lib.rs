//! vigil-store: the [`Store`] trait and its backends — the only crate with SQL.
//!
//! The server holds one `Arc<dyn Store>`. For that the trait must be object-safe, so its async
//! methods return [`BoxFuture`]s (one allocation per call, negligible next to a database round
//! trip) instead of being `async fn`s, which are not dyn-compatible; a generic `S: Store` would
//! make every handler, the router and the state generic for no gain, and a second backend
//! (PostgreSQL) is chosen at run time from configuration.
//!
//! Promises every backend keeps (the conformance suite in `tests/it` checks them):
//! - every write is one transaction that also appends its hash-chained audit entry
//!   ([`vigil_core::audit`]); a failed write leaves neither domain rows nor an audit entry;
//! - an entry that writes an incident or a token records the state the write left it in (and
//!   the other incident's, for a link), so that [`Store::verify_audit`] finds a record changed,
//!   added or deleted outside the store;
//! - domain rules are checked by `vigil-core` inside the transaction, and their errors come back
//!   unchanged as [`StoreError::Domain`] (a refused phase change lists every refusing guard);
//! - evidence is content-addressed under `DIR/evidence/<sha256>`, never modified in place, and
//!   re-verified against its SHA-256 when opened for download;
//! - API tokens are stored as their SHA-256 only; the plaintext is returned once at creation.
//!
//! **Architecture invariant:** no HTTP here, no domain rules either (they live in vigil-core);
//! the store loads, asks the domain, and persists.

mod error;
pub mod sqlite;

mod types;

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use tokio::io::AsyncRead;
use uuid::Uuid;
use vigil_core::{
    ActionEntry, ActionKind, AuditEntry, AuditVerified, ChainBreak, Evidence, EvidenceCheck,
    Finding, FindingKey, FindingUpdate, Incident, IncidentLink, IncidentPatch, Indicator,
    NewFinding, NewIncident, NewIndicator, NewPostMortem, Phase, Role, Severity, TimestampKind,
};

pub use error::StoreError;
pub use sqlite::SqliteStore;

pub use types::{
    AlertFilter, AlertPolicy, AlertsInto, AuditFilter, DetectionFilter, EscalationTimer,
    EvidenceDownload, FindingFilter, IncidentFilter, IncidentRef, IndicatorSearch, IngestKey,
    KeyedAnswer, NewEvidence, OrgVersion, PageRetry, Principal, Raised, RaisedId, RuleAlertStats,
    SuggestionPage, TakeAlerts,
};
pub use vigil_core::{CreatedToken, IndicatorHit, Page, Related, TokenInfo};

/// A boxed, sendable future: what every [`Store`] method returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Shorthand for a store result.
pub type StoreResult<T> = Result<T, StoreError>;

/// The storage operations the server and CLI use. Every method that takes an `actor` is a
/// write: one transaction with its audit entry. Incidents are named by [`IncidentRef`] (key or
/// id).
pub trait Store: Send + Sync + 'static {
    // ---- incidents -------------------------------------------------------------------

    /// Opens an incident; its key `INC-n` is assigned inside the transaction.
    fn create_incident<'a>(
        &'a self,
        actor: &'a str,
        new: NewIncident,
    ) -> BoxFuture<'a, StoreResult<Incident>>;

    /// The full record: indicators (with removed ones), links, services, tenants, severity and
    /// phase history, timestamps with corrections, evidence, next steps, action count.
    fn get_incident<'a>(&'a self, r: &'a IncidentRef) -> BoxFuture<'a, StoreResult<Incident>>;

    /// Incidents matching every filter given, newest first, one page and the total.
    fn list_incidents<'a>(
        &'a self,
        filter: &'a IncidentFilter,
    ) -> BoxFuture<'a, StoreResult<Page<Incident>>>;

    /// Changes plain fields (see [`IncidentPatch`]).
    fn update_incident<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        patch: IncidentPatch,
    ) -> BoxFuture<'a, StoreResult<Incident>>;

    /// Adds services and tenants to the incident's scope, keeping those it has: read and
    /// written in one transaction, so a change made meanwhile is not overwritten. Returns the
    /// incident and whether anything was added (nothing is written when nothing is new).
    fn extend_scope<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        services: Vec<String>,
        tenants: Vec<String>,
    ) -> BoxFuture<'a, StoreResult<(Incident, bool)>>;

    /// Adjusts the severity with a reason; the change is recorded and the priority recomputed.
    fn change_severity<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        to: Severity,
        reason: &'a str,
    ) -> BoxFuture<'a, StoreResult<Incident>>;

    /// Moves the incident to `to` through the domain guards; a refusal is
    /// `StoreError::Domain(DomainError::TransitionRefused(..))` and changes nothing.
    /// `root_cause`, when given, is recorded in the same transaction before the guards are
    /// asked (so "record the root cause and move to recovery" is one all-or-nothing write).
    fn change_phase<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        to: Phase,
        reason: Option<&'a str>,
        root_cause: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<Incident>>;

    /// Corrects a lifecycle timestamp with a reason (`None` clears it); the correction is kept.
    fn correct_timestamp<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        kind: TimestampKind,
        to: Option<DateTime<Utc>>,
        reason: &'a str,
    ) -> BoxFuture<'a, StoreResult<Incident>>;

    /// Records (or replaces, keeping the replaced one in `post_mortem_history`) the
    /// post-mortem; only in phase post_incident. SEV1/SEV2 and data-breach incidents cannot be
    /// closed without one naming a contributing factor. Logged as a `change` entry.
    fn record_post_mortem<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        post_mortem: &'a NewPostMortem,
    ) -> BoxFuture<'a, StoreResult<Incident>>;

    /// Raises a finding on an incident, in any phase, keyed `FND-n` with the next n; the team
    /// must already be checked against the organisation document (`finding::check_team`).
    /// Written, logged and audited as a change of the incident.
    fn raise_finding<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        new: &'a NewFinding,
    ) -> BoxFuture<'a, StoreResult<Finding>>;

    /// Changes a finding (its state with a note, or its fields); a team in it must already be
    /// checked. Written, logged and audited as a change of its incident.
    fn update_finding<'a>(
        &'a self,
        actor: &'a str,
        key: FindingKey,
        update: &'a FindingUpdate,
    ) -> BoxFuture<'a, StoreResult<Finding>>;

    /// One finding.
    fn get_finding(&self, key: FindingKey) -> BoxFuture<'_, StoreResult<Finding>>;

    /// Findings across incidents, oldest key first, with the total matching.
    fn list_findings<'a>(
        &'a self,
        filter: &'a FindingFilter,
    ) -> BoxFuture<'a, StoreResult<Page<Finding>>>;

    /// Adds indicators (validated, normalised, de-duplicated against the active ones); returns
    /// for each the indicator on the incident and whether it was newly added.
    fn add_indicators<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        indicators: Vec<NewIndicator>,
    ) -> BoxFuture<'a, StoreResult<Vec<(Indicator, bool)>>>;

    /// Marks an indicator removed with a reason; the row stays for history.
    fn remove_indicator<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        indicator_id: Uuid,
        reason: &'a str,
    ) -> BoxFuture<'a, StoreResult<Indicator>>;

    /// A page of the active indicators, on any incident, matching the search's value read as
    /// any kind it is valid for (normalised first), newest incident first, with how many match.
    fn search_indicator<'a>(
        &'a self,
        search: &'a IndicatorSearch,
    ) -> BoxFuture<'a, StoreResult<Page<IndicatorHit>>>;

    // ---- related incidents -------------------------------------------------------------

    /// Links two different incidents with an optional note (symmetric; linking twice is a
    /// [`StoreError::Conflict`]).
    fn link_incidents<'a>(
        &'a self,
        actor: &'a str,
        a: &'a IncidentRef,
        b: &'a IncidentRef,
        note: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<IncidentLink>>;

    /// Removes a link; both action logs keep who made it, when and why, and who removed it.
    fn unlink_incidents<'a>(
        &'a self,
        actor: &'a str,
        a: &'a IncidentRef,
        b: &'a IncidentRef,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// Explicit links, all of them, and a page of suggestions: other incidents sharing an
    /// active indicator, not linked, those sharing the most first (then the newest), with how
    /// many there are.
    fn related<'a>(
        &'a self,
        r: &'a IncidentRef,
        page: SuggestionPage,
    ) -> BoxFuture<'a, StoreResult<Related>>;

    // ---- action log (append-only: there is no update or delete) -----------------------

    /// Appends an action-log entry.
    fn append_action<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        kind: ActionKind,
        text: &'a str,
    ) -> BoxFuture<'a, StoreResult<ActionEntry>>;

    /// The action log, oldest first, one page and the total.
    fn list_actions<'a>(
        &'a self,
        r: &'a IncidentRef,
        limit: u32,
        offset: u32,
    ) -> BoxFuture<'a, StoreResult<Page<ActionEntry>>>;

    // ---- evidence ------------------------------------------------------------------------

    /// Streams `content` into the evidence store (hashing while writing), then records it with
    /// a first custody entry "collected".
    fn add_evidence<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        meta: NewEvidence,
        content: &'a mut (dyn AsyncRead + Send + Unpin),
    ) -> BoxFuture<'a, StoreResult<Evidence>>;

    /// Evidence metadata with its chain of custody.
    fn get_evidence<'a>(
        &'a self,
        r: &'a IncidentRef,
        evidence_id: Uuid,
    ) -> BoxFuture<'a, StoreResult<Evidence>>;

    /// Appends a chain-of-custody entry.
    fn add_custody<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        evidence_id: Uuid,
        action: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, StoreResult<Evidence>>;

    /// Re-verifies the file's SHA-256 and opens it for `actor` to read; a mismatch is
    /// [`StoreError::EvidenceCorrupted`]. The download is recorded first, a custody entry
    /// "downloaded" and its audit entry in one transaction: who handled the evidence is part
    /// of its chain of custody, so a download that cannot be recorded is refused.
    fn open_evidence<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        evidence_id: Uuid,
    ) -> BoxFuture<'a, StoreResult<EvidenceDownload>>;

    // ---- API tokens ----------------------------------------------------------------------

    /// Creates a token; only its SHA-256 is stored, the plaintext is in the result once.
    fn create_token<'a>(
        &'a self,
        actor: &'a str,
        name: &'a str,
        role: Role,
    ) -> BoxFuture<'a, StoreResult<CreatedToken>>;

    /// Creates an ingest token (it can only send events), bound to `service` and `tenant`
    /// when given, so its sender cannot write as another service or tenant.
    fn create_ingest_token<'a>(
        &'a self,
        actor: &'a str,
        name: &'a str,
        service: Option<&'a str>,
        tenant: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<CreatedToken>>;

    /// The principal of a presented token, or `None` when unknown or revoked.
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, StoreResult<Option<Principal>>>;

    /// Every token (never their secrets), oldest first.
    fn list_tokens(&self) -> BoxFuture<'_, StoreResult<Vec<TokenInfo>>>;

    /// Revokes a token; it no longer authenticates.
    fn revoke_token<'a>(
        &'a self,
        actor: &'a str,
        id: Uuid,
    ) -> BoxFuture<'a, StoreResult<TokenInfo>>;

    // ---- idempotent ingest ---------------------------------------------------------------

    /// What a batch sent by `token` under idempotency `key` was answered, and the
    /// fingerprint of what was sent; `None` when the key is new (or was forgotten).
    fn ingest_key<'a>(
        &'a self,
        token: Uuid,
        key: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<IngestKey>>>;

    // ---- detections ----------------------------------------------------------------------

    /// Records an ingested batch's detections (rule matches of stored events; not audited:
    /// they are machine-written at ingest rate) and raises the alerts made from them, each as
    /// [`Store::raise_alert`] does, and records the answer to the batch when it was sent under
    /// an idempotency key (replacing an earlier answer of the same batch under that key; a key
    /// that answers for another batch keeps its answer), all in one
    /// transaction: one commit per batch. The outcomes are in the order given; an alert that
    /// does not validate fails the call and records nothing.
    fn record_matches<'a>(
        &'a self,
        actor: &'a str,
        detections: Vec<vigil_core::NewDetection>,
        alerts: Vec<(vigil_core::NewAlert, AlertPolicy)>,
        answer: Option<KeyedAnswer>,
    ) -> BoxFuture<'a, StoreResult<(Vec<vigil_core::Detection>, Vec<RaisedId>)>>;

    /// The (log-store event id, rule id) of every detection recorded for the events in `ids`,
    /// by event id: what a start after a crash must not record twice.
    fn detections_of<'a>(
        &'a self,
        ids: std::ops::Range<u64>,
    ) -> BoxFuture<'a, StoreResult<Vec<(u64, String)>>>;

    /// One detection, by its id.
    fn get_detection(&self, id: i64) -> BoxFuture<'_, StoreResult<vigil_core::Detection>>;

    /// The detections of an alert's events (their service, host and tenant, which the alert
    /// row does not keep), in event order; none for an alert no detection raised.
    fn alert_detections(
        &self,
        alert_id: i64,
    ) -> BoxFuture<'_, StoreResult<Vec<vigil_core::Detection>>>;

    /// Detections matching every filter given, newest first, one page and the total.
    fn list_detections<'a>(
        &'a self,
        filter: &'a DetectionFilter,
    ) -> BoxFuture<'a, StoreResult<Page<vigil_core::Detection>>>;

    // ---- alerts --------------------------------------------------------------------------

    /// Raises an alert in one transaction: folds it into the open alert of the same service,
    /// tenant (or none) and dedup key seen within the policy's window, or creates it unless the rule's hourly limit is
    /// reached (then it is counted as suppressed). Every outcome is written to the alert's log.
    fn raise_alert<'a>(
        &'a self,
        actor: &'a str,
        alert: vigil_core::NewAlert,
        policy: AlertPolicy,
    ) -> BoxFuture<'a, StoreResult<Raised>>;

    /// Alerts matching every filter, newest first, one page and the total.
    fn list_alerts<'a>(
        &'a self,
        filter: &'a AlertFilter,
    ) -> BoxFuture<'a, StoreResult<Page<vigil_core::Alert>>>;

    /// One alert with its log (`ALR-12` or `12`).
    fn get_alert(&self, id: i64) -> BoxFuture<'_, StoreResult<vigil_core::Alert>>;

    /// Acknowledges, resolves or dismisses an alert through the domain's rules, logged.
    fn act_on_alert<'a>(
        &'a self,
        actor: &'a str,
        id: i64,
        action: vigil_core::AlertAction,
    ) -> BoxFuture<'a, StoreResult<vigil_core::Alert>>;

    /// Takes open alerts into an incident in one transaction: declares a new incident from
    /// them or merges them into one (its indicators and action-log entry), records the
    /// evidence given, and resolves the alerts with the incident's key, logged and audited.
    /// Refuses, changing nothing, if any alert is closed meanwhile (another responder took it).
    fn take_alerts<'a>(
        &'a self,
        actor: &'a str,
        take: TakeAlerts,
    ) -> BoxFuture<'a, StoreResult<Incident>>;

    /// Escalation clocks due at `now` (oldest first, at most `limit`).
    fn due_escalations(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> BoxFuture<'_, StoreResult<Vec<EscalationTimer>>>;

    /// Moves an alert's escalation clock on: the next level, round and start, due at `next_at`,
    /// or stops it (`None`). Ignored if the clock was stopped meanwhile (an acknowledgement).
    fn advance_escalation(
        &self,
        alert_id: i64,
        next: Option<(u32, u32, DateTime<Utc>, DateTime<Utc>)>,
    ) -> BoxFuture<'_, StoreResult<()>>;

    /// Records a page delivered at an escalation step (`page`: the step, named by the clock's
    /// state, the person, and the contact: the person and method) together with its entry in the alert's log, in one transaction,
    /// so that the step run again after a crash does not send it twice. The person is reached:
    /// their pages of the alert waiting to be tried again ([`Store::defer_page`]) are dropped in
    /// the same transaction.
    fn record_page<'a>(
        &'a self,
        alert_id: i64,
        actor: &'a str,
        page: (&'a str, &'a str, &'a str),
        text: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// Keeps a page that reached the person on none of their contacts, to be tried again at
    /// `retry.next_at` (replacing the one kept for the same alert, step and person), with its
    /// entry in the alert's log when `text` is given, in one transaction: a crash loses neither.
    /// A step keeps each page it is about to deliver so (`tries` 0), so that a crash during the
    /// delivery loses none. Ignored once the alert is no longer triggered.
    fn defer_page<'a>(
        &'a self,
        retry: &'a PageRetry,
        actor: &'a str,
        text: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// Pages waiting to be tried again that are due at `now` (oldest first, at most `limit`).
    fn due_page_retries(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> BoxFuture<'_, StoreResult<Vec<PageRetry>>>;

    /// Drops an alert's pages waiting to be tried again: all of them, or one person's, with an
    /// entry in the alert's log saying why when `text` is given.
    fn drop_page_retries<'a>(
        &'a self,
        alert_id: i64,
        person: Option<&'a str>,
        actor: &'a str,
        text: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// How many pages are waiting to be tried again, and when the oldest of them first failed
    /// (pages not tried yet, `tries` 0, are not counted).
    fn page_retry_backlog(&self) -> BoxFuture<'_, StoreResult<(u64, Option<DateTime<Utc>>)>>;

    /// The contacts already delivered to at an escalation step ([`Store::record_page`]).
    fn delivered_pages<'a>(
        &'a self,
        alert_id: i64,
        step: &'a str,
    ) -> BoxFuture<'a, StoreResult<Vec<String>>>;

    /// Appends an entry to an alert's log (pages, deliveries, escalation steps).
    fn log_alert<'a>(
        &'a self,
        alert_id: i64,
        actor: &'a str,
        action: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// Per-rule alert, suppression and dismissal counts, for tuning noisy rules.
    fn alert_stats_by_rule(&self) -> BoxFuture<'_, StoreResult<Vec<RuleAlertStats>>>;

    // ---- review ------------------------------------------------------------------------

    /// What the monthly review of `[from, to)` is computed from, read in one transaction: the
    /// incidents open at some time in it (detected before `to`, not closed before `from`),
    /// whole; the alerts first raised in it with when each was first acted on; and the
    /// findings open at some time in it. With `tenant`, only the incidents with it in scope,
    /// their findings, and the alerts of it.
    fn review_facts<'a>(
        &'a self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        tenant: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<vigil_core::review::ReviewFacts>>;

    // ---- organisation ------------------------------------------------------------------

    /// Applies an organisation document (already validated by `vigil-oncall`): when it differs
    /// from the version in force it becomes the new version, audited; when it is the same,
    /// nothing is written. Returns the version in force and whether it changed.
    fn apply_org<'a>(
        &'a self,
        actor: &'a str,
        document: serde_json::Value,
    ) -> BoxFuture<'a, StoreResult<(OrgVersion, bool)>>;

    /// The organisation version in force, if one was ever applied.
    fn current_org(&self) -> BoxFuture<'_, StoreResult<Option<OrgVersion>>>;

    // ---- audit trail ---------------------------------------------------------------------

    /// Audit entries in sequence order, one page and the total.
    fn list_audit<'a>(
        &'a self,
        filter: &'a AuditFilter,
    ) -> BoxFuture<'a, StoreResult<Page<AuditEntry>>>;

    /// Walks the whole chain, then compares every token, organisation document version,
    /// incident and alert people acted on with the state the latest entry that wrote it recorded: `Ok(Ok(counts))` when both hold, `Ok(Err(first
    /// break))` otherwise (a broken link, or a record changed, added or deleted outside Vigil).
    fn verify_audit(&self) -> BoxFuture<'_, StoreResult<Result<AuditVerified, ChainBreak>>>;

    /// Records in the audit trail that `actor` takes a backup (`backup.take`, with `details`),
    /// then writes a consistent copy of the whole database, that entry included, to the new
    /// file `into` (owner-only), while writers go on: one read transaction's view, as of a
    /// moment after the entry was committed.
    fn backup_database<'a>(
        &'a self,
        actor: &'a str,
        details: serde_json::Value,
        into: &'a std::path::Path,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// Re-hashes every stored evidence file against the SHA-256 recorded for it (which the
    /// audit chain vouches for) and names each evidence item whose file is missing or altered.
    /// `progress` is told the bytes hashed so far and the recorded size of them all.
    fn verify_evidence<'a>(
        &'a self,
        progress: &'a (dyn Fn(u64, u64) + Send + Sync),
    ) -> BoxFuture<'a, StoreResult<EvidenceCheck>>;
}
