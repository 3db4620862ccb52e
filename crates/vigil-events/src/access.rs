//! Web server access logs — the NCSA common and combined formats Apache httpd and nginx write by
//! default, one request per line — to events named as Sigma's `webserver` category names them.
//!
//! ```text
//! 203.0.113.9 - alice [10/Oct/2026:13:55:36 -0700] "GET /a.php?id=1 HTTP/1.1" 200 2326 "https://ex.example/" "curl/8.5.0"
//! ```
//!
//! The fields are the W3C extended-log names of the taxonomy appendix (`category: webserver`):
//!
//! | field | from |
//! |---|---|
//! | `access_log_format` | `common`, `combined`, or `vhost_combined` (Apache's `other_vhosts_access.log`, led by `host:port`, or by a host name a client address follows); `w3c` for IIS logs ([`crate::w3c`]); only web requests have it |
//! | `timestamp` | the request's time, RFC 3339 with the log's offset |
//! | `cs-host`, `s-port` | the virtual host and port, in `vhost_combined` |
//! | `c-ip` | the client address (or name) |
//! | `cs-username` | the authenticated user: everything between the ident and the time, blanks and all (the ident, RFC 1413's answer, is not kept) |
//! | `cs-method`, `cs-uri`, `cs-uri-stem`, `cs-uri-query`, `cs-version` | the request line: method, target, its path, its query (after `?`, absent when there is none), protocol |
//! | `request` | the request line as logged, only when it is no `METHOD TARGET [VERSION]` (a TLS handshake sent to a plain port) |
//! | `sc-status`, `sc-bytes` | the status and the response size (numbers; no `sc-bytes` for `-`) |
//! | `cs-referer`, `cs-user-agent` | the Referer and User-Agent headers (combined formats) |
//! | `extra` | whatever the server's format adds after them (nginx's `"$http_x_forwarded_for"`, a response time) |
//! | `invalid_utf8` | `true` when the line held bytes that are not UTF-8, shown as U+FFFD in the text; absent otherwise (a syslog message carrying the line says it once, of its own text) |
//!
//! A `-` is no value, as in the W3C logs of IIS ([`crate::w3c`]): the field is left out, so a
//! rule's `cs-referer: null` or `cs-user-agent: null` (*Webshell ReGeorg Detection Via Web
//! Logs*) holds for a request without those headers, in either log. The servers write `-` for
//! a header the client sent as `-` too; the logs cannot tell the two apart.
//!
//! A syslog message whose text is such a line (nginx's `access_log syslog:server=…`) gets the
//! same fields beside the syslog ones, and the request's time as its `timestamp`
//! ([`crate::syslog`]). Either way the event is a web
//! request to the rules ([`crate::implied_logsources`]), not a Linux log.
//!
//! Values are kept as the server logged them — a URL stays percent-encoded, as the rules
//! expect — except the escapes the servers add to their own quoting (`\"`, `\\`, `\xHH`), which
//! are undone so a value reads as the client sent it.

use std::borrow::Cow;

use vigil_detect::{Event, Logsource};

use crate::write::ObjectWriter;

/// The field naming an event's access-log format: only access-log events have it.
pub const ACCESS_LOG_FORMAT_FIELD: &str = "access_log_format";

/// One request of an access log, borrowing from the line where it can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry<'a> {
    /// `common`, `combined` or `vhost_combined`.
    pub format: &'static str,
    /// The virtual host (`vhost_combined`).
    pub vhost: Option<&'a str>,
    /// The server port (`vhost_combined`, when given).
    pub port: Option<u16>,
    /// The client address or name.
    pub client: &'a str,
    /// The authenticated user, `-` for none (as logged).
    pub user: &'a str,
    /// When, in milliseconds since the epoch.
    pub unix_ms: i64,
    /// The offset of the logged time from UTC, in seconds.
    pub offset_secs: i32,
    /// The request line, unescaped.
    pub request: Cow<'a, str>,
    /// The status code.
    pub status: u16,
    /// The response size; `None` for `-`.
    pub bytes: Option<u64>,
    /// The Referer header (combined formats), `-` for none (as logged).
    pub referer: Option<Cow<'a, str>>,
    /// The User-Agent header (combined formats), `-` for none (as logged).
    pub user_agent: Option<Cow<'a, str>>,
    /// What follows, trimmed; empty when nothing does.
    pub extra: Cow<'a, str>,
    /// Whether the line held bytes that are not UTF-8 (shown as U+FFFD in its text).
    pub invalid_utf8: bool,
}

