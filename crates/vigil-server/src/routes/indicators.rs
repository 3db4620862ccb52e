//! Indicator routes: add and remove indicators on an incident, search them across incidents.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use vigil_api::error::ErrorBody;
use vigil_api::types::*;
use vigil_store::IndicatorSearch;

use crate::auth::{Principal, Responder};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use crate::{incident_ref, parse_uuid, store_error};

/// Add an indicator. Its value is validated for its kind and normalised (`hash` infers md5,
/// sha1 or sha256 from the length); an active indicator with the same kind and value is
/// returned (200) instead of a duplicate (201).
#[utoipa::path(
    post, path = "/incidents/{key}/indicators", operation_id = "add_indicator", tag = "indicators",
    params(("key" = String, Path, description = "Incident key (INC-42) or id")),
    request_body = NewIndicator,
    responses(
        (status = 201, description = "Added", body = Indicator),
        (status = 200, description = "Already on the incident", body = Indicator),
        (status = 400, description = "The value is not a valid indicator of its kind", body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The incident is closed: reopen it (move it back to an earlier phase with a reason) to change it", body = ErrorBody)
    )
)]
pub async fn add(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiPath(key): ApiPath<String>,
    ApiJson(req): ApiJson<NewIndicator>,
) -> Result<(StatusCode, Json<Indicator>), ApiError> {
    let r = incident_ref(&key)?;
    // Validate this one body's fields first so the error names `kind` or `value` rather than
    // the store's list-level `indicators`.
    vigil_core::IndicatorValue::parse(&req.kind, &req.value).map_err(|e| store_error(e.into()))?;
    let mut added = state
        .store
        .add_indicators(&who.name, &r, vec![req])
        .await
        .map_err(store_error)?;
    let (indicator, new) = added
        .pop()
        .ok_or_else(|| ApiError::internal("the store added no indicator for one request"))?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(indicator)))
}

/// Remove an indicator: it stays on the record, marked removed with who, when and why, and no
/// longer matches searches or suggests related incidents.
#[utoipa::path(
    delete, path = "/incidents/{key}/indicators/{id}", operation_id = "remove_indicator", tag = "indicators",
    params(
        ("key" = String, Path, description = "Incident key (INC-42) or id"),
        ("id" = String, Path, description = "Indicator id"),
        RemoveIndicatorQuery,
    ),
    responses((status = 200, body = Indicator), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "The incident is closed: reopen it (move it back to an earlier phase with a reason) to change it", body = ErrorBody))
)]
pub async fn remove(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiPath((key, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<RemoveIndicatorQuery>,
) -> Result<Json<Indicator>, ApiError> {
    let r = incident_ref(&key)?;
    let id = parse_uuid("id", &id)?;
    Ok(Json(
        state
            .store
            .remove_indicator(&who.name, &r, id, &query.reason)
            .await
            .map_err(store_error)?,
    ))
}

/// Find the incidents carrying an active indicator with this value, read as every kind it is
/// valid for and normalised the same way as stored values: a page of hits, newest incident
/// first, the `X-Total-Count` header saying how many there are in all.
#[utoipa::path(
    get, path = "/indicators", operation_id = "search_indicators", tag = "indicators",
    params(IndicatorQuery),
    responses(
        (status = 200, body = Vec<IndicatorHit>,
         headers(("X-Total-Count" = u64, description = "How many hits there are in all; the body is the page `limit` and `offset` ask for"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)
    )
)]
pub async fn search(
    State(state): State<AppState>,
    _who: Principal,
    ApiQuery(query): ApiQuery<IndicatorQuery>,
) -> Result<(HeaderMap, Json<Vec<IndicatorHit>>), ApiError> {
    let kinds = match &query.kind {
        Some(kind) => vigil_core::IndicatorKind::named(kind)
            .map_err(|e| match e {
                vigil_core::DomainError::InvalidField { reason, .. } => {
                    ApiError::invalid_field("kind", format!("query parameter `kind`: {reason}"))
                }
                other => store_error(other.into()),
            })?
            .to_vec(),
        None => Vec::new(),
    };
    let search = IndicatorSearch {
        value: query.value,
        kinds,
        limit: query.limit.unwrap_or(0),
        offset: query.offset.unwrap_or(0),
    };
    let page = state
        .store
        .search_indicator(&search)
        .await
        .map_err(store_error)?;
    let mut headers = HeaderMap::new();
    headers.insert(vigil_api::TOTAL_COUNT_HEADER, HeaderValue::from(page.total));
    Ok((headers, Json(page.items)))
}
