//! Exact counts per value for `| count by FIELD`, `| top N FIELD` and `| rare N FIELD`
//! ([`ValueCounter`]).
//!
//! Why not Tantivy's terms aggregation: each segment gives it only its most frequent values, so
//! a value frequent overall but not in every segment was undercounted (by up to 2 % for
//! `top 5 source.ip` over 10M events), and the answer could only carry a bound on the error.
//! Here every segment counts every value of its hits per column entry (term ordinal or
//! number), and the merge makes the listed counts exact:
//!
//! - with few distinct values in all (up to [`FULL_MERGE_ENTRIES`] segment entries), every
//!   value is named and added up;
//! - with more, candidates are taken from each segment's most frequent values and counted
//!   exactly in every segment. A value that is no segment's candidate occurs at most the sum of
//!   the segments' first counts left out; once the last value listed occurs at least that often
//!   the list is the true top. Otherwise more candidates are taken, up to a budget; past it
//!   the answer says how often an unlisted value may occur (a field of unique ids, say).
//!   Candidates are named, and counted in each segment, in sweeps of the segments' sorted
//!   dictionaries: a lookup per value, each decoding its dictionary block from the start, made
//!   `count by source.ip` over 10M events take 3 s instead of 0.1 s.
//!
//! The values of a field are merged by how they are written: the text `"200"` and the number
//! `200` count as one value, as a reader of the table would take them, and an event holding
//! both (`["200", 200]`, a column each) counts once for it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;

use chrono::{SecondsFormat, TimeZone, Utc};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{
    Cardinality, Column, ColumnType, ColumnValues, DynamicColumn, MonotonicallyMappableToU64,
    StrColumn,
};
use tantivy::query::Weight;
use tantivy::{COLLECT_BLOCK_BUFFER_LEN, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::index::collect_live_segment;

/// Up to this many (segment, value) entries in all, every value is named and added up.
const FULL_MERGE_ENTRIES: usize = 400_000;

/// The most (segment, value) entries `| rare` names and adds up: the least frequent values
/// cannot be told from a few candidates, so every value is. Past it the query is refused.
pub(crate) const RARE_ENTRIES: usize = 2_000_000;

/// Which end of the ranking an aggregation lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ranking {
    /// `| count by`, `| top`: the largest counts first.
    MostFrequent,
    /// `| rare`: the smallest counts first.
    LeastFrequent,
}

/// Past this many candidate counts (candidates times segment columns), the ranking is given as
/// it stands (with [`CountedValues::unlisted_max`]) instead of taking more candidates.
const LOOKUP_BUDGET: usize = 400_000;

/// Counts the values of a fast column (`service`, or a JSON path such as `body.source.ip`)
/// over the hits, and gives the `size` most frequent.
pub(crate) struct ValueCounter {
    column: String,
    size: usize,
    ranking: Ranking,
    /// [`FULL_MERGE_ENTRIES`], [`LOOKUP_BUDGET`] and [`RARE_ENTRIES`], lower in tests.
    full_merge_entries: usize,
    lookup_budget: usize,
    rare_entries: usize,
}

impl ValueCounter {
    pub(crate) fn new(column: String, size: usize, ranking: Ranking) -> ValueCounter {
        ValueCounter {
            column,
            size,
            ranking,
            full_merge_entries: FULL_MERGE_ENTRIES,
            lookup_budget: LOOKUP_BUDGET,
            rare_entries: RARE_ENTRIES,
        }
    }
}

/// What [`ValueCounter`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct CountedValues {
    /// Hits counted (with or without a value).
    pub total: u64,
    /// Hits holding no value of the field (counted in the same pass as the values).
    pub missing: u64,
    /// The most frequent values with their exact counts, largest first, ties by value.
    pub values: Vec<(String, u64)>,
    /// `Some(n)`: the ranking may be incomplete, a value not listed may occur up to `n` times
    /// (more than the last listed); `None`: the values listed are the most frequent.
    pub unlisted_max: Option<u64>,
    /// `| rare` over more than [`RARE_ENTRIES`]: nothing was ranked.
    pub too_many: bool,
    /// Whether an event may hold several values (an array, or values of several JSON types):
    /// then the counts listed may share events, and the hits less the counts listed are not
    /// the hits left out.
    pub shared: bool,
    /// Every value the hits hold is listed: every hit with a value is counted under one, and
    /// none needs looking for again to tell the hits left out.
    pub every_value_listed: bool,
}

impl CountedValues {
    fn listing(
        values: Vec<(String, u64)>,
        unlisted_max: Option<u64>,
        every_value_listed: bool,
    ) -> CountedValues {
        CountedValues {
            values,
            unlisted_max,
            every_value_listed,
            ..CountedValues::default()
        }
    }
}

/// How the entries of a column are written as values.
enum Kind {
    Str(StrColumn),
    Number(ColumnType),
}

