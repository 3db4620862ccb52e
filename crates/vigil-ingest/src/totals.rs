//! What the ingest path did since the process started, for an operator's monitoring
//! ([`crate::Ingestor::totals`]): counters over every entry point, the same per sending
//! service and tenant (with the time each last stored an event: a source that falls silent is
//! a gap in the central log, and the first thing to alert on), how long batches took from
//! arrival to acknowledgement, and where that time went.
//!
//! Counting is off the per-event path: a batch adds its counts once, and its events are grouped
//! by source before the one lock is taken.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::pipeline::IngestReport;

/// The upper bounds, in seconds, of the batch latency histogram's buckets (and `+Inf`).
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Sources (service, tenant) counted one by one; the events of any further source are counted
/// under [`OTHER_SOURCES`], so that senders naming services at will (syslog's APP-NAME) cannot
/// grow the counters without bound. (The metrics route shows fewer, see
/// [`IngestTotals::top_sources`]; the silence watch reads them all.)
pub const MAX_SOURCES: usize = 10_000;

/// The service the events of sources beyond a limit are counted under.
pub const OTHER_SOURCES: &str = "(other)";

/// What the ingest path did since the process started, over every entry point.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestTotals {
    /// Batches stored (an HTTP body, a group of syslog messages, a piece of a file).
    pub batches: u64,
    /// Events stored durably.
    pub stored: u64,
    /// Events refused, each with its reason in its batch's answer.
    pub rejected: u64,
    /// Batches the log store refused whole, and their events, by [`NotStoredReason`] (in its
    /// order): the sender was told nothing of them was stored.
    pub not_stored: Vec<NotStored>,
    /// Detections recorded for the stored events, with their batches or later (correlations
    /// decided by a run over the store or by the correlation clock).
    pub detections: u64,
    /// New alerts raised from them.
    pub alerts: u64,
    /// Time the batches spent in each step.
    pub steps: StepSeconds,
    /// How long batches took from the moment the ingest path took them (decoded or not) to
    /// their answer.
    pub latency: LatencyHistogram,
    /// Events stored per source, ordered by service then tenant.
    pub sources: Vec<SourceTotals>,
    /// When each service last had an event stored, whatever its tenant, ordered by service
    /// (across restarts when the server keeps them, see `Ingestor::keep_received_in`):
    /// kept apart from `sources` so that a service is known by name even when its sources
    /// came after [`MAX_SOURCES`] others (as many tenants bring). At most [`MAX_SOURCES`]
    /// services as well.
    pub services: Vec<(String, DateTime<Utc>)>,
}

impl IngestTotals {
    /// The `n` sources with the most events stored (ties in name order), and the others
    /// folded into one under [`OTHER_SOURCES`] (their events summed, their latest time), for
    /// a consumer that must hold few series (a metrics scrape).
    pub fn top_sources(&self, n: usize) -> Vec<SourceTotals> {
        let mut sources = self.sources.clone();
        if sources.len() <= n {
            return sources;
        }
        sources.sort_by(|a, b| {
            b.stored
                .cmp(&a.stored)
                .then_with(|| (&a.service, &a.tenant).cmp(&(&b.service, &b.tenant)))
        });
        let rest = sources.split_off(n);
        let mut other = SourceTotals {
            service: OTHER_SOURCES.to_owned(),
            tenant: String::new(),
            stored: 0,
            last_stored: DateTime::<Utc>::MIN_UTC,
        };
        for source in rest {
            other.stored += source.stored;
            other.last_stored = other.last_stored.max(source.last_stored);
        }
        match sources
            .iter_mut()
            .find(|s| (s.service.as_str(), s.tenant.as_str()) == (OTHER_SOURCES, ""))
        {
            Some(counted) => {
                counted.stored += other.stored;
                counted.last_stored = counted.last_stored.max(other.last_stored);
            }
            None => sources.push(other),
        }
        sources.sort_by(|a, b| (&a.service, &a.tenant).cmp(&(&b.service, &b.tenant)));
        sources
    }
}

/// Why the log store refused a batch whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotStoredReason {
    /// Its journal could not write it: a full disk, an I/O error (`LogError::NotStored`).
    Journal,
    /// The log store has shut down (`LogError::Closed`).
    Closed,
    /// Anything else the append failed with.
    Other,
}

impl NotStoredReason {
    /// Every reason, in the order [`IngestTotals::not_stored`] lists them.
    pub const ALL: [NotStoredReason; 3] = [
        NotStoredReason::Journal,
        NotStoredReason::Closed,
        NotStoredReason::Other,
    ];

    /// The reason of an append's error.
    pub fn of(error: &vigil_logs::LogError) -> NotStoredReason {
        match error {
            vigil_logs::LogError::NotStored { .. } => NotStoredReason::Journal,
            vigil_logs::LogError::Closed(_) => NotStoredReason::Closed,
            _ => NotStoredReason::Other,
        }
    }

