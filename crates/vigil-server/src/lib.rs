//! vigil-server: the HTTP API over axum. `router(state)` builds every route under `/api/v1`
//! together with its OpenAPI document; `run(settings, listener, shutdown)` serves it until the
//! shutdown future completes. This is the only crate that knows HTTP.

pub mod app;
pub mod error;
pub mod extract;
pub mod routes;
pub mod settings;
pub mod state;

pub use app::{openapi, router};
pub use settings::Settings;
pub use state::AppState;
