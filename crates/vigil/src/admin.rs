//! `vigil admin`: administer a data directory directly (no server needed): API tokens —
//! create, list, revoke; and backups (`backup` asks a running server, `restore` unpacks one
//! into a new directory, see the `backup` module). Revocation takes effect from the next request, running server or not:
//! every request looks its token up in the store when it starts, so a request already in
//! flight (a slow upload, say) finishes.

use crate::output::errln;
use std::path::PathBuf;

use crate::output::{outln, print_json, table};
use anyhow::Context;
use vigil_core::{Role, TokenInfo};
use vigil_store::Store;

const TOKEN_HELP: &str = "\
The token is printed once on stdout (when it cannot be written there, a full disk say, it is
revoked at once and the command fails); only its hash is stored. Send it as
`Authorization: Bearer TOKEN`, or give it to the CLI with --token / VIGIL_TOKEN.
Works on the data directory directly, so the server may be running or not.

The name is the actor recorded on every write the token makes, so no two active tokens may
share one (in any case): revoke the old token first, or pick another name. Nor may it be one
of the actors Vigil records its own writes under: vigil, vigil-admin-cli, reporter (in any
case), or a name with `(link in their page)`, which marks an acknowledgement made through the
link in a page.

Roles: ingest (send events only), viewer (read only), responder (open and work incidents),
admin (also tokens, rules and audit).

An ingest token is for a log sender; --service and --tenant bind it so its sender cannot
write events as another service or tenant.

Examples:
  export VIGIL_TOKEN=$(vigil admin token --data ./vigil-data --role admin --name alice)
  vigil admin token --role ingest --name web-shipper --service web --tenant acme";

const TOKENS_HELP: &str = "\
Lists every token of the data directory, revoked ones too (never their secrets: only hashes
are stored). Works on the data directory directly, so the server may be running or not.

Examples:
  vigil admin tokens --data ./vigil-data
  vigil admin tokens --active --json";

const REVOKE_HELP: &str = "\
Revokes a token by its id, or by its name when exactly one active token has that name. It
stops working from the next request, also on a running server; a request in flight finishes
(a request's token is checked when it starts, so an upload already streaming its body is
still stored). Its record stays, with the revocation time, and the audit trail records who
revoked it.

Examples:
  vigil admin revoke web-shipper --data ./vigil-data
  vigil admin revoke 01a23a7b-3f22-7170-ac3b-3dd94e532720";

/// The actor recorded in the audit trail for tokens created from the command line (no token
/// may take it).
const CLI_ACTOR: &str = vigil_core::actors::ADMIN_CLI;

