//! The embedded SQLite backend: `DIR/vigil.db` (WAL, foreign keys, busy timeout,
//! `synchronous=FULL`) and content-addressed evidence files under `DIR/evidence/<sha256>`.
//!
//! Every write runs in one `BEGIN IMMEDIATE` transaction, so writers are serialised by SQLite
//! and the audit chain stays linear; the audit entry is appended in that same transaction.
//! Writes load the incident inside the transaction, let `vigil-core` apply the change, persist
//! the affected rows and read the record back before committing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, DurationRound, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256 as Hasher};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;
use vigil_core::audit::{
    AUDITED_ALERT_ACTIONS, AuditedRecord, NewAuditEntry, STATE_FIELD, STATES_FIELD, StoredRecord,
    alert_state, canonical_time, check_records, incident_state, org_state, recorded_states,
    token_state, truncate_micros,
};
use vigil_core::evidence::{check_description, check_file_name};
use vigil_core::incident::MAX_TEXT;
use vigil_core::{
    ActionEntry, ActionKind, AuditEntry, AuditVerified, ChainBreak, ChainProblem, CustodyEntry,
    DataImpact, DomainError, Evidence, EvidenceCheck, EvidenceProblem, Finding, FindingChange,
    FindingKey, FindingUpdate, GENESIS_HASH, Incident, IncidentId, IncidentKey, IncidentLink,
    IncidentPatch, Indicator, IndicatorKind, IndicatorValue, LinkSuggestion, NewFinding,
    NewIncident, NewIndicator, NewPostMortem, NextStep, Phase, PhaseChange, PostMortem, Priority,
    PriorityChange, Role, Severity, SeverityChange, Sha256, Technique, TimestampCorrection,
    TimestampKind, Timestamps, verify_chain,
};

use crate::types::*;
use crate::{BoxFuture, Store, StoreError, StoreResult};
use vigil_core::{CreatedToken, IndicatorHit, Page, Related, TokenInfo};

type Tx = Transaction<'static, Sqlite>;

/// Name prefix of an evidence file still being received, in the evidence folder.
pub const UPLOAD_PREFIX: &str = ".upload-";

/// The SHA-256 of what `file` holds from where it is read to its end.
async fn sha256_of(file: &mut tokio::fs::File) -> std::io::Result<Sha256> {
    sha256_reporting(file, 64 * 1024, |_| {}).await
}

/// [`sha256_of`] read `chunk` bytes at a time, telling `read` how many each read gave.
async fn sha256_reporting(
    file: &mut tokio::fs::File,
    chunk: usize,
    mut read: impl FnMut(u64),
) -> std::io::Result<Sha256> {
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; chunk];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        read(n as u64);
    }
    Ok(Sha256::from_digest(hasher.finalize().into()))
}

/// Whether the evidence file at `path` exists and still holds the content named `sha`.
async fn intact(path: &Path, sha: &Sha256) -> std::io::Result<bool> {
    match tokio::fs::File::open(path).await {
        Ok(mut file) => Ok(sha256_of(&mut file).await? == *sha),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// A path removed when dropped (see [`SqliteStore::store_blob`]).
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The SQLite store of one data directory.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Readers' connections: in WAL mode they run beside the writer.
    pool: SqlitePool,
    /// The one connection every write transaction takes, in turn. SQLite admits one writer at
    /// a time anyway; queueing for this connection is first come, first served, where
    /// competing `BEGIN IMMEDIATE`s would sleep in the busy handler (seconds under ingest).
    writer: SqlitePool,
    dir: PathBuf,
}

fn ts(t: DateTime<Utc>) -> String {
    canonical_time(t)
}

fn ts_opt(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(ts)
}

fn now() -> DateTime<Utc> {
    truncate_micros(Utc::now())
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn parse_ts(s: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| corrupt(format!("timestamp {s:?}: {e}")))
}

fn col_ts(row: &SqliteRow, col: &str) -> StoreResult<DateTime<Utc>> {
    parse_ts(&row.try_get::<String, _>(col)?)
}

fn col_ts_opt(row: &SqliteRow, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
    row.try_get::<Option<String>, _>(col)?
        .map(|s| parse_ts(&s))
        .transpose()
}

fn col_parse<T: FromStr>(row: &SqliteRow, col: &str) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    let s: String = row.try_get(col)?;
    s.parse().map_err(|e| corrupt(format!("{col} {s:?}: {e}")))
}

fn col_json<T: serde::de::DeserializeOwned>(row: &SqliteRow, col: &str) -> StoreResult<T> {
    let s: String = row.try_get(col)?;
    serde_json::from_str(&s).map_err(|e| corrupt(format!("{col}: {e}")))
}

fn col_uuid(row: &SqliteRow, col: &str) -> StoreResult<Uuid> {
    col_parse(row, col)
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

fn not_found(r: &IncidentRef) -> StoreError {
    StoreError::NotFound(r.to_string())
}

fn clamp(limit: u32, default: u32, max: u32) -> i64 {
    i64::from(if limit == 0 { default } else { limit.min(max) })
}

/// The mode of the data directory and of the evidence folder: the owner's only.
#[cfg(unix)]
pub const DIR_MODE: u32 = 0o700;
/// The mode of the database files (`vigil.db` and SQLite's `-wal` and `-shm` beside it).
#[cfg(unix)]
pub const DATABASE_MODE: u32 = 0o600;
/// The mode of a stored evidence file: the owner reads it, nobody writes it.
#[cfg(unix)]
pub const EVIDENCE_MODE: u32 = 0o400;

/// Creates `dir` (and its parents) if missing, then makes it the owner's only: created 0700,
/// and tightened to 0700 (with a log line) when found open to the group or others.
fn private_dir(dir: &Path) -> StoreResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
            .map_err(StoreError::io(dir))?;
        let mode = std::fs::metadata(dir)
            .map_err(StoreError::io(dir))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))
                .map_err(StoreError::io(dir))?;
            tracing::warn!(
                dir = %dir.display(),
                was = format_args!("{mode:o}"),
                now = format_args!("{DIR_MODE:o}"),
                "data directory was readable by other users; made it the owner's only"
            );
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
    Ok(())
}

/// Creates `DIR/vigil.db` 0600 before SQLite does (SQLite would create it, and its `-wal` and
/// `-shm` files, which take the database's mode, by the umask), and tightens the three to
/// 0600 when an older Vigil left them readable by others.
fn private_database(dir: &Path) -> StoreResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let db = dir.join("vigil.db");
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(DATABASE_MODE)
            .open(&db)
            .map_err(StoreError::io(&db))?;
        for name in ["vigil.db", "vigil.db-wal", "vigil.db-shm"] {
            let path = dir.join(name);
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(DATABASE_MODE))
                    .map_err(StoreError::io(&path))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Refuses to create the database in a data directory that already holds a log store
/// (`logs/`, which `vigil serve` creates after the database) or evidence files: the database
/// was deleted or moved, and starting with an empty one would lose incidents, tokens, alerts,
/// detections and the audit trail without a word, while the log store's detection mark says
/// its events were matched, so they would never be matched again.
fn refuse_a_new_database_beside_old_data(dir: &Path) -> StoreResult<()> {
    if dir.join("vigil.db").exists() {
        return Ok(());
    }
    let logs = dir.join("logs").is_dir();
    let evidence = std::fs::read_dir(dir.join("evidence"))
        .map(|mut entries| entries.next().is_some())
        .unwrap_or(false);
    let found = match (logs, evidence) {
        (false, false) => return Ok(()),
        (true, false) => "a log store (logs/)",
        (false, true) => "evidence files (evidence/)",
        (true, true) => "a log store (logs/) and evidence files (evidence/)",
    };
    Err(StoreError::DatabaseMissing {
        dir: dir.to_path_buf(),
        found,
    })
}

/// The permissions a stored evidence file gets: 0400 on Unix, read-only elsewhere.
async fn evidence_permissions(path: &Path) -> StoreResult<std::fs::Permissions> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = path;
        Ok(std::fs::Permissions::from_mode(EVIDENCE_MODE))
    }
    #[cfg(not(unix))]
    {
        let mut perms = tokio::fs::metadata(path)
            .await
            .map_err(StoreError::io(path))?
            .permissions();
        perms.set_readonly(true);
        Ok(perms)
    }
}

/// What opening a data directory does to its database's schema.
#[derive(Debug, Clone, Copy)]
enum Schema {
    /// Applies the migrations it lacks (`vigil serve`, a first `vigil admin token`).
    Upgrade,
    /// Takes it as it is, refusing one that is not this release's.
    AsItIs,
}

/// The lock file a data directory's database is connected to and migrated (or checked) under.
const MIGRATION_LOCK: &str = "vigil.migrate.lock";

/// Takes the data directory's migration lock (an advisory `flock`, dropped with the file or
/// the process), waiting for another process applying them to finish.
async fn migration_lock(dir: &Path) -> StoreResult<std::fs::File> {
    let path = dir.join(MIGRATION_LOCK);
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(StoreError::io(&path))?;
        file.lock().map_err(StoreError::io(&path))?;
        Ok(file)
    })
    .await
    .map_err(|e| StoreError::Io {
        path: MIGRATION_LOCK.to_owned(),
        source: std::io::Error::other(e),
    })?
}

/// Checks that the database holds exactly the migrations of this release, without applying
/// any: [`StoreError::SchemaBehind`] names the first one missing, [`StoreError::SchemaAhead`]
/// one it does not know.
async fn check_schema(
    db: &sqlx::SqlitePool,
    migrator: &sqlx::migrate::Migrator,
) -> StoreResult<()> {
    let table: Option<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(db)
    .await?;
    let applied: Vec<i64> = match table {
        Some(_) => {
            sqlx::query_scalar(
                "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
            )
            .fetch_all(db)
            .await?
        }
        None => Vec::new(),
    };
    let known: Vec<i64> = migrator.iter().map(|m| m.version).collect();
    if let Some(&version) = applied.iter().find(|v| !known.contains(v)) {
        return Err(StoreError::SchemaAhead { version });
    }
    if let Some(&version) = known.iter().find(|v| !applied.contains(v)) {
        return Err(StoreError::SchemaBehind {
            have: applied.last().copied().unwrap_or(0),
            need: known.last().copied().unwrap_or(version),
        });
    }
    Ok(())
}

impl SqliteStore {
    /// Opens the store in `dir`, creating the directory, the database and the evidence folder
    /// if needed, and applies the migrations.
    ///
    /// On Unix the data directory and the evidence folder are the owner's only (0700: a
    /// directory found looser is tightened, with a log line, which covers the files inside
    /// it, the log store's included) and the database files are 0600, so no other local user
    /// reads evidence without the custody record a download writes.
    pub async fn open(dir: &Path) -> StoreResult<Self> {
        Self::open_with(dir, Schema::Upgrade).await
    }

    /// Opens an existing data directory without creating or upgrading anything (for the
    /// commands run beside a server, such as `vigil audit verify` and `vigil admin tokens`: an
    /// older server may still be running on it, and it could not start again on a database
    /// a newer release upgraded). A missing database is [`StoreError::NoDataDirectory`]; one
    /// whose schema is not this release's is [`StoreError::SchemaBehind`] or
    /// [`StoreError::SchemaAhead`].
    pub async fn open_existing(dir: &Path) -> StoreResult<Self> {
        if !dir.join("vigil.db").is_file() {
            return Err(StoreError::NoDataDirectory(dir.to_path_buf()));
        }
        Self::open_with(dir, Schema::AsItIs).await
    }

