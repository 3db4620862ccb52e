//! Request extractors that turn every malformed input into an `invalid_field` (400) or
//! `payload_too_large` (413) JSON error naming the field, instead of axum's plain-text rejections.
//! Every route reads its path parameters through [`ApiPath`], for the same reason.
//!
//! JSON bodies are read with a size cap and decoded through `serde_path_to_error`, so a wrong
//! type or an unknown enum value deep in the body is reported with its path
//! (`indicators[1].kind`); a missing or unknown field is named from serde's message.

use axum::body::{Body, Bytes};
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;
use vigil_api::error::ErrorCode;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON request body decoded into `T`, or a 400 naming the field at fault.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let mime = v.split(';').next().unwrap_or("").trim();
                mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::invalid_field(
                "content-type",
                "send the request body as JSON with the header `Content-Type: application/json`",
            ));
        }
        let bytes = read_body(req.into_body(), state.settings.json_body_limit).await?;
        decode_json(&bytes).map(ApiJson)
    }
}

/// Decodes a JSON document, naming the field at fault on failure.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde's derive reads a struct from an array too (`["t","s","SEV3"]` as title, summary,
    // severity), which would make a body's meaning hang on field order: an object is asked for.
    if expects_object::<T>() {
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first.is_some_and(|b| *b != b'{') {
            let what = match first {
                Some(b'[') => "an array",
                Some(b'"') => "a string",
                _ => "not an object",
            };
            return Err(ApiError::invalid_field(
                "body",
                format!(
                    "the request body must be a JSON object with the fields by name ({{\"field\": value, …}}); it is {what}"
                ),
            ));
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::invalid_field(
                "body",
                format!("the request body is not valid JSON ({message}); fix the syntax and retry"),
            );
        }
        let field = field_from_message(&message)
            .map(|f| join_path(&path, &f))
            .unwrap_or_else(|| if path == "." { "body".to_owned() } else { path });
        ApiError::invalid_field(
            field.clone(),
            format!("`{field}`: {}", strip_position(&message)),
        )
    })?;
    de.end().map_err(|_| {
        ApiError::invalid_field(
            "body",
            "the request body has data after the JSON document; send exactly one JSON value",
        )
    })?;
    Ok(value)
}

/// Whether `T` is read from a JSON object at the top (a struct or a map), found by asking its
/// `Deserialize` which `deserialize_*` it calls on a deserializer that holds nothing.
fn expects_object<T: DeserializeOwned>() -> bool {
    matches!(T::deserialize(Probe), Err(Probed::Object))
}

/// A deserializer that only says what it was asked for.
struct Probe;

/// What [`Probe`] was asked for.
#[derive(Debug)]
enum Probed {
    /// A struct or a map.
    Object,
    /// Anything else.
    Other,
}

impl std::fmt::Display for Probed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for Probed {}

impl serde::de::Error for Probed {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Probed::Other
    }
}

impl<'de> serde::Deserializer<'de> for Probe {
    type Error = Probed;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Probed> {
        Err(Probed::Other)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Probed> {
        Err(Probed::Object)
    }

    fn deserialize_map<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Probed> {
        Err(Probed::Object)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct enum identifier
        ignored_any
    }
}

/// Path parameters decoded into `T`, or a 400 naming the parameter at fault (axum's own
/// `Path` answers plain text, "Invalid URL: Invalid UTF-8 in `key`").
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(path_error(parts, rejection)),
        }
    }
}

