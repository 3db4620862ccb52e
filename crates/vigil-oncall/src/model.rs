//! The schedule as written: the serde types an `org.yaml` file or an API body reads into.
//!
//! Nothing here is checked beyond its textual format; [`Schedule::validate`] turns a
//! [`Schedule`] into a [`ValidSchedule`](crate::ValidSchedule), naming every field at fault.

use std::fmt;
use std::str::FromStr;

use jiff::civil::{DateTime, Weekday};
use jiff::{SignedDuration, Span, SpanRelativeTo, Timestamp};
use serde::{Deserialize, Serialize};

/// An on-call schedule: rotation layers, later ones taking precedence, and overrides on top.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// A short, unique name such as `secops-primary`.
    pub name: String,
    /// The IANA zone (`Europe/Berlin`) of local times written without a zone.
    pub time_zone: String,
    /// The rotation layers, lowest precedence first: where two layers both have someone on
    /// call, the later one wins.
    #[serde(default)]
    pub layers: Vec<Layer>,
    /// One-off replacements; they beat every layer, and a later override beats an earlier one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<Override>,
}

/// One rotation: people taking turns, shift by shift, from a first handoff on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// A label shown in answers (`who is on call … via "nights"`); optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The people in rotation order: the first handoff goes to the first of them.
    pub people: Vec<String>,
    /// How long each shift lasts on the local wall clock.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "weekly"))]
    pub rotation: Written<Rotation>,
    /// The first handoff: a local time in the layer's zone (`2026-01-05T09:00`); a local time
    /// in a named zone (`2026-01-05T09:00[America/New_York]`), which is then the zone the
    /// layer's handoffs and windows follow; or an instant (`…Z`, `…-05:00`), the first handoff
    /// exactly, the later ones at its local time of day in the layer's zone.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "2026-01-05T09:00"))]
    pub start: Written<TimePoint>,
    /// The layer's own IANA zone (for follow-the-sun); the schedule's zone when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// When the layer stops (exclusive), written as overrides' times are (a local time in the
    /// layer's zone, a zoned time or an instant); it runs forever when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub end: Option<Written<TimePoint>>,
    /// When present, the layer has someone on call only inside these local windows (their
    /// union); the rotation goes on underneath, so handoffs do not move.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restrictions: Vec<Restriction>,
}

/// A value of the document as written: read into its type, or kept as its text with why it
/// could not be read.
///
/// Times, lengths and times of day are read this way so that reading a document never stops
/// at the first bad one: [`Schedule::validate`] reports each, with its field and what to
/// write, beside every other problem of the document. Written back, a value is in its own
/// canonical form (an unreadable one as it was written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written<T> {
    /// Read.
    Read(T),
    /// Not readable as a `T`.
    Unreadable {
        /// The text as written.
        text: String,
        /// Why it cannot be read, and what to write instead.
        error: String,
    },
}

impl<T> Written<T> {
    /// The value, if it was read.
    pub fn get(&self) -> Option<&T> {
        match self {
            Written::Read(v) => Some(v),
            Written::Unreadable { .. } => None,
        }
    }
}

impl<T> From<T> for Written<T> {
    fn from(value: T) -> Self {
        Written::Read(value)
    }
}

impl<T: FromStr<Err = String>> FromStr for Written<T> {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.parse() {
            Ok(v) => Written::Read(v),
            Err(error) => Written::Unreadable {
                text: s.to_owned(),
                error,
            },
        })
    }
}

impl<T: fmt::Display> fmt::Display for Written<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Written::Read(v) => v.fmt(f),
            Written::Unreadable { text, .. } => f.write_str(text),
        }
    }
}

