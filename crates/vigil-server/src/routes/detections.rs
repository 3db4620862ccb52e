//! Detections: Sigma rule matches recorded on ingest, most recently recorded first (or, after
//! an id, the next ones in order, to follow them), for triage and tuning.

use axum::Json;
use axum::extract::State;
use vigil_api::error::ErrorBody;
use vigil_api::events::{Detection, DetectionDetail, DetectionQuery};
use vigil_core::Page;
use vigil_store::DetectionFilter;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;
use crate::store_error;

/// Detections matching every filter given, most recently recorded first (an old log ingested
/// today comes before yesterday's live events; each carries its event's own time). With
/// `after_id`, those recorded after that one in ascending id order, oldest first, so that a
/// poller passing the largest id it has seen pages forward and misses none.
#[utoipa::path(
    get, path = "/detections", operation_id = "list_detections", tag = "detections",
    params(DetectionQuery),
    responses((status = 200, body = Page<Detection>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn list(
    State(state): State<AppState>,
    _who: Principal,
    ApiQuery(q): ApiQuery<DetectionQuery>,
) -> Result<Json<Page<Detection>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "`limit` must be between 1 and 1000",
        ));
    }
    // An id is never negative: `after_id=-1` would otherwise read as "from the first" and
    // hide a poller's bug, where `after_id=abc` is refused.
    if q.after_id.is_some_and(|id| id < 0) {
        return Err(ApiError::invalid_field(
            "after_id",
            "query parameter `after_id`: must be a whole number of 0 or more, the id of the last detection seen (0 to start from the first)",
        ));
    }
    let range = super::events::time_range(q.from.as_deref(), q.to.as_deref())?;
    let filter = DetectionFilter {
        rule_id: q.rule_id,
        service: q.service,
        host: q.host,
        tenant: q.tenant,
        from: range.from,
        to: range.to,
        min_level: q.min_level,
        after_id: q.after_id,
        limit,
    };
    Ok(Json(
        state
            .store
            .list_detections(&filter)
            .await
            .map_err(store_error)?,
    ))
}

/// One detection with the event it matched, for a triager reading `vigil detections`.
#[utoipa::path(
    get, path = "/detections/{id}", operation_id = "get_detection", tag = "detections",
    params(("id" = i64, Path, description = "Detection id")),
    responses((status = 200, body = DetectionDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn get(
    State(state): State<AppState>,
    _who: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DetectionDetail>, ApiError> {
    let id = id.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::invalid_field("id", format!("{id:?} is not a detection id like 1200"))
    })?;
    let detection = state.store.get_detection(id).await.map_err(store_error)?;
    let (event_id, time) = (detection.detection.event_id, detection.detection.event_time);
    let event = super::events::blocking(state.ingestor.events(), move |s| s.event(event_id, time))
        .await?
        .map(super::events::record);
    Ok(Json(DetectionDetail { detection, event }))
}
