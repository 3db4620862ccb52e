//! Lowering one detection item (`field|modifiers: values`) into value matchers.
//!
//! Every modifier is applied here, once: wildcards become literal operations (equals,
//! startswith, endswith, contains) or an anchored regex, encodings (base64, base64offset,
//! utf16*, windash) expand into several literal needles, `expand` placeholders are replaced
//! from [`crate::CompileOptions`]. At run time only the [`ValueMatch`] enum is looked at.

use std::collections::HashMap;
use std::net::IpAddr;

use base64::Engine as _;
use memchr::memmem;
use regex::{Regex, RegexBuilder};
use vigil_sigma::{CmpOp, ExpandPart, Modifier, Value};

/// The literal operation of a needle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrOp {
    Eq,
    Prefix,
    Suffix,
    Contains,
}

/// A date part extracted by a time modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// One compiled value of a detection item.
#[derive(Debug, Clone)]
pub(crate) enum ValueMatch {
    /// A literal; the needle is lowercased unless `cased`.
    Lit {
        op: StrOp,
        needle: String,
        cased: bool,
        finder: Box<memmem::Finder<'static>>,
        /// The prefilter needle id of the same (field, needle), or [`NO_NEEDLE`]: when the
        /// field was scanned and the needle not found, the literal cannot match.
        id: u32,
    },
    /// A wildcard pattern or a `re` value, matched against the raw value. `required`: lowercase
    /// needles of which one occurs in every value the regex matches (empty when none is
    /// known), for the prefilter.
    Regex {
        re: Box<Regex>,
        required: Box<[String]>,
    },
    /// `cidr`.
    Cidr(Net),
    /// `gt/gte/lt/lte` (and numeric values compared to numeric fields).
    Num(CmpOp, Number),
    /// A number written without modifiers: equal to a number the event wrote, or to its text as
    /// written (values are strings to Sigma: `EventID: 4769` is not `" 4769"`, `"04769"` or
    /// `"4.769e3"`).
    NumEq(Number, String),
    /// A boolean value.
    Bool(bool),
    /// `null`: the field is absent, null or empty.
    Null,
    /// `exists: true/false`.
    Exists(bool),
    /// `fieldref`: compare with another field of the same event.
    FieldRef { field: u32, op: StrOp, cased: bool },
    /// Time modifiers: a date part compared with a number.
    Time(TimePart, CmpOp, f64),
}

/// A number of a rule or of an event. Integers stay integers: through `f64` every two above
/// 2^53 that round alike were equal (a logon id `9007199254740993` met `…992`) and a bound
/// between them was on the wrong side. Two integers compare exactly; an integer and a float
/// compare by value, exactly too ([`Number::compare`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    /// Every 64-bit integer, signed or not.
    Int(i128),
    /// Any other number.
    Float(f64),
}

impl Number {
    /// `text` read as a number: an integer when it is one, a float otherwise.
    pub(crate) fn parse(text: &str) -> Option<Number> {
        match text.parse::<i128>() {
            Ok(i) => Some(Number::Int(i)),
            Err(_) => text.parse().ok().map(Number::Float),
        }
    }

    /// How `self` compares with `other`; `None` when one is NaN.
    pub(crate) fn compare(self, other: Number) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => Some(a.cmp(&b)),
            (Number::Float(a), Number::Float(b)) => a.partial_cmp(&b),
            (Number::Int(i), Number::Float(f)) => int_float(i, f),
            (Number::Float(f), Number::Int(i)) => int_float(i, f).map(std::cmp::Ordering::reverse),
        }
    }

    /// Whether `self op bound` holds.
    pub(crate) fn test(self, op: CmpOp, bound: Number) -> bool {
        use std::cmp::Ordering::*;
        let Some(order) = self.compare(bound) else {
            return false;
        };
        match op {
            CmpOp::Gt => order == Greater,
            CmpOp::Gte => order != Less,
            CmpOp::Lt => order == Less,
            CmpOp::Lte => order != Greater,
            CmpOp::Eq => order == Equal,
            CmpOp::Neq => order != Equal,
        }
    }
}

