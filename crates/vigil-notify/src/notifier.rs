//! The [`Notifier`]: one delivery, attempt by attempt, until accepted, refused or out of
//! attempts.

use std::time::{Duration, Instant, SystemTime};

use chrono::Utc;
use lettre::address::Envelope;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use vigil_core::contact::ContactError;

use crate::retry::{backoff, error_chain, parse_retry_after};
use crate::{
    Attempt, ConfigError, Delivery, DeliveryStatus, Notification, NotifierConfig, Outcome,
    SmtpConfig, SmtpSecurity, Target, TargetRecord, email, payload,
};

/// Longest part of a refusal's body kept in the record.
const BODY_EXCERPT_CHARS: usize = 256;

/// Delivers notifications over webhooks and SMTP. Cheap to share (`&self`); holds one HTTP
/// client (with its connection pool) and the SMTP transport settings.
pub struct Notifier {
    config: NotifierConfig,
    http: reqwest::Client,
    smtp: Option<SmtpChannel>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

struct SmtpChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    html: bool,
}

/// What one attempt means for the delivery.
enum Verdict {
    Delivered,
    /// Try again, after at least this long if the receiver said so.
    Retry(Option<Duration>),
    /// Trying again cannot help.
    Stop,
}

/// A notification turned into what goes on the wire, once for all attempts (an e-mail keeps
/// its Message-ID across retries).
enum Prepared<'a> {
    Webhook {
        url: reqwest::Url,
        body: Vec<u8>,
    },
    Email {
        channel: &'a SmtpChannel,
        envelope: Envelope,
        message: Vec<u8>,
    },
}

