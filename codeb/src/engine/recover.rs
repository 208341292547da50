//! Recovery after a deploy was interrupted (a crash, a killed process): the
//! environment is brought back to its last recorded release, and whatever the
//! interrupted deploy left behind is cleaned up.

use crate::dns::{RecordData, RecordSet};
use crate::engine::events::Events;
use crate::engine::executor::{Edit, RECORD_TTL, a_record, moved_tag};
use crate::engine::lock::LockRequest;
use crate::engine::naming::environment_network;
use crate::engine::naming::server_target;
use crate::engine::{DeployOptions, Platform};
use crate::fleet::Host;
use crate::model::{DomainName, Environment, Port, ProjectName, ReleaseId, Service, Step};
use crate::ports::PortKey;
use crate::proxy::{Route, Upstreams};
use crate::releases::{Endpoint, ReleaseRef, ReleaseSpec, ReleaseState};
use crate::runtime::StopOptions;
use crate::secrets::Scope;
use crate::ssot::{ReleaseRecord, ReleaseStatus, StateStoreExt};
use crate::{Error, Result};

/// What a recovery found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct RecoverReport {
    /// The stale lock that was released, as `owner@host (pid)`.
    pub released_lock: Option<String>,
    /// Interrupted releases that were cleaned up and recorded as failed.
    pub cleaned: Vec<ReleaseId>,
    /// Whether the serving release's container had to be started again.
    pub restarted_current: bool,
    /// Hosts whose route was pointed back at the serving release (or created again).
    pub repaired_routes: Vec<DomainName>,
    /// Whether the environment's upstream record was pointed back at the serving release.
    #[serde(default)]
    pub repaired_upstream: bool,
    /// Names whose DNS record was made again or pointed back at the serving server.
    #[serde(default)]
    pub repaired_records: Vec<DomainName>,
}

impl std::fmt::Display for RecoverReport {
    /// `recovered`, then each thing it did on a line of its own.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("recovered")?;
        if let Some(lock) = &self.released_lock {
            write!(f, "\n  released the stale lock of {lock}")?;
        }
        self.cleaned.iter().try_for_each(|id| write!(f, "\n  cleaned up interrupted release {id}"))?;
        if self.restarted_current {
            f.write_str("\n  started the serving release again")?;
        }
        if self.repaired_upstream {
            write!(f, "\n  pointed the upstream record back at the serving release")?;
        }
        self.repaired_routes.iter().try_for_each(|h| write!(f, "\n  pointed {h} back at the serving release"))?;
        self.repaired_records.iter().try_for_each(|h| write!(f, "\n  made the DNS record of {h} again"))
    }
}

/// What reconciling the whole platform did: one recovery per environment the SSOT records.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ReconcileReport {
    /// Each environment, in the SSOT's order.
    pub environments: Vec<Reconciled>,
}

/// One environment of a reconcile: what its recovery did, or why it could not run.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Reconciled {
    /// The project.
    pub project: ProjectName,
    /// The environment.
    pub env: Environment,
    /// What its recovery found and did, when it ran.
    pub report: Option<RecoverReport>,
    /// Why it did not (a live deploy holds its lock, a backend failed).
    pub error: Option<String>,
}

impl ReconcileReport {
    /// Whether every environment was reconciled.
    pub fn is_complete(&self) -> bool {
        self.environments.iter().all(|e| e.error.is_none())
    }
}

impl std::fmt::Display for ReconcileReport {
    /// `reconciled N environments`, then each with what it did or why it failed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "reconciled {} environments", self.environments.len())?;
        for e in &self.environments {
            match (&e.report, &e.error) {
                (_, Some(error)) => write!(f, "\n{}/{}: failed: {error}", e.project, e.env)?,
                (Some(report), None) => {
                    write!(f, "\n{}/{}: {}", e.project, e.env, report.to_string().replace('\n', "\n  "))?
                }
                (None, None) => write!(f, "\n{}/{}", e.project, e.env)?,
            }
        }
        Ok(())
    }
}

impl Platform {
    /// Brings the whole platform back to what the SSOT says should exist:
    /// [`Platform::recover`] (without `force`) on every environment, so each
    /// serving release runs and every route and DNS record of its domains is
    /// there (after a proxy restart lost its routes, say). An environment
    /// that cannot be reconciled (a live deploy holds it) is reported, and the
    /// others still are.
    pub async fn reconcile(&self, options: &DeployOptions) -> Result<ReconcileReport> {
        let environments = self
            .blocking_state(|s| {
                s.view(|doc| {
                    Ok(doc
                        .projects
                        .iter()
                        .flat_map(|(p, r)| r.environments.keys().map(move |e| (p.clone(), e.clone())))
                        .collect::<Vec<_>>())
                })
            })
            .await?;
        let mut report = ReconcileReport::default();
        for (project, env) in environments {
            let outcome = self.recover(&project, &env, false, options).await;
            let (report_of, error) = match outcome {
                Ok(done) => (Some(done), None),
                Err(e) => (None, Some(e.to_string())),
            };
            report.environments.push(Reconciled { project, env, report: report_of, error });
        }
        Ok(report)
    }

