//! The organisation: people with their contact methods, teams with their members, manager and
//! on-call schedules, and the services each team owns. It is written as one declarative
//! document (`vigil apply -f org.yaml`), validated as a whole so every problem is reported at
//! once with its field, and then answers "who is on call for this team at T" and "when is this
//! team not covered".

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use vigil_core::AssetCriticality;

use crate::error::{InvalidSchedule, RangeError};
use crate::model::Schedule;
use crate::timeline::{OnCall, final_schedule, who_is_on_call};
use crate::validate::ValidSchedule;

/// The whole organisation as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrgDocument {
    /// Everyone who can be on call, managers included.
    #[serde(default)]
    pub people: Vec<Person>,
    /// The teams, each with its on-call schedules.
    #[serde(default)]
    pub teams: Vec<Team>,
    /// The services and the team that owns each.
    #[serde(default)]
    pub services: Vec<ServiceOwner>,
    /// The central Security Response team: escalation ends with it, so an alert of a service no
    /// team owns (a report naming no service, a service not yet in `services`) or whose team has
    /// nobody to page follows its policy instead of paging nobody.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub central_team: Option<String>,
    /// How detections of a rule fold into alerts (default for every rule: by service and
    /// host, within an hour, at most 20 new alerts an hour).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerting: Vec<AlertRuleConfig>,
}

/// How one rule's detections (or every rule's, with `rule_id: "*"`) fold into alerts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AlertRuleConfig {
    /// The Sigma rule's id, or `*` for every rule without its own entry.
    pub rule_id: String,
    /// The grouping key besides the rule and service: `host`, `tenant`, or JSON paths of the
    /// matched event (`user.name`, `Event.EventData.TargetUserName`). Default `[host]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    /// How long an open alert absorbs repeats after it was last seen (default `1h`, at most
    /// `720h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// New alerts per hour for the rule before the rest are counted as suppressed (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_hour: Option<u32>,
    /// `false` turns the rule off here: its matches are neither recorded as detections nor
    /// alerted (a rule known to be noisy in this environment, kept in the shared rules
    /// directory). Correlations still count them. Default `true`.
    #[serde(default = "enabled_by_default", skip_serializing_if = "is_enabled")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

fn is_enabled(enabled: &bool) -> bool {
    *enabled
}

/// A person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// The handle schedules and teams refer to (`alice`).
    pub name: String,
    /// The name to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    /// How to reach them, in order of preference.
    #[serde(default)]
    pub contacts: Vec<Contact>,
}

/// One way to reach a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// What kind of address it is.
    pub kind: ContactKind,
    /// The address: an e-mail address, an http(s) URL, a phone number.
    pub address: String,
    /// A webhook's payload, when its URL does not say (a proxy, a self-hosted relay, a host
    /// Vigil does not know yet): absent, it is guessed from the URL. Only webhooks take one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<WebhookFormat>,
}

impl Contact {
    /// The contact as the API shows it: a webhook's address as `scheme://host[:port]/…`
    /// (`vigil_core::redact_url`: its path, query and user information are its secret); an
    /// e-mail address or phone number as written, since people must read them to call.
    pub fn redacted(&self) -> Contact {
        Contact {
            kind: self.kind,
            address: self.shown_address(),
            format: self.format,
        }
    }

    /// The address as the API shows it (see [`Contact::redacted`]).
    pub fn shown_address(&self) -> String {
        match self.kind {
            ContactKind::Webhook => vigil_core::redact_url(&self.address),
            ContactKind::Email | ContactKind::Phone => self.address.clone(),
        }
    }
}

/// Kinds of contact method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    /// E-mail over SMTP.
    Email,
    /// A JSON webhook (Slack- and Teams-compatible).
    Webhook,
    /// A phone number, for people to read: Vigil places no calls, so a page skips it (and the
    /// alert's log says so).
    Phone,
}

/// The JSON a webhook contact is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// Vigil's own JSON, every field of the page.
    Generic,
    /// A Slack incoming webhook's: `text` and Block Kit `blocks`.
    Slack,
    /// A Microsoft Teams workflow's: an Adaptive Card in the `message` envelope.
    Teams,
}

impl WebhookFormat {
    /// Every format, in the order the documentation lists them.
    pub const ALL: &'static [WebhookFormat] = &[
        WebhookFormat::Generic,
        WebhookFormat::Slack,
        WebhookFormat::Teams,
    ];
}

/// A team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Team {
    /// Its name (`payments-secops`).
    pub name: String,
    /// Its members.
    #[serde(default)]
    pub members: Vec<String>,
    /// Its manager: the escalation level after the on-call people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    /// Its on-call schedules (primary, secondary …), in escalation order.
    #[serde(default)]
    pub schedules: Vec<Schedule>,
    /// Who is paged when, until someone acknowledges (default: every schedule's on-call at
    /// once, then the manager after 15 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<EscalationPolicy>,
}

/// An escalation policy: levels paged one after the other until the alert is acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EscalationPolicy {
    /// The levels, in order; each names when it is paged after the alert opened.
    pub levels: Vec<EscalationLevel>,
    /// Times the whole policy is run again after its last level (default 0, at most 9).
    #[serde(default)]
    pub repeat: u32,
    /// How long after the last level a repeat starts (default `30m`, at most `168h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_after: Option<String>,
}

/// One level of an escalation policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EscalationLevel {
    /// When, after the alert opened: `0`, `90s`, `15m`, `1h` (at most `168h`).
    pub after: String,
    /// Who: `schedule:NAME` (its on-call at that moment), `manager`, `person:NAME`, or
    /// `team:NAME` (that team's first schedule's on-call, e.g. the central response team).
    pub notify: Vec<String>,
}

/// The longest delay an escalation level or a repeat may wait: a page held back for more than a
/// week is no page, and every delay then stays far inside the range of dates.
pub const MAX_ESCALATION_DELAY_SECS: u64 = 7 * 24 * 3600;

/// The most times an escalation policy may run again (PagerDuty's limit too): past that, page
/// someone else at a further level instead.
pub const MAX_ESCALATION_REPEATS: u32 = 9;

/// The longest an alert may absorb repeats of its detections.
pub const MAX_ALERT_WINDOW_SECS: u64 = 30 * 24 * 3600;

/// Reads `0`, `90s`, `15m`, `2h` into seconds.
pub fn parse_after(text: &str) -> Option<u64> {
    let t = text.trim();
    if t == "0" {
        return Some(0);
    }
    let unit = t.chars().last()?;
    let n: u64 = t[..t.len() - unit.len_utf8()].trim().parse().ok()?;
    n.checked_mul(match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        _ => return None,
    })
}

/// Whether a document's delays, repeats and windows are held to their bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limits {
    Checked,
    Clamped,
}

/// A level's or a repeat's delay in seconds, or why it is refused.
fn escalation_delay(text: &str, checked: bool) -> Result<u64, String> {
    match parse_after(text) {
        None => Err(format!("{text:?} is not a delay; write 0, 90s, 15m or 1h")),
        Some(s) if checked && s > MAX_ESCALATION_DELAY_SECS => Err(format!(
            "{text:?} is longer than a week (168h); write at most 168h"
        )),
        Some(s) => Ok(s),
    }
}

/// Someone to page at a level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageTarget {
    /// The person.
    pub person: Person,
    /// Why them: `schedule primary`, `manager`, `person`, `team central`.
    pub reason: String,
    /// Whether a page can reach them: an e-mail or webhook contact ([`ValidOrg::pageable`]).
    pub reachable: bool,
}

/// A service and its owning team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ServiceOwner {
    /// The service, as events name it (`service=payments-api`).
    pub name: String,
    /// The team that owns it (its on-call is paged for it).
    pub team: String,
    /// How critical it is (raises an alert's preliminary severity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criticality: Option<AssetCriticality>,
    /// What its logs are, in the terms of Sigma rules' `logsource` (`category: webserver`;
    /// `product: linux, service: auth`): its events are then matched only against the rules
    /// written for one of these. Empty: unknown, every rule that could apply is tried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logsources: Vec<ServiceLogsource>,
    /// Where its events hold the fields Sigma rules name: rule field → the event's JSON path
    /// (`cs-uri-query: url.query`), for logs not shaped as the rules expect.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// Raise an alert when no event of the service has been stored for this long (`15m`,
    /// `2h`): a source that falls silent leaves a gap in the central log — a broken sender, or
    /// an attacker turning logging off. Resolved by itself when its events come again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silent_after: Option<String>,
    /// Watch each tenant's events on its own as well (a tenant's log pipeline that breaks while
    /// the others go on): every tenant the server has received events of since it started.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub silent_per_tenant: bool,
}

/// The shortest `silent_after`: the server checks every 30 seconds, and senders batch.
pub const MIN_SILENT_AFTER_SECS: u64 = 60;