    /// Its name, as a metric's label.
    pub fn as_str(self) -> &'static str {
        match self {
            NotStoredReason::Journal => "journal",
            NotStoredReason::Closed => "closed",
            NotStoredReason::Other => "other",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The batches and events the log store refused for one reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotStored {
    /// Why.
    pub reason: NotStoredReason,
    /// Batches refused.
    pub batches: u64,
    /// The events they held (those decoded: events refused on their own are counted in
    /// `rejected`).
    pub events: u64,
}

/// Seconds spent in each step of the batches, summed over them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepSeconds {
    /// Cutting a body into events and parsing them.
    pub decode: f64,
    /// Matching against the rules and preparing the events for the log store.
    pub detect: f64,
    /// Appending to the log store, until durable.
    pub append: f64,
    /// Recording detections and raising alerts.
    pub record: f64,
}

/// A cumulative histogram as Prometheus reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyHistogram {
    /// For each bound of [`LATENCY_BUCKETS`], the batches that took at most that long.
    pub buckets: Vec<(f64, u64)>,
    /// Batches counted (the `+Inf` bucket).
    pub count: u64,
    /// Their durations summed, in seconds.
    pub sum: f64,
}

/// The events one source had stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceTotals {
    /// Its service ([`OTHER_SOURCES`] for those beyond [`MAX_SOURCES`]).
    pub service: String,
    /// Its tenant (may be empty).
    pub tenant: String,
    /// Events stored.
    pub stored: u64,
    /// When the last of them was stored (the server's clock, not the event's time).
    pub last_stored: DateTime<Utc>,
}

/// The time each step of a batch took.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Steps {
    pub decode: Duration,
    pub detect: Duration,
    pub append: Duration,
    pub record: Duration,
}

#[derive(Debug, Default)]
struct SourceCount {
    stored: u64,
    last_stored: DateTime<Utc>,
}

/// The counters behind [`IngestTotals`].
#[derive(Debug, Default)]
pub(crate) struct TotalCounters {
    batches: AtomicU64,
    stored: AtomicU64,
    rejected: AtomicU64,
    /// Per [`NotStoredReason`]: batches refused by the log store, then their events.
    not_stored: [(AtomicU64, AtomicU64); NotStoredReason::ALL.len()],
    detections: AtomicU64,
    alerts: AtomicU64,
    /// Nanoseconds per step: decode, detect, append, record.
    step_nanos: [AtomicU64; 4],
    /// Per bucket of [`LATENCY_BUCKETS`] (not cumulative), then those above the last.
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_nanos: AtomicU64,
    sources: Mutex<Sources>,
}

#[derive(Debug, Default)]
struct Sources {
    by_source: HashMap<(String, String), SourceCount>,
    /// When each service last had an event stored (in this run, or in an earlier one: see
    /// [`TotalCounters::heard_before`]).
    by_service: HashMap<String, DateTime<Utc>>,
}

impl TotalCounters {
    /// Counts a batch's answer (or detections recorded later, which come as reports of no
    /// event of their own: not a batch) and the time its steps took.
    pub fn count(&self, report: &IngestReport, steps: Steps) {
        let add = |counter: &AtomicU64, n: usize| counter.fetch_add(n as u64, Ordering::Relaxed);
        if !report.stored.is_empty() || !report.rejected.is_empty() {
            add(&self.batches, 1);
        }
        add(&self.stored, report.stored.len());
        add(&self.rejected, report.rejected.len());
        add(&self.detections, report.detections);
        add(&self.alerts, report.alerts);
        for (counter, step) in
            self.step_nanos
                .iter()
                .zip([steps.decode, steps.detect, steps.append, steps.record])
        {
            counter.fetch_add(nanos(step), Ordering::Relaxed);
        }
    }

    /// Counts a batch of `events` events the log store refused whole with `error`.
    pub fn not_stored(&self, error: &vigil_logs::LogError, events: usize) {
        let (batches, counted) = &self.not_stored[NotStoredReason::of(error).index()];
        batches.fetch_add(1, Ordering::Relaxed);
        counted.fetch_add(events as u64, Ordering::Relaxed);
    }

    /// Counts how long a batch took to be answered.
    pub fn latency(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_nanos.fetch_add(nanos(took), Ordering::Relaxed);
    }

