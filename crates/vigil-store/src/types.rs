//! Values the [`crate::Store`] operations take and return, beyond the domain types.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_core::{
    Category, DomainError, Evidence, FindingKind, FindingState, IncidentId, IncidentKey,
    IndicatorKind, Phase, Priority, Role, Severity,
};

/// An incident named by its key (`INC-42`) or its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentRef {
    /// By key.
    Key(IncidentKey),
    /// By id.
    Id(IncidentId),
}

impl fmt::Display for IncidentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IncidentRef::Key(k) => write!(f, "incident {k}"),
            IncidentRef::Id(id) => write!(f, "incident {id}"),
        }
    }
}

impl FromStr for IncidentRef {
    type Err = DomainError;
    /// `INC-42` (any case) or a UUID.
    fn from_str(s: &str) -> Result<Self, DomainError> {
        if let Ok(id) = IncidentId::parse(s) {
            return Ok(IncidentRef::Id(id));
        }
        IncidentKey::parse(s).map(IncidentRef::Key)
    }
}

impl From<IncidentKey> for IncidentRef {
    fn from(k: IncidentKey) -> Self {
        IncidentRef::Key(k)
    }
}

impl From<IncidentId> for IncidentRef {
    fn from(id: IncidentId) -> Self {
        IncidentRef::Id(id)
    }
}

/// Filters for [`crate::Store::list_findings`]; every filter given must match. The time ranges
/// are what a periodic review asks: findings raised, and findings closed, within a month.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingFilter {
    /// Owned by this team (exact name).
    pub team: Option<String>,
    /// In this state.
    pub state: Option<FindingState>,
    /// Of this kind.
    pub kind: Option<FindingKind>,
    /// `Some(true)`: only those still owed (open or in progress); `Some(false)`: only closed
    /// ones (done or won't fix).
    pub open: Option<bool>,
    /// Only those overdue on this day: open or in progress, due before it.
    pub overdue_on: Option<NaiveDate>,
    /// Of this incident.
    pub incident: Option<IncidentRef>,
    /// Raised at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Raised before.
    pub created_to: Option<DateTime<Utc>>,
    /// Closed (done or won't fix, and not reopened since) at or after.
    pub closed_from: Option<DateTime<Utc>>,
    /// Closed before.
    pub closed_to: Option<DateTime<Utc>>,
    /// Page size (1–500; 0 means the default of 50).
    pub limit: u32,
    /// Items to skip.
    pub offset: u32,
}

/// Filters for [`crate::Store::list_incidents`]; every filter given must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentFilter {
    /// In this phase.
    pub phase: Option<Phase>,
    /// With this severity.
    pub severity: Option<Severity>,
    /// With this category.
    pub category: Option<Category>,
    /// With this derived priority.
    pub priority: Option<Priority>,
    /// Impacting this service (exact name).
    pub service: Option<String>,
    /// Impacting this tenant (exact name).
    pub tenant: Option<String>,
    /// Having an active indicator with this value (normalised for every kind it fits).
    pub indicator: Option<String>,
    /// `Some(true)`: only open (not closed); `Some(false)`: only closed.
    pub open: Option<bool>,
    /// Case-insensitive text in the title or summary.
    pub text: Option<String>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_to: Option<DateTime<Utc>>,
    /// Page size (1–500; 0 means the default of 50).
    pub limit: u32,
    /// Items to skip.
    pub offset: u32,
}

impl Default for IncidentFilter {
    fn default() -> Self {
        IncidentFilter {
            phase: None,
            severity: None,
            category: None,
            priority: None,
            service: None,
            tenant: None,
            indicator: None,
            open: None,
            text: None,
            created_from: None,
            created_to: None,
            limit: 50,
            offset: 0,
        }
    }
}

/// A search for an indicator value across incidents ([`crate::Store::search_indicator`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorSearch {
    /// The value, read as every kind it is valid for and normalised as stored values are.
    pub value: String,
    /// Only indicators of these kinds; empty: of any kind.
    pub kinds: Vec<IndicatorKind>,
    /// Page size (1–500; 0 means the default of 50).
    pub limit: u32,
    /// Hits to skip.
    pub offset: u32,
}

impl IndicatorSearch {
    /// The first page of the default size of `value`'s hits, of any kind.
    pub fn new(value: impl Into<String>) -> Self {
        IndicatorSearch {
            value: value.into(),
            kinds: Vec::new(),
            limit: 0,
            offset: 0,
        }
    }
}

/// Which page of an incident's suggested related incidents [`crate::Store::related`] gives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SuggestionPage {
    /// Page size (1–500; 0 means the default of 50).
    pub limit: u32,
    /// Suggestions to skip.
    pub offset: u32,
}

