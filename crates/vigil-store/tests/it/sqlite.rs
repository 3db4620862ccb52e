//! SQLite-specific checks that need the files: tampering with rows by raw SQL and with evidence
//! on disk, and that a failed write leaves no rows.

use vigil_core::{ChainProblem, IncidentKey, Phase};
use vigil_store::{
    AuditFilter, IncidentFilter, IncidentRef, NewEvidence, SqliteStore, Store, StoreError,
};

use crate::support::{Harness, new_incident};

fn key(n: u64) -> IncidentRef {
    IncidentRef::Key(IncidentKey::new(n).unwrap())
}

async fn five_writes(h: &Harness) {
    let s = h.store.as_ref();
    for i in 0..5 {
        s.create_incident("ann", new_incident(&format!("i{i}")))
            .await
            .unwrap();
    }
    assert_eq!(s.verify_audit().await.unwrap().map(|v| v.entries), Ok(5));
}

async fn broken_at(h: &Harness) -> (u64, ChainProblem) {
    let b = h
        .store
        .verify_audit()
        .await
        .unwrap()
        .expect_err("tampering must be detected");
    (b.seq, b.problem)
}

#[tokio::test]
async fn changed_payload_is_found() {
    let h = Harness::new().await;
    five_writes(&h).await;
    h.raw("UPDATE audit SET payload = json_set(payload, '$.title', 'harmless') WHERE seq = 3")
        .await;
    assert_eq!(broken_at(&h).await, (3, ChainProblem::HashMismatch));
}

#[tokio::test]
async fn changed_actor_is_found() {
    let h = Harness::new().await;
    five_writes(&h).await;
    h.raw("UPDATE audit SET actor = 'mallory' WHERE seq = 2")
        .await;
    assert_eq!(broken_at(&h).await, (2, ChainProblem::HashMismatch));
}

#[tokio::test]
async fn changed_time_is_found() {
    let h = Harness::new().await;
    five_writes(&h).await;
    h.raw("UPDATE audit SET at = '2020-01-01T00:00:00.000000Z' WHERE seq = 4")
        .await;
    assert_eq!(broken_at(&h).await, (4, ChainProblem::HashMismatch));
    h.raw("UPDATE audit SET at = 'yesterday' WHERE seq = 1")
        .await;
    assert_eq!(broken_at(&h).await.0, 1, "an unreadable row is a break too");
}

#[tokio::test]
async fn deleted_rows_are_found() {
    let h = Harness::new().await;
    five_writes(&h).await;
    h.raw("DELETE FROM audit WHERE seq = 2").await;
    assert_eq!(
        broken_at(&h).await,
        (
            2,
            ChainProblem::SequenceGap {
                expected: 2,
                found: 3
            }
        )
    );

    let h = Harness::new().await;
    five_writes(&h).await;
    h.raw("DELETE FROM audit WHERE seq = 5").await;
    assert_eq!(
        broken_at(&h).await,
        (
            5,
            ChainProblem::Truncated {
                expected: 5,
                found: 4
            }
        )
    );
}

