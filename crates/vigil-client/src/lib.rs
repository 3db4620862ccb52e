//! vigil-client: a typed async client for the Vigil HTTP API (`vigil-api` wire types over
//! reqwest). Used by the `vigil incident` commands and by the server's integration tests.
//! Errors returned by the server keep their stable code, message, field and guards.

mod alerts;
mod endpoints;
mod events;
mod idle;
mod org;
mod review;

pub use endpoints::{Download, EvidenceDownload};
pub use events::{KeyedIngest, NDJSON};

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use vigil_api::error::{ErrorBody, ErrorCode, GuardRefusal};

use crate::idle::{Progress, unless_idle};

/// How long a call waits while nothing moves ([`Client::with_idle_timeout`]) unless told
/// otherwise: long enough for the server's slow answers (a rules preview over millions of
/// events, an ingest waiting for the index to catch up), short enough that a server that
/// stopped answering does not hold a script for ever.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// How long opening a connection may take: a listening server accepts at once, so waiting
/// longer only delays saying that packets are dropped on the way.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a JSON error body.
    #[error("{message}")]
    Api {
        /// HTTP status of the response.
        status: u16,
        /// The stable error code.
        code: ErrorCode,
        /// The server's message, saying what to do next.
        message: String,
        /// The request field at fault, when one is.
        field: Option<String>,
        /// For `guard_refused`: the guards that refused.
        guards: Vec<GuardRefusal>,
    },
    /// The server answered with an error status but no Vigil error body (not a Vigil server?).
    #[error(
        "the server at {url} answered {status} without a Vigil error body; check --server points at a Vigil server"
    )]
    UnexpectedStatus {
        /// The URL called.
        url: String,
        /// HTTP status.
        status: u16,
    },
    /// No connection to the server could be opened within [`CONNECT_TIMEOUT`].
    #[error(
        "no connection to the Vigil server at {url} within {} s; check that `vigil serve` is running there, that no firewall drops the packets on the way, and that --server (or VIGIL_SERVER) is right",
        after.as_secs_f64()
    )]
    ConnectTimedOut {
        /// The URL called.
        url: String,
        /// How long the client waited.
        after: Duration,
    },
    /// The server stopped answering: nothing moved — no piece of the request taken, no byte of
    /// the answer received — for the idle timeout ([`Client::with_idle_timeout`]).
    #[error(
        "the Vigil server at {url} did not answer in time (nothing came for {} s); check that the server is not stuck or overloaded (its log says) and that --server (or VIGIL_SERVER) points at it, or give a call that takes long, such as a large rules preview, more time with --timeout SECONDS or VIGIL_TIMEOUT",
        after.as_secs_f64()
    )]
    TimedOut {
        /// The URL called.
        url: String,
        /// How long nothing moved.
        after: Duration,
    },
    /// The server could not be reached or the connection failed.
    #[error(
        "could not reach the Vigil server at {url}: {source}; check that `vigil serve` is running and --server (or VIGIL_SERVER) is right"
    )]
    Transport {
        /// The URL called.
        url: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// The response body was not what this client expects (version mismatch?).
    #[error(
        "the server's answer from {url} could not be read: {detail}; check that client and server versions match"
    )]
    Decode {
        /// The URL called.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file is larger than the server takes as evidence (its published limit).
    #[error(
        "{path} is {size} bytes, more than this server takes as evidence ({limit} bytes); compress or split it, or ask the server's operator to raise `vigil serve --max-evidence-bytes`"
    )]
    EvidenceTooLarge {
        /// The file.
        path: String,
        /// Its size in bytes.
        size: u64,
        /// The server's limit in bytes.
        limit: u64,
    },
    /// A path given as a file to upload names a directory or another thing that is not a
    /// file whose bytes can be sent.
    #[error("{path} is {what}; give a file")]
    NotAFile {
        /// The path.
        path: String,
        /// What it is instead: "a directory", "a socket".
        what: &'static str,
    },
    /// The API token holds a character no token has (a line break copied with it), so no
    /// request can carry it.
    #[error(
        "the API token holds {}, which a token cannot have (copied with the end of its line?); set --token or VIGIL_TOKEN again to the token alone",
        match character {
            '\n' | '\r' => format!("a line break (U+{:04X})", *character as u32),
            '\t' => "a tab (U+0009)".to_owned(),
            c => format!("the control character U+{:04X}", *c as u32),
        }
    )]
    InvalidToken {
        /// The first such character.
        character: char,
    },
    /// A value the server would refuse, found before anything was sent: the checks are the
    /// server's own (`vigil-core`), so the message is the one the server would give.
    #[error("{0}")]
    Invalid(vigil_core::DomainError),
    /// The server URL given is not a valid http(s) URL.
    #[error("invalid server URL {0:?}; give one like http://127.0.0.1:8080")]
    InvalidUrl(String),
}

