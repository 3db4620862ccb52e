//! Which stored field a query may have meant when it names one no event has: field names are
//! the events' own JSON paths, so `EventID` (as Sigma and the hunting tools say it) finds
//! nothing where the events hold `Event.System.EventID`, and a search answers "0 events"
//! without saying why.

use std::collections::BTreeSet;

/// How many stored paths are proposed for one missing path.
const MAX_SIMILAR: usize = 5;

/// Stored paths `missing` may have meant, best first: the same path in another case; paths
/// ending with it under another parent (`EventID` → `Event.System.EventID`); paths a couple of
/// typing mistakes away (`usr.name` → `user.name`).
pub(crate) fn similar_paths(missing: &str, known: &BTreeSet<String>) -> Vec<String> {
    let wanted = missing.to_lowercase();
    let suffix = format!(".{wanted}");
    let mut ranked: Vec<(usize, usize, &String)> = known
        .iter()
        .filter_map(|path| {
            let lower = path.to_lowercase();
            let rank = if lower == wanted {
                0
            } else if lower.ends_with(&suffix) {
                1
            } else if strsim::levenshtein(&lower, &wanted) <= typos_allowed(&wanted) {
                2
            } else {
                return None;
            };
            Some((rank, path.len(), path))
        })
        .collect();
    ranked.sort();
    ranked
        .into_iter()
        .take(MAX_SIMILAR)
        .map(|(_, _, p)| p.clone())
        .collect()
}

/// Edits tolerated between a name and a stored path: none for very short names, where any
/// path would be "close".
fn typos_allowed(name: &str) -> usize {
    match name.chars().count() {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> BTreeSet<String> {
        [
            "Event.System.EventID",
            "Event.System.Channel",
            "Event.EventData.TargetUserName",
            "user.name",
            "source.ip",
            "message",
        ]
        .into_iter()
        .map(String::from)
        .collect()
    }

    #[test]
    fn proposes_the_path_a_short_or_misspelt_name_means() {
        let known = known();
        assert_eq!(similar_paths("EventID", &known), ["Event.System.EventID"]);
        assert_eq!(similar_paths("eventid", &known), ["Event.System.EventID"]);
        assert_eq!(
            similar_paths("event.system.eventid", &known),
            ["Event.System.EventID"]
        );
        assert_eq!(
            similar_paths("EventData.TargetUserName", &known),
            ["Event.EventData.TargetUserName"]
        );
        assert_eq!(similar_paths("usr.name", &known), ["user.name"]);
        assert_eq!(similar_paths("mesage", &known), ["message"]);
        assert_eq!(similar_paths("ip", &known), ["source.ip"]);
        assert!(
            similar_paths("id", &known).is_empty(),
            "no typos in short names"
        );
        assert!(similar_paths("process.pid", &known).is_empty());
    }

    #[test]
    fn exact_case_matches_come_before_suffixes_and_typos() {
        let known: BTreeSet<String> = ["Name", "user.name", "host.name", "nme"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(
            similar_paths("name", &known),
            ["Name", "host.name", "user.name", "nme"]
        );
    }
}
