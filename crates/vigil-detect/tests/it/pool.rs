//! Matchers taken from the rule set's pool ([`CompiledRuleSet::pooled_matcher`]) — warm from
//! the batches other matchers of the pool matched — find what a matcher of their own finds, over
//! every shared sample event.

use std::io::Read;

use vigil_events::json::JsonEvent;

use crate::support::{RULES, data_dir};

#[test]
fn pooled_matchers_match_like_a_matcher_of_their_own() {
    let gz = std::fs::read(data_dir().join("events/attack-samples.jsonl.gz")).unwrap();
    let mut data = Vec::new();
    flate2::read::MultiGzDecoder::new(&gz[..])
        .read_to_end(&mut data)
        .unwrap();
    let events: Vec<JsonEvent> = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| JsonEvent::parse_bytes(l).unwrap())
        .collect();
    let mut own = RULES.matcher();
    let expected: Vec<Vec<_>> = events.iter().map(|e| own.matches(e).to_vec()).collect();
    let mut matched = 0;
    // Batches of uneven sizes, each split between two matchers held at once, as the server's
    // threads hold them; each batch's matchers come back to the pool warm from another part of
    // the samples.
    let indexes: Vec<usize> = (0..events.len()).collect();
    for (batch, chunk) in indexes.chunks(997).enumerate() {
        let (first, second) = chunk.split_at(chunk.len() / 2);
        let mut a = RULES.pooled_matcher();
        let mut b = RULES.pooled_matcher();
        let (a_part, b_part) = if batch % 2 == 0 {
            (first, second)
        } else {
            (second, first)
        };
        for (matcher, part) in [(&mut a, a_part), (&mut b, b_part)] {
            for &i in part {
                let found = matcher.matches(&events[i]).to_vec();
                assert_eq!(found, expected[i], "event {i} of the samples");
                matched += usize::from(!found.is_empty());
            }
        }
    }
    assert!(matched > 5_000, "{matched} matched");
}
