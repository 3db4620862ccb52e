//! Coverage reports: planted gaps found with their exact bounds; long ranges bounded.

use serde_json::json;
use vigil_oncall::{
    Gap, MAX_RANGE_DAYS, MAX_SEGMENTS, RangeError, coverage_gaps, final_schedule, who_is_on_call,
};

use crate::support::{at, schedule, ts};

#[test]
fn business_hours_only_leaves_nights_and_weekends_uncovered() {
    let s = schedule(json!({
        "name": "office", "time_zone": "Europe/Berlin",
        "layers": [{"people": ["alice", "bob"], "rotation": "weekly", "start": "2026-01-05T09:00",
                    "restrictions": [{"days": ["mon", "tue", "wed", "thu", "fri"],
                                      "from": "09:00", "to": "17:00"}]}],
    }));
    let gaps = coverage_gaps(&s, at(&s, "2026-01-05T00:00"), at(&s, "2026-01-12T00:00")).unwrap();
    let local = |g: &Gap| {
        let tz = s.time_zone();
        (
            tz.to_datetime(g.start).to_string(),
            tz.to_datetime(g.end).to_string(),
        )
    };
    let got: Vec<_> = gaps.iter().map(local).collect();
    let want = [
        ("2026-01-05T00:00:00", "2026-01-05T09:00:00"),
        ("2026-01-05T17:00:00", "2026-01-06T09:00:00"),
        ("2026-01-06T17:00:00", "2026-01-07T09:00:00"),
        ("2026-01-07T17:00:00", "2026-01-08T09:00:00"),
        ("2026-01-08T17:00:00", "2026-01-09T09:00:00"),
        ("2026-01-09T17:00:00", "2026-01-12T00:00:00"),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(s, e)| (s.to_string(), e.to_string()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(gaps[5].start, ts("2026-01-09T16:00:00Z"));
    assert_eq!(gaps[5].duration().as_hours(), 55);
}

#[test]
fn a_gap_between_one_layers_end_and_the_next_ones_start() {
    let s = schedule(json!({
        "name": "handover", "time_zone": "Europe/Berlin",
        "layers": [
            {"name": "old team", "people": ["alice"], "rotation": "daily",
             "start": "2026-01-01T09:00", "end": "2026-02-01T09:00"},
            {"name": "new team", "people": ["bob"], "rotation": "daily",
             "start": "2026-02-02T09:00"},
        ],
    }));
    let (from, to) = (at(&s, "2026-01-01T09:00"), at(&s, "2026-03-01T00:00"));
    let gaps = coverage_gaps(&s, from, to).unwrap();
    assert_eq!(
        gaps,
        [Gap {
            start: ts("2026-02-01T08:00:00Z"),
            end: ts("2026-02-02T08:00:00Z")
        }]
    );
    assert_eq!(who_is_on_call(&s, ts("2026-02-01T12:00:00Z")), None);
    let shifts = final_schedule(&s, from, to).unwrap();
    let got: Vec<_> = shifts
        .iter()
        .map(|s| (s.person.as_str(), s.start.to_string(), s.end.to_string()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "alice",
                "2026-01-01T08:00:00Z".into(),
                "2026-02-01T08:00:00Z".into()
            ),
            (
                "bob",
                "2026-02-02T08:00:00Z".into(),
                "2026-02-28T23:00:00Z".into()
            ),
        ]
    );
}

#[test]
fn a_year_of_hourly_shifts_is_computed_and_has_no_gap() {
    let s = schedule(json!({
        "name": "hourly", "time_zone": "Europe/Berlin",
        "layers": [{"people": ["alice", "bob", "carol"], "rotation": "1h",
                    "start": "2026-01-01T00:00"}],
    }));
    let (from, to) = (at(&s, "2026-01-01T00:00"), at(&s, "2027-01-01T00:00"));
    let shifts = final_schedule(&s, from, to).unwrap();
    // 8760 local hours; the 02:00 shift of 29 March falls in the gap and has no length, the
    // 02:00 shift of 25 October lasts two hours.
    assert_eq!(shifts.len(), 8759);
    let total: i64 = shifts.iter().map(|s| s.duration().as_secs()).sum();
    assert_eq!(total, 8760 * 3600);
    let long = shifts
        .iter()
        .filter(|s| s.duration().as_hours() == 2)
        .count();
    assert_eq!(long, 1);
    assert!(coverage_gaps(&s, from, to).unwrap().is_empty());
    // Far in the future the answer still costs one shift, not the years before it.
    let later = who_is_on_call(&s, ts("2099-06-01T12:34:00Z")).unwrap();
    assert_eq!(later.duration().as_hours(), 1);
}

#[test]
fn absurd_ranges_are_refused() {
    let s = schedule(json!({
        "name": "minutes", "time_zone": "UTC",
        "layers": [{"people": ["alice", "bob"], "rotation": "1m", "start": "2026-01-01T00:00"}],
    }));
    let from = ts("2026-01-01T00:00:00Z");
    assert!(matches!(
        final_schedule(&s, from, from),
        Err(RangeError::Empty { .. })
    ));
    assert!(matches!(
        coverage_gaps(&s, from, ts("2025-01-01T00:00:00Z")),
        Err(RangeError::Empty { .. })
    ));
    let err = coverage_gaps(&s, from, ts("2036-01-01T00:00:00Z")).unwrap_err();
    assert!(
        matches!(
            err,
            RangeError::TooLong {
                max_days: MAX_RANGE_DAYS,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("ask for at most 731 days"),
        "{err}"
    );
    // Two years of one-minute shifts: over a million.
    let err = final_schedule(&s, from, ts("2027-12-31T00:00:00Z")).unwrap_err();
    assert!(
        matches!(
            err,
            RangeError::TooManyShifts {
                max: MAX_SEGMENTS,
                ..
            }
        ),
        "{err}"
    );
    // A week of them is fine.
    let week = final_schedule(&s, from, ts("2026-01-08T00:00:00Z")).unwrap();
    assert_eq!(week.len(), 7 * 24 * 60);
}
