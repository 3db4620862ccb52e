//! Terminal helpers shared by the commands: `--json` printing, human tables (comfy-table),
//! turning a server error into a message that says what to do next, progress bars by bytes,
//! and refusing `-` when nothing is piped in.
//!
//! Human output shows text Vigil did not write: event values, host names, rule titles,
//! reporters' words. None of it reaches the terminal as it came: [`one_line`] shows line breaks
//! and tabs as `\n`, `\r`, `\t` and every other character that would act on the terminal or
//! reorder the text (C0 and C1 controls, DEL, the bidirectional overrides and isolates of
//! "Trojan Source", line and paragraph separators) as its escape, `\u{1b}`; [`Table`] runs every
//! cell through it, [`outln!`] and [`errln!`] the lines they print through [`text`], which
//! keeps line breaks. Machine output (`--json`, `--raw`, JSON lines, CSV) is written as it is
//! ([`outraw!`], [`print_json`]).

use std::borrow::Cow;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table as ComfyTable};
use serde::Serialize;
use vigil_api::error::ErrorCode;
use vigil_client::ClientError;
use vigil_events::time::LocalZone;

/// `println!` for a command's human output: when stdout is closed (`vigil … | head`) the
/// command ends quietly, where `println!` would panic with "failed printing to stdout: Broken
/// pipe". The text is shown through [`text`]: what it quotes cannot act on the terminal.
macro_rules! outln {
    () => {
        $crate::output::write_line(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::output::write_line(format_args!($($arg)*), true)
    };
}
pub(crate) use outln;

/// [`outln!`] for machine output (JSON, a token): written byte for byte, as a program reading
/// it expects.
macro_rules! outraw {
    ($($arg:tt)*) => {
        $crate::output::write_line(format_args!($($arg)*), false)
    };
}
pub(crate) use outraw;

/// `eprintln!` for every message on stderr (warnings, summaries, errors), which may quote text
/// Vigil did not write (an event's value, a rule's title, a server's message): shown through
/// [`text`]. Unlike `eprintln!`, it does not panic when stderr is closed ([`write_err`]).
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::write_err(format_args!($($arg)*))
    };
}
pub(crate) use errln;

/// `println!` for a running server's own lines (where it listens, the rules it loaded, that it
/// stopped): shown through [`text`], and passed over when stdout cannot be written (`vigil
/// serve | head -2`, a terminal closed), where `println!` would panic and [`outln!`] end the
/// process — a server goes on serving ([`write_quiet`]).
macro_rules! sayln {
    ($($arg:tt)*) => {
        $crate::output::write_quiet(format_args!($($arg)*))
    };
}
pub(crate) use sayln;

/// Writes one line to stdout for [`sayln!`], through [`text`]; a write that fails is dropped.
pub fn write_quiet(args: std::fmt::Arguments<'_>) {
    write_dropping_errors(&mut std::io::stdout().lock(), args);
}

/// Writes `args` and a line break to `out` through [`text`], flushed; a write that fails is
/// dropped (the stream's reader is gone, and the command goes on).
fn write_dropping_errors(out: &mut dyn std::io::Write, args: std::fmt::Arguments<'_>) {
    let mut line = text(&args.to_string()).into_owned();
    line.push('\n');
    let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
}

/// Writes one line to stdout for [`outln!`] (`clean`: through [`text`]) and [`outraw!`]. A
/// closed pipe ends the process with success: the reader has all it asked for, and nothing is
/// left half-written (results are printed last).
pub fn write_line(args: std::fmt::Arguments<'_>, clean: bool) {
    use std::io::Write;
    let mut line = match args.as_str() {
        Some(s) => s.to_owned(),
        None => args.to_string(),
    };
    if clean && let Cow::Owned(shown) = text(&line) {
        line = shown;
    }
    line.push('\n');
    let mut out = std::io::stdout().lock();
    match write_or_closed(out.write_all(line.as_bytes())) {
        Ok(false) => {}
        Ok(true) => std::process::exit(0),
        Err(e) => {
            write_err(format_args!("error: {e:#}"));
            std::process::exit(1);
        }
    }
}

