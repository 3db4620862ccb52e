//! `AppState`: what every handler shares — the settings, the incident store and the ingest
//! path with its log store.

use std::sync::{Arc, Mutex};

use vigil_ingest::Ingestor;
use vigil_oncall::ValidOrg;
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
    /// The organisation document last read, validated.
    pub org: Arc<OrgCache>,
    /// The syslog listeners' counters, when the server listens for syslog.
    pub syslog: Option<vigil_ingest::syslog::SyslogStatsSource>,
}

/// The organisation in force, validated (its schedules resolved) once per version rather than
/// on every on-call question. Keyed by the stored version number, which grows with each
/// change, so a document applied through another server is picked up on the next request.
#[derive(Default)]
pub struct OrgCache(Mutex<Option<(i64, Arc<ValidOrg>)>>);

impl OrgCache {
    /// The validated document of `version`, if it is the one held.
    pub fn get(&self, version: i64) -> Option<Arc<ValidOrg>> {
        // Holds no invariant a panic could break: a poisoned lock is still usable.
        let held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        held.as_ref()
            .filter(|(v, _)| *v == version)
            .map(|(_, org)| org.clone())
    }

    pub fn put(&self, version: i64, org: Arc<ValidOrg>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((version, org));
    }
}

impl AppState {
    /// State for a server over `store`, ingesting through `ingestor`.
    pub fn new(settings: Settings, store: Arc<dyn Store>, ingestor: Arc<Ingestor>) -> Self {
        AppState {
            settings: Arc::new(settings),
            store,
            ingestor,
            report_limiter: Arc::default(),
            org: Arc::default(),
            syslog: None,
        }
    }

    /// Reports the counters of the syslog listeners with the server's metrics.
    pub fn with_syslog(mut self, syslog: vigil_ingest::syslog::SyslogStatsSource) -> Self {
        self.syslog = Some(syslog);
        self
    }
}
