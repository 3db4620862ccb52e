//! `vigil hunt --rules DIR PATH...`: run a compiled Sigma rule set over log files and folders
//! (EVTX, JSON lines, JSON arrays, plain syslog, web server access and error logs, gzip) and
//! print the matches; `--search TEXT` sweeps for an indicator without a rule ([`terms`]).
//!
//! Files are decoded and matched in parallel (one matcher per thread, one compiled set shared,
//! [`scan`]); matches are printed as they are found, in a deterministic order: by file (sorted
//! paths), then by record, then by rule ([`report`]; the table, which must know every row's
//! width, at the end). Correlation rules see the matched events of all files in timestamp order
//! after the scan. Exit code 0 with or without matches, once the hunt ran; 1 on no rules or a
//! path given that does not exist or cannot be read (a file named is opened before the hunt
//! starts: `collect_files`); 2 on arguments the parser refuses. A corrupt file or record, or a
//! file or folder inside one given that cannot be read, is reported on stderr, counted in the
//! summary's errors and skipped. Ctrl-C or SIGTERM stops the scan as a closed output does
//! ([`crate::interrupt`]): the parts found are written whole, then the summary; exit code
//! 128 + the signal's number.

pub mod census;
use crate::output::errln;
mod report;
pub mod scan;
mod select;
mod terms;

pub use scan::{FileScan, ScanOptions, scan_source};

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use vigil_detect::{FieldMapping, Logsource};
use vigil_events::collect_files;
use vigil_events::source::{LINES_PIECE_BYTES, TextOptions};
use vigil_events::time::{LocalZone, parse_timestamp, parse_timestamp_in};
use vigil_sigma::Level;

use crate::interrupt::Interrupt;
use crate::output::{UsageError, plural};
use crate::ruleset;
pub use report::short_path;
use report::{CSV_HEADER, Renderer, Tally, correlate};
use scan::{ScanTally, Scanned, file_sizes, scan_files};

/// Output formats of `vigil hunt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable table (the first 10,000 matches; the summary counts them all).
    Table,
    /// One JSON object per match.
    Jsonl,
    /// CSV with a header line, safe to open in a spreadsheet: a cell that would start a
    /// formula (=, @, +, -, tab, carriage return; not a number such as -1) starts with '.
    Csv,
}

const AFTER_HELP: &str = "\
Examples:
  vigil hunt -r sigma/rules/windows C:/Windows/System32/winevt/Logs
  vigil hunt -r sigma/rules -r sigma/rules-emerging-threats --level high --format jsonl evtx/ > hits.jsonl
  vigil hunt -r sigma/rules/windows --status stable,test --tag attack.credential-access evtx/
  vigil hunt --search 203.0.113.9 --search evil.example --format csv collection/ > sweep.csv
  vigil hunt --search-file iocs.txt -r sigma/rules/windows --level high collection/
  vigil hunt -r sigma/rules/linux /var/log/auth.log /var/log/auth.log.2.gz
  vigil hunt -r sigma/rules/web -r sigma/rules-emerging-threats /var/log/nginx/access.log*
  zcat export.jsonl.gz | vigil hunt -r sigma/rules/windows --from 2026-11-01T00:00:00Z -
  vigil hunt -r sigma/rules/web --logsource category=webserver --field-map cs-uri-query=url.query nginx.jsonl

Matches go to stdout (jsonl and csv as they are found); the summary, warnings and a progress bar
(on a terminal) to stderr. Exit status: 0 whether or not anything matched, once the hunt ran;
1 on an error that stops the hunt (no rule loaded, a path given that does not exist or cannot
be read); 2 on arguments it cannot take. A corrupt file or record, or a file or folder inside
one given that cannot be read (an ACL-protected folder of a collection), is reported,
counted in the summary's errors and skipped: the exit status stays 0. Ctrl-C (or SIGTERM) stops
the hunt where it is: the matches found are written, whole, then the summary, saying it was
interrupted, and the exit status is 130 (143 for SIGTERM); a second Ctrl-C ends it at once.";

