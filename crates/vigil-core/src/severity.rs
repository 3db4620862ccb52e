//! Severity (SEV1 critical … SEV4 low), the priority derived from potential impact, and the
//! record of every severity and priority change.
//!
//! The seed: an incident is escalated "with a preliminary severity rating" and the response team
//! adjusts it "if needed". The first [`SeverityChange`] (with `from: None`) is that preliminary
//! rating; every later change must give a reason.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// How bad an incident is. SEV1 is the worst. Parses `SEV1`, `sev1`, `1` and `critical`;
/// serialises as `SEV1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Severity {
    /// Critical.
    #[serde(rename = "SEV1")]
    Sev1,
    /// High.
    #[serde(rename = "SEV2")]
    Sev2,
    /// Medium.
    #[serde(rename = "SEV3")]
    Sev3,
    /// Low.
    #[serde(rename = "SEV4")]
    Sev4,
}

/// Accepts every spelling [`Severity::parse`] accepts (`SEV1`, `sev1`, `1`, `critical`).
impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Severity::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Severity {
    /// Every severity, worst first.
    pub const ALL: &'static [Severity] = &[
        Severity::Sev1,
        Severity::Sev2,
        Severity::Sev3,
        Severity::Sev4,
    ];

    /// `SEV1` … `SEV4`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Sev1 => "SEV1",
            Severity::Sev2 => "SEV2",
            Severity::Sev3 => "SEV3",
            Severity::Sev4 => "SEV4",
        }
    }

    /// 1 for SEV1 … 4 for SEV4.
    pub fn level(self) -> u8 {
        match self {
            Severity::Sev1 => 1,
            Severity::Sev2 => 2,
            Severity::Sev3 => 3,
            Severity::Sev4 => 4,
        }
    }

    /// The word: critical, high, medium, low.
    pub fn word(self) -> &'static str {
        match self {
            Severity::Sev1 => "critical",
            Severity::Sev2 => "high",
            Severity::Sev3 => "medium",
            Severity::Sev4 => "low",
        }
    }

    /// Parses `SEV1`/`sev1`/`1`/`critical` (and likewise for 2–4: high, medium, low): the
    /// level or the word, in any case, the level or word optionally after `sev`, with spaces
    /// around it. [`Severity::input_pattern`] says the same as a regular expression.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let t = s.trim().to_ascii_lowercase();
        let name = t.strip_prefix(PREFIX).unwrap_or(&t);
        let found = Severity::ALL
            .iter()
            .copied()
            .find(|sev| name == sev.level().to_string() || name == sev.word());
        found.ok_or_else(|| {
            DomainError::invalid(
                "severity",
                format!("{s:?} is not a severity; use SEV1 (critical), SEV2 (high), SEV3 (medium) or SEV4 (low)"),
            )
        })
    }
}

/// What may stand before a severity's level or word (`SEV1`, `sev critical` is not one).
const PREFIX: &str = "sev";

impl Severity {
    /// Every spelling [`Severity::parse`] reads, as a regular expression in the syntax JSON
    /// Schema's `pattern` uses (ECMA-262; the `regex` crate reads it the same), built from the
    /// same levels and words: the request schemas of the OpenAPI document say with it what the
    /// server takes, where the answers' `Severity` lists only `SEV1`–`SEV4`.
    pub fn input_pattern() -> String {
        // Letters in either case; the pattern has no flags.
        let any_case = |word: &str| -> String {
            word.chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() {
                        format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        };
        let names: Vec<String> = Severity::ALL
            .iter()
            .flat_map(|sev| [sev.level().to_string(), any_case(sev.word())])
            .collect();
        format!(r"^\s*(?:{})?(?:{})\s*$", any_case(PREFIX), names.join("|"))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Self::parse(s)
    }
}

wire_enum!(
    /// How soon the incident is worked, derived from its potential impact by [`derive_priority`]
    /// (never typed in). P1 is the most urgent.
    Priority ("priority") {
        /// Drop everything, around the clock.
        P1 = "P1",
        /// Same day.
        P2 = "P2",
        /// This week.
        P3 = "P3",
        /// When capacity allows.
        P4 = "P4",
    }
);

impl Priority {
    fn from_level(level: u8) -> Priority {
        match level {
            0 | 1 => Priority::P1,
            2 => Priority::P2,
            3 => Priority::P3,
            _ => Priority::P4,
        }
    }
}

/// The inputs of [`derive_priority`]: what the incident could harm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImpactFactors {
    /// The current severity.
    pub severity: Severity,
    /// Customer or personal data was disclosed, modified or destroyed
    /// ([`crate::DataImpact::requires_notification`]).
    pub data_breach: bool,
    /// How many services are impacted.
    pub services: usize,
    /// How many tenants are impacted.
    pub tenants: usize,
    /// Whether a customer-facing service is impacted.
    pub customer_facing: bool,
}

