//! `GET /api/v1/metrics`: the server's counters and gauges in the Prometheus text format, for
//! the monitoring an operator already runs (and for `vigil bench ingest`, which reads the
//! server's CPU time from it to say what each event costs).

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use vigil_api::error::ErrorBody;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// Sources (service, tenant) given a series of their own; a scrape of many more would cost
/// the monitoring more than it tells.
const MAX_SOURCE_SERIES: usize = 1000;

/// The Prometheus text exposition format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Counters since the server started, gauges as they are now; any token but an ingest token.
///
/// Query parameters are ignored, so those a scraper adds of its own (a cache-buster) change
/// nothing.
#[utoipa::path(
    get, path = "/metrics", operation_id = "get_metrics", tag = "meta",
    responses(
        (status = 200, description = "Metrics in the Prometheus text format (version 0.0.4)", body = String, content_type = "text/plain"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)
    )
)]
pub async fn metrics(State(state): State<AppState>, _who: Principal) -> Result<Response, ApiError> {
    let index_lag = state.ingestor.events().index_lag();
    let totals = state.ingestor.totals();
    let rules = state.ingestor.rules().current();
    let mut out = Exposition::default();
    out.gauge(
        "vigil_build_info",
        "The running version (the value is always 1).",
        &format!("{{version=\"{}\"}}", env!("CARGO_PKG_VERSION")),
        1,
    );
    out.counter(
        "vigil_ingest_batches_total",
        "Batches of events stored (HTTP bodies, syslog groups, pieces of files); those the log store refused are vigil_ingest_batches_not_stored_total.",
        totals.batches,
    );
    out.counter(
        "vigil_events_stored_total",
        "Events stored durably (acknowledged).",
        totals.stored,
    );
    out.counter(
        "vigil_events_rejected_total",
        "Events refused, each named with its reason in its batch's answer.",
        totals.rejected,
    );
    out.head(
        "vigil_ingest_batches_not_stored_total",
        "Batches the log store refused whole, their senders told nothing of them was stored, by reason: journal (it could not write them: a full disk, an I/O error), closed (it had shut down), other.",
        "counter",
    );
    for n in &totals.not_stored {
        out.sample(
            "vigil_ingest_batches_not_stored_total",
            &format!("{{reason=\"{}\"}}", n.reason.as_str()),
            n.batches,
        );
    }
    out.head(
        "vigil_events_not_stored_total",
        "Events of the batches the log store refused whole, by the same reasons.",
        "counter",
    );
    for n in &totals.not_stored {
        out.sample(
            "vigil_events_not_stored_total",
            &format!("{{reason=\"{}\"}}", n.reason.as_str()),
            n.events,
        );
    }
    let health = state.ingestor.events().health();
    out.gauge(
        "vigil_log_store_journal_failing",
        "1 while the log store's last journal write failed and none has succeeded since: every batch is refused (GET /api/v1/health says why).",
        "",
        u64::from(health.journal.is_some()),
    );
    out.counter(
        "vigil_detections_total",
        "Detections recorded for stored events.",
        totals.detections,
    );
    out.counter(
        "vigil_alerts_raised_total",
        "New alerts raised from detections.",
        totals.alerts,
    );
    out.head(
        "vigil_ingest_step_seconds_total",
        "Time batches spent in each step: decoding, matching and preparing, appending until durable, recording detections and alerts.",
        "counter",
    );
    for (step, seconds) in [
        ("decode", totals.steps.decode),
        ("detect", totals.steps.detect),
        ("append", totals.steps.append),
        ("record", totals.steps.record),
    ] {
        out.sample(
            "vigil_ingest_step_seconds_total",
            &format!("{{step=\"{step}\"}}"),
            format_args!("{seconds:.6}"),
        );
    }
    let name = "vigil_ingest_batch_duration_seconds";
    out.head(
        name,
        "Time from a batch reaching the ingest path to its answer (stored durably, detections recorded).",
        "histogram",
    );
    for (bound, count) in &totals.latency.buckets {
        out.sample(
            &format!("{name}_bucket"),
            &format!("{{le=\"{bound}\"}}"),
            count,
        );
    }
    out.sample(
        &format!("{name}_bucket"),
        "{le=\"+Inf\"}",
        totals.latency.count,
    );
    out.sample(
        &format!("{name}_sum"),
        "",
        format_args!("{:.6}", totals.latency.sum),
    );
    out.sample(&format!("{name}_count"), "", totals.latency.count);
    let sources = totals.top_sources(MAX_SOURCE_SERIES);
    out.head(
        "vigil_source_events_stored_total",
        "Events stored per sending service and tenant (the 1000 with the most; the others summed as service \"(other)\").",
        "counter",
    );
    for source in &sources {
        out.sample(
            "vigil_source_events_stored_total",
            &source_labels(&source.service, &source.tenant),
            source.stored,
        );
    }
    out.head(
        "vigil_source_last_stored_timestamp_seconds",
        "When each service and tenant last had an event stored (Unix time): a source that falls silent leaves a gap in the central log.",
        "gauge",
    );
    for source in &sources {
        out.sample(
            "vigil_source_last_stored_timestamp_seconds",
            &source_labels(&source.service, &source.tenant),
            format_args!(
                "{:.3}",
                source.last_stored.timestamp_millis() as f64 / 1000.0
            ),
        );
    }
    out.gauge(
        "vigil_index_lag_events",
        "Acknowledged events search does not see yet.",
        "",
        index_lag,
    );
    out.gauge(
        "vigil_rules_loaded",
        "Sigma detection and correlation rules in force.",
        "",
        rules.status.loaded as u64,
    );
    out.gauge(
        "vigil_rules_rejected",
        "Rules of the rule directories that did not load (see GET /api/v1/rules).",
        "",
        rules.status.rejected.len() as u64,
    );
    out.gauge(
        "vigil_rules_reload_failed",
        "1 while the last rules reload (SIGHUP or POST /api/v1/rules/reload) failed and none has succeeded since: the rules in force are older than the directories (GET /api/v1/rules says why).",
        "",
        u64::from(state.ingestor.rules().reload_failure().is_some()),
    );
    // Pages that reached nobody wait in the store to be tried again: a mail relay or webhook
    // that stays down shows here before anyone misses a page.
    let (pending, oldest) = state
        .store
        .page_retry_backlog()
        .await
        .map_err(crate::store_error)?;
    out.gauge(
        "vigil_pages_undelivered",
        "Pages that reached their person on no contact yet and are tried again until delivered or the alert is acknowledged.",
        "",
        pending,
    );
    out.gauge(
        "vigil_pages_undelivered_oldest_seconds",
        "How long the oldest undelivered page has been failing (0 when none is).",
        "",
        oldest.map_or(0, |t| (chrono::Utc::now() - t).num_seconds().max(0) as u64),
    );
    if let Some(syslog) = &state.syslog {
        let s = syslog.stats();
        out.counter(
            "vigil_syslog_messages_received_total",
            "Syslog messages received (TCP frames and UDP datagrams).",
            s.received,
        );
        out.counter(
            "vigil_syslog_events_stored_total",
            "Syslog messages stored as events.",
            s.stored,
        );
        out.counter(
            "vigil_syslog_messages_rejected_total",
            "Syslog messages not stored (unparsable, oversized, refused or lost).",
            s.rejected,
        );
        out.counter(
            "vigil_syslog_events_lost_total",
            "Of the rejected syslog messages, those of batches the store failed to take and those a sender was still sending when a clean stop had read for as long as it may.",
            s.lost,
        );
        out.counter(
            "vigil_syslog_connections_evicted_total",
            "Syslog TCP connections closed, the one idle longest each time, to take a new one in because the most allowed were open.",
            s.evicted_connections,
        );
    }
    out.float_counter(
        "process_cpu_seconds_total",
        "CPU time of the server process, user and system, every thread.",
        process_cpu_seconds(),
    );
    if let Some(rss) = resident_bytes() {
        out.gauge(
            "process_resident_memory_bytes",
            "Resident memory of the server process.",
            "",
            rss,
        );
    }
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], out.text).into_response())
}

