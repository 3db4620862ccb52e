//! The incident record and the rules that change it: opening, patching fields, severity
//! adjustments, phase transitions (through the guards of [`crate::phase`]), timestamp
//! corrections and indicators. Every method takes the actor and the time from the caller and
//! either changes the incident and returns what it recorded, or returns an error and changes
//! nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::DomainError;
use crate::evidence::Evidence;
use crate::finding::{Finding, FindingKey, FindingUpdate, NewFinding, findings_change};
use crate::ids::{IncidentId, IncidentKey};
use crate::impact::{DataImpact, DataImpactPatch};
use crate::indicator::{Indicator, IndicatorValue};
use crate::marking::{Category, Pap, Technique, Tlp};
use crate::phase::{Phase, PhaseChange, TransitionFacts, check_transition};
use crate::postmortem::NewPostMortem;
use crate::severity::{
    ImpactFactors, Priority, PriorityChange, Severity, SeverityChange, derive_priority,
};
use crate::timestamps::{TimestampCorrection, TimestampKind, Timestamps};

/// Longest title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest summary or other long text, in characters.
pub const MAX_TEXT: usize = 20_000;
/// Longest service or tenant name, in characters.
pub const MAX_NAME: usize = 200;

/// An indicator as given by a caller, before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewIndicator {
    /// The kind (`ip`, `network`, `domain`, `url`, `md5`, `sha1`, `sha256`, `hash` to infer,
    /// `email`, `user_account`, `host`, `process`, `file_path`, `other`).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::IndicatorKindInput))]
    pub kind: String,
    /// The raw value; it is normalised.
    pub value: String,
    /// Where or how it was seen.
    #[serde(default)]
    pub note: Option<String>,
}

/// A recommended next step as given by a caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewNextStep {
    /// What to do.
    pub text: String,
    /// Who should do it.
    #[serde(default)]
    pub owner: Option<String>,
    /// Whether it is done.
    #[serde(default)]
    pub done: bool,
}

/// A recommended next step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NextStep {
    /// What to do.
    pub text: String,
    /// Who should do it.
    pub owner: Option<String>,
    /// Whether it is done.
    pub done: bool,
}

pub use crate::postmortem::PostMortem;

/// What is needed to open an incident. Free-text lists (techniques, indicators) are validated by
/// [`Incident::open`], which names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewIncident {
    /// Short title.
    pub title: String,
    /// What happened, as known now.
    pub summary: String,
    /// The preliminary severity.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::SeverityInput))]
    pub severity: Severity,
    /// Why this preliminary severity (optional).
    #[serde(default)]
    pub severity_reason: Option<String>,
    /// Category, when known.
    #[serde(default)]
    pub category: Option<Category>,
    /// TLP marking (default amber).
    #[serde(default)]
    pub tlp: Option<Tlp>,
    /// PAP marking (default amber).
    #[serde(default)]
    pub pap: Option<Pap>,
    /// MITRE ATT&CK technique ids.
    #[serde(default)]
    pub techniques: Vec<String>,
    /// Indicators that led to the detection.
    #[serde(default)]
    pub indicators: Vec<NewIndicator>,
    /// Impacted services.
    #[serde(default)]
    pub services: Vec<String>,
    /// Impacted tenants.
    #[serde(default)]
    pub tenants: Vec<String>,
    /// Whether a customer-facing service is impacted.
    #[serde(default)]
    pub customer_facing: bool,
    /// First malicious activity, when known.
    #[serde(default)]
    pub first_activity: Option<DateTime<Utc>>,
    /// When it was detected (default: now).
    #[serde(default)]
    pub detected: Option<DateTime<Utc>>,
    /// When a responder took it up, if that came before the incident was opened (an
    /// acknowledged alert it is declared from); otherwise the move to analysis sets it.
    #[serde(default)]
    pub acknowledged: Option<DateTime<Utc>>,
    /// Data-impact assessment, when already known.
    #[serde(default)]
    pub data_impact: Option<DataImpact>,
    /// Recommended next steps.
    #[serde(default)]
    pub next_steps: Vec<NewNextStep>,
}

impl NewIncident {
    /// A minimal request with everything optional left empty.
    pub fn new(title: &str, summary: &str, severity: Severity) -> Self {
        NewIncident {
            title: title.to_owned(),
            summary: summary.to_owned(),
            severity,
            severity_reason: None,
            category: None,
            tlp: None,
            pap: None,
            techniques: Vec::new(),
            indicators: Vec::new(),
            services: Vec::new(),
            tenants: Vec::new(),
            customer_facing: false,
            first_activity: None,
            detected: None,
            acknowledged: None,
            data_impact: None,
            next_steps: Vec::new(),
        }
    }
}

/// A change to an incident's plain fields: only the fields present change. Severity, phase,
/// timestamps and indicators have their own operations because they keep a history.
///
/// Every part is applied to the record as it is when the change is written: the data-impact
/// flags given change and the others stay, and `add_*`/`remove_*` edit the lists (services,
/// tenants, techniques, next steps) as they are then, so that changes several people make at
/// once all stay. `services`, `tenants`, `techniques` and `next_steps` replace a list whole.
///
/// `null` clears a field the record may hold empty: the category, the lists (techniques,
/// services, tenants, next steps: as `[]` does) and the root cause (until the incident reaches
/// recovery, whose guard needs one). A field that always has a value (title, summary, TLP,
/// PAP, customer-facing, data impact) refuses `null`, naming it: it is never read as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IncidentPatch {
    /// New title; cannot be `null`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "not_null"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub title: Option<String>,
    /// New summary; cannot be `null`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "not_null"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub summary: Option<String>,
    /// New category; `null` clears it (an incident may be opened without one, before anyone
    /// knows what it is). Absent: unchanged.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Category>, nullable))]
    pub category: Option<Option<Category>>,
    /// New TLP; cannot be `null`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "not_null"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub tlp: Option<Tlp>,
    /// New PAP; cannot be `null`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "not_null"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub pap: Option<Pap>,
    /// Replaces the technique ids; `null` or `[]` clears them.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "null_as_empty"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable))]
    pub techniques: Option<Vec<String>>,
    /// Replaces the impacted services; `null` or `[]` clears them.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "null_as_empty"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable))]
    pub services: Option<Vec<String>>,
    /// Replaces the impacted tenants; `null` or `[]` clears them.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "null_as_empty"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable))]
    pub tenants: Option<Vec<String>>,
    /// Whether a customer-facing service is impacted; cannot be `null`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "not_null"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub customer_facing: Option<bool>,
    /// Changes the data-impact assessment: the flags given change, those left out keep their
    /// value as it is when the change is written (so two people recording different flags at
    /// once both keep theirs); assessed_by/at are set from the caller. Cannot be `null`: an
    /// assessment of no impact says so with every flag false.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "not_null"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub data_impact: Option<DataImpactPatch>,
    /// Replaces the recommended next steps; `null` or `[]` clears them.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "null_as_empty"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable))]
    pub next_steps: Option<Vec<NewNextStep>>,
    /// Adds impacted services to those the incident has when the change is written (one
    /// already there is left as it is); not with `services`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_services: Vec<String>,
    /// Removes impacted services from those the incident has; each must be one of them. Not
    /// with `services`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_services: Vec<String>,
    /// Adds impacted tenants, as `add_services` does; not with `tenants`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_tenants: Vec<String>,
    /// Removes impacted tenants, as `remove_services` does; not with `tenants`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_tenants: Vec<String>,
    /// Adds ATT&CK technique ids, as `add_services` does; not with `techniques`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_techniques: Vec<String>,
    /// Removes ATT&CK technique ids, as `remove_services` does; not with `techniques`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_techniques: Vec<String>,
    /// Appends recommended next steps to those the incident has; not with `next_steps`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_next_steps: Vec<NewNextStep>,
    /// Records the root cause; `null` clears it while the incident has not reached recovery
    /// (from there on the `root_cause_before_recovery` guard needs one: correct it instead).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, nullable))]
    pub root_cause: Option<Option<String>>,
}

/// A field that is present: `Some` of its value, `null` included (`Some(None)`), where an
/// absent one is `None` by `#[serde(default)]`. Tells "clear it" from "leave it".
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// A list that is present: `null` reads as the empty list, which clears it, as `[]` does.
fn null_as_empty<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<Vec<T>>::deserialize(d).map(|v| Some(v.unwrap_or_default()))
}

/// A field that is present and must hold a value: `null` is refused rather than read as
/// absent, so a request to clear it is never silently ignored.
pub(crate) fn not_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<T>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(serde::de::Error::custom(
            "cannot be cleared (null); give a value, or leave the field out to keep it",
        )),
    }
}

wire_enum!(
    /// What an action-log entry records.
    ActionKind ("kind") {
        /// A note or observation.
        Note = "note",
        /// Investigation or analysis work.
        Investigation = "investigation",
        /// A containment action.
        Containment = "containment",
        /// An eradication action.
        Eradication = "eradication",
        /// A recovery action.
        Recovery = "recovery",
        /// Communication with people inside or outside.
        Communication = "communication",
        /// Anything else.
        Other = "other",
        /// A change to the incident's record (a field edited, the scope widened, a link made or
        /// removed), written by Vigil with the change itself; never given by a caller.
        Change = "change",
    }
);

