//! Loading and compiling Sigma rule folders for `vigil hunt`, `vigil rules check` and
//! `vigil bench`: several `--rules` paths into one compiled set, with diagnostics and timing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vigil_detect::{CompileOptions, CompiledRuleSet, compile};
use vigil_sigma::{Diagnostic, RuleDoc};

/// Rules loaded from one or more paths, compiled.
pub struct Loaded {
    /// The compiled set.
    pub set: CompiledRuleSet,
    /// The documents as parsed (for counts per logsource).
    pub docs: Vec<RuleDoc>,
    /// Problems found while parsing (rules rejected by the loader).
    pub load_diagnostics: Vec<Diagnostic>,
    /// Problems found while compiling (rules rejected by the compiler).
    pub compile_diagnostics: Vec<Diagnostic>,
    /// The placeholder values the rules were compiled with.
    pub placeholders: vigil_sigma::Placeholders,
    /// Time spent reading and parsing YAML.
    pub load_time: Duration,
    /// Time spent compiling.
    pub compile_time: Duration,
}

/// Loads every `.yml` under each path and compiles them into one set.
pub fn load(paths: &[PathBuf]) -> anyhow::Result<Loaded> {
    load_with(paths, None)
}

/// Like [`load`], with the `expand` modifier's placeholder values in the file `placeholders`
/// (see [`vigil_sigma::placeholders`]).
pub fn load_with(paths: &[PathBuf], placeholders: Option<&Path>) -> anyhow::Result<Loaded> {
    load_chosen(paths, placeholders, |docs| docs)
}

/// Like [`load_with`], compiling only the documents `choose` keeps of those parsed (a hunt
/// that reports a few rules need not compile, nor run, the others); [`Loaded::docs`] holds
/// the kept ones.
pub fn load_chosen(
    paths: &[PathBuf],
    placeholders: Option<&Path>,
    choose: impl FnOnce(Vec<RuleDoc>) -> Vec<RuleDoc>,
) -> anyhow::Result<Loaded> {
    let options = CompileOptions {
        placeholders: placeholders
            .map(vigil_sigma::load_placeholders)
            .transpose()?
            .unwrap_or_default(),
        ..CompileOptions::default()
    };
    let start = Instant::now();
    let (docs, load_diagnostics) = vigil_sigma::load_dirs(paths)?;
    let load_time = start.elapsed();
    let docs = choose(docs);
    let start = Instant::now();
    let (set, compile_diagnostics) = compile(&docs, &options);
    let compile_time = start.elapsed();
    Ok(Loaded {
        set,
        docs,
        load_diagnostics,
        compile_diagnostics,
        placeholders: options.placeholders,
        load_time,
        compile_time,
    })
}

/// Peak resident memory of this process in bytes (Linux `VmHWM`), when known.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
