//! How `vigil hunt` writes what it found: each match rendered by the thread that found it (a
//! JSON line, a CSV row or a table row), correlations after the scan.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use vigil_detect::{CompiledRuleSet, Correlator, FieldMapping, MappedEvent, RuleId};
use vigil_events::json::JsonEvent;
use vigil_events::time::format_timestamp;

use super::Format;
use super::scan::MatchedEvent;

/// A row of the table: time, level, rule, computer, file, record, details.
pub type Row = [String; 7];

/// Renders matches in the output format as they are found, so that the threads that find them
/// share the work and a match is kept as its output, not as its event.
#[derive(Clone, Copy)]
pub struct Renderer<'a> {
    pub format: Format,
    /// The paths given on the command line, against which the table shortens file names.
    pub inputs: &'a [PathBuf],
}

/// Matches rendered: output text (JSON lines, CSV rows) or table rows.
#[derive(Default)]
pub struct Rendered {
    pub text: Vec<u8>,
    pub rows: Vec<Row>,
}

/// One rule match, as found.
pub struct Match<'e> {
    pub rule: RuleId,
    pub timestamp: Option<i64>,
    pub file: &'e Path,
    pub record_id: u64,
    pub event: &'e JsonEvent,
}

impl Renderer<'_> {
    pub fn render(&self, set: &CompiledRuleSet, m: &Match<'_>, out: &mut Rendered) {
        let rule = set.rule(m.rule);
        match self.format {
            Format::Table => out.rows.push([
                time_text(m.timestamp),
                rule.level().as_str().to_string(),
                rule.title().to_string(),
                computer(m.event),
                short_path(m.file, self.inputs),
                m.record_id.to_string(),
                details(m.event),
            ]),
            Format::Jsonl => {
                let line = json!({
                    "timestamp": m.timestamp.map(format_timestamp),
                    "rule_id": rule.id(),
                    "rule_title": rule.title(),
                    "level": rule.level().as_str(),
                    "file": m.file.display().to_string(),
                    "record_id": m.record_id,
                    "tags": rule.meta.tags,
                    "logsource": {
                        "product": rule.logsource.product,
                        "category": rule.logsource.category,
                        "service": rule.logsource.service,
                    },
                    "event": m.event.value(),
                });
                // A `Value` has string keys only, and a `Vec` takes every byte: this cannot fail.
                serde_json::to_writer(&mut out.text, &line)
                    .expect("a JSON value is written into memory");
                out.text.push(b'\n');
            }
            Format::Csv => {
                let row = [
                    time_text(m.timestamp),
                    rule.id().to_string(),
                    rule.title().to_string(),
                    rule.level().as_str().to_string(),
                    computer(m.event),
                    m.file.display().to_string(),
                    m.record_id.to_string(),
                    details(m.event).replace('\n', "; "),
                ];
                write_csv_row(&mut out.text, &row);
            }
        }
    }
}

/// The CSV header line.
pub const CSV_HEADER: &str = "timestamp,rule_id,rule_title,level,computer,file,record_id,details\n";

fn write_csv_row(out: &mut Vec<u8>, row: &[String]) {
    for (i, field) in row.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            out.push(b'"');
            out.extend_from_slice(field.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(field.as_bytes());
        }
    }
    out.push(b'\n');
}

/// A correlation that fired, with the records of the events that made it.
pub struct Correlated {
    pub found: vigil_detect::CorrelationMatch,
    pub records: Vec<(Arc<Path>, u64)>,
}

impl Correlated {
    /// `group: user=root; value: 3; events: a.evtx#12, a.evtx#15 …`, for the table and CSV.
    fn details(&self, set: &CompiledRuleSet, name: impl Fn(&Path) -> String) -> String {
        const SHOWN: usize = 10;
        let mut events: Vec<String> = self
            .records
            .iter()
            .take(SHOWN)
            .map(|(file, record)| format!("{}#{record}", name(file)))
            .collect();
        if self.records.len() > SHOWN {
            events.push(format!("and {} more", self.records.len() - SHOWN));
        }
        format!(
            "group: {}; value: {}; events: {}",
            self.found.group_text(set),
            self.found.value,
            events.join(", ")
        )
    }
}

