//! JSON events: one JSON object (a line of JSON lines, an element of a JSON array, or an EVTX
//! record decoded to JSON) that the detection engine can look Sigma fields up in.
//!
//! Field resolution, in order:
//! 1. Windows event-log records (`Event.System` present, as `evtx_dump -o jsonl` writes them):
//!    `EventID`, `Channel`, `Computer`, `EventRecordID`, `Level`, `Task`, `Opcode`, `Keywords`,
//!    `Version` come from `Event.System`; `Provider_Name` (also `ProviderName`, `Provider`)
//!    from `Event.System.Provider.#attributes.Name`; `TimeCreated` from its `SystemTime`;
//!    any other name from `Event.EventData.<name>`, then from the children of
//!    `Event.UserData`. Values written as `{"#text": v, "#attributes": …}` are read as `v`.
//! 2. Any event: a top-level key equal to the whole name (keys may contain dots), then the
//!    name as a dotted path (`Event.EventData.Image`, `process.name`).
//!
//! Arrays yield each of their scalar elements.

use std::borrow::Cow;

use serde_json::Value;
use vigil_detect::{Event, FieldValue};

/// A JSON decoding error.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The text is not valid JSON.
    #[error(
        "invalid JSON: {0}; check that the file holds one JSON object per line or a JSON array"
    )]
    Syntax(#[from] serde_json::Error),
    /// The JSON is valid but not an object.
    #[error("the JSON value is not an object; events must be JSON objects")]
    NotAnObject,
}

/// One JSON event.
#[derive(Debug, Clone)]
pub struct JsonEvent {
    root: Value,
    windows: bool,
    /// Whether some `Event.EventData` key contains a space (checked once, so that lookups of
    /// absent fields skip the space-insensitive fallback in the common case).
    spaced_keys: bool,
}

/// The `Event.System` children a Sigma field name refers to directly.
fn is_system_field(field: &str) -> bool {
    matches!(
        field,
        "EventID"
            | "Channel"
            | "Computer"
            | "EventRecordID"
            | "Level"
            | "Task"
            | "Opcode"
            | "Keywords"
            | "Version"
            | "Correlation"
            | "Execution"
            | "Security"
    )
}

impl JsonEvent {
    /// Parses one JSON object.
    pub fn parse(text: &str) -> Result<JsonEvent, JsonError> {
        JsonEvent::from_value(serde_json::from_str(text)?)
    }

    /// Wraps an already decoded JSON object (for example an EVTX record from the `evtx` crate).
    pub fn from_value(root: Value) -> Result<JsonEvent, JsonError> {
        if !root.is_object() {
            return Err(JsonError::NotAnObject);
        }
        let windows = root
            .get("Event")
            .and_then(|e| e.get("System"))
            .is_some_and(Value::is_object);
        let spaced_keys = windows
            && root
                .get("Event")
                .and_then(|e| e.get("EventData"))
                .and_then(Value::as_object)
                .is_some_and(|m| m.keys().any(|k| k.contains(' ')));
        Ok(JsonEvent {
            root,
            windows,
            spaced_keys,
        })
    }

    /// The JSON value.
    pub fn value(&self) -> &Value {
        &self.root
    }

    /// Whether the event is a Windows event-log record (`Event.System` present).
    pub fn is_windows(&self) -> bool {
        self.windows
    }

    fn system(&self) -> Option<&Value> {
        self.root.get("Event")?.get("System")
    }

    /// The value a Sigma field name refers to.
    pub fn lookup(&self, field: &str) -> Option<&Value> {
        if let Some(v) = self.windows.then(|| self.windows_lookup(field)).flatten() {
            return Some(v);
        }
        if let Some(v) = self.root.get(field) {
            return Some(v);
        }
        if field.contains('.') {
            let mut cur = &self.root;
            for part in field.split('.') {
                cur = cur.get(part)?;
            }
            return Some(cur);
        }
        None
    }

    fn windows_lookup(&self, field: &str) -> Option<&Value> {
        let system = self.system()?;
        if is_system_field(field) {
            return system.get(field);
        }
        match field {
            "Provider_Name" | "ProviderName" | "Provider" => {
                return system.get("Provider")?.get("#attributes")?.get("Name");
            }
            "TimeCreated" | "SystemTime" => {
                return system
                    .get("TimeCreated")?
                    .get("#attributes")?
                    .get("SystemTime");
            }
            _ => {}
        }
        let event = self.root.get("Event")?;
        if let Some(data) = event.get("EventData") {
            if let Some(v) = data.get(field) {
                return Some(v);
            }
            // Some providers (Windows Defender) name their data with spaces ("Threat Name");
            // Sigma rules write them without ("ThreatName").
            if let (true, Value::Object(map)) = (self.spaced_keys, data) {
                for (k, v) in map {
                    if k.contains(' ') && eq_without_spaces(k, field) {
                        return Some(v);
                    }
                }
            }
        }
        if let Some(Value::Object(user)) = event.get("UserData") {
            for child in user.values() {
                if let Some(v) = child.get(field) {
                    return Some(v);
                }
            }
        }
        None
    }
}

