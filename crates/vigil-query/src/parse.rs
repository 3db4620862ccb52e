//! The recursive-descent parser: text → [`Query`]. The grammar it implements is written down in
//! the crate documentation; every function here is named after the rule it parses.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::ast::{Bound, Expr, Field, Pipe, Query, Scalar, TimeValue, Wildcard, WildcardPart};
use crate::error::ParseError;

/// Deepest parenthesis nesting accepted; queries arrive over HTTP, so recursion must be bounded.
pub const MAX_DEPTH: usize = 64;

/// Most terms (words, `field:value` tests, phrases, ranges) a query may hold: each one is a
/// lookup in the index, and a query pasted with thousands of words would take seconds of the
/// server's time (as Elasticsearch's `max_clause_count`).
pub const MAX_TERMS: usize = 1024;

/// The count used when `| top FIELD` or `| rare FIELD` gives none.
pub const DEFAULT_TOP: usize = 10;

/// The most values `| top N` and `| rare N` list.
pub const MAX_TOP: usize = 10_000;

/// The most fields `| count by` and `| top` count together (`count by user.name, source.ip`).
pub const MAX_GROUP_FIELDS: usize = 3;

/// Characters a backslash escapes; before any other character a backslash is literal, so Windows
/// paths (`C:\Windows\System32`) can be written as they are.
const ESCAPABLE: &str = "\\*?:()\"|[]{}<> \t";

/// Parses a query. An empty (or all-blank) query selects every event.
pub fn parse(text: &str) -> Result<Query, ParseError> {
    let mut parser = Parser {
        src: text,
        pos: 0,
        depth: 0,
        terms: 0,
        default_field: None,
    };
    parser.query()
}

