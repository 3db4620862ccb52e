//! The queries: who is on call at an instant, the final (merged) schedule over a range, and
//! the gaps in it.
//!
//! Every layer and override is a *source* of segments (non-overlapping intervals, each with one
//! person). Sources are ranked: layers in order, then overrides in order, the last ranked
//! highest. The final timeline is painted from them: at every instant the highest-ranked
//! source that has someone decides. Work is bounded: a range is at most [`MAX_RANGE_DAYS`]
//! long and may produce at most [`MAX_SEGMENTS`] segments, both checked before any is made.

use std::collections::BTreeMap;

use jiff::civil::{Date, Time};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::RangeError;
use crate::model::Day;
use crate::validate::{ValidLayer, ValidSchedule};
use crate::zone::local_to_timestamp;

/// The longest range a timeline query may cover (two years).
pub const MAX_RANGE_DAYS: i64 = 731;
/// The most segments (rotation shifts, restriction windows, overrides) a query may compute:
/// a year of hourly shifts in a hundred layers, or of one-minute shifts in one.
pub const MAX_SEGMENTS: u64 = 1_000_000;

/// What put someone on call.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A rotation layer, by its position in `layers` (0-based) and its name if it has one.
    Layer {
        /// Position in the schedule's `layers`.
        index: usize,
        /// The layer's name, if it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// An override, by its position in `overrides` (0-based).
    Override {
        /// Position in the schedule's `overrides`.
        index: usize,
    },
}

/// The answer to "who is on call at T".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnCall {
    /// Who.
    pub person: String,
    /// The layer or override in effect at T.
    pub source: Source,
    /// When this shift began: the handoff, the opening of a restriction window, the start of
    /// the override, or the moment a higher layer or override stopped covering.
    pub start: Timestamp,
    /// When it ends: the next handoff (even to the same person), the window's close, the
    /// override's end, or the moment a higher layer or override takes over.
    pub end: Timestamp,
}

/// One stretch of the final schedule: one person on call without interruption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    /// Who.
    pub person: String,
    /// Start (inclusive), clipped to the range asked for.
    pub start: Timestamp,
    /// End (exclusive), clipped to the range asked for.
    pub end: Timestamp,
    /// The layers and overrides that made it, in order of first appearance (several when
    /// contiguous shifts of the same person from different sources were merged).
    pub sources: Vec<Source>,
}

/// An interval in which nobody is on call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// Start (inclusive).
    pub start: Timestamp,
    /// End (exclusive).
    pub end: Timestamp,
}

impl OnCall {
    /// The length of the shift.
    pub fn duration(&self) -> SignedDuration {
        self.end.duration_since(self.start)
    }
}

impl Shift {
    /// The length of the shift.
    pub fn duration(&self) -> SignedDuration {
        self.end.duration_since(self.start)
    }
}

impl Gap {
    /// The length of the gap.
    pub fn duration(&self) -> SignedDuration {
        self.end.duration_since(self.start)
    }
}

/// Who is on call for `schedule` at `at`, or `None` when nobody is (a coverage gap).
///
/// The work is bounded by the length of the winning shift, whatever the range of the schedule.
pub fn who_is_on_call(schedule: &ValidSchedule, at: Timestamp) -> Option<OnCall> {
    let n = schedule.source_count();
    let (rank, own) = (0..n)
        .rev()
        .find_map(|rank| schedule.segment_at(rank, at).map(|seg| (rank, seg)))?;
    // Only higher-ranked sources can cut the winner's own segment.
    let mut sources = vec![(rank, vec![own])];
    for higher in rank + 1..n {
        sources.push((higher, schedule.segments(higher, own.start, own.end)));
    }
    let piece = paint(&sources)
        .into_iter()
        .find(|p| p.start <= at && at < p.end)?;
    Some(OnCall {
        person: piece.person.to_owned(),
        source: schedule.source(piece.rank),
        start: piece.start,
        end: piece.end,
    })
}

