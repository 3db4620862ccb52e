//! Random schedules — layers of every rotation length, in their own zones, with restriction
//! windows (overnight ones too), ends and overrides, around the 2026 daylight-saving changes of
//! zones that move by an hour or by half of one — against who is on call worked out by brute
//! force from the document: each handoff found by stepping from the first, each window tried on
//! the days around the instant, the highest source that has someone winning.

use jiff::civil::DateTime;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde_json::{Value, json};
use vigil_oncall::{
    Day, Schedule, coverage_gaps, final_schedule, local_to_timestamp, time_zone, who_is_on_call,
};
use vigil_testkit::Rng;

use crate::support::PEOPLE;

const ZONES: &[&str] = &[
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Asia/Kolkata",
    "UTC",
];

/// The days around which the schedules start: the 2026 changes of those zones.
const AROUND: &[&str] = &[
    "2026-03-08T00:00",
    "2026-03-29T00:00",
    "2026-04-05T00:00",
    "2026-10-04T00:00",
    "2026-10-25T00:00",
    "2026-11-01T00:00",
];

/// A window as written: opening and closing minute, its length, the days it opens on.
struct Window {
    from: i64,
    to: i64,
    len: i64,
    days: Vec<Day>,
}

/// A layer as written, with what the brute force needs of it.
struct Layer {
    people: Vec<&'static str>,
    step: SignedDuration,
    start: DateTime,
    zone: jiff::tz::TimeZone,
    end: Option<DateTime>,
    windows: Vec<Window>,
}

struct Override {
    person: &'static str,
    start: Timestamp,
    end: Timestamp,
}

fn time_text(minutes: i64) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// A random local time near `base`, on a whole quarter of an hour.
fn near(rng: &mut Rng, base: DateTime, days: i64) -> DateTime {
    base.checked_add(SignedDuration::from_mins(
        (rng.below((days * 96) as usize) as i64 - days * 48) * 15,
    ))
    .unwrap()
}

/// Who the document puts on call at `at`: the last override holding it, else the last layer
/// that has someone then.
fn by_hand<'a>(layers: &'a [Layer], overrides: &'a [Override], at: Timestamp) -> Option<&'a str> {
    if let Some(o) = overrides.iter().rev().find(|o| o.start <= at && at < o.end) {
        return Some(o.person);
    }
    layers.iter().rev().find_map(|l| {
        let instant = |local: DateTime| local_to_timestamp(&l.zone, local).unwrap();
        let handoff = |k: i64| instant(l.start.checked_add(l.step * k as i32).unwrap());
        if at < handoff(0) || l.end.is_some_and(|end| at >= instant(end)) {
            return None;
        }
        let mut k = 0;
        while handoff(k + 1) <= at {
            k += 1;
        }
        let day = l.zone.to_datetime(at).date();
        let open = l.windows.is_empty()
            || (-2..=1).any(|d| {
                let day = day.checked_add(d.days()).unwrap();
                let midnight = day.to_datetime(jiff::civil::Time::midnight());
                l.windows.iter().any(|w| {
                    let opens = instant(
                        midnight
                            .checked_add(SignedDuration::from_mins(w.from))
                            .unwrap(),
                    );
                    let closes = instant(
                        midnight
                            .checked_add(SignedDuration::from_mins(w.from + w.len))
                            .unwrap(),
                    );
                    w.days.contains(&Day::of(day.weekday())) && opens <= at && at < closes
                })
            });
        open.then(|| l.people[k as usize % l.people.len()])
    })
}

