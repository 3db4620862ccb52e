//! `vigil rules check DIR...`: load and compile every Sigma rule under the given paths and
//! report what loaded, what was rejected (file, line, reason) and counts per logsource.
//! `vigil rules status` and `vigil rules reload`: the rule set a running server matches
//! ingested events with, and reading its rule directories again. `vigil rules preview`: rules
//! not loaded yet, run by a running server over the events it holds.

use crate::output::errln;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use vigil_api::events::RulePreviewRequest;
use vigil_sigma::RuleDoc;

use crate::incident::{Conn, client};
use crate::output::{Cell, Lines, explain, outln, print_json, table};
use crate::ruleset;

/// Subcommands of `vigil rules`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Load every .yml under the given folders and report loaded and rejected rules.
    #[command(after_help = CHECK_HELP)]
    Check(CheckArgs),
    /// Show the rule set a running server detects with (`vigil serve --rules DIR`).
    #[command(after_help = SERVER_HELP)]
    Status {
        #[command(flatten)]
        conn: Conn,
    },
    /// Make a running server read its rule directories again; the new set replaces the old
    /// one whole. The old one stays in place when a directory cannot be read, or when the new
    /// set would reject a rule the old one does not reject (a rule edited into a broken state,
    /// or a new broken file): fix it (`vigil rules check DIR` says why) and reload again.
    #[command(after_help = SERVER_HELP)]
    Reload {
        #[command(flatten)]
        conn: Conn,
    },
    /// Run rules that are not loaded yet over the events a running server holds, as it would
    /// have matched them, and see what they find (and how often) before they go into its rules
    /// directory. Nothing is recorded.
    #[command(after_help = PREVIEW_HELP)]
    Preview(PreviewArgs),
}

const CHECK_HELP: &str = "\
Exit status: 0 when every rule loaded; 1 when any was rejected (the others are still loaded and
counted) or the command could not run (a path that does not exist), so that a rule repository's
CI can run it as a linter.

Examples:
  vigil rules check ./rules
  vigil rules check ./rules --placeholders placeholders.yml --json";

const PREVIEW_HELP: &str = "\
Talks to a running server: --server or VIGIL_SERVER and a token of role viewer or above.
Events are read newest first and matched as each service declares its logs (the organisation
document). Correlation rules are evaluated over the matched events read, oldest first, one
stream per tenant; a group whose first events lie before --since is counted from there.
Without --since, --from or --to the window is the last 24 hours of the events' own times.

Examples:
  vigil rules preview ./new-rules --since 30d
  vigil rules preview lateral-movement.yml --query 'service:workstations' --since 7d --json";

/// Arguments of `vigil rules preview`.
#[derive(Debug, clap::Args)]
pub struct PreviewArgs {
    #[command(flatten)]
    conn: Conn,
    /// Rule files or folders (searched recursively for .yml and .yaml).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Only the events this query finds (docs/query.md).
    #[arg(long, short = 'q', default_value = "")]
    query: String,
    /// The events' window (default: the last 24 hours).
    #[command(flatten)]
    window: crate::search::Window,
    /// Matches to show, newest first (1 to 1000); all are counted.
    #[arg(long, default_value_t = 100, value_parser = crate::incident::limit::<1000>)]
    limit: u32,
    /// Most events to read, newest first (1 to 10,000,000).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    max_events: u64,
}

const SERVER_HELP: &str = "\
Talks to a running server: --server or VIGIL_SERVER (default http://127.0.0.1:8080) and a token
with --token or VIGIL_TOKEN (status: viewer or above; reload: admin). When the last reload
(this command or SIGHUP to the server) failed, status says when and why: the rules loaded
before it stay in force until a reload succeeds.

Examples:
  vigil rules status
  vigil rules reload --json";

/// Arguments of `vigil rules check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Rule files or folders (searched recursively for .yml and .yaml).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Values of the `%name%` placeholders of rules with the `expand` modifier: a YAML map
    /// `NAME: [VALUE, ...]`, or a pySigma pipeline's `vars` (checked too).
    #[arg(long, value_name = "FILE")]
    placeholders: Option<PathBuf>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check(args) => check(args),
        Command::Status { conn } => remote(conn, false),
        Command::Reload { conn } => remote(conn, true),
        Command::Preview(args) => preview(args),
    }
}

