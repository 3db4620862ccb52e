//! The whole alerting path on loopback with the real binary: an event is ingested, a rule
//! matches, an alert is created, the on-call person of the owning team is paged by webhook and
//! e-mail, nobody acknowledges so the policy escalates to the next level — across a server
//! restart, since the escalation clock is stored — an acknowledgement stops it, and the
//! responder declares an incident from the alert with its indicators.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vigil_testkit::SmtpReceiver;

use crate::support::{Server, admin_token, ok, wait_for};

const RULE: &str = "title: Credential dumping tool
id: 9b1f2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d
status: test
logsource:
  product: linux
detection:
  selection:
    command|contains: 'mimikatz'
  condition: selection
level: high
";

/// Requests a receiver has seen: (path, body).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A webhook receiver: records each POST body by path, answers 200.
fn webhook_receiver() -> (u16, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let record = Arc::clone(&record);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap_or(0);
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .to_owned();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap_or(());
                record
                    .lock()
                    .unwrap()
                    .push((path, String::from_utf8_lossy(&body).into_owned()));
                let mut out = stream;
                let _ = out.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                );
            });
        }
    });
    (port, seen)
}

#[test]
fn a_detection_pages_the_owning_on_call_escalates_across_a_restart_and_stops_on_ack() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("r.yml"), RULE).unwrap();
    let (hook_port, hooks) = webhook_receiver();
    let smtp = SmtpReceiver::start();
    let token = admin_token(&data, "admin", "ops");
    let serve_args = |smtp_port: u16| {
        vec![
            "--rules".to_owned(),
            rules.to_str().unwrap().to_owned(),
            "--smtp".to_owned(),
            format!("127.0.0.1:{smtp_port}"),
            "--escalation-tick-ms".to_owned(),
            "200".to_owned(),
        ]
    };
    let args = serve_args(smtp.port);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_with(&data, &args);

    // alice is on call (every day, all day); bob is the next level after 8 s, carol after 16 s
    // (wide margins: the restart must happen before bob is due even on a loaded machine).
    let org = format!(
        "people:
  - name: alice
    contacts:
      - {{kind: webhook, address: 'http://127.0.0.1:{hook_port}/alice'}}
      - {{kind: email, address: alice@example.com}}
  - name: bob
    contacts: [{{kind: webhook, address: 'http://127.0.0.1:{hook_port}/bob'}}]
  - name: carol
    contacts: [{{kind: webhook, address: 'http://127.0.0.1:{hook_port}/carol'}}]
teams:
  - name: secops
    members: [alice, bob]
    manager: carol
    schedules:
      - name: primary
        time_zone: UTC
        layers: [{{people: [alice], rotation: daily, start: 2026-01-01T00:00}}]
    escalation:
      levels:
        - {{after: '0', notify: ['schedule:primary']}}
        - {{after: 8s, notify: ['person:bob']}}
        - {{after: 16s, notify: [manager]}}
services:
  - {{name: payments, team: secops, criticality: high}}
"
    );
    let org_file = dir.path().join("org.yaml");
    std::fs::write(&org_file, org).unwrap();
    ok(server.cli(&token, &["apply", "-f", org_file.to_str().unwrap()]));

    let events = dir.path().join("events.jsonl");
    std::fs::write(
        &events,
        "{\"command\":\"mimikatz.exe sekurlsa::logonpasswords\",\"source\":{\"ip\":\"198.51.100.7\"},\"user\":{\"name\":\"eve\"}}\n",
    )
    .unwrap();
    let summary = ok(server.cli(
        &token,
        &[
            "ingest",
            events.to_str().unwrap(),
            "--service",
            "payments",
            "--host",
            "pay-1",
            "--json",
        ],
    ));
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["detections"], 1, "{summary}");

    // Level 1: alice by webhook and e-mail.
    wait_for("alice's webhook page", || {
        hooks.lock().unwrap().iter().any(|(p, _)| p == "/alice")
    });
    wait_for("alice's e-mail page", || !smtp.messages().is_empty());
    let page = hooks
        .lock()
        .unwrap()
        .iter()
        .find(|(p, _)| p == "/alice")
        .unwrap()
        .1
        .clone();
    let page: serde_json::Value = serde_json::from_str(&page).unwrap();
    assert_eq!(page["key"], "ALR-1", "{page}");
    assert_eq!(page["severity"], "SEV2");
    assert!(
        page["ack_url"].as_str().unwrap().contains("/ack/ALR-1?t="),
        "{page}"
    );
    let (mail, _envelope) = &smtp.messages()[0];
    assert!(
        mail.contains("Subject: [SEV2] Credential dumping tool (ALR-1)")
            && mail.contains("alice@example.com"),
        "{mail}"
    );

    // Restart before level 2 is due: the stored clock carries on after the restart.
    let mut server = server;
    server.terminate();
    drop(server);
    assert!(
        !hooks.lock().unwrap().iter().any(|(p, _)| p == "/bob"),
        "bob was paged before his level was due"
    );
    let server = Server::start_with(&data, &args);
    wait_for("bob's page at level 2 after the restart", || {
        hooks.lock().unwrap().iter().any(|(p, _)| p == "/bob")
    });

    // bob acknowledges from the link in his page (a GET only shows the button; the POST acks),
    // and the manager is never paged.
    let bob_page = hooks
        .lock()
        .unwrap()
        .iter()
        .find(|(p, _)| p == "/bob")
        .unwrap()
        .1
        .clone();
    let bob_page: serde_json::Value = serde_json::from_str(&bob_page).unwrap();
    let link = bob_page["ack_url"].as_str().unwrap().to_owned();
    assert!(link.contains("/ack/ALR-1?t="), "{link}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let shown = http.get(&link).send().await.unwrap();
        assert_eq!(shown.status(), 200);
        assert!(shown.text().await.unwrap().contains("<button"));
        let forged = http.post(link.replace("t=", "t=0")).send().await.unwrap();
        assert_eq!(forged.status(), 404);
        let acked = http.post(&link).send().await.unwrap();
        assert_eq!(acked.status(), 200);
        assert!(acked.text().await.unwrap().contains("ALR-1 acknowledged"));
    });
    let listed = ok(server.cli(&token, &["alerts", "list", "--status", "acknowledged"]));
    assert!(listed.contains("ALR-1"), "{listed}");
    std::thread::sleep(Duration::from_secs(10));
    assert!(
        !hooks.lock().unwrap().iter().any(|(p, _)| p == "/carol"),
        "the manager was paged after the ack"
    );
    let show = ok(server.cli(&token, &["alerts", "show", "ALR-1", "--json"]));
    let alert: serde_json::Value = serde_json::from_str(&show).unwrap();
    let actions: Vec<&str> = alert["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "page").count(),
        3,
        "{actions:?}"
    );
    assert!(actions.contains(&"acknowledged"));
    // The table a triager reads names the event behind the alert, by its id in the log store.
    let event_id = alert["event_ids"][0].as_u64().unwrap();
    let show = ok(server.cli(&token, &["alerts", "show", "ALR-1"]));
    assert!(show.contains("(fired 1 time)"), "{show}");
    let row = show
        .lines()
        .find(|l| l.contains("mimikatz.exe sekurlsa::logonpasswords"))
        .unwrap_or_else(|| panic!("no row for the event: {show}"));
    assert!(row.contains(&format!(" {event_id} ")), "{row}");

    // The responder declares an incident from the alert, with the indicators of its events.
    let declared = ok(server.cli(&token, &["alerts", "declare", "ALR-1", "--json"]));
    let incident: serde_json::Value = serde_json::from_str(&declared).unwrap();
    assert_eq!(incident["services"], serde_json::json!(["payments"]));
    let values: Vec<&str> = incident["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"].as_str().unwrap())
        .collect();
    assert!(
        values.contains(&"198.51.100.7") && values.contains(&"eve"),
        "{values:?}"
    );
    assert_eq!(incident["evidence"][0]["file_name"], "ALR-1-events.jsonl");
}

