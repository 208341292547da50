//! The one executor: runs a plan's changes in order, each with its undo
//! entry, and on a failure undoes what it did in reverse.
//!
//! Deploys, rollbacks, domain operations and project removals all run here,
//! so what a plan shows is what runs. SSOT writes are grouped: the lock, the
//! pending release and the plan's port reservations are one commit; the
//! switch is one; the end (or the failure record) with the unlock is one.

use crate::runtime::{RemoveContainerOptions, StopOptions};
use std::collections::BTreeMap;
use std::time::Instant;

use crate::dns::{RecordData, RecordSet, RecordType};
use crate::engine::cutover::UpstreamRecords;
use crate::engine::events::Events;
use crate::engine::health::judge;
use crate::engine::lease::{Hold, Lease};
use crate::engine::lock::LockRequest;
use crate::engine::naming::environment_network;
use crate::engine::release_command;
use crate::engine::{Change, DeployEvent, PlannedChange, Platform, ProbeRequest, ProbeResponse, ProbeVerdict};
use crate::error::gone_is_done;
use crate::fleet::Host;
use crate::model::{
    DomainName, EnvVar, Environment, HealthCheck, ImageRef, Port, ProjectName, ReleaseId, Service, Step,
};
use crate::ports::PortKey;
use crate::proxy::{Route, Upstreams};
use crate::redact::Redactor;
use crate::releases::{Endpoint, ReleaseRef, ReleaseSpec, TaskSpec};
use crate::runtime::{BuildSpec, RemoveVolumeOptions};
use crate::secrets::{EnvVersion, Scope};
use crate::ssot::{DomainOwner, ReleaseConfig, ReleaseStatus, Ssot, StateStoreExt};
use crate::{Error, ErrorKind, Result};

/// How many times a release start moves to another host port when its reserved one was taken meanwhile.
const PORT_RETRIES: usize = 3;

/// The TTL of the A records codeb makes, in seconds: short, so a move to another server is seen soon.
pub(crate) const RECORD_TTL: u32 = 60;

/// An SSOT edit, run inside one commit; `Fn` so a commit that waits for a lock can run it again.
pub(crate) type Edit = Box<dyn Fn(&mut Ssot) -> Result<()> + Send + Sync>;

/// The release a run switches to.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub id: ReleaseId,
    pub image: ImageRef,
    /// The configuration it runs with; `env_version` is filled in when it starts.
    pub config: ReleaseConfig,
    pub container_port: Port,
    pub health: HealthCheck,
    /// Its variables when restored at a recorded version; `None` to take the environment's current ones.
    pub vars: Option<Vec<EnvVar>>,
    /// The project file's plain variables a deploy stores first (`SetEnv`).
    pub plain_vars: Vec<EnvVar>,
    /// How to build the image, if it is built here.
    pub build: Option<BuildSpec>,
    /// Whether the release record is new (a deploy) rather than an earlier one (a rollback).
    pub new_record: bool,
}

/// The release that served before the switch.
#[derive(Clone, Debug)]
pub(crate) struct Previous {
    pub id: ReleaseId,
    pub port: Port,
    pub health: HealthCheck,
}

/// What undoes one applied change.
#[derive(Debug)]
enum Undo {
    /// Free a port reserved by this run (an SSOT edit in the failure commit).
    ReleasePort(PortKey),
    /// Remove an accessory container this run created (never its volume or credentials).
    RemoveAccessory(crate::model::ContainerName),
    /// Remove the release this run started.
    RemoveRelease(ReleaseRef),
    /// Put a route back as it was.
    RestoreRoute { host: DomainName, previous: Option<Route> },
    /// Put upstream records back as they were.
    RestoreUpstream(UpstreamRecords),
    /// Put a record back as it was.
    RestoreRecord { zone: DomainName, name: DomainName, previous: Option<RecordSet> },
    /// Forget a domain this run recorded (an SSOT edit in the failure commit).
    ForgetDomain(DomainName),
    /// Give a domain this run took back to its owner (an SSOT edit in the failure commit).
    GiveBackDomain { domain: DomainName, to: DomainOwner },
    /// Create a route this run removed again, as it was.
    RecreateRoute(Route),
}

/// One run of changes against one environment.
pub(crate) struct Executor<'a> {
    platform: &'a Platform,
    project: ProjectName,
    env: Environment,
    host: Host,
    events: Events,
    target: Option<Target>,
    previous: Option<Previous>,
    /// The applied changes that can be undone, with their undo, in order.
    undo: Vec<(PlannedChange, Undo)>,
    /// Ports reserved for this run, by key.
    ports: BTreeMap<PortKey, Port>,
    /// Where the started release answers.
    endpoint: Option<Endpoint>,
    /// The image id the release runs.
    image_id: Option<String>,
    /// The step running now, and since when.
    step: Option<(Step, Instant)>,
    /// The environment's secret values, masked in every error, event and record of the run.
    redactor: Redactor,
    /// The locks the run holds, renewed until it ends.
    lease: Option<Lease>,
}

