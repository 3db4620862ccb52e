//! The monthly security incident review: what senior management discusses each month (the
//! seed: "Discussing the results of the completed post-mortem in monthly security incident
//! review meetings conducted by senior management"). It is computed from the records, never
//! typed in: the counts from the incidents' and alerts' own times, the response times from the
//! lifecycle milestones as they stand (corrections included), and the list of what needs
//! management's attention from the incidents' state at the period's end.
//!
//! Which period a fact belongs to is the time of the fact itself: an incident is *opened* in
//! the period its `detected` milestone falls in, *confirmed* in the one its `declared` falls
//! in, *closed* in each one a phase change closed it in (a reopening later takes nothing back);
//! a response time is counted in the period its end milestone falls in (time to contain with
//! the incidents contained in the period); an incident's phase and severity at a period's end
//! are read from its histories, a post-mortem is dated by its first version. So a month's
//! figures do not change as later months' work goes on, except through corrections of the
//! milestones — and the category and tenants, which keep no history, are those of now.
//! Medians and 90th percentiles are nearest-rank: always a value some incident really had.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::{AlertSource, AlertStatus, Dismissal};
use crate::finding::{Finding, FindingKey, FindingState};
use crate::ids::IncidentKey;
use crate::incident::Incident;
use crate::phase::Phase;
use crate::severity::Severity;
use crate::timestamps::TimestampKind;

/// How many rules the review names among those that raised the most alerts.
pub const NOISIEST_RULES: usize = 5;

/// How many overdue findings the review names (the oldest due first); `by_team` counts them all.
pub const OVERDUE_FINDINGS_NAMED: usize = 50;

/// A span of time the review covers: `[from, to)`, with the label people say (`2026-11`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewPeriod {
    /// The month as written, `YYYY-MM`.
    pub label: String,
    /// Its first instant.
    pub from: DateTime<Utc>,
    /// The first instant after it.
    pub to: DateTime<Utc>,
}

impl ReviewPeriod {
    fn holds(&self, t: Option<DateTime<Utc>>) -> bool {
        t.is_some_and(|t| self.from <= t && t < self.to)
    }
}

/// What the review needs of one alert (the store reads it without the alert's events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertFacts {
    /// `ALR-n`.
    pub key: String,
    /// What raised it.
    pub source: AlertSource,
    /// Its state now.
    pub status: AlertStatus,
    /// How it was dismissed, if it was.
    pub dismissal: Option<Dismissal>,
    /// Whether it was declared as or merged into an incident.
    pub became_incident: bool,
    /// When it first fired.
    pub first_seen: DateTime<Utc>,
    /// When someone first took it up (acknowledged, declared or merged it), if anyone did.
    pub taken_up: Option<DateTime<Utc>>,
    /// The rule that raised it, for a detection.
    pub rule_id: Option<String>,
    /// Its title.
    pub title: String,
}

/// A response-time measure over a period's incidents (or alerts), in whole seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Measure {
    /// How many incidents (or alerts) it was measured over.
    pub count: u64,
    /// The median (nearest rank); absent when there was nothing to measure.
    pub median_seconds: Option<i64>,
    /// The 90th percentile (nearest rank).
    pub p90_seconds: Option<i64>,
    /// The longest.
    pub max_seconds: Option<i64>,
    /// Which incident (`INC-n`) or alert (`ALR-n`) took the longest.
    pub slowest: Option<String>,
}

impl Measure {
    fn of(mut samples: Vec<(i64, String)>) -> Measure {
        samples.sort();
        let rank = |q: f64| {
            let n = samples.len();
            let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            samples[i].0
        };
        match samples.last() {
            None => Measure::default(),
            Some((max, slowest)) => Measure {
                count: samples.len() as u64,
                median_seconds: Some(rank(0.5)),
                p90_seconds: Some(rank(0.9)),
                max_seconds: Some(*max),
                slowest: Some(slowest.clone()),
            },
        }
    }
}

/// Response times of the incidents whose end milestone falls in the period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResponseTimes {
    /// First malicious activity → detected, over the incidents detected in the period whose
    /// first activity is known.
    pub time_to_detect: Measure,
    /// Detected → acknowledged, over the incidents acknowledged in the period.
    pub time_to_acknowledge: Measure,
    /// Detected → contained, over the incidents contained in the period.
    pub time_to_contain: Measure,
    /// Detected → recovered, over the incidents recovered in the period.
    pub time_to_recover: Measure,
}

/// The incidents of a period, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentCounts {
    /// Detected in the period.
    pub opened: u64,
    /// Confirmed as security incidents (moved to containment) in the period.
    pub confirmed: u64,
    /// Closed in the period.
    pub closed: u64,
    /// Still open when the period ended (detected before its end, not closed by then).
    pub open_at_end: u64,
    /// Those opened in the period by their severity now (`SEV1` … `SEV4`).
    pub opened_by_severity: BTreeMap<String, u64>,
    /// Those opened in the period by category (`uncategorised` when none is set).
    pub opened_by_category: BTreeMap<String, u64>,
    /// Those opened in the period that affect customers.
    pub customer_facing: u64,
}