/// A character read from a word, remembering whether it was escaped (an escaped `*` is literal).
type WordChar = (char, bool);

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
    /// Terms read so far (see [`MAX_TERMS`]).
    terms: usize,
    /// Set inside `field:( … )`: bare terms in the group apply to this field.
    default_field: Option<(Field, String)>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// Whether a boolean operator keyword starts here (it must stand alone: `ORACLE` is a word).
    fn keyword(&self) -> Option<&'static str> {
        let rest = &self.src[self.pos..];
        ["AND", "OR", "NOT"].into_iter().find(|kw| {
            rest.starts_with(kw)
                && rest[kw.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| c.is_whitespace() || c == '(' || c == '"')
        })
    }

    /// Whether the next thing ends an operand list: end, `)`, `|`, or a binary operator.
    fn at_operand_end(&self) -> bool {
        matches!(self.peek(), None | Some(')') | Some('|'))
            || matches!(self.keyword(), Some("AND" | "OR"))
    }

    // query = [ or ] [ "|" pipe ]
    fn query(&mut self) -> Result<Query, ParseError> {
        self.skip_ws();
        let filter = if matches!(self.peek(), None | Some('|')) {
            Expr::All
        } else {
            self.or()?
        };
        self.skip_ws();
        match self.peek() {
            None => Ok(Query { filter, pipe: None }),
            Some('|') => {
                self.bump();
                let pipe = self.pipe()?;
                Ok(Query {
                    filter,
                    pipe: Some(pipe),
                })
            }
            Some(')') => Err(ParseError::UnmatchedParen { offset: self.pos }),
            Some(found) => Err(ParseError::Unexpected {
                offset: self.pos,
                found,
            }),
        }
    }

    /// Steps over the keyword `operator` (at the current position) and the spaces after it;
    /// refuses when no operand follows.
    fn operator(&mut self, operator: &str) -> Result<(), ParseError> {
        let offset = self.pos;
        self.pos += operator.len();
        self.skip_ws();
        if self.at_operand_end() {
            return Err(ParseError::MissingOperand {
                offset,
                operator: operator.into(),
                example: example(operator),
            });
        }
        Ok(())
    }

    // or = and { "OR" and }
    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.and()?];
        loop {
            self.skip_ws();
            if self.keyword() != Some("OR") {
                break;
            }
            self.operator("OR")?;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    // and = unary { [ "AND" ] unary }
    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.unary()?];
        loop {
            self.skip_ws();
            if matches!(self.peek(), None | Some(')') | Some('|')) || self.keyword() == Some("OR") {
                break;
            }
            if self.keyword() == Some("AND") {
                self.operator("AND")?;
            }
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    // unary = "NOT" unary | primary
    //
    // Read in a loop, not by recursion: a query of twenty thousand NOTs must not exhaust the
    // stack. Two NOTs cancel out.
    fn unary(&mut self) -> Result<Expr, ParseError> {
        let mut negated = false;
        loop {
            self.skip_ws();
            match self.keyword() {
                Some("NOT") => {
                    self.operator("NOT")?;
                    negated = !negated;
                }
                Some(operator) => {
                    return Err(ParseError::MissingOperand {
                        offset: self.pos,
                        operator: operator.into(),
                        example: example(operator),
                    });
                }
                None => break,
            }
        }
        let operand = self.primary()?;
        Ok(if negated {
            Expr::Not(Box::new(operand))
        } else {
            operand
        })
    }

    // primary = "(" or ")" | phrase | "exists:" name | name ":" value | word
    fn primary(&mut self) -> Result<Expr, ParseError> {
        let offset = self.pos;
        if self.peek() != Some('(') {
            self.terms += 1;
            if self.terms > MAX_TERMS {
                return Err(ParseError::TooManyTerms {
                    offset,
                    limit: MAX_TERMS,
                });
            }
        }
        match self.peek() {
            Some('(') => self.group(),
            Some(')') => Err(ParseError::UnmatchedParen { offset }),
            Some('"') => {
                let text = self.phrase()?;
                Ok(match &self.default_field {
                    Some((field, _)) => Expr::Phrase {
                        field: Some(field.clone()),
                        text,
                    },
                    None => Expr::Phrase { field: None, text },
                })
            }
            Some(':') => match self.ipv6_word(offset) {
                Some(word) => self.free_word(&word, offset),
                None => Err(ParseError::MissingField { offset }),
            },
            Some('>' | '<') => Err(ParseError::BadComparison { offset }),
            Some(found @ ('[' | ']' | '{' | '}')) => Err(ParseError::Unexpected { offset, found }),
            _ => {
                let word = self.word(true);
                if self.peek() == Some(':') {
                    // An IPv6 address or network is a value, not a field name before a `:`.
                    if let Some(word) = self.ipv6_word(offset) {
                        return self.free_word(&word, offset);
                    }
                    let name: String = word.iter().map(|(c, _)| c).collect();
                    self.bump();
                    if name == "exists" {
                        return self.exists(offset);
                    }
                    if word.iter().any(|&(c, esc)| !esc && (c == '*' || c == '?')) {
                        return Err(ParseError::WildcardField {
                            offset,
                            field: name,
                        });
                    }
                    return self.value(Field::from_name(&name), name);
                }
                self.free_word(&word, offset)
            }
        }
    }

    /// A word outside `field:value`: free text, or the value of the enclosing `field:( … )`.
    fn free_word(&mut self, word: &[WordChar], offset: usize) -> Result<Expr, ParseError> {
        let field = self.default_field.clone().map(|(field, _)| field);
        let expr = word_expr(field, word, offset)?;
        self.counted(expr, offset)
    }

    /// The word from `start` on, colons and all, when it is an IPv6 address or network
    /// (`2001:db8::1`, `fe80::/10`); otherwise `None`, the position left where it was.
    fn ipv6_word(&mut self, start: usize) -> Option<Vec<WordChar>> {
        let save = self.pos;
        self.pos = start;
        let word = self.word(false);
        let text: String = word.iter().map(|(c, _)| c).collect();
        let address = text.split_once('/').map_or(text.as_str(), |(a, _)| a);
        if address.parse::<std::net::Ipv6Addr>().is_ok() {
            return Some(word);
        }
        self.pos = save;
        None
    }

    /// A word's expression, its alternatives beyond the first (an IPv4 network's) counted
    /// against [`MAX_TERMS`] like words written out.
    fn counted(&mut self, expr: Expr, offset: usize) -> Result<Expr, ParseError> {
        if let Expr::Or(alternatives) = &expr {
            self.terms += alternatives.len().saturating_sub(1);
            if self.terms > MAX_TERMS {
                return Err(ParseError::TooManyTerms {
                    offset,
                    limit: MAX_TERMS,
                });
            }
        }
        Ok(expr)
    }

    fn group(&mut self) -> Result<Expr, ParseError> {
        let offset = self.pos;
        self.bump();
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::TooDeep {
                offset,
                limit: MAX_DEPTH,
            });
        }
        self.skip_ws();
        match self.peek() {
            Some(')') => return Err(ParseError::EmptyGroup { offset }),
            None | Some('|') => return Err(ParseError::UnclosedParen { offset }),
            _ => {}
        }
        let inner = self.or()?;
        self.skip_ws();
        if self.peek() != Some(')') {
            return Err(ParseError::UnclosedParen { offset });
        }
        self.bump();
        self.depth -= 1;
        Ok(inner)
    }

    fn exists(&mut self, offset: usize) -> Result<Expr, ParseError> {
        let word = self.word(true);
        let name: String = word.iter().map(|(c, _)| c).collect();
        if name.is_empty() {
            return Err(ParseError::ExistsWithoutField { offset });
        }
        if word.iter().any(|&(c, esc)| !esc && (c == '*' || c == '?')) {
            return Err(ParseError::WildcardField {
                offset: offset + "exists:".len(),
                field: name,
            });
        }
        Ok(Expr::Exists(Field::from_name(&name)))
    }

    // value = phrase | range | comparison | "(" or ")" | "*" | word
    fn value(&mut self, field: Field, name: String) -> Result<Expr, ParseError> {
        let offset = self.pos;
        match self.peek() {
            None | Some(')' | '|') => Err(ParseError::MissingValue {
                offset,
                field: name,
            }),
            Some(c) if c.is_whitespace() => Err(ParseError::MissingValue {
                offset,
                field: name,
            }),
            Some('"') => Ok(Expr::Phrase {
                field: Some(field),
                text: self.phrase()?,
            }),
            Some('[' | '{') => self.range(field),
            Some('>' | '<') => self.comparison(field),
            Some('(') => {
                let outer = self.default_field.replace((field, name));
                let result = self.group();
                self.default_field = outer;
                result
            }
            Some(_) => {
                let word = self.word(false);
                if word == [('*', false)] {
                    return Ok(Expr::Exists(field));
                }
                let expr = word_expr(Some(field), &word, offset)?;
                self.counted(expr, offset)
            }
        }
    }

    // range = ( "[" | "{" ) bound "TO" bound ( "]" | "}" )
    fn range(&mut self, field: Field) -> Result<Expr, ParseError> {
        let offset = self.pos;
        let inclusive_low = self.bump() == Some('[');
        let malformed = |problem: &str| ParseError::MalformedRange {
            offset,
            problem: problem.into(),
        };
        self.skip_ws();
        let lower = self.bound_token()?;
        let Some((low_text, low_quoted, low_offset)) = lower else {
            return Err(malformed("the lower end is missing"));
        };
        self.skip_ws();
        if !self.at_to() {
            return Err(malformed("expected TO after the lower end"));
        }
        self.pos += 2;
        self.skip_ws();
        let Some((high_text, high_quoted, high_offset)) = self.bound_token()? else {
            return Err(malformed("the upper end is missing"));
        };
        self.skip_ws();
        let inclusive_high = match self.bump() {
            Some(']') => true,
            Some('}') => false,
            _ => return Err(malformed("it is not closed with ] or }")),
        };
        let lower = make_bound(&field, &low_text, low_quoted, low_offset, inclusive_low)?;
        let upper = make_bound(&field, &high_text, high_quoted, high_offset, inclusive_high)?;
        Ok(Expr::Range {
            field,
            lower,
            upper,
        })
    }

    /// Whether the range's `TO` (or `to`) starts here as a word of its own: `[a tomato]` has
    /// no `TO`, and reading one there took `mato` for the upper end.
    fn at_to(&self) -> bool {
        let rest = &self.src[self.pos..];
        (rest.starts_with("TO") || rest.starts_with("to"))
            && rest[2..]
                .chars()
                .next()
                .is_none_or(|c| c.is_whitespace() || matches!(c, '"' | ']' | '}'))
    }

    // comparison = ( ">" | ">=" | "<" | "<=" ) bound
    fn comparison(&mut self, field: Field) -> Result<Expr, ParseError> {
        let offset = self.pos;
        let greater = self.bump() == Some('>');
        let inclusive = if self.peek() == Some('=') {
            self.bump();
            true
        } else {
            false
        };
        let Some((text, quoted, value_offset)) = self.bound_token()? else {
            return Err(ParseError::BadComparison { offset });
        };
        if text == "*" && !quoted {
            return Err(ParseError::BadComparison { offset });
        }
        let bound = make_bound(&field, &text, quoted, value_offset, inclusive)?;
        let (lower, upper) = if greater {
            (bound, Bound::Unbounded)
        } else {
            (Bound::Unbounded, bound)
        };
        Ok(Expr::Range {
            field,
            lower,
            upper,
        })
    }

    /// One end of a range: a quoted string or a run up to blank, `]` or `}`.
    fn bound_token(&mut self) -> Result<Option<(String, bool, usize)>, ParseError> {
        let offset = self.pos;
        if self.peek() == Some('"') {
            return Ok(Some((self.phrase()?, true, offset)));
        }
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || matches!(c, ']' | '}' | ')' | '|') {
                break;
            }
            self.bump();
            text.push(c);
        }
        Ok((!text.is_empty()).then_some((text, false, offset)))
    }

    // phrase = '"' { char | '\"' | '\\' } '"'
    fn phrase(&mut self) -> Result<String, ParseError> {
        let offset = self.pos;
        self.bump();
        let mut text = String::new();
        loop {
            match self.bump() {
                None => return Err(ParseError::UnterminatedPhrase { offset }),
                Some('"') => return Ok(text),
                Some('\\') if matches!(self.peek(), Some('"' | '\\')) => {
                    text.extend(self.bump());
                }
                Some(c) => text.push(c),
            }
        }
    }

    /// A bare word. In name position it stops at an unescaped `:`; in value position colons are
    /// part of the value (`time:2026-01-01T10:00:00Z`, `url:http://x`).
    fn word(&mut self, stop_at_colon: bool) -> Vec<WordChar> {
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || matches!(c, '(' | ')' | '"' | '|') {
                break;
            }
            if c == ':' && stop_at_colon {
                break;
            }
            if c == '\\' {
                let next = self.src[self.pos + 1..].chars().next();
                if let Some(n) = next.filter(|n| ESCAPABLE.contains(*n)) {
                    self.pos += 1 + n.len_utf8();
                    out.push((n, true));
                    continue;
                }
            }
            self.bump();
            out.push((c, false));
        }
        out
    }

    // pipe = "count" "by" names | ( "top" | "rare" ) [ N ] names
    fn pipe(&mut self) -> Result<Pipe, ParseError> {
        self.skip_ws();
        let offset = self.pos;
        let command = self.plain_word();
        let pipe = match command.as_str() {
            "count" => {
                const USAGE: &str =
                    "| count by FIELD, e.g. | count by service or | count by user.name, source.ip";
                self.skip_ws();
                let by_offset = self.pos;
                if self.plain_word() != "by" {
                    return Err(ParseError::IncompletePipe {
                        offset: by_offset,
                        command: "count".into(),
                        usage: USAGE,
                    });
                }
                self.skip_ws();
                Pipe::CountBy(self.pipe_fields("count by", USAGE)?)
            }
            "top" | "rare" => {
                let usage: &'static str = if command == "top" {
                    "| top N FIELD, e.g. | top 10 user.name or | top 10 user.name, source.ip"
                } else {
                    "| rare N FIELD, e.g. | rare 10 process.name or | rare 10 process.name, host"
                };
                self.skip_ws();
                let save = self.pos;
                let word = self.plain_word();
                let n = if looks_like_a_count(&word) {
                    match word.parse::<usize>() {
                        Ok(n @ 1..=MAX_TOP) => n,
                        _ => {
                            return Err(ParseError::TopCount {
                                offset: save,
                                command: command.clone(),
                                found: word,
                            });
                        }
                    }
                } else {
                    self.pos = save;
                    DEFAULT_TOP
                };
                self.skip_ws();
                let fields = self.pipe_fields(&command, usage)?;
                if command == "top" {
                    Pipe::Top { n, fields }
                } else {
                    Pipe::Rare { n, fields }
                }
            }
            _ => {
                return Err(ParseError::UnknownPipe {
                    offset,
                    found: command,
                });
            }
        };
        self.skip_ws();
        if self.pos < self.src.len() {
            return Err(ParseError::TrailingAfterPipe {
                offset: self.pos,
                found: self.src[self.pos..].trim_end().to_owned(),
            });
        }
        Ok(pipe)
    }

    /// One field, or several separated by commas (`user.name, source.ip`): the values counted
    /// together.
    fn pipe_fields(
        &mut self,
        command: &str,
        usage: &'static str,
    ) -> Result<Vec<Field>, ParseError> {
        let mut fields = vec![self.pipe_field(command, usage)?];
        loop {
            self.skip_ws();
            if self.peek() != Some(',') {
                return Ok(fields);
            }
            let offset = self.pos;
            self.bump();
            self.skip_ws();
            if fields.len() == MAX_GROUP_FIELDS {
                return Err(ParseError::TooManyGroupFields { offset });
            }
            fields.push(self.pipe_field(command, usage)?);
        }
    }

    /// A field a pipe counts, written as a field term writes its name (`Threat\ Name`, a
    /// backslash before a blank or another escapable character), or in quotes (`"Threat
    /// Name"`): a name with a blank in it can be counted as it can be searched.
    fn pipe_field(&mut self, command: &str, usage: &'static str) -> Result<Field, ParseError> {
        let offset = self.pos;
        let name: Vec<WordChar> = if self.peek() == Some('"') {
            self.phrase()?.chars().map(|c| (c, true)).collect()
        } else {
            let mut name = Vec::new();
            while let Some(c) = self.peek() {
                if c.is_whitespace() || c == '|' || c == ',' {
                    break;
                }
                if c == '\\'
                    && let Some(n) = self.src[self.pos + 1..]
                        .chars()
                        .next()
                        .filter(|n| ESCAPABLE.contains(*n))
                {
                    self.pos += 1 + n.len_utf8();
                    name.push((n, true));
                    continue;
                }
                self.bump();
                name.push((c, false));
            }
            name
        };
        let text: String = name.iter().map(|(c, _)| c).collect();
        if text.is_empty() {
            return Err(ParseError::IncompletePipe {
                offset,
                command: command.into(),
                usage,
            });
        }
        if name.iter().any(|&(c, esc)| !esc && (c == '*' || c == '?')) {
            return Err(ParseError::WildcardField {
                offset,
                field: text,
            });
        }
        Ok(Field::from_name(&text))
    }

    fn plain_word(&mut self) -> String {
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == '|' {
                break;
            }
            self.bump();
            text.push(c);
        }
        text
    }
}

