//! The OpenAPI document is generated from the routes: every route the router answers is
//! documented, and the served document is the generated one.

use crate::support::{spawn_app, spawn_app_with};

/// Every (method, path) the API serves, as the issue lists them.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/health"),
    ("get", "/api/v1/metrics"),
    ("post", "/api/v1/incidents"),
    ("get", "/api/v1/incidents"),
    ("get", "/api/v1/incidents/{key}"),
    ("patch", "/api/v1/incidents/{key}"),
    ("post", "/api/v1/incidents/{key}/severity"),
    ("post", "/api/v1/incidents/{key}/phase"),
    ("post", "/api/v1/incidents/{key}/timestamps"),
    ("post", "/api/v1/incidents/{key}/post-mortem"),
    ("post", "/api/v1/incidents/{key}/findings"),
    ("get", "/api/v1/findings"),
    ("get", "/api/v1/findings/{key}"),
    ("patch", "/api/v1/findings/{key}"),
    ("post", "/api/v1/incidents/{key}/indicators"),
    ("delete", "/api/v1/incidents/{key}/indicators/{id}"),
    ("get", "/api/v1/indicators"),
    ("post", "/api/v1/incidents/{key}/links"),
    ("delete", "/api/v1/incidents/{key}/links/{other}"),
    ("get", "/api/v1/incidents/{key}/related"),
    ("get", "/api/v1/incidents/{key}/actions"),
    ("post", "/api/v1/incidents/{key}/actions"),
    ("post", "/api/v1/incidents/{key}/evidence"),
    ("get", "/api/v1/incidents/{key}/evidence"),
    ("get", "/api/v1/incidents/{key}/evidence/{id}"),
    ("get", "/api/v1/incidents/{key}/evidence/{id}/content"),
    ("post", "/api/v1/incidents/{key}/evidence/{id}/custody"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/audit/verify"),
    ("post", "/api/v1/tokens"),
    ("get", "/api/v1/tokens"),
    ("delete", "/api/v1/tokens/{id}"),
    ("get", "/api/v1/admin/backup"),
    ("post", "/api/v1/events"),
    ("get", "/api/v1/events/search"),
    ("get", "/api/v1/events/pivot"),
    ("get", "/api/v1/events/stats"),
    ("post", "/api/v1/incidents/{key}/pivot"),
    ("get", "/api/v1/detections"),
    ("get", "/api/v1/detections/{id}"),
    ("get", "/api/v1/rules"),
    ("post", "/api/v1/rules/reload"),
    ("post", "/api/v1/rules/preview"),
    ("put", "/api/v1/org"),
    ("get", "/api/v1/org"),
    ("get", "/api/v1/oncall"),
    ("get", "/api/v1/oncall/coverage"),
    ("post", "/api/v1/alerts"),
    ("get", "/api/v1/alerts"),
    ("get", "/api/v1/alerts/rules"),
    ("get", "/api/v1/alerts/{key}"),
    ("post", "/api/v1/alerts/{key}/ack"),
    ("post", "/api/v1/alerts/{key}/resolve"),
    ("post", "/api/v1/alerts/{key}/dismiss"),
    ("post", "/api/v1/alerts/declare"),
    ("post", "/api/v1/reports"),
    ("post", "/api/v1/alerts/{key}/merge"),
    ("get", "/api/v1/review/monthly"),
];

