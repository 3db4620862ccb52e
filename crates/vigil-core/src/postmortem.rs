//! The post-mortem: what the seed's "Post-Incident Activity" asks a full post-mortem to
//! identify. The root cause is the incident's own (`Incident::root_cause`, set by the recovery
//! guard's step or by the post-mortem), and whether the incident touched customers or was a data
//! breach is the incident's too; the post-mortem adds the contributing factors, each classified
//! as one of the seed's kinds, who took part, what went well and badly in the response, and the
//! detection improvements decided. Written only in phase post_incident; a replaced version is
//! kept in `Incident::post_mortem_history`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::incident::{MAX_NAME, MAX_TEXT};

/// Most entries in one of a post-mortem's lists: enough for any review, few enough that one
/// request cannot make every read of the incident large.
pub const MAX_ENTRIES: usize = 100;

wire_enum!(
    /// The seed's classification of what contributed to an incident or hampered its response
    /// ("technical lapses, procedural failures, manual errors, and other process flaws").
    FactorKind("contributing_factors") {
        /// A technical lapse: a missing control, a misconfiguration, an unpatched system.
        TechnicalLapse = "technical_lapse",
        /// A procedure that exists was not followed or failed.
        ProceduralFailure = "procedural_failure",
        /// A person's mistake.
        ManualError = "manual_error",
        /// A flaw in the process itself: a step missing, a hand-off nobody owned.
        ProcessFlaw = "process_flaw",
        /// Anything else, said in the description (a rating found to be a mistake included).
        Other = "other",
    }
);

wire_enum!(
    /// The part a participant of the review played: the seed asks for product-group subject
    /// matter experts and security and privacy experts besides the responders.
    ParticipantRole("participants") {
        /// Took part in the response.
        Responder = "responder",
        /// A subject matter expert of the product group.
        ProductGroupSme = "product_group_sme",
        /// A security expert.
        SecurityExpert = "security_expert",
        /// A privacy expert.
        PrivacyExpert = "privacy_expert",
        /// Anyone else consulted.
        Other = "other",
    }
);

/// One thing that contributed to the incident or was identified during its response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ContributingFactor {
    /// Its classification.
    pub kind: FactorKind,
    /// What it was.
    pub description: String,
}

/// A person or team who took part in the review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Participant {
    /// Their name (a person or a team); not checked against the organisation document, since
    /// experts consulted are often outside the on-call organisation.
    pub name: String,
    /// The part they played.
    pub role: ParticipantRole,
    /// Their team or product group, when useful.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

/// New or changed automated monitoring and detection decided in the review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DetectionImprovement {
    /// What is to be monitored or detected, and how.
    pub description: String,
    /// The ids (UUIDs, the Sigma `id` field) of the Sigma rules that implement it, when written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sigma_rules: Vec<String>,
}

/// The post-mortem as given by a caller; [`PostMortem::new`] checks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPostMortem {
    /// Summary of the review.
    pub summary: String,
    /// The root cause found by the deep analysis; sets the incident's root cause (the field the
    /// recovery guard reads) when given, left as it is when absent.
    #[serde(default)]
    pub root_cause: Option<String>,
    /// What contributed to the incident or hampered the response, each classified.
    #[serde(default)]
    pub contributing_factors: Vec<ContributingFactor>,
    /// Who took part: responders, product-group experts, security and privacy experts.
    #[serde(default)]
    pub participants: Vec<Participant>,
    /// What went well in the response.
    #[serde(default)]
    pub went_well: Vec<String>,
    /// What did not go well in the response.
    #[serde(default)]
    pub went_badly: Vec<String>,
    /// New or changed automated monitoring and detection decided.
    #[serde(default)]
    pub detection_improvements: Vec<DetectionImprovement>,
}

