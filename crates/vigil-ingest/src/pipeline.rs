//! [`Ingestor`]: decode → detect → append durably → record detections, for every entry point.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use vigil_core::{AlertSource, NewAlert, NewDetection, RuleLevel, preliminary_severity};
use vigil_detect::{CompiledRuleSet, MappedEvent, RuleId};
use vigil_events::batch::{Accepted, BodyFormat, Position, decode_body, events_at_most};
use vigil_events::json::JsonEvent;
use vigil_logs::{EventStore, NewEvent, StoredEvent};
use vigil_store::{AlertPolicy, Store};

/// The most events one HTTP body may hold. An event takes several times its text decoded (a
/// 16 MiB body of `{}` lines, 5.6 million events, took 3 GB): this bounds what one request can
/// cost, about 60 MB, whatever its events. `vigil ingest` sends fewer per request.
pub const MAX_BODY_EVENTS: usize = 100_000;

use crate::correlation::{Correlations, Deferred, Fed, Fired, Late};
use crate::error::IngestError;
use crate::mark::{DetectionMark, Ticket};
use crate::once::{self, BatchKey, ClaimedBatch, Kept, Unanswered, Unrecorded};
use crate::org::{OrgCache, OrgView};
use crate::rules::{LoadedRules, RuleSlot};
use crate::totals::{IngestTotals, Steps, TotalCounters};

/// Default cap on one event: 1 MiB.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1024 * 1024;

/// Who an event is from: the sender's service (never empty), host and tenant (may be empty).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Envelope {
    /// The sending service.
    pub service: String,
    /// The host; when empty, taken from the event itself (`Computer`, `host.name`, `hostname`),
    /// unless the event's is longer than the store keeps in an envelope (it then stays empty).
    pub host: String,
    /// The tenant.
    pub tenant: String,
}

impl Envelope {
    /// Who a stored event is from.
    pub fn of(stored: &StoredEvent) -> Envelope {
        Envelope {
            service: stored.service.clone(),
            host: stored.host.clone(),
            tenant: stored.tenant.clone(),
        }
    }
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

/// One event that was not stored. Serialized as the API answers it (and as a keyed batch's
/// journal mark keeps it, see [`crate::once`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RejectedEvent {
    /// Its 1-based line in a JSON-lines body or file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Its 0-based index in a JSON array or a list of raw events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    /// Stored events a correlation counts that came too late for the live correlation
    /// windows: the correlations run over the store around them once they stop coming.
    pub correlated_later: usize,
    /// Stored events older than their service's retention: the next retention pass deletes
    /// them (retention counts from the events' own times), which whoever sent them should know.
    pub expiring: usize,
}

/// The ingest path shared by every entry point. Cheap to share behind an `Arc`.
pub struct Ingestor {
    events: Arc<dyn EventStore>,
    store: Arc<dyn Store>,
    rules: Arc<RuleSlot>,
    max_event_bytes: usize,
    /// Only to say which events a retention pass would delete at once.
    retention: crate::RetentionPolicy,
    alerts: AlertPolicy,
    org: OrgCache,
    correlations: Arc<Correlations>,
    /// How far the stored events have their detections recorded (kept by the log store).
    mark: DetectionMark,
    /// Keyed batches stored whose answers are not recorded yet.
    unrecorded: Unrecorded,
    totals: TotalCounters,
    /// Windows the correlation clock decided that the store failed to record: recorded with
    /// those of the next tick (not lost until the next start, whose rebuild would decide them
    /// again).
    idle_unrecorded: std::sync::Mutex<Option<(Late, Arc<LoadedRules>)>>,
    /// The open alerts of services that stopped sending.
    silence: crate::silence::SilenceWatch,
    /// Where the times services last sent are kept across restarts.
    received: crate::received::ReceivedFile,
}

impl std::fmt::Debug for Ingestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingestor")
            .field("max_event_bytes", &self.max_event_bytes)
            .finish_non_exhaustive()
    }
}

/// What the correlation windows hold ([`Ingestor::correlation_windows`]).
#[derive(Debug)]
pub struct CorrelationWindows {
    /// The rules in force.
    pub rules: Arc<LoadedRules>,
    /// Per correlation of `rules`, what its windows hold.
    pub held: Vec<crate::correlation::CorrelationHeld>,
    /// Whether the windows are being rebuilt from the log store (after a crash): they then
    /// hold less than they will, and what arrives is correlated once it is done.
    pub rebuilding: bool,
    /// Per tenant, the span of events that came too late for the live windows, waiting to be
    /// correlated over the store once they stop coming.
    pub late: Vec<(String, crate::correlation::LateSpan)>,
}

/// A rebuild of the correlation windows under way ([`Ingestor::begin_correlation_rebuild`]):
/// batches defer their correlation to it until it has run, or is dropped unrun.
#[must_use = "batches defer their correlation until the rebuild has run or is dropped"]
pub struct CorrelationRebuild {
    ingestor: Arc<Ingestor>,
    /// The first id stored after it began.
    below_id: u64,
    /// The first id the last stop may have left without its detections recorded (the start
    /// of the log store's owed events; `below_id` when none are owed).
    unrecorded_from: u64,
}

impl CorrelationRebuild {
    /// Reads back at most `limit` stored events and feeds them, then correlates the events
    /// deferred meanwhile and records what they completed.
    pub async fn run(self, limit: usize) -> Result<crate::correlation::Rebuilt, IngestError> {
        let ingestor = Arc::clone(&self.ingestor);
        let org = ingestor.org().await;
        let view = Arc::clone(&org);
        // What the rebuild returns that completed on events stored before it began may be in
        // the store already: those of events a crash left unrecorded, and windows decided at
        // their close (recorded on their last event, which can be of any age).
        let stored_before = 0..self.below_id;
        let rebuild = self;
        let (rules, result, late) = tokio::task::spawn_blocking(move || {
            // Moved here whole: dropped (ending the rebuild if it did not end) when this ends,
            // even by a panic, and not before (not if the caller stops waiting).
            let rebuild = rebuild;
            let ingestor = &rebuild.ingestor;
            let rules = ingestor.rules.current();
            let (result, late) = ingestor.correlations.rebuild(
                &rules,
                &view,
                ingestor.events.as_ref(),
                limit,
                rebuild.below_id,
                rebuild.unrecorded_from,
            );
            (rules, result, late)
        })
        .await
        .map_err(|e| IngestError::Worker(e.to_string()))?;
        let detections = ingestor
            .record_late(&rules.set, late, stored_before, &org)
            .await?;
        if detections > 0 {
            tracing::info!(
                detections,
                "correlations completed by events that arrived during the rebuild of the windows, or that the last stop left unrecorded, recorded"
            );
        }
        result.map_err(IngestError::from)
    }
}

impl Drop for CorrelationRebuild {
    fn drop(&mut self) {
        self.ingestor.correlations.release();
    }
}

/// The events a crash left stored without their detections recorded: the process stopped
/// between storing a batch and recording what it matched. An HTTP sender was not acknowledged
/// and sends again, but a syslog sender never does, and those events would otherwise never be
/// matched. Begun before the listeners start ([`Ingestor::begin_detection_recovery`]), it
/// holds the log store's detection mark at them until [`DetectionRecovery::run`] has matched
/// them with the rules loaded now and recorded what they match (events whose detections were
/// recorded after all are skipped, so nothing is recorded twice). Correlations do not count
/// them here: the rebuild of the windows after a crash does, and records what they complete
/// unless the store has it ([`CorrelationRebuild`]).
///
/// Batches sent under an idempotency key among them get their answers recorded first, and
/// until then the same batch sent again is refused as being stored ([`Ingestor::is_recovering`]),
/// not stored a second time (see [`crate::once`]).
#[must_use = "the detection mark stays at the owed events until the recovery runs"]
pub struct DetectionRecovery {
    ingestor: Arc<Ingestor>,
    ids: std::ops::Range<u64>,
    unanswered: Vec<Unanswered>,
    ticket: Ticket,
}

