//! Loads every SigmaHQ rule folder and checks that every rejection is one the specification
//! itself does not allow.

use std::path::PathBuf;

use vigil_sigma::{RuleDoc, load_dir};

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

#[test]
fn sigmahq_rules_load() {
    let mut loaded = 0;
    let mut all_diags = Vec::new();
    for dir in [
        "rules",
        "rules-emerging-threats",
        "rules-threat-hunting",
        "rules-compliance",
        "rules-dfir",
        "rules-placeholder",
    ] {
        let (docs, diags) = load_dir(&data().join("sigma").join(dir)).unwrap();
        loaded += docs
            .iter()
            .filter(|d| matches!(d, RuleDoc::Rule(_)))
            .count();
        all_diags.extend(diags);
    }
    for d in &all_diags {
        eprintln!("{d}");
    }
    assert!(loaded > 3000, "only {loaded} rules loaded");
    assert!(all_diags.is_empty(), "{} rejected", all_diags.len());
}
