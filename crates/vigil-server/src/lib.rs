//! vigil-server: the HTTP API over axum. `router(state)` builds every route under `/api/v1`
//! together with its OpenAPI document; `app::serve(state, listener, shutdown)` serves it until
//! the shutdown future completes. This is the only crate that knows HTTP.

pub mod app;
pub mod auth;
pub mod error;
pub mod extract;
mod interim_store;
pub mod routes;
pub mod settings;
pub mod state;

/// The store the server runs on (interim until `vigil-store` lands; see `interim_store`).
pub mod store {
    pub use crate::interim_store::{IncidentRef, SqliteStore, StoreError, TokenOwner, normalise};
}

pub use app::{openapi, router};
pub use settings::Settings;
pub use state::AppState;

use vigil_api::error::ErrorCode;

use crate::error::ApiError;
use crate::store::{IncidentRef, StoreError};

/// Maps a store error to its API error.
pub(crate) fn store_error(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound(what) => ApiError::not_found(what),
        StoreError::Invalid { field, message } => ApiError::invalid_field(field, message),
        StoreError::GuardRefused(guards) => {
            let names: Vec<&str> = guards.iter().map(|g| g.guard.as_str()).collect();
            let message = format!("the phase change was refused by: {}", names.join(", "));
            ApiError::guard_refused(message, guards)
        }
        StoreError::Conflict(message) => ApiError::new(ErrorCode::Conflict, message),
        StoreError::EvidenceCorrupted {
            id,
            expected,
            actual,
        } => {
            tracing::error!(evidence = %id, expected = %expected, actual = %actual, "evidence file does not match its hash");
            ApiError::new(
                ErrorCode::EvidenceCorrupted,
                format!(
                    "evidence {id} no longer matches its recorded SHA-256 and is not served; the stored file was altered — preserve the data directory and investigate"
                ),
            )
        }
        other => ApiError::internal(other),
    }
}

/// Parses a path segment naming an incident (INC-42 or a UUID).
pub(crate) fn incident_ref(raw: &str) -> Result<IncidentRef, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::invalid_field(
            "key",
            format!("{raw:?} is not an incident key like INC-42 or an incident id"),
        )
    })
}

/// Parses a UUID path segment.
pub(crate) fn parse_uuid(field: &str, raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| {
        ApiError::invalid_field(field, format!("{raw:?} is not a valid {field} (a UUID)"))
    })
}
