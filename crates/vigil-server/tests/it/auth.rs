//! Authentication and roles: 401 with a JSON body without or with a wrong token, 403 for a role
//! that may not write, health open to all.

use reqwest::Method;
use vigil_api::error::ErrorCode;
use vigil_api::types::Role;
use vigil_api::types::{CreateToken, IncidentQuery};
use vigil_client::ClientError;

use crate::incidents::new_incident;
use crate::support::spawn_app;

#[tokio::test]
async fn health_needs_no_token() {
    let app = spawn_app().await;
    let health = app.anonymous.health().await.unwrap();
    assert_eq!(health.status, "ok");
}

#[tokio::test]
async fn missing_or_wrong_token_is_401_with_json_body() {
    let app = spawn_app().await;
    for client in [
        app.anonymous.clone(),
        app.with_token("vgl_not-a-real-token"),
    ] {
        let err = client
            .list_incidents(&IncidentQuery::default())
            .await
            .unwrap_err();
        match err {
            ClientError::Api {
                status,
                code,
                message,
                ..
            } => {
                assert_eq!(status, 401);
                assert_eq!(code, ErrorCode::Unauthorized);
                assert!(message.contains("vigil admin token"), "{message}");
            }
            other => panic!("expected a JSON 401, got {other:?}"),
        }
    }
    // Raw check of the body shape, not through the client's decoding.
    let resp = reqwest::Client::new()
        .get(format!("http://{}/api/v1/incidents", app.addr))
        .header("Authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
}

/// Every 401 challenges the client with the bearer scheme (RFC 9110 §11.6.1, RFC 6750 §3):
/// `Bearer` alone when no bearer token was sent, with `error="invalid_token"` for an unknown
/// or revoked one and `error="invalid_request"` for a `Bearer` header without a token; on a
/// route that refuses a query parameter too, and as the document says.
#[tokio::test]
async fn every_401_carries_the_bearer_challenge() {
    let app = spawn_app().await;
    let revoked = app
        .admin
        .create_token(&CreateToken {
            name: "short-lived".into(),
            role: Role::Viewer,
            service: None,
            tenant: None,
        })
        .await
        .unwrap();
    app.admin
        .revoke_token(&revoked.info.id.to_string())
        .await
        .unwrap();
    let http = reqwest::Client::new();
    for (path, authorization, challenge) in [
        ("/api/v1/incidents", None, "Bearer"),
        ("/api/v1/incidents", Some("Basic abc".to_owned()), "Bearer"),
        (
            "/api/v1/incidents",
            Some("Bearer vgl_not-a-real-token".to_owned()),
            "Bearer error=\"invalid_token\"",
        ),
        (
            "/api/v1/incidents",
            Some(format!("Bearer {}", revoked.token)),
            "Bearer error=\"invalid_token\"",
        ),
        (
            "/api/v1/incidents",
            Some("Bearer   ".to_owned()),
            "Bearer error=\"invalid_request\"",
        ),
        ("/api/v1/rules?x=1", None, "Bearer"),
        ("/api/v1/metrics", None, "Bearer"),
    ] {
        let mut req = http.get(format!("http://{}{path}", app.addr));
        if let Some(value) = &authorization {
            req = req.header("Authorization", value);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{path} {authorization:?}");
        let header = resp
            .headers()
            .get("www-authenticate")
            .unwrap_or_else(|| panic!("{path} {authorization:?}: no WWW-Authenticate"));
        assert_eq!(header, challenge, "{path} {authorization:?}");
    }
    // Other refusals carry no challenge.
    let resp = http
        .get(format!("http://{}/api/v1/audit", app.addr))
        .bearer_auth(app.viewer_token())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get("www-authenticate").is_none());

    let doc = serde_json::to_value(vigil_server::openapi()).unwrap();
    let mut documented = 0;
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            if let Some(response) = op["responses"].get("401") {
                let header = &response["headers"]["WWW-Authenticate"];
                assert_eq!(header["schema"]["type"], "string", "{op}");
                assert!(
                    header["description"]
                        .as_str()
                        .unwrap()
                        .contains("invalid_token"),
                    "{header}"
                );
                documented += 1;
            }
        }
    }
    assert!(documented > 40, "{documented}");
}