/// What a detection recovery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Events read back: those the crash may have left without detections.
    pub read: u64,
    /// Of them, events whose detections had been recorded after all (skipped).
    pub already_recorded: u64,
    /// Detections recorded now.
    pub detections: u64,
    /// Batches sent under an idempotency key whose answers were recorded now.
    pub answered: u64,
}

/// Events read back and matched at a time by a detection recovery.
const RECOVERY_PAGE: usize = 10_000;

impl DetectionRecovery {
    /// The ids of the events owed detection.
    pub fn ids(&self) -> std::ops::Range<u64> {
        self.ids.clone()
    }

    /// Reads the owed events back page by page, matches those without recorded detections and
    /// records what they match (raising alerts as ingest does). The mark moves on after each
    /// page, so a crash during the recovery resumes where it stood.
    pub async fn run(self) -> Result<Recovered, IngestError> {
        let DetectionRecovery {
            ingestor,
            ids,
            unanswered,
            mut ticket,
        } = self;
        let mut recovered = Recovered::default();
        let mut batches = unanswered.into_iter();
        while let Some(batch) = batches.next() {
            let key = batch.key.clone();
            match ingestor.answer_batch(batch.clone()).await {
                Ok(Some(detections)) => {
                    recovered.answered += 1;
                    recovered.detections += detections as u64;
                }
                Ok(None) => {}
                Err(e) => {
                    // Sent again, these batches are answered then rather than refused until
                    // the next start (kept before they stop being refused: never neither).
                    for batch in std::iter::once(batch).chain(batches) {
                        let key = batch.key.clone();
                        ingestor.unrecorded.failed(batch);
                        ingestor.unrecorded.recovered(&key);
                    }
                    return Err(e);
                }
            }
            ingestor.unrecorded.recovered(&key);
        }
        let mut from = ids.start;
        while from < ids.end {
            let events = Arc::clone(&ingestor.events);
            let range = from..ids.end;
            let page =
                tokio::task::spawn_blocking(move || events.read_stored(range, RECOVERY_PAGE))
                    .await
                    .map_err(|e| IngestError::Worker(e.to_string()))??;
            let Some(last) = page.last().map(|e| e.id) else {
                break;
            };
            let read = page.len() as u64;
            let recorded: std::collections::HashSet<u64> = ingestor
                .store
                .detections_of(from..last + 1)
                .await?
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            let owed: Vec<StoredEvent> = page
                .into_iter()
                .filter(|e| !recorded.contains(&e.id))
                .collect();
            recovered.read += read;
            recovered.already_recorded += read - owed.len() as u64;
            recovered.detections += ingestor.recover(owed, None).await? as u64;
            from = last + 1;
            let next = ingestor.mark.enter_at(from);
            ingestor.mark.release(std::mem::replace(&mut ticket, next));
            ingestor.publish_mark();
        }
        ingestor.mark.release(ticket);
        ingestor.publish_mark();
        Ok(recovered)
    }
}

/// A stored batch on its way to having its detections recorded: the report so far, the
/// detections, the JSON of their events by id, what the correlations found, the step timings,
/// and the ticket that holds the detection mark back until they are recorded (none for
/// events whose own detections were recorded before).
type Processed = (
    IngestReport,
    Vec<NewDetection>,
    std::collections::HashMap<u64, String>,
    CorrelationNotes,
    Timings,
    Option<Ticket>,
);

/// Per (stored event id, correlation rule id): what the correlation found, for its alert.
type CorrelationNotes = std::collections::HashMap<(u64, String), CorrelationFound>;

/// What a correlation that fired found, for its alert.
struct CorrelationFound {
    /// In words: `3 events for user=root within 5m`.
    note: String,
    /// Its group: `user=root`.
    group: String,
    /// The stored id and JSON of every event that made it, oldest first.
    events: Vec<(u64, Arc<str>)>,
}

/// Where a batch's time went, logged at debug level (`RUST_LOG=vigil_ingest=debug`) to see
/// which step limits ingest.
#[derive(Debug, Clone, Copy)]
struct Timings {
    decode: std::time::Duration,
    detect: std::time::Duration,
    append: std::time::Duration,
}

impl Timings {
    /// For detections recorded outside a batch's own ingest (late correlations, recovery).
    const NONE: Timings = Timings {
        decode: std::time::Duration::ZERO,
        detect: std::time::Duration::ZERO,
        append: std::time::Duration::ZERO,
    };
}

