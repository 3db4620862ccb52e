//! vigil-escalation: pages the owning team's on-call for every open alert and escalates level
//! by level until someone acknowledges.
//!
//! The clock of every alert is stored (`vigil-store`'s escalation timers), never held only in
//! memory: each [`Escalator::tick`] reads the clocks that are due, pages that level of the
//! owning team's policy (`vigil-oncall`: who is on call now in the named schedules, the
//! manager, a person, another team's on-call) on each of their contact methods
//! (`vigil-notify`: webhook or e-mail, with retries), writes every page and its delivery to the
//! alert's log, and moves the clock to the next level. A restart therefore continues each
//! escalation at the step it had reached. An acknowledgement stops the clock in the same
//! transaction that records it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use vigil_core::{Alert, AlertStatus};
use vigil_notify::{DeliveryStatus, Notification, Notifier, Target, WebhookFormat};
use vigil_oncall::{
    ContactKind, MAX_ESCALATION_DELAY_SECS, MAX_ESCALATION_REPEATS, OrgDocument, ValidOrg,
    parse_after,
};
use vigil_store::{EscalationTimer, Store, StoreError};

/// The system actor of escalation entries in an alert's log.
pub const ACTOR: &str = "vigil";

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
        }
    }

    /// Sign acknowledgement links with `signer`, so a page can be acknowledged from the link
    /// without a login (`/ack/ALR-12?t=…`, served by the server).
    pub fn with_links(mut self, signer: vigil_core::LinkSigner) -> Self {
        self.links = Some(signer);
        self
    }

    /// Runs [`Escalator::tick`] every `interval` until `shutdown` turns true.
    pub async fn run(self, interval: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.tick(Utc::now()).await {
                tracing::error!(error = %e, "escalation round failed; retrying");
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// Pages every level due at `now`; returns how many clocks were handled.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<usize, EscalationError> {
        let due = self.store.due_escalations(now, 100).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let org = match self.store.current_org().await? {
            Some(v) => serde_json::from_value::<OrgDocument>(v.document)
                .ok()
                .and_then(|d| d.validate_stored().ok()),
            None => None,
        };
        for timer in &due {
            self.step(timer, org.as_ref(), now).await?;
        }
        Ok(due.len())
    }

    async fn step(
        &self,
        timer: &EscalationTimer,
        org: Option<&ValidOrg>,
        now: DateTime<Utc>,
    ) -> Result<(), EscalationError> {
        let id = timer.alert_id;
        let alert = self.store.get_alert(id).await?;
        if alert.status != AlertStatus::Triggered {
            self.store.advance_escalation(id, None).await?;
            return Ok(());
        }
        let Some(org) = org else {
            self.stop(
                id,
                "no organisation is configured, so nobody was paged; run `vigil apply -f org.yaml`",
            )
            .await?;
            return Ok(());
        };
        let Some(team) = org.owner_of(&alert.alert.service).map(|t| t.name.clone()) else {
            let text = format!(
                "no team owns service {:?}, so nobody was paged; add it to `services` in the organisation file",
                alert.alert.service
            );
            self.stop(id, &text).await?;
            return Ok(());
        };
        let policy = match org.escalation(&team) {
            Ok(p) if !p.levels.is_empty() => p,
            _ => {
                self.stop(id, &format!("team {team} has no one to page (no schedules, manager or escalation policy)")).await?;
                return Ok(());
            }
        };
        let level_no = timer.level as usize;
        let Some(level) = policy.levels.get(level_no) else {
            self.store.advance_escalation(id, None).await?;
            return Ok(());
        };
        let at = jiff::Timestamp::new(now.timestamp(), 0).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let targets = org
            .page_targets(&team, &level.notify, at)
            .unwrap_or_default();
        let step = format!(
            "level {} of {} (round {})",
            level_no + 1,
            policy.levels.len(),
            timer.round + 1
        );
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
        for target in &targets {
            let mut paged = false;
            for contact in &target.person.contacts {
                let to = match contact.kind {
                    ContactKind::Email => Target::Email {
                        to: contact.address.clone(),
                    },
                    ContactKind::Webhook => Target::Webhook {
                        url: contact.address.clone(),
                        format: webhook_format(&contact.address),
                    },
                    ContactKind::Phone => continue,
                };
                let delivery = self
                    .notifier
                    .deliver(&self.notification(&alert, &team, &step), &to)
                    .await;
                let outcome = match &delivery.status {
                    DeliveryStatus::Delivered => "delivered".to_owned(),
                    DeliveryStatus::Failed { reason } => format!("failed: {reason}"),
                };
                let kind = match contact.kind {
                    ContactKind::Email => "e-mail",
                    ContactKind::Webhook => "webhook",
                    ContactKind::Phone => "phone",
                };
                paged |= delivery.is_delivered();
                let record = serde_json::to_string(&delivery).unwrap_or_default();
                self.log(
                    id,
                    "page",
                    &format!("{step}: paged {} ({}) by {kind} after {} attempt(s): {outcome}; delivery {record}", target.person.name, target.reason, delivery.attempts.len()),
                )
                .await?;
            }
            if target.person.contacts.is_empty() {
                self.log(
                    id,
                    "page",
                    &format!(
                        "{step}: {} has no contact method; add one in the organisation file",
                        target.person.name
                    ),
                )
                .await?;
            } else if !paged {
                tracing::warn!(alert = %alert.key, person = %target.person.name, "no page was delivered");
            }
        }
        // The next level counts from the start of this round; after the last, repeat or stop.
        // Delays are clamped as validation bounds them, should a document predate the bound.
        let delay = |text: Option<&str>, default: u64| {
            let seconds = text.and_then(parse_after).unwrap_or(default);
            chrono::Duration::seconds(seconds.min(MAX_ESCALATION_DELAY_SECS) as i64)
        };
        let next = if level_no + 1 < policy.levels.len() {
            let after = delay(policy.levels.get(level_no + 1).map(|l| l.after.as_str()), 0);
            let due = timer.started_at + after;
            Some((timer.level + 1, timer.round, timer.started_at, due.max(now)))
        } else if timer.round < policy.repeat.min(MAX_ESCALATION_REPEATS) {
            let start = now + delay(policy.repeat_after.as_deref(), 1800);
            Some((0, timer.round + 1, start, start))
        } else {
            None
        };
        match next {
            Some((l, _, _, due)) => {
                self.log(
                    id,
                    "escalation",
                    &format!(
                        "{step} paged; level {} is due at {} unless acknowledged",
                        l + 1,
                        due.format("%Y-%m-%dT%H:%M:%SZ")
                    ),
                )
                .await?;
            }
            None => {
                self.log(
                    id,
                    "escalation",
                    &format!("{step} paged; the policy has no further level"),
                )
                .await?
            }
        }
        self.store.advance_escalation(id, next).await?;
        Ok(())
    }

    fn notification(&self, alert: &Alert, team: &str, step: &str) -> Notification {
        let mut n = Notification::new(
            &alert.alert.title,
            alert.alert.severity.as_str(),
            &alert.key,
        )
        .with_service(&alert.alert.service)
        .with_ack_url(match &self.links {
            Some(l) => format!(
                "{}/ack/{}?t={}",
                self.public_url,
                alert.key,
                l.sign("ack", &alert.key)
            ),
            None => format!("{}/api/v1/alerts/{}/ack", self.public_url, alert.key),
        })
        .with_field("team", team)
        .with_field("escalation", step)
        .with_field("fired", alert.count.to_string())
        .with_field("acknowledge", format!("vigil alerts ack {}", alert.key));
        if let Some(s) = &alert.alert.summary {
            n = n.with_summary(s);
        }
        n
    }

    async fn log(&self, id: i64, action: &str, text: &str) -> Result<(), EscalationError> {
        Ok(self.store.log_alert(id, ACTOR, action, text).await?)
    }

    async fn stop(&self, id: i64, text: &str) -> Result<(), EscalationError> {
        self.log(id, "escalation", text).await?;
        Ok(self.store.advance_escalation(id, None).await?)
    }
}

/// Slack and Teams incoming webhooks want their own payloads; anything else gets the generic one.
fn webhook_format(url: &str) -> WebhookFormat {
    if url.contains("hooks.slack.com") {
        WebhookFormat::Slack
    } else if url.contains("webhook.office.com") || url.contains(".logic.azure.com") {
        WebhookFormat::Teams
    } else {
        WebhookFormat::Generic
    }
}
