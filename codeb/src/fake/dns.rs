//! The in-memory authoritative DNS server.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::dns::{Dns, RecordSet, RecordType};
use crate::model::DomainName;
use crate::{Error, Result};

type Zone = BTreeMap<(DomainName, RecordType), RecordSet>;

/// A DNS server that keeps its zones in memory.
///
/// Like PowerDNS it refuses a CNAME beside other data at the same name.
#[derive(Debug, Default)]
pub struct FakeDns {
    zones: Mutex<BTreeMap<DomainName, Zone>>,
}

impl FakeDns {
    /// A server with no zones.
    pub fn new() -> Self {
        FakeDns::default()
    }

    fn zones(&self) -> MutexGuard<'_, BTreeMap<DomainName, Zone>> {
        self.zones.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn no_zone(zone: &DomainName) -> Error {
    Error::not_found(format!("no zone {zone}")).with_context("backend", "fake-dns")
}

/// Refuses a CNAME that would share its name with other data.
fn check_cname_exclusive(zone: &Zone) -> Result<()> {
    for (name, rtype) in zone.keys() {
        let others = zone.keys().filter(|(n, t)| n == name && t != rtype).count();
        if others > 0 && (*rtype == RecordType::Cname) {
            return Err(Error::invalid(format!("{name} has a CNAME, which cannot share its name with other records")));
        }
    }
    Ok(())
}

#[async_trait]
impl Dns for FakeDns {
    async fn ensure_zone(&self, zone: &DomainName) -> Result<()> {
        self.zones().entry(zone.clone()).or_default();
        Ok(())
    }

    async fn upsert_records(&self, zone: &DomainName, sets: &[RecordSet]) -> Result<()> {
        for set in sets {
            set.validate(zone)?;
        }
        let mut zones = self.zones();
        let records = zones.get_mut(zone).ok_or_else(|| no_zone(zone))?;
        let mut next = records.clone();
        for set in sets {
            next.insert((set.name.clone(), set.data.record_type()), set.clone());
        }
        check_cname_exclusive(&next)?;
        *records = next;
        Ok(())
    }

    async fn delete_records(&self, zone: &DomainName, keys: &[(DomainName, RecordType)]) -> Result<()> {
        let mut zones = self.zones();
        let records = zones.get_mut(zone).ok_or_else(|| no_zone(zone))?;
        for key in keys {
            records.remove(key);
        }
        Ok(())
    }

    async fn list_records(&self, zone: &DomainName) -> Result<Vec<RecordSet>> {
        let zones = self.zones();
        Ok(zones.get(zone).ok_or_else(|| no_zone(zone))?.values().cloned().collect())
    }
}
