//! Drift: where what runs differs from what the SSOT records.

use crate::Result;
use crate::dns::SrvRecord;
use crate::engine::Platform;
use crate::engine::naming::{accessory_container, release_container, server_target, upstream_name};
use crate::model::{ContainerName, DomainName, Environment, ProjectName, ReleaseId, ServerName, Service};
use crate::ports::PortReport;
use crate::proxy::Upstreams;
use crate::releases::Endpoint;
use crate::runtime::{ContainerState, LABEL_ENV, LABEL_MANAGED, LABEL_PROJECT, LABEL_RELEASE, Labels};
use crate::ssot::{ReleaseStatus, Ssot};

/// One difference between the SSOT and reality.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "drift")]
pub enum DriftItem {
    /// The serving release's container is missing or not running.
    ReleaseNotRunning {
        /// The project.
        project: ProjectName,
        /// The environment.
        env: Environment,
        /// The release.
        release: ReleaseId,
        /// Its container.
        container: ContainerName,
    },
    /// An accessory the serving release was deployed with (PostgreSQL, Redis) is missing or not running.
    AccessoryNotRunning {
        /// The project.
        project: ProjectName,
        /// The environment.
        env: Environment,
        /// Which accessory.
        service: Service,
        /// Its container.
        container: ContainerName,
    },
    /// A domain of the environment has no route, or one that points elsewhere.
    RouteMismatch {
        /// The domain.
        host: DomainName,
        /// Where the SSOT says it should point.
        expected: Upstreams,
        /// Where it points (none: no route).
        actual: Option<Upstreams>,
    },
    /// The environment's upstream record is missing or points at another port or server.
    UpstreamMismatch {
        /// The project.
        project: ProjectName,
        /// The environment.
        env: Environment,
        /// The record.
        name: DomainName,
        /// Where the SSOT says it should point.
        expected: SrvRecord,
        /// Where it points (none: no record).
        actual: Option<SrvRecord>,
    },
    /// A codeb-labelled container whose project the SSOT does not know.
    UnknownContainer {
        /// The container.
        container: ContainerName,
    },
    /// A retired or failed release's container is running (one retired moments ago,
    /// within its drain and stop graces, is still retiring: not drift).
    StrayRunning {
        /// The container.
        container: ContainerName,
    },
}

/// Everything `drift` found.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct DriftReport {
    /// Differences in releases, containers and routes.
    pub items: Vec<DriftItem>,
    /// Differences in ports.
    pub ports: PortReport,
}

impl DriftReport {
    /// Whether the SSOT and reality agree.
    pub fn is_clean(&self) -> bool {
        self.items.is_empty() && self.ports.is_clean()
    }
}

impl std::fmt::Display for DriftItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriftItem::ReleaseNotRunning { project, env, release, container } => {
                write!(f, "{project}/{env}: serving release {release} is not running ({container})")
            }
            DriftItem::AccessoryNotRunning { project, env, service, container } => {
                write!(f, "{project}/{env}: {service} is not running ({container})")
            }
            DriftItem::RouteMismatch { host, expected, actual: Some(actual) } => {
                write!(f, "{host}: routes to {actual} instead of {expected}")
            }
            DriftItem::RouteMismatch { host, expected, actual: None } => {
                write!(f, "{host}: routes to nothing instead of {expected}")
            }
            DriftItem::UpstreamMismatch { project, env, name, expected, actual } => {
                let at = |srv: &SrvRecord| format!("{}:{}", srv.target, srv.port);
                let actual = actual.as_ref().map_or_else(|| "nothing".to_owned(), at);
                write!(f, "{project}/{env}: upstream record {name} points at {actual} instead of {}", at(expected))
            }
            DriftItem::UnknownContainer { container } => {
                write!(f, "{container}: codeb's label, but no project in the SSOT")
            }
            DriftItem::StrayRunning { container } => write!(f, "{container}: runs but serves nothing"),
        }
    }
}

impl std::fmt::Display for DriftReport {
    /// One line per difference (`drift: ...`, then the port check's lines), or that there is none.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_clean() {
            return f.write_str("no drift: the SSOT matches what runs");
        }
        let mut lines: Vec<String> = self.items.iter().map(|item| format!("drift: {item}")).collect();
        if !self.ports.is_clean() {
            lines.push(self.ports.to_string());
        }
        f.write_str(&lines.join("\n"))
    }
}