/// Counts per entry of one column of a segment: per term ordinal, or per number (as its
/// order-preserving `u64`) offset by the column's least.
enum Tally {
    Dense { base: u64, counts: Vec<u32> },
    Sparse(HashMap<u64, u32>),
}

impl Tally {
    /// Counts a block of entries (the match on the kind of tally out of the loop).
    fn add_all(&mut self, entries: &[u64]) {
        match self {
            Tally::Dense { base, counts } => {
                for entry in entries {
                    if let Some(count) = entry
                        .checked_sub(*base)
                        .and_then(|i| counts.get_mut(i as usize))
                    {
                        *count += 1;
                    }
                }
            }
            Tally::Sparse(counts) => {
                for &entry in entries {
                    *counts.entry(entry).or_default() += 1;
                }
            }
        }
    }

    /// Takes back one count of `entry` (counted before).
    fn take_back(&mut self, entry: u64) {
        match self {
            Tally::Dense { base, counts } => {
                if let Some(count) = entry
                    .checked_sub(*base)
                    .and_then(|i| counts.get_mut(i as usize))
                {
                    *count = count.saturating_sub(1);
                }
            }
            Tally::Sparse(counts) => {
                if let Some(count) = counts.get_mut(&entry) {
                    *count -= 1;
                    if *count == 0 {
                        counts.remove(&entry);
                    }
                }
            }
        }
    }

    fn get(&self, entry: u64) -> u64 {
        match self {
            Tally::Dense { base, counts } => entry
                .checked_sub(*base)
                .and_then(|i| counts.get(i as usize))
                .map_or(0, |&c| u64::from(c)),
            Tally::Sparse(counts) => counts.get(&entry).map_or(0, |&c| u64::from(c)),
        }
    }

    /// The entries counted at least once, with their counts.
    fn entries(&self) -> Box<dyn Iterator<Item = (u64, u64)> + '_> {
        match self {
            Tally::Dense { base, counts } => Box::new(
                counts
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c > 0)
                    .map(move |(i, &c)| (*base + i as u64, u64::from(c))),
            ),
            Tally::Sparse(counts) => Box::new(counts.iter().map(|(&e, &c)| (e, u64::from(c)))),
        }
    }

    fn distinct(&self) -> usize {
        match self {
            Tally::Dense { counts, .. } => counts.iter().filter(|c| **c > 0).count(),
            Tally::Sparse(counts) => counts.len(),
        }
    }
}

/// One column of the field in one segment (a JSON path can hold text in some events and
/// numbers in others: a column each).
pub(crate) struct Source {
    kind: Kind,
    entries: Column<u64>,
    tally: Tally,
}

impl Source {
    /// The columns of a field (`service`, `body.source.ip`) in a segment.
    pub(crate) fn open_all(
        segment: &SegmentReader,
        field: &str,
        tallied: bool,
    ) -> tantivy::Result<Vec<Source>> {
        let mut sources = Vec::new();
        for handle in segment.fast_fields().dynamic_column_handles(field)? {
            sources.extend(Source::open(&handle, tallied)?);
        }
        Ok(sources)
    }

    /// A column; `tallied`: with room to count its entries ([`Source::count`]).
    fn open(
        handle: &tantivy::columnar::DynamicColumnHandle,
        tallied: bool,
    ) -> std::io::Result<Option<Source>> {
        let kind = match handle.column_type() {
            ColumnType::Str => match handle.open()? {
                DynamicColumn::Str(column) => Kind::Str(column),
                _ => return Ok(None),
            },
            t @ (ColumnType::I64
            | ColumnType::U64
            | ColumnType::F64
            | ColumnType::Bool
            | ColumnType::DateTime) => Kind::Number(t),
            // Not written by the JSON of events.
            ColumnType::Bytes | ColumnType::IpAddr => return Ok(None),
        };
        let Some(entries) = handle.open_u64_lenient()? else {
            return Ok(None);
        };
        let tally = match &kind {
            _ if !tallied => Tally::Sparse(HashMap::new()),
            Kind::Str(column) => Tally::Dense {
                base: 0,
                counts: vec![0; column.num_terms()],
            },
            Kind::Number(_) => {
                let (least, most) = (entries.min_value(), entries.max_value());
                let room = (entries.num_docs() as u64).max(1 << 16);
                if most >= least && most - least < room {
                    Tally::Dense {
                        base: least,
                        counts: vec![0; (most - least + 1) as usize],
                    }
                } else {
                    Tally::Sparse(HashMap::new())
                }
            }
        };
        Ok(Some(Source {
            kind,
            entries,
            tally,
        }))
    }

    /// The least entry and how many entries from it the column's values span: term ordinals
    /// from 0, numbers from the least.
    pub(crate) fn span(&self) -> (u64, u64) {
        match &self.kind {
            Kind::Str(column) => (0, column.num_terms() as u64),
            Kind::Number(_) => {
                let (least, most) = (self.entries.min_value(), self.entries.max_value());
                (least, most.saturating_sub(least).saturating_add(1))
            }
        }
    }

