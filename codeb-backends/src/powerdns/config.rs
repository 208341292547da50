//! How codeb reaches PowerDNS and what it writes into new zones.

use std::fmt;
use std::time::Duration;

use codeb::config::{KeySource, Section};
use codeb::model::DomainName;
use codeb::{Error, Result};

use crate::keys::read_key;

/// The PowerDNS server id when none is given.
pub const DEFAULT_SERVER_ID: &str = "localhost";

/// The TTL of the NS records of a new zone when none is given (one hour).
pub const DEFAULT_TTL: u32 = 3600;

/// How long one API request may take when no timeout is given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the PowerDNS HTTP API is, the key it wants, and how new zones look.
///
/// The API key is kept private: it is sent in the `X-API-Key` header and
/// nowhere else, and `Debug` shows `<redacted>` in its place.
#[derive(Clone)]
pub struct PowerDnsConfig {
    /// Base URL of the PowerDNS webserver, e.g. `http://127.0.0.1:8081`
    /// (the backend appends `/api/v1/...`): plain HTTP to an IP address (or
    /// `localhost`) as PowerDNS's server sees it, since it is reached through
    /// that server's transport.
    pub api: String,
    api_key: String,
    /// The server id in API paths (`localhost` unless PowerDNS is told otherwise).
    pub server_id: String,
    /// The NS records of zones codeb creates, the first also the SOA's
    /// primary; when empty, `ns1` and `ns2` of each zone (`ns1.<zone>`, as the seed's `ns1.one-q.xyz`).
    pub nameservers: Vec<DomainName>,
    /// The SOA contact of zones codeb creates (`hostmaster.example.com` for
    /// `hostmaster@example.com`); when unset, `hostmaster.<zone>`.
    pub hostmaster: Option<DomainName>,
    /// The TTL of those NS records, in seconds.
    pub default_ttl: u32,
    /// How long one API request may take.
    pub timeout: Duration,
}

/// The `[powerdns]` section as written (the SDK takes `zone`, the zone it manages).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPowerDns {
    api: String,
    api_key_file: Option<std::path::PathBuf>,
    api_key_env: Option<String>,
    #[serde(default)]
    nameservers: Vec<String>,
    hostmaster: Option<String>,
}

impl PowerDnsConfig {
    /// The configuration of the platform file's `[powerdns]` section (`api`,
    /// and `api_key_file` or `api_key_env`, whose key is read now; optional
    /// `nameservers` and `hostmaster` of the zones it creates).
    pub fn from_section(section: &Section) -> Result<Self> {
        let raw: RawPowerDns = section.parse()?;
        let source = KeySource::from_keys("powerdns.api_key", raw.api_key_file, raw.api_key_env)?;
        let nameservers = raw.nameservers.iter().map(|ns| DomainName::parse(ns)).collect::<Result<Vec<_>, _>>()?;
        let hostmaster = raw.hostmaster.as_deref().map(DomainName::parse).transpose()?;
        let config = PowerDnsConfig::new(raw.api, read_key("PowerDNS API key", &source)?).with_nameservers(nameservers);
        Ok(PowerDnsConfig { hostmaster, ..config })
    }

    /// The name servers and SOA contact a new `zone` gets: the configured
    /// ones, else `ns1.<zone>`, `ns2.<zone>` and `hostmaster.<zone>`.
    pub fn authority(&self, zone: &DomainName) -> Result<(Vec<DomainName>, DomainName)> {
        let own = |label: &str| DomainName::parse(&format!("{label}.{zone}"));
        let nameservers = match self.nameservers.is_empty() {
            true => vec![own("ns1")?, own("ns2")?],
            false => self.nameservers.clone(),
        };
        let hostmaster = match &self.hostmaster {
            Some(hostmaster) => hostmaster.clone(),
            None => own("hostmaster")?,
        };
        Ok((nameservers, hostmaster))
    }

