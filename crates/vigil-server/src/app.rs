//! Router assembly and the serve loop: every route is registered through utoipa-axum's
//! `OpenApiRouter`, so a route without an OpenAPI entry cannot exist; the layers around it catch
//! panics, trace requests and turn unknown paths and methods into JSON errors.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigil_api::error::{ErrorBody, ErrorCode};

use crate::error::{ApiError, error_response};
use crate::routes;
use crate::state::AppState;

/// The API's path prefix.
pub const API_PREFIX: &str = "/api/v1";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vigil API",
        description = "Security incident response: incidents, indicators, evidence with chain of custody, and a hash-chained audit trail. Every route except /api/v1/health needs `Authorization: Bearer TOKEN` (create one with `vigil admin token`).",
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// All API routes with their OpenAPI document, before state is attached.
pub fn api_routes() -> (Router<AppState>, OpenApiDoc) {
    let api = OpenApiRouter::<AppState>::new().routes(routes!(routes::health::health));
    let api = routes::register(api);
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(API_PREFIX, api)
        .split_for_parts()
}

/// The OpenAPI document of every route, as served at `/api/v1/openapi.json`.
pub fn openapi() -> OpenApiDoc {
    api_routes().1
}

/// Builds the full application: routes, the OpenAPI document route, JSON fallbacks and layers.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api_routes();
    let doc = Arc::new(doc);
    api.route(
        &format!("{API_PREFIX}/openapi.json"),
        axum::routing::get(move || {
            let doc = Arc::clone(&doc);
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    )
    .route(
        "/ack/{key}",
        axum::routing::get(crate::report::ack_page).post(crate::report::ack_submit),
    )
    .route(
        "/report/{key}",
        axum::routing::get(crate::report::form).post(crate::report::submit),
    )
    .fallback(not_found)
    .method_not_allowed_fallback(method_not_allowed)
    // Extractors enforce their own caps (JSON and evidence limits differ); axum's default
    // 2 MiB limit would answer in plain text.
    .layer(DefaultBodyLimit::disable())
    .layer(CatchPanicLayer::custom(panic_response))
    .layer(
        TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
        }),
    )
    .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "no such route; the routes are listed in /api/v1/openapi.json",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not accept this HTTP method; see /api/v1/openapi.json",
    )
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = %detail, "handler panicked");
    error_response(ErrorBody::new(
        ErrorCode::Internal,
        "the server failed to handle this request; the details are in the server log — report it",
    ))
    .into_response()
}

/// Serves the application on `listener` until `shutdown` completes, then lets in-flight requests
/// finish.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn boom() -> &'static str {
        panic!("secret detail")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_json_500_without_details() {
        let app = Router::new()
            .route("/boom", get(boom))
            .layer(CatchPanicLayer::custom(panic_response));
        let resp = app
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), 500);
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        let parsed: ErrorBody = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed.error.code, ErrorCode::Internal);
        assert!(!String::from_utf8_lossy(&body).contains("secret detail"));
    }
}