/// Services at or above which the blast radius counts as wide.
pub const WIDE_SERVICES: usize = 3;
/// Tenants at or above which the blast radius counts as wide.
pub const WIDE_TENANTS: usize = 10;

/// Derives the priority from potential impact.
///
/// Start at the severity's level (SEV1 → P1 … SEV4 → P4), then raise the priority by one level for
/// each aggravating factor, at most two levels in all and never above P1:
/// 1. a data breach (customer or personal data disclosed, modified or destroyed — the seed's
///    notification trigger);
/// 2. a wide blast radius: at least [`WIDE_SERVICES`] services or [`WIDE_TENANTS`] tenants;
/// 3. a customer-facing service impacted.
///
/// The cap keeps a low-severity incident from being treated like a critical one on breadth alone:
/// a SEV4 reaches at most P2. Severity is the team's judgement; priority adds what is at stake.
pub fn derive_priority(f: ImpactFactors) -> Priority {
    let raises = [
        f.data_breach,
        f.services >= WIDE_SERVICES || f.tenants >= WIDE_TENANTS,
        f.customer_facing,
    ]
    .iter()
    .filter(|b| **b)
    .count()
    .min(2) as u8;
    Priority::from_level(f.severity.level().saturating_sub(raises))
}

/// One severity rating: the preliminary one (`from: None`) or a later adjustment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeverityChange {
    /// The severity before; `None` for the preliminary rating.
    pub from: Option<Severity>,
    /// The severity after.
    pub to: Severity,
    /// Who rated it.
    pub actor: String,
    /// Why. Required for every change after the preliminary rating.
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl SeverityChange {
    /// The preliminary rating; the reason may be blank (it is then recorded as
    /// "preliminary rating").
    pub fn preliminary(to: Severity, actor: &str, reason: Option<&str>, at: DateTime<Utc>) -> Self {
        let reason = reason
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or("preliminary rating");
        SeverityChange {
            from: None,
            to,
            actor: actor.to_owned(),
            reason: reason.to_owned(),
            at,
        }
    }

    /// An adjustment from `from` to `to`; the reason is required and the severity must change.
    pub fn adjust(
        from: Severity,
        to: Severity,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(DomainError::invalid(
                "reason",
                "a severity change after the preliminary rating needs a reason; say why it changes",
            ));
        }
        crate::reason_length("reason", reason)?;
        if from == to {
            return Err(DomainError::invalid(
                "severity",
                format!("the incident is already {to}; pick a different severity"),
            ));
        }
        Ok(SeverityChange {
            from: Some(from),
            to,
            actor: actor.to_owned(),
            reason: reason.to_owned(),
            at,
        })
    }
}

