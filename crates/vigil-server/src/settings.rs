//! `Settings`: everything the server needs to run, resolved by the binary (defaults, then
//! `VIGIL_…` environment variables, then flags) and passed in explicitly. No global state.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default cap on a JSON request body: 1 MiB.
pub const DEFAULT_JSON_BODY_LIMIT: usize = 1024 * 1024;
/// Default cap on one evidence upload: 1 GiB.
pub const DEFAULT_EVIDENCE_BODY_LIMIT: u64 = 1024 * 1024 * 1024;

/// Default cap on one `POST /events` body: 16 MiB.
pub const DEFAULT_INGEST_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// How long a connection may take to send a whole request head, counted from when it opens or
/// from its previous answer: it bounds both a request head sent slowly or never finished and an
/// idle keep-alive connection. nginx's `client_header_timeout` is 60 s, hyper's default 30 s.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a request body may stall (no bytes at all) before the request is answered 400 and
/// its connection closed. A stall, not a total: a large evidence upload or ingest batch over a
/// slow link takes as long as it needs while bytes keep coming (nginx's `client_body_timeout`).
pub const DEFAULT_BODY_STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Connections open at once when the binary does not derive the cap from the open-file limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// How often retention runs by default: hourly.
pub const DEFAULT_RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

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
    /// Largest `POST /events` body accepted, in bytes.
    pub ingest_body_limit: usize,
    /// How long a connection may take to send a whole request head after it opens or after its
    /// previous answer (an idle keep-alive connection); then it is closed.
    pub header_read_timeout: Duration,
    /// How long a request body may go without a byte before the request fails (400) and its
    /// connection is closed.
    pub body_stall_timeout: Duration,
    /// Most HTTP connections open at once; further ones wait in the kernel's listen backlog
    /// until one closes, so sockets cannot use up the descriptors the stores need.
    pub max_connections: usize,
    /// How long each service's events are kept.
    pub retention: vigil_ingest::RetentionPolicy,
    /// How often the retention task runs.
    pub retention_interval: Duration,
    /// The secret part of the reporting link `/report/KEY`; `None` turns the form off.
    pub report_key: Option<String>,
    /// Signs acknowledgement links in pages (`/ack/ALR-12?t=…`); `None` turns them off.
    pub link_signer: Option<vigil_core::LinkSigner>,
}

impl Settings {
    /// Settings for a data directory and listen address with the default limits.
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        Settings {
            data_dir: data_dir.into(),
            listen,
            json_body_limit: DEFAULT_JSON_BODY_LIMIT,
            evidence_body_limit: DEFAULT_EVIDENCE_BODY_LIMIT,
            ingest_body_limit: DEFAULT_INGEST_BODY_LIMIT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_stall_timeout: DEFAULT_BODY_STALL_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            retention: vigil_ingest::RetentionPolicy::default(),
            retention_interval: DEFAULT_RETENTION_INTERVAL,
            report_key: None,
            link_signer: None,
        }
    }
}
