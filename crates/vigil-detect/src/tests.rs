//! Engine tests: rules written inline, events built as flat field maps, one case per
//! behaviour of the specification (modifiers, wildcards, null, keywords, logsource dispatch,
//! filters, correlations).

use std::path::Path;

use crate::{CompileOptions, CorrelationMatch, Correlator, Event, FieldValue, RuleId, compile};

/// A test event: field → values.
#[derive(Debug, Default)]
struct MapEvent(Vec<(String, FieldValue<'static>)>);

impl MapEvent {
    fn new(fields: &[(&str, FieldValue<'static>)]) -> Self {
        MapEvent(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }
}

fn s(v: &str) -> FieldValue<'static> {
    FieldValue::Str(v.to_string().into())
}

impl Event for MapEvent {
    fn field_values(&self, field: &str, visit: &mut dyn FnMut(&FieldValue<'_>)) -> bool {
        let mut found = false;
        for (k, v) in &self.0 {
            if k == field {
                found = true;
                visit(v);
            }
        }
        found
    }

    fn for_each_value(&self, visit: &mut dyn FnMut(&FieldValue<'_>)) {
        for (_, v) in &self.0 {
            visit(v);
        }
    }
}

fn rule(detection: &str) -> String {
    format!("title: T\nid: r1\nlogsource:\n  product: test\ndetection:\n{detection}")
}

/// Like [`check`], offering the rule to events of unknown source on its condition alone (not
/// only when they carry one of its fields): for the value semantics of `null`, `exists` and
/// `not`, which the specification states for any event.
fn check_semantics(text: &str, events: &[(&MapEvent, bool)]) {
    let opts = CompileOptions {
        require_evidence_of_source: false,
        ..CompileOptions::default()
    };
    check_with(text, &opts, events)
}

/// Compiles `text` and reports whether the rule `r1` matches each event.
fn check(text: &str, events: &[(&MapEvent, bool)]) {
    check_with(text, &CompileOptions::default(), events)
}

fn check_with(text: &str, opts: &CompileOptions, events: &[(&MapEvent, bool)]) {
    let (docs, diags) = vigil_sigma::parse_str(text, Path::new("t.yml"));
    assert!(diags.is_empty(), "{diags:?}");
    let (set, diags) = compile(&docs, opts);
    assert!(diags.is_empty(), "{diags:?}");
    let mut m = set.matcher();
    for (i, (event, want)) in events.iter().enumerate() {
        let got = m
            .matches(*event)
            .iter()
            .any(|id| set.rule(*id).id() == "r1");
        assert_eq!(got, *want, "event {i} of rule:\n{text}\nevent: {event:?}");
    }
}

/// Letters beyond ASCII are compared lowercased character by character on both sides: a Σ that
/// ends a word is σ in a rule as in a value (`str::to_lowercase` would make it ς in one).
#[test]
fn letters_beyond_ascii_match_whatever_their_case() {
    for detection in [
        "  sel:\n    Name: 'ΟΔΟΣ'\n  condition: sel\n",
        "  sel:\n    Name|contains: 'ΔΟΣ'\n  condition: sel\n",
        "  sel:\n    Name|endswith: 'Σ'\n  condition: sel\n",
        "  sel:\n    Name|startswith: 'οδοΣ'\n  condition: sel\n",
    ] {
        check(
            &rule(detection),
            &[
                (&MapEvent::new(&[("Name", s("ΟΔΟΣ"))]), true),
                (&MapEvent::new(&[("Name", s("οδοσ"))]), true),
                (&MapEvent::new(&[("Name", s("Οδοσ"))]), true),
                (&MapEvent::new(&[("Name", s("οδοι"))]), false),
            ],
        );
    }
}

#[test]
fn equality_is_case_insensitive_and_numbers_match_text() {
    let r = rule(
        "  sel:\n    Image: 'C:\\Windows\\System32\\cmd.exe'\n    EventID: 4624\n  condition: sel\n",
    );
    let yes = MapEvent::new(&[
        ("Image", s("c:\\windows\\system32\\CMD.EXE")),
        ("EventID", FieldValue::Int(4624)),
    ]);
    let text_id = MapEvent::new(&[
        ("Image", s("C:\\Windows\\System32\\cmd.exe")),
        ("EventID", s("4624")),
    ]);
    let no = MapEvent::new(&[
        ("Image", s("C:\\Windows\\System32\\cmd.exe.bak")),
        ("EventID", FieldValue::Int(4624)),
    ]);
    let absent = MapEvent::new(&[("EventID", FieldValue::Int(4624))]);
    check(
        &r,
        &[
            (&yes, true),
            (&text_id, true),
            (&no, false),
            (&absent, false),
        ],
    );
}

#[test]
fn contains_startswith_endswith_all_and_cased() {
    let r = rule(
        "  sel:\n    CommandLine|contains|all:\n      - ' -enc '\n      - 'hidden'\n    Image|endswith: '\\powershell.exe'\n    User|startswith: 'NT AUTH'\n  condition: sel\n",
    );
    let yes = MapEvent::new(&[
        ("CommandLine", s("powershell -w HIDDEN -enc AAAA")),
        ("Image", s("C:\\x\\PowerShell.exe")),
        ("User", s("nt authority\\system")),
    ]);
    let only_one = MapEvent::new(&[
        ("CommandLine", s("powershell -enc AAAA")),
        ("Image", s("C:\\x\\PowerShell.exe")),
        ("User", s("nt authority\\system")),
    ]);
    check(&r, &[(&yes, true), (&only_one, false)]);
    let cased = rule("  sel:\n    Name|cased: 'Admin'\n  condition: sel\n");
    check(
        &cased,
        &[
            (&MapEvent::new(&[("Name", s("Admin"))]), true),
            (&MapEvent::new(&[("Name", s("admin"))]), false),
        ],
    );
}

#[test]
fn wildcards_and_escapes() {
    let r = rule("  sel:\n    - F: 'a*b?c'\n    - G: 'lit\\*eral'\n  condition: sel\n");
    check(
        &r,
        &[
            (&MapEvent::new(&[("F", s("AxxBzC"))]), true),
            (&MapEvent::new(&[("F", s("abzcx"))]), false),
            (&MapEvent::new(&[("G", s("lit*eral"))]), true),
            (&MapEvent::new(&[("G", s("litXeral"))]), false),
        ],
    );
}

#[test]
fn regex_flags() {
    let r = rule("  a:\n    F|re: '^ab.c$'\n  condition: a\n");
    check(
        &r,
        &[
            (&MapEvent::new(&[("F", s("abxc"))]), true),
            (&MapEvent::new(&[("F", s("ABxC"))]), false),
        ],
    );
    let r = rule("  a:\n    F|re|i: '^ab.c$'\n  condition: a\n");
    check(&r, &[(&MapEvent::new(&[("F", s("ABxC"))]), true)]);
    let r = rule("  a:\n    F|re|s: '^a.c$'\n  condition: a\n");
    check(&r, &[(&MapEvent::new(&[("F", s("a\nc"))]), true)]);
    let r = rule("  a:\n    F|re|m: '^c$'\n  condition: a\n");
    check(&r, &[(&MapEvent::new(&[("F", s("a\nc"))]), true)]);
}

#[test]
fn null_exists_and_neq() {
    let r = rule("  sel:\n    F: null\n  condition: sel\n");
    check_semantics(
        &r,
        &[
            (&MapEvent::new(&[]), true),
            // '' and null are different values in the specification.
            (&MapEvent::new(&[("F", s(""))]), false),
            (&MapEvent::new(&[("F", FieldValue::Null)]), true),
            (&MapEvent::new(&[("F", s("x"))]), false),
        ],
    );
    let r = rule("  sel:\n    F: ''\n  condition: sel\n");
    check_semantics(
        &r,
        &[
            (&MapEvent::new(&[("F", s(""))]), true),
            (&MapEvent::new(&[("F", FieldValue::Null)]), false),
            (&MapEvent::new(&[]), false),
        ],
    );
    // The shape of SigmaHQ's firewall rule: a selection minus `ApplicationPath: null` still
    // fires on an empty path.
    let r = rule(
        "  sel:\n    Action: 3\n  filter:\n    ApplicationPath: null\n  condition: sel and not filter\n",
    );
    check_semantics(
        &r,
        &[
            (
                &MapEvent::new(&[("Action", FieldValue::Int(3)), ("ApplicationPath", s(""))]),
                true,
            ),
            (&MapEvent::new(&[("Action", FieldValue::Int(3))]), false),
        ],
    );
    let r = rule("  sel:\n    F|exists: true\n    G|exists: false\n  condition: sel\n");
    check_semantics(
        &r,
        &[
            (&MapEvent::new(&[("F", s(""))]), true),
            (&MapEvent::new(&[("F", s("")), ("G", s("x"))]), false),
        ],
    );
    let r = rule("  sel:\n    F|neq:\n      - a\n      - b\n  condition: sel\n");
    check_semantics(
        &r,
        &[
            (&MapEvent::new(&[("F", s("c"))]), true),
            (&MapEvent::new(&[("F", s("B"))]), false),
        ],
    );
}

#[test]
fn numeric_cidr_fieldref_base64_windash() {
    let r = rule("  sel:\n    Port|gte: 1024\n    Port|lt: 2000\n  condition: sel\n");
    check(
        &r,
        &[
            (&MapEvent::new(&[("Port", FieldValue::Int(1500))]), true),
            (&MapEvent::new(&[("Port", s("1024"))]), true),
            (&MapEvent::new(&[("Port", FieldValue::Int(2000))]), false),
        ],
    );
    let r =
        rule("  sel:\n    Ip|cidr:\n      - 10.0.0.0/8\n      - 'fe80::/10'\n  condition: sel\n");
    check(
        &r,
        &[
            (&MapEvent::new(&[("Ip", s("10.2.3.4"))]), true),
            (&MapEvent::new(&[("Ip", s("fe80::1"))]), true),
            (&MapEvent::new(&[("Ip", s("192.168.0.1"))]), false),
        ],
    );
    let r = rule("  sel:\n    A|fieldref: B\n  condition: sel\n");
    check(
        &r,
        &[
            (&MapEvent::new(&[("A", s("x")), ("B", s("X"))]), true),
            (&MapEvent::new(&[("A", s("x")), ("B", s("y"))]), false),
        ],
    );
    let r = rule("  sel:\n    C|base64offset|contains: '/bin/bash'\n  condition: sel\n");
    check(
        &r,
        &[
            (
                &MapEvent::new(&[("C", s("echo IC9iaW4vYmFzaA== | base64 -d"))]),
                true,
            ),
            (&MapEvent::new(&[("C", s("L2Jpbi9iYXNo"))]), true),
            (&MapEvent::new(&[("C", s("nothing"))]), false),
        ],
    );
    let r = rule("  sel:\n    C|wide|base64offset|contains: 'ping'\n  condition: sel\n");
    // "ping" in UTF-16LE, base64: cABpAG4AZwA=
    check(
        &r,
        &[(&MapEvent::new(&[("C", s("-enc cABpAG4AZwA="))]), true)],
    );
    let r = rule("  sel:\n    C|windash|contains: ' -exec '\n  condition: sel\n");
    check(
        &r,
        &[
            (&MapEvent::new(&[("C", s("x /exec y"))]), true),
            (&MapEvent::new(&[("C", s("x \u{2014}exec y"))]), true),
            (&MapEvent::new(&[("C", s("x exec y"))]), false),
        ],
    );
}

#[test]
fn all_takes_each_value_through_any_of_its_ways_of_being_written() {
    // `windash` writes ' -a' five ways and `base64offset` three: each value is one of its ways,
    // not all of them at once.
    let r = rule(
        "  sel:\n    C|windash|contains|all:\n      - ' -a'\n      - ' -b'\n  condition: sel\n",
    );
    check(
        &r,
        &[
            (&MapEvent::new(&[("C", s("x -a -b"))]), true),
            (&MapEvent::new(&[("C", s("x /a \u{2013}b"))]), true),
            (&MapEvent::new(&[("C", s("x /a"))]), false),
        ],
    );
    let r = rule(
        "  sel:\n    C|base64offset|contains|all:\n      - alpha\n      - bravo\n  condition: sel\n",
    );
    check(
        &r,
        &[
            // "alpha bravo", and "xalpha bravo" shifting both by one byte.
            (&MapEvent::new(&[("C", s("YWxwaGEgYnJhdm8="))]), true),
            (&MapEvent::new(&[("C", s("eGFscGhhIGJyYXZv"))]), true),
            // "alpha" alone.
            (&MapEvent::new(&[("C", s("YWxwaGE="))]), false),
        ],
    );
}

#[test]
fn a_number_in_a_rule_equals_a_number_or_its_own_text() {
    let r = rule("  sel:\n    EventID: 4769\n  condition: sel\n");
    check(
        &r,
        &[
            (&MapEvent::new(&[("EventID", FieldValue::Int(4769))]), true),
            (
                &MapEvent::new(&[("EventID", FieldValue::Float(4769.0))]),
                true,
            ),
            (&MapEvent::new(&[("EventID", s("4769"))]), true),
            // Values are strings to Sigma: other spellings of the number are other values.
            (&MapEvent::new(&[("EventID", s(" 4769"))]), false),
            (&MapEvent::new(&[("EventID", s("04769"))]), false),
            (&MapEvent::new(&[("EventID", s("4.769e3"))]), false),
        ],
    );
}

/// Integers compare exactly, whatever their size (the auditor's defect 1: through `f64`,
/// `9007199254740993` equalled `…992` and `gt: 9007199254740992` missed `…993`); an integer and
/// a float compare by value. One row per item: the event values it must and must not meet.
#[test]
fn integers_compare_exactly_and_with_floats_by_value() {
    use FieldValue::{Float, Int, UInt};
    for (item, hits, misses) in [
        (
            "N: 9007199254740993",
            vec![Int(9007199254740993), s("9007199254740993")],
            vec![Int(9007199254740992), Float(9007199254740992.0)],
        ),
        (
            "N|gt: 9007199254740992",
            vec![Int(9007199254740993), UInt(u64::MAX), s("9007199254740993")],
            vec![Int(9007199254740992), Int(-1)],
        ),
        (
            "N: 18446744073709551615",
            vec![UInt(u64::MAX)],
            vec![UInt(u64::MAX - 1), Int(i64::MAX)],
        ),
        (
            "N|lte: -9223372036854775808",
            vec![Int(i64::MIN), s("-9223372036854775809")],
            vec![Int(i64::MIN + 1)],
        ),
        (
            "N|lt: 2.5",
            vec![Int(2), Float(2.4), s("2")],
            vec![Int(3), Float(2.5)],
        ),
        (
            "N|gte: 2.5",
            vec![Int(3), Float(2.5)],
            vec![Int(2), UInt(0)],
        ),
        ("N: 4769", vec![Float(4769.0)], vec![Float(4769.5)]),
        (
            "N|gt: 1.0e300",
            vec![Float(1.0e301)],
            vec![UInt(u64::MAX), Float(f64::NAN)],
        ),
    ] {
        let r = rule(&format!("  sel:\n    {item}\n  condition: sel\n"));
        let events: Vec<(MapEvent, bool)> = hits
            .into_iter()
            .map(|v| (MapEvent::new(&[("N", v)]), true))
            .chain(
                misses
                    .into_iter()
                    .map(|v| (MapEvent::new(&[("N", v)]), false)),
            )
            .collect();
        let events: Vec<(&MapEvent, bool)> = events.iter().map(|(e, b)| (e, *b)).collect();
        check(&r, &events);
    }
}

#[test]
fn keywords_and_conditions() {
    let r = rule(
        "  kw:\n    - 'mimikatz'\n    - 'sekurlsa'\n  f:\n    User: admin\n  condition: kw and not f\n",
    );
    check(
        &r,
        &[
            (
                &MapEvent::new(&[("Cmd", s("run Mimikatz.exe")), ("User", s("bob"))]),
                true,
            ),
            (
                &MapEvent::new(&[("Cmd", s("run mimikatz")), ("User", s("admin"))]),
                false,
            ),
            (&MapEvent::new(&[("Cmd", s("dir"))]), false),
        ],
    );
    let r = rule(
        "  sel_a:\n    A: 1\n  sel_b:\n    B: 1\n  sel_c:\n    C: 1\n  condition: 2 of sel_*\n",
    );
    check(
        &r,
        &[
            (&MapEvent::new(&[("A", s("1")), ("C", s("1"))]), true),
            (&MapEvent::new(&[("A", s("1"))]), false),
        ],
    );
    let r = rule("  sel_a:\n    A: 1\n  sel_b:\n    B: 1\n  condition: all of them\n");
    check(
        &r,
        &[
            (&MapEvent::new(&[("A", s("1")), ("B", s("1"))]), true),
            (&MapEvent::new(&[("A", s("1"))]), false),
        ],
    );
}

#[test]
fn expand_uses_placeholders() {
    let r = rule("  sel:\n    User|expand: '%admins%'\n  condition: sel\n");
    let mut opts = CompileOptions::default();
    opts.placeholders
        .insert("admins".into(), vec!["root".into(), "adm_*".into()]);
    check_with(
        &r,
        &opts,
        &[
            (&MapEvent::new(&[("User", s("adm_joe"))]), true),
            (&MapEvent::new(&[("User", s("joe"))]), false),
        ],
    );
    let (docs, _) = vigil_sigma::parse_str(&r, Path::new("t.yml"));
    let strict = CompileOptions {
        reject_unknown_placeholders: true,
        ..CompileOptions::default()
    };
    let (set, diags) = compile(&docs, &strict);
    assert_eq!(set.detection_count(), 0);
    assert!(diags[0].message.contains("admins"), "{diags:?}");
    // By default an unresolved placeholder matches nothing.
    check(&r, &[(&MapEvent::new(&[("User", s("root"))]), false)]);
}

/// Modifiers apply in the order written, as the specification says: `windash` and `expand`
/// before `re` and `cidr` change the pattern's or the network's text (the auditor's defect 2:
/// they were dropped), and `startswith|endswith` is `*x*`. One row per chain: the item, then
/// values of the field that must match and values that must not.
#[test]
fn modifiers_apply_in_the_order_written() {
    let mut opts = CompileOptions::default();
    for (name, values) in [
        ("pat", &["-e(nc|ncodedcommand)? "][..]),
        ("nets", &["10.0.0.0/8", "192.168.1.0/24"][..]),
        ("admins", &["adm_*"][..]),
    ] {
        opts.placeholders
            .insert(name.into(), values.iter().map(|v| v.to_string()).collect());
    }
    for (item, hits, misses) in [
        (
            "C|windash|re: ' -e(nc|ncodedcommand)? '",
            &[
                "powershell.exe -enc SQB",
                "powershell.exe /enc SQB",
                "powershell.exe \u{2013}encodedcommand SQB",
                "powershell.exe \u{2015}e x",
            ][..],
            &["powershell.exe enc SQB", "powershell.exe +enc SQB"][..],
        ),
        (
            "C|windash|re|i: ' -ENC '",
            &["x /enc y", "x \u{2014}Enc y"][..],
            &["x enc y"][..],
        ),
        (
            "C|expand|re: ' %pat%'",
            &["powershell -enc x", "powershell -encodedcommand x"][..],
            &["powershell /enc x", "%pat%"][..],
        ),
        (
            "C|expand|windash|re: ' %pat%'",
            &["powershell /enc x"][..],
            &["powershell enc x"][..],
        ),
        (
            "C|expand|cidr: '%nets%'",
            &["10.1.2.3", "192.168.1.7"][..],
            &["192.168.2.1", "11.0.0.1"][..],
        ),
        (
            "C|contains|expand: '%admins%'",
            &["x adm_joe", "ADM_"][..],
            &["adm", "joe"][..],
        ),
        (
            "C|startswith|endswith: 'x'",
            &["x", "axb", "ab x", "x ab"][..],
            &["ab"][..],
        ),
        (
            "C|endswith|windash: ' -s'",
            &["a /s", "a \u{2013}s"][..],
            &["a /s b"][..],
        ),
    ] {
        let r = rule(&format!("  sel:\n    {item}\n  condition: sel\n"));
        let hits: Vec<MapEvent> = hits.iter().map(|v| MapEvent::new(&[("C", s(v))])).collect();
        let misses: Vec<MapEvent> = misses
            .iter()
            .map(|v| MapEvent::new(&[("C", s(v))]))
            .collect();
        let events: Vec<(&MapEvent, bool)> = hits
            .iter()
            .map(|e| (e, true))
            .chain(misses.iter().map(|e| (e, false)))
            .collect();
        check_with(&r, &opts, &events);
    }
}

/// A chain the engine could honour only in part is refused where the rule is read, with the
/// item's line, never loaded with a modifier ignored.
#[test]
fn a_modifier_that_would_be_ignored_refuses_the_rule() {
    for item in [
        "C|re|base64: evil",
        "C|cidr|contains: 10.0.0.0/8",
        "C|gt|contains: 5",
        "C|contains|re: x",
        "C|re|windash: ' -x'",
    ] {
        let r = rule(&format!("  sel:\n    {item}\n  condition: sel\n"));
        let (docs, diags) = vigil_sigma::parse_str(&r, Path::new("t.yml"));
        assert!(docs.is_empty(), "{item}");
        assert_eq!(diags.len(), 1, "{item}: {diags:?}");
        assert_eq!(diags[0].line, 7, "{item}: {diags:?}");
        assert!(
            diags[0].path.ends_with(item.split(':').next().unwrap()),
            "{diags:?}"
        );
    }
    // The engine refuses them too when a rule is built without YAML.
    let rule = |mods: Vec<vigil_sigma::Modifier>| {
        let mut docs = vigil_sigma::parse_str(
            &rule("  sel:\n    C: x\n  condition: sel\n"),
            Path::new("t.yml"),
        )
        .0;
        let vigil_sigma::RuleDoc::Rule(r) = &mut docs[0] else {
            panic!()
        };
        let vigil_sigma::Search::Maps(maps) = &mut r.detection.searches[0].1 else {
            panic!()
        };
        maps[0][0].modifiers = mods;
        docs
    };
    let (set, diags) = compile(
        &rule(vec![
            vigil_sigma::Modifier::Re,
            vigil_sigma::Modifier::Base64,
        ]),
        &CompileOptions::default(),
    );
    assert_eq!(set.detection_count(), 0);
    assert!(
        diags[0].message.contains("'base64' cannot follow |re"),
        "{diags:?}"
    );
}

fn win(channel: &str, eid: i64, extra: &[(&str, FieldValue<'static>)]) -> MapEvent {
    let mut v = vec![("Channel", s(channel)), ("EventID", FieldValue::Int(eid))];
    v.extend_from_slice(extra);
    MapEvent::new(&v)
}

#[test]
fn windows_logsource_dispatch_and_renames() {
    let r = "title: T\nid: r1\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '\\cmd.exe'\n  condition: sel\n";
    let sysmon = "Microsoft-Windows-Sysmon/Operational";
    check(
        r,
        &[
            (&win(sysmon, 1, &[("Image", s("C:\\cmd.exe"))]), true),
            (&win(sysmon, 3, &[("Image", s("C:\\cmd.exe"))]), false),
            (
                &win("Security", 4688, &[("NewProcessName", s("C:\\cmd.exe"))]),
                true,
            ),
            (
                &win("Security", 4688, &[("Image", s("C:\\cmd.exe"))]),
                false,
            ),
            // A JSON log with no Channel is offered every rule.
            (&MapEvent::new(&[("Image", s("C:\\cmd.exe"))]), true),
        ],
    );
    let r = "title: T\nid: r1\nlogsource:\n  product: windows\n  service: security\ndetection:\n  sel:\n    EventID: 4624\n  condition: sel\n";
    check(
        r,
        &[
            (&win("Security", 4624, &[]), true),
            (&win("System", 4624, &[]), false),
            // Without a Channel, a rule that requires EventID values is indexed under them:
            // it still meets the events with one of those ids (as number or text), only them.
            (&MapEvent::new(&[("EventID", FieldValue::Int(4624))]), true),
            (&MapEvent::new(&[("EventID", s("4624"))]), true),
            (&MapEvent::new(&[("EventID", FieldValue::Int(4625))]), false),
            (&MapEvent::new(&[("user", s("bob"))]), false),
        ],
    );
    // A keyword-only rule for a Windows log has only the Channel to tell that log: an event
    // without one is not offered it.
    let app = "title: T\nid: r1\nlogsource:\n  product: windows\n  service: application\ndetection:\n  keywords:\n    - 'hacktool'\n  condition: keywords\n";
    check(
        app,
        &[
            (
                &win("Application", 1116, &[("Data", s("HackTool found"))]),
                true,
            ),
            (
                &win("System", 7045, &[("Data", s("HackTool found"))]),
                false,
            ),
            (&MapEvent::new(&[("msg", s("HackTool found"))]), false),
        ],
    );
    // Nor is any keyword-only rule whose logsource names a product or a service: its words are
    // that log's (`show`, `dir`, `delete` for Cisco), and a JSON log of unknown source is
    // not that log (an application's `show version requested`). Keywords for a category alone,
    // or for no logsource, still meet it; so does a rule that also names a field.
    for (logsource, offered) in [
        ("product: windows", false),
        ("product: linux", false),
        ("product: cisco\n  service: aaa", false),
        ("category: antivirus", true),
        ("{}", true),
    ] {
        let any = format!(
            "title: T\nid: r1\nlogsource:\n  {logsource}\ndetection:\n  keywords:\n    - 'hacktool'\n  condition: keywords\n"
        );
        check(
            &any,
            &[(&MapEvent::new(&[("msg", s("HackTool found"))]), offered)],
        );
    }
    let cisco = "title: T\nid: r1\nlogsource:\n  product: cisco\n  service: aaa\ndetection:\n  keywords:\n    - 'show'\n  sel:\n    msg: x\n  condition: keywords or sel\n";
    check(
        cisco,
        &[(&MapEvent::new(&[("msg", s("show version"))]), true)],
    );
    // A rule for web server logs never sees Windows events, but sees other JSON logs.
    let web = "title: T\nid: r1\nlogsource:\n  category: webserver\ndetection:\n  sel:\n    - 'jndi:'\n  condition: sel\n";
    check(
        web,
        &[
            (&win("Security", 4624, &[("X", s("${jndi:ldap}"))]), false),
            (&MapEvent::new(&[("url", s("/?x=${jndi:ldap}"))]), true),
        ],
    );
    let opts = CompileOptions {
        windows_logsource_mapping: false,
        ..CompileOptions::default()
    };
    check_with(r, &opts, &[(&win("System", 4624, &[]), true)]);
}

/// A Windows event-log record without a `Channel` (a forwarded-event bookmark).
#[derive(Debug)]
struct ChannelLessRecord(MapEvent);

impl Event for ChannelLessRecord {
    fn field_values(&self, field: &str, visit: &mut dyn FnMut(&FieldValue<'_>)) -> bool {
        self.0.field_values(field, visit)
    }
    fn for_each_value(&self, visit: &mut dyn FnMut(&FieldValue<'_>)) {
        self.0.for_each_value(visit)
    }
    fn is_windows_record(&self) -> bool {
        true
    }
}

#[test]
fn channel_less_windows_records_see_only_windows_rules() {
    let text = "title: Zeek\nid: zeek\nlogsource:\n  product: zeek\n  service: rdp\ndetection:\n  sel:\n    id.orig_h: null\n  condition: sel\n---\ntitle: Win\nid: win\nlogsource:\n  product: windows\ndetection:\n  sel:\n    EventID: 111\n  condition: sel\n";
    let (docs, diags) = vigil_sigma::parse_str(text, Path::new("t.yml"));
    assert!(diags.is_empty(), "{diags:?}");
    let (set, diags) = compile(&docs, &CompileOptions::default());
    assert!(diags.is_empty(), "{diags:?}");
    let mut m = set.matcher();
    let ids = |m: &mut crate::Matcher<'_>, e: &dyn Event| -> Vec<String> {
        m.matches(e)
            .iter()
            .map(|id| set.rule(*id).id().to_string())
            .collect()
    };
    let fields = [("EventID", FieldValue::Int(111))];
    let record = ChannelLessRecord(MapEvent::new(&fields));
    assert_eq!(ids(&mut m, &record), vec!["win"]);
    // In a plain JSON log, whose source is unknown, a rule that holds without its fields
    // needs one of them to be there: the Zeek rule (true when `id.orig_h` is absent) does not
    // meet an event that has nothing of Zeek.
    assert_eq!(ids(&mut m, &MapEvent::new(&fields)), vec!["win"]);
}

#[test]
fn rules_true_without_their_fields_need_one_of_them_in_logs_of_unknown_source() {
    // SigmaHQ's Zeek rule, a negated selection: without the logsource to go by it would match
    // every syslog line and web log.
    let zeek = "title: Publicly Accessible RDP Service\nid: r1\nlogsource:\n  product: zeek\n  service: rdp\ndetection:\n  selection:\n    id.orig_h|cidr:\n      - '10.0.0.0/8'\n      - '192.168.0.0/16'\n  condition: not selection\n";
    check(
        zeek,
        &[
            (
                &MapEvent::new(&[("message", s("Failed password for root from 203.0.113.9"))]),
                false,
            ),
            (&MapEvent::new(&[("id.orig_h", s("203.0.113.9"))]), true),
            (&MapEvent::new(&[("id.orig_h", s("10.1.2.3"))]), false),
        ],
    );
    // Any one of the fields is enough, and a rule with a field it cannot match without is
    // unchanged.
    let either = "title: T\nid: r1\nlogsource:\n  product: linux\ndetection:\n  a:\n    user: root\n  b:\n    uid: 0\n  condition: not a and not b\n";
    check(
        either,
        &[
            (&MapEvent::new(&[("user", s("bob"))]), true),
            (&MapEvent::new(&[("uid", FieldValue::Int(7))]), true),
            (&MapEvent::new(&[("msg", s("x"))]), false),
        ],
    );
    // Windows logs with a Channel go by their logsource as before.
    let filter_only = "title: T\nid: r1\nlogsource:\n  product: windows\n  service: security\ndetection:\n  filter:\n    TargetUserName: admin\n  condition: not filter\n";
    check(filter_only, &[(&win("Security", 4624, &[]), true)]);
    // A keyword found is evidence of its own: `keywords or selection` finds the keyword in a
    // log without the selection's field, while `not` a keyword is no evidence.
    let keywords = "title: T\nid: r1\nlogsource:\n  product: linux\ndetection:\n  keywords:\n    - alpha\n  sel:\n    F: x\n  condition: keywords or sel\n";
    check(
        keywords,
        &[
            (&MapEvent::new(&[("m", s("alpha beta"))]), true),
            (&MapEvent::new(&[("m", s("beta"))]), false),
            (&MapEvent::new(&[("F", s("X"))]), true),
        ],
    );
    let not_keyword = "title: T\nid: r1\nlogsource:\n  product: linux\ndetection:\n  keywords:\n    - alpha\n  sel:\n    F: x\n  condition: not keywords and not sel\n";
    check(
        not_keyword,
        &[
            (&MapEvent::new(&[("m", s("beta"))]), false),
            (&MapEvent::new(&[("F", s("y"))]), true),
        ],
    );
}

/// The ids of the rules matching `event` when its sender declares `logsources`.
fn ids_from(
    set: &crate::CompiledRuleSet,
    event: &dyn Event,
    logsources: &[crate::Logsource],
) -> Vec<String> {
    let mut m = set.matcher();
    let mut out: Vec<String> = m
        .matches_from(event, logsources)
        .iter()
        .map(|id| set.rule(*id).id().to_owned())
        .collect();
    out.sort();
    out
}

fn logsource(
    product: Option<&str>,
    category: Option<&str>,
    service: Option<&str>,
) -> crate::Logsource {
    crate::Logsource {
        product: product.map(str::to_owned),
        category: category.map(str::to_owned),
        service: service.map(str::to_owned),
        definition: None,
    }
}

#[test]
fn a_declared_logsource_offers_only_the_rules_written_for_it() {
    let text = [
        "title: Zeek RDP\nid: zeek\nlogsource:\n  product: zeek\n  service: rdp\ndetection:\n  selection:\n    id.orig_h|cidr: '10.0.0.0/8'\n  condition: not selection\n",
        "title: Web\nid: web\nlogsource:\n  category: webserver\ndetection:\n  sel:\n    cs-uri-query|contains: '../'\n  condition: sel\n",
        "title: Auth\nid: auth\nlogsource:\n  product: linux\n  service: auth\ndetection:\n  keywords:\n    - 'Failed password'\n  condition: keywords\n",
        "title: Any\nid: any\nlogsource: {}\ndetection:\n  keywords:\n    - 'Failed password'\n  condition: keywords\n",
    ]
    .join("---\n");
    let (docs, diags) = vigil_sigma::parse_str(&text, Path::new("t.yml"));
    assert!(diags.is_empty(), "{diags:?}");
    let (set, diags) = compile(&docs, &CompileOptions::default());
    assert!(diags.is_empty(), "{diags:?}");

    let sshd = MapEvent::new(&[
        ("message", s("Failed password for root from 203.0.113.9")),
        ("cs-uri-query", s("a=../../etc/passwd")),
    ]);
    let auth = [logsource(Some("linux"), None, Some("auth"))];
    // Only the rules for linux/auth (and the one for any log); the web rule's field is there
    // but the log is not a web server's.
    assert_eq!(ids_from(&set, &sshd, &auth), vec!["any", "auth"]);
    // Unknown source: every rule whose fields it could hold, but not the keywords of a log
    // it is not declared to be.
    assert_eq!(ids_from(&set, &sshd, &[]), vec!["any", "web"]);
    // Product and category compare without case; one of several declared logsources is enough.
    let web = [
        logsource(Some("Linux"), None, Some("syslog")),
        logsource(Some("nginx"), Some("WebServer"), None),
    ];
    assert_eq!(ids_from(&set, &sshd, &web), vec!["any", "web"]);
    // A log declared as Zeek's is offered the Zeek rule on its condition alone: a negated
    // selection holds for a conn record without the field, as the specification says.
    let zeek = [logsource(Some("zeek"), None, Some("rdp"))];
    let conn = MapEvent::new(&[("uid", s("C1"))]);
    assert_eq!(ids_from(&set, &conn, &zeek), vec!["zeek"]);
    assert!(ids_from(&set, &conn, &[]).is_empty());
    // A declared logsource missing a part the rule names does not fit it.
    let linux = [logsource(Some("linux"), None, None)];
    assert_eq!(ids_from(&set, &sshd, &linux), vec!["any"]);
    // What a declaration opens, counted: a misspelt one opens nothing.
    assert_eq!(set.rules_for(&auth), 1);
    assert_eq!(set.rules_for(&web), 1);
    assert_eq!(
        set.rules_for(&[logsource(None, Some("webservers"), None)]),
        0
    );
    // A Windows event goes by its Channel whatever its sender declares.
    let win_rule = "title: T\nid: r1\nlogsource:\n  product: windows\n  service: security\ndetection:\n  sel:\n    TargetUserName: admin\n  condition: sel\n";
    let (docs, _) = vigil_sigma::parse_str(win_rule, Path::new("t.yml"));
    let (set, _) = compile(&docs, &CompileOptions::default());
    let event = win("Security", 4624, &[("TargetUserName", s("admin"))]);
    assert_eq!(ids_from(&set, &event, &auth), vec!["r1"]);
}

/// Rules written for a declared log that name one part more than it declares are counted by
/// that part: they run only when it is declared too.
#[test]
fn rules_naming_a_part_the_declaration_lacks_are_counted_by_that_part() {
    let rule = |id: &str, logsource: &str| {
        format!(
            "title: {id}\nid: {id}\nlogsource: {{{logsource}}}\ndetection:\n  sel:\n    verb: delete\n  condition: sel\n"
        )
    };
    let text = [
        rule("audit", "product: kubernetes, service: audit"),
        rule(
            "app1",
            "product: kubernetes, service: audit, category: application",
        ),
        rule(
            "app2",
            "product: Kubernetes, service: audit, category: Application",
        ),
        rule(
            "other",
            "product: kubernetes, service: audit, category: other",
        ),
        // Names no service: not written for the audit log.
        rule("nosvc", "product: kubernetes, category: application"),
        // Names another service.
        rule(
            "api",
            "product: kubernetes, service: api, category: application",
        ),
    ]
    .join("---\n");
    let (docs, diags) = vigil_sigma::parse_str(&text, Path::new("t.yml"));
    assert!(diags.is_empty(), "{diags:?}");
    let (set, _) = compile(&docs, &CompileOptions::default());
    let audit = [logsource(Some("kubernetes"), None, Some("audit"))];
    assert_eq!(set.rules_for(&audit), 1);
    let parts = set.undeclared_parts(&audit);
    let seen: Vec<_> = parts
        .iter()
        .map(|p| (p.declared, p.key, p.value.as_str(), p.rules))
        .collect();
    assert_eq!(
        seen,
        [
            (0, "category", "application", 2),
            (0, "category", "other", 1)
        ]
    );
    // Declared too, the part is no longer missing: its rules run.
    let both = [
        logsource(Some("kubernetes"), None, Some("audit")),
        logsource(Some("kubernetes"), Some("application"), Some("audit")),
    ];
    assert_eq!(set.rules_for(&both), 4);
    let seen: Vec<_> = set
        .undeclared_parts(&both)
        .into_iter()
        .map(|p| (p.declared, p.value))
        .collect();
    assert_eq!(seen, [(0, "other".to_owned())]);
    // A product alone misses its service.
    let kubernetes = [logsource(Some("kubernetes"), None, None)];
    assert_eq!(set.rules_for(&kubernetes), 0);
    let seen: Vec<_> = set
        .undeclared_parts(&kubernetes)
        .into_iter()
        .map(|p| (p.key, p.value, p.rules))
        .collect();
    assert_eq!(
        seen,
        [
            ("category", "application".to_owned(), 1),
            ("service", "audit".to_owned(), 1)
        ]
    );
}

#[test]
fn a_channel_the_windows_mapping_does_not_know_takes_the_declared_logsources() {
    let text = [
        "title: App\nid: app\nlogsource:\n  product: myapp\ndetection:\n  sel:\n    CommandLine|contains: evil\n  condition: sel\n",
        "title: Sec\nid: sec\nlogsource:\n  product: windows\n  service: security\ndetection:\n  sel:\n    CommandLine|contains: evil\n  condition: sel\n",
    ]
    .join("---\n");
    let (docs, diags) = vigil_sigma::parse_str(&text, Path::new("t.yml"));
    assert!(diags.is_empty(), "{diags:?}");
    let (set, diags) = compile(&docs, &CompileOptions::default());
    assert!(diags.is_empty(), "{diags:?}");
    let myapp = [logsource(Some("myapp"), None, None)];
    // The application's own `Channel` values are no Windows log's: declared `myapp`, its
    // events meet the myapp rule as those without a Channel do.
    for channel in [Some("x"), Some("web"), None] {
        let mut fields = vec![("CommandLine", s("evil"))];
        if let Some(c) = channel {
            fields.push(("Channel", s(c)));
        }
        let event = MapEvent::new(&fields);
        assert_eq!(ids_from(&set, &event, &myapp), vec!["app"], "{channel:?}");
    }
    // A Channel the mapping knows still goes by the mapping, whatever was declared.
    let security = MapEvent::new(&[("Channel", s("Security")), ("CommandLine", s("evil"))]);
    assert_eq!(ids_from(&set, &security, &myapp), vec!["sec"]);
    // So does a Windows record whose Channel the mapping does not know: it is no myapp log.
    let record = ChannelLessRecord(win(
        "Vendor-Thing/Operational",
        1,
        &[("CommandLine", s("evil"))],
    ));
    assert!(ids_from(&set, &record, &myapp).is_empty());
}

#[test]
fn a_field_mapping_lets_rules_read_fields_under_the_event_s_own_names() {
    let rule = "title: T\nid: r1\nlogsource:\n  category: webserver\ndetection:\n  sel:\n    cs-uri-query|contains: '../'\n    sc-status: 200\n  condition: sel\n";
    let (docs, _) = vigil_sigma::parse_str(rule, Path::new("t.yml"));
    let (set, diags) = compile(&docs, &CompileOptions::default());
    assert!(diags.is_empty(), "{diags:?}");
    let ecs = MapEvent::new(&[
        ("url.query", s("f=../../etc/passwd")),
        ("http.response.status_code", FieldValue::Int(200)),
    ]);
    let mut fields = crate::FieldMapping::new();
    fields.insert("cs-uri-query".into(), "url.query".into());
    fields.insert("sc-status".into(), "http.response.status_code".into());
    let web = [logsource(None, Some("webserver"), None)];
    assert!(
        ids_from(&set, &ecs, &web).is_empty(),
        "unmapped, the names differ"
    );
    let mapped = crate::MappedEvent::new(&ecs, &fields);
    assert_eq!(ids_from(&set, &mapped, &web), vec!["r1"]);
    // Names the mapping does not list are read as they are.
    let w3c = MapEvent::new(&[
        ("cs-uri-query", s("f=../x")),
        ("sc-status", FieldValue::Int(200)),
    ]);
    let only_status: crate::FieldMapping = [("sc-status".to_string(), "status".to_string())].into();
    let partly = MapEvent::new(&[
        ("cs-uri-query", s("f=../x")),
        ("status", FieldValue::Int(200)),
    ]);
    assert_eq!(ids_from(&set, &w3c, &web), vec!["r1"]);
    assert_eq!(
        ids_from(&set, &crate::MappedEvent::new(&partly, &only_status), &web),
        vec!["r1"]
    );
    // A listed name the event does not hold where the mapping says is read as it is: a web
    // server line sent by a service whose mapping is for its ECS JSON.
    assert_eq!(
        ids_from(&set, &crate::MappedEvent::new(&w3c, &fields), &web),
        vec!["r1"]
    );
    let neither = MapEvent::new(&[("status", FieldValue::Int(200))]);
    assert!(ids_from(&set, &crate::MappedEvent::new(&neither, &fields), &web).is_empty());
}

#[test]
fn security_4688_mandatory_label_meets_integrity_level() {
    let r = "title: T\nid: r1\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n    IntegrityLevel:\n      - System\n      - S-1-16-16384\n  condition: sel\n";
    let sysmon = "Microsoft-Windows-Sysmon/Operational";
    check(
        r,
        &[
            (&win(sysmon, 1, &[("IntegrityLevel", s("System"))]), true),
            (
                &win("Security", 4688, &[("MandatoryLabel", s("S-1-16-16384"))]),
                true,
            ),
            (
                &win("Security", 4688, &[("MandatoryLabel", s("S-1-16-12288"))]),
                false,
            ),
            // Like Hayabusa, the label SID is not translated: a rule naming only `System`
            // needs the SID listed too, as every SigmaHQ rule on IntegrityLevel does.
            (
                &win("Security", 4688, &[("IntegrityLevel", s("S-1-16-16384"))]),
                false,
            ),
        ],
    );
}

#[test]
fn filters_drop_matches_of_named_rules() {
    let text = "title: T\nid: r1\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '\\rar.exe'\n  condition: sel\n---\ntitle: Filter admins\nlogsource:\n  product: windows\n  category: process_creation\nfilter:\n  rules:\n    - r1\n  selection:\n    User|startswith: 'adm_'\n  condition: not selection\n";
    let sysmon = "Microsoft-Windows-Sysmon/Operational";
    check(
        text,
        &[
            (
                &win(
                    sysmon,
                    1,
                    &[("Image", s("C:\\rar.exe")), ("User", s("bob"))],
                ),
                true,
            ),
            (
                &win(
                    sysmon,
                    1,
                    &[("Image", s("C:\\rar.exe")), ("User", s("adm_bob"))],
                ),
                false,
            ),
        ],
    );
    // The filter's logsource is process creation: a Security-log rule it names is left alone.
    let security = text.replace(
        "id: r1\nlogsource:\n  product: windows\n  category: process_creation",
        "id: r1\nlogsource:\n  product: windows\n  service: security",
    );
    check(
        &security,
        &[(
            &win(
                "Security",
                4688,
                &[("Image", s("C:\\rar.exe")), ("User", s("adm_bob"))],
            ),
            true,
        )],
    );
}

/// Rules `base` (matching `F: x`) and `other` (`F: y`) plus a correlation, compiled.
fn correlation_set(correlation: &str) -> crate::CompiledRuleSet {
    let text = format!(
        "title: Base\nid: base\nname: base\nlogsource:\n  product: test\ndetection:\n  sel:\n    F: x\n  condition: sel\n---\ntitle: Other\nid: other\nname: other\nlogsource:\n  product: test\ndetection:\n  sel:\n    F: y\n  condition: sel\n---\n{correlation}"
    );
    let (docs, diags) = vigil_sigma::parse_str(&text, Path::new("c.yml"));
    assert!(diags.is_empty(), "{diags:?}");
    let (set, diags) = compile(&docs, &CompileOptions::default());
    assert!(diags.is_empty(), "{diags:?}");
    set
}

/// Feeds `state` an event of `user` matching `base`, at `ts` (also its tag).
fn feed_base(
    set: &crate::CompiledRuleSet,
    state: &mut crate::CorrelationState,
    ts: i64,
    user: &str,
    out: &mut Vec<CorrelationMatch>,
) {
    let e = MapEvent::new(&[("F", s("x")), ("User", s(user))]);
    let matched = set.matcher().matches(&e).to_vec();
    state.feed(set, ts, &e, &matched, ts as u64, out);
}

/// Compiles rule `base` (matching `F: x`) plus a correlation, then feeds (ts, F, group) events.
fn correlate(
    correlation: &str,
    events: &[(i64, &str, &str, Option<&str>)],
) -> Vec<CorrelationMatch> {
    let set = correlation_set(correlation);
    let mut m = set.matcher();
    let mut c = Correlator::new(&set);
    let mut out = Vec::new();
    for (i, (ts, f, user, value)) in events.iter().enumerate() {
        let mut fields = vec![("F", s(f)), ("User", s(user))];
        if let Some(v) = value {
            fields.push(("V", s(v)));
        }
        let e = MapEvent::new(&fields);
        let matched: Vec<RuleId> = m.matches(&e).to_vec();
        c.feed(*ts, &e, &matched, i as u64, &mut out);
    }
    // The events end here: windows decided at their close are decided.
    c.finish(&mut out);
    out
}

#[test]
fn event_count_with_group_by_and_window_boundary() {
    let corr = "title: C\nid: c\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [User]\n  timespan: 10s\n  condition:\n    gte: 3\n";
    // Three events of alice within 10 s (inclusive bound), bob's do not count for her.
    let out = correlate(
        corr,
        &[
            (0, "x", "alice", None),
            (5_000, "x", "bob", None),
            (6_000, "x", "alice", None),
            (10_000, "x", "alice", None),
        ],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].group, vec!["alice".to_string()]);
    assert_eq!(out[0].value, 3.0);
    // The events behind it, by the tags they were fed with (their positions here).
    assert_eq!(out[0].events, vec![0, 2, 3]);
    // Just past the window: the first event has expired.
    let out = correlate(
        corr,
        &[
            (0, "x", "alice", None),
            (6_000, "x", "alice", None),
            (10_001, "x", "alice", None),
        ],
    );
    assert!(out.is_empty(), "{out:?}");
    // Out of order: the late event still falls in the window of the others.
    let out = correlate(
        corr,
        &[
            (6_000, "x", "alice", None),
            (9_000, "x", "alice", None),
            (1_000, "x", "alice", None),
        ],
    );
    assert_eq!(out.len(), 1);
}

#[test]
fn a_late_event_completes_a_window_that_runs_past_it_on_both_sides() {
    let count = "title: C\nid: c\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [User]\n  timespan: 10s\n  condition:\n    gte: 3\n";
    let late = |times: &[i64]| {
        let events: Vec<_> = times.iter().map(|t| (*t, "x", "alice", None)).collect();
        correlate(count, &events)
    };
    // 5 s and 15 s held, 10 s arrives: [5 s, 15 s] holds three, neither [0, 10] nor [10, 20].
    let out = late(&[5_000, 15_000, 10_000]);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!((out[0].value, &out[0].events[..]), (3.0, &[0, 2, 1][..]));
    // The same events in time order fire the same.
    assert_eq!(late(&[5_000, 10_000, 15_000]).len(), 1);
    // A window wider than the timespan does not count.
    assert!(late(&[5_000, 15_001, 10_000]).is_empty());
    let values = "title: C\nid: c\ncorrelation:\n  type: value_count\n  rules: [base]\n  group-by: [User]\n  timespan: 10s\n  condition:\n    field: V\n    gte: 3\n";
    let out = correlate(
        values,
        &[
            (5_000, "x", "a", Some("h1")),
            (15_000, "x", "a", Some("h3")),
            (10_000, "x", "a", Some("h2")),
        ],
    );
    assert_eq!(out.len(), 1, "{out:?}");
}

/// What a correlation of `kind` over `base` (`F: x`) and `other` (`F: y`) fires on events
/// `(time, F, V)` of one group in the order given, worked out by brute force: the events held
/// are those within a timespan of the newest; an arriving event fires the first window (by its
/// start) a timespan wide that holds it and satisfies `gte: threshold` (or, for the temporal
/// kinds, sees both rules, in order for `temporal_ordered`), and the group is then cleared.
/// Every window that starts at the arriving event's time less the timespan or at a held event's
/// time up to the arriving one is tried, none skipped.
fn fired_by_hand(
    kind: &str,
    threshold: usize,
    span: i64,
    events: &[(i64, &str, &str)],
) -> Vec<(f64, Vec<u64>)> {
    let mut held: Vec<(i64, u64, &str, &str)> = Vec::new();
    let mut fired = Vec::new();
    for (tag, &(t, f, v)) in (0u64..).zip(events) {
        let at = held.partition_point(|e| e.0 <= t);
        held.insert(at, (t, tag, f, v));
        let newest = held.last().unwrap().0;
        held.retain(|e| e.0 >= newest - span);
        let mut starts = vec![t - span];
        starts.extend(held.iter().map(|e| e.0).filter(|&s| s > t - span && s <= t));
        let hit = starts.into_iter().find_map(|start| {
            let window: Vec<_> = held
                .iter()
                .filter(|e| e.0 >= start && e.0 <= start + span)
                .collect();
            let value = match kind {
                "event_count" => window.len(),
                "value_count" => {
                    let mut values: Vec<&str> = window.iter().map(|e| e.3).collect();
                    values.sort_unstable();
                    values.dedup();
                    values.len()
                }
                "temporal" => ["x", "y"]
                    .iter()
                    .filter(|f| window.iter().any(|e| e.2 == **f))
                    .count(),
                _ => window.iter().fold(0, |next, e| {
                    next + usize::from(next < 2 && e.2 == ["x", "y"][next])
                }),
            };
            let needed = if kind.starts_with("temporal") {
                2
            } else {
                threshold
            };
            (value >= needed).then(|| (value as f64, window.iter().map(|e| e.1).collect()))
        });
        if let Some(hit) = hit {
            fired.push(hit);
            held.clear();
        }
    }
    fired
}

#[test]
fn random_streams_in_any_order_fire_as_worked_out_by_hand() {
    let mut rng = vigil_testkit::Rng::new(0xC022E1);
    let (mut streams, mut fires) = (0, 0);
    for kind in ["event_count", "value_count", "temporal", "temporal_ordered"] {
        for _ in 0..150 {
            let seconds = 1 + rng.below(10) as i64;
            let span = 1_000 * seconds;
            let threshold = 2 + rng.below(4);
            let condition = match kind {
                "event_count" => format!("\n  condition:\n    gte: {threshold}"),
                "value_count" => format!("\n  condition:\n    field: V\n    gte: {threshold}"),
                _ => String::new(),
            };
            let rules = if kind.starts_with("temporal") {
                "[base, other]"
            } else {
                "[base]"
            };
            let correlation = format!(
                "title: C\nid: c\ncorrelation:\n  type: {kind}\n  rules: {rules}\n  group-by: [User]\n  timespan: {seconds}s{condition}\n"
            );
            // Times over a few timespans, sent in time order shaken by up to a timespan and a half.
            let mut events: Vec<(i64, i64, &str, &str)> = (0..2 + rng.below(14))
                .map(|_| {
                    let t = (rng.below(4 * span as usize) / 500 * 500) as i64;
                    let f = if kind.starts_with("temporal") && rng.below(2) == 0 {
                        "y"
                    } else {
                        "x"
                    };
                    let sent = t + rng.below(span as usize * 3 / 2) as i64;
                    (sent, t, f, ["h1", "h2", "h3", "h4", "h5"][rng.below(5)])
                })
                .collect();
            events.sort_by_key(|e| e.0);
            let stream: Vec<(i64, &str, &str)> = events.iter().map(|e| (e.1, e.2, e.3)).collect();
            let expected = fired_by_hand(kind, threshold, span, &stream);
            let fed: Vec<_> = stream
                .iter()
                .map(|&(t, f, v)| (t, f, "alice", Some(v)))
                .collect();
            let got: Vec<(f64, Vec<u64>)> = correlate(&correlation, &fed)
                .into_iter()
                .map(|m| (m.value, m.events))
                .collect();
            assert_eq!(got, expected, "{correlation}\n{stream:?}");
            streams += 1;
            fires += expected.len();
        }
    }
    assert!(fires > streams / 2, "{fires} fires over {streams} streams");
}

/// Random streams in time order, of two users, against correlations decided at the close of
/// their windows (`lt`, `lte`, `eq` on `event_count` and `value_count`), worked out by hand: each
/// user's events cut into windows that run a timespan (bounds included) from their first event,
/// the next window starting at the first event after it; a window that satisfies the condition
/// fires, with its events, once it has passed or the stream has ended.
#[test]
fn random_windows_decided_at_close_fire_as_worked_out_by_hand() {
    let mut rng = vigil_testkit::Rng::new(0xDEC1DE);
    let (mut streams, mut fires) = (0, 0);
    for _ in 0..400 {
        let seconds = 1 + rng.below(10) as i64;
        let span = 1_000 * seconds;
        let (op, bound) = (["lt", "lte", "eq"][rng.below(3)], 1 + rng.below(4));
        let distinct = rng.below(2) == 0;
        let (kind, field) = if distinct {
            ("value_count", "\n    field: V")
        } else {
            ("event_count", "")
        };
        let set = correlation_set(&format!(
            "title: C\nid: c\ncorrelation:\n  type: {kind}\n  rules: [base]\n  group-by: [User]\n  timespan: {seconds}s\n  condition:{field}\n    {op}: {bound}\n"
        ));
        let mut t = 0;
        let events: Vec<(i64, &str, &str)> = (0..1 + rng.below(20))
            .map(|_| {
                t += (rng.below(span as usize * 2) / 500 * 500) as i64;
                (
                    t,
                    ["alice", "bob"][rng.below(2)],
                    ["h1", "h2", "h3"][rng.below(3)],
                )
            })
            .collect();
        let mut correlator = Correlator::new(&set);
        let mut matcher = set.matcher();
        let mut out = Vec::new();
        for (tag, (t, user, value)) in (0u64..).zip(&events) {
            let e = MapEvent::new(&[("F", s("x")), ("User", s(user)), ("V", s(value))]);
            let matched = matcher.matches(&e).to_vec();
            correlator.feed(*t, &e, &matched, tag, &mut out);
        }
        correlator.finish(&mut out);
        for user in ["alice", "bob"] {
            let mine: Vec<(u64, i64, &str)> = (0u64..)
                .zip(&events)
                .filter(|(_, e)| e.1 == user)
                .map(|(tag, e)| (tag, e.0, e.2))
                .collect();
            let mut expected = Vec::new();
            let mut from = 0;
            while from < mine.len() {
                let end = mine[from].1 + span;
                let to = from + mine[from..].iter().take_while(|e| e.1 <= end).count();
                let window = &mine[from..to];
                let mut values: Vec<&str> = window.iter().map(|e| e.2).collect();
                values.sort_unstable();
                values.dedup();
                let value = if distinct { values.len() } else { window.len() };
                let holds = match op {
                    "lt" => value < bound,
                    "lte" => value <= bound,
                    _ => value == bound,
                };
                if holds {
                    expected.push((value as f64, window.iter().map(|e| e.0).collect::<Vec<_>>()));
                }
                from = to;
            }
            let got: Vec<(f64, Vec<u64>)> = out
                .iter()
                .filter(|m| m.group == [user])
                .map(|m| (m.value, m.events.clone()))
                .collect();
            assert_eq!(
                got, expected,
                "{kind} {op} {bound} in {seconds}s, {user}: {events:?}"
            );
            streams += 1;
            fires += expected.len();
        }
    }
    assert!(fires > streams / 2, "{fires} fires over {streams} streams");
}

/// An event that arrives behind the newest time (another tenant's, another group's) by more
/// than the timespan but within the lateness allowed still meets the events of its window:
/// pruning at the newest time alone had forgotten them, and the brute force never fired.
#[test]
fn a_late_event_within_the_allowed_lateness_meets_its_window() {
    let set = correlation_set(
        "title: C\nid: c\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [User]\n  timespan: 10s\n  condition:\n    gte: 3\n",
    );
    for (late_ms, fires) in [(0, false), (300_000, true)] {
        let mut state = crate::CorrelationState::new(&set);
        let mut out = Vec::new();
        feed_base(&set, &mut state, 0, "o2", &mut out);
        feed_base(&set, &mut state, 5_000, "o2", &mut out);
        // Another event moved the stream to 60 s.
        state.prune(&set, 60_000, late_ms, i64::MIN, &mut out);
        feed_base(&set, &mut state, 8_000, "o2", &mut out);
        assert_eq!(
            out.len() == 1,
            fires,
            "late by {late_ms} ms allowed: {out:?}"
        );
    }
}

#[test]
fn a_kept_state_correlates_across_calls_and_forgets_what_no_window_can_reach() {
    let set = correlation_set(
        "title: C\nid: c\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [User]\n  timespan: 10s\n  condition:\n    gte: 2\n",
    );
    let mut state = crate::CorrelationState::new(&set);
    let mut out = Vec::new();
    let mut feed = |state: &mut crate::CorrelationState, ts: i64, user: &str| {
        feed_base(&set, state, ts, user, &mut out);
    };
    // One event per user, then time passes: bob's is beyond reach at 20 s, carol's is not.
    feed(&mut state, 0, "bob");
    feed(&mut state, 15_000, "carol");
    assert_eq!(state.len(), 2);
    state.prune(&set, 20_000, 0, i64::MIN, &mut Vec::new());
    assert_eq!(state.len(), 1);
    feed(&mut state, 20_000, "bob");
    feed(&mut state, 21_000, "carol");
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].group, vec!["carol".to_string()]);
    // The group that fired is cleared; bob's second event waits for a partner.
    assert_eq!(state.len(), 1);
}

#[test]
fn a_reload_keeps_the_windows_of_correlations_that_read_events_the_same_way() {
    let set_with = |threshold: u32, other_span: &str| {
        let text = format!(
            "title: Base\nid: base\nname: base\nlogsource:\n  product: test\ndetection:\n  sel:\n    F: x\n  condition: sel\n---\ntitle: C\nid: c\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [User]\n  timespan: 1m\n  condition:\n    gte: {threshold}\n---\ntitle: D\nid: d\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [User]\n  timespan: {other_span}\n  condition:\n    gte: 2\n"
        );
        let (docs, _) = vigil_sigma::parse_str(&text, Path::new("c.yml"));
        let (set, diags) = compile(&docs, &CompileOptions::default());
        assert!(diags.is_empty(), "{diags:?}");
        set
    };
    let (old, new) = (set_with(3, "1m"), set_with(2, "5m"));
    let e = MapEvent::new(&[("F", s("x")), ("User", s("eve"))]);
    let matched = old.matcher().matches(&e).to_vec();
    let mut state = crate::CorrelationState::new(&old);
    let mut out = Vec::new();
    state.feed(&old, 0, &e, &matched, 1, &mut out);
    assert!(out.is_empty());
    // C's threshold changed (3 → 2): its window is kept, so the next event completes it. D's
    // timespan changed: it starts afresh and needs two new events.
    let mut state = state.carry_over(&old, &new);
    assert_eq!(state.len(), 1);
    let matched = new.matcher().matches(&e).to_vec();
    state.feed(&new, 1_000, &e, &matched, 2, &mut out);
    let fired: Vec<&str> = out.iter().map(|m| new.rule(m.rule).id()).collect();
    assert_eq!(fired, ["c"]);
    assert_eq!(out[0].events, [1, 2]);
}

#[test]
fn what_a_state_holds_names_the_groups_nearest_their_condition() {
    let set = correlation_set(
        "title: C\nid: c\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [User]\n  timespan: 10s\n  condition:\n    gte: 5\n",
    );
    let mut state = crate::CorrelationState::new(&set);
    let mut out = Vec::new();
    for (ts, user) in [
        (0, "bob"),
        (1_000, "alice"),
        (2_000, "alice"),
        (30_000, "bob"),
    ] {
        feed_base(&set, &mut state, ts, user, &mut out);
    }
    assert!(out.is_empty());
    let held = state.held(&set);
    assert_eq!(held.len(), 1);
    let c = &held[0];
    assert_eq!(set.rule(c.rule).id(), "c");
    assert_eq!((c.groups, c.events, c.oldest_ms), (2, 3, Some(1_000)));
    // Bob's first failure is out of the window of his latest one: his value is 1.
    let top: Vec<(String, f64)> = c.top.iter().map(|g| (g.group.join(","), g.value)).collect();
    assert_eq!(top, [("alice".to_string(), 2.0), ("bob".to_string(), 1.0)]);
    let shape = set.correlation_shape(c.rule).unwrap();
    assert_eq!(shape.group_text(&c.top[0].group), "User=alice");
}

#[test]
fn the_reach_of_correlations_is_their_longest_timespan_over_the_rules_they_count() {
    let text = "title: Base\nid: base\nname: base\nlogsource:\n  product: test\ndetection:\n  sel:\n    F: x\n  condition: sel\n---\ntitle: Other\nid: other\nname: other\nlogsource:\n  product: test\ndetection:\n  sel:\n    F: y\n  condition: sel\n---\ntitle: C\nid: c\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [User]\n  timespan: 1m\n  condition:\n    gte: 2\n---\ntitle: D\nid: d\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [User]\n  timespan: 2h\n  condition:\n    gte: 2\n";
    let (docs, _) = vigil_sigma::parse_str(text, Path::new("c.yml"));
    let (set, diags) = compile(&docs, &CompileOptions::default());
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(set.correlation_reach_ms(), Some(2 * 3600 * 1000));
    let id = |name: &str| RuleId(set.rules().iter().position(|r| r.id() == name).unwrap() as u32);
    assert!(set.feeds_correlation(id("base")));
    assert!(!set.feeds_correlation(id("other")));
    assert!(!set.feeds_correlation(id("c")));
    let (docs, _) = vigil_sigma::parse_str(
        "title: Base\nid: base\nlogsource:\n  product: test\ndetection:\n  sel:\n    F: x\n  condition: sel\n",
        Path::new("b.yml"),
    );
    let (plain, _) = compile(&docs, &CompileOptions::default());
    assert_eq!(plain.correlation_reach_ms(), None);
}

#[test]
fn a_sigma_1_aggregation_fires_as_its_correlation() {
    // Failed logons for more than two users from one workstation within a minute.
    let text = "title: Many Users From One Source\nid: agg\nlevel: medium\nlogsource:\n  product: test\ndetection:\n  sel:\n    F: x\n  timeframe: 1m\n  condition: sel | count(User) by Host > 2\n";
    let (docs, diags) = vigil_sigma::parse_str(text, Path::new("agg.yml"));
    assert!(diags.is_empty(), "{diags:?}");
    let (set, diags) = compile(&docs, &CompileOptions::default());
    assert!(diags.is_empty(), "{diags:?}");
    let search = set
        .rules()
        .iter()
        .position(|r| r.id() == "agg: search")
        .unwrap();
    assert!(
        !set.rules()[search].report,
        "its search reports nothing itself"
    );
    let mut m = set.matcher();
    let mut c = Correlator::new(&set);
    let mut out = Vec::new();
    let logons = [
        (0, "ws1", "alice"),
        (1_000, "ws1", "alice"),
        (2_000, "ws2", "bob"),
        (3_000, "ws1", "bob"),
        (70_000, "ws1", "carol"),
        (71_000, "ws1", "dave"),
        (72_000, "ws1", "erin"),
    ];
    for (i, (ts, host, user)) in logons.into_iter().enumerate() {
        let e = MapEvent::new(&[("F", s("x")), ("Host", s(host)), ("User", s(user))]);
        let matched: Vec<RuleId> = m.matches(&e).to_vec();
        c.feed(ts, &e, &matched, i as u64, &mut out);
    }
    // ws1 saw alice and bob in the first minute (two), then carol, dave and erin (three).
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(set.rule(out[0].rule).id(), "agg");
    assert_eq!(set.rule(out[0].rule).title(), "Many Users From One Source");
    assert_eq!(
        (out[0].group.as_slice(), out[0].value),
        (&["ws1".to_string()][..], 3.0)
    );
    assert_eq!(out[0].events, [4, 5, 6]);
}

#[test]
fn a_sigma_1_near_fires_when_every_search_matched_within_the_timeframe() {
    let text = "title: Recon Then Persistence\nid: near\nlevel: high\nlogsource:\n  product: test\ndetection:\n  recon:\n    F: x\n  persist:\n    F: y\n  timeframe: 1m\n  condition: recon | near persist\n";
    let (docs, diags) = vigil_sigma::parse_str(text, Path::new("near.yml"));
    assert!(diags.is_empty(), "{diags:?}");
    let (set, diags) = compile(&docs, &CompileOptions::default());
    assert!(diags.is_empty(), "{diags:?}");
    let run = |events: &[(i64, &str)]| {
        let mut m = set.matcher();
        let mut c = Correlator::new(&set);
        let mut out = Vec::new();
        for (i, (ts, f)) in events.iter().enumerate() {
            let e = MapEvent::new(&[("F", s(f))]);
            let matched: Vec<RuleId> = m.matches(&e).to_vec();
            c.feed(*ts, &e, &matched, i as u64, &mut out);
        }
        out
    };
    let out = run(&[(0, "x"), (30_000, "y")]);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(set.rule(out[0].rule).id(), "near");
    assert!(run(&[(0, "x"), (90_000, "y")]).is_empty(), "too far apart");
    assert!(
        run(&[(0, "x"), (1_000, "x")]).is_empty(),
        "persistence never came"
    );
}

#[test]
fn a_count_bounded_from_above_is_decided_when_its_window_has_passed() {
    // Fewer than three events of a user within 10 s: rare, not merely "the first one".
    let corr = "title: C\nid: c\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [User]\n  timespan: 10s\n  condition:\n    lt: 3\n";
    let set = correlation_set(corr);
    let c = set.rules().iter().position(|r| r.id() == "c").unwrap();
    let shape = set.correlation_shape(RuleId(c as u32)).unwrap();
    assert!(shape.decided_at_close);
    let mut state = crate::CorrelationState::new(&set);
    let mut out = Vec::new();
    // alice twice, bob three times, carol once: nothing is decided while the windows are open.
    for (ts, user) in [
        (0, "alice"),
        (1_000, "bob"),
        (2_000, "alice"),
        (3_000, "bob"),
        (4_000, "bob"),
        (5_000, "carol"),
    ] {
        feed_base(&set, &mut state, ts, user, &mut out);
    }
    assert!(out.is_empty(), "{out:?}");
    // alice again after her window: it is decided, two events, below three.
    feed_base(&set, &mut state, 30_000, "alice", &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].group, ["alice"]);
    assert_eq!((out[0].value, out[0].timestamp_ms), (2.0, 2_000));
    assert_eq!(out[0].events, [0, 2_000]);
    // The stream ends: bob's three do not fire, carol's one and alice's latest do.
    state.finish(&set, &mut out);
    let fired: Vec<(&str, f64)> = out[1..]
        .iter()
        .map(|m| (m.group[0].as_str(), m.value))
        .collect();
    assert_eq!(fired, [("carol", 1.0), ("alice", 1.0)]);
    // A count bounded from below still fires as the events come.
    let gte = "title: C\nid: c\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [User]\n  timespan: 10s\n  condition:\n    gte: 2\n";
    assert_eq!(
        correlate(gte, &[(0, "x", "a", None), (1_000, "x", "a", None)]).len(),
        1
    );
}

#[test]
fn a_window_decided_at_close_lapses_once_its_group_stays_quiet_a_timespan_after_it() {
    // A stream has no end: a group never seen again is decided when correlation time has
    // passed its window's end by a timespan (the wait for its next event).
    let corr = "title: C\nid: c\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [User]\n  timespan: 10s\n  condition:\n    lt: 3\n";
    let set = correlation_set(corr);
    assert_eq!(set.correlation_reach_ms(), Some(20_000));
    let mut state = crate::CorrelationState::new(&set);
    let mut out = Vec::new();
    for (ts, user) in [(0, "carol"), (1_000, "bob"), (2_000, "bob"), (3_000, "bob")] {
        feed_base(&set, &mut state, ts, user, &mut out);
    }
    // carol's window ends at 10 s; at 20 s it still waits for her next event.
    state.prune(&set, 20_000, 0, 3_000, &mut out);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(state.len(), 4);
    // Past 20 s it is decided: one event, below three. bob's (three events) waits to 21 s.
    state.prune(&set, 20_500, 0, 20_000, &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].group, ["carol"]);
    assert_eq!((out[0].value, out[0].timestamp_ms), (1.0, 0));
    assert_eq!(state.len(), 3);
    // bob's lapses too, without firing (three is not below three), and nothing is held.
    state.prune(&set, 60_000, 0, 20_500, &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(state.is_empty());
    // An event that comes when its window had lapsed already is let go undecided: others of
    // its group may have been let go before it came.
    feed_base(&set, &mut state, 5_000, "dave", &mut out);
    state.prune(&set, 60_000, 0, 60_000, &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(state.is_empty());
}

/// A correlation that counts a rare-event one is fed the windows decided with no event at
/// hand — by the stream's time passing them or by its end — with their group values, as it is
/// fed those its group's next event decides.
#[test]
fn windows_decided_at_close_feed_the_correlations_that_count_them() {
    let chain = "title: Rare\nid: rare\nname: rare\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [User]\n  timespan: 10s\n  condition:\n    lt: 2\n---\ntitle: Many rare\nid: many\ncorrelation:\n  type: event_count\n  rules: [rare]\n  group-by: [User]\n  timespan: 1m\n  condition:\n    gte: 2\n---\ntitle: Rare users\nid: users\ncorrelation:\n  type: value_count\n  rules: [rare]\n  timespan: 1m\n  condition:\n    field: User\n    gte: 2\n";
    let set = correlation_set(chain);
    let title = |m: &CorrelationMatch| set.rule(m.rule).title().to_owned();
    // alice alone twice (two rare windows), bob alone, carol three times in ten seconds.
    let events = [
        (0, "alice"),
        (1_000, "bob"),
        (2_000, "carol"),
        (3_000, "carol"),
        (4_000, "carol"),
        (30_000, "alice"),
    ];
    // By the stream's end: every window is decided then, and the chains with them.
    let mut state = crate::CorrelationState::new(&set);
    let mut out = Vec::new();
    for (ts, user) in events {
        feed_base(&set, &mut state, ts, user, &mut out);
    }
    state.finish(&set, &mut out);
    let fired: Vec<(String, Vec<String>, i64)> = out
        .iter()
        .map(|m| (title(m), m.group.clone(), m.timestamp_ms))
        .collect();
    let rare = |user: &str, ts: i64| ("Rare".to_owned(), vec![user.to_owned()], ts);
    assert!(fired.contains(&rare("alice", 0)), "{fired:?}");
    assert!(fired.contains(&rare("bob", 1_000)), "{fired:?}");
    assert!(fired.contains(&rare("alice", 30_000)), "{fired:?}");
    assert!(!fired.iter().any(|f| f.1 == ["carol"]), "{fired:?}");
    let many: Vec<_> = fired.iter().filter(|f| f.0 == "Many rare").collect();
    assert_eq!(many.len(), 1, "{fired:?}");
    assert_eq!(many[0].1, ["alice"]);
    // Rare users reads User from what it counts: alice and bob, two of them.
    let users: Vec<_> = out.iter().filter(|m| title(m) == "Rare users").collect();
    assert_eq!(users.len(), 1, "{fired:?}");
    assert_eq!(users[0].value, 2.0);
    // By the stream's time passing them: the same.
    let mut state = crate::CorrelationState::new(&set);
    let mut live = Vec::new();
    for (ts, user) in events {
        feed_base(&set, &mut state, ts, user, &mut live);
    }
    state.prune(&set, 100_000, 0, i64::MIN, &mut live);
    let mut by_time: Vec<(String, Vec<String>, i64)> = live
        .iter()
        .map(|m| (title(m), m.group.clone(), m.timestamp_ms))
        .collect();
    let mut at_end = fired.clone();
    by_time.sort();
    at_end.sort();
    assert_eq!(by_time, at_end);
}

#[test]
fn value_count_sum_avg_percentile() {
    let vc = "title: C\nid: c\ncorrelation:\n  type: value_count\n  rules: [base]\n  group-by: [User]\n  timespan: 1m\n  condition:\n    field: V\n    gte: 2\n";
    let out = correlate(
        vc,
        &[
            (0, "x", "a", Some("h1")),
            (1, "x", "a", Some("h1")),
            (2, "x", "a", Some("h2")),
        ],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].value, 2.0);
    let sum = "title: C\nid: c\ncorrelation:\n  type: value_sum\n  rules: [base]\n  group-by: [User]\n  timespan: 1m\n  condition:\n    field: V\n    gt: 100\n";
    assert!(correlate(sum, &[(0, "x", "a", Some("60")), (1, "x", "a", Some("40"))]).is_empty());
    assert_eq!(
        correlate(sum, &[(0, "x", "a", Some("60")), (1, "x", "a", Some("41"))]).len(),
        1
    );
    let avg = "title: C\nid: c\ncorrelation:\n  type: value_avg\n  rules: [base]\n  group-by: [User]\n  timespan: 1m\n  condition:\n    field: V\n    gte: 50\n";
    assert_eq!(correlate(avg, &[(0, "x", "a", Some("60"))]).len(), 1);
    let pct = "title: C\nid: c\ncorrelation:\n  type: value_percentile\n  rules: [base]\n  group-by: [User]\n  timespan: 1m\n  condition:\n    field: V\n    percentile: 50\n    lte: 1\n";
    assert_eq!(correlate(pct, &[(0, "x", "a", Some("1"))]).len(), 1);
    assert!(correlate(pct, &[(0, "x", "a", Some("5"))]).is_empty());
}

#[test]
fn value_count_over_several_fields_counts_their_combinations() {
    // The specification: "When you use multiple values in `field` they are linked by an AND."
    let set = correlation_set(
        "title: C\nid: c\ncorrelation:\n  type: value_count\n  rules: [base]\n  group-by: [User]\n  timespan: 1m\n  condition:\n    field:\n      - V\n      - W\n    gte: 3\n",
    );
    let shape = set
        .correlation_shape(RuleId(
            set.rules().iter().position(|r| r.id() == "c").unwrap() as u32,
        ))
        .unwrap();
    assert_eq!(shape.fields, ["V", "W"]);
    assert_eq!(shape.condition.to_string(), "V and W >= 3");
    let mut matcher = set.matcher();
    let mut correlator = Correlator::new(&set);
    let mut out = Vec::new();
    let rows: [(&str, Option<&str>); 6] = [
        ("a", Some("1")),
        ("a", Some("1")),
        ("a", Some("2")),
        // Without W: no combination, not counted.
        ("b", None),
        // "a" + "2" and "a2" + "" must not read alike.
        ("a2", Some("")),
        ("b", Some("1")),
    ];
    for (i, (v, w)) in (0u64..).zip(rows) {
        let mut fields = vec![("F", s("x")), ("User", s("alice")), ("V", s(v))];
        if let Some(w) = w {
            fields.push(("W", s(w)));
        }
        let e = MapEvent::new(&fields);
        let matched = matcher.matches(&e).to_vec();
        correlator.feed(i as i64 * 1_000, &e, &matched, i, &mut out);
        let expected = usize::from(i >= 4);
        assert_eq!(out.len(), expected, "after event {i}: {out:?}");
    }
    assert_eq!((out[0].value, &out[0].events[..]), (3.0, &[0, 1, 2, 4][..]));
}

#[test]
fn conditions_more_events_could_break_are_decided_over_the_whole_window() {
    let with = |kind: &str, condition: &str| {
        format!(
            "title: C\nid: c\ncorrelation:\n  type: {kind}\n  rules: [base, other]\n  group-by: [User]\n  timespan: 1m\n  condition:\n{condition}"
        )
    };
    let values =
        |vs: &[&'static str]| -> Vec<(i64, &'static str, &'static str, Option<&'static str>)> {
            (0i64..)
                .zip(vs)
                .map(|(i, v)| (i * 1_000, "x", "a", Some(*v)))
                .collect()
        };
    // (correlation, events, what the whole window gives, fires)
    let cases = [
        // Two events: not "neq 2", though one alone was.
        (
            with("event_count", "    neq: 2\n"),
            values(&["1", "1"]),
            2.0,
            false,
        ),
        (
            with("event_count", "    neq: 2\n"),
            values(&["1", "1", "1"]),
            3.0,
            true,
        ),
        (
            with("event_count", "    gt: 1\n    neq: 3\n"),
            values(&["1", "1", "1"]),
            3.0,
            false,
        ),
        // 60 alone averages over 50; the window's three average 26.7.
        (
            with("value_avg", "    field: V\n    gt: 50\n"),
            values(&["60", "10", "10"]),
            26.7,
            false,
        ),
        (
            with("value_avg", "    field: V\n    gt: 20\n"),
            values(&["60", "10", "10"]),
            26.7,
            true,
        ),
        (
            with(
                "value_percentile",
                "    field: V\n    percentile: 50\n    gt: 25\n",
            ),
            values(&["30", "1", "1"]),
            1.0,
            false,
        ),
        (
            with("value_sum", "    field: V\n    lte: 10\n"),
            values(&["1", "100"]),
            101.0,
            false,
        ),
        (
            with("value_sum", "    field: V\n    lte: 10\n"),
            values(&["1", "2"]),
            3.0,
            true,
        ),
        (
            with("temporal", "    eq: 1\n"),
            vec![(0, "x", "a", None), (1_000, "y", "a", None)],
            2.0,
            false,
        ),
        (
            with("temporal", "    eq: 1\n"),
            vec![(0, "x", "a", None), (1_000, "x", "a", None)],
            1.0,
            true,
        ),
    ];
    for (correlation, events, whole, fires) in cases {
        let out = correlate(&correlation, &events);
        let fired: Vec<f64> = out
            .iter()
            .map(|m| (m.value * 10.0).round() / 10.0)
            .collect();
        let expected: &[f64] = if fires { &[whole] } else { &[] };
        assert_eq!(fired, expected, "{correlation}{events:?}");
    }
}

#[test]
fn an_event_that_several_counted_rules_match_is_one_event() {
    // `base` matches F: x, `both` matches it too: one event, not two.
    let text = "title: Base\nid: base\nname: base\nlogsource:\n  product: test\ndetection:\n  sel:\n    F: x\n  condition: sel\n---\ntitle: Both\nid: both\nname: both\nlogsource:\n  product: test\ndetection:\n  sel:\n    F|startswith: x\n  condition: sel\n---\ntitle: C\nid: c\ncorrelation:\n  type: event_count\n  rules: [base, both]\n  group-by: [User]\n  timespan: 1m\n  condition:\n    gte: 2\n---\ntitle: S\nid: s\ncorrelation:\n  type: value_sum\n  rules: [base, both]\n  group-by: [User]\n  timespan: 1m\n  condition:\n    field: V\n    gte: 10\n---\ntitle: T\nid: t\ncorrelation:\n  type: temporal\n  rules: [base, both]\n  group-by: [User]\n  timespan: 1m\n";
    let (docs, diags) = vigil_sigma::parse_str(text, Path::new("c.yml"));
    assert!(diags.is_empty(), "{diags:?}");
    let (set, diags) = compile(&docs, &CompileOptions::default());
    assert!(diags.is_empty(), "{diags:?}");
    let mut matcher = set.matcher();
    let mut correlator = Correlator::new(&set);
    let mut out = Vec::new();
    let mut feed = |i: u64, f: &str, out: &mut Vec<CorrelationMatch>| {
        let e = MapEvent::new(&[("F", s(f)), ("User", s("alice")), ("V", s("6"))]);
        let matched = matcher.matches(&e).to_vec();
        correlator.feed(i as i64 * 1_000, &e, &matched, i, out);
    };
    feed(0, "x", &mut out);
    // The temporal type takes the event for each rule it matches, and names it once.
    let fired: Vec<(&str, &[u64])> = out
        .iter()
        .map(|m| (set.rule(m.rule).id(), &m.events[..]))
        .collect();
    assert_eq!(fired, [("t", &[0][..])], "one event counted twice");
    out.clear();
    feed(1, "xy", &mut out);
    let fired: Vec<(&str, f64, &[u64])> = out
        .iter()
        .map(|m| (set.rule(m.rule).id(), m.value, &m.events[..]))
        .collect();
    assert_eq!(fired, [("c", 2.0, &[0, 1][..]), ("s", 12.0, &[0, 1][..])]);
}

#[test]
fn value_percentile_without_a_percentile_is_the_share_of_a_value() {
    // The specification's example: a process name seen in at most 1 % of a computer's processes
    // (here 25 %, over four events of three names).
    let rare = "title: C\nid: c\ncorrelation:\n  type: value_percentile\n  rules: [base]\n  group-by: [User]\n  timespan: 1m\n  condition:\n    field: V\n    lte: 25\n";
    let names =
        |vs: &[&'static str]| -> Vec<(i64, &'static str, &'static str, Option<&'static str>)> {
            (0i64..)
                .zip(vs)
                .map(|(i, v)| (i * 1_000, "x", "a", Some(*v)))
                .collect()
        };
    let out = correlate(
        rare,
        &names(&["cmd.exe", "cmd.exe", "svchost.exe", "evil.exe"]),
    );
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].value, 25.0);
    assert!(correlate(rare, &names(&["cmd.exe", "cmd.exe", "evil.exe"])).is_empty());
}

#[test]
fn an_event_without_a_group_by_field_is_not_counted() {
    let set = correlation_set(
        "title: C\nid: c\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [User]\n  timespan: 1m\n  condition:\n    gte: 2\n",
    );
    let mut matcher = set.matcher();
    let mut correlator = Correlator::new(&set);
    let mut out = Vec::new();
    for (i, user) in (0u64..).zip([None, None, Some(""), Some("")]) {
        let mut fields = vec![("F", s("x"))];
        if let Some(user) = user {
            fields.push(("User", s(user)));
        }
        let e = MapEvent::new(&fields);
        let matched = matcher.matches(&e).to_vec();
        correlator.feed(i as i64 * 1_000, &e, &matched, i, &mut out);
    }
    // The two without User make no group; the two with an empty one are a group.
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].events, [2, 3]);
}

#[test]
fn temporal_and_ordered() {
    let t = "title: C\nid: c\ncorrelation:\n  type: temporal\n  rules: [base, other]\n  group-by: [User]\n  timespan: 10s\n";
    assert_eq!(
        correlate(t, &[(0, "y", "a", None), (5_000, "x", "a", None)]).len(),
        1
    );
    assert!(correlate(t, &[(0, "y", "a", None), (5_000, "x", "b", None)]).is_empty());
    assert!(correlate(t, &[(0, "y", "a", None), (20_000, "x", "a", None)]).is_empty());
    let o = "title: C\nid: c\ncorrelation:\n  type: temporal_ordered\n  rules: [base, other]\n  group-by: [User]\n  timespan: 10s\n";
    assert!(correlate(o, &[(0, "y", "a", None), (5_000, "x", "a", None)]).is_empty());
    assert_eq!(
        correlate(o, &[(0, "x", "a", None), (5_000, "y", "a", None)]).len(),
        1
    );
}

/// With a condition, `temporal_ordered` counts the most rules whose events came in the order
/// listed, whichever rules they are: A then C, or B then C, of A, B, C is two.
#[test]
fn ordered_counts_the_rules_that_came_in_order_wherever_they_start() {
    let recon = |name: &str, cmd: &str| {
        format!(
            "title: {name}\nid: {name}\nname: {name}\nlogsource: {{product: test}}\ndetection:\n  sel: {{cmd: {cmd}}}\n  condition: sel\n---\n"
        )
    };
    let correlation = |condition: &str| {
        format!(
            "{}{}{}title: Recon\nid: recon\ncorrelation:\n  type: temporal_ordered\n  rules: [recon_a, recon_b, recon_c]\n  group-by: [host]\n  timespan: 1m\n{condition}",
            recon("recon_a", "a"),
            recon("recon_b", "b"),
            recon("recon_c", "c")
        )
    };
    let run = |text: &str, events: &[(i64, &str, &str)]| -> Vec<(Vec<String>, f64, Vec<u64>)> {
        let (docs, diags) = vigil_sigma::parse_str(text, Path::new("r.yml"));
        assert!(diags.is_empty(), "{diags:?}");
        let (set, diags) = compile(&docs, &CompileOptions::default());
        assert!(diags.is_empty(), "{diags:?}");
        let mut matcher = set.matcher();
        let mut correlator = Correlator::new(&set);
        let mut out = Vec::new();
        for (i, (ts, host, cmd)) in events.iter().enumerate() {
            let e = MapEvent::new(&[("host", s(host)), ("cmd", s(cmd))]);
            let matched = matcher.matches(&e).to_vec();
            correlator.feed(*ts, &e, &matched, i as u64, &mut out);
        }
        correlator.finish(&mut out);
        out.into_iter()
            .map(|m| (m.group, m.value, m.events))
            .collect()
    };
    let events = [
        (0, "h2", "a"),
        (10_000, "h2", "c"),
        (10_000, "hx", "b"),
        (20_000, "hx", "c"),
        (30_000, "hy", "c"),
        (40_000, "hy", "a"),
    ];
    let gte2 = correlation("  condition:\n    gte: 2\n");
    assert_eq!(
        run(&gte2, &events),
        [
            (vec!["h2".to_owned()], 2.0, vec![0, 1]),
            (vec!["hx".to_owned()], 2.0, vec![2, 3])
        ],
        "C then A is not in order"
    );
    // Without a condition every rule, in order.
    let all = correlation("");
    assert!(run(&all, &events).is_empty());
    let in_order = [
        (0, "h", "a"),
        (1_000, "h", "c"),
        (2_000, "h", "b"),
        (3_000, "h", "c"),
    ];
    assert_eq!(
        run(&all, &in_order),
        [(vec!["h".to_owned()], 3.0, vec![0, 1, 2, 3])]
    );
    // Out of the timespan, nothing.
    assert!(run(&gte2, &[(0, "h", "a"), (61_000, "h", "b")]).is_empty());
}

/// The specification's "Multiple Failed Logins Followed by Successful Login" (with `gte: 3`):
/// the outer match carries the failed logins the inner one counted besides the success, and
/// is at the success, the latest of its events, whichever arrived last.
#[test]
fn a_chained_match_carries_the_events_of_the_match_it_counted() {
    let text = "title: Failed then success\nid: outer\ncorrelation:\n  type: temporal_ordered\n  rules:\n    - multiple_failed_login\n    - successful_login\n  group-by:\n    - User\n  timespan: 10m\n---\ntitle: Multiple failed logons\nid: inner\nname: multiple_failed_login\ncorrelation:\n  type: event_count\n  rules:\n    - failed_login\n  group-by:\n    - User\n  timespan: 10m\n  condition:\n    gte: 3\n---\ntitle: Single failed login\nid: failed\nname: failed_login\nlogsource: {product: test}\ndetection:\n  selection:\n    EventID: [529, 4625]\n  condition: selection\n---\ntitle: Successful login\nid: success\nname: successful_login\nlogsource: {product: test}\ndetection:\n  selection:\n    EventID: [528, 4624]\n  condition: selection\n";
    let (docs, diags) = vigil_sigma::parse_str(text, Path::new("c.yml"));
    assert!(diags.is_empty(), "{diags:?}");
    let (set, diags) = compile(&docs, &CompileOptions::default());
    assert!(diags.is_empty(), "{diags:?}");
    // (time, event id), tagged with their time.
    let failed = [(1_000, 4625), (2_000, 4625), (3_000, 4625)];
    let success = (4_000, 4624);
    let run = |events: &[(i64, i64)]| {
        let mut matcher = set.matcher();
        let mut state = crate::CorrelationState::new(&set);
        let mut out = Vec::new();
        for (ts, id) in events {
            let e = MapEvent::new(&[("EventID", FieldValue::Int(*id)), ("User", s("bob"))]);
            let matched = matcher.matches(&e).to_vec();
            state.feed(&set, *ts, &e, &matched, *ts as u64, &mut out);
        }
        out.into_iter()
            .filter(|m| set.rule(m.rule).id() == "outer")
            .map(|m| (m.timestamp_ms, m.events))
            .collect::<Vec<_>>()
    };
    let expected = [(4_000, vec![1_000, 2_000, 3_000, 4_000])];
    let in_order = [failed[0], failed[1], failed[2], success];
    assert_eq!(run(&in_order), expected);
    // The success arrives before the failure that completes the count.
    let success_first = [failed[0], failed[1], success, failed[2]];
    assert_eq!(run(&success_first), expected);
}

#[test]
fn aliases_and_generate() {
    let text = "title: A\nname: a\nlogsource: {product: test}\ndetection:\n  s: {F: x}\n  condition: s\n---\ntitle: B\nname: b\nlogsource: {product: test}\ndetection:\n  s: {F: y}\n  condition: s\n---\ntitle: C\nid: c\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  group-by: [ip]\n  timespan: 10s\n  aliases:\n    ip:\n      a: Src\n      b: Dst\n";
    let (docs, _) = vigil_sigma::parse_str(text, Path::new("c.yml"));
    let (set, diags) = compile(&docs, &CompileOptions::default());
    assert!(diags.is_empty(), "{diags:?}");
    assert!(!set.rules()[0].report, "generate defaults to false");
    let mut m = set.matcher();
    let mut c = Correlator::new(&set);
    let mut out = Vec::new();
    let e1 = MapEvent::new(&[("F", s("x")), ("Src", s("1.2.3.4"))]);
    let e2 = MapEvent::new(&[("F", s("y")), ("Dst", s("1.2.3.4"))]);
    let r1 = m.matches(&e1).to_vec();
    c.feed(0, &e1, &r1, 1, &mut out);
    let r2 = m.matches(&e2).to_vec();
    c.feed(1_000, &e2, &r2, 2, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].group, vec!["1.2.3.4".to_string()]);
}

