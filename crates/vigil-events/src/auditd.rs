//! Linux audit logs — auditd's `/var/log/audit/audit.log`, one record per line — to events
//! for the rules of `product: linux, service: auditd`.
//!
//! ```text
//! type=SYSCALL msg=audit(1700000000.123:4567): arch=c000003e syscall=59 success=yes exit=0 a0=55d0c1e0 a1=55d0c1f0 a2=55d0c200 a3=0 items=2 ppid=1 pid=2 auid=1000 uid=0 comm="curl" exe="/usr/bin/curl" key="exec"
//! type=EXECVE msg=audit(1700000000.123:4567): argc=3 a0="curl" a1="-s" a2=2F746D702F6D792066696C65
//! node=web01 type=USER_AUTH msg=audit(1700000001.456:4570): pid=812 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct="root" exe="/usr/sbin/sshd" hostname=203.0.113.9 addr=203.0.113.9 terminal=ssh res=failed'
//! ```
//!
//! | field | from |
//! |---|---|
//! | `audit_log_format` | `auditd`; only audit records have it |
//! | `node` | the host name auditd writes first when told to (`name_format`) |
//! | `type` | the record type: `SYSCALL`, `EXECVE`, `PATH`, `PROCTITLE`, `USER_AUTH` … |
//! | `timestamp` | the record's time, `msg=audit(SECONDS.MILLIS:SERIAL)`, RFC 3339 in UTC |
//! | `serial` | the record's serial number (a number): the records of one audit event share it and its time |
//! | every `name=value` | a field of that name: a `"…"` value without its quotes, any other as written — hex-encoded values (`a2=2F746D70…`, `proctitle=6375726C…`, a `PATH`'s `name` with a space) stay hex, as SigmaHQ's rules match them, and so do `(null)` and `?` |
//! | `msg` | a user-space record's `msg='…'` text; its `name=value` pairs are fields too |
//! | `ARCH`, `SYSCALL`, `AUID`, `UID` … | the names auditd's ENRICHED format (its default) writes after a `0x1D` byte: `SYSCALL=execve`, which SigmaHQ's rules match; for a log in the RAW format on x86_64 (`arch=c000003e`), `ARCH` and `SYSCALL` from the numbers |
//!
//! A name given twice keeps its first value. Words that are no `name=value` pair (an AVC
//! record's `avc:  denied  { read } for`) are not fields. The rules see every record as
//! `product: linux, service: auditd` ([`auditd_event_logsources`]).

mod syscalls;

use std::collections::HashSet;
use std::sync::LazyLock;

use vigil_detect::{Event, Logsource};

use crate::write::ObjectWriter;

/// The field marking an event as an audit record (`auditd`): only audit records have it.
pub const AUDIT_LOG_FORMAT_FIELD: &str = "audit_log_format";

/// The separator auditd's ENRICHED format writes before the names it adds (ASCII group
/// separator).
const ENRICHED_SEPARATOR: char = '\u{1d}';

/// The `arch` of x86_64 in audit records (`AUDIT_ARCH_X86_64`).
const ARCH_X86_64: &str = "c000003e";

/// One record of an audit log, borrowing from its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord<'a> {
    /// The host, when auditd names it (`node=web01`).
    pub node: Option<&'a str>,
    /// The record type (`SYSCALL`).
    pub record_type: &'a str,
    /// When, in milliseconds since the epoch.
    pub unix_ms: i64,
    /// The serial number the records of one audit event share.
    pub serial: u64,
    /// The `name=value` pairs after the header, in order, quoted values without their quotes;
    /// those inside a `msg='…'` after the pairs of the record.
    pub pairs: Vec<(&'a str, &'a str)>,
}

/// Why a line is no audit record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a Linux audit log line: {problem}; Vigil reads auditd's audit.log records (type=SYSCALL msg=audit(1700000000.123:4567): …)"
)]
pub struct AuditdError {
    /// What was expected.
    pub problem: &'static str,
}

