//! Switching an environment from the release that serves to another one,
//! health-gated, with every step undone in reverse if a later one fails, and
//! an automatic rollback if the new release turns unhealthy while watched.
//!
//! Deploy and rollback both end here: a deploy switches to a new release, a
//! rollback to an earlier one restored from its recorded snapshot.

use std::future::Future;
use std::time::Instant;

use crate::dns::{RecordData, RecordSet, RecordType};
use crate::engine::events::Events;
use crate::engine::health::judge;
use crate::engine::naming::{environment_network, release_container};
use crate::engine::{DeployEvent, HealthCheck, Platform, ProbeRequest, Step};
use crate::model::{ContainerName, DomainName, EnvVar, Environment, ImageRef, Port, ProjectName, ReleaseId, Service};
use crate::ports::PortKey;
use crate::proxy::{Route, Upstream};
use crate::runtime::{BuildSpec, ContainerSpec, PortBinding, managed_labels};
use crate::ssot::{ReleaseConfig, ReleaseStatus, StateStoreExt};
use crate::{Error, ErrorKind, Result};

/// The release to switch to.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub id: ReleaseId,
    pub image: ImageRef,
    pub config: ReleaseConfig,
    pub container_port: Port,
    pub health: HealthCheck,
    pub vars: Vec<EnvVar>,
    /// How to build the image first, if it is built here.
    pub build: Option<BuildSpec>,
    /// The image id the release ran, when restoring one: its tag must still name that image.
    pub image_id: Option<String>,
    /// Whether the release record is new (a deploy) rather than an earlier one (a rollback).
    pub new_record: bool,
}

/// The release that served before the switch.
#[derive(Clone, Debug)]
pub(crate) struct Previous {
    pub id: ReleaseId,
    pub port: Port,
    pub container: ContainerName,
    pub health: HealthCheck,
}

/// One thing to undo if the switch fails before it is recorded.
#[derive(Debug)]
enum Undo {
    ReleasePort(PortKey),
    RemoveContainer(ContainerName),
    RestoreRoute { host: DomainName, previous: Option<Route> },
    RestoreRecords { zone: DomainName, name: DomainName, previous: Option<RecordSet> },
    StartPrevious(ContainerName),
}

/// What a successful switch produced.
#[derive(Clone, Debug)]
pub(crate) struct Switched {
    pub port: Port,
    pub container: ContainerName,
}

/// One switch of one environment, holding what to undo.
pub(crate) struct Cutover<'a> {
    platform: &'a Platform,
    project: ProjectName,
    env: Environment,
    events: Events,
    undo: Vec<Undo>,
}

impl<'a> Cutover<'a> {
    pub(crate) fn new(platform: &'a Platform, project: ProjectName, env: Environment, events: Events) -> Self {
        Cutover { platform, project, env, events, undo: Vec::new() }
    }

    /// Runs one step: emits its events and names it in any error.
    pub(crate) async fn step<T>(&self, step: Step, work: impl Future<Output = Result<T>>) -> Result<T> {
        self.events.emit(DeployEvent::StepStarted { step });
        let started = Instant::now();
        match work.await {
            Ok(value) => {
                self.events.emit(DeployEvent::StepFinished { step, elapsed: started.elapsed() });
                Ok(value)
            }
            Err(e) => {
                let e = e
                    .with_context("step", step)
                    .with_context("project", &self.project)
                    .with_context("environment", &self.env);
                self.events.emit(DeployEvent::StepFailed { step, error: e.to_string() });
                Err(e)
            }
        }
    }

    /// Switches to `target`; on failure undoes everything and records the release as failed.
    pub(crate) async fn switch(
        &mut self,
        target: &Target,
        previous: Option<&Previous>,
        networked: bool,
    ) -> Result<Switched> {
        match self.forward(target, previous, networked).await {
            Ok(switched) => {
                self.undo.clear();
                Ok(switched)
            }
            Err(e) => {
                self.fail(target, &e).await;
                Err(e)
            }
        }
    }

