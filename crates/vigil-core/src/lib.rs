//! vigil-core: the incident-response domain, pure and synchronous.
//!
//! Everything here is data and rules: incident records and their parts, the newtypes that carry
//! invariants (`IncidentKey`, `Severity`, `Indicator`, `Sha256`, `Technique` …), the phase state
//! machine with its named guards, lifecycle timestamps and the durations computed from them, the
//! priority derived from potential impact, and the hash-chained audit trail as pure functions.
//!
//! **Invariant:** no I/O, no async, no SQL, no HTTP. Callers pass the current time in, so every
//! rule is testable with fixed instants. Storage lives in `vigil-store`, the wire in `vigil-api`.
//!
//! With the `openapi` feature every public data type also derives `utoipa::ToSchema`.

#[macro_use]
mod macros;

pub mod actors;
pub mod alert;
pub mod audit;
pub mod contact;
pub mod detection;
pub mod error;
pub mod evidence;
pub mod extract;
pub mod finding;
pub mod ids;
pub mod impact;
pub mod incident;
pub mod indicator;
pub mod links;
pub mod marking;
pub mod phase;
pub mod postmortem;
pub mod redact;
pub mod review;
pub mod role;
#[cfg(feature = "openapi")]
pub mod schema;
pub mod severity;
pub mod timestamps;
pub mod views;

pub use alert::{
    Alert, AlertAction, AlertLogEntry, AlertSource, AlertStatus, AssetCriticality, Dismissal,
    EventJson, NewAlert, UndeliveredPage, preliminary_severity,
};
pub use audit::{
    AuditEntry, AuditVerified, ChainBreak, ChainProblem, GENESIS_HASH, NewAuditEntry, verify_chain,
};
pub use detection::{Detection, NewDetection, RuleLevel};
pub use error::{DomainError, GuardRefusal};
pub use evidence::{CustodyEntry, Evidence, EvidenceCheck, EvidenceId, EvidenceProblem, Sha256};
pub use extract::indicators_from_events;
pub use finding::{
    Finding, FindingChange, FindingKey, FindingKind, FindingState, FindingUpdate, NewFinding,
};
pub use ids::{IncidentId, IncidentKey};
pub use impact::{DataImpact, DataImpactPatch};
pub use incident::{
    ActionEntry, ActionKind, Incident, IncidentLink, IncidentPatch, LinkSuggestion, NewIncident,
    NewIndicator, NewNextStep, NextStep, PostMortem, record_changes,
};
pub use indicator::{Indicator, IndicatorKind, IndicatorValue};
pub use links::{LINK_LIFETIME, LinkError, LinkGrant, LinkSigner, constant_time_eq};
pub use marking::{Category, Pap, Technique, Tlp};
pub use phase::{Guard, Phase, PhaseChange, TransitionFacts, check_transition};
pub use postmortem::{
    ContributingFactor, DetectionImprovement, FactorKind, NewPostMortem, Participant,
    ParticipantRole,
};
pub use redact::{redact_url, redact_url_parts};
pub use role::{CreatedToken, Permission, Role, TokenInfo};
pub use severity::{
    ImpactFactors, Priority, PriorityChange, Severity, SeverityChange, derive_priority,
};
pub use timestamps::{LifecycleDurations, TimestampCorrection, TimestampKind, Timestamps};
pub use views::{IndicatorHit, Page, Related};

/// Longest reason, in characters (for a severity, phase or timestamp change, an indicator's
/// removal, a custody entry, an alert's dismissal): the same as any other long text
/// ([`incident::MAX_TEXT`]), so that no one request puts a megabyte into a history that every
/// reader of the incident loads.
pub const MAX_REASON: usize = incident::MAX_TEXT;

/// Refuses a reason longer than [`MAX_REASON`], naming `field`.
pub fn reason_length(field: &'static str, value: &str) -> Result<(), DomainError> {
    if value.chars().count() > MAX_REASON {
        return Err(DomainError::invalid(
            field,
            format!(
                "longer than {MAX_REASON} characters; shorten it (put the details in the action log or evidence)"
            ),
        ));
    }
    Ok(())
}

/// Checks that a required reason is non-blank and at most [`MAX_REASON`] characters, and
/// returns it trimmed.
pub fn required_reason(field: &'static str, value: &str) -> Result<String, DomainError> {
    let t = required_text(field, value)?;
    reason_length(field, &t)?;
    Ok(t)
}

/// Checks that a required free-text field is non-blank and returns it trimmed.
pub fn required_text(field: &'static str, value: &str) -> Result<String, DomainError> {
    let t = value.trim();
    if t.is_empty() {
        return Err(DomainError::invalid(
            field,
            "must not be empty; give a short text",
        ));
    }
    no_control_characters(field, t)?;
    Ok(t.to_owned())
}

/// Checks that a required one-line field (a name) is non-blank and holds no control character
/// at all, tabs and line breaks included, and returns it trimmed.
pub fn required_line(field: &'static str, value: &str) -> Result<String, DomainError> {
    let t = value.trim();
    if t.is_empty() {
        return Err(DomainError::invalid(
            field,
            "must not be empty; give a short text",
        ));
    }
    one_line_characters(field, t)?;
    Ok(t.to_owned())
}

