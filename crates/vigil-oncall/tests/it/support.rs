//! Helpers: build a schedule from a JSON document, read times, check tables of answers.

use jiff::Timestamp;
use vigil_oncall::{Schedule, ValidSchedule, who_is_on_call};

/// Everyone the scenario schedules may name.
pub const PEOPLE: &[&str] = &[
    "alice", "bob", "carol", "dana", "eve", "frank", "ken", "yui", "anna", "ben", "cole", "drew",
    "zoe",
];

/// A valid schedule from a JSON document; panics with the validation errors otherwise.
pub fn schedule(json: serde_json::Value) -> ValidSchedule {
    let s: Schedule = serde_json::from_value(json).expect("schedule document reads");
    s.validate(PEOPLE).unwrap_or_else(|e| panic!("{e}"))
}

/// A time written as in a document (`…Z`, `…[Zone]` or local in the schedule's zone).
pub fn at(s: &ValidSchedule, text: &str) -> Timestamp {
    let point = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
    s.resolve(&point).unwrap()
}

/// An exact instant.
pub fn ts(text: &str) -> Timestamp {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Checks a table of (time, expected person or nobody).
pub fn check_who(s: &ValidSchedule, cases: &[(&str, Option<&str>)]) {
    let mut failures = Vec::new();
    for (text, want) in cases {
        let got = who_is_on_call(s, at(s, text));
        let got = got.as_ref().map(|o| o.person.as_str());
        if got != *want {
            failures.push(format!("{text}: expected {want:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{}:\n{}",
        s.name(),
        failures.join("\n")
    );
}

/// The final schedule as (person, start, end, hours) rows, for compact assertions.
pub fn rows(shifts: &[vigil_oncall::Shift]) -> Vec<(String, String, String, i64)> {
    shifts
        .iter()
        .map(|s| {
            (
                s.person.clone(),
                s.start.to_string(),
                s.end.to_string(),
                s.duration().as_secs() / 3600,
            )
        })
        .collect()
}
