//! Rules not loaded yet, run over the stored events: a responder who turns a lesson into a
//! detection sees what it would have found — and how noisy it is — before it goes into the
//! rules directory. Events are read newest first, a page at a time, and matched as ingest
//! matches them (as their service declares its logs); nothing is recorded. Correlation rules
//! among them are evaluated once the window is read: the matched events they count are fed
//! oldest first, one stream per tenant, as ingest feeds them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use vigil_detect::{CompiledRuleSet, CorrelationMatch, CorrelationState, Event, RuleId};
use vigil_events::json::JsonEvent;
use vigil_logs::{EventStore, LogError, SearchRequest, StoredEvent, TimeRange};
use vigil_query::Query;

use crate::org::OrgView;

/// Events read per page of the store.
const PAGE: usize = 1000;

/// JSON of the matched events held for the correlations at most: past it, the correlations
/// see only the newer part of the window ([`Preview::correlated_from`]).
const MAX_CORRELATED_BYTES: usize = 64 << 20;

/// What to run the rules over.
#[derive(Debug, Clone)]
pub struct PreviewRequest {
    /// Only the events this query finds (no aggregation step).
    pub query: Query,
    /// The time window.
    pub range: TimeRange,
    /// Matches to keep (all are counted).
    pub limit: usize,
    /// Most events to read.
    pub max_events: u64,
}

/// One match: the rule and the event.
#[derive(Debug, Clone)]
pub struct PreviewMatch {
    /// The rule that matched.
    pub rule: RuleId,
    /// The event it matched; for a correlation, the event that completed it.
    pub event: StoredEvent,
    /// For a correlation rule, what it found.
    pub correlation: Option<PreviewCorrelation>,
}

/// What a correlation rule that fired found.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewCorrelation {
    /// In words: `5 events for user=root within 10m`.
    pub note: String,
    /// The values of its group-by fields: `user=root`.
    pub group: String,
    /// The stored ids of the events that made it, oldest first.
    pub event_ids: Vec<u64>,
}

/// What the rules found.
#[derive(Debug, Clone, Default)]
pub struct Preview {
    /// Events read.
    pub events_read: u64,
    /// Whether every event of the window and query was read (`max_events` did not stop it).
    pub complete: bool,
    /// Matches counted, per rule and event, of the rules that report on their own (not those
    /// only feeding a correlation), and of the correlation rules.
    pub total_matches: u64,
    /// The newest matches, up to the request's `limit`.
    pub matches: Vec<PreviewMatch>,
    /// The matches of each rule that matched, the most first: which of the rules is noisy.
    pub per_rule: Vec<(RuleId, u64)>,
    /// When the matched events the correlations count outgrew the preview's memory, the time
    /// of the oldest one they were given: they saw the window from then on. `None`: they saw
    /// every event read.
    pub correlated_from: Option<DateTime<Utc>>,
}

/// A stored event a correlation counts, with the rules it matched that one counts. Held as
/// its text, parsed again when fed: a parsed event takes several times its text's memory.
type Counted = (StoredEvent, Vec<RuleId>);

