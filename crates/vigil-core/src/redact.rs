//! Secrets kept out of what leaves the server: a webhook URL carries its secret in its path
//! or query (Slack and Teams keep theirs in the path, others in `?token=`) or in its user
//! information, so it is shown, logged and stored in records as `scheme://host[:port]` only.
//! The one redaction used by the API's answers (`vigil-oncall`'s `Contact::redacted`) and by
//! the delivery log (`vigil-notify`), which also takes those parts out of what a receiver
//! answered ([`redact_url_parts`]).

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

/// Parts of a URL shorter than this are not looked for in a receiver's text: they cannot be
/// much of a secret, and taking every `v1` or `api` out would leave the text unreadable.
const MIN_SECRET_CHARS: usize = 4;

/// `text` — what a webhook's receiver answered, which may quote the request it refuses — with
/// every part of `url` that may be its secret replaced by `…`: the URL itself, its path and
/// query, each path segment, query value and `name=value` pair, the user name and password,
/// and `user:password` in the base64 of HTTP Basic authentication, as written and %-decoded;
/// parts shorter than four characters are left. When `cut` (the text
/// is the start of a longer one), an end that begins such a part is taken off too, so that no
/// part is kept by halves.
pub fn redact_url_parts(text: &str, url: &str, cut: bool) -> String {
    let parts = secret_parts(url);
    let mut out = text.to_owned();
    for part in &parts {
        if out.contains(part.as_str()) {
            out = out.replace(part.as_str(), "…");
        }
    }
    if cut {
        let begun = parts
            .iter()
            .filter_map(|part| {
                part.char_indices()
                    .map(|(end, _)| end)
                    .filter(|&end| part[..end].chars().count() >= MIN_SECRET_CHARS)
                    .filter(|&end| out.ends_with(&part[..end]))
                    .max()
            })
            .max();
        if let Some(len) = begun {
            out.truncate(out.len() - len);
            out.push('…');
        }
    }
    out
}

/// The parts of `url` [`redact_url_parts`] takes out, longest first (so that a part inside a
/// longer one goes with it), none shorter than [`MIN_SECRET_CHARS`] characters.
fn secret_parts(url: &str) -> Vec<String> {
    let mut parts = vec![url.to_owned()];
    if let Ok(parsed) = url::Url::parse(url) {
        parts.push(parsed.as_str().to_owned());
        let path = parsed.path();
        let query = parsed.query();
        parts.push(path.to_owned());
        if let Some(query) = query {
            parts.push(format!("{path}?{query}"));
            parts.push(query.to_owned());
            for pair in query.split('&') {
                parts.push(pair.to_owned());
                if let Some((_, value)) = pair.split_once('=') {
                    parts.push(value.to_owned());
                }
            }
        }
        parts.extend(path.split('/').map(str::to_owned));
        if let Some(fragment) = parsed.fragment() {
            parts.push(fragment.to_owned());
        }
        parts.push(parsed.username().to_owned());
        parts.extend(parsed.password().map(str::to_owned));
        parts.extend(basic_credentials(&parsed));
    }
    let decoded: Vec<String> = parts.iter().map(|p| percent_decoded(p, true)).collect();
    parts.extend(decoded);
    parts.retain(|p| p.chars().count() >= MIN_SECRET_CHARS);
    parts.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    parts.dedup();
    parts
}

/// The forms a URL's user and password travel in as HTTP Basic authentication, which a
/// receiver refusing them may quote (`Authorization: Basic Ym9iOlBh…`): `user:password`, and
/// that in base64 with and without its padding — from the user and password %-decoded, as
/// reqwest sends them, and as written. None when the URL has neither.
fn basic_credentials(url: &url::Url) -> Vec<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

    if url.username().is_empty() && url.password().is_none() {
        return Vec::new();
    }
    let written = format!("{}:{}", url.username(), url.password().unwrap_or(""));
    let decoded = format!(
        "{}:{}",
        percent_decoded(url.username(), false),
        percent_decoded(url.password().unwrap_or(""), false)
    );
    let mut forms = Vec::new();
    for pair in [written, decoded] {
        forms.push(STANDARD.encode(&pair));
        forms.push(STANDARD_NO_PAD.encode(&pair));
        forms.push(pair);
    }
    forms
}

/// `text` with its `%XX` escapes (and, in a query, `+` as a space when `plus_is_space`)
/// decoded, bytes that are no UTF-8 replaced.
fn percent_decoded(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b'+', _, _) if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::{redact_url, redact_url_parts};

    #[test]
    fn a_receivers_text_loses_every_part_of_the_url_that_may_be_its_secret() {
        let url = "http://dave:PASSWORD@127.0.0.1:18316/dave/SECRETDAVE3?token=DAVEQ3&x=1";
        for (text, shown) in [
            (
                "invalid_token: request to /dave/SECRETDAVE3?token=DAVEQ3&x=1 rejected",
                "invalid_token: request to … rejected",
            ),
            (
                "POST http://dave:PASSWORD@127.0.0.1:18316/dave/SECRETDAVE3?token=DAVEQ3&x=1 failed",
                "POST … failed",
            ),
            (
                "no hook SECRETDAVE3 (token DAVEQ3, user dave:PASSWORD)",
                "no hook … (token …, user …)",
            ),
            // Parts shorter than four characters are left.
            ("bad token=DAVEQ3 for /dave, x=1 v1", "bad … for /…, x=1 v1"),
        ] {
            assert_eq!(redact_url_parts(text, url, false), shown, "{text}");
        }
        // A part is found %-decoded too, as a receiver may quote it.
        let spaced = "https://h.example/SECRET%20DAVE?k=a%2Bb%3D";
        assert_eq!(
            redact_url_parts("no SECRET DAVE, no SECRET%20DAVE, no a+b=", spaced, false),
            "no …, no …, no …"
        );
        // A text cut inside a secret keeps no half of it.
        assert_eq!(
            redact_url_parts("rejected /dave/SECRETDA", url, true),
            "rejected /…/…"
        );
        assert_eq!(
            redact_url_parts("rejected: bad SECRE", url, true),
            "rejected: bad …"
        );
        assert_eq!(
            redact_url_parts("rejected: bad SECRE", url, false),
            "rejected: bad SECRE"
        );
        assert_eq!(redact_url_parts("all fine", url, true), "all fine");
        // The user and password as HTTP Basic authentication sends them, quoted back, whole
        // or cut; %-escapes decoded as the client decodes them (`+` stays `+`).
        let basic = "http://bob:Pa55wordX@h.example/hook";
        assert_eq!(
            redact_url_parts(
                "refused Authorization: Basic Ym9iOlBhNTV3b3JkWA==",
                basic,
                false
            ),
            "refused Authorization: Basic …"
        );
        assert_eq!(
            redact_url_parts("refused Authorization: Basic Ym9iOlBhNTV3b3", basic, true),
            "refused Authorization: Basic …"
        );
        assert_eq!(
            redact_url_parts("refused bob:Pa55wordX", basic, false),
            "refused …"
        );
        // "p+ss wörd" → cCtzcyB3w7ZyZA== after `u:`.
        assert_eq!(
            redact_url_parts(
                "refused Basic dTpwK3NzIHfDtnJk",
                "http://u:p+ss%20w%C3%B6rd@h.example/",
                false
            ),
            "refused Basic …"
        );
        assert_eq!(redact_url_parts("any text", "not a url", true), "any text");
    }

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
