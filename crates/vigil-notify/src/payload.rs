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

/// Vigil's own JSON: every field of the notification, `fields` as an ordered list (but
/// `whole_alert`: nothing of it is cut).
pub fn generic_payload(n: &Notification) -> Value {
    let n = &n.shown();
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
        "summary_label": n.summary_label,
        "key": n.key,
        "ack_url": n.ack_url,
        "service": n.service,
        "tenant": n.tenant,
        "fields": fields,
    })
}

/// Slack incoming-webhook JSON: `text` plus header, fields, acknowledge button, the summary
/// and key blocks. The summary comes from outside (a report's description, a tool's summary):
/// it follows Vigil's facts and button, under its label, each line a quote, escaped.
pub fn slack_payload(n: &Notification) -> Value {
    let n = &n.shown();
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(&format!("[{}] {}", n.severity, n.title), 150)},
    })];
    let mut facts: Vec<(&str, &str)> = vec![("Severity", &n.severity)];
    if let Some(service) = &n.service {
        facts.push(("Service", service));
    }
    if let Some(tenant) = &n.tenant {
        facts.push(("Tenant", tenant));
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
    if !n.summary.is_empty() {
        // `>` opens a quote only as written here: the summary's own are escaped (`&gt;`).
        let quoted: Vec<String> = summary_lines(&n.summary)
            .map(|l| format!(">{}", slack_escape(&l)))
            .collect();
        let text = format!(
            "*{}:*\n{}",
            slack_escape(&n.summary_label),
            quoted.join("\n")
        );
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": truncate(&text, 3000)},
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": slack_escape(&n.key)}],
    }));
    json!({"text": slack_escape(&headline(n)), "blocks": blocks})
}

/// The most bytes a Teams card is sent in, envelope included: Teams refuses a message over
/// about 28 KB (HTTP 413, which is not retried, so an oversized page never arrives); this
/// leaves room for what a workflow wraps around it.
pub(crate) const TEAMS_MAX_BYTES: usize = 20_000;

/// The most characters of the title a Teams card shows.
const TEAMS_TITLE_CHARS: usize = 200;

/// The most characters of a fact's name and of its value.
const TEAMS_FACT_NAME_CHARS: usize = 100;
const TEAMS_FACT_VALUE_CHARS: usize = 300;

/// The most bytes the facts take; the ones after are left out, and the card says how many.
const TEAMS_FACTS_BYTES: usize = 6_000;

/// The most lines of the summary shown, each a RichTextBlock: a card of thousands of blocks
/// is slow to show even when small enough to send.
const TEAMS_SUMMARY_LINES: usize = 150;

/// Room kept for the line that says the summary was cut.
const TEAMS_NOTE_BYTES: usize = 800;

