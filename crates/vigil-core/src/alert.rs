//! Alerts: a detection, an external tool's event or a person's report, with a preliminary
//! severity, the service it concerns and the events behind it, waiting for a responder. The
//! same rule and grouping key within a window update one alert (count, last seen) instead of
//! opening new ones; a responder acknowledges, resolves or dismisses it (false positive or
//! benign, with a reason, counted per rule for tuning).

use chrono::{DateTime, Utc};

use crate::detection::RuleLevel;
use crate::error::DomainError;
use crate::severity::Severity;

wire_enum!(
    /// Where an alert state is in its life.
    AlertStatus ("status") {
        /// New: the on-call has not acknowledged it.
        Triggered = "triggered",
        /// Someone took it; escalation stops.
        Acknowledged = "acknowledged",
        /// Dealt with.
        Resolved = "resolved",
        /// Not an attack: a false positive or benign activity.
        Dismissed = "dismissed",
    }
);

wire_enum!(
    /// What raised an alert.
    AlertSource ("source") {
        /// A Sigma rule matched an ingested event.
        Detection = "detection",
        /// An external tool posted it (`POST /api/v1/alerts`).
        External = "external",
        /// An employee or a customer reported suspicious activity.
        Report = "report",
        /// Vigil's own watch over the log sources: a service stopped sending its logs.
        Monitor = "monitor",
    }
);

impl AlertSource {
    /// Who wrote an alert's summary, as the line above it says wherever it is shown: the
    /// summary is text from outside, set apart under its author after Vigil's own facts.
    pub fn summary_label(self) -> &'static str {
        match self {
            AlertSource::Report => "Reporter wrote",
            AlertSource::External => "The sending tool wrote",
            AlertSource::Detection | AlertSource::Monitor => "Details",
        }
    }
}

wire_enum!(
    /// Why an alert is dismissed.
    Dismissal ("kind") {
        /// The rule fired on activity that is not what it looks for: tune the rule.
        FalsePositive = "false_positive",
        /// The rule was right, but the activity was authorised or harmless.
        Benign = "benign",
    }
);

wire_enum!(
    /// How much harm to the business a compromise of the asset does.
    AssetCriticality ("criticality") {
        /// Internal tools, no customer impact.
        Low = "low",
        /// Degraded customer experience.
        Medium = "medium",
        /// Customer data or money at stake.
        High = "high",
        /// The business stops.
        Critical = "critical",
    }
);

/// The preliminary severity of a detection: the rule's level read as a severity (critical →
/// SEV1, high → SEV2, medium → SEV3, low and informational → SEV4), one step worse on a
/// critical asset and one step milder on a low-criticality one. The response team adjusts it.
pub fn preliminary_severity(level: RuleLevel, asset: Option<AssetCriticality>) -> Severity {
    let base: i8 = match level {
        RuleLevel::Critical => 1,
        RuleLevel::High => 2,
        RuleLevel::Medium => 3,
        RuleLevel::Low | RuleLevel::Informational => 4,
    };
    let shift = match asset {
        Some(AssetCriticality::Critical) => -1,
        Some(AssetCriticality::Low) => 1,
        _ => 0,
    };
    match (base + shift).clamp(1, 4) {
        1 => Severity::Sev1,
        2 => Severity::Sev2,
        3 => Severity::Sev3,
        _ => Severity::Sev4,
    }
}

/// An alert to raise (or to fold into the open alert with the same dedup key).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewAlert {
    /// What happened, in a line.
    pub title: String,
    /// What raised it.
    pub source: AlertSource,
    /// The preliminary severity.
    pub severity: Severity,
    /// The service it concerns (its owning team's on-call is paged).
    pub service: String,
    /// The tenant it concerns: the tenant of the events that raised it (a detection), the
    /// tenant a tool or a person raised it for, or none. An alert belongs to one tenant: only
    /// the same service, tenant and key fold into an open alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Alerts with the same key (of the same service and tenant) within the window are one
    /// alert.
    pub dedup_key: String,
    /// The Sigma rule, for detections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// More detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The tool that posted it, or how a person reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The reporter's contact, for reports from people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporter: Option<String>,
    /// The log-store ids of the events behind it.
    #[serde(default)]
    pub event_ids: Vec<u64>,
    /// The events themselves, in the order of `event_ids` (given when raised by detection;
    /// returned on a single alert, left out of lists).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub events: Vec<EventJson>,
    /// How many times it fired in this raise: the matches of one batch that fold into one
    /// alert count each, so an alert's count does not depend on how senders batch events.
    /// Internal to a raise (the stored alert's `count` adds them up).
    #[serde(skip, default = "once")]
    pub times: u64,
}

