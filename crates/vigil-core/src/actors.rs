//! The actors Vigil records its own writes under, in the audit trail and in alert logs. A
//! token's name is the actor of every write the token makes, so no token may be named like one
//! of these: its writes would read as the system's — an acknowledgement made with the token as
//! one made through the link in someone's page, a change as the escalation's or the command
//! line's.

use crate::DomainError;

/// The server itself: escalation and paging, ingest's detections and alerts, the silence
/// watch.
pub const SYSTEM: &str = "vigil";

/// `vigil admin` working on the data directory (tokens created and revoked there).
pub const ADMIN_CLI: &str = "vigil-admin-cli";

/// The public report form (`/report/KEY`), which has no token.
pub const REPORT_FORM: &str = "reporter";

/// What follows a person's name when they act through the signed link in their page.
const ACK_LINK_SUFFIX: &str = "(link in their page)";

/// The actor of an action taken through the link in `person`'s page.
pub fn ack_link(person: &str) -> String {
    format!("{person} {ACK_LINK_SUFFIX}")
}

/// The longest token name, in characters (the store refuses a longer one).
pub const MAX_TOKEN_NAME: usize = 100;

/// Refuses a token name that is one of the system's actors (in any case) or reads as an
/// acknowledgement link's (`NAME (link in their page)`), naming the reserved ones.
pub fn check_token_name(name: &str) -> Result<(), DomainError> {
    let folded = name.trim().to_lowercase();
    let system = [SYSTEM, ADMIN_CLI, REPORT_FORM].contains(&folded.as_str());
    if system || folded.contains(ACK_LINK_SUFFIX) {
        return Err(DomainError::invalid(
            "name",
            format!(
                "{name:?} reads as an actor Vigil records its own writes under, and a token's name is the actor of its writes; choose another name (reserved: {SYSTEM:?}, {ADMIN_CLI:?}, {REPORT_FORM:?} in any case, and any name with {ACK_LINK_SUFFIX:?}, which marks an acknowledgement made through the link in a page)"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_actors_and_the_link_form_are_refused_as_token_names() {
        for name in [
            "vigil",
            "Vigil",
            "vigil-admin-cli",
            "VIGIL-ADMIN-CLI",
            "reporter",
            "alice (link in their page)",
            "alice (Link In Their Page)",
            "x(link in their page)y",
        ] {
            let e = check_token_name(name).unwrap_err();
            assert_eq!(e.field(), Some("name"), "{name}");
            let text = e.to_string();
            assert!(
                text.contains(r#"reserved: "vigil", "vigil-admin-cli", "reporter""#)
                    && text.contains("(link in their page)"),
                "{text}"
            );
        }
        assert_eq!(ack_link("alice"), "alice (link in their page)");
        assert!(check_token_name(&ack_link("alice")).is_err());
        for name in ["alice", "vigil-bot", "ci reporter", "link in their page"] {
            assert!(check_token_name(name).is_ok(), "{name}");
        }
    }
}
