//! Projects: listing, showing and deleting them whole.

use std::collections::{BTreeMap, BTreeSet};

use crate::engine::accessories::Kind;
use crate::engine::executor::Executor;
use crate::engine::lock::LockRequest;
use crate::engine::naming::{
    accessory_container, accessory_volume, environment_network, release_container, upstream_name,
};
use crate::engine::plan::Planner;
use crate::engine::{Change, DeployOptions, PlannedChange, Platform};
use crate::model::{
    ContainerName, DomainName, EnvKey, Environment, ProjectName, ReleaseId, ServerName, Service, VolumeName,
};
use crate::ports::PortFilter;
use crate::runtime::{LABEL_MANAGED, LABEL_PROJECT, Labels, VolumeInfo};
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

/// The credential secrets of `env`'s accessories whose protected volume is among `volumes`.
fn kept_credentials(
    project: &ProjectName,
    env: &Environment,
    volumes: &[(ServerName, VolumeInfo)],
) -> Result<Vec<&'static str>> {
    let mut kept = Vec::new();
    for service in [Service::Postgres, Service::Redis] {
        let name = accessory_volume(project, env, service)?;
        if volumes.iter().any(|(_, v)| v.name == name && v.is_protected()) {
            kept.extend(Kind::of(service)?.credential_keys());
        }
    }
    Ok(kept)
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

    /// What deleting a project would remove: its containers, built images,
    /// routes, records, ports, env vars and SSOT entry. Protected volumes are always kept, and
    /// with each the credentials of its accessory (its password and URL), so
    /// the project deployed again opens its data; so is the route and record
    /// of a domain another project records too.
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
        let recorded = Recorded::of(self, project, &record)?;
        for host in b.fleet.app_hosts() {
            for container in host.runtime.list_containers(&labels).await? {
                if recorded.containers.contains(&(host.name.clone(), container.name.clone())) {
                    plan.push(&host.name, Change::RemoveContainer { name: container.name });
                }
            }
        }
        let mut volumes: Vec<(ServerName, VolumeInfo)> = Vec::new();
        for host in b.fleet.app_hosts() {
            let mine = host.runtime.list_volumes(&labels).await?.into_iter();
            let mine = mine.filter(|v| recorded.volumes.contains(&(host.name.clone(), v.name.clone())));
            volumes.extend(mine.map(|v| (host.name.clone(), v)));
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
            if let Some(zone) = &self.settings.upstream_zone
                && self.pointed_at(project, env).await?.is_some()
            {
                plan.push(&servers.dns, Change::DeleteUpstream { name: upstream_name(project, env, zone)? });
            }
            let kept = kept_credentials(project, env, &volumes)?;
            let vars = b.secrets.list(&Scope::new(project.clone(), env.clone())).await?;
            let keys: Vec<EnvKey> =
                vars.vars.into_iter().map(|v| v.key).filter(|k| !kept.contains(&k.as_str())).collect();
            if !keys.is_empty() {
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
        // A built image is the project's when codeb tagged it with the project's name and labelled it so.
        for host in b.fleet.image_hosts() {
            for image in host.runtime.list_images(&labels).await? {
                if image.reference.registry() == Some("localhost") && image.reference.repository() == project.as_str() {
                    plan.push(&host.name, Change::RemoveImage { image: image.reference });
                }
            }
        }
        for (server, volume) in volumes {
            if volume.is_protected() {
                plan.push(&server, Change::KeepVolume { name: volume.name });
            } else {
                plan.push(&server, Change::RemoveVolume { name: volume.name });
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
        let message = Some(format!("delete project {project}"));
        let locked = if envs.is_empty() { std::slice::from_ref(&first) } else { &envs[..] };
        let requests: Vec<LockRequest> =
            locked.iter().map(|env| LockRequest::new(project, env, message.clone())).collect();
        run.lock(&requests, None, &[], options.wait_for_lock).await?;
        if let Err(e) = run.run(&changes).await {
            run.fail(&e, None).await;
            return Err(e);
        }
        Ok(Removal { changes, applied: true })
    }
}

/// The runtime objects the SSOT records for one project, each with the server
/// it is on: a removal acts on these, never on what merely carries the
/// project's labels (a label is anyone's to set, and an SSOT read wrong must
/// not turn a live project into a stranger's leftovers).
struct Recorded {
    /// The containers of every recorded release and accessory.
    containers: BTreeSet<(ServerName, ContainerName)>,
    /// The data volumes of every recorded accessory.
    volumes: BTreeSet<(ServerName, VolumeName)>,
}

impl Recorded {
    /// What `record`, the SSOT record of `project`, holds.
    fn of(platform: &Platform, project: &ProjectName, record: &ProjectRecord) -> Result<Self> {
        let mut recorded = Recorded { containers: BTreeSet::new(), volumes: BTreeSet::new() };
        for (env, env_record) in &record.environments {
            let server = platform.backends.fleet.place(env_record.server.as_ref(), None)?.name.clone();
            for release in &env_record.releases {
                recorded.containers.insert((server.clone(), release_container(project, env, &release.id)?));
            }
            // An accessory is recorded by the port it holds.
            for service in env_record.ports.keys().filter(|s| **s != Service::App) {
                recorded.containers.insert((server.clone(), accessory_container(project, env, *service)?));
                recorded.volumes.insert((server.clone(), accessory_volume(project, env, *service)?));
            }
        }
        Ok(recorded)
    }
}
