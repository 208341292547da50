//! The plan of a deploy: exactly what it will change, as data, computed
//! without changing anything. The plan is the program: the executor runs its
//! changes in order, so what a dry run shows is what runs.

use std::fmt;

use crate::engine::naming::{
    accessory_container, accessory_volume, environment_network, release_command_container, release_container,
    server_target, upstream_name,
};
use crate::engine::{DeployRequest, Platform};
use crate::model::{
    ContainerName, DomainName, EnvKey, Environment, ImageRef, NetworkName, PortRange, ProjectName, ReleaseId,
    ServerName, Service, Step, VolumeName,
};
use crate::ports::PortKey;
use crate::proxy::Upstreams;
use crate::secrets::Scope;
use crate::ssot::{DomainOwner, EnvironmentRecord, StateStoreExt};
use crate::text::list;
use crate::{Error, ErrorKind, Result};

/// One change a deploy, rollback, domain operation or removal makes.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "change", deny_unknown_fields)]
pub enum Change {
    /// Reserve a port from a range in the SSOT.
    AllocatePort {
        /// What the port is for.
        key: PortKey,
        /// The range it comes from.
        range: PortRange,
    },
    /// Store new values of the project file's plain variables (names only).
    SetEnv {
        /// The variables that change.
        keys: Vec<EnvKey>,
    },
    /// Keep the values set with `we env set` of variables the project file
    /// also gives (other values): those win until `we env unset`.
    KeepEnv {
        /// The variables whose project-file values are not stored.
        keys: Vec<EnvKey>,
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
    /// Create (or start again) an accessory, generating its credentials as secrets once.
    StartAccessory {
        /// Which accessory.
        service: Service,
        /// Its container.
        container: ContainerName,
        /// Its image.
        image: ImageRef,
    },
    /// Make the release's image present (pulled from its registry, or used as present).
    EnsureImage {
        /// The image.
        image: ImageRef,
        /// The image id it must still name (a rollback restores what ran, never a moved tag).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect_id: Option<String>,
    },
    /// Build the release's image from the project's build context.
    BuildImage {
        /// The tag it gets.
        image: ImageRef,
    },
    /// Push the built image to the registry; the release then runs it by
    /// the digest the registry names it by, and records that reference.
    PushImage {
        /// The image built.
        image: ImageRef,
        /// Its name in the registry.
        to: ImageRef,
    },
    /// Pull the pushed image by the digest its push gave, on the server the
    /// release runs on: what runs is what the registry holds.
    PullImage {
        /// Its name in the registry (the digest is the push's).
        image: ImageRef,
    },
    /// Run the release command once, in a one-off container of the release's
    /// image and environment that is removed however it ends.
    RunReleaseCommand {
        /// The release it prepares.
        release: ReleaseId,
        /// The one-off container.
        container: ContainerName,
        /// The command, as argv.
        command: Vec<String>,
        /// How long it may run, in milliseconds.
        timeout_ms: u64,
    },
    /// Start the release beside the serving one.
    StartRelease {
        /// The release.
        release: ReleaseId,
        /// Its container.
        container: ContainerName,
    },
    /// Wait until the release answers healthy.
    HealthCheck {
        /// The release probed.
        release: ReleaseId,
        /// The path probed.
        path: String,
        /// How long it may take, in milliseconds.
        deadline_ms: u64,
    },
    /// Create the route of a host to the release.
    CreateRoute {
        /// The host.
        host: DomainName,
    },
    /// Switch the route of a host from its current upstreams to the release
    /// (with an upstream zone: to the environment's upstream record, once).
    SwitchRoute {
        /// The host.
        host: DomainName,
        /// Where it points now.
        from: Upstreams,
    },
    /// The cutover with an upstream zone: point the environment's SRV record
    /// at the release's port on its server (and the server's name at its
    /// address), in one DNS change; every route of the environment follows.
    PointUpstream {
        /// The environment's upstream record.
        name: DomainName,
        /// The release it points at.
        release: ReleaseId,
        /// The server's name in the upstream zone, the record's target.
        target: DomainName,
    },
    /// Point a DNS name at the serving server's public address.
    UpsertRecord {
        /// The zone.
        zone: DomainName,
        /// The name.
        name: DomainName,
        /// The address.
        ip: std::net::Ipv4Addr,
    },
    /// Delete an environment's upstream record (the environment goes).
    DeleteUpstream {
        /// The record.
        name: DomainName,
    },
    /// Record in the SSOT that the release serves (and the one before it is retired).
    RecordRelease {
        /// The release that serves from now on.
        release: ReleaseId,
    },
    /// Drain and stop the release that served before.
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
    /// Record a domain as the environment's in the SSOT.
    AddDomain {
        /// The domain.
        domain: DomainName,
    },
    /// Move a domain another environment owns to this one in the SSOT (a forced domain setup).
    TakeDomain {
        /// The domain.
        domain: DomainName,
        /// The environment it belonged to.
        from: DomainOwner,
    },
    /// Forget a domain of the environment in the SSOT.
    ForgetDomain {
        /// The domain.
        domain: DomainName,
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
    /// Remove an image codeb built for the project.
    RemoveImage {
        /// The image's tag.
        image: ImageRef,
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

impl Change {
    /// The change's kind as its JSON `change` tag names it (`switch_route`).
    pub fn kind(&self) -> String {
        let json = serde_json::to_value(self).ok();
        json.and_then(|v| v.get("change")?.as_str().map(str::to_owned)).unwrap_or_default()
    }

    /// The step a change belongs to, for progress and for naming what failed.
    pub fn step(&self) -> Step {
        match self {
            Change::AllocatePort { .. } | Change::ReleasePort { .. } => Step::AllocatePorts,
            Change::SetEnv { .. } | Change::KeepEnv { .. } | Change::UnsetEnv { .. } => Step::Configure,
            Change::CreateNetwork { .. } | Change::CreateVolume { .. } | Change::StartAccessory { .. } => {
                Step::Accessories
            }
            Change::EnsureImage { .. }
            | Change::BuildImage { .. }
            | Change::PushImage { .. }
            | Change::PullImage { .. } => Step::Image,
            Change::RunReleaseCommand { .. } => Step::ReleaseCommand,
            Change::StartRelease { .. } => Step::StartRelease,
            Change::HealthCheck { .. } => Step::HealthCheck,
            Change::CreateRoute { .. }
            | Change::SwitchRoute { .. }
            | Change::PointUpstream { .. }
            | Change::RemoveRoute { .. } => Step::SwitchRoute,
            Change::DeleteUpstream { .. } => Step::Dns,
            Change::UpsertRecord { .. } | Change::DeleteRecord { .. } => Step::Dns,
            Change::RecordRelease { .. }
            | Change::AddDomain { .. }
            | Change::TakeDomain { .. }
            | Change::ForgetDomain { .. }
            | Change::ForgetProject { .. } => Step::Record,
            Change::StopRelease { .. } => Step::StopPrevious,
            Change::Watch { .. } => Step::Watch,
            Change::RemoveContainer { .. }
            | Change::RemoveNetwork { .. }
            | Change::RemoveVolume { .. }
            | Change::RemoveImage { .. }
            | Change::KeepVolume { .. } => Step::Remove,
        }
    }
}

impl fmt::Display for Change {
    /// The change as a sentence, for people.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::SetEnv { keys } => write!(f, "store env vars {}", list(keys)),
            Change::KeepEnv { keys } => {
                write!(f, "keep the values of {} set with `we env set` over the project file's", list(keys))
            }
            Change::AllocatePort { key, range } => write!(f, "allocate a port for {key} from {range}"),
            Change::CreateNetwork { name } => write!(f, "create network {name}"),
            Change::CreateVolume { name } => write!(f, "create protected volume {name}"),
            Change::StartAccessory { service, container, image } => {
                write!(f, "start {service} as {container} ({image})")
            }
            Change::EnsureImage { image, expect_id: None } => write!(f, "make image {image} present"),
            Change::EnsureImage { image, expect_id: Some(id) } => {
                write!(f, "make image {image} present, still as {id}")
            }
            Change::BuildImage { image } => write!(f, "build image {image}"),
            Change::PushImage { image, to } => write!(f, "push image {image} to {to}, to run it by its digest"),
            Change::PullImage { image } => write!(f, "pull image {image} by the digest its push gave"),
            Change::RunReleaseCommand { release, container, command, timeout_ms } => write!(
                f,
                "run the release command `{}` of {release} once as {container} (up to {timeout_ms} ms)",
                command.join(" ")
            ),
            Change::StartRelease { release, container } => write!(f, "start release {release} as {container}"),
            Change::HealthCheck { release, path, deadline_ms } => {
                write!(f, "wait until {release} answers {path} healthy (up to {deadline_ms} ms)")
            }
            Change::RecordRelease { release } => write!(f, "record {release} as the serving release in the SSOT"),
            Change::AddDomain { domain } => write!(f, "record {domain} as the environment's domain in the SSOT"),
            Change::TakeDomain { domain, from } => {
                write!(f, "move {domain} from {from} to the environment in the SSOT")
            }
            Change::ForgetDomain { domain } => write!(f, "forget {domain} in the SSOT"),
            Change::CreateRoute { host } => write!(f, "create the route of {host}"),
            Change::SwitchRoute { host, from } => write!(f, "switch the route of {host} from {from}"),
            Change::PointUpstream { name, release, target } => {
                write!(f, "point {name} at {release} on {target} (the cutover of every route)")
            }
            Change::UpsertRecord { zone, name, ip } => write!(f, "point {name} at {ip} (zone {zone})"),
            Change::StopRelease { release, container } => write!(f, "drain and stop release {release} ({container})"),
            Change::Watch { window_ms } => {
                write!(f, "watch the new release for {window_ms} ms, rolling back if it turns unhealthy")
            }
            Change::RemoveRoute { host } => write!(f, "remove the route of {host}"),
            Change::DeleteUpstream { name } => write!(f, "delete the upstream record {name}"),
            Change::DeleteRecord { zone, name } => write!(f, "delete the record of {name} (zone {zone})"),
            Change::RemoveContainer { name } => write!(f, "remove container {name}"),
            Change::RemoveNetwork { name } => write!(f, "remove network {name}"),
            Change::RemoveVolume { name } => write!(f, "remove volume {name}"),
            Change::RemoveImage { image } => write!(f, "remove built image {image}"),
            Change::KeepVolume { name } => write!(f, "keep protected volume {name}"),
            Change::ReleasePort { key, port } => write!(f, "free port {port} of {key}"),
            Change::UnsetEnv { project, env, keys } => write!(f, "remove env vars {} of {project}/{env}", list(keys)),
            Change::ForgetProject { project } => write!(f, "forget project {project} in the SSOT"),
        }
    }
}

/// A change and the server it happens on.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct PlannedChange {
    /// The server the change acts on: the environment's for its containers,
    /// the proxy's, DNS's or control's for routes, records and the SSOT.
    pub server: ServerName,
    /// The change.
    #[serde(flatten)]
    pub change: Change,
}

impl fmt::Display for PlannedChange {
    /// The change as a sentence, naming its server when it is not the local one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.change)?;
        if self.server != ServerName::local() {
            write!(f, " on {}", self.server)?;
        }
        Ok(())
    }
}