#[tokio::test]
async fn a_chain_emptied_cut_or_rewritten_at_its_end_is_found() {
    // Emptied whole: the incidents remain.
    let h = Harness::new().await;
    five_writes(&h).await;
    h.raw("DELETE FROM audit").await;
    h.raw("DELETE FROM audit_head").await;
    assert_eq!(
        broken_at(&h).await,
        (
            1,
            ChainProblem::HeadMissing {
                records: "5 incidents".into()
            }
        )
    );
    // Cut at the end with the head deleted too.
    let h = Harness::new().await;
    five_writes(&h).await;
    h.raw("DELETE FROM audit WHERE seq >= 4").await;
    h.raw("DELETE FROM audit_head").await;
    assert_eq!(
        broken_at(&h).await,
        (
            3,
            ChainProblem::HeadMissing {
                records: "3 entries, 5 incidents".into()
            }
        )
    );
    // The last entry deleted and the head moved back by one.
    let h = Harness::new().await;
    five_writes(&h).await;
    h.raw("DELETE FROM audit WHERE seq = 5").await;
    h.raw("UPDATE audit_head SET seq = 4").await;
    assert_eq!(
        broken_at(&h).await,
        (
            4,
            ChainProblem::HeadMismatch {
                expected: 4,
                found: 4
            }
        )
    );
    // The last entry rewritten with a hash of its own (as a forger with the hash function
    // would): the head still holds the hash written.
    let h = Harness::new().await;
    five_writes(&h).await;
    h.raw("UPDATE audit SET hash = 'f00d' WHERE seq = 5").await;
    assert_eq!(broken_at(&h).await.0, 5);
    h.raw("UPDATE audit_head SET hash = 'f00d'").await;
    assert_eq!(broken_at(&h).await, (5, ChainProblem::HashMismatch));
    // A fresh store with nothing written is whole.
    let h = Harness::new().await;
    assert_eq!(
        h.store.verify_audit().await.unwrap().map(|v| v.entries),
        Ok(0)
    );
}

#[tokio::test]
async fn refused_transition_and_rejected_create_leave_no_rows() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    s.create_incident("ann", new_incident("a")).await.unwrap();
    let counts = || async {
        let mut v = Vec::new();
        for t in [
            "incidents",
            "indicators",
            "incident_services",
            "severity_changes",
            "phase_changes",
            "audit",
        ] {
            v.push(h.count(t).await);
        }
        v
    };
    let before = counts().await;
    assert!(
        s.change_phase("ann", &key(1), Phase::Closed, None, None)
            .await
            .is_err()
    );
    let mut bad = new_incident("b");
    bad.indicators.push(crate::support::ind("md5", "xyz"));
    assert!(s.create_incident("ann", bad).await.is_err());
    let mut bad = new_incident("c");
    bad.services.push("  ".into());
    assert!(s.create_incident("ann", bad).await.is_err());
    assert_eq!(counts().await, before);
}

/// A download that cannot be recorded in the chain of custody is refused: the file is not
/// handed out, and nothing of it is recorded.
#[tokio::test]
async fn a_download_that_cannot_be_recorded_is_refused() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    s.create_incident("ann", new_incident("a")).await.unwrap();
    let mut r: &[u8] = b"bytes";
    let ev = s
        .add_evidence(
            "ann",
            &key(1),
            NewEvidence {
                file_name: "a.bin".into(),
                description: None,
            },
            &mut r,
        )
        .await
        .unwrap();
    let audit = s.list_audit(&AuditFilter::default()).await.unwrap().total;
    h.raw("CREATE TRIGGER no_custody BEFORE INSERT ON custody BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        .await;
    assert!(s.open_evidence("vic", &key(1), ev.id).await.is_err());
    assert_eq!(
        s.get_evidence(&key(1), ev.id).await.unwrap().custody.len(),
        1
    );
    assert_eq!(
        s.list_audit(&AuditFilter::default()).await.unwrap().total,
        audit
    );
    h.raw("DROP TRIGGER no_custody").await;
    assert!(s.open_evidence("vic", &key(1), ev.id).await.is_ok());
    assert_eq!(
        s.get_evidence(&key(1), ev.id).await.unwrap().custody.len(),
        2
    );
}