/// Arguments of `vigil hunt`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// A Sigma rule file or folder; may be given several times.
    #[arg(long = "rules", short = 'r', required_unless_present_any = ["searches", "search_files"])]
    rules: Vec<PathBuf>,
    /// Text to look for in every event's values, ignoring case (an IP, a domain, a hash, a
    /// tool's name; `*` and `?` are themselves): each match is reported as a rule "Search:
    /// TEXT". It is found inside values, except that an IP address must stand alone
    /// (10.0.0.1 does not find 10.0.0.15), and a network (10.0.2.0/24, 2001:db8::/32; prefixes
    /// from /8) finds the addresses it holds, however they are written. May be given several times (each reported on its own), with or
    /// without --rules.
    #[arg(long = "search", value_name = "TEXT", value_parser = terms::parse_term)]
    searches: Vec<String>,
    /// A file of --search terms, one per line (an indicator list; blank lines and lines
    /// starting with `#` are skipped), in UTF-8 or in UTF-16 with a byte-order mark (as
    /// Notepad and Windows PowerShell save it). May be given several times.
    #[arg(long = "search-file", value_name = "FILE")]
    search_files: Vec<PathBuf>,
    /// Values of the `%name%` placeholders of rules with the `expand` modifier (SigmaHQ's
    /// rules-placeholder): a YAML map `NAME: [VALUE, ...]`, or a pySigma pipeline's `vars`.
    /// Without it a placeholder matches nothing.
    #[arg(long, value_name = "FILE")]
    placeholders: Option<PathBuf>,
    /// Log files or folders (EVTX, JSON lines, JSON arrays, plain syslog, web server access
    /// logs in the common or combined format or IIS's W3C format, Apache and nginx error logs,
    /// Linux audit logs; gzip-compressed or not); `-` for standard input.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Report only matches of rules at this level or above
    /// (informational, low, medium, high, critical).
    #[arg(long, value_parser = parse_level, requires = "rules")]
    level: Option<Level>,
    /// Report only matches of rules of these statuses (stable, test, experimental, deprecated,
    /// unsupported; comma-separated or repeated). Rules without a status are then left out.
    #[arg(long = "status", value_name = "STATUS", value_delimiter = ',', value_parser = select::parse_status, requires = "rules")]
    statuses: Vec<String>,
    /// Report only matches of rules with this tag or a tag under it (`attack.t1059` takes
    /// `attack.t1059.001`; `attack.t15*` any starting so; case, and `_` against `-`, ignored).
    /// May be given several times (any of them).
    #[arg(long = "tag", value_name = "TAG", requires = "rules")]
    tags: Vec<String>,
    /// Never report matches of the rule with this id (a rule known to be noisy here). May be
    /// given several times. Correlations still count it.
    #[arg(long = "exclude-rule", value_name = "RULE_ID", requires = "rules")]
    excluded: Vec<String>,
    /// Only events at or after this time (RFC 3339, e.g. 2019-04-27T00:00:00Z, a date: its
    /// midnight, or now-24h); a time or date without an offset is in --timezone (else
    /// VIGIL_TIMEZONE, else UTC).
    #[arg(long, value_parser = parse_time)]
    from: Option<TimeArg>,
    /// Only events before this time (same forms as --from).
    #[arg(long, value_parser = parse_time)]
    to: Option<TimeArg>,
    /// Only events from this far back: a duration such as 15m, 24h or 7d (--from now-24h).
    #[arg(long, conflicts_with = "from", value_parser = parse_since)]
    since: Option<TimeArg>,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// What the JSON, syslog or --text logs are, as a Sigma logsource
    /// (`product=linux,service=auth`, `category=webserver`): only the rules written for it
    /// then see them. May be given several times (a log of any of them). EVTX records go by
    /// their Channel, and web server lines by what they are (access and IIS log lines
    /// category=webserver, error log lines service=apache or service=nginx, in files or
    /// carried by syslog), regardless; without it, syslog lines are the Linux logs of the
    /// program that wrote each, audit records product=linux,service=auditd, and JSON logs meet no keyword-only rule written for a product
    /// or service (SigmaHQ's Cisco `show`, `dir`) until it names that product.
    #[arg(long = "logsource", value_name = "KEY=VALUE,...", value_parser = parse_logsource)]
    logsources: Vec<Logsource>,
    /// Read text of no format Vigil recognises (an application's own log) line by line, each
    /// line a `message` (with the time it starts with: 2026-12-03 22:15:10,123 or
    /// 2026/12/03 22:15:10). Its lines meet the rules of
    /// the --logsource you give (`product=myapp`), or without one only the rules that name no
    /// logsource. Without --text such files are skipped (reported when named on the command
    /// line; the summary names those found in folders named like logs, app.log).
    /// In a folder, documents, scripts and settings (README, LICENSE, *.md, *.ps1, *.yml)
    /// are still skipped.
    #[arg(long)]
    text: bool,
    #[command(flatten)]
    zone: Zone,
    /// Where the JSON logs hold a field the rules name: `cs-uri-query=url.query` (the rule's
    /// name, then the event's JSON path). May be given several times. Only JSON (and EVTX)
    /// logs are read through it: text logs hold the names Vigil gives them, whatever JSON
    /// is hunted beside them (for web server logs, see --web-field-map).
    #[arg(long = "field-map", value_name = "RULE_FIELD=PATH", value_parser = parse_field_map)]
    field_map: Vec<(String, String)>,
    /// Where web server logs (access, IIS and error logs, in files or carried by syslog) hold
    /// a field the rules name, for rules that read a field otherwise than Vigil names it:
    /// `cs-uri-query=cs-uri` gives SigmaHQ's older rules, which put paths in cs-uri-query, the
    /// whole request target. May be given several times.
    #[arg(long = "web-field-map", value_name = "RULE_FIELD=FIELD", value_parser = parse_field_map)]
    web_field_map: Vec<(String, String)>,
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
        let key = key.trim();
        let slot = match key {
            "product" => &mut ls.product,
            "category" => &mut ls.category,
            "service" => &mut ls.service,
            other => {
                return Err(format!(
                    "unknown logsource key {other:?}; use product, category or service"
                ));
            }
        };
        // A log is one product (one category, one service): the later one would silently win.
        if let Some(first) = slot {
            return Err(format!(
                "{key} is given twice ({key}={first} and {key}={value}); a logsource names each once — for logs of either, give --logsource twice"
            ));
        }
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
    Level::parse(&s.trim().to_ascii_lowercase()).ok_or_else(|| {
        format!("unknown level {s:?}; use informational, low, medium, high or critical")
    })
}

