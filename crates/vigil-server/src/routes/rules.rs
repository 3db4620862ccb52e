//! The Sigma rules matched against every ingested event: their status, and a reload from the
//! configured directories without a restart (SIGHUP does the same).

use axum::Json;
use axum::extract::State;
use vigil_api::error::ErrorBody;
use vigil_api::events::{CorrelationGroup, CorrelationWindows, RulesStatus, ServiceRules};

use crate::auth::{Admin, Principal};
use crate::error::ApiError;
use crate::state::AppState;

fn status(s: vigil_ingest::RulesStatus) -> RulesStatus {
    RulesStatus {
        paths: s.paths.iter().map(|p| p.display().to_string()).collect(),
        loaded: s.loaded as u64,
        rejected: s.rejected,
        loaded_at: s.loaded_at,
        services: Vec::new(),
        correlations: Vec::new(),
        correlations_rebuilding: false,
    }
}

/// The loaded rule set: directories, rules compiled, rules rejected with why, the rules written
/// for each service's declared logs, and what each correlation's windows hold now.
#[utoipa::path(
    get, path = "/rules", tag = "rules",
    responses((status = 200, body = RulesStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn get(State(state): State<AppState>, _who: Principal) -> Json<RulesStatus> {
    Json(in_force(&state).await)
}

/// The status of the rules in force, with the services that declare their logsources and
/// the rules written for them, and the correlations with what their windows hold.
async fn in_force(state: &AppState) -> RulesStatus {
    let windows = state.ingestor.correlation_windows();
    let loaded = &windows.rules;
    let mut out = status(loaded.status.clone());
    let set = &loaded.set;
    out.correlations_rebuilding = windows.rebuilding;
    out.correlations = windows
        .held
        .into_iter()
        .filter_map(|w| {
            let shape = set.correlation_shape(w.rule)?;
            let meta = set.rule(w.rule);
            Some(CorrelationWindows {
                rule_id: meta.id().to_owned(),
                title: meta.title().to_owned(),
                kind: shape.kind.as_str().to_owned(),
                group_by: shape.group_by.to_vec(),
                timespan_seconds: (shape.timespan_ms / 1000).max(0) as u64,
                condition: match shape.condition.to_string() {
                    // Temporal types without a condition need every rule they name.
                    text if text.is_empty() => format!("all {} rules", shape.rules),
                    text => text,
                },
                groups: w.groups as u64,
                events: w.events as u64,
                oldest: w
                    .oldest_ms
                    .and_then(chrono::DateTime::from_timestamp_millis),
                top_groups: w
                    .top
                    .iter()
                    .map(|(tenant, g)| CorrelationGroup {
                        tenant: tenant.clone(),
                        group: shape.group_text(&g.group),
                        value: g.value,
                    })
                    .collect(),
            })
        })
        .collect();
    out.services = state
        .ingestor
        .org()
        .await
        .coverage(&loaded.set)
        .into_iter()
        .map(|c| ServiceRules {
            logsources: c.labels(),
            service: c.service,
            rules: c.rules as u64,
        })
        .collect();
    out
}

/// Reload the rules from the configured directories. Events ingested meanwhile are matched by
/// the old set; if a directory cannot be read the old set stays and the error says why.
#[utoipa::path(
    post, path = "/rules/reload", tag = "rules",
    responses((status = 200, body = RulesStatus), (status = 403, body = ErrorBody), (status = 500, body = ErrorBody))
)]
pub async fn reload(
    State(state): State<AppState>,
    Admin(who): Admin,
) -> Result<Json<RulesStatus>, ApiError> {
    let rules = std::sync::Arc::clone(state.ingestor.rules());
    let loaded = tokio::task::spawn_blocking(move || rules.reload())
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| {
            ApiError::new(
                vigil_api::error::ErrorCode::Unavailable,
                format!("{e}; the previous rules stay loaded"),
            )
        })?;
    tracing::info!(by = %who.name, rules = loaded.loaded, rejected = loaded.rejected.len(), "rules reloaded");
    Ok(Json(in_force(&state).await))
}
