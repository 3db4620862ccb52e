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
use std::sync::OnceLock;

use serde_json::Value;
use sonic_rs::{JsonNumberTrait as _, JsonValueTrait as _};
use vigil_detect::{Event, FieldSink, FieldValue};

/// A JSON decoding error.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The text is not valid JSON.
    #[error(
        "invalid JSON: {0}; check that the file holds one JSON object per line or a JSON array"
    )]
    Syntax(#[from] serde_json::Error),
    /// The text is not valid JSON (fast parser). Only the first line of the parser's message
    /// is shown: the rest quotes the offending bytes, which may be control characters.
    #[error(
        "invalid JSON: {}; check that the file holds one JSON object per line or a JSON array",
        first_line(.0)
    )]
    FastSyntax(#[from] sonic_rs::Error),
    /// The JSON is valid but not an object.
    #[error("the JSON value is not an object; events must be JSON objects")]
    NotAnObject,
    /// Objects and arrays nest deeper than [`MAX_NESTING`].
    #[error("the event nests objects and arrays more than {MAX_NESTING} levels deep; flatten it")]
    TooDeep,
}

/// How deeply an event may nest objects and arrays. The parsers recurse on nesting, so a
/// document nested a hundred thousand deep would overflow a thread's stack (and abort the
/// process); the log index parses events with serde_json, which stops at 128.
pub const MAX_NESTING: usize = 100;

