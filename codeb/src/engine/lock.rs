//! The per-environment deploy lock, kept in the SSOT so every process and
//! every front end sees the same holder. A lock is a lease: stale once its
//! lease runs out (its holder renews it: see [`crate::engine::lease`]), or
//! when its holder is a process on this host that no longer runs.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::engine::Platform;
use crate::engine::events::Events;
use crate::engine::lease::{Held, Lease, lease_end};
use crate::model::{Environment, ProjectName};
use crate::ssot::{DeployLock, Deployer, Ssot, StateStore, StateStoreExt};
use crate::{Error, ErrorKind, Result};

/// Tells whether a process on this host still runs, to spot stale locks.
#[async_trait]
pub trait Liveness: Send + Sync + fmt::Debug {
    /// Whether process `pid` on this host is alive; an error when that cannot be told.
    async fn is_alive(&self, pid: u32) -> Result<bool>;
}

/// Who this process is, as recorded in the locks it takes and the releases it makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The user on whose behalf codeb runs (`$USER`, or an agent's name).
    pub user: String,
    /// The front end codeb runs in: `we`, `mcp`, `python`, or a program's own name.
    pub front_end: String,
    /// This host's name.
    pub host: String,
    /// This process's id.
    pub pid: u32,
}

impl Identity {
    /// The owner a lock records: `user (front_end)`.
    pub fn owner(&self) -> String {
        format!("{} ({})", self.user, self.front_end)
    }

    /// Who makes a release, as its record keeps it.
    pub fn deployer(&self) -> Deployer {
        Deployer { user: self.user.clone(), host: self.host.clone(), front_end: self.front_end.clone() }
    }
}

/// A lock as reported to people: its holder, the lease left, and whether it is stale.
///
/// It reads back from its JSON, so a front end that keeps the JSON can still print its sentence.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct LockStatus {
    /// The project.
    pub project: ProjectName,
    /// The environment.
    pub env: Environment,
    /// The holder: who, on which host, since when, and until when its lease runs.
    pub holder: DeployLock,
    /// Whether the lock is stale (its lease ran out, or its holder is a process on this host that is gone): it can be taken.
    pub stale: bool,
    /// Milliseconds left of the holder's lease when this was read (0: it ran out); absent for a lock without a lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_left_ms: Option<u64>,
}

impl LockStatus {
    /// The status of `holder`, judged `stale` or not, at `now`.
    fn of(project: &ProjectName, env: &Environment, holder: DeployLock, stale: bool, now: DateTime<Utc>) -> Self {
        let lease_left_ms = holder.lease_left(now).map(|left| u64::try_from(left.as_millis()).unwrap_or(u64::MAX));
        LockStatus { project: project.clone(), env: env.clone(), holder, stale, lease_left_ms }
    }
}

impl fmt::Display for LockStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} is locked by {}", self.project, self.env, self.holder)?;
        match (self.lease_left_ms, self.stale) {
            (Some(0), _) => f.write_str(
                "; its lease ran out: the lock is stale and can be taken (a deploy takes it, recovering first)",
            ),
            (_, true) => {
                f.write_str("; the holder process is gone: release the stale lock, or recover the environment")
            }
            (Some(left), false) => write!(f, "; its lease runs {} more s unless renewed", left.div_ceil(1000)),
            (None, false) => Ok(()),
        }
    }
}

/// Whether `holder`'s lease ran out, or it is a process on this host that no longer runs.
pub(crate) async fn is_stale(holder: &DeployLock, me: &Identity, liveness: &dyn Liveness) -> Result<bool> {
    if holder.lease_left(Utc::now()).is_some_and(|left| left.is_zero()) {
        return Ok(true);
    }
    Ok(holder.host == me.host && !liveness.is_alive(holder.pid).await?)
}