impl ClientError {
    /// The server's error code, if the server answered with one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// A client bound to one server and (optionally) one API token.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
    /// How long a call waits while nothing moves before giving up.
    idle: Duration,
}

impl Client {
    /// A client for the server at `base_url` (e.g. `http://127.0.0.1:8080`), without a token.
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        let base = base_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) || base.len() < 10 {
            return Err(ClientError::InvalidUrl(base_url.to_owned()));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|source| ClientError::Transport {
                url: base.clone(),
                source,
            })?;
        Ok(Client {
            base,
            token: None,
            http,
            idle: DEFAULT_IDLE_TIMEOUT,
        })
    }

    /// The same client giving up on a call once nothing has moved for `idle` (no piece of the
    /// request taken by the connection, no byte of the answer received): a call that keeps
    /// moving, an upload or a download of a large file, takes as long as it needs.
    /// [`DEFAULT_IDLE_TIMEOUT`] unless set.
    pub fn with_idle_timeout(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// The same client authenticating with `token`.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{}", self.base, path)
    }

    fn request(&self, method: Method, path: &str) -> (String, RequestBuilder) {
        let url = self.url(path);
        let mut req = self.http.request(method, &url);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        (url, req)
    }

    /// Sends a request and returns the raw response, or the server's error.
    async fn send(&self, url: &str, req: RequestBuilder) -> Result<reqwest::Response, ClientError> {
        self.send_moving(url, req, &Progress::new()).await
    }

    /// [`Client::send`] of a request whose body records its own movement on `progress` (a
    /// file streamed out): the answer is awaited while the body moves.
    async fn send_moving(
        &self,
        url: &str,
        req: RequestBuilder,
        progress: &Progress,
    ) -> Result<reqwest::Response, ClientError> {
        // A token no header can carry would fail as a request-building error, which reads as
        // the server being unreachable: name the token instead.
        if let Some(character) = self
            .token
            .as_deref()
            .and_then(|t| t.chars().find(|c| c.is_control()))
        {
            return Err(ClientError::InvalidToken { character });
        }
        let resp = unless_idle(self.idle, progress, req.send())
            .await
            .ok_or_else(|| self.timed_out(url))?
            .map_err(|source| transport(url, source))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let bytes = self.body(url, resp).await?;
        Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => ClientError::Api {
                status: status.as_u16(),
                code: body.error.code,
                message: body.error.message,
                field: body.error.field,
                guards: body.error.guards,
            },
            Err(_) => ClientError::UnexpectedStatus {
                url: url.to_owned(),
                status: status.as_u16(),
            },
        })
    }

    fn timed_out(&self, url: &str) -> ClientError {
        ClientError::TimedOut {
            url: url.to_owned(),
            after: self.idle,
        }
    }

    /// The whole body of an answer, giving up when none of it comes for the idle timeout.
    async fn body(
        &self,
        url: &str,
        mut resp: reqwest::Response,
    ) -> Result<bytes::Bytes, ClientError> {
        let mut bytes = Vec::new();
        while let Some(chunk) = next_chunk(self.idle, url, &mut resp).await? {
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes.into())
    }

    async fn decode<T: DeserializeOwned>(
        &self,
        url: &str,
        resp: reqwest::Response,
    ) -> Result<T, ClientError> {
        let bytes = self.body(url, resp).await?;
        serde_json::from_slice(&bytes).map_err(|err| ClientError::Decode {
            url: url.to_owned(),
            detail: err.to_string(),
        })
    }

    /// `GET path` returning JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let (url, req) = self.request(Method::GET, path);
        let resp = self.send(&url, req).await?;
        self.decode(&url, resp).await
    }

    /// `METHOD path` with a JSON body, returning JSON.
    pub async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let (url, req) = self.request(method, path);
        let resp = self.send(&url, req.json(body)).await?;
        self.decode(&url, resp).await
    }

    /// `DELETE path`, expecting an empty success.
    pub async fn delete(&self, path: &str) -> Result<(), ClientError> {
        let (url, req) = self.request(Method::DELETE, path);
        let resp = self.send(&url, req).await?;
        debug_assert!(resp.status() == StatusCode::NO_CONTENT || resp.status().is_success());
        Ok(())
    }

    /// Sends raw bytes (any method, any content type) and returns the raw response — for tests
    /// that must send what a typed call cannot (malformed JSON, oversized bodies).
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Result<reqwest::Response, ClientError> {
        let (url, req) = self.request(method, path);
        self.send(
            &url,
            req.header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body),
        )
        .await
    }
}

