//! Timestamps: RFC 3339 text to and from milliseconds since the Unix epoch (which fields of an
//! event carry its time: [`crate::json::JsonEvent::timestamp`]).

/// Parses an RFC 3339 / ISO 8601 timestamp (`2019-04-27T15:57:25.8688632Z`,
/// `2019-04-27 15:57:25.868`, `2019-04-27T17:57:25+02:00`, `2019-04-27`) into milliseconds
/// since the epoch. Text without an offset is read as UTC, as Sysmon's `UtcTime` is written; a
/// date alone is its midnight.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<evtx::Timestamp>() {
        return Some(ts.as_millisecond());
    }
    // A date alone (`2019-04-27`): its midnight, UTC.
    if text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-' {
        let ts = format!("{text}T00:00:00Z")
            .parse::<evtx::Timestamp>()
            .ok()?;
        return Some(ts.as_millisecond());
    }
    // No offset: read as UTC.
    let civil = text.replacen(' ', "T", 1);
    let ts = format!("{civil}Z").parse::<evtx::Timestamp>().ok()?;
    Some(ts.as_millisecond())
}

/// An event's own time written as text ([`crate::json::JsonEvent::timestamp`]):
/// [`parse_timestamp`], but a date alone (`2026-10-01`, an order's or a report's date) is no
/// time of day and so no event time: `None`, and the event is stored at the time it arrived.
pub fn parse_event_time(text: &str) -> Option<i64> {
    if is_date_alone(text) {
        return None;
    }
    parse_timestamp(text)
}

/// Whether `text` is a date without a time of day (`2026-10-01`).
fn is_date_alone(text: &str) -> bool {
    let b = text.trim().as_bytes();
    b.len() == 10 && b[4] == b'-' && b[7] == b'-'
}

/// The event times a number is read as, in seconds since 1970: from 2000 to the end of 2099.
/// A number carries no unit, so its unit is told by its magnitude ([`epoch_integer_ms`]); below
/// 2000 the numbers an event holds are far more often counts, durations or ids (`"time": 35`,
/// a request's duration) than times written as epochs, which no log written since has had
/// reason to date before 2000; the end is the log store's own (`vigil_logs::KEPT_TIMES`).
pub const EPOCH_NUMBER_SECONDS: std::ops::Range<i64> = 946_684_800..4_102_444_800;

/// Milliseconds since 1970 of an integer written as an event's time: seconds, milliseconds,
/// microseconds or nanoseconds since 1970, whichever unit puts it within
/// [`EPOCH_NUMBER_SECONDS`] (the four ranges do not overlap, so at most one unit does); `None`
/// for any other number, which is no event time. A finer unit is cut to its millisecond.
pub fn epoch_integer_ms(n: i128) -> Option<i64> {
    let seconds = EPOCH_NUMBER_SECONDS.start as i128..EPOCH_NUMBER_SECONDS.end as i128;
    [1i128, 1_000, 1_000_000, 1_000_000_000]
        .into_iter()
        .find(|per_second| (seconds.start * per_second..seconds.end * per_second).contains(&n))
        .map(|per_second| (n * 1000 / per_second) as i64)
}

/// [`epoch_integer_ms`] for a number with a fraction (`1764496800.123`, fluent-bit's `date`).
/// A value within a microsecond of a whole millisecond is that millisecond: the binary
/// fraction stands for the decimal one written (`.868` is stored as `.86799…`).
pub fn epoch_float_ms(n: f64) -> Option<i64> {
    if !n.is_finite() {
        return None;
    }
    let (from, to) = (
        EPOCH_NUMBER_SECONDS.start as f64,
        EPOCH_NUMBER_SECONDS.end as f64,
    );
    let ms = [1.0f64, 1e3, 1e6, 1e9]
        .into_iter()
        .find(|per_second| (from * per_second..to * per_second).contains(&n))
        .map(|per_second| n * 1000.0 / per_second)?;
    let whole = ms.round();
    Some(if (ms - whole).abs() < 1e-3 {
        whole
    } else {
        ms.floor()
    } as i64)
}

/// An event time written as a number in text (`"1764496800"`, as some shippers write it), read
/// as [`epoch_integer_ms`] or [`epoch_float_ms`] read it; `None` for text that is no number.
pub fn epoch_text_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(n) = text.parse::<i128>() {
        return epoch_integer_ms(n);
    }
    // Only decimal numbers: `inf`, `NaN` and `1e9` are no times written by a clock.
    if !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    epoch_float_ms(text.parse::<f64>().ok()?)
}

