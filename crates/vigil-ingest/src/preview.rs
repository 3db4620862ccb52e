//! Rules not loaded yet, run over the stored events: a responder who turns a lesson into a
//! detection sees what it would have found — and how noisy it is — before it goes into the
//! rules directory. Events are read newest first, a page at a time, and matched as ingest
//! matches them (as their service declares its logs); nothing is recorded.

use vigil_detect::{CompiledRuleSet, RuleId};
use vigil_events::json::JsonEvent;
use vigil_logs::{EventStore, LogError, SearchRequest, StoredEvent, TimeRange};
use vigil_query::Query;

use crate::org::OrgView;

/// Events read per page of the store.
const PAGE: usize = 1000;

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
    /// The event it matched.
    pub event: StoredEvent,
}

/// What the rules found.
#[derive(Debug, Clone, Default)]
pub struct Preview {
    /// Events read.
    pub events_read: u64,
    /// Whether every event of the window and query was read (`max_events` did not stop it).
    pub complete: bool,
    /// Matches counted, per rule and event, of the rules that report on their own (not those
    /// only feeding a correlation).
    pub total_matches: u64,
    /// The newest matches, up to the request's `limit`.
    pub matches: Vec<PreviewMatch>,
}

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
    let mut out = Preview {
        complete: true,
        ..Preview::default()
    };
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
            let reported: Vec<RuleId> = rules.into_iter().filter(|&r| set.rule(r).report).collect();
            out.total_matches += reported.len() as u64;
            for rule in reported {
                if out.matches.len() < request.limit {
                    out.matches.push(PreviewMatch {
                        rule,
                        event: event.clone(),
                    });
                }
            }
        }
        match page.next_cursor {
            Some(next) if !stopped && out.events_read < request.max_events => {
                search.cursor = Some(next);
            }
            Some(_) => {
                out.complete = false;
                return Ok(out);
            }
            None => {
                out.complete = !stopped;
                return Ok(out);
            }
        }
    }
}
