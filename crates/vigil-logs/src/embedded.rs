//! The embedded backend: journal + Tantivy in one data directory, run by two threads.
//!
//! ```text
//! append() ──bounded──▶ journal thread ──bounded──▶ index thread ──commit──▶ readers
//!   ▲  waits for the fsync   (group commit:            (adds documents, commits every
//!   └──────── ack ─────────   one fsync per group)      interval with the journal position)
//! ```
//!
//! Both channels are bounded, so a slow disk or a slow indexer makes `append` wait rather than
//! grow memory. The journal is the source of truth until the index commits: on open, records
//! after the last committed position are indexed again.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::{AggContextParams, AggregationCollector, AggregationLimitsGuard};
use tantivy::collector::{Count, TopDocs};
use tantivy::index::SegmentId;
use tantivy::query::{
    BooleanQuery, EnableScoring, InvertedIndexRangeQuery, Occur, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Searcher, TantivyDocument,
    Term,
};
use vigil_query::{Expr, Field, Pipe, Query as VQuery};

use crate::backup::{self, LogBackup, LogBackupFiles, PruneHold};
use crate::error::LogError;
use crate::groups::GroupCounter;
use crate::index::{Fields, Translator, register_tokenizers, schema};
use crate::journal::{self, Journal, Mark, Position, Record};
use crate::pivot::PivotCollector;
use crate::store::{
    Aggregation, AppendOutcome, BatchMark, Count as ValueCount, Cursor, EventStore, Group,
    MissingField, NewEvent, Pivot, PivotRequest, Rejected, SearchPage, SearchRequest, ServiceStats,
    StoreHealth, StoredEvent, TimeBucket, TimeRange,
};
use crate::terms::{ListedCounter, Ranking, ValueCounter};

/// How the embedded store runs. Build with [`EmbeddedConfig::new`] and adjust the fields.
#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    /// The data directory (holds `journal/` and `index/`).
    pub dir: PathBuf,
    /// How often new events are committed to the index (and become searchable).
    pub commit_interval: Duration,
    /// Memory Tantivy may use for indexing before it writes a segment.
    pub index_memory_bytes: usize,
    /// Tantivy indexing threads.
    pub index_threads: usize,
    /// Append requests that may wait for the journal; more make `append` block.
    pub queued_appends: usize,
    /// Journal groups that may wait for the indexer in memory; beyond them the indexer reads
    /// the journal files back.
    pub queued_groups: usize,
    /// How many acknowledged events the indexer may be behind the journal (not yet read back
    /// into the index writer) before appends wait for it: back-pressure at the indexing rate.
    /// Below it, acknowledgements run at the pace of the journal and search catches up behind.
    pub max_index_lag: u64,
    /// The scheduling niceness of the indexing threads (Linux; 0 to leave them as they are):
    /// on a small machine indexing competes with decoding, detection and acknowledgements for
    /// the same cores, and a lagging index is the cheaper of the two to let wait.
    pub index_nice: i32,
    /// Keep journal records until the caller reports their detections recorded
    /// ([`EventStore::mark_detected_below`]), and keep that mark with each index commit, so
    /// that after a crash the events stored but never matched can be read back
    /// ([`EventStore::undetected_at_open`]). Off for stores that nothing matches.
    pub track_detections: bool,
    /// Past this size a journal segment is closed and the next one started; segments are
    /// deleted whole once the index (and detection) no longer need them.
    pub journal_segment_bytes: u64,
    /// Open even when acknowledged events are in neither the journal nor the index (the index
    /// deleted after the journal was pruned, journal segments deleted or cut short), going on
    /// without them; otherwise such an open is refused with [`LogError::EventsLost`]. For the
    /// operator who has no backup to restore, once.
    pub accept_lost_events: bool,
}

impl EmbeddedConfig {
    /// Defaults for a small server: commit every second, two indexing threads sharing 512 MiB
    /// (measured: two threads index ~1.7x faster than one on two cores, see docs/performance.md).
    pub fn new(dir: impl Into<PathBuf>) -> EmbeddedConfig {
        EmbeddedConfig {
            dir: dir.into(),
            commit_interval: Duration::from_secs(1),
            index_memory_bytes: 512 * 1024 * 1024,
            index_threads: 2,
            queued_appends: 64,
            queued_groups: 8,
            max_index_lag: 2_000_000,
            index_nice: 10,
            track_detections: false,
            journal_segment_bytes: journal::SEGMENT_BYTES,
            accept_lost_events: false,
        }
    }
}

type Reply<T> = SyncSender<Result<T, LogError>>;

/// The journal thread's answer to an append: the events' ids, or why none was stored.
type AppendReply = Reply<Vec<u64>>;

enum Request {
    Append {
        events: Vec<(i64, NewEvent)>,
        /// Kept beside the events, in the same write ([`EventStore::append_marked`]).
        mark: Option<Vec<u8>>,
        reply: AppendReply,
    },
    Flush(Reply<()>),
    Delete {
        query: Box<dyn Query>,
        /// Answered with how many events the deletion removed.
        reply: Reply<u64>,
    },
    /// Answered with the journal's end after every write before it (all of it fsynced) and
    /// the next sequence: what a backup copies of the journal.
    End(Reply<(Position, u64)>),
}

enum IndexMsg {
    Records {
        records: Vec<Record>,
        end: Position,
        next_seq: u64,
    },
    /// Commit everything the journal holds up to `end` (catching up first if behind).
    Flush {
        reply: Reply<()>,
        end: Position,
        next_seq: u64,
    },
    Delete {
        query: Box<dyn Query>,
        reply: Reply<u64>,
    },
    /// The journal went on without waiting for the indexer: index what it holds up to `end`
    /// from the journal files.
    CatchUp { end: Position, next_seq: u64 },
}

/// The commit payload: how far into the journal the committed index reaches.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Checkpoint {
    position: Position,
    next_seq: u64,
}

impl Checkpoint {
    /// The payload, with the detection mark when detections are tracked.
    fn encode(self, detected: Option<u64>) -> String {
        let mut payload = json!({
            "segment": self.position.segment,
            "offset": self.position.offset,
            "next_seq": self.next_seq,
        });
        if let Some(detected) = detected {
            payload["detected"] = json!(detected);
        }
        payload.to_string()
    }

    /// The checkpoint a payload keeps, and its detection mark if it has one.
    fn decode(payload: Option<&str>) -> (Checkpoint, Option<u64>) {
        let Some(value) = payload.and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        else {
            return (Checkpoint::default(), None);
        };
        let get = |k: &str| value.get(k).and_then(serde_json::Value::as_u64);
        let checkpoint = Checkpoint {
            position: Position {
                segment: get("segment").unwrap_or(0),
                offset: get("offset").unwrap_or(0),
            },
            next_seq: get("next_seq").unwrap_or(0),
        };
        (checkpoint, get("detected"))
    }
}

/// The embedded event store. Cheap to share behind an `Arc`; dropping it commits the index and
/// stops its threads.
pub struct EmbeddedStore {
    /// The journal thread's inbox, bounded by `queued_appends`: the back-pressure point. In a
    /// mutex so `Drop` can close it and let the threads finish.
    requests: Mutex<Option<SyncSender<Request>>>,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    progress: Arc<Progress>,
    /// Journal and index threads, joined on drop.
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// The JSON paths of each segment, read when a query names a field no event has (to
    /// propose the one meant). Segments never change, so an entry stays right until its
    /// segment is merged away; reading them cold can take a second on a large index.
    segment_paths: Mutex<HashMap<SegmentId, Arc<[String]>>>,
    /// The totals of the latest searches (see [`RecentTotals`]).
    totals: Mutex<RecentTotals>,
    journal_dir: PathBuf,
    /// The events stored before this open whose detections may not have been recorded.
    undetected: std::ops::Range<u64>,
    /// The marks of the batches among them.
    marks: Vec<BatchMark>,
    /// The store's lock file (`DIR/store.lock`), locked for as long as the store is open —
    /// released after the threads are joined, as the last field — so that a second open of the
    /// directory is refused before it cuts the journal's tail another writer is extending.
    _lock: std::fs::File,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore").finish_non_exhaustive()
    }
}

/// Commits the index with the journal position it reaches and the detection mark, then
/// deletes the journal segments that neither the index nor detection needs any more — unless
/// a backup holds them ([`Progress::backups`]): the next commit after it deletes them.
fn commit(
    writer: &mut IndexWriter,
    reader: &IndexReader,
    (journal_dir, progress): (&Path, &Progress),
    checkpoint: Checkpoint,
    detected: Option<u64>,
) -> Result<(), LogError> {
    let mut prepared = writer.prepare_commit()?;
    prepared.set_payload(&checkpoint.encode(detected));
    prepared.commit()?;
    reader.reload()?;
    let backups = progress.backups.lock().unwrap_or_else(|e| e.into_inner());
    if *backups > 0 {
        return Ok(());
    }
    journal::remove_before(journal_dir, checkpoint.position, detected)
}

/// `checkpoint`, moved to the start of the next segment when its own segment is shorter than
/// it (cut short or deleted outside Vigil: see [`journal::short_of`]), so that nothing reads
/// or appends past the hole; `None` when the segment is whole.
fn past_damage(journal_dir: &Path, checkpoint: Checkpoint) -> Result<Option<Checkpoint>, LogError> {
    Ok(journal::short_of(journal_dir, checkpoint.position)?.map(|_| next_segment(checkpoint)))
}

/// `checkpoint` moved to the start of the segment after its own.
fn next_segment(checkpoint: Checkpoint) -> Checkpoint {
    Checkpoint {
        position: Position {
            segment: checkpoint.position.segment + 1,
            offset: 0,
        },
        next_seq: checkpoint.next_seq,
    }
}

