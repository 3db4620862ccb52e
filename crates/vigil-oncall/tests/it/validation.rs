//! Every validation error, each with the field it names.

use serde_json::json;
use vigil_oncall::{Schedule, ScheduleError};

use crate::support::PEOPLE;

fn problems(doc: serde_json::Value) -> Vec<ScheduleError> {
    let s: Schedule = serde_json::from_value(doc).expect("document reads");
    s.validate(PEOPLE)
        .expect_err("schedule must be refused")
        .errors
}

#[test]
fn every_problem_is_reported_with_its_field() {
    let errors = problems(json!({
        "name": " ",
        "time_zone": "Europe/Berln",
        "layers": [
            {"people": [], "rotation": "daily", "start": "2026-01-05T09:00"},
            {"people": ["alice", "mallory", "trent"], "rotation": "0h",
             "start": "2026-01-05T09:00"},
            {"people": ["bob"], "rotation": "-12h", "start": "2026-01-05T09:00",
             "time_zone": "Mars/Olympus_Mons", "end": "2026-01-05T09:00",
             "restrictions": [
                 {"days": [], "from": "09:00", "to": "17:00"},
                 {"from": "09:00", "to": "09:00"},
                 {"from": "24:00", "to": "06:00"},
             ]},
            {"people": ["carol"], "rotation": "90s", "start": "2026-01-05T09:00"},
            {"people": ["carol"], "rotation": "400d", "start": "2026-01-05T09:00"},
        ],
        "overrides": [
            {"person": "zoe", "start": "2026-01-06T14:00", "end": "2026-01-06T12:00"},
            {"person": "oscar", "start": "2026-01-06T12:00[Nowhere/City]",
             "end": "2026-01-06T14:00Z"},
        ],
    }));
    let got: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| {
            let kind = match e {
                ScheduleError::Empty { .. } => "empty",
                ScheduleError::NoLayers { .. } => "no layers",
                ScheduleError::UnknownTimeZone { .. } => "unknown time zone",
                ScheduleError::EmptyRotation { .. } => "empty rotation",
                ScheduleError::BadShiftLength { reason, .. } => reason,
                ScheduleError::UnknownPerson { .. } => "unknown person",
                ScheduleError::EmptyWindow { .. } => "empty window",
                ScheduleError::EndNotAfterStart { .. } => "end not after start",
                ScheduleError::OutOfRange { .. } => "out of range",
                ScheduleError::Unreadable { .. } => "unreadable",
                ScheduleError::Duplicate { .. } => "duplicate",
                ScheduleError::ZoneConflict { .. } => "zone conflict",
            };
            (e.field(), kind)
        })
        .collect();
    assert_eq!(
        got,
        [
            ("name", "empty"),
            ("time_zone", "unknown time zone"),
            ("layers[0].people", "empty rotation"),
            ("layers[1].people[1]", "unknown person"),
            ("layers[1].people[2]", "unknown person"),
            ("layers[1].rotation", "is zero"),
            ("layers[2].time_zone", "unknown time zone"),
            ("layers[2].rotation", "is negative"),
            ("layers[2].restrictions[0].days", "empty window"),
            ("layers[2].restrictions[1]", "empty window"),
            ("layers[2].restrictions[2].from", "empty window"),
            ("layers[2].end", "end not after start"),
            ("layers[3].rotation", "is not a whole number of minutes"),
            ("layers[4].rotation", "is longer than 365 days"),
            ("overrides[0].end", "end not after start"),
            ("overrides[1].person", "unknown person"),
            ("overrides[1].start", "unknown time zone"),
        ]
    );
}

#[test]
fn messages_name_the_value_and_say_what_to_write() {
    let errors = problems(json!({
        "name": "typos", "time_zone": "Europe/Berln",
        "layers": [{"people": ["alice", "mallory"], "rotation": "0h", "start": "2026-01-05T09:00",
                    "restrictions": [{"from": "09:00", "to": "09:00"}]}],
    }));
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "time_zone: unknown time zone \"Europe/Berln\"; did you mean Europe/Berlin?",
            "layers[0].people[1]: unknown person \"mallory\"; add them to the people list first \
             or fix the name",
            "layers[0].rotation: shift length 0s is zero; write a length such as 12h, 8h or 2d",
            "layers[0].restrictions[0]: the window is empty (it opens and closes at 09:00); give \
             at least one day and a `to` different from `from`, e.g. from 09:00 to 17:00; for a \
             whole day write from 00:00 to 24:00",
        ]
    );
    let s: Schedule = serde_json::from_value(json!({
        "name": "typos", "time_zone": "Mars/Base",
        "layers": [{"people": ["alice"], "rotation": "daily", "start": "2026-01-05T09:00"}],
    }))
    .unwrap();
    let err = s.validate(PEOPLE).unwrap_err().to_string();
    assert_eq!(
        err,
        "schedule \"typos\" is invalid: time_zone: unknown time zone \"Mars/Base\"; write an \
         IANA name such as Europe/Berlin, America/New_York or UTC"
    );
}

