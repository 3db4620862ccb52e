//! Evidence: uploads streamed to a temporary file under the data directory with a size cap, then
//! handed to the store (which hashes and files it in one transaction); downloads re-verified
//! against the recorded SHA-256 before a byte is sent; chain-of-custody entries.

use std::path::PathBuf;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use vigil_api::error::ErrorBody;
use vigil_api::types::*;

use crate::auth::{Principal, Responder};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, too_large};
use crate::state::AppState;
use crate::{incident_ref, parse_uuid, store_error};

/// A temporary upload file removed on drop unless it was handed over: a request cancelled
/// mid-way (client gone, limit hit, store refusal) leaves no file behind.
struct TempUpload {
    path: PathBuf,
}

impl Drop for TempUpload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Removes upload files left behind by a server that was killed mid-upload (a clean stop
/// removes its own). Called once before serving.
pub fn clean_temp_uploads(data_dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(data_dir.join("tmp")) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with("upload-") {
            let path = entry.path();
            match std::fs::remove_file(&path) {
                Ok(()) => tracing::info!(path = %path.display(), "removed an interrupted upload"),
                Err(err) => {
                    tracing::warn!(path = %path.display(), error = %err, "could not remove an interrupted upload")
                }
            }
        }
    }
}

/// Upload a file as evidence: the raw request body is the file.
#[utoipa::path(
    post, path = "/incidents/{key}/evidence", tag = "evidence",
    params(("key" = String, Path, description = "Incident key (INC-42) or id"), EvidenceUploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses(
        (status = 201, description = "Stored, with its SHA-256, size and first custody entry", body = Evidence),
        (status = 413, description = "Larger than the server's evidence limit", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)
    )
)]
pub async fn upload(
    State(state): State<AppState>,
    Responder(who): Responder,
    Path(key): Path<String>,
    ApiQuery(query): ApiQuery<EvidenceUploadQuery>,
    body: Body,
) -> Result<(StatusCode, Json<Evidence>), ApiError> {
    let r = incident_ref(&key)?;
    // Fail before reading the body when the incident does not exist.
    state.store.get_incident(&r).await.map_err(store_error)?;
    let limit = state.settings.evidence_body_limit;
    let tmp_dir = state.settings.data_dir.join("tmp");
    tokio::fs::create_dir_all(&tmp_dir)
        .await
        .map_err(ApiError::internal)?;
    let temp = TempUpload {
        path: tmp_dir.join(format!("upload-{}", uuid::Uuid::new_v4())),
    };
    let mut file = tokio::fs::File::create(&temp.path)
        .await
        .map_err(ApiError::internal)?;
    let mut stream = body.into_data_stream();
    let mut size: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|err| {
            tracing::debug!(error = %err, "evidence upload interrupted");
            ApiError::invalid_field(
                "body",
                "the upload was interrupted before the whole file arrived; upload it again",
            )
        })?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(too_large(usize::try_from(limit).unwrap_or(usize::MAX)));
        }
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    file.sync_all().await.map_err(ApiError::internal)?;
    drop(file);
    let evidence = state
        .store
        .add_evidence(
            &r,
            &who.name,
            &query.name,
            query.description.as_deref(),
            &temp.path,
        )
        .await
        .map_err(store_error)?;
    tracing::info!(incident = %key, evidence = %evidence.id, size, actor = %who.name, "evidence stored");
    Ok((StatusCode::CREATED, Json(evidence)))
}

/// An incident's evidence.
#[utoipa::path(
    get, path = "/incidents/{key}/evidence", tag = "evidence",
    params(("key" = String, Path, description = "Incident key (INC-42) or id")),
    responses((status = 200, body = Vec<Evidence>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn list(
    State(state): State<AppState>,
    _who: Principal,
    Path(key): Path<String>,
) -> Result<Json<Vec<Evidence>>, ApiError> {
    let r = incident_ref(&key)?;
    Ok(Json(
        state.store.list_evidence(&r).await.map_err(store_error)?,
    ))
}

/// One evidence item with its chain of custody.
#[utoipa::path(
    get, path = "/incidents/{key}/evidence/{id}", tag = "evidence",
    params(("key" = String, Path, description = "Incident key (INC-42) or id"), ("id" = String, Path, description = "Evidence id")),
    responses((status = 200, body = Evidence), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn get(
    State(state): State<AppState>,
    _who: Principal,
    Path((key, id)): Path<(String, String)>,
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
/// and no byte is sent. The verified hash is in the `X-Vigil-Sha256` header.
#[utoipa::path(
    get, path = "/incidents/{key}/evidence/{id}/content", tag = "evidence",
    params(("key" = String, Path, description = "Incident key (INC-42) or id"), ("id" = String, Path, description = "Evidence id")),
    responses(
        (status = 200, description = "The verified bytes", content_type = "application/octet-stream", body = Vec<u8>,
         headers(("X-Vigil-Sha256" = String, description = "SHA-256 of the body, hex"))),
        (status = 500, description = "The stored file no longer matches its SHA-256 (`evidence_corrupted`)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)
    )
)]
pub async fn content(
    State(state): State<AppState>,
    _who: Principal,
    Path((key, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let r = incident_ref(&key)?;
    let id = parse_uuid("id", &id)?;
    let (evidence, bytes) = state
        .store
        .read_evidence(&r, id)
        .await
        .map_err(store_error)?;
    let sha = evidence.sha256.to_string();
    let mut resp = Body::from(bytes).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&sha) {
        headers.insert(vigil_api::SHA256_HEADER, v);
    }
    let disposition = format!(
        "attachment; filename=\"{}\"",
        evidence
            .name
            .replace(|c: char| c == '"' || c == '\\' || c.is_control(), "_")
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// Record who handled the evidence and why.
#[utoipa::path(
    post, path = "/incidents/{key}/evidence/{id}/custody", tag = "evidence",
    params(("key" = String, Path, description = "Incident key (INC-42) or id"), ("id" = String, Path, description = "Evidence id")),
    request_body = AddCustody,
    responses((status = 201, body = Evidence), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn custody(
    State(state): State<AppState>,
    Responder(who): Responder,
    Path((key, id)): Path<(String, String)>,
    ApiJson(req): ApiJson<AddCustody>,
) -> Result<(StatusCode, Json<Evidence>), ApiError> {
    let r = incident_ref(&key)?;
    let id = parse_uuid("id", &id)?;
    let ev = state
        .store
        .add_custody(&r, id, &who.name, &req.action, &req.reason)
        .await
        .map_err(store_error)?;
    Ok((StatusCode::CREATED, Json(ev)))
}
