//! Sigma correlation rules on the ingest stream: the matches of every batch are fed, in the
//! order they arrived, to correlation state that lives from batch to batch, one state per
//! tenant (one tenant's failed logons never add up with another's).
//!
//! The state is kept in memory: a clean stop saves it ([`Correlations::save`]) for the next
//! start to take back; after a crash the next start rebuilds it from the stored events
//! ([`Correlations::rebuild`]); a rule reload keeps the windows of the correlations that read
//! events the same way (`CorrelationState::carry_over`).
//! An event is correlated with the events of its tenant that arrived within its rules'
//! timespans.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use chrono::Utc;
use vigil_detect::{
    CorrelationMatch, CorrelationState, Event, GroupValue, MappedEvent, RuleId, SavedWindow,
    WindowsHeld,
};
use vigil_events::json::JsonEvent;
use vigil_logs::{EventStore, LogError, SearchRequest, StoredEvent, TimeRange};
use vigil_query::{Expr, Query};

use crate::org::OrgView;
use crate::rules::LoadedRules;

/// How far ahead of the server's clock an event's time may be and still move correlation
/// time forward: a sender with a wrong clock must not make every window expire.
const MAX_CLOCK_AHEAD_MS: i64 = 5 * 60 * 1000;

/// How long the stream may stay silent before correlation time goes on without it, at the
/// server clock's pace ([`Correlations::pass_idle_time`]): long enough for senders that batch
/// or lag a little not to find their events' windows decided already.
pub const IDLE_GRACE_MS: i64 = 5 * 60 * 1000;

/// How much later than the correlations' reach an event may come and still be fed to the live
/// windows (as any event within the reach is): senders that forward in batches or lag a
/// little stay in the live stream; only logs held back longer go to a run over the store.
pub const LATE_GRACE_MS: i64 = 5 * 60 * 1000;

/// How long a tenant's late events (see `Inner::late`) must have stopped coming before the
/// correlations are run over their span in the store: a collection ingested late streams in
/// over minutes, and its span is read once, whole.
pub const LATE_SETTLE_MS: i64 = 60 * 1000;

/// The longest a span of late events waits for its run while late events keep coming (a
/// backlog forwarded for hours): then it runs over what came so far, and those that come
/// next make a new span (a run reads the store around its span, so windows across the two are
/// seen whole by the second).
pub const LATE_MAX_WAIT_MS: i64 = 10 * 60 * 1000;

/// The most stored events one run over a late span reads ([`Correlations::correlate_late`]).
const LATE_READ_LIMIT: usize = 20_000_000;

/// About how many stored events such a run reads at a time: the span is cut into slices of
/// time holding this many on average.
pub const LATE_SLICE_EVENTS: u64 = 100_000;

/// The most JSON the correlations keep as evidence. Windows hold every matching event of their
/// timespan — a correlation over a day of a busy rule could hold millions — and their JSON
/// would then dwarf the rest; past this, events are still counted in their windows but their
/// text is not kept (an alert then shows the events whose text was, or the one that completed
/// it).
const MAX_EVIDENCE_BYTES: usize = 64 << 20;

/// Stored events read per page when rebuilding the windows.
const REBUILD_PAGE: usize = 10_000;

/// The correlation state of the running rule set.
#[derive(Debug, Default)]
pub struct Correlations {
    inner: Mutex<Inner>,
    /// Wakes the batches that wait for a rebuild to end.
    rebuilt: Condvar,
}

#[derive(Debug, Default)]
struct Inner {
    held: Option<Held>,
    /// While the windows are rebuilt from the log store, batches leave their events in
    /// `deferred` (or, past [`MAX_DEFERRED_BYTES`], wait): the rebuilt past goes first.
    rebuilding: bool,
    /// Stored events that arrived during a rebuild, in arrival order, correlated after it.
    deferred: Vec<Deferred>,
    /// The JSON bytes of `deferred`.
    deferred_bytes: usize,
    /// Per tenant, the span of the matched events that came later than the correlations'
    /// reach (and [`LATE_GRACE_MS`]) before correlation time (a collection of old logs
    /// ingested out of order, a sender that held its logs back): the windows they belonged in
    /// are gone, so they are not fed to the live windows — where they would count with only
    /// some of their group — but run over the store, in time order with every event of their
    /// span, once they stop coming ([`Correlations::due_late`],
    /// [`Correlations::correlate_late`]). Kept apart from the windows: they do not depend on
    /// the rules.
    late: HashMap<String, LateSpan>,
    /// Where the spans of late events are written before their batch is acknowledged, so that
    /// a crash does not forget them ([`Correlations::keep_late_in`]).
    late_file: Option<LateFile>,
}

/// The file that keeps the spans of late events across a crash: per tenant, the whole days
/// their spans and the runs under way cover (whole days, so that a span that grows event by
/// event is written once a day of its time rather than once a batch).
#[derive(Debug)]
struct LateFile {
    path: std::path::PathBuf,
    /// What the file holds now.
    written: HashMap<String, (i64, i64)>,
    /// Spans taken for a run whose detections are not recorded yet
    /// ([`Correlations::late_recorded`]).
    running: Vec<(String, LateSpan)>,
}

/// A day in ms.
const DAY_MS: i64 = 24 * 3600 * 1000;

impl LateFile {
    /// The days that `late` and the runs under way cover, per tenant.
    fn cover(&self, late: &HashMap<String, LateSpan>) -> HashMap<String, (i64, i64)> {
        let mut cover: HashMap<String, (i64, i64)> = HashMap::new();
        let spans = late.iter().chain(self.running.iter().map(|(t, s)| (t, s)));
        for (tenant, span) in spans {
            let from = span.from_ms - span.from_ms.rem_euclid(DAY_MS);
            let to = span.to_ms - span.to_ms.rem_euclid(DAY_MS) + (DAY_MS - 1);
            cover
                .entry(tenant.clone())
                .and_modify(|(f, t)| {
                    *f = (*f).min(from);
                    *t = (*t).max(to);
                })
                .or_insert((from, to));
        }
        cover
    }

