//! How the [`Notifier`](crate::Notifier) delivers: timeouts, retries, the SMTP server.

use std::fmt;
use std::time::Duration;

/// The notifier's settings. `Default` gives 10 s per attempt, 4 attempts, backoff from 1 s
/// doubling to at most 30 s, with jitter, and no SMTP server.
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// The longest one attempt may take, connection included.
    pub attempt_timeout: Duration,
    /// When and how often to try again.
    pub retry: RetryPolicy,
    /// The SMTP server for [`Target::Email`](crate::Target::Email); without it e-mail
    /// deliveries fail at once.
    pub smtp: Option<SmtpConfig>,
    /// The `User-Agent` of webhook requests.
    pub user_agent: String,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        NotifierConfig {
            attempt_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            smtp: None,
            user_agent: concat!("vigil/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Retries: attempt `n` (from 1) that failed in a retryable way waits
/// `min(initial_backoff * 2^(n-1), max_backoff)` — or the server's `Retry-After` if that is
/// longer, still at most `max_backoff` — before attempt `n + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; at least 1.
    pub max_attempts: u32,
    /// The wait after the first failed attempt.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts, `Retry-After` included.
    pub max_backoff: Duration,
    /// Wait a uniformly random time between half the backoff and all of it, so that many
    /// notifiers failing together do not retry together.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            jitter: true,
        }
    }
}

/// The SMTP server e-mail is submitted to.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// Host name or IP address.
    pub host: String,
    /// Port: usually 25 (relay, plain or STARTTLS), 587 (submission, STARTTLS), 465 (implicit TLS).
    pub port: u16,
    /// Transport security.
    pub security: SmtpSecurity,
    /// Login, if the server wants one. Sent after TLS is up with `StartTls` and `ImplicitTls`;
    /// in the clear with `None`, so use that only on loopback.
    pub credentials: Option<SmtpCredentials>,
    /// The `From` mailbox, `Vigil <vigil@example.org>` or `vigil@example.org`; its domain is
    /// also the Message-ID's.
    pub from: String,
    /// The name given in EHLO; `localhost` when `None`.
    pub hello_name: Option<String>,
    /// Send an HTML alternative beside the plain-text body.
    pub html: bool,
}

impl SmtpConfig {
    /// Plain SMTP on `host:port` with no login (a local relay or a test server).
    pub fn plain(host: impl Into<String>, port: u16, from: impl Into<String>) -> Self {
        SmtpConfig {
            host: host.into(),
            port,
            security: SmtpSecurity::None,
            credentials: None,
            from: from.into(),
            hello_name: None,
            html: false,
        }
    }
}

/// Transport security of the SMTP connection (rustls, web PKI roots).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text; for loopback relays and tests only.
    None,
    /// Plain connection upgraded with STARTTLS, which must succeed.
    StartTls,
    /// TLS from the first byte (SMTPS, port 465).
    ImplicitTls,
}

/// An SMTP login. The password is never printed: `Debug` shows `***`.
#[derive(Clone)]
pub struct SmtpCredentials {
    /// The user name.
    pub username: String,
    password: String,
}

impl SmtpCredentials {
    /// A user name and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        SmtpCredentials {
            username: username.into(),
            password: password.into(),
        }
    }

    pub(crate) fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for SmtpCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpCredentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// A configuration the notifier cannot work with.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `max_attempts` is 0.
    #[error("retry.max_attempts must be at least 1")]
    NoAttempts,
    /// `attempt_timeout` is zero.
    #[error("attempt_timeout must be greater than zero")]
    ZeroTimeout,
    /// `smtp.from` is not a mailbox.
    #[error(
        "smtp.from `{from}` is not an e-mail address: {reason}; write it as `name@domain` or `Name <name@domain>`"
    )]
    BadFrom {
        /// The value given.
        from: String,
        /// Why it was refused.
        reason: String,
    },
    /// TLS was asked for but the host name cannot be used to check the server's certificate.
    #[error("smtp.host `{host}` cannot be used for TLS: {reason}")]
    BadTlsHost {
        /// The value given.
        host: String,
        /// Why it was refused.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}