    async fn open_with(dir: &Path, schema: Schema) -> StoreResult<Self> {
        let evidence = dir.join("evidence");
        if matches!(schema, Schema::Upgrade) {
            refuse_a_new_database_beside_old_data(dir)?;
        }
        private_dir(dir)?;
        private_dir(&evidence)?;
        private_database(dir)?;
        let options = SqliteConnectOptions::new()
            .filename(dir.join("vigil.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        // Two processes opening one directory at once (a server starting and `vigil admin
        // token`) would both run the migrations, sqlx taking no lock on SQLite; and a
        // connection's switch to WAL meets a database another is creating with "database is
        // locked" at once, whatever the busy timeout. Both happen under the directory's lock.
        let lock = migration_lock(dir).await?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options.clone())
            .await?;
        let migrator = sqlx::migrate!("./migrations");
        match schema {
            Schema::Upgrade => {
                migrator.run(&writer).await.map_err(|e| match e {
                    sqlx::migrate::MigrateError::VersionMissing(version) => {
                        StoreError::SchemaAhead { version }
                    }
                    e => StoreError::Migrate(e),
                })?;
                fill_search_text(&writer).await?;
            }
            Schema::AsItIs => check_schema(&writer, &migrator).await?,
        }
        drop(lock);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Ok(SqliteStore {
            pool,
            writer,
            dir: dir.to_path_buf(),
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The database file.
    pub fn db_path(&self) -> PathBuf {
        self.dir.join("vigil.db")
    }

    /// Where the evidence with this hash is kept.
    pub fn evidence_path(&self, sha256: &Sha256) -> PathBuf {
        self.dir.join("evidence").join(sha256.as_str())
    }

    /// Removes the temporary files of uploads that were cut short by a killed process (a
    /// cancelled upload in a running process removes its own). Call it when the server starts,
    /// never while another process may be uploading into the same directory. Returns how many
    /// were removed.
    pub fn remove_interrupted_uploads(&self) -> StoreResult<usize> {
        let folder = self.dir.join("evidence");
        let entries = std::fs::read_dir(&folder).map_err(StoreError::io(&folder))?;
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(StoreError::io(&folder))?;
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(UPLOAD_PREFIX)
            {
                let path = entry.path();
                std::fs::remove_file(&path).map_err(StoreError::io(&path))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }

    async fn begin(&self) -> StoreResult<Tx> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    // ---- incidents ---------------------------------------------------------------------

    async fn create_incident_impl(&self, actor: &str, new: NewIncident) -> StoreResult<Incident> {
        let mut tx = self.begin().await?;
        let stored = create_incident_in(&mut tx, actor, new, now()).await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn get_incident_impl(&self, r: &IncidentRef) -> StoreResult<Incident> {
        let mut conn = self.pool.acquire().await?;
        let id = resolve(&mut conn, r).await?;
        load(&mut conn, id).await
    }

    async fn list_incidents_impl(&self, f: &IncidentFilter) -> StoreResult<Page<Incident>> {
        let candidates = f.indicator.as_deref().map(IndicatorValue::candidates);
        let (mut count, mut select) = incident_list_statements(f, candidates.as_deref());
        let mut conn = self.pool.acquire().await?;
        let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
        let ids: Vec<String> = select.build_query_scalar().fetch_all(&mut *conn).await?;
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            let id = IncidentId::parse(&id).map_err(corrupt)?;
            items.push(load(&mut conn, id).await?);
        }
        Ok(Page {
            total: total as u64,
            items,
        })
    }

    /// Runs one incident write: load in the transaction, apply `change`, persist, audit, read
    /// back, commit. `change` returns the audit action and payload; `persist` writes the rows.
    async fn write_incident<F>(
        &self,
        actor: &str,
        r: &IncidentRef,
        change: F,
    ) -> StoreResult<Incident>
    where
        F: FnOnce(&mut Incident, DateTime<Utc>) -> StoreResult<(&'static str, Value, Persist)>
            + Send,
    {
        self.write_incident_keyed(actor, r, false, move |i, at, _| change(i, at))
            .await
    }

    /// [`Self::write_incident`], handing `change` the next finding key when `finding_key`
    /// asks for one (taken inside the transaction, so two findings raised at once get two).
    async fn write_incident_keyed<F>(
        &self,
        actor: &str,
        r: &IncidentRef,
        finding_key: bool,
        change: F,
    ) -> StoreResult<Incident>
    where
        F: FnOnce(
                &mut Incident,
                DateTime<Utc>,
                Option<FindingKey>,
            ) -> StoreResult<(&'static str, Value, Persist)>
            + Send,
    {
        let at = now();
        let mut tx = self.begin().await?;
        let id = resolve(&mut tx, r).await?;
        let mut incident = load(&mut tx, id).await?;
        let before = incident.clone();
        let priority = (incident.priority, incident.priority_history.len());
        let key = if finding_key {
            let n: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM findings")
                .fetch_one(&mut *tx)
                .await?;
            Some(FindingKey::new(n as u64)?)
        } else {
            None
        };
        let (action, payload, persist) = change(&mut incident, at, key)?;
        let payload = record_priority_moves(&mut tx, &incident, priority, payload).await?;
        let payload = log_record_changes(&mut tx, actor, &before, &incident, at, payload).await?;
        update_incident_row(&mut tx, &incident).await?;
        match persist {
            Persist::Row => {}
            Persist::Names => {
                replace_names(&mut tx, "incident_services", id, &incident.services).await?;
                replace_names(&mut tx, "incident_tenants", id, &incident.tenants).await?;
            }
            Persist::Severity => {
                let n = incident.severity_history.len();
                insert_severity_change(&mut tx, id, n, &incident.severity_history[n - 1]).await?;
            }
            Persist::Phase => {
                let n = incident.phase_history.len();
                insert_phase_change(&mut tx, id, n, &incident.phase_history[n - 1]).await?;
            }
            Persist::Correction => {
                let n = incident.timestamp_corrections.len();
                insert_correction(&mut tx, id, n, &incident.timestamp_corrections[n - 1]).await?;
            }
            Persist::Finding(key) => {
                let f = incident
                    .findings
                    .iter()
                    .find(|f| f.key == key)
                    .ok_or_else(|| corrupt(format!("{key} vanished from its incident")))?;
                save_finding(&mut tx, id, f).await?;
            }
        }
        let stored = append_incident_audit(&mut tx, actor, action, id, &[], payload).await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn raise_finding_impl(
        &self,
        actor: &str,
        r: &IncidentRef,
        new: &NewFinding,
    ) -> StoreResult<Finding> {
        let mut raised = None;
        let stored = self
            .write_incident_keyed(actor, r, true, |i, at, key| {
                let key = key.ok_or_else(|| corrupt("no finding key was taken"))?;
                let f = i.raise_finding(key, new, actor, at)?;
                raised = Some(key);
                Ok((
                    "finding.raise",
                    json!({ "key": i.key, "finding": f }),
                    Persist::Finding(key),
                ))
            })
            .await?;
        finding_of(stored, raised)
    }

    async fn update_finding_impl(
        &self,
        actor: &str,
        key: FindingKey,
        update: &FindingUpdate,
    ) -> StoreResult<Finding> {
        let id = self.finding_incident(key).await?;
        let stored = self
            .write_incident(actor, &IncidentRef::Id(id), |i, at| {
                let f = i.update_finding(key, update, actor, at)?;
                let change = f.history.last().cloned();
                Ok((
                    "finding.update",
                    json!({ "key": i.key, "finding": key, "change": change, "update": update }),
                    Persist::Finding(key),
                ))
            })
            .await?;
        finding_of(stored, Some(key))
    }

    /// The incident finding `key` belongs to.
    async fn finding_incident(&self, key: FindingKey) -> StoreResult<IncidentId> {
        let id: Option<String> =
            sqlx::query_scalar("SELECT incident_id FROM findings WHERE seq = ?")
                .bind(key.number() as i64)
                .fetch_optional(&self.pool)
                .await?;
        let id = id.ok_or_else(|| StoreError::NotFound(format!("finding {key}")))?;
        IncidentId::parse(&id).map_err(corrupt)
    }

    async fn get_finding_impl(&self, key: FindingKey) -> StoreResult<Finding> {
        let row = sqlx::query(
            "SELECT findings.*, incidents.seq AS incident_seq FROM findings \
             JOIN incidents ON incidents.id = findings.incident_id WHERE findings.seq = ?",
        )
        .bind(key.number() as i64)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("finding {key}")))?;
        finding_row(&row)
    }

    async fn list_findings_impl(&self, f: &FindingFilter) -> StoreResult<Page<Finding>> {
        let mut conn = self.pool.acquire().await?;
        let incident = match &f.incident {
            Some(r) => Some(resolve(&mut conn, r).await?),
            None => None,
        };
        let mut count = QueryBuilder::<Sqlite>::new(
            "SELECT COUNT(*) FROM findings JOIN incidents ON incidents.id = findings.incident_id WHERE 1 = 1",
        );
        push_finding_filters(&mut count, f, incident);
        let mut select = QueryBuilder::<Sqlite>::new(
            "SELECT findings.*, incidents.seq AS incident_seq FROM findings \
             JOIN incidents ON incidents.id = findings.incident_id WHERE 1 = 1",
        );
        push_finding_filters(&mut select, f, incident);
        select.push(" ORDER BY findings.seq LIMIT ");
        select.push_bind(clamp(f.limit, 50, 500));
        select.push(" OFFSET ");
        select.push_bind(i64::from(f.offset));
        let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
        let items = select
            .build()
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(finding_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page {
            total: total as u64,
            items,
        })
    }

    async fn extend_scope_impl(
        &self,
        actor: &str,
        r: &IncidentRef,
        services: Vec<String>,
        tenants: Vec<String>,
    ) -> StoreResult<(Incident, bool)> {
        let at = now();
        let mut tx = self.begin().await?;
        let id = resolve(&mut tx, r).await?;
        let changed =
            extend_scope_in(&mut tx, actor, id, services, tenants, Vec::new(), at).await?;
        let stored = load(&mut tx, id).await?;
        if changed {
            tx.commit().await?;
        }
        Ok((stored, changed))
    }

    async fn add_indicators_impl(
        &self,
        actor: &str,
        r: &IncidentRef,
        new: Vec<NewIndicator>,
    ) -> StoreResult<Vec<(Indicator, bool)>> {
        let values = vigil_core::incident::indicators(&new)?;
        if values.is_empty() {
            return Err(DomainError::invalid("indicators", "give at least one indicator").into());
        }
        let mut tx = self.begin().await?;
        let id = resolve(&mut tx, r).await?;
        let out = add_indicators_in(&mut tx, actor, id, &values, now()).await?;
        if out.iter().any(|(_, added)| *added) {
            tx.commit().await?;
        }
        Ok(out)
    }

    async fn remove_indicator_impl(
        &self,
        actor: &str,
        r: &IncidentRef,
        indicator_id: Uuid,
        reason: &str,
    ) -> StoreResult<Indicator> {
        let at = now();
        let mut tx = self.begin().await?;
        let id = resolve(&mut tx, r).await?;
        let mut incident = load(&mut tx, id).await?;
        let ind = incident
            .remove_indicator(indicator_id, actor, reason, at)
            .map_err(|e| match e {
                DomainError::InvalidField {
                    field: "indicator_id",
                    ..
                } => StoreError::NotFound(format!("active indicator {indicator_id} on {r}")),
                e => e.into(),
            })?;
        sqlx::query(
            "UPDATE indicators SET removed_by = ?, removed_at = ?, removal_reason = ? WHERE id = ?",
        )
        .bind(&ind.removed_by)
        .bind(ts_opt(ind.removed_at))
        .bind(&ind.removal_reason)
        .bind(ind.id.to_string())
        .execute(&mut *tx)
        .await?;
        update_incident_row(&mut tx, &incident).await?;
        append_incident_audit(
            &mut tx,
            actor,
            "indicator.remove",
            id,
            &[],
            json!({ "key": incident.key, "indicator": ind }),
        )
        .await?;
        tx.commit().await?;
        Ok(ind)
    }

    async fn search_indicator_impl(
        &self,
        search: &IndicatorSearch,
    ) -> StoreResult<Page<IndicatorHit>> {
        let mut candidates = IndicatorValue::candidates(&search.value);
        if candidates.is_empty() {
            return Err(DomainError::invalid(
                "value",
                "not a valid indicator of any kind; give a non-empty value without control characters",
            )
            .into());
        }
        if !search.kinds.is_empty() {
            candidates.retain(|c| search.kinds.contains(&c.kind()));
        }
        let mut count = QueryBuilder::<Sqlite>::new(
            "SELECT COUNT(*) FROM indicators i WHERE i.removed_at IS NULL AND (",
        );
        push_candidates(&mut count, "i", &candidates);
        count.push(")");
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT i.*, inc.seq AS inc_seq, inc.title AS inc_title, inc.phase AS inc_phase \
             FROM indicators i JOIN incidents inc ON inc.id = i.incident_id \
             WHERE i.removed_at IS NULL AND (",
        );
        push_candidates(&mut q, "i", &candidates);
        q.push(") ORDER BY inc.seq DESC, i.added_at, i.id LIMIT ");
        q.push_bind(clamp(search.limit, 50, 500));
        q.push(" OFFSET ");
        q.push_bind(i64::from(search.offset));
        let mut conn = self.pool.acquire().await?;
        let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
        let rows = q.build().fetch_all(&mut *conn).await?;
        let items = rows
            .iter()
            .map(|row| {
                Ok(IndicatorHit {
                    incident_id: IncidentId::from_uuid(col_uuid(row, "incident_id")?),
                    key: key_of(row.try_get("inc_seq")?)?,
                    title: row.try_get("inc_title")?,
                    phase: col_parse(row, "inc_phase")?,
                    indicator: indicator_row(row)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page {
            total: total as u64,
            items,
        })
    }

    // ---- links -------------------------------------------------------------------------

    async fn link_impl(
        &self,
        actor: &str,
        a: &IncidentRef,
        b: &IncidentRef,
        note: Option<&str>,
    ) -> StoreResult<IncidentLink> {
        let at = now();
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        let mut tx = self.begin().await?;
        let ia = resolve(&mut tx, a).await?;
        let ib = resolve(&mut tx, b).await?;
        if ia == ib {
            return Err(DomainError::invalid(
                "other",
                "an incident cannot be linked to itself; name another incident",
            )
            .into());
        }
        let (lo, hi) = if ia.to_string() < ib.to_string() {
            (ia, ib)
        } else {
            (ib, ia)
        };
        let exists: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM incident_links WHERE incident_a = ? AND incident_b = ?",
        )
        .bind(lo.to_string())
        .bind(hi.to_string())
        .fetch_one(&mut *tx)
        .await?;
        if exists > 0 {
            return Err(StoreError::Conflict(format!(
                "{a} and {b} are already linked; unlink first to change the note"
            )));
        }
        sqlx::query("INSERT INTO incident_links (incident_a, incident_b, note, linked_by, linked_at) VALUES (?, ?, ?, ?, ?)")
            .bind(lo.to_string())
            .bind(hi.to_string())
            .bind(note)
            .bind(actor)
            .bind(ts(at))
            .execute(&mut *tx)
            .await?;
        let key_b = key_of_id(&mut tx, ib).await?;
        let key_a = key_of_id(&mut tx, ia).await?;
        let why = note.map(|n| format!(": {n}")).unwrap_or_default();
        for (id, other) in [(ia, key_b), (ib, key_a)] {
            let text = format!("linked to {other}{why}");
            insert_action(&mut tx, actor, id, ActionKind::Change, text, at).await?;
        }
        touch(&mut tx, &[ia, ib], at).await?;
        append_incident_audit(
            &mut tx,
            actor,
            "incident.link",
            ia,
            &[ib],
            json!({ "key": key_a, "related": key_b, "note": note }),
        )
        .await?;
        tx.commit().await?;
        Ok(IncidentLink {
            incident_id: ib,
            key: key_b,
            note: note.map(str::to_owned),
            linked_by: actor.to_owned(),
            linked_at: at,
        })
    }

    async fn unlink_impl(&self, actor: &str, a: &IncidentRef, b: &IncidentRef) -> StoreResult<()> {
        let at = now();
        let mut tx = self.begin().await?;
        let ia = resolve(&mut tx, a).await?;
        let ib = resolve(&mut tx, b).await?;
        let (lo, hi) = if ia.to_string() < ib.to_string() {
            (ia, ib)
        } else {
            (ib, ia)
        };
        let link = sqlx::query(
            "SELECT note, linked_by, linked_at FROM incident_links WHERE incident_a = ? AND incident_b = ?",
        )
        .bind(lo.to_string())
        .bind(hi.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("a link between {a} and {b}")))?;
        // What goes with the link's row is kept in the log: who made it, when and why.
        let made = format!(
            "linked by {} at {}{}",
            link.try_get::<String, _>("linked_by")?,
            ts(col_ts(&link, "linked_at")?),
            link.try_get::<Option<String>, _>("note")?
                .map(|n| format!(": {n}"))
                .unwrap_or_default()
        );
        sqlx::query("DELETE FROM incident_links WHERE incident_a = ? AND incident_b = ?")
            .bind(lo.to_string())
            .bind(hi.to_string())
            .execute(&mut *tx)
            .await?;
        let key_a = key_of_id(&mut tx, ia).await?;
        let key_b = key_of_id(&mut tx, ib).await?;
        for (id, other) in [(ia, key_b), (ib, key_a)] {
            let text = format!("unlinked from {other} ({made})");
            insert_action(&mut tx, actor, id, ActionKind::Change, text, at).await?;
        }
        touch(&mut tx, &[ia, ib], at).await?;
        append_incident_audit(
            &mut tx,
            actor,
            "incident.unlink",
            ia,
            &[ib],
            json!({ "key": key_a, "related": key_b }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn related_impl(&self, r: &IncidentRef, page: SuggestionPage) -> StoreResult<Related> {
        let mut conn = self.pool.acquire().await?;
        let id = resolve(&mut conn, r).await?;
        let links = load_links(&mut conn, id).await?;
        // Every value shared, a few short columns a row: all the incidents sharing one are
        // ranked before the page is read, and a value shared by thousands (a scanner's address)
        // costs a row each, not a record.
        let rows = sqlx::query(
            "SELECT DISTINCT o.incident_id AS other, inc.seq, o.kind, o.value \
             FROM indicators m \
             JOIN indicators o ON o.kind = m.kind AND o.value = m.value AND o.incident_id <> m.incident_id \
             JOIN incidents inc ON inc.id = o.incident_id \
             WHERE m.incident_id = ? AND m.removed_at IS NULL AND o.removed_at IS NULL \
             ORDER BY o.kind, o.value",
        )
        .bind(id.to_string())
        .fetch_all(&mut *conn)
        .await?;
        let mut sharing: HashMap<IncidentId, (i64, Vec<IndicatorValue>)> = HashMap::new();
        for row in &rows {
            let other = IncidentId::from_uuid(col_uuid(row, "other")?);
            if links.iter().any(|l| l.incident_id == other) {
                continue;
            }
            let kind: IndicatorKind = col_parse(row, "kind")?;
            let value: String = row.try_get("value")?;
            // A value stored under an older normalisation (a domain that is an address, say)
            // may no longer be valid: it is still shared, but cannot be named as an indicator.
            let Ok(shared) = IndicatorValue::new(kind, &value) else {
                tracing::warn!(kind = %kind, value = %value, "stored indicator is no longer valid; left out of the suggestion");
                continue;
            };
            let seq: i64 = row.try_get("seq")?;
            let (_, values) = sharing.entry(other).or_insert_with(|| (seq, Vec::new()));
            if !values.contains(&shared) {
                values.push(shared);
            }
        }
        let mut ranked: Vec<(IncidentId, i64, Vec<IndicatorValue>)> = sharing
            .into_iter()
            .map(|(other, (seq, shared))| (other, seq, shared))
            .collect();
        ranked.sort_by(|a, b| b.2.len().cmp(&a.2.len()).then(b.1.cmp(&a.1)));
        let total = ranked.len() as u64;
        let limit = clamp(page.limit, 50, 500) as usize;
        let mut suggestions = Vec::new();
        for (other, seq, shared) in ranked.into_iter().skip(page.offset as usize).take(limit) {
            let row = sqlx::query("SELECT title, phase FROM incidents WHERE id = ?")
                .bind(other.to_string())
                .fetch_one(&mut *conn)
                .await?;
            suggestions.push(LinkSuggestion {
                incident_id: other,
                key: key_of(seq)?,
                title: row.try_get("title")?,
                phase: col_parse(&row, "phase")?,
                shared,
            });
        }
        Ok(Related {
            links,
            suggestions,
            suggestions_total: total,
        })
    }

    // ---- actions -----------------------------------------------------------------------

    async fn append_action_impl(
        &self,
        actor: &str,
        r: &IncidentRef,
        kind: ActionKind,
        text: &str,
    ) -> StoreResult<ActionEntry> {
        if !kind.given_by_people() {
            return Err(DomainError::invalid(
                "kind",
                format!(
                    "{kind} entries are written by Vigil with the change they record; log yours as one of {}",
                    ActionKind::ALL
                        .iter()
                        .filter(|k| k.given_by_people())
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .into());
        }
        let text = action_text(text)?;
        let mut tx = self.begin().await?;
        let id = resolve(&mut tx, r).await?;
        let entry = append_action_in(&mut tx, actor, id, kind, text, now()).await?;
        tx.commit().await?;
        Ok(entry)
    }

    async fn list_actions_impl(
        &self,
        r: &IncidentRef,
        limit: u32,
        offset: u32,
    ) -> StoreResult<Page<ActionEntry>> {
        let mut conn = self.pool.acquire().await?;
        let id = resolve(&mut conn, r).await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM actions WHERE incident_id = ?")
            .bind(id.to_string())
            .fetch_one(&mut *conn)
            .await?;
        let rows = sqlx::query(
            "SELECT * FROM actions WHERE incident_id = ? ORDER BY position LIMIT ? OFFSET ?",
        )
        .bind(id.to_string())
        .bind(clamp(limit, 100, 1000))
        .bind(i64::from(offset))
        .fetch_all(&mut *conn)
        .await?;
        let items = rows
            .iter()
            .map(|row| action_row(row, id))
            .collect::<StoreResult<_>>()?;
        Ok(Page {
            total: total as u64,
            items,
        })
    }

    // ---- evidence ----------------------------------------------------------------------

    /// Streams `content` into a temporary file in the evidence folder, hashing as it goes,
    /// fsyncs it and moves it to its content address. Returns (hash, size).
    async fn store_blob(
        &self,
        content: &mut (dyn AsyncRead + Send + Unpin),
    ) -> StoreResult<(Sha256, u64)> {
        let folder = self.dir.join("evidence");
        let tmp = folder.join(format!("{UPLOAD_PREFIX}{}", Uuid::new_v4()));
        // Removes the temporary file however this function ends, including when its future is
        // dropped mid-upload (the client went away); after the rename it no longer exists.
        let _guard = TempFile(tmp.clone());
        async {
            let mut file = tokio::fs::File::create(&tmp)
                .await
                .map_err(StoreError::io(&tmp))?;
            let mut hasher = Hasher::new();
            let mut size = 0u64;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = content.read(&mut buf).await.map_err(StoreError::io(&tmp))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                file.write_all(&buf[..n])
                    .await
                    .map_err(StoreError::io(&tmp))?;
                size += n as u64;
            }
            file.sync_all().await.map_err(StoreError::io(&tmp))?;
            drop(file);
            let sha = Sha256::from_digest(hasher.finalize().into());
            let dest = folder.join(sha.as_str());
            if intact(&dest, &sha).await.map_err(StoreError::io(&dest))? {
                // Same content already stored: content addressing makes it the same file.
                tokio::fs::remove_file(&tmp)
                    .await
                    .map_err(StoreError::io(&tmp))?;
            } else {
                // New content, or a stored copy that no longer has it (damaged or edited on
                // disk): the bytes just received take its place, so an upload acknowledged
                // is an upload kept.

                tokio::fs::set_permissions(&tmp, evidence_permissions(&tmp).await?)
                    .await
                    .map_err(StoreError::io(&tmp))?;
                tokio::fs::rename(&tmp, &dest)
                    .await
                    .map_err(StoreError::io(&dest))?;
                let dir = std::fs::File::open(&folder).map_err(StoreError::io(&folder))?;
                dir.sync_all().map_err(StoreError::io(&folder))?;
            }
            Ok((sha, size))
        }
        .await
    }

    async fn add_evidence_impl(
        &self,
        actor: &str,
        r: &IncidentRef,
        meta: NewEvidence,
        content: &mut (dyn AsyncRead + Send + Unpin),
    ) -> StoreResult<Evidence> {
        let meta = checked_evidence(meta)?;
        {
            let mut conn = self.pool.acquire().await?;
            resolve(&mut conn, r).await?;
        }
        let blob = self.store_blob(content).await?;
        let mut tx = self.begin().await?;
        let id = resolve(&mut tx, r).await?;
        let evidence = add_evidence_in(&mut tx, actor, id, meta, blob, now()).await?;
        tx.commit().await?;
        Ok(evidence)
    }

    async fn take_alerts_impl(&self, actor: &str, take: TakeAlerts) -> StoreResult<Incident> {
        let TakeAlerts {
            alerts,
            into,
            evidence,
        } = take;
        // Checked before anything is stored: the merge's texts and incident, the files' names.
        let merge = match &into {
            AlertsInto::Declare { action, .. } => {
                action_text(action)?;
                None
            }
            AlertsInto::Merge {
                incident,
                indicators,
                action,
                ..
            } => {
                let checked = (
                    vigil_core::incident::indicators(indicators)?,
                    action_text(action)?,
                );
                let mut conn = self.pool.acquire().await?;
                resolve(&mut conn, incident).await?;
                Some(checked)
            }
        };
        let evidence = evidence
            .into_iter()
            .map(|(meta, content)| Ok((checked_evidence(meta)?, content)))
            .collect::<StoreResult<Vec<_>>>()?;
        // The content goes into the evidence store first, as for any upload (a blob no row
        // names, should the transaction fail, is only unused space).
        let mut blobs = Vec::with_capacity(evidence.len());
        for (meta, content) in evidence {
            blobs.push((meta, self.store_blob(&mut &content[..]).await?));
        }
        let at = now();
        let mut tx = self.begin().await?;
        let (id, declared) = match into {
            AlertsInto::Declare { incident, action } => {
                let id = create_incident_in(&mut tx, actor, *incident, at).await?.id;
                let text = action_text(&action)?;
                append_action_in(&mut tx, actor, id, ActionKind::Investigation, text, at).await?;
                (id, true)
            }
            AlertsInto::Merge {
                incident,
                activity,
                services,
                tenants,
                techniques,
                ..
            } => {
                let id = resolve(&mut tx, &incident).await?;
                if let Some((values, text)) = merge {
                    // The merge's entry first in the log, then what it widened the scope by.
                    let reason = format!("events of a merged alert start then ({text})");
                    append_action_in(&mut tx, actor, id, ActionKind::Investigation, text, at)
                        .await?;
                    add_indicators_in(&mut tx, actor, id, &values, at).await?;
                    extend_scope_in(&mut tx, actor, id, services, tenants, techniques, at).await?;
                    if let Some(seen) = activity {
                        first_activity_seen_in(&mut tx, actor, id, seen, &reason, at).await?;
                    }
                }
                (id, false)
            }
        };
        for (meta, blob) in blobs {
            add_evidence_in(&mut tx, actor, id, meta, blob, at).await?;
        }
        let key = key_of_id(&mut tx, id).await?;
        close_alerts_in(&mut tx, actor, &alerts, &key.to_string(), declared).await?;
        let incident = load(&mut tx, id).await?;
        tx.commit().await?;
        Ok(incident)
    }

    async fn get_evidence_impl(&self, r: &IncidentRef, evidence_id: Uuid) -> StoreResult<Evidence> {
        let mut conn = self.pool.acquire().await?;
        let id = resolve(&mut conn, r).await?;
        load_evidence(&mut conn, id, evidence_id).await
    }

    async fn add_custody_impl(
        &self,
        actor: &str,
        r: &IncidentRef,
        evidence_id: Uuid,
        action: &str,
        reason: &str,
    ) -> StoreResult<Evidence> {
        let at = now();
        let entry = CustodyEntry::new(actor, at, action, reason)?;
        let mut tx = self.begin().await?;
        let id = resolve(&mut tx, r).await?;
        let before = load_evidence(&mut tx, id, evidence_id).await?;
        insert_custody(&mut tx, evidence_id, before.custody.len() + 1, &entry).await?;
        touch(&mut tx, &[id], at).await?;
        let key = key_of_id(&mut tx, id).await?;
        append_incident_audit(
            &mut tx,
            actor,
            "evidence.custody",
            id,
            &[],
            json!({ "key": key, "evidence_id": evidence_id, "custody": entry }),
        )
        .await?;
        let after = load_evidence(&mut tx, id, evidence_id).await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn open_evidence_impl(
        &self,
        actor: &str,
        r: &IncidentRef,
        evidence_id: Uuid,
    ) -> StoreResult<EvidenceDownload> {
        let evidence = self.get_evidence_impl(r, evidence_id).await?;
        let path = self.evidence_path(&evidence.sha256);
        let corrupted = |actual: String| StoreError::EvidenceCorrupted {
            id: evidence_id,
            expected: evidence.sha256.to_string(),
            actual,
        };
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(corrupted("missing".to_owned()));
            }
            Err(e) => return Err(StoreError::io(&path)(e)),
        };
        let actual = sha256_of(&mut file).await.map_err(StoreError::io(&path))?;
        if actual != evidence.sha256 {
            return Err(corrupted(actual.to_string()));
        }
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(StoreError::io(&path))?;
        // Recorded before a byte is sent, and committed: an error here refuses the download.
        let at = now();
        let entry = CustodyEntry::new(actor, at, DOWNLOADED, DOWNLOAD_REASON)?;
        let mut tx = self.begin().await?;
        let id = resolve(&mut tx, r).await?;
        let before = load_evidence(&mut tx, id, evidence_id).await?;
        insert_custody(&mut tx, evidence_id, before.custody.len() + 1, &entry).await?;
        let key = key_of_id(&mut tx, id).await?;
        append_incident_audit(
            &mut tx,
            actor,
            "evidence.download",
            id,
            &[],
            json!({ "key": key, "evidence_id": evidence_id, "sha256": evidence.sha256, "custody": entry }),
        )
        .await?;
        let evidence = load_evidence(&mut tx, id, evidence_id).await?;
        tx.commit().await?;
        Ok(EvidenceDownload { evidence, file })
    }

    // ---- tokens ------------------------------------------------------------------------

    async fn create_token_impl(
        &self,
        actor: &str,
        name: &str,
        role: Role,
        service: Option<&str>,
        tenant: Option<&str>,
    ) -> StoreResult<CreatedToken> {
        let service = scope_value("service", service)?;
        let tenant = scope_value("tenant", tenant)?;
        let name = vigil_core::required_line("name", name)?;
        vigil_core::actors::check_token_name(&name)?;
        if name.chars().count() > vigil_core::actors::MAX_TOKEN_NAME {
            return Err(DomainError::invalid(
                "name",
                format!(
                    "a token name has at most {} characters; shorten it",
                    vigil_core::actors::MAX_TOKEN_NAME
                ),
            )
            .into());
        }
        let at = now();
        let secret = format!("vgl_{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        let info = TokenInfo {
            id: Uuid::now_v7(),
            name,
            role,
            created_by: actor.to_owned(),
            created_at: at,
            revoked_at: None,
            service,
            tenant,
        };
        let mut tx = self.begin().await?;
        // The name is the actor recorded on every write the token makes: two active tokens
        // named alike would make the audit trail ambiguous. Checked in the write transaction,
        // which is the only writer; in any case, as "Alice" and "alice" read as one person.
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT name FROM tokens WHERE name = ? COLLATE NOCASE AND revoked_at IS NULL LIMIT 1",
        )
        .bind(&info.name)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(taken) = taken {
            return Err(StoreError::Conflict(format!(
                "an active token is already named {taken:?}, and a token's name is the actor recorded on its writes; choose another name (e.g. {:?}), or revoke that token first (`vigil admin revoke {taken}`)",
                format!("{}-2", info.name)
            )));
        }
        sqlx::query("INSERT INTO tokens (id, name, role, token_hash, created_by, created_at, service, tenant) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(info.id.to_string())
            .bind(&info.name)
            .bind(role.as_str())
            .bind(Sha256::of(secret.as_bytes()).as_str())
            .bind(actor)
            .bind(ts(at))
            .bind(&info.service)
            .bind(&info.tenant)
            .execute(&mut *tx)
            .await?;
        append_token_audit(
            &mut tx,
            actor,
            "token.create",
            info.id,
            json!({ "id": info.id, "name": info.name, "role": role, "service": info.service, "tenant": info.tenant }),
        )
        .await?;
        tx.commit().await?;
        Ok(CreatedToken {
            info,
            token: secret,
        })
    }

    async fn authenticate_impl(&self, token: &str) -> StoreResult<Option<Principal>> {
        let row = sqlx::query(
            "SELECT id, name, role, service, tenant FROM tokens WHERE token_hash = ? AND revoked_at IS NULL",
        )
        .bind(Sha256::of(token.trim().as_bytes()).as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Principal {
                token_id: col_uuid(&row, "id")?,
                name: row.try_get("name")?,
                role: col_parse(&row, "role")?,
                service: row.try_get("service")?,
                tenant: row.try_get("tenant")?,
            })
        })
        .transpose()
    }

    async fn ingest_key_impl(&self, token: Uuid, key: &str) -> StoreResult<Option<IngestKey>> {
        let row = sqlx::query(
            "SELECT fingerprint, response FROM ingest_keys WHERE token_id = ? AND key = ?",
        )
        .bind(token.to_string())
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(IngestKey {
                fingerprint: row.try_get("fingerprint")?,
                answer: row.try_get("response")?,
            })
        })
        .transpose()
    }

    async fn raise_alert_impl(
        &self,
        actor: &str,
        alert: vigil_core::NewAlert,
        policy: AlertPolicy,
    ) -> StoreResult<Raised> {
        let mut tx = self.begin().await?;
        let raised = match raise_all(&mut tx, actor, vec![(alert, policy)], now())
            .await?
            .remove(0)
        {
            RaisedId::Created(id) => Raised::Created(load_alert(&mut tx, id, false).await?),
            RaisedId::Deduplicated(id) => {
                Raised::Deduplicated(load_alert(&mut tx, id, false).await?)
            }
            RaisedId::Suppressed => Raised::Suppressed,
        };
        tx.commit().await?;
        Ok(raised)
    }

    async fn list_alerts_impl(&self, filter: &AlertFilter) -> StoreResult<Page<vigil_core::Alert>> {
        let limit = match filter.limit {
            0 => 100,
            n => n.min(1000),
        };
        let push = |q: &mut QueryBuilder<'_, Sqlite>| {
            q.push(" WHERE 1 = 1");
            if let Some(st) = filter.status {
                q.push(" AND status = ").push_bind(st.as_str());
            }
            if let Some(sv) = &filter.service {
                q.push(" AND service = ").push_bind(sv.clone());
            }
            if let Some(tenant) = &filter.tenant {
                q.push(" AND tenant = ").push_bind(tenant.clone());
            }
            if let Some(r) = &filter.rule_id {
                q.push(" AND rule_id = ").push_bind(r.clone());
            }
            if let Some(source) = filter.source {
                q.push(" AND source = ").push_bind(source.as_str());
            }
        };
        // One read transaction: the total, the page's rows, then the event ids of all of them
        // at once, so that the total counts what the page was taken from. Each filter has an
        // index ending in `id` (0004_alerts, 0013_alert_filters, 0015_alert_tenants), so the page is read in id
        // order from it rather than sorted.
        let mut tx = self.pool.begin().await?;
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM alerts");
        push(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&mut *tx).await?;
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM alerts");
        push(&mut q);
        q.push(" ORDER BY id DESC LIMIT ")
            .push_bind(limit as i64)
            .push(" OFFSET ")
            .push_bind(i64::from(filter.offset));
        let rows = q.build().fetch_all(&mut *tx).await?;
        let mut event_ids: HashMap<i64, Vec<i64>> = HashMap::new();
        if !rows.is_empty() {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT alert_id, event_id FROM alert_events WHERE alert_id IN (",
            );
            let mut ids = q.separated(", ");
            for r in &rows {
                ids.push_bind(r.try_get::<i64, _>("id")?);
            }
            q.push(") ORDER BY alert_id, event_id");
            for r in q.build().fetch_all(&mut *tx).await? {
                event_ids
                    .entry(r.try_get("alert_id")?)
                    .or_default()
                    .push(r.try_get("event_id")?);
            }
        }
        tx.commit().await?;
        let items = rows
            .iter()
            .map(|r| {
                let ids = event_ids
                    .remove(&r.try_get::<i64, _>("id")?)
                    .unwrap_or_default();
                alert_row(r, ids, Vec::new(), Vec::new())
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page {
            total: total as u64,
            items,
        })
    }

    async fn act_on_alert_impl(
        &self,
        actor: &str,
        id: i64,
        action: vigil_core::AlertAction,
    ) -> StoreResult<vigil_core::Alert> {
        let mut tx = self.begin().await?;
        let current = load_alert(&mut tx, id, false).await?;
        let to = action.apply(current.status)?;
        let (name, text, dismissal) = match &action {
            vigil_core::AlertAction::Acknowledge => (
                vigil_core::AlertStatus::Acknowledged.as_str(),
                "escalation stopped".to_owned(),
                None,
            ),
            vigil_core::AlertAction::Resolve => ("resolved", "resolved".to_owned(), None),
            vigil_core::AlertAction::Dismiss(kind, reason) => (
                "dismissed",
                format!("{kind}: {}", reason.trim()),
                Some(*kind),
            ),
        };
        sqlx::query("UPDATE alert_escalations SET done = 1 WHERE alert_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM alert_page_retries WHERE alert_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE alerts SET status = ?, dismissal = COALESCE(?, dismissal) WHERE id = ?",
        )
        .bind(to.as_str())
        .bind(dismissal.map(|d| d.as_str()))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        log_alert(&mut tx, id, actor, name, &text).await?;
        let stored = append_alert_audit(
            &mut tx,
            actor,
            name,
            id,
            json!({ "from": current.status, "to": to, "text": text }),
        )
        .await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn alert_stats_impl(&self) -> StoreResult<Vec<RuleAlertStats>> {
        let rows = sqlx::query(
            "SELECT r.rule_id AS rule_id, \
                    COALESCE((SELECT d.rule_title FROM detections d WHERE d.rule_id = r.rule_id ORDER BY d.id DESC LIMIT 1), \
                             (SELECT a.title FROM alerts a WHERE a.rule_id = r.rule_id ORDER BY a.id DESC LIMIT 1), \
                             r.rule_id) AS title, \
                    (SELECT COUNT(*) FROM alerts a WHERE a.rule_id = r.rule_id) AS alerts, \
                    (SELECT COALESCE(SUM(suppressed), 0) FROM alert_rate s WHERE s.rule_id = r.rule_id) AS suppressed, \
                    (SELECT COUNT(*) FROM alerts a WHERE a.rule_id = r.rule_id AND a.dismissal = 'false_positive') AS false_positives, \
                    (SELECT COUNT(*) FROM alerts a WHERE a.rule_id = r.rule_id AND a.dismissal = 'benign') AS benign \
             FROM (SELECT DISTINCT rule_id FROM alerts WHERE rule_id IS NOT NULL UNION SELECT DISTINCT rule_id FROM alert_rate) r \
             ORDER BY false_positives DESC, suppressed DESC, alerts DESC, rule_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RuleAlertStats {
                    rule_id: r.try_get("rule_id")?,
                    title: r.try_get("title")?,
                    alerts: r.try_get::<i64, _>("alerts")? as u64,
                    suppressed: r.try_get::<i64, _>("suppressed")? as u64,
                    false_positives: r.try_get::<i64, _>("false_positives")? as u64,
                    benign: r.try_get::<i64, _>("benign")? as u64,
                })
            })
            .collect()
    }

    async fn review_facts_impl(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        tenant: Option<&str>,
    ) -> StoreResult<vigil_core::review::ReviewFacts> {
        let mut tx = self.pool.begin().await?;
        let mut q = QueryBuilder::<Sqlite>::new("SELECT id FROM incidents WHERE detected_at < ");
        q.push_bind(ts(to))
            .push(" AND (closed_at IS NULL OR closed_at >= ")
            .push_bind(ts(from))
            .push(")");
        if let Some(t) = tenant {
            q.push(" AND id IN (SELECT incident_id FROM incident_tenants WHERE name = ")
                .push_bind(t.trim().to_owned())
                .push(")");
        }
        q.push(" ORDER BY seq");
        let ids: Vec<String> = q.build_query_scalar().fetch_all(&mut *tx).await?;
        let mut incidents = Vec::with_capacity(ids.len());
        for id in ids {
            incidents.push(load(&mut tx, IncidentId::parse(&id).map_err(corrupt)?).await?);
        }
        // Acted on: any of the actions that end an alert's wait for a responder.
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT a.id, a.source, a.status, a.dismissal, a.incident, a.first_seen, a.rule_id, \
                    a.title, \
                    (SELECT MIN(l.at) FROM alert_log l WHERE l.alert_id = a.id \
                     AND l.action IN ('acknowledged', 'declared', 'merged', 'resolved', 'dismissed')) \
                    AS taken_up \
             FROM alerts a WHERE a.first_seen >= ",
        );
        q.push_bind(ts(from))
            .push(" AND a.first_seen < ")
            .push_bind(ts(to));
        if let Some(t) = tenant {
            q.push(" AND a.tenant = ").push_bind(t.trim().to_owned());
        }
        q.push(" ORDER BY a.id");
        let rows = q.build().fetch_all(&mut *tx).await?;
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT findings.*, incidents.seq AS incident_seq FROM findings \
             JOIN incidents ON incidents.id = findings.incident_id WHERE findings.created_at < ",
        );
        q.push_bind(ts(to))
            .push(" AND (findings.closed_at IS NULL OR findings.closed_at >= ")
            .push_bind(ts(from))
            .push(")");
        if let Some(t) = tenant {
            q.push(" AND incidents.id IN (SELECT incident_id FROM incident_tenants WHERE name = ")
                .push_bind(t.trim().to_owned())
                .push(")");
        }
        q.push(" ORDER BY findings.seq");
        let findings = q
            .build()
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(finding_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let tenant_seen = match tenant {
            Some(t) => {
                sqlx::query_scalar::<_, bool>(
                    "SELECT EXISTS (SELECT 1 FROM incident_tenants WHERE name = ?1) \
                     OR EXISTS (SELECT 1 FROM alerts WHERE tenant = ?1)",
                )
                .bind(t.trim())
                .fetch_one(&mut *tx)
                .await?
            }
            None => true,
        };
        tx.commit().await?;
        let alerts = rows
            .iter()
            .map(|r| {
                let dismissal: Option<String> = r.try_get("dismissal")?;
                let incident: Option<String> = r.try_get("incident")?;
                Ok(vigil_core::review::AlertFacts {
                    key: format!("ALR-{}", r.try_get::<i64, _>("id")?),
                    source: col_parse(r, "source")?,
                    status: col_parse(r, "status")?,
                    dismissal: dismissal.map(|d| d.parse().map_err(corrupt)).transpose()?,
                    became_incident: incident.is_some(),
                    first_seen: col_ts(r, "first_seen")?,
                    taken_up: col_ts_opt(r, "taken_up")?,
                    rule_id: r.try_get("rule_id")?,
                    title: r.try_get("title")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(vigil_core::review::ReviewFacts {
            incidents,
            alerts,
            findings,
            tenant_seen,
        })
    }

    async fn apply_org_impl(
        &self,
        actor: &str,
        document: serde_json::Value,
    ) -> StoreResult<(OrgVersion, bool)> {
        let text = serde_json::to_string(&document).map_err(corrupt)?;
        let mut tx = self.begin().await?;
        let current = sqlx::query("SELECT * FROM org_versions ORDER BY version DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = &current {
            let stored: String = row.try_get("document")?;
            if stored == text {
                let version = org_row(row)?;
                tx.rollback().await?;
                return Ok((version, false));
            }
        }
        let at = now();
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO org_versions (applied_at, applied_by, document) VALUES (?, ?, ?) RETURNING version",
        )
        .bind(ts(at))
        .bind(actor)
        .bind(&text)
        .fetch_one(&mut *tx)
        .await?;
        append_audit(
            &mut tx,
            actor,
            "org.apply",
            json!({ "version": version, "document": document }),
        )
        .await?;
        tx.commit().await?;
        Ok((
            OrgVersion {
                version,
                applied_at: at,
                applied_by: actor.to_owned(),
                document,
            },
            true,
        ))
    }

    async fn record_matches_impl(
        &self,
        actor: &str,
        detections: Vec<vigil_core::NewDetection>,
        alerts: Vec<(vigil_core::NewAlert, AlertPolicy)>,
        answer: Option<KeyedAnswer>,
    ) -> StoreResult<(Vec<vigil_core::Detection>, Vec<RaisedId>)> {
        let at = now();
        let mut tx = self.begin().await?;
        let recorded = insert_detections(&mut tx, detections, at).await?;
        let raised = raise_all(&mut tx, actor, alerts, at).await?;
        if let Some(answer) = answer {
            let created = raised
                .iter()
                .filter(|r| matches!(r, RaisedId::Created(_)))
                .count();
            record_ingest_key(&mut tx, answer, created, at).await?;
        }
        tx.commit().await?;
        Ok((recorded, raised))
    }

    async fn detections_of_impl(
        &self,
        ids: std::ops::Range<u64>,
    ) -> StoreResult<Vec<(u64, String)>> {
        let clamp = |id: u64| i64::try_from(id).unwrap_or(i64::MAX);
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT event_id, rule_id FROM detections \
             WHERE event_id >= ? AND event_id < ? ORDER BY event_id, id",
        )
        .bind(clamp(ids.start))
        .bind(clamp(ids.end))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, rule)| (id as u64, rule))
            .collect())
    }

    async fn list_detections_impl(
        &self,
        filter: &DetectionFilter,
    ) -> StoreResult<Page<vigil_core::Detection>> {
        let limit = match filter.limit {
            0 => 100,
            n => n.min(1000),
        };
        let push_filters = |q: &mut QueryBuilder<'_, Sqlite>| {
            q.push(" WHERE 1 = 1");
            if let Some(rule) = &filter.rule_id {
                q.push(" AND rule_id = ").push_bind(rule.clone());
            }
            if let Some(service) = &filter.service {
                q.push(" AND service = ").push_bind(service.clone());
            }
            if let Some(host) = &filter.host {
                q.push(" AND host = ").push_bind(host.clone());
            }
            if let Some(tenant) = &filter.tenant {
                q.push(" AND tenant = ").push_bind(tenant.clone());
            }
            // Times are stored in one fixed-width RFC 3339 form, so text order is time order.
            if let Some(from) = filter.from {
                q.push(" AND event_time >= ").push_bind(ts(from));
            }
            if let Some(to) = filter.to {
                q.push(" AND event_time < ").push_bind(ts(to));
            }
            if let Some(level) = filter.min_level {
                q.push(" AND level_rank >= ").push_bind(level_rank(level));
            }
            if let Some(after) = filter.after_id {
                q.push(" AND id > ").push_bind(after);
            }
        };
        // One read transaction, so that `total` counts what the page was taken from.
        let mut tx = self.pool.begin().await?;
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM detections");
        push_filters(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&mut *tx).await?;
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM detections");
        push_filters(&mut q);
        // Following from an id goes forward, oldest first: the page's last id is where the
        // next one starts, and nothing recorded in between is skipped however many arrived.
        q.push(match filter.after_id {
            Some(_) => " ORDER BY id ASC LIMIT ",
            None => " ORDER BY id DESC LIMIT ",
        })
        .push_bind(limit as i64);
        let rows = q.build().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(Page {
            total: total as u64,
            items: rows.iter().map(detection_row).collect::<StoreResult<_>>()?,
        })
    }

    async fn list_tokens_impl(&self) -> StoreResult<Vec<TokenInfo>> {
        let rows = sqlx::query("SELECT * FROM tokens ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(token_row).collect()
    }

    async fn backup_database_impl(
        &self,
        actor: &str,
        details: Value,
        into: &Path,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        append_entry(&mut tx, actor, "backup.take", None, details).await?;
        tx.commit().await?;
        let target = into.to_str().ok_or_else(|| StoreError::Io {
            path: into.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the path of a database copy must be UTF-8",
            ),
        })?;
        // VACUUM INTO reads the database in one read transaction, which in WAL mode runs
        // beside the writer: the copy is the database as of its start, and writes go on.
        let mut conn = self.pool.acquire().await?;
        sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(&mut *conn)
            .await?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(into, std::fs::Permissions::from_mode(0o600))
                .map_err(StoreError::io(into))?;
        }
        Ok(())
    }

