//! Alerts: raised by detections on ingest and by external tools (`POST /alerts`), listed for
//! triage, acknowledged, resolved or dismissed with a reason (counted per rule for tuning).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use vigil_api::alerts::*;
use vigil_api::error::ErrorBody;
use vigil_core::{AlertAction, Incident, NewIncident, NewIndicator, Page, indicators_from_events};
use vigil_store::{AlertFilter, AlertPolicy, Raised};
use vigil_store::{AlertsInto, NewEvidence, TakeAlerts};

use crate::auth::{Principal, Responder, Sender};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::report::UNKNOWN_SERVICE;
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

/// Raise an alert from an external tool. The same `dedup_key` (default: source and title) for
/// the same service and tenant (or none) within the dedup window updates the open alert's count
/// and last-seen time instead of opening a new one; another tenant's alert is never touched nor
/// shown. Ingest tokens may raise alerts for the service and tenant they are bound to: the
/// alert is their tenant's, and naming another service or tenant is refused (403).
#[utoipa::path(
    post, path = "/alerts", operation_id = "raise_alert", tag = "alerts",
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
    check_bound_service(&who, &req.service)?;
    let tenant = bound_tenant(&who, req.tenant.as_deref())?;
    // The tool's name is the alert's origin, one line like its service (checked by the
    // domain, under this field's name here).
    vigil_core::single_line("source", &req.source, vigil_core::alert::MAX_ORIGIN)
        .map_err(|e| store_error(e.into()))?;
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
        tenant,
        dedup_key,
        rule_id: None,
        summary: req.summary,
        origin: Some(req.source),
        reporter: None,
        event_ids: Vec::new(),
        events: Vec::new(),
        times: 1,
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

/// Alerts, newest first, with filters; `offset` pages on past the first `limit`.
#[utoipa::path(
    get, path = "/alerts", operation_id = "list_alerts", tag = "alerts",
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
        tenant: q.tenant,
        rule_id: q.rule_id,
        source: q.source,
        limit,
        offset: q.offset.unwrap_or(0),
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
    get, path = "/alerts/{key}", operation_id = "get_alert", tag = "alerts",
    params(("key" = String, Path, description = "Alert key (ALR-12)")),
    responses((status = 200, body = Alert), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn get(
    State(state): State<AppState>,
    _who: Principal,
    ApiPath(key): ApiPath<String>,
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
    post, path = "/alerts/{key}/ack", operation_id = "acknowledge_alert", tag = "alerts",
    params(("key" = String, Path, description = "Alert key (ALR-12)")),
    responses((status = 200, body = Alert), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "Not triggered: acknowledged or closed already", body = ErrorBody))
)]
pub async fn ack(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<Alert>, ApiError> {
    act(&state, &who.name, &key, AlertAction::Acknowledge).await
}

/// Resolve an alert.
#[utoipa::path(
    post, path = "/alerts/{key}/resolve", operation_id = "resolve_alert", tag = "alerts",
    params(("key" = String, Path, description = "Alert key (ALR-12)")),
    responses((status = 200, body = Alert), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "Closed already", body = ErrorBody))
)]
pub async fn resolve(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<Alert>, ApiError> {
    act(&state, &who.name, &key, AlertAction::Resolve).await
}

/// Dismiss an alert as a false positive or benign activity, with a reason (counted per rule).
#[utoipa::path(
    post, path = "/alerts/{key}/dismiss", operation_id = "dismiss_alert", tag = "alerts",
    params(("key" = String, Path, description = "Alert key (ALR-12)")),
    request_body = DismissAlert,
    responses((status = 200, body = Alert), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "Closed already", body = ErrorBody))
)]
pub async fn dismiss(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiPath(key): ApiPath<String>,
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
    get, path = "/alerts/rules", operation_id = "list_alert_rule_stats", tag = "alerts",
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
                title: s.title,
                alerts: s.alerts,
                suppressed: s.suppressed,
                false_positives: s.false_positives,
                benign: s.benign,
            })
            .collect(),
    ))
}

