//! The needles an automaton found in values a matcher has scanned before.
//!
//! Logs repeat themselves: the same `Image`, `ParentImage`, `TargetUserName` or registry key
//! comes back in record after record, and scanning it again with a field's automaton (thousands
//! of needles, a cache miss per byte when the automaton is cold) finds what it found the first
//! time. A matcher keeps, per automaton, the needles found in the values it scanned last, and
//! answers a value it has seen from there after one hash and one comparison.
//!
//! The memo is bounded (entries and bytes of text) and emptied whole when full, so it costs the
//! same memory whatever the logs; values longer than [`MAX_VALUE`] (script blocks, long command
//! lines, which seldom repeat) are not kept. It belongs to one matcher, like the rest of its
//! scratch, and never changes what is found: an entry is used only when its text is the same.
//!
//! An automaton is known by its address. That is sound because no automaton a matcher scans
//! with is freed while its rule set lives (the per-declaration dispatch is kept, never
//! replaced: `compile::DeclaredIndexes`), and a matcher's memory, the memo with it, lives no
//! longer than its set (the pool of spare matchers is the set's own).

use std::hash::BuildHasher;
use std::ops::Range;

use rustc_hash::{FxBuildHasher, FxHashMap};

/// Values longer than this (in bytes, lowercased) are scanned every time.
pub(crate) const MAX_VALUE: usize = 512;
/// Entries kept before the memo is emptied.
const MAX_ENTRIES: usize = 16_384;
/// Bytes of value text kept before the memo is emptied.
const MAX_TEXT: usize = 2 << 20;

#[derive(Debug, Default)]
pub(crate) struct ScanMemo {
    /// (automaton, hash of the value) → entry.
    index: FxHashMap<(usize, u64), u32>,
    entries: Vec<Entry>,
    text: Vec<u8>,
    found: Vec<u32>,
}

#[derive(Debug)]
struct Entry {
    text: Range<u32>,
    found: Range<u32>,
}

/// Where a value's scan is to be remembered, once scanned (see [`ScanMemo::lookup`]).
#[derive(Debug)]
pub(crate) struct Slot {
    key: (usize, u64),
}

impl ScanMemo {
    /// The needles `automaton` found in `text` when it was scanned before, or where to
    /// [`ScanMemo::remember`] them once it is: `None` for a value the memo does not keep
    /// (too long, or its hash taken by another value).
    pub(crate) fn lookup(&self, automaton: usize, text: &[u8]) -> Result<&[u32], Option<Slot>> {
        if text.len() > MAX_VALUE {
            return Err(None);
        }
        let key = (automaton, FxBuildHasher.hash_one(text));
        match self.index.get(&key) {
            Some(&e) => {
                let entry = &self.entries[e as usize];
                if &self.text[range(&entry.text)] == text {
                    Ok(&self.found[range(&entry.found)])
                } else {
                    Err(None)
                }
            }
            None => Err(Some(Slot { key })),
        }
    }

    /// Keeps `found`, the needles the automaton of `slot` found in `text`.
    pub(crate) fn remember(&mut self, slot: Slot, text: &[u8], found: &[u32]) {
        if self.entries.len() >= MAX_ENTRIES || self.text.len() + text.len() > MAX_TEXT {
            self.index.clear();
            self.entries.clear();
            self.text.clear();
            self.found.clear();
        }
        let text_start = self.text.len() as u32;
        self.text.extend_from_slice(text);
        let found_start = self.found.len() as u32;
        self.found.extend_from_slice(found);
        self.index.insert(slot.key, self.entries.len() as u32);
        self.entries.push(Entry {
            text: text_start..self.text.len() as u32,
            found: found_start..self.found.len() as u32,
        });
    }
}

fn range(r: &Range<u32>) -> Range<usize> {
    r.start as usize..r.end as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_scanned_before_is_answered_from_the_memo() {
        let mut memo = ScanMemo::default();
        let slot = memo
            .lookup(1, b"c:\\windows\\cmd.exe")
            .unwrap_err()
            .unwrap();
        memo.remember(slot, b"c:\\windows\\cmd.exe", &[3, 7]);
        assert_eq!(memo.lookup(1, b"c:\\windows\\cmd.exe").unwrap(), &[3, 7]);
        // Another automaton, another value: not known.
        assert!(matches!(
            memo.lookup(2, b"c:\\windows\\cmd.exe"),
            Err(Some(_))
        ));
        assert!(matches!(
            memo.lookup(1, b"c:\\windows\\calc.exe"),
            Err(Some(_))
        ));
        // A value that found nothing is remembered too.
        let slot = memo.lookup(1, b"").unwrap_err().unwrap();
        memo.remember(slot, b"", &[]);
        assert_eq!(memo.lookup(1, b"").unwrap(), &[] as &[u32]);
    }

    #[test]
    fn long_values_are_not_kept_and_a_full_memo_starts_again() {
        let mut memo = ScanMemo::default();
        let long = vec![b'a'; MAX_VALUE + 1];
        assert!(matches!(memo.lookup(1, &long), Err(None)));
        for i in 0..MAX_ENTRIES + 1 {
            let text = format!("value {i}");
            if let Err(Some(slot)) = memo.lookup(1, text.as_bytes()) {
                memo.remember(slot, text.as_bytes(), &[i as u32]);
            }
        }
        assert_eq!(
            memo.entries.len(),
            1,
            "emptied when full, then the last one kept"
        );
        assert_eq!(
            memo.lookup(1, format!("value {MAX_ENTRIES}").as_bytes())
                .unwrap(),
            &[MAX_ENTRIES as u32]
        );
        assert!(memo.lookup(1, b"value 0").is_err());
    }
}
