//! Batch decoding: HTTP bodies with good and bad events mixed, and the real syslog files in
//! `../shared/data/logs`.

use std::path::Path;

use vigil_detect::Event as _;
use vigil_events::batch::{self, BodyFormat, Position, RejectReason};
use vigil_events::syslog::SyslogOptions;
use vigil_events::time::LocalZone;

use crate::syslog::NOW;

const MAX: usize = 1024;

#[test]
fn json_lines_keep_going_after_bad_lines() {
    let body = b"{\"a\":1}\n[1,2]\n\n{\"a\":\r\n\"str\"\n{\"a\": 2}\r\n{\"a\":1} trailing\n";
    let out = batch::decode_body(body, BodyFormat::JsonLines, MAX);
    let accepted: Vec<_> = out
        .accepted
        .iter()
        .map(|a| (a.position, &body[a.span.clone()]))
        .collect();
    assert_eq!(
        accepted,
        vec![
            (Position::Line(1), &b"{\"a\":1}"[..]),
            (Position::Line(6), &b"{\"a\": 2}"[..]),
        ]
    );
    let rejected: Vec<_> = out
        .rejected
        .iter()
        .map(|r| (r.position, r.reason.clone()))
        .collect();
    assert_eq!(rejected.len(), 4, "{rejected:?}");
    assert_eq!(
        rejected[0],
        (
            Position::Line(2),
            RejectReason::NotAnObject { found: "an array" }
        )
    );
    assert!(matches!(
        rejected[1],
        (
            Position::Line(4),
            RejectReason::InvalidJson { column: 6, .. }
        )
    ));
    assert_eq!(
        rejected[2],
        (
            Position::Line(5),
            RejectReason::NotAnObject { found: "a string" }
        )
    );
    assert!(matches!(
        rejected[3],
        (
            Position::Line(7),
            RejectReason::InvalidJson { column: 9, .. }
        )
    ));
    // One line naming the column once; the parser's quote of the raw bytes is left out.
    let text = out.rejected[1].to_string();
    assert!(
        text.starts_with("line 4: invalid JSON at column 6"),
        "{text}"
    );
    assert!(
        !text.contains('\n') && !text.contains(" at line "),
        "{text}"
    );
}

#[test]
fn too_large_events_are_rejected_unread() {
    let big = format!("{{\"a\":\"{}\"}}", "x".repeat(100));
    let body = format!("{big}\n{{\"ok\":true}}");
    let out = batch::decode_body(body.as_bytes(), BodyFormat::Sniff, 64);
    assert_eq!(out.accepted.len(), 1);
    assert_eq!(
        out.rejected[0].reason,
        RejectReason::TooLarge {
            size: big.len(),
            max: 64
        }
    );
    assert!(
        out.rejected[0]
            .to_string()
            .contains("split it into smaller events")
    );
}

