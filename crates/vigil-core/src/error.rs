//! Domain errors: every variant names the field or the guard at fault and says what to do next.

use serde::{Deserialize, Serialize};

use crate::timestamps::TimestampKind;

/// One guard's refusal of a phase transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GuardRefusal {
    /// The guard's stable name (see [`crate::phase::Guard::name`]).
    pub guard: String,
    /// Why it refused and what to do about it.
    pub reason: String,
}

/// Why a domain rule rejected a value or a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A field's value breaks its rule; fix the named field and retry.
    #[error("{field}: {reason}")]
    InvalidField {
        /// The field at fault.
        field: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// One or more phase guards refused a transition; every refusal is listed.
    #[error("phase change refused: {}", .0.iter().map(|r| format!("{} ({})", r.guard, r.reason)).collect::<Vec<_>>().join("; "))]
    TransitionRefused(Vec<GuardRefusal>),
    /// The record's state does not allow the change (an alert already acknowledged or closed,
    /// a post-mortem outside phase post_incident): the message says which state it is in and
    /// what can be done. Nothing in the request is malformed.
    #[error("{0}")]
    Conflict(String),
    /// A timestamp would be out of order with another one; correct whichever is wrong.
    #[error("timestamps out of order: {earlier} must not be after {later}; correct one of them")]
    TimestampOrder {
        /// The milestone that must come first.
        earlier: TimestampKind,
        /// The milestone that must come later.
        later: TimestampKind,
    },
}

impl DomainError {
    /// Shorthand for [`DomainError::InvalidField`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        DomainError::InvalidField {
            field,
            reason: reason.into(),
        }
    }

    /// The field at fault, when the error is about one field.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            DomainError::InvalidField { field, .. } => Some(field),
            _ => None,
        }
    }
}
