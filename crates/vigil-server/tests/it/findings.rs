//! Post-mortems and findings over HTTP: the full post-mortem, findings owned by the
//! organisation's teams (refused for an unknown team, listing the known ones), their states
//! with notes, filters across incidents, who may do what, and findings outliving the close.

use chrono::NaiveDate;
use vigil_api::error::ErrorCode;
use vigil_api::types::*;
use vigil_client::{Client, ClientError};
use vigil_store::Store;

use crate::incidents::new_incident;
use crate::support::{TestApp, spawn_app};

/// An organisation with two teams.
async fn with_teams(app: &TestApp) {
    let mut doc = crate::org::org();
    doc["teams"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "identity", "members": ["carol"]}));
    app.admin.apply_org(&doc).await.unwrap();
}

fn finding(team: &str, title: &str) -> NewFinding {
    NewFinding {
        title: title.into(),
        description: None,
        kind: FindingKind::Prevent,
        team: team.into(),
        assignee: None,
        due: None,
        ticket: None,
    }
}

/// The field and code of a refusal.
fn refusal(err: ClientError) -> (u16, ErrorCode, Option<String>, String) {
    match err {
        ClientError::Api {
            status,
            code,
            field,
            message,
            ..
        } => (status, code, field, message),
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn to_post_incident(c: &Client, key: &str) {
    for p in [
        Phase::Analysis,
        Phase::Containment,
        Phase::Eradication,
        Phase::Recovery,
        Phase::PostIncident,
    ] {
        let req = ChangePhase {
            phase: p,
            reason: None,
            root_cause: (p == Phase::Recovery).then(|| "weak MFA".to_owned()),
        };
        c.change_phase(key, &req).await.unwrap();
    }
}

#[tokio::test]
async fn a_full_post_mortem_is_recorded_logged_and_replaced_with_its_history_kept() {
    let app = spawn_app().await;
    let mut sev2 = new_incident("token theft");
    sev2.severity = Severity::Sev2;
    app.responder.create_incident(&sev2).await.unwrap();
    to_post_incident(&app.responder, "INC-1").await;
    let pm = NewPostMortem {
        summary: "a phished admin's session was replayed".into(),
        root_cause: Some("no phishing-resistant MFA for admins".into()),
        contributing_factors: vec![
            ContributingFactor {
                kind: FactorKind::TechnicalLapse,
                description: "legacy auth left on".into(),
            },
            ContributingFactor {
                kind: FactorKind::ProceduralFailure,
                description: "the session revocation step was skipped".into(),
            },
        ],
        participants: vec![Participant {
            name: "priya".into(),
            role: ParticipantRole::PrivacyExpert,
            team: Some("privacy office".into()),
        }],
        went_well: vec!["paged in 2 minutes".into()],
        went_badly: vec!["no runbook for token revocation".into()],
        detection_improvements: vec![DetectionImprovement {
            description: "alert on MFA fatigue".into(),
            sigma_rules: vec!["5af54681-df95-4c26-854f-2565e13cfab0".into()],
        }],
    };
    let inc = app
        .responder
        .record_post_mortem("INC-1", &pm)
        .await
        .unwrap();
    let stored = inc.post_mortem.clone().unwrap();
    assert_eq!(stored.contributing_factors, pm.contributing_factors);
    assert_eq!(stored.participants, pm.participants);
    assert_eq!(stored.detection_improvements, pm.detection_improvements);
    assert_eq!(
        inc.root_cause.as_deref(),
        Some("no phishing-resistant MFA for admins"),
        "the post-mortem's root cause is the incident's"
    );
    assert!(inc.post_mortem_history.is_empty());

    let mut rewritten = pm.clone();
    rewritten.summary = "rewritten after the product review".into();
    rewritten.root_cause = None;
    let inc = app
        .responder
        .record_post_mortem("INC-1", &rewritten)
        .await
        .unwrap();
    assert_eq!(inc.post_mortem_history, [stored]);
    assert_eq!(
        inc.root_cause.as_deref(),
        Some("no phishing-resistant MFA for admins"),
        "left as it was when not given"
    );
    // Each write is a `change` entry of the action log, saying what the post-mortem holds.
    let log = app
        .viewer
        .list_actions("INC-1", &ActionQuery::default())
        .await
        .unwrap();
    let texts: Vec<&str> = log
        .items
        .iter()
        .filter(|e| e.kind == ActionKind::Change)
        .map(|e| e.text.as_str())
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("post-mortem recorded")
            && t.contains("2 contributing factors (technical lapse, procedural failure)")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.starts_with("post-mortem replaced")),
        "{texts:?}"
    );

    // A bad entry is named and nothing changes.
    let mut bad = pm.clone();
    bad.detection_improvements[0].sigma_rules = vec!["not-a-rule-id".into()];
    let (status, _, field, _) = refusal(
        app.responder
            .record_post_mortem("INC-1", &bad)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (status, field.as_deref()),
        (400, Some("detection_improvements"))
    );
    let after = app.viewer.get_incident("INC-1").await.unwrap();
    assert_eq!(after.post_mortem_history.len(), 1);
    assert_eq!(after.post_mortem.unwrap().summary, rewritten.summary);

    // Closing is allowed now: the post-mortem names contributing factors.
    let close = ChangePhase {
        phase: Phase::Closed,
        reason: None,
        root_cause: None,
    };
    app.responder.change_phase("INC-1", &close).await.unwrap();
    let verified = app.store().await.verify_audit().await.unwrap();
    assert!(verified.is_ok(), "{verified:?}");
}

