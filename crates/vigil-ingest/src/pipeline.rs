//! [`Ingestor`]: decode → detect → append durably → record detections, for every entry point.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use rayon::prelude::*;
use vigil_core::{AlertSource, NewAlert, NewDetection, RuleLevel, preliminary_severity};
use vigil_detect::{CompiledRuleSet, Event, FieldValue};
use vigil_events::batch::{Accepted, BodyFormat, Position, decode_body};
use vigil_events::json::JsonEvent;
use vigil_logs::{EventStore, NewEvent};
use vigil_store::{AlertPolicy, Store};

use crate::error::IngestError;
use crate::rules::RuleSlot;

/// Default cap on one event: 1 MiB.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1024 * 1024;

/// Batches at least this large are matched on all cores.
const PARALLEL_MATCH_MIN: usize = 256;

/// Who an event is from: the sender's service (never empty), host and tenant (may be empty).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// The sending service.
    pub service: String,
    /// The host; when empty, taken from the event itself (`Computer`, `host.name`, `hostname`).
    pub host: String,
    /// The tenant.
    pub tenant: String,
}

/// An event already cut out of its transport (a syslog frame turned into JSON, a file record).
#[derive(Debug, Clone, PartialEq)]
pub struct RawEvent {
    /// When it happened, if the transport says; else read from the event, else now.
    pub time: Option<DateTime<Utc>>,
    /// Who sent it.
    pub envelope: Envelope,
    /// The event: one JSON object.
    pub json: String,
}

/// One event that was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedEvent {
    /// Its 1-based line in a JSON-lines body or file.
    pub line: Option<u64>,
    /// Its 0-based index in a JSON array or a list of raw events.
    pub index: Option<u64>,
    /// Why, and what to send instead.
    pub reason: String,
}

/// What happened to a batch. Every event counted in `stored` is durable.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IngestReport {
    /// Log-store ids of the stored events, in input order.
    pub stored: Vec<u64>,
    /// The events refused, in input order.
    pub rejected: Vec<RejectedEvent>,
    /// Detections recorded for the stored events.
    pub detections: usize,
    /// New alerts raised from them (the rest were folded into open alerts or rate-limited).
    pub alerts: usize,
}

/// The ingest path shared by every entry point. Cheap to share behind an `Arc`.
pub struct Ingestor {
    events: Arc<dyn EventStore>,
    store: Arc<dyn Store>,
    rules: Arc<RuleSlot>,
    max_event_bytes: usize,
    alerts: AlertPolicy,
}

impl std::fmt::Debug for Ingestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingestor")
            .field("max_event_bytes", &self.max_event_bytes)
            .finish_non_exhaustive()
    }
}

/// A stored batch: its report, its detections, and the JSON of the events that matched.
type Processed = (
    IngestReport,
    Vec<NewDetection>,
    std::collections::HashMap<u64, String>,
);

/// A decoded event on its way to the store.
struct Pending {
    position: Position,
    event: JsonEvent,
    json: String,
    time: Option<DateTime<Utc>>,
    envelope: Envelope,
}

impl Ingestor {
    /// An ingestor appending to `events`, recording detections in `store`, matching with the
    /// rules in `rules`.
    pub fn new(events: Arc<dyn EventStore>, store: Arc<dyn Store>, rules: Arc<RuleSlot>) -> Self {
        Ingestor {
            events,
            store,
            rules,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            alerts: AlertPolicy::default(),
        }
    }

    /// Fold and limit the alerts raised from detections with `policy`.
    pub fn with_alert_policy(mut self, policy: AlertPolicy) -> Self {
        self.alerts = policy;
        self
    }

    /// Refuse events larger than this many bytes.
    pub fn with_max_event_bytes(mut self, max: usize) -> Self {
        self.max_event_bytes = max;
        self
    }

    /// The rules in use (for status and reload).
    pub fn rules(&self) -> &Arc<RuleSlot> {
        &self.rules
    }

    /// The log store (for search, pivot, stats and retention).
    pub fn events(&self) -> &Arc<dyn EventStore> {
        &self.events
    }

