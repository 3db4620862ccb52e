//! Parse errors. Each names the byte offset in the query where the problem is and says what to
//! write instead, because the person reading it is typing a query into a search box.

/// Why a query could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A `"` opened a phrase that never closes.
    #[error("the phrase starting at byte {offset} has no closing quote: add a \" at its end")]
    UnterminatedPhrase {
        /// Byte offset of the opening quote.
        offset: usize,
    },
    /// `field:` is followed by nothing usable.
    #[error(
        "`{f}:` at byte {offset} has no value: write {f}:VALUE, {f}:\"a phrase\", {f}:[LOW TO HIGH] or exists:{f}",
        f = Shown(.field)
    )]
    MissingValue {
        /// Byte offset just after the colon.
        offset: usize,
        /// The field name as written.
        field: String,
    },
    /// `:value` with nothing before the colon.
    #[error(
        "the `:` at byte {offset} has no field name before it: write FIELD:value, e.g. user.name:alice"
    )]
    MissingField {
        /// Byte offset of the colon.
        offset: usize,
    },
    /// A field name containing `*` or `?`.
    #[error(
        "the field name `{}` at byte {offset} contains a wildcard; field names must be written out in full (put wildcards in the value: user.name:adm*)",
        Shown(.field)
    )]
    WildcardField {
        /// Byte offset of the field name.
        offset: usize,
        /// The field name as written.
        field: String,
    },
    /// A `(` that is never closed.
    #[error("the ( at byte {offset} is never closed: add a ) after the group")]
    UnclosedParen {
        /// Byte offset of the opening parenthesis.
        offset: usize,
    },
    /// A `)` with no `(` before it.
    #[error("the ) at byte {offset} has no matching (: remove it or open the group with (")]
    UnmatchedParen {
        /// Byte offset of the closing parenthesis.
        offset: usize,
    },
    /// `AND`, `OR` or `NOT` with no operand where one is needed.
    #[error(
        "`{op}` at byte {offset} is missing a term: write e.g. `{example}`; to search for the word itself, quote it: \"{op}\"",
        op = Shown(.operator)
    )]
    MissingOperand {
        /// Byte offset of the operator.
        offset: usize,
        /// The operator as written.
        operator: String,
        /// A correct use of the operator.
        example: &'static str,
    },
    /// Empty parentheses `()`.
    #[error("the group at byte {offset} is empty: put a condition between ( and ) or remove them")]
    EmptyGroup {
        /// Byte offset of the opening parenthesis.
        offset: usize,
    },
    /// A range that does not have the `[LOW TO HIGH]` shape.
    #[error(
        "the range at byte {offset} is malformed ({}): write [LOW TO HIGH] (inclusive), {{LOW TO HIGH}} (exclusive) or * for an open end, e.g. bytes:[100 TO 500]",
        Shown(.problem)
    )]
    MalformedRange {
        /// Byte offset of the range's opening bracket.
        offset: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// A `time` bound that is not a time.
    #[error(
        "`{}` at byte {offset} is not a time: write 2026-01-31, 2026-01-31T12:00:00Z, now, or now-15m / now-1h / now-7d",
        Shown(.value)
    )]
    BadTime {
        /// Byte offset of the value.
        offset: usize,
        /// The value as written.
        value: String,
    },
    /// A comparison (`>`, `<=` …) with nothing to compare against, or on free text.
    #[error(
        "the comparison at byte {offset} is incomplete: write FIELD:>VALUE, FIELD:>=VALUE, FIELD:<VALUE or FIELD:<=VALUE, e.g. EventID:>4600"
    )]
    BadComparison {
        /// Byte offset of the comparison operator.
        offset: usize,
    },
    /// `exists:` without a field name.
    #[error("`exists:` at byte {offset} needs a field name: write exists:user.name")]
    ExistsWithoutField {
        /// Byte offset of `exists:`.
        offset: usize,
    },
    /// Parentheses nested deeper than the parser accepts; it refuses rather than exhaust its stack.
    #[error(
        "the group at byte {offset} is nested more than {limit} levels deep: remove redundant parentheses"
    )]
    TooDeep {
        /// Byte offset of the parenthesis that went too deep.
        offset: usize,
        /// The deepest nesting accepted.
        limit: usize,
    },
    /// More terms than a query may hold.
    #[error(
        "the query holds more than {limit} terms (the one at byte {offset} is past the limit): search for fewer values at once, or narrow by field"
    )]
    TooManyTerms {
        /// Byte offset of the first term past the limit.
        offset: usize,
        /// The most terms accepted.
        limit: usize,
    },
    /// An IPv6 network whose addresses cannot all be found by how they are written.
    #[error(
        "the IPv6 network {network} at byte {offset} cannot be searched exactly: {reason}; search for its addresses one by one, or sweep files for it with vigil hunt --search"
    )]
    UnsearchableNetwork {
        /// Byte offset of the network.
        offset: usize,
        /// The network as written.
        network: String,
        /// Why.
        reason: &'static str,
    },
    /// A character that cannot start a term here.
    #[error(
        "unexpected `{c}` at byte {offset}: quote it (\"{c}\") or escape it with a backslash to search for it",
        c = Shown(.found.encode_utf8(&mut [0; 4]))
    )]
    Unexpected {
        /// Byte offset of the character.
        offset: usize,
        /// The character found.
        found: char,
    },
    /// Something after `|` that is not a known command.
    #[error(
        "unknown command `{}` after | at byte {offset}: write `| count by FIELD`, `| top N FIELD` or `| rare N FIELD`",
        Shown(.found)
    )]
    UnknownPipe {
        /// Byte offset of the command.
        offset: usize,
        /// The command as written.
        found: String,
    },
    /// A `| count by` or `| top` command that is incomplete.
    #[error("`{}` at byte {offset} is incomplete: write {usage}", Shown(.command))]
    IncompletePipe {
        /// Byte offset where more was expected.
        offset: usize,
        /// The command.
        command: String,
        /// How to write it.
        usage: &'static str,
    },
    /// `| top N` or `| rare N` with a count that is no whole number within bounds.
    #[error(
        "`{command} {}` at byte {offset}: the count must be a whole number from 1 to {}, e.g. | {command} 10 user.name",
        Shown(.found),
        crate::MAX_TOP
    )]
    TopCount {
        /// Byte offset of the count.
        offset: usize,
        /// `top` or `rare`.
        command: String,
        /// The count as written.
        found: String,
    },
    /// More fields after `count by`, `top` or `rare` than are counted together.
    #[error(
        "too many fields at byte {offset}: `count by`, `top` and `rare` count at most {} fields together, e.g. | count by user.name, source.ip",
        crate::MAX_GROUP_FIELDS
    )]
    TooManyGroupFields {
        /// Byte offset of the extra field's comma.
        offset: usize,
    },
    /// Text after a complete `| …` command.
    #[error(
        "unexpected text at byte {offset} after the | command: a query ends with one command; remove `{}` or move conditions before the |",
        Shown(.found)
    )]
    TrailingAfterPipe {
        /// Byte offset of the extra text.
        offset: usize,
        /// The extra text.
        found: String,
    },
}