/// A decoded event on its way to the store (its JSON text is the event's own, see
/// [`JsonEvent::into_text`]).
struct Pending {
    position: Position,
    event: JsonEvent,
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
            retention: crate::RetentionPolicy::default(),
            alerts: AlertPolicy::default(),
            org: OrgCache::default(),
            correlations: Arc::default(),
            mark: DetectionMark::default(),
            unrecorded: Unrecorded::default(),
            totals: TotalCounters::default(),
            idle_unrecorded: std::sync::Mutex::default(),
            silence: crate::silence::SilenceWatch::default(),
            received: crate::received::ReceivedFile::default(),
        }
    }

    /// What the ingest path stored, refused and found since the process started.
    pub fn totals(&self) -> IngestTotals {
        self.totals.snapshot()
    }

    /// Raises an alert for each service the organisation document watches (`silent_after`)
    /// that has had no event stored for that long at `now`, and resolves those of services
    /// whose events came again (see [`crate::silence`]).
    pub async fn check_silence(
        &self,
        now: DateTime<Utc>,
    ) -> Result<crate::silence::SilenceReport, IngestError> {
        let org = self.org().await;
        self.silence
            .check(now, &org, &self.totals(), self.store.as_ref(), self.alerts)
            .await
    }

    /// Keeps the silence watch's state in `path` (in the data directory) from now on, taking
    /// back what the last run left there: when the watched sources last had an event stored
    /// and the silences under way (see [`crate::silence`]). Returns how many silences it held.
    pub fn keep_silence_in(&self, path: std::path::PathBuf) -> std::io::Result<usize> {
        self.silence.keep_in(path)
    }

    /// Keeps when each service last had an event stored in `path` (in the data directory)
    /// from now on, taking back what the last run left there, so that a restart does not make
    /// "last received" unknown (see [`crate::received`]). Returns how many services it held.
    pub fn keep_received_in(&self, path: std::path::PathBuf) -> std::io::Result<usize> {
        self.received.keep_in(path, &self.totals)
    }

    /// Writes when each service last had an event stored to the file of
    /// [`Ingestor::keep_received_in`], if it changed: at each silence check and at a clean
    /// stop.
    pub async fn save_received(&self) -> Result<(), IngestError> {
        self.received.save(self.totals().services).await
    }

    /// What is silent now (see [`Ingestor::check_silence`]), with the open alerts.
    pub fn silent_services(&self) -> Vec<(crate::silence::Watched, i64)> {
        self.silence.open_alerts()
    }

    /// [`Ingestor::check_silence`] every `every` until `stop` turns true, on the server's
    /// clock.
    pub async fn run_silence_watch(
        self: Arc<Self>,
        every: std::time::Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut ticks = Ticks::new(every);
        while ticks.next(&mut stop).await {
            match self.check_silence(Utc::now()).await {
                Ok(report) => {
                    for (service, alert) in report.raised {
                        tracing::warn!(
                            service,
                            alert,
                            "a service stopped sending logs; alert raised"
                        );
                    }
                    for (service, alert) in report.resolved {
                        tracing::info!(
                            service,
                            alert,
                            "a silent service sends logs again; its alert is resolved"
                        );
                    }
                }
                Err(e) => tracing::warn!(
                    error = %e,
                    "could not check for services that stopped sending logs; trying again at the next tick"
                ),
            }
            // When each service last sent, kept for the next start on the same tick.
            if let Err(e) = self.save_received().await {
                tracing::warn!(error = %e, "could not keep when each service last sent; trying again at the next tick");
            }
        }
    }

    /// Fold and limit the alerts raised from detections with `policy`.
    pub fn with_alert_policy(mut self, policy: AlertPolicy) -> Self {
        self.alerts = policy;
        self
    }

    /// Count the events stored older than their service's retention in `policy` (see
    /// [`IngestReport::expiring`]).
    pub fn with_retention(mut self, policy: crate::RetentionPolicy) -> Self {
        self.retention = policy;
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

    /// Keeps the spans of events that came too late for the live correlation windows in
    /// `path`, written before their batch is acknowledged, so that a crash before their run
    /// does not forget them; takes back those a crash left there. Returns how many.
    pub fn keep_late_in(&self, path: std::path::PathBuf) -> std::io::Result<usize> {
        self.correlations.keep_late_in(path)
    }

    /// The correlation windows, to save when the server stops.
    pub fn save_correlations(&self) -> crate::correlation::SavedCorrelations {
        self.correlations.save()
    }

    /// The rules in force and what their correlation windows hold now.
    pub fn correlation_windows(&self) -> CorrelationWindows {
        let rules = self.rules.current();
        CorrelationWindows {
            held: self.correlations.held(&rules),
            rebuilding: self.correlations.rebuilding(),
            late: self.correlations.late(),
            rules,
        }
    }

    /// Rebuilds the correlation windows from the log store when a crash lost them (see
    /// [`Correlations::rebuild`]), reading at most `limit` stored events:
    /// [`Ingestor::begin_correlation_rebuild`] and its run at once.
    pub async fn rebuild_correlations(
        self: &Arc<Self>,
        limit: usize,
    ) -> Result<crate::correlation::Rebuilt, IngestError> {
        self.begin_correlation_rebuild().run(limit).await
    }

    /// Starts rebuilding the correlation windows from the log store: from now on batches are
    /// stored, matched and acknowledged as usual but leave their correlation to the rebuild,
    /// which reads back the events stored before now, then correlates theirs and records what
    /// they complete (past 64 MiB of such events, batches wait for it instead). Call it before
    /// the listeners start, then run the rebuild in the background.
    pub fn begin_correlation_rebuild(self: &Arc<Self>) -> CorrelationRebuild {
        self.correlations.hold_back();
        let below_id = self.events.next_id();
        let owed = self.events.undetected_at_open();
        CorrelationRebuild {
            below_id,
            unrecorded_from: if owed.is_empty() {
                below_id
            } else {
                owed.start
            },
            ingestor: Arc::clone(self),
        }
    }

    /// The recovery of the events a crash left stored without their detections recorded, if
    /// the log store says any are owed. Call it before the listeners start: from then on the
    /// detection mark stays at those events until [`DetectionRecovery::run`] has matched them.
    pub fn begin_detection_recovery(self: &Arc<Self>) -> Option<DetectionRecovery> {
        let ids = self.events.undetected_at_open();
        if ids.is_empty() {
            return None;
        }
        let unanswered: Vec<Unanswered> = self
            .events
            .marks_at_open()
            .into_iter()
            .filter_map(|m| once::unanswered(m.ids, &m.mark))
            .collect();
        for batch in &unanswered {
            self.unrecorded.recovering(&batch.key);
        }
        Some(DetectionRecovery {
            ingestor: Arc::clone(self),
            ticket: self.mark.enter_at(ids.start),
            ids,
            unanswered,
        })
    }

    /// Whether the batch `token` sent under `key` is one whose answer the detection recovery
    /// has yet to record (the batch is stored: it must not be stored again; its answer comes
    /// once recorded).
    pub fn is_recovering(&self, token: uuid::Uuid, key: &str) -> bool {
        self.unrecorded.is_recovering(token, key)
    }

    /// Claims the batch `key` names for one sending, before asking whether it was sent
    /// before ([`Ingestor::answer_unrecorded`], [`vigil_store::Store::ingest_key`]) and
    /// storing it ([`Ingestor::ingest_body`]); `None` while a batch under the same token and
    /// key is being stored — by another sending, or by the start's recovery — which a batch
    /// sent again must wait for rather than be stored a second time. The key stays claimed
    /// until the batch's answer is recorded, even when its sender stops waiting.
    pub fn claim(&self, key: BatchKey) -> Option<ClaimedBatch> {
        self.unrecorded.claim(key)
    }

    /// Answers the batch `batch` names if this process stored it without recording its answer
    /// (the database refused the transaction, or the start's recovery failed): its stored
    /// events are matched and its answer recorded now, so that the caller finds it with
    /// [`vigil_store::Store::ingest_key`] rather than store the batch a second time. Nothing
    /// to do for any other batch. Like [`Ingestor::ingest_body`], the work runs in a task of
    /// its own that keeps the key claimed to its end, whether or not the caller keeps waiting.
    pub async fn answer_unrecorded(
        self: &Arc<Self>,
        batch: &ClaimedBatch,
    ) -> Result<(), IngestError> {
        let this = Arc::clone(self);
        let claimed = batch.clone();
        detached(async move {
            let answered = match this.unrecorded.take_failed(claimed.key()) {
                Kept::Nothing | Kept::Another => Ok(()),
                Kept::This(batch) => match this.answer_batch(batch.clone()).await {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        this.unrecorded.failed(batch);
                        Err(e)
                    }
                },
            };
            // Released only once the answer is recorded, or the batch kept again.
            drop(claimed);
            answered
        })
        .await
    }

    /// Records the answer to a keyed batch a crash left stored without it, matching its
    /// events first (their detections are recorded in the same transaction as the answer, so
    /// neither is); returns how many detections that made. `None` when the answer was
    /// recorded after all.
    async fn answer_batch(
        self: &Arc<Self>,
        batch: Unanswered,
    ) -> Result<Option<usize>, IngestError> {
        if self
            .store
            .ingest_key(batch.key.token, &batch.key.key)
            .await?
            .is_some_and(|known| known.fingerprint == batch.key.fingerprint)
        {
            return Ok(None);
        }
        let events = Arc::clone(&self.events);
        let ids = batch.ids.clone();
        let stored = tokio::task::spawn_blocking(move || {
            let limit = (ids.end - ids.start) as usize;
            events.read_stored(ids, limit)
        })
        .await
        .map_err(|e| IngestError::Worker(e.to_string()))??;
        let report = IngestReport {
            stored: stored.iter().map(|e| e.id).collect(),
            rejected: batch.rejected,
            ..IngestReport::default()
        };
        let detections = self.recover(stored, Some((batch.key, report))).await?;
        Ok(Some(detections))
    }

    /// Takes back correlation windows saved by [`Ingestor::save_correlations`], for the rules
    /// in force: those of correlations that still read events the same way.
    pub fn restore_correlations(&self, saved: crate::correlation::SavedCorrelations) {
        self.correlations.restore(&self.rules.current(), saved);
    }

    /// The organisation document as ingest uses it (read at most once a second).
    pub async fn org(&self) -> Arc<OrgView> {
        self.org.current(self.store.as_ref()).await
    }

    /// Makes the next batch read the organisation document again (services' logsources,
    /// criticality, alerting settings): call after applying one.
    pub fn forget_org(&self) {
        self.org.forget();
    }

    /// The log store (for search, pivot, stats and retention).
    pub fn events(&self) -> &Arc<dyn EventStore> {
        &self.events
    }

    /// Ingests an HTTP body of JSON lines or a JSON array, every event from `envelope`.
    /// Returns once the stored events are durable and their detections recorded. The work runs
    /// in a task of its own, so a caller that stops waiting (an HTTP client that hangs up)
    /// cannot leave a batch stored with its detections unrecorded.
    ///
    /// Under an idempotency key (claimed with [`Ingestor::claim`]), the answer is recorded with
    /// the batch's detections, and the batch is stored with a mark that lets the next start
    /// record it if the process stops first (see [`crate::once`]): a batch sent again under
    /// the key is answered from the store ([`vigil_store::Store::ingest_key`]) and never stored
    /// twice. The task keeps the key claimed until the answer is recorded (or kept to answer
    /// the batch when it is sent again), so a batch sent again while this one is being stored
    /// is refused, even when the caller stopped waiting for this one.
    pub async fn ingest_body(
        self: &Arc<Self>,
        body: Vec<u8>,
        format: BodyFormat,
        envelope: Envelope,
        key: Option<ClaimedBatch>,
    ) -> Result<IngestReport, IngestError> {
        let started = std::time::Instant::now();
        let this = Arc::clone(self);
        let report = detached(async move {
            let batch_key = key.as_ref().map(|claimed| claimed.key().clone());
            let report = this.store_body(body, format, envelope, batch_key).await;
            // Released only now: the answer is recorded, or kept to answer the batch when it
            // is sent again, or nothing of the batch was stored.
            drop(key);
            report
        })
        .await?;
        self.totals.latency(started.elapsed());
        Ok(report)
    }

    async fn store_body(
        self: &Arc<Self>,
        body: Vec<u8>,
        format: BodyFormat,
        envelope: Envelope,
        key: Option<BatchKey>,
    ) -> Result<IngestReport, IngestError> {
        let this = Arc::clone(self);
        let org = self.org.current(self.store.as_ref()).await;
        let view = Arc::clone(&org);
        let batch_key = key.clone();
        let processed = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            if events_at_most(&body, &format) > MAX_BODY_EVENTS {
                return Err(IngestError::TooManyEvents {
                    max: MAX_BODY_EVENTS,
                });
            }
            let batch = decode_body(&body, format, this.max_event_bytes);
            let rejected: Vec<RejectedEvent> = batch
                .rejected
                .iter()
                .map(|r| rejected(r.position, r.reason.to_string()))
                .collect();
            let mut pending = Vec::with_capacity(batch.accepted.len());
            for Accepted {
                position, event, ..
            } in batch.accepted
            {
                pending.push(Pending {
                    position,
                    event,
                    time: None,
                    envelope: envelope.clone(),
                });
            }
            this.store_pending(
                pending,
                rejected,
                &view,
                started.elapsed(),
                batch_key.as_ref(),
            )
        })
        .await
        .map_err(|e| IngestError::Worker(e.to_string()))??;
        self.finish(processed, &org, key).await
    }

    /// Ingests events already cut out of their transport (syslog, files), in a task of its
    /// own as [`Ingestor::ingest_body`] does.
    pub async fn ingest_raw(
        self: &Arc<Self>,
        events: Vec<RawEvent>,
    ) -> Result<IngestReport, IngestError> {
        let started = std::time::Instant::now();
        let this = Arc::clone(self);
        let report = detached(async move { this.store_raw(events).await }).await?;
        self.totals.latency(started.elapsed());
        Ok(report)
    }

    async fn store_raw(
        self: &Arc<Self>,
        events: Vec<RawEvent>,
    ) -> Result<IngestReport, IngestError> {
        let this = Arc::clone(self);
        let org = self.org.current(self.store.as_ref()).await;
        let view = Arc::clone(&org);
        let processed = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let mut rejected = Vec::new();
            let mut pending = Vec::with_capacity(events.len());
            for (index, raw) in events.into_iter().enumerate() {
                let position = Position::Index(index as u64);
                if raw.json.len() > this.max_event_bytes {
                    rejected.push(self::rejected(
                        position,
                        format!(
                            "the event is {} bytes, more than the {}-byte limit of one event; split it into smaller events",
                            raw.json.len(),
                            this.max_event_bytes
                        ),
                    ));
                    continue;
                }
                match JsonEvent::parse_owned(raw.json.into_bytes()) {
                    Ok(event) => pending.push(Pending {
                        position,
                        event,
                        time: raw.time,
                        envelope: raw.envelope,
                    }),
                    Err(e) => rejected.push(self::rejected(position, e.to_string())),
                }
            }
            this.store_pending(pending, rejected, &view, started.elapsed(), None)
        })
        .await
        .map_err(|e| IngestError::Worker(e.to_string()))??;
        self.finish(processed, &org, None).await
    }

    /// Records a stored batch's detections (of the rules the organisation does not turn off) and
    /// alerts — and its answer, when it was sent under `key` — then lets the detection mark
    /// pass it.
    async fn finish(
        &self,
        (mut report, mut detections, matched_json, notes, timings, ticket): Processed,
        org: &OrgView,
        key: Option<BatchKey>,
    ) -> Result<IngestReport, IngestError> {
        // Rules the organisation turns off are matched still (their correlations count them)
        // but not recorded.
        detections.retain(|d| !org.turns_off(&d.rule_id));
        report.detections = detections.len();
        let started = std::time::Instant::now();
        if !detections.is_empty() || key.is_some() {
            let alerts = self.alerts_for(&detections, matched_json, &notes, org);
            let kept_key = key.clone();
            let answer = key.map(|key| once::keyed_answer(key, &report, Utc::now()));
            let recorded = self
                .store
                .record_matches(vigil_core::actors::SYSTEM, detections, alerts, answer)
                .await;
            let (_, raised) = match recorded {
                Ok(recorded) => recorded,
                Err(e) => {
                    // Kept to be answered when it is sent again, not stored a second time.
                    let stored = (report.stored.first(), report.stored.last());
                    if let (Some(key), (Some(first), Some(last))) = (kept_key, stored) {
                        self.unrecorded.failed(Unanswered {
                            key,
                            ids: *first..last + 1,
                            rejected: report.rejected,
                        });
                    }
                    return Err(e.into());
                }
            };
            report.alerts = raised
                .iter()
                .filter(|r| matches!(r, vigil_store::RaisedId::Created(_)))
                .count();
        }
        if let Some(ticket) = ticket {
            self.mark.release(ticket);
            self.publish_mark();
        }
        self.totals.count(
            &report,
            Steps {
                decode: timings.decode,
                detect: timings.detect,
                append: timings.append,
                record: started.elapsed(),
            },
        );
        tracing::debug!(
            stored = report.stored.len(),
            rejected = report.rejected.len(),
            detections = report.detections,
            decode_us = timings.decode.as_micros() as u64,
            detect_us = timings.detect.as_micros() as u64,
            append_us = timings.append.as_micros() as u64,
            record_us = started.elapsed().as_micros() as u64,
            "batch ingested"
        );
        Ok(report)
    }

    /// The alerts to raise for a batch's detections: one per (rule, service, host) — or the
    /// rule's own `group_by` fields — and tenant (an alert is one tenant's, the events of two
    /// tenants never share one), with the preliminary severity from the rule's level and
    /// the service's criticality in the organisation document.
    fn alerts_for(
        &self,
        detections: &[NewDetection],
        matched_json: std::collections::HashMap<u64, String>,
        notes: &CorrelationNotes,
        org: &OrgView,
    ) -> Vec<(NewAlert, AlertPolicy)> {
        let org = &org.document;
        let criticality = |service: &str| {
            let entry = org.as_ref()?.services.iter().find(|s| s.name == service)?;
            entry.criticality
        };
        // The matched events' JSON is validated once each, however many rules it matched, and
        // parsed only for grouping fields that are JSON paths.
        let events: std::collections::HashMap<u64, vigil_core::EventJson> = matched_json
            .into_iter()
            .filter_map(|(id, json)| Some((id, vigil_core::EventJson::from_text(json).ok()?)))
            .collect();
        let mut parsed: std::collections::HashMap<u64, Option<serde_json::Value>> =
            std::collections::HashMap::new();
        let config = |rule: &str| {
            let all = org.as_ref()?;
            all.alerting
                .iter()
                .find(|a| a.rule_id == rule)
                .or_else(|| all.alerting.iter().find(|a| a.rule_id == "*"))
        };
        let mut groups: std::collections::BTreeMap<(String, String), (NewAlert, AlertPolicy)> =
            Default::default();
        for d in detections {
            let event = events.get(&d.event_id);
            let cfg = config(&d.rule_id);
            let correlation = notes.get(&(d.event_id, d.rule_id.clone()));
            let fields: Vec<&str> = match cfg {
                Some(c) if !c.group_by.is_empty() => {
                    c.group_by.iter().map(String::as_str).collect()
                }
                // A correlation's own group (user=root) tells its alerts apart.
                _ if correlation.is_some() => Vec::new(),
                _ => vec!["host"],
            };
            let mut key = format!("{}|{}", d.rule_id, d.service);
            if let (true, Some(c)) = (fields.is_empty(), correlation) {
                key.push('|');
                key.push_str(&c.group);
            }
            for f in &fields {
                let value = match *f {
                    "host" => d.host.clone(),
                    "tenant" => d.tenant.clone(),
                    "service" => d.service.clone(),
                    path => parsed
                        .entry(d.event_id)
                        .or_insert_with(|| event.and_then(vigil_core::EventJson::parse))
                        .as_ref()
                        .and_then(|e| json_path(e, path))
                        .unwrap_or_default(),
                };
                key.push('|');
                key.push_str(&value);
            }
            let mut policy = self.alerts;
            if let Some(c) = cfg {
                if let Some(w) = c.window.as_deref().and_then(vigil_oncall::parse_after) {
                    // Clamped as validation bounds it, should a document predate the bound.
                    let w = w.min(vigil_oncall::MAX_ALERT_WINDOW_SECS);
                    policy.dedup_window = chrono::Duration::seconds(w as i64);
                }
                if let Some(m) = c.max_per_hour {
                    policy.max_new_per_rule_per_hour = m;
                }
            }
            let entry = groups.entry((d.tenant.clone(), key.clone())).or_insert_with(|| {
                (
                    NewAlert {
                        title: d.rule_title.clone(),
                        source: AlertSource::Detection,
                        severity: preliminary_severity(d.level, criticality(&d.service)),
                        service: d.service.clone(),
                        tenant: Some(d.tenant.clone()).filter(|t| !t.is_empty()),
                        dedup_key: key,
                        rule_id: Some(d.rule_id.clone()).filter(|r| !r.is_empty()),
                        summary: Some({
                            let tenant = if d.tenant.is_empty() {
                                String::new()
                            } else {
                                format!(" of tenant {:?}", d.tenant)
                            };
                            match correlation {
                                Some(CorrelationFound { note, .. }) => format!(
                                    "Sigma correlation rule {:?} ({}): {note}; the last event on host {:?}{tenant}",
                                    d.rule_title, d.level, d.host
                                ),
                                None => format!(
                                    "Sigma rule {:?} ({}) matched on host {:?}{tenant}",
                                    d.rule_title, d.level, d.host
                                ),
                            }
                        }),
                        origin: Some("vigil-detect".into()),
                        reporter: None,
                        event_ids: Vec::new(),
                        events: Vec::new(),
                        times: 0,
                    },
                    policy,
                )
            });
            entry.0.times += 1;
            match correlation {
                // A correlation's evidence is every event that made it.
                Some(CorrelationFound { events, .. }) if !events.is_empty() => {
                    for (id, json) in events {
                        entry.0.event_ids.push(*id);
                        entry.0.events.push(
                            vigil_core::EventJson::from_text(json.to_string()).unwrap_or_else(
                                |_| vigil_core::EventJson::from_value(&serde_json::Value::Null),
                            ),
                        );
                    }
                }
                _ => {
                    entry.0.event_ids.push(d.event_id);
                    entry.0.events.push(event.cloned().unwrap_or_else(|| {
                        vigil_core::EventJson::from_value(&serde_json::Value::Null)
                    }));
                }
            }
        }
        groups.into_values().collect()
    }

    /// Matches, appends and maps matches to the stored ids. Blocking. `decode` is how long
    /// decoding the batch took (for the step timings).
    fn store_pending(
        &self,
        pending: Vec<Pending>,
        mut rejected: Vec<RejectedEvent>,
        org: &OrgView,
        decode: std::time::Duration,
        key: Option<&BatchKey>,
    ) -> Result<Processed, IngestError> {
        let rules = self.rules.current();
        let set = &rules.set;
        let now = Utc::now();
        let started = std::time::Instant::now();
        let matched = org.match_all(set, &pending, |p| (&p.envelope.service, &p.event));
        let correlating = set.correlation_count() > 0;
        let mut batch = Batch {
            times: Vec::with_capacity(pending.len()),
            envelopes: Vec::with_capacity(pending.len()),
            ids: Vec::new(),
            matched_json: std::collections::HashMap::new(),
            matched,
        };
        let mut new_events = Vec::with_capacity(pending.len());
        let mut positions = Vec::with_capacity(pending.len());
        // Events a correlation may read once they are stored (their group-by fields).
        let mut kept: Vec<(usize, JsonEvent)> = Vec::new();
        for (i, p) in pending.into_iter().enumerate() {
            // A time the log store does not keep (a clock gone wrong, a zero time) is taken as
            // none: the event is stored at the time it was received, its JSON unchanged.
            let time = p
                .time
                .or_else(|| {
                    p.event
                        .timestamp()
                        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
                })
                .filter(|t| vigil_logs::keeps_time(*t))
                .unwrap_or(now);
            let mut envelope = p.envelope;
            if envelope.host.is_empty() {
                // A host the event names that is too long to be the envelope's (a client's
                // Host header in an access log, written by whoever sends the request) is left
                // in the event, where it is searched, rather than have the store refuse the
                // event over it: the envelope's host stays empty, as for an event naming none.
                envelope.host = p
                    .event
                    .host()
                    .filter(|h| h.len() <= vigil_logs::MAX_ENVELOPE_BYTES)
                    .unwrap_or_default();
            }
            positions.push(p.position);
            let matched = !batch.matched[i].is_empty();
            let json = if correlating && matched {
                let json = p.event.to_text();
                kept.push((i, p.event));
                json
            } else {
                p.event.into_text()
            };
            // The JSON of the events that matched travels with their alerts (and with the
            // alerts of the correlations they feed).
            if matched {
                batch.matched_json.insert(i, json.clone());
            }
            new_events.push(NewEvent {
                time,
                service: envelope.service.clone(),
                host: envelope.host.clone(),
                tenant: envelope.tenant.clone(),
                json,
                // The event was parsed (to match it) from this very text.
                json_checked: true,
            });
            batch.times.push(time);
            batch.envelopes.push(envelope);
        }
        let detect = started.elapsed();
        let ticket = self.mark.enter(self.events.as_ref());
        let appended = match key {
            Some(key) => {
                // The mark lists every refusal of the answer, the log store's own too (it
                // refuses what `check` does), so that an answer rebuilt from it after a crash
                // is the one the batch would have had.
                let mut refused = rejected.clone();
                for (i, event) in new_events.iter().enumerate() {
                    if let Err(reason) = event.check() {
                        refused.push(self::rejected(positions[i], reason));
                    }
                }
                refused.sort_by_key(|r| (r.line, r.index));
                let mark = once::mark(key, &refused);
                self.events.append_marked(new_events, mark)
            }
            None => self.events.append(new_events),
        };
        let outcome = match appended {
            Ok(outcome) => outcome,
            Err(e) => {
                // Nothing of the batch was stored.
                self.mark.release(ticket);
                self.totals.not_stored(&e, positions.len());
                return Err(e.into());
            }
        };
        let append = started.elapsed() - detect;
        // The store may refuse some (an empty service): map its batch indexes back.
        let refused: std::collections::HashSet<usize> =
            outcome.rejected.iter().map(|r| r.index).collect();
        for r in &outcome.rejected {
            rejected.push(self::rejected(positions[r.index], r.reason.clone()));
        }
        rejected.sort_by_key(|r| (r.line, r.index));
        let mut stored = outcome.stored.iter().copied();
        batch.ids = (0..batch.matched.len())
            .map(|i| {
                if refused.contains(&i) {
                    None
                } else {
                    stored.next()
                }
            })
            .collect();
        self.totals.stored_from(
            batch
                .envelopes
                .iter()
                .zip(&batch.ids)
                .filter(|(_, id)| id.is_some())
                .map(|(e, _)| (e.service.as_str(), e.tenant.as_str())),
            now,
        );
        let expiring = batch
            .envelopes
            .iter()
            .zip(&batch.times)
            .zip(&batch.ids)
            .filter(|((envelope, time), id)| {
                id.is_some() && self.retention.expired(&envelope.service, **time, now)
            })
            .count();
        let (found, correlated_later) = self.correlate(&rules, org, &kept, &mut batch, now);
        let (detections, matched_json, notes) = batch.detections(set, found);
        Ok((
            IngestReport {
                stored: outcome.stored,
                rejected,
                detections: 0,
                alerts: 0,
                correlated_later,
                expiring,
            },
            detections,
            matched_json,
            notes,
            Timings {
                decode,
                detect,
                append,
            },
            Some(ticket),
        ))
    }

    /// Feeds the batch's stored events that matched a rule (`kept`, by batch index) to the
    /// correlations, in arrival order — every match, also of rules that only feed them — and
    /// returns what each reported correlation that fired found, by (batch index, rule). The
    /// windows of counts bounded from above that closed (the group's next event came, or the
    /// batch moved correlation time past them) are recorded with it, on their last events
    /// (stored earlier, or earlier in the batch), which are added to the batch for that. Also
    /// how many of the events came too late for the live windows (see `Correlated::late`).
    fn correlate(
        &self,
        rules: &Arc<LoadedRules>,
        org: &OrgView,
        kept: &[(usize, JsonEvent)],
        batch: &mut Batch,
        now: DateTime<Utc>,
    ) -> (Vec<(usize, RuleId, CorrelationFound)>, usize) {
        // Without correlation rules there is nothing to feed (most rule sets: SigmaHQ's own).
        if rules.set.correlation_count() == 0 {
            return (Vec::new(), 0);
        }
        let mapped: Vec<Option<MappedEvent<'_>>> = kept
            .iter()
            .map(|(i, event)| org.mapped(&batch.envelopes[*i].service, event))
            .collect();
        // While the windows are rebuilt, the events are left to the rebuild (see `Late`).
        let deferred = || {
            kept.iter()
                .filter_map(|(i, _)| {
                    Some(Deferred {
                        id: batch.ids[*i]?,
                        time: batch.times[*i],
                        envelope: batch.envelopes[*i].clone(),
                        json: batch.matched_json.get(i)?.clone(),
                        matched: batch.matched[*i].clone(),
                    })
                })
                .collect()
        };
        let newest_ms = batch
            .times
            .iter()
            .zip(&batch.ids)
            .filter(|(_, id)| id.is_some())
            .map(|(time, _)| time.timestamp_millis())
            .max()
            .unwrap_or(i64::MIN);
        let correlated = self.correlations.feed_or_defer(
            rules,
            kept.iter().zip(&mapped).filter_map(|((i, event), mapped)| {
                Some(Fed {
                    index: *i,
                    id: batch.ids[*i]?,
                    sender: &batch.envelopes[*i],
                    timestamp_ms: batch.times[*i].timestamp_millis(),
                    event: match mapped {
                        Some(mapped) => mapped,
                        None => event,
                    },
                    json: batch.matched_json.get(i)?,
                    matched: &batch.matched[*i],
                })
            }),
            deferred,
            newest_ms,
            now.timestamp_millis(),
        );
        let mut found = found_of(&rules.set, correlated.fired);
        found.extend(batch.add_earlier(&rules.set, correlated.closed));
        (found, correlated.late)
    }

    /// Tells the log store how far the stored events have their detections recorded.
    fn publish_mark(&self) {
        self.events
            .mark_detected_below(self.mark.below(self.events.as_ref()));
    }

    /// Matches stored events that have no detections recorded (after a crash) and records
    /// what they match; returns how many detections that made. With `answer`, they are a
    /// batch sent under an idempotency key, whose answer (the report so far) is recorded with
    /// their detections.
    async fn recover(
        self: &Arc<Self>,
        owed: Vec<StoredEvent>,
        answer: Option<(BatchKey, IngestReport)>,
    ) -> Result<usize, IngestError> {
        if owed.is_empty() && answer.is_none() {
            return Ok(0);
        }
        let this = Arc::clone(self);
        let org = self.org().await;
        let view = Arc::clone(&org);
        let processed = tokio::task::spawn_blocking(move || {
            let rules = this.rules.current();
            let set = &rules.set;
            // They parsed when they were stored (the store refuses JSON that does not).
            let parsed: Vec<(StoredEvent, JsonEvent)> = owed
                .into_iter()
                .filter_map(|stored| {
                    let event = JsonEvent::parse_owned(stored.json.as_bytes().to_vec()).ok()?;
                    Some((stored, event))
                })
                .collect();
            let matched = view.match_all(set, &parsed, |(stored, event)| {
                (stored.service.as_str(), event)
            });
            let batch = Batch {
                times: parsed.iter().map(|(stored, _)| stored.time).collect(),
                ids: parsed.iter().map(|(stored, _)| Some(stored.id)).collect(),
                matched_json: parsed
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !matched[*i].is_empty())
                    .map(|(i, (stored, _))| (i, stored.json.clone()))
                    .collect(),
                envelopes: parsed
                    .iter()
                    .map(|(stored, _)| Envelope::of(stored))
                    .collect(),
                matched,
            };
            batch.recorded_later(set, Vec::new())
        })
        .await
        .map_err(|e| IngestError::Worker(e.to_string()))?;
        let (processed, key) = match answer {
            Some((key, report)) => {
                let (_, detections, matched_json, notes, timings, ticket) = processed;
                (
                    (report, detections, matched_json, notes, timings, ticket),
                    Some(key),
                )
            }
            None => (processed, None),
        };
        Ok(self.finish(processed, &org, key).await?.detections)
    }

    /// Records the correlations that events deferred during a rebuild completed once it ran
    /// (their batches were acknowledged, and their own detections recorded, before; those of
    /// events a crash left unrecorded are the detection recovery's), and the windows that
    /// closed meanwhile.
    ///
    /// Those recorded on events in `unrecorded` (read back by the rebuild, their batch maybe
    /// never recorded; the last event of a window decided at its close) are recorded unless
    /// the store has them already.
    async fn record_late(
        &self,
        set: &CompiledRuleSet,
        late: Late,
        unrecorded: std::ops::Range<u64>,
        org: &OrgView,
    ) -> Result<usize, IngestError> {
        let mut found = found_of(set, late.fired);
        let events = late.events;
        let checked: Vec<u64> = found
            .iter()
            .map(|(i, _, _)| events[*i].id)
            .filter(|id| unrecorded.contains(id))
            .collect();
        if let (Some(first), Some(last)) = (checked.iter().min(), checked.iter().max()) {
            let recorded: std::collections::HashSet<(u64, String)> = self
                .store
                .detections_of(*first..last + 1)
                .await?
                .into_iter()
                .collect();
            found.retain(|(i, rule, _)| {
                !recorded.contains(&(events[*i].id, set.rule(*rule).id().to_owned()))
            });
        }
        if found.is_empty() {
            return Ok(0);
        }
        let batch = Batch {
            times: events.iter().map(|d| d.time).collect(),
            // Their rules' own detections were recorded with their batches (or by the recovery).
            matched: vec![Vec::new(); events.len()],
            ids: events.iter().map(|d| Some(d.id)).collect(),
            matched_json: events
                .iter()
                .enumerate()
                .filter(|(_, d)| !d.json.is_empty())
                .map(|(i, d)| (i, d.json.clone()))
                .collect(),
            envelopes: events.into_iter().map(|d| d.envelope).collect(),
        };
        let report = self
            .finish(batch.recorded_later(set, found), org, None)
            .await?;
        Ok(report.detections)
    }

    /// Moves correlation time on if the stream has been silent for longer than
    /// [`crate::correlation::IDLE_GRACE_MS`] at `now` (see `Correlations::pass_idle_time`) and
    /// records the windows that lapsed; returns how many detections that made. A window
    /// recorded already (decided before a crash, and again after the rebuild) is not recorded
    /// twice. Windows the store failed to record are recorded at the next call, with its own.
    pub async fn pass_idle_time(&self, now: DateTime<Utc>) -> Result<usize, IngestError> {
        let owed = self
            .idle_unrecorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let mut detections = 0;
        if let Some((late, rules)) = owed {
            // Recorded with the rules that decided them, should the rules have been reloaded.
            detections += self.record_idle(late, rules).await?;
        }
        let rules = self.rules.current();
        if rules.set.correlation_count() == 0 {
            return Ok(detections);
        }
        let late = {
            let correlations = Arc::clone(&self.correlations);
            let rules = Arc::clone(&rules);
            tokio::task::spawn_blocking(move || {
                correlations.pass_idle_time(&rules, now.timestamp_millis())
            })
            .await
            .map_err(|e| IngestError::Worker(e.to_string()))?
        };
        Ok(detections + self.record_idle(late, rules).await?)
    }

    /// Records windows the clock decided; kept to be recorded at the next tick if the store
    /// fails.
    async fn record_idle(&self, late: Late, rules: Arc<LoadedRules>) -> Result<usize, IngestError> {
        if late.events.is_empty() {
            return Ok(0);
        }
        let org = self.org().await;
        let recorded = self
            .record_late(&rules.set, late.clone(), 0..u64::MAX, &org)
            .await;
        if recorded.is_err() {
            self.owe_idle(late, rules);
        }
        recorded
    }

    fn owe_idle(&self, late: Late, rules: Arc<LoadedRules>) {
        *self
            .idle_unrecorded
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some((late, rules));
    }

    /// Runs the correlations over the store around each tenant's late events that stopped
    /// coming a while before `now` (see `Correlations::due_late`), and records what they find
    /// that the store lacks; returns how many detections that made.
    pub async fn correlate_late(&self, now: DateTime<Utc>) -> Result<usize, IngestError> {
        self.correlate_late_until(now, &Arc::new(AtomicBool::new(false)))
            .await
    }

    /// [`Ingestor::correlate_late`], giving up between two slices of a run once `stop` is set:
    /// the spans not run to their end stay pending (and in the file of late spans), to run at
    /// the next tick or the next start.
    pub async fn correlate_late_until(
        &self,
        now: DateTime<Utc>,
        stop: &Arc<AtomicBool>,
    ) -> Result<usize, IngestError> {
        let rules = self.rules.current();
        if rules.set.correlation_count() == 0 {
            return Ok(0);
        }
        let due = self.correlations.due_late(now.timestamp_millis());
        if due.is_empty() {
            return Ok(0);
        }
        let org = self.org().await;
        let mut detections = 0;
        let mut failed = None;
        for (tenant, span) in due {
            if stop.load(Ordering::Acquire) {
                self.correlations.late_recorded(&tenant, span, true);
                continue;
            }
            let run = {
                let (rules, org, events, stop) = (
                    Arc::clone(&rules),
                    Arc::clone(&org),
                    Arc::clone(&self.events),
                    Arc::clone(stop),
                );
                let tenant = tenant.clone();
                tokio::task::spawn_blocking(move || {
                    Correlations::correlate_late(
                        &rules,
                        &org,
                        events.as_ref(),
                        &tenant,
                        span,
                        crate::correlation::LATE_SLICE_EVENTS,
                        &stop,
                    )
                })
                .await
                .map_err(|e| IngestError::Worker(e.to_string()))
            };
            let recorded = match run {
                Ok(Ok(Some(late))) => self.record_late(&rules.set, late, 0..u64::MAX, &org).await,
                Ok(Ok(None)) => {
                    tracing::info!(
                        tenant,
                        "the run over late events was stopped with the server; it runs again at the next start"
                    );
                    self.correlations.late_recorded(&tenant, span, true);
                    continue;
                }
                Ok(Err(e)) => Err(e.into()),
                Err(e) => Err(e),
            };
            // Run again at a later tick if it failed (what it recorded is not recorded twice).
            self.correlations
                .late_recorded(&tenant, span, recorded.is_err());
            let recorded = match recorded {
                Ok(recorded) => recorded,
                Err(e) => {
                    failed.get_or_insert(e);
                    continue;
                }
            };
            tracing::info!(
                tenant,
                from = %DateTime::<Utc>::from_timestamp_millis(span.from_ms).unwrap_or_default(),
                to = %DateTime::<Utc>::from_timestamp_millis(span.to_ms).unwrap_or_default(),
                detections = recorded,
                "correlations run over the stored events around events that came late"
            );
            detections += recorded;
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(detections),
        }
    }

    /// Every `every` until `stop` turns true, on the server's clock: [`Ingestor::pass_idle_time`]
    /// and [`Ingestor::correlate_late`].
    pub async fn run_correlation_clock(
        self: Arc<Self>,
        every: std::time::Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut ticks = Ticks::new(every);
        while ticks.next(&mut stop).await {
            // A run over late events can read millions of stored events: asked to stop, it
            // gives up at its next slice instead of holding the shutdown up.
            let stopping = Arc::new(AtomicBool::new(false));
            let run = self.correlate_late_until(Utc::now(), &stopping);
            tokio::pin!(run);
            let outcome = tokio::select! {
                outcome = &mut run => outcome,
                _ = stop.changed() => {
                    stopping.store(true, Ordering::Release);
                    run.await
                }
            };
            match outcome {
                Ok(_) => {}
                Err(e) => tracing::warn!(
                    error = %e,
                    "could not correlate the events that came late; trying again at the next tick"
                ),
            }
            if *stop.borrow() {
                return;
            }
            match self.pass_idle_time(Utc::now()).await {
                Ok(0) => {}
                Ok(detections) => tracing::info!(
                    detections,
                    "correlation windows of quiet groups decided while no event arrived, recorded"
                ),
                Err(e) => tracing::warn!(
                    error = %e,
                    "could not record the correlation windows that lapsed while no event arrived; trying again at the next tick"
                ),
            }
        }
    }
}

