//! Per-service retention: events older than their service's retention are deleted in the
//! background, a service at a time, so the log store holds what policy says and no more.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use vigil_logs::{EventStore, LogError};

/// The longest retention that can be asked for: a century, which keeps every cut-off date
/// inside the range of dates (a longer one is "forever": leave the retention out).
pub const MAX_RETENTION_DAYS: u32 = 36_500;

/// How long each service's events are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Days per service.
    pub per_service: BTreeMap<String, u32>,
    /// Days for services not in `per_service`; `None` keeps them forever.
    pub default_days: Option<u32>,
}

impl RetentionPolicy {
    /// The retention of `service` in days, if it has one.
    pub fn days_for(&self, service: &str) -> Option<u32> {
        self.per_service.get(service).copied().or(self.default_days)
    }

    /// Whether an event of `service` at `time` is older than its retention at `now`.
    pub fn expired(&self, service: &str, time: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        self.days_for(service).is_some_and(|days| {
            let days = chrono::Duration::days(i64::from(days.min(MAX_RETENTION_DAYS)));
            now.checked_sub_signed(days)
                .is_some_and(|cutoff| time < cutoff)
        })
    }

    /// Whether any service has a retention at all.
    pub fn is_empty(&self) -> bool {
        self.per_service.is_empty() && self.default_days.is_none()
    }

    /// Parses `SERVICE=DAYS` (`web=30`), the form of `vigil serve --retention`.
    pub fn parse_entry(text: &str) -> Result<(String, u32), String> {
        let (service, days) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?} is not SERVICE=DAYS; write e.g. web=30"))?;
        let service = service.trim();
        if service.is_empty() {
            return Err(format!("{text:?} names no service; write e.g. web=30"));
        }
        let days = Self::parse_days(days).map_err(|reason| format!("{text:?}: {reason}"))?;
        Ok((service.to_owned(), days))
    }

    /// Parses a retention in days: 1 to [`MAX_RETENTION_DAYS`].
    pub fn parse_days(text: &str) -> Result<u32, String> {
        match text.trim().parse::<u64>() {
            Ok(0) | Err(_) => {
                Err("the days must be a whole number above 0, e.g. 30; leave the retention out to keep events forever".to_owned())
            }
            Ok(d) if d > u64::from(MAX_RETENTION_DAYS) => Err(format!(
                "{d} days is more than a century ({MAX_RETENTION_DAYS}); leave the retention out to keep events forever"
            )),
            Ok(d) => Ok(d as u32),
        }
    }
}

/// Applies the policy once: deletes, for every stored service with a retention, its events
/// older than that many days. Returns the number deleted per service. Blocking.
pub fn enforce(
    events: &dyn EventStore,
    policy: &RetentionPolicy,
) -> Result<Vec<(String, u64)>, LogError> {
    let now = Utc::now();
    let mut deleted = Vec::new();
    for stats in events.stats()? {
        let Some(days) = policy.days_for(&stats.service) else {
            continue;
        };
        let days = chrono::Duration::days(i64::from(days.min(MAX_RETENTION_DAYS)));
        let Some(cutoff) = now.checked_sub_signed(days) else {
            continue;
        };
        if stats.first.is_some_and(|first| first >= cutoff) {
            continue;
        }
        let n = events.delete_older_than(&stats.service, cutoff)?;
        if n > 0 {
            deleted.push((stats.service, n));
        }
    }
    Ok(deleted)
}

/// Runs [`enforce`] every `interval` until `shutdown` turns true; failures are logged and
/// retried at the next round.
pub async fn run(
    events: Arc<dyn EventStore>,
    policy: RetentionPolicy,
    interval: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    if policy.is_empty() {
        return;
    }
    loop {
        let store = Arc::clone(&events);
        let p = policy.clone();
        match tokio::task::spawn_blocking(move || enforce(store.as_ref(), &p)).await {
            Ok(Ok(deleted)) => {
                for (service, n) in deleted {
                    tracing::info!(service = %service, deleted = n, "retention: deleted expired events");
                }
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "retention failed; retrying at the next round")
            }
            Err(e) => tracing::error!(error = %e, "retention task stopped"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_and_bad_ones_say_what_to_write() {
        assert_eq!(
            RetentionPolicy::parse_entry("web=30").unwrap(),
            ("web".into(), 30)
        );
        assert!(
            RetentionPolicy::parse_entry("web")
                .unwrap_err()
                .contains("SERVICE=DAYS")
        );
        assert!(RetentionPolicy::parse_entry("=3").is_err());
        assert!(RetentionPolicy::parse_entry("web=0").is_err());
        assert!(RetentionPolicy::parse_entry("web=x").is_err());
        assert_eq!(
            RetentionPolicy::parse_entry("web=36500").unwrap(),
            ("web".into(), MAX_RETENTION_DAYS)
        );
        let err = RetentionPolicy::parse_entry("web=4000000000").unwrap_err();
        assert!(err.contains("more than a century"), "{err}");
        assert!(RetentionPolicy::parse_days("0").is_err());
        assert_eq!(RetentionPolicy::parse_days(" 365 "), Ok(365));
        let policy = RetentionPolicy {
            per_service: [("web".to_owned(), 7)].into(),
            default_days: Some(90),
        };
        assert_eq!(policy.days_for("web"), Some(7));
        assert_eq!(policy.days_for("db"), Some(90));
    }
}
