//! Evidence metadata and its chain of custody. The bytes live in the store, content-addressed
//! by their [`Sha256`]; evidence is never modified in place.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::DomainError;
use crate::ids::{IncidentId, IncidentKey};

/// The id of one evidence item (a UUID v7).
pub type EvidenceId = Uuid;

/// A SHA-256 digest: 64 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, example = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))]
pub struct Sha256(String);

impl Sha256 {
    /// Parses 64 hex digits (any case).
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let t = s.trim();
        if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DomainError::invalid(
                "sha256",
                format!("{s:?} is not a SHA-256 digest; give 64 hex digits"),
            ));
        }
        Ok(Sha256(t.to_ascii_lowercase()))
    }

    /// From a raw 32-byte digest.
    pub fn from_digest(bytes: [u8; 32]) -> Self {
        Sha256(hex::encode(bytes))
    }

    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        use sha2::Digest;
        Sha256::from_digest(sha2::Sha256::digest(data).into())
    }

    /// The hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Sha256 {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Self::parse(s)
    }
}

impl Serialize for Sha256 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// One chain-of-custody event: who handled the evidence, when, what they did and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustodyEntry {
    /// Who handled it.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// What was done (collected, transferred, analysed, exported …).
    pub action: String,
    /// Why.
    pub reason: String,
}

impl CustodyEntry {
    /// A custody entry; action and reason must not be blank.
    pub fn new(
        actor: &str,
        at: DateTime<Utc>,
        action: &str,
        reason: &str,
    ) -> Result<Self, DomainError> {
        Ok(CustodyEntry {
            actor: actor.to_owned(),
            at,
            action: crate::required_text("action", action)?,
            reason: crate::required_reason("reason", reason)?,
        })
    }
}

/// Metadata of one evidence file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Evidence {
    /// Its id.
    pub id: Uuid,
    /// The incident it belongs to.
    pub incident_id: IncidentId,
    /// The original file name.
    pub file_name: String,
    /// SHA-256 of the content.
    pub sha256: Sha256,
    /// Size in bytes.
    pub size: u64,
    /// Who collected it.
    pub collected_by: String,
    /// When it was collected.
    pub collected_at: DateTime<Utc>,
    /// What it is.
    pub description: Option<String>,
    /// Chain of custody, oldest first; the first entry records the collection.
    pub custody: Vec<CustodyEntry>,
}

/// The stored evidence files re-hashed against the SHA-256 recorded for them, as `vigil audit
/// verify` does: the audit chain vouches for the recorded hash, only this for the bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EvidenceCheck {
    /// Stored files re-hashed (evidence of the same content shares one file).
    pub files: u64,
    /// Evidence items whose file was re-hashed.
    pub items: u64,
    /// Each evidence item whose file is missing or holds other bytes than it recorded.
    pub problems: Vec<EvidenceProblem>,
}

/// An evidence item whose stored file is missing or no longer hashes to its recorded SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EvidenceProblem {
    /// The incident it belongs to.
    pub incident: IncidentKey,
    /// The evidence id.
    pub evidence_id: Uuid,
    /// Its original file name.
    pub file_name: String,
    /// The SHA-256 recorded for it.
    pub expected: Sha256,
    /// What the stored file hashes to now; absent when the file is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<Sha256>,
}

impl fmt::Display for EvidenceProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "evidence {} ({}) of {}: ",
            self.evidence_id, self.file_name, self.incident
        )?;
        match &self.actual {
            Some(actual) => write!(
                f,
                "the stored file hashes to {actual}, {} was recorded",
                self.expected
            ),
            None => write!(f, "the stored file ({}) is missing", self.expected),
        }
    }
}

