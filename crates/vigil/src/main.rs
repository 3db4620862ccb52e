//! `vigil`: the one binary. `main` only parses arguments and dispatches to one module per subcommand.

// Messages go to stderr through `errln!` and output to stdout through `outln!` (or `sayln!`, a
// server's lines), which a closed stream does not make panic.
#![warn(clippy::print_stderr, clippy::print_stdout)]

use crate::output::errln;
mod admin;
mod alerts;
mod apply;
mod audit;
mod backup;
mod bench;
mod datadir;
mod detections;
mod finding;
mod hunt;
mod incident;
mod ingest;
mod interrupt;
mod logging;
mod metrics;
mod oncall;
mod open_files;
mod output;
mod pivot;
mod review;
mod rules;
mod ruleset;
mod search;
mod serve;
mod storage;

use clap::{Parser, Subcommand};

/// Vigil — security incident response: cases, Sigma detection, on-call and post-mortems.
#[derive(Debug, Parser)]
#[command(
    name = "vigil",
    version,
    about,
    long_about = None,
    after_help = "Human output (tables, `show`, summaries, warnings) shows text from logs, alerts and reports \
                  as escapes where it would act on the terminal: a line break, carriage return or tab as \
                  \\n, \\r, \\t; other control characters and bidirectional overrides as \\u{1b}, \\u{202e}. \
                  --json, --raw, --format jsonl and csv keep the text exactly."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the Vigil server on the embedded store.
    Serve(Box<serve::Args>),
    /// Administer a data directory (API tokens) and back it up or restore it.
    #[command(subcommand)]
    Admin(admin::Command),
    /// Open, read, list and update incidents on a running server.
    #[command(subcommand)]
    Incident(incident::Command),
    /// Findings: work items incidents leave for owning teams (add, list, show, update).
    #[command(subcommand)]
    Finding(finding::Command),
    /// Check the tamper-evident audit trail of a data directory.
    #[command(subcommand)]
    Audit(audit::Command),
    /// Run Sigma rules, or sweep for indicators (--search), over log files (EVTX, JSON lines,
    /// JSON arrays, syslog, web server logs; gzip too).
    Hunt(hunt::Args),
    /// What a collection of log files holds: events per log and event id, per computer, and
    /// the time they span.
    Metrics(Box<metrics::Args>),
    /// Send log files (EVTX, JSON lines, JSON arrays, syslog, web server logs; gzip too) to a
    /// running server.
    Ingest(Box<ingest::Args>),
    /// Search the central log database of a running server.
    Search(Box<search::Args>),
    /// Follow one value (IP, user, host, hash) through every service's logs.
    Pivot(Box<pivot::Args>),
    /// What the central log database holds, per service.
    #[command(subcommand)]
    Storage(storage::Command),
    /// List the Sigma rule matches a running server recorded on ingested events.
    Detections(Box<detections::Args>),
    /// Work with Sigma rule sets (local check, or the set a running server uses).
    #[command(subcommand)]
    Rules(rules::Command),
    /// Triage alerts: list, show, ack, resolve, dismiss, declare an incident, merge.
    #[command(subcommand)]
    Alerts(alerts::Command),
    /// Apply the organisation file (people, teams, on-call schedules, service owners).
    Apply(Box<apply::Args>),
    /// Who is on call, and where on-call coverage has gaps.
    #[command(subcommand)]
    Oncall(oncall::Command),
    /// The monthly security incident review: incidents, response times, breaches, post-mortems
    /// due and alerts of a month, for senior management.
    Review(Box<review::Args>),
    /// Measure Vigil's throughput.
    #[command(subcommand)]
    Bench(bench::Command),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(*args),
        Command::Admin(cmd) => admin::run(cmd),
        Command::Incident(cmd) => incident::run(cmd),
        Command::Finding(cmd) => finding::run(cmd),
        Command::Audit(cmd) => audit::run(cmd),
        Command::Hunt(args) => hunt::run(args),
        Command::Metrics(args) => metrics::run(*args),
        Command::Ingest(args) => ingest::run(*args),
        Command::Search(args) => search::run(*args),
        Command::Pivot(args) => pivot::run(*args),
        Command::Storage(cmd) => storage::run(cmd),
        Command::Detections(args) => detections::run(*args),
        Command::Rules(cmd) => rules::run(cmd),
        Command::Alerts(cmd) => alerts::run(cmd),
        Command::Apply(args) => apply::run(*args),
        Command::Oncall(cmd) => oncall::run(cmd),
        Command::Review(args) => review::run(*args),
        Command::Bench(cmd) => bench::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            errln!("error: {err:#}");
            if err.downcast_ref::<output::UsageError>().is_some() {
                // As clap ends a run on arguments it refuses.
                std::process::ExitCode::from(2)
            } else {
                std::process::ExitCode::FAILURE
            }
        }
    }
}