/// Reports a journal segment `length` bytes long, shorter than the index commit `checkpoint`
/// says it is: the bytes gone held events the index has (it is their only copy now), and which
/// ones, as far as the segments left tell.
fn report_short_segment(
    journal_dir: &Path,
    checkpoint: Checkpoint,
    length: u64,
) -> Result<(), LogError> {
    let Position { segment, offset } = checkpoint.position;
    let before = journal::segments(journal_dir)?
        .into_iter()
        .filter(|s| *s <= segment)
        .collect::<Vec<_>>();
    let mut last_held = None;
    for s in before.iter().rev() {
        last_held = journal::last_seq(journal_dir, *s)?;
        if last_held.is_some() {
            break;
        }
    }
    let first_gone = last_held.map_or(0, |seq| seq + 1);
    tracing::error!(
        segment,
        length,
        indexed_up_to = offset,
        bytes_gone = offset - length,
        events_gone = checkpoint.next_seq.saturating_sub(first_gone),
        first_gone,
        last_gone = checkpoint.next_seq.saturating_sub(1),
        "a journal segment is shorter than what the search index has taken from it (cut short or deleted outside Vigil): the events in its missing bytes are in the index but no longer in the journal, so the index is their only copy and must not be deleted; appends go on in a new segment"
    );
    Ok(())
}

/// What the journal holds beyond the last index commit.
struct Tail {
    /// Its valid end (a torn tail is cut there when the journal reopens) and next sequence.
    end: Checkpoint,
    /// How many records lie between the commit and the end.
    records: u64,
    /// The first event missing between them, and how many are: sequences follow one another
    /// without a gap from the commit's `next_seq` on (a refused group's go to the next one),
    /// so a gap is acknowledged events the journal lost and the index never had.
    lost: Option<(u64, u64)>,
}

/// Reads the journal beyond the last index commit `from`. Reading it back is quick; indexing
/// it is left to the index thread.
fn journal_tail(journal_dir: &Path, from: Checkpoint) -> Result<Tail, LogError> {
    let mut end = from;
    let mut records = 0u64;
    let mut lost: Option<(u64, u64)> = None;
    end.position = journal::replay(journal_dir, from.position, |record, _| {
        if record.seq > end.next_seq {
            lost.get_or_insert((end.next_seq, 0)).1 += record.seq - end.next_seq;
        }
        end.next_seq = end.next_seq.max(record.seq + 1);
        records += 1;
        Ok(())
    })?;
    Ok(Tail { end, records, lost })
}

/// `e`, an index failure, as [`LogError::IndexBroken`] with what the journal still holds
/// when it is the index's own (not a lock held elsewhere, a full disk or too few
/// descriptors): the advice to delete the index stands only if the journal can rebuild it.
fn judged(e: LogError, index_dir: &Path, journal_dir: &Path) -> LogError {
    let LogError::Index(source) = e else {
        return e;
    };
    if matches!(source, tantivy::TantivyError::LockFailure(..))
        || crate::error::machine_failure(&source)
    {
        return LogError::Index(source);
    }
    match journal::missing(journal_dir) {
        Ok(gone) => LogError::IndexBroken {
            dir: index_dir.to_owned(),
            source,
            gone,
        },
        Err(read) => {
            tracing::warn!(error = %read, "could not read the journal to judge whether the index can be rebuilt from it");
            LogError::Index(source)
        }
    }
}

