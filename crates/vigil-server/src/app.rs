//! Router assembly and the serve loop: every API route under `/api/v1` is registered through
//! utoipa-axum's `OpenApiRouter`, so an API route without an OpenAPI entry cannot exist; the
//! document then says for every operation who may call it (`document_access`) and what its
//! inputs can be refused with (`document_input_errors`). The only routes [`router`] adds beside
//! them, with plain `Router::route`, are the document itself (`/api/v1/openapi.json`) and the
//! HTML pages for people (`/ack/{key}`, `/report/{key}`): none needs a token, and the
//! document's `info.description` names them. The layers around the routes catch
//! panics, trace requests and turn unknown paths and methods into JSON errors; a request with a
//! query parameter to an /api/v1 route that documents none is refused naming it
//! (`refuse_query`, after the token check of a route that needs one), as the routes that take
//! parameters refuse those they do not know; the health check and the metrics scrape ignore
//! them (`routes::IGNORES_QUERY`), and every other operation's document lists that 400.
//! [`serve`] runs it over [`crate::connections`]' accept loop.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, State};
use axum::http::request::Parts;
use axum::http::{Method, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigil_api::error::{ErrorBody, ErrorCode};

use crate::auth::{Admin, Principal, Responder, Sender};
use crate::connections::ConnectionLimits;
use crate::error::{ApiError, error_response};
use crate::routes;
use crate::state::AppState;

/// The API's path prefix.
pub const API_PREFIX: &str = "/api/v1";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vigil API",
        description = "Security incident response: incidents, indicators, evidence with chain of custody, and a hash-chained audit trail.\n\nEvery operation in this document except `GET /api/v1/health` needs `Authorization: Bearer TOKEN` (create one with `vigil admin token`); each operation's description names the roles it lets in, and `x-vigil-roles` lists them.\n\nPublic, without a token: `GET /api/v1/health`; this document, `GET /api/v1/openapi.json`; and two browser pages for people, not scripts, which answer HTML and are not operations here: `GET`/`POST /ack/{key}`, the signed acknowledgement link a page carries (`/ack/ALR-12?t=…&by=…&until=…`; its GET shows a button, its POST acknowledges the alert as the person paged), and `GET`/`POST /report/{key}`, the form for reporting suspicious activity (on when `vigil serve --report-key` is set; `{key}` is that secret, and the form is rate-limited per sender and per link). Scripts use `POST /api/v1/alerts/{key}/ack` and `POST /api/v1/reports` instead.\n\nErrors are JSON (`ErrorBody`, one stable `code` per case), except the answers the HTTP layer gives before a request reaches Vigil, which have an empty body and close the connection: 414 for a request target (path and query) over 65,534 bytes, 431 for more than 100 header fields or a request head (request line and header fields) over 409,600 bytes, 400 for a malformed request line or header.",
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
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(API_PREFIX, api)
        .split_for_parts();
    document_access(&mut doc);
    crate::limits::document_limits(&mut doc);
    (router, doc)
}

/// Says in every operation who may call it, from [`routes::access`]: the roles in its
/// description and in `x-vigil-roles`, and the 401 (no valid token; with its
/// `WWW-Authenticate` header) and 403 (a role it does not let in) every authenticated route
/// can answer, which the handlers' own annotations list unevenly.
///
/// # Panics
/// When an operation is missing from [`routes::access`]: every test that builds the router
/// fails, so a route cannot be added without saying who may call it.
fn document_access(doc: &mut OpenApiDoc) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for op in operations.into_iter().flatten() {
            let id = op.operation_id.clone().unwrap_or_default();
            document_input_errors(op, !routes::IGNORES_QUERY.contains(&id.as_str()));
            let access = routes::access(&id).unwrap_or_else(|| {
                panic!("{path} ({id:?}) is not in routes::access; say which roles may call it")
            });
            document_operation(op, access, routes::access_note(&id));
        }
    }
}