/// The holder of an environment's lock, if any, and whether it is stale.
///
/// Liveness is asked outside any SSOT write; a writer that then finds another
/// holder than this one treats it as live (see [`stale_if_same`]).
pub(crate) async fn judge(
    store: &dyn StateStore,
    project: &ProjectName,
    env: &Environment,
    me: &Identity,
    liveness: &dyn Liveness,
) -> Result<Option<(DeployLock, bool)>> {
    let holder = store.view(|doc| Ok(doc.environment(project, env).and_then(|e| e.lock.clone())))?;
    match holder {
        Some(holder) => {
            let stale = is_stale(&holder, me, liveness).await?;
            Ok(Some((holder, stale)))
        }
        None => Ok(None),
    }
}

/// Whether `current` is stale, as judged before the write: a lock that
/// changed hands (or was renewed) since was not judged, and counts as live.
fn stale_if_same(judged: &Option<(DeployLock, bool)>, current: &DeployLock) -> bool {
    judged.as_ref().is_some_and(|(holder, stale)| *stale && holder == current)
}

/// What taking one lock requires of the SSOT.
#[derive(Clone, Debug)]
pub(crate) struct LockRequest {
    pub project: ProjectName,
    pub env: Environment,
    pub message: Option<String>,
    /// Refuse unless the SSOT is still at this revision (a plan's).
    pub expect_revision: Option<u64>,
}

impl LockRequest {
    /// The lock of `project`/`env`, taken whatever the SSOT's revision, saying `message`.
    pub(crate) fn new(project: &ProjectName, env: &Environment, message: Option<String>) -> Self {
        LockRequest { project: project.clone(), env: env.clone(), message, expect_revision: None }
    }
}

/// The context key that marks an error as "the plan is stale": planning again may succeed.
pub(crate) const STALE_PLAN: &str = "stale_plan";

/// Takes the lock inside `doc` for `me` until `lease_until`, or fails with
/// `Locked` naming the holder, whose staleness was [`judge`]d before the write.
fn take_in(doc: &mut Ssot, req: &LockRequest, judged: &Option<(DeployLock, bool)>, holder: &DeployLock) -> Result<()> {
    let revision = doc.revision;
    let env = doc.environment_mut(&req.project, &req.env);
    if let Some(current) = &env.lock {
        let status =
            LockStatus::of(&req.project, &req.env, current.clone(), stale_if_same(judged, current), Utc::now());
        return Err(Error::new(ErrorKind::Locked, status.to_string())
            .with_context("holder", format!("{}@{}", current.owner, current.host))
            .with_context("stale", status.stale)
            .with_context("project", &req.project)
            .with_context("environment", &req.env));
    }
    if let Some(expected) = req.expect_revision.filter(|expected| *expected != revision) {
        return Err(Error::conflict(format!(
            "the SSOT moved from revision {expected} to {revision} since the plan was made; plan again"
        ))
        .with_context(STALE_PLAN, true));
    }
    env.lock = Some(DeployLock { message: req.message.clone(), ..holder.clone() });
    Ok(())
}