#[test]
fn arrays_reject_elements_by_index() {
    let body = br#"  [{"a":1}, 2, null, {"a":3}, "s"]"#;
    for format in [BodyFormat::JsonArray, BodyFormat::Sniff] {
        let out = batch::decode_body(body, format, MAX);
        let positions: Vec<_> = out.accepted.iter().map(|a| a.position).collect();
        assert_eq!(positions, vec![Position::Index(0), Position::Index(3)]);
        assert_eq!(&body[out.accepted[1].span.clone()], br#"{"a":3}"#);
        let mut seen = Vec::new();
        out.accepted[1]
            .event
            .field_values("a", &mut |v| seen.push(format!("{v:?}")));
        assert_eq!(seen, vec!["Int(3)"]);
        let rejected: Vec<_> = out
            .rejected
            .iter()
            .map(|r| (r.position, r.reason.clone()))
            .collect();
        assert_eq!(
            rejected,
            vec![
                (
                    Position::Index(1),
                    RejectReason::NotAnObject { found: "a number" }
                ),
                (
                    Position::Index(2),
                    RejectReason::NotAnObject { found: "null" }
                ),
                (
                    Position::Index(4),
                    RejectReason::NotAnObject { found: "a string" }
                ),
            ]
        );
    }
}

#[test]
fn a_broken_array_keeps_every_element_it_can_delimit() {
    let decode = |body: &str| batch::decode_body(body.as_bytes(), BodyFormat::JsonArray, MAX);
    // A comma left out: the elements are still told apart.
    let out = decode("[{\"a\":1},\n {\"a\":2} {\"a\":3}]");
    assert_eq!(out.accepted.len(), 3, "{:?}", out.rejected);
    assert!(out.rejected.is_empty());
    // A broken element costs only itself; the ones after it are read.
    let out = decode("[{\"a\":1}, {\"a\":tru}, {\"b\":\"x,y]\"}]");
    let indexes = |out: &batch::Batch<_>| -> (Vec<Position>, Vec<Position>) {
        (
            out.accepted.iter().map(|a| a.position).collect(),
            out.rejected.iter().map(|r| r.position).collect(),
        )
    };
    assert_eq!(
        indexes(&out),
        (
            vec![Position::Index(0), Position::Index(2)],
            vec![Position::Index(1)]
        )
    );
    // An array never closed: what it holds, then where it broke.
    let out = decode("[{\"a\":1},\n{\"a\":2}");
    assert_eq!(out.accepted.len(), 2);
    let r = &out.rejected[0];
    assert_eq!(r.position, Position::Index(2));
    assert!(
        matches!(r.reason, RejectReason::InvalidArray { line: 2, .. }),
        "{r}"
    );
    // Text after the array: its elements are read, the text named.
    for body in [
        "[{\"a\":1}] garbage",
        "[{\"a\":1}, {\"a\":tru}]\n[{\"b\":2}]",
    ] {
        let out = decode(body);
        assert_eq!(out.accepted.len(), 1, "{body}");
        assert!(
            out.rejected
                .iter()
                .any(|r| matches!(r.reason, RejectReason::AfterArray { .. })),
            "{body}: {:?}",
            out.rejected
        );
    }
    assert!(decode("[{\"a\":1}]  \n").rejected.is_empty());
    // Not an array at all.
    let out = batch::decode_body(b"{\"a\":1}", BodyFormat::JsonArray, MAX);
    assert!(out.accepted.is_empty());
    assert!(matches!(
        out.rejected[0].reason,
        RejectReason::InvalidArray { .. }
    ));
}

#[test]
fn sniffing_reads_a_pretty_printed_object_and_empty_bodies() {
    let body = b"\xef\xbb\xbf{\n  \"user\": \"alice\",\n  \"n\": 1\n}\n";
    let out = batch::decode_body(body, BodyFormat::Sniff, MAX);
    assert_eq!(out.accepted.len(), 1, "{:?}", out.rejected);
    assert!(out.rejected.is_empty());
    for format in [
        BodyFormat::JsonLines,
        BodyFormat::JsonArray,
        BodyFormat::Sniff,
    ] {
        let out = batch::decode_body(b" \n\r\n", format, MAX);
        assert!(out.accepted.is_empty() && out.rejected.is_empty());
    }
}

/// A `text/plain` body is read in the format of its first line: an nginx access log, syslog,
/// an IIS log (its directives no events) or, failing those, a message per line.
#[test]
fn text_bodies_are_read_in_the_format_of_their_first_line() {
    assert_eq!(
        BodyFormat::from_content_type(Some("text/plain; charset=utf-8")),
        BodyFormat::Text(LocalZone::UTC)
    );
    let field = |batch: &vigil_events::Batch<vigil_events::json::JsonEvent>,
                 i: usize,
                 name: &str| { batch.accepted[i].event.lookup_text(name) };
    let access = batch::decode_body(
        b"203.0.113.9 - - [03/Dec/2026:22:15:10 +0000] \"GET /a?x=1 HTTP/1.1\" 200 5 \"-\" \"curl\"\nnot a request\n",
        BodyFormat::Text(LocalZone::UTC),
        MAX,
    );
    assert_eq!(field(&access, 0, "cs-uri-query").as_deref(), Some("x=1"));
    assert_eq!(access.rejected.len(), 1);
    assert_eq!(access.rejected[0].position, Position::Line(2));
    let syslog = batch::decode_body(
        b"<38>Dec  3 22:15:10 bastion sshd[42]: Failed password for root\n",
        BodyFormat::Text(LocalZone::UTC),
        MAX,
    );
    assert_eq!(field(&syslog, 0, "app_name").as_deref(), Some("sshd"));
    let iis = batch::decode_body(
        b"#Software: Microsoft Internet Information Services 10.0\n#Fields: date time c-ip sc-status\n2026-12-03 22:15:10 203.0.113.9 404\n",
        BodyFormat::Text(LocalZone::UTC),
        MAX,
    );
    assert_eq!(iis.accepted.len(), 1);
    assert_eq!(iis.accepted[0].position, Position::Line(3));
    assert_eq!(field(&iis, 0, "sc-status").as_deref(), Some("404"));
    let plain = batch::decode_body(
        b"2026-12-03 22:15:10,123 WARN upload of cmd.jsp\njust words\n",
        BodyFormat::Text(LocalZone::UTC),
        MAX,
    );
    assert_eq!(plain.accepted.len(), 2);
    assert_eq!(field(&plain, 1, "message").as_deref(), Some("just words"));
    assert_eq!(
        plain.accepted[0].event.timestamp(),
        vigil_events::time::parse_timestamp("2026-12-03T22:15:10.123Z")
    );
}

/// A text body's times written without an offset are read in the zone the sender names, each
/// with the offset of its own date; times with an offset stay as written.
#[test]
fn text_bodies_read_local_times_in_the_zone_named() {
    let berlin = BodyFormat::Text(LocalZone::parse("Europe/Berlin").unwrap());
    let time = |body: &[u8]| {
        let batch = batch::decode_body(body, berlin.clone(), MAX);
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        batch.accepted[0]
            .event
            .timestamp()
            .map(vigil_events::time::format_timestamp)
    };
    let utc = |t: &str| Some(t.to_owned());
    assert_eq!(
        time(b"<38>2026-07-03 22:15:10 bastion sshd[42]: Failed password for root\n"),
        utc("2026-07-03T20:15:10.000Z")
    );
    assert_eq!(
        time(b"2026/12/03 22:15:10 [alert] 1#1: worker process 1234 exited\n"),
        utc("2026-12-03T21:15:10.000Z")
    );
    assert_eq!(
        time(b"2026-12-03 22:15:10,123 WARN upload of cmd.jsp\n"),
        utc("2026-12-03T21:15:10.123Z")
    );
    assert_eq!(
        time(b"203.0.113.9 - - [03/Dec/2026:22:15:10 -0500] \"GET / HTTP/1.1\" 200 5\n"),
        utc("2026-12-04T03:15:10.000Z")
    );
}

#[test]
fn syslog_text_reports_bad_lines_by_number() {
    let text =
        b"<13>Nov 22 10:00:00 h sshd[1]: ok\n<999>bad\n\n<14>1 - h a p m [x m\nplain text line\n";
    let out = batch::decode_syslog(text, SyslogOptions::new(NOW), MAX);
    let accepted: Vec<_> = out.accepted.iter().map(|a| a.position).collect();
    assert_eq!(accepted, vec![Position::Line(1), Position::Line(5)]);
    let rejected: Vec<_> = out.rejected.iter().map(|r| r.to_string()).collect();
    assert_eq!(rejected.len(), 2);
    assert!(
        rejected[0].starts_with("line 2: priority at byte 1: priority 999 is out of range"),
        "{rejected:?}"
    );
    assert!(
        rejected[1].starts_with("line 4: structured_data"),
        "{rejected:?}"
    );
}

fn shared_log(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/logs")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn real_syslog_files_parse_whole() {
    for (file, host) in [
        ("OpenSSH/OpenSSH_2k.log", "LabSZ"),
        ("Linux/Linux_2k.log", "combo"),
        ("Mac/Mac_2k.log", ""),
    ] {
        let data = shared_log(file);
        assert!(batch::looks_like_syslog(&data), "{file}");
        let out = batch::decode_syslog(&data, SyslogOptions::new(NOW), 64 * 1024);
        assert!(out.rejected.is_empty(), "{file}: {:?}", &out.rejected[..1]);
        assert_eq!(out.accepted.len(), 2000, "{file}");
        for a in &out.accepted {
            let m = &a.event;
            assert!(m.timestamp.is_some(), "{file} {}", a.position);
            if !host.is_empty() {
                assert_eq!(m.hostname.as_deref(), Some(host), "{file} {}", a.position);
            }
        }
        let tagged = out
            .accepted
            .iter()
            .filter(|a| a.event.app_name.is_some())
            .count();
        assert!(
            tagged * 100 >= 95 * out.accepted.len(),
            "{file}: {tagged} tagged"
        );
    }
    let ssh = shared_log("OpenSSH/OpenSSH_2k.log");
    let out = batch::decode_syslog(&ssh, SyslogOptions::new(NOW), 64 * 1024);
    assert!(
        out.accepted
            .iter()
            .all(|a| a.event.app_name.as_deref() == Some("sshd"))
    );
    assert!(!batch::looks_like_syslog(b"{\"a\":1}\n"));
    assert!(!batch::looks_like_syslog(b"# README\n"));
}

/// The JSON text written straight from a message holds every part of the parse, for every
/// line of the real syslog files and for the hard cases: structured data with a repeated
/// parameter and escapes, control characters, Unicode, a JSON body and one that is not.
#[test]
fn syslog_json_text_holds_the_parsed_message() {
    let crafted = "\
<165>1 2026-01-15T08:30:00.123+01:00 db1 postgres 991 ID47 [meta env=\"prod\" tag=\"a\" tag=\"b\\\"q\\]\"][x@1 k=\"v\"] said \"hi\"\\path\ttab
<14>1 - - - - - - \u{1F600} caf\u{e9} \u{1} bell
<13>Jan 10 10:05:00 host app[1]: @cee: {\"user\":\"alice\",\"n\":[1,2.5,null,true]}
<13>1 2026-01-15T09:00:00Z h a - - [origin ip=\"203.0.113.7\"] {\"not\": json
Jan 10 10:05:00 host CRON[7]: (root) CMD (x)
";
    let mut texts: Vec<Vec<u8>> = vec![crafted.as_bytes().to_vec()];
    for file in [
        "OpenSSH/OpenSSH_2k.log",
        "Linux/Linux_2k.log",
        "Mac/Mac_2k.log",
    ] {
        texts.push(shared_log(file));
    }
    let mut compared = 0;
    for data in &texts {
        let out = batch::decode_syslog(data, SyslogOptions::new(NOW), 64 * 1024);
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        for a in &out.accepted {
            let text = a.event.to_json_text();
            let parsed: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("line {}: {e}: {text}", a.position));
            let m = &a.event;
            let at = a.position;
            assert_eq!(parsed, expected_event(m), "line {at}: {text}");
            compared += 1;
        }
    }
    assert_eq!(compared, 6005);
}

/// The event a syslog message should be, built here from its parts, key by key as the module
/// documentation of `vigil_events::syslog` lists them.
fn expected_event(m: &vigil_events::SyslogMessage<'_>) -> serde_json::Value {
    use serde_json::{Map, Value, json};
    let mut e = Map::new();
    e.insert("syslog_format".into(), json!(m.format.as_str()));
    if let Some(p) = m.priority {
        e.insert("priority".into(), json!(p.value()));
        e.insert("facility".into(), json!(p.facility_name()));
        e.insert("facility_code".into(), json!(p.facility));
        e.insert("severity".into(), json!(p.severity_name()));
        e.insert("severity_code".into(), json!(p.severity));
    }
    if let Some(v) = m.version {
        e.insert("version".into(), json!(v));
    }
    if let Some(t) = &m.timestamp {
        e.insert("timestamp".into(), json!(t.to_rfc3339()));
    }
    for (key, value) in [
        ("hostname", &m.hostname),
        ("app_name", &m.app_name),
        ("procid", &m.procid),
        ("msgid", &m.msgid),
    ] {
        if let Some(v) = value {
            e.insert(key.into(), json!(v));
        }
    }
    if let Some(n) = m.sequence {
        e.insert("sequence".into(), json!(n));
    }
    if !m.structured_data.is_empty() {
        let mut sd = Map::new();
        for element in &m.structured_data {
            let mut params: Map<String, Value> = Map::new();
            for (name, value) in &element.params {
                match params.get_mut(name.as_ref()) {
                    Some(Value::Array(values)) => values.push(json!(value)),
                    Some(first) => *first = json!([first.take(), value]),
                    None => {
                        params.insert(name.to_string(), json!(value));
                    }
                }
            }
            sd.insert(element.id.to_string(), Value::Object(params));
        }
        e.insert("structured_data".into(), Value::Object(sd));
    }
    e.insert("message".into(), json!(m.message));
    if let Some(j) = m.message_json() {
        e.insert("message_json".into(), j);
    }
    Value::Object(e)
}
