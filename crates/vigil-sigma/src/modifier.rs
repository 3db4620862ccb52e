//! Value modifiers (`field|contains|all`), as listed in the modifiers appendix of the Sigma
//! specification. They are parsed once into [`Modifier`]; nothing downstream looks at strings.

use std::fmt;

/// One value modifier of a detection item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Modifier {
    /// `contains`: the value may appear anywhere in the field.
    Contains,
    /// `startswith`: the value is a prefix of the field.
    StartsWith,
    /// `endswith`: the value is a suffix of the field.
    EndsWith,
    /// `all`: the values of the list are linked with AND instead of OR.
    All,
    /// `exists`: the (boolean) value says whether the field must exist.
    Exists,
    /// `cased`: compare case-sensitively.
    Cased,
    /// `neq`: the field differs from every value.
    Neq,
    /// `windash`: `-` also matches `/`, en dash, em dash and horizontal bar.
    Windash,
    /// `re`: the value is a regular expression (case-sensitive unless `i`).
    Re,
    /// `i` after `re`: case-insensitive regular expression.
    ReIgnoreCase,
    /// `m` after `re`: `^`/`$` match at line boundaries.
    ReMultiLine,
    /// `s` after `re`: `.` matches newlines.
    ReDotAll,
    /// `base64`: the value appears base64-encoded.
    Base64,
    /// `base64offset`: the value appears inside a base64-encoded string at any offset.
    Base64Offset,
    /// `utf16le` / `wide`: encode the value as UTF-16LE before base64.
    Utf16Le,
    /// `utf16be`: encode the value as UTF-16BE before base64.
    Utf16Be,
    /// `utf16`: UTF-16 with a byte order mark.
    Utf16,
    /// `cidr`: the value is an IPv4 or IPv6 network.
    Cidr,
    /// `fieldref`: the value names another field of the same event.
    FieldRef,
    /// `expand`: the value holds `%placeholders%` resolved at compile time.
    Expand,
    /// `lt`: numerically less than.
    Lt,
    /// `lte`: numerically less than or equal.
    Lte,
    /// `gt`: numerically greater than.
    Gt,
    /// `gte`: numerically greater than or equal.
    Gte,
    /// `minute` of a date value.
    Minute,
    /// `hour` of a date value.
    Hour,
    /// `day` (of the month) of a date value.
    Day,
    /// ISO `week` of a date value.
    Week,
    /// `month` of a date value.
    Month,
    /// `year` of a date value.
    Year,
}

impl Modifier {
    /// Parses one modifier name; `None` when the specification does not define it.
    pub fn parse(name: &str) -> Option<Modifier> {
        Some(match name {
            "contains" => Modifier::Contains,
            "startswith" => Modifier::StartsWith,
            "endswith" => Modifier::EndsWith,
            "all" => Modifier::All,
            "exists" => Modifier::Exists,
            "cased" => Modifier::Cased,
            "neq" => Modifier::Neq,
            "windash" => Modifier::Windash,
            "re" => Modifier::Re,
            "i" => Modifier::ReIgnoreCase,
            "m" => Modifier::ReMultiLine,
            "s" => Modifier::ReDotAll,
            "base64" => Modifier::Base64,
            "base64offset" => Modifier::Base64Offset,
            "utf16le" | "wide" => Modifier::Utf16Le,
            "utf16be" => Modifier::Utf16Be,
            "utf16" => Modifier::Utf16,
            "cidr" => Modifier::Cidr,
            "fieldref" => Modifier::FieldRef,
            "expand" => Modifier::Expand,
            "lt" => Modifier::Lt,
            "lte" => Modifier::Lte,
            "gt" => Modifier::Gt,
            "gte" => Modifier::Gte,
            "minute" => Modifier::Minute,
            "hour" => Modifier::Hour,
            "day" => Modifier::Day,
            "week" => Modifier::Week,
            "month" => Modifier::Month,
            "year" => Modifier::Year,
            _ => return None,
        })
    }