/// How the integer `i` compares with the float `f`, exactly: by `f`'s whole part, and its
/// fraction when the whole parts are equal.
fn int_float(i: i128, f: f64) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering::*;
    if f.is_nan() {
        return None;
    }
    // ±2^127: past them `f` is beyond every i128 (and `as` would saturate).
    const LIMIT: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
    if f >= LIMIT {
        return Some(Less);
    }
    if f < -LIMIT {
        return Some(Greater);
    }
    let whole = f.floor();
    Some(match i.cmp(&(whole as i128)) {
        Equal if f > whole => Less,
        order => order,
    })
}

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn parse(s: &str) -> Option<Net> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Net { addr, prefix })
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.prefix)
                };
                u32::from(n) & mask == u32::from(i) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.prefix)
                };
                u128::from(n) & mask == u128::from(i) & mask
            }
            _ => false,
        }
    }
}

/// Why an item cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ItemError(pub String);

/// The modifiers of one item, sorted into what they mean.
#[derive(Debug, Default)]
struct Mods {
    op: Option<StrOp>,
    all: bool,
    cased: bool,
    neq: bool,
    windash: bool,
    re: bool,
    re_i: bool,
    re_m: bool,
    re_s: bool,
    base64: bool,
    base64offset: bool,
    utf16: Option<Modifier>,
    cidr: bool,
    exists: bool,
    fieldref: bool,
    expand: bool,
    cmp: Option<CmpOp>,
    time: Option<TimePart>,
}

/// Sorts a chain of modifiers into flags, once [`vigil_sigma::check_chain`] has found that
/// applying them in the order written gives the value one meaning: what is left to order then
/// is `expand` → `windash` → `re`, `cidr` or the encodings, which [`compile_one`] follows.
/// `contains`, `startswith` and `endswith` each add their wildcard, as in order they would
/// (`startswith|endswith` is `*x*`).
fn sort_mods(mods: &[Modifier]) -> Result<Mods, ItemError> {
    vigil_sigma::check_chain(mods).map_err(ItemError)?;
    let mut m = Mods::default();
    let (mut lead, mut trail) = (false, false);
    for modifier in mods {
        match modifier {
            Modifier::Contains => (lead, trail) = (true, true),
            Modifier::StartsWith => trail = true,
            Modifier::EndsWith => lead = true,
            Modifier::All => m.all = true,
            Modifier::Cased => m.cased = true,
            Modifier::Neq => m.neq = true,
            Modifier::Windash => m.windash = true,
            Modifier::Re => m.re = true,
            Modifier::ReIgnoreCase => m.re_i = true,
            Modifier::ReMultiLine => m.re_m = true,
            Modifier::ReDotAll => m.re_s = true,
            Modifier::Base64 => m.base64 = true,
            Modifier::Base64Offset => m.base64offset = true,
            Modifier::Utf16Le | Modifier::Utf16Be | Modifier::Utf16 => m.utf16 = Some(*modifier),
            Modifier::Cidr => m.cidr = true,
            Modifier::Exists => m.exists = true,
            Modifier::FieldRef => m.fieldref = true,
            Modifier::Expand => m.expand = true,
            Modifier::Lt => m.cmp = Some(CmpOp::Lt),
            Modifier::Lte => m.cmp = Some(CmpOp::Lte),
            Modifier::Gt => m.cmp = Some(CmpOp::Gt),
            Modifier::Gte => m.cmp = Some(CmpOp::Gte),
            Modifier::Minute => m.time = Some(TimePart::Minute),
            Modifier::Hour => m.time = Some(TimePart::Hour),
            Modifier::Day => m.time = Some(TimePart::Day),
            Modifier::Week => m.time = Some(TimePart::Week),
            Modifier::Month => m.time = Some(TimePart::Month),
            Modifier::Year => m.time = Some(TimePart::Year),
        }
    }
    m.op = match (lead, trail) {
        (true, true) => Some(StrOp::Contains),
        (true, false) => Some(StrOp::Suffix),
        (false, true) => Some(StrOp::Prefix),
        (false, false) => None,
    };
    Ok(m)
}