impl ActionKind {
    /// Whether a person may log an entry of this kind: every kind but [`ActionKind::Change`],
    /// which Vigil writes with the change it records.
    pub fn given_by_people(self) -> bool {
        self != ActionKind::Change
    }
}

/// Longest quotation of a text in an action-log entry describing a change, in characters.
const QUOTED: usize = 80;

/// `text` quoted on one line for a change's entry: line breaks and tabs as spaces, cut at
/// [`QUOTED`] characters with `…`.
fn quoted(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = flat.chars().take(QUOTED).collect();
    if flat.chars().count() > QUOTED {
        out.push('…');
    }
    format!("\"{out}\"")
}

/// A list's change as `+ added, − removed`; `None` when it holds the same entries.
fn list_change<T: PartialEq + std::fmt::Display>(
    name: &str,
    before: &[T],
    after: &[T],
    show: impl Fn(&T) -> String,
) -> Option<String> {
    let added: Vec<String> = after
        .iter()
        .filter(|a| !before.contains(a))
        .map(&show)
        .collect();
    let removed: Vec<String> = before
        .iter()
        .filter(|b| !after.contains(b))
        .map(&show)
        .collect();
    if added.is_empty() && removed.is_empty() {
        return (before != after).then(|| format!("{name} reordered"));
    }
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("+ {}", added.join(", ")));
    }
    if !removed.is_empty() {
        parts.push(format!("− {}", removed.join(", ")));
    }
    Some(format!("{name} {}", parts.join(", ")))
}

/// `before → after` for a field shown by `show`, `None` when it is the same.
fn field_change<T: PartialEq>(
    name: &str,
    before: &T,
    after: &T,
    show: impl Fn(&T) -> String,
) -> Option<String> {
    (before != after).then(|| format!("{name} {} → {}", show(before), show(after)))
}

/// What a change did to an incident's record fields, in words for its action log ("title
/// "Phish" → "Credential phish"; services + crm; TLP amber → red"), texts quoted short; `None`
/// when none of them changed. Severity, phase, timestamps, indicators and evidence are left
/// out: each keeps its own history with who and when. The post-mortem (outlined, see
/// [`PostMortem::outline`]) and the findings raised or changed are in, so that the log says
/// when the review was written or rewritten and what became of each work item.
pub fn record_changes(before: &Incident, after: &Incident) -> Option<String> {
    let opt = |v: &Option<String>| v.as_deref().map_or_else(|| "none".to_owned(), quoted);
    let yes_no = |v: &bool| if *v { "yes" } else { "no" }.to_owned();
    let mut parts: Vec<String> = [
        field_change("title", &before.title, &after.title, |t| quoted(t)),
        field_change("summary", &before.summary, &after.summary, |t| quoted(t)),
        field_change("category", &before.category, &after.category, |c| {
            c.map_or_else(|| "none".to_owned(), |c| c.to_string())
        }),
        field_change("TLP", &before.tlp, &after.tlp, ToString::to_string),
        field_change("PAP", &before.pap, &after.pap, ToString::to_string),
        list_change(
            "ATT&CK techniques",
            &before.techniques,
            &after.techniques,
            ToString::to_string,
        ),
        list_change("services", &before.services, &after.services, |s| s.clone()),
        list_change("tenants", &before.tenants, &after.tenants, |t| t.clone()),
        field_change(
            "customer-facing service impacted",
            &before.customer_facing,
            &after.customer_facing,
            yes_no,
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    parts.extend(impact_change(&before.data_impact, &after.data_impact));
    parts.extend(steps_change(&before.next_steps, &after.next_steps));
    parts.extend(field_change(
        "root cause",
        &before.root_cause,
        &after.root_cause,
        opt,
    ));
    if before.post_mortem != after.post_mortem
        && let Some(pm) = &after.post_mortem
    {
        let verb = if before.post_mortem.is_some() {
            "replaced"
        } else {
            "recorded"
        };
        parts.push(format!(
            "post-mortem {verb}: {}; {}",
            quoted(&pm.summary),
            pm.outline()
        ));
    }
    parts.extend(findings_change(&before.findings, &after.findings));
    if parts.is_empty() {
        return None;
    }
    let text = parts.join("; ");
    // Within what an entry holds, however long the lists.
    Some(if text.chars().count() > MAX_TEXT {
        let mut cut: String = text.chars().take(MAX_TEXT - 1).collect();
        cut.push('…');
        cut
    } else {
        text
    })
}

/// The data-impact assessment's change: the flags set and cleared, whether it is a data breach
/// now, and the notes; an assessment made again without a change says so.
fn impact_change(before: &DataImpact, after: &DataImpact) -> Option<String> {
    let flags = |d: &DataImpact| {
        [
            (d.customer_data, "customer data"),
            (d.personal_data, "personal data"),
            (d.disclosed, "disclosed"),
            (d.modified, "modified"),
            (d.destroyed, "destroyed"),
        ]
    };
    let mut parts = Vec::new();
    for ((was, name), (now, _)) in flags(before).into_iter().zip(flags(after)) {
        match (was, now) {
            (false, true) => parts.push(format!("+ {name}")),
            (true, false) => parts.push(format!("− {name}")),
            _ => {}
        }
    }
    if before.notes != after.notes {
        parts.push(match &after.notes {
            Some(n) => format!("notes {}", quoted(n)),
            None => "notes cleared".to_owned(),
        });
    }
    let breach = (
        before.requires_notification(),
        after.requires_notification(),
    );
    let verdict = match breach {
        (false, true) => format!(
            " — a data breach ({}): the notification process applies",
            after.describe()
        ),
        (true, false) => " — no longer a data breach".to_owned(),
        _ => String::new(),
    };
    if !parts.is_empty() {
        return Some(format!("data impact {}{verdict}", parts.join(", ")));
    }
    (before.assessed_at != after.assessed_at).then(|| {
        format!(
            "data impact assessed again, unchanged: {}",
            after.describe()
        )
    })
}

/// The next steps' change, matched by their text: added, removed, done or reopened, owner
/// changed.
fn steps_change(before: &[NextStep], after: &[NextStep]) -> Option<String> {
    let mut parts = Vec::new();
    for a in after {
        match before.iter().find(|b| b.text == a.text) {
            None => parts.push(format!("+ {}", quoted(&a.text))),
            Some(b) => {
                if b.done != a.done {
                    let now = if a.done { "done" } else { "not done" };
                    parts.push(format!("{} {now}", quoted(&a.text)));
                }
                if b.owner != a.owner {
                    let owner = a.owner.as_deref().unwrap_or("no one");
                    parts.push(format!("{} owner {}", quoted(&a.text), quoted(owner)));
                }
            }
        }
    }
    for b in before
        .iter()
        .filter(|b| !after.iter().any(|a| a.text == b.text))
    {
        parts.push(format!("− {}", quoted(&b.text)));
    }
    (!parts.is_empty()).then(|| format!("next steps {}", parts.join(", ")))
}

/// One entry of an incident's append-only action log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionEntry {
    /// Its id.
    pub id: Uuid,
    /// The incident.
    pub incident_id: IncidentId,
    /// Who acted.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// What kind of action.
    pub kind: ActionKind,
    /// What was done.
    pub text: String,
}

/// An explicit link to a related incident, seen from one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentLink {
    /// The other incident's id.
    pub incident_id: IncidentId,
    /// The other incident's key.
    pub key: IncidentKey,
    /// Why they are related.
    pub note: Option<String>,
    /// Who linked them.
    pub linked_by: String,
    /// When.
    pub linked_at: DateTime<Utc>,
}

/// A suggested related incident: it shares indicators with this one and is not linked yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkSuggestion {
    /// The other incident's id.
    pub incident_id: IncidentId,
    /// Its key.
    pub key: IncidentKey,
    /// Its title.
    pub title: String,
    /// Its phase.
    pub phase: Phase,
    /// The active indicators both share; suggestions sharing more come first.
    pub shared: Vec<IndicatorValue>,
}

