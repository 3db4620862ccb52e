//! The append-only action log of an incident: entries can be added and read, never changed.

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

/// The action log, oldest first, one page and the total.
#[utoipa::path(
    get, path = "/incidents/{key}/actions", operation_id = "list_actions", tag = "actions",
    params(("key" = String, Path, description = "Incident key (INC-42) or id"), ActionQuery),
    responses((status = 200, body = Page<ActionEntry>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn list(
    State(state): State<AppState>,
    _who: Principal,
    ApiPath(key): ApiPath<String>,
    ApiQuery(query): ApiQuery<ActionQuery>,
) -> Result<Json<Page<ActionEntry>>, ApiError> {
    let r = incident_ref(&key)?;
    Ok(Json(
        state
            .store
            .list_actions(&r, query.limit.unwrap_or(0), query.offset.unwrap_or(0))
            .await
            .map_err(store_error)?,
    ))
}

/// Append an entry; the actor is the token's name and the time the server's.
#[utoipa::path(
    post, path = "/incidents/{key}/actions", operation_id = "add_action", tag = "actions",
    params(("key" = String, Path, description = "Incident key (INC-42) or id")),
    request_body = AddAction,
    responses((status = 201, body = ActionEntry), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn add(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiPath(key): ApiPath<String>,
    ApiJson(req): ApiJson<AddAction>,
) -> Result<(StatusCode, Json<ActionEntry>), ApiError> {
    let r = incident_ref(&key)?;
    let entry = state
        .store
        .append_action(
            &who.name,
            &r,
            req.kind.unwrap_or(ActionKind::Note),
            &req.text,
        )
        .await
        .map_err(store_error)?;
    Ok((StatusCode::CREATED, Json(entry)))
}
