//! The detection engine: compile Sigma rules into an immutable [`CompiledRuleSet`], match
//! events against it with a per-thread [`Matcher`], and evaluate correlation rules over a
//! stream with a [`Correlator`].
//!
//! ```text
//! vigil_sigma::load_dir(dir) ──► Vec<RuleDoc> ──► compile(&docs, &CompileOptions)
//!     ──► (CompiledRuleSet, Vec<Diagnostic>)           (Send + Sync, shared)
//! set.matcher() ──► Matcher::matches(&event) ──► &[RuleId] ──► set.rule(id): &RuleMeta
//!     (Matcher::matches_from(&event, &logsources) when the sender says what the log is)
//! Correlator::new(&set).feed(timestamp_ms, &event, matched, tag, &mut out)
//! ```
//!
//! Events are anything implementing [`Event`]; `vigil-events` provides the JSON and EVTX
//! ones. The engine does no I/O and has no async runtime.

pub mod compile;
pub mod correlate;
pub mod event;
mod literal;
pub mod mapping;
pub mod matcher;
mod memo;
mod value;

#[cfg(test)]
mod tests;

pub use compile::{
    CompileOptions, CompiledRuleSet, PlanStats, RuleId, RuleKind, RuleMeta, UndeclaredPart,
    compile, filter_warnings,
};
pub use correlate::{
    CorrelationMatch, CorrelationShape, CorrelationState, Correlator, GroupValue, SavedWindow,
    TOP_GROUPS, WindowsHeld, value_text,
};
pub use event::{Event, FieldMapping, FieldSink, FieldValue, MappedEvent};
pub use matcher::{Matcher, PooledMatcher, logsource_fits};
pub use vigil_sigma::Logsource;
