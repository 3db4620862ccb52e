//! The Sigma rules matched against every ingested event: their status, and a reload from the
//! configured directories without a restart (SIGHUP does the same).

use axum::Json;
use axum::extract::State;
use vigil_api::error::ErrorBody;
use vigil_api::events::{
    CorrelationGroup, CorrelationWindows, LateEvents, PreviewCorrelation, PreviewMatch,
    PreviewRuleCount, RulePreview, RulePreviewRequest, RulesReloadFailure, RulesStatus,
    ServiceRules, TurnedOffRule, UndeclaredRules,
};
use vigil_ingest::preview::PreviewRequest;

use crate::auth::{Admin, Principal};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::events::{blocking, limit, record, time_range};
use crate::state::AppState;

/// Events a preview reads at most, and by default.
const PREVIEW_MAX_EVENTS: u64 = 10_000_000;
const PREVIEW_DEFAULT_EVENTS: u64 = 1_000_000;

fn status(s: vigil_ingest::RulesStatus) -> RulesStatus {
    RulesStatus {
        paths: s.paths.iter().map(|p| p.display().to_string()).collect(),
        loaded: s.loaded as u64,
        rejected: s.rejected,
        rules_rejected: Some(s.rules_rejected as u64),
        loaded_at: s.loaded_at,
        services: Vec::new(),
        correlations: Vec::new(),
        correlations_rebuilding: false,
        correlations_late: Vec::new(),
        turned_off: Vec::new(),
        placeholders_without_values: s.placeholders_without_values,
        filter_warnings: s.filter_warnings,
        reload_failed: None,
    }
}

/// The loaded rule set: directories, rules compiled, rules rejected with why, the rules written
/// for each service's declared logs, and what each correlation's windows hold now.
#[utoipa::path(
    get, path = "/rules", operation_id = "get_rules_status", tag = "rules",
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
    out.reload_failed = state
        .ingestor
        .rules()
        .reload_failure()
        .map(|f| RulesReloadFailure {
            at: f.at,
            error: f.error,
        });
    let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    out.correlations_late = windows
        .late
        .iter()
        .map(|(tenant, span)| LateEvents {
            tenant: tenant.clone(),
            from: at(span.from_ms),
            to: at(span.to_ms),
        })
        .collect();
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
                    text if shape.decided_at_close => format!("{text} once the window has passed"),
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
    let org = state.ingestor.org().await;
    out.turned_off = org
        .turned_off(set)
        .into_iter()
        .map(|r| TurnedOffRule {
            rule_id: r.id().to_owned(),
            title: r.title().to_owned(),
        })
        .collect();
    out.services = org
        .coverage(&loaded.set)
        .into_iter()
        .map(|c| ServiceRules {
            logsources: c.labels(),
            undeclared: c
                .undeclared
                .iter()
                .map(|part| UndeclaredRules {
                    logsource: c.label_of(part),
                    part: format!("{}={}", part.key, part.value),
                    rules: part.rules as u64,
                })
                .collect(),
            service: c.service,
            rules: c.rules as u64,
        })
        .collect();
    out
}

/// Reload the rules from the configured directories. Events ingested meanwhile are matched by
/// the old set. The old set stays, and the error says why, when a directory cannot be read
/// (503) or a rule would be rejected that the running set does not reject (409: a rule edited
/// into a broken state would stop detecting; fix it and reload again).
#[utoipa::path(
    post, path = "/rules/reload", operation_id = "reload_rules", tag = "rules",
    responses((status = 200, body = RulesStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody))
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
            let code = match e {
                vigil_ingest::IngestError::NewlyRejected { .. } => {
                    vigil_api::error::ErrorCode::Conflict
                }
                _ => vigil_api::error::ErrorCode::Unavailable,
            };
            ApiError::new(code, format!("{e}; the previous rules stay loaded"))
        })?;
    tracing::info!(by = %who.name, rules = loaded.loaded, rejected = loaded.rules_rejected, "rules reloaded");
    Ok(Json(in_force(&state).await))
}

/// Run Sigma rules that are not loaded over the stored events, newest first, as ingest would
/// have matched them (as each service declares its logs), and see what they find before they
/// go into the rules directory. Nothing is recorded. Correlation rules are evaluated over the
/// matched events of the window, oldest first, one stream per tenant.
#[utoipa::path(
    post, path = "/rules/preview", operation_id = "preview_rules", tag = "rules",
    request_body = RulePreviewRequest,
    responses((status = 200, body = RulePreview), (status = 400, description = "No rule compiles, or the query, a time, `limit` or `max_events` is invalid (`field` says which)", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn preview(
    State(state): State<AppState>,
    _who: Principal,
    ApiJson(req): ApiJson<RulePreviewRequest>,
) -> Result<Json<RulePreview>, ApiError> {
    let query = vigil_query::parse(&req.q)
        .map_err(|e| ApiError::invalid_field("q", format!("`q`: {e}")))?;
    if query.pipe.is_some() {
        return Err(ApiError::invalid_field(
            "q",
            "`q` selects the events to run the rules over; leave out the `| count by` or `| top` step",
        ));
    }
    let range = time_range(
        Some(req.from.as_deref().unwrap_or("24h")),
        req.to.as_deref(),
    )?;
    let limit = limit(req.limit, 1)?;
    let max_events = req.max_events.unwrap_or(PREVIEW_DEFAULT_EVENTS);
    if !(1..=PREVIEW_MAX_EVENTS).contains(&max_events) {
        return Err(ApiError::invalid_field(
            "max_events",
            format!("`max_events` must be between 1 and {PREVIEW_MAX_EVENTS}"),
        ));
    }
    let slot = std::sync::Arc::clone(state.ingestor.rules());
    let text = req.rules;
    let (set, rejected) = tokio::task::spawn_blocking(move || slot.compile_text(&text))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::invalid_field("rules", e.to_string()))?;
    if set.rules().is_empty() {
        let why = rejected
            .first()
            .map_or("it holds no rule".to_owned(), Clone::clone);
        return Err(ApiError::invalid_field(
            "rules",
            format!("`rules`: no rule could be compiled ({why}); send Sigma rules as YAML"),
        ));
    }
    let org = state.ingestor.org().await;
    let set = std::sync::Arc::new(set);
    let run = std::sync::Arc::clone(&set);
    let request = PreviewRequest {
        query,
        range,
        limit,
        max_events,
    };
    let found = blocking(state.ingestor.events(), move |s| {
        vigil_ingest::preview::preview(s, &org, &run, request)
    })
    .await?;
    Ok(Json(RulePreview {
        rules: set.rules().len() as u64,
        rejected,
        correlations: set.correlation_count() as u64,
        correlated_from: found.correlated_from,
        events_read: found.events_read,
        complete: found.complete,
        total_matches: found.total_matches,
        per_rule: found
            .per_rule
            .iter()
            .map(|&(rule, matches)| {
                let rule = set.rule(rule);
                PreviewRuleCount {
                    rule_id: rule.id().to_owned(),
                    rule_title: rule.title().to_owned(),
                    level: rule.level().as_str().to_owned(),
                    matches,
                }
            })
            .collect(),
        matches: found
            .matches
            .into_iter()
            .map(|m| {
                let rule = set.rule(m.rule);
                PreviewMatch {
                    rule_id: rule.id().to_owned(),
                    rule_title: rule.title().to_owned(),
                    level: rule.level().as_str().to_owned(),
                    event: record(m.event),
                    correlation: m.correlation.map(|c| PreviewCorrelation {
                        note: c.note,
                        group: c.group,
                        event_ids: c.event_ids,
                    }),
                }
            })
            .collect(),
    }))
}
