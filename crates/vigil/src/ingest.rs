//! `vigil ingest PATH... --service NAME`: send log files to the central log database of a
//! running server (`POST /api/v1/events`), in batches of JSON lines.
//!
//! Files and folders are walked (`vigil_events::collect_files`) and each file is recognised by
//! its content, gzip-compressed or not: EVTX, JSON arrays and pretty-printed JSON are decoded
//! into events (`vigil_events::RecordSource`); JSON lines are sent line by line as written (the
//! server checks each one); plain syslog files and web server access and error logs are parsed
//! line by line into their event shapes (`vigil_events::batch::text_log_lines`). Decoding runs
//! on its own thread and hands full batches to the sender through a small bounded channel, so
//! reading and sending overlap and memory stays at a few batches.
//!
//! A corrupt file or record is reported and skipped; an event the server refuses is reported
//! with its file and line or record. Sending stops at the first batch the server refuses as a
//! whole (authentication, a body too large, the server down), since the next ones would fare
//! the same.
//!
//! Batches never span two files, and each is sent under an `Idempotency-Key` derived from what
//! it is ([`KeyScope::key`]) rather than from the run: a run interrupted (killed, or stopped by
//! a server down too long) and started again sends the same keys, and the server answers the
//! batches it stored before from its record of them instead of storing them twice.

use crate::output::errln;
use std::borrow::Cow;
use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;
use vigil_api::error::ErrorCode;
use vigil_api::events::{IngestQuery, IngestResponse};
use vigil_client::{Client, ClientError, NDJSON};
use vigil_events::batch::text_log_lines;
use vigil_events::source::{
    DecodeError, FilePieces, InputFile, LINES_PIECE_BYTES, LinesFile, MAX_SYSLOG_LINE, Opened,
    STDIN_PATH, TextLogPiece, TextOptions, open_file,
};
use vigil_events::{RecordSource, collect_files};

use crate::incident::{Conn, client};
use crate::output::plural;
use crate::output::{explain, outln};
use crate::storage::human_bytes;

const AFTER_HELP: &str = "\
Files are recognised by their content, gzip-compressed or not: EVTX, JSON lines, JSON arrays,
pretty-printed JSON, plain syslog files (RFC 5424 or RFC 3164 lines), and web server access
logs (the common and combined formats of Apache and nginx, IIS's W3C logs, as Sigma's
webserver fields) and error logs (Apache, nginx). Folders are walked recursively; files in
them that are none of these are skipped, unless named like a log (.evtx, .jsonl, .ndjson,
.json, .gz): those are reported as damaged. With --text, text that is none of these (an
application's own log) is stored line by line instead, each line a `message` with the time it
starts with; binary files are still skipped. `-` reads standard input, any of these formats.

Examples:
  vigil ingest ./logs --service web --tenant contoso
  vigil ingest Security.evtx System.evtx.gz --service dc01 --host dc01.corp.example
  vigil ingest /var/log/auth.log --service bastion --batch 5000
  zcat /var/log/auth.log.*.gz | vigil ingest - --service bastion
  vigil ingest events.jsonl --service app --strict --json
  vigil ingest app.jsonl --service app --wait && vigil search 'service:app'
  vigil ingest /var/log/myapp/ --service myapp --text

Running the same command again (with the same token, within 24 hours; after an interruption,
say) stores only what the server had not stored: each batch is sent under an Idempotency-Key
derived from the service, host and tenant, the file (its full path; standard input has none),
the batch's place in it and its content, and the server answers a batch it already stored from
its record of it (counted as `already stored`, and their detections, recorded by the earlier
run, apart from this run's) instead of storing it twice. Batches end with
their file, so adding files to the command leaves the others' keys as they were; changing
--batch or --max-batch-bytes cuts other batches. A log that grew since is sent again from its
last batch of the earlier run, whose events are then stored twice. --resend sends everything
as new.

Exit status: 0 when every batch was answered, even if some events were rejected or some files
or records could not be decoded (each is said on stderr, and counted in the summary on
stdout); 1 when a path given does not exist or cannot be read, when nothing could be sent
(no log file found, server unreachable or silent for
--timeout seconds through every attempt) or the server refused a batch (bad token, body too
large): sending stops there and the summary says how far it got. Log files holding no events
(an empty log) are not an error. With --strict, also 1 when any event
was rejected or could not be decoded.

Needs a token of role ingest or above (--token or VIGIL_TOKEN); an ingest token bound to a
service may leave out --service.";

/// Arguments of `vigil ingest`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    #[command(flatten)]
    pub conn: Conn,
    /// Log files or folders; `-` for standard input.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The service the events come from (required unless the token fixes it).
    #[arg(long)]
    pub service: Option<String>,
    /// The host they come from (default: each event's own Computer, host.name or hostname;
    /// none when that is longer than 256 bytes, which stays in the event).
    #[arg(long)]
    pub host: Option<String>,
    /// The tenant they belong to.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Events per request.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch: u64,
    /// Largest request body, in bytes; a batch is sent early when the next event would pass
    /// it (the server's default limit is 16 MiB).
    #[arg(long, default_value_t = 8 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1024..))]
    pub max_batch_bytes: u64,
    /// Exit with status 1 when any event was rejected or could not be decoded.
    #[arg(long)]
    pub strict: bool,
    /// Return only once the stored events are searchable (for a script that searches next);
    /// without it, they become searchable within about a second of the summary.
    #[arg(long)]
    pub wait: bool,
    /// Store text files of no format Vigil recognises line by line, each line an event
    /// `{"text_log_format": "plain", "message": LINE}` (with `timestamp` when the line starts
    /// with a time: 2026-12-03 22:15:10,123 or 2026/12/03 22:15:10), for search and pivots;
    /// the server's rules meet them only as the
    /// service's `logsources` in the organisation document say (without: only the rules that
    /// name no logsource). Without --text such files are skipped (reported when named on the
    /// command line; the summary names those found in folders named like logs, app.log).
    /// In a folder, documents, scripts and settings (README, LICENSE, *.md, *.ps1, *.yml)
    /// are still skipped.
    #[arg(long)]
    pub text: bool,
    /// Store every batch again, even those the server stored from an earlier run of the same
    /// command within 24 hours (which it otherwise recognises and does not store twice): to
    /// load the same logs a second time on purpose.
    #[arg(long)]
    pub resend: bool,
    /// The zone the text logs were written in, for their times written without a UTC offset
    /// (RFC 3164 syslog, web server error logs, plain lines): an IANA name such as
    /// Europe/Berlin, `local` for this machine's, or an offset such as +01:00. Each time gets
    /// the offset of its own date (summer time included). EVTX and JSON times are UTC.
    #[arg(
        long,
        value_name = "ZONE",
        default_value = "UTC",
        allow_hyphen_values = true
    )]
    pub timezone: vigil_events::time::LocalZone,
}

