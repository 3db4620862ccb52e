//! Bad input through every write route: valid request bodies with one part broken at random —
//! a field dropped, added or given a value of another type, size or alphabet. The server never
//! answers 5xx, every refusal is a JSON error that says what is wrong, and a refused request
//! changes nothing (the audit trail, which every change writes to, does not grow).

use reqwest::Method;
use serde_json::{Value, json};
use vigil_testkit::Rng;

use crate::support::{TestApp, spawn_app};

/// Values that break a field: other types, edge numbers, empty, huge, control characters,
/// lookalike enum values, nesting.
fn breaking_value(rng: &mut Rng) -> Value {
    match rng.below(16) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(1e308),
        4 => json!(u64::MAX),
        5 => json!(""),
        6 => json!(" \t "),
        7 => json!("x".repeat(70_000)),
        8 => json!("\u{0}\u{1f}\u{202e}é"),
        9 => json!("SEV9"),
        10 => json!([]),
        11 => json!({}),
        12 => json!(["a", 1, null]),
        13 => json!("99999999999999999h"),
        14 => json!("-5m"),
        _ => json!("2026-13-45T99:00:00Z"),
    }
}

/// JSON pointers to every node of `value` below its root.
fn pointers(value: &Value, at: &str, out: &mut Vec<String>) {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Vec::new(),
    };
    for (name, child) in children {
        let pointer = format!("{at}/{name}");
        out.push(pointer.clone());
        pointers(child, &pointer, out);
    }
}

/// `seed` with one part broken, at any depth: a value replaced, a field dropped, an unknown
/// field added beside it, or the whole body replaced.
fn mutate(rng: &mut Rng, seed: &Value) -> Value {
    let mut body = seed.clone();
    let mut all = Vec::new();
    pointers(&body, "", &mut all);
    if all.is_empty() || rng.below(12) == 0 {
        return breaking_value(rng);
    }
    let pointer = &all[rng.below(all.len())];
    let (parent, name) = pointer.rsplit_once('/').unwrap();
    let name = name.replace("~1", "/").replace("~0", "~");
    match (rng.below(6), body.pointer_mut(parent).unwrap()) {
        (0, Value::Object(map)) => {
            map.remove(&name);
        }
        (1, Value::Object(map)) => {
            map.insert("colour".into(), json!("red"));
        }
        _ => *body.pointer_mut(pointer).unwrap() = breaking_value(rng),
    }
    body
}

/// The organisation document of the org tests, with a person's full name, a schedule
/// override and a service's logsources: each kind of part the document has.
fn org_document() -> Value {
    let mut document = crate::org::org();
    document["people"][0]["full_name"] = json!("Alice Smith");
    document["teams"][0]["schedules"][0]["overrides"] =
        json!([{"person": "carol", "start": "2026-12-24T00:00", "end": "2026-12-26T00:00"}]);
    document["services"][0]["logsources"] = json!([{"product": "linux", "service": "sshd"}]);
    document["services"][0]["fields"] = json!({"cs-uri-query": "url.query"});
    document["teams"][0]["escalation"] = json!({
        "levels": [
            {"after": "0", "notify": ["schedule:primary"]},
            {"after": "10m", "notify": ["manager"]},
        ],
        "repeat": 2,
        "repeat_after": "30m",
    });
    document["alerting"] = json!([
        {"rule_id": "*", "group_by": ["host", "user.name"], "window": "1h", "max_per_hour": 20},
    ]);
    document
}