    /// The name as written in a rule.
    pub fn name(self) -> &'static str {
        match self {
            Modifier::Contains => "contains",
            Modifier::StartsWith => "startswith",
            Modifier::EndsWith => "endswith",
            Modifier::All => "all",
            Modifier::Exists => "exists",
            Modifier::Cased => "cased",
            Modifier::Neq => "neq",
            Modifier::Windash => "windash",
            Modifier::Re => "re",
            Modifier::ReIgnoreCase => "i",
            Modifier::ReMultiLine => "m",
            Modifier::ReDotAll => "s",
            Modifier::Base64 => "base64",
            Modifier::Base64Offset => "base64offset",
            Modifier::Utf16Le => "utf16le",
            Modifier::Utf16Be => "utf16be",
            Modifier::Utf16 => "utf16",
            Modifier::Cidr => "cidr",
            Modifier::FieldRef => "fieldref",
            Modifier::Expand => "expand",
            Modifier::Lt => "lt",
            Modifier::Lte => "lte",
            Modifier::Gt => "gt",
            Modifier::Gte => "gte",
            Modifier::Minute => "minute",
            Modifier::Hour => "hour",
            Modifier::Day => "day",
            Modifier::Week => "week",
            Modifier::Month => "month",
            Modifier::Year => "year",
        }
    }
}

/// What a value has become after the modifiers read so far, in [`check_chain`]: the
/// specification applies modifiers "in the given order to the value", so each one must take
/// what the one before made of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// A string (or number) as written, perhaps expanded, windashed or given wildcards.
    Text,
    /// Text encoded as UTF-16 bytes, waiting for `base64` or `base64offset`.
    Utf16,
    /// The base64 text of the value.
    Base64,
    /// A regular expression.
    Regex,
    /// A network.
    Cidr,
    /// The name of another field.
    FieldRef,
    /// A numeric bound.
    Compare,
    /// A date part of the field, compared with a number.
    TimePart,
    /// Whether the field exists.
    Exists,
}

