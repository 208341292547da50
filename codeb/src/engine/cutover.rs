//! The cutover: where an environment's routes send traffic, and moving it.
//!
//! With an upstream zone (`Settings::upstream_zone`) every route of an
//! environment discovers its upstream from the environment's SRV record
//! ([`upstream_name`]), which names the server ([`server_target`], with an
//! address record of its own) and the port of the release that serves. A
//! cutover is then one DNS change, whatever the number of domains or of
//! sites on the proxy, and the proxy's configuration changes only when
//! domains do. Without one, each route's upstreams are switched in the proxy.
//!
//! The drain after a cutover waits until the proxy has had time to resolve
//! the record again ([`DISCOVERY_REFRESH`]), then until it has no request in
//! flight to the old release, with the drain grace as the upper bound.

use std::time::{Duration, Instant};

use crate::Result;
use crate::dns::{RecordData, RecordSet, RecordType, SrvRecord};
use crate::engine::Platform;
use crate::engine::events::Events;
use crate::engine::naming::{server_target, upstream_name};
use crate::fleet::Host;
use crate::model::{DomainName, Environment, Port, ProjectName};
use crate::proxy::{DISCOVERY_REFRESH, Upstream, Upstreams};
use crate::releases::Endpoint;

/// The TTL of upstream records, in seconds: the proxy resolves them on its
/// own clock, so this only bounds what another resolver keeps.
const UPSTREAM_TTL: u32 = 1;

/// How long after the refresh a drain allows for a request that chose the
/// old upstream just before it to be counted in flight.
const SETTLE: Duration = Duration::from_millis(100);

/// How often a drain asks the proxy what is still in flight.
const POLL: Duration = Duration::from_millis(50);

/// The record sets of an upstream zone before a change, to put back on undo.
#[derive(Clone, Debug)]
pub(crate) struct UpstreamRecords {
    /// The zone.
    pub zone: DomainName,
    /// Each name and type changed, with its set before (`None`: it did not exist).
    pub before: Vec<(DomainName, RecordType, Option<RecordSet>)>,
}

/// The SRV record set of `name` pointing at `port` of `target`, and `target`'s address set.
fn upstream_sets(name: &DomainName, target: &DomainName, endpoint: Endpoint) -> [RecordSet; 2] {
    let address = match endpoint.host {
        std::net::IpAddr::V4(ip) => RecordData::A(vec![ip]),
        std::net::IpAddr::V6(ip) => RecordData::Aaaa(vec![ip]),
    };
    let srv = SrvRecord { priority: 0, weight: 0, port: endpoint.port, target: target.clone() };
    [
        RecordSet { name: target.clone(), ttl: UPSTREAM_TTL, data: address },
        RecordSet { name: name.clone(), ttl: UPSTREAM_TTL, data: RecordData::Srv(vec![srv]) },
    ]
}

impl Platform {
    /// Where the routes of `project`/`env` send traffic when `endpoint` serves:
    /// the environment's SRV record with an upstream zone, else the endpoint.
    pub(crate) fn route_target(
        &self,
        project: &ProjectName,
        env: &Environment,
        endpoint: Endpoint,
    ) -> Result<Upstreams> {
        Ok(match &self.settings.upstream_zone {
            Some(zone) => Upstreams::Srv(upstream_name(project, env, zone)?),
            None => Upstreams::Fixed(vec![Upstream::from(endpoint)]),
        })
    }

    /// Points the upstream record `name` at `endpoint` on `target`, in one
    /// DNS change; answers what was there before.
    pub(crate) async fn point_upstream(
        &self,
        name: &DomainName,
        target: &DomainName,
        endpoint: Endpoint,
    ) -> Result<UpstreamRecords> {
        let zone = self.upstream_zone()?;
        let dns = &self.backends.dns;
        dns.ensure_zone(&zone).await?;
        let sets = upstream_sets(name, target, endpoint);
        let existing = dns.list_records(&zone).await?;
        let before = sets
            .iter()
            .map(|set| {
                let kind = set.data.record_type();
                let was = existing.iter().find(|e| e.name == set.name && e.data.record_type() == kind).cloned();
                (set.name.clone(), kind, was)
            })
            .collect();
        dns.upsert_records(&zone, &sets).await?;
        Ok(UpstreamRecords { zone, before })
    }

