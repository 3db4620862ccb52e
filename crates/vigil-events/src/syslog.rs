//! Syslog messages to JSON events: RFC 5424 (strict grammar, with a few documented leniencies)
//! and RFC 3164 / BSD syslog (lenient, as real senders write it), plus the TCP stream framer of
//! RFC 6587.
//!
//! [`parse`] takes one message (a UDP datagram, a TCP frame from [`Framer`], or a line of a
//! syslog file) and returns a [`SyslogMessage`] borrowing from the input; [`SyslogMessage::to_json`]
//! turns it into the event object the store and the detection engine see:
//!
//! | key | from |
//! |---|---|
//! | `syslog_format` | `"rfc5424"` or `"rfc3164"` |
//! | `priority`, `facility`, `facility_code`, `severity`, `severity_code` | `<PRI>` (absent when the message has none) |
//! | `version` | RFC 5424 only |
//! | `timestamp` | RFC 3339 (`2026-11-22T10:00:00.123Z`), in the sender's offset; for a message that is a web access-log line, the request's time as the line gives it (with its year and offset, which an RFC 3164 header lacks, and there even when the header has no time) |
//! | `hostname`, `app_name`, `procid`, `msgid` | header; absent when NILVALUE (`-`) or missing |
//! | `sequence` | the Cisco IOS sequence number (`<189>52: …`) |
//! | `structured_data` | `{"SD-ID": {"name": "value"}}`; a repeated name gives an array |
//! | `message` | MSG, without the spaces it starts with (rsyslog's RFC 5424 forward template writes the space that followed an RFC 3164 tag after the SD's own; sudo pads its user name) nor a BOM after them, bytes that are not UTF-8 replaced by U+FFFD |
//! | `invalid_utf8` | `true` when the message held bytes that are not UTF-8 (in MSG, an RFC 3164 header or a PARAM-VALUE), replaced by U+FFFD where they were: the text is not exactly what was sent; absent otherwise |
//! | `message_json` | MSG parsed, when it is a JSON object or array (also after `@cee:`) |
//! | `access_log_format`, `c-ip`, `cs-uri-stem` … | MSG read as a web access-log line, when it is one (nginx's `access_log syslog:`): the fields of [`crate::access`], its time the `timestamp` |
//! | `error_log_format`, `level`, `pid` … | MSG read as a web server error-log line, when it is one: the fields of [`crate::error_log`] but its time and message |
//! | `audit_log_format`, `type`, `serial` … | MSG read as a Linux audit record, when it is one (audisp-syslog): the fields of [`crate::auditd`] but those named as the keys above (its `timestamp`, `hostname` …) |
//!
//! RFC 5424 is detected by `<PRI>` followed by a 1–3 digit version and a space. Leniencies:
//! fractional seconds up to 9 digits (RFC: 6), lower-case `t`/`z`. Header lengths (HOSTNAME 255,
//! APP-NAME 48, PROCID 128, MSGID 32, SD-NAME 32) and printable US-ASCII are enforced.
//!
//! RFC 3164 is parsed leniently: the PRI is optional (files carry none); the timestamp may be
//! `Mmm dd hh:mm:ss[.frac]`, `Mmm dd yyyy hh:mm:ss` (Cisco ASA), `yyyy Mmm dd hh:mm:ss`,
//! ISO 8601 (`2026-11-22T10:00:00.123+01:00`, `+0100`, or no offset: rsyslog and journald
//! file formats), optionally preceded by a Cisco sequence number and `*`/`.` and followed by
//! a zone (`UTC`, or any zone followed by a year: `CST 1987`) and a `:`; a time without an
//! offset is a wall-clock time in [`SyslogOptions::zone`] (UTC unless the caller names one,
//! `--timezone`, `--syslog-timezone`), with the offset of its date. A year-less timestamp
//! takes the year that puts it closest before [`SyslogOptions::reference_ms`] (two days of clock
//! skew allowed). The hostname is the next token unless it looks like a tag (`sshd[42]:`,
//! `su:`), a Cisco mnemonic (`%SYS-5-…`) or holds no letter or digit (`,`); the tag is
//! `name[pid]:`, `name:`, or `name[pid]` and a space (macOS launchd). Everything that does not
//! fit is message text: a 3164 message is rejected only when it is empty, when its PRI is
//! malformed, or when its timestamp names an impossible date.
//!
//! Nothing here panics on any input (a test feeds random bytes).

use std::borrow::Cow;
use std::fmt;

use serde_json::{Map, Value};

use crate::time::LocalZone;
use crate::write::ObjectWriter;
use vigil_detect::mapping::{SyslogOrigin, is_pam_message, syslog_logsources};
use vigil_detect::{Event, FieldValue, Logsource};

/// Which grammar a message was parsed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogFormat {
    /// RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`).
    Rfc5424,
    /// RFC 3164 / BSD syslog (`<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`), and its variants.
    Rfc3164,
}

impl SyslogFormat {
    /// The name written to the event's `syslog_format` key.
    pub fn as_str(self) -> &'static str {
        match self {
            SyslogFormat::Rfc5424 => "rfc5424",
            SyslogFormat::Rfc3164 => "rfc3164",
        }
    }
}

/// What the parser needs from its caller to read timestamps that are incomplete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogOptions {
    /// Milliseconds since the epoch near when the message was written: the receive time for a
    /// listener, the file's modification time for a file. RFC 3164 timestamps carry no year;
    /// it is chosen from this.
    pub reference_ms: i64,
    /// The zone of timestamps written without an offset (RFC 3164 local time).
    pub zone: LocalZone,
}

impl SyslogOptions {
    /// Options with the given reference time and timestamps without offset read as UTC.
    pub fn new(reference_ms: i64) -> Self {
        SyslogOptions {
            reference_ms,
            zone: LocalZone::UTC,
        }
    }

    /// The same options with timestamps without offset read in `zone`.
    pub fn in_zone(self, zone: LocalZone) -> Self {
        SyslogOptions { zone, ..self }
    }
}

/// The field naming an event's syslog format (`rfc5424`, `rfc3164`): only syslog events have it.
pub const SYSLOG_FORMAT_FIELD: &str = "syslog_format";

/// The fields a syslog event may have of its own ([`SyslogMessage::to_json_text`]), which a
/// message carrying another log's fields leaves as they are.
const SYSLOG_FIELDS: &[&str] = &[
    SYSLOG_FORMAT_FIELD,
    "priority",
    "facility",
    "facility_code",
    "severity",
    "severity_code",
    "version",
    "timestamp",
    "hostname",
    "app_name",
    "procid",
    "msgid",
    "sequence",
    "structured_data",
    "message",
    INVALID_UTF8_FIELD,
];

/// The field saying a syslog message or a line of a text log (access, W3C, plain) held bytes
/// that are not UTF-8, which its text shows as U+FFFD ([`SyslogMessage::invalid_utf8`]):
/// `true`, or absent.
pub const INVALID_UTF8_FIELD: &str = "invalid_utf8";

/// The Sigma logsources of a syslog event, by the program that wrote it
/// ([`vigil_detect::mapping::syslog_logsources`]); `None` when the event is not syslog. Read
/// through the engine's field lookup, so the event is not converted.
pub fn syslog_event_logsources(event: &dyn Event) -> Option<&'static [Logsource]> {
    if !event.field_values(SYSLOG_FORMAT_FIELD, &mut |_| {}) {
        return None;
    }
    // Read without copying a value: this runs on every syslog event ingested.
    let mut facility = None;
    event.field_values("facility_code", &mut |value| {
        facility = match value {
            FieldValue::UInt(code) => Some(*code),
            FieldValue::Int(code) => u64::try_from(*code).ok(),
            _ => None,
        };
    });
    let mut pam_message = false;
    event.field_values("message", &mut |value| {
        pam_message = matches!(value, FieldValue::Str(message) if is_pam_message(message));
    });
    let origin = SyslogOrigin {
        program: "",
        facility,
        pam_message,
    };
    let mut sources = syslog_logsources(origin);
    event.field_values("app_name", &mut |value| {
        if let FieldValue::Str(program) = value {
            sources = syslog_logsources(SyslogOrigin { program, ..origin });
        }
    });
    Some(sources)
}

/// The facility and severity of `<PRI>` (PRI = facility × 8 + severity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priority {
    /// 0–23.
    pub facility: u8,
    /// 0–7.
    pub severity: u8,
}

const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

const SEVERITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

impl Priority {
    /// The PRI value, facility × 8 + severity.
    pub fn value(self) -> u8 {
        self.facility * 8 + self.severity
    }

    /// The facility's keyword (`auth`, `local4`, … as in syslog.conf).
    pub fn facility_name(self) -> &'static str {
        FACILITIES
            .get(usize::from(self.facility))
            .copied()
            .unwrap_or("unknown")
    }

    /// The severity's keyword (`emerg` … `debug`, as in syslog.conf).
    pub fn severity_name(self) -> &'static str {
        SEVERITIES
            .get(usize::from(self.severity))
            .copied()
            .unwrap_or("unknown")
    }
}

