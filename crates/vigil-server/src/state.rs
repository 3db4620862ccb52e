//! `AppState`: what every handler shares — the settings and the store.

use std::sync::Arc;

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
}

impl AppState {
    /// State for a server over `store`.
    pub fn new(settings: Settings, store: Arc<dyn Store>) -> Self {
        AppState {
            settings: Arc::new(settings),
            store,
        }
    }
}