impl<'a> Executor<'a> {
    /// An executor for `project`/`env` on `host`; [`Executor::switching`] gives it a release to switch to.
    pub(crate) fn new(
        platform: &'a Platform,
        project: ProjectName,
        env: Environment,
        host: Host,
        events: Events,
    ) -> Self {
        Executor {
            platform,
            project,
            env,
            host,
            events,
            target: None,
            previous: None,
            undo: Vec::new(),
            ports: BTreeMap::new(),
            endpoint: None,
            image_id: None,
            step: None,
            redactor: Redactor::default(),
            lease: None,
        }
    }

    /// The run switches the environment to `target`, from `previous`.
    pub(crate) fn switching(mut self, target: Target, previous: Option<Previous>) -> Self {
        self.target = Some(target);
        self.previous = previous;
        self
    }

    /// The run routes to `endpoint` (a domain change: the release that serves already).
    pub(crate) fn routing_to(mut self, endpoint: Option<Endpoint>) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// The host a change names.
    fn host_of(&self, planned: &PlannedChange) -> Result<Host> {
        self.platform.backends.fleet.host(&planned.server).cloned()
    }

    /// Takes the locks of `requests` (the environment's first) in one commit
    /// with `also` and the reservation of every port `changes` allocate
    /// (ports are probed on the environment's server first). The locks are
    /// renewed until [`Executor::finish`], which releases them.
    pub(crate) async fn lock(
        &mut self,
        requests: &[LockRequest],
        also: Option<Edit>,
        changes: &[PlannedChange],
        wait: Option<std::time::Duration>,
    ) -> Result<()> {
        self.enter(Step::Lock);
        let result = match self.platform.backends.secrets.list(&self.scope()).await {
            Ok(set) => {
                self.redactor = Redactor::of_secrets(&set.vars);
                self.reserve_with_lock(requests, also, changes, wait).await
            }
            Err(e) => Err(e),
        };
        self.leave(result)
    }

    /// The commit of [`Executor::lock`], without its step events.
    async fn reserve_with_lock(
        &mut self,
        requests: &[LockRequest],
        also: Option<Edit>,
        changes: &[PlannedChange],
        wait: Option<std::time::Duration>,
    ) -> Result<()> {
        let keys: Vec<PortKey> = changes
            .iter()
            .filter_map(|c| match &c.change {
                Change::AllocatePort { key, .. } => Some(key.clone()),
                _ => None,
            })
            .collect();
        let taken = if keys.is_empty() {
            Default::default()
        } else {
            self.host.ports.taken(&self.host.name).await.map_err(|e| e.with_context("step", Step::AllocatePorts))?
        };
        let ranges = *self.platform.backends.ports.ranges();
        let server = self.host.name.clone();
        let seen = crate::ssot::ServerRecord {
            address: self.host.addresses.upstream,
            roles: self.host.roles.iter().copied().collect(),
        };
        let (project, env) = (self.project.clone(), self.env.clone());
        let reserve_keys = keys.clone();
        let edit: Edit = Box::new(move |doc: &mut Ssot| {
            if let Some(also) = &also {
                also(doc)?;
            }
            if !reserve_keys.is_empty() {
                let record = doc.environment_mut(&project, &env);
                record.server.get_or_insert_with(|| server.clone());
                doc.servers.insert(server.clone(), seen.clone());
            }
            for key in &reserve_keys {
                crate::ports::reserve_in(doc, key, &taken, &ranges)
                    .map_err(|e| e.with_context("step", Step::AllocatePorts))?;
            }
            Ok(())
        });
        let (doc, lease) = self.platform.acquire(requests, wait, &edit, &self.events).await?;
        self.lease = Some(lease);
        let record = doc.environment(&self.project, &self.env).cloned().unwrap_or_default();
        for key in keys {
            let port = match &key.release {
                Some(release) => record.release_ports.get(release),
                None => record.ports.get(&key.service),
            };
            let port = *port.ok_or_else(|| Error::internal(format!("the port of {key} vanished from the SSOT")))?;
            self.ports.insert(key, port);
        }
        Ok(())
    }

    /// Runs `changes` in order. On a failure the applied ones are undone in
    /// reverse (the caller records the failure and unlocks: see [`Executor::fail`]).
    pub(crate) async fn run(&mut self, changes: &[PlannedChange]) -> Result<()> {
        for planned in changes {
            if let Err(e) = self.check_lease().await {
                return Err(self.failed(e));
            }
            let step = planned.change.step();
            if self.step.map(|(s, _)| s) != Some(step) {
                self.finish_step();
                self.enter(step);
            }
            match self.apply(planned).await {
                Ok(undo) => {
                    self.events.emit(DeployEvent::ChangeApplied { change: planned.clone() });
                    if let Some(undo) = undo {
                        self.undo.push((planned.clone(), undo));
                    }
                }
                // A change on another server than the environment's (a build server's build) names that one.
                Err(e) => return Err(self.failed(e.with_context("server", &planned.server))),
            }
        }
        self.finish_step();
        Ok(())
    }

