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
fn serve_refuses_two_retentions_for_one_service() {
    let dir = tempfile::tempdir().unwrap();
    // A file, not a directory: were the retentions taken, serve would stop on it instead of
    // running on.
    let data = dir.path().join("data");
    std::fs::write(&data, "").unwrap();
    let out = run(&[
        "serve",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--retention",
        "web=1,db=3",
        "--retention",
        "web=5",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("web two retentions (1 and 5 days)"),
        "{stderr}"
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
    let get = |extra: &[&str]| {
        let mut args = vec![
            "incident",
            "evidence",
            "get",
            "INC-1",
            ev["id"].as_str().unwrap(),
            "--output",
            got.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        server.cli(&token, &args)
    };
    ok(get(&[]));
    assert_eq!(
        std::fs::read(&got).unwrap(),
        std::fs::read(&evidence_file).unwrap()
    );
    // An existing file is not replaced unless asked to.
    std::fs::write(&got, b"another copy").unwrap();
    let refused = get(&[]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("add --force"));
    assert_eq!(std::fs::read(&got).unwrap(), b"another copy");
    ok(get(&["--force"]));
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
fn a_token_revoked_on_the_data_directory_stops_working_on_the_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let viewer = admin_token(&data, "viewer", "vera");
    // A second active "vera" would make the actor of her writes ambiguous: refused.
    let second_vera = run(&[
        "admin", "token", "--data", d, "--role", "viewer", "--name", "vera",
    ]);
    assert!(!second_vera.status.success());
    let stderr = String::from_utf8_lossy(&second_vera.stderr);
    assert!(
        stderr.contains("an active token is already named \"vera\""),
        "{stderr}"
    );
    // Nor may a token take the name the command line records its own writes under.
    let posing = run(&[
        "admin",
        "token",
        "--data",
        d,
        "--role",
        "admin",
        "--name",
        "vigil-admin-cli",
    ]);
    assert!(!posing.status.success());
    let stderr = String::from_utf8_lossy(&posing.stderr);
    assert!(
        stderr.contains("reserved: \"vigil\", \"vigil-admin-cli\", \"reporter\""),
        "{stderr}"
    );
    let help = ok(run(&["admin", "token", "--help"]));
    assert!(help.contains("vigil, vigil-admin-cli, reporter"), "{help}");
    let rita = admin_token(&data, "responder", "rita");
    let server = Server::start(&data);
    ok(server.cli(&viewer, &["incident", "list"]));

    // An unknown name is refused.
    let unknown = run(&["admin", "revoke", "nobody", "--data", d]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no active token is named"));

    let listed: serde_json::Value =
        serde_json::from_str(&ok(run(&["admin", "tokens", "--data", d, "--json"]))).unwrap();
    let first_vera = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "vera")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = ok(run(&["admin", "revoke", &first_vera, "--data", d]));
    assert!(
        revoked.contains("revoked viewer token \"vera\""),
        "{revoked}"
    );
    // The running server refuses it at once; the other tokens still work.
    let refused = server.cli(&viewer, &["incident", "list"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unknown or revoked"));
    ok(server.cli(&rita, &["incident", "list"]));
    // Revoked, the name is free again; revoked by name, none is active.
    admin_token(&data, "viewer", "vera");
    ok(run(&["admin", "revoke", "vera", "--data", d]));
    let table = ok(run(&["admin", "tokens", "--data", d]));
    assert!(table.contains("rita") && table.contains("vera"), "{table}");
    let active = ok(run(&["admin", "tokens", "--data", d, "--active"]));
    assert!(
        active.contains("rita") && !active.contains("vera"),
        "{active}"
    );
    drop(server);
    // The revocations went through the audit trail, which still verifies.
    let verified = ok(run(&["audit", "verify", "--data", d]));
    assert!(verified.starts_with("OK: "), "{verified}");
    // A mistyped data directory is an error, not a new empty store.
    let typo = dir.path().join("dta");
    assert!(
        !run(&["admin", "tokens", "--data", typo.to_str().unwrap()])
            .status
            .success()
    );
    assert!(!typo.exists());
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
    // Three incidents and the token, each as its latest audit entry recorded it.
    assert!(
        before.contains("4 records checked against the audit trail"),
        "{before}"
    );

    // The record itself edited, the audit rows untouched: found and named.
    let edited = crate::support::edit_by_hand(
        &data,
        "UPDATE incidents SET severity = 'SEV4' WHERE seq = 2",
    );
    assert_eq!(edited, 1);
    let altered = run(&["audit", "verify", "--data", data.to_str().unwrap()]);
    assert!(!altered.status.success(), "a hand edit must be caught");
    let stdout = String::from_utf8_lossy(&altered.stdout);
    assert!(stdout.starts_with("ALTERED: incident INC-2 "), "{stdout}");
    assert!(stdout.contains("restore it from a backup"), "{stdout}");
    let json = run(&[
        "audit",
        "verify",
        "--data",
        data.to_str().unwrap(),
        "--json",
    ]);
    assert!(!json.status.success());
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["broken"]["problem"]["kind"], "record_altered");
    assert_eq!(json["broken"]["problem"]["record"], "incident INC-2");

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

/// An evidence file changed on disk (made writable, one byte changed, read-only again) or
/// deleted is named by `audit verify` with its incident and evidence id, and it exits 1; the OK
/// line counts the files re-hashed.
#[test]
fn audit_verify_rehashes_every_evidence_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start(&data);
    ok(server.cli(
        &token,
        &["incident", "open", "--title", "one", "--summary", "s"],
    ));
    let mut ids = Vec::new();
    for (name, bytes) in [("mail.eml", "From: a@example.net"), ("notes.txt", "notes")] {
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let ev = ok(server.cli(
            &token,
            &[
                "incident",
                "evidence",
                "add",
                "INC-1",
                file.to_str().unwrap(),
                "--json",
            ],
        ));
        let ev: serde_json::Value = serde_json::from_str(&ev).unwrap();
        ids.push((
            ev["id"].as_str().unwrap().to_owned(),
            ev["sha256"].as_str().unwrap().to_owned(),
        ));
    }
    drop(server);
    let d = data.to_str().unwrap();
    let before = ok(run(&["audit", "verify", "--data", d]));
    assert!(
        before.starts_with("OK: ") && before.contains("; 2 evidence files re-hashed"),
        "{before}"
    );

    let stored = data.join("evidence").join(&ids[0].1);
    let mut perms = std::fs::metadata(&stored).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&stored, perms.clone()).unwrap();
    let mut bytes = std::fs::read(&stored).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&stored, bytes).unwrap();
    perms.set_readonly(true);
    std::fs::set_permissions(&stored, perms).unwrap();
    std::fs::remove_file(data.join("evidence").join(&ids[1].1)).unwrap();

    let altered = run(&["audit", "verify", "--data", d]);
    assert!(
        !altered.status.success(),
        "an altered evidence file must be caught"
    );
    let stdout = String::from_utf8_lossy(&altered.stdout);
    let stderr = String::from_utf8_lossy(&altered.stderr);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "ALTERED: evidence {} (mail.eml) of INC-1: ",
            ids[0].0
        )) && lines[1].starts_with(&format!(
            "MISSING: evidence {} (notes.txt) of INC-1",
            ids[1].0
        )) && !stdout.contains("OK: "),
        "{stdout}"
    );
    assert!(
        stderr.contains("restore each file from a backup"),
        "{stderr}"
    );
    let json = run(&["audit", "verify", "--data", d, "--json"]);
    assert!(!json.status.success());
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["evidence_files_checked"], 2);
    assert_eq!(
        json["evidence_problems"][0]["evidence_id"],
        ids[0].0.as_str()
    );
    assert_eq!(json["evidence_problems"][0]["incident"], "INC-1");
    assert!(
        json["evidence_problems"][1].get("actual").is_none(),
        "{json}"
    );
}