    /// Writes what `late` and the runs cover if the file does not hold it, durably (written
    /// beside, synced, renamed); removes the file when nothing is left.
    fn sync(&mut self, late: &HashMap<String, LateSpan>) -> std::io::Result<()> {
        let cover = self.cover(late);
        let held = |(tenant, (from, to)): (&String, &(i64, i64))| {
            self.written
                .get(tenant)
                .is_some_and(|(f, t)| f <= from && to <= t)
        };
        if cover.iter().all(held) && cover.len() == self.written.len() {
            return Ok(());
        }
        if cover.is_empty() {
            match std::fs::remove_file(&self.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        } else {
            let spans: Vec<(&String, LateSpan)> = cover
                .iter()
                .map(|(tenant, &(from, to))| (tenant, LateSpan::between(from, to)))
                .collect();
            let bytes = serde_json::to_vec(&spans).map_err(std::io::Error::other)?;
            crate::state_file::replace_durably(&self.path, &bytes)?;
        }
        self.written = cover;
        Ok(())
    }
}

/// The most JSON the events deferred during a rebuild may hold; batches beyond it wait for the
/// rebuild instead (back-pressure rather than unbounded memory).
const MAX_DEFERRED_BYTES: usize = 64 << 20;

/// A stored event that arrived while the windows were being rebuilt: what correlating it later
/// and recording the correlations it completes take.
#[derive(Debug, Clone)]
pub struct Deferred {
    /// Its id in the log store.
    pub id: u64,
    /// Its time.
    pub time: chrono::DateTime<Utc>,
    /// Who sent it.
    pub envelope: crate::Envelope,
    /// Its JSON text, as stored.
    pub json: String,
    /// The detection rules it matched (reported or not).
    pub matched: Vec<RuleId>,
}

/// The correlations completed by events deferred during a rebuild, once it has run: they are
/// recorded then, as their batches were acknowledged before. Also those completed by events
/// whose batch a crash may have left unrecorded, read back by the rebuild.
#[derive(Debug, Clone, Default)]
pub struct Late {
    /// The events, in the order they were fed ([`Fired::index`] points into it).
    pub events: Vec<Deferred>,
    /// What fired when they were correlated.
    pub fired: Vec<Fired>,
}

impl Late {
    /// These firings, then `next`'s.
    pub(crate) fn then(mut self, next: Late) -> Late {
        let offset = self.events.len();
        self.events.extend(next.events);
        self.fired.extend(next.fired.into_iter().map(|fired| Fired {
            index: fired.index + offset,
            ..fired
        }));
        self
    }
}

/// A run of the correlations over the store around late events
/// ([`Correlations::correlate_late`]).
struct LateSweep {
    span: LateSpan,
    state: CorrelationState,
    /// The events the windows hold, by stored id (tags), with the rules they matched.
    held: HashMap<u64, (StoredEvent, Vec<RuleId>)>,
    /// What the last step found, not yet taken.
    found: Vec<CorrelationMatch>,
    late: Late,
}

impl LateSweep {
    /// Keeps what fired with one of the span's events among its own, on its last event, and
    /// lets go of the events no window holds any more.
    fn take_found(&mut self) {
        let span = self.span;
        for found in std::mem::take(&mut self.found) {
            let in_span = found.events.iter().any(|id| {
                self.held.get(id).is_some_and(|(stored, _)| {
                    (span.from_ms..=span.to_ms).contains(&stored.time.timestamp_millis())
                })
            });
            let last = found.events.last().and_then(|id| self.held.get(id));
            let (true, Some((stored, counts))) = (in_span, last) else {
                continue;
            };
            self.late.events.push(Deferred {
                id: stored.id,
                time: stored.time,
                envelope: crate::Envelope::of(stored),
                json: stored.json.clone(),
                matched: counts.clone(),
            });
            let events = found
                .events
                .iter()
                .filter_map(|id| {
                    let (stored, _) = self.held.get(id)?;
                    Some((*id, Arc::from(stored.json.as_str())))
                })
                .collect();
            self.late.fired.push(Fired {
                index: self.late.events.len() - 1,
                found,
                events,
            });
        }
        if self.held.len() > 2 * self.state.len() + 1024 {
            let live: HashSet<u64> = self.state.tags().collect();
            self.held.retain(|id, _| live.contains(id));
        }
    }
}

#[derive(Debug)]
struct Held {
    /// The set the state was made for; a reload replaces it, and the state with it.
    rules: Arc<LoadedRules>,
    by_tenant: HashMap<String, CorrelationState>,
    /// Correlation time: the latest event time seen (bounded by the server's clock), moved on
    /// by the clock while the stream is silent: windows that end before it are dropped.
    now_ms: i64,
    /// The server's clock when a batch last brought stored events, and the correlation time
    /// then: while no event arrives, correlation time goes on from there at the clock's pace
    /// (after [`IDLE_GRACE_MS`]). `None` until the first batch or idle tick after a start.
    last_fed: Option<LastFed>,
    /// The JSON of the events the state holds, by stored id: the evidence of a correlation
    /// that fires may have arrived in earlier batches.
    json: HashMap<u64, Arc<str>>,
    /// The bytes of `json`, at most [`MAX_EVIDENCE_BYTES`].
    json_bytes: usize,
    /// Who sent each event the state holds, by stored id: a window decided at its close (see
    /// [`Correlated::closed`]) is recorded on its last event, which came in an earlier batch.
    senders: HashMap<u64, crate::Envelope>,
}

impl Inner {
    /// Writes the spans of late events to their file if they outgrew it: before the batch
    /// that brought them is acknowledged.
    fn sync_late_file(&mut self) {
        if let Some(file) = self.late_file.as_mut()
            && let Err(e) = file.sync(&self.late)
        {
            tracing::error!(file = %file.path.display(), error = %e, "could not write the spans of late events; a crash before their run would forget them");
        }
    }
}

/// Adds `span` to `tenant`'s span of late events.
fn add_late(late: &mut HashMap<String, LateSpan>, tenant: String, span: LateSpan) {
    late.entry(tenant)
        .and_modify(|held| {
            held.from_ms = held.from_ms.min(span.from_ms);
            held.to_ms = held.to_ms.max(span.to_ms);
            held.seen_ms = held.seen_ms.max(span.seen_ms);
            held.opened_ms = held.opened_ms.min(span.opened_ms);
        })
        .or_insert(span);
}

impl Held {
    /// After a reload: the windows of correlations that read events the same way go on.
    fn carry_over(&mut self, rules: &Arc<LoadedRules>) {
        let old = std::mem::replace(&mut self.rules, Arc::clone(rules));
        self.by_tenant = std::mem::take(&mut self.by_tenant)
            .into_iter()
            .map(|(tenant, state)| (tenant, state.carry_over(&old.set, &rules.set)))
            .collect();
    }
}

/// The times of a tenant's late events (see `Inner::late`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LateSpan {
    /// The oldest's time, in ms since the epoch.
    pub from_ms: i64,
    /// The newest's time, in ms since the epoch.
    pub to_ms: i64,
    /// The server's clock when the last of them came, and when the first did (not saved:
    /// after a restart the span is due at once).
    #[serde(skip)]
    seen_ms: i64,
    #[serde(skip)]
    opened_ms: i64,
}

impl LateSpan {
    /// The span from `from_ms` to `to_ms` (both included), due at once.
    pub fn between(from_ms: i64, to_ms: i64) -> LateSpan {
        LateSpan {
            from_ms,
            to_ms,
            seen_ms: 0,
            opened_ms: 0,
        }
    }
}

/// When the stream last brought events ([`Held::last_fed`]).
#[derive(Debug, Clone, Copy)]
struct LastFed {
    /// The server's clock then, in ms since the epoch.
    server_ms: i64,
    /// Correlation time then.
    stream_ms: i64,
}

/// What feeding a batch's events to the correlations found.
#[derive(Debug, Default)]
pub struct Correlated {
    /// The correlations the batch's events completed ([`Fired::index`]: their place in it).
    pub fired: Vec<Fired>,
    /// The windows of counts bounded from above decided once they had passed — by their
    /// group's next event, or because correlation time passed them while their group stayed
    /// quiet (`CorrelationState::prune`) —, and the windows an event completed that came
    /// before their latest in time: each fired on its window's last event, which the batch may
    /// not have brought (so that a detection's event is always one its window counted, and the
    /// one that completed it in event time).
    pub closed: Late,
    /// How many of the batch's events came too late for the live windows (see `Inner::late`).
    pub late: usize,
}

/// The correlation windows and their evidence, saved when the server stops and given back when
/// it starts, so that a planned restart does not forget what was counted.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SavedCorrelations {
    /// Per tenant, its windows.
    tenants: Vec<(String, Vec<SavedWindow>)>,
    now_ms: i64,
    /// Stored id and JSON of the events the windows hold.
    evidence: Vec<(u64, String)>,
    /// Stored id and sender of the events the windows hold (absent from a state saved by an
    /// older version: a window of it decided at its close is then not recorded).
    #[serde(default)]
    senders: Vec<(u64, crate::Envelope)>,
    /// Per tenant, the span of late events not yet correlated over the store.
    #[serde(default)]
    late: Vec<(String, LateSpan)>,
}

/// What a correlation's windows hold across tenants ([`Correlations::held`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationHeld {
    /// The correlation rule.
    pub rule: RuleId,
    /// Its groups with events in a window, in every tenant.
    pub groups: usize,
    /// The matched events its windows hold.
    pub events: usize,
    /// The time of the oldest of them, in ms since the epoch.
    pub oldest_ms: Option<i64>,
    /// The groups whose value is highest now, with their tenant, highest first (at most 5).
    pub top: Vec<(String, GroupValue)>,
}

impl CorrelationHeld {
    /// Adds what a tenant's windows hold.
    fn add(&mut self, tenant: &str, held: WindowsHeld) {
        self.groups += held.groups;
        self.events += held.events;
        self.oldest_ms = self.oldest_ms.into_iter().chain(held.oldest_ms).min();
        self.top
            .extend(held.top.into_iter().map(|group| (tenant.to_owned(), group)));
        self.top.sort_by(|(ta, a), (tb, b)| {
            b.value
                .total_cmp(&a.value)
                .then_with(|| (ta, &a.group).cmp(&(tb, &b.group)))
        });
        self.top.truncate(vigil_detect::TOP_GROUPS);
    }
}