    /// The `Conflict` naming the new holder, once a renewal or a commit found a held lock taken over.
    async fn check_lease(&self) -> Result<()> {
        match self.lease.as_ref().map(Lease::hold).filter(Hold::is_lost) {
            Some(hold) => self.platform.blocking_state(move |s| s.view(|doc| hold.check_in(doc))).await,
            None => Ok(()),
        }
    }

    fn enter(&mut self, step: Step) {
        self.events.emit(DeployEvent::StepStarted { step });
        self.step = Some((step, Instant::now()));
    }

    fn finish_step(&mut self) {
        if let Some((step, started)) = self.step.take() {
            self.events.emit(DeployEvent::StepFinished { step, elapsed: started.elapsed() });
        }
    }

    /// Ends the current step with `result`.
    fn leave(&mut self, result: Result<()>) -> Result<()> {
        match result {
            Ok(()) => {
                self.finish_step();
                Ok(())
            }
            Err(e) => Err(self.failed(e)),
        }
    }

    /// Masks the environment's secrets in `e`, names the failed step, the
    /// project and the environment in it, and reports it.
    fn failed(&mut self, e: Error) -> Error {
        let e = self.redactor.error(e);
        let step = self.step.take().map_or(Step::Cleanup, |(s, _)| s);
        let e = if e.context_value("step").is_some() { e } else { e.with_context("step", step) };
        let e = e
            .with_context("project", &self.project)
            .with_context("environment", &self.env)
            .with_context("server", &self.host.name);
        self.events.emit(DeployEvent::StepFailed { step, error: e.to_string() });
        e
    }

    /// Reports a note, the environment's secrets masked.
    fn note(&self, message: String) {
        self.events.note(self.redactor.text(&message));
    }

    fn release_ref(&self, release: &ReleaseId) -> ReleaseRef {
        ReleaseRef { project: self.project.clone(), env: self.env.clone(), release: release.clone() }
    }

    fn scope(&self) -> Scope {
        Scope::new(self.project.clone(), self.env.clone())
    }

    fn target(&self) -> Result<&Target> {
        self.target.as_ref().ok_or_else(|| Error::internal("a release change in a run that switches no release"))
    }

    fn endpoint(&self) -> Result<Endpoint> {
        self.endpoint.ok_or_else(|| Error::internal("the release is routed before it started"))
    }

