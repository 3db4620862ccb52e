//! `vigil admin`: administer a data directory directly (no server needed) — today, API tokens.

use std::path::PathBuf;

use anyhow::Context;
use vigil_core::Role;
use vigil_store::Store;

const TOKEN_HELP: &str = "\
The token is printed once on stdout; only its hash is stored. Send it as
`Authorization: Bearer TOKEN`, or give it to the CLI with --token / VIGIL_TOKEN.
Works on the data directory directly, so the server may be running or not.

Roles: viewer (read only), responder (open and work incidents), admin (also tokens and audit).

Example:
  export VIGIL_TOKEN=$(vigil admin token --data ./vigil-data --role admin --name alice)";

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
        /// Role of the token: admin, responder or viewer.
        #[arg(long)]
        role: String,
        /// Who or what the token is for; recorded as the actor of its writes.
        #[arg(long)]
        name: String,
    },
}

pub fn run(command: Command) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    match command {
        Command::Token { data, role, name } => runtime.block_on(async {
            let role = Role::parse(&role).map_err(|e| anyhow::anyhow!("--role {e}"))?;
            let store = crate::datadir::open(&data).await?;
            let created = store
                .create_token(CLI_ACTOR, &name, role)
                .await
                .map_err(|e| anyhow::anyhow!("could not create the token: {e}"))?;
            store.close().await;
            println!("{}", created.token);
            eprintln!(
                "created {role} token {:?} (id {}); it is shown only now — store it safely",
                created.info.name, created.info.id
            );
            Ok(std::process::ExitCode::SUCCESS)
        }),
    }
}
