//! The Tantivy schema, how an event becomes a document, and how a `vigil-query` AST becomes a
//! Tantivy query.
//!
//! Fields: `time` (date, indexed + fast), `order` (u64 fast: time and sequence in one sort key),
//! `seq`, `size` (u64), `service`/`host`/`tenant` (raw strings, fast), `raw` (the original JSON,
//! stored only), `body` (the JSON as a JSON field, every string value one lower-cased term, fast
//! for aggregations and ranges) and `text` (the values of several words tokenised into words with
//! positions: free text and phrases).
//!
//! A value in any field (free text, pivots, field-less wildcards) is looked up whole under every
//! JSON path with one automaton over `body`'s term dictionary: any path, then the value (text,
//! or the typed terms of the number or boolean it spells, [`AnyPathValue`]). So each value is
//! one term: the `values` field that once held every value again cost about a third of the
//! indexing time, and a value of one word is not repeated among the words. `values`
//! stays in the schema, unwritten, so that indexes created before open unchanged; their events
//! answer through `body` like new ones.
//!
//! Integers beyond ±2^53 are written to `body` as their decimal text ([`integers_as_text`]),
//! exact where a number column could round them, and so are integers beyond 64 bits, as the
//! event writes them ([`exact_body`]); indexes written before keep them as numbers
//! (found by `field:value` and by ranges as before, and rounded where their segment also holds
//! a decimal).

use std::ops::{Bound as StdBound, RangeBounds};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tantivy::columnar::ColumnType;
use tantivy::query::{
    AllQuery, AutomatonWeight, BooleanQuery, BoundsRange, EmptyQuery, EmptyScorer, EnableScoring,
    ExistsQuery, Explanation, FastFieldRangeWeight, Occur, PhraseQuery, Query, RangeQuery,
    RegexQuery, Scorer, TermQuery, Weight,
};
use tantivy::schema::document::{ReferenceValue, ReferenceValueLeaf};
use tantivy::schema::{
    FAST, Field as TField, INDEXED, IndexRecordOption, JsonObjectOptions, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer, TextAnalyzer, Token, TokenFilter,
    TokenStream, Tokenizer,
};
use tantivy::{
    DateTime as TDateTime, DocId, DocSet, Index, Score, SegmentReader, TantivyDocument, Term,
};
use vigil_query::{Bound, Expr, Field, Scalar, Wildcard};

use crate::error::LogError;
use crate::journal::Record;

/// Whole values, lower-cased; longer values are left out of exact matching (their words are
/// still in `text`).
pub(crate) const KEYWORD: &str = "vigil_keyword";
/// Words, lower-cased, each cut to its first [`MAX_WORD`] bytes ([`CutLongWords`]).
pub(crate) const WORDS: &str = "vigil_words";
/// Values longer than this many bytes are not indexed whole: `field:value` and a pivot on a
/// field cannot find them whole; free text finds their words.
pub const MAX_KEYWORD: usize = 256;
/// Words longer than this many bytes are indexed and looked up by their first bytes.
const MAX_WORD: usize = 64;

/// Bits of the sequence number kept in the sort key under the time in milliseconds.
const SEQ_BITS: u32 = 22;

/// The schema's fields, resolved once.
#[derive(Clone, Copy)]
pub(crate) struct Fields {
    pub time: TField,
    pub order: TField,
    pub seq: TField,
    pub size: TField,
    pub service: TField,
    pub host: TField,
    pub tenant: TField,
    pub raw: TField,
    pub body: TField,
    pub text: TField,
}

/// How Tantivy writes JSON paths in terms: segments joined by \u{1}, then \0, the type byte
/// and the value.
const JSON_END_OF_PATH: u8 = 0;

/// An automaton over `body`'s term dictionary accepting the terms of any JSON path whose
/// typed value is one of `suffixes` (each the end-of-path marker, the type byte and the value
/// as Tantivy serialises it): a number or boolean looked for in any field. Typed values are
/// binary, so a regex cannot spell them; this walks the dictionary once, however many paths
/// it holds, where a term per path would grow with every new key the events bring.
#[derive(Debug)]
struct AnyPathValue {
    suffixes: Vec<Vec<u8>>,
}

#[derive(Clone, Copy, Debug)]
enum AnyPathState {
    /// Within the path: no end-of-path marker read yet.
    Path,
    /// The first `len` bytes of every suffix whose bit is set in `alive` were read.
    Suffix {
        len: usize,
        alive: u32,
    },
    Dead,
}

impl AnyPathValue {
    /// `None` when there is nothing to look for (or too much for the state's bit set).
    fn new(suffixes: Vec<Vec<u8>>) -> Option<AnyPathValue> {
        (!suffixes.is_empty()
            && suffixes.len() <= u32::BITS as usize
            && suffixes
                .iter()
                .all(|s| s.first() == Some(&JSON_END_OF_PATH)))
        .then_some(AnyPathValue { suffixes })
    }

    fn step(&self, alive: u32, len: usize, byte: u8) -> AnyPathState {
        let mut next = 0;
        for (i, suffix) in self.suffixes.iter().enumerate() {
            if alive & (1 << i) != 0 && suffix.get(len) == Some(&byte) {
                next |= 1 << i;
            }
        }
        if next == 0 {
            AnyPathState::Dead
        } else {
            AnyPathState::Suffix {
                len: len + 1,
                alive: next,
            }
        }
    }
}

impl tantivy_fst::Automaton for AnyPathValue {
    type State = AnyPathState;

    fn start(&self) -> AnyPathState {
        AnyPathState::Path
    }

    fn is_match(&self, state: &AnyPathState) -> bool {
        match *state {
            AnyPathState::Suffix { len, alive } => self
                .suffixes
                .iter()
                .enumerate()
                .any(|(i, s)| alive & (1 << i) != 0 && s.len() == len),
            _ => false,
        }
    }

    fn can_match(&self, state: &AnyPathState) -> bool {
        !matches!(state, AnyPathState::Dead)
    }

    fn accept(&self, state: &AnyPathState, byte: u8) -> AnyPathState {
        match *state {
            AnyPathState::Path if byte == JSON_END_OF_PATH => self.step(u32::MAX, 0, byte),
            AnyPathState::Path => AnyPathState::Path,
            AnyPathState::Suffix { len, alive } => self.step(alive, len, byte),
            AnyPathState::Dead => AnyPathState::Dead,
        }
    }
}

/// An automaton over `body`'s term dictionary accepting the text values of one JSON path that
/// are decimal numbers (`200`, `-1.5`) within a range: `status:[200 TO 299]` finds
/// `"status": "200"` as `status:200` does (JSON logs often quote every value), not only the
/// numbers.
#[derive(Debug)]
struct NumericText {
    /// The path, the end-of-path marker and the text type byte, as terms begin with them.
    prefix: Vec<u8>,
    lower: StdBound<Number>,
    upper: StdBound<Number>,
}

/// Longer text is not taken for a number.
const MAX_NUMERIC_TEXT: usize = 32;

#[derive(Clone, Copy, Debug)]
enum NumericTextState {
    /// The first `.0` bytes of the prefix were read.
    Prefix(usize),
    /// The text read so far, a number's beginning.
    Number {
        len: usize,
        text: [u8; MAX_NUMERIC_TEXT],
    },
    Dead,
}

/// Whether `text` may begin a decimal number: an optional `-`, digits, at most one `.` after a
/// digit.
fn begins_number(text: &[u8]) -> bool {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    let mut dot = false;
    for (i, &b) in digits.iter().enumerate() {
        match b {
            b'0'..=b'9' => {}
            b'.' if !dot && i > 0 => dot = true,
            _ => return false,
        }
    }
    true
}

impl tantivy_fst::Automaton for NumericText {
    type State = NumericTextState;

    fn start(&self) -> NumericTextState {
        NumericTextState::Prefix(0)
    }

    fn is_match(&self, state: &NumericTextState) -> bool {
        let NumericTextState::Number { len, text } = state else {
            return false;
        };
        let text = &text[..*len];
        text.last().is_some_and(u8::is_ascii_digit)
            && std::str::from_utf8(text)
                .ok()
                .and_then(Number::parse)
                .is_some_and(|x| x.within(&self.lower, &self.upper))
    }

    fn can_match(&self, state: &NumericTextState) -> bool {
        !matches!(state, NumericTextState::Dead)
    }

    fn accept(&self, state: &NumericTextState, byte: u8) -> NumericTextState {
        match *state {
            NumericTextState::Prefix(at) if self.prefix.get(at) == Some(&byte) => {
                if at + 1 == self.prefix.len() {
                    NumericTextState::Number {
                        len: 0,
                        text: [0; MAX_NUMERIC_TEXT],
                    }
                } else {
                    NumericTextState::Prefix(at + 1)
                }
            }
            NumericTextState::Number { len, mut text } if len < MAX_NUMERIC_TEXT => {
                text[len] = byte;
                if begins_number(&text[..=len]) {
                    NumericTextState::Number { len: len + 1, text }
                } else {
                    NumericTextState::Dead
                }
            }
            _ => NumericTextState::Dead,
        }
    }
}