impl Platform {
    /// Compares the SSOT with the containers, routes and ports that exist.
    pub async fn drift(&self) -> Result<DriftReport> {
        let b = &self.backends;
        let doc = self.blocking_state(|s| s.load()).await?;
        let mut items = Vec::new();
        let mut labels = Labels::new();
        labels.insert(LABEL_MANAGED.to_owned(), "true".to_owned());
        let mut containers = Vec::new();
        for host in b.fleet.app_hosts() {
            for container in host.runtime.list_containers(&labels).await? {
                containers.push((host.name.clone(), container));
            }
        }
        let runs = |server: &ServerName, name: &ContainerName| {
            containers.iter().any(|(on, c)| on == server && c.name == *name && c.state == ContainerState::Running)
        };
        for (project, record) in &doc.projects {
            for (env, env_record) in &record.environments {
                let host = b.fleet.place(env_record.server.as_ref(), None)?;
                let (Some(current), Some(port)) = (&env_record.current_release, env_record.ports.get(&Service::App))
                else {
                    continue;
                };
                let accessories = env_record.current().map(|r| r.config.ports.clone()).unwrap_or_default();
                for service in accessories.into_keys().filter(|s| *s != Service::App) {
                    let container = accessory_container(project, env, service)?;
                    if !runs(&host.name, &container) {
                        items.push(DriftItem::AccessoryNotRunning {
                            project: project.clone(),
                            env: env.clone(),
                            service,
                            container,
                        });
                    }
                }
                let container = release_container(project, env, current)?;
                if !runs(&host.name, &container) {
                    items.push(DriftItem::ReleaseNotRunning {
                        project: project.clone(),
                        env: env.clone(),
                        release: current.clone(),
                        container,
                    });
                }
                let endpoint = Endpoint { host: host.addresses.upstream, port: *port };
                if let Some(zone) = &self.settings.upstream_zone {
                    let expected =
                        SrvRecord { priority: 0, weight: 0, port: *port, target: server_target(&host.name, zone)? };
                    let actual = self.pointed_at(project, env).await?;
                    if actual.as_ref() != Some(&expected) {
                        let name = upstream_name(project, env, zone)?;
                        let (project, env) = (project.clone(), env.clone());
                        items.push(DriftItem::UpstreamMismatch { project, env, name, expected, actual });
                    }
                }
                let expected = self.route_target(project, env, endpoint)?;
                for host in &env_record.domains {
                    let actual = b.proxy.get_route(host).await?.map(|r| r.upstreams);
                    if actual.as_ref() != Some(&expected) {
                        items.push(DriftItem::RouteMismatch { host: host.clone(), expected: expected.clone(), actual });
                    }
                }
            }
        }
        for (_, c) in &containers {
            let project = c.labels.get(LABEL_PROJECT).and_then(|p| ProjectName::parse(p).ok());
            match project {
                Some(p) if doc.projects.contains_key(&p) => {
                    let serving = doc.projects[&p].environments.iter().any(|(env, r)| {
                        r.current_release.as_ref().and_then(|id| release_container(&p, env, id).ok()).as_ref()
                            == Some(&c.name)
                    });
                    let is_release = c.labels.contains_key(LABEL_RELEASE);
                    let retiring = still_retiring(&doc, &p, &c.labels, self.retire_window());
                    if is_release && !serving && !retiring && c.state == ContainerState::Running {
                        items.push(DriftItem::StrayRunning { container: c.name.clone() });
                    }
                }
                _ => items.push(DriftItem::UnknownContainer { container: c.name.clone() }),
            }
        }
        Ok(DriftReport { items, ports: b.ports.check().await? })
    }
}

impl Platform {
    /// How long a retired release may still run: a deploy may leave its
    /// drain and stop to after its watch window (`engine::retire`), which
    /// takes at most the drain grace and the stop grace, and a little to start.
    fn retire_window(&self) -> std::time::Duration {
        let s = &self.settings;
        s.watch_window + s.drain_grace + s.stop_grace + RETIRE_SLACK
    }
}

/// What a retirement takes beyond its graces: starting the process that runs it, reaching the server.
const RETIRE_SLACK: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether the container labelled `labels` runs a release of `project` that
/// was retired less than `window` ago, so may still be draining and stopping.
fn still_retiring(doc: &Ssot, project: &ProjectName, labels: &Labels, window: std::time::Duration) -> bool {
    let env = labels.get(LABEL_ENV).and_then(|e| Environment::parse(e).ok());
    let release = labels.get(LABEL_RELEASE).and_then(|r| ReleaseId::parse(r).ok());
    let (Some(env), Some(release)) = (env, release) else { return false };
    let retired = doc.environment(project, &env).and_then(|e| e.release(&release));
    let since = |r: &crate::ssot::ReleaseRecord| (chrono::Utc::now() - r.updated_at).to_std().unwrap_or_default();
    retired.is_some_and(|r| r.status == ReleaseStatus::Retired && since(r) < window)
}