/// The API's error for a path parameter axum could not read.
fn path_error(parts: &Parts, rejection: PathRejection) -> ApiError {
    // The route's parameter names, for the errors axum gives without one (`{key}`, `{id}`).
    let names: Vec<String> = parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map(|m| {
            m.as_str()
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .map(|s| s.trim_start_matches('*').to_owned())
                .collect()
        })
        .unwrap_or_default();
    let name_at = |index: usize| {
        names
            .get(index)
            .cloned()
            .unwrap_or_else(|| "path".to_owned())
    };
    let invalid = |key: String, what: String| {
        ApiError::invalid_field(
            key.clone(),
            format!("path parameter `{key}`: {what}; check the URL"),
        )
    };
    let err = match rejection {
        PathRejection::FailedToDeserializePathParams(err) => err,
        other => return ApiError::internal(format!("path parameters: {other}")),
    };
    match err.into_kind() {
        ErrorKind::InvalidUtf8InPathParam { key } => invalid(
            key,
            "is not valid UTF-8 once percent-decoded (keys look like INC-42 or ALR-12)".to_owned(),
        ),
        ErrorKind::ParseErrorAtKey {
            key,
            value,
            expected_type,
        } => invalid(key, format!("{value:?} is not a valid {expected_type}")),
        ErrorKind::ParseErrorAtIndex {
            index,
            value,
            expected_type,
        } => invalid(
            name_at(index),
            format!("{value:?} is not a valid {expected_type}"),
        ),
        ErrorKind::ParseError {
            value,
            expected_type,
        } => invalid(
            name_at(0),
            format!("{value:?} is not a valid {expected_type}"),
        ),
        ErrorKind::DeserializeError { key, message, .. } => invalid(key, message),
        other => ApiError::internal(format!("path parameters: {other}")),
    }
}

/// Reads a request body into memory, refusing more than `limit` bytes with a 413.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|err| {
            tracing::debug!(error = %err, "request body read failed");
            ApiError::invalid_field(
                "body",
                "the request body could not be read completely; resend the whole request",
            )
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// Undoes the `Content-Encoding` of a request body: log shippers (Vector, Fluent Bit, Logstash)
/// gzip what they send. Supported: none (`identity`) and `gzip` (`x-gzip`); the decompressed
/// body is held to `limit` like a plain one, so a small bomb is refused, not inflated.
/// Decompression runs off the async threads.
pub async fn decode_body(
    content_encoding: Option<&str>,
    body: Bytes,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let encoding = content_encoding.map(|e| e.trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("" | "identity") => Ok(body),
        Some("gzip" | "x-gzip") => tokio::task::spawn_blocking(move || gunzip(&body, limit))
            .await
            .map_err(|e| ApiError::internal(format!("gzip worker: {e}")))?,
        Some(other) => Err(ApiError::invalid_field(
            "Content-Encoding",
            format!(
                "the body's Content-Encoding `{other}` is not supported; send it as gzip or uncompressed"
            ),
        )),
    }
}

fn gunzip(compressed: &[u8], limit: usize) -> Result<Bytes, ApiError> {
    use std::io::Read;
    let mut out = Vec::with_capacity(compressed.len().saturating_mul(4).min(limit));
    flate2::read::MultiGzDecoder::new(compressed)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            ApiError::invalid_field(
                "Content-Encoding",
                format!("the body is not valid gzip ({e}); send it whole, or drop `Content-Encoding: gzip`"),
            )
        })?;
    if out.len() > limit {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "the request body decompresses to more than this route accepts ({limit} bytes); send less data per request"
            ),
        ));
    }
    Ok(Bytes::from(out))
}

/// The 413 error for a body over `limit` bytes.
pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!(
            "the request body is larger than this route accepts ({limit} bytes); send less data"
        ),
    )
}

/// Query-string parameters decoded into `T`, or a 400 naming the parameter at fault.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + IntoParams, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        decode_query(query).map(ApiQuery)
    }
}

/// Decodes a URL query string, naming the parameter at fault on failure: one whose %-escapes
/// are not UTF-8 (decoding would put U+FFFD in their place and answer another question), one
/// that is not of its type — a whole number out of the range `T` declares for it
/// (`#[param(minimum, maximum)]`) said with that range.
pub fn decode_query<T: DeserializeOwned + IntoParams>(query: &str) -> Result<T, ApiError> {
    if let Some(field) = not_utf8(query) {
        return Err(ApiError::invalid_field(
            field.clone(),
            format!(
                "query parameter `{field}`: its %-escapes decode to bytes that are not UTF-8 text; %-escape the UTF-8 bytes of the text (é is %C3%A9)"
            ),
        ));
    }
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        let field = field_from_message(&message)
            .map(|f| join_path(&path, &f))
            .unwrap_or_else(|| {
                if path == "." {
                    "query".to_owned()
                } else {
                    path
                }
            });
        let message = plain_message(message, || whole_number_range::<T>(&field));
        ApiError::invalid_field(
            field.clone(),
            format!("query parameter `{field}`: {message}"),
        )
    })
}

