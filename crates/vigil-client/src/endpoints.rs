//! Typed calls, one per API route.

use reqwest::Method;
use vigil_api::types::*;

use crate::idle::{Progress, file_body};
use crate::{Client, ClientError, enc, next_chunk};

impl Client {
    /// `GET /health`.
    pub async fn health(&self) -> Result<vigil_api::HealthResponse, ClientError> {
        self.get_json("/health").await
    }

    /// `GET /metrics`: the server's metrics as (name with its labels, value), in the order
    /// the server gives them (the Prometheus text format; comment lines left out).
    pub async fn metrics(&self) -> Result<Vec<(String, f64)>, ClientError> {
        let (url, req) = self.request(Method::GET, "/metrics");
        let resp = self.send(&url, req).await?;
        let bytes = self.body(&url, resp).await?;
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|line| {
                let parsed = line
                    .rsplit_once(' ')
                    .and_then(|(name, value)| Some((name.to_owned(), value.parse().ok()?)));
                parsed.ok_or_else(|| ClientError::Decode {
                    url: url.clone(),
                    detail: format!("not a metric line: {line}"),
                })
            })
            .collect()
    }

    /// `POST /incidents`.
    pub async fn create_incident(&self, req: &NewIncident) -> Result<Incident, ClientError> {
        self.send_json(Method::POST, "/incidents", req).await
    }

    /// `GET /incidents` with filters.
    pub async fn list_incidents(
        &self,
        query: &IncidentQuery,
    ) -> Result<Page<Incident>, ClientError> {
        let qs = serde_urlencoded_string(query)?;
        self.get_json(&format!("/incidents?{qs}")).await
    }

    /// `GET /incidents/{key}`.
    pub async fn get_incident(&self, key: &str) -> Result<Incident, ClientError> {
        self.get_json(&format!("/incidents/{}", enc(key))).await
    }

    /// `PATCH /incidents/{key}`.
    pub async fn update_incident(
        &self,
        key: &str,
        req: &IncidentPatch,
    ) -> Result<Incident, ClientError> {
        self.send_json(Method::PATCH, &format!("/incidents/{}", enc(key)), req)
            .await
    }

    /// `POST /incidents/{key}/severity`.
    pub async fn change_severity(
        &self,
        key: &str,
        req: &ChangeSeverity,
    ) -> Result<Incident, ClientError> {
        self.send_json(
            Method::POST,
            &format!("/incidents/{}/severity", enc(key)),
            req,
        )
        .await
    }

    /// `POST /incidents/{key}/phase`.
    pub async fn change_phase(
        &self,
        key: &str,
        req: &ChangePhase,
    ) -> Result<Incident, ClientError> {
        self.send_json(Method::POST, &format!("/incidents/{}/phase", enc(key)), req)
            .await
    }

    /// `POST /incidents/{key}/timestamps`.
    pub async fn correct_timestamp(
        &self,
        key: &str,
        req: &CorrectTimestamp,
    ) -> Result<Incident, ClientError> {
        self.send_json(
            Method::POST,
            &format!("/incidents/{}/timestamps", enc(key)),
            req,
        )
        .await
    }

    /// `POST /incidents/{key}/post-mortem`.
    pub async fn record_post_mortem(
        &self,
        key: &str,
        req: &NewPostMortem,
    ) -> Result<Incident, ClientError> {
        self.send_json(
            Method::POST,
            &format!("/incidents/{}/post-mortem", enc(key)),
            req,
        )
        .await
    }

    /// `POST /incidents/{key}/findings`.
    pub async fn create_finding(
        &self,
        key: &str,
        req: &NewFinding,
    ) -> Result<Finding, ClientError> {
        self.send_json(
            Method::POST,
            &format!("/incidents/{}/findings", enc(key)),
            req,
        )
        .await
    }

    /// `GET /findings` with filters.
    pub async fn list_findings(&self, query: &FindingQuery) -> Result<Page<Finding>, ClientError> {
        let qs = serde_urlencoded_string(query)?;
        self.get_json(&format!("/findings?{qs}")).await
    }

    /// `GET /findings/{key}`.
    pub async fn get_finding(&self, key: &str) -> Result<Finding, ClientError> {
        self.get_json(&format!("/findings/{}", enc(key))).await
    }

    /// `PATCH /findings/{key}`.
    pub async fn update_finding(
        &self,
        key: &str,
        req: &FindingUpdate,
    ) -> Result<Finding, ClientError> {
        self.send_json(Method::PATCH, &format!("/findings/{}", enc(key)), req)
            .await
    }

    /// `POST /incidents/{key}/indicators`: the indicator on the incident (an existing equal
    /// one instead of a duplicate).
    pub async fn add_indicator(
        &self,
        key: &str,
        req: &NewIndicator,
    ) -> Result<Indicator, ClientError> {
        self.send_json(
            Method::POST,
            &format!("/incidents/{}/indicators", enc(key)),
            req,
        )
        .await
    }

    /// `DELETE /incidents/{key}/indicators/{id}?reason=…`: the indicator, marked removed.
    pub async fn remove_indicator(
        &self,
        key: &str,
        id: &str,
        reason: &str,
    ) -> Result<Indicator, ClientError> {
        let path = format!(
            "/incidents/{}/indicators/{}?reason={}",
            enc(key),
            enc(id),
            enc(reason)
        );
        let (url, req) = self.request(Method::DELETE, &path);
        let resp = self.send(&url, req).await?;
        self.decode(&url, resp).await
    }

    /// `GET /indicators?value=…`: a page of hits and how many there are in all.
    pub async fn search_indicators(
        &self,
        query: &IndicatorQuery,
    ) -> Result<Page<IndicatorHit>, ClientError> {
        let qs = serde_urlencoded_string(query)?;
        let (url, req) = self.request(Method::GET, &format!("/indicators?{qs}"));
        let resp = self.send(&url, req).await?;
        // A server from before the header sent every hit: the page is then the whole.
        let total = resp
            .headers()
            .get(vigil_api::TOTAL_COUNT_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let items: Vec<IndicatorHit> = self.decode(&url, resp).await?;
        Ok(Page {
            total: total.unwrap_or(items.len() as u64),
            items,
        })
    }

    /// `POST /incidents/{key}/links`.
    pub async fn link(&self, key: &str, req: &CreateLink) -> Result<IncidentLink, ClientError> {
        self.send_json(Method::POST, &format!("/incidents/{}/links", enc(key)), req)
            .await
    }

    /// `DELETE /incidents/{key}/links/{other}`.
    pub async fn unlink(&self, key: &str, other: &str) -> Result<(), ClientError> {
        self.delete(&format!("/incidents/{}/links/{}", enc(key), enc(other)))
            .await
    }

    /// `GET /incidents/{key}/related`: every link and a page of suggestions.
    pub async fn related(&self, key: &str, query: &RelatedQuery) -> Result<Related, ClientError> {
        let qs = serde_urlencoded_string(query)?;
        self.get_json(&format!("/incidents/{}/related?{qs}", enc(key)))
            .await
    }

    /// `POST /incidents/{key}/actions`.
    pub async fn add_action(&self, key: &str, req: &AddAction) -> Result<ActionEntry, ClientError> {
        self.send_json(
            Method::POST,
            &format!("/incidents/{}/actions", enc(key)),
            req,
        )
        .await
    }

    /// `GET /incidents/{key}/actions`, oldest first.
    pub async fn list_actions(
        &self,
        key: &str,
        query: &ActionQuery,
    ) -> Result<Page<ActionEntry>, ClientError> {
        let qs = serde_urlencoded_string(query)?;
        self.get_json(&format!("/incidents/{}/actions?{qs}", enc(key)))
            .await
    }

    /// `POST /incidents/{key}/evidence` with the bytes as the body.
    pub async fn upload_evidence(
        &self,
        key: &str,
        query: &EvidenceUploadQuery,
        body: impl Into<reqwest::Body>,
    ) -> Result<Evidence, ClientError> {
        self.upload_evidence_moving(key, query, body.into(), &Progress::new())
            .await
    }

    /// [`Client::upload_evidence`] of a body that records its movement on `progress`.
    async fn upload_evidence_moving(
        &self,
        key: &str,
        query: &EvidenceUploadQuery,
        body: reqwest::Body,
        progress: &Progress,
    ) -> Result<Evidence, ClientError> {
        let qs = serde_urlencoded_string(query)?;
        let path = format!("/incidents/{}/evidence?{qs}", enc(key));
        let (url, req) = self.request(Method::POST, &path);
        let req = req
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        let resp = self.send_moving(&url, req, progress).await?;
        self.decode(&url, resp).await
    }

    /// `POST /incidents/{key}/evidence?dry_run=true`: whether the server would take this upload
    /// (token, role, incident, file name, description), without sending a file; `Ok` when it
    /// would, otherwise the error the upload would get.
    pub async fn check_evidence_upload(
        &self,
        key: &str,
        query: &EvidenceUploadQuery,
    ) -> Result<(), ClientError> {
        let query = EvidenceUploadQuery {
            dry_run: true,
            ..query.clone()
        };
        let qs = serde_urlencoded_string(&query)?;
        let path = format!("/incidents/{}/evidence?{qs}", enc(key));
        let (url, req) = self.request(Method::POST, &path);
        self.send(&url, req).await.map(drop)
    }

    /// Uploads a local file as evidence, streaming it. What can be refused without the file is
    /// refused before it is sent — a file name or description the server would refuse (checked
    /// with the server's own rules), a file over the limit the server publishes (`GET
    /// /health`) — and when the upload breaks off all the same, the server is asked for its
    /// verdict without the file ([`Client::check_evidence_upload`]): a server refusing an
    /// upload (a viewer's token, an unknown incident, a file over the limit) answers before
    /// reading the body and closes the connection while the file is still going out, which
    /// the sender may see only as a broken connection, the answer lost.
    pub async fn upload_evidence_file(
        &self,
        key: &str,
        query: &EvidenceUploadQuery,
        file: &std::path::Path,
    ) -> Result<Evidence, ClientError> {
        vigil_core::evidence::check_file_name(&query.file_name)
            .and_then(|_| vigil_core::evidence::check_description(query.description.as_deref()))
            .map_err(ClientError::Invalid)?;
        let io = |source| ClientError::Io {
            path: file.display().to_string(),
            source,
        };
        let not_a_file = |kind: std::fs::FileType| {
            #[cfg(unix)]
            let is_socket = std::os::unix::fs::FileTypeExt::is_socket(&kind);
            #[cfg(not(unix))]
            let is_socket = false;
            let what = if kind.is_dir() {
                "a directory"
            } else if is_socket {
                "a socket"
            } else {
                // Regular files, and devices and pipes, whose bytes can be streamed.
                return None;
            };
            Some(ClientError::NotAFile {
                path: file.display().to_string(),
                what,
            })
        };
        // A socket cannot be opened (ENXIO): said by what it is, not by the open's error.
        if let Some(err) = tokio::fs::metadata(file)
            .await
            .ok()
            .and_then(|m| not_a_file(m.file_type()))
        {
            return Err(err);
        }
        let handle = tokio::fs::File::open(file).await.map_err(io)?;
        let metadata = handle.metadata().await.map_err(io)?;
        // Opening a directory succeeds; reading it fails midway, which reads as a broken
        // connection.
        if let Some(err) = not_a_file(metadata.file_type()) {
            return Err(err);
        }
        let size = metadata.len();
        let too_large = |limit: Option<u64>| {
            limit
                .filter(|limit| size > *limit)
                .map(|limit| ClientError::EvidenceTooLarge {
                    path: file.display().to_string(),
                    size,
                    limit,
                })
        };
        // A server too old to publish its limit, or a health check that fails, leaves the
        // upload to find out.
        let limit = |health: Result<vigil_api::HealthResponse, ClientError>| {
            health.ok().and_then(|h| h.max_evidence_bytes)
        };
        if let Some(err) = too_large(limit(self.health().await)) {
            return Err(err);
        }
        let progress = Progress::new();
        match self
            .upload_evidence_moving(key, query, file_body(handle, progress.clone()), &progress)
            .await
        {
            // The server may have refused the upload before reading it, its answer lost with
            // the connection it closed; or the limit was lowered since (a restart). Ask before
            // blaming the network: an answer that is not about `dry_run` itself (a server that
            // does not know it) is the upload's.
            Err(err @ ClientError::Transport { .. }) => {
                if let Some(larger) = too_large(limit(self.health().await)) {
                    return Err(larger);
                }
                match self.check_evidence_upload(key, query).await {
                    Err(
                        verdict @ ClientError::Api {
                            status: 400..=499, ..
                        },
                    ) if !matches!(&verdict, ClientError::Api { field: Some(f), .. } if f == "dry_run") => {
                        Err(verdict)
                    }
                    _ => Err(err),
                }
            }
            other => other,
        }
    }

    /// `GET /incidents/{key}/evidence`.
    pub async fn list_evidence(&self, key: &str) -> Result<Vec<Evidence>, ClientError> {
        self.get_json(&format!("/incidents/{}/evidence", enc(key)))
            .await
    }

    /// `GET /incidents/{key}/evidence/{id}`.
    pub async fn get_evidence(&self, key: &str, id: &str) -> Result<Evidence, ClientError> {
        self.get_json(&format!("/incidents/{}/evidence/{}", enc(key), enc(id)))
            .await
    }

    /// `GET /incidents/{key}/evidence/{id}/content`: the bytes and the SHA-256 the server sent
    /// in `X-Vigil-Sha256` (the server verified it before sending; check it again on your side).
    /// Held in memory: for large files, [`Client::download_evidence_stream`].
    pub async fn download_evidence(
        &self,
        key: &str,
        id: &str,
    ) -> Result<(bytes::Bytes, String), ClientError> {
        let mut download = self.download_evidence_stream(key, id).await?;
        let mut bytes = Vec::new();
        while let Some(chunk) = download.chunk().await? {
            bytes.extend_from_slice(&chunk);
        }
        Ok((bytes.into(), download.sha256))
    }

    /// `GET /incidents/{key}/evidence/{id}/content` as it arrives, for files too large to hold
    /// in memory: read it with [`EvidenceDownload::chunk`].
    pub async fn download_evidence_stream(
        &self,
        key: &str,
        id: &str,
    ) -> Result<EvidenceDownload, ClientError> {
        let path = format!("/incidents/{}/evidence/{}/content", enc(key), enc(id));
        let (url, req) = self.request(Method::GET, &path);
        let resp = self.send(&url, req).await?;
        let sha256 = resp
            .headers()
            .get(vigil_api::SHA256_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| ClientError::Decode {
                url: url.clone(),
                detail: format!("missing {} header", vigil_api::SHA256_HEADER),
            })?;
        Ok(EvidenceDownload {
            url,
            sha256,
            resp,
            idle: self.idle,
        })
    }

    /// `GET /admin/backup`: the server's backup archive as it is written; read it with
    /// [`Download::chunk`]. A cut archive ends in an error (the server stopped it).
    pub async fn backup_stream(&self) -> Result<Download, ClientError> {
        let (url, req) = self.request(Method::GET, "/admin/backup");
        let resp = self.send(&url, req).await?;
        Ok(Download {
            url,
            resp,
            idle: self.idle,
        })
    }

    /// `POST /incidents/{key}/evidence/{id}/custody`.
    pub async fn add_custody(
        &self,
        key: &str,
        id: &str,
        req: &AddCustody,
    ) -> Result<Evidence, ClientError> {
        self.send_json(
            Method::POST,
            &format!("/incidents/{}/evidence/{}/custody", enc(key), enc(id)),
            req,
        )
        .await
    }

    /// `GET /audit`.
    pub async fn audit(&self, query: &AuditQuery) -> Result<Page<AuditEntry>, ClientError> {
        let qs = serde_urlencoded_string(query)?;
        self.get_json(&format!("/audit?{qs}")).await
    }

    /// `GET /audit/verify`.
    pub async fn verify_audit(&self) -> Result<AuditVerification, ClientError> {
        self.get_json("/audit/verify").await
    }

    /// `POST /tokens`.
    pub async fn create_token(&self, req: &CreateToken) -> Result<CreatedToken, ClientError> {
        self.send_json(Method::POST, "/tokens", req).await
    }

    /// `GET /tokens`.
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, ClientError> {
        self.get_json("/tokens").await
    }

    /// `DELETE /tokens/{id}`: the token's record, with its revocation time.
    pub async fn revoke_token(&self, id: &str) -> Result<TokenInfo, ClientError> {
        let path = format!("/tokens/{}", enc(id));
        let (url, req) = self.request(Method::DELETE, &path);
        let resp = self.send(&url, req).await?;
        self.decode(&url, resp).await
    }

    /// `GET /openapi.json` as raw JSON.
    pub async fn openapi(&self) -> Result<serde_json::Value, ClientError> {
        self.get_json("/openapi.json").await
    }
}

