//! Alerts: raised by detections on ingest and by external tools (`POST /alerts`), listed for
//! triage, acknowledged, resolved or dismissed with a reason (counted per rule for tuning).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use vigil_api::alerts::*;
use vigil_api::error::ErrorBody;
use vigil_core::{AlertAction, Page};
use vigil_store::{AlertFilter, AlertPolicy, Raised};

use crate::auth::{Principal, Responder, Sender};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use crate::store_error;

/// Reads `ALR-12` or `12`.
fn alert_id(raw: &str) -> Result<i64, ApiError> {
    let digits = raw
        .strip_prefix("ALR-")
        .or_else(|| raw.strip_prefix("alr-"))
        .unwrap_or(raw);
    digits
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            ApiError::invalid_field("key", format!("{raw:?} is not an alert key like ALR-12"))
        })
}

/// Raise an alert from an external tool. The same `dedup_key` (default: source and title)
/// within the dedup window updates the open alert's count and last-seen time instead of
/// opening a new one. Ingest tokens may raise alerts for the service they are bound to.
#[utoipa::path(
    post, path = "/alerts", tag = "alerts",
    request_body = ExternalAlert,
    responses(
        (status = 201, description = "A new alert", body = RaiseResponse),
        (status = 200, description = "Folded into the open alert with the same dedup key", body = RaiseResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)
    )
)]
pub async fn raise(
    State(state): State<AppState>,
    Sender(who): Sender,
    ApiJson(req): ApiJson<ExternalAlert>,
) -> Result<(StatusCode, Json<RaiseResponse>), ApiError> {
    if let Some(bound) = &who.service
        && bound != &req.service
    {
        return Err(ApiError::new(
            vigil_api::error::ErrorCode::Forbidden,
            format!(
                "this ingest token may raise alerts only for service `{bound}`, not `{}`",
                req.service
            ),
        ));
    }
    let dedup_key = req
        .dedup_key
        .clone()
        .filter(|k| !k.trim().is_empty())
        .unwrap_or_else(|| format!("{}|{}", req.source, req.title));
    let alert = NewAlert {
        title: req.title,
        source: AlertSource::External,
        severity: req.severity,
        service: req.service,
        dedup_key,
        rule_id: None,
        summary: req.summary,
        origin: Some(req.source),
        reporter: None,
        event_ids: Vec::new(),
    };
    let raised = state
        .store
        .raise_alert(&who.name, alert, AlertPolicy::default())
        .await
        .map_err(store_error)?;
    Ok(match raised {
        Raised::Created(a) => (
            StatusCode::CREATED,
            Json(RaiseResponse {
                outcome: "created".into(),
                alert: Some(a),
            }),
        ),
        Raised::Deduplicated(a) => (
            StatusCode::OK,
            Json(RaiseResponse {
                outcome: "deduplicated".into(),
                alert: Some(a),
            }),
        ),
        Raised::Suppressed => (
            StatusCode::OK,
            Json(RaiseResponse {
                outcome: "suppressed".into(),
                alert: None,
            }),
        ),
    })
}

/// Alerts, newest first, with filters.
#[utoipa::path(
    get, path = "/alerts", tag = "alerts",
    params(AlertQuery),
    responses((status = 200, body = Page<Alert>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody))
)]
pub async fn list(
    State(state): State<AppState>,
    _who: Principal,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> Result<Json<Page<Alert>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "`limit` must be between 1 and 1000",
        ));
    }
    let filter = AlertFilter {
        status: q.status,
        service: q.service,
        rule_id: q.rule_id,
        limit,
    };
    Ok(Json(
        state
            .store
            .list_alerts(&filter)
            .await
            .map_err(store_error)?,
    ))
}

/// One alert with its log (every creation, repeat, acknowledgement and change).
#[utoipa::path(
    get, path = "/alerts/{key}", tag = "alerts",
    params(("key" = String, Path, description = "Alert key (ALR-12)")),
    responses((status = 200, body = Alert), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn get(
    State(state): State<AppState>,
    _who: Principal,
    Path(key): Path<String>,
) -> Result<Json<Alert>, ApiError> {
    Ok(Json(
        state
            .store
            .get_alert(alert_id(&key)?)
            .await
            .map_err(store_error)?,
    ))
}

async fn act(
    state: &AppState,
    who: &str,
    key: &str,
    action: AlertAction,
) -> Result<Json<Alert>, ApiError> {
    Ok(Json(
        state
            .store
            .act_on_alert(who, alert_id(key)?, action)
            .await
            .map_err(store_error)?,
    ))
}

/// Acknowledge an alert: someone has it, escalation stops.
#[utoipa::path(
    post, path = "/alerts/{key}/ack", tag = "alerts",
    params(("key" = String, Path, description = "Alert key (ALR-12)")),
    responses((status = 200, body = Alert), (status = 400, description = "Not triggered", body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn ack(
    State(state): State<AppState>,
    Responder(who): Responder,
    Path(key): Path<String>,
) -> Result<Json<Alert>, ApiError> {
    act(&state, &who.name, &key, AlertAction::Acknowledge).await
}

/// Resolve an alert.
#[utoipa::path(
    post, path = "/alerts/{key}/resolve", tag = "alerts",
    params(("key" = String, Path, description = "Alert key (ALR-12)")),
    responses((status = 200, body = Alert), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn resolve(
    State(state): State<AppState>,
    Responder(who): Responder,
    Path(key): Path<String>,
) -> Result<Json<Alert>, ApiError> {
    act(&state, &who.name, &key, AlertAction::Resolve).await
}

/// Dismiss an alert as a false positive or benign activity, with a reason (counted per rule).
#[utoipa::path(
    post, path = "/alerts/{key}/dismiss", tag = "alerts",
    params(("key" = String, Path, description = "Alert key (ALR-12)")),
    request_body = DismissAlert,
    responses((status = 200, body = Alert), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn dismiss(
    State(state): State<AppState>,
    Responder(who): Responder,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<DismissAlert>,
) -> Result<Json<Alert>, ApiError> {
    act(
        &state,
        &who.name,
        &key,
        AlertAction::Dismiss(req.kind, req.reason),
    )
    .await
}

/// Per-rule alert, suppression and dismissal counts: which rules are noisy or wrong.
#[utoipa::path(
    get, path = "/alerts/rules", tag = "alerts",
    responses((status = 200, body = Vec<RuleAlertStats>), (status = 401, body = ErrorBody))
)]
pub async fn rules(
    State(state): State<AppState>,
    _who: Principal,
) -> Result<Json<Vec<RuleAlertStats>>, ApiError> {
    let stats = state
        .store
        .alert_stats_by_rule()
        .await
        .map_err(store_error)?;
    Ok(Json(
        stats
            .into_iter()
            .map(|s| RuleAlertStats {
                rule_id: s.rule_id,
                alerts: s.alerts,
                suppressed: s.suppressed,
                false_positives: s.false_positives,
                benign: s.benign,
            })
            .collect(),
    ))
}