/// A full incident record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Incident {
    /// Internal id.
    pub id: IncidentId,
    /// Short key, INC-42.
    pub key: IncidentKey,
    /// Title.
    pub title: String,
    /// Summary.
    pub summary: String,
    /// Current severity.
    pub severity: Severity,
    /// Priority derived from potential impact ([`derive_priority`]).
    pub priority: Priority,
    /// Every severity rating, the preliminary one first.
    pub severity_history: Vec<SeverityChange>,
    /// Every change of the priority after opening, oldest first, with what moved it.
    #[serde(default)]
    pub priority_history: Vec<PriorityChange>,
    /// Current phase.
    pub phase: Phase,
    /// Every phase change, oldest first.
    pub phase_history: Vec<PhaseChange>,
    /// Category.
    pub category: Option<Category>,
    /// TLP marking.
    pub tlp: Tlp,
    /// PAP marking.
    pub pap: Pap,
    /// MITRE ATT&CK techniques.
    pub techniques: Vec<Technique>,
    /// Impacted services.
    pub services: Vec<String>,
    /// Impacted tenants.
    pub tenants: Vec<String>,
    /// Whether a customer-facing service is impacted.
    pub customer_facing: bool,
    /// Indicators, including removed ones (marked with `removed_at`), oldest first.
    pub indicators: Vec<Indicator>,
    /// Root cause, once known.
    pub root_cause: Option<String>,
    /// The post-mortem, once written.
    pub post_mortem: Option<PostMortem>,
    /// Every post-mortem it replaced, oldest first: a review rewritten keeps what it said.
    #[serde(default)]
    pub post_mortem_history: Vec<PostMortem>,
    /// The findings raised on it (its post-mortem's or the response's), oldest first; they
    /// outlive its closing.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Data-impact assessment.
    pub data_impact: DataImpact,
    /// Every data-impact assessment, oldest first, the one in force last, each with who made
    /// it and when: an incident once assessed as a data breach needs a post-mortem before it
    /// closes even if the assessment was cleared since. Empty for an incident never assessed,
    /// or assessed only before this history was kept (the assessment of then is put first
    /// when the next one is made).
    #[serde(default)]
    pub data_impact_history: Vec<DataImpact>,
    /// Lifecycle milestones.
    pub timestamps: Timestamps,
    /// Corrections of milestones, oldest first.
    pub timestamp_corrections: Vec<TimestampCorrection>,
    /// Recommended next steps.
    pub next_steps: Vec<NextStep>,
    /// Explicit links to related incidents.
    pub links: Vec<IncidentLink>,
    /// Evidence metadata.
    pub evidence: Vec<Evidence>,
    /// Number of action-log entries (list them separately).
    pub action_count: u64,
    /// Who opened it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

fn text(field: &'static str, v: &str, max: usize) -> Result<String, DomainError> {
    let t = crate::required_text(field, v)?;
    if t.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("longer than {max} characters; shorten it"),
        ));
    }
    Ok(t)
}

