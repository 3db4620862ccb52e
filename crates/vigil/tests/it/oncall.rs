//! `vigil apply -f org.yaml` and `vigil oncall` against a real server: a YAML organisation is
//! validated, applied idempotently, and answers who is on call and where coverage has a gap.

use crate::support::{Server, admin_token, ok, run};

const ORG: &str = "\
people:
  - name: alice
    contacts: [{kind: email, address: alice@example.com}]
  - name: bob
    contacts: [{kind: phone, address: '+1 212 555 0100'}, {kind: webhook, address: 'https://hooks.example.com/bob'}]
teams:
  - name: secops
    members: [alice, bob]
    manager: alice
    schedules:
      - name: primary
        time_zone: America/New_York
        layers:
          - name: business-hours
            people: [alice, bob]
            rotation: daily
            start: 2026-11-30T09:00
            restrictions:
              - {days: [mon, tue, wed, thu, fri], from: '09:00', to: '17:00'}
services:
  - {name: payments-api, team: secops, criticality: critical}
alerting:
  - {rule_id: 2617e7ed-adb7-40ba-b0f3-8f9945fe6c09, enabled: false}
";

#[test]
fn an_org_file_is_applied_once_and_answers_who_is_on_call_and_where_the_gaps_are() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("org.yaml");
    std::fs::write(&file, ORG).unwrap();
    let f = file.to_str().unwrap();
    let dry = ok(run(&["apply", "-f", f, "--dry-run"]));
    assert!(
        dry.contains("valid: 2 people, 1 team (1 schedule), 1 service, 1 rule turned off"),
        "{dry}"
    );

    let token = admin_token(&data, "admin", "ops");
    let server = Server::start(&data);
    let applied = ok(server.cli(&token, &["apply", "-f", f]));
    assert!(
        applied.contains("applied: version 1 (2 people, 1 team, 1 service, 1 rule turned off)"),
        "{applied}"
    );
    let again = ok(server.cli(&token, &["apply", "-f", f]));
    assert!(again.contains("unchanged: version 1"), "{again}");

    // Tuesday 1 December 2026, 10:00 in New York (15:00Z): the second day of the rotation.
    let who = ok(server.cli(
        &token,
        &[
            "oncall",
            "who",
            "--service",
            "payments-api",
            "--at",
            "2026-12-01T15:00:00Z",
            "--json",
        ],
    ));
    let who: serde_json::Value = serde_json::from_str(&who).unwrap();
    assert_eq!(who["team"], "secops");
    assert_eq!(who["schedules"][0]["person"], "bob");
    assert_eq!(who["schedules"][0]["contacts"][1]["kind"], "webhook");
    // The table shows every contact: all are paged at once, and a phone alone is never paged.
    let table = ok(server.cli(
        &token,
        &[
            "oncall",
            "who",
            "--team",
            "secops",
            "--at",
            "2026-12-01T15:00:00Z",
        ],
    ));
    assert!(
        table.contains("phone +1 212 555 0100")
            && table.contains("webhook https://hooks.example.com/"),
        "{table}"
    );
    let night = ok(server.cli(
        &token,
        &[
            "oncall",
            "who",
            "--team",
            "secops",
            "--at",
            "2026-12-01T03:00:00Z",
        ],
    ));
    assert!(night.contains("nobody"), "{night}");

    // Business hours only: nights and the weekend are gaps, found with their exact bounds.
    let report = ok(server.cli(
        &token,
        &[
            "oncall",
            "coverage",
            "--team",
            "secops",
            "--from",
            "2026-12-01T00:00:00Z",
            "--days",
            "1",
            "--json",
        ],
    ));
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let gaps: Vec<(&str, &str)> = report["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["start"].as_str().unwrap(), g["end"].as_str().unwrap()))
        .collect();
    assert_eq!(
        gaps,
        [
            ("2026-12-01T00:00:00Z", "2026-12-01T14:00:00Z"),
            ("2026-12-01T22:00:00Z", "2026-12-02T00:00:00Z")
        ]
    );
    let table = ok(server.cli(
        &token,
        &[
            "oncall",
            "coverage",
            "--from",
            "2026-12-01T00:00:00Z",
            "--days",
            "7",
        ],
    ));
    assert!(table.contains(" gaps from 2026-12-01"), "{table}");

    // A broken file: every problem with its field, nothing applied, exit 1.
    std::fs::write(
        &file,
        ORG.replace(
            "people: [alice, bob]\n            rotation",
            "people: [alice, zed]\n            rotation",
        )
        .replace("team: secops, criticality", "team: ghosts, criticality"),
    )
    .unwrap();
    let out = server.cli(&token, &["apply", "-f", f]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("teams[0].schedules[0].layers[0].people[1]")
            && err.contains("services[0].team"),
        "{err}"
    );
    // The version in force is still the first: the original file applies as unchanged.
    std::fs::write(&file, ORG).unwrap();
    let still = ok(server.cli(&token, &["apply", "-f", f]));
    assert!(still.contains("unchanged: version 1"), "{still}");
}

