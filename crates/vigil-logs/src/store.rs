//! The [`EventStore`] trait and the values it takes and returns. A backend (the embedded
//! journal + Tantivy store here, PostgreSQL with NATS later) implements the trait; callers only
//! see these types.

use std::ops::Range;

use chrono::{DateTime, Utc};
use vigil_query::{Field, Query};

use crate::error::LogError;

/// An event to store: the envelope its sender is known by and its JSON as received.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// When the event happened (or was received, if it carries no time).
    pub time: DateTime<Utc>,
    /// The service that sent it; must not be empty.
    pub service: String,
    /// The host it came from; may be empty when unknown.
    pub host: String,
    /// The tenant it belongs to; may be empty when unknown.
    pub tenant: String,
    /// The event itself: one JSON object.
    pub json: String,
    /// Whether a JSON parser already accepted `json` as one object (the ingest path parses
    /// every event to match it): the store then does not parse it again. When false the store
    /// checks it and refuses the event if it is not.
    pub json_checked: bool,
}

/// The event times a log store keeps, in microseconds since 1970: from just after 1970 began
/// (events are ordered by milliseconds since then) to the end of 2099 (the order key has 42
/// bits for them, which last until 2109; the index's time type ends in 2262). A time outside
/// is a clock gone wrong or a zero value — Go's 0001-01-01, or the Unix epoch itself, which
/// `1970-01-01T00:00:00Z` reads as (a number is read as a time from 2000 on only, so a zero
/// `timestamp` is none) —: the ingest path stores such events at the time they were received
/// instead ([`keeps_time`]).
pub const KEPT_TIMES: Range<i64> = 1..4_102_444_800_000_000;

/// The longest service, host or tenant an event may have.
pub const MAX_ENVELOPE_BYTES: usize = 256;

/// Whether a log store keeps events at `time` (see [`KEPT_TIMES`]).
pub fn keeps_time(time: DateTime<Utc>) -> bool {
    KEPT_TIMES.contains(&time.timestamp_micros())
}

impl NewEvent {
    /// Why a log store refuses this event, in words for the sender; `Ok` when it takes it.
    /// Every backend refuses what this refuses, so the ingest path can know a batch's
    /// refusals before it appends the batch (it lists them in the batch's mark).
    pub fn check(&self) -> Result<(), String> {
        if self.service.trim().is_empty() {
            return Err("the service is empty: tag the event with the service that sent it".into());
        }
        if !keeps_time(self.time) {
            return Err(format!(
                "the event time {} is zero or outside the years 1970 to 2099 the log store keeps: correct it",
                self.time.to_rfc3339()
            ));
        }
        for (name, value) in [
            ("service", &self.service),
            ("host", &self.host),
            ("tenant", &self.tenant),
        ] {
            if value.len() > MAX_ENVELOPE_BYTES {
                return Err(format!(
                    "the {name} is longer than {MAX_ENVELOPE_BYTES} bytes: shorten it"
                ));
            }
        }
        if self.json_checked {
            return Ok(());
        }
        if !self.json.trim_start().starts_with('{') {
            return Err(
                "the event is not a JSON object: send one object per event, e.g. {\"message\": \"…\"}"
                    .into(),
            );
        }
        serde_json::from_str::<serde::de::IgnoredAny>(&self.json)
            .map(|_| ())
            .map_err(|e| {
                format!("the event is not valid JSON ({e}): send one JSON object per event")
            })
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// The store's identifier, increasing in order of storage.
    pub id: u64,
    /// The event time, to the microsecond.
    pub time: DateTime<Utc>,
    /// The sending service.
    pub service: String,
    /// The host.
    pub host: String,
    /// The tenant.
    pub tenant: String,
    /// The original JSON text.
    pub json: String,
}

/// An event of a batch that was not stored, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Its index in the batch (0-based).
    pub index: usize,
    /// What is wrong with it and what to send instead.
    pub reason: String,
}

/// What [`EventStore::append`] did with a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    /// The identifiers of the stored events, in batch order; all of them are durable.
    pub stored: Vec<u64>,
    /// The events that were refused.
    pub rejected: Vec<Rejected>,
}