/// The compiled form of an item's values.
#[derive(Debug)]
pub(crate) struct CompiledValues {
    pub matches: Vec<ValueMatch>,
    /// Where each value as written starts in `matches`: `windash`, `base64offset`, `expand`
    /// write one value several ways, any of which is that value ([`CompiledValues::per_value`]).
    pub value_starts: Vec<usize>,
    /// `|all`: every value must match (otherwise any).
    pub all: bool,
    /// `|neq`: the item holds when no value matches.
    pub neq: bool,
}

/// Compiles the values of one item. `field_id` resolves field names (for `fieldref`).
pub(crate) fn compile_values(
    mods: &[Modifier],
    values: &[Value],
    placeholders: &HashMap<String, Vec<String>>,
    reject_unknown_placeholders: bool,
    field_id: &mut dyn FnMut(&str) -> u32,
) -> Result<CompiledValues, ItemError> {
    let m = sort_mods(mods)?;
    let mut out = Vec::new();
    let mut value_starts = Vec::with_capacity(values.len());
    for v in values {
        value_starts.push(out.len());
        compile_one(
            &m,
            v,
            (placeholders, reject_unknown_placeholders),
            field_id,
            &mut out,
        )?;
    }
    Ok(CompiledValues {
        matches: out,
        value_starts,
        all: m.all,
        neq: m.neq,
    })
}

impl CompiledValues {
    /// The matches of each value as written, its ways of being written side by side: under
    /// `|all` every value must hold, through any one of its ways (the permutations of
    /// `windash` are alternatives, not each required).
    pub(crate) fn per_value(&self) -> impl Iterator<Item = &[ValueMatch]> {
        let ends = self.value_starts.iter().skip(1).copied();
        self.value_starts
            .iter()
            .zip(ends.chain(std::iter::once(self.matches.len())))
            .map(|(&start, end)| &self.matches[start..end])
    }
}

