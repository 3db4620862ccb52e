//! Incidents over HTTP: create, read by key and id, list with filters, update, severity history,
//! indicators across incidents, links and suggestions, the action log and the full phase walk.

use vigil_api::error::ErrorCode;
use vigil_api::types::*;
use vigil_api::types::{DataImpact, IndicatorKind, Phase, Priority, Severity, TimestampKind};

use crate::support::spawn_app;

/// A minimal valid incident.
pub fn new_incident(title: &str) -> CreateIncident {
    CreateIncident {
        title: title.to_owned(),
        summary: format!("{title}: reported by the SOC"),
        severity: Severity::Sev3,
        category: None,
        services: vec!["payroll".to_owned()],
        tenants: vec!["contoso".to_owned()],
        tlp: None,
        pap: None,
        attack: vec!["T1566.001".to_owned()],
        first_activity_at: None,
        next_steps: None,
    }
}

#[tokio::test]
async fn create_read_list_filter_update() {
    let app = spawn_app().await;
    let a = app
        .responder
        .create_incident(&new_incident("Phish on payroll"))
        .await
        .unwrap();
    let mut b_req = new_incident("DDoS on web");
    b_req.severity = Severity::Sev1;
    b_req.services = vec!["web".to_owned()];
    let b = app.responder.create_incident(&b_req).await.unwrap();
    assert_eq!(a.key.to_string(), "INC-1");
    assert_eq!(b.key.to_string(), "INC-2");
    assert_eq!(a.phase, Phase::Detection);

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
    let sev1 = app
        .viewer
        .list_incidents(&IncidentQuery {
            severity: Some(Severity::Sev1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(sev1.total, 1);
    assert_eq!(sev1.items[0].id, b.id);
    let payroll = app
        .viewer
        .list_incidents(&IncidentQuery {
            service: Some("payroll".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        payroll.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![a.id]
    );
    let text = app
        .viewer
        .list_incidents(&IncidentQuery {
            q: Some("ddos".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(text.total, 1);
    let paged = app
        .viewer
        .list_incidents(&IncidentQuery {
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((paged.total, paged.items.len()), (2, 1));

    // Update.
    let updated = app
        .responder
        .update_incident(
            "INC-1",
            &UpdateIncident {
                title: Some("Credential phish on payroll".into()),
                next_steps: Some("reset the three accounts".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.title, "Credential phish on payroll");
    assert_eq!(
        app.viewer.get_incident("INC-1").await.unwrap().title,
        "Credential phish on payroll"
    );
}

#[tokio::test]
async fn severity_changes_are_recorded_with_who_and_why() {
    let app = spawn_app().await;
    app.responder
        .create_incident(&new_incident("x"))
        .await
        .unwrap();
    let inc = app
        .responder
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
    let last = inc.severity_history.last().unwrap();
    assert_eq!(last.actor, "rita");
    assert_eq!(last.reason, "customer data seen");
}

#[tokio::test]
async fn indicators_are_normalised_deduplicated_and_suggest_related_incidents() {
    let app = spawn_app().await;
    app.responder
        .create_incident(&new_incident("one"))
        .await
        .unwrap();
    app.responder
        .create_incident(&new_incident("two"))
        .await
        .unwrap();
    let add = |value: &str| AddIndicator {
        kind: IndicatorKind::Domain,
        value: value.to_owned(),
        note: None,
    };
    let first = app
        .responder
        .add_indicator("INC-1", &add("Evil.Example.COM"))
        .await
        .unwrap();
    let again = app
        .responder
        .add_indicator("INC-1", &add("evil.example.com."))
        .await
        .unwrap();
    assert_eq!(first.id, again.id, "the same indicator is not added twice");
    app.responder
        .add_indicator("INC-2", &add("evil.example.com"))
        .await
        .unwrap();

    let hits = app
        .viewer
        .search_indicators(&IndicatorQuery {
            value: "EVIL.example.com".into(),
            kind: None,
        })
        .await
        .unwrap();
    assert_eq!(hits.len(), 2);

    let related = app.viewer.related("INC-1").await.unwrap();
    assert!(related.links.is_empty());
    assert_eq!(related.suggestions.len(), 1);
    assert_eq!(related.suggestions[0].incident.key.to_string(), "INC-2");

    app.responder
        .link(
            "INC-1",
            &CreateLink {
                other: "INC-2".into(),
                reason: Some("same actor".into()),
            },
        )
        .await
        .unwrap();
    let related = app.viewer.related("INC-2").await.unwrap();
    assert_eq!(related.links.len(), 1);
    app.responder.unlink("INC-1", "INC-2").await.unwrap();
    assert!(app.viewer.related("INC-2").await.unwrap().links.is_empty());

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

    let on_two = hits
        .iter()
        .find(|h| h.incident_key.to_string() == "INC-2")
        .unwrap();
    app.responder
        .remove_indicator("INC-2", &on_two.indicator.id.to_string())
        .await
        .unwrap();
    let filtered = app
        .viewer
        .list_incidents(&by_indicator("evil.example.com"))
        .await
        .unwrap();
    let keys: Vec<String> = filtered.items.iter().map(|i| i.key.to_string()).collect();
    assert_eq!(keys, vec!["INC-1"]);
    assert!(
        app.viewer
            .related("INC-1")
            .await
            .unwrap()
            .suggestions
            .is_empty()
    );
}

#[tokio::test]
async fn action_log_is_append_only_and_names_the_actor() {
    let app = spawn_app().await;
    app.responder
        .create_incident(&new_incident("x"))
        .await
        .unwrap();
    app.responder
        .add_action(
            "INC-1",
            &AddAction {
                text: "isolated host web-3".into(),
            },
        )
        .await
        .unwrap();
    app.admin
        .add_action(
            "INC-1",
            &AddAction {
                text: "rotated keys".into(),
            },
        )
        .await
        .unwrap();
    let log = app.viewer.list_actions("INC-1").await.unwrap();
    let mine: Vec<_> = log
        .iter()
        .filter(|e| e.text == "isolated host web-3" || e.text == "rotated keys")
        .collect();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0].actor, "rita");
    assert_eq!(mine[1].actor, "ada");
}

#[tokio::test]
async fn refused_phase_change_names_the_guard_and_the_full_walk_succeeds() {
    let app = spawn_app().await;
    app.responder
        .create_incident(&new_incident("walk"))
        .await
        .unwrap();
    let phase = |p: Phase| ChangePhase {
        phase: p,
        reason: Some("next".into()),
        root_cause: None,
    };

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
    match &err {
        vigil_client::ClientError::Api {
            status,
            code,
            guards,
            ..
        } => {
            assert_eq!((*status, *code), (409, ErrorCode::GuardRefused));
            assert!(!guards.is_empty(), "{err:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        app.viewer.get_incident("INC-1").await.unwrap().phase,
        Phase::Eradication
    );

    let mut with_cause = phase(Phase::Recovery);
    with_cause.root_cause = Some("unpatched VPN appliance".into());
    app.responder
        .change_phase("INC-1", &with_cause)
        .await
        .unwrap();
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
async fn timestamps_are_set_by_phases_and_corrected_with_a_reason() {
    let app = spawn_app().await;
    let inc = app
        .responder
        .create_incident(&new_incident("timeline"))
        .await
        .unwrap();
    assert!(inc.timestamps.detected.is_some());
    assert!(inc.timestamps.acknowledged.is_none());
    let inc = app
        .responder
        .change_phase(
            "INC-1",
            &ChangePhase {
                phase: Phase::Analysis,
                reason: None,
                root_cause: None,
            },
        )
        .await
        .unwrap();
    assert!(inc.timestamps.acknowledged.is_some());

    let at: chrono::DateTime<chrono::Utc> = "2026-11-01T08:00:00Z".parse().unwrap();
    let req = CorrectTimestamp {
        which: TimestampKind::FirstActivity,
        at,
        reason: "proxy logs show the first click".into(),
    };
    let inc = app
        .responder
        .correct_timestamp("INC-1", &req)
        .await
        .unwrap();
    assert_eq!(inc.timestamps.first_activity, Some(at));

    // A data breach raises the derived priority.
    assert_eq!(inc.priority, Priority::P3);
    let update = UpdateIncident {
        data_impact: Some(DataImpact {
            disclosed: true,
            modified: false,
            destroyed: false,
        }),
        ..Default::default()
    };
    let inc = app
        .responder
        .update_incident("INC-1", &update)
        .await
        .unwrap();
    assert!(inc.data_impact.disclosed);
    assert_eq!(inc.priority, Priority::P2);
}
