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
}
