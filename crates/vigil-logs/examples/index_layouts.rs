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

use tantivy::schema::{FAST, IndexRecordOption, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{PreTokenizedString, Token};
use tantivy::{Index, TantivyDocument};

#[path = "../benches/support/events.rs"]
mod events;
use events::{Rng, make_event};

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
    let events: Vec<Vec<String>> = (0..n as u64)
        .map(|i| terms(&make_event(&mut rng, i).json))
        .collect();
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
