//! `vigil audit`.

/// Subcommands of `vigil audit`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {}

pub fn run(command: Command) -> anyhow::Result<std::process::ExitCode> {
    match command {}
}