/// A number as a query or a value writes it, exactly: an integer (of up to 128 bits, so
/// every 64-bit id, signed or not), or a decimal as the nearest `f64`. Integers are never
/// taken through `f64`, which holds them exactly only up to 2^53.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Number {
    Int(i128),
    Float(f64),
}

impl Number {
    /// The number decimal `text` spells (`200`, `-1.5`, `1e3`, `18446744073709551615`); a
    /// decimal whose fraction is all zeros (`1000.0`) is the integer, exactly.
    fn parse(text: &str) -> Option<Number> {
        if let Ok(n) = text.parse::<i128>() {
            return Some(Number::Int(n));
        }
        if let Some((whole, fraction)) = text.split_once('.')
            && !fraction.is_empty()
            && fraction.bytes().all(|b| b == b'0')
            && let Ok(n) = whole.parse::<i128>()
        {
            return Some(Number::Int(n));
        }
        text.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(Number::Float)
    }

    /// The exact order of two numbers (a decimal against an integer by its value, not by the
    /// integer rounded to a decimal).
    fn cmp(self, other: Number) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        /// `x` against `n`, exactly; `x` is finite.
        fn float_int(x: f64, n: i128) -> Ordering {
            // 2^127: above every i128, and its negative the least of them.
            const TWO_127: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
            if x >= TWO_127 {
                return Ordering::Greater;
            }
            if x < -TWO_127 {
                return Ordering::Less;
            }
            let floor = x.floor();
            match (floor as i128).cmp(&n) {
                Ordering::Equal if x > floor => Ordering::Greater,
                order => order,
            }
        }
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a.cmp(&b),
            (Number::Float(a), Number::Float(b)) => a.total_cmp(&b),
            (Number::Float(a), Number::Int(b)) => float_int(a, b),
            (Number::Int(a), Number::Float(b)) => float_int(b, a).reverse(),
        }
    }

    /// Whether the number lies within the bounds.
    fn within(self, lower: &StdBound<Number>, upper: &StdBound<Number>) -> bool {
        use std::cmp::Ordering::{Greater, Less};
        let above = match lower {
            StdBound::Unbounded => true,
            StdBound::Included(l) => self.cmp(*l) != Less,
            StdBound::Excluded(l) => self.cmp(*l) == Greater,
        };
        let below = match upper {
            StdBound::Unbounded => true,
            StdBound::Included(u) => self.cmp(*u) != Greater,
            StdBound::Excluded(u) => self.cmp(*u) == Less,
        };
        above && below
    }

    /// The least integer within a range from `lower` (`None`: all are; saturated at the ends
    /// of i128).
    fn least_integer(lower: &StdBound<Number>) -> Option<i128> {
        Some(match *lower {
            StdBound::Unbounded => return None,
            StdBound::Included(Number::Int(n)) => n,
            StdBound::Excluded(Number::Int(n)) => n.saturating_add(1),
            // `as` saturates: a decimal beyond i128 is beyond every integer a column holds.
            StdBound::Included(Number::Float(x)) => x.ceil() as i128,
            StdBound::Excluded(Number::Float(x)) => (x.floor() as i128).saturating_add(1),
        })
    }

    /// The greatest integer within a range up to `upper` (`None`: all are).
    fn greatest_integer(upper: &StdBound<Number>) -> Option<i128> {
        Some(match *upper {
            StdBound::Unbounded => return None,
            StdBound::Included(Number::Int(n)) => n,
            StdBound::Excluded(Number::Int(n)) => n.saturating_sub(1),
            StdBound::Included(Number::Float(x)) => x.floor() as i128,
            StdBound::Excluded(Number::Float(x)) => (x.ceil() as i128).saturating_sub(1),
        })
    }

    /// The least `f64` within a range from `lower`.
    fn least_float(lower: &StdBound<Number>) -> f64 {
        use std::cmp::Ordering::{Greater, Less};
        match *lower {
            StdBound::Unbounded => f64::NEG_INFINITY,
            StdBound::Included(Number::Float(x)) => x,
            StdBound::Excluded(Number::Float(x)) => x.next_up(),
            StdBound::Included(n @ Number::Int(i)) => {
                let x = i as f64;
                if Number::Float(x).cmp(n) == Less {
                    x.next_up()
                } else {
                    x
                }
            }
            StdBound::Excluded(n @ Number::Int(i)) => {
                let x = i as f64;
                if Number::Float(x).cmp(n) != Greater {
                    x.next_up()
                } else {
                    x
                }
            }
        }
    }

    /// The greatest `f64` within a range up to `upper`.
    fn greatest_float(upper: &StdBound<Number>) -> f64 {
        use std::cmp::Ordering::{Greater, Less};
        match *upper {
            StdBound::Unbounded => f64::INFINITY,
            StdBound::Included(Number::Float(x)) => x,
            StdBound::Excluded(Number::Float(x)) => x.next_down(),
            StdBound::Included(n @ Number::Int(i)) => {
                let x = i as f64;
                if Number::Float(x).cmp(n) == Greater {
                    x.next_down()
                } else {
                    x
                }
            }
            StdBound::Excluded(n @ Number::Int(i)) => {
                let x = i as f64;
                if Number::Float(x).cmp(n) != Less {
                    x.next_down()
                } else {
                    x
                }
            }
        }
    }
}

/// The events whose JSON path holds a number within a range, compared exactly. A segment keeps
/// a path's numbers in one column of one type (i64, u64, or f64 when it holds decimals or both
/// negative numbers and numbers beyond i64); the bounds are turned into that type per segment
/// — the least and greatest integers (or decimals) within them — and the column is scanned
/// as Tantivy's fast-field range does. Tantivy's own turning of a bound of another type into
/// the column's is not exact: a decimal bound was also searched rounded (`n:[1.6 TO 1.9]`
/// found 2), and a negative upper bound on a u64 column was dropped (`b:<=-1` found every
/// number).
#[derive(Clone, Debug)]
struct NumberRange {
    /// The path's fast-field column, `body.` and the path.
    column: String,
    /// The path's term, without a type or value.
    path: Term,
    lower: StdBound<Number>,
    upper: StdBound<Number>,
}

impl NumberRange {
    /// The inclusive bounds, as terms of the column type `column`; `None` when no number of
    /// that type lies within the range.
    fn bounds(&self, column: ColumnType) -> Option<(Term, Term)> {
        let term = |set: &dyn Fn(&mut Term)| {
            let mut t = self.path.clone();
            set(&mut t);
            t
        };
        let integers = |least: i128, greatest: i128| {
            let lo = Number::least_integer(&self.lower).map_or(least, |l| l.max(least));
            let hi = Number::greatest_integer(&self.upper).map_or(greatest, |g| g.min(greatest));
            (lo <= hi).then_some((lo, hi))
        };
        match column {
            ColumnType::I64 => {
                let (lo, hi) = integers(i64::MIN.into(), i64::MAX.into())?;
                let (lo, hi) = (i64::try_from(lo).ok()?, i64::try_from(hi).ok()?);
                Some((
                    term(&|t| t.append_type_and_fast_value(lo)),
                    term(&|t| t.append_type_and_fast_value(hi)),
                ))
            }
            ColumnType::U64 => {
                let (lo, hi) = integers(0, u64::MAX.into())?;
                let (lo, hi) = (u64::try_from(lo).ok()?, u64::try_from(hi).ok()?);
                Some((
                    term(&|t| t.append_type_and_fast_value(lo)),
                    term(&|t| t.append_type_and_fast_value(hi)),
                ))
            }
            ColumnType::F64 => {
                let (lo, hi) = (
                    Number::least_float(&self.lower),
                    Number::greatest_float(&self.upper),
                );
                (lo <= hi).then(|| {
                    (
                        term(&|t| t.append_type_and_fast_value(lo)),
                        term(&|t| t.append_type_and_fast_value(hi)),
                    )
                })
            }
            _ => None,
        }
    }
}

impl Query for NumberRange {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for NumberRange {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let numbers = [ColumnType::I64, ColumnType::U64, ColumnType::F64];
        let Some((_, column)) = reader
            .fast_fields()
            .u64_lenient_for_type(Some(&numbers), &self.column)?
        else {
            return Ok(Box::new(EmptyScorer));
        };
        match self.bounds(column) {
            Some((lo, hi)) => FastFieldRangeWeight::new(BoundsRange::new(
                StdBound::Included(lo),
                StdBound::Included(hi),
            ))
            .scorer(reader, boost),
            None => Ok(Box::new(EmptyScorer)),
        }
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) != doc {
            return Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} holds no number within the range"
            )));
        }
        Ok(Explanation::new("NumberRange", scorer.score()))
    }
}