/// A timestamp as the sender wrote it, with its offset resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyslogTime {
    /// Calendar year.
    pub year: i32,
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
    /// 0–59 (60 in RFC 3164 leap seconds).
    pub second: u8,
    /// Fraction of the second in nanoseconds.
    pub nanos: u32,
    /// How many fractional digits the sender wrote (kept in the output), 0–9.
    pub frac_digits: u8,
    /// Seconds east of UTC.
    pub offset_secs: i32,
}

impl SyslogTime {
    /// The time `unix_ms` (milliseconds since the Unix epoch) as written `offset_secs` east of
    /// UTC, to the second; `None` when either is out of range.
    pub fn at(unix_ms: i64, offset_secs: i32) -> Option<SyslogTime> {
        use chrono::{Datelike, Timelike};
        let offset = chrono::FixedOffset::east_opt(offset_secs)?;
        let t = chrono::DateTime::from_timestamp_millis(unix_ms)?.with_timezone(&offset);
        let narrow = |n: u32| u8::try_from(n).ok();
        Some(SyslogTime {
            year: t.year(),
            month: narrow(t.month())?,
            day: narrow(t.day())?,
            hour: narrow(t.hour())?,
            minute: narrow(t.minute())?,
            second: narrow(t.second())?,
            nanos: t.nanosecond(),
            frac_digits: if t.nanosecond() == 0 { 0 } else { 3 },
            offset_secs,
        })
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_ms(&self) -> i64 {
        let days = days_from_civil(i64::from(self.year), self.month, self.day);
        let secs = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.offset_secs);
        secs * 1000 + i64::from(self.nanos / 1_000_000)
    }

    /// RFC 3339 text in the sender's offset (`2026-11-22T10:00:00.123+01:00`, `…Z` for UTC).
    pub fn to_rfc3339(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::with_capacity(35);
        let _ = write!(
            s,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        );
        if self.frac_digits > 0 {
            let digits = u32::from(self.frac_digits.min(9));
            let frac = self.nanos / 10u32.pow(9 - digits);
            let _ = write!(s, ".{frac:0width$}", width = digits as usize);
        }
        if self.offset_secs == 0 {
            s.push('Z');
        } else {
            let sign = if self.offset_secs < 0 { '-' } else { '+' };
            let abs = self.offset_secs.unsigned_abs();
            let _ = write!(s, "{sign}{:02}:{:02}", abs / 3600, abs / 60 % 60);
        }
        s
    }
}

/// One SD-ELEMENT of RFC 5424 structured data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdElement<'a> {
    /// The SD-ID (`exampleSDID@32473`, `origin`, `meta`).
    pub id: Cow<'a, str>,
    /// The SD-PARAMs in order, values unescaped; a name may repeat.
    pub params: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// One parsed syslog message, borrowing from its input where it can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogMessage<'a> {
    /// The grammar it was parsed with.
    pub format: SyslogFormat,
    /// `<PRI>`; `None` when an RFC 3164 message (a file line) has none.
    pub priority: Option<Priority>,
    /// The RFC 5424 VERSION.
    pub version: Option<u16>,
    /// The header timestamp, or the time of the web request the message carries (an
    /// access-log line's own); `None` when neither is there.
    pub timestamp: Option<SyslogTime>,
    /// HOSTNAME.
    pub hostname: Option<Cow<'a, str>>,
    /// APP-NAME, or the RFC 3164 tag.
    pub app_name: Option<Cow<'a, str>>,
    /// PROCID, or the RFC 3164 `[pid]`.
    pub procid: Option<Cow<'a, str>>,
    /// MSGID (RFC 5424).
    pub msgid: Option<Cow<'a, str>>,
    /// The sequence number Cisco IOS puts before the timestamp.
    pub sequence: Option<u64>,
    /// RFC 5424 structured data, in order.
    pub structured_data: Vec<SdElement<'a>>,
    /// MSG.
    pub message: Cow<'a, str>,
    /// Whether the message held bytes that are not UTF-8 (RFC 5424 lets MSG be any bytes; RFC
    /// 3164 senders write a Latin-1 `café`), each replaced by U+FFFD in the text above: the
    /// text is then not exactly what was sent.
    pub invalid_utf8: bool,
}

impl SyslogMessage<'_> {
    /// The header timestamp in milliseconds since the epoch.
    pub fn timestamp_ms(&self) -> Option<i64> {
        self.timestamp.map(|t| t.unix_ms())
    }

    /// The message body parsed as JSON, when it is a JSON object or array, bare or after the
    /// CEE cookie (`@cee: {...}`) rsyslog and others use for structured logs.
    pub fn message_json(&self) -> Option<Value> {
        let text = self.message.trim();
        let text = text
            .strip_prefix("@cee:")
            .map(str::trim_start)
            .unwrap_or(text);
        if !(text.starts_with('{') || text.starts_with('[')) {
            return None;
        }
        serde_json::from_str::<Value>(text)
            .ok()
            .filter(|v| v.is_object() || v.is_array())
    }

    /// The structured data as an object of elements by SD-ID, each an object of its
    /// parameters (a parameter given twice: an array of its values; an SD-ID given twice: the
    /// last element).
    fn structured_data_json(&self) -> Value {
        let mut sd = Map::new();
        for element in &self.structured_data {
            let mut params = Map::new();
            for (name, value) in &element.params {
                let value = Value::String(value.to_string());
                match params.get_mut(name.as_ref()) {
                    Some(Value::Array(values)) => values.push(value),
                    Some(first) => *first = Value::Array(vec![first.take(), value]),
                    None => {
                        params.insert(name.to_string(), value);
                    }
                }
            }
            sd.insert(element.id.to_string(), Value::Object(params));
        }
        Value::Object(sd)
    }

    /// The event (keys in the module documentation) written straight as JSON text: no map is
    /// built per message (its keys hashed), which was most of the cost of reading syslog.
    pub fn to_json_text(&self) -> String {
        let mut w = ObjectWriter::with_capacity(self.message.len() + 192);
        w.string(SYSLOG_FORMAT_FIELD, self.format.as_str());
        if let Some(p) = self.priority {
            w.number("priority", u64::from(p.value()));
            w.string("facility", p.facility_name());
            w.number("facility_code", u64::from(p.facility));
            w.string("severity", p.severity_name());
            w.number("severity_code", u64::from(p.severity));
        }
        if let Some(v) = self.version {
            w.number("version", u64::from(v));
        }
        if let Some(t) = &self.timestamp {
            w.string("timestamp", &t.to_rfc3339());
        }
        for (name, value) in [
            ("hostname", &self.hostname),
            ("app_name", &self.app_name),
            ("procid", &self.procid),
            ("msgid", &self.msgid),
        ] {
            if let Some(v) = value {
                w.string(name, v);
            }
        }
        if let Some(n) = self.sequence {
            w.number("sequence", n);
        }
        if !self.structured_data.is_empty() {
            w.value("structured_data", &self.structured_data_json());
        }
        w.string("message", &self.message);
        if self.invalid_utf8 {
            w.value(INVALID_UTF8_FIELD, &true);
        }
        if let Some(j) = self.message_json() {
            w.value("message_json", &j);
        } else if let Ok(request) = crate::access::parse(self.message.as_bytes()) {
            // A web server logging its requests through syslog (nginx's `access_log syslog:`).
            request.write_fields(&mut w, false);
        } else if let Ok(error) = crate::error_log::parse(self.message.as_bytes(), &LocalZone::UTC)
        {
            // Or its errors (`error_log syslog:`): the line, time and all, is the message.
            error.write_fields(&mut w, false);
        } else if let Ok(record) = crate::auditd::parse(self.message.as_bytes()) {
            // A Linux audit record (audisp-syslog, audispd's syslog plugin): its fields, but
            // those the message has of its own.
            record.write_fields(&mut w, SYSLOG_FIELDS);
        }
        w.finish()
    }

    /// The event object (keys in the module documentation), read back from
    /// [`SyslogMessage::to_json_text`], the one place the event's shape is written.
    pub fn to_json(&self) -> Value {
        // The text is JSON written by this module: reading it back cannot fail.
        serde_json::from_str(&self.to_json_text()).unwrap_or(Value::Null)
    }
}

/// The part of a message an error is about; displayed as the event key it would have filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `<PRI>`.
    Pri,
    /// RFC 5424 VERSION.
    Version,
    /// TIMESTAMP.
    Timestamp,
    /// HOSTNAME.
    Hostname,
    /// APP-NAME.
    AppName,
    /// PROCID.
    ProcId,
    /// MSGID.
    MsgId,
    /// STRUCTURED-DATA (an SD-ID, a PARAM-NAME or a PARAM-VALUE).
    StructuredData,
    /// What follows the structured data.
    Message,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Pri => "priority",
            Field::Version => "version",
            Field::Timestamp => "timestamp",
            Field::Hostname => "hostname",
            Field::AppName => "app_name",
            Field::ProcId => "procid",
            Field::MsgId => "msgid",
            Field::StructuredData => "structured_data",
            Field::Message => "message",
        })
    }
}

