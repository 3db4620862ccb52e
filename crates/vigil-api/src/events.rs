//! Bodies and query strings of the log routes: ingest (`POST /events`), search, pivot,
//! storage stats, detections and rules. Events travel as their original JSON object with the
//! envelope (time, service, host, tenant) the store keeps beside it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub use vigil_core::{Detection, NewDetection, RuleLevel};

/// The schema of a `POST /api/v1/events` body sent as `application/json`: an array of events or
/// one event, each a JSON object. (JSON lines are read from such a body too; being no one JSON
/// document, they have no JSON Schema: `application/x-ndjson` names them.)
pub struct EventsJson;

impl utoipa::PartialSchema for EventsJson {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
        let event = || {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some("One event, any JSON object"))
        };
        OneOfBuilder::new()
            .item(
                ArrayBuilder::new()
                    .items(event())
                    .description(Some("Several events")),
            )
            .item(event())
            .description(Some(
                "An array of events or a single event (pretty-printed or not); JSON lines are read too",
            ))
            .into()
    }
}

impl ToSchema for EventsJson {}

/// Query of `POST /api/v1/events`: who the events are from. A token created with
/// `vigil admin token --role ingest --service S` fixes the service (and tenant): the query
/// may repeat it or leave it out, never name another.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IngestQuery {
    /// The sending service (required unless the token fixes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The host the events come from; when absent, each event's own `Computer`, `host.name`,
    /// `hostname` or `host` is used (none when that is longer than 256 bytes: the event is
    /// stored all the same, its host kept in its JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The tenant the events belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// `wait_for`: answer only once every event acknowledged so far (these included) is
    /// searchable, as Elasticsearch's `refresh=wait_for`. It forces an index commit: for a
    /// script that searches next, not for every batch of a shipper.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<String>,
    /// For a `text/plain` body: the zone its times written without an offset are in (RFC 3164
    /// syslog, web server error logs), as an IANA name (`Europe/Berlin`) or an offset
    /// (`+01:00`); UTC when absent. Refused with a JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// One event of an ingest body that was not stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RejectedEvent {
    /// Its 1-based line in a JSON-lines body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Its 0-based index in a JSON-array body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// Why, and what to send instead.
    pub reason: String,
}

/// Answer of `POST /api/v1/events`: every counted event is durable (it survives a crash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IngestResponse {
    /// Events stored.
    pub stored: u64,
    /// Events refused, each with its position and reason; the others were stored.
    pub rejected: Vec<RejectedEvent>,
    /// Sigma rule matches recorded as detections for the stored events.
    pub detections: u64,
    /// New alerts raised from those detections (repeats fold into open alerts).
    #[serde(default)]
    pub alerts: u64,
    /// Stored events a correlation rule counts that came too late for the live correlation
    /// windows (older than the correlations' reach before the newest): the server runs the
    /// correlations over the stored events of their time a minute after the last of them,
    /// and records what they find then.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub correlated_later: u64,
    /// Stored events older than their service's retention (`serve --retention`): retention
    /// counts from the events' own times, so the next retention pass (hourly) deletes them.
    /// Store old logs (a forensic import) under a service kept long enough.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub expiring: u64,
    /// Set when `refresh=wait_for` could not wait because the search index is failing: the
    /// events above are stored (acknowledged, do not send them again) and become searchable
    /// once indexing recovers; this says why it cannot now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_searchable: Option<String>,
}

/// Query of `GET /api/v1/events/search`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The query (docs/query.md): `field:value`, wildcards, phrases, free text, AND/OR/NOT,
    /// ranges, `exists:field`, and optionally `| count by FIELD`, `| top N FIELD` or
    /// `| rare N FIELD`. Empty: every event.
    #[serde(default)]
    pub q: String,
    /// Events at or after this time: RFC 3339, a date, `now-24h`, or a duration back from now
    /// (`24h`, `7d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Events before this time (same forms as `from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Events per page (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventRecord {
    /// The store's id (increasing in order of storage).
    pub id: u64,
    /// When the event happened (as read from it, or when it was received).
    pub time: DateTime<Utc>,
    /// The sending service.
    pub service: String,
    /// The host (empty when unknown).
    pub host: String,
    /// The tenant (empty when unknown).
    pub tenant: String,
    /// The original JSON object, in the text it was sent in.
    #[schema(value_type = Object)]
    pub event: RawEvent,
}

/// An event's JSON object in the text it was sent in, passed through byte for byte: numbers as
/// written (`1e3`, `1.50`, integers beyond 64 bits), escapes, key order and spacing, which a
/// `serde_json::Value` would rewrite (`1000.0`) or round (`1.2345678901234568e+29`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawEvent(Box<serde_json::value::RawValue>);

