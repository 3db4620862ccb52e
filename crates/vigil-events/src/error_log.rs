//! Web server error logs — Apache httpd's `error_log` (2.2 and 2.4 formats) and nginx's
//! `error.log` — one message per line, to events the rules for those services meet.
//!
//! ```text
//! [Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187:50110] AH00128: File does not exist: /usr/local/apache2/htdocs/favicon.ico
//! [Sun Dec 04 04:47:44 2005] [error] [client 10.0.0.7] Directory index forbidden by rule: /var/www/html/
//! 2026/12/03 22:15:10 [alert] 1#1: worker process 1234 exited on signal 6 (core dumped)
//! 2026/12/03 22:15:11 [error] 88#88: *9 open() "/srv/x" failed (2: No such file or directory), client: 203.0.113.5, server: shop, request: "GET /x HTTP/1.1", host: "shop.example"
//! ```
//!
//! | field | from |
//! |---|---|
//! | `error_log_format` | `apache` or `nginx`; only error-log events have it |
//! | `timestamp` | the line's time, RFC 3339; the servers write local time without a zone, read in the zone the caller names ([`LocalZone`], UTC unless told) |
//! | `level` | `error`, `notice`, `alert` … |
//! | `module` | Apache 2.4's module (`core` of `[core:error]`) |
//! | `pid`, `tid` | the process and thread (numbers) |
//! | `connection` | nginx's connection number (`*9`) |
//! | `c-ip` | the client: Apache's `[client …]` (without the port 2.4 writes after it, IPv4 or IPv6), nginx's `client: …` — the access logs' name, so one search finds a client in both |
//! | `message` | the rest of the line, as written |
//!
//! The rules see an Apache line as `product: apache, service: error` and as `service: apache`
//! (SigmaHQ's *Apache Segmentation Fault* names only the latter), an nginx line likewise as
//! `product: nginx, service: error` and `service: nginx`.

use std::sync::LazyLock;

use chrono::NaiveDateTime;
use vigil_detect::{Event, FieldValue, Logsource};

use crate::time::LocalZone;
use crate::write::ObjectWriter;

/// The field naming an event's error-log format: only error-log events have it.
pub const ERROR_LOG_FORMAT_FIELD: &str = "error_log_format";

/// Which server wrote the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// Apache httpd.
    Apache,
    /// nginx.
    Nginx,
}

impl Server {
    /// `apache` or `nginx`.
    pub fn as_str(self) -> &'static str {
        match self {
            Server::Apache => "apache",
            Server::Nginx => "nginx",
        }
    }
}

/// One line of an error log, borrowing from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorEntry<'a> {
    /// Which server wrote it.
    pub server: Server,
    /// When, in milliseconds since the epoch.
    pub unix_ms: i64,
    /// The offset east of UTC the local time written was read with, in seconds.
    pub offset_secs: i32,
    /// The level.
    pub level: &'a str,
    /// Apache 2.4's module.
    pub module: Option<&'a str>,
    /// The process id.
    pub pid: Option<u64>,
    /// The thread id.
    pub tid: Option<u64>,
    /// nginx's connection number.
    pub connection: Option<u64>,
    /// The client address.
    pub client: Option<&'a str>,
    /// The rest of the line.
    pub message: &'a str,
}

/// Why a line is no error-log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a web server error log line: {problem}; Vigil reads Apache's error_log and nginx's error.log formats"
)]
pub struct ErrorLogError {
    /// What was expected.
    pub problem: &'static str,
}

