//! vigil-api: the HTTP wire types (request and response bodies) and the one table of error
//! codes. Shared by the server and the client; serde + utoipa only, no logic. Domain values are
//! `vigil-core`'s own types (with its `openapi` feature), so the wire and the domain have one
//! definition each; this crate adds only the bodies that exist for HTTP's sake.

pub mod alerts;
pub mod backup;
pub mod error;
pub mod events;
pub mod org;
pub mod review;
pub mod types;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /api/v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HealthResponse {
    /// `ok` when the server answers and its parts work; `degraded` while one fails (see
    /// `log_store`).
    pub status: String,
    /// The server's version.
    pub version: String,
    /// The largest evidence file it takes, in bytes (`vigil serve --max-evidence-bytes`), so
    /// a client can refuse a larger file before sending it (absent from older servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_evidence_bytes: Option<u64>,
    /// The log store's state (absent from older servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_store: Option<LogStoreHealth>,
}

/// The log store in `GET /api/v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogStoreHealth {
    /// `ok`, or `failing` while a part of it fails.
    pub status: String,
    /// Why events are refused (`503`, nothing of them stored) when journal writes fail, such
    /// as `No space left on device`; absent while they succeed. Each batch tries again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_error: Option<String>,
    /// Why indexing fails (such as `Too many open files`): events are stored but not
    /// searchable until it recovers, which it tries on its own; absent while it works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_error: Option<String>,
}

/// Response header carrying the verified SHA-256 (hex) of downloaded evidence.
pub const SHA256_HEADER: &str = "x-vigil-sha256";

/// The header of a list answered as a bare JSON array (an indicator search) saying how many
/// items match in all, the array being a page of them.
pub const TOTAL_COUNT_HEADER: &str = "x-total-count";
