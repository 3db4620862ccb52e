//! Loading rule files: YAML documents → [`RuleDoc`]s, with a [`Diagnostic`] for every
//! problem. A bad document never stops the others; a directory load never fails as a whole.
//!
//! Multi-document files follow the specification's collection actions: `action: global`
//! documents are merged into every following document, `action: reset` drops the global
//! part, `action: repeat` repeats the previous document with the given keys replaced.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::condition::{
    AggregateFunction, Aggregation, Computation, Condition, Quantity, Target, parse_aggregation,
    parse_condition, split_aggregation,
};
use crate::model::*;
use crate::modifier::Modifier;
use crate::yaml::{Node, Scalar, Yaml, parse_documents};

/// A problem found while loading a rule, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// The file.
    pub file: PathBuf,
    /// The 1-based line.
    pub line: usize,
    /// The YAML path, e.g. `detection.selection.Image|contans`.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
    /// The rule's id or title when known, to name it in reports.
    pub rule: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)?;
        if !self.path.is_empty() {
            write!(f, " ({})", printable(&self.path))?;
        }
        write!(f, ": {}", printable(&self.message))
    }
}

impl Diagnostic {
    /// Where in the rule and what is wrong, on one printable line, for a report that shows the
    /// file and line in a column of their own.
    pub fn reason(&self) -> String {
        match self.path.is_empty() {
            true => printable(&self.message),
            false => format!("{}: {}", printable(&self.path), printable(&self.message)),
        }
    }
}

/// How many rules `problems` reject: a rule refused for several reasons is one rule. Problems
/// are told apart by file and rule (id or title), or by line where no rule is named (a YAML
/// error).
pub fn rules_rejected<'a>(problems: impl IntoIterator<Item = &'a Diagnostic>) -> usize {
    problems
        .into_iter()
        .map(|d| {
            (
                &d.file,
                d.rule.as_deref(),
                d.rule.is_none().then_some(d.line),
            )
        })
        .collect::<HashSet<_>>()
        .len()
}

/// `text` with its control characters escaped (`\t`, `\u{14}`): a rule's own names and values
/// appear in diagnostics, and a report has one line per diagnostic whatever the file holds.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c.is_control() {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect()
}

/// An error reading a rule directory itself (not a rule in it).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The path could not be read.
    #[error("cannot read {path}: {error}; check that the path exists and is readable")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error (in the message, not a `source`, so an error chain prints it once).
        error: std::io::Error,
    },
}

/// [`load_dir`] of each path in turn, the rules and diagnostics of all of them together (a
/// `--rules` flag given several times). A file under two of the paths (a folder and one inside
/// it) is loaded once.
pub fn load_dirs(paths: &[PathBuf]) -> Result<(Vec<RuleDoc>, Vec<Diagnostic>), LoadError> {
    let mut files = Vec::new();
    for path in paths {
        files.extend(rule_files(path)?);
    }
    let mut seen = HashSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    Ok(load_files(&files))
}

/// Loads every `.yml`/`.yaml` file under `path` (a file or a directory, recursively, in
/// sorted order). Unreadable files and bad rules become diagnostics.
pub fn load_dir(path: &Path) -> Result<(Vec<RuleDoc>, Vec<Diagnostic>), LoadError> {
    Ok(load_files(&rule_files(path)?))
}

/// The rules of `files`, in their order. Ids and names must be unique (correlations and
/// filters name rules by either, and a match names its rule by its id): a later rule with an
/// id or a name taken — as an id or as a name, since a reference reads both alike — is
/// refused, naming the rule that has it — except the detection rules of one file that share an
/// id, the parts of a Sigma 1 rule collection (`action: global` with the id, one document per
/// logsource, as legacy sigmac converted them): they are one rule written as several searches,
/// each part reported under the collection's id, and a filter or `--exclude-rule` naming the
/// id applies to all of them (a name they share with it is theirs too).
fn load_files(files: &[PathBuf]) -> (Vec<RuleDoc>, Vec<Diagnostic>) {
    // Files are read and parsed in parallel (YAML parsing is most of the loading time), then
    // gathered in path order so the result does not depend on scheduling.
    let parsed: Vec<(Vec<RuleDoc>, Vec<Diagnostic>)> = files
        .par_iter()
        .map(|file| match std::fs::read_to_string(file) {
            Ok(text) => parse_str(&text, file),
            Err(e) => (
                Vec::new(),
                vec![Diagnostic {
                    file: file.clone(),
                    line: 1,
                    path: String::new(),
                    message: format!("cannot read the file: {e}"),
                    rule: None,
                }],
            ),
        })
        .collect();
    let mut docs = Vec::new();
    let mut diags = Vec::new();
    let mut keys: HashMap<String, KeyHolder> = HashMap::new();
    for (d, g) in parsed {
        diags.extend(g);
        for doc in d {
            let meta = doc.meta();
            let is_rule = matches!(doc, RuleDoc::Rule(_));
            // The parts of a collection: detection rules of one file under one id.
            let part_of = |first: &KeyHolder| {
                is_rule && first.is_rule && first.file == meta.file && first.id == meta.id
            };
            let mine = [("id", &meta.id), ("name", &meta.name)];
            let taken = mine.iter().find_map(|(what, key)| {
                let key = key.as_ref()?;
                let first = keys.get(key).filter(|first| !part_of(first))?;
                Some((*what, key, first))
            });
            if let Some((what, key, first)) = taken {
                let message = format!(
                    "the {what} '{key}' is already the {} of the rule at {}:{}; ids and names must be unique (a correlation names the rules it counts by either), so this rule is not loaded: give it {} of its own",
                    first.what,
                    first.file.display(),
                    first.line,
                    if what == "id" { "an id" } else { "a name" },
                );
                diags.push(Diagnostic {
                    file: meta.file.clone(),
                    line: meta.line,
                    path: what.into(),
                    message,
                    rule: meta.id.clone().or_else(|| Some(meta.title.clone())),
                });
                continue;
            }
            for (what, key) in mine {
                if let Some(key) = key {
                    keys.entry(key.clone()).or_insert_with(|| KeyHolder {
                        what,
                        file: meta.file.clone(),
                        line: meta.line,
                        is_rule,
                        id: meta.id.clone(),
                    });
                }
            }
            docs.push(doc);
        }
    }
    (docs, diags)
}

/// The rule that first took an id or a name, for [`load_files`].
struct KeyHolder {
    /// Whether it took it as its `id` or its `name`.
    what: &'static str,
    file: PathBuf,
    line: usize,
    /// Whether it is a detection rule (the parts of a collection share their keys).
    is_rule: bool,
    id: Option<String>,
}

/// The rule files under `path`: the file itself, or every `.yml`/`.yaml` file under the
/// directory, recursively, in sorted order.
pub fn rule_files(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut files = Vec::new();
    collect(path, &mut files).map_err(|error| LoadError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    files.sort();
    Ok(files)
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let p = entry.path();
        if entry.file_type()?.is_dir() {
            collect(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(p);
        }
    }
    Ok(())
}

/// Parses the text of one rule file (`file` is used in diagnostics and metadata).
pub fn parse_str(text: &str, file: &Path) -> (Vec<RuleDoc>, Vec<Diagnostic>) {
    // A byte-order mark (Windows editors write one) is no part of the first key.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut diags = Vec::new();
    let nodes = match parse_documents(text) {
        Ok(n) => n,
        Err(e) => {
            diags.push(Diagnostic {
                file: file.to_path_buf(),
                line: e.line,
                path: String::new(),
                message: format!("YAML syntax error: {}", e.message),
                rule: None,
            });
            return (out, diags);
        }
    };
    let mut global: Option<Node> = None;
    let mut previous: Option<Node> = None;
    for node in nodes {
        if node.is_null() {
            continue;
        }
        let mut cx = Cx {
            file,
            diags: &mut diags,
            rule: None,
        };
        if node.as_map().is_none() {
            cx.diag(node.line, "", "a rule document must be a YAML map");
            continue;
        }
        let action = node
            .get("action")
            .and_then(|a| a.as_str())
            .map(str::to_string);
        let doc = match action.as_deref() {
            Some("global") => {
                global = Some(without(&node, "action"));
                continue;
            }
            Some("reset") => {
                global = None;
                continue;
            }
            Some("repeat") => match &previous {
                Some(prev) => merge(prev, &without(&node, "action")),
                None => {
                    cx.diag(
                        node.line,
                        "action",
                        "'action: repeat' needs a previous document",
                    );
                    continue;
                }
            },
            Some(other) => {
                cx.diag(
                    node.line,
                    "action",
                    &format!("unknown action '{other}'; use global, reset or repeat"),
                );
                continue;
            }
            None => match &global {
                Some(g) => merge(g, &node),
                None => node,
            },
        };
        previous = Some(doc.clone());
        cx.document(&doc, &mut out);
    }
    (out, diags)
}

fn without(node: &Node, key: &str) -> Node {
    let entries = node
        .as_map()
        .unwrap_or_default()
        .iter()
        .filter(|(k, _)| k.as_str() != Some(key))
        .cloned()
        .collect();
    Node {
        value: Yaml::Map(entries),
        line: node.line,
    }
}

/// Deep-merges maps; `over` wins for scalars and sequences.
fn merge(base: &Node, over: &Node) -> Node {
    match (&base.value, &over.value) {
        (Yaml::Map(b), Yaml::Map(o)) => {
            let mut entries: Vec<(Node, Node)> = b.clone();
            for (k, v) in o {
                if let Some(slot) = entries
                    .iter_mut()
                    .find(|(bk, _)| bk.as_str().is_some() && bk.as_str() == k.as_str())
                {
                    slot.1 = merge(&slot.1, v);
                } else {
                    entries.push((k.clone(), v.clone()));
                }
            }
            Node {
                value: Yaml::Map(entries),
                line: over.line,
            }
        }
        _ => over.clone(),
    }
}

struct Cx<'a> {
    file: &'a Path,
    diags: &'a mut Vec<Diagnostic>,
    rule: Option<String>,
}