fn names(field: &'static str, v: &[String]) -> Result<Vec<String>, DomainError> {
    let mut out: Vec<String> = Vec::new();
    for (i, n) in v.iter().enumerate() {
        let t = n.trim();
        if t.is_empty() {
            return Err(DomainError::invalid(
                field,
                format!("entry {i} ({n:?}) must be a non-empty name"),
            ));
        }
        // Its length and the character at fault named, as for every other one-line text.
        crate::single_line(field, t, MAX_NAME).map_err(|e| match e {
            DomainError::InvalidField { field, reason } => DomainError::InvalidField {
                field,
                reason: format!("entry {i} ({n:?}) {reason}"),
            },
            other => other,
        })?;
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    Ok(out)
}

/// Validates technique ids, de-duplicated, in order.
pub fn techniques(v: &[String]) -> Result<Vec<Technique>, DomainError> {
    let mut out: Vec<Technique> = Vec::new();
    for t in v {
        let t = Technique::parse(t)?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Validates indicators given by a caller, de-duplicated by (kind, normalised value).
pub fn indicators(
    v: &[NewIndicator],
) -> Result<Vec<(IndicatorValue, Option<String>)>, DomainError> {
    let mut out: Vec<(IndicatorValue, Option<String>)> = Vec::new();
    for (i, n) in v.iter().enumerate() {
        let value = IndicatorValue::parse(&n.kind, &n.value).map_err(|e| match e {
            DomainError::InvalidField { field, reason } => DomainError::invalid(
                "indicators",
                format!(
                    "indicator {i} ({} {:?}): {field}: {reason}",
                    n.kind, n.value
                ),
            ),
            other => other,
        })?;
        if !out.iter().any(|(v, _)| *v == value) {
            out.push((value, clean_opt(n.note.as_deref())));
        }
    }
    Ok(out)
}

/// Refuses a patch giving a whole list (`field`) and edits of it (`add_field`, `remove_field`)
/// at once: which should win is not for the server to guess.
fn whole_or_edits(field: &'static str, whole_given: bool) -> Result<(), DomainError> {
    if !whole_given {
        return Ok(());
    }
    Err(DomainError::invalid(
        field,
        format!(
            "given with add_{field} or remove_{field}; give either the whole list or the entries to add and remove"
        ),
    ))
}

/// `have` with `add` appended (entries already there left out) and `remove` taken out. An
/// entry to remove that `have` lacks is refused, naming `remove_field`: it may be misspelt, or
/// someone removed it meanwhile.
fn edit_list<T: PartialEq + Clone + std::fmt::Display>(
    have: &[T],
    add: Vec<T>,
    remove: &[T],
    remove_field: &'static str,
) -> Result<Vec<T>, DomainError> {
    if let Some(missing) = remove.iter().find(|r| !have.contains(r)) {
        let listed: Vec<String> = have.iter().map(T::to_string).collect();
        return Err(DomainError::invalid(
            remove_field,
            format!(
                "{missing} is not on the incident (it has {}); check the spelling, or read the incident again: someone may have removed it",
                if listed.is_empty() {
                    "none".to_owned()
                } else {
                    listed.join(", ")
                }
            ),
        ));
    }
    let mut out: Vec<T> = have
        .iter()
        .filter(|h| !remove.contains(h))
        .cloned()
        .collect();
    for a in add {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

/// `e` naming `field` when it names a field: an error of an `add_*` list read with the
/// checks of the whole list.
fn rename_field(e: DomainError, field: &'static str) -> DomainError {
    match e {
        DomainError::InvalidField { reason, .. } => DomainError::InvalidField { field, reason },
        other => other,
    }
}

fn clean_opt(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn next_steps(v: &[NewNextStep]) -> Result<Vec<NextStep>, DomainError> {
    v.iter()
        .map(|s| {
            Ok(NextStep {
                text: text("next_steps", &s.text, MAX_TEXT)?,
                owner: clean_opt(s.owner.as_deref()),
                done: s.done,
            })
        })
        .collect()
}

/// The phase whose reaching sets milestone `kind`; `None` for the milestones known before
/// (first activity, detection).
fn phase_setting(kind: TimestampKind) -> Option<Phase> {
    match kind {
        TimestampKind::FirstActivity | TimestampKind::Detected => None,
        TimestampKind::Acknowledged => Some(Phase::Analysis),
        TimestampKind::Declared => Some(Phase::Containment),
        TimestampKind::Contained => Some(Phase::Eradication),
        TimestampKind::Eradicated => Some(Phase::Recovery),
        TimestampKind::Recovered => Some(Phase::PostIncident),
        TimestampKind::Closed => Some(Phase::Closed),
    }
}

impl Incident {
    /// Opens an incident in phase detection with the preliminary severity. `detected` defaults
    /// to `at`. Indicators get fresh ids and are attributed to `actor`.
    pub fn open(
        id: IncidentId,
        key: IncidentKey,
        new: NewIncident,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Incident, DomainError> {
        let title = text("title", &new.title, MAX_TITLE)?;
        let summary = text("summary", &new.summary, MAX_TEXT)?;
        if let Some(reason) = &new.severity_reason {
            crate::reason_length("severity_reason", reason.trim())?;
        }
        let techniques = techniques(&new.techniques)?;
        let services = names("services", &new.services)?;
        let tenants = names("tenants", &new.tenants)?;
        let next_steps = next_steps(&new.next_steps)?;
        let indicators = indicators(&new.indicators)?
            .into_iter()
            .map(|(v, note)| Indicator {
                id: Uuid::now_v7(),
                kind: v.kind(),
                value: v.value().to_owned(),
                note,
                added_by: actor.to_owned(),
                added_at: at,
                removed_by: None,
                removed_at: None,
                removal_reason: None,
            })
            .collect();
        let assessed = new.data_impact.is_some();
        let mut data_impact = new.data_impact.unwrap_or_default();
        data_impact.check()?;
        if assessed {
            data_impact.assessed_by = Some(actor.to_owned());
            data_impact.assessed_at = Some(at);
        }
        let timestamps = Timestamps {
            first_activity: new.first_activity,
            detected: Some(new.detected.unwrap_or(at)),
            acknowledged: new.acknowledged,
            ..Default::default()
        };
        timestamps.check_given(at)?;
        // An order refused names a milestone the caller gave (`detected` defaults to now): the
        // later of the two when given, the earlier otherwise.
        timestamps.check_order().map_err(|e| match e {
            DomainError::TimestampOrder { earlier, later } => {
                let given = |kind: TimestampKind| match kind {
                    TimestampKind::FirstActivity => new.first_activity.is_some(),
                    TimestampKind::Detected => new.detected.is_some(),
                    TimestampKind::Acknowledged => new.acknowledged.is_some(),
                    _ => false,
                };
                let field = if given(later) { later } else { earlier };
                DomainError::invalid(field.as_str(), e.to_string())
            }
            other => other,
        })?;
        let mut incident = Incident {
            id,
            key,
            title,
            summary,
            severity: new.severity,
            priority: Priority::P4,
            severity_history: vec![SeverityChange::preliminary(
                new.severity,
                actor,
                new.severity_reason.as_deref(),
                at,
            )],
            priority_history: Vec::new(),
            phase: Phase::Detection,
            phase_history: Vec::new(),
            category: new.category,
            tlp: new.tlp.unwrap_or(Tlp::Amber),
            pap: new.pap.unwrap_or(Pap::Amber),
            techniques,
            services,
            tenants,
            customer_facing: new.customer_facing,
            indicators,
            root_cause: None,
            post_mortem: None,
            post_mortem_history: Vec::new(),
            findings: Vec::new(),
            data_impact_history: if assessed {
                vec![data_impact.clone()]
            } else {
                Vec::new()
            },
            data_impact,
            timestamps,
            timestamp_corrections: Vec::new(),
            next_steps,
            links: Vec::new(),
            evidence: Vec::new(),
            action_count: 0,
            created_by: actor.to_owned(),
            created_at: at,
            updated_at: at,
        };
        incident.refresh_priority();
        Ok(incident)
    }

    /// The inputs of the priority.
    pub fn impact_factors(&self) -> ImpactFactors {
        ImpactFactors {
            severity: self.severity,
            data_breach: self.data_impact.requires_notification(),
            services: self.services.len(),
            tenants: self.tenants.len(),
            customer_facing: self.customer_facing,
        }
    }

    /// Recomputes the priority from the current facts.
    pub fn refresh_priority(&mut self) {
        self.priority = derive_priority(self.impact_factors());
    }

    /// Recomputes the priority after a change by `actor`, the facts having been `before`;
    /// when it moves, records the move with what changed (`severity_reason`: why the severity
    /// changed, when it did).
    fn reprioritise(
        &mut self,
        before: ImpactFactors,
        severity_reason: Option<&str>,
        actor: &str,
        at: DateTime<Utc>,
    ) {
        let from = self.priority;
        self.refresh_priority();
        if self.priority == from {
            return;
        }
        let after = self.impact_factors();
        let mut what = Vec::new();
        if after.severity != before.severity {
            let mut s = format!("severity {} → {}", before.severity, after.severity);
            if let Some(reason) = severity_reason {
                s.push_str(&format!(" ({reason})"));
            }
            what.push(s);
        }
        if after.data_breach != before.data_breach {
            what.push(format!(
                "data impact assessed: {}",
                self.data_impact.describe()
            ));
        }
        if (after.services, after.tenants) != (before.services, before.tenants) {
            what.push(format!(
                "scope now {} service(s), {} tenant(s) (was {}, {})",
                after.services, after.tenants, before.services, before.tenants
            ));
        }
        if after.customer_facing != before.customer_facing {
            what.push(
                if after.customer_facing {
                    "a customer-facing service impacted"
                } else {
                    "no customer-facing service impacted"
                }
                .to_owned(),
            );
        }
        let change = PriorityChange {
            from,
            to: self.priority,
            actor: actor.to_owned(),
            reason: what.join("; "),
            at,
        };
        self.priority_history.push(change);
    }

    /// The indicators still on the incident.
    pub fn active_indicators(&self) -> impl Iterator<Item = &Indicator> {
        self.indicators.iter().filter(|i| i.is_active())
    }

    /// Refuses a change to the record of a closed incident: it is final until reopened. Its
    /// action log, evidence and custody, its timestamps' corrections and its links still
    /// take entries (what was done after closing, evidence handed on, a time found wrong).
    /// A conflict with the incident's state, as an alert closed already is: nothing in the
    /// request is malformed, and the same request passes once the incident is reopened.
    pub fn ensure_open(&self) -> Result<(), DomainError> {
        if self.phase.is_open() {
            return Ok(());
        }
        Err(DomainError::Conflict(format!(
            "{key} is closed and its record is final; reopen it to change it: move it back to an earlier phase with a reason (`vigil incident phase {key} analysis --reason TEXT`, or POST /api/v1/incidents/{key}/phase with {{\"phase\": \"analysis\", \"reason\": TEXT}})",
            key = self.key
        )))
    }

    /// Applies a patch; returns the names of the fields present. Nothing changes on error.
    pub fn apply_patch(
        &mut self,
        patch: IncidentPatch,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<&'static str>, DomainError> {
        self.ensure_open()?;
        let mut next = self.clone();
        let mut changed = Vec::new();
        if let Some(t) = &patch.title {
            next.title = text("title", t, MAX_TITLE)?;
            changed.push("title");
        }
        if let Some(s) = &patch.summary {
            next.summary = text("summary", s, MAX_TEXT)?;
            changed.push("summary");
        }
        if let Some(c) = patch.category {
            next.category = c;
            changed.push("category");
        }
        if let Some(t) = patch.tlp {
            next.tlp = t;
            changed.push("tlp");
        }
        if let Some(p) = patch.pap {
            next.pap = p;
            changed.push("pap");
        }
        if let Some(t) = &patch.techniques {
            next.techniques = techniques(t)?;
            changed.push("techniques");
        }
        let (add, remove) = (&patch.add_techniques, &patch.remove_techniques);
        if !add.is_empty() || !remove.is_empty() {
            whole_or_edits("techniques", patch.techniques.is_some())?;
            let add = techniques(add).map_err(|e| rename_field(e, "add_techniques"))?;
            let remove = techniques(remove).map_err(|e| rename_field(e, "remove_techniques"))?;
            next.techniques = edit_list(&next.techniques, add, &remove, "remove_techniques")?;
            changed.push("techniques");
        }
        if let Some(s) = &patch.services {
            next.services = names("services", s)?;
            changed.push("services");
        }
        let (add, remove) = (&patch.add_services, &patch.remove_services);
        if !add.is_empty() || !remove.is_empty() {
            whole_or_edits("services", patch.services.is_some())?;
            let (add, remove) = (
                names("add_services", add)?,
                names("remove_services", remove)?,
            );
            next.services = edit_list(&next.services, add, &remove, "remove_services")?;
            changed.push("services");
        }
        if let Some(t) = &patch.tenants {
            next.tenants = names("tenants", t)?;
            changed.push("tenants");
        }
        let (add, remove) = (&patch.add_tenants, &patch.remove_tenants);
        if !add.is_empty() || !remove.is_empty() {
            whole_or_edits("tenants", patch.tenants.is_some())?;
            let (add, remove) = (names("add_tenants", add)?, names("remove_tenants", remove)?);
            next.tenants = edit_list(&next.tenants, add, &remove, "remove_tenants")?;
            changed.push("tenants");
        }
        if let Some(c) = patch.customer_facing {
            next.customer_facing = c;
            changed.push("customer_facing");
        }
        if let Some(d) = &patch.data_impact {
            // Applied to the assessment as it is now, within the caller's transaction: the
            // flags not given keep their value, whoever set them meanwhile. Each assessment is
            // kept, for the close guard to see a breach assessed once and cleared since.
            let assessed = d.apply(&next.data_impact, actor, at)?;
            next.record_assessment(assessed);
            changed.push("data_impact");
        }
        if let Some(s) = &patch.next_steps {
            next.next_steps = next_steps(s)?;
            changed.push("next_steps");
        }
        if !patch.add_next_steps.is_empty() {
            whole_or_edits("next_steps", patch.next_steps.is_some())?;
            next.next_steps.extend(
                next_steps(&patch.add_next_steps).map_err(|e| rename_field(e, "add_next_steps"))?,
            );
            changed.push("next_steps");
        }
        match &patch.root_cause {
            Some(Some(r)) => {
                next.root_cause = Some(text("root_cause", r, MAX_TEXT)?);
                changed.push("root_cause");
            }
            Some(None) if self.phase.index() >= Phase::Recovery.index() => {
                return Err(DomainError::invalid(
                    "root_cause",
                    format!(
                        "cannot be cleared: {} is in {} and needs its root cause from recovery on; give the corrected root cause instead",
                        self.key, self.phase
                    ),
                ));
            }
            Some(None) => {
                next.root_cause = None;
                changed.push("root_cause");
            }
            None => {}
        }
        if changed.is_empty() {
            // The body as a whole is at fault, named as the API names a body's root.
            return Err(DomainError::invalid(
                "body",
                "no field to change; give at least one field",
            ));
        }
        next.reprioritise(self.impact_factors(), None, actor, at);
        next.updated_at = at;
        *self = next;
        Ok(changed)
    }

    /// Adjusts the severity with a reason and recomputes the priority.
    pub fn change_severity(
        &mut self,
        to: Severity,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<SeverityChange, DomainError> {
        self.ensure_open()?;
        let change = SeverityChange::adjust(self.severity, to, actor, reason, at)?;
        let before = self.impact_factors();
        self.severity = to;
        self.severity_history.push(change.clone());
        self.reprioritise(before, Some(&change.reason), actor, at);
        self.updated_at = at;
        Ok(change)
    }

    /// Makes `d` the data-impact assessment in force and keeps it in the history. An incident
    /// assessed only before the history was kept has that assessment put first.
    fn record_assessment(&mut self, d: DataImpact) {
        if self.data_impact_history.is_empty() && self.data_impact.assessed_at.is_some() {
            self.data_impact_history.push(self.data_impact.clone());
        }
        self.data_impact_history.push(d.clone());
        self.data_impact = d;
    }

    /// The first rating at the most severe level the incident was ever rated.
    pub fn gravest_rating(&self) -> Option<&SeverityChange> {
        let gravest = self.severity_history.iter().map(|c| c.to).min()?;
        self.severity_history.iter().find(|c| c.to == gravest)
    }

    /// The first data-impact assessment that found a data breach, the one in force included.
    pub fn first_breach(&self) -> Option<&DataImpact> {
        self.data_impact_history
            .iter()
            .chain(std::iter::once(&self.data_impact))
            .find(|d| d.requires_notification())
    }

    /// Whether closing needs a post-mortem: rated SEV1 or SEV2, or assessed as a data breach,
    /// at any point of its life (the grounds of the `post_mortem_before_close` guard).
    pub fn needs_post_mortem(&self) -> bool {
        crate::phase::post_mortem_grounds(&self.transition_facts(Phase::Closed, None)).is_some()
    }

    /// The facts the phase guards check for a move to `to`.
    pub fn transition_facts<'a>(
        &'a self,
        to: Phase,
        reason: Option<&'a str>,
    ) -> TransitionFacts<'a> {
        TransitionFacts {
            from: self.phase,
            to,
            severity: self.severity,
            gravest_rating: self.gravest_rating(),
            data_breach: self.data_impact.requires_notification(),
            first_breach: self.first_breach(),
            root_cause_recorded: self
                .root_cause
                .as_deref()
                .is_some_and(|r| !r.trim().is_empty()),
            post_mortem_exists: self.post_mortem.is_some(),
            post_mortem_classified: self
                .post_mortem
                .as_ref()
                .is_some_and(PostMortem::is_classified),
            reason,
        }
    }

    /// Moves to phase `to` if every guard agrees, setting the milestone of the step (see
    /// [`crate::timestamps`]); a refusal lists every refusing guard and changes nothing.
    pub fn change_phase(
        &mut self,
        to: Phase,
        actor: &str,
        reason: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<PhaseChange, DomainError> {
        if let Some(reason) = reason {
            crate::reason_length("reason", reason.trim())?;
        }
        check_transition(&self.transition_facts(to, reason))?;
        let mut ts = self.timestamps.clone();
        let milestone = match (self.phase, to) {
            (Phase::Detection, Phase::Analysis) => Some(TimestampKind::Acknowledged),
            (Phase::Analysis, Phase::Containment) => Some(TimestampKind::Declared),
            (Phase::Containment, Phase::Eradication) => Some(TimestampKind::Contained),
            (Phase::Eradication, Phase::Recovery) => Some(TimestampKind::Eradicated),
            (Phase::Recovery, Phase::PostIncident) => Some(TimestampKind::Recovered),
            (Phase::PostIncident, Phase::Closed) => Some(TimestampKind::Closed),
            _ => None,
        };
        if let Some(m) = milestone {
            ts.set_if_empty(m, at);
        }
        if self.phase == Phase::Closed {
            ts.closed = None;
        }
        ts.check_order()?;
        let change = PhaseChange {
            from: self.phase,
            to,
            actor: actor.to_owned(),
            reason: clean_opt(reason),
            at,
        };
        self.timestamps = ts;
        self.phase = to;
        self.phase_history.push(change.clone());
        self.updated_at = at;
        Ok(change)
    }

    /// Moves the first activity back to `seen`, activity found to belong to the incident (an
    /// alert's events merged into it), when that is earlier than the first activity known and
    /// not after the detection: a correction with `reason`, kept like any other. `None` when
    /// nothing changes.
    pub fn activity_seen(
        &mut self,
        seen: DateTime<Utc>,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<TimestampCorrection>, DomainError> {
        let ts = &self.timestamps;
        let earlier = ts.first_activity.is_none_or(|first| seen < first);
        let before_detection = ts.detected.is_none_or(|detected| seen <= detected);
        if !(earlier && before_detection) {
            return Ok(None);
        }
        self.correct_timestamp(TimestampKind::FirstActivity, Some(seen), actor, reason, at)
            .map(Some)
    }

    /// Corrects a milestone with a reason; the correction is kept. A milestone of a phase the
    /// incident has not reached cannot be set (see [`phase_setting`]), nor any in the future.
    pub fn correct_timestamp(
        &mut self,
        kind: TimestampKind,
        to: Option<DateTime<Utc>>,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<TimestampCorrection, DomainError> {
        // A milestone of a phase not reached yet is set by reaching it: typed in before, it
        // would make a duration out of nothing (time to recover for an incident never
        // contained), and the phase change would keep it.
        if let (Some(_), None, Some(reached_in)) =
            (to, self.timestamps.get(kind), phase_setting(kind))
            && self.phase.index() < reached_in.index()
        {
            return Err(DomainError::invalid(
                "kind",
                format!(
                    "{kind} is set when the incident moves to {reached_in}; it is in {}, so there is nothing to correct yet",
                    self.phase
                ),
            ));
        }
        let c = self.timestamps.correct(kind, to, actor, reason, at)?;
        self.timestamp_corrections.push(c.clone());
        self.updated_at = at;
        Ok(c)
    }

    /// Records (or replaces) the post-mortem. Only in phase post_incident, where the seed puts
    /// the post-mortem review. A replaced post-mortem is kept in `post_mortem_history`; a root
    /// cause given sets the incident's own (`root_cause`), as a patch would. Nothing changes on
    /// error.
    pub fn record_post_mortem(
        &mut self,
        new: &NewPostMortem,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<PostMortem, DomainError> {
        let pm = PostMortem::new(new, actor, at)?;
        if self.phase != Phase::PostIncident {
            return Err(DomainError::Conflict(format!(
                "the post-mortem is written in phase post_incident and {} is in {}; move it there first",
                self.key, self.phase
            )));
        }
        let mut next = self.clone();
        if let Some(cause) = &new.root_cause {
            let patch = IncidentPatch {
                root_cause: Some(Some(cause.clone())),
                ..Default::default()
            };
            next.apply_patch(patch, actor, at)?;
        }
        if let Some(old) = next.post_mortem.replace(pm.clone()) {
            next.post_mortem_history.push(old);
        }
        next.updated_at = at;
        *self = next;
        Ok(pm)
    }

    /// Raises finding `key` on this incident, in any phase: follow-up work is often decided
    /// after the incident closed, in the monthly review. The team must already be checked
    /// against the organisation ([`crate::finding::check_team`]).
    pub fn raise_finding(
        &mut self,
        key: FindingKey,
        new: &NewFinding,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Finding, DomainError> {
        let f = Finding::new(key, self.key, self.phase, new, actor, at)?;
        self.findings.push(f.clone());
        self.updated_at = at;
        Ok(f)
    }

    /// Changes finding `key` of this incident, in any phase (findings outlive the closing).
    pub fn update_finding(
        &mut self,
        key: FindingKey,
        update: &FindingUpdate,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Finding, DomainError> {
        let incident = self.key;
        let f = self
            .findings
            .iter_mut()
            .find(|f| f.key == key)
            .ok_or_else(|| {
                DomainError::Conflict(format!("{key} is not a finding of {incident}"))
            })?;
        f.update(update, actor, at)?;
        let f = f.clone();
        self.updated_at = at;
        Ok(f)
    }

    /// Adds an indicator unless an active one with the same (kind, value) exists; returns the
    /// indicator on the incident and whether it was added.
    pub fn add_indicator(
        &mut self,
        value: &IndicatorValue,
        note: Option<&str>,
        actor: &str,
        at: DateTime<Utc>,
    ) -> (Indicator, bool) {
        if let Some(existing) = self
            .active_indicators()
            .find(|i| i.kind == value.kind() && i.value == value.value())
        {
            return (existing.clone(), false);
        }
        let ind = Indicator {
            id: Uuid::now_v7(),
            kind: value.kind(),
            value: value.value().to_owned(),
            note: clean_opt(note),
            added_by: actor.to_owned(),
            added_at: at,
            removed_by: None,
            removed_at: None,
            removal_reason: None,
        };
        self.indicators.push(ind.clone());
        self.updated_at = at;
        (ind, true)
    }

    /// Marks an active indicator removed (kept for history); a reason is required.
    pub fn remove_indicator(
        &mut self,
        id: Uuid,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Indicator, DomainError> {
        self.ensure_open()?;
        let reason = crate::required_reason("reason", reason)?;
        let ind = self
            .indicators
            .iter_mut()
            .find(|i| i.id == id && i.is_active())
            .ok_or_else(|| {
                DomainError::invalid(
                    "indicator_id",
                    format!("no active indicator {id} on this incident; list its indicators"),
                )
            })?;
        ind.removed_by = Some(actor.to_owned());
        ind.removed_at = Some(at);
        ind.removal_reason = Some(reason);
        let out = ind.clone();
        self.updated_at = at;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicator::IndicatorKind;
    use chrono::{Duration, TimeZone};

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    fn open(sev: Severity) -> Incident {
        let mut n = NewIncident::new("Phish", "creds phished", sev);
        n.indicators = vec![
            NewIndicator {
                kind: "domain".into(),
                value: "Evil.COM".into(),
                note: None,
            },
            NewIndicator {
                kind: "domain".into(),
                value: "evil.com.".into(),
                note: Some("dup".into()),
            },
            NewIndicator {
                kind: "hash".into(),
                value: "D41D8CD98F00B204E9800998ECF8427E".into(),
                note: None,
            },
        ];
        n.techniques = vec!["t1566.001".into(), "T1566.001".into()];
        n.services = vec![" mail ".into(), "mail".into()];
        Incident::open(
            IncidentId::new(),
            IncidentKey::new(1).unwrap(),
            n,
            "ann",
            t(1),
        )
        .unwrap()
    }

    /// Every reason is capped like any other long text, and the refusal names its field.
    #[test]
    fn reasons_are_capped_like_other_long_texts() {
        let long = "x".repeat(crate::MAX_REASON + 1);
        let fits = "x".repeat(crate::MAX_REASON);
        let mut i = open(Severity::Sev3);
        let e = i
            .change_severity(Severity::Sev2, "ann", &long, t(2))
            .unwrap_err();
        assert_eq!(e.field(), Some("reason"));
        assert!(
            e.to_string().contains("longer than 20000 characters"),
            "{e}"
        );
        let e = i
            .change_phase(Phase::Analysis, "ann", Some(&long), t(2))
            .unwrap_err();
        assert_eq!(e.field(), Some("reason"));
        let e = i
            .correct_timestamp(TimestampKind::Detected, Some(t(0)), "ann", &long, t(2))
            .unwrap_err();
        assert_eq!(e.field(), Some("reason"));
        let id = i.indicators[0].id;
        let e = i.remove_indicator(id, "ann", &long, t(2)).unwrap_err();
        assert_eq!(e.field(), Some("reason"));
        let mut n = NewIncident::new("Phish", "creds phished", Severity::Sev3);
        n.severity_reason = Some(long.clone());
        let e = Incident::open(
            IncidentId::new(),
            IncidentKey::new(2).unwrap(),
            n,
            "ann",
            t(1),
        )
        .unwrap_err();
        assert_eq!(e.field(), Some("severity_reason"));
        // A reason at the cap is taken.
        i.change_severity(Severity::Sev2, "ann", &fits, t(2))
            .unwrap();
        i.change_phase(Phase::Analysis, "ann", Some(&fits), t(2))
            .unwrap();
    }

    #[test]
    fn open_normalises_and_dedups() {
        let i = open(Severity::Sev3);
        assert_eq!(i.indicators.len(), 2);
        assert_eq!(i.indicators[1].kind, IndicatorKind::Md5);
        assert_eq!(i.techniques.len(), 1);
        assert_eq!(i.services, ["mail"]);
        assert_eq!(i.timestamps.detected, Some(t(1)));
        assert_eq!(i.priority, Priority::P3);
        assert_eq!(i.severity_history.len(), 1);
    }

    #[test]
    fn a_name_refused_for_a_character_says_which() {
        for (name, said) in [
            ("a\tb", "holds a tab (U+0009)"),
            ("a\u{2028}b", "holds a line separator (U+2028)"),
            ("", "must be a non-empty name"),
        ] {
            let e = names("add_tenants", &["ok".into(), name.into()]).unwrap_err();
            assert_eq!(e.field(), Some("add_tenants"));
            let text = e.to_string();
            assert!(text.contains("entry 1") && text.contains(said), "{text}");
        }
    }

    #[test]
    fn open_rejects_and_names_field() {
        let mut n = NewIncident::new("x", "y", Severity::Sev4);
        n.indicators = vec![NewIndicator {
            kind: "ip".into(),
            value: "999.1.1.1".into(),
            note: None,
        }];
        let e = Incident::open(
            IncidentId::new(),
            IncidentKey::new(1).unwrap(),
            n,
            "a",
            t(0),
        )
        .unwrap_err();
        assert_eq!(e.field(), Some("indicators"));
        let n = NewIncident::new(" ", "y", Severity::Sev4);
        let e = Incident::open(
            IncidentId::new(),
            IncidentKey::new(1).unwrap(),
            n,
            "a",
            t(0),
        )
        .unwrap_err();
        assert_eq!(e.field(), Some("title"));
        let mut n = NewIncident::new("x", "y", Severity::Sev4);
        n.first_activity = Some(t(5));
        n.detected = Some(t(2));
        let e = Incident::open(
            IncidentId::new(),
            IncidentKey::new(1).unwrap(),
            n,
            "a",
            t(6),
        )
        .unwrap_err();
        // Both were given: the later one, `detected`, is named.
        assert_eq!(e.field(), Some("detected"), "{e}");
        assert!(
            e.to_string()
                .contains("first_activity must not be after detected"),
            "{e}"
        );
        // `detected` defaults to now: a first activity given after it is what is named.
        let mut n = NewIncident::new("x", "y", Severity::Sev4);
        n.first_activity = Some(t(6) + chrono::Duration::minutes(2));
        let e = Incident::open(
            IncidentId::new(),
            IncidentKey::new(1).unwrap(),
            n,
            "a",
            t(6),
        )
        .unwrap_err();
        assert_eq!(e.field(), Some("first_activity"), "{e}");
        // A milestone in the future names itself.
        let mut n = NewIncident::new("x", "y", Severity::Sev4);
        n.acknowledged = Some(t(9));
        let e = Incident::open(
            IncidentId::new(),
            IncidentKey::new(1).unwrap(),
            n,
            "a",
            t(6),
        )
        .unwrap_err();
        assert_eq!(e.field(), Some("acknowledged"), "{e}");
    }

    #[test]
    fn data_impact_notes_are_checked_when_they_change_only() {
        let mut i = open(Severity::Sev3);
        // Notes an older release took, before they were checked.
        i.data_impact.notes = Some("sent to \u{1b}[2Jpartner".into());
        let flags = |notes: Option<&str>| IncidentPatch {
            data_impact: Some(DataImpactPatch {
                personal_data: Some(true),
                disclosed: Some(true),
                notes: Some(notes.map(str::to_owned)),
                ..Default::default()
            }),
            ..Default::default()
        };
        i.apply_patch(flags(Some("sent to \u{1b}[2Jpartner")), "ann", t(1))
            .expect("the flags change with the notes kept as they are");
        assert!(i.data_impact.requires_notification());
        let e = i
            .apply_patch(flags(Some("now \u{7}")), "ann", t(2))
            .unwrap_err();
        assert_eq!(e.field(), Some("data_impact.notes"));
        i.apply_patch(flags(None), "ann", t(3)).unwrap();
        assert_eq!(i.data_impact.notes, None);
    }

    #[test]
    fn full_lifecycle_sets_milestones() {
        let mut i = open(Severity::Sev3);
        let steps = [Phase::Analysis, Phase::Containment, Phase::Eradication];
        for (h, p) in (2..).zip(steps) {
            i.change_phase(p, "ann", None, t(h)).unwrap();
        }
        let e = i
            .change_phase(Phase::Recovery, "ann", None, t(5))
            .unwrap_err();
        assert!(
            matches!(&e, DomainError::TransitionRefused(r) if r[0].guard == "root_cause_before_recovery")
        );
        assert_eq!(i.phase, Phase::Eradication);
        i.apply_patch(
            IncidentPatch {
                root_cause: Some(Some("weak MFA".into())),
                ..Default::default()
            },
            "ann",
            t(5),
        )
        .unwrap();
        i.change_phase(Phase::Recovery, "ann", None, t(6)).unwrap();
        i.change_phase(Phase::PostIncident, "ann", None, t(7))
            .unwrap();
        i.change_phase(Phase::Closed, "ann", None, t(8)).unwrap();
        let ts = &i.timestamps;
        assert_eq!(
            (
                ts.acknowledged,
                ts.declared,
                ts.contained,
                ts.eradicated,
                ts.recovered,
                ts.closed
            ),
            (
                Some(t(2)),
                Some(t(3)),
                Some(t(4)),
                Some(t(6)),
                Some(t(7)),
                Some(t(8))
            )
        );
        assert_eq!(ts.time_to_contain(), Some(Duration::hours(3)));
        assert_eq!(i.phase_history.len(), 6);
        // A closed record is final until reopened; a time found wrong is still corrected.
        let closed = i.clone();
        let patch = IncidentPatch {
            services: Some(vec!["crm".into()]),
            ..Default::default()
        };
        let refusals = [
            i.apply_patch(patch.clone(), "bob", t(9)).unwrap_err(),
            i.change_severity(Severity::Sev1, "bob", "worse", t(9))
                .unwrap_err(),
        ];
        for e in refusals {
            assert!(matches!(e, DomainError::Conflict(_)), "{e:?}");
            assert!(e.to_string().contains("is closed"), "{e}");
            assert!(e.to_string().contains("reopen"), "{e}");
        }
        assert_eq!(i, closed, "nothing changed");
        i.correct_timestamp(
            TimestampKind::FirstActivity,
            Some(t(0)),
            "bob",
            "found",
            t(9),
        )
        .unwrap();
        i.change_phase(Phase::Analysis, "bob", Some("new activity"), t(9))
            .unwrap();
        i.apply_patch(patch, "bob", t(9)).unwrap();
        assert_eq!(i.timestamps.closed, None, "reopening clears closed");
        assert_eq!(i.timestamps.contained, Some(t(4)), "earlier facts stay");
    }

    #[test]
    fn merged_activity_moves_the_first_activity_back_only() {
        let mut i = open(Severity::Sev3);
        assert_eq!(i.timestamps.detected, Some(t(1)));
        // After the detection: nothing changes.
        assert_eq!(
            i.activity_seen(t(2), "a", "merged ALR-2", t(3)).unwrap(),
            None
        );
        let c = i
            .activity_seen(t(0), "a", "merged ALR-2", t(3))
            .unwrap()
            .expect("moved back");
        assert_eq!(c.reason, "merged ALR-2");
        assert_eq!(i.timestamps.first_activity, Some(t(0)));
        assert_eq!(i.timestamp_corrections.len(), 1);
        // Later than the first activity known: kept.
        let later = t(0) + Duration::minutes(30);
        assert_eq!(i.activity_seen(later, "a", "x", t(3)).unwrap(), None);
        assert_eq!(i.timestamps.first_activity, Some(t(0)));
    }

    #[test]
    fn an_incident_taken_up_before_it_was_opened_keeps_that_time() {
        let mut n = NewIncident::new("x", "y", Severity::Sev3);
        n.detected = Some(t(1));
        n.acknowledged = Some(t(2));
        let mut i = Incident::open(
            IncidentId::new(),
            IncidentKey::new(1).unwrap(),
            n,
            "a",
            t(3),
        )
        .unwrap();
        assert_eq!(i.timestamps.acknowledged, Some(t(2)));
        i.change_phase(Phase::Analysis, "a", None, t(4)).unwrap();
        assert_eq!(
            i.timestamps.acknowledged,
            Some(t(2)),
            "the first take-up counts"
        );
        let mut n = NewIncident::new("x", "y", Severity::Sev3);
        n.detected = Some(t(2));
        n.acknowledged = Some(t(1));
        let e = Incident::open(
            IncidentId::new(),
            IncidentKey::new(1).unwrap(),
            n,
            "a",
            t(3),
        )
        .unwrap_err();
        assert_eq!(e.field(), Some("acknowledged"), "{e}");
    }

    #[test]
    fn sev1_close_needs_post_mortem() {
        let mut i = open(Severity::Sev1);
        i.root_cause = Some("x".into());
        i.phase = Phase::PostIncident;
        let e = i.change_phase(Phase::Closed, "a", None, t(3)).unwrap_err();
        assert!(
            matches!(&e, DomainError::TransitionRefused(r) if r.len() == 1 && r[0].guard == "post_mortem_before_close")
        );
        let mut pm = NewPostMortem::summary("done");
        pm.contributing_factors = vec![crate::postmortem::ContributingFactor {
            kind: crate::postmortem::FactorKind::ManualError,
            description: "a phished password".into(),
        }];
        i.post_mortem = Some(PostMortem::new(&pm, "a", t(3)).unwrap());
        i.change_phase(Phase::Closed, "a", None, t(4)).unwrap();
    }

    #[test]
    fn lowering_the_severity_or_clearing_a_breach_before_closing_keeps_the_post_mortem_due() {
        let refusal = |i: &mut Incident| match i.change_phase(Phase::Closed, "a", None, t(9)) {
            Err(DomainError::TransitionRefused(r)) => r[0].reason.clone(),
            other => panic!("closed without a post-mortem: {other:?}"),
        };
        let mut i = open(Severity::Sev1);
        i.root_cause = Some("x".into());
        i.phase = Phase::PostIncident;
        i.change_severity(Severity::Sev4, "mallory", "actually minor", t(4))
            .unwrap();
        let why = refusal(&mut i);
        assert!(why.starts_with("it was rated SEV1 by ann at "), "{why}");
        assert!(why.contains("(now SEV4)"), "{why}");

        let mut i = open(Severity::Sev3);
        i.root_cause = Some("x".into());
        i.phase = Phase::PostIncident;
        let breach = DataImpact {
            customer_data: true,
            destroyed: true,
            ..Default::default()
        };
        let patch = |d: DataImpact| IncidentPatch {
            data_impact: Some(d.into()),
            ..Default::default()
        };
        i.apply_patch(patch(breach), "bob", t(4)).unwrap();
        i.apply_patch(patch(DataImpact::default()), "mallory", t(5))
            .unwrap();
        assert!(!i.data_impact.requires_notification());
        assert_eq!(i.data_impact_history.len(), 2);
        let why = refusal(&mut i);
        assert!(
            why.starts_with(
                "it was assessed as a data breach (customer data destroyed) by bob at "
            ),
            "{why}"
        );
        assert!(why.contains("(no longer assessed so)"), "{why}");
        let mut pm = NewPostMortem::summary("reviewed");
        pm.contributing_factors = vec![crate::postmortem::ContributingFactor {
            kind: crate::postmortem::FactorKind::Other,
            description: "the assessment was a mistake".into(),
        }];
        i.record_post_mortem(&pm, "a", t(9)).unwrap();
        i.change_phase(Phase::Closed, "a", None, t(10)).unwrap();
    }

    #[test]
    fn a_post_mortem_is_written_in_post_incident_keeps_what_it_replaced_and_is_logged() {
        let mut i = open(Severity::Sev3);
        let mut pm = NewPostMortem::summary("first review");
        pm.root_cause = Some("weak MFA".into());
        let err = i.record_post_mortem(&pm, "ann", t(2)).unwrap_err();
        assert!(matches!(err, DomainError::Conflict(_)), "{err}");
        assert_eq!((i.root_cause.clone(), i.post_mortem.clone()), (None, None));
        i.phase = Phase::PostIncident;
        let before = i.clone();
        let first = i.record_post_mortem(&pm, "ann", t(3)).unwrap();
        assert_eq!(i.root_cause.as_deref(), Some("weak MFA"));
        let log = record_changes(&before, &i).unwrap();
        assert!(
            log.contains("root cause none → \"weak MFA\"")
                && log.contains("post-mortem recorded: \"first review\"; 0 contributing factors"),
            "{log}"
        );
        let before = i.clone();
        let mut again = NewPostMortem::summary("second review");
        again.went_badly = vec!["slow paging".into()];
        i.record_post_mortem(&again, "bob", t(4)).unwrap();
        assert_eq!(i.post_mortem_history, [first]);
        assert_eq!(
            i.root_cause.as_deref(),
            Some("weak MFA"),
            "kept when not given"
        );
        let log = record_changes(&before, &i).unwrap();
        assert!(
            log.starts_with("post-mortem replaced: \"second review\""),
            "{log}"
        );
        // A bad entry changes nothing.
        let before = i.clone();
        let mut bad = again.clone();
        bad.participants = vec![crate::postmortem::Participant {
            name: "".into(),
            role: crate::postmortem::ParticipantRole::Other,
            team: None,
        }];
        assert_eq!(
            i.record_post_mortem(&bad, "bob", t(5)).unwrap_err().field(),
            Some("participants")
        );
        assert_eq!(i, before);
    }

    #[test]
    fn findings_are_raised_and_changed_in_every_phase_and_logged() {
        use crate::finding::{FindingKind, FindingState, FindingUpdate, NewFinding};
        let mut i = open(Severity::Sev3);
        i.phase = Phase::Closed;
        let before = i.clone();
        let new = NewFinding {
            title: "Rotate keys".into(),
            description: None,
            kind: FindingKind::Respond,
            team: "platform".into(),
            assignee: None,
            due: None,
            ticket: None,
        };
        let key = FindingKey::new(4).unwrap();
        let f = i.raise_finding(key, &new, "ann", t(3)).unwrap();
        assert_eq!((f.incident, f.raised_in), (i.key, Phase::Closed));
        assert_eq!(
            record_changes(&before, &i).as_deref(),
            Some("finding FND-4 raised for team platform (respond): \"Rotate keys\"")
        );
        let update = FindingUpdate {
            state: Some(FindingState::InProgress),
            ..Default::default()
        };
        let f = i.update_finding(key, &update, "bob", t(4)).unwrap();
        assert_eq!(f.state, FindingState::InProgress);
        assert_eq!(i.updated_at, t(4));
        let err = i
            .update_finding(FindingKey::new(5).unwrap(), &update, "bob", t(5))
            .unwrap_err();
        assert!(
            err.to_string().contains("FND-5 is not a finding of INC-1"),
            "{err}"
        );
    }

    #[test]
    fn an_assessment_made_before_the_history_was_kept_is_put_first() {
        let mut i = open(Severity::Sev3);
        i.data_impact = DataImpact {
            personal_data: true,
            disclosed: true,
            assessed_by: Some("old".into()),
            assessed_at: Some(t(2)),
            ..Default::default()
        };
        i.apply_patch(
            IncidentPatch {
                data_impact: Some(DataImpact::default().into()),
                ..Default::default()
            },
            "new",
            t(3),
        )
        .unwrap();
        let by: Vec<_> = i
            .data_impact_history
            .iter()
            .map(|d| d.assessed_by.as_deref())
            .collect();
        assert_eq!(by, [Some("old"), Some("new")]);
        assert!(i.first_breach().is_some());
    }

    #[test]
    fn severity_and_impact_drive_priority() {
        let mut i = open(Severity::Sev3);
        i.change_severity(Severity::Sev2, "ann", "lateral movement", t(2))
            .unwrap();
        assert_eq!(i.priority, Priority::P2);
        assert_eq!(
            i.change_severity(Severity::Sev1, "ann", "", t(2))
                .unwrap_err()
                .field(),
            Some("reason")
        );
        let impact = DataImpact {
            personal_data: true,
            disclosed: true,
            ..Default::default()
        };
        i.apply_patch(
            IncidentPatch {
                data_impact: Some(impact.into()),
                ..Default::default()
            },
            "bob",
            t(3),
        )
        .unwrap();
        assert_eq!(i.priority, Priority::P1);
        assert_eq!(i.data_impact.assessed_by.as_deref(), Some("bob"));
        // Each move of the priority is recorded with who moved it and what changed.
        let moves: Vec<_> = i
            .priority_history
            .iter()
            .map(|c| (c.from, c.to, c.actor.as_str(), c.reason.as_str()))
            .collect();
        assert_eq!(
            moves,
            [
                (
                    Priority::P3,
                    Priority::P2,
                    "ann",
                    "severity SEV3 → SEV2 (lateral movement)"
                ),
                (
                    Priority::P2,
                    Priority::P1,
                    "bob",
                    "data impact assessed: personal data disclosed"
                ),
            ]
        );
        // A change that leaves the priority where it is records nothing.
        i.apply_patch(
            IncidentPatch {
                title: Some("renamed".into()),
                ..Default::default()
            },
            "bob",
            t(4),
        )
        .unwrap();
        assert_eq!(i.priority_history.len(), 2);
    }

    /// `"category": null` clears the category, an absent one leaves it.
    #[test]
    fn a_patch_clears_the_category_with_null() {
        let mut i = open(Severity::Sev3);
        let set: IncidentPatch = serde_json::from_str(r#"{"category": "malware"}"#).unwrap();
        i.apply_patch(set, "ann", t(2)).unwrap();
        assert_eq!(i.category, Some(Category::Malware));
        let absent: IncidentPatch = serde_json::from_str(r#"{"title": "t"}"#).unwrap();
        assert_eq!(absent.category, None);
        i.apply_patch(absent, "ann", t(2)).unwrap();
        assert_eq!(i.category, Some(Category::Malware));
        let clear: IncidentPatch = serde_json::from_str(r#"{"category": null}"#).unwrap();
        assert_eq!(clear.category, Some(None));
        assert_eq!(
            serde_json::to_string(&clear).unwrap(),
            r#"{"category":null}"#,
            "the audit payload says it was cleared"
        );
        assert_eq!(i.apply_patch(clear, "ann", t(3)).unwrap(), ["category"]);
        assert_eq!(i.category, None);
    }

    /// A change to the record is told as what changed, old → new, for the action log; the
    /// lists as what was added and removed; nothing when nothing changed.
    #[test]
    fn record_changes_say_what_changed() {
        let mut i = open(Severity::Sev3);
        i.services = vec!["payroll".into()];
        let before = i.clone();
        let patch: IncidentPatch = serde_json::from_str(
            r#"{"title": "Credential phish", "tlp": "red", "add_services": ["crm"],
                "remove_services": ["payroll"], "root_cause": "no MFA\non payroll",
                "data_impact": {"customer_data": true, "destroyed": true},
                "add_next_steps": [{"text": "reset passwords"}]}"#,
        )
        .unwrap();
        i.apply_patch(patch, "ann", t(2)).unwrap();
        assert_eq!(
            record_changes(&before, &i).as_deref(),
            Some(
                "title \"Phish\" → \"Credential phish\"; TLP amber → red; services + crm, − payroll; \
                 data impact + customer data, + destroyed — a data breach (customer data destroyed): \
                 the notification process applies; next steps + \"reset passwords\"; \
                 root cause none → \"no MFA on payroll\""
            )
        );
        // A long text is quoted short; the same value given again changes nothing.
        let before = i.clone();
        let long = "x".repeat(300);
        i.apply_patch(
            IncidentPatch {
                summary: Some(long),
                title: Some("Credential phish".into()),
                ..Default::default()
            },
            "ann",
            t(3),
        )
        .unwrap();
        let said = record_changes(&before, &i).unwrap();
        assert!(
            said.starts_with("summary \"creds phished\" → \"xxx"),
            "{said}"
        );
        assert!(said.ends_with("x…\""), "{said}");
        assert!(!said.contains("title"), "{said}");
        let before = i.clone();
        i.apply_patch(
            IncidentPatch {
                tlp: Some(Tlp::Red),
                ..Default::default()
            },
            "ann",
            t(4),
        )
        .unwrap();
        assert_eq!(record_changes(&before, &i), None);
        // Flags given as they were: the assessment was made again, and says so.
        let before = i.clone();
        let again: IncidentPatch =
            serde_json::from_str(r#"{"data_impact": {"destroyed": true}}"#).unwrap();
        i.apply_patch(again, "bob", t(5)).unwrap();
        assert_eq!(
            record_changes(&before, &i).as_deref(),
            Some("data impact assessed again, unchanged: customer data destroyed")
        );
    }

    #[test]
    fn patch_is_all_or_nothing() {
        let mut i = open(Severity::Sev3);
        let before = i.clone();
        let e = i
            .apply_patch(
                IncidentPatch {
                    title: Some("new".into()),
                    techniques: Some(vec!["bad".into()]),
                    ..Default::default()
                },
                "a",
                t(2),
            )
            .unwrap_err();
        assert_eq!(e.field(), Some("techniques"));
        assert_eq!(i, before);
        assert_eq!(
            i.apply_patch(IncidentPatch::default(), "a", t(2))
                .unwrap_err()
                .field(),
            Some("body")
        );
    }

    #[test]
    fn indicators_add_dedup_remove_keep_history() {
        let mut i = open(Severity::Sev3);
        let v = IndicatorValue::new(IndicatorKind::Domain, "EVIL.com").unwrap();
        let (existing, added) = i.add_indicator(&v, None, "a", t(2));
        assert!(!added);
        let removed = i
            .remove_indicator(existing.id, "a", "false positive", t(3))
            .unwrap();
        assert_eq!(removed.removed_by.as_deref(), Some("a"));
        assert_eq!(i.indicators.len(), 2, "removal keeps the row");
        assert_eq!(i.active_indicators().count(), 1);
        assert!(i.remove_indicator(existing.id, "a", "again", t(3)).is_err());
        let (_, added) = i.add_indicator(&v, None, "a", t(4));
        assert!(added, "a removed indicator can be added again");
        assert_eq!(
            i.remove_indicator(existing.id, "a", " ", t(3))
                .unwrap_err()
                .field(),
            Some("reason")
        );
    }

    #[test]
    fn timestamp_correction_recorded() {
        let mut i = open(Severity::Sev3);
        i.correct_timestamp(
            TimestampKind::FirstActivity,
            Some(t(0)),
            "a",
            "proxy logs",
            t(2),
        )
        .unwrap();
        assert_eq!(i.timestamp_corrections.len(), 1);
        assert!(
            i.correct_timestamp(TimestampKind::FirstActivity, Some(t(5)), "a", "x", t(2))
                .is_err()
        );
        assert_eq!(i.timestamp_corrections.len(), 1);
    }

    #[test]
    fn control_characters_are_refused_in_texts_but_line_breaks_kept() {
        let open_with = |title: &str, summary: &str| {
            let n = NewIncident::new(title, summary, Severity::Sev3);
            Incident::open(
                IncidentId::new(),
                IncidentKey::new(3).unwrap(),
                n,
                "a",
                t(0),
            )
        };
        for bad in ["\u{1b}]0;pwned\u{7}", "a\u{0}b", "\u{9b}2J"] {
            let err = open_with(bad, "s").unwrap_err();
            assert_eq!(err.field(), Some("title"), "{bad:?}");
            assert!(err.to_string().contains("control character"), "{err}");
        }
        let i = open_with("Phish", "line one\n\tline two\r\n").unwrap();
        assert!(i.summary.contains("\n\tline two"));
        assert_eq!(crate::printable("a\u{1b}[2Jb\n"), "a\u{fffd}[2Jb\n");
    }

    #[test]
    fn milestones_are_facts_not_typed_in_ahead() {
        let mut i = open(Severity::Sev3);
        // A phase not reached: nothing to correct yet, and nothing recorded.
        let err = i
            .correct_timestamp(TimestampKind::Recovered, Some(t(1)), "a", "typo", t(2))
            .unwrap_err();
        assert_eq!(err.field(), Some("kind"));
        assert!(err.to_string().contains("moves to post_incident"), "{err}");
        assert!(i.timestamps.recovered.is_none() && i.timestamp_corrections.is_empty());
        // In the future, beyond clock skew: refused; a minute ahead is a clock running fast.
        let err = i
            .correct_timestamp(TimestampKind::Detected, Some(t(30)), "a", "x", t(2))
            .unwrap_err();
        assert!(err.to_string().contains("in the future"), "{err}");
        i.correct_timestamp(
            TimestampKind::Detected,
            Some(t(2) + Duration::minutes(1)),
            "a",
            "x",
            t(2),
        )
        .unwrap();
        // Reached, a milestone is corrected as before.
        i.change_phase(Phase::Analysis, "a", None, t(3)).unwrap();
        i.correct_timestamp(TimestampKind::Acknowledged, Some(t(3)), "a", "pager", t(4))
            .unwrap();
        // An incident opened with a detection time ahead of now is refused.
        let mut n = NewIncident::new("x", "y", Severity::Sev3);
        n.detected = Some(t(48));
        let err = Incident::open(
            IncidentId::new(),
            IncidentKey::new(2).unwrap(),
            n,
            "a",
            t(0),
        )
        .unwrap_err();
        assert!(err.to_string().contains("detected"), "{err}");
    }
}