    /// Ingests an HTTP body of JSON lines or a JSON array, every event from `envelope`.
    /// Returns once the stored events are durable and their detections recorded.
    pub async fn ingest_body(
        self: &Arc<Self>,
        body: Vec<u8>,
        format: BodyFormat,
        envelope: Envelope,
    ) -> Result<IngestReport, IngestError> {
        let this = Arc::clone(self);
        let processed = tokio::task::spawn_blocking(move || {
            let batch = decode_body(&body, format, this.max_event_bytes);
            let mut rejected: Vec<RejectedEvent> = batch
                .rejected
                .iter()
                .map(|r| rejected(r.position, r.reason.to_string()))
                .collect();
            let mut pending = Vec::with_capacity(batch.accepted.len());
            for Accepted {
                position,
                span,
                event,
            } in batch.accepted
            {
                match std::str::from_utf8(&body[span]) {
                    Ok(text) => pending.push(Pending {
                        position,
                        event,
                        json: text.to_owned(),
                        time: None,
                        envelope: envelope.clone(),
                    }),
                    Err(e) => rejected.push(self::rejected(
                        position,
                        format!("the event is not valid UTF-8 ({e}); send UTF-8 JSON"),
                    )),
                }
            }
            this.store_pending(pending, rejected)
        })
        .await
        .map_err(|e| IngestError::Worker(e.to_string()))??;
        self.finish(processed).await
    }

    /// Ingests events already cut out of their transport (syslog, files).
    pub async fn ingest_raw(
        self: &Arc<Self>,
        events: Vec<RawEvent>,
    ) -> Result<IngestReport, IngestError> {
        let this = Arc::clone(self);
        let processed = tokio::task::spawn_blocking(move || {
            let mut rejected = Vec::new();
            let mut pending = Vec::with_capacity(events.len());
            for (index, raw) in events.into_iter().enumerate() {
                let position = Position::Index(index as u64);
                if raw.json.len() > this.max_event_bytes {
                    rejected.push(self::rejected(
                        position,
                        format!(
                            "the event is {} bytes, more than the {}-byte limit; split it or raise the limit",
                            raw.json.len(),
                            this.max_event_bytes
                        ),
                    ));
                    continue;
                }
                match JsonEvent::parse(&raw.json) {
                    Ok(event) => pending.push(Pending {
                        position,
                        event,
                        json: raw.json,
                        time: raw.time,
                        envelope: raw.envelope,
                    }),
                    Err(e) => rejected.push(self::rejected(position, e.to_string())),
                }
            }
            this.store_pending(pending, rejected)
        })
        .await
        .map_err(|e| IngestError::Worker(e.to_string()))??;
        self.finish(processed).await
    }

    async fn finish(
        &self,
        (mut report, detections, matched_json): Processed,
    ) -> Result<IngestReport, IngestError> {
        report.detections = detections.len();
        if !detections.is_empty() {
            let alerts = self.alerts_for(&detections, &matched_json).await?;
            let (_, raised) = self
                .store
                .record_matches("vigil", detections, alerts)
                .await?;
            report.alerts = raised
                .iter()
                .filter(|r| matches!(r, vigil_store::RaisedId::Created(_)))
                .count();
        }
        Ok(report)
    }