/// `verify_evidence` re-hashes every stored file: an altered one and a missing one are named
/// with each evidence item that holds them, its incident and id, while the audit chain, which
/// only vouches for the recorded hash, stays intact.
#[tokio::test]
async fn verify_evidence_names_altered_and_missing_files() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    for t in ["a", "b"] {
        s.create_incident("ann", new_incident(t)).await.unwrap();
    }
    let upload = |name: &str| NewEvidence {
        file_name: name.into(),
        description: None,
    };
    let mut added = Vec::new();
    for (inc, name, bytes) in [
        (1, "mail.eml", &b"original bytes"[..]),
        (2, "same.eml", &b"original bytes"[..]),
        (2, "disk.img", &b"another file"[..]),
        (1, "notes.txt", &b"left alone"[..]),
    ] {
        let mut r = bytes;
        added.push(
            s.add_evidence("ann", &key(inc), upload(name), &mut r)
                .await
                .unwrap(),
        );
    }
    let sizes = std::sync::Mutex::new(Vec::new());
    let record = |done: u64, total: u64| sizes.lock().unwrap().push((done, total));
    let clean = s.verify_evidence(&record).await.unwrap();
    assert_eq!((clean.files, clean.items), (3, 4));
    assert!(clean.problems.is_empty(), "{:?}", clean.problems);
    let total = (b"original bytes".len() + b"another file".len() + b"left alone".len()) as u64;
    assert_eq!(
        sizes.lock().unwrap().last(),
        Some(&(total, total)),
        "progress reaches the total"
    );

    // Altered as an intruder would: writable, one byte changed, read-only again.
    let altered = h.sqlite.evidence_path(&added[0].sha256);
    let mut perms = std::fs::metadata(&altered).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&altered, perms.clone()).unwrap();
    std::fs::write(&altered, b"Original bytes").unwrap();
    perms.set_readonly(true);
    std::fs::set_permissions(&altered, perms).unwrap();
    std::fs::remove_file(h.sqlite.evidence_path(&added[2].sha256)).unwrap();

    let check = s.verify_evidence(&|_, _| {}).await.unwrap();
    assert_eq!((check.files, check.items), (3, 4));
    let named: Vec<(String, uuid::Uuid, Option<vigil_core::Sha256>)> = check
        .problems
        .iter()
        .map(|p| (p.incident.to_string(), p.evidence_id, p.actual.clone()))
        .collect();
    let changed = Some(vigil_core::Sha256::of(b"Original bytes"));
    assert_eq!(
        named,
        [
            ("INC-1".to_owned(), added[0].id, changed.clone()),
            ("INC-2".to_owned(), added[1].id, changed),
            ("INC-2".to_owned(), added[2].id, None),
        ]
    );
    assert!(
        check.problems[2].to_string().contains("is missing")
            && check.problems[0].to_string().contains("mail.eml"),
        "{}",
        check.problems[0]
    );
    assert!(
        s.verify_audit().await.unwrap().is_ok(),
        "the chain vouches for the recorded hash only"
    );
}

#[tokio::test]
async fn modified_or_missing_evidence_is_refused_on_download() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    s.create_incident("ann", new_incident("a")).await.unwrap();
    let mut r: &[u8] = b"original bytes";
    let ev = s
        .add_evidence(
            "ann",
            &key(1),
            NewEvidence {
                file_name: "a.bin".into(),
                description: None,
            },
            &mut r,
        )
        .await
        .unwrap();
    let path = h.sqlite.evidence_path(&ev.sha256);
    assert!(
        std::fs::metadata(&path).unwrap().permissions().readonly(),
        "stored read-only"
    );
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&path, perms).unwrap();
    std::fs::write(&path, b"tampered bytes").unwrap();
    match s.open_evidence("ann", &key(1), ev.id).await {
        Err(StoreError::EvidenceCorrupted {
            id,
            expected,
            actual,
        }) => {
            assert_eq!(id, ev.id);
            assert_eq!(expected, ev.sha256.to_string());
            assert_eq!(
                actual,
                vigil_core::Sha256::of(b"tampered bytes").to_string()
            );
        }
        other => panic!("expected EvidenceCorrupted, got {other:?}"),
    }
    // The same bytes uploaded again repair the stored copy, for both items.
    let upload = |name: &str| NewEvidence {
        file_name: name.into(),
        description: None,
    };
    let mut r: &[u8] = b"original bytes";
    let again = s
        .add_evidence("ann", &key(1), upload("b.bin"), &mut r)
        .await
        .unwrap();
    assert_eq!(again.sha256, ev.sha256);
    for id in [ev.id, again.id] {
        assert!(s.open_evidence("ann", &key(1), id).await.is_ok());
    }
    assert_eq!(std::fs::read(&path).unwrap(), b"original bytes");
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        s.open_evidence("ann", &key(1), ev.id).await,
        Err(StoreError::EvidenceCorrupted { actual, .. }) if actual == "missing"
    ));
    let mut r: &[u8] = b"original bytes";
    s.add_evidence("ann", &key(1), upload("c.bin"), &mut r)
        .await
        .unwrap();
    assert!(s.open_evidence("ann", &key(1), ev.id).await.is_ok());
    let leftovers: Vec<_> = std::fs::read_dir(h.sqlite.dir().join("evidence"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".upload-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary upload files left behind"
    );
}

