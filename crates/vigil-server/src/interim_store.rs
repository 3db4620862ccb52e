//! INTERIM store: a compact SQLite store (sqlx) that gives the server, the client, the CLI and
//! their tests a real database while `vigil-store` is being written in parallel. It keeps the
//! same promises the real store must keep — every write is one `BEGIN IMMEDIATE` transaction
//! that also appends a hash-chained audit entry; evidence is hashed with SHA-256, filed under the
//! data directory and re-verified on every read; tokens are stored as SHA-256 hashes — and it is
//! replaced by `vigil_store` as soon as that crate lands (handlers call it through `AppState`
//! only, so the swap is local). Incidents are kept as one JSON document per row and filtered in
//! memory: fine for the interim, not for scale.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use uuid::Uuid;
use vigil_api::error::GuardRefusal;
use vigil_api::types::*;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing named does not exist.
    #[error("{0} does not exist")]
    NotFound(String),
    /// A value breaks a rule; the field is named.
    #[error("{field}: {message}")]
    Invalid {
        /// The field at fault.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// Lifecycle guards refused a phase change.
    #[error("phase change refused")]
    GuardRefused(Vec<GuardRefusal>),
    /// The write conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// A stored evidence file no longer matches its SHA-256.
    #[error("evidence {id} is corrupted: stored file hashes to {actual}, recorded {expected}")]
    EvidenceCorrupted {
        /// Evidence id.
        id: Uuid,
        /// Recorded hash.
        expected: String,
        /// Hash of the file now.
        actual: String,
    },
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A file operation failed.
    #[error("file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A stored document could not be decoded.
    #[error("stored document: {0}")]
    Decode(#[from] serde_json::Error),
}

fn invalid(field: &str, message: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// An incident named by key or id.
#[derive(Debug, Clone)]
pub enum IncidentRef {
    /// INC-42.
    Key(IncidentKey),
    /// Internal id.
    Id(Uuid),
}

impl std::fmt::Display for IncidentRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IncidentRef::Key(k) => write!(f, "incident {k}"),
            IncidentRef::Id(id) => write!(f, "incident {id}"),
        }
    }
}

impl FromStr for IncidentRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(id) = Uuid::parse_str(s) {
            return Ok(IncidentRef::Id(id));
        }
        s.parse::<IncidentKey>().map(IncidentRef::Key)
    }
}

