//! Indicators of compromise: typed, normalised, de-duplicated by (kind, normalised value).
//!
//! The network kinds (`ip`, `network`, `domain`, `host`, `url`, `email`) are refanged first, so a
//! value pasted from a threat report matches the same value typed plainly: `hxxp://` and
//! `hxxps://` (any case), `[:]//` and `[://]`, `[.]`, `(.)`, `{.}`, `[dot]`, `(dot)`, `[@]`,
//! `(@)`, `[at]` and `(at)` (the bracketed forms of the ioc-fanger conventions; a bare ` dot ` or
//! ` at ` could be real text and is left alone). In a URL only the scheme and the host part are
//! refanged, and `[.]` in the rest, which no URL has.
//!
//! Normalisation per kind (invalid values are rejected with the reason):
//! - `ip`: parsed by `std::net::IpAddr` (brackets around IPv6 allowed) and written canonically
//!   (IPv6 compressed, lower case; an IPv4-mapped IPv6 address, `::ffff:192.0.2.1`, as its IPv4
//!   address).
//! - `network`: an IPv4 (/8 to /32) or IPv6 (/8 to /128) network in CIDR notation, written as
//!   its own address (`10.1.2.3/16` is `10.1.0.0/16`, `2001:DB8:1::/32` is `2001:db8::/32`,
//!   `::ffff:192.0.2.0/120` is `192.0.2.0/24`); pivots and sweeps find the addresses it holds. An
//!   IPv6 network that search cannot tell by its addresses' text (`vigil_query::network_expr`) is
//!   refused with the reason.
//! - `domain`: lower-cased, one trailing dot stripped, at least two labels, each 1–63 of
//!   `a-z 0-9 - _` not starting or ending with `-`, at most 253 characters, the last one not a
//!   number (an IP address is refused: it is kind `ip`); non-ASCII names must be given in their
//!   punycode (`xn--`) form.
//! - `host`: an IP (canonical, as `ip`) or a host name validated like a domain but one label is
//!   allowed.
//! - `url`: parsed as browsers do (the WHATWG URL standard, the `url` crate): scheme and host
//!   lower-cased, an IDN host in punycode, an IPv6 host compressed (an IPv4-mapped one as IPv4),
//!   a trailing dot on the host dropped, the scheme's default port dropped (`:80` for http,
//!   `:443` for https), an empty path written `/`, `.` and `..` segments resolved; the path,
//!   query and fragment otherwise kept as given (paths are case-sensitive). No spaces.
//! - `md5` / `sha1` / `sha256`: hex of 32 / 40 / 64 digits, lower-cased. The kind may be given as
//!   `hash` and is then inferred from the length.
//! - `email`: `local@domain`, the domain checked as `domain`, the whole address lower-cased (mail
//!   systems treat the local part without case, so `Alice@` and `alice@` are one mailbox).
//! - `user_account`, `process`, `file_path`, `other`: trimmed, non-empty, no control characters,
//!   case kept (paths and account names are case-sensitive on some systems).
//!
//! Only the normalised value is stored: an [`Indicator`] has no place for the text as typed.
//!
//! Every value is at most [`MAX_LEN`] bytes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::DomainError;

/// The longest indicator value accepted, in bytes.
pub const MAX_LEN: usize = 2048;

/// The kind a caller may give for a file hash of any of the three hash kinds: the length of the
/// value says which ([`IndicatorValue::hash`]).
pub const HASH: &str = "hash";

/// The kinds [`HASH`] stands for.
pub const HASH_KINDS: &[IndicatorKind] = &[
    IndicatorKind::Md5,
    IndicatorKind::Sha1,
    IndicatorKind::Sha256,
];

