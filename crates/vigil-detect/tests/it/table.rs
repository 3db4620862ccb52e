//! The one-pass field table ([`Event::for_each_field`]) and the keyword text of the JSON
//! ([`Event::keyword_text`]) against lookups by name and the walk over every value: over every
//! shared sample event, parsed by both JSON backends, the rules that match must be the same,
//! and every value must occur in the keyword text.

use std::io::Read;

use vigil_detect::{Event, FieldValue};
use vigil_events::json::JsonEvent;

use crate::support::{RULES, data_dir};

/// An event that hides its field table, so the engine looks every field up by name.
struct ByName<'a>(&'a JsonEvent);

impl Event for ByName<'_> {
    fn field_values(&self, field: &str, visit: &mut dyn FnMut(&FieldValue<'_>)) -> bool {
        self.0.field_values(field, visit)
    }
    fn for_each_value(&self, visit: &mut dyn FnMut(&FieldValue<'_>)) {
        self.0.for_each_value(visit)
    }
    fn is_windows_record(&self) -> bool {
        self.0.is_windows_record()
    }
}

#[test]
fn field_table_matches_like_lookups_by_name() {
    let gz = std::fs::read(data_dir().join("events/attack-samples.jsonl.gz")).unwrap();
    let mut data = Vec::new();
    flate2::read::MultiGzDecoder::new(&gz[..])
        .read_to_end(&mut data)
        .unwrap();
    let mut table = RULES.matcher();
    let mut by_name = RULES.matcher();
    let mut events = 0;
    let mut matched = 0;
    for line in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let sonic = JsonEvent::parse_bytes(line).unwrap();
        let serde = JsonEvent::from_value(serde_json::from_slice(line).unwrap()).unwrap();
        let expected = by_name.matches(&ByName(&sonic)).to_vec();
        assert!(sonic.for_each_field(&mut NoSink));
        let mut text = String::new();
        assert!(sonic.keyword_text(&mut text), "{}", show(line));
        sonic.for_each_value(&mut |v| {
            let value = match v {
                FieldValue::Str(s) => s.to_lowercase(),
                FieldValue::Int(i) => i.to_string(),
                FieldValue::UInt(u) => u.to_string(),
                FieldValue::Bool(b) => b.to_string(),
                // Spelled as the JSON writes them (see `Event::keyword_text`).
                FieldValue::Float(_) | FieldValue::Null => String::new(),
            };
            // As it is or as JSON writes it (see `Event::keyword_text`).
            let escaped = serde_json::to_string(&value).unwrap();
            assert!(
                text.contains(&value) || text.contains(&escaped[1..escaped.len() - 1]),
                "{value:?} is not in the keyword text of {}",
                show(line)
            );
        });
        assert_eq!(table.matches(&sonic), expected, "sonic-rs: {}", show(line));
        assert_eq!(
            table.matches(&serde),
            expected,
            "serde_json: {}",
            show(line)
        );
        events += 1;
        matched += usize::from(!expected.is_empty());
    }
    assert!(
        events > 20_000 && matched > 5_000,
        "{events} events, {matched} matched"
    );
}

fn show(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(400)]).into_owned()
}

struct NoSink;

