//! `wire_enum!`: closed sets of values with a stable wire name, `ALL`, `as_str`, `Display` and a
//! case-insensitive `FromStr` whose error names the field.
//!
//! The wire name is taken as a `tt`, not a `literal`: a `literal` fragment reaches derive macros
//! wrapped in an invisible group, which serde unwraps but utoipa does not, so the OpenAPI schema
//! listed the Rust variant names (`PostIncident`) instead of the wire names (`post_incident`).

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident ($field:literal) { $($(#[$vm:meta])* $variant:ident = $wire:tt),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable wire name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// Parses the wire name, ignoring case and surrounding spaces; `-` and `+` are read as `_`.
            pub fn parse(s: &str) -> Result<Self, $crate::error::DomainError> {
                let t = s.trim().replace(['-', '+'], "_");
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(&t))
                    .ok_or_else(|| $crate::error::DomainError::invalid($field, format!(
                        "{s:?} is not known; use one of {}",
                        $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                    )))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::error::DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }
    };
}
