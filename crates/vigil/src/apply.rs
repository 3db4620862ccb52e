//! `vigil apply -f org.yaml`: send the organisation document (people and contact methods,
//! teams with their members, manager, on-call schedules and escalation, service owners, the
//! central team and how detections become alerts) to a running server. Idempotent: applying
//! the same file again changes nothing, so the organisation can live in version control.
//! `--dry-run` validates the file locally without a server.

use crate::output::errln;
use std::path::PathBuf;

use anyhow::Context;
use yaml_rust2::{Yaml, YamlLoader};

use crate::incident::{Conn, client};
use crate::output::{explain, outln, plural, print_json};

const AFTER_HELP: &str = "\
Examples:
  vigil apply -f org.yaml               # apply; prints the version in force and whether it changed
  vigil apply -f org.yaml --dry-run     # check the file only, no server needed
  vigil apply -f org.yaml --dry-run -r rules/   # and count the rules each service's logs meet

The file (YAML or JSON) has the lists people, teams and services, and optionally
central_team and alerting (docs/org.md); every problem is reported with its field:

  people:
    - name: alice
      contacts: [{kind: email, address: alice@example.com}]
  teams:
    - name: payments-secops
      members: [alice]
      manager: alice
      schedules:
        - name: primary
          time_zone: Europe/Berlin
          layers:
            - {people: [alice], rotation: weekly, start: 2026-11-30T09:00}
      escalation:                 # default: every schedule at once, the manager after 15m
        levels:
          - {after: '0', notify: ['schedule:primary']}
          - {after: 15m, notify: [manager, 'team:central-secops']}
    - name: central-secops
      members: [alice]
      schedules:
        - {name: primary, time_zone: UTC, layers: [{people: [alice], rotation: weekly, start: 2026-11-30T00:00}]}
  services:
    - {name: payments-api, team: payments-secops, criticality: critical}
  central_team: central-secops    # where escalation ends; pages the alerts nobody owns
  alerting:                       # how detections fold into alerts, rule by rule
    - {rule_id: '*', group_by: [host], window: 1h, max_per_hour: 20}
    - {rule_id: 2617e7ed-adb7-40ba-b0f3-8f9945fe6c09, enabled: false}

Needs an admin token (--token or VIGIL_TOKEN).";

/// Arguments of `vigil apply`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The organisation file (YAML or JSON).
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// Validate the file locally and print what it holds; send nothing. With --json: an object
    /// with `valid` and the counts, or `valid: false` and every problem with its `field`.
    #[arg(long)]
    pub dry_run: bool,
    /// Sigma rule folders to count, for each service that declares its logsources, the rules
    /// written for its logs (and to warn about a declaration none is written for) before the
    /// server does. May be given several times.
    #[arg(long = "rules", short = 'r')]
    pub rules: Vec<PathBuf>,
    #[command(flatten)]
    pub conn: Conn,
}

