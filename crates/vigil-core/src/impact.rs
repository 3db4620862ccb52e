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

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<DataImpact>(r#"{"leaked": true}"#).is_err());
        let i: DataImpact =
            serde_json::from_str(r#"{"customer_data": true, "destroyed": true}"#).unwrap();
        assert!(i.requires_notification());
    }
}