    /// Completes or cleans up an interrupted deploy of an environment.
    ///
    /// The lock must be free or stale (its holder gone); `force` takes it
    /// from a live holder too. Afterwards the recorded current release runs
    /// (started again, or made again from its record when its container is
    /// gone), every one of the environment's own domains is routed to it
    /// (a route that is gone is created again) and named in DNS; releases
    /// still pending are removed and recorded as failed. An environment the SSOT does not
    /// know is `NotFound`, and nothing is recorded for it.
    pub async fn recover(
        &self,
        project: &ProjectName,
        env: &Environment,
        force: bool,
        options: &DeployOptions,
    ) -> Result<RecoverReport> {
        // Taking the lock would otherwise record an empty environment of a mistyped project.
        self.existing_environment(project, env).await?;
        let events = Events::new(options.events.clone());
        let mut report = RecoverReport::default();
        if let Some(released) = self.lock_release(project, env, force).await? {
            let holder = released.holder.who();
            events.note(format!("released the deploy lock of {holder}"));
            report.released_lock = Some(holder);
        }
        let request = LockRequest::new(project, env, Some("recover".to_owned()));
        let nothing: Edit = Box::new(|_| Ok(()));
        let (_, mut lease) = self.acquire(&[request], options.wait_for_lock, &nothing, &events).await?;
        let result = self.repair(project, env, &mut report, &events).await;
        lease.stop().await;
        let hold = lease.hold();
        self.blocking_state(move |s| s.modify(|doc| hold.release_in(doc))).await?;
        result.map(|()| report)
    }

    async fn repair(
        &self,
        project: &ProjectName,
        env: &Environment,
        report: &mut RecoverReport,
        events: &Events,
    ) -> Result<()> {
        let b = &self.backends;
        let record = self.snapshot_environment(project, env).await?;
        let host = b.fleet.place(record.server.as_ref(), None)?;
        let current = record.current().cloned();
        let serving = record.ports.get(&Service::App).copied();
        let release_ref =
            |release: &ReleaseId| ReleaseRef { project: project.clone(), env: env.clone(), release: release.clone() };

        if let (Some(current), Some(port)) = (&current, serving) {
            let (endpoint, restarted) = self.run_again(host, project, env, current, port, events).await?;
            report.restarted_current = restarted;
            self.repair_domains((project, env), &record.domains, host, endpoint, report, events).await?;
        }

        for (release, port) in record.release_ports.clone() {
            let pending = record.release(&release).is_some_and(|r| r.status == ReleaseStatus::Pending);
            let serving_release = current.as_ref().is_some_and(|c| c.id == release);
            if serving_release {
                continue;
            }
            if !pending {
                // A retired release the interrupted run had not stopped yet.
                host.releases.stop(&release_ref(&release), StopOptions { grace: self.settings.stop_grace }).await?;
            }
            if pending {
                // Make sure no route still points at it before its container goes.
                let dangling = self.route_target(project, env, Endpoint { host: host.addresses.upstream, port })?;
                let pointed_here = match &dangling {
                    Upstreams::Srv(_) => self.pointed_at(project, env).await?.is_some_and(|srv| srv.port == port),
                    Upstreams::Fixed(_) => true,
                };
                if let (true, Upstreams::Srv(name)) = (pointed_here, &dangling) {
                    self.delete_upstream(name).await?;
                    events.note(format!("deleted the upstream record that pointed at interrupted release {release}"));
                }
                for route in b.proxy.list_routes().await? {
                    if pointed_here && route.upstreams == dangling {
                        b.proxy.remove_route(&route.host).await?;
                        events.note(format!(
                            "removed the route of {} that pointed at interrupted release {release}",
                            route.host
                        ));
                    }
                }
                host.releases.remove(&release_ref(&release)).await?;
            }
            b.ports.release(&PortKey::for_release(project.clone(), env.clone(), release.clone())).await?;
        }

        let (p, e) = (project.clone(), env.clone());
        let cleaned = self
            .blocking_state(move |s| {
                s.modify(|doc| {
                    let env = doc.environment_mut(&p, &e);
                    let mut cleaned = Vec::new();
                    for release in env.releases.iter_mut().filter(|r| r.status == ReleaseStatus::Pending) {
                        release.status = ReleaseStatus::Failed {
                            step: Step::Interrupted,
                            reason: "the deploy was interrupted; recover cleaned it up".to_owned(),
                        };
                        release.updated_at = chrono::Utc::now();
                        cleaned.push(release.id.clone());
                    }
                    Ok(cleaned)
                })
            })
            .await?;
        for release in &cleaned {
            host.releases.remove(&release_ref(release)).await?;
            events.note(format!("removed interrupted release {release}, recorded as failed"));
        }
        report.cleaned = cleaned;
        Ok(())
    }

