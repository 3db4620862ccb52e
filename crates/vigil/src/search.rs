//! `vigil search QUERY`: search the central log database of a running server (the query
//! language of docs/query.md) and print the events, newest first, or the counts of an
//! aggregation (`| count by FIELD`, `| top N FIELD`, `| rare N FIELD`). Also the helpers the
//! other log commands share: the time window flags and a one-line summary of an event.

use crate::output::errln;
use std::io::Write;

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::Value;
use vigil_api::events::{AggregationResult, EventRecord, SearchQuery};
use vigil_events::time::LocalZone;

use crate::incident::{Conn, client};
use crate::output::{explain, outln, print_json, table, write_or_closed};

const AFTER_HELP: &str = "\
Searches the events stored by `vigil ingest`, `POST /api/v1/events` and the syslog listeners.
The language is the one of Kibana and Splunk (docs/query.md): field:value, wildcards, \"phrases\",
free text, AND / OR / NOT, ranges, exists:field, and at the end `| count by FIELD`,
`| top N FIELD` or `| rare N FIELD` (several fields: `| count by user.name, source.ip`).

Examples:
  vigil search 'user.name:alice' --since 24h
  vigil search 'service:vpn AND NOT source.ip:10.*' --limit 20
  vigil search 'Event.System.EventID:4625 | top 10 Event.EventData.TargetUserName' --since 7d
  vigil search 'failed | count by source.ip' --from 2026-01-01 --to 2026-02-01
  vigil search 'Event.System.EventID:4625' --since 24h --fields TargetUserName,IpAddress,host
  vigil search 'service:web' --since 7d --all --csv --fields source.ip,user.name > web.csv
  vigil search '*' --all --json > events.jsonl
  vigil search 'service:bastion' --since 30d --all --raw | vigil hunt -r new-rule.yml -

--fields picks the table's columns; --csv prints CSV (times in UTC) for a spreadsheet, a value
that would start a formula (=, @, +, -; not a number such as -1) prefixed with '.
--json prints one JSON object per event (or the aggregation as one JSON object); --raw only
each event as it was stored, one per line, for `vigil hunt` to run rules written since over
what the server holds (give it the --logsource and --field-map a service declares in the
organisation document; --web-field-map for a mapping of its web server lines). With --json,
--raw and --csv, stdout holds only the events (none matching: no line, or the CSV header
alone); when --limit (100 unless given) left matches out, a note on stderr says how many of
how many were given.
Needs a token of role viewer or above (--token or VIGIL_TOKEN).";

/// The time window flags shared by the log commands.
#[derive(Debug, Clone, clap::Args)]
pub struct Window {
    /// Only events from this far back: a duration such as 15m, 24h or 7d. Events dated after
    /// now (a sender's clock ahead) are included, and come first; add --to now to leave them out.
    #[arg(long, conflicts_with = "from", value_parser = since_arg)]
    pub since: Option<String>,
    /// Only events at or after this time: RFC 3339, a date (2026-01-31), a date and time
    /// (2026-01-31 09:00, in --timezone) or now-24h.
    #[arg(long, value_parser = window_time)]
    pub from: Option<String>,
    /// Only events before this time (same forms as --from).
    #[arg(long, value_parser = window_time)]
    pub to: Option<String>,
    /// The responder's zone: a --from or --to written without a UTC offset (2026-01-31 09:00)
    /// is read there, and the tables show times there (--json keeps UTC). An IANA name such as
    /// Europe/Berlin, `local` for this machine's, or an offset such as +01:00; the offset of
    /// each date applies (summer time included). [default: VIGIL_TIMEZONE, else UTC]
    // VIGIL_TIMEZONE is read by the command, not by clap: clap would report a bad one as a bad
    // --timezone, a flag the user never gave, and refuse it even where only shown times use it.
    #[arg(long, value_name = "ZONE", allow_hyphen_values = true)]
    pub timezone: Option<LocalZone>,
}

/// `--since`: a duration (`24h`, as [`duration`] reads it), trimmed.
fn since_arg(text: &str) -> Result<String, String> {
    duration(text).map(str::to_owned).ok_or_else(|| {
        "not a duration; write a number and a unit: 30s, 15m, 24h, 7d or 2w (or use --from with a time)"
            .to_owned()
    })
}

