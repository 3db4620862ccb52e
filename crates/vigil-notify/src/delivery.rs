//! The delivery record: what was tried, when, and how it ended — the caller's delivery log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Target, WebhookFormat};

/// What happened to one notification sent to one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The target, with its secrets taken out.
    pub target: TargetRecord,
    /// Every attempt, in order; empty when the delivery was refused before any (see `status`).
    pub attempts: Vec<Attempt>,
    /// How it ended.
    pub status: DeliveryStatus,
}

impl Delivery {
    /// True when the receiver accepted the notification.
    pub fn is_delivered(&self) -> bool {
        matches!(self.status, DeliveryStatus::Delivered)
    }
}

/// A target as it may be stored and shown: webhook URLs without path or query, which is where
/// webhook secrets live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetRecord {
    /// A webhook; `url` is `scheme://host[:port]` and `/…` when a path or query was cut.
    Webhook { url: String, format: WebhookFormat },
    /// An e-mail recipient as given.
    Email { to: String },
}

impl From<&Target> for TargetRecord {
    fn from(target: &Target) -> Self {
        match target {
            Target::Webhook { url, format } => TargetRecord::Webhook {
                url: crate::redact_url(url),
                format: *format,
            },
            Target::Email { to } => TargetRecord::Email { to: to.clone() },
        }
    }
}

/// One try.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub number: u32,
    /// When it started (wall clock).
    pub started_at: DateTime<Utc>,
    /// How long it took, in milliseconds (monotonic clock).
    pub duration_ms: u64,
    /// What the receiver answered, or why there was no answer.
    pub outcome: Outcome,
    /// The wait before the next attempt, when there is one.
    pub retry_in_ms: Option<u64>,
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The webhook answered with this status; `body` is the start of a non-2xx answer's body
    /// (at most 256 characters), which is where Slack and Teams say what was wrong, with the
    /// parts of the URL that may be its secret taken out (`vigil_core::redact_url_parts`).
    Http { status: u16, body: Option<String> },
    /// The SMTP server's final reply: 250 when the message was accepted, otherwise the code of
    /// the refusal with the server's text.
    Smtp { code: u16, message: String },
    /// No complete answer within the attempt timeout.
    Timeout { after_ms: u64 },
    /// No answer: connection refused or reset, DNS, TLS, a malformed reply. Never holds a
    /// secret: webhook URLs are left out.
    Error { message: String },
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The receiver accepted it (HTTP 2xx, SMTP 250).
    Delivered,
    /// It was not accepted; `reason` says why it stopped trying.
    Failed { reason: String },
}