impl IndicatorKind {
    /// The kinds a kind as a caller gives it stands for, read as [`IndicatorValue::parse`] reads
    /// it: one kind, or for `hash` the three hash kinds ([`HASH_KINDS`]). A filter by kind
    /// (`GET /indicators?kind=`) takes what a new indicator's `kind` takes.
    pub fn named(kind: &str) -> Result<&'static [IndicatorKind], DomainError> {
        if kind.trim().eq_ignore_ascii_case(HASH) {
            return Ok(HASH_KINDS);
        }
        let kind = IndicatorKind::parse(kind).map_err(|_| unknown_kind(kind))?;
        Ok(IndicatorKind::ALL
            .iter()
            .position(|k| *k == kind)
            .map_or(&[], |i| &IndicatorKind::ALL[i..=i]))
    }

    /// Whether an indicator of this kind with `value` (normalised) is followed through logs as
    /// a whole value only — the whole value of some field, or an event's host, service or
    /// tenant — rather than also as words inside a longer text: true for a `user_account`
    /// (`admin`, `svc-deploy`) and a `host` of one label (`bastion`, `web-a1`), values that are
    /// words, which free text finds in URL paths, other account names (`svc-deploy-ci`) and
    /// prose that are not that account or host. Addresses, networks, domains, URLs, hashes,
    /// e-mail addresses, host names with dots, processes (found inside command lines and image
    /// paths), file paths and other values keep matching inside texts too.
    pub fn followed_whole(self, value: &str) -> bool {
        match self {
            IndicatorKind::UserAccount => true,
            IndicatorKind::Host => !value.contains(['.', ':']),
            _ => false,
        }
    }
}

/// The refusal of a kind a caller gave that is none of the kinds nor [`HASH`].
fn unknown_kind(kind: &str) -> DomainError {
    DomainError::invalid(
        "kind",
        format!(
            "{kind:?} is not known; use one of {}, or {HASH} (a file hash of any of the three)",
            IndicatorKind::ALL
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}

wire_enum!(
    /// What an indicator of compromise is.
    IndicatorKind ("kind") {
        /// IPv4 or IPv6 address.
        Ip = "ip",
        /// IPv4 or IPv6 network in CIDR notation (`10.1.0.0/16`, `2001:db8::/32`).
        Network = "network",
        /// DNS domain name.
        Domain = "domain",
        /// URL.
        Url = "url",
        /// MD5 file hash.
        Md5 = "md5",
        /// SHA-1 file hash.
        Sha1 = "sha1",
        /// SHA-256 file hash.
        Sha256 = "sha256",
        /// E-mail address.
        Email = "email",
        /// User account.
        UserAccount = "user_account",
        /// Host name or address.
        Host = "host",
        /// Process name or command line.
        Process = "process",
        /// File path.
        FilePath = "file_path",
        /// Anything else.
        Other = "other",
    }
);

/// A validated, normalised indicator: its kind and canonical value. Two indicators are the same
/// when both are equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IndicatorValue {
    kind: IndicatorKind,
    value: String,
}

#[derive(Deserialize)]
struct RawIndicator {
    kind: String,
    value: String,
}

impl<'de> Deserialize<'de> for IndicatorValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawIndicator::deserialize(d)?;
        IndicatorValue::parse(&raw.kind, &raw.value).map_err(serde::de::Error::custom)
    }
}

impl IndicatorValue {
    /// Validates and normalises `raw` as an indicator of `kind`.
    pub fn new(kind: IndicatorKind, raw: &str) -> Result<Self, DomainError> {
        let value = normalise(kind, raw)?;
        Ok(IndicatorValue { kind, value })
    }

    /// Like [`IndicatorValue::new`] with the kind given as text; `hash` infers md5, sha1 or
    /// sha256 from the length.
    pub fn parse(kind: &str, raw: &str) -> Result<Self, DomainError> {
        if kind.trim().eq_ignore_ascii_case(HASH) {
            return Self::hash(raw);
        }
        Self::new(
            IndicatorKind::parse(kind).map_err(|_| unknown_kind(kind))?,
            raw,
        )
    }

    /// A file hash whose kind is inferred from its length (32 md5, 40 sha1, 64 sha256).
    pub fn hash(raw: &str) -> Result<Self, DomainError> {
        let kind = match raw.trim().len() {
            32 => IndicatorKind::Md5,
            40 => IndicatorKind::Sha1,
            64 => IndicatorKind::Sha256,
            n => {
                return Err(DomainError::invalid(
                    "value",
                    format!(
                        "a hash has 32 (md5), 40 (sha1) or 64 (sha256) hex digits, this one has {n}"
                    ),
                ));
            }
        };
        Self::new(kind, raw)
    }

