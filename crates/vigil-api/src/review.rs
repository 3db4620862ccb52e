//! Query string of the monthly review route. The review itself is
//! `vigil_core::review::MonthlyReview`.

use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

pub use vigil_core::review::{
    AlertCounts, FindingBrief, FindingCounts, IncidentBrief, IncidentCounts, Measure,
    MonthlyReview, PeriodTotals, PostMortemBrief, PostMortems, ResponseTimes, ReviewPeriod,
    RuleAlerts, TeamFindings,
};

/// Query of `GET /api/v1/review/monthly`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReviewQuery {
    /// The month, `YYYY-MM` (2000-01 … 2099-12). Default: the month before the current one in
    /// `timezone`, the one a review meeting looks back on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month: Option<String>,
    /// The time zone the month begins and ends in: an IANA name (`Europe/Berlin`), `UTC` (the
    /// default) or an offset (`+01:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Only the incidents with this tenant in scope and the alerts of this tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}
