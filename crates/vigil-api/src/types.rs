//! Request and response bodies of every route, and the query parameters of the list routes.
//!
//! Records and request bodies that belong to the domain are `vigil-core`'s types, re-exported
//! here: `NewIncident` is the body of `POST /incidents`, `IncidentPatch` of `PATCH
//! /incidents/{key}`, `NewIndicator` of `POST /incidents/{key}/indicators`, and every response is
//! an `Incident`, `Indicator`, `Evidence`, `ActionEntry`, `AuditEntry`, `Related`,
//! `IndicatorHit`, `TokenInfo` or `Page` of them. What is defined here exists only for HTTP: the
//! bodies of single-purpose routes and the query strings. Request bodies refuse unknown fields so
//! a typo is reported instead of silently ignored. A `u32` query parameter that takes its
//! whole range is declared `value_type = u64` (`format: int64`): generators read `int32` as a
//! signed 32-bit integer, which cannot hold its upper half.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub use vigil_core::{
    ActionEntry, ActionKind, AuditEntry, AuditVerified, Category, ChainBreak, ChainProblem,
    ContributingFactor, CreatedToken, CustodyEntry, DataImpact, DataImpactPatch,
    DetectionImprovement, Evidence, EvidenceCheck, EvidenceProblem, FactorKind, Finding,
    FindingChange, FindingKey, FindingKind, FindingState, FindingUpdate, Incident, IncidentId,
    IncidentKey, IncidentLink, IncidentPatch, Indicator, IndicatorHit, IndicatorKind,
    LifecycleDurations, LinkSuggestion, NewFinding, NewIncident, NewIndicator, NewNextStep,
    NewPostMortem, NextStep, Page, Pap, Participant, ParticipantRole, Phase, PhaseChange,
    PostMortem, Priority, PriorityChange, Related, Role, Severity, SeverityChange, Technique,
    TimestampCorrection, TimestampKind, Timestamps, Tlp, TokenInfo,
};

/// `POST /api/v1/incidents/{key}/severity`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeSeverity {
    /// The new severity.
    #[schema(value_type = vigil_core::schema::SeverityInput)]
    pub severity: Severity,
    /// Why it changes (recorded in the severity history with who changed it).
    pub reason: String,
}

/// `POST /api/v1/incidents/{key}/phase`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePhase {
    /// The target phase.
    pub phase: Phase,
    /// Why it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The root cause, recorded in the same write before the guards are asked (recovery needs
    /// one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cause: Option<String>,
}

/// `POST /api/v1/incidents/{key}/timestamps`: correct a lifecycle timestamp.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectTimestamp {
    /// Which milestone.
    pub kind: TimestampKind,
    /// The corrected time; `null` clears it.
    pub at: Option<DateTime<Utc>>,
    /// Why it is corrected (kept with the correction).
    pub reason: String,
}

/// `GET /api/v1/indicators`: search indicators across incidents.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IndicatorQuery {
    /// The value to find, normalised for every kind it is valid for.
    pub value: String,
    /// Only indicators of this kind; `hash`: of any of the three hash kinds. Read as a new
    /// indicator's `kind` is.
    #[param(value_type = Option<vigil_core::schema::IndicatorKindInput>, inline)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Page size: default 50 when absent or 0; a larger value than 500 is read as 500 (no
    /// error). The `X-Total-Count` header says how many hits there are in all.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4294967295.0)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// How many hits to skip.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4294967295.0)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
}

/// `GET /api/v1/incidents/{key}/related`: which page of suggestions (links are all listed).
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RelatedQuery {
    /// Page size of the suggestions: default 50 when absent or 0; a larger value than 500 is
    /// read as 500 (no error).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4294967295.0)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// How many suggestions to skip.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4294967295.0)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
}

/// `DELETE /api/v1/incidents/{key}/indicators/{id}`: the indicator is kept, marked removed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RemoveIndicatorQuery {
    /// Why it is removed (e.g. "false positive").
    pub reason: String,
}

/// `POST /api/v1/incidents/{key}/links`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLink {
    /// The other incident (key or id).
    pub other: String,
    /// Why they are related.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `POST /api/v1/incidents/{key}/actions`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddAction {
    /// What was done.
    pub text: String,
    /// What kind of action (default `note`); not `change`, which Vigil writes with each change
    /// to the incident's record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ActionKind>,
}

/// `GET /api/v1/incidents/{key}/actions`: paging, oldest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActionQuery {
    /// Page size: default 100 when absent or 0; a larger value than 1000 is read as 1000 (no error).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4294967295.0)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// How many entries to skip.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4294967295.0)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
}

/// `POST /api/v1/incidents/{key}/evidence`: the file is the raw request body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EvidenceUploadQuery {
    /// The file's name (no path).
    pub file_name: String,
    /// What the file is: at most 20,000 characters, without control characters other than
    /// tabs and line breaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `true`: only check the upload. The answer is 204 when the token, the incident, the file
    /// name and the description would be accepted, or the error the upload would get; no body
    /// is read and nothing is stored. A client whose upload broke off asks this for the
    /// server's reason: a server refusing an upload answers before reading the body, and the
    /// connection it then closes can lose that answer while the file is still going out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
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