#[tokio::test]
async fn reopening_keeps_data_and_migrations_are_idempotent() {
    let h = Harness::new().await;
    h.store
        .create_incident("ann", new_incident("a"))
        .await
        .unwrap();
    let again = SqliteStore::open(h.sqlite.dir()).await.unwrap();
    assert_eq!(again.get_incident(&key(1)).await.unwrap().title, "a");
    assert_eq!(
        again.verify_audit().await.unwrap().map(|v| v.entries),
        Ok(1)
    );
    assert!(h.dir.path().join("data/vigil.db").exists());
    let existing = SqliteStore::open_existing(h.sqlite.dir()).await.unwrap();
    assert_eq!(
        existing.verify_audit().await.unwrap().map(|v| v.entries),
        Ok(1)
    );
    let nowhere = h.dir.path().join("nowhere");
    let Err(missing) = SqliteStore::open_existing(&nowhere).await else {
        panic!("a directory without a database opened");
    };
    assert!(
        matches!(missing, StoreError::NoDataDirectory(_)),
        "{missing}"
    );
    // Says what is missing and what to give, not the "check the key or id" of a record.
    assert_eq!(
        missing.to_string(),
        format!(
            "no Vigil data directory at {}: give the --data directory that `vigil serve` uses (default ./vigil-data)",
            nowhere.display()
        )
    );
    assert!(!nowhere.exists(), "open_existing creates nothing");
}

#[tokio::test]
async fn incidents_of_a_database_without_search_text_are_found_once_reopened() {
    let h = Harness::new().await;
    h.store
        .create_incident("ann", new_incident("Сервер взломан"))
        .await
        .unwrap();
    assert_eq!(
        h.raw("UPDATE incidents SET search_text = NULL").await,
        1,
        "as a database from before the column holds it"
    );
    let again = SqliteStore::open(h.sqlite.dir()).await.unwrap();
    let found = again
        .list_incidents(&IncidentFilter {
            text: Some("СЕРВЕР".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.total, 1);
    assert_eq!(
        h.raw("UPDATE incidents SET title = title WHERE search_text IS NULL")
            .await,
        0
    );
}

/// A reader that yields one chunk, then signals and never yields again: an upload whose
/// client stopped sending.
struct Stalled {
    sent: bool,
    started: Option<tokio::sync::oneshot::Sender<()>>,
}

impl tokio::io::AsyncRead for Stalled {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if !self.sent {
            self.sent = true;
            buf.put_slice(b"the first half of a file");
            return std::task::Poll::Ready(Ok(()));
        }
        if let Some(tx) = self.started.take() {
            let _ = tx.send(());
        }
        std::task::Poll::Pending
    }
}

fn upload_leftovers(h: &Harness) -> usize {
    std::fs::read_dir(h.sqlite.dir().join("evidence"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(vigil_store::sqlite::UPLOAD_PREFIX)
        })
        .count()
}

#[tokio::test]
async fn a_cancelled_upload_leaves_no_file_and_interrupted_ones_are_cleaned() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    s.create_incident("ann", new_incident("a")).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut reader = Stalled {
        sent: false,
        started: Some(tx),
    };
    let meta = NewEvidence {
        file_name: "half.bin".into(),
        description: None,
    };
    let inc = key(1);
    {
        let upload = s.add_evidence("ann", &inc, meta, &mut reader);
        tokio::select! {
            done = upload => panic!("a stalled upload cannot finish: {done:?}"),
            _ = rx => {}
        }
        // The upload future is dropped here, mid-file, as when its client goes away.
    }
    assert_eq!(upload_leftovers(&h), 0, "the partial file was removed");
    assert!(s.get_incident(&key(1)).await.unwrap().evidence.is_empty());

    // A file left by a killed process is removed when asked (as `vigil serve` does at start).
    let left = h
        .sqlite
        .dir()
        .join("evidence")
        .join(format!("{}killed", vigil_store::sqlite::UPLOAD_PREFIX));
    std::fs::write(&left, b"half").unwrap();
    assert_eq!(h.sqlite.remove_interrupted_uploads().unwrap(), 1);
    assert!(!left.exists());
}

