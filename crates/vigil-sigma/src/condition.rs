//! The condition language of a Sigma detection, parsed into an AST.
//!
//! Grammar (keywords are case-insensitive; identifiers are the names of search identifiers,
//! made of letters, digits, `_`, `-` and `.`; a pattern may contain `*` wildcards):
//!
//! ```text
//! condition  := or_expr EOF
//! or_expr    := and_expr ( "or" and_expr )*
//! and_expr   := not_expr ( "and" not_expr )*
//! not_expr   := "not" not_expr | primary
//! primary    := "(" or_expr ")"
//!             | quantity "of" target
//!             | IDENT
//! quantity   := "all" | "any" | NUMBER          ("1 of" = "any of")
//! target     := "them" | PATTERN
//! ```
//!
//! `and` binds tighter than `or`, `not` tighter than both.
//!
//! Sigma 1 rules could end a condition with an aggregation (`selection | count() by X > 5`,
//! counted within the rule's `timeframe`). Sigma 2 dropped it for correlation rules, but rule
//! sets written for Sigma 1 tools (SigmaHQ's `unsupported` folder, Hayabusa users' own rules)
//! still use it: [`split_aggregation`] and [`parse_aggregation`] read it, and the loader runs it
//! as the correlation rule it stands for. [`parse_condition`] itself refuses a pipe.
//!
//! ```text
//! aggregation := function "(" [FIELD] ")" [ "by" FIELD ] op NUMBER
//! function    := "count" | "sum" | "avg" | "min" | "max"
//! op          := ">" | ">=" | "<" | "<=" | "=" | "=="
//! ```

use std::fmt;

use crate::model::CmpOp;

/// How many of the searches a quantified expression requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// `all of`.
    All,
    /// `N of` (`1 of` is "any").
    AtLeast(u32),
}

/// What a quantified expression ranges over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `them`: every search identifier of the rule.
    Them,
    /// A name pattern with `*` wildcards (`selection_*`).
    Pattern(String),
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// A search identifier by name.
    Ref(String),
    /// Every operand must hold.
    And(Vec<Condition>),
    /// At least one operand must hold.
    Or(Vec<Condition>),
    /// The operand must not hold.
    Not(Box<Condition>),
    /// `all of x`, `1 of x`, `N of x`.
    Of(Quantity, Target),
}

/// A condition that does not parse, with the byte offset where parsing stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at column {column} of the condition)")]
pub struct ConditionError {
    /// What went wrong and what to write instead.
    pub message: String,
    /// 1-based column in the condition text.
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Of,
    All,
    Them,
    Number(u32),
    Ident(String),
    Pipe,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::LParen => f.write_str("("),
            Tok::RParen => f.write_str(")"),
            Tok::And => f.write_str("and"),
            Tok::Or => f.write_str("or"),
            Tok::Not => f.write_str("not"),
            Tok::Of => f.write_str("of"),
            Tok::All => f.write_str("all"),
            Tok::Them => f.write_str("them"),
            Tok::Number(n) => write!(f, "{n}"),
            Tok::Ident(s) => f.write_str(s),
            Tok::Pipe => f.write_str("|"),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, ConditionError> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        match c {
            b'(' => {
                out.push((Tok::LParen, start));
                i += 1;
            }
            b')' => {
                out.push((Tok::RParen, start));
                i += 1;
            }
            b'|' => {
                // Everything after a pipe is Sigma 1 aggregation syntax; the parser rejects it.
                out.push((Tok::Pipe, start));
                break;
            }
            _ if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'*' | b'-' | b'.') => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || matches!(bytes[i], b'_' | b'*' | b'-' | b'.'))
                {
                    i += 1;
                }
                let word = &text[start..i];
                let tok = match word.to_ascii_lowercase().as_str() {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    "of" => Tok::Of,
                    "all" | "any" if word.eq_ignore_ascii_case("all") => Tok::All,
                    "any" => Tok::Number(1),
                    "them" => Tok::Them,
                    _ => match word.parse::<u32>() {
                        Ok(n) => Tok::Number(n),
                        Err(_) => Tok::Ident(word.to_string()),
                    },
                };
                out.push((tok, start));
            }
            _ => {
                return Err(ConditionError {
                    message: format!(
                        "unexpected character {:?}; a condition uses search identifiers, and/or/not, parentheses and 'N of'",
                        &text[start..].chars().next().unwrap_or(' ')
                    ),
                    column: start + 1,
                });
            }
        }
    }
    Ok(out)
}

