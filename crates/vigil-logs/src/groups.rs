//! Counts per combination of values for `| count by A, B`, `| top N A, B` and `| rare N A, B`
//! ([`GroupCounter`]): failed logins per user and source address, requests per service and
//! status.
//!
//! Each segment counts the combinations its hits hold, keyed by column entries (an event with
//! two values of A and one of B holds two combinations; a value named twice in an event counts
//! once; an event without some field holds none, and is counted as missing in the same pass).
//! The merge names the entries in sweeps of each
//! column's dictionary and adds up the combinations named alike over the segments (`"200"` and
//! `200` alike, as for one field, see the `terms` module; an event holding both counts once).
//! Every combination is kept, so the counts are exact and the ranking settled; a query whose
//! segments hold more than [`MAX_GROUPS`] distinct combinations is refused instead (the memory
//! it would take), and the store says how to narrow it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rustc_hash::FxHashMap;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::Weight;
use tantivy::{COLLECT_BLOCK_BUFFER_LEN, DocId, Score, SegmentOrdinal, SegmentReader};
use vigil_query::MAX_GROUP_FIELDS;

use crate::index::collect_live_segment;
use crate::terms::{Block, Ranking, Source, ranked};

/// The most distinct combinations counted over all segments (~100 bytes each while counting).
pub(crate) const MAX_GROUPS: usize = 2_000_000;

/// Up to this many possible combinations in a segment (the product of its fields' numbers of
/// values), they are counted in a table indexed by the entries instead of a hash map: several
/// times faster for `count by service, host` and the like.
const DENSE_COMBINATIONS: u64 = 1 << 18;

/// Counts the combinations of values of several fast columns over the hits, and gives the
/// `size` most frequent.
pub(crate) struct GroupCounter {
    columns: Vec<String>,
    size: usize,
    ranking: Ranking,
    max_groups: usize,
    /// [`DENSE_COMBINATIONS`], other values in tests.
    dense_combinations: u64,
    /// Combinations counted so far, over all segments.
    kept: Arc<AtomicUsize>,
}

impl GroupCounter {
    /// `columns`: two to [`MAX_GROUP_FIELDS`] fast columns.
    pub(crate) fn new(columns: Vec<String>, size: usize, ranking: Ranking) -> GroupCounter {
        GroupCounter {
            columns,
            size,
            ranking,
            max_groups: MAX_GROUPS,
            dense_combinations: DENSE_COMBINATIONS,
            kept: Arc::default(),
        }
    }
}

/// What [`GroupCounter`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct CountedGroups {
    /// Hits counted (with or without the fields).
    pub total: u64,
    /// Hits holding no combination: without a value of one of the fields or more.
    pub missing: u64,
    /// Hits holding combinations, none of them listed. Exact when every combination is listed
    /// (0) or no event holds several; otherwise an estimate from below: it is worked out from
    /// the listed counts, which count an event once per listed combination it holds.
    pub other: u64,
    /// The most frequent combinations (a value per column) with their exact counts, largest
    /// first, ties by values.
    pub groups: Vec<(Vec<String>, u64)>,
    /// More than the most combinations counted were found: `groups` is empty.
    pub too_many: bool,
}

/// A combination in a segment: per field, the index of its column and the entry in it; the
/// fields beyond those counted are `(0, 0)`.
type Key = [(u8, u64); MAX_GROUP_FIELDS];

/// The counting of one segment.
pub(crate) struct SegmentGroups {
    total: u64,
    /// Hits holding a value of every field (one combination or more).
    grouped: u64,
    /// Per field, its columns.
    fields: Vec<Vec<Source>>,
    /// Fx: the key is hashed for every hit, and SipHash made it half of the pass.
    counts: FxHashMap<Key, u32>,
    /// With one column per field and few possible combinations: the counts by the index
    /// `Σ (entry - least) × stride` instead of `counts`.
    dense: Option<Dense>,
    too_many: bool,
    max_groups: usize,
    kept: Arc<AtomicUsize>,
    block: Block,
    /// Each field has one column and at most one value per event: the fields' blocks are
    /// aligned by document directly ([`SegmentGroups::count_single_values`]).
    single_values: bool,
    /// Per field, its block (when `single_values`).
    blocks: Vec<Block>,
    /// Per field, the (document, column, entry) of the block being counted, by document.
    values: Vec<Vec<(DocId, u8, u64)>>,
    /// A column that could not be read while counting: the aggregation fails with it.
    failure: Option<std::io::Error>,
}