/// What is wrong with a [`Field`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The field is absent or empty.
    Missing,
    /// Something else was expected at this point.
    Expected(&'static str),
    /// The field is longer than its grammar allows.
    TooLong {
        /// The limit in bytes.
        max: usize,
    },
    /// A byte outside printable US-ASCII (33–126) in a header field.
    NotPrintable {
        /// The byte.
        byte: u8,
    },
    /// A number outside its range (`priority 192`, `hour 24`).
    OutOfRange {
        /// What the number is.
        what: &'static str,
        /// Its value.
        value: u32,
    },
    /// A date that does not exist (`Feb 30`, `Feb 29` in a year that is not a leap year).
    NoSuchDate,
    /// An SD-ID appears twice in one message.
    DuplicateSdId(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing => f.write_str("missing"),
            Problem::Expected(what) => write!(f, "expected {what}"),
            Problem::TooLong { max } => write!(f, "longer than {max} bytes"),
            Problem::NotPrintable { byte } => {
                write!(f, "byte 0x{byte:02x} is not printable US-ASCII")
            }
            Problem::OutOfRange { what, value } => write!(f, "{what} {value} is out of range"),
            Problem::NoSuchDate => f.write_str("no such date"),
            Problem::DuplicateSdId(id) => write!(f, "SD-ID {id:?} appears more than once"),
        }
    }
}

/// Why a syslog message could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyslogError {
    /// The message holds nothing but line endings or NUL bytes.
    #[error("empty syslog message; send one message per line, frame or datagram")]
    Empty,
    /// A field does not follow its grammar; `offset` is the byte in the message where it is.
    #[error(
        "{field} at byte {offset}: {problem}; make the sender write RFC 5424 or RFC 3164 syslog"
    )]
    Invalid {
        /// The field.
        field: Field,
        /// The byte offset in the message.
        offset: usize,
        /// What is wrong.
        problem: Problem,
    },
    /// An RFC 5424 header with a VERSION other than 1.
    #[error(
        "syslog version {version} at byte {offset} is not supported; configure the sender for RFC 5424 version 1 or RFC 3164"
    )]
    UnsupportedVersion {
        /// The version.
        version: u16,
        /// The byte offset of the version.
        offset: usize,
    },
}

fn invalid(field: Field, offset: usize, problem: Problem) -> SyslogError {
    SyslogError::Invalid {
        field,
        offset,
        problem,
    }
}

/// A message as a sender framed it, without the line endings and NUL bytes it may end with.
pub fn message_bytes(input: &[u8]) -> &[u8] {
    let end = input
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r' | b'\0'))
        .map_or(0, |i| i + 1);
    &input[..end]
}

/// Parses one syslog message (see the module documentation). Trailing line endings and NUL
/// bytes are ignored ([`message_bytes`]), so a UDP datagram or a file line can be passed as it
/// is.
pub fn parse<'a>(
    input: &'a [u8],
    options: &SyslogOptions,
) -> Result<SyslogMessage<'a>, SyslogError> {
    let mut message = parse_header(input, options)?;
    message.invalid_utf8 = std::str::from_utf8(message_bytes(input)).is_err();
    // A web request's own time is the event's: the access-log line carries its offset and year
    // (which an RFC 3164 header lacks), and a line in a syslog file with no header at all has
    // no other time for --from/--to to place it by.
    let request_time = crate::access::parse(message.message.as_bytes())
        .ok()
        .and_then(|request| SyslogTime::at(request.unix_ms, request.offset_secs));
    if request_time.is_some() {
        message.timestamp = request_time;
    }
    Ok(message)
}

/// [`parse`] as the header says, the time of a request it carries not taken.
fn parse_header<'a>(
    input: &'a [u8],
    options: &SyslogOptions,
) -> Result<SyslogMessage<'a>, SyslogError> {
    let input = message_bytes(input);
    if input.is_empty() {
        return Err(SyslogError::Empty);
    }
    let mut c = Cursor { s: input, pos: 0 };
    let priority = parse_pri(&mut c)?;
    // RFC 5424: VERSION = NONZERO-DIGIT 0*2DIGIT, then SP.
    if let Some(p) = priority {
        let digits = c.rest().iter().take_while(|b| b.is_ascii_digit()).count();
        if (1..=3).contains(&digits) && c.rest()[0] != b'0' && c.at(digits) == Some(b' ') {
            let offset = c.pos;
            let version = c.number(digits) as u16;
            if version != 1 {
                return Err(SyslogError::UnsupportedVersion { version, offset });
            }
            c.pos += 1;
            return parse_5424(c, p, version);
        }
    }
    parse_3164(c, priority, options)
}

struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a [u8] {
        &self.s[self.pos.min(self.s.len())..]
    }
    fn at(&self, i: usize) -> Option<u8> {
        self.s.get(self.pos + i).copied()
    }
    fn peek(&self) -> Option<u8> {
        self.at(0)
    }
    /// Reads `n` ASCII digits (checked by the caller) as a number, saturating.
    fn number(&mut self, n: usize) -> u32 {
        let v = self.rest()[..n].iter().fold(0u32, |acc, b| {
            acc.saturating_mul(10).saturating_add(u32::from(b - b'0'))
        });
        self.pos += n;
        v
    }
    /// The bytes up to the next space (or the end).
    fn token(&self) -> &'a [u8] {
        let rest = self.rest();
        &rest[..memchr::memchr(b' ', rest).unwrap_or(rest.len())]
    }
}

/// `bytes` without the spaces it starts with.
/// A message's text without the UTF-8 byte-order mark it may start with, nor the spaces after
/// the mark (a sender that writes the mark before its text as a relay passed it on).
fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes
        .strip_prefix(b"\xef\xbb\xbf")
        .map_or(bytes, trim_leading_spaces)
}

fn trim_leading_spaces(bytes: &[u8]) -> &[u8] {
    let n = bytes.iter().take_while(|&&b| b == b' ').count();
    &bytes[n..]
}

fn text(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// `<PRI>`: `None` when the message does not start with `<` and a digit (RFC 3164 allows it).
fn parse_pri(c: &mut Cursor<'_>) -> Result<Option<Priority>, SyslogError> {
    if c.peek() != Some(b'<') || !c.at(1).is_some_and(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    c.pos += 1;
    let digits = c.rest().iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > 3 {
        return Err(invalid(
            Field::Pri,
            c.pos,
            Problem::Expected("at most 3 digits"),
        ));
    }
    let value = c.number(digits);
    if c.peek() != Some(b'>') {
        return Err(invalid(Field::Pri, c.pos, Problem::Expected("'>'")));
    }
    if value > 191 {
        return Err(invalid(
            Field::Pri,
            1,
            Problem::OutOfRange {
                what: "priority",
                value,
            },
        ));
    }
    c.pos += 1;
    Ok(Some(Priority {
        facility: (value / 8) as u8,
        severity: (value % 8) as u8,
    }))
}

/// One RFC 5424 header field: 1..=max printable US-ASCII, `None` for NILVALUE. Consumes the
/// space that must follow it.
fn header_field<'a>(
    c: &mut Cursor<'a>,
    field: Field,
    max: usize,
) -> Result<Option<Cow<'a, str>>, SyslogError> {
    let start = c.pos;
    let token = c.token();
    if token.is_empty() {
        return Err(invalid(field, start, Problem::Missing));
    }
    if let Some(i) = token.iter().position(|b| !(33..=126).contains(b)) {
        return Err(invalid(
            field,
            start + i,
            Problem::NotPrintable { byte: token[i] },
        ));
    }
    if token.len() > max {
        return Err(invalid(field, start, Problem::TooLong { max }));
    }
    c.pos += token.len();
    if c.peek() != Some(b' ') {
        return Err(invalid(field, c.pos, Problem::Expected("a space after it")));
    }
    c.pos += 1;
    Ok((token != b"-").then(|| text(token)))
}

