//! Batches to events: an HTTP ingest body (JSON lines or a JSON array) or a plain-text log
//! (syslog, web access or error log, Linux audit log),
//! decoded into the accepted events and a [`Rejection`] for each one that is not, with its
//! position (1-based line number, or 0-based array index) and a reason.
//!
//! One bad event never stops the rest: each line is decoded on its own, and so is each element
//! of a JSON array whose syntax breaks — the array is then split at its top-level commas
//! (outside strings) and every element decoded alone. Only what a broken string or an
//! unclosed array hides cannot be delimited: it is reported as one
//! [`RejectReason::InvalidArray`]. Text after an array's end is a [`RejectReason::AfterArray`].
//!
//! Blank lines are skipped, a UTF-8 BOM at the start and a CR before each LF are ignored.

use std::fmt;
use std::ops::Range;

use sonic_rs::JsonValueTrait as _;

use crate::access::{AccessEntry, AccessError};
use crate::auditd::{AuditRecord, AuditdError};
use crate::documents::records_opening_len;
use crate::error_log::{ErrorEntry, ErrorLogError};
use crate::json::{JsonError, JsonEvent, first_line};
use crate::syslog::{SyslogError, SyslogMessage, SyslogOptions};
use crate::time::LocalZone;

/// How an HTTP body holds its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyFormat {
    /// One JSON object per line (`application/x-ndjson`, `application/jsonl`).
    JsonLines,
    /// One JSON array of objects.
    JsonArray,
    /// Decide from the content: `[` first is an array; an object whose only key, `Records` or
    /// `records`, holds an array (AWS CloudTrail's delivery file, Azure Monitor's export) is
    /// that array; a single (pretty-printed) object is one event; anything else is JSON lines.
    Sniff,
    /// Lines of text (`text/plain`), one event per line, their format told from the first:
    /// syslog, a web server access or error log, an IIS (W3C) log, a Linux audit log, or any
    /// other text (each
    /// line a `message`, [`LineFormat::Plain`]); times written without an offset are in the
    /// zone (`?timezone=`, UTC by default).
    Text(LocalZone),
}

impl BodyFormat {
    /// The format a `Content-Type` header names: the JSON-lines media types are
    /// [`BodyFormat::JsonLines`]; `application/json` (which senders use for both) and anything
    /// else, or no header, is [`BodyFormat::Sniff`].
    pub fn from_content_type(content_type: Option<&str>) -> BodyFormat {
        let Some(ct) = content_type else {
            return BodyFormat::Sniff;
        };
        let essence = ct.split(';').next().unwrap_or("").trim();
        let lines = [
            "application/x-ndjson",
            "application/ndjson",
            "application/jsonl",
            "application/x-jsonl",
            "application/jsonlines",
            "application/x-jsonlines",
            "application/json-lines",
            "application/json-seq",
        ];
        if lines.iter().any(|t| essence.eq_ignore_ascii_case(t)) {
            BodyFormat::JsonLines
        } else if essence.eq_ignore_ascii_case("text/plain") {
            BodyFormat::Text(LocalZone::UTC)
        } else {
            BodyFormat::Sniff
        }
    }
}

/// Where an event was in its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// 1-based line number (JSON lines, syslog files).
    Line(u64),
    /// 0-based index in a JSON array.
    Index(u64),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(n) => write!(f, "line {n}"),
            Position::Index(n) => write!(f, "index {n}"),
        }
    }
}

/// Why one event of a batch was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    /// Valid JSON, but not an object.
    #[error("the JSON value is {found}, not an object; send each event as a JSON object")]
    NotAnObject {
        /// What it is: `an array`, `a string`, `a number`, `a boolean`, `null`.
        found: &'static str,
    },
    /// The line is not valid JSON.
    #[error("invalid JSON at column {column}: {detail}; fix the event's JSON")]
    InvalidJson {
        /// 1-based column (byte) in the line.
        column: usize,
        /// What the parser said.
        detail: String,
    },
    /// A JSON array body broke where its elements cannot be delimited (an unclosed array, or
    /// not an array): what follows was not read.
    #[error(
        "invalid JSON array at line {line} column {column}: {detail}; what follows was not read, fix the array and send it again"
    )]
    InvalidArray {
        /// 1-based line in the body.
        line: usize,
        /// 1-based column in that line.
        column: usize,
        /// What the parser said.
        detail: String,
    },
    /// Text follows the JSON array's closing bracket: a second array, or a body cut and
    /// pasted together. The array's elements were read.
    #[error(
        "text after the JSON array's end at line {line} column {column}; send one array per request"
    )]
    AfterArray {
        /// 1-based line in the body.
        line: usize,
        /// 1-based column in that line.
        column: usize,
    },
    /// The event is larger than the limit.
    #[error(
        "the event is {size} bytes, more than the {max}-byte limit of one event; split it into smaller events"
    )]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Objects and arrays nest too deep.
    #[error(
        "the event nests objects and arrays more than {} levels deep; flatten it",
        crate::json::MAX_NESTING
    )]
    TooDeep,
    /// A syslog line that does not parse.
    #[error(transparent)]
    Syslog(#[from] SyslogError),
    /// A line of a web access log that does not parse.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// A line of a web server error log that does not parse.
    #[error(transparent)]
    ErrorLog(#[from] ErrorLogError),
    /// A line of a W3C extended log (IIS) that does not fit its header.
    #[error(transparent)]
    W3c(#[from] crate::w3c::W3cError),
    /// A line of a Linux audit log that is no audit record.
    #[error(transparent)]
    Auditd(#[from] AuditdError),
}

/// One event that was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{position}: {reason}")]
pub struct Rejection {
    /// Where it was.
    pub position: Position,
    /// Why.
    pub reason: RejectReason,
}

/// One accepted event.
#[derive(Debug, Clone)]
pub struct Accepted<E> {
    /// Where it was.
    pub position: Position,
    /// Its bytes in the input (the original JSON text, to store as it was sent).
    pub span: Range<usize>,
    /// The decoded event.
    pub event: E,
}

/// The outcome of decoding a batch, in input order.
#[derive(Debug, Clone)]
pub struct Batch<E> {
    /// The events decoded.
    pub accepted: Vec<Accepted<E>>,
    /// The events that were not, with why.
    pub rejected: Vec<Rejection>,
}

impl<E> Batch<E> {
    /// Events decoded and refused.
    pub fn len(&self) -> usize {
        self.accepted.len() + self.rejected.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<E> Default for Batch<E> {
    fn default() -> Self {
        Batch {
            accepted: Vec::new(),
            rejected: Vec::new(),
        }
    }
}

impl<E> FromIterator<Result<Accepted<E>, Rejection>> for Batch<E> {
    fn from_iter<I: IntoIterator<Item = Result<Accepted<E>, Rejection>>>(iter: I) -> Self {
        let mut batch = Batch::default();
        for item in iter {
            match item {
                Ok(a) => batch.accepted.push(a),
                Err(r) => batch.rejected.push(r),
            }
        }
        batch
    }
}

/// The length of the UTF-8 byte-order mark `data` starts with (Windows tools such as
/// PowerShell 5's `Out-File -Encoding utf8` write one), else 0: the JSON parsers refuse it.
pub(crate) fn bom_len(data: &[u8]) -> usize {
    if data.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    }
}

/// The lines of `data` as (1-based number, byte range without CR/LF), skipping blank ones.
pub(crate) struct Lines<'a> {
    data: &'a [u8],
    /// Where the next line starts.
    pub(crate) pos: usize,
    /// The number of the line before it.
    pub(crate) line: u64,
}

impl<'a> Lines<'a> {
    fn new(data: &'a [u8]) -> Self {
        Lines {
            data,
            pos: bom_len(data),
            line: 0,
        }
    }

    /// Goes on from byte `pos`, the line before it numbered `line`.
    pub(crate) fn resume(data: &'a [u8], pos: usize, line: u64) -> Self {
        Lines { data, pos, line }
    }
}

impl Iterator for Lines<'_> {
    type Item = (u64, Range<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.pos >= self.data.len() {
                return None;
            }
            let rest = &self.data[self.pos..];
            let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            let start = self.pos;
            self.pos += len + 1;
            self.line += 1;
            let mut end = start + len;
            if end > start && self.data[end - 1] == b'\r' {
                end -= 1;
            }
            if self.data[start..end].iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some((self.line, start..end));
        }
    }
}

fn json_kind(v: &sonic_rs::Value) -> &'static str {
    use sonic_rs::JsonType;
    match v.get_type() {
        JsonType::Array => "an array",
        JsonType::String => "a string",
        JsonType::Number => "a number",
        JsonType::Boolean => "a boolean",
        JsonType::Null => "null",
        JsonType::Object => "an object",
    }
}