/// How many rejections and decoding problems the summary keeps (all are counted).
const KEEP: usize = 1000;
/// How many of each the human summary shows.
const SHOW: usize = 20;

/// Where an event was in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pos {
    /// 1-based line (JSON lines, syslog).
    Line(u64),
    /// EVTX EventRecordID, or index + 1 in a JSON array.
    Record(u64),
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pos::Line(n) => write!(f, "line {n}"),
            Pos::Record(n) => write!(f, "record {n}"),
        }
    }
}

/// The file and position of one event of a batch.
#[derive(Debug, Clone, Copy)]
struct Origin {
    file: u32,
    pos: Pos,
}

/// A request body of JSON lines, where each line came from, and its idempotency key.
struct Batch {
    key: String,
    body: Vec<u8>,
    origins: Vec<Origin>,
}

/// What the idempotency keys of a run's batches are derived from besides each batch itself.
#[derive(Debug, Clone)]
struct KeyScope {
    /// `--service`, `--host`, `--tenant` as given: the same events sent as another service,
    /// host or tenant are another batch.
    service: Option<String>,
    host: Option<String>,
    tenant: Option<String>,
    /// `--resend`: a value of this run alone, so that no batch is taken for one an earlier
    /// run sent.
    resend: Option<uuid::Uuid>,
}

impl KeyScope {
    /// The `Idempotency-Key` of the batch numbered `ordinal` (from 0) of `source` (a file's
    /// canonical path; `None` for standard input), holding `body`. Every run of the same
    /// command over the same content derives the same keys, so the server answers a batch it
    /// stored before from its record instead of storing it again; a batch of other content,
    /// in another place or file, or sent as another service, host or tenant, gets another.
    /// The place counts because a log may repeat itself: two batches of identical lines are
    /// both stored.
    fn key(&self, source: Option<&Path>, ordinal: u64, body: &[u8]) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(b"vigil ingest batch key 1");
        // Each part tagged present or absent and length-prefixed: no two lists of parts hash
        // alike by running into each other.
        let mut part = |bytes: Option<&[u8]>| match bytes {
            None => hash.update([0]),
            Some(bytes) => {
                hash.update([1]);
                hash.update((bytes.len() as u64).to_le_bytes());
                hash.update(bytes);
            }
        };
        part(self.service.as_deref().map(str::as_bytes));
        part(self.host.as_deref().map(str::as_bytes));
        part(self.tenant.as_deref().map(str::as_bytes));
        part(source.map(|p| p.as_os_str().as_encoded_bytes()));
        part(Some(&ordinal.to_le_bytes()));
        part(Some(&Sha256::digest(body)));
        part(self.resend.as_ref().map(|r| r.as_bytes().as_slice()));
        format!("vigil-ingest-{}", hex::encode(hash.finalize()))
    }
}

/// An event or file that was not stored, with where and why.
#[derive(Debug, Clone, Serialize)]
struct Problem {
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<u64>,
    reason: String,
}

impl Problem {
    fn new(file: &Path, pos: Option<Pos>, reason: String) -> Problem {
        Problem {
            file: file.display().to_string(),
            line: match pos {
                Some(Pos::Line(n)) => Some(n),
                _ => None,
            },
            record: match pos {
                Some(Pos::Record(n)) => Some(n),
                _ => None,
            },
            reason,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.file == STDIN_PATH {
            f.write_str("(standard input)")?;
        } else {
            f.write_str(&self.file)?;
        }
        if let Some(n) = self.line {
            write!(f, ":{n}")?;
        }
        if let Some(n) = self.record {
            write!(f, " record {n}")?;
        }
        // Reasons may span lines (a parser's excerpt of the input): one line per problem.
        let reason: Vec<&str> = self.reason.split_whitespace().collect();
        write!(f, ": {}", reason.join(" "))
    }
}

/// A capped list of problems with the full count.
#[derive(Debug, Default, Serialize)]
struct Problems {
    count: u64,
    first: Vec<Problem>,
}

impl Problems {
    fn push(&mut self, p: Problem) {
        self.count += 1;
        if self.first.len() < KEEP {
            self.first.push(p);
        }
    }
}

/// What the decoding thread found.
#[derive(Debug, Default)]
struct ReadStats {
    files: u64,
    /// Files found in folders in no format Vigil reads.
    skipped: Vec<InputFile>,
    events: u64,
    /// Events read but larger than a request may be: not sent (each among `errors`).
    too_large: u64,
    bytes: u64,
    errors: Problems,
}

/// The summary printed at the end (`--json`: this object).
#[derive(Debug, Serialize)]
struct Summary {
    /// Files read (recognised as a log format).
    files: u64,
    /// Files found in folders and skipped: not a log format.
    files_skipped: u64,
    /// Those of them named like text logs (`app.log`), which `--text` would read.
    skipped_text_logs: Vec<String>,
    /// Files the paths given named more than once (overlapping paths, a link beside its file),
    /// read and sent once: sent twice, their events would be stored twice.
    files_given_twice: u64,
    /// Events read from the files: `stored` + `already_stored` + `rejected` + `unconfirmed` +
    /// `not_sent`.
    events_read: u64,
    /// Events read but never sent: each larger than a request may be (listed among
    /// `errors`), and, when sending stopped, those read ahead of it.
    not_sent: u64,
    /// Of them, those larger than a request may be.
    #[serde(skip)]
    too_large: u64,
    /// Events of the batch in flight when sending stopped, which the server may have stored
    /// all the same (its answer was lost): the same command run again tells.
    unconfirmed: u64,
    /// Bytes read: a whole file's size as stored on disk (compressed, for gzip), or as far as
    /// reading went when sending stopped.
    bytes_read: u64,
    /// Requests answered.
    batches: u64,
    /// Events stored (durable) by this run.
    stored: u64,
    /// Events an earlier run stored (durable): their batches were answered from the server's
    /// record of them, not stored again.
    already_stored: u64,
    /// Events the server refused (count and the first 1000 with file, line or record, reason).
    rejected: Problems,
    /// Files and records that could not be read or decoded (count and the first 1000).
    errors: Problems,
    /// Sigma rule matches the server recorded for the events this run stored.
    detections: u64,
    /// Sigma rule matches recorded, when an earlier run stored them, for the events of
    /// `already_stored`: not new.
    detections_earlier: u64,
    /// Events a correlation counts that came too late for the server's live correlation
    /// windows: it correlates them over what it stores a minute after the last of them.
    correlated_later: u64,
    /// Events stored older than their service's retention: the server's next retention pass
    /// deletes them.
    expiring: u64,
    /// Wall time.
    seconds: f64,
    /// Why sending stopped before the end, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let c = client(&args.conn)?;
    crate::output::stdin_must_be_piped(&args.paths, "ingest")?;
    let collected = collect_files(&args.paths).context("cannot read the paths to ingest")?;
    // A folder inside that cannot be read is skipped with its files, like a file that cannot
    // be: warned about now, counted among the errors.
    let mut walk_errors = Problems::default();
    for e in &collected.skipped {
        let p = Problem::new(e.path(), None, e.reason());
        errln!("warning: {p}");
        walk_errors.push(p);
    }
    let files = collected.files;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let mut summary = runtime.block_on(ingest(&args, &c, files, walk_errors))?;
    summary.files_given_twice = collected.given_twice;