    /// Applies one change; returns what undoes it, if anything can.
    async fn apply(&mut self, planned: &PlannedChange) -> Result<Option<Undo>> {
        let b = self.platform.backends.clone();
        let s = &self.platform.settings;
        match &planned.change {
            Change::AllocatePort { key, .. } => {
                if !self.ports.contains_key(key) {
                    return Err(Error::internal(format!("port {key} was not reserved with the lock")));
                }
                Ok(Some(Undo::ReleasePort(key.clone())))
            }
            Change::ReleasePort { key, .. } => {
                let key = key.clone();
                self.commit(Box::new(move |doc| {
                    crate::ports::free_in(doc, &key);
                    Ok(())
                }))
                .await?;
                Ok(None)
            }
            Change::SetEnv { keys } => {
                let vars: Vec<EnvVar> =
                    self.target()?.plain_vars.iter().filter(|v| keys.contains(&v.key)).cloned().collect();
                b.secrets.set(&self.scope(), &vars).await?;
                Ok(None)
            }
            Change::UnsetEnv { project, env, keys } => {
                b.secrets.unset(&Scope::new(project.clone(), env.clone()), keys).await?;
                Ok(None)
            }
            Change::CreateNetwork { .. } => {
                let network = environment_network(&self.project, &self.env)?;
                let labels = crate::runtime::managed_labels(&self.project, &self.env, Service::App, None);
                self.host.runtime.ensure_network(&crate::runtime::NetworkSpec { name: network, labels }).await?;
                Ok(None)
            }
            Change::CreateVolume { name } => {
                self.platform.ensure_volume(&self.host, &self.project, &self.env, name).await?;
                Ok(None)
            }
            Change::StartAccessory { service, image, .. } => {
                let port = self.accessory_port(*service).await?;
                let created =
                    self.platform.ensure_accessory(&self.host, &self.project, &self.env, *service, image, port).await?;
                Ok(created.map(Undo::RemoveAccessory))
            }
            Change::EnsureImage { image, expect_id } => {
                let info = self.host.runtime.ensure_image(image).await?;
                if let Some(ran) = expect_id.as_ref().filter(|ran| **ran != info.id) {
                    return Err(moved_tag(image, &self.target()?.id, ran, &info.id));
                }
                self.image_id = Some(info.id);
                Ok(None)
            }
            Change::BuildImage { .. } => {
                let spec = self.target()?.build.clone().ok_or_else(|| Error::internal("a build without a spec"))?;
                self.image_id = Some(self.host_of(planned)?.runtime.build_image(&spec).await?.id);
                Ok(None)
            }
            Change::PushImage { image, to } => {
                let pinned = to.pinned(&self.host_of(planned)?.runtime.push_image(image, to).await?)?;
                let target = self.target.as_mut().ok_or_else(|| Error::internal("a push without a target"))?;
                target.image = pinned;
                Ok(None)
            }
            Change::PullImage { image } => {
                let pinned = self.target()?.image.clone();
                if pinned.digest().is_none()
                    || (pinned.registry(), pinned.repository()) != (image.registry(), image.repository())
                {
                    return Err(Error::internal(format!("{image} is pulled before its push named a digest")));
                }
                self.image_id = Some(self.host_of(planned)?.runtime.ensure_image(&pinned).await?.id);
                Ok(None)
            }
            Change::RunReleaseCommand { release, command, timeout_ms, .. } => {
                let (env, _) = self.release_vars().await?;
                let target = self.target()?;
                let task = TaskSpec {
                    release: self.release_ref(release),
                    image: target.image.clone(),
                    command: command.clone(),
                    env,
                    network: self.release_network(target)?,
                    resources: target.config.resources,
                    timeout: std::time::Duration::from_millis(*timeout_ms),
                };
                let outcome = self.host.releases.run_task(&task).await?;
                let told = release_command::judge(command, task.timeout, &outcome, &self.redactor)?;
                self.note(told);
                Ok(None)
            }
            Change::StartRelease { release, .. } => {
                let key = PortKey::for_release(self.project.clone(), self.env.clone(), release.clone());
                let host_port =
                    *self.ports.get(&key).ok_or_else(|| Error::internal(format!("no port reserved for {key}")))?;
                let (vars, version) = self.release_vars().await?;
                let target = self.target.as_mut().ok_or_else(|| Error::internal("no target"))?;
                target.config.env_version = version;
                let target = target.clone();
                let network = self.release_network(&target)?;
                let mut spec = ReleaseSpec {
                    release: self.release_ref(release),
                    image: target.image.clone(),
                    command: target.config.command.clone(),
                    env: vars,
                    container_port: target.container_port,
                    host_port,
                    network,
                    resources: target.config.resources,
                };
                // Undone even if only the create succeeded: removing what was never made is fine.
                let undo = Undo::RemoveRelease(spec.release.clone());
                match self.start_on_a_free_port(&mut spec, &key).await {
                    Ok(endpoint) => {
                        self.endpoint = Some(endpoint);
                        Ok(Some(undo))
                    }
                    Err(e) => {
                        self.undo.push((planned.clone(), undo));
                        Err(e)
                    }
                }
            }
            Change::HealthCheck { release, .. } => {
                let endpoint = self.endpoint()?;
                let check = self.target()?.health.clone();
                self.platform.wait_healthy(&self.host, release, endpoint, &check, &self.events, &self.redactor).await?;
                Ok(None)
            }
            Change::CreateRoute { host } | Change::SwitchRoute { host, .. } => {
                let to = self.platform.route_target(&self.project, &self.env, self.endpoint()?)?;
                let previous = b.proxy.get_route(host).await?;
                match &previous {
                    Some(_) => b.proxy.switch_upstreams(host, &to).await?,
                    None => {
                        let route = Route { host: host.clone(), upstreams: to.clone(), tls: s.tls.clone() };
                        b.proxy.upsert_route(&route).await?
                    }
                }
                self.events.emit(DeployEvent::RouteSwitched { host: host.clone(), to });
                Ok(Some(Undo::RestoreRoute { host: host.clone(), previous }))
            }
            Change::DeleteUpstream { name } => {
                let before = self.platform.delete_upstream(name).await?;
                Ok(Some(Undo::RestoreUpstream(before)))
            }
            Change::PointUpstream { name, target, .. } => {
                let before = self.platform.point_upstream(name, target, self.endpoint()?).await?;
                Ok(Some(Undo::RestoreUpstream(before)))
            }
            Change::RemoveRoute { host } => {
                let previous = b.proxy.get_route(host).await?;
                gone_is_done(b.proxy.remove_route(host).await)?;
                Ok(previous.map(Undo::RecreateRoute))
            }
            Change::UpsertRecord { zone, name, ip } => {
                b.dns.ensure_zone(zone).await?;
                let previous = a_record(b.dns.as_ref(), zone, name).await?;
                let set = RecordSet { name: name.clone(), ttl: RECORD_TTL, data: RecordData::A(vec![*ip]) };
                b.dns.upsert_records(zone, &[set]).await?;
                Ok(Some(Undo::RestoreRecord { zone: zone.clone(), name: name.clone(), previous }))
            }
            Change::DeleteRecord { zone, name } => {
                let previous = a_record(b.dns.as_ref(), zone, name).await?;
                gone_is_done(b.dns.delete_records(zone, &[(name.clone(), RecordType::A)]).await)?;
                Ok(previous.map(|set| Undo::RestoreRecord {
                    zone: zone.clone(),
                    name: name.clone(),
                    previous: Some(set),
                }))
            }
            Change::RecordRelease { .. } => {
                self.record_switch().await?;
                // The switch is committed: nothing before it is undone any more.
                self.undo.clear();
                Ok(None)
            }
            Change::StopRelease { release, .. } => {
                match self.previous.as_ref().filter(|p| p.id == *release) {
                    Some(previous) => self.platform.drain(&self.host, previous.port, &self.events).await,
                    None => tokio::time::sleep(s.drain_grace).await,
                }
                let release = self.release_ref(release);
                if let Err(e) = self.host.releases.stop(&release, StopOptions { grace: s.stop_grace }).await {
                    // The switch is recorded; a previous release that will not stop serves nobody.
                    self.note(format!("the previous release {} could not be stopped: {e}", release.release));
                }
                Ok(None)
            }
            Change::Watch { window_ms } => {
                self.watch(std::time::Duration::from_millis(*window_ms)).await?;
                Ok(None)
            }
            Change::AddDomain { domain } => {
                let (p, e, d) = (self.project.clone(), self.env.clone(), domain.clone());
                self.commit(Box::new(move |doc| {
                    doc.check_domains_free(&p, &e, std::slice::from_ref(&d))?;
                    let record = doc.environment_mut(&p, &e);
                    if !record.domains.contains(&d) {
                        record.domains.push(d.clone());
                    }
                    Ok(())
                }))
                .await?;
                Ok(Some(Undo::ForgetDomain(domain.clone())))
            }
            Change::TakeDomain { domain, from } => {
                let (p, e, d, owner) = (self.project.clone(), self.env.clone(), domain.clone(), from.clone());
                self.commit(Box::new(move |doc| {
                    if doc.domain_owner(&d).as_ref() != Some(&owner) {
                        return Err(Error::conflict(format!("{d} no longer belongs to {owner}; plan the move again")));
                    }
                    doc.environment_mut(&owner.project, &owner.env).domains.retain(|x| *x != d);
                    doc.environment_mut(&p, &e).domains.push(d.clone());
                    Ok(())
                }))
                .await?;
                Ok(Some(Undo::GiveBackDomain { domain: domain.clone(), to: from.clone() }))
            }
            Change::ForgetDomain { domain } => {
                let (p, e, d) = (self.project.clone(), self.env.clone(), domain.clone());
                self.commit(Box::new(move |doc| {
                    doc.environment_mut(&p, &e).domains.retain(|x| *x != d);
                    Ok(())
                }))
                .await?;
                Ok(None)
            }
            Change::RemoveContainer { name } => {
                gone_is_done(
                    self.host_of(planned)?.runtime.remove_container(name, RemoveContainerOptions::FORCE).await,
                )?;
                Ok(None)
            }
            Change::RemoveNetwork { name } => {
                gone_is_done(self.host_of(planned)?.runtime.remove_network(name).await)?;
                Ok(None)
            }
            Change::RemoveVolume { name } => {
                let host = self.host_of(planned)?;
                gone_is_done(host.runtime.remove_volume(name, RemoveVolumeOptions::default()).await)?;
                Ok(None)
            }
            Change::RemoveImage { image } => match self.host_of(planned)?.runtime.remove_image(image).await {
                // Another project's container runs it (deployed with --image): it stays for that one.
                Err(e) if e.kind() == ErrorKind::Conflict => Ok(None),
                other => gone_is_done(other).map(|()| None),
            },
            Change::KeepVolume { .. } | Change::KeepEnv { .. } => Ok(None),
            Change::ForgetProject { project } => {
                let p = project.clone();
                self.commit(Box::new(move |doc| {
                    doc.projects.remove(&p);
                    Ok(())
                }))
                .await?;
                Ok(None)
            }
        }
    }

