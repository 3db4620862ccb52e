//! Findings: the work items an incident leaves for the teams that own the fix (the seed's
//! "recording any findings as ticketed work items or bugs … assigning these items to
//! appropriate owning teams for follow-up").
//!
//! A finding belongs to one incident — raised in its post-mortem or during the response (its
//! `raised_in` phase says which) — and is part of that incident's record, so every change is
//! written, logged in the incident's action log and audited like any other change of it. Its
//! key `FND-n` is what people say. Its `kind` is what the work improves, the three aims of the
//! seed's "Continuous Improvement": `prevent` future incidents, `detect` them, `respond` to them
//! (whether the work is process, training or technology is the owning team's business: a
//! training item belongs to the team that runs the training). Its life: `open` →
//! `in_progress` → `done` (with a resolution note) or `wont_fix` (with a reason); a closed one
//! can be reopened with a reason. Findings outlive the incident's closing: follow-up work
//! usually does, so raising and updating them is allowed in every phase.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::IncidentKey;
use crate::incident::{MAX_NAME, MAX_TEXT, MAX_TITLE};
use crate::phase::Phase;

short_key!(
    /// The short sequential key of a finding, `FND-<n>` with n ≥ 1, numbered across incidents.
    /// Parsing is case-insensitive; display is upper case.
    FindingKey,
    "FND",
    "finding",
    "a finding key",
    "FND-3"
);

wire_enum!(
    /// What a finding's work improves: the three aims of the seed's continuous improvement.
    FindingKind("kind") {
        /// Prevent a similar incident (a control, a fix, a configuration, training).
        Prevent = "prevent",
        /// Detect a similar incident sooner (monitoring, a detection rule, logging).
        Detect = "detect",
        /// Respond better (a runbook, an escalation path, tooling, an exercise).
        Respond = "respond",
    }
);

wire_enum!(
    /// Where a finding's work stands.
    FindingState("state") {
        /// Recorded, not started.
        Open = "open",
        /// The owning team is working on it.
        InProgress = "in_progress",
        /// Done; a resolution note says what was done.
        Done = "done",
        /// Decided against; a reason says why.
        WontFix = "wont_fix",
    }
);

impl FindingState {
    /// Whether work is still owed (open or in progress).
    pub fn is_open(self) -> bool {
        matches!(self, FindingState::Open | FindingState::InProgress)
    }
}

/// One change of a finding after it was raised: its state (the same before and after when only
/// fields changed), who, when, why, and what else changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FindingChange {
    /// Who changed it.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The state before.
    pub from: FindingState,
    /// The state after.
    pub to: FindingState,
    /// Why: the resolution note of `done`, the reason of `wont_fix` or of reopening; optional
    /// otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The fields changed, in words ("team identity → platform; due none → 2027-01-15").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<String>,
}

/// A finding: a work item an incident left for an owning team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Finding {
    /// Its key, FND-3.
    pub key: FindingKey,
    /// The incident it came from.
    pub incident: IncidentKey,
    /// What is to be done, short.
    pub title: String,
    /// Details.
    pub description: Option<String>,
    /// What the work improves.
    pub kind: FindingKind,
    /// The owning team (a team of the organisation document when it was assigned).
    pub team: String,
    /// Who in that team does it, when someone was named.
    pub assignee: Option<String>,
    /// When it is due (a day); overdue from the day after, while open or in progress.
    pub due: Option<NaiveDate>,
    /// Where the work stands.
    pub state: FindingState,
    /// The work item in the owning team's tracker: a URL or a key (SEC-123).
    pub ticket: Option<String>,
    /// The incident's phase when it was raised: `post_incident` or later for a post-mortem's
    /// finding, earlier for one raised during the response.
    pub raised_in: Phase,
    /// Who raised it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it was last closed (done or won't fix); `None` while open.
    pub closed_at: Option<DateTime<Utc>>,
    /// Every change after it was raised, oldest first.
    pub history: Vec<FindingChange>,
}

