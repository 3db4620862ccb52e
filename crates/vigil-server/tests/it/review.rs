//! The monthly review over real HTTP: computed from incidents and alerts worked through the
//! API, limited to a tenant, and bad queries refused naming the parameter.

use chrono::{Datelike, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use vigil_api::review::{IncidentBrief, PostMortemBrief, ReviewQuery};
use vigil_api::types::*;

use crate::incidents::new_incident;
use crate::support::spawn_app;

fn to(p: Phase, root_cause: Option<&str>) -> ChangePhase {
    ChangePhase {
        phase: p,
        reason: None,
        root_cause: root_cause.map(str::to_owned),
    }
}

#[tokio::test]
async fn the_review_counts_a_months_incidents_and_alerts_and_names_what_needs_attention() {
    let app = spawn_app().await;
    let started = Utc::now();
    // A SEV2 of contoso, first active a minute before it was detected, walked to post_incident
    // without a post-mortem.
    let mut sev2 = new_incident("stolen session cookies");
    sev2.severity = Severity::Sev2;
    sev2.first_activity = Some(started - Duration::seconds(180));
    sev2.detected = Some(started - Duration::seconds(120));
    app.responder.create_incident(&sev2).await.unwrap();
    for p in [Phase::Analysis, Phase::Containment, Phase::Eradication] {
        app.responder
            .change_phase("INC-1", &to(p, None))
            .await
            .unwrap();
    }
    app.responder
        .change_phase(
            "INC-1",
            &to(Phase::Recovery, Some("cookies outlived resets")),
        )
        .await
        .unwrap();
    let recovered = app
        .responder
        .change_phase("INC-1", &to(Phase::PostIncident, None))
        .await
        .unwrap();
    // Its post-mortem, classified, and a finding for the team that owns the fix, overdue.
    app.admin.apply_org(&crate::org::org()).await.unwrap();
    let pm = NewPostMortem {
        summary: "session cookies outlived password resets".into(),
        root_cause: None,
        contributing_factors: vec![ContributingFactor {
            kind: FactorKind::TechnicalLapse,
            description: "sessions not revoked on reset".into(),
        }],
        participants: Vec::new(),
        went_well: Vec::new(),
        went_badly: Vec::new(),
        detection_improvements: Vec::new(),
    };
    app.responder
        .record_post_mortem("INC-1", &pm)
        .await
        .unwrap();
    let mut fix = NewFinding {
        title: "revoke sessions on password reset".into(),
        description: None,
        kind: FindingKind::Prevent,
        team: "payments-secops".into(),
        assignee: None,
        due: Some(started.date_naive() - Duration::days(1)),
        ticket: None,
    };
    // Due yesterday: overdue, unless yesterday was last month (then it is not this month's).
    if started.date_naive().day() == 1 {
        fix.due = None;
    }
    app.responder.create_finding("INC-1", &fix).await.unwrap();
    // A data breach of fabrikam, still in detection.
    let mut breach = new_incident("customer export on a public share");
    breach.tenants = vec!["fabrikam".into()];
    breach.data_impact = Some(DataImpact {
        customer_data: true,
        disclosed: true,
        ..Default::default()
    });
    app.responder.create_incident(&breach).await.unwrap();
    // An external alert of contoso dismissed as a false positive.
    let http = reqwest::Client::new();
    let alert: Value = http
        .post(format!("http://{}/api/v1/alerts", app.addr))
        .bearer_auth(&app.responder_token)
        .json(&json!({"title": "Impossible travel", "severity": "high", "source": "idp", "service": "sso", "tenant": "contoso"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = alert["alert"]["key"].as_str().unwrap().to_owned();
    let dismissed = http
        .post(format!("http://{}/api/v1/alerts/{key}/dismiss", app.addr))
        .bearer_auth(&app.responder_token)
        .json(&json!({"kind": "false_positive", "reason": "VPN exit node"}))
        .send()
        .await
        .unwrap();
    assert_eq!(dismissed.status(), StatusCode::OK);

    // Everything above happened within a few seconds; should a month have ended meanwhile,
    // its facts are split between two months and the counts below do not hold.
    let done = recovered.timestamps.recovered.unwrap();
    let first = sev2.first_activity.unwrap();
    if (first.year(), first.month()) != (done.year(), done.month()) {
        eprintln!("a month ended during the test; nothing to check");
        return;
    }
    let month = format!("{:04}-{:02}", done.year(), done.month());
    let query = |tenant: Option<&str>| ReviewQuery {
        month: Some(month.clone()),
        timezone: None,
        tenant: tenant.map(str::to_owned),
    };
    // A viewer may read it.
    let r = app.viewer.monthly_review(&query(None)).await.unwrap();
    assert_eq!(r.period.label, month);
    assert_eq!(r.timezone, "UTC");
    assert_eq!(
        (
            r.incidents.opened,
            r.incidents.closed,
            r.incidents.open_at_end
        ),
        (2, 0, 2)
    );
    assert_eq!(r.incidents.confirmed, 1);
    assert_eq!(r.incidents.opened_by_severity.get("SEV2"), Some(&1));
    let ttd = &r.response_times.time_to_detect;
    assert_eq!((ttd.count, ttd.median_seconds), (1, Some(60)));
    assert_eq!(ttd.slowest.as_deref(), Some("INC-1"));
    assert_eq!(r.response_times.time_to_contain.count, 1);
    assert_eq!(r.response_times.time_to_recover.count, 1);
    let keys = |b: &[IncidentBrief]| b.iter().map(|b| b.key.to_string()).collect::<Vec<_>>();
    let keys_of = |b: &[PostMortemBrief]| b.iter().map(|b| b.key.to_string()).collect::<Vec<_>>();
    assert_eq!(keys(&r.data_breaches), ["INC-2"]);
    assert_eq!(keys(&r.open_critical), ["INC-1"]);
    // Written this month, so not due; its factor is counted.
    assert!(r.post_mortems.due.is_empty());
    assert_eq!(r.post_mortems.written, 1);
    assert_eq!(
        r.post_mortems.contributing_factors.get("technical_lapse"),
        Some(&1)
    );
    assert_eq!(keys_of(&r.post_mortems.reviewed), ["INC-1"]);
    let f = &r.findings;
    assert_eq!((f.raised, f.open_at_end), (1, 1));
    assert_eq!(f.by_team.len(), 1);
    assert_eq!(f.by_team[0].team, "payments-secops");
    if fix.due.is_some() {
        assert_eq!(f.overdue_at_end, 1);
        assert_eq!(f.overdue[0].key.to_string(), "FND-1");
    }
    assert_eq!((r.alerts.raised, r.alerts.false_positives), (1, 1));
    assert_eq!(r.alerts.time_to_take_up.count, 1);

    // Limited to contoso: fabrikam's breach is not in it.
    let r = app
        .viewer
        .monthly_review(&query(Some("contoso")))
        .await
        .unwrap();
    assert_eq!(r.tenant.as_deref(), Some("contoso"));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.incidents.opened, 1);
    assert!(r.data_breaches.is_empty());
    assert_eq!(r.alerts.raised, 1);
    assert_eq!(r.findings.raised, 1);
    let r = app
        .viewer
        .monthly_review(&query(Some("fabrikam")))
        .await
        .unwrap();
    assert_eq!(
        (r.incidents.opened, r.alerts.raised, r.findings.raised),
        (1, 0, 0)
    );
}

#[tokio::test]
async fn bad_review_queries_are_refused_naming_the_parameter() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let get = |q: &'static str, token: Option<String>| {
        let mut r = http.get(format!("http://{}/api/v1/review/monthly{q}", app.addr));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        async move {
            let r = r.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let viewer = Some(app.viewer_token());
    for (q, field) in [
        ("?month=2026-13", "month"),
        ("?month=november", "month"),
        ("?timezone=Mars/Olympus", "timezone"),
        ("?weeks=4", "weeks"),
        ("?month=2099-12", "month"),
    ] {
        let (status, body) = get(q, viewer.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {body}");
        assert!(body.to_string().contains(field), "{q}: {body}");
    }
    let (status, _) = get("", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The default is last month, in the zone asked for; an empty store gives zeros.
    let (status, body) = get("?timezone=Europe/Berlin", viewer).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["timezone"], "Europe/Berlin");
    assert_eq!(body["incidents"]["opened"], 0);
    assert!(body["period"]["from"].as_str().unwrap() < body["period"]["to"].as_str().unwrap());
}