/// The longest `silent_after`.
pub const MAX_SILENT_AFTER_SECS: u64 = 30 * 24 * 3600;

impl ServiceOwner {
    /// `silent_after` in seconds, if set and valid (held to its bounds).
    pub fn silent_after_secs(&self) -> Option<u64> {
        let secs = parse_after(self.silent_after.as_deref()?)?;
        Some(secs.clamp(MIN_SILENT_AFTER_SECS, MAX_SILENT_AFTER_SECS))
    }
}

/// One kind of log a service emits, as a Sigma rule's `logsource` names it. Windows event
/// logs need none: their Channel says what they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ServiceLogsource {
    /// `product` (`linux`, `aws`, `zeek` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// `category` (`webserver`, `proxy`, `firewall`, `process_creation` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// `service` (`auth`, `sshd`, `cloudtrail` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// One problem in an organisation document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct OrgProblem {
    /// The field at fault (`teams[0].schedules[1].layers[0].people[2]`).
    pub field: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

/// An organisation document that failed validation, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the organisation document is invalid: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct InvalidOrg {
    /// Every problem, in document order.
    pub problems: Vec<OrgProblem>,
}

/// Why a team query failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TeamQueryError {
    /// No team of that name.
    #[error("no team {0:?}; the teams are listed by GET /api/v1/org (see `vigil apply`)")]
    UnknownTeam(String),
    /// The range is refused.
    #[error(transparent)]
    Range(#[from] RangeError),
    /// One schedule's timeline over the range is refused (a rotation or window so short the
    /// range holds too many shifts): the team and schedule at fault are named.
    #[error("team {team}, schedule {schedule}: {error}")]
    ScheduleRange {
        /// The team whose schedule it is.
        team: String,
        /// The schedule.
        schedule: String,
        /// Why its timeline is refused.
        error: RangeError,
    },
}

/// Whose escalation policy answers a page to a team, as the escalator decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Responder<'a> {
    /// The team itself: it has someone to page.
    Own(&'a Team),
    /// The central team, since the team has no one to page; `why` says so.
    Central {
        /// The central team.
        team: &'a Team,
        /// Why it answers: `team empty has no one to page (…), so the central team sirt answers`.
        why: String,
    },
    /// Nobody: the team has no one to page and no central team can answer for it.
    Nobody {
        /// Why, with what to change.
        why: String,
    },
}

/// A validated organisation with its schedules resolved.
#[derive(Debug, Clone)]
pub struct ValidOrg {
    document: OrgDocument,
    schedules: BTreeMap<String, Vec<ValidSchedule>>,
}

/// Who is on call for one schedule of a team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleOnCall {
    /// The schedule.
    pub schedule: String,
    /// Who is on call, if anyone.
    pub on_call: Option<OnCall>,
}

fn problem(field: impl Into<String>, message: impl Into<String>) -> OrgProblem {
    OrgProblem {
        field: field.into(),
        message: message.into(),
    }
}

/// What is wrong with a contact's address, parsed as the notifier will parse it
/// ([`vigil_core::contact`]). A webhook URL is shown redacted, as every answer shows it: the
/// error goes back to whoever applied the document, and into logs.
fn contact_problem(c: &Contact) -> Option<String> {
    use vigil_core::contact::{self, ContactError};
    let a = c.address.as_str();
    match c.kind {
        ContactKind::Email => contact::email_address(a)
            .err()
            .map(|e| format!("{a:?} {e}")),
        ContactKind::Webhook => contact::webhook_url(a).err().map(|e| match e {
            ContactError::BadUrl(_) => format!(
                "the webhook URL {e}; write it as http:// or https://, a host name or address, \
                 and the path the receiver gave"
            ),
            _ => format!("{:?} {e}", c.shown_address()),
        }),
        ContactKind::Phone => phone_problem(a),
    }
}

/// [`contact_problem`] for a document read back from the store, with the checks of the
/// versions that stored it: an address refused since is still read (and fails when paged, in
/// the alert's log) rather than leaving the server without its organisation.
fn stored_contact_problem(c: &Contact) -> Option<String> {
    let a = c.address.trim();
    match c.kind {
        ContactKind::Email => (!a
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.')))
        .then(|| format!("{a:?} is not an e-mail address such as alice@example.com")),
        ContactKind::Webhook => (!(a.starts_with("https://") || a.starts_with("http://")))
            .then(|| format!("{:?} is not an http:// or https:// URL", c.shown_address())),
        ContactKind::Phone => phone_problem(a),
    }
}

fn phone_problem(a: &str) -> Option<String> {
    (a.trim().chars().filter(char::is_ascii_digit).count() < 5).then(|| {
        format!(
            "{:?} is not a phone number such as +49 30 1234567",
            a.trim()
        )
    })
}

fn check_names<'a>(
    kind: &str,
    names: impl Iterator<Item = &'a str>,
    problems: &mut Vec<OrgProblem>,
) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    for (i, name) in names.enumerate() {
        let field = format!("{kind}[{i}].name");
        if name.trim().is_empty() {
            problems.push(problem(field, "must not be empty; give a short handle"));
        } else if name.trim() != name || name.chars().any(vigil_core::breaks_line) {
            problems.push(problem(
                field,
                format!(
                    "{name:?} has surrounding blanks or control characters; write the bare handle"
                ),
            ));
        } else if !seen.insert(name) {
            problems.push(problem(
                field,
                format!("{name:?} is listed twice; keep one entry"),
            ));
        }
    }
    seen
}

impl OrgDocument {
    /// The document as the API shows it, to every role: each webhook contact redacted
    /// ([`Contact::redacted`]). The document as applied, secrets included, stays in the store
    /// and in the audit trail (admins only).
    pub fn redacted(&self) -> OrgDocument {
        let mut doc = self.clone();
        for person in &mut doc.people {
            for contact in &mut person.contacts {
                *contact = contact.redacted();
            }
        }
        doc
    }

    /// Checks the document as a whole: unique non-blank names, every person, team and
    /// schedule reference known, contact addresses of their kind, every schedule valid, delays
    /// and repeats within their bounds.
    pub fn validate(&self) -> Result<ValidOrg, InvalidOrg> {
        self.validate_with(Limits::Checked)
    }

    /// [`OrgDocument::validate`] for a document read back from the store: the bounds on
    /// delays, repeats and windows came after the first versions, so a document stored
    /// before them still reads (those who use the values clamp them to the bounds).
    pub fn validate_stored(&self) -> Result<ValidOrg, InvalidOrg> {
        self.validate_with(Limits::Clamped)
    }

