//! `vigil hunt --rules DIR PATH...`: run a compiled Sigma rule set over log files and folders
//! (EVTX, JSON lines, JSON arrays, gzip) and print the matches.
//!
//! Files are decoded and matched in parallel (one matcher per thread, one compiled set shared);
//! matches are printed in a deterministic order: by file (sorted paths), then by record, then
//! by rule. Correlation rules see the matched events of all files in timestamp order after the
//! scan. Exit code 0 with or without matches; 1 on no rules or an unreadable path; 2 on
//! arguments the parser refuses. A corrupt file or record is reported on stderr and skipped.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use rayon::prelude::*;
use serde_json::{Value, json};
use vigil_detect::{
    CompiledRuleSet, Correlator, FieldMapping, Logsource, MappedEvent, Matcher, RuleId,
};
use vigil_events::json::JsonEvent;
use vigil_events::source::{
    DecodeError, InputFile, LINES_PIECE_BYTES, LinesFile, LinesPiece, Opened, open_file,
};
use vigil_events::time::{format_timestamp, parse_timestamp};
use vigil_events::{RecordSource, collect_files};
use vigil_sigma::Level;

use crate::output::plural;
use crate::ruleset;

/// Output formats of `vigil hunt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable table.
    Table,
    /// One JSON object per match.
    Jsonl,
    /// CSV with a header line.
    Csv,
}

/// Arguments of `vigil hunt`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A Sigma rule file or folder; may be given several times.
    #[arg(long = "rules", short = 'r', required = true)]
    rules: Vec<PathBuf>,
    /// Log files or folders (EVTX, JSON lines, JSON arrays; gzip-compressed or not).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Report only matches of rules at this level or above
    /// (informational, low, medium, high, critical).
    #[arg(long, value_parser = parse_level)]
    level: Option<Level>,
    /// Only events at or after this time (RFC 3339, e.g. 2019-04-27T00:00:00Z).
    #[arg(long, value_parser = parse_time)]
    from: Option<i64>,
    /// Only events before this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    to: Option<i64>,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// What the JSON logs are, as a Sigma logsource (`product=linux,service=auth`,
    /// `category=webserver`): only the rules written for it then see them. May be given
    /// several times (a log of any of them). EVTX records go by their Channel regardless.
    #[arg(long = "logsource", value_name = "KEY=VALUE,...", value_parser = parse_logsource)]
    logsources: Vec<Logsource>,
    /// Where the JSON logs hold a field the rules name: `cs-uri-query=url.query` (the rule's
    /// name, then the event's JSON path). May be given several times.
    #[arg(long = "field-map", value_name = "RULE_FIELD=PATH", value_parser = parse_field_map)]
    field_map: Vec<(String, String)>,
}

/// Reads `cs-uri-query=url.query`.
fn parse_field_map(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((rule, path)) if !rule.trim().is_empty() && !path.trim().is_empty() => {
            Ok((rule.trim().to_owned(), path.trim().to_owned()))
        }
        _ => Err(format!(
            "{s:?} is not RULE_FIELD=PATH; write e.g. cs-uri-query=url.query"
        )),
    }
}

/// Reads `product=linux,service=auth` as a logsource.
fn parse_logsource(s: &str) -> Result<Logsource, String> {
    let mut ls = Logsource::default();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = part.split_once('=') else {
            return Err(format!(
                "{part:?} is not KEY=VALUE; write e.g. product=linux,service=auth"
            ));
        };
        let value = value.trim();
        if value.is_empty() || value.contains(char::is_whitespace) {
            return Err(format!(
                "{value:?} is not a logsource name for {key}; Sigma's are single words such as linux, webserver or auth"
            ));
        }
        let slot = match key.trim() {
            "product" => &mut ls.product,
            "category" => &mut ls.category,
            "service" => &mut ls.service,
            other => {
                return Err(format!(
                    "unknown logsource key {other:?}; use product, category or service"
                ));
            }
        };
        *slot = Some(value.to_owned());
    }
    if ls == Logsource::default() {
        return Err(
            "names no log; give product, category or service, e.g. category=webserver".into(),
        );
    }
    Ok(ls)
}

