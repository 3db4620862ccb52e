//! `vigil audit verify`: walk the hash-chained audit trail of a data directory, compare every
//! token, version of the organisation document, incident and alert people acted on with the
//! state its latest entry recorded, and report OK with the counts, or the first broken link or
//! altered record (exit code 1).

use crate::output::errln;
use std::path::PathBuf;

use crate::output::{outln, plural, print_json};
use anyhow::Context;
use vigil_api::types::AuditVerification;
use vigil_store::Store;

const VERIFY_HELP: &str = "\
Reads the data directory directly (the server may be running or not). Prints `OK: N entries`
with how many records match the state their latest audit entry recorded, and exits 0. The records
checked:
  - every token (its role, scope, revocation and secret's hash);
  - every version of the organisation document, the one in force included (the document, its
    number and who applied it, against the `org.apply` entry that holds it);
  - every incident (everything `vigil incident show` reads, its action log included);
  - every alert people acted on (acknowledged, resolved, dismissed, declared or merged): its
    status, severity, title, service, source, dismissal, incident and the other fields it was
    raised with, and its log up to the latest of those steps. Its count, last sighting, events
    and the log lines written after that step (pages, matches folded into it) are not audited,
    nor is an alert nobody acted on, nor detections: all are written at ingest rate.
Otherwise exits 1 and names either the first entry whose hash or link does not match (that
entry or the one before it was changed outside Vigil) or the first record changed, added or
deleted outside Vigil (`ALTERED: incident INC-3 …`, `organisation document version 4`, `alert
ALR-5`): compare it with its entries in the audit trail and restore it from a backup.

Records whose latest entry was written by a Vigil that did not record states yet cannot be
checked; they are counted in the OK line and checked again from their next write.

Example:
  vigil audit verify --data ./vigil-data";

/// Subcommands of `vigil audit`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Verify the audit chain and that no incident, token, organisation document or alert people
    /// acted on was changed outside Vigil.
    #[command(after_help = VERIFY_HELP)]
    Verify {
        /// Data directory of the server.
        #[arg(long, env = "VIGIL_DATA", default_value = "vigil-data")]
        data: PathBuf,
        /// Print the result as JSON (as `GET /api/v1/audit/verify` answers); the exit code is
        /// the same.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: Command) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    match command {
        Command::Verify { data, json } => runtime.block_on(async {
            let store = crate::datadir::open_existing(&data).await?;
            let result = store
                .verify_audit()
                .await
                .map_err(|e| anyhow::anyhow!("could not read the audit trail: {e}"))?;
            store.close().await;
            let verification = AuditVerification::from_result(result);
            if json {
                print_json(&verification)?;
            } else {
                report(&verification);
            }
            Ok(if verification.ok {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            })
        }),
    }
}

/// The human form of a verification: one line on stdout, and on a failure what to do on stderr.
fn report(v: &AuditVerification) {
    match &v.broken {
        None => {
            let mut line = format!(
                "OK: {}; {} checked against the audit trail",
                plural(v.entries, "entry", "entries"),
                plural(v.records_checked, "record", "records"),
            );
            if v.records_unchecked > 0 {
                line.push_str(&format!(
                    "; {} could not be checked (last written before Vigil recorded states in the audit trail; each is checked from its next write)",
                    plural(v.records_unchecked, "record", "records"),
                ));
            }
            outln!("{line}");
        }
        Some(b) if b.problem.is_record() => {
            outln!(
                "ALTERED: {} (the audit chain's {} are intact)",
                b.problem,
                plural(b.seq, "entry", "entries")
            );
            errln!(
                "a record was changed outside Vigil; keep a copy of the data directory for investigation"
            );
        }
        Some(b) => {
            outln!(
                "BROKEN: audit entry {} — {} ({} entries before it are intact)",
                b.seq,
                b.problem,
                b.seq.saturating_sub(1)
            );
            errln!(
                "the audit trail was changed outside Vigil; keep a copy of the data directory for investigation"
            );
        }
    }
}