/// The `--timezone` of `hunt` and `metrics`, which read logs and show what they found. Two
/// zones hide behind it when it is not given: the logs' (UTC: the zone of a machine that wrote
/// them, which the responder's `VIGIL_TIMEZONE` says nothing of, and as `vigil ingest` reads
/// them), and the responder's (`VIGIL_TIMEZONE`, as every other command's tables and times).
#[derive(Debug, Clone, clap::Args)]
pub struct Zone {
    /// The zone text logs were written in, for their times written without a UTC offset
    /// (RFC 3164 syslog, web server error logs, plain lines; EVTX and JSON times are UTC),
    /// and the responder's: a --from/--to without an offset is read there, and the table and
    /// the summary show times there (JSON lines, CSV and --json keep UTC). An IANA name such
    /// as Europe/Berlin, `local` for this machine's, or an offset such as +01:00; each time
    /// gets the offset of its own date (summer time included). [default: UTC for the logs'
    /// times; VIGIL_TIMEZONE, else UTC, for --from/--to and the times shown]
    // VIGIL_TIMEZONE is read by the command, not by clap: clap would report a bad one as a bad
    // --timezone, a flag the user never gave, and refuse it even where only shown times use it.
    #[arg(long, value_name = "ZONE", allow_hyphen_values = true)]
    pub timezone: Option<LocalZone>,
}

impl Zone {
    /// The zone text logs' times without an offset are read in: --timezone, else UTC.
    pub fn logs(&self) -> &LocalZone {
        self.timezone.as_ref().unwrap_or(&LocalZone::UTC)
    }

    /// The zone times are shown in: --timezone, else `VIGIL_TIMEZONE` (one that names no zone
    /// is warned about and UTC used), else UTC.
    pub fn shown(&self) -> &LocalZone {
        self.timezone
            .as_ref()
            .unwrap_or_else(|| crate::output::display_zone())
    }

    /// The zone `time`, given as `flag`, is read in: --timezone, else as
    /// [`crate::output::input_zone`] decides (a `VIGIL_TIMEZONE` that names no zone refused
    /// when the time needs one).
    fn of_input(&self, flag: &str, time: &TimeArg) -> Result<&LocalZone, UsageError> {
        match (&self.timezone, time) {
            (Some(zone), _) => Ok(zone),
            (None, TimeArg::Now(_)) => Ok(&LocalZone::UTC),
            (None, TimeArg::Written(text, _)) => crate::output::input_zone(flag, text),
        }
    }
}

/// A `--from`/`--to` time: relative to now (resolved as it is read), or as written, to be read
/// in the `--timezone` when it carries no offset.
#[derive(Debug, Clone)]
pub enum TimeArg {
    /// Milliseconds since the epoch.
    Now(i64),
    /// The text, and its reading in UTC.
    Written(String, i64),
}

impl TimeArg {
    /// Milliseconds since the epoch, a time without an offset taken in `zone`.
    pub fn in_zone(&self, zone: &LocalZone) -> i64 {
        match self {
            TimeArg::Now(ms) => *ms,
            TimeArg::Written(text, utc) => parse_timestamp_in(text, zone).unwrap_or(*utc),
        }
    }
}

pub fn parse_time(s: &str) -> Result<TimeArg, String> {
    // `now-7d` as `vigil search` reads it; absolute times as the events' own are read.
    if let Some(now @ vigil_query::TimeValue::Now { .. }) = vigil_query::parse_time(s.trim()) {
        return Ok(TimeArg::Now(
            now.resolve(chrono::Utc::now()).timestamp_millis(),
        ));
    }
    match parse_timestamp(s) {
        Some(utc) => Ok(TimeArg::Written(s.to_owned(), utc)),
        None => Err(format!(
            "cannot read {s:?} as a time (RFC 3339, a date between the years -9999 and 9999, or now-24h), e.g. 2019-04-27T15:57:25Z, 2019-04-27 or now-7d"
        )),
    }
}

pub fn parse_since(s: &str) -> Result<TimeArg, String> {
    let Some(duration) = crate::search::duration(s) else {
        return Err(format!(
            "{s:?} is not a duration; write a number and a unit: 30s, 15m, 24h, 7d or 2w"
        ));
    };
    parse_time(&format!("now-{duration}"))
}

