//! Bearer-token authentication and role checks. `Principal` is an extractor: a handler that takes
//! it cannot run without a valid token, and names its actor from it. Roles are ordered
//! viewer < responder < admin; `Principal::require` refuses with 403. A 401 carries the bearer
//! scheme's `WWW-Authenticate` challenge ([`Challenge`]).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use vigil_api::error::ErrorCode;
use vigil_core::Role;

use crate::error::{ApiError, Challenge};
use crate::state::AppState;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The token's id (what an idempotency key is kept under).
    pub token_id: uuid::Uuid,
    /// The token's name, used as the actor of every write.
    pub name: String,
    /// The token's role.
    pub role: Role,
    /// For an ingest token bound to a service: that service.
    pub service: Option<String>,
    /// For an ingest token bound to a tenant: that tenant.
    pub tenant: Option<String>,
}

impl Principal {
    /// Refuses with 403 unless the caller's role is at least `needed`.
    pub fn require(&self, needed: Role) -> Result<(), ApiError> {
        // Roles are ordered viewer < responder < admin.
        if self.role >= needed {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "this needs the {needed} role and the token `{}` has the {} role; ask an admin for a token with the {needed} role",
                    self.name, self.role
                ),
            ))
        }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    /// Any token except an ingest token, which may only send events ([`Sender`]).
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let who = authenticate(parts, state).await?;
        if who.role == Role::Ingest {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "the token `{}` is an ingest token: it can only send events (POST /api/v1/events) and raise alerts and reports for its service; use a viewer, responder or admin token here",
                    who.name
                ),
            ));
        }
        Ok(who)
    }
}

/// A principal allowed to send events: an ingest token (bound to its service and tenant, if
/// it names them), a responder or an admin.
#[derive(Debug, Clone)]
pub struct Sender(pub Principal);

impl FromRequestParts<AppState> for Sender {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let who = authenticate(parts, state).await?;
        if !who.role.allows(vigil_core::Permission::SendEvents) {
            // Said for the route asked, since events, alerts and reports share the permission.
            let what = match parts.uri.path().rsplit('/').next() {
                Some("alerts") => "raise alerts",
                Some("reports") => "send reports",
                _ => "send events",
            };
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "the token `{}` has the {} role, which cannot {what}; use a responder or admin token, or an ingest token (`vigil admin token --role ingest --service NAME`)",
                    who.name, who.role
                ),
            ));
        }
        Ok(Sender(who))
    }
}

/// Checks the bearer token and returns who it is, whatever the role.
async fn authenticate(parts: &mut Parts, state: &AppState) -> Result<Principal, ApiError> {
    let Some(header) = parts.headers.get(AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            Challenge::Bearer,
            "this route needs an API token: send `Authorization: Bearer TOKEN` (create one with `vigil admin token`)",
        ));
    };
    let token = header.to_str().ok().and_then(bearer_token).ok_or_else(|| {
        // Another scheme (`Basic …`) sent no bearer token; a `Bearer` one without a token (or
        // not text) is a malformed one.
        let scheme = header
            .as_bytes()
            .trim_ascii_start()
            .split(|b| *b == b' ')
            .next();
        let challenge = if scheme.is_some_and(|s| s.eq_ignore_ascii_case(b"bearer")) {
            Challenge::InvalidRequest
        } else {
            Challenge::Bearer
        };
        ApiError::unauthorized(
            challenge,
            "the Authorization header must be `Bearer TOKEN`; check how the token is sent",
        )
    })?;
    match state.store.authenticate(token).await {
        Ok(Some(p)) => Ok(Principal {
            token_id: p.token_id,
            name: p.name,
            role: p.role,
            service: p.service,
            tenant: p.tenant,
        }),
        Ok(None) => Err(ApiError::unauthorized(
            Challenge::InvalidToken,
            "the API token is unknown or revoked; create a new one with `vigil admin token`",
        )),
        Err(err) => Err(crate::store_error(err)),
    }
}

/// The token of an `Authorization: Bearer TOKEN` header. The scheme is matched in any case
/// (`bearer`, `BEARER`: RFC 7235 makes auth schemes case-insensitive) and may be followed by
/// more than one space.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A principal with at least the responder role, checked before the body is read.
#[derive(Debug, Clone)]
pub struct Responder(pub Principal);

/// A principal with the admin role, checked before the body is read.
#[derive(Debug, Clone)]
pub struct Admin(pub Principal);

impl FromRequestParts<AppState> for Responder {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let who = Principal::from_request_parts(parts, state).await?;
        who.require(Role::Responder)?;
        Ok(Responder(who))
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let who = Principal::from_request_parts(parts, state).await?;
        who.require(Role::Admin)?;
        Ok(Admin(who))
    }
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_matched_in_any_case() {
        for header in [
            "Bearer vgl_x",
            "bearer vgl_x",
            "BEARER vgl_x",
            "BeArEr   vgl_x ",
        ] {
            assert_eq!(bearer_token(header), Some("vgl_x"), "{header:?}");
        }
        for header in ["Basic abc", "Bearer", "Bearer   ", "Bearervgl_x", "vgl_x"] {
            assert_eq!(bearer_token(header), None, "{header:?}");
        }
    }
}