fn once() -> u64 {
    1
}

/// One event's JSON, kept as the text it arrived as: it is stored and shown as such, and
/// parsed only where a field is read ([`EventJson::parse`]).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(transparent)]
pub struct EventJson(Box<serde_json::value::RawValue>);

/// Read as raw text, so a client shows the numbers as they were sent (`1e3`, `1.50`, integers
/// beyond 64 bits). serde cannot hand raw text through a `#[serde(flatten)]` field (it buffers
/// the value, numbers as `f64`): a type holding events is not read flattened ([`Alert`] reads
/// through [`AlertFields`]).
impl<'de> serde::Deserialize<'de> for EventJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Box::<serde_json::value::RawValue>::deserialize(d).map(EventJson)
    }
}

impl EventJson {
    /// Takes JSON text; refuses text that is not one JSON value.
    pub fn from_text(text: String) -> Result<EventJson, serde_json::Error> {
        serde_json::value::RawValue::from_string(text).map(EventJson)
    }

    /// A document, written compactly.
    pub fn from_value(value: &serde_json::Value) -> EventJson {
        EventJson(serde_json::value::to_raw_value(value).expect("a JSON value always serialises"))
    }

    /// The JSON text.
    pub fn text(&self) -> &str {
        self.0.get()
    }

    /// The document (`None` only if the text was not JSON, which construction prevents).
    pub fn parse(&self) -> Option<serde_json::Value> {
        serde_json::from_str(self.0.get()).ok()
    }
}

impl PartialEq for EventJson {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text()
    }
}

impl Eq for EventJson {}

/// The longest service name of an alert, in characters (as of an event's service).
pub const MAX_SERVICE: usize = 200;
/// The longest tenant name of an alert, in characters (as of an event's tenant).
pub const MAX_TENANT: usize = 200;
/// The longest title of an alert, in characters.
pub const MAX_TITLE: usize = 500;
/// The longest deduplication key of an alert, in characters.
pub const MAX_DEDUP_KEY: usize = 500;
/// The longest origin of an alert (the tool that posted it), in characters.
pub const MAX_ORIGIN: usize = 500;
/// The longest reporter of an alert (name and contact), in characters.
pub const MAX_REPORTER: usize = 500;

impl NewAlert {
    /// Checks the texts: title, service and dedup key non-blank, lengths bounded; the service,
    /// tenant (when given, non-blank), origin and reporter one line each without control characters ([`crate::single_line`]:
    /// they are printed as lines of a page and joined into an incident's scope and summary).
    /// The title and summary may hold any text: the store makes their control characters other
    /// than tabs and line breaks harmless ([`crate::printable`]).
    pub fn validate(&self) -> Result<(), DomainError> {
        crate::single_line("service", &self.service, MAX_SERVICE)?;
        if let Some(tenant) = &self.tenant {
            crate::single_line("tenant", tenant, MAX_TENANT)?;
            if tenant.trim().is_empty() {
                return Err(DomainError::invalid(
                    "tenant",
                    "must not be blank; leave it out for an alert of no tenant",
                ));
            }
        }
        if let Some(origin) = &self.origin {
            crate::single_line("origin", origin, MAX_ORIGIN)?;
        }
        if let Some(reporter) = &self.reporter {
            crate::single_line("reporter", reporter, MAX_REPORTER)?;
        }
        for (field, value, max) in [
            ("title", &self.title, MAX_TITLE),
            ("service", &self.service, MAX_SERVICE),
            ("dedup_key", &self.dedup_key, MAX_DEDUP_KEY),
        ] {
            if value.trim().is_empty() {
                return Err(DomainError::invalid(field, "must not be empty"));
            }
            if value.chars().count() > max {
                return Err(DomainError::invalid(
                    field,
                    format!("has more than {max} characters; shorten it"),
                ));
            }
        }
        if self
            .summary
            .as_ref()
            .is_some_and(|s| s.chars().count() > 20_000)
        {
            return Err(DomainError::invalid(
                "summary",
                "has more than 20000 characters; attach the rest as evidence",
            ));
        }
        Ok(())
    }
}