/// Decodes one JSON event from its bytes, parsing it once (the error path parses again to say
/// what the value is instead of an object).
fn json_event(bytes: &[u8], max: usize) -> Result<JsonEvent, RejectReason> {
    if bytes.len() > max {
        return Err(RejectReason::TooLarge {
            size: bytes.len(),
            max,
        });
    }
    match JsonEvent::parse_bytes(bytes) {
        Ok(event) => Ok(event),
        Err(JsonError::FastSyntax(e)) => Err(RejectReason::InvalidJson {
            column: e.column(),
            detail: parser_detail(&e),
        }),
        Err(JsonError::TooDeep) => Err(RejectReason::TooDeep),
        Err(JsonError::NotAnObject) => {
            let found = sonic_rs::from_slice::<sonic_rs::Value>(bytes)
                .map(|v| json_kind(&v))
                .unwrap_or("not an object");
            Err(RejectReason::NotAnObject { found })
        }
        Err(other) => Err(RejectReason::InvalidJson {
            column: 1,
            detail: other.to_string(),
        }),
    }
}

/// What the JSON parser found, on one line and without its own position (the rejection gives
/// it): the rest of its message quotes the raw bytes, control characters included.
fn parser_detail(error: &sonic_rs::Error) -> String {
    let line = first_line(error);
    match line.rfind(" at line ") {
        Some(at) => line[..at].to_owned(),
        None => line,
    }
}

/// Decodes an HTTP ingest body. Events larger than `max_event_bytes` are rejected unread.
/// At most how many events a body of `format` holds, counted without decoding it: its lines
/// that are not blank (a pretty-printed event counts once per line), or an array's elements
/// (its top-level commas, outside strings). What a server checks before decoding a body, whose
/// events cost far more memory decoded than as text.
pub fn events_at_most(body: &[u8], format: &BodyFormat) -> usize {
    let start = bom_len(body);
    let first = body[start..].iter().find(|b| !b.is_ascii_whitespace());
    // How deep the elements' separating commas are: 1 in an array, 2 in an object of records.
    let element_depth = match format {
        BodyFormat::JsonArray => 1,
        BodyFormat::Sniff if first == Some(&b'[') => 1,
        BodyFormat::Sniff if records_array(body, start).is_some() => 2,
        BodyFormat::Text(_) => return Lines::new(body).count(),
        // A line that is an object of records holds as many events as records.
        _ => {
            return Lines::new(body)
                .map(|(_, span)| match records_opening_len(&body[span.clone()]) {
                    Some(_) => elements_at_depth(&body[span], 2),
                    None => 1,
                })
                .sum();
        }
    };
    elements_at_depth(&body[start..], element_depth)
}

/// How many elements `data` holds at `element_depth` (1: an array's; 2: an object of records'),
/// counted by their separating commas, outside strings.
fn elements_at_depth(data: &[u8], element_depth: usize) -> usize {
    let mut scan = crate::json::Structure::default();
    let (mut depth, mut commas) = (0usize, 0usize);
    for &b in data {
        match scan.step(b) {
            Some(b'{' | b'[') => depth += 1,
            Some(b'}' | b']') => depth = depth.saturating_sub(1),
            Some(b',') if depth == element_depth => commas += 1,
            _ => {}
        }
    }
    commas + 1
}

pub fn decode_body(body: &[u8], format: BodyFormat, max_event_bytes: usize) -> Batch<JsonEvent> {
    let start = bom_len(body);
    let first = body[start..].iter().position(|b| !b.is_ascii_whitespace());
    let format = match (format, first.map(|i| body[start + i])) {
        (BodyFormat::Sniff, Some(b'[')) => BodyFormat::JsonArray,
        (BodyFormat::Sniff, Some(b'{')) => {
            if let Some(records) = records_array(body, start) {
                // Ends at the array's `]`: the object's `}` is no text after the array.
                return decode_array(&body[..records.end], records.start, max_event_bytes);
            }
            let first_line = Lines::new(body).next().map(|(_, r)| r).unwrap_or(0..0);
            let whole = start..body.len();
            if serde_json::from_slice::<serde::de::IgnoredAny>(&body[first_line]).is_err()
                && whole.len() <= max_event_bytes
                && let Ok(event) = JsonEvent::parse_bytes(&body[whole.clone()])
            {
                // One pretty-printed object.
                return Batch {
                    accepted: vec![Accepted {
                        position: Position::Line(1),
                        span: whole,
                        event,
                    }],
                    rejected: Vec::new(),
                };
            }
            BodyFormat::JsonLines
        }
        (BodyFormat::Sniff, _) => BodyFormat::JsonLines,
        (f, _) => f,
    };
    match format {
        BodyFormat::JsonArray => decode_array(body, start, max_event_bytes),
        BodyFormat::Text(zone) => decode_text(body, zone, max_event_bytes),
        _ => json_lines(body, max_event_bytes),
    }
}