    /// A configuration for the API at `api` with `api_key`, server id
    /// `localhost`, no nameservers and a one-hour NS TTL.
    pub fn new(api: impl Into<String>, api_key: impl Into<String>) -> Self {
        PowerDnsConfig {
            api: api.into(),
            api_key: api_key.into(),
            server_id: DEFAULT_SERVER_ID.to_owned(),
            nameservers: Vec::new(),
            hostmaster: None,
            default_ttl: DEFAULT_TTL,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets the server id used in API paths.
    pub fn with_server_id(mut self, server_id: impl Into<String>) -> Self {
        self.server_id = server_id.into();
        self
    }

    /// Sets the NS records of zones codeb creates.
    pub fn with_nameservers(mut self, nameservers: impl IntoIterator<Item = DomainName>) -> Self {
        self.nameservers = nameservers.into_iter().collect();
        self
    }

    /// Sets the TTL of those NS records.
    pub fn with_default_ttl(mut self, ttl: u32) -> Self {
        self.default_ttl = ttl;
        self
    }

    /// Sets how long one API request may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub(crate) fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Checks the fields that reach URLs and headers; never echoes the key.
    pub(crate) fn check(&self) -> Result<()> {
        let invalid = |msg: &str| Error::invalid(msg).with_context("backend", "powerdns");
        let id_ok = !self.server_id.is_empty()
            && self.server_id != "."
            && self.server_id != ".."
            && self.server_id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !id_ok {
            return Err(invalid("the server id must be A-Z a-z 0-9 . _ - (and not . or ..)")
                .with_context("server_id", self.server_id.escape_debug()));
        }
        if self.api_key.is_empty() || !self.api_key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(invalid("the API key must be non-empty printable ASCII without spaces"));
        }
        if self.timeout.is_zero() {
            return Err(invalid("the timeout must be positive"));
        }
        Ok(())
    }
}

impl fmt::Debug for PowerDnsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PowerDnsConfig")
            .field("api", &self.api)
            .field("api_key", &"<redacted>")
            .field("server_id", &self.server_id)
            .field("nameservers", &self.nameservers)
            .field("hostmaster", &self.hostmaster)
            .field("default_ttl", &self.default_ttl)
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use codeb::ErrorKind;

    const KEY: &str = "s3cret-Key-42";

    #[test]
    fn debug_never_shows_the_api_key() {
        let config = PowerDnsConfig::new("http://127.0.0.1:8081", KEY);
        let debug = format!("{config:?} {config:#?}");
        assert!(!debug.contains(KEY), "{debug}");
        assert!(debug.contains("<redacted>"));
    }

    #[test]
    fn the_builder_sets_every_field() {
        let ns = DomainName::parse("ns1.example.com").unwrap();
        let config = PowerDnsConfig::new("http://h", KEY)
            .with_server_id("other")
            .with_nameservers([ns.clone()])
            .with_default_ttl(60)
            .with_timeout(Duration::from_secs(1));
        assert_eq!((config.server_id.as_str(), config.default_ttl), ("other", 60));
        assert_eq!(config.nameservers, [ns]);
        assert_eq!(config.timeout, Duration::from_secs(1));
        config.check().unwrap();
    }

    /// The `[powerdns]` section of a platform file whose key file holds `KEY`, with `extra` lines.
    fn from_platform_file(extra: &str) -> Result<PowerDnsConfig> {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("pdns.key");
        std::fs::write(&key, KEY).unwrap();
        let text = format!(
            "[state]\npath = \"/s\"\n[secrets]\ndir = \"/d\"\nkey_env = \"K\"\n[podman]\nsocket = \"/p\"\n\
             [caddy]\nadmin = \"http://127.0.0.1:1\"\nlisten = []\n\
             [powerdns]\napi = \"http://127.0.0.1:2\"\napi_key_file = {:?}\n{extra}\n",
            key.display().to_string()
        );
        PowerDnsConfig::from_section(&codeb::config::PlatformConfig::parse(&text)?.powerdns)
    }

    #[test]
    fn a_zone_is_served_by_the_configured_name_servers_or_by_ns1_and_ns2_of_its_own() {
        let zone = DomainName::parse("one-q.xyz").unwrap();
        let names = |list: &[&str]| list.iter().map(|n| DomainName::parse(n).unwrap()).collect::<Vec<_>>();
        let (ns, contact) = from_platform_file("").unwrap().authority(&zone).unwrap();
        assert_eq!((ns, contact.as_str()), (names(&["ns1.one-q.xyz", "ns2.one-q.xyz"]), "hostmaster.one-q.xyz"));

        let configured = from_platform_file(
            "nameservers = [\"NS1.Example.NET.\", \"ns2.example.net\"]\nhostmaster = \"ops.example.net\"",
        );
        let (ns, contact) = configured.unwrap().authority(&zone).unwrap();
        assert_eq!((ns, contact.as_str()), (names(&["ns1.example.net", "ns2.example.net"]), "ops.example.net"));
        let bad = from_platform_file("nameservers = [\"not a name\"]").unwrap_err();
        assert_eq!(bad.kind(), ErrorKind::Invalid, "{bad}");
    }

    #[test]
    fn unusable_server_ids_and_keys_are_refused_without_echoing_the_key() {
        for id in ["", "..", "a/b", "a b"] {
            let err = PowerDnsConfig::new("http://h", KEY).with_server_id(id).check().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{id:?}");
        }
        let bad_key = "with space\nand newline";
        let err = PowerDnsConfig::new("http://h", bad_key).check().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert!(!format!("{err} {err:?}").contains("with space"));
    }
}
