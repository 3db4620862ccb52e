//! vigil-escalation: pages the owning team's on-call for every open alert and escalates level
//! by level until someone acknowledges.
//!
//! The clock of every alert is stored (`vigil-store`'s escalation timers), never held only in
//! memory: each [`Escalator::tick`] reads the clocks that are due, keeps in the store a page for
//! each person of that level of the owning team's policy (`vigil-oncall`: who is on call now in
//! the named schedules, the manager, a person, another team's on-call), moves the clock to the
//! next level, and then delivers the pages, every person on each of their contact methods at
//! once (`vigil-notify`: webhook or e-mail, with retries), writing every page and its delivery
//! to the alert's log. A slow receiver therefore delays no one else's page and no later level,
//! and a restart continues each escalation at the step it had reached, delivering the pages a
//! crash cut short. An acknowledgement stops the clock in the same transaction that records
//! it, and a delivery under way starts no further attempt.
//!
//! A page that reached a person on none of their contacts (a mail relay down, a webhook
//! failing) is stored to be tried again ([`Store::defer_page`]), apart from the clock: the
//! next level still comes at its own time, in addition, and the person is paged again after
//! [`RETRY_PAGE_FIRST`], then at doubling waits up to [`RETRY_PAGE_MAX`], until a page reaches
//! them or the alert is acknowledged or closed (which drops the retries in its transaction).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::StreamExt;
use vigil_core::{Alert, AlertStatus};
use vigil_notify::{DeliveryStatus, Notification, Notifier, Target, WebhookFormat};
use vigil_oncall::{
    ContactKind, EscalationLevel, EscalationPolicy, MAX_ESCALATION_DELAY_SECS,
    MAX_ESCALATION_REPEATS, OrgDocument, Person, ValidOrg, parse_after,
};
use vigil_store::{EscalationTimer, PageRetry, Store, StoreError};

pub mod facts;

/// The `fields` list of a loaded Sigma rule, by rule id (empty when it has none or is not
/// loaded): the fields its author says a responder should see of a match.
pub type RuleFields = Arc<dyn Fn(&str) -> Vec<String> + Send + Sync>;

/// The system actor of escalation entries in an alert's log (no token may take it).
pub const ACTOR: &str = vigil_core::actors::SYSTEM;

/// How long an alert nobody could be paged for (no organisation yet, a service nobody owns and
/// no central team) waits before paging is tried again: a corrected organisation document pages
/// it within this long.
pub const RETRY_UNPAGED: Duration = Duration::from_secs(60);

/// How long after a page reached a person on none of their contacts it is tried again; each
/// further failure doubles the wait, up to [`RETRY_PAGE_MAX`]. A mail relay restarting or a
/// webhook receiver deploying is back within a minute or two, and every try already retries
/// for a few seconds itself (`vigil-notify`).
pub const RETRY_PAGE_FIRST: Duration = Duration::from_secs(60);

/// The longest wait between two tries of an undelivered page: an alert nobody was reached for
/// is paged again at least this often until someone acknowledges it.
pub const RETRY_PAGE_MAX: Duration = Duration::from_secs(300);

/// The most escalation tasks under way at once: a level's step with its deliveries, or the
/// due retries of one alert. Each may hold deliveries to slow receivers open (a webhook that
/// never answers takes its timeout at every attempt); within a task the people of a level and
/// their contacts are paged at once, so one is as long as its slowest delivery.
pub const MAX_STEPS: usize = 64;

/// How long a stop waits for the steps under way before dropping them.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What this process has under way, so that nothing is started twice: an alert's clock while
/// its step decides who is paged and moves the clock on, and one person's page at one step
/// while it is delivered (by the step or by a retry).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Claim {
    /// The clock of this alert.
    Clock(i64),
    /// The page of a person at a step (the clock's state, as [`PageRetry::step`] names it).
    Page {
        alert_id: i64,
        step: String,
        person: String,
    },
}

impl Claim {
    fn page(retry: &PageRetry) -> Claim {
        Claim::Page {
            alert_id: retry.alert_id,
            step: retry.step.clone(),
            person: retry.person.clone(),
        }
    }
}

/// A claim held, given up when dropped (a task that panicked too).
struct Held {
    claims: Arc<Mutex<HashSet<Claim>>>,
    claim: Claim,
}