impl ParseError {
    /// Byte offset into the query text where the problem is.
    pub fn offset(&self) -> usize {
        match self {
            ParseError::UnterminatedPhrase { offset }
            | ParseError::MissingValue { offset, .. }
            | ParseError::MissingField { offset }
            | ParseError::WildcardField { offset, .. }
            | ParseError::UnclosedParen { offset }
            | ParseError::UnmatchedParen { offset }
            | ParseError::MissingOperand { offset, .. }
            | ParseError::EmptyGroup { offset }
            | ParseError::MalformedRange { offset, .. }
            | ParseError::BadTime { offset, .. }
            | ParseError::BadComparison { offset }
            | ParseError::ExistsWithoutField { offset }
            | ParseError::TooDeep { offset, .. }
            | ParseError::TooManyTerms { offset, .. }
            | ParseError::UnsearchableNetwork { offset, .. }
            | ParseError::Unexpected { offset, .. }
            | ParseError::UnknownPipe { offset, .. }
            | ParseError::IncompletePipe { offset, .. }
            | ParseError::TopCount { offset, .. }
            | ParseError::TooManyGroupFields { offset }
            | ParseError::TrailingAfterPipe { offset, .. } => *offset,
        }
    }
}

/// User text quoted in a message, its control characters escaped (`\t`, `\u{5}`) so that an
/// error stays one printable line whatever was typed.
struct Shown<'a>(&'a str);

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write as _;
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}
