//! The conformance suite: every operation of the `Store` trait, through `&dyn Store` only.

use std::sync::Arc;

use chrono::{Duration, Utc};
use tokio::io::AsyncReadExt;
use vigil_core::{
    ActionKind, Category, ContributingFactor, DataImpact, DomainError, FactorKind, IncidentKey,
    IncidentPatch, IndicatorKind, NewPostMortem, Phase, Priority, Role, Severity, TimestampKind,
};
use vigil_store::{
    AuditFilter, IncidentFilter, IncidentRef, IndicatorSearch, NewEvidence, Store, StoreError,
    SuggestionPage,
};

use crate::support::{Harness, ind, new_incident};

fn key(n: u64) -> IncidentRef {
    IncidentRef::Key(IncidentKey::new(n).unwrap())
}

/// The number of audit entries, once the chain and every record are found intact: every
/// record here was written with its state recorded, so none is left unchecked.
async fn verified(store: &dyn Store) -> u64 {
    let verified = store.verify_audit().await.unwrap().expect("chain intact");
    assert_eq!(verified.records_unchecked, 0, "{verified:?}");
    verified.entries
}

#[tokio::test]
async fn create_get_and_keys() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    let a = s
        .create_incident("ann", new_incident("First"))
        .await
        .unwrap();
    let b = s
        .create_incident("ann", new_incident("Second"))
        .await
        .unwrap();
    assert_eq!(a.key.to_string(), "INC-1");
    assert_eq!(b.key.to_string(), "INC-2");
    assert_eq!(a.phase, Phase::Detection);
    assert_eq!(a.indicators.len(), 2);
    assert_eq!(a.indicators[0].value, "evil.example.com");
    assert_eq!(a.services, ["mail"]);
    assert_eq!(a.techniques[0].as_str(), "T1566.001");
    assert_eq!(a.severity_history.len(), 1);
    assert!(a.timestamps.detected.is_some());
    let by_key = s.get_incident(&key(1)).await.unwrap();
    let by_id = s.get_incident(&IncidentRef::Id(a.id)).await.unwrap();
    assert_eq!(by_key, a, "what create returns is what is stored");
    assert_eq!(by_id, a);
    let missing = s.get_incident(&key(99)).await.unwrap_err();
    assert!(matches!(missing, StoreError::NotFound(_)), "{missing}");
    assert_eq!(verified(s).await, 2);
}

#[tokio::test]
async fn list_filters_and_paging() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    let mut a = new_incident("Ransomware on build farm");
    a.severity = Severity::Sev1;
    a.category = Some(Category::Malware);
    a.summary = "build agents encrypted".into();
    a.services = vec!["ci".into()];
    a.tenants = vec![];
    a.indicators = vec![ind("sha256", &"AB".repeat(32))];
    s.create_incident("ann", a).await.unwrap();
    s.create_incident("ann", new_incident("Phish 1"))
        .await
        .unwrap();
    s.create_incident("ann", new_incident("Phish 2"))
        .await
        .unwrap();
    s.change_phase("ann", &key(3), Phase::Analysis, None, None)
        .await
        .unwrap();

    let all = s.list_incidents(&IncidentFilter::default()).await.unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(all.items[0].key.number(), 3, "newest first");

    let q = |f: IncidentFilter| async move { s.list_incidents(&f).await.unwrap() };
    let keys = |p: vigil_store::Page<vigil_core::Incident>| {
        p.items.iter().map(|i| i.key.number()).collect::<Vec<_>>()
    };
    assert_eq!(
        keys(
            q(IncidentFilter {
                severity: Some(Severity::Sev1),
                ..Default::default()
            })
            .await
        ),
        [1]
    );
    assert_eq!(
        keys(
            q(IncidentFilter {
                category: Some(Category::Malware),
                ..Default::default()
            })
            .await
        ),
        [1]
    );
    assert_eq!(
        keys(
            q(IncidentFilter {
                phase: Some(Phase::Analysis),
                ..Default::default()
            })
            .await
        ),
        [3]
    );
    assert_eq!(
        keys(
            q(IncidentFilter {
                service: Some("ci".into()),
                ..Default::default()
            })
            .await
        ),
        [1]
    );
    assert_eq!(
        keys(
            q(IncidentFilter {
                tenant: Some("contoso".into()),
                ..Default::default()
            })
            .await
        ),
        [3, 2]
    );
    assert_eq!(
        keys(
            q(IncidentFilter {
                indicator: Some("EVIL.example.com".into()),
                ..Default::default()
            })
            .await
        ),
        [3, 2]
    );
    assert_eq!(
        keys(
            q(IncidentFilter {
                indicator: Some("ab".repeat(32)),
                ..Default::default()
            })
            .await
        ),
        [1]
    );
    assert_eq!(
        keys(
            q(IncidentFilter {
                text: Some("RANSOM".into()),
                ..Default::default()
            })
            .await
        ),
        [1]
    );
    assert_eq!(
        keys(
            q(IncidentFilter {
                text: Some("token theft".into()),
                ..Default::default()
            })
            .await
        ),
        [3, 2]
    );
    assert_eq!(
        keys(
            q(IncidentFilter {
                text: Some("100%".into()),
                ..Default::default()
            })
            .await
        ),
        Vec::<u64>::new()
    );
    assert_eq!(
        q(IncidentFilter {
            open: Some(true),
            ..Default::default()
        })
        .await
        .total,
        3
    );
    assert_eq!(
        q(IncidentFilter {
            open: Some(false),
            ..Default::default()
        })
        .await
        .total,
        0
    );
    let p1 = q(IncidentFilter {
        priority: Some(Priority::P1),
        ..Default::default()
    })
    .await;
    assert_eq!(keys(p1), [1]);
    let later = Utc::now() + Duration::hours(1);
    assert_eq!(
        q(IncidentFilter {
            created_from: Some(later),
            ..Default::default()
        })
        .await
        .total,
        0
    );
    assert_eq!(
        q(IncidentFilter {
            created_to: Some(later),
            ..Default::default()
        })
        .await
        .total,
        3
    );
    let page = q(IncidentFilter {
        limit: 2,
        offset: 2,
        ..Default::default()
    })
    .await;
    assert_eq!((page.total, keys(page)), (3, vec![1]));
}

#[tokio::test]
async fn a_closed_incident_takes_no_indicator_until_reopened() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    s.create_incident("ann", new_incident("Phish"))
        .await
        .unwrap();
    let steps = [
        (Phase::Analysis, None),
        (Phase::Containment, None),
        (Phase::Eradication, None),
        (Phase::Recovery, Some("no MFA")),
        (Phase::PostIncident, None),
        (Phase::Closed, None),
    ];
    for (phase, root_cause) in steps {
        s.change_phase("ann", &key(1), phase, None, root_cause)
            .await
            .unwrap();
    }
    let audited = verified(s).await;
    let e = s
        .add_indicators("bob", &key(1), vec![ind("ip", "10.9.9.9")])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Domain(DomainError::Conflict(m)) if m.contains("reopen")),
        "{e}"
    );
    assert_eq!(verified(s).await, audited, "nothing written");
    s.change_phase("bob", &key(1), Phase::Analysis, Some("new IOC"), None)
        .await
        .unwrap();
    let added = s
        .add_indicators("bob", &key(1), vec![ind("ip", "10.9.9.9")])
        .await
        .unwrap();
    assert!(added[0].1);
}