/// What a responder does to an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertAction {
    /// Take it: escalation stops.
    Acknowledge,
    /// Close it as dealt with.
    Resolve,
    /// Close it as not an attack, with the kind and a reason.
    Dismiss(Dismissal, String),
}

impl AlertAction {
    /// The status the action leads to from `from`, or why it is refused.
    pub fn apply(&self, from: AlertStatus) -> Result<AlertStatus, DomainError> {
        let closed = matches!(from, AlertStatus::Resolved | AlertStatus::Dismissed);
        match self {
            AlertAction::Acknowledge if from == AlertStatus::Triggered => {
                Ok(AlertStatus::Acknowledged)
            }
            AlertAction::Acknowledge if closed => Err(DomainError::Conflict(format!(
                "the alert is {from} already; only a triggered alert can be acknowledged, and a closed one needs nothing more"
            ))),
            AlertAction::Acknowledge => Err(DomainError::Conflict(format!(
                "the alert is {from} already; only a triggered alert can be acknowledged — resolve or dismiss it once dealt with"
            ))),
            AlertAction::Resolve | AlertAction::Dismiss(..) if closed => {
                Err(DomainError::Conflict(format!(
                    "the alert is {from} already; a closed alert is neither resolved nor dismissed again (declare or merge is for open alerts)"
                )))
            }
            AlertAction::Resolve => Ok(AlertStatus::Resolved),
            AlertAction::Dismiss(_, reason) if reason.trim().is_empty() => {
                Err(DomainError::invalid(
                    "reason",
                    "say why the alert is dismissed; the reason is counted per rule for tuning",
                ))
            }
            AlertAction::Dismiss(_, reason) => {
                crate::reason_length("reason", reason.trim())?;
                Ok(AlertStatus::Dismissed)
            }
        }
    }
}

/// One entry of an alert's log: every page, acknowledgement, escalation step and change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertLogEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (a person's token name, or `vigil` for the system).
    pub actor: String,
    /// What: `created`, `deduplicated`, `acknowledged`, `resolved`, `dismissed` …
    pub action: String,
    /// Detail.
    pub text: String,
}

/// An alert as stored. Written with what was raised flattened into it; read through
/// [`AlertFields`], which names every field, so its events keep their text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(from = "AlertFields")]
pub struct Alert {
    /// Its number.
    pub id: i64,
    /// The key people say aloud: `ALR-12`.
    pub key: String,
    /// Where it is in its life.
    pub status: AlertStatus,
    /// How many times it fired within its dedup window.
    pub count: u64,
    /// First time it fired.
    pub first_seen: DateTime<Utc>,
    /// Last time it fired.
    pub last_seen: DateTime<Utc>,
    /// How it was dismissed, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dismissal: Option<Dismissal>,
    /// The incident it was declared as or merged into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// What was raised.
    #[serde(flatten)]
    pub alert: NewAlert,
    /// Its log, oldest first (on a single alert; empty in lists).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<AlertLogEntry>,
    /// The pages that reached their person on no contact so far and are being tried again,
    /// oldest failure first (on a single alert; empty in lists): the log says a failure once,
    /// this says what is still failing now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undelivered: Vec<UndeliveredPage>,
}

/// A page that has not reached its person yet: tried again until it does or the alert is
/// acknowledged, resolved or dismissed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UndeliveredPage {
    /// Who is being paged.
    pub person: String,
    /// The escalation step that paged them: `level 1 of 2 (round 1)`.
    pub step: String,
    /// Why them: `on call in schedule primary`.
    pub reason: String,
    /// Deliveries that failed so far.
    pub tries: u32,
    /// When the first delivery was made.
    pub since: DateTime<Utc>,
    /// When it is tried next.
    pub next_try: DateTime<Utc>,
    /// Why the last delivery failed.
    pub error: String,
}