/// The organisation document in force says whom to page: one redirected to another webhook in
/// the database by hand is named (the store's tests go through the other edits).
#[test]
fn audit_verify_catches_the_organisation_document_changed_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let org = dir.path().join("org.yaml");
    std::fs::write(
        &org,
        "people:\n  - name: alice\n    contacts: [{kind: webhook, address: 'http://127.0.0.1:18312/hook'}]\n",
    )
    .unwrap();
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start(&data);
    ok(server.cli(&token, &["apply", "-f", org.to_str().unwrap()]));
    drop(server);
    let d = data.to_str().unwrap();
    let before = ok(run(&["audit", "verify", "--data", d]));
    assert!(
        before.contains("2 records checked against the audit trail"),
        "{before}"
    );
    let edited = crate::support::edit_by_hand(
        &data,
        "UPDATE org_versions SET document = replace(document, '127.0.0.1:18312', 'attacker.example') \
         WHERE version = (SELECT MAX(version) FROM org_versions)",
    );
    assert_eq!(edited, 1);
    let altered = run(&["audit", "verify", "--data", d]);
    assert!(!altered.status.success(), "a hand edit must be caught");
    let stdout = String::from_utf8_lossy(&altered.stdout);
    assert!(
        stdout.starts_with("ALTERED: organisation document version 1 "),
        "{stdout}"
    );
}

#[test]
fn sigkill_during_creates_leaves_only_complete_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "responder", "rita");
    let mut server = Server::start(&data);
    let runtime = crate::support::runtime();
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
    let exit = server.terminate();
    assert!(
        exit.success(),
        "vigil serve exited with {exit} after SIGTERM"
    );
}

/// A server whose stdout is closed (`vigil serve | head -2`, a terminal gone) goes on serving
/// and stops cleanly: its own lines (the rules it loaded, that it stopped) are passed over.
#[cfg(unix)]
#[test]
fn a_closed_stdout_neither_crashes_nor_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let mut server = Server::start_then_close_stdout(&data);
    std::thread::sleep(std::time::Duration::from_millis(500));
    ok(server.cli(&token, &["storage", "stats"]));
    let exit = server.terminate();
    assert!(
        exit.success(),
        "vigil serve exited with {exit} after SIGTERM"
    );
}

/// `vigil storage stats` says when each service last sent after a restart too: the times are
/// kept in the data directory, not only in the running server's memory.
#[cfg(unix)]
#[test]
fn last_received_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let log = dir.path().join("web.jsonl");
    std::fs::write(
        &log,
        "{\"@timestamp\":\"2026-01-10T10:00:00Z\",\"message\":\"hello\"}\n",
    )
    .unwrap();
    let received = |server: &Server| -> serde_json::Value {
        let stats: serde_json::Value =
            serde_json::from_str(&ok(server.cli(&token, &["storage", "stats", "--json"]))).unwrap();
        let web = stats["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["service"] == "web")
            .cloned()
            .unwrap_or_else(|| panic!("{stats}"));
        web["received"].clone()
    };
    let mut server = Server::start(&data);
    ok(server.cli(
        &token,
        &[
            "ingest",
            log.to_str().unwrap(),
            "--service",
            "web",
            "--wait",
        ],
    ));
    let before = received(&server);
    assert!(before.is_string(), "{before}");
    assert!(server.terminate().success());
    drop(server);
    let again = Server::start(&data);
    assert_eq!(received(&again), before);
}