/// Writes one line to stderr for [`errln!`], through [`text`]. A stderr that cannot be written
/// (`vigil hunt … 2>&1 | head -1` closed it with stdout) is passed over: its messages have no
/// reader left, and the command goes on to end as it would have, where `eprintln!` would panic
/// with "failed printing to stderr" and exit status 101. The results' own writes on stdout
/// still find a closed pipe and end the command quietly.
pub fn write_err(args: std::fmt::Arguments<'_>) {
    write_dropping_errors(&mut std::io::stderr().lock(), args);
}

/// Whether `c`, printed, would act on the terminal or on the order of the text around it
/// rather than show: the control characters (C0, DEL, C1), the bidirectional embeddings,
/// overrides and isolates (U+202A–U+202E, U+2066–U+2069: "Trojan Source"), and the line and
/// paragraph separators U+2028 and U+2029.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}'
        )
}

/// `value` on one line as a terminal may show it: a line feed, carriage return or tab as `\n`,
/// `\r`, `\t`; every other character of [`is_unsafe`] as its escape (`\u{1b}`, `\u{202e}`), so
/// the responder sees what was sent without the terminal acting on it. Backslashes are left
/// as they are (Windows paths stay readable); `--json` has the exact text.
pub fn one_line(value: &str) -> Cow<'_, str> {
    escape(value, false)
}

/// `value` as [`one_line`] shows it, but keeping its line breaks (a line feed, or a carriage
/// return and line feed, as a line feed): for text that is several lines, as a report or a
/// table printed whole.
pub fn text(value: &str) -> Cow<'_, str> {
    escape(value, true)
}

fn escape(value: &str, keep_lines: bool) -> Cow<'_, str> {
    if !value.chars().any(is_unsafe) {
        return value.into();
    }
    let mut out = String::with_capacity(value.len() + 16);
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' if keep_lines => out.push('\n'),
            '\r' if keep_lines && chars.peek() == Some(&'\n') => {}
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out.into()
}

/// `VIGIL_TIMEZONE`, read once: `None` when unset or blank, an error when it names no zone.
fn env_zone() -> &'static Result<Option<LocalZone>, vigil_events::time::ZoneError> {
    static ZONE: std::sync::OnceLock<Result<Option<LocalZone>, vigil_events::time::ZoneError>> =
        std::sync::OnceLock::new();
    ZONE.get_or_init(|| match std::env::var("VIGIL_TIMEZONE") {
        Ok(name) if !name.trim().is_empty() => name.parse().map(Some),
        _ => Ok(None),
    })
}

/// The zone tables show times in when no `--timezone` is given: `VIGIL_TIMEZONE` when set,
/// else UTC. Only shown times depend on it, so a zone that is no zone is said once, as a
/// warning, and UTC is used; a time the user writes is never read this way ([`input_zone`]).
pub fn display_zone() -> &'static LocalZone {
    static WARNED: std::sync::Once = std::sync::Once::new();
    match env_zone() {
        Ok(Some(zone)) => zone,
        Ok(None) => &LocalZone::UTC,
        Err(e) => {
            WARNED.call_once(|| errln!("warning: VIGIL_TIMEZONE: {e}; times are shown in UTC"));
            &LocalZone::UTC
        }
    }
}

/// The zone a time the user wrote (`flag`'s `value`) is read in when no `--timezone` is given:
/// UTC for one that needs none (`now-24h`, a time with its offset), else `VIGIL_TIMEZONE` when
/// set, else UTC. A `VIGIL_TIMEZONE` that names no zone is refused (exit status 2) where it
/// would be used: read in UTC instead, the time would be stored or searched hours off, and
/// nothing would say so but a warning.
pub fn input_zone(flag: &str, value: &str) -> Result<&'static LocalZone, UsageError> {
    let value = value.trim();
    if value.starts_with("now") || vigil_events::time::has_offset(value) {
        return Ok(&LocalZone::UTC);
    }
    match env_zone() {
        Ok(Some(zone)) => Ok(zone),
        Ok(None) => Ok(&LocalZone::UTC),
        Err(e) => Err(UsageError(format!(
            "VIGIL_TIMEZONE: {e} (`timedatectl list-timezones` lists the IANA names); {flag} {value:?} has no UTC offset and is read in that zone: fix or unset VIGIL_TIMEZONE, or write the time with its offset (2026-01-31T09:00:00+01:00)"
        ))),
    }
}

/// A stored time as those tables show it: in [`display_zone`], in chrono's `format`.
pub fn shown_time(time: chrono::DateTime<chrono::Utc>, format: &str) -> String {
    crate::search::wall_clock(time, display_zone(), format)
}