/// Why a line is no access-log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a web access log line: {problem} at column {column}; Vigil reads the common and combined formats (the Apache and nginx defaults)"
)]
pub struct AccessError {
    /// 1-based column (byte) where it went wrong.
    pub column: usize,
    /// What was expected there.
    pub problem: &'static str,
}

/// The request line split as HTTP writes it, when it is one.
struct RequestLine<'r> {
    method: &'r str,
    target: &'r str,
    version: Option<&'r str>,
}

impl<'a> AccessEntry<'a> {
    fn request_line(&self) -> Option<RequestLine<'_>> {
        let mut parts = self.request.split(' ');
        let method = parts.next()?;
        let target = parts.next()?;
        let version = parts.next();
        let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphabetic());
        let fits = token(method)
            && !target.is_empty()
            && parts.next().is_none()
            && version.is_none_or(|v| v.starts_with("HTTP/"));
        fits.then_some(RequestLine {
            method,
            target,
            version,
        })
    }

    /// The time as RFC 3339, with the offset the server logged.
    pub fn rfc3339(&self) -> String {
        let offset = chrono::FixedOffset::east_opt(self.offset_secs)
            .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("zero is an offset"));
        chrono::DateTime::from_timestamp_millis(self.unix_ms)
            .map(|t| t.with_timezone(&offset).to_rfc3339())
            .unwrap_or_default()
    }

    /// The event (fields in the module documentation) written straight as JSON text.
    pub fn to_json_text(&self) -> String {
        let mut w = ObjectWriter::with_capacity(self.request.len() + 256);
        self.write_fields(&mut w, true);
        // A syslog message carrying the line says it of its own text.
        if self.invalid_utf8 {
            w.value(crate::syslog::INVALID_UTF8_FIELD, &true);
        }
        w.finish()
    }

    /// Writes the fields into an event being written; `timestamp` only `with_time` (a syslog
    /// message carrying the line writes it as its own, [`crate::syslog::parse`]). A `-` is left out (module documentation).
    pub(crate) fn write_fields(&self, w: &mut ObjectWriter, with_time: bool) {
        let string = |w: &mut ObjectWriter, name: &str, value: &str| {
            if value != "-" {
                w.string(name, value);
            }
        };
        w.string(ACCESS_LOG_FORMAT_FIELD, self.format);
        if with_time {
            w.string("timestamp", &self.rfc3339());
        }
        if let Some(vhost) = self.vhost {
            string(w, "cs-host", vhost);
        }
        if let Some(port) = self.port {
            w.number("s-port", u64::from(port));
        }
        string(w, "c-ip", self.client);
        string(w, "cs-username", self.user);
        match self.request_line() {
            Some(line) => {
                w.string("cs-method", line.method);
                w.string("cs-uri", line.target);
                let (stem, query) = match line.target.split_once('?') {
                    Some((stem, query)) => (stem, Some(query)),
                    None => (line.target, None),
                };
                w.string("cs-uri-stem", stem);
                if let Some(query) = query {
                    w.string("cs-uri-query", query);
                }
                if let Some(version) = line.version {
                    w.string("cs-version", version);
                }
            }
            None => string(w, "request", &self.request),
        }
        w.number("sc-status", u64::from(self.status));
        if let Some(bytes) = self.bytes {
            w.number("sc-bytes", bytes);
        }
        if let Some(referer) = &self.referer {
            string(w, "cs-referer", referer);
        }
        if let Some(agent) = &self.user_agent {
            string(w, "cs-user-agent", agent);
        }
        if !self.extra.is_empty() {
            w.string("extra", &self.extra);
        }
    }
}