impl ErrorEntry<'_> {
    /// The time as RFC 3339, in the offset it was read with (`Z` for UTC).
    pub fn rfc3339(&self) -> String {
        chrono::FixedOffset::east_opt(self.offset_secs)
            .zip(chrono::DateTime::from_timestamp_millis(self.unix_ms))
            .map(|(offset, t)| {
                t.with_timezone(&offset)
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            })
            .unwrap_or_default()
    }

    /// The event (fields in the module documentation) written straight as JSON text.
    pub fn to_json_text(&self) -> String {
        let mut w = ObjectWriter::with_capacity(self.message.len() + 160);
        self.write_fields(&mut w, true);
        w.finish()
    }

    /// Writes the fields into an event being written; `timestamp` and `message` only `whole`
    /// (a syslog message carrying the line has its own).
    pub(crate) fn write_fields(&self, w: &mut ObjectWriter, whole: bool) {
        w.string(ERROR_LOG_FORMAT_FIELD, self.server.as_str());
        if whole {
            w.string("timestamp", &self.rfc3339());
        }
        w.string("level", self.level);
        if let Some(module) = self.module {
            w.string("module", module);
        }
        for (name, value) in [
            ("pid", self.pid),
            ("tid", self.tid),
            ("connection", self.connection),
        ] {
            if let Some(n) = value {
                w.number(name, n);
            }
        }
        if let Some(client) = self.client {
            w.string("c-ip", client);
        }
        if whole {
            w.string("message", self.message);
        }
    }
}

/// Parses one line (without its line break) of an Apache or nginx error log, its time read in
/// `zone`.
pub fn parse<'a>(line: &'a [u8], zone: &LocalZone) -> Result<ErrorEntry<'a>, ErrorLogError> {
    // The shape of the time first, before any parser: every syslog message is tried as a line,
    // and most fail here.
    let apache_like = line.len() > 26 && line[0] == b'[' && line[4] == b' ' && line[8] == b' ';
    let nginx_like = line.len() > 21
        && line[4] == b'/'
        && line[7] == b'/'
        && line[10] == b' '
        && line[13] == b':';
    if !(apache_like || nginx_like) {
        return Err(ErrorLogError {
            problem: "expected a time like [Sun Dec 04 04:47:44 2005] or 2026/12/03 22:15:10 first",
        });
    }
    let line = std::str::from_utf8(line.trim_ascii_end()).map_err(|_| ErrorLogError {
        problem: "the line is not UTF-8 text",
    })?;
    let mut entry = if apache_like {
        apache(line)?
    } else {
        nginx(line)?
    };
    (entry.unix_ms, entry.offset_secs) = zone.from_wall_clock_ms(entry.unix_ms);
    Ok(entry)
}

fn apache(line: &str) -> Result<ErrorEntry<'_>, ErrorLogError> {
    let fail = |problem| ErrorLogError { problem };
    let (time, mut rest) = line[1..]
        .split_once(']')
        .ok_or(fail("expected `]` after the time"))?;
    let time = NaiveDateTime::parse_from_str(time, "%a %b %d %H:%M:%S%.f %Y")
        .map_err(|_| fail("expected a time like [Sun Dec 04 04:47:44 2005]"))?;
    let mut groups = Vec::new();
    while let Some(group) = rest.strip_prefix(" [") {
        let Some((inside, after)) = group.split_once(']') else {
            break;
        };
        groups.push(inside);
        rest = after;
    }
    let (&level_group, others) = groups
        .split_first()
        .ok_or(fail("expected the [level] after the time"))?;
    let (module, level) = match level_group.split_once(':') {
        Some((module, level)) => (Some(module), level),
        None => (None, level_group),
    };
    if level.is_empty() || !level.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(fail("expected the [level] after the time"));
    }
    let mut entry = ErrorEntry {
        server: Server::Apache,
        // The wall-clock time as if it were UTC, until `parse` applies the zone.
        unix_ms: time.and_utc().timestamp_millis(),
        offset_secs: 0,
        level,
        module,
        pid: None,
        tid: None,
        connection: None,
        client: None,
        message: rest.trim_start(),
    };
    for group in others {
        if let Some(ids) = group.strip_prefix("pid ") {
            let (pid, tid) = match ids.split_once(":tid ") {
                Some((pid, tid)) => (pid, Some(tid)),
                None => (ids, None),
            };
            entry.pid = pid.parse().ok();
            entry.tid = tid.and_then(|t| t.parse().ok());
        } else if let Some(client) = group.strip_prefix("client ") {
            entry.client = Some(without_port(client, module.is_some()));
        }
    }
    Ok(entry)
}

