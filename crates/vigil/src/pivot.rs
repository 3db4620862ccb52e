//! `vigil pivot VALUE`: follow one value (an IP, a user, a host, a hash) through every
//! service's logs on a running server: counts per service, host and tenant, a timeline and the
//! newest events carrying it.

use vigil_api::events::{PivotQuery, PivotResponse, TimelinePoint, ValueCount};
use vigil_events::time::LocalZone;

use crate::incident::{Conn, client};
use crate::output::{explain, outln, print_json, table};
use crate::search::{Window, events_table, wall_clock};

const AFTER_HELP: &str = "\
The value is found ignoring case in any field of any event, whole or inside a longer text
(the IP in a syslog line `Failed password for root from 203.0.113.9`), as free text finds it;
with --field, only as the whole value of that field. A network in CIDR notation
(203.0.113.0/24, 2001:db8::/32) follows the addresses it holds, found as whole values.

Examples:
  vigil pivot 203.0.113.9 --since 7d
  vigil pivot 2001:db8::/32 --field source.ip
  vigil pivot alice --field user.name
  vigil pivot 44d88612fea8a8f36de82e1278abb02f --json

Needs a token of role viewer or above (--token or VIGIL_TOKEN).";

/// Arguments of `vigil pivot`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    #[command(flatten)]
    pub conn: Conn,
    /// The value to follow.
    pub value: String,
    /// Look only in this field (a JSON path such as source.ip).
    #[arg(long)]
    pub field: Option<String>,
    #[command(flatten)]
    pub window: Window,
    /// How many of the newest events to show (0–1000; 0 for the counts and timeline only).
    #[arg(long, default_value_t = 20, value_parser = crate::incident::limit_or_none::<1000>)]
    pub limit: u32,
}

pub fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(pivot(args))?;
    Ok(std::process::ExitCode::SUCCESS)
}

async fn pivot(args: Args) -> anyhow::Result<()> {
    let c = client(&args.conn)?;
    let (from, to) = args.window.bounds()?;
    let query = PivotQuery {
        value: args.value.clone(),
        field: args.field.clone(),
        from,
        to,
        limit: Some(args.limit),
    };
    let p = c.pivot_events(&query).await.map_err(explain)?;
    crate::search::print_warnings(&p.warnings, p.not_yet_searchable);
    if args.conn.json {
        return print_json(&p);
    }
    show(&p, args.window.zone());
    Ok(())
}

fn show(p: &PivotResponse, zone: &LocalZone) {
    let place = match &p.field {
        Some(f) => format!(" in {f}"),
        None => String::new(),
    };
    if p.total == 0 {
        outln!("{}", nothing_found(&p.value, p.field.as_deref()));
        return;
    }
    let mut seen = String::new();
    if let (Some(first), Some(last)) = (p.first_seen, p.last_seen) {
        let fmt = |t| format!("{} {zone}", wall_clock(t, zone, "%Y-%m-%d %H:%M:%S"));
        seen = format!(", first {}, last {}", fmt(first), fmt(last));
    }
    let found = crate::output::plural(p.total, "event", "events");
    outln!("{:?}{place}: {found}{seen}", p.value);
    for (what, counts) in [
        ("SERVICE", &p.by_service),
        ("HOST", &p.by_host),
        ("TENANT", &p.by_tenant),
    ] {
        if !counts.is_empty() {
            outln!("{}", counts_table(what, counts));
        }
        if what == "HOST" && p.hosts > counts.len() as u64 {
            outln!(
                "the {} hosts with the most events are listed, of {}",
                counts.len(),
                p.hosts
            );
        }
    }
    outln!("{}", timeline_summary(&p.timeline, p.bucket_seconds, zone));
    if !p.events.is_empty() {
        let t = events_table(&p.events, zone);
        outln!("newest events\n{t}");
        if (p.events.len() as u64) < p.total {
            outln!(
                "{} of {} events shown; --limit N for more, or `vigil search` to page through them",
                p.events.len(),
                p.total
            );
        }
    }
}

