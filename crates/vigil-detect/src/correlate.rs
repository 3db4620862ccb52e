//! Correlation rules (Sigma 2), evaluated over a stream of matches.
//!
//! The compiled correlations live in the immutable [`CompiledRuleSet`]; the per-stream state
//! (events inside each time window, per group) lives in a [`Correlator`] the caller owns, one
//! per stream. Feed it every event in stream order with the detection rules it matched. A
//! stream that outlives one borrow of the set (a server, batch after batch) keeps a
//! [`CorrelationState`] and hands it the set on each call, pruning it as time goes by.
//!
//! Semantics: for each correlation and group (the values of the `group-by` fields, through
//! `aliases`; an event that lacks one is in no group and not counted), the correlator keeps the
//! matching events of the last `timespan`. When an event arrives at time `t`, the windows a
//! timespan wide that hold it are checked against the condition (bounds inclusive): `[t - timespan,
//! t]` for an event in time order, and for one that arrives out of order also those that run past
//! it to the events held after it; when one holds, a [`CorrelationMatch`] is emitted and the
//! group's state is cleared so that the same events do not fire again. Events older than the newest
//! one of their group by more than `timespan` can no longer share a window with it and are dropped.
//! Correlations that refer to other correlations are fed the matches emitted earlier in the same
//! call: each is compiled after those it counts.
//!
//! A condition that events still to come could break — a count or sum bounded other than from below
//! (`lt`, `lte`, `eq`, `neq`), any condition on an average or a percentile — is decided once its
//! window has passed (see [`decided_at_close`]): a window runs `timespan` from the oldest event its
//! group holds and is evaluated when an event of the group arrives after it, or at
//! [`CorrelationState::finish`] (the end of a finite stream); [`prune`] keeps such windows a
//! timespan longer for that event.
//!
//! [`prune`]: CorrelationState::prune

use std::collections::{HashMap, VecDeque};

use vigil_sigma::{CmpOp, CorrelationCondition, CorrelationRule, CorrelationType};

use crate::compile::{CompiledRuleSet, RuleId};
use crate::event::{Event, FieldValue};

/// A compiled correlation rule.
#[derive(Debug)]
pub(crate) struct CompiledCorrelation {
    pub id: RuleId,
    pub kind: CorrelationType,
    /// The referenced rules, in the order written (temporal_ordered uses it).
    pub rules: Vec<RuleId>,
    /// Per group-by entry: the field to read for each referenced rule (aliases resolved).
    pub group_by: Vec<Vec<String>>,
    /// The group-by entries as written (field names or aliases), to name a group's values.
    pub group_names: Vec<String>,
    /// The value fields of value_* types (one, or several for value_count), each per
    /// referenced rule (aliases resolved).
    pub value_fields: Vec<Vec<String>>,
    pub timespan_ms: i64,
    pub condition: CorrelationCondition,
    /// Whether more events could still break the condition ([`decided_at_close`]): it is
    /// decided once the window has passed, not as events arrive.
    pub decided_at_close: bool,
}

/// The correlation `c` compiled as rule `id`, its rules resolved through `names`; or the
/// position in `rules` of the first it does not resolve, with why.
pub(crate) fn compile_correlation(
    c: &CorrelationRule,
    id: RuleId,
    names: &HashMap<String, RuleId>,
) -> Result<CompiledCorrelation, (usize, String)> {
    let mut rules = Vec::new();
    let mut rule_names = Vec::new();
    for (at, r) in c.rules.iter().enumerate() {
        match names.get(r) {
            Some(id) => {
                rules.push(*id);
                rule_names.push(r.clone());
            }
            None => {
                return Err((
                    at,
                    format!(
                        "the correlation refers to rule '{r}', which is not loaded; load it or fix the id/name"
                    ),
                ));
            }
        }
    }
    let resolve = |field: &str| -> Vec<String> {
        let alias = c.aliases.iter().find(|(a, _)| a == field);
        rule_names
            .iter()
            .map(|rn| {
                alias
                    .and_then(|(_, m)| m.iter().find(|(r, _)| r == rn))
                    .map_or_else(|| field.to_string(), |(_, f)| f.clone())
            })
            .collect()
    };
    Ok(CompiledCorrelation {
        id,
        kind: c.kind,
        group_by: c.group_by.iter().map(|g| resolve(g)).collect(),
        group_names: c.group_by.clone(),
        value_fields: c.condition.fields.iter().map(|f| resolve(f)).collect(),
        rules,
        timespan_ms: c.timespan_ms as i64,
        condition: c.condition.clone(),
        decided_at_close: decided_at_close(c.kind, &c.condition),
    })
}

