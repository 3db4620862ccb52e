//! Hand edits of the records themselves, not of the audit rows: every write records the state it
//! left its incident or token in, so `verify_audit` names a record that was changed, added or
//! deleted outside Vigil — and normal use verifies with every record checked.

use chrono::Duration;
use vigil_core::audit::{NewAuditEntry, STATE_FIELD, STATES_FIELD};
use vigil_core::{
    ActionKind, AuditVerified, ChainBreak, ChainProblem, IncidentKey, IncidentPatch, Phase, Role,
    Severity, TimestampKind,
};
use vigil_store::{AuditFilter, IncidentRef, NewEvidence, Store};

use crate::support::{Harness, ind, new_incident};

fn key(n: u64) -> IncidentRef {
    IncidentRef::Key(IncidentKey::new(n).unwrap())
}

/// A store used as responders use it: two incidents through most kinds of write (INC-1 linked
/// to INC-2, with evidence downloaded), an admin token `alice`, a revoked viewer `bob` and an
/// ingest token bound to a service.
async fn used() -> Harness {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    s.create_incident("ann", new_incident("first"))
        .await
        .unwrap();
    s.create_incident("ann", new_incident("second"))
        .await
        .unwrap();
    let patch = IncidentPatch {
        title: Some("first, retitled".into()),
        ..IncidentPatch::default()
    };
    s.update_incident("ann", &key(1), patch).await.unwrap();
    s.change_severity("ann", &key(1), Severity::Sev2, "payroll affected")
        .await
        .unwrap();
    s.change_phase("ann", &key(1), Phase::Analysis, Some("confirmed"), None)
        .await
        .unwrap();
    let added = s
        .add_indicators("ann", &key(1), vec![ind("ip", "10.0.0.2")])
        .await
        .unwrap();
    s.remove_indicator("ann", &key(1), added[0].0.id, "our own proxy")
        .await
        .unwrap();
    let detected = s
        .get_incident(&key(1))
        .await
        .unwrap()
        .timestamps
        .detected
        .unwrap();
    s.correct_timestamp(
        "ann",
        &key(1),
        TimestampKind::FirstActivity,
        Some(detected - Duration::hours(2)),
        "proxy logs",
    )
    .await
    .unwrap();
    s.link_incidents("ann", &key(1), &key(2), Some("same sender"))
        .await
        .unwrap();
    s.unlink_incidents("ann", &key(2), &key(1)).await.unwrap();
    s.link_incidents("ann", &key(2), &key(1), None)
        .await
        .unwrap();
    s.append_action(
        "ann",
        &key(1),
        ActionKind::Containment,
        "disabled the account",
    )
    .await
    .unwrap();
    let meta = NewEvidence {
        file_name: "mail.eml".into(),
        description: Some("the phishing mail".into()),
    };
    let ev = s
        .add_evidence("ann", &key(1), meta, &mut &b"From: mallory"[..])
        .await
        .unwrap();
    s.add_custody("ann", &key(1), ev.id, "exported", "to forensics")
        .await
        .unwrap();
    s.open_evidence("vic", &key(1), ev.id).await.unwrap();
    s.create_token("setup", "alice", Role::Admin).await.unwrap();
    let bob = s.create_token("alice", "bob", Role::Viewer).await.unwrap();
    s.revoke_token("alice", bob.info.id).await.unwrap();
    s.create_ingest_token("alice", "shipper", Some("mail"), None)
        .await
        .unwrap();
    h
}

async fn verified(h: &Harness) -> AuditVerified {
    h.store.verify_audit().await.unwrap().expect("intact")
}

async fn problem(h: &Harness) -> ChainBreak {
    h.store
        .verify_audit()
        .await
        .unwrap()
        .expect_err("the hand edit must be found")
}

