//! The data-impact assessment: was customer or personal data disclosed, modified or destroyed?
//! The seed makes that the trigger of the security notification process.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// What the incident did to customer or personal data, as assessed by the response team.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DataImpact {
    /// Customer data is affected.
    #[serde(default)]
    pub customer_data: bool,
    /// Personal data is affected.
    #[serde(default)]
    pub personal_data: bool,
    /// The data was disclosed to someone not allowed to see it.
    #[serde(default)]
    pub disclosed: bool,
    /// The data was altered.
    #[serde(default)]
    pub modified: bool,
    /// The data was destroyed or lost.
    #[serde(default)]
    pub destroyed: bool,
    /// Free-text notes on the assessment.
    #[serde(default)]
    pub notes: Option<String>,
    /// Who made the assessment (set by the store from the caller).
    #[serde(default)]
    pub assessed_by: Option<String>,
    /// When (set by the store).
    #[serde(default)]
    pub assessed_at: Option<DateTime<Utc>>,
}

/// A change to the data-impact assessment, as given by a caller: the flags given change,
/// those left out keep their current value, and the server applies it to the assessment as
/// it stands when the change is written. Two responders recording different facts at once
/// (one "customer data", the other "destroyed") both keep theirs; nothing is read, merged
/// and sent back by a client, which could lose a flag written meanwhile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DataImpactPatch {
    /// Customer data is affected; absent: unchanged.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flag"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub customer_data: Option<bool>,
    /// Personal data is affected; absent: unchanged.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flag"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub personal_data: Option<bool>,
    /// The data was disclosed; absent: unchanged.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flag"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub disclosed: Option<bool>,
    /// The data was altered; absent: unchanged.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flag"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub modified: Option<bool>,
    /// The data was destroyed or lost; absent: unchanged.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flag"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub destroyed: Option<bool>,
    /// Notes on the assessment; `null` or blank clears them, absent leaves them.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "notes"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, nullable))]
    pub notes: Option<Option<String>>,
    /// Ignored: the server records who made the assessment. Accepted so that an assessment
    /// read back can be sent as it is.
    #[serde(default, skip_serializing)]
    pub assessed_by: Option<String>,
    /// Ignored: the server records when.
    #[serde(default, skip_serializing)]
    pub assessed_at: Option<DateTime<Utc>>,
}

/// A flag that is present must be `true` or `false`: `null` is refused rather than read as
/// absent, so a flag meant to be cleared is never left set.
fn flag<'de, D>(d: D) -> Result<Option<bool>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    match Option::<bool>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(serde::de::Error::custom(
            "cannot be null; give true or false, or leave the flag out to keep it",
        )),
    }
}

/// Notes that are present: `Some` of their text, `null` included (`Some(None)`).
fn notes<'de, D>(d: D) -> Result<Option<Option<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<String>::deserialize(d).map(Some)
}

impl DataImpactPatch {
    /// Whether it changes nothing: no flag and no notes given.
    pub fn is_empty(&self) -> bool {
        [
            self.customer_data,
            self.personal_data,
            self.disclosed,
            self.modified,
            self.destroyed,
        ]
        .iter()
        .all(Option::is_none)
            && self.notes.is_none()
    }

    /// The assessment `current` becomes with this change, assessed by `actor` at `at`. Notes
    /// kept as they are pass unchecked: an incident whose notes an older release took must
    /// still have its flags changed.
    pub fn apply(
        &self,
        current: &DataImpact,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<DataImpact, crate::error::DomainError> {
        if self.is_empty() {
            return Err(crate::error::DomainError::invalid(
                "data_impact",
                "no flag given; give at least one of customer_data, personal_data, disclosed, modified, destroyed or notes",
            ));
        }
        let mut next = current.clone();
        let flags = [
            (&mut next.customer_data, self.customer_data),
            (&mut next.personal_data, self.personal_data),
            (&mut next.disclosed, self.disclosed),
            (&mut next.modified, self.modified),
            (&mut next.destroyed, self.destroyed),
        ];
        for (flag, given) in flags {
            if let Some(v) = given {
                *flag = v;
            }
        }
        if let Some(notes) = &self.notes {
            next.notes = notes
                .as_deref()
                .filter(|n| !n.trim().is_empty())
                .map(str::to_owned);
            if next.notes != current.notes {
                next.check()?;
            }
        }
        next.assessed_by = Some(actor.to_owned());
        next.assessed_at = Some(at);
        Ok(next)
    }
}

impl From<DataImpact> for DataImpactPatch {
    /// Every flag and the notes of a whole assessment, given.
    fn from(d: DataImpact) -> Self {
        DataImpactPatch {
            customer_data: Some(d.customer_data),
            personal_data: Some(d.personal_data),
            disclosed: Some(d.disclosed),
            modified: Some(d.modified),
            destroyed: Some(d.destroyed),
            notes: Some(d.notes),
            assessed_by: None,
            assessed_at: None,
        }
    }
}

impl DataImpact {
    /// Checks what the assessor wrote: the notes are plain text, as the incident's other free
    /// text is ([`crate::no_control_characters`]: tabs and line breaks are fine), and at most
    /// [`crate::incident::MAX_TEXT`] characters like its summary, for they are shown wherever
    /// the incident is.
    pub fn check(&self) -> Result<(), DomainError> {
        let Some(notes) = &self.notes else {
            return Ok(());
        };
        crate::no_control_characters("data_impact.notes", notes)?;
        let max = crate::incident::MAX_TEXT;
        if notes.chars().count() > max {
            return Err(DomainError::invalid(
                "data_impact.notes",
                format!(
                    "longer than {max} characters; shorten it (attach a longer account as evidence)"
                ),
            ));
        }
        Ok(())
    }

