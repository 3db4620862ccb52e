//! Daily, weekly and custom rotations, layer precedence and overrides.

use serde_json::json;
use vigil_oncall::{Schedule, Source, final_schedule, who_is_on_call};

use crate::support::{PEOPLE, at, check_who, rows, schedule, ts};

#[test]
fn daily_rotation_hands_off_every_day_at_the_start_time() {
    let s = schedule(json!({
        "name": "daily", "time_zone": "Europe/Berlin",
        "layers": [{"people": ["alice", "bob", "carol"], "rotation": "daily",
                    "start": "2026-01-05T09:00"}],
    }));
    check_who(
        &s,
        &[
            ("2026-01-05T08:59", None),
            ("2026-01-05T09:00", Some("alice")),
            ("2026-01-06T08:59", Some("alice")),
            ("2026-01-06T09:00", Some("bob")),
            ("2026-01-07T12:00", Some("carol")),
            ("2026-01-08T09:00", Some("alice")),
            // Far ahead: 2026-12-31 is day 360 after the start, 360 % 3 == 0.
            ("2026-12-31T09:00", Some("alice")),
            ("2026-12-31T08:59", Some("carol")),
            // An instant written in UTC: 08:00Z is 09:00 in Berlin in January.
            ("2026-01-06T07:59:59Z", Some("alice")),
            ("2026-01-06T08:00:00Z", Some("bob")),
        ],
    );
}

#[test]
fn weekly_rotation_hands_off_on_the_start_weekday() {
    let s = schedule(json!({
        "name": "weekly", "time_zone": "America/New_York",
        "layers": [{"people": ["dana", "eve"], "rotation": "weekly",
                    "start": "2026-01-05T10:00"}],
    }));
    check_who(
        &s,
        &[
            ("2026-01-05T10:00", Some("dana")),
            ("2026-01-11T23:59", Some("dana")),
            ("2026-01-12T09:59", Some("dana")),
            ("2026-01-12T10:00", Some("eve")),
            ("2026-01-19T10:00", Some("dana")),
            ("2026-01-26T10:00", Some("eve")),
        ],
    );
    let now = who_is_on_call(&s, at(&s, "2026-01-14T12:00")).unwrap();
    assert_eq!(now.start, ts("2026-01-12T15:00Z"));
    assert_eq!(now.end, ts("2026-01-19T15:00Z"));
    assert_eq!(now.duration().as_hours(), 168);
}

#[test]
fn custom_shift_lengths_of_12h_and_8h() {
    let s = schedule(json!({
        "name": "custom", "time_zone": "Europe/Berlin",
        "layers": [{"people": ["alice", "bob"], "rotation": "12h",
                    "start": "2026-01-05T08:00"}],
    }));
    check_who(
        &s,
        &[
            ("2026-01-05T08:00", Some("alice")),
            ("2026-01-05T19:59", Some("alice")),
            ("2026-01-05T20:00", Some("bob")),
            ("2026-01-06T07:59", Some("bob")),
            ("2026-01-06T08:00", Some("alice")),
            ("2026-01-10T20:00", Some("bob")),
        ],
    );
    let s = schedule(json!({
        "name": "three-shifts", "time_zone": "Asia/Tokyo",
        "layers": [{"people": ["ken", "yui", "frank"], "rotation": "8h",
                    "start": "2026-02-01T06:00"}],
    }));
    check_who(
        &s,
        &[
            ("2026-02-01T06:00", Some("ken")),
            ("2026-02-01T14:00", Some("yui")),
            ("2026-02-01T22:00", Some("frank")),
            ("2026-02-02T05:59", Some("frank")),
            ("2026-02-02T06:00", Some("ken")),
        ],
    );
}

