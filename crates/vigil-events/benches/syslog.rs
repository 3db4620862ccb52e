//! Syslog decoding throughput on one thread: the real OpenSSH, Linux and macOS log lines of
//! `../shared/data/logs` (RFC 3164), the same lines rewritten as RFC 5424 with structured
//! data, and an octet-counted TCP stream of them cut into 1,500-byte reads. Each figure is
//! parsing alone and parsing plus the JSON event the store keeps.
//!
//! `cargo bench -p vigil-events --bench syslog`; the element throughput is events/s.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_events::syslog::{self, Framer, SyslogOptions};

/// 2026-11-22T12:00:00Z.
const NOW: i64 = 1_795_348_800_000;

fn lines() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/logs");
    let mut out = Vec::new();
    for file in [
        "OpenSSH/OpenSSH_2k.log",
        "Linux/Linux_2k.log",
        "Mac/Mac_2k.log",
    ] {
        let text = std::fs::read(dir.join(file)).expect("logs in ../shared/data");
        out.extend(
            text.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    out
}

/// The same messages as RFC 5424 with one SD element, as rsyslog forwards them.
fn rfc5424(lines: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let options = SyslogOptions::new(NOW);
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let m = syslog::parse(l, &options).ok()?;
            Some(
                format!(
                    "<38>1 {} {} {} {} - [meta sequenceId=\"{i}\" origin=\"10.0.0.{}\"] {}",
                    m.timestamp?.to_rfc3339(),
                    m.hostname.as_deref().unwrap_or("-"),
                    m.app_name.as_deref().unwrap_or("-"),
                    m.procid.as_deref().unwrap_or("-"),
                    i % 250,
                    m.message
                )
                .into_bytes(),
            )
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let options = SyslogOptions::new(NOW);
    let bsd = lines();
    let modern = rfc5424(&bsd);
    let mut group = c.benchmark_group("syslog");
    for (name, set) in [("rfc3164", &bsd), ("rfc5424", &modern)] {
        group.throughput(Throughput::Elements(set.len() as u64));
        group.bench_function(format!("{name}_parse"), |b| {
            b.iter(|| {
                for l in set {
                    let _ = black_box(syslog::parse(black_box(l), &options));
                }
            })
        });
        // What ingest and hunt do with each message: parse it, write its JSON text.
        group.bench_function(format!("{name}_parse_to_json_text"), |b| {
            b.iter(|| {
                for l in set {
                    if let Ok(m) = syslog::parse(black_box(l), &options) {
                        black_box(m.to_json_text());
                    }
                }
            })
        });
    }
    let mut stream = Vec::new();
    for l in &modern {
        stream.extend_from_slice(format!("{} ", l.len()).as_bytes());
        stream.extend_from_slice(l);
    }
    group.throughput(Throughput::Elements(modern.len() as u64));
    group.bench_function("tcp_octet_counted_frame_and_parse", |b| {
        b.iter(|| {
            let mut framer = Framer::new(64 * 1024);
            let mut n = 0usize;
            for chunk in stream.chunks(1500) {
                framer.extend(chunk);
                while let Some(frame) = framer.next_frame() {
                    if let Ok(frame) = frame
                        && syslog::parse(frame.data, &options).is_ok()
                    {
                        n += 1;
                    }
                }
            }
            assert_eq!(n, modern.len());
        })
    });
    group.finish();
}

criterion_group!(syslog_benches, benches);
criterion_main!(syslog_benches);