#[tokio::test]
async fn openapi_lists_every_route_and_each_documented_route_answers() {
    let app = spawn_app().await;
    let doc = app.viewer.openapi().await.unwrap();
    let paths = doc["paths"].as_object().expect("paths");
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    for (method, path) in ROUTES {
        assert!(
            documented.iter().any(|(m, p)| m == method && p == path),
            "{method} {path} is not in the OpenAPI document"
        );
    }
    assert_eq!(documented.len(), ROUTES.len(), "documented: {documented:?}");
    // Each documented route is really served: no 404/405 for its method and path.
    let http = reqwest::Client::new();
    for (method, path) in &documented {
        let url = format!(
            "http://{}{}",
            app.addr,
            path.replace("{key}", "INC-1")
                .replace("{id}", "x")
                .replace("{other}", "INC-2")
        );
        let resp = http
            .request(method.to_uppercase().parse().unwrap(), &url)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        if status == 404 {
            let body: serde_json::Value = resp.json().await.unwrap();
            assert!(
                !body["error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("no such route"),
                "{method} {path}"
            );
        } else {
            assert_ne!(status, 405, "{method} {path}");
        }
    }
    // The served document is the generated one.
    assert_eq!(doc, serde_json::to_value(vigil_server::openapi()).unwrap());
}

/// Every `$ref` in the document names a schema the document defines, so clients generated
/// from it see the domain types (`Incident`, `Evidence` …) in full.
#[test]
fn every_schema_reference_resolves() {
    fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("$ref", serde_json::Value::String(r)) => out.push(r.clone()),
                        _ => refs(x, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let doc = serde_json::to_value(vigil_server::openapi()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in [
        "Incident",
        "Evidence",
        "Indicator",
        "ErrorBody",
        "NewIncident",
    ] {
        assert!(schemas.contains_key(name), "{name} is not in the document");
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {r}"));
        assert!(schemas.contains_key(name), "{r} does not resolve");
    }
}

/// Every enum schema in the document lists exactly the values serde writes and reads: clients
/// generated from the document send `post_incident`, never `PostIncident`. An enum that appears
/// in the document without an entry here fails the test until it is added.
#[test]
fn every_enum_schema_lists_the_wire_values() {
    use std::collections::BTreeMap;

    use vigil_api::error::ErrorCode;
    use vigil_core::{
        ActionKind, AlertSource, AlertStatus, AssetCriticality, Category, ChainProblem, Dismissal,
        FactorKind, FindingKind, FindingState, IndicatorKind, Pap, ParticipantRole, Phase,
        Priority, Role, RuleLevel, Severity, TimestampKind, Tlp,
    };
    use vigil_oncall::{ContactKind, Day, WebhookFormat};

    fn wire<T: serde::Serialize>(all: &[T]) -> Vec<serde_json::Value> {
        all.iter()
            .map(|v| serde_json::to_value(v).unwrap())
            .collect()
    }
    let mut expected: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::from([
        ("ActionKind", wire(ActionKind::ALL)),
        ("AlertSource", wire(AlertSource::ALL)),
        ("AlertStatus", wire(AlertStatus::ALL)),
        ("AssetCriticality", wire(AssetCriticality::ALL)),
        ("Category", wire(Category::ALL)),
        ("Dismissal", wire(Dismissal::ALL)),
        ("FactorKind", wire(FactorKind::ALL)),
        ("FindingKind", wire(FindingKind::ALL)),
        ("FindingState", wire(FindingState::ALL)),
        ("ParticipantRole", wire(ParticipantRole::ALL)),
        ("ErrorCode", wire(&ErrorCode::ALL)),
        ("IndicatorKind", wire(IndicatorKind::ALL)),
        ("Pap", wire(Pap::ALL)),
        ("Phase", wire(Phase::ALL)),
        ("Priority", wire(Priority::ALL)),
        ("Role", wire(Role::ALL)),
        ("RuleLevel", wire(RuleLevel::ALL)),
        ("Severity", wire(Severity::ALL)),
        ("TimestampKind", wire(TimestampKind::ALL)),
        ("Tlp", wire(Tlp::ALL)),
        (
            "ContactKind",
            wire(&[ContactKind::Email, ContactKind::Webhook, ContactKind::Phone]),
        ),
        ("Day", wire(&Day::every_day())),
        ("WebhookFormat", wire(WebhookFormat::ALL)),
    ]);
    // A request's indicator kind: the kinds and `hash`; inline in the `kind` filter too.
    let kind_input: Vec<serde_json::Value> = vigil_core::schema::IndicatorKindInput::names()
        .into_iter()
        .map(serde_json::Value::from)
        .collect();
    expected.insert("IndicatorKindInput", kind_input.clone());
    // ChainProblem is tagged: its schema is one object per variant, each with a one-value
    // `kind` enum.
    let chain_kinds: Vec<serde_json::Value> = [
        ChainProblem::SequenceGap {
            expected: 1,
            found: 2,
        },
        ChainProblem::PrevHashMismatch,
        ChainProblem::HashMismatch,
        ChainProblem::Truncated {
            expected: 1,
            found: 2,
        },
        ChainProblem::HeadMismatch {
            expected: 1,
            found: 2,
        },
        ChainProblem::HeadMissing {
            records: String::new(),
        },
        ChainProblem::RecordAltered {
            record: String::new(),
            entry: 1,
        },
        ChainProblem::RecordUnaudited {
            record: String::new(),
        },
        ChainProblem::RecordMissing {
            record: String::new(),
            entry: 1,
        },
    ]
    .iter()
    .map(|p| serde_json::to_value(p).unwrap()["kind"].clone())
    .collect();

    fn enums<'a>(
        v: &'a serde_json::Value,
        at: String,
        out: &mut Vec<(String, &'a serde_json::Value)>,
    ) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    if k == "enum" {
                        out.push((at.clone(), x));
                    } else {
                        enums(x, format!("{at}/{k}"), out);
                    }
                }
            }
            serde_json::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    enums(x, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    let doc = serde_json::to_value(vigil_server::openapi()).unwrap();
    let mut found = Vec::new();
    enums(&doc, String::new(), &mut found);
    let mut seen_chain_kinds = Vec::new();
    let mut checked = 0;
    for (at, values) in found {
        let values = values.as_array().expect("an enum is an array");
        if let Some(name) = at.strip_prefix("/components/schemas/")
            && let Some(want) = expected.remove(name)
        {
            assert_eq!(values, &want, "{at}: the schema's values are not serde's");
            checked += 1;
        } else if at == "/paths//api/v1/indicators/get/parameters/1/schema" {
            assert_eq!(values, &kind_input, "{at}");
        } else if at.starts_with("/components/schemas/ChainProblem/oneOf/")
            && at.ends_with("/properties/kind")
        {
            seen_chain_kinds.extend(values.iter().cloned());
        } else {
            panic!("{at} is an enum this test does not know; add its type to `expected`");
        }
    }
    assert!(checked >= 18, "only {checked} enum schemas were found");
    seen_chain_kinds.sort_by_key(|v| v.to_string());
    let mut chain_kinds = chain_kinds;
    chain_kinds.sort_by_key(|v| v.to_string());
    assert_eq!(seen_chain_kinds, chain_kinds);
    // Types not in the document (yet) are fine; a type listed twice is not.
    assert!(
        expected.is_empty(),
        "not in the document: {:?}",
        expected.keys().collect::<Vec<_>>()
    );
}

/// Every operation has its own operationId, as OpenAPI requires: generated clients name their
/// methods from it, and two `get`s would collide.
#[test]
fn operation_ids_are_unique() {
    let doc = serde_json::to_value(vigil_server::openapi()).unwrap();
    let mut ids = std::collections::BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            if let Some(other) = ids.insert(id.to_owned(), format!("{method} {path}")) {
                panic!("{method} {path} and {other} share the operationId {id:?}");
            }
        }
    }
    assert_eq!(ids.len(), ROUTES.len());
}