impl RawEvent {
    /// The event whose JSON text is `text`; the text given back when it is not JSON.
    pub fn from_text(text: String) -> Result<RawEvent, String> {
        use serde_json::value::RawValue;
        if serde_json::from_str::<&RawValue>(&text).is_err() {
            return Err(text);
        }
        Ok(RawEvent(
            RawValue::from_string(text).expect("the text was just read as JSON"),
        ))
    }

    /// The JSON text, as sent.
    pub fn text(&self) -> &str {
        self.0.get()
    }

    /// The event parsed, to look fields up (numbers read as `serde_json` reads them).
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(self.0.get()).unwrap_or(serde_json::Value::Null)
    }
}

impl PartialEq for RawEvent {
    fn eq(&self, other: &RawEvent) -> bool {
        self.text() == other.text()
    }
}

/// One value and its count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ValueCount {
    /// The value (numbers as decimal text).
    pub value: String,
    /// Events with it.
    pub count: u64,
}

/// Values of the fields grouped by and their count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GroupCount {
    /// The values joined with ", " (the value, for one field).
    pub value: String,
    /// A value per field grouped by, in their order (numbers as decimal text, times in RFC 3339).
    #[serde(default)]
    pub values: Vec<String>,
    /// Events with them.
    pub count: u64,
}

/// The result of `| count by FIELD[, FIELD …]`, `| top N FIELD[, …]` or `| rare N FIELD[, …]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AggregationResult {
    /// The fields grouped by, joined with ", " (the field, for one).
    pub field: String,
    /// The fields grouped by, one to three.
    #[serde(default)]
    pub fields: Vec<String>,
    /// Values (a value per field), most frequent first, ties by values; each count exact. An
    /// event holding several values (an array) is counted under each, so the counts may add up
    /// to more than the events they cover.
    pub buckets: Vec<GroupCount>,
    /// Matching events that hold values of the field, none of them in `buckets`: their values
    /// are all beyond the limit. Events without the field are in `missing`, not here. Exact
    /// over one field; over several, events holding several combinations, not all of them
    /// listed, may make it an estimate from below. Where it is exact, the events in `buckets`
    /// (each once), `other` and `missing` make the search's `total`.
    pub other: u64,
    /// Matching events without the field (over several fields: without one of them or more, so
    /// that they hold no combination to count). Exact. Older servers leave it out (read as 0)
    /// and count these events in `other`.
    #[serde(default)]
    pub missing: u64,
    /// Left out when `buckets` are the most frequent values. Otherwise the field has too many
    /// distinct values to settle the ranking cheaply, and a value not listed may occur up to
    /// this many times (more than the last listed); narrow the query to settle it. The counts
    /// listed are exact either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlisted_max: Option<u64>,
}

/// Answer of `GET /api/v1/events/search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SearchResponse {
    /// Events matching in all (every page together).
    pub total: u64,
    /// This page, newest first (empty for an aggregation).
    pub events: Vec<EventRecord>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Present when the query ends with `| count by` or `| top`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation: Option<AggregationResult>,
    /// What may be wrong with the query although it ran: a field no stored event has, with the
    /// fields it may have meant (`EventID` → `Event.System.EventID`). Absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Acknowledged events the search could not see yet (indexing runs behind ingest and
    /// catches up within seconds, longer under a flood): the answer may miss the newest ones.
    /// Absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_yet_searchable: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Query of `GET /api/v1/events/pivot`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PivotQuery {
    /// The value to follow (an IP, a user, a host, a hash …), any case: whole in any field or
    /// inside a longer text (a syslog message), as free text finds it.
    pub value: String,
    /// Look only in this field (a JSON path), where the value must be whole; absent: any field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Same forms as in search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Same forms as in search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// How many of the newest events to return (0–1000, default 100).
    #[param(minimum = 0, maximum = 1000)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// A point of a timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimelinePoint {
    /// Start of the bucket.
    pub start: DateTime<Utc>,
    /// Events in it.
    pub count: u64,
}

