//! Typed lifecycle timestamps, their corrections and the durations computed from them.
//!
//! Which event sets which milestone (set only when still empty, so a reopened incident keeps the
//! first fact; fix a wrong one with [`Timestamps::correct`]):
//!
//! | milestone        | set by                                                   |
//! |------------------|----------------------------------------------------------|
//! | `first_activity` | given at creation (declared from alerts: the earliest time their matched events carry), moved back by a merged alert's earlier events, or by correction (when known) |
//! | `detected`       | creation (given, or the creation time)                   |
//! | `acknowledged`   | given at creation (declared from alerts: their first acknowledgement, or the declaring), else detection → analysis |
//! | `declared`       | analysis → containment (confirmed as a security incident) |
//! | `contained`      | containment → eradication (containment achieved)         |
//! | `eradicated`     | eradication → recovery (eradication confirmed)           |
//! | `recovered`      | recovery → post_incident (services restored)             |
//! | `closed`         | post_incident → closed; cleared when a closed incident is reopened |
//!
//! The milestones are ordered as listed; any two that are set must respect that order
//! ([`Timestamps::check_order`]), and a correction that would break it is rejected naming both.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;

wire_enum!(
    /// A lifecycle milestone, in chronological order.
    TimestampKind ("timestamp") {
        /// First malicious activity, when known.
        FirstActivity = "first_activity",
        /// The incident was detected.
        Detected = "detected",
        /// A responder acknowledged it.
        Acknowledged = "acknowledged",
        /// It was declared a security incident.
        Declared = "declared",
        /// It was contained.
        Contained = "contained",
        /// The root cause was eradicated.
        Eradicated = "eradicated",
        /// Services were recovered.
        Recovered = "recovered",
        /// It was closed.
        Closed = "closed",
    }
);

/// The lifecycle milestones of one incident.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Timestamps {
    /// First malicious activity, when known.
    pub first_activity: Option<DateTime<Utc>>,
    /// Detected.
    pub detected: Option<DateTime<Utc>>,
    /// Acknowledged.
    pub acknowledged: Option<DateTime<Utc>>,
    /// Declared.
    pub declared: Option<DateTime<Utc>>,
    /// Contained.
    pub contained: Option<DateTime<Utc>>,
    /// Eradicated.
    pub eradicated: Option<DateTime<Utc>>,
    /// Recovered.
    pub recovered: Option<DateTime<Utc>>,
    /// Closed.
    pub closed: Option<DateTime<Utc>>,
}

/// How far ahead of the server's clock a time may be and still be taken for now (a client's
/// clock running ahead).
const CLOCK_SKEW: Duration = Duration::minutes(5);

/// Milestones are facts: a time ahead of now (beyond clock skew) is refused, naming the
/// request's `field` that gave it.
fn not_in_the_future(
    field: &'static str,
    kind: TimestampKind,
    t: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    if t > now + CLOCK_SKEW {
        return Err(DomainError::invalid(
            field,
            format!(
                "{kind} {} is in the future; a milestone is a time that has passed, give when it happened",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        ));
    }
    Ok(())
}

/// A recorded correction of one milestone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimestampCorrection {
    /// The milestone corrected.
    pub kind: TimestampKind,
    /// Its value before.
    pub from: Option<DateTime<Utc>>,
    /// Its value after (`None` clears it).
    pub to: Option<DateTime<Utc>>,
    /// Who corrected it.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// When the correction was made.
    pub at: DateTime<Utc>,
}

/// The response-time measures computed from the milestones, in whole seconds (`None` while a
/// milestone they need is unknown). Never typed in: always derived by [`Timestamps::durations`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LifecycleDurations {
    /// First malicious activity → detected.
    pub time_to_detect_seconds: Option<i64>,
    /// Detected → acknowledged (how long the on-call took to take it up).
    pub time_to_acknowledge_seconds: Option<i64>,
    /// Detected → contained.
    pub time_to_contain_seconds: Option<i64>,
    /// Detected → recovered.
    pub time_to_recover_seconds: Option<i64>,
}

impl Timestamps {
    /// The value of one milestone.
    pub fn get(&self, kind: TimestampKind) -> Option<DateTime<Utc>> {
        *self.slot(kind)
    }

