//! The incident phases and the guarded state machine between them.
//!
//! ```text
//! detection → analysis → containment → eradication → recovery → post_incident → closed
//!     ↑__________ any earlier phase, with a reason (reopening) __________________|
//! ```
//!
//! A transition is checked by every guard in [`Guard::ALL`]; all guards run, and a refusal
//! ([`crate::DomainError::TransitionRefused`]) lists every guard that refused and why:
//!
//! - `phase_changes` — the target differs from the current phase.
//! - `one_step_forward` — forward moves go one phase at a time. Skipping is refused because each
//!   step records a lifecycle milestone (see [`crate::timestamps`]) and the seed's process is
//!   sequential: an incident that was never contained has no containment time to measure.
//! - `reopen_reason` — moving back to an earlier phase (reopening) needs a reason.
//! - `root_cause_before_recovery` — recovery needs a root cause recorded: the seed says
//!   "recovery isn't possible until the threat has been removed and its underlying causes have
//!   been resolved"; together with `one_step_forward` the only way in is from eradication.
//! - `post_mortem_before_close` — an incident rated SEV1 or SEV2, or assessed as a data breach
//!   ([`crate::DataImpact::requires_notification`]), at any point of its life cannot be closed
//!   before a post-mortem exists. "At any point": the severity history and the assessment
//!   history are kept, so lowering the severity or clearing the assessment just before closing
//!   does not waive it. A rating found to be a mistake is not waived either: the post-mortem,
//!   written and logged like any other, is the place to say so (a short one is enough), so the
//!   decision not to review is itself on the record.
//! - `post_mortem_classified` — the post-mortem such an incident needs must name at least one
//!   contributing factor, classified as the seed's kinds (technical lapse, procedural failure,
//!   manual error, process flaw, or other): a review of a SEV1 or a breach that identified
//!   nothing is a stub, and the monthly review counts incidents by these kinds. A rating found to
//!   be a mistake is said as a factor of kind `other`. Incidents that need no post-mortem may
//!   close with any, and a post-mortem recorded before factors existed (a summary only) is made
//!   whole by recording it again with its factors, in phase post_incident as always — so an
//!   older incident can always be closed.
//!
//! The transitions themselves are applied by [`crate::Incident::change_phase`], which also sets
//! the milestones.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{DomainError, GuardRefusal};
use crate::impact::DataImpact;
use crate::severity::{Severity, SeverityChange};

wire_enum!(
    /// Where an incident stands in the response process.
    Phase ("phase") {
        /// Detected; not yet analysed.
        Detection = "detection",
        /// Being analysed to confirm and scope it.
        Analysis = "analysis",
        /// Limiting the harm.
        Containment = "containment",
        /// Removing the root cause and evicting the adversary.
        Eradication = "eradication",
        /// Restoring services to a known secure state.
        Recovery = "recovery",
        /// Post-mortem and lessons learned.
        PostIncident = "post_incident",
        /// Done.
        Closed = "closed",
    }
);

impl Phase {
    /// Position in the process, from 0 (detection).
    pub fn index(self) -> usize {
        Phase::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }

    /// The next phase, if any.
    pub fn next(self) -> Option<Phase> {
        Phase::ALL.get(self.index() + 1).copied()
    }

    /// Whether the incident is still open (any phase but closed).
    pub fn is_open(self) -> bool {
        self != Phase::Closed
    }
}

/// What the guards look at when checking a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransitionFacts<'a> {
    /// Current phase.
    pub from: Phase,
    /// Requested phase.
    pub to: Phase,
    /// Current severity.
    pub severity: Severity,
    /// The first rating at the most severe level the incident was ever rated (the current
    /// one included): a SEV1 or SEV2 there requires a post-mortem.
    pub gravest_rating: Option<&'a SeverityChange>,
    /// Whether the current data-impact assessment makes it a data breach.
    pub data_breach: bool,
    /// The first assessment, the current one included, that found a data breach, if any did.
    pub first_breach: Option<&'a DataImpact>,
    /// Whether a root cause is recorded.
    pub root_cause_recorded: bool,
    /// Whether a post-mortem exists.
    pub post_mortem_exists: bool,
    /// Whether the post-mortem names at least one classified contributing factor.
    pub post_mortem_classified: bool,
    /// The reason given with the request, if any.
    pub reason: Option<&'a str>,
}

