//! How `vigil hunt` writes what it found: each match rendered by the thread that found it (a
//! JSON line, a CSV row or a table row), correlations after the scan.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use vigil_detect::{CompiledRuleSet, Correlator, FieldMapping, MappedEvent, RuleId, RuleMeta};
use vigil_events::json::JsonEvent;
use vigil_events::time::{LocalZone, format_timestamp, format_timestamp_in};
use vigil_sigma::Level;

use super::Format;
use super::scan::MatchedEvent;
use crate::output::{Cell, KEY_FIELDS, Lines};

/// A row of the table: time, level, rule, computer, file, record, details; made safe to show
/// by the thread that found the match.
pub type Row = [Cell; 7];

/// Renders matches in the output format as they are found, so that the threads that find them
/// share the work and a match is kept as its output, not as its event.
#[derive(Clone, Copy)]
pub struct Renderer<'a> {
    pub format: Format,
    /// The paths given on the command line, against which the table shortens file names.
    pub inputs: &'a [PathBuf],
    /// The zone the table shows times in (--timezone); JSON lines and CSV keep UTC.
    pub zone: &'a LocalZone,
}

/// Matches rendered: output text (JSON lines, CSV rows) or table rows, and what they add up to.
#[derive(Default)]
pub struct Rendered {
    pub text: Vec<u8>,
    pub rows: Vec<Row>,
    pub tally: Tally,
}

/// What the matches of a hunt add up to, for the summary a responder reads first: matches per
/// level, the rules and the computers with the most, and when the matched events happened.
#[derive(Default)]
pub struct Tally {
    rules: HashMap<RuleId, u64>,
    computers: HashMap<String, u64>,
    /// The earliest and latest timestamps of the matched events.
    span: Option<(i64, i64)>,
}

/// Rules and computers listed in the summary.
const TOP: usize = 5;

