//! Matching events against a [`CompiledRuleSet`].
//!
//! A [`Matcher`] belongs to one thread. It holds the per-event scratch: a slot per field id
//! with the field's values (raw, and lowercased on first use), reused from event to event so
//! that matching allocates nothing once warm. The rule set itself is only read.
//!
//! An event that supports it gives its fields in one pass ([`Event::for_each_field`]): each
//! name a rule uses is resolved to its field id there and only those fields are copied; a
//! field the pass did not give is absent without a lookup. Other events are asked field by
//! field, by name, at most once per event.
//!
//! Per event: the Channel/EventID buckets are chosen, each bucket field is scanned once with
//! its Aho-Corasick automaton (or with the bucket's own small automaton, see
//! `Bucket::local`), and the variants whose needles were found, plus the ones without a
//! prefilter, are evaluated — a variant whose condition is an `and` only when every part with
//! needles had one found. A literal whose needle the field's scan did not find is false
//! without comparing strings.

use std::net::IpAddr;

use crate::compile::{
    Bucket, ChannelIndex, CompiledRuleSet, Expr, FieldAutomaton, Item, RuleId, TableName,
};
use crate::event::{Event, FieldSink, FieldValue};
use crate::memo::ScanMemo;
use crate::value::{NO_NEEDLE, Number, StrOp, ValueMatch, time_part};
use vigil_sigma::Logsource;

/// One value of a field, prepared for matching.
#[derive(Debug, Default)]
struct Cached {
    raw: String,
    lower: String,
    /// Whether `raw` is ASCII (set with `lower`).
    ascii: bool,
    /// The value as a number when the event wrote a number; text is parsed only when a
    /// numeric comparison asks (see [`Cached::number`]).
    num: Option<Number>,
    /// The value read as an IP address, on the first `cidr` test of the event (a rule lists
    /// a dozen networks: the text is parsed once, not once per network).
    ip: std::cell::OnceCell<Option<IpAddr>>,
    boolean: Option<bool>,
    null: bool,
}

/// The values of one field for the current event.
#[derive(Debug, Default)]
struct Slot {
    /// The event generation this slot was filled for.
    generation: u64,
    present: bool,
    /// Whether `lower` of every value is filled (values are lowercased on first use).
    lowered: bool,
    len: usize,
    values: Vec<Cached>,
}

impl Cached {
    /// The value as a number: the number the event wrote, or the text read as one.
    fn number(&self) -> Option<Number> {
        self.num.or_else(|| parse_num(&self.raw))
    }

    /// Sets the raw value (the lowercased text is filled by [`Cached::lowercase`]).
    fn set(&mut self, v: &FieldValue<'_>) {
        use std::fmt::Write as _;
        self.raw.clear();
        self.lower.clear();
        self.num = None;
        self.ip = std::cell::OnceCell::new();
        self.boolean = None;
        self.null = false;
        match v {
            FieldValue::Str(s) => self.raw.push_str(s),
            FieldValue::Int(i) => {
                let _ = write!(self.raw, "{i}");
                self.num = Some(Number::Int(i128::from(*i)));
            }
            FieldValue::UInt(u) => {
                let _ = write!(self.raw, "{u}");
                self.num = Some(Number::Int(i128::from(*u)));
            }
            FieldValue::Float(f) => {
                let _ = write!(self.raw, "{f}");
                self.num = Some(Number::Float(*f));
            }
            FieldValue::Bool(b) => {
                self.raw.push_str(if *b { "true" } else { "false" });
                self.boolean = Some(*b);
            }
            FieldValue::Null => self.null = true,
        }
    }

    fn lowercase(&mut self) {
        self.lower.clear();
        self.ascii = self.raw.is_ascii();
        if self.ascii {
            self.lower.push_str(&self.raw);
            self.lower.make_ascii_lowercase();
        } else {
            for ch in self.raw.chars() {
                self.lower.extend(ch.to_lowercase());
            }
        }
    }
}

impl Slot {
    /// Empties the slot for the event `generation`.
    fn begin(&mut self, generation: u64, present: bool) {
        self.generation = generation;
        self.present = present;
        self.lowered = false;
        self.len = 0;
    }

