//! `wire_enum!`: closed sets of values with a stable wire name, `ALL`, `as_str`, `Display` and a
//! case-insensitive `FromStr` whose error names the field. `short_key!`: the sequential keys
//! people say aloud (`INC-42`, `FND-3`).
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

/// A short sequential key people say aloud, `PREFIX-<n>` with n ≥ 1: parsed in any case with
/// the spaces around it ignored, displayed and sent over the wire in upper case. `$what` names
/// it in a refusal ("an incident key"), `$noun` in the refusal of 0, `$example` shows one (a
/// `tt`, for the reason `wire_enum!` takes its wire names so).
macro_rules! short_key {
    ($(#[$m:meta])* $name:ident, $prefix:literal, $noun:literal, $what:literal, $example:tt) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(value_type = String, example = $example))]
        pub struct $name(u64);

        impl $name {
            /// The key with number `n`; `n` must be at least 1.
            pub fn new(n: u64) -> Result<Self, $crate::error::DomainError> {
                if n == 0 {
                    return Err($crate::error::DomainError::invalid(
                        "key",
                        concat!($noun, " numbers start at 1 (", $prefix, "-1)"),
                    ));
                }
                Ok($name(n))
            }

            /// The number after the prefix.
            pub fn number(&self) -> u64 {
                self.0
            }

            /// Parses the key (any case, surrounding spaces ignored).
            pub fn parse(s: &str) -> Result<Self, $crate::error::DomainError> {
                let bad = || {
                    $crate::error::DomainError::invalid(
                        "key",
                        format!(concat!("{:?} is not ", $what, "; write it like ", $example), s),
                    )
                };
                let prefix = concat!($prefix, "-");
                let t = s.trim();
                let (Some(head), Some(digits)) = (t.get(..prefix.len()), t.get(prefix.len()..))
                else {
                    return Err(bad());
                };
                if !head.eq_ignore_ascii_case(prefix)
                    || digits.is_empty()
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(bad());
                }
                let n: u64 = digits.parse().map_err(|_| bad())?;
                Self::new(n).map_err(|_| bad())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!($prefix, "-{}"), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::error::DomainError;
            fn from_str(s: &str) -> Result<Self, $crate::error::DomainError> {
                Self::parse(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = $crate::error::DomainError;
            fn try_from(s: &str) -> Result<Self, $crate::error::DomainError> {
                Self::parse(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
