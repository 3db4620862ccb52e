//! `vigil audit verify`: walk the hash-chained audit trail of a data directory, compare every
//! token, version of the organisation document, incident and alert people acted on with the
//! state its latest entry recorded, re-hash every stored evidence file, and report OK with the
//! counts, or the first broken link or altered record and each altered or missing evidence file
//! (exit code 1).

use crate::output::errln;
use std::path::PathBuf;

use crate::output::{outln, plural, print_json};
use anyhow::Context;
use std::io::IsTerminal;
use vigil_api::types::{AuditVerification, EvidenceCheck};
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
It also re-hashes every stored evidence file against the SHA-256 recorded for it (the audit
trail vouches for that hash, this for the bytes) and counts the files in the OK line; a progress
bar on a terminal shows how far it is.
Otherwise exits 1 and names either the first entry whose hash or link does not match (that
entry or the one before it was changed outside Vigil) or the first record changed, added or
deleted outside Vigil (`ALTERED: incident INC-3 …`, `organisation document version 4`, `alert
ALR-5`): compare it with its entries in the audit trail and restore it from a backup. Each
evidence item whose file was changed or is missing is named with its incident and id
(`ALTERED: evidence ID (mail.eml) of INC-3 …`, `MISSING: …`): restore the file from a backup
and record that in its chain of custody.

Records whose latest entry was written by a Vigil that did not record states yet cannot be
checked; they are counted in the OK line and checked again from their next write.

Example:
  vigil audit verify --data ./vigil-data";

/// Subcommands of `vigil audit`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Verify the audit chain, that no incident, token, organisation document or alert people
    /// acted on was changed outside Vigil, and that every evidence file holds its recorded bytes.
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
            let evidence = verify_evidence(&store).await;
            store.close().await;
            let verification = AuditVerification::from_checks(result, evidence?);
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

/// Re-hashes every stored evidence file, with a progress bar by bytes on a terminal.
async fn verify_evidence(store: &vigil_store::SqliteStore) -> anyhow::Result<EvidenceCheck> {
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| crate::output::bytes_progress(Some(0), true));
    if let Some(bar) = &bar {
        bar.set_message("of evidence re-hashed");
    }
    let progress = |done: u64, total: u64| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    };
    let check = store.verify_evidence(&progress).await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    check.map_err(|e| anyhow::anyhow!("could not re-hash the evidence files: {e}"))
}

/// The human form of a verification: one line on stdout per finding (one in all when it is
/// OK), and on a failure what to do on stderr.
fn report(v: &AuditVerification) {
    for problem in &v.evidence_problems {
        let word = if problem.actual.is_some() {
            "ALTERED"
        } else {
            "MISSING"
        };
        outln!("{word}: {problem}");
    }
    if !v.evidence_problems.is_empty() {
        errln!(
            "{} changed outside Vigil or gone; keep a copy of the data directory for investigation, restore each file from a backup and record that in its chain of custody",
            plural(
                v.evidence_problems.len() as u64,
                "evidence file was",
                "evidence files were"
            )
        );
    }
    match &v.broken {
        None if !v.evidence_problems.is_empty() => {
            outln!(
                "the audit trail is intact: {}; {} checked against it",
                plural(v.entries, "entry", "entries"),
                plural(v.records_checked, "record", "records"),
            );
        }
        None => {
            let mut line = format!(
                "OK: {}; {} checked against the audit trail; {} re-hashed",
                plural(v.entries, "entry", "entries"),
                plural(v.records_checked, "record", "records"),
                plural(v.evidence_files_checked, "evidence file", "evidence files"),
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