    /// Puts upstream records back as they were before a change.
    pub(crate) async fn restore_upstream(&self, records: UpstreamRecords) -> Result<()> {
        let UpstreamRecords { zone, before } = records;
        let restore: Vec<RecordSet> = before.iter().filter_map(|(_, _, set)| set.clone()).collect();
        let delete: Vec<(DomainName, RecordType)> =
            before.into_iter().filter(|(_, _, set)| set.is_none()).map(|(name, kind, _)| (name, kind)).collect();
        if !restore.is_empty() {
            self.backends.dns.upsert_records(&zone, &restore).await?;
        }
        if !delete.is_empty() {
            crate::error::gone_is_done(self.backends.dns.delete_records(&zone, &delete).await)?;
        }
        Ok(())
    }

    /// Points the environment's upstream record at `endpoint` on `host` (a
    /// rollback or a repair outside a plan), when there is an upstream zone.
    pub(crate) async fn point_environment(
        &self,
        project: &ProjectName,
        env: &Environment,
        host: &Host,
        endpoint: Endpoint,
    ) -> Result<()> {
        let Some(zone) = &self.settings.upstream_zone else { return Ok(()) };
        let (name, target) = (upstream_name(project, env, zone)?, server_target(&host.name, zone)?);
        self.point_upstream(&name, &target, endpoint).await.map(drop)
    }

    /// Deletes the upstream record `name` (its server's name stays: other
    /// environments' records name it too); answers what was there before.
    pub(crate) async fn delete_upstream(&self, name: &DomainName) -> Result<UpstreamRecords> {
        let zone = self.upstream_zone()?;
        let dns = &self.backends.dns;
        let was = match dns.list_records(&zone).await {
            Err(e) if e.kind() == crate::ErrorKind::NotFound => None,
            sets => sets?.into_iter().find(|s| s.name == *name && s.data.record_type() == RecordType::Srv),
        };
        crate::error::gone_is_done(dns.delete_records(&zone, &[(name.clone(), RecordType::Srv)]).await)?;
        Ok(UpstreamRecords { zone, before: vec![(name.clone(), RecordType::Srv, was)] })
    }

    /// The port and target the environment's upstream record points at, if
    /// there is an upstream zone and the record exists.
    pub(crate) async fn pointed_at(&self, project: &ProjectName, env: &Environment) -> Result<Option<SrvRecord>> {
        let Some(zone) = &self.settings.upstream_zone else { return Ok(None) };
        let name = upstream_name(project, env, zone)?;
        let sets = match self.backends.dns.list_records(zone).await {
            Err(e) if e.kind() == crate::ErrorKind::NotFound => return Ok(None),
            sets => sets?,
        };
        Ok(sets.into_iter().find(|s| s.name == name).and_then(|s| match s.data {
            RecordData::Srv(mut records) if records.len() == 1 => records.pop(),
            _ => None,
        }))
    }

    /// Waits until the old release on `host` at `port` has no request in
    /// flight: at least until the proxy resolved the upstream record again,
    /// at most the drain grace. Without an upstream zone the proxy cannot
    /// tell, so the whole grace is waited; when the proxy cannot be asked,
    /// what is left of it.
    pub(crate) async fn drain(&self, host: &Host, port: Port, events: &Events) {
        let started = Instant::now();
        if let Err(e) = self.drain_until_idle(host, port, events).await {
            events.note(format!("the drain could not ask the proxy what is in flight ({e}); waiting the grace"));
            tokio::time::sleep(self.settings.drain_grace.saturating_sub(started.elapsed())).await;
        }
    }

    async fn drain_until_idle(&self, host: &Host, port: Port, events: &Events) -> Result<()> {
        let grace = self.settings.drain_grace;
        let Some(zone) = &self.settings.upstream_zone else {
            tokio::time::sleep(grace).await;
            return Ok(());
        };
        let target = server_target(&host.name, zone)?;
        let started = Instant::now();
        tokio::time::sleep((DISCOVERY_REFRESH + SETTLE).min(grace)).await;
        loop {
            let in_flight = self.backends.proxy.in_flight(&target, port).await?;
            if in_flight == 0 {
                return Ok(());
            }
            if started.elapsed() >= grace {
                events.note(format!(
                    "{in_flight} request(s) still in flight to the previous release after the drain grace of {grace:?}"
                ));
                return Ok(());
            }
            tokio::time::sleep(POLL.min(grace.saturating_sub(started.elapsed()))).await;
        }
    }

    fn upstream_zone(&self) -> Result<DomainName> {
        self.settings
            .upstream_zone
            .clone()
            .ok_or_else(|| crate::Error::internal("an upstream record change without an upstream zone"))
    }
}
