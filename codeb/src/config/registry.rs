//! The `[registry]` section: the registry images built here are pushed to,
//! and every server pulls them from by digest.
//!
//! ```toml
//! [registry]
//! address = "registry.example.com:5000"   # as image references name it
//! tls = true                              # default; false (plain HTTP) only on loopback
//! username = "codeb"
//! password_file = "/var/lib/codeb/registry.password"   # or password_env; never inline
//! ```
//!
//! The SDK takes `address` and `tls`; the credentials stay in the section
//! for the container backend (`codeb_backends::PodmanConfig::with_registry`).

use std::net::IpAddr;

use crate::config::Section;
use crate::model::{ImageRef, ValidationError};
use crate::{Error, Result};

/// The registry built images go to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registry {
    /// Its host and port, as image references name it (`127.0.0.1:5000`).
    pub address: String,
    /// Whether it is reached over HTTPS (verified); plain HTTP only for a loopback address.
    pub tls: bool,
}

/// The `[registry]` section: the registry, and the rest of the section (its credentials) for the backend.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistrySection {
    /// The registry.
    pub registry: Registry,
    /// The section less `address` and `tls`: `username`, `password_file` or `password_env`.
    pub credentials: Section,
}

impl Registry {
    /// The registry at `address`, over TLS or not; refuses an address no
    /// image reference could name, and plain HTTP to anything but loopback.
    pub fn new(address: &str, tls: bool) -> Result<Self> {
        const FIELD: &str = "registry.address";
        let named = ImageRef::parse(&format!("{address}/codeb:probe")).ok();
        if address.is_empty() || named.as_ref().and_then(ImageRef::registry) != Some(address) {
            return Err(ValidationError::new(
                FIELD,
                address,
                "is a registry host with an optional port (127.0.0.1:5000)",
            )
            .into());
        }
        if !tls && !is_loopback(address) {
            let refused = ValidationError::new("registry.tls", "false", "is true unless the registry is on loopback");
            return Err(refused.with_hint("plain HTTP would send the registry's password in the clear").into());
        }
        Ok(Registry { address: address.to_owned(), tls })
    }

    /// `image` as this registry names it: its repository and tag under the
    /// registry's address (`localhost/shop:build-1` is `<address>/shop:build-1`).
    pub fn name_of(&self, image: &ImageRef) -> Result<ImageRef> {
        let tag = image.tag().map(|t| format!(":{t}")).unwrap_or_default();
        ImageRef::parse(&format!("{}/{}{tag}", self.address, image.repository())).map_err(Error::from)
    }

    /// Whether `image` is in this registry.
    pub fn holds(&self, image: &ImageRef) -> bool {
        image.registry() == Some(self.address.as_str())
    }
}

impl RegistrySection {
    /// The SDK's keys of `[registry]` taken out of `section`.
    pub(super) fn take(mut section: Section) -> Result<Self> {
        let address = section.take_str("address")?.ok_or_else(|| {
            Error::from(ValidationError::new("registry.address", "", "is given: the registry's host and port"))
        })?;
        let tls = section.take_as::<bool>("tls")?.unwrap_or(true);
        Ok(RegistrySection { registry: Registry::new(&address, tls)?, credentials: section })
    }
}

/// Whether the host of `address` (`host[:port]`) is a loopback address or `localhost`.
fn is_loopback(address: &str) -> bool {
    // Image references name no IPv6 address, so a colon starts the port.
    let host = address.split_once(':').map_or(address, |(host, _)| host);
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_what_an_image_reference_names_and_plain_http_stays_on_loopback() {
        assert!(Registry::new("registry.example.com:5000", true).is_ok());
        for loopback in ["127.0.0.1:5000", "localhost:5000", "127.0.0.2"] {
            assert!(Registry::new(loopback, false).is_ok(), "{loopback}");
        }
        let remote = Registry::new("10.0.0.5:5000", false).unwrap_err();
        assert_eq!(remote.context_value("field"), Some("registry.tls"), "{remote}");
        for bad in ["", "registry.example.com/team", "a b"] {
            let err = Registry::new(bad, true).unwrap_err();
            assert_eq!(err.context_value("field"), Some("registry.address"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn an_image_built_here_is_named_under_the_registry() {
        let registry = Registry::new("127.0.0.1:5000", false).unwrap();
        let built = ImageRef::parse("localhost/shop:build-1").unwrap();
        let named = registry.name_of(&built).unwrap();
        assert_eq!(named.as_str(), "127.0.0.1:5000/shop:build-1");
        assert!(registry.holds(&named) && !registry.holds(&built));
    }
}
