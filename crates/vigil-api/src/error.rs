//! The one table of API error codes and the JSON error body every failing request returns.
//!
//! Every error the server sends has the shape
//! `{"error": {"code": "...", "message": "...", "field": "..."?, "guards": [...]?}}`.
//! The `code` is stable and meant for programs; the `message` is for people and says what to do
//! next. The HTTP status belongs to the code ([`ErrorCode::status`]), so a client can rely on
//! either.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A stable, machine-readable error code. One variant per case a client must tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No `Authorization: Bearer` header, or the token is unknown or revoked (401).
    Unauthorized,
    /// The token is valid but its role may not do this (403).
    Forbidden,
    /// The incident, indicator, evidence, link or token named in the path does not exist (404).
    NotFound,
    /// The request body or a parameter is malformed or breaks a rule; `field` names it (400).
    InvalidField,
    /// A lifecycle guard refused the phase change; `guards` lists every refusal (409).
    GuardRefused,
    /// The request conflicts with the current state, e.g. a duplicate link, a change to a closed
    /// incident or an alert closed already (409).
    Conflict,
    /// The request body is larger than the server accepts (413).
    PayloadTooLarge,
    /// A stored evidence file no longer matches its recorded SHA-256 (500): it was altered on disk.
    EvidenceCorrupted,
    /// The route exists but not with this HTTP method (405).
    MethodNotAllowed,
    /// Something failed inside the server; details are in the server log, never in the body (500).
    Internal,
    /// The server is shutting down or its store is unavailable (503): a request may or may not
    /// have taken effect.
    Unavailable,
    /// The log store could not write an event batch to its journal (a full disk, an I/O error)
    /// and stored nothing of it (503): unlike `unavailable`, the sender knows the batch is not
    /// stored, and sends it again once the cause is fixed.
    NotStored,
}

impl ErrorCode {
    /// Every code, in table order (used by tests and the documentation).
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::InvalidField,
        ErrorCode::GuardRefused,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::EvidenceCorrupted,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
        ErrorCode::NotStored,
    ];

    /// The HTTP status this code is always sent with.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::InvalidField => 400,
            ErrorCode::GuardRefused => 409,
            ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::EvidenceCorrupted => 500,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
            ErrorCode::NotStored => 503,
        }
    }

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::GuardRefused => "guard_refused",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::EvidenceCorrupted => "evidence_corrupted",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::NotStored => "not_stored",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One lifecycle guard that refused a phase change (the domain's own type).
pub use vigil_core::GuardRefusal;

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error itself.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// Human-readable message saying what to do next.
    pub message: String,
    /// The request field at fault (JSON path such as `severity` or `indicators[2].value`, or a
    /// query parameter or header name), when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `guard_refused`: every guard that refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guards: Vec<GuardRefusal>,
}

impl ErrorBody {
    /// An error body with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code,
                message: message.into(),
                field: None,
                guards: Vec::new(),
            },
        }
    }

    /// Names the field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.error.field = Some(field.into());
        self
    }

    /// Lists the guards that refused.
    pub fn with_guards(mut self, guards: Vec<GuardRefusal>) -> Self {
        self.error.guards = guards;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_wire_names() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert!((400..600).contains(&code.status()), "{code}");
        }
    }

    #[test]
    fn body_shape_is_stable() {
        let body = ErrorBody::new(ErrorCode::InvalidField, "severity must be SEV1..SEV4")
            .with_field("severity");
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"error": {
                "code": "invalid_field",
                "message": "severity must be SEV1..SEV4",
                "field": "severity"
            }})
        );
    }
}
