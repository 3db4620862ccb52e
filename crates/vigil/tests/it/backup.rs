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

    // A second backup to the same file while FILE.part exists (one under way, or left by a
    // kill): refused at once, the part file left to its owner.
    let part = dir.path().join("second.tar.gz.part");
    std::fs::write(&part, b"another backup's bytes").unwrap();
    let second = dir.path().join("second.tar.gz");
    let out = server.cli(
        &token,
        &["admin", "backup", "--out", second.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let said = stderr(&out);
    assert!(
        said.contains("another backup to") && said.contains("remove"),
        "{said}"
    );
    assert_eq!(std::fs::read(&part).unwrap(), b"another backup's bytes");
    assert!(!second.exists());
    std::fs::remove_file(&part).unwrap();

    // --out is checked before the download: a directory, an existing file (without --force),
    // a directory that is missing are refused with what to do, and nothing is written.
    let existing_dir = dir.path().join("backups");
    std::fs::create_dir(&existing_dir).unwrap();
    let kept = dir.path().join("kept.tar.gz");
    std::fs::write(&kept, b"yesterday's backup").unwrap();
    let missing = dir.path().join("no-such-dir").join("b.tar.gz");
    for (out, says) in [
        (&existing_dir, "is a directory"),
        (&kept, "add --force"),
        (&missing, "create the directory"),
    ] {
        let refused = server.cli(&token, &["admin", "backup", "--out", out.to_str().unwrap()]);
        assert!(!refused.status.success());
        let said = stderr(&refused);
        assert!(said.contains(says), "{said}");
    }
    assert_eq!(std::fs::read_dir(&existing_dir).unwrap().count(), 0);
    assert!(!dir.path().join("backups.part").exists());
    assert_eq!(std::fs::read(&kept).unwrap(), b"yesterday's backup");
    ok(server.cli(
        &token,
        &[
            "admin",
            "backup",
            "--out",
            kept.to_str().unwrap(),
            "--force",
        ],
    ));
    assert_ne!(std::fs::read(&kept).unwrap(), b"yesterday's backup");
    // The server was asked for one backup only: the refused ones never reached it.
    let audit = api_get(&server, &token, "audit", &[("limit", "1000")]);
    let taken = audit.to_string().matches("backup.take").count();
    assert_eq!(taken, 2, "{audit}");

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

    // A tar of the stopped server's directory, as README's offline backup makes: said to be
    // one, to be unpacked with tar, not refused as cut short.
    let offline = dir.path().join("offline.tar.gz");
    assert!(
        std::process::Command::new("tar")
            .arg("-C")
            .arg(dir.path())
            .arg("-czf")
            .arg(&offline)
            .arg("data")
            .status()
            .unwrap()
            .success()
    );
    let from_offline = dir.path().join("from-offline");
    let out = run(&[
        "admin",
        "restore",
        "--data",
        from_offline.to_str().unwrap(),
        offline.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let said = stderr(&out);
    assert!(
        said.contains("copy of a stopped server's directory") && said.contains("tar -C"),
        "{said}"
    );
    assert!(!said.contains("cut short"), "{said}");
    assert!(!from_offline.exists());

    // No room on the target's disk (a file size limit here, failing writes as a full disk
    // does): said to be the disk's fault, not the backup's, and nothing is left.
    let full = dir.path().join("full");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 8; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_vigil"))
        .args([
            "admin",
            "restore",
            "--data",
            full.to_str().unwrap(),
            archive.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = stderr(&out);
    assert!(
        said.contains("is full") && said.contains("is not at fault"),
        "{said}"
    );
    assert!(!said.contains("not a complete Vigil backup"), "{said}");
    assert!(!full.exists());

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

/// A backup stopped by Ctrl-C or a kill (SIGINT, SIGTERM) removes `FILE.part`, which holds
/// what the backup does, and ends with the signal's exit code. The server here sends the
/// headers and a first piece, then holds the download open.
#[cfg(unix)]
#[test]
fn an_interrupted_backup_leaves_no_part_file() {
    use std::io::{BufRead, BufReader, Write};
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            let mut stream = stream;
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/gzip\r\ncontent-length: 1000000\r\n\r\n")
                .unwrap();
            stream.write_all(&[7u8; 4096]).unwrap();
            stream.flush().unwrap();
            // Held open until the client goes: the download never ends on its own.
            let _ = reader.fill_buf();
        });
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("backup.tar.gz");
        let child = crate::support::vigil()
            .args([
                "admin",
                "backup",
                "--out",
                out.to_str().unwrap(),
                "--server",
                &url,
                "--token",
                "vgl_test",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let part = dir.path().join("backup.tar.gz.part");
        crate::support::wait_for("the part file", || {
            std::fs::metadata(&part).is_ok_and(|m| m.len() > 0)
        });
        let killed = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let output = child.wait_with_output().unwrap();
        let said = stderr(&output);
        assert_eq!(output.status.code(), Some(code), "{signal}: {said}");
        assert!(said.contains("interrupted"), "{said}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "{signal} left a file"
        );
    }
}

/// A restore stopped by Ctrl-C or a kill removes what it unpacked (and the directory it made),
/// and ends with the signal's exit code. The archive comes through a named pipe, which the test
/// holds open after the first part of it.
#[cfg(unix)]
#[test]
fn an_interrupted_restore_leaves_nothing() {
    use std::io::{BufRead, BufReader, Write};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "ops");
    let server = Server::start(&data);
    let archive = dir.path().join("backup.tar.gz");
    ok(server.cli(
        &token,
        &["admin", "backup", "--out", archive.to_str().unwrap()],
    ));
    drop(server);
    let bytes = std::fs::read(&archive).unwrap();
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let pipe = dir.path().join("pipe");
        let _ = std::fs::remove_file(&pipe);
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&pipe)
                .status()
                .unwrap()
                .success()
        );
        let target = dir.path().join("restored");
        let mut child = crate::support::vigil()
            .args([
                "admin",
                "restore",
                "--data",
                target.to_str().unwrap(),
                pipe.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut writer = std::fs::OpenOptions::new().write(true).open(&pipe).unwrap();
        writer.write_all(&bytes[..bytes.len() / 2]).unwrap();
        let staging = target.join(format!(".vigil-restoring-{}", child.id()));
        crate::support::wait_for("the first file unpacked", || {
            std::fs::metadata(staging.join("vigil.db")).is_ok_and(|m| m.len() > 0)
        });
        let killed = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        // The notice says the signal was taken; then the pipe ends, so the read waiting on it
        // returns.
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut notice = String::new();
        err.read_line(&mut notice).unwrap();
        assert!(notice.contains("interrupted by"), "{notice}");
        drop(writer);
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "{signal}: {notice}{rest}");
        assert!(rest.contains("nothing was restored"), "{rest}");
        assert!(!target.exists(), "{signal} left {}", target.display());
    }
}

/// The database copies a server killed during a backup left (`.backup-UUID.db` and its
/// `-journal`) are removed when a server starts on the directory; nothing else is.
#[test]
fn a_server_start_removes_the_database_copies_of_interrupted_backups() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    admin_token(&data, "admin", "ops");
    let leftovers = [
        ".backup-0190a1b2-0000-7000-8000-000000000001.db",
        ".backup-0190a1b2-0000-7000-8000-000000000001.db-journal",
    ];
    let kept = [
        ".backup-notes.db",
        ".backup-0190A1B2-0000-7000-8000-000000000001.db",
        "backup-0190a1b2-0000-7000-8000-000000000001.db",
        ".backup-0190a1b2-0000-7000-8000-000000000001.db.bak",
    ];
    for name in leftovers.iter().chain(&kept) {
        std::fs::write(data.join(name), b"a database copy").unwrap();
    }
    let server = Server::start(&data);
    for name in leftovers {
        assert!(!data.join(name).exists(), "{name} was left");
    }
    for name in kept {
        assert!(data.join(name).exists(), "{name} was removed");
    }
    drop(server);
}