#[test]
fn random_schedules_put_on_call_whom_the_document_says() {
    const ROTATIONS: &[(&str, i64)] = &[
        ("daily", 24 * 60),
        ("weekly", 7 * 24 * 60),
        ("12h", 12 * 60),
        ("8h", 8 * 60),
        ("90m", 90),
        ("1d 12h", 36 * 60),
        ("7h", 7 * 60),
    ];
    let mut rng = Rng::new(24 * 7 * 365);
    let (mut instants, mut nobody) = (0, 0);
    for round in 0..120 {
        let base: DateTime = AROUND[rng.below(AROUND.len())].parse().unwrap();
        let zone_name = ZONES[rng.below(ZONES.len())];
        let zone = time_zone(zone_name).unwrap();
        let mut layers = Vec::new();
        let mut layer_docs = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let people: Vec<&str> = (0..1 + rng.below(3))
                .map(|_| PEOPLE[rng.below(PEOPLE.len())])
                .collect();
            let (rotation, minutes) = ROTATIONS[rng.below(ROTATIONS.len())];
            let own_zone = (rng.below(3) == 0).then(|| ZONES[rng.below(ZONES.len())]);
            let start = near(&mut rng, base, 6);
            let end = (rng.below(3) == 0).then(|| {
                start
                    .checked_add(SignedDuration::from_mins(15 * (1 + rng.below(800) as i64)))
                    .unwrap()
            });
            let windows: Vec<Window> = (0..rng.below(3))
                .map(|_| {
                    let from = rng.below(48) as i64 * 30;
                    let to = Some(30 + rng.below(48) as i64 * 30)
                        .filter(|to| *to != from)
                        .unwrap_or(from + 30);
                    let days: Vec<Day> = Day::every_day()
                        .into_iter()
                        .filter(|_| rng.below(3) > 0)
                        .collect();
                    let len = if to > from {
                        to - from
                    } else {
                        1440 - from + to
                    };
                    Window {
                        from,
                        to,
                        len,
                        days,
                    }
                })
                .filter(|w| !w.days.is_empty())
                .collect();
            let mut doc = json!({
                "people": people,
                "rotation": rotation,
                "start": start.to_string(),
                "restrictions": windows.iter().map(|w| json!({
                    "days": w.days,
                    "from": time_text(w.from),
                    "to": time_text(w.to),
                })).collect::<Vec<Value>>(),
            });
            if let Some(z) = own_zone {
                doc["time_zone"] = json!(z);
            }
            if let Some(end) = end {
                doc["end"] = json!(end.to_string());
            }
            layer_docs.push(doc);
            layers.push(Layer {
                people,
                step: SignedDuration::from_mins(minutes),
                start,
                zone: own_zone.map_or(zone.clone(), |z| time_zone(z).unwrap()),
                end,
                windows,
            });
        }
        let mut overrides = Vec::new();
        let mut override_docs = Vec::new();
        for _ in 0..rng.below(3) {
            let start = near(&mut rng, base, 3);
            let end = start
                .checked_add(SignedDuration::from_mins(15 * (1 + rng.below(200) as i64)))
                .unwrap();
            let person = PEOPLE[rng.below(PEOPLE.len())];
            override_docs.push(json!({
                "person": person,
                "start": start.to_string(),
                "end": end.to_string(),
            }));
            overrides.push(Override {
                person,
                start: local_to_timestamp(&zone, start).unwrap(),
                end: local_to_timestamp(&zone, end).unwrap(),
            });
        }
        let document = json!({
            "name": format!("s{round}"),
            "time_zone": zone_name,
            "layers": layer_docs,
            "overrides": override_docs,
        });
        let schedule: Schedule = serde_json::from_value(document.clone()).unwrap();
        let schedule = schedule
            .validate(PEOPLE)
            .unwrap_or_else(|e| panic!("{e}\n{document:#}"));

        let from = local_to_timestamp(&zone, near(&mut rng, base, 2)).unwrap();
        let to = from
            .checked_add(SignedDuration::from_hours(1 + rng.below(96) as i64))
            .unwrap();
        let shifts = final_schedule(&schedule, from, to).unwrap();
        let gaps = coverage_gaps(&schedule, from, to).unwrap();
        let label = format!("round {round}: {document:#}");
        // The shifts and the gaps cut the range into pieces, in order, none left out.
        let mut pieces: Vec<(Timestamp, Timestamp, Option<&str>)> = shifts
            .iter()
            .map(|s| (s.start, s.end, Some(s.person.as_str())))
            .chain(gaps.iter().map(|g| (g.start, g.end, None)))
            .collect();
        pieces.sort_by_key(|p| p.0);
        assert_eq!(pieces.first().map(|p| p.0), Some(from), "{label}");
        assert_eq!(pieces.last().map(|p| p.1), Some(to), "{label}");
        for pair in pieces.windows(2) {
            assert_eq!(pair[0].1, pair[1].0, "{label}");
            assert!(
                pair[0].2.is_none() || pair[0].2 != pair[1].2,
                "the same person's touching shifts are one: {pair:?}\n{label}"
            );
        }
        // Each piece is whom the document says at its first and last second, and at instants
        // between; who_is_on_call says the same, with a shift that holds the instant.
        let second = SignedDuration::from_secs(1);
        for &(start, end, person) in &pieces {
            assert!(start < end, "{label}");
            let inside = (0..4).map(|_| {
                let span = end.duration_since(start).as_secs();
                start
                    .checked_add(SignedDuration::from_secs(rng.below(span as usize) as i64))
                    .unwrap()
            });
            for at in [start, end.checked_sub(second).unwrap()]
                .into_iter()
                .chain(inside.collect::<Vec<_>>())
            {
                let expected = by_hand(&layers, &overrides, at);
                assert_eq!(person, expected, "final schedule at {at}: {label}");
                let on_call = who_is_on_call(&schedule, at);
                assert_eq!(
                    on_call.as_ref().map(|o| o.person.as_str()),
                    expected,
                    "who is on call at {at}: {label}"
                );
                if let Some(o) = on_call {
                    assert!(o.start <= at && at < o.end, "{o:?} at {at}: {label}");
                    let last = o.end.checked_sub(second).unwrap();
                    assert_eq!(by_hand(&layers, &overrides, o.start), expected, "{label}");
                    assert_eq!(by_hand(&layers, &overrides, last), expected, "{label}");
                }
                instants += 1;
                nobody += usize::from(expected.is_none());
            }
        }
    }
    assert!(
        instants > 2_000 && nobody > 200 && nobody < instants / 2,
        "{instants} instants, {nobody} with nobody on call"
    );
}