    if args.conn.json {
        crate::output::print_json(&summary)?;
    } else {
        // On a terminal the progress bar printed each rejection as it came.
        print_summary(&summary, std::io::stderr().is_terminal());
    }
    if let Some(why) = summary.stopped {
        return Err(anyhow::anyhow!(why));
    }
    // Log files that hold no events (a log rotated away, an empty export) are nothing to do,
    // not an error; finding no log file at all is.
    let all_empty = summary.files > 0 && summary.errors.count == 0;
    if summary.events_read == 0 && !all_empty {
        bail!(nothing_to_send(
            &args.paths,
            summary.files_skipped,
            &summary.skipped_text_logs
        ));
    }
    if args.strict && (summary.rejected.count > 0 || summary.errors.count > 0) {
        bail!(
            "--strict: {} events rejected and {} files or records not decoded; fix them (listed in the summary) and send them again",
            summary.rejected.count,
            summary.errors.count
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Why a run found nothing to send, and what to do: the `skipped` files of folders, naming
/// the `text_logs` among them (`Windows_2k.log`), which `--text` reads line by line.
fn nothing_to_send(paths: &[PathBuf], skipped: u64, text_logs: &[String]) -> String {
    use crate::output::{first_of, plural};
    let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let mut message = format!("nothing to send: no events found in {}", paths.join(", "));
    if skipped > 0 {
        message.push_str(&format!(
            "; {} skipped, in no format Vigil reads",
            plural(skipped, "file", "files")
        ));
        if !text_logs.is_empty() {
            let others = skipped.saturating_sub(text_logs.len() as u64);
            message.push_str(&format!(
                ": {} named like a text log ({}){}",
                text_logs.len(),
                first_of(text_logs.iter().cloned(), 5),
                match others {
                    0 => String::new(),
                    n => format!(" and {}", plural(n, "other file", "other files")),
                }
            ));
        }
    }
    if text_logs.is_empty() {
        message.push_str("; give EVTX, JSON lines, JSON array, syslog, Linux audit or web server (access, error) log files (gzip or not)");
    } else {
        message.push_str(&format!(
            "; give --text to store each line of {} as an event",
            if text_logs.len() == 1 { "it" } else { "them" }
        ));
    }
    message
}

/// `walk_errors`: what walking the folders given left out, counted among the errors.
async fn ingest(
    args: &Args,
    c: &Client,
    files: Vec<InputFile>,
    walk_errors: Problems,
) -> anyhow::Result<Summary> {
    let start = Instant::now();
    let total_bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(&f.path).ok())
        .map(|m| m.len())
        .sum();
    // Logs piped in have no size to go by: the bar then counts what was read.
    let total = (!files.iter().any(InputFile::is_stdin)).then_some(total_bytes);
    let progress = std::io::stderr()
        .is_terminal()
        .then(|| crate::output::bytes_progress(total, false));
    let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(2);
    let stop = Arc::new(AtomicBool::new(false));
    let events_read = Arc::new(AtomicU64::new(0));
    let keys = KeyScope {
        service: args.service.clone(),
        host: args.host.clone(),
        tenant: args.tenant.clone(),
        resend: args.resend.then(uuid::Uuid::new_v4),
    };
    let decoder = {
        let stop = stop.clone();
        let events_read = events_read.clone();
        let progress = progress.clone();
        let max_events = args.batch as usize;
        let max_bytes = args.max_batch_bytes as usize;
        let text = TextOptions {
            plain: args.text,
            zone: args.timezone.clone(),
        };
        std::thread::Builder::new()
            .name("vigil-ingest-read".into())
            .spawn(move || {
                let mut batcher = Batcher {
                    tx,
                    keys,
                    source: None,
                    ordinal: 0,
                    body: Vec::new(),
                    origins: Vec::new(),
                    max_events,
                    max_bytes,
                    stop,
                    events_read,
                };
                let mut stats = ReadStats {
                    errors: walk_errors,
                    ..ReadStats::default()
                };
                read_all(&files, &mut batcher, &mut stats, progress.as_ref(), &text);
                stats
            })
            .context("could not start the reading thread")?
    };

    let query = IngestQuery {
        service: args.service.clone(),
        host: args.host.clone(),
        tenant: args.tenant.clone(),
        ..Default::default()
    };
    let (mut batches, mut stored, mut detections) = (0u64, 0u64, 0u64);
    let (mut already_stored, mut detections_earlier) = (0u64, 0u64);
    let mut correlated_later = 0u64;
    let mut expiring = 0u64;
    // Events of the batches answered, and of the one in flight when sending stopped if it
    // may have been stored: what is left of the events read was never sent.
    let mut answered = 0u64;
    let mut unconfirmed = 0u64;
    let mut rejected = Problems::default();
    let mut stopped = None;
    while let Some(batch) = rx.recv().await {
        let body = bytes::Bytes::from(batch.body);
        match send_batch(c, &query, body, &batch.key, progress.as_ref()).await {
            Ok(Sent {
                answer: resp,
                earlier,
            }) => {
                batches += 1;
                answered += batch.origins.len() as u64;
                // A batch answered from the server's record was stored, and its detections
                // recorded, by an earlier run: counted apart, not as this run's.
                if earlier {
                    already_stored += resp.stored;
                    detections_earlier += resp.detections;
                } else {
                    stored += resp.stored;
                    detections += resp.detections;
                }
                correlated_later += resp.correlated_later;
                expiring += resp.expiring;
                for p in rejections(&resp, &batch.origins, &paths) {
                    if let Some(bar) = &progress {
                        bar.suspend(|| errln!("rejected: {p}"));
                    }
                    rejected.push(p);
                }
                if let Some(bar) = &progress {
                    bar.set_message(format!(
                        "{} events read, {} stored",
                        events_read.load(Ordering::Relaxed),
                        stored + already_stored
                    ));
                }
            }
            Err(Unsent {
                error,
                maybe_stored,
            }) => {
                let in_flight = batch.origins.len() as u64;
                if maybe_stored {
                    unconfirmed = in_flight;
                }
                let at_least = stored + already_stored;
                let service_given = args.service.is_some();
                stopped = Some(refused(
                    error,
                    service_given,
                    at_least,
                    InFlight {
                        events: in_flight,
                        maybe_stored,
                    },
                    args.resend,
                ));
                break;
            }
        }
    }
    // Events an earlier run stored may not be searchable yet either (it was cut short).
    if args.wait && stopped.is_none() && stored + already_stored > 0 {
        // An empty batch that asks the server to answer once everything is searchable.
        let wait = IngestQuery {
            refresh: Some("wait_for".into()),
            ..query
        };
        match c.ingest(&wait, Vec::new(), NDJSON).await {
            Err(err) => {
                stopped = Some(format!(
                    "the events were stored, but waiting for them to be searchable failed: {:#}",
                    explain(err)
                ));
            }
            Ok(answer) => {
                if let Some(why) = answer.not_searchable {
                    stopped = Some(format!(
                        "the events were stored, but they cannot be searchable yet: {why}"
                    ));
                }
            }
        }
    }
    // Stop the reader (it may be in the middle of a large file) and collect what it found.
    stop.store(true, Ordering::Relaxed);
    drop(rx);
    let stats = decoder
        .join()
        .map_err(|_| anyhow::anyhow!("the reading thread panicked; report this as a bug"))?;
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    Ok(Summary {
        files: stats.files,
        files_skipped: stats.skipped.len() as u64,
        skipped_text_logs: crate::output::skipped_text_logs(stats.skipped.iter()),
        // Known to the caller, which walked the paths.
        files_given_twice: 0,
        events_read: stats.events,
        not_sent: stats.events.saturating_sub(answered + unconfirmed),
        too_large: stats.too_large,
        unconfirmed,
        bytes_read: stats.bytes,
        batches,
        stored,
        already_stored,
        rejected,
        errors: stats.errors,
        detections,
        detections_earlier,
        correlated_later,
        expiring,
        seconds: start.elapsed().as_secs_f64(),
        stopped,
    })
}

/// How many times a batch is sent before giving up, when what failed may pass.
const SEND_ATTEMPTS: u32 = 5;

/// A batch the server answered.
struct Sent {
    answer: IngestResponse,
    /// Stored by an earlier run: the server answered the first attempt from its record of the
    /// batch. (Answered so after an attempt of this run failed, the batch counts as this
    /// run's: most likely its own earlier attempt stored it.)
    earlier: bool,
}

/// A batch the server did not answer.
struct Unsent {
    error: ClientError,
    /// Whether it may have been stored all the same: an attempt failed in a way that may
    /// have come after the server received it (the connection lost, the server stopping),
    /// and the last one did not settle it.
    maybe_stored: bool,
}

/// Sends one batch under its idempotency key, and again after a failure that may pass: the
/// server unreachable (restarting), unavailable, unable to write it (its disk full: space may
/// come back), or still storing this very batch (its answer was lost). Waits 0.5, 1, 2, then
/// 4 s between attempts.
async fn send_batch(
    c: &Client,
    query: &IngestQuery,
    body: bytes::Bytes,
    key: &str,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<Sent, Unsent> {
    let mut attempt = 1;
    // Whether an attempt that failed may have stored the batch.
    let mut perhaps = false;
    loop {
        match c.ingest_once(query, body.clone(), NDJSON, key).await {
            Ok(answered) => {
                return Ok(Sent {
                    answer: answered.answer,
                    earlier: answered.replayed && attempt == 1,
                });
            }
            Err(err) if attempt < SEND_ATTEMPTS && may_pass(&err) => {
                perhaps |= may_have_stored(&err);
                let wait = std::time::Duration::from_millis(500 << (attempt - 1));
                let note = format!(
                    "warning: {err}; sending the batch again in {:.1} s (attempt {}/{SEND_ATTEMPTS})",
                    wait.as_secs_f64(),
                    attempt + 1
                );
                match progress {
                    Some(bar) => bar.suspend(|| errln!("{note}")),
                    None => errln!("{note}"),
                }
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(error) => {
                let maybe_stored = stored_unknown(perhaps, &error);
                return Err(Unsent {
                    error,
                    maybe_stored,
                });
            }
        }
    }
}

/// Whether sending a batch again may succeed where it failed. A server that did not answer
/// in time may have stored the batch: it is sent again under the same key, which the server
/// answers from its record (or as still storing, a conflict, sent again after a wait).
fn may_pass(err: &ClientError) -> bool {
    may_have_stored(err)
        || matches!(err, ClientError::ConnectTimedOut { .. })
        || err.code() == Some(ErrorCode::NotStored)
}

/// Whether a failed sending may have stored the batch all the same: the connection lost or
/// the answer not come in time (perhaps after the server stored it), the server unavailable
/// (stopping while it stored it), or this very batch being stored by an earlier sending.
fn may_have_stored(err: &ClientError) -> bool {
    matches!(
        err,
        ClientError::Transport { .. } | ClientError::TimedOut { .. }
    ) || matches!(
        err.code(),
        Some(ErrorCode::Unavailable | ErrorCode::Conflict)
    )
}

/// Whether a batch whose last sending failed with `last` may have been stored, `earlier`
/// telling whether an earlier sending failed in a way that may have stored it. The server
/// looks a batch's key up before storing it, so a last answer of `not_stored` settles it: an
/// earlier sending that had stored the batch would have been answered again, one still
/// storing it refused as a conflict.
fn stored_unknown(earlier: bool, last: &ClientError) -> bool {
    last.code() != Some(ErrorCode::NotStored) && (earlier || may_have_stored(last))
}

/// The server's refusal of a batch naming no service, said in the terms of this command (the
/// API's message names its query parameter): without --service, only a token bound to a
/// service can send.
fn name_the_service(err: ClientError, service_given: bool) -> anyhow::Error {
    match &err {
        ClientError::Api {
            field: Some(field), ..
        } if field == "service" && !service_given => anyhow::anyhow!(
            "add --service NAME (the service these logs come from), or send with an ingest token bound to one (`vigil admin token --role ingest --service NAME`)"
        ),
        _ => explain(err),
    }
}

/// The batch being sent when sending stopped.
struct InFlight {
    /// How many events it holds.
    events: u64,
    /// Whether it may have been stored ([`Unsent::maybe_stored`]).
    maybe_stored: bool,
}

/// The message for a batch the server did not take, saying what is stored and what to do next:
/// `stored` events were stored for certain, those of the batch in flight perhaps.
fn refused(
    err: ClientError,
    service_given: bool,
    stored: u64,
    in_flight: InFlight,
    resend: bool,
) -> String {
    let too_large = err.code() == Some(ErrorCode::PayloadTooLarge);
    let not_stored = err.code() == Some(ErrorCode::NotStored);
    let unconfirmed = if in_flight.maybe_stored {
        in_flight.events
    } else {
        0
    };
    let mut msg = format!("{:#}", name_the_service(err, service_given));
    if too_large {
        msg.push_str(
            "\nhint: send smaller requests with --batch N or --max-batch-bytes N (or raise the server's ingest body limit)",
        );
    }
    let what = match (stored, unconfirmed) {
        (0, 0) => "no events were stored".to_owned(),
        // The server said so for certain: the batch is to be sent again, not looked for.
        (n, 0) if not_stored => format!(
            "{} stored; the batch in flight ({}) was not",
            plural(n, "event was", "events were"),
            plural(in_flight.events, "event", "events")
        ),
        (n, 0) => format!("{} stored", plural(n, "event was", "events were")),
        (0, k) => format!(
            "no event was stored for certain; the batch in flight ({}) may have been stored, its answer lost",
            plural(k, "event", "events")
        ),
        (n, k) => format!(
            "at least {} stored; the batch in flight ({}) may have been stored too, its answer lost",
            plural(n, "event was", "events were"),
            plural(k, "event", "events")
        ),
    };
    let next = if resend {
        "fix the cause and send only what was not stored: this run's batches (--resend) are not recognised by another run, so running it again stores them twice"
    } else {
        "fix the cause and run the same command again (with the same token, within 24 hours): batches already stored are recognised and not stored twice"
    };
    format!("sending stopped: {msg}\n{what}; {next}")
}

/// The server's rejections of one batch, with their file and position.
fn rejections<'a>(
    resp: &'a IngestResponse,
    origins: &'a [Origin],
    paths: &'a [PathBuf],
) -> impl Iterator<Item = Problem> + 'a {
    resp.rejected.iter().map(|r| {
        // The body is JSON lines, one event per line, so line N is origins[N - 1].
        let at = r
            .line
            .and_then(|l| l.checked_sub(1))
            .or(r.index)
            .and_then(|i| origins.get(i as usize));
        match at {
            Some(o) => Problem::new(&paths[o.file as usize], Some(o.pos), r.reason.clone()),
            None => Problem {
                file: "(unknown)".to_owned(),
                line: r.line,
                record: r.index,
                reason: r.reason.clone(),
            },
        }
    })
}

/// The sender has gone away (it stopped on an error): stop reading.
struct Closed;

/// Collects JSON lines into batches and hands each full one to the sender. A batch holds the
/// events of one file, so that its key (its place in its file) is the same whatever else the
/// command sends.
struct Batcher {
    /// The batches ready to send: bounded (a few), so reading stays a few batches ahead of
    /// sending and memory stays small.
    tx: tokio::sync::mpsc::Sender<Batch>,
    keys: KeyScope,
    /// The file being read: its canonical path, `None` for standard input.
    source: Option<PathBuf>,
    /// The number of the next batch of that file, from 0.
    ordinal: u64,
    body: Vec<u8>,
    origins: Vec<Origin>,
    max_events: usize,
    max_bytes: usize,
    stop: Arc<AtomicBool>,
    events_read: Arc<AtomicU64>,
}

impl Batcher {
    /// Ends the batch of the file before (sent) and starts the batches of `file`.
    fn start_file(&mut self, file: &InputFile) -> Result<(), Closed> {
        self.flush()?;
        // A path that cannot be resolved (the file gone) fails to open just after: any name
        // will do.
        self.source = (!file.is_stdin())
            .then(|| std::fs::canonicalize(&file.path).unwrap_or_else(|_| file.path.clone()));
        self.ordinal = 0;
        Ok(())
    }

    /// Adds one event (one line of JSON, without its newline), sending the batch before when
    /// the event does not fit in it. An event larger than a whole request is refused with the
    /// reason. `Err` when the sender has gone away: the event was not taken.
    fn push(&mut self, origin: Origin, json: &[u8]) -> Result<Option<String>, Closed> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(Closed);
        }
        if json.len() + 1 > self.max_bytes {
            self.events_read.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(format!(
                "the event is {} bytes, more than --max-batch-bytes {}; raise it (the server takes 16 MiB by default) or split the event",
                json.len(),
                self.max_bytes
            )));
        }
        if self.origins.len() >= self.max_events
            || self.body.len() + json.len() + 1 > self.max_bytes
        {
            self.flush()?;
        }
        self.body.extend_from_slice(json);
        self.body.push(b'\n');
        self.origins.push(origin);
        self.events_read.fetch_add(1, Ordering::Relaxed);
        Ok(None)
    }