#[test]
fn a_one_person_rotation_is_one_merged_shift() {
    let s = schedule(json!({
        "name": "solo", "time_zone": "UTC",
        "layers": [{"people": ["alice"], "rotation": "daily", "start": "2026-01-01T00:00"}],
    }));
    let shifts = final_schedule(&s, ts("2026-01-01T00:00Z"), ts("2026-01-08T00:00Z")).unwrap();
    assert_eq!(shifts.len(), 1, "{shifts:?}");
    assert_eq!(shifts[0].duration().as_hours(), 7 * 24);
    // who_is_on_call reports the rotation's own shift, handoff to handoff.
    let now = who_is_on_call(&s, ts("2026-01-03T12:00Z")).unwrap();
    assert_eq!(
        (now.start, now.end),
        (ts("2026-01-03T00:00Z"), ts("2026-01-04T00:00Z"))
    );
}

/// Layer 0 is 24x7, layer 1 business hours on top of it, and two overrides on top of both.
fn layered() -> vigil_oncall::ValidSchedule {
    schedule(json!({
        "name": "layered", "time_zone": "Europe/Berlin",
        "layers": [
            {"name": "base", "people": ["alice", "bob"], "rotation": "daily",
             "start": "2026-01-05T09:00"},
            {"name": "business hours", "people": ["carol"], "rotation": "weekly",
             "start": "2026-01-05T00:00",
             "restrictions": [{"days": ["mon", "tue", "wed", "thu", "fri"],
                               "from": "09:00", "to": "17:00"}]},
        ],
        "overrides": [
            {"person": "zoe", "start": "2026-01-06T12:00", "end": "2026-01-06T14:00"},
            {"person": "dana", "start": "2026-01-06T12:00:00Z",
             "end": "2026-01-06T15:00[Europe/Berlin]"},
        ],
    }))
}

#[test]
fn later_layers_win_and_earlier_ones_show_through() {
    let s = layered();
    check_who(
        &s,
        &[
            ("2026-01-05T10:00", Some("carol")),
            ("2026-01-05T17:00", Some("alice")),
            ("2026-01-05T18:00", Some("alice")),
            ("2026-01-06T08:59", Some("alice")),
            ("2026-01-06T09:00", Some("carol")),
            ("2026-01-09T16:59", Some("carol")),
            // Saturday: no business hours, the base layer (day 5 → bob).
            ("2026-01-10T10:00", Some("bob")),
        ],
    );
    let evening = who_is_on_call(&s, at(&s, "2026-01-05T18:00")).unwrap();
    assert_eq!(
        evening.source,
        Source::Layer {
            index: 0,
            name: Some("base".into())
        }
    );
    // alice's shift as it shows: from when carol's window closed to the next handoff.
    assert_eq!(evening.start, at(&s, "2026-01-05T17:00"));
    assert_eq!(evening.end, at(&s, "2026-01-06T09:00"));
    let morning = who_is_on_call(&s, at(&s, "2026-01-05T10:00")).unwrap();
    assert_eq!(
        (morning.start, morning.end),
        (at(&s, "2026-01-05T09:00"), at(&s, "2026-01-05T17:00"))
    );
}

#[test]
fn overrides_beat_every_layer_and_later_overrides_beat_earlier_ones() {
    let s = layered();
    check_who(
        &s,
        &[
            ("2026-01-06T11:59", Some("carol")),
            ("2026-01-06T12:00", Some("zoe")),
            ("2026-01-06T12:59", Some("zoe")),
            // dana's override (12:00Z = 13:00 Berlin) overlaps zoe's and is later: it wins.
            ("2026-01-06T13:00", Some("dana")),
            ("2026-01-06T14:00", Some("dana")),
            ("2026-01-06T14:59", Some("dana")),
            ("2026-01-06T15:00", Some("carol")),
        ],
    );
    let zoe = who_is_on_call(&s, at(&s, "2026-01-06T12:30")).unwrap();
    assert_eq!(zoe.source, Source::Override { index: 0 });
    assert_eq!(zoe.start, at(&s, "2026-01-06T12:00"));
    // Cut short where the later override takes over.
    assert_eq!(zoe.end, at(&s, "2026-01-06T13:00"));
    let carol = who_is_on_call(&s, at(&s, "2026-01-06T16:00")).unwrap();
    assert_eq!(carol.start, at(&s, "2026-01-06T15:00"));
    assert_eq!(carol.end, at(&s, "2026-01-06T17:00"));

    let day = final_schedule(&s, at(&s, "2026-01-06T00:00"), at(&s, "2026-01-07T00:00")).unwrap();
    let people: Vec<_> = day.iter().map(|s| s.person.as_str()).collect();
    assert_eq!(people, ["alice", "carol", "zoe", "dana", "carol", "bob"]);
    assert_eq!(day[0].end, at(&s, "2026-01-06T09:00"));
    assert_eq!(day[3].sources, [Source::Override { index: 1 }]);
}