    /// The variables the target runs with (its recorded version's, or the
    /// environment's current ones) and their version; their secret values
    /// join those masked (a rollback's recorded secrets may differ from today's).
    async fn release_vars(&mut self) -> Result<(Vec<EnvVar>, EnvVersion)> {
        let target = self.target()?;
        let (vars, version) = match &target.vars {
            Some(vars) => (vars.clone(), target.config.env_version),
            None => {
                let set = self.platform.backends.secrets.list(&self.scope()).await?;
                (set.vars, set.version)
            }
        };
        self.redactor.extend(vars.iter().filter(|v| v.secret).map(|v| v.value.expose()));
        Ok((vars, version))
    }

    /// The network the target joins: its environment's, when it has accessories.
    fn release_network(&self, target: &Target) -> Result<Option<crate::model::NetworkName>> {
        Ok(if target.config.networked { Some(environment_network(&self.project, &self.env)?) } else { None })
    }

    /// Starts a release. A start that fails while its reserved host port is
    /// taken (another process bound it after the probe) is tried again on
    /// the next free port, [`PORT_RETRIES`] times at most.
    async fn start_on_a_free_port(&mut self, spec: &mut ReleaseSpec, key: &PortKey) -> Result<Endpoint> {
        for _ in 0..PORT_RETRIES {
            let error = match self.host.releases.start(spec).await {
                Ok(endpoint) => return Ok(endpoint),
                Err(e) => e,
            };
            let Ok(taken) = self.host.ports.taken(&self.host.name).await else { return Err(error) };
            if !taken.contains(&spec.host_port) {
                return Err(error);
            }
            self.host.releases.remove(&spec.release).await?;
            let (key, ranges, was) = (key.clone(), *self.platform.backends.ports.ranges(), spec.host_port);
            let moved = key.clone();
            spec.host_port = self
                .platform
                .blocking_state(move |s| {
                    s.modify(|doc| {
                        crate::ports::free_in(doc, &moved);
                        crate::ports::reserve_in(doc, &moved, &taken, &ranges)
                    })
                })
                .await?;
            self.ports.insert(key, spec.host_port);
            self.note(format!("host port {was} was taken after it was reserved; starting on {}", spec.host_port));
        }
        self.host.releases.start(spec).await
    }