/// Where the array of an object of records is in `body` (from `start`, after a byte-order
/// mark), from its `[` to past its `]`, when the body is one such object: `{"Records":[…]}`
/// (or `records`) and nothing else but blanks. An array never closed reaches the body's end:
/// its elements are then told apart as those of any broken array. `None` for a body that opens
/// otherwise, or whose object holds another key (an event as any other).
fn records_array(body: &[u8], start: usize) -> Option<Range<usize>> {
    let array_start = start + records_opening_len(&body[start..])? - 1;
    let mut scan = crate::json::Structure::default();
    let mut depth = 0usize;
    for (at, &b) in body.iter().enumerate().skip(array_start) {
        match scan.step(b) {
            Some(b'{' | b'[') => depth += 1,
            Some(b'}' | b']') => {
                depth -= 1;
                if depth == 0 {
                    let end = at + 1;
                    let mut rest = body[end..].iter().filter(|b| !b.is_ascii_whitespace());
                    return (rest.next() == Some(&b'}') && rest.next().is_none())
                        .then_some(array_start..end);
                }
            }
            _ => {}
        }
    }
    Some(array_start..body.len())
}

/// A text body ([`BodyFormat::Text`]): its lines as events in the format its first lines are
/// in ([`LineFormat::of`]; a year-less syslog time is the latest before now, times without an offset in `zone`).
fn decode_text(body: &[u8], zone: LocalZone, max_event_bytes: usize) -> Batch<JsonEvent> {
    let format = LineFormat::of(
        body,
        || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64)
        },
        &zone,
    )
    .unwrap_or(LineFormat::Plain(zone));
    let mut batch = Batch::default();
    for line in text_log_lines(body, format, max_event_bytes) {
        match line {
            Ok(Accepted {
                position,
                span,
                event,
            }) => match event.into_json_event() {
                Ok(event) => batch.accepted.push(Accepted {
                    position,
                    span,
                    event,
                }),
                // The decoders write JSON objects; a failure here would be a bug, said as such.
                Err(e) => batch.rejected.push(Rejection {
                    position,
                    reason: RejectReason::InvalidJson {
                        column: 1,
                        detail: format!("the line's event could not be written as JSON: {e}"),
                    },
                }),
            },
            Err(rejection) => batch.rejected.push(rejection),
        }
    }
    batch
}

/// The events of a JSON-lines text, one line at a time (for files too large to collect).
/// A line that is an object of records (AWS CloudTrail's delivery file, Azure Monitor's
/// export, one per line as shippers forward them) is its records, numbered by their place among
/// the records of all such lines, as a file of such objects is read.
fn json_lines(data: &[u8], max_event_bytes: usize) -> Batch<JsonEvent> {
    let mut batch = Batch::default();
    let mut records_before = 0u64;
    for (line, span) in Lines::new(data) {
        if let Some(records) = records_array(&data[..span.end], span.start) {
            let mut line_batch = decode_array(&data[..records.end], records.start, max_event_bytes);
            let mut count = 0;
            let mut renumber = |position: &mut Position| {
                if let Position::Index(i) = position {
                    count = count.max(*i + 1);
                    *i += records_before;
                }
            };
            line_batch
                .accepted
                .iter_mut()
                .for_each(|a| renumber(&mut a.position));
            line_batch
                .rejected
                .iter_mut()
                .for_each(|r| renumber(&mut r.position));
            records_before += count;
            batch.accepted.append(&mut line_batch.accepted);
            batch.rejected.append(&mut line_batch.rejected);
            continue;
        }
        let position = Position::Line(line);
        match json_event(&data[span.clone()], max_event_bytes) {
            Ok(event) => batch.accepted.push(Accepted {
                position,
                span,
                event,
            }),
            Err(reason) => batch.rejected.push(Rejection { position, reason }),
        }
    }
    batch
}

fn decode_array(body: &[u8], start: usize, max: usize) -> Batch<JsonEvent> {
    let mut batch = Batch::default();
    let content = &body[start..];
    if content.iter().all(u8::is_ascii_whitespace) {
        return batch;
    }
    if crate::json::nests_deeper_than(content, crate::json::MAX_NESTING + 1) {
        // The parser's iterator recurses to skip an element: split at the top-level commas
        // instead, and let each element be refused on its own.
        return decode_deep_array(body, start, max);
    }
    let base = body.as_ptr() as usize;
    // Where the last element read ends: the array's `]` is next, then only blanks.
    let mut end = content
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .filter(|&i| content[i] == b'[')
        .map(|i| start + i + 1);
    for (index, item) in sonic_rs::to_array_iter(content).enumerate() {
        let position = Position::Index(index as u64);
        let lazy = match item {
            Ok(v) => v,
            // Broken syntax: the rest element by element, so that one bad element costs only
            // itself.
            Err(_) => match end {
                Some(from) => {
                    split_elements(body, from, true, max, &mut batch);
                    return batch;
                }
                None => return decode_deep_array(body, start, max),
            },
        };
        let raw = lazy.as_raw_str().as_bytes();
        // The raw text is a slice of the body; find where, to give the caller its span.
        let offset = (raw.as_ptr() as usize).wrapping_sub(base);
        let span = if body.get(offset..offset + raw.len()) == Some(raw) {
            offset..offset + raw.len()
        } else {
            0..0
        };
        end = (!span.is_empty()).then_some(span.end);
        match json_event(raw, max) {
            Ok(event) => batch.accepted.push(Accepted {
                position,
                span,
                event,
            }),
            Err(reason) => batch.rejected.push(Rejection { position, reason }),
        }
    }
    if let Some(rejection) = end.and_then(|end| after_array(body, end, batch.len())) {
        batch.rejected.push(rejection);
    }
    batch
}

