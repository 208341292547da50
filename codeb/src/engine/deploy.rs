//! Deploys: lock, configure, accessories, cutover, watch, prune, unlock.

use std::time::Instant;

use crate::engine::cutover::{Cutover, Previous, Switched, Target};
use crate::engine::events::Events;
use crate::engine::lock::{self, LockRequest};
use crate::engine::naming::release_container;
use crate::engine::{DeployEvent, DeployOptions, DeployRequest, Plan, Platform, Step};
use crate::model::{DomainName, Environment, ImageRef, Port, ProjectName, ReleaseId, Service};
use crate::proxy::Upstream;
use crate::secrets::Scope;
use crate::ssot::{ReleaseConfig, ReleaseRecord, ReleaseStatus, StateStoreExt};
use crate::{Error, ErrorKind, Result};

/// What a finished deploy or rollback did.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DeployReport {
    /// The project.
    pub project: ProjectName,
    /// The environment.
    pub env: Environment,
    /// The release that serves now.
    pub release: ReleaseId,
    /// Its image.
    pub image: ImageRef,
    /// The host port it serves on.
    pub port: Port,
    /// The release it replaced.
    pub previous: Option<ReleaseId>,
    /// The domains routed to it.
    pub domains: Vec<DomainName>,
    /// How long it took, in milliseconds.
    pub elapsed_ms: u64,
}

impl Platform {
    /// Plans and deploys `request` under the environment's lock.
    pub async fn deploy(&self, request: &DeployRequest, options: &DeployOptions) -> Result<DeployReport> {
        let started = Instant::now();
        let events = Events::new(options.events.clone());
        self.with_lock(&request.project, &request.env, None, options, &events, async {
            let plan = self.plan(request).await?;
            self.run_deploy(&plan, &events, started).await
        })
        .await
    }

    /// Applies a plan made earlier, refusing if the SSOT moved since (`Conflict`: plan again).
    pub async fn apply(&self, plan: &Plan, options: &DeployOptions) -> Result<DeployReport> {
        let started = Instant::now();
        let events = Events::new(options.events.clone());
        self.with_lock(
            &plan.project,
            &plan.env,
            Some(plan.revision),
            options,
            &events,
            self.run_deploy(plan, &events, started),
        )
        .await
    }

    /// Takes the environment's lock, runs `work`, and releases the lock whatever happened.
    pub(crate) async fn with_lock<T>(
        &self,
        project: &ProjectName,
        env: &Environment,
        expect_revision: Option<u64>,
        options: &DeployOptions,
        events: &Events,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let cut = Cutover::new(self, project.clone(), env.clone(), events.clone());
        let (store, liveness, me) =
            (self.backends.state.clone(), self.backends.liveness.clone(), self.settings.identity.clone());
        let (p, e, message, wait) = (project.clone(), env.clone(), options.message.clone(), options.wait_for_lock);
        cut.step(Step::Lock, async move {
            let request = LockRequest { project: &p, env: &e, me: &me, message, expect_revision };
            lock::acquire(store.as_ref(), &request, liveness.as_ref(), wait).await
        })
        .await?;
        let result = work.await;
        let (p, e, me) = (project.clone(), env.clone(), self.settings.identity.clone());
        let unlocked = self.blocking_state(move |s| lock::release_own(s, &p, &e, &me)).await;
        match (result, unlocked) {
            (Ok(value), Ok(())) => Ok(value),
            (Ok(_), Err(e)) => Err(e.with_context("step", "unlock")),
            (Err(e), Ok(())) => Err(e),
            (Err(e), Err(unlock)) => {
                events.note(format!("the deploy lock could not be released: {unlock}"));
                Err(e)
            }
        }
    }