/// The seq of the latest audit entry about incident `n`.
async fn latest_entry_of(h: &Harness, n: u64) -> u64 {
    let id = h.store.get_incident(&key(n)).await.unwrap().id;
    let entries = h
        .store
        .list_audit(&AuditFilter {
            incident_id: Some(id),
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    entries.items.last().unwrap().seq
}

/// The seq of the latest audit entry of `action` (the last `token.revoke`, say).
async fn latest_entry(h: &Harness, action: &str) -> u64 {
    let entries = h
        .store
        .list_audit(&AuditFilter {
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    entries
        .items
        .iter()
        .rev()
        .find(|e| e.action == action)
        .unwrap()
        .seq
}

async fn token_id(h: &Harness, name: &str) -> String {
    let tokens = h.store.list_tokens().await.unwrap();
    tokens
        .iter()
        .find(|t| t.name == name)
        .unwrap()
        .id
        .to_string()
}

#[tokio::test]
async fn normal_use_verifies_with_every_record_checked() {
    let h = used().await;
    let entries = h
        .store
        .list_audit(&AuditFilter::default())
        .await
        .unwrap()
        .total;
    assert_eq!(
        verified(&h).await,
        AuditVerified {
            entries,
            records_checked: 5,
            records_unchecked: 0,
        }
    );
    // A link changes both records: its entry records both states.
    let link = latest_entry(&h, "incident.link").await;
    let entry = &h
        .store
        .list_audit(&AuditFilter {
            offset: link as u32 - 1,
            limit: 1,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .items[0];
    assert!(entry.payload[STATE_FIELD].is_string(), "{entry:?}");
    assert_eq!(entry.payload[STATES_FIELD].as_object().unwrap().len(), 1);
    // Token entries record a state, never the secret or its stored hash.
    let all = h.store.list_audit(&AuditFilter::default()).await.unwrap();
    for e in all.items.iter().filter(|e| e.action.starts_with("token.")) {
        assert!(e.payload[STATE_FIELD].is_string(), "{e:?}");
        assert!(!e.payload.to_string().contains("vgl_"), "{e:?}");
    }
    // Reopened, as `vigil audit verify` opens the directory, the records still match.
    let again = vigil_store::SqliteStore::open_existing(h.sqlite.dir())
        .await
        .unwrap();
    assert_eq!(
        again
            .verify_audit()
            .await
            .unwrap()
            .map(|v| v.records_checked),
        Ok(5)
    );
}

#[tokio::test]
async fn a_column_of_an_incident_changed_by_hand_is_found() {
    let h = used().await;
    let entry = latest_entry_of(&h, 1).await;
    let entries = verified(&h).await.entries;
    assert_eq!(
        h.raw("UPDATE incidents SET severity = 'SEV4' WHERE seq = 1")
            .await,
        1
    );
    let b = problem(&h).await;
    assert_eq!(
        b,
        ChainBreak {
            seq: entries,
            problem: ChainProblem::RecordAltered {
                record: "incident INC-1".into(),
                entry
            }
        }
    );
    assert_eq!(b.intact_entries(), entries);
    let text = b.to_string();
    for needle in [
        "incident INC-1",
        "outside Vigil",
        "restore it from a backup",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
}

/// Each hand edit of a part of an incident's record — a value no longer readable, an indicator
/// row deleted, an evidence hash changed, an action's text changed, a link deleted — is found,
/// named by the incident and the latest entry that wrote it. Each row: the incident, the edit.
#[tokio::test]
async fn an_incident_s_parts_changed_by_hand_are_found() {
    let other_file = vigil_core::Sha256::of(b"the attacker's file");
    let edits = [
        (
            2,
            "UPDATE incidents SET severity = 'SEV9' WHERE seq = 2".to_owned(),
        ),
        (
            1,
            "DELETE FROM indicators WHERE value = '10.0.0.2'".to_owned(),
        ),
        (1, format!("UPDATE evidence SET sha256 = '{other_file}'")),
        (1, "UPDATE actions SET text = 'nothing was done'".to_owned()),
        (1, "DELETE FROM incident_links".to_owned()),
    ];
    for (n, edit) in edits {
        let h = used().await;
        let entry = latest_entry_of(&h, n).await;
        assert!(h.raw(&edit).await >= 1, "{edit} changed no row");
        assert_eq!(
            problem(&h).await.problem,
            ChainProblem::RecordAltered {
                record: format!("incident INC-{n}"),
                entry
            },
            "{edit}"
        );
    }
}

#[tokio::test]
async fn the_other_incident_of_a_link_is_checked_against_the_state_the_link_recorded() {
    let h = used().await;
    h.store
        .unlink_incidents("ann", &key(2), &key(1))
        .await
        .unwrap();
    h.store
        .link_incidents("ann", &key(1), &key(2), None)
        .await
        .unwrap();
    // The link's entry is INC-1's; INC-2's state is in it too.
    let link = latest_entry(&h, "incident.link").await;
    assert!(latest_entry_of(&h, 2).await < link);
    assert_eq!(verified(&h).await.records_checked, 5);
    h.raw("UPDATE incidents SET title = 'nothing to see' WHERE seq = 2")
        .await;
    assert_eq!(
        problem(&h).await.problem,
        ChainProblem::RecordAltered {
            record: "incident INC-2".into(),
            entry: link
        }
    );
}

#[tokio::test]
async fn an_incident_inserted_by_hand_is_found() {
    let h = used().await;
    h.raw(
        "INSERT INTO incidents (id, seq, title, summary, severity, priority, phase, tlp, pap, \
         customer_facing, techniques, data_impact, next_steps, created_by, created_at, updated_at) \
         SELECT '0190f0f0-0000-7000-8000-000000000003', 3, 'planted', summary, severity, priority, \
         phase, tlp, pap, customer_facing, techniques, data_impact, next_steps, created_by, \
         created_at, updated_at FROM incidents WHERE seq = 1",
    )
    .await;
    assert_eq!(
        problem(&h).await.problem,
        ChainProblem::RecordUnaudited {
            record: "incident INC-3".into()
        }
    );
}

#[tokio::test]
async fn a_token_inserted_by_hand_is_found() {
    let h = used().await;
    let secret = "vgl_mallorys_own_secret";
    let id = "0190f0f0-0000-7000-8000-00000000dead";
    h.raw(&format!(
        "INSERT INTO tokens (id, name, role, token_hash, created_by, created_at) \
         VALUES ('{id}', 'mallory', 'admin', '{}', 'alice', '2026-01-01T00:00:00.000000Z')",
        vigil_core::Sha256::of(secret.as_bytes())
    ))
    .await;
    // What makes it dangerous: the store takes it.
    assert!(h.store.authenticate(secret).await.unwrap().is_some());
    let b = problem(&h).await;
    assert_eq!(
        b.problem,
        ChainProblem::RecordUnaudited {
            record: format!("token \"mallory\" ({id})")
        }
    );
    assert!(b.to_string().contains("added outside Vigil"), "{b}");
}

#[tokio::test]
async fn a_revoked_token_revived_by_hand_is_found() {
    let h = used().await;
    let entry = latest_entry(&h, "token.revoke").await;
    let bob = token_id(&h, "bob").await;
    assert_eq!(
        h.raw("UPDATE tokens SET revoked_at = NULL WHERE name = 'bob'")
            .await,
        1
    );
    assert_eq!(
        problem(&h).await.problem,
        ChainProblem::RecordAltered {
            record: format!("token \"bob\" ({bob})"),
            entry
        }
    );
}

#[tokio::test]
async fn a_token_given_another_secret_or_role_by_hand_is_found() {
    for edit in [
        "UPDATE tokens SET token_hash = 'f00d' WHERE name = 'shipper'",
        "UPDATE tokens SET role = 'admin', service = NULL WHERE name = 'shipper'",
    ] {
        let h = used().await;
        let shipper = token_id(&h, "shipper").await;
        h.raw(edit).await;
        assert!(
            matches!(
                problem(&h).await.problem,
                ChainProblem::RecordAltered { record, .. } if record.contains(&shipper)
            ),
            "{edit}"
        );
    }
}

#[tokio::test]
async fn a_record_deleted_by_hand_is_found() {
    let h = used().await;
    let entry = latest_entry(&h, "token.revoke").await;
    let bob = token_id(&h, "bob").await;
    h.raw("DELETE FROM tokens WHERE name = 'bob'").await;
    assert_eq!(
        problem(&h).await.problem,
        ChainProblem::RecordMissing {
            record: format!("token \"bob\" ({bob})"),
            entry
        }
    );

    // A whole incident gone (the `sqlite3` shell checks no foreign keys).
    let h = used().await;
    h.store
        .create_incident("ann", new_incident("third"))
        .await
        .unwrap();
    let entry = latest_entry_of(&h, 3).await;
    h.raw_unchecked("DELETE FROM incidents WHERE seq = 3").await;
    let b = problem(&h).await;
    assert_eq!(
        b.problem,
        ChainProblem::RecordMissing {
            record: "incident INC-3".into(),
            entry
        }
    );
    assert!(b.to_string().contains("deleted outside Vigil"), "{b}");
}

/// Rewrites the chain as a Vigil from before states were recorded would have written it: the
/// same entries without their states, every hash recomputed.
async fn strip_states(h: &Harness) {
    use sqlx::Connection;
    let entries = h
        .store
        .list_audit(&AuditFilter {
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .items;
    let url = format!("sqlite://{}", h.sqlite.db_path().display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let mut prev = (0, vigil_core::GENESIS_HASH.to_owned());
    for e in entries {
        let mut payload = e.payload.clone();
        let fields = payload.as_object_mut().unwrap();
        fields.remove(STATE_FIELD);
        fields.remove(STATES_FIELD);
        let old = NewAuditEntry {
            at: e.at,
            actor: e.actor,
            action: e.action,
            incident_id: e.incident_id,
            payload,
        }
        .chain(prev.0, &prev.1);
        sqlx::query("UPDATE audit SET payload = ?, prev_hash = ?, hash = ? WHERE seq = ?")
            .bind(old.payload.to_string())
            .bind(&old.prev_hash)
            .bind(&old.hash)
            .bind(old.seq as i64)
            .execute(&mut conn)
            .await
            .unwrap();
        prev = (old.seq, old.hash);
    }
    sqlx::query("UPDATE audit_head SET hash = ?")
        .bind(&prev.1)
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

#[tokio::test]
async fn records_last_written_before_states_were_recorded_are_counted_unchecked() {
    let h = used().await;
    strip_states(&h).await;
    let v = verified(&h).await;
    assert_eq!((v.records_checked, v.records_unchecked), (0, 5));
    // They cannot be checked: a hand edit of one goes unseen until Vigil writes it again.
    h.raw("UPDATE incidents SET title = 'edited' WHERE seq = 2")
        .await;
    assert_eq!(verified(&h).await.records_unchecked, 5);
    h.store
        .append_action("ann", &key(1), ActionKind::Note, "checked again")
        .await
        .unwrap();
    let v = verified(&h).await;
    assert_eq!((v.records_checked, v.records_unchecked), (1, 4));
    // A record with no entry at all is still found, old trail or not.
    h.raw(
        "INSERT INTO tokens (id, name, role, token_hash, created_by, created_at) VALUES \
         ('0190f0f0-0000-7000-8000-00000000beef', 'mallory', 'admin', 'x', 'a', 'b')",
    )
    .await;
    assert!(matches!(
        problem(&h).await.problem,
        ChainProblem::RecordUnaudited { .. }
    ));
}

/// A store with the organisation document applied twice and five alerts: ALR-1 paged, then
/// acknowledged, then folded into (which is not audited), ALR-2 resolved, ALR-3 dismissed, ALR-4
/// declared as an incident, ALR-5 left triggered.
async fn with_alerts() -> Harness {
    use vigil_core::{AlertAction, Dismissal};
    use vigil_store::{AlertPolicy, AlertsInto, Raised, TakeAlerts};
    let h = Harness::new().await;
    let s = h.store.as_ref();
    for hook in [
        "https://hooks.example/T0/first",
        "https://hooks.example/T0/second",
    ] {
        let doc = serde_json::json!({"people": [
            {"name": "ann", "contacts": [{"kind": "webhook", "address": hook}]}
        ]});
        assert!(s.apply_org("admin", doc).await.unwrap().1);
    }
    let alert = |n: u64| vigil_core::NewAlert {
        title: format!("alert {n}"),
        source: vigil_core::AlertSource::External,
        severity: Severity::Sev2,
        service: "vpn".into(),
        tenant: None,
        dedup_key: format!("key {n}"),
        rule_id: None,
        summary: None,
        origin: Some("scanner".into()),
        reporter: None,
        event_ids: Vec::new(),
        events: Vec::new(),
        times: 1,
    };
    for n in 1..=5 {
        let raised = s
            .raise_alert("vigil", alert(n), AlertPolicy::default())
            .await
            .unwrap();
        assert!(matches!(raised, Raised::Created(a) if a.id == n as i64));
    }
    s.record_page(1, "vigil", ("0:0", "ann", "webhook"), "paged ann")
        .await
        .unwrap();
    s.act_on_alert("ann", 1, AlertAction::Acknowledge)
        .await
        .unwrap();
    let folded = s
        .raise_alert("vigil", alert(1), AlertPolicy::default())
        .await
        .unwrap();
    assert!(matches!(folded, Raised::Deduplicated(a) if a.id == 1 && a.count == 2));
    s.act_on_alert("ann", 2, AlertAction::Resolve)
        .await
        .unwrap();
    s.act_on_alert(
        "ann",
        3,
        AlertAction::Dismiss(Dismissal::FalsePositive, "our scanner".into()),
    )
    .await
    .unwrap();
    s.take_alerts(
        "ann",
        TakeAlerts {
            alerts: vec![4],
            into: AlertsInto::Declare {
                incident: Box::new(new_incident("from ALR-4")),
                action: "declared from alert ALR-4".into(),
            },
            evidence: Vec::new(),
        },
    )
    .await
    .unwrap();
    h
}

#[tokio::test]
async fn alerts_acted_on_and_every_organisation_version_are_checked() {
    let h = with_alerts().await;
    // Two versions, one incident, four alerts acted on; ALR-5 was never acted on.
    assert_eq!(
        verified(&h).await,
        AuditVerified {
            entries: latest_entry(&h, "alert.declared").await,
            records_checked: 7,
            records_unchecked: 0,
        }
    );
    // Entries of steps on alerts record the state, as those of incidents do.
    let all = h.store.list_audit(&AuditFilter::default()).await.unwrap();
    for e in all.items.iter().filter(|e| e.action.starts_with("alert.")) {
        assert!(e.payload[STATE_FIELD].is_string(), "{e:?}");
    }
}

/// Each hand edit of the organisation document or of an alert people acted on is found, named
/// by the record. Each row: the edit, whether foreign keys are off (as in the `sqlite3` shell),
/// the problem expected.
#[tokio::test]
async fn the_organisation_document_or_an_alert_changed_by_hand_is_found() {
    let altered = |record: &str| format!("altered {record}");
    let edits = [
        (
            "UPDATE org_versions SET document = replace(document, 'hooks.example', \
             'attacker.example') WHERE version = 2",
            altered("organisation document version 2"),
        ),
        (
            "UPDATE org_versions SET applied_by = 'mallory' WHERE version = 1",
            altered("organisation document version 1"),
        ),
        (
            "INSERT INTO org_versions (applied_at, applied_by, document) \
             SELECT applied_at, applied_by, replace(document, 'hooks.example', 'attacker.example') \
             FROM org_versions WHERE version = 2",
            "unaudited organisation document version 3".to_owned(),
        ),
        (
            "DELETE FROM org_versions WHERE version = 2",
            "missing organisation document version 2".to_owned(),
        ),
        (
            "UPDATE alerts SET status = 'triggered' WHERE id = 1",
            altered("alert ALR-1"),
        ),
        (
            "UPDATE alerts SET severity = 'SEV4', title = 'nothing' WHERE id = 3",
            altered("alert ALR-3"),
        ),
        (
            "UPDATE alerts SET incident = 'INC-9' WHERE id = 4",
            altered("alert ALR-4"),
        ),
        (
            "DELETE FROM alert_log WHERE alert_id = 2",
            altered("alert ALR-2"),
        ),
        (
            "DELETE FROM alert_log WHERE alert_id = 1 AND action = 'page'",
            altered("alert ALR-1"),
        ),
        (
            "DELETE FROM alerts WHERE id = 3",
            "missing alert ALR-3".to_owned(),
        ),
        (
            "UPDATE alerts SET status = 'dismissed', dismissal = 'benign' WHERE id = 5",
            "unaudited alert ALR-5".to_owned(),
        ),
    ];
    for (edit, expected) in edits {
        let h = with_alerts().await;
        assert!(h.raw_unchecked(edit).await >= 1, "{edit} changed no row");
        let found = match problem(&h).await.problem {
            ChainProblem::RecordAltered { record, .. } => format!("altered {record}"),
            ChainProblem::RecordUnaudited { record } => format!("unaudited {record}"),
            ChainProblem::RecordMissing { record, .. } => format!("missing {record}"),
            other => panic!("{edit}: {other}"),
        };
        assert_eq!(found, expected, "{edit}");
    }
}

/// What is not audited — a match folded into an acknowledged alert, a page after it, a new
/// alert nobody acted on — changes nothing the check compares.
#[tokio::test]
async fn what_is_not_audited_of_an_alert_may_change() {
    let h = with_alerts().await;
    for edit in [
        "UPDATE alerts SET count = 7, last_seen = '2030-01-01T00:00:00.000000Z' WHERE id = 1",
        "DELETE FROM alert_log WHERE alert_id = 1 AND action = 'deduplicated'",
        "UPDATE alerts SET title = 'edited' WHERE id = 5",
    ] {
        assert_eq!(h.raw(edit).await, 1, "{edit}");
        assert_eq!(verified(&h).await.records_checked, 7, "{edit}");
    }
}

/// Every data-impact assessment is kept (the post-mortem rule looks at all of them): stored in
/// the write's transaction, read back in order, covered by the incident's recorded state, so
/// that a row deleted by hand (a breach assessment made to vanish) is found.
#[tokio::test]
async fn data_impact_assessments_are_kept_and_a_deleted_one_is_found() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    s.create_incident("ann", new_incident("leak"))
        .await
        .unwrap();
    let assess = |customer_data: bool, destroyed: bool| IncidentPatch {
        data_impact: Some(
            vigil_core::DataImpact {
                customer_data,
                destroyed,
                ..Default::default()
            }
            .into(),
        ),
        ..IncidentPatch::default()
    };
    s.update_incident("bob", &key(1), assess(true, true))
        .await
        .unwrap();
    s.update_incident("mallory", &key(1), assess(false, false))
        .await
        .unwrap();
    let i = s.get_incident(&key(1)).await.unwrap();
    let kept: Vec<_> = i
        .data_impact_history
        .iter()
        .map(|d| (d.assessed_by.as_deref(), d.requires_notification()))
        .collect();
    assert_eq!(kept, [(Some("bob"), true), (Some("mallory"), false)]);
    assert_eq!(
        i.first_breach().and_then(|d| d.assessed_by.as_deref()),
        Some("bob")
    );
    verified(&h).await;
    let entry = latest_entry_of(&h, 1).await;
    assert_eq!(
        h.raw("DELETE FROM data_impact_assessments WHERE position = 1")
            .await,
        1
    );
    assert_eq!(
        problem(&h).await.problem,
        ChainProblem::RecordAltered {
            record: "incident INC-1".into(),
            entry
        }
    );
}