    /// The alerts to raise for a batch's detections: one per (rule, service, host) — or the
    /// rule's own `group_by` fields — with the preliminary severity from the rule's level and
    /// the service's criticality in the organisation document.
    async fn alerts_for(
        &self,
        detections: &[NewDetection],
        matched_json: &std::collections::HashMap<u64, String>,
    ) -> Result<Vec<(NewAlert, AlertPolicy)>, IngestError> {
        let org: Option<vigil_oncall::OrgDocument> = self
            .store
            .current_org()
            .await?
            .and_then(|v| serde_json::from_value(v.document).ok());
        let criticality = |service: &str| {
            let entry = org.as_ref()?.services.iter().find(|s| s.name == service)?;
            use vigil_core::AssetCriticality as A;
            use vigil_oncall::Criticality as C;
            Some(match entry.criticality? {
                C::Low => A::Low,
                C::Medium => A::Medium,
                C::High => A::High,
                C::Critical => A::Critical,
            })
        };
        // Each matched event parsed once, however many rules it matched.
        let parsed: std::collections::HashMap<u64, serde_json::Value> = matched_json
            .iter()
            .filter_map(|(id, json)| Some((*id, serde_json::from_str(json).ok()?)))
            .collect();
        let config = |rule: &str| {
            let all = org.as_ref()?;
            all.alerting
                .iter()
                .find(|a| a.rule_id == rule)
                .or_else(|| all.alerting.iter().find(|a| a.rule_id == "*"))
        };
        let mut groups: std::collections::BTreeMap<String, (NewAlert, AlertPolicy)> =
            Default::default();
        for d in detections {
            let event = parsed.get(&d.event_id);
            let cfg = config(&d.rule_id);
            let fields: Vec<&str> = match cfg {
                Some(c) if !c.group_by.is_empty() => {
                    c.group_by.iter().map(String::as_str).collect()
                }
                _ => vec!["host"],
            };
            let mut key = format!("{}|{}", d.rule_id, d.service);
            for f in &fields {
                let value = match *f {
                    "host" => d.host.clone(),
                    "tenant" => d.tenant.clone(),
                    "service" => d.service.clone(),
                    path => event.and_then(|e| json_path(e, path)).unwrap_or_default(),
                };
                key.push('|');
                key.push_str(&value);
            }
            let mut policy = self.alerts;
            if let Some(c) = cfg {
                if let Some(w) = c.window.as_deref().and_then(vigil_oncall::parse_after) {
                    policy.dedup_window = chrono::Duration::seconds(w as i64);
                }
                if let Some(m) = c.max_per_hour {
                    policy.max_new_per_rule_per_hour = m;
                }
            }
            let entry = groups.entry(key.clone()).or_insert_with(|| {
                (
                    NewAlert {
                        title: d.rule_title.clone(),
                        source: AlertSource::Detection,
                        severity: preliminary_severity(d.level, criticality(&d.service)),
                        service: d.service.clone(),
                        dedup_key: key,
                        rule_id: Some(d.rule_id.clone()).filter(|r| !r.is_empty()),
                        summary: Some(format!(
                            "Sigma rule {:?} ({}) matched on host {:?}{}",
                            d.rule_title,
                            d.level,
                            d.host,
                            if d.tenant.is_empty() {
                                String::new()
                            } else {
                                format!(" of tenant {:?}", d.tenant)
                            }
                        )),
                        origin: Some("vigil-detect".into()),
                        reporter: None,
                        event_ids: Vec::new(),
                        events: Vec::new(),
                    },
                    policy,
                )
            });
            entry.0.event_ids.push(d.event_id);
            entry
                .0
                .events
                .push(event.cloned().unwrap_or(serde_json::Value::Null));
        }
        Ok(groups.into_values().collect())
    }

    /// Matches, appends and maps matches to the stored ids. Blocking.
    fn store_pending(
        &self,
        pending: Vec<Pending>,
        mut rejected: Vec<RejectedEvent>,
    ) -> Result<Processed, IngestError> {
        let rules = self.rules.current();
        let set = &rules.set;
        let now = Utc::now();
        let matched: Vec<Vec<u32>> = if set.rules().is_empty() {
            vec![Vec::new(); pending.len()]
        } else if pending.len() >= PARALLEL_MATCH_MIN {
            // One chunk (and one warm matcher) per thread, not one cold matcher per split.
            let chunk = pending.len().div_ceil(rayon::current_num_threads().max(1));
            pending
                .par_chunks(chunk)
                .flat_map_iter(|part| {
                    let mut m = set.matcher();
                    part.iter()
                        .map(|p| reported(set, m.matches(&p.event)))
                        .collect::<Vec<_>>()
                })
                .collect()
        } else {
            let mut m = set.matcher();
            pending
                .iter()
                .map(|p| reported(set, m.matches(&p.event)))
                .collect()
        };
        let mut events = Vec::with_capacity(pending.len());
        let mut times = Vec::with_capacity(pending.len());
        let mut positions = Vec::with_capacity(pending.len());
        for p in pending {
            let time = p.time.or_else(|| event_time(&p.event)).unwrap_or(now);
            let mut envelope = p.envelope;
            if envelope.host.is_empty() {
                envelope.host = event_host(&p.event).unwrap_or_default();
            }
            times.push(time);
            positions.push(p.position);
            events.push((
                NewEvent {
                    time,
                    service: envelope.service.clone(),
                    host: envelope.host.clone(),
                    tenant: envelope.tenant.clone(),
                    json: p.json,
                },
                envelope,
            ));
        }
        let (new_events, envelopes): (Vec<NewEvent>, Vec<Envelope>) = events.into_iter().unzip();
        // The JSON of the events that matched travels with their alerts.
        let mut matched_by_index: std::collections::HashMap<usize, String> = matched
            .iter()
            .enumerate()
            .filter(|(_, rules)| !rules.is_empty())
            .map(|(i, _)| (i, new_events[i].json.clone()))
            .collect();
        let outcome = self.events.append(new_events)?;
        let mut matched_json = std::collections::HashMap::new();
        // The store may refuse some (an empty service): map its batch indexes back.
        let refused: std::collections::HashSet<usize> =
            outcome.rejected.iter().map(|r| r.index).collect();
        for r in &outcome.rejected {
            rejected.push(self::rejected(positions[r.index], r.reason.clone()));
        }
        rejected.sort_by_key(|r| (r.line, r.index));
        let mut stored_ids = outcome.stored.iter();
        let mut detections = Vec::new();
        for (i, rule_ids) in matched.iter().enumerate() {
            if refused.contains(&i) {
                continue;
            }
            let Some(&event_id) = stored_ids.next() else {
                break;
            };
            if let Some(json) = matched_by_index.remove(&i) {
                matched_json.insert(event_id, json);
            }
            for &rule in rule_ids {
                let meta = set.rule(vigil_detect::RuleId(rule));
                detections.push(NewDetection {
                    event_id,
                    event_time: times[i],
                    service: envelopes[i].service.clone(),
                    host: envelopes[i].host.clone(),
                    tenant: envelopes[i].tenant.clone(),
                    rule_id: meta.id().to_owned(),
                    rule_title: meta.title().to_owned(),
                    level: RuleLevel::parse(meta.level().as_str()).unwrap_or(RuleLevel::Medium),
                    tags: meta.meta.tags.clone(),
                });
            }
        }
        Ok((
            IngestReport {
                stored: outcome.stored,
                rejected,
                detections: 0,
                alerts: 0,
            },
            detections,
            matched_json,
        ))
    }
}

