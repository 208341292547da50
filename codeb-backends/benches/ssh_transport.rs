//! The SSH transport against the local one, side by side in one run, on one
//! machine: a throwaway sshd on loopback in front of the live stack's
//! Podman, Caddy and PowerDNS.
//!
//! - a program run: a fresh session each time (connect, key exchange, login,
//!   exec) and a pooled session, against a local `true`;
//! - one Podman API call (`/_ping`), and 20 at once over one session,
//!   against the same over the unix socket;
//! - a whole deploy of the test image through the SDK, over SSH and locally,
//!   interleaved.
//!
//! Needs the live stack (`codeb-testenv up`, then `eval` its exports) and
//! sshd. Run: `cargo bench -p codeb-backends --bench ssh_transport`.
//! Figures: docs/benchmarks.md.

#[allow(dead_code)] // the tests use all of it, this bench a part
#[path = "../tests/support/sshd.rs"]
mod sshd;

use std::sync::Arc;
use std::time::{Duration, Instant};

use codeb::engine::{DeployOptions, DeployRequest, Platform};
use codeb::model::{Environment, HealthCheck, ImageRef, Port, ProjectName, ServerName};
use codeb::testkit::{Namespace, live_env, live_platform_file};
use codeb_backends::transport::ssh::{KnownHosts, SshConfig, SshTarget, SshTransport};
use codeb_backends::transport::{Command, LocalTransport, Transport};
use codeb_backends::{PodmanConfig, PodmanRuntime};
use russh::keys::PublicKey;

const RUNS: usize = 15;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn ssh_transport(sshd: &sshd::Sshd, known_hosts: &KnownHosts) -> SshTransport {
    let config = SshConfig::new(SshTarget::parse(&sshd.target).unwrap(), sshd.client_key(), known_hosts.clone());
    SshTransport::new(ServerName::parse("app1").unwrap(), config).unwrap()
}

async fn timed<F: std::future::Future>(work: F) -> Duration {
    let started = Instant::now();
    work.await;
    started.elapsed()
}