#[tokio::test]
async fn findings_belong_to_the_organisation_s_teams_and_move_through_their_states() {
    let app = spawn_app().await;
    app.responder
        .create_incident(&new_incident("phish"))
        .await
        .unwrap();
    // No organisation yet: the team cannot be checked, and the refusal says what to do.
    let (status, _, field, message) = refusal(
        app.responder
            .create_finding("INC-1", &finding("identity", "MFA"))
            .await
            .unwrap_err(),
    );
    assert_eq!((status, field.as_deref()), (400, Some("team")));
    assert!(message.contains("vigil apply"), "{message}");
    with_teams(&app).await;
    let (status, code, field, message) = refusal(
        app.responder
            .create_finding("INC-1", &finding("idenity", "MFA"))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (status, code, field.as_deref()),
        (400, ErrorCode::InvalidField, Some("team"))
    );
    assert!(
        message.contains("payments-secops") && message.contains("identity"),
        "the known teams are listed: {message}"
    );
    assert_eq!(
        app.viewer
            .list_findings(&FindingQuery::default())
            .await
            .unwrap()
            .total,
        0,
        "a refusal changes nothing"
    );

    let mut req = finding("identity", "Enforce phishing-resistant MFA");
    req.due = NaiveDate::from_ymd_opt(2020, 1, 15);
    req.ticket = Some("SEC-123".into());
    let f = app.responder.create_finding("INC-1", &req).await.unwrap();
    assert_eq!(f.key.to_string(), "FND-1");
    assert_eq!(f.incident.to_string(), "INC-1");
    assert_eq!(
        (f.state, f.raised_in),
        (FindingState::Open, Phase::Detection)
    );
    let inc = app.viewer.get_incident("INC-1").await.unwrap();
    assert_eq!(
        inc.findings,
        std::slice::from_ref(&f),
        "part of the incident's record"
    );

    // An update that changes nothing is refused as a whole.
    let same = FindingUpdate {
        state: Some(FindingState::Open),
        ..Default::default()
    };
    let (status, _, field, _) = refusal(
        app.responder
            .update_finding("FND-1", &same)
            .await
            .unwrap_err(),
    );
    assert_eq!((status, field.as_deref()), (400, Some("body")));
    // Done needs a resolution note; the refusal names `note` and changes nothing.
    let done = FindingUpdate {
        state: Some(FindingState::Done),
        ..Default::default()
    };
    let (status, _, field, _) = refusal(
        app.responder
            .update_finding("FND-1", &done)
            .await
            .unwrap_err(),
    );
    assert_eq!((status, field.as_deref()), (400, Some("note")));
    assert_eq!(
        app.viewer.get_finding("FND-1").await.unwrap().state,
        FindingState::Open
    );
    let bad_team = FindingUpdate {
        team: Some("nobody".into()),
        ..Default::default()
    };
    let (_, _, field, _) = refusal(
        app.responder
            .update_finding("FND-1", &bad_team)
            .await
            .unwrap_err(),
    );
    assert_eq!(field.as_deref(), Some("team"));

    let started = FindingUpdate {
        state: Some(FindingState::InProgress),
        assignee: Some(Some("carol".into())),
        ..Default::default()
    };
    app.responder
        .update_finding("FND-1", &started)
        .await
        .unwrap();
    let done = FindingUpdate {
        state: Some(FindingState::Done),
        note: Some("FIDO2 keys enforced for admins".into()),
        ..Default::default()
    };
    let f = app.responder.update_finding("fnd-1", &done).await.unwrap();
    assert_eq!(f.state, FindingState::Done);
    assert!(f.closed_at.is_some());
    let moves: Vec<(FindingState, FindingState, &str)> = f
        .history
        .iter()
        .map(|c| (c.from, c.to, c.actor.as_str()))
        .collect();
    assert_eq!(
        moves,
        [
            (FindingState::Open, FindingState::InProgress, "rita"),
            (FindingState::InProgress, FindingState::Done, "rita"),
        ]
    );
    assert_eq!(
        f.history[1].note.as_deref(),
        Some("FIDO2 keys enforced for admins")
    );
    // Logged on the incident as changes.
    let log = app
        .viewer
        .list_actions("INC-1", &ActionQuery::default())
        .await
        .unwrap();
    assert!(
        log.items
            .iter()
            .any(|e| e.kind == ActionKind::Change
                && e.text.contains("finding FND-1 in_progress → done")),
        "{:?}",
        log.items
    );
    let verified = app.store().await.verify_audit().await.unwrap();
    assert!(verified.is_ok(), "{verified:?}");
}

