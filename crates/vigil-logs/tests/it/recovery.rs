//! Damage done to the log store's files outside Vigil (a journal segment cut short or deleted,
//! the index deleted): what the store says and what it refuses, so that acknowledged events
//! are never lost without a word.

use std::path::Path;
use std::time::Duration;

use vigil_logs::{EmbeddedConfig, EmbeddedStore, EventStore, LogError, SearchRequest, TimeRange};

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

/// A store in `dir` with 2 KiB journal segments (a few batches span several, and the index
/// commits let the segments before the one it reaches go), committing when asked.
fn open_small(dir: &Path, accept_lost_events: bool) -> Result<EmbeddedStore, LogError> {
    let mut config = EmbeddedConfig::new(dir);
    config.index_memory_bytes = 32 * 1024 * 1024;
    config.commit_interval = Duration::from_secs(3600);
    config.journal_segment_bytes = 2048;
    config.accept_lost_events = accept_lost_events;
    EmbeddedStore::open(config)
}

/// Appends 100 events in batches of 5, committing the index after each.
fn fill_pruned(dir: &Path) {
    let store = open_small(dir, false).expect("opens");
    for from in (0..100).step_by(5) {
        append(&store, from, from + 5);
        store.refresh().expect("refresh");
    }
    assert_eq!(total(&store), 100);
    drop(store);
    assert!(
        !segment(dir, 0).exists(),
        "the journal is pruned as the index commits"
    );
}

fn truncate_an_index_file(dir: &Path) {
    let idx = std::fs::read_dir(dir.join("index"))
        .expect("index dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|x| x == "idx"))
        .expect("an .idx file");
    let length = std::fs::metadata(&idx).expect("idx").len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&idx)
        .expect("open");
    file.set_len(length / 2).expect("cut");
}

/// The operator's repro: the index deleted to be rebuilt, after the journal had been pruned of
/// the events only the index held. The store refuses to open, naming how many events would be
/// lost and what to do; told to go on, it rebuilds from what the journal holds.
#[test]
fn deleting_the_index_of_a_pruned_journal_is_refused_naming_the_events_lost() {
    let dir = tempfile::tempdir().expect("temp dir");
    fill_pruned(dir.path());
    std::fs::remove_dir_all(dir.path().join("index")).expect("delete the index");

    for _ in 0..2 {
        let refused = open_small(dir.path(), false).map(drop);
        let Err(e @ LogError::EventsLost { .. }) = refused else {
            panic!("refused: {refused:?}");
        };
        assert!(
            matches!(
                e,
                LogError::EventsLost {
                    first: 0,
                    count: 90,
                    index_empty: true,
                    ..
                }
            ),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(
            text.contains("events 0 to 89 (90 events")
                && text.contains("restore")
                && text.contains("--accept-lost-events"),
            "{text}"
        );
    }
    let store = open_small(dir.path(), true).expect("opens when told to go on");
    assert_eq!(total(&store), 10, "what the journal still held");
    drop(store);
    assert_eq!(
        total(&open_small(dir.path(), false).expect("the index holds what it was rebuilt from")),
        10
    );
}

/// While the journal holds every event, deleting the index rebuilds it, as before.
#[test]
fn a_journal_that_holds_every_event_rebuilds_a_deleted_index() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_small(dir.path(), false).expect("opens");
    append(&store, 0, 5);
    append(&store, 5, 10);
    assert_eq!(total(&store), 10);
    drop(store);
    std::fs::remove_dir_all(dir.path().join("index")).expect("delete the index");
    assert_eq!(total(&open_small(dir.path(), false).expect("opens")), 10);
}

/// A broken index file: the advice to delete the index and rebuild it from the journal is
/// given only while the journal holds every event; otherwise the error says the index is the
/// only copy of the events the journal lost, and to restore a backup.
#[test]
fn a_broken_index_is_rebuilt_from_the_journal_only_when_that_holds_every_event() {
    let pruned = tempfile::tempdir().expect("temp dir");
    fill_pruned(pruned.path());
    truncate_an_index_file(pruned.path());
    let refused = open_small(pruned.path(), false).map(drop);
    let Err(e @ LogError::IndexBroken { .. }) = refused else {
        panic!("refused: {refused:?}");
    };
    assert!(
        matches!(&e, LogError::IndexBroken { gone: Some(gone), .. } if *gone == (0..90)),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains("do not delete it")
            && text.contains("events 0 to 89 (90 events")
            && text.contains("backup"),
        "{text}"
    );

    let whole = tempfile::tempdir().expect("temp dir");
    let store = open_small(whole.path(), false).expect("opens");
    append(&store, 0, 5);
    assert_eq!(total(&store), 5);
    drop(store);
    truncate_an_index_file(whole.path());
    let refused = open_small(whole.path(), false).map(drop);
    let Err(e @ LogError::IndexBroken { gone: None, .. }) = refused else {
        panic!("refused: {refused:?}");
    };
    let index = whole.path().join("index");
    assert!(
        e.to_string()
            .contains(&format!("delete {} and start it again", index.display())),
        "{e}"
    );
    std::fs::remove_dir_all(&index).expect("delete the index");
    assert_eq!(total(&open_small(whole.path(), false).expect("opens")), 5);
}

/// A journal segment the index had not reached, deleted: its acknowledged events are in
/// neither, and the store says so rather than opening without them.
#[test]
fn a_deleted_journal_segment_the_index_had_not_reached_is_refused_naming_the_events_lost() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_small(dir.path(), false).expect("opens");
    append(&store, 0, 5);
    assert_eq!(total(&store), 5);
    for from in (5..30).step_by(5) {
        append(&store, from, from + 5);
    }
    let image = tempfile::tempdir().expect("temp dir");
    crash_image(dir.path(), image.path());
    drop(store);
    // Segment 0 holds events 0..10, segment 1 10..20, segment 2 20..30.
    std::fs::remove_file(segment(image.path(), 1)).expect("delete a segment");

    let refused = open_small(image.path(), false).map(drop);
    let Err(e) = refused else {
        panic!("opened");
    };
    assert!(
        matches!(
            e,
            LogError::EventsLost {
                first: 10,
                count: 10,
                index_empty: false,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("events 10 to 19"), "{e}");
    let store = open_small(image.path(), true).expect("opens when told to go on");
    assert_eq!(total(&store), 20);
}

/// The store's folders are the owner's only (0700, tightened when an older release left them
/// open) and its journal segments and lock 0600, as the rest of the data directory.
#[cfg(unix)]
#[test]
fn the_log_store_is_the_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("logs");
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let store = open_lazy(&logs);
    append(&store, 0, 5);
    assert_eq!(total(&store), 5);
    drop(store);
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777
    };
    for folder in [logs.clone(), logs.join("journal"), logs.join("index")] {
        assert_eq!(mode(&folder), 0o700, "{}", folder.display());
    }
    for file in [segment(&logs, 0), logs.join("store.lock")] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
}