/// Every piece of case work from the command line, checked through `--json`: severity with a
/// reason, indicators searched across incidents and suggesting related ones, links, the action
/// log, custody entries, the data impact, next steps, timestamp corrections, the guards and the
/// post-mortem before a SEV2 closes.
#[test]
fn case_work_over_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "responder", "rita");
    let server = Server::start(&data);
    let json = |args: &[&str]| -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&ok(server.cli(&token, &all))).unwrap()
    };
    let opened = json(&[
        "incident",
        "open",
        "--title",
        "Credential phish",
        "--summary",
        "two users typed their password",
        "--severity",
        "SEV3",
        "--severity-reason",
        "two mailboxes",
        "--category",
        "account_compromise",
        "--service",
        "payroll",
        "--tenant",
        "contoso",
        "--attack",
        "t1566.002",
        "--tlp",
        "red",
        "--indicator",
        "domain:Login-Micros0ft.example.",
        "--next-step",
        "reset both passwords",
    ]);
    assert_eq!(opened["techniques"][0], "T1566.002");
    assert_eq!(opened["tlp"], "red");
    assert_eq!(opened["indicators"][0]["value"], "login-micros0ft.example");
    assert_eq!(opened["next_steps"][0]["text"], "reset both passwords");
    json(&[
        "incident",
        "open",
        "--title",
        "Second",
        "--summary",
        "same domain",
    ]);
    json(&[
        "incident",
        "indicator",
        "add",
        "INC-2",
        "domain",
        "LOGIN-micros0ft.example",
    ]);
    let hits = json(&["incident", "indicator", "search", "login-micros0ft.example"]);
    assert_eq!(hits.as_array().unwrap().len(), 2);
    // A page of hits, saying how many there are and how to see the next.
    let first = json(&[
        "incident",
        "indicator",
        "search",
        "login-micros0ft.example",
        "--limit",
        "1",
    ]);
    assert_eq!(first.as_array().unwrap().len(), 1, "{first}");
    let shown = ok(server.cli(
        &token,
        &[
            "incident",
            "indicator",
            "search",
            "login-micros0ft.example",
            "--limit",
            "1",
        ],
    ));
    assert!(
        shown.contains("INC-2") && shown.contains("hit 1 of 2") && shown.contains("--offset 1"),
        "{shown}"
    );
    // An incident's indicators, listed, and as values to sweep log files with
    // (`vigil hunt --search-file`).
    json(&["incident", "indicator", "add", "INC-2", "ip", "203.0.113.9"]);
    let listed = json(&["incident", "indicator", "list", "INC-2"]);
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let values = ok(server.cli(
        &token,
        &["incident", "indicator", "list", "INC-2", "--values"],
    ));
    assert_eq!(values, "login-micros0ft.example\n203.0.113.9\n");
    let iocs = dir.path().join("iocs.txt");
    std::fs::write(&iocs, &values).unwrap();
    let logs = dir.path().join("proxy.jsonl");
    std::fs::write(
        &logs,
        "{\"dst\": \"203.0.113.9\"}\n{\"dst\": \"198.51.100.1\"}\n",
    )
    .unwrap();
    let swept = ok(run(&[
        "hunt",
        "--search-file",
        iocs.to_str().unwrap(),
        "--format",
        "csv",
        logs.to_str().unwrap(),
    ]));
    assert!(
        swept.contains(",Search: 203.0.113.9,") && swept.lines().count() == 2,
        "{swept}"
    );
    let related = json(&["incident", "related", "INC-1"]);
    assert_eq!(related["suggestions"][0]["key"], "INC-2");
    assert_eq!(related["suggestions_total"], 1);
    let shown = ok(server.cli(&token, &["incident", "related", "INC-1"]));
    assert!(
        shown.contains("INC-2")
            && shown.contains("detection")
            && shown.contains("1 of 1 suggestion"),
        "{shown}"
    );
    json(&["incident", "link", "INC-1", "INC-2", "--note", "same kit"]);
    let related = json(&["incident", "related", "INC-1"]);
    assert_eq!(related["links"][0]["note"], "same kit");
    assert!(related["suggestions"].as_array().unwrap().is_empty());
    // Unlinked, --json gives the state after: no link, a suggestion again.
    let unlinked = json(&["incident", "unlink", "INC-1", "INC-2"]);
    assert!(
        unlinked["links"].as_array().unwrap().is_empty(),
        "{unlinked}"
    );
    assert_eq!(unlinked["suggestions"][0]["key"], "INC-2", "{unlinked}");
    json(&["incident", "link", "INC-1", "INC-2", "--note", "same kit"]);

    let sev = json(&[
        "incident",
        "severity",
        "INC-1",
        "SEV2",
        "--reason",
        "payroll admin among them",
    ]);
    assert_eq!(sev["severity_history"][1]["actor"], "rita");
    assert_eq!(
        sev["severity_history"][1]["reason"],
        "payroll admin among them"
    );
    assert_eq!(sev["priority"], "P2");
    assert_eq!(sev["priority_history"][0]["from"], "P3");
    assert_eq!(sev["priority_history"][0]["actor"], "rita");
    // `show` lists each move of the priority with who made it and what moved it.
    let shown = ok(server.cli(&token, &["incident", "show", "INC-1"]));
    assert!(
        shown.contains("P3 → P2")
            && shown.contains("severity SEV3 → SEV2 (payroll admin among them)"),
        "{shown}"
    );

    json(&[
        "incident",
        "log",
        "add",
        "INC-1",
        "disabled both accounts",
        "--kind",
        "containment",
    ]);
    // The log holds what was done and, with who and when, the changes to the record: the
    // links made and removed here.
    let log = json(&["incident", "log", "list", "INC-1"]);
    let entries: Vec<(&str, &str, &str)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap(),
                e["kind"].as_str().unwrap(),
                e["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(entries.len(), 4, "{entries:?}");
    assert_eq!(entries[0], ("rita", "change", "linked to INC-2: same kit"));
    assert!(
        entries[1]
            .2
            .starts_with("unlinked from INC-2 (linked by rita at "),
        "{entries:?}"
    );
    assert_eq!(
        entries[3],
        ("rita", "containment", "disabled both accounts")
    );
    // Changes made after are logged too; `log add` takes no `change` of its own.
    json(&[
        "incident",
        "update",
        "INC-2",
        "--title",
        "Second phish",
        "--tlp",
        "red",
    ]);
    let log = json(&["incident", "log", "list", "INC-2"]);
    let last = &log["items"][log["total"].as_u64().unwrap() as usize - 1];
    assert_eq!(
        (&last["actor"], &last["kind"], &last["text"]),
        (
            &serde_json::json!("rita"),
            &serde_json::json!("change"),
            &serde_json::json!("title \"Second\" → \"Second phish\"; TLP amber → red")
        ),
        "{log}"
    );
    let refused = server.cli(
        &token,
        &["incident", "log", "add", "INC-2", "x", "--kind", "change"],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("kind") && stderr.contains("written by Vigil"),
        "{stderr}"
    );

    let file = dir.path().join("phish.eml");
    std::fs::write(&file, b"Subject: Password expiry\r\n\r\nClick here.").unwrap();
    let ev = json(&[
        "incident",
        "evidence",
        "add",
        "INC-1",
        file.to_str().unwrap(),
        "--description",
        "as received",
    ]);
    let id = ev["id"].as_str().unwrap().to_owned();
    let ev = json(&[
        "incident",
        "evidence",
        "custody",
        "INC-1",
        &id,
        "--action",
        "transferred",
        "--reason",
        "to legal",
    ]);
    let custody = ev["custody"].as_array().unwrap();
    assert_eq!(custody.len(), 2);
    assert_eq!(custody[1]["action"], "transferred");
    // A name is refused for the rule it breaks; one taken from the file says so and how to
    // give another.
    let refused = server.cli(
        &token,
        &[
            "incident",
            "evidence",
            "add",
            "INC-1",
            file.to_str().unwrap(),
            "--name",
            "..",
        ],
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("`..` names a folder"), "{stderr}");
    let backslash = dir.path().join("mail\\copy.eml");
    std::fs::write(&backslash, b"x").unwrap();
    let refused = server.cli(
        &token,
        &[
            "incident",
            "evidence",
            "add",
            "INC-1",
            backslash.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("path separator `\\`") && stderr.contains("with --name"),
        "{stderr}"
    );
    // The `declared` milestone is the confirmation, not the opening: an incident in detection
    // says what sets it.
    let shown = ok(server.cli(&token, &["incident", "show", "INC-2"]));
    assert!(
        shown.contains("- (set when analysis confirms it: analysis → containment)"),
        "{shown}"
    );

    // Notes holding a control character are refused, naming the field.
    let refused = server.cli(
        &token,
        &[
            "incident",
            "update",
            "INC-1",
            "--personal-data",
            "--data-notes",
            "sent to \u{1b}[2Jpartner",
        ],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("data_impact.notes"),
        "{refused:?}"
    );
    let updated = json(&[
        "incident",
        "update",
        "INC-1",
        "--personal-data",
        "--data-disclosed",
        "--data-notes",
        "payslips of 2 users\nsent to partner",
    ]);
    assert_eq!(updated["data_impact"]["personal_data"], true);
    assert_eq!(updated["data_impact"]["disclosed"], true);
    assert_eq!(updated["data_impact"]["assessed_by"], "rita");
    assert_eq!(updated["priority"], "P1");
    // `show` gives the notes, escaped, and when the assessment was made, in VIGIL_TIMEZONE.
    let assessed_at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(updated["data_impact"]["assessed_at"].clone()).unwrap();
    let in_tokyo = (assessed_at + chrono::Duration::hours(9)).format("%Y-%m-%d %H:%M:%S");
    let shown = ok(server
        .command(&token, &["incident", "show", "INC-1"])
        .env("VIGIL_TIMEZONE", "Asia/Tokyo")
        .output()
        .unwrap());
    for needle in [
        format!("(assessed by rita at {in_tokyo} Asia/Tokyo)"),
        "notes: payslips of 2 users".to_owned(),
        "sent to partner".to_owned(),
    ] {
        assert!(shown.contains(&needle), "{needle} missing from\n{shown}");
    }
    // An empty value clears the category and the lists, as `null` and `[]` do over the API.
    let cleared = json(&[
        "incident",
        "update",
        "INC-1",
        "--category",
        "",
        "--service",
        "",
        "--attack",
        "",
    ]);
    assert!(cleared["category"].is_null(), "{cleared}");
    assert_eq!(cleared["services"], serde_json::json!([]));
    assert_eq!(cleared["techniques"], serde_json::json!([]));
    assert_eq!(cleared["tenants"], serde_json::json!(["contoso"]));
    // And the root cause, before recovery (from there on its guard needs one).
    let with_cause = json(&["incident", "update", "INC-1", "--root-cause", "phishing"]);
    assert_eq!(with_cause["root_cause"], "phishing");
    let cleared = json(&["incident", "update", "INC-1", "--root-cause", ""]);
    assert!(cleared["root_cause"].is_null(), "{cleared}");
    let corrected = json(&[
        "incident",
        "timestamp",
        "INC-1",
        "first_activity",
        "2026-01-01T08:00:00Z",
        "--reason",
        "proxy logs",
    ]);
    assert_eq!(
        corrected["timestamp_corrections"][0]["reason"],
        "proxy logs"
    );

    for phase in ["analysis", "containment", "eradication"] {
        json(&["incident", "phase", "INC-1", phase]);
    }
    // The refusal names the guard and what to do.
    let refused = server.cli(&token, &["incident", "phase", "INC-1", "recovery"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("root_cause_before_recovery"), "{stderr}");
    json(&[
        "incident",
        "phase",
        "INC-1",
        "recovery",
        "--root-cause",
        "no phishing-resistant MFA",
    ]);
    json(&["incident", "phase", "INC-1", "post_incident"]);
    let refused = server.cli(&token, &["incident", "phase", "INC-1", "closed"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    // Each guard on a line of its own with what satisfies it here; no pointer to the API's
    // `guards` field.
    assert!(
        stderr.starts_with(
            "error: the phase change was refused:\n  - guard `post_mortem_before_close`: "
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("see `guards`"), "{stderr}");
    json(&[
        "incident",
        "post-mortem",
        "INC-1",
        "--summary",
        "MFA rolled out to payroll",
    ]);
    // A summary alone does not close a SEV2: the refusal says how to classify what contributed.
    let refused = server.cli(&token, &["incident", "phase", "INC-1", "closed"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("guard `post_mortem_classified`") && stderr.contains("--factor KIND:TEXT"),
        "{stderr}"
    );
    let pm = json(&[
        "incident",
        "post-mortem",
        "INC-1",
        "--summary",
        "MFA rolled out to payroll",
        "--factor",
        "technical_lapse:no phishing-resistant MFA",
        "--participant",
        "privacy_expert:priya:privacy office",
        "--went-badly",
        "no revocation runbook",
        "--detection",
        "alert on MFA fatigue",
        "--sigma-rule",
        "5af54681-df95-4c26-854f-2565e13cfab0",
    ]);
    assert_eq!(
        pm["post_mortem"]["contributing_factors"][0]["kind"],
        "technical_lapse"
    );
    assert_eq!(
        pm["post_mortem"]["detection_improvements"][0]["sigma_rules"][0],
        "5af54681-df95-4c26-854f-2565e13cfab0"
    );
    assert_eq!(
        pm["post_mortem_history"][0]["summary"],
        "MFA rolled out to payroll"
    );
    let closed = json(&["incident", "phase", "INC-1", "closed"]);
    assert_eq!(closed["phase"], "closed");
    assert!(closed["timestamps"]["closed"].is_string());

    for n in 1..=5 {
        json(&["incident", "log", "add", "INC-1", &format!("lesson {n}")]);
    }
    // The human view shows the record, with computed durations, and the latest actions.
    let shown = ok(server.cli(&token, &["incident", "show", "INC-1"]));
    for needle in [
        "no phishing-resistant MFA",
        "time to contain",
        "assessed by rita",
        "MFA rolled out to payroll",
        "LATEST ACTIONS",
        "lesson 5",
        "factor technical_lapse: no phishing-resistant MFA",
        "11 earlier: vigil incident log list INC-1",
    ] {
        assert!(shown.contains(needle), "{needle} missing from\n{shown}");
    }
    assert!(!shown.contains("disabled both accounts"), "{shown}");
    // A correction says when it was made, as the other histories do.
    assert!(
        shown
            .lines()
            .any(|l| l.contains("CORRECTED") && l.contains("WHY") && l.contains("WHEN")),
        "{shown}"
    );
    drop(server);
    let verified = ok(run(&["audit", "verify", "--data", data.to_str().unwrap()]));
    assert!(verified.starts_with("OK: "), "{verified}");
}

/// Two responders recording data impact at once: each CLI sends the flags it was given and
/// the server applies them to the assessment as it stands, so both stay (the CLI once read
/// the assessment, merged and sent it back whole, and the later write dropped the other's
/// flag, breach included). Services added at once both stay too.
#[test]
fn flags_and_services_given_at_once_by_two_responders_both_stay() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rita = admin_token(&data, "responder", "rita");
    let sam = admin_token(&data, "responder", "sam");
    let server = Server::start(&data);
    for n in 1..=5 {
        let key = format!("INC-{n}");
        ok(server.cli(
            &rita,
            &[
                "incident",
                "open",
                "--title",
                "t",
                "--summary",
                "s",
                "--service",
                "payroll",
            ],
        ));
        let at_once = [
            server
                .command(
                    &rita,
                    &[
                        "incident",
                        "update",
                        &key,
                        "--customer-data",
                        "--add-service",
                        "crm",
                    ],
                )
                .spawn()
                .unwrap(),
            server
                .command(
                    &sam,
                    &[
                        "incident",
                        "update",
                        &key,
                        "--data-destroyed",
                        "--add-service",
                        "mail",
                    ],
                )
                .spawn()
                .unwrap(),
        ];
        for child in at_once {
            ok(child.wait_with_output().unwrap());
        }
        let shown: serde_json::Value =
            serde_json::from_str(&ok(server.cli(&rita, &["incident", "show", &key, "--json"])))
                .unwrap();
        let impact = &shown["data_impact"];
        assert_eq!(
            (&impact["customer_data"], &impact["destroyed"]),
            (&serde_json::json!(true), &serde_json::json!(true)),
            "{key}: {impact}"
        );
        let mut services: Vec<&str> = shown["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        services.sort();
        assert_eq!(services, ["crm", "mail", "payroll"], "{key}");
    }
    // Notes are set and cleared on their own; a service is removed by name.
    let json = |args: &[&str]| -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&ok(server.cli(&rita, &all))).unwrap()
    };
    let noted = json(&[
        "incident",
        "update",
        "INC-1",
        "--data-notes",
        "customer table",
    ]);
    assert_eq!(noted["data_impact"]["notes"], "customer table");
    assert_eq!(noted["data_impact"]["destroyed"], true);
    let cleared = json(&[
        "incident",
        "update",
        "INC-1",
        "--data-notes",
        "",
        "--remove-service",
        "payroll",
    ]);
    assert!(cleared["data_impact"]["notes"].is_null(), "{cleared}");
    assert_eq!(
        cleared["services"].as_array().map(Vec::len),
        Some(2),
        "{cleared}"
    );
    assert!(
        !cleared["services"].to_string().contains("payroll"),
        "{cleared}"
    );
    // Removing one the incident lacks is refused, naming the flag's field.
    let refused = server.cli(
        &rita,
        &["incident", "update", "INC-1", "--remove-service", "payroll"],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("remove_services") && stderr.contains("payroll"),
        "{stderr}"
    );
}

#[test]
fn audit_verify_creates_nothing_for_a_wrong_directory() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("typo");
    let expected = format!(
        "error: no Vigil data directory at {}: give the --data directory that `vigil serve` uses (default ./vigil-data)\n",
        missing.display()
    );
    for args in [&["audit", "verify"][..], &["admin", "tokens"][..]] {
        let out = run(&[args, &["--data", missing.to_str().unwrap()]].concat());
        assert!(!out.status.success());
        // One plain sentence: not the "does not exist; check the key or id" of a record.
        assert_eq!(String::from_utf8_lossy(&out.stderr), expected, "{args:?}");
        assert!(
            !missing.exists(),
            "a read-only command created the directory"
        );
    }
}

#[test]
fn a_data_directory_that_is_a_file_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vigil-data");
    std::fs::write(&file, "not a directory").unwrap();
    let out = run(&[
        "admin",
        "token",
        "--data",
        file.to_str().unwrap(),
        "--role",
        "admin",
        "--name",
        "ann",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is a file, not a directory"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a directory");
}

/// A download stopped by Ctrl-C or a kill (SIGINT, SIGTERM) removes its hidden part file and
/// ends with the signal's exit code (128 + its number), nothing written at `--output`. The
/// server here sends the headers and a first piece, then holds the download open.
#[cfg(unix)]
#[test]
fn an_interrupted_evidence_download_leaves_no_part_file() {
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
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: 1000000\r\nx-vigil-sha256: {}\r\n\r\n",
                "0".repeat(64)
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(&[7u8; 4096]).unwrap();
            stream.flush().unwrap();
            // Held open until the client goes: the download never ends on its own.
            let _ = reader.fill_buf();
        });
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("mail.eml");
        let child = crate::support::vigil()
            .args([
                "incident",
                "evidence",
                "get",
                "INC-1",
                "0190a1b2-0000-7000-8000-000000000001",
                "--output",
                output.to_str().unwrap(),
                "--server",
                &url,
                "--token",
                "vgl_test",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let part = dir.path().join(format!(".mail.eml.part-{}", child.id()));
        crate::support::wait_for("the part file", || {
            std::fs::metadata(&part).is_ok_and(|m| m.len() > 0)
        });
        let killed = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{signal}: {stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        assert!(!part.exists(), "{signal} left the part file");
        assert!(!output.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

/// A file over the server's evidence limit is refused with the limit and what to do, not as
/// an unreachable server; a download streams to its file and leaves no part file behind.
#[test]
fn evidence_over_the_limit_is_refused_by_size_and_downloads_stream_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start_with(&data, &["--max-evidence-bytes", "3000000"]);
    ok(server.cli(
        &token,
        &["incident", "open", "--title", "t", "--summary", "s"],
    ));
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 5_000_000]).unwrap();
    let add = |file: &std::path::Path| {
        server.cli(
            &token,
            &[
                "incident",
                "evidence",
                "add",
                "INC-1",
                file.to_str().unwrap(),
                "--json",
            ],
        )
    };
    let refused = add(&big);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr
            .contains("is 5000000 bytes, more than this server takes as evidence (3000000 bytes)")
            && stderr.contains("--max-evidence-bytes"),
        "{stderr}"
    );
    assert!(!stderr.contains("could not reach"), "{stderr}");

    let fits = dir.path().join("fits.bin");
    let content: Vec<u8> = (0..2_500_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&fits, &content).unwrap();
    let ev: serde_json::Value = serde_json::from_str(&ok(add(&fits))).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let got = out.join("back.bin");
    let shown = ok(server.cli(
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
    assert!(shown.contains("2500000 bytes"), "{shown}");
    assert!(std::fs::read(&got).unwrap() == content);
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from("back.bin")]);
}

/// A download whose file cannot be written stops before the server is asked, so the chain of
/// custody records no download that never reached disk; `--output -` writes the evidence to
/// standard output (no file named `-`) with the summary on standard error.
#[test]
fn evidence_get_checks_the_destination_first_and_writes_dash_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start(&data);
    ok(server.cli(
        &token,
        &["incident", "open", "--title", "t", "--summary", "s"],
    ));
    let file = dir.path().join("mail.eml");
    let content = b"From: attacker@example.net\r\n\r\n\x00\xffbinary";
    std::fs::write(&file, content).unwrap();
    let ev = ok(server.cli(
        &token,
        &[
            "incident",
            "evidence",
            "add",
            "INC-1",
            file.to_str().unwrap(),
            "--json",
        ],
    ));
    let ev: serde_json::Value = serde_json::from_str(&ev).unwrap();
    let id = ev["id"].as_str().unwrap();
    let custody = || {
        let shown = ok(server.cli(
            &token,
            &["incident", "evidence", "show", "INC-1", id, "--json"],
        ));
        let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
        shown["custody"].as_array().unwrap().len()
    };
    let before = custody();

    let missing = dir.path().join("nodir").join("x.eml");
    let refused = server.cli(
        &token,
        &[
            "incident",
            "evidence",
            "get",
            "INC-1",
            id,
            "-o",
            missing.to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("create the directory"), "{stderr}");
    assert_eq!(
        custody(),
        before,
        "a download that was never written is in the custody"
    );

    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let piped = server
        .command(
            &token,
            &["incident", "evidence", "get", "INC-1", id, "-o", "-"],
        )
        .current_dir(&work)
        .output()
        .unwrap();
    assert!(
        piped.status.success(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    assert_eq!(piped.stdout, content);
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(
        stderr.contains("standard output") && stderr.contains("verified"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(&work).unwrap().count(),
        0,
        "a file was written"
    );
    assert_eq!(custody(), before + 1);
}

/// A directory given as evidence is said to be one, not an unreachable server nor a size over
/// the limit.
#[test]
fn a_directory_given_as_evidence_is_refused_as_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    for extra in [&[][..], &["--max-evidence-bytes", "50"][..]] {
        let server = Server::start_with(&data, extra);
        if extra.is_empty() {
            ok(server.cli(
                &token,
                &["incident", "open", "--title", "t", "--summary", "s"],
            ));
        }
        let refused = server.cli(
            &token,
            &[
                "incident",
                "evidence",
                "add",
                "INC-1",
                folder.to_str().unwrap(),
            ],
        );
        assert!(!refused.status.success());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains(&format!("{} is a directory; give a file", folder.display())),
            "{stderr}"
        );
        assert!(
            !stderr.contains("could not reach") && !stderr.contains("bytes"),
            "{stderr}"
        );
    }
}

/// VIGIL_SERVER and VIGIL_TOKEN are used, but an argument error's usage line lists only what
/// must be typed, not `--server` and `--token` as if they had to be; --help documents both.
#[test]
fn the_server_and_token_from_the_environment_are_not_in_the_usage_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start(&data);
    let with_env = |args: &[&str]| {
        crate::support::vigil()
            .args(args)
            .env("VIGIL_SERVER", &server.url)
            .env("VIGIL_TOKEN", &token)
            .output()
            .unwrap()
    };
    let refused = with_env(&["incident", "open", "--title", "x"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("Usage: vigil incident open --title <TITLE> --summary <SUMMARY>\n"),
        "{stderr}"
    );
    ok(with_env(&[
        "incident",
        "open",
        "--title",
        "x",
        "--summary",
        "s",
    ]));
    assert!(ok(with_env(&["incident", "list"])).contains("INC-1"));
    // A flag wins over the environment.
    let elsewhere = with_env(&["incident", "list", "--server", "http://127.0.0.1:1"]);
    assert!(String::from_utf8_lossy(&elsewhere.stderr).contains("could not reach"));
    let help = ok(run(&["incident", "open", "--help"]));
    assert!(
        help.contains("--server <URL>")
            && help.contains("VIGIL_SERVER")
            && help.contains("VIGIL_TOKEN"),
        "{help}"
    );
}

/// `--created-from`/`--created-to` take the times `vigil search --from` takes (a date,
/// `YYYY-MM-DD HH:MM`, `now-24h`).
#[test]
fn incident_list_reads_times_as_search_does() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start(&data);
    ok(server.cli(
        &token,
        &["incident", "open", "--title", "t", "--summary", "s"],
    ));
    let count = |args: &[&str]| {
        let mut all = vec!["incident", "list", "--json"];
        all.extend_from_slice(args);
        let page: serde_json::Value = serde_json::from_str(&ok(server.cli(&token, &all))).unwrap();
        page["items"].as_array().unwrap().len()
    };
    assert_eq!(count(&["--created-from", "2026-01-01"]), 1);
    assert_eq!(count(&["--created-from", "2026-01-01 09:30"]), 1);
    assert_eq!(count(&["--created-from", "now-1h"]), 1);
    assert_eq!(count(&["--created-to", "2026-01-01"]), 0);
    assert_eq!(count(&["--created-from", "now+1h"]), 0);
    let refused = server.cli(&token, &["incident", "list", "--created-from", "yesterday"]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("'yesterday' for '--created-from")
            && stderr.contains("not a time")
            && stderr.contains("now-24h"),
        "{stderr}"
    );
    // A window that holds no time is an argument mistake (exit 2), as `vigil search` says.
    let swapped = server.cli(
        &token,
        &[
            "incident",
            "list",
            "--created-from",
            "now-1h",
            "--created-to",
            "now-2h",
        ],
    );
    assert_eq!(swapped.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&swapped.stderr).contains("swapped?"),
        "{swapped:?}"
    );
}

/// Every value a command cannot take ends the run with exit status 2, as clap does for its own
/// refusals, before any request: the message names the flag (or the argument) and what it
/// takes, never only the API's field. Each case: the arguments, and what stderr must say.
#[test]
fn a_bad_argument_value_is_an_argument_error_naming_its_flag() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("whoami.yml"), crate::support::RULE_WHOAMI).unwrap();
    let rules = rules.to_str().unwrap();
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start(&data);
    ok(server.cli(
        &token,
        &["incident", "open", "--title", "t", "--summary", "s"],
    ));
    let remote: &[(&[&str], &[&str])] = &[
        (
            &["incident", "list", "--severity", "SEV9"],
            &["'--severity <SEVERITY>'", "SEV1"],
        ),
        (
            &["incident", "list", "--timeout", "18446744073709551615"],
            &["'--timeout <SECONDS>'", "604800"],
        ),
        (
            &["incident", "list", "--phase", "bogus"],
            &["'--phase <PHASE>'", "post_incident"],
        ),
        (
            &["incident", "list", "--priority", "P9"],
            &["'--priority <PRIORITY>'", "P4"],
        ),
        (
            &["incident", "list", "--category", "bogus"],
            &["'--category <CATEGORY>'", "malware"],
        ),
        (
            &["incident", "list", "--created-from", "bogus"],
            &["'--created-from <CREATED_FROM>'", "now-24h"],
        ),
        (
            &[
                "incident",
                "open",
                "--title",
                "t",
                "--summary",
                "s",
                "--tlp",
                "bogus",
            ],
            &["'--tlp <TLP>'", "amber_strict"],
        ),
        (
            &[
                "incident",
                "open",
                "--title",
                "t",
                "--summary",
                "s",
                "--severity",
                "SEV0",
            ],
            &["'--severity <SEVERITY>'", "SEV4"],
        ),
        (
            &[
                "incident",
                "open",
                "--title",
                "t",
                "--summary",
                "s",
                "--indicator",
                "bogus",
            ],
            &["'--indicator <KIND:VALUE>'", "ip:203.0.113.7"],
        ),
        (
            &[
                "incident",
                "open",
                "--title",
                "t",
                "--summary",
                "s",
                "--first-activity",
                "bogus",
            ],
            &["'--first-activity <FIRST_ACTIVITY>'", "now-24h"],
        ),
        (
            &[
                "incident",
                "indicator",
                "add",
                "INC-1",
                "bogus",
                "203.0.113.7",
            ],
            &["'<KIND>'", "user_account", "hash"],
        ),
        (
            &[
                "incident",
                "open",
                "--title",
                "t",
                "--summary",
                "s",
                "--indicator",
                "ipv4:203.0.113.7",
            ],
            &["'--indicator <KIND:VALUE>'", "user_account", "hash"],
        ),
        (
            &["incident", "update", "INC-1", "--pap", "bogus"],
            &["'--pap <PAP>'", "amber"],
        ),
        (
            &["incident", "severity", "INC-1", "SEV9", "--reason", "r"],
            &["'<SEVERITY>'", "SEV1"],
        ),
        (
            &["incident", "phase", "INC-1", "bogus"],
            &["'<PHASE>'", "containment"],
        ),
        (
            &[
                "incident",
                "timestamp",
                "INC-1",
                "bogus",
                "now",
                "--reason",
                "r",
            ],
            &["'<WHICH>'", "first_activity"],
        ),
        (
            &[
                "incident",
                "timestamp",
                "INC-1",
                "first_activity",
                "bogus",
                "--reason",
                "r",
            ],
            &["'<AT>'", "none"],
        ),
        (
            &["incident", "log", "add", "INC-1", "text", "--kind", "bogus"],
            &["'--kind <KIND>'", "containment"],
        ),
        (
            &["incident", "indicator", "search", "x", "--kind", "bogus"],
            &["'--kind <KIND>'", "sha256"],
        ),
        (
            &["alerts", "list", "--status", "bogus"],
            &["'--status <STATUS>'", "acknowledged"],
        ),
        (
            &["alerts", "list", "--source", "bogus"],
            &["'--source <SOURCE>'", "monitor"],
        ),
        (
            &[
                "alerts", "dismiss", "ALR-1", "--kind", "bogus", "--reason", "r",
            ],
            &["'--kind <KIND>'", "false_positive"],
        ),
        (
            &["alerts", "declare", "ALR-1", "--category", "bogus"],
            &["'--category <CATEGORY>'", "malware"],
        ),
        (
            &["oncall", "who", "--team", "x", "--at", "bogus"],
            &["'--at <AT>'", "now-24h"],
        ),
        (
            &["oncall", "coverage", "--from", "bogus"],
            &["'--from <FROM>'", "now-24h"],
        ),
        (
            &["oncall", "coverage", "--days", "0"],
            &["'--days <DAYS>'", "1..=731"],
        ),
        (
            &["search", "*", "--since", "bogus"],
            &["'--since <SINCE>'", "24h"],
        ),
        (
            &["search", "*", "--from", "bogus"],
            &["'--from <FROM>'", "now-24h"],
        ),
        (
            &["search", "*", "--to", "2026-13-01"],
            &["'--to <TO>'", "now-24h"],
        ),
        (
            &["pivot", "203.0.113.7", "--since", "bogus"],
            &["'--since <SINCE>'", "24h"],
        ),
        (
            &["detections", "--after-id=-1"],
            &["'--after-id <AFTER_ID>'", "0.."],
        ),
        (
            &["detections", "--from", "bogus"],
            &["'--from <FROM>'", "now-24h"],
        ),
        (
            &["incident", "pivot", "INC-1", "--since", "bogus"],
            &["'--since <SINCE>'", "24h"],
        ),
        (
            &["search", "x | count by host", "--raw"],
            &["--raw", "leave out --raw or the aggregation"],
        ),
        (
            &["search", "x | count by host", "--fields", "host"],
            &["--fields", "leave out --fields"],
        ),
        (
            &["rules", "preview", rules, "--limit", "0"],
            &["'--limit <LIMIT>'", "from 1 to 1000"],
        ),
        (
            &["rules", "preview", rules, "--max-events", "0"],
            &["'--max-events <MAX_EVENTS>'", "10000000"],
        ),
        (
            &["rules", "preview", rules, "--from", "bogus"],
            &["'--from <FROM>'", "now-24h"],
        ),
    ];
    let data_dir = data.to_str().unwrap();
    let local: &[(&[&str], &[&str])] = &[
        (
            &[
                "admin", "token", "--data", data_dir, "--role", "bogus", "--name", "n",
            ],
            &["'--role <ROLE>'", "responder"],
        ),
        (
            &[
                "admin",
                "token",
                "--data",
                data_dir,
                "--role",
                "viewer",
                "--name",
                "n",
                "--service",
                "s",
            ],
            &["--service", "--role ingest"],
        ),
        (&["bench", "detect", "-r", rules], &["--events", "--evtx"]),
    ];
    let runs = remote
        .iter()
        .map(|(args, says)| (server.cli(&token, args), *args, *says))
        .chain(local.iter().map(|(args, says)| (run(args), *args, *says)));
    for (out, args, says) in runs {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        for needle in says {
            assert!(
                stderr.contains(needle),
                "{args:?}: {needle} missing from {stderr}"
            );
        }
        for field in [
            "`limit`",
            "`days`",
            "`from`",
            "`to`",
            "`max_events`",
            "(field `",
        ] {
            assert!(
                !stderr.contains(field),
                "{args:?} names an API field: {stderr}"
            );
        }
    }
    // None of them reached the server: the one incident is the one opened above.
    let page: serde_json::Value =
        serde_json::from_str(&ok(server.cli(&token, &["incident", "list", "--json"]))).unwrap();
    assert_eq!(page["total"], 1, "{page}");
}

