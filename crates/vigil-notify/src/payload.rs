//! Webhook bodies for the three [`WebhookFormat`]s.
//!
//! **Teams** gets an Adaptive Card (version 1.4) in the incoming-webhook envelope
//! (`{"type": "message", "attachments": [{"contentType":
//! "application/vnd.microsoft.card.adaptive", "content": {…}}]}`), not a legacy MessageCard:
//! Microsoft has retired Office 365 connectors, whose MessageCard format was the only reason to
//! send one, and the Workflows ("when a Teams webhook request is received") that replace them
//! accept Adaptive Cards in this envelope; 1.4 is the newest card version Teams renders
//! everywhere (desktop, web and mobile).
//!
//! **Slack** gets the incoming-webhook format: `text` (the fallback shown in notifications)
//! and Block Kit `blocks`, within Slack's limits (header 150 characters, section text 3,000,
//! ten fields per section).

use serde_json::{Value, json};

use crate::{Notification, WebhookFormat};

/// The body for `format`.
pub fn webhook_payload(notification: &Notification, format: WebhookFormat) -> Value {
    match format {
        WebhookFormat::Generic => generic_payload(notification),
        WebhookFormat::Slack => slack_payload(notification),
        WebhookFormat::Teams => teams_payload(notification),
    }
}

/// One line for people: `[SEV2] Brute force on vpn-1 (ALR-12)`.
pub(crate) fn headline(n: &Notification) -> String {
    format!("[{}] {} ({})", n.severity, n.title, n.key)
}

/// Vigil's own JSON: every field of the notification, `fields` as an ordered list.
pub fn generic_payload(n: &Notification) -> Value {
    let fields: Vec<Value> = n
        .fields
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    json!({
        "version": 1,
        "text": headline(n),
        "title": n.title,
        "severity": n.severity,
        "summary": n.summary,
        "key": n.key,
        "ack_url": n.ack_url,
        "service": n.service,
        "fields": fields,
    })
}

/// Slack incoming-webhook JSON: `text` plus header, summary, fields, acknowledge button and
/// key blocks.
pub fn slack_payload(n: &Notification) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(&format!("[{}] {}", n.severity, n.title), 150)},
    })];
    if !n.summary.is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": truncate(&slack_escape(&n.summary), 3000)},
        }));
    }
    let mut facts: Vec<(&str, &str)> = vec![("Severity", &n.severity)];
    if let Some(service) = &n.service {
        facts.push(("Service", service));
    }
    facts.extend(n.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    for chunk in facts.chunks(10) {
        let fields: Vec<Value> = chunk
            .iter()
            .map(|(name, value)| {
                let text = format!("*{}*\n{}", slack_escape(name), slack_escape(value));
                json!({"type": "mrkdwn", "text": truncate(&text, 2000)})
            })
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    if let Some(url) = &n.ack_url {
        blocks.push(json!({
            "type": "actions",
            "elements": [{
                "type": "button",
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "style": "primary",
                "url": url,
            }],
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": slack_escape(&n.key)}],
    }));
    json!({"text": slack_escape(&headline(n)), "blocks": blocks})
}

/// Teams incoming-webhook JSON: an Adaptive Card 1.4 with title, summary, a fact set and an
/// acknowledge action, in the `message` envelope.
pub fn teams_payload(n: &Notification) -> Value {
    let mut facts = vec![
        json!({"title": "Severity", "value": n.severity}),
        json!({"title": "Key", "value": n.key}),
    ];
    if let Some(service) = &n.service {
        facts.push(json!({"title": "Service", "value": service}));
    }
    facts.extend(
        n.fields
            .iter()
            .map(|(k, v)| json!({"title": k, "value": v})),
    );
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": format!("[{}] {}", n.severity, n.title),
        "size": "Large",
        "weight": "Bolder",
        "wrap": true,
    })];
    if !n.summary.is_empty() {
        body.push(json!({"type": "TextBlock", "text": n.summary, "wrap": true}));
    }
    body.push(json!({"type": "FactSet", "facts": facts}));
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    });
    if let Some(url) = &n.ack_url {
        card["actions"] = json!([{"type": "Action.OpenUrl", "title": "Acknowledge", "url": url}]);
    }
    json!({
        "type": "message",
        "summary": headline(n),
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

/// Slack's three control characters in mrkdwn and `text`.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most `max` characters, the last one `…` when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Notification {
        Notification::new("Login <storm> & more", "SEV2", "ALR-12")
            .with_summary("42 failures")
            .with_service("vpn")
            .with_ack_url("https://vigil.example/ack/ALR-12")
            .with_field("host", "vpn-1")
    }

    #[test]
    fn slack_escapes_control_characters() {
        let v = slack_payload(&sample());
        assert_eq!(v["text"], "[SEV2] Login &lt;storm&gt; &amp; more (ALR-12)");
    }

    #[test]
    fn slack_splits_fields_by_ten() {
        let mut n = sample();
        for i in 0..15 {
            n.fields.push((format!("f{i}"), "v".into()));
        }
        let v = slack_payload(&n);
        let sections: Vec<usize> = v["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|b| b["fields"].as_array().map(Vec::len))
            .collect();
        // severity, service, host and 15 more: 18 facts.
        assert_eq!(sections, vec![10, 8]);
    }

    #[test]
    fn truncate_counts_characters() {
        assert_eq!(truncate("ééé", 3), "ééé");
        assert_eq!(truncate("éééé", 3), "éé…");
    }
}