/// The operations anyone may call: the health check. (The OpenAPI document itself, the public
/// report form `/report/{key}` and the signed acknowledgement links `/ack/{key}` need no token
/// either, and are not API operations in the document: its description names them, see
/// `the_description_names_every_route_without_a_token_and_the_head_limits`.)
const PUBLIC: &[&str] = &["get_health"];

fn operations(doc: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), op.clone()));
        }
    }
    out
}

/// Every operation that needs a token documents 401 and 403 and names the roles it lets in.
#[test]
fn every_authenticated_operation_documents_401_403_and_its_roles() {
    let doc = serde_json::to_value(vigil_server::openapi()).unwrap();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap();
        let responses = op["responses"].as_object().unwrap();
        if PUBLIC.contains(&id) {
            assert!(!responses.contains_key("401"), "{method} {path}");
            assert!(op.get("x-vigil-roles").is_none(), "{method} {path}");
            continue;
        }
        for status in ["401", "403"] {
            let response = responses
                .get(status)
                .unwrap_or_else(|| panic!("{method} {path} does not document {status}"));
            assert!(
                !response["description"].as_str().unwrap_or("").is_empty(),
                "{method} {path}: {status} has no description"
            );
            assert_eq!(
                response["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{method} {path}: {status}"
            );
        }
        let roles = op["x-vigil-roles"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path} lists no roles"));
        assert!(!roles.is_empty(), "{method} {path}");
        let description = op["description"].as_str().unwrap_or("");
        for role in roles {
            assert!(
                description.contains(role.as_str().unwrap()),
                "{method} {path}: the description does not name the {role} role: {description}"
            );
        }
    }
}

/// The roles the document lists are the ones the server lets in: every other role gets 403,
/// no token gets 401, and a listed role is never refused for its role.
#[tokio::test]
async fn the_documented_roles_are_the_roles_the_server_lets_in() {
    use vigil_api::types::{CreateToken, Role};

    let app = spawn_app().await;
    let ingest = app
        .admin
        .create_token(&CreateToken {
            name: "sender".into(),
            role: Role::Ingest,
            service: None,
            tenant: None,
        })
        .await
        .unwrap()
        .token;
    let tokens = [
        ("ingest", ingest),
        ("viewer", app.viewer_token()),
        ("responder", app.responder_token.clone()),
        ("admin", app.admin_token.clone()),
    ];
    let doc = app.viewer.openapi().await.unwrap();
    let http = reqwest::Client::new();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap();
        if PUBLIC.contains(&id) {
            continue;
        }
        let key = if path.starts_with("/api/v1/alerts") {
            "ALR-1"
        } else {
            "INC-1"
        };
        let url = format!(
            "http://{}{}",
            app.addr,
            path.replace("{key}", key)
                .replace("{id}", "00000000-0000-0000-0000-000000000000")
                .replace("{other}", "INC-2")
        );
        let request = |token: Option<&str>| {
            let mut req = http
                .request(method.to_uppercase().parse().unwrap(), &url)
                .header("content-type", "application/json")
                .body("{}");
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            req.send()
        };
        let status = request(None).await.unwrap().status().as_u16();
        assert_eq!(status, 401, "{method} {path} without a token");
        let roles: Vec<&str> = op["x-vigil-roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        for (role, token) in &tokens {
            let status = request(Some(token)).await.unwrap().status().as_u16();
            if roles.contains(role) {
                assert_ne!(status, 403, "{method} {path} refused the {role} role");
                assert_ne!(status, 401, "{method} {path} refused the {role} token");
            } else {
                assert_eq!(status, 403, "{method} {path} let the {role} role in");
            }
        }
    }
}

/// Whether an operation takes a path or query parameter, and whether its body is JSON.
fn inputs(op: &serde_json::Value) -> (bool, bool) {
    let parameters = op["parameters"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["in"] == "path" || p["in"] == "query"));
    let json_body = op["requestBody"]["content"]
        .as_object()
        .is_some_and(|c| c.contains_key("application/json"));
    (parameters, json_body)
}

/// Asserts that `op` documents `status` as an `ErrorBody` with a description.
fn assert_error_response(method: &str, path: &str, op: &serde_json::Value, status: &str) {
    let response = op["responses"]
        .get(status)
        .unwrap_or_else(|| panic!("{method} {path} does not document {status}"));
    assert!(
        !response["description"]
            .as_str()
            .unwrap_or("")
            .trim()
            .is_empty(),
        "{method} {path}: {status} has no description"
    );
    assert_eq!(
        response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
        "{method} {path}: {status}"
    );
}

/// Every operation with a path or query parameter documents the 400 a malformed one gets
/// (`ApiPath`, `ApiQuery`, `incident_ref`), every operation with a JSON body the 400 of an
/// invalid body and the 413 of one over the JSON limit (`ApiJson`), and every operation but
/// those that ignore query parameters the 400 of one it does not take (`refuse_query`,
/// `ApiQuery`; tests/it/errors.rs sends one to every route).
#[test]
fn every_operation_documents_the_errors_of_its_inputs() {
    let doc = serde_json::to_value(vigil_server::openapi()).unwrap();
    let (mut with_parameters, mut with_json) = (0, 0);
    for (method, path, op) in operations(&doc) {
        let (parameters, json_body) = inputs(&op);
        let id = op["operationId"].as_str().unwrap();
        if vigil_server::routes::IGNORES_QUERY.contains(&id) {
            assert!(op["responses"].get("400").is_none() || parameters || json_body);
        } else {
            assert_error_response(&method, &path, &op, "400");
            let description = op["responses"]["400"]["description"].as_str().unwrap();
            assert!(
                description.contains("query parameter"),
                "{method} {path}: the 400 does not mention a query parameter: {description}"
            );
        }
        if parameters || json_body {
            assert_error_response(&method, &path, &op, "400");
        }
        if parameters {
            with_parameters += 1;
            let description = op["responses"]["400"]["description"].as_str().unwrap();
            assert!(
                description.contains("parameter") || description.contains("`field`"),
                "{method} {path}: the 400 does not mention a malformed parameter: {description}"
            );
        }
        if json_body {
            with_json += 1;
            assert_error_response(&method, &path, &op, "413");
        }
    }
    assert!(with_parameters >= 30, "{with_parameters}");
    assert!(with_json >= 20, "{with_json}");
}

