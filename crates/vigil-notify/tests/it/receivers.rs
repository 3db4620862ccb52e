//! The HTTP receiver: a real server that records requests and answers from a script. (The SMTP
//! receiver, aiosmtpd, is in `vigil-testkit`, shared with the binary's tests.)

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// How the HTTP receiver answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// A status with this `Retry-After` header value.
    RetryAfter(u16, &'static str),
    /// A status with a text body.
    Body(u16, &'static str),
    /// A status with a text body quoting the request's path and query, as receivers' errors
    /// often do.
    Echo(u16),
    /// A status with a text body quoting the request's `Authorization` header, as a receiver
    /// refusing its credentials may.
    EchoAuthorization(u16),
    /// Wait this long, then 200 (longer than the client's timeout).
    Slow(Duration),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Recorded>>,
    /// Replies still to give, in order; 200 once empty.
    script: Mutex<VecDeque<Reply>>,
}

/// An HTTP server on 127.0.0.1:0; lives as long as the test's runtime.
pub struct HttpReceiver {
    pub base: String,
    shared: Arc<Shared>,
}

impl HttpReceiver {
    pub async fn start(script: Vec<Reply>) -> Self {
        let shared = Arc::new(Shared::default());
        shared.script.lock().unwrap().extend(script);
        let app = axum::Router::new()
            .fallback(record)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        HttpReceiver { base, shared }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }
}

async fn record(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    shared.requests.lock().unwrap().push(Recorded {
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: headers.clone(),
        body,
    });
    let reply = shared.script.lock().unwrap().pop_front();
    let status = |code: u16| StatusCode::from_u16(code).unwrap();
    match reply {
        None => (StatusCode::OK, "ok").into_response(),
        Some(Reply::Status(code)) => status(code).into_response(),
        Some(Reply::RetryAfter(code, after)) => {
            (status(code), [("retry-after", after)], "slow down").into_response()
        }
        Some(Reply::Body(code, text)) => (status(code), text).into_response(),
        Some(Reply::Echo(code)) => {
            let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
            let text = format!("invalid_token: request to {target} rejected");
            (status(code), text).into_response()
        }
        Some(Reply::EchoAuthorization(code)) => {
            let sent = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none");
            let text = format!("bad credentials (Authorization: {sent})");
            (status(code), text).into_response()
        }
        Some(Reply::Slow(wait)) => {
            tokio::time::sleep(wait).await;
            (StatusCode::OK, "late").into_response()
        }
    }
}