    fn push(&mut self, v: &FieldValue<'_>) {
        if self.len == self.values.len() {
            self.values.push(Cached::default());
        }
        self.values[self.len].set(v);
        self.len += 1;
    }

    fn fill(
        &mut self,
        generation: u64,
        visit: impl FnOnce(&mut dyn FnMut(&FieldValue<'_>)) -> bool,
    ) {
        self.begin(generation, false);
        let present = visit(&mut |v: &FieldValue<'_>| self.push(v));
        self.present = present || self.len > 0;
    }

    /// Fills the lowercased text of every value, once per event.
    fn lower(&mut self) {
        if !self.lowered {
            self.lowered = true;
            for c in &mut self.values[..self.len] {
                c.lowercase();
            }
        }
    }

    fn values(&self) -> &[Cached] {
        &self.values[..self.len]
    }
}

/// The [`FieldSink`] that fills a matcher's slots from [`Event::for_each_field`].
struct TableSink<'a> {
    names: &'a rustc_hash::FxHashMap<String, TableName>,
    slots: &'a mut [Slot],
    /// Per path root: the generation of the last event that had a node of that name.
    roots_seen: &'a mut [u64],
    generation: u64,
    current: usize,
}

impl FieldSink for TableSink<'_> {
    fn field(&mut self, name: &str) -> bool {
        let Some(&TableName { field: id, root }) = self.names.get(name) else {
            return false;
        };
        if root != TableName::NONE {
            self.roots_seen[root as usize] = self.generation;
        }
        if id == TableName::NONE {
            return false;
        }
        let slot = &mut self.slots[id as usize];
        if slot.generation == self.generation {
            return false;
        }
        slot.begin(self.generation, true);
        self.current = id as usize;
        true
    }

    fn value(&mut self, value: &FieldValue<'_>) {
        self.slots[self.current].push(value);
    }
}

/// Appends the text of a scalar, lowercased as [`Slot::fill`] does, to `out`.
fn lowercase_into(v: &FieldValue<'_>, out: &mut String) {
    use std::fmt::Write as _;
    match v {
        FieldValue::Str(s) => {
            if s.is_ascii() {
                let start = out.len();
                out.push_str(s);
                out[start..].make_ascii_lowercase();
            } else {
                for ch in s.chars() {
                    out.extend(ch.to_lowercase());
                }
            }
        }
        FieldValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        FieldValue::UInt(u) => {
            let _ = write!(out, "{u}");
        }
        FieldValue::Float(f) => {
            let _ = write!(out, "{f}");
        }
        FieldValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        FieldValue::Null => {}
    }
}

fn parse_num(s: &str) -> Option<Number> {
    let t = s.trim();
    if t.is_empty() || !(t.as_bytes()[0].is_ascii_digit() || t.starts_with('-')) {
        return None;
    }
    Number::parse(t)
}

/// Whether a rule written for `rule` applies to a log that is `log`: every part the rule
/// names (product, category, service) is the log's, compared without case. A rule that names
/// none applies to every log.
pub fn logsource_fits(rule: &Logsource, log: &Logsource) -> bool {
    let part = |r: &Option<String>, l: &Option<String>| match r {
        None => true,
        Some(r) => l.as_deref().is_some_and(|l| l.eq_ignore_ascii_case(r)),
    };
    part(&rule.product, &log.product)
        && part(&rule.category, &log.category)
        && part(&rule.service, &log.service)
}

/// The per-thread matcher. Create one per thread with [`CompiledRuleSet::matcher`] (or take a
/// warm one from the set's pool with [`CompiledRuleSet::pooled_matcher`]).
#[derive(Debug)]
pub struct Matcher<'s> {
    set: &'s CompiledRuleSet,
    work: Work,
}