/// `--from`/`--to`: a time the server reads (RFC 3339, a date, `now-24h`, a bare duration
/// `24h` back from now) or a date and time without an offset (`2026-01-31 09:00`), which
/// [`Window::bounds`] reads in --timezone. Checked as the arguments are parsed, so a typo is an
/// argument error naming the flag (exit status 2), not the server's refusal naming its field.
fn window_time(text: &str) -> Result<String, String> {
    let t = text.trim();
    let reads = vigil_query::parse_time(t).is_some()
        || (t.starts_with(|c: char| c.is_ascii_digit())
            && vigil_query::parse_time(&format!("now-{t}")).is_some())
        || vigil_events::time::parse_timestamp(t).is_some();
    if reads {
        Ok(text.to_owned())
    } else {
        Err("not a time; write a date (2026-01-31), a date and time (2026-01-31 09:00, in --timezone), RFC 3339 (2026-01-31T09:00:00Z), now-24h or 24h".to_owned())
    }
}

impl Window {
    /// The zone the tables show times in: --timezone, else `VIGIL_TIMEZONE` (one that names no
    /// zone is warned about and UTC used), else UTC.
    pub fn zone(&self) -> &LocalZone {
        self.timezone
            .as_ref()
            .unwrap_or_else(|| crate::output::display_zone())
    }

    /// The `from` and `to` to send, their forms checked by clap; a time without an offset with
    /// no --timezone and a `VIGIL_TIMEZONE` that names no zone is refused (exit status 2).
    /// --since is sent as the time it reaches back to, read once: a command that follows pages
    /// (`--all`) asks every page for the same window, where a duration would be read by the
    /// server again at each page and move with the clock.
    pub fn bounds(&self) -> anyhow::Result<(Option<String>, Option<String>)> {
        let (from, to) = self.written_bounds()?;
        // A window that holds no time is the arguments' mistake, refused as `vigil hunt`
        // refuses it (exit status 2) before the server is asked.
        let now = chrono::Utc::now();
        let instant = |text: &str| {
            let t = text.trim();
            vigil_query::parse_time(t)
                .or_else(|| {
                    t.starts_with(|c: char| c.is_ascii_digit())
                        .then(|| vigil_query::parse_time(&format!("now-{t}")))
                        .flatten()
                })
                .map(|v| v.resolve(now))
        };
        if let (Some(f), Some(t)) = (from.as_deref(), to.as_deref())
            && let (Some(start), Some(end)) = (instant(f), instant(t))
            && start >= end
        {
            return Err(crate::output::UsageError(format!(
                "--from {f} is not before --to {t}: the window holds no time; give a --from (or --since) earlier than --to (swapped?)"
            ))
            .into());
        }
        Ok((from, to))
    }

    /// [`Window::bounds`] before the window is checked.
    fn written_bounds(&self) -> anyhow::Result<(Option<String>, Option<String>)> {
        let to = self
            .to
            .as_deref()
            .map(|t| self.in_zone("--to", t))
            .transpose()?;
        if let Some(since) = &self.since {
            let from = back_from_now(since).unwrap_or_else(|| since.clone());
            return Ok((Some(from), to));
        }
        let from = self
            .from
            .as_deref()
            .map(|t| self.in_zone("--from", t))
            .transpose()?;
        Ok((from, to))
    }

    /// A --from or --to (`flag`) as the server is to read it: a date or a date and time sent in
    /// UTC, one without an offset taken in --timezone, else `VIGIL_TIMEZONE` (the server reads
    /// only `T` between date and time); `now-24h` and a bare duration as written.
    fn in_zone(&self, flag: &str, text: &str) -> Result<String, crate::output::UsageError> {
        let t = text.trim();
        if t.starts_with("now") || vigil_events::time::parse_timestamp(t).is_none() {
            return Ok(text.to_owned());
        }
        let zone = match &self.timezone {
            Some(zone) => zone,
            None => crate::output::input_zone(flag, t)?,
        };
        Ok(match vigil_events::time::parse_timestamp_in(t, zone) {
            Some(ms) => vigil_events::time::format_timestamp(ms),
            None => text.to_owned(),
        })
    }
}

/// What `vigil search` shows of each event: its summary, or the fields of --fields.
enum Columns<'a> {
    Summary,
    Fields(&'a [String]),
}