/// The keys of the incidents whose title or summary holds `text` whatever its case.
async fn found_by_text(s: &dyn Store, text: &str) -> Vec<u64> {
    let page = s
        .list_incidents(&IncidentFilter {
            text: Some(text.into()),
            limit: 500,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut keys: Vec<u64> = page.items.iter().map(|i| i.key.number()).collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn text_search_ignores_case_in_every_alphabet() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    let mut a = new_incident("Сервер БД взломан");
    a.summary = "ΟΔΟΣ ΠΡΟΣ ΤΟ ΑΡΧΕΙΟ".into();
    s.create_incident("ann", a).await.unwrap();
    let mut b = new_incident("Straße-Login über VPN");
    b.summary = "Ärger mit İzmir".into();
    s.create_incident("ann", b).await.unwrap();
    for (text, keys) in [
        ("сервер бд", vec![1]),
        ("ВЗЛОМАН", vec![1]),
        ("οδοσ", vec![1]),
        ("οδος", vec![1]),
        ("ΠΡΟΣ ΤΟ", vec![1]),
        ("προς το", vec![1]),
        ("STRASSE", vec![]),
        ("STRAßE-LOGIN ÜBER", vec![2]),
        ("ärger", vec![2]),
        ("İZMIR", vec![2]),
        ("вход", vec![]),
        ("взломан ΟΔΟΣ", vec![]),
    ] {
        assert_eq!(found_by_text(s, text).await, keys, "{text}");
    }
}

/// Case folding as Unicode's simple folding does it for these alphabets, written independently
/// of the store: `str::to_lowercase` (which writes a word-final Σ as ς), then ς as σ.
fn folded(text: &str) -> String {
    text.to_lowercase().replace('ς', "σ")
}

#[tokio::test]
async fn random_text_searches_find_what_case_folding_finds() {
    const PIECES: [&str; 18] = [
        "Сервер",
        "сЕРВЕР",
        "ΟΔΟΣ",
        "οδος",
        "οδοσ",
        "Straße",
        "STRASSE",
        "İstanbul",
        "istanbul",
        "100%",
        "a_b",
        r"C:\Temp",
        "ÆGIR",
        "ǅemal",
        "x",
        "Token",
        "tokens",
        "ΣΣ",
    ];
    let h = Harness::new().await;
    let s = h.store.as_ref();
    let mut rng = vigil_testkit::Rng::new(0x5EA2C4);
    let phrase = |rng: &mut vigil_testkit::Rng| {
        (0..1 + rng.below(3))
            .map(|_| PIECES[rng.below(PIECES.len())])
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut texts = Vec::new();
    for _ in 0..24 {
        let mut n = new_incident(&phrase(&mut rng));
        n.summary = phrase(&mut rng);
        texts.push((n.title.clone(), n.summary.clone()));
        s.create_incident("ann", n).await.unwrap();
    }
    let (mut searched, mut hits) = (0, 0);
    for _ in 0..300 {
        let query: String = if rng.below(4) == 0 {
            phrase(&mut rng)
        } else {
            let (title, summary) = &texts[rng.below(texts.len())];
            let chars: Vec<char> = if rng.below(2) == 0 { title } else { summary }
                .chars()
                .collect();
            let from = rng.below(chars.len());
            let to = from + 1 + rng.below(chars.len() - from);
            chars[from..to]
                .iter()
                .map(|c| match rng.below(3) {
                    0 => c.to_uppercase().collect::<String>(),
                    1 => c.to_lowercase().collect(),
                    _ => c.to_string(),
                })
                .collect()
        };
        let needle = folded(query.trim());
        if needle.is_empty() {
            continue;
        }
        let expected: Vec<u64> = (1..)
            .zip(&texts)
            .filter(|(_, (title, summary))| {
                folded(title).contains(&needle) || folded(summary).contains(&needle)
            })
            .map(|(key, _)| key)
            .collect();
        searched += 1;
        hits += expected.len();
        assert_eq!(found_by_text(s, &query).await, expected, "{query:?}");
    }
    assert!(
        searched > 200 && hits > searched,
        "{searched} searches, {hits} hits"
    );
}

#[tokio::test]
async fn update_severity_priority_and_timestamps() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    s.create_incident("ann", new_incident("x")).await.unwrap();
    let patch = IncidentPatch {
        title: Some("Token theft".into()),
        services: Some(vec!["mail".into(), "sso".into(), "crm".into()]),
        data_impact: Some(
            DataImpact {
                personal_data: true,
                disclosed: true,
                ..Default::default()
            }
            .into(),
        ),
        ..Default::default()
    };
    let i = s.update_incident("bob", &key(1), patch).await.unwrap();
    assert_eq!(i.title, "Token theft");
    assert_eq!(i.services, ["mail", "sso", "crm"]);
    assert_eq!(
        i.priority,
        Priority::P1,
        "SEV3 + breach + wide blast radius"
    );
    assert_eq!(i.data_impact.assessed_by.as_deref(), Some("bob"));

    let e = s
        .change_severity("bob", &key(1), Severity::Sev1, " ")
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Domain(DomainError::InvalidField {
                field: "reason",
                ..
            })
        ),
        "{e}"
    );
    let i = s
        .change_severity("bob", &key(1), Severity::Sev2, "customer data seen")
        .await
        .unwrap();
    assert_eq!(i.severity_history.len(), 2);
    assert_eq!(i.severity_history[1].reason, "customer data seen");

    let detected = i.timestamps.detected.unwrap();
    let e = s
        .correct_timestamp(
            "bob",
            &key(1),
            TimestampKind::FirstActivity,
            Some(detected + Duration::minutes(1)),
            "proxy log",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Domain(DomainError::InvalidField { field: "at", .. })
        ),
        "{e}"
    );
    let earlier = detected - Duration::hours(5);
    let i = s
        .correct_timestamp(
            "bob",
            &key(1),
            TimestampKind::FirstActivity,
            Some(earlier),
            "proxy log",
        )
        .await
        .unwrap();
    assert_eq!(i.timestamps.time_to_detect(), Some(Duration::hours(5)));
    assert_eq!(i.timestamp_corrections.len(), 1);
    assert_eq!(s.get_incident(&key(1)).await.unwrap(), i);
    assert_eq!(
        verified(s).await,
        4,
        "create, update, severity, correction; refusals write nothing"
    );
}

