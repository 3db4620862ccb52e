//! Request and response bodies of every route, and the query parameters of the list routes.
//! Domain values (severity, phase, indicator kinds, markings …) are `vigil-core` types, so the
//! wire format and the domain cannot disagree; request bodies refuse unknown fields so a typo
//! is reported instead of silently ignored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub use crate::domain::{
    ActionEntry, AuditEntry, Category, CustodyEntry, DataImpact, Evidence, Incident, IncidentKey,
    Indicator, IndicatorKind, Pap, Phase, Priority, Role, Severity, SeverityChange, TimestampKind,
    Timestamps, Tlp,
};

/// A page of results: the total matching count and the items of this page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    /// How many items match the filters in all.
    pub total: u64,
    /// This page's items.
    pub items: Vec<T>,
}

/// `POST /api/v1/incidents`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIncident {
    /// Short title.
    pub title: String,
    /// What happened, as known now.
    pub summary: String,
    /// Preliminary severity (adjusted later with a reason).
    pub severity: Severity,
    /// Category, when known.
    #[serde(default)]
    pub category: Option<Category>,
    /// Impacted services.
    #[serde(default)]
    pub services: Vec<String>,
    /// Impacted tenants.
    #[serde(default)]
    pub tenants: Vec<String>,
    /// TLP marking (default amber).
    #[serde(default)]
    pub tlp: Option<Tlp>,
    /// PAP marking (default amber).
    #[serde(default)]
    pub pap: Option<Pap>,
    /// MITRE ATT&CK technique ids, e.g. `T1566.001`.
    #[serde(default)]
    pub attack: Vec<String>,
    /// When the malicious activity first happened, if known.
    #[serde(default)]
    pub first_activity_at: Option<DateTime<Utc>>,
    /// Recommended next steps.
    #[serde(default)]
    pub next_steps: Option<String>,
}

/// `PATCH /api/v1/incidents/{key}`: only the fields present change.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIncident {
    /// New title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// New summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// New category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// Replaces the impacted services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<String>>,
    /// Replaces the impacted tenants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenants: Option<Vec<String>>,
    /// Replaces the recommended next steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_steps: Option<String>,
    /// New TLP marking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlp: Option<Tlp>,
    /// New PAP marking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pap: Option<Pap>,
    /// Replaces the ATT&CK technique ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attack: Option<Vec<String>>,
    /// Replaces the data-impact assessment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_impact: Option<DataImpact>,
}

/// `POST /api/v1/incidents/{key}/severity`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeSeverity {
    /// The new severity.
    pub severity: Severity,
    /// Why it changes (recorded in the severity history).
    pub reason: String,
}

/// `POST /api/v1/incidents/{key}/phase`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePhase {
    /// The target phase.
    pub phase: Phase,
    /// Why it changes.
    #[serde(default)]
    pub reason: Option<String>,
    /// The root cause, recorded with the change (required before recovery).
    #[serde(default)]
    pub root_cause: Option<String>,
}

/// `POST /api/v1/incidents/{key}/timestamps`: correct a lifecycle timestamp.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectTimestamp {
    /// Which timestamp.
    pub which: TimestampKind,
    /// The corrected time.
    pub at: DateTime<Utc>,
    /// Why it is corrected.
    pub reason: String,
}

/// `POST /api/v1/incidents/{key}/indicators`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddIndicator {
    /// What kind of indicator.
    pub kind: IndicatorKind,
    /// The value as observed; the server normalises it.
    pub value: String,
    /// Where or how it was seen.
    #[serde(default)]
    pub note: Option<String>,
}

/// `GET /api/v1/indicators`: search indicators across incidents.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IndicatorQuery {
    /// The value to find (normalised like stored values).
    pub value: String,
    /// Restrict to one kind.
    #[serde(default)]
    pub kind: Option<IndicatorKind>,
}

/// `POST /api/v1/incidents/{key}/links`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLink {
    /// The other incident (key or id).
    pub other: String,
    /// Why they are related.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /api/v1/incidents/{key}/actions`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddAction {
    /// What was done.
    pub text: String,
}

/// `POST /api/v1/incidents/{key}/evidence`: the file is the raw request body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EvidenceUploadQuery {
    /// The file's name.
    pub name: String,
    /// What the file is.
    #[serde(default)]
    pub description: Option<String>,
}

/// `POST /api/v1/incidents/{key}/evidence/{id}/custody`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddCustody {
    /// What was done with it: transferred, examined, copied, sealed …
    pub action: String,
    /// Why.
    pub reason: String,
}

/// `GET /api/v1/incidents`: filters and paging.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    /// Only this phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Only this severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Only this category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// Only incidents impacting this service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Only incidents impacting this tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Only incidents carrying this indicator value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indicator: Option<String>,
    /// `true`: only open incidents; `false`: only closed ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<bool>,
    /// Text to find in the title or summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Created at or after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_to: Option<DateTime<Utc>>,
    /// Page size (default 50, at most 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// How many to skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
}

/// `GET /api/v1/audit`: paging.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Page size (default 100, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// How many entries to skip from the start of the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
}

/// `POST /api/v1/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// Who or what the token is for.
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// A token just created: the secret is shown this once and never again.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    /// The token's id (for revocation).
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The secret to send as `Authorization: Bearer …`.
    pub token: String,
}

/// A token as listed (never with its secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenInfo {
    /// The token's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/indicators`: one incident carrying a matching indicator.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IndicatorHit {
    /// The incident's key.
    pub incident_key: IncidentKey,
    /// The incident's id.
    pub incident_id: Uuid,
    /// The incident's title.
    pub incident_title: String,
    /// The matching indicator.
    pub indicator: Indicator,
}

/// `GET /api/v1/incidents/{key}/related`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RelatedIncidents {
    /// Incidents linked explicitly.
    pub links: Vec<RelatedLink>,
    /// Incidents sharing at least one indicator but not linked: suggestions to review.
    pub suggestions: Vec<RelatedSuggestion>,
}

/// A short view of another incident.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IncidentRef {
    /// Its id.
    pub id: Uuid,
    /// Its key.
    pub key: IncidentKey,
    /// Its title.
    pub title: String,
    /// Its phase.
    pub phase: Phase,
    /// Its severity.
    pub severity: Severity,
}

/// An explicit link.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RelatedLink {
    /// The other incident.
    pub incident: IncidentRef,
    /// Why they are linked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who linked them.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A suggestion from shared indicators.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RelatedSuggestion {
    /// The other incident.
    pub incident: IncidentRef,
    /// The indicators both carry (`kind:value`).
    pub shared: Vec<String>,
}

/// `GET /api/v1/audit/verify`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditVerification {
    /// True when every entry's hash and link is intact.
    pub ok: bool,
    /// How many entries were checked.
    pub entries: u64,
    /// The first broken entry's sequence number, when the chain is broken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_broken: Option<u64>,
    /// What is wrong with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}