/// An automaton over `body`'s term dictionary accepting the text values of one JSON path that
/// are times within a range ([`text_time`]). The index keeps an RFC 3339 value as a date, which
/// the range over the date column finds, unless it lies beyond Tantivy's dates (before 1677,
/// after 2262: `9999-12-31T23:59:59Z`), when it is text, as a date alone always is; other text
/// is no time and never in a time range. Terms are lower-cased, which RFC 3339 allows (`t`,
/// `z`).
#[derive(Debug)]
struct TimeText {
    /// The path, the end-of-path marker and the text type byte, as terms begin with them.
    prefix: Vec<u8>,
    lower: StdBound<DateTime<Utc>>,
    upper: StdBound<DateTime<Utc>>,
}

/// The time a JSON string names: an RFC 3339 time (in any case, as terms are lower-cased), or a
/// date alone (`2026-01-15`, its midnight in UTC, as a bound written that way is read), which
/// logs write for days: a responder's `day:[2026-01-01 TO 2026-01-31]` means those days.
fn text_time(text: &str) -> Option<DateTime<Utc>> {
    if text.len() == 10 {
        let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
        return Some(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(&text.to_ascii_uppercase())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Longer text is not taken for a time (`2026-01-31T12:00:00.123456789+02:00` has 35 bytes).
const MAX_TIME_TEXT: usize = 40;

impl tantivy_fst::Automaton for TimeText {
    type State = Option<(usize, [u8; MAX_TIME_TEXT])>;

    /// `Some((read, text))`: `read` bytes of the term read, the prefix's first, and `text`
    /// the bytes after it; `None`: no term from here is a time.
    fn start(&self) -> Self::State {
        Some((0, [0; MAX_TIME_TEXT]))
    }

    fn is_match(&self, state: &Self::State) -> bool {
        let Some((read, text)) = state else {
            return false;
        };
        let Some(len) = read.checked_sub(self.prefix.len()).filter(|n| *n > 0) else {
            return false;
        };
        std::str::from_utf8(&text[..len])
            .ok()
            .and_then(text_time)
            .is_some_and(|t| (self.lower, self.upper).contains(&t))
    }

    fn can_match(&self, state: &Self::State) -> bool {
        state.is_some()
    }

    fn accept(&self, state: &Self::State, byte: u8) -> Self::State {
        let (read, mut text) = (*state)?;
        if let Some(&expected) = self.prefix.get(read) {
            return (byte == expected).then_some((read + 1, text));
        }
        let len = read - self.prefix.len();
        // A time begins with the year's digits and holds digits, `-`, `:`, `.`, `+`, `t`, `z`.
        let fits = if len == 0 {
            byte.is_ascii_digit()
        } else {
            byte.is_ascii_digit() || b"-:.+tz".contains(&byte)
        };
        if !fits || len == MAX_TIME_TEXT {
            return None;
        }
        text[len] = byte;
        Some((read + 1, text))
    }
}

/// The query for an automaton over a field's term dictionary ([`AnyPathValue`],
/// [`NumericText`]).
#[derive(Debug)]
struct AutomatonQuery<A> {
    field: TField,
    automaton: Arc<A>,
}

impl<A> Clone for AutomatonQuery<A> {
    fn clone(&self) -> Self {
        AutomatonQuery {
            field: self.field,
            automaton: self.automaton.clone(),
        }
    }
}

impl<A> Query for AutomatonQuery<A>
where
    A: tantivy_fst::Automaton + Send + Sync + std::fmt::Debug + 'static,
    A::State: Clone,
{
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(AutomatonWeight::<A>::new(
            self.field,
            self.automaton.clone(),
        )))
    }
}

pub(crate) fn schema() -> Schema {
    let mut builder = Schema::builder();
    builder.add_date_field("time", INDEXED | FAST | STORED);
    builder.add_u64_field("order", FAST | INDEXED);
    builder.add_u64_field("seq", STORED);
    builder.add_u64_field("size", FAST);
    for name in ["service", "host", "tenant"] {
        builder.add_text_field(name, STRING | FAST | STORED);
    }
    builder.add_text_field("raw", STORED);
    let keyword = TextFieldIndexing::default()
        .set_tokenizer(KEYWORD)
        .set_index_option(IndexRecordOption::Basic);
    builder.add_json_field(
        "body",
        JsonObjectOptions::default()
            .set_indexing_options(keyword.clone())
            .set_expand_dots_enabled()
            .set_fast("raw"),
    );
    // Not written any more (see the module's doc); declared so older indexes keep opening.
    builder.add_text_field(
        "values",
        TextOptions::default().set_indexing_options(keyword),
    );
    builder.add_text_field(
        "text",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(WORDS)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        ),
    );
    builder.build()
}

/// Registers the tokenizers the schema names; Tantivy does not persist them.
pub(crate) fn register_tokenizers(index: &Index) {
    index.tokenizers().register(
        KEYWORD,
        TextAnalyzer::builder(RawTokenizer::default())
            // Keeps values of up to `MAX_KEYWORD` bytes (the filter keeps those shorter than
            // its limit).
            .filter(RemoveLongFilter::limit(MAX_KEYWORD + 1))
            .filter(LowerCaser)
            .build(),
    );
    index.tokenizers().register(
        WORDS,
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(CutLongWords)
            .build(),
    );
}

/// Cuts a word longer than [`MAX_WORD`] bytes to its first `MAX_WORD` (at a character's
/// boundary), so that a long word (a base64 blob, a long URL path segment) costs a short term.
/// Indexing and queries cut alike (both run `WORDS`), so a long word finds the events with a
/// word beginning with the same bytes. Dropping such words instead (Tantivy's
/// `RemoveLongFilter`, used before) made them unsearchable, and a phrase holding one matched
/// every event with its other words.
#[derive(Clone, Copy)]
struct CutLongWords;

impl TokenFilter for CutLongWords {
    type Tokenizer<T: Tokenizer> = CutLongWordsTokenizer<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> CutLongWordsTokenizer<T> {
        CutLongWordsTokenizer(tokenizer)
    }
}

/// A tokenizer whose words [`CutLongWords`] cuts.
#[derive(Clone)]
struct CutLongWordsTokenizer<T>(T);

impl<T: Tokenizer> Tokenizer for CutLongWordsTokenizer<T> {
    type TokenStream<'a> = CutLongWordsStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        CutLongWordsStream(self.0.token_stream(text))
    }
}

/// The words of a stream, cut ([`CutLongWords`]).
struct CutLongWordsStream<S>(S);

impl<S: TokenStream> TokenStream for CutLongWordsStream<S> {
    fn advance(&mut self) -> bool {
        if !self.0.advance() {
            return false;
        }
        let text = &mut self.0.token_mut().text;
        if text.len() > MAX_WORD {
            let end = (0..=MAX_WORD)
                .rev()
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            text.truncate(end);
        }
        true
    }

    fn token(&self) -> &Token {
        self.0.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.0.token_mut()
    }
}

impl Fields {
    pub fn resolve(schema: &Schema) -> Result<Fields, LogError> {
        let f = |name: &str| schema.get_field(name).map_err(LogError::Index);
        Ok(Fields {
            time: f("time")?,
            order: f("order")?,
            seq: f("seq")?,
            size: f("size")?,
            service: f("service")?,
            host: f("host")?,
            tenant: f("tenant")?,
            raw: f("raw")?,
            body: f("body")?,
            text: f("text")?,
        })
    }

    /// Builds the document of a journal record. The JSON was checked when appended (by the store,
    /// or by the parser of the ingest path, see `NewEvent::json_checked`).
    pub fn document(&self, record: &Record) -> TantivyDocument {
        let mut doc = self.envelope_document(record);
        // sonic-rs: this runs on the one index thread for every event, and it parses several
        // times faster than `serde_json::Value` (whose parse was half of that thread's time).
        if let Ok(mut body) = sonic_rs::from_str::<sonic_rs::Value>(&record.json)
            && sonic_rs::JsonValueTrait::is_object(&body)
        {
            let mut wide = add_words(&mut doc, self.text, &body);
            if wide.beyond_64_bits
                && let Some(exact) = exact_body(&record.json)
            {
                // Rare: an integer the parser could only read as an f64. Its digits are in
                // the text alone, so the event is read again from there.
                doc = self.envelope_document(record);
                body = exact;
                wide = add_words(&mut doc, self.text, &body);
            }
            if wide.within_64_bits {
                integers_as_text(&mut body);
            }
            // Tantivy copies the value into the document as it walks it: no intermediate tree.
            doc.add_field_value(self.body, Json(&body));
        }
        doc
    }

