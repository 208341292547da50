//! The parts of a local stack: one long-running service each.

use std::fmt;

/// One service of the local stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// Podman's REST API service on a unix socket (the container runtime).
    Podman,
    /// Caddy with only its admin API listening (the proxy).
    Caddy,
    /// The PowerDNS authoritative server with its SQLite backend and HTTP API (the DNS).
    #[serde(rename = "powerdns")]
    PowerDns,
    /// The OCI registry (distribution, Debian's `docker-registry`) over plain HTTP.
    Registry,
}

impl Part {
    /// Every part, in the order the stack starts them.
    pub const ALL: [Part; 4] = [Part::Podman, Part::Caddy, Part::PowerDns, Part::Registry];

    /// The part's stable lowercase name, as used in file names, errors and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Podman => "podman",
            Part::Caddy => "caddy",
            Part::PowerDns => "powerdns",
            Part::Registry => "registry",
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_their_serde_form() {
        for part in Part::ALL {
            assert_eq!(serde_json::to_string(&part).unwrap(), format!("\"{part}\""));
        }
    }
}
