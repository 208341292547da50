//! The lease of the locks an operation holds: renewed in the background
//! about every third of its length while the operation runs, so a holder
//! that vanishes (a laptop closed, a CI job cancelled) leaves a lock that
//! goes stale within one lease, and a holder that runs keeps it.
//!
//! A renewal extends only the very locks it took (same holder, same
//! `started_at`). Every later SSOT commit of the operation checks it still
//! holds them: a lock taken over meanwhile is never written over, and the
//! operation fails with a `Conflict` naming the new holder.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::oneshot;

use crate::engine::background::Background;
use crate::engine::events::Events;
use crate::model::{Environment, ProjectName};
use crate::ssot::{DeployLock, Ssot, StateStore, StateStoreExt};
use crate::{Error, Result};

/// One lock an operation took.
#[derive(Clone, Debug)]
pub(crate) struct Held {
    pub project: ProjectName,
    pub env: Environment,
    pub lock: DeployLock,
}

/// What an operation holds, shared with the commits that check it: the
/// locks, and whether one of them was found taken over.
#[derive(Clone, Debug)]
pub(crate) struct Hold {
    held: Arc<[Held]>,
    lost: Arc<AtomicBool>,
}

impl Hold {
    /// Fails with `Conflict` unless `doc` still records every held lock as this operation's.
    pub(crate) fn check_in(&self, doc: &Ssot) -> Result<()> {
        for held in self.held.iter() {
            let current = doc.environment(&held.project, &held.env).and_then(|e| e.lock.as_ref());
            if current.is_some_and(|lock| lock.is_same_holding(&held.lock)) {
                continue;
            }
            self.lost.store(true, Ordering::SeqCst);
            return Err(taken_over(held, current));
        }
        Ok(())
    }

    /// Releases every held lock in `doc`, after [`Hold::check_in`].
    pub(crate) fn release_in(&self, doc: &mut Ssot) -> Result<()> {
        self.check_in(doc)?;
        for held in self.held.iter() {
            doc.environment_mut(&held.project, &held.env).lock = None;
        }
        Ok(())
    }

    /// Whether a held lock was found taken over (by a renewal or a commit).
    pub(crate) fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }
}

/// The error of an operation whose lock another took over after its lease ran out.
fn taken_over(held: &Held, now: Option<&DeployLock>) -> Error {
    let (project, env) = (&held.project, &held.env);
    let what = match now {
        Some(holder) => format!("was taken over by {holder}"),
        None => "was released by someone else".to_owned(),
    };
    let error = Error::conflict(format!(
        "the deploy lock of {project}/{env} {what} while this operation ran (its lease had run out); \
         nothing more of it was recorded: see `we lock status`, and run it again"
    ))
    .with_context("project", project)
    .with_context("environment", env);
    match now {
        Some(holder) => error.with_context("holder", format!("{}@{}", holder.owner, holder.host)),
        None => error,
    }
}

/// When a lease of `length` taken at `now` runs out.
pub(crate) fn lease_end(now: DateTime<Utc>, length: Duration) -> DateTime<Utc> {
    now + TimeDelta::from_std(length).unwrap_or(TimeDelta::MAX)
}

/// The locks an operation holds, and the task renewing their lease until
/// [`Lease::stop`] (or until dropped: a cancelled operation stops renewing,
/// and its locks go stale within one lease).
#[derive(Debug)]
pub(crate) struct Lease {
    hold: Hold,
    renewing: Background,
}

impl Lease {
    /// Starts renewing `held` through `store` every third of `length`.
    pub(crate) fn start(store: Arc<dyn StateStore>, held: Vec<Held>, length: Duration, events: Events) -> Self {
        let hold = Hold { held: held.into(), lost: Arc::default() };
        let renewing = Background::spawn(|stopped| renew(store, hold.clone(), length, events, stopped));
        Lease { hold, renewing }
    }

    /// What the operation holds, for its commits to check.
    pub(crate) fn hold(&self) -> Hold {
        self.hold.clone()
    }

    /// Stops renewing, waiting for a renewal under way to end, so none lands after the caller's last commit.
    pub(crate) async fn stop(&mut self) {
        self.renewing.stop().await;
    }
}

/// Renews the lease of `hold` every third of `length` until `stopped`, or
/// until a held lock is found taken over (nothing is left to renew then).
async fn renew(
    store: Arc<dyn StateStore>,
    hold: Hold,
    length: Duration,
    events: Events,
    mut stopped: oneshot::Receiver<()>,
) {
    let every = (length / 3).max(Duration::from_millis(10));
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            () = tokio::time::sleep(every) => {}
        }
        let (store, renewing) = (Arc::clone(&store), hold.clone());
        let renewed = tokio::task::spawn_blocking(move || store.modify(|doc| extend_in(doc, &renewing, length))).await;
        let failure = match renewed {
            Ok(Ok(())) => continue,
            Ok(Err(_)) if hold.is_lost() => return,
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        events.note(format!("could not renew the deploy lock's lease (trying again): {failure}"));
    }
}

/// Extends the lease of every held lock in `doc` to `length` from now, if all are still held.
fn extend_in(doc: &mut Ssot, hold: &Hold, length: Duration) -> Result<()> {
    hold.check_in(doc)?;
    let until = lease_end(Utc::now(), length);
    for held in hold.held.iter() {
        if let Some(lock) = doc.environment_mut(&held.project, &held.env).lock.as_mut() {
            lock.lease_until = Some(until);
        }
    }
    Ok(())
}
