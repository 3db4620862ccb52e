//! The central log database over HTTP: ingest (`POST /events`), search with aggregation,
//! pivots across services, storage stats, and the pivot of an incident's indicators that
//! proposes the services and tenants it touches.
//!
//! The log store blocks (fsync, index reads), so every call into it runs on tokio's blocking
//! pool; the API's async workers never wait on the disk.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt};
use vigil_api::error::{ErrorBody, ErrorCode};
use vigil_api::events::*;
use vigil_events::batch::BodyFormat;
use vigil_events::time::LocalZone;
use vigil_ingest::{BatchKey, ClaimedBatch, Envelope, IngestError};
use vigil_logs::{
    Count, Cursor, EventStore, LogError, PivotRequest, SearchRequest, StoredEvent, TimeRange,
};

use crate::auth::{Principal, Sender};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, decode_body, read_body};
use crate::state::AppState;
use crate::{incident_ref, store_error};

/// Default page size of search and pivot.
const DEFAULT_LIMIT: u32 = 100;
/// Largest page of search and pivot.
const MAX_LIMIT: u32 = 1000;

/// Send events. The body is JSON lines (`Content-Type: application/x-ndjson`) or a JSON array
/// (`application/json`; a single object is one event, but for `{"Records":[…]}` or
/// `{"records":[…]}`, AWS CloudTrail's and Azure Monitor's files, whose records are the
/// events), or log lines as written
/// (`text/plain`: syslog, a web server access or error log, an IIS log, a Linux audit log,
/// told from the first line; any other text a `message` per line). Every event is tagged with the service,
/// host and tenant of the query (an ingest token bound to a service or tenant fixes them). The
/// answer comes once the stored events are durable; each refused event is listed with its line
/// (or array index) and reason, and the others are stored.
///
/// With an `Idempotency-Key` header (one per batch, kept 24 hours per sending token), a batch
/// sent again because its answer was lost gets the first answer back (with
/// `Idempotent-Replayed: true`) and is not stored twice. Sent again while the first sending is
/// still being stored — even one whose connection dropped, or one a crash interrupted, which
/// the next start finishes — it is refused (409) until that answer is recorded.
#[utoipa::path(
    post, path = "/events", operation_id = "ingest_events", tag = "events",
    params(
        IngestQuery,
        ("Idempotency-Key" = Option<String>, Header, description = "A key of 1 to 255 visible ASCII characters naming this batch, the same when it is sent again")
    ),
    request_body(
        description = "The events, read by `Content-Type`: `application/x-ndjson` (also `application/ndjson`, `application/jsonl`, `application/x-jsonl`, `application/jsonlines`, `application/x-jsonlines`, `application/json-lines`, `application/json-seq`): one JSON object per line (a line that is an object of records, `{\"Records\":[…]}` or `{\"records\":[…]}`, is its records). `application/json`: a JSON array of objects, an object whose only key, `Records` or `records`, holds an array of objects (AWS CloudTrail's delivery file, Azure Monitor's export: each record an event, numbered by its index as an array's elements are), a single object (one event, pretty-printed or not), or JSON lines — told from the body (`[` first is an array). `text/plain`: log lines as written (syslog, a web server access or error log, an IIS log, a Linux audit log, told from the first line; any other text one `message` per line), whose times without an offset are in `?timezone=` (UTC when absent); `timezone` is refused for other bodies. No `Content-Type`, or any other one (`image/png` included), is read as `application/json` is. gzip-compressed with `Content-Encoding: gzip`.",
        content(
            (String = "application/x-ndjson"),
            (inline(vigil_api::events::EventsJson) = "application/json"),
            (String = "text/plain"),
        )
    ),
    responses(
        (status = 200, description = "Stored (see `rejected` for refused events)", body = IngestResponse,
         headers(("Idempotent-Replayed" = String, description = "`true` when this batch was stored before under its Idempotency-Key: the answer is the one given then, and nothing was stored now"))),
        (status = 400, description = "No service named, or a Content-Encoding other than gzip", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "The token may not send events, or not as this service or tenant", body = ErrorBody),
        (status = 409, description = "A batch with this Idempotency-Key is being stored now (its first sending, even if that connection dropped): send it again in a moment", body = ErrorBody),
        (status = 413, description = "The body, once decompressed, is larger than the server's ingest limit (16 MiB unless `vigil serve --max-ingest-bytes` says otherwise), or holds more than 100,000 events (`payload_too_large`): nothing was stored; send smaller batches", body = ErrorBody),
        (status = 503, description = "The log store is not accepting events (`unavailable`), or could not write this batch to its journal, a full disk say (`not_stored`): nothing of it was stored; send it again once the cause is fixed", body = ErrorBody)
    )
)]
pub async fn ingest(
    State(state): State<AppState>,
    Sender(who): Sender,
    ApiQuery(query): ApiQuery<IngestQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(HeaderMap, Json<IngestResponse>), ApiError> {
    let service = bound("service", who.service.as_deref(), query.service.as_deref())?;
    let tenant = bound("tenant", who.tenant.as_deref(), query.tenant.as_deref())?;
    let Some(service) = service else {
        return Err(ApiError::invalid_field(
            "service",
            "name the sending service: POST /api/v1/events?service=NAME (or use an ingest token bound to one)",
        ));
    };
    let wait_for_search = match query.refresh.as_deref() {
        None => false,
        Some("wait_for") => true,
        Some(other) => {
            return Err(ApiError::invalid_field(
                "refresh",
                format!(
                    "`refresh` is `wait_for` (answer once the events are searchable) or absent, not `{other}`"
                ),
            ));
        }
    };
    let host = query.host.unwrap_or_default();
    for (field, value) in [
        ("service", &service),
        ("host", &host),
        ("tenant", &tenant.clone().unwrap_or_default()),
    ] {
        if value.chars().count() > 200 || value.chars().any(vigil_core::breaks_line) {
            return Err(ApiError::invalid_field(
                field,
                format!("`{field}` has at most 200 characters and no control characters"),
            ));
        }
    }
    let key = idempotency_key(&headers)?;
    let mut format =
        BodyFormat::from_content_type(headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()));
    if let Some(name) = query.timezone.as_deref() {
        let zone = LocalZone::parse(name)
            .map_err(|e| ApiError::invalid_field("timezone", e.to_string()))?;
        let BodyFormat::Text(text_zone) = &mut format else {
            return Err(ApiError::invalid_field(
                "timezone",
                "`timezone` is for text/plain bodies (syslog, web server logs), whose times may carry no offset; a JSON event's time without an offset is UTC",
            ));
        };
        *text_zone = zone;
    }
    let limit = state.settings.ingest_body_limit;
    let body = read_body(body, limit).await?;
    let encoding = headers
        .get(CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("(not text)"));
    let body = decode_body(encoding, body, limit).await?;
    let envelope = Envelope {
        service,
        host,
        tenant: tenant.unwrap_or_default(),
    };
    let claimed = match key {
        Some(key) => {
            match first_sending(&state, who.token_id, key, &envelope, &format, &body).await? {
                Sending::Again(answer) => {
                    let mut replayed = HeaderMap::new();
                    replayed.insert(REPLAYED, HeaderValue::from_static("true"));
                    return Ok((replayed, Json(answer)));
                }
                Sending::First(claimed) => Some(claimed),
            }
        }
        None => None,
    };
    // A keyed batch's claim goes with it: the ingest path holds it until its answer is
    // recorded (with its detections), whether or not this request is still waiting.
    let report = state
        .ingestor
        .ingest_body(body.to_vec(), format, envelope, claimed)
        .await
        .map_err(ingest_error)?;
    let mut answer = IngestResponse {
        stored: report.stored.len() as u64,
        rejected: report
            .rejected
            .into_iter()
            .map(|r| RejectedEvent {
                line: r.line,
                index: r.index,
                reason: r.reason,
            })
            .collect(),
        detections: report.detections as u64,
        alerts: report.alerts as u64,
        correlated_later: report.correlated_later as u64,
        expiring: report.expiring as u64,
        not_searchable: None,
    };
    if wait_for_search {
        // The batch is stored whatever waiting for the index gives: an error here would tell
        // the sender to send it again, and store it twice.
        let refreshed = blocking(state.ingestor.events(), |s| Ok(s.refresh())).await?;
        if let Err(e) = refreshed {
            tracing::warn!(error = %e, "a stored batch asked to wait until searchable; it cannot be now");
            answer.not_searchable = Some(e.to_string());
        }
    }
    Ok((HeaderMap::new(), Json(answer)))
}

