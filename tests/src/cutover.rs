//! Deploys under load: what issue 15 measures. Consecutive deploys of one
//! environment through the SDK while a [`Load`] sends to its domain through
//! the proxy, spaced so the load sends at least a given number of requests.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use codeb::engine::{DeployOptions, DeployRequest, Platform};
use codeb::model::ImageRef;
use codeb_devstack::images::{BusyboxImage, PodmanCli};

use crate::load::{Load, LoadReport, SLOW_CGI, SLOW_PATH};

/// Two busybox httpd images, tagged under `prefix` (`PREFIX:v1`, `PREFIX:v2`):
/// each answers its name at `/` and, after about 2 s, at [`SLOW_PATH`].
pub fn build_slow_images(podman_socket: &Path, prefix: &str, scratch: &Path) -> codeb::Result<[ImageRef; 2]> {
    let podman = PodmanCli::new(podman_socket)?;
    let build = |version: &str| -> codeb::Result<ImageRef> {
        let tag = ImageRef::parse(&format!("{prefix}:{version}"))?;
        BusyboxImage::httpd(tag.clone(), version)
            .with_file(&format!("/www{SLOW_PATH}"), SLOW_CGI, 0o755)?
            .build(&podman, scratch)?;
        Ok(tag)
    };
    Ok([build("v1")?, build("v2")?])
}

/// What [`deploys_under_load`] measured.
#[derive(Debug)]
pub struct CutoverRun {
    /// What the load counted.
    pub load: LoadReport,
    /// How long each deploy took.
    pub deploys: Vec<Duration>,
}

/// Deploys `requests` alternately, `deploys` times, while a load sends to
/// `host` through `proxy`. The environment must already serve. Each deploy
/// starts once the load has sent its share of `min_requests`; the load stops
/// after the last deploy and its share.
pub async fn deploys_under_load(
    platform: &Platform,
    requests: [&DeployRequest; 2],
    proxy: SocketAddr,
    host: &str,
    deploys: usize,
    min_requests: usize,
) -> codeb::Result<CutoverRun> {
    let load = Load::start(proxy, host);
    let share = min_requests / (deploys + 1);
    let mut took = Vec::with_capacity(deploys);
    for n in 0..deploys {
        wait_until_sent(&load, share * (n + 1)).await;
        let started = Instant::now();
        let deployed = platform.deploy(requests[(n + 1) % 2], &DeployOptions::default()).await;
        took.push(started.elapsed());
        if let Err(e) = deployed {
            load.stop().await;
            return Err(e);
        }
    }
    wait_until_sent(&load, min_requests).await;
    Ok(CutoverRun { load: load.stop().await, deploys: took })
}

async fn wait_until_sent(load: &Load, requests: usize) {
    while load.sent() < requests {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