    async fn revoke_token_impl(&self, actor: &str, id: Uuid) -> StoreResult<TokenInfo> {
        let at = now();
        let mut tx = self.begin().await?;
        let row = sqlx::query("SELECT * FROM tokens WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("token {id}")))?;
        let mut info = token_row(&row)?;
        if info.revoked_at.is_some() {
            return Err(StoreError::Conflict(format!(
                "token {id} is already revoked"
            )));
        }
        sqlx::query("UPDATE tokens SET revoked_at = ? WHERE id = ?")
            .bind(ts(at))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        info.revoked_at = Some(at);
        append_token_audit(
            &mut tx,
            actor,
            "token.revoke",
            id,
            json!({ "id": id, "name": info.name }),
        )
        .await?;
        tx.commit().await?;
        Ok(info)
    }

    // ---- audit -------------------------------------------------------------------------

    async fn list_audit_impl(&self, f: &AuditFilter) -> StoreResult<Page<AuditEntry>> {
        let filter_id = f.incident_id.map(|i| i.to_string());
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE (? IS NULL OR incident_id = ?)")
                .bind(&filter_id)
                .bind(&filter_id)
                .fetch_one(&self.pool)
                .await?;
        let rows = sqlx::query("SELECT * FROM audit WHERE (? IS NULL OR incident_id = ?) ORDER BY seq LIMIT ? OFFSET ?")
            .bind(&filter_id)
            .bind(&filter_id)
            .bind(clamp(f.limit, 100, 1000))
            .bind(i64::from(f.offset))
            .fetch_all(&self.pool)
            .await?;
        let items = rows.iter().map(audit_row).collect::<StoreResult<_>>()?;
        Ok(Page {
            total: total as u64,
            items,
        })
    }

    async fn verify_evidence_impl(
        &self,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> StoreResult<EvidenceCheck> {
        let rows = sqlx::query(
            "SELECT e.id, e.file_name, e.sha256, e.size, inc.seq FROM evidence e \
             JOIN incidents inc ON inc.id = e.incident_id \
             ORDER BY inc.seq, e.collected_at, e.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let recorded = rows
            .iter()
            .map(|row| Sha256::parse(row.try_get("sha256")?).map_err(corrupt))
            .collect::<StoreResult<Vec<Sha256>>>()?;
        // Evidence of the same content shares one file: each file is hashed once.
        let mut files: Vec<(Sha256, u64)> = Vec::new();
        let mut seen = BTreeSet::new();
        for (row, sha) in rows.iter().zip(&recorded) {
            if seen.insert(sha.clone()) {
                files.push((sha.clone(), row.try_get::<i64, _>("size")? as u64));
            }
        }
        let total: u64 = files.iter().map(|(_, size)| size).sum();
        let mut done = 0u64;
        progress(done, total);
        // What each file hashes to now, `None` for a missing one.
        let mut found: HashMap<Sha256, Option<Sha256>> = HashMap::new();
        for (sha, _) in &files {
            let path = self.evidence_path(sha);
            let actual = match tokio::fs::File::open(&path).await {
                Ok(mut file) => Some(
                    sha256_reporting(&mut file, 1024 * 1024, |n| {
                        done += n;
                        progress(done, total);
                    })
                    .await
                    .map_err(StoreError::io(&path))?,
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(StoreError::io(&path)(e)),
            };
            found.insert(sha.clone(), actual);
        }
        let mut problems = Vec::new();
        for (row, expected) in rows.iter().zip(recorded) {
            let actual = found.get(&expected).cloned().flatten();
            if actual.as_ref() == Some(&expected) {
                continue;
            }
            problems.push(EvidenceProblem {
                incident: key_of(row.try_get("seq")?)?,
                evidence_id: col_uuid(row, "id")?,
                file_name: row.try_get("file_name")?,
                expected,
                actual,
            });
        }
        Ok(EvidenceCheck {
            files: files.len() as u64,
            items: rows.len() as u64,
            problems,
        })
    }

    async fn verify_audit_impl(&self) -> StoreResult<Result<AuditVerified, ChainBreak>> {
        // One read transaction: the chain, its head and the records as of one instant, so that
        // a write the running server commits meanwhile cannot look like tampering.
        let mut tx = self.pool.begin().await?;
        let verified = verify_in(&mut tx).await;
        tx.rollback().await?;
        verified
    }
}

/// `verify_audit` inside `conn`'s read transaction: the chain's links, its head, then every
/// record ([`stored_records`]) against the latest state the chain recorded for it.
async fn verify_in(conn: &mut SqliteConnection) -> StoreResult<Result<AuditVerified, ChainBreak>> {
    let rows = sqlx::query("SELECT * FROM audit ORDER BY seq")
        .fetch_all(&mut *conn)
        .await?;
    let mut entries = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        match audit_row(row) {
            Ok(e) => entries.push(e),
            // An unreadable row was altered by hand: that is where the chain breaks.
            Err(_) => {
                let seq = row
                    .try_get::<i64, _>("seq")
                    .map(|s| s as u64)
                    .unwrap_or(i as u64 + 1);
                if let Err(b) = verify_chain(entries) {
                    return Ok(Err(b));
                }
                return Ok(Err(ChainBreak {
                    seq,
                    problem: ChainProblem::HashMismatch,
                }));
            }
        }
    }
    let recorded = recorded_states(&entries);
    let count = match verify_chain(entries) {
        Ok(n) => n,
        Err(b) => return Ok(Err(b)),
    };
    let head: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await?;
    let last_hash = rows
        .last()
        .map(|r| r.try_get::<String, _>("hash"))
        .transpose()?;
    let Some((written, head_hash)) = head else {
        // Every write to an incident, a token or the organisation document is audited: records
        // without a head were
        // left behind by a chain emptied or cut by hand.
        let (incidents, tokens, versions): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM incidents), (SELECT COUNT(*) FROM tokens), \
             (SELECT COUNT(*) FROM org_versions)",
        )
        .fetch_one(&mut *conn)
        .await?;
        if count == 0 && incidents == 0 && tokens == 0 && versions == 0 {
            return Ok(Ok(AuditVerified {
                entries: 0,
                records_checked: 0,
                records_unchecked: 0,
            }));
        }
        let records = [
            (count, "entry", "entries"),
            (incidents as u64, "incident", "incidents"),
            (tokens as u64, "token", "tokens"),
            (
                versions as u64,
                "organisation document version",
                "organisation document versions",
            ),
        ]
        .into_iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, one, many)| format!("{n} {}", if n == 1 { one } else { many }))
        .collect::<Vec<_>>()
        .join(", ");
        return Ok(Err(ChainBreak {
            seq: count.max(1),
            problem: ChainProblem::HeadMissing { records },
        }));
    };
    let written = written as u64;
    if written > count {
        return Ok(Err(ChainBreak {
            seq: count + 1,
            problem: ChainProblem::Truncated {
                expected: written,
                found: count,
            },
        }));
    }
    if written < count || last_hash.as_deref() != Some(head_hash.as_str()) {
        return Ok(Err(ChainBreak {
            seq: written.min(count),
            problem: ChainProblem::HeadMismatch {
                expected: written,
                found: count,
            },
        }));
    }
    let checked = match stored_records(conn, &recorded).await? {
        Ok(stored) => check_records(&recorded, stored),
        Err(problem) => Err(problem),
    };
    Ok(match checked {
        Ok(counts) => Ok(AuditVerified {
            entries: count,
            records_checked: counts.checked,
            records_unchecked: counts.unchecked,
        }),
        Err(problem) => Err(ChainBreak {
            seq: count,
            problem,
        }),
    })
}

