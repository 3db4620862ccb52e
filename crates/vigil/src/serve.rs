//! `vigil serve`.

/// Arguments of `vigil serve`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("`vigil serve` is not available in this build yet")
}
