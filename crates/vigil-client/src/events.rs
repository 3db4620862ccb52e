//! Typed calls of the log routes: ingest, search, pivot, storage stats, detections, rules and
//! the incident pivot (bodies in `vigil_api::events`).

use reqwest::Method;
use vigil_api::events::*;
use vigil_api::types::Page;

use crate::endpoints::serde_urlencoded_string;
use crate::{Client, ClientError, enc};

/// The media type of a JSON-lines ingest body.
pub const NDJSON: &str = "application/x-ndjson";

/// The header the server sets on the answer to a batch it had stored before under the same
/// idempotency key.
const REPLAYED: &str = "idempotent-replayed";

/// The answer to a batch sent under an idempotency key ([`Client::ingest_once`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedIngest {
    /// The server's answer: for a batch it had stored before, the answer it gave then.
    pub answer: IngestResponse,
    /// Whether the server had stored this batch before (`Idempotent-Replayed: true`): the
    /// answer is the one it recorded then, and nothing was stored now.
    pub replayed: bool,
}

impl Client {
    /// `POST /events?service=&host=&tenant=` with a body of JSON lines
    /// ([`NDJSON`]) or a JSON array (`application/json`). Every event counted in the answer
    /// is durable; the rejected ones are listed with their line (or index) and reason.
    pub async fn ingest(
        &self,
        query: &IngestQuery,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<IngestResponse, ClientError> {
        let qs = serde_urlencoded_string(query)?;
        let path = format!("/events?{qs}");
        let resp = self
            .send_raw(Method::POST, &path, content_type, body)
            .await?;
        self.decode(&self.url(&path), resp).await
    }

    /// [`Client::ingest`] under an idempotency key naming the batch: sent again with the same
    /// key (its answer was lost, or an earlier run sent it), the batch is answered as the first
    /// time and not stored twice, and the answer says so ([`KeyedIngest::replayed`]).
    pub async fn ingest_once(
        &self,
        query: &IngestQuery,
        body: bytes::Bytes,
        content_type: &str,
        key: &str,
    ) -> Result<KeyedIngest, ClientError> {
        let qs = serde_urlencoded_string(query)?;
        let path = format!("/events?{qs}");
        let (url, req) = self.request(Method::POST, &path);
        let req = req
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header("Idempotency-Key", key)
            .body(body);
        let resp = self.send(&url, req).await?;
        let replayed = resp
            .headers()
            .get(REPLAYED)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
        let answer = self.decode(&url, resp).await?;
        Ok(KeyedIngest { answer, replayed })
    }

    /// `GET /events/search`: one page of events, newest first, or an aggregation when the
    /// query ends with `| count by FIELD`, `| top N FIELD` or `| rare N FIELD`.
    pub async fn search_events(&self, query: &SearchQuery) -> Result<SearchResponse, ClientError> {
        let qs = serde_urlencoded_string(query)?;
        self.get_json(&format!("/events/search?{qs}")).await
    }

    /// `GET /events/pivot`: every event carrying a value, counted per service, host and tenant.
    pub async fn pivot_events(&self, query: &PivotQuery) -> Result<PivotResponse, ClientError> {
        let qs = serde_urlencoded_string(query)?;
        self.get_json(&format!("/events/pivot?{qs}")).await
    }

    /// `GET /events/stats`: what the log store holds per service.
    pub async fn storage_stats(&self) -> Result<StorageStats, ClientError> {
        self.get_json("/events/stats").await
    }

    /// `POST /incidents/{key}/pivot`: where the incident's indicators appear in the logs, and
    /// the services and tenants to add to its scope (added when `accept`).
    pub async fn pivot_incident(
        &self,
        key: &str,
        req: &IncidentPivotRequest,
    ) -> Result<IncidentPivotResponse, ClientError> {
        self.send_json(Method::POST, &format!("/incidents/{}/pivot", enc(key)), req)
            .await
    }

    /// `GET /detections/{id}`: one detection with the event it matched.
    pub async fn get_detection(&self, id: i64) -> Result<DetectionDetail, ClientError> {
        self.get_json(&format!("/detections/{id}")).await
    }

    /// `GET /detections`: Sigma rule matches on stored events, newest first.
    pub async fn list_detections(
        &self,
        query: &DetectionQuery,
    ) -> Result<Page<Detection>, ClientError> {
        let qs = serde_urlencoded_string(query)?;
        self.get_json(&format!("/detections?{qs}")).await
    }

    /// `GET /rules`: the rule set the server detects with.
    pub async fn rules_status(&self) -> Result<RulesStatus, ClientError> {
        self.get_json("/rules").await
    }

    /// `POST /rules/preview`: runs rules not loaded yet over the stored events.
    pub async fn preview_rules(
        &self,
        request: &RulePreviewRequest,
    ) -> Result<RulePreview, ClientError> {
        self.send_json(Method::POST, "/rules/preview", request)
            .await
    }

    /// `POST /rules/reload`: reads the rule directories again and swaps the set in whole.
    pub async fn reload_rules(&self) -> Result<RulesStatus, ClientError> {
        let (url, req) = self.request(Method::POST, "/rules/reload");
        let resp = self.send(&url, req).await?;
        self.decode(&url, resp).await
    }
}
