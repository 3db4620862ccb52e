//! Durability under kill -9: a child process (this test binary, re-run with an environment
//! variable) appends and prints each acknowledged id; the parent kills it with SIGKILL, reopens
//! the store and checks that every acknowledged event is there — once with frequent index
//! commits (crash between commits) and once with none after open (everything from the journal,
//! indexed in the background while new appends arrive).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use vigil_logs::{EmbeddedConfig, EmbeddedStore, EventStore, SearchRequest, TimeRange};

use crate::support::event;

const CHILD_DIR: &str = "VIGIL_LOGS_CRASH_CHILD_DIR";
const CHILD_COMMIT_MS: &str = "VIGIL_LOGS_CRASH_CHILD_COMMIT_MS";
const TEST_NAME: &str = "crash::acknowledged_events_survive_kill_9";

fn child(dir: &str) -> ! {
    let mut config = EmbeddedConfig::new(dir);
    config.index_memory_bytes = 32 * 1024 * 1024;
    config.commit_interval = Duration::from_millis(
        std::env::var(CHILD_COMMIT_MS)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(50),
    );
    let store = EmbeddedStore::open(config).expect("child opens the store");
    let stdout = std::io::stdout();
    let mut n = 0u64;
    loop {
        let batch = (0..20)
            .map(|_| {
                n += 1;
                event(
                    "svc",
                    "h",
                    "t",
                    0,
                    &format!(r#"{{"n":{n},"pad":"{}"}}"#, "x".repeat(200)),
                )
            })
            .collect();
        let outcome = store.append(batch).expect("child appends");
        let mut out = stdout.lock();
        for id in outcome.stored {
            let _ = writeln!(out, "ack {id}");
        }
        let _ = out.flush();
    }
}

fn run(commit_ms: u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut process = Command::new(std::env::current_exe().expect("test binary"))
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir.path())
        .env(CHILD_COMMIT_MS, commit_ms.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the child");
    let stdout = process.stdout.take().expect("child stdout");
    let mut acked = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("child output");
        if let Some(id) = line.strip_prefix("ack ") {
            acked.push(id.parse::<u64>().expect("an id"));
            if acked.len() >= 3_000 {
                break;
            }
        }
    }
    process.kill().expect("SIGKILL the child");
    process.wait().expect("reap the child");
    assert!(
        acked.len() >= 3_000,
        "the child acknowledged {}",
        acked.len()
    );

    let store = crate::support::open(dir.path());
    // The journal's tail is indexed in the background after the open; appends go on meanwhile,
    // and refresh waits for both.
    let more = store
        .append(
            (0..20)
                .map(|i| event("svc", "h", "t", 1, &format!(r#"{{"after":{i}}}"#)))
                .collect(),
        )
        .expect("append after recovery");
    assert!(
        more.stored[0] > *acked.iter().max().expect("acks"),
        "ids keep increasing"
    );
    store.refresh().expect("refresh after the crash");
    let page = store
        .search(&SearchRequest {
            query: vigil_query::parse("*").expect("parses"),
            range: TimeRange::default(),
            limit: 1_000_000,
            cursor: None,
        })
        .expect("search after the crash");
    let stored: std::collections::HashSet<u64> = page.events.iter().map(|e| e.id).collect();
    let missing: Vec<u64> = acked
        .iter()
        .chain(&more.stored)
        .copied()
        .filter(|id| !stored.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert_eq!(stored.len() as u64, page.total, "no event is indexed twice");
}

#[test]
fn acknowledged_events_survive_kill_9() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        child(&dir);
    }
    run(50);
    run(3_600_000);
}