/// The mode bits of `path` (permissions only).
#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// No other local user may read the data directory: evidence read there would bypass the
/// "downloaded" custody record, and the database holds the whole case file.
#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_its_files_are_the_owners_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("new").join("vigil-data");
    let s = SqliteStore::open(&dir).await.unwrap();
    s.create_incident("ann", new_incident("a")).await.unwrap();
    let mut r: &[u8] = b"secret bytes";
    let ev = s
        .add_evidence(
            "ann",
            &key(1),
            NewEvidence {
                file_name: "a.bin".into(),
                description: None,
            },
            &mut r,
        )
        .await
        .unwrap();
    assert_eq!(mode(&dir), 0o700, "data directory");
    assert_eq!(mode(&dir.join("evidence")), 0o700, "evidence folder");
    assert_eq!(mode(&s.evidence_path(&ev.sha256)), 0o400, "evidence file");
    for name in ["vigil.db", "vigil.db-wal", "vigil.db-shm"] {
        let path = dir.join(name);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{name}");
        }
    }
}

/// A data directory an older Vigil left open to others is tightened when the store opens it.
#[cfg(unix)]
#[tokio::test]
async fn an_open_data_directory_is_tightened_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vigil-data");
    drop(SqliteStore::open(&dir).await.unwrap());
    for (path, m) in [
        (dir.clone(), 0o755),
        (dir.join("evidence"), 0o755),
        (dir.join("vigil.db"), 0o644),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m)).unwrap();
    }
    drop(SqliteStore::open(&dir).await.unwrap());
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("evidence")), 0o700);
    assert_eq!(mode(&dir.join("vigil.db")), 0o600);
}

/// One number read from the database file by raw SQL.
async fn scalar(h: &Harness, sql: &str) -> i64 {
    use sqlx::Connection;
    let url = format!("sqlite://{}", h.sqlite.db_path().display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let n = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    n
}

/// A command run beside a server (`audit verify`, `admin tokens`) opens the database as it is:
/// one an older release left is refused with what to run, and stays as it was, so that the
/// older server can still start on it; one a newer release upgraded is refused by both ways
/// of opening.
#[tokio::test]
async fn only_an_upgrading_open_changes_the_schema() {
    let h = Harness::new().await;
    let newest = scalar(&h, "SELECT MAX(version) FROM _sqlx_migrations").await;
    // As an older release left it: its last migration not applied.
    h.raw(&format!(
        "DELETE FROM _sqlx_migrations WHERE version = {newest}"
    ))
    .await;
    let Err(behind) = SqliteStore::open_existing(h.sqlite.dir()).await else {
        panic!("an older schema opened without a word");
    };
    assert!(
        matches!(behind, StoreError::SchemaBehind { need, .. } if need == newest),
        "{behind}"
    );
    assert!(behind.to_string().contains("vigil serve"), "{behind}");
    let applied = format!("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = {newest}");
    assert_eq!(scalar(&h, &applied).await, 0, "nothing applied");

    // As a newer release left it: a migration this one does not know.
    h.raw(&format!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ({newest}, 'x', 1, X'00', 0), (99999, 'from the future', 1, X'00', 0)"
    ))
    .await;
    for opened in [
        SqliteStore::open_existing(h.sqlite.dir()).await,
        SqliteStore::open(h.sqlite.dir()).await,
    ] {
        let Err(ahead) = opened else {
            panic!("a newer schema opened");
        };
        assert!(
            matches!(ahead, StoreError::SchemaAhead { version: 99999 }),
            "{ahead}"
        );
        assert!(ahead.to_string().contains("newer release"), "{ahead}");
    }
}