/// The merged timeline of who is on call from `from` to `to`: contiguous shifts of the same
/// person are merged, shifts are clipped to the range, and gaps are simply absent.
pub fn final_schedule(
    schedule: &ValidSchedule,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Shift>, RangeError> {
    check_range(schedule, from, to)?;
    let mut shifts: Vec<Shift> = Vec::new();
    for p in timeline(schedule, from, to) {
        let source = schedule.source(p.rank);
        match shifts.last_mut() {
            Some(last) if last.person == p.person && last.end == p.start => {
                last.end = p.end;
                if !last.sources.contains(&source) {
                    last.sources.push(source);
                }
            }
            _ => shifts.push(Shift {
                person: p.person.to_owned(),
                start: p.start,
                end: p.end,
                sources: vec![source],
            }),
        }
    }
    Ok(shifts)
}

/// Every interval from `from` to `to` in which nobody is on call, in order.
pub fn coverage_gaps(
    schedule: &ValidSchedule,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Gap>, RangeError> {
    check_range(schedule, from, to)?;
    let mut gaps = Vec::new();
    let mut covered_until = from;
    for p in timeline(schedule, from, to) {
        if p.start > covered_until {
            gaps.push(Gap {
                start: covered_until,
                end: p.start,
            });
        }
        covered_until = p.end;
    }
    if covered_until < to {
        gaps.push(Gap {
            start: covered_until,
            end: to,
        });
    }
    Ok(gaps)
}

fn check_range(schedule: &ValidSchedule, from: Timestamp, to: Timestamp) -> Result<(), RangeError> {
    if to <= from {
        return Err(RangeError::Empty { from, to });
    }
    if to.duration_since(from) > SignedDuration::from_hours(24 * MAX_RANGE_DAYS) {
        return Err(RangeError::TooLong {
            from,
            to,
            max_days: MAX_RANGE_DAYS,
        });
    }
    let estimated = schedule.estimate(from, to);
    if estimated > MAX_SEGMENTS {
        return Err(RangeError::TooManyShifts {
            estimated,
            max: MAX_SEGMENTS,
        });
    }
    Ok(())
}

/// Someone on call from one source over an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seg<'a> {
    start: Timestamp,
    end: Timestamp,
    person: &'a str,
}

/// One stretch of the painted timeline: the source of this rank decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece<'a> {
    start: Timestamp,
    end: Timestamp,
    rank: usize,
    person: &'a str,
}

fn timeline(schedule: &ValidSchedule, from: Timestamp, to: Timestamp) -> Vec<Piece<'_>> {
    let sources: Vec<_> = (0..schedule.source_count())
        .map(|rank| (rank, schedule.segments(rank, from, to)))
        .collect();
    paint(&sources)
}

/// Paints ranked sources into one timeline: at every instant the highest rank that has
/// someone wins. Each source's segments must not overlap one another.
fn paint<'a>(sources: &[(usize, Vec<Seg<'a>>)]) -> Vec<Piece<'a>> {
    // (instant, 0 = end / 1 = start, rank, person): ends sort before starts at one instant.
    let mut events: Vec<(Timestamp, u8, usize, &'a str)> = sources
        .iter()
        .flat_map(|(rank, segs)| {
            segs.iter()
                .flat_map(|s| [(s.start, 1, *rank, s.person), (s.end, 0, *rank, s.person)])
        })
        .collect();
    events.sort_unstable();
    let mut active: BTreeMap<usize, &'a str> = BTreeMap::new();
    let mut pieces = Vec::new();
    let mut current: Option<(usize, &'a str)> = None;
    let mut since = Timestamp::MIN;
    let mut i = 0;
    while i < events.len() {
        let at = events[i].0;
        while let Some(&(t, kind, rank, person)) = events.get(i)
            && t == at
        {
            if kind == 0 {
                active.remove(&rank);
            } else {
                active.insert(rank, person);
            }
            i += 1;
        }
        let top = active.last_key_value().map(|(r, p)| (*r, *p));
        if top != current {
            if let Some((rank, person)) = current {
                pieces.push(Piece {
                    start: since,
                    end: at,
                    rank,
                    person,
                });
            }
            current = top;
            since = at;
        }
    }
    pieces
}

impl ValidSchedule {
    /// Layers rank 0..L, overrides L..L+O.
    fn source_count(&self) -> usize {
        self.layers.len() + self.overrides.len()
    }

    fn source(&self, rank: usize) -> Source {
        match rank.checked_sub(self.layers.len()) {
            None => Source::Layer {
                index: rank,
                name: self.spec.layers[rank].name.clone(),
            },
            Some(index) => Source::Override { index },
        }
    }

    fn segments(&self, rank: usize, from: Timestamp, to: Timestamp) -> Vec<Seg<'_>> {
        match self.layers.get(rank) {
            Some(layer) => layer.segments(from, to),
            None => {
                let o = &self.overrides[rank - self.layers.len()];
                let (start, end) = (o.start.max(from), o.end.min(to));
                if start < end {
                    vec![Seg {
                        start,
                        end,
                        person: &o.person,
                    }]
                } else {
                    Vec::new()
                }
            }
        }
    }

    fn segment_at(&self, rank: usize, at: Timestamp) -> Option<Seg<'_>> {
        match self.layers.get(rank) {
            Some(layer) => layer.segment_at(at),
            None => {
                let o = &self.overrides[rank - self.layers.len()];
                (o.start <= at && at < o.end).then_some(Seg {
                    start: o.start,
                    end: o.end,
                    person: &o.person,
                })
            }
        }
    }

    /// An upper bound on the segments a query over the range makes.
    fn estimate(&self, from: Timestamp, to: Timestamp) -> u64 {
        let layers: u64 = self.layers.iter().map(|l| l.estimate(from, to)).sum();
        layers + self.overrides.len() as u64
    }
}