    /// Whether a document may hold several values of this column.
    pub(crate) fn is_multivalued(&self) -> bool {
        self.entries.get_cardinality() == Cardinality::Multivalued
    }

    /// Reads the entries of a block of documents into `block` (`block.docs[i]` holds
    /// `block.entries[i]`; a document with several values comes once per value, in a row).
    pub(crate) fn read(&self, docs: &[DocId], block: &mut Block) {
        block.docs.clear();
        if self.entries.get_cardinality() == Cardinality::Full {
            // A value in every document: rows are documents.
            block.docs.extend_from_slice(docs);
            block.entries.resize(docs.len(), 0);
            self.entries.values.get_vals(docs, &mut block.entries);
            return;
        }
        block.rows.clear();
        self.entries
            .row_ids_for_docs(docs, &mut block.docs, &mut block.rows);
        block.entries.resize(block.rows.len(), 0);
        self.entries
            .values
            .get_vals(&block.rows, &mut block.entries);
    }

    /// Counts the entries of a block of documents, reading the column a block at a time.
    pub(crate) fn count(&mut self, docs: &[DocId], block: &mut Block) {
        self.read(docs, block);
        if !self.is_multivalued() {
            self.tally.add_all(&block.entries);
            return;
        }
        // An event naming a value twice (`["a", "a"]`) is one event with it.
        let mut start = 0;
        while start < block.docs.len() {
            let doc = block.docs[start];
            let end = start + block.docs[start..].partition_point(|&d| d == doc);
            let values = &mut block.entries[start..end];
            values.sort_unstable();
            let mut previous = None;
            for &value in values.iter() {
                if previous != Some(value) {
                    self.tally.add_all(&[value]);
                    previous = Some(value);
                }
            }
            start = end;
        }
    }

    /// How entries are written as values; text ones named in one sweep of the dictionary.
    /// The names come in the order of the entries sorted.
    pub(crate) fn names(&self, mut entries: Vec<u64>) -> io::Result<Vec<String>> {
        Ok(match &self.kind {
            Kind::Str(column) => {
                entries.sort_unstable();
                let mut names = Vec::with_capacity(entries.len());
                column
                    .dictionary()
                    .sorted_ords_to_term_cb(&entries, |bytes| {
                        names.push(String::from_utf8_lossy(bytes).into_owned());
                    })?;
                names
            }
            Kind::Number(t) => entries.into_iter().map(|e| number_name(*t, e)).collect(),
        })
    }

    /// Adds how often each of `names` (sorted, distinct) was counted here to `totals`. Text
    /// values are found in one walk of the dictionary beside the names: a lookup each, from
    /// the start of its dictionary block, cost ten times as much over many names.
    fn add_counts_of(&self, names: &[String], totals: &mut [u64]) -> io::Result<()> {
        match &self.kind {
            Kind::Str(column) => {
                let (Some(first), Some(last)) = (names.first(), names.last()) else {
                    return Ok(());
                };
                let mut terms = column
                    .dictionary()
                    .range()
                    .ge(first.as_bytes())
                    .le(last.as_bytes())
                    .into_stream()?;
                let mut at = 0;
                while at < names.len() && terms.advance() {
                    let key = terms.key();
                    while at < names.len() && names[at].as_bytes() < key {
                        at += 1;
                    }
                    if at < names.len() && names[at].as_bytes() == key {
                        totals[at] += self.tally.get(terms.term_ord());
                        at += 1;
                    }
                }
            }
            Kind::Number(t) => {
                for (name, total) in names.iter().zip(totals.iter_mut()) {
                    if let Some(entry) = number_entry(*t, name) {
                        *total += self.tally.get(entry);
                    }
                }
            }
        }
        Ok(())
    }

    /// Every value counted here with its count, named in one sweep of the dictionary.
    fn named_entries(&self, mut each: impl FnMut(String, u64)) -> io::Result<()> {
        match &self.kind {
            Kind::Str(column) => {
                let (ords, counts): (Vec<u64>, Vec<u64>) = self.tally.entries().unzip();
                let mut counts = counts.into_iter();
                // Ordinals come in order from a dense tally.
                column.dictionary().sorted_ords_to_term_cb(&ords, |bytes| {
                    if let Some(count) = counts.next() {
                        each(String::from_utf8_lossy(bytes).into_owned(), count);
                    }
                })?;
            }
            Kind::Number(t) => {
                for (entry, count) in self.tally.entries() {
                    each(number_name(*t, entry), count);
                }
            }
        }
        Ok(())
    }

    /// The entries of this column that `names` name, as [`Source::names`] names them, sorted.
    fn entries_named(&self, names: &[String]) -> io::Result<Vec<u64>> {
        let mut entries = Vec::new();
        for name in names {
            let entry = match &self.kind {
                Kind::Str(column) => column.dictionary().term_ord(name.as_bytes())?,
                Kind::Number(t) => number_entry(*t, name),
            };
            entries.extend(entry);
        }
        entries.sort_unstable();
        entries.dedup();
        Ok(entries)
    }