    /// The host port reserved for an accessory (with the lock, or by an earlier deploy).
    async fn accessory_port(&self, service: Service) -> Result<Port> {
        let key = PortKey::new(self.project.clone(), self.env.clone(), service);
        if let Some(port) = self.ports.get(&key) {
            return Ok(*port);
        }
        let record = self.platform.snapshot_environment(&self.project, &self.env).await?;
        record
            .ports
            .get(&service)
            .copied()
            .ok_or_else(|| Error::conflict(format!("{service} has no port in the SSOT; run recover")))
    }

    /// One SSOT commit of `edit`, if the run still holds its locks (else `Conflict` naming who took them over).
    async fn commit(&self, edit: Edit) -> Result<Ssot> {
        let hold = self.lease.as_ref().map(Lease::hold);
        self.platform
            .blocking_state(move |s| {
                s.modify(|doc| {
                    hold.iter().try_for_each(|hold| hold.check_in(doc))?;
                    edit(doc)?;
                    Ok(doc.clone())
                })
            })
            .await
    }

    /// Commits the switch: the target serves on its port, the previous release is retired and keeps its port reserved.
    async fn record_switch(&self) -> Result<()> {
        let target = self.target()?.clone();
        let endpoint = self.endpoint()?;
        let (project, env, previous, image_id) =
            (self.project.clone(), self.env.clone(), self.previous.clone(), self.image_id.clone());
        let by = self.platform.settings.identity.deployer();
        self.commit(Box::new(move |doc| {
            let now = chrono::Utc::now();
            doc.check_domains_free(&project, &env, &target.config.domains)?;
            let record = doc.environment_mut(&project, &env);
            record.release_ports.remove(&target.id);
            record.ports.insert(Service::App, endpoint.port);
            for domain in &target.config.domains {
                if !record.domains.contains(domain) {
                    record.domains.push(domain.clone());
                }
            }
            let ports = record.ports.clone();
            if let Some(previous) = &previous {
                record.release_ports.insert(previous.id.clone(), previous.port);
                if let Some(old) = record.release_mut(&previous.id) {
                    old.status = ReleaseStatus::Retired;
                    old.updated_at = now;
                }
            }
            let release = record
                .release_mut(&target.id)
                .ok_or_else(|| Error::internal(format!("release {} vanished from the SSOT", target.id)))?;
            release.status = ReleaseStatus::Live;
            release.updated_at = now;
            if target.new_record {
                release.image = target.image.clone();
                release.config = ReleaseConfig { ports, ..target.config.clone() };
                release.image_digest = image_id.clone();
            } else {
                release.rolled_back_by = Some(by.clone());
            }
            record.current_release = Some(target.id.clone());
            Ok(())
        }))
        .await
        .map(drop)
    }

    /// Undoes every applied change in reverse, then commits in one write the
    /// SSOT side of the undo, the failure of a new release, `also`, and the unlock.
    ///
    /// A run whose lock was taken over undoes and records nothing: the
    /// environment is its new holder's to recover.
    pub(crate) async fn fail(&mut self, error: &Error, also: Option<Edit>) {
        self.events.emit(DeployEvent::StepStarted { step: Step::Cleanup });
        let started = Instant::now();
        if let Some(lease) = self.lease.as_mut().filter(|lease| lease.hold().is_lost()) {
            lease.stop().await;
            self.note("cleanup: left to the deploy lock's new holder, which recovers the environment".to_owned());
            self.events.emit(DeployEvent::StepFinished { step: Step::Cleanup, elapsed: started.elapsed() });
            return;
        }
        let mut edits: Vec<Edit> = Vec::new();
        while let Some((planned, undo)) = self.undo.pop() {
            match self.undo_one(undo).await {
                Ok(Some(edit)) => edits.push(edit),
                Ok(None) => {}
                Err(e) => self.note(format!("cleanup: could not undo {:?}: {e}", planned.change)),
            }
            self.events.emit(DeployEvent::ChangeUndone { change: planned });
        }
        if let Some(target) = self.target.as_ref().filter(|t| t.new_record) {
            let step = error.context_value("step").and_then(|s| s.parse::<Step>().ok()).unwrap_or(Step::Cleanup);
            let (project, env, id, reason) = (
                self.project.clone(),
                self.env.clone(),
                target.id.clone(),
                self.redactor.text(&error.to_string()).into_owned(),
            );
            edits.push(Box::new(move |doc| {
                if let Some(record) = doc.environment_mut(&project, &env).release_mut(&id) {
                    record.status = ReleaseStatus::Failed { step, reason: reason.clone() };
                    record.updated_at = chrono::Utc::now();
                }
                Ok(())
            }));
        }
        edits.extend(also);
        if let Err(e) = self.finish(edits).await {
            self.note(format!("cleanup: could not record the failure: {e}"));
        }
        self.events.emit(DeployEvent::StepFinished { step: Step::Cleanup, elapsed: started.elapsed() });
    }