/// A batch stored with [`EventStore::append_marked`] before the store was opened, whose
/// events may not have their detections recorded ([`EventStore::marks_at_open`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchMark {
    /// The ids its events were given.
    pub ids: Range<u64>,
    /// The mark it was stored with.
    pub mark: Vec<u8>,
}

/// A time window `[from, to)`; an open side is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    /// Inclusive start.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive end.
    pub to: Option<DateTime<Utc>>,
}

/// Where a page of results ends; pass it back to get the next page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(pub(crate) u64);

impl Cursor {
    /// The cursor as text, for a URL.
    pub fn encode(&self) -> String {
        format!("{:x}", self.0)
    }

    /// Reads a cursor produced by [`Cursor::encode`].
    pub fn decode(text: &str) -> Result<Cursor, LogError> {
        u64::from_str_radix(text, 16).map(Cursor).map_err(|_| {
            LogError::Unsupported(format!(
                "`{text}` is not a cursor: pass the next_cursor value of the previous page unchanged"
            ))
        })
    }
}

/// A search.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// The parsed query; it must not carry a `|` aggregation (use [`EventStore::aggregate`]).
    pub query: Query,
    /// The time window.
    pub range: TimeRange,
    /// At most this many events per page.
    pub limit: usize,
    /// Continue after this cursor (from the previous page).
    pub cursor: Option<Cursor>,
}

/// A page of search results.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    /// How many events match in all (every page together).
    pub total: u64,
    /// This page's events, newest first.
    pub events: Vec<StoredEvent>,
    /// The cursor of the next page; `None` on the last page.
    pub next_cursor: Option<Cursor>,
}

/// One value and how many events have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    /// The value (numbers as decimal text).
    pub value: String,
    /// Events with that value.
    pub count: u64,
}

/// The answer to `| count by FIELD[, FIELD …]`, `| top N FIELD[, …]` or `| rare N FIELD[, …]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregation {
    /// The fields grouped by, at least one.
    pub fields: Vec<String>,
    /// Events matching the filter.
    pub total: u64,
    /// Values (a value per field), most frequent first (ties by values), each with its exact
    /// count. An event holding several values is counted under each, so the counts may add up
    /// to more than the events they cover.
    pub buckets: Vec<Group>,
    /// Matching events with values, none of them listed in `buckets` (all beyond the limit).
    /// Over one field it is exact; over several, events holding several combinations, not all
    /// of them listed, may make it an estimate from below. Where it is exact, the events in
    /// `buckets` (each once), `other` and `missing` make `total`.
    pub other: u64,
    /// Matching events without the field (over several fields: without one of them or more,
    /// so that they hold no combination). Exact.
    pub missing: u64,
    /// `None`: `buckets` are the most frequent values. `Some(n)`: the field has too many values
    /// to settle the ranking cheaply, and a value not listed may occur up to `n` times (more
    /// than the last listed). The counts listed are exact either way.
    pub unlisted_max: Option<u64>,
}

/// Matching events with a value of each field grouped by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// A value per field (numbers as decimal text, times in RFC 3339).
    pub values: Vec<String>,
    /// Events with those values.
    pub count: u64,
}

/// A pivot: every event, in every service, that carries a value.
#[derive(Debug, Clone)]
pub struct PivotRequest {
    /// The field to look in, where the value must be whole; `None` looks in every field of the
    /// event, for the whole value or its words in sequence inside a longer text (as free text
    /// finds it: the IP in `Failed password for root from 203.0.113.9`).
    pub field: Option<Field>,
    /// With no `field`: look for the value only whole — the whole value of any JSON field, or
    /// the envelope's host, service or tenant —, not as words inside a longer text (a user
    /// account `admin` is not the `/admin` of a URL), and count the events holding it only
    /// inside a text apart ([`Pivot::in_text_only`]). Ignored with a `field`.
    pub whole: bool,
    /// The value (an IP, a user, a host, a hash …), matched case-insensitively.
    pub value: String,
    /// The time window.
    pub range: TimeRange,
    /// How many of the newest events to return.
    pub limit: usize,
}

/// A point of a pivot's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeBucket {
    /// Start of the bucket.
    pub start: DateTime<Utc>,
    /// Events in it.
    pub count: u64,
}

