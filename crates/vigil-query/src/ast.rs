//! The typed query: what the parser produces and what a store translates into its own index
//! queries. `Display` prints a canonical S-expression so tests (and error reports) can show a
//! parsed query unambiguously.

use std::fmt;

use chrono::{DateTime, Duration, Utc};

/// A parsed search: a filter over events and at most one aggregation step after `|`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// Which events the query selects; [`Expr::All`] for an empty query or `*`.
    pub filter: Expr,
    /// The aggregation after `|`, if any.
    pub pipe: Option<Pipe>,
}

impl Query {
    /// The free-text words written with a leading `-` (`-error`), in order: searched as text,
    /// since the language has no `-` operator, though Lucene and Kibana users write it for NOT;
    /// a caller warns of them. A negative number (`-1`) is not one.
    pub fn dash_words(&self) -> Vec<&str> {
        fn walk<'a>(e: &'a Expr, out: &mut Vec<&'a str>) {
            match e {
                Expr::And(all) | Expr::Or(all) => all.iter().for_each(|e| walk(e, out)),
                Expr::Not(e) => walk(e, out),
                Expr::Match { field: None, value }
                    if value
                        .strip_prefix('-')
                        .is_some_and(|rest| rest.starts_with(char::is_alphabetic)) =>
                {
                    out.push(value)
                }
                _ => {}
            }
        }
        let mut words = Vec::new();
        walk(&self.filter, &mut words);
        words
    }

    /// The JSON paths the query names (filter and aggregation), each once, in order: what a
    /// store checks to warn about a field no event has, the usual reason for an empty answer.
    pub fn json_paths(&self) -> Vec<&str> {
        let mut paths = Vec::new();
        self.filter.json_paths(&mut paths);
        for field in self.pipe.iter().flat_map(Pipe::fields) {
            if let Field::Json(path) = field {
                paths.push(path.as_str());
            }
        }
        let mut seen = std::collections::HashSet::new();
        paths.retain(|p| seen.insert(*p));
        paths
    }
}

impl Expr {
    /// The expression with each relative time (`now-1h`) resolved against `now` into the
    /// instant it stands for there: what the expression selects when it runs at `now`, for a
    /// store that keeps answers by query (the same text selects other events a minute later).
    pub fn resolved(&self, now: DateTime<Utc>) -> Expr {
        let bound = |b: &Bound| match b {
            Bound::Inclusive(Scalar::Time(t)) => {
                Bound::Inclusive(Scalar::Time(TimeValue::Absolute(t.resolve(now))))
            }
            Bound::Exclusive(Scalar::Time(t)) => {
                Bound::Exclusive(Scalar::Time(TimeValue::Absolute(t.resolve(now))))
            }
            other => other.clone(),
        };
        match self {
            Expr::And(children) => Expr::And(children.iter().map(|c| c.resolved(now)).collect()),
            Expr::Or(children) => Expr::Or(children.iter().map(|c| c.resolved(now)).collect()),
            Expr::Not(child) => Expr::Not(Box::new(child.resolved(now))),
            Expr::Range {
                field,
                lower,
                upper,
            } => Expr::Range {
                field: field.clone(),
                lower: bound(lower),
                upper: bound(upper),
            },
            // `time:now-1h` is the millisecond an hour ago.
            Expr::Match {
                field: Some(Field::Time),
                value,
            } => Expr::Match {
                field: Some(Field::Time),
                value: resolved_time_text(value, now),
            },
            Expr::Phrase {
                field: Some(Field::Time),
                text,
            } => Expr::Phrase {
                field: Some(Field::Time),
                text: resolved_time_text(text, now),
            },
            other => other.clone(),
        }
    }

    fn json_paths<'a>(&'a self, out: &mut Vec<&'a str>) {
        let field = match self {
            Expr::All => None,
            Expr::And(children) | Expr::Or(children) => {
                for child in children {
                    child.json_paths(out);
                }
                None
            }
            Expr::Not(child) => {
                child.json_paths(out);
                None
            }
            Expr::Match { field, .. }
            | Expr::Phrase { field, .. }
            | Expr::Wildcard { field, .. } => field.as_ref(),
            Expr::Range { field, .. } | Expr::Exists(field) => Some(field),
        };
        if let Some(Field::Json(path)) = field {
            out.push(path);
        }
    }
}

/// `text`, or when it is a relative time, the instant it stands for at `now` in RFC 3339.
fn resolved_time_text(text: &str, now: DateTime<Utc>) -> String {
    match crate::parse_time(text) {
        Some(t @ TimeValue::Now { .. }) => t
            .resolve(now)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        _ => text.to_owned(),
    }
}

/// A field an expression looks at: one of the envelope fields every stored event has, or a path
/// into the event's own JSON.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// The service that sent the event (`service`).
    Service,
    /// The host the event came from (`host`).
    Host,
    /// The tenant the event belongs to (`tenant`).
    Tenant,
    /// The stored event time (`time`).
    Time,
    /// A dotted path into the event JSON, such as `Event.System.EventID`.
    Json(String),
}