/// The time window of `--from`/`--since` and `--to`, in ms since the epoch, a time without an
/// offset read in `zone` ([`Zone::of_input`]); refused when it is empty.
pub fn window(
    from: Option<&TimeArg>,
    to: Option<&TimeArg>,
    since: Option<&TimeArg>,
    zone: &Zone,
) -> anyhow::Result<(Option<i64>, Option<i64>)> {
    let read = |flag: &str, time: &TimeArg| -> Result<i64, UsageError> {
        Ok(time.in_zone(zone.of_input(flag, time)?))
    };
    let from = from.or(since).map(|t| read("--from", t)).transpose()?;
    let to = to.map(|t| read("--to", t)).transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        return Err(UsageError(format!(
            "--from {} is not before --to {}: the window holds no time; give a --from earlier than --to (swapped?)",
            vigil_events::time::format_timestamp(f),
            vigil_events::time::format_timestamp(t)
        ))
        .into());
    }
    Ok((from, to))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (from, to) = window(
        args.from.as_ref(),
        args.to.as_ref(),
        args.since.as_ref(),
        &args.zone,
    )?;
    let selection = select::Selection {
        min_level: args.level,
        statuses: args.statuses.clone(),
        tags: args.tags.clone(),
        excluded: args.excluded.clone(),
    };
    let mut terms = args.searches.clone();
    let mut empty_files = Vec::new();
    for file in &args.search_files {
        let read = terms::read_terms(file)?;
        if read.is_empty() {
            empty_files.push(file.display().to_string());
        }
        terms.extend(read);
    }
    if !empty_files.is_empty() {
        let (files, hold) = match empty_files.len() {
            1 => ("--search-file", "holds"),
            _ => ("--search-files", "hold"),
        };
        let said = format!(
            "the {files} {} {hold} no terms (only blank lines and # comments)",
            empty_files.join(", ")
        );
        // With nothing else to look for the hunt would read every log to report "no
        // matches", which would read as a clean collection.
        if terms.is_empty() && args.rules.is_empty() {
            return Err(UsageError(format!(
                "{said}: put one term per line, or give --search or --rules"
            ))
            .into());
        }
        errln!("warning: {said}; hunting for the rest");
    }
    let searches = terms::search_rules(&terms)?;
    let searched = searches.len();
    let mut unknown_exclusions = Vec::new();
    let mut choice = None;
    let mut filter_warnings = Vec::new();
    let loaded = ruleset::load_chosen(&args.rules, args.placeholders.as_deref(), |docs| {
        // Over every rule loaded, not only those reported: a filter's rule may be left out.
        filter_warnings = vigil_detect::filter_warnings(&docs);
        unknown_exclusions = selection
            .unknown_exclusions(&docs)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut docs = if selection.narrows() {
            let (kept, mut chosen) = selection.choose(docs);
            chosen.report_always(&searches);
            choice = Some(chosen);
            kept
        } else {
            docs
        };
        docs.extend(searches);
        docs
    })?;
    let rejected = vigil_sigma::rules_rejected(
        loaded
            .load_diagnostics
            .iter()
            .chain(&loaded.compile_diagnostics),
    );
    for warning in &filter_warnings {
        errln!("warning: {warning}");
    }
    let unvalued = vigil_sigma::placeholders_without_values(&loaded.docs, &loaded.placeholders);
    if !unvalued.is_empty() {
        errln!("{}", placeholders_warning(&unvalued));
    }
    let set = loaded.set;
    let rules_loaded = match &choice {
        Some(c) => c.loaded,
        None => set.rules().len().saturating_sub(searched),
    };
    if rules_loaded == 0 && !args.rules.is_empty() {
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
        errln!(
            "{} rejected; run `vigil rules check` on the rule folders for details",
            crate::output::plural(rejected as u64, "rule", "rules")
        );
    }
    for id in &unknown_exclusions {
        errln!("warning: --exclude-rule {id}: no loaded rule has this id");
    }
    // A misspelt --logsource would otherwise read as "no matches".
    if !args.rules.is_empty() {
        let declared = vigil_ingest::org::declaration_warnings(
            &set,
            &args.logsources,
            "--logsource",
            "the logs declared so",
        );
        for warning in declared {
            errln!("warning: {warning}");
        }
    }
    let reported = match &choice {
        Some(choice) => choice.resolve(&set),
        None => selection.resolve(&set),
    };
    if let Some(choice) = &choice {
        let kept = (reported.iter().filter(|r| **r).count()).saturating_sub(searched) as u64;
        if kept == 0 {
            bail!(
                "no loaded rule is at the --level, --status and --tag given (and not excluded); widen them"
            );
        }
        // Only those are compiled and run, with what their correlations count.
        let counted = set.rules().len().saturating_sub(kept as usize + searched);
        errln!(
            "reporting the matches of {} of the {} loaded{}",
            crate::output::plural(kept, "rule", "rules"),
            choice.loaded,
            if counted > 0 {
                format!(" (running {} more that their correlations count)", counted)
            } else {
                String::new()
            }
        );
    }
    crate::output::stdin_must_be_piped(&args.paths, "hunt")?;
    let collected = collect_files(&args.paths).context("cannot read the paths to hunt in")?;
    let files = collected.files;
    let jobs = scan::jobs(args.jobs);
    // Its message counts files and events.
    let sizes = file_sizes(&files);
    let progress = scan::progress_bar(&files, &sizes);
    // From here a Ctrl-C stops the hunt with what it found so far, not in the middle of a line.
    let interrupt = Interrupt::install(stopping_notice(
        progress.clone(),
        "the matches found are written",
    ))?;
    let counts = scan::FilesAndEvents::new(progress.clone(), files.len());
    let field_map: Option<FieldMapping> =
        (!args.field_map.is_empty()).then(|| args.field_map.iter().cloned().collect());
    let web_field_map: Option<FieldMapping> =
        (!args.web_field_map.is_empty()).then(|| args.web_field_map.iter().cloned().collect());
    let count_events = |events: u64| counts.events(events);
    let text = TextOptions {
        plain: args.text,
        zone: args.zone.logs().clone(),
    };
    let addresses = terms::Addresses::of(&set);
    let opts = ScanOptions {
        addresses: addresses.as_ref(),
        from,
        to,
        logsources: &args.logsources,
        fields: field_map.as_ref(),
        web_fields: web_field_map.as_ref(),
        keep_for_correlation: set.correlation_count() > 0,
        reported: Some(&reported),
        piece_bytes: LINES_PIECE_BYTES,
        text: &text,
        render: Some(Renderer {
            format: args.format,
            inputs: &args.paths,
            zone: args.zone.shown(),
        }),
        census: false,
        on_events: &count_events,
        stop_requested: Some(interrupt.flag()),
    };
    let start = Instant::now();
    let stdout = std::io::stdout();
    // Matches written to the terminal the bar is drawn on go above it, the bar cleared first.
    let bar_on_stdout = progress.as_ref().filter(|_| stdout.is_terminal());
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut write_error: Option<anyhow::Error> = None;
    if args.format == Format::Csv
        && let Err(e) = write_above(bar_on_stdout, &mut out, CSV_HEADER.as_bytes())
    {
        write_error = Some(e.into());
    }

    let (mut rows, mut not_shown) = (Vec::new(), 0u64);
    let mut tally = Tally::default();
    let mut matched = Vec::new();
    let (mut hits, mut events, mut bytes) = (0u64, 0u64, 0u64);
    let mut scanned = ScanTally::new(&files, &sizes, progress.clone());
    scanned.walked(&collected.skipped, collected.given_twice);
    if write_error.is_none() {
        scan_files(&set, &files, &sizes, opts, jobs, |file, part| {
            let part = match part {
                Scanned::Part(part) => *part,
                Scanned::FileEnd => {
                    scanned.file_end(file);
                    counts.file_done();
                    return true;
                }
            };
            scanned.part(file, &part);
            events += part.events;
            bytes += part.bytes;
            hits += part.hits;
            matched.extend(part.matched);
            let room = (LONG_TABLE as usize).saturating_sub(rows.len());
            not_shown += part.rendered.rows.len().saturating_sub(room) as u64;
            rows.extend(part.rendered.rows.into_iter().take(room));
            tally.merge(part.rendered.tally);
            if let Err(e) = write_above(bar_on_stdout, &mut out, &part.rendered.text) {
                write_error = Some(e.into());
                return false;
            }
            true
        });
    }
    scanned.finish();
    let correlations: Vec<_> = correlate(&set, matched, field_map.as_ref(), web_field_map.as_ref())
        .into_iter()
        .filter(|c| reported[c.found.rule.0 as usize])
        .collect();

    let written = match write_error {
        Some(e) => Err(e),
        None => match args.format {
            Format::Table => report::write_table(
                &mut out,
                &set,
                rows,
                not_shown,
                &correlations,
                &args.paths,
                args.zone.shown(),
            ),
            Format::Jsonl => report::write_jsonl_correlations(&mut out, &set, &correlations),
            Format::Csv => report::write_csv_correlations(&mut out, &set, &correlations),
        }
        .and_then(|()| Ok(out.flush()?)),
    };
    let elapsed = start.elapsed();
    let mut stopped = String::new();
    if let Err(e) = written {
        // A closed pipe (`vigil hunt … | head`) is not an error, whichever writer met it: the
        // hunt stopped when it was found.
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
        stopped = " (stopped: the output was closed)".to_owned();
    } else if let Some(signal) = interrupt.name() {
        stopped = format!(" (stopped: interrupted by {signal})");
    }

    let secs = elapsed.as_secs_f64().max(1e-9);
    errln!(
        "{}, {}, {}, {}, {} in {secs:.2} s ({:.0} events/s, {:.1} MB/s){stopped}",
        plural(scanned.files_read, "file", "files"),
        plural(events, "event", "events"),
        plural(hits, "match", "matches"),
        plural(
            correlations.len() as u64,
            "correlation match",
            "correlation matches"
        ),
        plural(scanned.errors, "error", "errors"),
        events as f64 / secs,
        bytes as f64 / secs / 1e6,
    );
    for line in scanned.left_out_lines() {
        errln!("{line}");
    }
    if searched > 0 {
        errln!(
            "{}",
            terms::found_line(&set, tally.matched_rules(), searched)
        );
    }
    tally.add_correlations(&correlations);
    let summary = tally.summary(&set, args.zone.shown());
    if !summary.is_empty() {
        errln!("{}", summary.trim_end_matches('\n'));
    }
    if let Some(hint) = long_table_hint(args.format, hits) {
        errln!("{hint}");
    }
    // The hunt ran: what it could not read was warned about and counted above. Stopped by a
    // signal, it ends as the signal would have ended it, for a script to tell.
    Ok(interrupt.exit_code().unwrap_or(ExitCode::SUCCESS))
}