impl Notifier {
    /// A notifier with this configuration; fails on settings it cannot use.
    pub fn new(config: NotifierConfig) -> Result<Self, ConfigError> {
        if config.retry.max_attempts == 0 {
            return Err(ConfigError::NoAttempts);
        }
        if config.attempt_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout);
        }
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .connect_timeout(config.attempt_timeout)
            .timeout(config.attempt_timeout)
            // A webhook that redirects gets no second copy of the payload somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::Http(error_chain(&e)))?;
        let smtp = config
            .smtp
            .as_ref()
            .map(|s| smtp_channel(s, config.attempt_timeout))
            .transpose()?;
        Ok(Notifier { config, http, smtp })
    }

    /// The configuration in force.
    pub fn config(&self) -> &NotifierConfig {
        &self.config
    }

    /// Sends `notification` to `target`, retrying as configured, and says what happened. Never
    /// fails: a target that cannot be used (a malformed URL or address, e-mail without an SMTP
    /// server) is a failed delivery with no attempts.
    pub async fn deliver(&self, notification: &Notification, target: &Target) -> Delivery {
        self.deliver_unless(notification, target, || std::future::ready(None))
            .await
    }

    /// As [`Notifier::deliver`], but asks `stop` before every attempt after the first whether
    /// the notification is still wanted (the alert it pages was acknowledged meanwhile): a
    /// reason ends the delivery there, failed, with the reason in its record.
    pub async fn deliver_unless<F, Fut>(
        &self,
        notification: &Notification,
        target: &Target,
        mut stop: F,
    ) -> Delivery
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<String>>,
    {
        let record = TargetRecord::from(target);
        let prepared = match self.prepare(notification, target) {
            Ok(p) => p,
            Err(reason) => {
                tracing::warn!(channel = ?record, %reason, "notification not sent");
                return Delivery {
                    target: record,
                    attempts: Vec::new(),
                    status: DeliveryStatus::Failed { reason },
                };
            }
        };
        let policy = self.config.retry;
        let mut attempts: Vec<Attempt> = Vec::new();
        let mut number = 0;
        let status = loop {
            number += 1;
            let started_at = Utc::now();
            let clock = Instant::now();
            let timeout = self.config.attempt_timeout;
            let (outcome, verdict) = tokio::time::timeout(timeout, self.attempt(&prepared))
                .await
                .unwrap_or_else(|_| {
                    let outcome = Outcome::Timeout {
                        after_ms: millis(timeout),
                    };
                    (outcome, Verdict::Retry(None))
                });
            let described = describe(&outcome);
            let mut attempt = Attempt {
                number,
                started_at,
                duration_ms: millis(clock.elapsed()),
                outcome,
                retry_in_ms: None,
            };
            let status = match verdict {
                Verdict::Delivered => {
                    tracing::info!(channel = ?record, attempt = number, outcome = %described, "notification delivered");
                    DeliveryStatus::Delivered
                }
                Verdict::Stop => {
                    tracing::warn!(channel = ?record, attempt = number, outcome = %described, "notification refused, not retried");
                    let reason = format!("{described}; not retried");
                    DeliveryStatus::Failed { reason }
                }
                Verdict::Retry(_) if number >= policy.max_attempts => {
                    tracing::warn!(channel = ?record, attempt = number, outcome = %described, "notification failed, no attempts left");
                    let reason = format!("{described}; gave up after {number} attempts");
                    DeliveryStatus::Failed { reason }
                }
                Verdict::Retry(retry_after) => {
                    let wait = backoff(&policy, number, retry_after);
                    tracing::warn!(channel = ?record, attempt = number, outcome = %described, retry_in_ms = millis(wait), "notification attempt failed, retrying");
                    attempt.retry_in_ms = Some(millis(wait));
                    tokio::time::sleep(wait).await;
                    if let Some(why) = stop().await {
                        tracing::info!(channel = ?record, attempt = number, reason = %why, "notification no longer wanted, not retried");
                        attempt.retry_in_ms = None;
                        attempts.push(attempt);
                        break DeliveryStatus::Failed {
                            reason: format!("{described}; not tried again: {why}"),
                        };
                    }
                    attempts.push(attempt);
                    continue;
                }
            };
            attempts.push(attempt);
            break status;
        };
        Delivery {
            target: record,
            attempts,
            status,
        }
    }

    fn prepare<'a>(&'a self, n: &Notification, target: &Target) -> Result<Prepared<'a>, String> {
        match target {
            Target::Webhook { url, format } => {
                // The check the organisation document was validated with, so the two agree.
                let url = vigil_core::contact::webhook_url(url).map_err(|e| match e {
                    ContactError::BadUrl(reason) => {
                        format!("the webhook URL is not valid: {reason}")
                    }
                    other => format!("the webhook URL {other}"),
                })?;
                let body = serde_json::to_vec(&payload::webhook_payload(n, *format))
                    .map_err(|e| format!("cannot encode the payload: {e}"))?;
                Ok(Prepared::Webhook { url, body })
            }
            Target::Email { to } => {
                let channel = self.smtp.as_ref().ok_or_else(|| {
                    "no SMTP server is configured; start the server with --smtp HOST:PORT (and --smtp-from) to send e-mail"
                        .to_owned()
                })?;
                let to: Mailbox = to
                    .parse()
                    .map_err(|e| format!("`{to}` is not an e-mail address: {e}"))?;
                let message = build_message(channel, n, to)?;
                Ok(Prepared::Email {
                    channel,
                    envelope: message.envelope().clone(),
                    message: message.formatted(),
                })
            }
        }
    }

    async fn attempt(&self, prepared: &Prepared<'_>) -> (Outcome, Verdict) {
        match prepared {
            Prepared::Webhook { url, body } => self.post(url, body).await,
            Prepared::Email {
                channel,
                envelope,
                message,
            } => match channel.transport.send_raw(envelope, message).await {
                Ok(reply) => (
                    Outcome::Smtp {
                        code: u16::from(reply.code()),
                        message: reply.message().collect::<Vec<_>>().join(" "),
                    },
                    Verdict::Delivered,
                ),
                Err(e) => smtp_error(&e, self.config.attempt_timeout),
            },
        }
    }

    async fn post(&self, url: &reqwest::Url, body: &[u8]) -> (Outcome, Verdict) {
        let request = self
            .http
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return (
                    Outcome::Timeout {
                        after_ms: millis(self.config.attempt_timeout),
                    },
                    Verdict::Retry(None),
                );
            }
            Err(e) => {
                let verdict = if e.is_builder() {
                    Verdict::Stop
                } else {
                    Verdict::Retry(None)
                };
                // The URL may hold the webhook's secret: never in the record.
                return (
                    Outcome::Error {
                        message: error_chain(&e.without_url()),
                    },
                    verdict,
                );
            }
        };
        let status = response.status().as_u16();
        if response.status().is_success() {
            return (Outcome::Http { status, body: None }, Verdict::Delivered);
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let mut excerpt = Vec::new();
        let mut cut = false;
        while !cut {
            match response.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                _ => break,
            }
            cut = excerpt.len() >= BODY_EXCERPT_CHARS * 4;
        }
        // A receiver's error often quotes the request it refuses: the URL's secret parts are
        // taken out before the text is recorded (and logged from the record), then shortened.
        let text = vigil_core::redact_url_parts(
            String::from_utf8_lossy(&excerpt).trim(),
            url.as_str(),
            cut,
        );
        let text = payload::truncate(&text, BODY_EXCERPT_CHARS);
        let body = (!text.is_empty()).then_some(text);
        let verdict = match status {
            408 | 429 | 500..=599 => Verdict::Retry(retry_after),
            _ => Verdict::Stop,
        };
        (Outcome::Http { status, body }, verdict)
    }
}