/// What rebuilding the windows from the log store did ([`Correlations::rebuild`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// The stored events read back: those of the correlations' reach.
    pub read: u64,
    /// Of them, those a correlation counts (fed to the windows again).
    pub fed: u64,
    /// Whether reading stopped at the limit before the start of the reach: the oldest events
    /// of the windows are then missing.
    pub truncated: bool,
    /// The events the windows hold afterwards.
    pub held: usize,
    /// Events that arrived during the rebuild and were correlated after it.
    pub deferred: u64,
}

/// A stored event a correlation counts, parsed, with the rules it matched that one counts.
type Counted = (StoredEvent, JsonEvent, Vec<RuleId>);

/// Of `stored` events, those a correlation counts (matched as their service declares its logs).
fn counted(
    set: &vigil_detect::CompiledRuleSet,
    org: &OrgView,
    stored: impl Iterator<Item = StoredEvent>,
) -> Vec<Counted> {
    // The store accepted each as a JSON object; a parser that disagrees skips it.
    let parsed: Vec<(StoredEvent, JsonEvent)> = stored
        .filter_map(|stored| {
            let event = JsonEvent::parse(&stored.json).ok()?;
            Some((stored, event))
        })
        .collect();
    let matched = org.match_all(set, &parsed, |(stored, event)| (&stored.service, event));
    parsed
        .into_iter()
        .zip(matched)
        .filter_map(|((stored, event), mut rules)| {
            rules.retain(|&rule| set.feeds_correlation(rule));
            (!rules.is_empty()).then_some((stored, event, rules))
        })
        .collect()
}

/// One stored event of a batch as the correlations see it.
pub struct Fed<'a> {
    /// Its place in the batch.
    pub index: usize,
    /// Its id in the log store (the tag the correlations give back).
    pub id: u64,
    /// Who sent it (its tenant's windows count it).
    pub sender: &'a crate::Envelope,
    /// Its time, in ms since the epoch.
    pub timestamp_ms: i64,
    /// The event.
    pub event: &'a dyn Event,
    /// Its JSON text, as stored.
    pub json: &'a str,
    /// The detection rules it matched (reported or not).
    pub matched: &'a [RuleId],
}

/// A correlation that fired on an event of the batch.
#[derive(Debug, Clone)]
pub struct Fired {
    /// The place in the batch of the event that completed it.
    pub index: usize,
    /// What fired.
    pub found: CorrelationMatch,
    /// The stored id and JSON of every event that made it, oldest first.
    pub events: Vec<(u64, Arc<str>)>,
}

impl Correlations {
    /// What the windows hold, to save (empty windows too: a saved state, even empty, tells
    /// the next start that nothing was lost).
    pub fn save(&self) -> SavedCorrelations {
        let inner = self.settled();
        let late = inner
            .late
            .iter()
            .map(|(tenant, span)| (tenant.clone(), *span))
            .collect();
        let Some(held) = inner.held.as_ref() else {
            return SavedCorrelations {
                tenants: Vec::new(),
                now_ms: i64::MIN,
                evidence: Vec::new(),
                senders: Vec::new(),
                late,
            };
        };
        SavedCorrelations {
            tenants: held
                .by_tenant
                .iter()
                .map(|(tenant, state)| (tenant.clone(), state.export(&held.rules.set)))
                .filter(|(_, windows)| !windows.is_empty())
                .collect(),
            now_ms: held.now_ms,
            evidence: held
                .json
                .iter()
                .map(|(id, json)| (*id, json.to_string()))
                .collect(),
            senders: held
                .senders
                .iter()
                .map(|(id, sender)| (*id, sender.clone()))
                .collect(),
            late,
        }
    }

    /// Takes back saved windows for `rules`: those of correlations that read events as they
    /// did when saved (see `CorrelationState::carry_over`); the others start afresh.
    pub fn restore(&self, rules: &Arc<LoadedRules>, saved: SavedCorrelations) {
        let set = &rules.set;
        let by_tenant: HashMap<String, CorrelationState> = saved
            .tenants
            .into_iter()
            .map(|(tenant, windows)| (tenant, CorrelationState::import(set, windows)))
            .filter(|(_, state)| !state.is_empty())
            .collect();
        let live: HashSet<u64> = by_tenant
            .values()
            .flat_map(CorrelationState::tags)
            .collect();
        let json: HashMap<u64, Arc<str>> = saved
            .evidence
            .into_iter()
            .filter(|(id, _)| live.contains(id))
            .map(|(id, json)| (id, Arc::from(json)))
            .collect();
        let json_bytes = json.values().map(|j| j.len()).sum();
        let senders = saved
            .senders
            .into_iter()
            .filter(|(id, _)| live.contains(id))
            .collect();
        let mut inner = self.lock();
        inner.held = Some(Held {
            rules: Arc::clone(rules),
            by_tenant,
            now_ms: saved.now_ms,
            last_fed: None,
            json,
            json_bytes,
            senders,
        });
        for (tenant, span) in saved.late {
            add_late(&mut inner.late, tenant, span);
        }
    }

