//! The dispatch built for a declared logsource against what a declaration means: over syslog
//! lines of many programs (each declared as the Linux logs its program writes), the rules the
//! whole SigmaHQ set matches are those a set compiled from only the rules written for that
//! declaration matches on their conditions alone.

use std::collections::HashMap;

use vigil_detect::{CompileOptions, CompiledRuleSet, Logsource, compile, logsource_fits};
use vigil_events::json::JsonEvent;
use vigil_events::syslog::{SyslogOptions, parse, syslog_event_logsources};
use vigil_sigma::RuleDoc;

use crate::support::{RULES, data_dir};

/// Lines that SigmaHQ's Linux rules are written for, each sent by several programs below.
const MESSAGES: &[&str] = &[
    "error in libcrypto while reading key",
    "incorrect signature from 203.0.113.9",
    "(root) REPLACE (root)",
    "stopping iptables",
    "client 10.0.0.1#53: denied AXFR from 10.0.0.1",
    "*** stack smashing detected ***: terminated",
    "new user: name=john, UID=0, GID=0, home=/home/john, shell=/bin/bash",
    "python -m SimpleHTTPServer 8000",
    "Failed password for root from 203.0.113.9 port 22 ssh2",
    "pam_unix(sudo:session): session opened for user root",
];

const PROGRAMS: &[&str] = &[
    "sshd",
    "CRON",
    "cron",
    "sudo",
    "su",
    "named",
    "kernel",
    "useradd",
    "systemd-logind",
    "login",
    "vsftpd",
    "clamd",
    "guacd",
    "bash",
];

/// Every SigmaHQ detection rule, as parsed.
fn sigma_docs() -> Vec<RuleDoc> {
    let sigma = data_dir().join("sigma");
    let mut docs = Vec::new();
    for dir in ["rules", "rules-emerging-threats", "rules-threat-hunting"] {
        let (d, _diagnostics) = vigil_sigma::load_dir(&sigma.join(dir)).expect("sigma rules");
        docs.extend(d);
    }
    docs
}

/// Only the rules written for one of `declared`, meeting events on their conditions alone.
fn written_for(docs: &[RuleDoc], declared: &[Logsource]) -> CompiledRuleSet {
    let fitting: Vec<RuleDoc> = docs
        .iter()
        .filter(|d| match d {
            RuleDoc::Rule(r) => declared.iter().any(|l| logsource_fits(&r.logsource, l)),
            _ => false,
        })
        .cloned()
        .collect();
    let options = CompileOptions {
        require_evidence_of_source: false,
        ..CompileOptions::default()
    };
    compile(&fitting, &options).0
}

fn ids(set: &CompiledRuleSet, matched: &[vigil_detect::RuleId]) -> Vec<String> {
    let mut ids: Vec<String> = matched
        .iter()
        .map(|r| set.rule(*r).id().to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_declared_logsource_meets_exactly_the_rules_written_for_it() {
    let mut lines: Vec<String> = Vec::new();
    for program in PROGRAMS {
        for message in MESSAGES {
            lines.push(format!(
                "Dec 21 16:42:19 testserver {program}[1337]: {message}"
            ));
        }
    }
    lines.push("Dec 21 16:42:19 testserver stack smashing detected".into());
    for sample in ["Linux/Linux_2k.log", "OpenSSH/OpenSSH_2k.log"] {
        let text = std::fs::read_to_string(data_dir().join("logs").join(sample)).unwrap();
        lines.extend(text.lines().step_by(10).map(str::to_owned));
    }

    let docs = sigma_docs();
    let mut subsets: HashMap<Vec<Logsource>, CompiledRuleSet> = HashMap::new();
    let mut whole = RULES.matcher();
    let options = SyslogOptions::new(0);
    let (mut matched, mut checked) = (0, 0);
    for line in &lines {
        let message = parse(line.as_bytes(), &options).expect("a syslog line");
        let event = JsonEvent::parse_owned(message.to_json_text().into_bytes()).unwrap();
        let declared = syslog_event_logsources(&event).expect("a syslog event");
        let subset = subsets
            .entry(declared.to_vec())
            .or_insert_with(|| written_for(&docs, declared));
        let expected = ids(subset, subset.matcher().matches(&event));
        let found = ids(&RULES, whole.matches_from(&event, declared));
        assert_eq!(found, expected, "{line} as {declared:?}");
        matched += usize::from(!found.is_empty());
        checked += 1;
    }
    assert!(
        matched >= 30 && subsets.len() >= 5,
        "the lines meet rules of several logs: {matched} of {checked} matched, {} declarations",
        subsets.len()
    );
}
