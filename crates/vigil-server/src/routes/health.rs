//! `GET /api/v1/health`: liveness, the one route that needs no token.

use axum::Json;
use axum::extract::State;
use vigil_api::HealthResponse;

use crate::state::AppState;

/// Reports that the server is up, and the limits a client checks before sending.
#[utoipa::path(
    get,
    path = "/health", operation_id = "get_health",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The server is up", body = HealthResponse))
)]
pub async fn health(State(state): State<AppState>) -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        max_evidence_bytes: Some(state.settings.evidence_body_limit),
    })
}