/// A two-column table of counts.
/// What to say when no event carries `value` (in `field`) and what to try. A value longer than
/// the log store keeps whole cannot be found whole in a field, whatever the window: only its
/// words are indexed, which the pivot without --field finds.
fn nothing_found(value: &str, field: Option<&str>) -> String {
    match field {
        Some(field) if value.len() > vigil_logs::MAX_WHOLE_VALUE => format!(
            "{:?} ({} bytes) is too long to be matched whole in {field}: values over {} bytes \
             are not; drop --field to find the events holding its words",
            crate::search::truncate(value, 40),
            value.len(),
            vigil_logs::MAX_WHOLE_VALUE,
        ),
        Some(field) => format!(
            "no event carries {value:?} in {field}; widen the time window (--since 30d) or drop \
             --field"
        ),
        None => format!("no event carries {value:?}; widen the time window (--since 30d)"),
    }
}

pub fn counts_table(what: &str, counts: &[ValueCount]) -> crate::output::Table {
    let mut t = table([what, "EVENTS"]);
    for c in counts {
        t.add_row([value_or_none(&c.value), c.count.to_string()]);
    }
    t
}

/// A value for a table cell; an empty one (an event without a host) as `(none)`.
pub fn value_or_none(value: &str) -> String {
    if value.is_empty() {
        "(none)".to_owned()
    } else {
        value.to_owned()
    }
}

/// The most bars a timeline shows: more buckets are shown merged, a bar per run of them.
const MAX_BARS: usize = 24;

/// One paragraph on the timeline: first and last bucket, the busiest one (the first of equal
/// ones), and a bar per bucket — with more than [`MAX_BARS`] buckets, a bar per run of
/// consecutive buckets, as wide as keeps them at most that many; times on the wall clock of
/// `zone`.
fn timeline_summary(points: &[TimelinePoint], bucket_seconds: i64, zone: &LocalZone) -> String {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return "timeline: empty".to_owned();
    };
    let format = label_format(bucket_seconds);
    let fmt = |p: &TimelinePoint| wall_clock(p.start, zone, format);
    // `max_by_key` gives the last of equal counts.
    let busiest = points
        .iter()
        .fold(first, |best, p| if p.count > best.count { p } else { best });
    let mut out = format!(
        "timeline ({} buckets, {zone}): first {}, last {}, busiest {} ({})",
        width(bucket_seconds),
        fmt(first),
        fmt(last),
        fmt(busiest),
        crate::output::plural(busiest.count, "event", "events")
    );
    let bars = if points.len() <= MAX_BARS {
        points.to_vec()
    } else {
        let merged = merged_buckets(points, bucket_seconds);
        let per_bar = merged.1;
        out.push_str(&format!(
            "; a bar per {} ({} buckets)",
            width(bucket_seconds * per_bar),
            per_bar
        ));
        merged.0
    };
    let peak = bars.iter().map(|p| p.count).max().unwrap_or(1).max(1);
    for p in &bars {
        let bar = "#".repeat(((p.count * 40).div_ceil(peak)) as usize);
        out.push_str(&format!("\n  {}  {:>8}  {bar}", fmt(p), p.count));
    }
    out
}

/// `points` (buckets of `bucket_seconds`, oldest first) added up in runs of consecutive
/// buckets from the first one, as few buckets a run as keeps the runs over the whole span at
/// most [`MAX_BARS`]; runs without events are left out, as empty buckets are. Also how many
/// buckets a run spans.
fn merged_buckets(points: &[TimelinePoint], bucket_seconds: i64) -> (Vec<TimelinePoint>, i64) {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return (Vec::new(), 1);
    };
    let width = bucket_seconds.max(1);
    let slots = (last.start - first.start).num_seconds() / width + 1;
    let per_bar = ((slots + MAX_BARS as i64 - 1) / MAX_BARS as i64).max(1);
    let run = chrono::Duration::seconds(width * per_bar);
    let mut bars: Vec<TimelinePoint> = Vec::new();
    for p in points {
        let index = (p.start - first.start).num_seconds() / (width * per_bar);
        let start = first.start + run * index as i32;
        match bars.last_mut() {
            Some(bar) if bar.start == start => bar.count += p.count,
            _ => bars.push(TimelinePoint {
                start,
                count: p.count,
            }),
        }
    }
    (bars, per_bar)
}