impl ValidLayer {
    fn end_or_max(&self) -> Timestamp {
        self.end_at.unwrap_or(Timestamp::MAX)
    }

    /// The instant of the `k`-th handoff: `start + k × length` on the local wall clock, placed
    /// by the handoff rule; `None` past the end of the calendar.
    fn handoff(&self, k: i64) -> Option<Timestamp> {
        let secs = self.step_secs.checked_mul(k)?;
        let local = self
            .start
            .checked_add(SignedDuration::from_secs(secs))
            .ok()?;
        local_to_timestamp(&self.zone, local)
    }

    /// The shift `k` with `handoff(k) <= at < handoff(k + 1)`, for `at >= start_at`.
    ///
    /// The local time gives the answer up to a daylight-saving offset; the two loops correct
    /// it (handoffs are monotone, so they end after at most offset / length steps).
    fn shift_index(&self, at: Timestamp) -> i64 {
        let since = self.zone.to_datetime(at).duration_since(self.start);
        let mut k = since.as_secs().div_euclid(self.step_secs).max(0);
        while k > 0 && self.handoff(k).is_none_or(|h| h > at) {
            k -= 1;
        }
        while self.handoff(k + 1).is_some_and(|h| h <= at) {
            k += 1;
        }
        k
    }

    fn person(&self, k: i64) -> &str {
        let n = self.people.len() as i64;
        &self.people[k.rem_euclid(n) as usize]
    }

    fn segments(&self, from: Timestamp, to: Timestamp) -> Vec<Seg<'_>> {
        let (lo, hi) = (from.max(self.start_at), to.min(self.end_or_max()));
        let mut out = Vec::new();
        if lo >= hi {
            return out;
        }
        let mut k = self.shift_index(lo);
        while let Some(start) = self.handoff(k) {
            let end = self.handoff(k + 1).unwrap_or(Timestamp::MAX);
            let (s, e) = (start.max(lo), end.min(hi));
            if s < e {
                out.push(Seg {
                    start: s,
                    end: e,
                    person: self.person(k),
                });
            }
            if end >= hi {
                break;
            }
            k += 1;
        }
        if self.windows.is_empty() {
            out
        } else {
            intersect(&out, &self.window_runs(lo, hi))
        }
    }

    fn segment_at(&self, at: Timestamp) -> Option<Seg<'_>> {
        if at < self.start_at || at >= self.end_or_max() {
            return None;
        }
        let k = self.shift_index(at);
        let start = self.handoff(k)?;
        let end = self
            .handoff(k + 1)
            .unwrap_or(Timestamp::MAX)
            .min(self.end_or_max());
        let person = self.person(k);
        if self.windows.is_empty() {
            return Some(Seg { start, end, person });
        }
        self.window_runs(start, end)
            .into_iter()
            .find(|(s, e)| *s <= at && at < *e)
            .map(|(start, end)| Seg { start, end, person })
    }

    /// The restriction windows from `lo` to `hi`, merged where they touch or overlap, clipped.
    fn window_runs(&self, lo: Timestamp, hi: Timestamp) -> Vec<(Timestamp, Timestamp)> {
        // Two local days of margin either side cover windows past midnight and any offset.
        let first = self
            .zone
            .to_datetime(lo)
            .date()
            .saturating_sub(SignedDuration::from_hours(48));
        let last = self
            .zone
            .to_datetime(hi)
            .date()
            .saturating_add(SignedDuration::from_hours(48));
        let mut runs = Vec::new();
        let mut day: Date = first;
        while day <= last {
            let midnight = day.to_datetime(Time::midnight());
            for w in self
                .windows
                .iter()
                .filter(|w| w.opens_on(Day::of(day.weekday())))
            {
                let open = midnight.checked_add(SignedDuration::from_mins(w.from_min));
                let close = midnight.checked_add(SignedDuration::from_mins(w.from_min + w.len_min));
                let (Ok(open), Ok(close)) = (open, close) else {
                    continue;
                };
                if let (Some(s), Some(e)) = (
                    local_to_timestamp(&self.zone, open),
                    local_to_timestamp(&self.zone, close),
                ) && s < e
                {
                    runs.push((s, e));
                }
            }
            match day.tomorrow() {
                Ok(next) => day = next,
                Err(_) => break,
            }
        }
        runs.sort_unstable();
        let mut merged: Vec<(Timestamp, Timestamp)> = Vec::new();
        for (s, e) in runs {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        merged
            .into_iter()
            .map(|(s, e)| (s.max(lo), e.min(hi)))
            .filter(|(s, e)| s < e)
            .collect()
    }

    fn estimate(&self, from: Timestamp, to: Timestamp) -> u64 {
        let (lo, hi) = (from.max(self.start_at), to.min(self.end_or_max()));
        if lo >= hi {
            return 0;
        }
        let secs = hi.duration_since(lo).as_secs().unsigned_abs();
        let shifts = secs / self.step_secs.unsigned_abs() + 2;
        let windows = (secs / 86_400 + 5) * self.windows.len() as u64;
        shifts + windows
    }
}