impl NewPostMortem {
    /// A post-mortem with a summary and nothing else, as earlier versions recorded them.
    pub fn summary(summary: impl Into<String>) -> Self {
        NewPostMortem {
            summary: summary.into(),
            root_cause: None,
            contributing_factors: Vec::new(),
            participants: Vec::new(),
            went_well: Vec::new(),
            went_badly: Vec::new(),
            detection_improvements: Vec::new(),
        }
    }
}

/// The post-mortem of an incident. Every list is empty in a post-mortem recorded before they
/// existed (a summary only), and is left out of the stored form when empty, so that such a
/// record reads, and hashes in the audit trail, as it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PostMortem {
    /// Summary of the review.
    pub summary: String,
    /// What contributed, each classified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contributing_factors: Vec<ContributingFactor>,
    /// Who took part.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<Participant>,
    /// What went well in the response.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub went_well: Vec<String>,
    /// What did not go well in the response.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub went_badly: Vec<String>,
    /// Detection improvements decided.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detection_improvements: Vec<DetectionImprovement>,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: DateTime<Utc>,
}

fn long_text(field: &'static str, i: usize, v: &str) -> Result<String, DomainError> {
    let entry = |reason: String| DomainError::invalid(field, format!("entry {i}: {reason}"));
    let t = crate::required_text(field, v).map_err(|e| entry(reason_of(e)))?;
    if t.chars().count() > MAX_TEXT {
        return Err(entry(format!(
            "longer than {MAX_TEXT} characters; shorten it"
        )));
    }
    Ok(t)
}

fn line(field: &'static str, i: usize, v: &str) -> Result<String, DomainError> {
    let entry = |reason: String| DomainError::invalid(field, format!("entry {i}: {reason}"));
    let t = crate::required_line(field, v).map_err(|e| entry(reason_of(e)))?;
    crate::single_line(field, &t, MAX_NAME).map_err(|e| entry(reason_of(e)))?;
    Ok(t)
}

fn reason_of(e: DomainError) -> String {
    match e {
        DomainError::InvalidField { reason, .. } => reason,
        other => other.to_string(),
    }
}

fn at_most<T>(field: &'static str, v: &[T]) -> Result<(), DomainError> {
    if v.len() > MAX_ENTRIES {
        return Err(DomainError::invalid(
            field,
            format!(
                "{} entries, at most {MAX_ENTRIES} are kept; merge some",
                v.len()
            ),
        ));
    }
    Ok(())
}

/// A Sigma rule id as the Sigma specification writes it: a UUID, lower case.
fn sigma_id(i: usize, v: &str) -> Result<String, DomainError> {
    uuid::Uuid::parse_str(v.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| {
            DomainError::invalid(
                "detection_improvements",
                format!(
                    "entry {i}: sigma rule {v:?} is not a Sigma rule id; give the rule's `id` (a UUID)"
                ),
            )
        })
}

