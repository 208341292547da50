//! Projects: listing, showing and deleting them whole.

use std::collections::BTreeMap;

use crate::engine::executor::{Edit, Executor};
use crate::engine::lock::{self, LockRequest};
use crate::engine::naming::environment_network;
use crate::engine::plan::Planner;
use crate::engine::{Change, DeployOptions, PlannedChange, Platform};
use crate::model::{DomainName, Environment, ProjectName, ReleaseId};
use crate::ports::PortFilter;
use crate::runtime::{LABEL_MANAGED, LABEL_PROJECT, Labels};
use crate::secrets::Scope;
use crate::ssot::{ProjectRecord, StateStoreExt};
use crate::{Error, Result};

/// What a destructive operation would do, and whether it did it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Removal {
    /// The changes, in order.
    pub changes: Vec<PlannedChange>,
    /// Whether they were made (`false` when `force` was not given).
    pub applied: bool,
}

impl std::fmt::Display for Removal {
    /// `done:` or `would, given force:`, then each change on a line of its own.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.applied { "done:" } else { "would, given force:" })?;
        self.changes.iter().try_for_each(|c| write!(f, "\n  - {c}"))
    }
}

/// One line of a project listing.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ProjectSummary {
    /// The project.
    pub project: ProjectName,
    /// Each environment with the release that serves it (`None` when nothing serves).
    pub environments: BTreeMap<Environment, Option<ReleaseId>>,
}

impl Platform {
    /// Every project in the SSOT with its environments' serving releases.
    pub async fn project_list(&self) -> Result<Vec<ProjectSummary>> {
        self.blocking_state(|s| {
            s.view(|doc| {
                Ok(doc
                    .projects
                    .iter()
                    .map(|(name, p)| ProjectSummary {
                        project: name.clone(),
                        environments: p
                            .environments
                            .iter()
                            .map(|(e, r)| (e.clone(), r.current_release.clone()))
                            .collect(),
                    })
                    .collect())
            })
        })
        .await
    }

    /// The whole SSOT record of one project.
    pub async fn project_show(&self, project: &ProjectName) -> Result<ProjectRecord> {
        let p = project.clone();
        self.blocking_state(move |s| {
            s.view(|doc| {
                doc.projects.get(&p).cloned().ok_or_else(|| Error::not_found(format!("project {p} is not in the SSOT")))
            })
        })
        .await
    }

    /// What deleting a project would remove: its containers, routes, records,
    /// ports, env vars and SSOT entry. Protected volumes are always kept, and
    /// so is the route and record of a domain another project records too.
    pub async fn plan_project_delete(&self, project: &ProjectName) -> Result<Vec<PlannedChange>> {
        let record = self.project_show(project).await?;
        let p = project.clone();
        let shared: Vec<DomainName> = self
            .blocking_state(move |s| {
                s.view(|doc| {
                    let own = doc.projects.get(&p).into_iter().flat_map(|r| r.environments.values());
                    Ok(own
                        .flat_map(|e| e.domains.iter())
                        .filter(|d| doc.domain_shared_beyond(&p, d))
                        .cloned()
                        .collect())
                })
            })
            .await?;
        let b = &self.backends;
        let servers = self.servers();
        let mut plan = Planner::new();
        let mut labels = Labels::new();
        labels.insert(LABEL_MANAGED.to_owned(), "true".to_owned());
        labels.insert(LABEL_PROJECT.to_owned(), project.to_string());
        for host in b.fleet.hosts() {
            for container in host.runtime.list_containers(&labels).await? {
                plan.push(&host.name, Change::RemoveContainer { name: container.name });
            }
        }
        for (env, env_record) in &record.environments {
            for domain in env_record.domains.iter().filter(|d| !shared.contains(d)) {
                if b.proxy.get_route(domain).await?.is_some() {
                    plan.push(&servers.proxy, Change::RemoveRoute { host: domain.clone() });
                }
                if let Some(zone) = self.settings.zone.as_ref().filter(|z| domain.is_within(z)) {
                    plan.push(&servers.dns, Change::DeleteRecord { zone: zone.clone(), name: domain.clone() });
                }
            }
            let vars = b.secrets.list(&Scope::new(project.clone(), env.clone())).await?;
            if !vars.vars.is_empty() {
                let keys = vars.vars.into_iter().map(|v| v.key).collect();
                plan.push(&servers.control, Change::UnsetEnv { project: project.clone(), env: env.clone(), keys });
            }
        }
        for allocation in b.ports.list(&PortFilter { project: Some(project.clone()), env: None }).await? {
            plan.push(&servers.control, Change::ReleasePort { key: allocation.key, port: allocation.port });
        }
        for (env, env_record) in &record.environments {
            let host = b.fleet.place(env_record.server.as_ref(), None)?;
            plan.push(&host.name, Change::RemoveNetwork { name: environment_network(project, env)? });
        }
        for host in b.fleet.hosts() {
            for volume in host.runtime.list_volumes(&labels).await? {
                if volume.is_protected() {
                    plan.push(&host.name, Change::KeepVolume { name: volume.name });
                } else {
                    plan.push(&host.name, Change::RemoveVolume { name: volume.name });
                }
            }
        }
        plan.push(&servers.control, Change::ForgetProject { project: project.clone() });
        Ok(plan.finish())
    }

    /// Deletes a project whole; without `force` nothing changes and the report
    /// says what would. Every environment's lock is taken first, so no deploy
    /// runs meanwhile. Protected volumes survive even with `force`.
    pub async fn project_delete(&self, project: &ProjectName, force: bool, options: &DeployOptions) -> Result<Removal> {
        let changes = self.plan_project_delete(project).await?;
        if !force {
            return Ok(Removal { changes, applied: false });
        }
        let record = self.project_show(project).await?;
        let envs: Vec<Environment> = record.environments.keys().cloned().collect();
        let first = envs.first().cloned().unwrap_or(Environment::Staging);
        let host = self.backends.fleet.place(record.environments.get(&first).and_then(|r| r.server.as_ref()), None)?;
        let events = crate::engine::events_for(options);
        let mut run = Executor::new(self, project.clone(), first.clone(), host.clone(), events);
        let request = |env: &Environment| LockRequest {
            project: project.clone(),
            env: env.clone(),
            me: self.settings.identity.clone(),
            message: Some(format!("delete project {project}")),
            expect_revision: None,
        };
        let (store, liveness, me) =
            (self.backends.state.as_ref(), self.backends.liveness.as_ref(), &self.settings.identity);
        let mut others = Vec::new();
        for env in envs.iter().skip(1) {
            others.push((request(env), lock::judge(store, project, env, me, liveness).await?));
        }
        let also: Edit =
            Box::new(move |doc| others.iter().try_for_each(|(req, judged)| lock::take_in(doc, req, judged)));
        run.lock(request(&first), Some(also), &[], options.wait_for_lock).await?;
        if let Err(e) = run.run(&changes).await {
            let (p, me) = (project.clone(), self.settings.identity.clone());
            let unlock_all: Edit =
                Box::new(move |doc| envs.iter().try_for_each(|env| lock::release_in(doc, &p, env, &me)));
            run.fail(&e, Some(unlock_all)).await;
            return Err(e);
        }
        Ok(Removal { changes, applied: true })
    }
}