#[test]
fn unknown_correlation_reference_is_a_diagnostic() {
    let text = "title: Base\nid: base\nlogsource: {product: test}\ndetection:\n  sel: {F: x}\n  condition: sel\n---\ntitle: C\nid: c\ncorrelation:\n  type: event_count\n  rules:\n    - base\n    - missing\n  group-by: [U]\n  timespan: 1m\n  condition: {gte: 1}\n";
    let (docs, _) = vigil_sigma::parse_str(text, Path::new("c.yml"));
    let (set, diags) = compile(&docs, &CompileOptions::default());
    assert_eq!(set.correlation_count(), 0);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(diags[0].message.contains("'missing'"));
    // On the entry of `rules` that names it, as other problems are on their key.
    assert_eq!(diags[0].line, 14, "{diags:?}");
}

#[test]
fn a_correlation_may_count_one_written_after_it_but_not_one_that_counts_it_back() {
    // The specification's chain: the outer correlation first, the one it counts after it.
    let text = "title: Base\nid: base\nname: base\nlogsource:\n  product: test\ndetection:\n  sel:\n    F: x\n  condition: sel\n---\ntitle: Outer\nid: outer\ncorrelation:\n  type: event_count\n  rules: [inner]\n  group-by: [User]\n  timespan: 1m\n  condition:\n    gte: 2\n---\ntitle: Inner\nid: inner\nname: inner\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [User]\n  timespan: 1m\n  condition:\n    gte: 2\n";
    let (docs, diags) = vigil_sigma::parse_str(text, Path::new("c.yml"));
    assert!(diags.is_empty(), "{diags:?}");
    let (set, diags) = compile(&docs, &CompileOptions::default());
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(set.correlation_count(), 2);
    let mut matcher = set.matcher();
    let mut correlator = Correlator::new(&set);
    let mut out = Vec::new();
    for i in 0..4u64 {
        let e = MapEvent::new(&[("F", s("x")), ("User", s("alice"))]);
        let matched = matcher.matches(&e).to_vec();
        correlator.feed(i as i64 * 1_000, &e, &matched, i, &mut out);
    }
    let fired: Vec<&str> = out.iter().map(|m| set.rule(m.rule).id()).collect();
    assert_eq!(fired, ["inner", "inner", "outer"]);

    let cycle = "title: A\nid: a\ncorrelation:\n  type: event_count\n  rules: [b]\n  group-by: [U]\n  timespan: 1m\n  condition: {gte: 1}\n---\ntitle: B\nid: b\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [U]\n  timespan: 1m\n  condition: {gte: 1}\n";
    let (docs, _) = vigil_sigma::parse_str(cycle, Path::new("c.yml"));
    let (set, diags) = compile(&docs, &CompileOptions::default());
    assert_eq!(set.correlation_count(), 0);
    assert_eq!(diags.len(), 2, "{diags:?}");
    assert!(
        diags.iter().all(|d| d.message.contains("cycle")),
        "{diags:?}"
    );
    let lines: Vec<usize> = diags.iter().map(|d| d.line).collect();
    assert_eq!(lines, [5, 14], "the line of each `rules: [...]`");
}

