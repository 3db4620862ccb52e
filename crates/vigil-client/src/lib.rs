//! vigil-client: a typed async client for the Vigil HTTP API (`vigil-api` wire types over
//! reqwest). Used by the `vigil incident` commands and by the server's integration tests.
//! Errors returned by the server keep their stable code, message, field and guards.

mod alerts;
mod endpoints;
mod events;
mod org;

pub use endpoints::EvidenceDownload;
pub use events::{KeyedIngest, NDJSON};

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use vigil_api::error::{ErrorBody, ErrorCode, GuardRefusal};

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
    /// The server could not be reached or the connection failed.
    #[error(
        "could not reach the Vigil server at {url}: {source}; check that `vigil serve` is running and --server is right"
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
}

impl Client {
    /// A client for the server at `base_url` (e.g. `http://127.0.0.1:8080`), without a token.
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        let base = base_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) || base.len() < 10 {
            return Err(ClientError::InvalidUrl(base_url.to_owned()));
        }
        let http = reqwest::Client::builder()
            .build()
            .map_err(|source| ClientError::Transport {
                url: base.clone(),
                source,
            })?;
        Ok(Client {
            base,
            token: None,
            http,
        })
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
        // A token no header can carry would fail as a request-building error, which reads as
        // the server being unreachable: name the token instead.
        if let Some(character) = self
            .token
            .as_deref()
            .and_then(|t| t.chars().find(|c| c.is_control()))
        {
            return Err(ClientError::InvalidToken { character });
        }
        let resp = req.send().await.map_err(|source| ClientError::Transport {
            url: url.to_owned(),
            source,
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.to_owned(),
                source,
            })?;
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

    async fn decode<T: DeserializeOwned>(
        url: &str,
        resp: reqwest::Response,
    ) -> Result<T, ClientError> {
        let bytes = resp
            .bytes()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.to_owned(),
                source,
            })?;
        serde_json::from_slice(&bytes).map_err(|err| ClientError::Decode {
            url: url.to_owned(),
            detail: err.to_string(),
        })
    }

    /// `GET path` returning JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let (url, req) = self.request(Method::GET, path);
        let resp = self.send(&url, req).await?;
        Self::decode(&url, resp).await
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
        Self::decode(&url, resp).await
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

/// Percent-encodes a value for a query string.
pub(crate) fn enc(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
