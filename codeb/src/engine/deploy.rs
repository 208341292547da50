//! Deploying: a plan applied by the executor under the environment's lock,
//! then the end of the run (the previous release's port freed, old releases
//! pruned, the lock released) in one SSOT commit, and the retirement of what
//! no longer serves (now, or later: `engine::retire`).

use std::time::Instant;

use crate::engine::events::Events;
use crate::engine::executor::{Edit, Executor, Previous, Target};
use crate::engine::lock::{LockRequest, STALE_PLAN};
use crate::engine::retire::{Retirement, Retiring};
use crate::engine::{Change, DeployOptions, Plan, PlannedChange, Platform, RecoverReport};
use crate::fleet::Host;
use crate::model::{DomainName, Environment, ImageRef, Port, ProjectName, ReleaseId, ServerName, Service, Step};
use crate::releases::ReleaseRef;
use crate::ssot::{EnvironmentRecord, ReleaseConfig, ReleaseRecord, ReleaseStatus, Ssot, StateStoreExt};
use crate::{Error, ErrorKind, Result};

/// What a successful deploy (or rollback) did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct DeployReport {
    /// The project.
    pub project: ProjectName,
    /// The environment.
    pub env: Environment,
    /// The server it runs on.
    pub server: ServerName,
    /// The release that serves now.
    pub release: ReleaseId,
    /// Its image.
    pub image: ImageRef,
    /// Its host port.
    pub port: Port,
    /// The release it replaced.
    pub previous: Option<ReleaseId>,
    /// The domains routed to it.
    pub domains: Vec<DomainName>,
    /// How long the deploy took, in milliseconds.
    pub elapsed_ms: u64,
    /// What recovering first did, when an interrupted deploy's holder was gone (see [`Platform::deploy`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<RecoverReport>,
    /// What the deploy left to [`Platform::retire`] (with [`DeployOptions::retire_later`]):
    /// the previous release still drains and runs until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring: Option<Retirement>,
}

impl std::fmt::Display for DeployReport {
    /// What serves now, then the address of each domain on a line of its own.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} serves {} ({}) on port {}", self.project, self.env, self.release, self.image, self.port)?;
        if let Some(previous) = &self.previous {
            write!(f, ", replacing {previous}")?;
        }
        if self.retiring.as_ref().is_some_and(|r| r.previous.is_some()) {
            f.write_str(" (it drains and stops in the background)")?;
        }
        write!(f, " in {} ms", self.elapsed_ms)?;
        if self.recovered.is_some() {
            f.write_str(", after recovering from an interrupted deploy")?;
        }
        self.domains.iter().try_for_each(|d| write!(f, "\n  http://{d}/"))
    }
}

impl Platform {
    /// Plans and deploys `request` in one go.
    ///
    /// The plan runs only if the SSOT is still at the revision it was made
    /// at; when another change landed in between (another deploy finished
    /// while this one waited for the lock), the request is planned again.
    ///
    /// When the lock is stale (its lease ran out, or its holder is a process
    /// on this host that no longer runs), the environment is recovered first,
    /// as [`Platform::recover`] without `force` does, and the report says so;
    /// a holder whose lease runs is `Locked`, as always.
    pub async fn deploy(
        &self,
        request: &crate::engine::DeployRequest,
        options: &DeployOptions,
    ) -> Result<DeployReport> {
        const MAX_PLANS: usize = 20;
        let (mut planned, mut recovered) = (0, None);
        loop {
            let plan = self.plan(request).await.map_err(|e| e.with_context("step", Step::Plan))?;
            planned += 1;
            match self.run_plan(&plan, Some(plan.revision), options).await {
                Err(e) if e.context_value(STALE_PLAN) == Some("true") && planned < MAX_PLANS => {}
                Err(e) if is_stale_lock(&e) && recovered.is_none() => {
                    recovered = Some(self.recover(&request.project, &request.env, false, options).await?);
                }
                Ok(report) => return Ok(DeployReport { recovered, ..report }),
                Err(e) => return Err(e),
            }
        }
    }

    /// Carries out a plan made earlier, refusing if the SSOT moved since (plan again).
    ///
    /// A plan runs only if planning its request now gives the same plan: a
    /// saved plan that was edited (a change added, another project's name put
    /// in) or that the platform moved away from is refused, changing nothing.
    pub async fn apply(&self, plan: &Plan, options: &DeployOptions) -> Result<DeployReport> {
        let fresh = self.plan(&plan.request).await?;
        let same = (&fresh.project, &fresh.env, &fresh.server, fresh.revision, &fresh.release)
            == (&plan.project, &plan.env, &plan.server, plan.revision, &plan.release)
            && (&fresh.image, &fresh.previous, &fresh.domains, &fresh.changes)
                == (&plan.image, &plan.previous, &plan.domains, &plan.changes);
        if !same {
            return Err(not_what_planning_gives(fresh.revision, plan.revision)
                .with_context("project", &plan.project)
                .with_context("environment", &plan.env)
                .with_context("server", &plan.server));
        }
        self.run_plan(plan, Some(plan.revision), options).await
    }