    fn validate_with(&self, limits: Limits) -> Result<ValidOrg, InvalidOrg> {
        let checked = limits == Limits::Checked;
        let mut problems = Vec::new();
        let people = check_names(
            "people",
            self.people.iter().map(|p| p.name.as_str()),
            &mut problems,
        );
        let teams = check_names(
            "teams",
            self.teams.iter().map(|t| t.name.as_str()),
            &mut problems,
        );
        check_names(
            "services",
            self.services.iter().map(|s| s.name.as_str()),
            &mut problems,
        );
        for (i, person) in self.people.iter().enumerate() {
            for (j, c) in person.contacts.iter().enumerate() {
                let field = format!("people[{i}].contacts[{j}].address");
                let refused = if checked {
                    contact_problem(c)
                } else {
                    stored_contact_problem(c)
                };
                if let Some(text) = refused {
                    problems.push(problem(field, text));
                }
                if c.format.is_some() && c.kind != ContactKind::Webhook {
                    problems.push(problem(
                        format!("people[{i}].contacts[{j}].format"),
                        "only a webhook contact takes a format; remove it from this contact",
                    ));
                }
            }
        }
        let mut schedules = BTreeMap::new();
        for (i, team) in self.teams.iter().enumerate() {
            let mut members = BTreeSet::new();
            for (j, member) in team.members.iter().enumerate() {
                if !people.contains(member.as_str()) {
                    problems.push(problem(
                        format!("teams[{i}].members[{j}]"),
                        format!("{member:?} is not in `people`; add them there or fix the name"),
                    ));
                } else if !members.insert(member.as_str()) {
                    problems.push(problem(
                        format!("teams[{i}].members[{j}]"),
                        format!("{member:?} is listed twice; keep one entry"),
                    ));
                }
            }
            if let Some(m) = &team.manager
                && !people.contains(m.as_str())
            {
                problems.push(problem(
                    format!("teams[{i}].manager"),
                    format!("{m:?} is not in `people`; add them there or fix the name"),
                ));
            }
            let mut valid = Vec::new();
            let mut names = BTreeSet::new();
            for (j, schedule) in team.schedules.iter().enumerate() {
                if !names.insert(schedule.name.as_str()) {
                    problems.push(problem(
                        format!("teams[{i}].schedules[{j}].name"),
                        format!("{:?} is listed twice in this team; keep one", schedule.name),
                    ));
                }
                match schedule.validate(people.iter().copied()) {
                    Ok(v) => valid.push(v),
                    Err(InvalidSchedule { errors, .. }) => {
                        problems.extend(errors.into_iter().map(|e| {
                            problem(
                                format!("teams[{i}].schedules[{j}].{}", e.field()),
                                strip_field(&e.to_string(), e.field()),
                            )
                        }))
                    }
                }
            }
            if let Some(policy) = &team.escalation {
                if policy.levels.is_empty() {
                    problems.push(problem(
                        format!("teams[{i}].escalation.levels"),
                        "needs at least one level",
                    ));
                }
                if checked && policy.repeat > MAX_ESCALATION_REPEATS {
                    problems.push(problem(
                        format!("teams[{i}].escalation.repeat"),
                        format!("{} is more than {MAX_ESCALATION_REPEATS} repeats; page someone else at a further level instead", policy.repeat),
                    ));
                }
                if let Some(r) = &policy.repeat_after
                    && let Err(message) = escalation_delay(r, checked)
                {
                    problems.push(problem(
                        format!("teams[{i}].escalation.repeat_after"),
                        message,
                    ));
                }
                let mut previous = 0;
                for (l, level) in policy.levels.iter().enumerate() {
                    let field = format!("teams[{i}].escalation.levels[{l}]");
                    match escalation_delay(&level.after, checked) {
                        Err(message) => problems.push(problem(format!("{field}.after"), message)),
                        Ok(a) if a < previous => problems.push(problem(
                            format!("{field}.after"),
                            "comes before the previous level; order levels by delay",
                        )),
                        Ok(a) => previous = a,
                    }
                    if level.notify.is_empty() {
                        problems.push(problem(
                            format!("{field}.notify"),
                            "names nobody; add schedule:NAME, manager, person:NAME or team:NAME",
                        ));
                    }
                    let mut named = BTreeSet::new();
                    for (n, target) in level.notify.iter().enumerate() {
                        if !named.insert(target.trim()) {
                            problems.push(problem(
                                format!("{field}.notify[{n}]"),
                                format!("{target:?} is named twice in this level; keep one"),
                            ));
                            continue;
                        }
                        let known = match target.split_once(':') {
                            Some(("schedule", name)) => {
                                team.schedules.iter().any(|s| s.name == name)
                            }
                            Some(("person", name)) => people.contains(name),
                            Some(("team", name)) => teams.contains(name),
                            None => target == "manager" && team.manager.is_some(),
                            _ => false,
                        };
                        if !known {
                            problems.push(problem(format!("{field}.notify[{n}]"), format!("{target:?} names no schedule of this team, person, team or manager; write schedule:NAME, manager, person:NAME or team:NAME")));
                        }
                    }
                }
            }
            schedules.insert(team.name.clone(), valid);
        }
        let mut rules_seen = BTreeSet::new();
        for (i, a) in self.alerting.iter().enumerate() {
            if a.rule_id.trim().is_empty() {
                problems.push(problem(
                    format!("alerting[{i}].rule_id"),
                    "must name a rule id or `*`",
                ));
            } else if !rules_seen.insert(a.rule_id.as_str()) {
                problems.push(problem(
                    format!("alerting[{i}].rule_id"),
                    format!("{:?} is listed twice; keep one entry", a.rule_id),
                ));
            }
            if let Some(w) = &a.window {
                match parse_after(w) {
                    None | Some(0) => problems.push(problem(
                        format!("alerting[{i}].window"),
                        format!("{w:?} is not a window; write 90s, 15m or 1h"),
                    )),
                    Some(s) if checked && s > MAX_ALERT_WINDOW_SECS => problems.push(problem(
                        format!("alerting[{i}].window"),
                        format!("{w:?} is longer than 30 days (720h); write at most 720h"),
                    )),
                    Some(_) => {}
                }
            }
            if a.max_per_hour == Some(0) {
                problems.push(problem(
                    format!("alerting[{i}].max_per_hour"),
                    "must be at least 1",
                ));
            }
            if !a.enabled && a.rule_id.trim() == "*" {
                problems.push(problem(
                    format!("alerting[{i}].enabled"),
                    "cannot turn every rule off; name one rule_id per rule to turn off (or give the server no --rules)",
                ));
            }
            for (j, f) in a.group_by.iter().enumerate() {
                if f.trim().is_empty() {
                    problems.push(problem(
                        format!("alerting[{i}].group_by[{j}]"),
                        "must name a field: host, tenant or a JSON path such as user.name",
                    ));
                }
            }
        }
        for (i, service) in self.services.iter().enumerate() {
            for (j, ls) in service.logsources.iter().enumerate() {
                let field = format!("services[{i}].logsources[{j}]");
                let parts = [
                    ("product", &ls.product),
                    ("category", &ls.category),
                    ("service", &ls.service),
                ];
                if parts.iter().all(|(_, v)| v.is_none()) {
                    problems.push(problem(
                        field.clone(),
                        "names no log; give product, category or service as Sigma rules do (category: webserver)",
                    ));
                }
                for (name, value) in parts {
                    if let Some(v) = value
                        && (v.is_empty() || v.contains(char::is_whitespace))
                    {
                        problems.push(problem(
                            format!("{field}.{name}"),
                            format!("{v:?} is not a logsource name; Sigma's are single words such as linux, webserver or auth"),
                        ));
                    }
                }
            }
            for (rule_field, path) in &service.fields {
                if rule_field.trim().is_empty() || path.trim().is_empty() {
                    problems.push(problem(
                        format!("services[{i}].fields"),
                        format!("{rule_field:?}: {path:?} maps a blank name; write the rule's field and the event's path, e.g. cs-uri-query: url.query"),
                    ));
                }
            }
            if let Some(text) = &service.silent_after {
                let field = format!("services[{i}].silent_after");
                match parse_after(text) {
                    None => problems.push(problem(
                        field,
                        format!("{text:?} is not a duration; write 15m, 2h or 90s"),
                    )),
                    Some(s) if s < MIN_SILENT_AFTER_SECS => problems.push(problem(
                        field,
                        format!("{text:?} is shorter than a minute; write at least 1m"),
                    )),
                    Some(s) if s > MAX_SILENT_AFTER_SECS => problems.push(problem(
                        field,
                        format!("{text:?} is longer than 30 days; write at most 720h"),
                    )),
                    Some(_) => {}
                }
            }
            if service.silent_per_tenant && service.silent_after.is_none() {
                problems.push(problem(
                    format!("services[{i}].silent_per_tenant"),
                    "needs silent_after: how long a tenant may send nothing, e.g. silent_after: 15m",
                ));
            }
            if !teams.contains(service.team.as_str()) {
                problems.push(problem(
                    format!("services[{i}].team"),
                    format!(
                        "{:?} is not in `teams`; add the team or fix the name",
                        service.team
                    ),
                ));
            }
        }
        if let Some(central) = &self.central_team
            && !teams.contains(central.as_str())
        {
            problems.push(problem(
                "central_team",
                format!("{central:?} is not in `teams`; add the team or fix the name"),
            ));
        }
        if problems.is_empty() {
            Ok(ValidOrg {
                document: self.clone(),
                schedules,
            })
        } else {
            Err(InvalidOrg { problems })
        }
    }
}

/// The message of a schedule error without its leading `field: `.
fn strip_field(message: &str, field: &str) -> String {
    message
        .strip_prefix(field)
        .and_then(|m| m.strip_prefix(": "))
        .unwrap_or(message)
        .to_owned()
}

impl ValidOrg {
    /// The document as written.
    pub fn document(&self) -> &OrgDocument {
        &self.document
    }

    /// The team that owns `service`, if any.
    pub fn owner_of(&self, service: &str) -> Option<&Team> {
        let owner = self.document.services.iter().find(|s| s.name == service)?;
        self.document.teams.iter().find(|t| t.name == owner.team)
    }

    /// The central Security Response team, if the document names one.
    pub fn central_team(&self) -> Option<&Team> {
        let name = self.document.central_team.as_deref()?;
        self.document.teams.iter().find(|t| t.name == name)
    }

    /// A person by handle.
    pub fn person(&self, name: &str) -> Option<&Person> {
        self.document.people.iter().find(|p| p.name == name)
    }

    fn team_schedules(&self, team: &str) -> Result<&[ValidSchedule], TeamQueryError> {
        self.schedules
            .get(team)
            .map(Vec::as_slice)
            .ok_or_else(|| TeamQueryError::UnknownTeam(team.to_owned()))
    }

