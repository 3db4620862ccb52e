//! The rules the server detects with: loaded from the configured directories at start and
//! swapped whole on reload, so a batch in flight keeps the set it started with and a bad
//! reload (an unreadable directory, or a rule that would be rejected where the running set
//! has it working) leaves the running set in place.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use vigil_detect::{CompileOptions, CompiledRuleSet, compile};

use crate::error::IngestError;

/// A compiled rule set with what was loaded to make it.
#[derive(Debug)]
pub struct LoadedRules {
    /// The compiled set (empty when no directory is configured).
    pub set: CompiledRuleSet,
    /// What the load found.
    pub status: RulesStatus,
    /// Each rejected rule by file and rule (id or title, when known), in `status.rejected`'s
    /// order: what a reload compares with.
    pub(crate) rejected_rules: Vec<(PathBuf, Option<String>)>,
}

/// What a load of the rule directories found, for `GET /rules` and the reload answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesStatus {
    /// The directories read.
    pub paths: Vec<PathBuf>,
    /// Detection and correlation rules compiled.
    pub loaded: usize,
    /// `file:line: reason` for every problem of a rejected rule (a rule may have several).
    pub rejected: Vec<String>,
    /// How many rules were rejected ([`vigil_sigma::rules_rejected`]).
    pub rules_rejected: usize,
    /// When the set was loaded.
    pub loaded_at: DateTime<Utc>,
    /// The placeholders the rules use without values, each as `%name% (N rules: …)`: the
    /// `expand` values built on them match nothing, so a filter on one excludes nothing.
    pub placeholders_without_values: Vec<String>,
    /// `file:line (filter.rules): reason` for each filter naming a rule that is not loaded, or
    /// one its logsource does not cover (see [`vigil_detect::filter_warnings`]): loaded all
    /// the same, as it may be written for rules of another set.
    pub filter_warnings: Vec<String>,
}

/// A reload that failed, leaving the running set in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadFailure {
    /// When it was tried.
    pub at: DateTime<Utc>,
    /// Why it failed.
    pub error: String,
}

/// The current rule set, shared by every ingest path and replaced by [`RuleSlot::reload`].
#[derive(Debug)]
pub struct RuleSlot {
    paths: Vec<PathBuf>,
    /// The file of the `expand` modifier's placeholder values, read at each load.
    placeholders: Option<PathBuf>,
    current: RwLock<Arc<LoadedRules>>,
    /// The last reload's failure, until a reload succeeds: a SIGHUP has no one to answer, so
    /// this is how the rules' status and the metrics tell that the directories on disk are not
    /// the rules in force. A lock because reloads (SIGHUP, the API) and readers meet here.
    failed: Mutex<Option<ReloadFailure>>,
}

/// Loads and compiles every `.yml` under the paths, with the placeholder values in
/// `placeholders` (see [`vigil_sigma::placeholders`]; without it, a placeholder matches
/// nothing).
pub fn load(paths: &[PathBuf], placeholders: Option<&Path>) -> Result<LoadedRules, IngestError> {
    let options = compile_options(placeholders)?;
    let (docs, diagnostics) = vigil_sigma::load_dirs(paths).map_err(|e| {
        let vigil_sigma::LoadError::Io { path, .. } = &e;
        IngestError::Rules {
            path: path.clone(),
            reason: e.to_string(),
        }
    })?;
    let (set, refused) = compile(&docs, &options);
    let rejected = diagnostics.iter().chain(&refused);
    let rules_rejected = vigil_sigma::rules_rejected(rejected.clone());
    let loaded = set.rules().len();
    let unvalued = vigil_sigma::describe_without_values(&vigil_sigma::placeholders_without_values(
        &docs,
        &options.placeholders,
    ));
    let filter_warnings: Vec<String> = vigil_detect::filter_warnings(&docs)
        .iter()
        .map(ToString::to_string)
        .collect();
    for warning in &filter_warnings {
        tracing::warn!(
            %warning,
            "a filter names a rule that is not loaded, or one its logsource does not cover: it leaves that rule's matches as they are"
        );
    }
    for placeholder in &unvalued {
        tracing::warn!(
            %placeholder,
            "a placeholder the rules use has no values: the expand values built on it match nothing, so a filter on it excludes nothing; give it values with --placeholders FILE"
        );
    }
    Ok(LoadedRules {
        set,
        status: RulesStatus {
            paths: paths.to_vec(),
            loaded,
            rejected: rejected.clone().map(ToString::to_string).collect(),
            rules_rejected,
            loaded_at: Utc::now(),
            placeholders_without_values: unvalued,
            filter_warnings,
        },
        rejected_rules: rejected.map(|d| (d.file.clone(), d.rule.clone())).collect(),
    })
}

