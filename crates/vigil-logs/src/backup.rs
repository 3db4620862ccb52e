//! Online backup of the log store: the files of one index commit and the journal from before
//! it to an end taken later, opened while the store runs.
//!
//! A backup has two points. [`EventStore::begin_backup`] stops the pruning of journal segments
//! and opens the files of the index's last commit; [`EventStore::finish_backup`] asks the
//! journal thread for its fsynced end and opens every segment up to it, then lets pruning go
//! on. Between the two the caller copies its database, so that the database names no event
//! the backup lacks (the journal's end is taken after it) and the index commit's detection
//! mark claims no detection the database lacks (the commit is taken before it). What the
//! journal holds beyond the commit is indexed again, and matched again where the database has
//! no detections of it, when a server opens the restored store — as after a crash.
//!
//! Files are opened, not copied, at those points: on Unix an open file stays readable after a
//! Tantivy merge or a journal prune deletes it, so the copy afterwards reads what was there at
//! the point. Index segment files never change once written and journal segments are only
//! appended to, so each is read up to the length taken at its point.
//!
//! [`EventStore::begin_backup`]: crate::EventStore::begin_backup
//! [`EventStore::finish_backup`]: crate::EventStore::finish_backup

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::Path;
use std::sync::Arc;

use tantivy::directory::META_LOCK;
use tantivy::{Directory, Index};

use crate::embedded::Progress;
use crate::error::LogError;
use crate::journal::{self, Position};

/// One file of a backup.
pub struct BackupFile {
    /// Where it goes, relative to the data directory, `/`-separated (`logs/index/meta.json`).
    pub path: String,
    /// How many bytes `content` gives.
    pub len: u64,
    /// Exactly `len` bytes: the file as it was at the backup's point.
    pub content: Box<dyn Read + Send>,
}

impl std::fmt::Debug for BackupFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupFile")
            .field("path", &self.path)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl BackupFile {
    /// An opened file, read up to `len` bytes.
    fn opened(path: String, file: File, len: u64) -> BackupFile {
        BackupFile {
            path,
            len,
            content: Box::new(file.take(len)),
        }
    }

    /// A file made for the backup.
    fn made(path: String, bytes: Vec<u8>) -> BackupFile {
        BackupFile {
            path,
            len: bytes.len() as u64,
            content: Box::new(Cursor::new(bytes)),
        }
    }
}

/// Keeps commits from deleting journal segments while it lives.
pub(crate) struct PruneHold(Arc<Progress>);

impl PruneHold {
    pub(crate) fn take(progress: &Arc<Progress>) -> PruneHold {
        *progress.backups.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        PruneHold(Arc::clone(progress))
    }
}

impl Drop for PruneHold {
    fn drop(&mut self) {
        let mut held = self.0.backups.lock().unwrap_or_else(|e| e.into_inner());
        *held = held.saturating_sub(1);
    }
}

/// A backup begun: the index commit's files are open and journal pruning is held until
/// [`EventStore::finish_backup`](crate::EventStore::finish_backup).
pub struct LogBackup {
    pub(crate) index: Vec<BackupFile>,
    pub(crate) hold: PruneHold,
}

impl std::fmt::Debug for LogBackup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogBackup")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// The log store's part of a backup, every file opened.
#[derive(Debug)]
pub struct LogBackupFiles {
    /// The index commit's files, then the journal segments.
    pub files: Vec<BackupFile>,
    /// Every event with a smaller id is in the backup (the journal's end at the second point).
    pub next_id: u64,
}

/// How many times the index commit is read again when a file it names is gone by the time
/// it is opened. Under Tantivy's meta lock no file is deleted, so this only covers a
/// directory changed by hand.
const INDEX_TRIES: usize = 5;

/// Opens the files of the index's last commit: `meta.json` as read under Tantivy's meta lock
/// (garbage collection takes it before deleting anything), and each file of each segment it
/// names; with a `.managed.json` naming them, so that a server on the restored index deletes
/// them once merges replace them.
pub(crate) fn open_index_commit(
    index: &Index,
    index_dir: &Path,
) -> Result<Vec<BackupFile>, LogError> {
    let mut last = None;
    for _ in 0..INDEX_TRIES {
        let lock = index.directory().acquire_lock(&META_LOCK).map_err(|e| {
            LogError::Index(tantivy::TantivyError::SystemError(format!(
                "cannot take the index's meta lock for a backup: {e}"
            )))
        })?;
        let result = open_commit_files(index_dir);
        drop(lock);
        match result {
            Ok(files) => return Ok(files),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| LogError::Closed("the index could not be read".into())))
}

fn open_commit_files(index_dir: &Path) -> Result<Vec<BackupFile>, LogError> {
    let meta_path = index_dir.join("meta.json");
    let mut meta = Vec::new();
    File::open(&meta_path)
        .and_then(|mut f| f.read_to_end(&mut meta))
        .map_err(|e| LogError::io(&meta_path, e))?;
    let value: serde_json::Value = serde_json::from_slice(&meta).map_err(|e| {
        LogError::io(
            &meta_path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })?;
    let mut names = Vec::new();
    for segment in value["segments"].as_array().into_iter().flatten() {
        let Some(id) = segment["segment_id"].as_str() else {
            continue;
        };
        let id = id.replace('-', "");
        for ext in ["idx", "pos", "term", "store", "fast", "fieldnorm"] {
            names.push(format!("{id}.{ext}"));
        }
        if let Some(opstamp) = segment["deletes"]["opstamp"].as_u64() {
            names.push(format!("{id}.{opstamp}.del"));
        }
    }
    let mut files = Vec::new();
    let mut managed = Vec::new();
    for name in names {
        let path = index_dir.join(&name);
        let file = match File::open(&path) {
            Ok(file) => file,
            // A component this segment was written without.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !name.ends_with(".del") => {
                continue;
            }
            Err(e) => return Err(LogError::io(&path, e)),
        };
        let len = file.metadata().map_err(|e| LogError::io(&path, e))?.len();
        files.push(BackupFile::opened(format!("logs/index/{name}"), file, len));
        managed.push(name);
    }
    let managed = serde_json::to_vec(&managed).unwrap_or_default();
    files.push(BackupFile::made("logs/index/.managed.json".into(), managed));
    files.push(BackupFile::made("logs/index/meta.json".into(), meta));
    Ok(files)
}

/// Opens every journal segment up to `end` (the journal thread's fsynced end), each read up
/// to its length then: the last up to `end.offset`, so a write under way is left out.
pub(crate) fn open_journal(journal_dir: &Path, end: Position) -> Result<Vec<BackupFile>, LogError> {
    let mut files = Vec::new();
    for segment in journal::segments(journal_dir)? {
        if segment > end.segment {
            break;
        }
        let name = format!("{segment:020}.journal");
        let path = journal_dir.join(&name);
        let file = File::open(&path).map_err(|e| LogError::io(&path, e))?;
        let len = if segment == end.segment {
            end.offset
        } else {
            file.metadata().map_err(|e| LogError::io(&path, e))?.len()
        };
        files.push(BackupFile::opened(
            format!("logs/journal/{name}"),
            file,
            len,
        ));
    }
    Ok(files)
}
