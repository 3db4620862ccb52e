//! Signed links: an acknowledgement link in a page must work from a phone's mail client
//! without a login, yet must not be guessable. A link carries HMAC-SHA256(key, purpose:subject)
//! — the key stays on the server — so it acknowledges exactly one alert and nothing else.

use hmac::{Hmac, Mac};
use sha2::Sha256;

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

fn hmac(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

impl LinkSigner {
    /// A signer with this secret key.
    pub fn new(key: [u8; 32]) -> Self {
        LinkSigner { key }
    }

    /// The token for `purpose` (e.g. `ack`) on `subject` (e.g. `ALR-12`).
    pub fn sign(&self, purpose: &str, subject: &str) -> String {
        hex::encode(hmac(&self.key, format!("{purpose}:{subject}").as_bytes()))
    }

    /// Whether `token` was made by [`LinkSigner::sign`] for this purpose and subject
    /// (compared in constant time).
    pub fn verify(&self, purpose: &str, subject: &str, token: &str) -> bool {
        let expected = self.sign(purpose, subject);
        expected.len() == token.len()
            && expected
                .bytes()
                .zip(token.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_one_subject_for_one_purpose() {
        let s = LinkSigner::new([7; 32]);
        let t = s.sign("ack", "ALR-1");
        assert!(s.verify("ack", "ALR-1", &t));
        assert!(!s.verify("ack", "ALR-2", &t));
        assert!(!s.verify("resolve", "ALR-1", &t));
        assert!(!LinkSigner::new([8; 32]).verify("ack", "ALR-1", &t));
        assert!(!s.verify("ack", "ALR-1", &t[..10]));
        // RFC 4231 test case 1 (key 0x0b × 20, "Hi There") through the same construction.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&[0x0b; 20]).unwrap();
        mac.update(b"Hi There");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }
}
