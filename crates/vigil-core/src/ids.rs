//! Incident identifiers: the internal [`IncidentId`] (UUID v7, time-ordered) and the short
//! [`IncidentKey`] people say aloud (`INC-42`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::DomainError;

/// The internal id of an incident: a UUID v7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
#[serde(transparent)]
pub struct IncidentId(Uuid);

impl IncidentId {
    /// A fresh v7 id.
    pub fn new() -> Self {
        IncidentId(Uuid::now_v7())
    }

    /// Wraps an existing UUID (read back from storage).
    pub fn from_uuid(id: Uuid) -> Self {
        IncidentId(id)
    }

    /// The UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// Parses a UUID in any of its textual forms.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Uuid::parse_str(s.trim())
            .map(IncidentId)
            .map_err(|e| DomainError::invalid("incident_id", format!("{s:?} is not a UUID ({e})")))
    }
}

impl Default for IncidentId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for IncidentId {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Self::parse(s)
    }
}

short_key!(
    /// The short sequential key of an incident, `INC-<n>` with n ≥ 1. Parsing is
    /// case-insensitive (`inc-42` works); display is always upper case.
    IncidentKey,
    "INC",
    "incident",
    "an incident key",
    "INC-42"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_parses_any_case_and_displays_upper() {
        assert_eq!(IncidentKey::parse("INC-42").unwrap().number(), 42);
        assert_eq!(IncidentKey::parse(" inc-7 ").unwrap().to_string(), "INC-7");
        assert_eq!("Inc-1".parse::<IncidentKey>().unwrap().number(), 1);
    }

    #[test]
    fn key_rejects_malformed() {
        for bad in [
            "", "aéé-1", "ééé", "INC-", "INC-0", "INC--1", "INC-+3", "INC-4a", "42", "CASE-4",
        ] {
            let err = IncidentKey::parse(bad).unwrap_err();
            assert_eq!(err.field(), Some("key"), "{bad}");
        }
    }

    #[test]
    fn key_serde_round_trip() {
        let k = IncidentKey::new(12).unwrap();
        let j = serde_json::to_string(&k).unwrap();
        assert_eq!(j, "\"INC-12\"");
        assert_eq!(serde_json::from_str::<IncidentKey>(&j).unwrap(), k);
        assert!(serde_json::from_str::<IncidentKey>("\"INC-x\"").is_err());
    }

    #[test]
    fn ids_are_v7_and_ordered() {
        let a = IncidentId::new();
        let b = IncidentId::new();
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(a <= b);
        assert_eq!(IncidentId::parse(&a.to_string()).unwrap(), a);
        assert!(IncidentId::parse("nope").is_err());
    }
}