/// Parses one line (without its line break) of an access log.
pub fn parse(line: &[u8]) -> Result<AccessEntry<'_>, AccessError> {
    let line = line.trim_ascii_end();
    let fail = |at: usize, problem: &'static str| AccessError {
        column: at + 1,
        problem,
    };
    // The ` [` before the time: the first whose text has its shape (a user name may hold a
    // bracket), else the first at all, for the error to point at.
    let opens = || {
        memchr::memchr_iter(b'[', line)
            .filter(|&at| at > 0 && line[at - 1] == b' ')
            .map(|at| at - 1)
    };
    let time_shaped = |open: usize| {
        line.get(open + 2..open + 2 + 27)
            .is_some_and(|t| t[2] == b'/' && t[6] == b'/' && t[11] == b':' && t[26] == b']')
    };
    let open = opens()
        .find(|&open| time_shaped(open))
        .or_else(|| opens().next())
        .ok_or_else(|| fail(0, "expected `HOST IDENT USER [TIME]`"))?;
    let head = std::str::from_utf8(&line[..open])
        .map_err(|e| fail(e.valid_up_to(), "expected text before the time"))?;
    // Anchored on the time: the client (after the virtual host, if any) and the ident are one
    // word each, and the user is everything between them and the time, blanks and all (Apache
    // logs a name sent with Basic authentication as it is: `john doe`). Found without
    // allocating, since every syslog message is tried as a line too.
    let names = || fail(0, "expected `HOST IDENT USER [TIME]`");
    let (first, rest) = head.split_once(' ').ok_or_else(names)?;
    let (second, rest) = rest.split_once(' ').ok_or_else(names)?;
    let (format, vhost, port, client, user) = if is_virtual_host(first, second, rest) {
        let (_ident, user) = rest.split_once(' ').ok_or_else(names)?;
        let (vhost, port) = match first.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
                (host, port.parse().ok())
            }
            _ => (first, None),
        };
        ("vhost_combined", Some(vhost), port, second, user)
    } else {
        ("common", None, None, first, rest)
    };
    if client.is_empty() || user.is_empty() {
        return Err(names());
    }
    let time_at = open + 2;
    let close = memchr::memchr(b']', &line[time_at..])
        .map(|n| time_at + n)
        .ok_or_else(|| fail(time_at, "expected `]` after the time"))?;
    // `10/Oct/2026:13:55:36 -0700`: its shape checked before the parser (every syslog message
    // is tried as a line, and most fail here).
    let time = &line[time_at..close];
    let shaped = time.len() == 26 && time[2] == b'/' && time[6] == b'/' && time[11] == b':';
    let time = shaped
        .then(|| std::str::from_utf8(time).ok())
        .flatten()
        .and_then(|t| chrono::DateTime::parse_from_str(t, "%d/%b/%Y:%H:%M:%S %z").ok())
        .ok_or_else(|| fail(time_at, "expected a time like 10/Oct/2026:13:55:36 -0700"))?;
    let mut at = close + 1;
    let request =
        quoted(line, &mut at).ok_or_else(|| fail(at + 1, "expected the quoted request"))?;
    let status = number(line, &mut at)
        .and_then(|n| u16::try_from(n?).ok())
        .ok_or_else(|| fail(at + 1, "expected the status code"))?;
    let bytes = number(line, &mut at).ok_or_else(|| fail(at + 1, "expected the response size"))?;
    let (mut referer, mut user_agent) = (None, None);
    let mut after = at;
    if let Some(r) = quoted(line, &mut after) {
        let agent = quoted(line, &mut after)
            .ok_or_else(|| fail(after + 1, "expected the quoted User-Agent"))?;
        (referer, user_agent, at) = (Some(r), Some(agent), after);
    }
    let format = match (format, &referer) {
        ("common", Some(_)) => "combined",
        (format, _) => format,
    };
    Ok(AccessEntry {
        format,
        vhost,
        port,
        client,
        user,
        unix_ms: time.timestamp_millis(),
        offset_secs: time.offset().local_minus_utc(),
        request,
        status,
        bytes,
        referer,
        user_agent,
        extra: String::from_utf8_lossy(line[at..].trim_ascii()),
        invalid_utf8: std::str::from_utf8(line).is_err(),
    })
}

