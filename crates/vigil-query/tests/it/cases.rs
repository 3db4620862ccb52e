//! Data-driven parser tests: `cases.txt` holds pairs of `> query` and the expected result — `=`
//! and the canonical S-expression of the AST, or `!` and the error (byte offset and message).
//! Run with `VIGIL_BLESS=1` to rewrite the expectations after a deliberate change, then review
//! the diff.

use std::fmt::Write as _;
use std::path::Path;

fn render(input: &str) -> String {
    match vigil_query::parse(input) {
        Ok(query) => format!("= {query}"),
        Err(e) => format!("! {}: {e}", e.offset()),
    }
}

#[test]
fn parser_cases() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/cases.txt");
    let text = std::fs::read_to_string(&path).expect("tests/it/cases.txt is readable");
    let mut blessed = String::new();
    let mut failures = String::new();
    let mut count = 0;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(input) = line.strip_prefix("> ") else {
            if !line.starts_with("= ") && !line.starts_with("! ") {
                blessed.push_str(line);
                blessed.push('\n');
            }
            continue;
        };
        count += 1;
        let input = input.replace("\\n", "\n");
        let actual = render(&input);
        let expected = lines
            .next_if(|l| l.starts_with("= ") || l.starts_with("! "))
            .unwrap_or("(no expectation)");
        if actual != expected {
            let _ = writeln!(
                failures,
                "> {input}\n  expected {expected}\n  actual   {actual}"
            );
        }
        let _ = writeln!(blessed, "{line}\n{actual}");
    }
    if std::env::var_os("VIGIL_BLESS").is_some() {
        std::fs::write(&path, blessed).expect("cases.txt is writable");
        return;
    }
    assert!(
        count > 50,
        "cases.txt holds {count} cases; expected the full table"
    );
    assert!(failures.is_empty(), "parser cases differ:\n{failures}");
}

#[test]
fn every_error_offset_lies_inside_the_query() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/cases.txt");
    let text = std::fs::read_to_string(path).expect("tests/it/cases.txt is readable");
    let mut errors = 0;
    for input in text.lines().filter_map(|l| l.strip_prefix("> ")) {
        if let Err(e) = vigil_query::parse(input) {
            errors += 1;
            assert!(
                e.offset() <= input.len(),
                "{input:?}: offset {}",
                e.offset()
            );
            assert!(input.is_char_boundary(e.offset()), "{input:?}");
        }
    }
    assert!(errors > 10, "the table covers errors too ({errors})");
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let input = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
    let err = vigil_query::parse(&input).expect_err("nesting is bounded");
    assert_eq!(err.offset(), vigil_query::MAX_DEPTH);
    assert!(
        err.to_string().contains("remove redundant parentheses"),
        "{err}"
    );
}

#[test]
fn long_chains_of_not_are_read_without_recursion() {
    // Twenty thousand NOTs used to recurse once each and abort the server.
    let input = format!("{}user:eve", "NOT ".repeat(20_001));
    let query = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || vigil_query::parse(&input).expect("parses"))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(
        query.to_string(),
        vigil_query::parse("NOT user:eve").unwrap().to_string()
    );
    let even = vigil_query::parse(&format!("{}user:eve", "NOT ".repeat(4))).unwrap();
    assert_eq!(
        even.to_string(),
        vigil_query::parse("user:eve").unwrap().to_string()
    );
}

#[test]
fn queries_hold_at_most_so_many_terms() {
    let words = |n: usize| {
        (0..n)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(vigil_query::parse(&words(vigil_query::MAX_TERMS)).is_ok());
    let text = words(vigil_query::MAX_TERMS + 1);
    let err = vigil_query::parse(&text).expect_err("too many terms");
    assert_eq!(err.offset(), text.rfind(' ').unwrap() + 1, "{err}");
    assert!(err.to_string().contains("more than 1024 terms"), "{err}");
}

#[test]
fn relative_times_resolve_when_the_query_runs() {
    use chrono::TimeZone;
    let query = vigil_query::parse("time:[now-1h TO now]").expect("parses");
    let vigil_query::Expr::Range { lower, .. } = query.filter else {
        panic!("a range: {query}");
    };
    let vigil_query::Bound::Inclusive(vigil_query::Scalar::Time(t)) = lower else {
        panic!("an inclusive time bound");
    };
    let now = chrono::Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    assert_eq!(t.resolve(now).to_rfc3339(), "2026-03-01T11:00:00+00:00");
}
