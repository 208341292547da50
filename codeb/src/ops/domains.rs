//! Domains of an environment: a route in the proxy and a record in DNS,
//! planned as changes and run by the executor, so a setup is all or nothing.

use crate::Result;
use crate::engine::executor::Executor;
use crate::engine::lock::LockRequest;
use crate::engine::plan::Planner;
use crate::engine::{Change, DeployOptions, PlannedChange, Platform};
use crate::model::{DomainName, Environment, ProjectName, Service};
use crate::ops::Removal;
use crate::releases::Endpoint;
use crate::ssot::EnvironmentRecord;

/// What setting up a domain did.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct DomainReport {
    /// The domain.
    pub domain: DomainName,
    /// The changes made (or, for a dry run, that would be made).
    pub changes: Vec<PlannedChange>,
    /// Whether they were made.
    pub applied: bool,
}

impl std::fmt::Display for DomainReport {
    /// What was (or would be) routed, then each change on a line of its own.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.applied {
            true => write!(f, "routed {}", self.domain)?,
            false => write!(f, "would route {} (dry run)", self.domain)?,
        }
        self.changes.iter().try_for_each(|c| write!(f, "\n  + {c}"))
    }
}

impl Platform {
    /// The changes that routing `domain` to the environment would make.
    pub async fn plan_domain_setup(
        &self,
        project: &ProjectName,
        env: &Environment,
        domain: &DomainName,
    ) -> Result<Vec<PlannedChange>> {
        let record = self.existing_environment(project, env).await?;
        let host = self.backends.fleet.place(record.server.as_ref(), None)?;
        let mut plan = Planner::new();
        if !record.domains.contains(domain) {
            plan.push(&self.servers().control, Change::AddDomain { domain: domain.clone() });
        }
        if let Some(endpoint) = serving(&record, host) {
            let servers = self.servers();
            match self.backends.proxy.get_route(domain).await? {
                Some(route) if route.upstreams == [endpoint.into()] => {}
                Some(route) => {
                    plan.push(&servers.proxy, Change::SwitchRoute { host: domain.clone(), from: route.upstreams })
                }
                None => plan.push(&servers.proxy, Change::CreateRoute { host: domain.clone() }),
            }
        }
        if let Some(zone) = self.settings.zone.as_ref().filter(|z| domain.is_within(z)) {
            let ip = host.addresses.public_ipv4;
            plan.push(&self.servers().dns, Change::UpsertRecord { zone: zone.clone(), name: domain.clone(), ip });
        }
        Ok(plan.finish())
    }

    /// Routes `domain` to the environment: recorded in the SSOT (so every
    /// later deploy routes it), routed to the serving release if there is
    /// one, and named in DNS when it lies inside the managed zone. A failure
    /// at any change undoes the ones before it.
    pub async fn domain_setup(
        &self,
        project: &ProjectName,
        env: &Environment,
        domain: &DomainName,
        dry_run: bool,
        options: &DeployOptions,
    ) -> Result<DomainReport> {
        let changes = self.plan_domain_setup(project, env, domain).await?;
        if !dry_run {
            self.run_domain_changes(project, env, &changes, options, format!("set up domain {domain}")).await?;
        }
        Ok(DomainReport { domain: domain.clone(), changes, applied: !dry_run })
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
        let route = self.backends.proxy.get_route(domain).await?;
        if !record.domains.contains(domain) && route.is_none() {
            return Err(crate::Error::not_found(format!("{domain} is not set up on {project}/{env}")));
        }
        let servers = self.servers();
        let mut plan = Planner::new();
        if route.is_some() {
            plan.push(&servers.proxy, Change::RemoveRoute { host: domain.clone() });
        }
        if let Some(zone) = self.settings.zone.as_ref().filter(|z| domain.is_within(z)) {
            plan.push(&servers.dns, Change::DeleteRecord { zone: zone.clone(), name: domain.clone() });
        }
        if record.domains.contains(domain) {
            plan.push(&servers.control, Change::ForgetDomain { domain: domain.clone() });
        }
        let changes = plan.finish();
        if force {
            self.run_domain_changes(project, env, &changes, options, format!("remove domain {domain}")).await?;
        }
        Ok(Removal { changes, applied: force })
    }

    /// Runs domain changes under the environment's lock, routing to its serving release.
    async fn run_domain_changes(
        &self,
        project: &ProjectName,
        env: &Environment,
        changes: &[PlannedChange],
        options: &DeployOptions,
        operation: String,
    ) -> Result<()> {
        let record = self.existing_environment(project, env).await?;
        let host = self.backends.fleet.place(record.server.as_ref(), None)?.clone();
        let endpoint = serving(&record, &host);
        let events = crate::engine::events_for(options);
        let mut run = Executor::new(self, project.clone(), env.clone(), host, events).routing_to(endpoint);
        let lock = LockRequest {
            project: project.clone(),
            env: env.clone(),
            me: self.settings.identity.clone(),
            message: options.lock_message(|| operation),
            expect_revision: None,
        };
        run.lock(lock, None, changes, options.wait_for_lock).await?;
        if let Err(e) = run.run(changes).await {
            run.fail(&e, None).await;
            return Err(e);
        }
        run.finish(Vec::new()).await.map(drop)
    }
}

/// Where the environment's serving release answers, if one serves.
fn serving(record: &EnvironmentRecord, host: &crate::fleet::Host) -> Option<Endpoint> {
    let port = record.current().and(record.ports.get(&Service::App))?;
    Some(Endpoint { host: host.addresses.upstream, port: *port })
}