pub fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}; check the path", args.file.display()))?;
    let (document, org) = match check(&text) {
        Ok(checked) => checked,
        Err(problems) if args.conn.json => {
            print_json(&serde_json::json!({
                "file": args.file,
                "valid": false,
                "problems": problems,
            }))?;
            return Ok(std::process::ExitCode::FAILURE);
        }
        Err(problems) => {
            let mut message = format!(
                "{} has {}:",
                args.file.display(),
                plural(problems.len() as u64, "problem", "problems")
            );
            for p in &problems {
                message.push_str(&format!("\n  {}: {}", p.field, p.message));
            }
            message.push_str("\nsee `vigil apply --help` for the shape");
            anyhow::bail!(message);
        }
    };
    let warnings = if args.dry_run {
        org.validate().map(|v| v.warnings()).unwrap_or_default()
    } else {
        Vec::new()
    };
    // The server says the same after an apply; a dry run says it here.
    for w in &warnings {
        errln!("warning: {w}");
    }
    if !args.rules.is_empty() {
        let loaded = crate::ruleset::load(&args.rules)?;
        let view = vigil_ingest::org::OrgView::new(Some(org.clone()));
        for c in view.coverage(&loaded.set) {
            errln!(
                "{}: {} written for {} logs",
                c.service,
                crate::output::plural(c.rules as u64, "rule", "rules"),
                c.labels().join(" or ")
            );
        }
        for w in view.coverage_warnings(&loaded.set) {
            errln!("warning: {w}");
        }
    }
    // Said with the counts: a rule turned off by mistake would be a silent hole.
    let turned_off = |count: u64| {
        if count > 0 {
            format!(", {} turned off", plural(count, "rule", "rules"))
        } else {
            String::new()
        }
    };
    if args.dry_run {
        let off = org.alerting.iter().filter(|a| !a.enabled).count() as u64;
        let schedules: usize = org.teams.iter().map(|t| t.schedules.len()).sum();
        if args.conn.json {
            print_json(&serde_json::json!({
                "file": args.file,
                "valid": true,
                "people": org.people.len(),
                "teams": org.teams.len(),
                "schedules": schedules,
                "services": org.services.len(),
                "rules_turned_off": off,
                "warnings": warnings,
            }))?;
            return Ok(std::process::ExitCode::SUCCESS);
        }
        let turned_off = turned_off(off);
        outln!(
            "{} is valid: {}, {} ({}), {}{turned_off}",
            args.file.display(),
            plural(org.people.len() as u64, "person", "people"),
            plural(org.teams.len() as u64, "team", "teams"),
            plural(schedules as u64, "schedule", "schedules"),
            plural(org.services.len() as u64, "service", "services")
        );
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let state = runtime.block_on(async {
        client(&args.conn)?
            .apply_org(&document)
            .await
            .map_err(explain)
    })?;
    for w in &state.warnings {
        errln!("warning: {w}");
    }
    if args.conn.json {
        print_json(&state)?;
    } else if state.changed {
        let turned_off = turned_off(state.rules_turned_off);
        outln!(
            "applied: version {} ({}, {}, {}{turned_off})",
            state.version,
            plural(state.people, "person", "people"),
            plural(state.teams, "team", "teams"),
            plural(state.services, "service", "services")
        );
    } else {
        outln!("unchanged: version {} is already in force", state.version);
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// A problem of the file, with the field at fault (`document` for the file as a whole).
#[derive(Debug, serde::Serialize)]
struct Problem {
    field: String,
    message: String,
}

/// Reads and validates the file's text: the document as JSON (what is sent) and its typed
/// form, or every problem found.
fn check(text: &str) -> Result<(serde_json::Value, vigil_oncall::OrgDocument), Vec<Problem>> {
    let document = parse_document(text).map_err(|e| {
        vec![Problem {
            field: "document".into(),
            message: format!("{e:#}"),
        }]
    })?;
    let org = read_org(document.clone()).map_err(|problems| {
        problems
            .into_iter()
            .map(|(field, message)| Problem { field, message })
            .collect::<Vec<_>>()
    })?;
    if let Err(invalid) = org.validate() {
        return Err(invalid
            .problems
            .into_iter()
            .map(|p| Problem {
                field: p.field,
                message: p.message,
            })
            .collect());
    }
    Ok((document, org))
}

/// The most problems of the document's shape reported in one run (each costs a reading of the
/// whole document).
const MAX_SHAPE_PROBLEMS: usize = 50;

/// The organisation document out of its JSON form; each problem names the field at fault
/// (`teams[0].schedules[0].layers[0].start: ...`), as the server's does.
///
/// Every problem of the document is wanted in one run (the README's promise for `--dry-run`),
/// but serde stops at the first: a value it cannot take (an unknown key, a word where a number
/// goes, `criticality: huge`) is noted and taken out of the document, which is read again, so
/// the next one is found too, and once it reads, the validation's own problems are added. A
/// problem whose value cannot be taken out without changing what the rest means (a missing
/// field, an entry of a list) ends the reading there, and so does a required value taken out
/// (serde then finds it missing, which is not the file's problem and is not reported).
fn read_org(
    mut document: serde_json::Value,
) -> Result<vigil_oncall::OrgDocument, Vec<(String, String)>> {
    let mut problems = Vec::new();
    // The last value taken out: a "missing field" of its map is then the reading's own doing,
    // not the file's, and ends the reading without being reported.
    let mut taken: Option<String> = None;
    loop {
        match serde_path_to_error::deserialize::<_, vigil_oncall::OrgDocument>(document.clone()) {
            Ok(org) if problems.is_empty() => return Ok(org),
            Ok(org) => {
                if let Err(invalid) = org.validate() {
                    problems.extend(invalid.problems.into_iter().map(|p| (p.field, p.message)));
                }
                return Err(problems);
            }
            Err(e) => {
                let path = e.path().clone();
                let field = match path.to_string() {
                    p if p == "." => "document".to_owned(),
                    p => p,
                };
                let message = e.into_inner().to_string();
                let ours = taken.as_deref().is_some_and(|t| {
                    message.starts_with("missing field")
                        && t.strip_prefix(field.as_str())
                            .is_some_and(|rest| rest.starts_with('.'))
                });
                if ours {
                    return Err(problems);
                }
                problems.push((field.clone(), message));
                if problems.len() >= MAX_SHAPE_PROBLEMS || !take_out(&mut document, &path) {
                    return Err(problems);
                }
                taken = Some(field);
            }
        }
    }
}

/// Removes the value of a map key at `path` from `document`; false when the path does not end
/// in a key the document holds (a list entry, a missing field, the document itself).
fn take_out(document: &mut serde_json::Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((Segment::Map { key }, parents)) = segments.split_last() else {
        return false;
    };
    let mut at = document;
    for segment in parents {
        let next = match segment {
            Segment::Map { key } => at.get_mut(key.as_str()),
            Segment::Seq { index } => at.get_mut(*index),
            _ => None,
        };
        match next {
            Some(value) => at = value,
            None => return false,
        }
    }
    at.as_object_mut()
        .is_some_and(|object| object.remove(key.as_str()).is_some())
}

/// Reads a YAML (or JSON, a subset of YAML) document into JSON.
fn parse_document(text: &str) -> anyhow::Result<serde_json::Value> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| anyhow::anyhow!("YAML: {e}"))?;
    match docs.as_slice() {
        [] => anyhow::bail!("the file is empty; see `vigil apply --help` for the shape"),
        [doc] => to_json(doc, "document"),
        _ => anyhow::bail!(
            "the file holds {} YAML documents; put the whole organisation in one",
            docs.len()
        ),
    }
}