/// What the `WWW-Authenticate` header of a 401 says ([`crate::error::Challenge`]).
const CHALLENGE: &str = "The bearer scheme's challenge (RFC 6750 §3): `Bearer` when no bearer token was sent, `Bearer error=\"invalid_token\"` for an unknown or revoked token, `Bearer error=\"invalid_request\"` for a malformed `Authorization: Bearer` header";

fn document_operation(op: &mut Operation, access: routes::Access, note: Option<&str>) {
    let roles = access.roles();
    if roles.is_empty() {
        return;
    }
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    let listed = match names.as_slice() {
        [one] => format!("the {one} role"),
        [rest @ .., last] => format!("the {} or {last} role", rest.join(", ")),
        [] => unreachable!("checked above"),
    };
    let mut line = format!("**Access:** needs a token with {listed}.");
    if let Some(note) = note {
        line = format!("{line} {note}");
    }
    op.description = Some(match op.description.take() {
        Some(d) if !d.trim().is_empty() => format!("{d}\n\n{line}"),
        _ => line,
    });
    op.extensions
        .get_or_insert_with(Extensions::default)
        .insert("x-vigil-roles".to_owned(), serde_json::json!(names));
    add_error_response(
        op,
        "401",
        "No API token, or an unknown or revoked one: send `Authorization: Bearer TOKEN` (create one with `vigil admin token`)",
    );
    if let Some(RefOr::T(response)) = op.responses.responses.get_mut("401") {
        response.headers.insert(
            "WWW-Authenticate".to_owned(),
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some(CHALLENGE))
                .build(),
        );
    }
    add_error_response(
        op,
        "403",
        &format!(
            "The token's role may not call this: it needs {listed}; ask an admin for such a token"
        ),
    );
}

/// Says in every operation the errors its extractors answer whatever the handler does: 400
/// (`invalid_field`, naming `key`, `id`, `limit` …) for a malformed path or query parameter
/// ([`crate::extract::ApiPath`], [`crate::extract::ApiQuery`], [`crate::incident_ref`]), for a
/// query parameter sent to a route that takes none when it `refuses_query` ([`refuse_query`];
/// the operations of [`routes::IGNORES_QUERY`] ignore them instead) or an invalid JSON body, and
/// 413 (`payload_too_large`) for a JSON body over the server's JSON limit
/// ([`crate::extract::ApiJson`]). Each is added where the handler's annotation lacks it; an empty
/// description the annotation left (for these and for 404) is filled in.
fn document_input_errors(op: &mut Operation, refuses_query: bool) {
    use utoipa::openapi::path::ParameterIn;

    let has_parameters = op
        .parameters
        .iter()
        .flatten()
        .any(|p| matches!(p.parameter_in, ParameterIn::Path | ParameterIn::Query));
    let takes_query = op
        .parameters
        .iter()
        .flatten()
        .any(|p| p.parameter_in == ParameterIn::Query);
    let json_body = op
        .request_body
        .as_ref()
        .is_some_and(|b| b.content.contains_key("application/json"));
    let bad_input = match (has_parameters, json_body) {
        (true, true) => Some(
            "A path or query parameter is malformed, or a field of the JSON body is invalid (`invalid_field`; `field` names it, such as `key`, `id`, `limit` or a body field's path)",
        ),
        (true, false) => Some(
            "A path or query parameter is malformed or out of range (`invalid_field`; `field` names it, such as `key`, `id` or `limit`)",
        ),
        (false, true) => Some(
            "A field of the JSON body is invalid, or the body is not JSON (`invalid_field`; `field` names it)",
        ),
        (false, false) => None,
    };
    if let Some(description) = bad_input {
        add_error_response(op, "400", "");
        fill_description(op, "400", description);
        if has_parameters
            && let Some(RefOr::T(response)) = op.responses.responses.get_mut("400")
            && !response.description.contains("parameter")
            && !response.description.contains("`field`")
        {
            response.description = format!(
                "{}; or a path or query parameter is malformed (`invalid_field`; `field` names it)",
                response.description.trim_end_matches('.')
            );
        }
    }
    // A query parameter the route does not take is refused: by [`refuse_query`] on a route
    // that takes none, by [`crate::extract::ApiQuery`] on one that takes some.
    if refuses_query {
        let (alone, added) = if takes_query {
            (
                "A query parameter is malformed or out of range, or one this route does not take was sent (`invalid_field`; `field` names it)",
                "; or a query parameter this route does not take was sent (`invalid_field`; `field` names it)",
            )
        } else {
            (
                "A query parameter was sent: this route takes none (`invalid_field`; `field` names the parameter); remove it",
                "; or a query parameter was sent, and this route takes none (`invalid_field`; `field` names the parameter)",
            )
        };
        add_error_response(op, "400", "");
        fill_description(op, "400", alone);
        if let Some(RefOr::T(response)) = op.responses.responses.get_mut("400")
            && !response.description.contains("does not take")
            && !response.description.contains("takes none")
        {
            response.description = format!("{}{added}", response.description.trim_end_matches('.'));
        }
    }
    fill_description(
        op,
        "404",
        "What the path or a parameter names does not exist (`not_found`; `message` says which)",
    );
    if json_body {
        add_error_response(op, "413", "");
        fill_description(
            op,
            "413",
            "The JSON body is larger than the server's JSON limit (`payload_too_large`; 1 MiB unless `vigil serve --max-json-bytes` says otherwise): send less",
        );
    }
}