fn parse_5424<'a>(
    mut c: Cursor<'a>,
    priority: Priority,
    version: u16,
) -> Result<SyslogMessage<'a>, SyslogError> {
    let start = c.pos;
    let token = c.token();
    let timestamp = if token == b"-" {
        None
    } else if token.is_empty() {
        return Err(invalid(Field::Timestamp, start, Problem::Missing));
    } else {
        let (t, used) =
            parse_iso(token, None).map_err(|(at, p)| invalid(Field::Timestamp, start + at, p))?;
        if used != token.len() {
            return Err(invalid(
                Field::Timestamp,
                start + used,
                Problem::Expected("a space after the timestamp"),
            ));
        }
        if t.second == 60 {
            return Err(invalid(
                Field::Timestamp,
                start,
                Problem::OutOfRange {
                    what: "second",
                    value: 60,
                },
            ));
        }
        Some(t)
    };
    c.pos += token.len();
    if c.peek() != Some(b' ') {
        return Err(invalid(Field::Hostname, c.pos, Problem::Missing));
    }
    c.pos += 1;
    let hostname = header_field(&mut c, Field::Hostname, 255)?;
    let app_name = header_field(&mut c, Field::AppName, 48)?;
    let procid = header_field(&mut c, Field::ProcId, 128)?;
    let msgid = header_field(&mut c, Field::MsgId, 32)?;
    let structured_data = match c.peek() {
        Some(b'-') => {
            c.pos += 1;
            Vec::new()
        }
        Some(b'[') => parse_sd(&mut c)?,
        None => return Err(invalid(Field::StructuredData, c.pos, Problem::Missing)),
        Some(_) => {
            return Err(invalid(
                Field::StructuredData,
                c.pos,
                Problem::Expected("'-' or '['"),
            ));
        }
    };
    let message = match c.peek() {
        None => Cow::Borrowed(""),
        Some(b' ') => {
            let rest = &c.rest()[1..];
            // A relay's copy of an RFC 3164 message keeps the space that followed its tag
            // (rsyslog's `msg`, which its RFC 5424 template writes after the SD's own space):
            // leading spaces are not the text, so that the line gives the event the same line
            // sent directly gives (and the RFC 3164 line, whose spaces after the tag go too).
            text(without_bom(trim_leading_spaces(rest)))
        }
        Some(_) => {
            return Err(invalid(
                Field::Message,
                c.pos,
                Problem::Expected("a space after the structured data"),
            ));
        }
    };
    Ok(SyslogMessage {
        format: SyslogFormat::Rfc5424,
        priority: Some(priority),
        version: Some(version),
        timestamp,
        hostname,
        app_name,
        procid,
        msgid,
        sequence: None,
        structured_data,
        message,
        invalid_utf8: false,
    })
}

/// SD-NAME: 1..=32 printable US-ASCII except `=`, space, `]` and `"`.
fn sd_name<'a>(c: &mut Cursor<'a>) -> Result<&'a str, SyslogError> {
    let start = c.pos;
    let rest = c.rest();
    let len = rest
        .iter()
        .position(|b| matches!(b, b'=' | b' ' | b']' | b'"') || !(33..=126).contains(b))
        .unwrap_or(rest.len());
    if len == 0 {
        return Err(invalid(
            Field::StructuredData,
            start,
            match rest.first() {
                Some(&byte) if !(32..=126).contains(&byte) => Problem::NotPrintable { byte },
                _ => Problem::Expected("an SD-ID or PARAM-NAME"),
            },
        ));
    }
    if len > 32 {
        return Err(invalid(
            Field::StructuredData,
            start,
            Problem::TooLong { max: 32 },
        ));
    }
    c.pos += len;
    // Only printable ASCII was taken, so this cannot fail.
    Ok(std::str::from_utf8(&rest[..len]).unwrap_or_default())
}

fn parse_sd<'a>(c: &mut Cursor<'a>) -> Result<Vec<SdElement<'a>>, SyslogError> {
    let mut elements: Vec<SdElement<'a>> = Vec::new();
    while c.peek() == Some(b'[') {
        let element_start = c.pos;
        c.pos += 1;
        let id = sd_name(c)?;
        if elements.iter().any(|e| e.id == id) {
            return Err(invalid(
                Field::StructuredData,
                element_start + 1,
                Problem::DuplicateSdId(id.to_string()),
            ));
        }
        let mut params = Vec::new();
        loop {
            match c.peek() {
                Some(b']') => {
                    c.pos += 1;
                    break;
                }
                Some(b' ') => {
                    c.pos += 1;
                    let name = sd_name(c)?;
                    if c.peek() != Some(b'=') {
                        return Err(invalid(
                            Field::StructuredData,
                            c.pos,
                            Problem::Expected("'=' after the PARAM-NAME"),
                        ));
                    }
                    c.pos += 1;
                    if c.peek() != Some(b'"') {
                        return Err(invalid(
                            Field::StructuredData,
                            c.pos,
                            Problem::Expected("'\"' opening the PARAM-VALUE"),
                        ));
                    }
                    c.pos += 1;
                    let value = param_value(c)?;
                    params.push((Cow::Borrowed(name), value));
                }
                _ => {
                    return Err(invalid(
                        Field::StructuredData,
                        c.pos,
                        Problem::Expected("' ' or ']' in the SD-ELEMENT"),
                    ));
                }
            }
        }
        elements.push(SdElement {
            id: Cow::Borrowed(id),
            params,
        });
    }
    Ok(elements)
}

/// PARAM-VALUE up to the closing unescaped `"`: `\"`, `\\` and `\]` are unescaped; any other
/// backslash is kept, as RFC 5424 §6.3.3 says.
fn param_value<'a>(c: &mut Cursor<'a>) -> Result<Cow<'a, str>, SyslogError> {
    let start = c.pos;
    let rest = c.rest();
    let mut i = 0;
    let mut escaped = false;
    loop {
        match rest.get(i) {
            None => {
                return Err(invalid(
                    Field::StructuredData,
                    start + i,
                    Problem::Expected("'\"' closing the PARAM-VALUE"),
                ));
            }
            Some(b'"') => break,
            Some(b'\\') if matches!(rest.get(i + 1), Some(b'"' | b'\\' | b']')) => {
                escaped = true;
                i += 2;
            }
            Some(_) => i += 1,
        }
    }
    let raw = &rest[..i];
    c.pos += i + 1;
    if !escaped {
        return Ok(text(raw));
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut j = 0;
    while j < raw.len() {
        if raw[j] == b'\\' && matches!(raw.get(j + 1), Some(b'"' | b'\\' | b']')) {
            j += 1;
        }
        out.push(raw[j]);
        j += 1;
    }
    Ok(Cow::Owned(String::from_utf8_lossy(&out).into_owned()))
}

/// Reads `n` digits at `s[at..]`.
fn digits_at(s: &[u8], at: usize, n: usize) -> Option<u32> {
    let d = s.get(at..at + n)?;
    d.iter()
        .all(u8::is_ascii_digit)
        .then(|| d.iter().fold(0, |acc, b| acc * 10 + u32::from(b - b'0')))
}

type TimeResult = Result<(SyslogTime, usize), (usize, Problem)>;

fn check_clock(hour: u32, minute: u32, second: u32, at: usize) -> Result<(), (usize, Problem)> {
    for (what, value, max, offset) in [
        ("hour", hour, 23, 0),
        ("minute", minute, 59, 3),
        ("second", second, 60, 6),
    ] {
        if value > max {
            return Err((at + offset, Problem::OutOfRange { what, value }));
        }
    }
    Ok(())
}