fn compile_one(
    m: &Mods,
    v: &Value,
    placeholders: (&HashMap<String, Vec<String>>, bool),
    field_id: &mut dyn FnMut(&str) -> u32,
    out: &mut Vec<ValueMatch>,
) -> Result<(), ItemError> {
    if m.exists {
        return match v {
            Value::Bool(b) => {
                out.push(ValueMatch::Exists(*b));
                Ok(())
            }
            Value::Str(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
                out.push(ValueMatch::Exists(s.eq_ignore_ascii_case("true")));
                Ok(())
            }
            _ => Err(ItemError("'exists' takes true or false".into())),
        };
    }
    // A number or boolean is one only for a comparison or without modifiers that make the
    // value a text, a pattern, a network or a field name.
    let textual =
        m.op.is_some() || m.re || m.cidr || m.fieldref || m.windash || m.base64 || m.base64offset;
    let text = match v {
        Value::Null => {
            out.push(ValueMatch::Null);
            return Ok(());
        }
        Value::Bool(b) if !textual && m.cmp.is_none() && m.time.is_none() => {
            out.push(ValueMatch::Bool(*b));
            return Ok(());
        }
        Value::Int(i) if !textual && m.time.is_none() => {
            let n = Number::Int(*i);
            out.push(match m.cmp {
                Some(op) => ValueMatch::Num(op, n),
                None => ValueMatch::NumEq(n, i.to_string()),
            });
            return Ok(());
        }
        Value::Float(f, s) if !textual && m.time.is_none() => {
            let n = Number::Float(*f);
            out.push(match m.cmp {
                Some(op) => ValueMatch::Num(op, n),
                None => ValueMatch::NumEq(n, s.clone()),
            });
            return Ok(());
        }
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(_, s) => s.clone(),
        Value::Bool(b) => b.to_string(),
    };
    if let Some(part) = m.time {
        let n: f64 = text.trim().parse().map_err(|_| {
            ItemError(format!(
                "time modifiers compare with a number, not {text:?}"
            ))
        })?;
        out.push(ValueMatch::Time(part, m.cmp.unwrap_or(CmpOp::Eq), n));
        return Ok(());
    }
    if let Some(op) = m.cmp {
        let n = Number::parse(text.trim()).ok_or_else(|| {
            ItemError(format!("gt/gte/lt/lte compare with a number, not {text:?}"))
        })?;
        out.push(ValueMatch::Num(op, n));
        return Ok(());
    }
    if m.fieldref {
        out.push(ValueMatch::FieldRef {
            field: field_id(&text),
            op: m.op.unwrap_or(StrOp::Eq),
            cased: m.cased,
        });
        return Ok(());
    }
    // The pipeline of the modifiers' order: expand → windash → re, cidr, encodings or
    // wildcards.
    let mut texts = if m.expand {
        expand(&text, placeholders.0, placeholders.1)?
    } else {
        vec![text]
    };
    if m.cidr {
        for t in &texts {
            let net = Net::parse(t).ok_or_else(|| {
                let what = match m.expand {
                    true => format!("{t:?} (a placeholder's value)"),
                    false => format!("{t:?}"),
                };
                ItemError(format!("{what} is not a CIDR network such as 10.0.0.0/8"))
            })?;
            out.push(ValueMatch::Cidr(net));
        }
        return Ok(());
    }
    if m.re {
        if m.windash {
            texts = texts.iter().map(|t| windash_pattern(t)).collect();
        }
        for t in &texts {
            out.push(regex_match(t, m)?);
        }
        return Ok(());
    }
    if m.windash {
        let encoded = m.base64 || m.base64offset;
        if !encoded && texts.iter().any(|t| dashes(t) > WINDASH_SPELLED_OUT) {
            for t in &texts {
                out.push(wildcard_tokens(windash_tokens(t), m.op, m.cased)?);
            }
            return Ok(());
        }
        texts = texts.iter().flat_map(|t| windash(t)).collect();
    }
    if m.base64 || m.base64offset {
        for t in &texts {
            let plain = unescape(t);
            let bytes = encode_utf16(&plain, m.utf16);
            let encoded = if m.base64offset {
                base64_offsets(&bytes)
            } else {
                vec![base64::engine::general_purpose::STANDARD.encode(&bytes)]
            };
            for e in encoded {
                out.push(lit(m.op.unwrap_or(StrOp::Eq), e, m.cased));
            }
        }
        return Ok(());
    }
    for t in texts {
        out.push(wildcard(&t, m.op, m.cased)?);
    }
    Ok(())
}

/// A `re` value: the pattern with the flags of `i`, `m` and `s`.
fn regex_match(text: &str, m: &Mods) -> Result<ValueMatch, ItemError> {
    let re = RegexBuilder::new(text)
        .case_insensitive(m.re_i)
        .multi_line(m.re_m)
        .dot_matches_new_line(m.re_s)
        .size_limit(1 << 22)
        .build()
        .map_err(|e| ItemError(format!("bad regular expression: {e}")))?;
    let required = crate::literal::of_regex(text, m.re_i, m.re_m, m.re_s);
    Ok(ValueMatch::Regex {
        re: Box::new(re),
        required: required.into(),
    })
}

/// `text` lowercased as the matcher lowercases values: character by character
/// (`str::to_lowercase` writes a Σ that ends a word as ς, which the σ of a value would not
/// equal).
pub(crate) fn lowercase(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

fn lit(op: StrOp, needle: String, cased: bool) -> ValueMatch {
    let needle = if cased { needle } else { lowercase(&needle) };
    let finder = Box::new(memmem::Finder::new(needle.as_bytes()).into_owned());
    ValueMatch::Lit {
        op,
        needle,
        cased,
        finder,
        id: NO_NEEDLE,
    }
}

/// The [`ValueMatch::Lit`] id of a literal that is not a prefilter needle.
pub(crate) const NO_NEEDLE: u32 = u32::MAX;

/// One token of a Sigma string value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Char(char),
    Star,
    Question,
    /// Any of the five [`DASHES`] (`windash` past [`WINDASH_SPELLED_OUT`] dashes).
    Dash,
}