/// Whether events still to come could break the condition of a window that holds now, so that
/// it must be decided once the window has passed: counts (events, distinct values, rules seen)
/// and sums only grow as events come, so a lower bound (`gt`, `gte`) holds for good once met,
/// and any other bound (`lt`, `lte`, `eq`, `neq`) does not; an average or a percentile moves
/// either way with every event.
fn decided_at_close(kind: CorrelationType, condition: &CorrelationCondition) -> bool {
    match kind {
        CorrelationType::ValueAvg | CorrelationType::ValuePercentile => true,
        _ => condition
            .comparisons
            .iter()
            .any(|(op, _)| !matches!(op, CmpOp::Gt | CmpOp::Gte)),
    }
}

/// What a compiled correlation rule aggregates, to describe its matches to people.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CorrelationShape<'a> {
    /// Its type.
    pub kind: CorrelationType,
    /// Its `group-by` entries as written: the names of [`CorrelationMatch::group`]'s values.
    pub group_by: &'a [String],
    /// The fields of `value_*` types (several only for `value_count`, counted together).
    pub fields: &'a [String],
    /// How many rules it refers to.
    pub rules: usize,
    /// Its timespan, in ms.
    pub timespan_ms: i64,
    /// Its condition.
    pub condition: &'a CorrelationCondition,
    /// Whether the condition is decided once a window has passed (one that more events could
    /// break: a count bounded from above, an average …) rather than as events arrive.
    pub decided_at_close: bool,
}

impl CompiledRuleSet {
    /// The shape of a correlation rule; `None` for other rules.
    pub fn correlation_shape(&self, rule: RuleId) -> Option<CorrelationShape<'_>> {
        let c = self.correlations.iter().find(|c| c.id == rule)?;
        Some(CorrelationShape {
            kind: c.kind,
            group_by: &c.group_names,
            fields: &c.condition.fields,
            rules: c.rules.len(),
            timespan_ms: c.timespan_ms,
            condition: &c.condition,
            decided_at_close: c.decided_at_close,
        })
    }

    /// How far back the loaded correlations look, in ms (`None` without correlations): their
    /// longest timespan, twice it for a correlation decided at close (its windows wait a
    /// timespan more for their group, see [`CorrelationState::prune`]). Events older than
    /// that before the newest cannot count any more.
    pub fn correlation_reach_ms(&self) -> Option<i64> {
        self.correlations
            .iter()
            .map(|c| {
                if c.decided_at_close {
                    c.timespan_ms.saturating_mul(2)
                } else {
                    c.timespan_ms
                }
            })
            .max()
    }

    /// Whether a correlation counts the matches of `rule`.
    pub fn feeds_correlation(&self, rule: RuleId) -> bool {
        self.correlations.iter().any(|c| c.rules.contains(&rule))
    }
}

/// One correlation window, saved (see [`CorrelationState::export`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SavedWindow {
    signature: Signature,
    group: Vec<String>,
    entries: Vec<SavedEntry>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct SavedEntry {
    ts: i64,
    pos: usize,
    value: Option<String>,
    tag: u64,
    /// [`Entry::counted`] (absent from windows saved before chains carried them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    counted: Vec<u64>,
}

/// What makes two correlations read events the same way: their windows can pass from one to
/// the other.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Signature {
    rule: String,
    kind: String,
    rules: Vec<String>,
    group_by: Vec<Vec<String>>,
    value_field: Option<Vec<String>>,
    timespan_ms: i64,
}

impl Signature {
    fn of(set: &CompiledRuleSet, c: &CompiledCorrelation) -> Signature {
        Signature {
            rule: set.rule(c.id).id().to_owned(),
            kind: format!("{:?}", c.kind),
            rules: c
                .rules
                .iter()
                .map(|r| set.rule(*r).id().to_owned())
                .collect(),
            group_by: c.group_by.clone(),
            // Per referenced rule, the fields it reads, as one text: a single field reads as
            // it did before several could be given, so saved windows still match.
            value_field: (!c.value_fields.is_empty()).then(|| {
                (0..c.rules.len())
                    .map(|pos| {
                        let fields: Vec<&str> =
                            c.value_fields.iter().map(|f| f[pos].as_str()).collect();
                        fields.join(", ")
                    })
                    .collect()
            }),
            timespan_ms: c.timespan_ms,
        }
    }
}

impl CorrelationMatch {
    /// Its group as people read it: `user=root, src=203.0.113.9` (its rule's `group-by` names
    /// with their values; empty when the rule has no `group-by`).
    pub fn group_text(&self, set: &CompiledRuleSet) -> String {
        set.correlation_shape(self.rule)
            .map(|shape| shape.group_text(&self.group))
            .unwrap_or_default()
    }
}