/// What a deploy will do. Applying it re-checks that the SSOT has not moved.
///
/// A plan serialises whole (its request included), so it can be saved with
/// `we deploy --dry-run --json` and applied by another process.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The project.
    pub project: ProjectName,
    /// The environment.
    pub env: Environment,
    /// The server the environment runs on.
    pub server: ServerName,
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
    pub changes: Vec<PlannedChange>,
    /// The request the plan was made from.
    pub request: DeployRequest,
}

impl Plan {
    /// The plan as JSON, to save and apply later.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::invalid(format!("the plan cannot be saved: {e}")))
    }

    /// A plan saved by [`Plan::to_json`].
    pub fn from_json(text: &str) -> Result<Plan> {
        serde_json::from_str(text).map_err(|e| Error::invalid(format!("not a codeb deploy plan: {e}")))
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "deploy {} to {}/{} as {} on {}", self.image, self.project, self.env, self.release, self.server)?;
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

/// Whole milliseconds of a duration, saturating.
pub(crate) fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The error of a plan whose server cannot be reached: `cause`'s kind, naming the server.
fn unreachable(server: &ServerName, cause: Error) -> Error {
    Error::new(cause.kind(), format!("cannot plan changes on server {server}: it cannot be reached"))
        .with_context("server", server)
        .with_source(cause)
}

