//! The data directory as the binary opens it: creates it when missing and opens the store, with
//! errors that say what to do. Shared by `serve`, `admin` and `audit`.

use std::path::Path;

use anyhow::Context;
use vigil_server::store::SqliteStore;

/// Creates `dir` if needed and opens its store (running migrations).
pub async fn open(dir: &Path) -> anyhow::Result<SqliteStore> {
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "could not create the data directory {}; check the path and its permissions",
            dir.display()
        )
    })?;
    SqliteStore::open(dir).await.with_context(|| {
        format!(
            "could not open the Vigil store in {}; is it a Vigil data directory?",
            dir.display()
        )
    })
}

/// Creates a token directly in the store (the actor is recorded as `vigil admin` on this host).
pub async fn create_token(
    store: &SqliteStore,
    name: &str,
    role: vigil_api::types::Role,
) -> anyhow::Result<vigil_api::types::CreatedToken> {
    store
        .create_token("vigil-admin-cli", name, role)
        .await
        .context("could not create the token; is the data directory writable?")
}

/// True when the store holds at least one token.
pub async fn has_tokens(store: &SqliteStore) -> anyhow::Result<bool> {
    store
        .has_tokens()
        .await
        .context("could not read the token table")
}

/// Walks the audit chain.
pub async fn verify(store: &SqliteStore) -> anyhow::Result<vigil_api::types::AuditVerification> {
    store
        .verify_audit()
        .await
        .context("could not read the audit trail")
}
