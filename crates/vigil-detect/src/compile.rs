//! Compilation: typed Sigma rules → an immutable [`CompiledRuleSet`].
//!
//! Each detection rule becomes one or more *variants* (one per Windows event-log target of its
//! logsource, since targets can rename fields), each an `Expr` tree over `Item`s whose
//! field names are interned to small integer ids. Variants are indexed by Channel and EventID
//! so an event is offered only to the rules whose logsource can match it. Filters are folded
//! into the condition of the rules they name. After [`compile`] the set is read-only and
//! shared by every thread; the one thing built later is the dispatch for each logsource a
//! sender declares (see [`DeclaredIndexes`]), since the declarations are only known then.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use vigil_sigma::{
    Condition, CorrelationRule, Detection, Diagnostic, FilterRule, Level, Logsource, Meta,
    Quantity, Rule, RuleDoc, Search,
};

use crate::correlate::{CompiledCorrelation, compile_correlation};
use crate::literal;
use crate::mapping::{
    ChannelTarget, category_targets, productless_category_targets, service_channels,
};
use crate::value::{CompiledValues, ItemError, Number, ValueMatch, compile_values};

/// Options of [`compile`].
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// Values of `%placeholder%`s used by the `expand` modifier. A rule using a placeholder
    /// with no values here is rejected with a diagnostic.
    pub placeholders: HashMap<String, Vec<String>>,
    /// Reject rules that use a placeholder with no values in `placeholders`. When false (the
    /// default) such a value matches nothing, so a filter built on it excludes nothing.
    pub reject_unknown_placeholders: bool,
    /// Index Windows rules by Channel/EventID from their logsource (the Windows mapping).
    /// When false every rule is offered every event, as Chainsaw's groupless mapping does.
    pub windows_logsource_mapping: bool,
    /// For an event whose log is unknown (no Channel: JSON and syslog events), offer a rule
    /// that holds without any of its fields (`condition: not selection`, `F: null`) only when
    /// the event carries one of them. A rule's logsource is what ties it to its log, and such
    /// events have none to compare; without this, SigmaHQ's Zeek rule *Publicly Accessible RDP
    /// Service* matches every syslog line. When false, rules meet such events on their
    /// condition alone, as Sigma's value semantics read (the engine's own tests use that).
    pub require_evidence_of_source: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            placeholders: HashMap::new(),
            reject_unknown_placeholders: false,
            windows_logsource_mapping: true,
            require_evidence_of_source: true,
        }
    }
}

/// The index of a rule (detection or correlation) in a [`CompiledRuleSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub u32);

/// What kind of rule a [`RuleMeta`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// A detection rule, reported by [`crate::Matcher`].
    Detection,
    /// A correlation rule, reported by [`crate::Correlator`].
    Correlation,
}

/// The metadata of a compiled rule, for reporting matches.
#[derive(Debug, Clone)]
pub struct RuleMeta {
    /// The rule's metadata as written (id, title, level, tags, file …).
    pub meta: Meta,
    /// The logsource (empty for correlation rules).
    pub logsource: Logsource,
    /// Detection or correlation.
    pub kind: RuleKind,
    /// False when the rule is referenced by a correlation rule with `generate: false` (the
    /// default): its matches feed the correlation but should not be reported on their own.
    pub report: bool,
    /// The fields the rule's detection names, in the order written, each once: what a match
    /// was found on, for reports to show (empty for keyword-only and correlation rules).
    pub detection_fields: Vec<String>,
}

impl RuleMeta {
    /// `id`, or the empty string when the rule has none.
    pub fn id(&self) -> &str {
        self.meta.id.as_deref().unwrap_or("")
    }
    /// `title`.
    pub fn title(&self) -> &str {
        &self.meta.title
    }
    /// `level` (medium when the rule does not say).
    pub fn level(&self) -> Level {
        self.meta.level.unwrap_or(Level::Medium)
    }
    /// The file the rule came from.
    pub fn file(&self) -> &PathBuf {
        &self.meta.file
    }
}

/// A condition tree over items.
#[derive(Debug)]
pub(crate) enum Expr {
    Const(bool),
    Item(u32),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    AtLeast(u32, Vec<Expr>),
}

/// One `field|modifiers: values` test; `field: None` for keyword searches.
#[derive(Debug)]
pub(crate) struct Item {
    pub field: Option<u32>,
    pub values: CompiledValues,
}

/// Figures about a compiled plan (see [`CompiledRuleSet::stats`]).
#[derive(Debug, Clone)]
pub struct PlanStats {
    /// Compiled variants (a rule has one per set of field renames of its logsource).
    pub variants: usize,
    /// Variants with a literal prefilter.
    pub prefiltered: usize,
    /// Distinct (field, needle) pairs in the automata.
    pub needles: usize,
    /// Variants offered to every Windows event (no Channel mapping for their logsource).
    pub windows_any: usize,
    /// Variants offered to events without a Channel.
    pub no_channel: usize,
    /// Channels with an index entry.
    pub channels: usize,
    /// Rules offered to every Windows event and always evaluated (no prefilter).
    pub unprefiltered_windows_any: Vec<RuleId>,
    /// Automata over the needles of one bucket only, and their heap size in bytes.
    pub bucket_automata: (usize, usize),
}

/// One compiled variant of a detection rule.
#[derive(Debug)]
pub(crate) struct Variant {
    pub rule: RuleId,
    pub expr: Expr,
    /// Literal prefilter: the variant can only match when at least one of these needles
    /// occurs (case-insensitively) in its field. `None` when no such set exists (regex-only,
    /// `not`-only, numeric, exists … rules); those are always evaluated.
    pub prefilter: Option<Prefilter>,
    /// A field the variant cannot match without: an event that lacks it is not evaluated
    /// (most rules of a product offered to events of another, e.g. Windows file rules to web
    /// logs without a Channel).
    pub requires: Option<u32>,
    /// For an event whose log is unknown (no Channel: a JSON or syslog event), fields of which
    /// it must carry at least one: a rule true without any of its fields (`condition: not
    /// selection`, as in *Publicly Accessible RDP Service* for Zeek) would otherwise match every
    /// event of every other source. Empty when `requires` already ties the rule to a field, or
    /// when the rule names none (keywords).
    pub evidence: Box<[u32]>,
    /// With `evidence`: the keyword (field-less) items of the condition that are not under a
    /// `not`. A match through one of them found is evidence enough for an event that carries
    /// none of the `evidence` fields (the keyword is in the log's own text, where `not
    /// selection` holds by absence alone): `keywords or selection` finds its keyword in any log.
    pub keyword_evidence: Box<[u32]>,
    /// A rule that names no field (keywords only) and whose logsource names a product or a
    /// service: its words (`show`, `dir`, `delete` for Cisco) are that log's, and an event whose
    /// log is unknown is not offered it — only one declared to be of that log is.
    pub declared_only: bool,
}

/// Needles of which at least one must occur for a variant to match.
#[derive(Debug)]
pub(crate) struct Prefilter {
    /// Needle ids (indexes into [`CompiledRuleSet::needle_field`]): finding one of them is
    /// what gets the variant evaluated.
    pub needles: Box<[u32]>,
    /// Further sets of needle ids of which one must also have been found, each: the other
    /// parts of an `and` (`Image|contains: '\Windows\'` and `CommandLine|contains: '\..\'`),
    /// checked before evaluating.
    pub also: Box<[Box<[u32]>]>,
    /// The distinct fields of all those needles, to scan before testing.
    pub fields: Box<[u32]>,
}

/// [`literal::prefilter_score`] of a set of alternative needles.
fn needle_score(set: &[Needle]) -> (usize, std::cmp::Reverse<usize>) {
    literal::prefilter_score(set.iter().map(|n| n.text.len()))
}