    /// A record's document without its JSON: time, order, envelope and the stored text.
    fn envelope_document(&self, record: &Record) -> TantivyDocument {
        let mut doc = TantivyDocument::new();
        doc.add_date(
            self.time,
            TDateTime::from_timestamp_micros(record.time_micros),
        );
        doc.add_u64(self.order, order_key(record.time_micros, record.seq));
        doc.add_u64(self.seq, record.seq);
        doc.add_u64(self.size, record.json.len() as u64);
        doc.add_text(self.service, &record.service);
        doc.add_text(self.host, &record.host);
        doc.add_text(self.tenant, &record.tenant);
        doc.add_text(self.raw, &record.json);
        doc
    }
}

/// A parsed JSON value as Tantivy reads a document's values, with the leaves Tantivy's own
/// reading of a `serde_json::Value` gives: a number as i64, else u64, else f64; a string that
/// begins with a digit and is an RFC 3339 time as a date; every other string as text.
///
/// One addition: an XML element object, `"EventID": {"#attributes": {…}, "#text": 7045}` (as
/// EVTX records converted to JSON write an element with attributes), is given a second time
/// under its key as its `#text` value ([`element_text`]), so that its own path holds its value
/// for `field:value`, ranges, `count by` and pivots, as detection rules read it; its
/// `#text` and `#attributes` paths are indexed as before. Tantivy indexes every value of a
/// key given twice (terms and fast columns alike); the stored event is `raw`, unchanged.
#[derive(Debug, Clone, Copy)]
struct Json<'a>(&'a sonic_rs::Value);

/// The text of an XML element object (`{"#attributes": {…}, "#text": v}`): `v`, a scalar or a
/// list of them (several unnamed `<Data>` values). `None` for other objects and values, and
/// for a `#text` that is itself an object, which no converter writes.
fn element_text(value: &sonic_rs::Value) -> Option<&sonic_rs::Value> {
    use sonic_rs::JsonValueTrait;
    value.get("#text").filter(|text| !text.is_object())
}

/// The items of an array as [`Json`], each XML element object followed by its text
/// ([`element_text`]): `"Data": [{"#attributes": {"Name": "x"}, "#text": "v"}]` holds `v`.
struct JsonItems<'a> {
    items: std::slice::Iter<'a, sonic_rs::Value>,
    /// The text of the element just given, to give next.
    text: Option<Json<'a>>,
}

impl<'a> Iterator for JsonItems<'a> {
    type Item = Json<'a>;

    fn next(&mut self) -> Option<Json<'a>> {
        if let Some(text) = self.text.take() {
            return Some(text);
        }
        let item = self.items.next()?;
        self.text = element_text(item).map(Json);
        Some(Json(item))
    }
}

/// The entries of an object as [`Json`], each XML element object followed by its text under
/// the same key ([`element_text`]).
struct JsonEntries<'a> {
    entries: sonic_rs::value::object::Iter<'a>,
    /// The key and text of the element just given, to give next.
    text: Option<(&'a str, Json<'a>)>,
}

impl<'a> Iterator for JsonEntries<'a> {
    type Item = (&'a str, Json<'a>);

    fn next(&mut self) -> Option<(&'a str, Json<'a>)> {
        if let Some(entry) = self.text.take() {
            return Some(entry);
        }
        let (key, value) = self.entries.next()?;
        self.text = element_text(value).map(|text| (key, Json(text)));
        Some((key, Json(value)))
    }
}

impl<'a> tantivy::schema::Value<'a> for Json<'a> {
    type ArrayIter = JsonItems<'a>;
    type ObjectIter = JsonEntries<'a>;

    fn as_value(&self) -> ReferenceValue<'a, Self> {
        use sonic_rs::{JsonContainerTrait, JsonValueTrait};
        let value = self.0;
        if let Some(text) = value.as_str() {
            return match json_date(text) {
                Some(date) => ReferenceValueLeaf::Date(date).into(),
                None => ReferenceValueLeaf::Str(text).into(),
            };
        }
        if let Some(n) = value.as_i64() {
            ReferenceValueLeaf::I64(n).into()
        } else if let Some(n) = value.as_u64() {
            ReferenceValueLeaf::U64(n).into()
        } else if let Some(n) = value.as_f64() {
            ReferenceValueLeaf::F64(n).into()
        } else if let Some(b) = value.as_bool() {
            ReferenceValueLeaf::Bool(b).into()
        } else if let Some(items) = value.as_array() {
            ReferenceValue::Array(JsonItems {
                items: items.iter(),
                text: None,
            })
        } else if let Some(map) = value.as_object() {
            ReferenceValue::Object(JsonEntries {
                entries: map.iter(),
                text: None,
            })
        } else {
            ReferenceValueLeaf::Null.into()
        }
    }
}

/// The date a JSON string stands for in the index: one that begins with a digit and is an RFC
/// 3339 time is kept as a date, not as text (see [`Json`]).
fn json_date(text: &str) -> Option<TDateTime> {
    use tantivy::time::{OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339};
    Some(text)
        .filter(|t| t.starts_with(|c: char| c.is_ascii_digit()))
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .and_then(|t| TDateTime::try_from_utc(t.to_offset(UtcOffset::UTC)))
}

/// The newest-first sort key: milliseconds since 1970 above the low bits of the sequence number,
/// so events of the same millisecond keep their storage order and a cursor is one number.
pub(crate) fn order_key(time_micros: i64, seq: u64) -> u64 {
    let millis = (time_micros / 1000).max(0) as u64;
    (millis << SEQ_BITS) | (seq & ((1 << SEQ_BITS) - 1))
}

/// The milliseconds since 1970 of an [`order_key`]: its event's time, to the millisecond (events
/// are stored from 1970 on, `store::KEPT_TIMES`, so the key holds it unclamped).
pub(crate) fn order_millis(key: u64) -> i64 {
    (key >> SEQ_BITS) as i64
}

/// A collector's pass over the hits of `weight` in one segment, in blocks, the deleted ones
/// (retention) left out, so that the collector reads each column a block at a time (Tantivy's
/// own pass hands the documents over one by one when some are deleted).
pub(crate) fn collect_live_segment<C: tantivy::collector::Collector>(
    collector: &C,
    weight: &dyn tantivy::query::Weight,
    segment_ord: tantivy::SegmentOrdinal,
    segment: &tantivy::SegmentReader,
) -> tantivy::Result<<C::Child as tantivy::collector::SegmentCollector>::Fruit> {
    use tantivy::collector::SegmentCollector;
    let mut child = collector.for_segment(segment_ord, segment)?;
    match segment.alive_bitset() {
        None => weight.for_each_no_score(segment, &mut |docs| child.collect_block(docs))?,
        Some(alive) => {
            let mut kept = Vec::with_capacity(tantivy::COLLECT_BLOCK_BUFFER_LEN);
            weight.for_each_no_score(segment, &mut |docs| {
                kept.clear();
                kept.extend(docs.iter().copied().filter(|&doc| alive.is_alive(doc)));
                child.collect_block(&kept);
            })?;
        }
    }
    Ok(child.harvest())
}

/// Whether `value` is one word that `body` keeps whole, lowercased, as its `KEYWORD` term, which
/// free text finds: a word of up to [`MAX_KEYWORD`] bytes. A longer one is left out of `body`,
/// so its words go to `text` (where it is its first [`MAX_WORD`] bytes).
fn is_one_word(value: &str) -> bool {
    !value.is_empty() && value.len() <= MAX_KEYWORD && value.chars().all(char::is_alphanumeric)
}

/// Adds to `text` every value of `value` that is more than one word. A value that is one word
/// is already a term under its path in `body` (whole, lowercased): free text finds it there.
/// Single words are the unique ones (ids, hashes, numbers), which cost the most to index twice.
/// Says which wide integers `value` holds ([`WideIntegers`]): found in the walk every event
/// takes, so that the others are not walked again.
fn add_words(doc: &mut TantivyDocument, text: TField, value: &sonic_rs::Value) -> WideIntegers {
    use sonic_rs::{JsonContainerTrait, JsonNumberTrait, JsonValueTrait};
    if let Some(s) = value.as_str() {
        if !is_one_word(s) {
            doc.add_text(text, s);
        }
    } else if let Some(n) = value.as_number() {
        // Integers of one word need no text to say so; others (negative, decimal) are spelled.
        if !n.is_u64() {
            let spelled = n.to_string();
            if !is_one_word(&spelled) {
                doc.add_text(text, spelled);
            }
        }
        return WideIntegers {
            within_64_bits: is_wide_integer(&n),
            beyond_64_bits: may_be_beyond_64_bits(&n),
        };
    } else if let Some(items) = value.as_array() {
        let mut wide = WideIntegers::default();
        for v in items.iter() {
            wide = wide.union(add_words(doc, text, v));
        }
        return wide;
    } else if let Some(map) = value.as_object() {
        let mut wide = WideIntegers::default();
        for (_, v) in map.iter() {
            wide = wide.union(add_words(doc, text, v));
        }
        return wide;
    }
    // `true`, `false` and `null` are one word.
    WideIntegers::default()
}