/// The header naming a batch so that sending it again stores it once.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The header of an answer given again for a batch sent again.
const REPLAYED: &str = "idempotent-replayed";

/// The `Idempotency-Key` of a request, checked: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or_default();
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid_field(
            "Idempotency-Key",
            "`Idempotency-Key` has 1 to 255 visible ASCII characters (a UUID is a good key), the same each time one batch is sent",
        ));
    }
    Ok(Some(key.to_owned()))
}

/// A batch sent with an idempotency key: sent before (its answer), or for the first time (its
/// key claimed until its answer is recorded).
enum Sending {
    Again(IngestResponse),
    First(ClaimedBatch),
}

/// Whether the batch under `key` was sent before (refused when the key came with another
/// batch, or while its batch is being stored).
async fn first_sending(
    state: &AppState,
    token: uuid::Uuid,
    key: String,
    envelope: &Envelope,
    format: &BodyFormat,
    body: &Bytes,
) -> Result<Sending, ApiError> {
    let being_stored = || {
        ApiError::new(
            ErrorCode::Conflict,
            "a batch with this Idempotency-Key is being stored now; wait for its answer, or send it again in a moment",
        )
    };
    // Hashing up to the body limit takes tens of milliseconds: off the async threads.
    let (envelope, format, body) = (envelope.clone(), format.clone(), body.clone());
    let batch =
        tokio::task::spawn_blocking(move || BatchKey::new(token, key, &envelope, &format, &body))
            .await
            .map_err(ApiError::internal)?;
    // Refused while a batch under the key is being stored (by another request, one whose
    // sender hung up, or the start's recovery of a batch a crash left unanswered).
    let claimed = state.ingestor.claim(batch).ok_or_else(being_stored)?;
    // Stored here before, its answer not recorded (the database refused it): answered now.
    state
        .ingestor
        .answer_unrecorded(&claimed)
        .await
        .map_err(ingest_error)?;
    let batch = claimed.key();
    let known = state
        .store
        .ingest_key(token, &batch.key)
        .await
        .map_err(store_error)?;
    match known {
        None => Ok(Sending::First(claimed)),
        Some(known) if known.fingerprint == batch.fingerprint => Ok(Sending::Again(
            serde_json::from_str(&known.answer).map_err(ApiError::internal)?,
        )),
        Some(_) => Err(ApiError::invalid_field(
            "Idempotency-Key",
            "this Idempotency-Key was sent with another batch (other events, service, host or tenant); give each batch its own key",
        )),
    }
}

