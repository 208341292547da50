//! The roles a server of the fleet can have.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// What a server is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs app releases and their accessories.
    App,
    /// Runs the reverse proxy (Caddy) that routes domains to releases.
    Proxy,
    /// Runs the authoritative DNS server (PowerDNS).
    Dns,
    /// Keeps the SSOT, the secrets and the deploy locks.
    Control,
    /// Holds file storage.
    Storage,
    /// Receives backups.
    Backup,
    /// Runs streaming services.
    Streaming,
    /// Builds images.
    Build,
}

impl Role {
    /// Every role, in a stable order.
    pub const ALL: [Role; 8] =
        [Role::App, Role::Proxy, Role::Dns, Role::Control, Role::Storage, Role::Backup, Role::Streaming, Role::Build];

    /// The role's stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::App => "app",
            Role::Proxy => "proxy",
            Role::Dns => "dns",
            Role::Control => "control",
            Role::Storage => "storage",
            Role::Backup => "backup",
            Role::Streaming => "streaming",
            Role::Build => "build",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
            Error::invalid(format!("unknown server role {s:?}: must be one of {}", names.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn roles_read_and_print_by_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        let err = "database".parse::<Role>().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert!(err.message().contains("app, proxy"), "{err}");
    }
}
