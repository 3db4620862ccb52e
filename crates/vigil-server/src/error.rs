//! `ApiError`: the one error type every handler returns, rendered as the JSON body of
//! `vigil_api::error`. Internal details are logged here and never sent to the client.

use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use vigil_api::error::{ErrorBody, ErrorCode, GuardRefusal};

/// An error a handler returns; becomes a JSON error response with a stable code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A client-facing error: its code, message and optional field/guards are sent as they are.
    #[error("{}: {}", .0.error.code, .0.error.message)]
    Client(ErrorBody),
    /// `unauthorized` (401): no valid token. Sent as a client error with the
    /// `WWW-Authenticate` challenge of the bearer scheme (RFC 9110 §11.6.1, RFC 6750 §3).
    #[error("{}: {}", .0.error.code, .0.error.message)]
    Unauthorized(ErrorBody, Challenge),
    /// A failure inside the server; the detail is logged and the client sees only `internal`.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A client error with a code and a message saying what to do next.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::Client(ErrorBody::new(code, message))
    }

    /// `unauthorized` (401) with `message`, challenging the client as `challenge` says.
    pub fn unauthorized(challenge: Challenge, message: impl Into<String>) -> Self {
        ApiError::Unauthorized(ErrorBody::new(ErrorCode::Unauthorized, message), challenge)
    }

    /// `invalid_field` naming the field at fault.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Client(ErrorBody::new(ErrorCode::InvalidField, message).with_field(field))
    }

    /// `not_found` for the thing named, saying where such things are listed.
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        let what = what.to_string();
        ApiError::new(
            ErrorCode::NotFound,
            format!(
                "{what} does not exist; check the key or id ({})",
                where_listed(&what)
            ),
        )
    }

    /// `guard_refused` listing every refusing guard.
    pub fn guard_refused(message: impl Into<String>, guards: Vec<GuardRefusal>) -> Self {
        ApiError::Client(ErrorBody::new(ErrorCode::GuardRefused, message).with_guards(guards))
    }

    /// `internal`: the detail is logged, never sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        ApiError::Internal(detail.to_string())
    }

    /// The error code this error is sent with.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Client(body) | ApiError::Unauthorized(body, _) => body.error.code,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }
}

/// What a 401 says in its `WWW-Authenticate` header, after RFC 6750 §3: the scheme is always
/// `Bearer`; an error code only when a bearer token was sent and is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// No bearer token was sent (no `Authorization` header, or another scheme): `Bearer`.
    Bearer,
    /// The `Authorization: Bearer` header is malformed (no token, not text):
    /// `Bearer error="invalid_request"`.
    InvalidRequest,
    /// The token is unknown or revoked: `Bearer error="invalid_token"`.
    InvalidToken,
}

impl Challenge {
    /// The header's value.
    pub fn header_value(self) -> &'static str {
        match self {
            Challenge::Bearer => "Bearer",
            Challenge::InvalidRequest => "Bearer error=\"invalid_request\"",
            Challenge::InvalidToken => "Bearer error=\"invalid_token\"",
        }
    }
}

/// Where the things of the kind `what` names (as the store names them: `incident INC-9`,
/// `alert ALR-3` …) are listed, by command and route, for a not-found message.
fn where_listed(what: &str) -> &'static str {
    let kinds: [(&str, &str); 8] = [
        (
            "incident ",
            "`vigil incident list` or GET /api/v1/incidents lists them",
        ),
        (
            "alert ",
            "`vigil alerts list` or GET /api/v1/alerts lists them",
        ),
        (
            "evidence ",
            "`vigil incident evidence list INC-N` or GET /api/v1/incidents/INC-N/evidence lists them",
        ),
        (
            "active indicator ",
            "`vigil incident show INC-N` or GET /api/v1/incidents/INC-N lists them",
        ),
        (
            "a link between ",
            "`vigil incident related INC-N` lists an incident's links",
        ),
        (
            "detection ",
            "`vigil detections` or GET /api/v1/detections lists them",
        ),
        (
            "token ",
            "`vigil admin tokens` or GET /api/v1/tokens lists them",
        ),
        (
            "finding ",
            "`vigil finding list` or GET /api/v1/findings lists them",
        ),
    ];
    kinds
        .iter()
        .find(|(kind, _)| what.starts_with(kind))
        .map_or("list them with the matching GET route", |(_, hint)| hint)
}

/// Renders an error body with the status of its code.
pub fn error_response(body: ErrorBody) -> Response {
    let status =
        StatusCode::from_u16(body.error.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Client(body) => {
                if body.error.code.status() >= 500 {
                    tracing::error!(code = %body.error.code, message = %body.error.message, "request failed");
                } else {
                    tracing::debug!(code = %body.error.code, message = %body.error.message, "request refused");
                }
                error_response(body)
            }
            ApiError::Unauthorized(body, challenge) => {
                tracing::debug!(code = %body.error.code, message = %body.error.message, "request refused");
                let mut response = error_response(body);
                response.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge.header_value()),
                );
                response
            }
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                error_response(ErrorBody::new(
                    ErrorCode::Internal,
                    "the server failed to handle this request; the details are in the server log — retry, and report it if it persists",
                ))
            }
        }
    }
}