/// Subcommands of `vigil admin`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create an API token and print it (once).
    #[command(after_help = TOKEN_HELP)]
    Token {
        /// Data directory of the server (created if missing).
        #[arg(long, env = "VIGIL_DATA", default_value = "vigil-data")]
        data: PathBuf,
        /// Role of the token: admin, responder, viewer or ingest.
        #[arg(long, value_parser = crate::incident::domain::<Role>)]
        role: Role,
        /// Who or what the token is for; recorded as the actor of its writes.
        #[arg(long)]
        name: String,
        /// For an ingest token: the only service it may send events as.
        #[arg(long)]
        service: Option<String>,
        /// For an ingest token: the only tenant it may send events for.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List the API tokens (never their secrets).
    #[command(after_help = TOKENS_HELP)]
    Tokens {
        /// Data directory of the server.
        #[arg(long, env = "VIGIL_DATA", default_value = "vigil-data")]
        data: PathBuf,
        /// Only the tokens not revoked.
        #[arg(long)]
        active: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Back up a running server, consistent at one moment, into one archive.
    #[command(after_help = crate::backup::BACKUP_HELP)]
    Backup {
        #[command(flatten)]
        conn: crate::incident::Conn,
        /// The archive to write (a tar.gz; FILE.part until it is complete); an existing file
        /// is left alone unless --force.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace the file at --out if there is one.
        #[arg(long)]
        force: bool,
    },
    /// Restore a backup into a new data directory (no server running on it).
    #[command(after_help = crate::backup::RESTORE_HELP)]
    Restore {
        /// The data directory to create (it must be empty or missing).
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// The archive `vigil admin backup` wrote.
        file: PathBuf,
        /// Print what was restored as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an API token: it stops working from the next request (one in flight finishes).
    #[command(after_help = REVOKE_HELP)]
    Revoke {
        /// The token's id, or its name when one active token has it.
        token: String,
        /// Data directory of the server.
        #[arg(long, env = "VIGIL_DATA", default_value = "vigil-data")]
        data: PathBuf,
        /// Print the revoked token's record as JSON.
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
        Command::Backup { conn, out, force } => {
            runtime.block_on(crate::backup::backup(conn, out, force))?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Restore { data, file, json } => crate::backup::restore(data, file, json),
        Command::Token {
            data,
            role,
            name,
            service,
            tenant,
        } => runtime.block_on(async {
            if role != Role::Ingest && (service.is_some() || tenant.is_some()) {
                return Err(crate::output::UsageError(
                    "--service and --tenant bind only ingest tokens; add --role ingest or leave them out".to_owned(),
                )
                .into());
            }
            let new_directory = !data.join("vigil.db").exists();
            // A first token may make the data directory; an existing one is upgraded only by
            // `vigil serve`, since an older server may still be running on it.
            let store = if new_directory {
                crate::datadir::open(&data).await?
            } else {
                crate::datadir::open_existing(&data).await?
            };
            let created = if role == Role::Ingest {
                store
                    .create_ingest_token(CLI_ACTOR, &name, service.as_deref(), tenant.as_deref())
                    .await
            } else {
                store.create_token(CLI_ACTOR, &name, role).await
            }
            .map_err(|e| anyhow::anyhow!("could not create the token: {e}"))?;
            // The secret exists only in this output: a token whose secret could not be written
            // (a full disk, a closed pipe) would stay active with nobody able to use it, and
            // hold its name. It is revoked then.
            let written = {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                writeln!(out, "{}", created.token).and_then(|()| out.flush())
            };
            if let Err(e) = written {
                let revoked = store.revoke_token(CLI_ACTOR, created.info.id).await;
                store.close().await;
                return Err(match revoked {
                    Ok(_) => anyhow::anyhow!(
                        "could not write the token to standard output ({e}), so it was revoked again (id {}): nobody holds its secret; run the command again with standard output going where it can be written",
                        created.info.id
                    ),
                    Err(r) => anyhow::anyhow!(
                        "could not write the token to standard output ({e}), and could not revoke it ({r}): it is active with its secret lost; revoke it with `vigil admin revoke {} --data {}`, then run the command again",
                        created.info.id,
                        data.display()
                    ),
                });
            }
            store.close().await;
            errln!(
                "created {role} token {:?} (id {}); it is shown only now — store it safely",
                created.info.name, created.info.id
            );
            if new_directory {
                // A mistyped --data makes a store of its own, which the server never reads.
                errln!(
                    "note: {} held no Vigil database, so a new one was made there; the token works only for a server started with --data {}",
                    data.display(),
                    data.display()
                );
            }
            Ok(std::process::ExitCode::SUCCESS)
        }),
        Command::Tokens { data, active, json } => runtime.block_on(async {
            let store = crate::datadir::open_existing(&data).await?;
            let tokens = store.list_tokens().await;
            store.close().await;
            let mut tokens = tokens.context("could not list the tokens")?;
            if active {
                tokens.retain(|t| t.revoked_at.is_none());
            }
            if json {
                print_json(&tokens)?;
            } else {
                print_tokens(&tokens);
            }
            Ok(std::process::ExitCode::SUCCESS)
        }),
        Command::Revoke { token, data, json } => runtime.block_on(async {
            let store = crate::datadir::open_existing(&data).await?;
            let revoked = revoke(&store, &token).await;
            store.close().await;
            let revoked = revoked?;
            if json {
                print_json(&revoked)?;
            } else {
                outln!(
                    "revoked {} token {:?} (id {}); it no longer works",
                    revoked.role,
                    revoked.name,
                    revoked.id
                );
            }
            Ok(std::process::ExitCode::SUCCESS)
        }),
    }
}

/// Revokes the token `which` names: its id, or the name of exactly one active token.
async fn revoke(store: &impl Store, which: &str) -> anyhow::Result<TokenInfo> {
    let tokens = store
        .list_tokens()
        .await
        .context("could not list the tokens")?;
    let id = match uuid::Uuid::parse_str(which) {
        Ok(id) => id,
        Err(_) => {
            let named: Vec<&TokenInfo> = tokens
                .iter()
                .filter(|t| t.name == which && t.revoked_at.is_none())
                .collect();
            match named.as_slice() {
                [one] => one.id,
                [] => anyhow::bail!(
                    "no active token is named {which:?}; list them with `vigil admin tokens`"
                ),
                many => anyhow::bail!(
                    "{} active tokens are named {which:?} ({}); revoke one by its id",
                    many.len(),
                    many.iter()
                        .map(|t| t.id.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
    };
    store.revoke_token(CLI_ACTOR, id).await.map_err(|e| {
        anyhow::anyhow!("could not revoke the token: {e}; list them with `vigil admin tokens`")
    })
}

fn print_tokens(tokens: &[TokenInfo]) {
    if tokens.is_empty() {
        outln!("no tokens; create one with `vigil admin token --role admin --name YOUR_NAME`");
        return;
    }
    let (created, revoked) = (
        crate::output::time_column("CREATED"),
        crate::output::time_column("REVOKED"),
    );
    let mut t = table([
        "ID",
        "NAME",
        "ROLE",
        "SENDS AS",
        created.as_str(),
        "BY",
        revoked.as_str(),
    ]);
    for token in tokens {
        let sends_as = match (&token.service, &token.tenant) {
            (None, None) => "-".to_owned(),
            (service, tenant) => format!(
                "service {} / tenant {}",
                service.as_deref().unwrap_or("any"),
                tenant.as_deref().unwrap_or("any")
            ),
        };
        t.add_row([
            token.id.to_string(),
            token.name.clone(),
            token.role.to_string(),
            sends_as,
            crate::output::shown_time(token.created_at, "%Y-%m-%d %H:%M"),
            token.created_by.clone(),
            token
                .revoked_at
                .map(|r| crate::output::shown_time(r, "%Y-%m-%d %H:%M"))
                .unwrap_or_else(|| "-".to_owned()),
        ]);
    }
    outln!("{t}");
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    #[derive(Debug, Parser)]
    struct Admin {
        #[command(subcommand)]
        command: super::Command,
    }

    fn help(path: &[&str]) -> String {
        let mut command = Admin::command();
        let mut at = &mut command;
        for name in path {
            at = at.find_subcommand_mut(name).expect("subcommand");
        }
        at.render_long_help().to_string()
    }

    /// What `admin --help` and `admin revoke --help` say about revocation must agree with
    /// what happens: a request checks its token when it starts, so one in flight finishes.
    #[test]
    fn revocation_help_says_from_the_next_request_everywhere() {
        for text in [help(&[]), help(&["revoke"])] {
            assert!(!text.contains("at once"), "{text}");
            assert!(text.contains("from the next request"), "{text}");
        }
        assert!(help(&["revoke"]).contains("a request in flight finishes"));
    }
}