/// [`parse_timestamp`], but text without an offset is a wall-clock time in `zone`.
pub fn parse_timestamp_in(text: &str, zone: &LocalZone) -> Option<i64> {
    let ms = parse_timestamp(text)?;
    Some(if has_offset(text) {
        ms
    } else {
        zone.from_wall_clock_ms(ms).0
    })
}

/// Whether a timestamp as [`parse_timestamp`] reads it carries its UTC offset (`Z`, `+02:00`),
/// so that no zone is needed to read it: a date alone, or a date and time without one, is a
/// wall-clock time that [`parse_timestamp_in`] reads in its zone.
pub fn has_offset(text: &str) -> bool {
    // After the date (10 characters), its separator and the hour and minute (`T08:00`): seconds
    // may follow or not (`2026-12-01T08:00Z` is RFC 3339's minute precision, ISO 8601 allows
    // it), so the offset is looked for from there.
    text.trim()
        .get(16..)
        .is_some_and(|t| t.contains(['Z', 'z', '+', '-']))
}

/// Formats milliseconds since the epoch as RFC 3339 in UTC (`2019-04-27T15:57:25.868Z`).
pub fn format_timestamp(ms: i64) -> String {
    match evtx::Timestamp::from_millisecond(ms) {
        Ok(ts) => format!("{ts:.3}"),
        Err(_) => ms.to_string(),
    }
}

/// [`format_timestamp`] on the wall clock of `zone`, with its offset
/// (`2019-04-27T17:57:25.868+02:00`); in UTC as `format_timestamp` writes it.
pub fn format_timestamp_in(ms: i64, zone: &LocalZone) -> String {
    let Some(tz) = &zone.0 else {
        return format_timestamp(ms);
    };
    let Ok(ts) = jiff::Timestamp::from_millisecond(ms) else {
        return ms.to_string();
    };
    let offset = tz.to_offset(ts);
    let t = offset.to_datetime(ts);
    let secs = offset.seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{sign}{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond(),
        secs.abs() / 3600,
        secs.abs() % 3600 / 60
    )
}

/// The zone a text log's times are in when they are written without a UTC offset (RFC 3164
/// syslog, web server error logs, a plain line's leading time): UTC unless the user names one
/// (`--timezone Europe/Berlin`). A named zone gives each time the offset in force on its own
/// date, so a log that spans a daylight-saving change is read right on both sides of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalZone(Option<jiff::tz::TimeZone>);

/// Why a time zone name is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    /// The name is no zone, offset or `local`.
    #[error(
        "unknown time zone {0:?}: give an IANA zone name such as Europe/Berlin or America/New_York, UTC, local (this machine's zone), or an offset such as +01:00"
    )]
    Unknown(String),
    /// `local`, on a machine whose zone cannot be read.
    #[error(
        "this machine's time zone cannot be read ({0}); set TZ or /etc/localtime, or name the zone (Europe/Berlin) or its offset (+01:00)"
    )]
    NoLocalZone(String),
}

impl LocalZone {
    /// UTC: times without an offset are taken as written.
    pub const UTC: LocalZone = LocalZone(None);

    /// The zone named `name`: an IANA name (`Europe/Berlin`), `UTC`, `local` (this machine's
    /// zone) or a fixed offset (`+01:00`, `-0530`, `+02`).
    pub fn parse(name: &str) -> Result<LocalZone, ZoneError> {
        use jiff::tz::{Offset, TimeZone};
        let name = name.trim();
        let unknown = || ZoneError::Unknown(name.to_owned());
        if ["utc", "z", "gmt", "etc/utc"].contains(&name.to_ascii_lowercase().as_str()) {
            return Ok(LocalZone::UTC);
        }
        if name.eq_ignore_ascii_case("local") {
            return TimeZone::try_system()
                .map(LocalZone::of)
                .map_err(|e| ZoneError::NoLocalZone(e.to_string()));
        }
        if let Some(secs) = fixed_offset_secs(name) {
            return Offset::from_seconds(secs)
                .map(|o| LocalZone::of(TimeZone::fixed(o)))
                .map_err(|_| unknown());
        }
        TimeZone::get(name)
            .map(LocalZone::of)
            .map_err(|_| unknown())
    }

    fn of(zone: jiff::tz::TimeZone) -> LocalZone {
        if zone == jiff::tz::TimeZone::UTC {
            LocalZone::UTC
        } else {
            LocalZone(Some(zone))
        }
    }

