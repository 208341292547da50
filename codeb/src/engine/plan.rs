//! The plan of a deploy: exactly what it would change, as data, computed without changing anything.

use std::fmt;

use crate::engine::naming::{accessory_container, accessory_volume, environment_network, release_container};
use crate::engine::{DeployRequest, Platform};
use crate::model::{
    ContainerName, DomainName, EnvKey, Environment, ImageRef, NetworkName, PortRange, ProjectName, ReleaseId, Service,
    VolumeName,
};
use crate::ports::PortKey;
use crate::proxy::Upstream;
use crate::secrets::Scope;
use crate::ssot::{EnvironmentRecord, StateStoreExt};
use crate::{Error, ErrorKind, Result};

/// One change a deploy would make.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "change")]
pub enum Change {
    /// Store new values of the project file's plain variables (names only).
    SetEnv {
        /// The variables that change.
        keys: Vec<EnvKey>,
    },
    /// Allocate a port from a range.
    AllocatePort {
        /// What the port is for.
        key: PortKey,
        /// The range it comes from.
        range: PortRange,
    },
    /// Create the network the app and its accessories share.
    CreateNetwork {
        /// The network.
        name: NetworkName,
    },
    /// Create a protected data volume.
    CreateVolume {
        /// The volume.
        name: VolumeName,
    },
    /// Create and start an accessory, generating its credentials as secrets.
    StartAccessory {
        /// Which accessory.
        service: Service,
        /// Its container.
        container: ContainerName,
        /// Its image.
        image: ImageRef,
    },
    /// Make the release's image present.
    EnsureImage {
        /// The image.
        image: ImageRef,
    },
    /// Create and start the release's container beside the serving one.
    StartRelease {
        /// The release.
        release: ReleaseId,
        /// Its container.
        container: ContainerName,
    },
    /// Wait until the release answers healthy.
    HealthCheck {
        /// The path probed.
        path: String,
        /// How long it may take, in milliseconds.
        deadline_ms: u64,
    },
    /// Create the route of a host.
    CreateRoute {
        /// The host.
        host: DomainName,
    },
    /// Switch the route of a host from its current upstreams to the new release.
    SwitchRoute {
        /// The host.
        host: DomainName,
        /// Where it points now.
        from: Vec<Upstream>,
    },
    /// Point a DNS name at the public address.
    UpsertRecord {
        /// The zone.
        zone: DomainName,
        /// The name.
        name: DomainName,
        /// The address.
        ip: std::net::Ipv4Addr,
    },
    /// Drain and stop the release that serves now.
    StopRelease {
        /// The release.
        release: ReleaseId,
        /// Its container.
        container: ContainerName,
    },
    /// Watch the new release and roll back automatically if it turns unhealthy.
    Watch {
        /// How long, in milliseconds.
        window_ms: u64,
    },
    /// Remove the route of a host.
    RemoveRoute {
        /// The host.
        host: DomainName,
    },
    /// Delete a name's A record.
    DeleteRecord {
        /// The zone.
        zone: DomainName,
        /// The name.
        name: DomainName,
    },
    /// Stop and remove a container.
    RemoveContainer {
        /// The container.
        name: ContainerName,
    },
    /// Remove a network.
    RemoveNetwork {
        /// The network.
        name: NetworkName,
    },
    /// Remove a volume that is not protected.
    RemoveVolume {
        /// The volume.
        name: VolumeName,
    },
    /// Keep a protected volume: nothing but naming it with force removes it.
    KeepVolume {
        /// The volume.
        name: VolumeName,
    },
    /// Free a port.
    ReleasePort {
        /// What it was allocated to.
        key: PortKey,
        /// The port.
        port: crate::model::Port,
    },
    /// Remove env vars (names only).
    UnsetEnv {
        /// The project.
        project: ProjectName,
        /// The environment.
        env: Environment,
        /// The variables.
        keys: Vec<EnvKey>,
    },
    /// Forget the project in the SSOT.
    ForgetProject {
        /// The project.
        project: ProjectName,
    },
}

/// What a deploy would do. Applying it re-checks that the SSOT has not moved.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Plan {
    /// The project.
    pub project: ProjectName,
    /// The environment.
    pub env: Environment,
    /// The SSOT revision the plan was made at.
    pub revision: u64,
    /// The id the new release will get.
    pub release: ReleaseId,
    /// The image it will run.
    pub image: ImageRef,
    /// The release serving now, which the new one replaces.
    pub previous: Option<ReleaseId>,
    /// The domains that will route to it: the request's and those set up on the environment.
    pub domains: Vec<DomainName>,
    /// The changes, in the order they will be made.
    pub changes: Vec<Change>,
    #[serde(skip)]
    pub(crate) request: DeployRequest,
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "deploy {} to {}/{} as {}", self.image, self.project, self.env, self.release)?;
        if let Some(previous) = &self.previous {
            write!(f, " (replacing {previous})")?;
        }
        Ok(())
    }
}

/// The next release id of an environment: `v<n+1>` after the highest `v<n>` recorded.
pub(crate) fn next_release_id(env: Option<&EnvironmentRecord>) -> Result<ReleaseId> {
    let highest = env
        .map(|e| {
            e.releases.iter().filter_map(|r| r.id.as_str().strip_prefix('v')?.parse::<u64>().ok()).max().unwrap_or(0)
        })
        .unwrap_or(0);
    Ok(ReleaseId::parse(&format!("v{}", highest + 1))?)
}

