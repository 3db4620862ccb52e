//! Post-mortems and findings in the store: written with the incident (action log, audit entry,
//! recorded state), refused writes leaving nothing, the queries a periodic review makes (by
//! team and by the times findings were raised and closed), hand edits caught, and post-mortems
//! an earlier release wrote read after `0017_post_mortems_and_findings`.

use chrono::{Duration, Utc};
use vigil_core::{
    ActionKind, ChainProblem, ContributingFactor, FactorKind, FindingKey, FindingKind,
    FindingState, FindingUpdate, IncidentKey, NewFinding, NewPostMortem, Phase, Severity,
};
use vigil_store::{AuditFilter, FindingFilter, IncidentRef, SqliteStore, Store};

use crate::support::{Harness, new_incident};

fn key(n: u64) -> IncidentRef {
    IncidentRef::Key(IncidentKey::new(n).unwrap())
}

fn fnd(n: u64) -> FindingKey {
    FindingKey::new(n).unwrap()
}

fn finding(team: &str) -> NewFinding {
    NewFinding {
        title: format!("work for {team}"),
        description: None,
        kind: FindingKind::Detect,
        team: team.into(),
        assignee: None,
        due: None,
        ticket: None,
    }
}

/// Incident `n` moved to post_incident.
async fn in_post_incident(s: &dyn Store, n: u64) {
    s.create_incident("ann", new_incident(&format!("incident {n}")))
        .await
        .unwrap();
    for p in [
        Phase::Analysis,
        Phase::Containment,
        Phase::Eradication,
        Phase::Recovery,
        Phase::PostIncident,
    ] {
        let cause = (p == Phase::Recovery).then_some("weak MFA");
        s.change_phase("ann", &key(n), p, None, cause)
            .await
            .unwrap();
    }
}

async fn audit_len(s: &dyn Store) -> u64 {
    s.list_audit(&AuditFilter::default()).await.unwrap().total
}

#[tokio::test]
async fn every_write_is_logged_audited_and_a_refused_one_leaves_nothing() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    in_post_incident(s, 1).await;
    let f = s
        .raise_finding("ann", &key(1), &finding("identity"))
        .await
        .unwrap();
    assert_eq!(f.key, fnd(1));
    let inc = s.get_incident(&key(1)).await.unwrap();
    assert_eq!(inc.findings, [f]);

    let (audit, actions) = (audit_len(s).await, inc.action_count);
    let refused = FindingUpdate {
        state: Some(FindingState::WontFix),
        ..Default::default()
    };
    let err = s.update_finding("ann", fnd(1), &refused).await.unwrap_err();
    assert!(err.to_string().contains("note"), "{err}");
    let mut bad = NewPostMortem::summary("s");
    bad.went_well = vec![" ".into()];
    assert!(s.record_post_mortem("ann", &key(1), &bad).await.is_err());
    let err = s.update_finding("ann", fnd(7), &refused).await.unwrap_err();
    assert!(err.to_string().contains("FND-7"), "{err}");
    let inc = s.get_incident(&key(1)).await.unwrap();
    assert_eq!((audit_len(s).await, inc.action_count), (audit, actions));
    assert_eq!(inc.post_mortem, None);

    let done = FindingUpdate {
        state: Some(FindingState::Done),
        note: Some("rule deployed".into()),
        ..Default::default()
    };
    s.update_finding("bob", fnd(1), &done).await.unwrap();
    let entries = s.list_audit(&AuditFilter::default()).await.unwrap();
    let actions: Vec<&str> = entries.items.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.contains(&"finding.raise"), "{actions:?}");
    assert!(actions.contains(&"finding.update"), "{actions:?}");
    let log = s.list_actions(&key(1), 0, 0).await.unwrap();
    let last = log.items.last().unwrap();
    assert_eq!(
        (last.kind, last.actor.as_str()),
        (ActionKind::Change, "bob")
    );
    assert!(last.text.contains("FND-1 open → done"), "{}", last.text);
    let verified = s.verify_audit().await.unwrap().expect("chain intact");
    assert_eq!(verified.records_unchecked, 0);
}