impl CorrelationShape<'_> {
    /// A group's values as people read them: `user=root, src=203.0.113.9`.
    pub fn group_text(&self, values: &[String]) -> String {
        self.group_by
            .iter()
            .zip(values)
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A correlation rule that fired.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationMatch {
    /// The correlation rule.
    pub rule: RuleId,
    /// The time (ms) of the event that completed it in event time: the latest of the window
    /// that met the condition, whichever event arrived last.
    pub timestamp_ms: i64,
    /// The values of the group-by fields.
    pub group: Vec<String>,
    /// The aggregated value that met the condition (count, distinct count, sum …).
    pub value: f64,
    /// The tags given to [`Correlator::feed`] with the events of the window that met the
    /// condition, oldest first: what to show a responder as the evidence. For a correlation
    /// that counts another one, the events of the matches it counted (each as that match
    /// lists them) and of the rules it counts directly; as for any match, no more than its
    /// window held.
    pub events: Vec<u64>,
}

#[derive(Debug, Clone)]
struct Entry {
    ts: i64,
    /// Position of the matched rule in the correlation's `rules`.
    pos: usize,
    value: Option<String>,
    /// The caller's tag of the event.
    tag: u64,
    /// When the entry is a match of a correlation this one counts, the tags of that match's
    /// events, which are its evidence (empty for an event a detection rule matched).
    counted: Box<[u64]>,
}

impl Entry {
    /// The tags of the events the entry stands for: its own, or a counted match's.
    fn events(&self) -> &[u64] {
        if self.counted.is_empty() {
            std::slice::from_ref(&self.tag)
        } else {
            &self.counted
        }
    }
}

/// What an entry fed to the windows is tagged with: the caller's tag of the event, and for a
/// correlation's match the tags of its events ([`Entry::counted`]).
#[derive(Clone, Copy)]
struct Tag<'a> {
    tag: u64,
    counted: &'a [u64],
}

/// Per-stream correlation state over one borrowed rule set. Not shared between threads.
#[derive(Debug)]
pub struct Correlator<'s> {
    set: &'s CompiledRuleSet,
    state: CorrelationState,
}

/// How many groups [`WindowsHeld::top`] names (the five highest values).
pub const TOP_GROUPS: usize = 5;

/// What a correlation's windows hold ([`CorrelationState::held`]): what is counting now.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowsHeld {
    /// The correlation rule.
    pub rule: RuleId,
    /// Its groups with events in a window (one per `group-by` value: a user, an IP …).
    pub groups: usize,
    /// The matched events its windows hold.
    pub events: usize,
    /// The time of the oldest of them, in ms since the epoch.
    pub oldest_ms: Option<i64>,
    /// The groups whose value is highest now, highest first (at most 5).
    pub top: Vec<GroupValue>,
}

/// A correlation's value as people read it: whole numbers without decimals (`4`), others
/// with two (`12.35`).
pub fn value_text(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value:.2}")
    }
}

/// A correlation's group and its value now: what the correlation compares with its condition
/// (the count, the distinct values, the sum … or for temporal types the rules seen) over the
/// timespan up to the group's latest event.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupValue {
    /// Its `group-by` values.
    pub group: Vec<String>,
    /// Its value.
    pub value: f64,
}

/// Per-stream correlation state that does not borrow its rule set: every call takes the set
/// it was made for ([`CorrelationState::new`]); give it another set and it must be made anew.
#[derive(Debug, Default)]
pub struct CorrelationState {
    groups: Vec<HashMap<Vec<String>, VecDeque<Entry>>>,
    fired: Vec<RuleId>,
}

/// A window's group values as an event: what a chained correlation is fed for a match decided
/// with no event at hand ([`CorrelationState::feed_chains`]).
struct GroupValues<'a> {
    /// The group-by entries as written.
    names: &'a [String],
    /// Their values, in the same order.
    values: &'a [String],
}

