//! Typed call of the monthly review route (query in `vigil_api::review`).

use vigil_api::review::{MonthlyReview, ReviewQuery};

use crate::endpoints::serde_urlencoded_string;
use crate::{Client, ClientError};

impl Client {
    /// `GET /review/monthly`: the monthly security incident review.
    pub async fn monthly_review(&self, query: &ReviewQuery) -> Result<MonthlyReview, ClientError> {
        let qs = serde_urlencoded_string(query)?;
        self.get_json(&format!("/review/monthly?{qs}")).await
    }
}
