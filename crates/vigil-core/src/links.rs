//! Signed links: an acknowledgement link in a page must work from a phone's mail client
//! without a login, yet must not be guessable, must say who used it and must not work for
//! ever. A link is signed for one purpose (`ack`), one subject (`ALR-12`), one recipient (the
//! person paged, `alice`) and an expiry: it carries
//! `t = HMAC-SHA256(key, v2 ‖ purpose ‖ subject ‖ recipient ‖ expiry)` — each part
//! length-prefixed, the key staying on the server — with the recipient and the expiry in the
//! clear beside it (`?t=…&by=alice&until=1767225600`), so changing either breaks the token.
//! A link of the first form (`?t=` alone, signed for a purpose and subject only) is no longer
//! accepted.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a link works after it is sent: a week, longer than any page waits for an answer,
/// short enough that a link kept in an old mail stops working.
pub const LINK_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// Signs and checks link tokens with the server's secret key.
#[derive(Clone)]
pub struct LinkSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(***)")
    }
}

/// What a link was signed for: the action, the thing acted on, the person it was sent to and
/// until when it works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkGrant<'a> {
    /// The action (`ack`).
    pub purpose: &'a str,
    /// What it acts on (`ALR-12`).
    pub subject: &'a str,
    /// The person it was sent to, recorded as who acted (`alice`).
    pub recipient: &'a str,
    /// The end of its validity, in whole seconds since the Unix epoch.
    pub until: i64,
}

/// Why a link's token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The token was not made by this server for this purpose, subject, recipient and expiry
    /// (forged, altered, cut short, of another alert or action, or of the old unsigned-expiry
    /// form).
    #[error("the link is not valid")]
    Invalid,
    /// The token is genuine but its expiry has passed.
    #[error("the link has expired")]
    Expired,
}

fn hmac(key: &[u8; 32], grant: &LinkGrant<'_>) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(b"v2");
    let until = grant.until.to_string();
    for part in [grant.purpose, grant.subject, grant.recipient, &until] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    mac.finalize().into_bytes().into()
}

impl LinkSigner {
    /// A signer with this secret key.
    pub fn new(key: [u8; 32]) -> Self {
        LinkSigner { key }
    }

    /// The token of `grant`.
    pub fn sign(&self, grant: &LinkGrant<'_>) -> String {
        hex::encode(hmac(&self.key, grant))
    }

    /// The query string of a link for `grant`: `t=…&by=…&until=…` (the recipient
    /// percent-encoded).
    pub fn query(&self, grant: &LinkGrant<'_>) -> String {
        let by: String = url::form_urlencoded::byte_serialize(grant.recipient.as_bytes()).collect();
        format!("t={}&by={by}&until={}", self.sign(grant), grant.until)
    }

    /// The grant of a link sent to `recipient` at `now`, working for [`LINK_LIFETIME`].
    pub fn grant<'a>(
        purpose: &'a str,
        subject: &'a str,
        recipient: &'a str,
        now: DateTime<Utc>,
    ) -> LinkGrant<'a> {
        LinkGrant {
            purpose,
            subject,
            recipient,
            until: (now + LINK_LIFETIME).timestamp(),
        }
    }

    /// Checks that `token` was made by [`LinkSigner::sign`] for exactly `grant` (compared in
    /// constant time), then that `now` is before its expiry.
    pub fn verify(
        &self,
        grant: &LinkGrant<'_>,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), LinkError> {
        if !constant_time_eq(self.sign(grant).as_bytes(), token.as_bytes()) {
            return Err(LinkError::Invalid);
        }
        if now.timestamp() >= grant.until {
            return Err(LinkError::Expired);
        }
        Ok(())
    }
}

/// Whether `a` and `b` are the same bytes, in a time that depends on their lengths only, not on
/// where they differ: a secret compared so tells nothing of how much of a guess was right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn a_token_opens_one_subject_for_one_purpose_recipient_and_time() {
        let s = LinkSigner::new([7; 32]);
        let now = at(1_800_000_000);
        let grant = LinkSigner::grant("ack", "ALR-1", "alice", now);
        assert_eq!(grant.until, 1_800_000_000 + 7 * 24 * 3600);
        let t = s.sign(&grant);
        assert_eq!(s.verify(&grant, &t, now), Ok(()));
        let other = |f: &dyn Fn(&mut LinkGrant<'static>)| {
            let mut g = LinkGrant {
                purpose: "ack",
                subject: "ALR-1",
                recipient: "alice",
                until: grant.until,
            };
            f(&mut g);
            s.verify(&g, &t, now)
        };
        assert_eq!(other(&|g| g.subject = "ALR-2"), Err(LinkError::Invalid));
        // An acknowledgement link never resolves.
        assert_eq!(other(&|g| g.purpose = "resolve"), Err(LinkError::Invalid));
        // Bob cannot act as alice with her link, nor stretch its life.
        assert_eq!(other(&|g| g.recipient = "bob"), Err(LinkError::Invalid));
        assert_eq!(other(&|g| g.until += 1), Err(LinkError::Invalid));
        // Parts cannot be shifted from one into the next.
        assert_eq!(
            other(&|g| {
                g.subject = "ALR-1alice";
                g.recipient = "";
            }),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            LinkSigner::new([8; 32]).verify(&grant, &t, now),
            Err(LinkError::Invalid)
        );
        assert_eq!(s.verify(&grant, &t[..10], now), Err(LinkError::Invalid));
        // Genuine but past its week: expired, said as such.
        assert_eq!(
            s.verify(
                &grant,
                &t,
                now + LINK_LIFETIME - chrono::TimeDelta::seconds(1)
            ),
            Ok(())
        );
        assert_eq!(
            s.verify(&grant, &t, now + LINK_LIFETIME),
            Err(LinkError::Expired)
        );
        // A forged token is invalid, expired or not.
        let mut old = grant.clone();
        old.until = 1;
        assert_eq!(s.verify(&old, &t, now), Err(LinkError::Invalid));
    }

    #[test]
    fn the_query_carries_the_recipient_encoded_and_the_expiry() {
        let s = LinkSigner::new([7; 32]);
        let grant = LinkSigner::grant("ack", "ALR-3", "o'neil & co", at(0));
        let q = s.query(&grant);
        assert_eq!(
            q,
            format!("t={}&by=o%27neil+%26+co&until=604800", s.sign(&grant))
        );
    }

    #[test]
    fn hmac_sha256_is_the_standard_one() {
        // RFC 4231 test case 1 (key 0x0b × 20, "Hi There").
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&[0x0b; 20]).unwrap();
        mac.update(b"Hi There");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }
}