impl Collector for GroupCounter {
    type Fruit = CountedGroups;
    type Child = SegmentGroups;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentGroups> {
        let fields = self
            .columns
            .iter()
            .map(|column| Source::open_all(reader, column, false))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(SegmentGroups {
            total: 0,
            grouped: 0,
            values: vec![Vec::new(); fields.len()],
            single_values: fields
                .iter()
                .all(|sources| matches!(sources.as_slice(), [one] if !one.is_multivalued())),
            blocks: fields.iter().map(|_| Block::default()).collect(),
            dense: Dense::fit(&fields, self.dense_combinations),
            fields,
            counts: FxHashMap::default(),
            too_many: false,
            max_groups: self.max_groups,
            kept: self.kept.clone(),
            block: Block::default(),
            failure: None,
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
    ) -> tantivy::Result<SegmentGroups> {
        collect_live_segment(self, weight, segment_ord, reader)
    }

    fn merge_fruits(&self, segments: Vec<SegmentGroups>) -> tantivy::Result<CountedGroups> {
        let total = segments.iter().map(|s| s.total).sum();
        let grouped: u64 = segments.iter().map(|s| s.grouped).sum();
        if segments.iter().any(|s| s.too_many) {
            return Ok(CountedGroups {
                total,
                too_many: true,
                ..CountedGroups::default()
            });
        }
        let mut totals: HashMap<Vec<String>, u64> = HashMap::new();
        for segment in segments {
            if let Some(e) = segment.failure {
                return Err(e.into());
            }
            segment.add_named(&mut totals)?;
        }
        let every_group_listed = totals.len() <= self.size;
        let groups = ranked(totals.into_iter().collect(), self.size, self.ranking);
        let listed: u64 = groups.iter().map(|(_, count)| count).sum();
        Ok(CountedGroups {
            total,
            missing: total - grouped,
            other: if every_group_listed {
                0
            } else {
                grouped.saturating_sub(listed)
            },
            groups,
            too_many: false,
        })
    }
}

impl SegmentCollector for SegmentGroups {
    type Fruit = SegmentGroups;

    fn collect(&mut self, doc: DocId, _: Score) {
        self.collect_block(&[doc]);
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        for docs in docs.chunks(COLLECT_BLOCK_BUFFER_LEN) {
            self.total += docs.len() as u64;
            if !self.too_many {
                self.count(docs);
            }
        }
    }

    fn harvest(self) -> SegmentGroups {
        self
    }
}

impl SegmentGroups {
    fn count(&mut self, docs: &[DocId]) {
        if self.single_values {
            self.count_single_values(docs);
            return;
        }
        for (sources, values) in self.fields.iter().zip(&mut self.values) {
            values.clear();
            for (column, source) in sources.iter().enumerate() {
                source.read(docs, &mut self.block);
                values.extend(
                    self.block
                        .docs
                        .iter()
                        .zip(&self.block.entries)
                        .map(|(&doc, &entry)| (doc, column as u8, entry)),
                );
            }
            // By document, and a value named twice in an event once (one column with a value
            // per event is so already).
            if sources.len() > 1 || sources.iter().any(Source::is_multivalued) {
                values.sort_unstable();
                values.dedup();
            }
            if sources.len() > 1
                && let Err(e) = keep_one_spelling(sources, values)
            {
                self.failure = Some(e);
            }
        }
        let fields = self.fields.len();
        let mut next = [0; MAX_GROUP_FIELDS];
        for &doc in docs {
            // Each field's values of this document: `values[f][start[f]..end[f]]`.
            let (mut start, mut end) = ([0; MAX_GROUP_FIELDS], [0; MAX_GROUP_FIELDS]);
            for f in 0..fields {
                let values = &self.values[f];
                // Mostly one value per field: a scan, not a search.
                start[f] = next[f];
                end[f] = start[f];
                while end[f] < values.len() && values[end[f]].0 == doc {
                    end[f] += 1;
                }
                next[f] = end[f];
            }
            if (0..fields).any(|f| start[f] == end[f]) {
                continue;
            }
            self.grouped += 1;
            // Every combination of them, as an odometer over the fields' values.
            let mut at = start;
            loop {
                let mut key: Key = [(0, 0); MAX_GROUP_FIELDS];
                for f in 0..fields {
                    let (_, column, entry) = self.values[f][at[f]];
                    key[f] = (column, entry);
                }
                if !self.add(key) {
                    return;
                }
                let Some(f) = (0..fields).rev().find(|&f| at[f] + 1 < end[f]) else {
                    break;
                };
                at[f] += 1;
                at[f + 1..fields].copy_from_slice(&start[f + 1..fields]);
            }
        }
    }

    /// [`SegmentGroups::count`] when each field has one column and at most one value per event:
    /// no (document, column, entry) lists to build and sort, the fields' blocks are walked side
    /// by side (`count by service, host` in about half the time).
    fn count_single_values(&mut self, docs: &[DocId]) {
        // Taken out while counting, which needs `self` mutably.
        let mut blocks = std::mem::take(&mut self.blocks);
        for (sources, block) in self.fields.iter().zip(&mut blocks) {
            sources[0].read(docs, block);
        }
        if let Some((first, others)) = blocks.split_first() {
            let mut at = [0; MAX_GROUP_FIELDS];
            'docs: for (&doc, &entry) in first.docs.iter().zip(&first.entries) {
                let mut key: Key = [(0, 0); MAX_GROUP_FIELDS];
                key[0] = (0, entry);
                for ((block, at), part) in others.iter().zip(&mut at).zip(&mut key[1..]) {
                    while *at < block.docs.len() && block.docs[*at] < doc {
                        *at += 1;
                    }
                    if *at == block.docs.len() || block.docs[*at] != doc {
                        continue 'docs;
                    }
                    *part = (0, block.entries[*at]);
                }
                self.grouped += 1;
                if !self.add(key) {
                    break;
                }
            }
        }
        self.blocks = blocks;
    }

    /// Counts a combination; false once more than the most combinations are counted.
    fn add(&mut self, key: Key) -> bool {
        if let Some(dense) = &mut self.dense {
            dense.add(&key);
            return true;
        }
        if let Some(count) = self.counts.get_mut(&key) {
            *count += 1;
            return true;
        }
        if self.kept.fetch_add(1, Ordering::Relaxed) >= self.max_groups {
            self.too_many = true;
            self.counts = FxHashMap::default();
            return false;
        }
        self.counts.insert(key, 1);
        true
    }

    /// The combinations counted, with their counts.
    fn counted(&self) -> Box<dyn Iterator<Item = (Key, u32)> + '_> {
        match &self.dense {
            Some(dense) => Box::new(dense.counted()),
            None => Box::new(self.counts.iter().map(|(key, count)| (*key, *count))),
        }
    }

