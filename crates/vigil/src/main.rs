//! `vigil`: the one binary. `main` only parses arguments and dispatches to one module per subcommand.

mod admin;
mod audit;
mod bench;
mod datadir;
mod hunt;
mod incident;
mod logging;
mod output;
mod rules;
mod ruleset;
mod serve;

use clap::{Parser, Subcommand};

/// Vigil — security incident response: cases, Sigma detection, on-call and post-mortems.
#[derive(Debug, Parser)]
#[command(name = "vigil", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the Vigil server on the embedded store.
    Serve(serve::Args),
    /// Administer a data directory (API tokens).
    #[command(subcommand)]
    Admin(admin::Command),
    /// Open, read, list and update incidents on a running server.
    #[command(subcommand)]
    Incident(incident::Command),
    /// Check the tamper-evident audit trail of a data directory.
    #[command(subcommand)]
    Audit(audit::Command),
    /// Run Sigma rules over log files (EVTX, JSON lines, JSON arrays, gzip).
    Hunt(hunt::Args),
    /// Work with Sigma rule sets.
    #[command(subcommand)]
    Rules(rules::Command),
    /// Measure Vigil's throughput.
    #[command(subcommand)]
    Bench(bench::Command),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Admin(cmd) => admin::run(cmd),
        Command::Incident(cmd) => incident::run(cmd),
        Command::Audit(cmd) => audit::run(cmd),
        Command::Hunt(args) => hunt::run(args),
        Command::Rules(cmd) => rules::run(cmd),
        Command::Bench(cmd) => bench::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