/// The text of `vigil alerts show` names who reported a report and how it came, so a
/// responder can call them back without `--json`.
#[test]
fn a_shown_report_names_its_reporter_and_origin() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "ops");
    let server = Server::start(&data);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sent = reqwest::Client::new()
            .post(format!("{}/api/v1/reports", server.url))
            .bearer_auth(&token)
            .json(&serde_json::json!({
                "description": "A mail asking for my VPN password",
                "name": "Dana", "contact": "dana@example.com"
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 201);
    });
    let show = ok(server.cli(&token, &["alerts", "show", "ALR-1"]));
    assert!(
        show.contains("reported by: Dana, dana@example.com"),
        "{show}"
    );
    assert!(show.contains("origin: reported through ops"), "{show}");
}

/// An organisation where bob, reached by e-mail only, is always on call for the service `db`.
const BOB_PAGED_BY_EMAIL_FOR_DB: &str = "people:
  - {name: bob, contacts: [{kind: email, address: bob@example.com}]}
teams:
  - name: ops
    members: [bob]
    schedules:
      - {name: primary, time_zone: UTC, layers: [{people: [bob], rotation: daily, start: 2026-01-01T00:00}]}
services:
  - {name: db, team: ops}
";

/// The mail relay is down when a SEV1 alert is raised: the page is kept and tried again, the
/// metrics show it waiting, and once the relay is back the on-call person gets it — once.
#[test]
fn a_page_the_relay_refused_is_sent_when_the_relay_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = admin_token(&data, "admin", "ops");
    let relay = vigil_testkit::closed_port();
    let port = relay.port;
    let smtp = format!("127.0.0.1:{port}");
    let server = Server::start_with(
        &data,
        &[
            "--smtp",
            &smtp,
            "--escalation-tick-ms",
            "200",
            "--page-retry-ms",
            "1000",
        ],
    );
    let org = dir.path().join("org.yaml");
    std::fs::write(&org, BOB_PAGED_BY_EMAIL_FOR_DB).unwrap();
    ok(server.cli(&token, &["apply", "-f", org.to_str().unwrap()]));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::new();
    let metric = |name: &str| -> u64 {
        let text = runtime.block_on(async {
            http.get(format!("{}/api/v1/metrics", server.url))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        });
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .parse()
            .unwrap()
    };
    runtime.block_on(async {
        let raised = http
            .post(format!("{}/api/v1/alerts", server.url))
            .bearer_auth(&token)
            .json(&serde_json::json!({"title": "Ransomware note on db01", "severity": "SEV1", "source": "edr", "service": "db"}))
            .send()
            .await
            .unwrap();
        assert_eq!(raised.status(), 201);
    });
    let log = || ok(server.cli(&token, &["alerts", "show", "ALR-1", "--json"]));
    wait_for("the failed page in the alert's log", || {
        log().contains("bob was not reached; the page is tried again")
    });
    assert!(log().contains("(round 1): paging bob; "), "{}", log());
    assert_eq!(metric("vigil_pages_undelivered"), 1);

    // The relay comes back where the server was told it is.
    drop(relay);
    let relay = SmtpReceiver::start_on(port);
    wait_for("bob's page once the relay is back", || {
        !relay.messages().is_empty()
    });
    let (mail, envelope) = &relay.messages()[0];
    assert!(
        mail.contains("Subject: [SEV1] Ransomware note on db01 (ALR-1)"),
        "{mail}"
    );
    assert_eq!(envelope["rcpt_tos"], serde_json::json!(["bob@example.com"]));
    wait_for("the page recorded as delivered", || {
        log().contains("paged bob (on call in schedule primary) by e-mail")
    });
    assert_eq!(metric("vigil_pages_undelivered"), 0);
    // Longer than the longest wait between tries (5 s here): the page is not sent again.
    std::thread::sleep(Duration::from_secs(7));
    assert_eq!(relay.messages().len(), 1);
    let shown = ok(server.cli(&token, &["alerts", "show", "ALR-1"]));
    assert!(shown.contains("triggered"), "{shown}");
}

