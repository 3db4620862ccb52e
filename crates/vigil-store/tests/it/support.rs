//! A store in a fresh temporary data directory, plus raw SQL access for tamper tests.

use std::sync::Arc;

use vigil_core::{NewIncident, NewIndicator, Severity};
use vigil_store::{SqliteStore, Store};

pub struct Harness {
    pub store: Arc<dyn Store>,
    pub sqlite: SqliteStore,
    pub dir: tempfile::TempDir,
}

impl Harness {
    pub async fn new() -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let sqlite = SqliteStore::open(&dir.path().join("data"))
            .await
            .expect("open store");
        Harness {
            store: Arc::new(sqlite.clone()),
            sqlite,
            dir,
        }
    }

    /// Runs raw SQL against the database file, as an intruder with file access would.
    pub async fn raw(&self, sql: &str) -> u64 {
        use sqlx::Connection;
        let url = format!("sqlite://{}", self.sqlite.db_path().display());
        let mut conn = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("raw connect");
        let done = sqlx::query(sql).execute(&mut conn).await.expect("raw sql");
        conn.close().await.expect("close");
        done.rows_affected()
    }

    /// Runs raw SQL with foreign keys unchecked, as the `sqlite3` shell does by default.
    pub async fn raw_unchecked(&self, sql: &str) -> u64 {
        use sqlx::Connection;
        let url = format!("sqlite://{}", self.sqlite.db_path().display());
        let mut conn = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("raw connect");
        sqlx::query("PRAGMA foreign_keys = OFF")
            .execute(&mut conn)
            .await
            .expect("foreign keys off");
        let done = sqlx::query(sql).execute(&mut conn).await.expect("raw sql");
        conn.close().await.expect("close");
        done.rows_affected()
    }

    pub async fn count(&self, table: &str) -> i64 {
        use sqlx::Connection;
        let url = format!("sqlite://{}", self.sqlite.db_path().display());
        let mut conn = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("raw connect");
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut conn)
            .await
            .expect("count")
    }
}

pub fn ind(kind: &str, value: &str) -> NewIndicator {
    NewIndicator {
        kind: kind.into(),
        value: value.into(),
        note: None,
    }
}

pub fn new_incident(title: &str) -> NewIncident {
    let mut n = NewIncident::new(title, "phishing mail led to a token theft", Severity::Sev3);
    n.services = vec!["mail".into()];
    n.tenants = vec!["contoso".into()];
    n.techniques = vec!["T1566.001".into()];
    n.indicators = vec![ind("domain", "Evil.Example.com."), ind("ip", "10.0.0.1")];
    n
}
