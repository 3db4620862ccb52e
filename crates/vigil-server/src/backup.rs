//! The online backup (`GET /api/v1/admin/backup`): the whole data directory as a tar.gz
//! stream, taken while ingest, case work and retention go on.
//!
//! **What "consistent" means.** The backup is a state a crash could have left, so a server
//! started on it recovers as after one. Three points, in order, none of which pauses writers:
//!
//! 1. the log store holds its journal segments from deletion and opens the files of the
//!    index's last commit (its detection mark says no more than the database already holds);
//! 2. the database is copied in one read transaction (`VACUUM INTO`), after a `backup.take`
//!    audit entry naming who took it;
//! 3. the log store opens its journal up to the fsynced end (every event acknowledged so far,
//!    so every event the copied database names), and lets segments be deleted again; evidence
//!    and the state files are opened after it.
//!
//! What the journal holds beyond the index commit is indexed again when the restored server
//! starts, and matched where the copied database has no detections of it, as after a crash.
//! Every file is opened at its point and copied afterwards, so merges, prunes and appends
//! during the copy change nothing in it. The archive's last member is the manifest
//! ([`vigil_api::backup::BackupManifest`]) with each file's size and SHA-256.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use axum::body::Body;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use vigil_api::backup::{BackupEntry, BackupManifest, FORMAT, MANIFEST_NAME};
use vigil_api::error::ErrorCode;
use vigil_logs::BackupFile;

use crate::error::ApiError;
use crate::routes::events::log_error;
use crate::state::AppState;
use crate::store_error;

/// The state files carried from one run to the next (README's table); each is replaced whole
/// by a rename, so one read gives one version of it.
const STATE_FILES: [&str; 5] = [
    "link.key",
    "received.json",
    "silence.json",
    "correlations.json",
    "correlations-late.json",
];

/// How much compressed archive is sent at once, and how many such chunks may wait for the
/// client: what a backup holds in memory.
const CHUNK: usize = 256 * 1024;
const CHUNKS_QUEUED: usize = 4;

/// The database copy's name in the data directory: `.backup-UUID.db`, opened and unlinked at
/// once, so only a server killed while `VACUUM INTO` wrote it leaves one (with SQLite's
/// `-journal` beside it).
fn copy_name(id: uuid::Uuid) -> String {
    format!(".backup-{id}.db")
}