/// Whether the word after `top` or `rare` is meant as their count: a number (`10`, `+5`; `-1`
/// and `2.5` too, refused as counts rather than taken for a field's name).
fn looks_like_a_count(word: &str) -> bool {
    let digits = word.strip_prefix(['-', '+']).unwrap_or(word);
    digits.starts_with(|c: char| c.is_ascii_digit())
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// A correct use of a boolean operator, for error messages.
fn example(operator: &str) -> &'static str {
    match operator {
        "NOT" => "user:alice NOT service:payroll",
        "AND" => "user:alice AND host:web1",
        _ => "user:alice OR user:bob",
    }
}

/// Turns a bare word (at byte `offset`) into a match, a network's addresses, or when it has
/// unescaped `*`/`?`, a wildcard.
fn word_expr(field: Option<Field>, word: &[WordChar], offset: usize) -> Result<Expr, ParseError> {
    if field.is_none() && word == [('*', false)] {
        return Ok(Expr::All);
    }
    let text: String = word.iter().map(|(c, _)| c).collect();
    if let Some(network) = network_expr(&field, &text) {
        return network.map_err(|reason| ParseError::UnsearchableNetwork {
            offset,
            network: text,
            reason,
        });
    }
    if !word.iter().any(|&(c, esc)| !esc && (c == '*' || c == '?')) {
        return Ok(Expr::Match {
            field,
            value: word.iter().map(|(c, _)| c).collect(),
        });
    }
    let mut parts = Vec::new();
    let mut literal = String::new();
    for &(c, escaped) in word {
        match (c, escaped) {
            ('*', false) | ('?', false) => {
                if !literal.is_empty() {
                    parts.push(WildcardPart::Literal(std::mem::take(&mut literal)));
                }
                // Consecutive `*` mean the same as one.
                if c == '?' {
                    parts.push(WildcardPart::AnyChar);
                } else if parts.last() != Some(&WildcardPart::AnyRun) {
                    parts.push(WildcardPart::AnyRun);
                }
            }
            _ => literal.push(c),
        }
    }
    if !literal.is_empty() {
        parts.push(WildcardPart::Literal(literal));
    }
    Ok(Expr::Wildcard {
        field,
        pattern: Wildcard { parts },
    })
}

