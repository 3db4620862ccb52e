//! `vigil admin`.

/// Subcommands of `vigil admin`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {}

pub fn run(command: Command) -> anyhow::Result<std::process::ExitCode> {
    match command {}
}
