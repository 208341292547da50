//! Validated domain types, constructed once at the edge of the SDK.
//!
//! Every name, domain, key, value and reference that reaches a backend (a
//! container name, a Caddy route, a DNS record, a unit file) has passed through
//! one of these types. A rejection is a [`ValidationError`] naming the field,
//! the offending value (escaped, so a hostile value cannot forge output) and
//! the rule it broke. Serde re-validates on load, so a hand-edited state file
//! cannot smuggle in what the constructors refuse.

mod command;
mod domain;
mod env_var;
mod environment;
pub(crate) mod health;
mod image;
mod names;
mod port;
mod role;
mod step;
mod validation;

pub use command::{check_command, check_release_command};
pub use domain::DomainName;
pub use env_var::{EnvKey, EnvValue, EnvVar, MASK};
pub use environment::{Environment, EnvironmentKind, PreviewId};
pub use health::{HealthCheck, HealthPath};
pub use image::ImageRef;
pub use names::{ContainerName, NetworkName, ProjectName, RESERVED_PROJECT_NAMES, ReleaseId, ServerName, VolumeName};
pub use port::{Port, PortRange, Service};
pub use role::Role;
pub use step::Step;
pub use validation::{ValidationError, escape_controls};

/// Implements `Display`, `FromStr`, `AsRef<str>`, `TryFrom<String>`, `From<T> for String`
/// and re-validating serde for a `struct T(String)` newtype whose `parse` validates.
macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The validated value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::model::ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::model::ValidationError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                $name::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        $crate::model::string_schema!($name);
    };
}
pub(crate) use string_newtype;

/// A JSON schema for a validated string type: a string (the SDK checks its rule).
macro_rules! string_schema {
    ($name:ident) => {
        #[cfg(feature = "schemars")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string" })
            }
        }
    };
}
pub(crate) use string_schema;

#[cfg(test)]
mod hostile_values_tests;