impl PostMortem {
    /// Checks `new` and makes the post-mortem `actor` records at `at`; the first entry at fault
    /// is named by its list and place. `new.root_cause` is the incident's and is not read here.
    pub fn new(new: &NewPostMortem, actor: &str, at: DateTime<Utc>) -> Result<Self, DomainError> {
        let summary = crate::required_text("summary", &new.summary)?;
        if summary.chars().count() > MAX_TEXT {
            return Err(DomainError::invalid(
                "summary",
                format!("longer than {MAX_TEXT} characters; shorten it"),
            ));
        }
        at_most("contributing_factors", &new.contributing_factors)?;
        at_most("participants", &new.participants)?;
        at_most("went_well", &new.went_well)?;
        at_most("went_badly", &new.went_badly)?;
        at_most("detection_improvements", &new.detection_improvements)?;
        let contributing_factors = new
            .contributing_factors
            .iter()
            .enumerate()
            .map(|(i, f)| {
                Ok(ContributingFactor {
                    kind: f.kind,
                    description: long_text("contributing_factors", i, &f.description)?,
                })
            })
            .collect::<Result<_, DomainError>>()?;
        let mut participants: Vec<Participant> = Vec::new();
        for (i, p) in new.participants.iter().enumerate() {
            let team = match p.team.as_deref().map(str::trim) {
                Some(t) if !t.is_empty() => Some(line("participants", i, t)?),
                _ => None,
            };
            let p = Participant {
                name: line("participants", i, &p.name)?,
                role: p.role,
                team,
            };
            if !participants.contains(&p) {
                participants.push(p);
            }
        }
        let texts = |field: &'static str, v: &[String]| -> Result<Vec<String>, DomainError> {
            v.iter()
                .enumerate()
                .map(|(i, t)| long_text(field, i, t))
                .collect()
        };
        let detection_improvements = new
            .detection_improvements
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let mut sigma_rules: Vec<String> = Vec::new();
                for r in &d.sigma_rules {
                    let id = sigma_id(i, r)?;
                    if !sigma_rules.contains(&id) {
                        sigma_rules.push(id);
                    }
                }
                Ok(DetectionImprovement {
                    description: long_text("detection_improvements", i, &d.description)?,
                    sigma_rules,
                })
            })
            .collect::<Result<_, DomainError>>()?;
        Ok(PostMortem {
            summary,
            contributing_factors,
            participants,
            went_well: texts("went_well", &new.went_well)?,
            went_badly: texts("went_badly", &new.went_badly)?,
            detection_improvements,
            recorded_by: actor.to_owned(),
            recorded_at: at,
        })
    }

    /// Whether it names at least one contributing factor (every factor carries a kind).
    pub fn is_classified(&self) -> bool {
        !self.contributing_factors.is_empty()
    }

    /// The post-mortem in a few words for the incident's action log: what it holds, counted,
    /// with the factors' kinds ("3 contributing factors (technical lapse ×2, process flaw), 2
    /// participants, 1 detection improvement").
    pub fn outline(&self) -> String {
        let count =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut kinds: Vec<(FactorKind, usize)> = Vec::new();
        for f in &self.contributing_factors {
            match kinds.iter_mut().find(|(k, _)| *k == f.kind) {
                Some((_, n)) => *n += 1,
                None => kinds.push((f.kind, 1)),
            }
        }
        kinds.sort();
        let mut factors = count(
            self.contributing_factors.len(),
            "contributing factor",
            "contributing factors",
        );
        if !kinds.is_empty() {
            let named: Vec<String> = kinds
                .iter()
                .map(|(k, n)| {
                    let k = k.as_str().replace('_', " ");
                    if *n == 1 { k } else { format!("{k} ×{n}") }
                })
                .collect();
            factors.push_str(&format!(" ({})", named.join(", ")));
        }
        [
            factors,
            count(self.participants.len(), "participant", "participants"),
            count(
                self.went_well.len() + self.went_badly.len(),
                "response observation",
                "response observations",
            ),
            count(
                self.detection_improvements.len(),
                "detection improvement",
                "detection improvements",
            ),
        ]
        .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn full() -> NewPostMortem {
        NewPostMortem {
            summary: "  phished admin  ".into(),
            root_cause: None,
            contributing_factors: vec![
                ContributingFactor {
                    kind: FactorKind::TechnicalLapse,
                    description: "no phishing-resistant MFA".into(),
                },
                ContributingFactor {
                    kind: FactorKind::ProcessFlaw,
                    description: "no owner for the mail gateway".into(),
                },
                ContributingFactor {
                    kind: FactorKind::TechnicalLapse,
                    description: "legacy auth left on".into(),
                },
            ],
            participants: vec![
                Participant {
                    name: "ann".into(),
                    role: ParticipantRole::Responder,
                    team: Some(" ".into()),
                },
                Participant {
                    name: "ann".into(),
                    role: ParticipantRole::Responder,
                    team: None,
                },
                Participant {
                    name: "priya".into(),
                    role: ParticipantRole::PrivacyExpert,
                    team: Some("privacy office".into()),
                },
            ],
            went_well: vec!["paged in 2 minutes".into()],
            went_badly: vec!["no runbook for token revocation".into()],
            detection_improvements: vec![DetectionImprovement {
                description: "alert on MFA fatigue".into(),
                sigma_rules: vec![
                    "5AF54681-DF95-4C26-854F-2565E13CFAB0".into(),
                    "5af54681-df95-4c26-854f-2565e13cfab0".into(),
                ],
            }],
        }
    }

    #[test]
    fn a_full_post_mortem_is_trimmed_deduplicated_and_outlined() {
        let pm = PostMortem::new(&full(), "rita", at()).unwrap();
        assert_eq!(pm.summary, "phished admin");
        assert_eq!(
            pm.participants.len(),
            2,
            "the same participant twice is one"
        );
        assert_eq!(pm.participants[0].team, None, "a blank team is none");
        assert_eq!(
            pm.detection_improvements[0].sigma_rules,
            ["5af54681-df95-4c26-854f-2565e13cfab0"]
        );
        assert!(pm.is_classified());
        assert_eq!(
            pm.outline(),
            "3 contributing factors (technical lapse ×2, process flaw), 2 participants, \
             2 response observations, 1 detection improvement"
        );
    }

    #[test]
    fn each_bad_entry_is_named_by_its_list_and_place() {
        type Spoil = fn(&mut NewPostMortem);
        let cases: [(&str, Spoil, &str); 7] = [
            ("summary", |p| p.summary = " ".into(), "must not be empty"),
            (
                "contributing_factors",
                |p| p.contributing_factors[1].description = "".into(),
                "entry 1",
            ),
            (
                "participants",
                |p| p.participants[2].name = "a\nb".into(),
                "entry 2",
            ),
            ("went_well", |p| p.went_well[0] = "\t".into(), "entry 0"),
            (
                "went_badly",
                |p| p.went_badly = vec!["x".into(); MAX_ENTRIES + 1],
                "at most",
            ),
            (
                "detection_improvements",
                |p| p.detection_improvements[0].sigma_rules[0] = "not-a-uuid".into(),
                "Sigma rule id",
            ),
            (
                "detection_improvements",
                |p| p.detection_improvements[0].description = "".into(),
                "entry 0",
            ),
        ];
        for (field, spoil, says) in cases {
            let mut p = full();
            spoil(&mut p);
            let err = PostMortem::new(&p, "rita", at()).unwrap_err();
            assert_eq!(err.field(), Some(field), "{err}");
            assert!(err.to_string().contains(says), "{field}: {err}");
        }
    }

    #[test]
    fn a_summary_only_post_mortem_reads_and_writes_as_before() {
        let stored = r#"{"summary":"s","recorded_by":"rita","recorded_at":"2026-01-01T00:00:00Z"}"#;
        let pm: PostMortem = serde_json::from_str(stored).unwrap();
        assert!(!pm.is_classified());
        assert_eq!(
            serde_json::to_value(&pm).unwrap(),
            serde_json::from_str::<serde_json::Value>(stored).unwrap()
        );
        assert_eq!(
            pm.outline(),
            "0 contributing factors, 0 participants, 0 response observations, 0 detection improvements"
        );
    }

    #[test]
    fn kinds_read_as_the_seed_words_them() {
        for (text, kind) in [
            ("technical-lapse", FactorKind::TechnicalLapse),
            ("Procedural_Failure", FactorKind::ProceduralFailure),
            ("manual error", FactorKind::ManualError),
            ("process_flaw", FactorKind::ProcessFlaw),
        ] {
            assert_eq!(FactorKind::parse(&text.replace(' ', "_")).unwrap(), kind);
        }
        let err = FactorKind::parse("bad luck").unwrap_err();
        assert_eq!(err.field(), Some("contributing_factors"));
    }
}
