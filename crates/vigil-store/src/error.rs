//! Store errors: domain refusals pass through unchanged; the rest say what failed and what to do.

use uuid::Uuid;
use vigil_core::DomainError;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A domain rule refused the input or the change (field named, or guards listed).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The thing named does not exist; check the key or id.
    #[error("{0} does not exist; check the key or id")]
    NotFound(String),
    /// A command that opens an existing data directory (and creates none) was given a
    /// directory that holds no Vigil database: usually a mistyped `--data`.
    #[error(
        "no Vigil data directory at {}: give the --data directory that `vigil serve` uses (default ./vigil-data)",
        .0.display()
    )]
    NoDataDirectory(std::path::PathBuf),
    /// The write conflicts with what is stored (e.g. a link that already exists).
    #[error("{0}")]
    Conflict(String),
    /// A stored evidence file no longer hashes to its recorded SHA-256.
    #[error(
        "evidence {id} is corrupted: the stored file hashes to {actual}, {expected} was recorded; restore it from a backup and record that in its chain of custody"
    )]
    EvidenceCorrupted {
        /// The evidence id.
        id: Uuid,
        /// The recorded hash.
        expected: String,
        /// The hash of the file now (or `missing`).
        actual: String,
    },
    /// The database failed.
    #[error("database error: {0}; check the data directory is writable and not full")]
    Db(#[from] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error(
        "database migration failed: {0}; check the data directory is writable and not full, then start again"
    )]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database was upgraded by a newer release: this one does not know its schema.
    #[error(
        "the database holds schema version {version}, which this Vigil does not know: the data directory was upgraded by a newer release; run that release (or restore a backup taken before the upgrade)"
    )]
    SchemaAhead {
        /// A version applied that this release lacks.
        version: i64,
    },
    /// The database is from an older release and was opened by a command that does not
    /// upgrade it.
    #[error(
        "the database is at schema version {have} and this Vigil needs {need}: start this release's `vigil serve` on the data directory once to upgrade it (stop the older server first), then run this command again"
    )]
    SchemaBehind {
        /// The last version applied.
        have: i64,
        /// The version this release has.
        need: i64,
    },
    /// A file operation failed.
    #[error("file {path}: {source}; check the data directory's permissions and free space")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A stored value could not be read back (the database was changed by hand).
    #[error("stored data is unreadable: {0}; run `vigil audit verify` and restore from a backup")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
