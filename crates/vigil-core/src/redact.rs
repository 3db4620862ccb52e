//! Secrets kept out of what leaves the server: a webhook URL carries its secret in its path
//! or query (Slack and Teams keep theirs in the path, others in `?token=`) or in its user
//! information, so it is shown, logged and stored in records as `scheme://host[:port]` only.
//! The one redaction used by the API's answers (`vigil-oncall`'s `Contact::redacted`) and by
//! the delivery log (`vigil-notify`).

/// A webhook URL safe to show, log and store: `scheme://host[:port]`, followed by `/…` when
/// there was a path, query or fragment; user name and password are dropped. A URL that does
/// not parse is shown as `<invalid url>` (its text could be anything).
pub fn redact_url(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return "<invalid url>".to_owned();
    };
    let mut out = format!("{}://{}", parsed.scheme(), parsed.host_str().unwrap_or(""));
    if let Some(port) = parsed.port() {
        out.push_str(&format!(":{port}"));
    }
    if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
        out.push_str("/…");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn keeps_scheme_host_and_port_only() {
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T0/B0/SECRET"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            redact_url("http://user:pw@127.0.0.1:8080/h?token=SECRET"),
            "http://127.0.0.1:8080/…"
        );
        assert_eq!(
            redact_url("https://example.org/?sig=SECRET"),
            "https://example.org/…"
        );
        assert_eq!(
            redact_url("https://example.org#SECRET"),
            "https://example.org/…"
        );
        assert_eq!(redact_url("https://example.org"), "https://example.org");
        assert_eq!(redact_url("not a url SECRET"), "<invalid url>");
    }
}