    /// The team's escalation policy: its own, or every schedule's on-call at once and the
    /// manager after 15 minutes.
    pub fn escalation(&self, team: &str) -> Result<EscalationPolicy, TeamQueryError> {
        let t = self
            .document
            .teams
            .iter()
            .find(|t| t.name == team)
            .ok_or_else(|| TeamQueryError::UnknownTeam(team.to_owned()))?;
        if let Some(p) = &t.escalation {
            return Ok(p.clone());
        }
        let mut levels = vec![EscalationLevel {
            after: "0".into(),
            notify: t
                .schedules
                .iter()
                .map(|s| format!("schedule:{}", s.name))
                .collect(),
        }];
        if t.manager.is_some() {
            levels.push(EscalationLevel {
                after: "15m".into(),
                notify: vec!["manager".into()],
            });
        }
        levels.retain(|l| !l.notify.is_empty());
        Ok(EscalationPolicy {
            levels,
            repeat: 0,
            repeat_after: None,
        })
    }

    /// The people a level's `notify` entries name at `at` (nobody for a schedule with a gap).
    pub fn page_targets(
        &self,
        team: &str,
        notify: &[String],
        at: Timestamp,
    ) -> Result<Vec<PageTarget>, TeamQueryError> {
        let t = self
            .document
            .teams
            .iter()
            .find(|t| t.name == team)
            .ok_or_else(|| TeamQueryError::UnknownTeam(team.to_owned()))?;
        let mut out: Vec<PageTarget> = Vec::new();
        let mut push = |name: &str, reason: String| {
            if let Some(p) = self.person(name)
                && !out.iter().any(|o| o.person.name == name)
            {
                out.push(PageTarget {
                    person: p.clone(),
                    reason,
                    reachable: self.pageable(name),
                });
            }
        };
        for target in notify {
            match target.split_once(':') {
                Some(("schedule", name)) => {
                    let on_call = self
                        .team_schedules(team)?
                        .iter()
                        .find(|s| s.name() == name)
                        .and_then(|s| who_is_on_call(s, at));
                    if let Some(o) = on_call {
                        push(&o.person, format!("on call in schedule {name}"));
                    }
                }
                Some(("person", name)) => push(name, "named in the policy".into()),
                Some(("team", other)) => {
                    let on_call = self
                        .team_schedules(other)?
                        .first()
                        .and_then(|s| who_is_on_call(s, at));
                    if let Some(o) = on_call {
                        push(&o.person, format!("on call for team {other}"));
                    }
                }
                _ => {
                    if let Some(m) = &t.manager {
                        push(m, "manager of the team".into());
                    }
                }
            }
        }
        Ok(out)
    }

    /// Who is on call at `at` in each of the team's schedules, in escalation order.
    pub fn on_call(
        &self,
        team: &str,
        at: Timestamp,
    ) -> Result<Vec<ScheduleOnCall>, TeamQueryError> {
        Ok(self
            .team_schedules(team)?
            .iter()
            .map(|s| ScheduleOnCall {
                schedule: s.name().to_owned(),
                on_call: who_is_on_call(s, at),
            })
            .collect())
    }

    /// Whether a page to `person` can reach them: an e-mail or webhook contact (Vigil places
    /// no phone calls).
    pub fn pageable(&self, person: &str) -> bool {
        self.person(person).is_some_and(|p| {
            p.contacts
                .iter()
                .any(|c| matches!(c.kind, ContactKind::Email | ContactKind::Webhook))
        })
    }