#[tokio::test]
async fn phases_through_guards() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    s.create_incident("ann", new_incident("x")).await.unwrap();
    let audit_before = verified(s).await;
    let e = s
        .change_phase("ann", &key(1), Phase::Recovery, None, None)
        .await
        .unwrap_err();
    match e {
        StoreError::Domain(DomainError::TransitionRefused(r)) => {
            let names: Vec<_> = r.iter().map(|g| g.guard.as_str()).collect();
            assert_eq!(names, ["one_step_forward", "root_cause_before_recovery"]);
        }
        e => panic!("expected a refusal, got {e}"),
    }
    assert_eq!(
        verified(s).await,
        audit_before,
        "a refused transition writes no audit entry"
    );
    assert_eq!(
        s.get_incident(&key(1)).await.unwrap().phase,
        Phase::Detection
    );

    for p in [Phase::Analysis, Phase::Containment, Phase::Eradication] {
        s.change_phase("ann", &key(1), p, None, None).await.unwrap();
    }
    s.update_incident(
        "ann",
        &key(1),
        IncidentPatch {
            root_cause: Some(Some("no MFA on VPN".into())),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for p in [Phase::Recovery, Phase::PostIncident, Phase::Closed] {
        s.change_phase("ann", &key(1), p, None, None).await.unwrap();
    }
    let i = s.get_incident(&key(1)).await.unwrap();
    let t = &i.timestamps;
    assert!(t.acknowledged.is_some() && t.declared.is_some() && t.contained.is_some());
    assert!(t.eradicated.is_some() && t.recovered.is_some() && t.closed.is_some());
    assert_eq!(i.phase_history.len(), 6);
    let closed = s
        .list_incidents(&IncidentFilter {
            open: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(closed.total, 1);
    let e = s
        .change_phase("ann", &key(1), Phase::Analysis, None, None)
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        StoreError::Domain(DomainError::TransitionRefused(_))
    ));
    let i = s
        .change_phase("ann", &key(1), Phase::Analysis, Some("attacker back"), None)
        .await
        .unwrap();
    assert_eq!(i.timestamps.closed, None);
}

#[tokio::test]
async fn close_of_sev1_is_refused_without_post_mortem() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    let mut n = new_incident("big");
    n.severity = Severity::Sev1;
    s.create_incident("ann", n).await.unwrap();
    for p in [Phase::Analysis, Phase::Containment, Phase::Eradication] {
        s.change_phase("ann", &key(1), p, None, None).await.unwrap();
    }
    s.update_incident(
        "ann",
        &key(1),
        IncidentPatch {
            root_cause: Some(Some("x".into())),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    s.change_phase("ann", &key(1), Phase::Recovery, None, None)
        .await
        .unwrap();
    s.change_phase("ann", &key(1), Phase::PostIncident, None, None)
        .await
        .unwrap();
    let e = s
        .change_phase("ann", &key(1), Phase::Closed, None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Domain(DomainError::TransitionRefused(r)) if r[0].guard == "post_mortem_before_close"),
        "{e}"
    );
    let e = s
        .record_post_mortem("ann", &key(1), &NewPostMortem::summary("  "))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Domain(DomainError::InvalidField {
                field: "summary",
                ..
            })
        ),
        "{e}"
    );
    let mut pm = NewPostMortem::summary("no MFA on VPN; add MFA and alerting");
    pm.contributing_factors = vec![ContributingFactor {
        kind: FactorKind::TechnicalLapse,
        description: "VPN without MFA".into(),
    }];
    let i = s.record_post_mortem("ann", &key(1), &pm).await.unwrap();
    assert_eq!(i.post_mortem.as_ref().unwrap().recorded_by, "ann");
    let i = s
        .change_phase("ann", &key(1), Phase::Closed, None, None)
        .await
        .unwrap();
    assert_eq!(i.phase, Phase::Closed);
    verified(s).await;
}

#[tokio::test]
async fn indicators_add_remove_search() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    s.create_incident("ann", new_incident("a")).await.unwrap();
    let mut other = new_incident("b");
    other.indicators = vec![ind("ip", "10.0.0.1")];
    s.create_incident("ann", other).await.unwrap();

    let added = s
        .add_indicators(
            "bob",
            &key(1),
            vec![
                ind("hash", &"F".repeat(40)),
                ind("domain", "evil.example.com"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(added.len(), 2);
    assert!(added[0].1 && added[0].0.kind == IndicatorKind::Sha1);
    assert!(
        !added[1].1,
        "duplicate of an active indicator is not added again"
    );

    let before = verified(s).await;
    let e = s
        .add_indicators("bob", &key(1), vec![ind("ip", "10.0.0.300")])
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Domain(DomainError::InvalidField {
                field: "indicators",
                ..
            })
        ),
        "{e}"
    );
    assert_eq!(verified(s).await, before);

    let hits = s
        .search_indicator(&IndicatorSearch::new("10.0.0.1"))
        .await
        .unwrap()
        .items;
    assert_eq!(
        hits.iter().map(|h| h.key.number()).collect::<Vec<_>>(),
        [2, 1]
    );
    let ip_id = hits[1].indicator.id;
    let removed = s
        .remove_indicator("bob", &key(1), ip_id, "NAT address, false positive")
        .await
        .unwrap();
    assert_eq!(
        removed.removal_reason.as_deref(),
        Some("NAT address, false positive")
    );
    let hits = s
        .search_indicator(&IndicatorSearch::new("10.0.0.1"))
        .await
        .unwrap();
    assert_eq!(
        (hits.total, hits.items.len()),
        (1, 1),
        "removed indicators are not found"
    );
    let i = s.get_incident(&key(1)).await.unwrap();
    assert_eq!(i.indicators.len(), 3, "removal keeps history");
    assert_eq!(i.active_indicators().count(), 2);
    let e = s
        .remove_indicator("bob", &key(1), ip_id, "again")
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NotFound(_)), "{e}");
    assert!(
        s.search_indicator(&IndicatorSearch::new("  "))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn links_and_suggestions() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    for t in ["a", "b"] {
        s.create_incident("ann", new_incident(t)).await.unwrap();
    }
    let mut c = new_incident("c");
    c.indicators = vec![ind("email", "x@y.example")];
    s.create_incident("ann", c).await.unwrap();

    let rel = s.related(&key(1), SuggestionPage::default()).await.unwrap();
    assert!(rel.links.is_empty());
    assert_eq!(rel.suggestions.len(), 1);
    assert_eq!(rel.suggestions[0].key.number(), 2);
    assert_eq!(rel.suggestions[0].shared.len(), 2);

    let link = s
        .link_incidents("ann", &key(1), &key(3), Some("same actor"))
        .await
        .unwrap();
    assert_eq!(link.key.number(), 3);
    let e = s
        .link_incidents("ann", &key(3), &key(1), None)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    let e = s
        .link_incidents("ann", &key(1), &key(1), None)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Domain(_)), "{e}");
    s.link_incidents("ann", &key(1), &key(2), None)
        .await
        .unwrap();
    let rel = s.related(&key(1), SuggestionPage::default()).await.unwrap();
    assert_eq!(rel.links.len(), 2);
    assert!(
        rel.suggestions.is_empty(),
        "linked incidents are no longer suggested"
    );
    let three = s.get_incident(&key(3)).await.unwrap();
    assert_eq!(three.links[0].key.number(), 1, "links are symmetric");
    assert_eq!(three.links[0].note.as_deref(), Some("same actor"));

    s.unlink_incidents("ann", &key(2), &key(1)).await.unwrap();
    assert_eq!(
        s.related(&key(1), SuggestionPage::default())
            .await
            .unwrap()
            .suggestions
            .len(),
        1
    );
    assert!(matches!(
        s.unlink_incidents("ann", &key(2), &key(1)).await,
        Err(StoreError::NotFound(_))
    ));
    // Linking and unlinking change both incidents' records: both states are recorded.
    verified(s).await;
}

