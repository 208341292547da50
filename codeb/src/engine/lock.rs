//! The per-environment deploy lock, kept in the SSOT so every process and
//! every front end sees the same holder.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::model::{Environment, ProjectName};
use crate::ssot::{DeployLock, Ssot, StateStore, StateStoreExt};
use crate::{Error, ErrorKind, Result};

/// Tells whether a process on this host still runs, to spot stale locks.
#[async_trait]
pub trait Liveness: Send + Sync + fmt::Debug {
    /// Whether process `pid` on this host is alive; an error when that cannot be told.
    async fn is_alive(&self, pid: u32) -> Result<bool>;
}

/// Who this process is, as recorded in the locks it takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The user or agent on whose behalf codeb runs.
    pub owner: String,
    /// This host's name.
    pub host: String,
    /// This process's id.
    pub pid: u32,
}

/// A lock as reported to people: its holder and whether the holder is gone.
///
/// It reads back from its JSON, so a front end that keeps the JSON can still print its sentence.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct LockStatus {
    /// The project.
    pub project: ProjectName,
    /// The environment.
    pub env: Environment,
    /// The holder.
    pub holder: DeployLock,
    /// Whether the holder's process is gone (same host, not running): releasing it is then safe.
    pub stale: bool,
}

impl fmt::Display for LockStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} is locked by {}", self.project, self.env, self.holder)?;
        if self.stale {
            f.write_str("; the holder process is gone: release the stale lock, or recover the environment")?;
        }
        Ok(())
    }
}

/// Whether `holder` is a process on this host that no longer runs.
pub(crate) async fn is_stale(holder: &DeployLock, me: &Identity, liveness: &dyn Liveness) -> Result<bool> {
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
/// changed hands since was not judged, and counts as live.
fn stale_if_same(judged: &Option<(DeployLock, bool)>, current: &DeployLock) -> bool {
    judged.as_ref().is_some_and(|(holder, stale)| *stale && holder == current)
}

/// What taking a lock requires of the SSOT.
#[derive(Clone, Debug)]
pub(crate) struct LockRequest {
    pub project: ProjectName,
    pub env: Environment,
    pub me: Identity,
    pub message: Option<String>,
    /// Refuse unless the SSOT is still at this revision (a plan's).
    pub expect_revision: Option<u64>,
}

/// The context key that marks an error as "the plan is stale": planning again may succeed.
pub(crate) const STALE_PLAN: &str = "stale_plan";

/// Takes the lock inside `doc`, or fails with `Locked` naming the holder,
/// whose staleness was [`judge`]d before the write.
pub(crate) fn take_in(doc: &mut Ssot, req: &LockRequest, judged: &Option<(DeployLock, bool)>) -> Result<()> {
    let revision = doc.revision;
    let env = doc.environment_mut(&req.project, &req.env);
    if let Some(holder) = &env.lock {
        let status = LockStatus {
            project: req.project.clone(),
            env: req.env.clone(),
            holder: holder.clone(),
            stale: stale_if_same(judged, holder),
        };
        return Err(Error::new(ErrorKind::Locked, status.to_string())
            .with_context("holder", format!("{}@{}", holder.owner, holder.host))
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
    env.lock = Some(DeployLock {
        owner: req.me.owner.clone(),
        host: req.me.host.clone(),
        pid: req.me.pid,
        started_at: chrono::Utc::now(),
        message: req.message.clone(),
    });
    Ok(())
}

/// Takes the lock and applies `also` in the same commit, waiting up to
/// `wait` for a live holder to finish (polling). Returns the committed document.
pub(crate) async fn acquire(
    store: &dyn StateStore,
    req: &LockRequest,
    liveness: &dyn Liveness,
    wait: Option<Duration>,
    also: &(dyn Fn(&mut Ssot) -> Result<()> + Send + Sync),
) -> Result<Ssot> {
    let deadline = wait.map(|w| tokio::time::Instant::now() + w);
    loop {
        let judged = judge(store, &req.project, &req.env, &req.me, liveness).await?;
        let attempt = store.modify(|doc| {
            take_in(doc, req, &judged)?;
            also(doc)?;
            Ok(doc.clone())
        });
        match attempt {
            Err(e) if e.kind() == ErrorKind::Locked && e.context_value("stale") == Some("false") => match deadline {
                Some(deadline) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                _ => return Err(e),
            },
            other => return other,
        }
    }
}

/// Releases the lock in `doc` if `me` holds it; a no-op otherwise.
pub(crate) fn release_in(doc: &mut Ssot, project: &ProjectName, env: &Environment, me: &Identity) -> Result<()> {
    let record = doc.projects.get_mut(project).and_then(|p| p.environments.get_mut(env));
    if let Some(record) = record.filter(|r| r.lock.as_ref().is_some_and(|l| l.host == me.host && l.pid == me.pid)) {
        record.lock = None;
    }
    Ok(())
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
    Ok(judged.map(|(holder, stale)| LockStatus { project: project.clone(), env: env.clone(), holder, stale }))
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
        let status = LockStatus { project: project.clone(), env: env.clone(), stale, holder };
        if !status.stale && !force {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!("{status}; its holder is alive (or on another host): pass force to take it anyway"),
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
        DeployLock { owner: "ci".into(), host: "h".into(), pid, started_at: chrono::Utc::now(), message: None }
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
        let me = Identity { owner: "me".into(), host: "h".into(), pid: 1 };
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