/// Lowers the calling thread's scheduling priority by `nice`; threads it starts inherit it.
/// On Linux `setpriority` on a thread id applies to that thread alone.
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    if nice != 0 {
        let tid = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(tid), nice) {
            tracing::warn!(error = %e, nice, "could not lower the indexing threads' priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

/// Next sequence numbers, published by the journal and index threads.
#[derive(Debug)]
pub(crate) struct Progress {
    /// Of the journal: every event below it is acknowledged.
    appended: AtomicU64,
    /// Of what the indexer has read: every event below it is in the index writer.
    indexed: AtomicU64,
    /// Of the last index commit: every event below it is searchable.
    searchable: AtomicU64,
    /// Every event below it has its detections recorded (reported by the caller);
    /// [`UNTRACKED`] when detections are not tracked.
    detected: AtomicU64,
    /// Why the last journal write failed, until one succeeds: appends are being refused.
    journal_failure: Mutex<Option<String>>,
    /// Why indexing fails, until the index writer made anew commits: events are kept in the
    /// journal but not searchable.
    index_failure: Mutex<Option<String>>,
    /// Backups under way between their index snapshot and the opening of the journal segments
    /// after it: while non-zero, commits delete no journal segment. A mutex rather than a
    /// counter so that a backup never reads a commit whose pruning is half done: it counts
    /// itself in before reading the index's commit, and a commit decides on pruning under it.
    pub(crate) backups: Mutex<u32>,
    /// Index commits a test makes fail, their uncommitted documents lost as when a Tantivy
    /// worker thread dies.
    #[cfg(test)]
    failing_commits: std::sync::atomic::AtomicU32,
}

/// [`Progress::detected`] when [`EmbeddedConfig::track_detections`] is off.
const UNTRACKED: u64 = u64::MAX;

impl Progress {
    /// At open: the index reaches `indexed` (committed), the journal `appended`.
    fn new(indexed: u64, appended: u64, detected: Option<u64>) -> Progress {
        Progress {
            appended: AtomicU64::new(appended),
            indexed: AtomicU64::new(indexed),
            searchable: AtomicU64::new(indexed),
            detected: AtomicU64::new(detected.unwrap_or(UNTRACKED)),
            journal_failure: Mutex::new(None),
            index_failure: Mutex::new(None),
            backups: Mutex::new(0),
            #[cfg(test)]
            failing_commits: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// Records whether indexing fails (`Some(why)`) or works again.
    fn set_index_failure(&self, failure: Option<String>) {
        *self.index_failure.lock().unwrap_or_else(|e| e.into_inner()) = failure;
    }

    /// The answer to a request that needs the index while indexing fails.
    fn not_searchable(&self) -> LogError {
        LogError::NotSearchable {
            reason: self
                .index_failure
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .unwrap_or_default(),
        }
    }

    /// Records whether journal writes fail (`Some(why)`) or succeed again; returns whether
    /// that changed, so each change is logged once rather than every batch.
    fn set_journal_failure(&self, failure: Option<String>) -> bool {
        let mut held = self
            .journal_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let changed = held.is_some() != failure.is_some();
        *held = failure;
        changed
    }

    /// The detection mark, when detections are tracked.
    fn detected(&self) -> Option<u64> {
        Some(self.detected.load(Ordering::Acquire)).filter(|d| *d != UNTRACKED)
    }

    /// Acknowledged events the indexer has not read yet (what the lag limit bounds).
    fn backlog(&self) -> u64 {
        let indexed = self.indexed.load(Ordering::Acquire);
        self.appended
            .load(Ordering::Acquire)
            .saturating_sub(indexed)
    }

    /// Acknowledged events search does not see yet.
    fn unsearchable(&self) -> u64 {
        let searchable = self.searchable.load(Ordering::Acquire);
        self.appended
            .load(Ordering::Acquire)
            .saturating_sub(searchable)
    }
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `config.dir`, truncating a torn journal tail. Whatever
    /// the journal holds beyond the last index commit is indexed in the background: searches
    /// see it as it is committed, and [`EventStore::refresh`] returns once all of it is.
    pub fn open(config: EmbeddedConfig) -> Result<EmbeddedStore, LogError> {
        let journal_dir = config.dir.join("journal");
        let index_dir = config.dir.join("index");
        for dir in [&config.dir, &journal_dir, &index_dir] {
            private_dir(dir)?;
        }
        let lock = lock_store(&config.dir)?;
        let created = !index_dir.join("meta.json").exists();
        let open_index = || -> Result<_, LogError> {
            let index = if created {
                Index::create_in_dir(&index_dir, schema())?
            } else {
                Index::open_in_dir(&index_dir)?
            };
            register_tokenizers(&index);
            let fields = Fields::resolve(&index.schema())?;
            let payload = index.load_metas()?.payload;
            let reader: IndexReader = index
                .reader_builder()
                .reload_policy(ReloadPolicy::Manual)
                .try_into()?;
            Ok((index, fields, payload, reader))
        };
        let (index, fields, payload, reader) =
            open_index().map_err(|e| judged(e, &index_dir, &journal_dir))?;
        // An index no commit of ours has reached yet (created, then a crash within the first
        // commit interval) holds nothing, and no event in the journal was matched for certain.
        let never_committed = payload.is_none();
        let (mut checkpoint, committed_detected) = Checkpoint::decode(payload.as_deref());
        if let Some(length) = journal::short_of(&journal_dir, checkpoint.position)? {
            report_short_segment(&journal_dir, checkpoint, length)?;
            checkpoint = next_segment(checkpoint);
        }

        // Records the last commit did not cover (after a crash, up to `max_index_lag` of
        // them) are indexed by the index thread in the background: the store opens at once,
        // takes appends (held back by the lag limit as usual) and answers searches, which see
        // the records as the catch-up commits them; `refresh` waits for all of them.
        let Tail {
            end: tail,
            records: unindexed,
            lost,
        } = journal_tail(&journal_dir, checkpoint)?;
        if let Some((first, count)) = lost {
            let lost = LogError::EventsLost {
                dir: config.dir.clone(),
                first,
                count,
                index_empty: created || never_committed,
            };
            if !config.accept_lost_events {
                return Err(lost);
            }
            tracing::error!(first, count, "{lost}: going on without them, as asked");
        }
        // Where detection stood at the last commit. A new index, or one never committed, has
        // seen no detection; an index from before detections were tracked is taken as fully
        // detected.
        let detected = config.track_detections.then(|| {
            match committed_detected {
                Some(detected) => detected,
                None if created || never_committed => 0,
                None => tail.next_seq,
            }
            .min(tail.next_seq)
        });
        let undetected = detected.map_or(0..0, |from| from..tail.next_seq);
        let marks = journal::read_marks(&journal_dir, undetected.clone())?
            .into_iter()
            .map(|m| BatchMark {
                ids: m.seqs,
                mark: m.tag,
            })
            .collect();
        let progress = Arc::new(Progress::new(checkpoint.next_seq, tail.next_seq, detected));
        // Cuts a torn tail before anything reads the journal back.
        let journal = Journal::open_at(&journal_dir, tail.position, config.journal_segment_bytes)?;

        // The index thread makes the writer itself so that Tantivy's own threads (indexing
        // workers, merges, compression) inherit its lowered priority.
        let (opened, opened_rx) = sync_channel(1);
        let (to_index, index_inbox) = sync_channel(config.queued_groups);
        let index_thread = {
            let index = index.clone();
            let reader = reader.clone();
            let journal_dir = journal_dir.clone();
            let index_dir = index_dir.clone();
            let settings = config.clone();
            let progress = Arc::clone(&progress);
            std::thread::Builder::new()
                .name("vigil-logs-index".into())
                .spawn(move || {
                    lower_priority(settings.index_nice);
                    let writer = match index.writer_with_num_threads(
                        settings.index_threads,
                        settings.index_memory_bytes,
                    ) {
                        Ok(writer) => {
                            let _ = opened.send(Ok(()));
                            writer
                        }
                        Err(tantivy::TantivyError::LockFailure(
                            tantivy::directory::error::LockError::LockBusy,
                            _,
                        )) => {
                            let _ = opened.send(Err(LogError::InUse { path: index_dir }));
                            return;
                        }
                        Err(e) => {
                            let e = judged(LogError::from(e), &index_dir, &journal_dir);
                            let _ = opened.send(Err(e));
                            return;
                        }
                    };
                    let indexer = Indexer {
                        writer: Some(writer),
                        index,
                        index_dir,
                        writer_threads: settings.index_threads,
                        writer_memory: settings.index_memory_bytes,
                        fields,
                        reader,
                        journal_dir,
                        checkpoint,
                        committed: checkpoint,
                        journal_end: checkpoint,
                        committed_detected: progress.detected(),
                        progress,
                    };
                    index_loop(indexer, settings.commit_interval, index_inbox)
                })
                .map_err(|e| LogError::io(&config.dir, e))?
        };
        opened_rx
            .recv()
            .map_err(|_| LogError::Closed("the index thread stopped while opening".into()))??;
        if unindexed > 0 {
            tracing::info!(
                records = unindexed,
                "indexing the journal records the last commit did not cover, in the background"
            );
            // The same catch-up a lagging indexer does when the journal went on without it.
            to_index
                .send(IndexMsg::CatchUp {
                    end: tail.position,
                    next_seq: tail.next_seq,
                })
                .map_err(|_| LogError::Closed("the index thread stopped while opening".into()))?;
        }

        let (requests, inbox) = sync_channel(config.queued_appends);
        let journal_progress = Arc::clone(&progress);
        let max_lag = config.max_index_lag;
        let journal_thread = std::thread::Builder::new()
            .name("vigil-logs-journal".into())
            .spawn(move || {
                let lag = (journal_progress.as_ref(), max_lag);
                journal_loop(journal, tail.next_seq, tail.position, inbox, to_index, lag)
            })
            .map_err(|e| LogError::io(&journal_dir, e))?;
        Ok(EmbeddedStore {
            requests: Mutex::new(Some(requests)),
            index,
            reader,
            fields,
            progress,
            threads: Mutex::new(vec![journal_thread, index_thread]),
            segment_paths: Mutex::new(HashMap::new()),
            totals: Mutex::default(),
            journal_dir,
            undetected,
            marks,
            _lock: lock,
        })
    }

    /// Acknowledged events the indexer has not read from the journal yet: what
    /// [`EmbeddedConfig::max_index_lag`] bounds (give or take one journal group).
    pub fn journal_backlog(&self) -> u64 {
        self.progress.backlog()
    }

    fn send(&self, request: Request) -> Result<(), LogError> {
        let sender = self
            .requests
            .lock()
            .map_err(|_| LogError::Closed("a thread panicked".into()))?
            .clone()
            .ok_or_else(|| LogError::Closed("closed".into()))?;
        sender
            .send(request)
            .map_err(|_| LogError::Closed("the journal thread stopped".into()))
    }

    fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T, LogError> {
        let (reply, answer) = sync_channel(1);
        self.send(make(reply))?;
        answer
            .recv()
            .map_err(|_| LogError::Closed("the journal thread stopped".into()))?
    }

    fn translator(&self) -> Translator<'_> {
        self.translator_at(Utc::now())
    }

    /// The translator of a query that runs at `now` (its relative times resolved there).
    fn translator_at(&self, now: DateTime<Utc>) -> Translator<'_> {
        Translator {
            fields: &self.fields,
            index: &self.index,
            now,
        }
    }

    fn filter(&self, expr: &Expr, range: TimeRange) -> Result<Box<dyn Query>, LogError> {
        self.filter_at(expr, range, Utc::now())
    }

    fn filter_at(
        &self,
        expr: &Expr,
        range: TimeRange,
        now: DateTime<Utc>,
    ) -> Result<Box<dyn Query>, LogError> {
        let t = self.translator_at(now);
        let q = t.query(expr)?;
        Ok(match t.window(range.from, range.to) {
            Some(w) => Box::new(BooleanQuery::new(vec![(Occur::Must, q), (Occur::Must, w)])),
            None => q,
        })
    }

    fn totals_lock(&self) -> std::sync::MutexGuard<'_, RecentTotals> {
        self.totals.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Loads the events of `hits`, keeping their order. They are read in the order of the
    /// document store, so that each of its compressed blocks is decompressed once for all its
    /// hits: a page in time order can lie anywhere in storage order (events come late, from
    /// many senders at once) and its block cache would not hold them all.
    fn load_all(
        &self,
        searcher: &tantivy::Searcher,
        hits: Vec<(u64, DocAddress)>,
    ) -> Result<Vec<(u64, StoredEvent)>, LogError> {
        let mut by_address: Vec<usize> = (0..hits.len()).collect();
        by_address.sort_unstable_by_key(|&i| hits[i].1);
        let mut loaded: Vec<Option<StoredEvent>> = Vec::new();
        loaded.resize_with(hits.len(), || None);
        for i in by_address {
            loaded[i] = Some(self.load(searcher, hits[i].1)?);
        }
        Ok(hits
            .into_iter()
            .zip(loaded)
            .filter_map(|((key, _), event)| Some((key, event?)))
            .collect())
    }

    fn load(
        &self,
        searcher: &tantivy::Searcher,
        address: DocAddress,
    ) -> Result<StoredEvent, LogError> {
        let doc: TantivyDocument = searcher.doc(address)?;
        let text = |f| {
            doc.get_first(f)
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let micros = doc
            .get_first(self.fields.time)
            .and_then(|v| v.as_datetime())
            .map_or(0, |d| d.into_timestamp_micros());
        Ok(StoredEvent {
            id: doc
                .get_first(self.fields.seq)
                .and_then(|v| v.as_u64())
                .unwrap_or_default(),
            time: Utc.timestamp_micros(micros).single().unwrap_or_default(),
            service: text(self.fields.service),
            host: text(self.fields.host),
            tenant: text(self.fields.tenant),
            json: text(self.fields.raw),
        })
    }

    fn run_aggs(
        &self,
        searcher: &tantivy::Searcher,
        query: &dyn Query,
        aggs: serde_json::Value,
    ) -> Result<(u64, serde_json::Value), LogError> {
        let collector = self.aggregations(aggs)?;
        let (total, results) = searcher.search(query, &(Count, collector))?;
        Ok((total as u64, aggregation_json(results)?))
    }

    fn aggregations(&self, aggs: serde_json::Value) -> Result<AggregationCollector, LogError> {
        let aggs: Aggregations = serde_json::from_value(aggs)
            .map_err(|e| LogError::Unsupported(format!("aggregation request: {e}")))?;
        Ok(AggregationCollector::from_aggs(
            aggs,
            AggContextParams::new(
                AggregationLimitsGuard::default(),
                self.index.tokenizers().clone(),
            ),
        ))
    }
}

fn aggregation_json(
    results: tantivy::aggregation::agg_result::AggregationResults,
) -> Result<serde_json::Value, LogError> {
    serde_json::to_value(results)
        .map_err(|e| LogError::Unsupported(format!("aggregation result: {e}")))
}

fn agg_field(field: &Field) -> Result<String, LogError> {
    Ok(match field {
        Field::Service => "service".into(),
        Field::Host => "host".into(),
        Field::Tenant => "tenant".into(),
        Field::Time => {
            return Err(LogError::Unsupported(
                "`count by time` is not supported: use a pivot for a timeline, or count by another field"
                    .into(),
            ));
        }
        Field::Json(path) => format!("body.{path}"),
    })
}

/// Whether counting what `expr` matches costs little beside collecting a page of it: every
/// event, terms of named fields (their posting lists), and `NOT`, `AND`, `OR` of those. Such
/// a query is counted first and its page then looked for in windows of keys (see
/// [`EmbeddedStore::newest_below`]); phrases, free text, wildcards, ranges and `exists` are
/// counted in the same pass that collects their first page.
fn counts_cheaply(expr: &Expr) -> bool {
    match expr {
        Expr::All => true,
        Expr::Match { field, .. } => field.is_some(),
        Expr::Not(child) => counts_cheaply(child),
        Expr::And(children) | Expr::Or(children) => children.iter().all(counts_cheaply),
        Expr::Phrase { .. } | Expr::Wildcard { .. } | Expr::Range { .. } | Expr::Exists(_) => false,
    }
}

/// `value` in any field of an event, as a pivot with no field follows it: its envelope's host,
/// service or tenant, or in its JSON — as the whole value of some path when `whole` (a pivot
/// with [`PivotRequest::whole`]), else as free text too (inside a message).
fn anywhere(t: &Translator<'_>, value: &str, whole: bool) -> Result<Box<dyn Query>, LogError> {
    let in_json = if whole {
        t.any_field_value(value)?
    } else {
        t.free_text(value)?
    };
    Ok(Box::new(BooleanQuery::new(vec![
        (Occur::Should, in_json),
        (Occur::Should, t.envelope_value(value.trim())?),
    ])))
}

/// What [`RecentTotals`] keeps a search's total by: its filter as it runs at `now` (relative
/// times resolved, so that a search with one is counted anew as its window moves) and window.
fn totals_key(filter: &Expr, range: TimeRange, now: DateTime<Utc>) -> String {
    format!("{:?} {:?}", filter.resolved(now), range)
}

/// The totals of the latest searches, by query and window, for the index generation they
/// counted: a reader paging through a large result (a time window, a `NOT`) asks the same count
/// at every page, which then costs more than the page. A commit (every second while events
/// come) makes a new generation, whose totals are counted anew.
#[derive(Debug, Default)]
struct RecentTotals {
    /// (generation, query and window, total), newest last.
    kept: std::collections::VecDeque<(u64, String, u64)>,
}

impl RecentTotals {
    /// As many as readers paging at once, with room to spare.
    const KEPT: usize = 16;

    fn get(&self, generation: u64, search: &str) -> Option<u64> {
        self.kept
            .iter()
            .find(|(g, s, _)| *g == generation && s == search)
            .map(|(_, _, total)| *total)
    }

    fn keep(&mut self, generation: u64, search: String, total: u64) {
        self.kept
            .retain(|(g, s, _)| *g == generation && *s != search);
        if self.kept.len() == Self::KEPT {
            self.kept.pop_front();
        }
        self.kept.push_back((generation, search, total));
    }
}

/// How many windows of keys [`EmbeddedStore::newest_below`] tries, each four times as wide
/// as the one before, before it scans the rest.
const PAGE_WINDOWS: usize = 4;

/// The hits a query must have per document of a page for its pages to be looked for in
/// windows of keys (see [`EmbeddedStore::newest_below`]).
const PAGE_WINDOW_MIN_HITS: u64 = 256;

impl EmbeddedStore {
    /// The `limit` newest hits of `base` older than the cursor `key`.
    ///
    /// `order < key` over the `order` fast field reads the key of every document of the index,
    /// so a reader paging through a large result (a rule preview, a correlation rebuild, an
    /// export) paid for the whole index at every page. The page is looked for first in a
    /// window of keys just below the cursor, read through the `order` field's own terms (which
    /// costs as many documents as the window holds): wide enough for twice a page if the
    /// `total` hits of `base` are as dense there as on average, and widened four times over
    /// while it holds too few. A key costs some 20 times more read through its term than
    /// through the fast field, so a query with fewer than [`PAGE_WINDOW_MIN_HITS`] hits a
    /// page (whose window would hold more than a 64th of the index) is paged the old way, and
    /// so is what lies beyond the widest window.
    fn newest_below(
        &self,
        searcher: &Searcher,
        base: &dyn Query,
        total: u64,
        below: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, DocAddress)>, LogError> {
        let (mut docs, mut min_key, mut max_key) = (0u64, u64::MAX, 0u64);
        for reader in searcher.segment_readers() {
            if reader.num_docs() == 0 {
                continue;
            }
            let keys = reader.fast_fields().u64("order")?;
            docs += u64::from(reader.num_docs());
            min_key = min_key.min(keys.min_value());
            max_key = max_key.max(keys.max_value());
        }
        let key = below.unwrap_or(max_key.saturating_add(1));
        if docs == 0 || key <= min_key || total == 0 {
            return Ok(Vec::new());
        }
        let order = |k: u64| Term::from_field_u64(self.fields.order, k);
        let per_hit = ((max_key - min_key) / total).max(1);
        let mut span = per_hit.saturating_mul(2 * limit as u64);
        let mut upper = key;
        let mut hits = Vec::with_capacity(limit.min(4096));
        let windows = if total < PAGE_WINDOW_MIN_HITS.saturating_mul(limit as u64) {
            0
        } else {
            PAGE_WINDOWS
        };
        for _ in 0..windows {
            let lower = upper.saturating_sub(span).max(min_key);
            let window = BooleanQuery::new(vec![
                (Occur::Must, base.box_clone()),
                (
                    Occur::Must,
                    Box::new(InvertedIndexRangeQuery::new(
                        std::ops::Bound::Included(order(lower)),
                        std::ops::Bound::Excluded(order(upper)),
                    )),
                ),
            ]);
            // Every hit of this window is newer than any below it.
            hits.extend(newest_hits(searcher, &window, limit - hits.len(), false)?.1);
            if hits.len() == limit || lower == min_key {
                return Ok(hits);
            }
            upper = lower;
            span = span.saturating_mul(4);
        }
        if below.is_none() && hits.is_empty() && upper == key {
            // The first page, no window tried: the newest segments first, as far as needed.
            return Ok(newest_hits(searcher, base, limit, false)?.1);
        }
        let rest = BooleanQuery::new(vec![
            (Occur::Must, base.box_clone()),
            (
                Occur::Must,
                Box::new(RangeQuery::new(
                    std::ops::Bound::Unbounded,
                    std::ops::Bound::Excluded(order(upper)),
                )),
            ),
        ]);
        hits.extend(newest_hits(searcher, &rest, limit - hits.len(), false)?.1);
        Ok(hits)
    }
}

/// How many events `query` matches, and the `limit` of them with the largest order keys (the
/// newest), newest first, with their keys.
///
/// Segments are gone through newest first, by the largest key each holds, and once `limit` hits
/// are found a segment whose newest event is older than all of them is only counted: a store is
/// written in time order, so a common word is answered from the newest segments instead of
/// reading the key of every hit (Tantivy's `TopDocs` reads them all, a quarter of the store for
/// a word in a quarter of the events), and a term counts a segment from its postings' length.
/// A segment that is read is counted in the same pass, so a query that is costly to set up per
/// segment (a value looked for under every path) is set up once there. Without `count` (the
/// total is counted apart, see [`EmbeddedStore::search`]) the segments left are not touched at
/// all, and the number returned counts only the hits read.
fn newest_hits(
    searcher: &Searcher,
    query: &dyn Query,
    limit: usize,
    count: bool,
) -> Result<(u64, Vec<(u64, DocAddress)>), LogError> {
    let weight = query.weight(EnableScoring::disabled_from_searcher(searcher))?;
    let mut segments = Vec::new();
    for (ord, reader) in searcher.segment_readers().iter().enumerate() {
        let keys = reader.fast_fields().u64("order")?;
        segments.push((keys.max_value(), ord as u32, reader, keys));
    }
    segments.sort_unstable_by_key(|s| Reverse(s.0));
    // The newest hits so far, the oldest of them on top.
    let mut newest: BinaryHeap<Reverse<(u64, DocAddress)>> =
        BinaryHeap::with_capacity(limit.min(4096) + 1);
    let mut total = 0u64;
    for (max_key, ord, reader, keys) in segments {
        if newest.len() == limit && newest.peek().is_none_or(|Reverse((k, _))| *k >= max_key) {
            if !count {
                break;
            }
            total += u64::from(weight.count(reader)?);
            continue;
        }
        let alive = reader.alive_bitset();
        weight.for_each_no_score(reader, &mut |docs| {
            for &doc in docs {
                if alive.is_some_and(|a| a.is_deleted(doc)) {
                    continue;
                }
                total += 1;
                let Some(key) = keys.first(doc) else {
                    continue;
                };
                let hit = Reverse((key, DocAddress::new(ord, doc)));
                if newest.len() < limit {
                    newest.push(hit);
                } else if let Some(mut oldest) = newest.peek_mut()
                    && oldest.0.0 < key
                {
                    *oldest = hit;
                }
            }
        })?;
    }
    let mut hits: Vec<(u64, DocAddress)> = newest.into_iter().map(|Reverse(hit)| hit).collect();
    hits.sort_unstable_by(|a, b| b.cmp(a));
    Ok((total, hits))
}

/// Milliseconds of an `order` key (see `index::order_key`) as a time.
fn order_time(value: &serde_json::Value) -> Option<DateTime<Utc>> {
    let key = value["value"].as_f64()? as u64;
    Utc.timestamp_millis_opt(crate::index::order_millis(key))
        .single()
}

impl EmbeddedStore {
    fn append_with(
        &self,
        batch: Vec<NewEvent>,
        mark: Option<Vec<u8>>,
    ) -> Result<AppendOutcome, LogError> {
        let mut rejected = Vec::new();
        let mut accepted = Vec::with_capacity(batch.len());
        for (index, event) in batch.into_iter().enumerate() {
            match event.check() {
                Ok(()) => accepted.push((event.time.timestamp_micros(), event)),
                Err(reason) => rejected.push(Rejected { index, reason }),
            }
        }
        let stored = if accepted.is_empty() {
            Vec::new()
        } else {
            let (reply, answer) = sync_channel(1);
            self.send(Request::Append {
                events: accepted,
                mark,
                reply,
            })?;
            answer
                .recv()
                .map_err(|_| LogError::Closed("the journal thread stopped".into()))??
        };
        Ok(AppendOutcome { stored, rejected })
    }
}

impl EventStore for EmbeddedStore {
    fn append(&self, batch: Vec<NewEvent>) -> Result<AppendOutcome, LogError> {
        self.append_with(batch, None)
    }

    fn append_marked(
        &self,
        batch: Vec<NewEvent>,
        mark: Vec<u8>,
    ) -> Result<AppendOutcome, LogError> {
        self.append_with(batch, Some(mark))
    }

    fn search(&self, request: &SearchRequest) -> Result<SearchPage, LogError> {
        if request.query.pipe.is_some() {
            return Err(LogError::Unsupported(
                "a query with | count by or | top is an aggregation: run it as one (without a page limit)"
                    .into(),
            ));
        }
        let searcher = self.reader.searcher();
        let now = Utc::now();
        let base = self.filter_at(&request.query.filter, request.range, now)?;
        // Every page says how many events match in all; a later page collects what lies beyond
        // the cursor. The total is kept for the query as it ran, its relative times resolved:
        // `time:>now-20s` selects other events as time passes, though no event arrives.
        let search = totals_key(&request.query.filter, request.range, now);
        let generation = searcher.generation().generation_id();
        let kept = self.totals_lock().get(generation, &search);
        let below = request.cursor.map(|Cursor(key)| key);
        let (total, top) = match kept {
            // A query whose evaluation is the cost (a phrase, free text, a wildcard) is counted
            // while its first page is collected, not evaluated twice.
            None if below.is_none() && !counts_cheaply(&request.query.filter) => {
                let (total, top) = newest_hits(&searcher, &*base, request.limit + 1, true)?;
                self.totals_lock().keep(generation, search, total);
                (total, top)
            }
            kept => {
                let total = match kept {
                    Some(total) => total,
                    None => {
                        let total = searcher.search(&*base, &Count)? as u64;
                        self.totals_lock().keep(generation, search, total);
                        total
                    }
                };
                let top = self.newest_below(&searcher, &*base, total, below, request.limit + 1)?;
                (total, top)
            }
        };
        let mut events = self.load_all(&searcher, top)?;
        let next_cursor = if events.len() > request.limit {
            events.truncate(request.limit);
            events.last().map(|(key, _)| Cursor(*key))
        } else {
            None
        };
        Ok(SearchPage {
            total,
            events: events.into_iter().map(|(_, e)| e).collect(),
            next_cursor,
        })
    }

    fn aggregate(&self, query: &VQuery, range: TimeRange) -> Result<Aggregation, LogError> {
        let Some(pipe) = &query.pipe else {
            return Err(LogError::Unsupported(
                "the query has no aggregation: add `| count by FIELD`, `| top N FIELD` or `| rare N FIELD`"
                    .into(),
            ));
        };
        let (size, ranking) = match pipe {
            Pipe::CountBy(_) => (1_000, Ranking::MostFrequent),
            Pipe::Top { n, .. } => ((*n).min(vigil_query::MAX_TOP), Ranking::MostFrequent),
            Pipe::Rare { n, .. } => ((*n).min(vigil_query::MAX_TOP), Ranking::LeastFrequent),
        };
        let searcher = self.reader.searcher();
        let q = self.filter(&query.filter, range)?;
        let fields = pipe.fields();
        let columns = fields
            .iter()
            .map(agg_field)
            .collect::<Result<Vec<_>, _>>()?;
        // Exact counts in one pass (see the `terms` and `groups` modules): Tantivy's terms
        // aggregation kept each segment's most frequent values only. The events without the
        // field are counted in the same pass.
        let (total, buckets, unlisted_max, other, missing) = match <[String; 1]>::try_from(columns)
        {
            Ok([column]) => {
                let counted =
                    searcher.search(&*q, &ValueCounter::new(column.clone(), size, ranking))?;
                if counted.too_many {
                    return Err(LogError::Unsupported(format!(
                        "`rare` ranks every value, and {} has more than {} among the matching events (over the index segments): narrow the query (a time window, a service), or use `top`",
                        fields[0].name(),
                        crate::terms::RARE_ENTRIES
                    )));
                }
                // An event with several values may be counted under several listed ones: the
                // events left out are then counted by a second pass, for the hits with none
                // of the listed values as the listing names them, unless every value is
                // listed (every event with a value is then listed).
                let valued = counted.total - counted.missing;
                let listed_events = if counted.every_value_listed {
                    Some(valued)
                } else if counted.shared && !counted.values.is_empty() {
                    let names = counted.values.iter().map(|(v, _)| v.clone()).collect();
                    Some(searcher.search(&*q, &ListedCounter::new(column, names))?)
                } else {
                    None
                };
                let buckets: Vec<Group> = counted
                    .values
                    .into_iter()
                    .map(|(value, count)| Group {
                        values: vec![value],
                        count,
                    })
                    .collect();
                let listed = listed_events.unwrap_or_else(|| buckets.iter().map(|b| b.count).sum());
                (
                    counted.total,
                    buckets,
                    counted.unlisted_max,
                    valued.saturating_sub(listed),
                    counted.missing,
                )
            }
            Err(columns) => {
                let counted = searcher.search(&*q, &GroupCounter::new(columns, size, ranking))?;
                if counted.too_many {
                    let names: Vec<String> = fields.iter().map(Field::name).collect();
                    return Err(LogError::Unsupported(format!(
                        "more than {} distinct combinations of {} among the matching events: narrow the query (a time window, a service) or count by fewer fields",
                        crate::groups::MAX_GROUPS,
                        names.join(", ")
                    )));
                }
                let buckets: Vec<Group> = counted
                    .groups
                    .into_iter()
                    .map(|(values, count)| Group { values, count })
                    .collect();
                (counted.total, buckets, None, counted.other, counted.missing)
            }
        };
        Ok(Aggregation {
            fields: fields.iter().map(Field::name).collect(),
            total,
            buckets,
            other,
            missing,
            unlisted_max,
        })
    }

    fn pivot(&self, request: &PivotRequest) -> Result<Pivot, LogError> {
        let searcher = self.reader.searcher();
        let t = self.translator();
        // A network (`10.1.0.0/16`, `2001:db8::/32`) stands for the addresses it holds, as in a
        // search.
        let matched: Box<dyn Query> = match (
            vigil_query::network_expr(&request.field, &request.value),
            &request.field,
        ) {
            (Some(Ok(network)), _) => t.query(&network)?,
            (Some(Err(reason)), _) => {
                return Err(LogError::Query(
                    vigil_query::ParseError::UnsearchableNetwork {
                        offset: 0,
                        network: request.value.clone(),
                        reason,
                    },
                ));
            }
            (None, Some(field)) => t.pivot_field_value(field, &request.value)?,
            (None, None) => anywhere(&t, &request.value, request.whole)?,
        };
        let window = t.window(request.range.from, request.range.to);
        let within = |matched: Box<dyn Query>| -> Box<dyn Query> {
            match window.as_ref() {
                Some(w) => Box::new(BooleanQuery::new(vec![
                    (Occur::Must, matched),
                    (Occur::Must, w.box_clone()),
                ])),
                None => matched,
            }
        };
        // Followed whole: the events free text finds it in but the whole value does not, one
        // count more, for the caller to say what it left out.
        let in_text_only = match (&request.field, request.whole) {
            (None, true) => {
                let only_in_text = Box::new(BooleanQuery::new(vec![
                    (Occur::Must, t.free_text(&request.value)?),
                    (Occur::MustNot, anywhere(&t, &request.value, true)?),
                ]));
                Some(within(only_in_text).count(&searcher)? as u64)
            }
            _ => None,
        };
        let q = within(matched);
        // Everything a pivot shows in one pass over its hits: a value found as free text (a
        // phrase over common words such as the parts of an IP) costs most in finding them.
        let hits = searcher.search(
            &*q,
            &PivotCollector {
                newest: request.limit,
            },
        )?;
        let events = self
            .load_all(&searcher, hits.newest)?
            .into_iter()
            .map(|(_, event)| event)
            .collect();
        let at = |millis: i64| Utc.timestamp_millis_opt(millis).single();
        let span = hits.timeline.span();
        let (first, last) = (span.and_then(|s| at(s.0)), span.and_then(|s| at(s.1)));
        let (width, buckets) = hits.timeline.buckets();
        let timeline = buckets
            .into_iter()
            .filter_map(|(start, count)| {
                Some(TimeBucket {
                    start: at(start)?,
                    count,
                })
            })
            .collect();
        let counts = |values: Vec<(String, u64)>| {
            values
                .into_iter()
                .map(|(value, count)| ValueCount { value, count })
                .collect()
        };
        Ok(Pivot {
            total: hits.total,
            first,
            last,
            // No hits, no span: the width of an hour's timeline.
            bucket_seconds: if span.is_some() { width } else { 60 },
            timeline,
            by_service: counts(hits.by_service),
            by_host: counts(hits.by_host),
            hosts: hits.hosts,
            by_tenant: counts(hits.by_tenant),
            events,
            in_text_only,
        })
    }

    fn missing_fields(&self, paths: &[&str]) -> Result<Vec<MissingField>, LogError> {
        let searcher = self.reader.searcher();
        // Every JSON path has a fast column (`body` is fast), as `exists:` relies on too.
        let mut missing = Vec::new();
        for path in paths {
            let column = format!("body.{path}");
            let mut found = false;
            for segment in searcher.segment_readers() {
                if !segment
                    .fast_fields()
                    .dynamic_column_handles(&column)?
                    .is_empty()
                {
                    found = true;
                    break;
                }
            }
            if !found {
                missing.push(*path);
            }
        }
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        // The stored paths, read only when something is missing: the column names per segment,
        // cached per segment. Reading a segment's (up to a second when cold) happens outside
        // the cache's lock, so other searches do not wait for it.
        let mut known = std::collections::BTreeSet::new();
        let lock_failed = || LogError::Closed("a search thread panicked".into());
        let uncached: Vec<&tantivy::SegmentReader> = {
            let mut cache = self.segment_paths.lock().map_err(|_| lock_failed())?;
            let live: std::collections::HashSet<SegmentId> = searcher
                .segment_readers()
                .iter()
                .map(|s| s.segment_id())
                .collect();
            cache.retain(|id, _| live.contains(id));
            searcher
                .segment_readers()
                .iter()
                .filter(|segment| match cache.get(&segment.segment_id()) {
                    Some(paths) => {
                        known.extend(paths.iter().cloned());
                        false
                    }
                    None => true,
                })
                .collect()
        };
        let mut read = Vec::with_capacity(uncached.len());
        for segment in uncached {
            let usage = segment.space_usage().map_err(tantivy::TantivyError::from)?;
            let paths: Arc<[String]> = usage
                .fast_fields()
                .fields()
                .filter_map(|c| c.field_name().strip_prefix("body.").map(str::to_owned))
                .collect();
            known.extend(paths.iter().cloned());
            read.push((segment.segment_id(), paths));
        }
        if !read.is_empty() {
            self.segment_paths
                .lock()
                .map_err(|_| lock_failed())?
                .extend(read);
        }
        // An object's path has no column of its own: `user` is there when `user.name` is.
        let is_object = |path: &str| {
            let below = format!("{path}.");
            known
                .range(below.clone()..)
                .next()
                .is_some_and(|p| p.starts_with(&below))
        };
        Ok(missing
            .into_iter()
            .filter(|path| !is_object(path))
            .map(|path| MissingField {
                path: path.to_owned(),
                similar: crate::fields::similar_paths(path, &known),
            })
            .collect())
    }

    fn stats(&self) -> Result<Vec<ServiceStats>, LogError> {
        let searcher = self.reader.searcher();
        let (_, value) = self.run_aggs(
            &searcher,
            &tantivy::query::AllQuery,
            json!({"services": {"terms": {"field": "service", "size": 10_000}, "aggs": {
                "bytes": {"sum": {"field": "size"}},
                "first": {"min": {"field": "order"}},
                "last": {"max": {"field": "order"}},
            }}}),
        )?;
        Ok(value["services"]["buckets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| ServiceStats {
                service: b["key"].as_str().unwrap_or_default().to_owned(),
                events: b["doc_count"].as_u64().unwrap_or_default(),
                bytes: b["bytes"]["value"].as_f64().unwrap_or_default() as u64,
                first: order_time(&b["first"]),
                last: order_time(&b["last"]),
            })
            .collect())
    }

    fn delete_older_than(&self, service: &str, cutoff: DateTime<Utc>) -> Result<u64, LogError> {
        let searcher = self.reader.searcher();
        let q: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(self.fields.service, service),
                    IndexRecordOption::Basic,
                )) as Box<dyn Query>,
            ),
            (
                Occur::Must,
                self.translator()
                    .window(None, Some(cutoff))
                    .ok_or_else(|| LogError::Unsupported("no cutoff".into()))?,
            ),
        ]));
        // A quick look first: most passes find nothing to delete and need no commit.
        if searcher.search(&*q, &Count)? == 0 {
            return Ok(0);
        }
        self.call(|reply| Request::Delete { query: q, reply })
    }

    fn next_id(&self) -> u64 {
        self.progress.appended.load(Ordering::Acquire)
    }

    fn index_lag(&self) -> u64 {
        self.progress.unsearchable()
    }

    fn health(&self) -> StoreHealth {
        StoreHealth {
            journal: self
                .progress
                .journal_failure
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            index: self
                .progress
                .index_failure
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    fn refresh(&self) -> Result<(), LogError> {
        self.call(Request::Flush)
    }

    fn undetected_at_open(&self) -> std::ops::Range<u64> {
        self.undetected.clone()
    }

    fn marks_at_open(&self) -> Vec<BatchMark> {
        self.marks.clone()
    }

    fn mark_detected_below(&self, id: u64) {
        // Only forward, and only when tracked.
        let _ =
            self.progress
                .detected
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                    (current != UNTRACKED && id > current).then_some(id)
                });
    }

    fn event(&self, id: u64, time: DateTime<Utc>) -> Result<Option<StoredEvent>, LogError> {
        // The sort key is the time's millisecond and the id's low bits: one term, at most a
        // few events (ids a multiple of 2^SEQ_BITS apart in the same millisecond) to tell apart.
        let key = crate::index::order_key(time.timestamp_micros(), id);
        let query = TermQuery::new(
            Term::from_field_u64(self.fields.order, key),
            IndexRecordOption::Basic,
        );
        let searcher = self.reader.searcher();
        for (_, address) in searcher.search(
            &query,
            &TopDocs::with_limit(16).order_by_u64_field("order", Order::Desc),
        )? {
            let event = self.load(&searcher, address)?;
            if event.id == id {
                return Ok(Some(event));
            }
        }
        Ok(None)
    }

    fn read_stored(
        &self,
        ids: std::ops::Range<u64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, LogError> {
        let ids = ids.start..ids.end.min(self.next_id());
        let records = journal::read_seqs(&self.journal_dir, ids, limit)?;
        Ok(records
            .into_iter()
            .map(|r| StoredEvent {
                id: r.seq,
                time: Utc
                    .timestamp_micros(r.time_micros)
                    .single()
                    .unwrap_or_default(),
                service: r.service,
                host: r.host,
                tenant: r.tenant,
                json: r.json,
            })
            .collect())
    }

    fn begin_backup(&self) -> Result<LogBackup, LogError> {
        // The hold first: a commit read after it has pruned nothing it still needs.
        let hold = PruneHold::take(&self.progress);
        let index_dir = self.journal_dir.with_file_name("index");
        let index = backup::open_index_commit(&self.index, &index_dir)?;
        Ok(LogBackup { index, hold })
    }

    fn finish_backup(&self, begun: LogBackup) -> Result<LogBackupFiles, LogError> {
        let (end, next_id) = self.call(Request::End)?;
        let mut files = begun.index;
        files.extend(backup::open_journal(&self.journal_dir, end)?);
        drop(begun.hold);
        Ok(LogBackupFiles { files, next_id })
    }
}

