//! A real ingest path in a temporary data directory: the embedded log store, the SQLite store
//! and one Sigma rule, plus helpers to search what was stored and to wait for it.

use std::sync::Arc;
use std::time::Duration;

use vigil_core::Detection;
use vigil_ingest::{Ingestor, RuleSlot};
use vigil_logs::{
    EmbeddedConfig, EmbeddedStore, EventStore, SearchRequest, StoredEvent, TimeRange,
};
use vigil_store::{DetectionFilter, SqliteStore, Store};

/// The id of the rule every harness loads.
pub const SSH_RULE_ID: &str = "6c8d41a2-1f0e-4c3b-9a55-2b7e0d3f9c10";

/// A Linux sshd rule: the detection engine offers it to every JSON event (they have no
/// Windows channel), and it matches the text of a failed SSH login.
const SSH_RULE: &str = "title: SSH failed password
id: 6c8d41a2-1f0e-4c3b-9a55-2b7e0d3f9c10
status: test
logsource:
  product: linux
  service: sshd
detection:
  selection:
    message|contains: 'Failed password'
  condition: selection
level: medium
tags:
  - attack.credential_access
  - attack.t1110
";

pub struct Harness {
    pub events: Arc<dyn EventStore>,
    pub store: Arc<dyn Store>,
    pub ingestor: Arc<Ingestor>,
    rules: std::path::PathBuf,
    /// Kept last so the stores close before the directory is removed.
    dir: tempfile::TempDir,
}

impl Harness {
    /// A harness with the SSH rule.
    pub async fn new() -> Harness {
        Harness::with_rules(SSH_RULE, 1).await
    }

    /// A harness with these rules (one YAML text, `loaded` rules in it).
    pub async fn with_rules(text: &str, loaded: usize) -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let rules = dir.path().join("rules");
        std::fs::create_dir_all(&rules).expect("rules dir");
        std::fs::write(rules.join("rules.yml"), text).expect("write rule");
        let events = open_logs(dir.path());
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("db"))
                .await
                .expect("open store"),
        );
        let harness = Harness::over(events, store, rules, dir);
        let status = harness.ingestor.rules().current().status.clone();
        assert_eq!(
            status.loaded, loaded,
            "the rules compile: {:?}",
            status.rejected
        );
        assert!(status.rejected.is_empty(), "{:?}", status.rejected);
        harness
    }

    /// The same data directory after a clean stop and a start: the log store closes (its last
    /// index commit keeps the detection mark) and opens again, under a new ingestor.
    pub fn reopen(self) -> Harness {
        let Harness {
            events,
            store,
            ingestor,
            rules,
            dir,
        } = self;
        drop(ingestor);
        assert_eq!(
            Arc::strong_count(&events),
            1,
            "nothing else holds the log store"
        );
        drop(events);
        let events = open_logs(dir.path());
        Harness::over(events, store, rules, dir)
    }

    /// A harness over these stores, with an ingestor loading the rules in `rules`.
    fn over(
        events: Arc<dyn EventStore>,
        store: Arc<dyn Store>,
        rules: std::path::PathBuf,
        dir: tempfile::TempDir,
    ) -> Harness {
        let mut harness = Harness {
            ingestor: Arc::new(Ingestor::new(
                Arc::clone(&events),
                Arc::clone(&store),
                Arc::new(RuleSlot::open(Vec::new()).expect("no rules")),
            )),
            events,
            store,
            rules,
            dir,
        };
        harness.restart();
        harness
    }

    /// A new ingestor over the same stores and rules, as after a restart: what the old one held
    /// in memory is gone.
    pub fn restart(&mut self) {
        let slot = RuleSlot::open(vec![self.rules.clone()]).expect("load rules");
        self.ingestor = Arc::new(Ingestor::new(
            Arc::clone(&self.events),
            Arc::clone(&self.store),
            Arc::new(slot),
        ));
    }

    /// The data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Runs `sql` on the case database over a connection of its own, as another process
    /// would (the tests make the store's transactions fail with a trigger).
    pub async fn sqlite(&self, sql: &str) {
        let url = format!("sqlite://{}", self.dir.path().join("db/vigil.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.expect("open the db");
        sqlx::query(sql).execute(&pool).await.expect("run the SQL");
        pool.close().await;
    }

    /// Every stored event matching the query, newest first.
    pub fn search(&self, query: &str) -> Vec<StoredEvent> {
        self.events.refresh().expect("refresh");
        let page = self
            .events
            .search(&SearchRequest {
                query: vigil_query::parse(query).expect("the query parses"),
                range: TimeRange::default(),
                limit: 1000,
                cursor: None,
            })
            .expect("search");
        assert_eq!(page.total as usize, page.events.len(), "one page holds all");
        page.events
    }

    /// Every recorded detection, newest first.
    pub async fn detections(&self) -> Vec<Detection> {
        self.store
            .list_detections(&DetectionFilter {
                limit: 1000,
                ..DetectionFilter::default()
            })
            .await
            .expect("list detections")
            .items
    }
}

/// The log store in `dir/logs`, tracking detections as the server does.
fn open_logs(dir: &std::path::Path) -> Arc<dyn EventStore> {
    let mut config = EmbeddedConfig::new(dir.join("logs"));
    config.track_detections = true;
    Arc::new(EmbeddedStore::open(config).expect("open logs"))
}

/// Polls `probe` every 20 ms until `done` holds for its value, for up to 10 s; then panics
/// naming `what` and the last value.
pub async fn eventually<T: std::fmt::Debug>(
    what: &str,
    mut probe: impl FnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let value = probe();
        if done(&value) {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out waiting for {what}; last seen: {value:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