    /// Every (kind, value) reading of a free-text search term that is valid, for looking a
    /// value up across incidents without knowing its kind.
    pub fn candidates(raw: &str) -> Vec<IndicatorValue> {
        let mut out: Vec<IndicatorValue> = IndicatorKind::ALL
            .iter()
            .filter_map(|k| IndicatorValue::new(*k, raw).ok())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The kind.
    pub fn kind(&self) -> IndicatorKind {
        self.kind
    }

    /// The normalised value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// Keeps the first of every (kind, normalised value), in order.
pub fn dedup(values: impl IntoIterator<Item = IndicatorValue>) -> Vec<IndicatorValue> {
    let mut seen = std::collections::HashSet::new();
    values
        .into_iter()
        .filter(|v| seen.insert(v.clone()))
        .collect()
}

/// An indicator recorded on an incident. Removing one keeps it, marked removed, for history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Indicator {
    /// Its id.
    pub id: Uuid,
    /// The kind.
    pub kind: IndicatorKind,
    /// The normalised value.
    pub value: String,
    /// Where or how it was seen.
    pub note: Option<String>,
    /// Who added it.
    pub added_by: String,
    /// When.
    pub added_at: DateTime<Utc>,
    /// Who removed it, when it was removed.
    pub removed_by: Option<String>,
    /// When it was removed.
    pub removed_at: Option<DateTime<Utc>>,
    /// Why it was removed.
    pub removal_reason: Option<String>,
}

impl Indicator {
    /// Whether it is still on the incident.
    pub fn is_active(&self) -> bool {
        self.removed_at.is_none()
    }

    /// Its (kind, value) identity.
    pub fn identity(&self) -> (IndicatorKind, &str) {
        (self.kind, &self.value)
    }
}

fn invalid(reason: impl Into<String>) -> DomainError {
    DomainError::invalid("value", reason)
}

fn normalise(kind: IndicatorKind, raw: &str) -> Result<String, DomainError> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(invalid(format!(
            "an empty {kind} indicator says nothing; give its value"
        )));
    }
    if t.len() > MAX_LEN {
        return Err(invalid(format!(
            "longer than {MAX_LEN} bytes; shorten it or attach it as evidence"
        )));
    }
    if t.chars().any(crate::breaks_line) {
        return Err(invalid(
            "contains control characters or line breaks; remove them",
        ));
    }
    match kind {
        IndicatorKind::Ip => ip(&refang(t)),
        IndicatorKind::Network => network(&refang(t)),
        IndicatorKind::Domain => domain(&refang(t), 2),
        IndicatorKind::Host => {
            let t = refang(t);
            ip(&t).or_else(|_| domain(&t, 1)).map_err(|_| {
                invalid(format!(
                    "{t:?} is neither an IP address nor a host name (letters, digits, - and . only)"
                ))
            })
        }
        IndicatorKind::Url => url(&refang_url(t)),
        IndicatorKind::Md5 => hex_hash(t, 32, "md5"),
        IndicatorKind::Sha1 => hex_hash(t, 40, "sha1"),
        IndicatorKind::Sha256 => hex_hash(t, 64, "sha256"),
        IndicatorKind::Email => email(&refang(t)),
        IndicatorKind::UserAccount
        | IndicatorKind::Process
        | IndicatorKind::FilePath
        | IndicatorKind::Other => Ok(t.to_owned()),
    }
}

/// The defanged forms undone everywhere in a network value, and what each stands for.
const DEFANGED: &[(&str, &str)] = &[
    ("[://]", "://"),
    ("[:]//", "://"),
    ("[.]", "."),
    ("(.)", "."),
    ("{.}", "."),
    ("[dot]", "."),
    ("(dot)", "."),
    ("[@]", "@"),
    ("(@)", "@"),
    ("[at]", "@"),
    ("(at)", "@"),
];

/// Undoes the defanging of threat reports (see the module doc) in all of `t`.
fn refang(t: &str) -> String {
    refang_with(t, DEFANGED)
}

/// Undoes defanging in a URL: the scheme (`hxxp`, `[:]//`) and the host part fully, the rest
/// only `[.]` (`(.)` may be part of a real path).
fn refang_url(t: &str) -> String {
    let t = refang_with(t, &DEFANGED[..2]);
    let (scheme, rest) = t.split_once("://").unwrap_or(("", &t));
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "hxxp" => "http",
        "hxxps" => "https",
        _ => scheme,
    };
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let sep = if t.contains("://") { "://" } else { "" };
    format!(
        "{scheme}{sep}{}{}",
        refang(authority),
        refang_with(tail, &[("[.]", ".")])
    )
}