/// `.frac` at `s[at..]`: (nanos, digits, bytes used); up to 9 digits are kept, more are read
/// and dropped.
fn fraction(s: &[u8], at: usize) -> (u32, u8, usize) {
    if s.get(at) != Some(&b'.') && s.get(at) != Some(&b',') {
        return (0, 0, 0);
    }
    let n = s[at + 1..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if n == 0 {
        return (0, 0, 0);
    }
    let kept = n.min(9);
    let value = digits_at(s, at + 1, kept).unwrap_or(0);
    (value * 10u32.pow(9 - kept as u32), kept as u8, n + 1)
}

/// ISO 8601 / RFC 3339 `YYYY-MM-DD(T|t| )hh:mm:ss[.frac](Z|±hh:mm|±hhmm|±hh)` at the start of
/// `s`. With `default_zone` `None` (RFC 5424), `T` and an offset are required; with
/// `Some`, a missing offset is the zone's on that date. Returns the time and the bytes used.
fn parse_iso(s: &[u8], default_zone: Option<&LocalZone>) -> TimeResult {
    let year = digits_at(s, 0, 4).ok_or((0, Problem::Expected("YYYY-MM-DD")))?;
    if s.get(4) != Some(&b'-') || s.get(7) != Some(&b'-') {
        return Err((4, Problem::Expected("YYYY-MM-DD")));
    }
    let month = digits_at(s, 5, 2).ok_or((5, Problem::Expected("a 2-digit month")))?;
    let day = digits_at(s, 8, 2).ok_or((8, Problem::Expected("a 2-digit day")))?;
    let sep_ok = match s.get(10) {
        Some(b'T' | b't') => true,
        Some(b' ') => default_zone.is_some(),
        _ => false,
    };
    if !sep_ok {
        return Err((10, Problem::Expected("'T' between date and time")));
    }
    let hour = digits_at(s, 11, 2);
    let minute = digits_at(s, 14, 2);
    let second = digits_at(s, 17, 2);
    let (Some(hour), Some(minute), Some(second)) = (hour, minute, second) else {
        return Err((11, Problem::Expected("hh:mm:ss")));
    };
    if s.get(13) != Some(&b':') || s.get(16) != Some(&b':') {
        return Err((11, Problem::Expected("hh:mm:ss")));
    }
    check_clock(hour, minute, second, 11)?;
    let (nanos, frac_digits, used) = fraction(s, 19);
    let mut pos = 19 + used;
    let offset_secs = match s.get(pos) {
        Some(b'Z' | b'z') => {
            pos += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let hh = digits_at(s, pos + 1, 2).ok_or((pos, Problem::Expected("±hh:mm")))?;
            let (mm, len) = if s.get(pos + 3) == Some(&b':') {
                (
                    digits_at(s, pos + 4, 2).ok_or((pos, Problem::Expected("±hh:mm")))?,
                    6,
                )
            } else if default_zone.is_some() {
                match digits_at(s, pos + 3, 2) {
                    Some(mm) => (mm, 5),
                    None => (0, 3),
                }
            } else {
                return Err((pos, Problem::Expected("±hh:mm")));
            };
            if hh > 23 || mm > 59 {
                return Err((
                    pos,
                    Problem::OutOfRange {
                        what: "offset",
                        value: hh * 100 + mm,
                    },
                ));
            }
            pos += len;
            let secs = (hh * 3600 + mm * 60) as i32;
            if sign == b'-' { -secs } else { secs }
        }
        _ => match default_zone {
            Some(zone) => zone.offset_secs(year as i32, month, day, hour, minute, second),
            None => return Err((pos, Problem::Expected("'Z' or ±hh:mm"))),
        },
    };
    let time = civil(
        year as i32,
        month,
        day,
        hour,
        minute,
        second,
        nanos,
        frac_digits,
        offset_secs,
    )
    .ok_or((5, Problem::NoSuchDate))?;
    Ok((time, pos))
}

#[allow(clippy::too_many_arguments)]
fn civil(
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    frac_digits: u8,
    offset_secs: i32,
) -> Option<SyslogTime> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month as u8) {
        return None;
    }
    Some(SyslogTime {
        year,
        month: month as u8,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        nanos,
        frac_digits,
        offset_secs,
    })
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar year of a day count since 1970-01-01.
fn year_of_days(days: i64) -> i64 {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(month <= 2)
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

fn month_at(s: &[u8], at: usize) -> Option<u32> {
    let m = s.get(at..at + 3)?;
    MONTHS
        .iter()
        .position(|name| name.eq_ignore_ascii_case(m))
        .map(|i| i as u32 + 1)
}

/// A year-less BSD date and time, before its year is resolved.
struct BsdTime {
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    frac_digits: u8,
    year: Option<i32>,
}

/// `hh:mm:ss[.frac]` at `s[at..]`: (hour, minute, second, nanos, digits, bytes used).
fn clock_at(s: &[u8], at: usize) -> Option<(u32, u32, u32, u32, u8, usize)> {
    let hour = digits_at(s, at, 2)?;
    let minute = digits_at(s, at + 3, 2)?;
    let second = digits_at(s, at + 6, 2)?;
    if s.get(at + 2) != Some(&b':') || s.get(at + 5) != Some(&b':') {
        return None;
    }
    let (nanos, digits, used) = fraction(s, at + 8);
    Some((hour, minute, second, nanos, digits, 8 + used))
}

/// `Mmm dd[ yyyy] hh:mm:ss[.frac]` or `yyyy Mmm dd hh:mm:ss[.frac]` at the start of `s`;
/// `Ok(None)` when `s` does not start with one.
fn parse_bsd(s: &[u8]) -> Result<Option<(BsdTime, usize)>, (usize, Problem)> {
    let (lead_year, base) = match digits_at(s, 0, 4) {
        Some(y) if s.get(4) == Some(&b' ') => (Some(y as i32), 5),
        _ => (None, 0),
    };
    let Some(month) = month_at(s, base) else {
        return Ok(None);
    };
    if s.get(base + 3) != Some(&b' ') {
        return Ok(None);
    }
    // Day: " 5", "05" or "5".
    let mut pos = base + 4;
    if s.get(pos) == Some(&b' ') {
        pos += 1;
    }
    let day_len = s[pos.min(s.len())..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if !(1..=2).contains(&day_len) || s.get(pos + day_len) != Some(&b' ') {
        return Ok(None);
    }
    let day = digits_at(s, pos, day_len).unwrap_or(0);
    pos += day_len + 1;
    // Cisco ASA: "Mmm dd yyyy hh:mm:ss".
    let mut year = lead_year;
    if year.is_none()
        && s.get(pos + 4) == Some(&b' ')
        && let Some(y) = digits_at(s, pos, 4)
    {
        year = Some(y as i32);
        pos += 5;
    }
    let Some((hour, minute, second, nanos, frac_digits, used)) = clock_at(s, pos) else {
        return Ok(None);
    };
    check_clock(hour, minute, second, pos)?;
    if day == 0 || day > 31 {
        return Err((
            base + 4,
            Problem::OutOfRange {
                what: "day",
                value: day,
            },
        ));
    }
    Ok(Some((
        BsdTime {
            month,
            day,
            hour,
            minute,
            second,
            nanos,
            frac_digits,
            year,
        },
        pos + used,
    )))
}

/// Gives a year-less time the latest year that does not put it more than two days after the
/// reference time (looking back up to eight years, for 29 February). Its offset is `offset`
/// when the line names one, else `zone`'s on the date.
fn resolve_year(
    t: &BsdTime,
    offset: Option<i32>,
    zone: &LocalZone,
    reference_ms: i64,
) -> Option<SyslogTime> {
    let with_year = |year| {
        let offset_secs = offset
            .unwrap_or_else(|| zone.offset_secs(year, t.month, t.day, t.hour, t.minute, t.second));
        civil(
            year,
            t.month,
            t.day,
            t.hour,
            t.minute,
            t.second,
            t.nanos,
            t.frac_digits,
            offset_secs,
        )
    };
    if let Some(year) = t.year {
        return with_year(year);
    }
    let offset_then = offset.unwrap_or_else(|| zone.offset_secs_at(reference_ms));
    let local_ms = reference_ms.saturating_add(i64::from(offset_then) * 1000);
    let ref_year = year_of_days(local_ms.div_euclid(86_400_000)).clamp(8, 9998) as i32;
    let limit = reference_ms.saturating_add(2 * 86_400_000);
    (ref_year - 8..=ref_year + 1)
        .rev()
        .filter_map(with_year)
        .find(|time| time.unix_ms() <= limit)
}

/// An RFC 3164 tag: (name, pid, bytes used including the colon).
type Tag<'a> = (&'a [u8], Option<&'a [u8]>, usize);

/// Whether a token is an RFC 3164 tag: `name:` or `name[pid]:` followed by a space or the end,
/// or `name[digits]` followed by a space (macOS).
/// Returns (name, pid, bytes used including the colon).
fn tag_at(s: &[u8]) -> Option<Tag<'_>> {
    let name_len = s
        .iter()
        .position(|b| matches!(b, b' ' | b'[' | b':'))
        .unwrap_or(s.len());
    if name_len == 0 || name_len > 128 {
        return None;
    }
    let (pid, used) = match s.get(name_len) {
        Some(b':') => (None, name_len + 1),
        Some(b'[') => {
            let inner = &s[name_len + 1..];
            let len = inner.iter().position(|b| matches!(b, b']' | b' '))?;
            if inner.get(len) != Some(&b']') || len > 128 {
                return None;
            }
            match inner.get(len + 1) {
                Some(b':') => (Some(&inner[..len]), name_len + len + 3),
                // macOS launchd and sandboxd: `name[pid] (detail): msg`.
                Some(b' ') if len > 0 && inner[..len].iter().all(u8::is_ascii_digit) => {
                    (Some(&inner[..len]), name_len + len + 2)
                }
                _ => return None,
            }
        }
        _ => return None,
    };
    matches!(s.get(used), None | Some(b' ')).then_some((&s[..name_len], pid, used))
}

fn is_zone(token: &[u8]) -> bool {
    (1..=5).contains(&token.len()) && token.iter().all(u8::is_ascii_uppercase)
}

fn parse_3164<'a>(
    mut c: Cursor<'a>,
    priority: Option<Priority>,
    options: &SyslogOptions,
) -> Result<SyslogMessage<'a>, SyslogError> {
    let mut msg = SyslogMessage {
        format: SyslogFormat::Rfc3164,
        priority,
        version: None,
        timestamp: None,
        hostname: None,
        app_name: None,
        procid: None,
        msgid: None,
        sequence: None,
        structured_data: Vec::new(),
        message: Cow::Borrowed(""),
        invalid_utf8: false,
    };
    // Cisco IOS sequence number: "52: ".
    let seq_len = c.rest().iter().take_while(|b| b.is_ascii_digit()).count();
    if (1..=10).contains(&seq_len) && c.at(seq_len) == Some(b':') && c.at(seq_len + 1) == Some(b' ')
    {
        msg.sequence = Some(u64::from(c.number(seq_len)));
        c.pos += 2;
    }
    // Cisco marks an unsynchronised clock with '*' and a lost synchronisation with '.'.
    let marker =
        matches!(c.peek(), Some(b'*' | b'.')) && c.at(1).is_some_and(|b| b.is_ascii_alphabetic());
    let ts_start = c.pos + usize::from(marker);
    let rest = &c.s[ts_start..];
    let ts_err = |(at, p): (usize, Problem)| invalid(Field::Timestamp, ts_start + at, p);
    let iso = rest.len() > 10 && rest[4] == b'-' && digits_at(rest, 0, 4).is_some();
    let mut timestamp = None;
    if iso {
        let (t, used) = parse_iso(rest, Some(&options.zone)).map_err(ts_err)?;
        timestamp = Some(t);
        c.pos = ts_start + used;
    } else if let Some((bsd, used)) = parse_bsd(rest).map_err(ts_err)? {
        c.pos = ts_start + used;
        // The zone's offset on the date, unless the line names UTC.
        let mut offset = None;
        let mut bsd = bsd;
        // A zone after the time: "UTC", "UTC:" (Cisco) or a zone and a year ("CST 1987").
        if c.peek() == Some(b' ') {
            let zone = {
                c.pos += 1;
                let t = c.token();
                c.pos -= 1;
                t
            };
            let zone_name = zone.strip_suffix(b":").unwrap_or(zone);
            let known_utc = matches!(zone_name, b"UTC" | b"GMT" | b"UT" | b"Z");
            let after = c.pos + 1 + zone.len();
            let year = (bsd.year.is_none() && zone == zone_name && c.s.get(after) == Some(&b' '))
                .then(|| {
                    digits_at(c.s, after + 1, 4)
                        .filter(|_| matches!(c.s.get(after + 5), None | Some(b' ')))
                })
                .flatten();
            if is_zone(zone_name) && (known_utc || year.is_some()) {
                if known_utc {
                    offset = Some(0);
                }
                c.pos = after;
                if let Some(y) = year {
                    bsd.year = Some(y as i32);
                    c.pos = after + 5;
                }
            }
        }
        timestamp = Some(
            resolve_year(&bsd, offset, &options.zone, options.reference_ms)
                .ok_or_else(|| invalid(Field::Timestamp, ts_start, Problem::NoSuchDate))?,
        );
    }
    if timestamp.is_some() {
        msg.timestamp = timestamp;
        if c.peek() == Some(b':') {
            c.pos += 1;
        }
        while c.peek() == Some(b' ') {
            c.pos += 1;
        }
        let token = c.token();
        let rest = c.rest();
        // A host name or address has a letter or digit: a lone `,` after the time (Windows
        // CBS logs, `2016-09-28 04:30:30, Info …`) is part of the message.
        let names_a_host = token.iter().any(u8::is_ascii_alphanumeric);
        if names_a_host && tag_at(rest).is_none() && !token.starts_with(b"%") {
            msg.hostname = Some(text(token));
            c.pos += token.len();
            while c.peek() == Some(b' ') {
                c.pos += 1;
            }
        }
        // Cisco ASA writes "host : %ASA-…".
        if c.peek() == Some(b':') && c.at(1) == Some(b' ') {
            c.pos += 2;
        }
    }
    if let Some((name, pid, used)) = tag_at(c.rest()) {
        msg.app_name = Some(text(name));
        msg.procid = pid.filter(|p| !p.is_empty()).map(text);
        c.pos += used;
        // All of them: the line gives the event its copy forwarded as RFC 5424 gives.
        while c.peek() == Some(b' ') {
            c.pos += 1;
        }
    }
    let rest = c.rest();
    msg.message = text(without_bom(rest));
    if msg.timestamp.is_none() && msg.app_name.is_none() && msg.message.is_empty() {
        return Err(SyslogError::Empty);
    }
    Ok(msg)
}

