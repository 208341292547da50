//! Manual rollback: back to the previous release or a named one, restored
//! from its recorded image and configuration snapshot, health-gated like a deploy.

use std::time::Instant;

use crate::engine::events::Events;
use crate::engine::executor::{Executor, Target};
use crate::engine::lock::LockRequest;
use crate::engine::naming::release_container;
use crate::engine::plan::{Planner, millis};
use crate::engine::{Change, DeployOptions, DeployReport, PlannedChange, Platform};
use crate::model::{Environment, ProjectName, ReleaseId};
use crate::ports::PortKey;
use crate::secrets::Scope;
use crate::ssot::{EnvironmentRecord, ReleaseConfig, ReleaseRecord, ReleaseStatus, StateStoreExt};
use crate::{Error, Result};

/// Picks the release to go back to: the named one, or the latest retired one.
fn choose_target<'a>(record: &'a EnvironmentRecord, to: Option<&ReleaseId>) -> Result<&'a ReleaseRecord> {
    let current = record.current_release.as_ref();
    let target = match to {
        Some(id) => record.release(id).ok_or_else(|| {
            Error::not_found(format!(
                "release {id} does not exist (any more); the environment's releases list the kept ones"
            ))
        })?,
        None => record
            .releases
            .iter()
            .rev()
            .find(|r| r.status == ReleaseStatus::Retired && Some(&r.id) != current)
            .ok_or_else(|| Error::not_found("there is no earlier release to roll back to"))?,
    };
    if Some(&target.id) == current {
        return Err(Error::invalid(format!("release {} is already serving", target.id)));
    }
    if target.status != ReleaseStatus::Retired {
        return Err(Error::invalid(format!(
            "release {} never served successfully ({:?}); pick a retired release",
            target.id, target.status
        )));
    }
    Ok(target)
}

/// The domains of `target` that the environment still owns: one moved to
/// another environment since is not routed back.
fn still_owned(target: &ReleaseRecord, record: &EnvironmentRecord) -> Vec<crate::model::DomainName> {
    target.config.domains.iter().filter(|d| record.domains.contains(d)).cloned().collect()
}

/// What a rollback would do.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct RollbackPlan {
    /// The project.
    pub project: ProjectName,
    /// The environment.
    pub env: Environment,
    /// The server it runs on.
    pub server: crate::model::ServerName,
    /// The SSOT revision the plan was made at.
    pub revision: u64,
    /// The release that serves now.
    pub from: ReleaseId,
    /// The release that would serve again.
    pub to: ReleaseId,
    /// Its image.
    pub image: crate::model::ImageRef,
    /// The changes, in order.
    pub changes: Vec<PlannedChange>,
}

impl std::fmt::Display for RollbackPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let RollbackPlan { project, env, server, from, to, image, .. } = self;
        write!(f, "roll back {project}/{env} from {from} to {to} ({image}) on {server}")
    }
}

/// A rollback asked for with or without `force`: its plan, and its report once it ran.
///
/// Like every destructive operation, a rollback without `force` changes
/// nothing and answers with what it would do; with `force` the same plan runs.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Rollback {
    /// Whether it ran (`false` when `force` was not given: nothing changed).
    pub applied: bool,
    /// The changes it made, or would make.
    pub plan: RollbackPlan,
    /// What it did, present exactly when it ran.
    pub report: Option<DeployReport>,
}

impl Platform {
    /// What rolling back to `to` (or to the previous release) would change, without changing anything.
    pub async fn plan_rollback(
        &self,
        project: &ProjectName,
        env: &Environment,
        to: Option<&ReleaseId>,
    ) -> Result<RollbackPlan> {
        let (p, e) = (project.clone(), env.clone());
        let (revision, record) = self
            .blocking_state(move |s| {
                s.view(|doc| Ok((doc.revision, doc.environment(&p, &e).cloned().unwrap_or_default())))
            })
            .await?;
        let current =
            record.current().ok_or_else(|| Error::not_found(format!("{project}/{env} has no release serving")))?;
        let target = choose_target(&record, to)?;
        let host = self.backends.fleet.place(record.server.as_ref(), None)?;
        let (server, control) = (host.name.clone(), self.servers().control);
        let range = self.port_range(env.kind(), crate::model::Service::App)?;
        let mut plan = Planner::new();
        let key = PortKey::for_release(project.clone(), env.clone(), target.id.clone());
        plan.push(&control, Change::AllocatePort { key, range });
        plan.push(&server, Change::EnsureImage { image: target.image.clone(), expect_id: target.image_digest.clone() });
        let container = release_container(project, env, &target.id)?;
        plan.push(&server, Change::StartRelease { release: target.id.clone(), container });
        let health = target.config.health.clone().unwrap_or_default();
        let (path, deadline_ms) = (health.path.to_string(), millis(health.deadline));
        plan.push(&server, Change::HealthCheck { release: target.id.clone(), path, deadline_ms });
        self.plan_routes(project, env, &target.id, &still_owned(target, &record), host, &mut plan).await?;
        plan.push(&control, Change::RecordRelease { release: target.id.clone() });
        let container = release_container(project, env, &current.id)?;
        plan.push(&server, Change::StopRelease { release: current.id.clone(), container });
        Ok(RollbackPlan {
            project: project.clone(),
            env: env.clone(),
            server,
            revision,
            from: current.id.clone(),
            to: target.id.clone(),
            image: target.image.clone(),
            changes: plan.finish(),
        })
    }