/// The integers of an event that the index does not keep as the parser reads them.
#[derive(Debug, Clone, Copy, Default)]
struct WideIntegers {
    /// An integer beyond ±2^53 that i64 or u64 holds ([`integers_as_text`]).
    within_64_bits: bool,
    /// A whole number beyond the 64-bit range: maybe an integer written so, which the parser
    /// has only as an f64 and [`exact_body`] reads again from the text.
    beyond_64_bits: bool,
}

impl WideIntegers {
    /// What either holds.
    fn union(self, other: WideIntegers) -> WideIntegers {
        WideIntegers {
            within_64_bits: self.within_64_bits || other.within_64_bits,
            beyond_64_bits: self.beyond_64_bits || other.beyond_64_bits,
        }
    }
}

/// Whether `n`, which is neither an i64 nor a u64, is a whole f64 beyond the 64-bit range: an
/// integer written with more digits than 64 bits hold is read so (as is `1e20`).
fn may_be_beyond_64_bits(n: &sonic_rs::Number) -> bool {
    use sonic_rs::JsonNumberTrait;
    // -2^63, below which no i64 goes; from 2^64 no u64 goes, and 2^63 up is a u64.
    const I64_MIN: f64 = -9_223_372_036_854_775_808.0;
    n.as_i64().is_none()
        && n.as_u64().is_none()
        && n.as_f64()
            .is_some_and(|x| x.fract() == 0.0 && (x <= I64_MIN || x >= -I64_MIN))
}

/// An event's JSON read with its numbers as written, each integer beyond the 64-bit range
/// made its decimal text as written (which the index keeps exactly, as [`integers_as_text`]
/// does for those beyond 2^53), every other number the number it is. An f64 keeps 17
/// digits: 18446744073709551616 and …617 were one number to the index, matched by neither,
/// counted together under a name no event holds. `None` if the text does not parse (it did
/// once already).
fn exact_body(json: &str) -> Option<sonic_rs::Value> {
    let mut reader = sonic_rs::Deserializer::from_str(json).use_rawnumber();
    let mut body: sonic_rs::Value = reader.deserialize().ok()?;
    numbers_as_written(&mut body);
    Some(body)
}

/// Turns the raw numbers of [`exact_body`] into numbers, or text for integers beyond 64 bits.
fn numbers_as_written(value: &mut sonic_rs::Value) {
    use sonic_rs::{JsonValueMutTrait, JsonValueTrait};
    if let Some(raw) = value.as_raw_number() {
        let written = raw.as_str();
        let digits = written.strip_prefix('-').unwrap_or(written);
        let integer = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        *value = if integer && written.parse::<i64>().is_err() && written.parse::<u64>().is_err() {
            sonic_rs::Value::from(written)
        } else {
            sonic_rs::from_str(written).unwrap_or_default()
        };
    } else if let Some(items) = value.as_array_mut() {
        items.iter_mut().for_each(numbers_as_written);
    } else if let Some(map) = value.as_object_mut() {
        map.iter_mut().for_each(|(_, v)| numbers_as_written(v));
    }
}

/// The largest magnitude up to which every integer is an `f64`.
const WIDEST_EXACT_INTEGER: u64 = 1 << 53;

/// Whether `n` is an integer beyond ±2^53 ([`integers_as_text`]).
fn is_wide_integer(n: &sonic_rs::Number) -> bool {
    use sonic_rs::JsonNumberTrait;
    match (n.as_i64(), n.as_u64()) {
        (Some(i), _) => i.unsigned_abs() > WIDEST_EXACT_INTEGER,
        (None, Some(_)) => true,
        (None, None) => false,
    }
}

/// Writes the integers of `value` beyond ±2^53 as their decimal text, which the index keeps
/// exactly. As numbers they were not exact: a segment keeps a path's numbers in one column,
/// of f64 once it holds a decimal (or negative numbers and numbers beyond i64 both), where
/// 9007199254740993 is 9007199254740992 and 18446744073709551615 is 2^64 — a range missed
/// them and `count by` named numbers no event holds. As text they are found by `field:value`
/// and free text as written, by ranges as the numbers they spell (as numbers sent as text
/// are), and counted under one name with the same number in other events (`"200"` and `200`
/// count as one value). The stored JSON is the event's, unchanged.
fn integers_as_text(value: &mut sonic_rs::Value) {
    use sonic_rs::{JsonValueMutTrait, JsonValueTrait};
    if let Some(n) = value.as_number() {
        if is_wide_integer(&n) {
            *value = sonic_rs::Value::from(n.to_string().as_str());
        }
    } else if let Some(items) = value.as_array_mut() {
        items.iter_mut().for_each(integers_as_text);
    } else if let Some(map) = value.as_object_mut() {
        map.iter_mut().for_each(|(_, v)| integers_as_text(v));
    }
}

/// Turns query ASTs into Tantivy queries over this schema.
pub(crate) struct Translator<'a> {
    pub fields: &'a Fields,
    pub index: &'a Index,
    pub now: DateTime<Utc>,
}

type Q = Box<dyn Query>;

/// One typed reading of a range bound as an index term (`None`: the bound is not of that type).
type BoundTerm<'a> = Box<dyn Fn(&Scalar) -> Option<Term> + 'a>;

fn all_of(parts: Vec<Q>) -> Q {
    Box::new(BooleanQuery::new(
        parts.into_iter().map(|q| (Occur::Must, q)).collect(),
    ))
}

fn any_of(parts: Vec<Q>) -> Q {
    if parts.is_empty() {
        return Box::new(EmptyQuery);
    }
    Box::new(BooleanQuery::new(
        parts.into_iter().map(|q| (Occur::Should, q)).collect(),
    ))
}

fn term(term: Term) -> Q {
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}

/// A regex over a field's terms. The automaton has a size limit (about a thousand states): a
/// pattern beyond it is the user's to shorten, not a server failure.
fn regex_query(regex: &str, field: TField) -> Result<Q, LogError> {
    RegexQuery::from_pattern(regex, field)
        .map(|q| Box::new(q) as Q)
        .map_err(|e| {
            LogError::Unsupported(format!(
                "the value or wildcard pattern is too long or complex to search ({e}): shorten it, or search for a distinctive part of it"
            ))
        })
}

/// A query bound as Tantivy's date, which counts nanoseconds in an `i64` (1677 to 2262): a
/// bound beyond that (`from=0001-01-01`, `now-99999999d`) is taken at its end, which every
/// stored time lies within (see `KEPT_TIMES`).
fn to_tdate(t: DateTime<Utc>) -> TDateTime {
    const LIMIT: i64 = i64::MAX / 1_000;
    TDateTime::from_timestamp_micros(t.timestamp_micros().clamp(-LIMIT, LIMIT))
}

/// A regex matching exactly `bytes` (UTF-8 with control characters, such as a serialised JSON
/// term): ASCII punctuation and controls as `\x` escapes, other characters as themselves.
fn escape_regex_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    for ch in String::from_utf8_lossy(bytes).chars() {
        if ch.is_ascii_alphanumeric() || !ch.is_ascii() {
            out.push(ch);
        } else {
            out.push_str(&format!("\\x{:02x}", ch as u32));
        }
    }
    out
}

/// A regular expression matching `value` whole, ignoring case (ASCII and single-character case
/// pairs such as `ü`/`Ü`), for the envelope fields, whose terms keep the case they were sent in.
fn case_insensitive_regex(value: &str) -> String {
    let mut out = String::new();
    for ch in value.chars() {
        let (mut lower, mut upper) = (ch.to_lowercase(), ch.to_uppercase());
        match (lower.next(), lower.next(), upper.next(), upper.next()) {
            (Some(l), None, Some(u), None) if l != u => {
                out.push('[');
                out.push_str(&escape_regex_bytes(l.to_string().as_bytes()));
                out.push_str(&escape_regex_bytes(u.to_string().as_bytes()));
                out.push(']');
            }
            _ => out.push_str(&escape_regex_bytes(ch.to_string().as_bytes())),
        }
    }
    out
}