#[test]
fn a_schedule_needs_a_layer_but_layers_may_overlap() {
    let errors = problems(json!({"name": "empty", "time_zone": "UTC"}));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field(), "layers");

    let overlapping: Schedule = serde_json::from_value(json!({
        "name": "overlap", "time_zone": "UTC",
        "layers": [
            {"people": ["alice"], "rotation": "daily", "start": "2026-01-05T09:00"},
            {"people": ["bob"], "rotation": "12h", "start": "2026-01-05T09:00"},
        ],
        "overrides": [
            {"person": "carol", "start": "2026-01-06T00:00Z", "end": "2026-01-07T00:00Z"},
            {"person": "dana", "start": "2026-01-06T12:00Z", "end": "2026-01-06T13:00Z"},
        ],
    }))
    .unwrap();
    let valid = overlapping.validate(PEOPLE).unwrap();
    assert_eq!(
        valid.people().into_iter().collect::<Vec<_>>(),
        ["alice", "bob", "carol", "dana"]
    );
}

#[test]
fn people_are_checked_against_the_directory_given() {
    let s: Schedule = serde_json::from_value(json!({
        "name": "directory", "time_zone": "UTC",
        "layers": [{"people": ["alice", "Alice"], "rotation": "daily",
                    "start": "2026-01-05T09:00"}],
    }))
    .unwrap();
    let directory: std::collections::BTreeSet<String> = ["alice".to_owned()].into();
    let err = s.validate(&directory).unwrap_err();
    assert_eq!(err.errors.len(), 1);
    assert_eq!(err.errors[0].field(), "layers[0].people[1]");
    assert!(s.validate(["alice", "Alice"]).is_ok());
}

/// A bad time, length or time of day does not stop the reading of the document: each is
/// reported with its field and what to write, beside every other problem.
#[test]
fn unreadable_times_and_lengths_are_reported_with_every_other_problem() {
    let errors = problems(json!({
        "name": "typos", "time_zone": "UTC",
        "layers": [
            {"name": "days", "people": ["alice", "mallory"], "rotation": "25x",
             "start": "2026-13-30T09:00"},
            {"name": "days", "people": ["bob"], "rotation": 12, "start": "2026-01-05T09:00",
             "end": "next week",
             "restrictions": [{"from": "25:00", "to": "17:00"}, {"from": "9", "to": "17:00"}]},
            {"people": ["bob"], "rotation": "1 month", "start": "2026-01-05T09:00"},
        ],
        "overrides": [{"person": "alice", "start": "2026-01-06T09:00Z", "end": "tomorrow"}],
    }));
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let fields: Vec<&str> = errors.iter().map(ScheduleError::field).collect();
    assert_eq!(
        fields,
        [
            "layers[0].people[1]",
            "layers[0].rotation",
            "layers[0].start",
            "layers[1].name",
            "layers[1].rotation",
            "layers[1].restrictions[0].from",
            "layers[1].restrictions[1].from",
            "layers[1].end",
            "layers[2].rotation",
            "overrides[0].end",
        ],
        "{text:#?}"
    );
    let hint = "write daily, weekly, or a shift length in weeks, days, hours and minutes such as \
                12h, 8h, 2d or 1d 12h";
    assert_eq!(
        text[1],
        format!("layers[0].rotation: cannot read rotation \"25x\"; {hint}")
    );
    assert!(!text[1].contains("year"), "{}", text[1]);
    assert!(
        text[2].starts_with("layers[0].start: cannot read time \"2026-13-30T09:00\"")
            && text[2].ends_with("or a local time such as 2026-03-28T23:00"),
        "{}",
        text[2]
    );
    assert_eq!(
        text[3],
        "layers[1].name: \"days\" is the name of an earlier layer of this schedule; give each \
         layer its own name"
    );
    assert_eq!(
        text[4],
        format!("layers[1].rotation: cannot read rotation \"12\"; {hint}")
    );
    assert_eq!(
        text[5],
        "layers[1].restrictions[0].from: cannot read time of day \"25:00\"; write HH:MM, e.g. \
         09:00 or 24:00"
    );
    assert_eq!(
        text[8],
        format!(
            "layers[2].rotation: rotation \"1 month\" uses months or years, which have no fixed \
             length; {hint}"
        )
    );
}