impl Event for GroupValues<'_> {
    fn field_values(&self, field: &str, visit: &mut dyn FnMut(&FieldValue<'_>)) -> bool {
        let mut found = false;
        for (name, value) in self.names.iter().zip(self.values) {
            if name == field {
                visit(&FieldValue::Str(value.as_str().into()));
                found = true;
            }
        }
        found
    }

    fn for_each_value(&self, visit: &mut dyn FnMut(&FieldValue<'_>)) {
        for value in self.values {
            visit(&FieldValue::Str(value.as_str().into()));
        }
    }
}

/// What joins the values of a `value_count` over several fields into the one value counted (a
/// character no field value holds in practice, so two combinations do not read alike).
const VALUE_SEPARATOR: &str = "\u{1f}";

fn first_value(event: &dyn Event, field: &str) -> Option<String> {
    let mut out = None;
    event.field_values(field, &mut |v| {
        if out.is_none() {
            out = match v {
                FieldValue::Str(s) => Some(s.to_string()),
                FieldValue::Int(i) => Some(i.to_string()),
                FieldValue::UInt(u) => Some(u.to_string()),
                FieldValue::Float(f) => Some(f.to_string()),
                FieldValue::Bool(b) => Some(b.to_string()),
                FieldValue::Null => None,
            };
        }
    });
    out
}

impl<'s> Correlator<'s> {
    /// A correlator with empty state for the correlations of `set`.
    pub fn new(set: &'s CompiledRuleSet) -> Self {
        Correlator {
            set,
            state: CorrelationState::new(set),
        }
    }

    /// Feeds one event: its timestamp (ms since the epoch), the event, the detection rules it
    /// matched (from [`crate::Matcher::matches`]), and a tag of the caller's choosing that
    /// fired correlations give back in [`CorrelationMatch::events`] (a record number, a stored
    /// id). Appends fired correlations to `out`.
    pub fn feed(
        &mut self,
        timestamp_ms: i64,
        event: &dyn Event,
        matched: &[RuleId],
        tag: u64,
        out: &mut Vec<CorrelationMatch>,
    ) {
        self.state
            .feed(self.set, timestamp_ms, event, matched, tag, out);
    }

    /// The end of the stream: decides the windows still open ([`CorrelationState::finish`]).
    pub fn finish(&mut self, out: &mut Vec<CorrelationMatch>) {
        self.state.finish(self.set, out);
    }
}

impl CorrelationState {
    /// Empty state for the correlations of `set`.
    pub fn new(set: &CompiledRuleSet) -> Self {
        CorrelationState {
            groups: set.correlations.iter().map(|_| HashMap::new()).collect(),
            fired: Vec::new(),
        }
    }

    /// The state for `new_set`, keeping what this one (made for `old_set`) holds for each
    /// correlation that reads events the same way in both: same rule id, type, referenced rules
    /// (by id, in order), group-by fields, value field and timespan. Its condition may differ —
    /// a threshold tuned in a rule reload keeps the events already counted. Other correlations
    /// start empty.
    pub fn carry_over(
        self,
        old_set: &CompiledRuleSet,
        new_set: &CompiledRuleSet,
    ) -> CorrelationState {
        CorrelationState::import(new_set, self.export(old_set))
    }

    /// What the state holds, as plain data that outlives the rule set (to save across a
    /// restart): each window with what identifies its correlation.
    pub fn export(&self, set: &CompiledRuleSet) -> Vec<SavedWindow> {
        set.correlations
            .iter()
            .zip(&self.groups)
            .flat_map(|(c, groups)| {
                let signature = Signature::of(set, c);
                groups.iter().map(move |(group, entries)| SavedWindow {
                    signature: signature.clone(),
                    group: group.clone(),
                    entries: entries
                        .iter()
                        .map(|e| SavedEntry {
                            ts: e.ts,
                            pos: e.pos,
                            value: e.value.clone(),
                            tag: e.tag,
                            counted: e.counted.to_vec(),
                        })
                        .collect(),
                })
            })
            .collect()
    }

    /// State for `set` from saved windows: those of a correlation of `set` that reads events
    /// the same way (see [`CorrelationState::carry_over`]); the others are dropped.
    pub fn import(set: &CompiledRuleSet, windows: Vec<SavedWindow>) -> CorrelationState {
        let mut state = CorrelationState::new(set);
        let signatures: Vec<Signature> = set
            .correlations
            .iter()
            .map(|c| Signature::of(set, c))
            .collect();
        for window in windows {
            if window.signature.rule.is_empty() {
                continue;
            }
            let Some(index) = signatures.iter().position(|s| *s == window.signature) else {
                continue;
            };
            let rules = set.correlations[index].rules.len();
            let entries: VecDeque<Entry> = window
                .entries
                .into_iter()
                .filter(|e| e.pos < rules)
                .map(|e| Entry {
                    ts: e.ts,
                    pos: e.pos,
                    value: e.value,
                    tag: e.tag,
                    counted: e.counted.into(),
                })
                .collect();
            if !entries.is_empty() {
                state.groups[index].insert(window.group, entries);
            }
        }
        state
    }

    /// What the state holds for each correlation of `set`, in the set's order.
    pub fn held(&self, set: &CompiledRuleSet) -> Vec<WindowsHeld> {
        set.correlations
            .iter()
            .zip(&self.groups)
            .map(|(c, groups)| {
                let mut top: Vec<GroupValue> = groups
                    .iter()
                    .filter_map(|(group, entries)| {
                        let newest = entries.back()?.ts;
                        let window: Vec<&Entry> = entries
                            .iter()
                            .filter(|e| e.ts >= newest - c.timespan_ms)
                            .collect();
                        Some(GroupValue {
                            group: group.clone(),
                            value: aggregate(c, &window)?,
                        })
                    })
                    .collect();
                top.sort_by(|a, b| b.value.total_cmp(&a.value).then(a.group.cmp(&b.group)));
                top.truncate(TOP_GROUPS);
                WindowsHeld {
                    rule: c.id,
                    groups: groups.len(),
                    events: groups.values().map(VecDeque::len).sum(),
                    oldest_ms: groups
                        .values()
                        .filter_map(|entries| entries.front().map(|e| e.ts))
                        .min(),
                    top,
                }
            })
            .collect()
    }

    /// How many matched events the state holds (across every correlation and group).
    pub fn len(&self) -> usize {
        self.groups
            .iter()
            .flat_map(HashMap::values)
            .map(VecDeque::len)
            .sum()
    }

    /// The tags of the events the state holds (an event held for several correlations or
    /// groups comes once for each).
    pub fn tags(&self) -> impl Iterator<Item = u64> + '_ {
        self.groups
            .iter()
            .flat_map(HashMap::values)
            .flat_map(|entries| entries.iter().flat_map(|e| e.events().iter().copied()))
    }

    /// Whether the state holds no event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets the events that can no longer share a window with an event of time
    /// `now_ms - late_ms` or later (older than that by more than their correlation's timespan),
    /// and the groups left empty: without it, a group that never sees another event (one source
    /// IP among thousands) would be held for ever. `late_ms` is how far behind the newest time
    /// an event may still arrive and be fed (a sender forwarding in batches, a tenant whose
    /// logs lag another's): the events it may share a window with are kept for it. An event
    /// that arrives later than that with an older time is correlated only with what is still
    /// held.
    ///
    /// The windows of a correlation decided at close wait a timespan after their end for their
    /// group's next event, which decides them. Those whose group stayed quiet that long while
    /// time moved from `since_ms` (the previous prune's `now_ms`) to `now_ms` are decided here
    /// (a service installed once and never again is what a rare-event rule is for), and what
    /// they match is appended to `out`, at the time of their last event. Windows that had
    /// lapsed already at `since_ms` — their events came too late for any other of their group
    /// to be held — are let go undecided, as other correlations' late events are.
    pub fn prune(
        &mut self,
        set: &CompiledRuleSet,
        now_ms: i64,
        late_ms: i64,
        since_ms: i64,
        out: &mut Vec<CorrelationMatch>,
    ) {
        for ci in 0..set.correlations.len() {
            let (cc, groups) = (&set.correlations[ci], &mut self.groups[ci]);
            let horizon = now_ms.saturating_sub(cc.timespan_ms);
            if cc.decided_at_close {
                let decided = out.len();
                let before = since_ms.saturating_sub(cc.timespan_ms);
                let ends = |entries: &VecDeque<Entry>| {
                    entries.front().map(|e| e.ts.saturating_add(cc.timespan_ms))
                };
                let mut lapsed: Vec<(&Vec<String>, &mut VecDeque<Entry>)> = groups
                    .iter_mut()
                    .filter(|(_, entries)| ends(entries).is_some_and(|end| end < horizon))
                    .collect();
                // In time order, as they closed.
                lapsed.sort_by_key(|(group, entries)| {
                    (entries.front().map(|e| e.ts), (*group).clone())
                });
                for (group, entries) in lapsed {
                    // Too late: the windows that had lapsed before this step.
                    while let Some(end) = ends(entries).filter(|end| *end < before) {
                        let n = entries.partition_point(|e| e.ts <= end);
                        entries.drain(..n);
                    }
                    close_windows(cc, group, entries, Some(horizon), out);
                }
                groups.retain(|_, entries| !entries.is_empty());
                self.feed_chains(set, ci, decided, out);
                continue;
            }
            let kept_from = horizon.saturating_sub(late_ms);
            groups.retain(|_, entries| {
                while entries.front().is_some_and(|e| e.ts < kept_from) {
                    entries.pop_front();
                }
                !entries.is_empty()
            });
        }
    }

    /// Decides every window still open as if the stream ended here (the end of a hunt's
    /// files, of a preview's events): the correlations decided at close whose windows never
    /// saw their group again. Others have said all they will as their events arrived.
    pub fn finish(&mut self, set: &CompiledRuleSet, out: &mut Vec<CorrelationMatch>) {
        for ci in 0..set.correlations.len() {
            let (cc, groups) = (&set.correlations[ci], &mut self.groups[ci]);
            if !cc.decided_at_close {
                continue;
            }
            let decided = out.len();
            let mut closed: Vec<(&Vec<String>, &mut VecDeque<Entry>)> = groups.iter_mut().collect();
            // In time order, as they would have closed.
            closed
                .sort_by_key(|(group, entries)| (entries.front().map(|e| e.ts), (*group).clone()));
            for (group, entries) in closed {
                close_windows(cc, group, entries, None, out);
            }
            groups.clear();
            self.feed_chains(set, ci, decided, out);
        }
    }

    /// Feeds the correlations that count correlation `ci` with its matches in `out[from..]`:
    /// windows decided at their close with no event at hand (their group stayed quiet, or the
    /// stream ended). A chained correlation reads its group-by fields from what it counts, and such
    /// a match has only its window's group values, so those are the event it is fed, at the time of
    /// the window's last event (a chain groups by the fields of the correlations it counts, or by
    /// none). Correlations come after those they count, so a later one is decided after being fed.
    /// What the feeding fires is added to `out`, its own chains fed as they fire.
    fn feed_chains(
        &mut self,
        set: &CompiledRuleSet,
        ci: usize,
        from: usize,
        out: &mut Vec<CorrelationMatch>,
    ) {
        let cc = &set.correlations[ci];
        if !set.feeds_correlation(cc.id) {
            return;
        }
        let decided = out.len();
        for i in from..decided {
            let m = &out[i];
            let (timestamp_ms, group) = (m.timestamp_ms, m.group.clone());
            let tag = m.events.last().copied().unwrap_or_default();
            let counted = m.events.clone();
            let event = GroupValues {
                names: &cc.group_names,
                values: &group,
            };
            let tag = Tag {
                tag,
                counted: &counted,
            };
            self.feed_counted(set, timestamp_ms, &event, &[cc.id], tag, out);
        }
    }

    /// [`Correlator::feed`] for the set this state was made for.
    pub fn feed(
        &mut self,
        set: &CompiledRuleSet,
        timestamp_ms: i64,
        event: &dyn Event,
        matched: &[RuleId],
        tag: u64,
        out: &mut Vec<CorrelationMatch>,
    ) {
        let tag = Tag { tag, counted: &[] };
        self.feed_counted(set, timestamp_ms, event, matched, tag, out);
    }

    /// [`CorrelationState::feed`], where `matched` may be a correlation's match whose events
    /// are the tag's `counted` (see [`Entry::counted`]). Chained correlations fed a match that
    /// fires in this call take its events the same way.
    fn feed_counted(
        &mut self,
        set: &CompiledRuleSet,
        timestamp_ms: i64,
        event: &dyn Event,
        matched: &[RuleId],
        Tag { tag, counted }: Tag<'_>,
        out: &mut Vec<CorrelationMatch>,
    ) {
        if set.correlations.is_empty() {
            return;
        }
        debug_assert_eq!(
            self.groups.len(),
            set.correlations.len(),
            "state of another set"
        );
        self.fired.clear();
        let from = out.len();
        for (ci, cc) in set.correlations.iter().enumerate() {
            // The groups this event was counted in: an event that several of the rules match
            // is one event to a count, a sum or an average (the temporal types count rules,
            // and take it for each).
            let mut counted_in: Vec<Vec<String>> = Vec::new();
            let once_per_group = cc.rules.len() > 1
                && !matches!(
                    cc.kind,
                    CorrelationType::Temporal | CorrelationType::TemporalOrdered
                );
            for (pos, rule) in cc.rules.iter().enumerate() {
                if !matched.contains(rule) && !self.fired.contains(rule) {
                    continue;
                }
                // An event without a value for each group-by field belongs to no group, as the
                // query backends' `stats … by` and terms aggregations leave it out.
                let Some(group) = cc
                    .group_by
                    .iter()
                    .map(|fields| first_value(event, &fields[pos]))
                    .collect::<Option<Vec<String>>>()
                else {
                    continue;
                };
                // Several fields count together: an event with all of them is one value, their
                // values in a row; an event without one of them is not counted.
                let value = if cc.value_fields.is_empty() {
                    None
                } else {
                    match cc
                        .value_fields
                        .iter()
                        .map(|f| first_value(event, &f[pos]))
                        .collect::<Option<Vec<String>>>()
                    {
                        Some(values) => Some(values.join(VALUE_SEPARATOR)),
                        None => continue,
                    }
                };
                if once_per_group {
                    if counted_in.contains(&group) {
                        continue;
                    }
                    counted_in.push(group.clone());
                }
                // A correlation that fired with this event, counted here: its events.
                let counted: Box<[u64]> = if matched.contains(rule) {
                    counted.into()
                } else {
                    out[from..]
                        .iter()
                        .filter(|m| m.rule == *rule)
                        .flat_map(|m| m.events.iter().copied())
                        .collect()
                };
                let entries = self.groups[ci].entry(group.clone()).or_default();
                let at = entries.partition_point(|e| e.ts <= timestamp_ms);
                entries.insert(
                    at,
                    Entry {
                        ts: timestamp_ms,
                        pos,
                        value,
                        tag,
                        counted,
                    },
                );
                if cc.decided_at_close {
                    // The windows of the group that ended before this event (which none of
                    // them holds) are decided now.
                    if close_windows(cc, &group, entries, Some(timestamp_ms), out) {
                        self.fired.push(cc.id);
                    }
                    continue;
                }
                let newest = entries.back().map_or(timestamp_ms, |e| e.ts);
                while entries
                    .front()
                    .is_some_and(|e| e.ts < newest - cc.timespan_ms)
                {
                    entries.pop_front();
                }
                if let Some((value, last_ms, events)) =
                    first_window_holding(cc, entries, timestamp_ms)
                {
                    entries.clear();
                    out.push(CorrelationMatch {
                        rule: cc.id,
                        timestamp_ms: last_ms,
                        group,
                        value,
                        events,
                    });
                    self.fired.push(cc.id);
                }
            }
        }
    }
}