impl Translator<'_> {
    /// `value` as the envelope's host, service or tenant, ignoring case: a pivot without a field
    /// follows a host name to the events that host sent too, whose JSON may not name it (a
    /// sender that gives `?host=` only).
    pub fn envelope_value(&self, value: &str) -> Result<Q, LogError> {
        let parts = [Field::Host, Field::Service, Field::Tenant]
            .iter()
            .map(|field| self.pivot_field_value(field, value))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(any_of(parts))
    }

    /// `value` whole in the envelope's `field` (host, service or tenant), ignoring case, as a
    /// pivot follows a value; for other fields, [`Translator::field_value`].
    pub fn pivot_field_value(&self, field: &Field, value: &str) -> Result<Q, LogError> {
        match field {
            Field::Service | Field::Host | Field::Tenant => {
                let value = value.trim();
                if value.is_empty() || value.len() > crate::store::MAX_ENVELOPE_BYTES {
                    return Ok(Box::new(EmptyQuery));
                }
                regex_query(&case_insensitive_regex(value), self.envelope(field))
            }
            _ => self.field_value(field, value),
        }
    }

    /// The query for an expression (the whole-window restriction is added by the caller).
    pub fn query(&self, expr: &Expr) -> Result<Q, LogError> {
        Ok(match expr {
            Expr::All => Box::new(AllQuery),
            Expr::And(children) => all_of(
                children
                    .iter()
                    .map(|c| self.query(c))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Or(children) => any_of(
                children
                    .iter()
                    .map(|c| self.query(c))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Not(child) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery) as Q),
                (Occur::MustNot, self.query(child)?),
            ])),
            Expr::Match { field: None, value }
            | Expr::Phrase {
                field: None,
                text: value,
            } => self.free_text(value)?,
            Expr::Match {
                field: Some(field),
                value,
            }
            | Expr::Phrase {
                field: Some(field),
                text: value,
            } => self.field_value(field, value)?,
            Expr::Wildcard {
                field: None,
                pattern,
            } => {
                let lower = pattern.to_lowercase().to_regex();
                any_of(vec![
                    regex_query(&lower, self.fields.text)?,
                    self.any_path_text(&lower)?,
                ])
            }
            Expr::Wildcard {
                field: Some(field),
                pattern,
            } => self.wildcard(field, pattern)?,
            Expr::Range {
                field,
                lower,
                upper,
            } => self.range(field, lower, upper)?,
            Expr::Exists(field) => match field {
                Field::Service | Field::Time => Box::new(AllQuery),
                Field::Host | Field::Tenant => {
                    let f = self.envelope(field);
                    Box::new(BooleanQuery::new(vec![
                        (Occur::Must, Box::new(AllQuery) as Q),
                        (Occur::MustNot, term(Term::from_field_text(f, ""))),
                    ]))
                }
                Field::Json(path) => Box::new(ExistsQuery::new(format!("body.{path}"), true)),
            },
        })
    }

    fn envelope(&self, field: &Field) -> TField {
        match field {
            Field::Service => self.fields.service,
            Field::Host => self.fields.host,
            Field::Tenant => self.fields.tenant,
            _ => self.fields.time,
        }
    }

    /// Free text: the words next to each other in some value, or the whole value. Also what a
    /// pivot on any field looks for: an IP inside a syslog message is as much a trace of it as
    /// an IP in a `source.ip` field.
    pub fn free_text(&self, text: &str) -> Result<Q, LogError> {
        let words = self.words(text);
        let mut parts: Vec<Q> = Vec::new();
        // An IPv6 address of one word (`::1`, `fe80::`) is looked for whole only: its word
        // alone (`1`) stands in far more texts than the address.
        let one_word_address = text.trim().parse::<std::net::Ipv6Addr>().is_ok();
        match words.len() {
            0 => {}
            1 if one_word_address => {}
            1 => parts.push(term(Term::from_field_text(self.fields.text, &words[0]))),
            _ => parts.push(Box::new(PhraseQuery::new(
                words
                    .iter()
                    .map(|w| Term::from_field_text(self.fields.text, w))
                    .collect(),
            ))),
        }
        // Values that are one word are not in `text` (see `Fields::document`): they are found
        // whole, under their path — the text as written, and its one word without the
        // punctuation around it (`error.` and `"ERROR:"` find the value `ERROR`, as they find
        // the word in a longer text).
        parts.push(self.any_field_value(text)?);
        if let [word] = words.as_slice()
            && !one_word_address
            && *word != vigil_query::lowercase(text.trim())
        {
            parts.push(self.any_field_value(word)?);
        }
        Ok(any_of(parts))
    }

    /// `value` as the whole value of any JSON path, as `path:value` would find it under each:
    /// the text, and the number or boolean it spells, each with one automaton over every
    /// path's terms.
    pub fn any_field_value(&self, value: &str) -> Result<Q, LogError> {
        let lower = vigil_query::lowercase(value);
        // Values longer than `MAX_KEYWORD` are not indexed whole (their words are, as text).
        let mut parts = Vec::new();
        if lower.len() <= MAX_KEYWORD {
            parts.push(self.any_path_text(&escape_regex_bytes(lower.as_bytes()))?);
        }
        // The typed terms of a placeholder path, less the path: what follows any path.
        let suffixes = self
            .json_typed_terms("p", value)
            .iter()
            .map(|t| t.serialized_value_bytes()[1..].to_vec())
            .collect();
        if let Some(automaton) = AnyPathValue::new(suffixes) {
            parts.push(Box::new(AutomatonQuery {
                field: self.fields.body,
                automaton: Arc::new(automaton),
            }));
        }
        Ok(any_of(parts))
    }

    /// The text terms of any JSON path whose lowercased value matches `value_regex`: one
    /// automaton over the term dictionary (`path \0 s value`), however many paths it holds.
    fn any_path_text(&self, value_regex: &str) -> Result<Q, LogError> {
        let mut marker = self.json_term("p");
        marker.append_type_and_str("");
        // The serialised term is `p`, the end of the path and the text type.
        let after_path = escape_regex_bytes(&marker.serialized_value_bytes()[1..]);
        let regex = format!("[^\\x00]*{after_path}{value_regex}");
        regex_query(&regex, self.fields.body)
    }

    fn words(&self, text: &str) -> Vec<String> {
        let Some(mut analyzer) = self.index.tokenizers().get(WORDS) else {
            return Vec::new();
        };
        let mut stream = analyzer.token_stream(text);
        let mut words = Vec::new();
        while stream.advance() {
            words.push(stream.token().text.clone());
        }
        words
    }

    fn json_term(&self, path: &str) -> Term {
        Term::from_field_json_path(self.fields.body, path, true)
    }

    /// `field:value`: the whole value equals it (case-insensitive for JSON text), or the number,
    /// boolean or time it spells.
    pub fn field_value(&self, field: &Field, value: &str) -> Result<Q, LogError> {
        Ok(match field {
            Field::Service | Field::Host | Field::Tenant => {
                term(Term::from_field_text(self.envelope(field), value))
            }
            Field::Time => {
                let t = vigil_query::parse_time(value).ok_or_else(|| {
                    LogError::Unsupported(format!(
                        "`{value}` is not a time: write time:2026-01-31T12:00:00Z or a range time:[now-1h TO now]"
                    ))
                })?;
                let t = t.resolve(self.now);
                self.time_range(StdBound::Included(t), StdBound::Included(t))
            }
            Field::Json(path) => self.json_value(path, value),
        })
    }

    /// `path:value` for a JSON path: the text, and the number, boolean or time it spells (an
    /// RFC 3339 string is kept as a date, which its text finds only through this).
    fn json_value(&self, path: &str, value: &str) -> Q {
        let mut text = self.json_term(path);
        text.append_type_and_str(&vigil_query::lowercase(value));
        let mut parts = vec![term(text)];
        parts.extend(self.json_typed_terms(path, value).into_iter().map(term));
        if let Some(date) = json_date(value) {
            let mut t = self.json_term(path);
            t.append_type_and_fast_value(date);
            parts.push(Box::new(RangeQuery::new(
                StdBound::Included(t.clone()),
                StdBound::Included(t),
            )));
        }
        any_of(parts)
    }

    /// The number or boolean `value` spells, as terms of `path` (none when it spells neither):
    /// a number in each type the index may keep it as, exactly ([`Number`]).
    fn json_typed_terms(&self, path: &str, value: &str) -> Vec<Term> {
        let mut terms = Vec::new();
        let mut push = |set: &dyn Fn(&mut Term)| {
            let mut t = self.json_term(path);
            set(&mut t);
            terms.push(t);
        };
        // An integer, or a decimal that is one (`1000.0`, `1e3`), as Tantivy keeps a whole
        // JSON decimal: an i64 if it fits, else a u64.
        let integer = match Number::parse(value) {
            Some(Number::Int(n)) => Some(n),
            // A whole f64 this large is exact in i128.
            Some(Number::Float(x)) if x.fract() == 0.0 && x.abs() < 1e38 => Some(x as i128),
            Some(Number::Float(x)) => {
                push(&|t| t.append_type_and_fast_value(x));
                None
            }
            None => None,
        };
        if let Some(n) = integer {
            if let Ok(i) = i64::try_from(n) {
                push(&|t| t.append_type_and_fast_value(i));
            }
            if let Ok(u) = u64::try_from(n) {
                push(&|t| t.append_type_and_fast_value(u));
            }
            if n.unsigned_abs() > u128::from(WIDEST_EXACT_INTEGER) {
                // Kept as its decimal text ([`integers_as_text`]), however the query writes it.
                push(&|t| t.append_type_and_str(&n.to_string()));
            }
            // A JSON decimal beyond u64 (`1e20`) is kept as the f64, and found by the integer
            // it is exactly: an integer beyond u64 that no f64 is (18446744073709551617) is
            // kept as its text, and would find its f64 neighbours.
            if n.unsigned_abs() <= u128::from(WIDEST_EXACT_INTEGER)
                || (i64::try_from(n).is_err()
                    && u64::try_from(n).is_err()
                    && (n as f64) as i128 == n)
            {
                push(&|t| t.append_type_and_fast_value(n as f64));
            }
        }
        // Booleans, whatever the case the query writes them in.
        for b in [true, false] {
            if value.eq_ignore_ascii_case(if b { "true" } else { "false" }) {
                push(&|t| t.append_type_and_fast_value(b));
            }
        }
        terms
    }

    fn wildcard(&self, field: &Field, pattern: &Wildcard) -> Result<Q, LogError> {
        Ok(match field {
            Field::Service | Field::Host | Field::Tenant => {
                regex_query(&pattern.to_regex(), self.envelope(field))?
            }
            Field::Time => {
                return Err(LogError::Unsupported(
                    "wildcards do not apply to time: write a range, e.g. time:[2026-01-01 TO 2026-01-02}"
                        .into(),
                ));
            }
            Field::Json(path) => {
                // The automaton runs over whole serialised terms: the JSON path, the type byte
                // of strings, then the lower-cased value.
                let mut prefix = self.json_term(path);
                prefix.append_type_and_str("");
                let regex = format!(
                    "{}{}",
                    escape_regex_bytes(prefix.serialized_value_bytes()),
                    pattern.to_lowercase().to_regex()
                );
                regex_query(&regex, self.fields.body)?
            }
        })
    }

    fn range(&self, field: &Field, lower: &Bound, upper: &Bound) -> Result<Q, LogError> {
        if let Field::Time = field {
            let time = |b: &Bound| match b {
                Bound::Unbounded => Ok(StdBound::Unbounded),
                Bound::Inclusive(Scalar::Time(t)) => Ok(StdBound::Included(t.resolve(self.now))),
                Bound::Exclusive(Scalar::Time(t)) => Ok(StdBound::Excluded(t.resolve(self.now))),
                _ => Err(LogError::Unsupported(
                    "a range on time takes times at both ends, e.g. time:[2026-01-01 TO now-1h]"
                        .into(),
                )),
            };
            return Ok(self.time_range(time(lower)?, time(upper)?));
        }
        // Each typed interpretation of the bounds becomes one range query.
        let mut kinds: Vec<BoundTerm<'_>> = Vec::new();
        let mut parts: Vec<Q> = Vec::new();
        match field {
            Field::Time => {}
            Field::Service | Field::Host | Field::Tenant => {
                let f = self.envelope(field);
                kinds.push(Box::new(move |s| {
                    Some(Term::from_field_text(f, &scalar_text(s)))
                }));
            }
            Field::Json(path) if matches!((lower, upper), (Bound::Unbounded, Bound::Unbounded)) => {
                return Ok(Box::new(ExistsQuery::new(format!("body.{path}"), true)));
            }
            Field::Json(path) => {
                // Numbers are compared exactly, in the type of each segment's number column
                // ([`NumberRange`]), and so are numbers written as text ([`NumericText`]).
                if let (Some(lower), Some(upper)) = (number_bound(lower), number_bound(upper)) {
                    let mut prefix = self.json_term(path);
                    prefix.append_type_and_str("");
                    parts.push(Box::new(AutomatonQuery {
                        field: self.fields.body,
                        automaton: Arc::new(NumericText {
                            prefix: prefix.serialized_value_bytes().to_vec(),
                            lower,
                            upper,
                        }),
                    }));
                    parts.push(Box::new(NumberRange {
                        column: format!("body.{path}"),
                        path: self.json_term(path),
                        lower,
                        upper,
                    }));
                }
                // Tantivy keeps RFC 3339 strings of a JSON body as dates in the fast column.
                kinds.push(Box::new(move |s| {
                    let Scalar::Time(v) = s else { return None };
                    let mut t = self.json_term(path);
                    t.append_type_and_fast_value(to_tdate(v.resolve(self.now)));
                    Some(t)
                }));
                // Text in byte order; ranges run on the fast column, which keeps the original
                // case. A time bound compares times only: `ts:>2026-01-01` found "unknown".
                kinds.push(Box::new(move |s| {
                    let Scalar::Text(text) = s else { return None };
                    let mut t = self.json_term(path);
                    t.append_type_and_str(text);
                    Some(t)
                }));
                // RFC 3339 text the index could not keep as a date (before 1677, after 2262).
                if let (Some(lower), Some(upper)) = (self.time_bound(lower), self.time_bound(upper))
                {
                    let mut prefix = self.json_term(path);
                    prefix.append_type_and_str("");
                    parts.push(Box::new(AutomatonQuery {
                        field: self.fields.body,
                        automaton: Arc::new(TimeText {
                            prefix: prefix.serialized_value_bytes().to_vec(),
                            lower,
                            upper,
                        }),
                    }));
                }
            }
        }
        for kind in &kinds {
            let map = |b: &Bound| -> Option<StdBound<Term>> {
                Some(match b {
                    Bound::Unbounded => StdBound::Unbounded,
                    Bound::Inclusive(s) => StdBound::Included(kind(s)?),
                    Bound::Exclusive(s) => StdBound::Excluded(kind(s)?),
                })
            };
            let (Some(lo), Some(hi)) = (map(lower), map(upper)) else {
                continue;
            };
            if matches!((&lo, &hi), (StdBound::Unbounded, StdBound::Unbounded)) {
                return Ok(match field {
                    Field::Json(path) => Box::new(ExistsQuery::new(format!("body.{path}"), true)),
                    _ => Box::new(AllQuery),
                });
            }
            parts.push(Box::new(RangeQuery::new(lo, hi)));
        }
        if parts.is_empty() {
            return Err(LogError::Unsupported(format!(
                "the range on {field} mixes kinds of values: give both ends as numbers, times or text"
            )));
        }
        Ok(any_of(parts))
    }

    /// A range's end as a time, when it is one (or open).
    fn time_bound(&self, bound: &Bound) -> Option<StdBound<DateTime<Utc>>> {
        Some(match bound {
            Bound::Unbounded => StdBound::Unbounded,
            Bound::Inclusive(Scalar::Time(t)) => StdBound::Included(t.resolve(self.now)),
            Bound::Exclusive(Scalar::Time(t)) => StdBound::Excluded(t.resolve(self.now)),
            _ => return None,
        })
    }

    /// The window restriction on the envelope time.
    pub fn window(&self, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<Q> {
        if from.is_none() && to.is_none() {
            return None;
        }
        let lo = from.map_or(StdBound::Unbounded, StdBound::Included);
        let hi = to.map_or(StdBound::Unbounded, StdBound::Excluded);
        Some(self.time_range(lo, hi))
    }

    /// Events whose envelope time is within the bounds, to the millisecond: a range over the
    /// `order` keys ([`order_key`]), which hold each event's time in milliseconds. (The `time`
    /// column's terms are whole seconds: a window from an event's own time left it out.)
    ///
    /// Each bound stands for the millisecond that holds it, the precision events are searched
    /// at: `time:…00.123456Z` is every event of millisecond .123, the one stamped exactly so
    /// included, and `time:>=…00.1234Z` takes in .123 too. (Rounded up, a lower bound with
    /// sub-millisecond digits left out the events of its millisecond, an exact time too.)
    fn time_range(&self, lo: StdBound<DateTime<Utc>>, hi: StdBound<DateTime<Utc>>) -> Q {
        // Milliseconds since 1970 of the millisecond that holds `t`.
        let ms = |t: &DateTime<Utc>| t.timestamp_millis();
        // The first key of events of millisecond `ms` or later; `None` past every key.
        let key = |ms: i64| {
            let ms = u64::try_from(ms.max(0)).unwrap_or(0);
            (ms <= (u64::MAX >> SEQ_BITS)).then_some(ms << SEQ_BITS)
        };
        let term = |k: u64| Term::from_field_u64(self.fields.order, k);
        let lower = match &lo {
            StdBound::Unbounded => Some(StdBound::Unbounded),
            StdBound::Included(t) => key(ms(t)).map(|k| StdBound::Included(term(k))),
            StdBound::Excluded(t) => key(ms(t) + 1).map(|k| StdBound::Included(term(k))),
        };
        let upper = match &hi {
            StdBound::Unbounded => StdBound::Unbounded,
            StdBound::Included(t) => {
                key(ms(t) + 1).map_or(StdBound::Unbounded, |k| StdBound::Excluded(term(k)))
            }
            StdBound::Excluded(t) => {
                key(ms(t)).map_or(StdBound::Unbounded, |k| StdBound::Excluded(term(k)))
            }
        };
        match (lower, upper) {
            // From past every time there is: nothing.
            (None, _) => Box::new(tantivy::query::EmptyQuery),
            (Some(StdBound::Unbounded), StdBound::Unbounded) => Box::new(AllQuery),
            (Some(lower), upper) => Box::new(RangeQuery::new(lower, upper)),
        }
    }
}