/// How deeply a condition may nest parentheses and `not`s. The parser and the compiler recurse
/// on nesting: a rule nested a hundred thousand deep would exhaust the stack and abort the
/// process loading it, where a bad rule must only be rejected.
pub const MAX_CONDITION_DEPTH: usize = 64;

struct P {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    len: usize,
    depth: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }
    fn col(&self) -> usize {
        self.toks.get(self.pos).map_or(self.len, |(_, c)| *c) + 1
    }
    fn err<T>(&self, message: String) -> Result<T, ConditionError> {
        Err(ConditionError {
            message,
            column: self.col(),
        })
    }

    /// Goes one level deeper (a parenthesis or a `not`), refusing past the limit.
    fn descend(&mut self) -> Result<(), ConditionError> {
        self.depth += 1;
        if self.depth > MAX_CONDITION_DEPTH {
            return self.err(format!(
                "the condition nests parentheses and 'not' more than {MAX_CONDITION_DEPTH} levels deep; simplify it"
            ));
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Condition, ConditionError> {
        let mut items = vec![self.and_expr()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            items.push(self.and_expr()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Condition::Or(items)
        })
    }

    fn and_expr(&mut self) -> Result<Condition, ConditionError> {
        let mut items = vec![self.not_expr()?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            items.push(self.not_expr()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Condition::And(items)
        })
    }

    fn not_expr(&mut self) -> Result<Condition, ConditionError> {
        if self.peek() == Some(&Tok::Not) {
            self.pos += 1;
            self.descend()?;
            let inner = self.not_expr()?;
            self.depth -= 1;
            return Ok(Condition::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Condition, ConditionError> {
        let Some(tok) = self.peek().cloned() else {
            return self.err("the condition ends too early; add a search identifier".into());
        };
        match tok {
            Tok::LParen => {
                self.pos += 1;
                self.descend()?;
                let inner = self.or_expr()?;
                if self.peek() != Some(&Tok::RParen) {
                    return self.err("missing ')'".into());
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(inner)
            }
            Tok::All | Tok::Number(_) => {
                self.pos += 1;
                let quantity = match tok {
                    Tok::Number(0) => {
                        return self.err("'0 of' never matches; use '1 of' or 'all of'".into());
                    }
                    Tok::Number(n) => Quantity::AtLeast(n),
                    _ => Quantity::All,
                };
                if self.peek() != Some(&Tok::Of) {
                    return self.err(format!("expected 'of' after '{tok}'"));
                }
                self.pos += 1;
                let target = match self.peek().cloned() {
                    Some(Tok::Them) => Target::Them,
                    Some(Tok::Ident(p)) => Target::Pattern(p),
                    _ => {
                        return self.err(
                            "expected 'them' or a search identifier pattern after 'of'".into(),
                        );
                    }
                };
                self.pos += 1;
                Ok(Condition::Of(quantity, target))
            }
            Tok::Ident(name) => {
                self.pos += 1;
                if name.contains('*') {
                    return self.err(format!(
                        "the pattern '{name}' needs a quantifier: write '1 of {name}' or 'all of {name}'"
                    ));
                }
                Ok(Condition::Ref(name))
            }
            Tok::Pipe => self.err(
                "aggregation expressions ('| count() ...') are not part of Sigma 2; write a correlation rule instead"
                    .into(),
            ),
            other => self.err(format!("unexpected '{other}'")),
        }
    }
}

/// The function of a Sigma 1 aggregation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateFunction {
    /// `count()`: events; `count(field)`: distinct values of the field.
    Count,
    /// `sum(field)`.
    Sum,
    /// `avg(field)`.
    Avg,
    /// `min(field)`.
    Min,
    /// `max(field)`.
    Max,
}

/// A Sigma 1 aggregation: what follows the pipe of a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregation {
    /// `count(field) by group > 5` and the other functions.
    Computed(Computation),
    /// `near a and b`: the searches whose matches must all come within the timeframe of the
    /// condition's.
    Near(Vec<String>),
}

/// A computed Sigma 1 aggregation: `count(field) by group > 5`.
#[derive(Debug, Clone, PartialEq)]
pub struct Computation {
    /// The function.
    pub function: AggregateFunction,
    /// The field in its parentheses, if any.
    pub field: Option<String>,
    /// The `by` field, if any.
    pub group_by: Option<String>,
    /// The comparison.
    pub op: CmpOp,
    /// The number compared with.
    pub bound: f64,
}

/// A condition split at its aggregation pipe: the search expression, and the aggregation
/// after the pipe if there is one (`selection | count() > 5` → `selection`, `count() > 5`).
pub fn split_aggregation(text: &str) -> (&str, Option<&str>) {
    match text.split_once('|') {
        Some((search, aggregation)) => (search, Some(aggregation)),
        None => (text, None),
    }
}

/// Parses the aggregation after a condition's pipe (`count(TargetUserName) by IpAddress > 10`).
pub fn parse_aggregation(text: &str) -> Result<Aggregation, ConditionError> {
    let err = |rest: &str, message: String| ConditionError {
        message,
        column: text.len() - rest.len() + 1,
    };
    let is_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@');
    let name_at = |rest: &str| -> usize { rest.find(|c: char| !is_name(c)).unwrap_or(rest.len()) };
    let mut rest = text.trim_start();
    let end = name_at(rest);
    let function = match rest[..end].to_ascii_lowercase().as_str() {
        "count" => AggregateFunction::Count,
        "sum" => AggregateFunction::Sum,
        "avg" => AggregateFunction::Avg,
        "min" => AggregateFunction::Min,
        "max" => AggregateFunction::Max,
        "near" => return near(&rest[end..], |rest, message| err(rest, message)),
        other => {
            return Err(err(
                rest,
                format!(
                    "unknown aggregation {other:?}; write count(), count(field), sum(field), avg(field), min(field) or max(field)"
                ),
            ));
        }
    };
    rest = rest[end..].trim_start();
    let Some(inner) = rest.strip_prefix('(') else {
        return Err(err(
            rest,
            "expected '(' after the aggregation function".into(),
        ));
    };
    let inner = inner.trim_start();
    let end = name_at(inner);
    let field = (end > 0).then(|| inner[..end].to_string());
    rest = inner[end..].trim_start();
    let Some(after) = rest.strip_prefix(')') else {
        return Err(err(rest, "expected ')' after the aggregated field".into()));
    };
    rest = after.trim_start();
    let mut group_by = None;
    if rest
        .get(..2)
        .is_some_and(|by| by.eq_ignore_ascii_case("by"))
        && rest[2..].starts_with(' ')
    {
        let after = rest[2..].trim_start();
        let end = name_at(after);
        if end == 0 {
            return Err(err(after, "expected a field name after 'by'".into()));
        }
        group_by = Some(after[..end].to_string());
        rest = after[end..].trim_start();
    }
    let (op, len) = [
        (">=", CmpOp::Gte),
        ("<=", CmpOp::Lte),
        ("==", CmpOp::Eq),
        (">", CmpOp::Gt),
        ("<", CmpOp::Lt),
        ("=", CmpOp::Eq),
    ]
    .into_iter()
    .find(|(symbol, _)| rest.starts_with(symbol))
    .map(|(symbol, op)| (op, symbol.len()))
    .ok_or_else(|| {
        err(
            rest,
            "expected a comparison: >, >=, <, <= or = and a number".into(),
        )
    })?;
    rest = rest[len..].trim();
    let bound = rest
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .ok_or_else(|| {
            err(
                rest,
                format!("expected a number after the comparison, not {rest:?}"),
            )
        })?;
    Ok(Aggregation::Computed(Computation {
        function,
        field,
        group_by,
        op,
        bound,
    }))
}

/// `near a and b` after its keyword: search identifiers joined by `and`. A `not` (that a
/// search must not match nearby) is refused: no Sigma 2 correlation expresses an absence.
fn near(
    text: &str,
    err: impl Fn(&str, String) -> ConditionError,
) -> Result<Aggregation, ConditionError> {
    let mut searches = Vec::new();
    let mut rest = text.trim_start();
    loop {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .unwrap_or(rest.len());
        let word = &rest[..end];
        if word.eq_ignore_ascii_case("not") {
            return Err(err(
                rest,
                "'near … and not X' asks that X does not happen nearby, which no Sigma 2 correlation expresses; leave the 'not' part out or write the rule anew".into(),
            ));
        }
        if end == 0 || word.eq_ignore_ascii_case("and") {
            return Err(err(
                rest,
                "expected a search identifier after 'near' or 'and'".into(),
            ));
        }
        searches.push(word.to_string());
        rest = rest[end..].trim_start();
        if rest.is_empty() {
            return Ok(Aggregation::Near(searches));
        }
        match rest.get(..4) {
            Some(and) if and.eq_ignore_ascii_case("and ") => rest = rest[4..].trim_start(),
            _ => {
                return Err(err(
                    rest,
                    "'near' takes search identifiers joined by 'and' (near a and b)".into(),
                ));
            }
        }
    }
}

/// Parses one condition string.
pub fn parse_condition(text: &str) -> Result<Condition, ConditionError> {
    let toks = tokenize(text)?;
    let mut p = P {
        toks,
        pos: 0,
        len: text.len(),
        depth: 0,
    };
    let cond = p.or_expr()?;
    if let Some(tok) = p.peek() {
        let msg = if *tok == Tok::Pipe {
            "aggregation expressions ('| count() ...') are not part of Sigma 2; write a correlation rule instead".to_string()
        } else {
            format!("unexpected '{tok}' after a complete condition; join with 'and' or 'or'")
        };
        return p.err(msg);
    }
    Ok(cond)
}

/// Whether a search identifier `name` matches a pattern with `*` wildcards.
///
/// Linear in the lengths, without recursion: on a mismatch it backtracks only to the last `*`
/// (a pattern of many stars cannot make it exponential).
/// Whether `x of target` takes the search identifier `name`: `them` takes every one whose name
/// does not start with `_`, a pattern those it matches.
pub fn takes(target: &Target, name: &str) -> bool {
    match target {
        Target::Them => !name.starts_with('_'),
        Target::Pattern(p) => pattern_matches(p, name),
    }
}

pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    // The position after the last `*` seen, and the name position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi + 1, ni));
            pi += 1;
        } else if pi < p.len() && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if let Some((after, tried)) = star {
            pi = after;
            ni = tried + 1;
            star = Some((after, tried + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Condition {
        Condition::Ref(s.into())
    }

    #[test]
    fn precedence_and_parentheses() {
        let cases: Vec<(&str, Condition)> = vec![
            ("sel", r("sel")),
            (
                "a or b and c",
                Condition::Or(vec![r("a"), Condition::And(vec![r("b"), r("c")])]),
            ),
            (
                "(a or b) and not c",
                Condition::And(vec![
                    Condition::Or(vec![r("a"), r("b")]),
                    Condition::Not(Box::new(r("c"))),
                ]),
            ),
            (
                "not not a",
                Condition::Not(Box::new(Condition::Not(Box::new(r("a"))))),
            ),
            (
                "1 of selection_* and not all of filter*",
                Condition::And(vec![
                    Condition::Of(Quantity::AtLeast(1), Target::Pattern("selection_*".into())),
                    Condition::Not(Box::new(Condition::Of(
                        Quantity::All,
                        Target::Pattern("filter*".into()),
                    ))),
                ]),
            ),
            ("all of them", Condition::Of(Quantity::All, Target::Them)),
            (
                "any of them",
                Condition::Of(Quantity::AtLeast(1), Target::Them),
            ),
            (
                "2 of sel*",
                Condition::Of(Quantity::AtLeast(2), Target::Pattern("sel*".into())),
            ),
            ("A AND B", Condition::And(vec![r("A"), r("B")])),
        ];
        for (text, want) in cases {
            assert_eq!(parse_condition(text).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn errors_point_at_the_problem() {
        for (text, col) in [
            ("a and", 6),
            ("(a or b", 8),
            ("a b", 3),
            ("selection | count() > 5", 11),
            ("sel*", 5),
            ("1 of", 5),
            ("a & b", 3),
        ] {
            let e = parse_condition(text).unwrap_err();
            assert_eq!(e.column, col, "{text}: {e}");
        }
    }

    #[test]
    fn sigma_1_aggregations_are_read_after_the_pipe() {
        let agg = |text: &str| parse_aggregation(split_aggregation(text).1.unwrap());
        let computed = |text: &str| match agg(text) {
            Ok(Aggregation::Computed(c)) => Ok(c),
            Ok(near) => panic!("{text}: {near:?}"),
            Err(e) => Err(e),
        };
        let a = computed("selection and not filter | count(TargetUserName) by IpAddress > 10");
        assert_eq!(
            a.unwrap(),
            Computation {
                function: AggregateFunction::Count,
                field: Some("TargetUserName".into()),
                group_by: Some("IpAddress".into()),
                op: CmpOp::Gt,
                bound: 10.0,
            }
        );
        let a = computed("sel |COUNT ( )>=5").unwrap();
        assert_eq!(
            (a.function, a.field, a.group_by, a.op, a.bound),
            (AggregateFunction::Count, None, None, CmpOp::Gte, 5.0)
        );
        let a = computed("sel | sum(dns.bytes_out) by src.ip <= 1.5e6").unwrap();
        assert_eq!(
            (a.function, a.field.as_deref(), a.op, a.bound),
            (
                AggregateFunction::Sum,
                Some("dns.bytes_out"),
                CmpOp::Lte,
                1_500_000.0
            )
        );
        assert_eq!(
            computed("sel | count() by TaskName < 5").unwrap().op,
            CmpOp::Lt
        );
        assert_eq!(computed("sel | avg(x) == 2").unwrap().op, CmpOp::Eq);
        assert_eq!(
            agg("netCommand1 | near netCommand2 AND netCommand3").unwrap(),
            Aggregation::Near(vec!["netCommand2".into(), "netCommand3".into()])
        );
        assert_eq!(split_aggregation("a and b"), ("a and b", None));
        for (text, says) in [
            (
                "sel | near dll1 and dll2 and not exclusion",
                "no Sigma 2 correlation",
            ),
            ("sel | near", "after 'near'"),
            ("sel | near a or b", "joined by 'and'"),
            ("sel | median(x) > 1", "unknown aggregation"),
            ("sel | count > 1", "'('"),
            ("sel | count(x > 1", "')'"),
            ("sel | count() by > 1", "after 'by'"),
            ("sel | count() 5", "comparison"),
            ("sel | count() > lots", "number"),
            ("sel | count() > 5 and more", "number"),
            ("sel | count() 日本 > 5", "comparison"),
            ("sel | count(日本) > 5", "')'"),
            ("sel | near 日本", "after 'near'"),
        ] {
            let e = agg(text).unwrap_err();
            assert!(e.message.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn no_aggregation_text_makes_the_parser_panic() {
        // Every string of up to four pieces from a set of awkward ones.
        let pieces = [
            "count", "near", "by", "(", ")", ">", ">=", "=", " ", "and", "not", "日本", "é", "5",
            "x", "-1", "1e400", "|",
        ];
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            texts = texts
                .iter()
                .flat_map(|t| pieces.iter().map(move |p| format!("{t}{p}")))
                .collect();
            for text in &texts {
                let _ = parse_aggregation(text);
            }
        }
    }

    #[test]
    fn patterns() {
        assert!(pattern_matches("sel*", "selection"));
        assert!(pattern_matches("*", "x"));
        assert!(pattern_matches("*", ""));
        assert!(pattern_matches("a*b*c", "aXXbYc"));
        assert!(pattern_matches("a*b*c", "abbbc"));
        assert!(pattern_matches("*_1", "sel_1_1"));
        assert!(!pattern_matches("sel*", "filter"));
        assert!(!pattern_matches("a*b", "ab_"));
        assert!(!pattern_matches("a*b*c", "aXXbY"));
        assert!(!pattern_matches("abc", "ab"));
        // Many stars stay linear.
        let stars = format!("{}x", "*".repeat(5_000));
        assert!(!pattern_matches(&stars, &"a".repeat(5_000)));
    }

    #[test]
    fn deep_nesting_is_rejected_not_overflowed() {
        let parens = format!("{}sel{}", "(".repeat(100_000), ")".repeat(100_000));
        let nots = format!("{}sel", "not ".repeat(100_000));
        for text in [parens, nots] {
            let e = parse_condition(&text).unwrap_err();
            assert!(e.message.contains("more than 64 levels deep"), "{e}");
        }
        let fine = format!("{}sel{}", "(".repeat(64), ")".repeat(64));
        assert_eq!(parse_condition(&fine).unwrap(), r("sel"));
    }
}