/// How a TCP frame was delimited (RFC 6587).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `MSG-LEN SP SYSLOG-MSG` (§3.4.1).
    OctetCounting,
    /// The message followed by LF (or NUL) (§3.4.2).
    NonTransparent,
}

/// One frame cut from a TCP stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The message, without its length prefix or trailer (and without a CR before an LF).
    pub data: &'a [u8],
    /// How it was delimited.
    pub framing: Framing,
    /// The stream offset of its first byte (of the length prefix when octet-counted).
    pub offset: u64,
}

/// Why part of a TCP stream was dropped. The framer resynchronises after each one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// An octet-counted frame declares more bytes than the limit; its bytes are skipped.
    #[error(
        "syslog frame at stream byte {offset} declares {declared} bytes, more than the {max}-byte limit; it was skipped (make the sender split its messages)"
    )]
    DeclaredTooLarge {
        /// Stream offset of the frame.
        offset: u64,
        /// MSG-LEN.
        declared: u64,
        /// The limit.
        max: usize,
    },
    /// A newline-delimited frame grew past the limit without a trailer; it is skipped up to
    /// the next LF or NUL.
    #[error(
        "syslog frame at stream byte {offset} has no line end within {max} bytes; it was skipped up to the next line end (check the sender's framing: octet-counted or one message per line)"
    )]
    LineTooLong {
        /// Stream offset of the frame.
        offset: u64,
        /// The limit.
        max: usize,
    },
    /// The stream ended inside an octet-counted frame.
    #[error(
        "the stream ended after {received} of the {declared} bytes of the syslog frame at stream byte {offset}; the sender closed the connection mid-message"
    )]
    Truncated {
        /// Stream offset of the frame.
        offset: u64,
        /// MSG-LEN.
        declared: u64,
        /// The bytes that arrived.
        received: usize,
    },
}

/// What the framer is doing between calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FramerState {
    /// At a frame boundary, or inside a frame that is buffered.
    Idle,
    /// Skipping the rest of an oversized octet-counted frame.
    SkipCount(u64),
    /// Skipping an oversized line up to its LF or NUL.
    SkipLine,
}

/// Cuts a TCP byte stream into syslog frames (RFC 6587), detecting the framing of each frame
/// from its first byte: a non-zero digit followed by at most 9 more digits and a space is
/// octet-counting, anything else is a line ended by LF or NUL. Empty lines are skipped.
///
/// Feed it whatever `read()` returned with [`Framer::extend`], then call
/// [`Framer::next_frame`] until it returns `None`; at end of stream call [`Framer::finish`].
/// Between calls it holds at most `max_frame` + 11 bytes of an unfinished frame; larger frames
/// are skipped and reported, so a sender cannot make it grow without bound.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    start: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    max_frame: usize,
    state: FramerState,
}

/// The longest MSG-LEN prefix read: 10 digits.
const MAX_LEN_DIGITS: usize = 10;

/// The outcome of looking at the start of the buffer.
enum Head {
    /// Not enough bytes yet to tell.
    NeedMore,
    /// Octet-counted: (declared length, prefix length including the space).
    Counted(u64, usize),
    /// A line.
    Line,
}