/// Suggestions come ranked by how many active indicators they share, then newest first, a page
/// at a time with how many there are; explicit links are all listed whatever the page.
#[tokio::test]
async fn suggestions_are_ranked_by_shared_indicators_and_paged() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    let with = |title: &str, values: &[(&str, &str)]| {
        let mut n = new_incident(title);
        n.indicators = values.iter().map(|(k, v)| ind(k, v)).collect();
        n
    };
    let scanner = ("ip", "203.0.113.66");
    s.create_incident(
        "ann",
        with(
            "the one",
            &[
                scanner,
                ("domain", "evil.example"),
                ("email", "x@evil.example"),
            ],
        ),
    )
    .await
    .unwrap();
    // INC-2: all three; INC-3, INC-4: two; INC-5 … INC-8: the scanner alone.
    s.create_incident(
        "ann",
        with(
            "all",
            &[
                ("email", "x@evil.example"),
                scanner,
                ("domain", "evil.example"),
            ],
        ),
    )
    .await
    .unwrap();
    for t in ["two a", "two b"] {
        s.create_incident("ann", with(t, &[scanner, ("domain", "evil.example")]))
            .await
            .unwrap();
    }
    for t in ["scan a", "scan b", "scan c", "scan d"] {
        s.create_incident("ann", with(t, &[scanner])).await.unwrap();
    }
    s.link_incidents("ann", &key(1), &key(5), None)
        .await
        .unwrap();

    let all = s.related(&key(1), SuggestionPage::default()).await.unwrap();
    let ranked: Vec<(u64, usize)> = all
        .suggestions
        .iter()
        .map(|x| (x.key.number(), x.shared.len()))
        .collect();
    assert_eq!(
        ranked,
        [(2, 3), (4, 2), (3, 2), (8, 1), (7, 1), (6, 1)],
        "most shared first, then newest; the linked INC-5 is not suggested"
    );
    assert_eq!(all.suggestions_total, 6);
    assert_eq!(all.suggestions[0].phase, Phase::Detection);

    let page = s
        .related(
            &key(1),
            SuggestionPage {
                limit: 2,
                offset: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        page.suggestions
            .iter()
            .map(|x| x.key.number())
            .collect::<Vec<_>>(),
        [4, 3]
    );
    assert_eq!(page.suggestions_total, 6, "the total counts every page");
    assert_eq!(page.links.len(), 1, "links are listed whatever the page");
}

/// An indicator search gives a page of its hits, newest incident first, and how many there are;
/// `kinds` keeps the hits of those kinds.
#[tokio::test]
async fn indicator_search_is_paged_with_its_total() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    for i in 0..5 {
        let mut n = new_incident(&format!("i{i}"));
        n.indicators = vec![ind("ip", "203.0.113.66")];
        s.create_incident("ann", n).await.unwrap();
    }
    let mut search = IndicatorSearch::new("203.0.113.66");
    search.limit = 2;
    search.offset = 1;
    let page = s.search_indicator(&search).await.unwrap();
    assert_eq!(page.total, 5);
    assert_eq!(
        page.items
            .iter()
            .map(|h| h.key.number())
            .collect::<Vec<_>>(),
        [4, 3]
    );
    search.kinds = vec![IndicatorKind::Domain];
    let none = s.search_indicator(&search).await.unwrap();
    assert_eq!((none.total, none.items.len()), (0, 0));
    search.kinds = vec![IndicatorKind::Ip];
    assert_eq!(s.search_indicator(&search).await.unwrap().total, 5);
}

/// Every change to an incident's record fields, a scope widened, a link made or removed,
/// leaves an entry in its action log — who, when, what changed — written in the change's own
/// transaction and covered by its audit entry; an entry of that kind is never taken from a
/// caller.
#[tokio::test]
async fn record_changes_are_logged_with_who_and_when() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    s.create_incident("ann", new_incident("a")).await.unwrap();
    s.create_incident("ann", new_incident("b")).await.unwrap();
    let patch: IncidentPatch = serde_json::from_str(
        r#"{"title": "Token theft", "tlp": "red", "add_services": ["crm"],
            "data_impact": {"personal_data": true, "disclosed": true}}"#,
    )
    .unwrap();
    let updated = s.update_incident("bob", &key(1), patch).await.unwrap();
    s.extend_scope("cy", &key(1), vec!["web".into()], Vec::new())
        .await
        .unwrap();
    s.change_phase("bob", &key(1), Phase::Analysis, None, Some("weak MFA"))
        .await
        .unwrap();
    // A change that leaves the record fields as they were logs nothing.
    s.change_severity("bob", &key(1), Severity::Sev2, "worse")
        .await
        .unwrap();
    s.link_incidents("ann", &key(1), &key(2), Some("same phish kit"))
        .await
        .unwrap();
    s.unlink_incidents("bob", &key(2), &key(1)).await.unwrap();
    let log = s.list_actions(&key(1), 100, 0).await.unwrap().items;
    let seen: Vec<(&str, ActionKind, &str)> = log
        .iter()
        .map(|e| (e.actor.as_str(), e.kind, e.text.as_str()))
        .collect();
    assert_eq!(seen.len(), 5, "{seen:#?}");
    assert_eq!(&seen[0].0, &"bob");
    assert_eq!(seen[0].1, ActionKind::Change);
    assert!(
        seen[0]
            .2
            .starts_with("title \"a\" → \"Token theft\"; TLP amber → red; services + crm")
            && seen[0]
                .2
                .contains("data impact + personal data, + disclosed — a data breach"),
        "{seen:#?}"
    );
    assert_eq!(
        log[0].at, updated.updated_at,
        "logged when the change was made"
    );
    assert_eq!((seen[1].0, seen[1].2), ("cy", "services + web"));
    assert_eq!(
        (seen[2].0, seen[2].2),
        ("bob", "root cause none → \"weak MFA\"")
    );
    assert_eq!(
        (seen[3].0, seen[3].2),
        ("ann", "linked to INC-2: same phish kit")
    );
    assert!(
        seen[4].0 == "bob"
            && seen[4]
                .2
                .starts_with("unlinked from INC-2 (linked by ann at ")
            && seen[4].2.ends_with(": same phish kit)"),
        "{seen:#?}"
    );
    let other = s.list_actions(&key(2), 100, 0).await.unwrap().items;
    let texts: Vec<&str> = other.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[1].starts_with("unlinked from INC-1"), "{texts:?}");
    // People log their own kinds; `change` is Vigil's.
    let refused = s
        .append_action("bob", &key(1), ActionKind::Change, "title changed")
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("kind"), "{refused}");
    // Each entry is covered by its change's audit entry: every record checks out.
    verified(s).await;
}

#[tokio::test]
async fn action_log_appends_and_pages() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    s.create_incident("ann", new_incident("a")).await.unwrap();
    for i in 0..5 {
        s.append_action(
            "ann",
            &key(1),
            ActionKind::Containment,
            &format!("blocked host {i}"),
        )
        .await
        .unwrap();
    }
    assert!(
        s.append_action("ann", &key(1), ActionKind::Note, "  ")
            .await
            .is_err()
    );
    let page = s.list_actions(&key(1), 2, 1).await.unwrap();
    assert_eq!(page.total, 5);
    assert_eq!(
        page.items
            .iter()
            .map(|a| a.text.as_str())
            .collect::<Vec<_>>(),
        ["blocked host 1", "blocked host 2"]
    );
    assert_eq!(s.get_incident(&key(1)).await.unwrap().action_count, 5);
    verified(s).await;
}

