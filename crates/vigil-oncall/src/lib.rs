//! vigil-oncall: on-call schedules, pure and synchronous.
//!
//! A [`Schedule`] (as written, serde) has rotation [`Layer`]s and [`Override`]s.
//! [`Schedule::validate`] checks it against the directory of known people and returns a
//! [`ValidSchedule`] (or every problem, each naming its field), which the queries take:
//!
//! - [`who_is_on_call`]`(&schedule, instant)`: the person, the layer or override, the shift;
//! - [`final_schedule`]`(&schedule, from, to)`: the merged timeline of [`Shift`]s;
//! - [`coverage_gaps`]`(&schedule, from, to)`: every [`Gap`] in which nobody is on call.
//!
//! ```
//! use vigil_oncall::{Schedule, who_is_on_call};
//!
//! let doc = r#"{
//!     "name": "secops-primary", "time_zone": "Europe/Berlin",
//!     "layers": [
//!         {"name": "24x7", "people": ["alice", "bob"], "rotation": "weekly",
//!          "start": "2026-01-05T09:00"},
//!         {"name": "office", "people": ["carol"], "rotation": "daily",
//!          "start": "2026-01-05T09:00",
//!          "restrictions": [{"days": ["mon", "tue", "wed", "thu", "fri"],
//!                            "from": "09:00", "to": "17:00"}]}
//!     ],
//!     "overrides": [{"person": "dana", "start": "2026-01-10T00:00",
//!                    "end": "2026-01-11T00:00"}]
//! }"#;
//! let schedule: Schedule = serde_json::from_str(doc)?;
//! let schedule = schedule.validate(["alice", "bob", "carol", "dana"])?;
//! let now = "2026-01-06T20:00:00Z".parse()?;
//! let on_call = who_is_on_call(&schedule, now).expect("covered");
//! assert_eq!(on_call.person, "alice");
//! assert_eq!(on_call.end.to_string(), "2026-01-07T08:00:00Z"); // carol's window opens
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **The model** (PagerDuty's): each layer rotates its people shift by shift from its first
//! handoff; a layer may be restricted to local windows (09:00–17:00 Mon–Fri) and may end.
//! Where two layers both have someone, the later layer wins; overrides beat every layer, and a
//! later override beats an earlier one. A follow-the-sun schedule is one layer per region,
//! each in its own zone with its own business-hours window.
//!
//! **Time is wall-clock time.** Shift lengths, handoffs and windows are measured on the local
//! clock of the layer's zone, so a daily 09:00 handoff stays at 09:00 across daylight-saving
//! changes and the shift over the change lasts 23 or 25 hours. A local time that falls in a
//! gap or a fold is placed by one rule, [`local_to_timestamp`]: the first instant at which the
//! local clock reads that time or later (see [`zone`] for why not jiff's `compatible`).
//!
//! **Why jiff, and why 1.x.** jiff has the IANA database compiled in (`tzdb-bundle-always`,
//! read through `TimeZoneDatabase::bundled`), so results never depend on the machine's
//! `/usr/share/zoneinfo`; it reports gaps and folds explicitly (`AmbiguousOffset`), which the
//! handoff rule needs; it keeps civil (wall-clock) and absolute arithmetic apart, which is
//! exactly the difference between a handoff and an instant; and it serialises `Timestamp` and
//! `civil::DateTime` as RFC 3339 / ISO 8601 text. chrono-tz would add a generated zone table
//! and leave gap and fold handling to us on top of chrono's `LocalResult`. jiff 0.2 is already
//! in the build through `evtx`; this crate uses the stable 1.x line because its types are in
//! our public API, so both compile until `evtx` moves. Callers holding `chrono` instants
//! convert with `Timestamp::new(t.timestamp(), t.timestamp_subsec_nanos() as i32)`.
//!
//! **Invariant:** no I/O, no async, no SQL, no HTTP; the current time is always passed in.
//! Queries over a range are bounded ([`MAX_RANGE_DAYS`], [`MAX_SEGMENTS`]) and refuse more
//! with a [`RangeError`].

macro_rules! string_serde {
    ($ty:ty, $expecting:literal) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

pub mod error;
pub mod model;
pub mod org;
pub mod timeline;
pub mod validate;
pub mod zone;

pub use error::{InvalidSchedule, RangeError, ScheduleError};
pub use model::{
    Day, Layer, Override, Restriction, Rotation, Schedule, TimeOfDay, TimePoint, Written,
};
pub use org::{
    AlertRuleConfig, Contact, ContactKind, CoverageGap, EscalationLevel, EscalationPolicy,
    FirstReached, InvalidOrg, MAX_ALERT_WINDOW_SECS, MAX_ESCALATION_DELAY_SECS,
    MAX_ESCALATION_REPEATS, OrgDocument, OrgProblem, PageTarget, Person, Responder, ScheduleOnCall,
    ServiceLogsource, ServiceOwner, Team, TeamQueryError, ValidOrg, WebhookFormat, parse_after,
};
pub use timeline::{
    Gap, MAX_RANGE_DAYS, MAX_SEGMENTS, OnCall, Shift, Source, coverage_gaps, final_schedule,
    who_is_on_call,
};
pub use validate::{MAX_SHIFT, MIN_SHIFT, ValidSchedule};
pub use zone::{local_to_timestamp, time_zone};