type Res<T> = Result<T, ()>;

fn scalar_text(node: &Node) -> Option<String> {
    match &node.value {
        Yaml::Scalar(s, _) => Some(s.clone()),
        _ => None,
    }
}

/// [`string_list`] with the line of each entry.
fn string_list_lines(node: Option<&Node>) -> Vec<(String, usize)> {
    match node {
        Some(Node {
            value: Yaml::Seq(items),
            ..
        }) => items
            .iter()
            .filter_map(|item| Some((scalar_text(item)?, item.line)))
            .collect(),
        Some(n) => string_list(Some(n))
            .into_iter()
            .map(|s| (s, n.line))
            .collect(),
        None => Vec::new(),
    }
}

/// What a correlation of `kind` over `rules` rules compares, when no value of it can meet every
/// bound of `condition` at once (`gt: 10` with `lt: 5`; `gte: 4` on a temporal correlation of
/// three rules; `eq: 2.5` on a count); `None` when some value can. Counts are whole numbers
/// from 0 (temporal ones up to the number of rules), a share of a `value_percentile` a percentage
/// above 0; sums, averages and percentiles any number.
fn never_holds(
    kind: CorrelationType,
    condition: &CorrelationCondition,
    rules: usize,
) -> Option<&'static str> {
    use CorrelationType as T;
    let comparisons = &condition.comparisons;
    match kind {
        T::EventCount | T::ValueCount | T::Temporal | T::TemporalOrdered => {
            let temporal = matches!(kind, T::Temporal | T::TemporalOrdered);
            // The whole numbers from `lo` to `hi` that meet the bounds other than `neq`.
            let (mut lo, mut hi) = (
                0.0f64,
                if temporal {
                    rules as f64
                } else {
                    f64::INFINITY
                },
            );
            for &(op, b) in comparisons {
                match op {
                    CmpOp::Gt => lo = lo.max(b.floor() + 1.0),
                    CmpOp::Gte => lo = lo.max(b.ceil()),
                    CmpOp::Lt => hi = hi.min(b.ceil() - 1.0),
                    CmpOp::Lte => hi = hi.min(b.floor()),
                    CmpOp::Eq if b.fract() != 0.0 => hi = -1.0,
                    CmpOp::Eq => (lo, hi) = (lo.max(b), hi.min(b)),
                    CmpOp::Neq => {}
                }
            }
            let excluded = |n: f64| comparisons.contains(&(CmpOp::Neq, n));
            let some = lo <= hi
                && (hi - lo >= comparisons.len() as f64
                    || (lo as i64..=hi as i64).any(|n| !excluded(n as f64)));
            let what = match kind {
                T::EventCount => "count of events",
                T::ValueCount => "count of distinct values",
                _ => "count of the rules it names",
            };
            (!some).then_some(what)
        }
        T::ValueSum | T::ValueAvg | T::ValuePercentile => {
            let share = kind == T::ValuePercentile && condition.percentile.is_none();
            // The interval the bounds leave, each end with whether it is included.
            let (mut lo, mut hi) = if share {
                ((0.0, false), (100.0, true))
            } else {
                ((f64::NEG_INFINITY, false), (f64::INFINITY, false))
            };
            let raise = |lo: &mut (f64, bool), to: (f64, bool)| {
                if to.0 > lo.0 || (to.0 == lo.0 && !to.1) {
                    *lo = to;
                }
            };
            let lower = |hi: &mut (f64, bool), to: (f64, bool)| {
                if to.0 < hi.0 || (to.0 == hi.0 && !to.1) {
                    *hi = to;
                }
            };
            for &(op, b) in comparisons {
                match op {
                    CmpOp::Gt => raise(&mut lo, (b, false)),
                    CmpOp::Gte => raise(&mut lo, (b, true)),
                    CmpOp::Lt => lower(&mut hi, (b, false)),
                    CmpOp::Lte => lower(&mut hi, (b, true)),
                    CmpOp::Eq => {
                        raise(&mut lo, (b, true));
                        lower(&mut hi, (b, true));
                    }
                    CmpOp::Neq => {}
                }
            }
            let some = lo.0 < hi.0
                || (lo.0 == hi.0 && lo.1 && hi.1 && !comparisons.contains(&(CmpOp::Neq, lo.0)));
            let what = match kind {
                T::ValueSum => "sum",
                T::ValueAvg => "average",
                _ if share => "share of a value",
                _ => "percentile",
            };
            (!some).then_some(what)
        }
    }
}

fn string_list(node: Option<&Node>) -> Vec<String> {
    match node.map(|n| &n.value) {
        Some(Yaml::Seq(items)) => items.iter().filter_map(scalar_text).collect(),
        Some(Yaml::Scalar(s, kind)) if *kind != Scalar::Null => vec![s.clone()],
        _ => Vec::new(),
    }
}

