//! INTERIM domain types, defined here only until `vigil-core` publishes its own (issue 2 is
//! being built in parallel; when vigil-core lands these become `pub use vigil_core::…`
//! re-exports and this module disappears). Everything else in the API, server, client and CLI
//! names these types through `vigil_api::types`, so the swap touches this file only.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(s))
                    .ok_or_else(|| format!(
                        "unknown {} {s:?}; expected one of {}",
                        stringify!($name),
                        $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                    ))
            }
        }
    };
}

wire_enum!(
    /// Severity: SEV1 (critical) … SEV4 (low).
    Severity {
        /// Critical.
        Sev1 = "SEV1",
        /// High.
        Sev2 = "SEV2",
        /// Medium.
        Sev3 = "SEV3",
        /// Low.
        Sev4 = "SEV4",
    }
);

wire_enum!(
    /// Priority, derived from the severity and the data impact (never typed in).
    Priority {
        /// Drop everything.
        P1 = "P1",
        /// Today.
        P2 = "P2",
        /// This week.
        P3 = "P3",
        /// When possible.
        P4 = "P4",
    }
);

wire_enum!(
    /// Lifecycle phase.
    Phase {
        /// Detected, not yet analysed.
        Detection = "detection",
        /// Being analysed to confirm and scope it.
        Analysis = "analysis",
        /// Limiting the harm.
        Containment = "containment",
        /// Removing the root cause.
        Eradication = "eradication",
        /// Restoring to a known secure state.
        Recovery = "recovery",
        /// Post-mortem and lessons learned.
        PostIncident = "post_incident",
        /// Done.
        Closed = "closed",
    }
);

wire_enum!(
    /// What an indicator of compromise is.
    IndicatorKind {
        /// IPv4 or IPv6 address.
        Ip = "ip",
        /// DNS name.
        Domain = "domain",
        /// URL.
        Url = "url",
        /// MD5 hash.
        Md5 = "md5",
        /// SHA-1 hash.
        Sha1 = "sha1",
        /// SHA-256 hash.
        Sha256 = "sha256",
        /// E-mail address.
        Email = "email",
        /// User account.
        UserAccount = "user_account",
        /// Host name.
        Host = "host",
        /// Process name or command line.
        Process = "process",
        /// File path.
        FilePath = "file_path",
        /// Anything else.
        Other = "other",
    }
);

wire_enum!(
    /// Traffic Light Protocol marking.
    Tlp {
        /// Public.
        Clear = "clear",
        /// Community.
        Green = "green",
        /// Organisation and clients.
        Amber = "amber",
        /// Organisation only.
        AmberStrict = "amber_strict",
        /// Named recipients only.
        Red = "red",
    }
);

wire_enum!(
    /// Permissible Actions Protocol marking.
    Pap {
        /// Any action.
        Clear = "clear",
        /// Active actions allowed.
        Green = "green",
        /// Passive actions only.
        Amber = "amber",
        /// Non-detectable actions only.
        Red = "red",
    }
);

wire_enum!(
    /// Incident category.
    Category {
        /// Accounts used by someone else.
        AccountCompromise = "account_compromise",
        /// Malicious software.
        Malware = "malware",
        /// Data taken out.
        DataExfiltration = "data_exfiltration",
        /// Service made unavailable.
        DenialOfService = "denial_of_service",
        /// Someone inside.
        Insider = "insider",
        /// Phishing.
        Phishing = "phishing",
        /// Unauthorised access to systems.
        UnauthorizedAccess = "unauthorized_access",
        /// Vulnerability exploited.
        VulnerabilityExploitation = "vulnerability_exploitation",
        /// Anything else.
        Other = "other",
    }
);

wire_enum!(
    /// A lifecycle timestamp.
    TimestampKind {
        /// First malicious activity (when known).
        FirstActivity = "first_activity",
        /// Detected.
        Detected = "detected",
        /// Acknowledged by a responder.
        Acknowledged = "acknowledged",
        /// Declared an incident.
        Declared = "declared",
        /// Contained.
        Contained = "contained",
        /// Eradicated.
        Eradicated = "eradicated",
        /// Recovered.
        Recovered = "recovered",
        /// Closed.
        Closed = "closed",
    }
);

wire_enum!(
    /// A token's role.
    Role {
        /// Read only.
        Viewer = "viewer",
        /// Opens and works incidents.
        Responder = "responder",
        /// Also manages tokens and reads the audit trail.
        Admin = "admin",
    }
);