/// A finding as given by a caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewFinding {
    /// What is to be done, short (one line).
    pub title: String,
    /// Details.
    #[serde(default)]
    pub description: Option<String>,
    /// What the work improves: prevent, detect or respond.
    pub kind: FindingKind,
    /// The owning team: a team of the organisation document.
    pub team: String,
    /// Who in that team does it.
    #[serde(default)]
    pub assignee: Option<String>,
    /// When it is due (YYYY-MM-DD).
    #[serde(default)]
    pub due: Option<NaiveDate>,
    /// The work item in the owning team's tracker: a URL or a key (SEC-123).
    #[serde(default)]
    pub ticket: Option<String>,
}

/// A change of a finding: its state (with a note) and any field. Absent: unchanged; `null`
/// clears the optional fields (description, assignee, due, ticket).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FindingUpdate {
    /// The new state. `done` needs a resolution note, `wont_fix` a reason, and reopening a
    /// closed finding a reason, all in `note`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::incident::not_null"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub state: Option<FindingState>,
    /// Why: the resolution note, the reason; kept in the finding's history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// New title.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::incident::not_null"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub title: Option<String>,
    /// New description; `null` clears it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::incident::present"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, nullable))]
    pub description: Option<Option<String>>,
    /// New kind.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::incident::not_null"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub kind: Option<FindingKind>,
    /// New owning team: a team of the organisation document.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::incident::not_null"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub team: Option<String>,
    /// New assignee; `null` clears it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::incident::present"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, nullable))]
    pub assignee: Option<Option<String>>,
    /// New due day; `null` clears it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::incident::present"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<NaiveDate>, nullable))]
    pub due: Option<Option<NaiveDate>>,
    /// New ticket reference; `null` clears it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::incident::present"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, nullable))]
    pub ticket: Option<Option<String>>,
}

/// Checks that `team` is one of the organisation's `known` teams and returns it trimmed; a
/// refusal names `field` and lists the teams there are.
pub fn check_team(field: &'static str, team: &str, known: &[&str]) -> Result<String, DomainError> {
    let t = crate::required_line(field, team)?;
    if known.is_empty() {
        return Err(DomainError::invalid(
            field,
            "the organisation document names no team yet; describe the teams in org.yaml and run `vigil apply -f org.yaml`",
        ));
    }
    if known.contains(&t.as_str()) {
        return Ok(t);
    }
    Err(DomainError::invalid(
        field,
        format!(
            "no team {t:?} in the organisation document; use one of {}",
            known.join(", ")
        ),
    ))
}

fn title(v: &str) -> Result<String, DomainError> {
    let t = crate::required_line("title", v)?;
    crate::single_line("title", &t, MAX_TITLE)?;
    Ok(t)
}

fn description(v: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(t) = v.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    crate::no_control_characters("description", t)?;
    if t.chars().count() > MAX_TEXT {
        return Err(DomainError::invalid(
            "description",
            format!("longer than {MAX_TEXT} characters; shorten it"),
        ));
    }
    Ok(Some(t.to_owned()))
}

fn assignee(v: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(t) = v.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    crate::single_line("assignee", t, MAX_NAME)?;
    Ok(Some(t.to_owned()))
}

/// A ticket reference: an http(s) URL, or a key in a tracker — one word of letters, digits and
/// `-_.#/:` (`SEC-123`, `platform#88`).
fn ticket(v: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(t) = v.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    crate::single_line("ticket", t, MAX_NAME)?;
    let lower = t.to_ascii_lowercase();
    let ok = if lower.starts_with("http://") || lower.starts_with("https://") {
        url::Url::parse(t).is_ok_and(|u| u.host_str().is_some())
    } else {
        t.chars()
            .all(|c| c.is_alphanumeric() || "-_.#/:".contains(c))
            && t.chars().any(|c| c.is_alphanumeric())
    };
    if !ok {
        return Err(DomainError::invalid(
            "ticket",
            format!(
                "{t:?} is neither a URL nor a ticket key; give the work item's URL (https://…) or its key in the team's tracker (SEC-123)"
            ),
        ));
    }
    Ok(Some(t.to_owned()))
}