/// A rejection for text after the array whose last element ends at `end` (the `]` follows,
/// then only blanks), at index `index`; `None` when there is none.
fn after_array(body: &[u8], end: usize, index: usize) -> Option<Rejection> {
    let rest = body.get(end..)?;
    let close = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    if rest[close] != b']' {
        return None;
    }
    let after = end + close + 1;
    let extra = body[after..]
        .iter()
        .position(|b| !b.is_ascii_whitespace())?;
    let (line, column) = line_and_column(body, after + extra);
    Some(Rejection {
        position: Position::Index(index as u64),
        reason: RejectReason::AfterArray { line, column },
    })
}

/// [`decode_array`] for a body that nests deeper than the parser can follow: its elements are
/// the spans between the array's top-level commas, found by a scan outside strings.
fn decode_deep_array(body: &[u8], start: usize, max: usize) -> Batch<JsonEvent> {
    let mut batch = Batch::default();
    let at = start
        + body[start..]
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
    if body.get(at) == Some(&b'[') {
        split_elements(body, at + 1, false, max, &mut batch);
    } else {
        let (line, column) = line_and_column(body, at.min(body.len()));
        batch.rejected.push(Rejection {
            position: Position::Index(0),
            reason: RejectReason::InvalidArray {
                line,
                column,
                detail: "the array is not closed".into(),
            },
        });
    }
    batch
}

/// Decodes the elements of an array from `from` (just inside it, depth 1) to its closing
/// bracket, each alone, numbered on from those `batch` holds: the spans between top-level
/// commas, found by a scan outside strings. `resumed`: `from` is the end of an element already
/// read, so what comes before the first comma is no element when it is blank.
fn split_elements(
    body: &[u8],
    from: usize,
    resumed: bool,
    max: usize,
    batch: &mut Batch<JsonEvent>,
) {
    let mut elements = Vec::new();
    let mut at = from;
    let mut element_start = from;
    let mut closed = false;
    let mut depth = 1usize;
    let mut scan = crate::json::Structure::default();
    while at < body.len() {
        match scan.step(body[at]) {
            Some(b'{' | b'[') => depth += 1,
            Some(b',') if depth == 1 => {
                elements.push(element_start..at);
                element_start = at + 1;
            }
            Some(b'}' | b']') => {
                depth -= 1;
                if depth == 0 {
                    elements.push(element_start..at);
                    closed = true;
                    break;
                }
            }
            _ => {}
        }
        at += 1;
    }
    let trimmed = |r: std::ops::Range<usize>| {
        let lead = body[r.clone()]
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
        let trail = body[r.clone()]
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
        r.start + lead..(r.end - trail).max(r.start + lead)
    };
    let mut elements: Vec<_> = elements.into_iter().map(trimmed).collect();
    // `[]`, or an array resumed after its last element: no element.
    let nothing = if resumed {
        elements.first().is_some_and(|e| e.is_empty())
    } else {
        elements.len() == 1 && elements[0].is_empty()
    };
    if nothing {
        elements.remove(0);
    }
    for span in elements {
        let position = Position::Index(batch.len() as u64);
        match json_event(&body[span.clone()], max) {
            Ok(event) => batch.accepted.push(Accepted {
                position,
                span,
                event,
            }),
            Err(reason) => batch.rejected.push(Rejection { position, reason }),
        }
    }
    if closed {
        if let Some(rejection) = after_array(body, at, batch.len()) {
            batch.rejected.push(rejection);
        }
    } else {
        let (line, column) = line_and_column(body, at.min(body.len()));
        batch.rejected.push(Rejection {
            position: Position::Index(batch.len() as u64),
            reason: RejectReason::InvalidArray {
                line,
                column,
                detail: "the array is not closed".into(),
            },
        });
    }
}

/// The 1-based line and column (byte) of `offset` in `body`.
fn line_and_column(body: &[u8], offset: usize) -> (usize, usize) {
    let before = &body[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = offset
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, column)
}

/// The messages of a plain syslog text (one per line, RFC 5424 or RFC 3164 as
/// [`crate::syslog::parse`] reads them), one line at a time. Lines longer than `max_line_bytes`
/// are rejected unread.
pub fn syslog_lines<'a>(
    data: &'a [u8],
    options: SyslogOptions,
    max_line_bytes: usize,
) -> impl Iterator<Item = Result<Accepted<SyslogMessage<'a>>, Rejection>> + 'a {
    Lines::new(data).map(move |(line, span)| {
        decode_line(data, line, span, max_line_bytes, |bytes| {
            crate::syslog::parse(bytes, &options)
        })
    })
}

/// How the lines of a plain-text log are read.
#[derive(Debug, Clone)]
pub enum LineFormat {
    /// Syslog messages (RFC 5424 or RFC 3164), their timestamps read with these options.
    Syslog(SyslogOptions),
    /// Web server access-log lines ([`crate::access`]).
    Access,
    /// Web server error-log lines ([`crate::error_log`]), their times read in this zone.
    ErrorLog(LocalZone),
    /// A W3C extended log (IIS), with the field names of the last `#Fields:` directive read
    /// ([`crate::w3c`]).
    W3c(Option<crate::w3c::Fields>),
    /// Linux audit records, auditd's audit.log ([`crate::auditd`]).
    Auditd,
    /// Lines of no format Vigil knows, each kept as its `message` (with the time it starts
    /// with, when it starts with one, read in this zone when it has no offset): for search
    /// and pivots, when the user asks for it.
    Plain(LocalZone),
}

impl LineFormat {
    /// The format of a text log (`None` when it is none Vigil knows), told from its first
    /// line; when that one is in none, from the next lines (up to [`FORMAT_PROBE_LINES`]), if
    /// two of them at least are in one — a file cut from a larger log (`tail -c`, `split`)
    /// starts mid-line, `journalctl` writes a `-- Logs begin at …` banner, while a line of
    /// log quoted in some other text does not make it a log. A syslog file's year-less times
    /// are read as the latest before `syslog_reference_ms()`, and times written without an
    /// offset in `zone`. Lines before the first in the format are read in it too: kept when
    /// they fit it (RFC 3164 keeps any text as a message), rejected with the reason when not.
    pub fn of(
        text: &[u8],
        syslog_reference_ms: impl FnOnce() -> i64,
        zone: &LocalZone,
    ) -> Option<LineFormat> {
        let mut lines = Lines::new(text)
            .take(FORMAT_PROBE_LINES)
            .map(|(_, span)| &text[span]);
        let kind = match TextKind::of_line(lines.next()?) {
            Some(kind) => kind,
            None => {
                let mut seen = [0usize; TextKind::ALL.len()];
                for kind in lines.filter_map(TextKind::of_line) {
                    seen[kind as usize] += 1;
                }
                let (most, &count) = seen
                    .iter()
                    .enumerate()
                    .max_by_key(|&(i, n)| (n, usize::MAX - i))?;
                if count < 2 {
                    return None;
                }
                TextKind::ALL[most]
            }
        };
        Some(match kind {
            TextKind::Syslog => {
                LineFormat::Syslog(SyslogOptions::new(syslog_reference_ms()).in_zone(zone.clone()))
            }
            TextKind::Access => LineFormat::Access,
            TextKind::ErrorLog => LineFormat::ErrorLog(zone.clone()),
            TextKind::W3c => LineFormat::W3c(None),
            TextKind::Auditd => LineFormat::Auditd,
        })
    }
}