/// The first parameter of `query` whose value (or name: then `query`) decodes to bytes that
/// are not UTF-8.
fn not_utf8(query: &str) -> Option<String> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let Ok(name) = String::from_utf8(url_decoded(name)) else {
            return Some("query".to_owned());
        };
        if std::str::from_utf8(&url_decoded(value)).is_err() {
            return Some(name);
        }
    }
    None
}

/// The bytes a form-encoded name or value stands for: `+` a space, `%XX` the byte, anything
/// else itself (a `%` without two hex digits too, as `form_urlencoded` reads it).
fn url_decoded(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if hex(i + 1).is_some() && hex(i + 2).is_some() => {
                let (high, low) = (hex(i + 1).unwrap_or(0), hex(i + 2).unwrap_or(0));
                out.push((high * 16 + low) as u8);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// The smallest and largest value the OpenAPI description of `T` gives parameter `name` (an
/// unsigned one starts at 0).
fn whole_number_range<T: IntoParams>(name: &str) -> (Option<i128>, Option<i128>) {
    use utoipa::openapi::{RefOr, Schema};
    let as_int = |n: &utoipa::Number| match *n {
        utoipa::Number::Int(n) => Some(n as i128),
        utoipa::Number::UInt(n) => Some(n as i128),
        // utoipa writes an unsigned type's minimum as 0.0.
        utoipa::Number::Float(n) if n.fract() == 0.0 => Some(n as i128),
        utoipa::Number::Float(_) => None,
    };
    T::into_params(|| None)
        .into_iter()
        .find(|p| p.name == name)
        .and_then(|p| match p.schema {
            Some(RefOr::T(Schema::Object(o))) => Some((
                o.minimum.as_ref().and_then(as_int),
                o.maximum.as_ref().and_then(as_int),
            )),
            _ => None,
        })
        .unwrap_or((None, None))
}

/// The parse errors of numbers and flags, which say what is wrong in Rust's words ("invalid
/// digit found in string", which `-1` gives for an unsigned number), said as what to write
/// instead: for a whole number, the range its parameter takes when it declares one.
fn plain_message(message: String, range: impl FnOnce() -> (Option<i128>, Option<i128>)) -> String {
    let whole_number = matches!(
        message.as_str(),
        "invalid digit found in string"
            | "cannot parse integer from empty string"
            | "number too large to fit in target type"
            | "number too small to fit in target type"
    );
    if whole_number {
        return match range() {
            (Some(min), Some(max)) => format!("must be a whole number from {min} to {max}"),
            // A number too large is a whole number of `min` or more: what is wrong is its size.
            (Some(min), None) if message.starts_with("number too large") => {
                format!("is too large: give a smaller whole number, of {min} or more")
            }
            (Some(min), None) => format!("must be a whole number of {min} or more"),
            (None, Some(max)) => format!("must be a whole number up to {max}"),
            (None, None) if message.starts_with("number too") => {
                "is out of range: give a smaller whole number".to_owned()
            }
            (None, None) => "must be a whole number, such as 100".to_owned(),
        };
    }
    match message.as_str() {
        "provided string was not `true` or `false`" => "must be true or false".to_owned(),
        _ => message,
    }
}

/// serde reports missing and unknown fields at the parent's path; pull the name out of
/// "missing field `x`" / "unknown field `x`, expected ...".
fn field_from_message(message: &str) -> Option<String> {
    for prefix in ["missing field `", "unknown field `", "duplicate field `"] {
        if let Some(rest) = message.strip_prefix(prefix) {
            return rest.split('`').next().map(str::to_owned);
        }
    }
    None
}

fn join_path(parent: &str, field: &str) -> String {
    if parent == field || parent.ends_with(&format!(".{field}")) {
        // serde_path_to_error already descended into an unknown key.
        parent.to_owned()
    } else if parent == "." || parent.is_empty() {
        field.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

/// serde_json appends " at line 1 column 42"; the field path already says where.
fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(idx) => &message[..idx],
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_api::error::ErrorBody;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        kind: Kind,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Ip,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        title: String,
        items: Vec<Inner>,
        limit: Option<u32>,
    }

    fn field_of(err: ApiError) -> String {
        match err {
            ApiError::Client(ErrorBody { error }) => {
                assert_eq!(error.code, ErrorCode::InvalidField);
                error.field.unwrap()
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        let cases = [
            (r#"{"items": []}"#, "title"),
            (r#"{"title": 3, "items": []}"#, "title"),
            (
                r#"{"title": "x", "items": [{"kind": "ip"}, {"kind": "dns"}]}"#,
                "items[1].kind",
            ),
            (r#"{"title": "x", "items": [], "colour": 1}"#, "colour"),
            (r#"{"title": "x", "items": [{}]}"#, "items[0].kind"),
            (r#"{"title": "x""#, "body"),
            (r#"{"title": "x", "items": []} 1"#, "body"),
            (r#"["x", [], null]"#, "body"),
            (r#" 3"#, "body"),
        ];
        for (input, field) in cases {
            let err = decode_json::<Outer>(input.as_bytes()).unwrap_err();
            assert_eq!(field_of(err), field, "{input}");
        }
    }

    #[test]
    fn only_bodies_read_as_objects_must_be_objects() {
        assert!(expects_object::<Outer>());
        assert!(expects_object::<std::collections::HashMap<String, u32>>());
        assert!(!expects_object::<Vec<u32>>());
        assert!(!expects_object::<serde_json::Value>());
        assert_eq!(decode_json::<Vec<u32>>(b"[1, 2]").unwrap(), [1, 2]);
    }

    #[test]
    fn query_errors_name_the_parameter() {
        #[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
        #[allow(dead_code)]
        struct Q {
            #[param(minimum = 1, maximum = 1000)]
            limit: Option<u32>,
            offset: Option<u32>,
            after: Option<i64>,
            q: Option<String>,
        }
        assert_eq!(
            field_of(decode_query::<Q>("limit=abc").unwrap_err()),
            "limit"
        );
        assert_eq!(decode_query::<Q>("limit=5").unwrap().limit, Some(5));
        let message = |query: &str| match decode_query::<Q>(query).unwrap_err() {
            ApiError::Client(ErrorBody { error }) => (error.field.unwrap(), error.message),
            other => panic!("unexpected {other:?}"),
        };
        // A number out of the type's range says the range the parameter takes.
        for query in [
            "limit=-1",
            "limit=99999999999",
            "limit=abc",
            "limit=",
            "limit=1.5",
        ] {
            assert_eq!(
                message(query),
                (
                    "limit".to_owned(),
                    "query parameter `limit`: must be a whole number from 1 to 1000".to_owned()
                ),
                "{query}"
            );
        }
        assert_eq!(
            message("offset=-1").1,
            "query parameter `offset`: must be a whole number of 0 or more"
        );
        assert_eq!(
            message("offset=99999999999999999999").1,
            "query parameter `offset`: is too large: give a smaller whole number, of 0 or more"
        );
        assert_eq!(
            message("after=x").1,
            "query parameter `after`: must be a whole number, such as 100"
        );
        // Text whose %-escapes are no UTF-8 is refused, not searched for with U+FFFD in it.
        for query in ["q=alice%FF", "limit=5&q=%C3", "q=a%ED%A0%80"] {
            let (field, text) = message(query);
            assert_eq!(field, "q", "{query}");
            assert!(text.contains("not UTF-8"), "{query}: {text}");
        }
        assert_eq!(message("%FF=1").0, "query");
        assert_eq!(
            decode_query::<Q>("q=caf%C3%A9+%E2%9C%93%EF%BF%BD")
                .unwrap()
                .q
                .unwrap(),
            "café ✓\u{fffd}"
        );
    }
}
