//! `vigil audit verify`: walk the hash-chained audit trail of a data directory and report OK with
//! the count, or the first broken link (exit code 1).

use std::path::PathBuf;

use anyhow::Context;

const VERIFY_HELP: &str = "\
Reads the data directory directly (the server may be running or not). Prints `OK: N entries`
and exits 0, or names the first entry whose hash or link does not match and exits 1: that entry
or the one before it was changed outside Vigil.

Example:
  vigil audit verify --data ./vigil-data";

/// Subcommands of `vigil audit`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Verify the audit chain.
    #[command(after_help = VERIFY_HELP)]
    Verify {
        /// Data directory of the server.
        #[arg(long, env = "VIGIL_DATA", default_value = "vigil-data")]
        data: PathBuf,
    },
}

pub fn run(command: Command) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    match command {
        Command::Verify { data } => runtime.block_on(async {
            if !data.exists() {
                anyhow::bail!("{} does not exist; give the server's data directory with --data", data.display());
            }
            let store = crate::datadir::open(&data).await?;
            let report = crate::datadir::verify(&store).await?;
            if report.ok {
                println!("OK: {} entries", report.entries);
                Ok(std::process::ExitCode::SUCCESS)
            } else {
                println!(
                    "BROKEN: audit entry {} — {} ({} entries checked before it)",
                    report.first_broken.map(|n| n.to_string()).unwrap_or_else(|| "?".into()),
                    report.problem.as_deref().unwrap_or("hash mismatch"),
                    report.entries
                );
                eprintln!("the audit trail was changed outside Vigil; keep a copy of the data directory for investigation");
                Ok(std::process::ExitCode::FAILURE)
            }
        }),
    }
}
