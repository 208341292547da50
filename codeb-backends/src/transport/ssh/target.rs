//! Where an SSH server is: `user@host[:port]`, validated before any connection.

use std::fmt;
use std::net::IpAddr;

use codeb::{Error, Result};

/// A login on an SSH server: the user, the host (a DNS name or an IP
/// address) and the port (22 unless given).
///
/// Parsing refuses what could turn into an option or a second command in
/// any tool the target is handed to: a user that starts with `-`, a host
/// with spaces, a port of 0 or past 65535.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SshTarget {
    user: String,
    host: String,
    port: u16,
}

/// The port an SSH server listens on when the target names none.
pub const DEFAULT_PORT: u16 = 22;

impl SshTarget {
    /// Parses `user@host`, `user@host:port` or `user@[v6-address]:port`.
    pub fn parse(text: &str) -> Result<Self> {
        let refuse = |why: &str| {
            Error::invalid(format!("ssh target {:?} {why}", codeb::model::escape_controls(text)))
                .with_context("field", "ssh")
        };
        let (user, rest) = text.split_once('@').ok_or_else(|| refuse("is not user@host[:port]"))?;
        let (host, port) = split_port(rest).ok_or_else(|| refuse("has a port that is not 1-65535"))?;
        if !valid_user(user) {
            return Err(refuse("has a user that is not 1-32 letters, digits, '.', '_' or '-' (not first)"));
        }
        if !valid_host(host) {
            return Err(refuse("has a host that is neither a DNS name nor an IP address"));
        }
        Ok(SshTarget { user: user.to_owned(), host: host.to_owned(), port })
    }

    /// The user to log in as.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The host: a DNS name or an IP address (without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for SshTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => write!(f, "{}@[{}]:{}", self.user, self.host, self.port),
            _ => write!(f, "{}@{}:{}", self.user, self.host, self.port),
        }
    }
}

/// `host[:port]` or `[v6]:port` into the host and the port; `None` for a bad port.
fn split_port(rest: &str) -> Option<(&str, u16)> {
    // Only the digits of 1-65535 as written: no sign, no leading zero.
    let parse_port = |p: &str| p.parse::<u16>().ok().filter(|n| *n != 0 && n.to_string() == p);
    if let Some(bracketed) = rest.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(port) => Some((host, parse_port(port)?)),
            None if after.is_empty() => Some((host, DEFAULT_PORT)),
            None => None,
        };
    }
    match rest.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host, parse_port(port)?)),
        // A bare IPv6 address has colons and no port.
        Some(_) => Some((rest, DEFAULT_PORT)),
        None => Some((rest, DEFAULT_PORT)),
    }
}

fn valid_user(user: &str) -> bool {
    (1..=32).contains(&user.len())
        && !user.starts_with('-')
        && user.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn valid_host(host: &str) -> bool {
    if host.parse::<IpAddr>().is_ok() {
        return true;
    }
    let label = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    host.len() <= 253 && host.split('.').all(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_user_at_host_with_an_optional_port() {
        let t = SshTarget::parse("deploy@app1.example.com:2222").unwrap();
        assert_eq!((t.user(), t.host(), t.port()), ("deploy", "app1.example.com", 2222));
        assert_eq!(SshTarget::parse("root@10.0.0.5").unwrap().port(), DEFAULT_PORT);
        let v6 = SshTarget::parse("ops@[fd00::1]:2200").unwrap();
        assert_eq!((v6.host(), v6.port()), ("fd00::1", 2200));
        assert_eq!(v6.to_string(), "ops@[fd00::1]:2200");
        assert_eq!(SshTarget::parse("ops@fd00::1").unwrap().host(), "fd00::1");
    }

    #[test]
    fn hostile_or_malformed_targets_are_refused_naming_the_field() {
        for bad in [
            "-oProxyCommand=touch /tmp/x@host",
            "deploy@host with spaces",
            "deploy@host:0",
            "deploy@host:70000",
            "deploy@host:+22",
            "deploy@host:022",
            "deploy@",
            "host-only",
            "@host",
            "de ploy@host",
            "deploy@-host",
            "deploy@host;rm",
            "deploy@[fd00::1]x",
            "deploy@ho\u{1b}st",
        ] {
            let err = SshTarget::parse(bad).unwrap_err();
            assert_eq!(err.kind(), codeb::ErrorKind::Invalid, "{bad}");
            assert_eq!(err.context_value("field"), Some("ssh"), "{bad}");
            assert!(!err.to_string().contains('\u{1b}'), "{err}");
        }
    }
}
