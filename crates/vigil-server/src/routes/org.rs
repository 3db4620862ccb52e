//! The organisation (people, teams with their on-call schedules, service ownership) applied as
//! one declarative document, and the on-call questions asked of it: who is on call for a team
//! (or a service's owning team) now or at any time, and where coverage has gaps.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use jiff::Timestamp;
use vigil_api::error::{ErrorBody, ErrorCode};
use vigil_api::org::*;
use vigil_oncall::{OrgDocument, Responder, Source, TeamQueryError, ValidOrg};
use vigil_store::OrgVersion;

use crate::auth::{Admin, Principal};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::events::parse_time;
use crate::state::AppState;
use crate::store_error;

fn state_of(version: OrgVersion, changed: bool, doc: &OrgDocument) -> OrgState {
    OrgState {
        version: version.version,
        changed,
        applied_at: version.applied_at,
        applied_by: version.applied_by,
        people: doc.people.len() as u64,
        teams: doc.teams.len() as u64,
        services: doc.services.len() as u64,
        rules_turned_off: doc.alerting.iter().filter(|a| !a.enabled).count() as u64,
        // Webhook secrets never leave the server, whoever asks: the answer shows the
        // document with each webhook redacted (the store keeps it as applied).
        document: serde_json::to_value(doc.redacted()).unwrap_or(serde_json::Value::Null),
        warnings: Vec::new(),
    }
}

/// Apply the organisation document: people with contacts, teams with members, manager and
/// on-call schedules, and service owners. Validated as a whole — every problem is listed,
/// the first one's field named — and idempotent: applying the document in force changes
/// nothing (`changed: false`). A change is one audited write.
#[utoipa::path(
    put, path = "/org", operation_id = "apply_org", tag = "org",
    request_body(content = OrgDocument, description = "The organisation document (docs/org.md): people, teams with their schedules and escalation policies, service owners, the central team and alerting settings. A member the schema does not name is refused (400, `field` names it), as is a document that does not validate as a whole"),
    responses(
        (status = 200, body = OrgState),
        (status = 400, description = "The document is invalid; `message` lists every problem", body = ErrorBody),
        (status = 403, body = ErrorBody)
    )
)]
pub async fn apply(
    State(state): State<AppState>,
    Admin(who): Admin,
    ApiJson(doc): ApiJson<OrgDocument>,
) -> Result<Json<OrgState>, ApiError> {
    if let Err(invalid) = doc.validate() {
        let field = invalid.problems[0].field.clone();
        return Err(ApiError::invalid_field(field, invalid.to_string()));
    }
    let value = serde_json::to_value(&doc).map_err(ApiError::internal)?;
    let (version, changed) = state
        .store
        .apply_org(&who.name, value)
        .await
        .map_err(store_error)?;
    // The next batch ingested goes by the new services' logsources and alerting settings.
    state.ingestor.forget_org();
    let mut warnings = vigil_ingest::org::OrgView::new(Some(doc.clone()))
        .coverage_warnings(&state.ingestor.rules().current().set);
    // Valid already: the people on call whom no page can reach are warned of, not refused.
    warnings.extend(doc.validate().map(|v| v.warnings()).unwrap_or_default());
    Ok(Json(OrgState {
        warnings,
        ..state_of(version, changed, &doc)
    }))
}

/// The organisation document in force.
#[utoipa::path(
    get, path = "/org", operation_id = "get_org", tag = "org",
    responses((status = 200, body = OrgState), (status = 404, description = "No document was applied yet", body = ErrorBody))
)]
pub async fn get(
    State(state): State<AppState>,
    _who: Principal,
) -> Result<Json<OrgState>, ApiError> {
    let (version, doc) = current(&state).await?;
    Ok(Json(state_of(version, false, doc.document())))
}

pub(crate) async fn current(state: &AppState) -> Result<(OrgVersion, Arc<ValidOrg>), ApiError> {
    let Some(version) = state.store.current_org().await.map_err(store_error)? else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "no organisation is configured yet; describe people, teams and schedules in org.yaml and run `vigil apply -f org.yaml`",
        ));
    };
    if let Some(valid) = state.org.get(version.version) {
        return Ok((version, valid));
    }
    let doc: OrgDocument =
        serde_json::from_value(version.document.clone()).map_err(ApiError::internal)?;
    let valid = Arc::new(doc.validate_stored().map_err(ApiError::internal)?);
    state.org.put(version.version, valid.clone());
    Ok((version, valid))
}