    fn slot(&self, kind: TimestampKind) -> &Option<DateTime<Utc>> {
        match kind {
            TimestampKind::FirstActivity => &self.first_activity,
            TimestampKind::Detected => &self.detected,
            TimestampKind::Acknowledged => &self.acknowledged,
            TimestampKind::Declared => &self.declared,
            TimestampKind::Contained => &self.contained,
            TimestampKind::Eradicated => &self.eradicated,
            TimestampKind::Recovered => &self.recovered,
            TimestampKind::Closed => &self.closed,
        }
    }

    fn slot_mut(&mut self, kind: TimestampKind) -> &mut Option<DateTime<Utc>> {
        match kind {
            TimestampKind::FirstActivity => &mut self.first_activity,
            TimestampKind::Detected => &mut self.detected,
            TimestampKind::Acknowledged => &mut self.acknowledged,
            TimestampKind::Declared => &mut self.declared,
            TimestampKind::Contained => &mut self.contained,
            TimestampKind::Eradicated => &mut self.eradicated,
            TimestampKind::Recovered => &mut self.recovered,
            TimestampKind::Closed => &mut self.closed,
        }
    }

    /// Sets a milestone unconditionally (no checks); used by the phase machine and storage.
    pub fn set(&mut self, kind: TimestampKind, value: Option<DateTime<Utc>>) {
        *self.slot_mut(kind) = value;
    }

    /// Sets a milestone only if it is still empty; returns whether it changed.
    pub fn set_if_empty(&mut self, kind: TimestampKind, at: DateTime<Utc>) -> bool {
        let slot = self.slot_mut(kind);
        if slot.is_none() {
            *slot = Some(at);
            true
        } else {
            false
        }
    }

    /// Checks that every two milestones that are set are in chronological order; the first
    /// violation is reported naming both.
    pub fn check_order(&self) -> Result<(), DomainError> {
        let all = TimestampKind::ALL;
        for (i, a) in all.iter().enumerate() {
            let Some(ta) = self.get(*a) else { continue };
            for b in &all[i + 1..] {
                if let Some(tb) = self.get(*b)
                    && ta > tb
                {
                    return Err(DomainError::TimestampOrder {
                        earlier: *a,
                        later: *b,
                    });
                }
            }
        }
        Ok(())
    }