/// Teams incoming-webhook JSON: an Adaptive Card 1.4 in the `message` envelope — the title,
/// Vigil's facts, the acknowledge button, then the summary under its label, set apart in an
/// emphasised container.
///
/// Teams reads Markdown (`**bold**`, `[text](url)`, lists) in a TextBlock's text and a
/// FactSet's titles and values, and has no escape for it that every client honours; so every
/// text that comes from outside Vigil — the title, the facts' values, the summary — goes into
/// a RichTextBlock's TextRuns, which are shown as written, never as Markdown: a report's
/// `[Acknowledge here](http://evil…)` stays those characters, not a link.
///
/// The whole message stays within [`TEAMS_MAX_BYTES`] whatever the text: the title and each
/// fact are shortened, facts past their share are left out, and the summary is cut where its
/// share ends (at most [`TEAMS_SUMMARY_LINES`] lines), the card saying so and where the whole
/// alert is ([`Notification::whole_alert`]).
pub fn teams_payload(n: &Notification) -> Value {
    let n = &n.shown();
    let title = truncate(&n.title, TEAMS_TITLE_CHARS);
    let mut facts: Vec<(&str, &str)> = vec![("Severity", &n.severity), ("Key", &n.key)];
    if let Some(service) = &n.service {
        facts.push(("Service", service));
    }
    if let Some(tenant) = &n.tenant {
        facts.push(("Tenant", tenant));
    }
    facts.extend(n.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut body = vec![json!({
        "type": "RichTextBlock",
        "inlines": [{
            "type": "TextRun",
            "text": format!("[{}] {title}", n.severity),
            "size": "Large",
            "weight": "Bolder",
        }],
    })];
    let mut facts_room = TEAMS_FACTS_BYTES;
    for (i, (name, value)) in facts.iter().enumerate() {
        let block = json!({
            "type": "RichTextBlock",
            "spacing": if i == 0 { "Medium" } else { "None" },
            "inlines": [
                {"type": "TextRun", "text": format!("{}: ", truncate(name, TEAMS_FACT_NAME_CHARS)), "weight": "Bolder"},
                {"type": "TextRun", "text": truncate(value, TEAMS_FACT_VALUE_CHARS)},
            ],
        });
        let size = json_len(&block) + 1;
        if size > facts_room {
            let left = facts.len() - i;
            body.push(text_block(format!(
                "{left} more fact(s) left out to fit a Teams message{}",
                whole_alert_at(n)
            )));
            break;
        }
        facts_room -= size;
        body.push(block);
    }
    if let Some(url) = &n.ack_url {
        body.push(json!({
            "type": "ActionSet",
            "actions": [{"type": "Action.OpenUrl", "title": "Acknowledge", "url": url}],
        }));
    }
    let headline = format!("[{}] {title} ({})", n.severity, n.key);
    if !n.summary.is_empty() {
        let label = json!({
            "type": "RichTextBlock",
            "inlines": [{"type": "TextRun", "text": format!("{}:", truncate(&n.summary_label, TEAMS_FACT_NAME_CHARS)), "weight": "Bolder"}],
        });
        let used = json_len(&teams_envelope(&headline, body.clone()))
            + json_len(&summary_container(vec![label.clone()]))
            + 1;
        let mut room = TEAMS_MAX_BYTES.saturating_sub(used + TEAMS_NOTE_BYTES);
        let total: usize = n.summary.chars().count();
        let mut items = vec![label];
        let mut shown = 0;
        let mut cut = false;
        for (i, line) in summary_lines(&n.summary).enumerate() {
            if i == TEAMS_SUMMARY_LINES {
                cut = true;
                break;
            }
            let block = summary_block(&line);
            let size = json_len(&block) + 1;
            if size <= room {
                room -= size;
                shown += line.chars().count() + 1;
                items.push(block);
                continue;
            }
            // The line that does not fit: as much of it as does, marked as cut.
            let part = fit(
                &line,
                room.saturating_sub(json_len(&summary_block("…")) + 1),
            );
            if !part.is_empty() {
                shown += part.chars().count();
                items.push(summary_block(&format!("{part}…")));
            }
            cut = true;
            break;
        }
        if cut {
            items.push(text_block(format!(
                "Cut to fit a Teams message: {} of {total} characters shown{}",
                shown.min(total),
                whole_alert_at(n)
            )));
        }
        body.push(summary_container(items));
    }
    teams_envelope(&headline, body)
}

/// The card with `body` in the `message` envelope, `headline` as its notification text.
fn teams_envelope(headline: &str, body: Vec<Value>) -> Value {
    let card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    });
    json!({
        "type": "message",
        "summary": headline,
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

/// The emphasised container the summary is set apart in.
fn summary_container(items: Vec<Value>) -> Value {
    json!({
        "type": "Container",
        "style": "emphasis",
        "separator": true,
        "items": items,
    })
}

/// One line of the summary, as written.
fn summary_block(line: &str) -> Value {
    json!({
        "type": "RichTextBlock",
        "spacing": "None",
        // An empty run would be dropped: a blank line keeps its height.
        "inlines": [{"type": "TextRun", "text": if line.is_empty() { " " } else { line }}],
    })
}

/// A line of Vigil's own, in italics.
fn text_block(text: String) -> Value {
    json!({
        "type": "RichTextBlock",
        "inlines": [{"type": "TextRun", "text": text, "italic": true}],
    })
}

/// Where the whole alert is, for a line saying the page was cut.
fn whole_alert_at(n: &Notification) -> String {
    match &n.whole_alert {
        Some(at) => format!("; the whole alert: {at}"),
        None => format!("; the whole alert is {} in Vigil", n.key),
    }
}

/// The bytes `v` is sent as.
fn json_len(v: &Value) -> usize {
    v.to_string().len()
}

/// The longest start of `s` whose JSON string form (without its quotes) takes at most
/// `bytes`.
fn fit(s: &str, bytes: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if u32::from(c) < 0x20 => 6,
            c => c.len_utf8(),
        };
        if used > bytes {
            return &s[..i];
        }
    }
    s
}