    /// Ends the run: `edits` and the release of its locks in one commit
    /// (`Conflict` naming the new holder if one was taken over meanwhile).
    pub(crate) async fn finish(&mut self, mut edits: Vec<Edit>) -> Result<Ssot> {
        if let Some(lease) = self.lease.as_mut() {
            lease.stop().await;
            let hold = lease.hold();
            edits.push(Box::new(move |doc| hold.release_in(doc)));
        }
        self.commit(Box::new(move |doc| edits.iter().try_for_each(|edit| edit(doc)))).await
    }

    /// Runs one undo; SSOT undos come back as an edit for the failure commit.
    async fn undo_one(&self, undo: Undo) -> Result<Option<Edit>> {
        let b = &self.platform.backends;
        match undo {
            Undo::ReleasePort(key) => Ok(Some(Box::new(move |doc| {
                crate::ports::free_in(doc, &key);
                Ok(())
            }))),
            Undo::RemoveAccessory(name) => {
                gone_is_done(self.host.runtime.remove_container(&name, RemoveContainerOptions::FORCE).await)
                    .map(|()| None)
            }
            Undo::RemoveRelease(release) => self.host.releases.remove(&release).await.map(|()| None),
            Undo::RestoreRoute { host, previous: Some(route) } => {
                b.proxy.switch_upstreams(&host, &route.upstreams).await.map(|()| None)
            }
            Undo::RestoreRoute { host, previous: None } => {
                gone_is_done(b.proxy.remove_route(&host).await).map(|()| None)
            }
            Undo::RestoreRecord { zone, previous: Some(set), .. } => {
                b.dns.upsert_records(&zone, std::slice::from_ref(&set)).await.map(|()| None)
            }
            Undo::RestoreRecord { zone, name, previous: None } => {
                gone_is_done(b.dns.delete_records(&zone, &[(name, RecordType::A)]).await).map(|()| None)
            }
            Undo::ForgetDomain(domain) => {
                let (p, e) = (self.project.clone(), self.env.clone());
                Ok(Some(Box::new(move |doc| {
                    doc.environment_mut(&p, &e).domains.retain(|x| *x != domain);
                    Ok(())
                })))
            }
            Undo::GiveBackDomain { domain, to } => {
                let (p, e) = (self.project.clone(), self.env.clone());
                Ok(Some(Box::new(move |doc| {
                    doc.environment_mut(&p, &e).domains.retain(|x| *x != domain);
                    doc.environment_mut(&to.project, &to.env).domains.push(domain.clone());
                    Ok(())
                })))
            }
            Undo::RecreateRoute(route) => b.proxy.upsert_route(&route).await.map(|()| None),
            Undo::RestoreUpstream(records) => self.platform.restore_upstream(records).await.map(|()| None),
        }
    }

    /// Probes the new release through the watch window; rolls back automatically if it turns unhealthy.
    async fn watch(&mut self, window: std::time::Duration) -> Result<()> {
        let (target, endpoint) = (self.target()?.clone(), self.endpoint()?);
        let check = &target.health;
        let end = tokio::time::Instant::now() + window;
        let (mut failures, mut attempt) = (0, 0);
        let evidence = loop {
            let now = tokio::time::Instant::now();
            if now >= end {
                return Ok(());
            }
            tokio::time::sleep(check.interval.min(end - now)).await;
            attempt += 1;
            let verdict = self.platform.probe_once(&self.host, endpoint, check, &self.redactor).await;
            self.events.emit(DeployEvent::HealthProbe {
                release: target.id.clone(),
                attempt,
                healthy: verdict.healthy,
                evidence: verdict.evidence.clone(),
            });
            failures = if verdict.healthy { 0 } else { failures + 1 };
            if failures >= check.failure_threshold.max(1) {
                break verdict.evidence;
            }
        };
        let previous = self.previous.clone().ok_or_else(|| Error::internal("a watch without a previous release"))?;
        let reason = format!("release {} turned unhealthy during the watch window: {evidence}", target.id);
        self.auto_rollback(&target, &previous, &reason).await?;
        Err(Error::new(ErrorKind::Unhealthy, format!("{reason}; rolled back to {}", previous.id))
            .with_context("release", &target.id))
    }