/// Replaces each pattern (ASCII, matched without case) by its meaning until none is left, so
/// that the result is refanged already (`[[.]]` is `[.]` after one pass).
fn refang_with(t: &str, patterns: &[(&str, &str)]) -> String {
    let mut out = t.to_owned();
    loop {
        let mut next = String::with_capacity(out.len());
        let mut rest = out.as_str();
        'scan: while let Some(c) = rest.chars().next() {
            for (pattern, meaning) in patterns {
                if rest
                    .get(..pattern.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(pattern))
                {
                    next.push_str(meaning);
                    rest = &rest[pattern.len()..];
                    continue 'scan;
                }
            }
            next.push(c);
            rest = &rest[c.len_utf8()..];
        }
        if next == out {
            return out;
        }
        out = next;
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is the IPv4 address it maps.
fn unmapped(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        IpAddr::V4(_) => a,
    }
}

fn ip(t: &str) -> Result<String, DomainError> {
    let inner = t
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(t);
    inner
        .parse::<IpAddr>()
        .map(|a| unmapped(a).to_string())
        .map_err(|_| invalid(format!("{t:?} is not an IPv4 or IPv6 address")))
}

/// `10.1.2.3/16` as `10.1.0.0/16`, `2001:DB8:1::/32` as `2001:db8::/32`: the network's own
/// address and its prefix, /8 to /32 or /128 (what search, pivots and `vigil hunt --search`
/// read as a network).
fn network(t: &str) -> Result<String, DomainError> {
    let bad = || {
        invalid(format!(
            "{t:?} is not a network in CIDR notation such as 10.1.0.0/16 or 2001:db8::/32 (prefix from 8 to 32 for IPv4, to 128 for IPv6); for one address use kind ip"
        ))
    };
    let (address, bits) = t.split_once('/').ok_or_else(bad)?;
    let address: IpAddr = address.parse().map_err(|_| bad())?;
    if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let bits: u32 = bits.parse().map_err(|_| bad())?;
    let normal = match address {
        IpAddr::V4(address) if (8..=32).contains(&bits) => {
            let base = u32::from(address) & (u32::MAX << (32 - bits));
            format!("{}/{bits}", Ipv4Addr::from(base))
        }
        IpAddr::V6(address) if (8..=128).contains(&bits) => {
            let base = Ipv6Addr::from(u128::from(address) & (u128::MAX << (128 - bits)));
            // An IPv4-mapped network of at least /8 in IPv4 terms is that IPv4 network.
            match base.to_ipv4_mapped() {
                Some(v4) if bits >= 96 + 8 => format!("{v4}/{}", bits - 96),
                _ => format!("{base}/{bits}"),
            }
        }
        _ => return Err(bad()),
    };
    // An indicator is pivoted on: refuse what search cannot find exactly, saying why.
    if let Some(Err(reason)) = vigil_query::network_expr(&None, &normal) {
        return Err(invalid(format!(
            "{t:?} cannot be pivoted on: {reason}; add its addresses as kind ip"
        )));
    }
    Ok(normal)
}

fn domain(t: &str, min_labels: usize) -> Result<String, DomainError> {
    let lower = t.to_ascii_lowercase();
    let d = lower.strip_suffix('.').unwrap_or(&lower);
    if !d.is_ascii() {
        return Err(invalid(format!(
            "{t:?} is not ASCII; give the punycode (xn--) form"
        )));
    }
    if d.len() > 253 {
        return Err(invalid("a domain name has at most 253 characters"));
    }
    if min_labels >= 2 && d.parse::<IpAddr>().is_ok() {
        return Err(invalid(format!(
            "{t:?} is an IP address, not a domain; add it with kind ip"
        )));
    }
    let labels: Vec<&str> = d.split('.').collect();
    if labels.len() < min_labels {
        return Err(invalid(format!(
            "{t:?} has a single label; a domain looks like example.com (use kind host for a bare host name)"
        )));
    }
    for l in &labels {
        let ok = !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(invalid(format!(
                "{t:?} has an invalid label {l:?}: labels are 1-63 letters, digits, - or _, not starting or ending with -"
            )));
        }
    }
    let last = labels.last().copied().unwrap_or_default();
    if min_labels >= 2 && last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!(
            "{t:?} ends in the number {last:?}, which no top-level domain is; an address is added with kind ip"
        )));
    }
    Ok(d.to_owned())
}