/// The fields in any of `parts` (sorted, once each).
fn union(parts: impl Iterator<Item = Vec<u32>>) -> Vec<u32> {
    let mut all: Vec<u32> = parts.flatten().collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// The fields in every one of `parts` (none when there are no parts).
fn common(mut parts: impl Iterator<Item = Vec<u32>>) -> Vec<u32> {
    let Some(mut common) = parts.next() else {
        return Vec::new();
    };
    for part in parts {
        common.retain(|f| part.contains(f));
    }
    common
}

/// At most this many sets are checked besides the one that triggers a variant.
const MAX_ALSO: usize = 3;

/// Fields with more needles than this get a contiguous NFA instead of a DFA (memory).
const DFA_MAX_NEEDLES: usize = 3000;

/// Automata holding a needle longer than this (bytes) are contiguous NFAs instead of DFAs: the
/// DFA builder follows failure links for every state and byte class, which for a long periodic
/// needle (`AAAA…`, or its base64 forms) takes time quadratic in its length — 40 s for a 20 kB
/// value, where an NFA builds in milliseconds. Real needles are far shorter.
const DFA_MAX_NEEDLE_BYTES: usize = 2048;

/// One Aho-Corasick automaton over every needle of one field.
#[derive(Debug)]
pub(crate) struct FieldAutomaton {
    pub ac: aho_corasick::AhoCorasick,
    /// Pattern index → needle id.
    pub needle_of_pattern: Box<[u32]>,
    /// For automata of at most [`LOCAL_MAX_NEEDLES`] needles: a SIMD (Teddy) searcher over
    /// the same needles that tells quickly whether a value holds any of them at all, so that
    /// values holding none (most) are not stepped through the automaton.
    pub quick: Option<aho_corasick::packed::Searcher>,
    /// The needles that come from regexes and wildcard patterns: they are taken as found in
    /// any value that is not ASCII, where Unicode case folding can match an ASCII letter of
    /// theirs with a character that lowercasing leaves alone (see [`crate::literal`]).
    pub fuzzy: Box<[u32]>,
}

/// The variants offered to one kind of event, arranged for the prefilter.
#[derive(Debug, Default)]
pub(crate) struct Bucket {
    /// Every variant of the bucket.
    pub list: Vec<u32>,
    /// Variants without a prefilter: always evaluated.
    pub always: Vec<u32>,
    /// The fields to scan for needles with their automaton over every rule's needles.
    pub fields: Vec<u32>,
    /// Fields scanned with an automaton over this bucket's needles only: a field whose
    /// automaton has too many needles for the fast prefilter (Teddy) when this bucket's rules
    /// use few of them (the keyword needles of the rules for any Windows event, say).
    pub local: Vec<(u32, FieldAutomaton)>,
    /// Needle id → prefiltered variants of this bucket that contain it.
    pub by_needle: FxHashMap<u32, Vec<u32>>,
}

impl Bucket {
    fn push(&mut self, v: u32) {
        self.list.push(v);
    }

    /// Arranges the bucket for the prefilter. `needles` gives each needle id's field and
    /// text; `automata` are the per-field automata over every rule's needles.
    fn finish(
        &mut self,
        variants: &[Variant],
        needles: &[(u32, &str)],
        from_regex: &[bool],
        automata: &[Option<FieldAutomaton>],
        keyword_field: u32,
    ) {
        for &v in &self.list {
            match &variants[v as usize].prefilter {
                None => self.always.push(v),
                Some(p) => {
                    self.fields.extend_from_slice(&p.fields);
                    for &n in p.needles.iter() {
                        self.by_needle.entry(n).or_default().push(v);
                    }
                }
            }
        }
        self.fields.sort_unstable();
        self.fields.dedup();
        // The bucket's own needles: the ones that trigger its variants and the ones checked
        // before evaluating them (a bucket automaton must find both).
        let checked = self
            .list
            .iter()
            .filter_map(|&v| variants[v as usize].prefilter.as_ref());
        let mut own: Vec<(u32, &str, u32)> = self
            .by_needle
            .keys()
            .copied()
            .chain(checked.flat_map(|p| p.also.iter().flatten().copied()))
            .map(|n| (needles[n as usize].0, needles[n as usize].1, n))
            .collect();
        own.sort_unstable();
        own.dedup();
        self.fields.retain(|&f| {
            let all = automata[f as usize]
                .as_ref()
                .map_or(0, |a| a.needle_of_pattern.len());
            let mine: Vec<(&str, u32)> = own
                .iter()
                .filter(|(field, _, _)| *field == f)
                .map(|(_, text, n)| (*text, *n))
                .collect();
            if all <= LOCAL_MAX_NEEDLES || mine.len() > LOCAL_MAX_NEEDLES {
                return true;
            }
            let kind = aho_corasick::AhoCorasickKind::DFA;
            match build_automaton(&mine, from_regex, kind, f == keyword_field) {
                Some(a) => {
                    self.local.push((f, a));
                    false
                }
                None => true,
            }
        });
    }
}

/// Each needle id's field and text, as [`Bucket::finish`] takes them.
fn needles<'a>(fields: &[u32], texts: &'a [Box<str>]) -> Vec<(u32, &'a str)> {
    fields
        .iter()
        .zip(texts)
        .map(|(f, text)| (*f, text.as_ref()))
        .collect()
}

/// A bucket gets its own automaton for a field when it uses at most this many of the field's
/// needles (and the field has more): up to 64 needles, the automaton's prefilter is Teddy,
/// which skips most of a value without stepping through the automaton.
const LOCAL_MAX_NEEDLES: usize = 64;

/// An automaton over `(needle, id)`s, of `kind` (or the automatic choice when that fails).
/// `from_regex` tells, per needle id, whether a regex gave it. The automaton of keyword
/// needles also looks for each needle as JSON writes it ([`json_escaped`]): an event's keyword
/// text may hold its values so ([`crate::Event::keyword_text`]).
fn build_automaton(
    list: &[(&str, u32)],
    from_regex: &[bool],
    kind: aho_corasick::AhoCorasickKind,
    keyword: bool,
) -> Option<FieldAutomaton> {
    let escaped: Vec<(String, u32)> = if keyword {
        list.iter()
            .filter_map(|(needle, id)| json_escaped(needle).map(|e| (e, *id)))
            .collect()
    } else {
        Vec::new()
    };
    let list: Vec<(&str, u32)> = list
        .iter()
        .copied()
        .chain(escaped.iter().map(|(e, id)| (e.as_str(), *id)))
        .collect();
    let kind = if kind == aho_corasick::AhoCorasickKind::DFA
        && list.iter().any(|(n, _)| n.len() > DFA_MAX_NEEDLE_BYTES)
    {
        aho_corasick::AhoCorasickKind::ContiguousNFA
    } else {
        kind
    };
    let build = |kind| {
        aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::Standard)
            .kind(kind)
            .build(list.iter().map(|(n, _)| n.as_bytes()))
    };
    let ac = build(Some(kind)).or_else(|_| build(None)).ok()?;
    let quick = (list.len() <= LOCAL_MAX_NEEDLES)
        .then(|| aho_corasick::packed::Searcher::new(list.iter().map(|(n, _)| n.as_bytes())))
        .flatten();
    Some(FieldAutomaton {
        ac,
        needle_of_pattern: list.iter().map(|(_, id)| *id).collect(),
        quick,
        fuzzy: list
            .iter()
            .map(|(_, id)| *id)
            .filter(|id| from_regex[*id as usize])
            .collect(),
    })
}

/// `needle` as it appears inside a JSON string, when that differs: with `"`, `\` and the
/// control characters that have a short escape (`\n`, `\r`, `\t`, `\b`, `\f`) escaped.
/// Other characters are written as they are by the writers whose text the engine searches
/// as is; one written as a `\u` escape makes the event give its text unescaped.
fn json_escaped(needle: &str) -> Option<String> {
    let escape = |c: char| match c {
        '"' => Some("\\\""),
        '\\' => Some("\\\\"),
        '\n' => Some("\\n"),
        '\r' => Some("\\r"),
        '\t' => Some("\\t"),
        '\u{8}' => Some("\\b"),
        '\u{c}' => Some("\\f"),
        _ => None,
    };
    if !needle.chars().any(|c| escape(c).is_some()) {
        return None;
    }
    let mut out = String::with_capacity(needle.len() + 8);
    for c in needle.chars() {
        match escape(c) {
            Some(e) => out.push_str(e),
            None => out.push(c),
        }
    }
    Some(out)
}

/// Variants of one channel.
#[derive(Debug, Default)]
pub(crate) struct ChannelIndex {
    pub any: Bucket,
    pub by_event_id: FxHashMap<u64, Bucket>,
}

impl ChannelIndex {
    /// Files a variant under the EventID values it requires, or under `any` without them.
    fn push(&mut self, vid: u32, event_ids: Option<&[u64]>) {
        match event_ids {
            Some(ids) => {
                for id in ids {
                    self.by_event_id.entry(*id).or_default().push(vid);
                }
            }
            None => self.any.push(vid),
        }
    }

    fn buckets(&self) -> impl Iterator<Item = &Bucket> {
        std::iter::once(&self.any).chain(self.by_event_id.values())
    }

    fn buckets_mut(&mut self) -> impl Iterator<Item = &mut Bucket> {
        std::iter::once(&mut self.any).chain(self.by_event_id.values_mut())
    }
}

/// The dispatch index: which variants an event is offered.
#[derive(Debug, Default)]
pub(crate) struct Index {
    /// Offered to every event that has a Channel (Windows events).
    pub windows_any: Bucket,
    /// Per lowercase channel.
    pub by_channel: FxHashMap<String, ChannelIndex>,
    /// Offered to events without a Channel (JSON logs of other sources): every rule, the ones
    /// that require EventID values only to events with one of those ids.
    pub no_channel: ChannelIndex,
}

