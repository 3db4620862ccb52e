//! Retry decisions: backoff, `Retry-After`, and keeping secrets out of what is recorded.

use std::time::{Duration, SystemTime};

use crate::RetryPolicy;

/// The wait after failed attempt `attempt` (from 1): exponential from `initial_backoff`,
/// raised to the server's `Retry-After` if given, never above `max_backoff`; with jitter, a
/// uniform draw between half of that and all of it.
pub(crate) fn backoff(
    policy: &RetryPolicy,
    attempt: u32,
    retry_after: Option<Duration>,
) -> Duration {
    let exp = 2u32.saturating_pow(attempt.saturating_sub(1));
    let mut wait = policy
        .initial_backoff
        .saturating_mul(exp)
        .min(policy.max_backoff);
    if policy.jitter && !wait.is_zero() {
        use rand::Rng as _;
        let half = wait / 2;
        wait = half + rand::rng().random_range(Duration::ZERO..=wait - half);
    }
    if let Some(after) = retry_after {
        wait = wait.max(after);
    }
    wait.min(policy.max_backoff)
}

/// `Retry-After` as delay-seconds or an HTTP date, relative to `now`.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// An error and its sources on one line, for the record.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(jitter: bool) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            jitter,
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = policy(false);
        let waits: Vec<u128> = (1..=6).map(|n| backoff(&p, n, None).as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff(&p, u32::MAX, None), Duration::from_millis(1000));
    }

    #[test]
    fn retry_after_raises_the_wait_within_the_cap() {
        let p = policy(false);
        assert_eq!(
            backoff(&p, 1, Some(Duration::from_millis(300))),
            Duration::from_millis(300)
        );
        assert_eq!(
            backoff(&p, 1, Some(Duration::from_secs(60))),
            Duration::from_millis(1000)
        );
        assert_eq!(
            backoff(&p, 3, Some(Duration::from_millis(10))),
            Duration::from_millis(400)
        );
    }

    #[test]
    fn jitter_stays_between_half_and_all() {
        let p = policy(true);
        for _ in 0..100 {
            let w = backoff(&p, 3, None);
            assert!(
                w >= Duration::from_millis(200) && w <= Duration::from_millis(400),
                "{w:?}"
            );
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = httpdate::parse_http_date("Tue, 01 Dec 2026 10:00:00 GMT").unwrap();
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Tue, 01 Dec 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Tue, 01 Dec 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