/// Whether `bytes` (JSON) nests objects and arrays deeper than `limit`. Most events hold fewer
/// brackets than the limit in all, which memchr's SIMD search shows at little cost (a plain
/// byte count took 0.5 µs per 1.3 kB event, a third of parsing it); only the others are
/// scanned bracket by bracket, outside strings.
pub fn nests_deeper_than(bytes: &[u8], limit: usize) -> bool {
    if memchr::memchr2_iter(b'{', b'[', bytes).nth(limit).is_none() {
        return false;
    }
    let mut depth = 0usize;
    let mut scan = Structure::default();
    for &b in bytes {
        match scan.step(b) {
            Some(b'{' | b'[') => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            Some(b'}' | b']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Reads JSON text byte by byte for its structure alone: which bytes are brackets and commas
/// outside strings. Not a validator.
#[derive(Debug, Default)]
pub(crate) struct Structure {
    in_string: bool,
    escaped: bool,
}

impl Structure {
    /// `Some(b)` when `b` is `{`, `}`, `[`, `]` or `,` outside a string.
    pub(crate) fn step(&mut self, b: u8) -> Option<u8> {
        if self.in_string {
            match b {
                _ if self.escaped => self.escaped = false,
                b'\\' => self.escaped = true,
                b'"' => self.in_string = false,
                _ => {}
            }
            return None;
        }
        match b {
            b'"' => {
                self.in_string = true;
                None
            }
            b'{' | b'}' | b'[' | b']' | b',' => Some(b),
            _ => None,
        }
    }
}

/// The first line of an error's message.
pub(crate) fn first_line(error: &impl std::fmt::Display) -> String {
    let text = error.to_string();
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_owned()
}

/// The decoded document, from either JSON backend.
#[derive(Debug, Clone)]
enum Root {
    /// Built by `serde_json` (EVTX records, callers holding a `serde_json::Value`).
    Serde(Value),
    /// Parsed by `sonic-rs` from text; converted to `serde_json` only when asked for.
    Sonic(sonic_rs::Value, OnceLock<Value>),
}

/// One JSON event.
#[derive(Debug, Clone)]
pub struct JsonEvent {
    root: Root,
    windows: bool,
    /// Whether some `Event.EventData` key contains a space (checked once, so that lookups of
    /// absent fields skip the space-insensitive fallback in the common case).
    spaced_keys: bool,
    /// The JSON text the event was parsed from: keyword searches scan it whole (see
    /// [`Event::keyword_text`]) instead of walking every value.
    text: Option<Box<str>>,
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

/// What a JSON node is, without its children.
enum Kind<'a> {
    Scalar(FieldValue<'a>),
    Object,
    Array,
}

/// A read-only view of a JSON node, implemented for both backends.
trait Node<'a>: Copy + 'a {
    fn get(self, key: &str) -> Option<Self>;
    fn kind(self) -> Kind<'a>;
    /// Calls `f` with each (key, value) of an object, or each element of an array, until it
    /// returns true; returns the value it stopped at.
    fn find_child(self, f: &mut dyn FnMut(&'a str, Self) -> bool) -> Option<Self>;
    /// The node as compact JSON text.
    fn json_text(self) -> String;
}

/// How a value reads in a table: a string as it is, nothing for null, an element's `#text`,
/// anything else as compact JSON.
fn display_text<'a, N: Node<'a>>(node: N) -> String {
    match node.kind() {
        Kind::Scalar(FieldValue::Str(s)) => s.into_owned(),
        Kind::Scalar(FieldValue::Null) => String::new(),
        Kind::Object => match node.get("#text") {
            Some(text) => display_text(text),
            None => node.json_text(),
        },
        _ => node.json_text(),
    }
}

impl<'a> Node<'a> for &'a Value {
    fn get(self, key: &str) -> Option<Self> {
        Value::get(self, key)
    }
    fn kind(self) -> Kind<'a> {
        Kind::Scalar(match self {
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
            Value::Object(_) => return Kind::Object,
            Value::Array(_) => return Kind::Array,
        })
    }
    fn find_child(self, f: &mut dyn FnMut(&'a str, Self) -> bool) -> Option<Self> {
        match self {
            Value::Object(m) => m.iter().find(|(k, v)| f(k, v)).map(|(_, v)| v),
            Value::Array(a) => a.iter().find(|v| f("", v)),
            _ => None,
        }
    }
    fn json_text(self) -> String {
        self.to_string()
    }
}

impl<'a> Node<'a> for &'a sonic_rs::Value {
    fn get(self, key: &str) -> Option<Self> {
        sonic_rs::JsonValueTrait::get(self, key)
    }
    fn kind(self) -> Kind<'a> {
        use sonic_rs::ValueRef;
        // One look at the node: each typed accessor of sonic-rs decodes it again.
        Kind::Scalar(match self.as_ref() {
            ValueRef::String(s) => FieldValue::Str(Cow::Borrowed(s)),
            ValueRef::Number(n) => {
                if let Some(i) = n.as_i64() {
                    FieldValue::Int(i)
                } else if let Some(u) = n.as_u64() {
                    FieldValue::UInt(u)
                } else {
                    FieldValue::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            ValueRef::Bool(b) => FieldValue::Bool(b),
            ValueRef::Null => FieldValue::Null,
            ValueRef::Object(_) => return Kind::Object,
            ValueRef::Array(_) => return Kind::Array,
        })
    }
    fn find_child(self, f: &mut dyn FnMut(&'a str, Self) -> bool) -> Option<Self> {
        use sonic_rs::ValueRef;
        match self.as_ref() {
            ValueRef::Object(o) => o.iter().find(|(k, v)| f(k, v)).map(|(_, v)| v),
            ValueRef::Array(a) => a.iter().find(|v| f("", v)),
            _ => None,
        }
    }
    fn json_text(self) -> String {
        sonic_rs::to_string(self).unwrap_or_default()
    }
}

/// The keys an event's time is read from, first to last (after a Windows record's
/// `Event.System.TimeCreated`): Elastic's and most shippers' `@timestamp`, `timestamp`;
/// `time` (Go's log/slog and logrus, Bunyan, Docker's json-file log, Azure Monitor's exports);
/// Windows exports' `TimeCreated`; Sysmon's `UtcTime`; fluent-bit's `date`; then the keys of
/// services that write their own: AWS CloudTrail's `eventTime`, Okta's System Log `published`,
/// Kubernetes audit's `requestReceivedTimestamp` (when the request came) before its
/// `stageTimestamp`, Entra ID (Azure AD) sign-ins' `createdDateTime`, Zeek's `ts`. Those come
/// last, so an event that also holds one of the first keys keeps the time it had.
/// docs/query.md lists them.
pub const EVENT_TIME_KEYS: [&str; 12] = [
    "@timestamp",
    "timestamp",
    "time",
    "TimeCreated",
    "UtcTime",
    "date",
    "eventTime",
    "published",
    "requestReceivedTimestamp",
    "stageTimestamp",
    "createdDateTime",
    "ts",
];

// [`timestamp_in`] marks the time keys an event holds in a `u32`.
const _: () = assert!(EVENT_TIME_KEYS.len() <= 32);

/// See [`JsonEvent::timestamp`].
/// `windows`: whether the event is a Windows record ([`classify`]); only those can hold
/// `Event.System.TimeCreated`, and looking for it in others costs a scan of their keys.
fn timestamp_in<'a, N: Node<'a>>(root: N, windows: bool) -> Option<i64> {
    if windows
        && let Some(FieldValue::Str(t)) = root
            .get("Event")
            .and_then(|e| e.get("System"))
            .and_then(|s| s.get("TimeCreated"))
            .and_then(|t| t.get("#attributes"))
            .and_then(|a| a.get("SystemTime"))
            .and_then(|t| match t.kind() {
                Kind::Scalar(v) => Some(v),
                _ => None,
            })
    {
        return crate::time::parse_timestamp(&t);
    }
    // One pass over the root's keys, rather than a lookup for each time key (each a pass over
    // the keys of a sonic-rs object): a key is compared with the time keys by length first, so
    // most cost a dozen integer comparisons. The best-ranked key holding a time wins; the
    // first of a key written twice counts, as a lookup's would. `@timestamp` holding a time
    // ends the pass: most shippers write it first.
    let mut met = 0u32;
    let mut best: Option<(usize, i64)> = None;
    root.find_child(&mut |key, value| {
        let Some(rank) = EVENT_TIME_KEYS.iter().position(|k| *k == key) else {
            return false;
        };
        let first = met & (1 << rank) == 0;
        met |= 1 << rank;
        if first
            && best.is_none_or(|(better, _)| rank < better)
            && let Some(ms) = event_time(value)
        {
            best = Some((rank, ms));
        }
        best.is_some_and(|(rank, _)| rank == 0)
    });
    best.map(|(_, ms)| ms)
}

/// The time a value under one of [`EVENT_TIME_KEYS`] holds. A value that is no time (a date
/// alone, a count, a duration) holds none, and leaves the next key to say.
fn event_time<'a, N: Node<'a>>(value: N) -> Option<i64> {
    let Kind::Scalar(value) = value.kind() else {
        return None;
    };
    match value {
        FieldValue::Str(s) => crate::time::parse_event_time(&s)
            // Epoch time written as text, as some shippers do.
            .or_else(|| crate::time::epoch_text_ms(&s)),
        FieldValue::Int(i) => crate::time::epoch_integer_ms(i128::from(i)),
        FieldValue::UInt(u) => crate::time::epoch_integer_ms(i128::from(u)),
        FieldValue::Float(f) => crate::time::epoch_float_ms(f),
        _ => None,
    }
}

fn is_object<'a, N: Node<'a>>(n: N) -> bool {
    matches!(n.kind(), Kind::Object)
}

fn classify<'a, N: Node<'a>>(root: N) -> (bool, bool) {
    let windows = root
        .get("Event")
        .and_then(|e| e.get("System"))
        .is_some_and(is_object);
    let spaced = windows
        && root
            .get("Event")
            .and_then(|e| e.get("EventData"))
            .and_then(|d| d.find_child(&mut |k, _| k.contains(' ')))
            .is_some();
    (windows, spaced)
}

fn lookup_in<'a, N: Node<'a>>(root: N, windows: bool, spaced: bool, field: &str) -> Option<N> {
    if let Some(v) = windows
        .then(|| windows_lookup(root, spaced, field))
        .flatten()
    {
        return Some(v);
    }
    if let Some(v) = root.get(field) {
        return Some(v);
    }
    if field.contains('.') {
        let mut cur = root;
        for part in field.split('.') {
            cur = cur.get(part)?;
        }
        return Some(cur);
    }
    None
}

fn windows_lookup<'a, N: Node<'a>>(root: N, spaced: bool, field: &str) -> Option<N> {
    let event = root.get("Event")?;
    let system = event.get("System")?;
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
    if let Some(data) = event.get("EventData") {
        if let Some(v) = data.get(field) {
            return Some(v);
        }
        // Some providers (Windows Defender) name their data with spaces ("Threat Name");
        // Sigma rules write them without ("ThreatName").
        let spaced_match = spaced
            .then(|| data.find_child(&mut |k, _| k.contains(' ') && eq_without_spaces(k, field)))
            .flatten();
        if let Some(v) = spaced_match {
            return Some(v);
        }
    }
    let user = event.get("UserData")?;
    let mut found = None;
    user.find_child(&mut |_, child| {
        found = child.get(field);
        found.is_some()
    });
    found
}

fn eq_without_spaces(key: &str, field: &str) -> bool {
    key.bytes().filter(|b| *b != b' ').eq(field.bytes())
}

/// The scalar a node stands for: itself, or its `#text` when it is an XML element object.
fn scalar<'a, N: Node<'a>>(v: N) -> Option<FieldValue<'a>> {
    match v.kind() {
        Kind::Scalar(s) => Some(s),
        Kind::Object => v.get("#text").and_then(scalar),
        Kind::Array => None,
    }
}

/// Visits the scalar values of a field: itself, each element of a list, or the `#text` of an
/// XML element object — which is itself a list when an event writes several unnamed `<Data>`
/// values (`"Data": {"#text": ["a", "b"]}`).
fn visit_value<'a, N: Node<'a>>(v: N, visit: &mut dyn FnMut(&FieldValue<'_>)) {
    match v.kind() {
        Kind::Array => {
            v.find_child(&mut |_, item| {
                if let Some(s) = scalar(item) {
                    visit(&s);
                }
                false
            });
        }
        Kind::Object => {
            if let Some(text) = v.get("#text") {
                if matches!(text.kind(), Kind::Array) {
                    visit_value(text, visit);
                } else if let Some(s) = scalar(text) {
                    visit(&s);
                }
            }
        }
        Kind::Scalar(s) => visit(&s),
    }
}

fn visit_all<'a, N: Node<'a>>(v: N, visit: &mut dyn FnMut(&FieldValue<'_>)) {
    match v.kind() {
        Kind::Object | Kind::Array => {
            v.find_child(&mut |_, child| {
                visit_all(child, visit);
                false
            });
        }
        Kind::Scalar(FieldValue::Null) => {}
        Kind::Scalar(s) => visit(&s),
    }
}

fn field_values_in<'a, N: Node<'a>>(
    e: &JsonEvent,
    root: N,
    field: &str,
    visit: &mut dyn FnMut(&FieldValue<'_>),
) -> bool {
    match lookup_in(root, e.windows, e.spaced_keys, field) {
        Some(v) => {
            visit_value(v, visit);
            true
        }
        None if field.contains('.') => {
            visit_path_through_lists(root, field, &mut |v| visit_value(v, visit))
        }
        None => false,
    }
}

/// A dotted path that meets a list of objects on its way (`items.name` in `{"items": [{"name":
/// "a"}, {"name": "b"}]}`) goes on in each of them, as Elasticsearch, OpenSearch and Splunk's
/// `spath` read such paths, and so as the Sigma backends for them match: the field holds
/// every value found. `visit` is given each node the path ends at. Returns whether any element
/// had the rest of the path.
fn visit_path_through_lists<'a, N: Node<'a>>(
    node: N,
    path: &str,
    visit: &mut dyn FnMut(N),
) -> bool {
    match node.kind() {
        Kind::Array => {
            let mut found = false;
            node.find_child(&mut |_, item| {
                found |= visit_path_through_lists(item, path, visit);
                false
            });
            found
        }
        Kind::Object => {
            // A key may hold dots itself (`{"a.b": 1}`).
            if let Some(v) = node.get(path) {
                visit(v);
                return true;
            }
            let Some((first, rest)) = path.split_once('.') else {
                return false;
            };
            node.get(first)
                .is_some_and(|next| visit_path_through_lists(next, rest, visit))
        }
        Kind::Scalar(_) => false,
    }
}

/// What a field name refers to, for output: one node, or the values a dotted path found
/// through lists of objects (the scalar nodes [`visit_value`] reads them from).
enum Found<N> {
    Node(N),
    Values(Vec<N>),
}

impl<'a, N: Node<'a>> Found<N> {
    /// See [`JsonEvent::lookup_text`].
    fn text(&self) -> String {
        match self {
            Found::Node(node) => display_text(*node),
            Found::Values(nodes) if nodes.len() == 1 => display_text(nodes[0]),
            Found::Values(nodes) => {
                let items: Vec<String> = nodes.iter().map(|n| n.json_text()).collect();
                format!("[{}]", items.join(","))
            }
        }
    }

    /// Whether the text holds a number the parser keeps as a float: one that its text could
    /// spell otherwise than it was written (`1e3` as `1000.0`, a 30-digit integer rounded).
    /// Integers of 64 bits have one spelling.
    fn holds_float(&self) -> bool {
        match self {
            Found::Node(node) => holds_float(*node),
            Found::Values(nodes) => nodes.iter().any(|n| holds_float(*n)),
        }
    }
}

fn holds_float<'a, N: Node<'a>>(node: N) -> bool {
    match node.kind() {
        Kind::Scalar(FieldValue::Float(_)) => true,
        Kind::Scalar(_) => false,
        Kind::Object | Kind::Array => node.find_child(&mut |_, c| holds_float(c)).is_some(),
    }
}

/// The scalar node a node stands for, as [`scalar`] reads it.
fn scalar_node<'a, N: Node<'a>>(v: N) -> Option<N> {
    match v.kind() {
        Kind::Scalar(_) => Some(v),
        Kind::Object => v.get("#text").and_then(scalar_node),
        Kind::Array => None,
    }
}

/// The nodes of the values [`visit_value`] gives.
fn value_nodes<'a, N: Node<'a>>(v: N, out: &mut Vec<N>) {
    match v.kind() {
        Kind::Array => {
            v.find_child(&mut |_, item| {
                out.extend(scalar_node(item));
                false
            });
        }
        Kind::Object => {
            if let Some(text) = v.get("#text") {
                if matches!(text.kind(), Kind::Array) {
                    value_nodes(text, out);
                } else {
                    out.extend(scalar_node(text));
                }
            }
        }
        Kind::Scalar(_) => out.push(v),
    }
}

fn found_in<'a, N: Node<'a>>(e: &JsonEvent, root: N, field: &str) -> Option<Found<N>> {
    if let Some(node) = lookup_in(root, e.windows, e.spaced_keys, field) {
        return Some(Found::Node(node));
    }
    if !field.contains('.') {
        return None;
    }
    let mut found = Vec::new();
    visit_path_through_lists(root, field, &mut |v| value_nodes(v, &mut found));
    (!found.is_empty()).then_some(Found::Values(found))
}

/// The JSON document in `text` as a `serde_json::Value` to show its values from (a table's
/// summary of an event): each number `serde_json` would write otherwise than it is written
/// (`1e3` as `1000.0`, `1.50` as `1.5`, an integer beyond 64 bits rounded) is a string of its
/// own text; integers of 64 bits stay numbers. Not for matching or storing, where a number
/// must stay one.
pub fn value_as_written(text: &str) -> Result<Value, JsonError> {
    fn convert(v: &sonic_rs::Value) -> Value {
        use sonic_rs::ValueRef;
        if let Some(raw) = v.as_raw_number() {
            let raw = raw.as_str();
            let integer = raw
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| raw.parse::<u64>().map(Value::from));
            return match integer {
                // JSON writes an integer one way (no `+`, no leading zero), but for `-0`,
                // which reads as 0.
                Ok(n) if raw != "-0" => n,
                _ => Value::String(raw.to_owned()),
            };
        }
        match v.as_ref() {
            ValueRef::Null => Value::Null,
            ValueRef::Bool(b) => Value::Bool(b),
            ValueRef::String(s) => Value::String(s.to_owned()),
            ValueRef::Number(n) => serde_json::Number::from_f64(n.as_f64().unwrap_or(f64::NAN))
                .map_or(Value::Null, Value::Number),
            ValueRef::Array(a) => Value::Array(a.iter().map(convert).collect()),
            ValueRef::Object(o) => {
                Value::Object(o.iter().map(|(k, v)| (k.to_owned(), convert(v))).collect())
            }
        }
    }
    if nests_deeper_than(text.as_bytes(), MAX_NESTING) {
        return Err(JsonError::TooDeep);
    }
    let parsed: sonic_rs::Value = sonic_rs::Deserializer::from_str(text)
        .use_rawnumber()
        .deserialize()?;
    Ok(convert(&parsed))
}

/// `text` parsed again with each number kept as written, for showing values: matching reads
/// numbers as parsed, and a float's text would then be written otherwise (`1e3` as `1000.0`).
fn parse_as_written(text: &str) -> Option<sonic_rs::Value> {
    sonic_rs::Deserializer::from_str(text)
        .use_rawnumber()
        .deserialize()
        .ok()
}

fn for_each_value_in<'a, N: Node<'a>>(
    windows: bool,
    root: N,
    visit: &mut dyn FnMut(&FieldValue<'_>),
) {
    if windows {
        // Keyword searches look at the event's data, not at the XML namespace or GUIDs.
        if let Some(event) = root.get("Event") {
            for key in ["EventData", "UserData"] {
                if let Some(v) = event.get(key) {
                    visit_all(v, visit);
                }
            }
        }
        return;
    }
    visit_all(root, visit);
}

/// Names a Windows record answers from `Event.System` whether or not the node exists: they are
/// never read from `Event.EventData` or `Event.UserData`.
fn is_reserved_windows_name(name: &str) -> bool {
    is_system_field(name)
        || matches!(
            name,
            "Provider_Name" | "ProviderName" | "Provider" | "TimeCreated" | "SystemTime"
        )
}

/// Gives a node to the sink under `name`, with its values as [`visit_value`] yields them.
fn emit<'a, N: Node<'a>>(sink: &mut dyn FieldSink, name: &str, node: N) {
    if sink.field(name) {
        visit_value(node, &mut |v| sink.value(v));
    }
}

/// The one-pass form of [`lookup_in`]: every node under each name that resolves to it, in
/// the order `lookup_in` tries them (dotted paths excepted, see [`Event::for_each_field`]).
fn fields_in<'a, N: Node<'a>>(root: N, windows: bool, spaced: bool, sink: &mut dyn FieldSink) {
    if windows
        && let Some(event) = root.get("Event")
        && let Some(system) = event.get("System")
    {
        system.find_child(&mut |k, n| {
            if is_system_field(k) {
                emit(sink, k, n);
            } else if k == "Provider" {
                if let Some(name) = n.get("#attributes").and_then(|a| a.get("Name")) {
                    for alias in ["Provider_Name", "ProviderName", "Provider"] {
                        emit(sink, alias, name);
                    }
                }
            } else if k == "TimeCreated"
                && let Some(t) = n.get("#attributes").and_then(|a| a.get("SystemTime"))
            {
                for alias in ["TimeCreated", "SystemTime"] {
                    emit(sink, alias, t);
                }
            }
            false
        });
        if let Some(data) = event.get("EventData").filter(|d| is_object(*d)) {
            data.find_child(&mut |k, n| {
                if !is_reserved_windows_name(k) {
                    emit(sink, k, n);
                }
                false
            });
            if spaced {
                let mut name = String::new();
                data.find_child(&mut |k, n| {
                    if k.contains(' ') {
                        name.clear();
                        name.extend(k.chars().filter(|c| *c != ' '));
                        if !is_reserved_windows_name(&name) {
                            emit(sink, &name, n);
                        }
                    }
                    false
                });
            }
        }
        if let Some(user) = event.get("UserData") {
            user.find_child(&mut |_, child| {
                if is_object(child) {
                    child.find_child(&mut |k, n| {
                        if !is_reserved_windows_name(k) {
                            emit(sink, k, n);
                        }
                        false
                    });
                }
                false
            });
        }
    }
    root.find_child(&mut |k, n| {
        emit(sink, k, n);
        false
    });
}

impl JsonEvent {
    /// Parses one JSON object with the fast parser (`sonic-rs`). Prefer it (or
    /// [`JsonEvent::parse_bytes`]) for JSON lines: it is several times faster than building a
    /// `serde_json::Value` first.
    pub fn parse(text: &str) -> Result<JsonEvent, JsonError> {
        JsonEvent::parse_bytes(text.as_bytes())
    }

    /// Parses one JSON object from bytes with the fast parser (`sonic-rs`).
    pub fn parse_bytes(bytes: &[u8]) -> Result<JsonEvent, JsonError> {
        JsonEvent::parse_owned(bytes.to_vec())
    }

    /// Parses one JSON object with the fast parser, keeping the text without copying it (see
    /// [`JsonEvent::into_text`]).
    pub fn parse_owned(text: Vec<u8>) -> Result<JsonEvent, JsonError> {
        if nests_deeper_than(&text, MAX_NESTING) {
            return Err(JsonError::TooDeep);
        }
        let v: sonic_rs::Value = sonic_rs::from_slice(&text)?;
        if !v.is_object() {
            return Err(JsonError::NotAnObject);
        }
        // Valid JSON is UTF-8: sonic-rs checked it.
        let text = String::from_utf8(text).ok().map(String::into_boxed_str);
        let (windows, spaced_keys) = classify(&v);
        Ok(JsonEvent {
            root: Root::Sonic(v, OnceLock::new()),
            windows,
            spaced_keys,
            text,
        })
    }

    /// The event as JSON text: the text it was parsed from (moved out, not copied), or the
    /// document written compactly.
    pub fn into_text(self) -> String {
        match self.text {
            Some(text) => text.into_string(),
            None => self.to_json(),
        }
    }

    /// [`JsonEvent::into_text`] for an event that is still needed: a copy of its text.
    pub fn to_text(&self) -> String {
        match &self.text {
            Some(text) => text.to_string(),
            None => self.to_json(),
        }
    }

    /// Wraps an already decoded JSON object (for example an EVTX record from the `evtx` crate).
    pub fn from_value(root: Value) -> Result<JsonEvent, JsonError> {
        if !root.is_object() {
            return Err(JsonError::NotAnObject);
        }
        let (windows, spaced_keys) = classify(&root);
        Ok(JsonEvent {
            root: Root::Serde(root),
            windows,
            spaced_keys,
            text: None,
        })
    }

    /// The JSON value (converted to `serde_json` on first use when parsed from text).
    pub fn value(&self) -> &Value {
        match &self.root {
            Root::Serde(v) => v,
            Root::Sonic(v, converted) => converted.get_or_init(|| {
                sonic_rs::to_string(v)
                    .ok()
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or(Value::Null)
            }),
        }
    }

    /// The event as JSON text (the parsed document written back, compact).
    pub fn to_json(&self) -> String {
        match &self.root {
            Root::Serde(v) => v.to_string(),
            Root::Sonic(v, _) => sonic_rs::to_string(v).unwrap_or_default(),
        }
    }

    /// When the event happened, in milliseconds since the epoch:
    /// `Event.System.TimeCreated.#attributes.SystemTime` for Windows event-log records, else
    /// the first of [`EVENT_TIME_KEYS`] that holds a time, else `None`. Text is a time as
    /// [`crate::time::parse_event_time`] reads it (not a date alone) or a number; numbers are
    /// seconds, milliseconds, microseconds or nanoseconds since 1970, whichever puts them in
    /// 2000 to 2099, and no time otherwise ([`crate::time::epoch_integer_ms`]): a count or a
    /// duration under one of these keys is not taken for the event's time.
    pub fn timestamp(&self) -> Option<i64> {
        match &self.root {
            Root::Serde(v) => timestamp_in(v, self.windows),
            Root::Sonic(v, _) => timestamp_in(v, self.windows),
        }
    }

    /// The host the event names: the first text of `Event.System.Computer` (Windows records),
    /// `Computer`, `host.name` (a key with a dot, or a `host` object), `hostname`, `host` (a
    /// Linux audit record's `node` instead of those two), `s-computername` (the server of a W3C
    /// web log).
    pub fn host(&self) -> Option<String> {
        fn text<'a, N: Node<'a>>(n: Option<N>) -> Option<String> {
            match n?.kind() {
                Kind::Scalar(FieldValue::Str(s)) if !s.trim().is_empty() => Some(s.into_owned()),
                Kind::Scalar(FieldValue::Int(i)) => Some(i.to_string()),
                Kind::Scalar(FieldValue::UInt(u)) => Some(u.to_string()),
                _ => None,
            }
        }
        fn read<'a, N: Node<'a>>(root: N, windows: bool) -> Option<String> {
            let system = || root.get("Event")?.get("System")?.get("Computer");
            windows
                .then(|| text(system()))
                .flatten()
                .or_else(|| text(root.get("Computer")))
                .or_else(|| text(root.get("host.name")))
                .or_else(|| text(root.get("host").and_then(|h| h.get("name"))))
                .or_else(|| {
                    // A Linux audit record's `hostname` is the remote end of a login (USER_*
                    // records); the machine that wrote it is its `node`. Carried by syslog, its
                    // `hostname` is the syslog header's, the machine's.
                    let audit = root.get(crate::auditd::AUDIT_LOG_FORMAT_FIELD).is_some()
                        && root.get(crate::syslog::SYSLOG_FORMAT_FIELD).is_none();
                    if audit {
                        text(root.get("node"))
                    } else {
                        text(root.get("hostname")).or_else(|| text(root.get("host")))
                    }
                })
                .or_else(|| text(root.get("s-computername")))
        }
        match &self.root {
            Root::Serde(v) => read(v, self.windows),
            Root::Sonic(v, _) => read(v, self.windows),
        }
    }

    /// `Event.System.EventRecordID` of a Windows record, written as a number or as text.
    pub fn event_record_id(&self) -> Option<u64> {
        fn read<'a, N: Node<'a>>(root: N) -> Option<u64> {
            let id = root.get("Event")?.get("System")?.get("EventRecordID")?;
            match scalar(id)? {
                FieldValue::UInt(u) => Some(u),
                FieldValue::Int(i) => u64::try_from(i).ok(),
                FieldValue::Str(s) => s.trim().parse().ok(),
                _ => None,
            }
        }
        match &self.root {
            Root::Serde(v) => read(v),
            Root::Sonic(v, _) => read(v),
        }
    }

    /// Whether the event is a Windows event-log record (`Event.System` present).
    pub fn is_windows(&self) -> bool {
        self.windows
    }

    /// How the value a Sigma field name refers to reads in a table (for output; matching uses
    /// the [`Event`] impl): a string as it is, nothing for null, an element's `#text`, anything
    /// else as compact JSON. Read from the event as parsed, without converting it.
    /// A path through lists of objects reads as its values, a JSON list when there are several.
    ///
    /// Numbers read as they were written in the text the event was parsed from (`1e3`, `1.50`,
    /// an integer beyond 64 bits): a value holding a float (the only numbers with another
    /// spelling) is looked up again in the text parsed with numbers kept as written, which
    /// costs a second parse of that event; other values, and matching, do not pay it.
    pub fn lookup_text(&self, field: &str) -> Option<String> {
        match &self.root {
            Root::Serde(v) => found_in(self, v, field).map(|f| f.text()),
            Root::Sonic(v, _) => {
                let found = found_in(self, v, field)?;
                if found.holds_float()
                    && let Some(written) = self.text.as_deref().and_then(parse_as_written)
                    && let Some(as_written) = found_in(self, &written, field)
                {
                    return Some(as_written.text());
                }
                Some(found.text())
            }
        }
    }

    /// Appends the event to `out` as JSON on one line: the text it was parsed from, as it was
    /// written (writing the parsed document again was ~5 % of hunting the shared EVTX samples
    /// to JSON lines, and wrote `1e3` as `1000.0`), with the line breaks of text written over
    /// several lines dropped ([`one_line`]); else (a decoded EVTX record) the document written
    /// compactly.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        if let Some(text) = &self.text {
            let text = text.trim();
            if memchr::memchr2(b'\n', b'\r', text.as_bytes()).is_none() {
                out.extend_from_slice(text.as_bytes());
            } else {
                one_line(text, out);
            }
            return;
        }
        // Into memory, a parsed document (string keys only) cannot fail to be written.
        let _ = match &self.root {
            Root::Serde(v) => serde_json::to_writer(&mut *out, v).map_err(|_| ()),
            Root::Sonic(v, _) => sonic_rs::to_writer(&mut *out, v).map_err(|_| ()),
        };
    }
}

impl Event for JsonEvent {
    fn field_values(&self, field: &str, visit: &mut dyn FnMut(&FieldValue<'_>)) -> bool {
        match &self.root {
            Root::Serde(v) => field_values_in(self, v, field, visit),
            Root::Sonic(v, _) => field_values_in(self, v, field, visit),
        }
    }

    fn is_windows_record(&self) -> bool {
        self.windows
    }

    fn for_each_field(&self, sink: &mut dyn FieldSink) -> bool {
        match &self.root {
            Root::Serde(v) => fields_in(v, self.windows, self.spaced_keys, sink),
            Root::Sonic(v, _) => fields_in(v, self.windows, self.spaced_keys, sink),
        }
        true
    }

    fn for_each_value(&self, visit: &mut dyn FnMut(&FieldValue<'_>)) {
        match &self.root {
            Root::Serde(v) => for_each_value_in(self.windows, v, visit),
            Root::Sonic(v, _) => for_each_value_in(self.windows, v, visit),
        }
    }

    fn keyword_text(&self, out: &mut String) -> bool {
        match &self.text {
            // A `\u` escape could spell a key otherwise: the whole text, unescaped.
            Some(text) if has_long_escape(text) => {
                lowercase_unescaped(text, out);
                true
            }
            Some(text) => {
                let part = keyword_part(text, self.windows);
                if part.is_ascii() {
                    // Every value is then in the text as JSON writes it, and lowercasing ASCII
                    // leaves the escapes as they are: one copy, without unescaping (which was
                    // most of the cost of the text).
                    let from = out.len();
                    out.push_str(part);
                    out[from..].make_ascii_lowercase();
                } else {
                    lowercase_unescaped(part, out);
                }
                true
            }
            None => false,
        }
    }
}

/// Appends JSON text to `out` on one line: each line break outside strings dropped with the
/// blanks that follow it (a pretty-printed document's indentation), every token — numbers and
/// strings as written — and other spacing kept. A line break is whitespace between tokens
/// (inside a string it is written `\n`), so the value is the same.
pub fn one_line(json: &str, out: &mut Vec<u8>) {
    let mut scan = Structure::default();
    let mut after_break = false;
    for &b in json.as_bytes() {
        let outside = !scan.in_string;
        scan.step(b);
        if outside {
            match b {
                b'\n' | b'\r' => {
                    after_break = true;
                    continue;
                }
                b' ' | b'\t' if after_break => continue,
                _ => after_break = false,
            }
        }
        out.push(b);
    }
}

/// Whether `json` holds an escape other than the short ones (`\"`, `\\`, `\n`, `\r`, `\t`,
/// `\b`, `\f`): a `\u` escape or `\/`, which spell a character otherwise than as it is.
fn has_long_escape(json: &str) -> bool {
    let bytes = json.as_bytes();
    let mut at = 0;
    while let Some(found) = memchr::memchr(b'\\', &bytes[at..]) {
        let escape = at + found;
        if matches!(bytes.get(escape + 1), Some(b'u' | b'/')) {
            return true;
        }
        at = escape + 2;
        if at >= bytes.len() {
            break;
        }
    }
    false
}

/// The part of an event's JSON text that holds every value [`Event::for_each_value`] gives:
/// for a Windows record, the text from its first `"EventData"` or `"UserData"` on (keyword
/// searches look at those two only, and the `System` part before them is half of a record's
/// text); else, or when neither is written so, the whole text. In JSON text without `\u`
/// escapes these bytes, with their quotes unescaped, are a key or a whole string value, so a
/// record's own `EventData` and `UserData` begin at or after the first of them.
fn keyword_part(text: &str, windows: bool) -> &str {
    if !windows {
        return text;
    }
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    static EVENT_DATA: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("\"EventData\""));
    static USER_DATA: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("\"UserData\""));
    let bytes = text.as_bytes();
    // UserData is looked for only before EventData: the first of the two is wanted.
    let event_data = EVENT_DATA.find(bytes);
    let before = &bytes[..event_data.unwrap_or(bytes.len())];
    USER_DATA
        .find(before)
        .or(event_data)
        .map_or(text, |at| &text[at..])
}

/// Appends `json` to `out` lowercased, with string escapes decoded: every string value of the
/// document then appears in it as [`Event::for_each_value`] gives it, and so do integers and
/// booleans (a number written otherwise than Rust writes it, such as `1e3` or `1.50`, keeps
/// its own spelling: the engine does not search this text for needles made of digits).
fn lowercase_unescaped(json: &str, out: &mut String) {
    let from = out.len();
    let mut rest = json;
    while let Some(at) = memchr::memchr(b'\\', rest.as_bytes()) {
        push_lowercase(&rest[..at], out);
        let (ch, len) = unescape(&rest.as_bytes()[at..]);
        if ch.is_ascii() {
            out.push(ch);
        } else {
            out.extend(ch.to_lowercase());
        }
        // An escape is ASCII, so `at + len` is a character boundary unless the escape was
        // malformed; the remainder then starts at the next boundary.
        let mut next = at + len;
        while !rest.is_char_boundary(next) {
            next += 1;
        }
        rest = &rest[next..];
    }
    push_lowercase(rest, out);
    // ASCII letters are lowered here, in one pass; other characters as they were copied.
    out[from..].make_ascii_lowercase();
}

/// Appends `chunk` with its non-ASCII characters lowercased (ASCII is lowered by the caller).
fn push_lowercase(chunk: &str, out: &mut String) {
    if chunk.is_ascii() {
        out.push_str(chunk);
        return;
    }
    let mut rest = chunk;
    while let Some(at) = rest.bytes().position(|b| !b.is_ascii()) {
        out.push_str(&rest[..at]);
        let ch = rest[at..]
            .chars()
            .next()
            .expect("a character starts at a non-ASCII byte");
        out.extend(ch.to_lowercase());
        rest = &rest[at + ch.len_utf8()..];
    }
    out.push_str(rest);
}

/// Decodes the JSON escape at the start of `s` (which begins with a backslash): the character
/// and how many bytes the escape takes. Malformed escapes decode to U+FFFD.
fn unescape(s: &[u8]) -> (char, usize) {
    let hex = |at: usize| -> Option<u32> {
        let digits = std::str::from_utf8(s.get(at..at + 4)?).ok()?;
        u32::from_str_radix(digits, 16).ok()
    };
    match s.get(1) {
        Some(b'n') => ('\n', 2),
        Some(b't') => ('\t', 2),
        Some(b'r') => ('\r', 2),
        Some(b'b') => ('\u{8}', 2),
        Some(b'f') => ('\u{c}', 2),
        Some(b'u') => {
            let Some(high) = hex(2) else {
                return (char::REPLACEMENT_CHARACTER, 2);
            };
            if (0xD800..0xDC00).contains(&high)
                && s.get(6) == Some(&b'\\')
                && s.get(7) == Some(&b'u')
                && let Some(low) = hex(8)
                && (0xDC00..0xE000).contains(&low)
            {
                let c = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                return (char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER), 12);
            }
            (
                char::from_u32(high).unwrap_or(char::REPLACEMENT_CHARACTER),
                6,
            )
        }
        Some(&c) if c.is_ascii() => (c as char, 2),
        _ => (char::REPLACEMENT_CHARACTER, 1),
    }
}

#[cfg(test)]
mod depth_tests {
    use super::*;

    #[test]
    fn nesting_is_counted_outside_strings() {
        assert!(!nests_deeper_than(br#"{"a":[1,{"b":2}]}"#, 3));
        assert!(nests_deeper_than(br#"{"a":[1,{"b":2}]}"#, 2));
        // Brackets inside strings, escaped quotes included, do not nest.
        let text = br#"{"a":"[[[{{{\"[[[","b":"\\","c":{"d":"]]]"}}"#;
        assert!(!nests_deeper_than(text, 2));
        assert!(nests_deeper_than(text, 1));
        // Closing brackets bring the depth back down.
        assert!(!nests_deeper_than(br#"{"a":{},"b":{},"c":{},"d":[]}"#, 2));
        let deep = format!(
            "{}1{}",
            "{\"a\":".repeat(MAX_NESTING + 1),
            "}".repeat(MAX_NESTING + 1)
        );
        assert!(matches!(JsonEvent::parse(&deep), Err(JsonError::TooDeep)));
        let ok = format!(
            "{}1{}",
            "{\"a\":".repeat(MAX_NESTING),
            "}".repeat(MAX_NESTING)
        );
        assert!(JsonEvent::parse(&ok).is_ok());
        // What the ingest path accepts, the log index (serde_json) can read.
        assert!(serde_json::from_str::<serde_json::Value>(&ok).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSMON: &str = r##"{"Event":{"#attributes":{"xmlns":"x"},"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon"}},"EventID":1,"EventRecordID":7,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"PC1","TimeCreated":{"#attributes":{"SystemTime":"2019-04-27T15:57:25.8688632Z"}}},"EventData":{"Image":"C:\\Windows\\cmd.exe","ProcessId":2772,"Hashes":null}}}"##;

    /// The same text through both backends.
    fn both(text: &str) -> [JsonEvent; 2] {
        [
            JsonEvent::parse(text).unwrap(),
            JsonEvent::from_value(serde_json::from_str(text).unwrap()).unwrap(),
        ]
    }

    fn values(e: &JsonEvent, field: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        let present = e.field_values(field, &mut |v| out.push(format!("{v:?}")));
        present.then_some(out)
    }

    #[test]
    fn output_reads_the_event_as_parsed_in_both_backends() {
        let text = r##"{"Event":{"System":{"Computer":"PC1","EventID":{"#attributes":{"Qualifiers":16384},"#text":7036},"Channel":"System"},"EventData":{"param1":"a \"quoted\" é","Binary":null,"Flags":[1,"x"],"Opts":{"k":true}}},"n":1.5}"##;
        for e in both(text) {
            let read = |f| e.lookup_text(f);
            assert_eq!(read("Computer").as_deref(), Some("PC1"));
            assert_eq!(
                read("EventID").as_deref(),
                Some("7036"),
                "an element's #text"
            );
            assert_eq!(read("param1").as_deref(), Some("a \"quoted\" é"));
            assert_eq!(read("Binary").as_deref(), Some(""));
            assert_eq!(read("Flags").as_deref(), Some(r#"[1,"x"]"#));
            assert_eq!(read("Opts").as_deref(), Some(r#"{"k":true}"#));
            assert_eq!(read("n").as_deref(), Some("1.5"));
            assert_eq!(read("missing"), None);
            let mut out = b"[".to_vec();
            e.write_json(&mut out);
            out.push(b']');
            let written: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(written[0], serde_json::from_str::<Value>(text).unwrap());
        }
        // Parsed from one line: written as it was; from several, on one line.
        let spaced = "  {\"a\": \"\\u00e9\", \"b\": [1, 2]}\t";
        let mut out = Vec::new();
        JsonEvent::parse_bytes(spaced.as_bytes())
            .unwrap()
            .write_json(&mut out);
        assert_eq!(out, spaced.trim().as_bytes());
        let lines = "{\"a\":\r\n  \"x\",\n \"b\": [1,\n2]}";
        let mut out = Vec::new();
        JsonEvent::parse_bytes(lines.as_bytes())
            .unwrap()
            .write_json(&mut out);
        assert_eq!(out, br#"{"a":"x","b": [1,2]}"#);
    }

    #[test]
    fn output_shows_numbers_as_they_were_written() {
        let text = r##"{"a":1e3,"b":1.50,"c":123456789012345678901234567890,"d":1.5e300,"e":10E-2,"i":42,"m":-7,"z":-0,"t":-0.0,"l":[1e3,"x"],"o":{"n":1.50,"s":"1e3"},"items":[{"n":1e3},{"n":2}],"one":[{"n":1.50}],"x":{"#text":2.50}}"##;
        let e = JsonEvent::parse(text).unwrap();
        let read = |f| e.lookup_text(f);
        for (field, shown) in [
            ("a", "1e3"),
            ("b", "1.50"),
            ("c", "123456789012345678901234567890"),
            ("d", "1.5e300"),
            ("e", "10E-2"),
            ("i", "42"),
            ("m", "-7"),
            ("z", "-0"),
            ("t", "-0.0"),
            ("l", r#"[1e3,"x"]"#),
            ("o", r#"{"n":1.50,"s":"1e3"}"#),
            ("o.n", "1.50"),
            ("items.n", "[1e3,2]"),
            ("one.n", "1.50"),
            ("x", "2.50"),
        ] {
            assert_eq!(read(field).as_deref(), Some(shown), "{field}");
        }
        // Matching still reads the numbers' values.
        assert_eq!(values(&e, "a").unwrap(), ["Float(1000.0)"]);
    }

    #[test]
    fn values_to_show_keep_numbers_as_written() {
        let text = r#"{"a":1e3,"b":1.50,"c":123456789012345678901234567890,"i":42,"u":18446744073709551615,"m":-7,"z":-0,"l":[10E-2,{"n":1.5e300}],"s":"x","t":true,"nil":null}"#;
        assert_eq!(
            value_as_written(text).unwrap(),
            serde_json::json!({"a":"1e3","b":"1.50","c":"123456789012345678901234567890","i":42,"u":18446744073709551615u64,"m":-7,"z":"-0","l":["10E-2",{"n":"1.5e300"}],"s":"x","t":true,"nil":null})
        );
        assert!(value_as_written("{").is_err());
    }

    #[test]
    fn an_event_written_over_several_lines_is_written_on_one_as_it_was() {
        let text = "{\n  \"k\": \"pretty\\n  obj\",\r\n\t\"n\": 1e3,\n  \"c\": [123456789012345678901234567890,\n    10E-2]\n}\n";
        let mut out = Vec::new();
        JsonEvent::parse(text).unwrap().write_json(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"k": "pretty\n  obj","n": 1e3,"c": [123456789012345678901234567890,10E-2]}"#
        );
    }

    #[test]
    fn reads_event_timestamps() {
        let cases = [
            (
                r##"{"Event":{"System":{"TimeCreated":{"#attributes":{"SystemTime":"2019-04-27T15:57:25.868Z"}}}}}"##,
                Some(1_556_380_645_868),
            ),
            (
                r#"{"@timestamp": "2019-04-27T15:57:25.868Z"}"#,
                Some(1_556_380_645_868),
            ),
            (r#"{"time": 1556380645}"#, Some(1_556_380_645_000)),
            (r#"{"time": "1556380645868"}"#, Some(1_556_380_645_868)),
            (
                r#"{"@timestamp": "yesterday", "time": "2019-04-27T15:57:25.868Z"}"#,
                Some(1_556_380_645_868),
            ),
            (r#"{"a": 1}"#, None),
            // A number's unit is told by its magnitude: seconds, ms, µs, ns.
            (r#"{"date": 1556380645.868}"#, Some(1_556_380_645_868)),
            (r#"{"timestamp": 1556380645868}"#, Some(1_556_380_645_868)),
            (
                r#"{"timestamp": 1556380645868123}"#,
                Some(1_556_380_645_868),
            ),
            (
                r#"{"timestamp": 1556380645868123456}"#,
                Some(1_556_380_645_868),
            ),
            (
                r#"{"time": "1556380645868123456"}"#,
                Some(1_556_380_645_868),
            ),
            (r#"{"date": 1556380645.8686}"#, Some(1_556_380_645_868)),
            // A number that reads as a time before 2000 is no time (a count, a duration).
            (r#"{"msg":"GET /checkout","status":200,"time":35}"#, None),
            (r#"{"time": 0.532}"#, None),
            (r#"{"time": 0}"#, None),
            (r#"{"time": "35"}"#, None),
            (r#"{"time": 946684799}"#, None),
            (r#"{"time": 946684800}"#, Some(946_684_800_000)),
            (r#"{"time": 4102444799999}"#, Some(4_102_444_799_999)),
            (r#"{"time": 4102444800000}"#, None),
            (r#"{"time": -1556380645}"#, None),
            (r#"{"time": 18446744073709551616}"#, None),
            (r#"{"time": "inf"}"#, None),
            // A date alone has no time of day: no event time.
            (r#"{"order_id":7,"date":"2026-10-01"}"#, None),
            // A key that holds no time leaves the next one to say.
            (
                r#"{"time": 35, "date": "2019-04-27T15:57:25.868Z"}"#,
                Some(1_556_380_645_868),
            ),
            // Written times keep their dates, before 2000 too (the store keeps 1970 on).
            (r#"{"time": "1995-01-01T00:00:00Z"}"#, Some(788_918_400_000)),
        ];
        for (text, expected) in cases {
            for e in both(text) {
                assert_eq!(e.timestamp(), expected, "{text}");
            }
        }
    }

    /// Cloud services' and network monitors' events carry their time under keys of their own.
    #[test]
    fn reads_the_times_of_cloud_and_network_events() {
        const T: i64 = 1_709_633_472_000; // 2024-03-05T10:11:12Z
        let cases = [
            (
                "CloudTrail",
                r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","userName":"alice"},"eventTime":"2024-03-05T10:11:12Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.5","userAgent":"Mozilla/5.0","requestParameters":null,"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No"},"eventID":"3fcfb6e4-0000-4b9e-9a1a-000000000000","readOnly":false,"eventType":"AwsConsoleSignIn","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management"}"#,
                Some(T),
            ),
            (
                "Okta System Log",
                r#"{"actor":{"id":"00u1","type":"User","alternateId":"alice@example.com","displayName":"Alice"},"client":{"ipAddress":"203.0.113.5","userAgent":{"rawUserAgent":"curl/8.0"}},"displayMessage":"User login to Okta","eventType":"user.session.start","outcome":{"result":"FAILURE","reason":"INVALID_CREDENTIALS"},"published":"2024-03-05T10:11:12.345Z","severity":"WARN","uuid":"9a1b","version":"0","transaction":{"type":"WEB","id":"Zx"}}"#,
                Some(T + 345),
            ),
            (
                "Kubernetes audit",
                r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"6a1c","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods/web/exec?command=sh","verb":"create","user":{"username":"alice","groups":["system:authenticated"]},"sourceIPs":["10.0.0.7"],"objectRef":{"resource":"pods","namespace":"default","name":"web","subresource":"exec"},"responseStatus":{"code":101},"requestReceivedTimestamp":"2024-03-05T10:11:12.123456Z","stageTimestamp":"2024-03-05T10:11:13.000000Z"}"#,
                Some(T + 123),
            ),
            (
                // When the request came rather than when a stage ended, whatever the keys' order.
                "Kubernetes audit, stage first",
                r#"{"kind":"Event","stageTimestamp":"2024-03-05T10:11:13Z","stage":"ResponseStarted","requestReceivedTimestamp":"2024-03-05T10:11:12Z"}"#,
                Some(T),
            ),
            (
                "Kubernetes audit, a stage's time only",
                r#"{"kind":"Event","stage":"Panic","stageTimestamp":"2024-03-05T10:11:12Z"}"#,
                Some(T),
            ),
            (
                "Entra ID sign-in (Microsoft Graph)",
                r#"{"id":"66ea54eb","createdDateTime":"2024-03-05T10:11:12Z","userDisplayName":"Alice","userPrincipalName":"alice@contoso.com","appDisplayName":"Azure Portal","ipAddress":"203.0.113.5","clientAppUsed":"Browser","status":{"errorCode":50126,"failureReason":"Invalid username or password."},"location":{"city":"Redmond","countryOrRegion":"US"}}"#,
                Some(T),
            ),
            (
                // Azure Monitor's export: its `time` is the record's, the sign-in's deeper.
                "Entra ID sign-in (diagnostic export)",
                r#"{"time":"2024-03-05T10:11:14.0000000Z","resourceId":"/tenants/x/providers/Microsoft.aadiam","operationName":"Sign-in activity","category":"SignInLogs","properties":{"createdDateTime":"2024-03-05T10:11:12Z"}}"#,
                Some(T + 2000),
            ),
            (
                "Zeek conn.log",
                r#"{"ts":1709633472.123456,"uid":"CHhAvVGS1DHFjwGM9","id.orig_h":"10.0.0.7","id.orig_p":49152,"id.resp_h":"1.1.1.1","id.resp_p":53,"proto":"udp","service":"dns","duration":0.010,"orig_bytes":40,"resp_bytes":56,"conn_state":"SF"}"#,
                Some(T + 123),
            ),
            (
                "Zeek, ISO 8601 times",
                r#"{"ts":"2024-03-05T10:11:12.123456Z","uid":"C1","query":"example.com","qtype_name":"A"}"#,
                Some(T + 123),
            ),
            // The keys of old come first, as they did.
            (
                "shipped with its own @timestamp",
                r#"{"eventTime":"2024-03-05T10:11:13Z","@timestamp":"2024-03-05T10:11:12Z","ts":1709633474}"#,
                Some(T),
            ),
            // A value that is no time leaves the next key to say.
            (
                "no time first",
                r#"{"ts":35,"published":"2024-03-05","eventTime":"soon","createdDateTime":"2024-03-05T10:11:12Z"}"#,
                Some(T),
            ),
            ("a duration", r#"{"ts":35,"published":"yesterday"}"#, None),
        ];
        // A key written twice: its first value, as a lookup gives it.
        let twice = r#"{"@timestamp":"no","@timestamp":"2024-03-05T10:11:12Z","ts":1709633473}"#;
        let parsed: sonic_rs::Value = sonic_rs::from_str(twice).unwrap();
        let first = sonic_rs::JsonValueTrait::get(&parsed, "@timestamp");
        assert_eq!(first.and_then(sonic_rs::JsonValueTrait::as_str), Some("no"));
        assert_eq!(JsonEvent::parse(twice).unwrap().timestamp(), Some(T + 1000));
        for (what, text, expected) in cases {
            for e in both(text) {
                assert_eq!(e.timestamp(), expected, "{what}: {text}");
            }
        }
    }

    #[test]
    fn reads_the_host() {
        let cases = [
            (SYSMON, Some("PC1")),
            (
                r#"{"host": {"name": "web-1"}, "hostname": "x"}"#,
                Some("web-1"),
            ),
            (r#"{"host.name": "a", "host": "b"}"#, Some("a")),
            (r#"{"hostname": "h"}"#, Some("h")),
            (
                r#"{"audit_log_format": "auditd", "type": "USER_LOGIN", "node": "bastion", "hostname": "203.0.113.9", "addr": "203.0.113.9"}"#,
                Some("bastion"),
            ),
            (
                r#"{"audit_log_format": "auditd", "type": "USER_AUTH", "hostname": "203.0.113.9"}"#,
                None,
            ),
            (
                r#"{"syslog_format": "rfc3164", "hostname": "web01", "audit_log_format": "auditd", "node": "x"}"#,
                Some("web01"),
            ),
            (r#"{"host": "plain"}"#, Some("plain")),
            (r#"{"host": {"ip": "10.0.0.1"}}"#, None),
            (r#"{"Computer": "dc1", "host": "x"}"#, Some("dc1")),
            (
                r#"{"s-computername": "WEB01", "s-ip": "10.0.0.4"}"#,
                Some("WEB01"),
            ),
        ];
        for (text, expected) in cases {
            for e in both(text) {
                assert_eq!(e.host().as_deref(), expected, "{text}");
            }
        }
    }

    #[test]
    fn windows_fields_resolve() {
        for e in both(SYSMON) {
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
            let mut all = Vec::new();
            e.for_each_value(&mut |v| all.push(format!("{v:?}")));
            assert_eq!(all.len(), 2, "keywords see EventData only: {all:?}");
            assert_eq!(e.lookup_text("Computer").as_deref(), Some("PC1"));
            assert_eq!(e.value()["Event"]["System"]["EventRecordID"], 7);
        }
    }

    #[test]
    fn text_attributes_userdata_and_plain_json() {
        for e in both(
            r##"{"Event":{"System":{"EventID":{"#text":4624,"#attributes":{"Qualifiers":0}}},"UserData":{"LogFileCleared":{"SubjectUserName":"bob"}}}}"##,
        ) {
            assert_eq!(values(&e, "EventID").unwrap(), vec!["Int(4624)"]);
            assert_eq!(values(&e, "SubjectUserName").unwrap(), vec!["Str(\"bob\")"]);
        }
        for e in
            both(r##"{"Event":{"System":{"EventID":1116},"EventData":{"Threat Name":"EICAR"}}}"##)
        {
            assert_eq!(values(&e, "ThreatName").unwrap(), vec!["Str(\"EICAR\")"]);
        }
        for e in both(r##"{"process.name":"a","process":{"args":["x","y"]},"n":1.5,"b":true}"##) {
            assert!(!e.is_windows());
            assert_eq!(values(&e, "process.name").unwrap(), vec!["Str(\"a\")"]);
            assert_eq!(values(&e, "process.args").unwrap().len(), 2);
            assert_eq!(values(&e, "n").unwrap(), vec!["Float(1.5)"]);
            assert_eq!(values(&e, "b").unwrap(), vec!["Bool(true)"]);
        }
        // Unnamed <Data> values: EventData.Data is an element whose text is a list.
        for e in both(
            r##"{"Event":{"System":{"EventID":325,"Channel":"Application"},"EventData":{"Data":{"#text":["ntds","C:\\ntds.dit",7],"#attributes":{"x":1}},"Binary":"00"}}}"##,
        ) {
            assert_eq!(
                values(&e, "Data").unwrap(),
                vec!["Str(\"ntds\")", "Str(\"C:\\\\ntds.dit\")", "Int(7)"]
            );
        }
        assert!(JsonEvent::parse("[1]").is_err());
        assert!(JsonEvent::parse("{").is_err());
        assert!(JsonEvent::from_value(serde_json::json!([1])).is_err());
    }

    #[test]
    fn dotted_paths_go_through_lists_of_objects() {
        let doc = r##"{"items":[{"name":"a","tags":["x","y"]},{"name":"b"},{"other":1},[{"name":"c"}],"s"],"req":{"perms":[{"ip":{"cidr":"10.0.0.0/8"}},{"ip":{"cidr":"0.0.0.0/0"}}]},"k":[{"a.b":"dotted"}]}"##;
        for e in both(doc) {
            assert_eq!(
                values(&e, "items.name").unwrap(),
                vec!["Str(\"a\")", "Str(\"b\")", "Str(\"c\")"]
            );
            assert_eq!(
                values(&e, "items.tags").unwrap(),
                vec!["Str(\"x\")", "Str(\"y\")"]
            );
            assert_eq!(values(&e, "req.perms.ip.cidr").unwrap().len(), 2);
            assert_eq!(values(&e, "k.a.b").unwrap(), vec!["Str(\"dotted\")"]);
            assert_eq!(e.lookup_text("items.name").unwrap(), r#"["a","b","c"]"#);
            assert_eq!(e.lookup_text("k.a.b").unwrap(), "dotted");
            assert_eq!(e.lookup_text("items.nope"), None);
            // No element has it: absent, as a path through objects.
            assert_eq!(values(&e, "items.nope"), None);
            assert_eq!(values(&e, "items.name.deeper"), None);
            assert_eq!(values(&e, "nope.name"), None);
        }
    }

    #[test]
    fn keyword_text_holds_every_value_unescaped() {
        let e = JsonEvent::parse(
            r#"{"a":"C:\\Temp\\X.EXE","b":"say \"Hi\"\tthere","c":"caf\u00c9 \ud83d\ude00","n":-42,"t":true,"z":null,"l":["Ü",7]}"#,
        )
        .unwrap();
        let mut text = String::new();
        assert!(e.keyword_text(&mut text));
        for value in [
            "c:\\temp\\x.exe",
            "say \"hi\"\tthere",
            "café 😀",
            "-42",
            "true",
            "ü",
            "7",
        ] {
            assert!(text.contains(value), "{value:?} in {text:?}");
        }
        let from_value = JsonEvent::from_value(serde_json::json!({"x": "y"})).unwrap();
        assert!(!from_value.keyword_text(&mut text));
        // The text is kept as received, and only valid UTF-8 is accepted.
        let raw = br#"{"b": 1,  "a":"x"}"#;
        assert_eq!(
            JsonEvent::parse_bytes(raw).unwrap().into_text(),
            r#"{"b": 1,  "a":"x"}"#
        );
        assert!(JsonEvent::parse_bytes(b"{\"a\":\"\xff\"}").is_err());
    }

    #[test]
    fn keyword_text_is_the_json_lowercased_unless_it_spells_characters_otherwise() {
        let keyword_text = |json: &str| {
            let mut text = String::new();
            assert!(JsonEvent::parse(json).unwrap().keyword_text(&mut text));
            text
        };
        // Short escapes only: the text as written, lowercased.
        let json = r#"{"a":"C:\\Temp\\X.EXE","b":"Say \"Hi\"\tthere","n":-42}"#;
        assert_eq!(keyword_text(json), json.to_ascii_lowercase());
        // A `\u` escape, a `\/` or a character that is not ASCII: unescaped.
        for (json, value) in [
            (r#"{"a":"\u0041BC","b":"C:\\X"}"#, "abc"),
            (r#"{"a":"x\/y","b":"C:\\X"}"#, "x/y"),
            (r#"{"a":"CAFÉ","b":"C:\\X"}"#, "café"),
        ] {
            let text = keyword_text(json);
            assert!(text.contains(value), "{value:?} in {text:?}");
            assert!(text.contains("c:\\x"), "{text:?}");
        }
        // An escaped backslash before a `u` or a `/` is not such an escape.
        assert!(!has_long_escape(r#"{"a":"C:\\users\\/"}"#));
        assert!(has_long_escape(r#"{"a":"C:\\\u0041"}"#));
        assert!(!has_long_escape(r#"{"a":"ends with \\"}"#));
    }

    #[test]
    fn windows_keyword_text_holds_event_data_and_user_data_whatever_the_key_order() {
        let keyword_text = |json: &str| {
            let e = JsonEvent::parse(json).unwrap();
            assert!(e.is_windows());
            let mut text = String::new();
            assert!(e.keyword_text(&mut text));
            text
        };
        let system = r#""System":{"Channel":"Security","EventID":4688,"Computer":"Host-SYS"}"#;
        let data = r#""EventData":{"CommandLine":"Mimikatz \"Sekurlsa::X\"","Id":7}"#;
        let user = r#""UserData":{"Log":{"Path":"C:\\Logs\\A.EVTX"}}"#;
        for json in [
            format!(r#"{{"Event":{{{system},{data}}}}}"#),
            format!(r#"{{"Event":{{{data},{system}}}}}"#),
            format!(r#"{{"Event":{{{system},{user},{data}}}}}"#),
            format!(r#"{{"Event":{{{data},{system},{user}}}}}"#),
            // "EventData" as a value earlier only makes the text start earlier.
            format!(r#"{{"Note":"EventData","Event":{{{system},{user},{data}}}}}"#),
        ] {
            let text = keyword_text(&json);
            // Spelled as the JSON writes them (see `Event::keyword_text`).
            for value in [r#"mimikatz \"sekurlsa::x\""#, "7"] {
                assert!(text.contains(value), "{value:?} in {text:?} of {json}");
            }
            if json.contains("UserData") {
                assert!(text.contains(r"c:\\logs\\a.evtx"), "{text:?} of {json}");
            }
            if json.starts_with(r#"{"Event":{"System""#) {
                assert!(!text.contains("host-sys"), "{text:?} of {json}");
            }
        }
        // A record with neither is searched whole.
        let bare = format!(r#"{{"Event":{{{system}}}}}"#);
        assert!(keyword_text(&bare).contains("host-sys"));
        // A key spelled with a `\u` escape is found too: such a text is read whole.
        let spelled =
            format!(r#"{{"Event":{{{system},"Event\u0044ata":{{"A":"Hidden"}},{user}}}}}"#);
        assert!(keyword_text(&spelled).contains("hidden"));
    }

    /// A sink keeping the first node given for each name, as the engine does.
    #[derive(Default)]
    struct Table {
        fields: Vec<(String, Vec<String>)>,
        taking: bool,
    }

    impl FieldSink for Table {
        fn field(&mut self, name: &str) -> bool {
            self.taking = !self.fields.iter().any(|(n, _)| n == name);
            if self.taking {
                self.fields.push((name.to_string(), Vec::new()));
            }
            self.taking
        }
        fn value(&mut self, value: &FieldValue<'_>) {
            assert!(self.taking);
            self.fields.last_mut().unwrap().1.push(format!("{value:?}"));
        }
    }

    #[test]
    fn field_table_resolves_names_like_lookups() {
        let docs = [
            SYSMON,
            r##"{"Event":{"System":{"EventID":{"#text":4624,"#attributes":{"Qualifiers":0}},"Provider":{"#attributes":{"Name":"P"}}},"EventData":{"Level":"no","Provider_Name":"no","Threat Name":"EICAR","ThreatName2":"x","Threat Name2":"y"},"UserData":{"A":{"SubjectUserName":"bob","Image":"u"},"B":{"SubjectUserName":"alice","Other":1}}},"Image":"root","TimeCreated":"root"}"##,
            r##"{"Event":{"System":{"EventID":325,"Channel":"Application"},"EventData":{"Data":{"#text":["ntds","C:\\ntds.dit",7],"#attributes":{"x":1}},"Binary":"00","Obj":{"a":1},"List":[1,{"#text":"t"},[2]]}}}"##,
            r##"{"process.name":"a","process":{"args":["x","y"]},"n":1.5,"b":true,"z":null}"##,
        ];
        let names = [
            "EventID",
            "Channel",
            "Computer",
            "Provider_Name",
            "ProviderName",
            "Provider",
            "TimeCreated",
            "SystemTime",
            "Image",
            "ProcessId",
            "Hashes",
            "Level",
            "Security",
            "Correlation",
            "ThreatName",
            "ThreatName2",
            "SubjectUserName",
            "Other",
            "Data",
            "Binary",
            "Obj",
            "List",
            "Event",
            "process.name",
            "process",
            "n",
            "b",
            "z",
            "Nope",
        ];
        for doc in docs {
            for e in both(doc) {
                let mut table = Table::default();
                assert!(e.for_each_field(&mut table));
                for name in names {
                    let from_table = table
                        .fields
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.clone());
                    let by_name = values(&e, name);
                    // Dotted names that no node answers to are looked up by name.
                    if name.contains('.') && from_table.is_none() {
                        continue;
                    }
                    assert_eq!(from_table, by_name, "{name} in {doc}");
                }
            }
        }
    }
}
