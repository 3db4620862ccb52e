//! `vigil rules check DIR...`: load and compile every Sigma rule under the given paths and
//! report what loaded, what was rejected (file, line, reason) and counts per logsource.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::json;
use vigil_sigma::RuleDoc;

use crate::ruleset;

/// Subcommands of `vigil rules`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Load every .yml under the given folders and report loaded and rejected rules.
    Check(CheckArgs),
}

/// Arguments of `vigil rules check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Rule files or folders (searched recursively for .yml and .yaml).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check(args) => check(args),
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let loaded = ruleset::load(&args.paths)?;
    let mut per_logsource: BTreeMap<String, usize> = BTreeMap::new();
    let (mut detections, mut correlations, mut filters) = (0, 0, 0);
    for doc in &loaded.docs {
        match doc {
            RuleDoc::Rule(r) => {
                detections += 1;
                let ls = &r.logsource;
                let key = format!(
                    "{}/{}/{}",
                    ls.product.as_deref().unwrap_or("-"),
                    ls.category.as_deref().unwrap_or("-"),
                    ls.service.as_deref().unwrap_or("-")
                );
                *per_logsource.entry(key).or_default() += 1;
            }
            RuleDoc::Correlation(_) => correlations += 1,
            RuleDoc::Filter(_) => filters += 1,
        }
    }
    let rejected: Vec<_> = loaded
        .load_diagnostics
        .iter()
        .chain(&loaded.compile_diagnostics)
        .collect();
    let compiled = loaded.set.rules().len();
    if args.json {
        let out = json!({
            "rules_loaded": compiled,
            "detection_rules": loaded.set.detection_count(),
            "correlation_rules": loaded.set.correlation_count(),
            "documents": {"rules": detections, "correlations": correlations, "filters": filters},
            "rejected": rejected.iter().map(|d| json!({
                "file": d.file.display().to_string(),
                "line": d.line,
                "path": d.path,
                "rule": d.rule,
                "reason": d.message,
            })).collect::<Vec<_>>(),
            "per_logsource": per_logsource,
            "load_ms": loaded.load_time.as_secs_f64() * 1e3,
            "compile_ms": loaded.compile_time.as_secs_f64() * 1e3,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        if !rejected.is_empty() {
            let mut table = Table::new();
            table.load_preset(UTF8_FULL_CONDENSED);
            table.set_header(["file:line", "rule", "reason"]);
            for d in &rejected {
                table.add_row([
                    format!("{}:{}", d.file.display(), d.line),
                    d.rule.clone().unwrap_or_default(),
                    if d.path.is_empty() {
                        d.message.clone()
                    } else {
                        format!("{}: {}", d.path, d.message)
                    },
                ]);
            }
            println!("Rejected\n{table}\n");
        }
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header(["product/category/service", "rules"]);
        for (k, n) in &per_logsource {
            table.add_row([k.clone(), n.to_string()]);
        }
        println!("Rules per logsource\n{table}\n");
        println!(
            "{compiled} rules loaded ({} detection, {} correlation; {filters} filters), {} rejected; \
             parsed in {:.0} ms, compiled in {:.0} ms",
            loaded.set.detection_count(),
            loaded.set.correlation_count(),
            rejected.len(),
            loaded.load_time.as_secs_f64() * 1e3,
            loaded.compile_time.as_secs_f64() * 1e3,
        );
    }
    Ok(ExitCode::SUCCESS)
}
