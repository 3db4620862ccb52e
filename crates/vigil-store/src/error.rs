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
    /// `vigil serve` (or a first `vigil admin token`) was about to create a database in a data
    /// directory that already holds a log store or evidence: the database was deleted or
    /// moved, and an empty one in its place would silently lose what it held.
    #[error(
        "the data directory {} holds {found} but no database (vigil.db): it was deleted or moved. A new, empty one would lose every incident, token, alert and detection and the audit trail, and the stored events would never be matched again. Restore vigil.db from a backup (see Backup and restore in the README); to start afresh on purpose, give --data a new, empty directory",
        .dir.display()
    )]
    DatabaseMissing {
        /// The data directory.
        dir: std::path::PathBuf,
        /// What it holds: the log store, evidence, or both.
        found: &'static str,
    },
    /// The database failed.
    #[error("database error: {0}; {advice}", advice = db_advice(.0))]
    Db(#[from] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("database migration failed: {0}; {advice}", advice = migrate_advice(.0))]
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

/// Whether SQLite found the database file damaged: `SQLITE_CORRUPT` ("database disk image is
/// malformed") or `SQLITE_NOTADB` ("file is not a database"), with their extended codes.
fn damaged(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    db.code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 11 | 26))
}

/// What to do when the database file is damaged: no amount of disk space or permissions
/// repairs it.
const DAMAGED: &str = "the database file (vigil.db) is damaged: stop Vigil and restore vigil.db from a backup (see Backup and restore in the README), then run `vigil audit verify` on it";

fn db_advice(e: &sqlx::Error) -> &'static str {
    if damaged(e) {
        DAMAGED
    } else {
        "check the data directory is writable and not full"
    }
}

fn migrate_advice(e: &sqlx::migrate::MigrateError) -> &'static str {
    use sqlx::migrate::MigrateError;
    match e {
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) if damaged(e) => DAMAGED,
        _ => "check the data directory is writable and not full, then start again",
    }
}

impl StoreError {
    /// Whether SQLite found no room for what it wrote (`SQLITE_FULL`: the disk, or a quota, is
    /// full), as a database copy (`Store::backup_database`) needs room the size of the database.
    pub fn no_room(&self) -> bool {
        let StoreError::Db(sqlx::Error::Database(db)) = self else {
            return false;
        };
        db.code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| code & 0xff == 13)
    }

    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