/// Where the alerts to declare or merge are named: the body's `alerts` list or the path's
/// `key`, for the field an unreadable key is reported under.
#[derive(Clone, Copy)]
enum Named {
    /// `alerts[N]` of the body.
    InBody,
    /// The `{key}` of the path.
    InPath,
}

/// The open alerts named, with their events; a 400 naming the key at fault, a 404 for an
/// alert that does not exist, or a 409 for one already closed.
async fn open_alerts(
    state: &AppState,
    keys: &[String],
    named: Named,
) -> Result<Vec<Alert>, ApiError> {
    if keys.is_empty() {
        return Err(ApiError::invalid_field(
            "alerts",
            "name at least one alert, e.g. [\"ALR-12\"]",
        ));
    }
    let mut alerts = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let id = alert_id(key).map_err(|e| match named {
            Named::InPath => e,
            Named::InBody => ApiError::invalid_field(
                format!("alerts[{i}]"),
                format!("`alerts[{i}]`: {key:?} is not an alert key like ALR-12"),
            ),
        })?;
        let alert = state.store.get_alert(id).await.map_err(store_error)?;
        if !matches!(
            alert.status,
            AlertStatus::Triggered | AlertStatus::Acknowledged
        ) {
            let into = alert
                .incident
                .as_deref()
                .map(|i| format!(" (into {i}; follow it there)"))
                .unwrap_or_default();
            return Err(ApiError::new(
                vigil_api::error::ErrorCode::Conflict,
                format!(
                    "{} is {} already{into}; only open alerts (triggered or acknowledged) can be declared or merged",
                    alert.key, alert.status
                ),
            ));
        }
        if !alerts.iter().any(|a: &Alert| a.id == alert.id) {
            alerts.push(alert);
        }
    }
    Ok(alerts)
}

/// Each alert's matched events as a JSON-lines evidence file, for the incident it goes into.
fn events_as_evidence(alerts: &[Alert]) -> Vec<(NewEvidence, Vec<u8>)> {
    alerts
        .iter()
        .filter(|a| !a.alert.events.is_empty())
        .map(|alert| {
            let mut body = Vec::new();
            for e in &alert.alert.events {
                body.extend_from_slice(e.text().as_bytes());
                body.push(b'\n');
            }
            let events = alert.alert.events.len();
            let meta = NewEvidence {
                file_name: format!("{}-events.jsonl", alert.key),
                description: Some(format!(
                    "the {events} {} matched by {}: {}",
                    if events == 1 { "event" } else { "events" },
                    alert.key,
                    alert.alert.title
                )),
            };
            (meta, body)
        })
        .collect()
}

/// How an alert is named in an incident: key, severity, service, how many times it fired, who
/// reported it (so a responder can call them back), and what it says.
/// The service and reporter are put on one line ([`vigil_core::one_line`]): an alert stored
/// before they were checked may hold line breaks or escapes, which must neither forge a line
/// of the summary nor stop the incident being declared.
fn alert_line(alert: &Alert, what: &str) -> String {
    let reporter = alert
        .alert
        .reporter
        .as_deref()
        .map(|r| format!(", reported by {}", vigil_core::one_line(r)))
        .unwrap_or_default();
    format!(
        "{} ({}, {}, fired {} {}{reporter}): {what}",
        alert.key,
        alert.alert.severity,
        vigil_core::one_line(&alert.alert.service),
        alert.count,
        if alert.count == 1 { "time" } else { "times" },
    )
}