/// How a bucket's start is written: to the second when buckets are narrower than a minute (or
/// not whole minutes), so that two of them never read alike; to the minute otherwise (an hour
/// or a day in a zone whose offset is not whole hours does not start on the hour).
fn label_format(bucket_seconds: i64) -> &'static str {
    if bucket_seconds % 60 == 0 {
        "%Y-%m-%d %H:%M"
    } else {
        "%Y-%m-%d %H:%M:%S"
    }
}

/// `1h`, `15m`, `1d`.
fn width(seconds: i64) -> String {
    match seconds {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_too_long_to_match_whole_in_a_field_says_to_drop_field() {
        let long = format!("{}END", "c".repeat(300));
        let said = nothing_found(&long, Some("v"));
        assert!(
            said.contains("over 256 bytes") && said.contains("drop --field"),
            "{said}"
        );
        assert!(!said.contains("widen"), "{said}");
        assert!(said.len() < 200, "the value is cut: {said}");
        assert_eq!(
            nothing_found(&"c".repeat(256), Some("v")),
            format!(
                "no event carries {:?} in v; widen the time window (--since 30d) or drop --field",
                "c".repeat(256)
            )
        );
        assert_eq!(
            nothing_found(&long, None),
            format!("no event carries {long:?}; widen the time window (--since 30d)")
        );
    }

    fn point(at: &str, count: u64) -> TimelinePoint {
        TimelinePoint {
            start: at.parse().unwrap(),
            count,
        }
    }

    #[test]
    fn many_buckets_are_shown_merged_and_the_busiest_is_the_first_of_equals() {
        // 47 one-minute buckets of one event each.
        let start: chrono::DateTime<chrono::Utc> = "2026-12-06T06:44:00Z".parse().unwrap();
        let points: Vec<TimelinePoint> = (0..47)
            .map(|i| TimelinePoint {
                start: start + chrono::Duration::minutes(i),
                count: 1,
            })
            .collect();
        let text = timeline_summary(&points, 60, &LocalZone::UTC);
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "timeline (1m buckets, UTC): first 2026-12-06 06:44, last 2026-12-06 07:30, busiest 2026-12-06 06:44 (1 event); a bar per 2m (2 buckets)"
        );
        let bars: Vec<&str> = lines.collect();
        assert_eq!(bars.len(), 24, "{text}");
        assert!(
            bars[0].starts_with("  2026-12-06 06:44         2  "),
            "{text}"
        );
        assert!(
            bars[23].starts_with("  2026-12-06 07:30         1  "),
            "{text}"
        );
        // The first of equal buckets is the busiest.
        let sparse = [
            point("2026-12-06T06:00:00Z", 3),
            point("2026-12-06T06:01:00Z", 4),
            point("2026-12-06T07:59:00Z", 4),
        ];
        let text = timeline_summary(&sparse, 60, &LocalZone::UTC);
        assert!(
            text.contains("busiest 2026-12-06 06:01 (4 events)\n"),
            "{text}"
        );
        // Merged, runs without events are left out and a run adds up its buckets.
        let (bars, per_bar) = merged_buckets(&sparse, 60);
        assert_eq!(per_bar, 5);
        assert_eq!(
            bars,
            [
                point("2026-12-06T06:00:00Z", 7),
                point("2026-12-06T07:55:00Z", 4)
            ]
        );
    }

    #[test]
    fn buckets_under_a_minute_are_labelled_to_the_second() {
        let points = [
            point("2025-12-10T07:08:20Z", 3),
            point("2025-12-10T07:08:30Z", 5),
        ];
        let text = timeline_summary(&points, 10, &LocalZone::UTC);
        assert!(text.starts_with("timeline (10s buckets, UTC): first 2025-12-10 07:08:20, last 2025-12-10 07:08:30, busiest 2025-12-10 07:08:30 (5 events)"), "{text}");
        assert!(
            text.contains("\n  2025-12-10 07:08:20         3  "),
            "{text}"
        );
        assert!(
            text.contains("\n  2025-12-10 07:08:30         5  "),
            "{text}"
        );

        let points = [
            point("2025-12-10T07:00:00Z", 3),
            point("2025-12-10T07:15:00Z", 1),
        ];
        let text = timeline_summary(&points, 900, &LocalZone::UTC);
        assert!(
            text.starts_with(
                "timeline (15m buckets, UTC): first 2025-12-10 07:00, last 2025-12-10 07:15,"
            ),
            "{text}"
        );
    }
}
