//! Every query form, run against the sample events: a table of query → the events found,
//! newest first.

use crate::support::{names, sample_store};

const CASES: &[(&str, &[&str])] = &[
    ("*", &["e5", "e4", "e3", "e2", "e1"]),
    ("", &["e5", "e4", "e3", "e2", "e1"]),
    ("user.name:alice", &["e1"]),
    ("user.name:ALICE", &["e1"]),
    ("user.name:adm*", &["e3", "e2"]),
    ("user.name:?lice", &["e1"]),
    ("user.name:(alice OR bob)", &["e5", "e1"]),
    ("powershell", &["e3"]),
    ("PowerShell", &["e3"]),
    ("power*", &["e3"]),
    ("\"powershell -enc\"", &["e3"]),
    ("\"failed password\"", &["e1"]),
    ("\"password failed\"", &[]),
    ("password", &["e2", "e1"]),
    // A value of one word is found by free text too (under its path, not among the words).
    ("administrator", &["e3"]),
    ("ALICE", &["e1"]),
    ("4625", &["e1"]),
    ("4700", &["e4"]),
    ("adm*", &["e3", "e2"]),
    ("10.0.0.5", &["e4", "e1"]),
    ("src_ip:10.0.0.5", &["e4", "e1"]),
    ("message:\"report exported\"", &["e5"]),
    ("message:*password*", &["e2", "e1"]),
    ("service:payroll", &["e5", "e3"]),
    ("host:web-1", &["e1"]),
    ("host:web*", &["e2", "e1"]),
    ("tenant:contoso", &["e4", "e2", "e1"]),
    ("password AND NOT user.name:admin", &["e1"]),
    ("password NOT user.name:admin", &["e1"]),
    ("user.name:alice OR service:vpn", &["e4", "e1"]),
    (
        "(service:auth OR service:vpn) src_ip:10.0.0.5",
        &["e4", "e1"],
    ),
    ("NOT service:auth", &["e5", "e4", "e3"]),
    ("bytes:[100 TO 500]", &["e2", "e1"]),
    ("bytes:{120 TO 480]", &["e2"]),
    ("bytes:>1000", &["e5"]),
    ("bytes:<=50", &["e4"]),
    ("score:[0.5 TO 1]", &["e3"]),
    ("Event.System.EventID:4625", &["e1"]),
    ("Event.System.EventID:4700", &["e4"]),
    // e4 writes its EventID as text ("4700"): a number all the same.
    ("Event.System.EventID:>=4624", &["e4", "e2", "e1"]),
    ("exists:user.name", &["e5", "e3", "e2", "e1"]),
    ("user:*", &["e5", "e3", "e2", "e1"]),
    ("NOT exists:user", &["e4"]),
    ("exists:score", &["e3"]),
    ("exists:tenant", &["e4", "e3", "e2", "e1"]),
    (
        "time:[2026-03-01T12:02:00Z TO 2026-03-01T12:04:00Z]",
        &["e4", "e3", "e2"],
    ),
    (
        "time:{2026-03-01T12:02:00Z TO 2026-03-01T12:04:00Z}",
        &["e3"],
    ),
    ("time:>2026-03-01T12:03:00Z", &["e5", "e4"]),
    ("time:<now", &["e5", "e4", "e3", "e2", "e1"]),
    ("time:>now-1h", &[]),
    ("ts:[2026-01-01 TO 2026-01-02]", &["e5"]),
    (
        r"Image:C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
        &["e3"],
    ),
    (r"Image:*\\powershell.exe", &["e3"]),
    // Field-less wildcards match whole values of any field too, across word boundaries.
    (r"*\\powershell.exe", &["e3"]),
    (r"*\\windowspowershell\\*", &["e3"]),
    ("nosuchword", &[]),
];

