//! Keeps the query language pure: its manifest must not gain I/O, index, HTTP, SQL or async
//! dependencies, so every backend (embedded Tantivy, PostgreSQL) can share it.

#[test]
fn manifest_has_no_io_or_runtime_dependencies() {
    let manifest = include_str!("../../Cargo.toml");
    for banned in [
        "tokio",
        "axum",
        "hyper",
        "reqwest",
        "sqlx",
        "rusqlite",
        "tantivy",
        "async-std",
        "futures",
    ] {
        let found = manifest
            .lines()
            .any(|l| l.trim_start().starts_with(banned) && l.contains('='));
        assert!(
            !found,
            "vigil-query depends on {banned}; keep it a pure parser"
        );
    }
}
