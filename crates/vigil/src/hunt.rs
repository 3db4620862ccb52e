//! `vigil hunt`.

/// Arguments of `vigil hunt`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("`vigil hunt` is not available in this build yet")
}
