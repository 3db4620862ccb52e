//! The route handlers, one module per resource; `register` adds them all to the API router.
//! Handlers are registered only through `routes!`, which also records their OpenAPI entry.

pub mod actions;
pub mod admin;
pub mod alerts;
pub mod detections;
pub mod events;
pub mod evidence;
pub mod health;
pub mod incidents;
pub mod indicators;
pub mod links;
pub mod metrics;
pub mod org;
pub mod rules;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
}