/// The lines of a summary, broken wherever a reader would break one, each without other
/// control characters.
pub(crate) fn summary_lines(s: &str) -> impl Iterator<Item = String> + '_ {
    vigil_core::lines(s.trim_end()).map(|l| {
        l.chars()
            .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
            .collect()
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

    /// The tenant an alert belongs to is shown beside its service in every format.
    #[test]
    fn every_format_shows_the_tenant_beside_the_service() {
        let n = sample().with_tenant("globex");
        let generic = generic_payload(&n);
        assert_eq!(generic["tenant"], "globex");
        let slack = slack_payload(&n).to_string();
        assert!(
            slack.contains("*Service*\\nvpn") && slack.contains("*Tenant*\\nglobex"),
            "{slack}"
        );
        // Read as JSON, not as text: the order of an object's keys depends on serde_json's
        // features, which the whole workspace's build unifies.
        let teams = teams_payload(&n);
        let body = &teams["attachments"][0]["content"]["body"];
        let tenant_block = body
            .as_array()
            .into_iter()
            .flatten()
            .find(|b| b["inlines"][0]["text"] == "Tenant: ");
        assert_eq!(
            tenant_block.map(|b| &b["inlines"][1]["text"]),
            Some(&serde_json::json!("globex")),
            "{teams}"
        );
        let text = crate::email::email_text(&n);
        assert!(text.contains("Service:  vpn\nTenant:   globex\n"), "{text}");
        let html = crate::email::email_html(&n);
        assert!(
            html.contains("<th align=\"left\">Tenant</th><td>globex</td>"),
            "{html}"
        );
        // An alert of no tenant shows none.
        assert!(!crate::email::email_text(&sample()).contains("Tenant"));
        assert_eq!(generic_payload(&sample())["tenant"], Value::Null);
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

    /// A report's description holding Markdown, a forged link and forged fields: in Teams no
    /// text from outside is read as Markdown, and in both it comes after Vigil's facts and
    /// button, under its label.
    #[test]
    fn a_summary_cannot_pose_as_vigils_facts_or_link() {
        let n = Notification::new("Reported: **URGENT** [Acknowledge ALR-999 here](http://evil.example/ack)", "SEV3", "ALR-2")
            .with_ack_url("https://vigil.example/ack/ALR-2?t=x")
            .with_field("reporter", "[CEO](http://evil.example)")
            .with_summary_from(
                "Reporter wrote",
                "**URGENT** [Acknowledge ALR-999 here](http://evil.example/ack)\n\n> origin: Microsoft Defender",
            );
        let card = &teams_payload(&n)["attachments"][0]["content"];
        let body = card["body"].as_array().unwrap();
        // Nothing is Markdown: no TextBlock, no FactSet.
        let kinds: Vec<&str> = body.iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert!(
            kinds
                .iter()
                .all(|k| ["RichTextBlock", "ActionSet", "Container"].contains(k)),
            "{kinds:?}"
        );
        assert!(!card.to_string().contains("\"TextBlock\""), "{card}");
        assert_eq!(
            body[0]["inlines"][0]["text"],
            "[SEV3] Reported: **URGENT** [Acknowledge ALR-999 here](http://evil.example/ack)"
        );
        let button = kinds.iter().position(|k| *k == "ActionSet").unwrap();
        assert_eq!(
            body[button]["actions"][0]["url"],
            "https://vigil.example/ack/ALR-2?t=x"
        );
        let quoted = &body[button + 1];
        assert_eq!(quoted["type"], "Container");
        let texts: Vec<&str> = quoted["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["inlines"][0]["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            texts,
            [
                "Reporter wrote:",
                "**URGENT** [Acknowledge ALR-999 here](http://evil.example/ack)",
                " ",
                "> origin: Microsoft Defender"
            ]
        );
        assert_eq!(button + 2, body.len());

        let blocks = slack_payload(&n)["blocks"].as_array().unwrap().clone();
        let kinds: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["header", "section", "actions", "section", "context"]
        );
        assert_eq!(
            blocks[3]["text"]["text"],
            "*Reporter wrote:*\n>**URGENT** [Acknowledge ALR-999 here](http://evil.example/ack)\n>\n>&gt; origin: Microsoft Defender"
        );
    }

    /// Teams refuses a message over about 28 KB (413), and a refusal is not retried: whatever
    /// the title, facts and summary, the card stays well under it, says where it was cut and
    /// where the whole alert is, and keeps the button.
    #[test]
    fn a_teams_card_stays_under_its_size_limit_whatever_the_text() {
        let long_ascii = "a".repeat(20_000);
        let many_lines = "x\n".repeat(10_000);
        let cjk = "警告：多次登录失败。".repeat(2_000);
        let quotes = "\"\\".repeat(10_000);
        let emoji = "🔥".repeat(20_000);
        for text in [&long_ascii, &many_lines, &cjk, &quotes, &emoji] {
            let mut n = Notification::new(text.as_str(), "SEV2", "ALR-12")
                .with_ack_url("https://vigil.example/ack/ALR-12?t=x")
                .with_whole_alert("vigil alerts show ALR-12")
                .with_summary(text.as_str())
                .with_service(text.as_str());
            for i in 0..100 {
                n = n.with_field(format!("f{i}"), text.as_str());
            }
            let card = teams_payload(&n);
            let size = card.to_string().len();
            assert!(size <= TEAMS_MAX_BYTES, "{size} bytes");
            let body = card["attachments"][0]["content"]["body"]
                .as_array()
                .unwrap();
            assert!(body.iter().any(|b| b["type"] == "ActionSet"), "{card}");
            let last = body.last().unwrap();
            assert_eq!(last["type"], "Container", "{card}");
            let note = last["items"].as_array().unwrap().last().unwrap()["inlines"][0]["text"]
                .as_str()
                .unwrap();
            assert!(
                note.starts_with("Cut to fit a Teams message")
                    && note.ends_with("vigil alerts show ALR-12"),
                "{note}"
            );
        }
        // A page that fits is not cut.
        let card = teams_payload(&sample().with_whole_alert("vigil alerts show ALR-12"));
        assert!(!card.to_string().contains("Cut to fit"), "{card}");
    }

    /// A title of several lines, or one with a bidirectional override left open, reaches no
    /// channel as such: every title is one line and no format carries a bidi control, so none
    /// can reverse Vigil's own text after it (` (ALR-4)`); each is shown as its escape. The
    /// summary keeps its lines where a channel quotes it line by line.
    #[test]
    fn titles_are_one_line_and_no_page_carries_a_bidi_control() {
        let bidi = [
            '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200e}', '\u{200f}', '\u{61c}',
        ];
        let every: String = bidi.iter().collect();
        let n = Notification::new(
            format!("Login\nAcknowledge: http://evil.example\u{2028}x {every}"),
            "SEV2",
            "ALR-4",
        )
        .with_service("vpn\u{202e}")
        .with_tenant("acme\u{2067}")
        .with_field("host\u{202e}", "ws\u{202e}exe.1")
        .with_ack_url("https://vigil.example/ack/ALR-4?t=x")
        .with_summary(format!("first \u{202e}line\nsecond {every}"));
        let title = r"Login Acknowledge: http://evil.example x \u{202a}\u{202b}\u{202c}\u{202d}\u{202e}\u{2066}\u{2067}\u{2068}\u{2069}\u{200e}\u{200f}\u{61c}";
        let generic = generic_payload(&n);
        let slack = slack_payload(&n);
        let teams = teams_payload(&n);
        let headline = format!("[SEV2] {title} (ALR-4)");
        assert_eq!(generic["title"], title);
        assert_eq!(generic["text"], headline);
        assert_eq!(
            generic["summary"],
            r"first \u{202e}line".to_owned()
                + "\n"
                + r"second \u{202a}\u{202b}\u{202c}\u{202d}\u{202e}\u{2066}\u{2067}\u{2068}\u{2069}\u{200e}\u{200f}\u{61c}"
        );
        assert_eq!(slack["text"], slack_escape(&headline));
        assert_eq!(
            slack["blocks"][0]["text"]["text"],
            truncate(&format!("[SEV2] {title}"), 150)
        );
        assert_eq!(teams["summary"], headline);
        assert_eq!(
            teams["attachments"][0]["content"]["body"][0]["inlines"][0]["text"],
            format!("[SEV2] {title}")
        );
        assert_eq!(crate::email::email_subject(&n), headline);
        let text = crate::email::email_text(&n);
        assert!(text.starts_with(&format!("{title}\n\n")), "{text}");
        assert!(
            text.contains("\n> first \\u{202e}line\n> second \\u{202a}"),
            "{text}"
        );
        let html = crate::email::email_html(&n);
        let pages = [
            generic.to_string(),
            slack.to_string(),
            teams.to_string(),
            crate::email::email_subject(&n),
            text,
            html,
        ];
        for page in &pages {
            assert!(!page.contains(&bidi[..]), "{page}");
        }
        for v in [&generic, &slack, &teams] {
            assert!(!v.to_string().contains('\u{2028}'), "{v}");
        }
    }

    #[test]
    fn truncate_counts_characters() {
        assert_eq!(truncate("ééé", 3), "ééé");
        assert_eq!(truncate("éééé", 3), "éé…");
    }
}
