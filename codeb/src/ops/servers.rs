//! The fleet's servers: what each is for and where it runs environments
//! ([`Platform::server_list`]), and a doctor's check of each
//! ([`Platform::server_check`]).

use std::fmt;

use crate::Result;
use crate::engine::Platform;
use crate::fleet::{Host, HostAddresses};
use crate::model::{Role, ServerName};
use crate::ports::ListenerOwner;
use crate::ssot::StateStoreExt;

/// Least free disk where containers are stored before `server check` fails.
pub const MIN_FREE_DISK: u64 = 1 << 30;
/// Largest clock difference from this machine before `server check` fails:
/// past it, lock ages and TLS validity are misjudged.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 5;

/// One server of the fleet.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ServerSummary {
    /// Its name.
    pub server: ServerName,
    /// What it is for.
    pub roles: Vec<Role>,
    /// How codeb reaches it (`local`, `ssh deploy@203.0.113.10:22`).
    pub reach: String,
    /// Its addresses.
    pub addresses: HostAddresses,
    /// The environments the SSOT records on it, as `project/env`.
    pub environments: Vec<String>,
}

/// What one check of a server found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct CheckResult {
    /// What was checked: `login`, `engine`, `disk`, `clock`, `ports`, `proxy`, `dns`.
    pub check: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was seen, or why it failed.
    pub detail: String,
}

/// A doctor's report on one server.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ServerCheck {
    /// The server.
    pub server: ServerName,
    /// How codeb reaches it.
    pub reach: String,
    /// Whether every check passed.
    pub ok: bool,
    /// Each check, in the order run.
    pub checks: Vec<CheckResult>,
}

impl fmt::Display for CheckResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", if self.ok { "ok  " } else { "FAIL" }, self.check, self.detail)
    }
}

impl Platform {
    /// Every server of the fleet, ordered by name.
    pub async fn server_list(&self) -> Result<Vec<ServerSummary>> {
        let placed = self
            .blocking_state(|s| {
                s.view(|doc| {
                    let environments = doc.projects.iter().flat_map(|(p, record)| {
                        record.environments.iter().map(move |(e, r)| (r.server.clone(), format!("{p}/{e}")))
                    });
                    Ok(environments.collect::<Vec<_>>())
                })
            })
            .await?;
        let fleet = &self.backends.fleet;
        Ok(fleet
            .hosts()
            .map(|host| {
                let runs_here = |server: &Option<ServerName>| {
                    let placed_on =
                        server.as_ref().map_or_else(|| fleet.with_role(Role::App).ok().map(|h| &h.name), Some);
                    placed_on == Some(&host.name)
                };
                ServerSummary {
                    server: host.name.clone(),
                    roles: host.roles.iter().copied().collect(),
                    reach: host.doctor.reach(),
                    addresses: host.addresses,
                    environments: placed.iter().filter(|(s, _)| runs_here(s)).map(|(_, e)| e.clone()).collect(),
                }
            })
            .collect())
    }

    /// Checks `server`, or every server: that codeb logs in and the clock
    /// agrees with this machine's; on app servers also that the container
    /// engine answers, disk is free there and no foreign process holds a
    /// port of the managed ranges; and that the proxy and DNS APIs answer on
    /// the servers with those roles. A failed check
    /// is a result, not an error; a server not in the fleet is `NotFound`.
    pub async fn server_check(&self, server: Option<&ServerName>) -> Result<Vec<ServerCheck>> {
        let fleet = &self.backends.fleet;
        let hosts: Vec<&Host> = match server {
            Some(name) => vec![fleet.host(name)?],
            None => fleet.hosts().collect(),
        };
        let mut reports = Vec::new();
        for host in hosts {
            let checks = self.check_host(host).await;
            reports.push(ServerCheck {
                server: host.name.clone(),
                reach: host.doctor.reach(),
                ok: checks.iter().all(|c| c.ok),
                checks,
            });
        }
        Ok(reports)
    }

    async fn check_host(&self, host: &Host) -> Vec<CheckResult> {
        let result = |check: &str, outcome: Result<(bool, String)>| CheckResult {
            check: check.to_owned(),
            ok: outcome.as_ref().is_ok_and(|(ok, _)| *ok),
            detail: outcome.unwrap_or_else(|e| (false, e.to_string())).1,
        };
        let login =
            result("login", host.doctor.login().await.map(|()| (true, format!("logged in ({})", host.doctor.reach()))));
        if !login.ok {
            return vec![login];
        }
        let mut checks = vec![login];
        // The container engine and its disk matter where releases run and images are built; the port table where releases run.
        if host.has(Role::App) || host.has(Role::Build) {
            checks.push(result("engine", host.doctor.engine().await.map(|v| (true, v))));
            let disk = host.doctor.disk_free().await;
            let disk =
                disk.map(|(path, free)| (free >= MIN_FREE_DISK, format!("{} free in {path}", human_bytes(free))));
            checks.push(result("disk", disk));
        }
        checks.push(result(
            "clock",
            host.doctor.clock().await.map(|then| {
                let skew = (then - chrono::Utc::now()).num_seconds();
                (skew.abs() <= MAX_CLOCK_SKEW_SECONDS, format!("{skew:+} s from this machine's clock"))
            }),
        ));
        if host.has(Role::App) {
            checks.push(result("ports", self.foreign_listeners(host).await));
        }
        if host.has(Role::Proxy) && self.servers().proxy == host.name {
            let routes = self.backends.proxy.list_routes().await;
            checks
                .push(result("proxy", routes.map(|r| (true, format!("the proxy's API answers ({} routes)", r.len())))));
        }
        if host.has(Role::Dns) && self.servers().dns == host.name {
            checks.push(result("dns", self.dns_answers().await));
        }
        checks
    }

    /// Listeners of processes codeb does not manage inside the managed port ranges.
    async fn foreign_listeners(&self, host: &Host) -> Result<(bool, String)> {
        let ranges = self.backends.ports.ranges().all();
        let foreign: Vec<String> = host
            .ports
            .listeners(&host.name)
            .await?
            .into_iter()
            .filter(|l| ranges.iter().any(|(_, _, range)| range.contains(l.port)))
            .filter_map(|l| match l.owner {
                ListenerOwner::Foreign { description } => Some(format!("{} ({description})", l.port)),
                ListenerOwner::Unknown | ListenerOwner::Managed { .. } => None,
            })
            .collect();
        Ok(match foreign.as_slice() {
            [] => (true, "no foreign listener in the managed port ranges".to_owned()),
            held => (false, format!("foreign listeners in the managed port ranges: {}", held.join(", "))),
        })
    }

    /// Whether the DNS API answers: its records of the zone, or that the zone is not made yet.
    async fn dns_answers(&self) -> Result<(bool, String)> {
        let Some(zone) = &self.settings.zone else {
            return Ok((true, "no zone is configured, so nothing is asked of DNS".to_owned()));
        };
        match self.backends.dns.list_records(zone).await {
            Ok(records) => Ok((true, format!("the DNS API answers ({} records in {zone})", records.len()))),
            Err(e) if e.kind() == crate::ErrorKind::NotFound => {
                Ok((true, format!("the DNS API answers (zone {zone} is made at the first deploy)")))
            }
            Err(e) => Err(e),
        }
    }
}

/// Bytes as people read them: `12.3 GiB`.
fn human_bytes(bytes: u64) -> String {
    let gib = bytes as f64 / f64::from(1u32 << 30);
    if gib >= 1.0 { format!("{gib:.1} GiB") } else { format!("{} MiB", bytes >> 20) }
}