fn url(t: &str) -> Result<String, DomainError> {
    let (scheme, rest) = t.split_once("://").ok_or_else(|| {
        invalid(format!(
            "{t:?} is not a URL; write it with its scheme, like https://example.com/path"
        ))
    })?;
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok {
        return Err(invalid(format!("{scheme:?} is not a URL scheme")));
    }
    if t.chars().any(char::is_whitespace) {
        return Err(invalid("a URL has no spaces; percent-encode them (%20)"));
    }
    // Browsers read `https:///x` as `https://x/`; an indicator names its host.
    let authority = &rest[..rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len())];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if hostport.is_empty() || hostport.starts_with(':') {
        return Err(invalid(format!("{t:?} has no host")));
    }
    let mut u = url::Url::parse(t).map_err(|e| {
        invalid(format!(
            "{t:?} is not a valid URL ({e}); write it like https://example.com/path"
        ))
    })?;
    let host = match u.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.to_ascii_lowercase();
            let d = d.trim_end_matches('.');
            // A host that was only dots is no host.
            (!d.is_empty()).then(|| d.to_owned())
        }
        Some(url::Host::Ipv6(a)) => Some(match unmapped(IpAddr::V6(a)) {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        }),
        Some(url::Host::Ipv4(a)) => Some(a.to_string()),
        None => None,
    };
    let host = host.ok_or_else(|| invalid(format!("{t:?} has no host")))?;
    if u.host_str() != Some(host.as_str()) {
        u.set_host(Some(&host)).map_err(|e| {
            invalid(format!(
                "{t:?} has an invalid host ({e}); write it like https://example.com/path"
            ))
        })?;
    }
    Ok(u.to_string())
}

fn email(t: &str) -> Result<String, DomainError> {
    let (local, dom) = t
        .rsplit_once('@')
        .ok_or_else(|| invalid(format!("{t:?} is not an e-mail address (local@domain)")))?;
    if local.is_empty()
        || local.len() > 64
        || local.contains('@')
        || local.chars().any(char::is_whitespace)
    {
        return Err(invalid(format!("{t:?} has an invalid local part before @")));
    }
    let d = domain(dom, 2).map_err(|_| invalid(format!("{t:?} has an invalid domain after @")))?;
    Ok(format!("{}@{d}", local.to_lowercase()))
}

