//! Follow-the-sun: three layers, each in its own zone with its own business hours, handing the
//! pager around the world on weekdays.

use serde_json::{Value, json};
use vigil_oncall::{Gap, Source, coverage_gaps, who_is_on_call};

use crate::support::{PEOPLE, check_who, schedule, ts};

fn region(name: &str, zone: &str, people: [&str; 2], from: &str, to: &str) -> Value {
    json!({
        "name": name, "time_zone": zone, "people": people, "rotation": "daily",
        "start": format!("2026-01-05T{from}"),
        "restrictions": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": from, "to": to}],
    })
}

/// Tokyo 09–17 JST, Berlin 09–17 and New York 11–19 local: in winter (CET, EST) that is
/// 00–08, 08–16 and 16–24 UTC, the whole weekday.
fn follow_the_sun() -> vigil_oncall::ValidSchedule {
    schedule(json!({
        "name": "follow-the-sun", "time_zone": "UTC",
        "layers": [
            region("apac", "Asia/Tokyo", ["ken", "yui"], "09:00", "17:00"),
            region("emea", "Europe/Berlin", ["anna", "ben"], "09:00", "17:00"),
            region("amer", "America/New_York", ["cole", "drew"], "11:00", "19:00"),
        ],
    }))
}

#[test]
fn the_pager_goes_round_the_world_on_weekdays() {
    let s = follow_the_sun();
    check_who(
        &s,
        &[
            ("2026-01-04T23:59:00Z", None),
            ("2026-01-05T00:00:00Z", Some("ken")),
            ("2026-01-05T07:59:00Z", Some("ken")),
            ("2026-01-05T08:00:00Z", Some("anna")),
            ("2026-01-05T15:59:00Z", Some("anna")),
            ("2026-01-05T16:00:00Z", Some("cole")),
            ("2026-01-05T23:59:00Z", Some("cole")),
            ("2026-01-06T00:00:00Z", Some("yui")),
            ("2026-01-06T12:00:00Z", Some("ben")),
            ("2026-01-07T12:00:00Z", Some("anna")),
            ("2026-01-09T23:59:00Z", Some("cole")),
            ("2026-01-10T00:00:00Z", None),
            ("2026-01-11T12:00:00Z", None),
            // Local times in the layer's own zone work too.
            ("2026-01-07T09:30[Asia/Tokyo]", Some("ken")),
            ("2026-01-07T18:30[America/New_York]", Some("cole")),
        ],
    );
    let tokyo = who_is_on_call(&s, ts("2026-01-07T03:00:00Z")).unwrap();
    assert_eq!(
        tokyo.source,
        Source::Layer {
            index: 0,
            name: Some("apac".into())
        }
    );
    assert_eq!(
        (tokyo.start, tokyo.end),
        (ts("2026-01-07T00:00:00Z"), ts("2026-01-07T08:00:00Z"))
    );
}

#[test]
fn in_winter_only_weekends_are_uncovered() {
    let s = follow_the_sun();
    let gaps = coverage_gaps(&s, ts("2026-01-05T00:00:00Z"), ts("2026-01-19T00:00:00Z")).unwrap();
    assert_eq!(
        gaps,
        [
            Gap {
                start: ts("2026-01-10T00:00:00Z"),
                end: ts("2026-01-12T00:00:00Z")
            },
            Gap {
                start: ts("2026-01-17T00:00:00Z"),
                end: ts("2026-01-19T00:00:00Z")
            },
        ]
    );
}

