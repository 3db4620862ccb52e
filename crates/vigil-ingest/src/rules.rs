//! The rules the server detects with: loaded from the configured directories at start and
//! swapped whole on reload, so a batch in flight keeps the set it started with and a bad
//! reload (an unreadable directory) leaves the running set in place.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

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
}

/// What a load of the rule directories found, for `GET /rules` and the reload answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesStatus {
    /// The directories read.
    pub paths: Vec<PathBuf>,
    /// Detection and correlation rules compiled.
    pub loaded: usize,
    /// `file:line: reason` for every rule that was rejected.
    pub rejected: Vec<String>,
    /// When the set was loaded.
    pub loaded_at: DateTime<Utc>,
}

/// The current rule set, shared by every ingest path and replaced by [`RuleSlot::reload`].
#[derive(Debug)]
pub struct RuleSlot {
    paths: Vec<PathBuf>,
    current: RwLock<Arc<LoadedRules>>,
}

/// Loads and compiles every `.yml` under the paths.
pub fn load(paths: &[PathBuf]) -> Result<LoadedRules, IngestError> {
    let mut docs = Vec::new();
    let mut rejected = Vec::new();
    for path in paths {
        let (d, diagnostics) = vigil_sigma::load_dir(path).map_err(|e| IngestError::Rules {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        docs.extend(d);
        rejected.extend(diagnostics.iter().map(ToString::to_string));
    }
    let (set, diagnostics) = compile(&docs, &CompileOptions::default());
    rejected.extend(diagnostics.iter().map(ToString::to_string));
    let loaded = set.rules().len();
    Ok(LoadedRules {
        set,
        status: RulesStatus {
            paths: paths.to_vec(),
            loaded,
            rejected,
            loaded_at: Utc::now(),
        },
    })
}

impl RuleSlot {
    /// Loads the rules under `paths` (none: detection is off until a reload finds rules).
    pub fn open(paths: Vec<PathBuf>) -> Result<RuleSlot, IngestError> {
        let loaded = load(&paths)?;
        Ok(RuleSlot {
            paths,
            current: RwLock::new(Arc::new(loaded)),
        })
    }

    /// The set to match a batch with; stays valid while a reload replaces it.
    pub fn current(&self) -> Arc<LoadedRules> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Reads the directories again and swaps the new set in. On error the running set stays.
    /// Blocking (YAML parsing and compilation take a second for the whole SigmaHQ set).
    pub fn reload(&self) -> Result<RulesStatus, IngestError> {
        let loaded = Arc::new(load(&self.paths)?);
        let status = loaded.status.clone();
        match self.current.write() {
            Ok(mut guard) => *guard = loaded,
            Err(poisoned) => *poisoned.into_inner() = loaded,
        }
        Ok(status)
    }
}