/// `docs` compiled, and every rule refused: by the loader (`diagnostics`), then the compiler.
fn compiled(
    docs: &[vigil_sigma::RuleDoc],
    diagnostics: &[vigil_sigma::Diagnostic],
    options: &CompileOptions,
) -> (CompiledRuleSet, Vec<String>) {
    let (set, refused) = compile(docs, options);
    let rejected = diagnostics
        .iter()
        .chain(&refused)
        .map(ToString::to_string)
        .collect();
    (set, rejected)
}

/// How rules are compiled: with the placeholder values in the file `placeholders`, read now.
fn compile_options(placeholders: Option<&Path>) -> Result<CompileOptions, IngestError> {
    let placeholders = placeholders
        .map(|file| {
            vigil_sigma::load_placeholders(file).map_err(|e| IngestError::Rules {
                path: file.to_path_buf(),
                reason: e.to_string(),
            })
        })
        .transpose()?;
    Ok(CompileOptions {
        placeholders: placeholders.unwrap_or_default(),
        ..CompileOptions::default()
    })
}

impl RuleSlot {
    /// Rules given as YAML text (documents separated by `---`), compiled as the slot compiles
    /// its own (with its placeholder values, read again now): the set, and each rule refused
    /// with its line and reason. For rules not in the directories yet (a preview).
    pub fn compile_text(&self, text: &str) -> Result<(CompiledRuleSet, Vec<String>), IngestError> {
        let options = compile_options(self.placeholders.as_deref())?;
        let (docs, diagnostics) = vigil_sigma::parse_str(text, Path::new("(rules sent)"));
        Ok(compiled(&docs, &diagnostics, &options))
    }

    /// Loads the rules under `paths` (none: detection is off until a reload finds rules).
    pub fn open(paths: Vec<PathBuf>) -> Result<RuleSlot, IngestError> {
        RuleSlot::open_with(paths, None)
    }

    /// Like [`RuleSlot::open`], with the placeholder values in the file `placeholders`, read
    /// again at each reload.
    pub fn open_with(
        paths: Vec<PathBuf>,
        placeholders: Option<PathBuf>,
    ) -> Result<RuleSlot, IngestError> {
        let loaded = load(&paths, placeholders.as_deref())?;
        Ok(RuleSlot {
            paths,
            placeholders,
            current: RwLock::new(Arc::new(loaded)),
            failed: Mutex::new(None),
        })
    }