    /// Hands the batch being filled, if any, to the sender under its key.
    fn flush(&mut self) -> Result<(), Closed> {
        if self.origins.is_empty() {
            return Ok(());
        }
        let key = self
            .keys
            .key(self.source.as_deref(), self.ordinal, &self.body);
        self.ordinal += 1;
        let batch = Batch {
            key,
            body: std::mem::take(&mut self.body),
            origins: std::mem::take(&mut self.origins),
        };
        self.tx.blocking_send(batch).map_err(|_| Closed)
    }
}

/// Reads every file into the batcher; stops early when the sender has gone away.
fn read_all(
    files: &[InputFile],
    batcher: &mut Batcher,
    stats: &mut ReadStats,
    progress: Option<&indicatif::ProgressBar>,
    text: &TextOptions,
) {
    let mut reader = Reader {
        batcher,
        stats,
        progress,
        shown: 0,
        read: None,
        text,
    };
    for (index, file) in files.iter().enumerate() {
        if reader.batcher.start_file(file).is_err() {
            return;
        }
        let before = reader.stats.events;
        reader.shown = 0;
        reader.read = None;
        let meta = std::fs::metadata(&file.path).ok();
        let result = reader.read_file(index as u32, file, meta.as_ref());
        if let Some(bar) = progress {
            let size = meta.as_ref().map_or(0, std::fs::Metadata::len);
            bar.inc(size.saturating_sub(reader.shown));
        }
        // A file read to its end counts its size on disk; one cut short by a stop, or
        // standard input, what was read of it.
        if let Some(read) = reader.read {
            reader.stats.bytes += match &meta {
                Some(meta) if result.is_ok() && !file.is_stdin() => meta.len(),
                Some(meta) if !file.is_stdin() => read.min(meta.len()),
                _ => read,
            };
        }
        if result.is_err() {
            return;
        }
        tracing::debug!(file = %file.path.display(), events = reader.stats.events - before, "file read");
    }
    let _ = reader.batcher.flush();
}