/// A named rule a phase transition must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Guard {
    /// The target phase must differ from the current one.
    PhaseChanges,
    /// Forward moves go one phase at a time.
    OneStepForward,
    /// Moving back needs a reason.
    ReopenReason,
    /// Recovery needs a recorded root cause.
    RootCauseBeforeRecovery,
    /// SEV1/SEV2 and data-breach incidents need a post-mortem before closing.
    PostMortemBeforeClose,
    /// That post-mortem names at least one classified contributing factor.
    PostMortemClassified,
}

impl Guard {
    /// Every guard, in the order they are checked.
    pub const ALL: &'static [Guard] = &[
        Guard::PhaseChanges,
        Guard::OneStepForward,
        Guard::ReopenReason,
        Guard::RootCauseBeforeRecovery,
        Guard::PostMortemBeforeClose,
        Guard::PostMortemClassified,
    ];

    /// The stable name, used in refusals and by API clients.
    pub fn name(self) -> &'static str {
        match self {
            Guard::PhaseChanges => "phase_changes",
            Guard::OneStepForward => "one_step_forward",
            Guard::ReopenReason => "reopen_reason",
            Guard::RootCauseBeforeRecovery => "root_cause_before_recovery",
            Guard::PostMortemBeforeClose => "post_mortem_before_close",
            Guard::PostMortemClassified => "post_mortem_classified",
        }
    }

    /// `None` when the guard lets the transition through, otherwise why not and what to do.
    pub fn check(self, f: &TransitionFacts<'_>) -> Option<String> {
        let forward = f.to.index() > f.from.index();
        match self {
            Guard::PhaseChanges => (f.from == f.to)
                .then(|| format!("the incident is already in {}; pick another phase", f.to)),
            Guard::OneStepForward => (forward && f.from.next() != Some(f.to)).then(|| {
                format!(
                    "phases move forward one at a time; move to {} first",
                    f.from.next().map(Phase::as_str).unwrap_or("none")
                )
            }),
            Guard::ReopenReason => (f.to.index() < f.from.index()
                && f.reason.is_none_or(|r| r.trim().is_empty()))
            .then(|| format!("moving back from {} to {} reopens work; give a reason", f.from, f.to)),
            Guard::RootCauseBeforeRecovery => (f.to == Phase::Recovery && !f.root_cause_recorded)
                .then(|| {
                    "recovery needs eradication confirmed with a root cause; record the root cause first"
                        .to_owned()
                }),
            Guard::PostMortemBeforeClose => {
                if f.to != Phase::Closed || f.post_mortem_exists {
                    return None;
                }
                post_mortem_grounds(f).map(|(grounds, past)| {
                    format!(
                        "{grounds}; an incident rated SEV1 or SEV2 or assessed as a data breach at any point of its life needs a post-mortem before it is closed; write the post-mortem first{}",
                        if past {
                            " (if that rating or assessment was a mistake, the post-mortem is where to say so)"
                        } else {
                            ""
                        }
                    )
                })
            }
            Guard::PostMortemClassified => {
                if f.to != Phase::Closed || !f.post_mortem_exists || f.post_mortem_classified {
                    return None;
                }
                post_mortem_grounds(f).map(|(grounds, _)| {
                    format!(
                        "{grounds}, so its post-mortem must name what contributed; record the post-mortem again with at least one contributing factor (technical_lapse, procedural_failure, manual_error, process_flaw, or other — `other` when nothing lapsed, such as a rating that was a mistake)"
                    )
                })
            }
        }
    }
}