/// Every write route with a body that it takes, on incident INC-1 and alert ALR-1.
fn seeds() -> Vec<(Method, &'static str, Value)> {
    vec![
        (
            Method::POST,
            "/incidents",
            json!({
                "title": "Credential phish", "summary": "two users typed their password",
                "severity": "SEV2", "category": "account_compromise", "tlp": "amber",
                "techniques": ["T1566.002"], "services": ["payroll"], "tenants": ["contoso"],
                "indicators": [{"kind": "domain", "value": "login-micros0ft.example"}],
            }),
        ),
        (
            Method::PATCH,
            "/incidents/INC-1",
            json!({
                "title": "Credential phish on payroll", "tlp": "red", "customer_facing": true,
                "services": ["payroll", "mail"], "techniques": ["T1566"],
            }),
        ),
        (
            Method::POST,
            "/incidents/INC-1/severity",
            json!({"severity": "SEV1", "reason": "an administrator was among them"}),
        ),
        (
            Method::POST,
            "/incidents/INC-1/timestamps",
            json!({"kind": "first_activity", "at": "2026-11-20T08:00:00Z", "reason": "proxy logs"}),
        ),
        (
            Method::POST,
            "/incidents/INC-1/indicators",
            json!({"kind": "ip", "value": "203.0.113.9"}),
        ),
        (
            Method::POST,
            "/incidents/INC-1/actions",
            json!({"text": "disabled the two accounts", "kind": "containment"}),
        ),
        (
            Method::POST,
            "/incidents/INC-1/links",
            json!({"other": "INC-2", "note": "same sender"}),
        ),
        (
            Method::POST,
            "/alerts",
            json!({
                "title": "Impossible travel", "severity": "SEV3", "source": "idp",
                "service": "payroll", "dedup_key": "alice", "summary": "two countries",
            }),
        ),
        (
            Method::POST,
            "/alerts/ALR-1/dismiss",
            json!({"kind": "false_positive", "reason": "the VPN exit moved"}),
        ),
        (
            Method::POST,
            "/reports",
            json!({
                "description": "a mail asked for my VPN password", "service": "payroll",
                "urgency": "SEV2", "name": "Dana", "contact": "dana@example.com",
            }),
        ),
        (Method::PUT, "/org", org_document()),
        (
            Method::POST,
            "/tokens",
            json!({"name": "shipper", "role": "ingest", "service": "web", "tenant": "acme"}),
        ),
    ]
}