    async fn forward(&mut self, target: &Target, previous: Option<&Previous>, networked: bool) -> Result<Switched> {
        let b = self.platform.backends.clone();
        let s = &self.platform.settings;
        let key = PortKey::for_release(self.project.clone(), self.env.clone(), target.id.clone());
        let port = self.step(Step::AllocatePorts, b.ports.allocate(&key)).await?;
        self.undo.push(Undo::ReleasePort(key));

        let image = self
            .step(Step::Image, async {
                let image = match &target.build {
                    Some(spec) => b.runtime.build_image(spec).await?,
                    None => b.runtime.ensure_image(&target.image, None).await?,
                };
                match &target.image_id {
                    Some(ran) if *ran != image.id => Err(moved_tag(target, ran, &image.id)),
                    _ => Ok(image),
                }
            })
            .await?;

        let container = release_container(&self.project, &self.env, &target.id).map_err(Error::from)?;
        let spec = ContainerSpec {
            name: container.clone(),
            image: target.image.clone(),
            command: target.config.command.clone(),
            env: target.vars.clone(),
            labels: managed_labels(&self.project, &self.env, Service::App, Some(&target.id)),
            ports: vec![PortBinding {
                host_ip: s.bind_address,
                host_port: port,
                container_port: target.container_port,
            }],
            volumes: Vec::new(),
            network: if networked { Some(environment_network(&self.project, &self.env)?) } else { None },
            resources: target.config.resources,
            init: true,
        };
        // Undone even if only the create succeeds; removing a container that was never made is no problem.
        self.undo.push(Undo::RemoveContainer(container.clone()));
        self.step(Step::StartRelease, async {
            // A rollback target may still have its stopped container from before: replace it.
            match b.runtime.remove_container(&container, true).await {
                Err(e) if e.kind() != ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            b.runtime.create_container(&spec).await?;
            b.runtime.start_container(&container).await
        })
        .await?;

        self.step(Step::HealthCheck, self.platform.wait_healthy(&target.id, port, &target.health, &self.events))
            .await?;

        let upstream = Upstream { host: s.upstream_host, port };
        for host in &target.config.domains {
            let to = vec![upstream.clone()];
            let previous_route = self
                .step(Step::SwitchRoute, async {
                    let previous_route = b.proxy.get_route(host).await?;
                    match &previous_route {
                        Some(_) => b.proxy.switch_upstreams(host, &to).await?,
                        None => {
                            let route = Route { host: host.clone(), upstreams: to.clone(), tls: s.tls.clone() };
                            b.proxy.upsert_route(&route).await?
                        }
                    }
                    Ok(previous_route)
                })
                .await?;
            self.undo.push(Undo::RestoreRoute { host: host.clone(), previous: previous_route });
            self.events.emit(DeployEvent::RouteSwitched { host: host.clone(), to });
        }

        self.ensure_records(&target.config.domains).await?;

        if let Some(previous) = previous {
            let stop = async {
                tokio::time::sleep(s.drain_grace).await;
                b.runtime.stop_container(&previous.container, s.stop_grace).await
            };
            self.step(Step::StopPrevious, stop).await?;
            self.undo.push(Undo::StartPrevious(previous.container.clone()));
        }

        self.step(Step::Record, self.record_switch(target, previous, port, image.id)).await?;
        Ok(Switched { port, container })
    }

    /// Upserts an A record for every domain inside the managed zone, remembering what it replaced.
    async fn ensure_records(&mut self, domains: &[DomainName]) -> Result<()> {
        let b = self.platform.backends.clone();
        let Some(zone) = self.platform.settings.zone.clone() else { return Ok(()) };
        let (inside, outside): (Vec<_>, Vec<_>) = domains.iter().partition(|d| d.is_within(&zone));
        for domain in outside {
            self.events.note(format!("{domain} is outside the managed zone {zone}: no DNS record made"));
        }
        if inside.is_empty() {
            return Ok(());
        }
        let ip = self.platform.settings.public_ipv4;
        let sets: Vec<RecordSet> =
            inside.iter().map(|d| RecordSet { name: (*d).clone(), ttl: 60, data: RecordData::A(vec![ip]) }).collect();
        let existing = self
            .step(Step::Dns, async {
                b.dns.ensure_zone(&zone).await?;
                let existing = b.dns.list_records(&zone).await?;
                b.dns.upsert_records(&zone, &sets).await?;
                Ok(existing)
            })
            .await?;
        for set in sets {
            let previous =
                existing.iter().find(|e| e.name == set.name && e.data.record_type() == RecordType::A).cloned();
            self.undo.push(Undo::RestoreRecords { zone: zone.clone(), name: set.name, previous });
        }
        Ok(())
    }

    /// Commits the switch: the target serves on `port`, the previous release is retired and keeps its port reserved.
    async fn record_switch(
        &self,
        target: &Target,
        previous: Option<&Previous>,
        port: Port,
        image_id: String,
    ) -> Result<()> {
        let (project, env) = (self.project.clone(), self.env.clone());
        let (target, previous) = (target.clone(), previous.cloned());
        self.platform
            .blocking_state(move |store| {
                store.modify(|doc| {
                    let now = chrono::Utc::now();
                    let record = doc.environment_mut(&project, &env);
                    record.release_ports.remove(&target.id);
                    record.ports.insert(Service::App, port);
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
                        release.config.ports = ports;
                        release.image_digest = Some(image_id);
                    }
                    record.current_release = Some(target.id.clone());
                    Ok(())
                })
            })
            .await
    }