/// A matcher's memory, sized for its rule set: what the set's pool of spare matchers keeps
/// ([`CompiledRuleSet::pooled_matcher`]), so that a server matching batch after batch does not
/// allocate and warm a matcher up for each.
#[derive(Debug)]
pub(crate) struct Work {
    slots: Vec<Slot>,
    keywords: Slot,
    generation: u64,
    /// Whether the current event gave its fields in one pass ([`Event::for_each_field`]):
    /// a field not filled then is absent, unless its name is a path whose first part the
    /// event has (see `roots_seen`).
    table: bool,
    /// Whether the current event's log is unknown (no Channel): variants then need one of
    /// their [`crate::compile::Variant::evidence`] fields.
    unknown_source: bool,
    /// Per path root ([`crate::compile::TableName::root`]): the generation of the last event
    /// whose one-pass table had a node of that name; a path beginning with it is looked up
    /// by name in such events only.
    roots_seen: Vec<u64>,
    out: Vec<RuleId>,
    /// Per needle: the generation of the last event whose field contained it.
    needle_seen: Vec<u64>,
    /// Per field: the generation of the last event whose field was scanned for needles.
    scanned: Vec<u64>,
    /// Needles found in the current event.
    hits: Vec<u32>,
    /// The needles found in values scanned before, per automaton.
    memo: ScanMemo,
    /// The needles found in the value being scanned.
    found: Vec<u32>,
    /// The lowercased values of the current event for keyword scanning (see
    /// [`Matcher::keyword_text`]), and the event generation it holds.
    keyword_text: String,
    keyword_text_generation: u64,
    /// Whether `keyword_text` is ASCII (checked once per event, see `FieldAutomaton::fuzzy`).
    keyword_text_ascii: bool,
    /// Per variant: the generation of the last event it was evaluated for.
    tried: Vec<u64>,
    /// How many rule variants were evaluated since the matcher was made.
    evaluated: u64,
    /// Per variant: how often it was evaluated (for tuning, see [`Matcher::evaluation_counts`]).
    per_variant: Vec<u32>,
}

/// A matcher taken from its rule set's pool, given back to it when dropped.
#[derive(Debug)]
pub struct PooledMatcher<'s> {
    matcher: Option<Matcher<'s>>,
}

impl<'s> PooledMatcher<'s> {
    pub(crate) fn new(matcher: Matcher<'s>) -> Self {
        PooledMatcher {
            matcher: Some(matcher),
        }
    }
}

impl<'s> std::ops::Deref for PooledMatcher<'s> {
    type Target = Matcher<'s>;

    fn deref(&self) -> &Matcher<'s> {
        self.matcher
            .as_ref()
            .expect("a pooled matcher is held until dropped")
    }
}

impl std::ops::DerefMut for PooledMatcher<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.matcher
            .as_mut()
            .expect("a pooled matcher is held until dropped")
    }
}

impl Drop for PooledMatcher<'_> {
    fn drop(&mut self) {
        if let Some(matcher) = self.matcher.take() {
            let set = matcher.set;
            set.give_back(matcher.into_work());
        }
    }
}

impl<'s> Matcher<'s> {
    pub(crate) fn new(set: &'s CompiledRuleSet) -> Self {
        Matcher {
            set,
            work: Work {
                slots: (0..set.fields.len()).map(|_| Slot::default()).collect(),
                keywords: Slot::default(),
                generation: 0,
                table: false,
                unknown_source: false,
                roots_seen: vec![0; set.path_roots],
                out: Vec::new(),
                needle_seen: vec![0; set.needle_field.len()],
                scanned: vec![0; set.fields.len()],
                hits: Vec::new(),
                memo: ScanMemo::default(),
                found: Vec::new(),
                keyword_text: String::new(),
                keyword_text_generation: 0,
                keyword_text_ascii: true,
                tried: vec![0; set.variants.len()],
                evaluated: 0,
                per_variant: vec![0; set.variants.len()],
            },
        }
    }

    /// A matcher working in `work` (warm from earlier events), which a matcher of `set` gave
    /// back ([`Matcher::into_work`]).
    pub(crate) fn reusing(set: &'s CompiledRuleSet, work: Work) -> Self {
        Matcher { set, work }
    }

    /// The matcher's memory, to make another matcher of the same set with, its counts for
    /// tuning set back to zero.
    pub(crate) fn into_work(mut self) -> Work {
        self.work.evaluated = 0;
        self.work.per_variant.fill(0);
        self.work
    }

