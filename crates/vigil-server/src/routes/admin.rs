//! Admin routes: the audit trail (paged, and its verification) and API tokens.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use vigil_api::error::ErrorBody;
use vigil_api::types::*;

use crate::auth::Admin;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use crate::{incident_ref, parse_uuid, store_error};
use vigil_store::AuditFilter;

/// The audit trail, oldest first.
#[utoipa::path(
    get, path = "/audit", operation_id = "list_audit_entries", tag = "admin",
    params(AuditQuery),
    responses(
        (status = 200, body = Page<AuditEntry>),
        (status = 400, description = "A query parameter is malformed: `incident` is not an incident key like INC-42 or an incident id, or `limit` or `offset` is not a whole number (`field` names it)", body = ErrorBody),
        (status = 404, description = "No incident has the key or id `incident` names", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)
    )
)]
pub async fn audit(
    State(state): State<AppState>,
    Admin(_who): Admin,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    let incident_id = match query.incident.as_deref() {
        Some(raw) => {
            let r = incident_ref(raw).map_err(|_| {
                ApiError::invalid_field(
                    "incident",
                    format!("{raw:?} is not an incident key like INC-42 or an incident id"),
                )
            })?;
            Some(state.store.get_incident(&r).await.map_err(store_error)?.id)
        }
        None => None,
    };
    let filter = AuditFilter {
        incident_id,
        limit: query.limit.unwrap_or(0),
        offset: query.offset.unwrap_or(0),
    };
    Ok(Json(
        state.store.list_audit(&filter).await.map_err(store_error)?,
    ))
}

/// Walk the hash chain and compare every token, organisation document version, incident and
/// alert people acted on with the state its latest audit entry recorded, then re-hash every
/// stored evidence file against the SHA-256 recorded for it; report the first broken link or
/// the first record changed outside Vigil, and each evidence item whose file is missing or
/// altered. Reading every evidence file takes as long as reading the evidence folder.
#[utoipa::path(
    get, path = "/audit/verify", operation_id = "verify_audit_chain", tag = "admin",
    responses((status = 200, body = AuditVerification), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn verify(
    State(state): State<AppState>,
    Admin(_who): Admin,
) -> Result<Json<AuditVerification>, ApiError> {
    let result = state.store.verify_audit().await.map_err(store_error)?;
    if let Err(b) = &result {
        tracing::error!(seq = b.seq, problem = %b.problem, "audit verification failed");
    }
    let evidence = state
        .store
        .verify_evidence(&|_, _| {})
        .await
        .map_err(store_error)?;
    for problem in &evidence.problems {
        tracing::error!(
            incident = %problem.incident,
            evidence = %problem.evidence_id,
            problem = %problem,
            "evidence verification failed"
        );
    }
    Ok(Json(AuditVerification::from_checks(result, evidence)))
}

/// Create a token; its secret is in this response only.
#[utoipa::path(
    post, path = "/tokens", operation_id = "create_token", tag = "admin",
    request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, description = "An active token already has this name", body = ErrorBody))
)]
pub async fn create_token(
    State(state): State<AppState>,
    Admin(who): Admin,
    ApiJson(req): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let scoped = req.service.is_some() || req.tenant.is_some();
    let created = match req.role {
        Role::Ingest => state.store.create_ingest_token(
            &who.name,
            &req.name,
            req.service.as_deref(),
            req.tenant.as_deref(),
        ),
        _ if scoped => {
            let field = if req.service.is_some() {
                "service"
            } else {
                "tenant"
            };
            return Err(ApiError::invalid_field(
                field,
                format!("`{field}` binds only ingest tokens; use role `ingest` or leave it out"),
            ));
        }
        role => state.store.create_token(&who.name, &req.name, role),
    }
    .await
    .map_err(store_error)?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// List tokens (never their secrets).
#[utoipa::path(
    get, path = "/tokens", operation_id = "list_tokens", tag = "admin",
    responses((status = 200, body = Vec<TokenInfo>), (status = 403, body = ErrorBody))
)]
pub async fn list_tokens(
    State(state): State<AppState>,
    Admin(_who): Admin,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    Ok(Json(state.store.list_tokens().await.map_err(store_error)?))
}

/// Revoke a token: it stops working at once; its record stays, with the revocation time.
#[utoipa::path(
    delete, path = "/tokens/{id}", operation_id = "revoke_token", tag = "admin",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 200, body = TokenInfo), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody))
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    Admin(who): Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TokenInfo>, ApiError> {
    let id = parse_uuid("id", &id)?;
    Ok(Json(
        state
            .store
            .revoke_token(&who.name, id)
            .await
            .map_err(store_error)?,
    ))
}

/// The bytes of a backup archive, for the document.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
struct ArchiveBytes(Vec<u8>);

/// A backup of the whole server, taken while it runs: the database, evidence, the log store
/// (index and journal), `link.key` and the state files, as one tar.gz streamed as it is
/// written, whose last member `vigil-backup.json` names every other with its size and SHA-256.
/// Consistent at one moment: every event acknowledged before the request is in it, and the
/// database names no event it lacks (see ARCHITECTURE.md). Writers are not paused. The
/// backup is recorded in the audit trail (`backup.take`, by the caller). The archive holds
/// secrets (token hashes, `link.key`): keep it owner-only. A backup that fails after the
/// first byte ends the connection without the archive's end, which `vigil admin restore`
/// refuses. Restore it with `vigil admin restore --data DIR FILE`, the server stopped.
#[utoipa::path(
    get, path = "/admin/backup", operation_id = "take_backup", tag = "admin",
    responses(
        (status = 200, description = "The archive (tar.gz)", content_type = "application/gzip", body = inline(ArchiveBytes)),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 500, description = "The backup could not be begun (the message says why)", body = ErrorBody),
        (status = 503, description = "No room in the data directory for the database copy (`unavailable`; VACUUM INTO needs free space the size of vigil.db)", body = ErrorBody)
    )
)]
pub async fn backup(
    State(state): State<AppState>,
    Admin(who): Admin,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    tracing::info!(by = %who.name, "backup begun");
    let body = crate::backup::take(&state, &who.name).await?;
    let name = format!(
        "attachment; filename=\"vigil-backup-{}.tar.gz\"",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    );
    let mut resp = body.into_response();
    let headers = resp.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/gzip"),
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&name) {
        headers.insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