fn journal_loop(
    mut journal: Journal,
    mut next_seq: u64,
    mut end: Position,
    inbox: Receiver<Request>,
    to_index: SyncSender<IndexMsg>,
    (progress, max_lag): (&Progress, u64),
) {
    /// Events gathered into one write and one fsync; also bounds what one group holds in memory
    /// on its way to the indexer.
    const MAX_GROUP_EVENTS: usize = 16_384;
    /// How often a lagging indexer is reminded while no event arrives.
    const REMIND: Duration = Duration::from_millis(100);
    let mut buf = Vec::new();
    // The indexer missed groups (its queue was full): it must read them from the journal.
    let mut lagging = false;
    loop {
        // Too far ahead of the index: stop taking appends (they wait in the bounded inbox,
        // then in `append`) until the indexer has read enough of the journal back.
        while progress.backlog() > max_lag {
            if lagging {
                lagging = to_index
                    .try_send(IndexMsg::CatchUp { end, next_seq })
                    .is_err();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let first = if lagging {
            match inbox.recv_timeout(REMIND) {
                Ok(r) => r,
                Err(RecvTimeoutError::Timeout) => {
                    lagging = to_index
                        .try_send(IndexMsg::CatchUp { end, next_seq })
                        .is_err();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match inbox.recv() {
                Ok(r) => r,
                Err(_) => break,
            }
        };
        let size = |r: &Request| match r {
            Request::Append { events, .. } => events.len(),
            _ => 1,
        };
        let mut gathered = size(&first);
        let mut group = vec![first];
        while gathered < MAX_GROUP_EVENTS {
            match inbox.try_recv() {
                Ok(request) => {
                    gathered += size(&request);
                    group.push(request);
                }
                Err(_) => break,
            }
        }
        let group_first = next_seq;
        let mut records = Vec::new();
        let mut marks = Vec::new();
        let mut acks = Vec::new();
        let mut others = Vec::new();
        for request in group {
            match request {
                Request::Append {
                    events,
                    mark,
                    reply,
                } => {
                    let first = next_seq;
                    let mut ids = Vec::with_capacity(events.len());
                    for (time_micros, e) in events {
                        ids.push(next_seq);
                        records.push(Record {
                            seq: next_seq,
                            time_micros,
                            service: e.service,
                            host: e.host,
                            tenant: e.tenant,
                            json: e.json,
                        });
                        next_seq += 1;
                    }
                    if let Some(tag) = mark {
                        marks.push((
                            records.len(),
                            Mark {
                                seqs: first..next_seq,
                                tag,
                            },
                        ));
                    }
                    acks.push((reply, ids));
                }
                Request::Flush(reply) => others.push(Request::Flush(reply)),
                Request::Delete { query, reply } => others.push(Request::Delete { query, reply }),
                Request::End(reply) => others.push(Request::End(reply)),
            }
        }
        if !records.is_empty() {
            match journal.append(&records, &marks, &mut buf) {
                Ok(new_end) => {
                    end = new_end;
                    progress.appended.store(next_seq, Ordering::Release);
                    if progress.set_journal_failure(None) {
                        tracing::info!("journal writes succeed again; the log store takes events");
                    }
                    for (reply, ids) in acks {
                        let _ = reply.send(Ok(ids));
                    }
                    // Durable now: the indexer gets the records if it keeps up, else reads
                    // them back from the journal. Acknowledgements never wait for indexing,
                    // and memory stays bounded by the queue; the backlog is on disk.
                    let msg = if lagging {
                        IndexMsg::CatchUp { end, next_seq }
                    } else {
                        IndexMsg::Records {
                            records,
                            end,
                            next_seq,
                        }
                    };
                    match to_index.try_send(msg) {
                        Ok(()) => lagging = false,
                        Err(TrySendError::Full(_)) => lagging = true,
                        Err(TrySendError::Disconnected(_)) => return,
                    }
                }
                Err(e) => {
                    // Nothing of the group is in the journal: its sequences go to the next one.
                    next_seq = group_first;
                    let reason = match &e {
                        LogError::Io { source, .. } => source.to_string(),
                        other => other.to_string(),
                    };
                    if progress.set_journal_failure(Some(reason.clone())) {
                        tracing::error!(error = %e, "journal write failed; its batches are refused with nothing of them stored, and every batch tries again");
                    }
                    for (reply, _) in acks {
                        let _ = reply.send(Err(LogError::NotStored {
                            reason: reason.clone(),
                        }));
                    }
                }
            }
        }
        for request in others {
            let msg = match request {
                Request::Flush(reply) => IndexMsg::Flush {
                    reply,
                    end,
                    next_seq,
                },
                Request::Delete { query, reply } => IndexMsg::Delete { query, reply },
                Request::End(reply) => {
                    let _ = reply.send(Ok((end, next_seq)));
                    continue;
                }
                Request::Append { .. } => continue,
            };
            // A flush carries the journal's end, so it also catches a lagging indexer up.
            if to_index.send(msg).is_err() {
                return;
            }
            lagging = false;
        }
    }
    // Closing: let a lagging indexer index the rest before its final commit.
    if lagging {
        let _ = to_index.send(IndexMsg::CatchUp { end, next_seq });
    }
}

/// How often a catch-up commits, so that search follows it: by time rather than by records,
/// since each commit costs a segment flush whatever its size.
const CATCH_UP_COMMIT_EVERY: Duration = Duration::from_secs(5);

/// How long closing the store waits for the index's merges to finish: long enough for the
/// merges of a store's first hours, short enough that stopping the server never hangs on a
/// large one.
const MERGE_WAIT_ON_CLOSE: Duration = Duration::from_secs(10);

/// The index thread's state.
struct Indexer {
    /// `None` after a failure, until [`Indexer::recover`] makes it anew: a Tantivy writer whose
    /// worker died has lost the documents queued to it and must not be committed.
    writer: Option<IndexWriter>,
    index: Index,
    /// Where the index is, to name it in the advice on a broken one.
    index_dir: PathBuf,
    /// Tantivy's indexing threads and their memory, to make the writer anew.
    writer_threads: usize,
    writer_memory: usize,
    fields: Fields,
    reader: IndexReader,
    journal_dir: PathBuf,
    /// How far the documents given to the writer reach (committed or not).
    checkpoint: Checkpoint,
    /// How far the last commit reaches: where indexing starts again after a failure.
    committed: Checkpoint,
    /// The journal's end as last told: what a recovery catches up to.
    journal_end: Checkpoint,
    /// Where `checkpoint` and the last commit reach, for the journal thread and `index_lag`.
    progress: Arc<Progress>,
    /// The detection mark the last commit kept.
    committed_detected: Option<u64>,
}

impl Indexer {
    fn writer(&mut self) -> Result<&mut IndexWriter, LogError> {
        self.writer.as_mut().ok_or_else(|| {
            LogError::Closed("the index writer is being made anew after a failure".into())
        })
    }

    /// Indexes the journal's records in `[checkpoint.position, end)` that the index lacks,
    /// committing every [`CATCH_UP_COMMIT_EVERY`] so that search follows a long
    /// catch-up instead of seeing all of it at its end.
    fn catch_up(&mut self, end: Position, next_seq: u64) -> Result<(), LogError> {
        self.saw_journal(end, next_seq);
        if next_seq <= self.checkpoint.next_seq {
            return Ok(());
        }
        let from_seq = self.checkpoint.next_seq;
        let journal_dir = self.journal_dir.clone();
        let mut last_commit = Instant::now();
        journal::read_range(
            &journal_dir,
            self.checkpoint.position,
            end,
            |record, after| {
                if record.seq < from_seq {
                    return Ok(());
                }
                let document = self.fields.document(&record);
                self.writer()?.add_document(document)?;
                self.advance(Checkpoint {
                    position: after,
                    next_seq: record.seq + 1,
                });
                if last_commit.elapsed() >= CATCH_UP_COMMIT_EVERY {
                    self.commit()?;
                    last_commit = Instant::now();
                }
                Ok(())
            },
        )?;
        self.advance(Checkpoint {
            position: end,
            next_seq,
        });
        Ok(())
    }

    /// Indexes a group handed over by the journal thread, or reads the journal back when
    /// groups were skipped.
    fn records(
        &mut self,
        records: &[Record],
        end: Position,
        next_seq: u64,
    ) -> Result<(), LogError> {
        self.saw_journal(end, next_seq);
        if records
            .first()
            .is_none_or(|r| r.seq != self.checkpoint.next_seq)
        {
            // Groups were skipped while the queue was full, or this one was already read back
            // from the journal: the journal is the truth.
            return self.catch_up(end, next_seq);
        }
        for record in records {
            let document = self.fields.document(record);
            self.writer()?.add_document(document)?;
        }
        self.advance(Checkpoint {
            position: end,
            next_seq,
        });
        Ok(())
    }

    /// Notes how far the journal reaches, for a recovery to catch up to.
    fn saw_journal(&mut self, end: Position, next_seq: u64) {
        if next_seq > self.journal_end.next_seq {
            self.journal_end = Checkpoint {
                position: end,
                next_seq,
            };
        }
    }

    fn advance(&mut self, checkpoint: Checkpoint) {
        self.checkpoint = checkpoint;
        self.progress
            .indexed
            .store(checkpoint.next_seq, Ordering::Release);
    }

    /// The detection mark moved since the last commit (worth a commit of its own).
    fn detected_moved(&self) -> bool {
        self.progress.detected() != self.committed_detected
    }

    /// Deletes the events `query` matches and commits, answering how many it removed. Events
    /// given to the writer since the last commit are committed first, so that the count taken
    /// on a fresh searcher is of the very events the deletion removes (counting on an older
    /// snapshot told a retention pass after a bulk load as 4 events deleted of 30,525).
    fn delete(&mut self, query: Box<dyn Query>) -> Result<u64, LogError> {
        self.commit()?;
        let count = self.reader.searcher().search(&*query, &Count)? as u64;
        if count > 0 {
            self.writer()?.delete_query(query)?;
            self.commit()?;
        }
        Ok(count)
    }

    fn commit(&mut self) -> Result<(), LogError> {
        #[cfg(test)]
        if self
            .progress
            .failing_commits
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
        {
            // As when a Tantivy worker dies: the documents not committed are gone.
            self.writer()?.rollback()?;
            return Err(LogError::Index(tantivy::TantivyError::SystemError(
                "a commit made to fail by a test".into(),
            )));
        }
        let detected = self.progress.detected();
        let checkpoint = self.checkpoint;
        let writer = self.writer.as_mut().ok_or_else(|| {
            LogError::Closed("the index writer is being made anew after a failure".into())
        })?;
        commit(
            writer,
            &self.reader,
            (&self.journal_dir, &self.progress),
            checkpoint,
            detected,
        )?;
        self.committed = checkpoint;
        self.committed_detected = detected;
        self.progress
            .searchable
            .store(checkpoint.next_seq, Ordering::Release);
        Ok(())
    }

    /// After a failure: drops the writer with every document it holds uncommitted (a dead
    /// worker may have lost some), so that no later commit can mark them searchable, and
    /// goes back to the last commit, from which [`Indexer::recover`] reads the journal again.
    /// Lets the writer's merges finish, up to [`MERGE_WAIT_ON_CLOSE`], so that a closed store
    /// has nothing writing into its directory: dropping a Tantivy writer leaves its merge
    /// threads running, and a store opened again in the same process, or the operator
    /// deleting the index, met their files. A merge still running after the wait is
    /// abandoned; the next writer removes its files.
    fn close(&mut self) {
        let Some(writer) = self.writer.take() else {
            return;
        };
        let (done, merged) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("vigil-logs-close".into())
            .spawn(move || {
                let _ = done.send(writer.wait_merging_threads());
            });
        if spawned.is_err() {
            return;
        }
        match merged.recv_timeout(MERGE_WAIT_ON_CLOSE) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "an index merge failed while closing; the next open removes its files")
            }
            Err(_) => {
                tracing::warn!(waited = ?MERGE_WAIT_ON_CLOSE, "an index merge is still running at close and is abandoned; the next open removes its files")
            }
        }
    }

    fn drop_writer(&mut self) {
        self.writer = None;
        self.checkpoint = self.committed;
        self.progress
            .indexed
            .store(self.committed.next_seq, Ordering::Release);
    }

    /// Makes the writer anew and indexes the journal from the last commit to its end, then
    /// commits. The last commit is read from the index itself: a commit that reported an
    /// error may still have been written.
    fn recover(&mut self) -> Result<(), LogError> {
        let payload = self.index.load_metas()?.payload;
        let (committed, _) = Checkpoint::decode(payload.as_deref());
        self.committed = past_damage(&self.journal_dir, committed)?.unwrap_or(committed);
        self.drop_writer();
        self.writer = Some(
            self.index
                .writer_with_num_threads(self.writer_threads, self.writer_memory)?,
        );
        let end = self.journal_end;
        self.catch_up(end.position, end.next_seq)?;
        self.commit()
    }
}

/// How long indexing waits after a failure before trying again, at first and at most: the
/// wait doubles while the cause (a full disk, too many open files) lasts.
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(60);

/// A failed index writer, and when to make it anew.
struct Failing {
    retry_at: Instant,
    wait: Duration,
}

fn index_loop(mut ix: Indexer, interval: Duration, inbox: Receiver<IndexMsg>) {
    let mut dirty = false;
    let mut last_commit = Instant::now();
    let mut failing: Option<Failing> = None;
    loop {
        let wait = match &failing {
            Some(f) => f.retry_at.saturating_duration_since(Instant::now()),
            None => interval.saturating_sub(last_commit.elapsed()),
        };
        let received = inbox.recv_timeout(wait.max(Duration::from_millis(1)));
        if let Some(f) = &failing {
            // No writer: note how far the journal reaches, refuse what needs the index, and
            // try again once the wait is over.
            let due = Instant::now() >= f.retry_at;
            let mut flush = None;
            match received {
                Ok(
                    IndexMsg::Records { end, next_seq, .. } | IndexMsg::CatchUp { end, next_seq },
                ) => {
                    ix.saw_journal(end, next_seq);
                }
                Ok(IndexMsg::Flush {
                    reply,
                    end,
                    next_seq,
                }) => {
                    ix.saw_journal(end, next_seq);
                    if due {
                        flush = Some(reply);
                    } else {
                        let _ = reply.send(Err(ix.progress.not_searchable()));
                    }
                }
                Ok(IndexMsg::Delete { reply, .. }) => {
                    let _ = reply.send(Err(ix.progress.not_searchable()));
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if !due {
                continue;
            }
            let wait = f.wait;
            let recovered = ix.recover();
            if let Some(reply) = flush {
                let _ = reply.send(match &recovered {
                    Ok(()) => Ok(()),
                    Err(e) => Err(LogError::NotSearchable {
                        reason: e.to_string(),
                    }),
                });
            }
            match recovered {
                Ok(()) => {
                    tracing::info!(
                        searchable = ix.checkpoint.next_seq,
                        "indexing works again; every acknowledged event is searchable"
                    );
                    ix.progress.set_index_failure(None);
                    failing = None;
                    dirty = false;
                    last_commit = Instant::now();
                }
                Err(e) => {
                    ix.drop_writer();
                    let e = judged(e, &ix.index_dir, &ix.journal_dir);
                    let wait = (wait * 2).min(LAST_RETRY);
                    tracing::error!(error = %e, retry_in = ?wait, lag = ix.progress.unsearchable(), "indexing still fails; acknowledged events stay in the journal");
                    ix.progress.set_index_failure(Some(e.to_string()));
                    failing = Some(Failing {
                        retry_at: Instant::now() + wait,
                        wait,
                    });
                }
            }
            continue;
        }
        let outcome = match received {
            Ok(IndexMsg::Records {
                records,
                end,
                next_seq,
            }) => {
                dirty = true;
                ix.records(&records, end, next_seq)
            }
            Ok(IndexMsg::CatchUp { end, next_seq }) => {
                dirty = true;
                ix.catch_up(end, next_seq)
            }
            Ok(IndexMsg::Flush {
                reply,
                end,
                next_seq,
            }) => {
                let result = ix.catch_up(end, next_seq).and_then(|()| ix.commit());
                dirty = false;
                last_commit = Instant::now();
                answer(reply, result, &ix.progress)
            }
            Ok(IndexMsg::Delete { query, reply }) => {
                let result = ix.delete(query);
                dirty = false;
                last_commit = Instant::now();
                answer(reply, result, &ix.progress)
            }
            Err(RecvTimeoutError::Timeout) => Ok(()),
            Err(RecvTimeoutError::Disconnected) => {
                if (dirty || ix.detected_moved())
                    && let Err(e) = ix.commit()
                {
                    tracing::error!(error = %e, "final index commit failed; the journal replays on next open");
                }
                ix.close();
                return;
            }
        };
        let outcome = outcome.and_then(|()| {
            if (dirty || ix.detected_moved()) && last_commit.elapsed() >= interval {
                last_commit = Instant::now();
                ix.commit()?;
                dirty = false;
            }
            Ok(())
        });
        if let Err(e) = outcome {
            ix.drop_writer();
            let e = judged(e, &ix.index_dir, &ix.journal_dir);
            tracing::error!(error = %e, retry_in = ?FIRST_RETRY, "indexing failed; acknowledged events stay in the journal, and the index writer is made anew and reads them again from the last commit");
            ix.progress.set_index_failure(Some(e.to_string()));
            failing = Some(Failing {
                retry_at: Instant::now() + FIRST_RETRY,
                wait: FIRST_RETRY,
            });
        }
    }
}

/// Answers a flush or a delete: an index failure is told as one (the events stay in the
/// journal), recorded first so that the caller finds it in the store's health, and handed back
/// for the index thread to recover from.
fn answer<T>(
    reply: Reply<T>,
    result: Result<T, LogError>,
    progress: &Progress,
) -> Result<(), LogError> {
    match result {
        Ok(value) => {
            let _ = reply.send(Ok(value));
            Ok(())
        }
        Err(e) => {
            progress.set_index_failure(Some(e.to_string()));
            let _ = reply.send(Err(progress.not_searchable()));
            Err(e)
        }
    }
}

/// The mode of the store's directories: the owner's only, as the rest of the data directory.
#[cfg(unix)]
const DIR_MODE: u32 = 0o700;

/// Creates `dir` (and its parents) if missing, the owner's only (0700 on Unix), and tightens it
/// to 0700, with a log line, when found open to the group or others (made by an older Vigil):
/// the events are as private as the database. The files already inside are left as they are;
/// the directory alone keeps other users out of them.
fn private_dir(dir: &Path) -> Result<(), LogError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
            .map_err(|e| LogError::io(dir, e))?;
        let mode = std::fs::metadata(dir)
            .map_err(|e| LogError::io(dir, e))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))
                .map_err(|e| LogError::io(dir, e))?;
            tracing::warn!(
                dir = %dir.display(),
                was = format_args!("{mode:o}"),
                now = format_args!("{DIR_MODE:o}"),
                "log store directory was readable by other users; made it the owner's only"
            );
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(|e| LogError::io(dir, e))?;
    Ok(())
}

