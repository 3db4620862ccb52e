//! Sigma correlation rules on the ingest stream: the matches of every batch are fed, in the
//! order they arrived, to correlation state that lives from batch to batch, one state per
//! tenant (one tenant's failed logons never add up with another's).
//!
//! The state is kept in memory: a restart or a rule reload starts every window afresh, and an
//! event is correlated with the events of its tenant that arrived within its rules' timespans.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use vigil_detect::{CorrelationMatch, CorrelationState, Event, RuleId};

use crate::rules::LoadedRules;

/// How far ahead of the server's clock an event's time may be and still move correlation
/// time forward: a sender with a wrong clock must not make every window expire.
const MAX_CLOCK_AHEAD_MS: i64 = 5 * 60 * 1000;

/// The correlation state of the running rule set.
#[derive(Debug, Default)]
pub struct Correlations(Mutex<Option<Held>>);

#[derive(Debug)]
struct Held {
    /// The set the state was made for; a reload replaces it, and the state with it.
    rules: Arc<LoadedRules>,
    by_tenant: HashMap<String, CorrelationState>,
    /// The latest event time seen (bounded by the server's clock): windows that end before it
    /// are dropped.
    now_ms: i64,
    /// The JSON of the events the state holds, by stored id: the evidence of a correlation
    /// that fires may have arrived in earlier batches.
    json: HashMap<u64, Arc<str>>,
}

/// One stored event of a batch as the correlations see it.
pub struct Fed<'a> {
    /// Its place in the batch.
    pub index: usize,
    /// Its id in the log store (the tag the correlations give back).
    pub id: u64,
    /// Its tenant.
    pub tenant: &'a str,
    /// Its time, in ms since the epoch.
    pub timestamp_ms: i64,
    /// The event.
    pub event: &'a dyn Event,
    /// Its JSON text, as stored.
    pub json: &'a str,
    /// The detection rules it matched (reported or not).
    pub matched: &'a [RuleId],
}

/// A correlation that fired on an event of the batch.
#[derive(Debug)]
pub struct Fired {
    /// The place in the batch of the event that completed it.
    pub index: usize,
    /// What fired.
    pub found: CorrelationMatch,
    /// The stored id and JSON of every event that made it, oldest first.
    pub events: Vec<(u64, Arc<str>)>,
}

impl Correlations {
    /// Feeds a batch's stored events that matched a rule, in arrival order, and returns the
    /// correlations that fired.
    pub fn feed<'a>(
        &self,
        rules: &Arc<LoadedRules>,
        events: impl IntoIterator<Item = Fed<'a>>,
        server_now_ms: i64,
    ) -> Vec<Fired> {
        let set = &rules.set;
        if set.correlation_count() == 0 {
            return Vec::new();
        }
        // Holds no invariant a panic could break: a poisoned lock is still usable.
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !held.as_ref().is_some_and(|h| Arc::ptr_eq(&h.rules, rules)) {
            *held = Some(Held {
                rules: Arc::clone(rules),
                by_tenant: HashMap::new(),
                now_ms: i64::MIN,
                json: HashMap::new(),
            });
        }
        let Some(held) = held.as_mut() else {
            return Vec::new();
        };
        let mut fired = Vec::new();
        let mut out = Vec::new();
        for fed in events {
            if fed.matched.is_empty() {
                continue;
            }
            if !held.by_tenant.contains_key(fed.tenant) {
                held.by_tenant
                    .insert(fed.tenant.to_owned(), CorrelationState::new(set));
            }
            let Some(state) = held.by_tenant.get_mut(fed.tenant) else {
                continue;
            };
            held.json
                .entry(fed.id)
                .or_insert_with(|| Arc::from(fed.json));
            state.feed(
                set,
                fed.timestamp_ms,
                fed.event,
                fed.matched,
                fed.id,
                &mut out,
            );
            for found in out.drain(..) {
                let events = found
                    .events
                    .iter()
                    .filter_map(|id| Some((*id, Arc::clone(held.json.get(id)?))))
                    .collect();
                fired.push(Fired {
                    index: fed.index,
                    found,
                    events,
                });
            }
            let bounded = fed
                .timestamp_ms
                .min(server_now_ms.saturating_add(MAX_CLOCK_AHEAD_MS));
            held.now_ms = held.now_ms.max(bounded);
        }
        let now = held.now_ms;
        held.by_tenant.retain(|_, state| {
            state.prune(set, now);
            !state.is_empty()
        });
        let live: HashSet<u64> = held
            .by_tenant
            .values()
            .flat_map(CorrelationState::tags)
            .collect();
        held.json.retain(|id, _| live.contains(id));
        fired
    }
}