impl<T: fmt::Display> Serialize for Written<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de, T: FromStr<Err = String>> Deserialize<'de> for Written<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<T: FromStr<Err = String>> serde::de::Visitor<'_> for V<T> {
            type Value = Written<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a text such as 2026-01-05T09:00, 12h or 09:00")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Written<T>, E> {
                Ok(v.parse().unwrap_or_else(|never| match never {}))
            }
            // A YAML number (`rotation: 12`) is read as its text, and refused with the field.
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Written<T>, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Written<T>, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Written<T>, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A shift length on the local wall clock: `daily`, `weekly`, or a length such as `12h`.
///
/// Every length is measured on the local wall clock, not in elapsed time: a daily rotation at
/// 09:00 hands off at 09:00 local on both sides of a daylight-saving change, and a 12h rotation
/// from 09:00 at 09:00 and 21:00. The shift that spans the change is an hour shorter or longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// One local day.
    Daily,
    /// Seven local days.
    Weekly,
    /// A custom length, written `12h`, `8h`, `2d`, `1d 12h`, `90m` or ISO 8601 (`PT12H`).
    Every(SignedDuration),
}

impl Rotation {
    /// The shift length on the local wall clock.
    pub fn shift_length(&self) -> SignedDuration {
        match self {
            Rotation::Daily => SignedDuration::from_hours(24),
            Rotation::Weekly => SignedDuration::from_hours(24 * 7),
            Rotation::Every(d) => *d,
        }
    }
}

impl fmt::Display for Rotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rotation::Daily => f.write_str("daily"),
            Rotation::Weekly => f.write_str("weekly"),
            Rotation::Every(d) => write!(f, "{d:#}"),
        }
    }
}

impl FromStr for Rotation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        match t.to_ascii_lowercase().as_str() {
            "daily" => return Ok(Rotation::Daily),
            "weekly" => return Ok(Rotation::Weekly),
            _ => {}
        }
        // jiff's own message would offer units a rotation refuses (years, months): say ours.
        let hint = "write daily, weekly, or a shift length in weeks, days, hours and minutes \
                    such as 12h, 8h, 2d or 1d 12h";
        let span: Span = t
            .parse()
            .map_err(|_| format!("cannot read rotation {t:?}; {hint}"))?;
        span.to_duration(SpanRelativeTo::days_are_24_hours())
            .map(Rotation::Every)
            .map_err(|_| {
                format!("rotation {t:?} uses months or years, which have no fixed length; {hint}")
            })
    }
}

string_serde!(Rotation, "daily, weekly, or a shift length such as 12h");

/// A local window in which a layer has someone on call, e.g. 09:00–17:00 Monday to Friday.
///
/// The window starts at `from` on each listed day; when `to` is not after `from` it ends at
/// `to` the next day (`22:00`–`06:00` on Monday is Monday night). `24:00` is allowed as `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Restriction {
    /// The days on which the window starts; every day when absent.
    #[serde(default = "Day::every_day")]
    pub days: Vec<Day>,
    /// The local time the window opens.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "09:00"))]
    pub from: Written<TimeOfDay>,
    /// The local time the window closes (exclusive).
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "17:00"))]
    pub to: Written<TimeOfDay>,
}

/// A day of the week, written `mon` … `sun` (or in full, `monday`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Day {
    #[serde(alias = "monday")]
    Mon,
    #[serde(alias = "tuesday")]
    Tue,
    #[serde(alias = "wednesday")]
    Wed,
    #[serde(alias = "thursday")]
    Thu,
    #[serde(alias = "friday")]
    Fri,
    #[serde(alias = "saturday")]
    Sat,
    #[serde(alias = "sunday")]
    Sun,
}

impl Day {
    /// Monday to Sunday.
    pub fn every_day() -> Vec<Day> {
        vec![
            Day::Mon,
            Day::Tue,
            Day::Wed,
            Day::Thu,
            Day::Fri,
            Day::Sat,
            Day::Sun,
        ]
    }

    /// Monday to Friday.
    pub fn weekdays() -> Vec<Day> {
        Day::every_day()[..5].to_vec()
    }

    /// The day of a jiff weekday.
    pub fn of(weekday: Weekday) -> Day {
        match weekday {
            Weekday::Monday => Day::Mon,
            Weekday::Tuesday => Day::Tue,
            Weekday::Wednesday => Day::Wed,
            Weekday::Thursday => Day::Thu,
            Weekday::Friday => Day::Fri,
            Weekday::Saturday => Day::Sat,
            Weekday::Sunday => Day::Sun,
        }
    }
}