/// What the audit found answered without being documented: each malformed parameter gets a
/// 400 naming it, an unknown incident in `/audit?incident=` a 404, and the document lists both.
#[tokio::test]
async fn malformed_parameters_get_the_documented_400() {
    let app = spawn_app().await;
    let doc = serde_json::to_value(vigil_server::openapi()).unwrap();
    let http = reqwest::Client::new();
    let cases = [
        (
            "get",
            "/api/v1/incidents/garbage",
            "/api/v1/incidents/{key}",
            400,
            Some("key"),
        ),
        (
            "get",
            "/api/v1/incidents/INC-1/evidence/not-a-uuid",
            "/api/v1/incidents/{key}/evidence/{id}",
            400,
            Some("id"),
        ),
        (
            "get",
            "/api/v1/incidents?limit=abc",
            "/api/v1/incidents",
            400,
            Some("limit"),
        ),
        (
            "get",
            "/api/v1/alerts?limit=abc",
            "/api/v1/alerts",
            400,
            Some("limit"),
        ),
        (
            "get",
            "/api/v1/audit?incident=garbage",
            "/api/v1/audit",
            400,
            Some("incident"),
        ),
        (
            "get",
            "/api/v1/audit?incident=INC-999",
            "/api/v1/audit",
            404,
            None,
        ),
        (
            "get",
            "/api/v1/audit?limit=abc",
            "/api/v1/audit",
            400,
            Some("limit"),
        ),
        (
            "delete",
            "/api/v1/tokens/not-a-uuid",
            "/api/v1/tokens/{id}",
            400,
            Some("id"),
        ),
        (
            "get",
            "/api/v1/incidents/garbage/actions",
            "/api/v1/incidents/{key}/actions",
            400,
            Some("key"),
        ),
        (
            "delete",
            "/api/v1/incidents/INC-1/links/garbage",
            "/api/v1/incidents/{key}/links/{other}",
            400,
            None,
        ),
    ];
    for (method, url, path, status, field) in cases {
        let resp = http
            .request(
                method.to_uppercase().parse().unwrap(),
                format!("http://{}{url}", app.addr),
            )
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), status, "{method} {url}");
        let body: serde_json::Value = resp.json().await.unwrap();
        if let Some(field) = field {
            assert_eq!(body["error"]["field"], field, "{method} {url}: {body}");
        }
        let op = &doc["paths"][path][method];
        assert_error_response(method, path, op, &status.to_string());
    }
}

/// Every operation with a JSON body answers a body over the JSON limit with the documented 413.
#[tokio::test]
async fn every_json_body_over_the_limit_gets_the_documented_413() {
    let app = spawn_app_with(|s| {
        s.json_body_limit = 64;
        s.ingest_body_limit = 64;
    })
    .await;
    let doc = app.viewer.openapi().await.unwrap();
    let http = reqwest::Client::new();
    let body = format!("{{\"title\": \"{}\"}}", "x".repeat(200));
    let mut checked = 0;
    for (method, path, op) in operations(&doc) {
        if !inputs(&op).1 {
            continue;
        }
        let key = if path.starts_with("/api/v1/alerts") {
            "ALR-1"
        } else {
            "INC-1"
        };
        let mut url = format!(
            "http://{}{}",
            app.addr,
            path.replace("{key}", key)
                .replace("{id}", "00000000-0000-0000-0000-000000000000")
        );
        if path == "/api/v1/events" {
            url.push_str("?service=web");
        }
        let resp = http
            .request(method.to_uppercase().parse().unwrap(), &url)
            .bearer_auth(&app.admin_token)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 413, "{method} {path}");
        let answer: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(
            answer["error"]["code"], "payload_too_large",
            "{method} {path}"
        );
        checked += 1;
    }
    assert!(checked >= 20, "{checked}");
}

/// Evidence travels as raw bytes, not as a JSON array of numbers: the upload's body and the
/// download's answer are `type: string, format: binary` in `application/octet-stream`.
#[test]
fn evidence_bytes_are_binary() {
    let doc = serde_json::to_value(vigil_server::openapi()).unwrap();
    let binary = serde_json::json!({"type": "string", "format": "binary"});
    let upload = &doc["paths"]["/api/v1/incidents/{key}/evidence"]["post"]["requestBody"];
    let download =
        &doc["paths"]["/api/v1/incidents/{key}/evidence/{id}/content"]["get"]["responses"]["200"];
    for (what, content) in [
        ("upload", &upload["content"]),
        ("download", &download["content"]),
    ] {
        let content = content.as_object().unwrap();
        assert_eq!(
            content.keys().collect::<Vec<_>>(),
            ["application/octet-stream"],
            "{what}"
        );
        let schema = &content["application/octet-stream"]["schema"];
        assert_eq!(schema["type"], binary["type"], "{what}: {schema}");
        assert_eq!(schema["format"], binary["format"], "{what}: {schema}");
    }
}