impl<'a> Columns<'a> {
    fn of(fields: &'a [String]) -> Columns<'a> {
        if fields.is_empty() {
            Columns::Summary
        } else {
            Columns::Fields(fields)
        }
    }

    fn csv_header(&self) -> Vec<&str> {
        match self {
            Columns::Summary => vec!["time", "service", "host", "tenant", "event"],
            Columns::Fields(fields) => std::iter::once("time")
                .chain(fields.iter().map(String::as_str))
                .collect(),
        }
    }

    fn csv_row(&self, e: &EventRecord) -> Vec<String> {
        let time = e.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        match self {
            Columns::Summary => vec![
                time,
                e.service.clone(),
                e.host.clone(),
                e.tenant.clone(),
                crate::output::json_on_one_line(e.event.text()).into_owned(),
            ],
            Columns::Fields(_) => std::iter::once(time).chain(self.values(e)).collect(),
        }
    }

    /// The values of the fields of --fields in an event, empty where it has none: `service`,
    /// `host`, `tenant` and `time` from the envelope (`$.host` for the event's own), anything
    /// else as a Sigma rule names it.
    fn values(&self, e: &EventRecord) -> impl Iterator<Item = String> {
        let fields = match self {
            Columns::Summary => &[][..],
            Columns::Fields(fields) => fields,
        };
        let event = vigil_events::json::JsonEvent::parse(e.event.text()).ok();
        fields.iter().map(move |field| match field.as_str() {
            "service" => e.service.clone(),
            "host" => e.host.clone(),
            "tenant" => e.tenant.clone(),
            "time" => e.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            other => {
                let own = other.strip_prefix("$.").unwrap_or(other);
                event
                    .as_ref()
                    .and_then(|event| event.lookup_text(own))
                    .unwrap_or_default()
            }
        })
    }
}

/// A refused search in the command's words: the API names its parameters (`q`, `from`, `to`),
/// the command its query argument and its flags.
fn explain_search(err: vigil_client::ClientError) -> anyhow::Error {
    let msg = explain(err).to_string();
    let msg = [
        ("`q`: ", "the query: "),
        ("`from`: ", "--from: "),
        ("`to`: ", "--to: "),
    ]
    .into_iter()
    .fold(msg, |msg, (api, cli)| msg.replacen(api, cli, 1));
    anyhow::anyhow!(msg)
}

/// The header of a table's time column, naming the zone its times are in: `TIME (UTC)`,
/// `TIME (Europe/Berlin)`.
pub fn time_header(zone: &LocalZone) -> String {
    format!("TIME ({zone})")
}

/// A stored time on the wall clock of `zone`, in `format` (chrono's): what a table shows, so
/// that a responder reads times where they sit; JSON output keeps them in UTC.
pub fn wall_clock(time: DateTime<Utc>, zone: &LocalZone, format: &str) -> String {
    let offset = zone.offset_secs_at(time.timestamp_millis());
    match FixedOffset::east_opt(offset) {
        Some(offset) => time.with_timezone(&offset).format(format).to_string(),
        None => time.format(format).to_string(),
    }
}

/// `text` trimmed when it is a duration as `--since` takes it (`30s`, `15m`, `24h`, `7d`,
/// `2w`).
pub fn duration(text: &str) -> Option<&str> {
    let s = text.trim();
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    (!digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && matches!(unit, "s" | "m" | "h" | "d" | "w"))
    .then_some(s)
}

/// `vigil search --limit`: 0 is refused, as every other command's --limit refuses it.
fn at_least_one(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err("0 shows nothing; give 1 or more, or --all for every match".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err("give a number of events, 1 or more".to_owned()),
    }
}

/// The time a duration (`24h`, as [`duration`] accepts it) reaches back to from now, in UTC,
/// read as the query language reads `now-24h`; `None` when it reaches past 1970 (the server
/// reads that as the beginning of time).
fn back_from_now(duration: &str) -> Option<String> {
    let from = vigil_query::parse_time(&format!("now-{duration}"))?
        .resolve(chrono::Utc::now())
        .timestamp_millis();
    (from >= 0).then(|| vigil_events::time::format_timestamp(from))
}

/// Arguments of `vigil search`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    #[command(flatten)]
    pub conn: Conn,
    /// The query (docs/query.md); empty or `*` for every event.
    #[arg(default_value = "")]
    pub query: String,
    #[command(flatten)]
    pub window: Window,
    /// Show at most this many events, 1 or more (newest first; pages are followed as needed).
    #[arg(long, default_value_t = 100, value_parser = at_least_one)]
    pub limit: u64,
    /// Show every matching event, following the pages to the end (ignores --limit).
    #[arg(long)]
    pub all: bool,
    /// Print each event's own JSON only, one per line, as it was stored (for `vigil hunt -`).
    #[arg(long, conflicts_with = "json")]
    pub raw: bool,
    /// The columns to show after the time, in place of the event's summary: JSON paths
    /// (`user.name`, `Event.EventData.TargetUserName`), the names Sigma rules give Windows
    /// fields (`TargetUserName`, `IpAddress`), or `service`, `host`, `tenant`; comma-separated
    /// or repeated.
    #[arg(long, value_name = "FIELDS", value_delimiter = ',', conflicts_with_all = ["json", "raw"])]
    pub fields: Vec<String>,
    /// Print CSV for a spreadsheet: the time (UTC, RFC 3339), then the --fields, or service,
    /// host, tenant and the event's JSON; an aggregation as value,count. A value that would
    /// start a formula (=, @, +, -, tab, carriage return; not a number such as -1) starts
    /// with ', so the spreadsheet shows it as text.
    #[arg(long, conflicts_with_all = ["json", "raw"])]
    pub csv: bool,
}