/// The dispatch for events without a Channel whose sender declared what log they are
/// ([`crate::Matcher::matches_from`]), per declaration: the variants of the rules written for
/// one of the declared logsources only, arranged like any bucket — so such an event is scanned
/// only for the fields and needles of those rules, not of every rule for unknown logs (the
/// cloud rules' dotted field names alone were a fifth of a syslog hunt). Built on first use of
/// a declaration and kept; past [`MAX_DECLARED`] declarations the others go the slow way. A
/// dispatch is never replaced or dropped before the set: matchers remember what its automata
/// found by their address (`memo.rs`).
#[derive(Debug, Default)]
pub(crate) struct DeclaredIndexes(RwLock<FxHashMap<Vec<Logsource>, Arc<ChannelIndex>>>);

/// Declarations whose dispatch is kept (services declaring logsources, the Linux programs of
/// syslog lines: a dozen or two in practice). Each costs at most a few MiB (the lists of its
/// variants and needles, automata of up to 64 needles; the large automata are shared), so
/// this bounds them well under the rule set's own size.
const MAX_DECLARED: usize = 128;

/// What the name of an event's node stands for in the one-pass field table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableName {
    /// The field of that name, or [`TableName::NONE`].
    pub field: u32,
    /// When some field's name is a path beginning with this name (`user` for `user.name`), its
    /// id among the path roots, or [`TableName::NONE`]: a path is looked up only in events
    /// that have its first part, as a JSON path can only be found there.
    pub root: u32,
}

impl TableName {
    pub const NONE: u32 = u32::MAX;
}

/// The fields `detection` names, in the order written, each once.
fn fields_named(detection: &Detection) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (_, search) in &detection.searches {
        let Search::Maps(maps) = search else { continue };
        for item in maps.iter().flatten() {
            if let Some(field) = &item.field
                && !names.contains(field)
            {
                names.push(field.clone());
            }
        }
    }
    names
}

/// The compiled, immutable rule set. `Send + Sync`: share it by reference between threads and
/// give each thread its own [`crate::Matcher`].
#[derive(Debug)]
pub struct CompiledRuleSet {
    pub(crate) rules: Vec<RuleMeta>,
    pub(crate) variants: Vec<Variant>,
    pub(crate) items: Vec<Item>,
    pub(crate) fields: Vec<String>,
    /// Field name → field id (the index into `fields`).
    pub(crate) field_ids: FxHashMap<String, u32>,
    /// For events that give their fields by name in one pass ([`crate::Event::for_each_field`]):
    /// what a node's name stands for, with one lookup.
    pub(crate) table_names: FxHashMap<String, TableName>,
    /// Per field id: for a name with a `.`, the id of its first part among the path roots of
    /// [`TableName::root`]; [`TableName::NONE`] for the others.
    pub(crate) path_root: Vec<u32>,
    /// How many path roots there are.
    pub(crate) path_roots: usize,
    pub(crate) index: Index,
    pub(crate) correlations: Vec<CompiledCorrelation>,
    pub(crate) channel_field: u32,
    /// Field of each prefilter needle.
    pub(crate) needle_field: Vec<u32>,
    /// Per field id: the automaton over its needles, when it has any.
    pub(crate) automata: Vec<Option<FieldAutomaton>>,
    /// Text of each prefilter needle (for the automata of [`DeclaredIndexes`]).
    pub(crate) needle_text: Vec<Box<str>>,
    /// Per needle id: whether some regex or wildcard pattern gave it (see
    /// [`FieldAutomaton::fuzzy`]).
    pub(crate) needle_from_regex: Vec<bool>,
    pub(crate) declared: DeclaredIndexes,
    pub(crate) event_id_field: u32,
    /// A pseudo field id standing for "any value of the event", for keyword needles.
    pub(crate) keyword_field: u32,
    /// Whether some keyword needle could lie inside a number (digits, sign, `.`, `e`): an
    /// event's own keyword text ([`crate::Event::keyword_text`]) may spell numbers otherwise
    /// than the values do, so the matcher then joins the values itself.
    pub(crate) numeric_keyword: bool,
    /// Matchers' memory given back by [`crate::matcher::PooledMatcher`]s, to reuse (sized for
    /// this set: a set's spares are its own matchers').
    spares: std::sync::Mutex<Vec<crate::matcher::Work>>,
}

/// Spare matchers a set keeps at most (one per thread that matches at once is enough).
const MAX_SPARE_MATCHERS: usize = 16;

impl CompiledRuleSet {
    /// Every rule (detection and correlation), indexed by [`RuleId`].
    pub fn rules(&self) -> &[RuleMeta] {
        &self.rules
    }

    /// One rule's metadata.
    pub fn rule(&self, id: RuleId) -> &RuleMeta {
        &self.rules[id.0 as usize]
    }

    /// The number of detection rules.
    pub fn detection_count(&self) -> usize {
        self.rules
            .iter()
            .filter(|r| r.kind == RuleKind::Detection)
            .count()
    }

    /// Fills [`CompiledRuleSet::table_names`] and the path roots, once every field is known.
    fn name_the_table(&mut self) {
        let mut names: FxHashMap<String, TableName> = self
            .field_ids
            .iter()
            .map(|(name, id)| {
                let entry = TableName {
                    field: *id,
                    root: TableName::NONE,
                };
                (name.clone(), entry)
            })
            .collect();
        let mut roots = 0;
        self.path_root = self
            .fields
            .iter()
            .map(|name| {
                let Some((first, _)) = name.split_once('.') else {
                    return TableName::NONE;
                };
                let entry = names.entry(first.to_owned()).or_insert(TableName {
                    field: TableName::NONE,
                    root: TableName::NONE,
                });
                if entry.root == TableName::NONE {
                    entry.root = roots;
                    roots += 1;
                }
                entry.root
            })
            .collect();
        self.path_roots = roots as usize;
        self.table_names = names;
    }

    /// The dispatch for events without a Channel declared as one of `declared` (see
    /// [`DeclaredIndexes`]); `None` past [`MAX_DECLARED`] declarations.
    pub(crate) fn declared_index(&self, declared: &[Logsource]) -> Option<Arc<ChannelIndex>> {
        let known = |indexes: &FxHashMap<Vec<Logsource>, Arc<ChannelIndex>>| {
            indexes.get(declared).map(Arc::clone)
        };
        if let Some(index) = known(&self.declared.0.read().unwrap_or_else(|e| e.into_inner())) {
            return Some(index);
        }
        let fits = |v: &u32| {
            let rule = &self.rules[self.variants[*v as usize].rule.0 as usize];
            declared
                .iter()
                .any(|d| crate::matcher::logsource_fits(&rule.logsource, d))
        };
        let bucket = |all: &Bucket| Bucket {
            list: all.list.iter().copied().filter(fits).collect(),
            ..Bucket::default()
        };
        let mut index = ChannelIndex {
            any: bucket(&self.index.no_channel.any),
            by_event_id: self
                .index
                .no_channel
                .by_event_id
                .iter()
                .map(|(id, all)| (*id, bucket(all)))
                .filter(|(_, b)| !b.list.is_empty())
                .collect(),
        };
        let needles = needles(&self.needle_field, &self.needle_text);
        for bucket in index.buckets_mut() {
            bucket.finish(
                &self.variants,
                &needles,
                &self.needle_from_regex,
                &self.automata,
                self.keyword_field,
            );
        }
        let mut indexes = self.declared.0.write().unwrap_or_else(|e| e.into_inner());
        if let Some(index) = known(&indexes) {
            return Some(index);
        }
        if indexes.len() >= MAX_DECLARED {
            return None;
        }
        let index = Arc::new(index);
        indexes.insert(declared.to_vec(), Arc::clone(&index));
        Some(index)
    }

    /// How many detection rules are written for a log declared as one of `logsources` (see
    /// [`crate::Matcher::matches_from`]), not counting rules that name no logsource (they fit
    /// every log): zero says the declaration is likely misspelt, or that no rule is loaded for
    /// that kind of log.
    pub fn rules_for(&self, logsources: &[Logsource]) -> usize {
        self.rules
            .iter()
            .filter(|r| r.kind == RuleKind::Detection)
            .filter(|r| {
                let ls = &r.logsource;
                ls.product.is_some() || ls.category.is_some() || ls.service.is_some()
            })
            .filter(|r| {
                logsources
                    .iter()
                    .any(|l| crate::matcher::logsource_fits(&r.logsource, l))
            })
            .count()
    }