/// The Prometheus text format, one metric family at a time.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn head(&mut self, name: &str, help: &str, kind: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    /// One sample; `labels` is empty or a label set as written (`{step="decode"}`).
    fn sample(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) {
        let _ = writeln!(self.text, "{name}{labels} {value}");
    }

    fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.head(name, help, "counter");
        self.sample(name, "", value);
    }

    fn float_counter(&mut self, name: &str, help: &str, value: f64) {
        self.head(name, help, "counter");
        self.sample(name, "", format_args!("{value:.6}"));
    }

    /// `labels` is empty or a label set as written (`{version="1.0"}`).
    fn gauge(&mut self, name: &str, help: &str, labels: &str, value: u64) {
        self.head(name, help, "gauge");
        self.sample(name, labels, value);
    }
}

/// `{service="…",tenant="…"}`, the values escaped as the text format requires.
fn source_labels(service: &str, tenant: &str) -> String {
    format!(
        "{{service=\"{}\",tenant=\"{}\"}}",
        label_value(service),
        label_value(tenant)
    )
}

/// A label value with `\`, `"` and line feeds escaped.
fn label_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// CPU time of every thread of the process, the ones that have ended too (Tantivy starts
/// indexing threads anew at each commit).
fn process_cpu_seconds() -> f64 {
    let cpu = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    cpu.tv_sec as f64 + cpu.tv_nsec as f64 / 1e9
}

/// `VmRSS` of `/proc/self/status` (Linux).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::source_labels;

    #[test]
    fn label_values_are_escaped_as_the_text_format_requires() {
        assert_eq!(source_labels("web", ""), r#"{service="web",tenant=""}"#);
        assert_eq!(
            source_labels("a\"b\\c\nd", "t"),
            r#"{service="a\"b\\c\nd",tenant="t"}"#
        );
    }
}