    /// The `k` entries counted most here, and the largest count of the others (0 if none).
    fn most_counted(&self, k: usize) -> (Vec<u64>, u64) {
        let mut heap: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::with_capacity(k + 2);
        for (entry, count) in self.tally.entries() {
            if heap.len() <= k {
                heap.push(Reverse((count, entry)));
            } else if heap.peek().is_some_and(|Reverse((c, _))| count > *c) {
                heap.pop();
                heap.push(Reverse((count, entry)));
            }
        }
        let left_out = if heap.len() > k {
            heap.pop().map_or(0, |Reverse((c, _))| c)
        } else {
            0
        };
        (
            heap.into_iter().map(|Reverse((_, e))| e).collect(),
            left_out,
        )
    }
}

/// How many documents a sorted list of them names (a document with several values comes once
/// per value, in a row).
fn distinct_docs(docs: &[DocId]) -> u64 {
    let repeats = docs.windows(2).filter(|pair| pair[0] == pair[1]).count();
    (docs.len() - repeats) as u64
}

/// A number as a value: integers without a fraction, times in RFC 3339.
fn number_name(t: ColumnType, entry: u64) -> String {
    match t {
        ColumnType::I64 => i64::from_u64(entry).to_string(),
        ColumnType::F64 => {
            let x = f64::from_u64(entry);
            if x.fract() == 0.0 && x.abs() < 9e15 {
                (x as i64).to_string()
            } else {
                x.to_string()
            }
        }
        ColumnType::Bool => bool::from_u64(entry).to_string(),
        ColumnType::DateTime => {
            let nanos = tantivy::DateTime::from_u64(entry).into_timestamp_nanos();
            Utc.timestamp_nanos(nanos)
                .to_rfc3339_opts(SecondsFormat::AutoSi, true)
        }
        _ => entry.to_string(),
    }
}

/// The entry of a number column written `name` ([`number_name`] read back).
fn number_entry(t: ColumnType, name: &str) -> Option<u64> {
    match t {
        ColumnType::I64 => name.parse::<i64>().ok().map(i64::to_u64),
        ColumnType::U64 => name.parse::<u64>().ok(),
        ColumnType::F64 => name.parse::<f64>().ok().map(f64::to_u64),
        ColumnType::Bool => name.parse::<bool>().ok().map(bool::to_u64),
        ColumnType::DateTime => chrono::DateTime::parse_from_rfc3339(name)
            .ok()
            .and_then(|t| t.timestamp_nanos_opt())
            .map(|n| tantivy::DateTime::from_timestamp_nanos(n).to_u64()),
        _ => None,
    }
}

/// The counting of one segment.
pub(crate) struct SegmentCounter {
    total: u64,
    /// Hits holding a value in some column.
    valued: u64,
    sources: Vec<Source>,
    /// The block each source read last (one per source: a field of several columns compares
    /// them, see [`SegmentCounter::take_back_repeats`]).
    blocks: Vec<Block>,
    /// A column that could not be read while counting: the aggregation fails with it.
    failure: Option<io::Error>,
    /// The documents of every column's block together, for a field of several columns (see
    /// [`SegmentCounter::count_valued`]).
    valued_docs: Vec<DocId>,
}

/// A block of documents read from a column: the documents with values, their rows and entries.
#[derive(Default)]
pub(crate) struct Block {
    pub docs: Vec<DocId>,
    rows: Vec<u32>,
    pub entries: Vec<u64>,
}

impl Block {
    /// The entries of `doc`, if it has values here, looked for from row `at` on, which is left
    /// at the first row of a later document (documents come in order: a walk beside another
    /// block's).
    fn entries_from(&self, at: &mut usize, doc: DocId) -> Option<&[u64]> {
        while *at < self.docs.len() && self.docs[*at] < doc {
            *at += 1;
        }
        let start = *at;
        while *at < self.docs.len() && self.docs[*at] == doc {
            *at += 1;
        }
        (*at > start).then(|| &self.entries[start..*at])
    }
}

/// A segment's counts, kept with its columns so that the merge can name and look up values.
pub(crate) struct SegmentCounts {
    total: u64,
    valued: u64,
    sources: Vec<Source>,
    failure: Option<io::Error>,
}