#[test]
fn same_person_from_two_sources_is_one_shift_listing_both() {
    let s = schedule(json!({
        "name": "merge", "time_zone": "UTC",
        "layers": [{"people": ["alice", "bob"], "rotation": "daily", "start": "2026-01-01T00:00"}],
        "overrides": [{"person": "alice", "start": "2026-01-01T20:00Z", "end": "2026-01-02T04:00Z"}],
    }));
    let got = rows(&final_schedule(&s, ts("2026-01-01T00:00Z"), ts("2026-01-02T12:00Z")).unwrap());
    let want = [
        ("alice", "2026-01-01T00:00:00Z", "2026-01-02T04:00:00Z", 28),
        ("bob", "2026-01-02T04:00:00Z", "2026-01-02T12:00:00Z", 8),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(p, s, e, h)| (p.to_string(), s.to_string(), e.to_string(), *h))
        .collect();
    assert_eq!(got, want);
    let merged = &final_schedule(&s, ts("2026-01-01T00:00Z"), ts("2026-01-02T12:00Z")).unwrap()[0];
    assert_eq!(
        merged.sources,
        [
            Source::Layer {
                index: 0,
                name: None
            },
            Source::Override { index: 0 }
        ]
    );
}

#[test]
fn schedules_round_trip_through_their_document_form() {
    let doc = json!({
        "name": "round-trip", "time_zone": "Europe/Berlin",
        "layers": [{"name": "days", "people": ["alice"], "rotation": "1d 12h",
                    "start": "2026-01-05T09:00", "time_zone": "Asia/Tokyo",
                    "end": "2026-06-01T09:00",
                    "restrictions": [{"days": ["sat", "sun"], "from": "22:00", "to": "06:00"}]}],
        "overrides": [{"person": "bob", "start": "2026-01-06T12:00[Europe/Berlin]",
                       "end": "2026-01-06T14:00:00Z"}],
    });
    let s: Schedule = serde_json::from_value(doc).unwrap();
    let written = serde_json::to_value(&s).unwrap();
    assert_eq!(written["layers"][0]["rotation"], "36h");
    assert_eq!(written["layers"][0]["start"], "2026-01-05T09:00:00");
    assert_eq!(written["layers"][0]["restrictions"][0]["to"], "06:00");
    assert_eq!(
        written["overrides"][0]["start"],
        "2026-01-06T12:00:00[Europe/Berlin]"
    );
    let again: Schedule = serde_json::from_value(written).unwrap();
    assert_eq!(again, s);

    // A rotation that cannot be read still reads as a document (so that validation reports it
    // beside every other problem), and is written back as it was.
    let bad = json!({"name": "x", "time_zone": "UTC",
                     "layers": [{"people": ["alice"], "rotation": "fortnightly",
                                 "start": "2026-01-05T09:00"}]});
    let s = serde_json::from_value::<Schedule>(bad).unwrap();
    assert_eq!(
        serde_json::to_value(&s).unwrap()["layers"][0]["rotation"],
        "fortnightly"
    );
    let err = s.validate(PEOPLE).unwrap_err().to_string();
    assert!(
        err.contains("layers[0].rotation: cannot read rotation \"fortnightly\"; write daily, weekly, or a shift length"),
        "{err}"
    );
    let typo = json!({"name": "x", "time_zone": "UTC", "layer": []});
    assert!(serde_json::from_value::<Schedule>(typo).is_err());
}
