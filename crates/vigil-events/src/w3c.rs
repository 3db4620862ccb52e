//! W3C extended log files — what IIS writes by default (`u_ex*.log`) — to the same `webserver`
//! events as the access logs of [`crate::access`].
//!
//! ```text
//! #Software: Microsoft Internet Information Services 10.0
//! #Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken
//! 2026-12-03 22:15:10 10.0.0.4 GET /owa/auth/x.js a=1 443 - 203.0.113.9 Mozilla/5.0+(Windows+NT+10.0) - 200 0 0 15
//! ```
//!
//! The `#Fields:` directive names the values of the lines after it (until the next one: IIS
//! writes a new header when it restarts); other `#` lines are skipped. Field names are those of
//! the taxonomy's `webserver` category — the header's `cs(User-Agent)`, `cs(Referer)` and
//! `cs(Cookie)` become `cs-user-agent`, `cs-referer` and `cs-cookie`, with IIS's `+` for a space
//! undone in the user agent — and `date` with `time` (UTC) become `timestamp`. A `-` is no value:
//! the field is left out (`cs-uri-query: null` holds for a request without a query).
//! `cs-uri` is the stem and the query joined, as in the access logs. Counts and codes
//! (`sc-status`, `sc-bytes`, `time-taken` …) are numbers.

use std::sync::Arc;

use crate::access::ACCESS_LOG_FORMAT_FIELD;
use crate::write::ObjectWriter;

/// The field names a `#Fields:` directive gave, in the taxonomy's spelling.
pub type Fields = Arc<[String]>;

/// Why a line is no W3C log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum W3cError {
    /// A line came before any `#Fields:` directive.
    #[error(
        "a W3C log line before any #Fields: directive; the file must start with its header, as IIS writes it"
    )]
    NoFields,
    /// The line holds another number of values than the directive names.
    #[error("the line holds {found} values where the #Fields: directive names {expected}")]
    Count {
        /// Values named.
        expected: usize,
        /// Values found.
        found: usize,
    },
}

/// Whether a text looks like a W3C extended log: it starts with one of its directives.
pub fn looks_like_w3c(data: &[u8]) -> bool {
    let first = crate::batch::first_text_line(data).unwrap_or_default();
    [
        b"#Software:".as_slice(),
        b"#Version:",
        b"#Fields:",
        b"#Date:",
    ]
    .iter()
    .any(|d| first.starts_with(d))
}

/// The field names of a `#Fields:` directive line; `None` for any other line.
pub fn directive_fields(line: &[u8]) -> Option<Fields> {
    let names = line.strip_prefix(b"#Fields:")?;
    let names = String::from_utf8_lossy(names);
    Some(names.split_ascii_whitespace().map(field_name).collect())
}

/// The field names of the last `#Fields:` directive in `text`, found from its end (a piece of
/// a large log holds one only where IIS restarted); `None` when it holds none.
pub fn last_directive_fields(text: &[u8]) -> Option<Fields> {
    let mut end = text.len();
    while let Some(at) = memchr::memmem::rfind(&text[..end], b"#Fields:") {
        if at == 0 || text[at - 1] == b'\n' {
            let line = &text[at..];
            let line = &line[..memchr::memchr(b'\n', line).unwrap_or(line.len())];
            return directive_fields(line.trim_ascii_end());
        }
        end = at;
    }
    None
}

/// A header name in the taxonomy's spelling: `cs(User-Agent)` is `cs-user-agent`.
fn field_name(header: &str) -> String {
    match header.split_once('(') {
        Some((prefix, rest)) => {
            let name = rest.trim_end_matches(')').to_ascii_lowercase();
            format!("{prefix}-{name}")
        }
        None => header.to_owned(),
    }
}

/// Whether a field's values are numbers.
fn numeric(name: &str) -> bool {
    matches!(
        name,
        "sc-status"
            | "sc-substatus"
            | "sc-win32-status"
            | "sc-bytes"
            | "cs-bytes"
            | "time-taken"
            | "s-port"
    )
}