impl Collector for ValueCounter {
    type Fruit = CountedValues;
    type Child = SegmentCounter;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentCounter> {
        let sources = Source::open_all(reader, &self.column, true)?;
        Ok(SegmentCounter {
            total: 0,
            valued: 0,
            blocks: sources.iter().map(|_| Block::default()).collect(),
            sources,
            failure: None,
            valued_docs: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    /// Hits in blocks (see `index::collect_live_segment`).
    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment_ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentCounts> {
        collect_live_segment(self, weight, segment_ord, reader)
    }

    fn merge_fruits(&self, segments: Vec<SegmentCounts>) -> tantivy::Result<CountedValues> {
        let total = segments.iter().map(|s| s.total).sum();
        let missing = segments.iter().map(|s| s.total - s.valued).sum();
        let mut sources: Vec<Source> = Vec::new();
        let mut shared = false;
        for segment in segments {
            if let Some(e) = segment.failure {
                return Err(e.into());
            }
            shared |=
                segment.sources.len() > 1 || segment.sources.iter().any(Source::is_multivalued);
            sources.extend(segment.sources);
        }
        Ok(CountedValues {
            total,
            missing,
            shared,
            ..self.most_frequent(&sources)?
        })
    }
}

impl SegmentCollector for SegmentCounter {
    type Fruit = SegmentCounts;

    fn collect(&mut self, doc: DocId, _: Score) {
        self.collect_block(&[doc]);
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        for docs in docs.chunks(COLLECT_BLOCK_BUFFER_LEN) {
            self.total += docs.len() as u64;
            for (source, block) in self.sources.iter_mut().zip(&mut self.blocks) {
                source.count(docs, block);
            }
            self.count_valued();
            if self.sources.len() > 1 {
                self.take_back_repeats();
            }
        }
    }

    fn harvest(self) -> SegmentCounts {
        SegmentCounts {
            total: self.total,
            valued: self.valued,
            sources: self.sources,
            failure: self.failure,
        }
    }
}

impl SegmentCounter {
    /// Counts the documents of the blocks just read that hold a value in some column: the
    /// hits without the field are the rest, told apart from those whose values go unlisted
    /// without a second pass.
    fn count_valued(&mut self) {
        self.valued += match self.blocks.as_slice() {
            [] => 0,
            [block] => distinct_docs(&block.docs),
            blocks => {
                self.valued_docs.clear();
                for block in blocks {
                    self.valued_docs.extend_from_slice(&block.docs);
                }
                self.valued_docs.sort_unstable();
                distinct_docs(&self.valued_docs)
            }
        };
    }

    /// An event that holds one value in two columns (`["200", 200]`: text and a number) was
    /// counted in each, and the merge adds them up under one name: the count of the later
    /// column is taken back, so that the event counts once. Called for each block when the
    /// field has several columns; only the events with values in two of them are named (a rare
    /// case: most fields have one column, or columns that no event shares).
    fn take_back_repeats(&mut self) {
        let mut earlier_names: Vec<String> = Vec::new();
        for later in 1..self.sources.len() {
            let (before, rest) = self.blocks.split_at(later);
            let block = &rest[0];
            // Each earlier block walked beside this one: documents come in order in all.
            let mut at = vec![0; later];
            let mut row = 0;
            while row < block.docs.len() {
                let doc = block.docs[row];
                let end = row + block.docs[row..].partition_point(|&d| d == doc);
                let rows = row..end;
                row = end;
                earlier_names.clear();
                for ((source, earlier), at) in self.sources[..later].iter().zip(before).zip(&mut at)
                {
                    let Some(entries) = earlier.entries_from(at, doc) else {
                        continue;
                    };
                    match source.names(entries.to_vec()) {
                        Ok(names) => earlier_names.extend(names),
                        Err(e) => self.failure = Some(e),
                    }
                }
                if earlier_names.is_empty() {
                    continue;
                }
                let mut entries = block.entries[rows].to_vec();
                entries.sort_unstable();
                entries.dedup();
                let names = match self.sources[later].names(entries.clone()) {
                    Ok(names) => names,
                    Err(e) => {
                        self.failure = Some(e);
                        continue;
                    }
                };
                for (entry, name) in entries.into_iter().zip(names) {
                    if earlier_names.contains(&name) {
                        self.sources[later].tally.take_back(entry);
                    }
                }
            }
        }
    }
}

impl ValueCounter {
    /// The `size` values counted most (or least) over all sources, and how often an unlisted
    /// value may occur if that could not be settled (see the module's doc).
    fn most_frequent(&self, sources: &[Source]) -> io::Result<CountedValues> {
        let size = self.size;
        let entries: usize = sources.iter().map(|s| s.tally.distinct()).sum();
        let rare = self.ranking == Ranking::LeastFrequent;
        if rare && entries > self.rare_entries {
            return Ok(CountedValues {
                too_many: true,
                ..CountedValues::default()
            });
        }
        if rare || entries <= self.full_merge_entries {
            let mut totals: HashMap<String, u64> = HashMap::new();
            add_named_counts(sources, &mut totals)?;
            let every_value_listed = totals.len() <= size;
            return Ok(CountedValues::listing(
                ranked(totals.into_iter().collect(), size, self.ranking),
                None,
                every_value_listed,
            ));
        }
        let mut totals: HashMap<String, u64> = HashMap::new();
        let mut walked = 0;
        let mut k = (size * 2).max(64);
        loop {
            let mut left_out = 0;
            let mut names = Vec::new();
            for source in sources {
                let (most, rest) = source.most_counted(k);
                left_out += rest;
                names.extend(
                    source
                        .names(most)?
                        .into_iter()
                        .filter(|name| !totals.contains_key(name)),
                );
            }
            names.sort_unstable();
            names.dedup();
            let mut counts = vec![0; names.len()];
            for source in sources {
                source.add_counts_of(&names, &mut counts)?;
            }
            walked += names.len() * sources.len();
            totals.extend(names.into_iter().zip(counts));
            let ranked = ranked(
                totals.iter().map(|(n, c)| (n.clone(), *c)).collect(),
                size,
                Ranking::MostFrequent,
            );
            let last = if ranked.len() < size {
                0
            } else {
                ranked.last().map_or(0, |v| v.1)
            };
            if left_out == 0 || last >= left_out {
                // No value left out of the candidates: `totals` holds them all.
                let every_value_listed = left_out == 0 && totals.len() <= size;
                return Ok(CountedValues::listing(ranked, None, every_value_listed));
            }
            // The next round counts about four times as many candidates as this one.
            if walked * 5 > self.lookup_budget {
                return Ok(CountedValues::listing(ranked, Some(left_out), false));
            }
            k *= 4;
        }
    }
}

/// Counts the hits that hold any of `names` — values as [`ValueCounter`] names them, from the
/// same columns — each hit once however many of them it holds: the events a listing of those
/// values covers, when an event may hold several values (an array, or values of several
/// types). A value is the one the column holds, case and all, as the listing counts it: a
/// lookup of the values as `field:value` ignores case, and made `tags: ["VPN"]` an event of
/// a listed `vpn`.
pub(crate) struct ListedCounter {
    column: String,
    names: Vec<String>,
}

impl ListedCounter {
    pub(crate) fn new(column: String, names: Vec<String>) -> ListedCounter {
        ListedCounter { column, names }
    }
}

/// [`ListedCounter`] in one segment: each column with its entries that are listed values.
pub(crate) struct ListedSegment {
    sources: Vec<(Source, Vec<u64>)>,
    block: Block,
    /// Per document of the block being read, whether it holds a listed value.
    listed: Vec<bool>,
    count: u64,
}

impl Collector for ListedCounter {
    type Fruit = u64;
    type Child = ListedSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<ListedSegment> {
        let mut sources = Vec::new();
        for source in Source::open_all(reader, &self.column, false)? {
            let entries = source.entries_named(&self.names)?;
            if !entries.is_empty() {
                sources.push((source, entries));
            }
        }
        Ok(ListedSegment {
            sources,
            block: Block::default(),
            listed: Vec::new(),
            count: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    /// Hits in blocks (see `index::collect_live_segment`).
    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment_ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<u64> {
        collect_live_segment(self, weight, segment_ord, reader)
    }

    fn merge_fruits(&self, counts: Vec<u64>) -> tantivy::Result<u64> {
        Ok(counts.into_iter().sum())
    }
}

impl SegmentCollector for ListedSegment {
    type Fruit = u64;

    fn collect(&mut self, doc: DocId, _: Score) {
        self.collect_block(&[doc]);
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        if self.sources.is_empty() {
            return;
        }
        self.listed.clear();
        self.listed.resize(docs.len(), false);
        for (source, entries) in &self.sources {
            source.read(docs, &mut self.block);
            for (doc, entry) in self.block.docs.iter().zip(&self.block.entries) {
                if entries.binary_search(entry).is_ok()
                    && let Ok(i) = docs.binary_search(doc)
                {
                    self.listed[i] = true;
                }
            }
        }
        self.count += self.listed.iter().filter(|l| **l).count() as u64;
    }

    fn harvest(self) -> u64 {
        self.count
    }
}

/// Adds the counts of `sources` (columns of one segment or several) to `totals`, by the
/// values the entries name.
pub(crate) fn add_named_counts(
    sources: &[Source],
    totals: &mut HashMap<String, u64>,
) -> io::Result<()> {
    for source in sources {
        source.named_entries(|name, count| *totals.entry(name).or_default() += count)?;
    }
    Ok(())
}

/// The `size` largest counts, largest first (or the smallest, smallest first), ties in the
/// values' order.
pub(crate) fn ranked<V: Ord>(
    mut counts: Vec<(V, u64)>,
    size: usize,
    ranking: Ranking,
) -> Vec<(V, u64)> {
    match ranking {
        Ranking::MostFrequent => {
            counts.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)))
        }
        Ranking::LeastFrequent => {
            counts.sort_unstable_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)))
        }
    }
    counts.truncate(size);
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_named_as_written_and_read_back() {
        let cases = [
            (ColumnType::I64, (-5_i64).to_u64(), "-5"),
            (
                ColumnType::U64,
                18_446_744_073_709_551_615,
                "18446744073709551615",
            ),
            (ColumnType::F64, 200.0_f64.to_u64(), "200"),
            (ColumnType::F64, 0.25_f64.to_u64(), "0.25"),
            (ColumnType::Bool, true.to_u64(), "true"),
            (
                ColumnType::DateTime,
                tantivy::DateTime::from_timestamp_nanos(1_767_225_600_123_000_000).to_u64(),
                "2026-01-01T00:00:00.123Z",
            ),
        ];
        for (t, entry, name) in cases {
            assert_eq!(number_name(t, entry), name);
            assert_eq!(number_entry(t, name), Some(entry), "{name} read back");
        }
        assert_eq!(number_entry(ColumnType::I64, "1.5"), None);
        assert_eq!(number_entry(ColumnType::Bool, "yes"), None);
    }