/// The largest page the server gives.
const MAX_PAGE: u64 = 1000;

pub fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(search(args))?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Refuses --raw and --fields with a query that ends in an aggregation, which gives counts and
/// no events: the options conflict, an argument error (exit status 2) said before any request.
/// A query that does not parse is left to the server, whose refusal says where.
fn check_aggregation_options(args: &Args) -> anyhow::Result<()> {
    let Ok(query) = vigil_query::parse(&args.query) else {
        return Ok(());
    };
    if query.pipe.is_none() {
        return Ok(());
    }
    for (flag, does, given) in [
        ("--raw", "prints events", args.raw),
        (
            "--fields",
            "picks the columns of events",
            !args.fields.is_empty(),
        ),
    ] {
        if given {
            return Err(crate::output::UsageError(format!(
                "{flag} {does}, and an aggregation (`| count by`, `| top`) has none; leave out {flag} or the aggregation"
            ))
            .into());
        }
    }
    Ok(())
}

async fn search(args: Args) -> anyhow::Result<()> {
    check_aggregation_options(&args)?;
    let c = client(&args.conn)?;
    let (from, to) = args.window.bounds()?;
    let mut query = SearchQuery {
        q: args.query.clone(),
        from,
        to,
        limit: None,
        cursor: None,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut shown = 0u64;
    let mut events: Vec<EventRecord> = Vec::new();
    let total;
    let mut more;
    // JSON lines and CSV are streamed page by page, so `--all` holds one page at a time.
    let lines = args.conn.json || args.raw || args.csv;
    let columns = Columns::of(&args.fields);
    loop {
        let want = if args.all {
            MAX_PAGE
        } else {
            (args.limit - shown).min(MAX_PAGE)
        };
        query.limit = Some(want as u32);
        let page = c.search_events(&query).await.map_err(explain_search)?;
        if query.cursor.is_none() {
            print_warnings(&page.warnings, page.not_yet_searchable);
        }
        if let Some(agg) = &page.aggregation {
            return print_aggregation(&args.conn, args.csv, page.total, agg);
        }
        shown += page.events.len() as u64;
        if args.csv {
            let mut text = Vec::new();
            if query.cursor.is_none() {
                crate::output::csv_row(&mut text, &columns.csv_header());
            }
            for e in &page.events {
                crate::output::csv_row(&mut text, &columns.csv_row(e));
            }
            if write_or_closed(out.write_all(&text))? {
                return Ok(());
            }
        } else if lines {
            for e in &page.events {
                // The event's text is passed through as stored, numbers as written; one sent
                // across several lines (a pretty-printed array) is put on one.
                let json = if args.raw {
                    e.event.text().to_owned()
                } else {
                    serde_json::to_string(e)?
                };
                let line = crate::output::json_on_one_line(&json);
                if write_or_closed(writeln!(out, "{line}"))? {
                    return Ok(());
                }
            }
        } else {
            events.extend(page.events);
        }
        more = page.next_cursor.is_some();
        let done = !more || (!args.all && shown >= args.limit);
        if done {
            total = page.total;
            break;
        }
        query.cursor = page.next_cursor;
    }
    if lines {
        if write_or_closed(out.flush())? {
            return Ok(());
        }
        // stdout holds only the data; that --limit cut the matches short is said beside it,
        // as the table's footer says it.
        if more {
            errln!(
                "note: {shown} of {total} events given, newest first; --limit N or --all for more"
            );
        }
        return Ok(());
    }
    // Read before an empty answer returns, so that a VIGIL_TIMEZONE naming no zone is warned
    // about whether or not this search shows a time.
    let zone = args.window.zone();
    if events.is_empty() {
        write_or_closed(writeln!(
            out,
            "no events match; widen the time window (--since 7d) or the query"
        ))?;
        write_or_closed(out.flush())?;
        return Ok(());
    }
    let t = match &columns {
        Columns::Summary => events_table(&events, zone),
        Columns::Fields(fields) => {
            let header = std::iter::once(time_header(zone)).chain(fields.iter().cloned());
            let mut t = table(header.collect::<Vec<_>>());
            for e in &events {
                let mut row = vec![wall_clock(e.time, zone, "%Y-%m-%d %H:%M:%S")];
                row.extend(columns.values(e).map(|v| truncate(&v, 200)));
                t.add_row(row);
            }
            t
        }
    };
    let footer = if more {
        format!(
            "{} of {} events, newest first; --limit N or --all for more",
            events.len(),
            total
        )
    } else {
        format!("{} of {} events, newest first", events.len(), total)
    };
    if !write_or_closed(writeln!(out, "{t}\n{footer}"))? {
        write_or_closed(out.flush())?;
    }
    Ok(())
}

fn print_aggregation(
    conn: &Conn,
    csv: bool,
    total: u64,
    agg: &AggregationResult,
) -> anyhow::Result<()> {
    if conn.json {
        return print_json(agg);
    }
    // A column per field grouped by, then the count; the events not counted as the last rows,
    // each when there are some: those whose values are all beyond the limit, then those
    // without the field (or, over several, without one of them).
    let fields: Vec<&str> = if agg.fields.is_empty() {
        vec![agg.field.as_str()]
    } else {
        agg.fields.iter().map(String::as_str).collect()
    };
    let rows = agg.buckets.iter().map(|b| {
        let values = if b.values.is_empty() {
            std::slice::from_ref(&b.value)
        } else {
            b.values.as_slice()
        };
        (values, b.count)
    });
    let uncounted: Vec<Vec<String>> = [("(other values)", agg.other), ("(no value)", agg.missing)]
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .map(|(label, count)| {
            std::iter::once(label.to_owned())
                .chain(std::iter::repeat_n(String::new(), fields.len() - 1))
                .chain([count.to_string()])
                .collect()
        })
        .collect();
    if csv {
        let mut text = Vec::new();
        crate::output::csv_row(&mut text, &[fields.as_slice(), &["count"]].concat());
        for (values, count) in rows {
            let row: Vec<String> = values.iter().cloned().chain([count.to_string()]).collect();
            crate::output::csv_row(&mut text, &row);
        }
        for row in &uncounted {
            crate::output::csv_row(&mut text, row);
        }
        write_or_closed(std::io::stdout().lock().write_all(&text))?;
        return Ok(());
    }
    let mut t = table(fields.iter().copied().chain(["COUNT"]).collect::<Vec<_>>());
    for (values, count) in rows {
        let row: Vec<String> = values
            .iter()
            .map(|v| crate::pivot::value_or_none(v))
            .chain([count.to_string()])
            .collect();
        t.add_row(row);
    }
    for row in uncounted {
        t.add_row(row);
    }
    outln!("{t}");
    outln!(
        "{} over {}",
        if fields.len() == 1 {
            crate::output::plural(agg.buckets.len() as u64, "value", "values")
        } else {
            crate::output::plural(agg.buckets.len() as u64, "combination", "combinations")
        },
        crate::output::plural(total, "matching event", "matching events")
    );
    if let Some(most) = agg.unlisted_max {
        outln!(
            "the field has very many values: one not listed may occur up to {most} times; narrow the query (a time window, a service) for a settled ranking"
        );
    }
    Ok(())
}

/// The server's warnings about a query (a field no event has …) and how many acknowledged
/// events it could not see yet, on stderr so that output piped to a script stays clean.
pub fn print_warnings(warnings: &[String], not_yet_searchable: u64) {
    for w in warnings {
        errln!("warning: {w}");
    }
    if not_yet_searchable > 0 {
        errln!(
            "note: {not_yet_searchable} acknowledged events are not searchable yet (indexing catches up within seconds; `vigil storage stats` shows how far behind it is)"
        );
    }
}

/// The table of events: time (in `zone`), service, host, tenant and a summary of each.
pub fn events_table(events: &[EventRecord], zone: &LocalZone) -> crate::output::Table {
    let header = time_header(zone);
    let mut t = table([header.as_str(), "SERVICE", "HOST", "TENANT", "EVENT"]);
    for e in events {
        t.add_row(event_row(e, zone));
    }
    t
}

/// The table row of one event: time (in `zone`), service, host, tenant, summary.
pub fn event_row(e: &EventRecord, zone: &LocalZone) -> [String; 5] {
    let dash = |s: &str| crate::output::or_dash(s).to_owned();
    [
        wall_clock(e.time, zone, "%Y-%m-%d %H:%M:%S"),
        dash(&e.service),
        dash(&e.host),
        dash(&e.tenant),
        summarize(&shown_value(e), 120),
    ]
}

/// The event to summarize: its numbers read as they were sent (`1e3`, not `1000.0`).
fn shown_value(e: &EventRecord) -> Value {
    vigil_events::json::value_as_written(e.event.text()).unwrap_or_else(|_| e.event.value())
}

/// A one-line summary of an event: its message when it has one (with the Windows event id
/// and channel for EVTX records), a web request as its access-log line reads, else its first
/// key=value pairs; cut to `max` characters.
pub fn summarize(event: &Value, max: usize) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(system) = event.pointer("/Event/System") {
        if let Some(id) = system.get("EventID").and_then(scalar) {
            parts.push(format!("EventID={id}"));
        }
        if let Some(ch) = system.get("Channel").and_then(scalar) {
            parts.push(format!("Channel={ch}"));
        }
        if let Some(data) = event.pointer("/Event/EventData") {
            // What the event is about first (CommandLine, TargetUserName …), then the rest.
            let mut first = Vec::new();
            for field in crate::output::KEY_FIELDS {
                // `-` is how Windows writes "none" (TargetUserName=- on a process creation).
                if let Some(value) = data.get(*field).and_then(scalar)
                    && !value.is_empty()
                    && value != "-"
                {
                    parts.push(format!("{field}={value}"));
                    first.push(format!("{field}="));
                }
            }
            let mut rest = Vec::new();
            flatten("", data, &mut rest, 8 + first.len());
            parts.extend(
                rest.into_iter()
                    .filter(|part| !first.iter().any(|f| part.starts_with(f.as_str()))),
            );
        }
    } else if event
        .get(vigil_events::access::ACCESS_LOG_FORMAT_FIELD)
        .is_some()
    {
        // A web request reads best as its log line did: who, what, how it ended, with what.
        for key in [
            "c-ip",
            "cs-method",
            "cs-uri",
            "request",
            "sc-status",
            "cs-user-agent",
        ] {
            if let Some(v) = event.get(key).and_then(scalar) {
                parts.push(v);
            }
        }
    } else {
        let message = ["message", "msg", "Message"]
            .iter()
            .find_map(|k| event.get(*k).and_then(Value::as_str));
        match message {
            Some(m) => {
                for key in ["app_name", "level", "event.action", "action"] {
                    if let Some(v) = event.get(key).and_then(scalar) {
                        parts.push(format!("{key}={v}"));
                    }
                }
                parts.push(m.to_owned());
            }
            None => flatten("", event, &mut parts, 8),
        }
    }
    // Values may hold line breaks and tabs (EVTX data, stack traces): one line per row, a
    // value's line break shown as `\n` (as every human output shows it), so that a sender's
    // `evil\nUser: fake` cannot pass for another field; runs of other blanks become one.
    truncate(&one_line_summary(&parts.join(" ")), max)
}

