//! The log store's errors.

use std::path::{Path, PathBuf};

/// Why a log store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Reading or writing a file of the store failed.
    #[error(
        "{path}: {source}; check that the data directory exists, is writable and the disk is not full"
    )]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A journal segment other than the last holds a frame that fails its checksum.
    #[error(
        "journal segment {path} is corrupt at byte {offset}; restore the data directory from a backup, or move that segment away to keep the events before it"
    )]
    CorruptJournal {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the bad frame.
        offset: u64,
    },
    /// Another process (or another open store in this one) has the store open: it is in use,
    /// not broken.
    #[error(
        "the log store {path} is in use by another process (another Vigil server on the same data directory?); stop that process or give this one another data directory"
    )]
    InUse {
        /// The store's lock file, or its index directory.
        path: PathBuf,
    },
    /// The search index failed.
    #[error("search index: {0}{advice}", advice = index_advice(.0))]
    Index(#[from] tantivy::TantivyError),
    /// The search index is broken (it does not open, or indexing fails for a reason other
    /// than a full disk or too few descriptors): whether deleting it to rebuild it from the
    /// journal is safe depends on whether the journal still holds every event.
    #[error("search index {}: {source}; {}", .dir.display(), repair_advice(.dir, .gone))]
    IndexBroken {
        /// The index directory.
        dir: PathBuf,
        /// What Tantivy failed with.
        source: tantivy::TantivyError,
        /// The first run of events the journal no longer holds (`None`: it holds all of them,
        /// and the index can be rebuilt from it).
        gone: Option<std::ops::Range<u64>>,
    },
    /// Acknowledged events are in neither the journal nor the index: the index was deleted
    /// after the journal had been pruned of events only the index held, or journal segments
    /// were deleted or cut short. The store opens anyway only when told to
    /// ([`crate::EmbeddedConfig::accept_lost_events`]).
    #[error("{}", lost_text(.dir, *.first, *.count, *.index_empty))]
    EventsLost {
        /// The log store's directory.
        dir: PathBuf,
        /// The first event missing.
        first: u64,
        /// How many events are missing.
        count: u64,
        /// Whether the index was missing or empty (deleted to be rebuilt from the journal).
        index_empty: bool,
    },
    /// The query text does not parse.
    #[error("query: {0}")]
    Query(#[from] vigil_query::ParseError),
    /// The query is valid but asks for something the store cannot do.
    #[error("{0}")]
    Unsupported(String),
    /// Writing a batch to the journal failed (a full disk, an I/O error): nothing of it was
    /// stored, and the store takes the next batch as usual.
    #[error(
        "the log store could not write the batch to its journal ({reason}); nothing of it was stored: send it again once the cause is fixed (free disk space, check the disk)"
    )]
    NotStored {
        /// What the write failed with.
        reason: String,
    },
    /// The search index cannot take events now (a full disk, too many open files): they are
    /// kept in the journal, and indexing tries again on its own.
    #[error(
        "the search index is failing ({reason}); acknowledged events are kept and become searchable once it recovers, which it tries on its own: free disk space or raise the open-files limit"
    )]
    NotSearchable {
        /// What indexing failed with.
        reason: String,
    },
    /// The store's background threads have stopped (after an I/O failure or at shutdown).
    #[error("the log store has shut down ({0}); restart Vigil")]
    Closed(String),
}

/// Whether a Tantivy error is the machine's (a full disk, too few descriptors), which passes
/// once the cause is fixed, rather than the index's. A full disk reaches the index writer as
/// an I/O error, or, when one of its indexing threads died of it, as `ErrorInThread`.
pub(crate) fn machine_failure(e: &tantivy::TantivyError) -> bool {
    matches!(
        e,
        tantivy::TantivyError::IoError(..) | tantivy::TantivyError::ErrorInThread(..)
    )
}

/// What to do after a Tantivy error. Never "delete the index" here: the journal is pruned as
/// the index commits, so the index may be the only copy of most events; only the store, which
/// can look at its journal ([`LogError::IndexBroken`]), says whether that is safe.
fn index_advice(e: &tantivy::TantivyError) -> &'static str {
    match e {
        tantivy::TantivyError::LockFailure(..) => {
            "; another process holds the search index (another Vigil server on the same data directory?): stop it, or give this one another data directory"
        }
        // Deleting the index would only need more disk to rebuild it, and indexing tries
        // again on its own.
        e if machine_failure(e) => {
            "; free disk space or raise the open-files limit; indexing tries again on its own"
        }
        _ => {
            "; if it persists, restart Vigil: the log store checks its index as it opens and says how to repair it (do not delete the index: it may hold events the journal no longer has)"
        }
    }
}

/// How to repair a broken index: rebuild it from the journal when that holds every event,
/// else restore it, since deleting it would lose the events only it holds.
fn repair_advice(dir: &Path, gone: &Option<std::ops::Range<u64>>) -> String {
    match gone {
        None => format!(
            "it can be rebuilt from the journal, which holds every event: stop Vigil (every server on this data directory), delete {} and start it again",
            dir.display()
        ),
        Some(gone) => format!(
            "do not delete it: the journal no longer holds events {} to {} ({} events; the journal is pruned as the index takes its events), so this index is their only copy and deleting it loses them; stop Vigil and restore the whole data directory that holds the log store {} from a backup (see Backup and restore in the README)",
            gone.start,
            gone.end.saturating_sub(1),
            gone.end - gone.start,
            dir.parent().unwrap_or(dir).display()
        ),
    }
}

/// The text of [`LogError::EventsLost`].
fn lost_text(dir: &Path, first: u64, count: u64, index_empty: bool) -> String {
    let last = first + count.saturating_sub(1);
    let what = if index_empty {
        format!(
            "the search index in {} is missing or empty, and the journal no longer holds events {first} to {last} ({count} events; it is pruned as the index takes its events), so rebuilding the index from the journal would leave them out for good",
            dir.join("index").display()
        )
    } else {
        format!(
            "the journal in {} is missing acknowledged events {first} to {last} ({count} events; a segment was deleted or cut short outside Vigil) that the search index does not hold either",
            dir.join("journal").display()
        )
    };
    format!(
        "{what}. Stop here and restore the whole data directory that holds the log store {} from a backup (see Backup and restore in the README); or, to go on without those events for good, start once with `vigil serve --accept-lost-events`",
        dir.display()
    )
}

impl LogError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> LogError {
        LogError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::LogError;

    #[test]
    fn a_full_disk_is_not_answered_with_deleting_the_index() {
        let full = std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device");
        // As the index writer reports a full disk: an I/O error, or an indexing thread killed
        // by it.
        for failure in [
            tantivy::TantivyError::IoError(Arc::new(full)),
            tantivy::TantivyError::ErrorInThread("An index writer was killed.".into()),
        ] {
            let text = LogError::Index(failure).to_string();
            assert!(
                text.contains("free disk space") && !text.contains("delete"),
                "{text}"
            );
        }
        let other = LogError::Index(tantivy::TantivyError::InvalidArgument("x".into())).to_string();
        assert!(
            other.contains("do not delete the index") && other.contains("restart Vigil"),
            "{other}"
        );
    }
}
