//! The data directory as the binary opens it, through `vigil-store`'s SQLite backend, with
//! errors that say what to do. Shared by `serve`, `admin` and `audit`.

use std::path::Path;

use anyhow::Context;
use vigil_store::SqliteStore;

/// Creates `dir` if needed (0700 on Unix: the owner's only) and opens its store (running
/// migrations): for `serve` and `admin token`, which may be the first command run on a new
/// machine.
pub async fn open(dir: &Path) -> anyhow::Result<SqliteStore> {
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!(
            "the data directory {} is a file, not a directory; give --data a directory (it is created if missing)",
            dir.display()
        );
    }
    // Owner-only from the start (the store tightens a directory found looser, with a log line).
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).with_context(|| {
        format!(
            "could not create the data directory {}; check the path and its permissions",
            dir.display()
        )
    })?;
    SqliteStore::open(dir).await.with_context(|| {
        format!(
            "could not open the Vigil store in {}; is it a Vigil data directory?",
            dir.display()
        )
    })
}

/// Opens a data directory that must already hold a Vigil database, creating nothing: for
/// commands that only read, such as `audit verify`, where a typo must not yield an empty store.
pub async fn open_existing(dir: &Path) -> anyhow::Result<SqliteStore> {
    SqliteStore::open_existing(dir).await.with_context(|| {
        format!(
            "could not open the Vigil store in {}; give the --data directory `vigil serve` uses",
            dir.display()
        )
    })
}