/// The reading thread's state while it walks the files.
struct Reader<'a> {
    batcher: &'a mut Batcher,
    stats: &'a mut ReadStats,
    progress: Option<&'a indicatif::ProgressBar>,
    /// Bytes of the current file the progress bar already moved by (pieces of a large one).
    shown: u64,
    /// Bytes read of the current file (compressed, for gzip) once it is read as a log.
    read: Option<u64>,
    /// `--text`, `--timezone`: how text files are read.
    text: &'a TextOptions,
}

impl Reader<'_> {
    /// Reports a file or record that could not be read, and goes on.
    fn problem(&mut self, path: &Path, pos: Option<Pos>, reason: String) {
        let p = Problem::new(path, pos, reason);
        match self.progress {
            Some(bar) => bar.suspend(|| errln!("warning: {p}")),
            None => errln!("warning: {p}"),
        }
        self.stats.errors.push(p);
    }

    /// Queues one event of file `index`; counted read once taken.
    fn push(&mut self, index: u32, path: &Path, pos: Pos, json: &[u8]) -> Result<(), Closed> {
        let refused = self.batcher.push(Origin { file: index, pos }, json)?;
        self.stats.events += 1;
        if let Some(reason) = refused {
            self.stats.too_large += 1;
            self.problem(path, Some(pos), reason);
        }
        Ok(())
    }

    /// Reads one file. Problems are reported and skipped; `Err` only when the sender has gone
    /// away.
    fn read_file(
        &mut self,
        index: u32,
        file: &InputFile,
        meta: Option<&std::fs::Metadata>,
    ) -> Result<(), Closed> {
        let path = file.path.as_path();
        let disk_bytes = meta.map_or(0, std::fs::Metadata::len);
        let opened = match open_file(path, LINES_PIECE_BYTES) {
            Ok(opened) => opened,
            Err(e) => {
                self.problem(path, None, e.reason());
                return Ok(());
            }
        };
        let mut pieces = match opened {
            Opened::Lines(mut pieces) => {
                self.stats.files += 1;
                self.read = Some(0);
                // Sent as written, piece by piece so a large file never sits whole in memory;
                // the server checks each line and says which it refused.
                while let Some(piece) = pieces.next() {
                    self.read = Some(pieces.disk_bytes_read());
                    match piece {
                        Ok(piece) => {
                            for (line, text) in lines(&piece.data) {
                                let pos = Pos::Line(piece.lines_before + line);
                                self.push(index, path, pos, text)?;
                            }
                            self.piece_shown(pieces.disk_bytes_read(), disk_bytes);
                        }
                        Err(e) => self.problem(path, line_of(&e), e.reason()),
                    }
                }
                self.read = Some(pieces.disk_bytes_read());
                return Ok(());
            }
            Opened::Documents(documents) => FilePieces::Documents(documents),
            Opened::Evtx(evtx) => FilePieces::Evtx(evtx),
            // Maybe a plain-text log (syslog, web access log).
            Opened::Unknown(lines) => return self.read_text_log(index, file, lines, meta),
        };
        // Decoded here, piece by piece, and sent as records: a JSON document in the text it
        // is written in, an EVTX record as the JSON it decodes to.
        let as_written = matches!(pieces, FilePieces::Documents(_));
        self.stats.files += 1;
        self.read = Some(0);
        let name: Arc<Path> = Arc::from(path);
        while let Some(piece) = pieces.next() {
            self.read = Some(pieces.disk_bytes_read());
            match piece {
                Ok(piece) => {
                    let source = RecordSource::piece(name.clone(), piece);
                    self.send_records(index, source, as_written)?
                }
                Err(e) => self.problem(path, None, e.reason()),
            }
            self.piece_shown(pieces.disk_bytes_read(), disk_bytes);
        }
        self.read = Some(pieces.disk_bytes_read());
        Ok(())
    }

    /// Queues every record of a source, reporting those that cannot be decoded; `as_written`:
    /// each in the text it was read from (numbers as written, not as the parser would write
    /// them again), on one line as JSON lines need, else written from its decoded value.
    fn send_records(
        &mut self,
        index: u32,
        source: RecordSource,
        as_written: bool,
    ) -> Result<(), Closed> {
        let file = source.file().clone();
        let path = file.as_ref();
        for record in source {
            match record {
                Ok(r) => {
                    let json = if as_written {
                        let text = r.event.into_text();
                        match crate::output::json_on_one_line(&text) {
                            Cow::Owned(line) => line,
                            Cow::Borrowed(_) => text,
                        }
                    } else {
                        r.event.to_json()
                    };
                    self.push(index, path, Pos::Record(r.record_id), json.as_bytes())?
                }
                Err(e) => {
                    let pos = match &e {
                        DecodeError::Record { record, .. } => Some(Pos::Record(*record)),
                        _ => None,
                    };
                    self.problem(path, pos, e.reason());
                }
            }
        }
        Ok(())
    }

    /// Moves the progress bar to `read` bytes through the file (its compressed bytes for
    /// gzip), after a piece was sent: the bar moves while a large file is sent.
    fn piece_shown(&mut self, read: u64, disk_bytes: u64) {
        // A file's size caps what was read ahead of the pieces; standard input has none.
        let read = if disk_bytes == 0 {
            read
        } else {
            read.min(disk_bytes)
        };
        if let Some(bar) = self.progress
            && read > self.shown
        {
            bar.inc(read - self.shown);
            self.shown = read;
        }
    }

    /// Reads a plain-text log (syslog, web access or error log, Linux audit lines, gzip or not) in pieces; a
    /// file whose first lines are none of these ([`vigil_events::LineFormat::of`]) is read as
    /// plain lines with `--text`, else skipped, or reported when it is named like a log.
    fn read_text_log(
        &mut self,
        index: u32,
        file: &InputFile,
        lines: LinesFile,
        meta: Option<&std::fs::Metadata>,
    ) -> Result<(), Closed> {
        let path = file.path.as_path();
        let mut pieces = match lines.into_text_log_or_plain(self.text, file) {
            Ok(pieces) => pieces,
            Err(lines) => {
                if file.must_decode() {
                    self.problem(path, None, lines.unknown_format().reason());
                } else {
                    self.stats.skipped.push(file.clone());
                }
                return Ok(());
            }
        };
        let disk_bytes = meta.map_or(0, std::fs::Metadata::len);
        self.stats.files += 1;
        self.read = Some(0);
        while let Some(piece) = pieces.next() {
            self.read = Some(pieces.disk_bytes_read());
            match piece {
                Ok(TextLogPiece { lines, format }) => {
                    for item in text_log_lines(&lines.data, format, MAX_SYSLOG_LINE) {
                        match item {
                            Ok(msg) => {
                                let pos = position(msg.position, lines.lines_before);
                                let json = msg.event.to_json_text();
                                self.push(index, path, pos, json.as_bytes())?;
                            }
                            Err(rejection) => {
                                let pos = position(rejection.position, lines.lines_before);
                                self.problem(path, Some(pos), rejection.reason.to_string());
                            }
                        }
                    }
                    self.piece_shown(pieces.disk_bytes_read(), disk_bytes);
                }
                Err(e) => self.problem(path, line_of(&e), e.reason()),
            }
        }
        self.read = Some(pieces.disk_bytes_read());
        Ok(())
    }
}