#[test]
fn a_correlation_refuses_a_name_that_several_rules_carry() {
    let text = "title: A\nid: a\nname: dup\nlogsource:\n  product: test\ndetection:\n  sel:\n    F: x\n  condition: sel\n---\ntitle: B\nid: b\nname: dup\nlogsource:\n  product: test\ndetection:\n  sel:\n    F: y\n  condition: sel\n---\ntitle: C\nid: c\ncorrelation:\n  type: event_count\n  rules: [dup]\n  group-by: [U]\n  timespan: 1m\n  condition: {gte: 1}\n---\ntitle: D\nid: d\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [U]\n  timespan: 1m\n  condition: {gte: 1}\n";
    let (docs, _) = vigil_sigma::parse_str(text, Path::new("c.yml"));
    let (set, diags) = compile(&docs, &CompileOptions::default());
    assert_eq!(set.correlation_count(), 1, "the one by id compiles");
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(diags[0].message.contains("'dup'") && diags[0].message.contains("unique"));
    assert_eq!(diags[0].line, 25, "{diags:?}");
}

/// A name a correlation carries too is known to be shared before any correlation is compiled:
/// the correlation that refers to it is refused whichever comes first, naming both places.
#[test]
fn a_name_shared_with_a_correlation_is_refused_in_any_order() {
    let det = "title: Det one\nid: d1\nname: dupe\nlogsource: {product: test}\ndetection:\n  sel: {F: x}\n  condition: sel\n";
    let uses = "title: Uses dupe\nid: c3\ncorrelation:\n  type: event_count\n  rules: [dupe]\n  timespan: 10m\n  condition: {gte: 1}\n";
    let named = "title: Corr named dupe\nid: c2\nname: dupe\ncorrelation:\n  type: event_count\n  rules: [d1]\n  timespan: 10m\n  condition: {gte: 1}\n";
    for order in [[det, uses, named], [det, named, uses], [uses, named, det]] {
        let text = order.join("---\n");
        let (docs, diags) = vigil_sigma::parse_str(&text, Path::new("r.yml"));
        assert!(diags.is_empty(), "{diags:?}");
        let line = |title: &str| {
            docs.iter()
                .find(|d| d.meta().title == title)
                .unwrap()
                .meta()
                .line
        };
        let (set, diags) = compile(&docs, &CompileOptions::default());
        let ids: Vec<&str> = set.rules().iter().map(|r| r.id()).collect();
        assert_eq!(ids, ["d1", "c2"], "{order:?}");
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].rule.as_deref(), Some("c3"));
        let both = format!(
            "r.yml:{}, r.yml:{}",
            line("Det one"),
            line("Corr named dupe")
        );
        let both_other = format!(
            "r.yml:{}, r.yml:{}",
            line("Corr named dupe"),
            line("Det one")
        );
        assert!(
            diags[0].message.contains("'dupe'")
                && (diags[0].message.contains(&both) || diags[0].message.contains(&both_other)),
            "{}",
            diags[0].message
        );
    }
}

