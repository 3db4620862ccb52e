//! No rule file panics the loader, the compiler or the matcher: mutations of real SigmaHQ rules
//! and of rules using every modifier, correlations and filters are parsed, compiled and run
//! over real events. Every diagnostic names a line of the file and is one printable line, and a
//! rule the compiler takes runs.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};

use vigil_detect::{CompileOptions, Correlator, compile};
use vigil_events::json::JsonEvent;
use vigil_testkit::Rng;

use crate::support::data_dir;

/// Rules that use what the SigmaHQ set rarely does: every modifier, conditions with patterns,
/// a correlation of each kind and a filter.
const SEED: &str = r#"title: Every modifier
name: every_modifier
id: 9a3b4c5d-0000-4000-8000-000000000001
status: test
level: high
logsource:
  product: windows
  category: process_creation
detection:
  sel_img:
    Image|endswith:
      - '\whoami.exe'
      - '\net?.exe'
  sel_b64:
    CommandLine|base64offset|contains: 'http://'
  sel_wide:
    CommandLine|wide|base64: 'ping'
  sel_cidr:
    DestinationIp|cidr: ['10.0.0.0/8', 'fe80::/10']
  sel_ref:
    User|fieldref: TargetUser
  sel_num:
    EventID|gte: 4600
    ProcessId|lt: 10
  sel_re:
    CommandLine|re|i|m|s: '^a.+b$'
  sel_dash:
    CommandLine|windash|contains|all: ['-enc', '-nop']
  sel_exists:
    Hashes|exists: true
  sel_expand:
    CommandLine|expand: '%DomainName%\admin'
  sel_cased:
    Image|cased: 'C:\Windows\*'
  sel_null:
    ParentImage: null
  keywords:
    - 'mimi*katz'
    - "esc\\*aped\\?"
  condition: (1 of sel_* and not sel_null) or all of keywords or 2 of them
---
title: Repeated
name: repeated
correlation:
  type: value_count
  rules: [every_modifier]
  group-by: [User]
  timespan: 15m
  condition:
    field: Image
    gte: 3
---
title: In order
correlation:
  type: temporal_ordered
  rules: [every_modifier, repeated]
  group-by: [Computer]
  aliases:
    Computer:
      every_modifier: Computer
      repeated: Computer
  timespan: 1h
---
title: Percentile
correlation:
  type: value_percentile
  rules: [every_modifier]
  group-by: [User]
  timespan: 1d
  condition:
    field: ProcessId
    percentile: 95
    gt: 100
---
title: Filter admins
logsource:
  product: windows
  category: process_creation
filter:
  rules:
    - every_modifier
  selection:
    User|startswith: 'adm_'
  condition: not selection
"#;

/// YAML's and Sigma's own symbols, so that mutations reach past the YAML parser.
const ALPHABET: &[u8] =
    b" \n\t:-|'\"*?\\[]{}#&!%@,0123456789.truenullcontainsallrebase64cidrgtexistsofthemandnotor()_";

/// Every 25th rule file of the SigmaHQ set (about 150), in a fixed order.
fn sigma_seeds() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let mut dirs = vec![data_dir().join("sigma/rules")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("the SigmaHQ rules") {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .step_by(25)
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

/// Real events: the first few hundred attack samples, and a syslog line.
fn events() -> Vec<JsonEvent> {
    let file = std::fs::File::open(data_dir().join("events/attack-samples.jsonl.gz")).unwrap();
    let lines = std::io::BufReader::new(flate2::read::GzDecoder::new(file)).lines();
    let mut events: Vec<JsonEvent> = lines
        .step_by(50)
        .take(300)
        .map(|l| JsonEvent::parse_owned(l.unwrap().into_bytes()).unwrap())
        .collect();
    let syslog = r#"{"app_name":"sshd","hostname":"h","message":"Failed password for root"}"#;
    events.push(JsonEvent::parse_owned(syslog.as_bytes().to_vec()).unwrap());
    events
}

fn exercise(text: &str, file: &Path, events: &[JsonEvent]) -> usize {
    let (docs, mut diagnostics) = vigil_sigma::parse_str(text, file);
    let (set, more) = compile(&docs, &CompileOptions::default());
    diagnostics.extend(more);
    // Lines as YAML counts them: a lone carriage return breaks a line too.
    let lines = 1 + text.replace("\r\n", "\n").matches(['\n', '\r']).count();
    for d in &diagnostics {
        assert!(
            (1..=lines).contains(&d.line),
            "{file:?}: line {} of a {lines}-line text: {d}\n{text}",
            d.line
        );
        let shown = d.to_string();
        assert!(
            !shown.chars().any(char::is_control),
            "{file:?}: the diagnostic is not one printable line: {shown:?}\n{text}"
        );
    }
    let mut matcher = set.matcher();
    let mut correlator = Correlator::new(&set);
    let mut fired = Vec::new();
    let mut matched = 0;
    for (i, event) in events.iter().enumerate() {
        let rules = matcher.matches(event).to_vec();
        matched += rules.len();
        correlator.feed(i as i64 * 1_000, event, &rules, i as u64, &mut fired);
    }
    matched + fired.len()
}

#[test]
fn the_seed_rules_load_and_run() {
    let (docs, diagnostics) = vigil_sigma::parse_str(SEED, Path::new("seed.yml"));
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let (set, diagnostics) = compile(&docs, &CompileOptions::default());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert_eq!(
        set.rules().len(),
        4,
        "one detection rule and three correlations"
    );
}

#[test]
fn mutated_rules_never_panic() {
    let events = events();
    let mut seeds = sigma_seeds();
    assert!(seeds.len() > 100, "{} SigmaHQ seeds", seeds.len());
    seeds.push((PathBuf::from("seed.yml"), SEED.to_owned()));
    let mut rng = Rng::new(2024);
    let mut matched = 0;
    for i in 0..4_000 {
        // The hand-written seed every third time: it holds the rarer features.
        let (file, seed) = if i % 3 == 0 {
            seeds.last().unwrap()
        } else {
            &seeds[rng.below(seeds.len())]
        };
        let bytes = rng.mutate(seed.as_bytes(), ALPHABET);
        matched += exercise(&String::from_utf8_lossy(&bytes), file, &events);
    }
    assert!(matched > 0, "some mutated rules still match");
}
