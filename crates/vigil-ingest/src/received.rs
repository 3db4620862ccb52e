//! When each service last had an event stored, kept in a small file of the data directory so
//! that a restart does not make it unknown: `vigil storage stats` says "last received" of every
//! service that ever sent, not only of those heard since the server started. The file is
//! rewritten (when it changed) at each silence check and at a clean stop; after a crash it is
//! at most one check behind, which only makes a "last received" older than it was.

use std::path::PathBuf;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::IngestError;
use crate::totals::TotalCounters;

/// The file's content.
#[derive(Serialize, Deserialize)]
struct Saved {
    services: Vec<Heard>,
}

#[derive(Serialize, Deserialize)]
struct Heard {
    service: String,
    last_stored: DateTime<Utc>,
}

/// Where the times are kept and what the file holds now (nothing is written when that would
/// not change).
#[derive(Default)]
pub(crate) struct ReceivedFile(Mutex<Option<(PathBuf, Vec<u8>)>>);

impl ReceivedFile {
    /// Keeps the times in `path` from now on, giving `totals` those the last run left there;
    /// returns how many services it held. A file that cannot be read or parsed is an error:
    /// the times then start from this run, and the file is replaced at the next save.
    pub(crate) fn keep_in(&self, path: PathBuf, totals: &TotalCounters) -> std::io::Result<usize> {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *kept = Some((path.clone(), Vec::new()));
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let saved: Saved = serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
        let count = saved.services.len();
        totals.heard_before(
            saved
                .services
                .into_iter()
                .map(|h| (h.service, h.last_stored)),
        );
        *kept = Some((path, bytes));
        Ok(count)
    }

    /// Writes `services` (service, when it last had an event stored) to the file if they
    /// changed, on the blocking pool.
    pub(crate) async fn save(
        &self,
        services: Vec<(String, DateTime<Utc>)>,
    ) -> Result<(), IngestError> {
        let Some((path, written)) = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
            return Ok(());
        };
        let saved = Saved {
            services: services
                .into_iter()
                .map(|(service, last_stored)| Heard {
                    service,
                    last_stored,
                })
                .collect(),
        };
        let state_error = |source| IngestError::State {
            file: path.clone(),
            source,
        };
        let bytes =
            serde_json::to_vec_pretty(&saved).map_err(|e| state_error(std::io::Error::other(e)))?;
        if bytes == written {
            return Ok(());
        }
        let (file, content) = (path.clone(), bytes.clone());
        tokio::task::spawn_blocking(move || crate::state_file::replace_durably(&file, &content))
            .await
            .map_err(|e| IngestError::Worker(e.to_string()))?
            .map_err(state_error)?;
        if let Some((_, kept)) = self.0.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            *kept = bytes;
        }
        Ok(())
    }
}