#[tokio::test]
async fn findings_are_listed_across_incidents_by_team_state_and_overdue() {
    let app = spawn_app().await;
    with_teams(&app).await;
    for title in ["one", "two"] {
        app.responder
            .create_incident(&new_incident(title))
            .await
            .unwrap();
    }
    let past = NaiveDate::from_ymd_opt(2020, 1, 1);
    let future = NaiveDate::from_ymd_opt(2999, 1, 1);
    // (incident, team, due, closed with a note)
    let rows = [
        ("INC-1", "identity", past, false),
        ("INC-1", "payments-secops", past, true),
        ("INC-2", "identity", future, false),
        ("INC-2", "identity", None, false),
    ];
    for (incident, team, due, closed) in rows {
        let mut req = finding(team, "work");
        req.due = due;
        let f = app.responder.create_finding(incident, &req).await.unwrap();
        if closed {
            let wont = FindingUpdate {
                state: Some(FindingState::WontFix),
                note: Some("risk accepted by the CISO".into()),
                ..Default::default()
            };
            app.responder
                .update_finding(&f.key.to_string(), &wont)
                .await
                .unwrap();
        }
    }
    // (query, the keys listed)
    let cases: Vec<(FindingQuery, &[&str])> = vec![
        (
            FindingQuery::default(),
            &["FND-1", "FND-2", "FND-3", "FND-4"],
        ),
        (
            FindingQuery {
                team: Some("identity".into()),
                ..Default::default()
            },
            &["FND-1", "FND-3", "FND-4"],
        ),
        (
            FindingQuery {
                open: Some(true),
                ..Default::default()
            },
            &["FND-1", "FND-3", "FND-4"],
        ),
        (
            FindingQuery {
                open: Some(false),
                ..Default::default()
            },
            &["FND-2"],
        ),
        (
            FindingQuery {
                overdue: Some(true),
                ..Default::default()
            },
            &["FND-1"],
        ),
        (
            FindingQuery {
                state: Some(FindingState::WontFix),
                ..Default::default()
            },
            &["FND-2"],
        ),
        (
            FindingQuery {
                incident: Some("INC-2".into()),
                team: Some("identity".into()),
                ..Default::default()
            },
            &["FND-3", "FND-4"],
        ),
        (
            FindingQuery {
                closed_from: Some("1d".into()),
                ..Default::default()
            },
            &["FND-2"],
        ),
        (
            FindingQuery {
                created_to: Some("2020-01-01".into()),
                ..Default::default()
            },
            &[],
        ),
    ];
    for (query, want) in cases {
        let page = app.viewer.list_findings(&query).await.unwrap();
        let keys: Vec<String> = page.items.iter().map(|f| f.key.to_string()).collect();
        assert_eq!(keys, want, "{query:?}");
        assert_eq!(page.total, want.len() as u64, "{query:?}");
    }
    // A team the organisation does not know (names are case-sensitive) is refused, naming the
    // known ones, rather than answered with an empty list that reads as "owes nothing".
    let (status, _, field, message) = refusal(
        app.viewer
            .list_findings(&FindingQuery {
                team: Some("Identity".into()),
                ..Default::default()
            })
            .await
            .unwrap_err(),
    );
    assert_eq!((status, field.as_deref()), (400, Some("team")), "{message}");
    assert!(message.contains("identity"), "{message}");
    let (status, _, field, _) = refusal(
        app.viewer
            .list_findings(&FindingQuery {
                incident: Some("INC-x".into()),
                ..Default::default()
            })
            .await
            .unwrap_err(),
    );
    assert_eq!((status, field.as_deref()), (400, Some("incident")));
    let err = app.viewer.get_finding("FND-9").await.unwrap_err();
    assert_eq!(refusal(err).0, 404);
}