/// The scheme of `Authorization: Bearer TOKEN` is case-insensitive (RFC 7235).
#[tokio::test]
async fn the_bearer_scheme_is_taken_in_any_case() {
    let app = spawn_app().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let resp = reqwest::Client::new()
            .get(format!("http://{}/api/v1/incidents", app.addr))
            .header("Authorization", format!("{scheme} {}", app.responder_token))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{scheme}");
    }
}

#[tokio::test]
async fn viewer_reads_but_cannot_write() {
    let app = spawn_app().await;
    let created = app
        .responder
        .create_incident(&new_incident("seen by a viewer"))
        .await
        .unwrap();
    let seen = app
        .viewer
        .get_incident(&created.key.to_string())
        .await
        .unwrap();
    assert_eq!(seen.id, created.id);

    let err = app
        .viewer
        .create_incident(&new_incident("nope"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Forbidden));
    let err = app
        .viewer
        .send_raw(Method::POST, "/incidents", "application/json", "{}")
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::Forbidden),
        "role is checked before the body"
    );
    let page = app
        .admin
        .list_incidents(&IncidentQuery::default())
        .await
        .unwrap();
    assert_eq!(page.total, 1);
}

/// A token's name is the actor of its writes: one named like an actor Vigil writes as itself
/// (the escalation, the command line, the report form) or like an acknowledgement through a
/// page's link would make its writes read as theirs, so it is refused, naming the reserved ones.
#[tokio::test]
async fn a_token_may_not_pose_as_a_system_actor() {
    let app = spawn_app().await;
    let before = app.admin.list_tokens().await.unwrap().len();
    for (name, role) in [
        ("vigil", Role::Responder),
        ("Vigil", Role::Viewer),
        ("vigil-admin-cli", Role::Admin),
        ("reporter", Role::Responder),
        ("alice (link in their page)", Role::Responder),
    ] {
        let req = CreateToken {
            name: name.into(),
            role,
            service: None,
            tenant: None,
        };
        let err = app.admin.create_token(&req).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidField), "{name}: {err:?}");
        let text = err.to_string();
        assert!(
            text.contains(r#"reserved: "vigil", "vigil-admin-cli", "reporter""#)
                && text.contains("(link in their page)"),
            "{name}: {text}"
        );
    }
    let fine = CreateToken {
        name: "vigil-bot".into(),
        role: Role::Viewer,
        service: None,
        tenant: None,
    };
    app.admin.create_token(&fine).await.unwrap();
    assert_eq!(
        app.admin.list_tokens().await.unwrap().len(),
        before + 1,
        "only the last one was created"
    );
}

#[tokio::test]
async fn only_admins_manage_tokens_and_read_the_audit_trail() {
    let app = spawn_app().await;
    let req = CreateToken {
        name: "bot".into(),
        role: Role::Viewer,
        service: None,
        tenant: None,
    };
    let err = app.responder.create_token(&req).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Forbidden));
    assert_eq!(
        app.responder.verify_audit().await.unwrap_err().code(),
        Some(ErrorCode::Forbidden)
    );

    let created = app.admin.create_token(&req).await.unwrap();
    // A second active "bot" would make the actor of its writes ambiguous: 409.
    let err = app.admin.create_token(&req).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Conflict), "{err:?}");
    assert!(err.to_string().contains("already named \"bot\""), "{err}");
    let bot = app.with_token(&created.token);
    bot.list_incidents(&IncidentQuery::default()).await.unwrap();
    let listed = app.admin.list_tokens().await.unwrap();
    assert!(listed.iter().any(|t| t.id == created.info.id));
    assert!(
        !serde_json::to_string(&listed)
            .unwrap()
            .contains(&created.token),
        "secrets are never listed"
    );
    app.admin
        .revoke_token(&created.info.id.to_string())
        .await
        .unwrap();
    let err = bot
        .list_incidents(&IncidentQuery::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Unauthorized));
}