impl Platform {
    /// What deploying `request` would change, without changing anything.
    pub async fn plan(&self, request: &DeployRequest) -> Result<Plan> {
        let (project, env) = (request.project.clone(), request.env.clone());
        let (revision, record) = {
            let (project, env) = (project.clone(), env.clone());
            self.blocking_state(move |s| s.view(|doc| Ok((doc.revision, doc.environment(&project, &env).cloned()))))
                .await?
        };
        self.check_request(request)?;
        let release = next_release_id(record.as_ref())?;
        let mut changes = Vec::new();

        let scope = Scope::new(project.clone(), env.clone());
        let current = self.backends.secrets.list(&scope).await?;
        let keys: Vec<EnvKey> = request
            .env_vars
            .iter()
            .filter(|want| !current.vars.iter().any(|have| have == *want))
            .map(|v| v.key.clone())
            .collect();
        if !keys.is_empty() {
            changes.push(Change::SetEnv { keys });
        }

        self.plan_accessories(request, record.as_ref(), &mut changes).await?;

        let kind = env.kind();
        let app_range = self.port_range(kind, Service::App)?;
        changes.push(Change::AllocatePort {
            key: PortKey::for_release(project.clone(), env.clone(), release.clone()),
            range: app_range,
        });
        changes.push(Change::EnsureImage { image: request.image.clone() });
        changes.push(Change::StartRelease {
            release: release.clone(),
            container: release_container(&project, &env, &release)?,
        });
        changes.push(Change::HealthCheck {
            path: request.health.path.to_string(),
            deadline_ms: u64::try_from(request.health.deadline.as_millis()).unwrap_or(u64::MAX),
        });
        let mut domains = request.domains.clone();
        for domain in record.iter().flat_map(|r| r.domains.iter()) {
            if !domains.contains(domain) {
                domains.push(domain.clone());
            }
        }
        for host in &domains {
            match self.backends.proxy.get_route(host).await? {
                Some(route) => changes.push(Change::SwitchRoute { host: host.clone(), from: route.upstreams }),
                None => changes.push(Change::CreateRoute { host: host.clone() }),
            }
        }
        if let Some(zone) = &self.settings.zone {
            for name in domains.iter().filter(|d| d.is_within(zone)) {
                changes.push(Change::UpsertRecord {
                    zone: zone.clone(),
                    name: name.clone(),
                    ip: self.settings.public_ipv4,
                });
            }
        }
        let previous = record.as_ref().and_then(|r| r.current_release.clone());
        if let Some(previous) = &previous {
            changes.push(Change::StopRelease {
                release: previous.clone(),
                container: release_container(&project, &env, previous)?,
            });
            if !self.settings.watch_window.is_zero() {
                changes.push(Change::Watch {
                    window_ms: u64::try_from(self.settings.watch_window.as_millis()).unwrap_or(u64::MAX),
                });
            }
        }
        Ok(Plan {
            project,
            env,
            revision,
            release,
            image: request.image.clone(),
            previous,
            domains,
            changes,
            request: request.clone(),
        })
    }

    /// Refuses a request that cannot be deployed, before anything is touched.
    fn check_request(&self, request: &DeployRequest) -> Result<()> {
        let kind = request.env.kind();
        for (wanted, service) in
            [(request.accessories.postgres, Service::Postgres), (request.accessories.redis, Service::Redis)]
        {
            if wanted {
                self.port_range(kind, service)?;
            }
        }
        if request.health.min_status > request.health.max_status {
            return Err(Error::invalid("the health check's status range is empty"));
        }
        Ok(())
    }

    fn port_range(&self, kind: crate::model::EnvironmentKind, service: Service) -> Result<PortRange> {
        self.backends.ports.ranges().get(kind, service).ok_or_else(|| {
            Error::new(
                ErrorKind::Invalid,
                format!("{kind} environments have no {service} port range, so no {service} accessory"),
            )
        })
    }

    async fn plan_accessories(
        &self,
        request: &DeployRequest,
        record: Option<&EnvironmentRecord>,
        changes: &mut Vec<Change>,
    ) -> Result<()> {
        let (project, env) = (&request.project, &request.env);
        let wanted = [(request.accessories.postgres, Service::Postgres), (request.accessories.redis, Service::Redis)];
        let wanted: Vec<Service> = wanted.into_iter().filter(|(w, _)| *w).map(|(_, s)| s).collect();
        if wanted.is_empty() {
            return Ok(());
        }
        changes.push(Change::CreateNetwork { name: environment_network(project, env)? });
        for service in wanted {
            if record.is_none_or(|r| !r.ports.contains_key(&service)) {
                let range = self.port_range(env.kind(), service)?;
                changes.push(Change::AllocatePort { key: PortKey::new(project.clone(), env.clone(), service), range });
            }
            let container = accessory_container(project, env, service)?;
            if service == Service::Postgres {
                let volume = accessory_volume(project, env, service)?;
                let labels = crate::runtime::managed_labels(project, env, service, None);
                if !self.backends.runtime.list_volumes(&labels).await?.iter().any(|v| v.name == volume) {
                    changes.push(Change::CreateVolume { name: volume });
                }
            }
            match self.backends.runtime.inspect_container(&container).await {
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    let image = if service == Service::Postgres {
                        &self.settings.postgres_image
                    } else {
                        &self.settings.redis_image
                    };
                    changes.push(Change::StartAccessory { service, container, image: image.clone() });
                }
                Err(e) => return Err(e),
                Ok(_) => {}
            }
        }
        Ok(())
    }
}