/// The action-log entry of an incident declared from `alerts`: each alert as a merge names
/// it, or their keys alone when that is longer than an entry holds.
fn declared_from(alerts: &[Alert]) -> String {
    let max = vigil_core::incident::MAX_TEXT;
    let noun = if alerts.len() == 1 { "alert" } else { "alerts" };
    let lines: Vec<String> = alerts
        .iter()
        .map(|a| alert_line(a, &a.alert.title))
        .collect();
    let text = format!("declared from {noun} {}", lines.join("; "));
    if text.chars().count() <= max {
        return text;
    }
    let keys: Vec<&str> = alerts.iter().map(|a| a.key.as_str()).collect();
    let text = format!("declared from {} {noun}: {}", alerts.len(), keys.join(", "));
    if text.chars().count() <= max {
        return text;
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// What alerts bring into an incident's scope besides their events' indicators: the services
/// and tenants their detections (and the alerts themselves) name, the hosts the events came
/// from, which the event envelope names and the event text may not, and the ATT&CK techniques
/// the alerts' rules are tagged with.
#[derive(Debug, Default)]
struct AlertScope {
    services: Vec<String>,
    tenants: Vec<String>,
    hosts: Vec<NewIndicator>,
    techniques: Vec<vigil_core::Technique>,
}

impl AlertScope {
    async fn of(state: &AppState, alerts: &[Alert]) -> Result<AlertScope, ApiError> {
        // A name stored before services were checked for control characters (an alert
        // raised with `web\r\nBcc: …`) is put on one line rather than refused by the
        // incident, so the alert can still be declared; the responder can correct the
        // incident's services afterwards.
        fn add(list: &mut Vec<String>, name: &str) {
            let name = vigil_core::one_line(name.trim());
            let name = name.trim();
            if !name.is_empty() && name != UNKNOWN_SERVICE && !list.iter().any(|n| n == name) {
                list.push(name.to_owned());
            }
        }
        let mut scope = AlertScope::default();
        let mut hosts: Vec<String> = Vec::new();
        for alert in alerts {
            add(&mut scope.services, &alert.alert.service);
            if let Some(tenant) = &alert.alert.tenant {
                add(&mut scope.tenants, tenant);
            }
            let detections = state
                .store
                .alert_detections(alert.id)
                .await
                .map_err(store_error)?;
            // An event can match several rules, each raising its own alert: only the tags of
            // this alert's rule describe it.
            let rule = alert.alert.rule_id.as_deref().unwrap_or_default();
            let tags = detections
                .iter()
                .filter(|d| d.detection.rule_id == rule)
                .flat_map(|d| &d.detection.tags);
            for technique in tags.filter_map(|tag| vigil_core::Technique::from_sigma_tag(tag)) {
                if !scope.techniques.contains(&technique) {
                    scope.techniques.push(technique);
                }
            }
            for d in &detections {
                add(&mut scope.services, &d.detection.service);
                add(&mut scope.tenants, &d.detection.tenant);
                let host = d.detection.host.trim();
                // The host is the event's own (its sender's word): one that is no host name
                // an indicator can hold (control characters, `+cmd|calc`) is left out of the
                // indicators rather than making the alert impossible to declare or merge; the
                // events themselves go along as evidence.
                let valid = vigil_core::IndicatorValue::parse("host", host).is_ok();
                if valid && !hosts.iter().any(|h| h == host) {
                    hosts.push(host.to_owned());
                    scope.hosts.push(NewIndicator {
                        kind: "host".into(),
                        value: host.to_owned(),
                        note: Some(format!("the host that sent the events of {}", alert.key)),
                    });
                }
            }
        }
        Ok(scope)
    }
}

/// The indicators of the events' text, then the hosts of their envelopes not already among them.
fn with_hosts(mut indicators: Vec<NewIndicator>, hosts: Vec<NewIndicator>) -> Vec<NewIndicator> {
    for host in hosts {
        let known = indicators
            .iter()
            .any(|i| i.kind == "host" && i.value.eq_ignore_ascii_case(&host.value));
        if !known {
            indicators.push(host);
        }
    }
    indicators
}

/// Declare an incident from one or more open alerts: the worst preliminary severity (or the
/// one given), the indicators named by the matched events (IPs, users, hosts, hashes,
/// domains …) and the hosts that sent them, the events themselves as evidence, the
/// alerts' services and tenants in scope (not the placeholder service `unknown`), and the
/// ATT&CK techniques their rules are tagged with (`attack.t1003.001`). The summary
/// names each alert with its reporter's contact. The alerts are resolved as declared, each
/// with the incident's key.
#[utoipa::path(
    post, path = "/alerts/declare", operation_id = "declare_incident_from_alerts", tag = "alerts",
    request_body = DeclareIncident,
    responses((status = 201, body = Incident), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "An alert named is closed already", body = ErrorBody))
)]
pub async fn declare(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiJson(req): ApiJson<DeclareIncident>,
) -> Result<(StatusCode, Json<Incident>), ApiError> {
    let alerts = open_alerts(&state, &req.alerts, Named::InBody).await?;
    let events: Vec<serde_json::Value> = alerts
        .iter()
        .flat_map(|a| {
            a.alert
                .events
                .iter()
                .filter_map(vigil_core::EventJson::parse)
        })
        .collect();
    let worst = alerts
        .iter()
        .map(|a| a.alert.severity)
        .min()
        .unwrap_or(vigil_core::Severity::Sev3);
    let keys: Vec<&str> = alerts.iter().map(|a| a.key.as_str()).collect();
    let scope = AlertScope::of(&state, &alerts).await?;
    let summary = req.summary.clone().unwrap_or_else(|| {
        alerts
            .iter()
            .map(|a| alert_line(a, a.alert.summary.as_deref().unwrap_or(&a.alert.title)))
            .collect::<Vec<_>>()
            .join("\n")
    });
    let new: NewIncident = serde_json::from_value(serde_json::json!({
        "title": req.title.clone().unwrap_or_else(|| alerts[0].alert.title.clone()),
        "summary": summary,
        "severity": req.severity.unwrap_or(worst),
        "severity_reason": req.severity_reason.clone().unwrap_or_else(|| format!("preliminary severity of {}", keys.join(", "))),
        "category": req.category,
        "indicators": with_hosts(indicators_from_events(&events, 200), scope.hosts),
        "services": scope.services,
        "tenants": scope.tenants,
        "techniques": scope.techniques,
        "first_activity": first_activity(&alerts),
        "detected": alerts.iter().map(|a| a.first_seen).min(),
        "acknowledged": taken_up(&alerts),
    }))
    .map_err(ApiError::internal)?;
    let take = TakeAlerts {
        alerts: alerts.iter().map(|a| a.id).collect(),
        into: AlertsInto::Declare {
            incident: Box::new(new),
            action: declared_from(&alerts),
        },
        evidence: events_as_evidence(&alerts),
    };
    let incident = state
        .store
        .take_alerts(&who.name, take)
        .await
        .map_err(store_error)?;
    Ok((StatusCode::CREATED, Json(incident)))
}