/// Builds a list of changes, naming the server of each.
pub(crate) struct Planner {
    changes: Vec<PlannedChange>,
}

impl Planner {
    pub(crate) fn new() -> Self {
        Planner { changes: Vec::new() }
    }

    pub(crate) fn push(&mut self, server: &ServerName, change: Change) {
        self.changes.push(PlannedChange { server: server.clone(), change });
    }

    pub(crate) fn finish(self) -> Vec<PlannedChange> {
        self.changes
    }
}

impl Platform {
    /// What deploying `request` would change, without changing anything.
    pub async fn plan(&self, request: &DeployRequest) -> Result<Plan> {
        let (project, env) = (request.project.clone(), request.env.clone());
        let (revision, record) = {
            let (project, env, domains) = (project.clone(), env.clone(), request.domains.clone());
            self.blocking_state(move |s| {
                s.view(|doc| {
                    doc.check_domains_free(&project, &env, &domains)?;
                    Ok((doc.revision, doc.environment(&project, &env).cloned()))
                })
            })
            .await?
        };
        self.check_request(request)?;
        let host =
            self.backends.fleet.place(record.as_ref().and_then(|r| r.server.as_ref()), request.server.as_ref())?;
        let server = host.name.clone();
        host.runtime.ping().await.map_err(|e| unreachable(&server, e))?;
        let control = self.servers().control;
        let release = next_release_id(record.as_ref())?;
        let previous = record.as_ref().and_then(|r| r.current_release.clone());
        let mut plan = Planner::new();

        for service in request.accessories.services() {
            if record.as_ref().is_none_or(|r| !r.ports.contains_key(&service)) {
                let range = self.port_range(env.kind(), service)?;
                plan.push(
                    &control,
                    Change::AllocatePort { key: PortKey::new(project.clone(), env.clone(), service), range },
                );
            }
        }
        let app_range = self.port_range(env.kind(), Service::App)?;
        plan.push(
            &control,
            Change::AllocatePort {
                key: PortKey::for_release(project.clone(), env.clone(), release.clone()),
                range: app_range,
            },
        );

        let scope = Scope::new(project.clone(), env.clone());
        let current = self.backends.secrets.list(&scope).await?;
        let overrides = record.as_ref().map(|r| r.env_overrides.clone()).unwrap_or_default();
        let (kept, keys): (Vec<EnvKey>, Vec<EnvKey>) = request
            .env_vars
            .iter()
            .filter(|want| !current.vars.iter().any(|have| have == *want))
            .map(|v| v.key.clone())
            .partition(|key| overrides.contains(key));
        if !keys.is_empty() {
            plan.push(&control, Change::SetEnv { keys });
        }
        if !kept.is_empty() {
            plan.push(&control, Change::KeepEnv { keys: kept });
        }

        self.plan_accessories(request, host, &mut plan).await?;

        let image = request.image.clone();
        if request.build.is_some() {
            self.plan_build(&image, &server, &mut plan).await?;
        } else {
            self.check_pinned_image(host, &image).await?;
            plan.push(&server, Change::EnsureImage { image: image.clone(), expect_id: None });
        }
        if let Some(command) = &request.release_command {
            plan.push(
                &server,
                Change::RunReleaseCommand {
                    release: release.clone(),
                    container: release_command_container(&project, &env, &release)?,
                    command: command.argv.clone(),
                    timeout_ms: millis(command.timeout),
                },
            );
        }
        plan.push(
            &server,
            Change::StartRelease { release: release.clone(), container: release_container(&project, &env, &release)? },
        );
        plan.push(
            &server,
            Change::HealthCheck {
                release: release.clone(),
                path: request.health.path.to_string(),
                deadline_ms: millis(request.health.deadline),
            },
        );
        let mut domains = request.domains.clone();
        for domain in record.iter().flat_map(|r| r.domains.iter()) {
            if !domains.contains(domain) {
                domains.push(domain.clone());
            }
        }
        self.plan_routes(&project, &env, &release, &domains, host, &mut plan).await?;
        plan.push(&control, Change::RecordRelease { release: release.clone() });
        if let Some(previous) = &previous {
            plan.push(
                &server,
                Change::StopRelease {
                    release: previous.clone(),
                    container: release_container(&project, &env, previous)?,
                },
            );
            if !self.settings.watch_window.is_zero() {
                plan.push(&server, Change::Watch { window_ms: millis(self.settings.watch_window) });
            }
        }
        Ok(Plan {
            project,
            env,
            server,
            revision,
            release,
            image,
            previous,
            domains,
            changes: plan.finish(),
            request: request.clone(),
        })
    }