/// The first window, in time order, that holds time `t` and satisfies the correlation: its
/// value and its events. The windows are the widest a timespan allows — from `t - timespan`, then
/// from each later time of a held event up to `t` — each evaluated only when it reaches an event
/// the one before did not (otherwise it holds a part of the one before). For an event that
/// arrives in time order that is one window, `[t - timespan, t]`; an event that arrives late can
/// complete a window that runs past it on both sides (held at 5 s and 15 s, a late 10 s makes
/// three in `[5 s, 15 s]`). Also the time of the window's latest event, which completed it in
/// event time (the late one did in arrival order only).
fn first_window_holding(
    cc: &CompiledCorrelation,
    entries: &VecDeque<Entry>,
    t: i64,
) -> Option<(f64, i64, Vec<u64>)> {
    let mut start = t.saturating_sub(cc.timespan_ms);
    let mut reached = 0;
    loop {
        let end = entries.partition_point(|e| e.ts <= start.saturating_add(cc.timespan_ms));
        if end > reached {
            reached = end;
            let begin = entries.partition_point(|e| e.ts < start);
            let window = entries.range(begin..end);
            let value = if cc.kind == CorrelationType::EventCount {
                // The common brute-force count, which a late event in a flood evaluates for
                // each event that came before it: no need to gather the window.
                let n = window.len() as f64;
                compare(&cc.condition, n).then_some(n)
            } else {
                evaluate(cc, &window.clone().collect::<Vec<_>>())
            };
            if let Some(value) = value {
                let last_ms = window.clone().next_back().map_or(t, |e| e.ts);
                return Some((value, last_ms, tags(window)));
            }
        }
        let next = entries.partition_point(|e| e.ts <= start);
        match entries.get(next) {
            Some(e) if e.ts <= t => start = e.ts,
            _ => return None,
        }
    }
}

