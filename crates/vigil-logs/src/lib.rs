//! Vigil's log store: the central, consolidated database of events from every service.
//!
//! [`EventStore`] is the contract (append durably, search newest first, aggregate, pivot across
//! services, stats and retention per service); [`EmbeddedStore`] implements it in one data
//! directory with an append-only journal (durability, group commit) and a Tantivy index
//! (search). A PostgreSQL + NATS backend can implement the same trait later.
//!
//! Plain threads and blocking calls, no async runtime, no HTTP, no SQL: the server calls in
//! through `spawn_blocking` or a channel. Queries are `vigil-query` ASTs.

mod backup;
mod embedded;
mod error;
mod fields;
mod groups;
mod index;
mod journal;
mod pivot;
mod store;
mod terms;

pub use backup::{BackupFile, LogBackup, LogBackupFiles};
pub use embedded::{EmbeddedConfig, EmbeddedStore};
pub use error::LogError;
pub use index::MAX_KEYWORD as MAX_WHOLE_VALUE;
pub use store::{
    Aggregation, AppendOutcome, BatchMark, Count, Cursor, EventStore, Group, KEPT_TIMES,
    MAX_ENVELOPE_BYTES, MissingField, NewEvent, Pivot, PivotRequest, Rejected, SearchPage,
    SearchRequest, ServiceStats, StoreHealth, StoredEvent, TimeBucket, TimeRange, keeps_time,
};