/// One incident named by the review, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentBrief {
    /// `INC-n`.
    pub key: IncidentKey,
    /// Its title.
    pub title: String,
    /// Its severity at the period's end (now, while the period runs).
    pub severity: Severity,
    /// Its phase at the period's end (now, while the period runs).
    pub phase: Phase,
    /// Why it is named, in words.
    pub why: String,
    /// The time the reason dates from (detected, assessed as a breach, recovered).
    pub since: DateTime<Utc>,
}

/// A post-mortem written in the period, as the meeting discusses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PostMortemBrief {
    /// The incident, `INC-n`.
    pub key: IncidentKey,
    /// Its title.
    pub title: String,
    /// Its severity now.
    pub severity: Severity,
    /// The post-mortem's summary.
    pub summary: String,
    /// The kinds of its contributing factors, as recorded (`technical_lapse` …).
    pub contributing_factors: Vec<String>,
    /// How many detection improvements it decided.
    pub detection_improvements: u64,
    /// When it was first written.
    pub recorded_at: DateTime<Utc>,
}

/// Post-mortems in the period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PostMortems {
    /// First written in the period.
    pub written: u64,
    /// Those post-mortems as they read now, oldest first.
    pub reviewed: Vec<PostMortemBrief>,
    /// Their contributing factors counted by kind (the seed's technical lapses, procedural
    /// failures, manual errors and process flaws).
    pub contributing_factors: BTreeMap<String, u64>,
    /// Required (rated SEV1 or SEV2, or assessed as a data breach, at any point), recovered
    /// before the period ended and still without one then: oldest recovery first.
    pub due: Vec<IncidentBrief>,
}

/// One rule among those that raised the most alerts in the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleAlerts {
    /// The rule id.
    pub rule_id: String,
    /// The title of its latest alert.
    pub title: String,
    /// Alerts it raised in the period.
    pub alerts: u64,
    /// How many of them were dismissed as false positives: a rule to tune.
    pub false_positives: u64,
}

/// The alerts first raised in the period and what became of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertCounts {
    /// Raised in the period.
    pub raised: u64,
    /// By what raised them (`detection`, `external`, `report`, `monitor`).
    pub by_source: BTreeMap<String, u64>,
    /// What became of them, each alert counted once: declared as or merged into an incident
    /// (whatever its state since),
    pub became_incidents: u64,
    /// else dismissed as a false positive,
    pub false_positives: u64,
    /// else dismissed as benign,
    pub benign: u64,
    /// else resolved,
    pub resolved: u64,
    /// else acknowledged and still being worked,
    pub acknowledged: u64,
    /// else nobody has taken it up yet (still triggered).
    pub untouched: u64,
    /// First fired → first taken up (acknowledged, declared or merged), over those taken up.
    pub time_to_take_up: Measure,
    /// The rules that raised the most, most first (at most [`NOISIEST_RULES`]).
    pub noisiest_rules: Vec<RuleAlerts>,
}

/// A finding named by the review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FindingBrief {
    /// `FND-n`.
    pub key: FindingKey,
    /// The incident it came from.
    pub incident: IncidentKey,
    /// What is to be done.
    pub title: String,
    /// The owning team.
    pub team: String,
    /// Its state now.
    pub state: FindingState,
    /// The day it was due.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub due: Option<chrono::NaiveDate>,
}

/// One owning team's findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamFindings {
    /// The team.
    pub team: String,
    /// Raised for it in the period.
    pub raised: u64,
    /// Closed by it (done or won't fix) in the period.
    pub closed: u64,
    /// Still open at the period's end (or now, while it runs).
    pub open: u64,
    /// Of those, past their due day.
    pub overdue: u64,
}

/// The findings (work items incidents left for owning teams) and how their work goes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FindingCounts {
    /// Raised in the period.
    pub raised: u64,
    /// Closed (done or won't fix) in the period.
    pub closed: u64,
    /// Of those closed, decided against (won't fix).
    pub wont_fix: u64,
    /// Open at the period's end.
    pub open_at_end: u64,
    /// Of those, past their due day then.
    pub overdue_at_end: u64,
    /// Per owning team: the most overdue, then the most open, first.
    pub by_team: Vec<TeamFindings>,
    /// The overdue ones, oldest due day first (at most [`OVERDUE_FINDINGS_NAMED`]).
    pub overdue: Vec<FindingBrief>,
}

