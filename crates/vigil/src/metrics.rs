//! `vigil metrics PATH...`: what a collection of logs holds before hunting in it — events per
//! log and event id (with what the common Windows ids mean), per computer with the time each
//! spans, and the time the whole collection spans. It reads the files as `vigil hunt` does
//! (every format, gzip, every core, a progress bar), running no rule.

use crate::output::errln;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use vigil_events::collect_files;
use vigil_events::source::TextOptions;
use vigil_events::time::{format_timestamp, format_timestamp_in};

use crate::hunt::census::{Census, Seen, event_name};
use crate::hunt::scan::{self, ScanOptions, ScanTally, Scanned, file_sizes, scan_files};
use crate::output::{outln, plural, table};

const AFTER_HELP: &str = "\
Examples:
  vigil metrics ../shared/data/evtx                 # events per channel and event id, per computer
  vigil metrics /cases/4711/logs --files            # and each file with the time it spans
  vigil metrics /cases/4711/logs --top 0 --json     # every kind, for a script
  vigil metrics /var/log --text --timezone Europe/Berlin
  vigil metrics /cases/4711/logs --from '2026-11-30 08:00' --to '2026-11-30 18:00' --timezone Europe/Berlin

Reads EVTX, JSON lines, JSON arrays, syslog and web server logs (gzip too), as vigil hunt does;
the summary and warnings go to stderr. Exit status: 0 once the logs were read, a corrupt file or
record, or a file or folder inside one given that cannot be read, warned about and counted among
the errors; 1 on a path given that does not exist or cannot be read; 2 on arguments it cannot
take.";

/// Arguments of `vigil metrics`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Files and folders (read recursively); `-` reads standard input.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Print one JSON object with every count.
    #[arg(long)]
    json: bool,
    /// How many kinds of event and computers the tables list, most events first (0: all).
    #[arg(long, default_value_t = 30)]
    top: usize,
    /// Also list every file that held events, with its events and the time it spans (by path;
    /// --json always has them).
    #[arg(long)]
    files: bool,
    /// Only events at or after this time (RFC 3339, a date, or now-24h; without an offset in
    /// --timezone, else VIGIL_TIMEZONE, else UTC).
    #[arg(long, value_parser = crate::hunt::parse_time)]
    from: Option<crate::hunt::TimeArg>,
    /// Only events before this time (same forms as --from).
    #[arg(long, value_parser = crate::hunt::parse_time)]
    to: Option<crate::hunt::TimeArg>,
    /// Only events from this far back: a duration such as 15m, 24h or 7d.
    #[arg(long, conflicts_with = "from", value_parser = crate::hunt::parse_since)]
    since: Option<crate::hunt::TimeArg>,
    /// Count the lines of text files of no format Vigil recognises too, as `vigil hunt --text`
    /// reads them (in a folder, documents and scripts are still skipped).
    #[arg(long)]
    text: bool,
    #[command(flatten)]
    zone: crate::hunt::Zone,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (from, to) = crate::hunt::window(
        args.from.as_ref(),
        args.to.as_ref(),
        args.since.as_ref(),
        &args.zone,
    )?;
    crate::output::stdin_must_be_piped(&args.paths, "metrics")?;
    let collected = collect_files(&args.paths).context("cannot read the paths to count")?;
    let files = collected.files;
    let jobs = scan::jobs(args.jobs);
    let sizes = file_sizes(&files);
    // No rule: the scan only counts.
    let (set, _) = vigil_detect::compile(&[], &vigil_detect::CompileOptions::default());
    let text = TextOptions {
        plain: args.text,
        zone: args.zone.logs().clone(),
    };
    let no_count = |_: u64| {};
    let opts = ScanOptions {
        from,
        to,
        text: &text,
        census: true,
        ..ScanOptions::new(&no_count)
    };
    let mut census = Census::default();
    let progress = scan::progress_bar(&files, &sizes);
    // From here a Ctrl-C stops the count with what it counted so far.
    let interrupt = crate::interrupt::Interrupt::install(crate::hunt::stopping_notice(
        progress.clone(),
        "the counts of what was read are shown",
    ))?;
    let opts = ScanOptions {
        stop_requested: Some(interrupt.flag()),
        ..opts
    };
    let mut scanned = ScanTally::new(&files, &sizes, progress);
    scanned.walked(&collected.skipped, collected.given_twice);
    scan_files(&set, &files, &sizes, opts, jobs, |file, part| {
        match part {
            Scanned::FileEnd => scanned.file_end(file),
            Scanned::Part(part) => {
                scanned.part(file, &part);
                census.merge(part.census);
            }
        }
        true
    });
    scanned.finish();
    if let Some(signal) = interrupt.name() {
        errln!("stopped: interrupted by {signal}; the counts are of the files read before it");
    }
    for line in scanned.left_out_lines() {
        errln!("{line}");
    }
    let (files_read, errors) = (scanned.files_read, scanned.errors);
    if args.json {
        crate::output::print_json(&as_json(&census, files_read, errors, scanned.skipped.len()))?;
    } else {
        print_tables(&census, files_read, errors, &args);
    }
    // The count ran: what it could not read was warned about and counted above. Stopped by a
    // signal, it ends as the signal would have ended it.
    Ok(interrupt.exit_code().unwrap_or(ExitCode::SUCCESS))
}