/// Answer of a pivot: every event in every service carrying the value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PivotResponse {
    /// The value followed.
    pub value: String,
    /// The field looked in (absent: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Events carrying it.
    pub total: u64,
    /// Time of the oldest event carrying it (to the millisecond). Absent when none does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<DateTime<Utc>>,
    /// Time of the newest event carrying it (to the millisecond).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
    /// Width of a timeline bucket, in seconds.
    pub bucket_seconds: i64,
    /// Counts over time, oldest first (empty buckets left out).
    pub timeline: Vec<TimelinePoint>,
    /// Counts per service, largest first: every service.
    pub by_service: Vec<ValueCount>,
    /// Counts per host, largest first: the hundred largest.
    pub by_host: Vec<ValueCount>,
    /// How many hosts carried it, listed in `by_host` or not.
    #[serde(default)]
    pub hosts: u64,
    /// Counts per tenant, largest first, every tenant; events without a tenant count under `""`, so the
    /// counts add up and a responder sees how much of the trail names no tenant.
    pub by_tenant: Vec<ValueCount>,
    /// The newest events, newest first.
    pub events: Vec<EventRecord>,
    /// As in search: `field` is a field no stored event has. Absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// As in search: acknowledged events the pivot could not see yet. Absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_yet_searchable: u64,
}

/// Body of `POST /api/v1/incidents/{key}/pivot`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentPivotRequest {
    /// Same forms as in search; absent: all time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Same forms as in search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Add the proposed services and tenants to the incident's scope in the same call.
    #[serde(default)]
    pub accept: bool,
}

/// What one indicator of an incident was found in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IndicatorPivot {
    /// The indicator's kind.
    pub kind: vigil_core::IndicatorKind,
    /// Its value.
    pub value: String,
    /// Events carrying it.
    pub total: u64,
    /// Counts per service: every service.
    pub by_service: Vec<ValueCount>,
    /// Counts per host: the hundred largest.
    pub by_host: Vec<ValueCount>,
    /// How many hosts carried it, listed in `by_host` or not.
    #[serde(default)]
    pub hosts: u64,
    /// Counts per tenant: every tenant.
    pub by_tenant: Vec<ValueCount>,
    /// Time of the oldest event carrying it (to the millisecond).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<DateTime<Utc>>,
    /// Time of the newest event carrying it (to the millisecond).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
    /// Present when the indicator is a word rather than a distinctive value (a `user_account`,
    /// a `host` of one label) and was followed as a whole value only — the whole value of some
    /// field, or an event's host, service or tenant —, not as words inside texts (`admin` in a
    /// URL path, `svc-deploy` inside `svc-deploy-ci`): how many more events in the window hold
    /// it only inside a text. They are not counted above nor proposed; `GET /events/pivot`
    /// (`vigil pivot VALUE`) shows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_text_only: Option<u64>,
}

/// Answer of `POST /api/v1/incidents/{key}/pivot`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IncidentPivotResponse {
    /// The incident's key.
    pub key: String,
    /// One entry per active indicator.
    pub indicators: Vec<IndicatorPivot>,
    /// Services seen carrying an indicator and not yet in the incident's scope (an indicator
    /// followed whole, see `in_text_only`, only where its whole value was found).
    pub proposed_services: Vec<String>,
    /// Tenants seen carrying an indicator and not yet in the incident's scope (as services).
    pub proposed_tenants: Vec<String>,
    /// True when `accept` added the proposals to the scope.
    pub accepted: bool,
}

/// What the log store holds for one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServiceStorage {
    /// The service.
    pub service: String,
    /// Events stored.
    pub events: u64,
    /// Bytes of their JSON.
    pub bytes: u64,
    /// Oldest event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<DateTime<Utc>>,
    /// Newest event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<DateTime<Utc>>,
    /// Days events of this service are kept (absent: forever).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    /// When this server last stored an event of the service (its clock; kept across restarts
    /// in the data directory, up to one silence check (30 s) behind after a crash; absent:
    /// never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<DateTime<Utc>>,
    /// How long the service may send nothing before an alert is raised (`silent_after` of its
    /// entry in the organisation document; absent: not watched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silent_after: Option<String>,
    /// The open alerts of the service's current silences, if it is silent now: `ALR-12` for
    /// the service, `ALR-13 (tenant acme)` for a tenant watched on its own, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silence_alert: Option<String>,
}

/// Answer of `GET /api/v1/events/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StorageStats {
    /// One entry per service, by name: those with stored events, and those the organisation
    /// document watches for silence or this server received events of since it started (with
    /// no events counted yet).
    pub services: Vec<ServiceStorage>,
    /// Events in all.
    pub total_events: u64,
    /// Bytes in all.
    pub total_bytes: u64,
    /// Acknowledged events that search does not see yet (the index runs behind ingest, by at
    /// most the server's `--max-index-lag`). Counted in no service until indexed.
    #[serde(default)]
    pub index_lag: u64,
}