    /// The route and record changes that point `domains` of `project`/`env`
    /// at `release` on `host`. With an upstream zone, the cutover is one
    /// [`Change::PointUpstream`], and a route changes only when it does not
    /// yet discover the environment's record.
    pub(crate) async fn plan_routes(
        &self,
        project: &ProjectName,
        env: &Environment,
        release: &ReleaseId,
        domains: &[DomainName],
        host: &crate::fleet::Host,
        plan: &mut Planner,
    ) -> Result<()> {
        let servers = self.servers();
        let wanted = match &self.settings.upstream_zone {
            Some(zone) => {
                let name = upstream_name(project, env, zone)?;
                let target = server_target(&host.name, zone)?;
                plan.push(&servers.dns, Change::PointUpstream { name: name.clone(), release: release.clone(), target });
                Some(Upstreams::Srv(name))
            }
            None => None,
        };
        for domain in domains {
            match self.backends.proxy.get_route(domain).await? {
                Some(route) if wanted.as_ref() == Some(&route.upstreams) => {}
                Some(route) => {
                    plan.push(&servers.proxy, Change::SwitchRoute { host: domain.clone(), from: route.upstreams })
                }
                None => plan.push(&servers.proxy, Change::CreateRoute { host: domain.clone() }),
            }
        }
        if let Some(zone) = &self.settings.zone {
            for name in domains.iter().filter(|d| d.is_within(zone)) {
                let ip = host.addresses.public_ipv4;
                plan.push(&servers.dns, Change::UpsertRecord { zone: zone.clone(), name: name.clone(), ip });
            }
        }
        Ok(())
    }

