//! [`Dns`] over the PowerDNS Authoritative HTTP API.
//!
//! Zones are created on demand as Native zones with their own SOA and NS set
//! (the platform file's `nameservers` and `hostmaster`, else `ns1`/`ns2` and
//! `hostmaster` of the zone itself). Every batch of record changes
//! is one PATCH of the zone, which PowerDNS applies all or nothing: an upsert
//! replaces each named set (`changetype: REPLACE`), a delete removes them
//! (`DELETE`). Sets are checked with [`RecordSet::validate`] before anything
//! is sent; what PowerDNS refuses beyond that (a CNAME beside other data, two
//! sets of one name and type) fails as [`ErrorKind::Invalid`] carrying
//! PowerDNS's message, with nothing applied. The API key travels only in the
//! `X-API-Key` header: it is in no error, no `Debug` output and no log.

mod api;
mod config;
pub mod json;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use codeb::dns::{Dns, RecordSet, RecordType};
use codeb::model::DomainName;
use codeb::{Error, ErrorKind, Result};
use hyper::Method;

use self::api::{Answer, Api, BACKEND};
pub use self::config::{DEFAULT_SERVER_ID, DEFAULT_TIMEOUT, DEFAULT_TTL, PowerDnsConfig};
use crate::http;
use crate::transport::Transport;
use crate::transport::http::Connections;

/// Manages zones and record sets on a PowerDNS Authoritative server.
///
/// ```no_run
/// use std::sync::Arc;
///
/// use codeb_backends::transport::LocalTransport;
/// use codeb_backends::{PowerDns, PowerDnsConfig};
///
/// # fn main() -> codeb::Result<()> {
/// let key = std::env::var("PDNS_API_KEY").unwrap_or_default();
/// let dns = PowerDns::new(Arc::new(LocalTransport::new()), PowerDnsConfig::new("http://127.0.0.1:8081", key))?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PowerDns {
    config: PowerDnsConfig,
    api: Api,
}

impl fmt::Debug for PowerDns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PowerDns").field("config", &self.config).finish_non_exhaustive()
    }
}

impl PowerDns {
    /// A backend for the PowerDNS described by `config`, whose API is reached
    /// through `transport` (the API URL is an address as PowerDNS's server
    /// sees it); sends nothing until used.
    ///
    /// Fails as [`ErrorKind::Invalid`] when the URL, server id or key is unusable.
    pub fn new(transport: Arc<dyn Transport>, config: PowerDnsConfig) -> Result<Self> {
        config.check()?;
        let base = http::base_url(BACKEND, "api", &config.api)?;
        let client = base.client(transport, config.timeout, Connections::Pooled);
        let api = Api::new(client, base, config.api_key())?;
        Ok(PowerDns { config, api })
    }

    /// The configuration this backend was built from (its `Debug` hides the key).
    pub fn config(&self) -> &PowerDnsConfig {
        &self.config
    }

    fn zone_path(&self, zone: &DomainName) -> String {
        json::zone_path(&self.config.server_id, zone)
    }

    /// Sends a PATCH of `zone`; any answer but success is the error.
    async fn patch(&self, zone: &DomainName, body: serde_json::Value) -> Result<()> {
        match self.api.send(Method::PATCH, &self.zone_path(zone), Some(&body)).await {
            Ok(Answer::Done(_)) => Ok(()),
            Ok(answer) => Err(answer_error(answer, zone)),
            Err(e) => Err(e.with_context("zone", zone)),
        }
    }
}

/// The SDK error for an answer that is not a success.
fn answer_error(answer: Answer, zone: &DomainName) -> Error {
    let err = match answer {
        Answer::NotFound => Error::not_found(format!("no zone {zone}")),
        Answer::Refused(message) => Error::invalid(format!("PowerDNS refused the change: {message}")),
        Answer::Exists => Error::new(ErrorKind::AlreadyExists, format!("zone {zone} exists")),
        Answer::Failed(kind, message) => Error::new(kind, message),
        Answer::Done(_) => Error::internal("a successful answer reported as an error"),
    };
    err.with_context("backend", BACKEND).with_context("zone", zone)
}

#[async_trait]
impl Dns for PowerDns {
    async fn ensure_zone(&self, zone: &DomainName) -> Result<()> {
        let (nameservers, hostmaster) = self.config.authority(zone).map_err(|e| e.with_context("backend", BACKEND))?;
        let body = json::new_zone(zone, &nameservers, &hostmaster, self.config.default_ttl);
        let path = json::zones_path(&self.config.server_id);
        match self.api.send(Method::POST, &path, Some(&body)).await.map_err(|e| e.with_context("zone", zone))? {
            Answer::Done(_) | Answer::Exists => Ok(()),
            // Older PowerDNS versions said so with a 422.
            Answer::Refused(message) if message.contains("already exists") => Ok(()),
            answer => Err(answer_error(answer, zone)),
        }
    }

    async fn upsert_records(&self, zone: &DomainName, sets: &[RecordSet]) -> Result<()> {
        for set in sets {
            set.validate(zone).map_err(|e| e.with_context("backend", BACKEND))?;
        }
        self.patch(zone, json::replace_patch(sets)).await
    }

    async fn delete_records(&self, zone: &DomainName, keys: &[(DomainName, RecordType)]) -> Result<()> {
        if let Some((name, _)) = keys.iter().find(|(name, _)| !name.is_within(zone)) {
            return Err(Error::invalid("the record name is not inside the zone")
                .with_context("backend", BACKEND)
                .with_context("zone", zone)
                .with_context("name", name));
        }
        self.patch(zone, json::delete_patch(keys)).await
    }

    async fn list_records(&self, zone: &DomainName) -> Result<Vec<RecordSet>> {
        let answer =
            self.api.send(Method::GET, &self.zone_path(zone), None).await.map_err(|e| e.with_context("zone", zone))?;
        let Answer::Done(body) = answer else { return Err(answer_error(answer, zone)) };
        let parsed: json::Zone = serde_json::from_slice(&body).map_err(|e| {
            Error::internal("PowerDNS answered with malformed JSON")
                .with_context("backend", BACKEND)
                .with_context("zone", zone)
                .with_source(e)
        })?;
        Ok(json::record_sets(&parsed))
    }
}