/// Feeds the matched events of all files to the correlator in timestamp order.
pub fn correlate(
    set: &CompiledRuleSet,
    mut matched: Vec<MatchedEvent>,
    fields: Option<&FieldMapping>,
) -> Vec<Correlated> {
    let mut out = Vec::new();
    if set.correlation_count() == 0 {
        return Vec::new();
    }
    matched.sort_by_key(|m| m.timestamp);
    let mut correlator = Correlator::new(set);
    for (i, m) in matched.iter().enumerate() {
        match fields {
            Some(fields) => {
                let event = MappedEvent::new(m.event.as_ref(), fields);
                correlator.feed(m.timestamp, &event, &m.rules, i as u64, &mut out);
            }
            None => correlator.feed(m.timestamp, m.event.as_ref(), &m.rules, i as u64, &mut out),
        }
    }
    out.into_iter()
        .map(|found| Correlated {
            records: found
                .events
                .iter()
                .filter_map(|&i| matched.get(i as usize))
                .map(|m| (m.file.clone(), m.record_id))
                .collect(),
            found,
        })
        .collect()
}

/// Writes the table of the rule matches' rows and the correlations; "no matches" when there
/// are none.
pub fn write_table(
    out: &mut impl Write,
    set: &CompiledRuleSet,
    rows: Vec<Row>,
    correlations: &[Correlated],
    inputs: &[PathBuf],
) -> anyhow::Result<()> {
    use comfy_table::{
        ColumnConstraint, ContentArrangement, Table, Width, presets::UTF8_FULL_CONDENSED,
    };
    if rows.is_empty() && correlations.is_empty() {
        writeln!(out, "no matches")?;
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_content_arrangement(ContentArrangement::Dynamic);
    table.set_header([
        "time", "level", "rule", "computer", "file", "record", "details",
    ]);
    for row in rows {
        table.add_row(row);
    }
    for c in correlations {
        let rule = set.rule(c.found.rule);
        table.add_row([
            format_timestamp(c.found.timestamp_ms),
            rule.level().as_str().to_string(),
            rule.title().to_string(),
            String::new(),
            "(correlation)".to_string(),
            String::new(),
            c.details(set, |f| short_path(f, inputs)),
        ]);
    }
    // A narrow terminal wraps the long columns (rule, computer, file, details), never the
    // time, the level or the record number: those keep the width of their longest cell.
    for column in [0, 1, 5] {
        let Some(widest) = table
            .column_max_content_widths()
            .get(column)
            .map(|w| *w + 2)
        else {
            continue;
        };
        if let Some(c) = table.column_mut(column) {
            c.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(widest)));
        }
    }
    writeln!(out, "{table}")?;
    Ok(())
}

/// Writes the correlations as JSON lines, after the rule matches.
pub fn write_jsonl_correlations(
    out: &mut impl Write,
    set: &CompiledRuleSet,
    correlations: &[Correlated],
) -> anyhow::Result<()> {
    for c in correlations {
        let rule = set.rule(c.found.rule);
        let events: Vec<Value> = c
            .records
            .iter()
            .map(|(file, record)| json!({"file": file.display().to_string(), "record_id": record}))
            .collect();
        let line = json!({
            "timestamp": format_timestamp(c.found.timestamp_ms),
            "rule_id": rule.id(),
            "rule_title": rule.title(),
            "level": rule.level().as_str(),
            "correlation": {
                "group_by": set.correlation_shape(c.found.rule).map(|shape| shape.group_by),
                "group": c.found.group,
                "value": c.found.value,
                "events": events,
            },
        });
        serde_json::to_writer(&mut *out, &line)?;
        writeln!(out)?;
    }
    Ok(())
}