    async fn run_plan(
        &self,
        plan: &Plan,
        expect_revision: Option<u64>,
        options: &DeployOptions,
    ) -> Result<DeployReport> {
        let started = Instant::now();
        let events = Events::new(options.events.clone());
        let (project, env) = (&plan.project, &plan.env);
        let host = self.backends.fleet.host(&plan.server)?.clone();
        let record = self.snapshot_environment(project, env).await?;
        let previous = record.current().map(|current| self.previous_of(current, &record)).transpose()?;
        let request = &plan.request;
        let target = Target {
            id: plan.release.clone(),
            image: plan.image.clone(),
            config: ReleaseConfig {
                env_version: Default::default(),
                ports: Default::default(),
                domains: plan.domains.clone(),
                resources: request.resources,
                container_port: Some(request.app_port),
                command: request.command.clone(),
                health: Some(request.health.clone()),
                networked: !request.accessories.services().is_empty(),
                release_command: request.release_command.clone(),
            },
            container_port: request.app_port,
            health: request.health.clone(),
            vars: None,
            plain_vars: request.env_vars.clone(),
            build: request.build.clone(),
            new_record: true,
        };
        let mut run = Executor::new(self, project.clone(), env.clone(), host.clone(), events.clone())
            .switching(target, previous.clone());
        let pending = ReleaseRecord {
            id: plan.release.clone(),
            image: plan.image.clone(),
            image_digest: None,
            config: ReleaseConfig::default(),
            status: ReleaseStatus::Pending,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            deployed_by: Some(self.settings.identity.deployer()),
            rolled_back_by: None,
        };
        let lock = LockRequest {
            expect_revision,
            ..LockRequest::new(project, env, options.lock_message(|| format!("deploy {project}/{env}")))
        };
        run.lock(&[lock], Some(add_pending(project, env, &host.name, pending)), &plan.changes, options.wait_for_lock)
            .await?;
        let (now, later) = split_retirement(&plan.changes, options.retire_later);
        if let Err(e) = run.run(&now).await {
            run.fail(&e, None).await;
            return Err(e);
        }
        // Taken while the lock is held, before anything can start the release again.
        let retiring = match (&previous, later) {
            (Some(previous), true) => self.retiring(&host, project, env, previous, &events).await,
            _ => None,
        };
        let keep = self.settings.keep_releases.max(1);
        let (previous_id, retiring_id) =
            (previous.as_ref().map(|p| p.id.clone()), retiring.as_ref().map(|r| r.release.clone()));
        let doc = run.finish(vec![finish_edit(project, env, previous_id, retiring_id, keep)]).await?;
        let retirement = Retirement {
            project: project.clone(),
            env: env.clone(),
            server: host.name.clone(),
            previous: retiring,
            leftovers: leftovers(project, env, &record, &doc),
        };
        let retiring = match later {
            true => Some(retirement),
            false => {
                self.retire(&retirement, options).await?;
                None
            }
        };
        let record = doc.environment(project, env);
        let serving = record.and_then(|e| e.ports.get(&Service::App).copied());
        // What the release runs: the registry's digest when it was pushed.
        let image = record.and_then(|e| e.release(&plan.release)).map_or(&plan.image, |r| &r.image);
        Ok(DeployReport {
            project: project.clone(),
            env: env.clone(),
            server: host.name.clone(),
            release: plan.release.clone(),
            image: image.clone(),
            port: serving.ok_or_else(|| Error::internal("the serving port vanished from the SSOT"))?,
            previous: previous.map(|p| p.id),
            domains: plan.domains.clone(),
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            recovered: None,
            retiring,
        })
    }

    /// The previous release as it runs now, for a retirement later; `None`,
    /// with a note, when its container cannot be found.
    async fn retiring(
        &self,
        host: &Host,
        project: &ProjectName,
        env: &Environment,
        previous: &Previous,
        events: &Events,
    ) -> Option<Retiring> {
        let release = ReleaseRef { project: project.clone(), env: env.clone(), release: previous.id.clone() };
        match host.releases.instance(&release).await {
            Ok(instance) => Some(Retiring { release: previous.id.clone(), instance, port: previous.port }),
            Err(e) => {
                events.note(format!("the previous release {} is not there to stop: {e}", previous.id));
                None
            }
        }
    }

    /// The environment's record as it stands (empty if never deployed).
    pub(crate) async fn snapshot_environment(
        &self,
        project: &ProjectName,
        env: &Environment,
    ) -> Result<EnvironmentRecord> {
        let (p, e) = (project.clone(), env.clone());
        self.blocking_state(move |s| s.view(|doc| Ok(doc.environment(&p, &e).cloned().unwrap_or_default()))).await
    }

