//! Alerts over real HTTP: raised by detections on ingest with a preliminary severity from the
//! rule's level and the service's criticality, folded by rule and host, rate-limited per rule,
//! raised by external tools with a dedup key, and triaged (ack, resolve, dismiss with reason).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{answer, spawn_app_with_rules};

const RULE: &str = "title: Credential dumping tool
id: 5f1a3c52-0b7e-4d0a-9f8e-2c4d6e8f0a11
status: test
logsource:
  product: linux
detection:
  selection:
    command|contains: 'mimikatz'
  condition: selection
level: high
";

#[tokio::test]
async fn detections_become_alerts_that_fold_limit_and_are_triaged() {
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(rules.path().join("r.yml"), RULE).unwrap();
    let app = spawn_app_with_rules(vec![rules.path().to_owned()], |_| {}).await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("http://{}/api/v1{p}", app.addr);
    let send = |query: &str, body: String| {
        let http = http.clone();
        let u = url(&format!("/events?{query}"));
        let token = app.responder_token.clone();
        async move {
            let r = http
                .post(u)
                .bearer_auth(token)
                .header("content-type", "application/x-ndjson")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<Value>().await.unwrap()
        }
    };
    let get = |p: String| {
        let http = http.clone();
        let token = app.responder_token.clone();
        async move {
            http.get(p)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    // The service is critical in the organisation: a high rule becomes SEV1.
    let org = json!({
        "people": [{"name": "alice"}],
        "teams": [{"name": "secops", "members": ["alice"]}],
        "services": [{"name": "payments", "team": "secops", "criticality": "critical"}]
    });
    let r = http
        .put(url("/org"))
        .bearer_auth(&app.admin_token)
        .json(&org)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let report = send(
        "service=payments&host=pc-1",
        "{\"command\":\"mimikatz.exe\"}\n{\"command\":\"mimikatz.exe\"}\n".into(),
    )
    .await;
    assert_eq!(
        (report["detections"].as_u64(), report["alerts"].as_u64()),
        (Some(2), Some(1))
    );
    // Same rule and host again: folded into the open alert.
    let report = send(
        "service=payments&host=pc-1",
        "{\"command\":\"MIMIKATZ\"}".into(),
    )
    .await;
    assert_eq!(report["alerts"], 0);
    let page = get(url("/alerts?status=triggered")).await;
    assert_eq!(page["total"], 1);
    let alert = &page["items"][0];
    assert_eq!(alert["key"], "ALR-1");
    assert_eq!(alert["severity"], "SEV1");
    // Every match counts, whether it came alone or with another in its batch.
    assert_eq!(alert["count"], 3);
    assert_eq!(alert["service"], "payments");
    assert_eq!(alert["event_ids"].as_array().unwrap().len(), 3);
    assert_eq!(alert["rule_id"], "5f1a3c52-0b7e-4d0a-9f8e-2c4d6e8f0a11");

    // A noisy rule: 25 hosts at once; 20 new alerts an hour per rule, the rest suppressed.
    let body: String = (0..25)
        .map(|i| format!("{{\"command\":\"mimikatz\",\"host\":\"h{i:02}\"}}\n"))
        .collect();
    let report = send("service=web", body).await;
    assert_eq!(report["alerts"], 19, "{report}");
    let stats = get(url("/alerts/rules")).await;
    assert_eq!(stats[0]["alerts"], 20);
    assert_eq!(stats[0]["suppressed"], 6);
    assert_eq!(stats[0]["title"], "Credential dumping tool");
    let web = get(url("/alerts?service=web")).await;
    assert_eq!(web["items"][0]["severity"], "SEV2");

    // Triage: viewers read but do not act; ack, then resolve; dismiss needs a reason.
    let post = |p: String, token: String, body: Option<Value>| {
        let http = http.clone();
        async move {
            let mut req = http.post(p).bearer_auth(token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let r = req.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, _) = post(url("/alerts/ALR-1/ack"), app.viewer_token(), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, acked) = post(url("/alerts/ALR-1/ack"), app.responder_token.clone(), None).await;
    assert_eq!(
        (status, acked["status"].as_str()),
        (StatusCode::OK, Some("acknowledged"))
    );
    // Acknowledged twice: a conflict with the alert's state, which the message says.
    let (status, err) = post(url("/alerts/ALR-1/ack"), app.responder_token.clone(), None).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the alert is acknowledged already"),
        "{err}"
    );
    let (_, resolved) = post(
        url("/alerts/ALR-1/resolve"),
        app.responder_token.clone(),
        None,
    )
    .await;
    assert_eq!(resolved["status"], "resolved");
    let actions: Vec<&str> = resolved["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["created", "deduplicated", "acknowledged", "resolved"]
    );
    let (status, err) = post(
        url("/alerts/ALR-2/dismiss"),
        app.responder_token.clone(),
        Some(json!({"kind": "false_positive", "reason": " "})),
    )
    .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("reason"))
    );
    let (_, dismissed) = post(
        url("/alerts/ALR-2/dismiss"),
        app.responder_token.clone(),
        Some(json!({"kind": "false_positive", "reason": "red-team exercise host"})),
    )
    .await;
    assert_eq!(
        (
            dismissed["status"].as_str(),
            dismissed["dismissal"].as_str()
        ),
        (Some("dismissed"), Some("false_positive"))
    );
    // A closed alert is not acknowledged, resolved or dismissed again: 409 each time.
    for (path, body) in [
        ("/alerts/ALR-2/ack", None),
        ("/alerts/ALR-2/resolve", None),
        (
            "/alerts/ALR-1/dismiss",
            Some(json!({"kind": "benign", "reason": "maintenance"})),
        ),
    ] {
        let (status, err) = post(url(path), app.responder_token.clone(), body).await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("conflict")),
            "{path}: {err}"
        );
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("already"),
            "{path}: {err}"
        );
    }
    let stats = get(url("/alerts/rules")).await;
    assert_eq!(stats[0]["false_positives"], 1);
    let (status, _) = post(
        url("/alerts/ALR-999/ack"),
        app.responder_token.clone(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post(url("/alerts/nope/ack"), app.responder_token.clone(), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Acting on alerts is in the audit trail.
    let audit = http
        .get(url("/audit"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(audit.contains("alert.acknowledged") && audit.contains("alert.dismissed"));
}

#[tokio::test]
async fn external_tools_raise_alerts_with_a_dedup_key() {
    let app = crate::support::spawn_app().await;
    let http = reqwest::Client::new();
    let url = format!("http://{}/api/v1/alerts", app.addr);
    let body = json!({"title": "Impossible travel", "severity": "high", "source": "idp", "service": "sso", "dedup_key": "user-42"});
    let r = http
        .post(&url)
        .bearer_auth(&app.responder_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let first: Value = r.json().await.unwrap();
    assert_eq!(
        (
            first["outcome"].as_str(),
            first["alert"]["severity"].as_str()
        ),
        (Some("created"), Some("SEV2"))
    );
    assert_eq!(first["alert"]["source"], "external");
    assert_eq!(first["alert"]["origin"], "idp");
    let r = http
        .post(&url)
        .bearer_auth(&app.responder_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let again: Value = r.json().await.unwrap();
    assert_eq!(
        (again["outcome"].as_str(), again["alert"]["count"].as_u64()),
        (Some("deduplicated"), Some(2))
    );
    // A key is its service's own: another service's alert with the same key is an alert of
    // its own, and the first is left as it was.
    let mut other = body.clone();
    other["service"] = json!("shop");
    let r = http
        .post(&url)
        .bearer_auth(&app.responder_token)
        .json(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let shop: Value = r.json().await.unwrap();
    assert_eq!(shop["alert"]["service"], "shop");
    assert_ne!(shop["alert"]["key"], first["alert"]["key"]);
    // Control characters from a tool are kept harmless: no escape sequence reaches a terminal.
    let r = http
        .post(&url)
        .bearer_auth(&app.responder_token)
        .json(&json!({"title": "\u{1b}[2JALL CLEAR", "severity": "SEV3", "source": "x", "service": "b", "summary": "a\u{0}b\nc"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let raised: Value = r.json().await.unwrap();
    assert_eq!(raised["alert"]["title"], "\u{fffd}[2JALL CLEAR");
    assert_eq!(raised["alert"]["summary"], "a\u{fffd}b\nc");
    // Bad input names the field; viewers cannot raise.
    let r = http
        .post(&url)
        .bearer_auth(&app.responder_token)
        .json(&json!({"title": "x", "severity": "SEV9", "source": "a", "service": "b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["field"],
        "severity"
    );
    let r = http
        .post(&url)
        .bearer_auth(&app.responder_token)
        .json(&json!({"title": " ", "severity": "SEV3", "source": "a", "service": "b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["field"], "title");
    let r = http
        .post(&url)
        .bearer_auth(app.viewer_token())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_incident_is_declared_from_alerts_with_their_indicators_and_events() {
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(rules.path().join("r.yml"), RULE).unwrap();
    let app = spawn_app_with_rules(vec![rules.path().to_owned()], |_| {}).await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("http://{}/api/v1{p}", app.addr);
    let sha = "a".repeat(64);
    for (minute, host, tenant) in [(1, "pc-1", "acme"), (2, "pc-2", "globex")] {
        let body = format!(
            "{{\"@timestamp\":\"2026-11-30T10:0{minute}:00Z\",\"command\":\"mimikatz.exe sekurlsa::logonpasswords\",\"source\":{{\"ip\":\"203.0.113.9\"}},\"user\":{{\"name\":\"eve\"}},\"Hashes\":\"SHA256={sha}\"}}"
        );
        let r = http
            .post(url(&format!(
                "/events?service=edr&host={host}&tenant={tenant}"
            )))
            .bearer_auth(&app.responder_token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.json::<Value>().await.unwrap()["alerts"], 1);
    }
    let alert = answer(
        http.get(url("/alerts/ALR-1"))
            .bearer_auth(&app.responder_token),
    )
    .await;
    assert_eq!(alert["events"][0]["user"]["name"], "eve", "{alert}");
    let acked = answer(
        http.post(url("/alerts/ALR-1/ack"))
            .bearer_auth(&app.responder_token),
    )
    .await;
    let acked_at = acked["log"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "acknowledged")
        .map(|e| e["at"].clone())
        .expect("the acknowledgement is logged");

    let declare = |body: Value| {
        let http = http.clone();
        let u = url("/alerts/declare");
        let token = app.responder_token.clone();
        async move {
            let r = http
                .post(u)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, incident) =
        declare(json!({"alerts": ["ALR-1"], "category": "account_compromise"})).await;
    assert_eq!(status, StatusCode::CREATED, "{incident}");
    assert_eq!(incident["severity"], "SEV2");
    assert_eq!(incident["title"], "Credential dumping tool");
    assert_eq!(incident["services"], json!(["edr"]));
    // The tenant of the alert's events is in scope, the host that sent them an indicator.
    assert_eq!(incident["tenants"], json!(["acme"]));
    // The matched event's own time is the first activity known, detected when the alert first
    // fired, acknowledged when the responder took it up: the response metrics count from
    // those, not from the incident's later phase moves.
    assert_eq!(
        (
            &incident["timestamps"]["first_activity"],
            &incident["timestamps"]["detected"],
            &incident["timestamps"]["acknowledged"]
        ),
        (
            &json!("2026-11-30T10:01:00Z"),
            &alert["first_seen"],
            &acked_at
        ),
        "{incident}"
    );
    let indicators: Vec<(String, String)> = incident["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_owned(),
                i["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (kind, value) in [
        ("ip", "203.0.113.9"),
        ("user_account", "eve"),
        ("sha256", sha.as_str()),
        ("host", "pc-1"),
    ] {
        assert!(
            indicators.iter().any(|(k, v)| k == kind && v == value),
            "{kind} {value}: {indicators:?}"
        );
    }
    assert_eq!(incident["evidence"][0]["file_name"], "ALR-1-events.jsonl");
    let key = incident["key"].as_str().unwrap().to_owned();
    let alert = answer(
        http.get(url("/alerts/ALR-1"))
            .bearer_auth(&app.responder_token),
    )
    .await;
    assert_eq!(
        (alert["status"].as_str(), alert["incident"].as_str()),
        (Some("resolved"), Some(key.as_str()))
    );
    assert_eq!(
        alert["log"].as_array().unwrap().last().unwrap()["action"],
        "declared"
    );
    // The incident's action log starts with who declared it, from which alert.
    let log = answer(
        http.get(url(&format!("/incidents/{key}/actions")))
            .bearer_auth(&app.responder_token),
    )
    .await;
    let first = &log["items"][0];
    assert_eq!(
        (&first["actor"], &first["kind"]),
        (&json!("rita"), &json!("investigation")),
        "{log}"
    );
    let text = first["text"].as_str().unwrap();
    assert!(
        text.starts_with("declared from alert ALR-1 (")
            && text.ends_with("): Credential dumping tool"),
        "{log}"
    );
    // A closed alert cannot be declared again: a conflict with its state, which the answer
    // names; nothing is created.
    let (status, err) = declare(json!({"alerts": ["ALR-1"]})).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict")),
        "{err}"
    );
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("ALR-1 is resolved already") && message.contains(key.as_str()),
        "{message}"
    );
    let (status, _) = declare(json!({"alerts": []})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A key that is none is named by its place in the list.
    let (status, err) = declare(json!({"alerts": ["ALR-2", "bogus"]})).await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("alerts[1]")),
        "{err}"
    );
    // Nor can a closed alert be merged: 409 naming its status, not a field the body lacks.
    let r = http
        .post(url("/alerts/ALR-1/merge"))
        .bearer_auth(&app.responder_token)
        .json(&json!({"incident": key}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "conflict");
    assert!(err["error"].get("field").is_none(), "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ALR-1 is resolved already"),
        "{err}"
    );

    // The second host's alert joins the incident.
    let r = http
        .post(url("/alerts/ALR-2/merge"))
        .bearer_auth(&app.responder_token)
        .json(&json!({"incident": key}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let merged: Value = r.json().await.unwrap();
    assert_eq!(merged["evidence"].as_array().unwrap().len(), 2);
    // Its tenant joins the scope, its host the indicators; the service is there once.
    assert_eq!(merged["services"], json!(["edr"]));
    assert_eq!(merged["tenants"], json!(["acme", "globex"]));
    assert!(
        merged["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "host" && i["value"] == "pc-2"),
        "{merged}"
    );
    let actions: Value = http
        .get(url(&format!("/incidents/{key}/actions")))
        .bearer_auth(&app.responder_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        actions.to_string().contains("merged alert ALR-2"),
        "{actions}"
    );
    let list: Value = http
        .get(url("/alerts?status=resolved"))
        .bearer_auth(&app.responder_token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(list["total"], 2);
}

#[tokio::test]
async fn people_report_through_a_form_without_login_and_through_the_api() {
    let app = crate::support::spawn_app_with(|s| s.report_key = Some("k3y-for-staff".into())).await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", app.addr);
    let form = http
        .get(format!("{base}/report/k3y-for-staff"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    // Posted to its own address relative to the page, which works behind a path prefix.
    assert!(
        form.text()
            .await
            .unwrap()
            .contains("<form method=\"post\" action=\"./k3y-for-staff\">")
    );
    assert_eq!(
        http.get(format!("{base}/report/wrong"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let sent = http
        .post(format!("{base}/report/k3y-for-staff"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("description=Got+a+mail+asking+for+my+VPN+password%0Afrom+it-support%40examp1e.com&service=vpn&urgency=SEV2&name=Dana&contact=dana%40example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::OK);
    assert!(sent.text().await.unwrap().contains("ALR-1"));
    let alert: Value = http
        .get(format!("{base}/api/v1/alerts/ALR-1"))
        .bearer_auth(&app.responder_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(alert["source"], "report");
    assert_eq!(alert["service"], "vpn");
    assert_eq!(alert["severity"], "SEV2");
    assert_eq!(alert["reporter"], "Dana, dana@example.com");
    // The sender's address is kept among the facts responders see.
    assert_eq!(alert["origin"], "report form from 127.0.0.1");
    assert_eq!(
        alert["title"],
        "Reported: Got a mail asking for my VPN password"
    );
    // No description: nothing raised.
    let bad = http
        .post(format!("{base}/report/k3y-for-staff"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("description=+&service=vpn")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    // A person on a browser gets a page saying what to do, not the API's JSON.
    let page = bad.text().await.unwrap();
    assert!(
        page.starts_with("<!doctype html>") && page.contains("say what you noticed"),
        "{page}"
    );
    // A form that cannot be read says so, with the way back, under its own title.
    let unreadable = http
        .post(format!("{base}/report/k3y-for-staff"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("description=x&colour=red")
        .send()
        .await
        .unwrap();
    assert_eq!(unreadable.status(), StatusCode::BAD_REQUEST);
    let page = unreadable.text().await.unwrap();
    assert!(
        page.contains("<title>Could not read the form</title>")
            && page.contains("Go back to change it and send it again."),
        "{page}"
    );
    let report = |token: &str, body: Value| {
        http.post(format!("{base}/api/v1/reports"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    // An urgency a report cannot have is refused, SEV1 and `critical` as SEV9 is: never
    // stored as another.
    for urgency in ["SEV1", "critical", "SEV9"] {
        let r = report(
            &app.responder_token,
            json!({"description": "USB stick found in the car park", "urgency": urgency}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{urgency}");
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["error"]["field"], "urgency", "{err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains("write SEV2"), "{message}");
    }
    // A description too long is named as such, with what to do.
    let r = report(
        &app.responder_token,
        json!({"description": "x".repeat(20_001)}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["field"], "description", "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("shorten it"),
        "{err}"
    );
    // A viewer is told what the route it called needs.
    let viewer = app.viewer_token();
    let r = report(&viewer, json!({"description": "odd"}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let message = r.json::<Value>().await.unwrap()["error"]["message"].clone();
    assert!(
        message.as_str().unwrap().contains("cannot send reports"),
        "{message}"
    );
    let r = http
        .post(format!("{base}/api/v1/alerts"))
        .bearer_auth(&viewer)
        .json(&json!({"title": "x", "severity": "SEV3", "source": "a", "service": "b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let message = r.json::<Value>().await.unwrap()["error"]["message"].clone();
    assert!(
        message.as_str().unwrap().contains("cannot raise alerts"),
        "{message}"
    );
    let api = report(
        &app.responder_token,
        json!({"description": "USB stick found in the car park", "urgency": "SEV2"}),
    )
    .await
    .unwrap();
    assert_eq!(api.status(), StatusCode::CREATED);
    let a: Value = api.json().await.unwrap();
    assert_eq!(
        (a["severity"].as_str(), a["service"].as_str()),
        (Some("SEV2"), Some("unknown"))
    );
    // Declared, the report's incident says who reported it; the placeholder service
    // `unknown` is not an impacted service.
    let declared = |alert: &str| {
        http.post(format!("{base}/api/v1/alerts/declare"))
            .bearer_auth(&app.responder_token)
            .json(&json!({"alerts": [alert]}))
            .send()
    };
    let incident: Value = declared("ALR-1").await.unwrap().json().await.unwrap();
    assert!(
        incident["summary"]
            .as_str()
            .unwrap()
            .contains("reported by Dana, dana@example.com"),
        "{incident}"
    );
    assert_eq!(incident["services"], json!(["vpn"]));
    let incident: Value = declared(a["key"].as_str().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(incident["services"], json!([]), "{incident}");
    // The form is rate-limited per sender (and per link, for all senders together); each
    // report differs (the same one again would fold into the first).
    let mut last = None;
    for n in 0..15 {
        let resp = http
            .post(format!("{base}/report/k3y-for-staff"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("description=again+{n}"))
            .send()
            .await
            .unwrap();
        last = Some((resp.status(), resp.text().await.unwrap()));
    }
    let (status, page) = last.unwrap();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("You have sent many reports"), "{page}");
}

#[tokio::test]
async fn a_rule_can_group_its_alerts_by_fields_of_the_event() {
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(rules.path().join("r.yml"), RULE).unwrap();
    let app = spawn_app_with_rules(vec![rules.path().to_owned()], |_| {}).await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("http://{}/api/v1{p}", app.addr);
    let org = json!({
        "alerting": [{"rule_id": "5f1a3c52-0b7e-4d0a-9f8e-2c4d6e8f0a11", "group_by": ["user.name"], "max_per_hour": 2}]
    });
    let r = http
        .put(url("/org"))
        .bearer_auth(&app.admin_token)
        .json(&org)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let body = [
        ("pc-1", "eve"),
        ("pc-2", "eve"),
        ("pc-1", "mallory"),
        ("pc-1", "trent"),
    ]
    .iter()
    .map(|(h, u)| {
        format!("{{\"command\":\"mimikatz\",\"host\":\"{h}\",\"user\":{{\"name\":\"{u}\"}}}}\n")
    })
    .collect::<String>();
    let r = http
        .post(url("/events?service=web"))
        .bearer_auth(&app.responder_token)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    let report: Value = r.json().await.unwrap();
    // eve on two hosts is one alert; mallory another; trent is over the rule's limit of 2.
    assert_eq!(report["alerts"], 2, "{report}");
    let page: Value = http
        .get(url("/alerts"))
        .bearer_auth(&app.responder_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let counts: Vec<u64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["count"].as_u64().unwrap())
        .collect();
    assert_eq!(
        counts.iter().sum::<u64>(),
        3,
        "eve's two matches count twice"
    );
    let eve = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["dedup_key"].as_str().unwrap().ends_with("|eve"))
        .unwrap();
    assert_eq!(eve["event_ids"].as_array().unwrap().len(), 2);
    let stats: Value = http
        .get(url("/alerts/rules"))
        .bearer_auth(&app.responder_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats[0]["suppressed"], 1);
    // A bad entry names its field.
    let bad = json!({"alerting": [{"rule_id": "*", "window": "soon"}]});
    let r = http
        .put(url("/org"))
        .bearer_auth(&app.admin_token)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["field"],
        "alerting[0].window"
    );
}

/// A page's link acknowledges its one alert without a login, as the person it was sent to,
/// until it expires; it never resolves, and a link without a signed recipient and expiry (the
/// first form) no longer works.
#[tokio::test]
async fn a_signed_link_acknowledges_one_alert_as_its_recipient_until_it_expires() {
    let signer = vigil_core::LinkSigner::new([9; 32]);
    let s2 = signer.clone();
    let app = crate::support::spawn_app_with(move |s| s.link_signer = Some(s2)).await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", app.addr);
    for title in ["first", "second"] {
        let body = json!({"title": title, "severity": "SEV3", "source": "t", "service": "s"});
        let r = http
            .post(format!("{base}/api/v1/alerts"))
            .bearer_auth(&app.responder_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let now = chrono::Utc::now();
    let q1 = signer.query(&vigil_core::LinkSigner::grant("ack", "ALR-1", "alice", now));
    let post = |path: String| http.post(format!("{base}{path}")).send();
    let page = http
        .get(format!("{base}/ack/ALR-1?{q1}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Acknowledge ALR-1") && html.contains("alice"),
        "{html}"
    );
    assert!(!html.contains("action=resolve"), "{html}");
    // The button posts to the page's own address, relative to it, so the page works behind a
    // proxy that serves Vigil under a path (`--public-url http://proxy/vigil`).
    let action = html
        .split("<form method=\"post\" action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no form in {html}"))
        .replace("&amp;", "&");
    assert_eq!(action, format!("./ALR-1?{q1}"));
    let behind_proxy = reqwest::Url::parse(&format!("http://proxy/vigil/ack/ALR-1?{q1}"))
        .unwrap()
        .join(&action)
        .unwrap();
    assert_eq!(
        behind_proxy.as_str(),
        format!("http://proxy/vigil/ack/ALR-1?{q1}")
    );
    // The browser tab says what the page is for, not the reporting form's title.
    assert!(html.contains("<title>Acknowledge ALR-1?</title>"), "{html}");
    // The link of ALR-1 opens nothing else, and nobody else's name can be put in it.
    assert_eq!(
        post(format!("/ack/ALR-2?{q1}")).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let as_bob = q1.replace("by=alice", "by=bob");
    assert_eq!(
        post(format!("/ack/ALR-1?{as_bob}")).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    // Its expiry cannot be stretched, and once passed the link says it expired.
    let until = (now + vigil_core::LINK_LIFETIME).timestamp();
    let stretched = q1.replace(
        &format!("until={until}"),
        &format!("until={}", until + 86_400),
    );
    assert_eq!(
        post(format!("/ack/ALR-1?{stretched}"))
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let old = signer.query(&vigil_core::LinkSigner::grant(
        "ack",
        "ALR-1",
        "alice",
        now - vigil_core::LINK_LIFETIME - chrono::TimeDelta::minutes(1),
    ));
    let expired = post(format!("/ack/ALR-1?{old}")).await.unwrap();
    assert_eq!(expired.status(), StatusCode::GONE);
    assert!(
        expired
            .text()
            .await
            .unwrap()
            .contains("vigil alerts ack ALR-1")
    );
    // A link of the first form (a token for the alert alone) no longer works.
    let t_only = q1.split('&').next().unwrap().to_owned();
    assert_eq!(
        post(format!("/ack/ALR-1?{t_only}")).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    // A link cut short before its token is not valid either, and says so as a page.
    let cut = http.get(format!("{base}/ack/ALR-1")).send().await.unwrap();
    assert_eq!(cut.status(), StatusCode::NOT_FOUND);
    assert!(cut.text().await.unwrap().contains("link is not valid"));
    // So is one whose query cannot be read, a parameter twice or an expiry that is no number:
    // the same page, on a GET and a POST, never the decoder's plain text.
    for malformed in [
        format!("{q1}&by=bob"),
        q1.replace(&format!("until={until}"), "until=notanumber"),
    ] {
        for method in [reqwest::Method::GET, reqwest::Method::POST] {
            let r = http
                .request(method.clone(), format!("{base}/ack/ALR-1?{malformed}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{method} {malformed}");
            assert!(
                r.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html"),
                "{method} {malformed}"
            );
            let html = r.text().await.unwrap();
            assert!(html.contains("link is not valid"), "{html}");
            assert!(!html.contains("deserialize"), "{html}");
        }
    }
    // Resolving needs a link signed for it, which pages never carry: refused, as a page.
    let resolve = post(format!("/ack/ALR-1?{q1}&action=resolve"))
        .await
        .unwrap();
    assert_eq!(resolve.status(), StatusCode::FORBIDDEN);
    assert!(
        resolve
            .text()
            .await
            .unwrap()
            .contains("vigil alerts resolve ALR-1")
    );
    let acked = post(format!("/ack/ALR-1?{q1}")).await.unwrap();
    assert_eq!(acked.status(), StatusCode::OK);
    assert!(acked.text().await.unwrap().contains("ALR-1 acknowledged"));
    let again = post(format!("/ack/ALR-1?{q1}")).await.unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let alert: Value = http
        .get(format!("{base}/api/v1/alerts/ALR-1"))
        .bearer_auth(&app.responder_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(alert["status"], "acknowledged");
    assert_eq!(alert["log"][1]["action"], "acknowledged");
    assert_eq!(alert["log"][1]["actor"], "alice (link in their page)");
}

/// The reporter is told someone is alerted only when someone is paged: without an
/// organisation document, or for a service no team owns and no central team, the report is
/// recorded and waits, and the page says so.
#[tokio::test]
async fn the_thank_you_page_claims_a_page_only_when_someone_is_paged() {
    let app = crate::support::spawn_app_with(|s| s.report_key = Some("k3y-for-staff".into())).await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", app.addr);
    let send = |body: &'static str| {
        http.post(format!("{base}/report/k3y-for-staff"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let queued = |page: &str| {
        page.contains("nobody was alerted right away")
            && !page.contains("is being alerted")
            && !page.contains("is with the security response team")
    };
    // No organisation document.
    let page = send("description=odd+mail")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(queued(&page), "{page}");
    let apply = |org: Value| {
        http.put(format!("{base}/api/v1/org"))
            .bearer_auth(&app.admin_token)
            .json(&org)
            .send()
    };
    let alice =
        json!({"name": "alice", "contacts": [{"kind": "email", "address": "alice@example.com"}]});
    let team = json!({"name": "secops", "members": ["alice"], "schedules": [{"name": "p", "time_zone": "UTC",
        "layers": [{"people": ["alice"], "rotation": "daily", "start": "2026-01-01T00:00"}]}]});
    let r = apply(json!({"people": [alice.clone()], "teams": [team.clone()],
        "services": [{"name": "vpn", "team": "secops"}]}))
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // The apply warns that unowned reports page nobody.
    let state: Value = r.json().await.unwrap();
    assert!(
        state["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap()
            .starts_with("central_team: none is named")),
        "{state}"
    );
    // An owned service pages its team; no service, with no central team, pages nobody.
    let page = send("description=odd+mail&service=vpn")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("is being alerted"), "{page}");
    let page = send("description=odd+mail")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(queued(&page), "{page}");
    // With a central team, every report pages someone.
    let r = apply(json!({"people": [alice], "teams": [team],
        "services": [{"name": "vpn", "team": "secops"}], "central_team": "secops"}))
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = send("description=odd+mail")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("is being alerted"), "{page}");
}

/// The same report sent twice at once (a double click) raises one alert and answers both with
/// its reference; another report, or the same from elsewhere, is its own.
#[tokio::test]
async fn a_report_sent_twice_is_raised_once() {
    let app = crate::support::spawn_app_with(|s| s.report_key = Some("k3y-for-staff".into())).await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", app.addr);
    let send = |body: &'static str| {
        http.post(format!("{base}/report/k3y-for-staff"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let same = "description=A+phishing+mail&name=Dana";
    let (a, b) = tokio::join!(send(same), send(same));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    let (a, b) = (a.text().await.unwrap(), b.text().await.unwrap());
    assert_eq!(a, b);
    let again = send(same).await.unwrap().text().await.unwrap();
    assert_eq!(again, a);
    let other = send("description=Another+phishing+mail&name=Dana")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_ne!(other, a);
    let listed: Value = http
        .get(format!("{base}/api/v1/alerts?source=report"))
        .bearer_auth(&app.responder_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 2, "{listed}");
    for alert in listed["items"].as_array().unwrap() {
        assert_eq!(alert["count"], 1, "{alert}");
    }
}

/// A report in a script of several bytes a character (CJK: nine bytes once URL-encoded) is
/// taken up to the form's limit in characters; past it, the reporter is told in characters on
/// a page, never in bytes.
#[tokio::test]
async fn a_report_in_any_script_is_taken_up_to_the_limit_in_characters() {
    let app = crate::support::spawn_app_with(|s| s.report_key = Some("k3y-for-staff".into())).await;
    let http = reqwest::Client::new();
    let url = format!("http://{}/report/k3y-for-staff", app.addr);
    let send = |description: String| {
        let body = serde_urlencoded::to_string([
            ("description", description.as_str()),
            ("service", &"服".repeat(200)),
            ("name", &"名".repeat(200)),
            ("contact", &"𐍈".repeat(200)),
        ])
        .unwrap();
        http.post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let r = send("可疑".repeat(10_000)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    // One character more than the description takes: told in characters, on a page.
    let r = send("可".repeat(20_001)).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.unwrap();
    assert!(
        page.starts_with("<!doctype html>") && page.contains("more than 20000 characters"),
        "{page}"
    );
    // Far more than any field takes: the body limit, told in characters too.
    let r = send("可".repeat(40_000)).await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let page = r.text().await.unwrap();
    assert!(
        page.starts_with("<!doctype html>")
            && page.contains("at most 20,000 characters in the description")
            && page.contains("Go back")
            && !page.contains("bytes"),
        "{page}"
    );
}

/// Guessing the report link is limited per address (10 wrong keys an hour, then 429 whatever
/// key is given), and a sender's allowance of 10 reports an hour is used only by reports that
/// were taken: refused submissions give theirs back.
#[tokio::test]
async fn report_keys_cannot_be_guessed_and_only_accepted_reports_count() {
    let app = crate::support::spawn_app_with(|s| s.report_key = Some("k3y-for-staff".into())).await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", app.addr);
    let submit = |key: &str, body: String| {
        http.post(format!("{base}/report/{key}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    // Refused submissions — invalid, unreadable, too large — use up nothing.
    for _ in 0..6 {
        let r = submit("k3y-for-staff", "description=+".into())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = submit("k3y-for-staff", "description=%ZZ&x=1".into())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = submit(
            "k3y-for-staff",
            format!("description={}", "a".repeat(300_000)),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    for n in 0..10 {
        let r = submit("k3y-for-staff", format!("description=report+{n}"))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "report {n}");
    }
    let r = submit("k3y-for-staff", "description=one+more".into())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);

    // Ten wrong keys (by GET or POST) are answered 404; then the address gets 429, for the
    // right key too, so the answers tell a guesser nothing more.
    for n in 0..10 {
        let r = if n % 2 == 0 {
            http.get(format!("{base}/report/GUESS{n}"))
                .send()
                .await
                .unwrap()
        } else {
            submit(&format!("GUESS{n}"), "description=x".into())
                .await
                .unwrap()
        };
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "guess {n}");
    }
    for key in ["GUESS10", "k3y-for-staff"] {
        let r = http
            .get(format!("{base}/report/{key}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{key}");
        assert!(r.text().await.unwrap().contains("Too many wrong links"));
        let r = submit(key, "description=x".into()).await.unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{key}");
    }
}

/// An alert's service, source, reporter's name and contact are one line each: a line break
/// would forge lines of the page sent to the on-call (`Service: web` then `Bcc: …`) and stop
/// the alert being declared. They are refused, naming the field, by the API and the form; an
/// alert stored before (with such characters) is still declared, its names put on one line.
#[tokio::test]
async fn alert_names_are_one_line_and_an_alert_stored_with_line_breaks_still_declares() {
    let app = crate::support::spawn_app_with(|s| s.report_key = Some("k3y".into())).await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", app.addr);
    let raise = |body: Value| {
        http.post(format!("{base}/api/v1/alerts"))
            .bearer_auth(&app.responder_token)
            .json(&body)
            .send()
    };
    let alert = |service: &str, source: &str| json!({"title": "t", "severity": "SEV3", "source": source, "service": service});
    for (body, field) in [
        (
            alert("web\r\nBcc: evil5@attacker.example", "idp"),
            "service",
        ),
        (alert("web\u{1b}[2J", "idp"), "service"),
        (alert("web", "idp\nX-Evil: 1"), "source"),
        (alert("pay\u{2028}ments", "idp"), "service"),
        (alert("web", "idp\u{2029}X-Evil: 1"), "source"),
    ] {
        let r = raise(body).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["error"]["field"], field, "{err}");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("one line"),
            "{err}"
        );
    }
    // A summary keeps its line breaks.
    let mut body = alert("web", "idp");
    body["summary"] = json!("first line\nsecond line");
    assert_eq!(raise(body).await.unwrap().status(), StatusCode::CREATED);
    for (body, field) in [
        (
            json!({"description": "odd", "name": "Bob\nBcc: x@y"}),
            "name",
        ),
        (
            json!({"description": "odd", "contact": "b@example.com\r\nX: 1"}),
            "contact",
        ),
        (
            json!({"description": "odd", "service": "vpn\u{1b}]0;pwned\u{7}"}),
            "service",
        ),
        // Unicode's line and paragraph separators and NEL break lines as a line feed does.
        (
            json!({"description": "odd", "service": "pay\u{2028}ments"}),
            "service",
        ),
        (
            json!({"description": "odd", "name": "Bob\u{2029}Bcc: x@y"}),
            "name",
        ),
        (
            json!({"description": "odd", "contact": "b@example.com\u{85}X: 1"}),
            "contact",
        ),
    ] {
        let r = http
            .post(format!("{base}/api/v1/reports"))
            .bearer_auth(&app.responder_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["error"]["field"], field, "{err}");
    }
    // The form answers with its page, naming the field.
    let form = http
        .post(format!("{base}/report/k3y"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("description=odd&name=Bob%0ABcc%3A+x%40y")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::BAD_REQUEST);
    let page = form.text().await.unwrap();
    assert!(
        page.contains("<!doctype html>") && page.contains("name"),
        "{page}"
    );
    // A report's title is its description's first line, a lone carriage return ending it too.
    let r = http
        .post(format!("{base}/report/k3y"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("description=Seen+a+phish%0DX-Evil%3A+1&name=Dana")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let listed: Value = http
        .get(format!("{base}/api/v1/alerts?source=report"))
        .bearer_auth(&app.responder_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reported = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["reporter"] == "Dana")
        .expect("the report's alert");
    assert_eq!(reported["title"], "Reported: Seen a phish");

    // An alert stored before these checks, with line breaks and an escape in its names, is
    // declared all the same: no forged line in the summary, the service on one line.
    let url = format!("sqlite://{}", app.data_dir.join("vigil.db").display());
    let db = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "UPDATE alerts SET service = 'web\r\nBcc: evil5@attacker.example', \
         reporter = 'Bob' || char(10) || 'Bcc: x@y' || char(27) || '[2J' WHERE id = 1",
    )
    .execute(&db)
    .await
    .unwrap();
    db.close().await;
    let declared = http
        .post(format!("{base}/api/v1/alerts/declare"))
        .bearer_auth(&app.responder_token)
        .json(&json!({"alerts": ["ALR-1"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(declared.status(), StatusCode::CREATED);
    let incident: Value = declared.json().await.unwrap();
    let services = incident["services"].as_array().unwrap();
    assert_eq!(services.len(), 1, "{incident}");
    assert!(
        !services[0].as_str().unwrap().contains(['\r', '\n']),
        "{incident}"
    );
    let summary = incident["summary"].as_str().unwrap();
    assert!(!summary.contains('\u{1b}'), "{summary}");
    assert!(summary.lines().all(|l| !l.starts_with("Bcc:")), "{summary}");
}

/// The host of an alert's events is the sender's word: one that no host indicator can hold
/// (`+cmd|calc`) is left out of the indicators instead of making the alert impossible to
/// declare.
#[tokio::test]
async fn an_alert_from_a_host_no_indicator_can_hold_still_declares() {
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(rules.path().join("r.yml"), RULE).unwrap();
    let app = spawn_app_with_rules(vec![rules.path().to_owned()], |_| {}).await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("http://{}/api/v1{p}", app.addr);
    let r = http
        .post(url("/events?service=edr&host=%2Bcmd%7Ccalc"))
        .bearer_auth(&app.responder_token)
        .header("content-type", "application/json")
        .body(r#"{"@timestamp":"2026-11-30T10:01:00Z","command":"mimikatz.exe sekurlsa::logonpasswords","user":{"name":"eve"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["alerts"], 1);
    let r = http
        .post(url("/alerts/declare"))
        .bearer_auth(&app.responder_token)
        .json(&json!({"alerts": ["ALR-1"], "category": "malware"}))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let incident: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{incident}");
    let kinds: Vec<&str> = incident["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert!(!kinds.contains(&"host"), "{incident}");
    assert!(kinds.contains(&"user_account"), "{incident}");
}

/// A page's link to an alert that is no longer triggered says what became of it — who
/// acknowledged it, or the incident it was declared as or merged into — with its title,
/// severity and status, instead of offering to acknowledge it; an invalid link learns none of
/// it.
#[tokio::test]
async fn a_link_to_a_merged_or_declared_alert_points_to_its_incident() {
    let signer = vigil_core::LinkSigner::new([7; 32]);
    let s2 = signer.clone();
    let app = crate::support::spawn_app_with(move |s| s.link_signer = Some(s2)).await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", app.addr);
    let title = "Dumpert <script>alert(1)</script> & co";
    for host in ["bill-1", "bill-2", "bill-3"] {
        let body = json!({"title": format!("{title} on {host}"), "severity": "SEV1",
                          "source": "edr", "service": "billing"});
        let r = http
            .post(format!("{base}/api/v1/alerts"))
            .bearer_auth(&app.responder_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let now = chrono::Utc::now();
    let link = |key: &str| {
        let q = signer.query(&vigil_core::LinkSigner::grant("ack", key, "alice", now));
        format!("{base}/ack/{key}?{q}")
    };
    let page = |url: String| {
        let http = http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let escaped = "Dumpert &lt;script&gt;alert(1)&lt;/script&gt; &amp; co";

    // Triggered: what it is, and the button.
    let (status, html) = page(link("ALR-1")).await;
    assert_eq!(status, StatusCode::OK);
    for said in [
        &format!("<strong>{escaped} on bill-1</strong>"),
        "Severity: SEV1",
        "Service: billing",
        "Status: triggered",
        "<button type=\"submit\">Acknowledge ALR-1</button>",
    ] {
        assert!(html.contains(said), "no {said:?} in {html}");
    }
    assert!(!html.contains("<script>"), "{html}");
    // A link not signed for this person learns nothing of the alert.
    let forged = link("ALR-1").replace("by=alice", "by=mallory");
    let (status, html) = page(forged).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        !html.contains("Dumpert") && !html.contains("SEV1"),
        "{html}"
    );

    // ALR-1 declared as an incident, ALR-2 merged into it, ALR-3 acknowledged from its link.
    let declared: Value = http
        .post(format!("{base}/api/v1/alerts/declare"))
        .bearer_auth(&app.responder_token)
        .json(&json!({"alerts": ["ALR-1"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let incident = declared["key"].as_str().unwrap().to_owned();
    let r = http
        .post(format!("{base}/api/v1/alerts/ALR-2/merge"))
        .bearer_auth(&app.responder_token)
        .json(&json!({"incident": incident}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let acked = http.post(link("ALR-3")).send().await.unwrap();
    assert_eq!(acked.status(), StatusCode::OK);

    for (key, host, said) in [
        (
            "ALR-1",
            "bill-1",
            format!("ALR-1 was declared as incident {incident} by "),
        ),
        (
            "ALR-2",
            "bill-2",
            format!("ALR-2 was merged into incident {incident} by "),
        ),
        (
            "ALR-3",
            "bill-3",
            "ALR-3 was acknowledged by alice (link in their page) at ".to_owned(),
        ),
    ] {
        let (status, html) = page(link(key)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains(&said), "no {said:?} in {html}");
        assert!(
            html.contains(&format!("<strong>{escaped} on {host}</strong>")),
            "{html}"
        );
        assert!(
            !html.contains("<button"),
            "{key} offers to acknowledge: {html}"
        );
    }
    let (_, html) = page(link("ALR-2")).await;
    assert!(html.contains("Status: resolved"), "{html}");
    assert!(
        html.contains(&format!("vigil incident show {incident}")),
        "{html}"
    );

    // Acknowledging the merged alert from the old page names the incident too.
    let r = http.post(link("ALR-2")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<h1>Nothing changed</h1>")
            && html.contains(&format!("ALR-2 was merged into incident {incident} by ")),
        "{html}"
    );
}

/// The ATT&CK techniques an alert's rule is tagged with (`attack.t1003.001`) reach the
/// incident declared from it, and a merged alert adds those the incident lacks, audited; an
/// event two rules matched brings each alert only its own rule's techniques.
#[tokio::test]
async fn declaring_and_merging_carry_the_rules_attack_techniques() {
    let rules = tempfile::tempdir().unwrap();
    let rule = |id: &str, needle: &str, tags: &str| {
        format!(
            "title: {needle}\nid: {id}\nlogsource:\n  product: linux\ndetection:\n  selection:\n    command|contains: '{needle}'\n  condition: selection\nlevel: high\ntags: [{tags}]\n"
        )
    };
    let dumping = "0c7a5d3e-1111-4a0a-9f8e-2c4d6e8f0a11";
    let discovery = "0c7a5d3e-2222-4a0a-9f8e-2c4d6e8f0a11";
    let execution = "0c7a5d3e-3333-4a0a-9f8e-2c4d6e8f0a11";
    for (file, text) in [
        (
            "dumping.yml",
            rule(
                dumping,
                "mimikatz",
                "attack.credential-access, attack.t1003.001, attack.T1003.001, attack.s0002",
            ),
        ),
        (
            "discovery.yml",
            rule(discovery, "whoami", "attack.discovery, attack.t1033"),
        ),
        (
            "execution.yml",
            rule(
                execution,
                "powershell",
                "attack.execution, attack.t1059.001, attack.t1003.001",
            ),
        ),
    ] {
        std::fs::write(rules.path().join(file), text).unwrap();
    }
    let app = spawn_app_with_rules(vec![rules.path().to_owned()], |_| {}).await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("http://{}/api/v1{p}", app.addr);
    for (host, command) in [
        ("pc-1", "mimikatz.exe & whoami"),
        ("pc-2", "powershell -enc SQBFAFgA"),
    ] {
        let sent = answer(
            http.post(url(&format!("/events?service=edr&host={host}")))
                .bearer_auth(&app.responder_token)
                .header("content-type", "application/json")
                .body(json!({ "command": command }).to_string()),
        )
        .await;
        assert!(sent["alerts"].as_u64() > Some(0), "{sent}");
    }
    let alert_of = |rule: &str| {
        let request = http
            .get(url(&format!("/alerts?rule_id={rule}")))
            .bearer_auth(&app.responder_token);
        async move {
            let page = answer(request).await;
            assert_eq!(page["total"], 1, "{page}");
            page["items"][0]["key"].as_str().unwrap().to_owned()
        }
    };
    let incident = answer(
        http.post(url("/alerts/declare"))
            .bearer_auth(&app.responder_token)
            .json(&json!({"alerts": [alert_of(dumping).await], "category": "account_compromise"})),
    )
    .await;
    assert_eq!(incident["techniques"], json!(["T1003.001"]), "{incident}");
    let key = incident["key"].as_str().unwrap().to_owned();
    let merge = |alert: String| {
        let request = http
            .post(url(&format!("/alerts/{alert}/merge")))
            .bearer_auth(&app.responder_token)
            .json(&json!({ "incident": key }));
        async move { answer(request).await }
    };
    let merged = merge(alert_of(execution).await).await;
    assert_eq!(
        merged["techniques"],
        json!(["T1003.001", "T1059.001"]),
        "{merged}"
    );
    let merged = merge(alert_of(discovery).await).await;
    assert_eq!(
        merged["techniques"],
        json!(["T1003.001", "T1059.001", "T1033"]),
        "{merged}"
    );
    let audit = answer(http.get(url("/audit")).bearer_auth(&app.admin_token)).await;
    let updates: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "incident.update")
        .filter(|e| e["payload"]["patch"]["techniques"].is_array())
        .collect();
    assert_eq!(updates.len(), 2, "{audit}");
}

/// Every alert is reachable, however many there are: `offset` pages on through the list, newest
/// first, as it does for incidents; an offset past the end is an empty page with the total, and
/// one that is no whole number is refused naming it.
#[tokio::test]
async fn alerts_page_on_with_offset() {
    let app = crate::support::spawn_app().await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("http://{}/api/v1{p}", app.addr);
    for n in 0..7 {
        let r = http
            .post(url("/alerts"))
            .bearer_auth(&app.responder_token)
            .json(&json!({"title": format!("beacon {n}"), "severity": "SEV3", "source": "edr", "service": if n % 2 == 0 { "web" } else { "db" }}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let get = |p: String| {
        let request = http.get(url(&p)).bearer_auth(&app.responder_token);
        async move {
            let r = request.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let keys = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["key"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut seen = Vec::new();
    for offset in [0, 3, 6] {
        let (status, page) = get(format!("/alerts?limit=3&offset={offset}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["total"], 7, "{page}");
        seen.extend(keys(&page));
    }
    let newest_first: Vec<String> = (1..=7).rev().map(|n| format!("ALR-{n}")).collect();
    assert_eq!(seen, newest_first);
    // With a filter, the offset counts within what it lets through.
    let (_, web) = get("/alerts?service=web&limit=2&offset=2".into()).await;
    assert_eq!(
        (web["total"].as_u64(), keys(&web)),
        (Some(4), vec!["ALR-3".into(), "ALR-1".into()])
    );
    let (status, past) = get("/alerts?offset=4294967295".into()).await;
    assert_eq!(status, StatusCode::OK, "{past}");
    assert_eq!((past["total"].as_u64(), keys(&past).len()), (Some(7), 0));
    for bad in ["-1", "4294967296", "x"] {
        let (status, refused) = get(format!("/alerts?offset={bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {refused}");
        assert_eq!(refused["error"]["field"], "offset", "{bad}: {refused}");
    }
}