/// One line of values under `fields` as the event's JSON text; the line is split on blanks,
/// as IIS writes it (a blank inside a value is `+`).
pub fn to_json_text(line: &[u8], fields: &[String]) -> Result<(String, Option<i64>), W3cError> {
    let line = String::from_utf8_lossy(line.trim_ascii());
    // A borrowed text is the line itself, valid; an owned one had bytes replaced.
    let invalid_utf8 = matches!(line, std::borrow::Cow::Owned(_));
    let values: Vec<&str> = line.split_ascii_whitespace().collect();
    if values.len() != fields.len() {
        return Err(W3cError::Count {
            expected: fields.len(),
            found: values.len(),
        });
    }
    let value = |name: &str| {
        fields
            .iter()
            .position(|f| f == name)
            .map(|i| values[i])
            .filter(|v| *v != "-")
    };
    let time = match (value("date"), value("time")) {
        (Some(date), Some(time)) => crate::time::parse_timestamp(&format!("{date}T{time}Z")),
        _ => None,
    };
    let mut w = ObjectWriter::with_capacity(line.len() + 160);
    w.string(ACCESS_LOG_FORMAT_FIELD, "w3c");
    if let Some(ms) = time {
        w.string("timestamp", &crate::time::format_timestamp(ms));
    }
    for (name, raw) in fields.iter().zip(&values) {
        if *raw == "-" || name == "date" || name == "time" {
            continue;
        }
        match raw.parse::<u64>() {
            Ok(n) if numeric(name) => w.number(name, n),
            _ if name == "cs-user-agent" => w.string(name, &raw.replace('+', " ")),
            _ => w.string(name, raw),
        }
    }
    if let Some(stem) = value("cs-uri-stem") {
        match value("cs-uri-query") {
            Some(query) => w.string("cs-uri", &format!("{stem}?{query}")),
            None => w.string("cs-uri", stem),
        }
    }
    if invalid_utf8 {
        w.value(crate::syslog::INVALID_UTF8_FIELD, &true);
    }
    Ok((w.finish(), time))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const HEADER: &[u8] = b"#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken";

    #[test]
    fn an_iis_line_gets_the_webserver_fields() {
        let fields = directive_fields(HEADER).unwrap();
        assert_eq!(fields[9], "cs-user-agent");
        let (json, time) = to_json_text(
            b"2026-12-03 22:15:10 10.0.0.4 GET /owa/auth/x.js a=1 443 - 203.0.113.9 Mozilla/5.0+(Windows+NT+10.0) - 200 0 0 15\r",
            &fields,
        )
        .unwrap();
        let event: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            event,
            json!({
                "access_log_format": "w3c",
                "timestamp": "2026-12-03T22:15:10.000Z",
                "s-ip": "10.0.0.4",
                "cs-method": "GET",
                "cs-uri-stem": "/owa/auth/x.js",
                "cs-uri-query": "a=1",
                "s-port": 443,
                "c-ip": "203.0.113.9",
                "cs-user-agent": "Mozilla/5.0 (Windows NT 10.0)",
                "sc-status": 200,
                "sc-substatus": 0,
                "sc-win32-status": 0,
                "time-taken": 15,
                "cs-uri": "/owa/auth/x.js?a=1",
            })
        );
        assert_eq!(time, crate::time::parse_timestamp("2026-12-03T22:15:10Z"));
        let (json, _) = to_json_text(
            b"2026-12-03 22:15:11 10.0.0.4 GET / - 443 - 203.0.113.9 - - 302 0 0 1",
            &fields,
        )
        .unwrap();
        let event: Value = serde_json::from_str(&json).unwrap();
        assert!(event.get("cs-uri-query").is_none(), "{event}");
        assert_eq!(event["cs-uri"], "/");
    }

    #[test]
    fn the_last_fields_directive_of_a_piece_is_found() {
        let piece = b"2026-12-03 22:15:10 1.2.3.4\n#Fields: date time c-ip\nx\n#Fields: date c-ip\r\nno #Fields: here\n";
        let fields = last_directive_fields(piece).unwrap();
        assert_eq!(&fields[..], ["date", "c-ip"]);
        assert!(last_directive_fields(b"a line\nno #Fields: at a line's start\n").is_none());
        assert_eq!(
            &last_directive_fields(b"#Fields: c-ip").unwrap()[..],
            ["c-ip"]
        );
    }

    #[test]
    fn directives_and_wrong_lines() {
        assert!(looks_like_w3c(
            b"#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n"
        ));
        assert!(!looks_like_w3c(b"# a comment\n"));
        assert!(directive_fields(b"#Date: 2026-12-03 22:15:10").is_none());
        let fields = directive_fields(b"#Fields: date time c-ip").unwrap();
        assert_eq!(
            to_json_text(b"2026-12-03 22:15:10", &fields),
            Err(W3cError::Count {
                expected: 3,
                found: 2
            })
        );
    }
}