fn fail(problem: &'static str) -> AuditdError {
    AuditdError { problem }
}

/// Parses one line (without its line break) of an audit log.
pub fn parse(line: &[u8]) -> Result<AuditRecord<'_>, AuditdError> {
    // Every line of other text logs is tried as a record: most fail on the first bytes.
    if !(line.starts_with(b"type=") || line.starts_with(b"node=")) {
        return Err(fail("expected type=… or node=… first"));
    }
    let line = std::str::from_utf8(line.trim_ascii_end())
        .map_err(|_| fail("the line is not UTF-8 text"))?;
    let (node, rest) = match line.strip_prefix("node=") {
        Some(rest) => {
            let (node, rest) = rest
                .split_once(' ')
                .ok_or(fail("expected type=… after node=…"))?;
            (Some(node), rest.trim_start())
        }
        None => (None, line),
    };
    let rest = rest
        .strip_prefix("type=")
        .ok_or(fail("expected type=… first"))?;
    let (record_type, rest) = rest
        .split_once(' ')
        .ok_or(fail("expected msg=audit(…) after the type"))?;
    // `UNKNOWN[1334]` names a type auditd has no name for.
    if record_type.is_empty()
        || !record_type
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'[' | b']'))
    {
        return Err(fail("the record type is not a name like SYSCALL"));
    }
    let rest = rest
        .trim_start()
        .strip_prefix("msg=audit(")
        .ok_or(fail("expected msg=audit(…) after the type"))?;
    let (stamp, rest) = rest
        .split_once("):")
        .ok_or(fail("expected msg=audit(SECONDS.MILLIS:SERIAL):"))?;
    let (unix_ms, serial) =
        read_stamp(stamp).ok_or(fail("expected msg=audit(SECONDS.MILLIS:SERIAL):"))?;
    let mut pairs = Vec::new();
    let mut inner = None;
    read_pairs(rest, &mut pairs, &mut inner);
    if let Some(inner) = inner {
        // A user-space record's own pairs: `msg='op=PAM:authentication acct="root" …'`.
        read_pairs(inner, &mut pairs, &mut None);
    }
    Ok(AuditRecord {
        node,
        record_type,
        unix_ms,
        serial,
        pairs,
    })
}

/// `1700000000.123:4567` to its time in milliseconds and its serial number.
fn read_stamp(stamp: &str) -> Option<(i64, u64)> {
    let (time, serial) = stamp.split_once(':')?;
    let (seconds, fraction) = time.split_once('.').unwrap_or((time, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(seconds) || !(fraction.is_empty() || digits(fraction)) || !digits(serial) {
        return None;
    }
    // Milliseconds as auditd writes them; more digits are cut, fewer are tenths or hundredths.
    let cut = &fraction[..fraction.len().min(3)];
    let millis = match cut.len() {
        0 => 0,
        n => cut.parse::<i64>().ok()? * 10_i64.pow(3 - n as u32),
    };
    let ms = seconds
        .parse::<i64>()
        .ok()?
        .checked_mul(1000)?
        .checked_add(millis)?;
    Some((ms, serial.parse().ok()?))
}

/// Whether a name can be a field's: what auditd writes (`a0`, `a1[2]`, `a1_len`, `SYSCALL`),
/// and nothing a JSON key would need escaped in.
fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'[' | b']'))
}

/// Appends the `name=value` pairs of `text` to `pairs`, skipping the words that are none;
/// the text of a `msg='…'` goes to `inner`.
fn read_pairs<'a>(text: &'a str, pairs: &mut Vec<(&'a str, &'a str)>, inner: &mut Option<&'a str>) {
    let is_gap = |c: char| c == ' ' || c == '\t' || c == ENRICHED_SEPARATOR;
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(is_gap);
        if rest.is_empty() {
            return;
        }
        let word_end = rest.find(is_gap).unwrap_or(rest.len());
        let Some((name, after)) = rest[..word_end]
            .split_once('=')
            .filter(|(name, _)| is_name(name))
        else {
            rest = &rest[word_end..];
            continue;
        };
        let value_start = &rest[name.len() + 1..];
        let (value, next) = match after.as_bytes().first() {
            Some(&quote @ (b'"' | b'\'')) => {
                let quoted = &value_start[1..];
                match quoted.find(char::from(quote)) {
                    Some(end) => (&quoted[..end], &quoted[end + 1..]),
                    None => (quoted, ""),
                }
            }
            _ => (after, &rest[word_end..]),
        };
        if name == "msg" && after.starts_with('\'') && inner.is_none() {
            *inner = Some(value);
        }
        pairs.push((name, value));
        rest = next;
    }
}