/// Locks `dir/store.lock` (an advisory `flock`, dropped by the kernel when the process ends,
/// killed or not): refused with [`LogError::InUse`] while another open store holds it.
fn lock_store(dir: &Path) -> Result<std::fs::File, LogError> {
    let path = dir.join("store.lock");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&path).map_err(|e| LogError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(LogError::InUse { path }),
        Err(std::fs::TryLockError::Error(e)) => Err(LogError::io(&path, e)),
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        if let Ok(mut sender) = self.requests.lock() {
            sender.take();
        }
        if let Ok(mut threads) = self.threads.lock() {
            for handle in threads.drain(..) {
                let _ = handle.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{EmbeddedConfig, EmbeddedStore, Ordering, RecentTotals, totals_key};
    use crate::{EventStore, NewEvent, SearchRequest, TimeRange};
    use std::time::{Duration, Instant};

    fn open(dir: &std::path::Path) -> EmbeddedStore {
        let mut config = EmbeddedConfig::new(dir);
        config.index_memory_bytes = 32 * 1024 * 1024;
        config.commit_interval = Duration::from_millis(50);
        EmbeddedStore::open(config).expect("the store opens")
    }

    fn events(from: u64, count: u64) -> Vec<NewEvent> {
        (from..from + count)
            .map(|n| NewEvent {
                time: chrono::Utc::now(),
                service: "svc".into(),
                host: "h".into(),
                tenant: String::new(),
                json: format!(r#"{{"n":{n}}}"#),
                json_checked: false,
            })
            .collect()
    }

    fn searchable(store: &EmbeddedStore) -> u64 {
        store
            .search(&SearchRequest {
                query: vigil_query::parse("*").expect("parses"),
                range: TimeRange::default(),
                limit: 1,
                cursor: None,
            })
            .expect("search")
            .total
    }

    /// Waits until search sees every acknowledged event.
    fn until_caught_up(store: &EmbeddedStore) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while store.index_lag() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A commit that fails after the documents given to the writer were lost (a Tantivy
    /// worker killed by too many open files) leaves them unsearchable no longer: the writer is
    /// made anew and reads them from the journal again, while the lag says they are not
    /// searchable and `refresh` says why.
    #[test]
    fn events_lost_by_a_failed_index_writer_are_indexed_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open(dir.path());
        store.append(events(0, 10)).expect("append");
        store.refresh().expect("refresh");
        store.progress.failing_commits.store(2, Ordering::Release);
        store.append(events(10, 90)).expect("append");

        let refreshed = store.refresh();
        assert!(
            matches!(refreshed, Err(crate::LogError::NotSearchable { .. })),
            "{refreshed:?}"
        );
        assert_eq!(store.index_lag(), 90);
        assert!(store.health().index.is_some());
        store
            .append(events(100, 50))
            .expect("appends go on meanwhile");

        until_caught_up(&store);
        assert_eq!(store.index_lag(), 0);
        assert_eq!(searchable(&store), 150);
        assert_eq!(store.health(), crate::StoreHealth::default());
        store.refresh().expect("refresh");
        drop(store);
        let reopened = open(dir.path());
        reopened.refresh().expect("refresh");
        assert_eq!(searchable(&reopened), 150);
    }

    /// The state a crash leaves while commits fail: the committed checkpoint behind the
    /// journal. The next open indexes the rest.
    #[test]
    fn a_store_whose_index_commit_is_behind_the_journal_indexes_the_rest_at_open() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open(dir.path());
        store.append(events(0, 10)).expect("append");
        store.refresh().expect("refresh");
        store
            .progress
            .failing_commits
            .store(u32::MAX, Ordering::Release);
        store.append(events(10, 40)).expect("append");
        assert!(store.refresh().is_err());
        drop(store);

        let reopened = open(dir.path());
        assert_eq!(reopened.index_lag(), 40);
        until_caught_up(&reopened);
        assert_eq!(searchable(&reopened), 50);
    }

    /// A total is not taken from a search that ran at another time when the query's window
    /// moves with the time (`now-20s`); one with fixed times is the same search whenever it
    /// runs.
    #[test]
    fn a_query_with_relative_times_is_a_search_of_its_own_at_every_moment() {
        use chrono::{Duration, TimeZone, Utc};
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let later = now + Duration::seconds(25);
        let range = super::TimeRange::default();
        for (query, moves) in [
            ("time:>now-20s", true),
            ("user:a AND NOT time:[now-1h TO now]", true),
            ("ts:<now-1d OR x", true),
            ("time:now", true),
            ("time:>2026-01-01", false),
            ("user:a AND ts:[2026-01-01 TO 2026-02-01}", false),
            ("now", false),
        ] {
            let filter = vigil_query::parse(query).expect("parses").filter;
            let (first, second) = (
                totals_key(&filter, range, now),
                totals_key(&filter, range, later),
            );
            assert_eq!(first != second, moves, "{query}: {first} / {second}");
        }
    }

    #[test]
    fn a_total_is_kept_for_its_search_and_index_generation_only() {
        let mut totals = RecentTotals::default();
        totals.keep(1, "a".into(), 10);
        totals.keep(1, "b".into(), 20);
        assert_eq!(
            (totals.get(1, "a"), totals.get(1, "b"), totals.get(1, "c")),
            (Some(10), Some(20), None)
        );
        // A commit made a new generation: what the old one counted is gone.
        totals.keep(2, "a".into(), 11);
        assert_eq!((totals.get(2, "a"), totals.get(2, "b")), (Some(11), None));
        assert_eq!(totals.get(1, "a"), None);
        // At most KEPT, the oldest dropped first.
        for i in 0..RecentTotals::KEPT {
            totals.keep(2, format!("q{i}"), i as u64);
        }
        assert_eq!(totals.get(2, "a"), None);
        assert_eq!(totals.get(2, "q0"), Some(0));
    }
}