impl vigil_detect::FieldSink for NoSink {
    fn field(&mut self, _: &str) -> bool {
        false
    }
    fn value(&mut self, _: &FieldValue<'_>) {}
}

/// Fields named by a path (`user.name`) in the one-pass table: looked up only in events that
/// have the path's first part, which must change nothing — events nested, flat with the dotted
/// name as a key, with the first part a string, or without it, against rules that ask for the
/// path's value, its absence (`null`, `not`) and the first part itself.
#[test]
fn paths_are_looked_up_only_under_their_first_part() {
    let rules = [
        ("name", "user.name: root"),
        ("null", "user.name: null"),
        ("deep", "a.b.c|contains: needle"),
        ("cidr", "source.ip|cidr: 10.0.0.0/8"),
        ("whole", "user: root"),
    ];
    let text: String = rules
        .iter()
        .map(|(id, sel)| {
            format!(
                "title: {id}\nid: {id}\nlogsource:\n  product: test\ndetection:\n  sel:\n    {sel}\n  condition: sel\n---\n"
            )
        })
        .chain(std::iter::once(
            "title: negated\nid: negated\nlogsource:\n  product: test\ndetection:\n  sel:\n    user.name: root\n  condition: not sel\n".to_owned(),
        ))
        .collect();
    let (docs, diags) = vigil_sigma::parse_str(&text, std::path::Path::new("t.yml"));
    assert!(diags.is_empty(), "{diags:?}");
    let test = [vigil_detect::Logsource {
        product: Some("test".into()),
        ..Default::default()
    }];
    let (set, diags) = vigil_detect::compile(&docs, &vigil_detect::CompileOptions::default());
    assert!(diags.is_empty(), "{diags:?}");
    let events = [
        r#"{"user":{"name":"root"},"source":{"ip":"10.1.2.3"},"a":{"b":{"c":"a needle"}}}"#,
        r#"{"user.name":"root","source.ip":"10.1.2.3","a.b.c":"needle"}"#,
        r#"{"user":"root","source":"10.1.2.3","a":{"b":"needle"}}"#,
        r#"{"message":"root logged in from 10.1.2.3"}"#,
        r#"{"user":{"name":"bob"},"a":{"b":{"c":["x","needle"]}}}"#,
        r#"{"user":{"name":null}}"#,
        r#"{"Event":{"System":{"Channel":"x"}},"user":{"name":"root"}}"#,
    ];
    let mut table = set.matcher();
    let mut by_name = set.matcher();
    let mut seen = std::collections::BTreeSet::new();
    for json in events {
        let event = JsonEvent::parse(json).unwrap();
        for declared in [&test[..], &[]] {
            let expected = by_name.matches_from(&ByName(&event), declared).to_vec();
            let found = table.matches_from(&event, declared).to_vec();
            assert_eq!(found, expected, "{json} declared {declared:?}");
            seen.extend(found.iter().map(|r| set.rule(*r).id().to_owned()));
        }
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["cidr", "deep", "name", "negated", "null", "whole"],
        "every rule matched some event"
    );
}

/// Keyword needles holding characters JSON escapes are found in an event's text as JSON writes
/// them, and in a text the event unescaped (a `\u` escape, or a character that is not ASCII).
#[test]
fn keywords_with_escaped_characters_match_json_text_both_ways() {
    let rule = r#"
title: Keywords with escapes
id: 6a3b7c1e-0d5f-4e2a-9b8c-1f2e3d4c5b6a
logsource: {product: windows}
detection:
  keywords:
    - 'C:\Temp\Evil "Quoted"'
    - "tab\there"
  condition: keywords
"#;
    let set = compiled(rule);
    let mut matcher = set.matcher();
    for (data, matches) in [
        (r#""CommandLine":"run c:\\temp\\EVIL \"quoted\" now""#, true),
        (r#""CommandLine":"a TAB\there""#, true),
        // Not ASCII, and a `\u` escape: the event gives its text unescaped.
        (r#""CommandLine":"é c:\\temp\\evil \"quoted\"""#, true),
        (r#""CommandLine":"\u0063:\\temp\\evil \"quoted\"""#, true),
        (r#""CommandLine":"c:\\temp\\evil quoted""#, false),
        (r#""CommandLine":"c:\\temp\\evil \\\"quoted\\\"""#, false),
        (r#""CommandLine":"tab there""#, false),
    ] {
        let event = JsonEvent::parse(&security_record(data)).unwrap();
        assert_eq!(!matcher.matches(&event).is_empty(), matches, "{data}");
    }
}

/// Random values full of what JSON escapes (backslashes, quotes, control characters, `/`,
/// letters beyond ASCII), written with every escape JSON allows: a keyword rule looking for a
/// piece of one of them matches the event through the event's own keyword text exactly when a
/// value holds the piece (lowercased), as it does through the walk over the values.
#[test]
fn keyword_text_finds_every_piece_of_every_value_however_it_is_escaped() {
    const PIECES: &[&str] = &[
        "a", "B", "\\", "\"", "/", "\n", "\t", "\u{1}", "é", "Σ", "\u{212a}", " ", "x:", "::",
    ];
    let mut rng = vigil_testkit::Rng::new(37);
    let mut tally = Tally::default();
    for round in 0..400 {
        let values: Vec<String> = (0..1 + rng.below(3))
            .map(|_| {
                (0..1 + rng.below(8))
                    .map(|_| PIECES[rng.below(PIECES.len())])
                    .collect()
            })
            .collect();
        let chars: Vec<char> = values[rng.below(values.len())].chars().collect();
        let from = rng.below(chars.len());
        let mut needle: String = chars[from..from + 1 + rng.below(chars.len() - from)]
            .iter()
            .collect();
        if rng.below(4) == 0 {
            needle.push_str(PIECES[rng.below(PIECES.len())]);
        }
        let lower = |s: &str| s.chars().flat_map(char::to_lowercase).collect::<String>();
        let expected = values.iter().any(|v| lower(v).contains(&lower(&needle)));
        let rule = format!(
            "title: Piece\nid: r1\nlogsource: {{product: windows}}\ndetection:\n  keywords:\n    - \"{}\"\n  condition: keywords\n",
            yaml_quoted(&sigma_literal(&needle))
        );
        let set = compiled(&rule);
        let data: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!(r#""V{i}":"{}""#, json_escaped(v, &mut rng)))
            .collect();
        let json = security_record(&data.join(","));
        assert_matched_both_ways(
            &set,
            &json,
            expected,
            format!("round {round}: {needle:?} in {json}"),
        );
        tally.add(expected);
    }
    tally.assert_saw_both(100, 30);
}

/// `text` as a Sigma value that means itself (`\`, `*`, `?` escaped).
fn sigma_literal(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if matches!(c, '*' | '?' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `text` inside a YAML double-quoted string.
fn yaml_quoted(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `text` inside a JSON string, each character written one of the ways JSON allows, at random.
fn json_escaped(text: &str, rng: &mut vigil_testkit::Rng) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let unicode = rng.below(4) == 0;
        match c {
            _ if unicode && (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04X}", c as u32)),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '/' if rng.below(2) == 0 => out.push_str("\\/"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Random values and rule texts full of what lowercasing and JSON treat apart (backslashes,
/// quotes, letters beyond ASCII, the Kelvin sign that lowercases to `k`): each string modifier,
/// with and without `cased`, matches the event exactly when a plain comparison of the value
/// says so, alone (where the field's scan lets the rule be evaluated) and under `not` (where a
/// needle the scan did not find answers false without a comparison).
#[test]
fn string_modifiers_match_as_plain_comparisons_say() {
    const PIECES: &[&str] = &[
        "a", "A", "b", "\\", "\"", "/", " ", "é", "É", "Σ", "σ", "\u{212a}", "k", "x.exe",
    ];
    let mut rng = vigil_testkit::Rng::new(41);
    let piece = |rng: &mut vigil_testkit::Rng| -> String {
        (0..1 + rng.below(5))
            .map(|_| PIECES[rng.below(PIECES.len())])
            .collect()
    };
    let lower = |s: &str| s.chars().flat_map(char::to_lowercase).collect::<String>();
    let mut tally = Tally::default();
    for round in 0..600 {
        let value = piece(&mut rng);
        let needle = match rng.below(3) {
            // A piece of the value, in another case now and then.
            0 | 1 => {
                let chars: Vec<char> = value.chars().collect();
                let from = rng.below(chars.len());
                let to = from + 1 + rng.below(chars.len() - from);
                let piece: String = chars[from..to].iter().collect();
                if rng.below(2) == 0 {
                    piece.to_uppercase()
                } else {
                    piece
                }
            }
            _ => piece(&mut rng),
        };
        let (modifier, test): (&str, fn(&str, &str) -> bool) = match rng.below(4) {
            0 => ("", |v, n| v == n),
            1 => ("|contains", |v, n| v.contains(n)),
            2 => ("|startswith", |v, n| v.starts_with(n)),
            _ => ("|endswith", |v, n| v.ends_with(n)),
        };
        let cased = rng.below(3) == 0;
        let expected = if cased {
            test(&value, &needle)
        } else {
            test(&lower(&value), &lower(&needle))
        };
        let modifiers = format!("{modifier}{}", if cased { "|cased" } else { "" });
        let needle_yaml = yaml_quoted(&sigma_literal(&needle));
        let rules = format!(
            "title: Alone\nid: r1\nlogsource: {{product: windows}}\ndetection:\n  sel:\n    Name{modifiers}: \"{needle_yaml}\"\n  condition: sel\n---\n\
             title: Under not\nid: r2\nlogsource: {{product: windows}}\ndetection:\n  base:\n    EventID: 4688\n  sel:\n    Name{modifiers}: \"{needle_yaml}\"\n  condition: base and not sel\n"
        );
        let set = compiled(&rules);
        let json = security_record(&format!(r#""Name":"{}""#, json_escaped(&value, &mut rng)));
        let event = JsonEvent::parse(&json).unwrap();
        let mut matcher = set.matcher();
        let ids: Vec<&str> = matcher
            .matches(&event)
            .iter()
            .map(|&r| set.rule(r).id())
            .collect();
        let want: &[&str] = if expected { &["r1"] } else { &["r2"] };
        assert_eq!(
            ids, want,
            "round {round}: Name{modifiers} {needle:?} against {value:?}"
        );
        tally.add(expected);
    }
    tally.assert_saw_both(100, 100);
}

/// Random events whose field holds a value, a list, `null` or nothing, against random rules
/// with value lists, `|all`, `|contains|all`, numeric comparisons, `null` and `|exists`: the
/// engine matches, through the one-pass table and through lookups by name, exactly when the
/// Sigma semantics evaluated by hand say so (a list of values is any of them, `|all` each of
/// them; a field holding a list matches when one of its values does; numbers written as text
/// compare as numbers).
#[test]
fn value_lists_and_comparisons_match_as_sigma_says() {
    #[derive(Debug, Clone)]
    enum V {
        Text(&'static str),
        Number(i64),
    }
    const TEXTS: &[&str] = &["ab", "AB", "abc", "c:\\x\\ab", "10", "-3", "7.5", ""];
    let mut rng = vigil_testkit::Rng::new(43);
    let lower = |s: &str| s.to_lowercase();
    let number = |v: &V| match v {
        V::Number(n) => Some(*n as f64),
        V::Text(t) => t.trim().parse::<f64>().ok().filter(|_| {
            t.trim()
                .starts_with(|c: char| c.is_ascii_digit() || c == '-')
        }),
    };
    let text = |v: &V| match v {
        V::Number(n) => n.to_string(),
        V::Text(t) => t.to_string(),
    };
    let mut tally = Tally::default();
    for round in 0..500 {
        let random_value = |rng: &mut vigil_testkit::Rng| {
            if rng.below(3) == 0 {
                V::Number([-3, 0, 7, 10, 12][rng.below(5)])
            } else {
                V::Text(TEXTS[rng.below(TEXTS.len())])
            }
        };
        // None: the field is absent; Some(None): null; Some(Some(values)).
        let field: Option<Option<Vec<V>>> = match rng.below(6) {
            0 => None,
            1 => Some(None),
            _ => Some(Some(
                (0..1 + rng.below(3))
                    .map(|_| random_value(&mut rng))
                    .collect(),
            )),
        };
        let values: Vec<V> = field.clone().flatten().unwrap_or_default();
        let present = field.is_some();
        let any = |f: &dyn Fn(&V) -> bool| values.iter().any(f);
        let needles: Vec<&str> = (0..1 + rng.below(3))
            .map(|_| TEXTS[rng.below(TEXTS.len())])
            .filter(|t| !t.is_empty())
            .collect();
        let needles = if needles.is_empty() {
            vec!["ab"]
        } else {
            needles
        };
        let list = needles
            .iter()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let bound = [-3i64, 0, 7, 10][rng.below(4)];
        let (detection, expected): (String, bool) = match rng.below(7) {
            0 => (
                format!("F: [{list}]"),
                needles
                    .iter()
                    .any(|n| any(&|v| lower(&text(v)) == lower(n))),
            ),
            1 => (
                format!("F|contains: [{list}]"),
                needles
                    .iter()
                    .any(|n| any(&|v| lower(&text(v)).contains(&lower(n)))),
            ),
            // `all` over one value is refused (the specification forbids it); for one value
            // it means what `contains` alone does.
            2 => (
                match needles.len() {
                    1 => format!("F|contains: [{list}]"),
                    _ => format!("F|contains|all: [{list}]"),
                },
                needles
                    .iter()
                    .all(|n| any(&|v| lower(&text(v)).contains(&lower(n)))),
            ),
            3 => (
                format!("F|gt: {bound}"),
                any(&|v| number(v).is_some_and(|x| x > bound as f64)),
            ),
            4 => (
                format!("F|lte: {bound}"),
                any(&|v| number(v).is_some_and(|x| x <= bound as f64)),
            ),
            5 => (
                "F: null".to_owned(),
                !present || matches!(field, Some(None)),
            ),
            _ => {
                let want = rng.below(2) == 0;
                (format!("F|exists: {want}"), present == want)
            }
        };
        let rule = format!(
            "title: Lists\nid: r1\nlogsource: {{product: windows}}\ndetection:\n  base:\n    EventID: 4688\n  sel:\n    {detection}\n  condition: base and sel\n"
        );
        let set = compiled(&rule);
        let json_value = |v: &V| match v {
            V::Number(n) => n.to_string(),
            V::Text(t) => serde_json::to_string(t).unwrap(),
        };
        let data = match &field {
            None => String::new(),
            Some(None) => r#","F":null"#.to_owned(),
            Some(Some(vs)) if vs.len() == 1 && rng.below(2) == 0 => {
                format!(r#","F":{}"#, json_value(&vs[0]))
            }
            Some(Some(vs)) => format!(
                r#","F":[{}]"#,
                vs.iter().map(json_value).collect::<Vec<_>>().join(",")
            ),
        };
        let json = security_record(&format!(r#""Other":"y"{data}"#));
        assert_matched_both_ways(
            &set,
            &json,
            expected,
            format!("round {round}: {detection} on {json}"),
        );
        tally.add(expected);
    }
    tally.assert_saw_both(100, 100);
}

/// The rule set of one YAML text, which must load and compile without a word.
fn compiled(yaml: &str) -> vigil_detect::CompiledRuleSet {
    let (docs, diagnostics) = vigil_sigma::parse_str(yaml, std::path::Path::new("t.yml"));
    assert!(diagnostics.is_empty(), "{diagnostics:?} in {yaml}");
    let (set, diagnostics) = vigil_detect::compile(&docs, &vigil_detect::CompileOptions::default());
    assert!(diagnostics.is_empty(), "{diagnostics:?} in {yaml}");
    set
}

/// A Security 4688 record whose EventData is `data` (members of a JSON object).
fn security_record(data: &str) -> String {
    format!(
        r#"{{"Event":{{"System":{{"Channel":"Security","EventID":4688}},"EventData":{{{data}}}}}}}"#
    )
}

/// Asserts that `set` matches the event `json` exactly when `expected`, through its one-pass
/// table and keyword text, and through lookups by name and the walk over its values.
fn assert_matched_both_ways(
    set: &vigil_detect::CompiledRuleSet,
    json: &str,
    expected: bool,
    context: String,
) {
    let event = JsonEvent::parse(json).unwrap();
    let mut matcher = set.matcher();
    let by_table = !matcher.matches(&event).is_empty();
    let by_name = !matcher.matches(&ByName(&event)).is_empty();
    assert_eq!((by_table, by_name), (expected, expected), "{context}");
}

/// How many rounds of a random test matched and how many did not: it must see both, or it
/// tests only one side.
#[derive(Default)]
struct Tally {
    matched: usize,
    missed: usize,
}

impl Tally {
    fn add(&mut self, matched: bool) {
        if matched {
            self.matched += 1;
        } else {
            self.missed += 1;
        }
    }

    fn assert_saw_both(&self, matched: usize, missed: usize) {
        assert!(
            self.matched > matched && self.missed > missed,
            "{} matched, {} not",
            self.matched,
            self.missed
        );
    }
}

/// Random values with dashes (`-`, `/`, en dash, em dash, horizontal bar) where a rule's value
/// has one, in any of the five, against `windash` rules with up to six of them: the rule
/// matches exactly when the value matches with every dash taken for any other, as Sigma's
/// "all possible permutations" say — past the first four too.
#[test]
fn windash_takes_every_dash_for_any_other() {
    const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    const PIECES: &[&str] = &["-", "/", "\u{2013}", "a", "B", " ", "exec", "+"];
    let mut rng = vigil_testkit::Rng::new(43);
    let same_dash = |s: &str| -> String {
        s.chars()
            .map(|c| if DASHES.contains(&c) { '-' } else { c })
            .flat_map(char::to_lowercase)
            .collect()
    };
    let mut tally = Tally::default();
    for round in 0..400 {
        let needle: String = (0..1 + rng.below(8))
            .map(|_| PIECES[rng.below(PIECES.len())])
            .collect();
        // The needle with each dash written as any of the five, a character changed now and then.
        let mut written: String = needle
            .chars()
            .map(|c| {
                if DASHES.contains(&c) {
                    DASHES[rng.below(DASHES.len())]
                } else if rng.below(2) == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        if rng.below(4) == 0 {
            let mut chars: Vec<char> = written.chars().collect();
            let at = rng.below(chars.len());
            chars[at] = ['+', 'x', '-', '/'][rng.below(4)];
            written = chars.into_iter().collect();
        }
        let (modifier, value, test): (&str, String, fn(&str, &str) -> bool) = match rng.below(3) {
            0 => ("", written, |v, n| v == n),
            1 => ("|contains", format!("cmd {written} x"), |v, n| {
                v.contains(n)
            }),
            _ => ("|startswith", format!("{written} x"), |v, n| {
                v.starts_with(n)
            }),
        };
        let expected = test(&same_dash(&value), &same_dash(&needle));
        let set = compiled(&format!(
            "title: W\nid: w\nlogsource: {{product: windows}}\ndetection:\n  sel:\n    CommandLine|windash{modifier}: \"{}\"\n  condition: sel\n",
            yaml_quoted(&sigma_literal(&needle))
        ));
        let json = security_record(&format!(
            r#""CommandLine":"{}""#,
            json_escaped(&value, &mut rng)
        ));
        assert_matched_both_ways(
            &set,
            &json,
            expected,
            format!("round {round}: windash{modifier} {needle:?} against {value:?}"),
        );
        tally.add(expected);
    }
    tally.assert_saw_both(150, 40);
}