impl Field {
    /// Resolves a field name as written in a query. Envelope names win; `$.` reaches a JSON key
    /// that has an envelope name (`$.host` is the event's own `host` key).
    pub fn from_name(name: &str) -> Field {
        if let Some(path) = name.strip_prefix("$.") {
            return Field::Json(path.to_owned());
        }
        match name {
            "service" => Field::Service,
            "host" => Field::Host,
            "tenant" => Field::Tenant,
            "time" => Field::Time,
            other => Field::Json(other.to_owned()),
        }
    }

    /// The name as a query would write it.
    pub fn name(&self) -> String {
        match self {
            Field::Service => "service".into(),
            Field::Host => "host".into(),
            Field::Tenant => "tenant".into(),
            Field::Time => "time".into(),
            Field::Json(path)
                if matches!(path.as_str(), "service" | "host" | "tenant" | "time") =>
            {
                format!("$.{path}")
            }
            Field::Json(path) => path.clone(),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The filter part of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Every event (`*`, or an empty query).
    All,
    /// Every child must match (`a AND b`, or `a b`).
    And(Vec<Expr>),
    /// At least one child must match (`a OR b`).
    Or(Vec<Expr>),
    /// The child must not match (`NOT a`).
    Not(Box<Expr>),
    /// A bare word: with a field, the field's whole value equals it (case-insensitive); without,
    /// the word occurs in any value of the event.
    Match {
        /// The field, or `None` for free text.
        field: Option<Field>,
        /// The word with escapes removed.
        value: String,
    },
    /// A quoted phrase: with a field, the field's whole value equals it; without, the words occur
    /// next to each other in some value.
    Phrase {
        /// The field, or `None` for free text.
        field: Option<Field>,
        /// The text between the quotes with escapes removed.
        text: String,
    },
    /// A word with unescaped `*` or `?`: with a field, the field's whole value matches the
    /// pattern; without, some word of some value does.
    Wildcard {
        /// The field, or `None` for free text.
        field: Option<Field>,
        /// The pattern.
        pattern: Wildcard,
    },
    /// A numeric, time or text range on a field.
    Range {
        /// The field compared.
        field: Field,
        /// The lower end.
        lower: Bound,
        /// The upper end.
        upper: Bound,
    },
    /// The field is present in the event (`exists:field` or `field:*`).
    Exists(Field),
}

/// One end of a range.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    /// Open (`*`, or the missing side of `>` / `<`).
    Unbounded,
    /// The value itself is included (`[`, `]`, `>=`, `<=`).
    Inclusive(Scalar),
    /// The value itself is excluded (`{`, `}`, `>`, `<`).
    Exclusive(Scalar),
}

/// A value at the end of a range, typed once at parse time.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// An integer such as `4624`, exactly as written: wider than 64 bits, so that the
    /// unsigned 64-bit ids of logs (up to 18446744073709551615) and their negatives are bounds
    /// as exact as any other.
    Int(i128),
    /// A decimal number such as `0.5`.
    Float(f64),
    /// A time, absolute or relative to the moment the query runs.
    Time(TimeValue),
    /// Anything else, compared as text.
    Text(String),
}

/// A point in time as written in a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeValue {
    /// A fixed instant (`2026-01-01`, `2026-01-01T10:00:00Z`).
    Absolute(DateTime<Utc>),
    /// `now` plus a signed offset (`now-1h` is −3600 s), resolved when the query runs.
    Now {
        /// Seconds added to the current time.
        offset_seconds: i64,
    },
}

impl TimeValue {
    /// The instant this value stands for when the query runs at `now`; an offset past the
    /// range of times (`now-99999999d`) stands for its end.
    pub fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            TimeValue::Absolute(t) => t,
            TimeValue::Now { offset_seconds } => Duration::try_seconds(offset_seconds)
                .and_then(|offset| now.checked_add_signed(offset))
                .unwrap_or(if offset_seconds < 0 {
                    DateTime::<Utc>::MIN_UTC
                } else {
                    DateTime::<Utc>::MAX_UTC
                }),
        }
    }
}

/// A wildcard pattern: literal runs, `*` (any run of characters) and `?` (one character).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wildcard {
    /// The pieces in order.
    pub parts: Vec<WildcardPart>,
}

/// One piece of a [`Wildcard`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WildcardPart {
    /// Characters matched as they are.
    Literal(String),
    /// `*`: any run of characters, possibly empty.
    AnyRun,
    /// `?`: exactly one character.
    AnyChar,
    /// Exactly one hexadecimal digit, `[0-9a-f]`: only in the patterns of IPv6 networks (a
    /// group's digits that its prefix leaves open), never read from a query.
    HexDigit,
}

