//! Typed calls of the organisation and on-call routes (bodies in `vigil_api::org`).

use reqwest::Method;
use vigil_api::org::*;

use crate::endpoints::serde_urlencoded_string;
use crate::{Client, ClientError};

impl Client {
    /// `PUT /org`: apply the organisation document (a JSON object).
    pub async fn apply_org(&self, document: &serde_json::Value) -> Result<OrgState, ClientError> {
        self.send_json(Method::PUT, "/org", document).await
    }

    /// `GET /org`: the document in force.
    pub async fn get_org(&self) -> Result<OrgState, ClientError> {
        self.get_json("/org").await
    }

    /// `GET /oncall`: who is on call for a team or a service's owner.
    pub async fn on_call(&self, query: &OnCallQuery) -> Result<OnCallResponse, ClientError> {
        let qs = serde_urlencoded_string(query)?;
        self.get_json(&format!("/oncall?{qs}")).await
    }

    /// `GET /oncall/coverage`: the gaps in on-call coverage.
    pub async fn coverage(&self, query: &CoverageQuery) -> Result<CoverageReport, ClientError> {
        let qs = serde_urlencoded_string(query)?;
        self.get_json(&format!("/oncall/coverage?{qs}")).await
    }
}
