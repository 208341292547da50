//! How codeb reaches Caddy and which part of Caddy's configuration it owns.

use std::time::Duration;

use codeb::config::Section;
use codeb::proxy::TlsPolicy;
use codeb::{Error, Result};

/// The HTTP server name codeb owns when none is given.
pub const DEFAULT_SERVER: &str = "codeb";

/// How long one admin request may take when no timeout is given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where Caddy's admin API is and how codeb's HTTP server in it looks.
///
/// codeb owns one HTTP server of Caddy's `http` app (named [`server`](Self::server),
/// `codeb` by default): it creates that server when it is missing and keeps its
/// routes, one per host. Everything else in Caddy's configuration is left as
/// it is. Built with [`CaddyConfig::new`] and `with_*` setters; checked when a
/// [`CaddyProxy`](super::CaddyProxy) is built from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaddyConfig {
    /// Base URL of the admin API, e.g. `http://127.0.0.1:2019`: plain HTTP to
    /// an IP address (or `localhost`) as Caddy's server sees it, since it is
    /// reached through that server's transport.
    pub admin: String,
    /// Name of the HTTP server codeb owns (`A-Z a-z 0-9 _ -`, at most 64 characters).
    pub server: String,
    /// Addresses that server listens on when codeb creates it, e.g. `[":443"]` or `["127.0.0.1:8080"]`.
    pub listen: Vec<String>,
    /// ACME account email for routes whose [`TlsPolicy::Acme`](codeb::proxy::TlsPolicy::Acme) names none.
    pub acme_email: Option<String>,
    /// Whether the server manages certificates (Caddy's automatic HTTPS).
    ///
    /// `false` makes a plain-HTTP server (behind another TLS terminator, or in
    /// tests): every route is served without TLS and a route asking for TLS is
    /// refused.
    pub automatic_https: bool,
    /// Whether Caddy answers plain HTTP for TLS hosts with a redirect to HTTPS
    /// (it then listens on the HTTP port, 80 unless Caddy is told otherwise).
    pub http_redirects: bool,
    /// Whether Caddy may install its internal CA's root into this machine's
    /// trust store when codeb first sets up the internal issuer (Caddy's own default is yes).
    pub trust_internal_ca: bool,
    /// How long one admin request may take.
    pub timeout: Duration,
    /// The DNS server (`IP:port`, codeb's PowerDNS as Caddy reaches it)
    /// that routes discovered from an SRV record ask; without one, such a
    /// route is refused.
    pub resolver: Option<String>,
}

/// The `[caddy]` section as written (the SDK takes `tls` and `acme_email`, its route policy).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCaddy {
    admin: String,
    listen: Vec<String>,
    resolver: Option<String>,
}

impl CaddyConfig {
    /// The configuration of the platform file's `[caddy]` section (`admin`,
    /// `listen`, `resolver`), with Caddy's certificate automation following the route
    /// policy `tls`: off when routes have no TLS, an ACME account email when one is given.
    pub fn from_section(section: &Section, tls: &TlsPolicy) -> Result<Self> {
        let raw: RawCaddy = section.parse()?;
        let mut config = CaddyConfig::new(raw.admin).with_listen(raw.listen);
        config.resolver = raw.resolver;
        Ok(match tls {
            TlsPolicy::Off => config.with_automatic_https(false),
            TlsPolicy::Acme { email: Some(email) } => config.with_acme_email(email),
            TlsPolicy::Acme { email: None } | TlsPolicy::Internal => config,
        })
    }

    /// A configuration for the admin API at `admin`, with server `codeb`
    /// listening on `:443`, automatic HTTPS with redirects, and no ACME email.
    pub fn new(admin: impl Into<String>) -> Self {
        CaddyConfig {
            admin: admin.into(),
            server: DEFAULT_SERVER.to_owned(),
            listen: vec![":443".to_owned()],
            acme_email: None,
            automatic_https: true,
            http_redirects: true,
            trust_internal_ca: false,
            timeout: DEFAULT_TIMEOUT,
            resolver: None,
        }
    }

    /// Names the DNS server (`IP:port`) that routes discovered from DNS ask.
    pub fn with_resolver(mut self, resolver: impl Into<String>) -> Self {
        self.resolver = Some(resolver.into());
        self
    }