/// Decides the windows of one group of a correlation decided at close: each window runs a
/// timespan from its oldest event; those that ended before `now_ms` (all of them without) are
/// evaluated, emitted when their condition holds (at the time of their last event), and
/// forgotten. Whether one fired.
fn close_windows(
    cc: &CompiledCorrelation,
    group: &[String],
    entries: &mut VecDeque<Entry>,
    now_ms: Option<i64>,
    out: &mut Vec<CorrelationMatch>,
) -> bool {
    let mut fired = false;
    while let Some(first) = entries.front() {
        let end = first.ts.saturating_add(cc.timespan_ms);
        if now_ms.is_some_and(|now| end >= now) {
            break;
        }
        let n = entries.partition_point(|e| e.ts <= end);
        let window: Vec<&Entry> = entries.iter().take(n).collect();
        if let Some(value) = evaluate(cc, &window) {
            out.push(CorrelationMatch {
                rule: cc.id,
                timestamp_ms: window.last().map_or(first.ts, |e| e.ts),
                group: group.to_vec(),
                value,
                events: tags(window.iter().copied()),
            });
            fired = true;
        }
        entries.drain(..n);
    }
    fired
}

/// The tags of a window's events, each once, in the window's order (a counted match's events
/// in the place of the match): a temporal correlation holds an event that several of its
/// rules match once per rule, side by side, and two matches a chain counts may share events.
fn tags<'e>(window: impl Iterator<Item = &'e Entry>) -> Vec<u64> {
    let mut tags: Vec<u64> = Vec::new();
    let mut chained = false;
    for e in window {
        chained |= !e.counted.is_empty();
        tags.extend_from_slice(e.events());
    }
    if chained {
        let mut seen = std::collections::HashSet::with_capacity(tags.len());
        tags.retain(|t| seen.insert(*t));
    } else {
        tags.dedup();
    }
    tags
}