/// Writes `text` to `out`; with a progress bar drawn on the same terminal (`bar`), above it:
/// the bar is cleared, the text written and flushed, then the bar drawn again below it (written
/// past the bar, the text would share its row and leave old frames between the rows).
fn write_above(
    bar: Option<&indicatif::ProgressBar>,
    out: &mut impl Write,
    text: &[u8],
) -> std::io::Result<()> {
    match bar {
        Some(bar) if !text.is_empty() => bar.suspend(|| {
            out.write_all(text)?;
            out.flush()
        }),
        _ => out.write_all(text),
    }
}

/// What to say on the first Ctrl-C (or SIGTERM), above the progress bar when there is one: the
/// scan ends once the threads finish the pieces they hold, which may take a moment, and then
/// `then` (what is written of what was found).
pub fn stopping_notice(
    bar: Option<indicatif::ProgressBar>,
    then: &'static str,
) -> impl Fn(&'static str) + Send {
    move |signal| {
        let notice = format!(
            "interrupted by {signal}: stopping once the pieces being read are done, then {then}; {signal} again stops at once"
        );
        match &bar {
            Some(bar) => bar.suspend(|| errln!("{notice}")),
            None => errln!("{notice}"),
        }
    }
}

/// The rule matches a table shows: more is more than anyone reads, and a table is held until
/// printed, so past them a match is counted in the summary but not kept (JSON lines and CSV
/// write every match as it is found).
const LONG_TABLE: u64 = 10_000;

