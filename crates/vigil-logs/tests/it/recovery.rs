//! Damage done to the log store's files outside Vigil (a journal segment cut short or deleted,
//! the index deleted): what the store says and what it refuses, so that acknowledged events
//! are never lost without a word.

use std::path::Path;
use std::time::Duration;

use vigil_logs::{EmbeddedConfig, EmbeddedStore, EventStore, SearchRequest, TimeRange};

use crate::support::event;

/// A store in `dir` that commits its index only when asked (`refresh`, or when dropped), so
/// that a copy of the directory taken while it is open is what a crash would leave.
fn open_lazy(dir: &Path) -> EmbeddedStore {
    let mut config = EmbeddedConfig::new(dir);
    config.index_memory_bytes = 32 * 1024 * 1024;
    config.commit_interval = Duration::from_secs(3600);
    EmbeddedStore::open(config).expect("the store opens")
}

/// Appends events `from..to`, one batch, each naming its number.
fn append(store: &EmbeddedStore, from: usize, to: usize) {
    let events = (from..to)
        .map(|i| {
            let json = format!(r#"{{"name":"e{i}","message":"{}"}}"#, "x".repeat(200));
            event("auth", "web-1", "contoso", i as i64, &json)
        })
        .collect();
    let outcome = store.append(events).expect("append");
    assert_eq!(outcome.stored.len(), to - from);
}

fn total(store: &EmbeddedStore) -> u64 {
    store.refresh().expect("refresh");
    store
        .search(&SearchRequest {
            query: vigil_query::parse("*").expect("parses"),
            range: TimeRange::default(),
            limit: 1,
            cursor: None,
        })
        .expect("search")
        .total
}

/// Copies the store's directory as it is on disk, while it is open: what a crash would leave.
fn crash_image(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("list") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            crash_image(&entry.path(), &target);
        } else {
            match std::fs::copy(entry.path(), &target) {
                // A file the index writer removed meanwhile (one no commit lists).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                copied => {
                    copied.expect("copy");
                }
            }
        }
    }
}

fn segment(dir: &Path, n: u64) -> std::path::PathBuf {
    dir.join("journal").join(format!("{n:020}.journal"))
}

/// A journal segment cut below what the index took from it is no torn write: the file is
/// left as it is (never extended with zeros), the index keeps its events, and the batches
/// appended after go into a new segment, which a crash right after does not cut off.
#[test]
fn a_journal_cut_short_below_the_index_is_never_extended_and_later_batches_survive_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_lazy(dir.path());
    append(&store, 0, 50);
    assert_eq!(total(&store), 50);
    drop(store);
    let first = segment(dir.path(), 0);
    let length = std::fs::metadata(&first).expect("segment").len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&first)
        .expect("open the segment");
    file.set_len(length / 2).expect("cut");
    drop(file);

    let store = open_lazy(dir.path());
    assert_eq!(
        std::fs::metadata(&first).expect("segment").len(),
        length / 2,
        "the damaged segment is left as found"
    );
    assert_eq!(total(&store), 50, "the index still holds every event");
    append(&store, 50, 60);
    assert!(
        segment(dir.path(), 1).exists(),
        "appends go on in a new segment"
    );
    let image = tempfile::tempdir().expect("temp dir");
    crash_image(dir.path(), image.path());
    drop(store);

    let crashed = open_lazy(image.path());
    assert_eq!(
        total(&crashed),
        60,
        "the batch acknowledged after the damage"
    );
    drop(crashed);
    let store = open_lazy(dir.path());
    assert_eq!(total(&store), 60);
    append(&store, 60, 61);
    assert_eq!(total(&store), 61);
}

/// The same when the segment the index reached is deleted.
#[test]
fn a_deleted_journal_segment_is_not_recreated_under_the_index_and_later_batches_survive_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_lazy(dir.path());
    append(&store, 0, 50);
    assert_eq!(total(&store), 50);
    drop(store);
    std::fs::remove_file(segment(dir.path(), 0)).expect("delete the segment");

    let store = open_lazy(dir.path());
    assert_eq!(total(&store), 50);
    append(&store, 50, 60);
    let image = tempfile::tempdir().expect("temp dir");
    crash_image(dir.path(), image.path());
    drop(store);

    let crashed = open_lazy(image.path());
    assert_eq!(
        total(&crashed),
        60,
        "the batch acknowledged after the damage"
    );
}
