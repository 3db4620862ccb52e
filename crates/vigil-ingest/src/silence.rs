//! Silent sources: a service whose organisation entry sets `silent_after` and that has had no
//! event stored for that long raises an alert to its team's on-call — a broken sender, a full
//! disk at the source, or an attacker turning logging off (ATT&CK T1562.002) all look the same
//! from here: a gap in the central log. The alert is resolved by Vigil when the service's
//! events come again, with when the gap began in its log. With `silent_per_tenant`, each
//! tenant the server has received events of since it started is watched on its own as well.
//!
//! When a service (or a tenant of it) last had an event stored is read from the ingest totals
//! ([`crate::totals`]), which start empty with the process. So that a restart loses nothing,
//! the watch keeps a file in the data directory ([`SilenceWatch::keep_in`], written at each
//! check that changes it): when each watched service and tenant last had an event stored, and
//! the silences under way with their alerts. After a restart the tenants heard from before it
//! are still watched, an alert says when the last event was stored even if that was before the
//! restart, and a silence whose alert a responder closed is not raised again until its events
//! have come back and stopped again. A silence is never counted from before the server
//! started, though: the server's own downtime is not the sender's silence. (A tenant first
//! seen after [`crate::totals::MAX_SOURCES`] other sources since the start is counted with
//! them, and would look silent if watched on its own; a service is known by name up to as many
//! services.)

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use vigil_core::{
    AlertAction, AlertSource, AlertStatus, NewAlert, RuleLevel, preliminary_severity,
};
use vigil_store::{AlertFilter, AlertPolicy, Raised, Store, StoreError};

use crate::error::IngestError;
use crate::org::OrgView;
use crate::totals::IngestTotals;

/// Who raises and resolves these alerts in their logs (no token may take it).
const ACTOR: &str = vigil_core::actors::SYSTEM;

/// How often the server looks for silent sources.
pub const CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// What is watched for silence: a service as a whole, or one tenant of it.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Watched {
    /// The service.
    pub service: String,
    /// The tenant, when watched on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

impl Watched {
    /// The dedup key of its silence alert: one open alert per service, and per tenant.
    fn dedup_key(&self) -> String {
        match &self.tenant {
            None => format!("silence|{}", self.service),
            Some(tenant) => format!("silence|{}|{tenant}", self.service),
        }
    }

    /// What a silence alert of `service` with this dedup key watches.
    fn of_alert(service: &str, key: &str) -> Option<Watched> {
        let rest = key.strip_prefix("silence|")?.strip_prefix(service)?;
        let tenant = match rest {
            "" => None,
            rest => Some(rest.strip_prefix('|')?.to_owned()),
        };
        Some(Watched {
            service: service.to_owned(),
            tenant,
        })
    }

    /// `payments-api`, `payments-api (tenant acme)`.
    pub fn name(&self) -> String {
        match &self.tenant {
            None => self.service.clone(),
            Some(tenant) => format!("{} (tenant {tenant})", self.service),
        }
    }
}

/// What a check did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SilenceReport {
    /// Found silent ([`Watched::name`]), with their new alerts (`ALR-n`'s number).
    pub raised: Vec<(String, i64)>,
    /// Whose events came again, with the alerts resolved.
    pub resolved: Vec<(String, i64)>,
}

/// The open silence alerts.
#[derive(Debug)]
pub(crate) struct SilenceWatch {
    /// When watching began: a service with no event since is silent from then.
    since: DateTime<Utc>,
    /// `None` until the open alerts were read back from the store (after a restart, those of
    /// the previous run are resolved the same way).
    open: Mutex<Option<HashMap<Watched, OpenSilence>>>,
    /// What an earlier run left: when the watched sources last had an event stored (kept up to
    /// date from the ingest totals at each check), and its silences, taken into `open` at the
    /// first check.
    kept: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    heard: HashMap<Watched, DateTime<Utc>>,
    silences: Vec<(Watched, OpenSilence)>,
    file: Option<PathBuf>,
    /// What the file holds now (written only when this changes).
    written: Vec<u8>,
}

#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct OpenSilence {
    alert: i64,
    /// The last event stored before the silence (or when watching began).
    last: DateTime<Utc>,
}

