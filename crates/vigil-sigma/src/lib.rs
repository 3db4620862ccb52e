//! The Sigma language: YAML rule files → typed rules as written, with diagnostics.
//!
//! Entry points: [`load_dir`] (a file or directory → documents and diagnostics) and
//! [`parse_str`] (one file's text). The condition grammar is documented in [`condition`];
//! modifiers are the [`Modifier`] enum. Nothing here compiles or matches: that is
//! `vigil-detect`'s job.

pub mod condition;
pub mod load;
pub mod model;
pub mod modifier;
pub mod placeholders;
pub mod yaml;

pub use condition::{
    AggregateFunction, Aggregation, Computation, Condition, ConditionError, Quantity, Target,
    parse_aggregation, parse_condition, pattern_matches, split_aggregation,
};
pub use load::{
    Diagnostic, LoadError, format_timespan, load_dir, load_dirs, parse_str, parse_timespan,
    rule_files, rules_rejected,
};
pub use model::*;
pub use modifier::{Modifier, check_chain};
pub use placeholders::{
    ExpandPart, Placeholders, PlaceholdersError, describe_without_values, expand_parts,
    load_placeholders, parse_placeholders, placeholders_without_values, used_placeholders,
};