    /// Whose policy answers a page to `team`: the team's own when it has someone to page (an
    /// escalation level, from its policy, schedules or manager), else the central team's when
    /// that has; else nobody, with why. The escalator goes by the same rule.
    pub fn responder(&self, team: &str) -> Result<Responder<'_>, TeamQueryError> {
        let t = self.team(team)?;
        if self.paged_team_of(t).is_some() {
            return Ok(Responder::Own(t));
        }
        let why =
            format!("team {team} has no one to page (no schedules, manager or escalation policy)");
        Ok(match self.central_team() {
            Some(c) if c.name != t.name && self.paged_team_of(c).is_some() => Responder::Central {
                team: c,
                why: format!("{why}, so the central team {} answers", c.name),
            },
            Some(c) if c.name != t.name => Responder::Nobody {
                why: format!(
                    "{why} and the central team {0} has no one to page either; give team {team} or team {0} a schedule or a manager",
                    c.name
                ),
            },
            _ => Responder::Nobody {
                why: format!(
                    "{why} and no other `central_team` is named; give it a schedule or a manager, or name the Security Response team as `central_team`"
                ),
            },
        })
    }

    fn team(&self, team: &str) -> Result<&Team, TeamQueryError> {
        self.document
            .teams
            .iter()
            .find(|t| t.name == team)
            .ok_or_else(|| TeamQueryError::UnknownTeam(team.to_owned()))
    }

    /// The stretches of `[from, to)` in which a page to `schedule` of `team` reaches nobody —
    /// nobody on call, or whoever is has no e-mail or webhook contact —, each with why
    /// (`nobody on call {label}`).
    fn unreached_in(
        &self,
        team: &str,
        schedule: &ValidSchedule,
        label: &str,
        (from, to): (Timestamp, Timestamp),
    ) -> Result<Vec<Stretch>, TeamQueryError> {
        let shifts =
            final_schedule(schedule, from, to).map_err(|error| TeamQueryError::ScheduleRange {
                team: team.to_owned(),
                schedule: schedule.name().to_owned(),
                error,
            })?;
        let mut stretches = Vec::new();
        let mut at = from;
        for shift in shifts {
            if shift.start > at {
                stretches.push((at, shift.start, format!("nobody on call {label}")));
            }
            if !self.pageable(&shift.person) {
                stretches.push((
                    shift.start,
                    shift.end,
                    format!("{} on call {label}, no e-mail or webhook", shift.person),
                ));
            }
            at = shift.end;
        }
        if at < to {
            stretches.push((at, to, format!("nobody on call {label}")));
        }
        Ok(stretches)
    }

    /// The stretches of `[from, to)` in which one `notify` entry of `team`'s policy, paged
    /// at those instants, reaches nobody, with why.
    fn unreached_target(
        &self,
        team: &Team,
        target: &str,
        (from, to): (Timestamp, Timestamp),
    ) -> Result<Vec<Stretch>, TeamQueryError> {
        let always = |why: String| Ok(vec![(from, to, why)]);
        let person = |name: &str, role: &str| {
            if self.pageable(name) {
                Ok(Vec::new())
            } else {
                always(format!("{name} ({role}) has no e-mail or webhook"))
            }
        };
        match target.split_once(':') {
            Some(("schedule", name)) => {
                match self
                    .team_schedules(&team.name)?
                    .iter()
                    .find(|s| s.name() == name)
                {
                    Some(s) => self.unreached_in(&team.name, s, &format!("in {name}"), (from, to)),
                    None => always(format!("team {} has no schedule {name}", team.name)),
                }
            }
            Some(("person", name)) => person(name, "named in the policy"),
            Some(("team", other)) => match self.team_schedules(other)?.first() {
                Some(s) => self.unreached_in(other, s, &format!("for team {other}"), (from, to)),
                None => always(format!("team {other} has no schedule")),
            },
            _ => match &team.manager {
                Some(m) => person(m, "manager"),
                None => always(format!("team {} has no manager", team.name)),
            },
        }
    }

    /// Every interval in `[from, to)` in which an alert raised for the team is not answered by
    /// the first level of its escalation policy — the policy of the team that answers for it
    /// ([`ValidOrg::responder`]: the central team for a team with no one to page): each level
    /// is paged at its `after` and reaches nobody where nobody is on call in what it names or
    /// whoever is has no e-mail or webhook contact. A gap whose alerts a later level reaches
    /// says which and after how long ([`CoverageGap::first_reached`]); one with none reaches
    /// nobody in the policy's first round. Each gap says why, level by level; neighbouring
    /// stretches alike are one gap.
    pub fn coverage_gaps(
        &self,
        team: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<CoverageGap>, TeamQueryError> {
        let responder = match self.responder(team)? {
            Responder::Own(t) | Responder::Central { team: t, .. } => t,
            Responder::Nobody { why } => {
                if to <= from {
                    return Err(RangeError::Empty { from, to }.into());
                }
                return Ok(vec![CoverageGap {
                    start: from,
                    end: to,
                    reason: why,
                    first_reached: None,
                }]);
            }
        };
        if to <= from {
            return Err(RangeError::Empty { from, to }.into());
        }
        let policy = self.escalation(&responder.name)?;
        let numbered = policy.levels.len() > 1;
        // Per level, the alert times at which it reaches nobody, with why: its targets are
        // resolved when it is paged, `after` the alert.
        let mut unreached: Vec<Vec<Stretch>> = Vec::new();
        for (n, level) in policy.levels.iter().enumerate() {
            let secs = parse_after(&level.after)
                .unwrap_or(0)
                .min(MAX_ESCALATION_DELAY_SECS);
            let delay = jiff::SignedDuration::from_secs(secs as i64);
            let paged = (
                from.saturating_add(delay).unwrap_or(Timestamp::MAX),
                to.saturating_add(delay).unwrap_or(Timestamp::MAX),
            );
            let mut targets = Vec::new();
            for target in &level.notify {
                let stretches = self.unreached_target(responder, target, paged)?;
                targets.push(
                    stretches
                        .into_iter()
                        .filter_map(|(s, e, why)| {
                            let (s, e) =
                                (s.saturating_sub(delay).ok()?, e.saturating_sub(delay).ok()?);
                            (s < e).then_some((s.max(from), e.min(to), why))
                        })
                        .collect(),
                );
            }
            let mut level_unreached = everywhere(&targets);
            if numbered {
                for (_, _, why) in &mut level_unreached {
                    *why = format!("level {}: {why}", n + 1);
                }
            }
            unreached.push(level_unreached);
        }
        let mut out: Vec<CoverageGap> = Vec::new();
        for (start, end, reasons, reached) in sweep(&unreached) {
            // Levels past the first that reaches someone are not paged.
            let first_reached = match reached {
                Some(0) => continue,
                Some(n) => Some(FirstReached {
                    level: n as u32 + 1,
                    after: policy.levels[n].after.clone(),
                }),
                None => None,
            };
            let reason = reasons.join(" | ");
            match out.last_mut() {
                Some(last)
                    if last.end == start
                        && last.reason == reason
                        && last.first_reached == first_reached =>
                {
                    last.end = end
                }
                _ => out.push(CoverageGap {
                    start,
                    end,
                    reason,
                    first_reached,
                }),
            }
        }
        Ok(out)
    }

    /// The team an alert of `service` pages: its owning team when that has someone to page
    /// (an escalation level, from its policy, schedules or manager), else the central team
    /// when it has; `None` when nobody is paged (the alert waits in the queue). The escalator
    /// goes by the same rule and says why in the alert's log.
    pub fn paged_team(&self, service: &str) -> Option<&Team> {
        self.owner_of(service)
            .and_then(|t| self.paged_team_of(t))
            .or_else(|| self.central_team().and_then(|t| self.paged_team_of(t)))
    }

    /// Why an alert of a service no team owns — a report that names no service, or one
    /// missing from `services` — pages nobody, if it does: no `central_team`, or a central
    /// team with no one to page.
    pub fn unowned_alerts_page_nobody(&self) -> Option<String> {
        let unowned = "an alert of a service no team owns (a report through the form that names no service or one missing from `services`, another tool's alert for such a service)";
        match self.central_team() {
            None => Some(format!(
                "central_team: none is named, so {unowned} pages nobody and waits in the queue; name the Security Response team as `central_team`"
            )),
            Some(team) if self.paged_team_of(team).is_none() => Some(format!(
                "central_team: team {} has no one to page (no schedules, manager or escalation policy), so {unowned} pages nobody and waits in the queue; give it a schedule or a manager",
                team.name
            )),
            Some(_) => None,
        }
    }

    fn paged_team_of<'a>(&self, team: &'a Team) -> Option<&'a Team> {
        self.escalation(&team.name)
            .is_ok_and(|p| !p.levels.is_empty())
            .then_some(team)
    }

    /// What an apply should warn of without refusing: each person a schedule's layer or
    /// override puts on call who is not a member of the team; each override overlapping an
    /// earlier one of its schedule (the later wins there); each person named in a schedule's
    /// layer or override, each manager the policy pages and each person a policy level names,
    /// whom a page cannot reach (no e-mail or webhook contact), by field;
    /// then, when alerts of services no team owns would page nobody, why
    /// ([`ValidOrg::unowned_alerts_page_nobody`]).
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, team) in self.document.teams.iter().enumerate() {
            for (j, schedule) in team.schedules.iter().enumerate() {
                let at = format!("teams[{i}].schedules[{j}]");
                let named = schedule
                    .layers
                    .iter()
                    .enumerate()
                    .flat_map(|(l, layer)| {
                        layer
                            .people
                            .iter()
                            .enumerate()
                            .map(move |(p, name)| (format!("layers[{l}].people[{p}]"), name))
                    })
                    .chain(
                        schedule
                            .overrides
                            .iter()
                            .enumerate()
                            .map(|(o, ov)| (format!("overrides[{o}].person"), &ov.person)),
                    );
                for (field, name) in named {
                    if !team.members.contains(name) {
                        out.push(format!(
                            "{at}.{field}: {name} is not a member of team {}, yet is put on call for it; add them to its `members` or fix the name",
                            team.name
                        ));
                    }
                    if !self.pageable(name) {
                        out.push(format!(
                            "{at}.{field}: {name} has no e-mail or webhook contact, so a page while they are on call reaches nobody (`vigil oncall coverage` counts it as a gap); add one to their contacts"
                        ));
                    }
                }
            }
            // Overlapping overrides: the later one wins where they overlap, silently otherwise.
            let valid = self
                .schedules
                .get(&team.name)
                .map_or(&[][..], Vec::as_slice);
            for (j, schedule) in valid.iter().enumerate() {
                let ov = &schedule.overrides;
                for (b, later) in ov.iter().enumerate() {
                    if let Some((a, earlier)) = ov[..b]
                        .iter()
                        .enumerate()
                        .find(|(_, e)| e.start < later.end && later.start < e.end)
                    {
                        out.push(format!(
                            "teams[{i}].schedules[{j}].overrides[{b}]: overlaps overrides[{a}] ({} from {} to {}), so {} is on call instead where they overlap (the later override wins); shorten one if that is not meant",
                            earlier.person, earlier.start, earlier.end, later.person
                        ));
                    }
                }
            }
            // The manager and people the policy names are paged as well: a page to one of them
            // without an e-mail or webhook reaches nobody either.
            let policy = self.escalation(&team.name).ok();
            let levels = policy.as_ref().map_or(&[][..], |p| &p.levels[..]);
            if let Some(m) = &team.manager
                && !self.pageable(m)
                && levels
                    .iter()
                    .any(|l| l.notify.iter().any(|n| n == "manager"))
            {
                out.push(format!(
                    "teams[{i}].manager: {m} has no e-mail or webhook contact, so the escalation level paging the manager reaches nobody (`vigil oncall who` says so); add one to their contacts"
                ));
            }
            if team.escalation.is_some() {
                for (l, level) in levels.iter().enumerate() {
                    for (n, target) in level.notify.iter().enumerate() {
                        if let Some(("person", name)) = target.split_once(':')
                            && !self.pageable(name)
                        {
                            out.push(format!(
                                "teams[{i}].escalation.levels[{l}].notify[{n}]: {name} has no e-mail or webhook contact, so a page to them at this level reaches nobody; add one to their contacts"
                            ));
                        }
                    }
                }
            }
        }
        out.extend(self.unowned_alerts_page_nobody());
        out
    }
}

/// A stretch of time with why a page in it reaches nobody.
type Stretch = (Timestamp, Timestamp, String);

/// Where every list has a stretch at once, with their reasons joined (`; `): where paging
/// every target of a level reaches nobody.
fn everywhere(lists: &[Vec<Stretch>]) -> Vec<Stretch> {
    let mut out: Vec<Stretch> = Vec::new();
    for (start, end, reasons, missing) in sweep(lists) {
        if lists.is_empty() || missing.is_some() {
            continue;
        }
        let reason = reasons.join("; ");
        match out.last_mut() {
            Some(last) if last.1 == start && last.2 == reason => last.1 = end,
            _ => out.push((start, end, reason)),
        }
    }
    out
}

/// The intervals between every start and end of the stretches of `lists` (each list in time
/// order, its stretches apart), each with the reasons of the lists that have a stretch over it,
/// in order up to the first that has none, and that list's index (`None` when every list has
/// one).
fn sweep(lists: &[Vec<Stretch>]) -> Vec<(Timestamp, Timestamp, Vec<&str>, Option<usize>)> {
    let mut bounds: Vec<Timestamp> = lists
        .iter()
        .flatten()
        .flat_map(|(s, e, _)| [*s, *e])
        .collect();
    bounds.sort();
    bounds.dedup();
    // Each list's first stretch not ended by the interval's start; lists after the first with
    // none are not looked at, and catch up at the next interval.
    let mut cursors = vec![0usize; lists.len()];
    let mut out = Vec::with_capacity(bounds.len().saturating_sub(1));
    for pair in bounds.windows(2) {
        let (start, end) = (pair[0], pair[1]);
        let mut reasons = Vec::new();
        let mut missing = None;
        for (n, (stretches, i)) in lists.iter().zip(cursors.iter_mut()).enumerate() {
            while *i < stretches.len() && stretches[*i].1 <= start {
                *i += 1;
            }
            match stretches.get(*i) {
                Some((s, _, why)) if *s <= start => reasons.push(why.as_str()),
                _ => {
                    missing = Some(n);
                    break;
                }
            }
        }
        out.push((start, end, reasons, missing));
    }
    out
}