    /// The last reload's failure, when no reload succeeded since.
    pub fn reload_failure(&self) -> Option<ReloadFailure> {
        self.failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The set to match a batch with; stays valid while a reload replaces it.
    pub fn current(&self) -> Arc<LoadedRules> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Reads the directories again and swaps the new set in. On error the running set stays:
    /// a directory that cannot be read, or a rule rejected that the running set does not
    /// reject (edited into a broken state, or new and broken) — taking the rest would stop
    /// it detecting, or leave it out without anyone noticing. Rules rejected before and still
    /// (SigmaHQ's few the specification does not allow) do not hold a reload back.
    /// Blocking (YAML parsing and compilation take a second for the whole SigmaHQ set). A
    /// failure is kept until the next successful reload ([`RuleSlot::reload_failure`]).
    pub fn reload(&self) -> Result<RulesStatus, IngestError> {
        let result = self.swap();
        *self.failed.lock().unwrap_or_else(|e| e.into_inner()) =
            result.as_ref().err().map(|e| ReloadFailure {
                at: Utc::now(),
                error: e.to_string(),
            });
        result
    }

    /// Loads the directories and swaps the new set in, unless [`RuleSlot::reload`]'s reasons
    /// hold it back.
    fn swap(&self) -> Result<RulesStatus, IngestError> {
        let loaded = Arc::new(load(&self.paths, self.placeholders.as_deref())?);
        let running = self.current();
        let (rules, problems): (std::collections::HashSet<_>, Vec<String>) = loaded
            .rejected_rules
            .iter()
            .zip(&loaded.status.rejected)
            .filter(|(rule, _)| !running.rejected_rules.contains(rule))
            .map(|(rule, text)| (rule, text.clone()))
            .unzip();
        if !problems.is_empty() {
            return Err(IngestError::NewlyRejected {
                rules: rules.len(),
                rejected: problems,
            });
        }
        let status = loaded.status.clone();
        match self.current.write() {
            Ok(mut guard) => *guard = loaded,
            Err(poisoned) => *poisoned.into_inner() = loaded,
        }
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_events::json::JsonEvent;

    /// The placeholder values are read at each load: a reload takes an edited file, and a
    /// broken one leaves the running set in place, naming the file and line.
    #[test]
    fn placeholders_are_read_again_at_each_reload() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules");
        std::fs::create_dir(&rules).unwrap();
        std::fs::write(
            rules.join("admins.yml"),
            "title: Admin logon\nid: admins\nlogsource: {product: linux}\ndetection:\n  sel:\n    user|expand: '%admins%'\n  condition: sel\n",
        )
        .unwrap();
        let file = dir.path().join("placeholders.yml");
        std::fs::write(&file, "admins: [alice, bob]\n").unwrap();
        let slot = RuleSlot::open_with(vec![rules], Some(file.clone())).unwrap();
        let matches = |user: &str| {
            let event =
                JsonEvent::parse_owned(format!(r#"{{"user":"{user}"}}"#).into_bytes()).unwrap();
            let rules = slot.current();
            let mut matcher = rules.set.matcher();
            !matcher.matches(&event).is_empty()
        };
        assert!(matches("Bob") && !matches("carol"));

        assert!(slot.current().status.placeholders_without_values.is_empty());

        std::fs::write(&file, "admins: carol\n").unwrap();
        slot.reload().unwrap();
        assert!(matches("carol") && !matches("bob"));

        // A file without the rule's placeholder: the load names it with its rule (and logs a
        // warning), for `GET /rules` to show.
        std::fs::write(&file, "admin: [alice]\n").unwrap();
        let status = slot.reload().unwrap();
        assert_eq!(
            status.placeholders_without_values,
            ["%admins% (1 rule: admins)"]
        );
        std::fs::write(&file, "admins: carol\n").unwrap();
        slot.reload().unwrap();

        assert_eq!(slot.reload_failure(), None);
        std::fs::write(&file, "admins:\n  - [nested]\n").unwrap();
        let before = Utc::now();
        let err = slot.reload().unwrap_err().to_string();
        assert!(err.contains("placeholders.yml:2:"), "{err}");
        assert!(matches("carol"), "the running set stays");
        // The failure is kept for the rules' status, until a reload succeeds.
        let failed = slot.reload_failure().expect("kept");
        assert_eq!(failed.error, err);
        assert!(failed.at >= before);
        std::fs::write(&file, "admins: carol\n").unwrap();
        slot.reload().unwrap();
        assert_eq!(slot.reload_failure(), None);
    }

    /// A rule with two problems is one rule rejected, at load and in a refused reload, while
    /// both problems are listed.
    #[test]
    fn a_rule_with_two_problems_is_one_rule_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let good = "title: Good\nid: good\nlogsource: {product: linux}\ndetection:\n  sel:\n    a: x\n  condition: sel\n";
        let broken = "title: Broken\nid: broken\nlogsource: {product: linux}\ndetection:\n  sel:\n    a|contains|base64: x\n  condition: sel and nothere\n";
        std::fs::write(dir.path().join("good.yml"), good).unwrap();
        std::fs::write(dir.path().join("broken.yml"), broken).unwrap();
        let slot = RuleSlot::open_with(vec![dir.path().to_path_buf()], None).unwrap();
        let status = &slot.current().status;
        assert_eq!(status.loaded, 1);
        assert_eq!(status.rejected.len(), 2, "{:?}", status.rejected);
        assert_eq!(status.rules_rejected, 1);

        std::fs::remove_file(dir.path().join("broken.yml")).unwrap();
        slot.reload().unwrap();
        std::fs::write(dir.path().join("new.yml"), broken).unwrap();
        let err = slot.reload().unwrap_err();
        let IngestError::NewlyRejected { rules, rejected } = &err else {
            panic!("{err}");
        };
        assert_eq!((*rules, rejected.len()), (1, 2));
        assert!(
            err.to_string()
                .starts_with("1 rule would be rejected that the running rules do not reject: "),
            "{err}"
        );
    }
}
