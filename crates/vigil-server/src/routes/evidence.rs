//! Evidence: uploads streamed straight from the request body into the store (which hashes
//! while writing and files the content under its SHA-256) with a size cap; downloads
//! re-verified by the store against the recorded SHA-256 and recorded in the chain of custody
//! before a byte is sent, then streamed; chain-of-custody entries.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::Json;
use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use vigil_api::error::ErrorBody;
use vigil_api::types::*;
use vigil_store::NewEvidence;

use crate::auth::{Principal, Responder};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, too_large};
use crate::state::AppState;
use crate::{incident_ref, parse_uuid, store_error};

/// Why a request body stopped before its end, as seen by [`BodyReader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// More bytes than the evidence limit arrived.
    TooLarge,
    /// The connection failed or the client went away mid-body.
    Interrupted,
}

/// The request body as an `AsyncRead` for the store, failing once more than `limit` bytes
/// arrive. It remembers why it failed, so the handler answers 413 or 400 rather than the
/// store's generic I/O error.
struct BodyReader {
    stream: BodyDataStream,
    chunk: Bytes,
    received: u64,
    limit: u64,
    cut: Option<Cut>,
}

impl BodyReader {
    fn new(body: Body, limit: u64) -> Self {
        BodyReader {
            stream: body.into_data_stream(),
            chunk: Bytes::new(),
            received: 0,
            limit,
            cut: None,
        }
    }
}

impl AsyncRead for BodyReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while this.chunk.is_empty() {
            match ready!(this.stream.poll_next_unpin(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Err(err)) => {
                    tracing::debug!(error = %err, "evidence upload interrupted");
                    this.cut = Some(Cut::Interrupted);
                    return Poll::Ready(Err(io::Error::other("the upload was interrupted")));
                }
                Some(Ok(chunk)) => {
                    this.received += chunk.len() as u64;
                    if this.received > this.limit {
                        this.cut = Some(Cut::TooLarge);
                        return Poll::Ready(Err(io::Error::other(
                            "the upload is larger than the limit",
                        )));
                    }
                    this.chunk = chunk;
                }
            }
        }
        let n = this.chunk.len().min(buf.remaining());
        buf.put_slice(&this.chunk.split_to(n));
        Poll::Ready(Ok(()))
    }
}

// The document's schema of a file (`type: string, format: binary`): utoipa writes a `Vec<u8>`
// as an array of integers, which no client sends. The doc comment is the schema's description.
/// The file's bytes, as they are.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
struct FileBytes(Vec<u8>);

