//! Required literals: text of which one piece must occur in any value a regular expression or
//! wildcard pattern matches, so that such rules join the literal prefilter instead of being
//! evaluated on every event.
//!
//! A rule like `CommandLine|re: '(?i)\.exe["']?\s+[^"]{0,64}werfaultsecure\.exe'` can only
//! match a command line that contains `werfaultsecure.exe`; making that a needle of the
//! field's automaton means the regex runs only on the few events that hold it.
//!
//! The needles are lowercase ASCII: they are searched in the lowercased value. Lowercasing
//! keeps every ASCII letter findable except where a regex's Unicode case folding equates an
//! ASCII letter with a non-ASCII one (`ſ` with `s`); the matcher therefore treats these
//! needles as found in any value that is not ASCII (see `FieldAutomaton::fuzzy`).

use std::cmp::Reverse;

use regex_syntax::hir::{Class, Hir, HirKind};

/// Needles shorter than this would be found in most values and rule nothing out.
const MIN_NEEDLE: usize = 2;

/// One of these lowercase needles occurs in every value `pattern` matches; empty when no
/// useful set exists (or the pattern does not parse, which compiling it reports).
pub(crate) fn of_regex(
    pattern: &str,
    case_insensitive: bool,
    multi_line: bool,
    dot_all: bool,
) -> Vec<String> {
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(case_insensitive)
        .multi_line(multi_line)
        .dot_matches_new_line(dot_all)
        .build()
        .parse(pattern);
    match hir {
        Ok(hir) => required(&hir).map(finish).unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

/// The best needle of a wildcard pattern: its longest run of literal characters (every run
/// is required, one is enough).
pub(crate) fn of_runs<'a>(runs: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    runs.into_iter()
        .filter_map(ascii_lower)
        .max_by_key(String::len)
        .map(|n| finish(vec![n]))
        .unwrap_or_default()
}

fn ascii_lower(s: &str) -> Option<String> {
    s.is_ascii().then(|| s.to_ascii_lowercase())
}

/// Drops a set whose shortest needle is too short to rule anything out.
fn finish(mut set: Vec<String>) -> Vec<String> {
    if set.iter().any(|n| n.len() < MIN_NEEDLE) {
        return Vec::new();
    }
    set.sort_unstable();
    set.dedup();
    set
}

/// Needles of at least this many bytes count as equally rare when choosing a prefilter.
const RARE_ENOUGH: usize = 8;

/// How good a set of alternative needles, given by their lengths, is as a prefilter: its
/// shortest needle first (a longer needle is rarer; beyond [`RARE_ENOUGH`] bytes they are all
/// rare), then fewer alternatives. Higher is better.
pub(crate) fn prefilter_score(lengths: impl Iterator<Item = usize>) -> (usize, Reverse<usize>) {
    let (shortest, count) = lengths.fold((usize::MAX, 0), |(s, c), l| (s.min(l), c + 1));
    let shortest = if count == 0 { 0 } else { shortest };
    (shortest.min(RARE_ENOUGH), Reverse(count))
}

fn score(set: &[String]) -> (usize, Reverse<usize>) {
    prefilter_score(set.iter().map(String::len))
}

fn better(a: Option<Vec<String>>, b: Vec<String>) -> Option<Vec<String>> {
    match a {
        Some(a) if score(&a) >= score(&b) => Some(a),
        _ => Some(b),
    }
}

/// One lowercase ASCII character that `hir` matches exactly, up to case: a literal byte or a
/// class of the case variants of one letter (`[Ee]`, `[Kk\u{212A}]`, `[Ssſ]`).
fn one_char(hir: &Hir) -> Option<u8> {
    match hir.kind() {
        HirKind::Literal(lit) if lit.0.len() == 1 && lit.0[0].is_ascii() => {
            Some(lit.0[0].to_ascii_lowercase())
        }
        HirKind::Class(Class::Unicode(cls)) => {
            let mut letter = None;
            let mut count = 0;
            for range in cls.ranges() {
                for c in range.start()..=range.end() {
                    count += 1;
                    if count > 4 {
                        return None;
                    }
                    let folded = match c {
                        'ſ' => 's',
                        '\u{212A}' => 'k',
                        c if c.is_ascii() => c.to_ascii_lowercase(),
                        _ => return None,
                    };
                    if *letter.get_or_insert(folded) != folded {
                        return None;
                    }
                }
            }
            letter.map(|c| c as u8)
        }
        HirKind::Class(Class::Bytes(cls)) => {
            let mut letter = None;
            for range in cls.ranges() {
                for b in range.start()..=range.end() {
                    if !b.is_ascii() {
                        return None;
                    }
                    let folded = b.to_ascii_lowercase();
                    if *letter.get_or_insert(folded) != folded {
                        return None;
                    }
                }
            }
            letter
        }
        _ => None,
    }
}

/// The exact ASCII text `hir` matches, up to case, when it is a literal.
fn literal_text(hir: &Hir) -> Option<String> {
    match hir.kind() {
        HirKind::Literal(lit) => std::str::from_utf8(&lit.0).ok().and_then(ascii_lower),
        _ => one_char(hir).map(|c| (c as char).to_string()),
    }
}

/// A set of lowercase needles of which one occurs in every text `hir` matches, or `None`.
fn required(hir: &Hir) -> Option<Vec<String>> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => None,
        HirKind::Literal(_) | HirKind::Class(_) => literal_text(hir).map(|t| vec![t]),
        HirKind::Capture(cap) => required(&cap.sub),
        HirKind::Repetition(rep) if rep.min >= 1 => required(&rep.sub),
        HirKind::Repetition(_) => None,
        HirKind::Alternation(subs) => {
            let mut all = Vec::new();
            for sub in subs {
                all.extend(required(sub)?);
            }
            Some(all)
        }
        HirKind::Concat(subs) => {
            // Adjacent literal pieces form one run; zero-width assertions do not break it.
            let mut best: Option<Vec<String>> = None;
            let mut run = String::new();
            for sub in subs {
                if let Some(text) = literal_text(sub) {
                    run.push_str(&text);
                    continue;
                }
                if matches!(sub.kind(), HirKind::Look(_) | HirKind::Empty) {
                    continue;
                }
                if !run.is_empty() {
                    best = better(best, vec![std::mem::take(&mut run)]);
                }
                if let Some(set) = required(sub) {
                    best = better(best, set);
                }
            }
            if !run.is_empty() {
                best = better(best, vec![run]);
            }
            best
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(p: &str) -> Vec<String> {
        of_regex(p, false, false, false)
    }

    #[test]
    fn longest_run_of_a_concatenation() {
        assert_eq!(
            re(r#"(?i)\.exe["']?\s+[^"]{0,64}werfaultsecure\.exe["']?\s+\d{2,10}"#),
            vec!["werfaultsecure.exe"]
        );
        assert_eq!(re(r"net\s+user\s+"), vec!["user"]);
        assert_eq!(
            of_regex("Invoke-Mimikatz", true, false, false),
            vec!["invoke-mimikatz"]
        );
    }

    #[test]
    fn alternations_need_every_branch() {
        assert_eq!(re("(?i)(foo|barbaz)qq"), vec!["barbaz", "foo"]);
        assert_eq!(re("foo|.*"), Vec::<String>::new());
        assert_eq!(re("(abc)+x"), vec!["abc"]);
    }

    #[test]
    fn optional_and_short_parts_rule_nothing_out() {
        assert!(re("(?:abc)?d").is_empty());
        assert!(re(r"\d+").is_empty());
        assert!(re("a.b").is_empty());
        assert!(re("[").is_empty());
    }

    #[test]
    fn case_folding_classes_are_letters() {
        // (?i)k is [Kk\u{212A}], (?i)s is [Ssſ]: both stand for an ASCII letter.
        assert_eq!(of_regex("sekurlsa", true, false, false), vec!["sekurlsa"]);
        assert!(re("[ab]cd").iter().all(|n| n == "cd"));
    }

    #[test]
    fn wildcard_runs() {
        assert_eq!(of_runs(["ipconfig", "|", "find"]), vec!["ipconfig"]);
        assert!(of_runs(["x"]).is_empty());
        assert!(of_runs(["é"]).is_empty());
    }
}
