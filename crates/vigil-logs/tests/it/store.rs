//! Appending, paging, aggregations, pivots, stats, retention and error reporting.

use chrono::Duration;
use vigil_logs::{
    BatchMark, EmbeddedConfig, EmbeddedStore, EventStore, LogError, NewEvent, PivotRequest,
    SearchRequest, TimeRange,
};

use crate::support::{event, names, open, pivot_total, sample_store, t0};

fn parse(q: &str) -> vigil_query::Query {
    vigil_query::parse(q).expect("the query parses")
}

#[test]
fn a_batch_stores_the_valid_events_and_names_the_rejected_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let outcome = store
        .append(vec![
            event("auth", "h", "t", 0, r#"{"name":"ok1"}"#),
            event("auth", "h", "t", 0, r#"{"name": "broken"#),
            event("", "h", "t", 0, r#"{"name":"no service"}"#),
            event("auth", "h", "t", 0, r#"["not", "an object"]"#),
            event("auth", "h", "t", 1, r#"{"name":"ok2"}"#),
        ])
        .expect("append");
    assert_eq!(outcome.stored.len(), 2);
    let rejected: Vec<usize> = outcome.rejected.iter().map(|r| r.index).collect();
    assert_eq!(rejected, vec![1, 2, 3]);
    assert!(
        outcome.rejected[0].reason.contains("not valid JSON"),
        "{:?}",
        outcome.rejected
    );
    assert!(outcome.rejected[1].reason.contains("service is empty"));
    assert!(outcome.rejected[2].reason.contains("not a JSON object"));
    store.refresh().expect("refresh");
    assert_eq!(names(&store, "*"), vec!["ok2", "ok1"]);
}

#[test]
fn search_returns_the_stored_envelope_and_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sample_store(dir.path());
    let page = store
        .search(&SearchRequest {
            query: parse("user.name:alice"),
            range: TimeRange::default(),
            limit: 10,
            cursor: None,
        })
        .expect("search");
    assert_eq!(page.total, 1);
    let e = &page.events[0];
    assert_eq!(
        (e.service.as_str(), e.host.as_str(), e.tenant.as_str()),
        ("auth", "web-1", "contoso")
    );
    assert_eq!(e.time, t0() + Duration::minutes(1));
    assert_eq!(e.json, crate::support::sample()[0].json);
}

#[test]
fn pages_walk_every_event_newest_first_with_a_cursor() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    // Out of time order on purpose, and several events in the same second.
    let batch: Vec<_> = (0..25)
        .map(|i| {
            event(
                "svc",
                "h",
                "t",
                (i * 7) % 25 / 2,
                &format!(r#"{{"i":{i}}}"#),
            )
        })
        .collect();
    store.append(batch).expect("append");
    store.refresh().expect("refresh");
    let mut cursor = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = store
            .search(&SearchRequest {
                query: parse("*"),
                range: TimeRange::default(),
                limit: 10,
                cursor,
            })
            .expect("search");
        assert_eq!(page.total, 25);
        pages += 1;
        seen.extend(page.events.iter().map(|e| (e.time, e.id)));
        match page.next_cursor {
            Some(c) => cursor = Some(vigil_logs::Cursor::decode(&c.encode()).expect("cursor")),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 25);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first, ties by storage order");
}

/// Every page of `query` in pages of `limit`, as (minute after t0, the event's `n`), each page
/// checked to say `total` and to hold at most `limit` events.
fn walk_pages(store: &impl EventStore, query: &str, limit: usize, total: usize) -> Vec<(i64, i64)> {
    let (mut cursor, mut seen) = (None, Vec::new());
    loop {
        let page = store
            .search(&SearchRequest {
                query: parse(query),
                range: TimeRange::default(),
                limit,
                cursor,
            })
            .expect("search");
        assert_eq!(page.total as usize, total, "{query}");
        assert!(page.events.len() <= limit);
        for e in &page.events {
            let json: serde_json::Value = serde_json::from_str(&e.json).expect("json");
            let minute = (e.time - crate::support::t0()).num_minutes();
            seen.push((minute, json["n"].as_i64().expect("n")));
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return seen,
        }
    }
}

/// Search reads segments newest first and skips those older than a full page: over segments
/// written out of time order, some events deleted, every page is still exactly the next
/// newest events, and the totals count them all.
#[test]
fn pages_are_newest_first_across_segments_and_deletions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    // Eight segments: their time ranges overlap and come out of order.
    let mut all = Vec::new();
    for segment in 0..8i64 {
        let start = (segment * 37) % 8 * 20 - 15;
        let batch: Vec<_> = (0..30)
            .map(|i| {
                let n = segment * 30 + i;
                let service = if n % 3 == 0 { "payroll" } else { "web" };
                let json = format!(
                    r#"{{"n":{n},"word":"{}"}}"#,
                    ["red", "blue"][(n % 2) as usize]
                );
                all.push((start + i * 3 % 40, n, service));
                event(service, "h", "t", start + i * 3 % 40, &json)
            })
            .collect();
        store.append(batch).expect("append");
        store.refresh().expect("refresh");
    }
    let cutoff = crate::support::t0() + Duration::minutes(30);
    let deleted = store
        .delete_older_than("payroll", cutoff)
        .expect("retention");
    all.retain(|(minute, _, service)| *service != "payroll" || *minute >= 30);
    assert_eq!(deleted as usize, 240 - all.len());
    for (query, keep) in [
        ("*", &(|_: i64| true) as &dyn Fn(i64) -> bool),
        ("word:red", &|n| n % 2 == 0),
        ("n:[100 TO 130] OR n:7", &|n| {
            (100..=130).contains(&n) || n == 7
        }),
    ] {
        let mut expected: Vec<(i64, i64)> = all
            .iter()
            .filter(|(_, n, _)| keep(*n))
            .map(|(minute, n, _)| (*minute, *n))
            .collect();
        // Newest first; events of one minute in the order they were stored, last first.
        expected.sort_by(|a, b| b.cmp(a));
        for limit in [1, 7, 50, 500] {
            let seen = walk_pages(&store, query, limit, expected.len());
            assert_eq!(seen, expected, "{query}, pages of {limit}");
        }
    }
}

/// Pages are looked for in windows of keys below the cursor, widened when they hold too few
/// hits: where events come in a burst, where they thin out, years apart, with some deleted by
/// retention, and for a query with few hits (which outgrows the windows), every page is still
/// exactly the next newest events.
#[test]
fn pages_are_exact_however_unevenly_the_events_lie_in_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let minute_of = |n: i64| match n {
        0..1_200 => 0,                               // a burst: 1,200 events in one minute
        1_200..1_800 => (n - 1_200) * 97 % 600,      // one in each of 600 minutes, out of order
        1_800..1_990 => 1_000 + (n - 1_800) * 1_440, // one a day
        _ => -525_600 * (n - 1_989),                 // a year apart, into the past
    };
    let mut all = Vec::new();
    for chunk in (0..2_000i64).collect::<Vec<_>>().chunks(500) {
        let batch: Vec<_> = chunk
            .iter()
            .map(|&n| {
                let service = if n % 5 == 0 { "old" } else { "svc" };
                all.push((minute_of(n), n, service));
                event(service, "h", "t", minute_of(n), &format!(r#"{{"n":{n}}}"#))
            })
            .collect();
        store.append(batch).expect("append");
        store.refresh().expect("refresh");
    }
    let cutoff = crate::support::t0() + Duration::minutes(100);
    let deleted = store.delete_older_than("old", cutoff).expect("retention");
    all.retain(|(minute, _, service)| *service != "old" || *minute >= 100);
    assert_eq!(deleted as usize, 2_000 - all.len());
    let all: Vec<(i64, i64)> = all.into_iter().map(|(minute, n, _)| (minute, n)).collect();
    for (query, keep) in [
        ("*", &(|_: i64| true) as &dyn Fn(i64) -> bool),
        ("n:[0 TO 4] OR n:[1995 TO 1999]", &|n| {
            !(5..1_995).contains(&n)
        }),
    ] {
        let mut expected: Vec<(i64, i64)> = all.iter().copied().filter(|(_, n)| keep(*n)).collect();
        expected.sort_by(|a, b| b.cmp(a));
        // Pages of 1 and 5 are looked for in windows, larger ones (for which 2,000 events
        // are few) the old way.
        for limit in [1, 5, 64] {
            let seen = walk_pages(&store, query, limit, expected.len());
            assert_eq!(seen, expected, "{query}, pages of {limit}");
        }
    }
}

#[test]
fn the_time_window_bounds_search() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sample_store(dir.path());
    let page = store
        .search(&SearchRequest {
            query: parse("*"),
            range: TimeRange {
                from: Some(t0() + Duration::minutes(2)),
                to: Some(t0() + Duration::minutes(4)),
            },
            limit: 10,
            cursor: None,
        })
        .expect("search");
    assert_eq!(page.total, 2, "from is inclusive, to exclusive");
}

/// The total of a search whose window moves with the time (`time:>now-2s`) is its total when
/// it runs: no event arrives (the index is the same), and the event it found has left its
/// window. The total was kept by the query's text and went on counting the event.
#[test]
fn the_total_of_a_window_that_moves_with_the_time_follows_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    // A second ahead, so that the event is in the window for six seconds from here (a loaded
    // machine may take seconds to append and refresh).
    let at = chrono::Utc::now() + Duration::seconds(1);
    let mut e = event("svc", "h", "t", 0, r#"{"name":"recent"}"#);
    e.time = at;
    store.append(vec![e]).expect("append");
    store.refresh().expect("refresh");
    let total = |q: &str| {
        store
            .search(&SearchRequest {
                query: parse(q),
                range: TimeRange::default(),
                limit: 10,
                cursor: None,
            })
            .expect("search")
            .total
    };
    assert_eq!(total("time:>now-5s"), 1, "found while in the window");
    // Past the window (a sleep: the window moves with the clock only).
    let left = at + Duration::milliseconds(5_100);
    if let Ok(wait) = (left - chrono::Utc::now()).to_std() {
        std::thread::sleep(wait);
    }
    assert_eq!(total("time:>now-5s"), 0, "the same search, later");
    assert_eq!(total("time:>now-1h"), 1, "still in a wider window");
}

/// A value frequent overall but not in one segment's first ten is counted whole: with
/// Tantivy's default per-segment list (ten times the values asked for) `top 1 v` said 6.
#[test]
fn top_values_are_counted_in_every_segment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let segments: [Vec<(&str, usize)>; 3] = [
        // x is the twelfth value here …
        [
            "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "a10", "a11",
        ]
        .map(|a| (a, 5))
        .into_iter()
        .chain([("x", 1)])
        .collect(),
        // … and the first in the others.
        [("x", 5)]
            .into_iter()
            .chain(
                [
                    "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9", "b10", "b11",
                ]
                .map(|b| (b, 4)),
            )
            .collect(),
        vec![("x", 5)],
    ];
    for segment in segments {
        let batch = segment
            .iter()
            .flat_map(|&(value, n)| std::iter::repeat_n(value, n))
            .map(|value| event("svc", "h", "t", 0, &format!(r#"{{"v":"{value}"}}"#)))
            .collect();
        store.append(batch).expect("append");
        store.refresh().expect("refresh");
    }
    let top = store
        .aggregate(&parse("* | top 1 v"), TimeRange::default())
        .expect("aggregate");
    assert_eq!(top.buckets[0].values[0], "x");
    assert_eq!((top.buckets[0].count, top.unlisted_max), (11, None));
    assert_eq!((top.other, top.missing), (110 - 11, 0));
}

/// The counts `q` gives (each combination's values joined by ", "), its `other` and its
/// `missing`, settled.
fn counted(store: &EmbeddedStore, q: &str) -> (Vec<(String, u64)>, u64, u64) {
    let agg = store
        .aggregate(&parse(q), TimeRange::default())
        .expect("aggregate");
    assert_eq!(agg.unlisted_max, None, "{q}");
    let buckets = agg
        .buckets
        .into_iter()
        .map(|b| (b.values.join(", "), b.count))
        .collect();
    (buckets, agg.other, agg.missing)
}

/// Events without the field are `missing`, told apart from those whose values are all beyond
/// the limit (`other`): `top 5 Event.EventData.IpAddress` over 28 events none of which has it
/// said "(other values) 28". An event with several values counts under each and is `other`
/// only when none of them is listed, so that listed events, `other` and `missing` make the
/// total; over several fields, an event without one of them holds no combination: missing.
#[test]
fn events_without_the_field_are_missing_not_other() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let batches = [
        vec![
            r#"{"ip":"10.0.0.1","user":"alice"}"#,
            r#"{"ip":"10.0.0.1"}"#,
            r#"{"ip":["10.0.0.2","10.0.0.3"],"user":"bob"}"#,
            r#"{"user":"carol"}"#,
            r#"{"message":"no address"}"#,
        ],
        vec![
            r#"{"ip":["10.0.0.1","10.0.0.4"],"user":["alice","bob"]}"#,
            r#"{"ip":"10.0.0.4","user":"bob"}"#,
            r#"{"ip":[],"user":"dave"}"#,
            r#"{"ip":null}"#,
        ],
    ];
    for (segment, batch) in batches.into_iter().enumerate() {
        let events = batch
            .into_iter()
            .enumerate()
            .map(|(i, json)| event("svc", "h", "t", (segment * 10 + i) as i64, json))
            .collect();
        store.append(events).expect("append");
        store.refresh().expect("refresh");
    }
    let rows = |rows: &[(&str, u64)]| -> Vec<(String, u64)> {
        rows.iter().map(|(v, c)| ((*v).to_owned(), *c)).collect()
    };
    // Nine events: five with an address (one with two, one with two as well as a user each),
    // four without (no key, an empty list, null).
    for (query, buckets, other, missing) in [
        ("* | top 1 ip", rows(&[("10.0.0.1", 3)]), 2, 4),
        (
            "* | top 2 ip",
            rows(&[("10.0.0.1", 3), ("10.0.0.4", 2)]),
            1,
            4,
        ),
        (
            "* | count by ip",
            rows(&[
                ("10.0.0.1", 3),
                ("10.0.0.4", 2),
                ("10.0.0.2", 1),
                ("10.0.0.3", 1),
            ]),
            0,
            4,
        ),
        ("* | rare 1 ip", rows(&[("10.0.0.2", 1)]), 4, 4),
        // The audit's case: no matching event has the field.
        ("user:carol OR user:dave | top 5 ip", rows(&[]), 0, 2),
        ("* | top 5 no.such.field", rows(&[]), 0, 9),
        (
            "* | count by ip, user",
            rows(&[
                ("10.0.0.1, alice", 2),
                ("10.0.0.4, bob", 2),
                ("10.0.0.1, bob", 1),
                ("10.0.0.2, bob", 1),
                ("10.0.0.3, bob", 1),
                ("10.0.0.4, alice", 1),
            ]),
            0,
            5,
        ),
        ("* | top 1 ip, user", rows(&[("10.0.0.1, alice", 2)]), 2, 5),
    ] {
        assert_eq!(counted(&store, query), (buckets, other, missing), "{query}");
    }
}

/// A value is one value however an event writes it (`"200"` or `200`), an event that names it
/// twice counts once, times are shown as times, and events deleted by retention are not
/// counted.
#[test]
fn values_are_counted_once_per_event_whatever_their_type() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let batches = [
        vec![
            event("web", "h", "t", 0, r#"{"status":200,"tags":["a","a","b"]}"#),
            event("web", "h", "t", 1, r#"{"status":"200","tags":"a"}"#),
            event(
                "web",
                "h",
                "t",
                2,
                r#"{"status":404,"seen":"2026-03-01T12:00:00Z"}"#,
            ),
        ],
        vec![
            event("web", "h", "t", 3, r#"{"status":200.0,"tags":["b"]}"#),
            event("old", "h", "t", -600, r#"{"status":404,"tags":["a"]}"#),
            event(
                "web",
                "h",
                "t",
                4,
                r#"{"status":true,"seen":"2026-03-01T12:00:00Z"}"#,
            ),
        ],
    ];
    for batch in batches {
        store.append(batch).expect("append");
        store.refresh().expect("refresh");
    }
    store
        .delete_older_than("old", t0() - Duration::minutes(1))
        .expect("retention");
    store.refresh().expect("refresh");
    let counts = |q: &str| counted(&store, q);
    let status = |v: &str, n| (v.to_owned(), n);
    assert_eq!(
        counts("* | count by status"),
        (
            vec![status("200", 3), status("404", 1), status("true", 1)],
            0,
            0
        )
    );
    assert_eq!(
        counts("* | top 1 tags"),
        (vec![status("a", 2)], 1, 2),
        "the event with `a` twice counts once"
    );
    assert_eq!(
        counts("* | count by seen"),
        (vec![status("2026-03-01T12:00:00Z", 2)], 0, 3)
    );
    // Several fields: each combination an event holds, once per event; events without one of
    // the fields are not counted, but missing.
    assert_eq!(
        counts("* | count by status, tags"),
        (vec![status("200, a", 2), status("200, b", 2)], 0, 2)
    );
    // The least frequent first, ties by value.
    assert_eq!(
        counts("* | rare 2 status"),
        (vec![status("404", 1), status("true", 1)], 3, 0)
    );
    assert_eq!(
        counts("* | rare 1 status, tags"),
        (vec![status("200, a", 2)], 1, 2)
    );
    let refused = store
        .aggregate(&parse("* | count by time, status"), TimeRange::default())
        .expect_err("time is not a field to count by");
    assert!(refused.to_string().contains("count by time"), "{refused}");
}

/// An event that holds one value in several columns (text, integer, float, boolean) counts once
/// for it, in a segment and over segments, alone or in combinations.
#[test]
fn a_value_written_in_several_types_in_one_event_counts_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let batches = [
        vec![
            event("web", "h", "t", 0, r#"{"code":["200",200],"k":"a"}"#),
            event(
                "web",
                "h",
                "t",
                1,
                r#"{"code":[200.0,"200",true,"x"],"k":["a","b"]}"#,
            ),
            event("web", "h", "t", 2, r#"{"code":"200","k":"a"}"#),
        ],
        vec![
            event("web", "h", "t", 3, r#"{"code":[404,"404",404],"k":1}"#),
            event(
                "web",
                "h",
                "t",
                4,
                r#"{"code":["true",true,200],"k":["1",1]}"#,
            ),
            event("web", "h", "t", 5, r#"{"code":["x"]}"#),
        ],
    ];
    for batch in batches {
        store.append(batch).expect("append");
        store.refresh().expect("refresh");
    }
    let counts = |q: &str| counted(&store, q);
    let value = |v: &str, n| (v.to_owned(), n);
    assert_eq!(
        counts("* | count by code"),
        (
            vec![
                value("200", 4),
                value("true", 2),
                value("x", 2),
                value("404", 1)
            ],
            0,
            0
        )
    );
    assert_eq!(counts("* | top 1 code"), (vec![value("200", 4)], 2, 0));
    assert_eq!(counts("* | rare 1 code"), (vec![value("404", 1)], 5, 0));
    // Combinations too: each once per event, whatever the types of its values.
    assert_eq!(
        counts("* | count by code, k"),
        (
            vec![
                value("200, a", 3),
                value("200, 1", 1),
                value("200, b", 1),
                value("404, 1", 1),
                value("true, 1", 1),
                value("true, a", 1),
                value("true, b", 1),
                value("x, a", 1),
                value("x, b", 1),
            ],
            // Events with several combinations make the counts add up to more than the events.
            0,
            // The event without `k`.
            1
        )
    );
}

#[test]
fn count_by_and_top_aggregate_values() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sample_store(dir.path());
    let by_service = store
        .aggregate(&parse("| count by service"), TimeRange::default())
        .expect("aggregate");
    let counts: Vec<(String, u64)> = by_service
        .buckets
        .iter()
        .map(|b| (b.values.join(", "), b.count))
        .collect();
    assert_eq!(by_service.total, 5);
    assert_eq!(
        by_service.unlisted_max, None,
        "few values: the ranking is settled"
    );
    assert_eq!(counts[0].1, 2);
    assert!(counts.contains(&("vpn".into(), 1)));
    assert!(counts.contains(&("auth".into(), 2)));

    let hosts = store
        .aggregate(&parse("password | count by host"), TimeRange::default())
        .expect("aggregate");
    assert_eq!(hosts.total, 2);
    assert_eq!(hosts.buckets.len(), 2);

    let top = store
        .aggregate(&parse("* | top 2 src_ip"), TimeRange::default())
        .expect("aggregate");
    assert_eq!(top.buckets[0].values[0], "10.0.0.5");
    assert_eq!(top.buckets[0].count, 2);

    let ids = store
        .aggregate(
            &parse("| count by Event.System.EventID"),
            TimeRange::default(),
        )
        .expect("aggregate on a JSON path with numbers and strings");
    let mut values: Vec<String> = ids.buckets.iter().map(|b| b.values.join(", ")).collect();
    values.sort();
    assert_eq!(values, vec!["4624", "4625", "4700"]);
}

/// A pivot's counts, first and last times, timeline and newest events over several segments
/// and after retention deleted some of its events, against the same counted by hand.
#[test]
fn a_pivot_counts_every_event_of_the_value_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    // Events 0..1,500 at minutes spread over a day, out of order (37 is prime to 1,500, so each
    // minute once); two of three carry the address pivoted on.
    let minute_of = |n: i64| n * 37 % 1_500;
    let service_of = |n: i64| format!("s{}", n % 4);
    // More hosts than a pivot lists, and more tenants: every tenant is listed.
    let host_of = |n: i64| format!("h{}", n % 130);
    let tenant_of = |n: i64| format!("t{}", n % 151);
    for chunk in (0..1_500i64).collect::<Vec<_>>().chunks(500) {
        let batch = chunk
            .iter()
            .map(|&n| {
                let ip = if n % 3 == 0 { "10.0.0.8" } else { "10.0.0.7" };
                event(
                    &service_of(n),
                    &host_of(n),
                    &tenant_of(n),
                    minute_of(n),
                    &format!(r#"{{"n":{n},"ip":"{ip}","msg":"seen {ip}"}}"#),
                )
            })
            .collect();
        store.append(batch).expect("append");
        store.refresh().expect("refresh");
    }
    let cutoff = t0() + Duration::minutes(700);
    store.delete_older_than("s3", cutoff).expect("retention");
    store.refresh().expect("refresh");
    let kept: Vec<i64> = (0..1_500)
        .filter(|n| n % 3 != 0 && (n % 4 != 3 || minute_of(*n) >= 700))
        .collect();

    let counts = |of: &dyn Fn(i64) -> String, events: &[i64]| {
        let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
        for &n in events {
            *counts.entry(of(n)).or_default() += 1;
        }
        let mut counts: Vec<(String, u64)> = counts.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counts
    };
    let pairs = |values: &[vigil_logs::Count]| -> Vec<(String, u64)> {
        values.iter().map(|c| (c.value.clone(), c.count)).collect()
    };
    let window = TimeRange {
        from: Some(t0() + Duration::minutes(100)),
        to: Some(t0() + Duration::minutes(1_000)),
    };
    for (range, field) in [
        (TimeRange::default(), Some("ip")),
        (TimeRange::default(), None),
        (window, Some("ip")),
    ] {
        let expected: Vec<i64> = kept
            .iter()
            .copied()
            .filter(|&n| range.from.is_none() || (100..1_000).contains(&minute_of(n)))
            .collect();
        let pivot = store
            .pivot(&PivotRequest {
                field: field.map(vigil_query::Field::from_name),
                whole: false,
                value: "10.0.0.7".into(),
                range,
                limit: 10,
            })
            .expect("pivot");
        let label = format!("{field:?}, {range:?}");
        assert_eq!(pivot.total, expected.len() as u64, "{label}");
        assert_eq!(
            pairs(&pivot.by_service),
            counts(&service_of, &expected),
            "{label}"
        );
        let hosts = counts(&host_of, &expected);
        assert_eq!(pivot.hosts, hosts.len() as u64, "{label}");
        assert!(hosts.len() > 100);
        assert_eq!(pairs(&pivot.by_host), hosts[..100], "{label}");
        let tenants = counts(&tenant_of, &expected);
        assert!(tenants.len() > 100);
        assert_eq!(pairs(&pivot.by_tenant), tenants, "{label}");
        let mut minutes: Vec<i64> = expected.iter().map(|&n| minute_of(n)).collect();
        minutes.sort_unstable();
        let time = |minute: i64| t0() + Duration::minutes(minute);
        let (first, last) = (minutes[0], minutes[minutes.len() - 1]);
        assert_eq!(
            (pivot.first, pivot.last),
            (Some(time(first)), Some(time(last)))
        );
        // At most ~200 buckets over the span, aligned on multiples of their width since 1970.
        let width = [60, 300, 900, 3_600]
            .into_iter()
            .find(|w| (last - first) * 60 / w <= 200)
            .expect("a width");
        assert_eq!(pivot.bucket_seconds, width, "{label}");
        let mut buckets: std::collections::BTreeMap<i64, u64> = Default::default();
        for &minute in &minutes {
            let seconds = time(minute).timestamp();
            *buckets
                .entry(seconds - seconds.rem_euclid(width))
                .or_default() += 1;
        }
        let timeline: Vec<(i64, u64)> = pivot
            .timeline
            .iter()
            .map(|b| (b.start.timestamp(), b.count))
            .collect();
        assert_eq!(timeline, buckets.into_iter().collect::<Vec<_>>(), "{label}");
        let newest: Vec<i64> = minutes.iter().rev().take(10).copied().collect();
        let events: Vec<i64> = pivot
            .events
            .iter()
            .map(|e| (e.time - t0()).num_minutes())
            .collect();
        assert_eq!(events, newest, "{label}");
    }
}

#[test]
fn pivots_find_a_value_in_every_service() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sample_store(dir.path());
    for field in [None, Some(vigil_query::Field::from_name("src_ip"))] {
        let pivot = store
            .pivot(&PivotRequest {
                field,
                whole: false,
                value: "10.0.0.5".into(),
                range: TimeRange::default(),
                limit: 10,
            })
            .expect("pivot");
        assert_eq!(pivot.total, 2);
        let services: Vec<&str> = pivot.by_service.iter().map(|c| c.value.as_str()).collect();
        assert!(
            services.contains(&"auth") && services.contains(&"vpn"),
            "{services:?}"
        );
        assert_eq!(pivot.by_tenant[0].value, "contoso");
        assert_eq!(pivot.by_host.len(), 2);
        assert_eq!(pivot.timeline.iter().map(|b| b.count).sum::<u64>(), 2);
        assert_eq!(pivot.events.len(), 2);
        assert!(pivot.events[0].time > pivot.events[1].time);
        // The events' own times, not the edges of the timeline's buckets.
        assert_eq!(pivot.first, Some(pivot.events[1].time));
        assert_eq!(pivot.last, Some(pivot.events[0].time));
    }
    let nothing = store
        .pivot(&PivotRequest {
            field: None,
            whole: false,
            value: "10.9.9.9".into(),
            range: TimeRange::default(),
            limit: 10,
        })
        .expect("pivot");
    assert_eq!(
        (nothing.total, nothing.first, nothing.last),
        (0, None, None)
    );
    let anywhere = |value: &str| pivot_total(&store, value);
    assert_eq!(
        anywhere("ADMINISTRATOR"),
        1,
        "values match whole and case-insensitively"
    );
    // Any field means any JSON path, nested or not, whatever the value's type.
    for (value, total) in [
        ("alice", 1),
        ("4625", 1),
        ("4700", 1),
        ("0.75", 1),
        ("120", 1),
    ] {
        assert_eq!(anywhere(value), total, "{value}");
    }
    // Inside a longer text, the value's words in sequence count too (a syslog message), but in
    // a named field only the whole value does.
    store
        .append(vec![crate::support::event(
            "bastion",
            "bastion-1",
            "",
            8,
            r#"{"name":"e7","message":"sshd[42]: Failed password for root from 203.0.113.9 port 22"}"#,
        )])
        .expect("append");
    store.refresh().expect("refresh");
    let in_field = |field: &str, value: &str| {
        store
            .pivot(&PivotRequest {
                field: Some(vigil_query::Field::from_name(field)),
                whole: false,
                value: value.into(),
                range: TimeRange::default(),
                limit: 10,
            })
            .expect("pivot")
            .total
    };
    assert_eq!(anywhere("203.0.113.9"), 1);
    assert_eq!(
        anywhere("203.0.113.99"),
        0,
        "words match whole, not as prefixes"
    );
    assert_eq!(in_field("message", "203.0.113.9"), 0);
    assert_eq!(anywhere("admin"), 1, "e2: its user and its message");
    // A path that first appears in a later commit (a new segment) is searched too.
    store
        .append(vec![crate::support::event(
            "edr",
            "pc-9",
            "contoso",
            9,
            r#"{"name":"e6","process":{"parent":{"hash":"ABC123","pid":987654,"elevated":true,"delta":-3}},"größe":"Zürich (Kreis 1)"}"#,
        )])
        .expect("append");
    store.refresh().expect("refresh");
    assert_eq!(anywhere("abc123"), 1);
    // Numbers and booleans under a path only the new segment holds.
    for value in ["987654", "true", "-3"] {
        assert_eq!(anywhere(value), 1, "{value}");
    }
    // However many distinct keys the events bring, a value is one lookup over all of them.
    let many_keys: Vec<_> = (0..300)
        .map(|i| {
            crate::support::event(
                "edr",
                "pc-9",
                "contoso",
                10,
                &format!(r#"{{"name":"k{i}","extra":{{"key_{i}":{}}}}}"#, 500_000 + i),
            )
        })
        .collect();
    store.append(many_keys).expect("append");
    store.refresh().expect("refresh");
    assert_eq!(anywhere("500299"), 1);
    assert_eq!(anywhere("500300"), 0);
    // Values and paths beyond ASCII, whole and case-insensitively, and by wildcard.
    assert_eq!(anywhere("ZÜRICH (KREIS 1)"), 1);
    assert_eq!(crate::support::names(&store, "zür*"), vec!["e6"]);
    assert_eq!(crate::support::names(&store, r"*\(kreis*"), vec!["e6"]);
    // Any field includes the envelope: a host named only by its sender (`?host=`), in
    // whatever case it was sent.
    store
        .append(vec![event(
            "fw",
            "Gw-7.Example",
            "acme",
            11,
            r#"{"name":"g1","action":"deny"}"#,
        )])
        .expect("append");
    store.refresh().expect("refresh");
    let gateway = store
        .pivot(&PivotRequest {
            field: None,
            whole: false,
            value: "gw-7.example".into(),
            range: TimeRange::default(),
            limit: 10,
        })
        .expect("pivot");
    assert_eq!(gateway.total, 1);
    assert_eq!(gateway.by_host[0].value, "Gw-7.Example");
    assert_eq!(anywhere("ACME"), 1, "a tenant");
    assert_eq!(anywhere("gw-7"), 0, "envelope values match whole");
}

#[test]
fn a_pivot_on_the_whole_value_leaves_out_its_words_in_texts_and_counts_them_apart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = crate::support::open(dir.path());
    store
        .append(vec![
            event("api", "api-1", "acme", 1, r#"{"user":"svc-deploy"}"#),
            event(
                "api",
                "api-1",
                "acme",
                2,
                r#"{"user":{"name":"SVC-DEPLOY"}}"#,
            ),
            // Another account whose name holds the words, and a message naming it.
            event("billing", "b-1", "globex", 3, r#"{"user":"svc-deploy-ci"}"#),
            event(
                "bastion",
                "bastion",
                "acme",
                4,
                r#"{"message":"Invalid user svc-deploy from 203.0.113.9"}"#,
            ),
            // A host named only by its envelope.
            event("web", "svc-deploy", "acme", 5, r#"{"op":"read"}"#),
            event("web", "web-1", "acme", 6, r#"{"path":"/svc-deploy/x"}"#),
        ])
        .expect("append");
    store.refresh().expect("refresh");
    let pivot = |whole: bool, range: TimeRange| {
        store
            .pivot(&PivotRequest {
                field: None,
                whole,
                value: "svc-deploy".into(),
                range,
                limit: 10,
            })
            .expect("pivot")
    };
    let services = |p: &vigil_logs::Pivot| {
        let mut s: Vec<(String, u64)> = p
            .by_service
            .iter()
            .map(|c| (c.value.clone(), c.count))
            .collect();
        s.sort();
        s
    };
    let whole = pivot(true, TimeRange::default());
    assert_eq!(whole.total, 3);
    assert_eq!(
        services(&whole),
        vec![("api".to_owned(), 2), ("web".to_owned(), 1)]
    );
    assert_eq!(whole.in_text_only, Some(3), "billing, bastion and the path");
    let free = pivot(false, TimeRange::default());
    assert_eq!(free.total, 6);
    assert_eq!(free.in_text_only, None);
    // The count apart keeps to the window.
    let window = TimeRange {
        from: Some(t0() + Duration::minutes(3)),
        to: Some(t0() + Duration::minutes(5)),
    };
    let windowed = pivot(true, window);
    assert_eq!((windowed.total, windowed.in_text_only), (0, Some(2)));
}

#[test]
fn stats_and_retention_per_service() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sample_store(dir.path());
    let stats = store.stats().expect("stats");
    let payroll = stats
        .iter()
        .find(|s| s.service == "payroll")
        .expect("payroll has events");
    assert_eq!(payroll.events, 2);
    let sample = crate::support::sample();
    assert_eq!(
        payroll.bytes,
        (sample[2].json.len() + sample[4].json.len()) as u64
    );
    assert_eq!(payroll.first, Some(t0() + Duration::minutes(3)));
    assert_eq!(payroll.last, Some(t0() + Duration::minutes(5)));

    let deleted = store
        .delete_older_than("payroll", t0() + Duration::minutes(4))
        .expect("retention");
    assert_eq!(deleted, 1);
    assert_eq!(names(&store, "service:payroll"), vec!["e5"]);
    assert_eq!(
        names(&store, "service:auth").len(),
        2,
        "other services keep theirs"
    );
    drop(store);
    let reopened = open(dir.path());
    assert_eq!(
        names(&reopened, "service:payroll"),
        vec!["e5"],
        "deletion is durable"
    );
}

#[test]
fn bad_queries_and_requests_say_what_to_do() {
    let err = vigil_query::parse("user:alice AND (host:web").expect_err("unclosed group");
    assert_eq!(err.offset(), 15);
    let err = LogError::from(err);
    assert!(err.to_string().contains("byte 15"), "{err}");

    let dir = tempfile::tempdir().expect("temp dir");
    let store = sample_store(dir.path());
    let Err(err) = store.search(&SearchRequest {
        query: parse("* | count by service"),
        range: TimeRange::default(),
        limit: 10,
        cursor: None,
    }) else {
        panic!("a pipe is not a search");
    };
    assert!(err.to_string().contains("aggregation"), "{err}");
    let err = store
        .aggregate(&parse("* | count by time"), TimeRange::default())
        .expect_err("count by time");
    assert!(err.to_string().contains("pivot"), "{err}");
    let err = store
        .aggregate(&parse("*"), TimeRange::default())
        .expect_err("no pipe");
    assert!(err.to_string().contains("| count by FIELD"), "{err}");
    assert!(vigil_logs::Cursor::decode("zz!").is_err());
}

#[test]
fn a_torn_journal_tail_is_truncated_and_appending_resumes() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sample_store(dir.path());
    drop(store);
    let journal = dir.path().join("journal");
    let last = std::fs::read_dir(&journal)
        .expect("journal dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .max()
        .expect("a segment");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&last)
        .expect("segment");
    file.write_all(&[200, 1, 0, 0, 9, 9, 9])
        .expect("torn frame");
    drop(file);

    let store = open(dir.path());
    store
        .append(vec![event("auth", "h", "t", 9, r#"{"name":"after"}"#)])
        .expect("append after truncation");
    store.refresh().expect("refresh");
    drop(store);
    let store = open(dir.path());
    assert_eq!(names(&store, "*").len(), 6);
    assert_eq!(names(&store, "after"), vec!["after"]);
}

/// An indexer slower than the senders does not hold acknowledgements back: the journal goes on
/// (its queue to the indexer is one group deep here), the indexer reads what it missed back from
/// the journal, and every event is indexed exactly once — after a refresh and after a reopen.
#[test]
fn a_lagging_indexer_catches_up_from_the_journal_without_losing_or_doubling_events() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        let mut c = EmbeddedConfig::new(dir.path());
        c.queued_groups = 1;
        c.index_threads = 1;
        c.index_memory_bytes = 15_000_000;
        c.commit_interval = std::time::Duration::from_millis(50);
        // A lag limit below what the writers send: appends wait for the indexer at times.
        c.max_index_lag = 200;
        c
    };
    let store = std::sync::Arc::new(vigil_logs::EmbeddedStore::open(config()).unwrap());
    let most_behind = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = std::sync::Arc::clone(&store);
            let most_behind = std::sync::Arc::clone(&most_behind);
            std::thread::spawn(move || {
                for b in 0..50 {
                    let batch = (0..20)
                        .map(|i| {
                            event(
                                "lag",
                                "h",
                                "t",
                                i,
                                &format!(r#"{{"w":{w},"b":{b},"i":{i}}}"#),
                            )
                        })
                        .collect();
                    let outcome = store.append(batch).unwrap();
                    assert_eq!(outcome.stored.len(), 20);
                    most_behind.fetch_max(
                        store.journal_backlog(),
                        std::sync::atomic::Ordering::Relaxed,
                    );
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    // The journal stops taking appends once the index is 200 events behind; one gathered
    // group (at most the four writers' pending batches) may cross the line.
    let behind = most_behind.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        behind <= 200 + 4 * 20,
        "the index fell {behind} events behind"
    );
    store.refresh().unwrap();
    assert_eq!(store.index_lag(), 0);
    let count = |store: &vigil_logs::EmbeddedStore, q: &str| {
        store
            .search(&SearchRequest {
                query: parse(q),
                range: TimeRange::default(),
                limit: 1,
                cursor: None,
            })
            .unwrap()
            .total
    };
    assert_eq!(count(&store, "service:lag"), 4000);
    assert_eq!(count(&store, "w:3 AND b:49 AND i:19"), 1);
    drop(store);
    let store = vigil_logs::EmbeddedStore::open(config()).unwrap();
    assert_eq!(count(&store, "service:lag"), 4000);
}

#[test]
fn fields_no_event_has_are_named_with_what_was_meant() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sample_store(dir.path());
    let missing = store
        .missing_fields(&[
            "user.name",
            "EventID",
            "usr.name",
            "bytes",
            "nosuch.thing",
            // Objects: the parents of stored paths.
            "user",
            "Event.System",
            "use",
        ])
        .expect("missing fields");
    let named: Vec<(&str, Vec<&str>)> = missing
        .iter()
        .map(|m| {
            (
                m.path.as_str(),
                m.similar.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            ("EventID", vec!["Event.System.EventID"]),
            ("usr.name", vec!["user.name"]),
            ("nosuch.thing", vec![]),
            ("use", vec![]),
        ]
    );
    // A path only a later segment holds is known as soon as it is searchable.
    store
        .append(vec![crate::support::event(
            "edr",
            "pc-9",
            "contoso",
            9,
            r#"{"name":"e6","nosuch":{"thing":1}}"#,
        )])
        .expect("append");
    store.refresh().expect("refresh");
    assert!(store.missing_fields(&["nosuch.thing"]).unwrap().is_empty());
}

#[test]
fn long_values_and_patterns_are_answered_or_refused_never_failed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sample_store(dir.path());
    let long = |n: usize| "x".repeat(n);
    // A value longer than any indexed whole value is found by its words only, a long word by
    // its first 64 bytes: no event has it (it was dropped, and `alice` alone found e1).
    for (value, total) in [
        (long(256), 0),
        (long(5000), 0),
        (format!("{} alice", long(3000)), 0),
        (format!("{} alice", long(30)), 0),
        ("for alice".to_owned(), 1),
    ] {
        let pivot = store
            .pivot(&PivotRequest {
                field: None,
                whole: false,
                value: value.clone(),
                range: TimeRange::default(),
                limit: 10,
            })
            .unwrap_or_else(|e| panic!("a pivot on {} bytes: {e}", value.len()));
        assert_eq!(pivot.total, total);
        let page = store.search(&SearchRequest {
            query: parse(&format!("\"{value}\"")),
            range: TimeRange::default(),
            limit: 10,
            cursor: None,
        });
        assert!(page.is_ok(), "{} bytes: {page:?}", value.len());
    }
    // A wildcard pattern too large for the automaton is the user's to shorten.
    for query in [
        format!("message:{}*", long(5000)),
        format!("{}*", long(5000)),
    ] {
        let err = store
            .search(&SearchRequest {
                query: parse(&query),
                range: TimeRange::default(),
                limit: 10,
                cursor: None,
            })
            .expect_err("too large a pattern");
        assert!(matches!(err, LogError::Unsupported(_)), "{err}");
        assert!(err.to_string().contains("shorten it"), "{err}");
    }
}

/// A store in `dir` tracking detections, with 2 KiB journal segments (so that a few events
/// span several).
fn tracking(dir: &std::path::Path) -> EmbeddedStore {
    let mut config = EmbeddedConfig::new(dir);
    config.index_memory_bytes = 32 * 1024 * 1024;
    config.track_detections = true;
    config.journal_segment_bytes = 2048;
    EmbeddedStore::open(config).expect("the store opens")
}

/// With detections tracked, the events stored after the last detection mark outlive the index
/// commits that cover them (their journal segments are kept), come back after a reopen as
/// owed, and can be read back by id; once marked, their segments go.
#[test]
fn events_owed_detection_are_kept_and_read_back_after_a_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tracked = || tracking(dir.path());
    // One append per event: a segment closes after the append that fills it.
    let append_50 = |store: &EmbeddedStore, from: usize| {
        for i in from..from + 50 {
            let json = format!(r#"{{"name":"e{i}","message":"{}"}}"#, "x".repeat(100));
            store
                .append(vec![event("auth", "web-1", "contoso", i as i64, &json)])
                .expect("append");
        }
    };
    let segments = || {
        std::fs::read_dir(dir.path().join("journal"))
            .expect("journal dir")
            .count()
    };

    let store = tracked();
    assert!(
        store.undetected_at_open().is_empty(),
        "a new store owes nothing"
    );
    append_50(&store, 0);
    store.mark_detected_below(20);
    store.mark_detected_below(10); // marks never go back
    append_50(&store, 50);
    store.refresh().expect("refresh");
    assert!(segments() > 5, "events 20..100 span many 2 KiB segments");
    drop(store);

    let store = tracked();
    assert_eq!(store.undetected_at_open(), 20..100);
    let owed = store.read_stored(20..100, 1000).expect("read back");
    assert_eq!(
        owed.iter().map(|e| e.id).collect::<Vec<_>>(),
        (20..100).collect::<Vec<_>>()
    );
    assert!(owed[0].json.contains(r#""name":"e20""#));
    assert_eq!(owed[0].service, "auth");
    assert_eq!(owed[0].time, t0() + Duration::minutes(20));
    let page = store.read_stored(30..40, 5).expect("a page");
    assert_eq!(
        page.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![30, 31, 32, 33, 34]
    );
    assert!(
        store.read_stored(100..200, 10).expect("beyond").is_empty(),
        "nothing is stored from 100 on"
    );

    let before = segments();
    store.mark_detected_below(100);
    append_50(&store, 100);
    store.mark_detected_below(150);
    store.refresh().expect("refresh");
    assert!(
        segments() < before,
        "marked segments are deleted once the index covers them ({} of {before} left)",
        segments()
    );
    drop(store);
    assert!(tracked().undetected_at_open().is_empty());
}

/// A batch's mark is kept with its events: reopened while the batch is owed detection, the
/// store gives the mark back with the batch's ids (across segments, among unmarked batches
/// and refused events); once the detection mark has passed a batch, its mark is not given.
#[test]
fn the_marks_of_batches_owed_detection_come_back_after_a_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tracked = || tracking(dir.path());
    let batch = |from: usize, n: usize| -> Vec<NewEvent> {
        (from..from + n)
            .map(|i| {
                let json = format!(r#"{{"name":"e{i}","message":"{}"}}"#, "x".repeat(100));
                event("auth", "web-1", "contoso", i as i64, &json)
            })
            .collect()
    };

    let store = tracked();
    let first = store
        .append_marked(batch(0, 5), b"first".to_vec())
        .expect("append");
    assert_eq!(first.stored, (0..5).collect::<Vec<_>>());
    store.mark_detected_below(5);
    store.append(batch(5, 3)).expect("an unmarked batch");
    let mut with_refused = batch(8, 20);
    with_refused[3].json = "not json".into();
    let second = store
        .append_marked(with_refused, "second, ü".as_bytes().to_vec())
        .expect("append");
    assert_eq!(second.rejected.len(), 1);
    let all_refused = vec![event("auth", "", "", 0, "[1]")];
    store
        .append_marked(all_refused, b"nothing stored".to_vec())
        .expect("append");
    store
        .append_marked(batch(30, 2), Vec::new())
        .expect("append");
    store.refresh().expect("refresh");
    drop(store);

    let store = tracked();
    assert_eq!(store.undetected_at_open(), 5..29);
    assert_eq!(
        store.marks_at_open(),
        vec![
            BatchMark {
                ids: 8..27,
                mark: "second, ü".as_bytes().to_vec()
            },
            BatchMark {
                ids: 27..29,
                mark: Vec::new()
            },
        ],
        "the first batch was detected; the one stored whole refused keeps no mark"
    );
    assert_eq!(
        store
            .read_stored(5..29, 100)
            .expect("read back")
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>(),
        (5..29).collect::<Vec<_>>(),
        "marks are no events"
    );
    let hits = store
        .search(&SearchRequest {
            query: parse("*"),
            range: TimeRange::default(),
            limit: 100,
            cursor: None,
        })
        .expect("search");
    assert_eq!(hits.total, 29, "marks are not indexed");
    store.mark_detected_below(29);
    store.refresh().expect("refresh");
    drop(store);
    assert!(tracked().marks_at_open().is_empty());
}

/// A store that does not track detections owes none, whatever it holds.
#[test]
fn an_untracked_store_owes_no_detection() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sample_store(dir.path());
    store.mark_detected_below(2);
    drop(store);
    assert!(open(dir.path()).undetected_at_open().is_empty());
}

/// An event is read back by its id and stored time (what a detection records), and only so.
#[test]
fn an_event_is_read_by_its_id_and_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sample_store(dir.path());
    let page = store
        .search(&SearchRequest {
            query: vigil_query::parse("*").expect("query"),
            range: TimeRange::default(),
            limit: 100,
            cursor: None,
        })
        .expect("search");
    assert_eq!(page.events.len(), 5);
    for e in &page.events {
        assert_eq!(store.event(e.id, e.time).expect("read"), Some(e.clone()));
        let elsewhere = e.time + chrono::Duration::milliseconds(1);
        assert_eq!(store.event(e.id, elsewhere).expect("read"), None);
    }
    let last = &page.events[0];
    assert_eq!(store.event(last.id + 1000, last.time).expect("read"), None);
}

/// Random events whose fields hold one value spelled as text, integer, float or boolean, alone
/// or in arrays with repeats, over several segments: `top`, `rare` and two-field counts give
/// what counting each event once per value (or combination) by hand gives.
#[test]
fn counts_of_random_mixed_values_are_those_counted_by_hand() {
    use std::collections::{BTreeMap, BTreeSet};
    // (how the event writes it, how a reader names it)
    const F: &[(&str, &str)] = &[
        (r#""200""#, "200"),
        ("200", "200"),
        ("200.0", "200"),
        (r#""x""#, "x"),
        (r#""X""#, "X"),
        ("true", "true"),
        (r#""true""#, "true"),
        ("404", "404"),
        (r#""404""#, "404"),
    ];
    const G: &[(&str, &str)] = &[(r#""a""#, "a"), (r#""1""#, "1"), ("1", "1"), ("1.0", "1")];
    let mut rng = vigil_testkit::Rng::new(7);
    let mut pick =
        |values: &[(&'static str, &'static str)]| -> Option<(String, BTreeSet<&'static str>)> {
            match rng.below(6) {
                0 => None,
                1 | 2 => {
                    let (text, name) = values[rng.below(values.len())];
                    Some((text.to_owned(), BTreeSet::from([name])))
                }
                _ => {
                    let items: Vec<(&str, &str)> = (0..1 + rng.below(4))
                        .map(|_| values[rng.below(values.len())])
                        .collect();
                    let text = items.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(",");
                    Some((format!("[{text}]"), items.iter().map(|(_, n)| *n).collect()))
                }
            }
        };
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let mut by_f: BTreeMap<&str, u64> = BTreeMap::new();
    let mut by_fg: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    // Events without `f`, and without `f` or `g`.
    let (mut without_f, mut without_fg) = (0, 0);
    let mut minute = 0;
    for _batch in 0..4 {
        let mut batch = Vec::new();
        for _ in 0..60 {
            let (f, g) = (pick(F), pick(G));
            let mut fields = Vec::new();
            if let Some((text, names)) = &f {
                fields.push(format!(r#""f":{text}"#));
                for name in names {
                    *by_f.entry(name).or_default() += 1;
                }
            }
            if let Some((text, _)) = &g {
                fields.push(format!(r#""g":{text}"#));
            }
            if let (Some((_, f_names)), Some((_, g_names))) = (&f, &g) {
                for f_name in f_names {
                    for g_name in g_names {
                        *by_fg.entry((f_name, g_name)).or_default() += 1;
                    }
                }
            } else {
                without_fg += 1;
            }
            if f.is_none() {
                without_f += 1;
            }
            minute += 1;
            batch.push(event(
                "web",
                "h",
                "t",
                minute,
                &format!("{{{}}}", fields.join(",")),
            ));
        }
        store.append(batch).expect("append");
        store.refresh().expect("refresh");
    }
    let sorted = |mut counts: Vec<(String, u64)>| {
        assert!(
            counts.windows(2).all(|w| w[0].1 >= w[1].1),
            "largest first: {counts:?}"
        );
        counts.sort();
        counts
    };
    let expected_f: Vec<(String, u64)> = by_f.iter().map(|(n, c)| (n.to_string(), *c)).collect();
    let (by_value, other, missing) = counted(&store, "* | top 50 f");
    assert_eq!(sorted(by_value), expected_f);
    assert_eq!((other, missing), (0, without_f), "every value listed");
    let expected_fg: Vec<(String, u64)> = by_fg
        .iter()
        .map(|((f, g), c)| (format!("{f}, {g}"), *c))
        .collect();
    let (by_values, other, missing) = counted(&store, "* | top 50 f, g");
    assert_eq!(sorted(by_values), expected_fg);
    assert_eq!(
        (other, missing),
        (0, without_fg),
        "every combination listed"
    );
    // The least frequent: the same counts, the smallest first.
    let mut rare = counted(&store, "* | rare 50 f").0;
    assert!(
        rare.windows(2).all(|w| w[0].1 <= w[1].1),
        "smallest first: {rare:?}"
    );
    rare.sort();
    assert_eq!(rare, expected_f);
}

/// `other` is the events counted under no listed value, though an event with several values
/// is counted under each of them.
#[test]
fn other_counts_the_events_left_out_even_when_events_hold_several_values() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_of(
        dir.path(),
        &[
            r#"{"tags":["vpn","mfa"]}"#,
            r#"{"tags":["vpn"]}"#,
            r#"{"tags":["x"]}"#,
            r#"{"tags":"y"}"#,
            r#"{"other":1}"#,
        ],
    );
    let (buckets, other, missing) = counted(&store, "* | top 2 tags");
    assert_eq!(buckets, [("vpn".to_string(), 2), ("mfa".to_string(), 1)]);
    assert_eq!((other, missing), (2, 1), "x and y; the event without tags");
    let (_, other, missing) = counted(&store, "* | count by tags");
    assert_eq!((other, missing), (0, 1), "the event without tags");
}

/// A number range finds numbers written as text too (`"status": "200"`), as `status:200` does;
/// text that is not a decimal number (`2xx`, `2e2`, ` 200`) is not taken for one.
#[test]
fn number_ranges_find_numbers_written_as_text() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let values = [
        ("n200", r#""200""#),
        ("n200num", "200"),
        ("n299", r#"["x","299"]"#),
        ("n300", r#""300""#),
        ("neg", r#""-1.5""#),
        ("dec", r#""250.75""#),
        ("word", r#""2xx""#),
        ("exp", r#""2e2""#),
        ("lead", r#"" 200""#),
        ("long", r#""200200200200200200200200200200200200""#),
    ];
    let events = values
        .iter()
        .enumerate()
        .map(|(i, (name, v))| {
            event(
                "web",
                "h",
                "t",
                i as i64,
                &format!(r#"{{"name":"{name}","status":{v}}}"#),
            )
        })
        .collect();
    store.append(events).expect("append");
    store.refresh().expect("refresh");
    let found = |q: &str| {
        let mut n = names(&store, q);
        n.sort();
        n
    };
    assert_eq!(
        found("status:[200 TO 299]"),
        ["dec", "n200", "n200num", "n299"]
    );
    assert_eq!(found("status:{200 TO 300]"), ["dec", "n299", "n300"]);
    assert_eq!(found("status:<0"), ["neg"]);
    // Text of more than 32 characters is not read as a number.
    assert_eq!(found("status:>=300"), ["n300"]);
    assert_eq!(found("status:[* TO -1]"), ["neg"]);
}

/// Random queries over random events whose fields hold values spelled as text, integers,
/// floats and booleans, alone or in arrays: each finds the events that evaluating it by hand
/// on each event finds (`field:value` on a whole value without case, numbers and numeric text
/// alike; `exists:`; a number range; `AND`, `OR`, `NOT`, parentheses).
#[test]
fn random_queries_find_the_events_they_describe() {
    use std::collections::BTreeSet;
    /// (how the event writes a value, how it reads: lowercased, numbers as written)
    const VALUES: &[(&str, &str)] = &[
        (r#""200""#, "200"),
        ("200", "200"),
        (r#""Xy""#, "xy"),
        (r#""xY""#, "xy"),
        ("true", "true"),
        (r#""true""#, "true"),
        ("404", "404"),
        (r#""404""#, "404"),
        (r#""b c""#, "b c"),
    ];
    const FIELDS: &[&str] = &["f", "g"];
    struct Stored {
        name: String,
        fields: Vec<Option<BTreeSet<&'static str>>>,
    }
    let mut rng = vigil_testkit::Rng::new(11);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let mut stored = Vec::new();
    for batch in 0..2 {
        let mut events = Vec::new();
        for i in 0..40 {
            let name = format!("e{batch}-{i}");
            let mut json = vec![format!(r#""name":"{name}""#)];
            let mut fields = Vec::new();
            for field in FIELDS {
                let values: Vec<(&str, &str)> = match rng.below(4) {
                    0 => Vec::new(),
                    1 | 2 => vec![VALUES[rng.below(VALUES.len())]],
                    _ => (0..1 + rng.below(3))
                        .map(|_| VALUES[rng.below(VALUES.len())])
                        .collect(),
                };
                fields.push(match values.as_slice() {
                    [] => None,
                    [(text, read)] => {
                        json.push(format!(r#""{field}":{text}"#));
                        Some(BTreeSet::from([*read]))
                    }
                    many => {
                        let texts: Vec<&str> = many.iter().map(|(t, _)| *t).collect();
                        json.push(format!(r#""{field}":[{}]"#, texts.join(",")));
                        Some(many.iter().map(|(_, r)| *r).collect())
                    }
                });
            }
            events.push(event(
                "web",
                "h",
                "t",
                i,
                &format!("{{{}}}", json.join(",")),
            ));
            stored.push(Stored { name, fields });
        }
        store.append(events).expect("append");
        store.refresh().expect("refresh");
    }
    /// A query and whether an event meets it.
    type Test = Box<dyn Fn(&Stored) -> bool>;
    fn atom(rng: &mut vigil_testkit::Rng) -> (String, Test) {
        let f = rng.below(FIELDS.len());
        let field = FIELDS[f];
        match rng.below(6) {
            0 => (
                format!("exists:{field}"),
                Box::new(move |e: &Stored| e.fields[f].is_some()),
            ),
            1 => (
                format!("{field}:[100 TO 300]"),
                Box::new(move |e: &Stored| e.fields[f].as_ref().is_some_and(|v| v.contains("200"))),
            ),
            _ => {
                let (written, read) = [
                    ("200", "200"),
                    ("XY", "xy"),
                    ("true", "true"),
                    ("404", "404"),
                    (r#""B C""#, "b c"),
                ][rng.below(5)];
                (
                    format!("{field}:{written}"),
                    Box::new(move |e: &Stored| {
                        e.fields[f].as_ref().is_some_and(|v| v.contains(read))
                    }),
                )
            }
        }
    }
    fn query(rng: &mut vigil_testkit::Rng, depth: u32) -> (String, Test) {
        if depth == 0 || rng.below(3) == 0 {
            return atom(rng);
        }
        let (a, ta) = query(rng, depth - 1);
        let (b, tb) = query(rng, depth - 1);
        match rng.below(4) {
            0 => (
                format!("({a}) AND ({b})"),
                Box::new(move |e| ta(e) && tb(e)),
            ),
            1 => (format!("({a}) OR ({b})"), Box::new(move |e| ta(e) || tb(e))),
            2 => (
                format!("({a}) AND NOT ({b})"),
                Box::new(move |e| ta(e) && !tb(e)),
            ),
            _ => (format!("NOT ({a})"), Box::new(move |e| !ta(e))),
        }
    }
    let mut found_some = 0;
    for _ in 0..150 {
        let (text, test) = query(&mut rng, 2);
        let mut expected: Vec<String> = stored
            .iter()
            .filter(|e| test(e))
            .map(|e| e.name.clone())
            .collect();
        let mut found = names(&store, &text);
        expected.sort();
        found.sort();
        let differing: Vec<String> = stored
            .iter()
            .filter(|e| found.contains(&e.name) != expected.contains(&e.name))
            .map(|e| format!("{} {:?}", e.name, e.fields))
            .collect();
        assert!(differing.is_empty(), "{text}: {differing:?}");
        found_some += usize::from(!found.is_empty() && found.len() < stored.len());
    }
    assert!(
        found_some > 50,
        "{found_some} queries found some events but not all"
    );
}

/// A store in `dir` holding `events` (JSON texts) of one service, a minute apart, searchable.
fn store_of(dir: &std::path::Path, events: &[&str]) -> EmbeddedStore {
    let store = open(dir);
    store
        .append(
            (0..)
                .zip(events)
                .map(|(i, json)| event("web", "h", "t", i, json))
                .collect(),
        )
        .expect("append");
    store.refresh().expect("refresh");
    store
}

/// A whole value is found as it reads whatever JSON type holds it: a boolean in any case, an
/// integral decimal as the integer it is kept as, an RFC 3339 string (kept as a date) by its
/// text.
#[test]
fn whole_values_are_found_whatever_type_holds_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_of(
        dir.path(),
        &[
            r#"{"name":"bool","ok":true,"bytes":1000,"ts":"2026-01-01T00:00:00Z"}"#,
            r#"{"name":"text","ok":"TRUE","bytes":1000.0,"ts":"2026-01-01T02:00:00+02:00"}"#,
            r#"{"name":"other","ok":false,"bytes":1000.5,"ts":"2026-01-02T00:00:00Z"}"#,
        ],
    );
    let found = |q: &str| {
        let mut n = names(&store, q);
        n.sort();
        n
    };
    for q in ["ok:true", "ok:TRUE", "ok:True"] {
        assert_eq!(found(q), ["bool", "text"], "{q}");
    }
    assert_eq!(found("ok:FALSE"), ["other"]);
    for q in ["bytes:1000", "bytes:1000.0"] {
        assert_eq!(found(q), ["bool", "text"], "{q}");
    }
    assert_eq!(found("bytes:1000.5"), ["other"]);
    // The same instant however the string writes it.
    for q in [
        "ts:2026-01-01T00:00:00Z",
        r#"ts:"2026-01-01T00:00:00Z""#,
        r#"ts:"2026-01-01T02:00:00+02:00""#,
    ] {
        assert_eq!(found(q), ["bool", "text"], "{q}");
    }
}

/// Letters beyond ASCII are found whatever their case, in a field, in any field and as words:
/// the query is lowercased one character at a time, as the index is (a Σ ending a word stays
/// σ; `str::to_lowercase` would make it ς and miss).
#[test]
fn letters_beyond_ascii_are_found_whatever_their_case() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    store
        .append(vec![
            event("web", "h", "t", 0, r#"{"name":"upper","city":"ΟΔΟΣ"}"#),
            event("web", "h", "t", 1, r#"{"name":"lower","city":"οδοσ"}"#),
            event(
                "web",
                "h",
                "t",
                2,
                r#"{"name":"words","note":"η ΟΔΟΣ ΕΡΜΟΥ"}"#,
            ),
            event("web", "h", "t", 3, r#"{"name":"other","city":"οδοι"}"#),
        ])
        .expect("append");
    store.refresh().expect("refresh");
    let found = |q: &str| {
        let mut n = names(&store, q);
        n.sort();
        n
    };
    for q in [
        "city:ΟΔΟΣ",
        "city:οδοσ",
        "city:ΟδοΣ",
        "city:ΟΔ*Σ",
        "city:*ΔΟΣ",
    ] {
        assert_eq!(found(q), ["lower", "upper"], "{q}");
    }
    assert_eq!(found("ΟΔΟΣ"), ["lower", "upper", "words"]);
    assert_eq!(found(r#""ΟΔΟΣ ΕΡΜΟΥ""#), ["words"]);
}

/// Random free-text words and phrases over random values made of words and the punctuation of
/// logs (paths, dashes, commas), in any case and beyond ASCII: a word finds the events with a
/// value holding it as a word or being it whole, a phrase those with a value holding its words
/// in a row.
#[test]
fn random_words_and_phrases_find_the_values_that_hold_them() {
    const WORDS: &[&str] = &["alpha", "Beta", "ΓΑΜΜΑ", "δ1", "x", "42", "ΟΔΟΣ"];
    const GAPS: &[&str] = &[" ", "-", "\\\\", ".", ", ", "/", ":"];
    let mut rng = vigil_testkit::Rng::new(5);
    let lower = vigil_query::lowercase;
    let words_of = |value: &str| -> Vec<String> {
        value
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(lower)
            .collect()
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    // Per event: its name and the text of its values (as read, escapes undone).
    let mut stored: Vec<(String, Vec<String>)> = Vec::new();
    for batch in 0..2 {
        let mut events = Vec::new();
        for i in 0..40 {
            let name = format!("e{batch}-{i}");
            let mut values = Vec::new();
            let mut json = vec![format!(r#""name":"{name}""#)];
            for field in ["a", "b"] {
                if rng.below(4) == 0 {
                    continue;
                }
                let mut written = String::new();
                for k in 0..1 + rng.below(4) {
                    if k > 0 {
                        written.push_str(GAPS[rng.below(GAPS.len())]);
                    }
                    written.push_str(WORDS[rng.below(WORDS.len())]);
                }
                json.push(format!(r#""{field}":"{written}""#));
                values.push(written.replace("\\\\", "\\"));
            }
            events.push(event(
                "web",
                "h",
                "t",
                i,
                &format!("{{{}}}", json.join(",")),
            ));
            stored.push((name, values));
        }
        store.append(events).expect("append");
        store.refresh().expect("refresh");
    }
    let mut found_some = 0;
    for _ in 0..120 {
        let length = 1 + rng.below(2);
        let phrase: Vec<String> = (0..length)
            .map(|_| {
                let w = WORDS[rng.below(WORDS.len())];
                if rng.below(2) == 0 {
                    w.to_uppercase()
                } else {
                    w.to_lowercase()
                }
            })
            .collect();
        let wanted: Vec<String> = phrase.iter().map(|w| lower(w)).collect();
        let query = if phrase.len() == 1 {
            phrase[0].clone()
        } else {
            format!(r#""{}""#, phrase.join(" "))
        };
        let mut expected: Vec<String> = stored
            .iter()
            .filter(|(name, values)| {
                name == &query
                    || values.iter().any(|v| {
                        let words = words_of(v);
                        words.windows(wanted.len()).any(|w| w == wanted.as_slice())
                            || (wanted.len() == 1 && lower(v) == wanted[0])
                    })
            })
            .map(|(name, _)| name.clone())
            .collect();
        let mut found = names(&store, &query);
        expected.sort();
        found.sort();
        assert_eq!(found, expected, "{query}");
        found_some += usize::from(!found.is_empty());
    }
    assert!(found_some > 60, "{found_some} queries found some events");
}

/// Windows and time queries hold to the millisecond: from an event's own time finds it, and a
/// bound within its second leaves out what is on the other side.
#[test]
fn time_windows_hold_to_the_millisecond() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let at = |ms: i64| t0() + Duration::milliseconds(ms);
    let mut batch = Vec::new();
    for (ms, name) in [(100, "early"), (987, "a"), (987, "b"), (988, "late")] {
        let mut e = event("auth", "h", "t", 0, &format!(r#"{{"name":"{name}"}}"#));
        e.time = at(ms);
        batch.push(e);
    }
    store.append(batch).expect("append");
    store.refresh().expect("refresh");
    let names = |q: &str, from: Option<i64>, to: Option<i64>| -> Vec<String> {
        let page = store
            .search(&SearchRequest {
                query: parse(q),
                range: TimeRange {
                    from: from.map(at),
                    to: to.map(at),
                },
                limit: 10,
                cursor: None,
            })
            .expect("search");
        let mut names: Vec<String> = page
            .events
            .iter()
            .map(|e| {
                serde_json::from_str::<serde_json::Value>(&e.json).unwrap()["name"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        names.sort();
        names
    };
    assert_eq!(names("*", Some(500), Some(1000)), ["a", "b", "late"]);
    assert_eq!(names("*", Some(987), Some(988)), ["a", "b"]);
    assert_eq!(names("*", Some(0), Some(101)), ["early"]);
    assert_eq!(names("*", Some(0), Some(100)), Vec::<String>::new());
    let t = |ms: i64| at(ms).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert_eq!(
        names(&format!("time:[{} TO {}]", t(987), t(988)), None, None),
        ["a", "b", "late"]
    );
    assert_eq!(
        names(&format!("time:>={}", t(987)), None, None),
        ["a", "b", "late"]
    );
    assert_eq!(names(&format!("time:>{}", t(987)), None, None), ["late"]);
    assert_eq!(names(&format!("time:<{}", t(987)), None, None), ["early"]);
    assert_eq!(
        names(&format!("time:\"{}\"", t(987)), None, None),
        ["a", "b"]
    );
}

/// A pivot on the envelope's host, service or tenant finds the value ignoring case, as a pivot
/// on any field does (docs/query.md, "Pivots").
#[test]
fn a_pivot_on_an_envelope_field_ignores_case() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    store
        .append(vec![
            event("Web", "WEB-1", "Acme", 0, r#"{"a":1}"#),
            event("web", "web-2", "acme", 1, r#"{"a":2}"#),
        ])
        .expect("append");
    store.refresh().expect("refresh");
    let total = |field: &str, value: &str| {
        store
            .pivot(&PivotRequest {
                field: Some(vigil_query::Field::from_name(field)),
                whole: false,
                value: value.into(),
                range: TimeRange::default(),
                limit: 0,
            })
            .expect("pivot")
            .total
    };
    assert_eq!(total("host", "web-1"), 1);
    assert_eq!(total("host", "WEB-2"), 1);
    assert_eq!(total("service", "WEB"), 2);
    assert_eq!(total("tenant", "ACME"), 2);
    assert_eq!(total("host", "web"), 0, "whole values only");
}

/// Integers beyond 2^53 are counted as the numbers the events hold, beside decimals and
/// negative numbers in one segment and in another segment: an f64 column named 9007199254740993
/// 9007199254740992 and split 18446744073709551615 in two.
#[test]
fn integers_beyond_2_53_are_counted_exactly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let batches = [
        vec![
            r#"{"id":9007199254740993}"#,
            r#"{"id":1.5}"#,
            r#"{"id":-1}"#,
            r#"{"id":18446744073709551615}"#,
        ],
        vec![
            r#"{"id":18446744073709551615}"#,
            r#"{"id":"9007199254740993"}"#,
        ],
    ];
    for batch in batches {
        let events = batch
            .into_iter()
            .map(|json| event("svc", "h", "t", 0, json))
            .collect();
        store.append(events).expect("append");
        store.refresh().expect("refresh");
    }
    let (counts, other, missing) = counted(&store, "* | count by id");
    assert_eq!(
        counts,
        vec![
            ("18446744073709551615".to_owned(), 2),
            ("9007199254740993".to_owned(), 2),
            ("-1".to_owned(), 1),
            ("1.5".to_owned(), 1),
        ]
    );
    assert_eq!((other, missing), (0, 0));
}

/// "Other" counts the events holding none of the values listed, a value being what the listing
/// counts (case and all): `tags: ["VPN"]` is not an event of a listed `vpn`. The events were
/// looked up as `field:value` does, ignoring case, and `top 1 tags` said "other 1" for three.
/// A field whose name has a blank is counted as it is searched.
#[test]
fn other_counts_the_events_holding_none_of_the_values_as_listed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let events = [
        r#"{"tags":["vpn"],"Threat Name":"EICAR"}"#,
        r#"{"tags":["vpn"],"Threat Name":"EICAR"}"#,
        r#"{"tags":["VPN"],"Threat Name":"Trojan:Win32/X"}"#,
        r#"{"tags":["VPN","mfa"]}"#,
        r#"{"tags":["x"],"n":[200,"200"]}"#,
        r#"{"tags":"Mfa","n":[200, 404]}"#,
    ]
    .into_iter()
    .map(|json| event("svc", "h", "t", 0, json))
    .collect();
    store.append(events).expect("append");
    store.refresh().expect("refresh");
    let owned = |rows: &[(&str, u64)]| -> Vec<(String, u64)> {
        rows.iter().map(|(v, c)| ((*v).to_owned(), *c)).collect()
    };
    for (query, buckets, other, missing) in [
        ("* | top 1 tags", owned(&[("VPN", 2)]), 4, 0),
        ("* | top 2 tags", owned(&[("VPN", 2), ("vpn", 2)]), 2, 0),
        ("* | rare 1 tags", owned(&[("Mfa", 1)]), 5, 0),
        ("* | rare 2 tags", owned(&[("Mfa", 1), ("mfa", 1)]), 4, 0),
        ("tags:vpn | top 1 tags", owned(&[("VPN", 2)]), 2, 0),
        ("* | top 1 n", owned(&[("200", 2)]), 0, 4),
        (
            r"* | count by Threat\ Name",
            owned(&[("EICAR", 2), ("Trojan:Win32/X", 1)]),
            0,
            3,
        ),
        (r#"* | top 1 "Threat Name""#, owned(&[("EICAR", 2)]), 1, 3),
    ] {
        assert_eq!(counted(&store, query), (buckets, other, missing), "{query}");
    }
}

/// A crash before the store's first index commit (a server killed in its first second or so,
/// or while indexing lags) leaves every journaled event owed detection, with its batch's mark:
/// none is taken as matched, so the start's recovery matches them and answers their batches.
#[test]
fn events_stored_before_the_first_index_commit_are_owed_detection_after_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let live = dir.path().join("live");
    let mut config = EmbeddedConfig::new(&live);
    config.index_memory_bytes = 32 * 1024 * 1024;
    config.track_detections = true;
    config.commit_interval = std::time::Duration::from_secs(3600);
    let store = EmbeddedStore::open(config).expect("the store opens");
    let events = (0..3)
        .map(|i| {
            event(
                "auth",
                "web-1",
                "contoso",
                i,
                &format!(r#"{{"name":"e{i}"}}"#),
            )
        })
        .collect();
    store
        .append_marked(events, b"keyed".to_vec())
        .expect("append");
    // What a kill -9 leaves: the journal as written (durable once append returns), no commit.
    let crashed = dir.path().join("crashed");
    copy_dir(&live, &crashed);
    drop(store);

    let store = tracking(&crashed);
    assert_eq!(store.undetected_at_open(), 0..3);
    assert_eq!(
        store.marks_at_open(),
        vec![BatchMark {
            ids: 0..3,
            mark: b"keyed".to_vec()
        }]
    );
}

/// Copies a live store's directory as a crash would leave it. The store's threads may remove a
/// file between the listing and its copy (the index writer's temporary files): such a file is
/// not part of the state a crash would leave at that moment either, so it is skipped.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        let copied = match entry.file_type() {
            Ok(kind) if kind.is_dir() => {
                copy_dir(&entry.path(), &target);
                Ok(0)
            }
            Ok(_) => std::fs::copy(entry.path(), &target),
            Err(e) => Err(e),
        };
        match copied {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => {
                other.expect("copy");
            }
        }
    }
}

/// A store open in one place is refused in another — before the second touches its journal —
/// with an error that says it is in use, never the advice to delete the index (which would
/// destroy the live one); once the first is closed, the directory opens again.
#[test]
fn a_store_in_use_is_refused_without_advice_to_delete_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = open(dir.path());
    first
        .append(vec![event("auth", "h", "t", 0, r#"{"name":"kept"}"#)])
        .expect("append");
    let mut config = EmbeddedConfig::new(dir.path());
    config.index_memory_bytes = 32 * 1024 * 1024;
    let err = EmbeddedStore::open(config).expect_err("a second open is refused");
    assert!(matches!(err, LogError::InUse { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("in use by another process") && !message.contains("delete"),
        "{message}"
    );
    drop(first);
    let again = open(dir.path());
    again.refresh().expect("refresh");
    assert_eq!(names(&again, "*"), vec!["kept"]);
}

/// Tantivy's own lock failure (an index opened by something other than this store) says the
/// same: the index is held, not broken.
#[test]
fn the_index_lock_held_elsewhere_is_not_called_broken() {
    let err = LogError::from(tantivy::TantivyError::LockFailure(
        tantivy::directory::error::LockError::LockBusy,
        None,
    ));
    let message = err.to_string();
    assert!(
        message.contains("another process holds the search index") && !message.contains("delete"),
        "{message}"
    );
}

/// A retention pass answers how many events it deleted, counting those indexed since the last
/// commit too: it counted on an older snapshot, so a pass after a bulk load logged 4 events
/// deleted of the 30,525 it removed.
#[test]
fn retention_counts_the_events_it_deletes_indexed_since_the_last_commit_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = EmbeddedConfig::new(dir.path());
    config.index_memory_bytes = 32 * 1024 * 1024;
    config.commit_interval = std::time::Duration::from_secs(3600);
    let store = EmbeddedStore::open(config).expect("the store opens");
    let batch = |from: i64, n: i64| -> Vec<_> {
        (from..from + n)
            .map(|i| event("old", "h", "t", i, &format!(r#"{{"n":{i}}}"#)))
            .collect()
    };
    store.append(batch(0, 10)).expect("append");
    store.refresh().expect("refresh");
    store.append(batch(10, 20)).expect("append");
    let deleted = store
        .delete_older_than("old", t0() + Duration::minutes(60))
        .expect("retention");
    assert_eq!(deleted, 30, "the ten committed and the twenty not yet");
    store.refresh().expect("refresh");
    assert!(names(&store, "service:old").is_empty());
}