/// A period's headline figures, for the comparison with the month before.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PeriodTotals {
    /// The period.
    pub label: String,
    /// Incidents opened.
    pub opened: u64,
    /// Incidents confirmed (moved to containment).
    pub confirmed: u64,
    /// Incidents opened that affect customers.
    pub customer_facing: u64,
    /// Incidents closed.
    pub closed: u64,
    /// Incidents open at its end.
    pub open_at_end: u64,
    /// Median time to contain.
    pub median_time_to_contain_seconds: Option<i64>,
    /// Median time to recover.
    pub median_time_to_recover_seconds: Option<i64>,
    /// Alerts raised.
    pub alerts_raised: u64,
}

/// The monthly security incident review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MonthlyReview {
    /// The month reviewed.
    pub period: ReviewPeriod,
    /// The time zone the month's bounds are taken in (an IANA name, `UTC` by default).
    pub timezone: String,
    /// The one tenant the review is limited to, if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// When it was computed: a month still under way, or corrections made later, change it.
    pub computed_at: DateTime<Utc>,
    /// What the reader should know before trusting the figures (a tenant nothing ever had).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The incidents, counted.
    pub incidents: IncidentCounts,
    /// How fast the response was.
    pub response_times: ResponseTimes,
    /// Incidents first assessed as a data breach in the period (customer or personal data
    /// disclosed, modified or destroyed): each starts the notification process.
    pub data_breaches: Vec<IncidentBrief>,
    /// Open at the period's end and rated SEV1 or SEV2: oldest first.
    pub open_critical: Vec<IncidentBrief>,
    /// Post-mortems written and due.
    pub post_mortems: PostMortems,
    /// The alerts, counted.
    pub alerts: AlertCounts,
    /// The findings, counted, per owning team.
    pub findings: FindingCounts,
    /// The same headline figures for the month before.
    pub previous: PeriodTotals,
}

/// The records a review is computed from: every incident open at some time during the
/// period or the one before, every alert first raised in either, and every finding open at
/// some time during either. Facts outside a period are left out, so a caller may pass more.
#[derive(Debug, Clone, Default)]
pub struct ReviewFacts {
    /// The incidents.
    pub incidents: Vec<Incident>,
    /// The alerts.
    pub alerts: Vec<AlertFacts>,
    /// The findings.
    pub findings: Vec<Finding>,
    /// With a tenant asked for: whether any incident or alert ever had it (the names are
    /// case-sensitive); `true` without one.
    pub tenant_seen: bool,
}

/// Computes the review of `period`, with `previous` for the comparison.
pub fn monthly_review(
    period: ReviewPeriod,
    previous: &ReviewPeriod,
    timezone: &str,
    tenant: Option<&str>,
    facts: &ReviewFacts,
    now: DateTime<Utc>,
) -> MonthlyReview {
    let (incidents, alerts) = (facts.incidents.as_slice(), facts.alerts.as_slice());
    MonthlyReview {
        timezone: timezone.to_owned(),
        tenant: tenant.map(str::to_owned),
        computed_at: now,
        warnings: match tenant {
            Some(t) if !facts.tenant_seen => vec![format!(
                "no incident or alert has ever had the tenant {t:?}: the figures below are all zero (tenant names are case-sensitive; check the spelling)"
            )],
            _ => Vec::new(),
        },
        incidents: incident_counts(&period, incidents),
        response_times: response_times(&period, incidents),
        data_breaches: data_breaches(&period, incidents, now),
        open_critical: open_critical(&period, incidents, now),
        post_mortems: post_mortems(&period, incidents, now),
        alerts: alert_counts(&period, alerts),
        findings: finding_counts(&period, &facts.findings, now),
        previous: totals(previous, incidents, alerts),
        period,
    }
}

fn totals(period: &ReviewPeriod, incidents: &[Incident], alerts: &[AlertFacts]) -> PeriodTotals {
    let counts = incident_counts(period, incidents);
    let times = response_times(period, incidents);
    PeriodTotals {
        label: period.label.clone(),
        opened: counts.opened,
        confirmed: counts.confirmed,
        customer_facing: counts.customer_facing,
        closed: counts.closed,
        open_at_end: counts.open_at_end,
        median_time_to_contain_seconds: times.time_to_contain.median_seconds,
        median_time_to_recover_seconds: times.time_to_recover.median_seconds,
        alerts_raised: alerts
            .iter()
            .filter(|a| period.holds(Some(a.first_seen)))
            .count() as u64,
    }
}

/// The incident's phase just before `t`, from its phase changes.
fn phase_at(i: &Incident, t: DateTime<Utc>) -> Phase {
    let mut changes = i.phase_history.iter();
    match changes.clone().rev().find(|c| c.at < t) {
        Some(c) => c.to,
        None => changes.next().map_or(i.phase, |c| c.from),
    }
}

/// The incident's severity just before `t`, from its severity changes.
fn severity_at(i: &Incident, t: DateTime<Utc>) -> Severity {
    i.severity_history
        .iter()
        .rev()
        .find(|c| c.at < t)
        .map_or(i.severity, |c| c.to)
}

