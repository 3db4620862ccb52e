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

/// rsyslog's RFC 5424 forward template (`RSYSLOG_SyslogProtocol23Format`) writes
/// `… %STRUCTURED-DATA% %msg%`, and for a message that reached it as RFC 3164 (what local
/// programs write) `msg` keeps the space that followed the tag: two spaces after the SD. Each
/// case: the priority, the program, the text after the tag's colon as the program wrote it
/// (space included), and what the event must show. The forwarded line gives the event the
/// line sent straight as RFC 5424 gives, and the message-derived fields the RFC 3164 line (as
/// rsyslog's file holds it) gives.
#[test]
fn a_line_forwarded_by_rsyslog_is_the_line_sent_directly() {
    type Check = fn(&Value, &str);
    let cases: [(u8, &str, &str, Check); 8] = [
        (
            38,
            "sshd",
            " Failed password for root from 203.0.113.9 port 22 ssh2",
            |e, n| {
                assert!(
                    e["message"]
                        .as_str()
                        .unwrap()
                        .starts_with("Failed password"),
                    "{n}: {e}"
                )
            },
        ),
        (
            14,
            "audisp-syslog",
            r#" type=SYSCALL msg=audit(1769940000.123:456): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=4242 auid=1000 uid=0 comm="bash" exe="/usr/bin/bash" key="susp_activity""#,
            |e, n| {
                assert_eq!(e["audit_log_format"], "auditd", "{n}: {e}");
                assert_eq!(e["key"], "susp_activity", "{n}: {e}");
            },
        ),
        (
            78,
            "CRON",
            " pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
            |e, n| {
                assert!(
                    e["message"].as_str().unwrap().starts_with("pam_unix("),
                    "{n}: {e}"
                )
            },
        ),
        (
            190,
            "nginx",
            r#" 203.0.113.9 - - [01/Feb/2026:10:00:00 +0000] "GET /admin HTTP/1.1" 404 153 "-" "curl/8.5""#,
            |e, n| {
                assert_eq!(e["access_log_format"], "combined", "{n}: {e}");
                assert_eq!(e["c-ip"], "203.0.113.9", "{n}: {e}");
                assert!(e.get("cs-host").is_none(), "{n}: {e}");
            },
        ),
        (13, "app", " \u{feff}bom text", |e, n| {
            assert_eq!(e["message"], "bom text", "{n}: {e}")
        }),
        // Spaces after the BOM are not the text either.
        (13, "app", " \u{feff}  pam_unix(cron:session): x", |e, n| {
            assert_eq!(e["message"], "pam_unix(cron:session): x", "{n}: {e}")
        }),
        // No space after the tag: none after the SD but the separator.
        (13, "app", "tight", |e, n| {
            assert_eq!(e["message"], "tight", "{n}: {e}")
        }),
        // sudo pads its user name: spaces, however many, are not the text.
        (
            85,
            "sudo",
            "    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/id",
            |e, n| {
                assert_eq!(
                    e["message"],
                    "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/id",
                    "{n}: {e}"
                )
            },
        ),
    ];
    let options = SyslogOptions::new(NOW);
    let event = |line: &str| syslog::parse(line.as_bytes(), &options).unwrap().to_json();
    let implied = |e: &Value| {
        let json = vigil_events::json::JsonEvent::parse(&e.to_string()).unwrap();
        vigil_events::implied_logsources(&json).map(<[_]>::to_vec)
    };
    for (pri, app, after_tag, check) in cases {
        let head = format!("<{pri}>1 2026-02-01T10:00:00Z host1 {app} 4242 - -");
        // What logger --rfc5424 sends: the message alone after the separating space.
        let direct = event(&format!(
            "{head} {}",
            after_tag.strip_prefix(' ').unwrap_or(after_tag)
        ));
        let forwarded = event(&format!("{head} {after_tag}"));
        assert_eq!(forwarded, direct, "{app}");
        check(&forwarded, app);
        assert_eq!(implied(&forwarded), implied(&direct), "{app}");
        // The same line in rsyslog's file (RFC 3164, `%syslogtag%%msg:::sp-if-no-1st-sp%%msg%`):
        // the same message and what it is read as.
        let space = if after_tag.starts_with(' ') { "" } else { " " };
        let mut file = event(&format!(
            "<{pri}>Feb  1 10:00:00 host1 {app}[4242]:{space}{after_tag}"
        ));
        let mut forwarded = forwarded;
        for e in [&mut file, &mut forwarded] {
            let e = e.as_object_mut().unwrap();
            e.remove("syslog_format");
            e.remove("version");
        }
        assert_eq!(forwarded, file, "{app}");
    }
    // CRON's PAM line with the cron facility is of the authentication log.
    let pam = event(
        "<78>1 2026-02-01T10:00:00Z host1 CRON 4242 - -  pam_unix(cron:session): session closed for user root",
    );
    let services: Vec<_> = implied(&pam)
        .unwrap()
        .iter()
        .filter_map(|s| s.service.clone())
        .collect();
    assert!(services.iter().any(|s| s == "auth"), "{services:?}");
}
