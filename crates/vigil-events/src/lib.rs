//! Decoders at the edge: log files (EVTX, JSON lines, JSON arrays, gzip-compressed or not) to
//! events the detection engine can look Sigma fields up in.
//!
//! - [`source`]: walk files and folders, detect formats by content, yield [`Record`]s;
//! - [`json`]: [`json::JsonEvent`], the engine's `Event` view of one JSON object;
//! - [`time`]: timestamps to and from milliseconds since the epoch;
//! - [`syslog`]: RFC 5424 / RFC 3164 messages to JSON events, and the RFC 6587 TCP framer;
//! - [`batch`]: HTTP ingest bodies and syslog files to accepted events and rejections.
//!
//! The engine never sees files or bytes: this crate turns them into events.

pub mod batch;
mod documents;
pub mod json;
pub mod source;
pub mod syslog;
pub mod time;

pub use batch::{Accepted, Batch, BodyFormat, Position, RejectReason, Rejection, decode_body};
pub use source::{DecodeError, Format, InputFile, Record, RecordSource, collect_files, open};
pub use syslog::{Framer, SyslogError, SyslogMessage, SyslogOptions};
