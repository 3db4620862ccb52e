//! The manifest of a backup archive (`GET /api/v1/admin/backup`, `vigil admin backup`): the
//! last member of the archive, naming every other member with its size and SHA-256, so that
//! `vigil admin restore` can tell a complete archive from a cut or altered one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The manifest's name in the archive; it is always the last member.
pub const MANIFEST_NAME: &str = "vigil-backup.json";

/// The archive format this release writes and reads.
pub const FORMAT: u32 = 1;

/// What a backup archive holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupManifest {
    /// [`FORMAT`] of the release that wrote it.
    pub format: u32,
    /// The Vigil version of the server that took it.
    pub vigil_version: String,
    /// When the backup began.
    pub taken_at: DateTime<Utc>,
    /// The token name that took it.
    pub taken_by: String,
    /// Every event with a smaller id is in the backup: all those acknowledged before it began,
    /// and some after.
    pub events_below: u64,
    /// Every other member of the archive, in archive order.
    pub files: Vec<BackupEntry>,
}

/// One file of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupEntry {
    /// Relative to the data directory, `/`-separated.
    pub path: String,
    /// In bytes.
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
}
