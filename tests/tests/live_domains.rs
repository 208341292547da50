//! Domains against the real Caddy and PowerDNS: a domain belongs to one
//! project environment, and every domain operation completes or is undone.

mod support;

use codeb::ErrorKind;
use codeb::engine::DeployOptions;
use codeb::model::{DomainName, Environment};
use support::Live;

const STAGING: Environment = Environment::Staging;

#[tokio::test(flavor = "multi_thread")]
async fn another_projects_domain_is_never_taken_or_removed_and_moves_only_with_force() {
    let Some(live) = Live::start() else { return };
    let (owner, taker) = (live.project("owner"), live.project("taker"));
    let owned = live.host("owned");
    let none = DeployOptions::default();
    let owner_port = live.deploy(&live.request(&owner, std::slice::from_ref(&owned))).await.unwrap().port;
    let spelled = DomainName::parse(&format!("{}.", owned.as_str().to_uppercase())).unwrap();

    let err = live.deploy(&live.request(&taker, std::slice::from_ref(&spelled))).await.unwrap_err();
    assert_eq!((err.kind(), err.context_value("owner")), (ErrorKind::Conflict, Some(&*format!("{owner}/staging"))));
    let taker_port = live.deploy(&live.request(&taker, &[live.host("taker")])).await.unwrap().port;
    let err = live.platform.domain_setup(&taker, &STAGING, &spelled, false, false, &none).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let err = live.platform.domain_remove(&taker, &STAGING, &owned, true, &none).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert_eq!(live.routed_port(&owned).await, Some(owner_port), "the owner's route was never switched");
    assert!(live.has_record(&owned).await, "the owner's record is still there");

    let moved = live.platform.domain_setup(&taker, &STAGING, &owned, false, true, &none).await.unwrap();
    assert_eq!(moved.taken_from.map(|o| o.project), Some(owner.clone()), "the move says whose it was");
    assert_eq!(live.routed_port(&owned).await, Some(taker_port), "a forced move routes it to the taker");

    live.platform.project_delete(&owner, true, &none).await.unwrap();
    assert_eq!(live.routed_port(&owned).await, Some(taker_port), "deleting the old owner leaves the moved domain");
    assert!(live.has_record(&owned).await);
    live.clean_up(&[&taker]).await;
    assert_eq!(live.routed_port(&owned).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_domain_setup_with_dns_failing_leaves_no_route_and_no_ssot_entry() {
    let Some(live) = Live::start() else { return };
    let project = live.project("dnsdown");
    live.deploy(&live.request(&project, &[live.host("app")])).await.unwrap();
    let text = std::fs::read_to_string(&live.config).unwrap();
    let api = text.lines().find(|l| l.starts_with("api = ")).unwrap();
    let broken = live.config.with_file_name("dns-down.toml");
    std::fs::write(&broken, text.replace(api, "api = \"http://127.0.0.1:9\"")).unwrap();
    let dns_down = support::connect(&broken);
    let extra = live.host("extra");

    let err = dns_down.domain_setup(&project, &STAGING, &extra, false, false, &DeployOptions::default()).await;

    assert_eq!(err.unwrap_err().kind(), ErrorKind::Unavailable);
    assert_eq!(live.routed_port(&extra).await, None, "the route is undone");
    assert!(!live.platform.domain_list(&project, &STAGING).await.unwrap().contains(&extra), "so is the SSOT entry");
    live.clean_up(&[&project]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_zone_is_created_with_an_soa_and_ns_records_of_its_own_name_servers() {
    let Some(live) = Live::start() else { return };
    let project = live.project("zone");
    live.deploy(&live.request(&project, &[live.host("app")])).await.unwrap();
    let zone = live.zone.to_fqdn();

    let soa = support::dig(&live.zone, "SOA");
    let mut ns: Vec<String> = support::dig(&live.zone, "NS").lines().map(str::to_owned).collect();
    ns.sort();

    assert!(soa.starts_with(&format!("ns1.{zone} hostmaster.{zone} ")), "{soa}");
    assert_eq!(ns, [format!("ns1.{zone}"), format!("ns2.{zone}")]);
    live.clean_up(&[&project]).await;
}