/// `text` on one line: line breaks written `\n` (`\r` for a lone carriage return), every
/// other run of whitespace one space.
fn one_line_summary(text: &str) -> String {
    let shown = text
        .replace("\r\n", "\\n")
        .replace('\n', "\\n")
        .replace('\r', "\\r");
    shown.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        // EVTX attributes: {"#text": "4624", "#attributes": {...}}.
        Value::Object(m) => m.get("#text").and_then(scalar),
        _ => None,
    }
}

/// Appends `path=value` for the leaves of `v`, depth first, until `parts` holds `max`.
fn flatten(prefix: &str, v: &Value, parts: &mut Vec<String>, max: usize) {
    if parts.len() >= max {
        return;
    }
    match v {
        Value::Object(map) => {
            if let Some(text) = map.get("#text").and_then(scalar) {
                if !prefix.is_empty() {
                    parts.push(format!("{prefix}={text}"));
                }
                return;
            }
            for (k, child) in map {
                if k == "#attributes" {
                    continue;
                }
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, child, parts, max);
                if parts.len() >= max {
                    return;
                }
            }
        }
        Value::Array(items) => {
            let values: Vec<String> = items.iter().filter_map(scalar).collect();
            if !values.is_empty() {
                parts.push(format!("{prefix}=[{}]", values.join(",")));
            }
        }
        Value::Null => {}
        other => {
            if let Some(s) = scalar(other) {
                parts.push(format!("{prefix}={s}"));
            }
        }
    }
}