    /// The logsource parts that detection rules written for a declared log name beyond it:
    /// every part a rule names must be declared for it to run, so a log declared
    /// `product=kubernetes,service=audit` meets none of SigmaHQ's audit rules that also name
    /// `category=application`, and [`CompiledRuleSet::rules_for`], not zero, does not say so.
    /// Counts, per logsource of `logsources`, the rules that name each of its parts and exactly
    /// one more (rules one of `logsources` opens are not counted); per logsource, the most
    /// rules first.
    pub fn undeclared_parts(&self, logsources: &[Logsource]) -> Vec<UndeclaredPart> {
        let mut parts: Vec<UndeclaredPart> = Vec::new();
        let detections = self.rules.iter().filter(|r| r.kind == RuleKind::Detection);
        for rule in detections {
            if logsources
                .iter()
                .any(|l| crate::matcher::logsource_fits(&rule.logsource, l))
            {
                continue;
            }
            for (declared, log) in logsources.iter().enumerate() {
                let Some((key, value)) = one_part_beyond(&rule.logsource, log) else {
                    continue;
                };
                let known = parts.iter_mut().find(|p| {
                    p.declared == declared && p.key == key && p.value.eq_ignore_ascii_case(value)
                });
                match known {
                    Some(part) => part.rules += 1,
                    None => parts.push(UndeclaredPart {
                        declared,
                        key,
                        value: value.to_owned(),
                        rules: 1,
                    }),
                }
            }
        }
        parts.sort_by(|a, b| {
            (a.declared, std::cmp::Reverse(a.rules), a.key, &a.value).cmp(&(
                b.declared,
                std::cmp::Reverse(b.rules),
                b.key,
                &b.value,
            ))
        });
        parts
    }

    /// The number of correlation rules.
    pub fn correlation_count(&self) -> usize {
        self.correlations.len()
    }

    /// Figures about the compiled plan, for `vigil rules check` and tuning.
    pub fn stats(&self) -> PlanStats {
        PlanStats {
            variants: self.variants.len(),
            prefiltered: self
                .variants
                .iter()
                .filter(|v| v.prefilter.is_some())
                .count(),
            needles: self.needle_field.len(),
            windows_any: self.index.windows_any.list.len(),
            no_channel: self.index.no_channel.buckets().map(|b| b.list.len()).sum(),
            channels: self.index.by_channel.len(),
            unprefiltered_windows_any: self
                .index
                .windows_any
                .list
                .iter()
                .filter(|v| self.variants[**v as usize].prefilter.is_none())
                .map(|v| self.variants[*v as usize].rule)
                .collect(),
            bucket_automata: {
                let mut buckets = vec![&self.index.windows_any];
                buckets.extend(self.index.no_channel.buckets());
                for ci in self.index.by_channel.values() {
                    buckets.extend(ci.buckets());
                }
                let local = buckets.iter().flat_map(|b| &b.local);
                (
                    local.clone().count(),
                    local.map(|(_, a)| a.ac.memory_usage()).sum(),
                )
            },
        }
    }

    /// A matcher for one thread.
    pub fn matcher(&self) -> crate::Matcher<'_> {
        crate::Matcher::new(self)
    }

    /// A matcher whose memory was warmed by earlier uses — for a caller that matches one batch
    /// at a time and would otherwise make a matcher per batch —, given back to the set when
    /// dropped. Its matches are those of a new matcher.
    pub fn pooled_matcher(&self) -> crate::matcher::PooledMatcher<'_> {
        let spare = self.spares.lock().unwrap_or_else(|e| e.into_inner()).pop();
        crate::matcher::PooledMatcher::new(match spare {
            Some(spare) => crate::Matcher::reusing(self, spare),
            None => crate::Matcher::new(self),
        })
    }

    pub(crate) fn give_back(&self, work: crate::matcher::Work) {
        let mut spares = self.spares.lock().unwrap_or_else(|e| e.into_inner());
        if spares.len() < MAX_SPARE_MATCHERS {
            spares.push(work);
        }
    }
}

/// A logsource part that rules written for a declared log name and the declaration lacks
/// ([`CompiledRuleSet::undeclared_parts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndeclaredPart {
    /// The declared logsource, as its position in the logsources asked about.
    pub declared: usize,
    /// The part: `product`, `category` or `service`.
    pub key: &'static str,
    /// Its value, as the first such rule writes it.
    pub value: String,
    /// How many detection rules name it besides every part of the declared logsource.
    pub rules: usize,
}

/// The one part `rule` names beyond `declared` when it names every part `declared` names
/// (compared without case) and exactly one more.
fn one_part_beyond<'r>(
    rule: &'r Logsource,
    declared: &Logsource,
) -> Option<(&'static str, &'r str)> {
    let parts = [
        ("product", &rule.product, &declared.product),
        ("category", &rule.category, &declared.category),
        ("service", &rule.service, &declared.service),
    ];
    let mut beyond = None;
    for (key, named, have) in parts {
        match (named.as_deref(), have.as_deref()) {
            (None, None) => {}
            (Some(named), Some(have)) if named.eq_ignore_ascii_case(have) => {}
            (Some(named), None) if beyond.is_none() => beyond = Some((key, named)),
            _ => return None,
        }
    }
    beyond
}

struct Builder<'o> {
    opts: &'o CompileOptions,
    set: CompiledRuleSet,
    needle_ids: HashMap<(u32, String), u32>,
    diags: Vec<Diagnostic>,
}

/// A prefilter needle: lowercase text that must occur in a field's lowercased value.
struct Needle {
    field: u32,
    text: String,
    from_regex: bool,
}