impl Held {
    fn take(claims: &Arc<Mutex<HashSet<Claim>>>, claim: Claim) -> Option<Held> {
        let mut set = claims.lock().unwrap_or_else(|e| e.into_inner());
        set.insert(claim.clone()).then(|| Held {
            claims: Arc::clone(claims),
            claim,
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut set = self.claims.lock().unwrap_or_else(|e| e.into_inner());
        set.remove(&self.claim);
    }
}

/// Why a round of escalation failed as a whole (one undeliverable page is logged, not an error).
#[derive(Debug, thiserror::Error)]
pub enum EscalationError {
    /// The store failed.
    #[error("escalation could not read or write the store: {0}")]
    Store(#[from] StoreError),
}

/// Pages and escalates open alerts.
pub struct Escalator {
    store: Arc<dyn Store>,
    notifier: Arc<Notifier>,
    public_url: String,
    links: Option<vigil_core::LinkSigner>,
    rule_fields: Option<RuleFields>,
    /// The first wait before an undelivered page is tried again, and the longest.
    page_retry: (Duration, Duration),
    /// The clocks and pages under way in this process ([`Claim`]): a page still being
    /// delivered must not be started again by a later round, nor a clock its step holds.
    claims: Arc<Mutex<HashSet<Claim>>>,
}

impl std::fmt::Debug for Escalator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Escalator")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl Escalator {
    /// An escalator over `store`, delivering through `notifier`; acknowledgement links in
    /// notifications point at `public_url` (the server's address as responders reach it).
    pub fn new(
        store: Arc<dyn Store>,
        notifier: Arc<Notifier>,
        public_url: impl Into<String>,
    ) -> Self {
        Escalator {
            store,
            notifier,
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            links: None,
            rule_fields: None,
            page_retry: (RETRY_PAGE_FIRST, RETRY_PAGE_MAX),
            claims: Arc::default(),
        }
    }

    /// Try an undelivered page again after `first` (then at doubling waits up to five times
    /// `first`) instead of [`RETRY_PAGE_FIRST`] and [`RETRY_PAGE_MAX`]: for tests that cannot
    /// wait minutes.
    pub fn with_page_retry(mut self, first: Duration) -> Self {
        self.page_retry = (first, first * 5);
        self
    }

    /// Sign acknowledgement links with `signer`, so a page can be acknowledged from the link
    /// without a login (`/ack/ALR-12?t=…`, served by the server).
    pub fn with_links(mut self, signer: vigil_core::LinkSigner) -> Self {
        self.links = Some(signer);
        self
    }

    /// Show in a detection's page the fields of its first event that its rule's `fields` list
    /// names (looked up in the rules loaded when it is paged), instead of the usual key fields.
    pub fn with_rule_fields(mut self, rule_fields: RuleFields) -> Self {
        self.rule_fields = Some(rule_fields);
        self
    }

    /// Starts the steps due every `interval` until `shutdown` turns true. Each step runs in a
    /// task of its own, and so do the due retries of each alert, at most [`MAX_STEPS`] at
    /// once, so an alert whose page waits on a slow receiver holds up no other alert's; a
    /// step moves its clock on before it delivers, so the next level comes at its time
    /// however long the deliveries take. Neither a clock nor a page is started again while
    /// it is under way.
    pub async fn run(self, interval: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let this = Arc::new(self);
        let mut steps = tokio::task::JoinSet::new();
        loop {
            while steps.try_join_next().is_some() {}
            if let Err(e) = this.start_due(Utc::now(), &mut steps).await {
                tracing::error!(error = %e, "escalation round failed; retrying");
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                break;
            }
        }
        // A stop lets the steps under way finish for a moment, then drops them: the pages they
        // delivered are recorded, and the rest are sent when the server starts again.
        let finish = async { while steps.join_next().await.is_some() {} };
        let _ = tokio::time::timeout(STOP_GRACE, finish).await;
        steps.shutdown().await;
    }

    /// Spawns a step for every clock due at `now` that is not under way already, and a task
    /// for the due retries of each alert that are not under way.
    async fn start_due(
        self: &Arc<Self>,
        now: DateTime<Utc>,
        steps: &mut tokio::task::JoinSet<()>,
    ) -> Result<(), EscalationError> {
        let due = self.store.due_escalations(now, 100).await?;
        let retries = by_alert(self.store.due_page_retries(now, 100).await?);
        if due.is_empty() && retries.is_empty() {
            return Ok(());
        }
        let org = Arc::new(self.read_org().await?);
        for timer in due {
            if steps.len() >= MAX_STEPS {
                break;
            }
            // The clock stays due until the step moves it on, so a later round must not start
            // it again meanwhile.
            let Some(clock) = self.claim(Claim::Clock(timer.alert_id)) else {
                continue;
            };
            let (this, org) = (Arc::clone(self), Arc::clone(&org));
            steps.spawn(async move {
                let org = org.as_ref().as_ref().map_err(String::as_str);
                let done = match this.still_due(&timer, now).await {
                    Ok(false) => Ok(()),
                    Ok(true) => this.step(&timer, org, now, clock).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = done {
                    tracing::error!(error = %e, alert = timer.alert_id, "escalation step failed; retrying");
                }
            });
        }
        // Each page is claimed on its own: one being delivered (by its step, or a retry
        // started earlier) is left to it, and no other waits for it.
        for (alert_id, pages) in retries {
            if steps.len() >= MAX_STEPS {
                break;
            }
            let pages = self.claim_pages(pages);
            if pages.is_empty() {
                continue;
            }
            let (this, org) = (Arc::clone(self), Arc::clone(&org));
            steps.spawn(async move {
                let org = org.as_ref().as_ref().map_err(String::as_str);
                if let Err(e) = this.retry(alert_id, pages, org, now).await {
                    tracing::error!(error = %e, alert = alert_id, "retrying undelivered pages failed; retrying");
                }
            });
        }
        Ok(())
    }

    fn claim(&self, claim: Claim) -> Option<Held> {
        Held::take(&self.claims, claim)
    }

    /// The pages of `retries` not under way already, each with its claim.
    fn claim_pages(&self, retries: Vec<PageRetry>) -> Vec<(PageRetry, Held)> {
        retries
            .into_iter()
            .filter_map(|r| self.claim(Claim::page(&r)).map(|held| (r, held)))
            .collect()
    }

    /// Whether `timer` is still the alert's clock as the store has it: a step that ended
    /// between the reading of the due clocks and the claim on its alert has moved the clock on,
    /// and running the old one again would log the step twice.
    async fn still_due(
        &self,
        timer: &EscalationTimer,
        now: DateTime<Utc>,
    ) -> Result<bool, EscalationError> {
        Ok(self
            .store
            .due_escalations(now, 100)
            .await?
            .iter()
            .any(|due| due == timer))
    }

    /// Pages every level due at `now`, up to [`MAX_STEPS`] alerts at once, then tries again
    /// the undelivered pages due at `now`; returns how many clocks and retries were handled
    /// once every step and its deliveries have finished.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<usize, EscalationError> {
        let due = self.store.due_escalations(now, 100).await?;
        let mut handled = due.len();
        if !due.is_empty() {
            let org = self.read_org().await?;
            let org = org.as_ref().map_err(String::as_str);
            let results: Vec<Result<(), EscalationError>> = futures_util::stream::iter(&due)
                .filter_map(|timer| {
                    std::future::ready(
                        self.claim(Claim::Clock(timer.alert_id))
                            .map(|clock| (timer, clock)),
                    )
                })
                .map(|(timer, clock)| self.step(timer, org, now, clock))
                .buffer_unordered(MAX_STEPS)
                .collect()
                .await;
            results.into_iter().collect::<Result<Vec<()>, _>>()?;
        }
        let retries = by_alert(self.store.due_page_retries(now, 100).await?);
        if !retries.is_empty() {
            handled += retries.values().map(Vec::len).sum::<usize>();
            let org = self.read_org().await?;
            let org = org.as_ref().map_err(String::as_str);
            let retries: Vec<(i64, Vec<(PageRetry, Held)>)> = retries
                .into_iter()
                .map(|(alert_id, pages)| (alert_id, self.claim_pages(pages)))
                .collect();
            let results: Vec<Result<(), EscalationError>> = futures_util::stream::iter(retries)
                .map(|(alert_id, pages)| self.retry(alert_id, pages, org, now))
                .buffer_unordered(MAX_STEPS)
                .collect()
                .await;
            results.into_iter().collect::<Result<Vec<()>, _>>()?;
        }
        Ok(handled)
    }

    /// The organisation in force, or why nobody can be paged from it.
    async fn read_org(&self) -> Result<Result<ValidOrg, String>, EscalationError> {
        Ok(match self.store.current_org().await? {
            None => Err(
                "no organisation is configured, so nobody was paged; run `vigil apply -f org.yaml`"
                    .to_owned(),
            ),
            Some(v) => serde_json::from_value::<OrgDocument>(v.document)
                .map_err(|e| e.to_string())
                .and_then(|d| d.validate_stored().map_err(|e| e.to_string()))
                .map_err(|e| {
                    format!(
                        "the stored organisation document (version {}) cannot be read ({e}), so nobody was paged; apply a corrected one with `vigil apply -f org.yaml`",
                        v.version
                    )
                }),
        })
    }

    /// One step of an alert's clock: decides who the due level pages and keeps each page in
    /// the store ([`Store::defer_page`], not tried yet), moves the clock on and writes the
    /// next level's time to the log, and only then delivers, every page at once. The clock is
    /// given up before the deliveries, so a slow receiver moves no later level; a page kept
    /// before a crash is delivered by the retries when the server starts again.
    async fn step(
        &self,
        timer: &EscalationTimer,
        org: Result<&ValidOrg, &str>,
        now: DateTime<Utc>,
        clock: Held,
    ) -> Result<(), EscalationError> {
        let id = timer.alert_id;
        let alert = self.store.get_alert(id).await?;
        if alert.status != AlertStatus::Triggered {
            self.store.advance_escalation(id, None).await?;
            return Ok(());
        }
        let Responders {
            org,
            team,
            policy,
            instead,
        } = match responders(org, &alert.alert.service) {
            Ok(r) => r,
            Err(why) => return self.wait(timer, &alert, &why, now).await,
        };
        let levels = policy.levels.len();
        let mut level_no = timer.level as usize;
        if level_no >= levels {
            // The policy lost levels since the clock was set: it goes on at its last level.
            self.log(
                id,
                "escalation",
                &format!(
                    "the escalation policy of team {team} now has {levels} level(s), so its last level is paged in place of level {}",
                    level_no + 1
                ),
            )
            .await?;
            level_no = levels - 1;
        }
        let level = &policy.levels[level_no];
        let due = timer.started_at + delay(Some(&level.after), 0);
        if due > now {
            // Every level waits its `after` from the start of the round, the first one too.
            self.log(
                id,
                "escalation",
                &format!(
                    "level {} of {levels} (round {}) is due at {} (after {}) unless acknowledged",
                    level_no + 1,
                    timer.round + 1,
                    due.format("%Y-%m-%dT%H:%M:%SZ"),
                    level.after
                ),
            )
            .await?;
            let next = (level_no as u32, timer.round, timer.started_at, due);
            self.store.advance_escalation(id, Some(next)).await?;
            return Ok(());
        }
        if let Some(note) = &instead {
            self.log(id, "escalation", note).await?;
        }
        let step = format!(
            "level {} of {} (round {})",
            level_no + 1,
            levels,
            timer.round + 1
        );
        // The clock's state names this step: run again after a crash, it skips what was sent.
        let key = format!(
            "round {} level {} from {}",
            timer.round,
            timer.level,
            timer
                .started_at
                .to_rfc3339_opts(SecondsFormat::Micros, true)
        );
        let Level { pages, reached } = self
            .pages(&alert, org, &team, level, (&step, &key), now)
            .await?;
        // The next level counts from the start of this round, moved on by however late this
        // level was paged (a restart, an organisation fixed while the alert waited), so that
        // each level still has its time before the next; after the last, repeat or stop.
        let start = timer.started_at.max(now - delay(Some(&level.after), 0));
        let next = if level_no + 1 < levels {
            let after = delay(Some(&policy.levels[level_no + 1].after), 0);
            Some((
                level_no as u32 + 1,
                timer.round,
                start,
                (start + after).max(now),
            ))
        } else if timer.round < policy.repeat.min(MAX_ESCALATION_REPEATS) {
            let start = now + delay(policy.repeat_after.as_deref(), 1800);
            let first = delay(Some(&policy.levels[0].after), 0);
            Some((0, timer.round + 1, start, start + first))
        } else {
            None
        };
        let what = if !pages.is_empty() {
            let names: Vec<&str> = pages.iter().map(|p| p.retry.person.as_str()).collect();
            format!("{step}: paging {}", names.join(", "))
        } else if reached {
            format!("{step} paged")
        } else {
            format!("{step}: nobody was reached")
        };
        let text = match next {
            Some((l, round, _, due)) if round == timer.round => format!(
                "{what}; level {} is due at {} unless acknowledged",
                l + 1,
                due.format("%Y-%m-%dT%H:%M:%SZ")
            ),
            Some((_, round, _, due)) => format!(
                "{what}; round {} begins at {} unless acknowledged",
                round + 1,
                due.format("%Y-%m-%dT%H:%M:%SZ")
            ),
            None => format!("{what}; the policy has no further level"),
        };
        self.log(id, "escalation", &text).await?;
        self.store.advance_escalation(id, next).await?;
        drop(clock);
        if pages.is_empty() {
            return Ok(());
        }
        let facts = self.facts(&alert, instead.as_deref()).await?;
        // Each page gives up its claim as soon as it is delivered or kept for later.
        let (alert, facts) = (&alert, &facts);
        let sends = pages.into_iter().map(|page| async move {
            let Pending {
                retry,
                person,
                held,
            } = page;
            let sent = self.send(alert, facts, &retry, &person, now).await;
            drop(held);
            sent
        });
        futures_util::future::join_all(sends)
            .await
            .into_iter()
            .collect::<Result<Vec<()>, _>>()?;
        Ok(())
    }

    /// The pages of one level: says in the log who cannot be paged (a phone, no contact), and
    /// keeps a page for every other person not reached at this step yet, claimed for the
    /// caller to deliver.
    async fn pages(
        &self,
        alert: &Alert,
        org: &ValidOrg,
        team: &str,
        level: &EscalationLevel,
        (step, key): (&str, &str),
        now: DateTime<Utc>,
    ) -> Result<Level, EscalationError> {
        let id = alert.id;
        let sent: HashSet<String> = self
            .store
            .delivered_pages(id, key)
            .await?
            .into_iter()
            .collect();
        let at = jiff::Timestamp::new(now.timestamp(), 0).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let targets = org
            .page_targets(team, &level.notify, at)
            .unwrap_or_default();
        if targets.is_empty() {
            self.log(
                id,
                "escalation",
                &format!(
                    "{step}: nobody to page — {} has no one on call now",
                    level.notify.join(", ")
                ),
            )
            .await?;
        }
        let mut out = Level::default();
        for target in targets {
            let person = target.person;
            for contact in &person.contacts {
                if contact.kind == ContactKind::Phone {
                    self.log(
                        id,
                        "page",
                        &format!(
                            "{step}: could not page {0} ({1}) by phone: Vigil does not place phone calls; add an e-mail or webhook contact for {0} in the organisation file",
                            person.name, target.reason
                        ),
                    )
                    .await?;
                }
            }
            if person.contacts.is_empty() {
                self.log(
                    id,
                    "page",
                    &format!(
                        "{step}: {} has no contact method; add one in the organisation file",
                        person.name
                    ),
                )
                .await?;
            }
            let keys: Vec<String> = person
                .contacts
                .iter()
                .filter_map(|c| contact_kind(c.kind).map(|kind| contact_key(&person, kind, c)))
                .collect();
            if keys.is_empty() {
                continue;
            }
            if keys.iter().all(|k| sent.contains(k)) {
                // Delivered at an earlier run of the step, cut short by a crash.
                out.reached = true;
                continue;
            }
            let retry = PageRetry {
                alert_id: id,
                step: key.to_owned(),
                person: person.name.clone(),
                label: step.to_owned(),
                team: team.to_owned(),
                reason: target.reason,
                tries: 0,
                first_at: now,
                next_at: now,
                error: String::new(),
            };
            let Some(held) = self.claim(Claim::page(&retry)) else {
                // A retry kept before a crash delivers it already.
                out.reached = true;
                continue;
            };
            // Kept before the clock moves on: a crash during the deliveries loses no page.
            self.store.defer_page(&retry, ACTOR, None).await?;
            out.pages.push(Pending {
                retry,
                person,
                held,
            });
        }
        Ok(out)
    }

    /// Delivers one page kept in the store ([`PageRetry`]; not tried yet when `tries` is 0) to
    /// its person, on each of their contacts at once: a page that reaches them ends it (the
    /// store drops it with the delivery), another failure keeps it to be tried again later,
    /// unless the alert was acknowledged, resolved or dismissed meanwhile.
    async fn send(
        &self,
        alert: &Alert,
        facts: &[(String, String)],
        retry: &PageRetry,
        person: &Person,
        now: DateTime<Utc>,
    ) -> Result<(), EscalationError> {
        let sent: HashSet<String> = self
            .store
            .delivered_pages(alert.id, &retry.step)
            .await?
            .into_iter()
            .collect();
        let notification = self.notification(
            (alert, facts),
            (&retry.team, &retry.label),
            &person.name,
            now,
        );
        let page = Page {
            alert,
            notification: &notification,
            person,
            reason: &retry.reason,
            step: (&retry.label, &retry.step),
            sent: &sent,
        };
        let first = retry.tries == 0;
        let started = std::time::Instant::now();
        let error = match self.page_person(&page, (!first).then_some(retry)).await? {
            Reached::Now => return Ok(()),
            Reached::Before => {
                // Delivered by the step itself, run again after a crash.
                self.store
                    .drop_page_retries(alert.id, Some(&retry.person), ACTOR, None)
                    .await?;
                return Ok(());
            }
            Reached::Unpageable => format!(
                "{} has no e-mail or webhook contact; add one in the organisation file",
                person.name
            ),
            Reached::No(error) => error,
        };
        let status = self.store.get_alert(alert.id).await?.status;
        if status != AlertStatus::Triggered {
            // Its acknowledgement dropped the page kept in the store, in its transaction.
            let text = format!(
                "{}: {} was not reached; the alert was {} meanwhile, so the page is not tried again",
                retry.label,
                person.name,
                status.as_str()
            );
            return self.log(alert.id, "page", &text).await;
        }
        let tries = retry.tries + 1;
        // The wait counts from when the delivery gave up, in whole seconds: a receiver that
        // took its timeout at every attempt (~47 s) would otherwise leave seconds before the
        // next try instead of the minute the log promises.
        let failed_at = now + chrono::Duration::seconds(started.elapsed().as_secs() as i64);
        let next = PageRetry {
            tries,
            first_at: if first { now } else { retry.first_at },
            next_at: failed_at + self.retry_wait(tries),
            error,
            ..retry.clone()
        };
        let text = if first {
            tracing::warn!(alert = %alert.key, person = %person.name, retry_at = %next.next_at, "no page was delivered; it is tried again");
            Some(format!(
                "{}: {} was not reached; the page is tried again at {}, then at growing intervals (at most {} min apart), until it is delivered or the alert is acknowledged",
                retry.label,
                person.name,
                next.next_at.format("%Y-%m-%dT%H:%M:%SZ"),
                self.page_retry.1.as_secs().div_ceil(60)
            ))
        } else {
            tracing::warn!(alert = %alert.key, person = %retry.person, tries, retry_at = %next.next_at, error = %next.error, "a page was not delivered again");
            // The log says each new failure once, not every try of the same one.
            (next.error != retry.error).then(|| {
                format!(
                    "{}: {} still not reached after {tries} tries ({}); tried again at {}",
                    retry.label,
                    retry.person,
                    next.error,
                    next.next_at.format("%Y-%m-%dT%H:%M:%SZ")
                )
            })
        };
        self.store.defer_page(&next, ACTOR, text.as_deref()).await?;
        Ok(())
    }

    /// Delivers one page to one person on each of their e-mail and webhook contacts not
    /// reached at this step yet, all at once, recording each delivery as it completes; `again`
    /// is the try of a retried page.
    async fn page_person(
        &self,
        page: &Page<'_>,
        again: Option<&PageRetry>,
    ) -> Result<Reached, EscalationError> {
        let Page { person, sent, .. } = page;
        let mut before = false;
        let mut deliveries = Vec::new();
        for contact in &person.contacts {
            let Some(kind) = contact_kind(contact.kind) else {
                continue;
            };
            let key = contact_key(person, kind, contact);
            if sent.contains(&key) {
                before = true;
                continue;
            }
            let to = match contact.kind {
                ContactKind::Email => Target::Email {
                    to: contact.address.clone(),
                },
                _ => Target::Webhook {
                    url: contact.address.clone(),
                    format: contact_format(contact),
                },
            };
            deliveries.push(self.page_contact(page, again, (to, kind), key));
        }
        let tried = !deliveries.is_empty();
        let mut failures = Vec::new();
        let mut delivered = false;
        for outcome in futures_util::future::join_all(deliveries).await {
            match outcome? {
                None => delivered = true,
                Some(failure) => failures.push(failure),
            }
        }
        Ok(if delivered {
            Reached::Now
        } else if before {
            Reached::Before
        } else if !tried {
            Reached::Unpageable
        } else {
            Reached::No(failures.join("; "))
        })
    }

    /// Delivers one page on one contact (`to`, of `kind`; `key` names it for the store) and
    /// records it; no attempt starts once the alert is no longer triggered. The failure, if
    /// it failed.
    async fn page_contact(
        &self,
        page: &Page<'_>,
        again: Option<&PageRetry>,
        (to, kind): (Target, &str),
        key: String,
    ) -> Result<Option<String>, EscalationError> {
        let Page {
            alert,
            notification,
            person,
            reason,
            step: (step, clock),
            ..
        } = page;
        let stop = || async {
            match self.store.get_alert(alert.id).await {
                Ok(a) if a.status != AlertStatus::Triggered => {
                    Some(format!("the alert was {} meanwhile", a.status.as_str()))
                }
                _ => None,
            }
        };
        let delivery = self.notifier.deliver_unless(notification, &to, stop).await;
        let record = serde_json::to_string(&delivery).unwrap_or_default();
        let tried = match again {
            Some(r) => format!(
                ", try {} since {}",
                r.tries + 1,
                r.first_at.format("%Y-%m-%dT%H:%M:%SZ")
            ),
            None => String::new(),
        };
        match &delivery.status {
            DeliveryStatus::Delivered => {
                let text = format!(
                    "{step}: paged {} ({reason}) by {kind} after {} attempt(s){tried}: delivered; delivery {record}",
                    person.name,
                    delivery.attempts.len()
                );
                self.store
                    .record_page(alert.id, ACTOR, (clock, &person.name, &key), &text)
                    .await?;
                Ok(None)
            }
            DeliveryStatus::Failed { reason: why } => {
                // A retry's failures are summed up by the retry, not logged one by one.
                if again.is_none() {
                    let text = format!(
                        "{step}: could not page {} ({reason}) by {kind} after {} attempt(s): failed: {why}; delivery {record}",
                        person.name,
                        delivery.attempts.len()
                    );
                    self.log(alert.id, "page", &text).await?;
                }
                Ok(Some(format!("{kind}: {why}")))
            }
        }
    }

    /// Tries again the undelivered pages of one alert, every person at once: while it is
    /// triggered, each person is paged on their contacts in the organisation in force (a
    /// corrected address is used); a page that reaches them ends their retries, another
    /// failure waits longer. A page kept by a step cut short (not tried yet) is delivered as
    /// the step would have.
    async fn retry(
        &self,
        alert_id: i64,
        pages: Vec<(PageRetry, Held)>,
        org: Result<&ValidOrg, &str>,
        now: DateTime<Utc>,
    ) -> Result<(), EscalationError> {
        if pages.is_empty() {
            return Ok(());
        }
        // A page delivered or kept for later between the reading of the due retries and its
        // claim has changed in the store: only those still as read are tried.
        let current = self.store.due_page_retries(now, 1000).await?;
        let pages: Vec<(PageRetry, Held)> = pages
            .into_iter()
            .filter(|(retry, _)| current.contains(retry))
            .collect();
        if pages.is_empty() {
            return Ok(());
        }
        let alert = self.store.get_alert(alert_id).await?;
        if alert.status != AlertStatus::Triggered {
            // Acknowledging or closing drops them too; this covers an alert closed otherwise.
            self.store
                .drop_page_retries(alert_id, None, ACTOR, None)
                .await?;
            return Ok(());
        }
        let instead = responders(org, &alert.alert.service)
            .ok()
            .and_then(|r| r.instead);
        let facts = self.facts(&alert, instead.as_deref()).await?;
        // Each page gives up its claim as soon as it is delivered or kept for later.
        let (alert, facts) = (&alert, &facts);
        let tries = pages.into_iter().map(|(retry, held)| async move {
            let tried = self.retry_one(alert, facts, &retry, org, now).await;
            drop(held);
            tried
        });
        futures_util::future::join_all(tries)
            .await
            .into_iter()
            .collect::<Result<Vec<()>, _>>()?;
        Ok(())
    }

    /// Tries one undelivered page again, with the person's contacts in the organisation in
    /// force.
    async fn retry_one(
        &self,
        alert: &Alert,
        facts: &[(String, String)],
        retry: &PageRetry,
        org: Result<&ValidOrg, &str>,
        now: DateTime<Utc>,
    ) -> Result<(), EscalationError> {
        let person = match org {
            Err(why) => {
                let text = (retry.error != why).then(|| {
                    format!(
                        "{}: {} is not paged again yet: {why}",
                        retry.label, retry.person
                    )
                });
                let tries = retry.tries + 1;
                let next = PageRetry {
                    tries,
                    next_at: now + self.retry_wait(tries),
                    error: why.to_owned(),
                    ..retry.clone()
                };
                self.store.defer_page(&next, ACTOR, text.as_deref()).await?;
                return Ok(());
            }
            Ok(org) => org.person(&retry.person),
        };
        let Some(person) = person else {
            let text = format!(
                "{}: {} is no longer in the organisation document, so their page is not tried again",
                retry.label, retry.person
            );
            self.store
                .drop_page_retries(alert.id, Some(&retry.person), ACTOR, Some(&text))
                .await?;
            return Ok(());
        };
        self.send(alert, facts, retry, person, now).await
    }

    /// The wait after the `tries`-th failed delivery of a page: doubling from the first, up to
    /// the longest.
    fn retry_wait(&self, tries: u32) -> chrono::Duration {
        let (first, max) = self.page_retry;
        let wait = first
            .saturating_mul(1 << tries.saturating_sub(1).min(16))
            .min(max);
        chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(60))
    }

    /// Nobody can be paged for the alert yet: says why once (not at every retry) and keeps its
    /// clock, due again after [`RETRY_UNPAGED`], so that a corrected organisation pages it.
    async fn wait(
        &self,
        timer: &EscalationTimer,
        alert: &Alert,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<(), EscalationError> {
        let text = format!(
            "{why} (paging is tried again every {} s)",
            RETRY_UNPAGED.as_secs()
        );
        let said = alert
            .log
            .iter()
            .rev()
            .find(|e| e.actor == ACTOR && e.action == "escalation")
            .is_some_and(|e| e.text == text);
        if !said {
            tracing::warn!(alert = %alert.key, reason = %why, "nobody could be paged");
            self.log(alert.id, "escalation", &text).await?;
        }
        let retry = chrono::Duration::seconds(RETRY_UNPAGED.as_secs() as i64);
        self.store
            .advance_escalation(
                alert.id,
                Some((timer.level, timer.round, timer.started_at, now + retry)),
            )
            .await?;
        Ok(())
    }

    /// What the pages of `alert` say beyond its own fields ([`facts::alert_facts`]): its
    /// detections are read once for everyone paged at a step.
    async fn facts(
        &self,
        alert: &Alert,
        instead: Option<&str>,
    ) -> Result<Vec<(String, String)>, EscalationError> {
        let detections = self.store.alert_detections(alert.id).await?;
        let rule_fields = match (&self.rule_fields, &alert.alert.rule_id) {
            (Some(lookup), Some(rule)) => lookup(rule),
            _ => Vec::new(),
        };
        Ok(facts::alert_facts(
            alert,
            &detections,
            &rule_fields,
            instead,
        ))
    }

    /// The page of `alert` for `person`, with its `facts`: its acknowledgement link is signed
    /// for them, so the alert's log says who acknowledged, and works for
    /// `vigil_core::LINK_LIFETIME` from `now`.
    fn notification(
        &self,
        (alert, facts): (&Alert, &[(String, String)]),
        (team, step): (&str, &str),
        person: &str,
        now: DateTime<Utc>,
    ) -> Notification {
        let mut n = Notification::new(
            &alert.alert.title,
            alert.alert.severity.as_str(),
            &alert.key,
        )
        .with_service(&alert.alert.service)
        .with_ack_url(match &self.links {
            Some(l) => format!(
                "{}/ack/{}?{}",
                self.public_url,
                alert.key,
                l.query(&vigil_core::LinkSigner::grant(
                    "ack", &alert.key, person, now
                ))
            ),
            None => format!("{}/api/v1/alerts/{}/ack", self.public_url, alert.key),
        })
        .with_field("team", team)
        .with_field("escalation", step)
        .with_field("fired", alert.count.to_string())
        .with_field("acknowledge", format!("vigil alerts ack {}", alert.key))
        .with_whole_alert(format!("vigil alerts show {}", alert.key));
        // An alert is one tenant's: the page says whose, beside the service.
        if let Some(t) = &alert.alert.tenant {
            n = n.with_tenant(t);
        }
        // A report's reporter is who the responder calls back; the tool that raised an
        // external alert (or how a person reported it) says where to look.
        if let Some(r) = &alert.alert.reporter {
            n = n.with_field("reporter", r);
        }
        if let Some(o) = &alert.alert.origin {
            n = n.with_field("origin", o);
        }
        for (name, value) in facts {
            n = n.with_field(name, value);
        }
        // The summary is text from outside (a person's words, another tool's): every channel
        // sets it apart under who wrote it, after the page's own facts and link.
        if let Some(s) = &alert.alert.summary {
            n = n.with_summary_from(alert.alert.source.summary_label(), s);
        }
        n
    }

    async fn log(&self, id: i64, action: &str, text: &str) -> Result<(), EscalationError> {
        Ok(self.store.log_alert(id, ACTOR, action, text).await?)
    }
}

/// What a level pages.
#[derive(Default)]
struct Level {
    /// The pages to deliver, kept in the store and claimed.
    pages: Vec<Pending>,
    /// Whether someone was reached at an earlier run of the step, cut short by a crash.
    reached: bool,
}

/// A page kept in the store that this process delivers.
struct Pending {
    retry: PageRetry,
    person: Person,
    /// Its claim, held until it is delivered or kept for later.
    held: Held,
}

/// One page to one person at one step.
struct Page<'a> {
    alert: &'a Alert,
    notification: &'a Notification,
    person: &'a Person,
    reason: &'a str,
    /// The step as logged, and as its clock state names it.
    step: (&'a str, &'a str),
    /// The contacts delivered to at this step already.
    sent: &'a HashSet<String>,
}

/// How a contact method is named in the log, or `None` for one Vigil cannot page (a phone).
fn contact_kind(kind: ContactKind) -> Option<&'static str> {
    match kind {
        ContactKind::Email => Some("e-mail"),
        ContactKind::Webhook => Some("webhook"),
        ContactKind::Phone => None,
    }
}