/// Query of `GET /api/v1/detections`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DetectionQuery {
    /// Only this rule (its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// Only from this service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Only on events of this host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Only on events of this tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Only on events at or after this time (the event's own): RFC 3339, a date, `now-24h`,
    /// or a duration back from now (`24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Only on events before this time (same forms as `from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Only at this level or above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_level: Option<RuleLevel>,
    /// Only detections with a larger id, and then in ascending id order (oldest first): the
    /// next ones after it. To follow new detections, keep the largest id of each answer and
    /// pass it here next time; `total` counts all those after it, so while `total` exceeds the
    /// page, ask again at once; 0 starts from the first.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_id: Option<i64>,
    /// At most this many (1–1000, default 100): newest first, or oldest first with `after_id`.
    #[param(minimum = 1, maximum = 1000)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Answer of `GET /api/v1/detections/{id}`: the detection and the event it matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DetectionDetail {
    /// The detection.
    #[serde(flatten)]
    pub detection: Detection,
    /// The matched event; absent once retention removed it (or, for a moment after ingest,
    /// while it is not searchable yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventRecord>,
}

/// Body of `POST /api/v1/rules/preview`: Sigma rules not loaded yet, to run over the stored
/// events before they are put in the rules directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulePreviewRequest {
    /// The rules, as YAML (several documents separated by `---`).
    pub rules: String,
    /// Only the events this query finds (docs/query.md; no `|` step); empty: every event.
    #[serde(default)]
    pub q: String,
    /// Events at or after this time (the forms of the search's `from`); absent: the last 24
    /// hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Events before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Matches to return, newest first (1–1000, default 100); all are counted.
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Most events to read, newest first (1–10,000,000, default 1,000,000).
    #[schema(minimum = 1, maximum = 10_000_000)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_events: Option<u64>,
}

/// One match of a previewed rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PreviewMatch {
    /// The rule's id.
    pub rule_id: String,
    /// The rule's title.
    pub rule_title: String,
    /// The rule's level.
    pub level: String,
    /// The event it matched; for a correlation rule, the event that completed it.
    pub event: EventRecord,
    /// For a correlation rule, what it found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation: Option<PreviewCorrelation>,
}

/// What a previewed correlation rule found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PreviewCorrelation {
    /// In words: `5 events for user=root within 10m`.
    pub note: String,
    /// The values of its group-by fields: `user=root` (empty without `group-by`).
    pub group: String,
    /// The stored ids of the events that made it, oldest first.
    pub event_ids: Vec<u64>,
}

/// Answer of `POST /api/v1/rules/preview`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RulePreview {
    /// Rules compiled and run.
    pub rules: u64,
    /// Rules refused, each with its line and reason.
    pub rejected: Vec<String>,
    /// Correlation rules among them. They are evaluated over the matched events of the
    /// window read, oldest first, one stream per tenant; a group whose earlier events lie
    /// before the window is counted from the window's start.
    pub correlations: u64,
    /// Set when the matched events the correlations count outgrew the preview's memory: the
    /// time of the oldest one they were given (they saw the window from then on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlated_from: Option<DateTime<Utc>>,
    /// Events read.
    pub events_read: u64,
    /// Whether every event of the window (and query) was read; `false` when `max_events`
    /// stopped the preview first.
    pub complete: bool,
    /// Matches counted, per rule and event (a correlation: per time it fired).
    pub total_matches: u64,
    /// The newest matches, up to `limit`.
    pub matches: Vec<PreviewMatch>,
    /// Each rule that matched with its matches, the most first: which rule is noisy.
    #[serde(default)]
    pub per_rule: Vec<PreviewRuleCount>,
}

/// How often one previewed rule matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PreviewRuleCount {
    /// The rule's id.
    pub rule_id: String,
    /// The rule's title.
    pub rule_title: String,
    /// The rule's level.
    pub level: String,
    /// Its matches (a correlation: the times it fired).
    pub matches: u64,
}

/// A tenant's events that came too late for the live correlation windows
/// ([`RulesStatus::correlations_late`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LateEvents {
    /// Their tenant.
    pub tenant: String,
    /// The oldest one's time.
    pub from: DateTime<Utc>,
    /// The newest one's time.
    pub to: DateTime<Utc>,
}

