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

/// Formats milliseconds since the epoch as RFC 3339 in UTC (`2019-04-27T15:57:25.868Z`).
pub fn format_timestamp(ms: i64) -> String {
    match evtx::Timestamp::from_millisecond(ms) {
        Ok(ts) => format!("{ts:.3}"),
        Err(_) => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
