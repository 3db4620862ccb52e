//! Roles of API tokens and what each may do.
//!
//! | role      | send events | read incidents, evidence, actions, events | write incidents (create, update, phases, indicators, evidence, actions, links) | tokens and audit trail |
//! |-----------|-----|-----|-----|-----|
//! | ingest    | yes | no  | no  | no  |
//! | viewer    | no  | yes | no  | no  |
//! | responder | yes | yes | yes | no  |
//! | admin     | yes | yes | yes | yes |
//!
//! An ingest token is for a log sender: it can only write events, and may be bound to one
//! service and tenant so a sender cannot write as another.

wire_enum!(
    /// The role of an API token.
    Role ("role") {
        /// Sends events to the log store and nothing else; below every other role.
        Ingest = "ingest",
        /// Reads incidents, their evidence and action logs; changes nothing.
        Viewer = "viewer",
        /// Everything a viewer does, and opens and works incidents.
        Responder = "responder",
        /// Everything a responder does, and manages tokens and reads and verifies the audit trail.
        Admin = "admin",
    }
);

/// A kind of operation a role may be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Send events to the log store.
    SendEvents,
    /// Read incidents and everything attached to them, and the log store.
    Read,
    /// Create or change incidents and everything attached to them.
    Write,
    /// Manage tokens; read and verify the audit trail.
    Admin,
}

impl Role {
    /// Whether this role may perform operations needing `p`.
    pub fn allows(self, p: Permission) -> bool {
        match p {
            Permission::SendEvents => self != Role::Viewer,
            Permission::Read => self != Role::Ingest,
            Permission::Write => matches!(self, Role::Responder | Role::Admin),
            Permission::Admin => self == Role::Admin,
        }
    }
}

/// An API token as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    /// Its id (for revocation).
    pub id: uuid::Uuid,
    /// Who or what it is for; the actor of its writes.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// For an ingest token: the only service it may send events as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// For an ingest token: the only tenant it may send events for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// A newly created token: the only time its secret is available (only its hash is stored).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    /// The token's record.
    pub info: TokenInfo,
    /// The secret to send as `Authorization: Bearer …`; shown once.
    pub token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_by_role() {
        assert!(Role::Viewer.allows(Permission::Read));
        assert!(!Role::Viewer.allows(Permission::SendEvents));
        assert!(Role::Ingest.allows(Permission::SendEvents));
        assert!(!Role::Ingest.allows(Permission::Read));
        assert!(Role::Ingest < Role::Viewer);
        assert!(!Role::Viewer.allows(Permission::Write));
        assert!(Role::Responder.allows(Permission::Write));
        assert!(!Role::Responder.allows(Permission::Admin));
        assert!(Role::Admin.allows(Permission::Admin));
        assert_eq!(Role::parse("ADMIN").unwrap(), Role::Admin);
        assert_eq!(Role::parse("root").unwrap_err().field(), Some("role"));
    }
}
