//! Bodies and query strings of the alert routes. Alerts themselves are `vigil_core::Alert`.
//! `offset` is declared a 64-bit integer, as in [`crate::types`].

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub use vigil_core::{Alert, AlertLogEntry, AlertSource, AlertStatus, Dismissal, NewAlert};

/// Body of `POST /api/v1/alerts`: an alert from an external tool, in the manner of PagerDuty's
/// Events API. The same `dedup_key` for the same service and tenant within the window updates
/// the open alert.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalAlert {
    /// What happened, in a line.
    pub title: String,
    /// The preliminary severity (SEV1 … SEV4; `critical`, `high` … are read too).
    #[schema(value_type = vigil_core::schema::SeverityInput)]
    pub severity: vigil_core::Severity,
    /// The tool that raised it (`guardduty`, `crowdstrike` …).
    pub source: String,
    /// The service it concerns (an ingest token bound to a service raises alerts for it only).
    pub service: String,
    /// The tenant it concerns (at most 200 characters, one line); an ingest token bound to a
    /// tenant raises alerts for it only, with or without this field. Default: none, or the
    /// token's tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Alerts with the same key (of the same service and tenant) within the window are one
    /// alert (default: source + title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<String>,
    /// More detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// Answer of `POST /api/v1/alerts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RaiseResponse {
    /// `created`, `deduplicated` (folded into the open alert) or `suppressed` (rate limit).
    pub outcome: String,
    /// The alert, unless suppressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<Alert>,
}

/// Query of `GET /api/v1/alerts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// Only in this status (`triggered`, `acknowledged`, `resolved`, `dismissed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AlertStatus>,
    /// Only for this service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Only of this tenant (an alert is one tenant's, or of none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Only from this rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// Only raised this way: `detection`, `external`, `report`, or `monitor` (a service that
    /// stopped sending logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<AlertSource>,
    /// At most this many, newest first (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// How many of the matching alerts to skip, newest first (default 0), to page on: the next
    /// page is at `offset + limit` while that is below `total`. Past the end, the page is
    /// empty and `total` still counts them all.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4294967295.0)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
}

/// Body of `POST /api/v1/alerts/{key}/dismiss`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DismissAlert {
    /// `false_positive` (the rule needs tuning) or `benign` (authorised activity).
    pub kind: Dismissal,
    /// Why; counted per rule for tuning.
    pub reason: String,
}

/// Per-rule alert figures (`GET /api/v1/alerts/rules`), noisiest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RuleAlertStats {
    /// The rule id.
    pub rule_id: String,
    /// The rule's title (as its latest detection or alert recorded it).
    pub title: String,
    /// Alerts raised.
    pub alerts: u64,
    /// Alerts the rule's rate limit held back.
    pub suppressed: u64,
    /// Dismissed as false positives.
    pub false_positives: u64,
    /// Dismissed as benign.
    pub benign: u64,
}

/// Body of `POST /api/v1/alerts/declare`: declare an incident from one or more open alerts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclareIncident {
    /// The alerts (`ALR-12`), all open.
    pub alerts: Vec<String>,
    /// The incident's title (default: the first alert's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Its summary (default: the alerts, listed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Its severity (default: the worst of the alerts' preliminary severities).
    #[schema(value_type = Option<vigil_core::schema::SeverityInput>)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<vigil_core::Severity>,
    /// Why that severity (recorded in the severity history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_reason: Option<String>,
    /// Its category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<vigil_core::Category>,
}

/// Body of `POST /api/v1/alerts/{key}/merge`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeAlert {
    /// The incident to merge into (`INC-7`).
    pub incident: String,
}
