//! `GET /api/v1/health`: liveness, the one route that needs no token.

use axum::Json;
use vigil_api::HealthResponse;

/// Reports that the server is up.
#[utoipa::path(
    get,
    path = "/health", operation_id = "get_health",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The server is up", body = HealthResponse))
)]
pub async fn health() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}