/// A local time of day to the minute, `HH:MM`, from `00:00` to `24:00` (the end of the day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    /// The end of the day, `24:00`.
    pub const END_OF_DAY: TimeOfDay = TimeOfDay(24 * 60);

    /// `hour:minute`; `None` unless it is within `00:00`–`24:00`.
    pub fn new(hour: u16, minute: u16) -> Option<TimeOfDay> {
        let m = hour.checked_mul(60)?.checked_add(minute)?;
        (minute < 60 && m <= 24 * 60).then_some(TimeOfDay(m))
    }

    /// Minutes since local midnight, 0 to 1440.
    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl FromStr for TimeOfDay {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("cannot read time of day {s:?}; write HH:MM, e.g. 09:00 or 24:00");
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return Err(bad());
        }
        let h: u16 = h.parse().map_err(|_| bad())?;
        let m: u16 = m.parse().map_err(|_| bad())?;
        TimeOfDay::new(h, m).ok_or_else(bad)
    }
}

string_serde!(TimeOfDay, "a time of day HH:MM");

/// Someone on call instead of the layers for an interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// Who is on call.
    pub person: String,
    /// When the override begins.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "2026-01-05T09:00"))]
    pub start: Written<TimePoint>,
    /// When it ends (exclusive); must be after `start`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub end: Written<TimePoint>,
}

/// A point in time as a person writes it.
///
/// - `2026-03-28T22:00:00Z` or `2026-03-28T23:00+01:00`: an exact instant;
/// - `2026-03-28T23:00[Europe/Berlin]`: a wall-clock time in a named zone;
/// - `2026-03-28T23:00`: a wall-clock time in the schedule's zone.
///
/// Wall-clock times go through the handoff rule of [`crate::local_to_timestamp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimePoint {
    /// An exact instant.
    Instant(Timestamp),
    /// A wall-clock time in a named IANA zone.
    Zoned {
        /// The local date-time.
        local: DateTime,
        /// The zone's IANA name, as written.
        time_zone: String,
    },
    /// A wall-clock time in the zone of whatever reads it (the schedule's).
    Local(DateTime),
}

impl fmt::Display for TimePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimePoint::Instant(t) => write!(f, "{t}"),
            TimePoint::Zoned { local, time_zone } => write!(f, "{local}[{time_zone}]"),
            TimePoint::Local(local) => write!(f, "{local}"),
        }
    }
}

impl FromStr for TimePoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use jiff::fmt::temporal::{Pieces, PiecesOffset, TimeZoneAnnotationKind};
        let hint = "write an instant such as 2026-03-28T22:00:00Z, a zoned time such as \
                    2026-03-28T23:00[Europe/Berlin], or a local time such as 2026-03-28T23:00";
        // jiff's own message speaks of its parser ("four digit integer as year"): say ours.
        let pieces =
            Pieces::parse(s.trim()).map_err(|_| format!("cannot read time {s:?}; {hint}"))?;
        let local = pieces.date().to_datetime(pieces.time().unwrap_or_default());
        let offset = match pieces.offset() {
            Some(PiecesOffset::Zulu) => Some(jiff::tz::Offset::UTC),
            Some(PiecesOffset::Numeric(n)) => Some(n.offset()),
            Some(_) => None,
            None => None,
        };
        let annotation = pieces.time_zone_annotation().map(|a| a.kind().clone());
        let offset = offset.or(match &annotation {
            Some(TimeZoneAnnotationKind::Offset(o)) => Some(*o),
            _ => None,
        });
        if let Some(offset) = offset {
            return offset
                .to_timestamp(local)
                .map(TimePoint::Instant)
                .map_err(|e| format!("time {s:?} is out of range ({e}); {hint}"));
        }
        match annotation {
            Some(TimeZoneAnnotationKind::Named(name)) => Ok(TimePoint::Zoned {
                local,
                time_zone: name.as_str().to_owned(),
            }),
            _ => Ok(TimePoint::Local(local)),
        }
    }
}

