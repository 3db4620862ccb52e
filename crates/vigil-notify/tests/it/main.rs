//! vigil-notify against real receivers on loopback: an axum HTTP server started here and
//! Debian's aiosmtpd started as a child process.

mod contacts;
mod email;
mod receivers;
mod webhook;

use std::time::Duration;

use vigil_notify::{Notification, NotifierConfig, RetryPolicy};

/// Short waits so a retried failure costs milliseconds; no jitter so waits are exact.
fn config() -> NotifierConfig {
    NotifierConfig {
        attempt_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            jitter: false,
        },
        smtp: None,
        user_agent: "vigil-notify-test".to_owned(),
    }
}

fn notification() -> Notification {
    Notification::new("Brute force on vpn-1", "SEV2", "ALR-12")
        .with_summary("42 failed logins for admin from 203.0.113.7 in 5 minutes.")
        .with_service("vpn")
        .with_ack_url("https://vigil.example.org/alerts/ALR-12/ack")
        .with_field("host", "vpn-1")
        .with_field("rule", "Multiple failed logins")
}
