//! Typed calls of the alert routes (bodies in `vigil_api::alerts`).

use reqwest::Method;
use vigil_api::alerts::*;
use vigil_api::types::{Incident, Page};

use crate::endpoints::serde_urlencoded_string;
use crate::{Client, ClientError, enc};

impl Client {
    /// `POST /alerts`: raise an alert from an external tool.
    pub async fn raise_alert(&self, alert: &ExternalAlert) -> Result<RaiseResponse, ClientError> {
        self.send_json(Method::POST, "/alerts", alert).await
    }

    /// `GET /alerts` with filters.
    pub async fn list_alerts(&self, query: &AlertQuery) -> Result<Page<Alert>, ClientError> {
        let qs = serde_urlencoded_string(query)?;
        self.get_json(&format!("/alerts?{qs}")).await
    }

    /// `GET /alerts/{key}`: one alert with its log and events.
    pub async fn get_alert(&self, key: &str) -> Result<Alert, ClientError> {
        self.get_json(&format!("/alerts/{}", enc(key))).await
    }

    /// `POST /alerts/{key}/ack`, `/resolve`.
    pub async fn alert_action(&self, key: &str, action: &str) -> Result<Alert, ClientError> {
        self.send_json(
            Method::POST,
            &format!("/alerts/{}/{action}", enc(key)),
            &serde_json::json!({}),
        )
        .await
    }

    /// `POST /alerts/{key}/dismiss`.
    pub async fn dismiss_alert(
        &self,
        key: &str,
        body: &DismissAlert,
    ) -> Result<Alert, ClientError> {
        self.send_json(Method::POST, &format!("/alerts/{}/dismiss", enc(key)), body)
            .await
    }

    /// `POST /alerts/declare`.
    pub async fn declare_incident(&self, body: &DeclareIncident) -> Result<Incident, ClientError> {
        self.send_json(Method::POST, "/alerts/declare", body).await
    }

    /// `POST /alerts/{key}/merge`.
    pub async fn merge_alert(&self, key: &str, body: &MergeAlert) -> Result<Incident, ClientError> {
        self.send_json(Method::POST, &format!("/alerts/{}/merge", enc(key)), body)
            .await
    }

    /// `GET /alerts/rules`: per-rule tuning counts.
    pub async fn alert_rules(&self) -> Result<Vec<RuleAlertStats>, ClientError> {
        self.get_json("/alerts/rules").await
    }
}