/// What makes a post-mortem needed before closing, in words ("rated SEV1 by alice at … (now
/// SEV4)"), and whether any of it is past (the severity lowered, the assessment cleared since);
/// `None` when nothing does.
pub(crate) fn post_mortem_grounds(f: &TransitionFacts<'_>) -> Option<(String, bool)> {
    let when = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut grounds = Vec::new();
    let mut past = false;
    // The current severity counts even if the history were missing it.
    let rating = f.gravest_rating.filter(|r| r.to <= Severity::Sev2);
    match rating {
        Some(r) => {
            let mut s = format!("rated {} by {} at {}", r.to, r.actor, when(r.at));
            if f.severity != r.to {
                s.push_str(&format!(" (now {})", f.severity));
                past |= f.severity > Severity::Sev2;
            }
            grounds.push(s);
        }
        None if f.severity <= Severity::Sev2 => grounds.push(format!("rated {}", f.severity)),
        None => {}
    }
    match f.first_breach {
        Some(d) => {
            let mut s = format!("assessed as a data breach ({})", d.describe());
            if let Some(by) = &d.assessed_by {
                s.push_str(&format!(" by {by}"));
            }
            if let Some(at) = d.assessed_at {
                s.push_str(&format!(" at {}", when(at)));
            }
            if !f.data_breach {
                s.push_str(" (no longer assessed so)");
                past = true;
            }
            grounds.push(s);
        }
        None if f.data_breach => grounds.push("assessed as a data breach".to_owned()),
        None => {}
    }
    (!grounds.is_empty()).then(|| (format!("it was {}", grounds.join(" and ")), past))
}

/// Runs every guard; `Ok` when none refuses, otherwise all refusals.
pub fn check_transition(f: &TransitionFacts<'_>) -> Result<(), DomainError> {
    let refusals: Vec<GuardRefusal> = Guard::ALL
        .iter()
        .filter_map(|g| {
            g.check(f).map(|reason| GuardRefusal {
                guard: g.name().to_owned(),
                reason,
            })
        })
        .collect();
    if refusals.is_empty() {
        Ok(())
    } else {
        Err(DomainError::TransitionRefused(refusals))
    }
}

