//! The organisation document's address checks (`vigil_core::contact`) against the parsers this
//! crate sends with: every address the checks accept is one the notifier takes (a webhook URL
//! as `reqwest::Url` with an http or https scheme, an e-mail address as lettre's `Mailbox`), so
//! a document applied without complaint cannot fail at paging time for its syntax; a URL the
//! check refuses is one reqwest refuses too, or one holding a control character (which
//! reqwest's parsing drops, so another URL than the one written would be paged). Known
//! addresses, then random edits of them.

use vigil_core::contact::{email_address, webhook_url};
use vigil_testkit::Rng;

const EMAILS: &[&str] = &[
    "alice@example.com",
    "a.b+tag@sub.example.co.uk",
    "root@[192.0.2.1]",
    "root@[2001:db8::1]",
    "x@bücher.example",
    "\"quoted name\"@example.com",
    "alice@example.com\r\nBcc: evil@evil.example",
    "a b@exa mple.com",
];

const URLS: &[&str] = &[
    "https://hooks.slack.com/services/T0/B0/SECRET",
    "http://u:P@[::1]:8080/x?token=y#f",
    "http://u:P@[::1/x",
    "https://exa mple.com/x",
    "https://example.com:99999/x",
    "https://bücher.example/hook",
    "ftp://u:PASS@127.0.0.1/x",
    "https://hooks.exa\tmple.com/x",
];

fn notifier_takes_email(text: &str) -> bool {
    text.parse::<lettre::message::Mailbox>().is_ok()
}

fn notifier_takes_url(text: &str) -> bool {
    reqwest::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
        && !text.chars().any(char::is_control)
}

#[test]
fn every_address_the_document_check_accepts_the_notifier_takes() {
    for text in EMAILS {
        if email_address(text).is_ok() {
            assert!(notifier_takes_email(text), "{text:?}");
        }
    }
    for text in URLS {
        assert_eq!(
            webhook_url(text).is_ok(),
            notifier_takes_url(text),
            "{text:?}"
        );
    }
    let mut rng = Rng::new(0x00c0_ffee);
    let (mut emails, mut urls) = (0, 0);
    for _ in 0..20_000 {
        let seed = EMAILS[rng.below(EMAILS.len())].as_bytes();
        let text =
            String::from_utf8_lossy(&rng.mutate(seed, b"@.[]:\"\\ -_+\r\n<>()")).into_owned();
        if email_address(&text).is_ok() {
            emails += 1;
            assert!(notifier_takes_email(&text), "{text:?}");
        }
        let seed = URLS[rng.below(URLS.len())].as_bytes();
        let text = String::from_utf8_lossy(&rng.mutate(seed, b":/@[]?#%. \t\\")).into_owned();
        let accepted = webhook_url(&text).is_ok();
        urls += usize::from(accepted);
        assert_eq!(accepted, notifier_takes_url(&text), "{text:?}");
    }
    // The edits keep many valid: the property was tested on more than refusals.
    assert!(
        emails > 1000 && urls > 1000,
        "{emails} e-mails, {urls} URLs accepted"
    );
}
