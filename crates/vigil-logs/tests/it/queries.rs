//! Every query form, run against the sample events: a table of query → the events found,
//! newest first.

use crate::support::{names, pivot_total, sample_store};

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
    // … and so is its word with punctuation around it, as a word in a longer text is.
    ("administrator.", &["e3"]),
    ("\"ALICE:\"", &["e1"]),
    ("4625,", &["e1"]),
    ("4625", &["e1"]),
    ("4700", &["e4"]),
    ("adm*", &["e3", "e2"]),
    ("10.0.0.5", &["e4", "e1"]),
    ("src_ip:10.0.0.5", &["e4", "e1"]),
    ("src_ip:0.0.0.0/0", &["e4", "e2", "e1"]),
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

/// An integer beyond 64 bits is kept as the decimal text it is written in: found by
/// `field:value` and free text with that text, and counted as itself. Read as an f64 (the only
/// number type the parser has for it), it matched nothing written so, `count by` merged
/// neighbours under a rounded name (`18446744073709552000: 2`), and `-9223372036854775808`
/// found `-9223372036854775809` too.
#[test]
fn integers_beyond_64_bits_are_kept_as_written() {
    use vigil_logs::{EventStore, TimeRange};
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_of(
        dir.path(),
        &[&[
            r#"{"name":"u64+1","id":18446744073709551616}"#,
            r#"{"name":"u64+2","id":18446744073709551617}"#,
            r#"{"name":"i64-1","id":-9223372036854775809}"#,
            r#"{"name":"i64-2","id":-9223372036854775810}"#,
            r#"{"name":"i64min","neg":-9223372036854775808}"#,
            r#"{"name":"i64min-1","neg":-9223372036854775809}"#,
            r#"{"name":"big0","bigger":123456789012345678901234567890}"#,
            r#"{"name":"big1","bigger":123456789012345678901234567891}"#,
            r#"{"name":"huge","list":[1.5,{"v":1234567890123456789012345678901234567890123}]}"#,
            r#"{"name":"e20","f":1e20,"g":1.5}"#,
        ]],
    );
    check(
        &store,
        &[
            ("id:18446744073709551616", &["u64+1"]),
            ("id:18446744073709551617", &["u64+2"]),
            ("id:-9223372036854775809", &["i64-1"]),
            ("id:-9223372036854775810", &["i64-2"]),
            ("neg:-9223372036854775808", &["i64min"]),
            ("neg:-9223372036854775809", &["i64min-1"]),
            ("bigger:123456789012345678901234567891", &["big1"]),
            ("bigger:123456789012345678901234567890", &["big0"]),
            (
                "list.v:1234567890123456789012345678901234567890123",
                &["huge"],
            ),
            ("list:1.5", &["huge"]),
            ("18446744073709551616", &["u64+1"]),
            ("id:>18446744073709551616", &["u64+2"]),
            ("id:<-9223372036854775809", &["i64-2"]),
            ("bigger:>123456789012345678901234567890", &["big1"]),
            ("bigger:[1e29 TO 1e30]", &["big1", "big0"]),
            // A decimal beyond 64 bits is a number still.
            ("f:100000000000000000000", &["e20"]),
            ("f:>1e19", &["e20"]),
            ("g:1.5", &["e20"]),
        ],
    );
    let counted = store
        .aggregate(
            &vigil_query::parse("| count by id").unwrap(),
            TimeRange::default(),
        )
        .expect("aggregate");
    let mut values: Vec<(String, u64)> = counted
        .buckets
        .iter()
        .map(|b| (b.values.join(", "), b.count))
        .collect();
    values.sort();
    assert_eq!(
        values,
        [
            ("-9223372036854775809", 1),
            ("-9223372036854775810", 1),
            ("18446744073709551616", 1),
            ("18446744073709551617", 1),
        ]
        .map(|(v, n)| (v.to_owned(), n))
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

/// Real records of the System and Application logs as EVTX converters write them to JSON
/// (from `attack-samples.jsonl.gz`): an element with attributes is an object,
/// `{"#attributes": {…}, "#text": value}`; a Sysmon record's `EventID` beside them is a number.
const WINDOWS_RECORDS: &[&str] = &[
    r##"{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},"System":{"Provider":{"#attributes":{"Name":"Service Control Manager","Guid":"{555908d1-a6d7-4695-8e1e-26931d2012f4}","EventSourceName":"Service Control Manager"}},"EventID":{"#attributes":{"Qualifiers":16384},"#text":7045},"Version":0,"Level":4,"Task":0,"Opcode":0,"Keywords":"0x8080000000000000","TimeCreated":{"#attributes":{"SystemTime":"2019-03-03T09:20:28.6214897Z"}},"EventRecordID":4480,"Correlation":null,"Execution":{"#attributes":{"ProcessID":444,"ThreadID":140}},"Channel":"System","Computer":"WIN-77LTAPHIQ1R.example.corp","Security":{"#attributes":{"UserID":"S-1-5-21-1587066498-1489273250-1035260531-1108"}}},"EventData":{"ServiceName":"spoolfool","ImagePath":"cmd.exe","ServiceType":"user mode service","StartType":"auto start","AccountName":"LocalSystem"}}}"##,
    r##"{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},"System":{"Provider":{"#attributes":{"Name":"Service Control Manager","Guid":"{555908d1-a6d7-4695-8e1e-26931d2012f4}","EventSourceName":"Service Control Manager"}},"EventID":{"#attributes":{"Qualifiers":16384},"#text":7036},"Version":0,"Level":4,"Task":0,"Opcode":0,"Keywords":"0x8080000000000000","TimeCreated":{"#attributes":{"SystemTime":"2020-09-23T16:57:41.3726306Z"}},"EventRecordID":65371,"Correlation":null,"Execution":{"#attributes":{"ProcessID":580,"ThreadID":6460}},"Channel":"System","Computer":"01566s-win16-ir.threebeesco.com","Security":null},"EventData":{"param1":"Windows Error Reporting Service","param2":"running","Binary":"5700650072005300760063002F0034000000"}}}"##,
    r##"{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},"System":{"Provider":{"#attributes":{"Name":"MSSQLSERVER"}},"EventID":{"#attributes":{"Qualifiers":49152},"#text":18456},"Level":0,"Task":4,"Keywords":"0x90000000000000","TimeCreated":{"#attributes":{"SystemTime":"2019-11-04T13:46:01.1713393Z"}},"EventRecordID":13026,"Channel":"Application","Computer":"MSEDGEWIN10","Security":null},"EventData":{"Data":{"#text":["sa"," Reason: Password did not match that for the login provided."," [CLIENT: 10.0.2.17]"]},"Binary":"184800000E0000000C0000004D0053004500440047004500570049004E00310030000000070000006D00610073007400650072000000"}}}"##,
    r##"{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon","Guid":"{5770385f-c22a-43e0-bf4c-06f5698ffbd9}"}},"EventID":11,"Version":2,"Level":4,"Task":11,"Opcode":0,"Keywords":"0x8000000000000000","TimeCreated":{"#attributes":{"SystemTime":"2019-04-27T15:57:25.8688632Z"}},"EventRecordID":6575,"Correlation":null,"Execution":{"#attributes":{"ProcessID":1912,"ThreadID":996}},"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"IEWIN7","Security":{"#attributes":{"UserID":"S-1-5-18"}}},"EventData":{"RuleName":"","UtcTime":"2019-04-27 15:57:25.868","ProcessGuid":"{365abb72-7acc-5cc4-0000-0010b2470300}","ProcessId":2772,"Image":"C:\\Windows\\Explorer.EXE","TargetFilename":"C:\\Users\\IEUser\\Downloads\\Flash_update.exe","CreationUtcTime":"2019-04-27 15:57:25.868"}}}"##,
];

/// An element with attributes (`"EventID": {"#attributes": {"Qualifiers": 16384}, "#text":
/// 7045}`, every System-log record with qualifiers) is searched, counted and pivoted on by its
/// own path, as its `#text` value, as detection rules read it; its `#text` and `#attributes`
/// paths stay searchable, and the stored event is the one sent.
#[test]
fn an_xml_element_is_found_by_its_own_path_as_its_text() {
    use vigil_logs::{EventStore, PivotRequest, SearchRequest, TimeRange};
    let dir = tempfile::tempdir().expect("temp dir");
    let store = crate::support::open(dir.path());
    let batch = WINDOWS_RECORDS
        .iter()
        .enumerate()
        .map(|(i, json)| crate::support::event("windows", "dc-1", "", i as i64, json))
        .collect();
    store.append(batch).expect("append");
    store.refresh().expect("refresh");
    // The EventRecordID of each event a query finds, newest first.
    let records = |query: &str| -> Vec<u64> {
        let page = store
            .search(&SearchRequest {
                query: vigil_query::parse(query).expect("the query parses"),
                range: TimeRange::default(),
                limit: 100,
                cursor: None,
            })
            .expect("search");
        page.events
            .iter()
            .map(|e| {
                let v: serde_json::Value = serde_json::from_str(&e.json).expect("stored JSON");
                v["Event"]["System"]["EventRecordID"]
                    .as_u64()
                    .expect("a record id")
            })
            .collect()
    };
    let mut failures = Vec::new();
    for (query, expected) in [
        ("Event.System.EventID:7045", &[4480][..]),
        ("Event.System.EventID:\"7036\"", &[65371]),
        ("Event.System.EventID:11", &[6575]),
        ("Event.System.EventID:(7045 OR 11)", &[6575, 4480]),
        ("Event.System.EventID:[7000 TO 7100]", &[65371, 4480]),
        ("Event.System.EventID:>1000", &[13026, 65371, 4480]),
        ("exists:Event.System.EventID", &[6575, 13026, 65371, 4480]),
        // The element's own paths, as before.
        ("Event.System.EventID.#text:7045", &[4480]),
        (
            "Event.System.EventID.#attributes.Qualifiers:16384",
            &[65371, 4480],
        ),
        // Unnamed `<Data>` values: a list as the element's text.
        ("Event.EventData.Data:sa", &[13026]),
        ("Event.EventData.Data.#text:sa", &[13026]),
        ("Event.EventData.Data:\" [CLIENT: 10.0.2.17]\"", &[13026]),
        // Elements without text are objects still: no value under their own path.
        ("Event.System.Provider:*", &[6575, 13026, 65371, 4480]),
        ("Event.System.Provider:\"Service Control Manager\"", &[]),
    ] {
        let found = records(query);
        if found != expected {
            failures.push(format!("{query:?}: expected {expected:?}, found {found:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let counted = store
        .aggregate(
            &vigil_query::parse("| count by Event.System.EventID").unwrap(),
            TimeRange::default(),
        )
        .expect("aggregate");
    let mut values: Vec<(String, u64)> = counted
        .buckets
        .iter()
        .map(|b| (b.values.join(", "), b.count))
        .collect();
    values.sort();
    assert_eq!(
        values,
        [("11", 1), ("18456", 1), ("7036", 1), ("7045", 1)].map(|(v, n)| (v.to_owned(), n))
    );
    assert_eq!((counted.missing, counted.other), (0, 0));

    let pivot = store
        .pivot(&PivotRequest {
            field: Some(vigil_query::Field::from_name("Event.System.EventID")),
            whole: false,
            value: "7045".into(),
            range: TimeRange::default(),
            limit: 10,
        })
        .expect("pivot");
    assert_eq!(pivot.total, 1);
    // The event as it was sent: the index's reading of it changes nothing stored.
    assert_eq!(pivot.events[0].json, WINDOWS_RECORDS[0]);
}

/// A word of 64 bytes or more (a base64 blob, a long URL path segment) is kept as its first 64
/// bytes, in the index and in the query: a phrase, a word alone or a pivot holding one finds
/// the events with a word beginning so, not every event with the other words (the long word
/// was dropped from both sides, so the innocent URL matched too).
#[test]
fn a_long_word_is_searched_by_its_first_64_bytes() {
    // 84 bytes of base64; `TWIN` shares its first 64 bytes and differs after.
    const BLOB: &str =
        "aHR0cHM6Ly9ldmlsLmV4YW1wbGUvcGF5bG9hZC5leGU0aWQ9MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3BxcnN0";
    let twin = format!("{}ZZZZZZZZZZ", &BLOB[..64]);
    // A value of one word longer than the 256 bytes kept whole.
    let huge = "Q".repeat(300);
    // The longest value kept whole.
    let longest = "R".repeat(256);
    // 80 bytes of two-byte characters: cut at a character's boundary.
    let accents = "é".repeat(40);
    let events = [
        format!(r#"{{"name":"l1","message":"GET https://evil.example/dl/{BLOB} from 10.9.9.9"}}"#),
        r#"{"name":"l2","message":"GET https://evil.example/dl/innocent from 10.9.9.8"}"#.into(),
        format!(r#"{{"name":"l3","message":"GET https://evil.example/dl/{twin} from 10.9.9.7"}}"#),
        format!(r#"{{"name":"l4","blob":"{huge}"}}"#),
        format!(r#"{{"name":"l5","note":"{accents} here"}}"#),
        format!(r#"{{"name":"l6","blob":"{longest}"}}"#),
    ];
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_of(dir.path(), &[&refs]);
    let url = format!("https://evil.example/dl/{BLOB}");
    check(
        &store,
        &[
            (&format!("\"GET {url} from 10.9.9.9\""), &["l1"]),
            (&format!("\"{url}\""), &["l3", "l1"]),
            (&format!("message:\"GET {url} from 10.9.9.9\""), &["l1"]),
            // Alone: the events with a word beginning with its first 64 bytes.
            (BLOB, &["l3", "l1"]),
            (&twin, &["l3", "l1"]),
            (&BLOB[..64], &["l3", "l1"]),
            (&BLOB[..63], &[]),
            (&huge, &["l4"]),
            (&huge.to_lowercase(), &["l4"]),
            (&accents, &["l5"]),
            (&longest, &["l6"]),
            (&format!("blob:{longest}"), &["l6"]),
            (&format!("blob:{huge}"), &[]),
            (&format!("\"{} here\"", "É".repeat(40)), &["l5"]),
            ("\"dl innocent\"", &["l2"]),
        ],
    );
    let pivot = |value: &str| pivot_total(&store, value);
    assert_eq!(pivot(&format!("{url} from 10.9.9.9")), 1);
    assert_eq!(pivot(&url), 2, "l1 and l3, whose words begin alike");
    assert_eq!(pivot("https://evil.example/dl/innocent"), 1);
}

/// The index keeps an event's time to the millisecond, and a time in a `time:` query or a
/// window stands for the millisecond that holds it: an event is found by the time it was sent
/// with (`time:…00.123456Z` found nothing for an event stamped so, and `time:>=…00.1234Z`
/// missed one at .123456).
#[test]
fn a_time_query_reads_its_times_to_the_millisecond() {
    use chrono::Duration;
    use vigil_logs::{EventStore, NewEvent, SearchRequest, TimeRange};
    let dir = tempfile::tempdir().expect("temp dir");
    let store = crate::support::open(dir.path());
    let at = |micros: i64| crate::support::t0() + Duration::microseconds(micros);
    let batch = [
        ("before", 122_999),
        ("exact", 123_456),
        ("same-ms", 123_900),
        ("next-ms", 124_000),
    ]
    .map(|(name, micros)| NewEvent {
        time: at(micros),
        ..crate::support::event("clock", "h", "", 0, &format!(r#"{{"name":"{name}"}}"#))
    });
    store.append(batch.to_vec()).expect("append");
    store.refresh().expect("refresh");
    check(
        &store,
        &[
            ("time:2026-03-01T12:00:00.123456Z", &["same-ms", "exact"]),
            ("time:2026-03-01T12:00:00.123Z", &["same-ms", "exact"]),
            (
                "time:>=2026-03-01T12:00:00.1234Z",
                &["next-ms", "same-ms", "exact"],
            ),
            ("time:>2026-03-01T12:00:00.123456Z", &["next-ms"]),
            ("time:<2026-03-01T12:00:00.123456Z", &["before"]),
            (
                "time:<=2026-03-01T12:00:00.1234Z",
                &["same-ms", "exact", "before"],
            ),
            (
                "time:[2026-03-01T12:00:00.123456Z TO 2026-03-01T12:00:00.123456Z]",
                &["same-ms", "exact"],
            ),
            (
                "time:{2026-03-01T12:00:00.122999Z TO 2026-03-01T12:00:00.124001Z}",
                &["same-ms", "exact"],
            ),
            (
                "time:[2026-03-01T12:00:00.122999Z TO 2026-03-01T12:00:00.124001Z]",
                &["next-ms", "same-ms", "exact", "before"],
            ),
        ],
    );
    // A window's ends alike: from the millisecond of `from`, before that of `to`.
    let window = |from: i64, to: i64| {
        let page = store
            .search(&SearchRequest {
                query: vigil_query::parse("*").unwrap(),
                range: TimeRange {
                    from: Some(at(from)),
                    to: Some(at(to)),
                },
                limit: 10,
                cursor: None,
            })
            .expect("search");
        page.events.len()
    };
    assert_eq!(window(123_456, 124_500), 2, "exact and same-ms");
    assert_eq!(window(122_000, 123_456), 1, "before");
    // The time an event is shown with finds it.
    let page = store
        .search(&SearchRequest {
            query: vigil_query::parse("name:exact").unwrap(),
            range: TimeRange::default(),
            limit: 10,
            cursor: None,
        })
        .expect("search");
    let shown = page.events[0]
        .time
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    assert_eq!(shown, "2026-03-01T12:00:00.123456Z");
    assert_eq!(
        crate::support::names(&store, &format!("time:{shown} name:exact")),
        ["exact"]
    );
}
