//! Related incidents: explicit links, and suggestions from shared indicators.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use vigil_api::error::ErrorBody;
use vigil_api::types::*;
use vigil_store::SuggestionPage;

use crate::auth::{Principal, Responder};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use crate::{incident_ref, store_error};

/// Link two incidents explicitly (symmetric: each lists the other).
#[utoipa::path(
    post, path = "/incidents/{key}/links", operation_id = "link_incidents", tag = "links",
    params(("key" = String, Path, description = "Incident key (INC-42) or id")),
    request_body = CreateLink,
    responses((status = 201, description = "The link, seen from this incident", body = IncidentLink), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody))
)]
pub async fn create(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiPath(key): ApiPath<String>,
    ApiJson(req): ApiJson<CreateLink>,
) -> Result<(StatusCode, Json<IncidentLink>), ApiError> {
    let r = incident_ref(&key)?;
    let other = incident_ref(&req.other).map_err(|_| {
        ApiError::invalid_field(
            "other",
            "`other` must be an incident key like INC-42 or an incident id",
        )
    })?;
    let link = state
        .store
        .link_incidents(&who.name, &r, &other, req.note.as_deref())
        .await
        .map_err(store_error)?;
    Ok((StatusCode::CREATED, Json(link)))
}

/// Remove an explicit link.
#[utoipa::path(
    delete, path = "/incidents/{key}/links/{other}", operation_id = "unlink_incidents", tag = "links",
    params(
        ("key" = String, Path, description = "Incident key (INC-42) or id"),
        ("other" = String, Path, description = "The other incident's key or id"),
    ),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn delete(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiPath((key, other)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let r = incident_ref(&key)?;
    let other = incident_ref(&other)?;
    state
        .store
        .unlink_incidents(&who.name, &r, &other)
        .await
        .map_err(store_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Linked incidents, all of them, and a page of suggestions: incidents sharing an active
/// indicator, not linked yet, those sharing the most indicators first, then the newest;
/// `suggestions_total` says how many there are in all.
#[utoipa::path(
    get, path = "/incidents/{key}/related", operation_id = "list_related_incidents", tag = "links",
    params(("key" = String, Path, description = "Incident key (INC-42) or id"), RelatedQuery),
    responses((status = 200, body = Related), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn related(
    State(state): State<AppState>,
    _who: Principal,
    ApiPath(key): ApiPath<String>,
    ApiQuery(query): ApiQuery<RelatedQuery>,
) -> Result<Json<Related>, ApiError> {
    let r = incident_ref(&key)?;
    let page = SuggestionPage {
        limit: query.limit.unwrap_or(0),
        offset: query.offset.unwrap_or(0),
    };
    Ok(Json(
        state.store.related(&r, page).await.map_err(store_error)?,
    ))
}