/// Whether it had been detected and was not closed just before `t`.
fn open_at(i: &Incident, t: DateTime<Utc>) -> bool {
    i.timestamps.detected.is_some_and(|d| d < t) && phase_at(i, t) != Phase::Closed
}

/// Whether a phase change closed it during the period.
fn closed_in(i: &Incident, period: &ReviewPeriod) -> bool {
    i.phase_history
        .iter()
        .any(|c| c.to == Phase::Closed && period.holds(Some(c.at)))
}

/// When its post-mortem was first written, if it was (later versions replace the text, not
/// the fact that the review took place then).
fn post_mortem_written(i: &Incident) -> Option<DateTime<Utc>> {
    i.post_mortem_history
        .iter()
        .chain(i.post_mortem.as_ref())
        .map(|p| p.recorded_at)
        .min()
}

fn incident_counts(period: &ReviewPeriod, incidents: &[Incident]) -> IncidentCounts {
    let mut c = IncidentCounts::default();
    for i in incidents {
        let ts = &i.timestamps;
        if period.holds(ts.detected) {
            c.opened += 1;
            *c.opened_by_severity
                .entry(severity_at(i, period.to).as_str().to_owned())
                .or_default() += 1;
            let category = i.category.map_or("uncategorised", |c| c.as_str());
            *c.opened_by_category.entry(category.to_owned()).or_default() += 1;
            c.customer_facing += u64::from(i.customer_facing);
        }
        c.confirmed += u64::from(period.holds(ts.declared));
        c.closed += u64::from(closed_in(i, period));
        c.open_at_end += u64::from(open_at(i, period.to));
    }
    c
}

fn response_times(period: &ReviewPeriod, incidents: &[Incident]) -> ResponseTimes {
    let measure = |end: TimestampKind, start: TimestampKind| {
        Measure::of(
            incidents
                .iter()
                .filter(|i| period.holds(i.timestamps.get(end)))
                .filter_map(|i| {
                    let took = i.timestamps.get(end)? - i.timestamps.get(start)?;
                    Some((took.num_seconds(), i.key.to_string()))
                })
                .collect(),
        )
    };
    use TimestampKind::*;
    ResponseTimes {
        time_to_detect: measure(Detected, FirstActivity),
        time_to_acknowledge: measure(Acknowledged, Detected),
        time_to_contain: measure(Contained, Detected),
        time_to_recover: measure(Recovered, Detected),
    }
}

/// The incident as it stood at `at` (the period's end, or now while it runs).
fn brief(i: &Incident, at: DateTime<Utc>, why: String, since: DateTime<Utc>) -> IncidentBrief {
    IncidentBrief {
        key: i.key,
        title: i.title.clone(),
        severity: severity_at(i, at),
        phase: phase_at(i, at),
        why,
        since,
    }
}

fn data_breaches(
    period: &ReviewPeriod,
    incidents: &[Incident],
    now: DateTime<Utc>,
) -> Vec<IncidentBrief> {
    let (as_of, _) = as_of(period, now);
    let mut out: Vec<IncidentBrief> = incidents
        .iter()
        .filter_map(|i| {
            let breach = i.first_breach()?;
            // An assessment stored without its time (older records) dates from detection.
            let at = breach.assessed_at.or(i.timestamps.detected)?;
            period
                .holds(Some(at))
                .then(|| brief(i, as_of, format!("data breach: {}", breach.describe()), at))
        })
        .collect();
    out.sort_by_key(|b| b.since);
    out
}

fn open_critical(
    period: &ReviewPeriod,
    incidents: &[Incident],
    now: DateTime<Utc>,
) -> Vec<IncidentBrief> {
    let (as_of, when) = as_of(period, now);
    let mut out: Vec<IncidentBrief> = incidents
        .iter()
        .filter(|i| open_at(i, period.to) && severity_at(i, as_of) <= Severity::Sev2)
        .filter_map(|i| {
            let detected = i.timestamps.detected?;
            let days = (as_of - detected).num_days();
            Some(brief(
                i,
                as_of,
                format!("{} open {days} days {when}", severity_at(i, as_of)),
                detected,
            ))
        })
        .collect();
    out.sort_by_key(|b| b.since);
    out
}

/// The time ages are told at, and how to say it: the period's end, or now while it runs.
fn as_of(period: &ReviewPeriod, now: DateTime<Utc>) -> (DateTime<Utc>, &'static str) {
    if now < period.to {
        (now, "so far")
    } else {
        (period.to, "at the month's end")
    }
}

