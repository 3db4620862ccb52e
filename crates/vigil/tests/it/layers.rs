//! The layering of ARCHITECTURE.md, checked on every crate's manifest in one place: the domain,
//! the detection engine, the decoders, the query language and the log store have no HTTP, SQL
//! or async runtime (the CLI runs them without one; the server calls them from blocking
//! threads); only `vigil-server` serves HTTP and only `vigil-store` speaks SQL.

use std::path::Path;

/// Crates that bring I/O, a transport or an async runtime.
const IO: &[&str] = &[
    "tokio",
    "async-std",
    "futures",
    "futures-util",
    "axum",
    "hyper",
    "tower",
    "tower-http",
    "reqwest",
    "lettre",
    "sqlx",
    "rusqlite",
];

/// (crate, dependencies it must not have, why).
const PURE: &[(&str, &[&str], &str)] = &[
    (
        "vigil-core",
        IO,
        "the incident domain stays pure; I/O belongs in the outer crates",
    ),
    ("vigil-oncall", IO, "schedules are computed, not fetched"),
    ("vigil-sigma", IO, "the Sigma parser is a library"),
    (
        "vigil-detect",
        IO,
        "the detection engine is the hot path, a library without I/O",
    ),
    (
        "vigil-events",
        IO,
        "decoders run in `vigil hunt` with no runtime",
    ),
    (
        "vigil-query",
        IO,
        "the query language is shared by every backend",
    ),
    (
        "vigil-logs",
        IO,
        "the log store is synchronous: the server calls it from blocking threads",
    ),
    (
        "vigil-api",
        IO,
        "the wire types are shared by the server and the client",
    ),
];

/// (dependency, the only crate that may have it).
const OWNED: &[(&str, &str)] = &[
    ("axum", "vigil-server"),
    ("sqlx", "vigil-store"),
    ("tantivy", "vigil-logs"),
];

fn crates_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The names in a manifest's `[dependencies]` tables (not dev- or build-dependencies).
fn dependencies(krate: &str) -> Vec<String> {
    let path = crates_dir().join(krate).join("Cargo.toml");
    let manifest = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut names = Vec::new();
    let mut in_dependencies = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]"
                || (line.starts_with("[target.") && line.ends_with(".dependencies]"));
            continue;
        }
        if in_dependencies && let Some((key, _)) = line.split_once('=') {
            let name = key.trim().trim_end_matches(".workspace").trim();
            if !name.is_empty() && !name.starts_with('#') {
                names.push(name.to_owned());
            }
        }
    }
    names
}

#[test]
fn library_crates_keep_to_their_layer() {
    for (krate, banned, why) in PURE {
        let deps = dependencies(krate);
        assert!(!deps.is_empty(), "{krate}: no dependencies read");
        let wrong: Vec<&String> = deps
            .iter()
            .filter(|d| banned.contains(&d.as_str()))
            .collect();
        assert!(wrong.is_empty(), "{krate} depends on {wrong:?}: {why}");
    }
    let all: Vec<String> = std::fs::read_dir(crates_dir())
        .expect("crates directory")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| crates_dir().join(name).join("Cargo.toml").exists())
        .collect();
    assert!(all.len() >= PURE.len(), "crates found: {all:?}");
    for (dep, owner) in OWNED {
        for krate in all.iter().filter(|k| k.as_str() != *owner) {
            assert!(
                !dependencies(krate).iter().any(|d| d == dep),
                "{krate} depends on {dep}: only {owner} may (ARCHITECTURE.md)"
            );
        }
    }
}

#[test]
fn the_manifest_reader_sees_what_it_checks() {
    // A check that reads nothing passes everything: the reader must find known edges.
    assert!(dependencies("vigil-server").iter().any(|d| d == "axum"));
    assert!(dependencies("vigil-store").iter().any(|d| d == "sqlx"));
    assert!(
        dependencies("vigil-detect")
            .iter()
            .any(|d| d == "aho-corasick")
    );
    // Dev-dependencies do not count: vigil-notify's tests use vigil-testkit.
    assert!(
        !dependencies("vigil-notify")
            .iter()
            .any(|d| d == "vigil-testkit")
    );
}
