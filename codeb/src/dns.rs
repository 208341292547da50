//! Authoritative DNS: zones and the record sets in them.

use std::net::{Ipv4Addr, Ipv6Addr};

use async_trait::async_trait;

use crate::model::{DomainName, Port};
use crate::{Error, Result};

/// The type of a record set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum RecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    #[serde(rename = "AAAA")]
    Aaaa,
    /// Alias to another name.
    #[serde(rename = "CNAME")]
    Cname,
    /// Free text.
    #[serde(rename = "TXT")]
    Txt,
    /// Where a service is: servers and ports.
    #[serde(rename = "SRV")]
    Srv,
}

impl RecordType {
    /// The type's name as DNS writes it (`A`, `AAAA`, `CNAME`, `TXT`, `SRV`).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
            RecordType::Txt => "TXT",
            RecordType::Srv => "SRV",
        }
    }
}

/// The data of a record set; the variant decides the type, so a set cannot mix types.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordData {
    /// One or more IPv4 addresses.
    A(Vec<Ipv4Addr>),
    /// One or more IPv6 addresses.
    Aaaa(Vec<Ipv6Addr>),
    /// The one name this name is an alias of.
    Cname(DomainName),
    /// One or more text strings (printable ASCII without `"` or `\`, at most 255 bytes each).
    Txt(Vec<String>),
    /// One or more servers of a service, each a host name and port.
    Srv(Vec<SrvRecord>),
}

/// One SRV record (RFC 2782): a server of a service, and the port it serves on.
///
/// A proxy that discovers its upstreams from SRV records reaches `target:port`;
/// the target is a host name with its own address records, never an address
/// (resolvers refuse an address there).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// The share of the traffic among records of the same priority.
    pub weight: u16,
    /// The port on the target.
    pub port: Port,
    /// The server's host name.
    pub target: DomainName,
}

impl SrvRecord {
    /// Whether the target is a host name: a name of digits alone (`10.0.0.2`)
    /// reads as an address, which resolvers refuse as an SRV target.
    pub fn names_a_host(&self) -> bool {
        !self.target.as_str().split('.').all(|label| label.bytes().all(|b| b.is_ascii_digit()))
    }
}

impl RecordData {
    /// The record type this data makes.
    pub fn record_type(&self) -> RecordType {
        match self {
            RecordData::A(_) => RecordType::A,
            RecordData::Aaaa(_) => RecordType::Aaaa,
            RecordData::Cname(_) => RecordType::Cname,
            RecordData::Txt(_) => RecordType::Txt,
            RecordData::Srv(_) => RecordType::Srv,
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            RecordData::A(v) => v.is_empty(),
            RecordData::Aaaa(v) => v.is_empty(),
            RecordData::Cname(_) => false,
            RecordData::Txt(v) => v.is_empty(),
            RecordData::Srv(v) => v.is_empty(),
        }
    }
}

/// All records of one name and type in a zone.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordSet {
    /// The owner name (inside the zone).
    pub name: DomainName,
    /// Time to live, in seconds.
    pub ttl: u32,
    /// The records.
    pub data: RecordData,
}

impl RecordSet {
    /// Checks the set belongs in `zone` and holds valid, non-empty data.
    pub fn validate(&self, zone: &DomainName) -> Result<()> {
        let invalid = |msg: &str| Err(Error::invalid(msg).with_context("zone", zone).with_context("name", &self.name));
        if !self.name.is_within(zone) {
            return invalid("the record name is not inside the zone");
        }
        if self.data.is_empty() {
            return invalid("a record set needs at least one record");
        }
        if let RecordData::Txt(texts) = &self.data {
            let bad =
                |t: &String| t.len() > 255 || !t.chars().all(|c| (' '..='~').contains(&c) && c != '"' && c != '\\');
            if texts.iter().any(bad) {
                return invalid("a TXT string is at most 255 bytes of printable ASCII without quotes or backslashes");
            }
        }
        if let RecordData::Srv(records) = &self.data
            && records.iter().any(|r| !r.names_a_host())
        {
            return invalid("an SRV target is a host name, not an address");
        }
        Ok(())
    }
}

/// Manages zones and record sets on an authoritative DNS server.
///
/// Contract (checked by the conformance suite): `ensure_zone` is idempotent;
/// `upsert_records` replaces each named set and applies all of them or none;
/// deleting an absent set is a no-op; a set outside its zone is `Invalid`; an
/// unknown zone is `NotFound` for every call but `ensure_zone`.
#[async_trait]
pub trait Dns: Send + Sync + std::fmt::Debug {
    /// Creates the zone if it does not exist.
    async fn ensure_zone(&self, zone: &DomainName) -> Result<()>;
    /// Replaces the given record sets, all in one change.
    async fn upsert_records(&self, zone: &DomainName, sets: &[RecordSet]) -> Result<()>;
    /// Deletes the record sets of the given names and types, all in one change.
    async fn delete_records(&self, zone: &DomainName, keys: &[(DomainName, RecordType)]) -> Result<()>;
    /// Every A, AAAA, CNAME, TXT and SRV record set in the zone, ordered by name and type.
    async fn list_records(&self, zone: &DomainName) -> Result<Vec<RecordSet>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv_set(target: &str) -> RecordSet {
        let target = DomainName::parse(target).unwrap();
        let record = SrvRecord { priority: 0, weight: 0, port: Port::new(4001).unwrap(), target };
        RecordSet { name: DomainName::parse("app.shop.example").unwrap(), ttl: 1, data: RecordData::Srv(vec![record]) }
    }

    #[test]
    fn an_srv_target_must_be_a_host_name_not_an_address() {
        let zone = DomainName::parse("shop.example").unwrap();
        assert!(srv_set("web.shop.example").validate(&zone).is_ok());
        assert!(srv_set("10x.0.0.2").validate(&zone).is_ok(), "one label with a letter makes a host name");
        let refused = srv_set("10.0.0.2").validate(&zone).unwrap_err();
        assert_eq!(refused.kind(), crate::ErrorKind::Invalid);
        assert!(refused.to_string().contains("host name"), "{refused}");
    }
}