/// The first escalation level that reaches someone for alerts raised in a gap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstReached {
    /// The level, counted from 1.
    pub level: u32,
    /// When it is paged after the alert, as the policy writes it (`10m`).
    pub after: String,
}

/// An interval in which an alert raised for a team is not answered by the first level of its
/// escalation policy: a later level answers it ([`CoverageGap::first_reached`]), or none does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageGap {
    /// Start (inclusive).
    pub start: Timestamp,
    /// End (exclusive).
    pub end: Timestamp,
    /// Why, level by level (`level 1: nobody on call in primary | level 2: …`; without the
    /// level when the policy has one), schedule by schedule: `nobody on call in primary`, `pat on call in
    /// primary, no e-mail or webhook`.
    pub reason: String,
    /// The first level that reaches someone, when a later one does: the team is reached, but
    /// that much later. `None`: nobody is reached in the policy's first round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_reached: Option<FirstReached>,
}

impl CoverageGap {
    /// The length of the gap.
    pub fn duration(&self) -> jiff::SignedDuration {
        self.end.duration_since(self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org() -> OrgDocument {
        serde_json::from_value(serde_json::json!({
            "people": [
                {"name": "alice", "contacts": [{"kind": "email", "address": "alice@example.com"}]},
                {"name": "bob", "contacts": [{"kind": "webhook", "address": "https://hooks.example.com/bob"}]},
                {"name": "carol"}
            ],
            "teams": [{
                "name": "secops", "members": ["alice", "bob"], "manager": "carol",
                "schedules": [
                    {"name": "days", "time_zone": "UTC",
                     "layers": [{"people": ["alice"], "rotation": "daily", "start": "2026-01-05T00:00",
                                 "restrictions": [{"from": "08:00", "to": "20:00"}]}]},
                    {"name": "nights", "time_zone": "UTC",
                     "layers": [{"people": ["bob"], "rotation": "daily", "start": "2026-01-05T00:00",
                                 "restrictions": [{"from": "21:00", "to": "07:00"}]}]}
                ]
            }],
            "services": [{"name": "payments", "team": "secops", "criticality": "critical"}]
        }))
        .unwrap()
    }

    /// A webhook contact may name its payload (a proxy's URL says nothing of the receiver
    /// behind it); the API's redacted document keeps it, a document without one is written
    /// back as it was, and another kind of contact naming one is refused at the field.
    #[test]
    fn a_webhook_contact_may_name_its_format() {
        let mut doc = org();
        doc.people[2].contacts = vec![
            serde_json::from_value(serde_json::json!({
                "kind": "webhook", "address": "https://relay.example/teams/SECRET1", "format": "teams"
            }))
            .unwrap(),
        ];
        assert_eq!(doc.people[2].contacts[0].format, Some(WebhookFormat::Teams));
        doc.validate().unwrap();
        let shown = serde_json::to_value(doc.redacted()).unwrap();
        assert_eq!(
            shown["people"][2]["contacts"][0],
            serde_json::json!({"kind": "webhook", "address": "https://relay.example/…", "format": "teams"})
        );
        assert_eq!(
            serde_json::to_value(&org().people[1].contacts[0]).unwrap(),
            serde_json::json!({"kind": "webhook", "address": "https://hooks.example.com/bob"})
        );
        let wrong = serde_json::from_value::<Contact>(serde_json::json!({
            "kind": "webhook", "address": "https://relay.example/x", "format": "msteams"
        }))
        .unwrap_err();
        assert!(
            wrong.to_string().starts_with(
                "unknown variant `msteams`, expected one of `generic`, `slack`, `teams`"
            ),
            "{wrong}"
        );
        doc.people[0].contacts[0].format = Some(WebhookFormat::Slack);
        let err = doc.validate().unwrap_err();
        assert_eq!(err.problems.len(), 1, "{err}");
        assert_eq!(err.problems[0].field, "people[0].contacts[0].format");
    }

    /// A refused webhook URL is shown redacted, its user, password and path left out.
    #[test]
    fn a_refused_webhook_url_is_not_echoed() {
        let mut doc = org();
        doc.people[2].contacts = vec![
            serde_json::from_value(serde_json::json!({
                "kind": "webhook", "address": "ftp://u:BADPASS1@127.0.0.1/x/BADPATH2"
            }))
            .unwrap(),
        ];
        let err = doc.validate().unwrap_err();
        assert_eq!(err.problems[0].field, "people[2].contacts[0].address");
        assert_eq!(
            err.problems[0].message,
            "\"ftp://127.0.0.1/…\" is not an http:// or https:// URL"
        );
        assert!(!err.to_string().contains("BADPASS1"), "{err}");
    }

    /// Each address the notifier would refuse at paging time is refused when applied, named by
    /// its field; a webhook URL is shown redacted, its user, password and path left out.
    #[test]
    fn contacts_the_notifier_cannot_use_are_refused_and_webhook_urls_are_not_echoed() {
        let contacts = [
            ("webhook", "http://u:P@[::1/x"),
            ("webhook", "https://exa mple.com/x"),
            ("webhook", "https://example.com:99999/x"),
            ("webhook", "ftp://u:BADPASS1@127.0.0.1/x/BADPATH2"),
            ("email", "alice@example.com\r\nBcc: evil@evil.example"),
            ("email", "a b@exa mple.com"),
            ("webhook", "https://hooks.example.com/T0/B0/fine"),
            ("email", "fine@example.com"),
        ];
        let mut doc = org();
        doc.people[2].contacts = contacts
            .iter()
            .map(|(kind, address)| {
                serde_json::from_value(serde_json::json!({"kind": kind, "address": address}))
                    .unwrap()
            })
            .collect();
        let err = doc.validate().unwrap_err();
        let got: Vec<(&str, &str)> = err
            .problems
            .iter()
            .map(|p| (p.field.as_str(), p.message.as_str()))
            .collect();
        let write_it = "write it as http:// or https://, a host name or address, and the path \
                        the receiver gave";
        assert_eq!(
            got,
            [
                (
                    "people[2].contacts[0].address",
                    format!("the webhook URL is not a valid URL: invalid IPv6 address; {write_it}")
                        .as_str()
                ),
                (
                    "people[2].contacts[1].address",
                    &format!(
                        "the webhook URL is not a valid URL: invalid international domain name; \
                         {write_it}"
                    )
                ),
                (
                    "people[2].contacts[2].address",
                    &format!("the webhook URL is not a valid URL: invalid port number; {write_it}")
                ),
                (
                    "people[2].contacts[3].address",
                    "\"ftp://127.0.0.1/…\" is not an http:// or https:// URL"
                ),
                (
                    "people[2].contacts[4].address",
                    "\"alice@example.com\\r\\nBcc: evil@evil.example\" is not an e-mail address \
                     such as alice@example.com: the part before the @ is not valid"
                ),
                (
                    "people[2].contacts[5].address",
                    "\"a b@exa mple.com\" is not an e-mail address such as alice@example.com: \
                     the part before the @ is not valid"
                ),
            ]
        );
        for secret in ["P@", "BADPASS1", "BADPATH2", "u:"] {
            assert!(!err.to_string().contains(secret), "{secret} shown: {err}");
        }
        // A version stored before these checks (which refused the ftp:// URL already) still
        // reads: its addresses fail when paged, in the alert's log.
        doc.people[2].contacts.remove(3);
        assert!(doc.validate_stored().is_ok());
    }

    #[test]
    fn a_team_is_uncovered_only_where_every_schedule_is() {
        let org = org().validate().unwrap();
        let from: Timestamp = "2026-01-06T00:00:00Z".parse().unwrap();
        let to: Timestamp = "2026-01-07T00:00:00Z".parse().unwrap();
        let gaps = org.coverage_gaps("secops", from, to).unwrap();
        let spans: Vec<(String, String, &str)> = gaps
            .iter()
            .map(|g| (g.start.to_string(), g.end.to_string(), g.reason.as_str()))
            .collect();
        let why = "level 1: nobody on call in days; nobody on call in nights | level 2: carol \
                   (manager) has no e-mail or webhook";
        assert_eq!(
            spans,
            [
                (
                    "2026-01-06T07:00:00Z".to_owned(),
                    "2026-01-06T08:00:00Z".to_owned(),
                    why
                ),
                (
                    "2026-01-06T20:00:00Z".to_owned(),
                    "2026-01-06T21:00:00Z".to_owned(),
                    why
                ),
            ]
        );
        let at: Timestamp = "2026-01-06T22:00:00Z".parse().unwrap();
        let now = org.on_call("secops", at).unwrap();
        assert_eq!(now[0].on_call, None);
        assert_eq!(now[1].on_call.as_ref().unwrap().person, "bob");
        assert_eq!(org.owner_of("payments").unwrap().name, "secops");
        assert!(org.central_team().is_none());
        // Without a central team, an alert of a service no team owns pages nobody: said.
        assert_eq!(org.paged_team("payments").unwrap().name, "secops");
        assert!(org.paged_team("unknown").is_none());
        assert!(
            org.unowned_alerts_page_nobody()
                .unwrap()
                .starts_with("central_team: none is named")
        );
        let mut doc = self::org();
        doc.central_team = Some("secops".into());
        let central = doc.validate().unwrap();
        assert_eq!(central.central_team().unwrap().name, "secops");
        assert_eq!(central.paged_team("unknown").unwrap().name, "secops");
        assert_eq!(central.unowned_alerts_page_nobody(), None);
        assert!(matches!(
            org.on_call("nobody", at),
            Err(TeamQueryError::UnknownTeam(_))
        ));
    }

    #[test]
    fn every_problem_is_named_with_its_field() {
        let mut doc = org();
        doc.people.push(Person {
            name: "alice".into(),
            full_name: None,
            contacts: vec![],
        });
        doc.people[0].contacts.push(Contact {
            kind: ContactKind::Email,
            address: "not-mail".into(),
            format: None,
        });
        doc.teams[0].members.push("zed".into());
        doc.teams[0].manager = Some("yan".into());
        doc.teams[0].schedules[1].layers[0]
            .people
            .push("xia".into());
        doc.services.push(ServiceOwner {
            name: "web".into(),
            team: "ghosts".into(),
            criticality: None,
            logsources: vec![
                ServiceLogsource {
                    category: Some("web server".into()),
                    ..Default::default()
                },
                ServiceLogsource::default(),
            ],
            fields: [("cs-uri-query".to_string(), " ".to_string())].into(),
            silent_after: Some("30s".into()),
            silent_per_tenant: false,
        });
        doc.services.push(ServiceOwner {
            name: "queue".into(),
            team: doc.teams[0].name.clone(),
            criticality: None,
            logsources: Vec::new(),
            fields: BTreeMap::new(),
            silent_after: None,
            silent_per_tenant: true,
        });
        doc.central_team = Some("security-response".into());
        let err = doc.validate().unwrap_err();
        let fields: Vec<&str> = err.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "people[3].name",
                "people[0].contacts[1].address",
                "teams[0].members[2]",
                "teams[0].manager",
                "teams[0].schedules[1].layers[0].people[1]",
                "services[1].logsources[0].category",
                "services[1].logsources[1]",
                "services[1].fields",
                "services[1].silent_after",
                "services[1].team",
                "services[2].silent_per_tenant",
                "central_team",
            ],
            "{err}"
        );
        assert!(
            err.problems[4].message.contains("xia"),
            "{}",
            err.problems[4].message
        );
        assert!(
            !err.problems[4].message.starts_with("layers"),
            "{}",
            err.problems[4].message
        );
    }

