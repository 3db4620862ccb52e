//! The route handlers, one module per resource; `register` adds them all to the API router.
//! Handlers are registered only through `routes!`, which also records their OpenAPI entry;
//! `access` says who may call each of them, for the document.

pub mod actions;
pub mod admin;
pub mod alerts;
pub mod detections;
pub mod events;
pub mod evidence;
pub mod findings;
pub mod health;
pub mod incidents;
pub mod indicators;
pub mod links;
pub mod metrics;
pub mod org;
pub mod review;
pub mod rules;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigil_core::Role;

use crate::state::AppState;

/// Adds every authenticated resource's routes.
pub fn register(api: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    api.routes(routes!(metrics::metrics))
        .routes(routes!(incidents::create, incidents::list))
        .routes(routes!(incidents::get, incidents::update))
        .routes(routes!(incidents::severity))
        .routes(routes!(incidents::phase))
        .routes(routes!(incidents::timestamp))
        .routes(routes!(incidents::post_mortem))
        .routes(routes!(findings::create))
        .routes(routes!(findings::list))
        .routes(routes!(findings::get, findings::update))
        .routes(routes!(indicators::add))
        .routes(routes!(indicators::remove))
        .routes(routes!(indicators::search))
        .routes(routes!(links::create))
        .routes(routes!(links::delete))
        .routes(routes!(links::related))
        .routes(routes!(actions::list, actions::add))
        .routes(routes!(evidence::upload, evidence::list))
        .routes(routes!(evidence::get))
        .routes(routes!(evidence::content))
        .routes(routes!(evidence::custody))
        .routes(routes!(admin::audit))
        .routes(routes!(admin::verify))
        .routes(routes!(admin::create_token, admin::list_tokens))
        .routes(routes!(admin::revoke_token))
        .routes(routes!(admin::backup))
        .routes(routes!(events::ingest))
        .routes(routes!(events::search))
        .routes(routes!(events::pivot))
        .routes(routes!(events::stats))
        .routes(routes!(events::incident_pivot))
        .routes(routes!(detections::list))
        .routes(routes!(detections::get))
        .routes(routes!(rules::get))
        .routes(routes!(rules::reload))
        .routes(routes!(rules::preview))
        .routes(routes!(org::apply, org::get))
        .routes(routes!(alerts::raise, alerts::list))
        .routes(routes!(alerts::rules))
        .routes(routes!(alerts::declare))
        .routes(routes!(alerts::report))
        .routes(routes!(alerts::merge))
        .routes(routes!(alerts::get))
        .routes(routes!(alerts::ack))
        .routes(routes!(alerts::resolve))
        .routes(routes!(alerts::dismiss))
        .routes(routes!(org::who))
        .routes(routes!(org::coverage))
        .routes(routes!(review::monthly))
}

/// Who may call an operation: the extractor its handler takes decides it, and the OpenAPI
/// document says it (`app::document_access`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token: the health check.
    Public,
    /// Any token but an ingest token (the handler takes [`crate::auth::Principal`]).
    Read,
    /// A token that may send events: ingest, responder or admin ([`crate::auth::Sender`]).
    Send,
    /// A responder or admin token ([`crate::auth::Responder`]).
    Write,
    /// An admin token ([`crate::auth::Admin`]).
    Admin,
}

impl Access {
    /// The roles let in, lowest first.
    pub fn roles(self) -> &'static [Role] {
        match self {
            Access::Public => &[],
            Access::Read => &[Role::Viewer, Role::Responder, Role::Admin],
            Access::Send => &[Role::Ingest, Role::Responder, Role::Admin],
            Access::Write => &[Role::Responder, Role::Admin],
            Access::Admin => &[Role::Admin],
        }
    }
}

/// Who may call the operation with this operationId; `None` for an id this table lacks, which
/// building the document refuses, so a new route cannot go undocumented.
pub fn access(operation_id: &str) -> Option<Access> {
    use Access::*;
    Some(match operation_id {
        "get_health" => Public,
        "get_metrics"
        | "list_incidents"
        | "get_incident"
        | "search_indicators"
        | "list_related_incidents"
        | "list_actions"
        | "list_evidence"
        | "get_evidence"
        | "get_evidence_content"
        | "search_events"
        | "pivot_events"
        | "get_event_stats"
        | "pivot_incident"
        | "list_detections"
        | "get_detection"
        | "get_rules_status"
        | "preview_rules"
        | "get_org"
        | "who_is_on_call"
        | "get_oncall_coverage"
        | "list_alerts"
        | "list_alert_rule_stats"
        | "get_alert"
        | "get_monthly_review"
        | "list_findings"
        | "get_finding" => Read,
        "ingest_events" | "raise_alert" | "report_suspicious_activity" => Send,
        "create_incident"
        | "update_incident"
        | "change_severity"
        | "change_phase"
        | "correct_timestamp"
        | "record_post_mortem"
        | "create_finding"
        | "update_finding"
        | "add_indicator"
        | "remove_indicator"
        | "link_incidents"
        | "unlink_incidents"
        | "add_action"
        | "upload_evidence"
        | "add_custody_entry"
        | "acknowledge_alert"
        | "resolve_alert"
        | "dismiss_alert"
        | "declare_incident_from_alerts"
        | "merge_alerts" => Write,
        "list_audit_entries" | "verify_audit_chain" | "create_token" | "list_tokens"
        | "revoke_token" | "reload_rules" | "apply_org" | "take_backup" => Admin,
        _ => return None,
    })
}

/// The operations that ignore query parameters instead of refusing them: the health check and
/// the metrics scrape read none, and load balancers, uptime monitors and scrapers call them with
/// parameters of their own (a cache-buster such as `?_=123`), which must not mark the server
/// down. Every other operation refuses a parameter it does not take (`app::refuse_query`,
/// [`crate::extract::ApiQuery`]), and the document says so with its 400.
pub const IGNORES_QUERY: &[&str] = &["get_health", "get_metrics"];

/// What the role line of an operation's description adds, where the handler checks more than
/// its extractor does.
pub fn access_note(operation_id: &str) -> Option<&'static str> {
    match operation_id {
        "pivot_incident" => Some("`accept: true` needs the responder or admin role."),
        "ingest_events" => Some(
            "An ingest token bound to a service or tenant sends events for that service and tenant only.",
        ),
        "raise_alert" | "report_suspicious_activity" => {
            Some("An ingest token bound to a service raises alerts for that service only.")
        }
        _ => None,
    }
}