/// A range's end as a number, when it is one (or open).
fn number_bound(bound: &Bound) -> Option<StdBound<Number>> {
    let number = |s: &Scalar| match s {
        Scalar::Int(n) => Some(Number::Int(*n)),
        Scalar::Float(x) => Some(Number::Float(*x)),
        Scalar::Time(_) | Scalar::Text(_) => None,
    };
    Some(match bound {
        Bound::Unbounded => StdBound::Unbounded,
        Bound::Inclusive(s) => StdBound::Included(number(s)?),
        Bound::Exclusive(s) => StdBound::Excluded(number(s)?),
    })
}

fn scalar_text(s: &Scalar) -> String {
    match s {
        Scalar::Int(n) => n.to_string(),
        Scalar::Float(x) => x.to_string(),
        Scalar::Time(t) => format!("{t:?}"),
        Scalar::Text(t) => t.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_values_are_matched_whole_ignoring_case() {
        let regex = |value: &str| {
            tantivy_fst::Regex::new(&case_insensitive_regex(value)).expect("the regex compiles")
        };
        let matches = |r: &tantivy_fst::Regex, text: &str| {
            use tantivy_fst::Automaton;
            let mut state = r.start();
            for b in text.bytes() {
                state = r.accept(&state, b);
            }
            r.is_match(&state)
        };
        let web = regex("Web-01.example");
        for (text, expected) in [
            ("web-01.example", true),
            ("WEB-01.EXAMPLE", true),
            ("web-01xexample", false),
            ("web-01.example.org", false),
            ("web-0", false),
        ] {
            assert_eq!(matches(&web, text), expected, "{text}");
        }
        let zurich = regex("Zürich (1)");
        assert!(matches(&zurich, "ZÜRICH (1)") && matches(&zurich, "zürich (1)"));
        assert!(!matches(&zurich, "zurich (1)"));
    }

    /// Numbers compare by their values, exactly: integers beyond 2^53 against the decimals
    /// nearest them, and the integers and decimals within a range's ends.
    #[test]
    fn numbers_compare_and_bound_exactly() {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let n = |text: &str| Number::parse(text).expect(text);
        for (a, b, order) in [
            ("1", "1.0", Equal),
            ("1.5", "1", Greater),
            ("-1.5", "-1", Less),
            ("9007199254740993", "9007199254740993.0", Equal),
            ("9007199254740992", "9.007199254740992e15", Equal),
            // The decimal nearest 9007199254740993 is …992.
            ("9007199254740993", "9.007199254740993e15", Greater),
            ("18446744073709551615", "1.8446744073709552e19", Less),
            ("-9223372036854775809", "-9223372036854775808", Less),
            ("1e300", "170141183460469231731687303715884105727", Greater),
            ("-1e300", "-170141183460469231731687303715884105728", Less),
        ] {
            assert_eq!(n(a).cmp(n(b)), order, "{a} against {b}");
            assert_eq!(n(b).cmp(n(a)), order.reverse(), "{b} against {a}");
        }
        assert_eq!(Number::parse("12.000"), Some(Number::Int(12)));
        assert_eq!(Number::parse("-0.0"), Some(Number::Int(0)));
        assert_eq!(Number::parse("2xx"), None);
        let inc = |t: &str| StdBound::Included(n(t));
        let exc = |t: &str| StdBound::Excluded(n(t));
        for (bound, least, greatest) in [
            (inc("1.6"), 2, 1),
            (exc("1.6"), 2, 1),
            (inc("2"), 2, 2),
            (exc("2"), 3, 1),
            (inc("-1.5"), -1, -2),
            (exc("-1.0"), 0, -2),
        ] {
            assert_eq!(Number::least_integer(&bound), Some(least), "{bound:?}");
            assert_eq!(
                Number::greatest_integer(&bound),
                Some(greatest),
                "{bound:?}"
            );
        }
        // An integer no f64 is: the nearest f64 on the range's side.
        let odd = "9007199254740993";
        assert_eq!(Number::least_float(&inc(odd)), 9_007_199_254_740_994.0);
        assert_eq!(Number::greatest_float(&inc(odd)), 9_007_199_254_740_992.0);
        assert_eq!(Number::least_float(&exc("2")), 2.0_f64.next_up());
        assert_eq!(Number::greatest_float(&exc("2.5")), 2.5_f64.next_down());
        assert_eq!(Number::least_float(&inc("2.5")), 2.5);
    }

    /// Every leaf of `value` with its path, as Tantivy receives it, in a set order.
    fn leaves<'a, V: tantivy::schema::Value<'a>>(value: V, path: &str, out: &mut Vec<String>) {
        match value.as_value() {
            ReferenceValue::Leaf(leaf) => out.push(format!("{path} = {leaf:?}")),
            ReferenceValue::Array(items) => {
                items.for_each(|v| leaves(v, &format!("{path}[]"), out))
            }
            ReferenceValue::Object(entries) => {
                entries.for_each(|(k, v)| leaves(v, &format!("{path}.{k}"), out))
            }
        }
    }

    /// The sonic-rs reading gives Tantivy the leaves its own `serde_json::Value` reading gave
    /// (the one the index was written with before): the same types, dates and texts.
    #[test]
    fn a_json_event_reaches_the_index_as_tantivy_reads_serde_json() {
        let events = [
            r#"{"@timestamp":"2026-11-30T10:00:00Z","user":{"name":"alice","id":42},"n":-7}"#,
            r#"{"big":18446744073709551615,"neg":-9223372036854775808,"f":1.5,"e":1e3,"z":0}"#,
            r#"{"t":"2026-11-30T10:00:00.123456+02:00","not_time":"2026-13-45","d":"7 days"}"#,
            r#"{"list":[1,"two",{"three":3.25},[true,null]],"empty":{},"none":[],"b":false}"#,
            r#"{"esc":"line\nbreak \"quoted\" \u00e9\u4e2d","Event":{"System":{"EventID":4688}}}"#,
            r#"{"huge":123456789012345678901234567890,"tiny":1e-300,"zero_f":0.0}"#,
        ];
        for event in events {
            let serde: serde_json::Value = serde_json::from_str(event).unwrap();
            let sonic: sonic_rs::Value = sonic_rs::from_str(event).unwrap();
            let (mut want, mut got) = (Vec::new(), Vec::new());
            leaves(&serde, "", &mut want);
            leaves(Json(&sonic), "", &mut got);
            want.sort();
            got.sort();
            assert_eq!(got, want, "{event}");
        }
        // Numbers other than unsigned integers are spelled for free text as serde_json did.
        for number in [
            "-7",
            "1.5",
            "1e3",
            "1e-300",
            "0.0",
            "-9223372036854775808",
            "2.5E10",
        ] {
            let serde: serde_json::Number = serde_json::from_str(number).unwrap();
            let sonic: sonic_rs::Number = sonic_rs::from_str(number).unwrap();
            assert_eq!(sonic.to_string(), serde.to_string(), "{number}");
        }
    }

    /// An XML element object is given Tantivy twice under its key: as the object (its
    /// `#text` and `#attributes` paths) and as its `#text` value, in an object or a list;
    /// other objects, and a `#text` that is an object, are given once.
    #[test]
    fn an_xml_element_is_also_its_text_under_its_key() {
        let event = r##"{"EventID":{"#attributes":{"Qualifiers":16384},"#text":7045},"Data":{"#text":["a","b"]},"List":[{"#attributes":{"Name":"x"},"#text":"v"},3],"Provider":{"#attributes":{"Name":"SCM"}},"Odd":{"#text":{"k":1}}}"##;
        let sonic: sonic_rs::Value = sonic_rs::from_str(event).unwrap();
        let mut got = Vec::new();
        leaves(Json(&sonic), "", &mut got);
        got.sort();
        let want = [
            r#".Data.#text[] = Str("a")"#,
            r#".Data.#text[] = Str("b")"#,
            r#".Data[] = Str("a")"#,
            r#".Data[] = Str("b")"#,
            r#".EventID = I64(7045)"#,
            r#".EventID.#attributes.Qualifiers = I64(16384)"#,
            r#".EventID.#text = I64(7045)"#,
            r#".List[] = I64(3)"#,
            r#".List[] = Str("v")"#,
            r#".List[].#attributes.Name = Str("x")"#,
            r#".List[].#text = Str("v")"#,
            r#".Odd.#text.k = I64(1)"#,
            r#".Provider.#attributes.Name = Str("SCM")"#,
        ];
        assert_eq!(got, want);
    }
}