/// An [`Alert`] as written, every field at the top level: what the alert is read through, as
/// serde reads a flattened field's values through a buffer that keeps no raw text (an event's
/// `1e3` would come back `1000.0`). Building the `Alert` names every field, so the compiler
/// keeps the two in step; the attributes are [`Alert`]'s and [`NewAlert`]'s.
#[derive(serde::Deserialize)]
struct AlertFields {
    id: i64,
    key: String,
    status: AlertStatus,
    count: u64,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    #[serde(default)]
    dismissal: Option<Dismissal>,
    #[serde(default)]
    incident: Option<String>,
    #[serde(default)]
    log: Vec<AlertLogEntry>,
    #[serde(default)]
    undelivered: Vec<UndeliveredPage>,
    title: String,
    source: AlertSource,
    severity: Severity,
    service: String,
    #[serde(default)]
    tenant: Option<String>,
    dedup_key: String,
    #[serde(default)]
    rule_id: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    reporter: Option<String>,
    #[serde(default)]
    event_ids: Vec<u64>,
    #[serde(default)]
    events: Vec<EventJson>,
}

impl From<AlertFields> for Alert {
    fn from(f: AlertFields) -> Alert {
        Alert {
            id: f.id,
            key: f.key,
            status: f.status,
            count: f.count,
            first_seen: f.first_seen,
            last_seen: f.last_seen,
            dismissal: f.dismissal,
            incident: f.incident,
            alert: NewAlert {
                title: f.title,
                source: f.source,
                severity: f.severity,
                service: f.service,
                tenant: f.tenant,
                dedup_key: f.dedup_key,
                rule_id: f.rule_id,
                summary: f.summary,
                origin: f.origin,
                reporter: f.reporter,
                event_ids: f.event_ids,
                events: f.events,
                times: once(),
            },
            log: f.log,
            undelivered: f.undelivered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_line_and_the_summary_keeps_its_lines() {
        let alert = NewAlert {
            title: "Impossible travel".into(),
            source: AlertSource::External,
            severity: crate::Severity::Sev3,
            service: "web".into(),
            tenant: Some("acme".into()),
            dedup_key: "k".into(),
            rule_id: None,
            summary: Some("first\nsecond\r\nthird".into()),
            origin: Some("idp".into()),
            reporter: Some("Dana, dana@example.com".into()),
            event_ids: Vec::new(),
            events: Vec::new(),
            times: 1,
        };
        assert!(alert.validate().is_ok());
        let refused = |change: &dyn Fn(&mut NewAlert)| {
            let mut a = alert.clone();
            change(&mut a);
            a.validate().unwrap_err().field()
        };
        assert_eq!(
            refused(&|a| a.service = "web\r\nBcc: evil5@attacker.example".into()),
            Some("service")
        );
        assert_eq!(
            refused(&|a| a.service = "web\u{1b}[2J".into()),
            Some("service")
        );
        assert_eq!(refused(&|a| a.service = "w".repeat(201)), Some("service"));
        let tenant = |t: &str| Some(t.to_owned());
        assert_eq!(
            refused(&|a| a.tenant = tenant("acme\nBcc: x")),
            Some("tenant")
        );
        assert_eq!(refused(&|a| a.tenant = tenant("  ")), Some("tenant"));
        assert_eq!(
            refused(&|a| a.tenant = tenant(&"t".repeat(201))),
            Some("tenant")
        );
        assert_eq!(
            refused(&|a| a.origin = Some("idp\nX-Evil: 1".into())),
            Some("origin")
        );
        assert_eq!(
            refused(&|a| a.reporter = Some("Bob\nBcc: x@y".into())),
            Some("reporter")
        );
        assert_eq!(
            crate::one_line("web\r\nBcc: x\u{1b}"),
            "web\u{fffd}\u{fffd}Bcc: x\u{fffd}"
        );
    }

    #[test]
    fn event_json_keeps_its_text() {
        let e = EventJson::from_text(r#"{"b": 1,  "a": "x"}"#.to_string()).unwrap();
        assert_eq!(e.text(), r#"{"b": 1,  "a": "x"}"#);
        assert_eq!(e.parse().unwrap()["a"], "x");
        assert!(EventJson::from_text("{".to_string()).is_err());
    }

    /// An alert goes out with what was raised flattened into it and comes back with its
    /// fields and its events' text unchanged: numbers as sent, not as an `f64` writes them.
    #[test]
    fn an_alert_is_read_back_with_its_events_text_as_written() {
        let event = r#"{"n": 1e3, "price":1.50, "id":123456789012345678901234567890}"#;
        let at = DateTime::parse_from_rfc3339("2026-11-30T10:10:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let alert = Alert {
            id: 1,
            key: "ALR-1".into(),
            status: AlertStatus::Dismissed,
            count: 3,
            first_seen: at,
            last_seen: at,
            dismissal: Some(Dismissal::Benign),
            incident: Some("INC-2".into()),
            alert: NewAlert {
                title: "Whoami Run".into(),
                source: AlertSource::Detection,
                severity: Severity::Sev3,
                service: "ws".into(),
                tenant: None,
                dedup_key: "k".into(),
                rule_id: Some("r".into()),
                summary: Some("s".into()),
                origin: Some("o".into()),
                reporter: Some("p".into()),
                event_ids: vec![7],
                events: vec![EventJson::from_text(event.to_string()).unwrap()],
                times: 1,
            },
            log: vec![AlertLogEntry {
                at,
                actor: "vigil".into(),
                action: "created".into(),
                text: "t".into(),
            }],
            undelivered: vec![UndeliveredPage {
                person: "bob".into(),
                step: "level 1 of 1 (round 1)".into(),
                reason: "on call in schedule primary".into(),
                tries: 2,
                since: at,
                next_try: at,
                error: "HTTP 503".into(),
            }],
        };
        let text = serde_json::to_string(&alert).unwrap();
        assert!(text.contains(&format!(r#""events":[{event}]"#)), "{text}");
        assert!(text.contains(r#""title":"Whoami Run""#), "{text}");
        let back: Alert = serde_json::from_str(&text).unwrap();
        assert_eq!(back, alert);
        assert_eq!(back.alert.events[0].text(), event);
        // Lists leave events, log and the optional fields out.
        let mut bare = alert.clone();
        bare.alert.events.clear();
        bare.alert.event_ids.clear();
        bare.log.clear();
        bare.undelivered.clear();
        (bare.dismissal, bare.incident) = (None, None);
        (bare.alert.rule_id, bare.alert.summary) = (None, None);
        (bare.alert.origin, bare.alert.reporter) = (None, None);
        let back: Alert = serde_json::from_str(&serde_json::to_string(&bare).unwrap()).unwrap();
        assert_eq!(back, bare);
    }

    #[test]
    fn preliminary_severity_reads_the_level_and_the_asset() {
        assert_eq!(preliminary_severity(RuleLevel::High, None), Severity::Sev2);
        assert_eq!(
            preliminary_severity(RuleLevel::High, Some(AssetCriticality::Critical)),
            Severity::Sev1
        );
        assert_eq!(
            preliminary_severity(RuleLevel::Critical, Some(AssetCriticality::Critical)),
            Severity::Sev1
        );
        assert_eq!(
            preliminary_severity(RuleLevel::Medium, Some(AssetCriticality::Low)),
            Severity::Sev4
        );
        assert_eq!(
            preliminary_severity(RuleLevel::Informational, Some(AssetCriticality::High)),
            Severity::Sev4
        );
    }

    #[test]
    fn actions_follow_the_life_of_an_alert() {
        use AlertStatus::*;
        assert_eq!(
            AlertAction::Acknowledge.apply(Triggered).unwrap(),
            Acknowledged
        );
        assert!(matches!(
            AlertAction::Acknowledge.apply(Acknowledged),
            Err(DomainError::Conflict(m)) if m.contains("acknowledged already")
        ));
        assert_eq!(AlertAction::Resolve.apply(Acknowledged).unwrap(), Resolved);
        assert!(matches!(
            AlertAction::Resolve.apply(Dismissed),
            Err(DomainError::Conflict(m)) if m.contains("dismissed already")
        ));
        let dismiss = |r: &str| AlertAction::Dismiss(Dismissal::FalsePositive, r.into());
        assert_eq!(
            dismiss("").apply(Triggered).unwrap_err().field(),
            Some("reason")
        );
        assert_eq!(dismiss("admin script").apply(Triggered).unwrap(), Dismissed);
        let long = "x".repeat(crate::MAX_REASON + 1);
        assert_eq!(
            dismiss(&long).apply(Triggered).unwrap_err().field(),
            Some("reason")
        );
    }
}