    /// A person on call whom no page can reach (a phone only, no contact) is a gap in the
    /// coverage, with the reason, and a warning of the apply.
    #[test]
    fn on_call_people_no_page_reaches_are_gaps_and_warnings() {
        let doc: OrgDocument = serde_json::from_value(serde_json::json!({
            "people": [
                {"name": "pat", "contacts": [{"kind": "phone", "address": "+44 20 7946 0000"}]},
                {"name": "nic"},
                {"name": "amy", "contacts": [{"kind": "email", "address": "amy@example.com"}]}
            ],
            "teams": [{
                "name": "ph", "members": ["pat", "nic", "amy"],
                "schedules": [
                    {"name": "p", "time_zone": "UTC",
                     "layers": [{"people": ["pat", "nic", "amy"], "rotation": "daily",
                                 "start": "2026-01-01T00:00"}]},
                    {"name": "backup", "time_zone": "UTC",
                     "layers": [{"people": ["amy"], "rotation": "daily", "start": "2026-01-01T00:00",
                                 "restrictions": [{"from": "09:00", "to": "17:00"}]}]}
                ]
            }]
        }))
        .unwrap();
        let org = doc.validate().unwrap();
        let from: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let to: Timestamp = "2026-01-04T00:00:00Z".parse().unwrap();
        let gaps: Vec<(String, String, String)> = org
            .coverage_gaps("ph", from, to)
            .unwrap()
            .into_iter()
            .map(|g| (g.start.to_string(), g.end.to_string(), g.reason))
            .collect();
        let row = |s: &str, e: &str, why: &str| (s.to_owned(), e.to_owned(), why.to_owned());
        assert_eq!(
            gaps,
            [
                row(
                    "2026-01-01T00:00:00Z",
                    "2026-01-01T09:00:00Z",
                    "pat on call in p, no e-mail or webhook; nobody on call in backup"
                ),
                row(
                    "2026-01-01T17:00:00Z",
                    "2026-01-02T00:00:00Z",
                    "pat on call in p, no e-mail or webhook; nobody on call in backup"
                ),
                row(
                    "2026-01-02T00:00:00Z",
                    "2026-01-02T09:00:00Z",
                    "nic on call in p, no e-mail or webhook; nobody on call in backup"
                ),
                row(
                    "2026-01-02T17:00:00Z",
                    "2026-01-03T00:00:00Z",
                    "nic on call in p, no e-mail or webhook; nobody on call in backup"
                ),
            ]
        );
        let warnings = org.warnings();
        assert_eq!(warnings.len(), 3, "{warnings:#?}");
        assert!(
            warnings[2].starts_with(
                "central_team: none is named, so an alert of a service no team owns (a report"
            ),
            "{warnings:#?}"
        );
        assert!(
            warnings[0].starts_with(
                "teams[0].schedules[0].layers[0].people[0]: pat has no e-mail or webhook contact"
            ),
            "{warnings:#?}"
        );
        assert!(warnings[1].starts_with("teams[0].schedules[0].layers[0].people[1]: nic"));
    }

    /// A business-hours primary with a 24x7 secondary paged at level 2 after 10 minutes, a
    /// manager only a phone reaches and a team with nobody to page, answered by the central team.
    fn policy_org() -> OrgDocument {
        serde_json::from_value(serde_json::json!({
            "people": [
                {"name": "anna", "contacts": [{"kind": "email", "address": "anna@example.com"}]},
                {"name": "mara", "contacts": [{"kind": "email", "address": "mara@example.com"}]},
                {"name": "olga", "contacts": [{"kind": "phone", "address": "+61 2 5550 1234"}]},
                {"name": "nina"}
            ],
            "teams": [
                {"name": "sirt", "members": ["anna", "mara", "olga", "nina"], "manager": "olga",
                 "schedules": [
                    {"name": "primary", "time_zone": "UTC",
                     "layers": [{"people": ["anna"], "rotation": "daily", "start": "2027-01-01T00:00",
                                 "restrictions": [{"from": "09:00", "to": "17:00"}]}]},
                    {"name": "secondary", "time_zone": "UTC",
                     "layers": [{"people": ["mara"], "rotation": "weekly", "start": "2027-01-01T00:00",
                                 "end": "2027-01-02T12:00"}]}
                 ],
                 "escalation": {"levels": [
                    {"after": "0", "notify": ["schedule:primary"]},
                    {"after": "10m", "notify": ["schedule:secondary"]},
                    {"after": "25m", "notify": ["manager", "person:nina"]}
                 ]}},
                {"name": "empty", "members": ["anna"]}
            ],
            "services": [{"name": "legacy", "team": "empty"}],
            "central_team": "sirt"
        }))
        .unwrap()
    }