/// Filters for [`crate::Store::list_audit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only entries about this incident.
    pub incident_id: Option<IncidentId>,
    /// Page size (1–1000; 0 means the default of 100).
    pub limit: u32,
    /// Entries to skip.
    pub offset: u32,
}

impl Default for AuditFilter {
    fn default() -> Self {
        AuditFilter {
            incident_id: None,
            limit: 100,
            offset: 0,
        }
    }
}

/// Metadata given with an evidence upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvidence {
    /// The original file name (no path).
    pub file_name: String,
    /// What it is.
    pub description: Option<String>,
}

/// Evidence opened for download after its hash was re-verified.
#[derive(Debug)]
pub struct EvidenceDownload {
    /// Its metadata.
    pub evidence: Evidence,
    /// The content, positioned at the start.
    pub file: tokio::fs::File,
}

/// The answer recorded for a batch of events sent under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestKey {
    /// SHA-256 (hex) of what was sent, to tell the same batch sent again from another batch
    /// under a reused key.
    pub fingerprint: String,
    /// The answer, as sent (JSON).
    pub answer: String,
}

/// The answer to a batch of events sent under an idempotency key, recorded in the same
/// transaction as the batch's detections ([`crate::Store::record_matches`]): a batch is never
/// left stored and matched without the answer a sender sending it again must get.
pub struct KeyedAnswer {
    /// The sending token (keys are its own).
    pub token: Uuid,
    /// The idempotency key.
    pub key: String,
    /// SHA-256 (hex) of what was sent ([`IngestKey::fingerprint`]).
    pub fingerprint: String,
    /// The answer (JSON), given how many alerts recording the batch created (only the
    /// transaction knows: the others fold into open alerts or are rate-limited).
    pub answer: Box<dyn FnOnce(usize) -> String + Send>,
    /// Keys recorded before this are forgotten in the same transaction.
    pub forget_before: DateTime<Utc>,
}

impl std::fmt::Debug for KeyedAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedAnswer")
            .field("token", &self.token)
            .field("key", &self.key)
            .field("fingerprint", &self.fingerprint)
            .field("forget_before", &self.forget_before)
            .finish_non_exhaustive()
    }
}

/// Who a token authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The token's id.
    pub token_id: Uuid,
    /// The token's name (used as the actor of writes).
    pub name: String,
    /// Its role.
    pub role: Role,
    /// For an ingest token bound to a service: that service.
    pub service: Option<String>,
    /// For an ingest token bound to a tenant: that tenant.
    pub tenant: Option<String>,
}

/// Filters for [`crate::Store::list_detections`]; every filter given must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectionFilter {
    /// Only this rule id.
    pub rule_id: Option<String>,
    /// Only from this service.
    pub service: Option<String>,
    /// Only on events of this host.
    pub host: Option<String>,
    /// Only on events of this tenant.
    pub tenant: Option<String>,
    /// Only on events at or after this time (the event's own).
    pub from: Option<DateTime<Utc>>,
    /// Only on events before this time.
    pub to: Option<DateTime<Utc>>,
    /// Only at this level or above.
    pub min_level: Option<vigil_core::RuleLevel>,
    /// Only with a larger id, and then the oldest first (the next ones after it), so that a
    /// poller keeping the largest id it saw misses none.
    pub after_id: Option<i64>,
    /// Page size (1–1000; 0 means the default of 100). The most recently recorded first,
    /// unless `after_id` is given.
    pub limit: u32,
}

impl Default for DetectionFilter {
    fn default() -> Self {
        DetectionFilter {
            rule_id: None,
            service: None,
            host: None,
            tenant: None,
            from: None,
            to: None,
            min_level: None,
            after_id: None,
            limit: 100,
        }
    }
}

/// One applied version of the organisation document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgVersion {
    /// Increasing with each change.
    pub version: i64,
    /// When it was applied.
    pub applied_at: DateTime<Utc>,
    /// Who applied it.
    pub applied_by: String,
    /// The document, as canonical JSON.
    pub document: serde_json::Value,
}

/// How alerts are folded and limited when raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertPolicy {
    /// An open alert of the same service with the same dedup key last seen within this window
    /// absorbs a new one.
    pub dedup_window: chrono::Duration,
    /// At most this many new alerts per rule per hour; beyond, they are counted as suppressed.
    pub max_new_per_rule_per_hour: u32,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        AlertPolicy {
            dedup_window: chrono::Duration::hours(1),
            max_new_per_rule_per_hour: 20,
        }
    }
}

/// What raising an alert did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Raised {
    /// A new alert.
    Created(vigil_core::Alert),
    /// Folded into the open alert with the same dedup key.
    Deduplicated(vigil_core::Alert),
    /// Held back by the rule's rate limit (counted in [`RuleAlertStats::suppressed`]).
    Suppressed,
}