fn as_json(census: &Census, files: u64, errors: u64, skipped: usize) -> serde_json::Value {
    let all = census.total();
    let time = |t: Option<i64>| t.map(format_timestamp);
    json!({
        "files": files,
        "files_skipped": skipped,
        "errors": errors,
        "events": all.events,
        "first": time(all.first),
        "last": time(all.last),
        "undated": census.undated,
        "kinds": census.kinds_by_count().into_iter().map(|(log, id, n)| json!({
            "log": log,
            "event_id": id,
            "name": event_name(log, id),
            "events": n,
        })).collect::<Vec<_>>(),
        "computers": census.computers_by_count().into_iter().map(|(computer, seen)| json!({
            "computer": computer,
            "events": seen.events,
            "first": time(seen.first),
            "last": time(seen.last),
        })).collect::<Vec<_>>(),
        "files_read": census.files_by_path().into_iter().map(|(file, seen)| json!({
            "file": file.display().to_string(),
            "events": seen.events,
            "first": time(seen.first),
            "last": time(seen.last),
        })).collect::<Vec<_>>(),
    })
}

fn print_tables(census: &Census, files: u64, errors: u64, args: &Args) {
    let zone = args.zone.shown();
    let time = |t: Option<i64>| t.map_or_else(|| "-".to_owned(), |t| format_timestamp_in(t, zone));
    let all = census.total();
    let mut line = format!(
        "{}, {}",
        plural(files, "file", "files"),
        plural(all.events, "event", "events")
    );
    if all.first.is_some() {
        line.push_str(&format!(" from {} to {}", time(all.first), time(all.last)));
    }
    if census.undated > 0 {
        line.push_str(&format!(" ({} without a time)", census.undated));
    }
    if errors > 0 {
        line.push_str(&format!(", {}", plural(errors, "error", "errors")));
    }
    outln!("{line}");
    if all.events == 0 {
        return;
    }
    let top = if args.top == 0 { usize::MAX } else { args.top };
    let kinds = census.kinds_by_count();
    let mut t = table(["EVENTS", "SHARE", "LOG", "EVENT ID", "WHAT"]);
    for (log, id, n) in kinds.iter().take(top) {
        t.add_row([
            n.to_string(),
            share(*n, all.events),
            crate::output::or_dash(log).to_owned(),
            crate::output::or_dash(id).to_owned(),
            event_name(log, id).unwrap_or_default().to_owned(),
        ]);
    }
    outln!("\nEvents per log and event id\n{t}");
    more(kinds.len(), top, "kinds of event");
    let computers = census.computers_by_count();
    let first = format!("FIRST ({zone})");
    let last = format!("LAST ({zone})");
    let mut t = table(["EVENTS", "COMPUTER", first.as_str(), last.as_str()]);
    for (
        computer,
        Seen {
            events,
            first,
            last,
        },
    ) in computers.iter().take(top)
    {
        t.add_row([
            events.to_string(),
            if computer.is_empty() {
                "(none named)".to_owned()
            } else {
                (*computer).to_owned()
            },
            time(*first),
            time(*last),
        ]);
    }
    outln!("\nComputers\n{t}");
    more(computers.len(), top, "computers");
    if args.files {
        let mut t = table(["EVENTS", "FILE", first.as_str(), last.as_str()]);
        for (file, seen) in census.files_by_path() {
            t.add_row([
                seen.events.to_string(),
                crate::hunt::short_path(file, &args.paths),
                time(seen.first),
                time(seen.last),
            ]);
        }
        outln!("\nFiles\n{t}");
    }
}

/// `12.3 %` of the whole, `<0.1 %` for a sliver.
fn share(part: u64, whole: u64) -> String {
    let percent = part as f64 * 100.0 / whole.max(1) as f64;
    if percent < 0.1 {
        "<0.1 %".to_owned()
    } else {
        format!("{percent:.1} %")
    }
}

fn more(listed: usize, top: usize, what: &str) {
    if listed > top {
        outln!("… and {} more {what}; --top 0 lists them all", listed - top);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_read_as_percentages() {
        assert_eq!(share(1, 3), "33.3 %");
        assert_eq!(share(1, 10_000), "<0.1 %");
        assert_eq!(share(0, 0), "<0.1 %");
    }
}