fn parse_level(s: &str) -> Result<Level, String> {
    Level::parse(s).ok_or_else(|| {
        format!("unknown level {s:?}; use informational, low, medium, high or critical")
    })
}

fn parse_time(s: &str) -> Result<i64, String> {
    parse_timestamp(s).ok_or_else(|| {
        format!("cannot read {s:?} as a time; use RFC 3339, e.g. 2019-04-27T15:57:25Z")
    })
}

/// One rule match.
pub struct Hit {
    pub timestamp: Option<i64>,
    pub rule: RuleId,
    pub file: Arc<Path>,
    pub record_id: u64,
    /// The matched event's JSON text, shared by its hits and parsed again for output: a
    /// parsed event costs several times its text, and a hunt keeps every match until the end.
    pub event: Arc<str>,
}

impl Hit {
    /// The matched event, parsed again from its text.
    fn parsed(&self) -> anyhow::Result<JsonEvent> {
        JsonEvent::parse(&self.event).with_context(|| {
            format!(
                "the matched event {}#{} no longer parses",
                self.file.display(),
                self.record_id
            )
        })
    }
}

/// What scanning one file produced.
#[derive(Default)]
pub struct FileScan {
    pub hits: Vec<Hit>,
    pub events: u64,
    pub bytes: u64,
    pub errors: Vec<DecodeError>,
    /// Matched events with their rules, for correlation.
    pub matched: Vec<MatchedEvent>,
}

/// A matched event kept for the correlation rules.
pub struct MatchedEvent {
    pub timestamp: i64,
    pub event: Arc<JsonEvent>,
    pub rules: Vec<RuleId>,
    pub file: Arc<Path>,
    pub record_id: u64,
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

/// Time bounds, what the logs are and what to keep while scanning.
#[derive(Clone, Copy)]
pub struct ScanOptions<'a> {
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// The logsources the logs are declared to be (empty: unknown).
    pub logsources: &'a [Logsource],
    /// Where the logs hold the fields rules name (`None`: under the rules' names).
    pub fields: Option<&'a FieldMapping>,
    pub keep_for_correlation: bool,
    /// Matches of rules below this level are not kept (correlations still count them).
    pub min_level: Option<Level>,
    /// Size of the pieces JSON-lines files are read in ([`LINES_PIECE_BYTES`]).
    pub piece_bytes: usize,
    /// Told how many events each file, or each piece of a large one, held: the progress bar
    /// moves while one large file is read.
    pub on_events: &'a (dyn Fn(u64) + Sync),
}

impl FileScan {
    /// Appends what a later piece of the same file found.
    fn append(&mut self, later: FileScan) {
        self.hits.extend(later.hits);
        self.events += later.events;
        self.bytes += later.bytes;
        self.errors.extend(later.errors);
        self.matched.extend(later.matched);
    }
}

/// Decodes and matches one file with `matcher` (one per thread, reused from file to file so
/// that its scratch stays warm). JSON lines are read in pieces: a large file takes every core
/// and only a few pieces of memory. Errors are collected in the result, never raised.
pub fn scan_file(matcher: &mut Matcher<'_>, file: &InputFile, opts: ScanOptions<'_>) -> FileScan {
    let mut scan = FileScan::default();
    let path: Arc<Path> = Arc::from(file.path.as_path());
    match open_file(&file.path, opts.piece_bytes) {
        Err(e) => scan.errors.push(e),
        Ok(Opened::Unknown) => {
            if file.must_decode() {
                scan.errors.push(DecodeError::UnknownFormat {
                    path: file.path.clone(),
                });
            }
        }
        Ok(Opened::Whole(format, data)) => {
            scan.bytes = data.len() as u64;
            match RecordSource::new(path, format, data) {
                Ok(source) => scan_source(matcher, source, opts, &mut scan),
                Err(e) => scan.errors.push(e),
            }
        }
        Ok(Opened::Lines(pieces)) => return scan_pieces(matcher, path, pieces, opts, scan),
    }
    (opts.on_events)(scan.events);
    scan
}