    /// Adds this segment's counts to `totals`, by the values the combinations name.
    fn add_named(&self, totals: &mut HashMap<Vec<String>, u64>) -> std::io::Result<()> {
        // Per field, the name of each (column, entry) the combinations use.
        let mut names: Vec<HashMap<(u8, u64), String>> = Vec::with_capacity(self.fields.len());
        for (f, sources) in self.fields.iter().enumerate() {
            let mut named = HashMap::new();
            for (column, source) in sources.iter().enumerate() {
                let column = column as u8;
                let mut entries: Vec<u64> = self
                    .counted()
                    .filter(|(key, _)| key[f].0 == column)
                    .map(|(key, _)| key[f].1)
                    .collect();
                entries.sort_unstable();
                entries.dedup();
                let found = source.names(entries.clone())?;
                named.extend(entries.into_iter().map(|e| (column, e)).zip(found));
            }
            names.push(named);
        }
        for (key, count) in self.counted() {
            let values: Option<Vec<String>> = (0..self.fields.len())
                .map(|f| names[f].get(&key[f]).cloned())
                .collect();
            if let Some(values) = values {
                *totals.entry(values).or_default() += u64::from(count);
            }
        }
        Ok(())
    }
}

/// Drops from `values` (a field's (document, column, entry) of a block, sorted) the entries of
/// a later column that an event already holds in an earlier one under the same name
/// (`["200", 200]`: text and a number), so that the event counts once for the value. Only the
/// events with values in two columns are named (a rare case).
fn keep_one_spelling(
    sources: &[Source],
    values: &mut Vec<(DocId, u8, u64)>,
) -> std::io::Result<()> {
    // Sorted by document and column: an event with values in two columns has them side by side.
    if !values
        .windows(2)
        .any(|w| w[0].0 == w[1].0 && w[0].1 != w[1].1)
    {
        return Ok(());
    }
    let mut kept = Vec::with_capacity(values.len());
    let mut names: Vec<String> = Vec::new();
    let mut start = 0;
    while start < values.len() {
        let doc = values[start].0;
        let end = start + values[start..].partition_point(|v| v.0 == doc);
        let rows = &values[start..end];
        start = end;
        if rows.iter().all(|v| v.1 == rows[0].1) {
            kept.extend_from_slice(rows);
            continue;
        }
        names.clear();
        for &row in rows {
            let (_, column, entry) = row;
            let name = sources[column as usize]
                .names(vec![entry])?
                .pop()
                .unwrap_or_default();
            if !names.contains(&name) {
                names.push(name);
                kept.push(row);
            }
        }
    }
    *values = kept;
    Ok(())
}

