//! E-mail subject and bodies for a notification.

use std::fmt::Write as _;

use crate::Notification;
use crate::payload::headline;

/// `[SEV2] Brute force on vpn-1 (ALR-12)`, with line breaks and other control characters
/// turned into spaces so a title cannot add headers.
pub fn email_subject(n: &Notification) -> String {
    headline(n)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The plain-text body: title, the facts, the summary, the fields and the acknowledge link.
pub fn email_text(n: &Notification) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", n.title);
    let _ = writeln!(out, "Severity: {}", n.severity);
    if let Some(service) = &n.service {
        let _ = writeln!(out, "Service:  {service}");
    }
    let _ = writeln!(out, "Key:      {}", n.key);
    if !n.summary.is_empty() {
        let _ = writeln!(out, "\n{}", n.summary);
    }
    if !n.fields.is_empty() {
        out.push('\n');
        for (name, value) in &n.fields {
            let _ = writeln!(out, "{name}: {value}");
        }
    }
    if let Some(url) = &n.ack_url {
        let _ = writeln!(out, "\nAcknowledge: {url}");
    }
    out
}

/// The HTML alternative: the same content, escaped.
pub fn email_html(n: &Notification) -> String {
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
    row("Key", &n.key);
    for (name, value) in &n.fields {
        row(name, value);
    }
    out.push_str("</table>\n");
    if !n.summary.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", esc(&n.summary));
    }
    if let Some(url) = &n.ack_url {
        let _ = writeln!(out, "<p><a href=\"{}\">Acknowledge</a></p>", esc(url));
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

    #[test]
    fn html_is_escaped() {
        let n = Notification::new("<b>", "SEV1", "ALR-1");
        assert!(email_html(&n).contains("<h2>[SEV1] &lt;b&gt;</h2>"));
    }
}