/// An IP network in CIDR notation (`10.1.0.0/16`, `2001:db8::/32`) as the addresses it holds,
/// written as the stored values begin: `10.1.*`. Host bits are ignored (`10.1.2.3/24` is
/// `10.1.2.0/24`), as Kibana and Splunk read it. `None` when `text` is no such network (what a
/// pivot on a value uses too); the reason when it is an IPv6 network whose addresses cannot
/// all be told by their text ([`ipv6_network_expr`]).
pub fn network_expr(field: &Option<Field>, text: &str) -> Option<Result<Expr, &'static str>> {
    let (address, bits) = text.trim().split_once('/')?;
    if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bits: u32 = bits.parse().ok()?;
    match address.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(address) => {
            (bits <= 32).then(|| Ok(ipv4_network_expr(field, address, bits)))
        }
        std::net::IpAddr::V6(_) if bits == 0 => Some(Err(
            "a /0 network holds every IPv6 address, which their text cannot tell from other values; search exists:FIELD for any value in the field",
        )),
        std::net::IpAddr::V6(address) => (1..=128)
            .contains(&bits)
            .then(|| ipv6_network_expr(field, address, bits)),
    }
}

/// An IPv4 network's addresses: the values that begin with its whole octets (`10.1.*`); a
/// prefix that ends inside an octet as one alternative per value of that octet (`/20`: 16, at
/// most 128; `/0`: every first octet, 256), a `/32` as the address.
fn ipv4_network_expr(field: &Option<Field>, address: std::net::Ipv4Addr, bits: u32) -> Expr {
    let network = u32::from(address) & u32::MAX.checked_shl(32 - bits).unwrap_or(0);
    let octets = network.to_be_bytes();
    let whole = (bits / 8) as usize;
    let prefix = |octets: &[u8]| -> Expr {
        let text = octets
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(".");
        if octets.len() == 4 {
            Expr::Match {
                field: field.clone(),
                value: text,
            }
        } else {
            Expr::Wildcard {
                field: field.clone(),
                pattern: Wildcard {
                    parts: vec![
                        WildcardPart::Literal(format!("{text}.")),
                        WildcardPart::AnyRun,
                    ],
                },
            }
        }
    };
    let rest = bits % 8;
    if bits > 0 && rest == 0 {
        return prefix(&octets[..whole]);
    }
    // The bits left open in the octet the prefix ends in: all eight of the first for a /0.
    let open_bits = if bits == 0 { 8 } else { 8 - rest };
    let alternatives = (0..1u16 << open_bits)
        .map(|i| {
            let mut p = octets[..whole].to_vec();
            p.push(octets[whole] + i as u8);
            prefix(&p)
        })
        .collect();
    Expr::Or(alternatives)
}

