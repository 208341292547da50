//! Projects: listing, showing and deleting them whole.

use crate::engine::naming::environment_network;
use crate::engine::{Change, DeployOptions, Platform};
use crate::model::{Environment, ProjectName, ReleaseId};
use crate::ports::PortFilter;
use crate::runtime::{LABEL_MANAGED, LABEL_PROJECT, Labels};
use crate::secrets::Scope;
use crate::ssot::{ProjectRecord, StateStoreExt};
use crate::{Error, Result};

/// What a destructive operation would do, and whether it did it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Removal {
    /// The changes, in order.
    pub changes: Vec<Change>,
    /// Whether they were made (`false` when `force` was not given).
    pub applied: bool,
}

/// One line of a project listing.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ProjectSummary {
    /// The project.
    pub project: ProjectName,
    /// Each environment with the release that serves it.
    pub environments: Vec<(Environment, Option<ReleaseId>)>,
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
    /// ports, env vars and SSOT entry. Protected volumes are always kept.
    pub async fn plan_project_delete(&self, project: &ProjectName) -> Result<Vec<Change>> {
        let record = self.project_show(project).await?;
        let b = &self.backends;
        let mut changes = Vec::new();
        let mut labels = Labels::new();
        labels.insert(LABEL_MANAGED.to_owned(), "true".to_owned());
        labels.insert(LABEL_PROJECT.to_owned(), project.to_string());
        for container in b.runtime.list_containers(&labels).await? {
            changes.push(Change::RemoveContainer { name: container.name });
        }
        for (env, env_record) in &record.environments {
            for host in &env_record.domains {
                if b.proxy.get_route(host).await?.is_some() {
                    changes.push(Change::RemoveRoute { host: host.clone() });
                }
                if let Some(zone) = self.settings.zone.as_ref().filter(|z| host.is_within(z)) {
                    changes.push(Change::DeleteRecord { zone: zone.clone(), name: host.clone() });
                }
            }
            let vars = b.secrets.list(&Scope::new(project.clone(), env.clone())).await?;
            if !vars.vars.is_empty() {
                let keys = vars.vars.into_iter().map(|v| v.key).collect();
                changes.push(Change::UnsetEnv { project: project.clone(), env: env.clone(), keys });
            }
        }
        for allocation in b.ports.list(&PortFilter { project: Some(project.clone()), env: None }).await? {
            changes.push(Change::ReleasePort { key: allocation.key, port: allocation.port });
        }
        for env in record.environments.keys() {
            changes.push(Change::RemoveNetwork { name: environment_network(project, env)? });
        }
        for volume in b.runtime.list_volumes(&labels).await? {
            if volume.is_protected() {
                changes.push(Change::KeepVolume { name: volume.name });
            } else {
                changes.push(Change::RemoveVolume { name: volume.name });
            }
        }
        changes.push(Change::ForgetProject { project: project.clone() });
        Ok(changes)
    }

    /// Deletes a project whole; without `force` nothing changes and the report
    /// says what would. Protected volumes survive even with `force`.
    pub async fn project_delete(&self, project: &ProjectName, force: bool, options: &DeployOptions) -> Result<Removal> {
        let changes = self.plan_project_delete(project).await?;
        if !force {
            return Ok(Removal { changes, applied: false });
        }
        let record = self.project_show(project).await?;
        if let Some((env, _)) = record.environments.iter().find(|(_, r)| r.lock.is_some()) {
            let status = self.lock_status(project, env).await?;
            let holder = status.map(|s| s.to_string()).unwrap_or_default();
            return Err(Error::new(
                crate::ErrorKind::Locked,
                format!("cannot delete {project} while a deploy runs: {holder}"),
            ));
        }
        let events = crate::engine::events_for(options);
        let b = &self.backends;
        for change in &changes {
            let result = match change {
                Change::RemoveContainer { name } => b.runtime.remove_container(name, true).await,
                Change::RemoveRoute { host } => b.proxy.remove_route(host).await,
                Change::DeleteRecord { zone, name } => {
                    b.dns.delete_records(zone, &[(name.clone(), crate::dns::RecordType::A)]).await
                }
                Change::UnsetEnv { project, env, keys } => {
                    b.secrets.unset(&Scope::new(project.clone(), env.clone()), keys).await.map(drop)
                }
                Change::ReleasePort { key, .. } => b.ports.release(key).await.map(drop),
                Change::RemoveNetwork { name } => b.runtime.remove_network(name).await,
                Change::RemoveVolume { name } => b.runtime.remove_volume(name, Default::default()).await,
                Change::ForgetProject { project } => {
                    let p = project.clone();
                    self.blocking_state(move |s| {
                        s.modify(|doc| {
                            doc.projects.remove(&p);
                            Ok(())
                        })
                    })
                    .await
                }
                _ => Ok(()),
            };
            match result {
                Err(e) if e.kind() == crate::ErrorKind::NotFound => events.note(format!("already gone: {change:?}")),
                other => other?,
            }
        }
        Ok(Removal { changes, applied: true })
    }
}