/// `POST /events` lists every body it reads: JSON lines, JSON (an array, an object or JSON
/// lines) and text log lines; and a body with another Content-Type, or none, is read as
/// `application/json` is, as the description says.
#[tokio::test]
async fn ingest_lists_the_content_types_it_reads() {
    let doc = serde_json::to_value(vigil_server::openapi()).unwrap();
    let body = &doc["paths"]["/api/v1/events"]["post"]["requestBody"];
    let mut types: Vec<&str> = body["content"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    types.sort_unstable();
    assert_eq!(
        types,
        ["application/json", "application/x-ndjson", "text/plain"]
    );
    let description = body["description"].as_str().unwrap();
    for said in ["timezone", "any other", "No `Content-Type`", "gzip"] {
        assert!(description.contains(said), "{said}: {description}");
    }

    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let url = format!("http://{}/api/v1/events?service=web", app.addr);
    let lines = "{\"message\": \"one\"}\n{\"message\": \"two\"}\n";
    let array = "[{\"message\": \"one\"}, {\"message\": \"two\"}]";
    let syslog = "<34>Oct 11 22:14:15 mymachine su: one\n<34>Oct 11 22:14:16 mymachine su: two\n";
    for (content_type, body) in [
        (Some("application/x-ndjson"), lines),
        (Some("application/json"), array),
        (Some("application/json"), lines),
        (Some("text/plain"), syslog),
        (Some("image/png"), lines),
        (Some("image/png"), array),
        (None, lines),
        (None, array),
    ] {
        let mut req = http
            .post(&url)
            .bearer_auth(&app.admin_token)
            .body(body.to_owned());
        if let Some(content_type) = content_type {
            req = req.header("content-type", content_type);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200, "{content_type:?}");
        let answer: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(answer["stored"], 2, "{content_type:?} {body}: {answer}");
    }
}

/// `PUT /org` describes the organisation document the server reads, member by member, and
/// like the server refuses members it does not name.
#[test]
fn the_org_document_has_its_schema() {
    let doc = serde_json::to_value(vigil_server::openapi()).unwrap();
    let body = &doc["paths"]["/api/v1/org"]["put"]["requestBody"]["content"]["application/json"];
    assert_eq!(
        body["schema"]["$ref"], "#/components/schemas/OrgDocument",
        "{body}"
    );
    let schemas = &doc["components"]["schemas"];
    let org = &schemas["OrgDocument"];
    let mut members: Vec<&str> = org["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    members.sort_unstable();
    assert_eq!(
        members,
        ["alerting", "central_team", "people", "services", "teams"]
    );
    // Every object of the document refuses unknown members (`deny_unknown_fields`).
    for name in [
        "OrgDocument",
        "Person",
        "Contact",
        "Team",
        "Schedule",
        "Layer",
        "Restriction",
        "Override",
        "EscalationPolicy",
        "EscalationLevel",
        "ServiceOwner",
        "ServiceLogsource",
        "AlertRuleConfig",
    ] {
        assert_eq!(
            schemas[name]["additionalProperties"], false,
            "{name}: {}",
            schemas[name]
        );
    }
    // Times, lengths and times of day are written as text.
    let layer = &schemas["Layer"]["properties"];
    for member in ["rotation", "start"] {
        assert_eq!(layer[member]["type"], "string", "{member}");
    }
}

/// Every whole-number query parameter declares its range, which is how a number the server
/// refuses is told what it may be: `?limit=99999999999999999999` is a whole number of 0 or
/// more, so that cannot be what is wrong with it — the range (its type's, when the server
/// takes any) is.
#[tokio::test]
async fn every_whole_number_parameter_declares_its_range_and_a_refusal_says_it() {
    let doc = serde_json::to_value(vigil_server::openapi()).unwrap();
    let mut numbers = Vec::new();
    let mut unbounded = Vec::new();
    for (method, path, op) in operations(&doc) {
        for p in op["parameters"].as_array().into_iter().flatten() {
            let schema = &p["schema"];
            let integer = schema["type"] == "integer"
                || schema["type"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == "integer"));
            if p["in"] == "query" && integer {
                let name = p["name"].as_str().unwrap().to_owned();
                if !(schema["minimum"].is_number() && schema["maximum"].is_number()) {
                    unbounded.push(format!("{method} {path} `{name}`: {schema}"));
                }
                numbers.push((method.clone(), path.clone(), name));
            }
        }
    }
    assert!(
        unbounded.is_empty(),
        "no range declared:\n{}",
        unbounded.join("\n")
    );
    assert!(numbers.len() >= 10, "{numbers:?}");

    let app = spawn_app().await;
    let http = reqwest::Client::new();
    for (path, max) in [("/api/v1/incidents", u32::MAX), ("/api/v1/audit", u32::MAX)] {
        let resp = http
            .get(format!(
                "http://{}{path}?limit=99999999999999999999",
                app.addr
            ))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{path}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(
            body["error"]["message"],
            format!("query parameter `limit`: must be a whole number from 0 to {max}"),
            "{path}"
        );
    }
}

/// The bounds the document gives a number are the ones the server enforces: the value just
/// inside each bound is taken, the one just outside refused with a 400 naming the parameter;
/// and the paging `limit`s the store clamps say so instead of claiming the clamp as their
/// maximum.
#[tokio::test]
async fn documented_bounds_are_the_enforced_ones() {
    let doc = serde_json::to_value(vigil_server::openapi()).unwrap();
    let parameter = |path: &str, name: &str| -> serde_json::Value {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} has no parameter {name}"))["schema"]
            .clone()
    };
    let preview = &doc["components"]["schemas"]["RulePreviewRequest"]["properties"];
    // (where, schema, minimum, maximum)
    let bounded = [
        (
            "/alerts limit",
            parameter("/api/v1/alerts", "limit"),
            1,
            1000,
        ),
        (
            "/detections limit",
            parameter("/api/v1/detections", "limit"),
            1,
            1000,
        ),
        (
            "/events/search limit",
            parameter("/api/v1/events/search", "limit"),
            1,
            1000,
        ),
        (
            "/events/pivot limit",
            parameter("/api/v1/events/pivot", "limit"),
            0,
            1000,
        ),
        (
            "/oncall/coverage days",
            parameter("/api/v1/oncall/coverage", "days"),
            1,
            731,
        ),
        ("preview limit", preview["limit"].clone(), 1, 1000),
        (
            "preview max_events",
            preview["max_events"].clone(),
            1,
            10_000_000,
        ),
    ];
    for (what, schema, min, max) in &bounded {
        assert_eq!(schema["minimum"], *min, "{what}: {schema}");
        assert_eq!(schema["maximum"], *max, "{what}: {schema}");
    }
    // The alerts' `offset` takes any whole number a u32 holds (past the end: an empty page).
    let offset = parameter("/api/v1/alerts", "offset");
    assert_eq!(offset["minimum"], 0, "{offset}");
    assert_eq!(
        offset["maximum"].as_f64(),
        Some(f64::from(u32::MAX)),
        "{offset}"
    );
    for (path, default, clamp) in [
        ("/api/v1/incidents", "50", "500"),
        ("/api/v1/audit", "100", "1000"),
        ("/api/v1/incidents/{key}/actions", "100", "1000"),
    ] {
        let op = &doc["paths"][path]["get"];
        let limit = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        let description = limit["description"].as_str().unwrap();
        assert!(
            description.contains(&format!("default {default} when absent or 0"))
                && description.contains(&format!("read as {clamp}")),
            "{path}: {description}"
        );
        // The maximum is what the parameter takes, its type's, not the clamp.
        assert_eq!(
            limit["schema"]["maximum"].as_f64(),
            Some(f64::from(u32::MAX)),
            "{path}"
        );
    }

    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let get = |url: String| {
        http.get(format!("http://{}{url}", app.addr))
            .bearer_auth(&app.admin_token)
            .send()
    };
    for (url, name, min, max) in [
        ("/api/v1/alerts?limit=", "limit", 1u32, 1000),
        ("/api/v1/alerts?offset=", "offset", 0, u32::MAX),
        ("/api/v1/detections?limit=", "limit", 1, 1000),
        ("/api/v1/events/search?q=*&limit=", "limit", 1, 1000),
        ("/api/v1/events/pivot?value=x&limit=", "limit", 0, 1000),
    ] {
        for n in [min, max] {
            let status = get(format!("{url}{n}")).await.unwrap().status();
            assert_eq!(status, 200, "{url}{n}");
        }
        let outside = [min.checked_sub(1).map(i64::from), Some(i64::from(max) + 1)];
        for n in outside.into_iter().flatten() {
            let resp = get(format!("{url}{n}")).await.unwrap();
            assert_eq!(resp.status(), 400, "{url}{n}");
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(body["error"]["field"], name, "{url}{n}");
        }
    }
    app.admin.apply_org(&crate::org::org()).await.unwrap();
    for (days, refused) in [(0, true), (1, false), (731, false), (732, true)] {
        let resp = get(format!(
            "/api/v1/oncall/coverage?team=payments-secops&days={days}"
        ))
        .await
        .unwrap();
        assert_eq!(resp.status() == 400, refused, "days={days}");
        assert!(resp.status().is_success() || refused, "days={days}");
    }
    // An empty `rules` is refused after the bounds are checked: `field` says which refused.
    for (member, value, field) in [
        ("limit", 0, "limit"),
        ("limit", 1, "rules"),
        ("limit", 1000, "rules"),
        ("limit", 1001, "limit"),
        ("max_events", 0, "max_events"),
        ("max_events", 1, "rules"),
        ("max_events", 10_000_000, "rules"),
        ("max_events", 10_000_001, "max_events"),
    ] {
        let resp = http
            .post(format!("http://{}/api/v1/rules/preview", app.addr))
            .bearer_auth(&app.admin_token)
            .json(&serde_json::json!({"rules": "", member: value}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{member}={value}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["field"], field, "{member}={value}: {body}");
    }
    // The clamped limits take 0 and more than their maximum.
    for url in [
        "/api/v1/incidents?limit=0",
        "/api/v1/incidents?limit=100000",
        "/api/v1/audit?limit=0",
        "/api/v1/audit?limit=100000",
    ] {
        assert_eq!(get(url.to_owned()).await.unwrap().status(), 200, "{url}");
    }
}

/// The document's description says which routes need no token, and those routes indeed answer
/// without one: the health check, the document itself and the HTML pages for people.
#[tokio::test]
async fn the_description_names_every_route_without_a_token_and_the_head_limits() {
    let doc = serde_json::to_value(vigil_server::openapi()).unwrap();
    let description = doc["info"]["description"].as_str().unwrap();
    for route in [
        "GET /api/v1/health",
        "GET /api/v1/openapi.json",
        "/ack/{key}",
        "/report/{key}",
    ] {
        assert!(description.contains(route), "{route}: {description}");
    }
    assert!(!description.contains("Every route except"), "{description}");
    // What hyper answers before Vigil sees a request (tests/it/connections.rs checks them).
    for limit in [
        "414",
        "65,534 bytes",
        "431",
        "100 header fields",
        "409,600 bytes",
    ] {
        assert!(description.contains(limit), "{limit}: {description}");
    }

    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("http://{}{path}", app.addr);
    let served = http.get(url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.json::<serde_json::Value>().await.unwrap(), doc);
    for (method, path) in [
        ("GET", "/ack/ALR-1"),
        ("POST", "/ack/ALR-1"),
        ("GET", "/report/some-key"),
        ("POST", "/report/some-key"),
    ] {
        let status = http
            .request(method.parse().unwrap(), url(path))
            .send()
            .await
            .unwrap()
            .status();
        assert_ne!(status, 401, "{method} {path}");
        assert_ne!(status, 405, "{method} {path}");
    }
}

/// No integer is declared `format: int32` with a range a signed 32-bit integer cannot hold:
/// generators map `int32` to one, so a client could not send the upper half of what the
/// server takes (the paging `offset`s and `limit`s take any u32 and are `int64`).
#[test]
fn every_int32_fits_a_signed_32_bit_integer() {
    fn walk(at: &str, v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                if map.get("format").and_then(|f| f.as_str()) == Some("int32") {
                    let fits = |bound: &str| {
                        map.get(bound).and_then(|b| b.as_f64()).is_none_or(|b| {
                            (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&b)
                        })
                    };
                    if !(fits("minimum") && fits("maximum")) {
                        out.push(format!("{at}: {v}"));
                    }
                }
                for (k, child) in map {
                    walk(&format!("{at}/{k}"), child, out);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(&format!("{at}/{i}"), child, out);
                }
            }
            _ => {}
        }
    }
    let doc = serde_json::to_value(vigil_server::openapi()).unwrap();
    let mut wrong = Vec::new();
    walk("", &doc, &mut wrong);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    for path in [
        "/api/v1/alerts",
        "/api/v1/audit",
        "/api/v1/incidents",
        "/api/v1/incidents/{key}/actions",
    ] {
        let offset = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "offset")
            .unwrap()["schema"]
            .clone();
        assert_eq!(offset["format"], "int64", "{path}: {offset}");
    }
}

