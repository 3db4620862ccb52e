//! `vigil bench detect`: throughput of the detection engine over real samples — rule loading
//! and compilation time, JSON lines in memory (single thread and all threads), EVTX end to end
//! with EVTX decoding alone measured separately, and peak resident memory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use rayon::prelude::*;
use vigil_detect::CompiledRuleSet;
use vigil_events::json::JsonEvent;
use vigil_events::source::{Format, read_file};
use vigil_events::{RecordSource, collect_files};

use crate::hunt::{FileScan, ScanOptions, scan_source};
use crate::ruleset;

/// Subcommands of `vigil bench`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Measure rule compilation and matching throughput.
    Detect(DetectArgs),
}

/// Arguments of `vigil bench detect`.
#[derive(Debug, clap::Args)]
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
    /// Passes per measurement; the fastest is reported.
    #[arg(long, default_value_t = 3)]
    passes: u32,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Detect(args) => detect(args),
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn report(what: &str, events: u64, bytes: u64, secs: f64) {
    println!(
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

fn detect(args: DetectArgs) -> anyhow::Result<ExitCode> {
    if args.events.is_none() && args.evtx.is_empty() {
        bail!("nothing to measure: give --events FILE and/or --evtx DIR");
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()
        .context("cannot start the worker threads")?;
    let threads = pool.current_num_threads();

    let rss_before = ruleset::peak_rss().unwrap_or(0);
    let loaded = ruleset::load(&args.rules)?;
    let set = loaded.set;
    println!(
        "rules: {} compiled ({} rejected); YAML parsing {:.0} ms, compilation {:.0} ms, total {:.0} ms",
        set.rules().len(),
        loaded.load_diagnostics.len() + loaded.compile_diagnostics.len(),
        loaded.load_time.as_secs_f64() * 1e3,
        loaded.compile_time.as_secs_f64() * 1e3,
        (loaded.load_time + loaded.compile_time).as_secs_f64() * 1e3,
    );
    drop(loaded.docs);
    println!(
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
        println!(
            "JSON lines: {} events, {:.1} MB, {} rule matches, {:.1} rule evaluations per event \
             after the literal prefilter",
            lines.len(),
            bytes as f64 / 1e6,
            matches.load(std::sync::atomic::Ordering::Relaxed),
            probe.evaluated() as f64 / lines.len().max(1) as f64
        );
        if std::env::var_os("VIGIL_BENCH_TOP").is_some() {
            for (rule, count) in probe.evaluation_counts().into_iter().take(25) {
                println!("  {count:>8}  {}", set.rule(rule).title());
            }
        }
        report("JSON lines, parse + match, 1 thread", e, b, s);
        let (e, b, s) = best(args.passes, || {
            pool.install(|| {
                lines.par_chunks(256).for_each_init(
                    || set.matcher(),
                    |m, chunk| {
                        for l in chunk {
                            one(l, m);
                        }
                    },
                );
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
        let files = collect_files(&args.evtx)?;
        let mut contents: Vec<(Arc<Path>, Vec<u8>)> = Vec::new();
        for f in &files {
            if let Ok(Some((Format::Evtx, data))) = read_file(&f.path) {
                contents.push((Arc::from(f.path.as_path()), data));
            }
        }
        let bytes: u64 = contents.iter().map(|c| c.1.len() as u64).sum();
        println!(
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
        let full = |(path, data): &(Arc<Path>, Vec<u8>), set: &CompiledRuleSet| -> u64 {
            let mut scan = FileScan::default();
            if let Ok(src) = RecordSource::new(path.clone(), Format::Evtx, data.clone()) {
                let opts = ScanOptions {
                    from: None,
                    to: None,
                    keep_for_correlation: false,
                };
                scan_source(set, src, opts, &mut scan);
            }
            scan.events
        };
        for (label, parallel) in [("1 thread", false), ("all threads", true)] {
            let label = if parallel {
                format!("{threads} threads")
            } else {
                label.to_string()
            };
            let (e, b, s_dec) = best(args.passes, || {
                let n = if parallel {
                    pool.install(|| contents.par_iter().map(decode).sum())
                } else {
                    contents.iter().map(decode).sum()
                };
                (n, bytes)
            });
            report(&format!("EVTX decode only, {label}"), e, b, s_dec);
            let (e, b, s) = best(args.passes, || {
                let n = if parallel {
                    pool.install(|| contents.par_iter().map(|c| full(c, &set)).sum())
                } else {
                    contents.iter().map(|c| full(c, &set)).sum()
                };
                (n, bytes)
            });
            report(&format!("EVTX decode + match, {label}"), e, b, s);
            println!(
                "  share of time outside EVTX decoding: {:.0}%",
                (s - s_dec).max(0.0) / s * 100.0
            );
        }
    }
    println!(
        "peak RSS: {:.1} MiB (includes the samples held in memory)",
        mib(ruleset::peak_rss().unwrap_or(0))
    );
    Ok(ExitCode::SUCCESS)
}