/// Every token, version of the organisation document, incident and alert people acted on as
/// stored now, with the digest of its state; tokens first, as a token made or changed by hand is
/// the most dangerous finding, then the document that says whom to page. A row whose id is not
/// one Vigil writes cannot be the record any entry wrote: it is unaudited.
///
/// An alert is raised unaudited (at ingest rate, like detections) and becomes an audited record
/// at a person's first step on it: so the alerts compared are those the trail wrote
/// (`recorded`), and those that look acted on — a status other than `triggered` or an audited
/// step in their log —, which the trail must have written.
async fn stored_records(
    conn: &mut SqliteConnection,
    recorded: &BTreeMap<AuditedRecord, vigil_core::audit::RecordedState>,
) -> StoreResult<Result<Vec<StoredRecord>, ChainProblem>> {
    let mut out = Vec::new();
    let tokens = sqlx::query("SELECT * FROM tokens ORDER BY created_at, id")
        .fetch_all(&mut *conn)
        .await?;
    for row in &tokens {
        let name = row
            .try_get::<Option<String>, _>("name")
            .ok()
            .flatten()
            .unwrap_or_default();
        let id = row.try_get::<Option<String>, _>("id").ok().flatten();
        let Some(id) = id.as_deref().and_then(|id| Uuid::parse_str(id).ok()) else {
            return Ok(Err(ChainProblem::RecordUnaudited {
                record: format!("token {name:?} (id {})", id.as_deref().unwrap_or("NULL")),
            }));
        };
        let state = match (token_row(row), row.try_get::<String, _>("token_hash")) {
            (Ok(info), Ok(hash)) => Some(token_state(&info, &hash)),
            (Err(e), _) if !unreadable(&e) => return Err(e),
            _ => None,
        };
        out.push(StoredRecord {
            record: AuditedRecord::Token(id),
            name,
            state,
        });
    }
    let versions = sqlx::query("SELECT * FROM org_versions ORDER BY version")
        .fetch_all(&mut *conn)
        .await?;
    for row in &versions {
        let version: i64 = row.try_get("version")?;
        let state = match org_row(row) {
            Ok(v) => Some(org_state(v.version, &v.applied_by, &v.document)),
            Err(e) if unreadable(&e) => None,
            Err(e) => return Err(e),
        };
        out.push(StoredRecord {
            record: AuditedRecord::OrgVersion(version),
            name: String::new(),
            state,
        });
    }
    let incidents = sqlx::query("SELECT id, seq FROM incidents ORDER BY seq, id")
        .fetch_all(&mut *conn)
        .await?;
    for row in &incidents {
        let seq = row.try_get::<Option<i64>, _>("seq").ok().flatten();
        let name = seq
            .and_then(|seq| key_of(seq).ok())
            .map(|key| key.to_string())
            .unwrap_or_else(|| {
                format!("with seq {}", seq.map_or("NULL".into(), |s| s.to_string()))
            });
        let id = row.try_get::<Option<String>, _>("id").ok().flatten();
        let Some(id) = id.as_deref().and_then(|id| IncidentId::parse(id).ok()) else {
            return Ok(Err(ChainProblem::RecordUnaudited {
                record: format!("incident {name} (id {})", id.as_deref().unwrap_or("NULL")),
            }));
        };
        let state = match incident_state_of(conn, id).await {
            Ok((_, state)) => Some(state),
            Err(e) if unreadable(&e) => None,
            Err(e) => return Err(e),
        };
        out.push(StoredRecord {
            record: AuditedRecord::Incident(id),
            name,
            state,
        });
    }
    let mut acted = QueryBuilder::<Sqlite>::new(
        "SELECT id FROM alerts WHERE status <> 'triggered' OR id IN \
         (SELECT alert_id FROM alert_log WHERE action IN (",
    );
    let mut actions = acted.separated(", ");
    for action in AUDITED_ALERT_ACTIONS {
        actions.push_bind(action);
    }
    acted.push("))");
    let mut alerts: BTreeSet<i64> = acted
        .build_query_scalar()
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
    alerts.extend(recorded.keys().filter_map(|r| match r {
        AuditedRecord::Alert(id) => Some(*id),
        _ => None,
    }));
    for id in alerts {
        let state = match load_alert(conn, id, true).await {
            Ok(alert) => Some(alert_state(&alert)),
            // Gone: the comparison with the trail names it.
            Err(StoreError::NotFound(_)) => continue,
            Err(e) if unreadable(&e) => None,
            Err(e) => return Err(e),
        };
        out.push(StoredRecord {
            record: AuditedRecord::Alert(id),
            name: String::new(),
            state,
        });
    }
    Ok(Ok(out))
}

/// Whether an error reading a record back means the stored values are not ones Vigil writes
/// (changed by hand), rather than that the database failed.
fn unreadable(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Corrupt(_)
            | StoreError::Db(sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_))
    )
}

/// Which rows besides the incident row a write touches.
enum Persist {
    Row,
    Names,
    Severity,
    Phase,
    Correction,
    /// The finding of this key, raised or changed.
    Finding(FindingKey),
}

// ---- row helpers -------------------------------------------------------------------------

fn key_of(seq: i64) -> StoreResult<IncidentKey> {
    IncidentKey::new(seq as u64).map_err(corrupt)
}

async fn key_of_id(conn: &mut SqliteConnection, id: IncidentId) -> StoreResult<IncidentKey> {
    let seq: i64 = sqlx::query_scalar("SELECT seq FROM incidents WHERE id = ?")
        .bind(id.to_string())
        .fetch_one(&mut *conn)
        .await?;
    key_of(seq)
}

async fn resolve(conn: &mut SqliteConnection, r: &IncidentRef) -> StoreResult<IncidentId> {
    let id: Option<String> = match r {
        IncidentRef::Key(k) => {
            sqlx::query_scalar("SELECT id FROM incidents WHERE seq = ?")
                .bind(k.number() as i64)
                .fetch_optional(&mut *conn)
                .await?
        }
        IncidentRef::Id(id) => {
            sqlx::query_scalar("SELECT id FROM incidents WHERE id = ?")
                .bind(id.to_string())
                .fetch_optional(&mut *conn)
                .await?
        }
    };
    let id = id.ok_or_else(|| not_found(r))?;
    IncidentId::parse(&id).map_err(corrupt)
}