impl Tally {
    /// The rules that matched, with how many matches each.
    pub fn matched_rules(&self) -> impl Iterator<Item = (RuleId, u64)> + '_ {
        self.rules.iter().map(|(&rule, &n)| (rule, n))
    }

    fn add(&mut self, rule: RuleId, computer: &str, timestamp: Option<i64>) {
        *self.rules.entry(rule).or_default() += 1;
        match self.computers.get_mut(computer) {
            Some(n) => *n += 1,
            None => {
                self.computers.insert(computer.to_owned(), 1);
            }
        }
        if let Some(t) = timestamp {
            self.span = Some(self.span.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
        }
    }

    /// Counts the correlations that fired like rule matches: per level, per rule, and under the
    /// computer of the event that completed each (the one its line names).
    pub fn add_correlations(&mut self, correlations: &[Correlated]) {
        for c in correlations {
            self.add(c.found.rule, &c.computer, Some(c.found.timestamp_ms));
        }
    }

    pub fn merge(&mut self, other: Tally) {
        for (rule, n) in other.rules {
            *self.rules.entry(rule).or_default() += n;
        }
        for (computer, n) in other.computers {
            *self.computers.entry(computer).or_default() += n;
        }
        if let Some((a, b)) = other.span {
            self.span = Some(self.span.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
        }
    }

    /// The summary, one fact per line, its times in `zone`; nothing when nothing matched.
    pub fn summary(&self, set: &CompiledRuleSet, zone: &LocalZone) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        if self.rules.is_empty() {
            return out;
        }
        let mut levels = [0u64; 5];
        for (&rule, &n) in &self.rules {
            levels[set.rule(rule).level() as usize] += n;
        }
        let by_level: Vec<String> = [
            Level::Critical,
            Level::High,
            Level::Medium,
            Level::Low,
            Level::Informational,
        ]
        .into_iter()
        .filter(|&l| levels[l as usize] > 0)
        .map(|l| format!("{} {}", levels[l as usize], l.as_str()))
        .collect();
        let _ = writeln!(out, "matches by level: {}", by_level.join(", "));
        // One line per rule id: the parts of a Sigma collection (a document per log it reads)
        // are one rule to the reader, as their JSON lines say.
        let mut by_id: HashMap<&str, (RuleId, u64)> = HashMap::new();
        let mut unnamed: Vec<(RuleId, u64)> = Vec::new();
        for (&rule, &n) in &self.rules {
            match set.rule(rule).id() {
                "" => unnamed.push((rule, n)),
                id => {
                    let entry = by_id.entry(id).or_insert((rule, 0));
                    entry.0 = entry.0.min(rule);
                    entry.1 += n;
                }
            }
        }
        // Most first; ties by level (worst first), then title, so the list is stable.
        let mut rules: Vec<(RuleId, u64)> = by_id.into_values().chain(unnamed).collect();
        rules.sort_by(|a, b| {
            let (ra, rb) = (set.rule(a.0), set.rule(b.0));
            (b.1, rb.level(), ra.title()).cmp(&(a.1, ra.level(), rb.title()))
        });
        let _ = writeln!(
            out,
            "rules with the most matches ({} matched):",
            crate::output::plural(rules.len() as u64, "rule", "rules")
        );
        for (rule, n) in rules.iter().take(TOP) {
            let rule = set.rule(*rule);
            let level = rule.level().as_str();
            let _ = writeln!(
                out,
                "  {n:>8}  {level:<13}  {}",
                crate::output::one_line(rule.title())
            );
        }
        let mut computers: Vec<(&str, u64)> = self
            .computers
            .iter()
            .map(|(c, &n)| (c.as_str(), n))
            .collect();
        computers.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        // Every match counts under a computer, "(none named)" when its event names none.
        if !computers.is_empty() {
            let _ = writeln!(
                out,
                "computers with the most matches ({} in all):",
                computers.len()
            );
        }
        for (computer, n) in computers.iter().take(TOP) {
            let name = if computer.is_empty() {
                "(none named)".into()
            } else {
                crate::output::one_line(computer)
            };
            let _ = writeln!(out, "  {n:>8}  {name}");
        }
        if let Some((first, last)) = self.span {
            let _ = writeln!(
                out,
                "matched events from {} to {}",
                format_timestamp_in(first, zone),
                format_timestamp_in(last, zone)
            );
        }
        out
    }
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
        let host = computer(m.event);
        out.tally.add(m.rule, &host, m.timestamp);
        match self.format {
            Format::Table => out.rows.push([
                m.timestamp
                    .map(|t| format_timestamp_in(t, self.zone))
                    .unwrap_or_default()
                    .into(),
                rule.level().as_str().into(),
                rule.title().into(),
                host.into(),
                short_path(m.file, self.inputs).into(),
                m.record_id.to_string().into(),
                Lines(table_details(&details_for(rule, m.event))).into(),
            ]),
            Format::Jsonl => {
                let line = MatchLine {
                    timestamp: m.timestamp.map(format_timestamp),
                    rule_id: rule.id(),
                    rule_title: rule.title(),
                    level: rule.level().as_str(),
                    file: m.file.to_string_lossy(),
                    record_id: m.record_id,
                    tags: &rule.meta.tags,
                    logsource: LogsourceLine {
                        product: rule.logsource.product.as_deref(),
                        category: rule.logsource.category.as_deref(),
                        service: rule.logsource.service.as_deref(),
                    },
                    found: super::terms::term_of(rule).and_then(|term| {
                        let (field, value) =
                            super::terms::value_holding(m.event.value(), &term.to_lowercase())?;
                        Some(FoundLine { field, value })
                    }),
                };
                // Strings and numbers into memory: this cannot fail.
                serde_json::to_writer(&mut out.text, &line)
                    .expect("a match line is written into memory");
                // The event last, written from the document as parsed (converting it to a
                // `Value` to write it cost more than the hunt's matching).
                out.text.pop();
                out.text.extend_from_slice(b",\"event\":");
                m.event.write_json(&mut out.text);
                out.text.extend_from_slice(b"}\n");
            }
            Format::Csv => {
                let row = [
                    time_text(m.timestamp),
                    rule.id().to_string(),
                    rule.title().to_string(),
                    rule.level().as_str().to_string(),
                    host,
                    m.file.display().to_string(),
                    m.record_id.to_string(),
                    csv_details(&details_for(rule, m.event)),
                ];
                crate::output::csv_row(&mut out.text, &row);
            }
        }
    }
}

/// A rule match as a JSON line, before its event; written straight from the rule and the match
/// (a `json!` value built for each match cost as much as the rest of writing it).
#[derive(serde::Serialize)]
struct MatchLine<'a> {
    timestamp: Option<String>,
    rule_id: &'a str,
    rule_title: &'a str,
    level: &'a str,
    file: std::borrow::Cow<'a, str>,
    record_id: u64,
    tags: &'a [String],
    logsource: LogsourceLine<'a>,
    /// For a `--search` match: the field and value the term was found in.
    #[serde(skip_serializing_if = "Option::is_none")]
    found: Option<FoundLine>,
}

#[derive(serde::Serialize)]
struct FoundLine {
    field: String,
    value: String,
}

