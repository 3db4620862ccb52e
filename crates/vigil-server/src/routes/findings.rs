//! Findings: work items an incident leaves for owning teams (`FND-n`). Raised on an incident,
//! listed across incidents (by team, state, kind, open, overdue, incident and the times a
//! review asks about), read and changed by key. The owning team must be a team of the
//! organisation document in force; every write names its actor from the token's principal.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use vigil_api::error::ErrorBody;
use vigil_api::types::*;
use vigil_core::finding::check_team;
use vigil_store::FindingFilter;

use crate::auth::{Principal, Responder};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use crate::{incident_ref, store_error};

/// `team` checked against the teams of the organisation document in force; a refusal names
/// `field` and lists them (or says to apply a document when none is).
async fn known_team(state: &AppState, field: &'static str, team: &str) -> Result<String, ApiError> {
    let teams: Vec<String> = match state.store.current_org().await.map_err(store_error)? {
        None => Vec::new(),
        Some(_) => {
            let (_, org) = crate::routes::org::current(state).await?;
            org.document()
                .teams
                .iter()
                .map(|t| t.name.clone())
                .collect()
        }
    };
    let known: Vec<&str> = teams.iter().map(String::as_str).collect();
    check_team(field, team, &known).map_err(|e| store_error(e.into()))
}

fn finding_key(raw: &str) -> Result<FindingKey, ApiError> {
    FindingKey::parse(raw).map_err(|_| {
        ApiError::invalid_field("key", format!("{raw:?} is not a finding key like FND-3"))
    })
}

/// Raise a finding on an incident, in any phase (findings outlive the incident's closing). Its
/// team must be a team of the organisation document.
#[utoipa::path(
    post, path = "/incidents/{key}/findings", operation_id = "create_finding", tag = "findings",
    params(("key" = String, Path, description = "Incident key (INC-42) or id")),
    request_body = NewFinding,
    responses(
        (status = 201, description = "The finding, with its key", body = Finding),
        (status = 400, description = "A field is invalid (an unknown team: the known ones are listed); `field` names it", body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiPath(key): ApiPath<String>,
    ApiJson(mut req): ApiJson<NewFinding>,
) -> Result<(StatusCode, Json<Finding>), ApiError> {
    let r = incident_ref(&key)?;
    req.team = known_team(&state, "team", &req.team).await?;
    let finding = state
        .store
        .raise_finding(&who.name, &r, &req)
        .await
        .map_err(store_error)?;
    tracing::info!(key = %finding.key, incident = %finding.incident, team = %finding.team, actor = %who.name, "finding raised");
    Ok((StatusCode::CREATED, Json(finding)))
}

/// List findings across incidents, oldest key first.
#[utoipa::path(
    get, path = "/findings", operation_id = "list_findings", tag = "findings",
    params(FindingQuery),
    responses(
        (status = 200, description = "One page of matching findings and the total", body = Page<Finding>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, description = "The incident named does not exist", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _who: Principal,
    ApiQuery(query): ApiQuery<FindingQuery>,
) -> Result<Json<Page<Finding>>, ApiError> {
    let now = chrono::Utc::now();
    let time = |field: &'static str, text: Option<&str>| {
        text.map(|t| crate::routes::events::parse_time(field, t, now))
            .transpose()
    };
    let incident = query
        .incident
        .as_deref()
        .map(|raw| {
            raw.parse().map_err(|_| {
                ApiError::invalid_field(
                    "incident",
                    format!("{raw:?} is not an incident key like INC-42 or an incident id"),
                )
            })
        })
        .transpose()?;
    let filter = FindingFilter {
        team: query.team,
        state: query.state,
        kind: query.kind,
        open: query.open,
        overdue_on: (query.overdue == Some(true)).then(|| now.date_naive()),
        incident,
        created_from: time("created_from", query.created_from.as_deref())?,
        created_to: time("created_to", query.created_to.as_deref())?,
        closed_from: time("closed_from", query.closed_from.as_deref())?,
        closed_to: time("closed_to", query.closed_to.as_deref())?,
        limit: query.limit.unwrap_or(0),
        offset: query.offset.unwrap_or(0),
    };
    let page = state
        .store
        .list_findings(&filter)
        .await
        .map_err(store_error)?;
    // No finding of a team the organisation does not know is a misspelt team (names are
    // case-sensitive), not a team that owes nothing: refused naming the known ones, as raising
    // one is. A team dropped from the document keeps listing the findings it still owns.
    if let Some(team) = filter.team.as_deref().filter(|_| page.total == 0) {
        known_team(&state, "team", team).await?;
    }
    Ok(Json(page))
}

/// Read one finding by key (`FND-3`).
#[utoipa::path(
    get, path = "/findings/{key}", operation_id = "get_finding", tag = "findings",
    params(("key" = String, Path, description = "Finding key (FND-3)")),
    responses((status = 200, body = Finding), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn get(
    State(state): State<AppState>,
    _who: Principal,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<Finding>, ApiError> {
    let key = finding_key(&key)?;
    Ok(Json(
        state.store.get_finding(key).await.map_err(store_error)?,
    ))
}

/// Change a finding: its state (`done` needs a resolution note, `wont_fix` a reason, reopening
/// a reason, all in `note`) or its fields; kept in its history with who and when, and logged on
/// its incident.
#[utoipa::path(
    patch, path = "/findings/{key}", operation_id = "update_finding", tag = "findings",
    params(("key" = String, Path, description = "Finding key (FND-3)")),
    request_body = FindingUpdate,
    responses((status = 200, body = Finding), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn update(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiPath(key): ApiPath<String>,
    ApiJson(mut req): ApiJson<FindingUpdate>,
) -> Result<Json<Finding>, ApiError> {
    let key = finding_key(&key)?;
    if let Some(team) = &req.team {
        req.team = Some(known_team(&state, "team", team).await?);
    }
    Ok(Json(
        state
            .store
            .update_finding(&who.name, key, &req)
            .await
            .map_err(store_error)?,
    ))
}
