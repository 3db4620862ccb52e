//! The syntax of the addresses people are paged at, as the notifier (`vigil-notify`) reads
//! them: a webhook URL as reqwest parses it (the `url` crate, http or https), an e-mail address
//! as lettre's mailbox parser reads one and checks it (dot-atoms; the local part and domain by
//! the `email_address` crate lettre uses, or an IP address, or an international domain name). The organisation document is checked with these before it
//! is applied, so an address the notifier could not use is refused then, not found out at
//! paging time; `vigil-notify`'s tests hold every address accepted here to being one the
//! notifier takes.

use std::net::IpAddr;

use email_address::EmailAddress;

/// Why an address cannot be paged. The messages name no part of the address: a webhook URL is
/// a secret, and the caller decides how to show it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactError {
    /// The webhook URL does not parse; the reason is the URL parser's.
    #[error("is not a valid URL: {0}")]
    BadUrl(String),
    /// The webhook URL parses but is not http or https.
    #[error("is not an http:// or https:// URL")]
    NotHttp,
    /// The webhook URL holds a tab, a line break or another control character, which URL
    /// parsing would drop silently, so that another URL than the one written would be paged.
    #[error(
        "holds a control character (a tab or a line break); write the URL on one line without them"
    )]
    UrlControl,
    /// The e-mail address has no `@`, or nothing before or after it.
    #[error(
        "is not an e-mail address such as alice@example.com: it needs a name, an @ and a domain"
    )]
    EmailParts,
    /// What comes before the last `@` is not a valid local part (spaces, line breaks, a
    /// second `@` …).
    #[error(
        "is not an e-mail address such as alice@example.com: the part before the @ is not valid"
    )]
    EmailUser,
    /// What comes after the last `@` is not a domain name or an IP address.
    #[error("is not an e-mail address such as alice@example.com: the domain is not valid")]
    EmailDomain,
}

/// `text` as a webhook URL the notifier can post to: a URL (WHATWG parsing, as browsers and
/// reqwest do) whose scheme is http or https, with no control character (WHATWG parsing
/// removes tabs and line breaks anywhere: `hooks.exa<TAB>mple.com` would page
/// `hooks.example.com`).
pub fn webhook_url(text: &str) -> Result<url::Url, ContactError> {
    if text.chars().any(char::is_control) {
        return Err(ContactError::UrlControl);
    }
    let url = url::Url::parse(text).map_err(|e| ContactError::BadUrl(e.to_string()))?;
    if matches!(url.scheme(), "http" | "https") {
        Ok(url)
    } else {
        Err(ContactError::NotHttp)
    }
}

/// Whether `text` is an e-mail address the notifier can send to: `user@domain`, split at the
/// last `@`, both parts dot-atoms (RFC 5322 `atext` separated by single dots: no quoted local
/// part, no bracketed address, which lettre's mailbox parser does not read), the user a valid
/// local part and the domain a domain name (an international one once converted to ASCII) or
/// an IP address.
pub fn email_address(text: &str) -> Result<(), ContactError> {
    let (user, domain) = text.rsplit_once('@').ok_or(ContactError::EmailParts)?;
    if user.is_empty() || domain.is_empty() {
        return Err(ContactError::EmailParts);
    }
    if !is_dot_atom(user) || !EmailAddress::is_valid_local_part(user) {
        return Err(ContactError::EmailUser);
    }
    let valid = is_dot_atom(domain)
        && (EmailAddress::is_valid_domain(domain)
            || domain.parse::<IpAddr>().is_ok()
            || (!domain.is_ascii()
                && matches!(url::Host::parse(domain),
                Ok(url::Host::Domain(ascii)) if EmailAddress::is_valid_domain(&ascii))));
    if valid {
        Ok(())
    } else {
        Err(ContactError::EmailDomain)
    }
}

/// `1*atext *("." 1*atext)`, where `atext` is a letter, a digit, one of ``!#$%&'*+-/=?^_`{|}~``
/// or any character beyond ASCII (RFC 6532).
fn is_dot_atom(text: &str) -> bool {
    text.split('.').all(|atom| {
        !atom.is_empty()
            && atom.chars().all(|c| {
                c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_the_notifier_cannot_post_to_are_refused() {
        for ok in [
            "https://hooks.slack.com/services/T0/B0/x",
            "http://127.0.0.1:8080/hook",
            "http://u:p@[::1]:9000/x?token=y",
        ] {
            assert!(webhook_url(ok).is_ok(), "{ok}");
        }
        for (bad, reason) in [
            ("http://u:P@[::1/x", "invalid IPv6 address"),
            (
                "https://exa mple.com/x",
                "invalid international domain name",
            ),
            ("https://example.com:99999/x", "invalid port number"),
            ("hooks.example.com/x", "relative URL without a base"),
        ] {
            assert_eq!(
                webhook_url(bad).unwrap_err(),
                ContactError::BadUrl(reason.into()),
                "{bad}"
            );
        }
        assert_eq!(
            webhook_url("ftp://u:PASS@127.0.0.1/x").unwrap_err(),
            ContactError::NotHttp
        );
        // Parsing would drop them and page another URL than the one written.
        for bad in [
            "https://hooks.exa\tmple.com/x",
            "https://hooks.example.com/x/SECRET\nPATH",
            "https://hooks.example.com/x\r",
        ] {
            assert_eq!(
                webhook_url(bad).unwrap_err(),
                ContactError::UrlControl,
                "{bad:?}"
            );
        }
        assert!(
            !ContactError::BadUrl("x".into())
                .to_string()
                .contains("PASS")
        );
    }

    #[test]
    fn e_mail_addresses_the_notifier_cannot_send_to_are_refused() {
        for ok in [
            "alice@example.com",
            "a.b+tag@sub.example.co.uk",
            "root@192.0.2.1",
            "x@bücher.example",
        ] {
            assert_eq!(email_address(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            (
                "alice@example.com\r\nBcc: evil@evil.example",
                ContactError::EmailUser,
            ),
            ("a b@exa mple.com", ContactError::EmailUser),
            ("ab@exa mple.com", ContactError::EmailDomain),
            ("alice@", ContactError::EmailParts),
            ("@example.com", ContactError::EmailParts),
            ("alice.example.com", ContactError::EmailParts),
            ("alice@exa_mple..com", ContactError::EmailDomain),
            ("root@[192.0.2.1]", ContactError::EmailDomain),
            ("\"quoted name\"@example.com", ContactError::EmailUser),
        ] {
            assert_eq!(email_address(bad), Err(why), "{bad:?}");
        }
    }
}