#[derive(serde::Serialize)]
struct LogsourceLine<'a> {
    product: Option<&'a str>,
    category: Option<&'a str>,
    service: Option<&'a str>,
}

/// The CSV header line.
pub const CSV_HEADER: &str = "timestamp,rule_id,rule_title,level,computer,file,record_id,details\n";

/// A correlation that fired, with the records of the events that made it.
pub struct Correlated {
    pub found: vigil_detect::CorrelationMatch,
    pub records: Vec<(Arc<Path>, u64)>,
    /// The computer of the event that completed it (the last of `records`).
    pub computer: String,
}

impl Correlated {
    /// The file and record of the event that completed the correlation.
    fn last(&self) -> Option<&(Arc<Path>, u64)> {
        self.records.last()
    }

    /// `group: user=root; value: 3; events: a.evtx#12, a.evtx#15 …`, for the table and CSV.
    fn details(&self, set: &CompiledRuleSet, name: impl Fn(&Path) -> String) -> String {
        let events = self
            .records
            .iter()
            .map(|(file, record)| format!("{}#{record}", name(file)));
        format!(
            "group: {}; value: {}; events: {}",
            self.found.group_text(set),
            self.found.value,
            crate::output::first_of(events, 10)
        )
    }
}

/// Feeds the matched events of all files to the correlator in timestamp order.
pub fn correlate(
    set: &CompiledRuleSet,
    mut matched: Vec<MatchedEvent>,
    fields: Option<&FieldMapping>,
    web_fields: Option<&FieldMapping>,
) -> Vec<Correlated> {
    let mut out = Vec::new();
    if set.correlation_count() == 0 {
        return Vec::new();
    }
    matched.sort_by_key(|m| m.timestamp);
    let mut correlator = Correlator::new(set);
    for (i, m) in matched.iter().enumerate() {
        match m.mapping.of(fields, web_fields) {
            Some(fields) => {
                let event = MappedEvent::new(m.event.as_ref(), fields);
                correlator.feed(m.timestamp, &event, &m.rules, i as u64, &mut out);
            }
            None => correlator.feed(m.timestamp, m.event.as_ref(), &m.rules, i as u64, &mut out),
        }
    }
    // The files end here: windows still open are decided (counts bounded from above), and
    // the correlations listed in time order.
    correlator.finish(&mut out);
    out.sort_by_key(|found| found.timestamp_ms);
    out.into_iter()
        .map(|found| {
            let events: Vec<&MatchedEvent> = found
                .events
                .iter()
                .filter_map(|&i| matched.get(i as usize))
                .collect();
            Correlated {
                records: events
                    .iter()
                    .map(|m| (m.file.clone(), m.record_id))
                    .collect(),
                computer: events
                    .last()
                    .map(|m| computer(&m.event))
                    .unwrap_or_default(),
                found,
            }
        })
        .collect()
}

/// Writes the table of the rule matches' rows and the correlations, and how many matches
/// were left out of it; "no matches" when there are none.
pub fn write_table(
    out: &mut impl Write,
    set: &CompiledRuleSet,
    rows: Vec<Row>,
    not_shown: u64,
    correlations: &[Correlated],
    inputs: &[PathBuf],
    zone: &LocalZone,
) -> anyhow::Result<()> {
    use comfy_table::{ColumnConstraint, Width};
    if rows.is_empty() && correlations.is_empty() {
        writeln!(out, "no matches")?;
        return Ok(());
    }
    let mut table = crate::output::table([
        format!("time ({zone})").as_str(),
        "level",
        "rule",
        "computer",
        "file",
        "record",
        "details",
    ]);
    for row in rows {
        table.add_row(row);
    }
    for c in correlations {
        let rule = set.rule(c.found.rule);
        table.add_row([
            format_timestamp_in(c.found.timestamp_ms, zone),
            rule.level().as_str().to_string(),
            rule.title().to_string(),
            c.computer.clone(),
            "(correlation)".to_string(),
            String::new(),
            c.details(set, |f| short_path(f, inputs)),
        ]);
    }
    // A narrow terminal wraps the long columns (rule, computer, file, details), never the
    // time, the level or the record number: those keep the width of their longest cell.
    for column in [0, 1, 5] {
        let layout = table.layout();
        let Some(widest) = layout
            .column_max_content_widths()
            .get(column)
            .map(|w| *w + 2)
        else {
            continue;
        };
        if let Some(c) = layout.column_mut(column) {
            c.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(widest)));
        }
    }
    writeln!(out, "{table}")?;
    if not_shown > 0 {
        writeln!(
            out,
            "… and {not_shown} more rule matches not in this table (the summary counts them all)"
        )?;
    }
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
        let (file, record_id) = match c.last() {
            Some((file, record)) => (Some(file.display().to_string()), Some(*record)),
            None => (None, None),
        };
        let line = json!({
            "timestamp": format_timestamp(c.found.timestamp_ms),
            "rule_id": rule.id(),
            "rule_title": rule.title(),
            "level": rule.level().as_str(),
            "computer": c.computer,
            "file": file,
            "record_id": record_id,
            "tags": rule.meta.tags,
            "logsource": LogsourceLine {
                product: rule.logsource.product.as_deref(),
                category: rule.logsource.category.as_deref(),
                service: rule.logsource.service.as_deref(),
            },
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
            c.computer.clone(),
            c.last()
                .map(|(file, _)| file.display().to_string())
                .unwrap_or_default(),
            c.last()
                .map(|(_, record)| record.to_string())
                .unwrap_or_default(),
            c.details(set, |f| f.display().to_string()),
        ];
        crate::output::csv_row(&mut text, &row);
    }
    out.write_all(&text)?;
    Ok(())
}