impl Builder<'_> {
    fn field(&mut self, name: &str) -> u32 {
        if let Some(id) = self.set.field_ids.get(name) {
            return *id;
        }
        let id = self.set.fields.len() as u32;
        self.set.fields.push(name.to_string());
        self.set.field_ids.insert(name.to_string(), id);
        id
    }

    fn diag(&mut self, meta: &Meta, path: &str, line: usize, message: String) {
        self.diags.push(Diagnostic {
            file: meta.file.clone(),
            line,
            path: path.to_string(),
            message,
            rule: meta.id.clone().or_else(|| Some(meta.title.clone())),
        });
    }

    /// Compiles a detection section with field renames into an expression.
    fn detection(
        &mut self,
        det: &Detection,
        renames: &[(&str, &str)],
        section: &str,
    ) -> Result<Expr, (String, usize, String)> {
        let mut searches: Vec<(&str, Expr)> = Vec::new();
        for (name, search) in &det.searches {
            let expr = match search {
                Search::Keywords(values) => {
                    let cv = compile_values(
                        &[vigil_sigma::Modifier::Contains],
                        values,
                        &self.opts.placeholders,
                        self.opts.reject_unknown_placeholders,
                        &mut |_| 0,
                    )
                    .map_err(|ItemError(e)| (format!("{section}.{name}"), 0, e))?;
                    self.push_item(None, cv)
                }
                Search::Maps(maps) => {
                    let mut ors = Vec::new();
                    for map in maps {
                        let mut ands = Vec::new();
                        for item in map {
                            let mut mods = item.modifiers.clone();
                            let field = match &item.field {
                                Some(f) => {
                                    let f = renames
                                        .iter()
                                        .find(|(from, _)| from == f)
                                        .map_or(f.as_str(), |(_, to)| to);
                                    Some(self.field(f))
                                }
                                None => {
                                    // A keyword is looked for inside the values; a
                                    // pattern is, being unanchored, already.
                                    if !mods.contains(&vigil_sigma::Modifier::Contains)
                                        && !mods.contains(&vigil_sigma::Modifier::Re)
                                    {
                                        mods.push(vigil_sigma::Modifier::Contains);
                                    }
                                    None
                                }
                            };
                            let mut ids = Vec::new();
                            let cv = compile_values(
                                &mods,
                                &item.values,
                                &self.opts.placeholders,
                                self.opts.reject_unknown_placeholders,
                                &mut |f| {
                                    ids.push(f.to_string());
                                    0
                                },
                            )
                            .map_err(|ItemError(e)| {
                                (
                                    format!(
                                        "{section}.{name}.{}",
                                        item.field.as_deref().unwrap_or("")
                                    ),
                                    item.line,
                                    e,
                                )
                            })?;
                            let cv = self.fix_fieldrefs(cv, &ids, renames);
                            ands.push(self.push_item(field, cv));
                        }
                        ors.push(Expr::And(ands));
                    }
                    Expr::Or(ors)
                }
            };
            searches.push((name, expr));
        }
        let mut conds = Vec::new();
        for c in &det.conditions {
            conds.push(cond_expr(c, &searches));
        }
        Ok(simplify(Expr::Or(conds)))
    }

    fn fix_fieldrefs(
        &mut self,
        mut cv: CompiledValues,
        names: &[String],
        renames: &[(&str, &str)],
    ) -> CompiledValues {
        let mut i = 0;
        for m in &mut cv.matches {
            if let crate::value::ValueMatch::FieldRef { field, .. } = m {
                let name = &names[i];
                let name = renames
                    .iter()
                    .find(|(from, _)| *from == name)
                    .map_or(name.as_str(), |(_, to)| to);
                *field = self.field(name);
                i += 1;
            }
        }
        cv
    }

    /// A set of needles of which one must occur for `e` to hold. Regex-derived needles are
    /// marked: they stand for case-folded text (see [`crate::literal`]).
    fn necessary(&self, e: &Expr) -> Option<Vec<Needle>> {
        match e {
            Expr::Const(_) | Expr::Not(_) => None,
            Expr::Item(i) => {
                let item = &self.set.items[*i as usize];
                let field = item.field.unwrap_or(self.set.keyword_field);
                if item.values.neq || item.values.matches.is_empty() {
                    return None;
                }
                // One set per match: it holds only if one of its needles occurs.
                let mut per_match: Vec<Vec<Needle>> = Vec::new();
                for m in &item.values.matches {
                    per_match.push(match m {
                        ValueMatch::Lit { needle, cased, .. } if !needle.is_empty() => {
                            let text = if *cased {
                                crate::value::lowercase(needle)
                            } else {
                                needle.clone()
                            };
                            vec![Needle {
                                field,
                                text,
                                from_regex: false,
                            }]
                        }
                        ValueMatch::Regex { required, .. } if !required.is_empty() => required
                            .iter()
                            .map(|text| Needle {
                                field,
                                text: text.clone(),
                                from_regex: true,
                            })
                            .collect(),
                        _ => return None,
                    });
                }
                if item.values.all {
                    // Each value is required (through any of its ways of being written): one
                    // value's set is enough, the best one.
                    let mut sets = per_match.into_iter();
                    return item
                        .values
                        .per_value()
                        .map(|ways| sets.by_ref().take(ways.len()).flatten().collect())
                        .max_by_key(|set: &Vec<Needle>| needle_score(set));
                }
                Some(per_match.into_iter().flatten().collect())
            }
            Expr::And(v) => v
                .iter()
                .filter_map(|c| self.necessary(c))
                .max_by_key(|set| needle_score(set)),
            Expr::Or(v) | Expr::AtLeast(_, v) => {
                let mut all = Vec::new();
                for c in v {
                    all.extend(self.necessary(c)?);
                }
                if all.is_empty() { None } else { Some(all) }
            }
        }
    }

    /// Whether some item of `e` tests a field (not keywords).
    fn names_a_field(&self, e: &Expr) -> bool {
        match e {
            Expr::Const(_) => false,
            Expr::Item(i) => self.set.items[*i as usize].field.is_some(),
            Expr::And(v) | Expr::Or(v) | Expr::AtLeast(_, v) => {
                v.iter().any(|c| self.names_a_field(c))
            }
            Expr::Not(c) => self.names_a_field(c),
        }
    }

    /// Every field `e` names (sorted, once each).
    fn named_fields(&self, e: &Expr) -> Box<[u32]> {
        fn collect(b: &Builder, e: &Expr, out: &mut Vec<u32>) {
            match e {
                Expr::Const(_) => {}
                Expr::Item(i) => out.extend(b.set.items[*i as usize].field),
                Expr::And(v) | Expr::Or(v) | Expr::AtLeast(_, v) => {
                    for c in v {
                        collect(b, c, out);
                    }
                }
                Expr::Not(c) => collect(b, c, out),
            }
        }
        let mut fields = Vec::new();
        collect(self, e, &mut fields);
        fields.sort_unstable();
        fields.dedup();
        fields.into_boxed_slice()
    }

    /// The keyword items of `e` under no `not` (or under an even number of them).
    fn positive_keyword_items(&self, e: &Expr) -> Box<[u32]> {
        fn collect(b: &Builder, e: &Expr, negated: bool, out: &mut Vec<u32>) {
            match e {
                Expr::Const(_) => {}
                Expr::Item(i) => {
                    if !negated && b.set.items[*i as usize].field.is_none() {
                        out.push(*i);
                    }
                }
                Expr::And(v) | Expr::Or(v) | Expr::AtLeast(_, v) => {
                    for c in v {
                        collect(b, c, negated, out);
                    }
                }
                Expr::Not(c) => collect(b, c, !negated, out),
            }
        }
        let mut items = Vec::new();
        collect(self, e, false, &mut items);
        items.into_boxed_slice()
    }

    /// One field `e` is false without, preferring one that Windows events do not all carry
    /// (Channel and EventID are in every record, so requiring them rules nothing out there).
    fn required_field(&self, e: &Expr) -> Option<u32> {
        let fields = self.required_fields(e);
        let common = [self.set.channel_field, self.set.event_id_field];
        fields
            .iter()
            .find(|f| !common.contains(f))
            .or(fields.first())
            .copied()
    }

    /// The fields that must be present for `e` to be true (sorted): an item on a field that
    /// no null or `exists: false` test satisfies when absent needs it; `and` needs what any
    /// part needs, `or` what every part needs; `not x` needs the fields whose absence makes `x`
    /// true (`not Image: null`, the filters of many process-creation rules).
    fn required_fields(&self, e: &Expr) -> Vec<u32> {
        match e {
            Expr::Item(i) => {
                let item = &self.set.items[*i as usize];
                let absent_can_match = item
                    .values
                    .matches
                    .iter()
                    .any(|m| matches!(m, ValueMatch::Null | ValueMatch::Exists(false)));
                match item.field {
                    Some(f)
                        if !item.values.neq
                            && !item.values.matches.is_empty()
                            && !absent_can_match =>
                    {
                        vec![f]
                    }
                    _ => Vec::new(),
                }
            }
            Expr::And(v) => union(v.iter().map(|c| self.required_fields(c))),
            Expr::Or(v) | Expr::AtLeast(_, v) => {
                if matches!(e, Expr::AtLeast(0, _)) {
                    return Vec::new();
                }
                common(v.iter().map(|c| self.required_fields(c)))
            }
            Expr::Not(inner) => self.absent_makes_true(inner),
            Expr::Const(_) => Vec::new(),
        }
    }

    /// The fields whose absence alone makes `e` true (sorted): an item testing for null or
    /// `exists: false`; `or` any part's, `and` every part's; `not x` the fields `x` needs.
    fn absent_makes_true(&self, e: &Expr) -> Vec<u32> {
        let null_test = |m: &ValueMatch| matches!(m, ValueMatch::Null | ValueMatch::Exists(false));
        match e {
            Expr::Item(i) => {
                let item = &self.set.items[*i as usize];
                let v = &item.values;
                let holds = if v.all {
                    !v.matches.is_empty() && v.per_value().all(|ways| ways.iter().any(null_test))
                } else {
                    v.matches.iter().any(null_test)
                };
                match item.field {
                    Some(f) if holds && !v.neq => vec![f],
                    _ => Vec::new(),
                }
            }
            Expr::Or(v) => union(v.iter().map(|c| self.absent_makes_true(c))),
            Expr::And(v) => common(v.iter().map(|c| self.absent_makes_true(c))),
            Expr::Not(inner) => self.required_fields(inner),
            Expr::AtLeast(..) | Expr::Const(_) => Vec::new(),
        }
    }

    /// EventID values of which one must hold for `e` to hold (from `EventID: N` items).
    fn required_event_ids(&self, e: &Expr) -> Option<Vec<u64>> {
        match e {
            Expr::Item(i) => {
                let item = &self.set.items[*i as usize];
                if item.field != Some(self.set.event_id_field)
                    || item.values.neq
                    || item.values.matches.is_empty()
                {
                    return None;
                }
                let mut ids = Vec::new();
                for m in &item.values.matches {
                    match m {
                        ValueMatch::NumEq(Number::Int(n), _) if u64::try_from(*n).is_ok() => {
                            ids.push(*n as u64)
                        }
                        ValueMatch::NumEq(Number::Float(n), _) if *n >= 0.0 && n.fract() == 0.0 => {
                            ids.push(*n as u64)
                        }
                        _ => return None,
                    }
                }
                if item.values.all && ids.len() > 1 {
                    return None;
                }
                Some(ids)
            }
            Expr::And(v) => v
                .iter()
                .filter_map(|c| self.required_event_ids(c))
                .min_by_key(Vec::len),
            Expr::Or(v) | Expr::AtLeast(_, v) => {
                let mut all = Vec::new();
                for c in v {
                    all.extend(self.required_event_ids(c)?);
                }
                all.sort_unstable();
                all.dedup();
                if all.is_empty() { None } else { Some(all) }
            }
            Expr::Const(_) | Expr::Not(_) => None,
        }
    }

    /// The needle sets of which each must have a needle found for `e` to hold: one per part
    /// of a top-level `and` (nested ones included, as `all of selection_*` makes them) that
    /// has one, else the one set of [`Builder::necessary`].
    fn clauses(&self, e: &Expr) -> Vec<Vec<Needle>> {
        match e {
            Expr::And(v) => v.iter().flat_map(|c| self.clauses(c)).collect(),
            _ => self.necessary(e).into_iter().collect(),
        }
    }

    fn needle_id(&mut self, needle: Needle) -> u32 {
        let next = self.set.needle_field.len() as u32;
        let id = *self
            .needle_ids
            .entry((needle.field, needle.text))
            .or_insert(next);
        if id == next {
            self.set.needle_field.push(needle.field);
            self.set.needle_from_regex.push(false);
        }
        self.set.needle_from_regex[id as usize] |= needle.from_regex;
        id
    }

    fn prefilter(&mut self, e: &Expr) -> Option<Prefilter> {
        let mut clauses = self.clauses(e);
        if clauses.is_empty() {
            return None;
        }
        // The best set triggers evaluation; the next best are checked before it.
        clauses.sort_by_key(|set| std::cmp::Reverse(needle_score(set)));
        clauses.truncate(1 + MAX_ALSO);
        let mut fields = Vec::new();
        let mut ids: Vec<Box<[u32]>> = Vec::new();
        for set in clauses {
            let mut clause: Vec<u32> = Vec::new();
            for needle in set {
                fields.push(needle.field);
                clause.push(self.needle_id(needle));
            }
            clause.sort_unstable();
            clause.dedup();
            ids.push(clause.into());
        }
        fields.sort_unstable();
        fields.dedup();
        let needles = ids.remove(0);
        Some(Prefilter {
            needles,
            also: ids.into(),
            fields: fields.into(),
        })
    }

    fn build_automata(&mut self) {
        let mut per_field: Vec<Vec<(String, u32)>> = vec![Vec::new(); self.set.fields.len()];
        for ((field, needle), id) in &self.needle_ids {
            per_field[*field as usize].push((needle.clone(), *id));
        }
        // Fields are independent: their automata are built in parallel (the DFA builds are
        // most of the compilation time).
        let from_regex = &self.set.needle_from_regex;
        let keyword_field = self.set.keyword_field as usize;
        self.set.automata = per_field
            .into_par_iter()
            .enumerate()
            .map(|(field, mut list)| {
                if list.is_empty() {
                    return None;
                }
                list.sort_unstable();
                // A DFA scans fastest but costs about 6 KiB per needle; the largest fields
                // (CommandLine, ScriptBlockText: thousands of needles) would take most of the
                // memory budget as DFAs, so they get a contiguous NFA (a tenth of the size). If
                // the chosen kind cannot be built, fall back to the automatic choice.
                let kind = if list.len() > DFA_MAX_NEEDLES {
                    aho_corasick::AhoCorasickKind::ContiguousNFA
                } else {
                    aho_corasick::AhoCorasickKind::DFA
                };
                let list: Vec<(&str, u32)> = list.iter().map(|(n, id)| (n.as_str(), *id)).collect();
                build_automaton(&list, from_regex, kind, field == keyword_field)
            })
            .collect();
    }

    fn push_item(&mut self, field: Option<u32>, values: CompiledValues) -> Expr {
        let id = self.set.items.len() as u32;
        self.set.items.push(Item { field, values });
        Expr::Item(id)
    }
}