/// A service or tenant: the token's binding when it has one (the query may repeat it, never
/// name another), else the query's.
fn bound(
    field: &'static str,
    token: Option<&str>,
    query: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let query = query.map(str::trim).filter(|q| !q.is_empty());
    match (token, query) {
        (Some(t), Some(q)) if t != q => Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "this ingest token may send events only as {field} `{t}`, not `{q}`; leave `{field}` out or use a token for `{q}`"
            ),
        )),
        (Some(t), _) => Ok(Some(t.to_owned())),
        (None, q) => Ok(q.map(str::to_owned)),
    }
}

pub(crate) fn ingest_error(err: IngestError) -> ApiError {
    match err {
        IngestError::Logs(e) => log_error(e),
        IngestError::Detections(e) => store_error(e),
        e @ IngestError::TooManyEvents { .. } => {
            ApiError::new(ErrorCode::PayloadTooLarge, e.to_string())
        }
        other => ApiError::internal(other),
    }
}

pub(crate) fn log_error(err: LogError) -> ApiError {
    match err {
        LogError::Query(e) => ApiError::invalid_field("q", format!("`q`: {e}")),
        LogError::Unsupported(m) => ApiError::invalid_field("q", m),
        // Refused whole, for certain: the sender need not wonder whether it was stored.
        e @ LogError::NotStored { .. } => ApiError::new(ErrorCode::NotStored, e.to_string()),
        e @ LogError::NotSearchable { .. } => ApiError::new(ErrorCode::Unavailable, e.to_string()),
        LogError::Closed(m) => {
            tracing::error!(reason = %m, "log store closed");
            ApiError::new(
                ErrorCode::Unavailable,
                "the log store is not accepting requests (see the server log); retry later or restart Vigil",
            )
        }
        other => ApiError::internal(other),
    }
}

