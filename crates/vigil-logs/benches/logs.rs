//! Log store benchmark: durable append throughput and search / aggregation / pivot latency at
//! N stored events. Events are ~500-byte JSON with varied service, host, tenant, user and IP.
//!
//! ```sh
//! CARGO_TARGET_DIR=target/logs cargo bench -p vigil-logs --bench logs
//! VIGIL_BENCH_EVENTS=10000000 VIGIL_BENCH_DIR=/tmp/vigil-bench cargo bench -p vigil-logs --bench logs
//! ```
//! `VIGIL_BENCH_EVENTS` (default 1,000,000) events are appended by `VIGIL_BENCH_WRITERS`
//! (default 2) threads in batches of `VIGIL_BENCH_BATCH` (default 1,000). With `VIGIL_BENCH_DIR`
//! the store is kept there, and a later run adds to it. `VIGIL_BENCH_COMMIT_MS` and
//! `VIGIL_BENCH_INDEX_THREADS` and `VIGIL_BENCH_INDEX_MIB` override the store's commit interval,
//! indexing threads and indexing memory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_logs::{
    EmbeddedConfig, EmbeddedStore, EventStore, NewEvent, PivotRequest, SearchRequest, TimeRange,
};

#[path = "support/events.rs"]
mod events;
use events::{Rng, WORDS, ip, make_event};