    /// Rolls an environment back to `to`, or to the previous release when `None`.
    pub async fn rollback(
        &self,
        project: &ProjectName,
        env: &Environment,
        to: Option<&ReleaseId>,
        options: &DeployOptions,
    ) -> Result<DeployReport> {
        let plan = self.plan_rollback(project, env, to).await?;
        self.apply_rollback(&plan, options).await
    }

    /// Rolls back like [`Platform::rollback`] only with `force`; without it
    /// nothing changes and the answer is the plan.
    pub async fn rollback_guarded(
        &self,
        project: &ProjectName,
        env: &Environment,
        to: Option<&ReleaseId>,
        force: bool,
        options: &DeployOptions,
    ) -> Result<Rollback> {
        let plan = self.plan_rollback(project, env, to).await?;
        let report = if force { Some(self.apply_rollback(&plan, options).await?) } else { None };
        Ok(Rollback { applied: force, plan, report })
    }

    /// Carries out a rollback plan, refusing (changing nothing) unless
    /// planning the same rollback now gives exactly this plan.
    pub async fn apply_rollback(&self, plan: &RollbackPlan, options: &DeployOptions) -> Result<DeployReport> {
        let fresh = self.plan_rollback(&plan.project, &plan.env, Some(&plan.to)).await?;
        if fresh != *plan {
            return Err(crate::engine::deploy::not_what_planning_gives(fresh.revision, plan.revision)
                .with_context("project", &plan.project)
                .with_context("environment", &plan.env)
                .with_context("server", &plan.server));
        }
        let started = Instant::now();
        let events = Events::new(options.events.clone());
        let (project, env) = (&plan.project, &plan.env);
        let record = self.snapshot_environment(project, env).await?;
        let current =
            record.current().ok_or_else(|| Error::not_found(format!("{project}/{env} has no release serving")))?;
        let target = choose_target(&record, Some(&plan.to))?;
        let previous = self.previous_of(current, &record)?;
        let container_port = target.config.container_port.ok_or_else(|| {
            Error::invalid(format!("release {} has no recorded container port; it cannot be restored", target.id))
        })?;
        let vars =
            self.backends.secrets.list_at(&Scope::new(project.clone(), env.clone()), target.config.env_version).await?;
        let restore = Target {
            id: target.id.clone(),
            image: target.image.clone(),
            config: ReleaseConfig { domains: still_owned(target, &record), ..target.config.clone() },
            container_port,
            health: target.config.health.clone().unwrap_or_default(),
            vars: Some(vars.vars),
            plain_vars: Vec::new(),
            build: None,
            new_record: false,
        };
        let host = self.backends.fleet.host(&plan.server)?.clone();
        let mut run = Executor::new(self, project.clone(), env.clone(), host.clone(), events)
            .switching(restore.clone(), Some(previous.clone()));
        let lock = LockRequest {
            expect_revision: Some(plan.revision),
            ..LockRequest::new(
                project,
                env,
                options.lock_message(|| format!("roll back {project}/{env} to {}", plan.to)),
            )
        };
        run.lock(&[lock], None, &plan.changes, options.wait_for_lock).await?;
        if let Err(e) = run.run(&plan.changes).await {
            run.fail(&e, None).await;
            return Err(e);
        }
        let (p, e, prev) = (project.clone(), env.clone(), previous.id.clone());
        let doc = run
            .finish(vec![Box::new(move |doc| {
                doc.environment_mut(&p, &e).release_ports.remove(&prev);
                Ok(())
            })])
            .await?;
        let port = doc.environment(project, env).and_then(|e| e.ports.get(&crate::model::Service::App).copied());
        Ok(DeployReport {
            project: project.clone(),
            env: env.clone(),
            server: host.name.clone(),
            release: restore.id,
            image: restore.image,
            port: port.ok_or_else(|| Error::internal("the serving port vanished from the SSOT"))?,
            previous: Some(previous.id),
            domains: restore.config.domains,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            recovered: None,
            retiring: None,
        })
    }
}
