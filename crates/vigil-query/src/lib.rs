//! Vigil's log search language: text → typed [`Query`]. Pure: no I/O, no index; a store
//! (`vigil-logs`) translates the AST into its own index queries, so the language outlives any
//! one backend.
//!
//! The language is the common ground of Lucene/Kibana and Splunk: `field:value`, wildcards,
//! quoted phrases, free text, `AND`/`OR`/`NOT`, parentheses, ranges, `exists:` and one
//! aggregation after a pipe. docs/query.md is the user's guide; this is the grammar.
//!
//! # Grammar
//!
//! ```text
//! query      = [ or ] [ "|" pipe ]                 empty filter = every event
//! or         = and { "OR" and }
//! and        = unary { [ "AND" ] unary }           juxtaposition is AND
//! unary      = "NOT" unary | primary
//! primary    = "(" or ")"
//!            | "exists:" name                      the field is present
//!            | name ":" value
//!            | phrase                              free text: words next to each other
//!            | word                                free text (`*` alone: every event)
//! value      = phrase                              the whole value equals the text
//!            | range
//!            | ( ">" | ">=" | "<" | "<=" ) bound
//!            | "(" or ")"                          bare terms inside apply to this field
//!            | "*"                                 same as exists:name
//!            | word                                the whole value equals it; `*` `?` wildcards
//! range      = ( "[" | "{" ) bound "TO" bound ( "]" | "}" )   [ ] inclusive, { } exclusive
//! bound      = "*" | phrase | run of characters up to blank, "]" or "}"
//! pipe       = "count" "by" names
//!            | "top" [ N ] names                   N defaults to 10
//!            | "rare" [ N ] names                  the N least frequent
//! names      = name { "," name }                   at most three: their values counted together
//! name       = phrase | word                       a phrase only after the pipe (`| count by "Threat Name"`)
//! phrase     = '"' { char | '\"' | '\\' } '"'
//! word       = { char other than blank ( ) " | , or "\" escape }   in a name, ":" ends it
//! ```
//!
//! - `AND`, `OR`, `NOT` and `TO` are operators only in upper case (`TO` also in lower case)
//!   and only as words of their own (`[a tomato]` has no `TO`);
//!   `NOT` binds tighter than `AND`, which binds tighter than `OR`.
//! - A backslash escapes `\ * ? : ( ) " | [ ] { } < >` and blanks; before any other character
//!   it is literal, so `Image:C:\Windows\System32\cmd.exe` needs no doubling.
//! - Names are the event's own JSON paths (`user.name`, `Event.System.EventID`) or the
//!   envelope fields `service`, `host`, `tenant` and `time`; `$.host` reaches a JSON key that
//!   has an envelope name.
//! - A range bound is typed when parsed: on `time` it must be a time (`2026-01-31`,
//!   `2026-01-31T12:00:00Z`, `now`, `now-15m`, units `s m h d w`); elsewhere an integer, a
//!   decimal, a time, or text.
//!
//! Errors ([`ParseError`]) carry the byte offset of the problem and say what to write instead.

mod ast;
mod error;
mod parse;

pub use ast::{Bound, Expr, Field, Pipe, Query, Scalar, TimeValue, Wildcard, WildcardPart};
pub use error::ParseError;
pub use parse::{
    DEFAULT_TOP, MAX_DEPTH, MAX_GROUP_FIELDS, MAX_TERMS, MAX_TOP, network_expr, parse, parse_time,
};

/// `text` lowercased one character at a time, as the log index lowercases values (Tantivy's
/// `LowerCaser`): `str::to_lowercase` writes a Σ that ends a word as ς, which the σ the index
/// holds would not equal.
pub fn lowercase(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}