/// Upload a file as evidence: the raw request body is the file.
#[utoipa::path(
    post, path = "/incidents/{key}/evidence", operation_id = "upload_evidence", tag = "evidence",
    params(("key" = String, Path, description = "Incident key (INC-42) or id"), EvidenceUploadQuery),
    request_body(content = inline(FileBytes), content_type = "application/octet-stream", description = "The file's bytes, sent as they are (any Content-Type is read as raw bytes)"),
    responses(
        (status = 201, description = "Stored, with its SHA-256, size and first custody entry", body = Evidence),
        (status = 204, description = "`dry_run=true`: the upload would be accepted; nothing was read or stored"),
        (status = 413, description = "Larger than the server's evidence limit", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)
    )
)]
pub async fn upload(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiPath(key): ApiPath<String>,
    ApiQuery(query): ApiQuery<EvidenceUploadQuery>,
    body: Body,
) -> Result<Response, ApiError> {
    let r = incident_ref(&key)?;
    let meta = NewEvidence {
        file_name: query.file_name,
        description: query.description,
    };
    if query.dry_run {
        // What the store checks before it reads a byte: the name, the description, the
        // incident (the token and its role were checked on the way in).
        vigil_core::evidence::check_file_name(&meta.file_name)
            .and_then(|_| vigil_core::evidence::check_description(meta.description.as_deref()))
            .map_err(|e| store_error(e.into()))?;
        state.store.get_incident(&r).await.map_err(store_error)?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let limit = state.settings.evidence_body_limit;
    let mut reader = BodyReader::new(body, limit);
    // The store refuses an unknown incident or a bad file name before reading the body.
    let stored = state
        .store
        .add_evidence(&who.name, &r, meta, &mut reader)
        .await;
    let evidence = match (stored, reader.cut) {
        (Ok(evidence), _) => evidence,
        (Err(_), Some(Cut::TooLarge)) => {
            return Err(too_large(usize::try_from(limit).unwrap_or(usize::MAX)));
        }
        (Err(_), Some(Cut::Interrupted)) => {
            return Err(ApiError::invalid_field(
                "body",
                "the upload was interrupted before the whole file arrived; upload it again",
            ));
        }
        (Err(err), None) => return Err(store_error(err)),
    };
    let size = evidence.size;
    tracing::info!(incident = %key, evidence = %evidence.id, size, actor = %who.name, "evidence stored");
    Ok((StatusCode::CREATED, Json(evidence)).into_response())
}

/// An incident's evidence.
#[utoipa::path(
    get, path = "/incidents/{key}/evidence", operation_id = "list_evidence", tag = "evidence",
    params(("key" = String, Path, description = "Incident key (INC-42) or id")),
    responses((status = 200, body = Vec<Evidence>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn list(
    State(state): State<AppState>,
    _who: Principal,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<Vec<Evidence>>, ApiError> {
    let r = incident_ref(&key)?;
    Ok(Json(
        state
            .store
            .get_incident(&r)
            .await
            .map_err(store_error)?
            .evidence,
    ))
}

/// One evidence item with its chain of custody.
#[utoipa::path(
    get, path = "/incidents/{key}/evidence/{id}", operation_id = "get_evidence", tag = "evidence",
    params(("key" = String, Path, description = "Incident key (INC-42) or id"), ("id" = String, Path, description = "Evidence id")),
    responses((status = 200, body = Evidence), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn get(
    State(state): State<AppState>,
    _who: Principal,
    ApiPath((key, id)): ApiPath<(String, String)>,
) -> Result<Json<Evidence>, ApiError> {
    let r = incident_ref(&key)?;
    let id = parse_uuid("id", &id)?;
    Ok(Json(
        state
            .store
            .get_evidence(&r, id)
            .await
            .map_err(store_error)?,
    ))
}

/// Download the file. Its SHA-256 is re-computed first; a mismatch is `evidence_corrupted`
/// and no byte is sent. The verified hash is in the `X-Vigil-Sha256` header. Each download is
/// recorded before a byte is sent, as a custody entry "downloaded" by the caller with its
/// audit entry (`evidence.download`); a download that cannot be recorded is refused. A `HEAD`
/// gets the same headers from the record (the recorded SHA-256, the size, the name) without
/// the file being read, verified or recorded as downloaded: no copy leaves. The name is in
/// `Content-Disposition` as `filename*=UTF-8''…` (RFC 6266) with an ASCII `filename=`
/// fallback.
#[utoipa::path(
    get, path = "/incidents/{key}/evidence/{id}/content", operation_id = "get_evidence_content", tag = "evidence",
    params(("key" = String, Path, description = "Incident key (INC-42) or id"), ("id" = String, Path, description = "Evidence id")),
    responses(
        (status = 200, description = "The verified bytes", content_type = "application/octet-stream", body = inline(FileBytes),
         headers(("X-Vigil-Sha256" = String, description = "SHA-256 of the body, hex"))),
        (status = 500, description = "The stored file no longer matches its SHA-256 (`evidence_corrupted`)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)
    )
)]
pub async fn content(
    State(state): State<AppState>,
    method: Method,
    who: Principal,
    ApiPath((key, id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let r = incident_ref(&key)?;
    let id = parse_uuid("id", &id)?;
    if method == Method::HEAD {
        let evidence = state
            .store
            .get_evidence(&r, id)
            .await
            .map_err(store_error)?;
        let mut resp = ().into_response();
        content_headers(resp.headers_mut(), &evidence);
        return Ok(resp);
    }
    let download = state
        .store
        .open_evidence(&who.name, &r, id)
        .await
        .map_err(store_error)?;
    let evidence = download.evidence;
    let chunks = futures_util::stream::unfold(download.file, |mut file| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, io::Error>(Bytes::from(buf)), file))
            }
            Err(err) => Some((Err(err), file)),
        }
    });
    let mut resp = Body::from_stream(chunks).into_response();
    content_headers(resp.headers_mut(), &evidence);
    Ok(resp)
}

/// The headers of an evidence file's content: its type, size, SHA-256 and name.
fn content_headers(headers: &mut HeaderMap, evidence: &Evidence) {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(evidence.size));
    if let Ok(v) = HeaderValue::from_str(evidence.sha256.as_str()) {
        headers.insert(vigil_api::SHA256_HEADER, v);
    }
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&evidence.file_name)) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
}

/// `attachment` with the file's name (RFC 6266): `filename="…"` in ASCII, what is not
/// printable ASCII, a quote or a backslash made `_`, for the clients that read only that; and,
/// when that is not the name, `filename*=UTF-8''…` with the name percent-encoded (RFC 8187).
fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    if ascii == name {
        return format!("attachment; filename=\"{ascii}\"");
    }
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        // RFC 8187's attr-char: sent as they are; every other byte as %XX.
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn a_name_beyond_ascii_is_sent_encoded_with_an_ascii_fallback() {
        assert_eq!(
            content_disposition("mail.eml"),
            "attachment; filename=\"mail.eml\""
        );
        assert_eq!(
            content_disposition("ünï©ødé-名前.txt"),
            "attachment; filename=\"_n___d_-__.txt\"; filename*=UTF-8''%C3%BCn%C3%AF%C2%A9%C3%B8d%C3%A9-%E5%90%8D%E5%89%8D.txt"
        );
        assert_eq!(
            content_disposition("a \"b\" c%.txt"),
            "attachment; filename=\"a _b_ c%.txt\"; filename*=UTF-8''a%20%22b%22%20c%25.txt"
        );
    }
}

/// Record who handled the evidence and why.
#[utoipa::path(
    post, path = "/incidents/{key}/evidence/{id}/custody", operation_id = "add_custody_entry", tag = "evidence",
    params(("key" = String, Path, description = "Incident key (INC-42) or id"), ("id" = String, Path, description = "Evidence id")),
    request_body = AddCustody,
    responses((status = 201, body = Evidence), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn custody(
    State(state): State<AppState>,
    Responder(who): Responder,
    ApiPath((key, id)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<AddCustody>,
) -> Result<(StatusCode, Json<Evidence>), ApiError> {
    let r = incident_ref(&key)?;
    let id = parse_uuid("id", &id)?;
    let ev = state
        .store
        .add_custody(&who.name, &r, id, &req.action, &req.reason)
        .await
        .map_err(store_error)?;
    Ok((StatusCode::CREATED, Json(ev)))
}