/// A server starting and `vigil admin token` opening a new data directory at the same moment
/// both apply the migrations: one waits for the other instead of failing on tables the other
/// just made, or on "database is locked" while the other creates the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn processes_opening_one_directory_at_once_apply_the_migrations_once() {
    for _ in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let opened = futures_util::future::join_all((0..8).map(|_| {
            let data = data.clone();
            tokio::spawn(async move { SqliteStore::open(&data).await })
        }))
        .await;
        for store in opened {
            store.unwrap().unwrap();
        }
    }
}

/// A data directory whose database was deleted while its log store and evidence stayed: the
/// store refuses to create an empty database in its place, naming what it found and what to
/// do; a new directory (or one holding nothing else) is created as always.
#[tokio::test]
async fn a_deleted_database_beside_a_log_store_or_evidence_is_not_created_anew() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("data");
    let store = SqliteStore::open(&dir).await.expect("a new directory");
    store.close().await;
    std::fs::create_dir_all(dir.join("logs").join("journal")).expect("a log store");
    for name in ["vigil.db", "vigil.db-wal", "vigil.db-shm"] {
        let _ = std::fs::remove_file(dir.join(name));
    }
    let refused = SqliteStore::open(&dir).await;
    let Err(e @ StoreError::DatabaseMissing { .. }) = refused else {
        panic!("a database was created anew: {:?}", refused.map(drop));
    };
    let text = e.to_string();
    assert!(
        text.contains("a log store (logs/)")
            && text.contains("Restore vigil.db from a backup")
            && text.contains("new, empty directory"),
        "{text}"
    );
    assert!(!dir.join("vigil.db").exists(), "nothing created");

    std::fs::remove_dir_all(dir.join("logs")).expect("remove the log store");
    std::fs::write(dir.join("evidence").join("0".repeat(64)), b"x").expect("evidence");
    let refused = SqliteStore::open(&dir).await.map(drop);
    assert!(
        matches!(&refused, Err(StoreError::DatabaseMissing { found, .. }) if found.contains("evidence")),
        "{refused:?}"
    );

    let fresh = root.path().join("fresh");
    std::fs::create_dir_all(&fresh).expect("an empty directory");
    SqliteStore::open(&fresh)
        .await
        .expect("an empty directory is new");
}

/// A database file cut short is told as damaged, with a backup to restore, not as a disk
/// that is full or not writable.
#[tokio::test]
async fn a_damaged_database_is_told_as_damaged() {
    let h = Harness::new().await;
    for n in 0..300 {
        h.store
            .create_incident("ada", new_incident(&format!("incident {n}")))
            .await
            .expect("create");
    }
    let dir = h.sqlite.dir().to_path_buf();
    h.sqlite.close().await;
    drop(h.store);
    let db = dir.join("vigil.db");
    let length = std::fs::metadata(&db).expect("database").len();
    assert!(
        length > 32 * 1024,
        "the incidents are in the file ({length} bytes)"
    );
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .expect("open");
    file.set_len(length / 2).expect("cut");
    drop(file);

    let text = match SqliteStore::open(&dir).await {
        Err(e) => e.to_string(),
        Ok(store) => store
            .list_incidents(&IncidentFilter::default())
            .await
            .map(drop)
            .expect_err("the rows are gone with the file's second half")
            .to_string(),
    };
    assert!(
        text.contains("is damaged") && text.contains("backup") && !text.contains("not full"),
        "{text}"
    );
}

