//! Incident routes: create, list with filters, read, update, severity, phase and timestamp
//! changes. Every write names its actor from the token's principal.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use vigil_api::error::ErrorBody;
use vigil_api::types::*;

use crate::auth::{Principal, Responder};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use crate::{incident_ref, store_error};

/// Open an incident.
#[utoipa::path(
    post, path = "/incidents", tag = "incidents",
    request_body = CreateIncident,
    responses(
        (status = 201, description = "The incident, with its key", body = Incident),
        (status = 400, description = "A field is invalid; `field` names it", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiJson(req): ApiJson<CreateIncident>,
) -> Result<(StatusCode, Json<Incident>), ApiError> {
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
    get, path = "/incidents", tag = "incidents",
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
    let page = state
        .store
        .list_incidents(&query)
        .await
        .map_err(store_error)?;
    Ok(Json(page))
}

/// Read one incident by key (`INC-42`) or id.
#[utoipa::path(
    get, path = "/incidents/{key}", tag = "incidents",
    params(("key" = String, Path, description = "Incident key (INC-42) or id")),
    responses((status = 200, body = Incident), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn get(
    State(state): State<AppState>,
    _who: Principal,
    Path(key): Path<String>,
) -> Result<Json<Incident>, ApiError> {
    let r = incident_ref(&key)?;
    Ok(Json(
        state.store.get_incident(&r).await.map_err(store_error)?,
    ))
}

/// Change descriptive fields; only the fields present change.
#[utoipa::path(
    patch, path = "/incidents/{key}", tag = "incidents",
    params(("key" = String, Path, description = "Incident key (INC-42) or id")),
    request_body = UpdateIncident,
    responses((status = 200, body = Incident), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn update(
    State(state): State<AppState>,
    Responder(who): Responder,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<UpdateIncident>,
) -> Result<Json<Incident>, ApiError> {
    let r = incident_ref(&key)?;
    Ok(Json(
        state
            .store
            .update_incident(&r, &who.name, req)
            .await
            .map_err(store_error)?,
    ))
}

/// Change the severity, recording who and why.
#[utoipa::path(
    post, path = "/incidents/{key}/severity", tag = "incidents",
    params(("key" = String, Path, description = "Incident key (INC-42) or id")),
    request_body = ChangeSeverity,
    responses((status = 200, body = Incident), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn severity(
    State(state): State<AppState>,
    Responder(who): Responder,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<ChangeSeverity>,
) -> Result<Json<Incident>, ApiError> {
    let r = incident_ref(&key)?;
    Ok(Json(
        state
            .store
            .change_severity(&r, &who.name, req)
            .await
            .map_err(store_error)?,
    ))
}

/// Move to another phase; a refusal (409) lists every guard that refused.
#[utoipa::path(
    post, path = "/incidents/{key}/phase", tag = "incidents",
    params(("key" = String, Path, description = "Incident key (INC-42) or id")),
    request_body = ChangePhase,
    responses(
        (status = 200, body = Incident),
        (status = 409, description = "Guards refused the transition; `guards` lists them", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)
    )
)]
pub async fn phase(
    State(state): State<AppState>,
    Responder(who): Responder,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<ChangePhase>,
) -> Result<Json<Incident>, ApiError> {
    let r = incident_ref(&key)?;
    Ok(Json(
        state
            .store
            .change_phase(&r, &who.name, req)
            .await
            .map_err(store_error)?,
    ))
}

/// Correct a lifecycle timestamp, with a reason.
#[utoipa::path(
    post, path = "/incidents/{key}/timestamps", tag = "incidents",
    params(("key" = String, Path, description = "Incident key (INC-42) or id")),
    request_body = CorrectTimestamp,
    responses((status = 200, body = Incident), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn timestamp(
    State(state): State<AppState>,
    Responder(who): Responder,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<CorrectTimestamp>,
) -> Result<Json<Incident>, ApiError> {
    let r = incident_ref(&key)?;
    Ok(Json(
        state
            .store
            .correct_timestamp(&r, &who.name, req)
            .await
            .map_err(store_error)?,
    ))
}