/// How many of a text's first non-blank lines [`LineFormat::of`] reads to tell its format.
pub const FORMAT_PROBE_LINES: usize = 8;

/// The text log formats a line can be told to be in, in the order they are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextKind {
    Syslog,
    Access,
    ErrorLog,
    W3c,
    Auditd,
}

impl TextKind {
    const ALL: [TextKind; 5] = [
        TextKind::Syslog,
        TextKind::Access,
        TextKind::ErrorLog,
        TextKind::W3c,
        TextKind::Auditd,
    ];

    fn of_line(line: &[u8]) -> Option<TextKind> {
        if looks_like_syslog(line) {
            Some(TextKind::Syslog)
        } else if crate::access::looks_like_access_log(line) {
            Some(TextKind::Access)
        } else if crate::error_log::looks_like_error_log(line) {
            Some(TextKind::ErrorLog)
        } else if crate::w3c::looks_like_w3c(line) {
            Some(TextKind::W3c)
        } else if crate::auditd::looks_like_auditd(line) {
            Some(TextKind::Auditd)
        } else {
            None
        }
    }
}

/// One line of a plain-text log, decoded.
#[derive(Debug, Clone)]
pub enum LineEvent<'a> {
    /// A syslog message.
    Syslog(SyslogMessage<'a>),
    /// A web request.
    Access(AccessEntry<'a>),
    /// A web server's error message.
    Error(ErrorEntry<'a>),
    /// A line of no known format.
    Plain(PlainLine<'a>),
    /// A W3C log line, written as its event already, and its time.
    W3c(String, Option<i64>),
    /// A Linux audit record.
    Audit(AuditRecord<'a>),
}

/// A line of a text log of no known format.
#[derive(Debug, Clone)]
pub struct PlainLine<'a> {
    /// The line, invalid UTF-8 replaced.
    pub text: std::borrow::Cow<'a, str>,
    /// The time the line starts with, when it starts with one.
    pub unix_ms: Option<i64>,
    /// Whether the line held bytes that are not UTF-8 (shown as U+FFFD in its text).
    pub invalid_utf8: bool,
}

/// The field marking an event as a line of text of no known format (`plain`).
pub const TEXT_LOG_FORMAT_FIELD: &str = "text_log_format";

impl PlainLine<'_> {
    /// `{"text_log_format": "plain", "timestamp": …, "message": …}`, the timestamp only when
    /// the line starts with one, and `"invalid_utf8": true` when the line was not UTF-8.
    pub fn to_json_text(&self) -> String {
        let mut w = crate::write::ObjectWriter::with_capacity(self.text.len() + 72);
        w.string(TEXT_LOG_FORMAT_FIELD, "plain");
        if let Some(ms) = self.unix_ms {
            w.string("timestamp", &crate::time::format_timestamp(ms));
        }
        w.string("message", &self.text);
        if self.invalid_utf8 {
            w.value(crate::syslog::INVALID_UTF8_FIELD, &true);
        }
        w.finish()
    }
}

/// A line as a [`PlainLine`]: its text, and the time it starts with, if any: ISO 8601
/// (`2026-12-03T22:15:10Z`, `2016-09-28 04:30:30,` as Windows' CBS log writes it, Python's
/// `2026-12-03 22:15:10,123`) or Go's `2009/11/10 23:00:00`; without an offset it is a time
/// in `zone`.
pub fn plain_line<'a>(bytes: &'a [u8], zone: &LocalZone) -> PlainLine<'a> {
    let text = String::from_utf8_lossy(bytes.trim_ascii_end());
    let unix_ms = leading_time(&text, zone);
    // A borrowed text is the line itself, valid; an owned one had bytes replaced.
    let invalid_utf8 = matches!(text, std::borrow::Cow::Owned(_));
    PlainLine {
        text,
        unix_ms,
        invalid_utf8,
    }
}

/// The date and time shapes a plain line may start with (`d` a digit, `T` a `T` or a space,
/// anything else itself). Two-digit years are left out: `17/06/09` is 9 June 2017 to log4j in
/// Hadoop and Spark, 6 September 2009 to an American program — no time beats a wrong one.
const LEADING_TIMES: [&[u8]; 2] = [
    // ISO 8601, Python's logging, log4j's ISO8601, Windows' CBS log.
    b"dddd-dd-ddTdd:dd:dd",
    // Go's log package, and many C programs: 2009/11/10 23:00:00.
    b"dddd/dd/dd dd:dd:dd",
];

fn leading_time(text: &str, zone: &LocalZone) -> Option<i64> {
    let b = text.as_bytes();
    // The date and time are ASCII (so the text can be cut after them): digits but for the
    // separators of the shape.
    let fits = |shape: &[u8]| {
        b.len() >= shape.len()
            && shape.iter().zip(b).all(|(&s, &c)| match s {
                b'd' => c.is_ascii_digit(),
                b'T' => matches!(c, b'T' | b' '),
                _ => s == c,
            })
    };
    let shape = LEADING_TIMES.iter().find(|shape| fits(shape))?;
    let date = text[..shape.len()].replace('/', "-");
    // The time runs to the first character no timestamp holds; a comma before digits is
    // Python's and log4j's decimal separator.
    let mut end = shape.len();
    while end < b.len() {
        match b[end] {
            b'0'..=b'9' | b'.' | b':' | b'+' | b'-' | b'Z' => end += 1,
            b',' if b.get(end + 1).is_some_and(u8::is_ascii_digit) => end += 1,
            _ => break,
        }
    }
    let time = format!("{date}{}", text[shape.len()..end].replacen(',', ".", 1));
    crate::time::parse_timestamp_in(&time, zone)
        .or_else(|| crate::time::parse_timestamp_in(&date, zone))
}

