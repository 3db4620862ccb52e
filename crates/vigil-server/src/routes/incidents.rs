//! Incident routes: create, list with filters, read, update, severity, phase and timestamp
//! changes, the post-mortem. Every write names its actor from the token's principal.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use vigil_api::error::ErrorBody;
use vigil_api::types::*;

use crate::auth::{Principal, Responder};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use crate::{incident_ref, store_error};
use vigil_store::IncidentFilter;

/// Open an incident.
#[utoipa::path(
    post, path = "/incidents", operation_id = "create_incident", tag = "incidents",
    request_body = NewIncident,
    responses(
        (status = 201, description = "The incident, with its key", body = Incident),
        (status = 400, description = "A field is invalid; `field` names it", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiJson(req): ApiJson<NewIncident>,
) -> Result<(StatusCode, Json<Incident>), ApiError> {
    // Each indicator is checked here so that a refusal names the one at fault
    // (`indicators[2].value`), as the body's own path, rather than the domain's whole list.
    for (i, n) in req.indicators.iter().enumerate() {
        vigil_core::IndicatorValue::parse(&n.kind, &n.value).map_err(|e| match e {
            vigil_core::DomainError::InvalidField { field, reason } => {
                let field = format!("indicators[{i}].{field}");
                ApiError::invalid_field(field.clone(), format!("`{field}`: {reason}"))
            }
            other => store_error(other.into()),
        })?;
    }
    let incident = state
        .store
        .create_incident(&who.name, req)
        .await
        .map_err(store_error)?;
    tracing::info!(key = %incident.key, actor = %who.name, "incident opened");
    Ok((StatusCode::CREATED, Json(incident)))
}

/// List incidents, newest first.
#[utoipa::path(
    get, path = "/incidents", operation_id = "list_incidents", tag = "incidents",
    params(IncidentQuery),
    responses(
        (status = 200, description = "One page of matching incidents and the total", body = Page<Incident>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _who: Principal,
    ApiQuery(query): ApiQuery<IncidentQuery>,
) -> Result<Json<Page<Incident>>, ApiError> {
    // Times are read as every other route reads them (`from`, `to`, `at`).
    let now = chrono::Utc::now();
    let time = |field: &'static str, text: Option<&str>| {
        text.map(|t| crate::routes::events::parse_time(field, t, now))
            .transpose()
    };
    let created_from = time("created_from", query.created_from.as_deref())?;
    let created_to = time("created_to", query.created_to.as_deref())?;
    let filter = IncidentFilter {
        phase: query.phase,
        severity: query.severity,
        category: query.category,
        priority: query.priority,
        service: query.service,
        tenant: query.tenant,
        indicator: query.indicator,
        open: query.open,
        text: query.q,
        created_from,
        created_to,
        limit: query.limit.unwrap_or(0),
        offset: query.offset.unwrap_or(0),
    };
    let page = state
        .store
        .list_incidents(&filter)
        .await
        .map_err(store_error)?;
    Ok(Json(page))
}

/// Read one incident by key (`INC-42`) or id.
#[utoipa::path(
    get, path = "/incidents/{key}", operation_id = "get_incident", tag = "incidents",
    params(("key" = String, Path, description = "Incident key (INC-42) or id")),
    responses((status = 200, body = Incident), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn get(
    State(state): State<AppState>,
    _who: Principal,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<Incident>, ApiError> {
    let r = incident_ref(&key)?;
    Ok(Json(
        state.store.get_incident(&r).await.map_err(store_error)?,
    ))
}

/// Change descriptive fields; only the fields present change.
///
/// Each part is applied to the incident as it is when the change is written: `data_impact`
/// changes the flags it gives and keeps the others, and `add_*`/`remove_*` edit a list as it
/// is then, so that changes several people make at once all stay. Send only what you change:
/// a whole list or assessment read earlier and sent back replaces what others wrote since.
#[utoipa::path(
    patch, path = "/incidents/{key}", operation_id = "update_incident", tag = "incidents",
    params(("key" = String, Path, description = "Incident key (INC-42) or id")),
    request_body = IncidentPatch,
    responses((status = 200, body = Incident), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "The incident is closed: reopen it (move it back to an earlier phase with a reason) to change it", body = ErrorBody))
)]
pub async fn update(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiPath(key): ApiPath<String>,
    ApiJson(req): ApiJson<IncidentPatch>,
) -> Result<Json<Incident>, ApiError> {
    let r = incident_ref(&key)?;
    Ok(Json(
        state
            .store
            .update_incident(&who.name, &r, req)
            .await
            .map_err(store_error)?,
    ))
}