/// The text of a JSON path (`user.name`) in an event, or of a key written with dots.
fn json_path(event: &serde_json::Value, path: &str) -> Option<String> {
    let found = event
        .get(path)
        .or_else(|| path.split('.').try_fold(event, |v, part| v.get(part)))?;
    Some(match found {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => return None,
        other => other.to_string(),
    })
}

/// The reportable rules among a match (rules that only feed a correlation are left out).
fn reported(set: &CompiledRuleSet, matched: &[vigil_detect::RuleId]) -> Vec<u32> {
    matched
        .iter()
        .filter(|r| set.rule(**r).report)
        .map(|r| r.0)
        .collect()
}

fn rejected(position: Position, reason: String) -> RejectedEvent {
    match position {
        Position::Line(n) => RejectedEvent {
            line: Some(n),
            index: None,
            reason,
        },
        Position::Index(n) => RejectedEvent {
            line: None,
            index: Some(n),
            reason,
        },
    }
}

/// The first text value of the first of `fields` the event has.
fn first_text(event: &JsonEvent, fields: &[&str]) -> Option<String> {
    for field in fields {
        let mut found = None;
        event.field_values(field, &mut |v| {
            if found.is_none() {
                found = match v {
                    FieldValue::Str(s) if !s.is_empty() => Some(s.to_string()),
                    FieldValue::Int(i) => Some(i.to_string()),
                    FieldValue::UInt(u) => Some(u.to_string()),
                    FieldValue::Float(f) => Some(f.to_string()),
                    _ => None,
                };
            }
        });
        if found.is_some() {
            return found;
        }
    }
    None
}

/// When the event says it happened: the Windows `TimeCreated`, or the first of the usual time
/// keys that parses (seconds or milliseconds since the epoch, or RFC 3339 text).
fn event_time(event: &JsonEvent) -> Option<DateTime<Utc>> {
    let text = first_text(
        event,
        &[
            "TimeCreated",
            "@timestamp",
            "timestamp",
            "time",
            "UtcTime",
            "date",
        ],
    )?;
    let ms = match text.parse::<f64>() {
        Ok(n) if n.abs() > 1e11 => n as i64,
        Ok(n) => (n * 1000.0) as i64,
        Err(_) => vigil_events::time::parse_timestamp(&text)?,
    };
    Utc.timestamp_millis_opt(ms).single()
}

/// The host the event names, for senders that do not say.
fn event_host(event: &JsonEvent) -> Option<String> {
    first_text(event, &["Computer", "host.name", "hostname", "host"])
}