/// The next piece of an answer's body, `None` at its end; an error once none has come for
/// `idle`.
async fn next_chunk(
    idle: Duration,
    url: &str,
    resp: &mut reqwest::Response,
) -> Result<Option<bytes::Bytes>, ClientError> {
    match tokio::time::timeout(idle, resp.chunk()).await {
        Ok(chunk) => chunk.map_err(|source| transport(url, source)),
        Err(_) => Err(ClientError::TimedOut {
            url: url.to_owned(),
            after: idle,
        }),
    }
}

/// A failure of the connection, a connection that could not be opened in time said as such.
fn transport(url: &str, source: reqwest::Error) -> ClientError {
    if source.is_connect() && source.is_timeout() {
        ClientError::ConnectTimedOut {
            url: url.to_owned(),
            after: CONNECT_TIMEOUT,
        }
    } else {
        ClientError::Transport {
            url: url.to_owned(),
            source,
        }
    }
}

/// Percent-encodes a value for a query string.
pub(crate) fn enc(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A loopback listener that accepts connections, reads what comes, writes `answer` and
    /// then holds the connection open without another byte: a server that stopped answering.
    async fn stalling_server(answer: &'static [u8]) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut head = [0u8; 4096];
                let _ = socket.read(&mut head).await;
                let _ = socket.write_all(answer).await;
                held.push(socket);
            }
        });
        url
    }

    #[tokio::test]
    async fn an_unreachable_server_names_both_ways_of_giving_it() {
        // Nothing listens on port 9 of loopback.
        let client = Client::new("http://127.0.0.1:9")
            .unwrap()
            .with_token("vgl_x");
        let err = client
            .get_json::<serde_json::Value>("/incidents")
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Transport { .. }), "{err:?}");
        let said = err.to_string();
        assert!(
            said.contains("--server (or VIGIL_SERVER) is right"),
            "{said}"
        );
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_given_up_on() {
        let url = stalling_server(b"").await;
        let client = Client::new(&url)
            .unwrap()
            .with_idle_timeout(Duration::from_millis(300));
        let err = client.get_json::<serde_json::Value>("/incidents").await;
        let err = err.unwrap_err();
        assert!(matches!(err, ClientError::TimedOut { .. }), "{err:?}");
        let said = err.to_string();
        assert!(
            said.contains("did not answer in time (nothing came for 0.3 s)")
                && said.contains("--timeout SECONDS or VIGIL_TIMEOUT"),
            "{said}"
        );
    }

    #[tokio::test]
    async fn a_server_that_stops_in_the_middle_of_its_answer_is_given_up_on() {
        let url = stalling_server(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"items\": [",
        )
        .await;
        let client = Client::new(&url)
            .unwrap()
            .with_idle_timeout(Duration::from_millis(300));
        let err = client.get_json::<serde_json::Value>("/incidents").await;
        assert!(matches!(err, Err(ClientError::TimedOut { .. })), "{err:?}");
    }

    #[tokio::test]
    async fn a_token_with_a_line_break_is_named_not_taken_for_an_unreachable_server() {
        // Nothing listens on port 9 of loopback; the token is refused before any connection.
        let client = Client::new("http://127.0.0.1:9")
            .unwrap()
            .with_token("vgl_0123456789abcdef\r\n");
        let err = client
            .get_json::<serde_json::Value>("/incidents")
            .await
            .unwrap_err();
        assert!(
            matches!(err, ClientError::InvalidToken { character: '\r' }),
            "{err:?}"
        );
        let said = err.to_string();
        assert!(
            said.starts_with(
                "the API token holds a line break (U+000D), which a token cannot have"
            ) && said.contains("set --token or VIGIL_TOKEN again")
                && !said.contains("could not reach"),
            "{said}"
        );
    }
}
