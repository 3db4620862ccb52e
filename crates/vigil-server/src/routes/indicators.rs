//! Indicator routes: add and remove indicators on an incident, search them across incidents.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use vigil_api::error::ErrorBody;
use vigil_api::types::*;

use crate::auth::{Principal, Responder};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use crate::{incident_ref, parse_uuid, store_error};

/// Add an indicator; it is normalised, and an existing equal indicator is returned instead of a
/// duplicate.
#[utoipa::path(
    post, path = "/incidents/{key}/indicators", tag = "indicators",
    params(("key" = String, Path, description = "Incident key (INC-42) or id")),
    request_body = AddIndicator,
    responses(
        (status = 201, body = Indicator),
        (status = 400, description = "The value is not a valid indicator of its kind", body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)
    )
)]
pub async fn add(
    State(state): State<AppState>,
    Responder(who): Responder,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<AddIndicator>,
) -> Result<(StatusCode, Json<Indicator>), ApiError> {
    let r = incident_ref(&key)?;
    let indicator = state
        .store
        .add_indicator(&r, &who.name, req)
        .await
        .map_err(store_error)?;
    Ok((StatusCode::CREATED, Json(indicator)))
}

/// Remove an indicator from an incident.
#[utoipa::path(
    delete, path = "/incidents/{key}/indicators/{id}", tag = "indicators",
    params(
        ("key" = String, Path, description = "Incident key (INC-42) or id"),
        ("id" = String, Path, description = "Indicator id"),
    ),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn remove(
    State(state): State<AppState>,
    Responder(who): Responder,
    Path((key, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let r = incident_ref(&key)?;
    let id = parse_uuid("id", &id)?;
    state
        .store
        .remove_indicator(&r, &who.name, id)
        .await
        .map_err(store_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Find every incident carrying an indicator value (normalised like stored values).
#[utoipa::path(
    get, path = "/indicators", tag = "indicators",
    params(IndicatorQuery),
    responses((status = 200, body = Vec<IndicatorHit>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody))
)]
pub async fn search(
    State(state): State<AppState>,
    _who: Principal,
    ApiQuery(query): ApiQuery<IndicatorQuery>,
) -> Result<Json<Vec<IndicatorHit>>, ApiError> {
    Ok(Json(
        state
            .store
            .search_indicators(&query)
            .await
            .map_err(store_error)?,
    ))
}
