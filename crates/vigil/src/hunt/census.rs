//! What a collection of logs holds (`vigil metrics`), counted while it is scanned: events per
//! log and event id, per computer, and the time they span — what a responder looks at first
//! when handed a folder of EVTX files, as Hayabusa's `eid-metrics` and `computer-metrics` show.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use vigil_detect::Logsource;
use vigil_events::json::JsonEvent;

/// The counts of a scan, merged from its parts.
#[derive(Debug, Default)]
pub struct Census {
    /// Events per kind: (log, event id). A Windows record's log is its Channel; other logs'
    /// what their decoder says they are (`linux/sshd`, `webserver`), `text` or `JSON`.
    pub kinds: HashMap<(String, String), u64>,
    /// Per computer (the record's Computer, a syslog hostname, `host.name` …).
    pub computers: HashMap<String, Seen>,
    /// Per file.
    pub files: HashMap<Arc<Path>, Seen>,
    /// The events with no time of their own.
    pub undated: u64,
}

/// How many events, and between which times (ms since the epoch).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Seen {
    pub events: u64,
    pub first: Option<i64>,
    pub last: Option<i64>,
}

impl Seen {
    fn add(&mut self, events: u64, first: Option<i64>, last: Option<i64>) {
        self.events += events;
        self.first = min_of(self.first, first);
        self.last = max_of(self.last, last);
    }
}