    /// Corrects one milestone with a reason, keeping order; on error nothing changes.
    /// `detected` cannot be cleared (every incident has been detected). A refused time (cleared
    /// `detected`, in the future, out of order with another milestone) names `at`, the field of
    /// the correction that gives it.
    pub fn correct(
        &mut self,
        kind: TimestampKind,
        to: Option<DateTime<Utc>>,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<TimestampCorrection, DomainError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(DomainError::invalid(
                "reason",
                "a timestamp correction needs a reason; say where the right time comes from",
            ));
        }
        crate::reason_length("reason", reason)?;
        if kind == TimestampKind::Detected && to.is_none() {
            return Err(DomainError::invalid(
                "at",
                "detected cannot be cleared; give the correct detection time instead",
            ));
        }
        if let Some(t) = to {
            not_in_the_future("at", kind, t, at)?;
        }
        let mut next = self.clone();
        let from = next.get(kind);
        next.set(kind, to);
        next.check_order()
            .map_err(|e| DomainError::invalid("at", e.to_string()))?;
        *self = next;
        Ok(TimestampCorrection {
            kind,
            from,
            to,
            actor: actor.to_owned(),
            reason: reason.to_owned(),
            at,
        })
    }

    /// Checks that the milestones given at creation are facts already: none in the future,
    /// each refusal naming the milestone (the field of the new incident that gives it).
    pub fn check_given(&self, at: DateTime<Utc>) -> Result<(), DomainError> {
        for &kind in TimestampKind::ALL {
            if let Some(t) = self.get(kind) {
                not_in_the_future(kind.as_str(), kind, t, at)?;
            }
        }
        Ok(())
    }

    /// All three measures at once.
    pub fn durations(&self) -> LifecycleDurations {
        LifecycleDurations {
            time_to_detect_seconds: self.time_to_detect().map(|d| d.num_seconds()),
            time_to_acknowledge_seconds: self.time_to_acknowledge().map(|d| d.num_seconds()),
            time_to_contain_seconds: self.time_to_contain().map(|d| d.num_seconds()),
            time_to_recover_seconds: self.time_to_recover().map(|d| d.num_seconds()),
        }
    }

    /// Time from first malicious activity to detection, when both are known.
    pub fn time_to_detect(&self) -> Option<Duration> {
        Some(self.detected? - self.first_activity?)
    }

    /// Time from detection to a responder taking it up.
    pub fn time_to_acknowledge(&self) -> Option<Duration> {
        Some(self.acknowledged? - self.detected?)
    }

    /// Time from detection to containment.
    pub fn time_to_contain(&self) -> Option<Duration> {
        Some(self.contained? - self.detected?)
    }

    /// Time from detection to recovery.
    pub fn time_to_recover(&self) -> Option<Duration> {
        Some(self.recovered? - self.detected?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, 0, 0).unwrap()
    }

    #[test]
    fn durations_from_facts() {
        let ts = Timestamps {
            first_activity: Some(t(1)),
            detected: Some(t(3)),
            acknowledged: Some(t(4)),
            contained: Some(t(6)),
            recovered: Some(t(10)),
            ..Default::default()
        };
        assert_eq!(ts.time_to_detect(), Some(Duration::hours(2)));
        assert_eq!(ts.time_to_acknowledge(), Some(Duration::hours(1)));
        assert_eq!(ts.time_to_contain(), Some(Duration::hours(3)));
        assert_eq!(ts.time_to_recover(), Some(Duration::hours(7)));
        assert_eq!(
            ts.durations(),
            LifecycleDurations {
                time_to_detect_seconds: Some(7200),
                time_to_acknowledge_seconds: Some(3600),
                time_to_contain_seconds: Some(10800),
                time_to_recover_seconds: Some(25200),
            }
        );
        let partial = Timestamps {
            detected: Some(t(3)),
            ..Default::default()
        };
        assert_eq!(partial.time_to_detect(), None);
        assert_eq!(partial.time_to_acknowledge(), None);
        assert_eq!(partial.time_to_contain(), None);
    }

    #[test]
    fn correction_out_of_order_names_both() {
        let mut ts = Timestamps {
            detected: Some(t(5)),
            contained: Some(t(8)),
            ..Default::default()
        };
        let before = ts.clone();
        let e = ts
            .correct(
                TimestampKind::Contained,
                Some(t(4)),
                "ann",
                "log says 04:00",
                t(12),
            )
            .unwrap_err();
        // The correction's own field is named; the message names both milestones.
        assert_eq!(
            e,
            DomainError::invalid(
                "at",
                "timestamps out of order: detected must not be after contained; correct one of them"
            )
        );
        assert_eq!(ts, before, "nothing changes on error");
        let e = ts
            .correct(TimestampKind::FirstActivity, Some(t(6)), "ann", "x", t(12))
            .unwrap_err();
        assert_eq!(e.field(), Some("at"));
        assert!(
            e.to_string()
                .contains("first_activity must not be after detected"),
            "{e}"
        );
        // A time in the future is the correction's `at` too.
        let e = ts
            .correct(TimestampKind::Contained, Some(t(20)), "ann", "x", t(12))
            .unwrap_err();
        assert_eq!(e.field(), Some("at"));
        assert_eq!(ts, before);
    }

    #[test]
    fn correction_needs_reason_and_is_recorded() {
        let mut ts = Timestamps {
            detected: Some(t(5)),
            ..Default::default()
        };
        assert_eq!(
            ts.correct(TimestampKind::Detected, Some(t(4)), "ann", " ", t(12))
                .unwrap_err()
                .field(),
            Some("reason")
        );
        assert_eq!(
            ts.correct(TimestampKind::Detected, None, "ann", "oops", t(12))
                .unwrap_err()
                .field(),
            Some("at")
        );
        let c = ts
            .correct(
                TimestampKind::Detected,
                Some(t(4)),
                "ann",
                "SIEM alert time",
                t(12),
            )
            .unwrap();
        assert_eq!((c.from, c.to), (Some(t(5)), Some(t(4))));
        assert_eq!(ts.detected, Some(t(4)));
    }

    #[test]
    fn set_if_empty_keeps_first_fact() {
        let mut ts = Timestamps::default();
        assert!(ts.set_if_empty(TimestampKind::Contained, t(2)));
        assert!(!ts.set_if_empty(TimestampKind::Contained, t(3)));
        assert_eq!(ts.contained, Some(t(2)));
    }
}