/// The note a move to `to` from `from` needs, if any, with what it is called.
fn needed_note(from: FindingState, to: FindingState) -> Option<&'static str> {
    match to {
        FindingState::Done => Some("a resolution note saying what was done"),
        FindingState::WontFix => Some("a reason saying why it will not be done"),
        _ if !from.is_open() => Some("a reason for reopening it"),
        _ => None,
    }
}

impl Finding {
    /// Checks `new` and makes finding `key` of `incident`, raised by `actor` at `at` while the
    /// incident is in `phase`. `new.team` must already be checked against the organisation
    /// ([`check_team`]): the domain does not hold the document.
    pub fn new(
        key: FindingKey,
        incident: IncidentKey,
        phase: Phase,
        new: &NewFinding,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        Ok(Finding {
            key,
            incident,
            title: title(&new.title)?,
            description: description(new.description.as_deref())?,
            kind: new.kind,
            team: crate::required_line("team", &new.team)?,
            assignee: assignee(new.assignee.as_deref())?,
            due: new.due,
            state: FindingState::Open,
            ticket: ticket(new.ticket.as_deref())?,
            raised_in: phase,
            created_by: actor.to_owned(),
            created_at: at,
            updated_at: at,
            closed_at: None,
            history: Vec::new(),
        })
    }