fn post_mortems(period: &ReviewPeriod, incidents: &[Incident], now: DateTime<Utc>) -> PostMortems {
    let (as_of, when) = as_of(period, now);
    let written = incidents
        .iter()
        .filter(|i| period.holds(post_mortem_written(i)))
        .count() as u64;
    let mut due: Vec<IncidentBrief> = incidents
        .iter()
        .filter(|i| i.needs_post_mortem())
        .filter(|i| post_mortem_written(i).is_none_or(|t| t >= period.to))
        .filter_map(|i| {
            let recovered = i.timestamps.recovered.filter(|r| *r < period.to)?;
            let days = (as_of - recovered).num_days();
            Some(brief(
                i,
                as_of,
                format!("post-mortem required, not written {days} days after recovery {when}"),
                recovered,
            ))
        })
        .collect();
    due.sort_by_key(|b| b.since);
    let mut reviewed: Vec<PostMortemBrief> = incidents
        .iter()
        .filter_map(|i| {
            let pm = i.post_mortem.as_ref()?;
            let first = post_mortem_written(i)?;
            period.holds(Some(first)).then(|| PostMortemBrief {
                key: i.key,
                title: i.title.clone(),
                severity: i.severity,
                summary: pm.summary.clone(),
                contributing_factors: pm
                    .contributing_factors
                    .iter()
                    .map(|f| f.kind.as_str().to_owned())
                    .collect(),
                detection_improvements: pm.detection_improvements.len() as u64,
                recorded_at: first,
            })
        })
        .collect();
    reviewed.sort_by_key(|b| b.recorded_at);
    let mut contributing_factors = BTreeMap::new();
    for kind in reviewed.iter().flat_map(|b| &b.contributing_factors) {
        *contributing_factors.entry(kind.clone()).or_default() += 1;
    }
    PostMortems {
        written,
        reviewed,
        contributing_factors,
        due,
    }
}

fn finding_counts(
    period: &ReviewPeriod,
    findings: &[Finding],
    now: DateTime<Utc>,
) -> FindingCounts {
    let (as_of, _) = as_of(period, now);
    let today = as_of.date_naive();
    let mut c = FindingCounts::default();
    let mut teams: BTreeMap<&str, TeamFindings> = BTreeMap::new();
    for f in findings {
        let team = teams.entry(&f.team).or_insert_with(|| TeamFindings {
            team: f.team.clone(),
            ..TeamFindings::default()
        });
        if period.holds(Some(f.created_at)) {
            c.raised += 1;
            team.raised += 1;
        }
        if period.holds(f.closed_at) {
            c.closed += 1;
            team.closed += 1;
            c.wont_fix += u64::from(f.state == FindingState::WontFix);
        }
        let open = f.created_at < period.to && f.closed_at.is_none_or(|t| t >= period.to);
        if !open {
            continue;
        }
        c.open_at_end += 1;
        team.open += 1;
        if f.due.is_some_and(|due| due < today) {
            c.overdue_at_end += 1;
            team.overdue += 1;
            c.overdue.push(FindingBrief {
                key: f.key,
                incident: f.incident,
                title: f.title.clone(),
                team: f.team.clone(),
                state: f.state,
                due: f.due,
            });
        }
    }
    c.overdue.sort_by_key(|f| (f.due, f.key));
    c.overdue.truncate(OVERDUE_FINDINGS_NAMED);
    let mut by_team: Vec<TeamFindings> = teams
        .into_values()
        .filter(|t| t.raised + t.closed + t.open > 0)
        .collect();
    by_team.sort_by(|a, b| {
        (b.overdue, b.open)
            .cmp(&(a.overdue, a.open))
            .then_with(|| a.team.cmp(&b.team))
    });
    c.by_team = by_team;
    c
}