fn to_json(y: &Yaml, at: &str) -> anyhow::Result<serde_json::Value> {
    use serde_json::Value;
    Ok(match y {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(r.clone())),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| to_json(v, &format!("{at}[{i}]")))
                .collect::<anyhow::Result<_>>()?,
        ),
        Yaml::Hash(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    other => anyhow::bail!("{at}: a key must be text, not {other:?}"),
                };
                let value = to_json(v, &format!("{at}.{key}"))?;
                out.insert(key, value);
            }
            Value::Object(out)
        }
        Yaml::Alias(_) | Yaml::BadValue => anyhow::bail!(
            "{at}: aliases and unreadable values are not supported; write the value out"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_becomes_the_json_the_server_reads() {
        let v = parse_document("people:\n  - name: alice\n    contacts: [{kind: email, address: a@example.com}]\nteams: []\nn: 3\nt: 09:00\n").unwrap();
        assert_eq!(
            v,
            serde_json::json!({"people": [{"name": "alice", "contacts": [{"kind": "email", "address": "a@example.com"}]}], "teams": [], "n": 3, "t": "09:00"})
        );
        assert!(parse_document("").is_err());
        assert!(parse_document("a: 1\n---\nb: 2\n").is_err());
    }

    #[test]
    fn a_wrong_value_is_named_by_its_path() {
        // A bad time reads, to be reported by validation beside every other problem.
        let doc = parse_document(
            "teams:\n  - name: t\n    members: []\n    schedules:\n      - name: primary\n        time_zone: UTC\n        layers:\n          - {people: [a], rotation: weekly, start: 2026-13-30T09:00}\n",
        )
        .unwrap();
        let problems = read_org(doc).unwrap().validate().unwrap_err().problems;
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "teams[0].schedules[0].layers[0].people[0]",
                "teams[0].schedules[0].layers[0].start"
            ]
        );
        let problems = read_org(
            serde_json::json!({"services": [{"name": "s", "team": "t", "criticality": "very"}]}),
        )
        .unwrap_err();
        let (field, message) = &problems[0];
        assert_eq!(field, "services[0].criticality");
        assert!(message.starts_with("unknown variant `very`"), "{message}");
        let problems = read_org(serde_json::json!({"people": [{"name": "a", "contacts": [
            {"kind": "webhook", "address": "https://relay.example/x", "format": "msteams"}
        ]}]}))
        .unwrap_err();
        let (field, message) = &problems[0];
        assert_eq!(field, "people[0].contacts[0].format");
        assert!(
            message.starts_with("unknown variant `msteams`"),
            "{message}"
        );
    }

    /// A value serde cannot take no longer hides the document's other problems: each is
    /// reported with its field, then the validation's.
    #[test]
    fn every_problem_of_the_shape_is_reported_with_the_others() {
        let problems = read_org(serde_json::json!({
            "people": [{"name": "alice", "contacts": [], "colour": "blue"}],
            "teams": [{"name": "t", "members": ["alice", "ghost"]}],
            "services": [
                {"name": "a", "team": "t", "criticality": "huge"},
                {"name": "b", "team": "nobody", "criticality": 3}
            ]
        }))
        .unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields[..3],
            [
                "people[0].colour",
                "services[0].criticality",
                "services[1].criticality"
            ],
            "{problems:?}"
        );
        assert!(fields.contains(&"teams[0].members[1]"), "{problems:?}");
        assert!(fields.contains(&"services[1].team"), "{problems:?}");
        // A required value taken out is not then reported missing: the reading ends there.
        let problems = read_org(serde_json::json!({
            "services": [{"name": ["web"], "team": "t"}, {"name": "db", "team": "nosuch"}]
        }))
        .unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "services[0].name");
    }
}
