//! `AppState`: what every handler shares — the settings and the store.

use std::sync::Arc;

use crate::settings::Settings;

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The resolved settings (limits, data directory).
    pub settings: Arc<Settings>,
}