/// Answer of `GET /api/v1/rules` and `POST /api/v1/rules/reload`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RulesStatus {
    /// The rule directories read (`vigil serve --rules`).
    pub paths: Vec<String>,
    /// Rules compiled and matched against every ingested event.
    pub loaded: u64,
    /// `file:line: reason` for every problem of a rejected rule (a rule may have several).
    pub rejected: Vec<String>,
    /// How many rules were rejected (absent from servers before it was added: count
    /// `rejected` then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_rejected: Option<u64>,
    /// When the set was loaded.
    pub loaded_at: DateTime<Utc>,
    /// The services that declare what their logs are (`logsources` in the organisation
    /// document), with how many loaded rules are written for those logs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceRules>,
    /// The loaded correlation rules, with what their windows hold now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub correlations: Vec<CorrelationWindows>,
    /// Whether the correlation windows are being rebuilt from the stored events (after a
    /// crash): until then they hold less than they will.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub correlations_rebuilding: bool,
    /// Events that came too late for the live correlation windows (older than the
    /// correlations' reach before the newest): per tenant, their span, correlated over the
    /// stored events once no late event has come for a minute.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub correlations_late: Vec<LateEvents>,
    /// Loaded rules the organisation document turns off (`alerting[].enabled: false`): they
    /// run, and correlations count their matches, but nothing of theirs is recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub turned_off: Vec<TurnedOffRule>,
    /// Placeholders the loaded rules use and `--placeholders` gives no values, each as
    /// `%name% (N rules: …)`: the `expand` values built on them match nothing, so a filter on
    /// one excludes nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placeholders_without_values: Vec<String>,
    /// Filters that reach fewer rules than they name, each as `file:line (filter.rules):
    /// reason`: a name that is no loaded rule's id or name (a typo, a title), or a rule the
    /// filter's logsource does not cover. The filter is loaded all the same (it may be
    /// written for rules of another set) and leaves those rules' matches as they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter_warnings: Vec<String>,
    /// The last reload (SIGHUP or `POST /api/v1/rules/reload`) failed and none has succeeded
    /// since: the rules in force are those loaded at `loaded_at`, not what the directories
    /// hold now. Absent once a reload succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload_failed: Option<RulesReloadFailure>,
}

/// A reload of the rules that failed, leaving the running set in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RulesReloadFailure {
    /// When it was tried.
    pub at: DateTime<Utc>,
    /// Why it failed (a rule that would be rejected, with its file and line; a directory that
    /// cannot be read).
    pub error: String,
}

/// A loaded rule turned off by the organisation document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TurnedOffRule {
    /// The rule's id.
    pub rule_id: String,
    /// The rule's title.
    pub title: String,
}

/// A loaded correlation rule and what its windows hold now (across tenants): what is counting
/// towards it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CorrelationWindows {
    /// The correlation rule's id.
    pub rule_id: String,
    /// Its title.
    pub title: String,
    /// Its type as the rule writes it (`event_count`, `value_count`, `temporal` …).
    pub kind: String,
    /// Its `group-by` fields.
    pub group_by: Vec<String>,
    /// Its timespan, in seconds.
    pub timespan_seconds: u64,
    /// Its condition, for people (`>= 5`, `bytes > 1000000`).
    pub condition: String,
    /// Groups (one per `group-by` value: a user, an IP …) with events in a window.
    pub groups: u64,
    /// The matched events the windows hold.
    pub events: u64,
    /// The time of the oldest of them.
    pub oldest: Option<DateTime<Utc>>,
    /// The groups whose value is highest now, highest first (at most 5): the nearest to
    /// firing for a `>`/`>=` condition.
    #[serde(default)]
    pub top_groups: Vec<CorrelationGroup>,
}

/// A correlation's group and its value now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CorrelationGroup {
    /// The tenant its events belong to (empty when unknown).
    pub tenant: String,
    /// Its `group-by` values: `user=root, src=203.0.113.9`.
    pub group: String,
    /// What the correlation compares with its condition over the timespan up to the group's
    /// latest event: the count of events, of distinct values, their sum … or for temporal
    /// types the rules seen.
    pub value: f64,
}

/// A service that declares its logsources, and the loaded rules written for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServiceRules {
    /// The service.
    pub service: String,
    /// Its declared logsources, each as `product=linux,service=auth`.
    pub logsources: Vec<String>,
    /// Loaded detection rules written for one of them (rules naming no logsource, which
    /// apply to every log, are not counted). Zero: its events meet no rule written for them.
    pub rules: u64,
    /// Loaded detection rules written for one of them that name one logsource part more
    /// (`category=application` beside `product=kubernetes,service=audit`): they run only once
    /// that part is declared too. Per declared logsource, the most rules first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undeclared: Vec<UndeclaredRules>,
}

/// Rules written for a declared logsource that also name a part it lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UndeclaredRules {
    /// The declared logsource, as `product=kubernetes,service=audit`.
    pub logsource: String,
    /// The part they also name, as `category=application`.
    pub part: String,
    /// How many.
    pub rules: u64,
}
