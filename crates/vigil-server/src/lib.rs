//! vigil-server: the HTTP API over axum. `router(state)` builds every route under `/api/v1`
//! together with its OpenAPI document; `app::serve(state, listener, shutdown)` serves it until
//! the shutdown future completes. This is the only crate that knows HTTP; every read and write
//! goes through the `vigil_store::Store` trait held by [`AppState`].

pub mod app;
pub mod auth;
pub mod backup;
mod connections;
pub mod error;
pub mod extract;
pub mod limits;
pub mod report;
pub mod routes;
pub mod settings;
pub mod state;

pub use app::{openapi, router};
pub use settings::Settings;
pub use state::AppState;

use vigil_api::error::ErrorCode;
use vigil_core::DomainError;
use vigil_store::{IncidentRef, StoreError};

use crate::error::ApiError;

/// Maps a store error to its API error: a domain refusal names its field (400), lists every
/// refusing guard (409) or says the record's state forbids the change (409 `conflict`, milestones
/// out of order included); the rest keep their meaning; internal details are only logged.
pub(crate) fn store_error(err: StoreError) -> ApiError {
    match err {
        StoreError::Domain(DomainError::InvalidField { field, reason }) => {
            ApiError::invalid_field(field, format!("`{field}`: {reason}"))
        }
        StoreError::Domain(DomainError::TransitionRefused(guards)) => {
            let names: Vec<&str> = guards.iter().map(|g| g.guard.as_str()).collect();
            let message = format!(
                "the phase change was refused by: {}; see `guards` for what each needs",
                names.join(", ")
            );
            ApiError::guard_refused(message, guards)
        }
        StoreError::Domain(DomainError::Conflict(message)) => {
            ApiError::new(ErrorCode::Conflict, message)
        }
        // A milestone a phase change sets would be out of order with one recorded (corrected
        // to a few minutes ahead, within the clock skew allowed): the state conflicts, nothing
        // in the request is at fault. A creation's or a correction's own times name their
        // field (`InvalidField`).
        StoreError::Domain(e @ DomainError::TimestampOrder { .. }) => {
            ApiError::new(ErrorCode::Conflict, e.to_string())
        }
        StoreError::NotFound(what) => ApiError::not_found(what),
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

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_core::GuardRefusal;

    fn body(err: ApiError) -> vigil_api::error::ErrorDetail {
        match err {
            ApiError::Client(b) => b.error,
            other => panic!("expected a client error, got {other:?}"),
        }
    }

    #[test]
    fn store_errors_map_to_the_code_table() {
        let e = body(store_error(
            DomainError::invalid("title", "must not be empty").into(),
        ));
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::InvalidField, Some("title"))
        );
        let refusals = vec![
            GuardRefusal {
                guard: "root_cause_before_recovery".into(),
                reason: "record a root cause".into(),
            },
            GuardRefusal {
                guard: "post_mortem_before_close".into(),
                reason: "write the post-mortem".into(),
            },
        ];
        let e = body(store_error(
            DomainError::TransitionRefused(refusals.clone()).into(),
        ));
        assert_eq!(e.code, ErrorCode::GuardRefused);
        assert_eq!(e.guards, refusals);
        assert!(e.message.contains("root_cause_before_recovery"));
        let e = body(store_error(
            DomainError::Conflict("the alert is resolved already".into()).into(),
        ));
        assert_eq!(
            (e.code, e.field.as_deref(), e.message.as_str()),
            (ErrorCode::Conflict, None, "the alert is resolved already")
        );
        let e = body(store_error(StoreError::NotFound("incident INC-9".into())));
        assert_eq!(e.code, ErrorCode::NotFound);
        assert_eq!(
            e.message,
            "incident INC-9 does not exist; check the key or id (`vigil incident list` or GET /api/v1/incidents lists them)"
        );
        let e = body(store_error(StoreError::NotFound("alert ALR-3".into())));
        assert!(e.message.contains("`vigil alerts list`"), "{}", e.message);
        let e = body(store_error(StoreError::EvidenceCorrupted {
            id: uuid::Uuid::nil(),
            expected: "a".into(),
            actual: "b".into(),
        }));
        assert_eq!(e.code, ErrorCode::EvidenceCorrupted);
        assert!(matches!(
            store_error(StoreError::Corrupt("x".into())),
            ApiError::Internal(_)
        ));
    }
}