/// A contact as the store names its deliveries ([`Store::record_page`]).
fn contact_key(person: &Person, kind: &str, contact: &vigil_oncall::Contact) -> String {
    format!("{} {kind} {}", person.name, contact.address)
}

/// Whether a page reached its person.
enum Reached {
    /// A contact was delivered to now.
    Now,
    /// A contact was delivered to at an earlier run of the step.
    Before,
    /// Every e-mail and webhook contact failed: the failures.
    No(String),
    /// The person has no e-mail or webhook contact.
    Unpageable,
}

/// The retries due, by alert.
fn by_alert(retries: Vec<PageRetry>) -> BTreeMap<i64, Vec<PageRetry>> {
    let mut out: BTreeMap<i64, Vec<PageRetry>> = BTreeMap::new();
    for r in retries {
        out.entry(r.alert_id).or_default().push(r);
    }
    out
}

/// The team whose policy an alert's escalation follows, in the organisation it was read from.
struct Responders<'a> {
    org: &'a ValidOrg,
    team: String,
    policy: EscalationPolicy,
    /// Why the central team is paged rather than the owning team, when it is.
    instead: Option<String>,
}

/// Who pages an alert of `service`: its owning team, or else the central Security Response
/// team; or why nobody can be paged, with what to change in the organisation file.
fn responders<'a>(
    org: Result<&'a ValidOrg, &str>,
    service: &str,
) -> Result<Responders<'a>, String> {
    let org = org.map_err(str::to_owned)?;
    let policy = |team: &str| org.escalation(team).ok().filter(|p| !p.levels.is_empty());
    let (why, fix) = match org.owner_of(service) {
        Some(team) => match policy(&team.name) {
            Some(policy) => {
                return Ok(Responders {
                    org,
                    team: team.name.clone(),
                    policy,
                    instead: None,
                });
            }
            None => (
                format!(
                    "team {} has no one to page (no schedules, manager or escalation policy)",
                    team.name
                ),
                format!("give team {} a schedule or a manager", team.name),
            ),
        },
        None => (
            format!("no team owns service {service:?}"),
            "add the service to `services`".to_owned(),
        ),
    };
    let Some(central) = org.central_team() else {
        return Err(format!(
            "{why} and no `central_team` is named, so nobody was paged; {fix}, or name the Security Response team as `central_team`, in the organisation file"
        ));
    };
    match policy(&central.name) {
        Some(policy) => Ok(Responders {
            org,
            team: central.name.clone(),
            instead: Some(format!(
                "{why}, so the central team {} is paged",
                central.name
            )),
            policy,
        }),
        None => Err(format!(
            "{why} and the central team {0} has no one to page either, so nobody was paged; {fix}, or give team {0} a schedule or a manager, in the organisation file",
            central.name
        )),
    }
}