/// `GET /api/v1/incidents`: filters and paging; every filter given must match.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    /// Only this phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Only this severity.
    #[param(value_type = Option<vigil_core::schema::SeverityInput>, inline)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Only this derived priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Only this category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// Only incidents impacting this service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Only incidents impacting this tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Only incidents carrying this indicator value (normalised for every kind it fits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indicator: Option<String>,
    /// `true`: only open incidents; `false`: only closed ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<bool>,
    /// Text to find in the title or summary (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Created at or after this time: RFC 3339 (`2026-11-30T12:00:00Z`), a date (its midnight,
    /// UTC), `now-24h`, or a duration back from now (`24h`, `7d`), as `from` of
    /// `/events/search` reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_from: Option<String>,
    /// Created before this time (same forms as `created_from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_to: Option<String>,
    /// Page size: default 50 when absent or 0; a larger value than 500 is read as 500 (no error).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4294967295.0)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// How many to skip.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4294967295.0)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
}

/// `GET /api/v1/findings`: filters and paging; every filter given must match. Findings come
/// oldest key first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FindingQuery {
    /// Only findings owned by this team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Only findings in this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<FindingState>,
    /// Only findings of this kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<FindingKind>,
    /// `true`: only findings still owed (open or in progress); `false`: only closed ones (done
    /// or won't fix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<bool>,
    /// `true`: only findings overdue now (still owed, due before today, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue: Option<bool>,
    /// Only findings of this incident (INC-42 or its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// Raised at or after this time (the forms `created_from` of `/incidents` reads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_from: Option<String>,
    /// Raised before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_to: Option<String>,
    /// Closed (done or won't fix, not reopened since) at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_from: Option<String>,
    /// Closed before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_to: Option<String>,
    /// Page size: default 50 when absent or 0; a larger value than 500 is read as 500 (no error).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4294967295.0)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// How many to skip.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4294967295.0)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
}

/// `GET /api/v1/audit`: filter and paging.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries about this incident (key or id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// Page size: default 100 when absent or 0; a larger value than 1000 is read as 1000 (no error).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4294967295.0)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// How many entries to skip from the start of the chain.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4294967295.0)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
}

/// `POST /api/v1/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// Who or what the token is for; the actor of its writes, so no other active token may
    /// have it (in any case): 409 when one does. Nor may it be an actor Vigil records its own
    /// writes under (`vigil`, `vigil-admin-cli`, `reporter`, in any case, or a name with
    /// `(link in their page)`, the mark of an acknowledgement through a page's link): 400.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// For an ingest token: the only service it may send events as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// For an ingest token: the only tenant it may send events for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// `GET /api/v1/audit/verify`: the result of walking the hash chain, comparing every incident
/// and token with the state its latest audit entry recorded, and re-hashing every stored
/// evidence file against the SHA-256 recorded for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditVerification {
    /// True when every entry's hash and link is intact, no record was changed outside Vigil and
    /// every evidence file holds the bytes recorded for it.
    pub ok: bool,
    /// How many entries were checked and found intact.
    pub entries: u64,
    /// Records (tokens, organisation document versions, incidents, alerts people acted on) found
    /// in the state their latest audit entry recorded (0 when a problem was found).
    #[serde(default)]
    pub records_checked: u64,
    /// Records that could not be checked: their latest audit entry was written by a Vigil that
    /// did not record states yet. Each is checked again from its next write.
    #[serde(default)]
    pub records_unchecked: u64,
    /// The first broken link, or the first record changed, added or deleted outside Vigil.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken: Option<ChainBreak>,
    /// Stored evidence files re-hashed (evidence of the same content shares one file).
    #[serde(default)]
    pub evidence_files_checked: u64,
    /// Each evidence item whose stored file is missing or no longer hashes to its recorded
    /// SHA-256, with its incident and id: restore the file from a backup and record that in its
    /// chain of custody.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence_problems: Vec<EvidenceProblem>,
}

impl AuditVerification {
    /// The verification of an audit walk's result and of the evidence files re-hashed.
    pub fn from_checks(result: Result<AuditVerified, ChainBreak>, evidence: EvidenceCheck) -> Self {
        let evidence_ok = evidence.problems.is_empty();
        let (ok, entries, records_checked, records_unchecked, broken) = match result {
            Ok(v) => (
                evidence_ok,
                v.entries,
                v.records_checked,
                v.records_unchecked,
                None,
            ),
            Err(b) => (false, b.intact_entries(), 0, 0, Some(b)),
        };
        AuditVerification {
            ok,
            entries,
            records_checked,
            records_unchecked,
            broken,
            evidence_files_checked: evidence.files,
            evidence_problems: evidence.problems,
        }
    }
}