/// The parts of `segs` inside `runs`; both sorted and non-overlapping.
fn intersect<'a>(segs: &[Seg<'a>], runs: &[(Timestamp, Timestamp)]) -> Vec<Seg<'a>> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < segs.len() && j < runs.len() {
        let (seg, run) = (segs[i], runs[j]);
        let (s, e) = (seg.start.max(run.0), seg.end.min(run.1));
        if s < e {
            out.push(Seg {
                start: s,
                end: e,
                ..seg
            });
        }
        if seg.end <= run.1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn seg<'a>(start: &str, end: &str, person: &'a str) -> Seg<'a> {
        Seg {
            start: ts(start),
            end: ts(end),
            person,
        }
    }

    #[test]
    fn paint_lets_the_highest_rank_win_and_falls_through() {
        let low = vec![seg("2026-01-01T00:00Z", "2026-01-01T10:00Z", "a")];
        let high = vec![
            seg("2026-01-01T02:00Z", "2026-01-01T04:00Z", "b"),
            seg("2026-01-01T04:00Z", "2026-01-01T05:00Z", "b"),
            seg("2026-01-01T08:00Z", "2026-01-01T12:00Z", "c"),
        ];
        let got: Vec<_> = paint(&[(0, low), (1, high)])
            .into_iter()
            .map(|p| (p.start.to_string(), p.end.to_string(), p.person, p.rank))
            .collect();
        let want = [
            ("2026-01-01T00:00:00Z", "2026-01-01T02:00:00Z", "a", 0),
            // The two `b` segments touch and are one piece.
            ("2026-01-01T02:00:00Z", "2026-01-01T05:00:00Z", "b", 1),
            ("2026-01-01T05:00:00Z", "2026-01-01T08:00:00Z", "a", 0),
            ("2026-01-01T08:00:00Z", "2026-01-01T12:00:00Z", "c", 1),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(s, e, p, r)| (s.to_string(), e.to_string(), *p, *r))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn intersect_keeps_only_the_parts_inside_runs() {
        let segs = [
            seg("2026-01-01T00:00Z", "2026-01-02T00:00Z", "a"),
            seg("2026-01-02T00:00Z", "2026-01-03T00:00Z", "b"),
        ];
        let runs = [
            (ts("2026-01-01T09:00Z"), ts("2026-01-01T17:00Z")),
            (ts("2026-01-01T22:00Z"), ts("2026-01-02T06:00Z")),
        ];
        let got = intersect(&segs, &runs);
        assert_eq!(
            got,
            vec![
                seg("2026-01-01T09:00Z", "2026-01-01T17:00Z", "a"),
                seg("2026-01-01T22:00Z", "2026-01-02T00:00Z", "a"),
                seg("2026-01-02T00:00Z", "2026-01-02T06:00Z", "b"),
            ]
        );
    }
}