fn alert_counts(period: &ReviewPeriod, alerts: &[AlertFacts]) -> AlertCounts {
    let mut c = AlertCounts::default();
    let mut taken_up = Vec::new();
    let mut rules: BTreeMap<&str, RuleAlerts> = BTreeMap::new();
    for a in alerts.iter().filter(|a| period.holds(Some(a.first_seen))) {
        c.raised += 1;
        *c.by_source.entry(a.source.as_str().to_owned()).or_default() += 1;
        let false_positive = a.dismissal == Some(Dismissal::FalsePositive);
        let outcome = match (a.became_incident, a.dismissal, a.status) {
            (true, ..) => &mut c.became_incidents,
            (false, Some(Dismissal::FalsePositive), _) => &mut c.false_positives,
            (false, Some(Dismissal::Benign), _) => &mut c.benign,
            (false, None, AlertStatus::Resolved) => &mut c.resolved,
            (false, None, AlertStatus::Triggered) => &mut c.untouched,
            (false, None, _) => &mut c.acknowledged,
        };
        *outcome += 1;
        if let Some(t) = a.taken_up {
            taken_up.push(((t - a.first_seen).num_seconds(), a.key.clone()));
        }
        if let Some(rule) = a.rule_id.as_deref() {
            let r = rules.entry(rule).or_insert_with(|| RuleAlerts {
                rule_id: rule.to_owned(),
                title: String::new(),
                alerts: 0,
                false_positives: 0,
            });
            r.alerts += 1;
            r.false_positives += u64::from(false_positive);
            r.title.clone_from(&a.title);
        }
    }
    c.time_to_take_up = Measure::of(taken_up);
    let mut rules: Vec<RuleAlerts> = rules.into_values().collect();
    rules.sort_by(|a, b| b.alerts.cmp(&a.alerts).then(a.rule_id.cmp(&b.rule_id)));
    rules.truncate(NOISIEST_RULES);
    c.noisiest_rules = rules;
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::FindingKind;
    use crate::ids::IncidentId;
    use crate::impact::DataImpact;
    use crate::incident::{NewIncident, PostMortem};
    use crate::marking::Category;
    use crate::postmortem::{ContributingFactor, FactorKind};
    use chrono::{Duration, TimeZone};

    /// Hours from the start of November 2026.
    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    fn month(label: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> ReviewPeriod {
        ReviewPeriod {
            label: label.into(),
            from,
            to,
        }
    }

    fn november() -> ReviewPeriod {
        month("2026-11", t(0), t(30 * 24))
    }

    fn october() -> ReviewPeriod {
        month("2026-10", t(-31 * 24), t(0))
    }

    /// An incident detected at `detected` that moves one phase forward at each time of
    /// `steps` (analysis, containment, eradication, recovery, post-incident, closed).
    fn incident(n: u64, sev: Severity, detected: DateTime<Utc>, steps: &[i64]) -> Incident {
        let mut new = NewIncident::new(&format!("incident {n}"), "s", sev);
        new.detected = Some(detected);
        new.category = Some(Category::Malware);
        let mut i = Incident::open(
            IncidentId::new(),
            IncidentKey::new(n).unwrap(),
            new,
            "ann",
            detected,
        )
        .unwrap();
        for &h in steps {
            let to = i.phase.next().unwrap();
            if to == Phase::Recovery {
                i.root_cause = Some("phished".into());
            }
            if to == Phase::Closed && i.post_mortem.is_none() {
                i.post_mortem = Some(PostMortem {
                    summary: "done".into(),
                    contributing_factors: vec![ContributingFactor {
                        kind: FactorKind::ProceduralFailure,
                        description: "the runbook was skipped".into(),
                    }],
                    participants: Vec::new(),
                    went_well: Vec::new(),
                    went_badly: Vec::new(),
                    detection_improvements: Vec::new(),
                    recorded_by: "ann".into(),
                    recorded_at: t(h),
                });
            }
            i.change_phase(to, "ann", None, t(h)).unwrap();
        }
        i
    }

    fn review(incidents: &[Incident], alerts: &[AlertFacts]) -> MonthlyReview {
        review_of(ReviewFacts {
            incidents: incidents.to_vec(),
            alerts: alerts.to_vec(),
            findings: Vec::new(),
            tenant_seen: true,
        })
    }

    fn review_of(facts: ReviewFacts) -> MonthlyReview {
        monthly_review(november(), &october(), "UTC", None, &facts, t(31 * 24))
    }

    #[test]
    fn each_fact_counts_in_the_month_it_happened() {
        let incidents = [
            // Opened in October, contained and closed in November.
            incident(1, Severity::Sev3, t(-48), &[-47, -40, 10, 20, 30, 40]),
            // Opened in November, still in analysis at its end.
            incident(2, Severity::Sev3, t(100), &[101]),
            // Opened and closed in October: not open in November at all.
            incident(3, Severity::Sev4, t(-100), &[-99, -98, -97, -96, -95, -94]),
            // Opened in December.
            incident(4, Severity::Sev4, t(31 * 24), &[]),
        ];
        let r = review(&incidents, &[]);
        assert_eq!(r.incidents.opened, 1);
        assert_eq!(r.incidents.closed, 1);
        assert_eq!(r.incidents.confirmed, 0, "INC-1 was confirmed in October");
        assert_eq!(r.incidents.open_at_end, 1);
        assert_eq!(
            r.incidents.opened_by_severity,
            BTreeMap::from([(String::from("SEV3"), 1)])
        );
        assert_eq!(
            r.incidents.opened_by_category,
            BTreeMap::from([(String::from("malware"), 1)])
        );
        // INC-1 was contained (moved to eradication) at hour 10 of November, 58 hours after
        // its detection.
        assert_eq!(r.response_times.time_to_contain.count, 1);
        assert_eq!(
            r.response_times.time_to_contain.median_seconds,
            Some(58 * 3600)
        );
        assert_eq!(
            r.response_times.time_to_contain.slowest.as_deref(),
            Some("INC-1")
        );
        // October: INC-1 and INC-3 opened there, INC-3 closed there, INC-1 open at its end.
        assert_eq!(r.previous.label, "2026-10");
        assert_eq!(
            (r.previous.opened, r.previous.closed, r.previous.open_at_end),
            (2, 1, 1)
        );
    }

    #[test]
    fn medians_and_percentiles_are_values_some_incident_had() {
        // Ten incidents acknowledged 1 … 10 hours after detection, all in November.
        let incidents: Vec<Incident> = (1..=10)
            .map(|n| incident(n, Severity::Sev4, t(0), &[n as i64]))
            .collect();
        let m = review(&incidents, &[]).response_times.time_to_acknowledge;
        assert_eq!(m.count, 10);
        assert_eq!(m.median_seconds, Some(5 * 3600));
        assert_eq!(m.p90_seconds, Some(9 * 3600));
        assert_eq!(m.max_seconds, Some(10 * 3600));
        assert_eq!(m.slowest.as_deref(), Some("INC-10"));
        let none = review(&[], &[]).response_times.time_to_recover;
        assert_eq!(none, Measure::default());
    }

    #[test]
    fn breaches_critical_incidents_and_due_post_mortems_are_named() {
        let mut breach = incident(1, Severity::Sev3, t(5), &[6]);
        breach.data_impact = DataImpact {
            personal_data: true,
            disclosed: true,
            assessed_at: Some(t(7)),
            ..DataImpact::default()
        };
        // Rated SEV2 once, lowered since, recovered in November, no post-mortem.
        let mut lowered = incident(2, Severity::Sev2, t(1), &[2, 3, 4, 5, 6]);
        lowered
            .change_severity(Severity::Sev4, "ann", "smaller than feared", t(7))
            .unwrap();
        // SEV1 still in containment at the month's end.
        let critical = incident(3, Severity::Sev1, t(24), &[25, 26]);
        // SEV1 with its post-mortem written in November.
        let written = incident(4, Severity::Sev1, t(1), &[2, 3, 4, 5, 6, 7]);
        let r = review(&[breach, lowered, critical, written], &[]);
        let keys = |b: &[IncidentBrief]| b.iter().map(|b| b.key.to_string()).collect::<Vec<_>>();
        assert_eq!(keys(&r.data_breaches), ["INC-1"]);
        assert!(
            r.data_breaches[0].why.contains("personal data"),
            "{}",
            r.data_breaches[0].why
        );
        assert_eq!(keys(&r.open_critical), ["INC-3"]);
        assert_eq!(keys(&r.post_mortems.due), ["INC-2"]);
        assert_eq!(r.post_mortems.reviewed.len(), 1);
        assert_eq!(r.post_mortems.reviewed[0].key.to_string(), "INC-4");
        assert_eq!(
            r.post_mortems.contributing_factors,
            BTreeMap::from([(String::from("procedural_failure"), 1)])
        );
        assert!(
            r.post_mortems.due[0]
                .why
                .contains("days after recovery at the month's end"),
            "{}",
            r.post_mortems.due[0].why
        );
        assert_eq!(r.post_mortems.written, 1);
    }

    #[test]
    fn alerts_are_counted_with_what_became_of_them() {
        let alert = |n: u64, rule: &str, status, dismissal, taken_up: Option<i64>| AlertFacts {
            key: format!("ALR-{n}"),
            source: AlertSource::Detection,
            status,
            dismissal,
            became_incident: false,
            first_seen: t(n as i64),
            taken_up: taken_up.map(|h| t(n as i64 + h)),
            rule_id: Some(rule.into()),
            title: format!("rule {rule}"),
        };
        let alerts = [
            alert(
                1,
                "a",
                AlertStatus::Dismissed,
                Some(Dismissal::FalsePositive),
                Some(1),
            ),
            alert(
                2,
                "a",
                AlertStatus::Dismissed,
                Some(Dismissal::FalsePositive),
                Some(3),
            ),
            alert(3, "b", AlertStatus::Triggered, None, None),
            AlertFacts {
                became_incident: true,
                source: AlertSource::Report,
                rule_id: None,
                ..alert(4, "-", AlertStatus::Acknowledged, None, Some(2))
            },
            // Raised in October.
            AlertFacts {
                first_seen: t(-5),
                ..alert(5, "a", AlertStatus::Resolved, None, None)
            },
        ];
        let r = review(&[], &alerts);
        let a = &r.alerts;
        assert_eq!(
            (a.raised, a.false_positives, a.untouched, a.became_incidents),
            (4, 2, 1, 1)
        );
        assert_eq!(
            a.by_source,
            BTreeMap::from([(String::from("detection"), 3), (String::from("report"), 1)])
        );
        assert_eq!(a.time_to_take_up.count, 3);
        assert_eq!(a.time_to_take_up.median_seconds, Some(2 * 3600));
        assert_eq!(a.time_to_take_up.slowest.as_deref(), Some("ALR-2"));
        assert_eq!(a.noisiest_rules.len(), 2);
        assert_eq!(
            (
                a.noisiest_rules[0].rule_id.as_str(),
                a.noisiest_rules[0].alerts,
                a.noisiest_rules[0].false_positives
            ),
            ("a", 2, 2)
        );
        assert_eq!(r.previous.alerts_raised, 1);
    }

    #[test]
    fn findings_are_counted_per_team_with_the_overdue_named() {
        let finding =
            |n: u64, team: &str, created: i64, due: Option<&str>, closed: Option<i64>| Finding {
                key: FindingKey::new(n).unwrap(),
                incident: IncidentKey::new(1).unwrap(),
                title: format!("finding {n}"),
                description: None,
                kind: FindingKind::Prevent,
                team: team.into(),
                assignee: None,
                due: due.map(|d| d.parse().unwrap()),
                state: if closed.is_some() {
                    FindingState::Done
                } else {
                    FindingState::Open
                },
                ticket: None,
                raised_in: Phase::PostIncident,
                created_by: "ann".into(),
                created_at: t(created),
                updated_at: t(created),
                closed_at: closed.map(t),
                history: Vec::new(),
            };
        let findings = vec![
            // Raised in October, due in November, still open: overdue at the month's end.
            finding(1, "identity", -100, Some("2026-11-15"), None),
            // Raised and done in November.
            finding(2, "identity", 10, Some("2026-11-20"), Some(20)),
            // Raised in November, due in December: open, not overdue.
            finding(3, "platform", 30, Some("2026-12-10"), None),
            // Done in October: not open in November.
            finding(4, "platform", -200, None, Some(-150)),
            // Closed in December: open at November's end, and overdue then.
            finding(5, "platform", 40, Some("2026-11-02"), Some(31 * 24 + 5)),
        ];
        let r = review_of(ReviewFacts {
            findings,
            ..ReviewFacts::default()
        });
        let f = &r.findings;
        assert_eq!(
            (f.raised, f.closed, f.open_at_end, f.overdue_at_end),
            (3, 1, 3, 2)
        );
        let overdue: Vec<String> = f.overdue.iter().map(|b| b.key.to_string()).collect();
        assert_eq!(overdue, ["FND-5", "FND-1"]);
        let teams: Vec<(&str, u64, u64, u64, u64)> = f
            .by_team
            .iter()
            .map(|t| (t.team.as_str(), t.raised, t.closed, t.open, t.overdue))
            .collect();
        assert_eq!(teams, [("platform", 2, 0, 2, 1), ("identity", 1, 1, 1, 1)]);
    }

    /// Work done after a month (a reopening, a lowered severity, a rewritten post-mortem)
    /// leaves that month's figures as they were.
    #[test]
    fn later_work_does_not_change_a_past_month() {
        // Closed in November, reopened in December.
        let mut reopened = incident(1, Severity::Sev3, t(1), &[2, 3, 4, 5, 6, 7]);
        reopened
            .change_phase(
                Phase::PostIncident,
                "ann",
                Some("came back"),
                t(31 * 24 + 2),
            )
            .unwrap();
        // A SEV2 open at November's end, lowered to SEV4 in December.
        let mut lowered = incident(2, Severity::Sev2, t(10), &[11]);
        lowered
            .change_severity(Severity::Sev4, "ann", "a travelling user", t(31 * 24 + 3))
            .unwrap();
        // A SEV1 whose post-mortem was written in November and rewritten in December.
        let mut rewritten = incident(3, Severity::Sev1, t(1), &[2, 3, 4, 5, 6, 7]);
        let mut again = rewritten.post_mortem.clone().unwrap();
        again.recorded_at = t(31 * 24 + 4);
        rewritten.post_mortem_history.push(std::mem::replace(
            rewritten.post_mortem.as_mut().unwrap(),
            again,
        ));
        let r = review(&[reopened, lowered, rewritten], &[]);
        assert_eq!(
            r.incidents.closed, 2,
            "INC-1 and INC-3 were closed in November"
        );
        assert_eq!(r.incidents.open_at_end, 1);
        assert_eq!(r.incidents.opened_by_severity.get("SEV2"), Some(&1));
        assert_eq!(r.open_critical.len(), 1);
        assert_eq!(
            (
                r.open_critical[0].key.to_string(),
                r.open_critical[0].severity,
                r.open_critical[0].phase
            ),
            ("INC-2".to_owned(), Severity::Sev2, Phase::Analysis)
        );
        // INC-1's and INC-3's, both first written in November.
        assert_eq!(r.post_mortems.written, 2);
        assert!(r.post_mortems.due.is_empty());
        let inc3 = r
            .post_mortems
            .reviewed
            .iter()
            .find(|b| b.key.to_string() == "INC-3");
        assert_eq!(inc3.map(|b| b.recorded_at), Some(t(7)));
    }
}