/// Splits a Sigma string into literal characters and wildcards: `\*` `\?` `\\` are escapes;
/// a backslash before anything else is a literal backslash.
fn tokenize(s: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some('*') | Some('?') | Some('\\') => {
                    out.push(Tok::Char(chars.next().expect("peeked")));
                }
                _ => out.push(Tok::Char('\\')),
            },
            '*' => out.push(Tok::Star),
            '?' => out.push(Tok::Question),
            c => out.push(Tok::Char(c)),
        }
    }
    out
}

fn unescape(s: &str) -> String {
    tokenize(s)
        .into_iter()
        .map(|t| match t {
            Tok::Char(c) => c,
            Tok::Star => '*',
            Tok::Question => '?',
            Tok::Dash => '-',
        })
        .collect()
}

/// Lowers a string value with optional contains/startswith/endswith into a matcher.
fn wildcard(s: &str, op: Option<StrOp>, cased: bool) -> Result<ValueMatch, ItemError> {
    wildcard_tokens(tokenize(s), op, cased)
}

/// [`wildcard`] of a value already split into tokens.
fn wildcard_tokens(
    mut toks: Vec<Tok>,
    op: Option<StrOp>,
    cased: bool,
) -> Result<ValueMatch, ItemError> {
    let mut lead = matches!(op, Some(StrOp::Contains) | Some(StrOp::Suffix));
    let mut trail = matches!(op, Some(StrOp::Contains) | Some(StrOp::Prefix));
    while toks.first() == Some(&Tok::Star) {
        toks.remove(0);
        lead = true;
    }
    while toks.last() == Some(&Tok::Star) {
        toks.pop();
        trail = true;
    }
    if toks.iter().all(|t| matches!(t, Tok::Char(_))) {
        let needle: String = toks
            .iter()
            .map(|t| match t {
                Tok::Char(c) => *c,
                _ => unreachable!("only characters"),
            })
            .collect();
        if needle.is_empty() && (lead || trail) {
            // `*` alone matches any value, including the empty string.
            return Ok(lit(StrOp::Contains, String::new(), cased));
        }
        let op = match (lead, trail) {
            (true, true) => StrOp::Contains,
            (true, false) => StrOp::Suffix,
            (false, true) => StrOp::Prefix,
            (false, false) => StrOp::Eq,
        };
        return Ok(lit(op, needle, cased));
    }
    let mut re = String::new();
    re.push_str(if cased { "(?s)" } else { "(?si)" });
    if !lead {
        re.push('^');
    }
    for t in &toks {
        match t {
            Tok::Char(c) => re.push_str(&regex::escape(&c.to_string())),
            Tok::Star => re.push_str(".*"),
            Tok::Question => re.push('.'),
            Tok::Dash => re.push_str("[-/\u{2013}\u{2014}\u{2015}]"),
        }
    }
    if !trail {
        re.push('$');
    }
    let runs: Vec<String> = toks
        .split(|t| !matches!(t, Tok::Char(_)))
        .map(|run| {
            run.iter()
                .map(|t| match t {
                    Tok::Char(c) => *c,
                    _ => unreachable!("runs hold characters only"),
                })
                .collect()
        })
        .collect();
    let required = crate::literal::of_runs(runs.iter().map(String::as_str));
    Regex::new(&re)
        .map(|r| ValueMatch::Regex {
            re: Box::new(r),
            required: required.into(),
        })
        .map_err(|e| ItemError(format!("wildcard pattern does not compile: {e}")))
}

const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// How many dashes `windash` spells out as literal needles (5^n of them, which the field's
/// one-pass scan finds); a value with more becomes one pattern with a class of the five dashes
/// at each ([`Tok::Dash`]).
const WINDASH_SPELLED_OUT: usize = 4;