    /// Names the HTTP server codeb owns.
    pub fn with_server(mut self, server: impl Into<String>) -> Self {
        self.server = server.into();
        self
    }

    /// Sets the addresses the server listens on when codeb creates it.
    pub fn with_listen<I, S>(mut self, listen: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.listen = listen.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the ACME account email used when a route names none.
    pub fn with_acme_email(mut self, email: impl Into<String>) -> Self {
        self.acme_email = Some(email.into());
        self
    }

    /// Turns Caddy's automatic HTTPS for codeb's server on or off.
    pub fn with_automatic_https(mut self, on: bool) -> Self {
        self.automatic_https = on;
        self
    }

    /// Turns the automatic HTTP-to-HTTPS redirects on or off.
    pub fn with_http_redirects(mut self, on: bool) -> Self {
        self.http_redirects = on;
        self
    }

    /// Lets Caddy install its internal CA's root into the system trust store.
    pub fn with_trust_internal_ca(mut self, on: bool) -> Self {
        self.trust_internal_ca = on;
        self
    }

    /// Sets how long one admin request may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks the fields that reach URLs and Caddy's configuration.
    pub(crate) fn check(&self) -> Result<()> {
        let invalid = |msg: &str| Error::invalid(msg).with_context("backend", "caddy");
        let server_ok = !self.server.is_empty()
            && self.server.len() <= 64
            && self.server.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !server_ok {
            return Err(invalid("the server name must be 1-64 characters of A-Z a-z 0-9 _ -")
                .with_context("server", &self.server));
        }
        if self.listen.is_empty() {
            return Err(invalid("the server needs at least one listen address"));
        }
        if let Some(bad) =
            self.listen.iter().find(|a| a.is_empty() || a.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(
                invalid("a listen address must be non-empty without spaces").with_context("listen", bad.escape_debug())
            );
        }
        if self.timeout.is_zero() {
            return Err(invalid("the timeout must be positive"));
        }
        if let Some(resolver) = self.resolver.as_deref().filter(|r| r.parse::<std::net::SocketAddr>().is_err()) {
            return Err(invalid("the resolver must be an IP address and port, such as 127.0.0.1:53")
                .with_context("resolver", resolver.escape_debug()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use codeb::ErrorKind;

    #[test]
    fn the_builder_sets_every_field() {
        let config = CaddyConfig::new("http://127.0.0.1:2019")
            .with_server("edge")
            .with_listen(["127.0.0.1:8080"])
            .with_acme_email("ops@example.com")
            .with_automatic_https(false)
            .with_http_redirects(false)
            .with_trust_internal_ca(true)
            .with_timeout(Duration::from_secs(2))
            .with_resolver("127.0.0.1:5300");
        assert_eq!(config.server, "edge");
        assert_eq!(config.resolver.as_deref(), Some("127.0.0.1:5300"));
        assert_eq!(config.listen, ["127.0.0.1:8080"]);
        assert_eq!(config.acme_email.as_deref(), Some("ops@example.com"));
        assert!(!config.automatic_https && !config.http_redirects && config.trust_internal_ca);
        assert_eq!(config.timeout, Duration::from_secs(2));
        config.check().unwrap();
    }

    #[test]
    fn server_names_that_could_break_a_path_are_refused() {
        for bad in ["", "a/b", "a b", "..", "a.b", &"x".repeat(65)] {
            let err = CaddyConfig::new("http://h").with_server(bad).check().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{bad:?}");
        }
    }

    #[test]
    fn a_resolver_must_be_an_address_and_port() {
        for bad in ["pdns.internal:53", "127.0.0.1", "127.0.0.1:53 ", ""] {
            let err = CaddyConfig::new("http://h").with_resolver(bad).check().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{bad:?}");
        }
    }

    #[test]
    fn a_server_needs_a_listen_address() {
        let none: [&str; 0] = [];
        assert_eq!(CaddyConfig::new("http://h").with_listen(none).check().unwrap_err().kind(), ErrorKind::Invalid);
        assert_eq!(CaddyConfig::new("http://h").with_listen([" :80"]).check().unwrap_err().kind(), ErrorKind::Invalid);
    }
}