    /// Brings the previous release back: start, health-gate, route back, record, remove the new one.
    async fn auto_rollback(&self, target: &Target, previous: &Previous, reason: &str) -> Result<()> {
        let b = &self.platform.backends;
        let record = self.platform.snapshot_environment(&self.project, &self.env).await?;
        let recorded = record
            .release(&previous.id)
            .ok_or_else(|| Error::internal(format!("release {} vanished from the SSOT", previous.id)))?;
        let (endpoint, _) = self
            .platform
            .run_again(&self.host, &self.project, &self.env, recorded, previous.port, &self.events)
            .await?;
        self.platform
            .wait_healthy(&self.host, &previous.id, endpoint, &previous.health, &self.events, &self.redactor)
            .await?;
        match self.platform.route_target(&self.project, &self.env, endpoint)? {
            // The routes discover the record: pointing it back is the whole switch.
            Upstreams::Srv(_) => {
                self.platform.point_environment(&self.project, &self.env, &self.host, endpoint).await?
            }
            to => {
                for host in &target.config.domains {
                    b.proxy.switch_upstreams(host, &to).await?;
                    self.events.emit(DeployEvent::RouteSwitched { host: host.clone(), to: to.clone() });
                }
            }
        }
        let (p, e, t, prev, why) =
            (self.project.clone(), self.env.clone(), target.id.clone(), previous.clone(), reason.to_owned());
        let by = self.platform.settings.identity.deployer();
        self.commit(Box::new(move |doc| {
            let now = chrono::Utc::now();
            let env = doc.environment_mut(&p, &e);
            env.ports.insert(Service::App, prev.port);
            env.release_ports.remove(&prev.id);
            env.current_release = Some(prev.id.clone());
            if let Some(old) = env.release_mut(&prev.id) {
                old.status = ReleaseStatus::Live;
                old.updated_at = now;
                old.rolled_back_by = Some(by.clone());
            }
            if let Some(new) = env.release_mut(&t) {
                new.status = ReleaseStatus::Failed { step: Step::Watch, reason: why.clone() };
                new.updated_at = now;
            }
            Ok(())
        }))
        .await?;
        if let (Some(failed), Some(_)) = (self.endpoint, &self.platform.settings.upstream_zone) {
            // Caddy may still send to the failed release until it resolves the record again.
            self.platform.drain(&self.host, failed.port, &self.events).await;
        }
        self.host.releases.remove(&self.release_ref(&target.id)).await?;
        self.events.emit(DeployEvent::RolledBack {
            from: target.id.clone(),
            to: previous.id.clone(),
            reason: reason.to_owned(),
        });
        Ok(())
    }
}

impl Platform {
    /// Probes a release until it answers healthy or its deadline passes.
    pub(crate) async fn wait_healthy(
        &self,
        host: &Host,
        release: &ReleaseId,
        endpoint: Endpoint,
        check: &HealthCheck,
        events: &Events,
        redactor: &Redactor,
    ) -> Result<()> {
        tokio::time::sleep(check.start_period).await;
        let deadline = tokio::time::Instant::now() + check.deadline;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let verdict = self.probe_once(host, endpoint, check, redactor).await;
            events.emit(DeployEvent::HealthProbe {
                release: release.clone(),
                attempt,
                healthy: verdict.healthy,
                evidence: verdict.evidence.clone(),
            });
            if verdict.healthy {
                return Ok(());
            }
            if tokio::time::Instant::now() + check.interval > deadline {
                return Err(Error::new(
                    ErrorKind::Unhealthy,
                    format!(
                        "release {release} did not answer healthy on {}{} within {:?} ({attempt} probes); last probe: {}",
                        endpoint.port, check.path, check.deadline, verdict.evidence
                    ),
                )
                .with_context("release", release));
            }
            tokio::time::sleep(check.interval).await;
        }
    }

    /// One probe of a release's endpoint from its server's side, judged on
    /// what it answered with the secrets of `redactor` masked (an app may echo
    /// one), so the evidence never holds them.
    pub(crate) async fn probe_once(
        &self,
        host: &Host,
        endpoint: Endpoint,
        check: &HealthCheck,
        redactor: &Redactor,
    ) -> ProbeVerdict {
        let request =
            ProbeRequest { host: endpoint.host, port: endpoint.port, path: check.path.clone(), timeout: check.timeout };
        let result = match tokio::time::timeout(check.timeout, host.http.get(&request)).await {
            Ok(result) => result,
            Err(_) => Err(Error::new(ErrorKind::Timeout, format!("no response within {:?}", check.timeout))),
        };
        let masked = match result {
            Ok(response) => Ok(ProbeResponse { body: redactor.text(&response.body).into_owned(), ..response }),
            Err(e) => Err(redactor.error(e)),
        };
        judge(check, &masked)
    }
}

/// The A record set of `name` in `zone`, if there is one (none when the zone is missing).
pub(crate) async fn a_record(
    dns: &dyn crate::dns::Dns,
    zone: &DomainName,
    name: &DomainName,
) -> Result<Option<RecordSet>> {
    let sets = match dns.list_records(zone).await {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        sets => sets?,
    };
    Ok(sets.into_iter().find(|set| set.name == *name && set.data.record_type() == RecordType::A))
}

/// A restored release's tag now names other content than the release ran
/// (rebuilt, or re-pushed and pulled): running it would not restore the release.
pub(crate) fn moved_tag(image: &ImageRef, release: &ReleaseId, ran: &str, now: &str) -> Error {
    Error::conflict(format!(
        "image {image} now names image {}, but release {release} ran {}; the tag was moved, so rolling back would run other code: deploy the old image by digest instead",
        short_id(now),
        short_id(ran)
    ))
    .with_context("release", release)
}

/// The first 12 hex digits of an image id, as `podman images` shows it.
fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12).unwrap_or(hex)
}