/// The watch's file: see the module's doc.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct SavedWatch {
    /// When each watched service, and tenant, last had an event stored.
    heard: Vec<SavedSource>,
    /// The silences under way, also those whose alert a responder closed.
    silences: Vec<SavedSilence>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct SavedSource {
    #[serde(flatten)]
    watched: Watched,
    last_stored: DateTime<Utc>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct SavedSilence {
    #[serde(flatten)]
    watched: Watched,
    #[serde(flatten)]
    silence: OpenSilence,
}

impl Default for SilenceWatch {
    fn default() -> Self {
        SilenceWatch {
            since: Utc::now(),
            open: Mutex::new(None),
            kept: Mutex::default(),
        }
    }
}

impl SilenceWatch {
    /// Keeps the watch's state in `path` from now on (see the module's doc), taking back what
    /// an earlier run left there; returns how many silences it held. A file that cannot be
    /// read or parsed is an error: the watch then goes on as after a first start, and
    /// replaces the file at its next check.
    pub(crate) fn keep_in(&self, path: PathBuf) -> std::io::Result<usize> {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.file = Some(path.clone());
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        // Kept before it is read: a file that does not read is replaced at the next check.
        kept.written = bytes;
        let saved: SavedWatch =
            serde_json::from_slice(&kept.written).map_err(std::io::Error::other)?;
        kept.heard = saved
            .heard
            .into_iter()
            .map(|s| (s.watched, s.last_stored))
            .collect();
        kept.silences = saved
            .silences
            .into_iter()
            .map(|s| (s.watched, s.silence))
            .collect();
        Ok(kept.silences.len())
    }

    /// Writes the watch's file if what it would hold changed (on the blocking pool: it waits
    /// for the disk). Nothing is written while there is nothing to keep and no file yet.
    async fn save(&self, open: &HashMap<Watched, OpenSilence>) -> Result<(), IngestError> {
        let Some((path, bytes)) = self.to_save(open)? else {
            return Ok(());
        };
        let written = bytes.clone();
        let file = path.clone();
        tokio::task::spawn_blocking(move || crate::state_file::replace_durably(&file, &bytes))
            .await
            .map_err(|e| IngestError::Worker(e.to_string()))?
            .map_err(|source| IngestError::State { file: path, source })?;
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).written = written;
        Ok(())
    }

    /// The file and what it is to hold now, if that differs from what it holds.
    fn to_save(
        &self,
        open: &HashMap<Watched, OpenSilence>,
    ) -> Result<Option<(PathBuf, Vec<u8>)>, IngestError> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let Some(path) = kept.file.clone() else {
            return Ok(None);
        };
        if kept.heard.is_empty() && open.is_empty() && kept.written.is_empty() {
            return Ok(None);
        }
        let mut saved = SavedWatch {
            heard: kept
                .heard
                .iter()
                .map(|(w, t)| SavedSource {
                    watched: w.clone(),
                    last_stored: *t,
                })
                .collect(),
            silences: open
                .iter()
                .map(|(w, silence)| SavedSilence {
                    watched: w.clone(),
                    silence: *silence,
                })
                .collect(),
        };
        saved.heard.sort_by(|a, b| a.watched.cmp(&b.watched));
        saved.silences.sort_by(|a, b| a.watched.cmp(&b.watched));
        let bytes = serde_json::to_vec_pretty(&saved).map_err(|e| IngestError::State {
            file: path.clone(),
            source: std::io::Error::other(e),
        })?;
        Ok((bytes != kept.written).then_some((path, bytes)))
    }

    /// Raises an alert for each watched service silent at `now` that has none open, and
    /// resolves the open alerts of services whose events came again.
    pub async fn check(
        &self,
        now: DateTime<Utc>,
        org: &OrgView,
        totals: &IngestTotals,
        store: &dyn Store,
        policy: AlertPolicy,
    ) -> Result<SilenceReport, IngestError> {
        let mut open = match self.take_open() {
            Some(open) => open,
            None => {
                let mut open = self.read_open(store).await?;
                // The file knows when each silence began, and the silences whose alert was
                // closed by hand, which the store does not list as open.
                let kept = std::mem::take(
                    &mut self.kept.lock().unwrap_or_else(|e| e.into_inner()).silences,
                );
                open.extend(kept);
                open
            }
        };
        let outcome = self
            .check_with(&mut open, now, org, totals, store, policy)
            .await;
        let saved = self.save(&open).await;
        *self.open.lock().unwrap_or_else(|e| e.into_inner()) = Some(open);
        let report = outcome?;
        saved.map(|()| report)
    }

    /// What is silent now, with the open alerts (none before the first check).
    pub fn open_alerts(&self) -> Vec<(Watched, i64)> {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let mut alerts: Vec<(Watched, i64)> = open
            .iter()
            .flatten()
            .map(|(watched, silence)| (watched.clone(), silence.alert))
            .collect();
        alerts.sort();
        alerts
    }

    fn take_open(&self) -> Option<HashMap<Watched, OpenSilence>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// The silence alerts left open by an earlier run of the server, all of them (asked for by
    /// source: the open alerts of detections may be many).
    async fn read_open(
        &self,
        store: &dyn Store,
    ) -> Result<HashMap<Watched, OpenSilence>, IngestError> {
        const PAGE: u32 = 1000;
        let mut open = HashMap::new();
        for status in [AlertStatus::Triggered, AlertStatus::Acknowledged] {
            // Page by page, newest first: an alert raised meanwhile moves the rest down, so
            // one may be read twice (the map keeps it once) but none is skipped.
            let mut offset = 0u32;
            loop {
                let page = store
                    .list_alerts(&AlertFilter {
                        status: Some(status),
                        source: Some(AlertSource::Monitor),
                        limit: PAGE,
                        offset,
                        ..AlertFilter::default()
                    })
                    .await
                    .map_err(IngestError::Alerts)?;
                let read = page.items.len() as u32;
                for alert in page.items {
                    if let Some(watched) =
                        Watched::of_alert(&alert.alert.service, &alert.alert.dedup_key)
                    {
                        let silence = OpenSilence {
                            alert: alert.id,
                            last: self.since,
                        };
                        open.insert(watched, silence);
                    }
                }
                offset = offset.saturating_add(read);
                if read < PAGE || u64::from(offset) >= page.total {
                    break;
                }
            }
        }
        Ok(open)
    }

    async fn check_with(
        &self,
        open: &mut HashMap<Watched, OpenSilence>,
        now: DateTime<Utc>,
        org: &OrgView,
        totals: &IngestTotals,
        store: &dyn Store,
        policy: AlertPolicy,
    ) -> Result<SilenceReport, IngestError> {
        // When each service, and each tenant of it, last had an event stored.
        let mut last_stored: HashMap<Watched, DateTime<Utc>> = totals
            .services
            .iter()
            .map(|(service, at)| {
                let watched = Watched {
                    service: service.clone(),
                    tenant: None,
                };
                (watched, *at)
            })
            .collect();
        for source in totals.sources.iter().filter(|s| !s.tenant.is_empty()) {
            let watched = Watched {
                service: source.service.clone(),
                tenant: Some(source.tenant.clone()),
            };
            let last = last_stored.entry(watched).or_default();
            *last = (*last).max(source.last_stored);
        }
        let owner = |service: &str| {
            org.document
                .as_ref()
                .and_then(|d| d.services.iter().find(|s| s.name == service))
        };
        let watched_for = |w: &Watched| {
            let owner = owner(&w.service)?;
            let secs = owner.silent_after_secs()?;
            (w.tenant.is_none() || owner.silent_per_tenant).then_some(secs)
        };
        {
            // What earlier runs heard, and what this one heard of the watched sources, for the
            // next run. Without a document nothing is known to be watched: what was kept stays
            // as it was.
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            for (watched, at) in &kept.heard {
                let last = last_stored.entry(watched.clone()).or_insert(*at);
                *last = (*last).max(*at);
            }
            if org.document.is_some() {
                kept.heard = last_stored
                    .iter()
                    .filter(|(w, _)| watched_for(w).is_some())
                    .map(|(w, t)| (w.clone(), *t))
                    .collect();
            }
        }
        let mut report = SilenceReport::default();
        let mut failed = None;
        // Resolved first: what sends again, or is no longer watched.
        let resumed: Vec<(Watched, OpenSilence, Option<DateTime<Utc>>)> = open
            .iter()
            .filter_map(|(watched, silence)| {
                let back = last_stored
                    .get(watched)
                    .copied()
                    .filter(|t| *t > silence.last);
                // Without a document (none applied yet, or unreadable) nothing is taken as
                // unwatched.
                let unwatched = org.document.is_some() && watched_for(watched).is_none();
                (back.is_some() || unwatched).then(|| (watched.clone(), *silence, back))
            })
            .collect();
        for (watched, silence, back) in resumed {
            let note = match back {
                Some(back) => format!(
                    "events come again: none was stored from {} until they resumed (the latest at {})",
                    silence.last.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    back.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ),
                None => "no longer watched for silence (silent_after or silent_per_tenant removed from the organisation document)".to_owned(),
            };
            match close(store, silence.alert, &note).await {
                Ok(()) => {
                    open.remove(&watched);
                    report.resolved.push((watched.name(), silence.alert));
                }
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        let Some(document) = &org.document else {
            return failed.map_or(Ok(report), Err);
        };
        let mut candidates: Vec<(Watched, &vigil_oncall::ServiceOwner, u64)> = Vec::new();
        for owner in &document.services {
            let Some(after) = owner.silent_after_secs() else {
                continue;
            };
            candidates.push((
                Watched {
                    service: owner.name.clone(),
                    tenant: None,
                },
                owner,
                after,
            ));
            if owner.silent_per_tenant {
                let mut tenants: Vec<&Watched> = last_stored
                    .keys()
                    .filter(|w| w.service == owner.name && w.tenant.is_some())
                    .collect();
                tenants.sort();
                candidates.extend(tenants.into_iter().map(|w| (w.clone(), owner, after)));
            }
        }
        for (watched, owner, after) in candidates {
            if open.contains_key(&watched) {
                continue;
            }
            let heard = last_stored.get(&watched).copied();
            // Not counted from before the start: the server's downtime is not the source's.
            let last = heard.unwrap_or(self.since).max(self.since);
            let quiet = now - last;
            if quiet.num_seconds() < after as i64 {
                continue;
            }
            // What the central log has been without its events: from the last one stored, even
            // when that was before this start (the summary says so).
            let gap = now - heard.map_or(last, |heard| heard.min(last));
            let time = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let seen = match heard {
                Some(heard) if heard < self.since => format!(
                    "its last event was stored at {}, before the server started at {}",
                    time(heard),
                    time(self.since)
                ),
                Some(_) => format!("its last event was stored at {}", time(last)),
                None => format!(
                    "none has been stored since the server started at {}",
                    time(last)
                ),
            };
            let whose = match &watched.tenant {
                None => format!("service {:?}", watched.service),
                Some(tenant) => format!("service {:?} for tenant {tenant:?}", watched.service),
            };
            let alert = NewAlert {
                title: format!("No logs from {} for {}", watched.name(), span(gap)),
                source: AlertSource::Monitor,
                severity: preliminary_severity(RuleLevel::Medium, owner.criticality),
                service: watched.service.clone(),
                tenant: watched.tenant.clone(),
                dedup_key: watched.dedup_key(),
                rule_id: None,
                summary: Some(format!(
                    "No event of {whose} for {} (silent_after: {}); {seen}. Check its log \
                     sender and its host; an attacker may have turned its logging off.",
                    span(gap),
                    owner.silent_after.as_deref().unwrap_or_default()
                )),
                origin: Some("vigil-silence".into()),
                reporter: None,
                event_ids: Vec::new(),
                events: Vec::new(),
                times: 1,
            };
            match store.raise_alert(ACTOR, alert, policy).await {
                Ok(raised) => {
                    let id = match raised {
                        Raised::Created(a) | Raised::Deduplicated(a) => Some(a.id),
                        Raised::Suppressed => None,
                    };
                    if let Some(id) = id {
                        report.raised.push((watched.name(), id));
                        // When the gap began, before the start if the last event was.
                        let last = heard.unwrap_or(last);
                        open.insert(watched, OpenSilence { alert: id, last });
                    }
                }
                Err(e) => {
                    failed.get_or_insert(IngestError::Alerts(e));
                }
            }
        }
        failed.map_or(Ok(report), Err)
    }
}

/// Resolves a silence alert with `note` in its log; one a responder closed already is left
/// as they left it.
async fn close(store: &dyn Store, alert: i64, note: &str) -> Result<(), IngestError> {
    match store.get_alert(alert).await {
        Ok(a) if matches!(a.status, AlertStatus::Resolved | AlertStatus::Dismissed) => {
            return Ok(());
        }
        Ok(_) => {}
        Err(StoreError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(IngestError::Alerts(e)),
    }
    store
        .log_alert(alert, ACTOR, "note", note)
        .await
        .map_err(IngestError::Alerts)?;
    match store.act_on_alert(ACTOR, alert, AlertAction::Resolve).await {
        Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(IngestError::Alerts(e)),
    }
}

/// `2h 5m`, `12m`, `45s`.
fn span(d: chrono::Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (days, hours, minutes) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::{Watched, span};

    #[test]
    fn an_alert_tells_what_it_watches_by_its_dedup_key() {
        let whole = Watched {
            service: "web".into(),
            tenant: None,
        };
        let acme = Watched {
            service: "web".into(),
            tenant: Some("acme".into()),
        };
        for w in [&whole, &acme] {
            assert_eq!(Watched::of_alert("web", &w.dedup_key()).as_ref(), Some(w));
        }
        assert_eq!(acme.name(), "web (tenant acme)");
        // Another service's key, or another kind of alert's, is not this one's.
        assert_eq!(Watched::of_alert("web", "silence|web-2"), None);
        assert_eq!(Watched::of_alert("web", "rule|web|h1"), None);
    }

    #[test]
    fn spans_read_as_a_responder_writes_them() {
        let s = |secs: i64| span(chrono::Duration::seconds(secs));
        assert_eq!(s(45), "45s");
        assert_eq!(s(12 * 60 + 5), "12m");
        assert_eq!(s(2 * 3600), "2h");
        assert_eq!(s(2 * 3600 + 5 * 60), "2h 5m");
        assert_eq!(s(3 * 86_400 + 60), "3d");
        assert_eq!(s(86_400 + 7 * 3600), "1d 7h");
        assert_eq!(s(-5), "0s");
    }
}