    /// Counts of value `v{i}` in segment `s`: a long tail, with each segment's most frequent
    /// values elsewhere in the list, so that no segment's top is the overall top.
    fn generated(segments: u64, values: u64) -> Vec<Vec<(String, u64)>> {
        (0..segments)
            .map(|s| {
                (0..values)
                    .map(|i| {
                        let rank = (i * 7 + s * 131) % values;
                        (format!("v{i}"), 1 + 60 / (1 + rank) + (i % 3))
                    })
                    .collect()
            })
            .collect()
    }

    /// An index with one segment per list, each value as the `v` of its count of documents,
    /// and the counter's answer for `top size v`.
    fn counted(
        segments: &[Vec<(String, u64)>],
        counter: &ValueCounter,
    ) -> tantivy::Result<CountedValues> {
        let events: Vec<Vec<serde_json::Value>> = segments
            .iter()
            .map(|segment| {
                segment
                    .iter()
                    .flat_map(|(value, count)| (0..*count).map(move |n| (value, n)))
                    .map(|(value, n)| {
                        // Every third event holds its value twice, and some as a number.
                        let v = match value.strip_prefix('v').map(str::parse::<u64>) {
                            Some(Ok(i)) if i.is_multiple_of(5) && n.is_multiple_of(2) => {
                                serde_json::json!(i)
                            }
                            _ if n.is_multiple_of(3) => serde_json::json!([value, value]),
                            _ => serde_json::json!(value),
                        };
                        serde_json::json!({ "v": v })
                    })
                    .collect()
            })
            .collect();
        counted_events(&events, counter)
    }

