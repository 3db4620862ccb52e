//! `vigil admin`: administer a data directory directly (no server needed) — today, API tokens.

use std::path::PathBuf;

use crate::output::outln;
use anyhow::Context;
use vigil_core::Role;
use vigil_store::Store;

const TOKEN_HELP: &str = "\
The token is printed once on stdout; only its hash is stored. Send it as
`Authorization: Bearer TOKEN`, or give it to the CLI with --token / VIGIL_TOKEN.
Works on the data directory directly, so the server may be running or not.

Roles: ingest (send events only), viewer (read only), responder (open and work incidents),
admin (also tokens, rules and audit).

An ingest token is for a log sender; --service and --tenant bind it so its sender cannot
write events as another service or tenant.

Examples:
  export VIGIL_TOKEN=$(vigil admin token --data ./vigil-data --role admin --name alice)
  vigil admin token --role ingest --name web-shipper --service web --tenant acme";

/// The actor recorded in the audit trail for tokens created from the command line.
const CLI_ACTOR: &str = "vigil-admin-cli";

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
        #[arg(long)]
        role: String,
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
}

pub fn run(command: Command) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    match command {
        Command::Token {
            data,
            role,
            name,
            service,
            tenant,
        } => runtime.block_on(async {
            let role = Role::parse(&role).map_err(|e| anyhow::anyhow!("--role {e}"))?;
            if role != Role::Ingest && (service.is_some() || tenant.is_some()) {
                anyhow::bail!("--service and --tenant bind only ingest tokens; add --role ingest or leave them out");
            }
            let store = crate::datadir::open(&data).await?;
            let created = if role == Role::Ingest {
                store
                    .create_ingest_token(CLI_ACTOR, &name, service.as_deref(), tenant.as_deref())
                    .await
            } else {
                store.create_token(CLI_ACTOR, &name, role).await
            }
            .map_err(|e| anyhow::anyhow!("could not create the token: {e}"))?;
            store.close().await;
            outln!("{}", created.token);
            eprintln!(
                "created {role} token {:?} (id {}); it is shown only now — store it safely",
                created.info.name, created.info.id
            );
            Ok(std::process::ExitCode::SUCCESS)
        }),
    }
}
