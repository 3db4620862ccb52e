//! What a page says about an alert beyond its title: when the matched events happened and when
//! the alert was raised (a backfill of old logs reads differently from a live attack), the rule
//! and its ATT&CK tags, a few fields of the first matched event, and why this team is paged.
//!
//! Event values come from attackers' logs: every value is one line ([`vigil_core::one_line`])
//! of at most [`MAX_VALUE_CHARS`] characters, so it cannot forge a line of the e-mail or
//! break out of its place in a webhook's text.

use chrono::{DateTime, Utc};
use serde_json::Value;
use vigil_core::{Alert, Detection};

/// The most event fields a page shows: enough to tell what ran where, short enough to read on
/// a phone.
pub const MAX_EVENT_FIELDS: usize = 6;

/// The longest event value a page shows, in characters; a longer one ends in `…`.
pub const MAX_VALUE_CHARS: usize = 200;

/// The fields a responder looks at first when a rule names none (`fields:`), in order:
/// Windows (Sysmon, Security) names, then their Elastic Common Schema equivalents.
const KEY_FIELDS: &[&str] = &[
    "Image",
    "CommandLine",
    "ParentImage",
    "TargetFilename",
    "TargetObject",
    "User",
    "SubjectUserName",
    "TargetUserName",
    "SourceIp",
    "IpAddress",
    "DestinationIp",
    "DestinationPort",
    "QueryName",
    "ServiceName",
    "process.executable",
    "process.command_line",
    "process.parent.executable",
    "file.path",
    "user.name",
    "source.ip",
    "destination.ip",
    "url.full",
];

/// How deep inside an event a field is looked for by name (`Event.EventData.Image`).
const MAX_DEPTH: usize = 4;

/// The facts of `alert` as (name, value) lines of its page, each one line: why this team is
/// paged (`instead`), the time span of its events (from `detections`), when it was raised, its
/// rule and ATT&CK tags, and the fields of its first event named by `rule_fields` (the rule's
/// own `fields` list) or else [`KEY_FIELDS`].
pub fn alert_facts(
    alert: &Alert,
    detections: &[Detection],
    rule_fields: &[String],
    instead: Option<&str>,
) -> Vec<(String, String)> {
    let mut facts = Vec::new();
    if let Some(why) = instead {
        facts.push(("paged because".to_owned(), line(why)));
    }
    let times = detections.iter().map(|d| d.detection.event_time);
    if let (Some(first), Some(last)) = (times.clone().min(), times.max()) {
        let span = if first == last {
            utc(first)
        } else {
            format!("{} … {}", utc(first), utc(last))
        };
        facts.push(("events".to_owned(), span));
    }
    facts.push(("raised".to_owned(), utc(alert.first_seen)));
    if alert.last_seen != alert.first_seen {
        facts.push(("last fired".to_owned(), utc(alert.last_seen)));
    }
    if let Some(rule) = &alert.alert.rule_id {
        facts.push(("rule".to_owned(), line(rule)));
        let tags: Vec<String> = detections
            .iter()
            .find(|d| &d.detection.rule_id == rule)
            .map(|d| d.detection.tags.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|t| t.starts_with("attack."))
            .map(|t| line(t))
            .collect();
        if !tags.is_empty() {
            facts.push(("ATT&CK".to_owned(), tags.join(", ")));
        }
    }
    if let Some(event) = alert.alert.events.first().and_then(|e| e.parse()) {
        facts.extend(event_fields(&event, rule_fields));
    }
    facts
}

/// Up to [`MAX_EVENT_FIELDS`] fields of `event` as `event.NAME` facts: those of `named` when it
/// has any, else the [`KEY_FIELDS`] the event holds.
fn event_fields(event: &Value, named: &[String]) -> Vec<(String, String)> {
    let names: Vec<&str> = if named.is_empty() {
        KEY_FIELDS.to_vec()
    } else {
        named.iter().map(String::as_str).collect()
    };
    names
        .into_iter()
        .filter_map(|name| {
            let value = find(event, name, MAX_DEPTH)?;
            let text = match value {
                Value::Null => return None,
                Value::String(s) if s.is_empty() => return None,
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some((format!("event.{}", line(name)), line(&text)))
        })
        .take(MAX_EVENT_FIELDS)
        .collect()
}

/// The value of field `name` in `event`: the member of that name, else the dotted path
/// (`process.command_line`), else the first member of that name (ASCII case ignored, not an
/// object) here or nested at most `depth` objects down.
fn find<'a>(event: &'a Value, name: &str, depth: usize) -> Option<&'a Value> {
    let object = event.as_object()?;
    if let Some(v) = object.get(name) {
        return Some(v);
    }
    if name.contains('.') {
        let path = name
            .split('.')
            .try_fold(event, |v, part| v.as_object()?.get(part));
        if path.is_some() {
            return path;
        }
    }
    // A nested object of that name (`user` for `User`) is not the field.
    if let Some((_, v)) = object
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_object())
    {
        return Some(v);
    }
    if depth == 0 {
        return None;
    }
    object
        .values()
        .filter(|v| v.is_object())
        .find_map(|v| find(v, name, depth - 1))
}

/// `text` as one line of at most [`MAX_VALUE_CHARS`] characters, the last one `…` when cut.
fn line(text: &str) -> String {
    let text = vigil_core::one_line(text);
    if text.chars().count() <= MAX_VALUE_CHARS {
        return text.into_owned();
    }
    let mut out: String = text.chars().take(MAX_VALUE_CHARS - 1).collect();
    out.push('…');
    out
}

/// An instant as pages write it: `2019-06-21T10:02:11Z`.
fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_rules_fields_win_over_the_key_fields_and_nested_fields_are_found() {
        let event = json!({
            "Event": {"EventData": {"Image": "C:\\dump.exe", "Hashes": "SHA256=ab"}},
            "process": {"command_line": "dump --all"},
        });
        assert_eq!(
            event_fields(&event, &["Hashes".to_owned(), "Missing".to_owned()]),
            [("event.Hashes".to_owned(), "SHA256=ab".to_owned())]
        );
        assert_eq!(
            event_fields(&event, &[]),
            [
                ("event.Image".to_owned(), "C:\\dump.exe".to_owned()),
                (
                    "event.process.command_line".to_owned(),
                    "dump --all".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn values_are_one_short_line() {
        let event =
            json!({"CommandLine": format!("a\r\nBcc: x@y\n{}", "z".repeat(500)), "Pid": 42});
        let fields = event_fields(&event, &["CommandLine".to_owned(), "Pid".to_owned()]);
        let (_, command) = &fields[0];
        assert!(!command.contains(['\r', '\n']), "{command}");
        assert!(
            command.starts_with("a\u{fffd}\u{fffd}Bcc: x@y"),
            "{command}"
        );
        assert_eq!(command.chars().count(), MAX_VALUE_CHARS);
        assert!(command.ends_with('…'));
        assert_eq!(fields[1], ("event.Pid".to_owned(), "42".to_owned()));
    }

    #[test]
    fn at_most_a_handful_of_fields() {
        let event: serde_json::Map<String, Value> = KEY_FIELDS
            .iter()
            .map(|f| ((*f).to_owned(), json!("v")))
            .collect();
        assert_eq!(
            event_fields(&Value::Object(event), &[]).len(),
            MAX_EVENT_FIELDS
        );
    }
}
