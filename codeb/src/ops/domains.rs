//! Domains of an environment: a route in the proxy and a record in DNS.

use crate::Result;
use crate::dns::{RecordData, RecordSet, RecordType};
use crate::engine::{Change, DeployOptions, Platform};
use crate::model::{DomainName, Environment, ProjectName, Service};
use crate::ops::Removal;
use crate::proxy::{Route, Upstream};
use crate::ssot::StateStoreExt;

/// What setting up a domain did.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DomainReport {
    /// The domain.
    pub domain: DomainName,
    /// The changes made (or, for a dry run, that would be made).
    pub changes: Vec<Change>,
    /// Whether they were made.
    pub applied: bool,
}

impl Platform {
    /// The changes that routing `domain` to the environment would make.
    pub async fn plan_domain_setup(
        &self,
        project: &ProjectName,
        env: &Environment,
        domain: &DomainName,
    ) -> Result<Vec<Change>> {
        let record = self.existing_environment(project, env).await?;
        let mut changes = Vec::new();
        if let Some(port) = record.current().and(record.ports.get(&Service::App)) {
            let to = Upstream { host: self.settings.upstream_host, port: *port };
            match self.backends.proxy.get_route(domain).await? {
                Some(route) if route.upstreams == [to.clone()] => {}
                Some(route) => changes.push(Change::SwitchRoute { host: domain.clone(), from: route.upstreams }),
                None => changes.push(Change::CreateRoute { host: domain.clone() }),
            }
        }
        if let Some(zone) = self.settings.zone.as_ref().filter(|z| domain.is_within(z)) {
            changes.push(Change::UpsertRecord {
                zone: zone.clone(),
                name: domain.clone(),
                ip: self.settings.public_ipv4,
            });
        }
        Ok(changes)
    }

    /// Routes `domain` to the environment: recorded in the SSOT (so every
    /// later deploy routes it), routed to the serving release if there is
    /// one, and named in DNS when it lies inside the managed zone.
    pub async fn domain_setup(
        &self,
        project: &ProjectName,
        env: &Environment,
        domain: &DomainName,
        dry_run: bool,
        options: &DeployOptions,
    ) -> Result<DomainReport> {
        let changes = self.plan_domain_setup(project, env, domain).await?;
        if dry_run {
            return Ok(DomainReport { domain: domain.clone(), changes, applied: false });
        }
        let events = crate::engine::events_for(options);
        self.with_lock(project, env, None, options, &events, async {
            let (p, e, d) = (project.clone(), env.clone(), domain.clone());
            self.blocking_state(move |s| {
                s.modify(|doc| {
                    let record = doc.environment_mut(&p, &e);
                    if !record.domains.contains(&d) {
                        record.domains.push(d);
                    }
                    Ok(())
                })
            })
            .await?;
            let record = self.existing_environment(project, env).await?;
            let upstream = record
                .current()
                .and(record.ports.get(&Service::App))
                .map(|port| Upstream { host: self.settings.upstream_host, port: *port });
            for change in &changes {
                self.apply_domain_change(change, upstream.as_ref()).await?;
            }
            Ok(())
        })
        .await?;
        Ok(DomainReport { domain: domain.clone(), changes, applied: true })
    }

    /// Makes one route or record change; routes go to `upstream`, the serving release.
    async fn apply_domain_change(&self, change: &Change, upstream: Option<&Upstream>) -> Result<()> {
        let b = &self.backends;
        match (change, upstream) {
            (Change::CreateRoute { host }, Some(to)) => {
                let route = Route { host: host.clone(), upstreams: vec![to.clone()], tls: self.settings.tls.clone() };
                b.proxy.upsert_route(&route).await
            }
            (Change::SwitchRoute { host, .. }, Some(to)) => {
                b.proxy.switch_upstreams(host, std::slice::from_ref(to)).await
            }
            (Change::UpsertRecord { zone, name, ip }, _) => {
                b.dns.ensure_zone(zone).await?;
                b.dns
                    .upsert_records(zone, &[RecordSet { name: name.clone(), ttl: 60, data: RecordData::A(vec![*ip]) }])
                    .await
            }
            (Change::RemoveRoute { host }, _) => b.proxy.remove_route(host).await,
            (Change::DeleteRecord { zone, name }, _) => {
                b.dns.delete_records(zone, &[(name.clone(), RecordType::A)]).await
            }
            _ => Ok(()),
        }
    }

    /// The domains set up on an environment.
    pub async fn domain_list(&self, project: &ProjectName, env: &Environment) -> Result<Vec<DomainName>> {
        Ok(self.existing_environment(project, env).await?.domains)
    }

    /// Stops routing `domain` to the environment: route, DNS record and SSOT entry go.
    /// Without `force` nothing changes and the report says what would.
    pub async fn domain_remove(
        &self,
        project: &ProjectName,
        env: &Environment,
        domain: &DomainName,
        force: bool,
        options: &DeployOptions,
    ) -> Result<Removal> {
        let record = self.existing_environment(project, env).await?;
        if !record.domains.contains(domain) && self.backends.proxy.get_route(domain).await?.is_none() {
            return Err(crate::Error::not_found(format!("{domain} is not set up on {project}/{env}")));
        }
        let mut changes = Vec::new();
        if self.backends.proxy.get_route(domain).await?.is_some() {
            changes.push(Change::RemoveRoute { host: domain.clone() });
        }
        if let Some(zone) = self.settings.zone.as_ref().filter(|z| domain.is_within(z)) {
            changes.push(Change::DeleteRecord { zone: zone.clone(), name: domain.clone() });
        }
        if !force {
            return Ok(Removal { changes, applied: false });
        }
        let events = crate::engine::events_for(options);
        self.with_lock(project, env, None, options, &events, async {
            for change in &changes {
                self.apply_domain_change(change, None).await?;
            }
            let (p, e, d) = (project.clone(), env.clone(), domain.clone());
            self.blocking_state(move |s| {
                s.modify(|doc| {
                    doc.environment_mut(&p, &e).domains.retain(|x| *x != d);
                    Ok(())
                })
            })
            .await
        })
        .await?;
        Ok(Removal { changes, applied: true })
    }
}