/// Counts of combinations in a table indexed by their entries (see [`DENSE_COMBINATIONS`]).
struct Dense {
    fields: usize,
    least: [u64; MAX_GROUP_FIELDS],
    stride: [u64; MAX_GROUP_FIELDS],
    counts: Vec<u32>,
}

impl Dense {
    /// A table for `fields` if each has one column and their combinations are few.
    fn fit(fields: &[Vec<Source>], most: u64) -> Option<Dense> {
        let mut dense = Dense {
            fields: fields.len(),
            least: [0; MAX_GROUP_FIELDS],
            stride: [0; MAX_GROUP_FIELDS],
            counts: Vec::new(),
        };
        let mut size: u64 = 1;
        for (f, sources) in fields.iter().enumerate().rev() {
            let [source] = sources.as_slice() else {
                return None;
            };
            let (least, span) = source.span();
            dense.least[f] = least;
            dense.stride[f] = size;
            size = size.checked_mul(span).filter(|&n| n <= most)?;
        }
        dense.counts = vec![0; size as usize];
        Some(dense)
    }

    fn add(&mut self, key: &Key) {
        let index = (0..self.fields).try_fold(0u64, |index, f| {
            let offset = key[f].1.checked_sub(self.least[f])?;
            index.checked_add(offset.checked_mul(self.stride[f])?)
        });
        if let Some(count) = index.and_then(|i| self.counts.get_mut(i as usize)) {
            *count += 1;
        }
    }

