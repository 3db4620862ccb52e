//! The HTTP accept loop. Written by hand rather than `axum::serve`, which has no header or body
//! timeouts and no cap on open connections: a thousand sockets that never finish a request
//! would otherwise hold every descriptor the process may open, and the stores (index segments,
//! journal, SQLite) would fail with "too many open files".
//!
//! Each connection is HTTP/1.1 served by hyper, with a header-read timeout that also closes an
//! idle keep-alive connection, and a request body that fails when it stalls. At most
//! `max_connections` are open; past that, new connections wait in the kernel's listen backlog
//! until one closes. On shutdown the loop stops accepting and waits for in-flight requests to
//! be answered, as `axum::serve`'s graceful shutdown did.
//!
//! hyper refuses a request head it cannot take before Vigil sees the request, and answers it
//! itself with an empty body (not the API's JSON error) and closes the connection: a request
//! target over 65,534 bytes (hyper's fixed limit) with 414, more than 100 header fields
//! (hyper's default) or a head over [`MAX_REQUEST_HEAD_BYTES`] with 431, a malformed request
//! line or header with 400. hyper has no hook to write those answers, so the limits are
//! stated instead: in the OpenAPI description and the README's limits table.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

use crate::settings::Settings;

/// Pause after a failed `accept` (out of descriptors, say), so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_secs(1);
/// At most one warning per this long that every connection is taken.
const FULL_WARNING_EVERY: Duration = Duration::from_secs(60);

/// The largest request head (request line and header fields) taken, in bytes; a larger one is
/// answered 431 by hyper. Without it hyper's limit is its read buffer's (about 408 KiB), which
/// a head read in one go can pass: this one holds however the bytes arrive.
pub(crate) const MAX_REQUEST_HEAD_BYTES: usize = 400 * 1024;

/// What bounds each connection, from the [`Settings`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    header_read_timeout: Duration,
    body_stall_timeout: Duration,
    max_connections: usize,
}

impl ConnectionLimits {
    pub(crate) fn of(settings: &Settings) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: settings.header_read_timeout,
            body_stall_timeout: settings.body_stall_timeout,
            max_connections: settings.max_connections.max(1),
        }
    }
}

/// Accepts connections on `listener` and serves `app` on each until `shutdown` completes, then
/// waits for the requests in flight to be answered.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // One permit per open connection: taken before `accept`, so that past the cap new
    // connections stay in the kernel's backlog instead of holding a descriptor here.
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(MAX_REQUEST_HEAD_BYTES);
    let mut last_full_warning: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        if permits.available_permits() == 0
            && last_full_warning.is_none_or(|at| at.elapsed() >= FULL_WARNING_EVERY)
        {
            last_full_warning = Some(Instant::now());
            tracing::warn!(
                max_connections = limits.max_connections,
                "every HTTP connection allowed is open; new ones wait until one closes (idle ones close after the header-read timeout)"
            );
        }
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::error!(error = %e, "cannot accept an HTTP connection");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    continue;
                }
            },
        };
        let service = hyper::service::service_fn(request_handler(
            app.clone(),
            peer,
            limits.body_stall_timeout,
        ));
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "HTTP connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Hands each request of the connection from `peer` to `app`, with the peer's address as
/// `ConnectInfo` (the report form limits each sender) and a body that fails once it has sent
/// nothing for `body_stall_timeout`.
fn request_handler(
    app: Router,
    peer: SocketAddr,
    body_stall_timeout: Duration,
) -> impl Fn(Request<Incoming>) -> tower::util::Oneshot<Router, Request<Body>> {
    move |request: Request<Incoming>| {
        let mut request = request.map(|body| Body::new(TimeoutBody::new(body_stall_timeout, body)));
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request)
    }
}
