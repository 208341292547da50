//! Recovery after a deploy was interrupted (a crash, a killed process): the
//! environment is brought back to its last recorded release, and whatever the
//! interrupted deploy left behind is cleaned up.

use crate::Result;
use crate::engine::events::Events;
use crate::engine::executor::Edit;
use crate::engine::lock::{self, LockRequest};
use crate::engine::{DeployOptions, Platform};
use crate::model::{DomainName, Environment, ProjectName, ReleaseId, Service, Step};
use crate::ports::PortKey;
use crate::proxy::Upstream;
use crate::releases::{Endpoint, ReleaseRef, ReleaseState};
use crate::runtime::StopOptions;
use crate::ssot::{ReleaseStatus, StateStoreExt};

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
    /// Hosts whose route was pointed back at the serving release.
    pub repaired_routes: Vec<DomainName>,
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
        self.repaired_routes.iter().try_for_each(|h| write!(f, "\n  pointed {h} back at the serving release"))
    }
}

impl Platform {
    /// Completes or cleans up an interrupted deploy of an environment.
    ///
    /// The lock must be free or stale (its holder gone); `force` takes it
    /// from a live holder too. Afterwards the recorded current release runs and
    /// every route of the environment points at it; releases still pending
    /// are removed and recorded as failed. An environment the SSOT does not
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
        let store = self.backends.state.clone();
        let me = self.settings.identity.clone();
        let request = LockRequest {
            project: project.clone(),
            env: env.clone(),
            me: me.clone(),
            message: Some("recover".to_owned()),
            expect_revision: None,
        };
        let nothing: Edit = Box::new(|_| Ok(()));
        lock::acquire(store.as_ref(), &request, self.backends.liveness.as_ref(), options.wait_for_lock, &nothing)
            .await?;
        let result = self.repair(project, env, &mut report, &events).await;
        let (p, e) = (project.clone(), env.clone());
        self.blocking_state(move |s| s.modify(|doc| lock::release_in(doc, &p, &e, &me))).await?;
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
            let endpoint = match host.releases.state(&release_ref(&current.id)).await? {
                ReleaseState::Running => Endpoint { host: host.addresses.upstream, port },
                ReleaseState::Stopped | ReleaseState::Gone => {
                    report.restarted_current = true;
                    events.note(format!("starting release {} again, which the SSOT records as serving", current.id));
                    host.releases.resume(&release_ref(&current.id), port).await?
                }
            };
            let upstream = vec![Upstream::from(endpoint)];
            for host in &current.config.domains {
                match b.proxy.get_route(host).await? {
                    Some(route) if route.upstreams == upstream => {}
                    Some(_) => {
                        b.proxy.switch_upstreams(host, &upstream).await?;
                        events.note(format!("pointed the route of {host} back at release {}", current.id));
                        report.repaired_routes.push(host.clone());
                    }
                    None => events.note(format!("{host} has no route; the next deploy creates it")),
                }
            }
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
                let dangling = Upstream { host: host.addresses.upstream, port };
                for route in b.proxy.list_routes().await? {
                    if route.upstreams.contains(&dangling) {
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
}
