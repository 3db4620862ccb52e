//! Detections: a Sigma rule matched a stored event. The log pipeline records one per (event,
//! rule); the alerting work turns them into alerts with a preliminary severity.

use chrono::{DateTime, Utc};

wire_enum!(
    /// A Sigma rule's `level`, the first input of an alert's preliminary severity.
    RuleLevel ("level") {
        /// Not an attack in itself; context for other detections.
        Informational = "informational",
        /// Worth a look when something else points here.
        Low = "low",
        /// Suspicious; triage it.
        Medium = "medium",
        /// Likely malicious; triage it now.
        High = "high",
        /// An attack in progress; page someone.
        Critical = "critical",
    }
);

/// A rule match to record: which event, which rule, and the envelope of the event, copied so
/// detections can be listed and filtered without reading the log store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewDetection {
    /// The log store's id of the matched event.
    pub event_id: u64,
    /// When the event happened.
    pub event_time: DateTime<Utc>,
    /// The service that sent the event.
    pub service: String,
    /// The host it came from (empty when unknown).
    pub host: String,
    /// The tenant it belongs to (empty when unknown).
    pub tenant: String,
    /// The rule's `id` (empty when the rule has none).
    pub rule_id: String,
    /// The rule's `title`.
    pub rule_title: String,
    /// The rule's `level`.
    pub level: RuleLevel,
    /// The rule's `tags` (ATT&CK techniques and tactics among them).
    pub tags: Vec<String>,
}

/// A recorded detection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Detection {
    /// Its id, increasing in order of recording.
    pub id: i64,
    /// When Vigil recorded it.
    pub detected_at: DateTime<Utc>,
    /// What matched.
    #[serde(flatten)]
    pub detection: NewDetection,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_and_parse_as_sigma_writes_them() {
        assert!(RuleLevel::Critical > RuleLevel::High);
        assert!(RuleLevel::Low > RuleLevel::Informational);
        assert_eq!(RuleLevel::parse("HIGH").unwrap(), RuleLevel::High);
        assert_eq!(
            RuleLevel::parse("severe").unwrap_err().field(),
            Some("level")
        );
    }
}
