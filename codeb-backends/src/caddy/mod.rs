//! [`Proxy`] over Caddy's JSON admin API.
//!
//! codeb owns one HTTP server in Caddy's `http` app and keeps one route
//! object per host in it, addressed by an `@id` derived from the host
//! ([`json::route_id`]). Adding, replacing or removing a site changes that one
//! object (plus, when the host's TLS changes, its one TLS entry); switching a
//! site's upstreams is a single `PATCH` of the route's handler. A route whose
//! upstreams are discovered from an SRV record ([`Upstreams::Srv`]) needs no
//! change at all when the record moves: that is how codeb cuts over
//! (ARCHITECTURE.md, "The cutover"). No request ever carries
//! another site's route, and nothing outside codeb's server and codeb's own
//! TLS policies is written, except the objects codeb's server needs when they
//! are missing (the server itself, the TLS app's policy list, the local CA's
//! settings).
//!
//! Every change is planned from a read of the `apps` configuration and sent
//! with that read's ETag in `If-Match`; when another writer got there first
//! (412) it is read and planned again, a bounded number of times (see
//! `plan` for why even `@id` writes need the guard on Caddy 2.6).
//!
//! Caddy re-provisions its whole configuration on every change, so the cost of
//! one change grows with the number of sites; this backend adds one read in
//! front of each change and nothing else. When Caddy refuses a change it keeps
//! serving the previous configuration, and the change fails as
//! [`ErrorKind::Invalid`](codeb::ErrorKind::Invalid) carrying Caddy's message.

mod admin;
mod config;
pub mod json;
mod plan;

use std::sync::Arc;

use async_trait::async_trait;
use codeb::model::{DomainName, Port};
use codeb::proxy::{Proxy, Route, Upstreams};
use codeb::{Error, Result};

use self::admin::{Admin, Answer, BACKEND, MAX_DROPPED};
pub use self::config::{CaddyConfig, DEFAULT_SERVER, DEFAULT_TIMEOUT};
use self::plan::{Snapshot, Step};
use crate::http;
use crate::transport::Transport;
use crate::transport::http::Connections;

/// How many times an operation re-reads after the config changed under it.
const MAX_STALE: usize = 16;
/// How many single changes one operation may take, retries included (at most
/// six steps for a route whose server and TLS entries all need creating).
const MAX_ROUNDS: usize = MAX_STALE + 16;

/// Routes host names to upstreams through Caddy's admin API.
///
/// ```no_run
/// use std::sync::Arc;
///
/// use codeb_backends::transport::LocalTransport;
/// use codeb_backends::{CaddyConfig, CaddyProxy};
///
/// # fn main() -> codeb::Result<()> {
/// let proxy = CaddyProxy::new(
///     Arc::new(LocalTransport::new()),
///     CaddyConfig::new("http://127.0.0.1:2019").with_listen([":443"]).with_acme_email("ops@example.com"),
/// )?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CaddyProxy {
    config: CaddyConfig,
    admin: Admin,
}

/// What a converging operation is after.
enum Goal<'a> {
    Upsert(&'a Route),
    Switch(&'a DomainName, &'a Upstreams),
    Remove(&'a DomainName),
}

impl CaddyProxy {
    /// A proxy for the Caddy described by `config`, whose admin API is
    /// reached through `transport` (the admin URL is an address as Caddy's
    /// server sees it); sends nothing until used.
    ///
    /// Fails as [`ErrorKind::Invalid`](codeb::ErrorKind::Invalid) when the admin URL, server name or
    /// listen addresses are unusable.
    pub fn new(transport: Arc<dyn Transport>, config: CaddyConfig) -> Result<Self> {
        config.check()?;
        let base = http::base_url(BACKEND, "admin", &config.admin)?;
        // Caddy drops its admin connections on every config load: never reuse one.
        let client = base.client(transport, config.timeout, Connections::FreshEachTime);
        Ok(CaddyProxy { admin: Admin::new(client, base), config })
    }

    /// The configuration this proxy was built from.
    pub fn config(&self) -> &CaddyConfig {
        &self.config
    }

    fn plan(&self, snap: &Snapshot, goal: &Goal<'_>) -> Result<Option<Step>> {
        match goal {
            Goal::Upsert(route) => plan::upsert(snap, &self.config, route),
            Goal::Switch(host, upstreams) => plan::switch(snap, &self.config, host, upstreams),
            Goal::Remove(host) => Ok(plan::remove(snap, &self.config, host)),
        }
    }

    /// Reads, plans one step, sends it, and repeats until Caddy holds the goal.
    async fn converge(&self, goal: Goal<'_>, host: &DomainName) -> Result<()> {
        let (mut stale, mut dropped) = (0, 0);
        for round in 0..MAX_ROUNDS {
            let snap = self.admin.snapshot().await.map_err(|e| e.with_context("host", host))?;
            if round == 0
                && let Goal::Remove(removed) = &goal
                && !snap.has_route(&self.config, removed)
            {
                return Err(plan::no_route(host));
            }
            let Some(step) = self.plan(&snap, &goal)? else { return Ok(()) };
            let answer = self.admin.send(&step, snap.etag()).await;
            let answer = answer.map_err(|e| e.with_context("host", host).with_context("step", step.what))?;
            match answer {
                Answer::Done if step.last => return Ok(()),
                Answer::Done => {}
                // A 404 for an `@id` means the object went away since the read: re-plan.
                Answer::Stale(_) | Answer::NotFound(_) if stale < MAX_STALE => {
                    stale += 1;
                    tokio::time::sleep(http::backoff(stale)).await;
                }
                // Applied or not, the next read shows which; the plan is idempotent.
                Answer::Dropped(_) if dropped < MAX_DROPPED => {
                    dropped += 1;
                    tokio::time::sleep(http::backoff(dropped)).await;
                }
                answer => {
                    let err = Admin::answer_error(answer, &step.path);
                    return Err(err.with_context("host", host).with_context("step", step.what));
                }
            }
        }
        Err(Error::conflict("the change did not settle in Caddy's config; another writer keeps changing it")
            .with_context("backend", BACKEND)
            .with_context("host", host))
    }
}

#[async_trait]
impl Proxy for CaddyProxy {
    async fn upsert_route(&self, route: &Route) -> Result<()> {
        route.upstreams.check(&route.host).map_err(|e| e.with_context("backend", BACKEND))?;
        self.converge(Goal::Upsert(route), &route.host).await
    }

    async fn switch_upstreams(&self, host: &DomainName, upstreams: &Upstreams) -> Result<()> {
        upstreams.check(host).map_err(|e| e.with_context("backend", BACKEND))?;
        self.converge(Goal::Switch(host, upstreams), host).await
    }

    async fn remove_route(&self, host: &DomainName) -> Result<()> {
        self.converge(Goal::Remove(host), host).await
    }

    async fn get_route(&self, host: &DomainName) -> Result<Option<Route>> {
        let snap = self.admin.snapshot().await.map_err(|e| e.with_context("host", host))?;
        snap.route_of(&self.config, host)
    }

    async fn list_routes(&self) -> Result<Vec<Route>> {
        self.admin.snapshot().await?.routes(&self.config)
    }

    async fn in_flight(&self, target: &DomainName, port: Port) -> Result<u64> {
        // Caddy dials an SRV target as Go's resolver gives it: fully qualified, with the root's dot.
        let (plain, rooted) = (format!("{target}:{port}"), format!("{target}.:{port}"));
        let upstreams = self.admin.upstream_requests().await?;
        Ok(upstreams.iter().filter(|(address, _)| *address == plain || *address == rooted).map(|(_, n)| n).sum())
    }
}