/// A `VIGIL_TIMEZONE` that names no zone is refused (exit 2, naming it) wherever a time the
/// user wrote without an offset would be read in it — never read in UTC and stored hours off —
/// and only warned about where it would show times; a --timezone given wins over it.
#[test]
fn a_bad_vigil_timezone_is_refused_where_it_would_read_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start(&data);
    ok(server.cli(
        &token,
        &["incident", "open", "--title", "t", "--summary", "s"],
    ));
    let with_zone = |zone: &str, args: &[&str]| {
        server
            .command(&token, args)
            .env("VIGIL_TIMEZONE", zone)
            .output()
            .unwrap()
    };
    let first_activity = || {
        let shown = ok(server.cli(&token, &["incident", "show", "INC-1", "--json"]));
        let inc: serde_json::Value = serde_json::from_str(&shown).unwrap();
        inc["timestamps"]["first_activity"].clone()
    };
    for args in [
        &[
            "incident",
            "timestamp",
            "INC-1",
            "first_activity",
            "2026-11-20 08:00",
            "--reason",
            "tz",
            "--json",
        ][..],
        &["incident", "list", "--created-from", "2026-11-20 08:00"][..],
        &[
            "incident",
            "open",
            "--title",
            "t",
            "--summary",
            "s",
            "--first-activity",
            "2026-11-20",
        ][..],
        &[
            "oncall",
            "who",
            "--team",
            "secops",
            "--at",
            "2026-11-20 08:00",
        ][..],
        &["oncall", "coverage", "--from", "2026-11-20"][..],
        &["search", "*", "--from", "2026-11-20 08:00"][..],
        &["pivot", "203.0.113.7", "--to", "2026-11-20 08:00"][..],
        &["detections", "--from", "2026-11-20"][..],
    ] {
        let refused = with_zone("Europe/Berln", args);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{args:?}: {stderr}");
        for needle in [
            "VIGIL_TIMEZONE",
            "\"Europe/Berln\"",
            "Europe/Berlin",
            "+01:00",
        ] {
            assert!(
                stderr.contains(needle),
                "{args:?}: {needle} missing from {stderr}"
            );
        }
        assert!(!stderr.contains("--timezone <ZONE>"), "{args:?}: {stderr}");
    }
    assert!(
        first_activity().is_null(),
        "a refused correction was recorded"
    );
    let incidents = ok(server.cli(&token, &["incident", "list", "--json"]));
    let incidents: serde_json::Value = serde_json::from_str(&incidents).unwrap();
    assert_eq!(incidents["total"], 1, "a refused open was recorded");
    // A time with its offset, or relative to now, needs no zone.
    ok(with_zone(
        "Europe/Berln",
        &[
            "incident",
            "timestamp",
            "INC-1",
            "first_activity",
            "2026-11-20T08:00:00+01:00",
            "--reason",
            "tz",
            "--json",
        ],
    ));
    assert_eq!(first_activity(), "2026-11-20T07:00:00Z");
    ok(with_zone(
        "Europe/Berln",
        &["incident", "list", "--created-from", "now-1h", "--json"],
    ));
    // --timezone wins over the environment; a bad one is named as the flag.
    ok(with_zone(
        "Europe/Berln",
        &[
            "search",
            "*",
            "--from",
            "2026-11-20 08:00",
            "--timezone",
            "Europe/Berlin",
        ],
    ));
    let flag = with_zone("UTC", &["search", "*", "--timezone", "Europe/Berln"]);
    assert_eq!(flag.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&flag.stderr).contains("'--timezone <ZONE>'"),
        "{flag:?}"
    );
    // Where it only shows times: a warning, once, and the times in UTC.
    for args in [
        &["incident", "list"][..],
        &["alerts", "list"][..],
        &["incident", "show", "INC-1"][..],
        // A search that finds nothing shows no time, but the next one would: said all the same.
        &["search", "no-such-word-anywhere"][..],
    ] {
        let shown = with_zone("Europe/Berln", args);
        let stderr = String::from_utf8_lossy(&shown.stderr);
        assert!(shown.status.success(), "{args:?}: {stderr}");
        assert_eq!(
            stderr
                .matches("warning: VIGIL_TIMEZONE: unknown time zone \"Europe/Berln\"")
                .count(),
            1,
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains("times are shown in UTC"),
            "{args:?}: {stderr}"
        );
    }
    // A zone that is one reads the wall-clock time there.
    ok(with_zone(
        "Europe/Berlin",
        &[
            "incident",
            "timestamp",
            "INC-1",
            "first_activity",
            "2026-11-20 08:00",
            "--reason",
            "tz",
        ],
    ));
    assert_eq!(first_activity(), "2026-11-20T07:00:00Z");
}