fn hex_hash(t: &str, len: usize, name: &str) -> Result<String, DomainError> {
    if t.len() != len || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(format!(
            "a {name} hash is exactly {len} hex digits; got {} characters{}",
            t.len(),
            if t.bytes().all(|b| b.is_ascii_hexdigit()) {
                ""
            } else {
                " with non-hex ones"
            }
        )));
    }
    Ok(t.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(kind: IndicatorKind, raw: &str) -> String {
        IndicatorValue::new(kind, raw).unwrap().value().to_owned()
    }

    #[test]
    fn accounts_and_one_label_hosts_are_followed_whole_distinctive_values_inside_texts_too() {
        use IndicatorKind as K;
        for (kind, value, whole) in [
            (K::UserAccount, "svc-deploy", true),
            (K::UserAccount, "admin", true),
            (K::Host, "web-a1", true),
            (K::Host, "web-a1.acme.internal", false),
            (K::Host, "10.0.0.5", false),
            (K::Host, "2001:db8::1", false),
            (K::Ip, "203.0.113.9", false),
            (K::Network, "203.0.113.0/24", false),
            (K::Domain, "evil.example", false),
            (K::Url, "http://evil.example/a", false),
            (K::Email, "a@evil.example", false),
            (K::Md5, "44d88612fea8a8f36de82e1278abb02f", false),
            (K::Process, "whoami", false),
            (K::FilePath, "/tmp/x", false),
            (K::Other, "admin", false),
        ] {
            assert_eq!(kind.followed_whole(value), whole, "{kind} {value}");
        }
    }

    fn bad(kind: IndicatorKind, raw: &str) {
        let e = IndicatorValue::new(kind, raw).unwrap_err();
        assert_eq!(e.field(), Some("value"), "{kind} {raw:?} -> {e}");
    }

    #[test]
    fn ips_are_canonical() {
        assert_eq!(n(IndicatorKind::Ip, " 10.0.0.1 "), "10.0.0.1");
        assert_eq!(n(IndicatorKind::Ip, "2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
        assert_eq!(n(IndicatorKind::Ip, "[::1]"), "::1");
        bad(IndicatorKind::Ip, "10.0.0.256");
        bad(IndicatorKind::Ip, "example.com");
    }

    #[test]
    fn networks_are_written_as_their_own_address() {
        assert_eq!(n(IndicatorKind::Network, " 10.1.2.3/16 "), "10.1.0.0/16");
        assert_eq!(
            n(IndicatorKind::Network, "203.0.113.9/32"),
            "203.0.113.9/32"
        );
        bad(IndicatorKind::Network, "10.0.0.1");
        bad(IndicatorKind::Network, "10.0.0.0/7");
        bad(IndicatorKind::Network, "10.0.0.0/+8");
        assert_eq!(n(IndicatorKind::Network, "fe80::1/10"), "fe80::/10");
        assert_eq!(
            n(IndicatorKind::Network, "2001:DB8:1::/32"),
            "2001:db8::/32"
        );
        bad(IndicatorKind::Network, "2001:db8::/80");
        bad(IndicatorKind::Network, "2001:db8::/7");
    }

    #[test]
    fn domains_are_lowercased_and_validated() {
        assert_eq!(
            n(IndicatorKind::Domain, "Evil.Example.COM."),
            "evil.example.com"
        );
        assert_eq!(
            n(IndicatorKind::Domain, "xn--bcher-kva.example"),
            "xn--bcher-kva.example"
        );
        bad(IndicatorKind::Domain, "localhost");
        bad(IndicatorKind::Domain, "-bad.example.com");
        bad(IndicatorKind::Domain, "a..b");
        bad(IndicatorKind::Domain, "bücher.example");
        bad(IndicatorKind::Domain, &format!("{}.com", "a".repeat(64)));
    }

    #[test]
    fn hosts_accept_ip_or_single_label() {
        assert_eq!(n(IndicatorKind::Host, "WEB01"), "web01");
        assert_eq!(n(IndicatorKind::Host, "2001:DB8::1"), "2001:db8::1");
        bad(IndicatorKind::Host, "web 01");
    }

    #[test]
    fn urls_lowercase_scheme_and_host_only() {
        assert_eq!(
            n(
                IndicatorKind::Url,
                "HTTPS://Evil.Example.com:8443/Path/X?Q=A#F"
            ),
            "https://evil.example.com:8443/Path/X?Q=A#F"
        );
        assert_eq!(
            n(IndicatorKind::Url, "http://User@HOST"),
            "http://User@host/"
        );
        bad(IndicatorKind::Url, "evil.example.com/x");
        bad(IndicatorKind::Url, "https:///nohost");
        bad(IndicatorKind::Url, "https://a.com/has space");
        bad(IndicatorKind::Url, "1http://a.com");
    }

    #[test]
    fn hashes_by_length_and_hex() {
        let md5 = "D41D8CD98F00B204E9800998ECF8427E";
        assert_eq!(n(IndicatorKind::Md5, md5), md5.to_lowercase());
        let h = IndicatorValue::parse("hash", &"A".repeat(40)).unwrap();
        assert_eq!(
            (h.kind(), h.value()),
            (IndicatorKind::Sha1, "a".repeat(40).as_str())
        );
        assert_eq!(
            IndicatorValue::hash(&"0".repeat(64)).unwrap().kind(),
            IndicatorKind::Sha256
        );
        assert!(IndicatorValue::hash("abc").is_err());
        bad(IndicatorKind::Sha256, &"0".repeat(63));
        bad(IndicatorKind::Md5, &"g".repeat(32));
        bad(IndicatorKind::Md5, &"0".repeat(40));
    }

    #[test]
    fn emails_are_compared_without_case() {
        assert_eq!(
            n(IndicatorKind::Email, "Alice.B@Example.COM"),
            "alice.b@example.com"
        );
        bad(IndicatorKind::Email, "alice");
        bad(IndicatorKind::Email, "@example.com");
        bad(IndicatorKind::Email, "alice@localhost");
    }

    /// Input → normalised value (`Ok`) or a refusal whose message contains the text given
    /// (`Err`), kind by kind: the forms responders paste (defanged, mapped, with default ports)
    /// meet the plain ones.
    #[test]
    fn normalisation_table() {
        use IndicatorKind::*;
        let table: &[(IndicatorKind, &str, Result<&str, &str>)] = &[
            // IPv4-mapped IPv6 is the IPv4 address.
            (Ip, "::ffff:192.0.2.1", Ok("192.0.2.1")),
            (Ip, "[::FFFF:192.0.2.1]", Ok("192.0.2.1")),
            (Ip, "::ffff:c000:201", Ok("192.0.2.1")),
            (Ip, "::192.0.2.1", Ok("::c000:201")),
            (Host, "::ffff:10.0.0.1", Ok("10.0.0.1")),
            (Network, "::ffff:192.0.2.0/120", Ok("192.0.2.0/24")),
            // Defanged addresses.
            (Ip, "1.2.3[.]4", Ok("1.2.3.4")),
            (Ip, "1[.]2[.]3[.]4", Ok("1.2.3.4")),
            (Ip, "1(.)2(.)3(.)4", Ok("1.2.3.4")),
            (Ip, "1[dot]2[DOT]3{.}4", Ok("1.2.3.4")),
            (Ip, "1[[.]]2.3.4", Ok("1.2.3.4")),
            (Network, "10[.]1.0.0/16", Ok("10.1.0.0/16")),
            (Ip, "1 . 2.3.4", Err("not an IPv4")),
            // Defanged domains and hosts.
            (Domain, "evil[.]example", Ok("evil.example")),
            (Domain, "evil(.)Example[.]COM", Ok("evil.example.com")),
            (Domain, "evil[dot]example", Ok("evil.example")),
            (Host, "web01[.]corp", Ok("web01.corp")),
            (Domain, "evil dot example", Err("a domain looks like")),
            // A domain is not an address.
            (Domain, "192.0.2.1", Err("kind ip")),
            (Domain, "192[.]0.2.1", Err("kind ip")),
            (Domain, "2001:db8::1", Err("kind ip")),
            (Domain, "10.0.0.256", Err("kind ip")),
            (Domain, "example.123", Err("kind ip")),
            (Domain, "123.example", Ok("123.example")),
            // Defanged URLs.
            (Url, "hxxp://evil.example/x", Ok("http://evil.example/x")),
            (
                Url,
                "hXXps://evil[.]example/x",
                Ok("https://evil.example/x"),
            ),
            (Url, "hxxps[:]//evil[.]example", Ok("https://evil.example/")),
            (Url, "hxxp[://]evil(.)example", Ok("http://evil.example/")),
            (
                Url,
                "https://user[@]evil.example/",
                Ok("https://user@evil.example/"),
            ),
            (
                Url,
                "https://evil.example/a[.]php",
                Ok("https://evil.example/a.php"),
            ),
            (
                Url,
                "https://evil.example/a(.)b",
                Ok("https://evil.example/a(.)b"),
            ),
            // URLs as a browser reads them.
            (Url, "http://evil.example:80/a", Ok("http://evil.example/a")),
            (Url, "https://evil.example:443", Ok("https://evil.example/")),
            (
                Url,
                "http://evil.example:443/",
                Ok("http://evil.example:443/"),
            ),
            (Url, "https://evil.example", Ok("https://evil.example/")),
            (Url, "https://Evil.Example./x", Ok("https://evil.example/x")),
            (
                Url,
                "https://[2001:DB8:0:0::1]:8443/",
                Ok("https://[2001:db8::1]:8443/"),
            ),
            (Url, "http://[::ffff:192.0.2.1]/", Ok("http://192.0.2.1/")),
            (
                Url,
                "https://bücher.example/Pfad",
                Ok("https://xn--bcher-kva.example/Pfad"),
            ),
            (
                Url,
                "https://BÜCHER.example/",
                Ok("https://xn--bcher-kva.example/"),
            ),
            (
                Url,
                "https://evil.example/a/../b?Q=1#F",
                Ok("https://evil.example/b?Q=1#F"),
            ),
            (Url, "smb://FILES.corp/share", Ok("smb://files.corp/share")),
            (Url, "https://evil.example:99999/", Err("not a valid URL")),
            (Url, "https://./x", Err("no host")),
            (Url, "https://:443/x", Err("no host")),
            // E-mail addresses, without case and refanged.
            (Email, "Alice@Example.COM", Ok("alice@example.com")),
            (Email, "alice[@]example[.]com", Ok("alice@example.com")),
            (Email, "Alice(at)Example(dot)com", Ok("alice@example.com")),
            (Email, "alice@192.0.2.1", Err("invalid domain")),
            // Free text is never refanged.
            (FilePath, "C:\\x[.]txt", Ok("C:\\x[.]txt")),
            (Other, "hxxp://evil.example", Ok("hxxp://evil.example")),
        ];
        for (kind, raw, want) in table {
            let got = IndicatorValue::new(*kind, raw);
            match (want, &got) {
                (Ok(want), Ok(got)) => assert_eq!(got.value(), *want, "{kind} {raw:?}"),
                (Err(want), Err(e)) => {
                    assert_eq!(e.field(), Some("value"), "{kind} {raw:?}");
                    assert!(e.to_string().contains(want), "{kind} {raw:?}: {e}");
                }
                _ => panic!("{kind} {raw:?}: expected {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn free_text_kinds_are_trimmed_and_checked() {
        assert_eq!(
            n(IndicatorKind::FilePath, "  C:\\Temp\\X.exe "),
            "C:\\Temp\\X.exe"
        );
        assert_eq!(n(IndicatorKind::UserAccount, "CORP\\Bob"), "CORP\\Bob");
        bad(IndicatorKind::Process, "   ");
        bad(IndicatorKind::Other, "a\u{0}b");
        bad(IndicatorKind::Other, &"x".repeat(MAX_LEN + 1));
    }

    #[test]
    fn dedup_by_kind_and_normalised_value() {
        let v = dedup([
            IndicatorValue::new(IndicatorKind::Domain, "Evil.com").unwrap(),
            IndicatorValue::new(IndicatorKind::Domain, "evil.com.").unwrap(),
            IndicatorValue::new(IndicatorKind::Host, "evil.com").unwrap(),
        ]);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].kind(), IndicatorKind::Domain);
        assert_eq!(v[1].kind(), IndicatorKind::Host);
    }

    #[test]
    fn candidates_and_serde() {
        let c = IndicatorValue::candidates("10.0.0.1");
        assert!(c.contains(&IndicatorValue::new(IndicatorKind::Ip, "10.0.0.1").unwrap()));
        let v: IndicatorValue =
            serde_json::from_str(r#"{"kind":"hash","value":"D41D8CD98F00B204E9800998ECF8427E"}"#)
                .unwrap();
        assert_eq!(v.kind(), IndicatorKind::Md5);
        assert!(serde_json::from_str::<IndicatorValue>(r#"{"kind":"ip","value":"nope"}"#).is_err());
        assert_eq!(
            IndicatorKind::parse("file-path").unwrap(),
            IndicatorKind::FilePath
        );
    }

    /// Normalising is a fixed point: what it gives is taken back unchanged, whatever the input
    /// (de-duplication and the search across incidents compare normalised values), and no
    /// input panics it.
    #[test]
    fn normalised_values_normalise_to_themselves() {
        const SEEDS: &[&str] = &[
            "203.0.113.9",
            "10.1.2.3/16",
            "2001:DB8::0:1",
            "::ffff:192.0.2.1",
            "Login-Micros0ft.example.",
            "xn--bcher-kva.example",
            "bücher.example",
            "hxxps://Evil.Example:443/a/../b?q=%41#frag",
            "http://[2001:db8::1]:8080/",
            "Alice.Smith+tag@Example.COM",
            "CORP\\alice",
            "d41d8cd98f00b204e9800998ecf8427e",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "C:\\Windows\\System32\\cmd.exe",
            "/usr/bin/curl",
            "powershell.exe -enc SQBFAFgA",
            "hxxps[:]//Evil[.]Example.:443/a(.)b?x=[.]",
            "1[.]2(.)3{.}4",
            "Alice[@]Example[dot]com",
            "::ffff:192.0.2.0/120",
            "http://[::FFFF:10.0.0.1]:80",
        ];
        const ALPHABET: &[u8] = b".:/@\\[]%#?+-_ \t\n0123456789abcdefABCDEF\xc3\xbc\xe2\x80\x8b";
        let mut rng = vigil_testkit::Rng::new(1918);
        let mut taken = 0;
        for i in 0..40_000 {
            let raw = rng.mutate(SEEDS[i % SEEDS.len()].as_bytes(), ALPHABET);
            let raw = String::from_utf8_lossy(&raw);
            for kind in IndicatorKind::ALL {
                let Ok(value) = IndicatorValue::new(*kind, &raw) else {
                    continue;
                };
                taken += 1;
                assert_eq!(
                    IndicatorValue::new(*kind, value.value()).as_ref(),
                    Ok(&value),
                    "{kind:?} {raw:?}"
                );
            }
        }
        assert!(
            taken > 40_000,
            "most mutations stay valid for some kind: {taken}"
        );
    }
}