/// The client address without the `:port` Apache 2.4 appends. A 2.4 line (`with_port`: its
/// `[module:level]` says so) always writes `address:port` (`log_remote_address`'s `%s:%d`), so
/// the last `:digits` of an IPv6 address is its port too (`2001:db8::7:51234`), as long as
/// what is left is an address; 2.2 writes no port, but an IPv4 address with one is plain.
fn without_port(client: &str, with_port: bool) -> &str {
    match client.rsplit_once(':') {
        Some((address, port))
            if !address.is_empty()
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!address.contains(':')
                    || (with_port && address.parse::<std::net::Ipv6Addr>().is_ok())) =>
        {
            address
        }
        _ => client,
    }
}

fn nginx(line: &str) -> Result<ErrorEntry<'_>, ErrorLogError> {
    let fail = |problem| ErrorLogError { problem };
    let time = line
        .get(..19)
        .and_then(|t| NaiveDateTime::parse_from_str(t, "%Y/%m/%d %H:%M:%S").ok())
        .ok_or(fail(
            "expected `[` or a time like 2026/12/03 22:15:10 first",
        ))?;
    let rest = line[19..]
        .strip_prefix(" [")
        .ok_or(fail("expected the [level] after the time"))?;
    let (level, rest) = rest
        .split_once("] ")
        .filter(|(level, _)| !level.is_empty() && level.bytes().all(|b| b.is_ascii_alphabetic()))
        .ok_or(fail("expected the [level] after the time"))?;
    let (ids, mut message) = rest
        .split_once(": ")
        .filter(|(ids, _)| ids.contains('#'))
        .ok_or(fail("expected PID#TID: after the level"))?;
    let (pid, tid) = ids.split_once('#').unwrap_or((ids, ""));
    let mut connection = None;
    if let Some(after) = message.strip_prefix('*')
        && let Some((number, text)) = after.split_once(' ')
        && let Ok(n) = number.parse()
    {
        (connection, message) = (Some(n), text);
    }
    let client = message
        .split_once(", client: ")
        .map(|(_, after)| after.split(',').next().unwrap_or(after));
    Ok(ErrorEntry {
        server: Server::Nginx,
        unix_ms: time.and_utc().timestamp_millis(),
        offset_secs: 0,
        level,
        module: None,
        pid: pid.parse().ok(),
        tid: tid.parse().ok(),
        connection,
        client,
        message,
    })
}

/// Whether a text looks like an error log: its first non-blank line is one.
pub fn looks_like_error_log(data: &[u8]) -> bool {
    crate::batch::first_text_line(data).is_some_and(|line| parse(line, &LocalZone::UTC).is_ok())
}