impl Wildcard {
    /// The pattern as a regular expression over a whole value (for index regex queries); literal
    /// text is escaped.
    pub fn to_regex(&self) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                WildcardPart::Literal(text) => {
                    for c in text.chars() {
                        if "\\.+*?()|[]{}^$#&-~\"@<>".contains(c) {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                }
                WildcardPart::AnyRun => out.push_str(".*"),
                WildcardPart::AnyChar => out.push('.'),
                WildcardPart::HexDigit => out.push_str("[0-9a-f]"),
            }
        }
        out
    }

    /// The literal text before the first `*` or `?`.
    pub fn literal_prefix(&self) -> &str {
        match self.parts.first() {
            Some(WildcardPart::Literal(text)) => text,
            _ => "",
        }
    }

    /// A copy with every literal lower-cased, for indexes that store values in lower case.
    pub fn to_lowercase(&self) -> Wildcard {
        Wildcard {
            parts: self
                .parts
                .iter()
                .map(|p| match p {
                    WildcardPart::Literal(t) => WildcardPart::Literal(crate::lowercase(t)),
                    other => other.clone(),
                })
                .collect(),
        }
    }
}

impl fmt::Display for Wildcard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                WildcardPart::Literal(text) => {
                    for c in text.chars() {
                        if matches!(c, '*' | '?' | '\\') {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                }
                WildcardPart::AnyRun => f.write_str("*")?,
                WildcardPart::AnyChar => f.write_str("?")?,
                WildcardPart::HexDigit => f.write_str("[0-9a-f]")?,
            }
        }
        Ok(())
    }
}

/// The aggregation step after `|`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pipe {
    /// `| count by FIELD[, FIELD …]`: the number of matching events per value of the field (per
    /// combination of values of the fields), largest first.
    CountBy(Vec<Field>),
    /// `| top N FIELD[, FIELD …]`: the N most frequent values (combinations of values).
    Top {
        /// How many values to keep.
        n: usize,
        /// The fields counted, at least one.
        fields: Vec<Field>,
    },
    /// `| rare N FIELD[, FIELD …]`: the N least frequent values (combinations of values), as
    /// a hunter stacks process names to find the one seen on a single host.
    Rare {
        /// How many values to keep.
        n: usize,
        /// The fields counted, at least one.
        fields: Vec<Field>,
    },
}

impl Pipe {
    /// The fields the aggregation groups by, at least one.
    pub fn fields(&self) -> &[Field] {
        match self {
            Pipe::CountBy(fields) | Pipe::Top { fields, .. } | Pipe::Rare { fields, .. } => fields,
        }
    }
}

fn field_or_any(field: &Option<Field>) -> String {
    field.as_ref().map_or_else(|| "*".to_owned(), Field::name)
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Int(n) => write!(f, "{n}"),
            Scalar::Float(x) => write!(f, "{x:?}"),
            Scalar::Time(TimeValue::Absolute(t)) => {
                write!(
                    f,
                    "{}",
                    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                )
            }
            Scalar::Time(TimeValue::Now { offset_seconds }) => write!(f, "now{offset_seconds:+}s"),
            Scalar::Text(text) => write!(f, "{text:?}"),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::All => f.write_str("all"),
            Expr::And(children) | Expr::Or(children) => {
                f.write_str(if matches!(self, Expr::And(_)) {
                    "(and"
                } else {
                    "(or"
                })?;
                for child in children {
                    write!(f, " {child}")?;
                }
                f.write_str(")")
            }
            Expr::Not(child) => write!(f, "(not {child})"),
            Expr::Match { field, value } => write!(f, "(match {} {value:?})", field_or_any(field)),
            Expr::Phrase { field, text } => write!(f, "(phrase {} {text:?})", field_or_any(field)),
            Expr::Wildcard { field, pattern } => {
                write!(
                    f,
                    "(wildcard {} {:?})",
                    field_or_any(field),
                    pattern.to_string()
                )
            }
            Expr::Range {
                field,
                lower,
                upper,
            } => {
                write!(f, "(range {field} ")?;
                match lower {
                    Bound::Unbounded => f.write_str("*")?,
                    Bound::Inclusive(v) => write!(f, "[{v}")?,
                    Bound::Exclusive(v) => write!(f, "{{{v}")?,
                }
                f.write_str(" ")?;
                match upper {
                    Bound::Unbounded => f.write_str("*")?,
                    Bound::Inclusive(v) => write!(f, "{v}]")?,
                    Bound::Exclusive(v) => write!(f, "{v}}}")?,
                }
                f.write_str(")")
            }
            Expr::Exists(field) => write!(f, "(exists {field})"),
        }
    }
}

/// Fields as a pipe names them: `user.name, source.ip`.
struct Names<'a>(&'a [Field]);

impl fmt::Display for Names<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, field) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{field}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.filter)?;
        match &self.pipe {
            None => Ok(()),
            Some(Pipe::CountBy(fields)) => write!(f, " | count by {}", Names(fields)),
            Some(Pipe::Top { n, fields }) => write!(f, " | top {n} {}", Names(fields)),
            Some(Pipe::Rare { n, fields }) => write!(f, " | rare {n} {}", Names(fields)),
        }
    }
}
