//! The CLI end to end: `admin token`, `serve`, `incident …` against it, `audit verify` before and
//! after tampering with the database by hand, and a server killed with SIGKILL while creates are
//! in flight leaving only complete incidents and a valid chain.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::{Server, admin_token, ok, run};

#[test]
fn help_is_there_for_a_newcomer() {
    let top = ok(run(&["--help"]));
    for cmd in ["serve", "admin", "incident", "audit"] {
        assert!(top.contains(cmd), "{top}");
    }
    let inc = ok(run(&["incident", "--help"]));
    assert!(
        inc.contains("Examples:") && inc.contains("VIGIL_TOKEN"),
        "{inc}"
    );
    let serve = ok(run(&["serve", "--help"]));
    assert!(
        serve.contains("--data")
            && serve.contains("--listen")
            && serve.contains("vigil admin token"),
        "{serve}"
    );
}

#[test]
fn token_serve_open_show_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let viewer = admin_token(&data, "viewer", "vera");
    let server = Server::start(&data);

    let opened = ok(server.cli(
        &token,
        &[
            "incident",
            "open",
            "--title",
            "Phish on payroll",
            "--summary",
            "credential phish",
            "--severity",
            "SEV2",
            "--service",
            "payroll",
            "--json",
        ],
    ));
    let opened: serde_json::Value = serde_json::from_str(&opened).unwrap();
    assert_eq!(opened["key"], "INC-1");
    assert_eq!(opened["severity"], "SEV2");

    ok(server.cli(
        &token,
        &["incident", "indicator", "add", "INC-1", "ip", "203.0.113.9"],
    ));
    let evidence_file = dir.path().join("mail.eml");
    std::fs::write(
        &evidence_file,
        b"From: attacker@example.net\r\n\r\nclick here",
    )
    .unwrap();
    let ev = ok(server.cli(
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
    let ev: serde_json::Value = serde_json::from_str(&ev).unwrap();
    assert_eq!(ev["size"], std::fs::metadata(&evidence_file).unwrap().len());
    let got = dir.path().join("back.eml");
    ok(server.cli(
        &token,
        &[
            "incident",
            "evidence",
            "get",
            "INC-1",
            ev["id"].as_str().unwrap(),
            "--output",
            got.to_str().unwrap(),
        ],
    ));
    assert_eq!(
        std::fs::read(&got).unwrap(),
        std::fs::read(&evidence_file).unwrap()
    );
    ok(server.cli(
        &token,
        &[
            "incident", "phase", "INC-1", "analysis", "--reason", "triaged",
        ],
    ));

    let shown = ok(server.cli(&viewer, &["incident", "show", "INC-1", "--json"]));
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["phase"], "analysis");
    assert_eq!(shown["title"], "Phish on payroll");
    let table = ok(server.cli(&viewer, &["incident", "list"]));
    assert!(
        table.contains("INC-1") && table.contains("Phish on payroll"),
        "{table}"
    );

    // A viewer cannot write; the message says what to do.
    let refused = server.cli(
        &viewer,
        &["incident", "open", "--title", "t", "--summary", "s"],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("responder"), "{stderr}");
    // A wrong token is refused with a hint.
    let refused = server.cli("vgl_wrong", &["incident", "list"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("vigil admin token"));
    drop(server);

    let verified = ok(run(&["audit", "verify", "--data", data.to_str().unwrap()]));
    assert!(verified.starts_with("OK: "), "{verified}");
}

#[test]
fn audit_verify_catches_a_row_changed_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start(&data);
    for title in ["one", "two", "three"] {
        ok(server.cli(
            &token,
            &["incident", "open", "--title", title, "--summary", "s"],
        ));
    }
    drop(server);
    let before = ok(run(&["audit", "verify", "--data", data.to_str().unwrap()]));
    assert!(before.starts_with("OK: "), "{before}");

    crate::support::tamper_audit(&data);

    let after = run(&["audit", "verify", "--data", data.to_str().unwrap()]);
    assert!(!after.status.success(), "tampering must be caught");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&after.stdout),
        String::from_utf8_lossy(&after.stderr)
    );
    assert!(text.contains("BROKEN: audit entry 2 "), "{text}");
}

#[test]
fn sigkill_during_creates_leaves_only_complete_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "responder", "rita");
    let mut server = Server::start(&data);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = vigil_client::Client::new(&server.url)
        .unwrap()
        .with_token(&token);
    let done = Arc::new(AtomicUsize::new(0));
    let (first_batch_tx, first_batch_rx) = std::sync::mpsc::channel::<()>();
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let client = client.clone();
        let done = Arc::clone(&done);
        let tx = first_batch_tx.clone();
        tasks.push(runtime.spawn(async move {
            for i in 0.. {
                let body = serde_json::json!({
                    "title": format!("w{worker}-{i}"),
                    "summary": "created while the server is killed",
                    "severity": "SEV3",
                    "services": ["svc-a", "svc-b"],
                    "tenants": ["t1"],
                    "techniques": ["T1078"],
                });
                match client
                    .send_json::<_, serde_json::Value>(reqwest::Method::POST, "/incidents", &body)
                    .await
                {
                    Ok(_) => {
                        if done.fetch_add(1, Ordering::SeqCst) + 1 == 20 {
                            let _ = tx.send(());
                        }
                    }
                    Err(_) => break,
                }
            }
        }));
    }
    drop(first_batch_tx);
    // Kill once 20 creates have succeeded, with the workers still sending.
    first_batch_rx.recv().unwrap();
    server.child.kill().unwrap(); // SIGKILL on Unix
    server.child.wait().unwrap();
    for task in tasks {
        runtime.block_on(task).unwrap();
    }

    let acknowledged = done.load(Ordering::SeqCst);
    let verified = ok(run(&["audit", "verify", "--data", data.to_str().unwrap()]));
    assert!(verified.starts_with("OK: "), "{verified}");
    // Every incident in the store is complete, and every acknowledged create is there.
    let incidents = runtime.block_on(crate::support::all_incidents(&data));
    assert!(
        incidents.len() >= acknowledged,
        "{} stored < {acknowledged} acknowledged",
        incidents.len()
    );
    for inc in &incidents {
        assert!(inc.title.starts_with('w'), "{inc:?}");
        assert_eq!(inc.services.len(), 2, "{inc:?}");
        assert_eq!(inc.tenants.len(), 1, "{inc:?}");
        assert_eq!(inc.techniques.len(), 1, "{inc:?}");
        assert_eq!(inc.severity_history.len(), 1, "{inc:?}");
    }
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let exit = server.child.wait().unwrap();
    assert!(
        exit.success(),
        "vigil serve exited with {exit} after SIGTERM"
    );
}
