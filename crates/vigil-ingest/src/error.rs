//! Why ingesting failed as a whole (one bad event is a [`crate::RejectedEvent`], not an error).

/// A failure of the ingest path itself.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The log store could not store the batch; nothing of it was acknowledged.
    #[error("the log store could not store the events: {0}")]
    Logs(#[from] vigil_logs::LogError),
    /// The events were stored but their detections could not be recorded.
    #[error("the events were stored but their detections were not recorded: {0}")]
    Detections(#[from] vigil_store::StoreError),
    /// An alert of the ingest path's own (a silent source) could not be raised or resolved.
    #[error("could not record the alert in the database: {0}")]
    Alerts(vigil_store::StoreError),
    /// A rules directory could not be read (the reason says what to check).
    #[error("cannot load rules from {path}: {reason}")]
    Rules {
        /// The directory.
        path: std::path::PathBuf,
        /// What failed.
        reason: String,
    },
    /// A state file in the data directory could not be written (see `silence`).
    #[error("could not write {}: {source}; check that the data directory is writable and has room", file.display())]
    State {
        /// The file.
        file: std::path::PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The blocking worker stopped unexpectedly (it panicked or the runtime is shutting down).
    #[error("the ingest worker stopped: {0}")]
    Worker(String),
}