/// The YAML blocks of a document that start with `people:` (whole organisation documents).
fn org_examples(doc: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(doc);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start().starts_with("```")) {
            (Some(block), true) => {
                if block.starts_with("people:") {
                    blocks.push(block.clone());
                }
                current = None;
            }
            (None, true) => current = Some(String::new()),
            (Some(block), false) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, false) => {}
        }
    }
    // The README writes its example through a shell here-document.
    for part in text.split("<<'YAML'\n").skip(1) {
        if let Some((yaml, _)) = part.split_once("\nYAML") {
            blocks.push(format!("{yaml}\n"));
        }
    }
    blocks
}

#[test]
fn the_documented_organisation_examples_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for doc in ["docs/org.md", "README.md"] {
        for (i, yaml) in org_examples(doc).into_iter().enumerate() {
            let file = dir.path().join(format!("{i}.yaml"));
            std::fs::write(&file, &yaml).unwrap();
            let out = run(&["apply", "-f", file.to_str().unwrap(), "--dry-run"]);
            assert!(
                out.status.success(),
                "the example in {doc} is invalid:\n{}\n{yaml}",
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert_eq!(
        checked, 2,
        "one example in docs/org.md and one in the README"
    );
}

#[test]
fn a_dry_run_with_rules_counts_what_each_service_s_logs_meet() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("web.yml"),
        "title: T\nid: t\nlogsource:\n  category: webserver\ndetection:\n  sel:\n    cs-method: TRACE\n  condition: sel\n",
    )
    .unwrap();
    let file = dir.path().join("org.yaml");
    std::fs::write(
        &file,
        "teams: [{name: web}]\nservices:\n  - {name: shop, team: web, logsources: [{category: webserver}]}\n  - {name: blog, team: web, logsources: [{category: webservers}]}\n",
    )
    .unwrap();
    let out = run(&[
        "apply",
        "-f",
        file.to_str().unwrap(),
        "--dry-run",
        "--rules",
        rules.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("shop: 1 rule written for category=webserver logs"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "warning: services[1].logsources: no loaded rule is written for category=webservers"
        ),
        "{stderr}"
    );
}

/// A service declared `product: kubernetes, service: audit` meets 6 of SigmaHQ's 16 Kubernetes
/// audit rules: the dry run counts the 6 and warns of the 10 that also name a category.
#[test]
fn a_dry_run_warns_of_rules_naming_a_part_a_service_does_not_declare() {
    let kubernetes = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/sigma/rules/application/kubernetes/audit");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("org.yaml");
    let apply = |logsource: &str| {
        std::fs::write(
            &file,
            format!("teams: [{{name: k8s}}]\nservices:\n  - {{name: kube, team: k8s, logsources: [{logsource}]}}\n"),
        )
        .unwrap();
        let out = crate::support::vigil()
            .args(["apply", "--dry-run", "-f"])
            .arg(&file)
            .arg("--rules")
            .arg(&kubernetes)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let stderr = apply("{product: kubernetes, service: audit}");
    assert!(
        stderr.contains("kube: 6 rules written for product=kubernetes,service=audit logs"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "warning: services[0].logsources: 10 rules for product=kubernetes,service=audit also name category=application; declare category=application too to run them"
        ),
        "{stderr}"
    );
    let stderr = apply("{product: kubernetes, service: audit, category: application}");
    assert!(stderr.contains("kube: 16 rules written for"), "{stderr}");
    assert!(!stderr.contains("also name"), "{stderr}");
}

/// A file with bad times, a bad rotation and names given twice: every problem at once, each
/// with its field and what to write (no date library's message, no unit a rotation refuses).
#[test]
fn a_dry_run_reports_every_time_and_name_problem_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("org.yaml");
    std::fs::write(
        &file,
        "people:
  - {name: alice, contacts: [{kind: email, address: alice@example.com}]}
  - {name: bob, contacts: [{kind: email, address: bob@example.com}]}
teams:
  - name: sec
    members: [alice, alice, zed]
    schedules:
      - name: primary
        time_zone: Europe/Londn
        layers:
          - {name: x, people: [alice], rotation: 25x, start: 2026-01-05T25:00}
          - {name: x, people: [bob], rotation: daily, start: 2026-01-05T09:00Z}
        overrides:
          - {person: alice, start: 2026-02-01T09:00Z, end: soon}
    escalation:
      levels:
        - {after: '0', notify: ['schedule:primary', 'schedule:primary']}
",
    )
    .unwrap();
    let out = run(&["apply", "-f", file.to_str().unwrap(), "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let fields: Vec<&str> = err
        .lines()
        .skip(1)
        .filter_map(|l| l.trim().split_once(": ").map(|(f, _)| f))
        .collect();
    assert_eq!(
        fields,
        [
            "teams[0].members[1]",
            "teams[0].members[2]",
            "teams[0].schedules[0].time_zone",
            "teams[0].schedules[0].layers[0].rotation",
            "teams[0].schedules[0].layers[0].start",
            "teams[0].schedules[0].layers[1].name",
            "teams[0].schedules[0].overrides[0].end",
            "teams[0].escalation.levels[0].notify[1]",
        ],
        "{err}"
    );
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("jiff") && !err.contains("year"), "{err}");
    assert!(
        err.contains("layers[0].start: cannot read time \"2026-01-05T25:00\""),
        "{err}"
    );
}

/// A layer's start written with a zone is kept: applied over the same file without the zone
/// it is a change, and the handoff is at 09:00 in that zone.
#[test]
fn a_layer_start_in_another_zone_is_applied_and_followed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "ops");
    let server = Server::start(&data);
    let org = |start: &str| {
        format!(
            "people:
  - {{name: alice, contacts: [{{kind: email, address: alice@example.com}}]}}
  - {{name: bob, contacts: [{{kind: email, address: bob@example.com}}]}}
teams:
  - name: sec
    members: [alice, bob]
    schedules:
      - name: primary
        time_zone: Europe/London
        layers: [{{name: ny, people: [alice, bob], rotation: daily, start: '{start}'}}]
"
        )
    };
    let file = dir.path().join("org.yaml");
    let f = file.to_str().unwrap();
    std::fs::write(&file, org("2026-01-05T09:00")).unwrap();
    assert!(ok(server.cli(&token, &["apply", "-f", f])).contains("applied: version 1"));
    std::fs::write(&file, org("2026-01-05T09:00[America/New_York]")).unwrap();
    assert!(ok(server.cli(&token, &["apply", "-f", f])).contains("applied: version 2"));
    std::fs::write(&file, org("2026-01-05T09:00-05:00")).unwrap();
    assert!(ok(server.cli(&token, &["apply", "-f", f])).contains("applied: version 3"));
    std::fs::write(&file, org("2026-01-05T09:00[America/New_York]")).unwrap();
    ok(server.cli(&token, &["apply", "-f", f]));
    let who = |at: &str| {
        let out = ok(server.cli(
            &token,
            &["oncall", "who", "--team", "sec", "--at", at, "--json"],
        ));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["schedules"][0]["person"].as_str().unwrap().to_owned()
    };
    assert_eq!(who("2026-01-06T13:59:59Z"), "alice");
    assert_eq!(who("2026-01-06T14:00:00Z"), "bob");
}