impl LineEvent<'_> {
    /// The event as the engine reads it (and the log store keeps its text).
    pub fn into_json_event(self) -> Result<JsonEvent, JsonError> {
        let text = match self {
            LineEvent::W3c(json, _) => json,
            other => other.to_json_text(),
        };
        JsonEvent::parse_owned(text.into_bytes())
    }

    /// The event as JSON text, as ingest stores it.
    pub fn to_json_text(&self) -> String {
        match self {
            LineEvent::Syslog(message) => message.to_json_text(),
            LineEvent::Access(entry) => entry.to_json_text(),
            LineEvent::Error(entry) => entry.to_json_text(),
            LineEvent::Plain(line) => line.to_json_text(),
            LineEvent::W3c(json, _) => json.clone(),
            LineEvent::Audit(record) => record.to_json_text(),
        }
    }

    /// Its time in milliseconds since the epoch, when it has one.
    pub fn timestamp_ms(&self) -> Option<i64> {
        match self {
            LineEvent::Syslog(message) => message.timestamp_ms(),
            LineEvent::Access(entry) => Some(entry.unix_ms),
            LineEvent::Error(entry) => Some(entry.unix_ms),
            LineEvent::Plain(line) => line.unix_ms,
            LineEvent::W3c(_, time) => *time,
            LineEvent::Audit(record) => Some(record.unix_ms),
        }
    }
}

/// The events of a plain-text log in `format`, one line at a time (a W3C log's directive lines
/// are read, not returned). Lines longer than `max_line_bytes` are rejected unread.
pub fn text_log_lines(
    data: &[u8],
    mut format: LineFormat,
    max_line_bytes: usize,
) -> impl Iterator<Item = Result<Accepted<LineEvent<'_>>, Rejection>> + '_ {
    Lines::new(data).filter_map(move |(line, span)| {
        text_log_line(data, line, span, &mut format, max_line_bytes)
    })
}

/// Line `line` of a plain-text log, at `span` of `data`, as an event or why not; `None` for a
/// W3C directive (`#Fields:` changes `format` for the lines after it).
pub(crate) fn text_log_line<'a>(
    data: &'a [u8],
    line: u64,
    span: Range<usize>,
    format: &mut LineFormat,
    max_line_bytes: usize,
) -> Option<Result<Accepted<LineEvent<'a>>, Rejection>> {
    if let LineFormat::W3c(fields) = format
        && data[span.clone()].starts_with(b"#")
    {
        if let Some(named) = crate::w3c::directive_fields(&data[span]) {
            *fields = Some(named);
        }
        return None;
    }
    Some(decode_line(
        data,
        line,
        span,
        max_line_bytes,
        |bytes| match format {
            LineFormat::Syslog(options) => crate::syslog::parse(bytes, options)
                .map(LineEvent::Syslog)
                .map_err(RejectReason::from),
            LineFormat::Access => crate::access::parse(bytes)
                .map(LineEvent::Access)
                .map_err(RejectReason::from),
            LineFormat::ErrorLog(zone) => crate::error_log::parse(bytes, zone)
                .map(LineEvent::Error)
                .map_err(RejectReason::from),
            LineFormat::Plain(zone) => Ok(LineEvent::Plain(plain_line(bytes, zone))),
            LineFormat::W3c(fields) => fields
                .as_deref()
                .ok_or(crate::w3c::W3cError::NoFields)
                .and_then(|fields| crate::w3c::to_json_text(bytes, fields))
                .map(|(json, time)| LineEvent::W3c(json, time))
                .map_err(RejectReason::from),
            LineFormat::Auditd => crate::auditd::parse(bytes)
                .map(LineEvent::Audit)
                .map_err(RejectReason::from),
        },
    ))
}

/// Line `line` of a text, at `span` of `data`, decoded by `decode` unless it is longer than
/// `max_line_bytes`.
fn decode_line<'a, E, R: Into<RejectReason>>(
    data: &'a [u8],
    line: u64,
    span: Range<usize>,
    max_line_bytes: usize,
    decode: impl FnOnce(&'a [u8]) -> Result<E, R>,
) -> Result<Accepted<E>, Rejection> {
    let position = Position::Line(line);
    let bytes = &data[span.clone()];
    if bytes.len() > max_line_bytes {
        return Err(Rejection {
            position,
            reason: RejectReason::TooLarge {
                size: bytes.len(),
                max: max_line_bytes,
            },
        });
    }
    match decode(bytes) {
        Ok(event) => Ok(Accepted {
            position,
            span,
            event,
        }),
        Err(e) => Err(Rejection {
            position,
            reason: e.into(),
        }),
    }
}

/// Decodes a whole syslog text into a [`Batch`].
pub fn decode_syslog(
    data: &[u8],
    options: SyslogOptions,
    max_line_bytes: usize,
) -> Batch<SyslogMessage<'_>> {
    syslog_lines(data, options, max_line_bytes).collect()
}

/// The first non-blank line of a text (BOM and CR left out), which tells a text log's format.
pub(crate) fn first_text_line(data: &[u8]) -> Option<&[u8]> {
    Lines::new(data).next().map(|(_, span)| &data[span])
}