/// The answer to a pivot.
#[derive(Debug, Clone, PartialEq)]
pub struct Pivot {
    /// Events carrying the value.
    pub total: u64,
    /// Time of the oldest event carrying it (to the millisecond).
    pub first: Option<DateTime<Utc>>,
    /// Time of the newest event carrying it (to the millisecond).
    pub last: Option<DateTime<Utc>>,
    /// Bucket width of `timeline`, in seconds.
    pub bucket_seconds: i64,
    /// Event counts over time, oldest first, empty buckets left out.
    pub timeline: Vec<TimeBucket>,
    /// Counts per service, largest first: every service.
    pub by_service: Vec<Count>,
    /// Counts per host, largest first: the hundred largest.
    pub by_host: Vec<Count>,
    /// How many hosts carried it, listed in `by_host` or not.
    pub hosts: u64,
    /// Counts per tenant, largest first: every tenant.
    pub by_tenant: Vec<Count>,
    /// The newest events, newest first.
    pub events: Vec<StoredEvent>,
    /// With [`PivotRequest::whole`] (and no field): how many more events in the window hold
    /// the value only as words inside a longer text, as free text finds them; not counted
    /// above. `None` otherwise.
    pub in_text_only: Option<u64>,
}

/// What the store holds for one service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceStats {
    /// The service.
    pub service: String,
    /// Stored events.
    pub events: u64,
    /// Bytes of their JSON.
    pub bytes: u64,
    /// Time of the oldest event.
    pub first: Option<DateTime<Utc>>,
    /// Time of the newest event.
    pub last: Option<DateTime<Utc>>,
}

/// A JSON path a query names that no stored event has (the usual reason for an empty answer),
/// with stored paths it may have meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingField {
    /// The path as the query wrote it.
    pub path: String,
    /// Stored paths it may have meant, best first (at most five; may be empty).
    pub similar: Vec<String>,
}

/// What keeps a store from doing its work right now, for a health check: each part is `None`
/// while it works.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreHealth {
    /// Why appends are refused: the last journal write failed (a full disk, an I/O error) and
    /// none has succeeded since. Every append tries again.
    pub journal: Option<String>,
    /// Why indexing fails (too many open files, a full disk): acknowledged events are kept but
    /// not searchable until it recovers, which it tries on its own.
    pub index: Option<String>,
}

impl StoreHealth {
    /// Whether every part works.
    pub fn is_ok(&self) -> bool {
        self.journal.is_none() && self.index.is_none()
    }
}

/// A durable, searchable store of log events. Every method blocks: async callers use
/// `spawn_blocking` or a channel. Implementations are shared between threads.
pub trait EventStore: Send + Sync {
    /// Stores the valid events of a batch and returns only once they are durable (they survive
    /// a crash); invalid events are listed as rejected and the rest are stored. Blocks while the
    /// store is behind (back-pressure) instead of buffering without bound.
    fn append(&self, batch: Vec<NewEvent>) -> Result<AppendOutcome, LogError>;

    /// [`EventStore::append`], keeping `mark` (the caller's bytes) with the batch, durable in
    /// the same write as its events: when the process stops before the caller has recorded
    /// what it owes the batch (its detections, the answer to its sender: the detection mark
    /// has not passed it), the next open gives the mark back ([`EventStore::marks_at_open`]).
    /// A batch whose events are all refused keeps no mark. A backend that keeps no marks
    /// stores the batch as `append` does.
    fn append_marked(
        &self,
        batch: Vec<NewEvent>,
        mark: Vec<u8>,
    ) -> Result<AppendOutcome, LogError> {
        let _ = mark;
        self.append(batch)
    }

    /// Events matching the query in the window, newest first, one page at a time. Events
    /// acknowledged by `append` become visible within the store's refresh interval, or at once
    /// after [`EventStore::refresh`].
    fn search(&self, request: &SearchRequest) -> Result<SearchPage, LogError>;

    /// Runs the query's `| count by` or `| top` step over the events it matches in the window.
    fn aggregate(&self, query: &Query, range: TimeRange) -> Result<Aggregation, LogError>;

    /// Every event carrying the value, across services: timeline, counts per service, host and
    /// tenant, and the newest events.
    fn pivot(&self, request: &PivotRequest) -> Result<Pivot, LogError>;

