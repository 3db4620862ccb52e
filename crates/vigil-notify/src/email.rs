//! E-mail subject and bodies for a notification.

use std::fmt::Write as _;

use crate::Notification;
use crate::payload::{headline, summary_lines as lines};

/// `[SEV2] Brute force on vpn-1 (ALR-12)`: of one line, as [`Notification::shown`] makes the
/// title, key and severity (line breaks and other control characters as spaces), so a title
/// cannot add headers.
pub fn email_subject(n: &Notification) -> String {
    headline(&n.shown())
}

/// The plain-text body: title, the facts, the fields and the acknowledge link — Vigil's own
/// lines — then the summary, which comes from outside (a report's description, a tool's
/// summary), under its label and quoted line by line (`> `), so that no line of it can pass for
/// one of Vigil's (a forged `Acknowledge: http://…` or `reporter: …`). The title, from outside
/// too, is kept to one line ([`Notification::shown`]).
pub fn email_text(n: &Notification) -> String {
    let n = &n.shown();
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", n.title);
    let _ = writeln!(out, "Severity: {}", n.severity);
    if let Some(service) = &n.service {
        let _ = writeln!(out, "Service:  {service}");
    }
    if let Some(tenant) = &n.tenant {
        let _ = writeln!(out, "Tenant:   {}", tenant);
    }
    let _ = writeln!(out, "Key:      {}", n.key);
    if !n.fields.is_empty() {
        out.push('\n');
        for (name, value) in &n.fields {
            let _ = writeln!(out, "{name}: {}", value);
        }
    }
    if let Some(url) = &n.ack_url {
        let _ = writeln!(out, "\nAcknowledge: {url}");
    }
    if !n.summary.is_empty() {
        let _ = writeln!(out, "\n{}:", n.summary_label);
        for line in lines(&n.summary) {
            if line.is_empty() {
                out.push_str(">\n");
            } else {
                let _ = writeln!(out, "> {line}");
            }
        }
    }
    out
}

/// The HTML alternative: the same content, escaped, in the same order; the summary in a
/// blockquote under its label.
pub fn email_html(n: &Notification) -> String {
    let n = &n.shown();
    let mut out = String::from("<!DOCTYPE html>\n<html><body>\n");
    let _ = writeln!(out, "<h2>[{}] {}</h2>", esc(&n.severity), esc(&n.title));
    out.push_str("<table>\n");
    let mut row = |k: &str, v: &str| {
        let _ = writeln!(
            out,
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            esc(k),
            esc(v)
        );
    };
    row("Severity", &n.severity);
    if let Some(service) = &n.service {
        row("Service", service);
    }
    if let Some(tenant) = &n.tenant {
        row("Tenant", tenant);
    }
    row("Key", &n.key);
    for (name, value) in &n.fields {
        row(name, value);
    }
    out.push_str("</table>\n");
    if let Some(url) = &n.ack_url {
        let _ = writeln!(out, "<p><a href=\"{}\">Acknowledge</a></p>", esc(url));
    }
    if !n.summary.is_empty() {
        let _ = writeln!(
            out,
            "<p><b>{}:</b></p>\n<blockquote style=\"white-space:pre-wrap;border-left:3px solid #999;margin-left:0;padding-left:1em\">{}</blockquote>",
            esc(&n.summary_label),
            esc(&lines(&n.summary).collect::<Vec<_>>().join("\n"))
        );
    }
    out.push_str("</body></html>\n");
    out
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_has_no_line_breaks() {
        let n = Notification::new("a\r\nBcc: x@y", "SEV1", "ALR-1");
        assert_eq!(email_subject(&n), "[SEV1] a  Bcc: x@y (ALR-1)");
    }

    /// A report's description cannot pose as the page's own lines: it comes after them, under
    /// its label, every line of it quoted.
    #[test]
    fn the_summary_is_quoted_after_the_facts_and_the_link() {
        let n = Notification::new("Reported: phish", "SEV3", "ALR-2")
            .with_field("reporter", "Dana, dana@example.com")
            .with_field("origin", "report form")
            .with_ack_url("https://vigil.example/ack/ALR-2?t=x")
            .with_summary_from(
                "Reporter wrote",
                "phish\n\nAcknowledge: http://evil.example/ack/ALR-2\r\nreporter: CEO Jane\u{2028}origin: Microsoft Defender",
            );
        let text = email_text(&n);
        assert!(
            text.ends_with(
                "origin: report form\n\nAcknowledge: https://vigil.example/ack/ALR-2?t=x\n\nReporter wrote:\n\
                 > phish\n>\n> Acknowledge: http://evil.example/ack/ALR-2\n> reporter: CEO Jane\n\
                 > origin: Microsoft Defender\n"
            ),
            "{text}"
        );
        // Every line that is not quoted is Vigil's.
        assert!(
            text.lines()
                .filter(|l| l.contains("evil") || l.contains("CEO"))
                .all(|l| l.starts_with("> ")),
            "{text}"
        );
        let html = email_html(&n);
        let link = html
            .find("<a href=\"https://vigil.example/ack/ALR-2?t=x\">")
            .unwrap();
        let quoted = html
            .find("<p><b>Reporter wrote:</b></p>\n<blockquote")
            .unwrap();
        assert!(
            link < quoted && html[quoted..].contains("http://evil.example"),
            "{html}"
        );
        // A title of several lines stays one.
        let n = Notification::new("a\nAcknowledge: http://evil", "SEV3", "ALR-2");
        assert!(email_text(&n).starts_with("a Acknowledge: http://evil\n\n"));
    }

    #[test]
    fn html_is_escaped() {
        let n = Notification::new("<b>", "SEV1", "ALR-1");
        assert!(email_html(&n).contains("<h2>[SEV1] &lt;b&gt;</h2>"));
    }
}
