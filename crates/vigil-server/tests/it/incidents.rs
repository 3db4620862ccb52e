//! Incidents over HTTP: create, read by key and id, list with filters, update, severity history,
//! indicators across incidents, links and suggestions, the action log, the full phase walk with
//! its guards, the post-mortem, lifecycle timestamps and the data-impact assessment.

use vigil_api::error::ErrorCode;
use vigil_api::types::*;
use vigil_client::ClientError;

use crate::support::{answer, spawn_app};

/// A minimal valid incident.
pub fn new_incident(title: &str) -> NewIncident {
    let mut n = NewIncident::new(
        title,
        &format!("{title}: reported by the SOC"),
        Severity::Sev3,
    );
    n.services = vec!["payroll".to_owned()];
    n.tenants = vec!["contoso".to_owned()];
    n.techniques = vec!["T1566.001".to_owned()];
    n
}

fn phase(p: Phase) -> ChangePhase {
    ChangePhase {
        phase: p,
        reason: Some("next".into()),
        root_cause: None,
    }
}

/// The guards named in a refusal, after checking it is a 409 `guard_refused`.
fn refused_guards(err: ClientError) -> Vec<String> {
    match err {
        ClientError::Api {
            status,
            code,
            guards,
            ..
        } => {
            assert_eq!((status, code), (409, ErrorCode::GuardRefused));
            assert!(guards.iter().all(|g| !g.reason.is_empty()));
            guards.into_iter().map(|g| g.guard).collect()
        }
        other => panic!("expected a guard refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn create_read_list_filter_update() {
    let app = spawn_app().await;
    let mut a_req = new_incident("Phish on payroll");
    a_req.category = Some(Category::AccountCompromise);
    a_req.tlp = Some(Tlp::Red);
    a_req.pap = Some(Pap::Green);
    a_req.next_steps = vec![NewNextStep {
        text: "reset the three accounts".into(),
        owner: Some("it-ops".into()),
        done: false,
    }];
    a_req.indicators = vec![NewIndicator {
        kind: "hash".into(),
        value: "D41D8CD98F00B204E9800998ECF8427E".into(),
        note: None,
    }];
    let a = app.responder.create_incident(&a_req).await.unwrap();
    let mut b_req = new_incident("DDoS on web");
    b_req.severity = Severity::Sev1;
    b_req.services = vec!["web".to_owned()];
    let b = app.responder.create_incident(&b_req).await.unwrap();
    assert_eq!(a.key.to_string(), "INC-1");
    assert_eq!(b.key.to_string(), "INC-2");
    assert_eq!(a.phase, Phase::Detection);
    assert_eq!(a.created_by, "rita");
    assert_eq!((a.tlp, a.pap), (Tlp::Red, Pap::Green));
    assert_eq!(a.category, Some(Category::AccountCompromise));
    assert_eq!(a.techniques[0].to_string(), "T1566.001");
    assert_eq!(a.next_steps[0].owner.as_deref(), Some("it-ops"));
    assert_eq!(
        a.indicators[0].kind,
        IndicatorKind::Md5,
        "hash kind inferred"
    );
    assert_eq!(a.indicators[0].value, "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(b.priority, Priority::P1, "SEV1 derives P1");

    // Read by key and by id.
    assert_eq!(app.viewer.get_incident("INC-2").await.unwrap().id, b.id);
    assert_eq!(
        app.viewer
            .get_incident(&b.id.to_string())
            .await
            .unwrap()
            .key,
        b.key
    );
    let err = app.viewer.get_incident("INC-99").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotFound));

    // List and filters.
    let all = app
        .viewer
        .list_incidents(&IncidentQuery::default())
        .await
        .unwrap();
    assert_eq!(all.total, 2);
    assert_eq!(all.items[0].id, b.id, "newest first");
    let by = |q: IncidentQuery| {
        let c = app.viewer.clone();
        async move {
            c.list_incidents(&q)
                .await
                .unwrap()
                .items
                .iter()
                .map(|i| i.key.to_string())
                .collect::<Vec<_>>()
        }
    };
    let sev1 = by(IncidentQuery {
        severity: Some(Severity::Sev1),
        ..Default::default()
    });
    assert_eq!(sev1.await, ["INC-2"]);
    let p1 = by(IncidentQuery {
        priority: Some(Priority::P1),
        ..Default::default()
    });
    assert_eq!(p1.await, ["INC-2"]);
    let payroll = by(IncidentQuery {
        service: Some("payroll".into()),
        ..Default::default()
    });
    assert_eq!(payroll.await, ["INC-1"]);
    let category = by(IncidentQuery {
        category: Some(Category::AccountCompromise),
        ..Default::default()
    });
    assert_eq!(category.await, ["INC-1"]);
    let text = by(IncidentQuery {
        q: Some("ddos".into()),
        ..Default::default()
    });
    assert_eq!(text.await, ["INC-2"]);
    let paged = app
        .viewer
        .list_incidents(&IncidentQuery {
            limit: Some(1),
            offset: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((paged.total, paged.items.len()), (2, 1));
    assert_eq!(paged.items[0].id, a.id);

    // Update: only the fields present change.
    let updated = app
        .responder
        .update_incident(
            "INC-1",
            &IncidentPatch {
                title: Some("Credential phish on payroll".into()),
                tenants: Some(vec!["contoso".into(), "fabrikam".into()]),
                next_steps: Some(vec![]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.title, "Credential phish on payroll");
    assert_eq!(updated.tenants, ["contoso", "fabrikam"]);
    assert!(updated.next_steps.is_empty());
    assert_eq!(updated.summary, a.summary);
    assert_eq!(
        app.viewer.get_incident("INC-1").await.unwrap().title,
        "Credential phish on payroll"
    );
    let fabrikam = by(IncidentQuery {
        tenant: Some("fabrikam".into()),
        ..Default::default()
    });
    assert_eq!(fabrikam.await, ["INC-1"]);
}

#[tokio::test]
async fn severity_changes_are_recorded_with_who_and_why_and_drive_priority() {
    let app = spawn_app().await;
    let mut req = new_incident("x");
    req.severity_reason = Some("one mailbox".into());
    let inc = app.responder.create_incident(&req).await.unwrap();
    assert_eq!(inc.priority, Priority::P3);
    assert_eq!(inc.severity_history.len(), 1);
    assert_eq!(inc.severity_history[0].from, None, "the preliminary rating");
    let inc = app
        .admin
        .change_severity(
            "INC-1",
            &ChangeSeverity {
                severity: Severity::Sev1,
                reason: "customer data seen".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(inc.severity, Severity::Sev1);
    assert_eq!(inc.priority, Priority::P1);
    let last = inc.severity_history.last().unwrap();
    assert_eq!(
        (
            last.from,
            last.to,
            last.actor.as_str(),
            last.reason.as_str()
        ),
        (
            Some(Severity::Sev3),
            Severity::Sev1,
            "ada",
            "customer data seen"
        )
    );
    let err = app
        .responder
        .change_severity(
            "INC-1",
            &ChangeSeverity {
                severity: Severity::Sev2,
                reason: "  ".into(),
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Api { field: Some(f), .. } if f == "reason"),
        "{err:?}"
    );
}

/// `"category": null` clears the category (an incident may be opened without one).
#[tokio::test]
async fn a_patch_clears_the_category_with_null() {
    let app = spawn_app().await;
    let mut req = new_incident("x");
    req.category = Some(Category::Malware);
    app.responder.create_incident(&req).await.unwrap();
    let resp = reqwest::Client::new()
        .patch(format!("http://{}/api/v1/incidents/INC-1", app.addr))
        .bearer_auth(&app.responder_token)
        .json(&serde_json::json!({ "category": null }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let inc = app.viewer.get_incident("INC-1").await.unwrap();
    assert_eq!(inc.category, None);
}

/// `null` in a PATCH is never ignored: it clears what the record may hold empty (the lists, the
/// root cause before recovery) and is refused, naming the field, for what always has a value.
/// The OpenAPI document says which fields are nullable.
#[tokio::test]
async fn a_patch_null_clears_what_may_be_empty_and_refuses_the_rest() {
    let app = spawn_app().await;
    let mut req = new_incident("x");
    req.next_steps = vec![NewNextStep {
        text: "reset passwords".into(),
        owner: None,
        done: false,
    }];
    app.responder.create_incident(&req).await.unwrap();
    let http = reqwest::Client::new();
    let patch = |body: serde_json::Value| {
        let req = http
            .patch(format!("http://{}/api/v1/incidents/INC-1", app.addr))
            .bearer_auth(&app.responder_token)
            .json(&body);
        async move {
            let resp = req.send().await.unwrap();
            (
                resp.status().as_u16(),
                resp.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    app.responder
        .update_incident(
            "INC-1",
            &IncidentPatch {
                root_cause: Some(Some("weak MFA".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (status, inc) = patch(serde_json::json!({
        "services": null, "tenants": null, "techniques": null, "next_steps": null,
        "root_cause": null, "summary": "y"
    }))
    .await;
    assert_eq!(status, 200, "{inc}");
    for list in ["services", "tenants", "techniques", "next_steps"] {
        assert_eq!(inc[list], serde_json::json!([]), "{list}");
    }
    assert_eq!(inc["root_cause"], serde_json::Value::Null);
    assert_eq!(inc["summary"], "y");

    for field in [
        "title",
        "summary",
        "tlp",
        "pap",
        "customer_facing",
        "data_impact",
    ] {
        // With another field that would change: the null is not lost among them.
        let (other, value) = if field == "summary" {
            ("title", "t")
        } else {
            ("summary", "z")
        };
        let (status, err) = patch(serde_json::json!({ field: null, other: value })).await;
        assert_eq!(
            (
                status,
                err["error"]["code"].as_str(),
                err["error"]["field"].as_str()
            ),
            (400, Some("invalid_field"), Some(field)),
            "{err}"
        );
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains("cannot be cleared"), "{message}");
    }
    let inc = app.viewer.get_incident("INC-1").await.unwrap();
    assert_eq!((inc.title.as_str(), inc.summary.as_str()), ("x", "y"));

    // From recovery on the root cause is needed (its guard let the incident there): null is
    // refused, naming it.
    app.responder
        .update_incident(
            "INC-1",
            &IncidentPatch {
                root_cause: Some(Some("weak MFA".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    for p in [
        Phase::Analysis,
        Phase::Containment,
        Phase::Eradication,
        Phase::Recovery,
    ] {
        app.responder
            .change_phase("INC-1", &phase(p))
            .await
            .unwrap();
    }
    let (status, err) = patch(serde_json::json!({ "root_cause": null })).await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (400, Some("root_cause")),
        "{err}"
    );
    let inc = app.viewer.get_incident("INC-1").await.unwrap();
    assert_eq!(inc.root_cause.as_deref(), Some("weak MFA"));

    // The document says the same: nullable where null clears, not elsewhere.
    let doc: serde_json::Value = http
        .get(format!("http://{}/api/v1/openapi.json", app.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let props = &doc["components"]["schemas"]["IncidentPatch"]["properties"];
    let nullable = |field: &str| {
        let p = &props[field];
        let types = p["type"].as_array().cloned().unwrap_or_default();
        types.iter().any(|t| t == "null")
            || p["oneOf"]
                .as_array()
                .is_some_and(|o| o.iter().any(|t| t["type"] == "null"))
            || p["nullable"] == true
    };
    for field in [
        "category",
        "techniques",
        "services",
        "tenants",
        "next_steps",
        "root_cause",
    ] {
        assert!(nullable(field), "{field}: {}", props[field]);
    }
    for field in [
        "title",
        "summary",
        "tlp",
        "pap",
        "customer_facing",
        "data_impact",
    ] {
        assert!(!nullable(field), "{field}: {}", props[field]);
    }
}

/// A PATCH that moves the derived priority records the move with who made it and what changed,
/// and its audit entry carries the priority before and after.
#[tokio::test]
async fn priority_moves_are_recorded_with_who_and_what_moved_them() {
    let app = spawn_app().await;
    let inc = app
        .responder
        .create_incident(&new_incident("x"))
        .await
        .unwrap();
    assert_eq!(inc.priority, Priority::P3);
    assert!(inc.priority_history.is_empty());
    let inc = app
        .responder
        .update_incident(
            "INC-1",
            &IncidentPatch {
                customer_facing: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(inc.priority, Priority::P2);
    let inc = app
        .admin
        .update_incident(
            "INC-1",
            &IncidentPatch {
                data_impact: Some(
                    DataImpact {
                        personal_data: true,
                        disclosed: true,
                        ..Default::default()
                    }
                    .into(),
                ),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(inc.priority, Priority::P1);
    let stored = app.viewer.get_incident("INC-1").await.unwrap();
    let moves: Vec<_> = stored
        .priority_history
        .iter()
        .map(|c| (c.from, c.to, c.actor.as_str(), c.reason.as_str()))
        .collect();
    assert_eq!(
        moves,
        [
            (
                Priority::P3,
                Priority::P2,
                "rita",
                "a customer-facing service impacted"
            ),
            (
                Priority::P2,
                Priority::P1,
                "ada",
                "data impact assessed: personal data disclosed"
            ),
        ]
    );
    let audit = app
        .admin
        .audit(&AuditQuery {
            incident: Some("INC-1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let last = audit.items.last().unwrap();
    assert_eq!(last.action, "incident.update");
    assert_eq!(last.payload["priority"]["from"], "P2");
    assert_eq!(last.payload["priority"]["to"], "P1");
    assert_eq!(
        last.payload["priority"]["reason"],
        "data impact assessed: personal data disclosed"
    );
}

#[tokio::test]
async fn indicators_are_normalised_deduplicated_and_suggest_related_incidents() {
    let app = spawn_app().await;
    for t in ["one", "two", "three"] {
        app.responder
            .create_incident(&new_incident(t))
            .await
            .unwrap();
    }
    let add = |kind: &str, value: &str| NewIndicator {
        kind: kind.to_owned(),
        value: value.to_owned(),
        note: Some("seen in the proxy log".into()),
    };
    let first = app
        .responder
        .add_indicator("INC-1", &add("domain", "Evil.Example.COM"))
        .await
        .unwrap();
    assert_eq!(first.value, "evil.example.com");
    assert_eq!(first.added_by, "rita");
    let again = app
        .responder
        .add_indicator("INC-1", &add("domain", "evil.example.com."))
        .await
        .unwrap();
    assert_eq!(first.id, again.id, "the same indicator is not added twice");
    assert_eq!(
        app.viewer
            .get_incident("INC-1")
            .await
            .unwrap()
            .indicators
            .len(),
        1
    );
    app.responder
        .add_indicator("INC-2", &add("domain", "EVIL.example.com"))
        .await
        .unwrap();
    app.responder
        .add_indicator("INC-3", &add("ip", "203.0.113.7"))
        .await
        .unwrap();

    let hits = app
        .viewer
        .search_indicators(&IndicatorQuery {
            value: "EVIL.example.com.".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(hits.total, 2);
    let hits = hits.items;
    let keys: Vec<String> = hits.iter().map(|h| h.key.to_string()).collect();
    assert_eq!(keys, ["INC-2", "INC-1"]);
    let none = app
        .viewer
        .search_indicators(&IndicatorQuery {
            value: "evil.example.com".into(),
            kind: Some("url".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        none.items.is_empty() && none.total == 0,
        "the kind filter applies"
    );

    // Shared indicators suggest related incidents; an explicit link replaces the suggestion.
    let related = app
        .viewer
        .related("INC-1", &RelatedQuery::default())
        .await
        .unwrap();
    assert!(related.links.is_empty());
    assert_eq!(related.suggestions.len(), 1);
    assert_eq!(related.suggestions[0].key.to_string(), "INC-2");
    assert_eq!(related.suggestions[0].shared[0].value(), "evil.example.com");

    let link = app
        .responder
        .link(
            "INC-1",
            &CreateLink {
                other: "INC-3".into(),
                note: Some("same actor".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(link.key.to_string(), "INC-3");
    let err = app
        .responder
        .link(
            "INC-3",
            &CreateLink {
                other: "INC-1".into(),
                note: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Conflict), "links are symmetric");
    let related = app
        .viewer
        .related("INC-3", &RelatedQuery::default())
        .await
        .unwrap();
    assert_eq!(related.links.len(), 1);
    assert_eq!(related.links[0].key.to_string(), "INC-1");
    assert_eq!(related.links[0].note.as_deref(), Some("same actor"));
    assert_eq!(
        app.viewer.get_incident("INC-1").await.unwrap().links.len(),
        1
    );
    app.responder.unlink("INC-1", "INC-3").await.unwrap();
    assert!(
        app.viewer
            .related("INC-3", &RelatedQuery::default())
            .await
            .unwrap()
            .links
            .is_empty()
    );

    let by_indicator = |v: &str| IncidentQuery {
        indicator: Some(v.to_owned()),
        ..Default::default()
    };
    let filtered = app
        .viewer
        .list_incidents(&by_indicator("Evil.Example.com"))
        .await
        .unwrap();
    assert_eq!(filtered.total, 2);

    // Removal needs a reason and keeps the indicator on the record, marked removed.
    let on_two = hits.iter().find(|h| h.key.to_string() == "INC-2").unwrap();
    let err = app
        .responder
        .remove_indicator("INC-2", &on_two.indicator.id.to_string(), " ")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidField));
    let removed = app
        .responder
        .remove_indicator("INC-2", &on_two.indicator.id.to_string(), "false positive")
        .await
        .unwrap();
    assert_eq!(removed.removal_reason.as_deref(), Some("false positive"));
    let two = app.viewer.get_incident("INC-2").await.unwrap();
    assert_eq!(two.indicators.len(), 1);
    assert!(!two.indicators[0].is_active());
    let filtered = app
        .viewer
        .list_incidents(&by_indicator("evil.example.com"))
        .await
        .unwrap();
    let keys: Vec<String> = filtered.items.iter().map(|i| i.key.to_string()).collect();
    assert_eq!(keys, vec!["INC-1"]);
    assert!(
        app.viewer
            .related("INC-1", &RelatedQuery::default())
            .await
            .unwrap()
            .suggestions
            .is_empty()
    );
}

/// Over the wire: related incidents give a page of suggestions ranked by how many indicators
/// they share, with `suggestions_total`; an indicator search gives a page of hits as a bare
/// array, as before, with the `X-Total-Count` header.
#[tokio::test]
async fn related_and_indicator_search_are_paged_over_the_wire() {
    let app = spawn_app().await;
    let add = |kind: &str, value: &str| NewIndicator {
        kind: kind.to_owned(),
        value: value.to_owned(),
        note: None,
    };
    for t in ["the one", "both", "scan a", "scan b", "scan c"] {
        app.responder
            .create_incident(&new_incident(t))
            .await
            .unwrap();
    }
    for key in ["INC-1", "INC-2", "INC-3", "INC-4", "INC-5"] {
        app.responder
            .add_indicator(key, &add("ip", "203.0.113.66"))
            .await
            .unwrap();
    }
    for key in ["INC-1", "INC-2"] {
        app.responder
            .add_indicator(key, &add("domain", "evil.example"))
            .await
            .unwrap();
    }
    let http = reqwest::Client::new();
    let base = format!("http://{}/api/v1", app.addr);
    let related = answer(
        http.get(format!("{base}/incidents/INC-1/related?limit=2"))
            .bearer_auth(app.viewer_token()),
    )
    .await;
    let keys: Vec<&str> = related["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["INC-2", "INC-5"], "most shared first, then newest");
    assert_eq!(related["suggestions_total"], 4);
    assert_eq!(related["suggestions"][0]["phase"], "detection");
    assert!(related["links"].as_array().unwrap().is_empty());

    let resp = http
        .get(format!("{base}/indicators?value=203.0.113.66&limit=3"))
        .bearer_auth(app.viewer_token())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-total-count"], "5");
    let hits: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(hits.as_array().map(Vec::len), Some(3), "{hits}");
    let page = app
        .viewer
        .search_indicators(&IndicatorQuery {
            value: "203.0.113.66".into(),
            offset: Some(4),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((page.total, page.items.len()), (5, 1));
    assert_eq!(page.items[0].key.to_string(), "INC-1");
}

#[tokio::test]
async fn action_log_is_append_only_and_names_the_actor() {
    let app = spawn_app().await;
    app.responder
        .create_incident(&new_incident("x"))
        .await
        .unwrap();
    let first = app
        .responder
        .add_action(
            "INC-1",
            &AddAction {
                text: "isolated host web-3".into(),
                kind: Some(ActionKind::Containment),
            },
        )
        .await
        .unwrap();
    assert_eq!(first.kind, ActionKind::Containment);
    app.admin
        .add_action(
            "INC-1",
            &AddAction {
                text: "rotated keys".into(),
                kind: None,
            },
        )
        .await
        .unwrap();
    let log = app
        .viewer
        .list_actions("INC-1", &ActionQuery::default())
        .await
        .unwrap();
    assert_eq!(log.total, 2);
    let seen: Vec<(&str, &str, ActionKind)> = log
        .items
        .iter()
        .map(|e| (e.actor.as_str(), e.text.as_str(), e.kind))
        .collect();
    assert_eq!(
        seen,
        [
            ("rita", "isolated host web-3", ActionKind::Containment),
            ("ada", "rotated keys", ActionKind::Note)
        ]
    );
    let page = app
        .viewer
        .list_actions(
            "INC-1",
            &ActionQuery {
                limit: Some(1),
                offset: Some(1),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (page.total, page.items[0].text.as_str()),
        (2, "rotated keys")
    );
    assert_eq!(
        app.viewer.get_incident("INC-1").await.unwrap().action_count,
        2
    );
    // There is no route to change or delete an entry.
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let err = app
            .admin
            .send_raw(method, "/incidents/INC-1/actions", "application/json", "{}")
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::MethodNotAllowed));
    }
}

#[tokio::test]
async fn refused_phase_change_names_the_guard_and_the_full_walk_succeeds() {
    let app = spawn_app().await;
    app.responder
        .create_incident(&new_incident("walk"))
        .await
        .unwrap();
    for p in [Phase::Analysis, Phase::Containment, Phase::Eradication] {
        let inc = app
            .responder
            .change_phase("INC-1", &phase(p))
            .await
            .unwrap();
        assert_eq!(inc.phase, p);
    }
    // Recovery needs a recorded root cause.
    let err = app
        .responder
        .change_phase("INC-1", &phase(Phase::Recovery))
        .await
        .unwrap_err();
    assert_eq!(refused_guards(err), ["root_cause_before_recovery"]);
    let still = app.viewer.get_incident("INC-1").await.unwrap();
    assert_eq!(still.phase, Phase::Eradication);
    assert_eq!(still.phase_history.len(), 3);

    // The root cause can come with the phase change, in the same write.
    let mut with_cause = phase(Phase::Recovery);
    with_cause.root_cause = Some("unpatched VPN appliance".into());
    let inc = app
        .responder
        .change_phase("INC-1", &with_cause)
        .await
        .unwrap();
    assert_eq!(inc.root_cause.as_deref(), Some("unpatched VPN appliance"));
    assert_eq!(inc.phase, Phase::Recovery);
    app.responder
        .change_phase("INC-1", &phase(Phase::PostIncident))
        .await
        .unwrap();
    let closed = app
        .responder
        .change_phase("INC-1", &phase(Phase::Closed))
        .await
        .unwrap();
    assert_eq!(closed.phase, Phase::Closed);
    assert_eq!(
        closed
            .phase_history
            .iter()
            .map(|c| c.to)
            .collect::<Vec<_>>(),
        [
            Phase::Analysis,
            Phase::Containment,
            Phase::Eradication,
            Phase::Recovery,
            Phase::PostIncident,
            Phase::Closed
        ]
    );
    assert!(closed.phase_history.iter().all(|c| c.actor == "rita"));

    let open = app
        .viewer
        .list_incidents(&IncidentQuery {
            open: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(open.total, 0);
    let done = app
        .viewer
        .list_incidents(&IncidentQuery {
            open: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(done.total, 1);
}

#[tokio::test]
async fn a_refused_root_cause_and_phase_change_records_nothing() {
    let app = spawn_app().await;
    app.responder
        .create_incident(&new_incident("skip"))
        .await
        .unwrap();
    // Detection → recovery skips phases: refused even with a root cause, which is not kept.
    let mut req = phase(Phase::Recovery);
    req.root_cause = Some("guess".into());
    let err = app.responder.change_phase("INC-1", &req).await.unwrap_err();
    assert!(!refused_guards(err).is_empty());
    let inc = app.viewer.get_incident("INC-1").await.unwrap();
    assert_eq!((inc.phase, inc.root_cause), (Phase::Detection, None));
}

#[tokio::test]
async fn sev1_and_data_breaches_close_only_with_a_post_mortem() {
    let app = spawn_app().await;
    let mut sev1 = new_incident("sev1");
    sev1.severity = Severity::Sev1;
    app.responder.create_incident(&sev1).await.unwrap();
    let mut breach = new_incident("breach");
    breach.data_impact = Some(DataImpact {
        personal_data: true,
        disclosed: true,
        ..Default::default()
    });
    app.responder.create_incident(&breach).await.unwrap();
    for key in ["INC-1", "INC-2"] {
        for p in [Phase::Analysis, Phase::Containment, Phase::Eradication] {
            app.responder.change_phase(key, &phase(p)).await.unwrap();
        }
        let mut recovery = phase(Phase::Recovery);
        recovery.root_cause = Some("stolen session cookie".into());
        app.responder.change_phase(key, &recovery).await.unwrap();
        // The post-mortem is written in phase post_incident, not before.
        let err = app
            .responder
            .record_post_mortem(key, &NewPostMortem::summary("too early"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ClientError::Api { status: 409, code: ErrorCode::Conflict, message, .. } if message.contains("move it there first")),
            "{err:?}"
        );
        app.responder
            .change_phase(key, &phase(Phase::PostIncident))
            .await
            .unwrap();
        // Lowering the severity or clearing the breach just before closing waives nothing:
        // the refusal says which past rating or assessment asks for the post-mortem.
        let past = if key == "INC-1" {
            app.responder
                .change_severity(
                    key,
                    &ChangeSeverity {
                        severity: Severity::Sev4,
                        reason: "actually minor".into(),
                    },
                )
                .await
                .unwrap();
            "it was rated SEV1 by rita at "
        } else {
            let clear = IncidentPatch {
                data_impact: Some(DataImpact::default().into()),
                ..IncidentPatch::default()
            };
            app.responder.update_incident(key, &clear).await.unwrap();
            "it was assessed as a data breach (personal data disclosed) by rita at "
        };
        let err = app
            .responder
            .change_phase(key, &phase(Phase::Closed))
            .await
            .unwrap_err();
        assert!(format!("{err:?}").contains(past), "{key}: {err:?}");
        assert_eq!(refused_guards(err), ["post_mortem_before_close"], "{key}");
        // A summary alone is a stub for such an incident: it must say what contributed.
        let summary = "session cookies outlived password resets";
        let inc = app
            .responder
            .record_post_mortem(key, &NewPostMortem::summary(summary))
            .await
            .unwrap();
        assert_eq!(inc.post_mortem.as_ref().unwrap().recorded_by, "rita");
        let err = app
            .responder
            .change_phase(key, &phase(Phase::Closed))
            .await
            .unwrap_err();
        assert_eq!(refused_guards(err), ["post_mortem_classified"], "{key}");
        let mut classified = NewPostMortem::summary(summary);
        classified.contributing_factors = vec![ContributingFactor {
            kind: FactorKind::TechnicalLapse,
            description: "resets did not revoke sessions".into(),
        }];
        let inc = app
            .responder
            .record_post_mortem(key, &classified)
            .await
            .unwrap();
        assert_eq!(inc.post_mortem_history.len(), 1, "the stub is kept");
        assert_eq!(inc.post_mortem_history[0].summary, summary);
        let closed = app
            .responder
            .change_phase(key, &phase(Phase::Closed))
            .await
            .unwrap();
        assert_eq!(closed.phase, Phase::Closed);
        assert!(closed.timestamps.closed.is_some());
    }
}

#[tokio::test]
async fn timestamps_are_set_by_phases_and_corrected_with_a_reason() {
    let app = spawn_app().await;
    let inc = app
        .responder
        .create_incident(&new_incident("timeline"))
        .await
        .unwrap();
    assert!(inc.timestamps.detected.is_some());
    assert!(inc.timestamps.acknowledged.is_none());
    let mut inc = inc;
    for p in [Phase::Analysis, Phase::Containment, Phase::Eradication] {
        inc = app
            .responder
            .change_phase("INC-1", &phase(p))
            .await
            .unwrap();
    }
    let ts = &inc.timestamps;
    assert!(ts.acknowledged.is_some() && ts.declared.is_some() && ts.contained.is_some());
    assert!(ts.eradicated.is_none());

    let at: chrono::DateTime<chrono::Utc> = "2026-11-01T08:00:00Z".parse().unwrap();
    let req = CorrectTimestamp {
        kind: TimestampKind::FirstActivity,
        at: Some(at),
        reason: "proxy logs show the first click".into(),
    };
    let inc = app
        .responder
        .correct_timestamp("INC-1", &req)
        .await
        .unwrap();
    assert_eq!(inc.timestamps.first_activity, Some(at));
    let c = inc.timestamp_corrections.last().unwrap();
    assert_eq!(
        (c.kind, c.from, c.to, c.actor.as_str()),
        (TimestampKind::FirstActivity, None, Some(at), "rita")
    );
    assert!(inc.timestamps.durations().time_to_detect_seconds.unwrap() > 0);

    // Out of order (contained before detected) or without a reason: refused, nothing changes.
    let early: chrono::DateTime<chrono::Utc> = "2026-10-01T08:00:00Z".parse().unwrap();
    let err = app
        .responder
        .correct_timestamp(
            "INC-1",
            &CorrectTimestamp {
                kind: TimestampKind::Contained,
                at: Some(early),
                reason: "typo".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidField));
    let err = app
        .responder
        .correct_timestamp(
            "INC-1",
            &CorrectTimestamp {
                kind: TimestampKind::Detected,
                at: Some(at),
                reason: "".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidField));
    let after = app.viewer.get_incident("INC-1").await.unwrap();
    assert_eq!(after.timestamp_corrections.len(), 1);
    assert_eq!(after.timestamps, inc.timestamps);
}

/// Two people recording data impact at once each send the flags they assess: the server
/// applies each to the assessment as it stands, so neither loses the other's flag, and the
/// breach (customer data destroyed) is kept. The lists are edited the same way.
#[tokio::test]
async fn changes_made_at_once_all_stay() {
    let app = spawn_app().await;
    for n in 1..=5 {
        app.responder
            .create_incident(&new_incident("impact"))
            .await
            .unwrap();
        let key = format!("INC-{n}");
        let flag = |p: DataImpactPatch| IncidentPatch {
            data_impact: Some(p),
            ..Default::default()
        };
        let customer = flag(DataImpactPatch {
            customer_data: Some(true),
            ..Default::default()
        });
        let destroyed = flag(DataImpactPatch {
            destroyed: Some(true),
            ..Default::default()
        });
        let services = |add: &str, remove: &str| IncidentPatch {
            add_services: vec![add.to_owned()],
            remove_services: vec![remove.to_owned()]
                .into_iter()
                .filter(|r| !r.is_empty())
                .collect(),
            ..Default::default()
        };
        let (swap, widen) = (services("crm", "payroll"), services("mail", ""));
        let (a, b, c, d) = tokio::join!(
            app.responder.update_incident(&key, &customer),
            app.admin.update_incident(&key, &destroyed),
            app.responder.update_incident(&key, &swap),
            app.admin.update_incident(&key, &widen),
        );
        for r in [a, b, c, d] {
            r.unwrap();
        }
        let inc = app.viewer.get_incident(&key).await.unwrap();
        let impact = &inc.data_impact;
        assert!(
            impact.customer_data && impact.destroyed && impact.requires_notification(),
            "{key}: {impact:?}"
        );
        let mut scope = inc.services.clone();
        scope.sort();
        assert_eq!(scope, ["crm", "mail"], "{key}");
    }
    // A service to remove that the incident lacks is refused, naming the field; giving a
    // whole list and edits of it at once is refused too.
    let refused = [
        IncidentPatch {
            remove_services: vec!["payroll".into()],
            ..Default::default()
        },
        IncidentPatch {
            services: Some(vec!["web".into()]),
            add_services: vec!["db".into()],
            ..Default::default()
        },
    ];
    for (patch, field) in refused.iter().zip(["remove_services", "services"]) {
        match app.responder.update_incident("INC-1", patch).await {
            Err(ClientError::Api {
                status: 400,
                field: Some(f),
                message,
                ..
            }) => assert_eq!(f, field, "{message}"),
            other => panic!("expected a refusal naming {field}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn data_impact_is_assessed_by_someone_and_raises_priority() {
    let app = spawn_app().await;
    let inc = app
        .responder
        .create_incident(&new_incident("impact"))
        .await
        .unwrap();
    assert_eq!(inc.priority, Priority::P3);
    assert!(!inc.data_impact.is_breach());
    let update = IncidentPatch {
        data_impact: Some(
            DataImpact {
                customer_data: true,
                disclosed: true,
                notes: Some("export of the customer table:\n\tnames, e-mails".into()),
                ..Default::default()
            }
            .into(),
        ),
        customer_facing: Some(true),
        ..Default::default()
    };
    let inc = app
        .responder
        .update_incident("INC-1", &update)
        .await
        .unwrap();
    assert!(inc.data_impact.disclosed && inc.data_impact.requires_notification());
    assert_eq!(inc.data_impact.assessed_by.as_deref(), Some("rita"));
    assert!(inc.data_impact.assessed_at.is_some());
    assert_eq!(inc.priority, Priority::P1);
}

/// What responders paste (defanged, IPv4-mapped, with a default port, in another case) is the
/// same indicator as the plain form: related incidents are suggested from it and the search
/// across incidents finds it whichever form is asked for.
#[tokio::test]
async fn pasted_forms_of_an_indicator_meet_the_plain_form() {
    let app = spawn_app().await;
    for t in ["pasted", "plain"] {
        app.responder
            .create_incident(&new_incident(t))
            .await
            .unwrap();
    }
    let add = |kind: &str, value: &str| NewIndicator {
        kind: kind.to_owned(),
        value: value.to_owned(),
        note: None,
    };
    let pasted = [
        ("ip", "::ffff:192.0.2.1"),
        ("domain", "evil[.]example"),
        ("url", "hxxps://Evil[.]Example:443"),
        ("email", "Alice[@]Example.com"),
    ];
    let plain = [
        ("ip", "192.0.2.1"),
        ("domain", "evil.example"),
        ("url", "https://evil.example/"),
        ("email", "alice@example.com"),
    ];
    for ((kind, pasted), (_, plain)) in pasted.iter().zip(plain) {
        let a = app
            .responder
            .add_indicator("INC-1", &add(kind, pasted))
            .await
            .unwrap();
        assert_eq!(a.value, plain, "{kind} {pasted:?}");
        app.responder
            .add_indicator("INC-2", &add(kind, plain))
            .await
            .unwrap();
    }
    let related = app
        .viewer
        .related("INC-1", &RelatedQuery::default())
        .await
        .unwrap();
    assert_eq!(related.suggestions.len(), 1);
    assert_eq!(related.suggestions[0].key.to_string(), "INC-2");
    let mut shared: Vec<&str> = related.suggestions[0]
        .shared
        .iter()
        .map(|v| v.value())
        .collect();
    shared.sort_unstable();
    assert_eq!(
        shared,
        [
            "192.0.2.1",
            "alice@example.com",
            "evil.example",
            "https://evil.example/"
        ]
    );
    for asked in [
        "192[.]0[.]2[.]1",
        "::FFFF:192.0.2.1",
        "EVIL(.)example",
        "hxxps://evil.example",
        "https://evil.example:443/",
        "ALICE@example.com",
    ] {
        let hits = app
            .viewer
            .search_indicators(&IndicatorQuery {
                value: asked.into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let keys: Vec<String> = hits.items.iter().map(|h| h.key.to_string()).collect();
        assert_eq!(keys, ["INC-2", "INC-1"], "{asked}");
    }
    let err = app
        .responder
        .add_indicator("INC-1", &add("domain", "192.0.2.1"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Api { field: Some(f), message, .. } if f == "value" && message.contains("kind ip")),
        "{err:?}"
    );
}

/// A closed incident's record is final until reopened: a change to it is a conflict with its
/// state (409 `conflict`, saying it is closed and how to reopen it), not a field at fault;
/// reopened, the same changes pass, and a bad value is again a 400 naming its field.
#[tokio::test]
async fn a_change_to_a_closed_incident_is_a_conflict_saying_how_to_reopen_it() {
    let app = spawn_app().await;
    app.responder
        .create_incident(&new_incident("Phish"))
        .await
        .unwrap();
    let ioc = NewIndicator {
        kind: "ip".into(),
        value: "203.0.113.7".into(),
        note: None,
    };
    let added = app.responder.add_indicator("INC-1", &ioc).await.unwrap();
    let mut with_cause = phase(Phase::Recovery);
    with_cause.root_cause = Some("no MFA".into());
    for p in [Phase::Analysis, Phase::Containment, Phase::Eradication] {
        app.responder
            .change_phase("INC-1", &phase(p))
            .await
            .unwrap();
    }
    app.responder
        .change_phase("INC-1", &with_cause)
        .await
        .unwrap();
    for p in [Phase::PostIncident, Phase::Closed] {
        app.responder
            .change_phase("INC-1", &phase(p))
            .await
            .unwrap();
    }
    let closed = app.viewer.get_incident("INC-1").await.unwrap();

    let retitle = IncidentPatch {
        title: Some("Phish, wider".into()),
        ..Default::default()
    };
    let worse = ChangeSeverity {
        severity: Severity::Sev1,
        reason: "more hosts".into(),
    };
    let other_ioc = NewIndicator {
        value: "203.0.113.8".into(),
        ..ioc.clone()
    };
    let added_id = added.id.to_string();
    let refusals = [
        (
            "patch",
            app.responder
                .update_incident("INC-1", &retitle)
                .await
                .map(drop),
        ),
        (
            "severity",
            app.responder
                .change_severity("INC-1", &worse)
                .await
                .map(drop),
        ),
        (
            "add indicator",
            app.responder
                .add_indicator("INC-1", &other_ioc)
                .await
                .map(drop),
        ),
        (
            "remove indicator",
            app.responder
                .remove_indicator("INC-1", &added_id, "false positive")
                .await
                .map(drop),
        ),
    ];
    for (what, result) in refusals {
        match result.unwrap_err() {
            ClientError::Api {
                status,
                code,
                field,
                message,
                ..
            } => {
                assert_eq!(
                    (status, code, field),
                    (409, ErrorCode::Conflict, None),
                    "{what}"
                );
                assert!(
                    message.contains("INC-1 is closed")
                        && message.contains("vigil incident phase INC-1 analysis --reason"),
                    "{what}: {message}"
                );
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    assert_eq!(
        app.viewer.get_incident("INC-1").await.unwrap(),
        closed,
        "nothing changed"
    );

    // Reopened, the record takes changes again, and a bad value names its field.
    let mut reopen = phase(Phase::Analysis);
    reopen.reason = Some("new activity".into());
    app.responder.change_phase("INC-1", &reopen).await.unwrap();
    let blank = IncidentPatch {
        title: Some(" ".into()),
        ..Default::default()
    };
    match app.responder.update_incident("INC-1", &blank).await {
        Err(ClientError::Api {
            status,
            code,
            field,
            ..
        }) => assert_eq!(
            (status, code, field.as_deref()),
            (400, ErrorCode::InvalidField, Some("title"))
        ),
        other => panic!("{other:?}"),
    }
    let inc = app
        .responder
        .update_incident("INC-1", &retitle)
        .await
        .unwrap();
    assert_eq!(inc.title, "Phish, wider");
    app.responder
        .change_severity("INC-1", &worse)
        .await
        .unwrap();
}

/// `created_from` and `created_to` read times as `from`, `to` and `at` do elsewhere (RFC 3339, a
/// date, `now-24h`, a bare duration), and a time they cannot read is refused with the same
/// message, naming the parameter, not with a parser's words.
#[tokio::test]
async fn created_from_and_to_read_times_as_the_other_routes_do() {
    let app = spawn_app().await;
    app.responder
        .create_incident(&new_incident("recent"))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let list = |query: String| {
        http.get(format!("http://{}/api/v1/incidents?{query}", app.addr))
            .bearer_auth(&app.admin_token)
            .send()
    };
    for (query, total) in [
        ("created_from=2020-01-01", 1),
        ("created_from=now-24h", 1),
        ("created_from=24h", 1),
        ("created_from=now%2B1h", 0),
        ("created_to=now-1h", 0),
        ("created_to=now%2B1h", 1),
        ("created_from=2000-01-01T00:00:00Z&created_to=2000-01-02", 0),
    ] {
        let resp = list(query.to_owned()).await.unwrap();
        assert_eq!(resp.status(), 200, "{query}");
        let page: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(page["total"], total, "{query}: {page}");
    }
    for (field, value) in [
        ("created_from", "yesterday"),
        ("created_from", "2026-13-01"),
        ("created_to", "soon"),
    ] {
        let resp = list(format!("{field}={value}")).await.unwrap();
        assert_eq!(resp.status(), 400, "{field}={value}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["field"], field, "{body}");
        assert_eq!(
            body["error"]["message"],
            format!(
                "`{field}`: {value:?} is not a time; write 2026-11-30, 2026-11-30T12:00:00Z, now-24h or 24h"
            ),
        );
    }
    // The CLI's times still arrive: it sends RFC 3339.
    let page = app
        .viewer
        .list_incidents(&IncidentQuery {
            created_from: Some("2020-01-01T00:00:00Z".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 1);
}
