//! The data directory as a whole: what `vigil serve` refuses to start on, and the modes of
//! what it creates.

use std::path::Path;

use crate::support::{Server, admin_token, vigil};

/// Stores one batch of events through a running server and waits until it is searchable.
fn store_events(server: &Server, token: &str) {
    let runtime = crate::support::runtime();
    runtime.block_on(async {
        let body: String = (0..20)
            .map(|i| format!("{{\"user\":\"alice{i}\",\"message\":\"logged in\"}}\n"))
            .collect();
        let resp = reqwest::Client::new()
            .post(format!(
                "{}/api/v1/events?service=auth&tenant=acme&refresh=wait_for",
                server.url
            ))
            .bearer_auth(token)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await
            .expect("post");
        assert!(resp.status().is_success(), "{}", resp.status());
    });
}

/// The operator's repro: the database deleted while the log store stays. The server refuses
/// to start with an empty database in its place, and says what to restore.
#[test]
fn a_data_directory_whose_database_was_deleted_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    let token = admin_token(&data, "admin", "ops");
    store_events(&server, &token);
    assert!(server.terminate().success());
    for name in ["vigil.db", "vigil.db-wal", "vigil.db-shm"] {
        let _ = std::fs::remove_file(data.join(name));
    }

    let mut child = vigil()
        .args([
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run vigil serve");
    // A server that starts never exits by itself: give it a while, then stop it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().expect("kill");
            panic!("the server started on a directory without its database");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("its output");
    assert!(!out.status.success(), "the server started");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("holds a log store (logs/) but no database (vigil.db)")
            && stderr.contains("Restore vigil.db from a backup"),
        "{stderr}"
    );
    assert!(
        !data.join("vigil.db").exists(),
        "no empty database was made"
    );
}

/// Every file and folder the server makes in the data directory is the owner's only: the
/// log store's journal and index, the state files, the locks, as the database and evidence.
#[cfg(unix)]
#[test]
fn everything_the_server_makes_in_the_data_directory_is_the_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    fn walk(path: &Path, found: &mut Vec<(String, u32)>) {
        for entry in std::fs::read_dir(path).unwrap() {
            let entry = entry.unwrap();
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            found.push((entry.path().display().to_string(), mode));
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), found);
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    let token = admin_token(&data, "admin", "ops");
    store_events(&server, &token);
    assert!(server.terminate().success());

    let mut found = Vec::new();
    walk(&data, &mut found);
    let names: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    for expected in ["received.json", "journal", ".idx", "meta.json", "link.key"] {
        assert!(
            names.iter().any(|n| n.ends_with(expected)),
            "{expected} in {names:?}"
        );
    }
    let open: Vec<_> = found.iter().filter(|(_, mode)| mode & 0o077 != 0).collect();
    assert!(open.is_empty(), "readable by others: {open:?}");
}