/// The machine a match happened on, as ingest names an event's host ([`JsonEvent::host`]), so
/// that a hunt and the server agree (a Linux audit record's `node`, not its `hostname`: the
/// remote end of a login).
fn computer(event: &JsonEvent) -> String {
    event.host().unwrap_or_default()
}

/// What a match's details column shows, a part per field, each `Field: value`: for a
/// `--search` match, first the value the term was found in (the reason the event is listed;
/// the key fields may not hold it); else the fields the rule's detection names (what it matched
/// on) and those its author asks to show an analyst (Sigma's `fields`), when the event has
/// them; filled up with the usual key fields. Values are whole: a table shortens them itself
/// ([`shorten`]), CSV keeps them.
fn details_for(rule: &RuleMeta, event: &JsonEvent) -> Vec<(String, String)> {
    if let Some(term) = super::terms::term_of(rule) {
        let found = super::terms::value_holding(event.value(), &term.to_lowercase());
        return details_from(event, found.into_iter().collect());
    }
    let mut chosen: Vec<(String, String)> = Vec::new();
    for f in rule.detection_fields.iter().chain(&rule.meta.fields) {
        if chosen.len() == RULE_FIELDS_SHOWN {
            break;
        }
        // The envelope a rule picks its events by says what kind of event this is, which its
        // title says too.
        if ENVELOPE.contains(&f.as_str()) || chosen.iter().any(|(name, _)| name == f) {
            continue;
        }
        // An empty value the event has is shown as `""`: a rule may match on it (`StartModule:
        // ''`), and then it is why the event is listed.
        if let Some(text) = event.lookup_text(f) {
            let text = if text.is_empty() {
                "\"\"".to_owned()
            } else {
                text
            };
            chosen.push((f.clone(), text));
        }
    }
    details_from(event, chosen)
}

/// Fields that name the kind of event rather than what happened.
const ENVELOPE: &[&str] = &["EventID", "Channel", "Provider_Name", "EventType"];

/// How many of a rule's fields the details show.
const RULE_FIELDS_SHOWN: usize = 5;

/// Key fields shown after the rule's own, up to this many parts in all.
const KEY_FIELDS_SHOWN: usize = 3;

/// A value cut to 120 characters, for a terminal's table.
fn shorten(text: &str) -> String {
    if text.chars().count() > 120 {
        text.chars().take(117).collect::<String>() + "..."
    } else {
        text.to_owned()
    }
}

/// `parts` joined as the table shows them: each value shortened, a line each.
fn table_details(parts: &[(String, String)]) -> Vec<String> {
    parts.iter().map(|(f, t)| part(f, &shorten(t))).collect()
}

/// `parts` joined as CSV keeps them: whole, separated by `; `.
fn csv_details(parts: &[(String, String)]) -> String {
    let parts: Vec<String> = parts.iter().map(|(f, t)| part(f, t)).collect();
    parts.join("; ")
}

fn part(field: &str, text: &str) -> String {
    if field.is_empty() {
        text.to_owned()
    } else {
        format!("{field}: {text}")
    }
}