impl Cx<'_> {
    fn diag(&mut self, line: usize, path: &str, message: &str) {
        self.diags.push(Diagnostic {
            file: self.file.to_path_buf(),
            line,
            path: path.to_string(),
            message: message.to_string(),
            rule: self.rule.clone(),
        });
    }

    /// Reads one document into `out`: a rule, a correlation rule or a filter, or a Sigma 1
    /// rule with an aggregation as the rule of its search and the correlation it stands for.
    fn document(&mut self, node: &Node, out: &mut Vec<RuleDoc>) {
        let before = self.diags.len();
        let meta = self.meta(node);
        self.rule = meta.id.clone().or_else(|| Some(meta.title.clone()));
        // What the metadata got wrong (an unknown level) refuses the rule, and names it.
        if self.diags.len() > before {
            for d in &mut self.diags[before..] {
                d.rule = self.rule.clone();
            }
            return;
        }
        if meta.title.is_empty() {
            self.diag(node.line, "title", "the rule has no title; add 'title:'");
            return;
        }
        if let Some(corr) = node.get("correlation") {
            // `generate` is a rule attribute in the specification's schema; pySigma reads it
            // inside `correlation`: either place says it. The schema makes it a boolean.
            let written: Vec<&Node> = [node.get("generate"), corr.get("generate")]
                .into_iter()
                .flatten()
                .collect();
            if let Some(bad) = written
                .iter()
                .find(|g| !matches!(g.value, Yaml::Scalar(_, Scalar::Bool(_))))
            {
                self.diag(bad.line, "generate", "'generate' is true or false");
                return;
            }
            let generate = written
                .iter()
                .any(|g| matches!(g.value, Yaml::Scalar(_, Scalar::Bool(true))));
            out.extend(
                self.correlation(meta, corr, generate)
                    .ok()
                    .map(RuleDoc::Correlation),
            );
            return;
        }
        if let Some(filter) = node.get("filter") {
            let Ok(logsource) = self.logsource(node) else {
                return;
            };
            let rules = string_list(filter.get("rules"));
            let Ok((detection, _)) = self.detection(filter, "filter") else {
                return;
            };
            out.push(RuleDoc::Filter(FilterRule {
                meta,
                logsource,
                rules,
                detection,
            }));
            return;
        }
        let Some(det) = node.get("detection") else {
            self.diag(
                node.line,
                "detection",
                "the rule has no 'detection' section (nor 'correlation' or 'filter'); add one",
            );
            return;
        };
        if node.get("logsource").is_none() {
            self.diag(
                node.line,
                "logsource",
                "the rule has no 'logsource'; add one",
            );
            return;
        }
        // Both read before either refuses the rule, so that each one's problems are reported.
        let logsource = self.logsource(node);
        let detection = self.detection(det, "detection");
        let (Ok(logsource), Ok((detection, aggregation))) = (logsource, detection) else {
            return;
        };
        let rule = Rule {
            meta,
            logsource,
            detection,
        };
        match aggregation {
            None => out.push(RuleDoc::Rule(rule)),
            Some(written) => {
                if let Ok((rules, correlation)) = self.aggregated(rule, &written, det) {
                    out.extend(rules.into_iter().map(RuleDoc::Rule));
                    out.push(RuleDoc::Correlation(correlation));
                }
            }
        }
    }

    /// A Sigma 1 rule with an aggregation as what Sigma 2 writes for it: the rule of its search
    /// (named after the rule, written where its `detection` is, and reporting nothing itself)
    /// and a correlation rule with the rule's id, title and level over its matches within
    /// `timeframe`: counting them (grouped by the `by` field), or for `near a and b` requiring
    /// matches of `a` and `b` too (each a rule of its own).
    fn aggregated(
        &mut self,
        mut search: Rule,
        written: &WrittenAggregation,
        det: &Node,
    ) -> Res<(Vec<Rule>, CorrelationRule)> {
        let line = written.line;
        let path = "detection.condition";
        let (kind, group_by, condition, near) = match &written.aggregation {
            Aggregation::Computed(c) => {
                let kind = self.computed_kind(c, line)?;
                let condition = CorrelationCondition {
                    comparisons: vec![(c.op, c.bound)],
                    fields: c.field.iter().cloned().collect(),
                    percentile: None,
                };
                let group_by = c.group_by.iter().cloned().collect();
                (kind, group_by, condition, &[][..])
            }
            Aggregation::Near(near) => {
                if let Some(missing) = near
                    .iter()
                    .find(|n| !search.detection.searches.iter().any(|(s, _)| s == *n))
                {
                    self.diag(
                        line,
                        path,
                        &format!("'near' names '{missing}', which is not defined; define it or fix the name"),
                    );
                    return Err(());
                }
                let condition = CorrelationCondition::default();
                (CorrelationType::Temporal, Vec::new(), condition, &near[..])
            }
        };
        let timespan_ms = match search.detection.timeframe.as_deref() {
            None => AGGREGATION_TIMEFRAME_MS,
            Some(t) => match parse_timespan(t).filter(|&ms| ms > 0) {
                Some(ms) => ms,
                None => {
                    self.diag(
                        det.line,
                        "detection.timeframe",
                        &format!(
                            "bad timeframe {t:?} for the aggregation; write a number and s, m, h or d (e.g. 10m)"
                        ),
                    );
                    return Err(());
                }
            },
        };
        let meta = search.meta.clone();
        // Without an id, where the rule is written names its parts: two rules may share a title.
        let key = meta
            .id
            .clone()
            .unwrap_or_else(|| format!("{} ({}:{})", meta.title, meta.file.display(), meta.line));
        let named = |rule: &mut Rule, name: String, title: String| {
            rule.meta.id = Some(name.clone());
            rule.meta.name = Some(name);
            rule.meta.title = title;
            rule.meta.line = det.line;
        };
        let mut rules = Vec::with_capacity(1 + near.len());
        for other in near {
            let mut rule = search.clone();
            rule.detection.conditions = vec![Condition::Ref(other.clone())];
            named(
                &mut rule,
                format!("{key}: near {other}"),
                format!("{} ({other}, which must come near)", meta.title),
            );
            rules.push(rule);
        }
        named(
            &mut search,
            format!("{key}: search"),
            format!("{} (the events its aggregation counts)", meta.title),
        );
        rules.insert(0, search);
        let correlation = CorrelationRule {
            meta,
            kind,
            rules: rules.iter().filter_map(|r| r.meta.name.clone()).collect(),
            rule_lines: vec![line; rules.len()],
            group_by,
            timespan_ms,
            condition,
            aliases: Vec::new(),
            generate: false,
            sigma1_aggregation: Some(written.text.clone()),
        };
        Ok((rules, correlation))
    }

    /// The correlation type that computes a Sigma 1 aggregation function.
    fn computed_kind(&mut self, c: &Computation, line: usize) -> Res<CorrelationType> {
        let path = "detection.condition";
        Ok(match (c.function, &c.field) {
            (AggregateFunction::Count, None) => CorrelationType::EventCount,
            (AggregateFunction::Count, Some(_)) => CorrelationType::ValueCount,
            (AggregateFunction::Sum, Some(_)) => CorrelationType::ValueSum,
            (AggregateFunction::Avg, Some(_)) => CorrelationType::ValueAvg,
            (AggregateFunction::Sum | AggregateFunction::Avg, None) => {
                self.diag(
                    line,
                    path,
                    "sum() and avg() need the field they add up: write sum(field) or avg(field)",
                );
                return Err(());
            }
            (AggregateFunction::Min | AggregateFunction::Max, _) => {
                self.diag(
                    line,
                    path,
                    "min() and max() have no Sigma 2 correlation type to run them as; rewrite the rule as a correlation rule (value_percentile, value_sum or value_avg)",
                );
                return Err(());
            }
        })
    }

    fn meta(&mut self, node: &Node) -> Meta {
        let s = |k: &str| node.get(k).and_then(scalar_text).filter(|s| !s.is_empty());
        let level = match node.get("level") {
            Some(l) => match l.as_str().and_then(Level::parse) {
                Some(level) => Some(level),
                None => {
                    self.diag(
                        l.line,
                        "level",
                        "unknown level; use informational, low, medium, high or critical",
                    );
                    None
                }
            },
            None => None,
        };
        let related = match node.get("related").map(|n| &n.value) {
            Some(Yaml::Seq(items)) => items
                .iter()
                .filter_map(|i| {
                    Some((
                        i.get("id").and_then(scalar_text)?,
                        i.get("type").and_then(scalar_text).unwrap_or_default(),
                    ))
                })
                .collect(),
            _ => Vec::new(),
        };
        Meta {
            file: self.file.to_path_buf(),
            line: node.line,
            id: s("id"),
            name: s("name"),
            title: s("title").unwrap_or_default(),
            status: s("status"),
            description: s("description"),
            level,
            tags: string_list(node.get("tags")),
            references: string_list(node.get("references")),
            author: s("author"),
            date: s("date"),
            modified: s("modified"),
            falsepositives: string_list(node.get("falsepositives")),
            fields: string_list(node.get("fields")),
            related,
        }
    }

    /// `logsource`: a map of strings. Anything else is refused: a rule whose logsource was
    /// read as none (`logsource: product`, `product: [a, b]`) would run on every log.
    fn logsource(&mut self, node: &Node) -> Res<Logsource> {
        let Some(ls) = node.get("logsource") else {
            return Ok(Logsource::default());
        };
        let Some(entries) = ls.as_map() else {
            self.diag(
                ls.line,
                "logsource",
                "the logsource must be a map of product, category, service (and definition), e.g. 'logsource: {product: windows, service: security}'",
            );
            return Err(());
        };
        for (k, v) in entries {
            let key = scalar_text(k).unwrap_or_default();
            let known = matches!(
                key.as_str(),
                "product" | "category" | "service" | "definition"
            );
            if known && !matches!(v.value, Yaml::Scalar(..)) {
                self.diag(
                    v.line,
                    &format!("logsource.{key}"),
                    "must be one name, not a list or a map; write one rule per log source",
                );
                return Err(());
            }
        }
        let s = |k: &str| ls.get(k).and_then(scalar_text).filter(|s| !s.is_empty());
        Ok(Logsource {
            product: s("product"),
            category: s("category"),
            service: s("service"),
            definition: s("definition"),
        })
    }

    /// A `detection` (or a filter's) section, and the Sigma 1 aggregation of a rule's condition
    /// with its line.
    fn detection(
        &mut self,
        det: &Node,
        section: &str,
    ) -> Res<(Detection, Option<WrittenAggregation>)> {
        let Some(entries) = det.as_map() else {
            self.diag(
                det.line,
                section,
                "must be a map of search identifiers and a condition",
            );
            return Err(());
        };
        let mut searches = Vec::new();
        let mut conditions = Vec::new();
        // The line of each condition, to name where an undefined identifier is used.
        let mut condition_lines = Vec::new();
        let mut aggregations = Vec::new();
        let mut timeframe = None;
        let mut ok = true;
        // Identifiers written with a problem of their own: defined all the same, so that the
        // condition is checked against what the author wrote and every problem is reported.
        let mut broken = Vec::new();
        for (k, v) in entries {
            let Some(name) = k.as_str() else {
                self.diag(k.line, section, "search identifiers must be strings");
                ok = false;
                continue;
            };
            let path = format!("{section}.{name}");
            match name {
                "condition" => {
                    let texts: Vec<(String, usize)> = match &v.value {
                        Yaml::Seq(items) => items
                            .iter()
                            .map(|i| (scalar_text(i).unwrap_or_default(), i.line))
                            .collect(),
                        Yaml::Scalar(s, _) => vec![(s.clone(), v.line)],
                        Yaml::Map(_) => vec![(String::new(), v.line)],
                    };
                    for (text, line) in texts {
                        // A filter's condition keeps its pipe, which the parser refuses.
                        let (search, aggregation) = match split_aggregation(&text) {
                            (search, Some(a)) if section == "detection" => (search, Some(a)),
                            _ => (text.as_str(), None),
                        };
                        let shown = shorten(&text, 120);
                        match parse_condition(search) {
                            Ok(c) => {
                                conditions.push(c);
                                condition_lines.push(line);
                            }
                            Err(e) => {
                                self.diag(line, &path, &format!("bad condition {shown:?}: {e}"));
                                ok = false;
                            }
                        }
                        let Some(aggregation) = aggregation else {
                            continue;
                        };
                        match parse_aggregation(aggregation) {
                            Ok(a) => aggregations.push(WrittenAggregation {
                                aggregation: a,
                                line,
                                text: aggregation.trim().to_owned(),
                            }),
                            Err(mut e) => {
                                e.column += search.len() + 1;
                                self.diag(
                                    line,
                                    &path,
                                    &format!("bad aggregation in {shown:?}: {e}"),
                                );
                                ok = false;
                            }
                        }
                    }
                }
                "timeframe" => timeframe = scalar_text(v),
                _ => match self.search(v, &path) {
                    Ok(s) => searches.push((name.to_string(), s)),
                    Err(()) => {
                        broken.push(name.to_string());
                        ok = false;
                    }
                },
            }
        }
        if !entries.iter().any(|(k, _)| k.as_str() == Some("condition")) {
            self.diag(det.line, section, "no condition; add 'condition:'");
            ok = false;
        }
        let defined: Vec<&str> = searches
            .iter()
            .map(|(n, _)| n.as_str())
            .chain(broken.iter().map(String::as_str))
            .collect();
        if !aggregations.is_empty() && conditions.len() > 1 {
            self.diag(
                det.line,
                &format!("{section}.condition"),
                "a condition with an aggregation ('| count() ...') must be the rule's only condition; write one rule per condition",
            );
            ok = false;
        }
        // Checked even when a search had a problem: the author sees every problem at once.
        // Every referenced identifier must exist.
        for (c, &line) in conditions.iter().zip(&condition_lines) {
            let mut missing = Vec::new();
            refs(c, &mut |name| {
                if !defined.contains(&name) {
                    missing.push(name.to_string());
                }
            });
            for m in missing {
                self.diag(
                    line,
                    &format!("{section}.condition"),
                    &format!("the condition refers to '{m}', which is not defined; define it or fix the name"),
                );
                ok = false;
            }
            // A pattern that takes no identifier is as much a typo as an undefined name:
            // its `1 of` never holds, so a rule never fires, or a `not 1 of filter_*`
            // filters nothing.
            let mut empty = Vec::new();
            quantified(c, &mut |quantity, target| {
                let taken = defined
                    .iter()
                    .filter(|n| crate::condition::takes(target, n))
                    .count();
                let needed = match quantity {
                    Quantity::All => 1,
                    Quantity::AtLeast(n) => *n as usize,
                };
                if taken < needed {
                    empty.push((*quantity, target.clone(), taken));
                }
            });
            let defined = match defined.is_empty() {
                true => "none".to_string(),
                false => defined.join(", "),
            };
            for (quantity, target, taken) in empty {
                let written = match &quantity {
                    Quantity::All => "all".to_string(),
                    Quantity::AtLeast(n) => n.to_string(),
                };
                let message = match (&target, taken) {
                    (Target::Them, 0) => format!(
                        "'{written} of them' takes no search identifier (names starting with _ are not counted; the rule defines {defined}); define a selection"
                    ),
                    (Target::Pattern(p), 0) => format!(
                        "'{written} of {p}' matches no search identifier (the rule defines {defined}); fix the pattern"
                    ),
                    (Target::Them, n) => format!(
                        "'{written} of them' asks for more search identifiers than the {n} there are, so it never holds; lower the number"
                    ),
                    (Target::Pattern(p), n) => format!(
                        "'{written} of {p}' asks for more search identifiers than the {n} it matches, so it never holds; lower the number or fix the pattern"
                    ),
                };
                self.diag(line, &format!("{section}.condition"), &message);
                ok = false;
            }
        }
        if !ok {
            return Err(());
        }
        Ok((
            Detection {
                searches,
                conditions,
                timeframe,
            },
            aggregations.pop(),
        ))
    }

    fn search(&mut self, v: &Node, path: &str) -> Res<Search> {
        match &v.value {
            Yaml::Map(_) => Ok(Search::Maps(vec![self.field_map(v, path)?])),
            Yaml::Seq(items) => {
                if items.iter().all(|i| matches!(i.value, Yaml::Map(_))) && !items.is_empty() {
                    // Every map is read, so that each one's problems are reported.
                    let maps: Vec<Res<Vec<FieldItem>>> = items
                        .iter()
                        .enumerate()
                        .map(|(n, i)| self.field_map(i, &format!("{path}[{n}]")))
                        .collect();
                    Ok(Search::Maps(maps.into_iter().collect::<Res<_>>()?))
                } else if items.iter().all(|i| matches!(i.value, Yaml::Scalar(..))) {
                    Ok(Search::Keywords(items.iter().map(value).collect()))
                } else {
                    self.diag(
                        v.line,
                        path,
                        "a search list must hold only maps (OR of selections) or only values (keywords)",
                    );
                    Err(())
                }
            }
            Yaml::Scalar(_, Scalar::Null) => {
                self.diag(
                    v.line,
                    path,
                    "the search identifier is empty; give it a map or a list",
                );
                Err(())
            }
            Yaml::Scalar(..) => {
                self.diag(
                    v.line,
                    path,
                    "a search identifier is a map of fields or a list of keywords, not a single value; write a keyword as a list item ('- value')",
                );
                Err(())
            }
        }
    }

    fn field_map(&mut self, node: &Node, path: &str) -> Res<Vec<FieldItem>> {
        let mut items = Vec::new();
        let mut ok = true;
        for (k, v) in node.as_map().unwrap_or_default() {
            let key = scalar_text(k).unwrap_or_default();
            let item_path = format!("{path}.{key}");
            let mut parts = key.split('|');
            let field = parts.next().unwrap_or_default();
            let mut modifiers = Vec::new();
            let mut known = true;
            for m in parts {
                match Modifier::parse(m) {
                    Some(m) => modifiers.push(m),
                    None => {
                        self.diag(
                            k.line,
                            &item_path,
                            &format!("unknown modifier '{m}'; see the modifiers appendix of the Sigma specification"),
                        );
                        ok = false;
                        known = false;
                    }
                }
            }
            // The chain is checked here, where the diagnostic has the key's line; an unknown
            // modifier is diagnosed alone.
            if let (true, Err(why)) = (known, crate::modifier::check_chain(&modifiers)) {
                self.diag(k.line, &item_path, &why);
                ok = false;
                continue;
            }
            let values = match &v.value {
                Yaml::Seq(list) => {
                    if list.iter().any(|i| !matches!(i.value, Yaml::Scalar(..))) {
                        self.diag(
                            v.line,
                            &item_path,
                            "values must be scalars or a list of scalars",
                        );
                        ok = false;
                        continue;
                    }
                    if list.len() > 1 && list.iter().any(Node::is_null) {
                        self.diag(
                            v.line,
                            &item_path,
                            "null cannot be part of a list of values (the specification's own invalid example); test for null in a selection of its own ('field: null') linked with 'or'",
                        );
                        ok = false;
                        continue;
                    }
                    if list.is_empty() {
                        self.diag(
                            v.line,
                            &item_path,
                            "the list of values is empty, so the item can never hold; give it a value",
                        );
                        ok = false;
                        continue;
                    }
                    list.iter().map(value).collect::<Vec<_>>()
                }
                Yaml::Scalar(..) => vec![value(v)],
                Yaml::Map(_) => {
                    self.diag(
                        v.line,
                        &item_path,
                        "a field's value cannot be a map; use a list of values",
                    );
                    ok = false;
                    continue;
                }
            };
            if modifiers.contains(&Modifier::All) && values.len() == 1 {
                self.diag(
                    k.line,
                    &item_path,
                    "'all' on a single value: the specification does not allow it (some back-ends cannot run it); drop 'all', or for one field that must hold several values give them as a list",
                );
                ok = false;
                continue;
            }
            items.push(FieldItem {
                field: if field.is_empty() {
                    None
                } else {
                    Some(field.to_string())
                },
                modifiers,
                values,
                line: k.line,
            });
        }
        if ok { Ok(items) } else { Err(()) }
    }

    fn correlation(&mut self, meta: Meta, corr: &Node, generate: bool) -> Res<CorrelationRule> {
        let path = "correlation";
        let node = corr.get("type").filter(|t| !t.is_null());
        let written = node.and_then(Node::as_str);
        let kind = match CorrelationType::ALL
            .into_iter()
            .find(|k| Some(k.as_str()) == written)
        {
            Some(kind) => kind,
            None => {
                const TYPES: &str = "event_count, value_count, value_sum, value_avg, value_percentile, temporal or temporal_ordered";
                // Said as the rule writes it: the type given, or that none is.
                let message = match (node, written) {
                    (None, _) => format!("correlation type missing; give one of {TYPES}"),
                    (Some(_), None) => format!(
                        "the correlation type is one word, not a list or map; give one of {TYPES}"
                    ),
                    (Some(_), Some(written)) => {
                        format!("unknown correlation type '{written}'; use {TYPES}")
                    }
                };
                self.diag(
                    node.map_or(corr.line, |n| n.line),
                    "correlation.type",
                    &message,
                );
                return Err(());
            }
        };
        let (rules, rule_lines): (Vec<String>, Vec<usize>) =
            string_list_lines(corr.get("rules")).into_iter().unzip();
        if rules.is_empty() {
            self.diag(
                corr.line,
                "correlation.rules",
                "a correlation needs 'rules'",
            );
            return Err(());
        }
        let timespan_ms = match corr.get("timespan").or_else(|| corr.get("timeframe")) {
            // The specification's units are s, m, h and d ("the following format must be
            // used"), and a window of no time holds nothing.
            Some(t) => match t
                .as_str()
                .filter(|t| t.trim().ends_with(['s', 'm', 'h', 'd']))
                .and_then(parse_timespan)
                .filter(|&ms| ms > 0)
            {
                Some(ms) => ms,
                None => {
                    self.diag(
                        t.line,
                        "correlation.timespan",
                        "bad timespan; write a number above 0 and s, m, h or d, the specification's units (e.g. 90m, 7d)",
                    );
                    return Err(());
                }
            },
            None => {
                self.diag(
                    corr.line,
                    "correlation.timespan",
                    "a correlation needs 'timespan'",
                );
                return Err(());
            }
        };
        let mut condition = CorrelationCondition::default();
        let written = corr.get("condition").filter(|c| !c.is_null());
        if let Some(c) = written {
            let Some(map) = c.as_map() else {
                let found = match c.as_str() {
                    Some(text) => format!("the text '{}'", shorten(text, 60)),
                    None => "a list".to_owned(),
                };
                self.diag(
                    c.line,
                    "correlation.condition",
                    &format!(
                        "the condition is a map of comparisons, one per line (gte: 10), not {found}; write it as a map"
                    ),
                );
                return Err(());
            };
            for (k, v) in map {
                let key = k.as_str().unwrap_or_default();
                let op = match key {
                    "gt" => CmpOp::Gt,
                    "gte" => CmpOp::Gte,
                    "lt" => CmpOp::Lt,
                    "lte" => CmpOp::Lte,
                    "eq" => CmpOp::Eq,
                    "neq" => CmpOp::Neq,
                    "field" => {
                        // One name, or a list whose values are counted together.
                        let names: Option<Vec<String>> = match &v.value {
                            Yaml::Seq(items) => items.iter().map(scalar_text).collect(),
                            _ => scalar_text(v).map(|name| vec![name]),
                        };
                        match names.filter(|n| !n.is_empty() && n.iter().all(|f| !f.is_empty())) {
                            Some(names) => condition.fields = names,
                            None => {
                                self.diag(
                                    v.line,
                                    &format!("{path}.condition.field"),
                                    "give a field name, or for value_count a list of them",
                                );
                                return Err(());
                            }
                        }
                        continue;
                    }
                    "percentile" => {
                        condition.percentile = scalar_text(v).and_then(|s| s.parse().ok());
                        continue;
                    }
                    other => {
                        self.diag(
                            k.line,
                            &format!("{path}.condition.{other}"),
                            "unknown condition key; use gt, gte, lt, lte, eq, neq or field",
                        );
                        return Err(());
                    }
                };
                match scalar_text(v).and_then(|s| s.parse::<f64>().ok()) {
                    Some(n) => condition.comparisons.push((op, n)),
                    None => {
                        self.diag(
                            v.line,
                            &format!("{path}.condition.{key}"),
                            "the bound must be a number",
                        );
                        return Err(());
                    }
                }
            }
        }
        let temporal = matches!(
            kind,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered
        );
        if condition.comparisons.is_empty() && !temporal {
            let message = match written {
                Some(_) => {
                    "the condition has no comparison; this correlation type needs one, such as 'gte: 10'"
                }
                None => "this correlation type needs a 'condition' such as 'gte: 10'",
            };
            self.diag(
                written.map_or(corr.line, |c| c.line),
                "correlation.condition",
                message,
            );
            return Err(());
        }
        // A condition no value can meet is a correlation that never fires.
        if let Some(values) = never_holds(kind, &condition, rules.len()) {
            let bounds = CorrelationCondition {
                fields: Vec::new(),
                ..condition.clone()
            };
            self.diag(
                written.map_or(corr.line, |c| c.line),
                "correlation.condition",
                &format!(
                    "the condition ({bounds}) can never hold: no {values} meets all its bounds at once, so the correlation would never fire; fix the bounds"
                ),
            );
            return Err(());
        }
        let needs_field = matches!(
            kind,
            CorrelationType::ValueCount
                | CorrelationType::ValueSum
                | CorrelationType::ValueAvg
                | CorrelationType::ValuePercentile
        );
        if needs_field && condition.fields.is_empty() {
            self.diag(
                corr.line,
                "correlation.condition.field",
                "this correlation type needs 'field' in its condition",
            );
            return Err(());
        }
        if condition.fields.len() > 1 && kind != CorrelationType::ValueCount {
            self.diag(
                corr.line,
                "correlation.condition.field",
                "only value_count counts several fields together; give this type one field",
            );
            return Err(());
        }
        let aliases = corr
            .get("aliases")
            .and_then(|a| a.as_map())
            .unwrap_or_default()
            .iter()
            .map(|(alias, m)| {
                (
                    scalar_text(alias).unwrap_or_default(),
                    m.as_map()
                        .unwrap_or_default()
                        .iter()
                        .map(|(r, f)| {
                            (
                                scalar_text(r).unwrap_or_default(),
                                scalar_text(f).unwrap_or_default(),
                            )
                        })
                        .collect(),
                )
            })
            .collect::<Vec<(String, Vec<(String, String)>)>>();
        // An alias maps a field of each rule it names; a name outside `rules` is a typo that
        // would leave the events of the rule meant without the group's field.
        for (alias, fields) in &aliases {
            if let Some((rule, _)) = fields.iter().find(|(r, _)| !rules.contains(r)) {
                let line = corr
                    .get("aliases")
                    .and_then(|a| a.get(alias))
                    .and_then(|m| m.get(rule))
                    .map_or(corr.line, |n| n.line);
                self.diag(
                    line,
                    &format!("correlation.aliases.{alias}.{rule}"),
                    &format!(
                        "the alias names the rule '{rule}', which is not in the correlation's rules ({}); fix the name",
                        rules.join(", ")
                    ),
                );
                return Err(());
            }
        }
        Ok(CorrelationRule {
            meta,
            kind,
            rules,
            rule_lines,
            group_by: string_list(corr.get("group-by")),
            timespan_ms,
            condition,
            aliases,
            generate,
            sigma1_aggregation: None,
        })
    }
}