/// People on call whom no page can reach (a phone only, no contact at all) are a gap in the
/// coverage, with the reason, and the apply warns of them without refusing.
#[test]
fn on_call_people_without_a_pageable_contact_are_gaps_and_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "ops");
    let server = Server::start(&data);
    let file = dir.path().join("org.yaml");
    std::fs::write(
        &file,
        "people:
  - {name: pat, contacts: [{kind: phone, address: '+44 20 7946 0000'}]}
  - {name: nic}
teams:
  - name: ph
    members: [pat, nic]
    schedules:
      - {name: p, time_zone: UTC, layers: [{people: [pat, nic], rotation: daily, start: 2026-01-01T00:00}]}
",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let dry = run(&["apply", "-f", f, "--dry-run"]);
    assert!(dry.status.success());
    let warned = String::from_utf8_lossy(&dry.stderr);
    assert!(
        warned.contains("warning: teams[0].schedules[0].layers[0].people[0]: pat has no e-mail or webhook contact")
            && warned.contains("layers[0].people[1]: nic has no e-mail or webhook contact"),
        "{warned}"
    );
    // No central team: a report naming no service would page nobody, which is said.
    assert!(
        warned.contains("warning: central_team: none is named, so an alert of a service no team owns (a report through the form"),
        "{warned}"
    );
    let out = server.cli(&token, &["apply", "-f", f]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pat has no e-mail or webhook contact"),
        "{out:?}"
    );
    let report = ok(server.cli(
        &token,
        &[
            "oncall",
            "coverage",
            "--team",
            "ph",
            "--from",
            "2026-01-01T00:00:00Z",
            "--days",
            "2",
            "--json",
        ],
    ));
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let gaps: Vec<(&str, &str, &str)> = report["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["start"].as_str().unwrap(),
                g["end"].as_str().unwrap(),
                g["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        gaps,
        [
            (
                "2026-01-01T00:00:00Z",
                "2026-01-02T00:00:00Z",
                "pat on call in p, no e-mail or webhook"
            ),
            (
                "2026-01-02T00:00:00Z",
                "2026-01-03T00:00:00Z",
                "nic on call in p, no e-mail or webhook"
            ),
        ]
    );
    let table = ok(server.cli(
        &token,
        &[
            "oncall",
            "coverage",
            "--team",
            "ph",
            "--from",
            "2026-01-01T00:00:00Z",
            "--days",
            "2",
        ],
    ));
    assert!(!table.contains("covered 24x7"), "{table}");
    assert!(
        table.contains("pat on call in p, no e-mail or webhook"),
        "{table}"
    );
}

/// `vigil apply --dry-run --json` prints a JSON object: the counts of a valid file, or every
/// problem of an invalid one with its field (exit 1).
#[test]
fn a_dry_run_with_json_prints_json_for_a_valid_and_an_invalid_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("org.yaml");
    std::fs::write(&file, ORG).unwrap();
    let f = file.to_str().unwrap();
    let valid: serde_json::Value =
        serde_json::from_str(&ok(run(&["apply", "-f", f, "--dry-run", "--json"]))).unwrap();
    assert_eq!(valid["valid"], true, "{valid}");
    assert_eq!(
        (&valid["people"], &valid["teams"], &valid["schedules"]),
        (&2.into(), &1.into(), &1.into()),
        "{valid}"
    );
    assert_eq!(valid["services"], 1, "{valid}");
    assert_eq!(valid["rules_turned_off"], 1, "{valid}");

    std::fs::write(&file, ORG.replace("team: secops", "team: nobody")).unwrap();
    let out = run(&["apply", "-f", f, "--dry-run", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let invalid: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(invalid["valid"], false, "{invalid}");
    assert_eq!(
        invalid["problems"][0]["field"], "services[0].team",
        "{invalid}"
    );
    assert!(invalid["problems"][0]["message"].is_string(), "{invalid}");

    std::fs::write(&file, "people: [unclosed\n").unwrap();
    let out = run(&["apply", "-f", f, "--dry-run", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let broken: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(broken["problems"][0]["field"], "document", "{broken}");
}

/// `vigil oncall who` shows the team's escalation levels as its policy writes them, each with
/// whom it pages at its time, instead of naming the manager as the next level.
#[test]
fn who_shows_the_team_s_escalation_levels_and_whom_each_pages() {
    const POLICY: &str = "\
people:
  - {name: alice, contacts: [{kind: email, address: alice@example.com}]}
  - {name: bob, contacts: [{kind: email, address: bob@example.com}]}
  - {name: carol, contacts: [{kind: email, address: carol@example.com}]}
  - {name: dave, contacts: [{kind: email, address: dave@example.com}]}
teams:
  - name: desktop
    members: [alice, bob, carol]
    manager: alice
    schedules:
      - {name: primary, time_zone: UTC, layers: [{people: [bob], rotation: weekly, start: 2026-11-30T00:00}]}
      - {name: secondary, time_zone: UTC, layers: [{people: [carol], rotation: weekly, start: 2026-11-30T00:00}]}
    escalation:
      levels:
        - {after: '0', notify: ['schedule:primary']}
        - {after: 30s, notify: ['schedule:secondary']}
        - {after: 60s, notify: [manager, 'team:central']}
  - name: central
    members: [dave]
    schedules:
      - {name: primary, time_zone: UTC, layers: [{people: [dave], rotation: weekly, start: 2026-11-30T00:00}]}
central_team: central
services:
  - {name: workstations, team: desktop}
";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("org.yaml");
    std::fs::write(&file, POLICY).unwrap();
    let token = admin_token(&data, "admin", "ops");
    let server = Server::start(&data);
    ok(server.cli(&token, &["apply", "-f", file.to_str().unwrap()]));
    let who = |json: bool| {
        let mut args = vec!["oncall", "who", "--service", "workstations"];
        args.extend(["--at", "2026-12-01T10:00:00Z"]);
        if json {
            args.push("--json");
        }
        ok(server.cli(&token, &args))
    };
    let answer: serde_json::Value = serde_json::from_str(&who(true)).unwrap();
    let levels: Vec<(String, Vec<String>)> = answer["escalation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let pages = l["pages"].as_array().unwrap().iter();
            (
                l["after"].as_str().unwrap().to_owned(),
                pages
                    .map(|p| p["person"].as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    let expected = [
        ("0", vec!["bob"]),
        ("30s", vec!["carol"]),
        ("60s", vec!["alice", "dave"]),
    ];
    let expected: Vec<(String, Vec<String>)> = expected
        .into_iter()
        .map(|(after, people)| {
            (
                after.to_owned(),
                people.into_iter().map(str::to_owned).collect(),
            )
        })
        .collect();
    assert_eq!(levels, expected, "{answer}");
    let shown = who(false);
    assert!(!shown.contains("next escalation level"), "{shown}");
    for needle in [
        "manager: alice",
        "bob (on call in schedule primary)",
        "carol (on call in schedule secondary)",
        "alice (manager of the team), dave (on call for team central)",
    ] {
        assert!(shown.contains(needle), "{needle} missing from\n{shown}");
    }
}

/// What the escalator does is what the reports say: hours in which the first level reaches
/// nobody are gaps answered later by the next level (and when), a team with no one to page is
/// answered by the central team, and a target a page cannot reach is shown so.
#[test]
fn coverage_and_who_follow_the_escalation_policy_and_the_central_team() {
    const POLICY: &str = "\
people:
  - {name: anna, contacts: [{kind: email, address: anna@example.com}]}
  - {name: mara, contacts: [{kind: email, address: mara@example.com}]}
  - {name: olga, contacts: [{kind: phone, address: '+61 2 5550 1234'}]}
  - {name: nina}
teams:
  - name: sirt
    members: [anna, mara, olga, nina]
    manager: olga
    schedules:
      - {name: primary, time_zone: UTC, layers: [{people: [anna], rotation: daily, start: 2027-01-01T00:00, restrictions: [{from: '09:00', to: '17:00'}]}]}
      - {name: secondary, time_zone: UTC, layers: [{people: [mara], rotation: weekly, start: 2027-01-01T00:00}]}
    escalation:
      levels:
        - {after: '0', notify: ['schedule:primary']}
        - {after: 10m, notify: ['schedule:secondary']}
        - {after: 25m, notify: [manager, 'person:nina']}
  - name: empty
    members: [anna]
central_team: sirt
services:
  - {name: legacy, team: empty}
";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("org.yaml");
    std::fs::write(&file, POLICY).unwrap();
    let f = file.to_str().unwrap();
    let dry = run(&["apply", "-f", f, "--dry-run"]);
    assert!(dry.status.success());
    let warned = String::from_utf8_lossy(&dry.stderr);
    for field in [
        "teams[0].manager: olga",
        "teams[0].escalation.levels[2].notify[1]: nina",
    ] {
        assert!(
            warned.contains(&format!(
                "warning: {field} has no e-mail or webhook contact"
            )),
            "{field} not warned of:\n{warned}"
        );
    }
    let token = admin_token(&data, "admin", "ops");
    let server = Server::start(&data);
    ok(server.cli(&token, &["apply", "-f", f]));
    let coverage = |team: &str, json: bool| {
        let mut args = vec!["oncall", "coverage", "--team", team];
        args.extend(["--from", "2027-01-01T00:00:00Z", "--days", "1"]);
        if json {
            args.push("--json");
        }
        ok(server.cli(&token, &args))
    };
    let report: serde_json::Value = serde_json::from_str(&coverage("sirt", true)).unwrap();
    let gaps: Vec<(&str, &str, &str, u64, &str)> = report["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["start"].as_str().unwrap(),
                g["end"].as_str().unwrap(),
                g["kind"].as_str().unwrap(),
                g["first_reached_level"].as_u64().unwrap(),
                g["first_reached_after"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        gaps,
        [
            (
                "2027-01-01T00:00:00Z",
                "2027-01-01T09:00:00Z",
                "delayed",
                2,
                "10m"
            ),
            (
                "2027-01-01T17:00:00Z",
                "2027-01-02T00:00:00Z",
                "delayed",
                2,
                "10m"
            ),
        ]
    );
    let table = coverage("sirt", false);
    assert!(!table.contains("covered 24x7"), "{table}");
    assert!(table.contains("level 2 after 10m"), "{table}");
    // The team with no one to page: the central team's gaps, and said why.
    let empty: serde_json::Value = serde_json::from_str(&coverage("empty", true)).unwrap();
    assert_eq!(empty["answered_by"][0]["answered_by"], "sirt", "{empty}");
    assert_eq!(empty["gaps"].as_array().unwrap().len(), 2, "{empty}");
    let who = ok(server.cli(
        &token,
        &[
            "oncall",
            "who",
            "--service",
            "legacy",
            "--at",
            "2027-01-01T10:00:00Z",
            "--json",
        ],
    ));
    let who: serde_json::Value = serde_json::from_str(&who).unwrap();
    assert_eq!(who["answered_by"], "sirt", "{who}");
    assert_eq!(who["escalation"][0]["pages"][0]["person"], "anna", "{who}");
    let shown = ok(server.cli(
        &token,
        &[
            "oncall",
            "who",
            "--service",
            "legacy",
            "--at",
            "2027-01-01T10:00:00Z",
        ],
    ));
    for needle in [
        "so the central team sirt answers",
        "anna (on call in schedule primary)",
        "olga (manager of the team; no e-mail or webhook: reaches nobody)",
        "nina (named in the policy; no e-mail or webhook: reaches nobody)",
    ] {
        assert!(shown.contains(needle), "{needle} missing from\n{shown}");
    }
}
