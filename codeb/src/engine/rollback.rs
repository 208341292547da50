//! Manual rollback: back to the previous release or a named one, restored
//! from its recorded image and configuration snapshot, health-gated like a deploy.

use std::time::Instant;

use crate::engine::cutover::{Cutover, Target};
use crate::engine::events::Events;
use crate::engine::naming::release_container;
use crate::engine::{Change, DeployOptions, DeployReport, Platform};
use crate::model::{Environment, ProjectName, ReleaseId};
use crate::ports::PortKey;
use crate::secrets::Scope;
use crate::ssot::{EnvironmentRecord, ReleaseRecord, ReleaseStatus};
use crate::{Error, Result};

/// Picks the release to go back to: the named one, or the latest retired one.
fn choose_target<'a>(record: &'a EnvironmentRecord, to: Option<&ReleaseId>) -> Result<&'a ReleaseRecord> {
    let current = record.current_release.as_ref();
    let target = match to {
        Some(id) => record.release(id).ok_or_else(|| {
            Error::not_found(format!("release {id} does not exist (any more); `we releases` lists the kept ones"))
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

/// What a rollback would do.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RollbackPlan {
    /// The release that serves now.
    pub from: ReleaseId,
    /// The release that would serve again.
    pub to: ReleaseId,
    /// Its image.
    pub image: crate::model::ImageRef,
    /// The changes, in order.
    pub changes: Vec<Change>,
}

impl Platform {
    /// What rolling back to `to` (or to the previous release) would change, without changing anything.
    pub async fn plan_rollback(
        &self,
        project: &ProjectName,
        env: &Environment,
        to: Option<&ReleaseId>,
    ) -> Result<RollbackPlan> {
        let record = self.snapshot_environment(project, env).await?;
        let current =
            record.current().ok_or_else(|| Error::not_found(format!("{project}/{env} has no release serving")))?;
        let target = choose_target(&record, to)?;
        let range = self
            .backends
            .ports
            .ranges()
            .get(env.kind(), crate::model::Service::App)
            .ok_or_else(|| Error::internal("no app port range"))?;
        let mut changes = vec![
            Change::AllocatePort { key: PortKey::for_release(project.clone(), env.clone(), target.id.clone()), range },
            Change::EnsureImage { image: target.image.clone() },
            Change::StartRelease {
                release: target.id.clone(),
                container: release_container(project, env, &target.id)?,
            },
        ];
        let health = target.config.health.clone().unwrap_or_default();
        changes.push(Change::HealthCheck {
            path: health.path.to_string(),
            deadline_ms: u64::try_from(health.deadline.as_millis()).unwrap_or(u64::MAX),
        });
        for host in &target.config.domains {
            match self.backends.proxy.get_route(host).await? {
                Some(route) => changes.push(Change::SwitchRoute { host: host.clone(), from: route.upstreams }),
                None => changes.push(Change::CreateRoute { host: host.clone() }),
            }
        }
        changes.push(Change::StopRelease {
            release: current.id.clone(),
            container: release_container(project, env, &current.id)?,
        });
        Ok(RollbackPlan { from: current.id.clone(), to: target.id.clone(), image: target.image.clone(), changes })
    }

    /// Rolls an environment back to `to`, or to the previous release when `None`.
    pub async fn rollback(
        &self,
        project: &ProjectName,
        env: &Environment,
        to: Option<&ReleaseId>,
        options: &DeployOptions,
    ) -> Result<DeployReport> {
        let started = Instant::now();
        let events = Events::new(options.events.clone());
        self.with_lock(project, env, None, options, &events, async {
            let record = self.snapshot_environment(project, env).await?;
            let current =
                record.current().ok_or_else(|| Error::not_found(format!("{project}/{env} has no release serving")))?;
            let target = choose_target(&record, to)?;
            let previous =
                self.previous_of(project, env, current, record.ports.get(&crate::model::Service::App).copied())?;
            let container_port = target.config.container_port.ok_or_else(|| {
                Error::invalid(format!("release {} has no recorded container port; it cannot be restored", target.id))
            })?;
            let vars = self
                .backends
                .secrets
                .list_at(&Scope::new(project.clone(), env.clone()), target.config.env_version)
                .await?;
            let restore = Target {
                id: target.id.clone(),
                image: target.image.clone(),
                config: target.config.clone(),
                container_port,
                health: target.config.health.clone().unwrap_or_default(),
                vars: vars.vars,
                build: None,
                image_id: target.image_digest.clone(),
                new_record: false,
            };
            let mut cut = Cutover::new(self, project.clone(), env.clone(), events.clone());
            let switched = cut.switch(&restore, Some(&previous), restore.config.networked).await?;
            self.finish(project, env, Some(&previous), &events).await?;
            Ok(DeployReport {
                project: project.clone(),
                env: env.clone(),
                release: restore.id,
                image: restore.image,
                port: switched.port,
                previous: Some(previous.id),
                domains: restore.config.domains,
                elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            })
        })
        .await
    }
}