    /// A gap's start, end and first level reaching someone (with its `after`).
    type Span<'a> = (String, String, Option<(u32, &'a str)>);

    fn spans(gaps: &[CoverageGap]) -> Vec<Span<'_>> {
        gaps.iter()
            .map(|g| {
                (
                    g.start.to_string(),
                    g.end.to_string(),
                    g.first_reached
                        .as_ref()
                        .map(|f| (f.level, f.after.as_str())),
                )
            })
            .collect()
    }

    /// Hours in which the first level reaches nobody are gaps even when a later level answers:
    /// the team is reached that much later, which the gap says; where no level answers, the
    /// gap has no first level.
    #[test]
    fn hours_the_first_level_reaches_nobody_are_delayed_cover_or_unreached() {
        let org = policy_org().validate().unwrap();
        let from: Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
        let to: Timestamp = "2027-01-03T00:00:00Z".parse().unwrap();
        let gaps = org.coverage_gaps("sirt", from, to).unwrap();
        let s = |a: &str, b: &str, r: Option<(u32, &'static str)>| (a.to_owned(), b.to_owned(), r);
        assert_eq!(
            spans(&gaps),
            [
                s(
                    "2027-01-01T00:00:00Z",
                    "2027-01-01T09:00:00Z",
                    Some((2, "10m"))
                ),
                s(
                    "2027-01-01T17:00:00Z",
                    "2027-01-02T09:00:00Z",
                    Some((2, "10m"))
                ),
                // The secondary ends at 12:00, so from 11:50 level 2 pages nobody either.
                s("2027-01-02T17:00:00Z", "2027-01-03T00:00:00Z", None),
            ],
            "{gaps:#?}"
        );
        assert_eq!(gaps[0].reason, "level 1: nobody on call in primary");
        assert_eq!(
            gaps[2].reason,
            "level 1: nobody on call in primary | level 2: nobody on call in secondary | \
             level 3: olga (manager) has no e-mail or webhook; nina (named in the policy) has no \
             e-mail or webhook"
        );
    }

    /// A team with nobody to page is answered by the central team, whose gaps are its gaps;
    /// without a central team it is one gap that says why.
    #[test]
    fn a_team_with_no_one_to_page_is_covered_by_the_central_team() {
        let org = policy_org().validate().unwrap();
        let from: Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
        let to: Timestamp = "2027-01-03T00:00:00Z".parse().unwrap();
        match org.responder("empty").unwrap() {
            Responder::Central { team, why } => {
                assert_eq!(team.name, "sirt");
                assert_eq!(
                    why,
                    "team empty has no one to page (no schedules, manager or escalation policy), \
                     so the central team sirt answers"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            org.coverage_gaps("empty", from, to).unwrap(),
            org.coverage_gaps("sirt", from, to).unwrap()
        );
        let mut doc = policy_org();
        doc.central_team = None;
        let org = doc.validate().unwrap();
        let gaps = org.coverage_gaps("empty", from, to).unwrap();
        assert_eq!(gaps.len(), 1);
        assert!(
            gaps[0]
                .reason
                .starts_with("team empty has no one to page (no schedules, manager or escalation policy) and no other `central_team` is named"),
            "{gaps:#?}"
        );
    }

    /// Targets a page cannot reach (a phone only, no contact) are named but marked unreachable,
    /// and the apply warns of them by field.
    #[test]
    fn page_targets_say_whom_a_page_cannot_reach() {
        let org = policy_org().validate().unwrap();
        let warnings = org.warnings();
        let warned: Vec<&str> = warnings
            .iter()
            .filter(|w| w.starts_with("teams[0].manager") || w.starts_with("teams[0].escalation"))
            .map(String::as_str)
            .collect();
        assert_eq!(warned.len(), 2, "{warnings:#?}");
        assert!(
            warned[0].starts_with("teams[0].manager: olga has no e-mail or webhook contact"),
            "{warned:#?}"
        );
        assert!(
            warned[1].starts_with(
                "teams[0].escalation.levels[2].notify[1]: nina has no e-mail or webhook contact"
            ),
            "{warned:#?}"
        );
        let at: Timestamp = "2027-01-01T10:00:00Z".parse().unwrap();
        let notify = [
            "manager".to_owned(),
            "person:nina".to_owned(),
            "schedule:primary".to_owned(),
        ];
        let got: Vec<(String, bool)> = org
            .page_targets("sirt", &notify, at)
            .unwrap()
            .into_iter()
            .map(|t| (t.person.name, t.reachable))
            .collect();
        let want = [("olga", false), ("nina", false), ("anna", true)];
        assert_eq!(got, want.map(|(n, r)| (n.to_owned(), r)),);
    }

    /// A layer or override putting someone outside the team on call and overlapping overrides
    /// are allowed but warned of, by field.
    #[test]
    fn non_members_on_call_and_overlapping_overrides_are_warned_of() {
        let mut doc = policy_org();
        let primary = &mut doc.teams[0].schedules[0];
        primary.layers[0].people.push("zoe".into());
        primary.overrides = serde_json::from_value(serde_json::json!([
            {"person": "mara", "start": "2027-12-24T00:00", "end": "2027-12-27T00:00"},
            {"person": "anna", "start": "2027-12-25T00:00", "end": "2027-12-26T00:00"},
            {"person": "zoe", "start": "2027-12-28T00:00", "end": "2027-12-29T00:00"}
        ]))
        .unwrap();
        doc.people.push(Person {
            name: "zoe".into(),
            full_name: None,
            contacts: vec![Contact {
                kind: ContactKind::Email,
                address: "zoe@example.com".into(),
                format: None,
            }],
        });
        let org = doc.validate().unwrap();
        let warnings = org.warnings();
        let fields: Vec<&str> = warnings
            .iter()
            .filter_map(|w| w.split_once(": ").map(|(f, _)| f))
            .filter(|f| f.starts_with("teams[0].schedules"))
            .collect();
        assert_eq!(
            fields,
            [
                "teams[0].schedules[0].layers[0].people[1]",
                "teams[0].schedules[0].overrides[2].person",
                "teams[0].schedules[0].overrides[1]",
            ],
            "{warnings:#?}"
        );
        assert!(
            warnings.iter().any(|w| w.starts_with(
                "teams[0].schedules[0].overrides[1]: overlaps overrides[0] (mara from 2027-12-24T00:00:00Z to 2027-12-27T00:00:00Z), so anna is on call instead"
            )),
            "{warnings:#?}"
        );
    }

    #[test]
    fn a_member_or_a_target_given_twice_is_refused() {
        let mut doc = org();
        doc.teams[0].members.push("alice".into());
        doc.teams[0].escalation = Some(EscalationPolicy {
            levels: vec![EscalationLevel {
                after: "0".into(),
                notify: vec![
                    "schedule:days".into(),
                    "manager".into(),
                    "schedule:days".into(),
                ],
            }],
            repeat: 0,
            repeat_after: None,
        });
        let err = doc.validate().unwrap_err();
        let found: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            [
                "teams[0].members[2]: \"alice\" is listed twice; keep one entry",
                "teams[0].escalation.levels[0].notify[2]: \"schedule:days\" is named twice in this level; keep one",
            ]
        );
    }

    #[test]
    fn delays_and_repeats_are_bounded() {
        let mut doc = org();
        doc.teams[0].escalation = Some(EscalationPolicy {
            levels: vec![
                EscalationLevel {
                    after: "0".into(),
                    notify: vec!["manager".into()],
                },
                EscalationLevel {
                    after: "169h".into(),
                    notify: vec!["manager".into()],
                },
                EscalationLevel {
                    after: "99999999999999999h".into(),
                    notify: vec!["manager".into()],
                },
            ],
            repeat: u32::MAX,
            repeat_after: Some("604801s".into()),
        });
        doc.teams[0].manager = Some("alice".into());
        doc.alerting = vec![
            AlertRuleConfig {
                rule_id: "*".into(),
                group_by: vec![],
                window: Some("721h".into()),
                max_per_hour: None,
                enabled: false,
            },
            AlertRuleConfig {
                rule_id: "r".into(),
                group_by: vec![],
                window: Some("720h".into()),
                max_per_hour: Some(u32::MAX),
                enabled: false,
            },
        ];
        let err = doc.validate().unwrap_err();
        let found: Vec<(&str, &str)> = err
            .problems
            .iter()
            .map(|p| (p.field.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "teams[0].escalation.repeat",
                    "4294967295 is more than 9 repeats; page someone else at a further level instead"
                ),
                (
                    "teams[0].escalation.repeat_after",
                    "\"604801s\" is longer than a week (168h); write at most 168h"
                ),
                (
                    "teams[0].escalation.levels[1].after",
                    "\"169h\" is longer than a week (168h); write at most 168h"
                ),
                (
                    "teams[0].escalation.levels[2].after",
                    "\"99999999999999999h\" is not a delay; write 0, 90s, 15m or 1h"
                ),
                (
                    "alerting[0].window",
                    "\"721h\" is longer than 30 days (720h); write at most 720h"
                ),
                (
                    "alerting[0].enabled",
                    "cannot turn every rule off; name one rule_id per rule to turn off (or give the server no --rules)"
                ),
            ],
            "{err}"
        );
        let policy = doc.teams[0].escalation.as_mut().unwrap();
        policy.levels.truncate(1);
        policy.levels.push(EscalationLevel {
            after: "168h".into(),
            notify: vec!["manager".into()],
        });
        policy.repeat = MAX_ESCALATION_REPEATS;
        policy.repeat_after = Some("604800s".into());
        doc.alerting.remove(0);
        doc.validate().unwrap();

        // A document stored before the bounds still reads back.
        let policy = doc.teams[0].escalation.as_mut().unwrap();
        policy.repeat = 100;
        policy.repeat_after = Some("1000h".into());
        doc.alerting[0].window = Some("10000h".into());
        assert!(doc.validate().is_err());
        doc.validate_stored().unwrap();
    }
}