/// Change the severity, recording who and why.
#[utoipa::path(
    post, path = "/incidents/{key}/severity", operation_id = "change_severity", tag = "incidents",
    params(("key" = String, Path, description = "Incident key (INC-42) or id")),
    request_body = ChangeSeverity,
    responses((status = 200, body = Incident), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "The incident is closed: reopen it (move it back to an earlier phase with a reason) to change it", body = ErrorBody))
)]
pub async fn severity(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiPath(key): ApiPath<String>,
    ApiJson(req): ApiJson<ChangeSeverity>,
) -> Result<Json<Incident>, ApiError> {
    let r = incident_ref(&key)?;
    Ok(Json(
        state
            .store
            .change_severity(&who.name, &r, req.severity, &req.reason)
            .await
            .map_err(store_error)?,
    ))
}

/// Move to another phase; a refusal (409) lists every guard that refused.
#[utoipa::path(
    post, path = "/incidents/{key}/phase", operation_id = "change_phase", tag = "incidents",
    params(("key" = String, Path, description = "Incident key (INC-42) or id")),
    request_body = ChangePhase,
    responses(
        (status = 200, body = Incident),
        (status = 409, description = "Guards refused the transition (`guard_refused`; `guards` lists them), or the milestone the move records would come before one already recorded (`conflict`): correct that milestone first", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)
    )
)]
pub async fn phase(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiPath(key): ApiPath<String>,
    ApiJson(req): ApiJson<ChangePhase>,
) -> Result<Json<Incident>, ApiError> {
    let r = incident_ref(&key)?;
    Ok(Json(
        state
            .store
            .change_phase(
                &who.name,
                &r,
                req.phase,
                req.reason.as_deref(),
                req.root_cause.as_deref(),
            )
            .await
            .map_err(store_error)?,
    ))
}

/// Correct a lifecycle timestamp, with a reason.
#[utoipa::path(
    post, path = "/incidents/{key}/timestamps", operation_id = "correct_timestamp", tag = "incidents",
    params(("key" = String, Path, description = "Incident key (INC-42) or id")),
    request_body = CorrectTimestamp,
    responses((status = 200, body = Incident), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn timestamp(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiPath(key): ApiPath<String>,
    ApiJson(req): ApiJson<CorrectTimestamp>,
) -> Result<Json<Incident>, ApiError> {
    let r = incident_ref(&key)?;
    Ok(Json(
        state
            .store
            .correct_timestamp(&who.name, &r, req.kind, req.at, &req.reason)
            .await
            .map_err(store_error)?,
    ))
}

/// Record (or replace) the post-mortem; only in phase post_incident. The replaced one is kept in
/// `post_mortem_history`; `root_cause` sets the incident's root cause. SEV1/SEV2 and data-breach
/// incidents cannot be closed without one naming at least one contributing factor.
#[utoipa::path(
    post, path = "/incidents/{key}/post-mortem", operation_id = "record_post_mortem", tag = "incidents",
    params(("key" = String, Path, description = "Incident key (INC-42) or id")),
    request_body = NewPostMortem,
    responses((status = 200, body = Incident), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "The incident is not in phase post_incident", body = ErrorBody))
)]
pub async fn post_mortem(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiPath(key): ApiPath<String>,
    ApiJson(req): ApiJson<NewPostMortem>,
) -> Result<Json<Incident>, ApiError> {
    let r = incident_ref(&key)?;
    Ok(Json(
        state
            .store
            .record_post_mortem(&who.name, &r, &req)
            .await
            .map_err(store_error)?,
    ))
}
