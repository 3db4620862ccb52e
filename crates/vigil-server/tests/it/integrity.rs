//! Integrity: many writes leave a verifiable audit chain, and a request killed mid-way (the
//! client sends half a body, then drops the connection) leaves nothing half-written.

use std::io::Write;

use vigil_api::types::*;
use vigil_store::Store;

use crate::incidents::new_incident;
use crate::support::spawn_app;

/// Every regular file under `dir`, sorted (SQLite's own files excluded: they change on reads).
pub fn all_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if !path.to_string_lossy().contains(".db")
                && !path.to_string_lossy().contains("sqlite")
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn a_request_killed_mid_way_leaves_nothing_half_written() {
    let app = spawn_app().await;
    app.responder
        .create_incident(&new_incident("before"))
        .await
        .unwrap();
    let auth = format!("Bearer {}", app.responder_token);
    let before_incidents = app
        .admin
        .list_incidents(&IncidentQuery::default())
        .await
        .unwrap();
    let before_audit = app.admin.audit(&AuditQuery::default()).await.unwrap().total;
    let before_files = all_files(&app.data_dir);

    let body = serde_json::to_vec(&new_incident("never complete")).unwrap();
    let evidence = vec![b'q'; 300_000];
    let tmp_dir = app.data_dir.join("evidence");
    let addr = app.addr;
    tokio::task::spawn_blocking(move || {
        for _ in 0..3 {
            // A JSON body cut in half: the handler never gets a complete document.
            HalfSender(addr).half("/incidents", "application/json", &auth, &body, || true);
            // An upload cut in half, dropped only once the server is writing it to disk, so the
            // cleanup of a partial file is really exercised.
            let started = HalfSender(addr).half(
                "/incidents/INC-1/evidence?file_name=half.bin",
                "application/octet-stream",
                &auth,
                &evidence,
                || partial_uploads(&tmp_dir) > 0,
            );
            assert!(started, "the server never started writing the upload");
            // ... and once the connection is gone, the partial file goes too.
            let mut waited = 0;
            while partial_uploads(&tmp_dir) > 0 && waited < 1000 {
                std::thread::sleep(std::time::Duration::from_millis(10));
                waited += 1;
            }
            assert_eq!(
                partial_uploads(&tmp_dir),
                0,
                "a partial upload was left behind"
            );
        }
    })
    .await
    .unwrap();
    // The server is still up and nothing changed.
    let after = app
        .admin
        .list_incidents(&IncidentQuery::default())
        .await
        .unwrap();
    assert_eq!(after.total, before_incidents.total);
    assert_eq!(
        app.admin.audit(&AuditQuery::default()).await.unwrap().total,
        before_audit
    );
    assert!(app.viewer.list_evidence("INC-1").await.unwrap().is_empty());
    assert_eq!(
        all_files(&app.data_dir),
        before_files,
        "no evidence file was filed"
    );
    assert!(app.admin.verify_audit().await.unwrap().ok);
}

/// How many partial upload files the store holds in its evidence folder.
fn partial_uploads(folder: &std::path::Path) -> usize {
    std::fs::read_dir(folder)
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(vigil_store::sqlite::UPLOAD_PREFIX)
                })
                .count()
        })
        .unwrap_or(0)
}

/// Sends the headers and the first half of a body announced in full, then drops the connection.
struct HalfSender(std::net::SocketAddr);

impl HalfSender {
    /// Returns whether `ready` became true (checked for up to 10 s) before the drop.
    fn half(
        &self,
        path: &str,
        content_type: &str,
        auth: &str,
        body: &[u8],
        ready: impl Fn() -> bool,
    ) -> bool {
        let mut stream = std::net::TcpStream::connect(self.0).unwrap();
        let head = format!(
            "POST /api/v1{path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {auth}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            self.0,
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&body[..body.len() / 2]).unwrap();
        stream.flush().unwrap();
        let mut ok = ready();
        for _ in 0..1000 {
            if ok {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            ok = ready();
        }
        drop(stream);
        ok
    }
}

#[tokio::test]
async fn audit_chain_verifies_after_many_writes() {
    let app = spawn_app().await;
    for i in 0..8 {
        let key = app
            .responder
            .create_incident(&new_incident(&format!("incident {i}")))
            .await
            .unwrap()
            .key
            .to_string();
        app.responder
            .add_indicator(
                &key,
                &NewIndicator {
                    kind: "ip".into(),
                    value: format!("203.0.113.{i}"),
                    note: None,
                },
            )
            .await
            .unwrap();
        app.responder
            .add_action(
                &key,
                &AddAction {
                    text: format!("step {i}"),
                    kind: None,
                },
            )
            .await
            .unwrap();
        app.responder
            .change_severity(
                &key,
                &ChangeSeverity {
                    severity: Severity::Sev2,
                    reason: "scope grew".into(),
                },
            )
            .await
            .unwrap();
        app.responder
            .change_phase(
                &key,
                &ChangePhase {
                    phase: Phase::Analysis,
                    reason: None,
                    root_cause: None,
                },
            )
            .await
            .unwrap();
    }
    let verification = app.admin.verify_audit().await.unwrap();
    assert!(verification.ok, "{verification:?}");
    let total = app.admin.audit(&AuditQuery::default()).await.unwrap().total;
    assert!(total >= 40, "every write is audited: {total}");
    assert_eq!(verification.entries, total);
    // A second handle on the data directory, as `vigil audit verify` opens it, agrees.
    let direct = app.store().await.verify_audit().await.unwrap();
    assert_eq!(direct.map(|v| v.entries), Ok(total));
    assert_eq!(verification.records_unchecked, 0, "{verification:?}");
    assert!(verification.records_checked > 0, "{verification:?}");
    let page = app
        .admin
        .audit(&AuditQuery {
            limit: Some(5),
            offset: Some(3),
            incident: None,
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 5);
    assert_eq!(page.items[0].seq, 4);
    let about_one = app
        .admin
        .audit(&AuditQuery {
            incident: Some("INC-1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        about_one.total, 5,
        "create, indicator, action, severity, phase"
    );
    assert!(about_one.items.iter().all(|e| e.actor == "rita"));
}