/// Makes one query of a shape from the generator.
type QueryMaker = Box<dyn Fn(&mut Rng) -> String>;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    let events = env("VIGIL_BENCH_EVENTS", 1_000_000);
    let writers = env("VIGIL_BENCH_WRITERS", 2).max(1);
    let batch = env("VIGIL_BENCH_BATCH", 1_000).max(1);
    let temp;
    let dir = match std::env::var("VIGIL_BENCH_DIR") {
        Ok(d) => std::path::PathBuf::from(d),
        Err(_) => {
            temp = tempfile::tempdir().expect("temp dir");
            temp.path().to_owned()
        }
    };
    let open_started = Instant::now();
    let mut config = EmbeddedConfig::new(&dir);
    config.commit_interval = Duration::from_millis(env(
        "VIGIL_BENCH_COMMIT_MS",
        config.commit_interval.as_millis() as u64,
    ));
    config.index_threads = env("VIGIL_BENCH_INDEX_THREADS", config.index_threads as u64) as usize;
    config.index_memory_bytes = env(
        "VIGIL_BENCH_INDEX_MIB",
        (config.index_memory_bytes >> 20) as u64,
    ) as usize
        * 1024
        * 1024;
    println!(
        "config: commit every {:?}, {} indexing thread(s), {} MiB indexing memory",
        config.commit_interval,
        config.index_threads,
        config.index_memory_bytes >> 20
    );
    let store = Arc::new(EmbeddedStore::open(config).expect("open the store"));
    println!("open: {:.1} ms", ms(open_started.elapsed()));
    let already = store
        .stats()
        .expect("stats")
        .iter()
        .map(|s| s.events)
        .sum::<u64>();

    // Durable ingest.
    let per_writer = events / writers;
    let started = Instant::now();
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (w + 1) ^ already);
                let mut latencies = Vec::new();
                let mut bytes = 0u64;
                let mut done = 0;
                while done < per_writer {
                    let n = batch.min(per_writer - done);
                    let events: Vec<NewEvent> = (0..n)
                        .map(|i| make_event(&mut rng, already + (done + i) * writers + w))
                        .collect();
                    bytes += events.iter().map(|e| e.json.len() as u64).sum::<u64>();
                    let t = Instant::now();
                    let outcome = store.append(events).expect("append");
                    latencies.push(t.elapsed());
                    assert!(outcome.rejected.is_empty());
                    done += n;
                }
                (latencies, bytes)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut bytes = 0;
    for h in handles {
        let (l, b) = h.join().expect("writer");
        latencies.extend(l);
        bytes += b;
    }
    let acked = started.elapsed();
    store.refresh().expect("refresh");
    let indexed = started.elapsed();
    latencies.sort();
    let stored = per_writer * writers;
    println!(
        "ingest: {stored} events ({:.0} MB, {:.0} bytes/event) with {writers} writers, batches of {batch}",
        bytes as f64 / 1e6,
        bytes as f64 / stored.max(1) as f64
    );
    println!(
        "  durable (acked): {:.1} s, {:.0} events/s, {:.1} MB/s; batch ack latency p50 {:.1} ms, p99 {:.1} ms",
        acked.as_secs_f64(),
        stored as f64 / acked.as_secs_f64(),
        bytes as f64 / 1e6 / acked.as_secs_f64(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
    );
    println!(
        "  searchable (acked + final commit): {:.1} s, {:.0} events/s",
        indexed.as_secs_f64(),
        stored as f64 / indexed.as_secs_f64()
    );
    let total = already + stored;
    println!(
        "store: {total} events, {:.0} MB on disk ({:.0} bytes/event)",
        dir_size(&dir) as f64 / 1e6,
        dir_size(&dir) as f64 / total.max(1) as f64
    );

    // Search latency: each query shape with varied values.
    let mut rng = Rng(42);
    let shapes: Vec<(&str, QueryMaker)> = vec![
        (
            "field term (user.name:userNNNN)",
            Box::new(|r: &mut Rng| format!("user.name:user{:04}", r.below(5_000))),
        ),
        ("free-text IP (10.x.y.z)", Box::new(|r: &mut Rng| ip(r))),
        (
            "free-text word (denied)",
            Box::new(|r: &mut Rng| WORDS[r.below(12) as usize].to_string()),
        ),
        (
            "free-text number (bytes)",
            Box::new(|r: &mut Rng| r.below(100_000).to_string()),
        ),
        (
            "phrase (\"password for\")",
            Box::new(|_| "\"password for\"".to_string()),
        ),
        (
            "envelope AND field",
            Box::new(|r: &mut Rng| format!("service:svc-{:02} AND http.status:500", r.below(20))),
        ),
        (
            "numeric range",
            Box::new(|r: &mut Rng| {
                let lo = r.below(99_000);
                format!("http.bytes:[{lo} TO {}]", lo + 500)
            }),
        ),
        (
            "wildcard (user.name:user12*)",
            Box::new(|r: &mut Rng| format!("user.name:user{:02}*", r.below(50))),
        ),
        (
            "NOT + OR",
            Box::new(|r: &mut Rng| {
                format!(
                    "(event.action:login OR event.action:logout) NOT host:host-{:03}",
                    r.below(500)
                )
            }),
        ),
    ];
    let rounds = env("VIGIL_BENCH_ROUNDS", 50) as usize;
    println!(
        "search (limit 100, newest first, {rounds} runs each; median / p99 / hits of the last run):"
    );
    for (name, make) in &shapes {
        let mut times = Vec::new();
        let mut hits = 0;
        for _ in 0..rounds {
            let query = vigil_query::parse(&make(&mut rng)).expect("query parses");
            let t = Instant::now();
            let page = store
                .search(&SearchRequest {
                    query,
                    range: TimeRange::default(),
                    limit: 100,
                    cursor: None,
                })
                .expect("search");
            times.push(t.elapsed());
            hits = page.total;
        }
        times.sort();
        println!(
            "  {name:<36} {:>8.2} ms {:>8.2} ms  {hits} hits",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99))
        );
    }

    let mut times = Vec::new();
    let mut hits = 0;
    for _ in 0..rounds.min(20) {
        let query = vigil_query::parse("http.status:500 | count by service").expect("parses");
        let t = Instant::now();
        let agg = store
            .aggregate(&query, TimeRange::default())
            .expect("aggregate");
        times.push(t.elapsed());
        hits = agg.total;
    }
    times.sort();
    println!(
        "aggregate (http.status:500 | count by service): median {:.1} ms, p99 {:.1} ms, {hits} events",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99))
    );

    for field in [None, Some(vigil_query::Field::from_name("source.ip"))] {
        let mut times = Vec::new();
        let mut hits = 0;
        for _ in 0..rounds {
            let value = ip(&mut rng);
            let t = Instant::now();
            let pivot = store
                .pivot(&PivotRequest {
                    field: field.clone(),
                    whole: false,
                    value,
                    range: TimeRange::default(),
                    limit: 100,
                })
                .expect("pivot");
            times.push(t.elapsed());
            hits = pivot.total;
        }
        times.sort();
        println!(
            "pivot on an IP ({}): median {:.1} ms, p99 {:.1} ms, {hits} events in the last",
            field.as_ref().map_or("any field".to_string(), |f| f.name()),
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99))
        );
    }

    // The check behind a search's warnings: cheap when the fields exist (every search naming
    // a field pays it), dearer when one does not (the stored paths are listed to propose one).
    for (what, paths) in [
        ("present", ["user.name", "source.ip"]),
        ("one missing", ["user.name", "usr.name"]),
    ] {
        let mut times = Vec::new();
        for _ in 0..rounds.min(20) {
            let t = Instant::now();
            let missing = store.missing_fields(&paths).expect("missing fields");
            times.push(t.elapsed());
            assert_eq!(missing.len(), usize::from(what == "one missing"));
        }
        times.sort();
        println!(
            "missing-field check ({what}): median {:.2} ms, p99 {:.2} ms",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99))
        );
    }

    let t = Instant::now();
    let stats = store.stats().expect("stats");
    println!(
        "stats: {} services in {:.1} ms",
        stats.len(),
        ms(t.elapsed())
    );
}
