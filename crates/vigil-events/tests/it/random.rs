//! No input panics: random bytes, and mutations of real messages, through the syslog,
//! access-log, error-log and W3C parsers,
//! the framer and the batch decoders; damaged copies of real EVTX files through the EVTX
//! decoder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vigil_events::batch::{self, BodyFormat};
use vigil_events::syslog::{self, Framer, SyslogOptions};
use vigil_events::{Format, RecordSource, collect_files};

use vigil_testkit::Rng;

const SEEDS: &[&[u8]] = &[
    b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"] \xef\xbb\xbfmsg",
    b"<189>52: *Mar  1 00:13:44.123 UTC: %SYS-5-CONFIG_I: Configured from console by console",
    b"<166>Nov 21 2026 09:15:02 fw01 : %ASA-6-302013: Built outbound",
    b"2026-11-22T10:00:00.123+0100 myhost systemd[1]: Started",
    b"<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% x",
    b"<0>1990 Oct 22 10:52:01 TZ-6 scapegoat sched[0]: That's All Folks!",
    b"[{\"a\":1},{\"b\":[1,2,{\"c\":\"\\u00e9\"}]}]\n{\"x\":1}\n",
    b"www.example:443 203.0.113.9 - bob [10/Oct/2026:13:55:36 -0700] \"GET /a?b=\\x22c HTTP/1.1\" 200 2326 \"-\" \"curl \\\"8\\\"\" 0.012",
    b"<190>Dec  3 22:15:10 web-1 nginx: 1.2.3.4 - - [03/Dec/2026:22:15:10 +0000] \"\\x16\\x03\" 400 - \"-\" \"-\"",
    b"[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187:50110] AH00128: x",
    b"2026/12/03 22:15:11 [error] 88#88: *9 open() failed, client: 203.0.113.5, server: s",
    b"#Fields: date time c-ip cs(User-Agent) sc-status\n2026-12-03 22:15:10 1.2.3.4 a+b 200\n",
    "2026-12-03 22:15:10,123 WARN d\u{e9}j\u{e0} vu".as_bytes(),
];

const ALPHABET: &[u8] = b"<>0123456789 -:.[]\"=\\TZ+\n\r\0{}JanFebOct@%*";

fn exercise(input: &[u8], rng: &mut Rng) {
    let reference = (rng.next_u64() as i64) >> rng.below(64);
    let zone = [
        "UTC",
        "Europe/Berlin",
        "America/St_Johns",
        "Asia/Kathmandu",
        "-09:30",
    ][rng.below(5)];
    let zone = vigil_events::time::LocalZone::parse(zone).unwrap();
    let options = SyslogOptions::new(reference).in_zone(zone.clone());
    if let Ok(m) = syslog::parse(input, &options) {
        let _ = m.to_json();
        let _ = m.timestamp_ms();
    }
    let mut framer = Framer::new(1 + rng.below(64));
    for chunk in input.chunks(1 + rng.below(16)) {
        framer.extend(chunk);
        while framer.next_frame().is_some() {}
    }
    let _ = framer.finish();
    for format in [
        BodyFormat::JsonLines,
        BodyFormat::JsonArray,
        BodyFormat::Sniff,
    ] {
        let _ = batch::decode_body(input, format, 1 + rng.below(512));
    }
    let _ = batch::decode_syslog(input, options, 1 + rng.below(512));
    let _ = batch::looks_like_syslog(input);
    if let Ok(request) = vigil_events::access::parse(input) {
        let _ = request.to_json_text();
    }
    let _ = vigil_events::access::looks_like_access_log(input);
    if let Ok(line) = vigil_events::error_log::parse(input, &zone) {
        let _ = line.to_json_text();
    }
    // Audit records: random bytes rarely start as one, so also after a record's header; the
    // names of their pairs are written as JSON keys unescaped, so the JSON must read back.
    let mut record = b"node=h\x1d type=SYSCALL msg=audit(1700000000.123:4567): ".to_vec();
    record.extend_from_slice(input);
    let mut user = b"type=USER_AUTH msg=audit(1.5:9): pid=1 msg='op=x ".to_vec();
    user.extend_from_slice(input);
    for line in [input, &record[..], &record[8..], &user[..]] {
        if let Ok(parsed) = vigil_events::auditd::parse(line) {
            let json = parsed.to_json_text();
            assert!(
                serde_json::from_str::<serde_json::Value>(&json).is_ok(),
                "{json}"
            );
        }
        let _ = vigil_events::auditd::looks_like_auditd(line);
    }
    let _ = vigil_events::w3c::looks_like_w3c(input);
    let _ = vigil_events::w3c::last_directive_fields(input);
    let _ = vigil_events::batch::plain_line(input, &zone).to_json_text();
    let fields =
        vigil_events::w3c::directive_fields(b"#Fields: date time c-ip cs(User-Agent) sc-status");
    let _ = vigil_events::w3c::to_json_text(input, fields.as_deref().unwrap_or_default());
    let _ = vigil_events::batch::text_log_lines(
        input,
        vigil_events::LineFormat::W3c(None),
        1 + rng.below(512),
    )
    .count();
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng::new(42);
    for _ in 0..20_000 {
        let len = rng.below(200);
        let input: Vec<u8> = (0..len)
            .map(|_| {
                if rng.below(2) == 0 {
                    rng.below(256) as u8
                } else {
                    ALPHABET[rng.below(ALPHABET.len())]
                }
            })
            .collect();
        exercise(&input, &mut rng);
    }
}

#[test]
fn mutated_real_messages_never_panic() {
    let mut rng = Rng::new(5424);
    for i in 0..20_000 {
        let input = rng.mutate(SEEDS[i % SEEDS.len()], ALPHABET);
        exercise(&input, &mut rng);
    }
}

#[test]
fn damaged_evtx_records_are_reported_on_one_line_each() {
    // Damaged copies of real files (bytes overwritten at random places past the file header,
    // as a bad disk or a partial copy leaves them): decoding never panics, and every error is
    // one printable line naming what is damaged, whatever bytes the damaged record holds.
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/evtx");
    let files = collect_files(&[PathBuf::from(&data)])
        .expect("the shared EVTX samples")
        .files;
    let mut rng = Rng::new(4096);
    let (mut errors, mut events) = (0, 0);
    for file in files
        .iter()
        .filter(|f| f.path.extension().is_some_and(|e| e == "evtx"))
        .take(40)
    {
        let original = std::fs::read(&file.path).expect("a sample");
        for _ in 0..8 {
            let mut damaged = original.clone();
            for _ in 0..1 + rng.below(40) {
                let at = 4096 + rng.below(damaged.len() - 4096);
                damaged[at] = rng.below(256) as u8;
            }
            let Ok(src) = RecordSource::new(Arc::from(Path::new("d.evtx")), Format::Evtx, damaged)
            else {
                errors += 1;
                continue;
            };
            for record in src {
                match record {
                    Ok(_) => events += 1,
                    Err(e) => {
                        errors += 1;
                        let text = e.to_string();
                        assert!(
                            !text.chars().any(char::is_control),
                            "one printable line: {text:?}"
                        );
                    }
                }
            }
        }
    }
    assert!(errors > 0 && events > 0, "{errors} errors, {events} events");
}