/// Checks that a chain of modifiers gives the value one meaning, applying them in the order
/// written as the specification says, and returns why not otherwise. A chain the engine could
/// only honour in part (a `base64` after `re`, a `contains` after `cidr`) is refused rather
/// than loaded with a modifier ignored. Accepted, in order: `expand` (after no more than the
/// string forms), then `windash`, then
/// either `re` (with `i`, `m`, `s`), `cidr` (after `expand` only), or the string forms
/// (`contains`, `startswith`, `endswith` in any number, each adding its wildcard, so
/// `startswith|endswith` is `*x*`; `utf16*` then `base64`/`base64offset`, after which the
/// string forms apply to the encoded text); `fieldref` first, then the string forms and
/// `cased`; a time part, then at most one of `gt`/`gte`/`lt`/`lte`; a comparison alone;
/// `exists` alone. `all` and `neq` link or negate the item's values and go anywhere.
pub fn check_chain(mods: &[Modifier]) -> Result<(), String> {
    use Modifier as M;
    let mut stage = Stage::Text;
    // Whether `contains`/`startswith`/`endswith` or `cased` shaped the text already, which
    // no `re` or `cidr` can take.
    let mut shaped = false;
    let mut seen: Vec<Modifier> = Vec::with_capacity(mods.len());
    for (i, &m) in mods.iter().enumerate() {
        if seen.contains(&m) {
            return Err(format!("'{m}' is written twice; write it once"));
        }
        seen.push(m);
        let before = |list: &[Modifier]| mods[..i].iter().all(|p| list.contains(p));
        let refuse = |why: &str| Err(format!("'{m}' cannot follow {}: {why}", chain(&mods[..i])));
        stage = match (m, stage) {
            (M::All | M::Neq, s) => s,
            (M::Exists, _) if i == 0 && mods.len() == 1 => Stage::Exists,
            (M::Exists, _) => {
                return Err("'exists' stands alone: write 'field|exists: true' or 'false'".into());
            }
            // Wildcards and case around a placeholder take its values alike.
            (M::Expand, Stage::Text)
                if before(&[
                    M::Contains,
                    M::StartsWith,
                    M::EndsWith,
                    M::Cased,
                    M::All,
                    M::Neq,
                ]) =>
            {
                Stage::Text
            }
            (M::Expand, _) => {
                return refuse(
                    "write 'expand' before windash, re, cidr and the encodings, which take its values",
                );
            }
            (M::Windash, Stage::Text)
                if before(&[
                    M::Expand,
                    M::Contains,
                    M::StartsWith,
                    M::EndsWith,
                    M::Cased,
                    M::All,
                    M::Neq,
                ]) =>
            {
                Stage::Text
            }
            (M::Windash, _) => {
                return refuse(
                    "windash changes the dashes of the text as written; write it before them",
                );
            }
            (
                M::Contains | M::StartsWith | M::EndsWith,
                Stage::Text | Stage::Base64 | Stage::FieldRef,
            ) => {
                shaped = true;
                stage
            }
            (M::Contains | M::StartsWith | M::EndsWith, Stage::Regex) => {
                return refuse(
                    "a regular expression matches anywhere in the value already; anchor it with ^ or $ instead",
                );
            }
            (M::Cased, Stage::Text | Stage::Base64 | Stage::FieldRef) => {
                shaped = true;
                stage
            }
            (M::Cased, Stage::Regex) => {
                return refuse(
                    "a regular expression is case-sensitive already ('re|i' makes it case-insensitive)",
                );
            }
            (M::Contains | M::StartsWith | M::EndsWith | M::Cased, _) => {
                return refuse(
                    "contains, startswith, endswith and cased shape a string, and this value is no longer one",
                );
            }
            (M::Utf16Le | M::Utf16Be | M::Utf16, Stage::Text) if !shaped => Stage::Utf16,
            (M::Base64 | M::Base64Offset, Stage::Text | Stage::Utf16) if !shaped => Stage::Base64,
            (M::Utf16Le | M::Utf16Be | M::Utf16 | M::Base64 | M::Base64Offset, _) => {
                return refuse(
                    "the encodings take the text as written (expanded or windashed at most); write contains, startswith or endswith after base64/base64offset, where they apply to the encoded text",
                );
            }
            (M::Re, Stage::Text) if before(&[M::Expand, M::Windash, M::All, M::Neq]) => {
                Stage::Regex
            }
            (M::Re, _) => {
                return refuse(
                    "'re' takes the text as written, expanded or windashed; write the pattern so that it means what the other modifiers would",
                );
            }
            (M::ReIgnoreCase | M::ReMultiLine | M::ReDotAll, Stage::Regex) => Stage::Regex,
            (M::ReIgnoreCase | M::ReMultiLine | M::ReDotAll, _) => {
                return Err("the i, m and s modifiers only follow 're'".into());
            }
            (M::Cidr, Stage::Text) if before(&[M::Expand, M::All, M::Neq]) => Stage::Cidr,
            (M::Cidr, _) => {
                return refuse(
                    "'cidr' takes a network as written (or expanded from a placeholder)",
                );
            }
            (M::FieldRef, Stage::Text) if before(&[M::All, M::Neq]) => Stage::FieldRef,
            (M::FieldRef, _) => {
                return refuse(
                    "'fieldref' takes a field name as written; write contains, startswith, endswith or cased after it",
                );
            }
            (M::Lt | M::Lte | M::Gt | M::Gte, Stage::Text) if before(&[M::All, M::Neq]) => {
                Stage::Compare
            }
            (M::Lt | M::Lte | M::Gt | M::Gte, Stage::TimePart)
                if !mods[..i]
                    .iter()
                    .any(|p| matches!(p, M::Lt | M::Lte | M::Gt | M::Gte)) =>
            {
                Stage::Compare
            }
            (M::Lt | M::Lte | M::Gt | M::Gte, _) => {
                return refuse(
                    "gt, gte, lt and lte compare the field with a number (or a time part of it), once",
                );
            }
            (M::Minute | M::Hour | M::Day | M::Week | M::Month | M::Year, Stage::Text)
                if before(&[M::All, M::Neq]) =>
            {
                Stage::TimePart
            }
            (M::Minute | M::Hour | M::Day | M::Week | M::Month | M::Year, _) => {
                return refuse(
                    "a time part is taken of the field's date, once, before any comparison",
                );
            }
        };
    }
    match stage {
        Stage::Utf16 => {
            Err("utf16le/utf16be/utf16/wide must be followed by base64 or base64offset".into())
        }
        _ => Ok(()),
    }
}