impl AuditRecord<'_> {
    /// The time as RFC 3339 in UTC.
    pub fn rfc3339(&self) -> String {
        crate::time::format_timestamp(self.unix_ms)
    }

    /// The value of the first pair named `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, value)| value)
    }

    /// The event (fields in the module documentation) written straight as JSON text.
    pub fn to_json_text(&self) -> String {
        let mut w = ObjectWriter::with_capacity(self.pairs.len() * 24 + 128);
        self.write_fields(&mut w, &[]);
        w.finish()
    }

    /// Writes the fields into an event being written, but those named in `taken` (a syslog
    /// message carrying the record has its own `timestamp`, `hostname` …).
    pub(crate) fn write_fields(&self, w: &mut ObjectWriter, taken: &[&str]) {
        let mut written: HashSet<&str> = taken.iter().copied().collect();
        if written.insert(AUDIT_LOG_FORMAT_FIELD) {
            w.string(AUDIT_LOG_FORMAT_FIELD, "auditd");
        }
        if let Some(node) = self.node
            && written.insert("node")
        {
            w.string("node", node);
        }
        if written.insert("type") {
            w.string("type", self.record_type);
        }
        if written.insert("timestamp") {
            w.string("timestamp", &self.rfc3339());
        }
        if written.insert("serial") {
            w.number("serial", self.serial);
        }
        for &(name, value) in &self.pairs {
            if written.insert(name) {
                w.string(name, value);
            }
        }
        // What the ENRICHED format would have named, for a RAW log.
        if self.value("arch") == Some(ARCH_X86_64) {
            if written.insert("ARCH") {
                w.string("ARCH", "x86_64");
            }
            let name = self
                .value("syscall")
                .and_then(|number| number.parse().ok())
                .and_then(syscalls::x86_64);
            if let Some(name) = name
                && written.insert("SYSCALL")
            {
                w.string("SYSCALL", name);
            }
        }
    }
}

/// Whether a text looks like an audit log: its first non-blank line is an audit record.
pub fn looks_like_auditd(data: &[u8]) -> bool {
    crate::batch::first_text_line(data).is_some_and(|line| parse(line).is_ok())
}

