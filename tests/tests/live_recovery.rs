//! Recovery against the real Podman, Caddy and PowerDNS: what the SSOT
//! records as serving is brought back, whatever went missing out of band.

mod support;

use codeb::engine::{DeployOptions, release_container};
use codeb::model::Environment;
use codeb::ssot::{DeployLock, ReleaseConfig, ReleaseRecord, ReleaseStatus, StateStoreExt};
use support::{Live, get_through_caddy, podman};

const STAGING: Environment = Environment::Staging;

#[tokio::test(flavor = "multi_thread")]
async fn a_serving_container_removed_out_of_band_is_recreated_by_recover_and_the_next_deploy_proceeds() {
    let Some(live) = Live::start() else { return };
    let project = live.project("gone");
    let domain = live.host("gone");
    let request = live.request(&project, std::slice::from_ref(&domain));
    let v1 = live.deploy(&request).await.unwrap();
    let container = release_container(&project, &STAGING, &v1.release).unwrap();
    podman(&["rm", "-f", "-t", "0", container.as_str()]);

    let report = live.platform.recover(&project, &STAGING, false, &DeployOptions::default()).await.unwrap();

    assert!(report.restarted_current, "{report}");
    assert_eq!(podman(&["inspect", "--format", "{{.State.Status}}", container.as_str()]), "running");
    assert_eq!(get_through_caddy(&domain), (200, "v1".to_owned()), "the recreated release serves again");

    podman(&["rm", "-f", "-t", "0", container.as_str()]);
    let v2 = live.deploy(&request).await.expect("a previous release already gone counts as stopped");
    assert_eq!(live.routed_port(&domain).await, Some(v2.port));
    assert_eq!(get_through_caddy(&domain).0, 200);
    live.clean_up(&[&project]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reconcile_restores_every_route_and_record_the_ssot_says_should_exist() {
    let Some(live) = Live::start() else { return };
    let (shop, blog) = (live.project("shop"), live.project("blog"));
    let (shop_host, blog_host) = (live.host("shop"), live.host("blog"));
    live.deploy(&live.request(&shop, std::slice::from_ref(&shop_host))).await.unwrap();
    let blog_port = live.deploy(&live.request(&blog, std::slice::from_ref(&blog_host))).await.unwrap().port;
    // What a restart of Caddy and a lost zone look like: no routes, no records.
    let backends = live.platform.backends();
    for host in [&shop_host, &blog_host] {
        backends.proxy.remove_route(host).await.unwrap();
        backends.dns.delete_records(&live.zone, &[(host.clone(), codeb::dns::RecordType::A)]).await.unwrap();
    }
    assert_eq!(get_through_caddy(&shop_host).1, "", "no route answers for the host");

    let report = live.platform.reconcile(&DeployOptions::default()).await.unwrap();

    assert!(report.is_complete(), "{report}");
    assert_eq!(get_through_caddy(&shop_host), (200, "v1".to_owned()), "{report}");
    assert_eq!(live.routed_port(&blog_host).await, Some(blog_port));
    assert!(live.has_record(&shop_host).await && live.has_record(&blog_host).await, "{report}");
    live.clean_up(&[&shop, &blog]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_whose_lock_holder_was_killed_on_this_host_recovers_first_and_serves() {
    let Some(live) = Live::start() else { return };
    let project = live.project("killed");
    let domain = live.host("killed");
    let request = live.request(&project, std::slice::from_ref(&domain));
    live.deploy(&request).await.unwrap();
    // A deploy killed with -9 after its lock commit: a real process of this host that is gone, and its pending release.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_owned();
    let (p, e) = (project.clone(), STAGING);
    live.platform
        .backends()
        .state
        .modify(|doc| {
            let env = doc.environment_mut(&p, &e);
            let now = chrono::Utc::now();
            env.lock = Some(DeployLock {
                owner: "killed".into(),
                host: host.clone(),
                pid: dead,
                started_at: now,
                message: None,
                lease_until: None,
            });
            let id = codeb::model::ReleaseId::parse("v2").unwrap();
            env.releases.push(ReleaseRecord {
                id,
                image: live.image.clone(),
                image_digest: None,
                config: ReleaseConfig::default(),
                status: ReleaseStatus::Pending,
                created_at: now,
                updated_at: now,
                deployed_by: None,
                rolled_back_by: None,
            });
            Ok(())
        })
        .unwrap();

    let report = live.deploy(&request).await.unwrap();

    let recovered = report.recovered.as_ref().expect("the report says it recovered first");
    assert!(recovered.released_lock.as_deref().is_some_and(|l| l.contains(&dead.to_string())), "{recovered}");
    let releases = live.platform.releases(&project, &STAGING).await.unwrap();
    assert!(releases.iter().all(|r| r.status != ReleaseStatus::Pending), "{releases:?}");
    assert_eq!(live.routed_port(&domain).await, Some(report.port));
    assert_eq!(get_through_caddy(&domain).0, 200);
    live.clean_up(&[&project]).await;
}
