//! The route handlers, one module per resource; `register` adds them all to the API router.

pub mod health;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Adds every authenticated resource's routes.
pub fn register(api: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    api
}