/// The Sigma logsources of an error-log event (see the module documentation); `None` when the
/// event is no error-log line. Read through the engine's field lookup.
pub fn error_event_logsources(event: &dyn Event) -> Option<&'static [Logsource]> {
    static SOURCES: LazyLock<[[Logsource; 2]; 2]> = LazyLock::new(|| {
        let of = |server: &str| {
            [
                Logsource {
                    product: Some(server.to_owned()),
                    service: Some("error".to_owned()),
                    ..Logsource::default()
                },
                Logsource {
                    service: Some(server.to_owned()),
                    ..Logsource::default()
                },
            ]
        };
        [of("apache"), of("nginx")]
    });
    let mut found = None;
    event.field_values(ERROR_LOG_FORMAT_FIELD, &mut |value| {
        if let FieldValue::Str(server) = value {
            found = match server.as_ref() {
                "apache" => Some(&SOURCES[0][..]),
                "nginx" => Some(&SOURCES[1][..]),
                _ => None,
            };
        }
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn event(line: &str) -> Value {
        serde_json::from_str(
            &parse(line.as_bytes(), &LocalZone::UTC)
                .unwrap()
                .to_json_text(),
        )
        .unwrap()
    }

    #[test]
    fn apache_lines_of_both_versions() {
        assert_eq!(
            event(
                "[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187:50110] AH00128: File does not exist: /x/favicon.ico"
            ),
            json!({
                "error_log_format": "apache",
                "timestamp": "2011-09-09T10:42:29.902Z",
                "level": "error",
                "module": "core",
                "pid": 35708,
                "tid": 4_328_636_416_u64,
                "c-ip": "72.15.99.187",
                "message": "AH00128: File does not exist: /x/favicon.ico",
            })
        );
        let e = event(
            "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties",
        );
        assert_eq!(
            (&e["timestamp"], &e["level"], &e["message"]),
            (
                &json!("2005-12-04T04:47:44Z"),
                &json!("notice"),
                &json!("workerEnv.init() ok /etc/httpd/conf/workers2.properties")
            )
        );
        assert!(e.get("module").is_none() && e.get("c-ip").is_none(), "{e}");
        let e = event(
            "[Sun Dec 04 04:47:44 2005] [error] [client ::1] client denied by server configuration: /srv/",
        );
        assert_eq!(e["c-ip"], "::1");
    }

    /// Apache 2.4 (`[module:level]`) writes the client as `address:port`, IPv6 or not; 2.2
    /// writes the address alone. Each case: the line's level group and client, then `c-ip`.
    #[test]
    fn the_client_without_its_port() {
        for (level, client, expected) in [
            ("authz_core:error", "2001:db8::7:51234", "2001:db8::7"),
            ("authz_core:error", "::1:51234", "::1"),
            ("authz_core:error", "203.0.113.9:51235", "203.0.113.9"),
            ("authz_core:error", "2001:db8::7", "2001:db8::7"),
            ("error", "2001:db8::7", "2001:db8::7"),
            ("error", "::1", "::1"),
            ("error", "203.0.113.9", "203.0.113.9"),
        ] {
            let line = format!(
                "[Sat Dec 05 10:00:01.000000 2026] [{level}] [pid 1234:tid 140] [client {client}] AH01630: client denied by server configuration: /var/www/html/.env"
            );
            assert_eq!(event(&line)["c-ip"], expected, "{line}");
        }
    }

    #[test]
    fn nginx_lines() {
        let e = event(
            r#"2026/12/03 22:15:11 [error] 88#88: *9 open() "/srv/x" failed (2: No such file or directory), client: 203.0.113.5, server: shop, request: "GET /x HTTP/1.1", host: "shop.example""#,
        );
        assert_eq!(
            (
                &e["error_log_format"],
                &e["level"],
                &e["pid"],
                &e["connection"],
                &e["c-ip"]
            ),
            (
                &json!("nginx"),
                &json!("error"),
                &json!(88),
                &json!(9),
                &json!("203.0.113.5")
            )
        );
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .starts_with("open() \"/srv/x\" failed")
        );
        let e = event(
            "2026/12/03 22:15:10 [alert] 1#1: worker process 1234 exited on signal 6 (core dumped)",
        );
        assert_eq!(e["timestamp"], "2026-12-03T22:15:10Z");
        assert_eq!(
            e["message"],
            "worker process 1234 exited on signal 6 (core dumped)"
        );
    }

    #[test]
    fn local_times_are_read_in_the_zone_given() {
        let berlin = LocalZone::parse("Europe/Berlin").unwrap();
        for (line, at) in [
            (
                "2026/07/03 22:15:10 [alert] 1#1: exited",
                "2026-07-03T22:15:10+02:00",
            ),
            (
                "[Thu Dec 03 22:15:10.5 2026] [core:error] [pid 1] AH00128: x",
                "2026-12-03T22:15:10.500+01:00",
            ),
        ] {
            let entry = parse(line.as_bytes(), &berlin).unwrap();
            assert_eq!(entry.rfc3339(), at);
            assert_eq!(
                entry.unix_ms,
                chrono::DateTime::parse_from_rfc3339(at)
                    .unwrap()
                    .timestamp_millis()
            );
        }
    }

    #[test]
    fn other_lines_are_refused() {
        for line in [
            "Jan 10 10:05:00 bastion sshd[42]: Failed password",
            r#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 1"#,
            "[2026-01-01 00:00:00] app.INFO: started",
            "[Sun Dec 04 04:47:44 2005] no level here",
            "2026/12/03 22:15:10 [alert] no ids here",
            "",
        ] {
            assert!(parse(line.as_bytes(), &LocalZone::UTC).is_err(), "{line}");
        }
        assert!(looks_like_error_log(
            b"\n[Sun Dec 04 04:47:44 2005] [notice] ok\n"
        ));
    }
}