/// The earliest time a matched event of the alerts carries (its own `timestamp`, Windows'
/// `SystemTime` …): the first malicious activity known when the incident is declared, so time
/// to detect counts from it (days, for logs hunted or ingested late). `None` when no event
/// carries a time, or the earliest is after the alerts were raised (a sender's clock ahead).
fn first_activity(alerts: &[Alert]) -> Option<chrono::DateTime<chrono::Utc>> {
    let at = earliest_event_time(alerts)?;
    let detected = alerts.iter().map(|a| a.first_seen).min()?;
    (at <= detected).then_some(at)
}

/// The earliest time the alerts' matched events carry (their own timestamp, Windows'
/// `SystemTime` …).
fn earliest_event_time(alerts: &[Alert]) -> Option<chrono::DateTime<chrono::Utc>> {
    let earliest = alerts
        .iter()
        .flat_map(|a| &a.alert.events)
        .filter_map(|e| {
            vigil_events::json::JsonEvent::parse(e.text())
                .ok()?
                .timestamp()
        })
        .min()?;
    chrono::DateTime::from_timestamp_millis(earliest)
}

/// When the responders took the alerts up: the first acknowledgement among them, or now — declaring
/// an incident from alerts nobody acknowledged takes them up. (Without it, time to acknowledge
/// would count from the incident's later move to analysis.)
fn taken_up(alerts: &[Alert]) -> chrono::DateTime<chrono::Utc> {
    alerts
        .iter()
        .flat_map(|a| &a.log)
        .filter(|entry| entry.action == vigil_core::AlertStatus::Acknowledged.as_str())
        .map(|entry| entry.at)
        .min()
        .unwrap_or_else(chrono::Utc::now)
}

