//! The end of a deploy that need not hold up whoever deployed: once the
//! switch is recorded, the previous release drains and stops, and the
//! containers of releases the deploy pruned go.
//!
//! A deploy run with [`DeployOptions::retire_later`] leaves this to its
//! caller as a [`Retirement`] in its report, which [`Platform::retire`] then
//! carries out, in the same process or another one that outlives the
//! caller's (`we deploy` hands it to a `we` of its own and exits). It takes
//! no lock, and its one SSOT write frees the port the previous release kept
//! while it stopped (the next deploy's end frees it too, should the
//! retirement never run). It stops the very container that served before the switch
//! (its runtime id, taken while the deploy held the lock), so a rollback
//! that starts that release again meanwhile is never stopped by it.

use crate::engine::events::Events;
use crate::engine::{DeployOptions, Platform};
use crate::model::{Environment, Port, ProjectName, ReleaseId, ServerName};
use crate::releases::ReleaseRef;
use crate::runtime::StopOptions;
use crate::ssot::StateStoreExt;
use crate::ssot::{ReleaseRecord, ReleaseStatus};
use crate::{Error, ErrorKind, Result};

/// What is left of a deploy once traffic moved: see the module's doc.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Retirement {
    /// The project.
    pub project: ProjectName,
    /// The environment.
    pub env: Environment,
    /// The server the releases run on.
    pub server: ServerName,
    /// The release that served before the switch, to drain and stop (none: none is left running).
    pub previous: Option<Retiring>,
    /// The releases the deploy pruned from the SSOT, and failed ones, whose containers go.
    pub leftovers: Vec<ReleaseId>,
}

/// The release that served before a switch, as it ran then.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Retiring {
    /// The release.
    pub release: ReleaseId,
    /// The runtime's id of the container that ran it.
    pub instance: String,
    /// The host port it served on, whose in-flight requests the drain waits for.
    pub port: Port,
}

impl Platform {
    /// Drains the previous release of `retirement` (until nothing is in
    /// flight to it, at most the drain grace), stops that very container
    /// (the stop grace, then killed), and removes the leftover releases'
    /// containers.
    ///
    /// Checked first, before anything changes, against the SSOT and the
    /// runtime: a leftover the environment still keeps (serving, or a
    /// rollback target) and an instance that is not the previous release's
    /// container are `Conflict`, as a retirement written by hand that names
    /// them would be. A previous release that serves again (a rollback came
    /// first) is left running. What cannot be done is told as a note on
    /// `options`' events and left as it is (a container that runs on serves
    /// nobody, and `we ssot diff` shows it).
    pub async fn retire(&self, retirement: &Retirement, options: &DeployOptions) -> Result<()> {
        let events = Events::new(options.events.clone());
        let host = self.backends.fleet.host(&retirement.server)?.clone();
        let (project, env) = (&retirement.project, &retirement.env);
        let record = self.snapshot_environment(project, env).await?;
        if let Some(kept) = retirement.leftovers.iter().find(|id| record.release(id).is_some_and(is_kept)) {
            return Err(Error::conflict(format!(
                "release {kept} of {project}/{env} is kept (serving, or a rollback target): only the containers of pruned or failed releases go"
            ))
            .with_context("release", kept));
        }
        let release_ref =
            |release: &ReleaseId| ReleaseRef { project: project.clone(), env: env.clone(), release: release.clone() };
        if let Some(previous) = &retirement.previous {
            if record.current_release.as_ref() == Some(&previous.release) {
                events.note(format!("release {} serves again: it is left running", previous.release));
            } else {
                self.drain(&host, previous.port, &events).await;
                let grace = StopOptions { grace: self.settings.stop_grace };
                match host.releases.stop_instance(&release_ref(&previous.release), &previous.instance, grace).await {
                    Ok(()) => self.free_retired_port(retirement, &previous.release).await?,
                    Err(e) if e.kind() == ErrorKind::Conflict => return Err(e),
                    // It still listens: its port stays recorded, as `we port check` then shows.
                    Err(e) => {
                        events.note(format!("the previous release {} could not be stopped: {e}", previous.release))
                    }
                }
            }
        }
        for release in &retirement.leftovers {
            if let Err(e) = host.releases.remove(&release_ref(release)).await {
                events.note(format!("could not remove the container of release {release}: {e}"));
            }
        }
        Ok(())
    }

    /// Frees the port the retired `release` kept while it stopped, unless
    /// it serves again (a rollback) or its environment is gone (deleted).
    async fn free_retired_port(&self, retirement: &Retirement, release: &ReleaseId) -> Result<()> {
        let (project, env, release) = (retirement.project.clone(), retirement.env.clone(), release.clone());
        self.blocking_state(move |s| {
            s.modify(|doc| {
                let record = doc.projects.get_mut(&project).and_then(|p| p.environments.get_mut(&env));
                if let Some(record) = record.filter(|r| r.current_release.as_ref() != Some(&release)) {
                    record.release_ports.remove(&release);
                }
                Ok(())
            })
        })
        .await
    }
}

/// Whether the environment keeps `release` (its container must stay): any
/// recorded release but a failed one.
fn is_kept(release: &ReleaseRecord) -> bool {
    !matches!(release.status, ReleaseStatus::Failed { .. })
}