/// The pieces of a JSON-lines file: the first with this thread's matcher (most files have
/// only one), the rest shared among the threads, then put back in file order.
fn scan_pieces(
    matcher: &mut Matcher<'_>,
    path: Arc<Path>,
    pieces: LinesFile,
    opts: ScanOptions<'_>,
    mut scan: FileScan,
) -> FileScan {
    let scan_piece = |matcher: &mut Matcher<'_>, piece: Result<LinesPiece, DecodeError>| {
        let mut part = FileScan::default();
        match piece {
            Ok(piece) => {
                part.bytes = piece.data.len() as u64;
                let source = RecordSource::lines(path.clone(), piece);
                scan_source(matcher, source, opts, &mut part);
            }
            Err(e) => part.errors.push(e),
        }
        (opts.on_events)(part.events);
        part
    };
    let mut pieces = pieces.peekable();
    let Some(first) = pieces.next() else {
        return scan;
    };
    scan.append(scan_piece(matcher, first));
    if pieces.peek().is_none() {
        return scan;
    }
    let set = matcher.rule_set();
    let mut rest: Vec<(usize, FileScan)> = pieces
        .enumerate()
        .par_bridge()
        .map_init(
            || set.matcher(),
            |m, (at, piece)| (at, scan_piece(m, piece)),
        )
        .collect();
    rest.sort_unstable_by_key(|(at, _)| *at);
    for (_, part) in rest {
        scan.append(part);
    }
    scan
}