/// Whether a line whose names before the time start `first second rest…` is led by a virtual
/// host (`vhost_combined`: `host:port client ident user`) rather than the client (`client
/// ident user`, the user possibly holding blanks): the first name is no IP address and either
/// ends in `:port` (Apache's `%v:%p`), or a client address follows it, or a named client and
/// an ident of `-` do (an ident is almost always `-`, and a common line's is its second name).
fn is_virtual_host(first: &str, second: &str, rest: &str) -> bool {
    let address = |name: &str| name.parse::<std::net::IpAddr>().is_ok();
    if address(first) {
        return false;
    }
    let has_port = first.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
    });
    has_port
        || address(second)
        || (second != "-" && rest.split_once(' ').is_some_and(|(ident, _)| ident == "-"))
}

/// A space, then a `"`-quoted field at `*at`, moving `*at` past it; its server escapes undone.
fn quoted<'a>(line: &'a [u8], at: &mut usize) -> Option<Cow<'a, str>> {
    let rest = line.get(*at..)?.strip_prefix(b" \"")?;
    let mut end = 0;
    let mut escaped = false;
    while end < rest.len() {
        match rest[end] {
            b'\\' => {
                escaped = true;
                end += 2;
            }
            b'"' => break,
            _ => end += 1,
        }
    }
    let raw = rest.get(..end)?;
    if rest.get(end) != Some(&b'"') {
        return None;
    }
    *at += 2 + end + 1;
    Some(if escaped {
        Cow::Owned(String::from_utf8_lossy(&unescape(raw)).into_owned())
    } else {
        String::from_utf8_lossy(raw)
    })
}

/// Undoes `\"`, `\\` and `\xHH`, the escapes Apache and nginx write into quoted fields; any
/// other backslash is kept.
fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (raw[i], raw.get(i + 1)) {
            (b'\\', Some(&c @ (b'"' | b'\\'))) => {
                out.push(c);
                i += 2;
            }
            (b'\\', Some(b'x')) => match (
                raw.get(i + 2).and_then(|&b| hex(b)),
                raw.get(i + 3).and_then(|&b| hex(b)),
            ) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 4;
                }
                _ => {
                    out.push(b'\\');
                    i += 1;
                }
            },
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// A space, then digits or `-` at `*at`, moving `*at` past them: `Some(None)` for `-`.
fn number(line: &[u8], at: &mut usize) -> Option<Option<u64>> {
    let rest = line.get(*at..)?.strip_prefix(b" ")?;
    let len = rest.iter().take_while(|b| !b.is_ascii_whitespace()).count();
    let token = &rest[..len];
    let value = if token == b"-" {
        None
    } else if !token.is_empty() && token.iter().all(u8::is_ascii_digit) {
        Some(std::str::from_utf8(token).ok()?.parse().ok()?)
    } else {
        return None;
    };
    *at += 1 + len;
    Some(value)
}

/// Whether a text looks like an access log: its first non-blank line is one.
pub fn looks_like_access_log(data: &[u8]) -> bool {
    crate::batch::first_text_line(data).is_some_and(|line| parse(line).is_ok())
}