    /// Counts the events of a batch stored per source: `sources` gives each stored event's
    /// (service, tenant), in batch order (runs of one source, as a body or a syslog burst has
    /// them, cost one comparison per event).
    pub fn stored_from<'a>(
        &self,
        sources: impl Iterator<Item = (&'a str, &'a str)>,
        at: DateTime<Utc>,
    ) {
        let mut runs: Vec<((&str, &str), u64)> = Vec::new();
        for source in sources {
            match runs.iter_mut().find(|(s, _)| *s == source) {
                Some((_, n)) => *n += 1,
                None => runs.push((source, 1)),
            }
        }
        if runs.is_empty() {
            return;
        }
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        let Sources {
            by_source,
            by_service,
        } = &mut *sources;
        for ((service, tenant), n) in runs {
            let key = (service.to_owned(), tenant.to_owned());
            let key = if by_source.contains_key(&key) || by_source.len() < MAX_SOURCES {
                key
            } else {
                (OTHER_SOURCES.to_owned(), String::new())
            };
            let count = by_source.entry(key).or_default();
            count.stored += n;
            count.last_stored = count.last_stored.max(at);
            if let Some(last) = by_service.get_mut(service) {
                *last = (*last).max(at);
            } else if by_service.len() < MAX_SOURCES {
                by_service.insert(service.to_owned(), at);
            }
        }
    }

    /// Takes back when services last had an event stored in an earlier run of the server (a
    /// restart does not make "last received" unknown); a later time of this run wins.
    pub fn heard_before(&self, heard: impl IntoIterator<Item = (String, DateTime<Utc>)>) {
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        for (service, at) in heard {
            if let Some(last) = sources.by_service.get_mut(&service) {
                *last = (*last).max(at);
            } else if sources.by_service.len() < MAX_SOURCES {
                sources.by_service.insert(service, at);
            }
        }
    }

    pub fn snapshot(&self) -> IngestTotals {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let seconds = |nanos: u64| nanos as f64 / 1e9;
        let mut cumulative = 0;
        let buckets = LATENCY_BUCKETS
            .iter()
            .zip(&self.latency_buckets)
            .map(|(bound, n)| {
                cumulative += get(n);
                (*bound, cumulative)
            })
            .collect();
        let count = cumulative + get(&self.latency_buckets[LATENCY_BUCKETS.len()]);
        let counted = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        let mut services: Vec<(String, DateTime<Utc>)> = counted
            .by_service
            .iter()
            .map(|(service, at)| (service.clone(), *at))
            .collect();
        services.sort();
        let mut sources: Vec<SourceTotals> = counted
            .by_source
            .iter()
            .map(|((service, tenant), c)| SourceTotals {
                service: service.clone(),
                tenant: tenant.clone(),
                stored: c.stored,
                last_stored: c.last_stored,
            })
            .collect();
        drop(counted);
        sources.sort_by(|a, b| (&a.service, &a.tenant).cmp(&(&b.service, &b.tenant)));
        IngestTotals {
            batches: get(&self.batches),
            stored: get(&self.stored),
            rejected: get(&self.rejected),
            not_stored: NotStoredReason::ALL
                .iter()
                .map(|&reason| {
                    let (batches, events) = &self.not_stored[reason.index()];
                    NotStored {
                        reason,
                        batches: get(batches),
                        events: get(events),
                    }
                })
                .collect(),
            detections: get(&self.detections),
            alerts: get(&self.alerts),
            steps: StepSeconds {
                decode: seconds(get(&self.step_nanos[0])),
                detect: seconds(get(&self.step_nanos[1])),
                append: seconds(get(&self.step_nanos[2])),
                record: seconds(get(&self.step_nanos[3])),
            },
            latency: LatencyHistogram {
                buckets,
                count,
                sum: seconds(get(&self.latency_nanos)),
            },
            sources,
            services,
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    #[test]
    fn latencies_fall_into_cumulative_buckets_with_their_sum() {
        let counters = TotalCounters::default();
        for ms in [0, 1, 3, 40, 20_000] {
            counters.latency(Duration::from_millis(ms));
        }
        let latency = counters.snapshot().latency;
        assert_eq!(latency.count, 5);
        assert!((latency.sum - 20.044).abs() < 1e-9, "{}", latency.sum);
        let at_most = |bound: f64| {
            latency
                .buckets
                .iter()
                .find(|(b, _)| *b == bound)
                .map(|(_, n)| *n)
                .unwrap()
        };
        assert_eq!(
            at_most(0.001),
            2,
            "0 and 1 ms: a bound holds what equals it"
        );
        assert_eq!(at_most(0.0025), 2);
        assert_eq!(at_most(0.005), 3);
        assert_eq!(at_most(0.05), 4);
        assert_eq!(at_most(10.0), 4, "20 s is only in +Inf");
    }

    #[test]
    fn sources_are_counted_per_service_and_tenant_with_their_last_time() {
        let counters = TotalCounters::default();
        counters.stored_from(
            [
                ("web", "acme"),
                ("web", "acme"),
                ("dns", ""),
                ("web", "acme"),
            ]
            .into_iter(),
            at(100),
        );
        counters.stored_from([("web", "acme")].into_iter(), at(200));
        counters.stored_from([("web", "other")].into_iter(), at(150));
        let sources = counters.snapshot().sources;
        let seen: Vec<(&str, &str, u64, i64)> = sources
            .iter()
            .map(|s| {
                (
                    s.service.as_str(),
                    s.tenant.as_str(),
                    s.stored,
                    s.last_stored.timestamp(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("dns", "", 1, 100),
                ("web", "acme", 4, 200),
                ("web", "other", 1, 150)
            ]
        );
    }

    #[test]
    fn sources_beyond_the_limit_are_counted_together() {
        let counters = TotalCounters::default();
        let names: Vec<String> = (0..MAX_SOURCES + 5).map(|i| format!("app{i}")).collect();
        counters.stored_from(names.iter().map(|n| (n.as_str(), "")), at(1));
        // A source counted already goes on being counted under its name.
        counters.stored_from([("app0", "")].into_iter(), at(2));
        let sources = counters.snapshot().sources;
        assert_eq!(sources.len(), MAX_SOURCES + 1);
        let other = sources.iter().find(|s| s.service == OTHER_SOURCES).unwrap();
        assert_eq!(other.stored, 5);
        let first = sources.iter().find(|s| s.service == "app0").unwrap();
        assert_eq!((first.stored, first.last_stored), (2, at(2)));
        assert_eq!(
            sources.iter().map(|s| s.stored).sum::<u64>(),
            MAX_SOURCES as u64 + 6
        );
    }

    #[test]
    fn a_service_is_known_by_name_when_its_tenants_came_beyond_the_limit() {
        let counters = TotalCounters::default();
        let tenants: Vec<String> = (0..MAX_SOURCES).map(|i| format!("t{i}")).collect();
        counters.stored_from(tenants.iter().map(|t| ("web", t.as_str())), at(1));
        counters.stored_from([("dns", "t0"), ("web", "new")].into_iter(), at(7));
        let totals = counters.snapshot();
        assert!(!totals.sources.iter().any(|s| s.service == "dns"));
        assert_eq!(
            totals.services,
            [("dns".to_owned(), at(7)), ("web".to_owned(), at(7))]
        );
    }

    #[test]
    fn services_heard_in_an_earlier_run_keep_their_time_until_they_send_again() {
        let counters = TotalCounters::default();
        counters.stored_from([("web", "acme")].into_iter(), at(5));
        counters.heard_before([("web".to_owned(), at(9)), ("dns".to_owned(), at(2))]);
        counters.heard_before([("web".to_owned(), at(1))]);
        assert_eq!(
            counters.snapshot().services,
            [("dns".to_owned(), at(2)), ("web".to_owned(), at(9))]
        );
        counters.stored_from([("dns", "acme")].into_iter(), at(12));
        assert_eq!(counters.snapshot().services[0], ("dns".to_owned(), at(12)));
    }

    #[test]
    fn a_scrape_gets_the_busiest_sources_and_the_rest_folded() {
        let counters = TotalCounters::default();
        counters.stored_from(
            [("quiet", ""), ("busy", "a"), ("busy", "a")].into_iter(),
            at(5),
        );
        counters.stored_from([("mid", ""), ("mid", ""), ("late", "")].into_iter(), at(9));
        let totals = counters.snapshot();
        assert_eq!(
            totals.top_sources(10),
            totals.sources,
            "few enough: all of them"
        );
        let top: Vec<(String, u64, i64)> = totals
            .top_sources(2)
            .into_iter()
            .map(|s| (s.service, s.stored, s.last_stored.timestamp()))
            .collect();
        assert_eq!(
            top,
            [
                (OTHER_SOURCES.to_owned(), 2, 9),
                ("busy".to_owned(), 2, 5),
                ("mid".to_owned(), 2, 9),
            ]
        );
    }

    #[test]
    fn steps_and_counts_add_up_over_batches() {
        let counters = TotalCounters::default();
        let report = IngestReport {
            stored: vec![1, 2, 3],
            detections: 2,
            ..IngestReport::default()
        };
        let steps = Steps {
            decode: Duration::from_millis(1),
            detect: Duration::from_millis(2),
            append: Duration::from_millis(3),
            record: Duration::from_millis(4),
        };
        counters.count(&report, steps);
        counters.count(&report, steps);
        // Detections recorded later: no batch of their own.
        counters.count(
            &IngestReport {
                detections: 1,
                ..IngestReport::default()
            },
            Steps::default(),
        );
        let totals = counters.snapshot();
        assert_eq!(
            (totals.batches, totals.stored, totals.detections),
            (2, 6, 5)
        );
        let s = totals.steps;
        assert!((s.decode - 0.002).abs() < 1e-9 && (s.record - 0.008).abs() < 1e-9);
        assert!((s.detect - 0.004).abs() < 1e-9 && (s.append - 0.006).abs() < 1e-9);
    }
}