impl Framer {
    /// A framer that accepts frames of up to `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        Framer {
            buf: Vec::new(),
            start: 0,
            base: 0,
            max_frame,
            state: FramerState::Idle,
        }
    }

    /// Appends bytes read from the stream.
    pub fn extend(&mut self, chunk: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.base += self.start as u64;
            self.start = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// Bytes held for an unfinished frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    fn head(rest: &[u8]) -> Head {
        let digits = rest
            .iter()
            .take(MAX_LEN_DIGITS + 1)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 || rest[0] == b'0' || digits > MAX_LEN_DIGITS {
            return Head::Line;
        }
        match rest.get(digits) {
            None => Head::NeedMore,
            Some(b' ') => {
                let len = rest[..digits]
                    .iter()
                    .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'));
                Head::Counted(len, digits + 1)
            }
            Some(_) => Head::Line,
        }
    }

    /// The next complete frame, or an error for a part of the stream that was dropped;
    /// `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<Frame<'_>, FrameError>> {
        loop {
            let rest = &self.buf[self.start..];
            match self.state {
                FramerState::SkipCount(n) => {
                    let take = n.min(rest.len() as u64);
                    self.start += take as usize;
                    if take == n {
                        self.state = FramerState::Idle;
                        continue;
                    }
                    self.state = FramerState::SkipCount(n - take);
                    return None;
                }
                FramerState::SkipLine => match memchr::memchr2(b'\n', b'\0', rest) {
                    Some(i) => {
                        self.start += i + 1;
                        self.state = FramerState::Idle;
                        continue;
                    }
                    None => {
                        self.start = self.buf.len();
                        return None;
                    }
                },
                FramerState::Idle => {}
            }
            let first = *rest.first()?;
            if matches!(first, b'\n' | b'\r' | b'\0') {
                self.start += 1;
                continue;
            }
            let offset = self.base + self.start as u64;
            match Self::head(rest) {
                Head::NeedMore => return None,
                Head::Counted(len, prefix) => {
                    if len > self.max_frame as u64 {
                        self.start += prefix;
                        self.state = FramerState::SkipCount(len);
                        return Some(Err(FrameError::DeclaredTooLarge {
                            offset,
                            declared: len,
                            max: self.max_frame,
                        }));
                    }
                    let len = len as usize;
                    if rest.len() < prefix + len {
                        return None;
                    }
                    let from = self.start + prefix;
                    self.start = from + len;
                    return Some(Ok(Frame {
                        data: &self.buf[from..from + len],
                        framing: Framing::OctetCounting,
                        offset,
                    }));
                }
                Head::Line => match memchr::memchr2(b'\n', b'\0', rest) {
                    Some(i) => {
                        let from = self.start;
                        self.start += i + 1;
                        if i > self.max_frame {
                            return Some(Err(FrameError::LineTooLong {
                                offset,
                                max: self.max_frame,
                            }));
                        }
                        let line = &self.buf[from..from + i];
                        return Some(Ok(Frame {
                            data: line.strip_suffix(b"\r").unwrap_or(line),
                            framing: Framing::NonTransparent,
                            offset,
                        }));
                    }
                    None if rest.len() > self.max_frame => {
                        self.start = self.buf.len();
                        self.state = FramerState::SkipLine;
                        return Some(Err(FrameError::LineTooLong {
                            offset,
                            max: self.max_frame,
                        }));
                    }
                    None => return None,
                },
            }
        }
    }

    /// At end of stream, after [`Framer::next_frame`] returned `None`: the last line when it
    /// had no trailer, or [`FrameError::Truncated`] when an octet-counted frame was cut short.
    /// The framer is empty afterwards.
    pub fn finish(&mut self) -> Option<Result<Frame<'_>, FrameError>> {
        let from = self.start;
        self.start = self.buf.len();
        let state = std::mem::replace(&mut self.state, FramerState::Idle);
        let rest = &self.buf[from..];
        if state != FramerState::Idle || rest.is_empty() {
            return None;
        }
        let offset = self.base + from as u64;
        if let Head::Counted(declared, prefix) = Self::head(rest) {
            return Some(Err(FrameError::Truncated {
                offset,
                declared,
                received: rest.len() - prefix,
            }));
        }
        let line = rest.strip_suffix(b"\r").unwrap_or(rest);
        Some(Ok(Frame {
            data: line,
            framing: Framing::NonTransparent,
            offset,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-22T12:00:00Z.
    const NOW: i64 = 1_795_348_800_000;

    /// Bytes that are not UTF-8 (RFC 5424 lets MSG hold any; a Latin-1 `é`) are shown as
    /// U+FFFD, and the event says its text is not exactly what was sent.
    #[test]
    fn a_message_with_bytes_that_are_not_utf8_says_so() {
        let options = SyslogOptions::new(NOW);
        for (line, message) in [
            (
                &b"<13>1 2026-12-01T10:00:00Z h1 nonutf - - - caf\xe9 latin1\n"[..],
                "caf\u{fffd} latin1",
            ),
            (b"<13>Dec  6 04:00:00 h1 app: caf\xe9", "caf\u{fffd}"),
            (
                b"<13>1 2026-12-01T10:00:00Z h1 a - - [x@1 k=\"\xff\"] ok",
                "ok",
            ),
        ] {
            let m = parse(line, &options).unwrap();
            assert_eq!(m.message, message);
            assert!(m.invalid_utf8, "{line:?}");
            assert_eq!(m.to_json()[INVALID_UTF8_FIELD], true, "{line:?}");
        }
        for line in [
            "<13>1 2026-12-01T10:00:00Z h1 utf8 - - - café",
            "<13>1 2026-12-01T10:00:00Z h1 bom - - - \u{feff}café",
            "<13>Dec  6 04:00:00 h1 app: café",
        ] {
            let m = parse(line.as_bytes(), &options).unwrap();
            assert!(m.message.ends_with("café"), "{line}");
            assert!(!m.invalid_utf8, "{line}");
            assert_eq!(m.to_json().get(INVALID_UTF8_FIELD), None, "{line}");
        }
    }

    #[test]
    fn punctuation_after_the_time_is_no_host() {
        let m =
            p("2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack").unwrap();
        assert_eq!(m.hostname, None);
        assert!(m.timestamp.is_some());
        assert!(m.message.contains("Info"), "{}", m.message);
        let m = p("Jan 10 10:05:00 10.0.0.7 sshd[42]: ok").unwrap();
        assert_eq!(m.hostname.as_deref(), Some("10.0.0.7"));
    }

    /// A syslog event, as stored and sent again as JSON (parsed with sonic-rs), tells the
    /// Linux logs of its program; any other event is not syslog.
    #[test]
    fn a_syslog_event_is_the_linux_log_of_its_program() {
        use crate::json::JsonEvent;
        let services = |json: &str| {
            let event = JsonEvent::parse(json).unwrap();
            syslog_event_logsources(&event).map(|sources| {
                sources
                    .iter()
                    .map(|s| s.service.clone().unwrap())
                    .collect::<Vec<_>>()
            })
        };
        let line = p("<38>Jan 10 10:05:00 bastion sshd[42]: Failed password").unwrap();
        let stored = line.to_json().to_string();
        assert_eq!(services(&stored).unwrap(), ["syslog", "auth", "sshd"]);
        let nameless = p("<14>1 2026-01-15T08:30:01Z - - - - - hello").unwrap();
        assert_eq!(
            services(&nameless.to_json().to_string()).unwrap(),
            ["syslog"]
        );
        // OpenSSH 9.8+ over the syslog listener: its RFC 5424 APP-NAME is `sshd-session`.
        let session =
            p("<38>1 2026-12-01T10:00:02Z bastion sshd-session 5002 - - Corrupted MAC on input")
                .unwrap();
        assert_eq!(
            services(&session.to_json().to_string()).unwrap(),
            ["syslog", "auth", "sshd"]
        );
        // PAM's lines and the `authpriv` facility's are of the authentication log.
        let pam = p("Dec  1 10:00:05 desk gdm-password]: pam_unix(gdm-password:auth): authentication failure").unwrap();
        assert_eq!(
            services(&pam.to_json().to_string()).unwrap(),
            ["syslog", "auth"]
        );
        let authpriv =
            p("<86>Dec  1 10:00:05 desk gdm3: GdmDisplay: Session never registered").unwrap();
        assert_eq!(
            services(&authpriv.to_json().to_string()).unwrap(),
            ["syslog", "auth"]
        );
        assert_eq!(services(r#"{"app_name":"sshd","message":"x"}"#), None);
    }

    /// A web request carried by syslog has the request's own time: also where the header has
    /// none (an access line in a file read as syslog), and with the year and offset an RFC
    /// 3164 header lacks. Each case: the line, then its time.
    #[test]
    fn a_carried_request_has_its_own_time() {
        for (line, time) in [
            (
                r#"203.0.113.9 - - [05/Dec/2026:10:00:01 +0100] "GET /p HTTP/1.1" 200 5 "-" "curl/8""#,
                Some("2026-12-05T10:00:01+01:00"),
            ),
            (
                r#"<190>Dec  5 09:00:09 web-1 nginx: 203.0.113.9 - - [05/Dec/2026:10:00:01 +0100] "GET /p HTTP/1.1" 200 5"#,
                Some("2026-12-05T10:00:01+01:00"),
            ),
            (
                r#"<190>1 2026-12-05T09:00:09.250Z web-1 nginx - - - 203.0.113.9 - - [05/Dec/2026:09:00:01 -0000] "GET /p HTTP/1.1" 200 5"#,
                Some("2026-12-05T09:00:01Z"),
            ),
            (
                "<38>Nov 20 09:00:09 web-1 sshd[42]: Failed password",
                Some("2026-11-20T09:00:09Z"),
            ),
            ("a line with no time", None),
        ] {
            let message = p(line).unwrap();
            let json = message.to_json();
            assert_eq!(
                json.get("timestamp").and_then(Value::as_str),
                time,
                "{line}"
            );
            assert_eq!(
                message.timestamp_ms(),
                time.map(|t| chrono::DateTime::parse_from_rfc3339(t)
                    .unwrap()
                    .timestamp_millis()),
                "{line}"
            );
        }
    }

    /// nginx logging its requests (and its errors) through syslog: the message is read as the
    /// access-log (error-log) line it is, and the event is a web request (nginx's error log) to
    /// the rules, not a Linux log.
    #[test]
    fn an_access_log_line_carried_by_syslog_gets_the_webserver_fields() {
        use crate::json::JsonEvent;
        let line = p(r#"<190>Dec  3 22:15:10 web-1 nginx: 203.0.113.50 - - [03/Dec/2026:22:15:10 +0000] "GET /a?page=../../etc/passwd HTTP/1.1" 200 17 "-" "curl/8""#).unwrap();
        let json = line.to_json();
        assert_eq!(json["app_name"], "nginx");
        assert_eq!(json["cs-uri-query"], "page=../../etc/passwd");
        assert_eq!(json["c-ip"], "203.0.113.50");
        assert!(
            json["timestamp"]
                .as_str()
                .unwrap()
                .ends_with("-12-03T22:15:10Z"),
            "{json}"
        );
        assert!(
            json["message"]
                .as_str()
                .unwrap()
                .starts_with("203.0.113.50 - - [")
        );
        let event = JsonEvent::parse(&line.to_json_text()).unwrap();
        let sources = crate::implied_logsources(&event).unwrap();
        assert_eq!(sources[0].category.as_deref(), Some("webserver"));
        let errors = p("<187>Dec  3 22:15:10 web-1 nginx: 2026/12/03 22:15:10 [alert] 1#1: worker process 12 exited on signal 6 (core dumped)").unwrap();
        let json = errors.to_json();
        assert_eq!(
            (&json["error_log_format"], &json["level"]),
            (&"nginx".into(), &"alert".into())
        );
        assert!(
            json["message"]
                .as_str()
                .unwrap()
                .starts_with("2026/12/03 22:15:10 [alert]")
        );
        let event = JsonEvent::parse(&errors.to_json_text()).unwrap();
        let sources = crate::implied_logsources(&event).unwrap();
        assert_eq!(sources[1].service.as_deref(), Some("nginx"));
        let sshd =
            p("<38>Jan 10 10:05:00 bastion sshd[42]: Failed password for x [preauth]").unwrap();
        assert!(sshd.to_json().get("c-ip").is_none());
    }

    fn p(s: &str) -> Result<SyslogMessage<'_>, SyslogError> {
        parse(s.as_bytes(), &SyslogOptions::new(NOW))
    }

    #[test]
    fn civil_day_arithmetic_round_trips() {
        for days in (-800_000..800_000).step_by(997) {
            let year = year_of_days(days);
            let jan1 = days_from_civil(year, 1, 1);
            let next = days_from_civil(year + 1, 1, 1);
            assert!(jan1 <= days && days < next, "{days} in {year}");
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(year_of_days(NOW / 86_400_000), 2026);
    }

    #[test]
    fn rfc3339_output_keeps_offset_and_digits() {
        let m = p("<1>1 2003-08-24T05:14:15.000003-07:00 h a p m - x").unwrap();
        let t = m.timestamp.unwrap();
        assert_eq!(t.to_rfc3339(), "2003-08-24T05:14:15.000003-07:00");
        assert_eq!(t.unix_ms(), 1_061_727_255_000);
    }

    #[test]
    fn year_is_resolved_against_the_reference() {
        // Dec 31 seen on Jan 1 is last year's; Jan 1 seen on Dec 31 (clock skew) is next year's.
        let jan1 = days_from_civil(2027, 1, 1) * 86_400_000 + 60_000;
        let m = parse(b"Dec 31 23:59:00 h x: y", &SyslogOptions::new(jan1)).unwrap();
        assert_eq!(m.timestamp.unwrap().year, 2026);
        let dec31 = days_from_civil(2026, 12, 31) * 86_400_000 + 86_000_000;
        let m = parse(b"Jan  1 00:01:00 h x: y", &SyslogOptions::new(dec31)).unwrap();
        assert_eq!(m.timestamp.unwrap().year, 2027);
        let m = p("Feb 29 10:00:00 h x: y").unwrap();
        assert_eq!(m.timestamp.unwrap().year, 2024);
        assert!(matches!(
            p("Feb 30 10:00:00 h x: y"),
            Err(SyslogError::Invalid {
                field: Field::Timestamp,
                problem: Problem::NoSuchDate,
                ..
            })
        ));
    }

    #[test]
    fn local_times_take_the_zone_offset_of_their_date() {
        let opts = SyslogOptions::new(NOW).in_zone(LocalZone::parse("Europe/Berlin").unwrap());
        let at = |line: &[u8]| parse(line, &opts).unwrap().timestamp.unwrap().to_rfc3339();
        assert_eq!(at(b"Nov 22 10:00:00 h x: y"), "2026-11-22T10:00:00+01:00");
        assert_eq!(at(b"Jul 22 10:00:00 h x: y"), "2026-07-22T10:00:00+02:00");
        assert_eq!(
            at(b"2026-07-22 10:00:00 h x: y"),
            "2026-07-22T10:00:00+02:00"
        );
        assert_eq!(at(b"2026-07-22T10:00:00Z h x: y"), "2026-07-22T10:00:00Z");
        assert_eq!(
            at(b"<13>Nov 22 10:00:00 UTC: h x: y"),
            "2026-11-22T10:00:00Z"
        );
        assert_eq!(
            at(b"Nov 22 2025 10:00:00 h x: y"),
            "2025-11-22T10:00:00+01:00"
        );
        // RFC 5424 requires an offset; the zone does not apply.
        assert_eq!(
            at(b"<13>1 2026-07-22T10:00:00-05:00 h x - - - y"),
            "2026-07-22T10:00:00-05:00"
        );
    }

    #[test]
    fn tags_are_recognised_only_when_they_end_in_a_colon() {
        assert!(tag_at(b"sshd[42]: x").is_some());
        assert!(tag_at(b"su: x").is_some());
        assert!(tag_at(b"su:").is_some());
        assert!(tag_at(b"http://x").is_none());
        assert!(tag_at(b"Use the BFG!").is_none());
        assert!(tag_at(b"launchd[1] (x): y").is_some());
        assert!(tag_at(b"sshd[x] y").is_none());
        assert!(tag_at(b"2001:db8::1 x").is_none());
    }

    /// Random RFC 5424 messages — header fields present or NILVALUE, structured data whose
    /// values hold `"`, `\\`, `]`, blanks and letters beyond ASCII (escaped as the RFC says,
    /// and backslashes before other characters, which stay), any message — read back as
    /// written.
    #[test]
    fn random_rfc5424_messages_read_back_as_written() {
        const NAME: &[u8] = b"abcXYZ019.-_@:";
        const VALUE: &[&str] = &["a", "\"", "\\", "]", " ", "é", "[", "=", "\\n", "ok"];
        fn name(rng: &mut vigil_testkit::Rng, at_most: usize) -> String {
            (0..1 + rng.below(at_most))
                .map(|_| NAME[rng.below(NAME.len())] as char)
                .collect()
        }
        /// A header field, or none (NILVALUE); a lone `-` is the NILVALUE too.
        fn field(rng: &mut vigil_testkit::Rng, at_most: usize) -> Option<String> {
            Some(name(rng, at_most)).filter(|n| n != "-" && rng.below(4) != 0)
        }
        let mut rng = vigil_testkit::Rng::new(5424);
        for round in 0..500 {
            let hostname = field(&mut rng, 20);
            let app = field(&mut rng, 20);
            let procid = field(&mut rng, 10);
            let msgid = field(&mut rng, 10);
            let mut elements: Vec<(String, Vec<(String, String)>)> = Vec::new();
            for i in 0..rng.below(3) {
                let params = (0..rng.below(3))
                    .map(|_| {
                        let value: String = (0..rng.below(5))
                            .map(|_| VALUE[rng.below(VALUE.len())])
                            .collect();
                        (name(&mut rng, 8).replace(['=', ']', '"'], "p"), value)
                    })
                    .collect();
                elements.push((format!("id{i}@{}", 32473 + i), params));
            }
            let message = ["", "hello", "a [b] \"c\" é", "- - -", "[x y=\"z\"]"][rng.below(5)];
            let nil = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
            let mut line = format!(
                "<34>1 2026-03-01T12:00:00.5Z {} {} {} {} ",
                nil(&hostname),
                nil(&app),
                nil(&procid),
                nil(&msgid)
            );
            if elements.is_empty() {
                line.push('-');
            }
            for (id, params) in &elements {
                line.push('[');
                line.push_str(id);
                for (key, value) in params {
                    let escaped = value
                        .replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace(']', "\\]");
                    line.push_str(&format!(" {key}=\"{escaped}\""));
                }
                line.push(']');
            }
            if !message.is_empty() {
                line.push(' ');
                line.push_str(message);
            }
            let m = p(&line).unwrap_or_else(|e| panic!("round {round}: {e} in {line:?}"));
            assert_eq!(m.format, SyslogFormat::Rfc5424, "{line}");
            assert_eq!(m.hostname.as_deref(), hostname.as_deref(), "{line}");
            assert_eq!(m.app_name.as_deref(), app.as_deref(), "{line}");
            assert_eq!(m.procid.as_deref(), procid.as_deref(), "{line}");
            assert_eq!(m.msgid.as_deref(), msgid.as_deref(), "{line}");
            let read: Vec<(String, Vec<(String, String)>)> = m
                .structured_data
                .iter()
                .map(|e| {
                    let params = e
                        .params
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect();
                    (e.id.to_string(), params)
                })
                .collect();
            assert_eq!(read, elements, "round {round}: {line}");
            assert_eq!(m.message, message, "round {round}: {line}");
        }
    }
}
