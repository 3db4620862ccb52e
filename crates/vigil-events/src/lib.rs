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
//! - [`auditd`]: Linux audit records (auditd's audit.log) to events for the `auditd` rules;
//! - [`batch`]: HTTP ingest bodies and syslog files to accepted events and rejections.
//!
//! The engine never sees files or bytes: this crate turns them into events.

pub mod access;
pub mod auditd;
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
pub use source::{
    Collected, DecodeError, Format, InputFile, Record, RecordSource, collect_files, open,
};
pub use syslog::{Framer, SyslogError, SyslogMessage, SyslogOptions};

/// The Sigma logsources an event of a plain-text log says it is, from the marker its decoder
/// wrote: a web request (an access-log line, in a file or carried by syslog) `category:
/// webserver` ([`access::access_event_logsources`]), a web server's error-log line its
/// server's error log ([`error_log::error_event_logsources`]), a Linux audit record `product:
/// linux, service: auditd` ([`auditd::auditd_event_logsources`]), another syslog line by the
/// program that wrote it ([`syslog::syslog_event_logsources`]), a line of other text
/// (`--text`) no log in particular, which only the rules naming no logsource meet; `None` for
/// any other event (EVTX, JSON), whose logsource the Windows mapping or a service's declaration
/// tells.
pub fn implied_logsources(
    event: &dyn vigil_detect::Event,
) -> Option<&'static [vigil_detect::Logsource]> {
    static ANY_TEXT: std::sync::LazyLock<[vigil_detect::Logsource; 1]> =
        std::sync::LazyLock::new(|| [vigil_detect::Logsource::default()]);
    // No text-log decoder writes a Windows record, and looking for the markers in one walks
    // its `Event` tree four times: on the ingest path, a few percent of the CPU.
    if event.is_windows_record() {
        return None;
    }
    web_server_logsources(event)
        .or_else(|| auditd::auditd_event_logsources(event))
        .or_else(|| syslog::syslog_event_logsources(event))
        .or_else(|| {
            event
                .field_values(batch::TEXT_LOG_FORMAT_FIELD, &mut |_| {})
                .then(|| &ANY_TEXT[..])
        })
}

/// The Sigma logsources of a web server's own line — a request of an access or W3C log
/// (`category: webserver`) or an error-log line (its server's error log) — in a file or carried
/// by syslog; `None` for any other event. Such a line is what it says whatever its sender
/// declared of its logs: a declaration (`vigil hunt --logsource`, a service's `logsources`)
/// describes the JSON, syslog or other text logs beside it, and taking it for the web lines too
/// would hide them from the webserver rules.
pub fn web_server_logsources(
    event: &dyn vigil_detect::Event,
) -> Option<&'static [vigil_detect::Logsource]> {
    // Looking for the markers in a Windows record walks its `Event` tree twice, for nothing.
    if event.is_windows_record() {
        return None;
    }
    access::access_event_logsources(event).or_else(|| error_log::error_event_logsources(event))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each text log's events say what they are; JSON of unknown source does not.
    #[test]
    fn text_logs_imply_their_logsources() {
        let implied = |json: &str| {
            let event = json::JsonEvent::parse(json).unwrap();
            implied_logsources(&event).map(<[vigil_detect::Logsource]>::to_vec)
        };
        let plain =
            batch::plain_line(b"2026-12-03 22:15:10 started", &time::LocalZone::UTC).to_json_text();
        assert_eq!(
            implied(&plain),
            Some(vec![vigil_detect::Logsource::default()]),
            "other text: only the rules naming no logsource"
        );
        let request =
            access::parse(br#"1.2.3.4 - - [03/Dec/2026:22:15:10 +0000] "GET / HTTP/1.1" 200 1"#)
                .unwrap()
                .to_json_text();
        assert_eq!(
            implied(&request).unwrap()[0].category.as_deref(),
            Some("webserver")
        );
        assert_eq!(implied(r#"{"message": "login failed"}"#), None);
        assert_eq!(
            implied(r#"{"Event": {"System": {"EventID": 4625}}, "text_log_format": "plain"}"#),
            None,
            "a Windows record is read through the Windows mapping"
        );
    }
}