/// A stored time with the zone named after it (`2026-01-31 10:00:00 UTC`).
pub fn shown_time_zoned(time: chrono::DateTime<chrono::Utc>, format: &str) -> String {
    format!("{} {}", shown_time(time, format), display_zone())
}

/// A time column's header: `name`, and the zone when it is not UTC (`AT (Europe/Berlin)`).
pub fn time_column(name: &str) -> String {
    let zone = display_zone();
    if zone.is_utc() {
        name.to_owned()
    } else {
        format!("{name} ({zone})")
    }
}

/// Appends one CSV record (RFC 4180): a field holding a comma, a quote or a line break is
/// quoted, its quotes doubled. Each field is first made inert for a spreadsheet
/// ([`csv_cell`]): the values come from logs, which an attacker writes.
pub fn csv_row<S: AsRef<str>>(out: &mut Vec<u8>, row: &[S]) {
    for (i, field) in row.iter().enumerate() {
        let field = csv_cell(field.as_ref());
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

/// A CSV field as a spreadsheet may safely open it (OWASP's advice against CSV injection):
/// a value starting with `=`, `@`, a tab or a carriage return, or with `+` or `-` when it is
/// not a plain number, would be run as a formula by Excel or LibreOffice
/// (`=HYPERLINK(…)`, `+1+cmd|' /C calc'!A0`), so it is prefixed with `'`, which the
/// spreadsheet shows as text. Numbers (`-1`, `-3.5`, `+44`) are left as they are.
pub fn csv_cell(field: &str) -> std::borrow::Cow<'_, str> {
    let formula = match field.as_bytes().first() {
        Some(b'=' | b'@' | b'\t' | b'\r') => true,
        Some(b'+' | b'-') => !plain_number(&field[1..]),
        _ => false,
    };
    if formula {
        format!("'{field}").into()
    } else {
        field.into()
    }
}

/// Whether `text` is an unsigned decimal number, as `12`, `3.5`, `.5` or `1e6` (not `inf` or
/// `NaN`, which Rust would parse as numbers and a spreadsheet would not).
fn plain_number(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok =
        !(whole.is_empty() && fraction.is_empty()) && digits(whole) && digits(fraction);
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

/// Arguments a command cannot take, found after clap parsed them (a --from after its --to):
/// `main` ends such a run with exit status 2, as clap does for the arguments it refuses, where
/// other errors end it with 1.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Whether a write found stdout closed (`vigil search … | head`), which ends the output
/// quietly; any other error is returned.
pub fn write_or_closed(result: std::io::Result<()>) -> anyhow::Result<bool> {
    match result {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(true),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write the results")),
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    outraw!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// JSON text on one line, for JSON lines output, as `vigil hunt` writes it
/// ([`vigil_events::json::one_line`]: line breaks and the indentation after them dropped, every
/// token — numbers as written — kept); text without a line break is borrowed as it is.
pub fn json_on_one_line(json: &str) -> Cow<'_, str> {
    if !json.contains(['\n', '\r']) {
        return Cow::Borrowed(json);
    }
    let mut out = Vec::with_capacity(json.len());
    vigil_events::json::one_line(json, &mut out);
    // Only ASCII blanks are dropped, so the text stays UTF-8.
    String::from_utf8(out).map_or(Cow::Borrowed(json), Cow::Owned)
}

/// JSON text indented two spaces a level, as `serde_json::to_string_pretty` writes a value, but
/// with every string and number as written: an event shown as it was sent (`1e3`, an integer
/// beyond 64 bits), not as a `serde_json::Value` would write it again. `json` is valid JSON.
pub fn pretty_json(json: &str) -> String {
    fn new_line(out: &mut String, depth: usize) {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    }
    let mut out = String::with_capacity(json.len() * 2);
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    let mut chars = json.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
                let close = if c == '{' { '}' } else { ']' };
                if chars.next_if_eq(&close).is_some() {
                    out.push(close);
                } else {
                    depth += 1;
                    new_line(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                new_line(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                new_line(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// Refuses `-` (standard input) among `paths` when nothing is piped in: the command would wait
/// for logs typed at the terminal, which is never what was meant.
pub fn stdin_must_be_piped(paths: &[std::path::PathBuf], command: &str) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if paths
        .iter()
        .any(|p| p.as_os_str() == vigil_events::source::STDIN_PATH)
        && std::io::stdin().is_terminal()
    {
        anyhow::bail!(
            "`-` reads logs from standard input, but nothing is piped in; pipe them, e.g. `zcat auth.log.gz | vigil {command} … -`, or name the files"
        );
    }
    Ok(())
}

/// A progress bar by bytes on stderr: against `total` with the time left (`eta`), or, when
/// the total is unknown (logs piped in), a count of the bytes read so far.
pub fn bytes_progress(total: Option<u64>, eta: bool) -> indicatif::ProgressBar {
    let (bar, template) = match total {
        Some(total) if eta => (
            indicatif::ProgressBar::new(total),
            "{bar:40} {bytes}/{total_bytes} {msg} [{elapsed_precise}, {eta} left]",
        ),
        Some(total) => (
            indicatif::ProgressBar::new(total),
            "{bar:40} {bytes}/{total_bytes} {msg} [{elapsed_precise}]",
        ),
        None => (
            indicatif::ProgressBar::no_length(),
            "{spinner} {bytes} read {msg} [{elapsed_precise}]",
        ),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// `1 entry`, `2 entries`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The line under a list read a page at a time: which of the `total` matching items the page
/// shows, in what `order`, and when there are more, the `--offset` that shows the next ones; or,
/// for an offset past the end, what to give instead.
pub fn page_footer(
    offset: u32,
    shown: usize,
    total: u64,
    (one, many): (&str, &str),
    order: &str,
) -> String {
    if offset == 0 && shown as u64 == total {
        return format!("{shown} of {}", plural(total, one, many));
    }
    let first = u64::from(offset) + 1;
    let last = u64::from(offset) + shown as u64;
    let range = match shown {
        0 if total > 0 => {
            return format!(
                "--offset {offset} is past the last of {}; give a smaller --offset",
                plural(total, one, many)
            );
        }
        0 => return format!("0 of {}", plural(total, one, many)),
        1 => format!("{one} {first}"),
        _ => format!("{many} {first}–{last}"),
    };
    let more = match total.saturating_sub(last) {
        0 => String::new(),
        n => format!("; {n} more: --offset {last}"),
    };
    format!("{range} of {total}, {order}{more}")
}

/// The first `shown` of `items` joined with ", ", then `and N more` for the rest.
pub fn first_of(items: impl ExactSizeIterator<Item = String>, shown: usize) -> String {
    let more = items.len().saturating_sub(shown);
    let mut listed: Vec<String> = items.take(shown).collect();
    if more > 0 {
        listed.push(format!("and {more} more"));
    }
    listed.join(", ")
}

/// Of the files found in folders and skipped (no format Vigil reads), those named like text
/// logs, which a responder may want read with `--text` (the others are READMEs, scripts and
/// the like).
pub fn skipped_text_logs<'f>(
    skipped: impl Iterator<Item = &'f vigil_events::InputFile>,
) -> Vec<String> {
    skipped
        .filter(|f| f.named_like_text_log())
        .map(|f| f.path.display().to_string())
        .collect()
}

/// The summary line of `hunt`, `metrics` and `ingest` about the files the paths given name
/// more than once ([`vigil_events::Collected::given_twice`]), read once; `None` for none.
pub fn given_twice(count: u64) -> Option<String> {
    (count > 0).then(|| {
        format!(
            "{} found twice (overlapping paths given, or a link beside its file) and read once",
            if count == 1 {
                "1 file was".to_owned()
            } else {
                format!("{count} files were")
            }
        )
    })
}

/// The summary line of `hunt` and `ingest` about the `count` files they skipped in folders,
/// naming the `text_logs` among them ([`skipped_text_logs`]).
pub fn skipped_files(count: u64, text_logs: &[String]) -> Option<String> {
    if count == 0 {
        return None;
    }
    let mut line = format!(
        "{} skipped: no format Vigil reads",
        plural(count, "file", "files")
    );
    if !text_logs.is_empty() {
        line.push_str(&format!(
            "; named like text logs: {}; give --text to read each line as an event",
            first_of(text_logs.iter().cloned(), 5)
        ));
    }
    Some(line)
}

/// A span of whole seconds as a responder reads it, to the precision that matters at its size:
/// `45s`, `4m 10s`, `2h 05m`, `3d 04h`; a negative span (milestones corrected out of order
/// elsewhere) keeps its sign.
pub fn span(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let s = seconds.unsigned_abs();
    let text = match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {:02}h", s / 86_400, s % 86_400 / 3600),
    };
    format!("{sign}{text}")
}

/// `s`, or `-` when it is empty (an event without host or tenant), for a table cell.
pub fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

/// A table with Vigil's style and the given header: the one way to build a human table.
pub fn table<H: Into<Cell>>(header: impl IntoIterator<Item = H>) -> Table {
    let mut table = ComfyTable::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.into_iter().map(|h| h.into().0).collect::<Vec<_>>());
    Table(table)
}

/// A human table (comfy-table) whose every cell is shown through [`one_line`], or line by line
/// for [`Lines`]: a value from a log cannot act on the terminal, nor pass for another row.
pub struct Table(ComfyTable);

impl Table {
    /// Adds a row, each cell made safe to show.
    pub fn add_row<C: Into<Cell>>(&mut self, cells: impl IntoIterator<Item = C>) -> &mut Self {
        self.0
            .add_row(cells.into_iter().map(|c| c.into().0).collect::<Vec<_>>());
        self
    }

    /// The table's layout, for what [`table`] does not set (column constraints).
    pub fn layout(&mut self) -> &mut ComfyTable {
        &mut self.0
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A table cell's text, made safe to show: built from a string (through [`one_line`]) or from
/// [`Lines`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cell(String);

impl From<&str> for Cell {
    fn from(value: &str) -> Self {
        Cell(one_line(value).into_owned())
    }
}

impl From<&String> for Cell {
    fn from(value: &String) -> Self {
        Cell::from(value.as_str())
    }
}

impl From<String> for Cell {
    fn from(value: String) -> Self {
        match one_line(&value) {
            Cow::Borrowed(_) => Cell(value),
            Cow::Owned(shown) => Cell(shown),
        }
    }
}

impl From<Lines> for Cell {
    fn from(value: Lines) -> Self {
        let shown: Vec<Cow<'_, str>> = value.0.iter().map(|l| one_line(l)).collect();
        Cell(shown.join("\n"))
    }
}

/// A cell of several lines: each part shown through [`one_line`] (a line break in a value
/// shows as `\n`, so it cannot pass for a part of its own), the parts one per line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lines(pub Vec<String>);

impl Lines {
    /// Free text (a summary, a note) with its own line breaks kept, a line per part.
    pub fn of_text(text: &str) -> Lines {
        Lines(text.lines().map(str::to_owned).collect())
    }
}

/// What satisfies a phase guard from the command line (the API's refusal names the guard and
/// what it needs, not the flag or command).
fn guard_remedy(guard: &str) -> Option<&'static str> {
    Some(match guard {
        "reopen_reason" => "add --reason TEXT",
        "root_cause_before_recovery" => "add --root-cause TEXT to this command",
        "post_mortem_before_close" => {
            "record it with `vigil incident post-mortem KEY --summary TEXT --factor KIND:TEXT`, then close"
        }
        "post_mortem_classified" => {
            "record it again with `vigil incident post-mortem KEY --summary TEXT --factor KIND:TEXT` (KIND: technical_lapse, procedural_failure, manual_error, process_flaw, other), then close"
        }
        _ => return None,
    })
}

/// Turns a client error into a user-facing error with a hint on what to do next.
pub fn explain(err: ClientError) -> anyhow::Error {
    let hint = match err.code() {
        Some(ErrorCode::Unauthorized) => Some(
            "pass a valid token with --token or VIGIL_TOKEN (create one with `vigil admin token --data DIR --role responder --name NAME`)",
        ),
        // The server's refusal names the role or binding needed.
        _ => None,
    };
    let mut msg = match &err {
        // The server's message points API clients at the `guards` field; the lines below
        // give each guard and what satisfies it here.
        ClientError::Api { guards, .. } if !guards.is_empty() => {
            "the phase change was refused:".to_owned()
        }
        _ => err.to_string(),
    };
    if let ClientError::Api {
        field: Some(field), ..
    } = &err
        && !msg.contains(field.as_str())
    {
        msg = format!("{msg} (field `{field}`)");
    }
    if let ClientError::Api { guards, .. } = &err {
        for g in guards {
            msg.push_str(&format!("\n  - guard `{}`: {}", g.guard, g.reason));
            if let Some(how) = guard_remedy(&g.guard) {
                msg.push_str(&format!(" ({how})"));
            }
        }
    }
    match hint {
        Some(hint) => anyhow::anyhow!("{msg}\nhint: {hint}"),
        None => anyhow::anyhow!(msg),
    }
}

/// The fields that say what an event is about, most telling first: a hunt's details column
/// shows the first three an event has (skipping a value another shown one holds, as a URL's
/// query or a command line's image), a search's one-line summary puts them first.
pub const KEY_FIELDS: &[&str] = &[
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
    // Process access and remote threads (Sysmon 8, 10), shares, WMI, PowerShell modules.
    "SourceImage",
    "TargetImage",
    "GrantedAccess",
    "ShareName",
    "RelativeTargetName",
    "Query",
    "Destination",
    "Consumer",
    "Payload",
    // Defender's detections, RDP and DNS server events, firewall changes, Sysmon's own.
    "Threat Name",
    "Path",
    "AccountName",
    "ClientAddress",
    "ModifyingApplication",
    "Configuration",
    "CVEID",
    // Events of classic sources, whose values are numbered, not named.
    "param1",
    "param2",
    "Param1",
    "Data",
    // Other logs: web (W3C and Elastic Common Schema names), processes, syslog.
    "cs-uri",
    "cs-uri-query",
    "c-uri",
    "url.original",
    "url.query",
    "url.path",
    "process.command_line",
    "user.name",
    "c-ip",
    "source.ip",
    "cs-user-agent",
    "c-useragent",
    "user_agent.original",
    // Syslog: the program, then what it said.
    "app_name",
    "message",
];

#[cfg(test)]
mod tests {
    #[test]
    fn json_is_laid_out_with_every_token_as_written() {
        let sent = "{\"a\": 1e3, \"big\":123456789012345678901234567890,\n \"s\":\"x, {y}: \\\"z\\\" \\u00e9\",\"e\":{},\"l\":[ ],\"n\":[1,{\"b\":null}]}";
        let expected = r#"{
  "a": 1e3,
  "big": 123456789012345678901234567890,
  "s": "x, {y}: \"z\" \u00e9",
  "e": {},
  "l": [],
  "n": [
    1,
    {
      "b": null
    }
  ]
}"#;
        assert_eq!(pretty_json(sent), expected);
        // Laid out as serde_json lays out the same value.
        let value: serde_json::Value = serde_json::from_str(expected).unwrap();
        let theirs = serde_json::to_string_pretty(&value).unwrap();
        assert_eq!(theirs.lines().count(), expected.lines().count(), "{theirs}");
        assert_eq!(json_on_one_line(sent), sent.replace("\n ", ""));
        assert!(matches!(json_on_one_line("{\"a\":1}"), Cow::Borrowed(_)));
    }

    use super::*;

    #[test]
    fn a_page_footer_says_what_is_shown_and_how_to_go_on() {
        let footer = |offset, shown, total| {
            page_footer(
                offset,
                shown,
                total,
                ("incident", "incidents"),
                "newest first",
            )
        };
        assert_eq!(footer(0, 3, 3), "3 of 3 incidents");
        assert_eq!(footer(0, 0, 0), "0 of 0 incidents");
        assert_eq!(
            footer(0, 50, 120),
            "incidents 1–50 of 120, newest first; 70 more: --offset 50"
        );
        assert_eq!(
            footer(100, 20, 120),
            "incidents 101–120 of 120, newest first"
        );
        assert_eq!(footer(119, 1, 120), "incident 120 of 120, newest first");
        assert_eq!(
            footer(200, 0, 120),
            "--offset 200 is past the last of 120 incidents; give a smaller --offset"
        );
    }

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_made_text() {
        let formulas = [
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "'=HYPERLINK(\"http://x\",\"y\")",
            ),
            ("=cmd", "'=cmd"),
            ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
            ("@SUM(1+1)", "'@SUM(1+1)"),
            ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
            ("-enc SQBFAFgA", "'-enc SQBFAFgA"),
            ("\t=1+1", "'\t=1+1"),
            ("\r=1+1", "'\r=1+1"),
            ("-", "'-"),
            ("+", "'+"),
            ("-inf", "'-inf"),
            ("-NaN", "'-NaN"),
            ("-1e", "'-1e"),
            ("-.", "'-."),
            ("+44 20 7946 0958", "'+44 20 7946 0958"),
        ];
        for (cell, shown) in formulas {
            assert_eq!(csv_cell(cell), shown, "{cell:?}");
        }
        let kept = [
            "-1",
            "-3.5",
            "+44",
            "-.5",
            "+1e6",
            "-2.5E-3",
            "",
            "4624",
            "WS01",
            "2024-01-01T10:00:00.000Z",
            "CommandLine: whoami =1",
            "a=b",
            " =not at the start",
        ];
        for cell in kept {
            assert_eq!(csv_cell(cell), cell, "{cell:?}");
        }
    }

    #[test]
    fn csv_rows_quote_the_neutralised_cells() {
        let mut out = Vec::new();
        csv_row(
            &mut out,
            &["=HYPERLINK(\"http://x\",\"y\")", "-1", "-enc a,b", "plain"],
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",-1,\"'-enc a,b\",plain\n"
        );
    }

    #[test]
    fn text_from_outside_cannot_act_on_the_terminal() {
        let cases = [
            (
                "plain C:\\Windows\\cmd.exe é 日本",
                "plain C:\\Windows\\cmd.exe é 日本",
            ),
            (
                "esc \u{1b}]0;pwned\u{7}\u{1b}[2J here",
                "esc \\u{1b}]0;pwned\\u{7}\\u{1b}[2J here",
            ),
            ("u\u{1b}[31mred", "u\\u{1b}[31mred"),
            ("a\nb\r\nc\td", "a\\nb\\r\\nc\\td"),
            (
                "nul\u{0} del\u{7f} csi\u{9b}2J",
                "nul\\u{0} del\\u{7f} csi\\u{9b}2J",
            ),
            (
                "admin\u{202e}fdp.exe \u{2066}x\u{2069}",
                "admin\\u{202e}fdp.exe \\u{2066}x\\u{2069}",
            ),
            ("a\u{2028}b", "a\\u{2028}b"),
        ];
        for (value, shown) in cases {
            assert_eq!(one_line(value), shown, "{value:?}");
            assert!(!one_line(value).chars().any(is_unsafe), "{value:?}");
        }
        assert!(matches!(one_line("nothing to do"), Cow::Borrowed(_)));
        // Text of several lines keeps its line breaks (CRLF as LF), nothing else.
        assert_eq!(
            text("title\r\nsecond \u{1b}[2J\rline\n\tend"),
            "title\nsecond \\u{1b}[2J\\rline\n\\tend"
        );
    }

    #[test]
    fn table_cells_stay_on_their_line_and_lines_cells_keep_their_parts() {
        let mut t = table(["WHAT", "DETAILS"]);
        t.add_row([
            Cell::from("evil\u{1b}]0;x\u{7}\nfake: row"),
            Lines(vec![
                "CommandLine: a\nUser: SYSTEM".into(),
                "Image: b\u{202e}".into(),
            ])
            .into(),
        ]);
        let shown = t.to_string();
        assert!(!shown.chars().any(|c| is_unsafe(c) && c != '\n'), "{shown}");
        assert!(
            shown.contains("evil\\u{1b}]0;x\\u{7}\\nfake: row"),
            "{shown}"
        );
        // Two parts, two lines; the line break inside the first is shown, not obeyed.
        let lines: Vec<&str> = shown.lines().filter(|l| l.contains(": ")).collect();
        assert_eq!(lines.len(), 2, "{shown}");
        assert!(
            lines[0].contains("CommandLine: a\\nUser: SYSTEM"),
            "{shown}"
        );
        assert!(lines[1].contains("Image: b\\u{202e}"), "{shown}");
        assert_eq!(Cell::from(Lines::of_text("one\r\ntwo")).0, "one\ntwo");
    }

    #[test]
    fn spans_read_at_the_precision_their_size_needs() {
        let cases = [
            (0, "0s"),
            (6, "6s"),
            (250, "4m 10s"),
            (7_500, "2h 05m"),
            (3 * 86_400 + 4 * 3600 + 59, "3d 04h"),
            (-90, "-1m 30s"),
        ];
        for (seconds, text) in cases {
            assert_eq!(span(seconds), text, "{seconds}");
        }
    }
}