/// A short sequential incident key, said aloud as "INC-42".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ToSchema)]
#[schema(value_type = String, example = "INC-42")]
pub struct IncidentKey(pub u64);

impl fmt::Display for IncidentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "INC-{}", self.0)
    }
}

impl FromStr for IncidentKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let digits = s
            .strip_prefix("INC-")
            .or_else(|| s.strip_prefix("inc-"))
            .ok_or_else(|| format!("{s:?} is not an incident key like INC-42"))?;
        match digits.parse::<u64>() {
            Ok(n) if n > 0 && !digits.starts_with('+') => Ok(IncidentKey(n)),
            _ => Err(format!("{s:?} is not an incident key like INC-42")),
        }
    }
}

impl Serialize for IncidentKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IncidentKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether customer or personal data was disclosed, modified or destroyed — the trigger of the
/// notification process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataImpact {
    /// Customer or personal data was disclosed to someone not allowed to see it.
    #[serde(default)]
    pub disclosed: bool,
    /// It was modified.
    #[serde(default)]
    pub modified: bool,
    /// It was destroyed or lost.
    #[serde(default)]
    pub destroyed: bool,
}

impl DataImpact {
    /// True when any customer or personal data was affected: a data breach.
    pub fn is_breach(&self) -> bool {
        self.disclosed || self.modified || self.destroyed
    }
}

/// One severity change: who, why, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SeverityChange {
    /// Severity before (none for the preliminary rating).
    pub from: Option<Severity>,
    /// Severity after.
    pub to: Severity,
    /// Who changed it.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// The typed lifecycle timestamps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

/// An indicator of compromise on an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Indicator {
    /// Its id.
    pub id: Uuid,
    /// Its kind.
    pub kind: IndicatorKind,
    /// The normalised value.
    pub value: String,
    /// Where or how it was seen.
    pub note: Option<String>,
    /// Who added it.
    pub added_by: String,
    /// When.
    pub added_at: DateTime<Utc>,
}

/// An incident record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Incident {
    /// Internal id.
    pub id: Uuid,
    /// Short key, INC-42.
    pub key: IncidentKey,
    /// Title.
    pub title: String,
    /// Summary.
    pub summary: String,
    /// Current severity.
    pub severity: Severity,
    /// Priority derived from severity and data impact.
    pub priority: Priority,
    /// Every severity rating, the preliminary one first.
    pub severity_history: Vec<SeverityChange>,
    /// Current phase.
    pub phase: Phase,
    /// Category.
    pub category: Option<Category>,
    /// Impacted services.
    pub services: Vec<String>,
    /// Impacted tenants.
    pub tenants: Vec<String>,
    /// TLP marking.
    pub tlp: Tlp,
    /// PAP marking.
    pub pap: Pap,
    /// MITRE ATT&CK technique ids.
    pub attack: Vec<String>,
    /// Recommended next steps.
    pub next_steps: Option<String>,
    /// Root cause, once known.
    pub root_cause: Option<String>,
    /// Data-impact assessment.
    pub data_impact: DataImpact,
    /// Lifecycle timestamps.
    pub timestamps: Timestamps,
    /// Indicators of compromise.
    pub indicators: Vec<Indicator>,
    /// Who opened it.
    pub created_by: String,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// One entry of an incident's action log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ActionEntry {
    /// Its id.
    pub id: Uuid,
    /// Who.
    pub actor: String,
    /// What.
    pub text: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// One chain-of-custody event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CustodyEntry {
    /// Who handled it.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// An evidence file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Evidence {
    /// Its id.
    pub id: Uuid,
    /// The incident it belongs to.
    pub incident_id: Uuid,
    /// File name.
    pub name: String,
    /// What it is.
    pub description: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// Who uploaded it.
    pub collected_by: String,
    /// When.
    pub collected_at: DateTime<Utc>,
    /// Chain of custody, oldest first.
    pub custody: Vec<CustodyEntry>,
}

/// One audit-trail entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What kind of write.
    pub action: String,
    /// What it wrote to (incident key, token id …).
    pub target: String,
    /// The write's details.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// Hash of the previous entry (hex; zeros for the first).
    pub prev_hash: String,
    /// This entry's hash (hex).
    pub hash: String,
}