    /// The build of `image` for a release on `server`, on the fleet's
    /// builder: a push to the registry when there is one, and then a pull by
    /// digest on `server`. A builder that is another server needs the
    /// registry (`Invalid` without one) and must answer now.
    async fn plan_build(&self, image: &ImageRef, server: &ServerName, plan: &mut Planner) -> Result<()> {
        let builder = self.backends.fleet.builder(server)?;
        let registry = self.settings.registry.as_ref();
        if builder.name != *server {
            if registry.is_none() {
                return Err(Error::invalid(format!(
                    "server {} builds images, and the platform file has no [registry] that server {server} could pull them from: add a [registry] section, or take the build role off",
                    builder.name
                ))
                .with_context("server", &builder.name)
                .with_context("field", "registry"));
            }
            builder.runtime.ping().await.map_err(|e| unreachable(&builder.name, e))?;
        }
        plan.push(&builder.name, Change::BuildImage { image: image.clone() });
        if let Some(registry) = registry {
            let to = registry.name_of(image)?;
            plan.push(&builder.name, Change::PushImage { image: image.clone(), to: to.clone() });
            plan.push(server, Change::PullImage { image: to });
        }
        Ok(())
    }

    /// Refuses a request that cannot be deployed, before anything is touched.
    fn check_request(&self, request: &DeployRequest) -> Result<()> {
        for service in request.accessories.services() {
            self.port_range(request.env.kind(), service)?;
        }
        request.health.check()?;
        if let Some(command) = &request.command {
            crate::model::check_command(command)?;
        }
        if let Some(command) = &request.release_command {
            crate::model::check_release_command(&command.argv)?;
        }
        if let Some(build) = &request.build {
            build.check_inputs()?;
        }
        Ok(())
    }