/// Runs a blocking log-store call on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    events: &Arc<dyn EventStore>,
    f: impl FnOnce(&dyn EventStore) -> Result<T, LogError> + Send + 'static,
) -> Result<T, ApiError> {
    let events = Arc::clone(events);
    tokio::task::spawn_blocking(move || f(events.as_ref()))
        .await
        .map_err(ApiError::internal)?
        .map_err(log_error)
}

/// Reads `from`/`to`: RFC 3339, a date, `now-24h`, or a bare duration back from now (`24h`).
pub(crate) fn parse_time(
    field: &'static str,
    text: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ApiError> {
    let t = text.trim();
    // A bare duration (`24h`) reaches back from now, as `now-24h` does.
    let bare_duration = || {
        t.starts_with(|c: char| c.is_ascii_digit())
            .then(|| vigil_query::parse_time(&format!("now-{t}")))
            .flatten()
    };
    let value = vigil_query::parse_time(t).or_else(bare_duration);
    value.map(|v| v.resolve(now)).ok_or_else(|| {
        ApiError::invalid_field(
            field,
            format!("`{field}`: {t:?} is not a time; write 2026-11-30, 2026-11-30T12:00:00Z, now-24h or 24h"),
        )
    })
}

pub(crate) fn time_range(from: Option<&str>, to: Option<&str>) -> Result<TimeRange, ApiError> {
    let now = Utc::now();
    let range = TimeRange {
        from: from.map(|f| parse_time("from", f, now)).transpose()?,
        to: to.map(|t| parse_time("to", t, now)).transpose()?,
    };
    if let (Some(f), Some(t)) = (range.from, range.to)
        && f >= t
    {
        return Err(ApiError::invalid_field("to", "`to` must be after `from`"));
    }
    Ok(range)
}

/// `limit` of a search-like request: 100 when absent, `min` to 1000.
pub(crate) fn limit(value: Option<u32>, min: u32) -> Result<usize, ApiError> {
    let n = value.unwrap_or(DEFAULT_LIMIT);
    if n < min || n > MAX_LIMIT {
        return Err(ApiError::invalid_field(
            "limit",
            format!("`limit` must be between {min} and {MAX_LIMIT}"),
        ));
    }
    Ok(n as usize)
}

/// A stored event as the API answers it: its JSON text passed through as stored, which is as
/// it was sent (a `serde_json::Value` would rewrite its numbers). Text that is not JSON
/// (never stored: the store checks every event) would come back as a JSON string.
pub(crate) fn record(e: StoredEvent) -> EventRecord {
    let event = RawEvent::from_text(e.json).unwrap_or_else(|text| {
        let quoted = serde_json::Value::String(text).to_string();
        RawEvent::from_text(quoted).expect("a JSON string is JSON")
    });
    EventRecord {
        id: e.id,
        time: e.time,
        service: e.service,
        host: e.host,
        tenant: e.tenant,
        event,
    }
}

fn counts(c: Vec<Count>) -> Vec<ValueCount> {
    c.into_iter()
        .map(|c| ValueCount {
            value: c.value,
            count: c.count,
        })
        .collect()
}

/// Search the log store: events newest first with a cursor for the next page, or, when the
/// query ends with `| count by FIELD`, `| top N FIELD` or `| rare N FIELD`, the aggregation.
/// The language is in docs/query.md.
#[utoipa::path(
    get, path = "/events/search", operation_id = "search_events", tag = "events",
    params(SearchQuery),
    responses((status = 200, body = SearchResponse), (status = 400, description = "The query, a time or the limit is invalid (`field` says which)", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn search(
    State(state): State<AppState>,
    _who: Principal,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<SearchResponse>, ApiError> {
    let query =
        vigil_query::parse(&q.q).map_err(|e| ApiError::invalid_field("q", format!("`q`: {e}")))?;
    let range = time_range(q.from.as_deref(), q.to.as_deref())?;
    let limit = limit(q.limit, 1)?;
    let cursor = q
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c).map_err(|e| ApiError::invalid_field("cursor", e.to_string())))
        .transpose()?;
    let events = state.ingestor.events();
    let paths: Vec<String> = query.json_paths().into_iter().map(str::to_owned).collect();
    let dashes = dash_warnings(&query);
    if query.pipe.is_some() {
        let (agg, mut warnings, not_yet_searchable) = blocking(events, move |s| {
            let agg = s.aggregate(&query, range)?;
            Ok((agg, field_warnings(s, &paths)?, s.index_lag()))
        })
        .await?;
        warnings.extend(dashes);
        return Ok(Json(SearchResponse {
            total: agg.total,
            events: Vec::new(),
            next_cursor: None,
            aggregation: Some(AggregationResult {
                field: agg.fields.join(", "),
                fields: agg.fields,
                buckets: agg
                    .buckets
                    .into_iter()
                    .map(|g| GroupCount {
                        value: g.values.join(", "),
                        values: g.values,
                        count: g.count,
                    })
                    .collect(),
                other: agg.other,
                missing: agg.missing,
                unlisted_max: agg.unlisted_max,
            }),
            warnings,
            not_yet_searchable,
        }));
    }
    let request = SearchRequest {
        query,
        range,
        limit,
        cursor,
    };
    let (page, mut warnings, not_yet_searchable) = blocking(events, move |s| {
        let page = s.search(&request)?;
        Ok((page, field_warnings(s, &paths)?, s.index_lag()))
    })
    .await?;
    warnings.extend(dashes);
    Ok(Json(SearchResponse {
        total: page.total,
        events: page.events.into_iter().map(record).collect(),
        next_cursor: page.next_cursor.map(|c| c.encode()),
        aggregation: None,
        warnings,
        not_yet_searchable,
    }))
}

/// One warning per free-text word written with a leading `-`, which Lucene and Kibana read as
/// NOT and this language reads as text: the events found are those with the word, not without.
fn dash_warnings(query: &vigil_query::Query) -> Vec<String> {
    query
        .dash_words()
        .into_iter()
        .map(|word| {
            format!(
                "`{word}` is searched as text (`-` is no operator here): to leave out the events with `{}`, write NOT {}",
                &word[1..],
                &word[1..]
            )
        })
        .collect()
}

/// One warning per field in `paths` that no stored event has: a misspelt or foreign field name
/// (`EventID` for `Event.System.EventID`) otherwise answers "nothing found" without a reason.
fn field_warnings(store: &dyn EventStore, paths: &[String]) -> Result<Vec<String>, LogError> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    Ok(store
        .missing_fields(&paths)?
        .into_iter()
        .map(|missing| {
            let similar: Vec<String> = missing.similar.iter().map(|p| format!("`{p}`")).collect();
            let path = missing.path;
            match similar.as_slice() {
                [] => format!(
                    "no stored event has the field `{path}`: field names are the events' own JSON paths, such as `user.name` or `Event.System.EventID`"
                ),
                [one] => format!("no stored event has the field `{path}`; did you mean {one}?"),
                many => format!(
                    "no stored event has the field `{path}`; did you mean one of {}?",
                    many.join(", ")
                ),
            }
        })
        .collect())
}

/// A pivot on `value` (in `field`; with none and `whole`, whole values only, see
/// `PivotRequest::whole`), with how many events hold it only inside a text when followed whole.
async fn pivot_value(
    state: &AppState,
    value: String,
    field: Option<String>,
    whole: bool,
    range: TimeRange,
    limit: usize,
) -> Result<(PivotResponse, Option<u64>), ApiError> {
    let request = PivotRequest {
        field: field.as_deref().map(vigil_query::Field::from_name),
        whole,
        value: value.clone(),
        range,
        limit,
    };
    if let Some(Err(reason)) = vigil_query::network_expr(&request.field, &value) {
        return Err(ApiError::invalid_field(
            "value",
            format!(
                "`value`: the IPv6 network {value} cannot be followed exactly: {reason}; pivot on its addresses one by one, or sweep files for it with vigil hunt --search"
            ),
        ));
    }
    let paths: Vec<String> = match &request.field {
        Some(vigil_query::Field::Json(path)) => vec![path.clone()],
        _ => Vec::new(),
    };
    let (p, warnings, not_yet_searchable) = blocking(state.ingestor.events(), move |s| {
        let pivot = s.pivot(&request)?;
        Ok((pivot, field_warnings(s, &paths)?, s.index_lag()))
    })
    .await?;
    let in_text_only = p.in_text_only;
    let response = PivotResponse {
        value,
        field,
        total: p.total,
        first_seen: p.first,
        last_seen: p.last,
        bucket_seconds: p.bucket_seconds,
        timeline: p
            .timeline
            .into_iter()
            .map(|b| TimelinePoint {
                start: b.start,
                count: b.count,
            })
            .collect(),
        by_service: counts(p.by_service),
        by_host: counts(p.by_host),
        hosts: p.hosts,
        by_tenant: counts(p.by_tenant),
        events: p.events.into_iter().map(record).collect(),
        warnings,
        not_yet_searchable,
    };
    Ok((response, in_text_only))
}

/// Follow one value (an IP, a user, a host, a hash) across every service: its timeline, counts
/// per service, host and tenant, and the newest events carrying it.
#[utoipa::path(
    get, path = "/events/pivot", operation_id = "pivot_events", tag = "events",
    params(PivotQuery),
    responses((status = 200, body = PivotResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn pivot(
    State(state): State<AppState>,
    _who: Principal,
    ApiQuery(q): ApiQuery<PivotQuery>,
) -> Result<Json<PivotResponse>, ApiError> {
    let value = q.value.trim().to_owned();
    if value.is_empty() {
        return Err(ApiError::invalid_field(
            "value",
            "`value` names what to follow, e.g. an IP or a user name",
        ));
    }
    let field = q
        .field
        .map(|f| f.trim().to_owned())
        .filter(|f| !f.is_empty());
    let range = time_range(q.from.as_deref(), q.to.as_deref())?;
    let limit = limit(q.limit, 0)?;
    let (pivot, _) = pivot_value(&state, value, field, false, range, limit).await?;
    Ok(Json(pivot))
}

/// Events, bytes and time span per service, with each service's retention.
#[utoipa::path(
    get, path = "/events/stats", operation_id = "get_event_stats", tag = "events",
    responses((status = 200, body = StorageStats), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn stats(
    State(state): State<AppState>,
    _who: Principal,
) -> Result<Json<StorageStats>, ApiError> {
    let (stats, index_lag) =
        blocking(state.ingestor.events(), |s| Ok((s.stats()?, s.index_lag()))).await?;
    let mut services: std::collections::BTreeMap<String, ServiceStorage> = stats
        .into_iter()
        .map(|s| (s.service.clone(), storage_of(&state, s)))
        .collect();
    // What this server received (by its clock) and the services watched for silence: a
    // service watched but never heard from is listed too, with nothing stored.
    for (service, last_stored) in state.ingestor.totals().services {
        listed(&mut services, &state, &service).received = Some(last_stored);
    }
    let org = state.ingestor.org().await;
    for owner in org.document.iter().flat_map(|d| &d.services) {
        if owner.silent_after_secs().is_some() {
            listed(&mut services, &state, &owner.name).silent_after = owner.silent_after.clone();
        }
    }
    for (watched, alert) in state.ingestor.silent_services() {
        if let Some(entry) = services.get_mut(&watched.service) {
            let alert = match &watched.tenant {
                None => format!("ALR-{alert}"),
                Some(tenant) => format!("ALR-{alert} (tenant {tenant})"),
            };
            entry.silence_alert = Some(match entry.silence_alert.take() {
                None => alert,
                Some(earlier) => format!("{earlier}, {alert}"),
            });
        }
    }
    let services: Vec<ServiceStorage> = services.into_values().collect();
    Ok(Json(StorageStats {
        total_events: services.iter().map(|s| s.events).sum(),
        total_bytes: services.iter().map(|s| s.bytes).sum(),
        services,
        index_lag,
    }))
}

/// A service's entry in the stats, listed with nothing stored if the log store has none.
fn listed<'a>(
    services: &'a mut std::collections::BTreeMap<String, ServiceStorage>,
    state: &AppState,
    service: &str,
) -> &'a mut ServiceStorage {
    services.entry(service.to_owned()).or_insert_with(|| {
        storage_of(
            state,
            vigil_logs::ServiceStats {
                service: service.to_owned(),
                ..Default::default()
            },
        )
    })
}

/// A service's stored events as the stats answer them (what this server received of it and
/// whether it is watched are added by the caller).
fn storage_of(state: &AppState, s: vigil_logs::ServiceStats) -> ServiceStorage {
    ServiceStorage {
        retention_days: state.settings.retention.days_for(&s.service),
        service: s.service,
        events: s.events,
        bytes: s.bytes,
        first: s.first,
        last: s.last,
        received: None,
        silent_after: None,
        silence_alert: None,
    }
}

/// Pivot on every active indicator of an incident at once and propose the services and tenants
/// the indicators were seen in that are not yet in its scope; with `accept`, add them (one
/// audited update of the incident). An indicator that is a word rather than a distinctive value
/// (a user account, a host of one label) is followed as a whole value only, its events holding
/// it only inside a text counted apart (`in_text_only`) and not proposed; the others as a
/// pivot follows them, inside texts too.
#[utoipa::path(
    post, path = "/incidents/{key}/pivot", operation_id = "pivot_incident", tag = "events",
    params(("key" = String, Path, description = "Incident key (INC-42) or id")),
    request_body = IncidentPivotRequest,
    responses((status = 200, body = IncidentPivotResponse), (status = 400, body = ErrorBody), (status = 403, description = "`accept` needs the responder role", body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "`accept` on a closed incident: reopen it (move it back to an earlier phase with a reason) to widen its scope", body = ErrorBody))
)]
pub async fn incident_pivot(
    State(state): State<AppState>,
    who: Principal,
    ApiPath(key): ApiPath<String>,
    ApiJson(req): ApiJson<IncidentPivotRequest>,
) -> Result<Json<IncidentPivotResponse>, ApiError> {
    if req.accept {
        who.require(vigil_core::Role::Responder)?;
    }
    let r = incident_ref(&key)?;
    let range = time_range(req.from.as_deref(), req.to.as_deref())?;
    let incident = state.store.get_incident(&r).await.map_err(store_error)?;
    let mut indicators = Vec::new();
    let mut services = BTreeSet::new();
    let mut tenants = BTreeSet::new();
    let active: Vec<_> = incident
        .indicators
        .iter()
        .filter(|i| i.removed_at.is_none())
        .collect();
    // Each pivot is a pass over the index on the blocking pool: as many at once as there are
    // cores (up to four), answered in the indicators' order.
    let at_once = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let runs: Vec<_> = active
        .iter()
        .map(|ind| {
            let (state, value) = (state.clone(), ind.value.clone());
            let whole = ind.kind.followed_whole(&value);
            async move { pivot_value(&state, value, None, whole, range, 0).await }
        })
        .collect();
    let pivots: Vec<(PivotResponse, Option<u64>)> = futures_util::stream::iter(runs)
        .buffered(at_once)
        .try_collect()
        .await?;
    for (ind, (p, in_text_only)) in active.into_iter().zip(pivots) {
        services.extend(p.by_service.iter().map(|c| c.value.clone()));
        tenants.extend(
            p.by_tenant
                .iter()
                .map(|c| c.value.clone())
                .filter(|t| !t.is_empty()),
        );
        indicators.push(IndicatorPivot {
            kind: ind.kind,
            value: ind.value.clone(),
            total: p.total,
            by_service: p.by_service,
            by_host: p.by_host,
            hosts: p.hosts,
            by_tenant: p.by_tenant,
            first_seen: p.first_seen,
            last_seen: p.last_seen,
            in_text_only,
        });
    }
    let proposed_services: Vec<String> = services
        .into_iter()
        .filter(|s| !incident.services.contains(s))
        .collect();
    let proposed_tenants: Vec<String> = tenants
        .into_iter()
        .filter(|t| !incident.tenants.contains(t))
        .collect();
    let mut accepted = false;
    if req.accept && (!proposed_services.is_empty() || !proposed_tenants.is_empty()) {
        // Added to the scope as it is when written, not as it was read before the pivots: a
        // change made meanwhile stays.
        let (_, added) = state
            .store
            .extend_scope(
                &who.name,
                &r,
                proposed_services.clone(),
                proposed_tenants.clone(),
            )
            .await
            .map_err(store_error)?;
        accepted = added;
    }
    Ok(Json(IncidentPivotResponse {
        key: incident.key.to_string(),
        indicators,
        proposed_services,
        proposed_tenants,
        accepted,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn times_accept_durations_relative_and_absolute_forms() {
        let now = "2026-12-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            parse_time("from", "24h", now).unwrap(),
            now - Duration::hours(24)
        );
        assert_eq!(
            parse_time("from", "now-15m", now).unwrap(),
            now - Duration::minutes(15)
        );
        assert_eq!(
            parse_time("from", "2026-11-30", now).unwrap(),
            "2026-11-30T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert!(parse_time("from", "yesterday", now).is_err());
        assert!(parse_time("from", "-5h", now).is_err());
        assert!(parse_time("from", "24x", now).is_err());
        assert_eq!(
            parse_time("from", "99999999999d", now).unwrap(),
            DateTime::<Utc>::MIN_UTC,
            "further back than times go"
        );
    }

    /// A batch the journal could not write is answered `not_stored`, telling its sender that
    /// nothing of it is stored, not `unavailable`, which leaves the sender wondering.
    #[test]
    fn a_batch_the_journal_refused_is_answered_not_stored() {
        let full = || LogError::NotStored {
            reason: "No space left on device (os error 28)".into(),
        };
        for err in [log_error(full()), ingest_error(IngestError::Logs(full()))] {
            assert_eq!(err.code(), ErrorCode::NotStored);
            assert_eq!(err.code().status(), 503, "senders retry a 503");
        }
        let lagging = LogError::NotSearchable {
            reason: "too many open files".into(),
        };
        assert_eq!(log_error(lagging).code(), ErrorCode::Unavailable);
    }

    #[test]
    fn a_bound_token_fixes_service_and_tenant() {
        assert_eq!(
            bound("service", Some("web"), None).unwrap().as_deref(),
            Some("web")
        );
        assert_eq!(
            bound("service", Some("web"), Some("web"))
                .unwrap()
                .as_deref(),
            Some("web")
        );
        assert!(bound("service", Some("web"), Some("db")).is_err());
        assert_eq!(
            bound("service", None, Some(" db ")).unwrap().as_deref(),
            Some("db")
        );
        assert_eq!(bound("service", None, Some("")).unwrap(), None);
    }
}
