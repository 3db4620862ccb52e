//! What bounds a connection, over real loopback sockets: a request head never finished, an idle
//! keep-alive connection and a stalled request body are closed after their (shortened)
//! timeouts, and more idle connections than the cap do not keep other clients out.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::spawn_app_with;

/// The shortened timeout these tests configure.
const SHORT: Duration = Duration::from_millis(500);
/// How long a test waits for something that should happen after [`SHORT`] before it fails:
/// a bound against hanging, not a measure of speed.
const GIVE_UP: Duration = Duration::from_secs(30);

/// Reads until the server closes the connection and returns what it sent; fails the test
/// when the connection is still open after [`GIVE_UP`].
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(GIVE_UP, async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server left the connection open; it sent {:?}",
        String::from_utf8_lossy(&received)
    );
    String::from_utf8_lossy(&received).into_owned()
}

/// A health check on a fresh connection answers 200.
async fn health(addr: SocketAddr) {
    let response = tokio::time::timeout(
        GIVE_UP,
        reqwest::get(format!("http://{addr}/api/v1/health")),
    )
    .await
    .expect("the health check is answered")
    .expect("the health check is answered");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn an_unfinished_request_head_and_an_idle_connection_are_closed() {
    let app = spawn_app_with(|s| s.header_read_timeout = SHORT).await;

    let mut partial = TcpStream::connect(app.addr).await.unwrap();
    partial
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();

    // Other clients are served meanwhile.
    health(app.addr).await;

    let answered = until_closed(&mut idle).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    until_closed(&mut partial).await;
    health(app.addr).await;
}

#[tokio::test]
async fn a_stalled_request_body_is_refused_and_its_connection_closed() {
    let app = spawn_app_with(|s| s.body_stall_timeout = SHORT).await;

    let mut stalled = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/events?service=web HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/x-ndjson\r\nContent-Length: 1000\r\n\r\n{{\"message\":",
        app.admin_token
    );
    stalled.write_all(head.as_bytes()).await.unwrap();

    let answer = until_closed(&mut stalled).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("could not be read completely"), "{answer}");
    health(app.addr).await;
}

#[tokio::test]
async fn more_idle_connections_than_the_cap_do_not_keep_others_out() {
    const CAP: usize = 4;
    let app = spawn_app_with(|s| {
        s.max_connections = CAP;
        s.header_read_timeout = SHORT;
    })
    .await;

    let mut idle = Vec::new();
    for _ in 0..CAP * 3 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream
            .write_all(b"GET /api/v1/health HTTP/1.1\r\n")
            .await
            .unwrap();
        idle.push(stream);
    }

    // Each idle connection past the cap waits for a place and is closed in its turn; the
    // health check waits behind them and is answered.
    health(app.addr).await;
    for stream in &mut idle {
        until_closed(stream).await;
    }
    health(app.addr).await;
}

/// Sends `request` on a fresh connection and returns the status line of the answer.
async fn status_line(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let answer = until_closed(&mut stream).await;
    answer.lines().next().unwrap_or("").to_owned()
}

/// The limits hyper holds a request head to before Vigil sees it, as the README's limits table
/// and the OpenAPI description state them: a request target of at most 65,534 bytes (414
/// past it), at most 100 header fields and a head of at most 409,600 bytes (431 past either).
/// hyper answers these itself, with an empty body rather than the JSON error shape.
#[tokio::test]
async fn the_request_head_limits_are_the_documented_ones() {
    let app = spawn_app_with(|_| {}).await;
    let target = |len: usize| {
        // A path no route takes: past hyper, Vigil answers it (404) whatever its length.
        let path = "/api/v1/no-such-route/";
        format!("{path}{}", "a".repeat(len - path.len()))
    };
    let request = |target: &str, headers: &str| {
        format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n")
    };
    let status = |request: String| async move { status_line(app.addr, request.as_bytes()).await };

    let answer = status(request(&target(65_534), "")).await;
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    let answer = status(request(&target(65_535), "")).await;
    assert!(answer.starts_with("HTTP/1.1 414"), "{answer}");

    // Host and Connection are two of the 100.
    let fields = |n: usize| (0..n).map(|i| format!("X-F{i}: v\r\n")).collect::<String>();
    let answer = status(request("/api/v1/health", &fields(98))).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let answer = status(request("/api/v1/health", &fields(99))).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

    // A head of exactly `len` bytes: one large field fills it.
    let head = |len: usize| {
        let bare = request("/api/v1/health", "X-Big: \r\n").len();
        request(
            "/api/v1/health",
            &format!("X-Big: {}\r\n", "a".repeat(len - bare)),
        )
    };
    assert_eq!(head(409_600).len(), 409_600);
    let answer = status(head(409_600)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let answer = status(head(409_601)).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    health(app.addr).await;
}
