//! Names of things codeb manages: projects, servers, releases, containers and volumes.

use super::string_newtype;
use super::validation::{ValidationError, check_dns_label};

/// Project names that would collide with the platform's own components.
pub const RESERVED_PROJECT_NAMES: &[&str] =
    &["codeb", "caddy", "podman", "pdns", "powerdns", "sshd", "systemd", "root", "localhost"];

/// The name of a project: one lowercase DNS label that starts with a letter.
///
/// It becomes part of container names, hostnames and file names, so it is
/// held to the strictest rules: `a-z 0-9 -`, 1-63 characters, no trailing
/// `-`, no `--` at positions 3-4 (reserved for punycode `xn--`), and not one
/// of [`RESERVED_PROJECT_NAMES`].
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProjectName(String);

impl ProjectName {
    /// Validates `s` as a project name.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        const FIELD: &str = "project name";
        check_dns_label(FIELD, s, s, true)?;
        if s.get(2..4) == Some("--") {
            return Err(ValidationError::new(FIELD, s, "must not have '--' at positions 3-4"));
        }
        if RESERVED_PROJECT_NAMES.contains(&s) {
            return Err(ValidationError::new(FIELD, s, "is reserved for the platform"));
        }
        Ok(ProjectName(s.to_owned()))
    }
}
string_newtype!(ProjectName);

/// The name of a server in the SSOT (`app`, `streaming`, `storage`, ...): a DNS label that starts with a letter.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerName(String);

impl ServerName {
    /// Validates `s` as a server name.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        check_dns_label("server name", s, s, true)?;
        Ok(ServerName(s.to_owned()))
    }

    /// The server that runs everything when no other is configured.
    pub fn local() -> Self {
        ServerName("local".to_owned())
    }
}
string_newtype!(ServerName);

/// The id of a release within one environment: a lowercase DNS label (for example `v12`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReleaseId(String);

impl ReleaseId {
    /// Validates `s` as a release id.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        check_dns_label("release id", s, s, false)?;
        Ok(ReleaseId(s.to_owned()))
    }
}
string_newtype!(ReleaseId);

/// Checks the Podman object name rule `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 128 characters.
fn check_object_name(field: &'static str, s: &str) -> Result<(), ValidationError> {
    let err = |rule: &str| Err(ValidationError::new(field, s, rule));
    match s.chars().next() {
        None => return err("must not be empty"),
        Some(c) if !c.is_ascii_alphanumeric() => return err("must start with a letter or digit"),
        Some(_) => {}
    }
    if s.len() > 128 {
        return err("is at most 128 characters");
    }
    if !s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        return err("may contain only letters, digits, '_', '.' and '-'");
    }
    Ok(())
}

/// Declares a runtime object name type validated by [`check_object_name`].
macro_rules! object_name {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("Validates `s` as a ", $field, ".")]
            pub fn parse(s: &str) -> Result<Self, ValidationError> {
                check_object_name($field, s)?;
                Ok($name(s.to_owned()))
            }
        }
        string_newtype!($name);
    };
}

object_name!(
    /// The name of a container, as the container runtime knows it.
    ContainerName,
    "container name"
);
object_name!(
    /// The name of a volume, as the container runtime knows it.
    VolumeName,
    "volume name"
);
object_name!(
    /// The name of a network, as the container runtime knows it.
    NetworkName,
    "network name"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_follow_dns_label_rules() {
        for ok in ["a", "shop", "my-app", "app2", &"a".repeat(63)] {
            assert!(ProjectName::parse(ok).is_ok(), "{ok} should be accepted");
        }
        for (bad, rule) in [
            ("", "empty"),
            ("2app", "start with a letter"),
            ("app-", "end with '-'"),
            ("xn--app", "positions 3-4"),
            ("codeb", "reserved"),
            ("My-App", "lowercase"),
            ("my_app", "only a-z"),
        ] {
            let e = ProjectName::parse(bad).unwrap_err();
            assert!(e.rule().contains(rule), "{bad}: {e}");
            assert_eq!(e.field(), "project name");
        }
        assert!(ProjectName::parse(&"a".repeat(64)).is_err());
    }

    #[test]
    fn serde_revalidates_on_load() {
        let ok: ProjectName = serde_json::from_str("\"shop\"").unwrap();
        assert_eq!(ok.as_str(), "shop");
        let err = serde_json::from_str::<ProjectName>("\"rm -rf\"").unwrap_err();
        assert!(err.to_string().contains("invalid project name"), "{err}");
    }

    #[test]
    fn object_names_allow_dots_and_underscores_but_not_separators() {
        assert!(ContainerName::parse("codeb-shop-staging-v1").is_ok());
        assert!(VolumeName::parse("codeb_shop.pg").is_ok());
        assert!(ContainerName::parse("-x").is_err());
        assert!(VolumeName::parse("a/b").is_err());
        assert!(VolumeName::parse("../etc").is_err());
    }
}