/// Builds the expression of a condition, with search identifiers replaced by clones of
/// their expressions (identifiers are small; the tree stays small).
fn cond_expr(c: &Condition, searches: &[(&str, Expr)]) -> Expr {
    match c {
        Condition::Ref(name) => searches
            .iter()
            .find(|(n, _)| n == name)
            .map_or(Expr::Const(false), |(_, e)| clone_expr(e)),
        Condition::And(v) => Expr::And(v.iter().map(|c| cond_expr(c, searches)).collect()),
        Condition::Or(v) => Expr::Or(v.iter().map(|c| cond_expr(c, searches)).collect()),
        Condition::Not(c) => Expr::Not(Box::new(cond_expr(c, searches))),
        Condition::Of(q, target) => {
            let chosen: Vec<Expr> = searches
                .iter()
                .filter(|(n, _)| vigil_sigma::condition::takes(target, n))
                .map(|(_, e)| clone_expr(e))
                .collect();
            match q {
                Quantity::All => Expr::And(chosen),
                Quantity::AtLeast(1) => Expr::Or(chosen),
                Quantity::AtLeast(n) => Expr::AtLeast(*n, chosen),
            }
        }
    }
}

fn clone_expr(e: &Expr) -> Expr {
    match e {
        Expr::Const(b) => Expr::Const(*b),
        Expr::Item(i) => Expr::Item(*i),
        Expr::And(v) => Expr::And(v.iter().map(clone_expr).collect()),
        Expr::Or(v) => Expr::Or(v.iter().map(clone_expr).collect()),
        Expr::Not(e) => Expr::Not(Box::new(clone_expr(e))),
        Expr::AtLeast(n, v) => Expr::AtLeast(*n, v.iter().map(clone_expr).collect()),
    }
}

fn simplify(e: Expr) -> Expr {
    match e {
        Expr::And(v) => {
            let mut v: Vec<Expr> = v.into_iter().map(simplify).collect();
            if v.len() == 1 {
                v.pop().expect("one")
            } else {
                Expr::And(v)
            }
        }
        Expr::Or(v) => {
            let mut v: Vec<Expr> = v.into_iter().map(simplify).collect();
            if v.len() == 1 {
                v.pop().expect("one")
            } else {
                Expr::Or(v)
            }
        }
        Expr::Not(e) => Expr::Not(Box::new(simplify(*e))),
        Expr::AtLeast(n, v) => Expr::AtLeast(n, v.into_iter().map(simplify).collect()),
        other => other,
    }
}

/// Field renames of one event-log target.
type Renames = &'static [(&'static str, &'static str)];

fn is_windows(ls: &Logsource) -> bool {
    ls.product.as_deref() == Some("windows")
}

/// The event-log targets of a Windows logsource, or `None` when it has no mapping.
fn targets(ls: &Logsource) -> Option<Vec<ChannelTarget>> {
    if let Some(cat) = &ls.category {
        return category_targets(cat);
    }
    if let Some(svc) = &ls.service {
        let channels = service_channels(svc)?;
        return Some(
            channels
                .iter()
                .map(|c| ChannelTarget {
                    channel: c,
                    event_ids: &[],
                    renames: &[],
                })
                .collect(),
        );
    }
    None
}

/// The line of entry `at` of a correlation's `rules`, or its document's first line when the
/// entry's is not known.
fn rule_line(c: &CorrelationRule, at: usize) -> usize {
    c.rule_lines.get(at).copied().unwrap_or(c.meta.line)
}