    /// Makes `release` run at `port` on `host` as the SSOT records it: as it
    /// is when it runs, started again when it stopped, made again from its
    /// record when its container is gone. Says whether it had to act.
    pub(crate) async fn run_again(
        &self,
        host: &Host,
        project: &ProjectName,
        env: &Environment,
        release: &ReleaseRecord,
        port: Port,
        events: &Events,
    ) -> Result<(Endpoint, bool)> {
        let which = ReleaseRef { project: project.clone(), env: env.clone(), release: release.id.clone() };
        match host.releases.state(&which).await? {
            ReleaseState::Running => Ok((Endpoint { host: host.addresses.upstream, port }, false)),
            ReleaseState::Stopped => {
                events.note(format!("starting release {} again", release.id));
                Ok((host.releases.resume(&which, port).await?, true))
            }
            ReleaseState::Gone => {
                events.note(format!("making release {} again from its record: its container is gone", release.id));
                let spec = self.recorded_release(host, project, env, release, port).await?;
                Ok((host.releases.start(&spec).await?, true))
            }
        }
    }

    /// The spec that runs `release` again as it was recorded: its image
    /// (refused if the tag now names other content), command, variables at
    /// its env version, ports, network and limits.
    async fn recorded_release(
        &self,
        host: &Host,
        project: &ProjectName,
        env: &Environment,
        release: &ReleaseRecord,
        host_port: Port,
    ) -> Result<ReleaseSpec> {
        let info = host.runtime.ensure_image(&release.image).await?;
        if let Some(ran) = release.image_digest.as_ref().filter(|ran| **ran != info.id) {
            return Err(moved_tag(&release.image, &release.id, ran, &info.id));
        }
        let config = &release.config;
        let container_port = config.container_port.ok_or_else(|| {
            Error::invalid(format!("release {} has no recorded container port; deploy it again", release.id))
        })?;
        let vars = self.backends.secrets.list_at(&Scope::new(project.clone(), env.clone()), config.env_version).await?;
        Ok(ReleaseSpec {
            release: ReleaseRef { project: project.clone(), env: env.clone(), release: release.id.clone() },
            image: release.image.clone(),
            command: config.command.clone(),
            env: vars.vars,
            container_port,
            host_port,
            network: if config.networked { Some(environment_network(project, env)?) } else { None },
            resources: config.resources,
        })
    }

    /// Points every route of the environment's own domains at `endpoint`
    /// (creating one that is gone) and makes their records in the managed zone.
    async fn repair_domains(
        &self,
        (project, env): (&ProjectName, &Environment),
        domains: &[DomainName],
        host: &Host,
        endpoint: Endpoint,
        report: &mut RecoverReport,
        events: &Events,
    ) -> Result<()> {
        let b = &self.backends;
        let upstream = self.route_target(project, env, endpoint)?;
        if let Some(zone) = &self.settings.upstream_zone {
            let target = server_target(&host.name, zone)?;
            let pointed = self.pointed_at(project, env).await?;
            if pointed.is_none_or(|srv| srv.port != endpoint.port || srv.target != target) {
                self.point_environment(project, env, host, endpoint).await?;
                events.note("pointed the upstream record back at the serving release");
                report.repaired_upstream = true;
            }
        }
        for domain in domains {
            match b.proxy.get_route(domain).await? {
                Some(route) if route.upstreams == upstream => continue,
                Some(_) => b.proxy.switch_upstreams(domain, &upstream).await?,
                None => {
                    let route =
                        Route { host: domain.clone(), upstreams: upstream.clone(), tls: self.settings.tls.clone() };
                    b.proxy.upsert_route(&route).await?
                }
            }
            events.note(format!("pointed the route of {domain} back at the serving release"));
            report.repaired_routes.push(domain.clone());
        }
        let Some(zone) = &self.settings.zone else { return Ok(()) };
        let ip = host.addresses.public_ipv4;
        let wanted = RecordData::A(vec![ip]);
        for domain in domains.iter().filter(|d| d.is_within(zone)) {
            if a_record(b.dns.as_ref(), zone, domain).await?.is_some_and(|set| set.data == wanted) {
                continue;
            }
            b.dns.ensure_zone(zone).await?;
            let set = RecordSet { name: domain.clone(), ttl: RECORD_TTL, data: wanted.clone() };
            b.dns.upsert_records(zone, std::slice::from_ref(&set)).await?;
            events.note(format!("pointed {domain} at {ip} again"));
            report.repaired_records.push(domain.clone());
        }
        Ok(())
    }
}
