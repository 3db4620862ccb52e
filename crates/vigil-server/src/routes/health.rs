//! `GET /api/v1/health`: liveness, the one route that needs no token.

use axum::Json;
use axum::extract::State;
use vigil_api::{HealthResponse, LogStoreHealth};

use crate::state::AppState;

/// Reports that the server is up, whether its log store works, and the limits a client checks
/// before sending. A failing log store answers `200` with `status: degraded`: the server is
/// alive (restarting it frees no disk), and a monitor reads what fails from `log_store`.
///
/// Query parameters are ignored, so a load balancer's or monitor's own (a cache-buster such as
/// `?_=123`) changes nothing.
#[utoipa::path(
    get,
    path = "/health", operation_id = "get_health",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The server is up", body = HealthResponse))
)]
pub async fn health(State(state): State<AppState>) -> Json<HealthResponse> {
    // A few field reads under a lock: no blocking call.
    let logs = state.ingestor.events().health();
    Json(HealthResponse {
        status: if logs.is_ok() { "ok" } else { "degraded" }.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        max_evidence_bytes: Some(state.settings.evidence_body_limit),
        log_store: Some(LogStoreHealth {
            status: if logs.is_ok() { "ok" } else { "failing" }.to_owned(),
            journal_error: logs.journal,
            index_error: logs.index,
        }),
    })
}