/// Gives the response for `status` `description` when the annotation left it without one.
fn fill_description(op: &mut Operation, status: &str, description: &str) {
    if let Some(RefOr::T(response)) = op.responses.responses.get_mut(status)
        && response.description.trim().is_empty()
    {
        response.description = description.to_owned();
    }
}

/// Adds an error response with `description`, or puts `description` before the one the
/// handler gave.
fn add_error_response(op: &mut Operation, status: &str, description: &str) {
    let response = op
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .content(
                        "application/json",
                        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                    )
                    .build(),
            )
        });
    if let RefOr::T(response) = response
        && !description.is_empty()
    {
        response.description = if response.description.trim().is_empty() {
            description.to_owned()
        } else {
            format!("{description}. {}", response.description)
        };
    }
}

/// The OpenAPI document of every route, as served at `/api/v1/openapi.json`.
pub fn openapi() -> OpenApiDoc {
    api_routes().1
}

/// Builds the full application: routes, the OpenAPI document route, JSON fallbacks and layers.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api_routes();
    let mut queries = query_routes(&doc);
    let document = format!("{API_PREFIX}/openapi.json");
    queries.insert(
        (Method::GET, document.clone()),
        QueryRoute {
            takes_query: false,
            access: routes::Access::Public,
        },
    );
    let doc = Arc::new(doc);
    let refusing = Arc::new(QueryRoutes {
        routes: queries,
        state: state.clone(),
    });
    api.route(
        &document,
        axum::routing::get(move || {
            let doc = Arc::clone(&doc);
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    )
    // On the API's routes only: the acknowledgement and report pages take their own.
    .route_layer(axum::middleware::from_fn_with_state(refusing, refuse_query))
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

/// What [`refuse_query`] knows of an API route.
#[derive(Debug, Clone, Copy)]
struct QueryRoute {
    /// Whether it takes query parameters, or ignores them ([`routes::IGNORES_QUERY`]): either
    /// way they are not refused here.
    takes_query: bool,
    /// Who may call it: a refusal answers a caller it does not let in as the route would.
    access: routes::Access,
}

/// [`refuse_query`]'s state: the routes by (method, path), and the application's state to
/// check a token with.
struct QueryRoutes {
    routes: HashMap<(Method, String), QueryRoute>,
    state: AppState,
}

/// Each operation of the document by (method, path): whether it takes (or ignores) query
/// parameters, and who may call it.
fn query_routes(doc: &OpenApiDoc) -> HashMap<(Method, String), QueryRoute> {
    use utoipa::openapi::path::ParameterIn;
    let mut out = HashMap::new();
    for (path, item) in doc.paths.paths.iter() {
        let operations = [
            (Method::GET, &item.get),
            (Method::PUT, &item.put),
            (Method::POST, &item.post),
            (Method::DELETE, &item.delete),
            (Method::OPTIONS, &item.options),
            (Method::HEAD, &item.head),
            (Method::PATCH, &item.patch),
            (Method::TRACE, &item.trace),
        ];
        for (method, op) in operations {
            let Some(op) = op else { continue };
            let ignores_query = op
                .operation_id
                .as_deref()
                .is_some_and(|id| routes::IGNORES_QUERY.contains(&id));
            let takes_query = ignores_query
                || op
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| p.parameter_in == ParameterIn::Query);
            // Every operation is in the table: `document_access` panicked otherwise.
            let access = op
                .operation_id
                .as_deref()
                .and_then(routes::access)
                .unwrap_or(routes::Access::Admin);
            out.insert(
                (method, path.clone()),
                QueryRoute {
                    takes_query,
                    access,
                },
            );
        }
    }
    out
}

/// Refuses a request with a query parameter to an API route that takes none (one that takes
/// some reads them through [`crate::extract::ApiQuery`], which refuses those it does not know),
/// naming the parameter: a misspelt or misplaced parameter is never silently ignored. The
/// health check and the metrics scrape ignore parameters instead ([`routes::IGNORES_QUERY`]).
/// A method the route lacks passes on to the 405 answer.
///
/// A route that needs a token answers a caller without a valid one (or with a role it does
/// not let in) as its handler would, 401 or 403, before the parameter: the refusal must not
/// tell a stranger what the route takes. The token is checked only for a request refused
/// here, which its handler never sees, so no request is authenticated twice.
async fn refuse_query(
    State(queries): State<Arc<QueryRoutes>>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let method = if req.method() == Method::HEAD {
        Method::GET
    } else {
        req.method().clone()
    };
    let first = req
        .uri()
        .query()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).next())
        .map(|(name, _)| name.into_owned());
    // The route is looked up only for a request that has a parameter.
    let refused = first
        .is_some()
        .then(|| {
            req.extensions()
                .get::<MatchedPath>()
                .and_then(|path| queries.routes.get(&(method, path.as_str().to_owned())))
        })
        .flatten()
        .copied()
        .filter(|route| !route.takes_query);
    match (first, refused) {
        (Some(name), Some(route)) => {
            let (mut parts, _) = req.into_parts();
            if let Err(e) = caller_let_in(route.access, &mut parts, &queries.state).await {
                return e.into_response();
            }
            // Shown as one printable line, however long or strange the name sent.
            let name: String = name
                .chars()
                .take(100)
                .flat_map(char::escape_debug)
                .collect();
            ApiError::invalid_field(
                name.clone(),
                format!(
                    "query parameter `{name}`: this route takes no query parameters; remove it (each route's parameters are in /api/v1/openapi.json)"
                ),
            )
            .into_response()
        }
        _ => next.run(req).await,
    }
}

/// Checks the caller as the extractor of a route with `access` does, answering what it would.
async fn caller_let_in(
    access: routes::Access,
    parts: &mut Parts,
    state: &AppState,
) -> Result<(), ApiError> {
    use routes::Access;
    match access {
        Access::Public => Ok(()),
        Access::Read => Principal::from_request_parts(parts, state).await.map(drop),
        Access::Send => Sender::from_request_parts(parts, state).await.map(drop),
        Access::Write => Responder::from_request_parts(parts, state).await.map(drop),
        Access::Admin => Admin::from_request_parts(parts, state).await.map(drop),
    }
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
/// finish. The settings' header-read and body-stall timeouts and connection cap bound every
/// connection (see [`crate::connections`]).
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = ConnectionLimits::of(&state.settings);
    crate::connections::serve(listener, router(state), limits, shutdown).await
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