fn main() {
    let (Some(socket), Some(image)) = (live_env("CODEB_TEST_PODMAN_SOCKET"), live_env("CODEB_TEST_IMAGE_V1")) else {
        return;
    };
    let Some(sshd) = sshd::Sshd::start() else { return };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let known_hosts = KnownHosts::new(sshd.dir.path().join("known_hosts"));
    let host_key = PublicKey::from_openssh(sshd.host_key().trim()).unwrap();
    known_hosts.pin(&SshTarget::parse(&sshd.target).unwrap(), &host_key).unwrap();

    rt.block_on(async {
        let local = LocalTransport::new();
        let true_ = Command::new("true");
        let mut cold = Vec::new();
        let mut pooled = Vec::new();
        let mut floor = Vec::new();
        let ssh = ssh_transport(&sshd, &known_hosts);
        ssh.run(&true_).await.unwrap();
        for _ in 0..RUNS {
            let fresh = ssh_transport(&sshd, &known_hosts);
            cold.push(timed(async { fresh.run(&true_).await.unwrap() }).await);
            pooled.push(timed(async { ssh.run(&true_).await.unwrap() }).await);
            floor.push(timed(async { local.run(&true_).await.unwrap() }).await);
        }
        println!("run `true`, median of {RUNS}:");
        println!("  local transport                 {}", ms(median(floor)));
        println!("  SSH, pooled session             {}", ms(median(pooled)));
        println!("  SSH, fresh session (cold)       {}", ms(median(cold)));

        let over_ssh: Arc<dyn Transport> = Arc::new(ssh_transport(&sshd, &known_hosts));
        let podman_ssh = Arc::new(PodmanRuntime::connect(over_ssh, PodmanConfig::new(&socket)).unwrap());
        let podman_local =
            Arc::new(PodmanRuntime::connect(Arc::new(LocalTransport::new()), PodmanConfig::new(&socket)).unwrap());
        podman_ssh.ping().await.unwrap();
        let burst = |podman: Arc<PodmanRuntime>| async move {
            let calls: Vec<_> = (0..20)
                .map(|_| {
                    let podman = Arc::clone(&podman);
                    tokio::spawn(async move { podman.ping().await.unwrap() })
                })
                .collect();
            for call in calls {
                call.await.unwrap();
            }
        };
        let mut ssh_pings = Vec::new();
        let mut local_pings = Vec::new();
        for _ in 0..RUNS {
            ssh_pings.push(timed(podman_ssh.ping()).await);
            local_pings.push(timed(podman_local.ping()).await);
        }
        println!("one Podman /_ping call, median of {RUNS}:");
        println!("  unix socket                     {}", ms(median(local_pings)));
        println!("  one SSH session                 {}", ms(median(ssh_pings)));
        let mut ssh_bursts = Vec::new();
        let mut local_bursts = Vec::new();
        for _ in 0..RUNS {
            ssh_bursts.push(timed(burst(Arc::clone(&podman_ssh))).await);
            local_bursts.push(timed(burst(Arc::clone(&podman_local))).await);
        }
        println!("20 concurrent Podman /_ping calls, median of {RUNS}:");
        println!("  unix socket                     {}", ms(median(local_bursts)));
        println!("  one SSH session                 {}", ms(median(ssh_bursts)));
    });

    let dir = tempfile::tempdir().unwrap();
    let timings = "drain_grace = \"0s\"\nstop_grace = \"5s\"\nwatch_window = \"0s\"";
    let ns = Namespace::random();
    let file = live_platform_file(dir.path(), ns.zone().as_str(), timings).expect("the stack runs");
    let text = std::fs::read_to_string(&file).unwrap();
    let servers = format!(
        "[ssh]\nknown_hosts = {:?}\n[servers.app1]\nroles = [\"app\", \"proxy\", \"dns\"]\nssh = {:?}\nidentity = {:?}\n",
        known_hosts.path().display().to_string(),
        sshd.target,
        sshd.client_key().display().to_string()
    );
    let platform =
        |text: &str| codeb_backends::connect(&codeb::config::PlatformConfig::parse(text).unwrap(), "bench").unwrap();
    let (local, over_ssh) = (platform(&text), platform(&(text.clone() + &servers)));
    let request = |project: &ProjectName| {
        let mut r = DeployRequest::new(
            project.clone(),
            Environment::Staging,
            ImageRef::parse(&image).unwrap(),
            Port::new(8080).unwrap(),
        );
        r.health = HealthCheck {
            interval: Duration::from_millis(20),
            deadline: Duration::from_secs(20),
            ..Default::default()
        };
        r
    };
    let deploy = |p: &Platform, project: &ProjectName| {
        let started = Instant::now();
        rt.block_on(p.deploy(&request(project), &DeployOptions::default())).unwrap();
        started.elapsed()
    };
    let (local_project, ssh_project) = (ns.project("local"), ns.project("ssh"));
    deploy(&local, &local_project);
    deploy(&over_ssh, &ssh_project);
    let mut local_deploys = Vec::new();
    let mut ssh_deploys = Vec::new();
    for _ in 0..7 {
        local_deploys.push(deploy(&local, &local_project));
        ssh_deploys.push(deploy(&over_ssh, &ssh_project));
    }
    let (l, s) = (median(local_deploys), median(ssh_deploys));
    println!("a redeploy (one release serving), median of 7, interleaved:");
    println!("  local sockets                   {}", ms(l));
    println!("  over SSH                        {} ({:.2}x)", ms(s), s.as_secs_f64() / l.as_secs_f64());
    for (p, project) in [(&local, &local_project), (&over_ssh, &ssh_project)] {
        rt.block_on(p.project_delete(project, true, &DeployOptions::default())).unwrap();
    }
}