/// What [`crate::Store::record_matches`] did with one alert: [`Raised`] without the alert read
/// back, which a batch of detections does not need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaisedId {
    /// A new alert, with its id.
    Created(i64),
    /// Folded into the open alert with this id.
    Deduplicated(i64),
    /// Held back by the rule's rate limit.
    Suppressed,
}

/// Filters for [`crate::Store::list_alerts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertFilter {
    /// Only in this status.
    pub status: Option<vigil_core::AlertStatus>,
    /// Only for this service.
    pub service: Option<String>,
    /// Only of this tenant.
    pub tenant: Option<String>,
    /// Only from this rule.
    pub rule_id: Option<String>,
    /// Only raised this way (detections, external tools, reports, Vigil's own monitoring).
    pub source: Option<vigil_core::AlertSource>,
    /// Page size (1–1000; 0 means 100). Newest first.
    pub limit: u32,
    /// Alerts to skip, newest first, to page on past the first `limit`.
    pub offset: u32,
}

impl Default for AlertFilter {
    fn default() -> Self {
        AlertFilter {
            status: None,
            service: None,
            tenant: None,
            rule_id: None,
            source: None,
            limit: 100,
            offset: 0,
        }
    }
}

/// Per-rule figures for tuning: alerts, suppressed by the rate limit, dismissals by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleAlertStats {
    /// The rule id.
    pub rule_id: String,
    /// The rule's title as its latest detection or alert recorded it.
    pub title: String,
    /// Alerts raised.
    pub alerts: u64,
    /// Alerts held back by the rate limit.
    pub suppressed: u64,
    /// Dismissed as false positives.
    pub false_positives: u64,
    /// Dismissed as benign.
    pub benign: u64,
}

/// A stored escalation clock that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationTimer {
    /// The alert.
    pub alert_id: i64,
    /// The level to page now (0-based).
    pub level: u32,
    /// Which run of the policy (0 for the first).
    pub round: u32,
    /// When this round began.
    pub started_at: DateTime<Utc>,
}

/// A page that reached a person on none of their contacts, waiting to be tried again
/// ([`crate::Store::defer_page`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRetry {
    /// The alert.
    pub alert_id: i64,
    /// The escalation clock's state when the level was paged, as [`crate::Store::record_page`]
    /// names it: a delivery is recorded under it, so the step run again skips it.
    pub step: String,
    /// The person's handle; their contacts are read from the organisation in force at each try,
    /// so a corrected address is used.
    pub person: String,
    /// The step as the page and the alert's log name it (`level 1 of 2 (round 1)`).
    pub label: String,
    /// The team whose policy paged them.
    pub team: String,
    /// Why them (`on call in schedule primary`).
    pub reason: String,
    /// Deliveries that failed so far (1 after the level's own; 0 while the level's own is
    /// under way, or was cut short by a crash).
    pub tries: u32,
    /// When the first delivery failed (when the level was paged, while `tries` is 0).
    pub first_at: DateTime<Utc>,
    /// When to try again.
    pub next_at: DateTime<Utc>,
    /// The last failure.
    pub error: String,
}

/// Where [`crate::Store::take_alerts`] puts the alerts it takes.
#[derive(Debug, Clone)]
pub enum AlertsInto {
    /// A new incident, declared from them (its indicators and services given in it).
    Declare {
        /// The incident.
        incident: Box<vigil_core::NewIncident>,
        /// The action-log entry that records the declaration: from which alerts.
        action: String,
    },
    /// An existing incident, which gains the indicators and the action-log entry.
    Merge {
        /// The incident.
        incident: IncidentRef,
        /// Indicators read out of the alerts' events.
        indicators: Vec<vigil_core::NewIndicator>,
        /// The action-log entry that records the merge.
        action: String,
        /// The earliest time the alerts' events carry: the incident's first activity moves
        /// back to it when it is earlier ([`vigil_core::Incident::activity_seen`]).
        activity: Option<chrono::DateTime<chrono::Utc>>,
        /// The alerts' services, added to the incident's scope when it lacks them.
        services: Vec<String>,
        /// The alerts' tenants, added to the incident's scope when it lacks them.
        tenants: Vec<String>,
        /// The ATT&CK techniques the alerts' rules name, added when the incident lacks them.
        techniques: Vec<vigil_core::Technique>,
    },
}

/// Open alerts taken into an incident in one write ([`crate::Store::take_alerts`]).
#[derive(Debug, Clone)]
pub struct TakeAlerts {
    /// The alerts (their ids), every one open.
    pub alerts: Vec<i64>,
    /// The incident they go into.
    pub into: AlertsInto,
    /// Evidence files to record on the incident (the alerts' events), with their content.
    pub evidence: Vec<(NewEvidence, Vec<u8>)>,
}