/// A relay that wants a login gets it: `--smtp-user` with the password from a file (never on
/// the command line), and the page is accepted only once logged in; a wrong password reaches
/// nobody.
#[test]
fn an_e_mail_page_logs_in_to_a_relay_that_requires_it() {
    let password = "s3cret-Pa55";
    let relay = SmtpReceiver::start_with_login("vigil-pager", password);
    for (given, delivered) in [(password, true), ("wrong", false)] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let file = dir.path().join("smtp-password");
        std::fs::write(&file, format!("{given}\n")).unwrap();
        let token = admin_token(&data, "admin", "ops");
        let smtp = format!("127.0.0.1:{}", relay.port);
        let server = Server::start_with(
            &data,
            &[
                "--smtp",
                &smtp,
                "--smtp-user",
                "vigil-pager",
                "--smtp-password-file",
                file.to_str().unwrap(),
                // aiosmtpd here has no TLS: the login goes over loopback in the clear.
                "--smtp-plain-login",
                "--escalation-tick-ms",
                "200",
            ],
        );
        let org = dir.path().join("org.yaml");
        std::fs::write(&org, BOB_PAGED_BY_EMAIL_FOR_DB).unwrap();
        ok(server.cli(&token, &["apply", "-f", org.to_str().unwrap()]));
        let raised = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                reqwest::Client::new()
                    .post(format!("{}/api/v1/alerts", server.url))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"title": "Ransomware note on db01", "severity": "SEV1", "source": "edr", "service": "db"}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            });
        assert_eq!(raised, 201);
        let log = || ok(server.cli(&token, &["alerts", "show", "ALR-1", "--json"]));
        if delivered {
            wait_for("bob's page through the relay", || {
                !relay.messages().is_empty()
            });
            let (_, envelope) = &relay.messages()[0];
            assert_eq!(envelope["login"], "vigil-pager");
            assert_eq!(envelope["rcpt_tos"], serde_json::json!(["bob@example.com"]));
        } else {
            wait_for("the refused login in the alert's log", || {
                log().contains("bob was not reached")
            });
            assert_eq!(relay.messages().len(), 1, "no mail without the login");
        }
        assert!(!log().contains(given), "{}", log());
    }
}

/// The password is never taken from the command line only, and never sent over plain SMTP
/// unless asked: `vigil serve` refuses both at start, naming what to do and not the password.
#[test]
fn serve_refuses_an_smtp_login_without_a_password_or_over_plain_smtp() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let file = dir.path().join("smtp-password");
    std::fs::write(&file, "s3cret-Pa55").unwrap();
    let f = file.to_str().unwrap();
    let base = [
        "serve",
        "--data",
        d,
        "--smtp",
        "127.0.0.1:25",
        "--smtp-user",
        "u",
    ];
    for (extra, says) in [
        (&[][..], "needs a password: set VIGIL_SMTP_PASSWORD"),
        (&["--smtp-password-file", f][..], "unencrypted"),
    ] {
        let out = crate::support::run(&[&base[..], extra].concat());
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{stderr}");
        assert!(!stderr.contains("s3cret"), "{stderr}");
    }
}