/// `0015_alert_tenants`: alerts raised before it take the tenant of their events where that is
/// one tenant, and silence alerts the tenant they watch; an alert people acted on keeps none,
/// as the audit trail recorded its state, so `audit verify` finds nothing altered.
#[tokio::test]
async fn alerts_raised_before_tenants_take_their_events_tenant() {
    use vigil_core::{AlertAction, AlertSource, EventJson, NewAlert, NewDetection, RuleLevel};
    use vigil_store::{AlertPolicy, RaisedId};
    let h = Harness::new().await;
    let s = h.store.as_ref();
    let detection = |event_id: u64, tenant: &str| NewDetection {
        event_id,
        event_time: chrono::Utc::now(),
        service: "web".into(),
        host: "web-a1".into(),
        tenant: tenant.into(),
        rule_id: "r1".into(),
        rule_title: "rule r1".into(),
        level: RuleLevel::High,
        tags: Vec::new(),
    };
    let alert = |key: &str, source: AlertSource, events: &[u64]| NewAlert {
        title: "rule r1".into(),
        source,
        severity: vigil_core::Severity::Sev2,
        service: "web".into(),
        tenant: None,
        dedup_key: key.into(),
        rule_id: Some("r1".into()).filter(|_| source == AlertSource::Detection),
        summary: None,
        origin: None,
        reporter: None,
        event_ids: events.to_vec(),
        events: events
            .iter()
            .map(|n| EventJson::from_value(&serde_json::json!({ "n": n })))
            .collect(),
        times: 1,
    };
    let p = AlertPolicy::default();
    let (_, raised) = s
        .record_matches(
            "vigil",
            vec![
                detection(1, "acme"),
                detection(2, "acme"),
                detection(3, "globex"),
                detection(4, "globex"),
                detection(5, ""),
            ],
            vec![
                (alert("one", AlertSource::Detection, &[1, 2]), p),
                (alert("mixed", AlertSource::Detection, &[2, 3]), p),
                (alert("acted on", AlertSource::Detection, &[4]), p),
                (alert("no tenant", AlertSource::Detection, &[5]), p),
                (alert("silence|web|acme", AlertSource::Monitor, &[]), p),
                (alert("silence|web", AlertSource::Monitor, &[]), p),
                (alert("tool", AlertSource::External, &[]), p),
            ],
            None,
        )
        .await
        .unwrap();
    let ids: Vec<i64> = raised
        .iter()
        .map(|r| match r {
            RaisedId::Created(id) => *id,
            other => panic!("unexpected outcome {other:?}"),
        })
        .collect();
    s.act_on_alert("ann", ids[2], AlertAction::Acknowledge)
        .await
        .unwrap();
    // As a release before tenants left the database.
    h.raw("DROP INDEX alerts_tenant").await;
    h.raw("ALTER TABLE alerts DROP COLUMN tenant").await;
    h.raw("DELETE FROM _sqlx_migrations WHERE version = 15")
        .await;
    let upgraded = SqliteStore::open(h.sqlite.dir()).await.unwrap();
    let mut tenants = Vec::new();
    for id in &ids {
        tenants.push(upgraded.get_alert(*id).await.unwrap().alert.tenant);
    }
    let acme = Some("acme".to_owned());
    assert_eq!(
        tenants,
        [acme.clone(), None, None, None, acme, None, None],
        "one tenant, mixed, acted on, no tenant, a tenant's silence, a service's silence, a tool's"
    );
    let verified = upgraded
        .verify_audit()
        .await
        .unwrap()
        .expect("chain intact");
    assert_eq!(verified.records_unchecked, 0, "{verified:?}");
}