    /// Of `paths` (JSON paths a query names), those no stored event has, each with the stored
    /// paths it may have meant (`EventID` → `Event.System.EventID`).
    fn missing_fields(&self, paths: &[&str]) -> Result<Vec<MissingField>, LogError>;

    /// Events, bytes and time span per service.
    fn stats(&self) -> Result<Vec<ServiceStats>, LogError>;

    /// Deletes the service's events older than `cutoff`; returns how many were deleted.
    fn delete_older_than(&self, service: &str, cutoff: DateTime<Utc>) -> Result<u64, LogError>;

    /// The id the next stored event will get: every event acknowledged so far has a smaller
    /// one (ids increase in order of storage).
    fn next_id(&self) -> u64;

    /// How many acknowledged events search does not see yet (indexing and index commits run
    /// behind the journal; see [`crate::EmbeddedConfig::max_index_lag`]).
    fn index_lag(&self) -> u64 {
        0
    }

    /// What keeps the store from doing its work right now (see [`StoreHealth`]).
    fn health(&self) -> StoreHealth {
        StoreHealth::default()
    }

    /// Makes every event acknowledged so far visible to search.
    fn refresh(&self) -> Result<(), LogError>;

    /// The ids of the events stored before this open whose detections may not have been
    /// recorded: the process stopped between storing a batch and recording what it matched.
    /// Empty when nothing is owed, or when the store does not track detections.
    fn undetected_at_open(&self) -> Range<u64>;

    /// The marks of the batches stored with [`EventStore::append_marked`] among
    /// [`EventStore::undetected_at_open`], oldest first.
    fn marks_at_open(&self) -> Vec<BatchMark> {
        Vec::new()
    }

    /// Tells the store that every event with a smaller id has its detections recorded. The
    /// store keeps the mark durably (it is what [`EventStore::undetected_at_open`] starts
    /// from after a crash) and keeps the events from it on readable by
    /// [`EventStore::read_stored`]. Marks only move forward.
    fn mark_detected_below(&self, id: u64);

    /// The stored events with ids in `ids`, oldest first, at most `limit`, read from where the
    /// store made them durable (they need not be searchable yet). Meant for the ids of
    /// [`EventStore::undetected_at_open`]; others may have been removed.
    fn read_stored(&self, ids: Range<u64>, limit: usize) -> Result<Vec<StoredEvent>, LogError>;

    /// The first point of an online backup (see the `backup` module): holds the journal
    /// segments from being deleted and opens the files of the index's last commit. Take it
    /// before copying the database, then [`EventStore::finish_backup`] after.
    fn begin_backup(&self) -> Result<crate::LogBackup, LogError>;

    /// The second point of an online backup: opens the journal up to its fsynced end (every
    /// event acknowledged so far) and lets journal segments be deleted again.
    fn finish_backup(&self, begun: crate::LogBackup) -> Result<crate::LogBackupFiles, LogError>;

    /// The searchable event with id `id`, stored at `time` (as a detection records them both):
    /// `None` once retention removed it, or while it is not searchable yet.
    fn event(&self, id: u64, time: DateTime<Utc>) -> Result<Option<StoredEvent>, LogError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn an_event_is_refused_at_a_time_the_store_does_not_keep() {
        let at = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap();
        let event = |time| NewEvent {
            time,
            service: "web".into(),
            host: String::new(),
            tenant: String::new(),
            json: "{}".into(),
            json_checked: true,
        };
        let after_zero = at(1970, 1, 1) + chrono::Duration::milliseconds(1);
        for kept in [
            after_zero,
            at(1970, 1, 2),
            at(2026, 12, 3),
            at(2099, 12, 31),
        ] {
            assert!(keeps_time(kept) && event(kept).check().is_ok(), "{kept}");
        }
        for lost in [
            at(1, 1, 1),
            // The zero of Unix time: an event's time field left at zero, not a time.
            at(1970, 1, 1),
            at(1969, 12, 31),
            at(2100, 1, 1),
            at(9999, 12, 31),
        ] {
            assert!(!keeps_time(lost), "{lost}");
            let reason = event(lost).check().unwrap_err();
            assert!(reason.contains("1970 to 2099"), "{reason}");
        }
    }
}
