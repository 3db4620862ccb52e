//! A pivot's one pass over its hits ([`PivotCollector`]): the count, the counts per service,
//! host and tenant, the first and last times, the timeline and the newest events, each read
//! from the fast columns of the hit.
//!
//! Why not Tantivy's aggregations: they build generic buckets for every hit, and the timeline
//! needed a second pass over the hits because its bucket width depends on the first and last
//! times. A pivot on a common value (a host, a user: millions of events) spent most of its
//! time there. Here a hit costs a few column reads and counter increments, and the timeline
//! is counted at the resolution of the span seen so far (see [`Timeline`]), so one pass gives
//! the buckets of the whole span. The counts per value are exact, where Tantivy's terms
//! aggregation keeps only each segment's largest.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::Weight;
use tantivy::{COLLECT_BLOCK_BUFFER_LEN, DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::index::{collect_live_segment, order_millis};
use crate::terms::{Block, Ranking, Source, add_named_counts, ranked};

/// How many hosts a pivot lists, largest counts first. Services and tenants are listed whole:
/// they are an incident's scope, which must be traced in full (the seed's "all impacted
/// services and tenants"); hosts can be many more, and are counted all the same.
const PIVOT_TOP_HOSTS: usize = 100;

/// The coarsest resolution a timeline counts at, in milliseconds: a day divides every bucket
/// width [`bucket_seconds`] gives from a day up (a week, 30 days, a year).
const COARSEST_MS: i64 = 86_400_000;

/// A bucket width giving at most ~200 points over the span.
fn bucket_seconds(span_seconds: i64) -> i64 {
    const STEPS: [i64; 10] = [
        1, 10, 60, 300, 900, 3_600, 21_600, 86_400, 604_800, 2_592_000,
    ];
    STEPS
        .into_iter()
        .find(|s| span_seconds / s <= 200)
        .unwrap_or(31_536_000)
}

/// Adds `counts` to `into` in points of `width` milliseconds (starts at multiples of it since
/// 1970).
fn add_in_points(into: &mut HashMap<i64, u64>, counts: HashMap<i64, u64>, width: i64) {
    for (at, count) in counts {
        *into.entry(at.div_euclid(width) * width).or_default() += count;
    }
}

/// Event counts over time, counted in one pass without knowing the span beforehand: at the
/// resolution of the span seen so far (see [`Timeline::widen`]), so it holds a few hundred
/// points whatever the number of events, and gives the buckets a second pass over the events,
/// with the width of the whole span, would have.
#[derive(Debug, Clone, Default)]
pub(crate) struct Timeline {
    /// Milliseconds of the oldest and the newest time counted.
    span: Option<(i64, i64)>,
    resolution: i64,
    /// The span from which the resolution is coarser: until then a longer span changes nothing.
    coarser_at: i64,
    points: HashMap<i64, u64>,
    /// The point being counted and its count so far: hits of a segment come in storage order,
    /// nearly time order, so most only add to it.
    run: Option<(i64, u64)>,
}

impl Timeline {
    /// Milliseconds of the oldest and the newest time counted.
    pub(crate) fn span(&self) -> Option<(i64, i64)> {
        self.span
    }

    /// Counts an event at `millis` since 1970.
    pub(crate) fn add(&mut self, millis: i64) {
        match self.span {
            Some((first, last)) if first <= millis && millis <= last => {}
            Some((first, last)) => {
                let span = (first.min(millis), last.max(millis));
                self.span = Some(span);
                if span.1 - span.0 >= self.coarser_at {
                    self.widen(span);
                }
            }
            None => self.widen((millis, millis)),
        }
        // Most hits fall in the point being counted: no division for them.
        if let Some((at, count)) = &mut self.run
            && millis >= *at
            && millis - *at < self.resolution
        {
            *count += 1;
            return;
        }
        let point = millis.div_euclid(self.resolution) * self.resolution;
        if let Some((at, count)) = self.run.replace((point, 1)) {
            *self.points.entry(at).or_default() += count;
        }
    }

    /// Takes `span` as the span counted, and counts at its bucket width up to a day. As the
    /// span grows the width only grows, and each width up to a day divides the next (1 s, 10 s,
    /// 1 min, 5 min, 15 min, 1 h, 6 h, 1 day), so points counted at an earlier resolution fall
    /// whole into the later one's: counting coarser as the span grows is exact.
    fn widen(&mut self, span: (i64, i64)) {
        self.span = Some(span);
        let width = bucket_seconds((span.1 - span.0) / 1_000) * 1_000;
        // The width holds while the span is shorter than 201 widths (see `bucket_seconds`).
        self.coarser_at = if width >= COARSEST_MS {
            i64::MAX
        } else {
            201 * width
        };
        let resolution = width.min(COARSEST_MS);
        if resolution != self.resolution {
            self.flush();
            self.resolution = resolution;
            let finer = std::mem::take(&mut self.points);
            add_in_points(&mut self.points, finer, resolution);
        }
    }

    fn flush(&mut self) {
        if let Some((at, count)) = self.run.take() {
            *self.points.entry(at).or_default() += count;
        }
    }

    /// Adds `other`'s counts (another segment's) to these.
    pub(crate) fn merge(&mut self, mut other: Timeline) {
        let Some((first, last)) = other.span else {
            return;
        };
        other.flush();
        let span = match self.span {
            Some((f, l)) => (f.min(first), l.max(last)),
            None => (first, last),
        };
        self.widen(span);
        self.flush();
        add_in_points(&mut self.points, other.points, self.resolution);
    }

    /// The bucket width for the span, in seconds, and the counts in buckets of it, oldest
    /// first, as (start in milliseconds since 1970, count); buckets start at multiples of the
    /// width since 1970, as Tantivy's and Elasticsearch's date histograms do.
    pub(crate) fn buckets(mut self) -> (i64, Vec<(i64, u64)>) {
        self.flush();
        let Some((first, last)) = self.span else {
            return (bucket_seconds(0), Vec::new());
        };
        let width_seconds = bucket_seconds((last - first) / 1_000);
        let width = width_seconds * 1_000;
        let mut buckets = HashMap::new();
        add_in_points(&mut buckets, self.points, width);
        let mut buckets: Vec<(i64, u64)> = buckets.into_iter().collect();
        buckets.sort_unstable();
        (width_seconds, buckets)
    }
}

/// What a pivot's pass found (see the module's doc).
#[derive(Debug)]
pub(crate) struct PivotHits {
    pub total: u64,
    /// The hits' times (and their first and last, [`Timeline::span`]).
    pub timeline: Timeline,
    /// Per service, host and tenant, the largest counts first: every service and tenant, the
    /// hosts with the largest counts ([`PIVOT_TOP_HOSTS`]).
    pub by_service: Vec<(String, u64)>,
    pub by_host: Vec<(String, u64)>,
    pub by_tenant: Vec<(String, u64)>,
    /// How many hosts carried it, listed or not.
    pub hosts: u64,
    /// The newest hits, newest first: their `order` key and address.
    pub newest: Vec<(u64, DocAddress)>,
}

/// Collects [`PivotHits`] over the fast columns `order`, `service`, `host` and `tenant` of the
/// schema (`index::schema`).
pub(crate) struct PivotCollector {
    /// How many of the newest hits to keep.
    pub newest: usize,
}

/// A pivot's pass over the hits of one segment.
pub(crate) struct PivotSegment {
    segment: SegmentOrdinal,
    order: Column<u64>,
    /// The service, host and tenant columns, counting their values (see `terms::Source`).
    envelope: [Vec<Source>; 3],
    total: u64,
    timeline: Timeline,
    newest_kept: usize,
    newest: BinaryHeap<Reverse<(u64, DocId)>>,
    /// Column values of the block of hits being collected.
    orders: [Option<u64>; COLLECT_BLOCK_BUFFER_LEN],
    block: Block,
}

/// What [`PivotSegment`] found in its segment, the counts by value.
pub(crate) struct SegmentHits {
    total: u64,
    timeline: Timeline,
    /// The service, host and tenant columns with their counts, named in the merge.
    envelope: [Vec<Source>; 3],
    newest: Vec<(u64, DocAddress)>,
}

impl Collector for PivotCollector {
    type Fruit = PivotHits;
    type Child = PivotSegment;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<PivotSegment> {
        let fast = reader.fast_fields();
        Ok(PivotSegment {
            segment,
            order: fast.u64("order")?,
            envelope: [
                Source::open_all(reader, "service", true)?,
                Source::open_all(reader, "host", true)?,
                Source::open_all(reader, "tenant", true)?,
            ],
            total: 0,
            timeline: Timeline::default(),
            newest_kept: self.newest,
            newest: BinaryHeap::with_capacity(self.newest + 1),
            orders: [None; COLLECT_BLOCK_BUFFER_LEN],
            block: Block::default(),
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
    ) -> tantivy::Result<SegmentHits> {
        collect_live_segment(self, weight, segment_ord, reader)
    }

    fn merge_fruits(&self, segments: Vec<SegmentHits>) -> tantivy::Result<PivotHits> {
        let mut total = 0;
        let mut timeline = Timeline::default();
        let mut envelope: [HashMap<String, u64>; 3] = Default::default();
        let mut newest = Vec::new();
        for hits in segments {
            total += hits.total;
            timeline.merge(hits.timeline);
            for (counts, sources) in envelope.iter_mut().zip(&hits.envelope) {
                add_named_counts(sources, counts)?;
            }
            newest.extend(hits.newest);
        }
        newest.sort_unstable_by_key(|&(order, address)| (Reverse(order), address));
        newest.truncate(self.newest);
        let [services, hosts, tenants] = envelope;
        let rank = |counts: HashMap<String, u64>, top| {
            ranked(counts.into_iter().collect(), top, Ranking::MostFrequent)
        };
        let host_count = hosts.len() as u64;
        let by_service = rank(services, usize::MAX);
        let by_host = rank(hosts, PIVOT_TOP_HOSTS);
        let by_tenant = rank(tenants, usize::MAX);
        Ok(PivotHits {
            total,
            timeline,
            by_service,
            by_host,
            by_tenant,
            hosts: host_count,
            newest,
        })
    }
}

impl SegmentCollector for PivotSegment {
    type Fruit = SegmentHits;

    fn collect(&mut self, doc: DocId, _: Score) {
        self.collect_block(&[doc]);
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        for docs in docs.chunks(COLLECT_BLOCK_BUFFER_LEN) {
            self.total += docs.len() as u64;
            let orders = &mut self.orders[..docs.len()];
            orders.fill(None);
            self.order.first_vals(docs, orders);
            for (&doc, order) in docs.iter().zip(orders.iter()) {
                let Some(order) = *order else { continue };
                self.timeline.add(order_millis(order));
                if self.newest.len() < self.newest_kept {
                    self.newest.push(Reverse((order, doc)));
                } else if self.newest.peek().is_some_and(|Reverse((o, _))| order > *o) {
                    self.newest.pop();
                    self.newest.push(Reverse((order, doc)));
                }
            }
            for source in self.envelope.iter_mut().flatten() {
                source.count(docs, &mut self.block);
            }
        }
    }

    fn harvest(self) -> SegmentHits {
        let segment = self.segment;
        SegmentHits {
            total: self.total,
            timeline: self.timeline,
            envelope: self.envelope,
            newest: self
                .newest
                .into_iter()
                .map(|Reverse((order, doc))| (order, DocAddress::new(segment, doc)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The buckets of `times` (milliseconds) counted one by one over their whole span, as a
    /// date histogram with that width gives them.
    fn expected(times: &[i64]) -> (i64, Vec<(i64, u64)>) {
        let (first, last) = (times.iter().min().unwrap(), times.iter().max().unwrap());
        let width_seconds = bucket_seconds((last - first) / 1_000);
        let width = width_seconds * 1_000;
        let mut buckets = std::collections::BTreeMap::new();
        for t in times {
            *buckets.entry(t.div_euclid(width) * width).or_insert(0) += 1;
        }
        (width_seconds, buckets.into_iter().collect())
    }

    fn counted(times: &[i64]) -> Timeline {
        let mut timeline = Timeline::default();
        for &t in times {
            timeline.add(t);
        }
        timeline
    }

    /// Spans from seconds to decades, before 1970 too.
    fn spans() -> Vec<Vec<i64>> {
        [
            (1_700_000_000_000_i64, 7, 5_000),
            (1_700_000_000_123, 997, 3_000),
            (1_700_000_000_000, 61_001, 4_000),
            (1_600_000_000_000, 3_600_017, 6_000),
            (-86_400_000 * 400, 86_400_013, 900),
            (0, 86_400_000 * 30 + 5, 500),
        ]
        .into_iter()
        .map(|(start, step, n)| (0..n).map(|i| start + i * step).collect())
        .collect()
    }

    #[test]
    fn a_timeline_counted_as_its_span_grows_gives_the_buckets_of_the_whole_span() {
        for times in spans() {
            assert_eq!(counted(&times).buckets(), expected(&times), "in time order");
            // Newest first, and from the middle outwards: the span grows at both ends.
            let reversed: Vec<i64> = times.iter().rev().copied().collect();
            assert_eq!(
                counted(&reversed).buckets(),
                expected(&times),
                "newest first"
            );
            let middle = times.len() / 2;
            let outwards: Vec<i64> = (0..times.len())
                .map(|i| {
                    if i % 2 == 0 {
                        times[middle + i / 2]
                    } else {
                        times[middle - 1 - i / 2]
                    }
                })
                .collect();
            assert_eq!(counted(&outwards).buckets(), expected(&times), "outwards");
            let (first, last) = (times[0], times[times.len() - 1]);
            assert_eq!(counted(&outwards).span(), Some((first, last)));
        }
        assert_eq!(Timeline::default().buckets(), (1, Vec::new()));
    }

    #[test]
    fn timelines_of_segments_merge_into_the_timeline_of_all() {
        for times in spans() {
            let (a, b) = (times.len() / 5, times.len() / 2);
            // Segments of different spans (so counted at different resolutions), in any order.
            let mut merged = counted(&times[a..b]);
            merged.merge(counted(&times[b..]));
            merged.merge(Timeline::default());
            merged.merge(counted(&times[..a]));
            assert_eq!(merged.buckets(), expected(&times));
            let mut into_empty = Timeline::default();
            into_empty.merge(counted(&times));
            assert_eq!(into_empty.buckets(), expected(&times));
        }
    }
}