#[test]
fn every_query_form_finds_the_right_events() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sample_store(dir.path());
    let mut failures = Vec::new();
    for (query, expected) in CASES {
        let found = names(&store, query);
        if found != *expected {
            failures.push(format!("{query:?}: expected {expected:?}, found {found:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// IPv6 networks find the addresses they hold as addresses are written (RFC 5952, and in
/// capitals too), in a field or as any whole value; a bare IPv6 address is a value, not a
/// field name before its first `:`.
#[test]
fn ipv6_networks_find_the_addresses_they_hold() {
    use crate::support::{event, open};
    use vigil_logs::EventStore;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let events = [
        r#"{"name":"a1","src_ip":"2001:db8::1"}"#,
        r#"{"name":"a2","src_ip":"2001:db8:0:1::5"}"#,
        r#"{"name":"a3","src_ip":"2001:DB8:abcd::7"}"#,
        r#"{"name":"a4","src_ip":"fe80::1c2a:3bff:fe4d:5e6f"}"#,
        r#"{"name":"a5","src_ip":"2001:db9::1"}"#,
        r#"{"name":"a6","peer":{"address":"febf:1::2"}}"#,
        r#"{"name":"a7","src_ip":"10.0.0.5","at":"10:30:00"}"#,
        r#"{"name":"a8","src_ip":"::1","message":"took 1 second"}"#,
        r#"{"name":"a9","message":"retried 1 time from 2001:db8::1 port 22"}"#,
    ];
    let batch = events
        .iter()
        .enumerate()
        .map(|(i, json)| event("net", "fw-1", "", i as i64, json))
        .collect();
    assert_eq!(store.append(batch).expect("append").stored.len(), 9);
    store.refresh().expect("refresh");
    let cases: &[(&str, &[&str])] = &[
        ("src_ip:2001:db8::/32", &["a3", "a2", "a1"]),
        ("2001:db8::/32", &["a3", "a2", "a1"]),
        ("src_ip:2001:db8::/48", &["a2", "a1"]),
        ("src_ip:2001:db8::/64", &["a1"]),
        ("src_ip:2001:db8:abcd::/48", &["a3"]),
        ("fe80::/10", &["a6", "a4"]),
        ("peer.address:fe80::/10", &["a6"]),
        ("src_ip:2001:db8::1/128", &["a1"]),
        ("src_ip:2001:db8::1", &["a1"]),
        // Free text: the whole value, or its words in a row inside a longer text.
        ("2001:db8::1", &["a9", "a1"]),
        // One word (`1`) would be everywhere: such an address is found whole only.
        ("::1", &["a8"]),
        ("src_ip:2001:db8::/16", &["a5", "a3", "a2", "a1"]),
        ("NOT 2001:db8::/32 AND src_ip:*", &["a8", "a7", "a5", "a4"]),
    ];
    let mut failures = Vec::new();
    for (query, expected) in cases {
        let found = crate::support::names(&store, query);
        if found != *expected {
            failures.push(format!("{query:?}: expected {expected:?}, found {found:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Where text cannot tell, the query is refused with the reason, not answered wrongly.
    let refused = vigil_query::parse("src_ip:2001:db8::/80").unwrap_err();
    assert!(
        matches!(refused, vigil_query::ParseError::UnsearchableNetwork { .. }),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("vigil hunt --search"),
        "{refused}"
    );
}

/// A store holding `batches` (each appended and refreshed on its own: a segment each), every
/// event named in its `name` field and a minute after the one before.
fn store_of(dir: &std::path::Path, batches: &[&[&str]]) -> vigil_logs::EmbeddedStore {
    use vigil_logs::EventStore;
    let store = crate::support::open(dir);
    let mut minute = 0;
    for batch in batches {
        let events = batch
            .iter()
            .map(|json| {
                minute += 1;
                crate::support::event("num", "h", "", minute, json)
            })
            .collect();
        store.append(events).expect("append");
        store.refresh().expect("refresh");
    }
    store
}

/// Each query of `cases` finds the events named, newest first.
fn check(store: &vigil_logs::EmbeddedStore, cases: &[(&str, &[&str])]) {
    let mut failures = Vec::new();
    for (query, expected) in cases {
        let found = crate::support::names(store, query);
        if found != *expected {
            failures.push(format!("{query:?}: expected {expected:?}, found {found:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Ranges compare numbers as numbers, exactly, whatever the column a segment keeps them in:
/// a decimal bound on integers is not rounded (`n:[1.6 TO 1.9]` found 2), a negative bound
/// finds no number beyond i64 (`b:<=-1` found 0 and 18446744073709551615), and integers beyond
/// 2^53 keep their value beside decimals (an f64 column made 9007199254740993 …992).
#[test]
fn ranges_and_values_compare_numbers_exactly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_of(
        dir.path(),
        &[
            &[
                r#"{"name":"n1","n":1}"#,
                r#"{"name":"n2","n":2}"#,
                r#"{"name":"n3","n":3}"#,
            ],
            // Integers beside a decimal: an f64 column.
            &[
                r#"{"name":"m1","m":1}"#,
                r#"{"name":"m2.5","m":2.5}"#,
                r#"{"name":"m3","m":3}"#,
            ],
            // Beyond i64 beside 0: a u64 column.
            &[
                r#"{"name":"b0","b":0}"#,
                r#"{"name":"b100","b":100}"#,
                r#"{"name":"bmax","b":18446744073709551615}"#,
                r#"{"name":"b2^63","b":9223372036854775808}"#,
            ],
            // Beyond 2^53 beside a decimal and a negative number, in two segments.
            &[
                r#"{"name":"id2^53+1","id":9007199254740993}"#,
                r#"{"name":"id1.5","id":1.5}"#,
                r#"{"name":"id-1","id":-1}"#,
                r#"{"name":"idmax","id":18446744073709551615}"#,
                r#"{"name":"idmin","id":-9223372036854775808}"#,
            ],
            &[
                r#"{"name":"idmax2","id":18446744073709551615}"#,
                r#"{"name":"text","s":"18446744073709551614","x":"9007199254740993"}"#,
            ],
        ],
    );
    check(
        &store,
        &[
            ("n:>=1.4", &["n3", "n2"]),
            ("n:>1.4", &["n3", "n2"]),
            ("n:[1.2 TO 2.4]", &["n2"]),
            ("n:<=2.6", &["n2", "n1"]),
            ("n:[1.6 TO 1.9]", &[]),
            ("n:{1 TO 2}", &[]),
            ("n:{1 TO 2]", &["n2"]),
            ("n:{0.5 TO 2.5}", &["n2", "n1"]),
            ("n:<-1e300", &[]),
            ("n:>1e300", &[]),
            ("n:[-1e300 TO 1e300]", &["n3", "n2", "n1"]),
            ("m:{0.5 TO 2.5}", &["m1"]),
            ("m:<2.5", &["m1"]),
            ("m:<=2.5", &["m2.5", "m1"]),
            ("m:>2.4999", &["m3", "m2.5"]),
            ("m:{1 TO 3}", &["m2.5"]),
            ("m:2.5", &["m2.5"]),
            ("m:3.0", &["m3"]),
            ("b:18446744073709551615", &["bmax"]),
            ("b:18446744073709551615.0", &["bmax"]),
            ("b:9223372036854775808", &["b2^63"]),
            ("b:100", &["b100"]),
            ("b:<0", &[]),
            ("b:<=-1", &[]),
            ("b:<=-1.5", &[]),
            ("b:[-5 TO -1]", &[]),
            ("b:[-5 TO 0]", &["b0"]),
            ("b:>1e19", &["bmax"]),
            ("b:>=9223372036854775808", &["b2^63", "bmax"]),
            ("b:[18446744073709551615 TO *]", &["bmax"]),
            ("b:>18446744073709551615", &[]),
            ("b:{99 TO 101}", &["b100"]),
            ("exists:b", &["b2^63", "bmax", "b100", "b0"]),
            ("id:>9007199254740992", &["idmax2", "idmax", "id2^53+1"]),
            ("id:[9007199254740993 TO 9007199254740993]", &["id2^53+1"]),
            ("id:9007199254740993", &["id2^53+1"]),
            ("id:9007199254740992", &[]),
            ("id:<0", &["idmin", "id-1"]),
            ("id:<-9223372036854775807", &["idmin"]),
            ("id:[1 TO 2]", &["id1.5"]),
            ("id:1.5", &["id1.5"]),
            // Free text finds the whole value in any field, numbers written as text too.
            ("18446744073709551615", &["idmax2", "idmax", "bmax"]),
            ("9007199254740993", &["text", "id2^53+1"]),
            (
                "s:[18446744073709551614 TO 18446744073709551614]",
                &["text"],
            ),
            ("s:>18446744073709551614", &[]),
        ],
    );
}

/// A time range on a JSON path finds the values that are times (RFC 3339, those beyond the
/// index's dates too), compared as times: other text is no time (`ts:>2026-01-01` found
/// "unknown", "N/A" and "20250101" by byte order). Text ends still compare text.
#[test]
fn a_time_range_finds_times_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_of(
        dir.path(),
        &[&[
            r#"{"name":"2025","ts":"2025-06-01T00:00:00Z"}"#,
            r#"{"name":"2026","ts":"2026-02-01T02:00:00+02:00"}"#,
            r#"{"name":"unknown","ts":"unknown"}"#,
            r#"{"name":"n/a","ts":"N/A"}"#,
            r#"{"name":"digits","ts":"20250101"}"#,
            r#"{"name":"dash","ts":"-"}"#,
            r#"{"name":"9999","ts":"9999-12-31T23:59:59Z"}"#,
            r#"{"name":"0001","ts":"0001-01-01T00:00:00z"}"#,
            r#"{"name":"day","ts":"2026-01-15"}"#,
        ]],
    );
    check(
        &store,
        &[
            ("ts:>2026-01-01", &["day", "9999", "2026"]),
            ("ts:[2026-01-01 TO *]", &["day", "9999", "2026"]),
            ("ts:>now-3650d", &["day", "9999", "2026", "2025"]),
            // A date alone is its midnight in UTC, as a bound written so is.
            ("ts:[2026-01-15 TO 2026-01-31]", &["day"]),
            ("ts:{2026-01-15 TO 2026-01-31]", &[]),
            ("ts:<2026-01-01", &["0001", "2025"]),
            (
                "ts:{2025-06-01T00:00:00Z TO 2026-02-01T00:00:00Z]",
                &["day", "2026"],
            ),
            ("ts:[0001-01-01 TO 1000-01-01]", &["0001"]),
            // Text ends compare text, in byte order.
            (r#"ts:["a" TO "z"]"#, &["unknown"]),
            (r#"ts:["2026-01-01" TO "2026-02-01"]"#, &["day"]),
        ],
    );
    let refused = vigil_logs::EventStore::search(
        &store,
        &vigil_logs::SearchRequest {
            query: vigil_query::parse(r#"ts:[2026-01-01 TO "z"]"#).unwrap(),
            range: vigil_logs::TimeRange::default(),
            limit: 10,
            cursor: None,
        },
    )
    .expect_err("a time and a text at the ends");
    assert!(refused.to_string().contains("mixes kinds"), "{refused}");
}

/// docs/query.md "Times in events": a whole RFC 3339 string is kept as a time (an instant,
/// found by the same instant in any zone, never by a wildcard); every other string, a date
/// alone or a time without an offset among them, is text, which a wildcard finds and a time
/// does not; a range finds both kinds, a date alone being its midnight in UTC.
#[test]
fn times_in_events_match_as_the_query_guide_says() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_of(
        dir.path(),
        &[&[
            r#"{"name":"day","ts":"2026-01-15"}"#,
            r#"{"name":"midnight","ts":"2026-01-15T00:00:00Z"}"#,
            r#"{"name":"berlin","ts":"2026-01-15T10:20:30.250+02:00"}"#,
            r#"{"name":"space","ts":"2026-01-15 10:20:30Z"}"#,
            r#"{"name":"no-offset","ts":"2026-01-15T10:20:30"}"#,
            r#"{"name":"syslog","ts":"Jan 15 10:20:30"}"#,
        ]],
    );
    check(
        &store,
        &[
            ("ts:2026-01-15T08:20:30.25Z", &["berlin"]),
            ("ts:2026-01-15T08:20:30Z", &[]),
            (r#"ts:"2026-01-15T10:20:30Z""#, &["space"]),
            (r#"ts:"2026-01-15T02:00:00+02:00""#, &["midnight"]),
            ("ts:2026-01*", &["no-offset", "day"]),
            ("ts:*10:20*", &["syslog", "no-offset"]),
            ("ts:2026-01-15", &["day"]),
            ("ts:2026-01-15T00:00:00Z", &["midnight"]),
            (
                "ts:[2026-01-15 TO 2026-01-16}",
                &["space", "berlin", "midnight", "day"],
            ),
            ("ts:[2026-01-15 TO 2026-01-15]", &["midnight", "day"]),
            ("ts:>2026-01-01", &["space", "berlin", "midnight", "day"]),
        ],
    );
}
