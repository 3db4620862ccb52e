//! `Settings`: everything the server needs to run, resolved by the binary (defaults, then
//! `VIGIL_…` environment variables, then flags) and passed in explicitly. No global state.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Default cap on a JSON request body: 1 MiB.
pub const DEFAULT_JSON_BODY_LIMIT: usize = 1024 * 1024;
/// Default cap on one evidence upload: 1 GiB.
pub const DEFAULT_EVIDENCE_BODY_LIMIT: u64 = 1024 * 1024 * 1024;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The data directory holding the SQLite database and the evidence files.
    pub data_dir: PathBuf,
    /// Address to listen on (used by the binary to bind; `run` takes a bound listener).
    pub listen: SocketAddr,
    /// Largest JSON request body accepted, in bytes; larger bodies get 413.
    pub json_body_limit: usize,
    /// Largest evidence upload accepted, in bytes; larger uploads get 413 and nothing is kept.
    pub evidence_body_limit: u64,
}

impl Settings {
    /// Settings for a data directory and listen address with the default limits.
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        Settings {
            data_dir: data_dir.into(),
            listen,
            json_body_limit: DEFAULT_JSON_BODY_LIMIT,
            evidence_body_limit: DEFAULT_EVIDENCE_BODY_LIMIT,
        }
    }
}