    /// Whether times are taken as UTC.
    pub fn is_utc(&self) -> bool {
        self.0.is_none()
    }

    /// The offset east of UTC, in seconds, of a wall-clock time in this zone. A time the clocks
    /// skipped (spring forward) or showed twice (fall back) takes the offset before the change,
    /// as RFC 5545 and Temporal's `compatible` do; a date that does not exist takes 0 (the
    /// caller rejects it).
    pub fn offset_secs(
        &self,
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
    ) -> i32 {
        if self.0.is_none() {
            return 0;
        }
        jiff::civil::DateTime::new(
            i16::try_from(year).unwrap_or(i16::MAX),
            month as i8,
            day as i8,
            hour as i8,
            minute as i8,
            second.min(59) as i8,
            0,
        )
        .map_or(0, |civil| self.offset_of(civil))
    }

    /// A wall-clock time in this zone, given as the milliseconds since the epoch it would be
    /// were it UTC: its milliseconds since the epoch, and the offset it was read with.
    pub fn from_wall_clock_ms(&self, wall_ms: i64) -> (i64, i32) {
        if self.0.is_none() {
            return (wall_ms, 0);
        }
        let Ok(as_utc) = jiff::Timestamp::from_millisecond(wall_ms) else {
            return (wall_ms, 0);
        };
        let offset = self.offset_of(jiff::tz::Offset::UTC.to_datetime(as_utc));
        (wall_ms - i64::from(offset) * 1000, offset)
    }

    fn offset_of(&self, civil: jiff::civil::DateTime) -> i32 {
        use jiff::tz::AmbiguousOffset;
        let Some(zone) = &self.0 else {
            return 0;
        };
        match zone.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset.seconds(),
            AmbiguousOffset::Gap { before, .. } | AmbiguousOffset::Fold { before, .. } => {
                before.seconds()
            }
        }
    }

    /// The offset east of UTC, in seconds, in force at `unix_ms`.
    pub fn offset_secs_at(&self, unix_ms: i64) -> i32 {
        match (&self.0, jiff::Timestamp::from_millisecond(unix_ms)) {
            (Some(zone), Ok(at)) => zone.to_offset(at).seconds(),
            _ => 0,
        }
    }
}

/// `UTC`, the IANA name (`Europe/Berlin`), or the offset of a fixed zone (`+01:00`).
impl std::fmt::Display for LocalZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("UTC"),
            Some(zone) => match zone.iana_name() {
                Some(name) => f.write_str(name),
                None => {
                    let secs = zone.to_offset(jiff::Timestamp::now()).seconds();
                    let sign = if secs < 0 { '-' } else { '+' };
                    write!(
                        f,
                        "{sign}{:02}:{:02}",
                        secs.abs() / 3600,
                        secs.abs() % 3600 / 60
                    )
                }
            },
        }
    }
}

impl std::str::FromStr for LocalZone {
    type Err = ZoneError;

    fn from_str(name: &str) -> Result<LocalZone, ZoneError> {
        LocalZone::parse(name)
    }
}