/// Writes the correlations as CSV rows, after the rule matches.
pub fn write_csv_correlations(
    out: &mut impl Write,
    set: &CompiledRuleSet,
    correlations: &[Correlated],
) -> anyhow::Result<()> {
    let mut text = Vec::new();
    for c in correlations {
        let rule = set.rule(c.found.rule);
        let row = [
            format_timestamp(c.found.timestamp_ms),
            rule.id().to_string(),
            rule.title().to_string(),
            rule.level().as_str().to_string(),
            String::new(),
            String::new(),
            String::new(),
            c.details(set, |f| f.display().to_string()),
        ];
        write_csv_row(&mut text, &row);
    }
    out.write_all(&text)?;
    Ok(())
}

/// Fields shown in the table's details column when present, in this order (the first three
/// found).
const KEY_FIELDS: &[&str] = &[
    "CommandLine",
    "Image",
    "ParentImage",
    "TargetFilename",
    "TargetObject",
    "Details",
    "QueryName",
    "DestinationIp",
    "DestinationPort",
    "TargetUserName",
    "SubjectUserName",
    "IpAddress",
    "LogonType",
    "ServiceName",
    "ImagePath",
    "ScriptBlockText",
    "ImageLoaded",
    "PipeName",
    // Other logs: web (W3C and Elastic Common Schema names), processes, syslog.
    "cs-uri-query",
    "c-uri",
    "url.original",
    "url.query",
    "url.path",
    "process.command_line",
    "user.name",
    "source.ip",
    "c-useragent",
    "user_agent.original",
    "message",
];

fn computer(event: &JsonEvent) -> String {
    for f in ["Computer", "host.name", "hostname", "host"] {
        if let Some(v) = event.lookup(f) {
            return text(v);
        }
    }
    String::new()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Object(o) => o.get("#text").map(text).unwrap_or_else(|| v.to_string()),
        other => other.to_string(),
    }
}

fn details(event: &JsonEvent) -> String {
    let mut parts = Vec::new();
    for f in KEY_FIELDS {
        if let Some(v) = event.lookup(f) {
            let mut t = text(v);
            if t.is_empty() {
                continue;
            }
            if t.chars().count() > 120 {
                t = t.chars().take(117).collect::<String>() + "...";
            }
            parts.push(format!("{f}: {t}"));
            if parts.len() == 3 {
                break;
            }
        }
    }
    parts.join("\n")
}

fn time_text(ts: Option<i64>) -> String {
    ts.map(format_timestamp).unwrap_or_default()
}

/// How a file is named in the table: its path below the folder given on the command line that
/// holds it, or its file name when it was given itself. The whole path is in `--format jsonl`
/// and `csv`; in a table it would be most of every row.
fn short_path(file: &Path, inputs: &[PathBuf]) -> String {
    inputs
        .iter()
        .filter(|input| input.as_path() != file)
        .find_map(|input| file.strip_prefix(input).ok())
        .filter(|rest| !rest.as_os_str().is_empty())
        .or_else(|| file.file_name().map(Path::new))
        .unwrap_or(file)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_name_files_below_the_folder_given() {
        let inputs = [PathBuf::from("logs/dc1"), PathBuf::from("/tmp/one.evtx")];
        let short = |p: &str| short_path(Path::new(p), &inputs);
        assert_eq!(short("logs/dc1/2024/security.evtx"), "2024/security.evtx");
        // A file given itself, or found under no input, is named by its file name.
        assert_eq!(short("/tmp/one.evtx"), "one.evtx");
        assert_eq!(short("elsewhere/x.jsonl"), "x.jsonl");
    }

    #[test]
    fn csv_fields_are_quoted_when_they_must_be() {
        let mut out = Vec::new();
        let row = ["a,b", "say \"hi\"", "plain", "two\nlines"].map(String::from);
        write_csv_row(&mut out, &row);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a,b\",\"say \"\"hi\"\"\",plain,\"two\nlines\"\n"
        );
    }
}