pub(crate) fn serde_urlencoded_string<T: serde::Serialize>(
    value: &T,
) -> Result<String, ClientError> {
    // Query types are flat structs of scalars; serialize through JSON to avoid another encoder.
    let json = serde_json::to_value(value).map_err(|err| ClientError::Decode {
        url: String::new(),
        detail: err.to_string(),
    })?;
    let mut out = form_urlencoded::Serializer::new(String::new());
    if let serde_json::Value::Object(map) = json {
        for (k, v) in map {
            match v {
                serde_json::Value::Null => {}
                serde_json::Value::String(s) => {
                    out.append_pair(&k, &s);
                }
                other => {
                    out.append_pair(&k, &other.to_string());
                }
            }
        }
    }
    Ok(out.finish())
}

/// A body being downloaded as it comes ([`Client::backup_stream`]).
#[derive(Debug)]
pub struct Download {
    url: String,
    resp: reqwest::Response,
    /// The client's idle timeout: a download stops when no byte comes for this long.
    idle: std::time::Duration,
}

impl Download {
    /// The next piece, or `None` at its end; an error once none has come for the client's
    /// idle timeout, or when the server ended the connection before the end.
    pub async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, ClientError> {
        next_chunk(self.idle, &self.url, &mut self.resp).await
    }
}

/// Evidence content being downloaded ([`Client::download_evidence_stream`]).
#[derive(Debug)]
pub struct EvidenceDownload {
    url: String,
    /// The SHA-256 the server sent in `X-Vigil-Sha256`, verified on its side before sending;
    /// check it again over the bytes received.
    pub sha256: String,
    resp: reqwest::Response,
    /// The client's idle timeout: a download stops when no byte comes for this long.
    idle: std::time::Duration,
}

impl EvidenceDownload {
    /// The next piece of the content, or `None` at its end; an error once none has come for
    /// the client's idle timeout.
    pub async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, ClientError> {
        next_chunk(self.idle, &self.url, &mut self.resp).await
    }
}