/// `first` (field names and their values), filled up with the key fields of `event` to
/// [`KEY_FIELDS_SHOWN`] parts.
fn details_from(event: &JsonEvent, first: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut parts = first;
    for f in KEY_FIELDS {
        if parts.len() >= KEY_FIELDS_SHOWN {
            break;
        }
        if let Some(t) = event.lookup_text(f) {
            // Nothing, or nothing new: the query that ends a URL shown, the image that opens a
            // command line (a value met mid-text, as an IP in a URL, is still its own field).
            let said = |(name, s): &(String, String)| {
                let s = s.strip_prefix('"').unwrap_or(s);
                name == f || s.starts_with(t.as_str()) || s.ends_with(t.as_str())
            };
            if t.is_empty() || parts.iter().any(said) {
                continue;
            }
            parts.push(((*f).to_owned(), t));
        }
    }
    parts
}

fn time_text(ts: Option<i64>) -> String {
    ts.map(format_timestamp).unwrap_or_default()
}

/// How a file is named in the table: its path below the folder given on the command line that
/// holds it, or its file name when it was given itself. The whole path is in `--format jsonl`
/// and `csv`; in a table it would be most of every row.
pub fn short_path(file: &Path, inputs: &[PathBuf]) -> String {
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

    /// Two parts' tallies merged: levels worst first, rules and computers by count (ties by
    /// level, then name), the span of the matched events.
    #[test]
    fn the_summary_adds_up_the_matches_of_every_part() {
        let dir = tempfile::tempdir().unwrap();
        for (file, title, level) in [("a.yml", "Loud", "low"), ("b.yml", "Rare", "high")] {
            std::fs::write(
                dir.path().join(file),
                format!("title: {title}\nlogsource: {{product: windows}}\ndetection:\n  s: {{EventID: 1}}\n  condition: s\nlevel: {level}\n"),
            )
            .unwrap();
        }
        let set = crate::ruleset::load(&[dir.path().to_path_buf()])
            .unwrap()
            .set;
        let id = |title: &str| {
            (0..set.rules().len() as u32)
                .map(RuleId)
                .find(|&r| set.rule(r).title() == title)
                .unwrap()
        };
        assert_eq!(Tally::default().summary(&set, &LocalZone::UTC), "");
        let (loud, rare) = (id("Loud"), id("Rare"));
        let mut total = Tally::default();
        let mut part = Tally::default();
        part.add(loud, "WS1", Some(2_000));
        part.add(loud, "WS1", None);
        part.add(rare, "", Some(1_000));
        total.merge(part);
        let mut part = Tally::default();
        part.add(loud, "DC1", Some(5_000));
        part.add(rare, "DC1", Some(3_000));
        part.add(rare, "WS1", None);
        total.merge(part);
        assert_eq!(
            total.summary(&set, &LocalZone::UTC),
            "matches by level: 3 high, 3 low\n\
             rules with the most matches (2 rules matched):\n\
             \x20        3  high           Rare\n\
             \x20        3  low            Loud\n\
             computers with the most matches (3 in all):\n\
             \x20        3  WS1\n\
             \x20        2  DC1\n\
             \x20        1  (none named)\n\
             matched events from 1970-01-01T00:00:01.000Z to 1970-01-01T00:00:05.000Z\n"
        );
    }

    /// The parts of a Sigma collection share its id: the summary counts them as one rule.
    #[test]
    fn the_summary_counts_a_collection_as_one_rule() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("c.yml"),
            "action: global\ntitle: Remote Service\nid: 0b1d0bd5-7a4e-4c1e-9a7b-2f6e3c1d9a01\nlevel: high\ndetection:\n  s: {ServiceName: x}\n  condition: s\n---\nlogsource: {product: windows, service: system}\n---\nlogsource: {product: windows, service: security}\n",
        )
        .unwrap();
        let set = crate::ruleset::load(&[dir.path().to_path_buf()])
            .unwrap()
            .set;
        assert_eq!(set.rules().len(), 2, "a part per logsource");
        let mut tally = Tally::default();
        tally.add(RuleId(0), "DC1", None);
        tally.add(RuleId(1), "DC1", None);
        tally.add(RuleId(1), "DC1", None);
        let summary = tally.summary(&set, &LocalZone::UTC);
        assert!(
            summary.contains("(1 rule matched):\n         3  high           Remote Service\n"),
            "{summary}"
        );
    }

    #[test]
    fn csv_fields_are_quoted_when_they_must_be() {
        let mut out = Vec::new();
        let row = ["a,b", "say \"hi\"", "plain", "two\nlines"].map(String::from);
        crate::output::csv_row(&mut out, &row);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a,b\",\"say \"\"hi\"\"\",plain,\"two\nlines\"\n"
        );
    }
}