/// Checks an evidence file name: non-blank, one line without control characters (a refusal
/// says so, tabs and line breaks included), at most 255 bytes, no path separators, not `.` or
/// `..` (the name is metadata, the file is stored under its hash, but a download saves it
/// under this name, and those name folders). Each refusal says which rule the name breaks.
pub fn check_file_name(name: &str) -> Result<String, DomainError> {
    let t = crate::required_line("file_name", name)?;
    let refuse = |reason: String| Err(DomainError::invalid("file_name", reason));
    if let Some(sep) = t.chars().find(|c| ['/', '\\'].contains(c)) {
        return refuse(format!(
            "holds the path separator `{sep}`; give the file's name alone, without a folder"
        ));
    }
    if t == "." || t == ".." {
        return refuse(format!(
            "`{t}` names a folder, not a file; give the file's own name"
        ));
    }
    if t.len() > 255 {
        return refuse(format!(
            "is {} bytes long, more than 255; give a shorter name",
            t.len()
        ));
    }
    Ok(t)
}

/// Checks an evidence description: trimmed, none when blank, and like any other multi-line
/// text (a summary, an action) at most [`crate::incident::MAX_TEXT`] characters without control
/// characters other than tabs and line breaks.
pub fn check_description(description: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(d) = description.map(str::trim).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    crate::no_control_characters("description", d)?;
    let max = crate::incident::MAX_TEXT;
    if d.chars().count() > max {
        return Err(DomainError::invalid(
            "description",
            format!("longer than {max} characters; shorten it (the file itself is the detail)"),
        ));
    }
    Ok(Some(d.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_parse_and_digest() {
        let empty = Sha256::of(b"");
        assert_eq!(
            empty.as_str(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            Sha256::parse(&empty.as_str().to_uppercase()).unwrap(),
            empty
        );
        assert_eq!(Sha256::parse("abc").unwrap_err().field(), Some("sha256"));
        assert!(Sha256::parse(&"z".repeat(64)).is_err());
    }

    #[test]
    fn custody_and_file_names() {
        assert_eq!(
            CustodyEntry::new("a", Utc::now(), " ", "x")
                .unwrap_err()
                .field(),
            Some("action")
        );
        assert_eq!(
            CustodyEntry::new("a", Utc::now(), "moved", "")
                .unwrap_err()
                .field(),
            Some("reason")
        );
        let long = "x".repeat(crate::MAX_REASON + 1);
        assert_eq!(
            CustodyEntry::new("a", Utc::now(), "moved", &long)
                .unwrap_err()
                .field(),
            Some("reason")
        );
        assert_eq!(check_file_name(" dump.pcap ").unwrap(), "dump.pcap");
        assert_eq!(
            check_description(Some(" headers\n\tof the mail ")).unwrap(),
            Some("headers\n\tof the mail".to_owned())
        );
        assert_eq!(check_description(Some(" \n ")).unwrap(), None);
        assert_eq!(check_description(None).unwrap(), None);
        for bad in [
            "a\u{0}b".to_owned(),
            "\u{1b}[2J".to_owned(),
            "x".repeat(crate::incident::MAX_TEXT + 1),
        ] {
            let e = check_description(Some(&bad)).unwrap_err();
            assert_eq!(e.field(), Some("description"), "{bad:?}");
        }
        // Each refusal names the rule the name breaks, not a list of rules it keeps.
        let long = "x".repeat(256);
        for (bad, says) in [
            ("", "must not be empty"),
            ("../etc/passwd", "path separator `/`"),
            ("a\\b", "path separator `\\`"),
            ("..", "`..` names a folder"),
            (".", "`.` names a folder"),
            (" . ", "`.` names a folder"),
            (long.as_str(), "256 bytes long, more than 255"),
            ("x\ny", "a line break"),
        ] {
            let e = check_file_name(bad).unwrap_err();
            assert_eq!(e.field(), Some("file_name"), "{bad:?}");
            assert!(e.to_string().contains(says), "{bad:?}: {e}");
        }
        assert_eq!(check_file_name("...").unwrap(), "...");
        assert_eq!(check_file_name(&"x".repeat(255)).unwrap().len(), 255);
        // A control character is refused with advice that fits a file name: no tabs or
        // line breaks either.
        for bad in ["a\u{0}b", "a\tb", "a\nb"] {
            let e = check_file_name(bad).unwrap_err().to_string();
            assert!(
                e.contains("without tabs, line breaks or control characters")
                    && !e.contains("are fine"),
                "{bad:?}: {e}"
            );
        }
    }
}