/// One recorded phase change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhaseChange {
    /// Phase before.
    pub from: Phase,
    /// Phase after.
    pub to: Phase,
    /// Who moved it.
    pub actor: String,
    /// Why (required when moving back).
    pub reason: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(from: Phase, to: Phase) -> TransitionFacts<'static> {
        TransitionFacts {
            from,
            to,
            severity: Severity::Sev3,
            gravest_rating: None,
            data_breach: false,
            first_breach: None,
            root_cause_recorded: true,
            post_mortem_exists: false,
            post_mortem_classified: false,
            reason: None,
        }
    }

    fn refused(f: &TransitionFacts<'_>) -> Vec<String> {
        match check_transition(f) {
            Ok(()) => vec![],
            Err(DomainError::TransitionRefused(r)) => r.into_iter().map(|r| r.guard).collect(),
            Err(e) => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn each_forward_step_passes() {
        for w in Phase::ALL.windows(2) {
            assert!(
                refused(&facts(w[0], w[1])).is_empty(),
                "{} -> {}",
                w[0],
                w[1]
            );
        }
    }

    #[test]
    fn skipping_and_staying_refused() {
        assert_eq!(
            refused(&facts(Phase::Detection, Phase::Containment)),
            ["one_step_forward"]
        );
        assert_eq!(
            refused(&facts(Phase::Analysis, Phase::Analysis)),
            ["phase_changes"]
        );
    }

    #[test]
    fn reopening_needs_reason() {
        assert_eq!(
            refused(&facts(Phase::Closed, Phase::Analysis)),
            ["reopen_reason"]
        );
        let with = TransitionFacts {
            reason: Some("new IOC found"),
            ..facts(Phase::Closed, Phase::Analysis)
        };
        assert!(refused(&with).is_empty());
        let blank = TransitionFacts {
            reason: Some("  "),
            ..facts(Phase::Recovery, Phase::Containment)
        };
        assert_eq!(refused(&blank), ["reopen_reason"]);
    }

    #[test]
    fn recovery_needs_root_cause() {
        let f = TransitionFacts {
            root_cause_recorded: false,
            ..facts(Phase::Eradication, Phase::Recovery)
        };
        assert_eq!(refused(&f), ["root_cause_before_recovery"]);
    }

    /// (severity, data breach, post-mortem: none / a summary only / classified, refusing guard)
    #[test]
    fn close_needs_a_classified_post_mortem_for_sev1_sev2_and_breaches() {
        use Pm::*;
        #[derive(Debug, Clone, Copy)]
        enum Pm {
            Missing,
            SummaryOnly,
            Classified,
        }
        let cases: [(Severity, bool, Pm, &[&str]); 10] = [
            (
                Severity::Sev1,
                false,
                Missing,
                &["post_mortem_before_close"],
            ),
            (
                Severity::Sev2,
                false,
                Missing,
                &["post_mortem_before_close"],
            ),
            (Severity::Sev3, true, Missing, &["post_mortem_before_close"]),
            (Severity::Sev3, false, Missing, &[]),
            (Severity::Sev4, false, Missing, &[]),
            (
                Severity::Sev1,
                false,
                SummaryOnly,
                &["post_mortem_classified"],
            ),
            (
                Severity::Sev3,
                true,
                SummaryOnly,
                &["post_mortem_classified"],
            ),
            (Severity::Sev3, false, SummaryOnly, &[]),
            (Severity::Sev1, true, Classified, &[]),
            (Severity::Sev4, false, Classified, &[]),
        ];
        for (sev, breach, pm, want) in cases {
            let f = TransitionFacts {
                severity: sev,
                data_breach: breach,
                post_mortem_exists: !matches!(pm, Missing),
                post_mortem_classified: matches!(pm, Classified),
                ..facts(Phase::PostIncident, Phase::Closed)
            };
            assert_eq!(refused(&f), want, "{sev} breach={breach} pm={pm:?}");
        }
    }

    fn at(h: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 3, 1, h, 0, 0).unwrap()
    }

    #[test]
    fn a_past_sev1_or_breach_still_needs_a_post_mortem_and_the_refusal_says_which() {
        let sev1 = SeverityChange::preliminary(Severity::Sev1, "alice", None, at(1));
        let f = TransitionFacts {
            severity: Severity::Sev4,
            gravest_rating: Some(&sev1),
            ..facts(Phase::PostIncident, Phase::Closed)
        };
        let Err(DomainError::TransitionRefused(r)) = check_transition(&f) else {
            panic!("a SEV1 lowered to SEV4 closed without a post-mortem");
        };
        assert_eq!(r[0].guard, "post_mortem_before_close");
        assert!(
            r[0].reason
                .starts_with("it was rated SEV1 by alice at 2026-03-01T01:00:00Z (now SEV4);"),
            "{}",
            r[0].reason
        );
        assert!(r[0].reason.contains("mistake"), "{}", r[0].reason);

        let breach = DataImpact {
            customer_data: true,
            destroyed: true,
            assessed_by: Some("bob".into()),
            assessed_at: Some(at(2)),
            ..DataImpact::default()
        };
        let sev3 = SeverityChange::preliminary(Severity::Sev3, "alice", None, at(1));
        let f = TransitionFacts {
            gravest_rating: Some(&sev3),
            first_breach: Some(&breach),
            ..facts(Phase::PostIncident, Phase::Closed)
        };
        let Err(DomainError::TransitionRefused(r)) = check_transition(&f) else {
            panic!("an incident once assessed as a breach closed without a post-mortem");
        };
        assert!(
            r[0].reason.starts_with(
                "it was assessed as a data breach (customer data destroyed) by bob at 2026-03-01T02:00:00Z (no longer assessed so);"
            ),
            "{}",
            r[0].reason
        );
        // A SEV3 all along, never a breach: nothing to review.
        let f = TransitionFacts {
            gravest_rating: Some(&sev3),
            ..facts(Phase::PostIncident, Phase::Closed)
        };
        assert!(refused(&f).is_empty());
    }

    #[test]
    fn every_refusing_guard_is_listed() {
        let f = TransitionFacts {
            root_cause_recorded: false,
            ..facts(Phase::Detection, Phase::Recovery)
        };
        assert_eq!(
            refused(&f),
            ["one_step_forward", "root_cause_before_recovery"]
        );
        let names: Vec<_> = Guard::ALL.iter().map(|g| g.name()).collect();
        assert_eq!(names.len(), 6);
    }
}