/// `--limit 0` is refused (exit 2) by every listing command, not read as the server's default.
#[test]
fn listing_commands_refuse_limit_zero() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start(&data);
    for args in [
        &["incident", "list", "--limit", "0"][..],
        &["incident", "log", "list", "INC-1", "--limit", "0"][..],
        &["alerts", "list", "--limit", "0"][..],
        &["detections", "--limit", "0"][..],
        &["search", "*", "--limit", "0"][..],
    ] {
        let refused = server.cli(&token, args);
        assert_eq!(refused.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains("0 shows nothing"), "{args:?}: {stderr}");
    }
}

/// `vigil alerts list` reaches every alert: the footer says how many more there are and the
/// `--offset` that shows them; `--rule` narrows to one rule's alerts.
#[test]
fn alerts_list_pages_on_with_offset_and_filters_by_rule() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start(&data);
    crate::support::runtime().block_on(async {
        let http = reqwest::Client::new();
        for n in 0..5 {
            let status = http
                .post(format!("{}/api/v1/alerts", server.url))
                .bearer_auth(&token)
                .json(&serde_json::json!({"title": format!("beacon {n}"), "severity": "SEV3", "source": "edr", "service": "app"}))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 201);
        }
    });
    let first = ok(server.cli(&token, &["alerts", "list", "--limit", "2"]));
    assert!(
        first.contains("ALR-5") && !first.contains("ALR-3"),
        "{first}"
    );
    assert!(
        first.contains("alerts 1–2 of 5, newest first; 3 more: --offset 2"),
        "{first}"
    );
    let last = ok(server.cli(&token, &["alerts", "list", "--limit", "2", "--offset", "4"]));
    assert!(last.contains("ALR-1") && !last.contains("ALR-2"), "{last}");
    assert!(last.contains("alert 5 of 5, newest first"), "{last}");
    assert!(!last.contains("more:"), "{last}");
    let past = ok(server.cli(&token, &["alerts", "list", "--offset", "9"]));
    assert!(
        past.contains("--offset 9 is past the last of 5 alerts"),
        "{past}"
    );
    let json = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["alerts", "list", "--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&ok(server.cli(&token, &all))).unwrap()
    };
    assert_eq!(
        json(&["--offset", "3"])["items"].as_array().unwrap().len(),
        2
    );
    assert_eq!(json(&["--rule", "no-such-rule"])["total"], 0);
    assert_eq!(json(&[])["total"], 5);
}

