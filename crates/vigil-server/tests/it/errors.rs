//! Bad input: every rejection is a JSON error naming the field, and changes nothing — the list
//! of incidents and the audit trail are the same after it as before.

use reqwest::Method;
use vigil_api::error::ErrorCode;
use vigil_api::types::{AuditQuery, IncidentQuery};
use vigil_client::ClientError;

use crate::incidents::new_incident;
use crate::support::{TestApp, spawn_app, spawn_app_with};

async fn counts(app: &TestApp) -> (u64, u64) {
    let incidents = app
        .admin
        .list_incidents(&IncidentQuery::default())
        .await
        .unwrap()
        .total;
    let audit = app.admin.audit(&AuditQuery::default()).await.unwrap().total;
    (incidents, audit)
}

fn field_of(err: ClientError) -> (u16, ErrorCode, Option<String>) {
    match err {
        ClientError::Api {
            status,
            code,
            field,
            ..
        } => (status, code, field),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_input_names_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    app.responder
        .create_incident(&new_incident("existing"))
        .await
        .unwrap();
    let before = counts(&app).await;

    let cases: &[(&str, &str, &str)] = &[
        (
            "/incidents",
            r#"{"summary": "s", "severity": "SEV2"}"#,
            "title",
        ),
        (
            "/incidents",
            r#"{"title": "t", "summary": "s", "severity": "SEV9"}"#,
            "severity",
        ),
        (
            "/incidents",
            r#"{"title": "t", "summary": "s", "severity": "SEV2", "services": "web"}"#,
            "services",
        ),
        (
            "/incidents",
            r#"{"title": "t", "summary": "s", "severity": "SEV2", "colour": "red"}"#,
            "colour",
        ),
        (
            "/incidents",
            r#"{"title": "t", "summary": "s", "severity": "SEV2", "techniques": ["not-a-technique"]}"#,
            "techniques",
        ),
        (
            "/incidents",
            r#"{"title": "t", "summary": "s", "severity": "SEV2", "indicators": [{"kind": "ip", "value": "1.2.3"}]}"#,
            "indicators[0].value",
        ),
        (
            "/incidents",
            r#"{"title": "t", "summary": "s", "severity": "SEV2", "indicators": [{"kind": "ip", "value": "10.0.0.1"}, {"kind": "domain", "value": "-x-"}]}"#,
            "indicators[1].value",
        ),
        (
            "/incidents",
            r#"{"title": "t", "summary": "s", "severity": "SEV2", "indicators": [{"kind": "dns", "value": "x", "extra": 1}]}"#,
            "indicators[0].extra",
        ),
        (
            "/incidents",
            r#"{"title": "t", "summary": "s", "severity": "SEV2", "tenants": ["ok", " "]}"#,
            "tenants",
        ),
        (
            "/incidents",
            r#"{"title": "t", "summary": "s", "severity": "SEV2", "first_activity": "2026-11-02T00:00:00Z", "detected": "2026-11-01T00:00:00Z"}"#,
            "detected",
        ),
        (
            "/incidents",
            r#"{"title": "t", "summary": "s", "severity": "SEV2", "acknowledged": "2099-01-01T00:00:00Z"}"#,
            "acknowledged",
        ),
        (
            "/incidents",
            r#"{"title": "", "summary": "s", "severity": "SEV2"}"#,
            "title",
        ),
        ("/incidents", r#"{"title": "t", "summary": "#, "body"),
        // serde's derive would read a struct from an array; a body is an object.
        ("/incidents", r#"["t", "s", "SEV3"]"#, "body"),
        ("/incidents", r#""t""#, "body"),
        (
            "/incidents/INC-1/indicators",
            r#"["ip", "1.2.3.4"]"#,
            "body",
        ),
        (
            "/incidents/INC-1/severity",
            r#"{"severity": "SEV1"}"#,
            "reason",
        ),
        (
            "/incidents/INC-1/indicators",
            r#"{"kind": "ip", "value": "999.1.1.1"}"#,
            "value",
        ),
        (
            "/incidents/INC-1/indicators",
            r#"{"kind": "dns", "value": "x"}"#,
            "kind",
        ),
        (
            "/incidents/INC-1/phase",
            r#"{"phase": "finished"}"#,
            "phase",
        ),
        (
            "/incidents/INC-1/timestamps",
            r#"{"kind": "detected", "at": "yesterday", "reason": "r"}"#,
            "at",
        ),
        (
            "/incidents/INC-1/timestamps",
            r#"{"kind": "detected", "at": null, "reason": " "}"#,
            "reason",
        ),
        // The correction's time is `at`, whatever is wrong with it.
        (
            "/incidents/INC-1/timestamps",
            r#"{"kind": "detected", "at": null, "reason": "x"}"#,
            "at",
        ),
        (
            "/incidents/INC-1/timestamps",
            r#"{"kind": "first_activity", "at": "2099-01-01T00:00:00Z", "reason": "x"}"#,
            "at",
        ),
        (
            "/incidents/INC-1/phase",
            r#"{"phase": "analysis", "root_cause": " "}"#,
            "root_cause",
        ),
        (
            "/incidents/INC-1/actions",
            r#"{"text": "x", "kind": "lunch"}"#,
            "kind",
        ),
        ("/incidents/INC-1/links", r#"{"other": "INC-1"}"#, "other"),
        (
            "/incidents/INC-1/post-mortem",
            r#"{"summary": " "}"#,
            "summary",
        ),
        ("/alerts/declare", r#"{"alerts": ["bogus"]}"#, "alerts[0]"),
        // An escape in the notes would be played by every terminal that shows the incident.
        (
            "/incidents",
            r#"{"title": "t", "summary": "s", "severity": "SEV2", "data_impact": {"personal_data": true, "notes": "rows\u001b[2J"}}"#,
            "data_impact.notes",
        ),
    ];
    for (path, body, field) in cases {
        let err = app
            .responder
            .send_raw(Method::POST, path, "application/json", body.to_string())
            .await
            .unwrap_err();
        let (status, code, got) = field_of(err);
        assert_eq!(
            (status, code),
            (400, ErrorCode::InvalidField),
            "{path} {body}"
        );
        assert_eq!(got.as_deref(), Some(*field), "{path} {body}");
    }
    let err = app
        .responder
        .send_raw(
            Method::PATCH,
            "/incidents/INC-1",
            "application/json",
            r#"{"tlp": "purple"}"#,
        )
        .await
        .unwrap_err();
    assert_eq!(field_of(err).2.as_deref(), Some("tlp"));
    // A correction out of order with another milestone (a first activity after the detection,
    // within the clock skew allowed) names `at` too.
    let after_detection = (chrono::Utc::now() + chrono::Duration::minutes(2)).to_rfc3339();
    let err = app
        .responder
        .send_raw(
            Method::POST,
            "/incidents/INC-1/timestamps",
            "application/json",
            format!(r#"{{"kind": "first_activity", "at": "{after_detection}", "reason": "x"}}"#),
        )
        .await
        .unwrap_err();
    assert_eq!(
        field_of(err),
        (400, ErrorCode::InvalidField, Some("at".to_owned()))
    );
    // A patch that changes nothing: the body as a whole is at fault.
    let err = app
        .responder
        .send_raw(Method::PATCH, "/incidents/INC-1", "application/json", "{}")
        .await
        .unwrap_err();
    assert_eq!(
        field_of(err),
        (400, ErrorCode::InvalidField, Some("body".to_owned()))
    );
    let err = app
        .responder
        .send_raw(
            Method::PATCH,
            "/incidents/INC-1",
            "application/json",
            r#"{"data_impact": {"customer_data": true, "notes": "export\u0000ed"}}"#,
        )
        .await
        .unwrap_err();
    assert_eq!(
        field_of(err),
        (
            400,
            ErrorCode::InvalidField,
            Some("data_impact.notes".to_owned())
        )
    );
    let err = app
        .responder
        .send_raw(Method::POST, "/incidents", "text/plain", "title=x")
        .await
        .unwrap_err();
    assert_eq!(field_of(err).2.as_deref(), Some("content-type"));
    let err = app
        .viewer
        .send_raw(
            Method::GET,
            "/incidents?severity=SEV7",
            "application/json",
            "",
        )
        .await
        .unwrap_err();
    assert_eq!(field_of(err).2.as_deref(), Some("severity"));
    // A post-mortem before phase post_incident is well formed but out of place: a conflict
    // with the incident's state, as a refused phase change is.
    let err = app
        .responder
        .send_raw(
            Method::POST,
            "/incidents/INC-1/post-mortem",
            "application/json",
            r#"{"summary": "written before post_incident"}"#.to_string(),
        )
        .await
        .unwrap_err();
    assert_eq!(field_of(err), (409, ErrorCode::Conflict, None));

    assert_eq!(
        counts(&app).await,
        before,
        "rejected requests changed nothing"
    );
}

#[tokio::test]
async fn oversized_json_is_413_and_changes_nothing() {
    let app = spawn_app_with(|s| s.json_body_limit = 4096).await;
    let before = counts(&app).await;
    let mut req = new_incident("big");
    req.summary = "x".repeat(10_000);
    let err = app.responder.create_incident(&req).await.unwrap_err();
    assert_eq!(field_of(err).1, ErrorCode::PayloadTooLarge);
    assert_eq!(counts(&app).await, before);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = spawn_app().await;
    let err = app
        .admin
        .send_raw(Method::GET, "/nowhere", "application/json", "")
        .await
        .unwrap_err();
    assert_eq!(field_of(err).1, ErrorCode::NotFound);
    let err = app
        .admin
        .send_raw(Method::PUT, "/incidents", "application/json", "{}")
        .await
        .unwrap_err();
    assert_eq!(field_of(err).1, ErrorCode::MethodNotAllowed);
    let err = app.admin.get_incident("not-a-key").await.unwrap_err();
    let (status, code, _) = field_of(err);
    assert!(matches!(
        (status, code),
        (400, ErrorCode::InvalidField) | (404, ErrorCode::NotFound)
    ));
}

/// A path parameter axum cannot read (not UTF-8 once percent-decoded) is the API's JSON error
/// naming the parameter, on every kind of route, not axum's plain-text "Invalid URL".
#[tokio::test]
async fn unreadable_path_parameters_answer_json_naming_the_parameter() {
    let app = spawn_app().await;
    app.responder
        .create_incident(&new_incident("existing"))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let cases = [
        (Method::GET, "/api/v1/incidents/%FF", "key"),
        (Method::GET, "/api/v1/incidents/INC-1/evidence/%FF", "id"),
        (Method::GET, "/api/v1/incidents/%FF/evidence/x", "key"),
        (Method::POST, "/api/v1/alerts/%FF/ack", "key"),
        (Method::GET, "/api/v1/detections/%FF", "id"),
        (Method::DELETE, "/api/v1/incidents/INC-1/links/%FF", "other"),
    ];
    for (method, path, field) in cases {
        let r = http
            .request(method.clone(), format!("http://{}{path}", app.addr))
            .bearer_auth(&app.responder_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{method} {path}");
        let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(
            content_type.starts_with("application/json"),
            "{path}: {content_type}"
        );
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_field", "{path}: {body}");
        assert_eq!(body["error"]["field"], field, "{path}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("check the URL"), "{path}: {message}");
    }
}

/// A query parameter a route does not take is refused with 400 naming it, on every /api/v1
/// route but the health check and the metrics scrape: those that take none as those that take
/// some; nothing changes; and the document lists that 400 on every operation that answers it.
/// The health check and the metrics scrape ignore parameters (a monitor's cache-buster).
#[tokio::test]
async fn an_unknown_query_parameter_is_refused_on_every_route() {
    let app = spawn_app().await;
    app.responder
        .create_incident(&new_incident("existing"))
        .await
        .unwrap();
    let token = app
        .admin
        .create_token(&vigil_api::types::CreateToken {
            name: "spare".into(),
            role: vigil_api::types::Role::Viewer,
            service: None,
            tenant: None,
        })
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://{}", app.addr);

    // The audit's own case: a revocation with a stray parameter revokes nothing.
    let r = http
        .delete(format!("{base}/api/v1/tokens/{}?x=1", token.info.id))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let err: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (
            err["error"]["code"].as_str(),
            err["error"]["field"].as_str()
        ),
        (Some("invalid_field"), Some("x")),
        "{err}"
    );
    let tokens = app.admin.list_tokens().await.unwrap();
    assert!(
        tokens
            .iter()
            .any(|t| t.id == token.info.id && t.revoked_at.is_none()),
        "{tokens:?}"
    );
    let before = counts(&app).await;

    // Every documented operation, and the document itself.
    let doc: serde_json::Value = http
        .get(format!("{base}/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut operations = vec![(
        "get".to_owned(),
        "/api/v1/openapi.json".to_owned(),
        serde_json::Value::Null,
    )];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations.push((method.clone(), path.clone(), op.clone()));
        }
    }
    assert!(operations.len() > 40, "{operations:?}");
    for (method, path, op) in operations {
        let url = path
            .replace("{key}", "INC-1")
            .replace("{other}", "INC-2")
            .replace("{id}", &uuid::Uuid::nil().to_string());
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let r = http
            .request(method.clone(), format!("{base}{url}?colour=red"))
            .bearer_auth(&app.admin_token)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let err: serde_json::Value = r.json().await.unwrap_or_default();
        if ["/api/v1/health", "/api/v1/metrics"].contains(&path.as_str()) {
            assert_eq!(status, 200, "{method} {path} ignores parameters: {err}");
            let description = op["description"].as_str().unwrap_or("");
            assert!(
                description.contains("Query parameters are ignored"),
                "{method} {path}: {description}"
            );
            assert!(op["responses"].get("400").is_none(), "{method} {path}");
            continue;
        }
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (400, Some("colour")),
            "{method} {path}: {err}"
        );
        if op.is_null() {
            continue;
        }
        let documented = op["responses"]["400"]["description"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} answers 400 and documents none"));
        assert!(
            documented.contains("query parameter"),
            "{method} {path}: the 400 does not say a query parameter is refused: {documented}"
        );
    }
    assert_eq!(
        counts(&app).await,
        before,
        "refused requests changed nothing"
    );

    // A monitor's cache-buster on the health check and the metrics scrape changes nothing.
    for url in ["/api/v1/health?_=123", "/api/v1/metrics?_=123&x"] {
        let r = http
            .get(format!("{base}{url}"))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{url}");
    }
    let r = http
        .get(format!("{base}/api/v1/health?_=123"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "health without a token");
}

/// A caller a route does not let in is answered 401 (no valid token) or 403 (a role it does
/// not let in) whatever query parameters it sends, as without them: a stranger does not learn
/// from the refusal what a route takes. The public document still names the parameter; the
/// health check and the metrics scrape ignore it.
#[tokio::test]
async fn a_caller_not_let_in_is_refused_before_an_unknown_query_parameter() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", app.addr);
    let doc: serde_json::Value = http
        .get(format!("{base}/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // (method, path, roles let in; none for a public route)
    let mut operations = vec![(
        "get".to_owned(),
        "/api/v1/openapi.json".to_owned(),
        Vec::new(),
    )];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let roles: Vec<String> = op["x-vigil-roles"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| r.as_str().unwrap().to_owned())
                .collect();
            operations.push((method.clone(), path.clone(), roles));
        }
    }
    assert!(
        operations
            .iter()
            .any(|(_, p, roles)| p == "/api/v1/health" && roles.is_empty()),
        "health is public"
    );
    let viewer = app.viewer_token();
    for (method, path, roles) in operations {
        let url = path
            .replace("{key}", "INC-1")
            .replace("{other}", "INC-2")
            .replace("{id}", &uuid::Uuid::nil().to_string());
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let public = roles.is_empty();
        // What a caller let in gets: the parameter refused, or ignored.
        let let_in = if ["/api/v1/health", "/api/v1/metrics"].contains(&path.as_str()) {
            200
        } else {
            400
        };
        let callers = [
            ("no token", None, if public { let_in } else { 401 }),
            (
                "an unknown token",
                Some("vgl_not_a_token"),
                if public { let_in } else { 401 },
            ),
            (
                "a viewer token",
                Some(viewer.as_str()),
                if public || roles.iter().any(|r| r == "viewer") {
                    let_in
                } else {
                    403
                },
            ),
        ];
        for (who, token, expected) in callers {
            let mut request = http
                .request(method.clone(), format!("{base}{url}?colour=red"))
                .header("content-type", "application/json")
                .body("{}");
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            let err: serde_json::Value = r.json().await.unwrap_or_default();
            assert_eq!(status, expected, "{who}: {method} {path}: {err}");
            let field = err["error"]["field"].as_str();
            if expected == 400 {
                assert_eq!(field, Some("colour"), "{who}: {method} {path}: {err}");
            } else if expected == 200 {
                assert!(err.get("error").is_none(), "{who}: {method} {path}: {err}");
            } else {
                assert_eq!(field, None, "{who}: {method} {path}: {err}");
                assert!(
                    !err.to_string().contains("colour"),
                    "{who}: {method} {path}: {err}"
                );
            }
        }
    }
}