#[tokio::test]
async fn evidence_round_trip_and_custody() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    s.create_incident("ann", new_incident("a")).await.unwrap();
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let mut reader: &[u8] = &content;
    let meta = NewEvidence {
        file_name: "mail.eml".into(),
        description: Some("the phishing mail".into()),
    };
    let ev = s
        .add_evidence("ann", &key(1), meta, &mut reader)
        .await
        .unwrap();
    assert_eq!(ev.size, content.len() as u64);
    assert_eq!(ev.sha256, vigil_core::Sha256::of(&content));
    assert_eq!(ev.custody.len(), 1);
    let ev = s
        .add_custody(
            "bob",
            &key(1),
            ev.id,
            "exported",
            "sent to forensics vendor",
        )
        .await
        .unwrap();
    assert_eq!(ev.custody[1].actor, "bob");
    assert_eq!(s.get_evidence(&key(1), ev.id).await.unwrap(), ev);
    let mut dl = s.open_evidence("vic", &key(1), ev.id).await.unwrap();
    let mut back = Vec::new();
    dl.file.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, content);
    // The download is in the chain of custody, and in the audit trail with it.
    let downloaded = dl.evidence.custody.last().unwrap();
    assert_eq!(dl.evidence.custody.len(), 3);
    assert_eq!(
        (downloaded.actor.as_str(), downloaded.action.as_str()),
        ("vic", "downloaded")
    );
    let audit = s.list_audit(&AuditFilter::default()).await.unwrap();
    let last = audit.items.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor.as_str()),
        ("evidence.download", "vic")
    );
    assert_eq!(last.payload["evidence_id"], ev.id.to_string());
    assert_eq!(
        s.get_incident(&key(1)).await.unwrap().evidence,
        vec![dl.evidence.clone()]
    );
    assert!(matches!(
        s.get_evidence(&key(1), uuid::Uuid::now_v7()).await,
        Err(StoreError::NotFound(_))
    ));

    let mut empty: &[u8] = b"";
    let bad = NewEvidence {
        file_name: "../x".into(),
        description: None,
    };
    assert!(matches!(
        s.add_evidence("ann", &key(1), bad, &mut empty).await,
        Err(StoreError::Domain(DomainError::InvalidField {
            field: "file_name",
            ..
        }))
    ));
    verified(s).await;
}

#[tokio::test]
async fn tokens_create_authenticate_revoke() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    let t = s
        .create_token("setup", "alice", Role::Responder)
        .await
        .unwrap();
    assert!(t.token.len() >= 40);
    let p = s
        .authenticate(&t.token)
        .await
        .unwrap()
        .expect("valid token");
    assert_eq!((p.name.as_str(), p.role), ("alice", Role::Responder));
    assert_eq!(s.authenticate("vgl_wrong").await.unwrap(), None);
    // A second active token of the same name (in any case) would make its writes' actor
    // ambiguous: refused, whatever its role.
    for name in ["alice", "ALICE", " alice "] {
        match s.create_token("setup", name, Role::Viewer).await {
            Err(StoreError::Conflict(message)) => assert!(
                message.contains("already named \"alice\"")
                    && message.contains("choose another name"),
                "{message}"
            ),
            other => panic!("{name:?}: expected a conflict, got {other:?}"),
        }
    }
    let list = s.list_tokens().await.unwrap();
    assert_eq!(list.len(), 1);
    let revoked = s.revoke_token("admin", t.info.id).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(s.authenticate(&t.token).await.unwrap(), None);
    assert!(matches!(
        s.revoke_token("admin", t.info.id).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s.create_token("setup", " ", Role::Viewer).await.is_err());
    // Once revoked, the name is free again.
    s.create_token("setup", "alice", Role::Viewer)
        .await
        .unwrap();
    let audit = s.list_audit(&AuditFilter::default()).await.unwrap();
    let text = serde_json::to_string(&audit.items).unwrap();
    assert!(
        !text.contains(&t.token),
        "the secret never reaches the audit trail"
    );
}