fn preview(args: PreviewArgs) -> anyhow::Result<ExitCode> {
    // Read and checked here, so a bad rule is named by its file and line.
    let mut text = String::new();
    for path in &args.paths {
        for file in vigil_sigma::rule_files(path)? {
            let content = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            for problem in vigil_sigma::parse_str(&content, &file).1 {
                errln!("warning: {problem}");
            }
            text.push_str("\n---\n");
            text.push_str(&content);
        }
    }
    let (from, to) = args.window.bounds()?;
    let request = RulePreviewRequest {
        rules: text,
        q: args.query,
        from,
        to,
        limit: Some(args.limit),
        max_events: Some(args.max_events),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let found = runtime.block_on(async {
        let c = client(&args.conn)?;
        c.preview_rules(&request).await.map_err(explain)
    })?;
    if args.conn.json {
        print_json(&found)?;
        return Ok(ExitCode::SUCCESS);
    }
    if !found.matches.is_empty() {
        let zone = args.window.zone();
        let header = crate::search::time_header(zone);
        let mut t = table([
            header.as_str(),
            "LEVEL",
            "RULE",
            "SERVICE",
            "HOST",
            "TENANT",
            "EVENT",
        ]);
        for m in &found.matches {
            let [time, service, host, tenant, event] = crate::search::event_row(&m.event, zone);
            // A correlation's row says what it counted; its last event is the one shown.
            let event = match &m.correlation {
                Some(c) => format!("{}; the last: {event}", c.note),
                None => event,
            };
            t.add_row([
                time,
                m.level.clone(),
                m.rule_title.clone(),
                service,
                host,
                tenant,
                event,
            ]);
        }
        outln!("{t}");
    }
    if found.per_rule.len() > 1 {
        let mut t = table(["MATCHES", "LEVEL", "RULE"]);
        for r in &found.per_rule {
            t.add_row([r.matches.to_string(), r.level.clone(), r.rule_title.clone()]);
        }
        outln!("{t}");
    }
    let read = if found.complete {
        format!(
            "all {} of the window",
            crate::output::plural(found.events_read, "event", "events")
        )
    } else {
        format!(
            "the newest {} events of the window (--max-events or a narrower --query/--since for the rest)",
            found.events_read
        )
    };
    outln!(
        "{} run over {read}: {}, {} shown",
        crate::output::plural(found.rules, "rule", "rules"),
        crate::output::plural(found.total_matches, "match", "matches"),
        found.matches.len()
    );
    if let Some(from) = found.correlated_from {
        outln!(
            "the correlations counted the matched events from {} on only (more than a preview holds); narrow --since or --query for the rest",
            format!(
                "{} {}",
                crate::search::wall_clock(from, args.window.zone(), "%Y-%m-%d %H:%M:%S"),
                args.window.zone()
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn remote(conn: Conn, reload: bool) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let status = runtime.block_on(async {
        let c = client(&conn)?;
        let status = if reload {
            c.reload_rules().await
        } else {
            c.rules_status().await
        };
        status.map_err(explain)
    })?;
    if conn.json {
        print_json(&status)?;
        return Ok(ExitCode::SUCCESS);
    }
    if !status.rejected.is_empty() {
        let mut t = table(["REJECTED RULES (FILE:LINE: REASON)"]);
        for r in &status.rejected {
            t.add_row([r.clone()]);
        }
        outln!("{t}");
    }
    if !status.services.is_empty() {
        let mut t = table(["SERVICE", "DECLARED LOGSOURCES", "RULES WRITTEN FOR THEM"]);
        for s in &status.services {
            let mut rules = vec![if s.rules == 0 {
                "0 (misspelt? see `vigil rules check`)".to_owned()
            } else {
                s.rules.to_string()
            }];
            // Rules kept away by a part the declaration lacks would otherwise go unseen.
            rules.extend(
                s.undeclared
                    .iter()
                    .map(|u| format!("+{} if {} also declares {}", u.rules, u.logsource, u.part)),
            );
            let row: [Cell; 3] = [
                s.service.as_str().into(),
                s.logsources.join(" or ").into(),
                Lines(rules).into(),
            ];
            t.add_row(row);
        }
        outln!("{t}");
    }
    if !status.correlations.is_empty() {
        let mut t = table([
            "CORRELATION",
            "TYPE",
            "GROUP BY",
            "TIMESPAN",
            "FIRES AT",
            "GROUPS COUNTING",
            "EVENTS HELD",
            "OLDEST",
            "HIGHEST NOW",
        ]);
        for c in &status.correlations {
            let row: [Cell; 9] = [
                c.title.as_str().into(),
                c.kind.as_str().into(),
                c.group_by.join(", ").into(),
                vigil_sigma::format_timespan(c.timespan_seconds.saturating_mul(1000)).into(),
                c.condition.as_str().into(),
                c.groups.to_string().into(),
                c.events.to_string().into(),
                c.oldest
                    .map(|t| crate::output::shown_time_zoned(t, "%Y-%m-%d %H:%M:%S"))
                    .unwrap_or_else(|| "-".into())
                    .into(),
                highest(&c.top_groups).into(),
            ];
            t.add_row(row);
        }
        outln!("{t}");
        for late in &status.correlations_late {
            outln!(
                "events{} from {} to {} came too late for the live windows; the correlations run over the stored events of that time a minute after the last of them",
                if late.tenant.is_empty() {
                    String::new()
                } else {
                    format!(" of tenant {}", late.tenant)
                },
                crate::output::shown_time_zoned(late.from, "%Y-%m-%d %H:%M:%S"),
                crate::output::shown_time_zoned(late.to, "%Y-%m-%d %H:%M:%S"),
            );
        }
        if status.correlations_rebuilding {
            outln!(
                "the correlation windows are being rebuilt from the stored events (the last stop was not clean); they hold more once it is done"
            );
        }
    }
    if !status.placeholders_without_values.is_empty() {
        let mut t = table(["PLACEHOLDER WITHOUT VALUES (its expand values match nothing)"]);
        for p in &status.placeholders_without_values {
            t.add_row([p.clone()]);
        }
        outln!("{t}");
        outln!(
            "give their values in the file of `vigil serve --placeholders FILE` and reload: until then a filter on one excludes nothing"
        );
    }
    if !status.filter_warnings.is_empty() {
        let mut t = table(["FILTER WARNING (the filter leaves these rules' matches as they are)"]);
        for w in &status.filter_warnings {
            t.add_row([w.clone()]);
        }
        outln!("{t}");
        outln!(
            "correct the filter's `rules` (rule ids or names, not titles) or its logsource, and reload"
        );
    }
    if !status.turned_off.is_empty() {
        let mut t = table(["TURNED OFF (organisation document)", "RULE ID"]);
        for r in &status.turned_off {
            t.add_row([r.title.clone(), r.rule_id.clone()]);
        }
        outln!("{t}");
    }
    let paths = if status.paths.is_empty() {
        "no rule directory (start the server with `vigil serve --rules DIR` to detect)".to_owned()
    } else {
        status.paths.join(", ")
    };
    outln!(
        "{}{} loaded, {} rejected, from {paths}, at {}",
        if reload { "reloaded: " } else { "" },
        crate::output::plural(status.loaded, "rule", "rules"),
        status
            .rules_rejected
            .unwrap_or(status.rejected.len() as u64),
        crate::output::shown_time_zoned(status.loaded_at, "%Y-%m-%d %H:%M:%S")
    );
    if !status.rejected.is_empty() {
        outln!(
            "fix the rejected rules (`vigil rules check DIR` shows more), then `vigil rules reload`"
        );
    }
    if let Some(failed) = &status.reload_failed {
        outln!(
            "the last reload FAILED at {}, so these rules are still the ones loaded before it: {}",
            crate::output::shown_time_zoned(failed.at, "%Y-%m-%d %H:%M:%S"),
            failed.error
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A correlation's top groups, one a line: `user=root: 4` (`acme / user=root: 4` with a tenant).
fn highest(groups: &[vigil_api::events::CorrelationGroup]) -> crate::output::Lines {
    crate::output::Lines(
        groups
            .iter()
            .map(|g| {
                let value = vigil_detect::value_text(g.value);
                let group = if g.group.is_empty() {
                    "(all)"
                } else {
                    &g.group
                };
                match g.tenant.as_str() {
                    "" => format!("{group}: {value}"),
                    tenant => format!("{tenant} / {group}: {value}"),
                }
            })
            .collect(),
    )
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let loaded = ruleset::load_with(&args.paths, args.placeholders.as_deref())?;
    let mut per_logsource: BTreeMap<String, usize> = BTreeMap::new();
    let (mut detections, mut correlations, mut filters) = (0, 0, 0);
    let mut aggregations = 0u64;
    // Per logsource, the detection rules compiled (not those the compiler refused).
    for rule in loaded.set.rules() {
        if rule.kind == vigil_detect::RuleKind::Detection {
            let ls = &rule.logsource;
            let key = format!(
                "{}/{}/{}",
                ls.product.as_deref().unwrap_or("-"),
                ls.category.as_deref().unwrap_or("-"),
                ls.service.as_deref().unwrap_or("-")
            );
            *per_logsource.entry(key).or_default() += 1;
        }
    }
    for doc in &loaded.docs {
        match doc {
            RuleDoc::Rule(_) => detections += 1,
            RuleDoc::Correlation(c) => {
                correlations += 1;
                if c.sigma1_aggregation.is_some() {
                    aggregations += 1;
                }
            }
            RuleDoc::Filter(_) => filters += 1,
        }
    }
    let rejected: Vec<_> = loaded
        .load_diagnostics
        .iter()
        .chain(&loaded.compile_diagnostics)
        .collect();
    let rules_rejected = vigil_sigma::rules_rejected(rejected.iter().copied());
    let compiled = loaded.set.rules().len();
    // Filters naming rules that are not loaded, or that their logsource does not reach.
    let filter_warnings = vigil_detect::filter_warnings(&loaded.docs);
    // Placeholders the rules use and no file gives values: their `expand` values match nothing.
    let mut without_values: BTreeMap<&str, usize> = BTreeMap::new();
    for doc in &loaded.docs {
        for name in vigil_sigma::used_placeholders(doc) {
            if !loaded.placeholders.contains_key(name) {
                *without_values.entry(name).or_default() += 1;
            }
        }
    }
    if args.json {
        let out = json!({
            "rules_loaded": compiled,
            "detection_rules": loaded.set.detection_count(),
            "correlation_rules": loaded.set.correlation_count(),
            "documents": {"rules": detections, "correlations": correlations, "filters": filters},
            "sigma1_aggregations": aggregations,
            "rules_rejected": rules_rejected,
            "rejected": rejected.iter().map(|d| json!({
                "file": d.file.display().to_string(),
                "line": d.line,
                "path": d.path,
                "rule": d.rule,
                "reason": d.message,
            })).collect::<Vec<_>>(),
            "per_logsource": per_logsource,
            "placeholders_without_values": without_values,
            "filter_warnings": filter_warnings.iter().map(|d| json!({
                "file": d.file.display().to_string(),
                "line": d.line,
                "path": d.path,
                "filter": d.rule,
                "warning": d.message,
            })).collect::<Vec<_>>(),
            "load_ms": loaded.load_time.as_secs_f64() * 1e3,
            "compile_ms": loaded.compile_time.as_secs_f64() * 1e3,
        });
        crate::output::outraw!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        if !rejected.is_empty() {
            let mut t = table(["file:line", "rule", "reason"]);
            for d in &rejected {
                t.add_row([
                    format!("{}:{}", d.file.display(), d.line),
                    d.rule.clone().unwrap_or_default(),
                    d.reason(),
                ]);
            }
            outln!("Rejected\n{t}\n");
        }
        let mut t = table(["product/category/service", "rules"]);
        for (k, n) in &per_logsource {
            t.add_row([k.clone(), n.to_string()]);
        }
        outln!("Rules per logsource\n{t}\n");
        if !without_values.is_empty() {
            let mut t = table(["placeholder", "rules"]);
            for (name, rules) in &without_values {
                t.add_row([format!("%{name}%"), rules.to_string()]);
            }
            outln!(
                "Placeholders without values (the values that use them match nothing; give them with --placeholders FILE)\n{t}\n"
            );
        }
        if !filter_warnings.is_empty() {
            let mut t = table(["file:line", "filter", "warning"]);
            for d in &filter_warnings {
                t.add_row([
                    format!("{}:{}", d.file.display(), d.line),
                    d.rule.clone().unwrap_or_default(),
                    d.reason(),
                ]);
            }
            outln!(
                "Filters that reach fewer rules than they name (loaded all the same: they may be for rules of another set)\n{t}\n"
            );
        }
        if aggregations > 0 {
            outln!(
                "{} run as the correlation rules they stand for (each with the rule of its search)",
                crate::output::plural(
                    aggregations,
                    "Sigma 1 aggregation (`| count() ...`, `| near ...`) is",
                    "Sigma 1 aggregations (`| count() ...`, `| near ...`) are"
                )
            );
        }
        outln!(
            "{compiled} rules loaded ({} detection, {} correlation; {filters} filters{}), {rules_rejected} rejected{}; \
             parsed in {:.0} ms, compiled in {:.0} ms",
            loaded.set.detection_count(),
            loaded.set.correlation_count(),
            match filter_warnings.len() {
                0 => String::new(),
                n => format!(
                    ", {}",
                    crate::output::plural(n as u64, "filter warning", "filter warnings")
                ),
            },
            match rejected.len() {
                n if n == rules_rejected => String::new(),
                n => format!(" ({n} problems)"),
            },
            loaded.load_time.as_secs_f64() * 1e3,
            loaded.compile_time.as_secs_f64() * 1e3,
        );
    }
    // A linter's answer: a rule repository's CI fails on a rule Vigil would not load.
    Ok(if rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