string_serde!(TimePoint, "a time such as 2026-03-28T22:00:00Z");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotations_read_and_print() {
        let cases = [
            ("daily", Rotation::Daily, "daily"),
            ("Weekly", Rotation::Weekly, "weekly"),
            (
                "12h",
                Rotation::Every(SignedDuration::from_hours(12)),
                "12h",
            ),
            ("PT8H", Rotation::Every(SignedDuration::from_hours(8)), "8h"),
            ("2d", Rotation::Every(SignedDuration::from_hours(48)), "48h"),
            (
                "1d 12h",
                Rotation::Every(SignedDuration::from_hours(36)),
                "36h",
            ),
            (
                "90m",
                Rotation::Every(SignedDuration::from_mins(90)),
                "1h 30m",
            ),
            (
                "2w",
                Rotation::Every(SignedDuration::from_hours(336)),
                "336h",
            ),
            ("0h", Rotation::Every(SignedDuration::ZERO), "0s"),
            (
                "-12h",
                Rotation::Every(SignedDuration::from_hours(-12)),
                "12h ago",
            ),
        ];
        for (text, want, printed) in cases {
            let got: Rotation = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(got, want, "{text}");
            assert_eq!(got.to_string(), printed, "{text}");
            assert_eq!(printed.parse::<Rotation>().unwrap(), want, "{printed}");
        }
        for bad in ["fortnightly", "", "1 month"] {
            let err = bad.parse::<Rotation>().unwrap_err();
            assert!(err.contains("write daily, weekly"), "{bad}: {err}");
        }
    }

    #[test]
    fn times_of_day_read_and_print() {
        for (text, minutes) in [("09:00", 540), ("9:30", 570), ("00:00", 0), ("24:00", 1440)] {
            let t: TimeOfDay = text.parse().unwrap();
            assert_eq!(t.minutes(), minutes, "{text}");
        }
        assert_eq!(TimeOfDay::new(9, 5).unwrap().to_string(), "09:05");
        for bad in ["24:01", "25:00", "09:60", "0900", "9:5", "", "ab:cd"] {
            assert!(bad.parse::<TimeOfDay>().is_err(), "{bad}");
        }
    }

    #[test]
    fn time_points_read_in_three_forms() {
        let p: TimePoint = "2026-03-28T22:00:00Z".parse().unwrap();
        assert_eq!(
            p,
            TimePoint::Instant("2026-03-28T22:00:00Z".parse().unwrap())
        );
        let p: TimePoint = "2026-03-28T23:00+01:00".parse().unwrap();
        assert_eq!(
            p,
            TimePoint::Instant("2026-03-28T22:00:00Z".parse().unwrap())
        );
        // An offset wins over a zone annotation: the instant is exact.
        let p: TimePoint = "2026-03-28T23:00+01:00[Europe/Berlin]".parse().unwrap();
        assert!(matches!(p, TimePoint::Instant(_)));
        let p: TimePoint = "2026-03-28T23:00[Europe/Berlin]".parse().unwrap();
        assert_eq!(p.to_string(), "2026-03-28T23:00:00[Europe/Berlin]");
        let p: TimePoint = "2026-03-28T23:00".parse().unwrap();
        assert_eq!(p, TimePoint::Local("2026-03-28T23:00".parse().unwrap()));
        let err = "next tuesday".parse::<TimePoint>().unwrap_err();
        assert!(err.contains("write an instant such as"), "{err}");
    }

    #[test]
    fn restriction_days_default_to_every_day() {
        let r: Restriction = serde_json::from_str(r#"{"from": "09:00", "to": "17:00"}"#).unwrap();
        assert_eq!(r.days.len(), 7);
        let r: Restriction =
            serde_json::from_str(r#"{"days": ["mon", "friday"], "from": "22:00", "to": "06:00"}"#)
                .unwrap();
        assert_eq!(r.days, vec![Day::Mon, Day::Fri]);
    }
}