/// The share of the window's events, in percent, that carry each value, smallest first.
fn value_shares(window: &[&Entry]) -> Vec<f64> {
    let mut values: Vec<&str> = window.iter().filter_map(|e| e.value.as_deref()).collect();
    values.sort_unstable();
    let total = values.len() as f64;
    let mut shares: Vec<f64> = values
        .chunk_by(|a, b| a == b)
        .map(|same| same.len() as f64 * 100.0 / total)
        .collect();
    shares.sort_by(f64::total_cmp);
    shares
}

fn compare(cond: &CorrelationCondition, v: f64) -> bool {
    cond.comparisons
        .iter()
        .all(|(op, bound)| op.test(v, *bound))
}

/// The correlation's value of a window if its condition holds for it.
fn evaluate(cc: &CompiledCorrelation, window: &[&Entry]) -> Option<f64> {
    if cc.kind == CorrelationType::ValuePercentile && cc.condition.percentile.is_none() {
        // Some value's share meets the condition (a process name seen in at most 1 % of the
        // group's processes); the smallest such share is the one reported.
        return value_shares(window)
            .into_iter()
            .find(|share| compare(&cc.condition, *share));
    }
    let v = aggregate(cc, window)?;
    let temporal = matches!(
        cc.kind,
        CorrelationType::Temporal | CorrelationType::TemporalOrdered
    );
    if temporal && cc.condition.comparisons.is_empty() {
        // Without a condition, a temporal correlation needs every rule it names.
        return (v as usize == cc.rules.len()).then_some(v);
    }
    compare(&cc.condition, v).then_some(v)
}

