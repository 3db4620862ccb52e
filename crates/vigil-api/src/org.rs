//! Bodies and query strings of the organisation and on-call routes. The organisation document
//! itself is `vigil_oncall::OrgDocument` (people, teams with schedules, service owners).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Answer of `PUT /api/v1/org` and `GET /api/v1/org`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrgState {
    /// The version in force (increases with each change).
    pub version: i64,
    /// False when the applied document equals the one in force (nothing was written).
    pub changed: bool,
    /// When the version in force was applied.
    pub applied_at: chrono::DateTime<chrono::Utc>,
    /// Who applied it.
    pub applied_by: String,
    /// People, teams and services in it.
    pub people: u64,
    /// Teams in it.
    pub teams: u64,
    /// Services in it.
    pub services: u64,
    /// Sigma rules its `alerting` turns off (`enabled: false`): matched, never recorded.
    #[serde(default)]
    pub rules_turned_off: u64,
    /// The document in force.
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
    /// What is allowed but probably not meant, with the field: a service whose declared
    /// logsources no loaded rule is written for (a misspelt `category`, say) would meet no rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Query of `GET /api/v1/oncall`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OnCallQuery {
    /// The team (or give `service` to ask for its owning team).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// A service: its owning team is asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// When (RFC 3339, `now-1h`, …; default now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// A contact method of the person on call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ContactInfo {
    /// `email`, `webhook` or `phone`.
    pub kind: String,
    /// The address.
    pub address: String,
}

/// Who is on call in one schedule of the team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScheduleOnCallInfo {
    /// The schedule (in escalation order: primary first).
    pub schedule: String,
    /// The person on call; absent when nobody is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    /// The layer or override that puts them there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When their shift began (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// When it ends (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// How to reach them.
    #[serde(default)]
    pub contacts: Vec<ContactInfo>,
}

/// Answer of `GET /api/v1/oncall`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OnCallResponse {
    /// The team.
    pub team: String,
    /// The instant asked about (RFC 3339).
    pub at: String,
    /// One entry per schedule, in escalation order.
    pub schedules: Vec<ScheduleOnCallInfo>,
    /// The team's manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    /// The team's escalation policy (its own, or the default: every schedule at once, the
    /// manager after 15 minutes), each level with whom it would page for an alert raised at
    /// `at`.
    #[serde(default)]
    pub escalation: Vec<EscalationLevelInfo>,
    /// The team that answers instead, when the team has no one to page (no schedules, manager
    /// or escalation policy): the central team, as the escalator pages it. `schedules`,
    /// `manager` and `escalation` are then that team's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<String>,
    /// Why another team answers, or why nobody does (no central team, or one with no one to
    /// page either).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One level of a team's escalation policy, and whom it pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EscalationLevelInfo {
    /// When it is paged after the alert is raised, as the policy writes it (`0`, `30s`, `15m`).
    pub after: String,
    /// What it names: `schedule:NAME`, `manager`, `person:NAME`, `team:NAME`.
    pub notify: Vec<String>,
    /// Whom it pages at that time: nobody where a schedule has a gap.
    pub pages: Vec<PagedPerson>,
}

/// A person an escalation level pages, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PagedPerson {
    /// Their handle.
    pub person: String,
    /// Why they are paged (`on call in schedule primary`, `manager of the team`).
    pub reason: String,
    /// Whether the page reaches them: false when they have no e-mail or webhook contact (Vigil
    /// places no phone calls), so the page to them reaches nobody.
    #[serde(default = "reachable_by_default")]
    pub reachable: bool,
}

fn reachable_by_default() -> bool {
    true
}

/// Query of `GET /api/v1/oncall/coverage`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CoverageQuery {
    /// The team; absent: every team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Start of the window (default now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Days from `from` (1–731, default 30).
    #[param(minimum = 1, maximum = 731)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
}

/// An interval in which an alert raised for a team is not answered by the first level of its
/// escalation policy — nobody is on call in what it names, or whoever is has no e-mail or
/// webhook contact —: a later level answers it (`kind` `delayed`), or none does (`unreached`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CoverageGap {
    /// The team.
    pub team: String,
    /// Start (RFC 3339, inclusive).
    pub start: String,
    /// End (RFC 3339, exclusive).
    pub end: String,
    /// Its length in minutes.
    pub minutes: i64,
    /// Why, level by level and schedule by schedule (`level 1: nobody on call in primary |
    /// level 2: …`, without the level for a policy of one; `pat on call in primary, no e-mail or
    /// webhook`).
    #[serde(default)]
    pub reason: String,
    /// `unreached`: no level of the policy's first round reaches anyone; `delayed`: a later
    /// level does (`first_reached_level`, after `first_reached_after`).
    #[serde(default)]
    pub kind: String,
    /// For a `delayed` gap, the first level that reaches someone (counted from 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_reached_level: Option<u32>,
    /// For a `delayed` gap, when that level is paged after the alert, as the policy writes it
    /// (`10m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_reached_after: Option<String>,
}

/// A team answered by another team's escalation policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AnsweredBy {
    /// The team, which has no one to page.
    pub team: String,
    /// The team answering for it (the central team), whose gaps are listed for `team`.
    pub answered_by: String,
    /// Why.
    pub why: String,
}

/// A team whose coverage could not be computed over the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UncheckedTeam {
    /// The team.
    pub team: String,
    /// The schedule at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Why, with what to do.
    pub message: String,
}

/// Answer of `GET /api/v1/oncall/coverage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CoverageReport {
    /// Start of the window (RFC 3339).
    pub from: String,
    /// End of the window (RFC 3339).
    pub to: String,
    /// The teams checked.
    pub teams: Vec<String>,
    /// Every gap, by team then time; empty (with `unchecked` empty) means every alert is
    /// answered by its team's first level over the window.
    pub gaps: Vec<CoverageGap>,
    /// Teams answered by another team (the central team), whose gaps are theirs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answered_by: Vec<AnsweredBy>,
    /// Teams not checked, with why (a schedule too fine-grained for the window); the others
    /// are reported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<UncheckedTeam>,
}
