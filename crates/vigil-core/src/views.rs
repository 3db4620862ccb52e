//! Read models: what listings and searches return. They are assembled by the store from the
//! records of [`crate::incident`] and sent as they are by the API, so store and wire share one
//! definition.

use serde::{Deserialize, Serialize};

use crate::ids::{IncidentId, IncidentKey};
use crate::incident::{IncidentLink, LinkSuggestion};
use crate::indicator::Indicator;
use crate::phase::Phase;

/// A page of results and how many match in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// How many items match the filters.
    pub total: u64,
    /// This page.
    pub items: Vec<T>,
}

/// One incident carrying a searched indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IndicatorHit {
    /// The incident's id.
    pub incident_id: IncidentId,
    /// Its key.
    pub key: IncidentKey,
    /// Its title.
    pub title: String,
    /// Its phase.
    pub phase: Phase,
    /// The matching indicator.
    pub indicator: Indicator,
}

/// Related incidents: explicit links and suggestions from shared indicators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Related {
    /// Explicit links.
    pub links: Vec<IncidentLink>,
    /// Incidents sharing an active indicator that are not linked yet, a page of them: those
    /// sharing the most indicators first, then the newest.
    pub suggestions: Vec<LinkSuggestion>,
    /// How many incidents share an active indicator and are not linked yet, `suggestions`
    /// being a page of them.
    pub suggestions_total: u64,
}
