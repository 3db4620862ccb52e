//! Decoders at the edge: log files (EVTX, JSON lines, JSON arrays, gzip-compressed or not) to
//! events the detection engine can look Sigma fields up in.
//!
//! - [`source`]: walk files and folders, detect formats by content, yield [`Record`]s;
//! - [`json`]: [`json::JsonEvent`], the engine's `Event` view of one JSON object;
//! - [`time`]: timestamps to and from milliseconds since the epoch.
//!
//! The engine never sees files or bytes: this crate turns them into events.

pub mod json;
pub mod source;
pub mod time;

pub use source::{DecodeError, Format, InputFile, Record, RecordSource, collect_files, open};