    /// How many rule evaluations the prefilter let through since this matcher was made (for
    /// benchmarks: divide by the number of events).
    pub fn evaluated(&self) -> u64 {
        self.work.evaluated
    }

    /// The rules evaluated most often (rule, count), most first: the ones the literal
    /// prefilter cannot rule out. For tuning.
    pub fn evaluation_counts(&self) -> Vec<(RuleId, u32)> {
        let mut out: Vec<(RuleId, u32)> = self
            .work
            .per_variant
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(v, c)| (self.set.variants[v].rule, *c))
            .collect();
        out.sort_by_key(|(_, c)| std::cmp::Reverse(*c));
        out
    }

    /// The rule set this matcher reads.
    pub fn rule_set(&self) -> &'s CompiledRuleSet {
        self.set
    }

    /// The bucket of the event's EventID (its first value, as a number) in `ci`.
    fn event_id_bucket<'c>(
        &mut self,
        ci: &'c ChannelIndex,
        event: &dyn Event,
    ) -> Option<&'c Bucket> {
        let eid_field = self.set.event_id_field;
        self.load(eid_field, event);
        let eid = self.work.slots[eid_field as usize]
            .values()
            .first()
            .and_then(Cached::number)?;
        let eid = match eid {
            Number::Int(i) => u64::try_from(i).ok()?,
            Number::Float(f) => f as u64,
        };
        ci.by_event_id.get(&eid)
    }

    /// The detection rules that match `event`, in rule order. The slice is reused by the next
    /// call. Rules whose [`crate::RuleMeta::report`] is false are included (correlations need
    /// them); skip them when reporting.
    pub fn matches(&mut self, event: &dyn Event) -> &[RuleId] {
        self.matches_from(event, &[])
    }

    /// Like [`Matcher::matches`], for an event whose log is known to be one of `logsources`
    /// (the service that sent it says so, since a JSON or syslog event carries no Channel to
    /// tell): such an event is offered only the rules whose logsource fits one of them, and
    /// on their condition alone (see [`crate::CompileOptions::require_evidence_of_source`],
    /// which applies to logs of unknown source only). Empty `logsources` means unknown, as
    /// in [`Matcher::matches`]. An event with a Channel the Windows mapping knows (or a
    /// Windows record) goes by the mapping whatever `logsources` says; one whose Channel the
    /// mapping does not know (a JSON log's own `channel` field) takes `logsources` like an
    /// event without one.
    pub fn matches_from(&mut self, event: &dyn Event, logsources: &[Logsource]) -> &[RuleId] {
        self.work.generation += 1;
        self.work.out.clear();
        let set = self.set;
        self.work.table = event.for_each_field(&mut TableSink {
            names: &set.table_names,
            roots_seen: &mut self.work.roots_seen,
            slots: &mut self.work.slots,
            generation: self.work.generation,
            current: 0,
        });
        let channel_field = set.channel_field;
        let channel = self
            .load_lower(channel_field, event)
            .values()
            .first()
            .map(|c| set.index.by_channel.get(c.lower.as_str()));
        let windows_record = event.is_windows_record();
        // A channel the Windows mapping does not know, on an event that is no Windows record
        // (a JSON log's own `channel: web`), says nothing the rules can go by: when the sender
        // declared what the log is, the event takes that, as a channel-less event does.
        let channel = match channel {
            Some(None) if !windows_record && !logsources.is_empty() => None,
            known => known,
        };
        let mut buckets: [Option<&Bucket>; 3] = [None; 3];
        let channel_less = channel.is_none() && !windows_record;
        let mut declared = if channel_less { logsources } else { &[] };
        self.work.unknown_source = channel_less && declared.is_empty();
        // The dispatch of the declared logsources holds only the variants that fit them.
        let declared_index = if declared.is_empty() {
            None
        } else {
            set.declared_index(declared)
        };
        match channel {
            None if windows_record => buckets[0] = Some(&set.index.windows_any),
            None => {
                let index = match &declared_index {
                    Some(index) => {
                        declared = &[];
                        index.as_ref()
                    }
                    None => &set.index.no_channel,
                };
                buckets[0] = Some(&index.any);
                buckets[1] = self.event_id_bucket(index, event);
            }
            Some(ci) => {
                buckets[0] = Some(&set.index.windows_any);
                if let Some(ci) = ci {
                    buckets[1] = Some(&ci.any);
                    buckets[2] = self.event_id_bucket(ci, event);
                }
            }
        }
        self.work.hits.clear();
        for bucket in buckets.iter().flatten() {
            for &f in &bucket.fields {
                self.scan(f, event);
            }
            for (f, auto) in &bucket.local {
                self.scan_with(*f, auto, event);
            }
        }
        for bucket in buckets.iter().flatten() {
            for &v in &bucket.always {
                self.try_variant(v, event, declared);
            }
            for i in 0..self.work.hits.len() {
                let n = self.work.hits[i];
                if let Some(vs) = bucket.by_needle.get(&n) {
                    for &v in vs {
                        if self.work.tried[v as usize] != self.work.generation {
                            self.work.tried[v as usize] = self.work.generation;
                            self.try_variant(v, event, declared);
                        }
                    }
                }
            }
        }
        self.work.out.sort_unstable();
        self.work.out.dedup();
        &self.work.out
    }

    /// Evaluates variant `v` on the current event, if its prefilters let it through.
    /// `declared` are the logsources the event's sender declared (empty when unknown).
    fn try_variant(&mut self, v: u32, event: &dyn Event, declared: &[Logsource]) {
        let set = self.set;
        let variant = &set.variants[v as usize];
        if !declared.is_empty()
            && !declared
                .iter()
                .any(|d| logsource_fits(&set.rules[variant.rule.0 as usize].logsource, d))
        {
            return;
        }
        if let Some(f) = variant.requires {
            self.load(f, event);
            if !self.work.slots[f as usize].present {
                return;
            }
        }
        if self.work.unknown_source && variant.declared_only {
            return;
        }
        let mut needs_keyword = false;
        if self.work.unknown_source && !variant.evidence.is_empty() {
            let mut any = false;
            for &f in &variant.evidence {
                self.load(f, event);
                if self.work.slots[f as usize].present {
                    any = true;
                    break;
                }
            }
            if !any {
                if variant.keyword_evidence.is_empty() {
                    return;
                }
                needs_keyword = true;
            }
        }
        if let Some(p) = &variant.prefilter {
            let generation = self.work.generation;
            let found = |set: &[u32]| {
                set.iter()
                    .any(|&n| self.work.needle_seen[n as usize] == generation)
            };
            if !p.also.iter().all(|set| found(set)) {
                return;
            }
        }
        self.work.evaluated += 1;
        self.work.per_variant[v as usize] = self.work.per_variant[v as usize].saturating_add(1);
        if self.eval(&variant.expr, event)
            && (!needs_keyword
                || variant
                    .keyword_evidence
                    .iter()
                    .any(|&i| self.item(&set.items[i as usize], event)))
        {
            self.work.out.push(variant.rule);
        }
    }

    /// Runs the field's Aho-Corasick automaton once over each of its values (lowercased),
    /// marking the needles found.
    fn scan(&mut self, field: u32, event: &dyn Event) {
        let set = self.set;
        // `scanned` is set only when the scan happens: literals rely on it (see `item`).
        let Some(auto) = &set.automata[field as usize] else {
            return;
        };
        if self.work.scanned[field as usize] == self.work.generation {
            return;
        }
        self.work.scanned[field as usize] = self.work.generation;
        self.scan_with(field, auto, event);
    }

    /// Runs `auto` over the values of `field` (lowercased), marking the needles found.
    fn scan_with(&mut self, field: u32, auto: &FieldAutomaton, event: &dyn Event) {
        let keywords = field == self.set.keyword_field;
        if keywords {
            self.keyword_text(event);
        } else {
            self.load_lower(field, event);
        }
        let generation = self.work.generation;
        let seen = &mut self.work.needle_seen;
        let hits = &mut self.work.hits;
        let memo = &mut self.work.memo;
        let found = &mut self.work.found;
        let automaton = std::ptr::from_ref(auto) as usize;
        let mut mark = |text: &str, ascii: bool| {
            let mut note = |id: u32| {
                if seen[id as usize] != generation {
                    seen[id as usize] = generation;
                    hits.push(id);
                }
            };
            // The keyword text holds a whole event: it never comes back.
            let slot = if keywords {
                None
            } else {
                match memo.lookup(automaton, text.as_bytes()) {
                    Ok(ids) => {
                        ids.iter().for_each(|&id| note(id));
                        return;
                    }
                    Err(slot) => slot,
                }
            };
            found.clear();
            if !ascii {
                found.extend_from_slice(&auto.fuzzy);
            }
            let none = auto
                .quick
                .as_ref()
                .is_some_and(|q| q.find(text.as_bytes()).is_none());
            if !none {
                for m in auto.ac.find_overlapping_iter(text.as_bytes()) {
                    found.push(auto.needle_of_pattern[m.pattern().as_usize()]);
                }
                found.sort_unstable();
                found.dedup();
            }
            found.iter().for_each(|&id| note(id));
            if let Some(slot) = slot {
                memo.remember(slot, text.as_bytes(), found);
            }
        };
        if keywords {
            mark(&self.work.keyword_text, self.work.keyword_text_ascii);
        } else {
            for c in self.work.slots[field as usize].values() {
                mark(&c.lower, c.ascii);
            }
        }
    }

    /// Fills `keyword_text` for the current event: a lowercased text holding every value of
    /// the event ([`Event::keyword_text`], or the values joined by NUL bytes), so that the
    /// keyword needles are searched at once (one search, with the automaton's prefilter,
    /// instead of one per value) without storing the values (they are stored, by
    /// [`Matcher::load_keywords`], only when a keyword rule is evaluated). A needle found
    /// across two values or in a key only lets a rule be evaluated for nothing.
    fn keyword_text(&mut self, event: &dyn Event) {
        if self.work.keyword_text_generation == self.work.generation {
            return;
        }
        self.work.keyword_text_generation = self.work.generation;
        let buf = &mut self.work.keyword_text;
        buf.clear();
        if self.set.numeric_keyword || !event.keyword_text(buf) {
            event.for_each_value(&mut |v: &FieldValue<'_>| {
                lowercase_into(v, buf);
                buf.push('\0');
            });
        }
        self.work.keyword_text_ascii = buf.is_ascii();
    }

    fn load_keywords(&mut self, event: &dyn Event) {
        let generation = self.work.generation;
        if self.work.keywords.generation != generation {
            self.work.keywords.fill(generation, |visit| {
                event.for_each_value(visit);
                true
            });
        }
        self.work.keywords.lower();
    }

    fn load(&mut self, field: u32, event: &dyn Event) {
        let generation = self.work.generation;
        let slot = &mut self.work.slots[field as usize];
        if slot.generation != generation {
            let root = self.set.path_root[field as usize];
            let absent =
                root == TableName::NONE || self.work.roots_seen[root as usize] != generation;
            if self.work.table && absent {
                slot.begin(generation, false);
            } else {
                let name = &self.set.fields[field as usize];
                slot.fill(generation, |visit| event.field_values(name, visit));
            }
        }
    }

    /// [`Matcher::load`], with the lowercased text of the values filled.
    fn load_lower(&mut self, field: u32, event: &dyn Event) -> &Slot {
        self.load(field, event);
        let slot = &mut self.work.slots[field as usize];
        slot.lower();
        slot
    }

    fn eval(&mut self, e: &Expr, event: &dyn Event) -> bool {
        match e {
            Expr::Const(b) => *b,
            Expr::Item(i) => {
                let set = self.set;
                self.item(&set.items[*i as usize], event)
            }
            Expr::And(v) => v.iter().all(|e| self.eval(e, event)),
            Expr::Or(v) => v.iter().any(|e| self.eval(e, event)),
            Expr::Not(e) => !self.eval(e, event),
            Expr::AtLeast(n, v) => {
                let mut count = 0;
                for e in v {
                    if self.eval(e, event) {
                        count += 1;
                        if count >= *n {
                            return true;
                        }
                    }
                }
                false
            }
        }
    }

    fn item(&mut self, item: &Item, event: &dyn Event) -> bool {
        if item.values.matches.is_empty() {
            // Only an unresolved placeholder leaves an item without values.
            return item.values.neq;
        }
        // Load the field (or every value, for keywords) and any referenced fields first.
        for m in &item.values.matches {
            if let ValueMatch::FieldRef { field, .. } = m {
                self.load_lower(*field, event);
            }
        }
        let slot: &Slot = match item.field {
            Some(f) => {
                self.load_lower(f, event);
                &self.work.slots[f as usize]
            }
            None => {
                self.load_keywords(event);
                &self.work.keywords
            }
        };
        // A literal whose needle the field's scan did not find matches no value.
        let field = item.field.unwrap_or(self.set.keyword_field);
        let scanned = self.work.scanned[field as usize] == self.work.generation;
        let (seen, generation) = (&self.work.needle_seen, self.work.generation);
        let test = |m: &ValueMatch| match m {
            ValueMatch::Lit { id, .. }
                if scanned && *id != NO_NEEDLE && seen[*id as usize] != generation =>
            {
                false
            }
            _ => value_matches(m, slot, &self.work.slots),
        };
        let hit = if item.values.all {
            item.values.per_value().all(|ways| ways.iter().any(test))
        } else {
            item.values.matches.iter().any(test)
        };
        hit != item.values.neq
    }
}