/// A background task's clock: a tick every period (a late tick delays the next ones rather
/// than bunching them), until the server stops.
struct Ticks(tokio::time::Interval);

impl Ticks {
    fn new(every: std::time::Duration) -> Ticks {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Ticks(ticks)
    }

    /// Waits for the next tick; `false` once `stop` turns true.
    async fn next(&mut self, stop: &mut tokio::sync::watch::Receiver<bool>) -> bool {
        tokio::select! {
            _ = self.0.tick() => !*stop.borrow(),
            _ = stop.changed() => false,
        }
    }
}

/// Runs `work` to its end in a task of its own, whether or not the caller keeps waiting for it.
async fn detached<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, IngestError>> + Send + 'static,
) -> Result<T, IngestError> {
    tokio::spawn(work)
        .await
        .map_err(|e| IngestError::Worker(e.to_string()))?
}

/// What each reported correlation that fired found, by (batch index, rule), in firing order.
fn found_of(set: &CompiledRuleSet, fired: Vec<Fired>) -> Vec<(usize, RuleId, CorrelationFound)> {
    fired
        .into_iter()
        .filter(|f| set.rule(f.found.rule).report)
        .map(|f| {
            (
                f.index,
                f.found.rule,
                CorrelationFound {
                    note: correlation_note(set, &f.found),
                    group: f.found.group_text(set),
                    events: f.events,
                },
            )
        })
        .collect()
}