fn eq_without_spaces(key: &str, field: &str) -> bool {
    key.bytes().filter(|b| *b != b' ').eq(field.bytes())
}

fn scalar(v: &Value) -> Option<FieldValue<'_>> {
    Some(match v {
        Value::String(s) => FieldValue::Str(Cow::Borrowed(s)),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                FieldValue::Int(i)
            } else if let Some(u) = n.as_u64() {
                FieldValue::UInt(u)
            } else {
                FieldValue::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::Bool(b) => FieldValue::Bool(*b),
        Value::Null => FieldValue::Null,
        Value::Object(o) => return o.get("#text").and_then(scalar),
        Value::Array(_) => return None,
    })
}

fn visit_value(v: &Value, visit: &mut dyn FnMut(&FieldValue<'_>)) {
    match v {
        Value::Array(items) => {
            for i in items {
                if let Some(s) = scalar(i) {
                    visit(&s);
                }
            }
        }
        other => {
            if let Some(s) = scalar(other) {
                visit(&s);
            }
        }
    }
}

fn visit_all(v: &Value, visit: &mut dyn FnMut(&FieldValue<'_>)) {
    match v {
        Value::Object(o) => o.values().for_each(|v| visit_all(v, visit)),
        Value::Array(a) => a.iter().for_each(|v| visit_all(v, visit)),
        Value::Null => {}
        other => {
            if let Some(s) = scalar(other) {
                visit(&s);
            }
        }
    }
}

impl Event for JsonEvent {
    fn field_values(&self, field: &str, visit: &mut dyn FnMut(&FieldValue<'_>)) -> bool {
        match self.lookup(field) {
            Some(v) => {
                visit_value(v, visit);
                true
            }
            None => false,
        }
    }

    fn for_each_value(&self, visit: &mut dyn FnMut(&FieldValue<'_>)) {
        if self.windows {
            // Keyword searches look at the event's data, not at the XML namespace or GUIDs.
            if let Some(event) = self.root.get("Event") {
                for key in ["EventData", "UserData"] {
                    if let Some(v) = event.get(key) {
                        visit_all(v, visit);
                    }
                }
            }
            return;
        }
        visit_all(&self.root, visit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSMON: &str = r##"{"Event":{"#attributes":{"xmlns":"x"},"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon"}},"EventID":1,"EventRecordID":7,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"PC1","TimeCreated":{"#attributes":{"SystemTime":"2019-04-27T15:57:25.8688632Z"}}},"EventData":{"Image":"C:\\Windows\\cmd.exe","ProcessId":2772,"Hashes":null}}}"##;

    fn values(e: &JsonEvent, field: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        let present = e.field_values(field, &mut |v| out.push(format!("{v:?}")));
        present.then_some(out)
    }

    #[test]
    fn windows_fields_resolve() {
        let e = JsonEvent::parse(SYSMON).unwrap();
        assert!(e.is_windows());
        assert_eq!(values(&e, "EventID").unwrap(), vec!["Int(1)"]);
        assert_eq!(values(&e, "Channel").unwrap().len(), 1);
        assert_eq!(
            values(&e, "Provider_Name").unwrap(),
            vec!["Str(\"Microsoft-Windows-Sysmon\")"]
        );
        assert_eq!(
            values(&e, "Image").unwrap(),
            vec!["Str(\"C:\\\\Windows\\\\cmd.exe\")"]
        );
        assert_eq!(
            values(&e, "Event.EventData.ProcessId").unwrap(),
            vec!["Int(2772)"]
        );
        assert_eq!(values(&e, "Hashes").unwrap(), vec!["Null"]);
        assert_eq!(values(&e, "Nope"), None);
    }

    #[test]
    fn text_attributes_userdata_and_plain_json() {
        let e = JsonEvent::parse(r##"{"Event":{"System":{"EventID":{"#text":4624,"#attributes":{"Qualifiers":0}}},"UserData":{"LogFileCleared":{"SubjectUserName":"bob"}}}}"##).unwrap();
        assert_eq!(values(&e, "EventID").unwrap(), vec!["Int(4624)"]);
        assert_eq!(values(&e, "SubjectUserName").unwrap(), vec!["Str(\"bob\")"]);
        let e = JsonEvent::parse(
            r##"{"Event":{"System":{"EventID":1116},"EventData":{"Threat Name":"EICAR"}}}"##,
        )
        .unwrap();
        assert_eq!(values(&e, "ThreatName").unwrap(), vec!["Str(\"EICAR\")"]);
        let e = JsonEvent::parse(r##"{"process.name":"a","process":{"args":["x","y"]}}"##).unwrap();
        assert_eq!(values(&e, "process.name").unwrap(), vec!["Str(\"a\")"]);
        assert_eq!(values(&e, "process.args").unwrap().len(), 2);
        assert!(JsonEvent::parse("[1]").is_err());
        assert!(JsonEvent::parse("{").is_err());
    }
}
