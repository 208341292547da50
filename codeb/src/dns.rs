//! Authoritative DNS: zones and the record sets in them.

use std::net::{Ipv4Addr, Ipv6Addr};

use async_trait::async_trait;

use crate::model::DomainName;
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
}

impl RecordType {
    /// The type's name as DNS writes it (`A`, `AAAA`, `CNAME`, `TXT`).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
            RecordType::Txt => "TXT",
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
}

impl RecordData {
    /// The record type this data makes.
    pub fn record_type(&self) -> RecordType {
        match self {
            RecordData::A(_) => RecordType::A,
            RecordData::Aaaa(_) => RecordType::Aaaa,
            RecordData::Cname(_) => RecordType::Cname,
            RecordData::Txt(_) => RecordType::Txt,
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            RecordData::A(v) => v.is_empty(),
            RecordData::Aaaa(v) => v.is_empty(),
            RecordData::Cname(_) => false,
            RecordData::Txt(v) => v.is_empty(),
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
    /// Every A, AAAA, CNAME and TXT record set in the zone, ordered by name and type.
    async fn list_records(&self, zone: &DomainName) -> Result<Vec<RecordSet>>;
}