    /// True when customer or personal data was disclosed, modified or destroyed: a data breach,
    /// which starts the notification process (built in a later issue).
    pub fn requires_notification(&self) -> bool {
        (self.customer_data || self.personal_data)
            && (self.disclosed || self.modified || self.destroyed)
    }

    /// The assessment in a few words, for the record of what moved the priority: "personal
    /// data disclosed", "customer and personal data modified and destroyed", or "no customer or
    /// personal data disclosed, modified or destroyed".
    pub fn describe(&self) -> String {
        if !self.requires_notification() {
            return "no customer or personal data disclosed, modified or destroyed".to_owned();
        }
        let data = match (self.customer_data, self.personal_data) {
            (true, true) => "customer and personal data",
            (true, false) => "customer data",
            _ => "personal data",
        };
        let what: Vec<&str> = [
            (self.disclosed, "disclosed"),
            (self.modified, "modified"),
            (self.destroyed, "destroyed"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, word)| *word)
        .collect();
        let what = match what.as_slice() {
            [one] => (*one).to_owned(),
            [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
            [] => String::new(),
        };
        format!("{data} {what}")
    }

    /// Same as [`DataImpact::requires_notification`]: the seed's definition of a data breach.
    pub fn is_breach(&self) -> bool {
        self.requires_notification()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_longer_than_an_incident_summary_may_be_are_refused() {
        let notes = |n: usize| DataImpact {
            notes: Some("x".repeat(n)),
            ..DataImpact::default()
        };
        assert!(notes(crate::incident::MAX_TEXT).check().is_ok());
        let err = notes(crate::incident::MAX_TEXT + 1).check().unwrap_err();
        assert!(err.to_string().contains("data_impact.notes"), "{err}");
        assert!(err.to_string().contains("longer than"), "{err}");
    }

    #[test]
    fn notification_needs_data_and_an_effect() {
        assert!(!DataImpact::default().requires_notification());
        let only_kind = DataImpact {
            personal_data: true,
            ..Default::default()
        };
        assert!(!only_kind.requires_notification());
        let only_effect = DataImpact {
            disclosed: true,
            ..Default::default()
        };
        assert!(!only_effect.requires_notification());
        for (c, p, d, m, x) in [
            (true, false, true, false, false),
            (false, true, false, true, false),
            (true, true, false, false, true),
        ] {
            let i = DataImpact {
                customer_data: c,
                personal_data: p,
                disclosed: d,
                modified: m,
                destroyed: x,
                ..Default::default()
            };
            assert!(i.requires_notification());
            assert!(i.is_breach());
        }
    }

    #[test]
    fn notes_are_plain_text() {
        let with = |notes: &str| DataImpact {
            notes: Some(notes.to_owned()),
            ..Default::default()
        };
        assert!(with("rows 1-40:\n\tnames, e-mails").check().is_ok());
        let e = with("ok\u{1b}[2J").check().unwrap_err();
        assert_eq!(e.field(), Some("data_impact.notes"), "{e}");
        assert!(e.to_string().contains("U+001B"), "{e}");
    }

    /// Changes recorded one after the other keep each other's flags: the second responder's
    /// "destroyed" does not clear the first one's "customer data".
    #[test]
    fn a_change_keeps_the_flags_it_does_not_give() {
        let t = |h| DateTime::parse_from_rfc3339(&format!("2026-11-20T{h:02}:00:00Z")).unwrap();
        let first: DataImpactPatch = serde_json::from_str(r#"{"customer_data": true}"#).unwrap();
        let second: DataImpactPatch = serde_json::from_str(r#"{"destroyed": true}"#).unwrap();
        let d = first
            .apply(&DataImpact::default(), "ann", t(1).into())
            .unwrap();
        let d = second.apply(&d, "bob", t(2).into()).unwrap();
        assert!(d.customer_data && d.destroyed && d.requires_notification());
        assert_eq!(d.assessed_by.as_deref(), Some("bob"));
        // Notes: absent keeps them, blank or null clears them.
        let noted: DataImpactPatch = serde_json::from_str(r#"{"notes": "rows 1-40"}"#).unwrap();
        let d = noted.apply(&d, "ann", t(3).into()).unwrap();
        let d = second.apply(&d, "ann", t(3).into()).unwrap();
        assert_eq!(d.notes.as_deref(), Some("rows 1-40"));
        for clear in [r#"{"notes": null}"#, r#"{"notes": " "}"#] {
            let p: DataImpactPatch = serde_json::from_str(clear).unwrap();
            assert_eq!(p.apply(&d, "ann", t(4).into()).unwrap().notes, None);
        }
        // Nothing given, or a flag given as null, is refused naming it.
        let e = DataImpactPatch::default()
            .apply(&d, "ann", t(4).into())
            .unwrap_err();
        assert_eq!(e.field(), Some("data_impact"));
        let e = serde_json::from_str::<DataImpactPatch>(r#"{"destroyed": null}"#).unwrap_err();
        assert!(e.to_string().contains("cannot be null"), "{e}");
        // An assessment read back may be sent as it is: who and when are the server's.
        let back: DataImpactPatch = serde_json::from_value(serde_json::to_value(&d).unwrap())
            .expect("a whole assessment reads as a change giving every flag");
        let given = DataImpactPatch {
            assessed_by: None,
            assessed_at: None,
            ..back.clone()
        };
        assert_eq!(given, DataImpactPatch::from(d.clone()));
        assert_eq!(
            back.apply(&d, "cy", t(5).into())
                .unwrap()
                .assessed_by
                .as_deref(),
            Some("cy")
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<DataImpact>(r#"{"leaked": true}"#).is_err());
        let i: DataImpact =
            serde_json::from_str(r#"{"customer_data": true, "destroyed": true}"#).unwrap();
        assert!(i.requires_notification());
    }
}