/// What to use instead of a table that long.
/// The warning for placeholders without values, for stderr: which, used by which rules, what it
/// means for their matches and what to do. The specification asks a tool that cannot handle a
/// placeholder to reject the rule; Vigil runs it, and says so loudly instead (see
/// docs/sigma-conformance.md).
fn placeholders_warning(unvalued: &[(String, Vec<String>)]) -> String {
    let mut text = String::from(
        "warning: these placeholders have no values, so the `expand` values that use them match nothing: a selection on one never holds and a filter on one excludes nothing (its rule reports what the filter was written to leave out); give them values with --placeholders FILE",
    );
    for line in vigil_sigma::describe_without_values(unvalued) {
        text.push_str("\n  ");
        text.push_str(&line);
    }
    text
}

fn long_table_hint(format: Format, matches: u64) -> Option<String> {
    (format == Format::Table && matches > LONG_TABLE).then(|| {
        format!(
            "hint: {matches} matches make a long table, of which it shows the first {LONG_TABLE}; --format jsonl or csv writes them all as they are found, and --level high keeps the serious ones"
        )
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use std::sync::atomic::{AtomicU64, Ordering};

    use vigil_detect::CompiledRuleSet;
    use vigil_events::source::InputFile;

    use super::*;

    #[test]
    fn a_logsource_naming_a_key_twice_is_refused() {
        for given in [
            "product=aws,product=gcp",
            "product=gcp, product=aws,service=x",
        ] {
            let err = parse_logsource(given).unwrap_err();
            assert!(err.starts_with("product is given twice"), "{given}: {err}");
            assert!(err.contains("give --logsource twice"), "{err}");
        }
        let err = parse_logsource("product=aws,service=cloudtrail,service=cloudtrail").unwrap_err();
        assert!(err.starts_with("service is given twice"), "{err}");
        let ls = parse_logsource("product=aws,service=cloudtrail").unwrap();
        assert_eq!(ls.product.as_deref(), Some("aws"));
        assert_eq!(ls.service.as_deref(), Some("cloudtrail"));
    }

    /// Loads one rule matching `whoami.exe` process creations.
    fn whoami_rule(dir: &Path) -> CompiledRuleSet {
        std::fs::write(
            dir.join("rule.yml"),
            "title: Whoami\nid: 5d1a3c52-0b7e-4d0a-9f8e-2c4d6e8f0a11\nlogsource: {product: windows, category: process_creation}\ndetection:\n  s: {Image|endswith: '\\\\whoami.exe'}\n  condition: s\nlevel: medium\n",
        )
        .unwrap();
        let set = ruleset::load(&[dir.to_path_buf()]).unwrap().set;
        assert_eq!(set.rules().len(), 1);
        set
    }

    /// `count` JSON lines, every 7th a match and every 7th after the 3rd broken.
    fn lines(count: usize, tag: &str) -> String {
        (1..=count)
            .map(|i| match i % 7 {
                0 => format!(
                    "{{\"EventID\":1,\"Image\":\"C:\\\\Windows\\\\whoami.exe\",\"n\":{i},\"f\":\"{tag}\"}}\n"
                ),
                3 => "{broken\n".to_owned(),
                _ => format!("{{\"EventID\":1,\"Image\":\"C:\\\\x\\\\notepad.exe\",\"n\":{i}}}\n"),
            })
            .collect()
    }

    /// What a hunt hands on, as the writer sees it.
    #[derive(Debug, PartialEq)]
    struct Seen {
        output: String,
        errors: Vec<String>,
        events: u64,
        bytes: u64,
        /// Bytes on disk the parts said they read, for the progress bar.
        disk_bytes: u64,
        hits: u64,
        matched: usize,
        /// The file indices of the parts and ends, in the order they came.
        order: Vec<(usize, bool)>,
    }

    fn hunt(
        set: &CompiledRuleSet,
        files: &[InputFile],
        piece_bytes: usize,
        jobs: usize,
        on_events: &(dyn Fn(u64) + Sync),
    ) -> Seen {
        let opts = ScanOptions {
            keep_for_correlation: true,
            piece_bytes,
            render: Some(Renderer {
                format: Format::Jsonl,
                inputs: &[],
                zone: &LocalZone::UTC,
            }),
            ..ScanOptions::new(on_events)
        };
        let mut seen = Seen {
            output: String::new(),
            errors: Vec::new(),
            events: 0,
            bytes: 0,
            disk_bytes: 0,
            hits: 0,
            matched: 0,
            order: Vec::new(),
        };
        scan_files(
            set,
            files,
            &file_sizes(files),
            opts,
            jobs,
            |file, scanned| {
                match scanned {
                    Scanned::Part(part) => {
                        seen.output
                            .push_str(std::str::from_utf8(&part.rendered.text).unwrap());
                        seen.errors
                            .extend(part.errors.iter().map(|e| e.to_string()));
                        seen.events += part.events;
                        seen.bytes += part.bytes;
                        seen.disk_bytes += part.disk_bytes;
                        seen.hits += part.hits;
                        seen.matched += part.matched.len();
                        seen.order.push((file, true));
                    }
                    Scanned::FileEnd => seen.order.push((file, false)),
                }
                true
            },
        );
        seen
    }

    /// Matches of a file scanned in many small pieces, across threads, are those of the file
    /// scanned whole, in the same order, with the same line numbers, and so are its errors.
    #[test]
    fn a_file_read_in_pieces_matches_as_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let set = whoami_rule(dir.path());
        let path = dir.path().join("big.jsonl");
        std::fs::write(&path, lines(3000, "big")).unwrap();
        let files = [InputFile {
            path,
            explicit: true,
        }];
        let counted = AtomicU64::new(0);
        let count = |n: u64| {
            counted.fetch_add(n, Ordering::Relaxed);
        };
        let whole = hunt(&set, &files, usize::MAX, 2, &count);
        let pieces = hunt(&set, &files, 1000, 2, &count);
        assert_eq!(whole.hits, 3000 / 7);
        // The progress bar moves by every byte of the file, piece by piece.
        let size = std::fs::metadata(&files[0].path).unwrap().len();
        assert_eq!(whole.disk_bytes, size);
        assert_eq!(whole.output.lines().count(), 3000 / 7);
        assert!(whole.output.contains("\"record_id\":7,"));
        assert_eq!(whole.errors.len(), 3000 / 7 + 1);
        assert_eq!(whole.order, [(0, true), (0, false)]);
        assert!(pieces.order.len() > 100, "{:?}", pieces.order.len());
        assert_eq!(
            Seen {
                order: whole.order.clone(),
                ..pieces
            },
            whole
        );
        // The progress bar heard of every event, piece by piece.
        assert_eq!(counted.load(Ordering::Relaxed), 2 * whole.events);
    }

    /// Many files of many sizes, some read in pieces, some empty, some not logs, on several
    /// threads with little room to get ahead: the writer sees what one thread sees, file after
    /// file, and every file ends once.
    #[test]
    fn matches_are_handed_on_in_file_order_whatever_the_threads() {
        let dir = tempfile::tempdir().unwrap();
        let set = whoami_rule(dir.path());
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        for i in 0..24 {
            let name = format!("f{i:02}.jsonl");
            let text = match i % 6 {
                0 => String::new(),
                1 => "not a log at all\n".to_owned(),
                _ => lines(1 + (i * 97) % 1500, &name),
            };
            std::fs::write(logs.join(name), text).unwrap();
        }
        let files = collect_files(&[logs]).unwrap().files;
        assert_eq!(files.len(), 24);
        let one = hunt(&set, &files, 700, 1, &|_| {});
        let many = hunt(&set, &files, 700, 3, &|_| {});
        let ends: Vec<usize> = many
            .order
            .iter()
            .filter(|(_, part)| !part)
            .map(|(file, _)| *file)
            .collect();
        assert_eq!(ends, (0..24).collect::<Vec<_>>());
        assert!(one.hits > 0);
        assert_eq!(many, one);
    }

    /// An EVTX file read a chunk at a time on two threads reports what it reports read whole
    /// on one.
    #[test]
    fn an_evtx_file_read_in_pieces_matches_as_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("rule.yml"),
            "title: Any event\nid: 0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f\nlogsource: {product: windows}\ndetection:\n  s: {EventID|gt: 0}\n  condition: s\nlevel: low\n",
        )
        .unwrap();
        let set = ruleset::load(&[dir.path().to_path_buf()]).unwrap().set;
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join(
            "../../../shared/data/evtx/hayabusa-sample-evtx/DeepBlueCLI/Powershell-Invoke-Obfuscation-many.evtx",
        );
        let files = [InputFile {
            path: sample,
            explicit: true,
        }];
        let whole = hunt(&set, &files, usize::MAX, 1, &|_| {});
        let pieces = hunt(&set, &files, 64 * 1024, 2, &|_| {});
        assert!(whole.hits > 100, "{}", whole.hits);
        assert_eq!(whole.hits, whole.events);
        assert!(pieces.order.len() > 10, "{:?}", pieces.order);
        assert_eq!(
            Seen {
                order: whole.order.clone(),
                ..pieces
            },
            whole
        );
    }

    /// With a correlation loaded, only the events of the rules it counts are kept for it.
    #[test]
    fn only_the_matches_a_correlation_counts_are_kept_for_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("brute.yml"),
            vigil_testkit::RULE_REPEATED_FAILURES,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("success.yml"),
            "title: Success\nid: 7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d\nlogsource: {product: linux}\ndetection:\n  s: {outcome: success}\n  condition: s\nlevel: low\n",
        )
        .unwrap();
        let set = ruleset::load(&[dir.path().to_path_buf()]).unwrap().set;
        assert_eq!(set.correlation_count(), 1);
        let path = dir.path().join("auth.jsonl");
        let lines: String = (0..60)
            .map(|i| {
                let outcome = if i % 3 == 0 { "failure" } else { "success" };
                format!("{{\"@timestamp\":\"2026-12-01T10:00:{i:02}Z\",\"user\":\"root\",\"outcome\":\"{outcome}\"}}\n")
            })
            .collect();
        std::fs::write(&path, lines).unwrap();
        let files = [InputFile {
            path,
            explicit: true,
        }];
        let seen = hunt(&set, &files, usize::MAX, 1, &|_| {});
        assert_eq!(seen.events, 60);
        // The successes are reported, the failures only feed the correlation.
        assert_eq!(seen.hits, 40);
        assert_eq!(seen.matched, 20);
    }

    /// A thread that panics (a bug) ends the hunt with its panic; the others do not wait for
    /// ever for the unit it held.
    #[test]
    fn a_panic_in_a_thread_ends_the_hunt_instead_of_hanging_it() {
        let dir = tempfile::tempdir().unwrap();
        let set = whoami_rule(dir.path());
        // The second file waits for room the first file's missing part would make.
        let files = ["a.jsonl", "b.jsonl"].map(|name| {
            let path = dir.path().join(name);
            std::fs::write(&path, lines(5_000, name)).unwrap();
            InputFile {
                path,
                explicit: true,
            }
        });
        let calls = AtomicU64::new(0);
        let count = |_: u64| {
            if calls.fetch_add(1, Ordering::Relaxed) == 0 {
                panic!("a bug in the first piece");
            }
        };
        let opts = ScanOptions {
            piece_bytes: 1000,
            ..ScanOptions::new(&count)
        };
        let hunted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            scan_files(&set, &files, &file_sizes(&files), opts, 2, |_, _| true);
        }));
        assert!(hunted.is_err());
    }

    #[test]
    fn a_long_table_suggests_the_streaming_formats() {
        assert_eq!(long_table_hint(Format::Table, LONG_TABLE), None);
        assert!(
            long_table_hint(Format::Table, LONG_TABLE + 1)
                .is_some_and(|h| h.contains("--format jsonl"))
        );
        assert_eq!(long_table_hint(Format::Jsonl, LONG_TABLE * 10), None);
    }

    /// A terminal's rows, written by the progress bar (as indicatif draws) and by the output
    /// (as stdout writes), to see what a user sees.
    #[derive(Debug, Clone, Default)]
    struct Screen(std::sync::Arc<std::sync::Mutex<(Vec<String>, usize)>>);

    impl Screen {
        fn put(&self, text: &str) {
            let mut screen = self.0.lock().unwrap();
            let (rows, row) = &mut *screen;
            for c in text.chars() {
                if rows.len() <= *row {
                    rows.resize(*row + 1, String::new());
                }
                match c {
                    '\n' => *row += 1,
                    c => rows[*row].push(c),
                }
            }
        }

        fn rows(&self) -> Vec<String> {
            let screen = self.0.lock().unwrap();
            let mut rows = screen.0.clone();
            while rows.last().is_some_and(String::is_empty) {
                rows.pop();
            }
            rows
        }
    }

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            120
        }
        fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
            let mut screen = self.0.lock().unwrap();
            screen.1 = screen.1.saturating_sub(n);
            Ok(())
        }
        fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
            self.0.lock().unwrap().1 += n;
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.put(s);
            self.put("\n");
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.put(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            let mut screen = self.0.lock().unwrap();
            let (rows, row) = &mut *screen;
            if let Some(line) = rows.get_mut(*row) {
                line.clear();
            }
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Write for Screen {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.put(&String::from_utf8_lossy(buf));
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Matches written to the terminal the progress bar is drawn on go above it: no row holds
    /// both, and no frame of the bar is left between the matches.
    #[test]
    fn matches_on_the_bars_terminal_are_written_above_it() {
        let screen = Screen::default();
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(1000),
            indicatif::ProgressDrawTarget::term_like(Box::new(screen.clone())),
        );
        bar.set_style(indicatif::ProgressStyle::with_template("BAR {pos}/{len} {msg}").unwrap());
        let counts = scan::FilesAndEvents::new(Some(bar.clone()), 3);
        let mut out = std::io::BufWriter::new(screen.clone());
        write_above(Some(&bar), &mut out, CSV_HEADER.as_bytes()).unwrap();
        for file in 0..3 {
            bar.inc(100);
            counts.events(10);
            write_above(Some(&bar), &mut out, format!("row {file}\n").as_bytes()).unwrap();
            counts.file_done();
        }
        // While the hunt goes on, the bar is below the matches, on a row of its own.
        let rows = screen.rows();
        assert_eq!(rows.len(), 5, "{rows:#?}");
        assert!(rows[4].starts_with("BAR 300/1000"), "{rows:#?}");
        // Its last frame counts every file.
        assert_eq!(bar.message(), "3/3 files, 30 events");
        bar.finish_and_clear();
        out.flush().unwrap();
        assert_eq!(
            screen.rows(),
            [CSV_HEADER.trim_end(), "row 0", "row 1", "row 2"]
        );
    }

    /// The writer stopping (a closed pipe) ends the hunt without scanning the rest.
    #[test]
    fn a_hunt_stops_when_its_output_is_closed() {
        let dir = tempfile::tempdir().unwrap();
        let set = whoami_rule(dir.path());
        let path = dir.path().join("big.jsonl");
        std::fs::write(&path, lines(20_000, "big")).unwrap();
        let files = [InputFile {
            path,
            explicit: true,
        }];
        let scanned = AtomicU64::new(0);
        let count = |n: u64| {
            scanned.fetch_add(n, Ordering::Relaxed);
        };
        let opts = ScanOptions {
            piece_bytes: 1000,
            ..ScanOptions::new(&count)
        };
        let mut parts = 0;
        scan_files(&set, &files, &file_sizes(&files), opts, 2, |_, _| {
            parts += 1;
            parts < 3
        });
        assert_eq!(parts, 3);
        assert!(scanned.load(Ordering::Relaxed) < 20_000 / 2);
    }
}