/// A Sigma 1 aggregation as a condition ends with: parsed, its line, and its text.
struct WrittenAggregation {
    aggregation: Aggregation,
    line: usize,
    text: String,
}

/// The window of a Sigma 1 aggregation written without a `timeframe`. Sigma 1 left it to the
/// search's time range; a stream has none, so it is one day, the range of a daily search.
pub const AGGREGATION_TIMEFRAME_MS: u64 = 86_400_000;

/// Parses a timespan such as `90m`, `1h`, `30s`, `2d` (also `1w`, `1M`, `1y`) into milliseconds.
pub fn parse_timespan(s: &str) -> Option<u64> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: u64 = s[..s.len() - unit.len_utf8()].trim().parse().ok()?;
    let mult = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        'w' => 7 * 86_400_000,
        'M' => 30 * 86_400_000,
        'y' => 365 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// A timespan in milliseconds as a rule would write it, in the largest of `d`, `h`, `m`, `s`
/// that divides it (`5m`, `1h`, `90s`); the inverse of [`parse_timespan`] for whole seconds.
pub fn format_timespan(ms: u64) -> String {
    match ms / 1000 {
        0 => "0s".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn value(node: &Node) -> Value {
    match &node.value {
        Yaml::Scalar(s, Scalar::Str) => Value::Str(s.clone()),
        Yaml::Scalar(_, Scalar::Int(i)) => Value::Int(*i),
        Yaml::Scalar(s, Scalar::Float(f)) => Value::Float(*f, s.clone()),
        Yaml::Scalar(_, Scalar::Bool(b)) => Value::Bool(*b),
        _ => Value::Null,
    }
}

fn refs(c: &crate::condition::Condition, f: &mut dyn FnMut(&str)) {
    use crate::condition::Condition::*;
    match c {
        Ref(n) => f(n),
        And(v) | Or(v) => v.iter().for_each(|c| refs(c, f)),
        Not(c) => refs(c, f),
        Of(..) => {}
    }
}

/// Calls `f` with each `x of y` of a condition.
fn quantified(c: &Condition, f: &mut dyn FnMut(&Quantity, &Target)) {
    match c {
        Condition::Ref(_) => {}
        Condition::And(v) | Condition::Or(v) => v.iter().for_each(|c| quantified(c, f)),
        Condition::Not(c) => quantified(c, f),
        Condition::Of(quantity, target) => f(quantity, target),
    }
}

/// `text` cut to at most `max` characters, with `…` where it was cut (a condition quoted in a
/// diagnostic can be kilobytes long).
fn shorten(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]).into(),
        None => text.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (Vec<RuleDoc>, Vec<Diagnostic>) {
        parse_str(text, Path::new("t.yml"))
    }

    #[test]
    fn a_simple_rule() {
        let (docs, diags) = load(
            "title: T\nid: abc\nlevel: high\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '\\cmd.exe'\n    EventID: [1, 2]\n  kw:\n    - foo\n    - bar\n  condition: sel or kw\ntags: [attack.t1059]\n",
        );
        assert!(diags.is_empty(), "{diags:?}");
        let RuleDoc::Rule(r) = &docs[0] else {
            panic!("not a rule")
        };
        assert_eq!(r.meta.level, Some(Level::High));
        assert_eq!(r.logsource.category.as_deref(), Some("process_creation"));
        let Search::Maps(maps) = &r.detection.searches[0].1 else {
            panic!("not maps")
        };
        assert_eq!(maps[0][0].modifiers, vec![Modifier::EndsWith]);
        assert_eq!(maps[0][0].line, 9);
        assert_eq!(maps[0][1].values, vec![Value::Int(1), Value::Int(2)]);
        assert_eq!(
            r.detection.searches[1].1,
            Search::Keywords(vec![Value::Str("foo".into()), Value::Str("bar".into())])
        );
    }

    #[test]
    fn unknown_modifier_has_file_line_and_path() {
        let (docs, diags) = load(
            "title: T\nlogsource:\n  product: windows\ndetection:\n  sel:\n    Image|contans: x\n  condition: sel\n---\ntitle: Good\nlogsource: {product: windows}\ndetection:\n  s: {a: b}\n  condition: s\n",
        );
        assert_eq!(docs.len(), 1, "the good rule still loads");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].line, 6);
        assert_eq!(diags[0].path, "detection.sel.Image|contans");
        assert!(diags[0].message.contains("contans"));
    }

    #[test]
    fn undefined_identifier_and_bad_condition() {
        let (_, diags) = load(
            "title: T\nlogsource: {product: x}\ndetection:\n  sel: {a: b}\n  condition: sel and nope\n",
        );
        assert!(diags[0].message.contains("nope"), "{diags:?}");
    }

    #[test]
    fn sigma_1_aggregations_run_as_the_correlations_they_stand_for() {
        let rule = |condition: &str, timeframe: &str| {
            format!(
                "title: Failed Logons From One Source\nid: r1\nlevel: medium\n\
                 logsource: {{product: windows, service: security}}\ndetection:\n  \
                 selection: {{EventID: 4625}}\n  filter: {{IpAddress: '-'}}\n\
                 {timeframe}  condition: {condition}\n"
            )
        };
        // count(field) by group: distinct values per group within the timeframe.
        let (docs, diags) = load(&rule(
            "selection and not filter | count(TargetUserName) by IpAddress > 10",
            "  timeframe: 24h\n",
        ));
        assert!(diags.is_empty(), "{diags:?}");
        let [RuleDoc::Rule(search), RuleDoc::Correlation(c)] = &docs[..] else {
            panic!("{docs:?}");
        };
        assert_eq!(search.meta.name.as_deref(), Some("r1: search"));
        assert_eq!(search.meta.line, 6, "written where its detection is");
        assert_eq!(search.detection.conditions.len(), 1);
        assert_eq!(
            (c.meta.id.as_deref(), c.meta.title.as_str(), c.meta.level),
            (
                Some("r1"),
                "Failed Logons From One Source",
                Some(Level::Medium)
            )
        );
        assert_eq!(c.kind, CorrelationType::ValueCount);
        assert_eq!(c.rules, ["r1: search"]);
        assert_eq!(c.group_by, ["IpAddress"]);
        assert_eq!(c.timespan_ms, 86_400_000);
        assert_eq!(c.condition.fields, ["TargetUserName"]);
        assert_eq!(c.condition.comparisons, [(CmpOp::Gt, 10.0)]);
        assert!(!c.generate, "the search reports nothing itself");
        assert_eq!(
            c.sigma1_aggregation.as_deref(),
            Some("count(TargetUserName) by IpAddress > 10")
        );
        // count() without a group: events.
        let (docs, _) = load(&rule("selection | count() >= 5", "  timeframe: 10m\n"));
        let RuleDoc::Correlation(c) = &docs[1] else {
            panic!("{docs:?}");
        };
        assert_eq!(
            (c.kind, c.group_by.len(), c.condition.comparisons[0]),
            (CorrelationType::EventCount, 0, (CmpOp::Gte, 5.0))
        );
        // near: each search a rule of its own, all of them within the timeframe (temporal).
        let (docs, diags) = load(&rule("selection | near filter", "  timeframe: 2m\n"));
        assert!(diags.is_empty(), "{diags:?}");
        let [
            RuleDoc::Rule(first),
            RuleDoc::Rule(near),
            RuleDoc::Correlation(c),
        ] = &docs[..]
        else {
            panic!("{docs:?}");
        };
        assert_eq!(first.meta.name.as_deref(), Some("r1: search"));
        assert_eq!(near.meta.name.as_deref(), Some("r1: near filter"));
        assert_eq!(
            near.detection.conditions,
            [crate::condition::Condition::Ref("filter".into())]
        );
        assert_eq!(c.kind, CorrelationType::Temporal);
        assert_eq!(c.rules, ["r1: search", "r1: near filter"]);
        assert!(c.group_by.is_empty() && c.condition.comparisons.is_empty());
        assert_eq!(c.timespan_ms, 120_000);
        // Rules without an id, even of one title, name their parts apart by where they are.
        let twice = "title: T\nlogsource: {product: x}\ndetection:\n  s: {a: b}\n  condition: s | count() > 1\n";
        let (docs, diags) = load(&format!("{twice}---\n{twice}"));
        assert!(diags.is_empty(), "{diags:?}");
        let names: Vec<&str> = docs
            .iter()
            .filter_map(|d| match d {
                RuleDoc::Correlation(c) => Some(c.rules[0].as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["T (t.yml:1): search", "T (t.yml:7): search"]);
        // Without a timeframe: one day.
        let (docs, _) = load(&rule("selection | count() > 5", ""));
        let RuleDoc::Correlation(c) = &docs[1] else {
            panic!("{docs:?}");
        };
        assert_eq!(c.timespan_ms, AGGREGATION_TIMEFRAME_MS);
        // What cannot run is rejected, saying why.
        for (condition, timeframe, path, says) in [
            (
                "selection | count() > 5",
                "  timeframe: soon\n",
                "detection.timeframe",
                "bad timeframe",
            ),
            (
                "selection | max(Bytes) > 5",
                "  timeframe: 1h\n",
                "detection.condition",
                "min() and max()",
            ),
            (
                "selection | sum() > 5",
                "  timeframe: 1h\n",
                "detection.condition",
                "sum(field)",
            ),
            (
                "selection | near nothing",
                "  timeframe: 1h\n",
                "detection.condition",
                "'nothing', which is not defined",
            ),
            (
                "selection | count() by > 5",
                "  timeframe: 1h\n",
                "detection.condition",
                "(at column 24 of",
            ),
            (
                "[selection | count() > 5, filter]",
                "  timeframe: 1h\n",
                "detection.condition",
                "only condition",
            ),
        ] {
            let (docs, diags) = load(&rule(condition, timeframe));
            assert!(docs.is_empty(), "{condition}: {docs:?}");
            assert_eq!(diags[0].path, path, "{condition}: {diags:?}");
            assert!(diags[0].message.contains(says), "{condition}: {diags:?}");
        }
        // A filter has no aggregation.
        let (docs, diags) = load(
            "title: F\nlogsource: {product: windows}\nfilter:\n  rules: [r1]\n  sel: {a: b}\n  condition: sel | count() > 5\n",
        );
        assert!(
            docs.is_empty() && diags[0].message.contains("not part of Sigma 2"),
            "{diags:?}"
        );
    }

    #[test]
    fn global_and_repeat_actions() {
        let (docs, diags) = load(
            "action: global\ntitle: G\nlogsource: {product: windows}\ndetection:\n  sel: {a: b}\n  condition: sel\n---\nlogsource: {service: security}\n---\naction: repeat\nlogsource: {service: system}\n",
        );
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(docs.len(), 2);
        let RuleDoc::Rule(a) = &docs[0] else { panic!() };
        let RuleDoc::Rule(b) = &docs[1] else { panic!() };
        assert_eq!(a.logsource.product.as_deref(), Some("windows"));
        assert_eq!(a.logsource.service.as_deref(), Some("security"));
        assert_eq!(b.logsource.service.as_deref(), Some("system"));
        assert_eq!(b.meta.title, "G");
    }

    #[test]
    fn correlation_and_filter_documents() {
        let (docs, diags) = load(
            "title: Many failed logins\nid: c1\ncorrelation:\n  type: event_count\n  rules: [failed_login]\n  group-by: [User]\n  timespan: 5m\n  condition:\n    gte: 10\n---\ntitle: F\nlogsource: {product: windows}\nfilter:\n  rules: [r1]\n  selection: {User|startswith: adm_}\n  condition: not selection\n",
        );
        assert!(diags.is_empty(), "{diags:?}");
        let RuleDoc::Correlation(c) = &docs[0] else {
            panic!()
        };
        assert_eq!(c.timespan_ms, 300_000);
        assert_eq!(c.condition.comparisons, vec![(CmpOp::Gte, 10.0)]);
        let RuleDoc::Filter(f) = &docs[1] else {
            panic!()
        };
        assert_eq!(f.rules, vec!["r1".to_string()]);
    }

    #[test]
    fn a_correlation_type_misspelt_or_missing_is_named_as_written() {
        let correlation = |kind: &str| {
            format!(
                "title: C\nid: c\ncorrelation:\n{kind}  rules: [r]\n  group-by: [Host]\n  timespan: 1h\n  condition:\n    gte: 2\n"
            )
        };
        for (kind, said) in [
            (
                "  type: event_cnt\n",
                "unknown correlation type 'event_cnt'; use event_count, value_count,",
            ),
            (
                "",
                "correlation type missing; give one of event_count, value_count,",
            ),
            (
                "  type:\n",
                "correlation type missing; give one of event_count,",
            ),
            (
                "  type: [event_count]\n",
                "the correlation type is one word, not a list or map; give one of event_count,",
            ),
        ] {
            let (docs, diags) = load(&correlation(kind));
            assert!(docs.is_empty(), "{kind}");
            assert_eq!(diags.len(), 1, "{diags:?}");
            assert_eq!(diags[0].path, "correlation.type");
            assert!(diags[0].message.starts_with(said), "{kind}: {diags:?}");
        }
    }

    #[test]
    fn a_value_count_may_count_several_fields_together_and_only_it() {
        let correlation = |kind: &str, field: &str| {
            format!(
                "title: C\nid: c\ncorrelation:\n  type: {kind}\n  rules: [r]\n  group-by: [Host]\n  timespan: 1h\n  condition:\n    field: {field}\n    gte: 2\n"
            )
        };
        let (docs, diags) = load(&correlation("value_count", "[User, Domain]"));
        assert!(diags.is_empty(), "{diags:?}");
        let RuleDoc::Correlation(c) = &docs[0] else {
            panic!()
        };
        assert_eq!(c.condition.fields, ["User", "Domain"]);
        for (kind, field, reason) in [
            ("value_sum", "[Bytes, Packets]", "only value_count"),
            ("value_count", "[]", "give a field name"),
            ("value_count", "{a: b}", "give a field name"),
        ] {
            let (docs, diags) = load(&correlation(kind, field));
            assert!(docs.is_empty(), "{kind} {field}");
            assert_eq!(diags.len(), 1, "{diags:?}");
            assert!(
                diags[0].path.ends_with("condition.field") && diags[0].message.contains(reason),
                "{kind} {field}: {diags:?}"
            );
        }
    }

    #[test]
    fn generate_is_read_beside_the_correlation_or_inside_it() {
        for (outside, inside, generate) in [
            ("", "", false),
            ("generate: true\n", "", true),
            ("", "  generate: true\n", true),
            ("generate: false\n", "", false),
        ] {
            let (docs, diags) = load(&format!(
                "title: C\nid: c\n{outside}correlation:\n  type: event_count\n  rules: [r]\n  group-by: [Host]\n  timespan: 1h\n{inside}  condition:\n    gte: 2\n"
            ));
            assert!(diags.is_empty(), "{diags:?}");
            let RuleDoc::Correlation(c) = &docs[0] else {
                panic!()
            };
            assert_eq!(c.generate, generate, "{outside:?} {inside:?}");
        }
    }

    #[test]
    fn a_byte_order_mark_is_no_part_of_a_rule_and_an_unknown_level_refuses_it() {
        let rule = "title: T\nid: r1\nlogsource: {product: test}\ndetection:\n  sel: {F: x}\n  condition: sel\n";
        let (docs, diags) = load(&format!("\u{feff}{rule}"));
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(docs.len(), 1);
        let (docs, diags) = load(&format!("{rule}level: extreme\n"));
        assert!(docs.is_empty(), "refused, not run at some other level");
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(
            (diags[0].path.as_str(), diags[0].rule.as_deref()),
            ("level", Some("r1"))
        );
    }

    #[test]
    fn an_undefined_identifier_is_named_on_the_condition_line() {
        let (docs, diags) = load(
            "title: T\nid: r1\nlogsource: {product: test}\ndetection:\n  sel:\n    F: x\n  filter:\n    G: y\n  condition: sel and not filtr\n",
        );
        assert!(docs.is_empty());
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(
            (diags[0].line, diags[0].path.as_str()),
            (9, "detection.condition")
        );
        assert!(diags[0].message.contains("'filtr'"), "{}", diags[0].message);
    }

    /// A rule with several problems is refused with all of them, so that its author does not
    /// fix one, load again and meet the next: a bad modifier in one map of a list and a bad
    /// value in another, a bad logsource, and a condition naming an identifier not written —
    /// while the identifiers written with a problem count as defined.
    #[test]
    fn every_problem_of_a_rule_is_reported_at_once() {
        let (docs, diags) = load(
            "title: T\nid: r1\nlogsource: {product: [windows]}\ndetection:\n  sel:\n    - Image|endswithh: x\n    - CommandLine: {a: b}\n  filter:\n    User: []\n  condition: sel and not filter and 1 of sel* and missing\n",
        );
        // A bad search does not hide that the condition is missing.
        let (_, without_condition) = load(
            "title: T\nlogsource: {product: windows}\ndetection:\n  sel:\n    Image|endswithh: x\n",
        );
        assert_eq!(without_condition.len(), 2, "{without_condition:#?}");
        assert!(without_condition[1].message.starts_with("no condition"));
        assert!(docs.is_empty());
        let found: Vec<(usize, &str)> = diags.iter().map(|d| (d.line, d.path.as_str())).collect();
        assert_eq!(
            found,
            [
                (3, "logsource.product"),
                (6, "detection.sel[0].Image|endswithh"),
                (7, "detection.sel[1].CommandLine"),
                (9, "detection.filter.User"),
                (10, "detection.condition"),
            ],
            "{diags:#?}"
        );
        assert!(
            diags[4].message.contains("'missing'"),
            "{}",
            diags[4].message
        );
        assert!(diags.iter().all(|d| d.rule.as_deref() == Some("r1")));
    }

    /// An `x of PATTERN` that takes no identifier, or fewer than it asks for, never holds: a
    /// typo that would keep a rule from firing or switch its filter off is refused like an
    /// undefined name, on the condition's line, naming the identifiers there are.
    #[test]
    fn a_quantifier_that_takes_no_identifier_is_refused() {
        let rule = |condition: &str| {
            format!(
                "title: T\nid: r1\nlogsource: {{product: test}}\ndetection:\n  selection1: {{F: x}}\n  selection2: {{F: y}}\n  filter1: {{U: adm}}\n  _hidden: {{H: z}}\n  condition: {condition}\n"
            )
        };
        for condition in [
            "1 of selection*",
            "1 of selection* and not 1 of filter*",
            "all of them",
            "2 of them",
            "3 of them",
            "1 of _hid*",
        ] {
            let (docs, diags) = load(&rule(condition));
            assert!(diags.is_empty(), "{condition}: {diags:?}");
            assert_eq!(docs.len(), 1);
        }
        for (condition, says) in [
            (
                "1 of selection_*",
                "'1 of selection_*' matches no search identifier (the rule defines selection1, selection2, filter1, _hidden)",
            ),
            (
                "1 of selection* and not 1 of filter_*",
                "'1 of filter_*' matches no search identifier",
            ),
            (
                "all of nothing*",
                "'all of nothing*' matches no search identifier",
            ),
            (
                "3 of selection*",
                "more search identifiers than the 2 it matches",
            ),
            ("4 of them", "more search identifiers than the 3 there are"),
        ] {
            let (docs, diags) = load(&rule(condition));
            assert!(docs.is_empty(), "{condition}");
            assert_eq!(diags.len(), 1, "{condition}: {diags:?}");
            assert_eq!(
                (diags[0].line, diags[0].path.as_str()),
                (9, "detection.condition")
            );
            assert!(diags[0].message.contains(says), "{}", diags[0].message);
        }
        let (docs, diags) = load(
            "title: T\nlogsource: {product: test}\ndetection:\n  _only: {F: x}\n  condition: 1 of them\n",
        );
        assert!(docs.is_empty());
        assert!(
            diags[0]
                .message
                .contains("'1 of them' takes no search identifier"),
            "{diags:?}"
        );
    }

    /// What the specification or its schema forbids is refused with the line and the reason
    /// (the auditor's defect 4: each was loaded, some into a rule that ran on every log). One
    /// row per construct: the file, the diagnostic's line, its path and words of its reason.
    #[test]
    fn what_the_specification_forbids_is_refused_where_it_is_written() {
        let rule = |logsource: &str, detection: &str| {
            format!(
                "title: T\nid: r1\nlogsource: {logsource}\ndetection:\n{detection}  condition: sel\n"
            )
        };
        let correlation = |body: &str| {
            format!(
                "title: C\nid: c1\ncorrelation:\n  type: event_count\n  rules: [r1]\n  group-by: [u]\n{body}"
            )
        };
        let sel = "  sel: {F: x}\n";
        for (text, line, path, says) in [
            (
                rule("product", sel),
                3,
                "logsource",
                "must be a map of product, category, service",
            ),
            (
                rule("{product: [windows, linux]}", sel),
                3,
                "logsource.product",
                "must be one name",
            ),
            (
                rule(
                    "{product: test}",
                    "  sel:\n    FieldB:\n      - ''\n      - null\n",
                ),
                7,
                "detection.sel.FieldB",
                "null cannot be part of a list",
            ),
            (
                rule(
                    "{product: test}",
                    "  sel:\n    CommandLine|contains|all: x\n",
                ),
                6,
                "detection.sel.CommandLine|contains|all",
                "'all' on a single value",
            ),
            (
                rule("{product: test}", "  sel:\n    F: []\n"),
                6,
                "detection.sel.F",
                "the list of values is empty",
            ),
            (
                rule("{product: test}", "  sel: just a string\n"),
                5,
                "detection.sel",
                "not a single value",
            ),
            (
                rule(
                    "{product: test}",
                    "  sel:\n    a|exists: true\n    a|exists: false\n",
                ),
                7,
                "",
                "the key \"a|exists\" is written twice in one map (first on line 6)",
            ),
            (
                correlation("  timespan: 1w\n  condition: {gte: 2}\n"),
                7,
                "correlation.timespan",
                "s, m, h or d",
            ),
            (
                correlation("  timespan: 0s\n  condition: {gte: 2}\n"),
                7,
                "correlation.timespan",
                "above 0",
            ),
            (
                correlation("  timespan: 1h\n  generate: maybe\n  condition: {gte: 2}\n"),
                8,
                "generate",
                "true or false",
            ),
            (
                correlation(
                    "  timespan: 1h\n  condition: {gte: 2}\n  aliases:\n    ip:\n      nosuch: src\n",
                ),
                11,
                "correlation.aliases.ip.nosuch",
                "'nosuch', which is not in the correlation's rules (r1)",
            ),
            (
                correlation("  timespan: 1h\n  condition: \"gte 3\"\n"),
                8,
                "correlation.condition",
                "a map of comparisons, one per line (gte: 10), not the text 'gte 3'",
            ),
            (
                correlation("  timespan: 1h\n  condition: [gte, 3]\n"),
                8,
                "correlation.condition",
                "not a list",
            ),
            (
                correlation("  timespan: 1h\n  condition: {}\n"),
                8,
                "correlation.condition",
                "the condition has no comparison",
            ),
            (
                correlation("  timespan: 1h\n  condition:\n    gt: 10\n    lt: 5\n"),
                9,
                "correlation.condition",
                "the condition (> 10 and < 5) can never hold: no count of events meets",
            ),
            (
                correlation("  timespan: 1h\n  condition: {gt: 2, lt: 3}\n"),
                8,
                "correlation.condition",
                "can never hold",
            ),
            (
                correlation("  timespan: 1h\n  condition: {eq: 2.5}\n"),
                8,
                "correlation.condition",
                "can never hold",
            ),
            (
                correlation("  timespan: 1h\n  condition: {gte: 1, lte: 1, neq: 1}\n"),
                8,
                "correlation.condition",
                "(>= 1 and <= 1 and != 1) can never hold",
            ),
            (
                "title: C\nid: c1\ncorrelation:\n  type: temporal\n  rules: [r1, r2, r3]\n  timespan: 1h\n  condition: {gte: 4}\n".to_string(),
                7,
                "correlation.condition",
                "no count of the rules it names meets",
            ),
            (
                "title: C\nid: c1\ncorrelation:\n  type: value_avg\n  rules: [r1]\n  timespan: 1h\n  condition: {field: n, gte: 5, lt: 5}\n".to_string(),
                7,
                "correlation.condition",
                "no average meets",
            ),
            (
                "title: C\nid: c1\ncorrelation:\n  type: value_percentile\n  rules: [r1]\n  timespan: 1h\n  condition: {field: n, gt: 100}\n".to_string(),
                7,
                "correlation.condition",
                "no share of a value meets",
            ),
        ] {
            let (docs, diags) = load(&text);
            assert!(docs.is_empty(), "{text}");
            assert_eq!(diags.len(), 1, "{text}: {diags:?}");
            let d = &diags[0];
            assert_eq!((d.line, d.path.as_str()), (line, path), "{text}: {d:?}");
            assert!(d.message.contains(says), "{text}: {}", d.message);
        }
        // What the specification allows stays: a correlation without group-by (the schema
        // does not require it; the text says it "optionally defines" the groups), `all` over
        // several values, `null` alone, keywords as a list.
        for text in [
            "title: C\nid: c1\ncorrelation:\n  type: event_count\n  rules: [r1]\n  timespan: 7d\n  generate: true\n  condition: {gte: 2}\n".to_string(),
            // Ranges that some value meets, the specification's "101 to 200" among them.
            correlation("  timespan: 1h\n  condition: {gt: 100, lte: 200}\n"),
            correlation("  timespan: 1h\n  condition: {gte: 2, lte: 2, neq: 3}\n"),
            "title: C\nid: c1\ncorrelation:\n  type: temporal\n  rules: [r1, r2, r3]\n  timespan: 1h\n  condition: {eq: 3}\n".to_string(),
            "title: C\nid: c1\ncorrelation:\n  type: value_sum\n  rules: [r1]\n  timespan: 1h\n  condition: {field: n, gt: -5, lt: -4.5}\n".to_string(),
            rule("{product: test}", "  sel:\n    C|contains|all: [a, b]\n    D: null\n    E: ''\n"),
            rule("{product: test}", "  sel:\n    - just a string\n"),
        ] {
            let (docs, diags) = load(&text);
            assert!(diags.is_empty(), "{text}: {diags:?}");
            assert_eq!(docs.len(), 1);
        }
    }

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("90m"), Some(5_400_000));
        assert_eq!(parse_timespan("1d"), Some(86_400_000));
        assert_eq!(parse_timespan("x"), None);
        for written in ["90s", "5m", "90m", "1h", "36h", "2d", "0s"] {
            assert_eq!(format_timespan(parse_timespan(written).unwrap()), written);
        }
    }

    #[test]
    fn a_rule_refused_for_several_reasons_is_one_rule() {
        let problem = |file: &str, line: usize, rule: Option<&str>| Diagnostic {
            file: PathBuf::from(file),
            line,
            path: String::new(),
            message: "wrong".into(),
            rule: rule.map(str::to_owned),
        };
        let problems = [
            problem("a.yml", 5, Some("r1")),
            problem("a.yml", 9, Some("r1")),
            problem("a.yml", 20, Some("r2")),
            problem("b.yml", 5, Some("r1")),
            // YAML errors name no rule: told apart by line.
            problem("c.yml", 1, None),
            problem("c.yml", 7, None),
        ];
        assert_eq!(rules_rejected(&problems), 5);
        assert_eq!(rules_rejected(&[]), 0);
    }
}