/// An escalation delay as written (`15m`), `default` seconds when absent or unreadable. Delays
/// are clamped as validation bounds them, should a document predate the bound.
fn delay(text: Option<&str>, default: u64) -> chrono::Duration {
    let seconds = text.and_then(parse_after).unwrap_or(default);
    chrono::Duration::seconds(seconds.min(MAX_ESCALATION_DELAY_SECS) as i64)
}

/// The payload a webhook contact is sent: the one it names, or else the one its URL says.
fn contact_format(contact: &vigil_oncall::Contact) -> WebhookFormat {
    match contact.format {
        Some(vigil_oncall::WebhookFormat::Generic) => WebhookFormat::Generic,
        Some(vigil_oncall::WebhookFormat::Slack) => WebhookFormat::Slack,
        Some(vigil_oncall::WebhookFormat::Teams) => WebhookFormat::Teams,
        None => webhook_format(&contact.address),
    }
}

/// Slack and Teams incoming webhooks want their own payloads; anything else gets the generic
/// one. Teams workflows are on Power Automate's hosts (`….environment.api.powerplatform.com`,
/// paths under `/powerautomate/`), which replaced `….logic.azure.com` and the connectors'
/// `….webhook.office.com`; a URL that says neither (a relay) names its format in the contact.
fn webhook_format(url: &str) -> WebhookFormat {
    let power_automate = vigil_core::contact::webhook_url(url).is_ok_and(|u| {
        u.host_str()
            .is_some_and(|h| h.ends_with(".environment.api.powerplatform.com"))
            || u.path().starts_with("/powerautomate/")
    });
    if url.contains("hooks.slack.com") {
        WebhookFormat::Slack
    } else if url.contains("webhook.office.com")
        || url.contains(".logic.azure.com")
        || power_automate
    {
        WebhookFormat::Teams
    } else {
        WebhookFormat::Generic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's and Teams' own hosts, old and new, get their payloads; anything else the
    /// generic JSON, unless the contact names its format.
    #[test]
    fn webhook_format_is_guessed_from_the_receivers_host() {
        for (url, format) in [
            (
                "https://hooks.slack.com/services/T0/B0/x",
                WebhookFormat::Slack,
            ),
            (
                "https://contoso.webhook.office.com/webhookb2/x",
                WebhookFormat::Teams,
            ),
            (
                "https://prod-01.westeurope.logic.azure.com:443/workflows/x/triggers/manual/paths/invoke?sig=x",
                WebhookFormat::Teams,
            ),
            (
                "https://default0a1b2c3d4e5f.6a.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/0a1b/triggers/manual/paths/invoke?api-version=1&sig=x",
                WebhookFormat::Teams,
            ),
            ("https://hooks.example.com/alice", WebhookFormat::Generic),
        ] {
            assert_eq!(webhook_format(url), format, "{url}");
        }
    }
}
