//! The shared truth against local files, side by side in one run: `we ssot
//! status` and one port allocation, each as a `we` process (every process
//! opens its own SSH session and starts its own endpoint) and through one
//! SDK platform (one session and one endpoint for every call), against an
//! SSOT of 1,000 projects kept in local files or on a control server reached
//! over SSH (a throwaway sshd on loopback, the real `we control serve`).
//!
//! Needs the live stack (`codeb-testenv up`, then `eval` its exports; the
//! port probe asks its Podman) and sshd.
//! Run: `cargo bench -p codeb-cli --bench control`. Figures: docs/benchmarks.md.

#[allow(dead_code)] // the backends' tests use all of it, this bench a part
#[path = "../../codeb-backends/tests/support/sshd.rs"]
mod sshd;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use codeb::config::PlatformConfig;
use codeb::model::{Environment, Port, ProjectName, Service};
use codeb::ports::PortKey;
use codeb::ssot::StateStore;
use codeb::testkit::{Namespace, live_platform_file};
use codeb_backends::FileStateStore;

const RUNS: usize = 15;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// A live-stack platform file in `dir` whose SSOT holds 1,000 projects;
/// with `control`, the truth is kept by `we control serve` behind `control`'s sshd.
fn platform_file(dir: &Path, ns: &Namespace, control: Option<&sshd::Sshd>) -> PathBuf {
    let file = live_platform_file(dir, ns.zone().as_str(), "").expect("the live stack runs");
    FileStateStore::new(dir.join("ssot.json"))
        .update(&mut |doc| {
            for i in 0..1_000u16 {
                let project = ProjectName::parse(&format!("p{i}"))?;
                doc.environment_mut(&project, &Environment::Production)
                    .ports
                    .insert(Service::App, Port::new(20_000 + i)?);
            }
            Ok(())
        })
        .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let state_at = |t: &str| t.contains(&dir.join("ssot.json").display().to_string());
    assert!(state_at(&text), "the live platform file keeps its SSOT in its directory");
    if let Some(sshd) = control {
        let target = codeb_backends::transport::ssh::SshTarget::parse(&sshd.target).unwrap();
        let known_hosts = dir.join("known_hosts");
        std::fs::write(&known_hosts, format!("[{}]:{} {}", target.host(), target.port(), sshd.host_key())).unwrap();
        let extra = format!(
            "[ssh]\nknown_hosts = {:?}\n[servers.control]\nroles = [\"app\", \"proxy\", \"dns\", \"control\"]\n\
             ssh = {:?}\nidentity = {:?}\n[control]\ncommand = [{:?}, \"control\", \"serve\"]\n",
            known_hosts.display().to_string(),
            sshd.target,
            sshd.client_key().display().to_string(),
            env!("CARGO_BIN_EXE_we"),
        );
        std::fs::write(&file, text + &extra).unwrap();
    }
    file
}

fn we(config: &Path, args: &[&str]) -> Duration {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_we")).arg("--config").arg(config).args(args).output().unwrap();
    assert!(out.status.success(), "we {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    started.elapsed()
}

fn main() {
    let Some(sshd) = sshd::Sshd::start() else { return };
    let ns = Namespace::random();
    let (local_dir, remote_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let local = platform_file(local_dir.path(), &ns, None);
    let remote = platform_file(remote_dir.path(), &ns, Some(&sshd));
    let allocate = |config: &Path, n: usize| {
        let project = ns.project(&format!("bench{n}"));
        we(config, &["port", "allocate", "-p", project.as_str(), "-e", "staging"])
    };

    let (mut status, mut alloc) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
    for n in 0..RUNS {
        for (i, config) in [&local, &remote].into_iter().enumerate() {
            status[i].push(we(config, &["ssot", "status"]));
            alloc[i].push(allocate(config, n));
        }
    }
    let row = |what: &str, [l, r]: [Vec<Duration>; 2]| {
        let (l, r) = (median(l), median(r));
        println!("{what:<48} local {l:>10.1?}  control {r:>10.1?}  ({:.1}x)", r.as_secs_f64() / l.as_secs_f64());
    };
    println!("a `we` process each time, median of {RUNS}:");
    row("  we ssot status (1,000 projects)", status);
    row("  we port allocate (one new port)", alloc);

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let connect = |file: &Path| codeb_backends::connect(&PlatformConfig::read(file).unwrap(), "bench").unwrap();
    let platforms = [connect(&local), connect(&remote)];
    let (mut status, mut alloc) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
    rt.block_on(async {
        for p in &platforms {
            p.ssot_status().await.unwrap();
        }
        for n in 0..RUNS {
            for (i, p) in platforms.iter().enumerate() {
                let started = Instant::now();
                p.ssot_status().await.unwrap();
                status[i].push(started.elapsed());
                let project = ns.project(&format!("sdk{n}"));
                let started = Instant::now();
                let key = PortKey { project, env: Environment::Staging, service: Service::App, release: None };
                p.port_allocate(&key).await.unwrap();
                alloc[i].push(started.elapsed());
            }
        }
    });
    println!("one platform (one session, one endpoint), median of {RUNS}:");
    row("  ssot_status (1,000 projects)", status);
    row("  port_allocate (one new port)", alloc);
}
