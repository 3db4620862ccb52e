//! `vigil audit verify`: walk the hash-chained audit trail of a data directory and report OK with
//! the count, or the first broken link (exit code 1).

use std::path::PathBuf;

use crate::output::outln;
use anyhow::Context;
use vigil_store::Store;

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
            let store = crate::datadir::open_existing(&data).await?;
            let result = store
                .verify_audit()
                .await
                .map_err(|e| anyhow::anyhow!("could not read the audit trail: {e}"))?;
            store.close().await;
            match result {
                Ok(count) => {
                    outln!("OK: {count} entries");
                    Ok(std::process::ExitCode::SUCCESS)
                }
                Err(b) => {
                    outln!(
                        "BROKEN: audit entry {} — {} ({} entries before it are intact)",
                        b.seq,
                        b.problem,
                        b.seq.saturating_sub(1)
                    );
                    eprintln!(
                        "the audit trail was changed outside Vigil; keep a copy of the data directory for investigation"
                    );
                    Ok(std::process::ExitCode::FAILURE)
                }
            }
        }),
    }
}