/// Whether a text looks like a syslog file: its first non-blank line has a `<PRI>`, or starts
/// with a syslog timestamp followed by the program that wrote it. Lets `vigil ingest` and
/// `vigil hunt` tell syslog files from other text.
pub fn looks_like_syslog(data: &[u8]) -> bool {
    let Some(line) = first_text_line(data) else {
        return false;
    };
    let options = SyslogOptions::new(0);
    // Without a `<PRI>`, a time alone is not enough: applications write their own logs with
    // a leading time too (`2026-12-03 22:15:10,123 INFO …`, Windows' CBS log); a syslog file's
    // line names the program after it (`sshd[42]:`).
    crate::syslog::parse(line, &options)
        .is_ok_and(|m| m.priority.is_some() || (m.timestamp.is_some() && m.app_name.is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A text's format is its first line's; failing that, the one two of its next lines at
    /// least are in (a file cut mid-line, a banner), never a line quoted in other text.
    #[test]
    fn a_body_is_counted_without_decoding() {
        let count = |body: &str, format: BodyFormat| events_at_most(body.as_bytes(), &format);
        assert_eq!(count("{}\n\n{}\r\n{}", BodyFormat::Sniff), 3);
        assert_eq!(count("", BodyFormat::JsonLines), 0);
        // An array's elements, not the commas inside them or their strings.
        let array = r#" [{"a":[1,2],"b":"x,y"}, {"c":{"d":1,"e":2}}, {}]"#;
        assert_eq!(count(array, BodyFormat::Sniff), 3);
        assert_eq!(count(array, BodyFormat::JsonArray), 3);
        assert_eq!(count("[]", BodyFormat::JsonArray), 1, "at most");
        // An object of records: the elements of its array.
        let records = r#"{"Records": [{"a":[1,2],"b":"x,y"}, {"c":{"d":1}}, {}]}"#;
        assert_eq!(count(records, BodyFormat::Sniff), 3);
        assert_eq!(
            count("line one\nline two\n", BodyFormat::Text(LocalZone::UTC)),
            2
        );
    }

    /// CloudTrail's delivery file, or Azure Monitor's export, sent as it is: each record an
    /// event, numbered by its index as an array's elements are.
    #[test]
    fn an_object_of_records_is_its_records() {
        let cloudtrail = br#"{"Records":[{"eventName":"ConsoleLogin","eventSource":"signin.amazonaws.com"},{"eventName":"StopLogging"},[1]]}"#;
        let batch = decode_body(cloudtrail, BodyFormat::Sniff, usize::MAX);
        let names: Vec<_> = batch
            .accepted
            .iter()
            .map(|a| (a.position, a.event.value()["eventName"].clone()))
            .collect();
        assert_eq!(
            names,
            [
                (Position::Index(0), "ConsoleLogin".into()),
                (Position::Index(1), "StopLogging".into())
            ]
        );
        let span = batch.accepted[1].span.clone();
        assert_eq!(&cloudtrail[span], br#"{"eventName":"StopLogging"}"#);
        assert_eq!(batch.rejected.len(), 1);
        assert_eq!(batch.rejected[0].position, Position::Index(2));
        let azure = b"\xef\xbb\xbf{\n  \"records\": [\n    {\"operationName\": \"a\"},\n    {\"operationName\": \"b\"}\n  ]\n}\n";
        let batch = decode_body(azure, BodyFormat::Sniff, usize::MAX);
        assert_eq!((batch.accepted.len(), batch.rejected.len()), (2, 0));
        let empty = decode_body(b"{\"records\": []}", BodyFormat::Sniff, usize::MAX);
        assert_eq!((empty.accepted.len(), empty.rejected.len()), (0, 0));
        // With another key it is one event, as any object.
        let paged = br#"{"records":[{"a":1}],"nextLink":"x"}"#;
        let batch = decode_body(paged, BodyFormat::Sniff, usize::MAX);
        assert_eq!((batch.accepted.len(), batch.rejected.len()), (1, 0));
        assert_eq!(batch.accepted[0].event.value()["nextLink"], "x");
        // An array never closed: the records before the break, then what broke.
        let cut = br#"{"Records":[{"a":1},{"b":"#;
        let batch = decode_body(cut, BodyFormat::Sniff, usize::MAX);
        assert_eq!(batch.accepted.len(), 1);
        assert_eq!(batch.rejected.len(), 1, "{:?}", batch.rejected);
    }

    /// Objects of records sent one per line (`application/x-ndjson`, or several objects under
    /// `application/json`), as a shipper forwards CloudTrail's files: each line's records are
    /// events, numbered on across the lines; other lines stay one event each, and the count
    /// checked before decoding counts the records.
    #[test]
    fn lines_that_are_objects_of_records_are_their_records() {
        let body = concat!(
            r#"{"Records":[{"eventName":"StopLogging"},{"eventName":"ConsoleLogin"}]}"#,
            "\n",
            r#"{"user":"alice"}"#,
            "\n",
            r#" {"records": [{"operationName":"a"}, 5]}"#,
            "\n",
        )
        .as_bytes();
        for format in [BodyFormat::JsonLines, BodyFormat::Sniff] {
            assert_eq!(events_at_most(body, &format), 5);
            let batch = decode_body(body, format, usize::MAX);
            let positions: Vec<_> = batch.accepted.iter().map(|a| a.position).collect();
            assert_eq!(
                positions,
                [
                    Position::Index(0),
                    Position::Index(1),
                    Position::Line(2),
                    Position::Index(2)
                ]
            );
            assert_eq!(batch.accepted[1].event.value()["eventName"], "ConsoleLogin");
            assert_eq!(
                &body[batch.accepted[3].span.clone()],
                br#"{"operationName":"a"}"#
            );
            let rejected: Vec<_> = batch.rejected.iter().map(|r| r.position).collect();
            assert_eq!(rejected, [Position::Index(3)]);
        }
    }

    #[test]
    fn a_text_log_is_told_by_its_first_lines() {
        let kind = |text: &str| {
            LineFormat::of(text.as_bytes(), || 0, &LocalZone::UTC).map(|f| match f {
                LineFormat::Syslog(_) => "syslog",
                LineFormat::Access => "access",
                LineFormat::ErrorLog(_) => "error",
                LineFormat::W3c(_) => "w3c",
                LineFormat::Auditd => "auditd",
                LineFormat::Plain(_) => "plain",
            })
        };
        let access = "203.0.113.9 - - [03/Dec/2026:22:15:10 +0000] \"GET / HTTP/1.1\" 200 5\n";
        let syslog = "Dec  3 22:15:10 bastion sshd[42]: Failed password for root\n";
        assert_eq!(kind(access), Some("access"));
        assert_eq!(
            kind(&format!("0 \"GET /x HTTP/1.1\" 404 0\n{access}{access}")),
            Some("access")
        );
        assert_eq!(
            kind(&format!(
                "-- Logs begin at Thu 2026-12-03 00:00:00 UTC. --\n{syslog}{syslog}"
            )),
            Some("syslog")
        );
        assert_eq!(
            kind(&format!("# Notes\nWe saw this line:\n{syslog}and more.\n")),
            None
        );
        let audit = "type=SYSCALL msg=audit(1700000000.123:4567): arch=c000003e syscall=59\n";
        assert_eq!(kind(audit), Some("auditd"));
        assert_eq!(
            kind(&format!("node=web01 {audit}")),
            Some("auditd"),
            "auditd names the host first when told to"
        );
        assert_eq!(
            kind(&format!("4567): arch=c000003e syscall=59\n{audit}{audit}")),
            Some("auditd"),
            "cut mid-line"
        );
        // Past the lines read, nothing counts.
        let prose = "words\n".repeat(FORMAT_PROBE_LINES);
        assert_eq!(kind(&format!("{prose}{syslog}{syslog}")), None);
        assert_eq!(kind(""), None);
    }

    /// A plain line keeps its text, and the ISO 8601 time it starts with as its timestamp.
    #[test]
    fn plain_lines_take_the_time_they_start_with() {
        let at = |line: &str| plain_line(line.as_bytes(), &LocalZone::UTC).unix_ms;
        let ms = |t: &str| crate::time::parse_timestamp(t);
        assert_eq!(
            at("2026-12-03 22:15:10,123 INFO app started"),
            ms("2026-12-03T22:15:10.123Z")
        );
        assert_eq!(
            at("2026-12-03T22:15:10+01:00 something"),
            ms("2026-12-03T21:15:10Z")
        );
        assert_eq!(
            at("2016-09-28 04:30:30, Info CBS Loaded"),
            ms("2016-09-28T04:30:30Z")
        );
        assert_eq!(at("2026-12-03T22:15:10.5Z"), ms("2026-12-03T22:15:10.500Z"));
        assert_eq!(
            at("2009/11/10 23:00:00.123456 listening on :8080"),
            ms("2009-11-10T23:00:00.123Z")
        );

        for none in [
            "081109 203615 148 INFO dfs.DataNode: x",
            "17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered",
            "2026-13-45 99:99:99 not a time",
            // A character that is no digit where the time's last one stands (cut, it panicked).
            "2026-12-03 22:15:1\u{e9}, then text",
            "short",
            "",
        ] {
            assert_eq!(at(none), None, "{none}");
        }
        let line = plain_line(
            b"2026-12-03 22:15:10 login failed for \xff bob\r",
            &LocalZone::UTC,
        );
        assert_eq!(
            line.to_json_text(),
            "{\"text_log_format\":\"plain\",\"timestamp\":\"2026-12-03T22:15:10.000Z\",\"message\":\"2026-12-03 22:15:10 login failed for \u{fffd} bob\",\"invalid_utf8\":true}"
        );
        assert_eq!(
            plain_line(b"no time", &LocalZone::UTC).to_json_text(),
            r#"{"text_log_format":"plain","message":"no time"}"#
        );
    }

    /// A line of a text log holding bytes that are not UTF-8 says so (its text shows them as
    /// U+FFFD): an access line, a W3C line; a valid line has no such field.
    #[test]
    fn text_log_lines_that_were_not_utf8_say_so() {
        let field = |json: &str| {
            serde_json::from_str::<serde_json::Value>(json).unwrap()
                [crate::syslog::INVALID_UTF8_FIELD]
                .clone()
        };
        let access = |line: &[u8]| crate::access::parse(line).unwrap().to_json_text();
        let bad =
            access(b"10.0.0.1 - - [03/Dec/2026:22:15:10 +0000] \"GET /caf\xe9 HTTP/1.1\" 200 5");
        assert_eq!(field(&bad), serde_json::json!(true), "{bad}");
        assert!(bad.contains("/caf\u{fffd}"), "{bad}");
        let good =
            access(b"10.0.0.1 - - [03/Dec/2026:22:15:10 +0000] \"GET /cafe HTTP/1.1\" 200 5");
        assert_eq!(field(&good), serde_json::Value::Null, "{good}");

        let fields = ["date", "time", "cs-uri-stem"].map(String::from);
        let w3c = |line: &[u8]| crate::w3c::to_json_text(line, &fields).unwrap().0;
        let bad = w3c(b"2026-12-03 22:15:10 /caf\xe9");
        assert_eq!(field(&bad), serde_json::json!(true), "{bad}");
        let good = w3c(b"2026-12-03 22:15:10 /cafe");
        assert_eq!(field(&good), serde_json::Value::Null, "{good}");
    }

    #[test]
    fn content_types_choose_the_format() {
        assert_eq!(
            BodyFormat::from_content_type(Some("application/x-ndjson; charset=utf-8")),
            BodyFormat::JsonLines
        );
        assert_eq!(
            BodyFormat::from_content_type(Some("application/json")),
            BodyFormat::Sniff
        );
        assert_eq!(BodyFormat::from_content_type(None), BodyFormat::Sniff);
    }

    /// `depth` nested objects around a number.
    fn nested(depth: usize) -> String {
        format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
    }

    #[test]
    fn events_nested_too_deep_are_refused_without_overflowing_the_stack() {
        // Parsers recurse on nesting: a body nested 200,000 deep used to abort the server.
        // Run on a thread with the stack of a tokio worker.
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let deep = nested(200_000);
                let body = format!(
                    "{{\"ok\":1}}\n{deep}\n{}\n",
                    nested(crate::json::MAX_NESTING)
                );
                for format in [BodyFormat::JsonLines, BodyFormat::Sniff] {
                    let batch = decode_body(body.as_bytes(), format.clone(), usize::MAX);
                    assert_eq!(batch.accepted.len(), 2, "{format:?}");
                    assert_eq!(batch.rejected.len(), 1);
                    assert_eq!(batch.rejected[0].position, Position::Line(2));
                    assert!(
                        batch.rejected[0]
                            .reason
                            .to_string()
                            .contains("more than 100 levels deep"),
                        "{}",
                        batch.rejected[0].reason
                    );
                }
                // One pretty-printed object, and array bodies, deep inside or deep themselves.
                let one = decode_body(deep.as_bytes(), BodyFormat::Sniff, usize::MAX);
                assert_eq!((one.accepted.len(), one.rejected.len()), (0, 1));
                let array = format!("[{{\"ok\":1}}, {deep}]");
                let batch = decode_body(array.as_bytes(), BodyFormat::JsonArray, usize::MAX);
                assert_eq!((batch.accepted.len(), batch.rejected.len()), (1, 1));
                let arrays = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
                let batch = decode_body(arrays.as_bytes(), BodyFormat::Sniff, usize::MAX);
                assert!(batch.accepted.is_empty());
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn lines_skip_blanks_and_strip_cr_and_bom() {
        let data = b"\xef\xbb\xbfa\r\n\n  \nb";
        let lines: Vec<_> = Lines::new(data).map(|(n, r)| (n, &data[r])).collect();
        assert_eq!(lines, vec![(1, &b"a"[..]), (4, &b"b"[..])]);
    }
}
