//! Web server access logs written the way Apache httpd and nginx write them — each server's
//! escapes in the quoted fields, IPv6 clients, virtual hosts, offsets east and west, `-` sizes,
//! requests that are no request line, a trailing field of nginx's — read back as written, a `-`
//! read as no value.

use std::borrow::Cow;

use chrono::{DateTime, FixedOffset};
use vigil_events::access;
use vigil_testkit::Rng;

/// How a server escapes a quoted field: Apache (`\"`, `\\`, `\xHH` for control characters and
/// bytes past ASCII) or nginx (`\xHH` for all of those, quotes and backslashes included).
fn escaped(text: &str, nginx: bool) -> String {
    let mut out = String::new();
    for &b in text.as_bytes() {
        match b {
            b'"' | b'\\' if !nginx => {
                out.push('\\');
                out.push(char::from(b));
            }
            b'"' | b'\\' | ..0x20 | 0x7f.. => out.push_str(&format!("\\x{b:02X}")),
            _ => out.push(char::from(b)),
        }
    }
    out
}

/// Some of `pieces`, one to `most`, run together.
fn some(rng: &mut Rng, pieces: &[&str], most: usize) -> String {
    (0..1 + rng.below(most))
        .map(|_| pieces[rng.below(pieces.len())])
        .collect()
}

#[test]
fn random_access_log_lines_read_back_as_written() {
    const CLIENTS: &[&str] = &["203.0.113.9", "::1", "2001:db8::7", "proxy.example"];
    const USERS: &[&str] = &["-", "alice", "bob@corp", "ÿ", "john doe", "a  b c"];
    const TARGET: &[&str] = &["/", "a", "?", "=", "&", "%27", "\"", "\\", "é", "${jndi:x}"];
    const TEXT: &[&str] = &[
        "Mozilla/5.0",
        " ",
        "\"",
        "\\",
        "\\x22",
        "ü",
        "\t",
        "-",
        "(X11)",
    ];
    const OFFSETS: &[&str] = &["-0700", "+0000", "+0530", "+1345", "-1200"];
    let mut rng = Rng::new(2026);
    for round in 0..500 {
        let nginx = rng.below(2) == 0;
        let vhost = match rng.below(3) {
            0 => Some(["shop.example:443", "shop.example", "[::1]:8080"][rng.below(3)]),
            _ => None,
        };
        let client = CLIENTS[rng.below(CLIENTS.len())];
        let user = USERS[rng.below(USERS.len())];
        let seconds = 946_684_800 + rng.below(1_000_000_000) as i64;
        let offset = OFFSETS[rng.below(OFFSETS.len())];
        let zone: FixedOffset = format!("{}:{}", &offset[..3], &offset[3..])
            .parse()
            .unwrap();
        let time = DateTime::from_timestamp(seconds, 0)
            .unwrap()
            .with_timezone(&zone)
            .format("%d/%b/%Y:%H:%M:%S %z");
        let request = match rng.below(5) {
            0 => some(&mut rng, TEXT, 4),
            1 => String::new(),
            _ => format!(
                "{} /{}{}",
                ["GET", "POST", "PROPFIND"][rng.below(3)],
                some(&mut rng, TARGET, 6),
                [" HTTP/1.1", " HTTP/2.0", ""][rng.below(3)]
            ),
        };
        let status = 100 + rng.below(500) as u16;
        let bytes = (rng.below(4) > 0).then(|| rng.next_u64() >> rng.below(64));
        let headers = (vhost.is_some() || rng.below(3) > 0)
            .then(|| (some(&mut rng, TEXT, 5), some(&mut rng, TEXT, 5)));
        let extra = match (&headers, rng.below(3)) {
            (Some(_), 0) => r#""10.1.1.1""#,
            (Some(_), 1) => "0.012 -",
            _ => "",
        };
        let mut line = String::new();
        if let Some(vhost) = vhost {
            line.push_str(vhost);
            line.push(' ');
        }
        line.push_str(&format!(
            "{client} - {user} [{time}] \"{}\" {status} {}",
            escaped(&request, nginx),
            bytes.map_or("-".to_owned(), |b| b.to_string())
        ));
        if let Some((referer, agent)) = &headers {
            line.push_str(&format!(
                " \"{}\" \"{}\"",
                escaped(referer, nginx),
                escaped(agent, nginx)
            ));
        }
        if !extra.is_empty() {
            line.push(' ');
            line.push_str(extra);
        }

        let entry =
            access::parse(line.as_bytes()).unwrap_or_else(|e| panic!("round {round}: {e}\n{line}"));
        let (host, port) = match vhost.map(|v| v.rsplit_once(':').unwrap_or((v, ""))) {
            Some((host, port)) => (Some(host), port.parse().ok()),
            None => (None, None),
        };
        let format = match (vhost, &headers) {
            (Some(_), _) => "vhost_combined",
            (None, Some(_)) => "combined",
            (None, None) => "common",
        };
        let written = access::AccessEntry {
            format,
            vhost: host,
            port,
            client,
            user,
            unix_ms: seconds * 1000,
            offset_secs: zone.local_minus_utc(),
            request: Cow::Borrowed(&request),
            status,
            bytes,
            referer: headers.as_ref().map(|h| Cow::Borrowed(h.0.as_str())),
            user_agent: headers.as_ref().map(|h| Cow::Borrowed(h.1.as_str())),
            extra: Cow::Borrowed(extra),
            invalid_utf8: false,
        };
        assert_eq!(entry, written, "round {round}\n{line}");
        // The event's JSON says the same: the request whole, or split as HTTP writes it.
        let json: serde_json::Value = serde_json::from_str(&entry.to_json_text()).unwrap();
        let field = |name: &str| json.get(name).and_then(|v| v.as_str());
        let request_read = match field("request") {
            Some(whole) => whole.to_owned(),
            None => [field("cs-method"), field("cs-uri"), field("cs-version")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
        };
        // A `-` is no value: the field is left out, as IIS logs leave it.
        let given = |v: Option<&'static str>| v.filter(|v| *v != "-");
        let request_logged = if request == "-" { "" } else { request.as_str() };
        assert_eq!(request_read, request_logged, "round {round}\n{line}");
        assert_eq!(
            (field("cs-referer"), field("cs-user-agent")),
            (
                written.referer.as_deref().filter(|v| *v != "-"),
                written.user_agent.as_deref().filter(|v| *v != "-")
            ),
            "round {round}\n{line}"
        );
        assert_eq!(
            field("cs-username"),
            given(Some(user)),
            "round {round}\n{line}"
        );
        assert_eq!(
            json.get("sc-bytes").and_then(|v| v.as_u64()),
            bytes,
            "round {round}\n{line}"
        );
    }
}
