//! `AppState`: what every handler shares — the settings, the incident store and the ingest
//! path with its log store.

use std::sync::Arc;

use vigil_ingest::Ingestor;
use vigil_store::Store;

use crate::settings::Settings;

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The resolved settings (limits, data directory).
    pub settings: Arc<Settings>,
    /// The store every read and write goes through. A trait object so the backend (SQLite now,
    /// PostgreSQL later) is chosen at run time and handlers stay non-generic.
    pub store: Arc<dyn Store>,
    /// The ingest path (decode, detect, append, record detections) and, through it, the log
    /// store that search, pivot and stats read.
    pub ingestor: Arc<Ingestor>,
    /// The rate limit of the reporting form.
    pub report_limiter: Arc<crate::report::ReportLimiter>,
}

impl AppState {
    /// State for a server over `store`, ingesting through `ingestor`.
    pub fn new(settings: Settings, store: Arc<dyn Store>, ingestor: Arc<Ingestor>) -> Self {
        AppState {
            settings: Arc::new(settings),
            store,
            ingestor,
            report_limiter: Arc::default(),
        }
    }
}