/// Cuts `s` to at most `max` characters, marking the cut with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summaries_prefer_the_message_then_key_values() {
        let e = json!({"app_name": "sshd", "message": "Failed password\nfor root"});
        // A line break inside a value is shown, not folded away: it could fake another field.
        assert_eq!(
            summarize(&e, 100),
            r"app_name=sshd Failed password\nfor root"
        );
        let e = json!({"CommandLine": "evil\r\nUser: fake\t  x"});
        assert_eq!(summarize(&e, 100), r"CommandLine=evil\nUser: fake x");
        let e = json!({"error_log_format": "nginx", "level": "alert", "message": "worker exited"});
        assert_eq!(summarize(&e, 100), "level=alert worker exited");
        // Keys come in the event's order (serde_json keeps it when a dependency asks for
        // `preserve_order`, else sorted); compare as sets.
        let parts = |s: String| {
            let mut v: Vec<String> = s.split(' ').map(str::to_owned).collect();
            v.sort();
            v
        };
        let e = json!({"user": {"name": "alice"}, "source": {"ip": "10.0.0.5"}, "n": 3});
        assert_eq!(
            parts(summarize(&e, 100)),
            ["n=3", "source.ip=10.0.0.5", "user.name=alice"]
        );
        let e = json!({"Event": {"System": {"EventID": 4625, "Channel": "Security"},
            "EventData": {"TargetUserName": "bob", "IpAddress": "203.0.113.9"}}});
        let s = summarize(&e, 100);
        assert!(s.starts_with("EventID=4625 Channel=Security "), "{s}");
        assert_eq!(
            parts(s),
            [
                "Channel=Security",
                "EventID=4625",
                "IpAddress=203.0.113.9",
                "TargetUserName=bob"
            ]
        );
        // A process creation leads with its command line, whatever comes before it.
        let e = json!({"Event": {"System": {"EventID": 4688, "Channel": "Security"},
            "EventData": {"SubjectUserSid": "S-1-5-21-1", "SubjectUserName": "admmig",
                "TargetUserName": "-",
                "NewProcessName": "C:\\Tools\\mimikatz.exe",
                "CommandLine": "mimikatz.exe sekurlsa::logonpasswords"}}});
        let s = summarize(&e, 200);
        assert!(
            s.starts_with(
                "EventID=4688 Channel=Security CommandLine=mimikatz.exe sekurlsa::logonpasswords SubjectUserName=admmig "
            ),
            "{s}"
        );
        assert_eq!(s.matches("CommandLine=").count(), 1, "{s}");
        assert!(!s.contains("TargetUserName=- SubjectUserName"), "{s}");
        assert!(s.contains("NewProcessName=C:\\Tools\\mimikatz.exe"), "{s}");
        // A web request reads as its access-log line did.
        let line = br#"203.0.113.50 - - [03/Dec/2026:22:15:10 +0000] "GET /i.php?p=../../etc/passwd HTTP/1.1" 200 1733 "-" "Mozilla/5.0""#;
        let e: Value =
            serde_json::from_str(&vigil_events::access::parse(line).unwrap().to_json_text())
                .unwrap();
        assert_eq!(
            summarize(&e, 200),
            "203.0.113.50 GET /i.php?p=../../etc/passwd 200 Mozilla/5.0"
        );
        // EVTX data with line breaks stays on one line, its breaks shown.
        let e = json!({"Event": {"System": {"EventID": 33205},
            "EventData": {"Data": "audit_schema_version:1\nevent_time:2019-11-04\r\n\tsequence_number:1"}}});
        assert_eq!(
            summarize(&e, 100),
            r"EventID=33205 Data=audit_schema_version:1\nevent_time:2019-11-04\n sequence_number:1"
        );
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("é", 1), "é");
    }

    #[test]
    fn a_window_that_holds_no_time_is_an_argument_mistake() {
        let w = |since: Option<&str>, from: Option<&str>, to: Option<&str>| Window {
            since: since.map(str::to_owned),
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            timezone: Some(vigil_events::time::LocalZone::UTC),
        };
        for window in [
            w(None, Some("2025-01-01"), Some("2024-01-01")),
            w(None, Some("2024-01-01"), Some("2024-01-01")),
            w(Some("1h"), None, Some("now-2h")),
            w(None, Some("now-1h"), Some("2024-01-01T00:00:00Z")),
        ] {
            let err = window.bounds().unwrap_err();
            assert!(
                err.downcast_ref::<crate::output::UsageError>().is_some(),
                "{err:#}"
            );
            assert!(err.to_string().contains("is not before --to"), "{err:#}");
        }
        assert!(
            w(None, Some("2024-01-01"), Some("2025-01-01"))
                .bounds()
                .is_ok()
        );
        assert!(w(Some("2h"), None, Some("now-1h")).bounds().is_ok());
    }

    #[test]
    fn from_and_to_take_what_the_server_or_the_zone_reads() {
        for time in [
            "2026-01-31",
            "2026-01-31 09:00",
            "2026-01-31T09:00:00+01:00",
            "2026-01-31T09:00",
            "now-24h",
            "now",
            "24h",
        ] {
            assert!(window_time(time).is_ok(), "{time}");
        }
        for time in ["yesterday", "bogus", "2026-13-01", "-5h", "24x", ""] {
            assert!(window_time(time).is_err(), "{time}");
        }
    }

    #[test]
    fn since_takes_a_duration_only() {
        let w = |s: &str| Window {
            since: Some(s.to_owned()),
            from: None,
            to: None,
            timezone: Some(vigil_events::time::LocalZone::UTC),
        };
        // Sent as the time it reaches back to, the same for every page.
        let from = w("24h").bounds().unwrap().0.unwrap();
        let from: chrono::DateTime<chrono::Utc> = from.parse().expect(&from);
        let expected = chrono::Utc::now() - chrono::Duration::hours(24);
        assert!((from - expected).num_seconds().abs() <= 5, "{from}");
        // Further back than 1970: left for the server, which reads it as all time.
        assert_eq!(w("99999w").bounds().unwrap().0.as_deref(), Some("99999w"));
        assert_eq!(since_arg(" 7d ").as_deref(), Ok("7d"));
        for refused in ["yesterday", "h", "10y", "now-1h", ""] {
            assert!(since_arg(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn times_without_an_offset_are_sent_in_utc_from_the_zone_given() {
        let window = |zone: &str, from: &str, to: &str| {
            Window {
                since: None,
                from: Some(from.to_owned()),
                to: Some(to.to_owned()),
                timezone: Some(zone.parse().unwrap()),
            }
            .bounds()
            .unwrap()
        };
        // Berlin is at +01:00 in January and +02:00 in July.
        assert_eq!(
            window("Europe/Berlin", "2026-01-10 11:00", "2026-07-10T11:00:00"),
            (
                Some("2026-01-10T10:00:00.000Z".to_owned()),
                Some("2026-07-10T09:00:00.000Z".to_owned())
            )
        );
        // A time with its offset keeps it; `now-…` and a bare duration go as written. In UTC
        // a date and time is sent with the `T` the server reads.
        assert_eq!(
            window("+05:00", "2026-01-10T11:00:00+01:00", "now-1h"),
            (
                Some("2026-01-10T10:00:00.000Z".to_owned()),
                Some("now-1h".to_owned())
            )
        );
        assert_eq!(window("+05:00", "48h", "24h").0.as_deref(), Some("48h"));
        assert_eq!(
            window("UTC", "2026-01-10 11:00", "2026-01-11"),
            (
                Some("2026-01-10T11:00:00.000Z".to_owned()),
                Some("2026-01-11T00:00:00.000Z".to_owned())
            )
        );
    }
}