impl Platform {
    /// Takes every lock of `requests` and applies `also`, in one commit,
    /// waiting up to `wait` for live holders to finish (polling). Returns the
    /// committed document and the [`Lease`] of the locks taken, renewed from
    /// now on until it is released.
    pub(crate) async fn acquire(
        &self,
        requests: &[LockRequest],
        wait: Option<Duration>,
        also: &(dyn Fn(&mut Ssot) -> Result<()> + Send + Sync),
        events: &Events,
    ) -> Result<(Ssot, Lease)> {
        let (store, liveness, me) =
            (self.backends.state.as_ref(), self.backends.liveness.as_ref(), &self.settings.identity);
        let length = self.settings.lock_lease;
        let deadline = wait.map(|w| tokio::time::Instant::now() + w);
        loop {
            let mut judged = Vec::with_capacity(requests.len());
            for req in requests {
                judged.push(judge(store, &req.project, &req.env, me, liveness).await?);
            }
            let now = Utc::now();
            let holder = DeployLock {
                owner: me.owner(),
                host: me.host.clone(),
                pid: me.pid,
                started_at: now,
                message: None,
                lease_until: Some(lease_end(now, length)),
            };
            let attempt = store.modify(|doc| {
                requests.iter().zip(&judged).try_for_each(|(req, judged)| take_in(doc, req, judged, &holder))?;
                also(doc)?;
                Ok(doc.clone())
            });
            match attempt {
                Err(e) if e.kind() == ErrorKind::Locked && e.context_value("stale") == Some("false") => {
                    match deadline {
                        Some(deadline) if tokio::time::Instant::now() < deadline => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        _ => return Err(e),
                    }
                }
                Err(e) => return Err(e),
                Ok(doc) => {
                    let held = requests
                        .iter()
                        .map(|req| Held { project: req.project.clone(), env: req.env.clone(), lock: holder.clone() })
                        .collect();
                    let lease = Lease::start(Arc::clone(&self.backends.state), held, length, events.clone());
                    return Ok((doc, lease));
                }
            }
        }
    }
}

/// The lock of one environment, if held.
pub(crate) async fn status(
    store: &dyn StateStore,
    project: &ProjectName,
    env: &Environment,
    me: &Identity,
    liveness: &dyn Liveness,
) -> Result<Option<LockStatus>> {
    let judged = judge(store, project, env, me, liveness).await?;
    Ok(judged.map(|(holder, stale)| LockStatus::of(project, env, holder, stale, Utc::now())))
}

/// Releases someone else's lock: only a stale one (as [`judge`]d), unless `force`.
pub(crate) fn release_stale(
    store: &dyn StateStore,
    project: &ProjectName,
    env: &Environment,
    judged: &Option<(DeployLock, bool)>,
    force: bool,
) -> Result<Option<LockStatus>> {
    store.modify(|doc| {
        let Some(record) = doc.projects.get_mut(project).and_then(|p| p.environments.get_mut(env)) else {
            return Ok(None);
        };
        let Some(holder) = record.lock.clone() else { return Ok(None) };
        let stale = stale_if_same(judged, &holder);
        let status = LockStatus::of(project, env, holder, stale, Utc::now());
        if !status.stale && !force {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!("{status}; its holder may be alive (its lease runs, and it is not a gone process of this host): pass force to take it anyway"),
            ));
        }
        record.lock = None;
        Ok(Some(status))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeLiveness;
    use crate::ssot::MemoryStateStore;

    fn holder(pid: u32) -> DeployLock {
        DeployLock {
            owner: "ci".into(),
            host: "h".into(),
            pid,
            started_at: chrono::Utc::now(),
            message: None,
            lease_until: None,
        }
    }

    #[tokio::test]
    async fn a_lock_that_changed_hands_after_it_was_judged_stale_is_not_released_without_force() {
        let (project, env) = (ProjectName::parse("shop").unwrap(), Environment::Staging);
        let store = MemoryStateStore::default();
        let hold = |pid| {
            store
                .modify(|doc| {
                    doc.environment_mut(&project, &env).lock = Some(holder(pid));
                    Ok(())
                })
                .unwrap()
        };
        hold(7);
        let liveness = FakeLiveness::new();
        liveness.kill(7);
        let me = Identity { user: "me".into(), front_end: "test".into(), host: "h".into(), pid: 1 };
        let judged = judge(&store, &project, &env, &me, &liveness).await.unwrap();
        assert_eq!(judged.as_ref().map(|(_, stale)| *stale), Some(true));

        // A new deploy (pid 8) takes over before the release is written.
        hold(8);
        let err = release_stale(&store, &project, &env, &judged, false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
        let released = release_stale(&store, &project, &env, &judged, true).unwrap().unwrap();
        assert_eq!((released.holder.pid, released.stale), (8, false));
    }
}
