//! What to say ([`Notification`]) and to whom ([`Target`]).

use serde::{Deserialize, Serialize};

/// One message about an alert or incident, independent of the channel it goes out on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// One line saying what happened ("Brute force on vpn-1").
    pub title: String,
    /// Severity as shown to people ("SEV2").
    pub severity: String,
    /// A few sentences of context; may be empty. Text from outside Vigil (a report's
    /// description, another tool's summary): every format shows it after Vigil's own facts and
    /// the acknowledge link, under [`Notification::summary_label`], quoted line by line and
    /// escaped for the channel's markup, so that it cannot pose as a fact or a link of Vigil's.
    pub summary: String,
    /// Who wrote the summary, as the line above it says ("Reporter wrote").
    #[serde(default = "default_summary_label")]
    pub summary_label: String,
    /// The alert or incident key ("ALR-12", "INC-42").
    pub key: String,
    /// Where a person acknowledges it, if anywhere.
    pub ack_url: Option<String>,
    /// The service concerned, if known.
    pub service: Option<String>,
    /// The tenant concerned, if any: shown beside the service.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Further facts, in the order they are shown.
    pub fields: Vec<(String, String)>,
    /// Where the whole alert can be read (`vigil alerts show ALR-12`): a page a channel's size
    /// limit cuts says so and points there.
    #[serde(default)]
    pub whole_alert: Option<String>,
}

impl Notification {
    /// A notification with a title, severity and key, and nothing else yet.
    pub fn new(
        title: impl Into<String>,
        severity: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        Notification {
            title: title.into(),
            severity: severity.into(),
            summary: String::new(),
            summary_label: default_summary_label(),
            key: key.into(),
            ack_url: None,
            service: None,
            tenant: None,
            fields: Vec::new(),
            whole_alert: None,
        }
    }

    /// Sets the summary.
    pub fn with_summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = summary.into();
        self
    }

    /// Sets the summary and who wrote it ("Reporter wrote").
    pub fn with_summary_from(
        mut self,
        label: impl Into<String>,
        summary: impl Into<String>,
    ) -> Self {
        self.summary_label = label.into();
        self.summary = summary.into();
        self
    }

    /// Sets the acknowledgement URL.
    pub fn with_ack_url(mut self, url: impl Into<String>) -> Self {
        self.ack_url = Some(url.into());
        self
    }

    /// Sets the service.
    pub fn with_service(mut self, service: impl Into<String>) -> Self {
        self.service = Some(service.into());
        self
    }

    /// Sets the tenant.
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Sets where the whole alert can be read.
    pub fn with_whole_alert(mut self, whole_alert: impl Into<String>) -> Self {
        self.whole_alert = Some(whole_alert.into());
        self
    }

    /// Appends a field.
    pub fn with_field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.push((name.into(), value.into()));
        self
    }
}

impl Notification {
    /// The notification as every format shows it: the title and every other text of one
    /// line (severity, key, service, tenant, the facts, the summary's label) on one line, its
    /// line breaks and other control characters as spaces; the summary with its lines (each
    /// format quotes it line by line); and in all of them each bidirectional control
    /// ([`vigil_core::is_bidi_control`]) shown as its escape (`\u{202e}`), as the CLI shows
    /// them: an override left open in a title would reverse what Vigil writes after it (the
    /// subject's ` (ALR-4)`), and one in a line of the summary what the channel shows next.
    pub(crate) fn shown(&self) -> Notification {
        let line = |s: &str| -> String {
            escape_bidi(
                &s.chars()
                    .map(|c| if vigil_core::breaks_line(c) { ' ' } else { c })
                    .collect::<String>(),
            )
        };
        Notification {
            title: line(&self.title),
            severity: line(&self.severity),
            summary: escape_bidi(&self.summary),
            summary_label: line(&self.summary_label),
            key: line(&self.key),
            ack_url: self.ack_url.clone(),
            service: self.service.as_deref().map(line),
            tenant: self.tenant.as_deref().map(line),
            fields: self
                .fields
                .iter()
                .map(|(name, value)| (line(name), line(value)))
                .collect(),
            whole_alert: self.whole_alert.as_deref().map(line),
        }
    }
}

/// `s` with each bidirectional control as its escape (`\u{202e}`).
fn escape_bidi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if vigil_core::is_bidi_control(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// The line above a summary whose writer is not named.
fn default_summary_label() -> String {
    "Details".to_owned()
}

/// Where a notification goes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// An HTTP(S) endpoint that takes a JSON POST. The URL often carries a secret (Slack and
    /// Teams put it in the path, others in the query), so it is never logged or recorded whole.
    Webhook { url: String, format: WebhookFormat },
    /// One e-mail recipient, as an address or `Name <address>`.
    Email { to: String },
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Webhook { url, format } => f
                .debug_struct("Webhook")
                .field("url", &crate::redact_url(url))
                .field("format", format)
                .finish(),
            Target::Email { to } => f.debug_struct("Email").field("to", to).finish(),
        }
    }
}

/// The JSON shape a webhook expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// Vigil's own JSON with every field of the notification.
    Generic,
    /// Slack incoming-webhook format: `text` plus Block Kit `blocks`.
    Slack,
    /// Microsoft Teams: an Adaptive Card in the `message`/`attachments` envelope.
    Teams,
}
