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

/// What to do after a Tantivy error: rebuilding from the journal repairs a broken index, but
/// never while another process holds it (deleting a live server's index).
fn index_advice(e: &tantivy::TantivyError) -> &'static str {
    match e {
        tantivy::TantivyError::LockFailure(..) => {
            "; another process holds the search index (another Vigil server on the same data directory?): stop it, or give this one another data directory"
        }
        // A full disk or too few descriptors: deleting the index would only need more disk
        // to rebuild it, and indexing tries again on its own.
        tantivy::TantivyError::IoError(..) => {
            "; free disk space or raise the open-files limit; indexing tries again on its own"
        }
        _ => {
            "; if it persists, stop Vigil (every server on this data directory) and delete the index directory to rebuild it from the journal"
        }
    }
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
        let text = LogError::Index(tantivy::TantivyError::IoError(Arc::new(full))).to_string();
        assert!(
            text.contains("free disk space") && !text.contains("delete the index"),
            "{text}"
        );
        let other = tantivy::TantivyError::InvalidArgument("x".into());
        assert!(
            LogError::Index(other)
                .to_string()
                .contains("delete the index")
        );
    }
}
