//! Benchmarks of the engine on real data: compiling the SigmaHQ Windows rules, and matching
//! the shared attack samples (JSON lines, in memory) on one thread — parsing included, and
//! matching alone over events parsed beforehand.
//!
//! `cargo bench -p vigil-detect`; figures in docs/performance.md.

use std::io::Read;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_detect::{CompileOptions, compile};
use vigil_events::json::JsonEvent;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

fn windows_rules() -> Vec<vigil_sigma::RuleDoc> {
    vigil_sigma::load_dir(&data_dir().join("sigma/rules/windows"))
        .expect("SigmaHQ rules in ../shared/data")
        .0
}

fn samples() -> Vec<u8> {
    let gz = std::fs::read(data_dir().join("events/attack-samples.jsonl.gz")).expect("samples");
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&gz[..])
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

fn benches(c: &mut Criterion) {
    let docs = windows_rules();
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.bench_function("sigmahq_windows", |b| {
        b.iter(|| compile(&docs, &CompileOptions::default()))
    });
    group.finish();

    let (set, _) = compile(&docs, &CompileOptions::default());
    let data = samples();
    let lines: Vec<&[u8]> = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let events: Vec<JsonEvent> = lines
        .iter()
        .map(|l| JsonEvent::from_value(serde_json::from_slice(l).unwrap()).unwrap())
        .collect();

    let mut group = c.benchmark_group("match_attack_samples_1_thread");
    group.sample_size(10);
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function("parse_and_match", |b| {
        let mut m = set.matcher();
        b.iter(|| {
            let mut n = 0;
            for l in &lines {
                let e = JsonEvent::from_value(serde_json::from_slice(l).unwrap()).unwrap();
                n += m.matches(&e).len();
            }
            n
        })
    });
    group.bench_function("match_only", |b| {
        let mut m = set.matcher();
        b.iter(|| events.iter().map(|e| m.matches(e).len()).sum::<usize>())
    });
    group.finish();
}

criterion_group!(detect, benches);
criterion_main!(detect);