/// The Sigma logsources of an access-log event (`category: webserver`); `None` when the event
/// is no access-log line. Read through the engine's field lookup, so the event is not
/// converted.
pub fn access_event_logsources(event: &dyn Event) -> Option<&'static [Logsource]> {
    static WEBSERVER: std::sync::LazyLock<[Logsource; 1]> = std::sync::LazyLock::new(|| {
        [Logsource {
            category: Some("webserver".to_owned()),
            ..Logsource::default()
        }]
    });
    event
        .field_values(ACCESS_LOG_FORMAT_FIELD, &mut |_| {})
        .then(|| &WEBSERVER[..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn event(line: &str) -> Value {
        serde_json::from_str(&parse(line.as_bytes()).unwrap().to_json_text()).unwrap()
    }

    #[test]
    fn a_combined_line_gets_the_webserver_fields() {
        let e = event(
            r#"203.0.113.9 - alice [10/Oct/2026:13:55:36 -0700] "GET /a.php?id=1%27+OR+1=1 HTTP/1.1" 200 2326 "https://ex.example/" "curl/8.5.0""#,
        );
        assert_eq!(
            e,
            json!({
                "access_log_format": "combined",
                "timestamp": "2026-10-10T13:55:36-07:00",
                "c-ip": "203.0.113.9",
                "cs-username": "alice",
                "cs-method": "GET",
                "cs-uri": "/a.php?id=1%27+OR+1=1",
                "cs-uri-stem": "/a.php",
                "cs-uri-query": "id=1%27+OR+1=1",
                "cs-version": "HTTP/1.1",
                "sc-status": 200,
                "sc-bytes": 2326,
                "cs-referer": "https://ex.example/",
                "cs-user-agent": "curl/8.5.0",
            })
        );
        let entry =
            parse(br#"::1 - - [10/Oct/2026:20:55:36 +0000] "GET / HTTP/1.0" 304 - "-" "-""#)
                .unwrap();
        assert_eq!(entry.unix_ms, 1_791_665_736_000);
        assert_eq!((entry.bytes, entry.user), (None, "-"));
    }

    /// Each `-` field is left out, as IIS logs leave theirs: a rule's `cs-referer: null` and
    /// `cs-user-agent: null` (SigmaHQ's ReGeorg rule) hold on either log.
    #[test]
    fn a_dash_is_no_value() {
        for (line, expected) in [
            (
                r#"203.0.113.9 - - [05/Dec/2026:10:00:00 +0000] "POST /tunnel.jsp?cmd=connect HTTP/1.1" 200 - "-" "-""#,
                json!({
                    "access_log_format": "combined",
                    "timestamp": "2026-12-05T10:00:00+00:00",
                    "c-ip": "203.0.113.9",
                    "cs-method": "POST",
                    "cs-uri": "/tunnel.jsp?cmd=connect",
                    "cs-uri-stem": "/tunnel.jsp",
                    "cs-uri-query": "cmd=connect",
                    "cs-version": "HTTP/1.1",
                    "sc-status": 200,
                }),
            ),
            // nginx's line for a connection closed before any request.
            (
                r#"203.0.113.9 - - [05/Dec/2026:10:00:00 +0000] "-" 400 0 "-" "-""#,
                json!({
                    "access_log_format": "combined",
                    "timestamp": "2026-12-05T10:00:00+00:00",
                    "c-ip": "203.0.113.9",
                    "sc-status": 400,
                    "sc-bytes": 0,
                }),
            ),
            (
                r#"- - - [05/Dec/2026:10:00:00 +0000] "GET / HTTP/1.0" 200 1"#,
                json!({
                    "access_log_format": "common",
                    "timestamp": "2026-12-05T10:00:00+00:00",
                    "cs-method": "GET",
                    "cs-uri": "/",
                    "cs-uri-stem": "/",
                    "cs-version": "HTTP/1.0",
                    "sc-status": 200,
                    "sc-bytes": 1,
                }),
            ),
        ] {
            assert_eq!(event(line), expected, "{line}");
        }
        // The entry keeps what was logged.
        let entry =
            parse(br#"1.2.3.4 - - [05/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-""#)
                .unwrap();
        assert_eq!((entry.user, entry.referer.as_deref()), ("-", Some("-")));
    }

    /// The user is everything between the client's ident and the time, blanks and all; a
    /// virtual host leads a line when it has a port or a client follows it. Each case: the
    /// line's names before the time, then the format, virtual host, port, client and user.
    #[test]
    fn names_before_the_time() {
        for (names, expected) in [
            (
                "203.0.113.9 - john doe",
                ("common", None, None, "203.0.113.9", "john doe"),
            ),
            (
                "203.0.113.9 - a b  c",
                ("common", None, None, "203.0.113.9", "a b  c"),
            ),
            (
                "203.0.113.9 - [admin] x",
                ("common", None, None, "203.0.113.9", "[admin] x"),
            ),
            (
                "203.0.113.9 - jdoe",
                ("common", None, None, "203.0.113.9", "jdoe"),
            ),
            (
                "2001:db8::7 - john doe",
                ("common", None, None, "2001:db8::7", "john doe"),
            ),
            ("::1 - -", ("common", None, None, "::1", "-")),
            (
                "proxy.example - john doe",
                ("common", None, None, "proxy.example", "john doe"),
            ),
            (
                "proxy.example alice -",
                ("common", None, None, "proxy.example", "-"),
            ),
            (
                "shop.example:443 198.51.100.4 - -",
                (
                    "vhost_combined",
                    Some("shop.example"),
                    Some(443),
                    "198.51.100.4",
                    "-",
                ),
            ),
            (
                "shop.example:443 198.51.100.4 - john doe",
                (
                    "vhost_combined",
                    Some("shop.example"),
                    Some(443),
                    "198.51.100.4",
                    "john doe",
                ),
            ),
            (
                "10.0.0.1:80 2001:db8::7 - alice",
                (
                    "vhost_combined",
                    Some("10.0.0.1"),
                    Some(80),
                    "2001:db8::7",
                    "alice",
                ),
            ),
            (
                "[::1]:8080 ::1 - alice",
                ("vhost_combined", Some("[::1]"), Some(8080), "::1", "alice"),
            ),
            (
                "shop.example 198.51.100.4 - a b",
                (
                    "vhost_combined",
                    Some("shop.example"),
                    None,
                    "198.51.100.4",
                    "a b",
                ),
            ),
            (
                "shop.example proxy.example - -",
                (
                    "vhost_combined",
                    Some("shop.example"),
                    None,
                    "proxy.example",
                    "-",
                ),
            ),
        ] {
            let line = format!(r#"{names} [05/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 401 381"#);
            let e = parse(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(
                (e.format, e.vhost, e.port, e.client, e.user),
                expected,
                "{line}"
            );
        }
        for names in [
            "203.0.113.9 -",
            "203.0.113.9",
            "shop.example:443 198.51.100.4 -",
        ] {
            let line = format!(r#"{names} [05/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 401 381"#);
            assert_eq!(parse(line.as_bytes()).unwrap_err().column, 1, "{line}");
        }
    }

    #[test]
    fn common_vhost_and_odd_requests() {
        let e = event(r#"10.0.0.1 - - [01/Jan/2026:00:00:00 +0100] "POST /login HTTP/1.1" 302 0"#);
        assert_eq!(e["access_log_format"], "common");
        assert_eq!(e["cs-uri-stem"], "/login");
        assert!(
            e.get("cs-uri-query").is_none() && e.get("cs-user-agent").is_none(),
            "{e}"
        );
        assert_eq!(e["timestamp"], "2026-01-01T00:00:00+01:00");

        let e = event(
            r#"shop.example:443 198.51.100.4 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/2.0" 404 153 "-" "Mozilla/5.0 (X11)""#,
        );
        assert_eq!(
            (
                &e["access_log_format"],
                &e["cs-host"],
                &e["s-port"],
                &e["c-ip"]
            ),
            (
                &json!("vhost_combined"),
                &json!("shop.example"),
                &json!(443),
                &json!("198.51.100.4")
            )
        );

        // A TLS handshake on the plain port, nginx's \x escapes, a trailing forwarded-for.
        let e = event(
            r#"192.0.2.7 - - [01/Jan/2026:00:00:00 +0000] "\x16\x03\x01\x00\xF7\x01" 400 157 "-" "-" "10.1.1.1""#,
        );
        assert!(e.get("cs-method").is_none(), "{e}");
        assert!(e["request"].as_str().unwrap().starts_with('\u{16}'), "{e}");
        assert_eq!(e["extra"], "\"10.1.1.1\"");
        let e = event(
            r#"192.0.2.7 - - [01/Jan/2026:00:00:00 +0000] "GET /${jndi:ldap://x} HTTP/1.1" 200 1 "-" "say \"hi\" \x22\\""#,
        );
        assert_eq!(e["cs-user-agent"], r#"say "hi" "\"#);
        assert_eq!(e["cs-uri-stem"], "/${jndi:ldap://x}");
    }

    #[test]
    fn other_lines_are_refused_naming_where() {
        for (line, column) in [
            ("Jan 10 10:05:00 bastion sshd[42]: Failed password", 1),
            (r#"1.2.3.4 - - [yesterday] "GET / HTTP/1.1" 200 1"#, 14),
            (
                r#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] GET / 200 1"#,
                42,
            ),
            (
                r#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" OK 1"#,
                59,
            ),
            (
                r#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1 200 1"#,
                42,
            ),
            (
                "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok",
                29,
            ),
        ] {
            let e = parse(line.as_bytes()).unwrap_err();
            assert_eq!(e.column, column, "{line}: {e}");
        }
        assert!(looks_like_access_log(
            b"\n203.0.113.9 - - [10/Oct/2026:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1\n"
        ));
        assert!(!looks_like_access_log(b"{\"a\":1}\n"));
    }
}
