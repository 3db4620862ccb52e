//! How fast Tantivy indexes the log-store benchmark's events under different document layouts,
//! to see what bounds sustained indexing (docs/performance.md, "End to end after session 10's
//! changes"). Every leaf of an event becomes pre-tokenised terms (`p<path>=<value>`, `v<value>`,
//! `w<word>` per word, `e<path>`); the layouts differ in how events map to documents.
//!
//! ```sh
//! cargo run --release -p vigil-logs --example index_layouts -- 200000
//! ```

use std::collections::HashMap;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use tantivy::schema::{FAST, IndexRecordOption, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{PreTokenizedString, Token};
use tantivy::{Index, TantivyDocument};

/// xorshift64*, so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One event shaped like the log-store benchmark's (`benches/logs.rs`).
fn event(rng: &mut Rng, seq: u64) -> String {
    const WORDS: [&str; 6] = [
        "failed", "accepted", "password", "session", "denied", "token",
    ];
    let time = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
        + chrono::Duration::milliseconds((seq * 37) as i64);
    let ip = |rng: &mut Rng| {
        let n = rng.below(20_000);
        format!("10.{}.{}.{}", n / 10_000, (n / 100) % 100, n % 100)
    };
    let (user, src, dst) = (format!("user{:04}", rng.below(5_000)), ip(rng), ip(rng));
    let port = [22, 80, 443, 3389][rng.below(4) as usize];
    let status = [200, 302, 404, 500][rng.below(4) as usize];
    serde_json::json!({
        "@timestamp": time.to_rfc3339(),
        "event": {"action": "login", "outcome": "success", "id": format!("{:016x}", rng.next())},
        "user": {"name": user, "domain": "CORP"},
        "source": {"ip": src, "port": 1024 + rng.below(60_000)},
        "destination": {"ip": dst, "port": port},
        "http": {"method": "GET", "status": status, "bytes": rng.below(100_000)},
        "url": {"path": format!("/api/v1/items/{}", rng.below(1_000_000))},
        "process": {"command_line": format!("C:\\Windows\\System32\\cmd.exe /c echo {}", rng.below(1_000_000)), "pid": rng.below(65_536)},
        "message": format!("{} {} for {user} from {src}", WORDS[rng.below(6) as usize], WORDS[rng.below(6) as usize]),
    })
    .to_string()
}

fn leaves(value: &serde_json::Value, path: &mut String, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                leaves(child, path, out);
                path.truncate(len);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|c| leaves(c, path, out)),
        serde_json::Value::Null => {}
        scalar => {
            let text = match scalar {
                serde_json::Value::String(s) => s.to_lowercase(),
                other => other.to_string(),
            };
            out.push(format!("e{path}"));
            if text.len() <= 256 {
                out.push(format!("p{path}={text}"));
                out.push(format!("v{text}"));
            }
            let words = text.split(|c: char| !c.is_alphanumeric());
            out.extend(words.filter(|w| !w.is_empty()).map(|w| format!("w{w}")));
        }
    }
}

/// The distinct terms of one event.
fn terms(json: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(json).expect("generated JSON");
    let mut out = Vec::new();
    leaves(&value, &mut String::new(), &mut out);
    out.sort_unstable();
    out.dedup();
    out
}

/// How events become documents.
#[derive(Clone, Copy)]
enum Layout {
    /// One document per event.
    PerEvent,
    /// One document per block, each event's terms at the event's position in the block.
    BlockPositions(usize),
    /// One document per block, each distinct term of the block once.
    BlockDistinct(usize),
}

fn token(text: &str, position: usize) -> Token {
    Token {
        offset_from: 0,
        offset_to: 0,
        position,
        text: text.to_string(),
        position_length: 1,
    }
}

fn run(name: &str, events: &[Vec<String>], layout: Layout) -> tantivy::Result<()> {
    let positions = matches!(layout, Layout::BlockPositions(_));
    let mut builder = Schema::builder();
    let record = if positions {
        IndexRecordOption::WithFreqsAndPositions
    } else {
        IndexRecordOption::Basic
    };
    let field = builder.add_text_field(
        "t",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(record),
        ),
    );
    let block_no = builder.add_u64_field("block", FAST);
    let dir = tempfile::tempdir()?;
    let index = Index::create_in_dir(dir.path(), builder.build())?;
    let mut writer = index.writer_with_num_threads::<TantivyDocument>(1, 512 << 20)?;
    let size = match layout {
        Layout::PerEvent => 1,
        Layout::BlockPositions(n) | Layout::BlockDistinct(n) => n,
    };
    let start = Instant::now();
    let mut fed = 0;
    for (b, block) in events.chunks(size).enumerate() {
        let mut tokens = Vec::new();
        match layout {
            Layout::BlockDistinct(_) => {
                let mut seen: HashMap<&str, ()> = HashMap::new();
                for term in block.iter().flatten() {
                    if seen.insert(term.as_str(), ()).is_none() {
                        tokens.push(token(term, 0));
                    }
                }
            }
            _ => {
                for (i, event) in block.iter().enumerate() {
                    tokens.extend(event.iter().map(|t| token(t, i)));
                }
            }
        }
        fed += tokens.len();
        let mut doc = TantivyDocument::new();
        doc.add_pre_tokenized_text(
            field,
            PreTokenizedString {
                text: String::new(),
                tokens,
            },
        );
        doc.add_u64(block_no, b as u64);
        writer.add_document(doc)?;
    }
    let adding = start.elapsed().as_secs_f64();
    writer.commit()?;
    let total = start.elapsed().as_secs_f64();
    let searcher = index.reader()?.searcher();
    let distinct: u64 = searcher
        .segment_readers()
        .iter()
        .map(|r| {
            r.inverted_index(field)
                .map(|i| i.terms().num_terms() as u64)
        })
        .sum::<tantivy::Result<u64>>()?;
    println!(
        "{name:48} {:>8.0} events/s  adding {adding:.2} s, commit {:.2} s, {:.1} terms fed per event, {distinct} distinct terms",
        events.len() as f64 / total,
        total - adding,
        fed as f64 / events.len() as f64,
    );
    Ok(())
}

fn main() -> tantivy::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(200_000);
    let mut rng = Rng(42);
    let events: Vec<Vec<String>> = (0..n as u64).map(|i| terms(&event(&mut rng, i))).collect();
    run("one document per event", &events, Layout::PerEvent)?;
    run(
        "one document per 64 events, positions",
        &events,
        Layout::BlockPositions(64),
    )?;
    run(
        "one document per 64 events, distinct terms",
        &events,
        Layout::BlockDistinct(64),
    )?;
    run(
        "one document per 256 events, distinct terms",
        &events,
        Layout::BlockDistinct(256),
    )?;
    Ok(())
}