async fn touch(
    conn: &mut SqliteConnection,
    ids: &[IncidentId],
    at: DateTime<Utc>,
) -> StoreResult<()> {
    for id in ids {
        sqlx::query("UPDATE incidents SET updated_at = ? WHERE id = ?")
            .bind(ts(at))
            .bind(id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

const TIMESTAMP_COLUMNS: [(TimestampKind, &str); 8] = [
    (TimestampKind::FirstActivity, "first_activity_at"),
    (TimestampKind::Detected, "detected_at"),
    (TimestampKind::Acknowledged, "acknowledged_at"),
    (TimestampKind::Declared, "declared_at"),
    (TimestampKind::Contained, "contained_at"),
    (TimestampKind::Eradicated, "eradicated_at"),
    (TimestampKind::Recovered, "recovered_at"),
    (TimestampKind::Closed, "closed_at"),
];

/// Opens an incident inside `conn`'s transaction: its key `INC-n` is the next one there.
async fn create_incident_in(
    conn: &mut SqliteConnection,
    actor: &str,
    new: NewIncident,
    at: DateTime<Utc>,
) -> StoreResult<Incident> {
    let n: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM incidents")
        .fetch_one(&mut *conn)
        .await?;
    let key = IncidentKey::new(n as u64)?;
    let mut new = new;
    new.first_activity = new.first_activity.map(truncate_micros);
    new.detected = new.detected.map(truncate_micros);
    let incident = Incident::open(IncidentId::new(), key, new, actor, at)?;
    insert_incident(conn, &incident).await?;
    replace_names(conn, "incident_services", incident.id, &incident.services).await?;
    replace_names(conn, "incident_tenants", incident.id, &incident.tenants).await?;
    insert_severity_change(conn, incident.id, 1, &incident.severity_history[0]).await?;
    for ind in &incident.indicators {
        insert_indicator(conn, incident.id, ind).await?;
    }
    let stored = load(conn, incident.id).await?;
    append_incident_audit(
        conn,
        actor,
        "incident.create",
        incident.id,
        &[],
        serde_json::to_value(&stored).unwrap_or(Value::Null),
    )
    .await
}

/// Adds validated indicators to incident `id` inside `conn`'s transaction; for each, the
/// indicator on the incident and whether it is new (only new ones are written and audited).
async fn add_indicators_in(
    conn: &mut SqliteConnection,
    actor: &str,
    id: IncidentId,
    values: &[(vigil_core::IndicatorValue, Option<String>)],
    at: DateTime<Utc>,
) -> StoreResult<Vec<(Indicator, bool)>> {
    let mut incident = load(conn, id).await?;
    // Also what refuses to merge alerts into a closed incident.
    incident.ensure_open()?;
    let mut out = Vec::new();
    for (v, note) in values {
        let (ind, added) = incident.add_indicator(v, note.as_deref(), actor, at);
        if added {
            insert_indicator(conn, id, &ind).await?;
        }
        out.push((ind, added));
    }
    if out.iter().any(|(_, added)| *added) {
        update_incident_row(conn, &incident).await?;
        let added: Vec<&Indicator> = out.iter().filter(|(_, a)| *a).map(|(i, _)| i).collect();
        append_incident_audit(
            conn,
            actor,
            "indicator.add",
            id,
            &[],
            json!({ "key": incident.key, "added": added }),
        )
        .await?;
    }
    Ok(out)
}

/// An action-log text, checked: not blank, at most [`MAX_TEXT`] characters.
fn action_text(text: &str) -> StoreResult<String> {
    let text = vigil_core::required_text("text", text)?;
    if text.chars().count() > MAX_TEXT {
        return Err(DomainError::invalid(
            "text",
            format!("longer than {MAX_TEXT} characters; split it or attach it as evidence"),
        )
        .into());
    }
    Ok(text)
}

/// Adds the services, tenants and ATT&CK techniques an incident lacks, audited as an update;
/// whether anything was added. Those it already has, repeated or blank are left out.
async fn extend_scope_in(
    tx: &mut SqliteConnection,
    actor: &str,
    id: IncidentId,
    services: Vec<String>,
    tenants: Vec<String>,
    techniques: Vec<Technique>,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut incident = load(tx, id).await?;
    let missing = |have: &[String], add: Vec<String>| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for name in add {
            if !name.trim().is_empty() && !have.contains(&name) && !out.contains(&name) {
                out.push(name);
            }
        }
        out
    };
    let services = missing(&incident.services, services);
    let tenants = missing(&incident.tenants, tenants);
    let have: Vec<String> = incident
        .techniques
        .iter()
        .map(Technique::to_string)
        .collect();
    let techniques = missing(&have, techniques.iter().map(Technique::to_string).collect());
    if services.is_empty() && tenants.is_empty() && techniques.is_empty() {
        return Ok(false);
    }
    let patch = IncidentPatch {
        services: (!services.is_empty()).then(|| [incident.services.clone(), services].concat()),
        tenants: (!tenants.is_empty()).then(|| [incident.tenants.clone(), tenants].concat()),
        techniques: (!techniques.is_empty()).then(|| [have, techniques].concat()),
        ..IncidentPatch::default()
    };
    let priority = (incident.priority, incident.priority_history.len());
    let before = incident.clone();
    let fields = incident.apply_patch(patch.clone(), actor, at)?;
    let payload = json!({ "key": incident.key, "fields": fields, "patch": patch });
    let payload = record_priority_moves(tx, &incident, priority, payload).await?;
    let payload = log_record_changes(tx, actor, &before, &incident, at, payload).await?;
    update_incident_row(tx, &incident).await?;
    replace_names(tx, "incident_services", id, &incident.services).await?;
    replace_names(tx, "incident_tenants", id, &incident.tenants).await?;
    append_incident_audit(tx, actor, "incident.update", id, &[], payload).await?;
    Ok(true)
}

/// Moves incident `id`'s first activity back to `seen` inside `conn`'s transaction when that is
/// earlier ([`vigil_core::Incident::activity_seen`]): a correction with `reason`, audited as
/// any correction is.
async fn first_activity_seen_in(
    conn: &mut SqliteConnection,
    actor: &str,
    id: IncidentId,
    seen: DateTime<Utc>,
    reason: &str,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let mut incident = load(conn, id).await?;
    let Some(correction) = incident.activity_seen(truncate_micros(seen), actor, reason, at)? else {
        return Ok(());
    };
    update_incident_row(conn, &incident).await?;
    let n = incident.timestamp_corrections.len();
    insert_correction(conn, id, n, &correction).await?;
    append_incident_audit(
        conn,
        actor,
        "incident.timestamp",
        id,
        &[],
        payload(incident.key, "correction", &correction),
    )
    .await?;
    Ok(())
}

/// Appends a checked ([`action_text`]) entry to incident `id`'s action log inside `conn`'s
/// transaction.
async fn append_action_in(
    conn: &mut SqliteConnection,
    actor: &str,
    id: IncidentId,
    kind: ActionKind,
    text: String,
    at: DateTime<Utc>,
) -> StoreResult<ActionEntry> {
    let entry = insert_action(conn, actor, id, kind, text, at).await?;
    let key = key_of_id(conn, id).await?;
    append_incident_audit(
        conn,
        actor,
        "action.append",
        id,
        &[],
        json!({ "key": key, "action": entry }),
    )
    .await?;
    Ok(entry)
}

/// Writes an entry of incident `id`'s action log inside `conn`'s transaction, without an audit
/// entry of its own: the caller's write appends one after it, whose recorded state covers it.
async fn insert_action(
    conn: &mut SqliteConnection,
    actor: &str,
    id: IncidentId,
    kind: ActionKind,
    text: String,
    at: DateTime<Utc>,
) -> StoreResult<ActionEntry> {
    let position: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(position), 0) + 1 FROM actions WHERE incident_id = ?",
    )
    .bind(id.to_string())
    .fetch_one(&mut *conn)
    .await?;
    let entry = ActionEntry {
        id: Uuid::now_v7(),
        incident_id: id,
        actor: actor.to_owned(),
        at,
        kind,
        text,
    };
    sqlx::query("INSERT INTO actions (id, incident_id, position, actor, at, kind, text) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(entry.id.to_string())
        .bind(id.to_string())
        .bind(position)
        .bind(actor)
        .bind(ts(at))
        .bind(kind.as_str())
        .bind(&entry.text)
        .execute(&mut *conn)
        .await?;
    touch(conn, &[id], at).await?;
    Ok(entry)
}

/// Logs what a write changed in incident `id`'s record fields (`before` → `after`,
/// [`vigil_core::record_changes`]) as a `change` entry of its action log, inside `conn`'s
/// transaction, and names the entry in the write's audit `payload`; nothing when no such field
/// changed.
async fn log_record_changes(
    conn: &mut SqliteConnection,
    actor: &str,
    before: &Incident,
    after: &Incident,
    at: DateTime<Utc>,
    payload: Value,
) -> StoreResult<Value> {
    let Some(text) = vigil_core::record_changes(before, after) else {
        return Ok(payload);
    };
    let entry = insert_action(conn, actor, after.id, ActionKind::Change, text, at).await?;
    let mut payload = as_object(payload);
    payload.insert("logged".to_owned(), json!(entry));
    Ok(Value::Object(payload))
}

/// Evidence metadata checked: a file name without a path, a description trimmed (none when
/// blank) and checked as any multi-line text.
fn checked_evidence(meta: NewEvidence) -> StoreResult<NewEvidence> {
    Ok(NewEvidence {
        file_name: check_file_name(&meta.file_name)?,
        description: check_description(meta.description.as_deref())?,
    })
}

/// Records evidence whose content is in the evidence store (`blob`: its hash and size) on
/// incident `id` with a first custody entry, inside `conn`'s transaction; `meta` as
/// [`checked_evidence`] gives it.
async fn add_evidence_in(
    conn: &mut SqliteConnection,
    actor: &str,
    id: IncidentId,
    meta: NewEvidence,
    (sha256, size): (Sha256, u64),
    at: DateTime<Utc>,
) -> StoreResult<Evidence> {
    let evidence_id = Uuid::now_v7();
    sqlx::query("INSERT INTO evidence (id, incident_id, file_name, sha256, size, collected_by, collected_at, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(evidence_id.to_string())
        .bind(id.to_string())
        .bind(&meta.file_name)
        .bind(sha256.as_str())
        .bind(size as i64)
        .bind(actor)
        .bind(ts(at))
        .bind(&meta.description)
        .execute(&mut *conn)
        .await?;
    let custody = CustodyEntry::new(actor, at, "collected", "uploaded to Vigil")?;
    insert_custody(conn, evidence_id, 1, &custody).await?;
    touch(conn, &[id], at).await?;
    let evidence = load_evidence(conn, id, evidence_id).await?;
    let key = key_of_id(conn, id).await?;
    append_incident_audit(
        conn,
        actor,
        "evidence.add",
        id,
        &[],
        json!({ "key": key, "evidence": evidence }),
    )
    .await?;
    Ok(evidence)
}

/// Resolves open alerts as declared as (or merged into) `incident` inside `conn`'s
/// transaction, logged and audited; refuses if any is closed already.
async fn close_alerts_in(
    conn: &mut SqliteConnection,
    actor: &str,
    ids: &[i64],
    incident: &str,
    declared: bool,
) -> StoreResult<()> {
    for &id in ids {
        let current = load_alert(conn, id, false).await?;
        vigil_core::AlertAction::Resolve.apply(current.status)?;
        sqlx::query("UPDATE alert_escalations SET done = 1 WHERE alert_id = ?")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM alert_page_retries WHERE alert_id = ?")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        sqlx::query("UPDATE alerts SET status = 'resolved', incident = ? WHERE id = ?")
            .bind(incident)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        let (action, text) = if declared {
            ("declared", format!("declared as incident {incident}"))
        } else {
            ("merged", format!("merged into incident {incident}"))
        };
        log_alert(conn, id, actor, action, &text).await?;
        append_alert_audit(conn, actor, action, id, json!({ "incident": incident })).await?;
    }
    Ok(())
}

async fn insert_incident(conn: &mut SqliteConnection, i: &Incident) -> StoreResult<()> {
    sqlx::query("INSERT INTO incidents (id, seq, title, summary, severity, priority, phase, tlp, pap, customer_facing, techniques, data_impact, next_steps, created_by, created_at, updated_at) VALUES (?, ?, '', '', '', '', '', '', '', 0, '[]', '{}', '[]', ?, ?, ?)")
        .bind(i.id.to_string())
        .bind(i.key.number() as i64)
        .bind(&i.created_by)
        .bind(ts(i.created_at))
        .bind(ts(i.updated_at))
        .execute(&mut *conn)
        .await?;
    update_incident_row(conn, i).await
}

async fn update_incident_row(conn: &mut SqliteConnection, i: &Incident) -> StoreResult<()> {
    let t = &i.timestamps;
    sqlx::query(
        "UPDATE incidents SET title = ?, summary = ?, search_text = ?, severity = ?, priority = ?, phase = ?, category = ?, \
         tlp = ?, pap = ?, customer_facing = ?, techniques = ?, root_cause = ?, post_mortem = ?, \
         post_mortem_history = ?, data_impact = ?, next_steps = ?, first_activity_at = ?, detected_at = ?, acknowledged_at = ?, \
         declared_at = ?, contained_at = ?, eradicated_at = ?, recovered_at = ?, closed_at = ?, updated_at = ? \
         WHERE id = ?",
    )
    .bind(&i.title)
    .bind(&i.summary)
    .bind(search_text(&i.title, &i.summary))
    .bind(i.severity.as_str())
    .bind(i.priority.as_str())
    .bind(i.phase.as_str())
    .bind(i.category.map(|c| c.as_str()))
    .bind(i.tlp.as_str())
    .bind(i.pap.as_str())
    .bind(i.customer_facing)
    .bind(to_json(&i.techniques))
    .bind(&i.root_cause)
    .bind(i.post_mortem.as_ref().map(to_json))
    .bind((!i.post_mortem_history.is_empty()).then(|| to_json(&i.post_mortem_history)))
    .bind(to_json(&i.data_impact))
    .bind(to_json(&i.next_steps))
    .bind(ts_opt(t.first_activity))
    .bind(ts_opt(t.detected))
    .bind(ts_opt(t.acknowledged))
    .bind(ts_opt(t.declared))
    .bind(ts_opt(t.contained))
    .bind(ts_opt(t.eradicated))
    .bind(ts_opt(t.recovered))
    .bind(ts_opt(t.closed))
    .bind(ts(i.updated_at))
    .bind(i.id.to_string())
    .execute(&mut *conn)
    .await?;
    // The assessment history only grows: the rows a write added are those not stored yet.
    for (pos, d) in (1i64..).zip(&i.data_impact_history) {
        sqlx::query("INSERT OR IGNORE INTO data_impact_assessments (incident_id, position, assessment) VALUES (?, ?, ?)")
            .bind(i.id.to_string())
            .bind(pos)
            .bind(to_json(d))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The finding of `key` in the incident a write stored.
fn finding_of(stored: Incident, key: Option<FindingKey>) -> StoreResult<Finding> {
    stored
        .findings
        .into_iter()
        .find(|f| Some(f.key) == key)
        .ok_or_else(|| corrupt("a finding written is not in its incident as stored"))
}

/// Writes finding `f` of incident `id`, new or changed, inside `conn`'s transaction.
async fn save_finding(conn: &mut SqliteConnection, id: IncidentId, f: &Finding) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO findings (seq, incident_id, title, description, kind, team, assignee, due, state, \
         ticket, raised_in, created_by, created_at, updated_at, closed_at, history) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (seq) DO UPDATE SET title = excluded.title, description = excluded.description, \
         kind = excluded.kind, team = excluded.team, assignee = excluded.assignee, due = excluded.due, \
         state = excluded.state, ticket = excluded.ticket, updated_at = excluded.updated_at, \
         closed_at = excluded.closed_at, history = excluded.history",
    )
    .bind(f.key.number() as i64)
    .bind(id.to_string())
    .bind(&f.title)
    .bind(&f.description)
    .bind(f.kind.as_str())
    .bind(&f.team)
    .bind(&f.assignee)
    .bind(f.due.map(|d| d.to_string()))
    .bind(f.state.as_str())
    .bind(&f.ticket)
    .bind(f.raised_in.as_str())
    .bind(&f.created_by)
    .bind(ts(f.created_at))
    .bind(ts(f.updated_at))
    .bind(ts_opt(f.closed_at))
    .bind(to_json(&f.history))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A finding from a `findings` row joined with its incident's `seq` as `incident_seq`.
fn finding_row(row: &SqliteRow) -> StoreResult<Finding> {
    let due: Option<String> = row.try_get("due")?;
    let history: Vec<FindingChange> = col_json(row, "history")?;
    Ok(Finding {
        key: FindingKey::new(row.try_get::<i64, _>("seq")? as u64).map_err(corrupt)?,
        incident: key_of(row.try_get("incident_seq")?)?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        kind: col_parse(row, "kind")?,
        team: row.try_get("team")?,
        assignee: row.try_get("assignee")?,
        due: due
            .map(|d| d.parse().map_err(|e| corrupt(format!("due {d:?}: {e}"))))
            .transpose()?,
        state: col_parse(row, "state")?,
        ticket: row.try_get("ticket")?,
        raised_in: col_parse(row, "raised_in")?,
        created_by: row.try_get("created_by")?,
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
        closed_at: col_ts_opt(row, "closed_at")?,
        history,
    })
}

fn push_finding_filters(
    q: &mut QueryBuilder<'_, Sqlite>,
    f: &FindingFilter,
    incident: Option<IncidentId>,
) {
    if let Some(t) = &f.team {
        q.push(" AND findings.team = ").push_bind(t.clone());
    }
    if let Some(s) = f.state {
        q.push(" AND findings.state = ").push_bind(s.as_str());
    }
    if let Some(k) = f.kind {
        q.push(" AND findings.kind = ").push_bind(k.as_str());
    }
    if f.open == Some(true) || f.overdue_on.is_some() {
        q.push(" AND findings.state IN ('open', 'in_progress')");
    }
    if f.open == Some(false) {
        q.push(" AND findings.state IN ('done', 'wont_fix')");
    }
    if let Some(day) = f.overdue_on {
        q.push(" AND findings.due < ").push_bind(day.to_string());
    }
    if let Some(id) = incident {
        q.push(" AND findings.incident_id = ")
            .push_bind(id.to_string());
    }
    if let Some(from) = f.created_from {
        q.push(" AND findings.created_at >= ").push_bind(ts(from));
    }
    if let Some(to) = f.created_to {
        q.push(" AND findings.created_at < ").push_bind(ts(to));
    }
    if let Some(from) = f.closed_from {
        q.push(" AND findings.closed_at >= ").push_bind(ts(from));
    }
    if let Some(to) = f.closed_to {
        q.push(" AND findings.closed_at < ").push_bind(ts(to));
    }
}

async fn replace_names(
    conn: &mut SqliteConnection,
    table: &'static str,
    id: IncidentId,
    names: &[String],
) -> StoreResult<()> {
    sqlx::query(&format!("DELETE FROM {table} WHERE incident_id = ?"))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    for (pos, name) in (1i64..).zip(names) {
        sqlx::query(&format!(
            "INSERT INTO {table} (incident_id, position, name) VALUES (?, ?, ?)"
        ))
        .bind(id.to_string())
        .bind(pos)
        .bind(name)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn insert_severity_change(
    conn: &mut SqliteConnection,
    id: IncidentId,
    pos: usize,
    c: &SeverityChange,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO severity_changes (incident_id, position, from_severity, to_severity, actor, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(id.to_string())
        .bind(pos as i64)
        .bind(c.from.map(Severity::as_str))
        .bind(c.to.as_str())
        .bind(&c.actor)
        .bind(&c.reason)
        .bind(ts(c.at))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Stores the priority moves a change made (those after the first `before.1` of the history)
/// and, when the priority moved, adds it to the audit payload as `priority: {from, to,
/// reason}`: the audit trail then says what the change did to the priority as well.
async fn record_priority_moves(
    conn: &mut SqliteConnection,
    incident: &Incident,
    before: (Priority, usize),
    mut payload: Value,
) -> StoreResult<Value> {
    let (from, known) = before;
    for (pos, c) in incident.priority_history.iter().enumerate().skip(known) {
        sqlx::query("INSERT INTO priority_changes (incident_id, position, from_priority, to_priority, actor, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .bind(incident.id.to_string())
            .bind(pos as i64 + 1)
            .bind(c.from.as_str())
            .bind(c.to.as_str())
            .bind(&c.actor)
            .bind(&c.reason)
            .bind(ts(c.at))
            .execute(&mut *conn)
            .await?;
    }
    if incident.priority != from
        && let Value::Object(fields) = &mut payload
    {
        let reason = incident.priority_history.last().map(|c| c.reason.as_str());
        fields.insert(
            "priority".to_owned(),
            json!({ "from": from, "to": incident.priority, "reason": reason }),
        );
    }
    Ok(payload)
}

async fn insert_phase_change(
    conn: &mut SqliteConnection,
    id: IncidentId,
    pos: usize,
    c: &PhaseChange,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO phase_changes (incident_id, position, from_phase, to_phase, actor, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(id.to_string())
        .bind(pos as i64)
        .bind(c.from.as_str())
        .bind(c.to.as_str())
        .bind(&c.actor)
        .bind(&c.reason)
        .bind(ts(c.at))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn insert_correction(
    conn: &mut SqliteConnection,
    id: IncidentId,
    pos: usize,
    c: &TimestampCorrection,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO timestamp_corrections (incident_id, position, kind, from_at, to_at, actor, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(id.to_string())
        .bind(pos as i64)
        .bind(c.kind.as_str())
        .bind(ts_opt(c.from))
        .bind(ts_opt(c.to))
        .bind(&c.actor)
        .bind(&c.reason)
        .bind(ts(c.at))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn insert_indicator(
    conn: &mut SqliteConnection,
    id: IncidentId,
    i: &Indicator,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO indicators (id, incident_id, kind, value, note, added_by, added_at, removed_by, removed_at, removal_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(i.id.to_string())
        .bind(id.to_string())
        .bind(i.kind.as_str())
        .bind(&i.value)
        .bind(&i.note)
        .bind(&i.added_by)
        .bind(ts(i.added_at))
        .bind(&i.removed_by)
        .bind(ts_opt(i.removed_at))
        .bind(&i.removal_reason)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The custody action recorded for each download of an evidence file.
const DOWNLOADED: &str = "downloaded";
/// Why, as far as the store knows: a download asks for no reason, and says who and when.
const DOWNLOAD_REASON: &str = "a copy was sent to them by the server";

async fn insert_custody(
    conn: &mut SqliteConnection,
    evidence_id: Uuid,
    pos: usize,
    c: &CustodyEntry,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO custody (evidence_id, position, actor, at, action, reason) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(evidence_id.to_string())
        .bind(pos as i64)
        .bind(&c.actor)
        .bind(ts(c.at))
        .bind(&c.action)
        .bind(&c.reason)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn indicator_row(row: &SqliteRow) -> StoreResult<Indicator> {
    Ok(Indicator {
        id: col_uuid(row, "id")?,
        kind: col_parse(row, "kind")?,
        value: row.try_get("value")?,
        note: row.try_get("note")?,
        added_by: row.try_get("added_by")?,
        added_at: col_ts(row, "added_at")?,
        removed_by: row.try_get("removed_by")?,
        removed_at: col_ts_opt(row, "removed_at")?,
        removal_reason: row.try_get("removal_reason")?,
    })
}

fn token_row(row: &SqliteRow) -> StoreResult<TokenInfo> {
    Ok(TokenInfo {
        id: col_uuid(row, "id")?,
        name: row.try_get("name")?,
        role: col_parse(row, "role")?,
        created_by: row.try_get("created_by")?,
        created_at: col_ts(row, "created_at")?,
        revoked_at: col_ts_opt(row, "revoked_at")?,
        service: row.try_get("service")?,
        tenant: row.try_get("tenant")?,
    })
}

/// A token's service or tenant binding: absent, or a non-blank name without control characters.
fn scope_value(field: &'static str, value: Option<&str>) -> StoreResult<Option<String>> {
    let Some(v) = value else { return Ok(None) };
    let v = vigil_core::required_line(field, v)?;
    if v.chars().count() > 200 {
        return Err(DomainError::invalid(field, "has at most 200 characters; shorten it").into());
    }
    Ok(Some(v))
}

/// Events kept per alert: enough to triage and to declare an incident from; the count says
/// how many times it fired in all.
const MAX_ALERT_EVENTS: i64 = 100;

/// Inserts detections inside the caller's transaction, a few hundred rows per statement.
/// Records the answer to a batch sent under an idempotency key (`created`: the alerts its
/// recording created), and forgets the keys recorded before the answer's `forget_before`. A key
/// that already answers for another batch (another fingerprint) keeps its answer: the first
/// batch recorded under a key is the one a resend is compared with, whatever is recorded
/// after it.
async fn record_ingest_key(
    tx: &mut SqliteConnection,
    answer: KeyedAnswer,
    created: usize,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM ingest_keys WHERE created_at < ?")
        .bind(ts(answer.forget_before))
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO ingest_keys (token_id, key, fingerprint, response, created_at) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (token_id, key) DO UPDATE SET response = excluded.response, created_at = excluded.created_at \
         WHERE ingest_keys.fingerprint = excluded.fingerprint",
    )
    .bind(answer.token.to_string())
    .bind(&answer.key)
    .bind(&answer.fingerprint)
    .bind((answer.answer)(created))
    .bind(ts(at))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn insert_detections(
    tx: &mut SqliteConnection,
    detections: Vec<vigil_core::NewDetection>,
    at: DateTime<Utc>,
) -> StoreResult<Vec<vigil_core::Detection>> {
    /// Rows per INSERT: 11 parameters each, well under SQLite's limit of 32,766.
    const ROWS_PER_INSERT: usize = 500;
    let tags: Vec<String> = detections
        .iter()
        .map(|d| serde_json::to_string(&d.tags).map_err(corrupt))
        .collect::<Result<_, _>>()?;
    let mut ids: Vec<i64> = Vec::with_capacity(detections.len());
    for (rows, tags) in detections
        .chunks(ROWS_PER_INSERT)
        .zip(tags.chunks(ROWS_PER_INSERT))
    {
        // OR FAIL: a failing row ends the statement without undoing its earlier rows, so
        // SQLite keeps no statement journal of the pages a multi-row insert changes (a third
        // of its work here, measured); the transaction is rolled back whole on any error.
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT OR FAIL INTO detections (detected_at, event_id, event_time, service, host, tenant, rule_id, rule_title, level, level_rank, tags) ",
        );
        q.push_values(rows.iter().zip(tags), |mut row, (d, tags)| {
            row.push_bind(ts(at))
                .push_bind(d.event_id as i64)
                .push_bind(ts(d.event_time))
                .push_bind(d.service.clone())
                .push_bind(d.host.clone())
                .push_bind(d.tenant.clone())
                .push_bind(d.rule_id.clone())
                .push_bind(d.rule_title.clone())
                .push_bind(d.level.as_str())
                .push_bind(level_rank(d.level))
                .push_bind(tags.clone());
        });
        q.push(" RETURNING id");
        let mut chunk: Vec<i64> = q.build_query_scalar().fetch_all(&mut *tx).await?;
        // RETURNING gives rows in no set order; new rowids grow with insertion order.
        chunk.sort_unstable();
        ids.extend(chunk);
    }
    Ok(ids
        .into_iter()
        .zip(detections)
        .map(|(id, detection)| vigil_core::Detection {
            id,
            detected_at: at,
            detection,
        })
        .collect())
}

/// Rows or keys per statement in [`raise_batch`]: well under SQLite's parameter limit.
const BATCH_ROWS: usize = 400;

/// Raises alerts with distinct dedup keys as [`Store::raise_alert`] describes, in a few
/// statements per step rather than several per alert (a batch of detections raises hundreds);
/// the outcomes are in the order given.
async fn raise_batch(
    tx: &mut SqliteConnection,
    actor: &str,
    alerts: Vec<(vigil_core::NewAlert, AlertPolicy)>,
    at: DateTime<Utc>,
) -> StoreResult<Vec<RaisedId>> {
    let now = ts(at);
    let mut outcome: Vec<Option<RaisedId>> = vec![None; alerts.len()];

    // 1. The open alert each key folds into: the newest of the same service and tenant seen
    // within the alert's window. A key is a service's and a tenant's own: one service's or
    // tenant's alert never swallows another's events, and a sender bound to one service or
    // tenant cannot touch another's alerts by guessing their keys.
    let mut open: HashMap<FoldKey, Vec<(i64, String)>> = HashMap::new();
    for chunk in alerts.chunks(BATCH_ROWS) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT id, service, tenant, dedup_key, last_seen FROM alerts WHERE status IN ('triggered', 'acknowledged') AND dedup_key IN (",
        );
        let mut keys = q.separated(", ");
        for (alert, _) in chunk {
            keys.push_bind(alert.dedup_key.clone());
        }
        q.push(")");
        let rows: Vec<(i64, String, Option<String>, String, String)> =
            q.build_query_as().fetch_all(&mut *tx).await?;
        for (id, service, tenant, key, last_seen) in rows {
            open.entry((service, tenant, key))
                .or_default()
                .push((id, last_seen));
        }
    }
    let mut folded: Vec<(usize, i64)> = Vec::new();
    for (i, (alert, policy)) in alerts.iter().enumerate() {
        let since = ts(at - policy.dedup_window);
        let key = fold_key(alert);
        let newest = open.get(&key).and_then(|rows| {
            rows.iter()
                .filter(|(_, last_seen)| *last_seen >= since)
                .map(|(id, _)| *id)
                .max()
        });
        if let Some(id) = newest {
            folded.push((i, id));
            outcome[i] = Some(RaisedId::Deduplicated(id));
        }
    }
    // One statement per distinct number of times fired (nearly always just 1).
    let mut by_times: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    for (i, id) in &folded {
        by_times
            .entry(alerts[*i].0.times.max(1))
            .or_default()
            .push(*id);
    }
    for (times, ids) in by_times {
        for chunk in ids.chunks(BATCH_ROWS) {
            let mut q = QueryBuilder::<Sqlite>::new("UPDATE alerts SET count = count + ");
            q.push_bind(times as i64)
                .push(", last_seen = ")
                .push_bind(now.clone())
                .push(" WHERE id IN (");
            let mut ids = q.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            q.push(")");
            q.build().execute(&mut *tx).await?;
        }
    }

    // 2. New alerts, within each rule's hourly limit.
    let hour = ts(at.duration_trunc(chrono::Duration::hours(1)).unwrap_or(at));
    let mut created_this_hour: HashMap<String, i64> = HashMap::new();
    let rules: Vec<String> = {
        let mut r: Vec<String> = alerts
            .iter()
            .enumerate()
            .filter(|(i, _)| outcome[*i].is_none())
            .filter_map(|(_, (a, _))| a.rule_id.clone())
            .collect();
        r.sort();
        r.dedup();
        r
    };
    for chunk in rules.chunks(BATCH_ROWS) {
        let mut q =
            QueryBuilder::<Sqlite>::new("SELECT rule_id, created FROM alert_rate WHERE hour = ");
        q.push_bind(hour.clone()).push(" AND rule_id IN (");
        let mut ids = q.separated(", ");
        for rule in chunk {
            ids.push_bind(rule.clone());
        }
        q.push(")");
        let rows: Vec<(String, i64)> = q.build_query_as().fetch_all(&mut *tx).await?;
        created_this_hour.extend(rows);
    }
    let mut rate_change: HashMap<String, (i64, i64)> = HashMap::new();
    let mut new: Vec<usize> = Vec::new();
    for (i, (alert, policy)) in alerts.iter().enumerate() {
        if outcome[i].is_some() {
            continue;
        }
        if let Some(rule) = &alert.rule_id {
            let created = created_this_hour.entry(rule.clone()).or_insert(0);
            let change = rate_change.entry(rule.clone()).or_insert((0, 0));
            if *created >= i64::from(policy.max_new_per_rule_per_hour) {
                change.1 += 1;
                outcome[i] = Some(RaisedId::Suppressed);
                continue;
            }
            *created += 1;
            change.0 += 1;
        }
        new.push(i);
    }
    let rate_rows: Vec<(&String, &(i64, i64))> = rate_change.iter().collect();
    for chunk in rate_rows.chunks(BATCH_ROWS) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO alert_rate (rule_id, hour, created, suppressed) ",
        );
        q.push_values(chunk, |mut row, (rule, (created, suppressed))| {
            row.push_bind((*rule).clone())
                .push_bind(hour.clone())
                .push_bind(*created)
                .push_bind(*suppressed);
        });
        q.push(
            " ON CONFLICT (rule_id, hour) DO UPDATE SET created = created + excluded.created, \
             suppressed = suppressed + excluded.suppressed",
        );
        q.build().execute(&mut *tx).await?;
    }
    for chunk in new.chunks(BATCH_ROWS) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO alerts (status, title, source, severity, service, tenant, dedup_key, rule_id, summary, origin, reporter, count, first_seen, last_seen) ",
        );
        q.push_values(chunk, |mut row, i| {
            let a = &alerts[*i].0;
            row.push_bind("triggered")
                .push_bind(a.title.clone())
                .push_bind(a.source.as_str())
                .push_bind(a.severity.as_str())
                .push_bind(a.service.clone())
                .push_bind(a.tenant.clone())
                .push_bind(a.dedup_key.clone())
                .push_bind(a.rule_id.clone())
                .push_bind(a.summary.clone())
                .push_bind(a.origin.clone())
                .push_bind(a.reporter.clone())
                .push_bind(a.times.max(1) as i64)
                .push_bind(now.clone())
                .push_bind(now.clone());
        });
        q.push(" RETURNING id");
        let mut ids: Vec<i64> = q.build_query_scalar().fetch_all(&mut *tx).await?;
        // RETURNING gives rows in no set order; new rowids grow with insertion order.
        ids.sort_unstable();
        for (i, id) in chunk.iter().zip(&ids) {
            outcome[*i] = Some(RaisedId::Created(*id));
        }
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO alert_escalations (alert_id, level, round, started_at, next_at) ",
        );
        q.push_values(&ids, |mut row, id| {
            row.push_bind(*id)
                .push_bind(0i64)
                .push_bind(0i64)
                .push_bind(now.clone())
                .push_bind(now.clone());
        });
        q.build().execute(&mut *tx).await?;
    }

    // 3. Events and log lines of every alert created or folded into.
    let touched: Vec<(usize, i64)> = outcome
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match o {
            Some(RaisedId::Created(id) | RaisedId::Deduplicated(id)) => Some((i, *id)),
            _ => None,
        })
        .collect();
    let mut held: HashMap<i64, i64> = HashMap::new();
    let mut last_seq: HashMap<i64, i64> = HashMap::new();
    for chunk in touched.chunks(BATCH_ROWS) {
        for (table, column, into) in [
            ("alert_events", "COUNT(*)", &mut held),
            ("alert_log", "MAX(seq)", &mut last_seq),
        ] {
            let mut q = QueryBuilder::<Sqlite>::new(format!(
                "SELECT alert_id, {column} FROM {table} WHERE alert_id IN ("
            ));
            let mut ids = q.separated(", ");
            for (_, id) in chunk {
                ids.push_bind(*id);
            }
            q.push(") GROUP BY alert_id");
            let rows: Vec<(i64, i64)> = q.build_query_as().fetch_all(&mut *tx).await?;
            into.extend(rows);
        }
    }
    let mut event_rows: Vec<(i64, i64, Option<String>)> = Vec::new();
    let mut log_rows: Vec<(i64, i64, &'static str, String)> = Vec::new();
    for &(i, id) in &touched {
        let alert = &alerts[i].0;
        let room = (MAX_ALERT_EVENTS - held.get(&id).copied().unwrap_or(0)).max(0) as usize;
        for (k, event_id) in alert.event_ids.iter().enumerate().take(room) {
            let json = alert.events.get(k).map(|e| e.text().to_owned());
            event_rows.push((id, *event_id as i64, json));
        }
        let seq = last_seq.get(&id).copied().unwrap_or(0) + 1;
        log_rows.push(match outcome[i] {
            Some(RaisedId::Created(_)) => (
                id,
                seq,
                "created",
                format!(
                    "raised ({}) for service {}: {:?}, preliminary severity {}",
                    alert.source, alert.service, alert.title, alert.severity
                ),
            ),
            _ => (id, seq, "deduplicated", {
                let n = |count: usize, one: &str, many: &str| match count {
                    1 => format!("1 {one}"),
                    _ => format!("{count} {many}"),
                };
                format!(
                    "fired again ({}, {})",
                    n(alert.times.max(1) as usize, "time", "times"),
                    n(alert.event_ids.len(), "event", "events")
                )
            }),
        });
    }
    for chunk in event_rows.chunks(BATCH_ROWS) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT OR IGNORE INTO alert_events (alert_id, event_id, event) ",
        );
        q.push_values(chunk, |mut row, (id, event_id, json)| {
            row.push_bind(*id)
                .push_bind(*event_id)
                .push_bind(json.clone());
        });
        q.build().execute(&mut *tx).await?;
    }
    for chunk in log_rows.chunks(BATCH_ROWS) {
        let mut q = QueryBuilder::<Sqlite>::new(
            // OR FAIL: no statement journal, as for the detections above.
            "INSERT OR FAIL INTO alert_log (alert_id, seq, at, actor, action, text) ",
        );
        q.push_values(chunk, |mut row, (id, seq, action, text)| {
            row.push_bind(*id)
                .push_bind(*seq)
                .push_bind(now.clone())
                .push_bind(actor.to_owned())
                .push_bind(*action)
                .push_bind(text.clone());
        });
        q.build().execute(&mut *tx).await?;
    }
    Ok(outcome
        .into_iter()
        .map(|o| o.unwrap_or(RaisedId::Suppressed))
        .collect())
}

/// What an alert folds by: its service, tenant and dedup key.
type FoldKey = (String, Option<String>, String);

fn fold_key(alert: &vigil_core::NewAlert) -> FoldKey {
    (
        alert.service.clone(),
        alert.tenant.clone(),
        alert.dedup_key.clone(),
    )
}

/// Validates and raises alerts inside the caller's transaction, set-wise: in rounds of
/// distinct (service, tenant, dedup key) triples, so that an alert folds into an earlier one of the
/// same key raised in the same call.
async fn raise_all(
    tx: &mut SqliteConnection,
    actor: &str,
    alerts: Vec<(vigil_core::NewAlert, AlertPolicy)>,
    at: DateTime<Utc>,
) -> StoreResult<Vec<RaisedId>> {
    let mut alerts = alerts;
    for (alert, _) in &mut alerts {
        // Texts from events and tools are kept, their control characters made harmless: an
        // escape sequence would be played by every terminal listing the alert. The service,
        // origin and reporter are names, refused by `validate` with a control character.
        for text in [&mut alert.title, &mut alert.dedup_key] {
            if let std::borrow::Cow::Owned(clean) = vigil_core::printable(text) {
                *text = clean;
            }
        }
        if let Some(summary) = &mut alert.summary
            && let std::borrow::Cow::Owned(clean) = vigil_core::printable(summary)
        {
            *summary = clean;
        }
        alert.validate()?;
    }
    let mut out = vec![RaisedId::Suppressed; alerts.len()];
    let mut rounds: Vec<Vec<(usize, (vigil_core::NewAlert, AlertPolicy))>> = Vec::new();
    let mut seen: HashMap<FoldKey, usize> = HashMap::new();
    for (i, alert) in alerts.into_iter().enumerate() {
        let key = fold_key(&alert.0);
        let round = seen.entry(key).or_insert(0);
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push((i, alert));
        *round += 1;
    }
    for round in rounds {
        let (positions, alerts): (Vec<usize>, Vec<_>) = round.into_iter().unzip();
        for (i, raised) in positions
            .into_iter()
            .zip(raise_batch(tx, actor, alerts, at).await?)
        {
            out[i] = raised;
        }
    }
    Ok(out)
}

async fn log_alert(
    conn: &mut SqliteConnection,
    id: i64,
    actor: &str,
    action: &str,
    text: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO alert_log (alert_id, seq, at, actor, action, text) \
         VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM alert_log WHERE alert_id = ?), ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(id)
    .bind(ts(now()))
    .bind(actor)
    .bind(action)
    .bind(text)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn load_alert(
    conn: &mut SqliteConnection,
    id: i64,
    with_log: bool,
) -> StoreResult<vigil_core::Alert> {
    let row = sqlx::query("SELECT * FROM alerts WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("alert ALR-{id}")))?;
    let event_rows = sqlx::query(
        "SELECT event_id, event FROM alert_events WHERE alert_id = ? ORDER BY event_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let mut event_ids = Vec::with_capacity(event_rows.len());
    let mut events = Vec::new();
    for r in &event_rows {
        event_ids.push(r.try_get::<i64, _>("event_id")?);
        if with_log {
            let text: Option<String> = r.try_get("event")?;
            if let Some(t) = text {
                events.push(vigil_core::EventJson::from_text(t).map_err(corrupt)?);
            }
        }
    }
    let log = if with_log {
        let rows = sqlx::query("SELECT * FROM alert_log WHERE alert_id = ? ORDER BY seq")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(vigil_core::AlertLogEntry {
                    at: col_ts(r, "at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    text: r.try_get("text")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?
    } else {
        Vec::new()
    };
    let mut alert = alert_row(&row, event_ids, events, log)?;
    if with_log {
        alert.undelivered = undelivered_pages(conn, id).await?;
    }
    Ok(alert)
}

/// The pages of an alert that failed at least once and are kept to be tried again (a page kept
/// with `tries` 0 is being delivered for the first time).
async fn undelivered_pages(
    conn: &mut SqliteConnection,
    alert_id: i64,
) -> StoreResult<Vec<vigil_core::UndeliveredPage>> {
    let rows = sqlx::query(
        "SELECT * FROM alert_page_retries WHERE alert_id = ? AND tries > 0 ORDER BY first_at, person",
    )
    .bind(alert_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(vigil_core::UndeliveredPage {
                person: r.try_get("person")?,
                step: r.try_get("label")?,
                reason: r.try_get("reason")?,
                tries: r.try_get::<i64, _>("tries")? as u32,
                since: col_ts(r, "first_at")?,
                next_try: col_ts(r, "next_at")?,
                error: r.try_get("error")?,
            })
        })
        .collect()
}

/// An alert from its `alerts` row, with its events' ids (and, for one alert shown in full, the
/// events themselves and its log).
fn alert_row(
    row: &SqliteRow,
    event_ids: Vec<i64>,
    events: Vec<vigil_core::EventJson>,
    log: Vec<vigil_core::AlertLogEntry>,
) -> StoreResult<vigil_core::Alert> {
    let id: i64 = row.try_get("id")?;
    let dismissal: Option<String> = row.try_get("dismissal")?;
    Ok(vigil_core::Alert {
        id,
        key: format!("ALR-{id}"),
        status: col_parse(row, "status")?,
        count: row.try_get::<i64, _>("count")? as u64,
        first_seen: col_ts(row, "first_seen")?,
        last_seen: col_ts(row, "last_seen")?,
        dismissal: dismissal.map(|d| d.parse().map_err(corrupt)).transpose()?,
        alert: vigil_core::NewAlert {
            title: row.try_get("title")?,
            source: col_parse(row, "source")?,
            severity: col_parse(row, "severity")?,
            service: row.try_get("service")?,
            tenant: row.try_get("tenant")?,
            dedup_key: row.try_get("dedup_key")?,
            rule_id: row.try_get("rule_id")?,
            summary: row.try_get("summary")?,
            origin: row.try_get("origin")?,
            reporter: row.try_get("reporter")?,
            event_ids: event_ids.into_iter().map(|e| e as u64).collect(),
            events,
            times: 1,
        },
        incident: row.try_get("incident")?,
        log,
        undelivered: Vec::new(),
    })
}

fn org_row(row: &SqliteRow) -> StoreResult<OrgVersion> {
    let text: String = row.try_get("document")?;
    Ok(OrgVersion {
        version: row.try_get("version")?,
        applied_at: col_ts(row, "applied_at")?,
        applied_by: row.try_get("applied_by")?,
        document: serde_json::from_str(&text).map_err(corrupt)?,
    })
}

fn level_rank(level: vigil_core::RuleLevel) -> i64 {
    vigil_core::RuleLevel::ALL
        .iter()
        .position(|l| *l == level)
        .unwrap_or(0) as i64
}

fn detection_row(row: &SqliteRow) -> StoreResult<vigil_core::Detection> {
    let tags: String = row.try_get("tags")?;
    Ok(vigil_core::Detection {
        id: row.try_get("id")?,
        detected_at: col_ts(row, "detected_at")?,
        detection: vigil_core::NewDetection {
            event_id: row.try_get::<i64, _>("event_id")? as u64,
            event_time: col_ts(row, "event_time")?,
            service: row.try_get("service")?,
            host: row.try_get("host")?,
            tenant: row.try_get("tenant")?,
            rule_id: row.try_get("rule_id")?,
            rule_title: row.try_get("rule_title")?,
            level: col_parse(row, "level")?,
            tags: serde_json::from_str(&tags).map_err(corrupt)?,
        },
    })
}

fn audit_row(row: &SqliteRow) -> StoreResult<AuditEntry> {
    let incident_id: Option<String> = row.try_get("incident_id")?;
    Ok(AuditEntry {
        seq: row.try_get::<i64, _>("seq")? as u64,
        at: col_ts(row, "at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        incident_id: incident_id
            .map(|s| IncidentId::parse(&s).map_err(corrupt))
            .transpose()?,
        payload: col_json(row, "payload")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

async fn load_links(conn: &mut SqliteConnection, id: IncidentId) -> StoreResult<Vec<IncidentLink>> {
    let rows = sqlx::query(
        "SELECT l.note, l.linked_by, l.linked_at, o.id AS other, o.seq \
         FROM incident_links l \
         JOIN incidents o ON o.id = CASE WHEN l.incident_a = ? THEN l.incident_b ELSE l.incident_a END \
         WHERE l.incident_a = ? OR l.incident_b = ? ORDER BY l.linked_at, o.seq",
    )
    .bind(id.to_string())
    .bind(id.to_string())
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(IncidentLink {
                incident_id: IncidentId::from_uuid(col_uuid(row, "other")?),
                key: key_of(row.try_get("seq")?)?,
                note: row.try_get("note")?,
                linked_by: row.try_get("linked_by")?,
                linked_at: col_ts(row, "linked_at")?,
            })
        })
        .collect()
}

async fn load_evidence(
    conn: &mut SqliteConnection,
    incident: IncidentId,
    evidence_id: Uuid,
) -> StoreResult<Evidence> {
    let row = sqlx::query("SELECT * FROM evidence WHERE id = ? AND incident_id = ?")
        .bind(evidence_id.to_string())
        .bind(incident.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("evidence {evidence_id} on this incident")))?;
    evidence_row(conn, &row).await
}

async fn evidence_row(conn: &mut SqliteConnection, row: &SqliteRow) -> StoreResult<Evidence> {
    let id = col_uuid(row, "id")?;
    let custody = sqlx::query("SELECT * FROM custody WHERE evidence_id = ? ORDER BY position")
        .bind(id.to_string())
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|c| {
            Ok(CustodyEntry {
                actor: c.try_get("actor")?,
                at: col_ts(c, "at")?,
                action: c.try_get("action")?,
                reason: c.try_get("reason")?,
            })
        })
        .collect::<StoreResult<_>>()?;
    Ok(Evidence {
        id,
        incident_id: IncidentId::from_uuid(col_uuid(row, "incident_id")?),
        file_name: row.try_get("file_name")?,
        sha256: col_parse(row, "sha256")?,
        size: row.try_get::<i64, _>("size")? as u64,
        collected_by: row.try_get("collected_by")?,
        collected_at: col_ts(row, "collected_at")?,
        description: row.try_get("description")?,
        custody,
    })
}

async fn names(
    conn: &mut SqliteConnection,
    table: &'static str,
    id: IncidentId,
) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT name FROM {table} WHERE incident_id = ? ORDER BY position"
    ))
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await?)
}

/// The rows of one of an incident's own tables (`incident_id` = `sid`), in `order`, each read
/// with `read`.
async fn child_rows<T>(
    conn: &mut SqliteConnection,
    table: &'static str,
    order: &'static str,
    sid: &str,
    read: fn(&SqliteRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    sqlx::query(&format!(
        "SELECT * FROM {table} WHERE incident_id = ? ORDER BY {order}"
    ))
    .bind(sid)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(read)
    .collect()
}

fn severity_change_row(r: &SqliteRow) -> StoreResult<SeverityChange> {
    let from: Option<String> = r.try_get("from_severity")?;
    Ok(SeverityChange {
        from: from
            .map(|s| Severity::parse(&s).map_err(corrupt))
            .transpose()?,
        to: col_parse(r, "to_severity")?,
        actor: r.try_get("actor")?,
        reason: r.try_get("reason")?,
        at: col_ts(r, "at")?,
    })
}

fn priority_change_row(r: &SqliteRow) -> StoreResult<PriorityChange> {
    Ok(PriorityChange {
        from: col_parse(r, "from_priority")?,
        to: col_parse(r, "to_priority")?,
        actor: r.try_get("actor")?,
        reason: r.try_get("reason")?,
        at: col_ts(r, "at")?,
    })
}

fn assessment_row(r: &SqliteRow) -> StoreResult<DataImpact> {
    col_json(r, "assessment")
}

fn phase_change_row(r: &SqliteRow) -> StoreResult<PhaseChange> {
    Ok(PhaseChange {
        from: col_parse(r, "from_phase")?,
        to: col_parse(r, "to_phase")?,
        actor: r.try_get("actor")?,
        reason: r.try_get("reason")?,
        at: col_ts(r, "at")?,
    })
}

fn correction_row(r: &SqliteRow) -> StoreResult<TimestampCorrection> {
    Ok(TimestampCorrection {
        kind: col_parse(r, "kind")?,
        from: col_ts_opt(r, "from_at")?,
        to: col_ts_opt(r, "to_at")?,
        actor: r.try_get("actor")?,
        reason: r.try_get("reason")?,
        at: col_ts(r, "at")?,
    })
}

/// Reads the full record of one incident.
async fn load(conn: &mut SqliteConnection, id: IncidentId) -> StoreResult<Incident> {
    let sid = id.to_string();
    let row = sqlx::query("SELECT * FROM incidents WHERE id = ?")
        .bind(&sid)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("incident {id}")))?;
    let mut timestamps = Timestamps::default();
    for (kind, col) in TIMESTAMP_COLUMNS {
        timestamps.set(kind, col_ts_opt(&row, col)?);
    }
    let severity_history = child_rows(
        conn,
        "severity_changes",
        "position",
        &sid,
        severity_change_row,
    )
    .await?;
    let priority_history = child_rows(
        conn,
        "priority_changes",
        "position",
        &sid,
        priority_change_row,
    )
    .await?;
    let phase_history =
        child_rows(conn, "phase_changes", "position", &sid, phase_change_row).await?;
    let data_impact_history = child_rows(
        conn,
        "data_impact_assessments",
        "position",
        &sid,
        assessment_row,
    )
    .await?;
    let timestamp_corrections = child_rows(
        conn,
        "timestamp_corrections",
        "position",
        &sid,
        correction_row,
    )
    .await?;
    let indicators = child_rows(conn, "indicators", "added_at, id", &sid, indicator_row).await?;
    let evidence_rows =
        sqlx::query("SELECT * FROM evidence WHERE incident_id = ? ORDER BY collected_at, id")
            .bind(&sid)
            .fetch_all(&mut *conn)
            .await?;
    let mut evidence = Vec::with_capacity(evidence_rows.len());
    for r in &evidence_rows {
        evidence.push(evidence_row(conn, r).await?);
    }
    let action_count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM actions WHERE incident_id = ?")
            .bind(&sid)
            .fetch_one(&mut *conn)
            .await?;
    let category: Option<String> = row.try_get("category")?;
    let techniques: Vec<Technique> = col_json(&row, "techniques")?;
    let post_mortem: Option<String> = row.try_get("post_mortem")?;
    let post_mortem: Option<PostMortem> = post_mortem
        .map(|s| serde_json::from_str(&s).map_err(|e| corrupt(format!("post_mortem: {e}"))))
        .transpose()?;
    let post_mortem_history: Option<String> = row.try_get("post_mortem_history")?;
    let post_mortem_history: Vec<PostMortem> = post_mortem_history
        .map(|s| serde_json::from_str(&s).map_err(|e| corrupt(format!("post_mortem_history: {e}"))))
        .transpose()?
        .unwrap_or_default();
    let findings = sqlx::query(
        "SELECT findings.*, incidents.seq AS incident_seq FROM findings \
         JOIN incidents ON incidents.id = findings.incident_id \
         WHERE findings.incident_id = ? ORDER BY findings.seq",
    )
    .bind(&sid)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(finding_row)
    .collect::<StoreResult<Vec<_>>>()?;
    let data_impact: DataImpact = col_json(&row, "data_impact")?;
    let next_steps: Vec<NextStep> = col_json(&row, "next_steps")?;
    Ok(Incident {
        id,
        key: key_of(row.try_get("seq")?)?,
        title: row.try_get("title")?,
        summary: row.try_get("summary")?,
        severity: col_parse(&row, "severity")?,
        priority: col_parse(&row, "priority")?,
        severity_history,
        priority_history,
        phase: col_parse(&row, "phase")?,
        phase_history,
        category: category.map(|c| c.parse().map_err(corrupt)).transpose()?,
        tlp: col_parse(&row, "tlp")?,
        pap: col_parse(&row, "pap")?,
        techniques,
        services: names(conn, "incident_services", id).await?,
        tenants: names(conn, "incident_tenants", id).await?,
        customer_facing: row.try_get("customer_facing")?,
        indicators,
        root_cause: row.try_get("root_cause")?,
        post_mortem,
        post_mortem_history,
        findings,
        data_impact,
        data_impact_history,
        timestamps,
        timestamp_corrections,
        next_steps,
        links: load_links(conn, id).await?,
        evidence,
        action_count: action_count as u64,
        created_by: row.try_get("created_by")?,
        created_at: col_ts(&row, "created_at")?,
        updated_at: col_ts(&row, "updated_at")?,
    })
}

fn push_candidates(q: &mut QueryBuilder<'_, Sqlite>, alias: &str, candidates: &[IndicatorValue]) {
    if candidates.is_empty() {
        q.push("1 = 0");
        return;
    }
    for (i, c) in candidates.iter().enumerate() {
        if i > 0 {
            q.push(" OR ");
        }
        q.push(format!("({alias}.kind = "));
        q.push_bind(c.kind().as_str().to_owned());
        q.push(format!(" AND {alias}.value = "));
        q.push_bind(c.value().to_owned());
        q.push(")");
    }
}

/// `text` case-folded for the incident list's text search: lowercased one character at a time
/// in every alphabet (SQLite's `LOWER` and `LIKE` fold ASCII letters only), with the Greek final
/// ς folded to σ as Unicode's case folding does, so "ΟΔΟΣ", "οδοσ" and "οδος" find each other.
fn fold_case(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ς' { 'σ' } else { c })
        .collect()
}

/// What the text search looks in: the title and the summary folded, apart (a unit separator
/// between them, which no search holds, so a phrase never runs from one into the other).
fn search_text(title: &str, summary: &str) -> String {
    format!("{}\u{1f}{}", fold_case(title), fold_case(summary))
}

/// Computes the search text of the incidents a database from before it was kept left without
/// one, in one transaction.
async fn fill_search_text(writer: &SqlitePool) -> StoreResult<()> {
    let mut tx = writer.begin().await?;
    let rows = sqlx::query("SELECT id, title, summary FROM incidents WHERE search_text IS NULL")
        .fetch_all(&mut *tx)
        .await?;
    for row in rows {
        let title: String = row.try_get("title")?;
        let summary: String = row.try_get("summary")?;
        sqlx::query("UPDATE incidents SET search_text = ? WHERE id = ?")
            .bind(search_text(&title, &summary))
            .bind(row.try_get::<String, _>("id")?)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn like_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for ch in fold_case(text.trim()).chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// The incident list's two statements, the count of the matching incidents and the ids of the
/// page asked for, newest first.
fn incident_list_statements<'a>(
    f: &IncidentFilter,
    candidates: Option<&[IndicatorValue]>,
) -> (QueryBuilder<'a, Sqlite>, QueryBuilder<'a, Sqlite>) {
    let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM incidents WHERE 1 = 1");
    push_filters(&mut count, f, candidates);
    let mut select = QueryBuilder::<Sqlite>::new("SELECT id FROM incidents WHERE 1 = 1");
    push_filters(&mut select, f, candidates);
    select.push(" ORDER BY seq DESC LIMIT ");
    select.push_bind(clamp(f.limit, 50, 500));
    select.push(" OFFSET ");
    select.push_bind(i64::from(f.offset));
    (count, select)
}

fn push_filters(
    q: &mut QueryBuilder<'_, Sqlite>,
    f: &IncidentFilter,
    candidates: Option<&[IndicatorValue]>,
) {
    if let Some(p) = f.phase {
        q.push(" AND phase = ").push_bind(p.as_str());
    }
    if let Some(s) = f.severity {
        q.push(" AND severity = ").push_bind(s.as_str());
    }
    if let Some(c) = f.category {
        q.push(" AND category = ").push_bind(c.as_str());
    }
    if let Some(p) = f.priority {
        q.push(" AND priority = ").push_bind(p.as_str());
    }
    // The filters on other tables are uncorrelated `IN` lists, read once through the index on
    // the name (or value) and then looked up by id: as correlated `EXISTS`, SQLite went through
    // that same index once per incident, reading every row of the name each time.
    if let Some(s) = &f.service {
        q.push(
            " AND incidents.id IN (SELECT s.incident_id FROM incident_services s WHERE s.name = ",
        )
        .push_bind(s.trim().to_owned())
        .push(")");
    }
    if let Some(t) = &f.tenant {
        q.push(
            " AND incidents.id IN (SELECT t.incident_id FROM incident_tenants t WHERE t.name = ",
        )
        .push_bind(t.trim().to_owned())
        .push(")");
    }
    if let Some(c) = candidates {
        q.push(" AND incidents.id IN (SELECT i.incident_id FROM indicators i WHERE i.removed_at IS NULL AND (");
        push_candidates(q, "i", c);
        q.push("))");
    }
    match f.open {
        Some(true) => {
            q.push(" AND phase <> ").push_bind(Phase::Closed.as_str());
        }
        Some(false) => {
            q.push(" AND phase = ").push_bind(Phase::Closed.as_str());
        }
        None => {}
    }
    if let Some(t) = f.text.as_deref().filter(|t| !t.trim().is_empty()) {
        q.push(" AND search_text LIKE ")
            .push_bind(like_pattern(t))
            .push(" ESCAPE '\\'");
    }
    if let Some(from) = f.created_from {
        q.push(" AND created_at >= ").push_bind(ts(from));
    }
    if let Some(to) = f.created_to {
        q.push(" AND created_at < ").push_bind(ts(to));
    }
}

/// Appends the audit entry of a write that concerns no incident, token or alert (the
/// organisation document, which the entry holds whole), in the caller's transaction.
async fn append_audit(
    conn: &mut SqliteConnection,
    actor: &str,
    action: &str,
    payload: Value,
) -> StoreResult<AuditEntry> {
    append_entry(conn, actor, action, None, payload).await
}

/// Appends the audit entry of a write to incident `id`, in the caller's transaction and after
/// every row of the write: the payload records the state the write left the incident in
/// ([`vigil_core::audit::incident_state`]), and the states of `others`, the incidents the same
/// write changed too (a link is part of both records), so that `verify_audit` can tell a record
/// changed outside Vigil. Returns the incident as stored.
async fn append_incident_audit(
    conn: &mut SqliteConnection,
    actor: &str,
    action: &str,
    id: IncidentId,
    others: &[IncidentId],
    payload: Value,
) -> StoreResult<Incident> {
    let mut payload = as_object(payload);
    let (stored, state) = incident_state_of(conn, id).await?;
    payload.insert(STATE_FIELD.to_owned(), Value::String(state));
    if !others.is_empty() {
        let mut states = serde_json::Map::new();
        for other in others {
            let (_, state) = incident_state_of(conn, *other).await?;
            states.insert(other.to_string(), Value::String(state));
        }
        payload.insert(STATES_FIELD.to_owned(), Value::Object(states));
    }
    append_entry(conn, actor, action, Some(id), Value::Object(payload)).await?;
    Ok(stored)
}

/// Appends the audit entry of a write to token `id`, in the caller's transaction and after the
/// write: the payload records the state the token was left in
/// ([`vigil_core::audit::token_state`]; never its secret).
async fn append_token_audit(
    conn: &mut SqliteConnection,
    actor: &str,
    action: &str,
    id: Uuid,
    payload: Value,
) -> StoreResult<AuditEntry> {
    let row = sqlx::query("SELECT * FROM tokens WHERE id = ?")
        .bind(id.to_string())
        .fetch_one(&mut *conn)
        .await?;
    let state = token_state(&token_row(&row)?, &row.try_get::<String, _>("token_hash")?);
    let mut payload = as_object(payload);
    payload.insert(STATE_FIELD.to_owned(), Value::String(state));
    append_entry(conn, actor, action, None, Value::Object(payload)).await
}

/// Appends the `alert.{action}` entry of a person's step on alert `id`, in the caller's
/// transaction and after every row of the step (its log line included): the payload names the
/// alert and records the state the step left it in ([`vigil_core::audit::alert_state`]), so
/// that `verify_audit` can tell an alert changed outside Vigil. Returns the alert as stored.
async fn append_alert_audit(
    conn: &mut SqliteConnection,
    actor: &str,
    action: &str,
    id: i64,
    payload: Value,
) -> StoreResult<vigil_core::Alert> {
    let stored = load_alert(conn, id, true).await?;
    let mut payload = as_object(payload);
    payload.insert("alert".to_owned(), Value::String(format!("ALR-{id}")));
    payload.insert(STATE_FIELD.to_owned(), Value::String(alert_state(&stored)));
    append_entry(
        conn,
        actor,
        &format!("alert.{action}"),
        None,
        Value::Object(payload),
    )
    .await?;
    Ok(stored)
}

/// A payload as an object, to record a state in: every write's payload is one; anything else
/// would be kept under `details`.
fn as_object(payload: Value) -> serde_json::Map<String, Value> {
    match payload {
        Value::Object(fields) => fields,
        other => serde_json::Map::from_iter([("details".to_owned(), other)]),
    }
}

/// Incident `id` as stored, and the digest of its state with its action log.
async fn incident_state_of(
    conn: &mut SqliteConnection,
    id: IncidentId,
) -> StoreResult<(Incident, String)> {
    let incident = load(conn, id).await?;
    let actions = all_actions(conn, id).await?;
    let state = incident_state(&incident, &actions);
    Ok((incident, state))
}

/// Incident `id`'s whole action log, in order.
async fn all_actions(conn: &mut SqliteConnection, id: IncidentId) -> StoreResult<Vec<ActionEntry>> {
    sqlx::query("SELECT * FROM actions WHERE incident_id = ? ORDER BY position")
        .bind(id.to_string())
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| action_row(row, id))
        .collect()
}

fn action_row(row: &SqliteRow, incident_id: IncidentId) -> StoreResult<ActionEntry> {
    Ok(ActionEntry {
        id: col_uuid(row, "id")?,
        incident_id,
        actor: row.try_get("actor")?,
        at: col_ts(row, "at")?,
        kind: col_parse(row, "kind")?,
        text: row.try_get("text")?,
    })
}

/// Appends an audit entry after the current head, in the caller's transaction.
async fn append_entry(
    conn: &mut SqliteConnection,
    actor: &str,
    action: &str,
    incident_id: Option<IncidentId>,
    payload: Value,
) -> StoreResult<AuditEntry> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?;
    let (prev_seq, prev_hash) = match head {
        Some(row) => (
            row.try_get::<i64, _>("seq")? as u64,
            row.try_get::<String, _>("hash")?,
        ),
        None => (0, GENESIS_HASH.to_owned()),
    };
    let entry = NewAuditEntry {
        at: now(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        incident_id,
        payload,
    }
    .chain(prev_seq, &prev_hash);
    sqlx::query("INSERT INTO audit (seq, at, actor, action, incident_id, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(entry.seq as i64)
        .bind(ts(entry.at))
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(entry.incident_id.map(|i| i.to_string()))
        .bind(entry.payload.to_string())
        .bind(&entry.prev_hash)
        .bind(&entry.hash)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash")
        .bind(entry.seq as i64)
        .bind(&entry.hash)
        .execute(&mut *conn)
        .await?;
    Ok(entry)
}

fn payload<T: serde::Serialize>(key: IncidentKey, field: &str, v: &T) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("key".into(), json!(key));
    m.insert(field.into(), serde_json::to_value(v).unwrap_or(Value::Null));
    Value::Object(m)
}

impl Store for SqliteStore {
    fn create_incident<'a>(
        &'a self,
        actor: &'a str,
        new: NewIncident,
    ) -> BoxFuture<'a, StoreResult<Incident>> {
        Box::pin(self.create_incident_impl(actor, new))
    }

    fn get_incident<'a>(&'a self, r: &'a IncidentRef) -> BoxFuture<'a, StoreResult<Incident>> {
        Box::pin(self.get_incident_impl(r))
    }

    fn list_incidents<'a>(
        &'a self,
        filter: &'a IncidentFilter,
    ) -> BoxFuture<'a, StoreResult<Page<Incident>>> {
        Box::pin(self.list_incidents_impl(filter))
    }

    fn update_incident<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        patch: IncidentPatch,
    ) -> BoxFuture<'a, StoreResult<Incident>> {
        Box::pin(self.write_incident(actor, r, move |i, at| {
            let fields = i.apply_patch(patch.clone(), actor, at)?;
            let persist = if fields.iter().any(|f| ["services", "tenants"].contains(f)) {
                Persist::Names
            } else {
                Persist::Row
            };
            Ok((
                "incident.update",
                json!({ "key": i.key, "fields": fields, "patch": patch }),
                persist,
            ))
        }))
    }

    fn extend_scope<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        services: Vec<String>,
        tenants: Vec<String>,
    ) -> BoxFuture<'a, StoreResult<(Incident, bool)>> {
        Box::pin(self.extend_scope_impl(actor, r, services, tenants))
    }

    fn change_severity<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        to: Severity,
        reason: &'a str,
    ) -> BoxFuture<'a, StoreResult<Incident>> {
        Box::pin(self.write_incident(actor, r, move |i, at| {
            let c = i.change_severity(to, actor, reason, at)?;
            Ok((
                "incident.severity",
                payload(i.key, "change", &c),
                Persist::Severity,
            ))
        }))
    }

    fn change_phase<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        to: Phase,
        reason: Option<&'a str>,
        root_cause: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<Incident>> {
        Box::pin(self.write_incident(actor, r, move |i, at| {
            if let Some(cause) = root_cause {
                let patch = IncidentPatch {
                    root_cause: Some(Some(cause.to_owned())),
                    ..Default::default()
                };
                i.apply_patch(patch, actor, at)?;
            }
            let c = i.change_phase(to, actor, reason, at)?;
            Ok((
                "incident.phase",
                json!({
                    "key": i.key,
                    "change": c,
                    "timestamps": i.timestamps,
                    "root_cause": root_cause.map(|_| &i.root_cause),
                }),
                Persist::Phase,
            ))
        }))
    }

    fn correct_timestamp<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        kind: TimestampKind,
        to: Option<DateTime<Utc>>,
        reason: &'a str,
    ) -> BoxFuture<'a, StoreResult<Incident>> {
        Box::pin(self.write_incident(actor, r, move |i, at| {
            let c = i.correct_timestamp(kind, to.map(truncate_micros), actor, reason, at)?;
            Ok((
                "incident.timestamp",
                payload(i.key, "correction", &c),
                Persist::Correction,
            ))
        }))
    }

    fn record_post_mortem<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        post_mortem: &'a NewPostMortem,
    ) -> BoxFuture<'a, StoreResult<Incident>> {
        Box::pin(self.write_incident(actor, r, move |i, at| {
            let pm = i.record_post_mortem(post_mortem, actor, at)?;
            Ok((
                "incident.post_mortem",
                json!({
                    "key": i.key,
                    "post_mortem": pm,
                    "root_cause": post_mortem.root_cause.as_ref().map(|_| &i.root_cause),
                }),
                Persist::Row,
            ))
        }))
    }

    fn raise_finding<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        new: &'a NewFinding,
    ) -> BoxFuture<'a, StoreResult<Finding>> {
        Box::pin(self.raise_finding_impl(actor, r, new))
    }

    fn update_finding<'a>(
        &'a self,
        actor: &'a str,
        key: FindingKey,
        update: &'a FindingUpdate,
    ) -> BoxFuture<'a, StoreResult<Finding>> {
        Box::pin(self.update_finding_impl(actor, key, update))
    }

    fn get_finding(&self, key: FindingKey) -> BoxFuture<'_, StoreResult<Finding>> {
        Box::pin(self.get_finding_impl(key))
    }

    fn list_findings<'a>(
        &'a self,
        filter: &'a FindingFilter,
    ) -> BoxFuture<'a, StoreResult<Page<Finding>>> {
        Box::pin(self.list_findings_impl(filter))
    }

    fn add_indicators<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        indicators: Vec<NewIndicator>,
    ) -> BoxFuture<'a, StoreResult<Vec<(Indicator, bool)>>> {
        Box::pin(self.add_indicators_impl(actor, r, indicators))
    }

    fn remove_indicator<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        indicator_id: Uuid,
        reason: &'a str,
    ) -> BoxFuture<'a, StoreResult<Indicator>> {
        Box::pin(self.remove_indicator_impl(actor, r, indicator_id, reason))
    }

    fn search_indicator<'a>(
        &'a self,
        search: &'a IndicatorSearch,
    ) -> BoxFuture<'a, StoreResult<Page<IndicatorHit>>> {
        Box::pin(self.search_indicator_impl(search))
    }

    fn link_incidents<'a>(
        &'a self,
        actor: &'a str,
        a: &'a IncidentRef,
        b: &'a IncidentRef,
        note: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<IncidentLink>> {
        Box::pin(self.link_impl(actor, a, b, note))
    }

    fn unlink_incidents<'a>(
        &'a self,
        actor: &'a str,
        a: &'a IncidentRef,
        b: &'a IncidentRef,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(self.unlink_impl(actor, a, b))
    }

    fn related<'a>(
        &'a self,
        r: &'a IncidentRef,
        page: SuggestionPage,
    ) -> BoxFuture<'a, StoreResult<Related>> {
        Box::pin(self.related_impl(r, page))
    }

    fn append_action<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        kind: ActionKind,
        text: &'a str,
    ) -> BoxFuture<'a, StoreResult<ActionEntry>> {
        Box::pin(self.append_action_impl(actor, r, kind, text))
    }

    fn list_actions<'a>(
        &'a self,
        r: &'a IncidentRef,
        limit: u32,
        offset: u32,
    ) -> BoxFuture<'a, StoreResult<Page<ActionEntry>>> {
        Box::pin(self.list_actions_impl(r, limit, offset))
    }

    fn add_evidence<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        meta: NewEvidence,
        content: &'a mut (dyn AsyncRead + Send + Unpin),
    ) -> BoxFuture<'a, StoreResult<Evidence>> {
        Box::pin(self.add_evidence_impl(actor, r, meta, content))
    }

    fn get_evidence<'a>(
        &'a self,
        r: &'a IncidentRef,
        evidence_id: Uuid,
    ) -> BoxFuture<'a, StoreResult<Evidence>> {
        Box::pin(self.get_evidence_impl(r, evidence_id))
    }

    fn add_custody<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        evidence_id: Uuid,
        action: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, StoreResult<Evidence>> {
        Box::pin(self.add_custody_impl(actor, r, evidence_id, action, reason))
    }

    fn open_evidence<'a>(
        &'a self,
        actor: &'a str,
        r: &'a IncidentRef,
        evidence_id: Uuid,
    ) -> BoxFuture<'a, StoreResult<EvidenceDownload>> {
        Box::pin(self.open_evidence_impl(actor, r, evidence_id))
    }

    fn create_token<'a>(
        &'a self,
        actor: &'a str,
        name: &'a str,
        role: Role,
    ) -> BoxFuture<'a, StoreResult<CreatedToken>> {
        Box::pin(self.create_token_impl(actor, name, role, None, None))
    }

    fn create_ingest_token<'a>(
        &'a self,
        actor: &'a str,
        name: &'a str,
        service: Option<&'a str>,
        tenant: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<CreatedToken>> {
        Box::pin(self.create_token_impl(actor, name, Role::Ingest, service, tenant))
    }

    fn raise_alert<'a>(
        &'a self,
        actor: &'a str,
        alert: vigil_core::NewAlert,
        policy: AlertPolicy,
    ) -> BoxFuture<'a, StoreResult<Raised>> {
        Box::pin(self.raise_alert_impl(actor, alert, policy))
    }

    fn list_alerts<'a>(
        &'a self,
        filter: &'a AlertFilter,
    ) -> BoxFuture<'a, StoreResult<Page<vigil_core::Alert>>> {
        Box::pin(self.list_alerts_impl(filter))
    }

    fn get_alert(&self, id: i64) -> BoxFuture<'_, StoreResult<vigil_core::Alert>> {
        Box::pin(async move {
            let mut conn = self.pool.acquire().await?;
            load_alert(&mut conn, id, true).await
        })
    }

    fn act_on_alert<'a>(
        &'a self,
        actor: &'a str,
        id: i64,
        action: vigil_core::AlertAction,
    ) -> BoxFuture<'a, StoreResult<vigil_core::Alert>> {
        Box::pin(self.act_on_alert_impl(actor, id, action))
    }

    fn take_alerts<'a>(
        &'a self,
        actor: &'a str,
        take: TakeAlerts,
    ) -> BoxFuture<'a, StoreResult<Incident>> {
        Box::pin(self.take_alerts_impl(actor, take))
    }

    fn due_escalations(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> BoxFuture<'_, StoreResult<Vec<EscalationTimer>>> {
        Box::pin(async move {
            let rows = sqlx::query("SELECT * FROM alert_escalations WHERE done = 0 AND next_at <= ? ORDER BY next_at LIMIT ?")
                .bind(ts(now))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(EscalationTimer {
                        alert_id: r.try_get("alert_id")?,
                        level: r.try_get::<i64, _>("level")? as u32,
                        round: r.try_get::<i64, _>("round")? as u32,
                        started_at: col_ts(r, "started_at")?,
                    })
                })
                .collect()
        })
    }

    fn advance_escalation(
        &self,
        alert_id: i64,
        next: Option<(u32, u32, DateTime<Utc>, DateTime<Utc>)>,
    ) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(async move {
            match next {
                Some((level, round, started_at, next_at)) => {
                    sqlx::query("UPDATE alert_escalations SET level = ?, round = ?, started_at = ?, next_at = ? WHERE alert_id = ? AND done = 0")
                        .bind(i64::from(level))
                        .bind(i64::from(round))
                        .bind(ts(started_at))
                        .bind(ts(next_at))
                        .bind(alert_id)
                        .execute(&self.writer)
                        .await?;
                }
                None => {
                    sqlx::query("UPDATE alert_escalations SET done = 1 WHERE alert_id = ?")
                        .bind(alert_id)
                        .execute(&self.writer)
                        .await?;
                }
            }
            Ok(())
        })
    }

    fn log_alert<'a>(
        &'a self,
        alert_id: i64,
        actor: &'a str,
        action: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let mut conn = self.pool.acquire().await?;
            log_alert(&mut conn, alert_id, actor, action, text).await
        })
    }

    fn record_page<'a>(
        &'a self,
        alert_id: i64,
        actor: &'a str,
        (step, person, contact): (&'a str, &'a str, &'a str),
        text: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let mut tx = self.begin().await?;
            sqlx::query(
                "INSERT OR IGNORE INTO alert_pages (alert_id, step, contact) VALUES (?, ?, ?)",
            )
            .bind(alert_id)
            .bind(step)
            .bind(contact)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM alert_page_retries WHERE alert_id = ? AND person = ?")
                .bind(alert_id)
                .bind(person)
                .execute(&mut *tx)
                .await?;
            log_alert(&mut tx, alert_id, actor, "page", text).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn defer_page<'a>(
        &'a self,
        retry: &'a PageRetry,
        actor: &'a str,
        text: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let mut tx = self.begin().await?;
            let status: Option<String> =
                sqlx::query_scalar("SELECT status FROM alerts WHERE id = ?")
                    .bind(retry.alert_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if status.as_deref() != Some(vigil_core::AlertStatus::Triggered.as_str()) {
                return Ok(());
            }
            sqlx::query(concat!(
                "INSERT INTO alert_page_retries ",
                "(alert_id, step, person, label, team, reason, tries, first_at, next_at, error) ",
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ",
                "ON CONFLICT (alert_id, step, person) DO UPDATE SET ",
                "tries = excluded.tries, next_at = excluded.next_at, error = excluded.error"
            ))
            .bind(retry.alert_id)
            .bind(&retry.step)
            .bind(&retry.person)
            .bind(&retry.label)
            .bind(&retry.team)
            .bind(&retry.reason)
            .bind(i64::from(retry.tries))
            .bind(ts(retry.first_at))
            .bind(ts(retry.next_at))
            .bind(&retry.error)
            .execute(&mut *tx)
            .await?;
            if let Some(text) = text {
                log_alert(&mut tx, retry.alert_id, actor, "page", text).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn due_page_retries(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> BoxFuture<'_, StoreResult<Vec<PageRetry>>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT * FROM alert_page_retries WHERE next_at <= ? ORDER BY next_at LIMIT ?",
            )
            .bind(ts(now))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(PageRetry {
                        alert_id: r.try_get("alert_id")?,
                        step: r.try_get("step")?,
                        person: r.try_get("person")?,
                        label: r.try_get("label")?,
                        team: r.try_get("team")?,
                        reason: r.try_get("reason")?,
                        tries: r.try_get::<i64, _>("tries")? as u32,
                        first_at: col_ts(r, "first_at")?,
                        next_at: col_ts(r, "next_at")?,
                        error: r.try_get("error")?,
                    })
                })
                .collect()
        })
    }

    fn drop_page_retries<'a>(
        &'a self,
        alert_id: i64,
        person: Option<&'a str>,
        actor: &'a str,
        text: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let mut tx = self.begin().await?;
            sqlx::query(
                "DELETE FROM alert_page_retries WHERE alert_id = ? AND (? IS NULL OR person = ?)",
            )
            .bind(alert_id)
            .bind(person)
            .bind(person)
            .execute(&mut *tx)
            .await?;
            if let Some(text) = text {
                log_alert(&mut tx, alert_id, actor, "page", text).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn page_retry_backlog(&self) -> BoxFuture<'_, StoreResult<(u64, Option<DateTime<Utc>>)>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT COUNT(*) AS n, MIN(first_at) AS oldest FROM alert_page_retries WHERE tries > 0",
            )
            .fetch_one(&self.pool)
            .await?;
            let n: i64 = row.try_get("n")?;
            Ok((n as u64, col_ts_opt(&row, "oldest")?))
        })
    }

    fn delivered_pages<'a>(
        &'a self,
        alert_id: i64,
        step: &'a str,
    ) -> BoxFuture<'a, StoreResult<Vec<String>>> {
        Box::pin(async move {
            Ok(sqlx::query_scalar(
                "SELECT contact FROM alert_pages WHERE alert_id = ? AND step = ? ORDER BY contact",
            )
            .bind(alert_id)
            .bind(step)
            .fetch_all(&self.pool)
            .await?)
        })
    }

    fn alert_stats_by_rule(&self) -> BoxFuture<'_, StoreResult<Vec<RuleAlertStats>>> {
        Box::pin(self.alert_stats_impl())
    }

    fn review_facts<'a>(
        &'a self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        tenant: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<vigil_core::review::ReviewFacts>> {
        Box::pin(self.review_facts_impl(from, to, tenant))
    }

    fn apply_org<'a>(
        &'a self,
        actor: &'a str,
        document: serde_json::Value,
    ) -> BoxFuture<'a, StoreResult<(OrgVersion, bool)>> {
        Box::pin(self.apply_org_impl(actor, document))
    }

    fn current_org(&self) -> BoxFuture<'_, StoreResult<Option<OrgVersion>>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT * FROM org_versions ORDER BY version DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(org_row).transpose()
        })
    }

    fn record_matches<'a>(
        &'a self,
        actor: &'a str,
        detections: Vec<vigil_core::NewDetection>,
        alerts: Vec<(vigil_core::NewAlert, AlertPolicy)>,
        answer: Option<KeyedAnswer>,
    ) -> BoxFuture<'a, StoreResult<(Vec<vigil_core::Detection>, Vec<RaisedId>)>> {
        Box::pin(self.record_matches_impl(actor, detections, alerts, answer))
    }

    fn detections_of<'a>(
        &'a self,
        ids: std::ops::Range<u64>,
    ) -> BoxFuture<'a, StoreResult<Vec<(u64, String)>>> {
        Box::pin(self.detections_of_impl(ids))
    }

    fn list_detections<'a>(
        &'a self,
        filter: &'a DetectionFilter,
    ) -> BoxFuture<'a, StoreResult<Page<vigil_core::Detection>>> {
        Box::pin(self.list_detections_impl(filter))
    }

    fn get_detection(&self, id: i64) -> BoxFuture<'_, StoreResult<vigil_core::Detection>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT * FROM detections WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("detection {id}")))?;
            detection_row(&row)
        })
    }

    fn alert_detections(
        &self,
        alert_id: i64,
    ) -> BoxFuture<'_, StoreResult<Vec<vigil_core::Detection>>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT d.* FROM detections d JOIN alert_events ae ON ae.event_id = d.event_id \
                 WHERE ae.alert_id = ? ORDER BY d.event_id, d.id",
            )
            .bind(alert_id)
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(detection_row).collect()
        })
    }

    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, StoreResult<Option<Principal>>> {
        Box::pin(self.authenticate_impl(token))
    }

    fn list_tokens(&self) -> BoxFuture<'_, StoreResult<Vec<TokenInfo>>> {
        Box::pin(self.list_tokens_impl())
    }

    fn ingest_key<'a>(
        &'a self,
        token: Uuid,
        key: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<IngestKey>>> {
        Box::pin(self.ingest_key_impl(token, key))
    }

    fn revoke_token<'a>(
        &'a self,
        actor: &'a str,
        id: Uuid,
    ) -> BoxFuture<'a, StoreResult<TokenInfo>> {
        Box::pin(self.revoke_token_impl(actor, id))
    }

    fn list_audit<'a>(
        &'a self,
        filter: &'a AuditFilter,
    ) -> BoxFuture<'a, StoreResult<Page<AuditEntry>>> {
        Box::pin(self.list_audit_impl(filter))
    }

    fn verify_audit(&self) -> BoxFuture<'_, StoreResult<Result<AuditVerified, ChainBreak>>> {
        Box::pin(self.verify_audit_impl())
    }

    fn verify_evidence<'a>(
        &'a self,
        progress: &'a (dyn Fn(u64, u64) + Send + Sync),
    ) -> BoxFuture<'a, StoreResult<EvidenceCheck>> {
        Box::pin(self.verify_evidence_impl(progress))
    }

    fn backup_database<'a>(
        &'a self,
        actor: &'a str,
        details: Value,
        into: &'a Path,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(self.backup_database_impl(actor, details, into))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database copy with no room for it (`/dev/full` fails every write with ENOSPC) is an
    /// error that says so ([`StoreError::no_room`]), for the server to tell its client.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_database_copy_without_room_is_told_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("data")).await.unwrap();
        let err = store
            .backup_database_impl("ops", serde_json::json!({}), Path::new("/dev/full"))
            .await
            .unwrap_err();
        assert!(err.no_room(), "{err}");
        let other = StoreError::NotFound("x".into());
        assert!(!other.no_room());
    }

    /// The plan SQLite makes for `statement`, one line per step (its `detail` column).
    async fn plan(store: &SqliteStore, statement: &QueryBuilder<'_, Sqlite>) -> Vec<String> {
        // The parameters are left unbound (NULL): without statistics the plan does not depend
        // on their values.
        let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {}", statement.sql()))
            .fetch_all(&store.pool)
            .await
            .unwrap_or_else(|e| panic!("plan of {}: {e}", statement.sql()));
        rows.iter()
            .map(|row| row.try_get::<String, _>("detail").unwrap())
            .collect()
    }

    /// Filtering incidents by service, tenant or indicator reads the matching rows through an
    /// index once and looks incidents up by id: no step scans the incidents, none is run again
    /// per incident (a correlated subquery did, reading every row of the name each time).
    #[tokio::test]
    async fn filters_on_other_tables_look_incidents_up_by_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("data")).await.unwrap();
        let filters = [
            (
                IncidentFilter {
                    tenant: Some("tenant-07".into()),
                    ..IncidentFilter::default()
                },
                "incident_tenants_name (name=?)",
            ),
            (
                IncidentFilter {
                    service: Some("svc-03".into()),
                    ..IncidentFilter::default()
                },
                "incident_services_name (name=?)",
            ),
            (
                IncidentFilter {
                    indicator: Some("203.0.113.66".into()),
                    ..IncidentFilter::default()
                },
                "indicators_value (value=? AND kind=?)",
            ),
        ];
        for (filter, lookup) in filters {
            let candidates = filter.indicator.as_deref().map(IndicatorValue::candidates);
            let (count, page) = incident_list_statements(&filter, candidates.as_deref());
            for statement in [count, page] {
                let steps = plan(&store, &statement).await;
                let shown = steps.join("\n");
                assert!(
                    steps.iter().any(|s| s.starts_with("SEARCH incidents")),
                    "incidents looked up by id:\n{shown}"
                );
                assert!(
                    !steps.iter().any(|s| s.starts_with("SCAN incidents")),
                    "no scan of the incidents:\n{shown}"
                );
                assert!(
                    !steps.iter().any(|s| s.contains("CORRELATED")),
                    "nothing run again per incident:\n{shown}"
                );
                assert!(
                    steps
                        .iter()
                        .any(|s| s.starts_with("SEARCH") && s.ends_with(lookup)),
                    "the matching rows read through the index ({lookup}):\n{shown}"
                );
            }
        }
        store.close().await;
    }
}
