//! Markings and classification: TLP 2.0, PAP, the incident category and MITRE ATT&CK technique
//! ids.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

wire_enum!(
    /// Traffic Light Protocol 2.0: who may receive the information.
    Tlp ("tlp") {
        /// No limit on disclosure.
        Clear = "clear",
        /// The wider community.
        Green = "green",
        /// The recipient's organisation and its clients on a need-to-know basis.
        Amber = "amber",
        /// The recipient's organisation only.
        AmberStrict = "amber_strict",
        /// Named recipients only.
        Red = "red",
    }
);

wire_enum!(
    /// Permissible Actions Protocol: what may be done with the information.
    Pap ("pap") {
        /// Any action.
        Clear = "clear",
        /// Active actions allowed.
        Green = "green",
        /// Passive cross-checks only.
        Amber = "amber",
        /// Non-detectable actions only.
        Red = "red",
    }
);

wire_enum!(
    /// What kind of incident it is.
    Category ("category") {
        /// Accounts used by someone other than their owner.
        AccountCompromise = "account_compromise",
        /// Malicious software.
        Malware = "malware",
        /// Data taken out of the environment.
        DataExfiltration = "data_exfiltration",
        /// A service made unavailable.
        DenialOfService = "denial_of_service",
        /// Someone with legitimate access misusing it.
        Insider = "insider",
        /// Phishing.
        Phishing = "phishing",
        /// Unauthorised access to systems.
        UnauthorizedAccess = "unauthorized_access",
        /// A vulnerability exploited.
        VulnerabilityExploitation = "vulnerability_exploitation",
        /// Anything else.
        Other = "other",
    }
);

/// A MITRE ATT&CK technique id: `T` + four digits, optionally `.` + three digits
/// (`T1059`, `T1059.001`). Parsing accepts lower case and normalises to upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, example = "T1059.001"))]
pub struct Technique(String);

/// The digits of a technique's number (`T1059`).
const TECHNIQUE_DIGITS: usize = 4;
/// The digits of a sub-technique's number (`.001`).
const SUB_TECHNIQUE_DIGITS: usize = 3;

impl Technique {
    /// Parses and normalises a technique id.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let t = s.trim().to_ascii_uppercase();
        let b = t.as_bytes();
        let digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
        let end = 1 + TECHNIQUE_DIGITS;
        let technique = |b: &[u8]| b[0] == b'T' && digits(&b[1..end]);
        let ok = if b.len() == end {
            technique(b)
        } else if b.len() == end + 1 + SUB_TECHNIQUE_DIGITS {
            technique(b) && b[end] == b'.' && digits(&b[end + 1..])
        } else {
            false
        };
        if !ok {
            return Err(DomainError::invalid(
                "techniques",
                format!(
                    "{s:?} is not a MITRE ATT&CK technique id; write it like T1059 or T1059.001"
                ),
            ));
        }
        Ok(Technique(t))
    }

    /// The ids [`Technique::parse`] reads, as a regular expression in the syntax of JSON
    /// Schema's `pattern` (the OpenAPI document states it for the techniques of a request).
    pub fn pattern() -> String {
        format!(r"^\s*[Tt][0-9]{{{TECHNIQUE_DIGITS}}}(?:\.[0-9]{{{SUB_TECHNIQUE_DIGITS}}})?\s*$")
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The technique a Sigma rule's tag names (`attack.t1003.001` → `T1003.001`), so that
    /// what the rules behind an incident say about it reaches the incident; `None` for every
    /// other tag, tactics (`attack.credential-access`, `attack.ta0006`), groups and software
    /// (`attack.g0016`, `attack.s0002`) among them.
    pub fn from_sigma_tag(tag: &str) -> Option<Self> {
        let tag = tag.trim();
        let prefix = tag.get(..7)?;
        if !prefix.eq_ignore_ascii_case("attack.") {
            return None;
        }
        Self::parse(&tag[7..]).ok()
    }

    /// The parent technique (`T1059` for `T1059.001`; itself for a parent).
    pub fn parent(&self) -> &str {
        &self.0[..5]
    }
}

impl fmt::Display for Technique {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Technique {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Self::parse(s)
    }
}

impl Serialize for Technique {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Technique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn techniques_validate() {
        assert_eq!(Technique::parse("T1059").unwrap().as_str(), "T1059");
        let sub = Technique::parse(" t1059.001 ").unwrap();
        assert_eq!((sub.as_str(), sub.parent()), ("T1059.001", "T1059"));
        for bad in [
            "",
            "T105",
            "T10590",
            "T1059.1",
            "T1059.0011",
            "X1059",
            "T1059-001",
            "TA0001",
        ] {
            assert_eq!(
                Technique::parse(bad).unwrap_err().field(),
                Some("techniques"),
                "{bad}"
            );
        }
        assert!(serde_json::from_str::<Technique>("\"T9\"").is_err());
        assert_eq!(Technique::pattern(), r"^\s*[Tt][0-9]{4}(?:\.[0-9]{3})?\s*$");
    }

    #[test]
    fn techniques_are_read_from_sigma_tags() {
        let read = |tag: &str| Technique::from_sigma_tag(tag).map(|t| t.to_string());
        assert_eq!(read("attack.t1003.001").as_deref(), Some("T1003.001"));
        assert_eq!(read(" Attack.T1059 ").as_deref(), Some("T1059"));
        for other in [
            "attack.credential-access",
            "attack.ta0006",
            "attack.g0016",
            "attack.s0002",
            "attack.t10590",
            "attack.",
            "attack",
            "cve.2021-44228",
            "t1059",
            "attacké.t1059",
        ] {
            assert_eq!(read(other), None, "{other}");
        }
    }

    #[test]
    fn markings_parse_and_serialise() {
        assert_eq!(Tlp::parse("AMBER+STRICT").unwrap(), Tlp::AmberStrict);
        assert_eq!(Tlp::parse("amber-strict").unwrap(), Tlp::AmberStrict);
        assert_eq!(
            serde_json::to_string(&Tlp::AmberStrict).unwrap(),
            "\"amber_strict\""
        );
        assert_eq!(Pap::parse("red").unwrap(), Pap::Red);
        assert_eq!(Tlp::parse("white").unwrap_err().field(), Some("tlp"));
        assert_eq!(
            Category::parse("Data_Exfiltration").unwrap(),
            Category::DataExfiltration
        );
        assert_eq!(
            Category::parse("ransom").unwrap_err().field(),
            Some("category")
        );
        assert_eq!(Category::ALL.len(), 9);
    }
}