/// The most values of a group written with fewer than four hex digits that an IPv6 prefix
/// ending inside it may stand for (one alternative each), as for IPv4 octets.
const MAX_GROUP_ALTERNATIVES: u32 = 128;

/// An IPv6 network's addresses, as they are written (RFC 5952: lowercase, no leading zeros, the
/// longest run of two or more zero groups as `::`): the values that begin with its groups and
/// a `:` (`2001:db8:*` for `2001:db8::/32`); a prefix that ends inside a group as the hex
/// digits it fixes and a hex digit for each of the rest (`fe80::/10` is `fe8[0-9a-f]:*` …
/// `feb[0-9a-f]:*`: a `?` would also take the `:` after a shorter group), or one
/// alternative per value when the group's values are written shorter; zero groups at the end
/// of the prefix also as `::` (`2001:db8:0:*` and `2001:db8::*` for `2001:db8::/48`); a
/// `/128` as the address.
///
/// Refused, with the reason, where text cannot tell: two zero groups in a row before the
/// prefix's last group, or more than two at its end (the `::` of an address may then stand
/// for fewer of them than the network needs), and a prefix ending inside a group of short
/// values that stands for more than 128 of them.
fn ipv6_network_expr(
    field: &Option<Field>,
    address: std::net::Ipv6Addr,
    bits: u32,
) -> Result<Expr, &'static str> {
    let network = u128::from(address) & (u128::MAX << (128 - bits));
    let network = std::net::Ipv6Addr::from(network);
    if bits == 128 {
        return Ok(Expr::Match {
            field: field.clone(),
            value: network.to_string(),
        });
    }
    let groups = network.segments();
    let whole = (bits / 16) as usize;
    let rest = bits % 16;
    // Each alternative's groups, as written: hex text (`?` for a digit left open, matched as
    // a hex digit), and whether the group is zero.
    let mut alternatives: Vec<Vec<(String, bool)>> = Vec::new();
    let fixed: Vec<(String, bool)> = groups[..whole]
        .iter()
        .map(|g| (format!("{g:x}"), *g == 0))
        .collect();
    if rest == 0 {
        alternatives.push(fixed);
    } else {
        let low = u32::from(groups[whole]);
        let count = 1u32 << (16 - rest);
        if low >= 0x1000 {
            // Four digits each: the ones the prefix fixes, `?` for the others.
            let digits = rest.div_ceil(4);
            let shift = 16 - 4 * digits;
            for prefix in (low >> shift)..=((low + count - 1) >> shift) {
                let mut text = format!("{prefix:0width$x}", width = digits as usize);
                text.extend(std::iter::repeat_n('?', 4 - digits as usize));
                let mut groups = fixed.clone();
                groups.push((text, false));
                alternatives.push(groups);
            }
        } else if count <= MAX_GROUP_ALTERNATIVES {
            for value in low..low + count {
                let mut groups = fixed.clone();
                groups.push((format!("{value:x}"), value == 0));
                alternatives.push(groups);
            }
        } else {
            return Err(
                "its prefix ends inside a group of values written with fewer than four digits and stands for more than 128 of them",
            );
        }
    }
    let pattern = |text: String, open: bool| -> Expr {
        let mut parts = Vec::new();
        for piece in text.split_inclusive('?') {
            match piece.strip_suffix('?') {
                Some(literal) => {
                    if !literal.is_empty() {
                        parts.push(WildcardPart::Literal(literal.to_owned()));
                    }
                    parts.push(WildcardPart::HexDigit);
                }
                None => parts.push(WildcardPart::Literal(piece.to_owned())),
            }
        }
        if open {
            parts.push(WildcardPart::AnyRun);
        }
        Expr::Wildcard {
            field: field.clone(),
            pattern: Wildcard { parts },
        }
    };
    let mut exprs = Vec::new();
    for groups in alternatives {
        let trailing = groups.iter().rev().take_while(|(_, zero)| *zero).count();
        let inner = &groups[..groups.len() - trailing];
        if inner.windows(2).any(|pair| pair[0].1 && pair[1].1) {
            return Err(
                "two of its groups before the last are zero in a row (an address may write them as :: or not)",
            );
        }
        if trailing > 2 {
            return Err(
                "more than two of its last groups are zero (the :: of an address may stand for fewer)",
            );
        }
        let texts: Vec<&str> = groups.iter().map(|(text, _)| text.as_str()).collect();
        let all = groups.len() == 8;
        let mut text = texts.join(":");
        if !all {
            text.push(':');
        }
        exprs.push(pattern(text, !all));
        if trailing > 0 {
            // The zero groups at its end and the ones after them, written as `::`.
            let before: Vec<&str> = texts[..texts.len() - trailing].to_vec();
            exprs.push(pattern(format!("{}::", before.join(":")), true));
        }
    }
    Ok(match exprs.len() {
        1 => exprs.remove(0),
        _ => Expr::Or(exprs),
    })
}