/// `vigil alerts list` says each alert's tenant and `--tenant` keeps one tenant's; `alerts
/// show` names it: two tenants' alerts of the same rule on the same host name are told apart.
#[test]
fn alerts_list_and_show_say_the_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("r.yml"),
        "title: Mimikatz\nid: 0d894093-71bc-43c3-8c4d-ecfa28dcadcc\nlogsource:\n  product: linux\ndetection:\n  selection:\n    command|contains: mimikatz\n  condition: selection\nlevel: high\n",
    )
    .unwrap();
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start_with(&data, &["--rules", rules.to_str().unwrap()]);
    crate::support::runtime().block_on(async {
        let http = reqwest::Client::new();
        for tenant in ["acme", "globex"] {
            let status = http
                .post(format!(
                    "{}/api/v1/events?service=web&host=web-a1&tenant={tenant}",
                    server.url
                ))
                .bearer_auth(&token)
                .body("{\"command\":\"mimikatz.exe\"}")
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200);
        }
    });
    let listed = ok(server.cli(&token, &["alerts", "list"]));
    let header = listed.lines().find(|l| l.contains("KEY")).unwrap();
    assert!(
        header.contains("SERVICE") && header.contains("TENANT"),
        "{listed}"
    );
    let row = |key: &str| {
        listed
            .lines()
            .find(|l| l.contains(key))
            .unwrap_or_else(|| panic!("no {key}: {listed}"))
            .to_owned()
    };
    assert!(row("ALR-1").contains("acme"), "{listed}");
    assert!(row("ALR-2").contains("globex"), "{listed}");
    let globex = ok(server.cli(&token, &["alerts", "list", "--tenant", "globex"]));
    assert!(
        globex.contains("ALR-2") && !globex.contains("ALR-1"),
        "{globex}"
    );
    let shown = ok(server.cli(&token, &["alerts", "show", "ALR-1"]));
    assert!(shown.lines().any(|l| l == "tenant: acme"), "{shown}");
}