/// The same schedule in July: Berlin (CEST) now covers 07–15 UTC and overlaps Tokyo, New York
/// (EDT) 15–23 UTC: nobody has 23–24 UTC. The coverage report finds the hour on every weekday.
#[test]
fn in_summer_daylight_saving_opens_an_hour_every_weekday_night() {
    let s = follow_the_sun();
    check_who(
        &s,
        &[
            ("2026-07-06T06:59:00Z", Some("ken")),
            // The overlap 07–08 UTC: the later layer (Berlin) wins.
            ("2026-07-06T07:30:00Z", Some("anna")),
            ("2026-07-06T22:59:00Z", Some("cole")),
            ("2026-07-06T23:30:00Z", None),
        ],
    );
    let tokyo = who_is_on_call(&s, ts("2026-07-06T03:00:00Z")).unwrap();
    // Cut short where Berlin takes over.
    assert_eq!(
        (tokyo.start, tokyo.end),
        (ts("2026-07-06T00:00:00Z"), ts("2026-07-06T07:00:00Z"))
    );

    let gaps = coverage_gaps(&s, ts("2026-07-06T00:00:00Z"), ts("2026-07-13T00:00:00Z")).unwrap();
    let got: Vec<_> = gaps
        .iter()
        .map(|g| (g.start.to_string(), g.end.to_string()))
        .collect();
    let want = [
        ("2026-07-06T23:00:00Z", "2026-07-07T00:00:00Z"),
        ("2026-07-07T23:00:00Z", "2026-07-08T00:00:00Z"),
        ("2026-07-08T23:00:00Z", "2026-07-09T00:00:00Z"),
        ("2026-07-09T23:00:00Z", "2026-07-10T00:00:00Z"),
        ("2026-07-10T23:00:00Z", "2026-07-13T00:00:00Z"),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(s, e)| (s.to_string(), e.to_string()))
        .collect();
    assert_eq!(got, want);
}

/// A layer's start written in another zone than the schedule's: the layer follows that zone's
/// clock, as if it were the layer's `time_zone` (09:00 in New York, summer and winter); an
/// instant places the first handoff exactly, the later ones at its local time of day in the
/// layer's zone. Neither is dropped.
#[test]
fn a_layer_start_in_another_zone_or_as_an_instant_is_honoured() {
    let zoned = schedule(json!({
        "name": "ny", "time_zone": "Europe/London",
        "layers": [{"people": ["alice", "bob"], "rotation": "daily",
                    "start": "2026-01-05T09:00[America/New_York]",
                    "end": "2026-07-10T09:00[America/New_York]"}],
    }));
    check_who(
        &zoned,
        &[
            ("2026-01-05T13:59:59Z", None),
            ("2026-01-05T14:00:00Z", Some("alice")),
            ("2026-01-06T13:59:59Z", Some("alice")),
            ("2026-01-06T14:00:00Z", Some("bob")),
            // New York is on summer time from 8 March, London only from 29 March: 13:00Z.
            ("2026-03-10T12:59:59Z", Some("bob")),
            ("2026-03-10T13:00:00Z", Some("alice")),
            // The end is New York's 09:00 too.
            ("2026-07-10T12:59:59Z", Some("bob")),
            ("2026-07-10T13:00:00Z", None),
        ],
    );
    // Written back with its zone, so applying it over the plain form is a change.
    let written = serde_json::to_value(zoned.schedule()).unwrap();
    assert_eq!(
        written["layers"][0]["start"],
        "2026-01-05T09:00:00[America/New_York]"
    );

    let offset = schedule(json!({
        "name": "offset", "time_zone": "Europe/London",
        "layers": [{"people": ["alice", "bob"], "rotation": "daily",
                    "start": "2026-01-05T09:00-05:00"}],
    }));
    check_who(
        &offset,
        &[
            ("2026-01-05T13:59:59Z", None),
            ("2026-01-05T14:00:00Z", Some("alice")),
            ("2026-01-06T14:00:00Z", Some("bob")),
            // 14:00 in London, summer time from 29 March: 13:00Z.
            ("2026-04-01T12:59:59Z", Some("bob")),
            ("2026-04-01T13:00:00Z", Some("alice")),
        ],
    );
    let written = serde_json::to_value(offset.schedule()).unwrap();
    assert_eq!(written["layers"][0]["start"], "2026-01-05T14:00:00Z");

    // A start in one zone and a layer in another is refused, naming both.
    let s: vigil_oncall::Schedule = serde_json::from_value(json!({
        "name": "both", "time_zone": "UTC",
        "layers": [{"people": ["alice"], "rotation": "daily", "time_zone": "Europe/Paris",
                    "start": "2026-01-05T09:00[America/New_York]"}],
    }))
    .unwrap();
    let err = s.validate(PEOPLE).unwrap_err();
    assert_eq!(
        err.errors[0].to_string(),
        "layers[0].start: is written in America/New_York but the layer's time_zone is \
         Europe/Paris; a layer follows one zone's clock: write the start without a zone, or give \
         the layer time_zone: America/New_York"
    );
}
