//! Online backup and restore: `vigil admin backup` against a running `vigil serve` while a
//! writer keeps ingesting, then `vigil admin restore` into a new directory and a server on it.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Server, admin_token, ok, run};

const BATCH: usize = 50;

fn batch_body(batch: usize) -> String {
    (0..BATCH)
        .map(|i| format!("{{\"batch\":\"b{batch}\",\"seq\":{i},\"message\":\"login {i}\"}}\n"))
        .collect()
}

/// `GET /api/v1/PATH` as JSON.
fn api_get(server: &Server, token: &str, path: &str, query: &[(&str, &str)]) -> Value {
    crate::support::runtime().block_on(async {
        let resp = reqwest::Client::new()
            .get(format!("{}/api/v1/{path}", server.url))
            .query(query)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json::<Value>().await.unwrap()
    })
}

fn search_total(server: &Server, token: &str, q: &str) -> u64 {
    api_get(server, token, "events/search", &[("q", q), ("limit", "1")])["total"]
        .as_u64()
        .unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn sha256_of(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn a_backup_taken_during_ingest_restores_every_acknowledged_event_and_the_case_work() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "ops");
    let server = Server::start(&data);

    ok(server.cli(
        &token,
        &[
            "incident",
            "open",
            "--title",
            "Phish",
            "--summary",
            "credential phish",
            "--severity",
            "SEV2",
            "--service",
            "payroll",
            "--json",
        ],
    ));
    let evidence_file = dir.path().join("mail.eml");
    std::fs::write(&evidence_file, b"From: attacker\r\n\r\nclick here").unwrap();
    let added = ok(server.cli(
        &token,
        &[
            "incident",
            "evidence",
            "add",
            "INC-1",
            evidence_file.to_str().unwrap(),
            "--json",
        ],
    ));
    let added: Value = serde_json::from_str(&added).unwrap();
    let evidence_id = added["id"].as_str().unwrap().to_owned();

    // A writer keeps ingesting through the backup; each batch is noted when acknowledged.
    let acked: Arc<Mutex<Vec<(usize, Instant)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop, url, token) = (
            acked.clone(),
            stop.clone(),
            server.url.clone(),
            token.clone(),
        );
        std::thread::spawn(move || {
            let runtime = crate::support::runtime();
            runtime.block_on(async {
                let http = reqwest::Client::new();
                let mut batch = 0;
                while !stop.load(Ordering::Acquire) {
                    let resp = http
                        .post(format!("{url}/api/v1/events?service=auth&tenant=acme"))
                        .bearer_auth(&token)
                        .header("content-type", "application/x-ndjson")
                        .body(batch_body(batch))
                        .send()
                        .await
                        .unwrap();
                    assert!(resp.status().is_success(), "{}", resp.status());
                    acked.lock().unwrap().push((batch, Instant::now()));
                    batch += 1;
                }
            });
        })
    };
    // Some batches before, more during.
    while acked.lock().unwrap().len() < 5 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let began = Instant::now();
    let archive = dir.path().join("backup.tar.gz");
    let out = server.cli(
        &token,
        &[
            "admin",
            "backup",
            "--out",
            archive.to_str().unwrap(),
            "--json",
        ],
    );
    stop.store(true, Ordering::Release);
    writer.join().unwrap();
    let summary: Value = serde_json::from_str(&ok(out)).unwrap();
    assert!(
        summary["manifest"]["events_below"].as_u64().unwrap() > 0,
        "{summary}"
    );
    assert!(!dir.path().join("backup.tar.gz.part").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&archive).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the archive holds secrets");
    }
    let before: Vec<usize> = acked
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, at)| *at < began)
        .map(|(b, _)| *b)
        .collect();
    assert!(before.len() >= 5);

    // The audit trail says who took it.
    let audit = api_get(&server, &token, "audit", &[("limit", "1000")]).to_string();
    assert!(audit.contains("backup.take"), "{audit}");
    drop(server);

    let restored = dir.path().join("restored");
    let out = ok(run(&[
        "admin",
        "restore",
        "--data",
        restored.to_str().unwrap(),
        archive.to_str().unwrap(),
    ]));
    assert!(out.contains("vigil audit verify"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(restored.join("link.key"))
            .or_else(|_| std::fs::metadata(restored.join("vigil.db")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "restored files are owner-only");
    }

    let server = Server::start(&restored);
    let deadline = Instant::now() + Duration::from_secs(30);
    for batch in &before {
        loop {
            let n = search_total(&server, &token, &format!("batch:b{batch}"));
            if n == BATCH as u64 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "batch b{batch}, acknowledged before the backup began, has {n} of {BATCH} events after restore"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let incident = ok(server.cli(&token, &["incident", "show", "INC-1", "--json"]));
    assert!(incident.contains("Phish"), "{incident}");
    let got = dir.path().join("got.eml");
    ok(server.cli(
        &token,
        &[
            "incident",
            "evidence",
            "get",
            "INC-1",
            &evidence_id,
            "--output",
            got.to_str().unwrap(),
        ],
    ));
    assert_eq!(sha256_of(&got), sha256_of(&evidence_file));
    drop(server);
    let verified = ok(run(&[
        "audit",
        "verify",
        "--data",
        restored.to_str().unwrap(),
    ]));
    assert!(verified.contains("OK"), "{verified}");
}

#[test]
fn a_cut_or_altered_archive_is_refused_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "ops");
    let viewer = admin_token(&data, "viewer", "vera");
    let server = Server::start(&data);
    let archive = dir.path().join("backup.tar.gz");
    ok(server.cli(
        &token,
        &["admin", "backup", "--out", archive.to_str().unwrap()],
    ));

    // Not an admin: refused with 403, nothing written.
    let refused = dir.path().join("refused.tar.gz");
    let out = server.cli(
        &viewer,
        &["admin", "backup", "--out", refused.to_str().unwrap()],
    );
    assert!(!out.status.success());
    assert!(!refused.exists() && !dir.path().join("refused.tar.gz.part").exists());
    let status = crate::support::runtime().block_on(async {
        reqwest::Client::new()
            .get(format!("{}/api/v1/admin/backup", server.url))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, reqwest::StatusCode::FORBIDDEN);
    drop(server);

    let bytes = std::fs::read(&archive).unwrap();
    let cut = dir.path().join("cut.tar.gz");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    // One byte of the database changed inside a well-formed archive (a flipped bit in the
    // compressed stream may decode to the same bytes, or be caught by gzip's CRC alone).
    let mut tar_bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&bytes[..]),
        &mut tar_bytes,
    )
    .unwrap();
    assert_eq!(
        &tar_bytes[..8],
        b"vigil.db",
        "the database is the first member"
    );
    tar_bytes[512 + 100] ^= 0x01;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar_bytes).unwrap();
    let altered = dir.path().join("altered.tar.gz");
    std::fs::write(&altered, gz.finish().unwrap()).unwrap();
    for (archive, target) in [(&cut, "from-cut"), (&altered, "from-altered")] {
        let target = dir.path().join(target);
        let out = run(&[
            "admin",
            "restore",
            "--data",
            target.to_str().unwrap(),
            archive.to_str().unwrap(),
        ]);
        assert!(!out.status.success(), "{} was restored", archive.display());
        let said = stderr(&out);
        assert!(said.contains("not a complete Vigil backup"), "{said}");
        if target.ends_with("from-altered") {
            assert!(said.contains("vigil.db was altered"), "{said}");
        }
        assert!(
            !target.exists(),
            "a refused restore left {}",
            target.display()
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains("restoring"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    // Into a directory that is not empty: refused, the directory untouched.
    let out = run(&[
        "admin",
        "restore",
        "--data",
        data.to_str().unwrap(),
        archive.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is not empty"), "{}", stderr(&out));
    // An existing empty directory (a mount point, say, which no rename can replace) is kept:
    // a refused archive leaves it empty, the good one fills it, the directory itself the same.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let inode = || -> u64 {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(&empty).unwrap().ino()
        }
        #[cfg(not(unix))]
        0
    };
    let before = inode();
    let out = run(&[
        "admin",
        "restore",
        "--data",
        empty.to_str().unwrap(),
        cut.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    assert_eq!(inode(), before);
    ok(run(&[
        "admin",
        "restore",
        "--data",
        empty.to_str().unwrap(),
        archive.to_str().unwrap(),
    ]));
    assert!(empty.join("vigil.db").exists());
    assert_eq!(inode(), before, "the directory itself was replaced");
    let hidden: Vec<_> = std::fs::read_dir(&empty)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}