#[test]
fn sets_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<crate::CompiledRuleSet>();
}

/// The whole SigmaHQ corpus compiles; every rejection is listed with its reason.
#[test]
fn sigmahq_corpus_compiles() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sigma");
    let mut docs = Vec::new();
    for dir in [
        "rules",
        "rules-emerging-threats",
        "rules-threat-hunting",
        "rules-compliance",
        "rules-dfir",
        "rules-placeholder",
    ] {
        let (d, diags) = vigil_sigma::load_dir(&data.join(dir)).unwrap();
        assert!(diags.is_empty(), "{diags:?}");
        docs.extend(d);
    }
    let (set, diags) = compile(&docs, &CompileOptions::default());
    for d in &diags {
        eprintln!("{d}");
    }
    assert!(diags.is_empty(), "{} rules rejected", diags.len());
    assert_eq!(set.detection_count(), docs.len());
}

#[test]
fn required_fields_never_skip_a_rule_that_could_match() {
    // `A: null` and `exists: false` hold on an absent field: only B is required here.
    let r = rule("  sel:\n    A: null\n    C|exists: false\n    B: x\n  condition: sel\n");
    check_semantics(
        &r,
        &[
            (&MapEvent::new(&[("B", s("x"))]), true),
            (&MapEvent::new(&[("A", s("y")), ("B", s("x"))]), false),
            (&MapEvent::new(&[("D", s("x"))]), false),
        ],
    );
    // Either part of an `or` may match alone: neither field is required.
    let r = rule("  a:\n    A|re: '^x'\n  b:\n    B|endswith: y\n  condition: a or b\n");
    check_semantics(
        &r,
        &[
            (&MapEvent::new(&[("B", s("zy"))]), true),
            (&MapEvent::new(&[("A", s("xz"))]), true),
            (&MapEvent::new(&[("C", s("xy"))]), false),
        ],
    );
    // `not` needs nothing: an event without the field matches.
    let r = rule("  sel:\n    A: x\n  condition: not sel\n");
    check_semantics(&r, &[(&MapEvent::new(&[("B", s("x"))]), true)]);
    // ... except the fields whose absence makes what it negates true: `not A: null` needs A.
    let r = rule(concat!(
        "  known:\n    A|endswith: '.exe'\n",
        "  filter_null:\n    A: null\n",
        "  filter_empty:\n    A: ''\n",
        "  condition: not known and not 1 of filter_*\n",
    ));
    check_semantics(
        &r,
        &[
            (&MapEvent::new(&[("A", s("x.dll"))]), true),
            (&MapEvent::new(&[("A", s("x.exe"))]), false),
            (&MapEvent::new(&[("A", s(""))]), false),
            (&MapEvent::new(&[("B", s("x.dll"))]), false),
        ],
    );
    // `not (A: null and B: null)` holds when either is present: neither is required alone.
    let r = rule("  both:\n    A: null\n    B: null\n  condition: not both\n");
    check_semantics(
        &r,
        &[
            (&MapEvent::new(&[("A", s("x"))]), true),
            (&MapEvent::new(&[("B", s("x"))]), true),
            (&MapEvent::new(&[("C", s("x"))]), false),
        ],
    );
    // `not (A|exists: false or B: x)` needs A.
    let r = rule("  a:\n    A|exists: false\n  b:\n    B: x\n  condition: not (a or b)\n");
    check_semantics(
        &r,
        &[
            (&MapEvent::new(&[("A", s("1"))]), true),
            (&MapEvent::new(&[("A", s("1")), ("B", s("x"))]), false),
            (&MapEvent::new(&[("B", s("y"))]), false),
        ],
    );
}