fn make_bound(
    field: &Field,
    text: &str,
    quoted: bool,
    offset: usize,
    inclusive: bool,
) -> Result<Bound, ParseError> {
    if text == "*" && !quoted {
        return Ok(Bound::Unbounded);
    }
    let scalar = if *field == Field::Time {
        Scalar::Time(parse_time(text).ok_or_else(|| ParseError::BadTime {
            offset,
            value: text.to_owned(),
        })?)
    } else if quoted {
        Scalar::Text(text.to_owned())
    } else if let Ok(n) = text.parse::<i128>() {
        Scalar::Int(n)
    } else if let Some(x) = parse_float(text) {
        Scalar::Float(x)
    } else if let Some(t) = parse_time(text) {
        Scalar::Time(t)
    } else {
        Scalar::Text(text.to_owned())
    };
    Ok(if inclusive {
        Bound::Inclusive(scalar)
    } else {
        Bound::Exclusive(scalar)
    })
}

/// A decimal number; words like `inf` or `nan` stay text.
fn parse_float(text: &str) -> Option<f64> {
    if !text
        .chars()
        .all(|c| c.is_ascii_digit() || "+-.eE".contains(c))
    {
        return None;
    }
    text.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// Parses a time as written in a query: `now`, `now-15m` (units s, m, h, d, w), an RFC 3339
/// instant, a date-time without zone (taken as UTC) or a date (midnight UTC).
pub fn parse_time(text: &str) -> Option<TimeValue> {
    if let Some(rest) = text.strip_prefix("now") {
        if rest.is_empty() {
            return Some(TimeValue::Now { offset_seconds: 0 });
        }
        let sign = match rest.as_bytes()[0] {
            b'-' => -1,
            b'+' => 1,
            _ => return None,
        };
        let body = &rest[1..];
        let unit_at = body.find(|c: char| !c.is_ascii_digit())?;
        let amount: i64 = body[..unit_at].parse().ok()?;
        let unit = match &body[unit_at..] {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return None,
        };
        return Some(TimeValue::Now {
            offset_seconds: sign * amount.checked_mul(unit)?,
        });
    }
    if !text.as_bytes().first()?.is_ascii_digit() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(TimeValue::Absolute(t.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(TimeValue::Absolute(t.and_utc()));
        }
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(TimeValue::Absolute(date.and_hms_opt(0, 0, 0)?.and_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_resolve_against_now() {
        assert_eq!(
            parse_time("now-1h"),
            Some(TimeValue::Now {
                offset_seconds: -3600
            })
        );
        assert_eq!(
            parse_time("now+2d"),
            Some(TimeValue::Now {
                offset_seconds: 172_800
            })
        );
        assert_eq!(parse_time("now-1y"), None);
        assert_eq!(parse_time("nowhere"), None);
        // Offsets past the range of times stand for its ends.
        let now = Utc::now();
        let far = |text| parse_time(text).unwrap().resolve(now);
        assert_eq!(far("now-99999999d"), DateTime::<Utc>::MIN_UTC);
        assert_eq!(far("now+99999999w"), DateTime::<Utc>::MAX_UTC);
        assert_eq!(far("now-9223372036854775807s"), DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn dates_without_zone_are_utc() {
        let Some(TimeValue::Absolute(t)) = parse_time("2026-01-02T03:04:05") else {
            panic!("a zone-less date-time parses");
        };
        assert_eq!(t.to_rfc3339(), "2026-01-02T03:04:05+00:00");
        let Some(TimeValue::Absolute(d)) = parse_time("2026-01-02") else {
            panic!("a date parses");
        };
        assert_eq!(d.to_rfc3339(), "2026-01-02T00:00:00+00:00");
    }

    #[test]
    fn words_with_a_leading_dash_are_told_apart_from_negative_numbers() {
        let q = parse("-error OR (NOT -Fail AND -1 AND bytes:-5 AND x-y) \"-quoted\"").unwrap();
        assert_eq!(q.dash_words(), ["-error", "-Fail"]);
    }

    #[test]
    fn json_paths_lists_each_named_path_once() {
        let q = parse(
            "user.name:alice OR (NOT src.ip:10.* AND bytes:>5 AND exists:user.name) \
             free service:web $.host:h1 | count by Event.System.EventID",
        )
        .unwrap();
        assert_eq!(
            q.json_paths(),
            [
                "user.name",
                "src.ip",
                "bytes",
                "host",
                "Event.System.EventID"
            ]
        );
        assert!(
            parse("free text | count by host")
                .unwrap()
                .json_paths()
                .is_empty()
        );
    }

    #[test]
    fn ipv4_networks_are_the_addresses_they_hold() {
        let filter = |q: &str| parse(q).unwrap().filter;
        let ip = || Some(Field::Json("source.ip".into()));
        let starts = |field: Option<Field>, text: &str| Expr::Wildcard {
            field,
            pattern: Wildcard {
                parts: vec![WildcardPart::Literal(text.into()), WildcardPart::AnyRun],
            },
        };
        assert_eq!(
            filter("source.ip:203.0.113.0/24"),
            starts(ip(), "203.0.113.")
        );
        assert_eq!(
            filter("source.ip:10.9.8.7/8"),
            starts(ip(), "10."),
            "host bits ignored"
        );
        assert_eq!(filter("10.1.0.0/16"), starts(None, "10.1."));
        assert_eq!(
            filter("source.ip:10.1.2.3/32"),
            Expr::Match {
                field: ip(),
                value: "10.1.2.3".into()
            }
        );
        let Expr::Or(twenty) = filter("source.ip:172.16.0.0/12") else {
            panic!("a /12 is 16 second octets");
        };
        assert_eq!(twenty.len(), 16);
        assert_eq!(twenty[0], starts(ip(), "172.16."));
        assert_eq!(twenty[15], starts(ip(), "172.31."));
        let Expr::Or(four) = filter("source.ip:192.168.1.4/30") else {
            panic!("a /30 is four addresses");
        };
        assert_eq!(
            four.last(),
            Some(&Expr::Match {
                field: ip(),
                value: "192.168.1.7".into()
            })
        );
        // Each alternative counts as a term.
        let many = ["source.ip:10.0.0.0/9"; 9].join(" OR ");
        assert!(matches!(parse(&many), Err(ParseError::TooManyTerms { .. })));
        // A /0 is every dotted quad: each first octet.
        let Expr::Or(all) = filter("10.0.0.0/0") else {
            panic!("a /0 is every address");
        };
        assert_eq!(all.len(), 256);
        assert_eq!(all[255], starts(None, "255."));
        // Not networks: taken as written.
        for text in ["10.0.0.0/33", "10.0.0/8", "/var/log", "10.0.0.0/+8"] {
            assert!(
                matches!(filter(text), Expr::Match { .. }),
                "{text}: {:?}",
                filter(text)
            );
        }
    }

    #[test]
    fn ipv6_networks_are_the_addresses_they_hold_as_they_are_written() {
        let shown = |q: &str| parse(q).unwrap().filter.to_string();
        let filter = |q: &str| parse(q).unwrap().filter;
        let ip = || Some(Field::Json("source.ip".into()));
        assert_eq!(
            shown("source.ip:2001:db8::/32"),
            r#"(wildcard source.ip "2001:db8:*")"#
        );
        assert_eq!(
            shown("source.ip:2001:DB8:1234:5678::/32"),
            r#"(wildcard source.ip "2001:db8:*")"#,
            "host bits ignored, written in lower case"
        );
        assert_eq!(shown("2001:db8::/32"), r#"(wildcard * "2001:db8:*")"#);
        assert_eq!(
            shown("fe80::/10"),
            r#"(or (wildcard * "fe8[0-9a-f]:*") (wildcard * "fe9[0-9a-f]:*") (wildcard * "fea[0-9a-f]:*") (wildcard * "feb[0-9a-f]:*"))"#
        );
        // Zero groups at the prefix's end: written out, or in the address's `::`.
        assert_eq!(
            shown("source.ip:2001:db8::/48"),
            r#"(or (wildcard source.ip "2001:db8:0:*") (wildcard source.ip "2001:db8::*"))"#
        );
        assert_eq!(
            shown("source.ip:2001:db8::/64"),
            r#"(or (wildcard source.ip "2001:db8:0:0:*") (wildcard source.ip "2001:db8::*"))"#
        );
        // Short values of the last group, one alternative each.
        let Expr::Or(eight) = filter("source.ip:2001:db8:1:2:3:4:5:8/125") else {
            panic!("a /125 is eight addresses");
        };
        assert_eq!(eight.len(), 8);
        assert_eq!(
            eight[7].to_string(),
            r#"(wildcard source.ip "2001:db8:1:2:3:4:5:f")"#
        );
        assert_eq!(
            filter("source.ip:2001:db8::1/128"),
            Expr::Match {
                field: ip(),
                value: "2001:db8::1".into()
            }
        );
        // Bare addresses are values, not a field before their first colon.
        for address in ["2001:db8::1", "::1", "fe80::1"] {
            assert_eq!(
                filter(address),
                Expr::Match {
                    field: None,
                    value: address.into()
                }
            );
        }
        assert!(matches!(
            filter("user:alice"),
            Expr::Match { field: Some(_), .. }
        ));
        // Where an address's text cannot tell, refused with the reason.
        for (query, reason) in [
            ("source.ip:2001:db8::/80", "more than two"),
            ("source.ip:2001:0:0:1::/64", "in a row"),
            ("source.ip:2001:db8::/120", "more than 128"),
            ("source.ip:fe80::/0", "every IPv6 address"),
        ] {
            let err = parse(query).unwrap_err();
            assert!(
                matches!(err, ParseError::UnsearchableNetwork { offset: 10, .. })
                    && err.to_string().contains(reason),
                "{query}: {err}"
            );
        }
        // Not networks: taken as written.
        assert!(matches!(filter("source.ip:fe80::/129"), Expr::Match { .. }));
    }

    /// Whether `text` is a whole value the expression of a network finds (as the index would:
    /// a wildcard over the whole value, a match of the whole value).
    fn finds(expr: &Expr, text: &str) -> bool {
        fn wildcard(parts: &[WildcardPart], text: &str) -> bool {
            match parts.split_first() {
                None => text.is_empty(),
                Some((WildcardPart::Literal(l), rest)) => text
                    .strip_prefix(l.as_str())
                    .is_some_and(|t| wildcard(rest, t)),
                Some((WildcardPart::AnyChar, rest)) => {
                    let mut chars = text.chars();
                    chars.next().is_some() && wildcard(rest, chars.as_str())
                }
                Some((WildcardPart::HexDigit, rest)) => {
                    let mut chars = text.chars();
                    chars
                        .next()
                        .is_some_and(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
                        && wildcard(rest, chars.as_str())
                }
                Some((WildcardPart::AnyRun, rest)) => (0..=text.len())
                    .filter(|i| text.is_char_boundary(*i))
                    .any(|i| wildcard(rest, &text[i..])),
            }
        }
        match expr {
            Expr::Or(alternatives) => alternatives.iter().any(|e| finds(e, text)),
            Expr::Wildcard { pattern, .. } => wildcard(&pattern.parts, text),
            Expr::Match { value, .. } => value == text,
            other => panic!("not a network's expression: {other}"),
        }
    }

    /// Every IPv4 network finds exactly its addresses, written as dotted quads.
    #[test]
    fn ipv4_network_expressions_find_exactly_their_addresses() {
        let mut rng = vigil_testkit::Rng::new(0x2545_f491_4f6c_dd1d);
        let mut next = move || rng.next_u64();
        for _ in 0..4_000 {
            let base = next() as u32;
            let bits = (next() % 33) as u32;
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            let network = format!("{}/{bits}", std::net::Ipv4Addr::from(base));
            let Some(Ok(expr)) = network_expr(&None, &network) else {
                panic!("{network} is a network");
            };
            for _ in 0..16 {
                let mut address = (base & mask) | (next() as u32 & !mask);
                if bits > 0 && next() % 2 == 0 {
                    address ^= 1u32 << (31 - (next() % u64::from(bits)) as u32);
                }
                let text = std::net::Ipv4Addr::from(address).to_string();
                assert_eq!(
                    finds(&expr, &text),
                    address & mask == base & mask,
                    "{network} ({expr}) and {text}"
                );
            }
        }
    }

    /// Every IPv6 network search accepts finds exactly its addresses as Rust writes them (RFC
    /// 5952): thousands of networks and addresses drawn with the zero groups, short groups and
    /// prefix lengths where text is hard, against the arithmetic of the prefix.
    #[test]
    fn ipv6_network_expressions_find_exactly_their_addresses() {
        let mut rng = vigil_testkit::Rng::new(0x9e37_79b9_7f4a_7c15);
        let mut next = move || rng.next_u64();
        // Groups as logs hold them: zero often, short values, four-digit values.
        let group = |r: u64| -> u16 {
            match r % 5 {
                0 | 1 => 0,
                2 => (r >> 8) as u16 % 0x10,
                3 => (r >> 8) as u16 % 0x1000,
                _ => (r >> 8) as u16 | 0x1000,
            }
        };
        let (mut checked, mut refused) = (0, 0);
        for _ in 0..8_000 {
            let groups: Vec<u16> = (0..8).map(|_| group(next())).collect();
            let base = groups.iter().fold(0u128, |a, g| (a << 16) | u128::from(*g));
            let bits = 8 + (next() % 121) as u32;
            let mask = u128::MAX << (128 - bits);
            let network = format!("{}/{bits}", std::net::Ipv6Addr::from(base));
            let expr = match network_expr(&None, &network) {
                Some(Ok(expr)) => expr,
                Some(Err(_)) => {
                    refused += 1;
                    continue;
                }
                None => panic!("{network} is a network"),
            };
            for _ in 0..24 {
                let host: Vec<u16> = (0..8).map(|_| group(next())).collect();
                let host = host.iter().fold(0u128, |a, g| (a << 16) | u128::from(*g));
                // Inside: the prefix with other host bits; outside: one prefix bit turned too.
                let mut address = (base & mask) | (host & !mask);
                if next() % 2 == 0 {
                    address ^= 1u128 << (127 - (next() % u64::from(bits)) as u32);
                }
                let inside = address & mask == base & mask;
                let text = std::net::Ipv6Addr::from(address).to_string();
                assert_eq!(finds(&expr, &text), inside, "{network} ({expr}) and {text}");
                checked += 1;
            }
        }
        // Zero groups are drawn often, so many networks are refused (the shapes text cannot
        // tell); the others were checked above.
        assert!(
            checked > 60_000 && refused > 0,
            "{checked} checked, {refused} refused"
        );
    }

    #[test]
    fn wildcard_regex_escapes_literals() {
        let Ok(Query {
            filter: Expr::Wildcard { pattern, .. },
            ..
        }) = parse("file:*.exe")
        else {
            panic!("a wildcard parses");
        };
        assert_eq!(pattern.to_regex(), ".*\\.exe");
    }
}
