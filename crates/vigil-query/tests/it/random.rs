//! No query panics the parser: mutations of every query in `cases.txt` and random strings over
//! the language's symbols. An error points inside the query, at a character boundary (a search
//! box underlines from it), and is one printable line.

use std::path::Path;

use vigil_testkit::Rng;

const ALPHABET: &[u8] =
    b" :*?\"\\()[]{}<>=|,-.$TOANDORNOTexists:countbytop10now-15m2026-01-31T\xc3\xa9\n\t";

fn seeds() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/cases.txt");
    let text = std::fs::read_to_string(path).expect("tests/it/cases.txt is readable");
    text.lines()
        .filter_map(|l| l.strip_prefix("> "))
        .map(|q| q.replace("\\n", "\n"))
        .collect()
}

fn check(query: &str) {
    if let Err(e) = vigil_query::parse(query) {
        let offset = e.offset();
        assert!(
            offset <= query.len() && query.is_char_boundary(offset),
            "{query:?}: offset {offset} is not a place in the query"
        );
        let text = e.to_string();
        assert!(
            !text.chars().any(char::is_control),
            "{query:?}: the error is not one printable line: {text:?}"
        );
    }
}

#[test]
fn mutated_queries_never_panic() {
    let seeds = seeds();
    assert!(seeds.len() > 100, "the cases hold the seeds");
    let mut rng = Rng::new(1984);
    for i in 0..60_000 {
        let seed = seeds[i % seeds.len()].as_bytes();
        let bytes = rng.mutate(seed, ALPHABET);
        check(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn random_queries_never_panic() {
    let mut rng = Rng::new(7);
    for _ in 0..60_000 {
        let len = rng.below(60);
        let bytes: Vec<u8> = (0..len)
            .map(|_| ALPHABET[rng.below(ALPHABET.len())])
            .collect();
        check(&String::from_utf8_lossy(&bytes));
    }
}