    /// Refuses an image pinned by digest in the platform's registry that the
    /// registry does not hold (`NotFound`), before anything changes: the image
    /// is pulled here, and a digest never names other content.
    async fn check_pinned_image(&self, host: &crate::fleet::Host, image: &ImageRef) -> Result<()> {
        let Some(registry) = self.settings.registry.as_ref().filter(|r| r.holds(image) && image.digest().is_some())
        else {
            return Ok(());
        };
        match host.runtime.ensure_image(image).await {
            Err(e) if e.kind() == ErrorKind::NotFound => Err(Error::not_found(format!(
                "image {image} is not in the registry {}: deploy with a [build] section to push an image, or name a digest the registry holds",
                registry.address
            ))
            .with_context("image", image)
            .with_source(e)),
            other => other.map(drop),
        }
    }

    pub(crate) fn port_range(&self, kind: crate::model::EnvironmentKind, service: Service) -> Result<PortRange> {
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
        host: &crate::fleet::Host,
        plan: &mut Planner,
    ) -> Result<()> {
        let (project, env) = (&request.project, &request.env);
        let wanted = request.accessories.services();
        if wanted.is_empty() {
            return Ok(());
        }
        let server = &host.name;
        let network = environment_network(project, env)?;
        plan.push(server, Change::CreateNetwork { name: network });
        for service in wanted {
            let container = accessory_container(project, env, service)?;
            let volume = accessory_volume(project, env, service)?;
            let labels = crate::runtime::managed_labels(project, env, service, None);
            if !host.runtime.list_volumes(&labels).await?.iter().any(|v| v.name == volume) {
                plan.push(server, Change::CreateVolume { name: volume });
            }
            let running = match host.runtime.inspect_container(&container).await {
                Ok(info) => info.state == crate::runtime::ContainerState::Running,
                Err(e) if e.kind() == ErrorKind::NotFound => false,
                Err(e) => return Err(e),
            };
            if !running {
                let image = self.settings.accessory_image(service).clone();
                plan.push(server, Change::StartAccessory { service, container, image });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_reads_as_a_sentence_naming_its_server_unless_it_is_the_local_one() {
        let change = Change::CreateRoute { host: DomainName::parse("shop.codeb.test").unwrap() };
        let here = PlannedChange { server: ServerName::local(), change: change.clone() };
        assert_eq!(here.to_string(), "create the route of shop.codeb.test");
        let there = PlannedChange { server: ServerName::parse("edge").unwrap(), change };
        assert_eq!(there.to_string(), "create the route of shop.codeb.test on edge");
    }

    #[test]
    fn a_cutover_by_dns_reads_as_one_record_change_for_every_route() {
        let name = |s: &str| DomainName::parse(s).unwrap();
        let point = Change::PointUpstream {
            name: name("production.shop.env.codeb.internal"),
            release: ReleaseId::parse("v4").unwrap(),
            target: name("app.server.codeb.internal"),
        };
        assert_eq!(
            point.to_string(),
            "point production.shop.env.codeb.internal at v4 on app.server.codeb.internal (the cutover of every route)"
        );
        assert_eq!(point.step(), Step::SwitchRoute);
        let switch =
            Change::SwitchRoute { host: name("shop.codeb.test"), from: Upstreams::Srv(name("old.env.codeb.internal")) };
        assert_eq!(
            switch.to_string(),
            "switch the route of shop.codeb.test from the SRV record old.env.codeb.internal"
        );
    }
}