/// The caller a token authenticates.
#[derive(Debug, Clone)]
pub struct TokenOwner {
    /// Token name.
    pub name: String,
    /// Token role.
    pub role: Role,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL, revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS actions (
    id TEXT PRIMARY KEY, incident_id TEXT NOT NULL REFERENCES incidents(id), doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS links (
    a TEXT NOT NULL, b TEXT NOT NULL, reason TEXT, actor TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (a, b)
);
CREATE TABLE IF NOT EXISTS evidence (
    id TEXT PRIMARY KEY, incident_id TEXT NOT NULL REFERENCES incidents(id), path TEXT NOT NULL, doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL
);
"#;

const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The interim SQLite store of one data directory.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    dir: PathBuf,
}

type Tx = Transaction<'static, Sqlite>;

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir`.
    pub async fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir.join("evidence")).map_err(io_err(dir))?;
        let options = SqliteConnectOptions::new()
            .filename(dir.join("vigil.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        Ok(SqliteStore {
            pool,
            dir: dir.to_path_buf(),
        })
    }

    async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    // ---- tokens -------------------------------------------------------------------------

    /// Creates a token on behalf of `actor`; the secret is returned once, only its hash is kept.
    pub async fn create_token(
        &self,
        actor: &str,
        name: &str,
        role: Role,
    ) -> Result<CreatedToken, StoreError> {
        let id = Uuid::new_v4();
        let secret = format!("vgl_{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO tokens (id, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(id.to_string())
            .bind(name)
            .bind(role.as_str())
            .bind(sha256_hex(secret.as_bytes()))
            .bind(Utc::now().to_rfc3339())
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            actor,
            "token.create",
            &id.to_string(),
            serde_json::json!({"name": name, "role": role}),
        )
        .await?;
        tx.commit().await?;
        Ok(CreatedToken {
            id,
            name: name.to_owned(),
            role,
            token: secret,
        })
    }

    /// The owner of a valid, unrevoked token.
    pub async fn authenticate(&self, token: &str) -> Result<Option<TokenOwner>, StoreError> {
        let row =
            sqlx::query("SELECT name, role FROM tokens WHERE hash = ? AND revoked_at IS NULL")
                .bind(sha256_hex(token.as_bytes()))
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some(r) => Some(TokenOwner {
                name: r.get("name"),
                role: r
                    .get::<String, _>("role")
                    .parse()
                    .map_err(|e: String| invalid("role", e))?,
            }),
            None => None,
        })
    }

    /// True when at least one token exists.
    pub async fn has_tokens(&self) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Every token, without secrets.
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, role, created_at, revoked_at FROM tokens ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: parse_uuid_col(r.get("id"))?,
                    name: r.get("name"),
                    role: r
                        .get::<String, _>("role")
                        .parse()
                        .map_err(|e: String| invalid("role", e))?,
                    created_at: parse_time_col(r.get("created_at"))?,
                    revoked_at: r
                        .get::<Option<String>, _>("revoked_at")
                        .map(parse_time_col)
                        .transpose()?,
                })
            })
            .collect()
    }

    /// Revokes a token.
    pub async fn revoke_token(&self, id: Uuid, actor: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(Utc::now().to_rfc3339())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("active token {id}")));
        }
        audit(
            &mut tx,
            actor,
            "token.revoke",
            &id.to_string(),
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- incidents ------------------------------------------------------------------------

    /// Opens an incident.
    pub async fn create_incident(
        &self,
        actor: &str,
        req: CreateIncident,
    ) -> Result<Incident, StoreError> {
        let title = required("title", &req.title)?;
        let summary = required("summary", &req.summary)?;
        let attack = check_attack(&req.attack)?;
        let now = Utc::now();
        let mut tx = self.begin().await?;
        let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM incidents")
            .fetch_one(&mut *tx)
            .await?;
        let data_impact = DataImpact::default();
        let incident = Incident {
            id: Uuid::new_v4(),
            key: IncidentKey(seq as u64),
            title,
            summary,
            severity: req.severity,
            priority: priority(req.severity, &data_impact),
            severity_history: vec![SeverityChange {
                from: None,
                to: req.severity,
                actor: actor.to_owned(),
                reason: "preliminary rating".to_owned(),
                at: now,
            }],
            phase: Phase::Detection,
            category: req.category,
            services: clean_list(req.services),
            tenants: clean_list(req.tenants),
            tlp: req.tlp.unwrap_or(Tlp::Amber),
            pap: req.pap.unwrap_or(Pap::Amber),
            attack,
            next_steps: req.next_steps,
            root_cause: None,
            data_impact,
            timestamps: Timestamps {
                first_activity: req.first_activity_at,
                detected: Some(now),
                ..Default::default()
            },
            indicators: Vec::new(),
            created_by: actor.to_owned(),
            created_at: now,
            updated_at: now,
        };
        sqlx::query("INSERT INTO incidents (id, seq, doc) VALUES (?, ?, ?)")
            .bind(incident.id.to_string())
            .bind(seq)
            .bind(serde_json::to_string(&incident)?)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            actor,
            "incident.create",
            &incident.key.to_string(),
            serde_json::to_value(&incident)?,
        )
        .await?;
        tx.commit().await?;
        Ok(incident)
    }

    /// Reads one incident.
    pub async fn get_incident(&self, r: &IncidentRef) -> Result<Incident, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load(&mut conn, r).await
    }

    /// Lists incidents newest first with filters and paging.
    pub async fn list_incidents(&self, q: &IncidentQuery) -> Result<Page<Incident>, StoreError> {
        let rows = sqlx::query("SELECT doc FROM incidents ORDER BY seq DESC")
            .fetch_all(&self.pool)
            .await?;
        let indicator = q.indicator.as_deref().map(normalise_any);
        let text = q.q.as_ref().map(|t| t.to_lowercase());
        let mut matching = Vec::new();
        for row in rows {
            let inc: Incident = serde_json::from_str(row.get::<&str, _>("doc"))?;
            let keep = q.phase.is_none_or(|p| inc.phase == p)
                && q.severity.is_none_or(|s| inc.severity == s)
                && q.category.is_none_or(|c| inc.category == Some(c))
                && q.service
                    .as_ref()
                    .is_none_or(|s| inc.services.iter().any(|x| x.eq_ignore_ascii_case(s)))
                && q.tenant
                    .as_ref()
                    .is_none_or(|t| inc.tenants.iter().any(|x| x.eq_ignore_ascii_case(t)))
                && q.open
                    .is_none_or(|open| (inc.phase != Phase::Closed) == open)
                && q.created_from.is_none_or(|t| inc.created_at >= t)
                && q.created_to.is_none_or(|t| inc.created_at < t)
                && text.as_ref().is_none_or(|t| {
                    inc.title.to_lowercase().contains(t) || inc.summary.to_lowercase().contains(t)
                })
                && indicator
                    .as_ref()
                    .is_none_or(|vals| inc.indicators.iter().any(|i| vals.contains(&i.value)));
            if keep {
                matching.push(inc);
            }
        }
        let total = matching.len() as u64;
        let limit = q.limit.unwrap_or(50).min(500) as usize;
        let offset = q.offset.unwrap_or(0) as usize;
        let items = matching.into_iter().skip(offset).take(limit).collect();
        Ok(Page { total, items })
    }

    async fn mutate(
        &self,
        r: &IncidentRef,
        actor: &str,
        action: &str,
        detail: serde_json::Value,
        f: impl FnOnce(&mut Incident) -> Result<(), StoreError>,
    ) -> Result<Incident, StoreError> {
        let mut tx = self.begin().await?;
        let mut inc = load(&mut tx, r).await?;
        f(&mut inc)?;
        inc.updated_at = Utc::now();
        inc.priority = priority(inc.severity, &inc.data_impact);
        save(&mut tx, &inc).await?;
        audit(&mut tx, actor, action, &inc.key.to_string(), detail).await?;
        tx.commit().await?;
        Ok(inc)
    }

    /// Changes descriptive fields.
    pub async fn update_incident(
        &self,
        r: &IncidentRef,
        actor: &str,
        req: UpdateIncident,
    ) -> Result<Incident, StoreError> {
        let detail = serde_json::to_value(&req)?;
        let title = req
            .title
            .as_deref()
            .map(|t| required("title", t))
            .transpose()?;
        let summary = req
            .summary
            .as_deref()
            .map(|t| required("summary", t))
            .transpose()?;
        let attack = req.attack.as_deref().map(check_attack).transpose()?;
        self.mutate(r, actor, "incident.update", detail, |inc| {
            if let Some(v) = title {
                inc.title = v;
            }
            if let Some(v) = summary {
                inc.summary = v;
            }
            if let Some(v) = req.category {
                inc.category = Some(v);
            }
            if let Some(v) = req.services {
                inc.services = clean_list(v);
            }
            if let Some(v) = req.tenants {
                inc.tenants = clean_list(v);
            }
            if let Some(v) = req.next_steps {
                inc.next_steps = Some(v);
            }
            if let Some(v) = req.tlp {
                inc.tlp = v;
            }
            if let Some(v) = req.pap {
                inc.pap = v;
            }
            if let Some(v) = attack {
                inc.attack = v;
            }
            if let Some(v) = req.data_impact {
                inc.data_impact = v;
            }
            Ok(())
        })
        .await
    }

    /// Changes the severity with a reason.
    pub async fn change_severity(
        &self,
        r: &IncidentRef,
        actor: &str,
        req: ChangeSeverity,
    ) -> Result<Incident, StoreError> {
        let reason = required("reason", &req.reason)?;
        let detail = serde_json::to_value(&req)?;
        self.mutate(r, actor, "incident.severity", detail, |inc| {
            inc.severity_history.push(SeverityChange {
                from: Some(inc.severity),
                to: req.severity,
                actor: actor.to_owned(),
                reason,
                at: Utc::now(),
            });
            inc.severity = req.severity;
            Ok(())
        })
        .await
    }

    /// Moves to another phase if every guard allows it.
    pub async fn change_phase(
        &self,
        r: &IncidentRef,
        actor: &str,
        req: ChangePhase,
    ) -> Result<Incident, StoreError> {
        let detail = serde_json::to_value(&req)?;
        let root_cause = req
            .root_cause
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        self.mutate(r, actor, "incident.phase", detail, |inc| {
            let refusals = phase_guards(inc, req.phase, root_cause.as_deref());
            if !refusals.is_empty() {
                return Err(StoreError::GuardRefused(refusals));
            }
            if let Some(rc) = root_cause {
                inc.root_cause = Some(rc);
            }
            let now = Some(Utc::now());
            let ts = &mut inc.timestamps;
            match req.phase {
                Phase::Analysis => ts.acknowledged = ts.acknowledged.or(now),
                Phase::Containment => ts.declared = ts.declared.or(now),
                Phase::Eradication => ts.contained = ts.contained.or(now),
                Phase::Recovery => ts.eradicated = ts.eradicated.or(now),
                Phase::PostIncident => ts.recovered = ts.recovered.or(now),
                Phase::Closed => ts.closed = ts.closed.or(now),
                Phase::Detection => {}
            }
            inc.phase = req.phase;
            Ok(())
        })
        .await
    }

    /// Corrects a lifecycle timestamp with a reason.
    pub async fn correct_timestamp(
        &self,
        r: &IncidentRef,
        actor: &str,
        req: CorrectTimestamp,
    ) -> Result<Incident, StoreError> {
        required("reason", &req.reason)?;
        let detail = serde_json::to_value(&req)?;
        self.mutate(r, actor, "incident.timestamp", detail, |inc| {
            let ts = &mut inc.timestamps;
            let slot = match req.which {
                TimestampKind::FirstActivity => &mut ts.first_activity,
                TimestampKind::Detected => &mut ts.detected,
                TimestampKind::Acknowledged => &mut ts.acknowledged,
                TimestampKind::Declared => &mut ts.declared,
                TimestampKind::Contained => &mut ts.contained,
                TimestampKind::Eradicated => &mut ts.eradicated,
                TimestampKind::Recovered => &mut ts.recovered,
                TimestampKind::Closed => &mut ts.closed,
            };
            *slot = Some(req.at);
            Ok(())
        })
        .await
    }

    // ---- indicators -----------------------------------------------------------------------

    /// Adds an indicator (normalised; an equal one is returned instead of a duplicate).
    pub async fn add_indicator(
        &self,
        r: &IncidentRef,
        actor: &str,
        req: AddIndicator,
    ) -> Result<Indicator, StoreError> {
        let value = normalise(req.kind, &req.value)?;
        let detail = serde_json::json!({"kind": req.kind, "value": value, "note": req.note});
        let mut tx = self.begin().await?;
        let mut inc = load(&mut tx, r).await?;
        if let Some(existing) = inc
            .indicators
            .iter()
            .find(|i| i.kind == req.kind && i.value == value)
        {
            return Ok(existing.clone());
        }
        let indicator = Indicator {
            id: Uuid::new_v4(),
            kind: req.kind,
            value,
            note: req.note,
            added_by: actor.to_owned(),
            added_at: Utc::now(),
        };
        inc.indicators.push(indicator.clone());
        inc.updated_at = Utc::now();
        save(&mut tx, &inc).await?;
        audit(
            &mut tx,
            actor,
            "indicator.add",
            &inc.key.to_string(),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(indicator)
    }

    /// Removes an indicator.
    pub async fn remove_indicator(
        &self,
        r: &IncidentRef,
        actor: &str,
        id: Uuid,
    ) -> Result<(), StoreError> {
        self.mutate(
            r,
            actor,
            "indicator.remove",
            serde_json::json!({"id": id}),
            |inc| {
                let before = inc.indicators.len();
                inc.indicators.retain(|i| i.id != id);
                if inc.indicators.len() == before {
                    return Err(StoreError::NotFound(format!(
                        "indicator {id} on {}",
                        inc.key
                    )));
                }
                Ok(())
            },
        )
        .await
        .map(|_| ())
    }

    /// Every incident carrying an indicator value.
    pub async fn search_indicators(
        &self,
        q: &IndicatorQuery,
    ) -> Result<Vec<IndicatorHit>, StoreError> {
        let wanted = match q.kind {
            Some(kind) => vec![
                normalise(kind, &q.value)
                    .map_err(|_| invalid("value", "not a valid value of this kind"))?,
            ],
            None => normalise_any(&q.value),
        };
        let rows = sqlx::query("SELECT doc FROM incidents ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        let mut hits = Vec::new();
        for row in rows {
            let inc: Incident = serde_json::from_str(row.get::<&str, _>("doc"))?;
            for ind in &inc.indicators {
                if wanted.contains(&ind.value) && q.kind.is_none_or(|k| k == ind.kind) {
                    hits.push(IndicatorHit {
                        incident_key: inc.key,
                        incident_id: inc.id,
                        incident_title: inc.title.clone(),
                        indicator: ind.clone(),
                    });
                }
            }
        }
        Ok(hits)
    }

    // ---- links ----------------------------------------------------------------------------

    /// Links two incidents.
    pub async fn link(
        &self,
        r: &IncidentRef,
        other: &IncidentRef,
        actor: &str,
        reason: Option<String>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let a = load(&mut tx, r).await?;
        let b = load(&mut tx, other).await.map_err(|e| match e {
            StoreError::NotFound(what) => {
                invalid("other", format!("{what}; name an existing incident"))
            }
            e => e,
        })?;
        if a.id == b.id {
            return Err(invalid("other", "an incident cannot be linked to itself"));
        }
        let (x, y) = ordered(a.id, b.id);
        let done = sqlx::query(
            "INSERT OR IGNORE INTO links (a, b, reason, actor, at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(x)
        .bind(y)
        .bind(&reason)
        .bind(actor)
        .bind(Utc::now().to_rfc3339())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "{} and {} are already linked",
                a.key, b.key
            )));
        }
        audit(
            &mut tx,
            actor,
            "link.add",
            &a.key.to_string(),
            serde_json::json!({"other": b.key, "reason": reason}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a link.
    pub async fn unlink(
        &self,
        r: &IncidentRef,
        other: &IncidentRef,
        actor: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let a = load(&mut tx, r).await?;
        let b = load(&mut tx, other).await?;
        let (x, y) = ordered(a.id, b.id);
        let done = sqlx::query("DELETE FROM links WHERE a = ? AND b = ?")
            .bind(x)
            .bind(y)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "a link between {} and {}",
                a.key, b.key
            )));
        }
        audit(
            &mut tx,
            actor,
            "link.remove",
            &a.key.to_string(),
            serde_json::json!({"other": b.key}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Explicit links and shared-indicator suggestions.
    pub async fn related(&self, r: &IncidentRef) -> Result<RelatedIncidents, StoreError> {
        let me = self.get_incident(r).await?;
        let rows = sqlx::query("SELECT a, b, reason, actor, at FROM links WHERE a = ? OR b = ?")
            .bind(me.id.to_string())
            .bind(me.id.to_string())
            .fetch_all(&self.pool)
            .await?;
        let mut links = Vec::new();
        let mut linked = Vec::new();
        for row in rows {
            let a: String = row.get("a");
            let b: String = row.get("b");
            let other = parse_uuid_col(if a == me.id.to_string() { b } else { a })?;
            let inc = self.get_incident(&IncidentRef::Id(other)).await?;
            linked.push(other);
            links.push(RelatedLink {
                incident: to_ref(&inc),
                reason: row.get("reason"),
                actor: row.get("actor"),
                at: parse_time_col(row.get("at"))?,
            });
        }
        let mut suggestions = Vec::new();
        if !me.indicators.is_empty() {
            let rows = sqlx::query("SELECT doc FROM incidents ORDER BY seq")
                .fetch_all(&self.pool)
                .await?;
            for row in rows {
                let inc: Incident = serde_json::from_str(row.get::<&str, _>("doc"))?;
                if inc.id == me.id || linked.contains(&inc.id) {
                    continue;
                }
                let shared: Vec<String> = inc
                    .indicators
                    .iter()
                    .filter(|i| {
                        me.indicators
                            .iter()
                            .any(|m| m.kind == i.kind && m.value == i.value)
                    })
                    .map(|i| format!("{}:{}", i.kind, i.value))
                    .collect();
                if !shared.is_empty() {
                    suggestions.push(RelatedSuggestion {
                        incident: to_ref(&inc),
                        shared,
                    });
                }
            }
        }
        Ok(RelatedIncidents { links, suggestions })
    }

    // ---- action log -----------------------------------------------------------------------

    /// Appends to the action log.
    pub async fn add_action(
        &self,
        r: &IncidentRef,
        actor: &str,
        text: &str,
    ) -> Result<ActionEntry, StoreError> {
        let text = required("text", text)?;
        let mut tx = self.begin().await?;
        let inc = load(&mut tx, r).await?;
        let entry = ActionEntry {
            id: Uuid::new_v4(),
            actor: actor.to_owned(),
            text,
            at: Utc::now(),
        };
        sqlx::query("INSERT INTO actions (id, incident_id, doc) VALUES (?, ?, ?)")
            .bind(entry.id.to_string())
            .bind(inc.id.to_string())
            .bind(serde_json::to_string(&entry)?)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            actor,
            "action.add",
            &inc.key.to_string(),
            serde_json::json!({"text": entry.text}),
        )
        .await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// The action log, oldest first.
    pub async fn list_actions(&self, r: &IncidentRef) -> Result<Vec<ActionEntry>, StoreError> {
        let inc = self.get_incident(r).await?;
        let rows = sqlx::query("SELECT doc FROM actions WHERE incident_id = ? ORDER BY rowid")
            .bind(inc.id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok(serde_json::from_str(r.get::<&str, _>("doc"))?))
            .collect()
    }

    // ---- evidence -------------------------------------------------------------------------

    /// Files an uploaded temporary file as evidence: hashes it, moves it under
    /// `evidence/`, records it with its first custody entry — all or nothing.
    pub async fn add_evidence(
        &self,
        r: &IncidentRef,
        actor: &str,
        name: &str,
        description: Option<&str>,
        temp: &Path,
    ) -> Result<Evidence, StoreError> {
        let name = required("name", name)?;
        let (sha, size) = hash_file(temp.to_path_buf()).await?;
        let id = Uuid::new_v4();
        let final_path = self
            .dir
            .join("evidence")
            .join(&sha[..2])
            .join(id.to_string());
        let mut tx = self.begin().await?;
        let inc = load(&mut tx, r).await?;
        let now = Utc::now();
        let evidence = Evidence {
            id,
            incident_id: inc.id,
            name,
            description: description.map(str::to_owned),
            size,
            sha256: sha,
            collected_by: actor.to_owned(),
            collected_at: now,
            custody: vec![CustodyEntry {
                actor: actor.to_owned(),
                action: "collected".to_owned(),
                reason: "uploaded to Vigil".to_owned(),
                at: now,
            }],
        };
        sqlx::query("INSERT INTO evidence (id, incident_id, path, doc) VALUES (?, ?, ?, ?)")
            .bind(id.to_string())
            .bind(inc.id.to_string())
            .bind(
                final_path
                    .strip_prefix(&self.dir)
                    .unwrap_or(&final_path)
                    .to_string_lossy()
                    .into_owned(),
            )
            .bind(serde_json::to_string(&evidence)?)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            actor,
            "evidence.add",
            &inc.key.to_string(),
            serde_json::json!({"id": id, "name": evidence.name, "sha256": evidence.sha256, "size": size}),
        )
        .await?;
        let parent = final_path.parent().unwrap_or(&self.dir).to_path_buf();
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(io_err(&parent))?;
        tokio::fs::rename(temp, &final_path)
            .await
            .map_err(io_err(&final_path))?;
        if let Err(err) = tx.commit().await {
            let _ = tokio::fs::remove_file(&final_path).await;
            return Err(err.into());
        }
        Ok(evidence)
    }

    /// An incident's evidence.
    pub async fn list_evidence(&self, r: &IncidentRef) -> Result<Vec<Evidence>, StoreError> {
        let inc = self.get_incident(r).await?;
        let rows = sqlx::query("SELECT doc FROM evidence WHERE incident_id = ? ORDER BY rowid")
            .bind(inc.id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok(serde_json::from_str(r.get::<&str, _>("doc"))?))
            .collect()
    }

    async fn evidence_row(
        &self,
        r: &IncidentRef,
        id: Uuid,
    ) -> Result<(Evidence, PathBuf), StoreError> {
        let inc = self.get_incident(r).await?;
        let row = sqlx::query("SELECT path, doc FROM evidence WHERE id = ? AND incident_id = ?")
            .bind(id.to_string())
            .bind(inc.id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("evidence {id} on {}", inc.key)))?;
        let ev: Evidence = serde_json::from_str(row.get::<&str, _>("doc"))?;
        Ok((ev, self.dir.join(row.get::<String, _>("path"))))
    }

    /// One evidence item.
    pub async fn get_evidence(&self, r: &IncidentRef, id: Uuid) -> Result<Evidence, StoreError> {
        Ok(self.evidence_row(r, id).await?.0)
    }

    /// The evidence content, after checking it still matches its SHA-256.
    pub async fn read_evidence(
        &self,
        r: &IncidentRef,
        id: Uuid,
    ) -> Result<(Evidence, Vec<u8>), StoreError> {
        let (ev, path) = self.evidence_row(r, id).await?;
        let bytes = tokio::fs::read(&path).await.map_err(io_err(&path))?;
        let actual = sha256_hex(&bytes);
        if actual != ev.sha256 {
            return Err(StoreError::EvidenceCorrupted {
                id,
                expected: ev.sha256,
                actual,
            });
        }
        Ok((ev, bytes))
    }

    /// Records a custody event.
    pub async fn add_custody(
        &self,
        r: &IncidentRef,
        id: Uuid,
        actor: &str,
        action: &str,
        reason: &str,
    ) -> Result<Evidence, StoreError> {
        let action = required("action", action)?;
        let reason = required("reason", reason)?;
        let (mut ev, _) = self.evidence_row(r, id).await?;
        let mut tx = self.begin().await?;
        // Re-read inside the transaction so concurrent custody entries are not lost.
        let doc: String = sqlx::query_scalar("SELECT doc FROM evidence WHERE id = ?")
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        ev = serde_json::from_str(&doc).unwrap_or(ev);
        ev.custody.push(CustodyEntry {
            actor: actor.to_owned(),
            action,
            reason,
            at: Utc::now(),
        });
        sqlx::query("UPDATE evidence SET doc = ? WHERE id = ?")
            .bind(serde_json::to_string(&ev)?)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let last = ev.custody.last().cloned();
        audit(
            &mut tx,
            actor,
            "evidence.custody",
            &id.to_string(),
            serde_json::to_value(last)?,
        )
        .await?;
        tx.commit().await?;
        Ok(ev)
    }

    // ---- audit ----------------------------------------------------------------------------

    /// A page of the audit trail, oldest first.
    pub async fn audit_page(&self, q: &AuditQuery) -> Result<Page<AuditEntry>, StoreError> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit")
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query("SELECT * FROM audit ORDER BY seq LIMIT ? OFFSET ?")
            .bind(i64::from(q.limit.unwrap_or(100).min(1000)))
            .bind(i64::from(q.offset.unwrap_or(0)))
            .fetch_all(&self.pool)
            .await?;
        let items = rows.iter().map(audit_row).collect::<Result<_, _>>()?;
        Ok(Page {
            total: total as u64,
            items,
        })
    }

    /// Walks the chain: every entry's hash must match its content and the previous hash.
    pub async fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        let mut prev = ZERO_HASH.to_owned();
        for (expected_seq, row) in (1u64..).zip(rows.iter()) {
            let seq: i64 = row.get("seq");
            let e = audit_row(row);
            let problem = match &e {
                Err(err) => Some(format!("unreadable entry: {err}")),
                Ok(_) if seq as u64 != expected_seq => {
                    Some(format!("entry {expected_seq} is missing"))
                }
                Ok(e) if e.prev_hash != prev => {
                    Some("its previous-hash does not match the entry before it".to_owned())
                }
                Ok(e)
                    if entry_hash(
                        &e.prev_hash,
                        e.seq,
                        &row.get::<String, _>("at"),
                        &e.actor,
                        &e.action,
                        &e.target,
                        &row.get::<String, _>("detail"),
                    ) != e.hash =>
                {
                    Some("its content does not match its hash".to_owned())
                }
                Ok(_) => None,
            };
            if let Some(problem) = problem {
                return Ok(AuditVerification {
                    ok: false,
                    entries: expected_seq - 1,
                    first_broken: Some(seq as u64),
                    problem: Some(problem),
                });
            }
            prev = row.get("hash");
        }
        Ok(AuditVerification {
            ok: true,
            entries: rows.len() as u64,
            first_broken: None,
            problem: None,
        })
    }
}

// ---- helpers ------------------------------------------------------------------------------

async fn load(conn: &mut sqlx::SqliteConnection, r: &IncidentRef) -> Result<Incident, StoreError> {
    let row = match r {
        IncidentRef::Key(k) => {
            sqlx::query("SELECT doc FROM incidents WHERE seq = ?")
                .bind(k.0 as i64)
                .fetch_optional(&mut *conn)
                .await?
        }
        IncidentRef::Id(id) => {
            sqlx::query("SELECT doc FROM incidents WHERE id = ?")
                .bind(id.to_string())
                .fetch_optional(&mut *conn)
                .await?
        }
    };
    let row = row.ok_or_else(|| StoreError::NotFound(r.to_string()))?;
    Ok(serde_json::from_str(row.get::<&str, _>("doc"))?)
}

async fn save(conn: &mut sqlx::SqliteConnection, inc: &Incident) -> Result<(), StoreError> {
    sqlx::query("UPDATE incidents SET doc = ? WHERE id = ?")
        .bind(serde_json::to_string(inc)?)
        .bind(inc.id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn audit(
    tx: &mut Tx,
    actor: &str,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    let last = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    let (seq, prev) = match last {
        Some(r) => (
            r.get::<i64, _>("seq") as u64 + 1,
            r.get::<String, _>("hash"),
        ),
        None => (1, ZERO_HASH.to_owned()),
    };
    let at = Utc::now().to_rfc3339();
    let detail = serde_json::to_string(&detail)?;
    let hash = entry_hash(&prev, seq, &at, actor, action, target, &detail);
    sqlx::query("INSERT INTO audit (seq, at, actor, action, target, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(seq as i64)
        .bind(at)
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(detail)
        .bind(prev)
        .bind(hash)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn entry_hash(
    prev: &str,
    seq: u64,
    at: &str,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [prev, &seq.to_string(), at, actor, action, target, detail] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

fn audit_row(row: &sqlx::sqlite::SqliteRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: row.get::<i64, _>("seq") as u64,
        at: parse_time_col(row.get("at"))?,
        actor: row.get("actor"),
        action: row.get("action"),
        target: row.get("target"),
        detail: serde_json::from_str(row.get::<&str, _>("detail"))?,
        prev_hash: row.get("prev_hash"),
        hash: row.get("hash"),
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn hash_file(path: PathBuf) -> Result<(String, u64), StoreError> {
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut file = std::fs::File::open(&path).map_err(io_err(&path))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buf).map_err(io_err(&path))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            h.update(&buf[..n]);
        }
        Ok((hex::encode(h.finalize()), size))
    })
    .await
    .map_err(|e| StoreError::Io {
        path: "evidence upload".into(),
        source: std::io::Error::other(e),
    })?
}

fn parse_uuid_col(s: String) -> Result<Uuid, StoreError> {
    Uuid::parse_str(&s).map_err(|e| invalid("id", e.to_string()))
}

fn parse_time_col(s: String) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| invalid("time", e.to_string()))
}

fn ordered(a: Uuid, b: Uuid) -> (String, String) {
    let (a, b) = (a.to_string(), b.to_string());
    if a < b { (a, b) } else { (b, a) }
}

fn to_ref(inc: &Incident) -> IncidentRef_ {
    IncidentRef_ {
        id: inc.id,
        key: inc.key,
        title: inc.title.clone(),
        phase: inc.phase,
        severity: inc.severity,
    }
}

use vigil_api::types::IncidentRef as IncidentRef_;

fn required(field: &str, value: &str) -> Result<String, StoreError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(invalid(field, format!("`{field}` must not be empty")));
    }
    Ok(v.to_owned())
}

fn clean_list(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in items {
        let i = i.trim().to_owned();
        if !i.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(&i)) {
            out.push(i);
        }
    }
    out
}

fn check_attack(ids: &[String]) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    for id in ids {
        let t = id.trim().to_uppercase();
        let ok = t.len() >= 5
            && t.starts_with('T')
            && t[1..5].chars().all(|c| c.is_ascii_digit())
            && (t.len() == 5
                || (t.len() == 9 && &t[5..6] == "." && t[6..].chars().all(|c| c.is_ascii_digit())));
        if !ok {
            return Err(invalid(
                "attack",
                format!("{id:?} is not a MITRE ATT&CK technique id like T1566 or T1566.001"),
            ));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

fn priority(severity: Severity, impact: &DataImpact) -> Priority {
    let base: usize = match severity {
        Severity::Sev1 => 0,
        Severity::Sev2 => 1,
        Severity::Sev3 => 2,
        Severity::Sev4 => 3,
    };
    let level = if impact.is_breach() {
        base.saturating_sub(1)
    } else {
        base
    };
    Priority::ALL[level]
}

const PHASES: [Phase; 7] = [
    Phase::Detection,
    Phase::Analysis,
    Phase::Containment,
    Phase::Eradication,
    Phase::Recovery,
    Phase::PostIncident,
    Phase::Closed,
];

fn phase_guards(inc: &Incident, to: Phase, root_cause: Option<&str>) -> Vec<GuardRefusal> {
    let pos = |p: Phase| PHASES.iter().position(|x| *x == p).unwrap_or(0);
    let mut refusals = Vec::new();
    if inc.phase == Phase::Closed {
        refusals.push(GuardRefusal {
            guard: "closed_is_final".into(),
            reason: format!(
                "{} is closed; open a new incident and link it instead",
                inc.key
            ),
        });
        return refusals;
    }
    if to == inc.phase {
        refusals.push(GuardRefusal {
            guard: "phase_order".into(),
            reason: format!("{} is already in {to}", inc.key),
        });
    } else if pos(to) > pos(inc.phase) + 1 {
        refusals.push(GuardRefusal {
            guard: "phase_order".into(),
            reason: format!(
                "{} cannot skip from {} to {to}; move to {} first",
                inc.key,
                inc.phase,
                PHASES[pos(inc.phase) + 1]
            ),
        });
    }
    if pos(to) >= pos(Phase::Recovery) && inc.root_cause.is_none() && root_cause.is_none() {
        refusals.push(GuardRefusal {
            guard: "root_cause_recorded".into(),
            reason: "recovery starts only once eradication is confirmed with a root cause: send `root_cause` (CLI: --root-cause \"...\")".into(),
        });
    }
    refusals
}

/// Normalises a value of a kind, or says why it is not one.
pub fn normalise(kind: IndicatorKind, raw: &str) -> Result<String, StoreError> {
    let v = raw.trim();
    if v.is_empty() {
        return Err(invalid("value", "the indicator value must not be empty"));
    }
    let bad = |what: &str| invalid("value", format!("{raw:?} is not a valid {what}"));
    match kind {
        IndicatorKind::Ip => v
            .parse::<IpAddr>()
            .map(|ip| ip.to_string())
            .map_err(|_| bad("IPv4 or IPv6 address")),
        IndicatorKind::Domain | IndicatorKind::Host => {
            let d = v.trim_end_matches('.').to_lowercase();
            if d.is_empty()
                || d.len() > 253
                || !d
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
                || d.split('.').any(str::is_empty)
            {
                return Err(bad(if kind == IndicatorKind::Domain {
                    "domain name"
                } else {
                    "host name"
                }));
            }
            Ok(d)
        }
        IndicatorKind::Url => {
            let Some((scheme, rest)) = v.split_once("://") else {
                return Err(bad("URL (scheme://host/...)"));
            };
            let (host, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            if host.is_empty() {
                return Err(bad("URL (scheme://host/...)"));
            }
            Ok(format!(
                "{}://{}{}",
                scheme.to_lowercase(),
                host.to_lowercase(),
                path
            ))
        }
        IndicatorKind::Md5 | IndicatorKind::Sha1 | IndicatorKind::Sha256 => {
            let len = match kind {
                IndicatorKind::Md5 => 32,
                IndicatorKind::Sha1 => 40,
                _ => 64,
            };
            let h = v.to_lowercase();
            if h.len() != len || !h.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad(&format!("{kind} ({len} hex digits)")));
            }
            Ok(h)
        }
        IndicatorKind::Email => {
            let e = v.to_lowercase();
            match e.split_once('@') {
                Some((l, d))
                    if !l.is_empty() && d.contains('.') && !e.contains(char::is_whitespace) =>
                {
                    Ok(e)
                }
                _ => Err(bad("e-mail address")),
            }
        }
        IndicatorKind::UserAccount => Ok(v.to_lowercase()),
        IndicatorKind::Process | IndicatorKind::FilePath | IndicatorKind::Other => Ok(v.to_owned()),
    }
}

/// Every normalised form a value could have, whatever its kind (for kind-less searches).
fn normalise_any(raw: &str) -> Vec<String> {
    let mut out = vec![raw.trim().to_owned()];
    for kind in IndicatorKind::ALL {
        if let Ok(v) = normalise(*kind, raw)
            && !out.contains(&v)
        {
            out.push(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indicators_normalise() {
        assert_eq!(
            normalise(IndicatorKind::Domain, "Evil.Example.COM.").unwrap(),
            "evil.example.com"
        );
        assert_eq!(
            normalise(IndicatorKind::Ip, " 2001:DB8::1 ").unwrap(),
            "2001:db8::1"
        );
        assert!(normalise(IndicatorKind::Ip, "999.1.1.1").is_err());
        assert!(normalise(IndicatorKind::Sha256, "abc").is_err());
        assert_eq!(
            normalise(IndicatorKind::Url, "HTTPS://Evil.COM/A").unwrap(),
            "https://evil.com/A"
        );
    }

    #[test]
    fn attack_ids_are_checked() {
        assert_eq!(
            check_attack(&["t1566.001".into()]).unwrap(),
            vec!["T1566.001"]
        );
        assert!(check_attack(&["T15".into()]).is_err());
        assert!(check_attack(&["T1566.1".into()]).is_err());
    }
}
