//! OpenAPI schemas of the values a request may spell in more ways than an answer does: a
//! severity (`critical`, `sev1`, `1` besides `SEV1`) and an indicator's kind (`hash` besides the
//! kinds an indicator is stored with). Request fields take them with
//! `#[schema(value_type = …)]`; answers keep [`Severity`] and [`IndicatorKind`], which list only
//! what the server writes. Each is built from the same constants the parsers read, so the
//! document cannot promise other spellings than the server takes.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::indicator::{HASH, IndicatorKind};
use crate::severity::Severity;

/// A severity as a request gives it: every spelling [`Severity::parse`] reads.
pub struct SeverityInput;

impl utoipa::PartialSchema for SeverityInput {
    fn schema() -> RefOr<Schema> {
        let spellings: Vec<String> = Severity::ALL
            .iter()
            .map(|s| format!("{} ({}, {})", s.as_str(), s.word(), s.level()))
            .collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(Severity::input_pattern()))
            .description(Some(format!(
                "A severity: {}, in any case, the level or word optionally after `SEV`, spaces around it ignored. Answers write it `SEV1`–`SEV4` (`Severity`).",
                spellings.join(", ")
            )))
            .examples(["SEV2", "critical", "sev3", "4"])
            .into()
    }
}

impl utoipa::ToSchema for SeverityInput {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SeverityInput")
    }
}

/// An indicator's kind as a request gives it: a kind, or `hash` for a file hash whose kind
/// (md5, sha1, sha256) its length says.
pub struct IndicatorKindInput;

impl IndicatorKindInput {
    /// Every wire name it takes: the kinds, then `hash`.
    pub fn names() -> Vec<&'static str> {
        IndicatorKind::ALL
            .iter()
            .map(|k| k.as_str())
            .chain([HASH])
            .collect()
    }
}

impl utoipa::PartialSchema for IndicatorKindInput {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Self::names()))
            .description(Some(
                "An indicator's kind, or `hash` for a file hash whose kind (md5, sha1, sha256) its length says (32, 40 or 64 hex digits). Case is ignored and `-` is read as `_` (`User-Account`). Answers write the kind found (`IndicatorKind`).",
            ))
            .into()
    }
}

impl utoipa::ToSchema for IndicatorKindInput {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("IndicatorKindInput")
    }
}