    /// An index with one segment per list of events (JSON objects), and the counter's answer.
    fn counted_events(
        segments: &[Vec<serde_json::Value>],
        counter: &ValueCounter,
    ) -> tantivy::Result<CountedValues> {
        use tantivy::schema::{JsonObjectOptions, Schema};
        let mut schema = Schema::builder();
        let body = schema.add_json_field("body", JsonObjectOptions::default().set_fast("raw"));
        let index = tantivy::Index::create_in_ram(schema.build());
        let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 15_000_000)?;
        writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        for events in segments {
            for event in events {
                let mut doc = tantivy::TantivyDocument::new();
                doc.add_field_value(body, event);
                writer.add_document(doc)?;
            }
            writer.commit()?;
        }
        let searcher = index.reader()?.searcher();
        assert_eq!(searcher.segment_readers().len(), segments.len());
        searcher.search(&tantivy::query::AllQuery, counter)
    }

    /// The hits without a value of the field are counted in the same pass as the values, in a
    /// column of one value per event, of several, and over several columns (text and numbers);
    /// a listing of every value says so, however the segments are merged.
    #[test]
    fn hits_without_the_field_are_counted_apart() {
        use serde_json::json;
        let segments = vec![
            vec![
                json!({"v": "a"}),
                json!({"w": "a"}),
                json!({"v": null}),
                json!({"v": "b"}),
            ],
            vec![
                json!({"v": ["a", "b", "a"]}),
                json!({"v": []}),
                json!({"w": 1}),
            ],
            vec![
                json!({"v": 200}),
                json!({"v": "200"}),
                json!({"v": [200, "200"]}),
                json!({}),
            ],
        ];
        for full_merge_entries in [FULL_MERGE_ENTRIES, 0] {
            let counter = |size| ValueCounter {
                full_merge_entries,
                lookup_budget: usize::MAX,
                ..ValueCounter::new("body.v".into(), size, Ranking::MostFrequent)
            };
            let all = counted_events(&segments, &counter(10)).expect("counted");
            assert_eq!(
                (all.total, all.missing, all.every_value_listed),
                (11, 5, true),
                "full merge up to {full_merge_entries}"
            );
            assert_eq!(
                all.values,
                vec![("200".into(), 3), ("a".into(), 2), ("b".into(), 2)]
            );
            let top = counted_events(&segments, &counter(1)).expect("counted");
            assert_eq!(
                (top.total, top.missing, top.every_value_listed, top.shared),
                (11, 5, false, true)
            );
        }
    }

    /// The counts of `segments` added up, largest first, ties by value (numbers named `i`
    /// where the value was `v{i}`).
    fn expected(segments: &[Vec<(String, u64)>]) -> Vec<(String, u64)> {
        let mut totals: HashMap<String, u64> = HashMap::new();
        for (value, count) in segments.iter().flatten() {
            let i: u64 = value[1..].parse().unwrap();
            // The numbers (every other event of values v0, v5 …) are values of their own.
            if i.is_multiple_of(5) {
                *totals.entry(i.to_string()).or_default() += count.div_ceil(2);
                *totals.entry(value.clone()).or_default() += count / 2;
            } else {
                *totals.entry(value.clone()).or_default() += count;
            }
        }
        totals.retain(|_, c| *c > 0);
        ranked(
            totals.into_iter().collect(),
            usize::MAX,
            Ranking::MostFrequent,
        )
    }

    #[test]
    fn every_way_of_merging_gives_the_exact_counts_of_the_most_frequent() {
        let segments = generated(6, 400);
        let all = expected(&segments);
        let events: u64 = segments.iter().flatten().map(|(_, c)| c).sum();
        for size in [1, 5, 10, 50] {
            let truth: Vec<u64> = all.iter().take(size).map(|(_, c)| *c).collect();
            // Every value named and added up; candidates only; candidates within a budget.
            for (full_merge_entries, lookup_budget) in [(FULL_MERGE_ENTRIES, 0), (0, usize::MAX)] {
                let counter = ValueCounter {
                    column: "body.v".into(),
                    size,
                    ranking: Ranking::MostFrequent,
                    full_merge_entries,
                    lookup_budget,
                    rare_entries: RARE_ENTRIES,
                };
                let answer = counted(&segments, &counter).expect("counted");
                assert_eq!(answer.total, events);
                assert_eq!(answer.unlisted_max, None, "size {size}");
                let counts: Vec<u64> = answer.values.iter().map(|(_, c)| *c).collect();
                assert_eq!(
                    counts, truth,
                    "size {size}, full merge up to {full_merge_entries}"
                );
                for (value, count) in &answer.values {
                    assert!(all.contains(&(value.clone(), *count)), "{value}: {count}");
                }
            }
        }
    }

    #[test]
    fn the_rarest_values_come_first_counted_exactly_or_the_query_is_refused() {
        let segments = generated(6, 400);
        let mut rarest = expected(&segments);
        rarest.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        let counter = |rare_entries| ValueCounter {
            full_merge_entries: 0,
            rare_entries,
            ..ValueCounter::new("body.v".into(), 20, Ranking::LeastFrequent)
        };
        let answer = counted(&segments, &counter(RARE_ENTRIES)).expect("counted");
        assert_eq!(
            (answer.values.as_slice(), answer.too_many),
            (&rarest[..20], false)
        );
        let refused = counted(&segments, &counter(100)).expect("counted");
        assert_eq!((refused.values.len(), refused.too_many), (0, true));
    }

    /// Values of one event each, as event ids are: the ranking cannot be settled from a few
    /// candidates.
    #[test]
    fn a_ranking_not_settled_within_the_budget_says_how_often_an_unlisted_value_may_occur() {
        let segments: Vec<Vec<(String, u64)>> = (0..6)
            .map(|s| {
                (0..300)
                    .map(|i| (format!("v{}", s * 1000 + i), 1))
                    .collect()
            })
            .collect();
        let all = expected(&segments);
        let counter = |lookup_budget| ValueCounter {
            column: "body.v".into(),
            size: 10,
            ranking: Ranking::MostFrequent,
            full_merge_entries: 0,
            lookup_budget,
            rare_entries: RARE_ENTRIES,
        };
        let settled = counted(&segments, &counter(usize::MAX)).expect("counted");
        assert_eq!(
            (settled.values.as_slice(), settled.unlisted_max),
            (&all[..10], None)
        );
        let unsettled = counted(&segments, &counter(1)).expect("counted");
        let most = unsettled
            .unlisted_max
            .expect("not settled within the budget");
        assert_eq!(most, 6, "once in each of six segments at most");
        assert_eq!(unsettled.values.len(), 10);
        for (value, count) in &unsettled.values {
            assert!(all.contains(&(value.clone(), *count)), "{value}: {count}");
        }
    }

    #[test]
    fn the_largest_counts_come_first_and_ties_by_value() {
        let counts = vec![
            ("b".to_owned(), 2),
            ("a".to_owned(), 2),
            ("c".to_owned(), 5),
        ];
        assert_eq!(
            ranked(counts.clone(), 10, Ranking::MostFrequent),
            vec![("c".into(), 5), ("a".into(), 2), ("b".into(), 2)]
        );
        assert_eq!(
            ranked(counts, 2, Ranking::LeastFrequent),
            vec![("a".into(), 2), ("b".into(), 2)]
        );
    }

    #[test]
    fn a_dense_tally_ignores_entries_outside_its_range() {
        let mut tally = Tally::Dense {
            base: 10,
            counts: vec![0; 3],
        };
        tally.add_all(&[9, 10, 12]);
        tally.add_all(&[12, 13]);
        assert_eq!(tally.entries().collect::<Vec<_>>(), vec![(10, 1), (12, 2)]);
        assert_eq!((tally.get(12), tally.get(9), tally.distinct()), (2, 0, 2));
    }
}