async fn send(app: &TestApp, method: Method, path: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(method, format!("http://{}/api/v1{path}", app.addr))
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn audit_entries(app: &TestApp) -> u64 {
    let (status, page) = send(app, Method::GET, "/audit?limit=1", &Value::Null).await;
    assert_eq!(status, 200, "{page}");
    page["total"].as_u64().unwrap()
}

#[tokio::test]
async fn broken_request_bodies_are_refused_with_a_reason_and_change_nothing() {
    let app = spawn_app().await;
    // The seeds are valid: each is taken as it stands (INC-1 and INC-2 exist for the routes
    // on an incident, ALR-1 for the dismissal).
    for (method, path, body) in seeds() {
        if path == "/incidents/INC-1/links" {
            let (status, _) = send(&app, Method::POST, "/incidents", &seeds()[0].2).await;
            assert_eq!(status, 201);
        }
        let (status, answer) = send(&app, method.clone(), path, &body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {answer}"
        );
    }

    let seeds = seeds();
    let mut rng = Rng::new(418);
    let mut refused = 0;
    for round in 0..600 {
        let (method, path, seed) = &seeds[round % seeds.len()];
        let body = mutate(&mut rng, seed);
        let before = audit_entries(&app).await;
        let (status, answer) = send(&app, method.clone(), path, &body).await;
        let shown: String = answer.to_string().chars().take(300).collect();
        assert!(status < 500, "{method} {path} {status}: {shown}");
        if status >= 400 {
            refused += 1;
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert!(
                answer["error"]["code"].is_string() && message.len() > 10,
                "{method} {path} {status}: a JSON error that says what is wrong: {shown}"
            );
            assert_eq!(
                audit_entries(&app).await,
                before,
                "{method} {path} {status}: a refused request changes nothing: {shown}"
            );
        }
    }
    assert!(
        refused > 300,
        "most broken bodies are refused: {refused} of 600"
    );
    let (_, verified) = send(&app, Method::GET, "/audit/verify", &Value::Null).await;
    assert_eq!(verified["ok"], true, "{verified}");
}

/// Searches, aggregations and pivots with queries the parser takes or refuses — mutations of
/// every query of the parser's cases — over stored events of several shapes: never a 5xx, and
/// every refusal says what is wrong.
#[tokio::test]
async fn broken_and_odd_searches_are_answered_or_refused_with_a_reason() {
    let app = spawn_app().await;
    let events = [
        r#"{"@timestamp":"2026-11-30T10:00:00Z","user":{"name":"alice"},"source":{"ip":"203.0.113.9","port":443},"message":"login failed for alice"}"#,
        r#"{"Event":{"System":{"EventID":4625,"Channel":"Security","Computer":"dc1"},"EventData":{"TargetUserName":"bob","IpAddress":"::1"}}}"#,
        r#"{"http":{"status":500,"bytes":1.5e3},"url":"http://evil.example/a?b=c","tags":["x",null,true],"ok":false}"#,
        r#"{"message":"é 中文 \u0000 \\ \" * ? :","n":-9223372036854775808,"big":18446744073709551615}"#,
    ];
    let response = reqwest::Client::new()
        .post(format!(
            "http://{}/api/v1/events?service=web&host=w1",
            app.addr
        ))
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/x-ndjson")
        .body(events.join("\n"))
        .send()
        .await
        .unwrap();
    let stored: Value = response.json().await.unwrap();
    assert_eq!(stored["stored"], 4, "{stored}");
    let store = app.events.clone();
    tokio::task::spawn_blocking(move || store.refresh().unwrap())
        .await
        .unwrap();

    let cases =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vigil-query/tests/it/cases.txt");
    let cases = std::fs::read_to_string(cases).unwrap();
    let queries: Vec<String> = cases
        .lines()
        .filter_map(|l| l.strip_prefix("> "))
        .map(|q| q.replace("\\n", "\n"))
        .collect();
    const ALPHABET: &[u8] = b" :*?\"\\()[]{}<>|-.TOANDORNOTexists:countbytop10now-15m2026\xc3\xa9";
    let encode = |s: &str| -> String { form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let mut rng = Rng::new(1337);
    let (mut answered, mut refused) = (0, 0);
    for round in 0..900 {
        let seed = &queries[round % queries.len()];
        let query = match round % 3 {
            0 => seed.clone(),
            _ => String::from_utf8_lossy(&rng.mutate(seed.as_bytes(), ALPHABET)).into_owned(),
        };
        let path = match rng.below(4) {
            0 => format!("/events/pivot?field=user.name&value={}", encode(&query)),
            1 => format!("/events/pivot?value={}&from=now-3650d", encode(&query)),
            _ => format!(
                "/events/search?q={}&limit=5&from=2020-01-01",
                encode(&query)
            ),
        };
        let (status, answer) = send(&app, Method::GET, &path, &Value::Null).await;
        let shown: String = answer.to_string().chars().take(300).collect();
        assert!(status < 500, "{query:?} {path}: {status} {shown}");
        if status >= 400 {
            refused += 1;
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert!(message.len() > 10, "{query:?}: {status} {shown}");
        } else {
            answered += 1;
        }
    }
    assert!(
        answered > 300 && refused > 50,
        "{answered} answered, {refused} refused"
    );
}

/// The public report form (no login) with mutated and random form bodies: never a 5xx, and a
/// person on a browser always gets a page, never the API's JSON.
#[tokio::test]
async fn broken_report_forms_get_a_page_that_says_what_to_do() {
    let app = crate::support::spawn_app_with(|s| s.report_key = Some("k3y-for-staff".into())).await;
    const SEED: &[u8] = b"description=Got+a+mail+asking+for+my+VPN+password%0Afrom+it%40examp1e.com&service=vpn&urgency=SEV2&name=Dana&contact=dana%40example.com";
    const ALPHABET: &[u8] = b"=&%+0A9fF\x00\xff\xc3\xa9descriptionurgencySEV1";
    let mut rng = Rng::new(2600);
    for round in 0..200 {
        let body = match round % 4 {
            0 => (0..rng.below(300)).map(|_| rng.below(256) as u8).collect(),
            _ => rng.mutate(SEED, ALPHABET),
        };
        let response = reqwest::Client::new()
            .post(format!("http://{}/report/k3y-for-staff", app.addr))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let page = response.text().await.unwrap();
        let sent = String::from_utf8_lossy(&body);
        assert!(status < 500, "{sent:?}: {status} {page}");
        assert!(
            page.starts_with("<!doctype html>"),
            "{sent:?}: {status} {page}"
        );
    }
}

/// Event batches with broken lines, random bytes and lying encodings: never a 5xx; a batch is
/// answered with what was stored and each refused event, or refused whole with a reason, and
/// the events stored are exactly those the answers count.
#[tokio::test]
async fn broken_event_batches_are_stored_in_part_or_refused_with_a_reason() {
    let app = spawn_app().await;
    const SEED: &[u8] = b"{\"@timestamp\":\"2026-11-30T10:00:00Z\",\"user\":{\"name\":\"alice\"},\"message\":\"login failed\"}\n{\"n\":[1,2.5e3,-0,null,true],\"s\":\"\\u00e9\\\\\"}\n[{\"a\":1},{\"b\":2}]\n";
    const ALPHABET: &[u8] = b"{}[]:,\"\\\n\r\x000123456789.eE-+truefalsenull\xc3\xa9\x1f\x8b";
    let mut rng = Rng::new(5424);
    let mut stored = 0;
    for round in 0..300 {
        let body: Vec<u8> = match round % 5 {
            0 => (0..rng.below(400)).map(|_| rng.below(256) as u8).collect(),
            _ => rng.mutate(SEED, ALPHABET),
        };
        let content_type = ["application/x-ndjson", "application/json", "text/plain"][rng.below(3)];
        let mut request = reqwest::Client::new()
            .post(format!(
                "http://{}/api/v1/events?service=web&host=w1",
                app.addr
            ))
            .bearer_auth(&app.admin_token)
            .header("content-type", content_type);
        if round % 7 == 0 {
            request = request.header("content-encoding", "gzip");
        }
        let response = request.body(body.clone()).send().await.unwrap();
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let sent = String::from_utf8_lossy(&body);
        assert!(status < 500, "{sent:?}: {status} {answer}");
        if status == 200 {
            stored += answer["stored"].as_u64().expect("a count of stored events");
            for refused in answer["rejected"]
                .as_array()
                .expect("a list of refused events")
            {
                let reason = refused["reason"].as_str().unwrap_or_default();
                assert!(reason.len() > 10, "{sent:?}: {answer}");
            }
        } else {
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert!(message.len() > 10, "{sent:?}: {status} {answer}");
        }
    }
    assert!(stored > 100, "most batches store something: {stored}");
    let store = app.events.clone();
    tokio::task::spawn_blocking(move || store.refresh().unwrap())
        .await
        .unwrap();
    let (_, stats) = send(&app, Method::GET, "/events/stats", &Value::Null).await;
    assert_eq!(stats["total_events"], stored, "{stats}");
}

/// Every read route with query parameters given odd values — negative, huge, empty, unknown,
/// malformed times, control characters, unknown parameters — over an organisation, an incident,
/// an alert and stored events: never a 5xx, and every refusal says what is wrong.
#[tokio::test]
async fn odd_query_parameters_are_answered_or_refused_with_a_reason() {
    let app = spawn_app().await;
    for (method, path, body) in [
        (Method::PUT, "/org", org_document()),
        (Method::POST, "/incidents", seeds()[0].2.clone()),
        (Method::POST, "/alerts", seeds()[7].2.clone()),
    ] {
        let (status, answer) = send(&app, method, path, &body).await;
        assert!(status < 300, "{path}: {status} {answer}");
    }
    let (status, _) = send(
        &app,
        Method::POST,
        "/events?service=web&host=w1",
        &json!({"user": {"name": "alice"}, "message": "login failed"}),
    )
    .await;
    assert_eq!(status, 200);

    const ROUTES: &[(&str, &[&str])] = &[
        (
            "/incidents",
            &[
                "phase", "severity", "priority", "category", "service", "tenant", "limit", "offset",
            ],
        ),
        ("/incidents/INC-1/actions", &["limit", "offset"]),
        ("/indicators", &["value", "kind"]),
        (
            "/alerts",
            &["status", "service", "rule_id", "source", "limit", "offset"],
        ),
        ("/events/search", &["q", "from", "to", "limit", "cursor"]),
        ("/events/pivot", &["value", "field", "from", "to", "limit"]),
        (
            "/detections",
            &["rule_id", "service", "min_level", "after_id", "limit"],
        ),
        ("/oncall", &["team", "service", "at"]),
        ("/oncall/coverage", &["team", "from", "days"]),
        ("/audit", &["incident", "limit", "offset"]),
    ];
    const VALUES: &[&str] = &[
        "",
        "-1",
        "0",
        "1",
        "4294967296",
        "99999999999999999999",
        "1e9",
        "abc",
        "SEV9",
        "2026-13-45",
        "now-99999999d",
        "now+1h",
        "2026-01-01T00:00:00Z",
        "\u{0}",
        "\u{202e}é",
        "INC-999999",
        "payments-secops",
        "payments-api",
        "alice",
        "*",
        "(",
        "%",
        "open",
        "high",
        "ip",
    ];
    let encode = |s: &str| -> String { form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let mut rng = Rng::new(8080);
    for _ in 0..600 {
        let (route, params) = ROUTES[rng.below(ROUTES.len())];
        let mut query = Vec::new();
        for _ in 0..rng.below(4) {
            let name = match rng.below(8) {
                0 => "colour",
                _ => params[rng.below(params.len())],
            };
            let value = match rng.below(6) {
                0 => "x".repeat(5_000),
                _ => VALUES[rng.below(VALUES.len())].to_owned(),
            };
            query.push(format!("{name}={}", encode(&value)));
        }
        let path = format!("{route}?{}", query.join("&"));
        let (status, answer) = send(&app, Method::GET, &path, &Value::Null).await;
        let shown: String = answer.to_string().chars().take(300).collect();
        assert!(status < 500, "{path}: {status} {shown}");
        if status >= 400 {
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert!(message.len() > 10, "{path}: {status} {shown}");
        }
    }
}

/// Odd identifiers in the paths of every route that names a record — unknown, malformed,
/// huge, negative, with control characters — are a 400 or a 404 that says what is wrong,
/// never a 5xx, and a refused write changes nothing.
#[tokio::test]
async fn odd_identifiers_in_paths_are_refused_with_a_reason() {
    let app = spawn_app().await;
    let (status, _) = send(&app, Method::POST, "/incidents", &seeds()[0].2).await;
    assert_eq!(status, 201);
    const IDS: &[&str] = &[
        "INC-999999",
        "INC-0",
        "INC--1",
        "INC-99999999999999999999",
        "inc-1",
        "1",
        "-1",
        "ALR-1",
        "0190c3b5-0000-7000-8000-000000000000",
        "not-a-uuid",
        "%00",
        "%E2%80%AE",
        "..%2F..%2Fetc%2Fpasswd",
        "%20",
        "x",
    ];
    const ROUTES: &[(&str, &str)] = &[
        ("GET", "/incidents/{}"),
        ("GET", "/incidents/{}/actions"),
        ("GET", "/incidents/{}/related"),
        ("GET", "/incidents/{}/evidence"),
        ("GET", "/incidents/INC-1/evidence/{}"),
        ("GET", "/incidents/INC-1/evidence/{}/content"),
        ("DELETE", "/incidents/INC-1/links/{}"),
        ("DELETE", "/incidents/INC-1/indicators/{}"),
        ("GET", "/alerts/{}"),
        ("GET", "/detections/{}"),
        ("POST", "/alerts/{}/ack"),
        ("POST", "/alerts/{}/resolve"),
        ("DELETE", "/tokens/{}"),
        ("GET", "/audit?incident={}"),
    ];
    let before = audit_entries(&app).await;
    for (method, route) in ROUTES {
        for id in IDS {
            let path = route.replace("{}", id);
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let (status, answer) = send(&app, method.clone(), &path, &Value::Null).await;
            assert!(status < 500, "{method} {path}: {status} {answer}");
            if status >= 400 {
                let message = answer["error"]["message"].as_str().unwrap_or_default();
                assert!(message.len() > 10, "{method} {path}: {status} {answer}");
            }
        }
    }
    assert_eq!(audit_entries(&app).await, before, "nothing was changed");
}
