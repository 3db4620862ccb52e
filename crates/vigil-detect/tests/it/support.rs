//! Shared fixtures: the SigmaHQ rule set compiled once, and a helper that runs it over a file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use vigil_detect::{CompileOptions, CompiledRuleSet, RuleId, compile};

/// `../shared/data` beside the repository.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

/// Every SigmaHQ rule folder the regression cases and the references draw on, compiled once.
pub static RULES: LazyLock<CompiledRuleSet> = LazyLock::new(|| {
    let sigma = data_dir().join("sigma");
    let mut docs = Vec::new();
    for dir in ["rules", "rules-emerging-threats", "rules-threat-hunting"] {
        let (d, _diagnostics) = vigil_sigma::load_dir(&sigma.join(dir)).expect("sigma rules");
        docs.extend(d);
    }
    compile(&docs, &CompileOptions::default()).0
});

/// Rule ids (`id:` of the rule) to their index in [`RULES`].
pub static BY_ID: LazyLock<HashMap<String, RuleId>> = LazyLock::new(|| {
    RULES
        .rules()
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id().to_string(), RuleId(i as u32)))
        .collect()
});

/// Decodes a file and returns, per record, its id and the rules it matched.
pub fn run_file(path: &Path) -> Result<Vec<(u64, Vec<RuleId>)>, vigil_events::DecodeError> {
    let mut matcher = RULES.matcher();
    let mut out = Vec::new();
    for record in vigil_events::open(path)? {
        let record = record?;
        let event = record.event;
        out.push((record.record_id, matcher.matches(&event).to_vec()));
    }
    Ok(out)
}
