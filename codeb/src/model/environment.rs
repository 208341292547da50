//! Deployment environments: staging, production and previews.

use std::fmt;
use std::str::FromStr;

use super::validation::{ValidationError, check_dns_label};

/// Longest preview id, so `preview-<id>` stays short inside container names and hostnames.
const MAX_PREVIEW_ID: usize = 20;

/// One environment of a project.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Environment {
    /// The pre-production environment.
    Staging,
    /// The environment users see.
    Production,
    /// A short-lived preview (for example of a pull request), named `preview-<id>`.
    Preview(PreviewId),
}

/// The id of a preview environment: a lowercase DNS label of at most 20 characters (`pr-42`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PreviewId(String);

impl PreviewId {
    /// Validates `s` as a preview id.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        check_preview_id("preview id", s, s)?;
        Ok(PreviewId(s.to_owned()))
    }
}

fn check_preview_id(field: &'static str, whole: &str, id: &str) -> Result<(), ValidationError> {
    check_dns_label(field, whole, id, false)?;
    if id.len() > MAX_PREVIEW_ID {
        return Err(ValidationError::new(field, whole, "a preview id is at most 20 characters"));
    }
    Ok(())
}
super::string_newtype!(PreviewId);

/// The kind of an environment, which decides its port ranges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EnvironmentKind {
    /// See [`Environment::Staging`].
    Staging,
    /// See [`Environment::Production`].
    Production,
    /// See [`Environment::Preview`].
    Preview,
}

impl Environment {
    /// Validates `s` as `staging`, `production` or `preview-<id>` (id: a lowercase DNS label of at most 20 characters).
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        const FIELD: &str = "environment";
        match s {
            "staging" => Ok(Environment::Staging),
            "production" => Ok(Environment::Production),
            _ => {
                let Some(id) = s.strip_prefix("preview-") else {
                    return Err(ValidationError::new(FIELD, s, "must be staging, production or preview-<id>"));
                };
                check_dns_label(FIELD, s, id, false)?;
                if id.len() > MAX_PREVIEW_ID {
                    return Err(ValidationError::new(FIELD, s, "a preview id is at most 20 characters"));
                }
                Ok(Environment::Preview(PreviewId(id.to_owned())))
            }
        }
    }

    /// A preview environment with the given id (validated like [`Environment::parse`]).
    pub fn preview(id: &str) -> Result<Self, ValidationError> {
        PreviewId::parse(id).map(Environment::Preview)
    }

    /// The kind of this environment.
    pub fn kind(&self) -> EnvironmentKind {
        match self {
            Environment::Staging => EnvironmentKind::Staging,
            Environment::Production => EnvironmentKind::Production,
            Environment::Preview(_) => EnvironmentKind::Preview,
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Environment::Staging => f.write_str("staging"),
            Environment::Production => f.write_str("production"),
            Environment::Preview(id) => write!(f, "preview-{id}"),
        }
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Environment({self})")
    }
}

impl FromStr for Environment {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Environment::parse(s)
    }
}

super::string_schema!(Environment);

impl serde::Serialize for Environment {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Environment {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        Environment::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for EnvironmentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EnvironmentKind::Staging => "staging",
            EnvironmentKind::Production => "production",
            EnvironmentKind::Preview => "preview",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_kinds_and_round_trips() {
        for s in ["staging", "production", "preview-pr-42", "preview-7"] {
            let env = Environment::parse(s).unwrap();
            assert_eq!(env.to_string(), s);
        }
        assert_eq!(Environment::parse("preview-x").unwrap().kind(), EnvironmentKind::Preview);
    }

    #[test]
    fn rejects_other_names_and_bad_preview_ids() {
        for bad in [
            "prod",
            "Staging",
            "preview-",
            "preview-Pr1",
            "preview-a_b",
            "preview-abc-",
            "preview-123456789012345678901",
        ] {
            assert!(Environment::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn works_as_a_json_map_key() {
        let mut map = std::collections::BTreeMap::new();
        map.insert(Environment::Production, 1);
        map.insert(Environment::preview("a1").unwrap(), 2);
        let json = serde_json::to_string(&map).unwrap();
        assert_eq!(json, r#"{"production":1,"preview-a1":2}"#);
        let back: std::collections::BTreeMap<Environment, i32> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, map);
    }
}
