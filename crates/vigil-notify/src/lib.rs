//! Notification channels: deliver one [`Notification`] to one [`Target`] — a JSON webhook
//! (generic, Slack- or Teams-compatible) or an e-mail over SMTP — with a per-attempt timeout,
//! retries with capped exponential backoff, and a [`Delivery`] record of every attempt for the
//! caller to keep as its delivery log.
//!
//! This is an I/O edge: no SQL, no HTTP server, no escalation rules. Who is notified when is
//! decided by the caller; this crate only says what happened when it tried.
//!
//! # Retries
//!
//! Each attempt has `attempt_timeout` in all (connect, TLS, request, reply). An attempt is
//! retried, up to `retry.max_attempts` in all, after a timeout, a connection or TLS error, HTTP
//! 408, 429 and 5xx (waiting at least the `Retry-After` the server asked for, within
//! `retry.max_backoff`) and SMTP 4xx. It is not retried after any other HTTP status (other 4xx;
//! 3xx too, since redirects are not followed: a webhook payload goes only where it was sent)
//! nor after SMTP 5xx: the receiver has said no, and asking again will not change its mind.
//!
//! # Secrets
//!
//! Webhook URLs carry their secret in the path (Slack, Teams) or the query; records and logs
//! hold only `scheme://host[:port]` ([`redact_url`]), and transport errors are recorded without
//! their URL. The SMTP password is never printed ([`SmtpCredentials`]' `Debug` shows `***`).
//!
//! ```no_run
//! # async fn example() -> Result<(), vigil_notify::ConfigError> {
//! use vigil_notify::{Notification, Notifier, NotifierConfig, Target, WebhookFormat};
//!
//! let notifier = Notifier::new(NotifierConfig::default())?;
//! let notification = Notification::new("Brute force on vpn-1", "SEV2", "ALR-12")
//!     .with_service("vpn")
//!     .with_ack_url("https://vigil.example.org/alerts/ALR-12/ack");
//! let target = Target::Webhook {
//!     url: "https://hooks.slack.com/services/T0/B0/XXXX".into(),
//!     format: WebhookFormat::Slack,
//! };
//! let delivery = notifier.deliver(&notification, &target).await;
//! // The record is plain data: keep it as the delivery log.
//! let log_entry = serde_json::to_string(&delivery).expect("a delivery is always JSON");
//! # let _ = log_entry;
//! # Ok(()) }
//! ```

mod config;
mod delivery;
mod email;
mod notification;
mod notifier;
mod payload;
mod retry;

pub use config::{
    ConfigError, NotifierConfig, RetryPolicy, SmtpConfig, SmtpCredentials, SmtpSecurity,
};
pub use delivery::{Attempt, Delivery, DeliveryStatus, Outcome, TargetRecord};
pub use email::{email_html, email_subject, email_text};
pub use notification::{Notification, Target, WebhookFormat};
pub use notifier::Notifier;
pub use payload::{generic_payload, slack_payload, teams_payload, webhook_payload};
/// The webhook URL redaction shared with the API's answers (see `vigil_core::redact`).
pub use vigil_core::redact_url;