    /// Keeps the spans of late events in `path` from now on, written before the batch that
    /// brought them is acknowledged, and takes back those a crash left there (due at once).
    /// Returns how many it took back; a file it cannot read is an error, and is written over
    /// with the next late span.
    pub fn keep_late_in(&self, path: std::path::PathBuf) -> std::io::Result<usize> {
        let left: std::io::Result<Vec<(String, LateSpan)>> = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        };
        let mut inner = self.lock();
        let mut written = HashMap::new();
        for (tenant, span) in left.iter().flatten() {
            written.insert(tenant.clone(), (span.from_ms, span.to_ms));
            add_late(&mut inner.late, tenant.clone(), *span);
        }
        inner.late_file = Some(LateFile {
            path,
            written,
            running: Vec::new(),
        });
        left.map(|left| left.len())
    }

    /// Tells the file of late spans that the run over `span` has recorded what it found (or
    /// is given up), so that the file lets go of it; `retry` puts the span back to run again.
    pub fn late_recorded(&self, tenant: &str, span: LateSpan, retry: bool) {
        let mut inner = self.lock();
        if retry {
            add_late(&mut inner.late, tenant.to_owned(), span);
        }
        let inner = &mut *inner;
        if let Some(file) = inner.late_file.as_mut() {
            if let Some(at) = file
                .running
                .iter()
                .position(|(t, s)| t == tenant && *s == span)
            {
                file.running.remove(at);
            }
            if let Err(e) = file.sync(&inner.late) {
                tracing::warn!(file = %file.path.display(), error = %e, "could not update the file of late events' spans");
            }
        }
    }

    /// Rebuilds the windows a crash lost from the log store: reads back the stored events of
    /// the correlations' reach (their longest timespan, up to the newest stored event), matches
    /// them again as their service declares its logs, and feeds those a correlation counts,
    /// oldest first. A correlation completed on the way had completed (and was reported)
    /// before the crash, so it is not reported again; its group is cleared, as it was then.
    /// Reads at most `limit` events, the newest, and only those stored before `below_id`: the
    /// ones stored since [`Correlations::hold_back`] were deferred by their batches, and are
    /// correlated next, in arrival order (even when reading failed); what they complete is
    /// returned ([`Late`]) to be recorded. Then batches correlate again as they come.
    ///
    /// Events stored from `unrecorded_from` on may have been stored without their batch's
    /// detections ever being recorded (the crash came in between): what they complete is
    /// returned too, first in the [`Late`], for the caller to record what the store lacks.
    pub fn rebuild(
        &self,
        rules: &Arc<LoadedRules>,
        org: &OrgView,
        events: &dyn EventStore,
        limit: usize,
        below_id: u64,
        unrecorded_from: u64,
    ) -> (Result<Rebuilt, LogError>, Late) {
        let read = Self::read_back(rules, org, events, limit, below_id);
        let mut inner = self.lock();
        let now_ms = Utc::now().timestamp_millis();
        let mut unrecorded = Late::default();
        let result = read.map(|(rebuilt, kept)| {
            let mapped: Vec<Option<MappedEvent<'_>>> = kept
                .iter()
                .map(|(stored, event, _)| org.mapped(&stored.service, event))
                .collect();
            let senders: Vec<crate::Envelope> = kept
                .iter()
                .map(|(stored, _, _)| crate::Envelope::of(stored))
                .collect();
            let inner = &mut *inner;
            let Correlated { fired, closed, .. } = Self::feed_into(
                &mut inner.held,
                &mut inner.late,
                rules,
                kept.iter().zip(&mapped).zip(&senders).enumerate().map(
                    |(index, (((stored, event, counted), mapped), sender))| Fed {
                        index,
                        id: stored.id,
                        sender,
                        timestamp_ms: stored.time.timestamp_millis(),
                        event: match mapped {
                            Some(mapped) => mapped,
                            None => event,
                        },
                        json: &stored.json,
                        matched: counted,
                    },
                ),
                i64::MIN,
                now_ms,
            );
            // Windows decided at their close here may have been before the crash, or not (their
            // closing batch unrecorded): the caller records them unless the store has them.
            unrecorded = std::mem::take(&mut unrecorded).then(closed);
            for fired in fired {
                let (stored, _, counted) = &kept[fired.index];
                if stored.id < unrecorded_from {
                    continue;
                }
                unrecorded.events.push(Deferred {
                    id: stored.id,
                    time: stored.time,
                    envelope: crate::Envelope::of(stored),
                    json: stored.json.clone(),
                    matched: counted.clone(),
                });
                unrecorded.fired.push(Fired {
                    index: unrecorded.events.len() - 1,
                    ..fired
                });
            }
            rebuilt
        });
        let deferred = Self::correlate_deferred(&mut inner, rules, org, now_ms);
        inner.sync_late_file();
        inner.rebuilding = false;
        let held = inner
            .held
            .as_ref()
            .map_or(0, |h| h.by_tenant.values().map(CorrelationState::len).sum());
        drop(inner);
        self.rebuilt.notify_all();
        let result = result.map(|rebuilt| Rebuilt {
            held,
            deferred: deferred.events.len() as u64,
            ..rebuilt
        });
        (result, unrecorded.then(deferred))
    }

    /// The stored events of the correlations' reach that a correlation counts, oldest first,
    /// with what reading them found (see [`Correlations::rebuild`]).
    fn read_back(
        rules: &LoadedRules,
        org: &OrgView,
        events: &dyn EventStore,
        limit: usize,
        below_id: u64,
    ) -> Result<(Rebuilt, Vec<Counted>), LogError> {
        let set = &rules.set;
        let Some(reach) = set.correlation_reach_ms() else {
            return Ok((Rebuilt::default(), Vec::new()));
        };
        // After a crash the index catches up with the journal in the background.
        let lag = events.index_lag();
        if lag > 0 {
            tracing::info!(
                records = lag,
                "waiting for search to take in the journal before rebuilding the correlation windows"
            );
        }
        events.refresh()?;
        let now = Utc::now();
        let all = Query {
            filter: Expr::All,
            pipe: None,
        };
        // Correlation time is the newest event time seen, bounded by the clock.
        let ahead = chrono::Duration::milliseconds(MAX_CLOCK_AHEAD_MS);
        let newest = events.search(&SearchRequest {
            query: all.clone(),
            range: TimeRange {
                from: None,
                to: Some(now + ahead),
            },
            limit: 1,
            cursor: None,
        })?;
        let Some(newest) = newest.events.first().map(|e| e.time) else {
            return Ok((Rebuilt::default(), Vec::new()));
        };
        let from = newest - chrono::Duration::milliseconds(reach);
        tracing::info!(%from, "the last stop did not save the correlation windows: reading back the stored events since then to rebuild them");
        let mut rebuilt = Rebuilt::default();
        let mut kept = Vec::new();
        let mut cursor = None;
        loop {
            let page = events.search(&SearchRequest {
                query: all.clone(),
                range: TimeRange {
                    from: Some(from),
                    to: None,
                },
                limit: REBUILD_PAGE.min(limit.saturating_sub(rebuilt.read as usize)),
                cursor,
            })?;
            rebuilt.read += page.events.len() as u64;
            let before = page.events.into_iter().filter(|e| e.id < below_id);
            kept.extend(counted(&rules.set, org, before));
            match page.next_cursor {
                Some(next) if (rebuilt.read as usize) < limit => cursor = Some(next),
                Some(_) => {
                    rebuilt.truncated = true;
                    break;
                }
                None => break,
            }
        }
        kept.sort_by_key(|(stored, _, _)| (stored.time, stored.id));
        rebuilt.fed = kept.len() as u64;
        Ok((rebuilt, kept))
    }

    /// Correlates the events deferred during a rebuild, in arrival order.
    fn correlate_deferred(
        inner: &mut Inner,
        rules: &Arc<LoadedRules>,
        org: &OrgView,
        now_ms: i64,
    ) -> Late {
        let events = std::mem::take(&mut inner.deferred);
        inner.deferred_bytes = 0;
        if events.is_empty() {
            return Late::default();
        }
        // Each was parsed from this very text to be matched.
        let parsed: Vec<Option<JsonEvent>> = events
            .iter()
            .map(|d| JsonEvent::parse(&d.json).ok())
            .collect();
        let mapped: Vec<Option<MappedEvent<'_>>> = events
            .iter()
            .zip(&parsed)
            .map(|(d, event)| org.mapped(&d.envelope.service, event.as_ref()?))
            .collect();
        let Correlated { fired, closed, .. } = Self::feed_into(
            &mut inner.held,
            &mut inner.late,
            rules,
            events
                .iter()
                .zip(&parsed)
                .zip(&mapped)
                .enumerate()
                .filter_map(|(index, ((d, event), mapped))| {
                    Some(Fed {
                        index,
                        id: d.id,
                        sender: &d.envelope,
                        timestamp_ms: d.time.timestamp_millis(),
                        event: match mapped {
                            Some(mapped) => mapped,
                            None => event.as_ref()?,
                        },
                        json: &d.json,
                        matched: &d.matched,
                    })
                }),
            i64::MIN,
            now_ms,
        );
        drop(mapped);
        Late { events, fired }.then(closed)
    }

    /// Makes batches wait before correlating until [`Correlations::release`]: call it before
    /// the first batch can arrive, then rebuild.
    pub fn hold_back(&self) {
        self.lock().rebuilding = true;
    }

    /// Whether batches are held back for a rebuild.
    pub fn rebuilding(&self) -> bool {
        self.lock().rebuilding
    }

    /// Ends a rebuild that did not run to its end (it failed, or was never run): the events
    /// deferred meanwhile are let go uncorrelated, and batches correlate again.
    pub fn release(&self) {
        let mut inner = self.lock();
        if !inner.rebuilding {
            return;
        }
        inner.rebuilding = false;
        if !inner.deferred.is_empty() {
            tracing::error!(
                events = inner.deferred.len(),
                "the correlation windows were not rebuilt; the events that arrived meanwhile are not correlated"
            );
            inner.deferred.clear();
            inner.deferred_bytes = 0;
        }
        drop(inner);
        self.rebuilt.notify_all();
    }

    // Holds no invariant a panic could break: a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The lock, once no rebuild is under way.
    fn settled(&self) -> MutexGuard<'_, Inner> {
        self.settle(self.lock())
    }

    /// `inner`, waited on until no rebuild is under way.
    fn settle<'g>(&'g self, mut inner: MutexGuard<'g, Inner>) -> MutexGuard<'g, Inner> {
        while inner.rebuilding {
            inner = self.rebuilt.wait(inner).unwrap_or_else(|e| e.into_inner());
        }
        inner
    }

    /// What the windows hold for each correlation of `rules`, across tenants (nothing yet for
    /// those that have seen no event). Right after a reload, until the next batch carries the
    /// windows over, it shows what they held under the previous set.
    pub fn held(&self, rules: &LoadedRules) -> Vec<CorrelationHeld> {
        let set = &rules.set;
        let mut out: Vec<CorrelationHeld> = CorrelationState::new(set)
            .held(set)
            .into_iter()
            .map(|empty| CorrelationHeld {
                rule: empty.rule,
                groups: 0,
                events: 0,
                oldest_ms: None,
                top: Vec::new(),
            })
            .collect();
        let inner = self.lock();
        let Some(held) = inner.held.as_ref() else {
            return out;
        };
        let old = &held.rules.set;
        for (tenant, state) in &held.by_tenant {
            for w in state.held(old) {
                let id = old.rule(w.rule).id();
                if let Some(o) = out.iter_mut().find(|o| set.rule(o.rule).id() == id) {
                    o.add(tenant, w);
                }
            }
        }
        out
    }

    /// Feeds a batch's stored events that matched a rule, in arrival order, and returns the
    /// correlations that fired. While the windows are being rebuilt the events are left to the
    /// rebuild instead (`deferred` gives them; nothing fires now, see [`Late`]), as long as
    /// those deferred hold at most [`MAX_DEFERRED_BYTES`] of JSON; past that, it waits.
    ///
    /// `newest_ms` is the time of the batch's newest stored event, matched or not: correlation
    /// time moves with the whole stream, so that quiet groups' windows close
    /// ([`Correlated::closed`]) even while no rule matches.
    pub fn feed_or_defer<'a>(
        &self,
        rules: &Arc<LoadedRules>,
        events: impl IntoIterator<Item = Fed<'a>>,
        deferred: impl FnOnce() -> Vec<Deferred>,
        newest_ms: i64,
        server_now_ms: i64,
    ) -> Correlated {
        if rules.set.correlation_count() == 0 {
            return Correlated::default();
        }
        let mut inner = self.lock();
        if inner.rebuilding && inner.deferred_bytes < MAX_DEFERRED_BYTES {
            let more = deferred();
            inner.deferred_bytes += more.iter().map(|d| d.json.len()).sum::<usize>();
            inner.deferred.extend(more);
            return Correlated::default();
        }
        let mut inner = self.settle(inner);
        let inner = &mut *inner;
        let correlated = Self::feed_into(
            &mut inner.held,
            &mut inner.late,
            rules,
            events,
            newest_ms,
            server_now_ms,
        );
        inner.sync_late_file();
        correlated
    }

    fn feed_into<'a>(
        held: &mut Option<Held>,
        late: &mut HashMap<String, LateSpan>,
        rules: &Arc<LoadedRules>,
        events: impl IntoIterator<Item = Fed<'a>>,
        newest_ms: i64,
        server_now_ms: i64,
    ) -> Correlated {
        let set = &rules.set;
        if set.correlation_count() == 0 {
            return Correlated::default();
        }
        match held.as_mut() {
            Some(h) if Arc::ptr_eq(&h.rules, rules) => {}
            Some(h) => h.carry_over(rules),
            None => {
                *held = Some(Held {
                    rules: Arc::clone(rules),
                    by_tenant: HashMap::new(),
                    now_ms: i64::MIN,
                    last_fed: None,
                    json: HashMap::new(),
                    json_bytes: 0,
                    senders: HashMap::new(),
                });
            }
        }
        let Some(held) = held.as_mut() else {
            return Correlated::default();
        };
        let ahead = server_now_ms.saturating_add(MAX_CLOCK_AHEAD_MS);
        let since_ms = held.now_ms;
        let reach = set.correlation_reach_ms().unwrap_or(i64::MAX);
        let mut came_late = 0;
        let mut fired = Vec::new();
        let mut closed = Late::default();
        let mut out = Vec::new();
        for fed in events {
            if fed.matched.is_empty() {
                continue;
            }
            let tenant = fed.sender.tenant.as_str();
            if fed.timestamp_ms
                < held
                    .now_ms
                    .saturating_sub(reach.saturating_add(LATE_GRACE_MS))
            {
                let span = LateSpan {
                    from_ms: fed.timestamp_ms,
                    to_ms: fed.timestamp_ms,
                    seen_ms: server_now_ms,
                    opened_ms: server_now_ms,
                };
                add_late(late, tenant.to_owned(), span);
                came_late += 1;
                continue;
            }
            if !held.by_tenant.contains_key(tenant) {
                held.by_tenant
                    .insert(tenant.to_owned(), CorrelationState::new(set));
            }
            let Some(state) = held.by_tenant.get_mut(tenant) else {
                continue;
            };
            if held.json_bytes + fed.json.len() <= MAX_EVIDENCE_BYTES
                && !held.json.contains_key(&fed.id)
            {
                held.json.insert(fed.id, Arc::from(fed.json));
                held.json_bytes += fed.json.len();
            }
            held.senders
                .entry(fed.id)
                .or_insert_with(|| fed.sender.clone());
            state.feed(
                set,
                fed.timestamp_ms,
                fed.event,
                fed.matched,
                fed.id,
                &mut out,
            );
            for found in out.drain(..) {
                // A window decided at its close, or one this event completed in arrival order
                // only (it came late, before the window's latest event in time), is recorded
                // on its latest event, as `vigil hunt`, which feeds events in time order, has
                // it: a match is at the event that completed it in event time.
                let on_last = set
                    .correlation_shape(found.rule)
                    .is_some_and(|shape| shape.decided_at_close)
                    || found.events.last() != Some(&fed.id);
                if on_last {
                    on_last_event(&held.senders, &held.json, set, tenant, found, &mut closed);
                    continue;
                }
                let events = evidence(&held.json, &found);
                fired.push(Fired {
                    index: fed.index,
                    found,
                    events,
                });
            }
            held.now_ms = held.now_ms.max(fed.timestamp_ms.min(ahead));
        }
        held.now_ms = held.now_ms.max(newest_ms.min(ahead));
        if newest_ms != i64::MIN {
            held.last_fed = Some(LastFed {
                server_ms: server_now_ms,
                stream_ms: held.now_ms,
            });
        }
        let lapsed = Self::prune(held, set, since_ms);
        Correlated {
            fired,
            closed: closed.then(lapsed),
            late: came_late,
        }
    }

    /// Moves correlation time on while the stream is silent: once no batch has brought an
    /// event for [`IDLE_GRACE_MS`], time goes on from the last batch's at the pace of the
    /// server's clock, and the windows of quiet groups lapse as they would had events kept
    /// coming (a rare event followed by silence is still decided). Returns those windows, each
    /// on its last event, to be recorded (see [`Correlated::closed`]); nothing while the
    /// windows are being rebuilt (the rebuild's batches move time then).
    ///
    /// A stream of old events (a collection ingested late) goes on from its own time too: its
    /// windows lapse a grace and a timespan after the collection stopped coming, not at once.
    pub fn pass_idle_time(&self, rules: &Arc<LoadedRules>, server_now_ms: i64) -> Late {
        if rules.set.correlation_count() == 0 {
            return Late::default();
        }
        let mut inner = self.lock();
        if inner.rebuilding {
            return Late::default();
        }
        let Some(held) = inner.held.as_mut() else {
            return Late::default();
        };
        let Some(last) = held.last_fed else {
            // The first tick after a start: the grace runs from now.
            held.last_fed = Some(LastFed {
                server_ms: server_now_ms,
                stream_ms: held.now_ms,
            });
            return Late::default();
        };
        let silent_ms = server_now_ms.saturating_sub(last.server_ms);
        if silent_ms <= IDLE_GRACE_MS || last.stream_ms == i64::MIN {
            return Late::default();
        }
        let ahead = server_now_ms.saturating_add(MAX_CLOCK_AHEAD_MS);
        let moved = last
            .stream_ms
            .saturating_add(silent_ms - IDLE_GRACE_MS)
            .min(ahead);
        if moved <= held.now_ms {
            return Late::default();
        }
        if !Arc::ptr_eq(&held.rules, rules) {
            held.carry_over(rules);
        }
        let since_ms = held.now_ms;
        held.now_ms = moved;
        Self::prune(held, &rules.set, since_ms)
    }

    /// Per tenant, the span of late events waiting to be correlated over the store, oldest
    /// first.
    pub fn late(&self) -> Vec<(String, LateSpan)> {
        let inner = self.lock();
        let mut late: Vec<(String, LateSpan)> = inner
            .late
            .iter()
            .map(|(t, span)| (t.clone(), *span))
            .collect();
        late.sort_by_key(|(tenant, span)| (span.from_ms, tenant.clone()));
        late
    }

    /// The tenants' spans of late events that have stopped coming for [`LATE_SETTLE_MS`] at
    /// `server_now_ms`, or have waited [`LATE_MAX_WAIT_MS`], taken out: the caller runs the
    /// correlations over each ([`Correlations::correlate_late`]). Late events that come
    /// afterwards make a new span.
    pub fn due_late(&self, server_now_ms: i64) -> Vec<(String, LateSpan)> {
        let mut inner = self.lock();
        if inner.rebuilding {
            return Vec::new();
        }
        let inner = &mut *inner;
        let due: Vec<(String, LateSpan)> = inner
            .late
            .extract_if(|_, span| {
                server_now_ms.saturating_sub(span.seen_ms) >= LATE_SETTLE_MS
                    || server_now_ms.saturating_sub(span.opened_ms) >= LATE_MAX_WAIT_MS
            })
            .collect();
        // The file goes on covering them until their run has recorded what it found.
        if let Some(file) = inner.late_file.as_mut() {
            file.running.extend(due.iter().cloned());
        }
        due
    }

    /// Runs `rules`' correlations over `tenant`'s stored events around a span of late events
    /// (the correlations' reach before and after it), oldest first, as the live windows would
    /// have had they come in time order, and gives what fired with one of the span's events
    /// among its own, each on the event that completed it (a window decided at its close: its
    /// last event). What fired without one was the live windows' to find. The caller records
    /// them unless the store has them already. Blocks: call it off the async threads.
    ///
    /// The time is read in slices of about `slice_events` stored events ([`LATE_SLICE_EVENTS`]
    /// on the server), oldest first, so that a span of years holds no more in memory than a
    /// slice and what its windows hold.
    ///
    /// `stop` is read before each slice: once it is set the run gives up and answers `None`,
    /// having found nothing the caller should record, so that a server stopping does not wait
    /// for a run over years of events; the span is run whole again at the next start.
    pub fn correlate_late(
        rules: &LoadedRules,
        org: &OrgView,
        events: &dyn EventStore,
        tenant: &str,
        span: LateSpan,
        slice_events: u64,
        stop: &AtomicBool,
    ) -> Result<Option<Late>, LogError> {
        let set = &rules.set;
        let Some(reach) = set.correlation_reach_ms() else {
            return Ok(Some(Late::default()));
        };
        let (from_ms, to_ms) = (
            span.from_ms.saturating_sub(reach),
            span.to_ms.saturating_add(reach),
        );
        let query = Query {
            filter: Expr::Match {
                field: Some(vigil_query::Field::Tenant),
                value: tenant.to_owned(),
            },
            pipe: None,
        };
        let range = |from_ms: i64, to_ms: i64| TimeRange {
            from: chrono::DateTime::<Utc>::from_timestamp_millis(from_ms),
            to: chrono::DateTime::<Utc>::from_timestamp_millis(to_ms),
        };
        events.refresh()?;
        let total = events
            .search(&SearchRequest {
                query: query.clone(),
                range: range(from_ms, to_ms),
                limit: 1,
                cursor: None,
            })?
            .total;
        let slices = total.div_ceil(slice_events.max(1)).max(1) as i64;
        let slice_ms = ((to_ms - from_ms) / slices).max(1);
        let mut sweep = LateSweep {
            span,
            state: CorrelationState::new(set),
            held: HashMap::new(),
            found: Vec::new(),
            late: Late::default(),
        };
        let mut read = 0;
        let mut start = from_ms;
        while start < to_ms && read < LATE_READ_LIMIT {
            if stop.load(Ordering::Acquire) {
                return Ok(None);
            }
            let end = start.saturating_add(slice_ms).min(to_ms);
            let mut kept: Vec<Counted> = Vec::new();
            let mut cursor = None;
            loop {
                let page = events.search(&SearchRequest {
                    query: query.clone(),
                    range: range(start, end),
                    limit: REBUILD_PAGE,
                    cursor,
                })?;
                read += page.events.len();
                // The tenant query is exact in the store; the check keeps it so for any store.
                let theirs = page.events.into_iter().filter(|e| e.tenant == tenant);
                kept.extend(counted(set, org, theirs));
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            kept.sort_by_key(|(stored, _, _)| (stored.time, stored.id));
            for (stored, event, counts) in kept {
                let mapped = org.mapped(&stored.service, &event);
                let event: &dyn Event = match &mapped {
                    Some(mapped) => mapped,
                    None => &event,
                };
                let ms = stored.time.timestamp_millis();
                sweep
                    .state
                    .feed(set, ms, event, &counts, stored.id, &mut sweep.found);
                sweep.held.insert(stored.id, (stored, counts));
                sweep.take_found();
            }
            sweep.state.prune(set, end, 0, start, &mut sweep.found);
            sweep.take_found();
            start = end;
        }
        if read >= LATE_READ_LIMIT && start < to_ms {
            tracing::warn!(
                tenant,
                read,
                "the span of late events is too large to correlate whole; its newest events are left out"
            );
        }
        sweep.state.finish(set, &mut sweep.found);
        sweep.take_found();
        Ok(Some(sweep.late))
    }

    /// Lets go of what no window can reach any more at correlation time, and gives the
    /// windows that lapsed meanwhile, each on its last event (see [`Correlated::closed`]).
    fn prune(held: &mut Held, set: &vigil_detect::CompiledRuleSet, since_ms: i64) -> Late {
        let mut lapsed = Late::default();
        let mut closed = Vec::new();
        let now = held.now_ms;
        for (tenant, state) in held.by_tenant.iter_mut() {
            // Events up to the grace behind the newest are fed live (older ones go to the late
            // run): what they may share a window with is kept for them.
            state.prune(set, now, LATE_GRACE_MS, since_ms, &mut closed);
            for found in closed.drain(..) {
                on_last_event(&held.senders, &held.json, set, tenant, found, &mut lapsed);
            }
        }
        held.by_tenant.retain(|_, state| !state.is_empty());
        let live: HashSet<u64> = held
            .by_tenant
            .values()
            .flat_map(CorrelationState::tags)
            .collect();
        held.json.retain(|id, _| live.contains(id));
        held.json_bytes = held.json.values().map(|j| j.len()).sum();
        held.senders.retain(|id, _| live.contains(id));
        lapsed
    }
}