    /// How to restore the release that serves now.
    pub(crate) fn previous_of(&self, current: &ReleaseRecord, record: &EnvironmentRecord) -> Result<Previous> {
        let port = record.ports.get(&Service::App).copied().ok_or_else(|| {
            Error::conflict(format!("release {} is current but the SSOT records no app port; run recover", current.id))
        })?;
        Ok(Previous { id: current.id.clone(), port, health: current.config.health.clone().unwrap_or_default() })
    }
}

/// The changes a deploy runs now, and whether it leaves the previous
/// release's stop to a retirement: only when asked to (`retire_later`) and
/// the stop is followed by nothing but the watch (which then watches the new
/// release with the previous one still running, so an automatic rollback
/// needs no start).
fn split_retirement(changes: &[PlannedChange], retire_later: bool) -> (Vec<PlannedChange>, bool) {
    let stop = changes.iter().position(|c| matches!(c.change, Change::StopRelease { .. }));
    let only_watch_after = |at: usize| changes[at + 1..].iter().all(|c| matches!(c.change, Change::Watch { .. }));
    match stop.filter(|at| retire_later && only_watch_after(*at)) {
        Some(at) => ([&changes[..at], &changes[at + 1..]].concat(), true),
        None => (changes.to_vec(), false),
    }
}

/// The releases whose containers go after a deploy: those the finish commit
/// pruned, and failed ones, which a failed deploy's undo may not have
/// reached (its server was down). None of them serves or is a rollback target.
fn leftovers(project: &ProjectName, env: &Environment, before: &EnvironmentRecord, after: &Ssot) -> Vec<ReleaseId> {
    let kept = after.environment(project, env);
    let pruned = before.releases.iter().filter(|r| kept.is_none_or(|k| k.release(&r.id).is_none()));
    let failed =
        kept.into_iter().flat_map(|k| &k.releases).filter(|r| matches!(r.status, ReleaseStatus::Failed { .. }));
    pruned.chain(failed).map(|r| r.id.clone()).collect()
}

/// Whether `e` is a lock held by a process that is gone.
fn is_stale_lock(e: &Error) -> bool {
    e.kind() == ErrorKind::Locked && e.context_value("stale") == Some("true")
}

/// A saved plan that planning its request again does not give: refused at
/// the `plan` step, before anything is locked or changed.
pub(crate) fn not_what_planning_gives(now: u64, planned: u64) -> Error {
    let error = if now == planned {
        Error::conflict(
            "the plan was not applied: it differs from what planning its request gives now (edited, or the platform changed outside the SSOT); plan again",
        )
    } else {
        Error::conflict(format!(
            "the plan was not applied: the SSOT moved from revision {planned} to {now} since it was made; plan again"
        ))
        .with_context(STALE_PLAN, true)
    };
    error.with_context("step", Step::Plan)
}

/// The edit that records a new release as pending, so a crash leaves a trace recovery can act on.
fn add_pending(project: &ProjectName, env: &Environment, server: &ServerName, record: ReleaseRecord) -> Edit {
    let (project, env, server) = (project.clone(), env.clone(), server.clone());
    Box::new(move |doc| {
        let env = doc.environment_mut(&project, &env);
        if env.release(&record.id).is_some() {
            return Err(Error::conflict(format!("release {} exists already; plan again", record.id))
                .with_context(STALE_PLAN, true));
        }
        match &env.server {
            Some(recorded) if *recorded != server => {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "the environment runs on server {recorded}, but the plan was made for {server}; plan again"
                    ),
                ));
            }
            _ => env.server = Some(server.clone()),
        }
        env.releases.push(record.clone());
        Ok(())
    })
}

/// The end of a good run: free the ports of the previous and every other
/// retired release but `retiring` (the previous one, when it retires later:
/// [`Platform::retire`] frees its port once it has stopped), and prune
/// releases beyond the kept number.
fn finish_edit(
    project: &ProjectName,
    env: &Environment,
    previous: Option<ReleaseId>,
    retiring: Option<ReleaseId>,
    keep: usize,
) -> Edit {
    let (project, env) = (project.clone(), env.clone());
    Box::new(move |doc| {
        let env = doc.environment_mut(&project, &env);
        let retired: Vec<ReleaseId> = env
            .releases
            .iter()
            .filter(|r| r.status == ReleaseStatus::Retired)
            .map(|r| r.id.clone())
            .chain(previous.clone())
            .collect();
        env.release_ports.retain(|id, _| Some(id) == retiring.as_ref() || !retired.contains(id));
        let excess = env.releases.len().saturating_sub(keep);
        let current = env.current_release.clone();
        let mut dropped = 0;
        env.releases.retain(|r| {
            let drop = dropped < excess && Some(&r.id) != current.as_ref();
            if drop {
                dropped += 1;
            }
            !drop
        });
        Ok(())
    })
}