    fn counted(&self) -> impl Iterator<Item = (Key, u32)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(index, &count)| {
                let mut key: Key = [(0, 0); MAX_GROUP_FIELDS];
                let mut rest = index as u64;
                for ((part, least), stride) in key
                    .iter_mut()
                    .zip(self.least)
                    .zip(self.stride)
                    .take(self.fields)
                {
                    *part = (0, least + rest / stride);
                    rest %= stride;
                }
                (key, count)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An index of one segment per list of events (JSON objects), and the counter's answer.
    fn counted(segments: &[Vec<serde_json::Value>], counter: &GroupCounter) -> CountedGroups {
        use tantivy::schema::{JsonObjectOptions, Schema};
        let mut schema = Schema::builder();
        let body = schema.add_json_field("body", JsonObjectOptions::default().set_fast("raw"));
        let index = tantivy::Index::create_in_ram(schema.build());
        let mut writer: tantivy::IndexWriter = index
            .writer_with_num_threads(1, 15_000_000)
            .expect("writer");
        writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        for events in segments {
            for event in events {
                let mut doc = tantivy::TantivyDocument::new();
                doc.add_field_value(body, event);
                writer.add_document(doc).expect("added");
            }
            writer.commit().expect("committed");
        }
        let searcher = index.reader().expect("reader").searcher();
        searcher
            .search(&tantivy::query::AllQuery, counter)
            .expect("counted")
    }

    fn group(values: &[&str], count: u64) -> (Vec<String>, u64) {
        (values.iter().map(|v| v.to_string()).collect(), count)
    }

    #[test]
    fn combinations_are_counted_over_segments_once_per_event() {
        use serde_json::json;
        let segments = vec![
            vec![
                json!({"user": "alice", "ip": "10.0.0.1", "status": 200}),
                json!({"user": "alice", "ip": "10.0.0.1", "status": "200"}),
                json!({"user": ["alice", "bob", "alice"], "ip": "10.0.0.2"}),
                json!({"user": "carol"}),
            ],
            vec![
                json!({"user": "alice", "ip": "10.0.0.1"}),
                json!({"user": "bob", "ip": ["10.0.0.2", "10.0.0.3"]}),
                json!({"ip": "10.0.0.9"}),
            ],
        ];
        for dense_combinations in [0, DENSE_COMBINATIONS] {
            let by = |columns: &[&str], size| GroupCounter {
                dense_combinations,
                ..GroupCounter::new(
                    columns.iter().map(|c| format!("body.{c}")).collect(),
                    size,
                    Ranking::MostFrequent,
                )
            };
            let answer = counted(&segments, &by(&["user", "ip"], 10));
            assert_eq!(answer.total, 7);
            assert!(!answer.too_many);
            // carol without an ip, 10.0.0.9 without a user; every combination listed.
            assert_eq!((answer.missing, answer.other), (2, 0));
            assert_eq!(
                answer.groups,
                vec![
                    group(&["alice", "10.0.0.1"], 3),
                    group(&["bob", "10.0.0.2"], 2),
                    group(&["alice", "10.0.0.2"], 1),
                    group(&["bob", "10.0.0.3"], 1),
                ]
            );
            let top = counted(&segments, &by(&["user", "ip"], 1));
            assert_eq!(top.groups, vec![group(&["alice", "10.0.0.1"], 3)]);
            // The two events of alice or bob at 10.0.0.2 (exact: neither holds the listed one).
            assert_eq!((top.missing, top.other), (2, 2));
            // The text "200" and the number 200 are one value.
            let by_status = counted(&segments, &by(&["ip", "status", "user"], 10));
            assert_eq!(
                by_status.groups,
                vec![group(&["10.0.0.1", "200", "alice"], 2)]
            );
            assert_eq!((by_status.missing, by_status.other), (5, 0));
        }
    }

    /// Each field one column of at most one value per event, some events without one: the
    /// fields' blocks aligned by document, in the table and in the hash map.
    #[test]
    fn fields_of_one_value_per_event_are_aligned_by_document() {
        use serde_json::{Value, json};
        let segments: Vec<Vec<Value>> = (0..3u64)
            .map(|s| {
                (0..200u64)
                    .map(|i| {
                        let n = s * 200 + i;
                        let mut event = serde_json::Map::new();
                        if n % 3 != 0 {
                            event.insert("a".into(), json!(n % 7));
                        }
                        if n % 5 != 0 {
                            event.insert("b".into(), json!(format!("x{}", n % 4)));
                        }
                        Value::Object(event)
                    })
                    .collect()
            })
            .collect();
        let mut by_hand: HashMap<Vec<String>, u64> = HashMap::new();
        let without_one = (0..600u64).filter(|n| n % 3 == 0 || n % 5 == 0).count() as u64;
        for n in (0..600u64).filter(|n| n % 3 != 0 && n % 5 != 0) {
            *by_hand
                .entry(vec![(n % 7).to_string(), format!("x{}", n % 4)])
                .or_default() += 1;
        }
        let by_hand = ranked(by_hand.into_iter().collect(), 100, Ranking::MostFrequent);
        for dense_combinations in [0, DENSE_COMBINATIONS] {
            let counter = GroupCounter {
                dense_combinations,
                ..GroupCounter::new(
                    vec!["body.a".into(), "body.b".into()],
                    100,
                    Ranking::MostFrequent,
                )
            };
            let answer = counted(&segments, &counter);
            assert_eq!((answer.total, &answer.groups), (600, &by_hand));
            assert_eq!((answer.missing, answer.other), (without_one, 0));
        }
    }

    #[test]
    fn too_many_combinations_are_refused_not_counted() {
        use serde_json::json;
        let segments: Vec<Vec<serde_json::Value>> = (0..3)
            .map(|s| (0..10).map(|i| json!({"a": s, "b": i})).collect())
            .collect();
        let mut counter = GroupCounter::new(
            vec!["body.a".into(), "body.b".into()],
            5,
            Ranking::MostFrequent,
        );
        // Counted in a hash map: a table of the 30 possible combinations takes no more memory.
        counter.dense_combinations = 0;
        counter.max_groups = 29;
        let answer = counted(&segments, &counter);
        assert!(answer.too_many);
        assert_eq!((answer.total, answer.groups.len()), (30, 0));
        counter.max_groups = 30;
        counter.kept = Arc::default();
        let answer = counted(&segments, &counter);
        assert!(!answer.too_many);
        assert_eq!(answer.groups.len(), 5);
        assert_eq!(answer.groups[0], group(&["0", "0"], 1));
    }
}