/// The correlation's value of a window (`None` where it has none: the average of no number).
fn aggregate(cc: &CompiledCorrelation, window: &[&Entry]) -> Option<f64> {
    let nums = || {
        window
            .iter()
            .filter_map(|e| e.value.as_deref()?.trim().parse::<f64>().ok())
    };
    let v = match cc.kind {
        CorrelationType::EventCount => window.len() as f64,
        CorrelationType::ValueCount => {
            let mut distinct: Vec<&str> =
                window.iter().filter_map(|e| e.value.as_deref()).collect();
            distinct.sort_unstable();
            distinct.dedup();
            distinct.len() as f64
        }
        CorrelationType::ValueSum => nums().sum(),
        CorrelationType::ValueAvg => {
            let (sum, n) = nums().fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
            if n == 0 {
                return None;
            }
            sum / n as f64
        }
        // The specification's reading, "when a certain percentage of observed values occur":
        // the share of the window's events, in percent, that carry each value of the field; its
        // example's `lte: 1` is a value seen in at most 1 % of them. Its smallest share here.
        CorrelationType::ValuePercentile if cc.condition.percentile.is_none() => {
            return value_shares(window).first().copied();
        }
        // With `percentile: P` (an extension), the P-th percentile of a numeric field.
        CorrelationType::ValuePercentile => {
            let mut v: Vec<f64> = nums().collect();
            if v.is_empty() {
                return None;
            }
            v.sort_by(|a, b| a.total_cmp(b));
            let p = cc.condition.percentile.unwrap_or(50.0).clamp(0.0, 100.0);
            let rank = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
            v[rank]
        }
        CorrelationType::Temporal => {
            let mut seen = vec![false; cc.rules.len()];
            for e in window {
                seen[e.pos] = true;
            }
            seen.iter().filter(|s| **s).count() as f64
        }
        // The most rules whose events come in the order `rules` lists them, as the
        // specification's count "of different event types" with the events "in the order
        // provided": the longest run of strictly increasing positions among the window's
        // events, in time order (A then C of A, B, C is 2, as B then C is). With no condition
        // every rule is needed, which is the whole list in order.
        CorrelationType::TemporalOrdered => {
            // The smallest last position of an ordered run of each length.
            let mut ends: Vec<usize> = Vec::new();
            for e in window {
                let at = ends.partition_point(|&end| end < e.pos);
                match ends.get_mut(at) {
                    Some(end) => *end = e.pos,
                    None => ends.push(e.pos),
                }
            }
            ends.len() as f64
        }
    };
    Some(v)
}
