//! `AppState`: what every handler shares — the settings and the store.

use std::sync::Arc;

use crate::settings::Settings;
use crate::store::SqliteStore;

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The resolved settings (limits, data directory).
    pub settings: Arc<Settings>,
    /// The store every read and write goes through (its pool is shared).
    pub store: SqliteStore,
}

impl AppState {
    /// State for a server over `store`.
    pub fn new(settings: Settings, store: SqliteStore) -> Self {
        AppState {
            settings: Arc::new(settings),
            store,
        }
    }
}