    /// Whether it is still owed and its due day is before `today`.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        self.state.is_open() && self.due.is_some_and(|d| d < today)
    }

    /// Applies `update` as `actor` at `at` and returns the change recorded; nothing changes on
    /// error. A team in it must already be checked ([`check_team`]).
    pub fn update(
        &mut self,
        update: &FindingUpdate,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<FindingChange, DomainError> {
        let mut next = self.clone();
        if let Some(t) = &update.title {
            next.title = title(t)?;
        }
        if let Some(d) = &update.description {
            next.description = description(d.as_deref())?;
        }
        if let Some(k) = update.kind {
            next.kind = k;
        }
        if let Some(t) = &update.team {
            next.team = crate::required_line("team", t)?;
        }
        if let Some(a) = &update.assignee {
            next.assignee = assignee(a.as_deref())?;
        }
        if let Some(d) = update.due {
            next.due = d;
        }
        if let Some(t) = &update.ticket {
            next.ticket = ticket(t.as_deref())?;
        }
        let note = match update.note.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() => Some(crate::required_reason("note", n)?),
            _ => None,
        };
        let to = update.state.unwrap_or(self.state);
        if to != self.state {
            if let (Some(what), None) = (needed_note(self.state, to), &note) {
                return Err(DomainError::invalid(
                    "note",
                    format!(
                        "{} from {} to {to} needs {what}; give it as the note (`--note` on the command line)",
                        self.key, self.state
                    ),
                ));
            }
            next.state = to;
            next.closed_at = (!to.is_open()).then_some(at);
        }
        let changed = self.changes_to(&next);
        if to == self.state && changed.is_none() && note.is_none() {
            // The body as a whole is at fault, named as the API names a body's root.
            return Err(DomainError::invalid(
                "body",
                format!(
                    "nothing to change: {} is already as given; give a new state, a note or a field to change",
                    self.key
                ),
            ));
        }
        let change = FindingChange {
            actor: actor.to_owned(),
            at,
            from: self.state,
            to,
            note,
            changed,
        };
        next.updated_at = at;
        next.history.push(change.clone());
        *self = next;
        Ok(change)
    }

    /// The fields that differ in `after`, in words; `None` when none does.
    fn changes_to(&self, after: &Finding) -> Option<String> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".to_owned());
        let day = |v: &Option<NaiveDate>| v.map_or_else(|| "none".to_owned(), |d| d.to_string());
        let mut parts = Vec::new();
        if self.title != after.title {
            parts.push(format!("title {:?} → {:?}", self.title, after.title));
        }
        if self.description != after.description {
            parts.push("description changed".to_owned());
        }
        if self.kind != after.kind {
            parts.push(format!("kind {} → {}", self.kind, after.kind));
        }
        if self.team != after.team {
            parts.push(format!("team {} → {}", self.team, after.team));
        }
        if self.assignee != after.assignee {
            parts.push(format!(
                "assignee {} → {}",
                opt(&self.assignee),
                opt(&after.assignee)
            ));
        }
        if self.due != after.due {
            parts.push(format!("due {} → {}", day(&self.due), day(&after.due)));
        }
        if self.ticket != after.ticket {
            parts.push(format!(
                "ticket {} → {}",
                opt(&self.ticket),
                opt(&after.ticket)
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// What a write did to an incident's findings, in words for its action log: each finding
/// raised, and each change of one with its note. Empty when none changed.
pub fn findings_change(before: &[Finding], after: &[Finding]) -> Vec<String> {
    let mut out = Vec::new();
    for f in after {
        match before.iter().find(|b| b.key == f.key) {
            None => out.push(format!(
                "finding {} raised for team {} ({}): {:?}",
                f.key, f.team, f.kind, f.title
            )),
            Some(b) if b.history.len() < f.history.len() => {
                for c in &f.history[b.history.len()..] {
                    let mut text = format!("finding {}", f.key);
                    if c.from != c.to {
                        text.push_str(&format!(" {} → {}", c.from, c.to));
                    }
                    if let Some(changed) = &c.changed {
                        text.push_str(&format!(": {changed}"));
                    }
                    if let Some(note) = &c.note {
                        text.push_str(&format!(" — {note:?}"));
                    }
                    out.push(text);
                }
            }
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn new() -> NewFinding {
        NewFinding {
            title: " Enforce phishing-resistant MFA ".into(),
            description: Some("  ".into()),
            kind: FindingKind::Prevent,
            team: "identity".into(),
            assignee: None,
            due: NaiveDate::from_ymd_opt(2027, 1, 15),
            ticket: Some("SEC-123".into()),
        }
    }

    fn finding() -> Finding {
        Finding::new(
            FindingKey::new(3).unwrap(),
            IncidentKey::new(1).unwrap(),
            Phase::PostIncident,
            &new(),
            "rita",
            at(0),
        )
        .unwrap()
    }

    fn update(state: Option<FindingState>, note: Option<&str>) -> FindingUpdate {
        FindingUpdate {
            state,
            note: note.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn keys_parse_any_case_and_refuse_others() {
        assert_eq!(FindingKey::parse(" fnd-42 ").unwrap().to_string(), "FND-42");
        for bad in ["", "FND-", "FND-0", "INC-3", "FND-3a", "fnd--1", "3"] {
            assert_eq!(
                FindingKey::parse(bad).unwrap_err().field(),
                Some("key"),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_new_finding_is_open_and_trimmed() {
        let f = finding();
        assert_eq!(f.title, "Enforce phishing-resistant MFA");
        assert_eq!(f.description, None);
        assert_eq!(f.state, FindingState::Open);
        assert_eq!(f.closed_at, None);
        assert!(f.history.is_empty());
    }

    #[test]
    fn bad_fields_are_named() {
        type Spoil = fn(&mut NewFinding);
        let cases: [(&str, Spoil); 6] = [
            ("title", |n| n.title = "".into()),
            ("title", |n| n.title = "a\nb".into()),
            ("title", |n| n.title = "x".repeat(MAX_TITLE + 1)),
            ("team", |n| n.team = " ".into()),
            ("assignee", |n| n.assignee = Some("a\tb".into())),
            ("ticket", |n| n.ticket = Some("two words".into())),
        ];
        for (field, spoil) in cases {
            let mut n = new();
            spoil(&mut n);
            let err = Finding::new(
                FindingKey::new(1).unwrap(),
                IncidentKey::new(1).unwrap(),
                Phase::Analysis,
                &n,
                "rita",
                at(0),
            )
            .unwrap_err();
            assert_eq!(err.field(), Some(field), "{err}");
        }
    }

    #[test]
    fn tickets_are_urls_or_tracker_keys() {
        for good in [
            "SEC-123",
            "platform#88",
            "https://jira.example.com/browse/SEC-1",
        ] {
            assert_eq!(ticket(Some(good)).unwrap().as_deref(), Some(good));
        }
        for bad in [
            "https://",
            "http:// x",
            "--",
            "a b",
            "javascript:alert(1) x",
        ] {
            assert_eq!(
                ticket(Some(bad)).unwrap_err().field(),
                Some("ticket"),
                "{bad}"
            );
        }
    }

    #[test]
    fn teams_must_be_the_organisation_s_and_a_refusal_lists_them() {
        let known = ["identity", "platform"];
        assert_eq!(
            check_team("team", " platform ", &known).unwrap(),
            "platform"
        );
        let err = check_team("team", "idenity", &known).unwrap_err();
        assert_eq!(err.field(), Some("team"));
        assert!(err.to_string().contains("identity, platform"), "{err}");
        let err = check_team("team", "identity", &[]).unwrap_err();
        assert!(err.to_string().contains("vigil apply"), "{err}");
    }

    /// Each move from each state: whether it needs a note, and what it sets.
    #[test]
    fn state_moves_need_the_notes_a_team_lead_expects() {
        use FindingState::*;
        let cases = [
            (Open, InProgress, false),
            (Open, Done, true),
            (Open, WontFix, true),
            (InProgress, Open, false),
            (InProgress, Done, true),
            (InProgress, WontFix, true),
            (Done, Open, true),
            (Done, InProgress, true),
            (WontFix, Open, true),
            (WontFix, Done, true),
        ];
        for (from, to, needs_note) in cases {
            let mut f = finding();
            if from != Open {
                f.update(&update(Some(from), Some("setup")), "ann", at(1))
                    .unwrap();
            }
            let before = f.clone();
            let c = match f.update(&update(Some(to), None), "ann", at(2)) {
                Ok(c) => {
                    assert!(!needs_note, "{from} → {to} went without a note");
                    c
                }
                Err(e) => {
                    assert!(needs_note, "{from} → {to}: {e}");
                    assert_eq!(e.field(), Some("note"));
                    assert_eq!(f, before, "a refusal changes nothing");
                    f.update(&update(Some(to), Some("because")), "ann", at(3))
                        .unwrap()
                }
            };
            assert_eq!((c.from, c.to), (from, to));
            assert_eq!(f.state, to);
            assert_eq!(f.closed_at.is_some(), !to.is_open(), "{from} → {to}");
        }
    }

    #[test]
    fn field_changes_are_kept_in_words_and_an_empty_update_is_refused() {
        let mut f = finding();
        let c = f
            .update(
                &FindingUpdate {
                    team: Some("platform".into()),
                    due: Some(None),
                    assignee: Some(Some("bob".into())),
                    ..Default::default()
                },
                "ann",
                at(5),
            )
            .unwrap();
        assert_eq!(
            c.changed.as_deref(),
            Some("team identity → platform; assignee none → bob; due 2027-01-15 → none")
        );
        assert_eq!(f.updated_at, at(5));
        let err = f
            .update(&update(Some(FindingState::Open), None), "ann", at(6))
            .unwrap_err();
        assert_eq!(err.field(), Some("body"));
        assert_eq!(f.history.len(), 1);
    }

    #[test]
    fn overdue_is_past_its_day_while_owed() {
        let mut f = finding();
        let day = |d| NaiveDate::from_ymd_opt(2027, 1, d).unwrap();
        assert!(!f.is_overdue(day(15)), "due today is not overdue");
        assert!(f.is_overdue(day(16)));
        f.update(
            &update(Some(FindingState::Done), Some("shipped")),
            "ann",
            at(1),
        )
        .unwrap();
        assert!(!f.is_overdue(day(16)), "done is never overdue");
    }

    #[test]
    fn the_action_log_words_raising_and_changes() {
        let before = vec![finding()];
        let mut after = before.clone();
        after[0]
            .update(
                &update(Some(FindingState::Done), Some("rolled out")),
                "ann",
                at(1),
            )
            .unwrap();
        let mut other = finding();
        other.key = FindingKey::new(4).unwrap();
        after.push(other);
        assert_eq!(
            findings_change(&before, &after),
            [
                "finding FND-3 open → done — \"rolled out\"",
                "finding FND-4 raised for team identity (prevent): \"Enforce phishing-resistant MFA\"",
            ]
        );
        assert!(findings_change(&after, &after).is_empty());
    }
}