/// Removes the database copies (and their `-journal` files) backups interrupted by a kill left in
/// the data directory; only names of exactly that shape, `.backup-UUID.db[-journal]`, are
/// touched. Called at start, under the data directory's lock, before any backup can run.
/// Returns how many files were removed.
pub fn remove_leftover_copies(data_dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(data_dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let Some(rest) = name.strip_prefix(".backup-") else {
            continue;
        };
        let Some(id) = rest
            .strip_suffix(".db")
            .or_else(|| rest.strip_suffix(".db-journal"))
        else {
            continue;
        };
        // The UUID as `copy_name` writes it (hyphenated, lower case), not any form it parses from.
        let is_copy = uuid::Uuid::try_parse(id).is_ok_and(|u| u.hyphenated().to_string() == id);
        if is_copy && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Takes the backup's points and returns the archive as a body streamed while it is written.
pub async fn take(state: &AppState, actor: &str) -> Result<Body, ApiError> {
    let taken_at = Utc::now();
    let data_dir = state.settings.data_dir.clone();
    let events = state.ingestor.events().clone();
    let begun = {
        let events = events.clone();
        tokio::task::spawn_blocking(move || events.begin_backup())
            .await
            .map_err(ApiError::internal)?
            .map_err(log_error)?
    };
    let db_copy = data_dir.join(copy_name(uuid::Uuid::now_v7()));
    let details = serde_json::json!({ "taken_at": taken_at });
    let copied = state
        .store
        .backup_database(actor, details, &db_copy)
        .await
        .map_err(|e| copy_error(e, &data_dir));
    // Opened, then unlinked: the copy lives as long as the stream reads it.
    let database = copied.and_then(|()| {
        let file = File::open(&db_copy).map_err(ApiError::internal)?;
        let len = file.metadata().map_err(ApiError::internal)?.len();
        Ok(BackupFile {
            path: "vigil.db".into(),
            len,
            content: Box::new(file.take(len)),
        })
    });
    let _ = std::fs::remove_file(&db_copy);
    let database = database?;
    let (logs, rest) = tokio::task::spawn_blocking(move || {
        let logs = events.finish_backup(begun).map_err(log_error)?;
        let rest = open_rest(&data_dir).map_err(ApiError::internal)?;
        Ok::<_, ApiError>((logs, rest))
    })
    .await
    .map_err(ApiError::internal)??;
    let mut files = vec![database];
    files.extend(rest);
    files.extend(logs.files);
    let manifest = BackupManifest {
        format: FORMAT,
        vigil_version: env!("CARGO_PKG_VERSION").into(),
        taken_at,
        taken_by: actor.into(),
        events_below: logs.next_id,
        files: Vec::new(),
    };
    let (tx, mut rx) = mpsc::channel::<io::Result<Bytes>>(CHUNKS_QUEUED);
    std::thread::Builder::new()
        .name("vigil-backup".into())
        .spawn(move || {
            let out = ChannelWriter {
                tx: tx.clone(),
                buf: Vec::with_capacity(CHUNK),
            };
            if let Err(e) = write_archive(out, files, manifest) {
                tracing::error!(error = %e, "backup stopped; the client gets a cut archive, which restore refuses");
                let _ = tx.blocking_send(Err(e));
            }
        })
        .map_err(ApiError::internal)?;
    let chunks = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Ok(Body::from_stream(chunks))
}

/// The database copy's failure as the client hears it: no room for it in the data directory is
/// said as such (the operator frees space there), where any other failure is the server's.
fn copy_error(e: vigil_store::StoreError, data_dir: &Path) -> ApiError {
    if !e.no_room() {
        return store_error(e);
    }
    tracing::error!(error = %e, "no room in the data directory for a backup's database copy");
    let size = std::fs::metadata(data_dir.join("vigil.db"))
        .map(|m| format!(" ({} MiB now)", m.len().div_ceil(1024 * 1024)))
        .unwrap_or_default();
    ApiError::new(
        ErrorCode::Unavailable,
        format!(
            "the server's data directory has no room for the database copy a backup makes: VACUUM INTO needs free space there the size of vigil.db{size}; free space in the data directory's file system, then take the backup again"
        ),
    )
}

/// Evidence files and state files, opened after the database copy (so every evidence file it
/// names is among them).
fn open_rest(data_dir: &Path) -> io::Result<Vec<BackupFile>> {
    let mut files = Vec::new();
    for name in STATE_FILES {
        match std::fs::read(data_dir.join(name)) {
            Ok(bytes) => files.push(BackupFile {
                path: name.into(),
                len: bytes.len() as u64,
                content: Box::new(io::Cursor::new(bytes)),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    let evidence = data_dir.join("evidence");
    let mut names = Vec::new();
    match std::fs::read_dir(&evidence) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry?;
                if entry.file_type()?.is_file()
                    && let Some(name) = entry.file_name().to_str()
                {
                    names.push(name.to_owned());
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    names.sort();
    for name in names {
        let file = File::open(evidence.join(&name))?;
        let len = file.metadata()?.len();
        files.push(BackupFile {
            path: format!("evidence/{name}"),
            len,
            content: Box::new(file.take(len)),
        });
    }
    Ok(files)
}

/// Writes the tar.gz: every file, then the manifest naming them.
fn write_archive(
    out: ChannelWriter,
    files: Vec<BackupFile>,
    mut manifest: BackupManifest,
) -> io::Result<()> {
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mtime = manifest.taken_at;
    for file in files {
        let mut hashing = Exact {
            inner: file.content,
            left: file.len,
            hasher: Sha256::new(),
            path: &file.path,
        };
        tar.append_data(&mut header(file.len, mtime), &file.path, &mut hashing)?;
        if hashing.left != 0 {
            return Err(io::Error::other(format!(
                "{} ended {} bytes short of its length",
                file.path, hashing.left
            )));
        }
        manifest.files.push(BackupEntry {
            sha256: hex::encode(hashing.hasher.finalize()),
            path: file.path,
            size: file.len,
        });
    }
    let json = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
    tar.append_data(
        &mut header(json.len() as u64, mtime),
        MANIFEST_NAME,
        json.as_slice(),
    )?;
    let gz = tar.into_inner()?;
    let mut out = gz.finish()?;
    out.flush()
}

/// A member's header: owner-only, as the data directory keeps its files.
fn header(size: u64, mtime: DateTime<Utc>) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(0o600);
    h.set_mtime(mtime.timestamp().max(0) as u64);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

/// Reads a file's bytes through SHA-256, refusing a file that ends before its length.
struct Exact<'a> {
    inner: Box<dyn Read + Send>,
    left: u64,
    hasher: Sha256,
    path: &'a str,
}

impl Read for Exact<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(self.left as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} ended {} bytes short of its length",
                    self.path, self.left
                ),
            ));
        }
        self.hasher.update(&buf[..n]);
        self.left -= n as u64;
        Ok(n)
    }
}

/// The archive's bytes on their way to the HTTP body, in chunks of [`CHUNK`]; a client gone
/// is a write error, which ends the backup.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_store::{SqliteStore, Store};

    /// A database copy with no room for it (`/dev/full` fails every write with ENOSPC, as a
    /// full data directory does) is told to the client as such, not as an internal error.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn no_room_for_the_database_copy_is_told_to_the_client() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let store = SqliteStore::open(&data).await.unwrap();
        let err = store
            .backup_database("ops", serde_json::json!({}), Path::new("/dev/full"))
            .await
            .unwrap_err();
        let api = copy_error(err, &data);
        assert_eq!(api.code(), ErrorCode::Unavailable);
        let said = api.to_string();
        assert!(
            said.contains("no room for the database copy") && said.contains("VACUUM INTO"),
            "{said}"
        );
    }
}