/// A request's severity admits every spelling the server reads (`critical`, `sev1`, `3`, as
/// the descriptions promise) and nothing else, while answers keep `SEV1`–`SEV4`; a technique's
/// pattern is the parser's; an indicator's kind lists `hash` with the kinds. Each pattern is
/// checked against the parser it describes.
#[test]
fn request_schemas_admit_what_the_server_reads() {
    use vigil_core::{IndicatorValue, Severity, Technique};

    let doc = serde_json::to_value(vigil_server::openapi()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let severity = &schemas["SeverityInput"];
    let pattern = regex::Regex::new(severity["pattern"].as_str().unwrap()).unwrap();
    for spelling in [
        "SEV1",
        "sev1",
        "Sev2",
        "1",
        "4",
        "critical",
        "HIGH",
        "Medium",
        " low ",
        "sevlow",
        "sev",
        "SEV5",
        "0",
        "5",
        "urgent",
        "",
        "SEV 1",
        "sev-1",
        "11",
        "criticalx",
    ] {
        assert_eq!(
            pattern.is_match(spelling),
            Severity::parse(spelling).is_ok(),
            "{spelling:?}"
        );
    }
    // Answers list what the server writes.
    assert_eq!(
        schemas["Severity"]["enum"],
        serde_json::json!(["SEV1", "SEV2", "SEV3", "SEV4"])
    );
    assert_eq!(
        schemas["Incident"]["properties"]["severity"]["$ref"],
        "#/components/schemas/Severity"
    );
    // Every request field and parameter that reads a severity takes the input's spellings.
    let input = "#/components/schemas/SeverityInput";
    for (schema, field) in [
        ("NewIncident", "severity"),
        ("ChangeSeverity", "severity"),
        ("ExternalAlert", "severity"),
    ] {
        assert_eq!(
            schemas[schema]["properties"][field]["$ref"], input,
            "{schema}.{field}"
        );
    }
    let declared = schemas["DeclareIncident"]["properties"]["severity"].to_string();
    assert!(declared.contains(input), "{declared}");
    let listed = doc["paths"]["/api/v1/incidents"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "severity")
        .unwrap()["schema"]
        .clone();
    assert_eq!(listed["pattern"], severity["pattern"], "{listed}");

    let technique = regex::Regex::new(
        schemas["NewIncident"]["properties"]["techniques"]["items"]["pattern"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    for id in [
        "T1059",
        "t1059.001",
        " T1059 ",
        "T105",
        "T10590",
        "T1059.1",
        "X1059",
        "TA0001",
        "",
    ] {
        assert_eq!(
            technique.is_match(id),
            Technique::parse(id).is_ok(),
            "{id:?}"
        );
    }

    let kinds: Vec<&str> = schemas["IndicatorKindInput"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"hash"), "{kinds:?}");
    let sample = |kind: &str| match kind {
        "ip" | "host" => "192.0.2.1",
        "network" => "192.0.2.0/24",
        "domain" => "evil.example",
        "url" => "http://evil.example/",
        "md5" | "hash" => "d41d8cd98f00b204e9800998ecf8427e",
        "sha1" => "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "sha256" => "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "email" => "a@evil.example",
        _ => "x",
    };
    for kind in &kinds {
        assert!(
            IndicatorValue::parse(kind, sample(kind)).is_ok(),
            "{kind} is listed but refused"
        );
    }
    assert!(IndicatorValue::parse("dns", "x").is_err());
    assert_eq!(
        schemas["NewIndicator"]["properties"]["kind"]["$ref"],
        "#/components/schemas/IndicatorKindInput"
    );
    let filter = doc["paths"]["/api/v1/indicators"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "kind")
        .unwrap()["schema"]["enum"]
        .clone();
    assert_eq!(filter, schemas["IndicatorKindInput"]["enum"]);

    // A JSON body of events is an array of events or one event.
    let events = &doc["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    let shapes: Vec<&str> = events["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(shapes, ["array", "object"], "{events}");
}

/// The limits the document states are the ones the server enforces: a required text is not
/// empty, the longest text is taken and one more character refused, a patch must change
/// something; and they are the domain's constants.
#[tokio::test]
async fn stated_text_limits_are_the_enforced_ones() {
    use vigil_core::incident::{MAX_TEXT, MAX_TITLE};

    let doc = serde_json::to_value(vigil_server::openapi()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let new = &schemas["NewIncident"]["properties"];
    assert_eq!(new["title"]["minLength"], 1);
    assert_eq!(new["title"]["maxLength"], MAX_TITLE);
    assert_eq!(new["summary"]["maxLength"], MAX_TEXT);
    for (schema, field) in [
        ("AddAction", "text"),
        ("ChangeSeverity", "reason"),
        ("CorrectTimestamp", "reason"),
        ("CreateToken", "name"),
        ("NewPostMortem", "summary"),
        ("NewFinding", "title"),
        ("NewFinding", "team"),
    ] {
        let text = &schemas[schema]["properties"][field];
        assert_eq!(text["minLength"], 1, "{schema}.{field}: {text}");
        assert!(text["maxLength"].is_number(), "{schema}.{field}: {text}");
    }
    assert_eq!(schemas["IncidentPatch"]["minProperties"], 1);
    assert_eq!(schemas["FindingUpdate"]["minProperties"], 1);
    // Every rule of the table reached the document.
    for (schema, property, at, text) in vigil_server::limits::TEXTS {
        let mut value = &schemas[*schema]["properties"][*property];
        if matches!(at, vigil_server::limits::At::Each) {
            value = &value["items"];
        }
        if text.required {
            assert_eq!(value["minLength"], 1, "{schema}.{property}: {value}");
        }
        if let Some(max) = text.max {
            assert_eq!(value["maxLength"], max, "{schema}.{property}: {value}");
        }
    }

    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("http://{}/api/v1{path}", app.addr))
            .bearer_auth(&app.admin_token)
            .json(&body)
            .send()
    };
    let incident = |title: String, summary: String| serde_json::json!({"title": title, "summary": summary, "severity": "critical"});
    let cases = [
        (incident("t".repeat(MAX_TITLE), "s".into()), None),
        (
            incident("t".repeat(MAX_TITLE + 1), "s".into()),
            Some("title"),
        ),
        (incident(String::new(), "s".into()), Some("title")),
        (incident("t".into(), "s".repeat(MAX_TEXT)), None),
        (
            incident("t".into(), "s".repeat(MAX_TEXT + 1)),
            Some("summary"),
        ),
    ];
    for (body, refused) in cases {
        let resp = post("/incidents", body).await.unwrap();
        let status = resp.status().as_u16();
        let answer: serde_json::Value = resp.json().await.unwrap();
        match refused {
            None => assert_eq!(status, 201, "{answer}"),
            Some(field) => {
                assert_eq!(status, 400, "{answer}");
                assert_eq!(answer["error"]["field"], field, "{answer}");
            }
        }
    }
    // The severities the schema admits are read, in a new incident, an alert and a filter.
    for severity in ["high", "3", "sev1", " Low "] {
        let resp = post(
            "/incidents",
            serde_json::json!({"title": "t", "summary": "s", "severity": severity}),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), 201, "{severity:?}");
        let resp = post(
            "/alerts",
            serde_json::json!({"title": "t", "severity": severity, "source": "tool", "service": "web"}),
        )
        .await
        .unwrap();
        assert!(
            resp.status().is_success(),
            "{severity:?}: {}",
            resp.text().await.unwrap()
        );
    }
    let resp = http
        .get(format!(
            "http://{}/api/v1/incidents?severity=critical",
            app.addr
        ))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let page: serde_json::Value = resp.json().await.unwrap();
    // The two at the bounds above and the one sent as `sev1`.
    assert_eq!(page["total"], 3);
    // A patch that changes nothing is refused, as `minProperties` says.
    let resp = http
        .patch(format!("http://{}/api/v1/incidents/INC-1", app.addr))
        .bearer_auth(&app.admin_token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

/// `GET /indicators?kind=` takes what a new indicator's `kind` takes: `hash` finds the file
/// hashes of any of the three kinds, and a kind is read in any case.
#[tokio::test]
async fn the_indicator_kind_filter_takes_what_a_new_indicator_takes() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let md5 = "d41d8cd98f00b204e9800998ecf8427e";
    let resp = http
        .post(format!("http://{}/api/v1/incidents", app.addr))
        .bearer_auth(&app.admin_token)
        .json(&serde_json::json!({
            "title": "t", "summary": "s", "severity": "SEV3",
            "indicators": [{"kind": "hash", "value": md5}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    for (kind, found) in [("hash", 1), ("md5", 1), ("MD5", 1), ("sha1", 0), ("ip", 0)] {
        let resp = http
            .get(format!(
                "http://{}/api/v1/indicators?value={md5}&kind={kind}",
                app.addr
            ))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{kind}");
        let hits: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(hits.as_array().unwrap().len(), found, "{kind}: {hits}");
    }
    let resp = http
        .get(format!(
            "http://{}/api/v1/indicators?value={md5}&kind=dns",
            app.addr
        ))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["field"], "kind");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("hash"),
        "{body}"
    );
}