    /// Undoes every recorded change in reverse and marks a new release failed.
    async fn fail(&mut self, target: &Target, error: &Error) {
        self.events.emit(DeployEvent::StepStarted { step: Step::Cleanup });
        let problems = self.undo_all().await;
        for problem in &problems {
            self.events.note(format!("cleanup: {problem}"));
        }
        if target.new_record {
            let step = error.context_value("step").unwrap_or("unknown").to_owned();
            let reason = error.to_string();
            if let Err(e) = self.platform.mark_failed(&self.project, &self.env, &target.id, step, reason).await {
                self.events.note(format!("cleanup: could not record release {} as failed: {e}", target.id));
            }
        }
        self.events.emit(DeployEvent::StepFinished { step: Step::Cleanup, elapsed: std::time::Duration::ZERO });
    }

    /// Runs the undo log in reverse, returning what could not be undone.
    async fn undo_all(&mut self) -> Vec<String> {
        let b = self.platform.backends.clone();
        let mut problems = Vec::new();
        while let Some(undo) = self.undo.pop() {
            let result = match &undo {
                Undo::StartPrevious(name) => b.runtime.start_container(name).await,
                Undo::RestoreRecords { zone, name, previous: Some(set) } => {
                    let _ = name;
                    b.dns.upsert_records(zone, std::slice::from_ref(set)).await
                }
                Undo::RestoreRecords { zone, name, previous: None } => {
                    b.dns.delete_records(zone, &[(name.clone(), RecordType::A)]).await
                }
                Undo::RestoreRoute { host, previous: Some(route) } => {
                    b.proxy.switch_upstreams(host, &route.upstreams).await
                }
                Undo::RestoreRoute { host, previous: None } => b.proxy.remove_route(host).await,
                Undo::RemoveContainer(name) => match b.runtime.remove_container(name, true).await {
                    Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
                    other => other,
                },
                Undo::ReleasePort(key) => b.ports.release(key).await.map(drop),
            };
            if let Err(e) = result {
                problems.push(format!("{undo:?}: {e}"));
            }
        }
        problems
    }
}

impl Platform {
    /// Probes a release until it answers healthy or its deadline passes.
    pub(crate) async fn wait_healthy(
        &self,
        release: &ReleaseId,
        port: Port,
        check: &HealthCheck,
        events: &Events,
    ) -> Result<()> {
        tokio::time::sleep(check.start_period).await;
        let deadline = tokio::time::Instant::now() + check.deadline;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let verdict = self.probe_once(port, check).await;
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
                        port, check.path, check.deadline, verdict.evidence
                    ),
                )
                .with_context("release", release));
            }
            tokio::time::sleep(check.interval).await;
        }
    }

    /// One probe of a release's port, judged.
    pub(crate) async fn probe_once(&self, port: Port, check: &HealthCheck) -> crate::engine::ProbeVerdict {
        let request =
            ProbeRequest { host: self.settings.upstream_host, port, path: check.path.clone(), timeout: check.timeout };
        let result = match tokio::time::timeout(check.timeout, self.backends.http.get(&request)).await {
            Ok(result) => result,
            Err(_) => Err(Error::new(ErrorKind::Timeout, format!("no response within {:?}", check.timeout))),
        };
        judge(check, &result)
    }

    /// Records a release as failed at `step` because of `reason`.
    pub(crate) async fn mark_failed(
        &self,
        project: &ProjectName,
        env: &Environment,
        release: &ReleaseId,
        step: String,
        reason: String,
    ) -> Result<()> {
        let (project, env, release) = (project.clone(), env.clone(), release.clone());
        self.blocking_state(move |store| {
            store.modify(|doc| {
                if let Some(record) = doc.environment_mut(&project, &env).release_mut(&release) {
                    record.status = ReleaseStatus::Failed { step, reason };
                    record.updated_at = chrono::Utc::now();
                }
                Ok(())
            })
        })
        .await
    }
}

/// A restored release's tag now names other content than the release ran
/// (rebuilt, or re-pushed and pulled): running it would not restore the release.
fn moved_tag(target: &Target, ran: &str, now: &str) -> Error {
    Error::conflict(format!(
        "image {} now names image {}, but release {} ran {}; the tag was moved, so rolling back would run other code: deploy the old image by digest instead",
        target.image,
        short_id(now),
        target.id,
        short_id(ran)
    ))
    .with_context("release", &target.id)
}

/// The first 12 hex digits of an image id, as `podman images` shows it.
fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12).unwrap_or(hex)
}