fn smtp_channel(config: &SmtpConfig, timeout: Duration) -> Result<SmtpChannel, ConfigError> {
    let from: Mailbox = config
        .from
        .parse()
        .map_err(|e: lettre::address::AddressError| ConfigError::BadFrom {
            from: config.from.clone(),
            reason: e.to_string(),
        })?;
    let tls_parameters = || {
        TlsParameters::new(config.host.clone()).map_err(|e| ConfigError::BadTlsHost {
            host: config.host.clone(),
            reason: error_chain(&e),
        })
    };
    let tls = match config.security {
        SmtpSecurity::None => Tls::None,
        SmtpSecurity::StartTls => Tls::Required(tls_parameters()?),
        SmtpSecurity::ImplicitTls => Tls::Wrapper(tls_parameters()?),
    };
    let hello = config
        .hello_name
        .clone()
        .unwrap_or_else(|| "localhost".to_owned());
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
        .port(config.port)
        .tls(tls)
        .timeout(Some(timeout))
        .hello_name(ClientId::Domain(hello));
    if let Some(credentials) = &config.credentials {
        builder = builder.credentials(Credentials::new(
            credentials.username.clone(),
            credentials.password().to_owned(),
        ));
    }
    Ok(SmtpChannel {
        transport: builder.build(),
        from,
        html: config.html,
    })
}

fn build_message(channel: &SmtpChannel, n: &Notification, to: Mailbox) -> Result<Message, String> {
    let message_id = format!(
        "<{}@{}>",
        uuid::Uuid::new_v4().simple(),
        channel.from.email.domain()
    );
    let builder = Message::builder()
        .from(channel.from.clone())
        .to(to)
        .subject(email::email_subject(n))
        .message_id(Some(message_id))
        .date_now();
    let text = email::email_text(n);
    // Through `singlepart`/`multipart`, which add `MIME-Version: 1.0`: without it a reader
    // takes the body for RFC 822 text and shows its quoted-printable or base64 encoding (the
    // acknowledgement link's `=3D` and soft line breaks) as it is.
    let built = if channel.html {
        builder.multipart(MultiPart::alternative_plain_html(
            text,
            email::email_html(n),
        ))
    } else {
        builder.singlepart(SinglePart::plain(text))
    };
    built.map_err(|e| format!("cannot build the e-mail: {e}"))
}

fn smtp_error(e: &lettre::transport::smtp::Error, timeout: Duration) -> (Outcome, Verdict) {
    if let Some(code) = e.status() {
        let verdict = if e.is_transient() {
            Verdict::Retry(None)
        } else {
            Verdict::Stop
        };
        return (
            Outcome::Smtp {
                code: u16::from(code),
                message: error_chain(e),
            },
            verdict,
        );
    }
    if e.is_timeout() {
        return (
            Outcome::Timeout {
                after_ms: millis(timeout),
            },
            Verdict::Retry(None),
        );
    }
    let verdict = if e.is_client() {
        Verdict::Stop
    } else {
        Verdict::Retry(None)
    };
    (
        Outcome::Error {
            message: error_chain(e),
        },
        verdict,
    )
}

/// A short text for logs and the failure reason.
fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Http { status, body: None } => format!("HTTP {status}"),
        Outcome::Http {
            status,
            body: Some(body),
        } => format!("HTTP {status}: {body}"),
        Outcome::Smtp { code, message } => format!("SMTP {code}: {message}"),
        Outcome::Timeout { after_ms } => format!("no answer within {after_ms} ms"),
        Outcome::Error { message } => message.clone(),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
