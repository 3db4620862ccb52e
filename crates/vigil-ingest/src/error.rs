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
    /// A reload would reject rules the running set does not: a rule edited into a broken
    /// state would stop detecting. The running set stays.
    #[error(
        "{} the running rules do not reject: {}; fix {} (`vigil rules check` on the rules directory says why) and reload again",
        if *rules == 1 { "1 rule would be rejected that".to_owned() } else { format!("{rules} rules would be rejected that") },
        rejected.join("; "),
        if *rules == 1 { "it" } else { "them" }
    )]
    NewlyRejected {
        /// How many rules.
        rules: usize,
        /// `file:line: reason` of each of their problems (a rule may have several).
        rejected: Vec<String>,
    },
    /// A body holds more events than one request may: decoded, they would take many times
    /// their size in memory.
    #[error(
        "the body holds more than {max} events; send at most {max} per request (`vigil ingest` does)"
    )]
    TooManyEvents {
        /// Events one request may hold.
        max: usize,
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