#[tokio::test]
async fn viewers_read_responders_write_and_ingest_tokens_are_refused() {
    let app = spawn_app().await;
    with_teams(&app).await;
    app.responder
        .create_incident(&new_incident("phish"))
        .await
        .unwrap();
    let err = app
        .viewer
        .create_finding("INC-1", &finding("identity", "MFA"))
        .await
        .unwrap_err();
    assert_eq!(refusal(err).0, 403);
    app.responder
        .create_finding("INC-1", &finding("identity", "MFA"))
        .await
        .unwrap();
    let update = FindingUpdate {
        state: Some(FindingState::InProgress),
        ..Default::default()
    };
    assert_eq!(
        refusal(
            app.viewer
                .update_finding("FND-1", &update)
                .await
                .unwrap_err()
        )
        .0,
        403
    );
    app.viewer.get_finding("FND-1").await.unwrap();
    let ingest = app
        .admin
        .create_token(&CreateToken {
            name: "shipper".into(),
            role: Role::Ingest,
            service: None,
            tenant: None,
        })
        .await
        .unwrap();
    let shipper = app.with_token(&ingest.token);
    for err in [
        shipper.get_finding("FND-1").await.unwrap_err(),
        shipper
            .list_findings(&FindingQuery::default())
            .await
            .unwrap_err(),
        shipper
            .create_finding("INC-1", &finding("identity", "x"))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(refusal(err).0, 403);
    }
}

#[tokio::test]
async fn findings_outlive_the_incident_s_closing() {
    let app = spawn_app().await;
    with_teams(&app).await;
    app.responder
        .create_incident(&new_incident("minor"))
        .await
        .unwrap();
    to_post_incident(&app.responder, "INC-1").await;
    let f = app
        .responder
        .create_finding("INC-1", &finding("identity", "rotate keys"))
        .await
        .unwrap();
    assert_eq!(f.raised_in, Phase::PostIncident, "a post-mortem's finding");
    let close = ChangePhase {
        phase: Phase::Closed,
        reason: None,
        root_cause: None,
    };
    app.responder.change_phase("INC-1", &close).await.unwrap();
    let done = FindingUpdate {
        state: Some(FindingState::Done),
        note: Some("rotated".into()),
        ..Default::default()
    };
    let f = app.responder.update_finding("FND-1", &done).await.unwrap();
    assert_eq!(f.state, FindingState::Done);
    let follow_up = app
        .responder
        .create_finding("INC-1", &finding("identity", "from the monthly review"))
        .await
        .unwrap();
    assert_eq!(follow_up.raised_in, Phase::Closed);
    let inc = app.viewer.get_incident("INC-1").await.unwrap();
    assert_eq!(inc.phase, Phase::Closed);
    assert_eq!(inc.findings.len(), 2);
    let verified = app.store().await.verify_audit().await.unwrap();
    assert!(verified.is_ok(), "{verified:?}");
}
