//! Sigma correlation rules on the ingest stream: the matches of every batch are fed, in the
//! order they arrived, to correlation state that lives from batch to batch, one state per
//! tenant (one tenant's failed logons never add up with another's).
//!
//! The state is kept in memory: a restart or a rule reload starts every window afresh, and an
//! event is correlated with the events of its tenant that arrived within its rules' timespans.

use std::collections::HashMap;
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
}

/// One event of a batch as the correlations see it.
pub struct Fed<'a> {
    /// Its tenant.
    pub tenant: &'a str,
    /// Its time, in ms since the epoch.
    pub timestamp_ms: i64,
    /// The event.
    pub event: &'a dyn Event,
    /// The detection rules it matched (reported or not).
    pub matched: &'a [RuleId],
}

impl Correlations {
    /// Feeds a batch's matched events, in order, and returns the correlations that fired as
    /// (position in `events`, match): the event that completed each.
    pub fn feed<'a>(
        &self,
        rules: &Arc<LoadedRules>,
        events: impl IntoIterator<Item = Fed<'a>>,
        server_now_ms: i64,
    ) -> Vec<(usize, CorrelationMatch)> {
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
            });
        }
        let Some(held) = held.as_mut() else {
            return Vec::new();
        };
        let mut fired = Vec::new();
        let mut out = Vec::new();
        for (i, fed) in events.into_iter().enumerate() {
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
            // The tag is the event's place in its batch: the matches here are mapped back to
            // their completing event by that, and `CorrelationMatch::events` is not used (an
            // earlier batch's places mean nothing now).
            state.feed(
                set,
                fed.timestamp_ms,
                fed.event,
                fed.matched,
                i as u64,
                &mut out,
            );
            fired.extend(out.drain(..).map(|m| (i, m)));
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
        fired
    }
}
