//! Domains of an environment: a route in the proxy and a record in DNS,
//! planned as changes and run by the executor, so a setup is all or nothing.

use crate::Result;
use crate::engine::executor::Executor;
use crate::engine::lock::LockRequest;
use crate::engine::naming::{server_target, upstream_name};
use crate::engine::plan::Planner;
use crate::engine::{Change, DeployOptions, PlannedChange, Platform};
use crate::model::{DomainName, Environment, ProjectName, Service};
use crate::ops::Removal;
use crate::releases::Endpoint;
use crate::ssot::{DomainOwner, EnvironmentRecord, StateStoreExt};

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
    /// The environment the domain was moved from, when another one owned it (a forced setup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_from: Option<DomainOwner>,
}

impl std::fmt::Display for DomainReport {
    /// What was (or would be) routed, then each change on a line of its own.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.applied {
            true => write!(f, "routed {}", self.domain)?,
            false => write!(f, "would route {} (dry run)", self.domain)?,
        }
        if let Some(owner) = &self.taken_from {
            write!(f, ", taken from {owner}")?;
        }
        self.changes.iter().try_for_each(|c| write!(f, "\n  + {c}"))
    }
}

impl Platform {
    /// The changes that routing `domain` to the environment would make.
    ///
    /// A domain another environment owns is `Conflict`, naming the owner,
    /// unless `force` moves it (a [`Change::TakeDomain`] naming whose it was).
    pub async fn plan_domain_setup(
        &self,
        project: &ProjectName,
        env: &Environment,
        domain: &DomainName,
        force: bool,
    ) -> Result<Vec<PlannedChange>> {
        let record = self.existing_environment(project, env).await?;
        let host = self.backends.fleet.place(record.server.as_ref(), None)?;
        let mut plan = Planner::new();
        let servers = self.servers();
        let mut moved = false;
        match self.domain_owner(domain).await? {
            Some(owner) if owner == DomainOwner::new(project, env) => {}
            Some(owner) if !force => return Err(crate::ssot::taken(domain, &owner)),
            Some(owner) => {
                moved = true;
                plan.push(&servers.control, Change::TakeDomain { domain: domain.clone(), from: owner })
            }
            None => plan.push(&servers.control, Change::AddDomain { domain: domain.clone() }),
        }
        let serving = serving(&record, host);
        if let (Some(endpoint), Some(zone), Some(release)) =
            (serving, &self.settings.upstream_zone, &record.current_release)
        {
            let target = server_target(&host.name, zone)?;
            let pointed = self.pointed_at(project, env).await?;
            if pointed.is_none_or(|srv| srv.port != endpoint.port || srv.target != target) {
                let name = upstream_name(project, env, zone)?;
                plan.push(&servers.dns, Change::PointUpstream { name, release: release.clone(), target });
            }
        }
        let wanted = serving.map(|endpoint| self.route_target(project, env, endpoint)).transpose()?;
        match (wanted, self.backends.proxy.get_route(domain).await?) {
            (Some(wanted), Some(route)) if route.upstreams == wanted => {}
            (Some(_), Some(route)) => {
                plan.push(&servers.proxy, Change::SwitchRoute { host: domain.clone(), from: route.upstreams })
            }
            (Some(_), None) => plan.push(&servers.proxy, Change::CreateRoute { host: domain.clone() }),
            // A moved domain no longer leads to its old owner, even before anything serves here.
            (None, Some(_)) if moved => plan.push(&servers.proxy, Change::RemoveRoute { host: domain.clone() }),
            (None, _) => {}
        }
        if let Some(zone) = self.settings.zone.as_ref().filter(|z| domain.is_within(z)) {
            let ip = host.addresses.public_ipv4;
            plan.push(&servers.dns, Change::UpsertRecord { zone: zone.clone(), name: domain.clone(), ip });
        }
        Ok(plan.finish())
    }

