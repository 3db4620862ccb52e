//! The data directory as the binary opens it, through `vigil-store`'s SQLite backend, with
//! errors that say what to do. Shared by `serve`, `admin` and `audit`; and the lock `serve`
//! holds on it ([`lock_for_server`]), so that a second server on the same directory is refused
//! before it touches anything.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use anyhow::Context;
use vigil_store::SqliteStore;

/// Creates `dir` if needed (0700 on Unix: the owner's only) and opens its store (running
/// migrations): for `serve` and `admin token`, which may be the first command run on a new
/// machine.
pub async fn open(dir: &Path) -> anyhow::Result<SqliteStore> {
    create(dir)?;
    match SqliteStore::open(dir).await {
        Ok(store) => Ok(store),
        // It says all there is to say: what the directory holds and what to do.
        Err(e @ vigil_store::StoreError::DatabaseMissing { .. }) => Err(e.into()),
        Err(e) => Err(e).with_context(|| {
            format!(
                "could not open the Vigil store in {}; is it a Vigil data directory?",
                dir.display()
            )
        }),
    }
}

/// The name of the lock file `vigil serve` holds in its data directory.
pub const LOCK_FILE: &str = "vigil.lock";

/// The lock `vigil serve` holds on its data directory for as long as it runs (an advisory
/// `flock` on `DIR/vigil.lock`, which the kernel drops when the process ends, killed or not):
/// one server per data directory, since the log store's journal and index take one writer.
/// The commands that open the directory beside a running server on purpose (`admin`, `audit
/// verify`: the SQLite database takes several) do not take it.
#[derive(Debug)]
pub struct ServerLock {
    /// The open lock file; closing it releases the lock.
    _file: File,
}

/// Creates `dir` if needed and takes its server lock, writing this process's id in the lock
/// file; refused, naming the holder's process id when it wrote one, while another server holds
/// it.
pub fn lock_for_server(dir: &Path) -> anyhow::Result<ServerLock> {
    create(dir)?;
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| {
            format!(
                "could not open the lock file {}; check the data directory's permissions",
                path.display()
            )
        })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let holder = file
                .read_to_string(&mut text)
                .ok()
                .and_then(|_| text.trim().parse::<u32>().ok())
                .map_or(String::new(), |pid| format!(" (pid {pid})"));
            anyhow::bail!(
                "another Vigil server is already using {}{holder}; stop it or give another --data",
                dir.display()
            );
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| {
                format!(
                    "could not lock {}; check that the data directory is on a local file system that supports locks",
                    path.display()
                )
            });
        }
    }
    // Who holds it, for the message a second server prints; the lock is what counts, so a
    // failure to write this is no reason not to serve.
    let written = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .and_then(|()| file.flush());
    if let Err(e) = written {
        tracing::warn!(file = %path.display(), error = %e, "could not write the process id into the lock file");
    }
    Ok(ServerLock { _file: file })
}

/// Creates `dir` if it is missing; refuses a file in its place.
fn create(dir: &Path) -> anyhow::Result<()> {
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
    })
}

/// Opens a data directory that must already hold a Vigil database of this release's schema,
/// creating and upgrading nothing: for the commands run beside a server, such as `audit
/// verify` and `admin tokens`, where a typo must not yield an empty store and an older server
/// still running must be able to start again.
pub async fn open_existing(dir: &Path) -> anyhow::Result<SqliteStore> {
    match SqliteStore::open_existing(dir).await {
        Ok(store) => Ok(store),
        // Say all there is to say: the directory and which one to give, or which release to run.
        Err(
            e @ (vigil_store::StoreError::NoDataDirectory(_)
            | vigil_store::StoreError::SchemaBehind { .. }
            | vigil_store::StoreError::SchemaAhead { .. }),
        ) => Err(e.into()),
        Err(e) => Err(e).with_context(|| {
            format!(
                "could not open the Vigil store in {}; give the --data directory `vigil serve` uses",
                dir.display()
            )
        }),
    }
}