/// Matches every record of a source, appending to `scan`.
pub fn scan_source(
    matcher: &mut Matcher<'_>,
    source: RecordSource,
    opts: ScanOptions<'_>,
    scan: &mut FileScan,
) {
    let set = matcher.rule_set();
    for record in source {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                scan.errors.push(e);
                continue;
            }
        };
        scan.events += 1;
        if opts.from.is_some() || opts.to.is_some() {
            let Some(ts) = record.timestamp else { continue };
            if opts.from.is_some_and(|f| ts < f) || opts.to.is_some_and(|t| ts >= t) {
                continue;
            }
        }
        let event = record.event;
        let matched = match opts.fields {
            Some(fields) => {
                matcher.matches_from(&MappedEvent::new(&event, fields), opts.logsources)
            }
            None => matcher.matches_from(&event, opts.logsources),
        };
        if matched.is_empty() {
            continue;
        }
        let mut text: Option<Arc<str>> = None;
        for &rule in matched {
            let rule_ref = set.rule(rule);
            if rule_ref.report && opts.min_level.is_none_or(|l| rule_ref.level() >= l) {
                let text = text.get_or_insert_with(|| Arc::from(event.to_text()));
                scan.hits.push(Hit {
                    timestamp: record.timestamp,
                    rule,
                    file: record.file.clone(),
                    record_id: record.record_id,
                    event: text.clone(),
                });
            }
        }
        if opts.keep_for_correlation {
            scan.matched.push(MatchedEvent {
                timestamp: record.timestamp.unwrap_or(0),
                event: Arc::new(event),
                rules: matched.to_vec(),
                file: record.file.clone(),
                record_id: record.record_id,
            });
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let (Some(f), Some(t)) = (args.from, args.to)
        && f >= t
    {
        bail!("--from must be before --to");
    }
    let loaded = ruleset::load(&args.rules)?;
    let rejected = loaded.load_diagnostics.len() + loaded.compile_diagnostics.len();
    let set = loaded.set;
    if set.rules().is_empty() {
        bail!(
            "no rules loaded from {}; check the --rules paths (run `vigil rules check` on them)",
            args.rules
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if rejected > 0 {
        eprintln!(
            "{rejected} rule(s) rejected; run `vigil rules check` on the rule folders for details"
        );
    }
    let files = collect_files(&args.paths).context("cannot read the paths to hunt in")?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()
        .context("cannot start the worker threads")?;

    let progress = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(files.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} files {msg} [{elapsed_precise}]",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let field_map: Option<FieldMapping> =
        (!args.field_map.is_empty()).then(|| args.field_map.iter().cloned().collect());
    let events_seen = AtomicU64::new(0);
    let count_events = |events: u64| {
        let n = events_seen.fetch_add(events, Ordering::Relaxed) + events;
        if let Some(bar) = &progress {
            bar.set_message(format!("{n} events"));
        }
    };
    let opts = ScanOptions {
        from: args.from,
        to: args.to,
        logsources: &args.logsources,
        fields: field_map.as_ref(),
        keep_for_correlation: set.correlation_count() > 0,
        min_level: args.level,
        piece_bytes: LINES_PIECE_BYTES,
        on_events: &count_events,
    };
    let start = Instant::now();
    let scans: Vec<FileScan> = pool.install(|| {
        files
            .par_iter()
            .map_init(
                || set.matcher(),
                |matcher, f| {
                    let scan = scan_file(matcher, f, opts);
                    if let Some(bar) = &progress {
                        bar.inc(1);
                    }
                    scan
                },
            )
            .collect()
    });
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }

    let mut hits = Vec::new();
    let mut matched = Vec::new();
    let (mut events, mut bytes, mut errors, mut unreadable) = (0u64, 0u64, 0u64, false);
    let mut files_read = 0;
    for scan in scans {
        events += scan.events;
        bytes += scan.bytes;
        if scan.bytes > 0 {
            files_read += 1;
        }
        for e in &scan.errors {
            errors += 1;
            unreadable |= matches!(e, DecodeError::Io { .. });
            eprintln!("warning: {e}");
        }
        hits.extend(scan.hits);
        matched.extend(scan.matched);
    }
    let correlations = correlate(&set, matched, field_map.as_ref());
    let elapsed = start.elapsed();

    let correlations: Vec<_> = correlations
        .into_iter()
        .filter(|c| {
            args.level
                .is_none_or(|l| set.rule(c.found.rule).level() >= l)
        })
        .collect();

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = match args.format {
        Format::Table => write_table(&mut out, &set, &hits, &correlations, &args.paths),
        Format::Jsonl => write_jsonl(&mut out, &set, &hits, &correlations),
        Format::Csv => write_csv(&mut out, &set, &hits, &correlations),
    }
    .and_then(|()| Ok(out.flush()?));
    if let Err(e) = written {
        // A closed pipe (`vigil hunt … | head`) is not an error, whichever writer met it.
        let broken_pipe = e
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                e.downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            })
            == Some(std::io::ErrorKind::BrokenPipe);
        if !broken_pipe {
            return Err(e.context("cannot write the results"));
        }
    }

    let secs = elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "{}, {}, {}, {}, {} in {secs:.2} s ({:.0} events/s, {:.1} MB/s)",
        plural(files_read as u64, "file", "files"),
        plural(events, "event", "events"),
        plural(hits.len() as u64, "match", "matches"),
        plural(
            correlations.len() as u64,
            "correlation match",
            "correlation matches"
        ),
        plural(errors, "error", "errors"),
        events as f64 / secs,
        bytes as f64 / secs / 1e6,
    );
    Ok(if unreadable {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
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

fn write_table(
    out: &mut impl Write,
    set: &CompiledRuleSet,
    hits: &[Hit],
    correlations: &[Correlated],
    inputs: &[PathBuf],
) -> anyhow::Result<()> {
    use comfy_table::{
        ColumnConstraint, ContentArrangement, Table, Width, presets::UTF8_FULL_CONDENSED,
    };
    if hits.is_empty() && correlations.is_empty() {
        writeln!(out, "no matches")?;
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_content_arrangement(ContentArrangement::Dynamic);
    table.set_header([
        "time", "level", "rule", "computer", "file", "record", "details",
    ]);
    for h in hits {
        let rule = set.rule(h.rule);
        let event = h.parsed()?;
        table.add_row([
            time_text(h.timestamp),
            rule.level().as_str().to_string(),
            rule.title().to_string(),
            computer(&event),
            short_path(&h.file, inputs),
            h.record_id.to_string(),
            details(&event),
        ]);
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

fn write_jsonl(
    out: &mut impl Write,
    set: &CompiledRuleSet,
    hits: &[Hit],
    correlations: &[Correlated],
) -> anyhow::Result<()> {
    for h in hits {
        let rule = set.rule(h.rule);
        let line = json!({
            "timestamp": h.timestamp.map(format_timestamp),
            "rule_id": rule.id(),
            "rule_title": rule.title(),
            "level": rule.level().as_str(),
            "file": h.file.display().to_string(),
            "record_id": h.record_id,
            "tags": rule.meta.tags,
            "logsource": {
                "product": rule.logsource.product,
                "category": rule.logsource.category,
                "service": rule.logsource.service,
            },
            "event": h.parsed()?.value(),
        });
        serde_json::to_writer(&mut *out, &line)?;
        writeln!(out)?;
    }
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

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn write_csv(
    out: &mut impl Write,
    set: &CompiledRuleSet,
    hits: &[Hit],
    correlations: &[Correlated],
) -> anyhow::Result<()> {
    writeln!(
        out,
        "timestamp,rule_id,rule_title,level,computer,file,record_id,details"
    )?;
    for h in hits {
        let rule = set.rule(h.rule);
        let event = h.parsed()?;
        let row = [
            time_text(h.timestamp),
            rule.id().to_string(),
            rule.title().to_string(),
            rule.level().as_str().to_string(),
            computer(&event),
            h.file.display().to_string(),
            h.record_id.to_string(),
            details(&event).replace('\n', "; "),
        ];
        let row: Vec<_> = row.iter().map(|s| csv_field(s)).collect();
        writeln!(out, "{}", row.join(","))?;
    }
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
        let row: Vec<_> = row.iter().map(|s| csv_field(s)).collect();
        writeln!(out, "{}", row.join(","))?;
    }
    Ok(())
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

    /// Matches of a file scanned in many small pieces, across threads, are those of the file
    /// scanned whole, in the same order, with the same line numbers, and so are its errors.
    #[test]
    fn a_file_read_in_pieces_matches_as_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("rule.yml"),
            "title: Whoami\nid: 5d1a3c52-0b7e-4d0a-9f8e-2c4d6e8f0a11\nlogsource: {product: windows, category: process_creation}\ndetection:\n  s: {Image|endswith: '\\\\whoami.exe'}\n  condition: s\nlevel: medium\n",
        )
        .unwrap();
        let loaded = ruleset::load(&[dir.path().to_path_buf()]).unwrap();
        let set = loaded.set;
        assert_eq!(set.rules().len(), 1);
        let lines: String = (1..=3000)
            .map(|i| match i % 7 {
                0 => format!(
                    "{{\"EventID\":1,\"Image\":\"C:\\\\Windows\\\\whoami.exe\",\"n\":{i}}}\n"
                ),
                3 => "{broken\n".to_owned(),
                _ => format!("{{\"EventID\":1,\"Image\":\"C:\\\\x\\\\notepad.exe\",\"n\":{i}}}\n"),
            })
            .collect();
        let path = dir.path().join("big.jsonl");
        std::fs::write(&path, &lines).unwrap();
        let file = InputFile {
            path,
            explicit: true,
        };
        let counted = AtomicU64::new(0);
        let count = |n: u64| {
            counted.fetch_add(n, Ordering::Relaxed);
        };
        let scan = |piece_bytes: usize| {
            let opts = ScanOptions {
                from: None,
                to: None,
                logsources: &[],
                fields: None,
                keep_for_correlation: true,
                min_level: None,
                piece_bytes,
                on_events: &count,
            };
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap();
            pool.install(|| scan_file(&mut set.matcher(), &file, opts))
        };
        let whole = scan(usize::MAX);
        let pieces = scan(1000);
        let records = |s: &FileScan| s.hits.iter().map(|h| h.record_id).collect::<Vec<_>>();
        let errors = |s: &FileScan| s.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        assert_eq!(records(&whole).len(), 3000 / 7);
        assert_eq!(records(&pieces), records(&whole));
        assert_eq!(errors(&pieces), errors(&whole));
        assert_eq!(errors(&whole).len(), 3000 / 7 + 1);
        assert_eq!((pieces.events, pieces.bytes), (whole.events, whole.bytes));
        assert_eq!(pieces.matched.len(), whole.matched.len());
        // The progress bar heard of every event, piece by piece.
        assert_eq!(counted.load(Ordering::Relaxed), 2 * whole.events);
    }
}