/// `field`'s time for the schedules, which cover the years -9999 to 9999.
fn to_jiff(field: &'static str, t: DateTime<Utc>) -> Result<Timestamp, ApiError> {
    Timestamp::new(t.timestamp(), t.timestamp_subsec_nanos() as i32).map_err(|_| {
        ApiError::invalid_field(
            field,
            format!(
                "`{field}` is outside the years -9999 to 9999 schedules cover; give a nearer time"
            ),
        )
    })
}

/// The end of a coverage window (`from` plus `days`) for the schedules.
fn window_end(to: DateTime<Utc>) -> Result<Timestamp, ApiError> {
    to_jiff("days", to).map_err(|_| {
        ApiError::invalid_field(
            "days",
            "the window from `from` over `days` days ends past the year 9999 schedules cover; give fewer days or an earlier `from`",
        )
    })
}

fn team_error(err: TeamQueryError, field: &'static str) -> ApiError {
    match err {
        TeamQueryError::UnknownTeam(_) => ApiError::invalid_field(field, err.to_string()),
        TeamQueryError::Range(_) | TeamQueryError::ScheduleRange { .. } => {
            ApiError::invalid_field("days", err.to_string())
        }
    }
}

/// Who is on call for a team — or for the team owning a service — at an instant (default now),
/// in each of its schedules in escalation order, with how to reach them, the manager, and the
/// team's escalation levels with whom each pages at its time (and whether the page reaches
/// them: `reachable`). A team with no one to page is answered by the central team, as the
/// escalator pages it: `answered_by` names it, `note` says why, and the schedules, manager and
/// levels are that team's.
#[utoipa::path(
    get, path = "/oncall", operation_id = "who_is_on_call", tag = "org",
    params(OnCallQuery),
    responses((status = 200, body = OnCallResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn who(
    State(state): State<AppState>,
    _who: Principal,
    ApiQuery(q): ApiQuery<OnCallQuery>,
) -> Result<Json<OnCallResponse>, ApiError> {
    let (_, org) = current(&state).await?;
    let field = if q.team.is_some() { "team" } else { "service" };
    let team = match (&q.team, &q.service) {
        (Some(t), None) => t.clone(),
        (None, Some(s)) => org.owner_of(s).map(|t| t.name.clone()).ok_or_else(|| {
            ApiError::invalid_field(
                "service",
                format!(
                    "no team owns service {s:?}; add it to `services` in the organisation document"
                ),
            )
        })?,
        _ => {
            return Err(ApiError::invalid_field(
                "team",
                "give exactly one of `team` or `service`",
            ));
        }
    };
    let now = Utc::now();
    let at = match &q.at {
        Some(text) => parse_time("at", text, now)?,
        None => now,
    };
    // A team with no one to page is answered by the central team, as the escalator pages it.
    let (answering, answered_by, note) = match org
        .responder(&team)
        .map_err(|e| team_error(e, field))?
    {
        Responder::Own(_) => (team.clone(), None, None),
        Responder::Central { team: c, why } => (c.name.clone(), Some(c.name.clone()), Some(why)),
        Responder::Nobody { why } => (team.clone(), None, Some(why)),
    };
    let entries = org
        .on_call(&answering, to_jiff("at", at)?)
        .map_err(|e| team_error(e, field))?;
    let team_doc = org.document().teams.iter().find(|t| t.name == answering);
    let escalation = escalation_levels(&org, &answering, at).map_err(|e| team_error(e, field))?;
    Ok(Json(OnCallResponse {
        team: team.clone(),
        at: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        manager: team_doc.and_then(|t| t.manager.clone()),
        escalation,
        answered_by,
        note,
        schedules: entries
            .into_iter()
            .map(|e| {
                let on_call = e.on_call;
                let contacts = on_call
                    .as_ref()
                    .and_then(|o| org.person(&o.person))
                    .map(|p| {
                        p.contacts
                            .iter()
                            .map(|c| ContactInfo {
                                kind: serde_json::to_value(c.kind)
                                    .ok()
                                    .and_then(|v| v.as_str().map(str::to_owned))
                                    .unwrap_or_default(),
                                address: c.shown_address(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                ScheduleOnCallInfo {
                    schedule: e.schedule,
                    source: on_call.as_ref().map(|o| match &o.source {
                        Source::Layer { index, name } => {
                            name.clone().unwrap_or_else(|| format!("layer {index}"))
                        }
                        Source::Override { index } => format!("override {index}"),
                    }),
                    start: on_call.as_ref().map(|o| o.start.to_string()),
                    end: on_call.as_ref().map(|o| o.end.to_string()),
                    person: on_call.map(|o| o.person),
                    contacts,
                }
            })
            .collect(),
    }))
}

/// The team's escalation levels, each with whom it pages at its own time for an alert raised
/// at `at`: what `vigil oncall who` shows, so that nobody reads the next level off the
/// manager alone.
fn escalation_levels(
    org: &ValidOrg,
    team: &str,
    at: DateTime<Utc>,
) -> Result<Vec<EscalationLevelInfo>, TeamQueryError> {
    let policy = org.escalation(team)?;
    let mut levels = Vec::with_capacity(policy.levels.len());
    for level in policy.levels {
        let delay = vigil_oncall::parse_after(&level.after).unwrap_or(0);
        let paged_at = i64::try_from(delay)
            .ok()
            .and_then(chrono::TimeDelta::try_seconds)
            .and_then(|d| at.checked_add_signed(d))
            .and_then(|t| to_jiff("at", t).ok());
        let pages = match paged_at {
            Some(t) => org.page_targets(team, &level.notify, t)?,
            None => Vec::new(),
        };
        levels.push(EscalationLevelInfo {
            after: level.after,
            notify: level.notify,
            pages: pages
                .into_iter()
                .map(|p| PagedPerson {
                    person: p.person.name,
                    reason: p.reason,
                    reachable: p.reachable,
                })
                .collect(),
        });
    }
    Ok(levels)
}

/// Every interval in the next days (default 30) in which an alert raised for a team — or for
/// any team — is not answered by the first level of its escalation policy (nobody on call in
/// what it names, or nobody with an e-mail or webhook contact), with why and whether a later
/// level answers it and when (`delayed`) or none does (`unreached`): the seed's 24x7x365 made
/// checkable. A team with no one to page is answered by the central team, whose gaps are its
/// gaps (`answered_by`); asked for every team, a team whose schedule is too fine-grained for
/// the window is listed in `unchecked`, naming the schedule, and the others are reported.
#[utoipa::path(
    get, path = "/oncall/coverage", operation_id = "get_oncall_coverage", tag = "org",
    params(CoverageQuery),
    responses((status = 200, body = CoverageReport), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn coverage(
    State(state): State<AppState>,
    _who: Principal,
    ApiQuery(q): ApiQuery<CoverageQuery>,
) -> Result<(StatusCode, Json<CoverageReport>), ApiError> {
    let (_, org) = current(&state).await?;
    let days = q.days.unwrap_or(30);
    if !(1..=731).contains(&days) {
        return Err(ApiError::invalid_field(
            "days",
            "`days` must be between 1 and 731",
        ));
    }
    let now = Utc::now();
    let from = match &q.from {
        Some(text) => parse_time("from", text, now)?,
        None => now,
    };
    let to = from
        .checked_add_signed(chrono::Duration::days(i64::from(days)))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let teams: Vec<String> = match &q.team {
        Some(t) => vec![t.clone()],
        None => org
            .document()
            .teams
            .iter()
            .map(|t| t.name.clone())
            .collect(),
    };
    let (mut gaps, mut answered_by, mut unchecked) = (Vec::new(), Vec::new(), Vec::new());
    let (start, end) = (to_jiff("from", from)?, window_end(to)?);
    for team in &teams {
        if let Ok(Responder::Central { team: c, why }) = org.responder(team) {
            answered_by.push(AnsweredBy {
                team: team.clone(),
                answered_by: c.name.clone(),
                why,
            });
        }
        let found = match org.coverage_gaps(team, start, end) {
            Ok(found) => found,
            // Every team asked for: one schedule too fine-grained for the window is named, and
            // the other teams are reported.
            Err(TeamQueryError::ScheduleRange {
                team: t,
                schedule,
                error,
            }) if q.team.is_none() => {
                unchecked.push(UncheckedTeam {
                    team: team.clone(),
                    message: format!(
                        "team {t}, schedule {schedule}: {error} (ask for this team alone with fewer `days`, or check that schedule's rotation and windows)"
                    ),
                    schedule: Some(schedule),
                });
                continue;
            }
            Err(e) => return Err(team_error(e, "team")),
        };
        for g in found {
            let minutes = g.duration().as_secs() / 60;
            let reached = g.first_reached;
            gaps.push(CoverageGap {
                team: team.clone(),
                start: g.start.to_string(),
                end: g.end.to_string(),
                minutes,
                reason: g.reason,
                kind: if reached.is_some() {
                    "delayed"
                } else {
                    "unreached"
                }
                .to_owned(),
                first_reached_level: reached.as_ref().map(|r| r.level),
                first_reached_after: reached.map(|r| r.after),
            });
        }
    }
    Ok((
        StatusCode::OK,
        Json(CoverageReport {
            from: from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            to: to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            teams,
            gaps,
            answered_by,
            unchecked,
        }),
    ))
}
