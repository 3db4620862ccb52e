//! vigil-ingest: the path of every event into the central log database.
//!
//! An event arrives (an HTTP body, a syslog frame, a file read by `vigil ingest`), is decoded
//! at the edge (`vigil-events`), matched against the loaded Sigma rules (`vigil-detect`),
//! appended durably to the log store (`vigil-logs`), and each rule match is recorded as a
//! detection (`vigil-store`). [`Ingestor`] is that path; the HTTP route and the syslog
//! listeners ([`syslog`]) both call it, so every entry point stores and detects the same way.
//!
//! Decoding, matching and appending block (the store waits for fsync), so they run on tokio's
//! blocking pool; the store's bounded queues make a slow disk slow the senders down instead of
//! growing memory.

pub mod correlation;
pub mod error;
mod mark;
pub mod once;
pub mod org;
pub mod pipeline;
pub mod preview;
mod received;
pub mod retention;
pub mod rules;
pub mod silence;
pub mod state_file;
pub mod syslog;
pub mod totals;

pub use error::IngestError;
pub use once::{BatchKey, ClaimedBatch};
pub use pipeline::{
    CorrelationRebuild, CorrelationWindows, DetectionRecovery, Envelope, IngestReport, Ingestor,
    RawEvent, Recovered, RejectedEvent,
};
pub use retention::RetentionPolicy;
pub use rules::{ReloadFailure, RuleSlot, RulesStatus};
pub use totals::{IngestTotals, NotStored, NotStoredReason};