fn value_matches(m: &ValueMatch, slot: &Slot, slots: &[Slot]) -> bool {
    let values = slot.values();
    match m {
        ValueMatch::Exists(b) => slot.present == *b,
        // The specification keeps '' and null apart: only a missing field or a JSON null is
        // null; an empty string is matched by `''`.
        ValueMatch::Null => !slot.present || values.iter().any(|c| c.null),
        ValueMatch::FieldRef { field, op, cased } => {
            let other = slots[*field as usize].values();
            values.iter().any(|a| {
                other.iter().any(|b| {
                    let (h, n) = if *cased {
                        (a.raw.as_str(), b.raw.as_str())
                    } else {
                        (a.lower.as_str(), b.lower.as_str())
                    };
                    str_op(*op, h, n)
                })
            })
        }
        _ => values.iter().any(|c| !c.null && one(m, c)),
    }
}

fn str_op(op: StrOp, hay: &str, needle: &str) -> bool {
    match op {
        StrOp::Eq => hay == needle,
        StrOp::Prefix => hay.starts_with(needle),
        StrOp::Suffix => hay.ends_with(needle),
        StrOp::Contains => hay.contains(needle),
    }
}

fn one(m: &ValueMatch, c: &Cached) -> bool {
    match m {
        ValueMatch::Lit {
            op,
            needle,
            cased,
            finder,
            ..
        } => {
            let hay = if *cased { &c.raw } else { &c.lower };
            match op {
                StrOp::Eq => hay == needle,
                StrOp::Prefix => hay.starts_with(needle.as_str()),
                StrOp::Suffix => hay.ends_with(needle.as_str()),
                StrOp::Contains => finder.find(hay.as_bytes()).is_some(),
            }
        }
        ValueMatch::Regex { re, .. } => re.is_match(&c.raw),
        ValueMatch::Cidr(net) => {
            c.ip.get_or_init(|| c.raw.trim().parse().ok())
                .is_some_and(|ip| net.contains(ip))
        }
        ValueMatch::Num(op, bound) => c.number().is_some_and(|n| n.test(*op, *bound)),
        ValueMatch::NumEq(n, text) => {
            c.lower.eq_ignore_ascii_case(text)
                || c.num
                    .is_some_and(|v| v.compare(*n) == Some(std::cmp::Ordering::Equal))
        }
        ValueMatch::Bool(b) => {
            c.boolean == Some(*b) || c.lower == if *b { "true" } else { "false" }
        }
        ValueMatch::Time(part, op, bound) => {
            time_part(&c.raw, *part).is_some_and(|v| op.test(v, *bound))
        }
        ValueMatch::Null | ValueMatch::Exists(_) | ValueMatch::FieldRef { .. } => false,
    }
}
