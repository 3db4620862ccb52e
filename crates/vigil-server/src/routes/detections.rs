//! Detections: Sigma rule matches recorded on ingest, newest first, for triage and tuning.

use axum::Json;
use axum::extract::State;
use vigil_api::error::ErrorBody;
use vigil_api::events::{Detection, DetectionQuery};
use vigil_core::Page;
use vigil_store::DetectionFilter;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::store_error;

/// Detections matching every filter given, newest first.
#[utoipa::path(
    get, path = "/detections", tag = "detections",
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
    let filter = DetectionFilter {
        rule_id: q.rule_id,
        service: q.service,
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