/// A batch as it is stored, by batch index: what the detections of its events are made of.
struct Batch {
    /// Each event's time.
    times: Vec<DateTime<Utc>>,
    /// Who sent each event (its host filled in from the event when the sender did not say).
    envelopes: Vec<Envelope>,
    /// Every rule each event matched (reported or not).
    matched: Vec<Vec<RuleId>>,
    /// Each event's id in the log store (`None`: the store refused it).
    ids: Vec<Option<u64>>,
    /// The JSON of the events that matched a rule.
    matched_json: std::collections::HashMap<usize, String>,
}

impl Batch {
    /// Adds the events that windows decided at their close (`late`) are recorded on — stored
    /// in earlier batches, or earlier in this one (a second entry then: their own rules'
    /// detections are the first's) — and returns what those found by their index in this
    /// batch.
    fn add_earlier(
        &mut self,
        set: &CompiledRuleSet,
        late: Late,
    ) -> Vec<(usize, RuleId, CorrelationFound)> {
        let offset = self.matched.len();
        for (i, event) in late.events.into_iter().enumerate() {
            self.times.push(event.time);
            self.ids.push(Some(event.id));
            // Their own rules' detections were recorded with their batches.
            self.matched.push(Vec::new());
            if !event.json.is_empty() {
                self.matched_json.insert(offset + i, event.json);
            }
            self.envelopes.push(event.envelope);
        }
        found_of(set, late.fired)
            .into_iter()
            .map(|(i, rule, found)| (offset + i, rule, found))
            .collect()
    }