/// The line a piece's error is about: one too long to read, skipped.
fn line_of(error: &DecodeError) -> Option<Pos> {
    match error {
        DecodeError::Record { record, .. } => Some(Pos::Line(*record)),
        _ => None,
    }
}

/// Where a message is in its file: its line in a piece, after the lines before the piece.
fn position(p: vigil_events::Position, lines_before: u64) -> Pos {
    match p {
        vigil_events::Position::Line(n) => Pos::Line(lines_before + n),
        vigil_events::Position::Index(n) => Pos::Record(n + 1),
    }
}

/// The non-blank lines of a JSON-lines text as (1-based number, bytes without CR/LF), a
/// leading UTF-8 BOM dropped.
fn lines(data: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    data.split(|&b| b == b'\n')
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            (!line.iter().all(u8::is_ascii_whitespace)).then_some((i as u64 + 1, line))
        })
}

/// The human summary: the counts on stdout; the problems (events rejected, files skipped,
/// events about to expire) on stderr, as `hunt` and `metrics` say theirs, so that stdout piped
/// on keeps the counts alone. Each problem is said once: the files and records not read were
/// warned about as they came, and the rejections too when `rejections_said` (the progress bar
/// printed them).
fn print_summary(s: &Summary, rejections_said: bool) {
    let show = |title: &str, problems: &Problems| {
        if problems.count == 0 {
            return;
        }
        errln!("{title}:");
        for p in problems.first.iter().take(SHOW) {
            errln!("  {p}");
        }
        if problems.count > SHOW as u64 {
            errln!(
                "  … and {} more (--json lists the first {KEEP})",
                problems.count - SHOW as u64
            );
        }
    };
    if !rejections_said {
        show("rejected by the server", &s.rejected);
    }
    if let Some(line) = crate::output::skipped_files(s.files_skipped, &s.skipped_text_logs) {
        errln!("{line}");
    }
    if let Some(line) = crate::output::given_twice(s.files_given_twice) {
        errln!("{line}");
    }
    let secs = s.seconds.max(1e-9);
    outln!("files:      {}, {}", s.files, human_bytes(s.bytes_read));
    let already = match s.already_stored {
        0 => String::new(),
        n => format!(", {n} already stored (by an earlier run: not stored again)"),
    };
    let unconfirmed = match s.unconfirmed {
        0 => String::new(),
        n => format!(", {n} sent but unconfirmed (the batch in flight when sending stopped)"),
    };
    let not_sent = match (s.not_sent, s.too_large) {
        (0, _) => String::new(),
        (n, t) if n == t => format!(", {n} too large to send (warned about on stderr)"),
        (n, 0) => format!(", {n} not sent"),
        (n, t) => format!(", {n} not sent ({t} too large to send, warned about on stderr)"),
    };
    outln!(
        "events:     {} read, {} stored{already}, {} rejected{unconfirmed}{not_sent}",
        s.events_read,
        s.stored,
        s.rejected.count,
    );
    // A file's error (cut short, not a log) is no event: counted apart, not among the events.
    if s.errors.count > 0 {
        outln!(
            "errors:     {} (files or records not read or decoded, warned about on stderr)",
            s.errors.count
        );
    }
    match s.detections_earlier {
        0 => outln!("detections: {}", s.detections),
        n => outln!(
            "detections: {} ({n} more recorded by an earlier run, for the events already stored)",
            s.detections
        ),
    }
    if s.expiring > 0 {
        errln!(
            "warning: {} older than the service's retention (it counts from the events' own times): the server's next retention pass deletes them; send old logs under a service kept long enough (`vigil serve --retention SERVICE=DAYS`)",
            plural(s.expiring, "event is", "events are")
        );
    }
    if s.correlated_later > 0 {
        outln!(
            "            {} came too late for the live correlation windows; the server correlates them over the stored events a minute after the last (`vigil rules status` shows them until then)",
            s.correlated_later
        );
    }
    outln!(
        "time:       {:.2} s, {}, {:.0} events/s",
        s.seconds,
        plural(s.batches, "request", "requests"),
        s.stored as f64 / secs
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn nothing_to_send_names_the_text_logs_skipped_and_says_text() {
        let dir = [PathBuf::from("logs/Windows")];
        assert_eq!(
            nothing_to_send(&dir, 2, &["logs/Windows/Windows_2k.log".to_owned()]),
            "nothing to send: no events found in logs/Windows; 2 files skipped, in no format Vigil reads: 1 named like a text log (logs/Windows/Windows_2k.log) and 1 other file; give --text to store each line of it as an event"
        );
        let logs: Vec<String> = (1..=7).map(|n| format!("{n}.log")).collect();
        assert_eq!(
            nothing_to_send(&dir, 7, &logs),
            "nothing to send: no events found in logs/Windows; 7 files skipped, in no format Vigil reads: 7 named like a text log (1.log, 2.log, 3.log, 4.log, 5.log, and 2 more); give --text to store each line of them as an event"
        );
        assert_eq!(
            nothing_to_send(&dir, 1, &[]),
            "nothing to send: no events found in logs/Windows; 1 file skipped, in no format Vigil reads; give EVTX, JSON lines, JSON array, syslog, Linux audit or web server (access, error) log files (gzip or not)"
        );
        assert_eq!(
            nothing_to_send(&dir, 0, &[]),
            "nothing to send: no events found in logs/Windows; give EVTX, JSON lines, JSON array, syslog, Linux audit or web server (access, error) log files (gzip or not)"
        );
    }

    use super::*;

    fn api_error(code: ErrorCode, message: &str) -> ClientError {
        ClientError::Api {
            status: code.status(),
            code,
            message: message.to_owned(),
            field: None,
            guards: Vec::new(),
        }
    }

    /// A batch the server's journal could not write (a full disk) is sent again, as space may
    /// come back, but it is known not to be stored, after any attempt before it.
    #[test]
    fn a_batch_refused_as_not_stored_is_retried_and_not_counted_as_perhaps_stored() {
        let full = api_error(
            ErrorCode::NotStored,
            "the log store could not write the batch to its journal (no space left on device); nothing of it was stored: send it again once the cause is fixed (free disk space, check the disk)",
        );
        assert!(may_pass(&full));
        assert!(!stored_unknown(false, &full));
        assert!(!stored_unknown(true, &full), "the server looked the key up");
        let stopping = api_error(ErrorCode::Unavailable, "the server is shutting down");
        assert!(may_pass(&stopping));
        assert!(stored_unknown(false, &stopping));
        let forbidden = api_error(ErrorCode::Forbidden, "the token may not send events");
        assert!(!may_pass(&forbidden));
        assert!(!stored_unknown(false, &forbidden));
        assert!(stored_unknown(true, &forbidden));

        let in_flight = InFlight {
            events: 2,
            maybe_stored: false,
        };
        let text = refused(full, true, 3, in_flight, false);
        assert!(
            text.contains("3 events were stored; the batch in flight (2 events) was not;"),
            "{text}"
        );
        assert!(!text.contains("may have been stored"), "{text}");
        assert!(text.contains("no space left on device"), "{text}");
    }

    #[test]
    fn lines_are_numbered_as_in_the_file() {
        let data = b"\xef\xbb\xbf{\"a\":1}\r\n\n  \n{\"b\":2}";
        let got: Vec<_> = lines(data).collect();
        assert_eq!(got, vec![(1, &b"{\"a\":1}"[..]), (4, &b"{\"b\":2}"[..])]);
    }

    /// A batch's key is the same in every run of the same command, and another when anything
    /// that makes it another batch differs.
    #[test]
    fn batch_keys_are_derived_from_what_the_batch_is() {
        let scope = KeyScope {
            service: Some("web".into()),
            host: None,
            tenant: Some("contoso".into()),
            resend: None,
        };
        let file = Path::new("/var/log/app/events.jsonl");
        let body = b"{\"a\":1}\n{\"a\":2}\n";
        let key = scope.key(Some(file), 3, body);
        assert_eq!(key, scope.clone().key(Some(file), 3, body), "deterministic");
        assert!(
            key.starts_with("vigil-ingest-") && key.len() <= 255,
            "{key}"
        );
        assert!(key.bytes().all(|b| b.is_ascii_graphic()), "{key}");

        let other_service = KeyScope {
            service: Some("api".into()),
            ..scope.clone()
        };
        let other_host = KeyScope {
            host: Some("web-01".into()),
            ..scope.clone()
        };
        let no_tenant = KeyScope {
            tenant: None,
            ..scope.clone()
        };
        let resend = KeyScope {
            resend: Some(uuid::Uuid::new_v4()),
            ..scope.clone()
        };
        let others = [
            scope.key(Some(file), 3, b"{\"a\":1}\n{\"a\":3}\n"),
            scope.key(Some(file), 4, body),
            scope.key(Some(Path::new("/var/log/app/other.jsonl")), 3, body),
            scope.key(None, 3, body),
            other_service.key(Some(file), 3, body),
            other_host.key(Some(file), 3, body),
            no_tenant.key(Some(file), 3, body),
            resend.key(Some(file), 3, body),
        ];
        for (i, other) in others.iter().enumerate() {
            assert_ne!(&key, other, "variant {i}");
        }
        // A part cannot run into the next: service "ab" and host "c" are not "a" and "bc".
        let ab_c = KeyScope {
            service: Some("ab".into()),
            host: Some("c".into()),
            ..scope.clone()
        };
        let a_bc = KeyScope {
            service: Some("a".into()),
            host: Some("bc".into()),
            ..scope.clone()
        };
        assert_ne!(ab_c.key(None, 0, body), a_bc.key(None, 0, body));
    }

    /// Batches end with their file and are cut at the same events in every run, each numbered
    /// in its file: the keys of one file's batches do not depend on the files before it.
    #[test]
    fn batches_are_cut_per_file_at_the_same_events() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(100);
        let mut batcher = Batcher {
            tx,
            keys: KeyScope {
                service: Some("app".into()),
                host: None,
                tenant: None,
                resend: None,
            },
            source: None,
            ordinal: 0,
            body: Vec::new(),
            origins: Vec::new(),
            max_events: 2,
            max_bytes: 1024,
            stop: Arc::new(AtomicBool::new(false)),
            events_read: Arc::new(AtomicU64::new(0)),
        };
        let dir = tempfile::tempdir().unwrap();
        let mut send = |files: &[(&str, u64)]| {
            let mut keys = Vec::new();
            for (name, events) in files {
                let path = dir.path().join(name);
                std::fs::write(&path, "").unwrap();
                let file = InputFile {
                    path,
                    explicit: true,
                };
                batcher.start_file(&file).ok().unwrap();
                for n in 1..=*events {
                    let origin = Origin {
                        file: 0,
                        pos: Pos::Line(n),
                    };
                    let refused = batcher.push(origin, b"{\"same\":1}").ok().unwrap();
                    assert!(refused.is_none());
                }
            }
            batcher.flush().ok().unwrap();
            while let Ok(batch) = rx.try_recv() {
                keys.push((batch.origins.len(), batch.key));
            }
            keys
        };
        let alone = send(&[("b.jsonl", 3)]);
        let after = send(&[("a.jsonl", 3), ("b.jsonl", 3)]);
        assert_eq!(alone.iter().map(|b| b.0).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(after.iter().map(|b| b.0).collect::<Vec<_>>(), [2, 1, 2, 1]);
        assert_eq!(&after[2..], &alone[..], "b's batches keep their keys");
        // Identical lines in two places of one file, or in two files, are distinct batches.
        assert_ne!(after[0].1, after[2].1);
        let twice = send(&[("c.jsonl", 4)]);
        assert_ne!(twice[0].1, twice[1].1);
    }

    #[test]
    fn rejections_point_back_at_their_file_and_line() {
        let paths = vec![PathBuf::from("a.jsonl"), PathBuf::from("b.evtx")];
        let origins = [
            Origin {
                file: 0,
                pos: Pos::Line(7),
            },
            Origin {
                file: 1,
                pos: Pos::Record(42),
            },
        ];
        let resp = IngestResponse {
            stored: 0,
            rejected: vec![vigil_api::events::RejectedEvent {
                line: Some(2),
                index: None,
                reason: "bad".into(),
            }],
            detections: 0,
            alerts: 0,
            correlated_later: 0,
            expiring: 0,
            not_searchable: None,
        };
        let got: Vec<String> = rejections(&resp, &origins, &paths)
            .map(|p| p.to_string())
            .collect();
        assert_eq!(got, vec!["b.evtx record 42: bad"]);
    }
}