/// A change of the derived priority: no one sets it, so what moved it (a severity change, a
/// data-impact assessment, the services in scope) is recorded with who made that change, to
/// answer "why is this P1, and since when".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PriorityChange {
    /// The priority before.
    pub from: Priority,
    /// The priority after.
    pub to: Priority,
    /// Who made the change that moved it.
    pub actor: String,
    /// What changed that moved it ("data impact assessed: personal data disclosed").
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_parses_every_spelling() {
        for (s, want) in [
            ("SEV1", Severity::Sev1),
            ("sev1", Severity::Sev1),
            ("1", Severity::Sev1),
            ("critical", Severity::Sev1),
            ("High", Severity::Sev2),
            (" sev3 ", Severity::Sev3),
            ("low", Severity::Sev4),
            ("4", Severity::Sev4),
        ] {
            assert_eq!(Severity::parse(s).unwrap(), want, "{s}");
        }
        for bad in ["", "sev5", "0", "urgent", "sev"] {
            assert_eq!(Severity::parse(bad).unwrap_err().field(), Some("severity"));
        }
        assert_eq!(serde_json::to_string(&Severity::Sev2).unwrap(), "\"SEV2\"");
        assert_eq!(
            serde_json::from_str::<Severity>("\"sev2\"").unwrap(),
            Severity::Sev2
        );
    }

    #[test]
    fn the_input_pattern_spells_the_levels_and_words() {
        assert_eq!(
            Severity::input_pattern(),
            r"^\s*(?:[Ss][Ee][Vv])?(?:1|[Cc][Rr][Ii][Tt][Ii][Cc][Aa][Ll]|2|[Hh][Ii][Gg][Hh]|3|[Mm][Ee][Dd][Ii][Uu][Mm]|4|[Ll][Oo][Ww])\s*$"
        );
    }

    fn f(severity: Severity) -> ImpactFactors {
        ImpactFactors {
            severity,
            data_breach: false,
            services: 1,
            tenants: 0,
            customer_facing: false,
        }
    }

    #[test]
    fn priority_follows_severity_without_aggravation() {
        assert_eq!(derive_priority(f(Severity::Sev1)), Priority::P1);
        assert_eq!(derive_priority(f(Severity::Sev2)), Priority::P2);
        assert_eq!(derive_priority(f(Severity::Sev3)), Priority::P3);
        assert_eq!(derive_priority(f(Severity::Sev4)), Priority::P4);
    }

    #[test]
    fn each_factor_raises_one_level_capped_at_two() {
        let breach = ImpactFactors {
            data_breach: true,
            ..f(Severity::Sev3)
        };
        assert_eq!(derive_priority(breach), Priority::P2);
        let wide = ImpactFactors {
            services: 3,
            ..f(Severity::Sev3)
        };
        assert_eq!(derive_priority(wide), Priority::P2);
        let tenants = ImpactFactors {
            tenants: 10,
            ..f(Severity::Sev3)
        };
        assert_eq!(derive_priority(tenants), Priority::P2);
        let narrow = ImpactFactors {
            services: 2,
            tenants: 9,
            ..f(Severity::Sev3)
        };
        assert_eq!(derive_priority(narrow), Priority::P3);
        let facing = ImpactFactors {
            customer_facing: true,
            ..f(Severity::Sev4)
        };
        assert_eq!(derive_priority(facing), Priority::P3);
        let all = ImpactFactors {
            data_breach: true,
            services: 5,
            customer_facing: true,
            ..f(Severity::Sev4)
        };
        assert_eq!(derive_priority(all), Priority::P2, "capped at two raises");
        let top = ImpactFactors {
            data_breach: true,
            customer_facing: true,
            ..f(Severity::Sev1)
        };
        assert_eq!(derive_priority(top), Priority::P1, "never above P1");
    }

    #[test]
    fn adjustment_needs_reason_and_a_change() {
        let at = Utc::now();
        let e =
            SeverityChange::adjust(Severity::Sev3, Severity::Sev1, "ann", "  ", at).unwrap_err();
        assert_eq!(e.field(), Some("reason"));
        let e =
            SeverityChange::adjust(Severity::Sev3, Severity::Sev3, "ann", "why", at).unwrap_err();
        assert_eq!(e.field(), Some("severity"));
        let c = SeverityChange::adjust(Severity::Sev3, Severity::Sev1, "ann", " exfil seen ", at)
            .unwrap();
        assert_eq!(
            (c.from, c.to, c.reason.as_str()),
            (Some(Severity::Sev3), Severity::Sev1, "exfil seen")
        );
        let p = SeverityChange::preliminary(Severity::Sev2, "bot", None, at);
        assert_eq!((p.from, p.reason.as_str()), (None, "preliminary rating"));
    }

    #[test]
    fn priority_parses() {
        assert_eq!(Priority::parse("p2").unwrap(), Priority::P2);
        assert_eq!(Priority::parse("P9").unwrap_err().field(), Some("priority"));
    }
}
