//! Indicators read out of events: when an incident is declared from alerts, the IPs, users,
//! hosts, hashes, domains, URLs, processes and files named by the matched events become its
//! indicators. Field names are those of the formats Vigil ingests (Windows event logs as
//! `evtx_dump` writes them, ECS-style JSON, syslog and web server logs as `vigil-events` turns
//! them into JSON: a web request's client `c-ip` and user `cs-username`, not its own site); each
//! candidate is validated and normalised like an indicator typed by hand, and a value that is
//! not valid for its kind is skipped.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::incident::NewIndicator;
use crate::indicator::IndicatorValue;

/// Which kind a field's value is, by the field's last name (case-insensitive).
fn kind_of(key: &str) -> Option<&'static str> {
    let k = key.to_ascii_lowercase();
    Some(match k.as_str() {
        "ip" | "ipaddress" | "sourceip" | "destinationip" | "src_ip" | "dst_ip" | "client_ip"
        | "clientip" | "remote_ip" | "remoteip" | "sourceaddress" | "destaddress" | "peer"
        | "address" | "c-ip" => "ip",
        "user" | "username" | "user_name" | "targetusername" | "subjectusername"
        | "accountname" | "account" | "cs-username" => "user_account",
        "computer" | "hostname" | "workstationname" | "sourcehostname" | "host_name" => "host",
        "md5" => "md5",
        "sha1" => "sha1",
        "sha256" => "sha256",
        "queryname" | "domain" | "dns_query" | "fqdn" => "domain",
        "url" | "uri" => "url",
        "image" | "parentimage" | "process" | "executable" | "process_name" => "process",
        "targetfilename" | "file_path" | "filepath" | "imageloaded" => "file_path",
        "email" | "sender" | "recipient" => "email",
        _ => return None,
    })
}

/// The indicators named by `events`, de-duplicated, at most `max` of them.
pub fn indicators_from_events(events: &[Value], max: usize) -> Vec<NewIndicator> {
    let mut seen: BTreeSet<IndicatorValue> = BTreeSet::new();
    let mut out = Vec::new();
    let mut add = |kind: &str, value: &str, field: &str| {
        let value = value.trim();
        if value.is_empty() || value == "-" || out.len() >= max {
            return;
        }
        if let Ok(parsed) = IndicatorValue::parse(kind, value)
            && seen.insert(parsed.clone())
        {
            out.push(NewIndicator {
                kind: parsed.kind().as_str().to_owned(),
                value: parsed.value().to_owned(),
                note: Some(format!("from field {field} of a matched event")),
            });
        }
    };
    for event in events {
        walk(event, "", &mut |path, key, value| {
            // Sysmon writes every hash of a file in one field: `SHA256=…,MD5=…`.
            if key.eq_ignore_ascii_case("hashes") || key.eq_ignore_ascii_case("hash") {
                for part in value.split(',') {
                    match part.split_once('=') {
                        Some((algo, h)) => {
                            let algo = algo.trim().to_ascii_lowercase();
                            if matches!(algo.as_str(), "md5" | "sha1" | "sha256") {
                                add(&algo, h, path);
                            }
                        }
                        None => add("hash", part, path),
                    }
                }
                return;
            }
            if let Some(kind) = kind_of(key) {
                add(kind, value, path);
            }
        });
    }
    out
}

fn walk(value: &Value, path: &str, visit: &mut dyn FnMut(&str, &str, &str)) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match v {
                    Value::String(s) => {
                        // ECS nests the kind one level up: `source.ip`, `user.name`, `host.name`.
                        let key = match (k.as_str(), path.rsplit('.').next().unwrap_or("")) {
                            ("name", "user") => "user",
                            ("name", "host") => "hostname",
                            ("ip", _) => "ip",
                            ("full", "url") | ("original", "url") => "url",
                            ("name", "question") => "domain",
                            ("executable", _) => "process",
                            ("path", "file") => "file_path",
                            _ => k.as_str(),
                        };
                        visit(&p, key, s);
                    }
                    Value::Array(items) => {
                        for item in items {
                            if let Value::String(s) = item {
                                visit(&p, k, s);
                            } else {
                                walk(item, &p, visit);
                            }
                        }
                    }
                    other => walk(other, &p, visit),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| walk(v, path, visit)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn windows_and_ecs_events_yield_their_indicators() {
        let sysmon = json!({"Event": {"System": {"Computer": "PC-7.corp.example", "EventID": 1},
            "EventData": {"Image": "C:\\\\Tools\\\\mimikatz.exe", "User": "CORP\\\\eve",
                          "Hashes": "MD5=0123456789ABCDEF0123456789ABCDEF,SHA256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                          "IpAddress": "-"}}});
        let ecs = json!({"source": {"ip": "203.0.113.9"}, "user": {"name": "mallory"},
                         "url": {"full": "https://evil.example.net/x"}, "dns": {"question": {"name": "evil.example.net"}},
                         "message": "203.0.113.10 is in free text and not extracted"});
        let found = indicators_from_events(&[sysmon, ecs.clone(), ecs], 100);
        let pairs: Vec<(String, String)> = found
            .iter()
            .map(|i| (i.kind.clone(), i.value.clone()))
            .collect();
        for (kind, value) in [
            ("host", "pc-7.corp.example"),
            ("process", "C:\\\\Tools\\\\mimikatz.exe"),
            ("md5", "0123456789abcdef0123456789abcdef"),
            ("ip", "203.0.113.9"),
            ("user_account", "mallory"),
            ("domain", "evil.example.net"),
        ] {
            assert!(
                pairs
                    .iter()
                    .any(|(k, v)| k == kind && v.eq_ignore_ascii_case(value)),
                "{kind} {value} not in {pairs:?}"
            );
        }
        assert!(!pairs.iter().any(|(_, v)| v == "203.0.113.10"));
        assert!(!pairs.iter().any(|(_, v)| v == "-"));
        // De-duplicated across events, and bounded.
        assert_eq!(pairs.iter().filter(|(k, _)| k == "ip").count(), 1);
        assert_eq!(
            indicators_from_events(&[json!({"ip": "10.0.0.1"}), json!({"ip": "10.0.0.2"})], 1)
                .len(),
            1
        );
    }

    /// A web request names its client and user, W3C-style; the server's own host is no
    /// indicator, nor is an anonymous `-` user.
    #[test]
    fn web_requests_yield_their_client() {
        let request = json!({"access_log_format": "combined", "c-ip": "203.0.113.50",
            "cs-username": "-", "cs-host": "shop.example", "cs-uri-stem": "/index.php"});
        let found = indicators_from_events(&[request], 100);
        let pairs: Vec<(&str, &str)> = found
            .iter()
            .map(|i| (i.kind.as_str(), i.value.as_str()))
            .collect();
        assert_eq!(pairs, [("ip", "203.0.113.50")]);
        let named = json!({"c-ip": "198.51.100.4", "cs-username": "alice"});
        assert_eq!(indicators_from_events(&[named], 100).len(), 2);
    }
}