/// Runs `set` over the events `request` selects in `events`, newest first, each matched as
/// `org` says its service's logs are. Blocks: call it off the async threads.
pub fn preview(
    events: &dyn EventStore,
    org: &OrgView,
    set: &CompiledRuleSet,
    request: PreviewRequest,
) -> Result<Preview, LogError> {
    let mut search = SearchRequest {
        query: request.query,
        range: request.range,
        limit: PAGE,
        cursor: None,
    };
    let mut out = Preview::default();
    let correlating = set.correlation_count() > 0;
    let mut counted: Vec<Counted> = Vec::new();
    let mut counted_bytes = 0;
    let mut per_rule: HashMap<RuleId, u64> = HashMap::new();
    loop {
        let page = events.search(&search)?;
        let room = (request.max_events - out.events_read).min(page.events.len() as u64) as usize;
        let stopped = room < page.events.len();
        let mut stored = page.events;
        stored.truncate(room);
        out.events_read += room as u64;
        // The store took each as a JSON object; one a parser disagrees with is skipped, as the
        // correlation rebuild does.
        let parsed: Vec<(StoredEvent, JsonEvent)> = stored
            .into_iter()
            .filter_map(|s| {
                let event = JsonEvent::parse(&s.json).ok()?;
                Some((s, event))
            })
            .collect();
        let matched = org.match_all(set, &parsed, |(s, event)| (&s.service, event));
        for ((event, _), rules) in parsed.into_iter().zip(matched) {
            let reported = rules.iter().filter(|&&r| set.rule(r).report);
            for &rule in reported {
                *per_rule.entry(rule).or_default() += 1;
                if out.matches.len() < request.limit {
                    out.matches.push(PreviewMatch {
                        rule,
                        event: event.clone(),
                        correlation: None,
                    });
                }
            }
            if !correlating || out.correlated_from.is_some() {
                continue;
            }
            let fed: Vec<RuleId> = rules
                .into_iter()
                .filter(|&r| set.feeds_correlation(r))
                .collect();
            if fed.is_empty() {
                continue;
            }
            // Read newest first: once the budget is spent, every event left is older.
            if counted_bytes + event.json.len() > MAX_CORRELATED_BYTES {
                out.correlated_from = Some(counted.last().map_or(event.time, |(s, _)| s.time));
                continue;
            }
            counted_bytes += event.json.len();
            counted.push((event, fed));
        }
        match page.next_cursor {
            Some(next) if !stopped && out.events_read < request.max_events => {
                search.cursor = Some(next);
            }
            next => {
                out.complete = next.is_none() && !stopped;
                break;
            }
        }
    }
    if correlating {
        let found = correlate(set, org, counted);
        for m in &found {
            *per_rule.entry(m.rule).or_default() += 1;
        }
        out.matches.extend(found);
        out.matches
            .sort_by_key(|m| std::cmp::Reverse((m.event.time, m.event.id)));
        out.matches.truncate(request.limit);
    }
    out.total_matches = per_rule.values().sum();
    out.per_rule = per_rule.into_iter().collect();
    out.per_rule
        .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(out)
}

/// Feeds the events the correlations count to them oldest first, one stream per tenant, and
/// returns the reported correlations that fired.
fn correlate(set: &CompiledRuleSet, org: &OrgView, mut counted: Vec<Counted>) -> Vec<PreviewMatch> {
    counted.sort_by_key(|(stored, _)| (stored.time, stored.id));
    // The event a correlation's match shows: the last of its window (tags are indices into
    // `counted`).
    let shown = |m: &CorrelationMatch, otherwise: usize| {
        m.events
            .last()
            .map_or(otherwise, |&tag| tag as usize)
            .min(counted.len().saturating_sub(1))
    };
    let mut by_tenant: HashMap<&str, CorrelationState> = HashMap::new();
    let mut fired: Vec<(usize, CorrelationMatch)> = Vec::new();
    let mut found = Vec::new();
    for (index, (stored, rules)) in counted.iter().enumerate() {
        let Ok(event) = JsonEvent::parse(&stored.json) else {
            continue;
        };
        let mapped = org.mapped(&stored.service, &event);
        let event: &dyn Event = match &mapped {
            Some(mapped) => mapped,
            None => &event,
        };
        let state = by_tenant
            .entry(stored.tenant.as_str())
            .or_insert_with(|| CorrelationState::new(set));
        state.feed(
            set,
            stored.time.timestamp_millis(),
            event,
            rules,
            index as u64,
            &mut found,
        );
        fired.extend(found.drain(..).map(|m| (shown(&m, index), m)));
    }
    // The window's end: counts bounded from above are decided over what the window held.
    for state in by_tenant.values_mut() {
        state.finish(set, &mut found);
        fired.extend(found.drain(..).map(|m| (shown(&m, counted.len()), m)));
    }
    fired.sort_by_key(|(index, _)| *index);
    fired
        .into_iter()
        .filter(|(_, m)| set.rule(m.rule).report)
        .map(|(index, m)| PreviewMatch {
            rule: m.rule,
            event: counted[index].0.clone(),
            correlation: Some(PreviewCorrelation {
                note: crate::pipeline::correlation_note(set, &m),
                group: m.group_text(set),
                event_ids: m
                    .events
                    .iter()
                    .filter_map(|&tag| Some(counted.get(tag as usize)?.0.id))
                    .collect(),
            }),
        })
        .collect()
}