/// The modifiers as written (`|contains|all`), for a diagnostic; "the value" when none.
fn chain(mods: &[Modifier]) -> String {
    if mods.is_empty() {
        return "the value".into();
    }
    mods.iter().map(|m| format!("|{m}")).collect()
}

impl fmt::Display for Modifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        for name in [
            "contains",
            "startswith",
            "endswith",
            "all",
            "exists",
            "cased",
            "neq",
            "windash",
            "re",
            "i",
            "m",
            "s",
            "base64",
            "base64offset",
            "utf16le",
            "utf16be",
            "utf16",
            "cidr",
            "fieldref",
            "expand",
            "lt",
            "lte",
            "gt",
            "gte",
            "minute",
            "hour",
            "day",
            "week",
            "month",
            "year",
        ] {
            assert_eq!(Modifier::parse(name).unwrap().name(), name);
        }
        assert_eq!(Modifier::parse("wide"), Some(Modifier::Utf16Le));
        assert_eq!(Modifier::parse("contain"), None);
    }

    fn chain(written: &str) -> Result<(), String> {
        let mods: Vec<Modifier> = written
            .split('|')
            .map(|m| Modifier::parse(m).unwrap_or_else(|| panic!("{m}")))
            .collect();
        check_chain(&mods)
    }

    /// Every chain SigmaHQ writes, and the ones the specification's order gives a meaning to.
    #[test]
    fn chains_that_mean_something_in_their_order_are_accepted() {
        for written in [
            "contains",
            "contains|all",
            "contains|windash",
            "windash|contains",
            "endswith|windash",
            "contains|expand",
            "expand|contains|all",
            "base64offset|contains",
            "wide|base64offset|contains",
            "windash|utf16le|base64",
            "base64|contains",
            "re",
            "re|i",
            "re|i|m|s",
            "windash|re",
            "expand|re",
            "expand|windash|re|i",
            "cidr",
            "expand|cidr",
            "cidr|neq",
            "all|cidr",
            "fieldref",
            "fieldref|contains",
            "fieldref|endswith|cased",
            "startswith|endswith",
            "contains|cased",
            "gt",
            "hour",
            "hour|gte",
            "exists",
            "neq",
        ] {
            assert_eq!(chain(written), Ok(()), "{written}");
        }
    }

    /// Chains of which a modifier would have to be ignored, each refused with its reason.
    #[test]
    fn chains_the_engine_could_honour_only_in_part_are_refused() {
        for (written, says) in [
            ("re|base64", "'base64' cannot follow |re"),
            ("re|contains", "anchor it with ^ or $"),
            ("re|windash", "write it before them"),
            ("re|expand", "write 'expand' before"),
            ("re|cased", "case-sensitive already"),
            ("contains|re", "'re' cannot follow |contains"),
            ("cased|re", "'re' cannot follow |cased"),
            ("cidr|contains", "no longer one"),
            ("windash|cidr", "'cidr' cannot follow |windash"),
            ("contains|cidr", "'cidr' cannot follow |contains"),
            ("gt|contains", "no longer one"),
            ("contains|gt", "compare the field with a number"),
            ("expand|gt", "compare the field with a number"),
            ("hour|gt|lt", "once"),
            ("gt|hour", "before any comparison"),
            ("contains|fieldref", "'fieldref' takes a field name"),
            ("fieldref|windash", "write it before them"),
            ("windash|expand", "write 'expand' before"),
            (
                "contains|base64",
                "write contains, startswith or endswith after base64",
            ),
            ("base64|windash", "write it before them"),
            ("wide", "must be followed by base64"),
            ("wide|contains", "no longer one"),
            ("exists|neq", "stands alone"),
            ("contains|exists", "stands alone"),
            ("contains|contains", "written twice"),
            ("i", "only follow 're'"),
            ("cidr|i", "only follow 're'"),
        ] {
            let got = chain(written);
            assert!(
                got.as_ref().is_err_and(|why| why.contains(says)),
                "{written}: {got:?}"
            );
        }
    }
}
