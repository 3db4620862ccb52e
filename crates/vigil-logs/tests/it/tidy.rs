//! Keeps the log store free of HTTP, SQL and async runtimes: the server calls it through
//! `spawn_blocking` or a channel, and `vigil ingest` uses it with no runtime at all.

#[test]
fn manifest_has_no_http_sql_or_async_runtime() {
    let manifest = include_str!("../../Cargo.toml");
    for banned in [
        "tokio",
        "axum",
        "hyper",
        "reqwest",
        "sqlx",
        "rusqlite",
        "async-std",
        "futures",
        "tower",
    ] {
        let found = manifest
            .lines()
            .any(|l| l.trim_start().starts_with(banned) && l.contains('='));
        assert!(
            !found,
            "vigil-logs depends on {banned}; keep it synchronous and transport-free"
        );
    }
}