/// Whether `c` breaks a line or is a control character: tabs, line feeds, carriage returns,
/// NEL (U+0085) and the other C0 and C1 controls, and the Unicode line and paragraph
/// separators (U+2028, U+2029), which are no control characters but which browsers, mail
/// readers, chat clients and JavaScript all break a line at.
pub fn breaks_line(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Whether `c` is a bidirectional formatting character: an embedding or override
/// (U+202A–U+202E), an isolate (U+2066–U+2069) or a mark (U+200E, U+200F, U+061C). One left
/// open in a text shows what follows it reordered ("Trojan Source"): in a page, Vigil's own
/// text after an outside title.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}'
    )
}

/// Refuses any control character, tabs and line breaks included (the Unicode line and
/// paragraph separators too: [`breaks_line`]), naming the first.
fn one_line_characters(field: &'static str, value: &str) -> Result<(), DomainError> {
    let Some(c) = value.chars().find(|&c| breaks_line(c)) else {
        return Ok(());
    };
    let what = match c {
        '\n' | '\r' | '\u{85}' => "a line break",
        '\u{2028}' => "a line separator",
        '\u{2029}' => "a paragraph separator",
        '\t' => "a tab",
        _ => "the control character",
    };
    Err(DomainError::invalid(
        field,
        format!(
            "holds {what} (U+{:04X}); write one line of plain text, without tabs, line breaks or control characters",
            c as u32
        ),
    ))
}

/// Refuses control characters other than tabs and line breaks: an escape sequence in a title
/// would be played by the terminal of everyone who lists it (clearing the screen, retitling
/// the window, recolouring what follows), and a NUL cuts the text short in many a tool.
pub fn no_control_characters(field: &'static str, value: &str) -> Result<(), DomainError> {
    match value.chars().find(|&c| is_unprintable(c)) {
        Some(c) => Err(DomainError::invalid(
            field,
            format!(
                "holds the control character U+{:04X}; write plain text (tabs and line breaks are fine)",
                c as u32
            ),
        )),
        None => Ok(()),
    }
}

/// Checks a one-line field (a name, a service, a contact): at most `max` characters and no
/// control character or line separator at all ([`breaks_line`]) — a line break in it would forge a line wherever it is printed
/// (a page's e-mail body: `Service: web` then `Bcc: …`), and an escape would be played by
/// terminals.
pub fn single_line(field: &'static str, value: &str, max: usize) -> Result<(), DomainError> {
    one_line_characters(field, value)?;
    if value.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("has at most {max} characters; shorten it"),
        ));
    }
    Ok(())
}

/// `value` with every control character, line breaks, tabs and the Unicode line and
/// paragraph separators included ([`breaks_line`]), replaced by U+FFFD: for one-line text
/// stored before [`single_line`] was checked, shown where a line break would forge a line.
pub fn one_line(value: &str) -> std::borrow::Cow<'_, str> {
    replaced(value, breaks_line)
}

/// The lines of `text` as a terminal, a pager or a mail reader would break it: at CR LF, LF,
/// CR, vertical tab, form feed, NEL and the Unicode line and paragraph separators, so that a
/// line quoted from outside cannot hide a break and pass for a line of its own.
pub fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split("\r\n").flat_map(|l| {
        l.split([
            '\n', '\r', '\u{b}', '\u{c}', '\u{85}', '\u{2028}', '\u{2029}',
        ])
    })
}

/// A control character other than a tab or a line break.
pub fn is_unprintable(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// `value` with its control characters other than tabs and line breaks replaced by U+FFFD:
/// for text Vigil did not write and must keep (an event's text quoted in an alert).
pub fn printable(value: &str) -> std::borrow::Cow<'_, str> {
    replaced(value, is_unprintable)
}

/// `value` with the characters `refused` picks replaced by U+FFFD, borrowed when it has none.
fn replaced(value: &str, refused: fn(char) -> bool) -> std::borrow::Cow<'_, str> {
    if value.chars().any(refused) {
        value
            .chars()
            .map(|c| if refused(c) { '\u{fffd}' } else { c })
            .collect::<String>()
            .into()
    } else {
        value.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_line_field_names_the_character_it_refuses_and_never_allows_line_breaks() {
        assert_eq!(required_line("name", "  ci bot ").unwrap(), "ci bot");
        for (value, said) in [
            ("ci\u{0}bot", "holds the control character (U+0000)"),
            ("ci\nbot", "holds a line break (U+000A)"),
            ("ci\tbot", "holds a tab (U+0009)"),
            ("ci\u{1b}[2Jbot", "holds the control character (U+001B)"),
            ("pay\u{85}ments", "holds a line break (U+0085)"),
            ("pay\u{2028}ments", "holds a line separator (U+2028)"),
            ("pay\u{2029}ments", "holds a paragraph separator (U+2029)"),
        ] {
            let e = required_line("name", value).unwrap_err().to_string();
            assert!(e.starts_with(&format!("name: {said}")), "{value:?}: {e}");
            assert!(
                e.contains("without tabs, line breaks or control characters"),
                "{e}"
            );
            assert!(!e.contains("are fine"), "{e}");
        }
        for value in ["pay\u{2028}ments", "pay\u{2029}ments", "pay\u{85}ments"] {
            let e = single_line("service", value, 200).unwrap_err().to_string();
            assert!(e.starts_with("service: holds a"), "{e}");
            assert!(!one_line(value).contains(['\u{2028}', '\u{2029}', '\u{85}']));
        }
        assert!(
            required_line("name", " \n ")
                .unwrap_err()
                .to_string()
                .contains("must not be empty")
        );
    }
}