/// What the monthly review asks: the findings raised, and those closed, in a period, per team.
#[tokio::test]
async fn findings_are_found_by_team_and_by_when_they_were_raised_and_closed() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    in_post_incident(s, 1).await;
    let before = Utc::now() - Duration::seconds(1);
    for team in ["identity", "identity", "platform"] {
        s.raise_finding("ann", &key(1), &finding(team))
            .await
            .unwrap();
    }
    let wont = FindingUpdate {
        state: Some(FindingState::WontFix),
        note: Some("accepted".into()),
        ..Default::default()
    };
    s.update_finding("ann", fnd(2), &wont).await.unwrap();
    let after = Utc::now() + Duration::seconds(1);
    let keys = |page: vigil_store::Page<vigil_core::Finding>| {
        page.items
            .iter()
            .map(|f| f.key.number())
            .collect::<Vec<_>>()
    };
    let cases: Vec<(FindingFilter, Vec<u64>)> = vec![
        (
            FindingFilter {
                created_from: Some(before),
                created_to: Some(after),
                ..Default::default()
            },
            vec![1, 2, 3],
        ),
        (
            FindingFilter {
                created_to: Some(before),
                ..Default::default()
            },
            vec![],
        ),
        (
            FindingFilter {
                closed_from: Some(before),
                closed_to: Some(after),
                ..Default::default()
            },
            vec![2],
        ),
        (
            FindingFilter {
                team: Some("identity".into()),
                open: Some(true),
                ..Default::default()
            },
            vec![1],
        ),
        (
            FindingFilter {
                open: Some(false),
                ..Default::default()
            },
            vec![2],
        ),
        (
            FindingFilter {
                kind: Some(FindingKind::Prevent),
                ..Default::default()
            },
            vec![],
        ),
        (
            FindingFilter {
                incident: Some(key(1)),
                limit: 1,
                offset: 1,
                ..Default::default()
            },
            vec![2],
        ),
    ];
    for (filter, want) in cases {
        assert_eq!(
            keys(s.list_findings(&filter).await.unwrap()),
            want,
            "{filter:?}"
        );
    }
    let err = s
        .list_findings(&FindingFilter {
            incident: Some(key(9)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("INC-9"), "{err}");
}

#[tokio::test]
async fn a_finding_changed_by_hand_is_named_by_verify_audit() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    in_post_incident(s, 1).await;
    s.raise_finding("ann", &key(1), &finding("identity"))
        .await
        .unwrap();
    assert!(s.verify_audit().await.unwrap().is_ok());
    h.raw("UPDATE findings SET state = 'done', closed_at = created_at WHERE seq = 1")
        .await;
    let broken = s
        .verify_audit()
        .await
        .unwrap()
        .expect_err("the edit is caught");
    assert!(
        matches!(&broken.problem, ChainProblem::RecordAltered { record, .. } if record.contains("INC-1")),
        "{broken:?}"
    );
}

/// A post-mortem an earlier release wrote (a summary only, no history column, no findings
/// table) reads as before once this release's migration ran, and the states the audit trail
/// recorded for it still match; the close guard then asks for a contributing factor, which
/// recording the post-mortem again adds, the old one kept in the history.
#[tokio::test]
async fn post_mortems_written_before_findings_still_load_and_verify() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    let mut sev1 = new_incident("old sev1");
    sev1.severity = Severity::Sev1;
    s.create_incident("ann", sev1).await.unwrap();
    for p in [
        Phase::Analysis,
        Phase::Containment,
        Phase::Eradication,
        Phase::Recovery,
        Phase::PostIncident,
    ] {
        let cause = (p == Phase::Recovery).then_some("weak MFA");
        s.change_phase("ann", &key(1), p, None, cause)
            .await
            .unwrap();
    }
    s.record_post_mortem("ann", &key(1), &NewPostMortem::summary("old review"))
        .await
        .unwrap();
    let before = s.get_incident(&key(1)).await.unwrap();
    // As a release before 0017 left the database: its post-mortem row written as it wrote it.
    h.raw(
        "UPDATE incidents SET post_mortem = json_object('summary', 'old review', \
         'recorded_by', 'ann', 'recorded_at', json_extract(post_mortem, '$.recorded_at'))",
    )
    .await;
    for sql in [
        "DROP TABLE findings",
        "ALTER TABLE incidents DROP COLUMN post_mortem_history",
        "DELETE FROM _sqlx_migrations WHERE version = 17",
    ] {
        h.raw(sql).await;
    }
    let upgraded = SqliteStore::open(h.sqlite.dir()).await.unwrap();
    let loaded = upgraded.get_incident(&key(1)).await.unwrap();
    assert_eq!(loaded, before);
    assert!(loaded.findings.is_empty() && loaded.post_mortem_history.is_empty());
    let verified = upgraded
        .verify_audit()
        .await
        .unwrap()
        .expect("chain intact");
    assert_eq!(verified.records_unchecked, 0, "{verified:?}");

    let err = upgraded
        .change_phase("ann", &key(1), Phase::Closed, None, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("post_mortem_classified"), "{err}");
    let mut whole = NewPostMortem::summary("old review");
    whole.contributing_factors = vec![ContributingFactor {
        kind: FactorKind::Other,
        description: "rated SEV1 by mistake: a test account".into(),
    }];
    let inc = upgraded
        .record_post_mortem("ann", &key(1), &whole)
        .await
        .unwrap();
    assert_eq!(inc.post_mortem_history.len(), 1);
    upgraded
        .change_phase("ann", &key(1), Phase::Closed, None, None)
        .await
        .unwrap();
    assert!(upgraded.verify_audit().await.unwrap().is_ok());
}