/// `+01:00`, `-0530`, `+02` as seconds east of UTC.
fn fixed_offset_secs(text: &str) -> Option<i32> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || ![2, 4].contains(&digits.len()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    (hours <= 23 && minutes <= 59).then_some(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_is_found_with_or_without_seconds() {
        for (text, offset) in [
            ("2026-12-01T08:00Z", true),
            ("2026-12-01T08:00+05:00", true),
            ("2026-12-01 08:00-0300", true),
            ("2026-12-01T08:00:00.5Z", true),
            ("2026-12-01T08:00:00-05:00", true),
            ("2026-12-01T08:00", false),
            ("2026-12-01 08:00:00.123", false),
            ("2026-12-01", false),
        ] {
            assert_eq!(has_offset(text), offset, "{text}");
        }
        let berlin = LocalZone::parse("Europe/Berlin").unwrap();
        assert_eq!(
            parse_timestamp_in("2026-12-01T08:00Z", &berlin),
            parse_timestamp("2026-12-01T08:00:00Z"),
            "a time with its offset is not moved by the zone"
        );
        assert_eq!(
            parse_timestamp_in("2026-12-01T08:00", &berlin),
            parse_timestamp("2026-12-01T07:00:00Z"),
        );
    }

    #[test]
    fn parses_evtx_sysmon_and_offset_forms() {
        let a = parse_timestamp("2019-04-27T15:57:25.8688632Z").unwrap();
        assert_eq!(a, 1_556_380_645_868);
        assert_eq!(parse_timestamp("2019-04-27 15:57:25.868"), Some(a));
        assert_eq!(parse_timestamp("2019-04-27T17:57:25.868+02:00"), Some(a));
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("2019-04-27"), Some(1_556_323_200_000));
        assert_eq!(parse_timestamp("9999-12-30"), Some(253_402_128_000_000));
        assert_eq!(parse_timestamp("2019-02-30"), None);
        assert_eq!(parse_timestamp("2019-04-2x"), None);
        assert_eq!(format_timestamp(a), "2019-04-27T15:57:25.868Z");
    }

    #[test]
    fn zones_give_each_date_its_own_offset() {
        let berlin = LocalZone::parse("Europe/Berlin").unwrap();
        assert_eq!(berlin.offset_secs(2026, 1, 15, 12, 0, 0), 3600);
        assert_eq!(berlin.offset_secs(2026, 7, 15, 12, 0, 0), 7200);
        // 29 March 2026, 02:30 was skipped and 25 October, 02:30 shown twice: the offset before.
        assert_eq!(berlin.offset_secs(2026, 3, 29, 2, 30, 0), 3600);
        assert_eq!(berlin.offset_secs(2026, 10, 25, 2, 30, 0), 7200);
        assert_eq!(berlin.offset_secs(2026, 2, 30, 12, 0, 0), 0);
        assert_eq!(berlin.offset_secs_at(1_784_000_000_000), 7200);
        let summer_noon = parse_timestamp("2026-07-15T12:00:00Z").unwrap();
        assert_eq!(
            berlin.from_wall_clock_ms(summer_noon),
            (summer_noon - 7_200_000, 7200)
        );
        assert_eq!(
            parse_timestamp_in("2026-07-15 12:00:00.000", &berlin),
            Some(summer_noon - 7_200_000)
        );
        assert_eq!(
            parse_timestamp_in("2026-07-15T12:00:00Z", &berlin),
            Some(summer_noon)
        );
        assert_eq!(
            parse_timestamp_in("2026-07-15T12:00:00-01:00", &berlin),
            Some(summer_noon + 3_600_000)
        );
        assert_eq!(
            format_timestamp_in(summer_noon + 5, &berlin),
            "2026-07-15T14:00:00.005+02:00"
        );
        assert_eq!(
            format_timestamp_in(parse_timestamp("2026-01-15T12:00:00Z").unwrap(), &berlin),
            "2026-01-15T13:00:00.000+01:00"
        );
        assert_eq!(
            format_timestamp_in(summer_noon, &LocalZone::parse("-05:30").unwrap()),
            "2026-07-15T06:30:00.000-05:30"
        );
        assert_eq!(LocalZone::parse("-05:30").unwrap().to_string(), "-05:30");
        assert_eq!(LocalZone::parse("+01").unwrap().to_string(), "+01:00");
        assert_eq!(berlin.to_string(), "Europe/Berlin");
        assert_eq!(
            format_timestamp_in(summer_noon, &LocalZone::UTC),
            "2026-07-15T12:00:00.000Z"
        );
        assert_eq!(
            parse_timestamp_in("2026-07-15", &berlin),
            Some(summer_noon - 12 * 3_600_000 - 7_200_000)
        );
        assert!(LocalZone::parse("UTC").unwrap().is_utc());
        assert!(LocalZone::parse("utc").unwrap().is_utc());
        assert!(LocalZone::parse("+00:00").unwrap().is_utc());
        assert_eq!(LocalZone::UTC.offset_secs(2026, 7, 15, 12, 0, 0), 0);
        assert_eq!(berlin.to_string(), "Europe/Berlin");
        assert_eq!(LocalZone::UTC.to_string(), "UTC");
        assert_eq!(LocalZone::parse("-0530").unwrap().to_string(), "-05:30");
        for (text, secs) in [("+01:00", 3600), ("-0530", -19_800), ("+02", 7200)] {
            assert_eq!(
                LocalZone::parse(text)
                    .unwrap()
                    .offset_secs(2026, 1, 1, 0, 0, 0),
                secs
            );
        }
        for bad in ["Mars/Olympus", "+25:00", "+1", "", "1:00"] {
            let err = LocalZone::parse(bad).unwrap_err().to_string();
            assert!(err.contains("IANA zone name"), "{bad}: {err}");
        }
    }
}
