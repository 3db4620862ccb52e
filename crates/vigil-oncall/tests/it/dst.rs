//! Daylight-saving changes of 2026: Europe/Berlin (29 March, 25 October) and America/New_York
//! (8 March, 1 November). Handoffs stay at the local wall-clock time; the shift over the change
//! is an hour shorter or longer.

use serde_json::json;
use vigil_oncall::{final_schedule, who_is_on_call};

use crate::support::{rows, schedule, ts};

type Row = (&'static str, &'static str, &'static str, i64);

fn check_rows(zone: &str, rotation: &str, start: &str, from: &str, to: &str, want: &[Row]) {
    let s = schedule(json!({
        "name": format!("{zone} {rotation} from {start}"), "time_zone": zone,
        "layers": [{"people": ["alice", "bob"], "rotation": rotation, "start": start}],
    }));
    let got = rows(&final_schedule(&s, ts(from), ts(to)).unwrap());
    let want: Vec<_> = want
        .iter()
        .map(|(p, s, e, h)| (p.to_string(), s.to_string(), e.to_string(), *h))
        .collect();
    assert_eq!(got, want, "{}", s.name());
}

#[test]
fn daily_handoffs_stay_at_local_time_across_the_2026_changes() {
    // (zone, first handoff, range, expected shifts with their length in hours)
    let cases: &[(&str, &str, &str, &str, &[Row])] = &[
        (
            "Europe/Berlin",
            "2026-03-27T09:00",
            "2026-03-27T08:00:00Z",
            "2026-03-30T07:00:00Z",
            &[
                ("alice", "2026-03-27T08:00:00Z", "2026-03-28T08:00:00Z", 24),
                ("bob", "2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z", 23),
                ("alice", "2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z", 24),
            ],
        ),
        (
            "Europe/Berlin",
            "2026-10-23T09:00",
            "2026-10-23T07:00:00Z",
            "2026-10-26T08:00:00Z",
            &[
                ("alice", "2026-10-23T07:00:00Z", "2026-10-24T07:00:00Z", 24),
                ("bob", "2026-10-24T07:00:00Z", "2026-10-25T08:00:00Z", 25),
                ("alice", "2026-10-25T08:00:00Z", "2026-10-26T08:00:00Z", 24),
            ],
        ),
        (
            "America/New_York",
            "2026-03-06T09:00",
            "2026-03-06T14:00:00Z",
            "2026-03-09T13:00:00Z",
            &[
                ("alice", "2026-03-06T14:00:00Z", "2026-03-07T14:00:00Z", 24),
                ("bob", "2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z", 23),
                ("alice", "2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z", 24),
            ],
        ),
        (
            "America/New_York",
            "2026-10-30T09:00",
            "2026-10-30T13:00:00Z",
            "2026-11-02T14:00:00Z",
            &[
                ("alice", "2026-10-30T13:00:00Z", "2026-10-31T13:00:00Z", 24),
                ("bob", "2026-10-31T13:00:00Z", "2026-11-01T14:00:00Z", 25),
                ("alice", "2026-11-01T14:00:00Z", "2026-11-02T14:00:00Z", 24),
            ],
        ),
    ];
    for (zone, start, from, to, want) in cases {
        check_rows(zone, "daily", start, from, to, want);
    }
}

#[test]
fn twelve_hour_and_weekly_shifts_across_a_change() {
    // 12h from 09:00: handoffs at 09:00 and 21:00 local; the night over the change is 11h.
    check_rows(
        "Europe/Berlin",
        "12h",
        "2026-03-28T09:00",
        "2026-03-28T08:00:00Z",
        "2026-03-29T19:00:00Z",
        &[
            ("alice", "2026-03-28T08:00:00Z", "2026-03-28T20:00:00Z", 12),
            ("bob", "2026-03-28T20:00:00Z", "2026-03-29T07:00:00Z", 11),
            ("alice", "2026-03-29T07:00:00Z", "2026-03-29T19:00:00Z", 12),
        ],
    );
    // Weekly on Mondays 09:00: the week over 25 October is 169 hours.
    check_rows(
        "Europe/Berlin",
        "weekly",
        "2026-10-19T09:00",
        "2026-10-19T07:00:00Z",
        "2026-11-02T08:00:00Z",
        &[
            ("alice", "2026-10-19T07:00:00Z", "2026-10-26T08:00:00Z", 169),
            ("bob", "2026-10-26T08:00:00Z", "2026-11-02T08:00:00Z", 168),
        ],
    );
}

#[test]
fn a_handoff_in_the_gap_happens_at_the_jump_and_in_the_fold_at_the_first_pass() {
    let spring = schedule(json!({
        "name": "02:30 spring", "time_zone": "Europe/Berlin",
        "layers": [{"people": ["alice", "bob"], "rotation": "daily", "start": "2026-03-27T02:30"}],
    }));
    // 02:30 does not exist on 29 March: the handoff is at the jump, 03:00 CEST = 01:00Z.
    let sunday = who_is_on_call(&spring, ts("2026-03-29T12:00:00Z")).unwrap();
    assert_eq!(sunday.person, "alice");
    assert_eq!(sunday.start, ts("2026-03-29T01:00:00Z"));
    assert_eq!(sunday.end, ts("2026-03-30T00:30:00Z"));
    let saturday = who_is_on_call(&spring, ts("2026-03-29T00:59:59Z")).unwrap();
    assert_eq!(saturday.person, "bob");
    assert_eq!(saturday.duration().as_mins(), 23 * 60 + 30);

    let autumn = schedule(json!({
        "name": "02:30 autumn", "time_zone": "Europe/Berlin",
        "layers": [{"people": ["alice", "bob"], "rotation": "daily", "start": "2026-10-23T02:30"}],
    }));
    // 02:30 happens twice on 25 October: the handoff is at the first, 02:30 CEST = 00:30Z.
    let before = who_is_on_call(&autumn, ts("2026-10-25T00:29:59Z")).unwrap();
    assert_eq!(before.person, "bob");
    let after = who_is_on_call(&autumn, ts("2026-10-25T01:45:00Z")).unwrap();
    assert_eq!(after.person, "alice");
    assert_eq!(after.start, ts("2026-10-25T00:30:00Z"));
    assert_eq!(after.duration().as_hours(), 25);
}

#[test]
fn short_shifts_through_the_gap_stay_in_order() {
    // 30-minute shifts: 02:00 and 02:30 fall in the gap and have no length; 03:00 goes on.
    let s = schedule(json!({
        "name": "half-hours", "time_zone": "Europe/Berlin",
        "layers": [{"people": ["alice", "bob"], "rotation": "30m", "start": "2026-03-29T00:00"}],
    }));
    let shifts =
        final_schedule(&s, ts("2026-03-28T23:00:00Z"), ts("2026-03-29T02:00:00Z")).unwrap();
    let got: Vec<_> = shifts
        .iter()
        .map(|s| {
            (
                s.person.as_str(),
                s.start.to_string(),
                s.duration().as_mins(),
            )
        })
        .collect();
    let want = [
        ("alice", "2026-03-28T23:00:00Z", 30),
        ("bob", "2026-03-28T23:30:00Z", 30),
        ("alice", "2026-03-29T00:00:00Z", 30),
        ("bob", "2026-03-29T00:30:00Z", 30),
        ("alice", "2026-03-29T01:00:00Z", 30),
        ("bob", "2026-03-29T01:30:00Z", 30),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(p, s, m)| (*p, s.to_string(), *m))
        .collect();
    assert_eq!(got, want);
    for pair in shifts.windows(2) {
        assert_eq!(pair[0].end, pair[1].start);
    }
    let now = who_is_on_call(&s, ts("2026-03-29T01:10:00Z")).unwrap();
    assert_eq!(
        (now.person.as_str(), now.start, now.end),
        (
            "alice",
            ts("2026-03-29T01:00:00Z"),
            ts("2026-03-29T01:30:00Z")
        )
    );
}