/// Merge an open alert into an existing incident: its indicators (the hosts of its events
/// among them) and events join the incident, its service and tenants join the incident's
/// scope and its rule's ATT&CK techniques the incident's, an action-log entry records it, and
/// the alert is resolved as merged.
#[utoipa::path(
    post, path = "/alerts/{key}/merge", operation_id = "merge_alerts", tag = "alerts",
    params(("key" = String, Path, description = "Alert key (ALR-12)")),
    request_body = MergeAlert,
    responses((status = 200, body = Incident), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "The alert is closed already, or the incident is closed (reopen it first)", body = ErrorBody))
)]
pub async fn merge(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiPath(key): ApiPath<String>,
    ApiJson(req): ApiJson<MergeAlert>,
) -> Result<Json<Incident>, ApiError> {
    let alerts = open_alerts(&state, std::slice::from_ref(&key), Named::InPath).await?;
    let r = crate::incident_ref(&req.incident).map_err(|_| {
        ApiError::invalid_field(
            "incident",
            format!("{:?} is not an incident key like INC-7", req.incident),
        )
    })?;
    let alert = &alerts[0];
    let events: Vec<serde_json::Value> = alert
        .alert
        .events
        .iter()
        .filter_map(vigil_core::EventJson::parse)
        .collect();
    let scope = AlertScope::of(&state, &alerts).await?;
    let take = TakeAlerts {
        alerts: vec![alert.id],
        into: AlertsInto::Merge {
            incident: r,
            indicators: with_hosts(indicators_from_events(&events, 200), scope.hosts),
            action: format!("merged alert {}", alert_line(alert, &alert.alert.title)),
            activity: earliest_event_time(&alerts),
            services: scope.services,
            tenants: scope.tenants,
            techniques: scope.techniques,
        },
        evidence: events_as_evidence(&alerts),
    };
    let incident = state
        .store
        .take_alerts(&who.name, take)
        .await
        .map_err(store_error)?;
    Ok(Json(incident))
}

/// Refuses an alert for another service than the one the sender's ingest token is bound to.
fn check_bound_service(who: &crate::auth::Principal, service: &str) -> Result<(), ApiError> {
    match &who.service {
        Some(bound) if bound != service => Err(ApiError::new(
            vigil_api::error::ErrorCode::Forbidden,
            format!(
                "this ingest token may raise alerts only for service `{bound}`, not `{service}`; use a token bound to `{service}` or a responder token"
            ),
        )),
        _ => Ok(()),
    }
}

/// The tenant of an alert a sender raises: its token's tenant when bound to one (the body may
/// repeat it, never name another), else the one the body names, if any.
fn bound_tenant(
    who: &crate::auth::Principal,
    named: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let named = named.map(str::trim).filter(|t| !t.is_empty());
    match (&who.tenant, named) {
        (Some(bound), Some(named)) if bound != named => Err(ApiError::new(
            vigil_api::error::ErrorCode::Forbidden,
            format!(
                "this ingest token may raise alerts only for tenant `{bound}`, not `{named}`; leave `tenant` out or use a token bound to `{named}` or a responder token"
            ),
        )),
        (Some(bound), _) => Ok(Some(bound.clone())),
        (None, named) => Ok(named.map(str::to_owned)),
    }
}

/// Report suspicious activity on behalf of a person (a helpdesk or mail-button integration):
/// it becomes an alert like any other, with the reporter's name and contact kept. An ingest
/// token reports for the service (by default) and the tenant it is bound to. People without an
/// account use the form at `/report/KEY` instead.
#[utoipa::path(
    post, path = "/reports", operation_id = "report_suspicious_activity", tag = "alerts",
    request_body = crate::report::NewReport,
    responses((status = 201, body = Alert), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn report(
    State(state): State<AppState>,
    Sender(who): Sender,
    ApiJson(mut req): ApiJson<crate::report::NewReport>,
) -> Result<(StatusCode, Json<Alert>), ApiError> {
    // A token bound to a service reports for that service, as it raises alerts for it only;
    // one bound to a tenant, for that tenant.
    if let Some(bound) = &who.service {
        let service = req.service.get_or_insert_with(|| bound.clone());
        check_bound_service(&who, service)?;
    }
    let alert = crate::report::raise_report(
        &state,
        &who.name,
        &format!("reported through {}", who.name),
        who.tenant.clone(),
        req,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(alert)))
}