    async fn run_deploy(&self, plan: &Plan, events: &Events, started: Instant) -> Result<DeployReport> {
        let request = &plan.request;
        let (project, env) = (&plan.project, &plan.env);
        let mut cut = Cutover::new(self, project.clone(), env.clone(), events.clone());
        let record = self.snapshot_environment(project, env).await?;
        let previous = match record.current() {
            Some(current) => Some(self.previous_of(project, env, current, record.ports.get(&Service::App).copied())?),
            None => None,
        };
        self.add_pending(plan).await?;

        let scope = Scope::new(project.clone(), env.clone());
        let prepared = async {
            let secrets = self.backends.secrets.clone();
            let vars = request.env_vars.clone();
            cut.step(Step::Configure, async { if vars.is_empty() { Ok(0) } else { secrets.set(&scope, &vars).await } })
                .await?;
            let accessories =
                cut.step(Step::Accessories, self.ensure_accessories(project, env, request.accessories)).await?;
            Ok::<_, Error>(accessories)
        }
        .await;
        let accessories = match prepared {
            Ok(accessories) => accessories,
            Err(e) => {
                self.fail_before_cutover(project, env, &plan.release, &e, &[]).await;
                return Err(e);
            }
        };

        let target = match self.deploy_target(plan, &scope).await {
            Ok(target) => target,
            Err(e) => {
                self.fail_before_cutover(project, env, &plan.release, &e, &accessories.created).await;
                return Err(e);
            }
        };
        let networked = target.config.networked;
        let switched = match cut.switch(&target, previous.as_ref(), networked).await {
            Ok(switched) => switched,
            Err(e) => {
                self.remove_containers(&accessories.created, events).await;
                return Err(e);
            }
        };
        if let Some(previous) = &previous {
            self.watch(&cut, project, env, &target, &switched, previous, events).await?;
        }
        self.finish(project, env, previous.as_ref(), events).await?;
        Ok(DeployReport {
            project: project.clone(),
            env: env.clone(),
            release: target.id,
            image: target.image,
            port: switched.port,
            previous: previous.map(|p| p.id),
            domains: plan.domains.clone(),
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// The environment's record as it stands (empty if never deployed).
    pub(crate) async fn snapshot_environment(
        &self,
        project: &ProjectName,
        env: &Environment,
    ) -> Result<crate::ssot::EnvironmentRecord> {
        let (p, e) = (project.clone(), env.clone());
        self.blocking_state(move |s| s.view(|doc| Ok(doc.environment(&p, &e).cloned().unwrap_or_default()))).await
    }

    /// How to reach and restore the release that serves now.
    pub(crate) fn previous_of(
        &self,
        project: &ProjectName,
        env: &Environment,
        current: &ReleaseRecord,
        port: Option<Port>,
    ) -> Result<Previous> {
        let port = port.ok_or_else(|| {
            Error::conflict(format!("release {} is current but the SSOT records no app port; run recover", current.id))
        })?;
        Ok(Previous {
            id: current.id.clone(),
            port,
            container: release_container(project, env, &current.id)?,
            health: current.config.health.clone().unwrap_or_default(),
        })
    }

    /// Records the plan's release as pending, so a crash leaves a trace recovery can act on.
    async fn add_pending(&self, plan: &Plan) -> Result<()> {
        let (project, env) = (plan.project.clone(), plan.env.clone());
        let record = ReleaseRecord {
            id: plan.release.clone(),
            image: plan.image.clone(),
            image_digest: None,
            config: ReleaseConfig::default(),
            status: ReleaseStatus::Pending,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        self.blocking_state(move |s| {
            s.modify(|doc| {
                let env = doc.environment_mut(&project, &env);
                if env.release(&record.id).is_some() {
                    return Err(Error::conflict(format!("release {} exists already; plan again", record.id)));
                }
                env.releases.push(record);
                Ok(())
            })
        })
        .await
    }

    /// The new release's full snapshot: variables at their current version, ports, domains, health.
    async fn deploy_target(&self, plan: &Plan, scope: &Scope) -> Result<Target> {
        let request = &plan.request;
        let set = self.backends.secrets.list(scope).await?;
        let networked = request.accessories.postgres || request.accessories.redis;
        let config = ReleaseConfig {
            env_version: set.version,
            ports: Default::default(),
            domains: plan.domains.clone(),
            resources: request.resources,
            container_port: Some(request.app_port),
            command: request.command.clone(),
            health: Some(request.health.clone()),
            networked,
        };
        let (project, env, id, snapshot) =
            (plan.project.clone(), plan.env.clone(), plan.release.clone(), config.clone());
        self.blocking_state(move |s| {
            s.modify(|doc| {
                if let Some(release) = doc.environment_mut(&project, &env).release_mut(&id) {
                    release.config = snapshot;
                }
                Ok(())
            })
        })
        .await?;
        Ok(Target {
            id: plan.release.clone(),
            image: plan.image.clone(),
            config,
            container_port: request.app_port,
            health: request.health.clone(),
            vars: set.vars,
            build: request.build.clone(),
            image_id: None,
            new_record: true,
        })
    }

    async fn fail_before_cutover(
        &self,
        project: &ProjectName,
        env: &Environment,
        release: &ReleaseId,
        error: &Error,
        created: &[crate::model::ContainerName],
    ) {
        let events = Events::default();
        self.remove_containers(created, &events).await;
        let step = error.context_value("step").unwrap_or("unknown").to_owned();
        let _ = self.mark_failed(project, env, release, step, error.to_string()).await;
    }

    async fn remove_containers(&self, names: &[crate::model::ContainerName], events: &Events) {
        for name in names {
            if let Err(e) = self.backends.runtime.remove_container(name, true).await {
                events.note(format!("cleanup: could not remove {name}: {e}"));
            }
        }
    }

    /// Probes the new release through the watch window; rolls back automatically if it turns unhealthy.
    #[allow(clippy::too_many_arguments)]
    async fn watch(
        &self,
        cut: &Cutover<'_>,
        project: &ProjectName,
        env: &Environment,
        target: &Target,
        switched: &Switched,
        previous: &Previous,
        events: &Events,
    ) -> Result<()> {
        let window = self.settings.watch_window;
        if window.is_zero() {
            return Ok(());
        }
        let check = &target.health;
        let watched = async {
            let end = tokio::time::Instant::now() + window;
            let (mut failures, mut attempt) = (0, 0);
            loop {
                let now = tokio::time::Instant::now();
                if now >= end {
                    return Ok(());
                }
                tokio::time::sleep(check.interval.min(end - now)).await;
                attempt += 1;
                let verdict = self.probe_once(switched.port, check).await;
                events.emit(DeployEvent::HealthProbe {
                    release: target.id.clone(),
                    attempt,
                    healthy: verdict.healthy,
                    evidence: verdict.evidence.clone(),
                });
                failures = if verdict.healthy { 0 } else { failures + 1 };
                if failures >= check.failure_threshold.max(1) {
                    return Err(verdict.evidence);
                }
            }
        };
        let evidence = match cut.step(Step::Watch, async { Ok(watched.await) }).await? {
            Ok(()) => return Ok(()),
            Err(evidence) => evidence,
        };
        let reason = format!("release {} turned unhealthy during the watch window: {evidence}", target.id);
        cut.step(Step::Watch, self.auto_rollback(project, env, target, switched, previous, &reason, events)).await?;
        Err(Error::new(ErrorKind::Unhealthy, format!("{reason}; rolled back to {}", previous.id))
            .with_context("step", Step::Watch)
            .with_context("release", &target.id))
    }

    /// Brings the previous release back: start, health-gate, route back, record, remove the new one.
    #[allow(clippy::too_many_arguments)]
    async fn auto_rollback(
        &self,
        project: &ProjectName,
        env: &Environment,
        target: &Target,
        switched: &Switched,
        previous: &Previous,
        reason: &str,
        events: &Events,
    ) -> Result<()> {
        let b = &self.backends;
        b.runtime.start_container(&previous.container).await?;
        self.wait_healthy(&previous.id, previous.port, &previous.health, events).await?;
        let upstream = vec![Upstream { host: self.settings.upstream_host, port: previous.port }];
        for host in &target.config.domains {
            b.proxy.switch_upstreams(host, &upstream).await?;
            events.emit(DeployEvent::RouteSwitched { host: host.clone(), to: upstream.clone() });
        }
        let (p, e, t, prev, why) =
            (project.clone(), env.clone(), target.id.clone(), previous.clone(), reason.to_owned());
        self.blocking_state(move |s| {
            s.modify(|doc| {
                let now = chrono::Utc::now();
                let env = doc.environment_mut(&p, &e);
                env.ports.insert(Service::App, prev.port);
                env.release_ports.remove(&prev.id);
                env.current_release = Some(prev.id.clone());
                if let Some(old) = env.release_mut(&prev.id) {
                    old.status = ReleaseStatus::Live;
                    old.updated_at = now;
                }
                if let Some(new) = env.release_mut(&t) {
                    new.status = ReleaseStatus::Failed { step: Step::Watch.to_string(), reason: why };
                    new.updated_at = now;
                }
                Ok(())
            })
        })
        .await?;
        b.runtime.remove_container(&switched.container, true).await?;
        events.emit(DeployEvent::RolledBack {
            from: target.id.clone(),
            to: previous.id.clone(),
            reason: reason.to_owned(),
        });
        Ok(())
    }

    /// After a good cutover: free the previous release's port and prune releases beyond the kept number.
    pub(crate) async fn finish(
        &self,
        project: &ProjectName,
        env: &Environment,
        previous: Option<&Previous>,
        events: &Events,
    ) -> Result<()> {
        let keep = self.settings.keep_releases.max(1);
        let (p, e, prev) = (project.clone(), env.clone(), previous.map(|p| p.id.clone()));
        let pruned = self
            .blocking_state(move |s| {
                s.modify(|doc| {
                    let env = doc.environment_mut(&p, &e);
                    if let Some(prev) = &prev {
                        env.release_ports.remove(prev);
                    }
                    let excess = env.releases.len().saturating_sub(keep);
                    let current = env.current_release.clone();
                    let mut pruned = Vec::new();
                    env.releases.retain(|r| {
                        let drop = pruned.len() < excess && Some(&r.id) != current.as_ref();
                        if drop {
                            pruned.push(r.id.clone());
                        }
                        !drop
                    });
                    Ok(pruned)
                })
            })
            .await?;
        for id in pruned {
            let name = release_container(project, env, &id)?;
            match self.backends.runtime.remove_container(&name, true).await {
                Err(e) if e.kind() != ErrorKind::NotFound => {
                    events.note(format!("could not remove pruned release {id}: {e}"))
                }
                _ => {}
            }
        }
        Ok(())
    }
}