#[test]
fn regex_needles_gate_evaluation_without_losing_matches() {
    // Only values holding `werfaultsecure.exe` reach the regex; any case, long or short.
    let r = rule(
        "  a:\n    CommandLine|re: '(?i)\\.exe[\"'']?\\s+[^\"]{0,64}werfaultsecure\\.exe[\"'']?\\s+\\d{2,10}'\n  condition: a\n",
    );
    check(
        &r,
        &[
            (
                &MapEvent::new(&[(
                    "CommandLine",
                    s("\"C:\\t\\wsass.exe\" C:\\Windows\\WerFaultSecure.exe 668"),
                )]),
                true,
            ),
            (
                &MapEvent::new(&[("CommandLine", s("wsass.exe werfault.exe 668"))]),
                false,
            ),
        ],
    );
    // Unicode case folding equates `ſ` with `s`: a value that is not ASCII is always tried.
    let r = rule("  a:\n    CommandLine|re|i: 'sekurlsa::logonpasswords'\n  condition: a\n");
    check(
        &r,
        &[
            (
                &MapEvent::new(&[("CommandLine", s("mimikatz ſekurlſa::logonpasswords"))]),
                true,
            ),
            (
                &MapEvent::new(&[("CommandLine", s("mimikatz SEKURLSA::LogonPasswords"))]),
                true,
            ),
            (
                &MapEvent::new(&[("CommandLine", s("mimikatz kerberos::list"))]),
                false,
            ),
        ],
    );
    // Wildcards inside a value: the longest literal run is the needle.
    let r = rule("  a:\n    CommandLine|contains: 'ipconfig*|*find'\n  condition: a\n");
    check(
        &r,
        &[
            (
                &MapEvent::new(&[("CommandLine", s("IPCONFIG /all | FIND \"IPv4\""))]),
                true,
            ),
            (
                &MapEvent::new(&[("CommandLine", s("ipconfig /all"))]),
                false,
            ),
        ],
    );
}

#[test]
fn every_part_of_an_and_must_have_its_needle() {
    // The rule is evaluated only when both fields hold one of their needles; each alone does
    // not match, both do, and a filter on a third field still applies.
    let r = rule(concat!(
        "  img:\n    Image|contains: '\\Windows\\'\n",
        "  cli:\n    CommandLine|contains:\n      - '\\..\\Windows\\'\n      - '\\..\\..\\'\n",
        "  filter:\n    ParentImage|endswith: '\\ok.exe'\n",
        "  condition: img and cli and not filter\n",
    ));
    let event = |image: &str, cli: &str, parent: &str| {
        MapEvent::new(&[
            ("Image", s(image)),
            ("CommandLine", s(cli)),
            ("ParentImage", s(parent)),
        ])
    };
    check(
        &r,
        &[
            (&event("C:\\Windows\\a.exe", "x \\..\\..\\y", "p.exe"), true),
            (&event("C:\\Tools\\a.exe", "x \\..\\..\\y", "p.exe"), false),
            (&event("C:\\Windows\\a.exe", "x y", "p.exe"), false),
            (
                &event("C:\\Windows\\a.exe", "x \\..\\windows\\y", "c:\\ok.exe"),
                false,
            ),
        ],
    );
}