    /// The detections of events stored earlier, to record now (late correlations, recovery):
    /// no step timings, and no ticket (the mark is held otherwise, or not needed).
    fn recorded_later(
        self,
        set: &CompiledRuleSet,
        found: Vec<(usize, RuleId, CorrelationFound)>,
    ) -> Processed {
        let (detections, matched_json, notes) = self.detections(set, found);
        (
            IngestReport::default(),
            detections,
            matched_json,
            notes,
            Timings::NONE,
            None,
        )
    }

    /// The detections of the stored events — each reported rule they matched and each reported
    /// correlation they completed (`found`) — with the JSON of their events by stored id and
    /// what each correlation found, for their alerts.
    fn detections(
        mut self,
        set: &CompiledRuleSet,
        found: Vec<(usize, RuleId, CorrelationFound)>,
    ) -> (
        Vec<NewDetection>,
        std::collections::HashMap<u64, String>,
        CorrelationNotes,
    ) {
        let mut completed: std::collections::HashMap<usize, Vec<(RuleId, CorrelationFound)>> =
            std::collections::HashMap::new();
        for (i, rule, correlation) in found {
            completed.entry(i).or_default().push((rule, correlation));
        }
        let mut matched_json = std::collections::HashMap::new();
        let mut detections = Vec::new();
        let mut notes = CorrelationNotes::new();
        for (i, all) in self.matched.iter().enumerate() {
            let Some(event_id) = self.ids[i] else {
                continue;
            };
            let rules = reported(set, all);
            let correlations = completed.remove(&i).unwrap_or_default();
            if rules.is_empty() && correlations.is_empty() {
                continue;
            }
            if let Some(json) = self.matched_json.remove(&i) {
                matched_json.insert(event_id, json);
            }
            let envelope = &self.envelopes[i];
            let mut detect = |rule: RuleId| {
                let meta = set.rule(rule);
                detections.push(NewDetection {
                    event_id,
                    event_time: self.times[i],
                    service: envelope.service.clone(),
                    host: envelope.host.clone(),
                    tenant: envelope.tenant.clone(),
                    rule_id: meta.id().to_owned(),
                    rule_title: meta.title().to_owned(),
                    level: RuleLevel::parse(meta.level().as_str()).unwrap_or(RuleLevel::Medium),
                    tags: meta.meta.tags.clone(),
                });
            };
            rules.into_iter().for_each(&mut detect);
            for (rule, correlation) in correlations {
                detect(rule);
                notes.insert((event_id, set.rule(rule).id().to_owned()), correlation);
            }
        }
        (detections, matched_json, notes)
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

/// What a correlation that fired found, in words: `3 events for user=root within 5m`.
pub(crate) fn correlation_note(
    set: &CompiledRuleSet,
    found: &vigil_detect::CorrelationMatch,
) -> String {
    use vigil_sigma::CorrelationType as T;
    let Some(shape) = set.correlation_shape(found.rule) else {
        return format!("value {}", found.value);
    };
    let value = vigil_detect::value_text(found.value);
    let field = match shape.fields {
        [] => "the value".to_owned(),
        fields => fields.join(" and "),
    };
    let what = match shape.kind {
        T::EventCount => format!("{value} events"),
        T::ValueCount if shape.fields.len() > 1 => {
            format!("{value} distinct combinations of {field}")
        }
        T::ValueCount => format!("{value} distinct values of {field}"),
        T::ValueSum => format!("{field} adding up to {value}"),
        T::ValueAvg => format!("{field} averaging {value}"),
        T::ValuePercentile if shape.condition.percentile.is_some() => {
            format!("a percentile of {field} at {value}")
        }
        T::ValuePercentile => format!("a value of {field} in {value} % of the events"),
        T::Temporal => format!("{value} of its {} rules", shape.rules),
        T::TemporalOrdered => format!("{value} of its {} rules in order", shape.rules),
    };
    let group = found.group_text(set);
    let group = if group.is_empty() {
        String::new()
    } else {
        format!(" for {group}")
    };
    format!(
        "{what}{group} within {}",
        vigil_sigma::format_timespan(shape.timespan_ms.max(0) as u64)
    )
}

/// The rules of `matched` whose matches are reported (not those that only feed correlations).
fn reported(set: &CompiledRuleSet, matched: &[RuleId]) -> Vec<RuleId> {
    matched
        .iter()
        .copied()
        .filter(|&r| set.rule(r).report)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlations_are_described_in_words() {
        let text = "title: Base\nid: base\nname: base\nlogsource:\n  product: test\ndetection:\n  sel:\n    F: x\n  condition: sel\n---\ntitle: Many hosts\nid: c\ncorrelation:\n  type: value_count\n  rules: [base]\n  group-by: [User, src]\n  timespan: 90s\n  condition:\n    field: Host\n    gte: 2\n";
        let (docs, _) = vigil_sigma::parse_str(text, std::path::Path::new("c.yml"));
        let (set, diags) = vigil_detect::compile(&docs, &vigil_detect::CompileOptions::default());
        assert!(diags.is_empty(), "{diags:?}");
        let rule = (0..set.rules().len() as u32)
            .map(RuleId)
            .find(|r| set.rule(*r).id() == "c")
            .unwrap();
        let found = vigil_detect::CorrelationMatch {
            rule,
            timestamp_ms: 0,
            group: vec!["root".into(), "203.0.113.9".into()],
            value: 4.0,
            events: vec![1, 2, 3, 4],
        };
        assert_eq!(
            correlation_note(&set, &found),
            "4 distinct values of Host for User=root, src=203.0.113.9 within 90s"
        );
    }
}