/// How many of the five dashes `s` holds.
/// A regular expression whose every dash outside a character class (`-`, or `\-`) also
/// matches the other [`DASHES`]: `windash` before `re`. A dash inside a class (`[a-z]`, `[-_]`)
/// is left as written: there it is a range or a character of the class, not a command-line
/// switch, and changing it would change what the class holds. One pattern, whatever the
/// number of dashes.
fn windash_pattern(pattern: &str) -> String {
    const ANY_DASH: &str = "[-/\u{2013}\u{2014}\u{2015}]";
    let mut out = String::with_capacity(pattern.len() + 16);
    // How deep in (nested) character classes, and whether a class has just opened (where `]`
    // and `^` are the class's own).
    let mut depth = 0usize;
    let mut opened = false;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        let just_opened = std::mem::take(&mut opened);
        match c {
            '\\' => match chars.next() {
                Some('-') if depth == 0 => out.push_str(ANY_DASH),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '-' if depth == 0 => out.push_str(ANY_DASH),
            '[' => {
                depth += 1;
                opened = true;
                out.push(c);
            }
            '^' if just_opened => {
                opened = true;
                out.push(c);
            }
            ']' if depth > 0 && !just_opened => {
                depth -= 1;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn dashes(s: &str) -> usize {
    s.chars().filter(|c| DASHES.contains(c)).count()
}

/// `s` split into tokens, each dash (any of the five) a [`Tok::Dash`].
fn windash_tokens(s: &str) -> Vec<Tok> {
    tokenize(s)
        .into_iter()
        .map(|t| match t {
            Tok::Char(c) if DASHES.contains(&c) => Tok::Dash,
            t => t,
        })
        .collect()
}

/// Every permutation of the five dashes at each dash position (any of the five written), up
/// to [`WINDASH_SPELLED_OUT`] of them; later ones are kept as written (only under `base64`,
/// which encodes each spelling; otherwise such a value is a pattern).
fn windash(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut seen = 0;
    for c in s.chars() {
        if DASHES.contains(&c) && seen < WINDASH_SPELLED_OUT {
            seen += 1;
            out = out
                .iter()
                .flat_map(|prefix| {
                    DASHES.iter().map(move |d| {
                        let mut p = prefix.clone();
                        p.push(*d);
                        p
                    })
                })
                .collect();
        } else {
            for p in &mut out {
                p.push(c);
            }
        }
    }
    out
}

fn encode_utf16(s: &str, mode: Option<Modifier>) -> Vec<u8> {
    match mode {
        Some(Modifier::Utf16Le) => s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect(),
        Some(Modifier::Utf16Be) => s.encode_utf16().flat_map(|u| u.to_be_bytes()).collect(),
        Some(Modifier::Utf16) => [0xFF, 0xFE]
            .into_iter()
            .chain(s.encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect(),
        _ => s.as_bytes().to_vec(),
    }
}

/// The three base64 forms of `value` at byte offsets 0, 1 and 2 of an encoded stream, with
/// the characters that depend on the unknown neighbours cut off.
fn base64_offsets(value: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END: [usize; 3] = [0, 3, 2];
    let mut out = Vec::new();
    for i in 0..3 {
        let mut shifted = vec![b' '; i];
        shifted.extend_from_slice(value);
        let enc = base64::engine::general_purpose::STANDARD.encode(&shifted);
        let end_cut = END[(value.len() + i) % 3];
        let end = enc.len().saturating_sub(end_cut);
        if START[i] < end {
            out.push(enc[START[i]..end].to_string());
        }
    }
    out
}

/// Replaces `%name%` placeholders; an unknown one is an error when `reject_unknown`, and
/// otherwise expands to no value at all (the item then matches nothing).
fn expand(
    s: &str,
    placeholders: &HashMap<String, Vec<String>>,
    reject_unknown: bool,
) -> Result<Vec<String>, ItemError> {
    let mut results = vec![String::new()];
    for part in vigil_sigma::expand_parts(s) {
        match part {
            ExpandPart::Text(text) => results.iter_mut().for_each(|r| r.push_str(text)),
            ExpandPart::Placeholder(name) => {
                let Some(values) = placeholders.get(name) else {
                    if reject_unknown {
                        return Err(ItemError(format!(
                            "placeholder %{name}% has no values; give it values in CompileOptions::placeholders"
                        )));
                    }
                    return Ok(Vec::new());
                };
                results = results
                    .iter()
                    .flat_map(|r| values.iter().map(move |v| format!("{r}{v}")))
                    .collect();
            }
        }
    }
    Ok(results)
}

/// Extracts a date part from a timestamp like `2024-05-01T13:45:00Z` or `2024-05-01 13:45:00`.
pub(crate) fn time_part(s: &str, part: TimePart) -> Option<f64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> { s.get(r)?.parse().ok() };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    Some(match part {
        TimePart::Year => y as f64,
        TimePart::Month => mo as f64,
        TimePart::Day => d as f64,
        TimePart::Hour => num(11..13)? as f64,
        TimePart::Minute => num(14..16)? as f64,
        TimePart::Week => {
            // ISO week number.
            let days_before = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let ordinal =
                days_before[(mo as usize).clamp(1, 12) - 1] + d + u32::from(leap && mo > 2);
            let weekday = weekday(y, mo, d); // 1 = Monday
            let w = (ordinal as i64 - weekday as i64 + 10) / 7;
            w.clamp(1, 53) as f64
        }
    })
}

fn weekday(y: u32, m: u32, d: u32) -> u32 {
    // Sakamoto's algorithm; 0 = Sunday.
    let t = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let y = if m < 3 { y - 1 } else { y };
    let w = (y + y / 4 - y / 100 + y / 400 + t[(m as usize - 1) % 12] + d) % 7;
    if w == 0 { 7 } else { w }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(mods: &[Modifier], values: &[Value]) -> Vec<ValueMatch> {
        compile_values(mods, values, &HashMap::new(), true, &mut |_| 0)
            .unwrap()
            .matches
    }

    fn lit_of(v: &ValueMatch) -> (StrOp, &str) {
        match v {
            ValueMatch::Lit { op, needle, .. } => (*op, needle),
            other => panic!("not a literal: {other:?}"),
        }
    }

    #[test]
    fn wildcards_lower_to_literals() {
        let s = |x: &str| Value::Str(x.into());
        assert_eq!(lit_of(&c(&[], &[s("Cmd.exe")])[0]), (StrOp::Eq, "cmd.exe"));
        assert_eq!(
            lit_of(&c(&[], &[s("*\\cmd.exe")])[0]),
            (StrOp::Suffix, "\\cmd.exe")
        );
        assert_eq!(lit_of(&c(&[], &[s("adm_*")])[0]), (StrOp::Prefix, "adm_"));
        assert_eq!(lit_of(&c(&[], &[s("*x*")])[0]), (StrOp::Contains, "x"));
        assert_eq!(
            lit_of(&c(&[Modifier::Contains], &[s("a\\*b")])[0]),
            (StrOp::Contains, "a*b")
        );
        assert_eq!(lit_of(&c(&[], &[s("a\\\\b")])[0]), (StrOp::Eq, "a\\b"));
        assert_eq!(
            lit_of(&c(&[], &[s("C:\\Windows")])[0]),
            (StrOp::Eq, "c:\\windows")
        );
        match &c(&[], &[s("a*b?c")])[0] {
            ValueMatch::Regex { re, required } => {
                assert!(re.is_match("AxxBzc"));
                assert!(!re.is_match("abzcd"));
                assert!(required.is_empty(), "one-letter runs rule nothing out");
            }
            other => panic!("{other:?}"),
        }
        match &c(&[Modifier::Contains], &[s("Net*|*Find")])[0] {
            ValueMatch::Regex { required, .. } => assert_eq!(&required[..], ["find"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn base64_and_offsets() {
        let v = [Value::Str("/bin/bash".into())];
        assert_eq!(lit_of(&c(&[Modifier::Base64], &v)[0]).1, "l2jpbi9iyxno");
        // The three shifted forms, as pySigma computes them.
        let offs: Vec<String> = c(&[Modifier::Base64Offset, Modifier::Contains], &v)
            .iter()
            .map(|m| lit_of(m).1.to_string())
            .collect();
        assert_eq!(offs, vec!["l2jpbi9iyxno", "9iaw4vymfza", "vymlul2jhc2"]);
        let wide = c(
            &[Modifier::Utf16Le, Modifier::Base64],
            &[Value::Str("cmd".into())],
        );
        assert_eq!(lit_of(&wide[0]).1, "ywbtagqa");
    }

    #[test]
    fn windash_before_re_changes_the_dashes_outside_classes() {
        for (pattern, expected) in [
            (" -e(nc)? ", " [-/\u{2013}\u{2014}\u{2015}]e(nc)? "),
            ("\\-x", "[-/\u{2013}\u{2014}\u{2015}]x"),
            ("[a-z]-[^-a]", "[a-z][-/\u{2013}\u{2014}\u{2015}][^-a]"),
            ("[]-][[:alpha:]-]x", "[]-][[:alpha:]-]x"),
            ("a\\[-", "a\\[[-/\u{2013}\u{2014}\u{2015}]"),
        ] {
            assert_eq!(windash_pattern(pattern), expected, "{pattern}");
            regex::Regex::new(&windash_pattern(pattern)).expect("still a pattern");
        }
    }

    #[test]
    fn windash_permutations() {
        let w = windash("-a /b");
        assert_eq!(w.len(), 25);
        assert!(w.contains(&"/a -b".to_string()));
        assert!(w.contains(&"\u{2013}a \u{2015}b".to_string()));
    }

    #[test]
    fn cidr_and_numbers() {
        let net = Net::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.1.2.3".parse().unwrap()));
        let v6 = Net::parse("fe80::/10").unwrap();
        assert!(v6.contains("fe80::1".parse().unwrap()));
        assert!(matches!(
            c(&[Modifier::Gte], &[Value::Int(5)])[0],
            ValueMatch::Num(CmpOp::Gte, Number::Int(5))
        ));
        assert!(
            compile_values(
                &[Modifier::Cidr],
                &[Value::Str("x".into())],
                &HashMap::new(),
                true,
                &mut |_| 0
            )
            .is_err()
        );
    }

    #[test]
    fn expand_placeholders() {
        let mut p = HashMap::new();
        p.insert(
            "admins".to_string(),
            vec!["root".to_string(), "adm".to_string()],
        );
        let got = compile_values(
            &[Modifier::Expand],
            &[Value::Str("%admins%_x".into())],
            &p,
            true,
            &mut |_| 0,
        )
        .unwrap()
        .matches;
        assert_eq!(lit_of(&got[1]), (StrOp::Eq, "adm_x"));
        // `\%` is a `%` of the text, not the start of a placeholder.
        let got = compile_values(
            &[Modifier::Expand],
            &[Value::Str(r"\%plain%admins%".into())],
            &p,
            true,
            &mut |_| 0,
        )
        .unwrap()
        .matches;
        assert_eq!(lit_of(&got[0]), (StrOp::Eq, "%plainroot"));
        assert!(
            compile_values(
                &[Modifier::Expand],
                &[Value::Str("%nope%".into())],
                &p,
                true,
                &mut |_| 0
            )
            .is_err()
        );
        let lenient = compile_values(
            &[Modifier::Expand],
            &[Value::Str("%nope%".into())],
            &p,
            false,
            &mut |_| 0,
        )
        .unwrap();
        assert!(lenient.matches.is_empty());
    }

    #[test]
    fn time_parts() {
        let t = "2024-05-01T13:45:00Z";
        assert_eq!(time_part(t, TimePart::Hour), Some(13.0));
        assert_eq!(time_part(t, TimePart::Minute), Some(45.0));
        assert_eq!(time_part(t, TimePart::Week), Some(18.0));
        assert_eq!(time_part("2024-12-31 08:00:00", TimePart::Day), Some(31.0));
    }
}