/// The stored id and JSON of the events that made `found`, those whose text is held.
fn evidence(json: &HashMap<u64, Arc<str>>, found: &CorrelationMatch) -> Vec<(u64, Arc<str>)> {
    found
        .events
        .iter()
        .filter_map(|id| Some((*id, Arc::clone(json.get(id)?))))
        .collect()
}

/// Adds `found`, a window decided at its close or completed by an event that came late, to
/// `closed` on the window's last event, with the sender and text held for it (see
/// [`Correlated::closed`]).
fn on_last_event(
    senders: &HashMap<u64, crate::Envelope>,
    json: &HashMap<u64, Arc<str>>,
    set: &vigil_detect::CompiledRuleSet,
    tenant: &str,
    found: CorrelationMatch,
    closed: &mut Late,
) {
    let Some(&last) = found.events.last() else {
        return;
    };
    let Some(sender) = senders.get(&last) else {
        tracing::warn!(
            rule = set.rule(found.rule).id(),
            tenant = %tenant,
            "a correlation window was decided whose events were held by a state saved without their senders; it is not recorded"
        );
        return;
    };
    closed.events.push(Deferred {
        id: last,
        time: chrono::DateTime::from_timestamp_millis(found.timestamp_ms).unwrap_or_default(),
        envelope: sender.clone(),
        json: json.get(&last).map(|j| j.to_string()).unwrap_or_default(),
        // Its own rules' detections were recorded with its batch.
        matched: Vec::new(),
    });
    closed.fired.push(Fired {
        index: closed.events.len() - 1,
        events: evidence(json, &found),
        found,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RulesStatus;

    fn rules() -> Arc<LoadedRules> {
        rules_with(2)
    }

    /// A failed logon of `user`, as `base` matches it.
    fn failure_of(user: &str) -> vigil_events::json::JsonEvent {
        vigil_events::json::JsonEvent::parse(&format!(r#"{{"user":"{user}","outcome":"failure"}}"#))
            .unwrap()
    }

    fn acme() -> &'static crate::Envelope {
        static ACME: std::sync::LazyLock<crate::Envelope> =
            std::sync::LazyLock::new(|| crate::Envelope {
                service: "auth".into(),
                host: "web-1".into(),
                tenant: "acme".into(),
            });
        &ACME
    }

    /// `event`, stored as `id` at `ts` and sent by acme, matched by `matched`.
    fn fed<'a>(
        id: u64,
        ts: i64,
        event: &'a vigil_events::json::JsonEvent,
        matched: &'a [vigil_detect::RuleId],
    ) -> Fed<'a> {
        Fed {
            index: 0,
            id,
            sender: acme(),
            timestamp_ms: ts,
            event,
            json: "{}",
            matched,
        }
    }

    fn rules_with(threshold: u32) -> Arc<LoadedRules> {
        rules_where(&format!("gte: {threshold}"))
    }

    /// Failures (`base`) counted per user within a minute (`two`), under `condition`.
    fn rules_where(condition: &str) -> Arc<LoadedRules> {
        let text = format!(
            "title: Base\nid: base\nname: base\nlogsource:\n  product: linux\ndetection:\n  sel:\n    outcome: failure\n  condition: sel\n---\ntitle: Two\nid: two\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [user]\n  timespan: 1m\n  condition:\n    {condition}\n"
        );
        let (docs, _) = vigil_sigma::parse_str(&text, std::path::Path::new("r.yml"));
        let (set, diags) = vigil_detect::compile(&docs, &vigil_detect::CompileOptions::default());
        assert!(diags.is_empty(), "{diags:?}");
        Arc::new(LoadedRules {
            set,
            status: RulesStatus {
                paths: Vec::new(),
                loaded: 2,
                rejected: Vec::new(),
                rules_rejected: 0,
                loaded_at: chrono::Utc::now(),
                placeholders_without_values: Vec::new(),
                filter_warnings: Vec::new(),
            },
            rejected_rules: Vec::new(),
        })
    }

    #[test]
    fn evidence_is_held_as_long_as_a_window_needs_it() {
        let rules = rules();
        let base = [vigil_detect::RuleId(0)];
        assert_eq!(rules.set.rule(base[0]).id(), "base");
        let correlations = Correlations::default();
        let event = |user: &str| {
            vigil_events::json::JsonEvent::parse(&format!(
                r#"{{"user":"{user}","outcome":"failure"}}"#
            ))
            .unwrap()
        };
        let (alice, bob) = (event("alice"), event("bob"));
        let held = |c: &Correlations| c.lock().held.as_ref().map_or(0, |h| h.json.len());
        assert!(
            correlations
                .feed_or_defer(&rules, [fed(1, 0, &alice, &base)], Vec::new, i64::MIN, 0)
                .fired
                .is_empty()
        );
        assert_eq!(held(&correlations), 1);
        // Bob's failure 7 minutes later: alice's window is over, and so is the grace in which a
        // late event of hers could still come; her event is let go.
        assert!(
            correlations
                .feed_or_defer(
                    &rules,
                    [fed(2, 420_000, &bob, &base)],
                    Vec::new,
                    i64::MIN,
                    420_000
                )
                .fired
                .is_empty()
        );
        assert_eq!(held(&correlations), 1);
        // Bob again within the minute: fired, with both of his events as evidence.
        let fired = correlations
            .feed_or_defer(
                &rules,
                [fed(3, 450_000, &bob, &base)],
                Vec::new,
                i64::MIN,
                450_000,
            )
            .fired;
        assert_eq!(fired.len(), 1);
        let ids: Vec<u64> = fired[0].events.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [2, 3]);
        // The group that fired is cleared, and its evidence with it.
        assert_eq!(held(&correlations), 0);
    }

    /// The specification's failed logins followed by a success, the success arriving before
    /// the failure that completes the count: the chain is recorded on the success, the latest
    /// of its events in time (as `vigil hunt` has it), with the failures the count counted.
    #[test]
    fn a_chain_completed_late_is_recorded_on_its_latest_event_with_what_it_counted() {
        let text = "title: Failed then success\nid: outer\ncorrelation:\n  type: temporal_ordered\n  rules: [many, ok]\n  group-by: [user]\n  timespan: 10m\n---\ntitle: Many\nid: many\nname: many\ncorrelation:\n  type: event_count\n  rules: [failed]\n  group-by: [user]\n  timespan: 10m\n  condition: {gte: 3}\n---\ntitle: Failed\nid: failed\nname: failed\nlogsource: {product: linux}\ndetection:\n  sel: {outcome: failure}\n  condition: sel\n---\ntitle: Ok\nid: ok\nname: ok\nlogsource: {product: linux}\ndetection:\n  sel: {outcome: success}\n  condition: sel\n";
        let (docs, _) = vigil_sigma::parse_str(text, std::path::Path::new("r.yml"));
        let (set, diags) = vigil_detect::compile(&docs, &vigil_detect::CompileOptions::default());
        assert!(diags.is_empty(), "{diags:?}");
        let rule = |id: &str| {
            (0..set.rules().len() as u32)
                .map(vigil_detect::RuleId)
                .find(|r| set.rule(*r).id() == id)
                .unwrap()
        };
        let (failed, ok) = ([rule("failed")], [rule("ok")]);
        let rules = Arc::new(LoadedRules {
            status: rules().status.clone(),
            set,
            rejected_rules: Vec::new(),
        });
        let failure = failure_of("bob");
        let success =
            vigil_events::json::JsonEvent::parse(r#"{"user":"bob","outcome":"success"}"#).unwrap();
        let correlations = Correlations::default();
        let batch = [
            fed(1, 1_000, &failure, &failed),
            fed(2, 2_000, &failure, &failed),
            fed(3, 4_000, &success, &ok),
            fed(4, 3_000, &failure, &failed),
        ];
        let correlated = correlations.feed_or_defer(&rules, batch, Vec::new, 4_000, 4_000);
        let name = |f: &Fired| rules.set.rule(f.found.rule).id().to_owned();
        let live: Vec<String> = correlated.fired.iter().map(name).collect();
        assert_eq!(
            live,
            ["many"],
            "the count, on the failure that completed it"
        );
        let closed = &correlated.closed;
        assert_eq!(closed.fired.len(), 1);
        let outer = &closed.fired[0];
        assert_eq!(name(outer), "outer");
        assert_eq!(outer.found.timestamp_ms, 4_000);
        assert_eq!(closed.events[outer.index].id, 3, "on the success");
        let ids: Vec<u64> = outer.events.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [1, 2, 4, 3]);
    }

    /// A count bounded from above is decided when the group's next event comes after its
    /// window, in a later batch too (the windows wait a timespan more for it), and recorded on
    /// the window's own last event, not on the one that closed it.
    #[test]
    fn a_count_bounded_from_above_is_decided_by_the_group_s_next_event() {
        let rules = rules_where("lt: 2");
        let base = [vigil_detect::RuleId(0)];
        let alice = failure_of("alice");
        let fed = |index: usize, id: u64, ts: i64| Fed {
            index,
            id,
            sender: acme(),
            timestamp_ms: ts,
            event: &alice,
            json: "{}",
            matched: &base,
        };
        let correlations = Correlations::default();
        let first = correlations.feed_or_defer(&rules, [fed(0, 1, 0)], Vec::new, i64::MIN, 0);
        assert!(
            first.fired.is_empty() && first.closed.events.is_empty(),
            "one failure is below two, but the minute is not over"
        );
        // 90 s later, in another batch: her first minute held one failure.
        let later = correlations.feed_or_defer(&rules, [fed(4, 2, 90_000)], Vec::new, i64::MIN, 0);
        assert!(
            later.fired.is_empty(),
            "the closing event is not of the window"
        );
        let closed = later.closed;
        assert_eq!(closed.events.len(), 1);
        assert_eq!(
            (
                closed.events[0].id,
                closed.events[0].time.timestamp_millis()
            ),
            (1, 0)
        );
        assert_eq!(closed.fired[0].index, 0);
        assert_eq!(closed.fired[0].found.timestamp_ms, 0);
        let ids: Vec<u64> = closed.fired[0].events.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [1]);
    }

    /// A group never seen again: its window lapses once correlation time — moved by any
    /// stored event, matched or not — has passed its end by a timespan, and fires on its last
    /// event, with the sender that event had.
    #[test]
    fn a_quiet_group_s_window_lapses_when_the_stream_has_passed_it() {
        let rules = rules_where("lt: 2");
        let base = [vigil_detect::RuleId(0)];
        let alice = failure_of("alice");
        let correlations = Correlations::default();
        let fed = |id: u64, ts: i64, json: &'static str| Fed {
            index: 0,
            id,
            sender: acme(),
            timestamp_ms: ts,
            event: &alice,
            json,
            matched: &base,
        };
        let first = correlations.feed_or_defer(
            &rules,
            [fed(7, 1_000, r#"{"user":"alice"}"#)],
            Vec::new,
            1_000,
            10_000_000,
        );
        assert!(first.fired.is_empty() && first.closed.events.is_empty());
        // Batches that matched nothing: at 2 min her window (to 61 s) still waits for her.
        let quiet = |newest_ms: i64| {
            correlations.feed_or_defer(&rules, [], Vec::new, newest_ms, 10_000_000)
        };
        assert!(quiet(120_000).closed.events.is_empty());
        let lapsed = quiet(121_001).closed;
        assert_eq!(lapsed.events.len(), 1);
        let on = &lapsed.events[0];
        assert_eq!((on.id, on.time.timestamp_millis()), (7, 1_000));
        assert_eq!(&on.envelope, acme());
        assert_eq!(on.json, r#"{"user":"alice"}"#);
        assert_eq!(lapsed.fired.len(), 1);
        assert_eq!(lapsed.fired[0].index, 0);
        assert_eq!(lapsed.fired[0].found.value, 1.0);
        let ids: Vec<u64> = lapsed.fired[0].events.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [7]);
        // Decided once: nothing is held any more, and nothing closes again.
        let nothing_held = || {
            let inner = correlations.lock();
            let held = inner.held.as_ref().unwrap();
            held.by_tenant.is_empty() && held.senders.is_empty()
        };
        assert!(nothing_held());
        assert!(quiet(1_000_000).closed.events.is_empty());
        // An event of alice's that comes when its window had lapsed already is let go: her
        // other events of then may have been let go before it came.
        let after =
            correlations.feed_or_defer(&rules, [fed(8, 2_000, "{}")], Vec::new, 2_000, 10_000_000);
        assert!(after.fired.is_empty() && after.closed.events.is_empty());
        assert!(nothing_held());
    }

    /// Events a little later than the reach are fed to the live windows; older ones are noted
    /// as late, per tenant, and their span is due once they stop coming — or after the longest
    /// wait, while they keep coming.
    #[test]
    fn late_events_wait_for_a_run_over_the_store_until_they_stop_coming() {
        let rules = rules_with(2);
        let base = [vigil_detect::RuleId(0)];
        let alice = failure_of("alice");
        let correlations = Correlations::default();
        let clock = 50_000_000;
        let batch = |events: &[(u64, i64)], clock: i64| {
            let events = events.iter().map(|&(id, ts)| fed(id, ts, &alice, &base));
            correlations.feed_or_defer(&rules, events, Vec::new, i64::MIN, clock)
        };
        let feed = |id: u64, ts: i64, clock: i64| batch(&[(id, ts)], clock);
        let hour = 3_600_000;
        // The stream is at 10:00 (another user: alice's windows stay empty).
        let bob = failure_of("bob");
        let first = fed(1, 10 * hour, &bob, &base);
        correlations.feed_or_defer(&rules, [first], Vec::new, i64::MIN, clock);
        // Within the minute's reach and the grace: live, counted with what the windows hold
        // (here, the batch).
        let reach = 60_000;
        let edge = 10 * hour - reach - LATE_GRACE_MS;
        assert_eq!(batch(&[(2, edge), (3, edge + 1_000)], clock).fired.len(), 1);
        assert!(correlations.late().is_empty());
        // Older: noted, not counted.
        assert!(
            batch(&[(4, edge - 1), (5, edge - 1_000)], clock + 1_000)
                .fired
                .is_empty()
        );
        let span = |c: &Correlations| {
            c.late()
                .into_iter()
                .map(|(t, s)| (t, s.from_ms, s.to_ms))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            span(&correlations),
            [("acme".into(), edge - 1_000, edge - 1)]
        );
        assert!(
            correlations.due_late(clock + 60_000).is_empty(),
            "came 59 s ago"
        );
        assert_eq!(correlations.due_late(clock + 61_000).len(), 1);
        assert!(correlations.late().is_empty());
        // Late events that keep coming: the span runs after the longest wait.
        for minute in 0..=10 {
            feed(10 + minute, edge - 1, clock + minute as i64 * 59_000);
        }
        assert_eq!(correlations.due_late(clock + 9 * 60_000).len(), 0);
        assert_eq!(correlations.due_late(clock + LATE_MAX_WAIT_MS).len(), 1);
    }

    /// A silent stream: once no batch has come for the grace, correlation time goes on from
    /// the last batch's at the clock's pace, and a quiet group's window lapses as if events
    /// had kept coming — once; a batch that comes then goes on from there.
    #[test]
    fn a_silent_stream_s_time_goes_on_with_the_clock_after_a_grace() {
        let rules = rules_where("lt: 2");
        let base = [vigil_detect::RuleId(0)];
        let alice = failure_of("alice");
        let correlations = Correlations::default();
        // The stream's own time (old events: a collection ingested late) is not the clock's.
        let (event_ms, clock_ms) = (1_000, 50_000_000);
        let first = correlations.feed_or_defer(
            &rules,
            [fed(7, event_ms, &alice, &base)],
            Vec::new,
            event_ms,
            clock_ms,
        );
        assert!(first.closed.events.is_empty());
        let idle = |after_ms: i64| correlations.pass_idle_time(&rules, clock_ms + after_ms);
        // Her window (to 61 s) lapses at 121 s of stream time: 120 s of silence past the grace.
        assert!(idle(IDLE_GRACE_MS).events.is_empty(), "within the grace");
        assert!(idle(IDLE_GRACE_MS + 120_000).events.is_empty());
        let lapsed = idle(IDLE_GRACE_MS + 120_001);
        assert_eq!(lapsed.events.len(), 1);
        assert_eq!(lapsed.events[0].id, 7);
        assert_eq!(lapsed.fired[0].found.timestamp_ms, event_ms);
        assert!(
            idle(IDLE_GRACE_MS + 600_000).events.is_empty(),
            "decided once"
        );
        let now = || correlations.lock().held.as_ref().unwrap().now_ms;
        assert_eq!(now(), event_ms + 600_000);
        // The clock never takes correlation time back, and a batch goes on from where it is.
        let later = correlations.feed_or_defer(&rules, [], Vec::new, 5_000, clock_ms + 700_000);
        assert!(later.closed.events.is_empty());
        assert_eq!(now(), event_ms + 600_000);
        assert!(idle(IDLE_GRACE_MS + 700_000).events.is_empty());
        assert_eq!(
            now(),
            event_ms + 600_000,
            "the batch started the grace again"
        );
        idle(2 * IDLE_GRACE_MS + 700_000);
        assert_eq!(now(), event_ms + 600_000 + IDLE_GRACE_MS);
        // Nothing fed since a start: the first tick only starts the grace.
        let fresh = Correlations::default();
        fresh.restore(&rules, correlations.save());
        assert!(fresh.pass_idle_time(&rules, i64::MAX / 2).events.is_empty());
    }

    #[test]
    fn a_rule_reload_keeps_the_windows_it_does_not_change() {
        let base = [vigil_detect::RuleId(0)];
        let eve =
            vigil_events::json::JsonEvent::parse(r#"{"user":"eve","outcome":"failure"}"#).unwrap();
        let fed = |id: u64, ts: i64| Fed {
            index: 0,
            id,
            sender: acme(),
            timestamp_ms: ts,
            event: &eve,
            json: "{}",
            matched: &base,
        };
        let correlations = Correlations::default();
        assert!(
            correlations
                .feed_or_defer(&rules_with(3), [fed(1, 0)], Vec::new, i64::MIN, 0)
                .fired
                .is_empty()
        );
        // Reloaded with the threshold lowered to 2: eve's first failure still counts.
        let fired = correlations
            .feed_or_defer(&rules_with(2), [fed(2, 1_000)], Vec::new, i64::MIN, 0)
            .fired;
        assert_eq!(fired.len(), 1);
        let ids: Vec<u64> = fired[0].events.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [1, 2]);
    }
}