/// `vigil pivot --limit` outside 0–1000, the range its help gives, is refused by the command
/// (exit 2) before any request, as the other commands refuse theirs; 0 (counts and timeline
/// only) is taken.
#[test]
fn pivot_refuses_a_limit_outside_its_range() {
    let refused = run(&["pivot", "10.0.0.5", "--limit", "1001"]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("give a number from 0 to 1000"), "{stderr}");
    let help = ok(run(&["pivot", "--help"]));
    assert!(help.contains("0–1000"), "{help}");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start(&data);
    let counted = ok(server.cli(&token, &["pivot", "10.0.0.5", "--limit", "0", "--json"]));
    let counted: serde_json::Value = serde_json::from_str(&counted).unwrap();
    assert_eq!(counted["total"], 0, "{counted}");
}

/// A second `vigil serve` on a data directory a server is using stops at once, naming the
/// first one's process id and what to do — and never advises deleting the live index — while
/// the commands meant to run beside a server (`admin token`, `admin tokens`, `audit verify`)
/// still work; once the first server is gone, the directory serves again.
#[test]
fn a_second_server_on_the_same_data_directory_is_refused_with_the_first_ones_pid() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start(&data);
    let second = crate::support::vigil()
        .args(["serve", "--data", data.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    let expected = format!(
        "another Vigil server is already using {} (pid {}); stop it or give another --data",
        data.display(),
        server.child.id()
    );
    assert!(err.contains(&expected), "{err}");
    assert!(!err.contains("delete"), "{err}");
    admin_token(&data, "viewer", "bob");
    let listed = ok(run(&["admin", "tokens", "--data", data.to_str().unwrap()]));
    assert!(listed.contains("bob"), "{listed}");
    let verified = ok(run(&["audit", "verify", "--data", data.to_str().unwrap()]));
    assert!(verified.starts_with("OK: "), "{verified}");
    let health = server.cli(&token, &["incident", "list"]);
    assert!(health.status.success());
    drop(server);
    let again = Server::start(&data);
    ok(again.cli(&token, &["incident", "list"]));
}

/// A loopback listener that accepts every connection, keeps it open and never answers; what
/// each request's head said is kept, in order.
fn silent_server() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = heads.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { break };
            socket
                .set_read_timeout(Some(std::time::Duration::from_millis(500)))
                .unwrap();
            let mut head = vec![0u8; 64 * 1024];
            let n = socket.read(&mut head).unwrap_or(0);
            seen.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head[..n]).into_owned());
            held.push(socket);
        }
    });
    (url, heads)
}