    /// Routes `domain` to the environment: recorded in the SSOT (so every
    /// later deploy routes it), routed to the serving release if there is
    /// one, and named in DNS when it lies inside the managed zone. A failure
    /// at any change undoes the ones before it.
    ///
    /// A domain belongs to one environment: one that another owns is
    /// `Conflict` naming the owner, and `force` moves it (under both
    /// environments' locks; the report says whose it was).
    pub async fn domain_setup(
        &self,
        project: &ProjectName,
        env: &Environment,
        domain: &DomainName,
        dry_run: bool,
        force: bool,
        options: &DeployOptions,
    ) -> Result<DomainReport> {
        let changes = self.plan_domain_setup(project, env, domain, force).await?;
        let taken_from = changes.iter().find_map(|c| match &c.change {
            Change::TakeDomain { from, .. } => Some(from.clone()),
            _ => None,
        });
        if !dry_run {
            let operation = format!("set up domain {domain}");
            self.run_domain_changes(project, env, &changes, taken_from.as_ref(), options, operation).await?;
        }
        Ok(DomainReport { domain: domain.clone(), changes, applied: !dry_run, taken_from })
    }

    /// The environment `domain` belongs to, as the SSOT records it.
    pub async fn domain_owner(&self, domain: &DomainName) -> Result<Option<DomainOwner>> {
        let d = domain.clone();
        self.blocking_state(move |s| s.view(|doc| Ok(doc.domain_owner(&d)))).await
    }

    /// The domains set up on an environment.
    pub async fn domain_list(&self, project: &ProjectName, env: &Environment) -> Result<Vec<DomainName>> {
        Ok(self.existing_environment(project, env).await?.domains)
    }

    /// Stops routing `domain` to the environment: route, DNS record and SSOT entry go.
    /// Without `force` nothing changes and the report says what would.
    ///
    /// Only a domain the SSOT records as the environment's own is removed:
    /// another environment's is `Conflict` naming its owner, one no one owns `NotFound`.
    pub async fn domain_remove(
        &self,
        project: &ProjectName,
        env: &Environment,
        domain: &DomainName,
        force: bool,
        options: &DeployOptions,
    ) -> Result<Removal> {
        let record = self.existing_environment(project, env).await?;
        if !record.domains.contains(domain) {
            return Err(match self.domain_owner(domain).await? {
                Some(owner) => crate::Error::conflict(format!("{domain} belongs to {owner}, not to {project}/{env}"))
                    .with_context("owner", owner),
                None => crate::Error::not_found(format!("{domain} is not set up on {project}/{env}")),
            });
        }
        let servers = self.servers();
        let mut plan = Planner::new();
        // A document from before domains had one owner may record it elsewhere too: then only the entry goes.
        let me = DomainOwner::new(project, env);
        let d = domain.clone();
        let shared = self.blocking_state(move |s| s.view(|doc| Ok(doc.domain_owners(&d).any(|o| o != me)))).await?;
        if !shared && self.backends.proxy.get_route(domain).await?.is_some() {
            plan.push(&servers.proxy, Change::RemoveRoute { host: domain.clone() });
        }
        if let Some(zone) = self.settings.zone.as_ref().filter(|z| !shared && domain.is_within(z)) {
            plan.push(&servers.dns, Change::DeleteRecord { zone: zone.clone(), name: domain.clone() });
        }
        plan.push(&servers.control, Change::ForgetDomain { domain: domain.clone() });
        let changes = plan.finish();
        if force {
            self.run_domain_changes(project, env, &changes, None, options, format!("remove domain {domain}")).await?;
        }
        Ok(Removal { changes, applied: force })
    }

    /// Runs domain changes under the environment's lock (and the lock of
    /// `owner`, the environment a domain is taken from), routing to its serving release.
    async fn run_domain_changes(
        &self,
        project: &ProjectName,
        env: &Environment,
        changes: &[PlannedChange],
        owner: Option<&DomainOwner>,
        options: &DeployOptions,
        operation: String,
    ) -> Result<()> {
        let record = self.existing_environment(project, env).await?;
        let host = self.backends.fleet.place(record.server.as_ref(), None)?.clone();
        let endpoint = serving(&record, &host);
        let events = crate::engine::events_for(options);
        let mut run = Executor::new(self, project.clone(), env.clone(), host, events).routing_to(endpoint);
        let message = options.lock_message(|| operation.clone());
        let mut requests = vec![LockRequest::new(project, env, message.clone())];
        requests.extend(owner.map(|owner| LockRequest::new(&owner.project, &owner.env, message)));
        run.lock(&requests, None, changes, options.wait_for_lock).await?;
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
