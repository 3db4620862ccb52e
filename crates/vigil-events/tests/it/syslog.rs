//! The syslog parser against the fixture table `tests/syslog/cases.jsonl`: RFC 5424 and RFC 3164
//! examples and real-world lines (rsyslog, journald, sshd, Cisco, macOS) with the exact event
//! each must give, and malformed messages with the exact error each must give.

use std::path::Path;

use serde_json::Value;
use vigil_events::syslog::{self, SyslogError, SyslogFormat, SyslogOptions};

/// 2026-11-22T12:00:00Z: the reference time the fixtures' years are resolved against.
pub const NOW: i64 = 1_795_348_800_000;

fn cases() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/syslog/cases.jsonl");
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn fixture_table() {
    let options = SyslogOptions::new(NOW);
    let cases = cases();
    assert!(cases.len() >= 50);
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let input = case["input"].as_str().unwrap();
        let got = syslog::parse(input.as_bytes(), &options);
        match (&got, case.get("event"), case.get("error")) {
            (Ok(m), Some(expected), None) => {
                let event = m.to_json();
                if &event != expected {
                    failures.push(format!(
                        "{name}:\n  got      {event}\n  expected {expected}"
                    ));
                }
                // Every event's timestamp is one time.rs reads back to the same instant.
                if let Some(t) = event.get("timestamp").and_then(Value::as_str) {
                    assert_eq!(
                        vigil_events::time::parse_timestamp(t),
                        m.timestamp_ms(),
                        "{name}"
                    );
                }
            }
            (Err(e), None, Some(expected)) => {
                let text = e.to_string();
                if !text.starts_with(expected.as_str().unwrap()) {
                    failures.push(format!("{name}:\n  got      {text}\n  expected {expected}"));
                }
            }
            _ => failures.push(format!("{name}: got {got:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn formats_and_timestamps_in_milliseconds() {
    let options = SyslogOptions::new(NOW);
    let m = syslog::parse(
        b"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - x",
        &options,
    )
    .unwrap();
    assert_eq!(m.format, SyslogFormat::Rfc5424);
    assert_eq!(m.timestamp_ms(), Some(1_061_727_255_000));
    let m = syslog::parse(b"<34>Oct 11 22:14:15 mymachine su: x\r\n", &options).unwrap();
    assert_eq!(m.format, SyslogFormat::Rfc3164);
    assert_eq!(m.message, "x");
    assert_eq!(m.timestamp_ms(), Some(1_791_756_855_000));
}

#[test]
fn invalid_utf8_is_replaced_not_rejected() {
    let options = SyslogOptions::new(NOW);
    let m = syslog::parse(b"<14>Nov 22 10:00:00 h\xff app: caf\xe9", &options).unwrap();
    assert_eq!(m.hostname.as_deref(), Some("h\u{fffd}"));
    assert_eq!(m.message, "caf\u{fffd}");
    let m = syslog::parse(b"<14>1 - h a - - [x v=\"\xff\"] \xef\xbb\xbf\xfe", &options).unwrap();
    assert_eq!(m.to_json()["structured_data"]["x"]["v"], "\u{fffd}");
    assert_eq!(m.message, "\u{fffd}");
}

#[test]
fn errors_are_typed_with_field_and_offset() {
    let options = SyslogOptions::new(NOW);
    let err = syslog::parse(b"<14>1 - h a p m [x a=1] m", &options).unwrap_err();
    assert!(matches!(
        err,
        SyslogError::Invalid {
            field: syslog::Field::StructuredData,
            offset: 21,
            ..
        }
    ));
    assert!(
        err.to_string().contains("RFC 5424"),
        "says what to do: {err}"
    );
}

#[test]
fn udp_datagrams_are_one_message_each() {
    // A datagram is parsed as it arrives, trailing newline and NUL included.
    let options = SyslogOptions::new(NOW);
    let m = syslog::parse(b"<13>Nov 22 10:00:00 h app: one\n\0", &options).unwrap();
    assert_eq!(m.message, "one");
    let m = syslog::parse(b"<13>Nov 22 10:00:00 h app: one\ntwo", &options).unwrap();
    assert_eq!(
        m.message, "one\ntwo",
        "a datagram is never split into lines"
    );
}