fn min_of(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_of(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

impl Census {
    /// Counts one event; `implied` is what a text log's decoder says it is.
    pub fn add(
        &mut self,
        file: &Arc<Path>,
        event: &JsonEvent,
        timestamp: Option<i64>,
        implied: Option<&[Logsource]>,
    ) {
        let kind = if event.is_windows() {
            (
                event.lookup_text("Channel").unwrap_or_default(),
                event.lookup_text("EventID").unwrap_or_default(),
            )
        } else {
            (log_of(implied), String::new())
        };
        *self.kinds.entry(kind).or_default() += 1;
        let computer = event.host().unwrap_or_default();
        (self.computers.entry(computer).or_default()).add(1, timestamp, timestamp);
        (self.files.entry(file.clone()).or_default()).add(1, timestamp, timestamp);
        if timestamp.is_none() {
            self.undated += 1;
        }
    }

    /// Adds another part's counts.
    pub fn merge(&mut self, other: Census) {
        for (kind, n) in other.kinds {
            *self.kinds.entry(kind).or_default() += n;
        }
        for (computer, seen) in other.computers {
            self.computers
                .entry(computer)
                .or_default()
                .add(seen.events, seen.first, seen.last);
        }
        for (file, seen) in other.files {
            self.files
                .entry(file)
                .or_default()
                .add(seen.events, seen.first, seen.last);
        }
        self.undated += other.undated;
    }

    /// Every event, and the span of those with a time.
    pub fn total(&self) -> Seen {
        let mut all = Seen::default();
        for seen in self.computers.values() {
            all.add(seen.events, seen.first, seen.last);
        }
        all
    }

    /// The kinds, most events first (ties by log, then event id as a number).
    pub fn kinds_by_count(&self) -> Vec<(&str, &str, u64)> {
        let mut kinds: Vec<(&str, &str, u64)> = self
            .kinds
            .iter()
            .map(|((log, id), &n)| (log.as_str(), id.as_str(), n))
            .collect();
        kinds.sort_by(|a, b| {
            let number = |id: &str| id.parse::<u64>().unwrap_or(u64::MAX);
            (b.2, a.0, number(a.1), a.1).cmp(&(a.2, b.0, number(b.1), b.1))
        });
        kinds
    }

    /// The files that held events, by path.
    pub fn files_by_path(&self) -> Vec<(&Path, Seen)> {
        let mut files: Vec<(&Path, Seen)> = self
            .files
            .iter()
            .map(|(f, &seen)| (f.as_ref(), seen))
            .collect();
        files.sort_by(|a, b| a.0.cmp(b.0));
        files
    }

    /// The computers, most events first (ties by name).
    pub fn computers_by_count(&self) -> Vec<(&str, Seen)> {
        let mut computers: Vec<(&str, Seen)> = self
            .computers
            .iter()
            .map(|(c, &seen)| (c.as_str(), seen))
            .collect();
        computers.sort_by(|a, b| b.1.events.cmp(&a.1.events).then(a.0.cmp(b.0)));
        computers
    }
}

/// A log that is not a Windows record, as people name it: its logsource (`linux/sshd`,
/// `webserver`; the last of those implied, which go from the general to the specific: syslog,
/// auth, sshd), `text` for plain lines, `JSON` for JSON of no known source.
fn log_of(implied: Option<&[Logsource]>) -> String {
    let Some(last) = implied.and_then(|l| l.last()) else {
        return "JSON".to_owned();
    };
    let parts: Vec<&str> = [&last.product, &last.category, &last.service]
        .into_iter()
        .filter_map(|p| p.as_deref())
        .collect();
    if parts.is_empty() {
        "text".to_owned()
    } else {
        parts.join("/")
    }
}

/// What the event ids of the logs responders read most mean, as the logs' own documentation
/// names them.
pub fn event_name(log: &str, id: &str) -> Option<&'static str> {
    let log = log.to_ascii_lowercase();
    let id: u32 = id.parse().ok()?;
    let name = match (log.as_str(), id) {
        ("security", 1102) => "The audit log was cleared",
        ("security", 4616) => "The system time was changed",
        ("security", 4622) => "A security package has been loaded by the Local Security Authority",
        ("security", 4624) => "An account was successfully logged on",
        ("security", 4625) => "An account failed to log on",
        ("security", 4627) => "Group membership information",
        ("security", 4634) => "An account was logged off",
        ("security", 4647) => "User initiated logoff",
        ("security", 4648) => "A logon was attempted using explicit credentials",
        ("security", 4656) => "A handle to an object was requested",
        ("security", 4661) => "A handle to an object was requested (SAM, directory)",
        ("security", 4662) => "An operation was performed on an object",
        ("security", 4657) => "A registry value was modified",
        ("security", 4663) => "An attempt was made to access an object",
        ("security", 4670) => "Permissions on an object were changed",
        ("security", 4672) => "Special privileges assigned to new logon",
        ("security", 4673) => "A privileged service was called",
        ("security", 4674) => "An operation was attempted on a privileged object",
        ("security", 4688) => "A new process has been created",
        ("security", 4689) => "A process has exited",
        ("security", 4697) => "A service was installed in the system",
        ("security", 4698) => "A scheduled task was created",
        ("security", 4699) => "A scheduled task was deleted",
        ("security", 4702) => "A scheduled task was updated",
        ("security", 4703) => "A token right was adjusted",
        ("security", 4719) => "System audit policy was changed",
        ("security", 4720) => "A user account was created",
        ("security", 4722) => "A user account was enabled",
        ("security", 4724) => "An attempt was made to reset an account's password",
        ("security", 4726) => "A user account was deleted",
        ("security", 4728) => "A member was added to a security-enabled global group",
        ("security", 4732) => "A member was added to a security-enabled local group",
        ("security", 4738) => "A user account was changed",
        ("security", 4740) => "A user account was locked out",
        ("security", 4756) => "A member was added to a security-enabled universal group",
        ("security", 4768) => "A Kerberos authentication ticket (TGT) was requested",
        ("security", 4769) => "A Kerberos service ticket was requested",
        ("security", 4771) => "Kerberos pre-authentication failed",
        ("security", 4776) => "The computer attempted to validate the credentials for an account",
        ("security", 4781) => "The name of an account was changed",
        ("security", 4794) => {
            "An attempt was made to set the Directory Services Restore Mode administrator password"
        }
        ("security", 4800) => "The workstation was locked",
        ("security", 4801) => "The workstation was unlocked",
        ("security", 4946) => "A rule was added to the Windows Firewall exception list",
        ("security", 5136) => "A directory service object was modified",
        ("security", 5140) => "A network share object was accessed",
        ("security", 5145) => "A network share object was checked for access",
        ("security", 5152) => "The Windows Filtering Platform blocked a packet",
        ("security", 5156) => "The Windows Filtering Platform has permitted a connection",
        ("security", 5157) => "The Windows Filtering Platform has blocked a connection",
        ("security", 5158) => "The Windows Filtering Platform has permitted a bind to a local port",
        ("security", 5447) => "A Windows Filtering Platform filter has been changed",
        ("system", 104) => "The log file was cleared",
        ("system", 7034) => "A service terminated unexpectedly",
        ("system", 7036) => "A service entered a state",
        ("system", 7040) => "The start type of a service was changed",
        ("system", 7045) => "A service was installed in the system",
        ("microsoft-windows-sysmon/operational", id) => match id {
            1 => "Process creation",
            2 => "A process changed a file creation time",
            3 => "Network connection",
            4 => "Sysmon service state changed",
            5 => "Process terminated",
            6 => "Driver loaded",
            7 => "Image loaded",
            8 => "CreateRemoteThread",
            9 => "RawAccessRead",
            10 => "ProcessAccess",
            11 => "FileCreate",
            12 => "Registry object added or deleted",
            13 => "Registry value set",
            14 => "Registry object renamed",
            15 => "FileCreateStreamHash",
            16 => "Sysmon configuration change",
            17 => "Pipe created",
            18 => "Pipe connected",
            19..=21 => "WMI event",
            22 => "DNS query",
            23 => "File delete archived",
            24 => "Clipboard change",
            25 => "Process tampering",
            26 => "File delete logged",
            27 => "File block executable",
            28 => "File block shredding",
            29 => "File executable detected",
            255 => "Sysmon error",
            _ => return None,
        },
        ("microsoft-windows-powershell/operational", 4103) => "Module logging",
        ("microsoft-windows-powershell/operational", 4104) => "Script block logging",
        ("windows powershell", 400) => "Engine state changed to Available",
        ("windows powershell", 600) => "A provider started",
        ("windows powershell", 800) => "Pipeline execution details",
        ("microsoft-windows-taskscheduler/operational", 106) => "A task was registered",
        ("microsoft-windows-taskscheduler/operational", 141) => "A task registration was deleted",
        ("microsoft-windows-taskscheduler/operational", 200) => "A task action started",
        ("microsoft-windows-terminalservices-localsessionmanager/operational", 21) => {
            "Remote Desktop session logon succeeded"
        }
        ("microsoft-windows-terminalservices-localsessionmanager/operational", 25) => {
            "Remote Desktop session reconnection succeeded"
        }
        ("microsoft-windows-windows defender/operational", 1116) => "Malware detected",
        ("microsoft-windows-windows defender/operational", 1117) => "Action taken on malware",
        ("microsoft-windows-windows defender/operational", 1151) => {
            "Endpoint protection client health report"
        }
        ("microsoft-windows-windows defender/operational", 5001) => "Real-time protection disabled",
        ("microsoft-windows-bits-client/operational", 59) => "A BITS transfer job started",
        ("microsoft-windows-wmi-activity/operational", 5861) => {
            "A permanent WMI event consumer was registered"
        }
        _ => return None,
    };
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> JsonEvent {
        JsonEvent::parse(json).unwrap()
    }

    #[test]
    fn counts_per_log_and_event_id_and_per_computer_with_their_span() {
        let logon = |computer: &str, id: u32| {
            event(&format!(
                r#"{{"Event":{{"System":{{"Channel":"Security","EventID":{id},"Computer":"{computer}"}}}}}}"#
            ))
        };
        let (dc, ws): (Arc<Path>, Arc<Path>) =
            (Path::new("dc.evtx").into(), Path::new("ws.evtx").into());
        let mut a = Census::default();
        a.add(&dc, &logon("DC01", 4625), Some(2_000), None);
        a.add(&dc, &logon("DC01", 4625), Some(1_000), None);
        let mut b = Census::default();
        b.add(&ws, &logon("WS01", 4624), Some(5_000), None);
        b.add(&ws, &event(r#"{"message":"hello"}"#), None, None);
        a.merge(b);
        let files: Vec<(&Path, u64)> = a
            .files_by_path()
            .into_iter()
            .map(|(f, seen)| (f, seen.events))
            .collect();
        assert_eq!(
            files,
            [(Path::new("dc.evtx"), 2), (Path::new("ws.evtx"), 2)]
        );
        assert_eq!(
            a.kinds_by_count(),
            [
                ("Security", "4625", 2),
                ("JSON", "", 1),
                ("Security", "4624", 1)
            ]
        );
        let computers = a.computers_by_count();
        assert_eq!(computers[0].0, "DC01");
        assert_eq!(
            computers[0].1,
            Seen {
                events: 2,
                first: Some(1_000),
                last: Some(2_000)
            }
        );
        assert_eq!(
            a.total(),
            Seen {
                events: 4,
                first: Some(1_000),
                last: Some(5_000)
            }
        );
        assert_eq!(a.undated, 1);
        assert_eq!(
            event_name("Security", "4625"),
            Some("An account failed to log on")
        );
        assert_eq!(
            event_name("Microsoft-Windows-Sysmon/Operational", "1"),
            Some("Process creation")
        );
        assert_eq!(event_name("Security", "99999"), None);
        assert_eq!(event_name("Security", "x"), None);
    }

    #[test]
    fn text_logs_are_named_by_what_their_decoder_says_they_are() {
        let sshd = Logsource {
            product: Some("linux".into()),
            service: Some("sshd".into()),
            ..Logsource::default()
        };
        let syslog = Logsource {
            service: Some("syslog".into()),
            ..sshd.clone()
        };
        assert_eq!(log_of(Some(&[syslog, sshd])), "linux/sshd");
        assert_eq!(log_of(Some(&[Logsource::default()])), "text");
        assert_eq!(log_of(None), "JSON");
    }
}
