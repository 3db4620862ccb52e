//! Tracing setup for the long-running commands: `RUST_LOG` (default `info`) to stderr.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls are ignored.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        // A log line stderr cannot take (closed by `vigil serve 2>&1 | head`) is dropped: the
        // subscriber would otherwise report it with `eprintln!`, which panics on that stderr.
        .log_internal_errors(false)
        .try_init();
}