/// The detection rules among `docs` (not correlations or filters), in their order.
fn detection_rules(docs: &[RuleDoc]) -> Vec<&Rule> {
    docs.iter()
        .filter_map(|d| match d {
            RuleDoc::Rule(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// Warnings about the filters among `docs` that cannot do what they say: each entry of a
/// filter's `rules` that is the id or name of no detection rule among `docs` (a typo, a title
/// written instead of an id, a correlation rule), and each rule it names whose logsource the
/// filter's does not cover (the filter then leaves that rule as it is). They are warnings, not
/// rejections: a filter may be written for rules of another set, and it still applies to the
/// rules it does reach. Each names the filter's file and line.
pub fn filter_warnings(docs: &[RuleDoc]) -> Vec<Diagnostic> {
    let rules = detection_rules(docs);
    let refers_to = |meta: &vigil_sigma::Meta, key: &str| {
        meta.id.as_deref() == Some(key) || meta.name.as_deref() == Some(key)
    };
    let mut out = Vec::new();
    for doc in docs {
        let RuleDoc::Filter(filter) = doc else {
            continue;
        };
        let warn = |message: String| Diagnostic {
            file: filter.meta.file.clone(),
            line: filter.meta.line,
            path: "filter.rules".into(),
            message,
            rule: filter
                .meta
                .id
                .clone()
                .or_else(|| Some(filter.meta.title.clone())),
        };
        for key in &filter.rules {
            let named: Vec<&&Rule> = rules.iter().filter(|r| refers_to(&r.meta, key)).collect();
            if named.is_empty() {
                out.push(warn(unresolved_filter_reference(key, &rules, docs)));
                continue;
            }
            // A key naming several rules (a collection's parts) is answered by any it covers.
            if !named
                .iter()
                .any(|r| logsource_covers(&filter.logsource, &r.logsource))
            {
                out.push(warn(format!(
                    "`{key}` is a rule for {}, which the filter's logsource ({}) does not cover, so the filter leaves its matches as they are; give the filter the rule's logsource (or leave out the parts that differ)",
                    describe_logsource(&named[0].logsource),
                    describe_logsource(&filter.logsource),
                )));
            }
        }
    }
    out
}

/// Why `key`, in a filter's `rules`, refers to no detection rule, and what to write instead.
fn unresolved_filter_reference(key: &str, rules: &[&Rule], docs: &[RuleDoc]) -> String {
    if let Some(rule) = rules.iter().find(|r| r.meta.title == key) {
        let by = rule.meta.id.as_deref().or(rule.meta.name.as_deref());
        return match by {
            Some(id) => format!(
                "`{key}` is a rule's title, and a filter names rules by id or name: write `{id}`"
            ),
            None => format!(
                "`{key}` is a rule's title, and a filter names rules by id or name: give that rule an id and write it here"
            ),
        };
    }
    let correlation = docs.iter().any(|d| match d {
        RuleDoc::Correlation(c) => {
            c.meta.id.as_deref() == Some(key) || c.meta.name.as_deref() == Some(key)
        }
        _ => false,
    });
    if correlation {
        return format!(
            "`{key}` is a correlation rule, and a filter applies to detection rules only: name the rules it counts instead"
        );
    }
    format!(
        "`{key}` is the id or name of no loaded rule, so the filter applies to nothing under it; check the id for a typo, or load the rules it was written for with it"
    )
}

/// A logsource as `product=windows category=process_creation`, or `any log` for an empty one.
fn describe_logsource(ls: &Logsource) -> String {
    let parts: Vec<String> = [
        ("product", &ls.product),
        ("category", &ls.category),
        ("service", &ls.service),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
    .collect();
    if parts.is_empty() {
        "any log".to_owned()
    } else {
        parts.join(" ")
    }
}

fn logsource_covers(filter: &Logsource, rule: &Logsource) -> bool {
    let f = |a: &Option<String>, b: &Option<String>| a.is_none() || a == b;
    f(&filter.product, &rule.product)
        && f(&filter.category, &rule.category)
        && f(&filter.service, &rule.service)
}

/// Compiles rules, correlation rules and filters. Rules that cannot be compiled are left out
/// and reported as diagnostics; the rest still compile.
///
/// The automata are built on rayon's pool: do not call this while initialising a lazy value
/// that other rayon jobs wait on (a worker blocked there would steal those jobs).
pub fn compile(docs: &[RuleDoc], opts: &CompileOptions) -> (CompiledRuleSet, Vec<Diagnostic>) {
    let mut b = Builder {
        opts,
        set: CompiledRuleSet {
            rules: Vec::new(),
            variants: Vec::new(),
            items: Vec::new(),
            fields: Vec::new(),
            field_ids: FxHashMap::default(),
            table_names: FxHashMap::default(),
            path_root: Vec::new(),
            path_roots: 0,
            index: Index::default(),
            correlations: Vec::new(),
            channel_field: 0,
            event_id_field: 0,
            keyword_field: 0,
            numeric_keyword: false,
            needle_field: Vec::new(),
            automata: Vec::new(),
            needle_text: Vec::new(),
            needle_from_regex: Vec::new(),
            declared: DeclaredIndexes::default(),
            spares: std::sync::Mutex::default(),
        },
        needle_ids: HashMap::new(),
        diags: Vec::new(),
    };
    b.set.channel_field = b.field("Channel");
    b.set.event_id_field = b.field("EventID");
    // No event field can be named with a NUL byte: this id only carries keyword needles.
    b.set.keyword_field = b.field("\u{0}keywords");

    let rules = detection_rules(docs);
    let filters: Vec<&FilterRule> = docs
        .iter()
        .filter_map(|d| match d {
            RuleDoc::Filter(f) => Some(f),
            _ => None,
        })
        .collect();
    let correlations: Vec<&CorrelationRule> = docs
        .iter()
        .filter_map(|d| match d {
            RuleDoc::Correlation(c) => Some(c),
            _ => None,
        })
        .collect();

    for rule in rules {
        let applicable: Vec<&FilterRule> = filters
            .iter()
            .copied()
            .filter(|f| {
                // A filter applies to the rules of its logsource, and of those to the ones it
                // names when it names any (as pySigma applies them): a filter for process
                // creation leaves a Security-log rule it names as it is.
                logsource_covers(&f.logsource, &rule.logsource)
                    && (f.rules.is_empty()
                        || f.rules.iter().any(|r| {
                            Some(r) == rule.meta.id.as_ref() || Some(r) == rule.meta.name.as_ref()
                        }))
            })
            .collect();
        let ls = &rule.logsource;
        // A product-less category that also has a Windows log (antivirus) keeps an unrenamed
        // variant for other logs besides its Windows targets.
        let productless = if opts.windows_logsource_mapping && ls.product.is_none() {
            ls.category
                .as_deref()
                .and_then(productless_category_targets)
        } else {
            None
        };
        let mapped = if opts.windows_logsource_mapping && is_windows(ls) {
            targets(ls)
        } else {
            productless.clone()
        };
        let rule_id = RuleId(b.set.rules.len() as u32);
        // (renames, list of targets sharing them)
        let mut groups: Vec<(Renames, Vec<ChannelTarget>)> = Vec::new();
        match &mapped {
            Some(ts) => {
                for t in ts {
                    match groups.iter_mut().find(|(r, _)| *r == t.renames) {
                        Some(g) => g.1.push(t.clone()),
                        None => groups.push((t.renames, vec![t.clone()])),
                    }
                }
            }
            None => groups.push((&[], Vec::new())),
        }
        if productless.is_some() && !groups.iter().any(|(r, _)| r.is_empty()) {
            groups.push((&[], Vec::new()));
        }
        let mut compiled = Vec::new();
        let mut failed = false;
        for (renames, ts) in &groups {
            let expr = match b.detection(&rule.detection, renames, "detection") {
                Ok(e) => e,
                Err((path, line, msg)) => {
                    b.diag(&rule.meta, &path, line.max(rule.meta.line), msg);
                    failed = true;
                    break;
                }
            };
            let mut parts = vec![expr];
            for f in &applicable {
                match b.detection(&f.detection, renames, "filter") {
                    Ok(e) => parts.push(e),
                    Err((path, line, msg)) => {
                        b.diag(&f.meta, &path, line.max(f.meta.line), msg);
                    }
                }
            }
            let expr = simplify(Expr::And(parts));
            compiled.push((expr, ts.clone(), renames.is_empty()));
        }
        if failed {
            continue;
        }
        b.set.rules.push(RuleMeta {
            meta: rule.meta.clone(),
            logsource: rule.logsource.clone(),
            kind: RuleKind::Detection,
            report: true,
            detection_fields: fields_named(&rule.detection),
        });
        let windows = is_windows(&rule.logsource);
        // Rules for another product, or for a category/service with no product that the
        // Windows mapping does not know (webserver, proxy, firewall …), never see Windows events.
        let ls = &rule.logsource;
        let other_product = (ls.product.is_some() && !windows)
            || (ls.product.is_none() && (ls.category.is_some() || ls.service.is_some()));
        for (expr, ts, base) in compiled {
            let vid = b.set.variants.len() as u32;
            // A Windows rule for a service or category whose condition names no field
            // (keywords only) has nothing but the Channel to tie an event to that log: an event
            // without one (a JSON log of another source) is not offered it, as the reference
            // tools do not match it there either.
            let channel_only = windows && !ts.is_empty() && !b.names_a_field(&expr);
            let prefilter = b.prefilter(&expr);
            let event_ids = b.required_event_ids(&expr);
            let requires = b.required_field(&expr);
            let evidence = match requires {
                None if opts.require_evidence_of_source => b.named_fields(&expr),
                _ => Box::default(),
            };
            let declared_only = opts.require_evidence_of_source
                && (ls.product.is_some() || ls.service.is_some())
                && !b.names_a_field(&expr);
            let keyword_evidence = if evidence.is_empty() {
                Box::default()
            } else {
                b.positive_keyword_items(&expr)
            };
            b.set.variants.push(Variant {
                rule: rule_id,
                expr,
                prefilter,
                requires,
                evidence,
                keyword_evidence,
                declared_only,
            });
            if base && !channel_only {
                b.set.index.no_channel.push(vid, event_ids.as_deref());
            }
            if !opts.windows_logsource_mapping {
                b.set.index.windows_any.push(vid);
                continue;
            }
            if ts.is_empty() {
                if !other_product {
                    b.set.index.windows_any.push(vid);
                }
                continue;
            }
            for t in ts {
                let ci = b
                    .set
                    .index
                    .by_channel
                    .entry(t.channel.to_ascii_lowercase())
                    .or_default();
                if t.event_ids.is_empty() {
                    // A service rule that requires EventID values goes to those ids' buckets.
                    ci.push(vid, event_ids.as_deref());
                } else {
                    ci.push(vid, Some(t.event_ids));
                }
            }
        }
    }

    b.build_automata();
    let keyword_field = b.set.keyword_field;
    b.set.numeric_keyword = b.needle_ids.keys().any(|(field, text)| {
        *field == keyword_field && text.bytes().all(|c| b"0123456789.+-einfa".contains(&c))
    });
    // Literals that are also prefilter needles of their field learn the needle's id.
    let needle_ids: FxHashMap<(u32, &str), u32> = b
        .needle_ids
        .iter()
        .map(|((field, text), id)| ((*field, text.as_str()), *id))
        .collect();
    for item in &mut b.set.items {
        let field = item.field.unwrap_or(b.set.keyword_field);
        for m in &mut item.values.matches {
            if let ValueMatch::Lit {
                needle,
                cased: false,
                id,
                ..
            } = m
                && let Some(&n) = needle_ids.get(&(field, needle.as_str()))
            {
                *id = n;
            }
        }
    }
    {
        let mut needle_text: Vec<Box<str>> = vec![Box::from(""); b.set.needle_field.len()];
        for ((_, text), id) in &b.needle_ids {
            needle_text[*id as usize] = text.as_str().into();
        }
        b.set.needle_text = needle_text;
        let set = &mut b.set;
        let needles = needles(&set.needle_field, &set.needle_text);
        let variants = &set.variants;
        let automata = &set.automata;
        let mut buckets: Vec<&mut Bucket> = vec![&mut set.index.windows_any];
        buckets.extend(set.index.no_channel.buckets_mut());
        for ci in set.index.by_channel.values_mut() {
            buckets.extend(ci.buckets_mut());
        }
        let keyword_field = set.keyword_field;
        buckets.into_par_iter().for_each(|bucket| {
            bucket.finish(
                variants,
                &needles,
                &set.needle_from_regex,
                automata,
                keyword_field,
            )
        });
    }

    // Correlations refer to rules by id or name. Which keys name more than one rule is known
    // from the documents before any correlation is compiled, so that a reference to one is
    // refused whatever the order the rules holding it come in.
    let mut holders: HashMap<&str, Vec<&Meta>> = HashMap::new();
    for doc in docs {
        if matches!(doc, RuleDoc::Filter(_)) {
            continue;
        }
        let meta = doc.meta();
        let mut keys = [meta.id.as_deref(), meta.name.as_deref()];
        if keys[0] == keys[1] {
            keys[1] = None;
        }
        for key in keys.into_iter().flatten() {
            holders.entry(key).or_default().push(meta);
        }
    }
    let ambiguous = |key: &str| holders.get(key).filter(|h| h.len() > 1);
    let mut names: HashMap<String, RuleId> = HashMap::new();
    for (i, r) in b.set.rules.iter().enumerate() {
        for key in [&r.meta.id, &r.meta.name].into_iter().flatten() {
            names.insert(key.to_owned(), RuleId(i as u32));
        }
    }
    let mut pending = Vec::with_capacity(correlations.len());
    for c in correlations {
        let Some((at, r, holding)) = c
            .rules
            .iter()
            .enumerate()
            .find_map(|(at, r)| Some((at, r, ambiguous(r)?)))
        else {
            pending.push(c);
            continue;
        };
        let places: Vec<String> = holding
            .iter()
            .map(|m| format!("{}:{}", m.file.display(), m.line))
            .collect();
        let msg = format!(
            "the correlation refers to '{r}', which names more than one rule ({}: two rules with one id or name, or the parts of a Sigma 1 rule collection, which share its id); a correlation counts the matches of rules it names one by one, so give the rule to count an id or name of its own (ids and names must be unique)",
            places.join(", ")
        );
        b.diag(&c.meta, "correlation.rules", rule_line(c, at), msg);
    }
    // A correlation may count correlations written after it (the specification's own example
    // of a chain names the outer one first): each is compiled once every rule it refers to is,
    // in file order among those ready, so a correlation always comes after those it counts.
    while let Some(at) = pending
        .iter()
        .position(|c| c.rules.iter().all(|r| names.contains_key(r)))
    {
        let c = pending.remove(at);
        let id = RuleId(b.set.rules.len() as u32);
        match compile_correlation(c, id, &names) {
            Ok(cc) => {
                for r in &cc.rules {
                    if !c.generate {
                        b.set.rules[r.0 as usize].report = false;
                    }
                }
                b.set.rules.push(RuleMeta {
                    meta: c.meta.clone(),
                    logsource: Logsource::default(),
                    kind: RuleKind::Correlation,
                    report: true,
                    detection_fields: Vec::new(),
                });
                for key in [&c.meta.id, &c.meta.name].into_iter().flatten() {
                    names.insert(key.to_owned(), cc.id);
                }
                b.set.correlations.push(cc);
            }
            Err((at, msg)) => b.diag(&c.meta, "correlation.rules", rule_line(c, at), msg),
        }
    }
    // What is left refers to a rule that is not loaded, or to correlations that refer back.
    for c in &pending {
        let waiting = |r: &&String| {
            pending
                .iter()
                .any(|p| p.meta.id.as_ref() == Some(*r) || p.meta.name.as_ref() == Some(*r))
        };
        let (at, msg) = match compile_correlation(c, RuleId(u32::MAX), &names) {
            Err(_) if c.rules.iter().all(|r| names.contains_key(r) || waiting(&r)) => {
                let at = c.rules.iter().position(|r| waiting(&r)).unwrap_or(0);
                (
                    at,
                    format!(
                        "the correlation refers to correlation '{}', which refers back to it (directly or through others); break the cycle",
                        c.rules[at]
                    ),
                )
            }
            Err(missing) => missing,
            Ok(_) => continue,
        };
        b.diag(&c.meta, "correlation.rules", rule_line(c, at), msg);
    }
    b.set.name_the_table();
    (b.set, b.diags)
}

#[cfg(test)]
mod filter_warning_tests {
    use std::path::Path;

    use super::filter_warnings;

    #[test]
    fn filters_that_reach_fewer_rules_than_they_name_are_warned_about() {
        let text = [
            "title: Whoami Run\nid: r1\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: whoami.exe\n  condition: sel\n",
            "title: Logon\nid: r2\nlogsource:\n  product: windows\n  service: security\ndetection:\n  sel:\n    EventID: 4624\n  condition: sel\n",
            "title: Many\nid: c1\ncorrelation:\n  type: event_count\n  rules: [r2]\n  group-by: [User]\n  timespan: 5m\n  condition:\n    gte: 10\n",
            // Names the rule by id, by title, with a typo, a correlation, and a rule its
            // logsource does not cover.
            "title: Admins\nid: f1\nlogsource:\n  product: windows\n  category: process_creation\nfilter:\n  rules: [r1, Whoami Run, r1x, c1, r2]\n  selection:\n    User|startswith: adm_\n  condition: not selection\n",
            // A filter without `rules` names nothing to miss.
            "title: All\nid: f2\nlogsource:\n  product: windows\nfilter:\n  selection:\n    User: x\n  condition: not selection\n",
        ]
        .join("---\n");
        let (docs, diags) = vigil_sigma::parse_str(&text, Path::new("f.yml"));
        assert!(diags.is_empty(), "{diags:?}");
        let warnings = filter_warnings(&docs);
        let lines: Vec<String> = warnings.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert!(lines.iter().all(|l| l.starts_with("f.yml:")), "{lines:#?}");
        assert!(warnings.iter().all(|w| w.rule.as_deref() == Some("f1")));
        let line = docs
            .iter()
            .find_map(|d| match d {
                vigil_sigma::RuleDoc::Filter(f) if f.meta.id.as_deref() == Some("f1") => {
                    Some(f.meta.line)
                }
                _ => None,
            })
            .unwrap();
        assert!(warnings.iter().all(|w| w.line == line));
        assert!(
            lines[0].contains("`Whoami Run` is a rule's title") && lines[0].contains("write `r1`"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].contains("`r1x` is the id or name of no loaded rule"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].contains("`c1` is a correlation rule"),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].contains("`r2` is a rule for product=windows service=security")
                && lines[3].contains("product=windows category=process_creation"),
            "{}",
            lines[3]
        );
    }
}

#[cfg(test)]
mod automaton_tests {
    use aho_corasick::AhoCorasickKind;

    use super::{DFA_MAX_NEEDLE_BYTES, build_automaton};

    #[test]
    fn a_long_needle_gets_an_nfa_that_still_finds_it() {
        // A long periodic needle (what `base64offset` makes of `AAAA…`) takes the DFA builder
        // time quadratic in its length; such a field gets a contiguous NFA instead.
        let long = "QUFB".repeat(DFA_MAX_NEEDLE_BYTES / 4 + 1);
        let from_regex = [false, false];
        let list = [("short", 0), (long.as_str(), 1)];
        let auto = build_automaton(&list, &from_regex, AhoCorasickKind::DFA, false).unwrap();
        assert_eq!(auto.ac.kind(), AhoCorasickKind::ContiguousNFA);
        let text = format!("x{long}y short");
        let found: Vec<u32> = auto
            .ac
            .find_overlapping_iter(text.as_bytes())
            .map(|m| auto.needle_of_pattern[m.pattern().as_usize()])
            .collect();
        assert_eq!(found, [1, 0]);
        // Needles of ordinary length keep their DFA.
        let auto = build_automaton(&list[..1], &from_regex, AhoCorasickKind::DFA, false).unwrap();
        assert_eq!(auto.ac.kind(), AhoCorasickKind::DFA);
    }
}