#[test]
fn client_commands_give_up_on_a_server_that_never_answers() {
    let (url, heads) = silent_server();
    let out = run(&[
        "incident",
        "list",
        "--server",
        &url,
        "--token",
        "vgl_x",
        "--timeout",
        "1",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("did not answer in time (nothing came for 1 s)")
            && stderr.contains("--timeout SECONDS or VIGIL_TIMEOUT"),
        "{stderr}"
    );

    // `vigil ingest` sends the batch again under the same key (the server may have stored
    // it), then stops saying that it may have been stored.
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("app.jsonl");
    std::fs::write(&logs, "{\"a\":1}\n").unwrap();
    heads.lock().unwrap().clear();
    let out = crate::support::vigil()
        .args(["ingest", logs.to_str().unwrap(), "--service", "w"])
        .args(["--server", &url, "--token", "vgl_x"])
        .env("VIGIL_TIMEOUT", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("did not answer in time (nothing came for 1 s)")
            && stderr.contains("the batch in flight (1 event) may have been stored"),
        "{stderr}"
    );
    let keys: Vec<String> = heads
        .lock()
        .unwrap()
        .iter()
        .filter_map(|head| {
            head.lines()
                .find_map(|l| l.strip_prefix("idempotency-key: "))
                .map(str::to_owned)
        })
        .collect();
    assert!(keys.len() > 1, "sent once only: {keys:?}");
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");

    let out = crate::support::vigil()
        .args(["incident", "list", "--server", &url, "--token", "vgl_x"])
        .env("VIGIL_TIMEOUT", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("VIGIL_TIMEOUT=\"0\""), "{stderr}");
}

/// A token whose secret could not be written (standard output on a full disk) is revoked, so
/// none stays active with nobody holding it, and its name is free for the next try.
#[test]
fn a_token_that_could_not_be_printed_is_not_left_active() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let create = [
        "admin", "token", "--data", data, "--role", "viewer", "--name", "x",
    ];
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = crate::support::vigil()
        .args(create)
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("could not write the token to standard output")
            && stderr.contains("so it was revoked again"),
        "{stderr}"
    );
    let tokens: serde_json::Value =
        serde_json::from_str(&ok(run(&["admin", "tokens", "--data", data, "--json"]))).unwrap();
    assert_eq!(tokens.as_array().unwrap().len(), 1, "{tokens}");
    assert!(!tokens[0]["revoked_at"].is_null(), "{tokens}");
    // The name is free again.
    assert!(ok(run(&create)).starts_with("vgl_"));
}

/// Arguments that cannot work are refused by the parser (exit status 2), saying what to give.
#[test]
fn arguments_that_cannot_work_are_refused_before_anything_runs() {
    let refused = |args: &[&str]| {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        stderr
    };
    // `oncall who` takes a team or a service: the message names both.
    let said = refused(&["oncall", "who"]);
    assert!(
        said.contains("--team") && said.contains("--service"),
        "{said}"
    );
    let said = refused(&["oncall", "who", "--team", "a", "--service", "b"]);
    assert!(said.contains("cannot be used with"), "{said}");
    let said = refused(&["bench", "detect", "--rules", "rules", "--passes", "0"]);
    assert!(said.contains("--passes"), "{said}");
}

/// Findings from the command line: raised for a team of the organisation document (an unknown
/// one refused with the known ones listed), listed as a table and as JSON with the team, open
/// and overdue filters, closed with a note (refused without one), shown with their history.
#[test]
fn findings_over_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let org = dir.path().join("org.yaml");
    std::fs::write(
        &org,
        "people:\n  - name: alice\n  - name: bob\nteams:\n  - {name: identity, members: [alice]}\n  - {name: platform, members: [bob]}\n",
    )
    .unwrap();
    let token = admin_token(&data, "admin", "alice");
    let server = Server::start(&data);
    ok(server.cli(&token, &["apply", "-f", org.to_str().unwrap()]));
    ok(server.cli(
        &token,
        &[
            "incident",
            "open",
            "--title",
            "Phish",
            "--summary",
            "s",
            "--severity",
            "SEV3",
        ],
    ));
    let refused = server.cli(
        &token,
        &[
            "finding", "add", "INC-1", "--team", "idenity", "--title", "MFA",
        ],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("team") && stderr.contains("identity, platform"),
        "{stderr}"
    );
    let added = ok(server.cli(
        &token,
        &[
            "finding",
            "add",
            "INC-1",
            "--team",
            "identity",
            "--title",
            "Enforce FIDO2",
            "--kind",
            "prevent",
            "--due",
            "2020-01-15",
            "--ticket",
            "SEC-123",
        ],
    ));
    assert!(
        added.starts_with("FND-1: raised (incident INC-1, team identity, state open)"),
        "{added}"
    );
    ok(server.cli(
        &token,
        &[
            "finding",
            "add",
            "INC-1",
            "--team",
            "platform",
            "--title",
            "Log retention",
            "--kind",
            "detect",
        ],
    ));
    let table = ok(server.cli(
        &token,
        &[
            "finding",
            "list",
            "--team",
            "identity",
            "--open",
            "--overdue",
        ],
    ));
    assert!(
        table.contains("FND-1") && table.contains("2020-01-15 (overdue)"),
        "{table}"
    );
    assert!(!table.contains("FND-2"), "{table}");
    let listed: serde_json::Value =
        serde_json::from_str(&ok(server.cli(&token, &["finding", "list", "--json"]))).unwrap();
    assert_eq!(listed["total"], 2, "{listed}");
    assert_eq!(listed["items"][1]["team"], "platform");

    let refused = server.cli(&token, &["finding", "update", "FND-1", "--state", "done"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("note"), "{stderr}");
    ok(server.cli(
        &token,
        &[
            "finding",
            "update",
            "FND-1",
            "--state",
            "done",
            "--note",
            "FIDO2 enforced",
        ],
    ));
    let shown = ok(server.cli(&token, &["finding", "show", "FND-1"]));
    for needle in [
        "Enforce FIDO2",
        "SEC-123",
        "open → done",
        "FIDO2 enforced",
        "alice",
    ] {
        assert!(shown.contains(needle), "{needle} missing from\n{shown}");
    }
    let open = ok(server.cli(&token, &["finding", "list", "--open"]));
    assert!(!open.contains("FND-1") && open.contains("FND-2"), "{open}");
    let closed = ok(server.cli(&token, &["finding", "list", "--closed"]));
    assert!(
        closed.contains("FND-1") && !closed.contains("FND-2"),
        "{closed}"
    );
    let incident = ok(server.cli(&token, &["incident", "show", "INC-1"]));
    assert!(
        incident.contains("FND-1 [done] Enforce FIDO2 (identity)"),
        "{incident}"
    );
}
