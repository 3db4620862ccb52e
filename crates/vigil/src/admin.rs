//! `vigil admin`: administer a data directory directly (no server needed) — today, API tokens.

use std::path::PathBuf;

use anyhow::Context;

const TOKEN_HELP: &str = "\
The token is printed once; only its hash is stored. Send it as `Authorization: Bearer TOKEN`,
or give it to the CLI with --token / VIGIL_TOKEN.

Roles: viewer (read only), responder (open and work incidents), admin (also tokens and audit).

Example:
  vigil admin token --data ./vigil-data --role admin --name alice
  export VIGIL_TOKEN=vgl_...";

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
            let role: vigil_api::types::Role =
                serde_json::from_value(serde_json::Value::String(role.clone())).map_err(|_| {
                    anyhow::anyhow!("invalid role {role:?}; use admin, responder or viewer")
                })?;
            if name.trim().is_empty() {
                anyhow::bail!("--name must say who or what the token is for");
            }
            let store = crate::datadir::open(&data).await?;
            let created = crate::datadir::create_token(&store, &name, role).await?;
            println!("{}", created.token);
            eprintln!(
                "created {role} token {:?} (id {}); it is shown only now — store it safely",
                created.name, created.id
            );
            Ok(std::process::ExitCode::SUCCESS)
        }),
    }
}
