//! Decoders at the edge: log files (EVTX, JSON lines, JSON arrays, gzip-compressed or not) to
//! events the detection engine can look Sigma fields up in.
//!
//! - [`source`]: walk files and folders, detect formats by content, yield [`Record`]s;
//! - [`json`]: [`json::JsonEvent`], the engine's `Event` view of one JSON object;
//! - [`time`]: timestamps to and from milliseconds since the epoch;
//! - [`syslog`]: RFC 5424 / RFC 3164 messages to JSON events, and the RFC 6587 TCP framer;
//! - [`access`]: web server access-log lines (common, combined) to `webserver` events;
//! - [`error_log`]: Apache and nginx error-log lines to events for those services' rules;
//! - [`w3c`]: W3C extended logs (IIS) to the same `webserver` events as access logs;
//! - [`batch`]: HTTP ingest bodies and syslog files to accepted events and rejections.
//!
//! The engine never sees files or bytes: this crate turns them into events.

pub mod access;
pub mod batch;
mod documents;
pub mod error_log;
pub mod json;
pub mod source;
pub mod syslog;
pub mod time;
pub mod w3c;
mod write;

pub use batch::{
    Accepted, Batch, BodyFormat, LineEvent, LineFormat, Position, RejectReason, Rejection,
    decode_body,
};
pub use source::{DecodeError, Format, InputFile, Record, RecordSource, collect_files, open};
pub use syslog::{Framer, SyslogError, SyslogMessage, SyslogOptions};

/// The Sigma logsources an event of a plain-text log says it is, from the marker its decoder
/// wrote: a web request (an access-log line, in a file or carried by syslog) `category:
/// webserver` ([`access::access_event_logsources`]), a web server's error-log line its
/// server's error log ([`error_log::error_event_logsources`]), another syslog line by the
/// program that wrote it ([`syslog::syslog_event_logsources`]); `None` for any other event
/// (EVTX, JSON), whose logsource the Windows mapping or a service's declaration tells.
pub fn implied_logsources(
    event: &dyn vigil_detect::Event,
) -> Option<&'static [vigil_detect::Logsource]> {
    access::access_event_logsources(event)
        .or_else(|| error_log::error_event_logsources(event))
        .or_else(|| syslog::syslog_event_logsources(event))
}