/// The Sigma logsources of an audit record: `product: linux, service: auditd`, and `service:
/// syslog` too for a record carried by syslog; `None` when the event is no audit record. Read
/// through the engine's field lookup, so the event is not converted.
pub fn auditd_event_logsources(event: &dyn Event) -> Option<&'static [Logsource]> {
    static SOURCES: LazyLock<[Logsource; 2]> = LazyLock::new(|| {
        ["auditd", "syslog"].map(|service| Logsource {
            product: Some("linux".to_owned()),
            service: Some(service.to_owned()),
            ..Logsource::default()
        })
    });
    if !event.field_values(AUDIT_LOG_FORMAT_FIELD, &mut |_| {}) {
        return None;
    }
    let by_syslog = event.field_values(crate::syslog::SYSLOG_FORMAT_FIELD, &mut |_| {});
    Some(&SOURCES[..1 + usize::from(by_syslog)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn event(line: &str) -> Value {
        serde_json::from_str(&parse(line.as_bytes()).unwrap().to_json_text()).unwrap()
    }

    #[test]
    fn a_syscall_record_in_the_raw_format_gets_its_fields_and_the_call_s_name() {
        let e = event(
            r#"type=SYSCALL msg=audit(1700000000.123:4567): arch=c000003e syscall=59 success=yes exit=0 a0=55d0c1e0 a1=55d0c1f0 items=2 ppid=1 pid=2 auid=1000 uid=0 comm="curl" exe="/usr/bin/curl" key=(null)"#,
        );
        assert_eq!(
            e,
            json!({
                "audit_log_format": "auditd",
                "type": "SYSCALL",
                "timestamp": "2023-11-14T22:13:20.123Z",
                "serial": 4567,
                "arch": "c000003e",
                "syscall": "59",
                "success": "yes",
                "exit": "0",
                "a0": "55d0c1e0",
                "a1": "55d0c1f0",
                "items": "2",
                "ppid": "1",
                "pid": "2",
                "auid": "1000",
                "uid": "0",
                "comm": "curl",
                "exe": "/usr/bin/curl",
                "key": "(null)",
                "ARCH": "x86_64",
                "SYSCALL": "execve",
            })
        );
    }

    /// The ENRICHED format's names after its separator are fields as written; the numbers'
    /// names are not made up again.
    #[test]
    fn the_enriched_format_names_what_it_names() {
        let e = event(
            "type=SYSCALL msg=audit(1700000000.5:9): arch=c000003e syscall=133 success=yes exit=0 uid=0 key=\"mknod\"\u{1d}ARCH=x86_64 SYSCALL=mknod AUID=\"alice\" UID=\"root\"",
        );
        assert_eq!(e["timestamp"], "2023-11-14T22:13:20.500Z");
        assert_eq!(e["key"], "mknod");
        assert_eq!(e["ARCH"], "x86_64");
        assert_eq!(e["SYSCALL"], "mknod");
        assert_eq!(e["AUID"], "alice");
        assert_eq!(e["UID"], "root");
        // Another architecture in the RAW format: the number only.
        let arm = event("type=SYSCALL msg=audit(1700000000.000:9): arch=c00000b7 syscall=221");
        assert_eq!(arm["syscall"], "221");
        assert!(arm.get("SYSCALL").is_none(), "{arm}");
    }

    /// Arguments and paths as written: quoted ones unquoted, hex-encoded ones as hex; the
    /// pairs of a user-space record's `msg='…'` are fields too; a node comes first.
    #[test]
    fn execve_path_proctitle_and_user_records() {
        let e = event(
            r#"type=EXECVE msg=audit(1700000000.123:4567): argc=3 a0="wget" a1="--post-file=/etc/shadow" a2=2F746D702F6D792066696C65"#,
        );
        assert_eq!(e["a0"], "wget");
        assert_eq!(e["a1"], "--post-file=/etc/shadow");
        assert_eq!(e["a2"], "2F746D702F6D792066696C65");
        let e = event(
            r#"type=PATH msg=audit(1700000000.123:4567): item=0 name="/etc/shadow" inode=1 dev=fd:00 mode=0100640 nametype=NORMAL"#,
        );
        assert_eq!(e["name"], "/etc/shadow");
        assert_eq!(e["nametype"], "NORMAL");
        let e = event("type=PROCTITLE msg=audit(1700000000.123:4567): proctitle=6375726C002D73");
        assert_eq!(e["proctitle"], "6375726C002D73");
        let e = event(
            r#"node=web01 type=USER_AUTH msg=audit(1700000001.456:4570): pid=812 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct="root" exe="/usr/sbin/sshd" hostname=203.0.113.9 addr=203.0.113.9 terminal=ssh res=failed'"#,
        );
        assert_eq!(e["node"], "web01");
        assert_eq!(e["type"], "USER_AUTH");
        assert_eq!(e["serial"], 4570);
        assert_eq!(e["pid"], "812");
        assert_eq!(e["acct"], "root");
        assert_eq!(e["exe"], "/usr/sbin/sshd");
        assert_eq!(e["res"], "failed");
        assert!(
            e["msg"]
                .as_str()
                .unwrap()
                .starts_with("op=PAM:authentication")
        );
    }

    /// Words that are no pair are left out; a name given twice keeps its first value; no pair
    /// takes the place of the record's own fields.
    #[test]
    fn other_words_and_repeated_names() {
        let e = event(
            r#"type=AVC msg=audit(1700000000.123:7): avc:  denied  { read } for  pid=5 comm="cat" name="x" type=evil tclass=file permissive=0 pid=6"#,
        );
        assert_eq!(e["type"], "AVC");
        assert_eq!(e["pid"], "5");
        assert_eq!(e["tclass"], "file");
        assert!(e.get("avc:").is_none() && e.get("{").is_none(), "{e}");
        let eoe = event("type=EOE msg=audit(1700000000.123:7): ");
        assert_eq!(eoe["type"], "EOE");
        assert_eq!(
            event("type=UNKNOWN[1334] msg=audit(1.0:1): x=1")["type"],
            "UNKNOWN[1334]"
        );
    }

    #[test]
    fn other_lines_are_refused() {
        for line in [
            "",
            "Dec  1 10:00:00 host sshd[1]: type=SYSCALL msg=audit(1.0:1):",
            "type=SYSCALL",
            "type=SYSCALL msg=audit(1700000000.123): arch=c000003e",
            "type=SYSCALL msg=audit(x.123:1): arch=c000003e",
            "type=SYS CALL msg=audit(1.1:1): a=1",
            "type=\"SYSCALL\" msg=audit(1.1:1): a=1",
            "node=web01",
            "typed=SYSCALL msg=audit(1.1:1): a=1",
        ] {
            assert!(parse(line.as_bytes()).is_err(), "{line}");
        }
        assert!(parse(b"type=SYSCALL msg=audit(1700000000.123:1): a=\xff").is_err());
    }

    #[test]
    fn audit_records_are_the_auditd_log() {
        let record = crate::json::JsonEvent::parse(
            &parse(b"type=EOE msg=audit(1700000000.123:7): ")
                .unwrap()
                .to_json_text(),
        )
        .unwrap();
        let sources = auditd_event_logsources(&record).unwrap();
        assert_eq!(sources[0].product.as_deref(), Some("linux"));
        assert_eq!(sources[0].service.as_deref(), Some("auditd"));
        let other = crate::json::JsonEvent::parse(r#"{"type": "SYSCALL"}"#).unwrap();
        assert!(auditd_event_logsources(&other).is_none());
    }

    /// A record carried by syslog (audisp-syslog, audispd) is read as one, the message's own
    /// fields kept: it is the auditd log, and a syslog line.
    #[test]
    fn a_record_carried_by_syslog_is_read_as_one() {
        let message = crate::syslog::parse(
            br#"Dec  1 10:00:02 web01 audisp-syslog: type=USER_LOGIN msg=audit(1700000000.123:7): pid=812 uid=0 msg='op=login acct="root" exe="/usr/sbin/sshd" hostname=203.0.113.9 addr=203.0.113.9 terminal=sshd res=failed'"#,
            &crate::syslog::SyslogOptions::new(1_764_590_000_000),
        )
        .unwrap();
        let e: Value = serde_json::from_str(&message.to_json_text()).unwrap();
        assert_eq!(e["app_name"], "audisp-syslog");
        assert_eq!(e["hostname"], "web01", "the syslog header's");
        assert_eq!(
            e["timestamp"], "2025-12-01T10:00:02Z",
            "the syslog header's"
        );
        assert_eq!(e["type"], "USER_LOGIN");
        assert_eq!(e["serial"], 7);
        assert_eq!(e["acct"], "root");
        assert_eq!(e["addr"], "203.0.113.9");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .starts_with("type=USER_LOGIN")
        );
        let event = crate::json::JsonEvent::parse(&e.to_string()).unwrap();
        let services: Vec<_> = crate::implied_logsources(&event)
            .unwrap()
            .iter()
            .map(|s| s.service.as_deref().unwrap())
            .collect();
        assert_eq!(services, ["auditd", "syslog"]);
    }
}