#[tokio::test]
async fn audit_lists_and_verifies_after_many_writes() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    for i in 0..10 {
        s.create_incident("ann", new_incident(&format!("i{i}")))
            .await
            .unwrap();
        s.append_action("ann", &key(i + 1), ActionKind::Note, "note")
            .await
            .unwrap();
        s.change_severity("ann", &key(i + 1), Severity::Sev2, "worse")
            .await
            .unwrap();
    }
    assert_eq!(verified(s).await, 30);
    let page = s
        .list_audit(&AuditFilter {
            limit: 5,
            offset: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 30);
    assert_eq!(
        page.items.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [4, 5, 6, 7, 8]
    );
    let one = s.get_incident(&key(4)).await.unwrap();
    let mine = s
        .list_audit(&AuditFilter {
            incident_id: Some(one.id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(mine.total, 3);
    assert_eq!(mine.items[0].action, "incident.create");
}

#[tokio::test]
async fn rejected_create_leaves_nothing() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    s.create_incident("ann", new_incident("ok")).await.unwrap();
    let mut bad = new_incident("bad");
    bad.indicators.push(ind("ip", "not-an-ip"));
    let e = s.create_incident("ann", bad).await.unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Domain(DomainError::InvalidField {
                field: "indicators",
                ..
            })
        ),
        "{e}"
    );
    let mut bad = new_incident("bad");
    bad.techniques = vec!["T12".into()];
    assert!(s.create_incident("ann", bad).await.is_err());
    assert_eq!(
        s.list_incidents(&IncidentFilter::default())
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(verified(s).await, 1);
    let next = s
        .create_incident("ann", new_incident("next"))
        .await
        .unwrap();
    assert_eq!(next.key.number(), 2, "no key is burnt by a rejected create");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_keep_the_chain_linear() {
    let h = Harness::new().await;
    let store: Arc<dyn Store> = h.store.clone();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..5 {
                let inc = store
                    .create_incident(&format!("w{w}"), new_incident(&format!("w{w}-{i}")))
                    .await
                    .unwrap();
                store
                    .append_action(
                        &format!("w{w}"),
                        &IncidentRef::Id(inc.id),
                        ActionKind::Note,
                        "x",
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(verified(store.as_ref()).await, 40);
    let all = store
        .list_incidents(&IncidentFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut keys: Vec<u64> = all.items.iter().map(|i| i.key.number()).collect();
    keys.sort();
    assert_eq!(
        keys,
        (1..=20).collect::<Vec<_>>(),
        "keys are unique and dense"
    );
}

#[tokio::test]
async fn ingest_tokens_carry_their_binding_and_stay_out_of_the_read_roles() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    let created = s
        .create_ingest_token("ann", "web-shipper", Some("web"), Some("acme"))
        .await
        .unwrap();
    assert_eq!(created.info.role, Role::Ingest);
    assert_eq!(created.info.service.as_deref(), Some("web"));
    let who = s.authenticate(&created.token).await.unwrap().unwrap();
    assert_eq!(
        (who.role, who.service.as_deref(), who.tenant.as_deref()),
        (Role::Ingest, Some("web"), Some("acme"))
    );
    let open = s
        .create_ingest_token("ann", "any", None, None)
        .await
        .unwrap();
    let who = s.authenticate(&open.token).await.unwrap().unwrap();
    assert_eq!((who.service, who.tenant), (None, None));
    let err = s
        .create_ingest_token("ann", "bad", Some("  "), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Domain(ref e) if e.field() == Some("service")),
        "{err}"
    );
    let listed = s.list_tokens().await.unwrap();
    assert_eq!(listed.len(), 2);
    // Token creation is audited with the binding.
    assert_eq!(verified(s).await, 2);
}

#[tokio::test]
async fn detections_are_recorded_together_and_listed_newest_first_with_filters() {
    use vigil_core::{NewDetection, RuleLevel};
    use vigil_store::DetectionFilter;
    let h = Harness::new().await;
    let s = h.store.as_ref();
    let now = Utc::now();
    let d = |event_id: u64, rule: &str, service: &str, level: RuleLevel| NewDetection {
        event_id,
        // One hour apart: event 1 two hours ago, event 3 now.
        event_time: now - chrono::Duration::hours(3 - event_id as i64),
        service: service.into(),
        host: format!("h{event_id}"),
        tenant: "acme".into(),
        rule_id: rule.into(),
        rule_title: format!("rule {rule}"),
        level,
        tags: vec!["attack.t1003".into()],
    };
    let (recorded, _) = s
        .record_matches(
            "vigil",
            vec![
                d(1, "r1", "web", RuleLevel::Low),
                d(2, "r2", "web", RuleLevel::High),
                d(3, "r1", "db", RuleLevel::Critical),
            ],
            Vec::new(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(recorded.len(), 3);
    assert!(recorded[0].id < recorded[1].id && recorded[1].id < recorded[2].id);
    let all = s
        .list_detections(&DetectionFilter::default())
        .await
        .unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(all.items[0].detection.event_id, 3);
    assert_eq!(all.items[2].detection.tags, ["attack.t1003"]);
    let page = |f: DetectionFilter| async move { s.list_detections(&f).await.unwrap() };
    let by_rule = page(DetectionFilter {
        rule_id: Some("r1".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(by_rule.total, 2);
    let high = page(DetectionFilter {
        min_level: Some(RuleLevel::High),
        ..Default::default()
    })
    .await;
    assert_eq!(high.total, 2);
    let web_high = page(DetectionFilter {
        service: Some("web".into()),
        min_level: Some(RuleLevel::High),
        ..Default::default()
    })
    .await;
    assert_eq!(web_high.total, 1);
    let newer = page(DetectionFilter {
        after_id: Some(recorded[0].id),
        limit: 1,
        ..Default::default()
    })
    .await;
    assert_eq!((newer.total, newer.items.len()), (2, 1));
    // After an id, the next one after it: oldest first, so a poller pages forward.
    assert_eq!(newer.items[0].id, recorded[1].id);
    // By host and tenant, and by the time of the events matched (from inclusive, to exclusive).
    let on_host = page(DetectionFilter {
        host: Some("h2".into()),
        tenant: Some("acme".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(on_host.total, 1);
    assert_eq!(on_host.items[0].detection.event_id, 2);
    let other_tenant = page(DetectionFilter {
        tenant: Some("globex".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(other_tenant.total, 0);
    let window = page(DetectionFilter {
        from: Some(now - chrono::Duration::hours(2)),
        to: Some(now - chrono::Duration::minutes(30)),
        ..Default::default()
    })
    .await;
    let ids: Vec<u64> = window.items.iter().map(|d| d.detection.event_id).collect();
    assert_eq!(ids, [2, 1], "events 1 and 2 of the three, newest first");
    // Which events have detections, by id range (what recovery after a crash skips).
    let of = |ids| async move { s.detections_of(ids).await.unwrap() };
    assert_eq!(
        of(0..10).await,
        [(1, "r1".into()), (2, "r2".into()), (3, "r1".into())]
    );
    assert_eq!(of(2..3).await, [(2, "r2".to_owned())]);
    assert!(of(4..u64::MAX).await.is_empty());
    // Detections are not incident writes: the audit chain is untouched.
    assert_eq!(verified(s).await, 0);
}

/// A high detection of event `event_id` by rule r1 on web's host h1.
fn detection(event_id: u64) -> vigil_core::NewDetection {
    vigil_core::NewDetection {
        event_id,
        event_time: Utc::now(),
        service: "web".into(),
        host: "h1".into(),
        tenant: String::new(),
        rule_id: "r1".into(),
        rule_title: "rule r1".into(),
        level: vigil_core::RuleLevel::High,
        tags: Vec::new(),
    }
}

/// The alert of [`detection`] under `key`.
fn alert(event_id: u64, key: &str) -> vigil_core::NewAlert {
    vigil_core::NewAlert {
        title: "rule r1".into(),
        source: vigil_core::AlertSource::Detection,
        severity: Severity::Sev2,
        service: "web".into(),
        tenant: None,
        dedup_key: key.into(),
        rule_id: Some("r1".into()),
        summary: None,
        origin: None,
        reporter: None,
        event_ids: vec![event_id],
        events: vec![vigil_core::EventJson::from_value(
            &serde_json::json!({"n": event_id}),
        )],
        times: 1,
    }
}

/// Declaring an incident from alerts, or merging one into an incident, is one write: when an
/// alert was closed meanwhile, nothing of it is kept.
#[tokio::test]
async fn alerts_are_taken_into_an_incident_in_one_write() {
    use vigil_core::{AlertAction, AlertStatus};
    use vigil_store::{AlertPolicy, AlertsInto, RaisedId, TakeAlerts};
    let h = Harness::new().await;
    let s = h.store.as_ref();
    let (_, raised) = s
        .record_matches(
            "vigil",
            vec![detection(1), detection(2)],
            vec![
                (alert(1, "r1|web|h1"), AlertPolicy::default()),
                (alert(2, "r1|web|h2"), AlertPolicy::default()),
            ],
            None,
        )
        .await
        .unwrap();
    let [RaisedId::Created(a), RaisedId::Created(b)] = raised[..] else {
        panic!("unexpected outcomes {raised:?}");
    };
    let evidence = |n: u64| {
        (
            NewEvidence {
                file_name: format!("ALR-{n}-events.jsonl"),
                description: None,
            },
            format!("{{\"n\":{n}}}\n").into_bytes(),
        )
    };
    // b is resolved by someone else first: declaring both refuses and keeps nothing.
    s.act_on_alert("bob", b, AlertAction::Resolve)
        .await
        .unwrap();
    let refused = s
        .take_alerts(
            "ann",
            TakeAlerts {
                alerts: vec![a, b],
                into: AlertsInto::Declare {
                    incident: Box::new(new_incident("from alerts")),
                    action: "declared from alerts ALR-1, ALR-2".into(),
                },
                evidence: vec![evidence(a as u64), evidence(b as u64)],
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::Domain(_)), "{refused}");
    let none = s.list_incidents(&IncidentFilter::default()).await.unwrap();
    assert_eq!(none.total, 0, "no incident was kept");
    assert_eq!(s.get_alert(a).await.unwrap().status, AlertStatus::Triggered);

    // Merged into an incident: its indicators, an action, the evidence, and a resolved alert.
    let incident = s
        .create_incident("ann", new_incident("open"))
        .await
        .unwrap();
    // The alert's events start an hour before the incident was detected.
    let detected = incident.timestamps.detected.unwrap();
    let activity = detected - chrono::Duration::hours(1);
    let merge = |ip: &str, action: &str| TakeAlerts {
        alerts: vec![a],
        into: AlertsInto::Merge {
            incident: IncidentRef::Key(incident.key),
            indicators: vec![ind("ip", ip)],
            action: action.into(),
            activity: Some(activity),
            services: vec!["sso".into()],
            tenants: vec!["acme".into()],
            techniques: vec![vigil_core::Technique::parse("T1003.001").unwrap()],
        },
        evidence: vec![evidence(a as u64)],
    };
    let merged = s
        .take_alerts("ann", merge("198.51.100.7", "merged alert ALR-1"))
        .await
        .unwrap();
    assert_eq!(merged.key, incident.key);
    assert!(merged.indicators.iter().any(|i| i.value == "198.51.100.7"));
    // The alert's service and tenant joined the incident's scope.
    assert!(
        merged.services.contains(&"sso".to_string()),
        "{:?}",
        merged.services
    );
    assert_eq!(
        merged.tenants,
        vec!["contoso".to_string(), "acme".to_string()]
    );
    // So did the technique its rule names, after the incident's own.
    let techniques: Vec<&str> = merged.techniques.iter().map(|t| t.as_str()).collect();
    assert_eq!(techniques, ["T1566.001", "T1003.001"]);
    // The first activity moved back to the merged events, as a correction saying why.
    assert_eq!(merged.timestamps.first_activity, Some(activity));
    assert_eq!(merged.timestamp_corrections.len(), 1);
    assert!(
        merged.timestamp_corrections[0]
            .reason
            .contains("merged alert ALR-1"),
        "{:?}",
        merged.timestamp_corrections
    );
    assert_eq!(merged.evidence.len(), 1);
    assert_eq!(
        merged.evidence[0].file_name,
        format!("ALR-{a}-events.jsonl")
    );
    let actions = s
        .list_actions(&IncidentRef::Key(incident.key), 10, 0)
        .await
        .unwrap();
    assert_eq!(actions.items[0].text, "merged alert ALR-1");
    let closed = s.get_alert(a).await.unwrap();
    assert_eq!(closed.status, AlertStatus::Resolved);
    assert_eq!(closed.incident.as_deref(), Some("INC-1"));
    // Taken once: a second merge of the same alert is refused, the incident unchanged.
    let again = s
        .take_alerts("bob", merge("203.0.113.1", "merged alert ALR-1 again"))
        .await;
    assert!(again.is_err());
    let after = s
        .get_incident(&IncidentRef::Key(incident.key))
        .await
        .unwrap();
    assert_eq!(after.evidence.len(), 1);
    assert!(!after.indicators.iter().any(|i| i.value == "203.0.113.1"));
    // The audit chain holds every write, none half done.
    verified(s).await;
}

/// Matches of one batch that fold into one alert each count as a firing: the count does not
/// depend on how senders batch their events.
#[tokio::test]
async fn an_alert_counts_every_match_folded_into_it() {
    use vigil_store::{AlertPolicy, RaisedId};
    let h = Harness::new().await;
    let s = h.store.as_ref();
    let mut three = alert(1, "r1|web|h1");
    three.times = 3;
    three.event_ids = vec![1, 2, 3];
    three.events = (1..=3)
        .map(|n| vigil_core::EventJson::from_value(&serde_json::json!({ "n": n })))
        .collect();
    let (_, raised) = s
        .record_matches(
            "vigil",
            (1..=3).map(detection).collect(),
            vec![(three, AlertPolicy::default())],
            None,
        )
        .await
        .unwrap();
    let RaisedId::Created(id) = raised[0] else {
        panic!("unexpected outcome {raised:?}");
    };
    assert_eq!(s.get_alert(id).await.unwrap().count, 3);
    let mut two = alert(4, "r1|web|h1");
    two.times = 2;
    let (_, raised) = s
        .record_matches(
            "vigil",
            vec![detection(4)],
            vec![(two, AlertPolicy::default())],
            None,
        )
        .await
        .unwrap();
    assert_eq!(raised, [RaisedId::Deduplicated(id)]);
    let stored = s.get_alert(id).await.unwrap();
    assert_eq!(stored.count, 5);
    assert_eq!(stored.alert.event_ids, [1, 2, 3, 4]);
    assert_eq!(stored.log[1].text, "fired again (2 times, 1 event)");
}

/// An alert belongs to one tenant: a raise of another tenant (or of none) with the same
/// service and dedup key opens an alert of its own, in one call or apart, and never folds into
/// the other tenant's; alerts are listed by tenant.
#[tokio::test]
async fn alerts_of_different_tenants_never_fold_into_one() {
    use vigil_store::{AlertFilter, AlertPolicy, Raised, RaisedId};
    let h = Harness::new().await;
    let s = h.store.as_ref();
    let of = |event: u64, tenant: Option<&str>| {
        let mut a = alert(event, "r1|web|web-a1");
        a.tenant = tenant.map(str::to_owned);
        a
    };
    let p = AlertPolicy::default();
    let (_, raised) = s
        .record_matches(
            "vigil",
            (1..=4).map(detection).collect(),
            vec![
                (of(1, Some("acme")), p),
                (of(2, Some("globex")), p),
                (of(3, Some("acme")), p),
                (of(4, None), p),
            ],
            None,
        )
        .await
        .unwrap();
    let [
        RaisedId::Created(acme),
        RaisedId::Created(globex),
        RaisedId::Deduplicated(again),
        RaisedId::Created(none),
    ] = raised[..]
    else {
        panic!("unexpected outcomes {raised:?}");
    };
    assert_eq!(acme, again);
    assert!(acme != globex && globex != none && acme != none);
    let Raised::Deduplicated(folded) = s
        .raise_alert("vigil", of(5, Some("globex")), p)
        .await
        .unwrap()
    else {
        panic!("globex's second event did not fold into its alert");
    };
    assert_eq!(folded.id, globex);
    assert_eq!(folded.alert.tenant.as_deref(), Some("globex"));
    assert_eq!(folded.alert.event_ids, [2, 5]);
    let stored = s.get_alert(acme).await.unwrap();
    assert_eq!(
        (
            stored.alert.tenant.as_deref(),
            stored.count,
            &stored.alert.event_ids[..]
        ),
        (Some("acme"), 2, &[1, 3][..])
    );
    assert_eq!(s.get_alert(none).await.unwrap().alert.tenant, None);
    let listed = |tenant: &str| {
        let filter = AlertFilter {
            tenant: Some(tenant.to_owned()),
            ..AlertFilter::default()
        };
        async move {
            let page = s.list_alerts(&filter).await.unwrap();
            (
                page.total,
                page.items.iter().map(|a| a.id).collect::<Vec<_>>(),
            )
        }
    };
    assert_eq!(listed("acme").await, (1, vec![acme]));
    assert_eq!(listed("globex").await, (1, vec![globex]));
    assert_eq!(listed("initech").await, (0, vec![]));
    // A tenant is a one-line name, like a service.
    for bad in [" ", "acme\nBcc: x@y", &"t".repeat(201)] {
        let err = s
            .raise_alert("vigil", of(6, Some(bad)), p)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Domain(e) if e.field() == Some("tenant")),
            "{bad:?}: {err}"
        );
    }
}

#[tokio::test]
async fn a_batch_of_matches_is_recorded_and_alerted_in_one_call() {
    use vigil_store::{AlertPolicy, RaisedId};
    let h = Harness::new().await;
    let s = h.store.as_ref();
    let (recorded, raised) = s
        .record_matches(
            "vigil",
            (1..=3).map(detection).collect(),
            vec![
                (alert(1, "r1|web|h1"), AlertPolicy::default()),
                (alert(2, "r1|web|h1"), AlertPolicy::default()),
                (alert(3, "r1|web|h2"), AlertPolicy::default()),
            ],
            None,
        )
        .await
        .unwrap();
    // Detection ids follow the input order.
    let events: Vec<u64> = recorded.iter().map(|d| d.detection.event_id).collect();
    assert_eq!(events, [1, 2, 3]);
    assert!(recorded.windows(2).all(|w| w[0].id < w[1].id));
    // The second alert of the same key folds into the first, within the same transaction.
    let (RaisedId::Created(first), RaisedId::Deduplicated(folded), RaisedId::Created(other)) =
        (raised[0], raised[1], raised[2])
    else {
        panic!("unexpected outcomes {raised:?}");
    };
    assert_eq!(first, folded);
    assert_ne!(first, other);
    let stored = s.get_alert(first).await.unwrap();
    assert_eq!(stored.count, 2);
    assert_eq!(stored.alert.event_ids, [1, 2]);
    // Distinct keys take the set-wise path: a key with an open alert folds into it, a new key
    // beyond the rule's hourly limit (two created already) is suppressed and counted.
    let limited = AlertPolicy {
        max_new_per_rule_per_hour: 2,
        ..AlertPolicy::default()
    };
    let (_, raised) = s
        .record_matches(
            "vigil",
            vec![detection(5), detection(6)],
            vec![
                (alert(5, "r1|web|h1"), limited),
                (alert(6, "r1|web|h4"), limited),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        raised,
        [RaisedId::Deduplicated(first), RaisedId::Suppressed]
    );
    let stored = s.get_alert(first).await.unwrap();
    assert_eq!(stored.count, 3);
    assert_eq!(stored.alert.event_ids, [1, 2, 5]);
    let actions: Vec<&str> = stored.log.iter().map(|l| l.action.as_str()).collect();
    assert_eq!(actions, ["created", "deduplicated", "deduplicated"]);
    let stats = s.alert_stats_by_rule().await.unwrap();
    let r1 = stats.iter().find(|r| r.rule_id == "r1").unwrap();
    assert_eq!((r1.alerts, r1.suppressed), (2, 1));
    assert_eq!(r1.title, "rule r1", "tuning lists rules by title");
    // A page lists each alert as it is stored, newest first, without its log or events.
    let page = s
        .list_alerts(&vigil_store::AlertFilter::default())
        .await
        .unwrap();
    assert_eq!(page.total, 2);
    let listed: Vec<(String, Vec<u64>)> = page
        .items
        .iter()
        .map(|a| (a.alert.dedup_key.clone(), a.alert.event_ids.clone()))
        .collect();
    assert_eq!(
        listed,
        [
            ("r1|web|h2".to_owned(), vec![3]),
            ("r1|web|h1".to_owned(), vec![1, 2, 5]),
        ]
    );
    assert!(page.items.iter().all(|a| a.log.is_empty()));
    let one = s
        .list_alerts(&vigil_store::AlertFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((one.total, one.items.len()), (2, 1));
    let second = s
        .list_alerts(&vigil_store::AlertFilter {
            limit: 1,
            offset: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(second.total, 2);
    assert_eq!(second.items[0].alert.dedup_key, "r1|web|h1");
    // An alert that does not validate refuses the whole batch: nothing more is recorded.
    let mut bad = alert(4, "r1|web|h3");
    bad.title.clear();
    s.record_matches(
        "vigil",
        vec![detection(4)],
        vec![(bad, AlertPolicy::default())],
        None,
    )
    .await
    .unwrap_err();
    let all = s
        .list_detections(&vigil_store::DetectionFilter::default())
        .await
        .unwrap();
    assert_eq!(all.total, 5);
}

/// The answer to a batch sent under an idempotency key is recorded with its detections and
/// alerts, knowing how many alerts the batch created; a batch whose recording fails leaves no
/// answer; keys of other tokens are their own, and old keys are forgotten.
#[tokio::test]
async fn a_keyed_answer_is_recorded_with_its_batch() {
    use vigil_store::{AlertPolicy, KeyedAnswer};
    let h = Harness::new().await;
    let s = h.store.as_ref();
    let (sender, other) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let keyed = |token: uuid::Uuid, key: &str, forget_before| KeyedAnswer {
        token,
        key: key.into(),
        fingerprint: format!("sha-{key}"),
        answer: Box::new(|created| format!(r#"{{"alerts":{created}}}"#)),
        forget_before,
    };
    let long_ago = Utc::now() - Duration::days(1);

    s.record_matches(
        "vigil",
        vec![detection(1), detection(2)],
        vec![
            (alert(1, "r1|web|h1"), AlertPolicy::default()),
            (alert(2, "r1|web|h1"), AlertPolicy::default()),
        ],
        Some(keyed(sender, "batch-1", long_ago)),
    )
    .await
    .unwrap();
    let known = s.ingest_key(sender, "batch-1").await.unwrap().unwrap();
    assert_eq!(known.fingerprint, "sha-batch-1");
    assert_eq!(known.answer, r#"{"alerts":1}"#, "one created, one folded");
    assert_eq!(s.ingest_key(other, "batch-1").await.unwrap(), None);

    // A batch without matches records its answer alone.
    s.record_matches(
        "vigil",
        Vec::new(),
        Vec::new(),
        Some(keyed(sender, "batch-2", long_ago)),
    )
    .await
    .unwrap();
    let known = s.ingest_key(sender, "batch-2").await.unwrap().unwrap();
    assert_eq!(known.answer, r#"{"alerts":0}"#);

    // A recording that fails leaves neither detections nor the answer.
    let mut bad = alert(3, "r1|web|h3");
    bad.title.clear();
    s.record_matches(
        "vigil",
        vec![detection(3)],
        vec![(bad, AlertPolicy::default())],
        Some(keyed(sender, "batch-3", long_ago)),
    )
    .await
    .unwrap_err();
    assert_eq!(s.ingest_key(sender, "batch-3").await.unwrap(), None);
    assert!(s.detections_of(3..4).await.unwrap().is_empty());

    // Another batch recorded under a key taken keeps the first one's answer and fingerprint
    // (a resend of either is then compared with the first).
    let mut other_batch = keyed(sender, "batch-2", long_ago);
    other_batch.fingerprint = "sha-another".into();
    other_batch.answer = Box::new(|_| r#"{"other":true}"#.into());
    s.record_matches("vigil", Vec::new(), Vec::new(), Some(other_batch))
        .await
        .unwrap();
    let known = s.ingest_key(sender, "batch-2").await.unwrap().unwrap();
    assert_eq!(
        (known.fingerprint.as_str(), known.answer.as_str()),
        ("sha-batch-2", r#"{"alerts":0}"#)
    );

    // Keys recorded before `forget_before` go.
    s.record_matches(
        "vigil",
        Vec::new(),
        Vec::new(),
        Some(keyed(other, "batch-4", Utc::now() + Duration::seconds(1))),
    )
    .await
    .unwrap();
    assert_eq!(s.ingest_key(sender, "batch-1").await.unwrap(), None);
    assert!(s.ingest_key(other, "batch-4").await.unwrap().is_some());
}

#[tokio::test]
async fn scope_is_extended_as_it_is_when_written() {
    let h = Harness::new().await;
    let s = h.store.as_ref();
    s.create_incident("ann", new_incident("x")).await.unwrap();
    // A responder's change between a pivot's read and its accept stays.
    let patch = IncidentPatch {
        services: Some(vec!["mail".into(), "human-added".into()]),
        ..Default::default()
    };
    s.update_incident("bob", &key(1), patch).await.unwrap();
    let before = verified(s).await;
    let (i, added) = s
        .extend_scope(
            "pivot",
            &key(1),
            vec!["mail".into(), "sso".into(), "sso".into()],
            vec!["acme".into()],
        )
        .await
        .unwrap();
    assert!(added);
    assert_eq!(i.services, ["mail", "human-added", "sso"]);
    assert_eq!(i.tenants, ["contoso", "acme"]);
    assert_eq!(verified(s).await, before + 1, "one audited write");
    // Nothing new: nothing written.
    let (i, added) = s
        .extend_scope("pivot", &key(1), vec!["sso".into()], vec!["acme".into()])
        .await
        .unwrap();
    assert!(!added);
    assert_eq!(i.services, ["mail", "human-added", "sso"]);
    assert_eq!(verified(s).await, before + 1);
}
