//! The conformance suite of [`Dns`].

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::ErrorKind;
use crate::dns::{Dns, RecordData, RecordSet, RecordType, SrvRecord};
use crate::model::{DomainName, Port};

use super::{Namespace, expect_kind, ok};

/// Runs every check in a zone of its own inside `ns`.
pub async fn run(dns: &dyn Dns, ns: &Namespace) {
    an_unknown_zone_is_not_found(dns, ns).await;
    record_sets_are_upserted_replaced_and_deleted(dns, ns).await;
    a_batch_with_one_bad_set_applies_nothing(dns, ns).await;
    an_srv_set_is_re_pointed_in_one_upsert(dns, ns).await;
}

fn a(name: &DomainName, ip: [u8; 4]) -> RecordSet {
    RecordSet { name: name.clone(), ttl: 60, data: RecordData::A(vec![Ipv4Addr::from(ip)]) }
}

/// Every call but `ensure_zone` on a zone that does not exist is `NotFound`.
pub async fn an_unknown_zone_is_not_found(dns: &dyn Dns, ns: &Namespace) {
    let zone = ns.host("nozone");
    expect_kind("list in unknown zone", dns.list_records(&zone).await, ErrorKind::NotFound);
    let set = a(&zone, [127, 0, 0, 1]);
    expect_kind("upsert in unknown zone", dns.upsert_records(&zone, &[set]).await, ErrorKind::NotFound);
}

/// Sets of several types are upserted in one change, replaced whole, and deleted.
pub async fn record_sets_are_upserted_replaced_and_deleted(dns: &dyn Dns, ns: &Namespace) {
    let zone = ns.zone();
    ok("ensure_zone", dns.ensure_zone(&zone).await);
    ok("ensure_zone again", dns.ensure_zone(&zone).await);
    assert!(ok("list fresh zone", dns.list_records(&zone).await).is_empty(), "a fresh zone has no A/AAAA/CNAME/TXT");

    let web = ns.host("web");
    let wildcard = ns.host("*");
    let sets = vec![
        a(&web, [127, 0, 0, 1]),
        RecordSet { name: web.clone(), ttl: 300, data: RecordData::Aaaa(vec![Ipv6Addr::LOCALHOST]) },
        RecordSet { name: web.clone(), ttl: 60, data: RecordData::Txt(vec!["v=codeb1".to_owned()]) },
        RecordSet { name: wildcard.clone(), ttl: 60, data: RecordData::Cname(web.clone()) },
        a(&zone, [127, 0, 0, 2]),
    ];
    ok("upsert_records", dns.upsert_records(&zone, &sets).await);
    let listed = ok("list_records", dns.list_records(&zone).await);
    for set in &sets {
        assert!(listed.contains(set), "{set:?} must be listed after upsert; listed {listed:?}");
    }
    assert_eq!(listed.len(), sets.len(), "only the upserted sets must be listed");

    let replaced = RecordSet {
        name: web.clone(),
        ttl: 120,
        data: RecordData::A(vec![[10, 0, 0, 1].into(), [10, 0, 0, 2].into()]),
    };
    ok("upsert replacing", dns.upsert_records(&zone, std::slice::from_ref(&replaced)).await);
    let listed = ok("list_records", dns.list_records(&zone).await);
    let web_a: Vec<_> = listed.iter().filter(|s| s.name == web && s.data.record_type() == RecordType::A).collect();
    assert_eq!(web_a, vec![&replaced], "an upsert must replace the set whole");

    let keys = [(web.clone(), RecordType::A), (wildcard.clone(), RecordType::Cname)];
    ok("delete_records", dns.delete_records(&zone, &keys).await);
    ok("delete absent records", dns.delete_records(&zone, &keys).await);
    let listed = ok("list_records", dns.list_records(&zone).await);
    assert!(
        listed.iter().all(|s| !keys.contains(&(s.name.clone(), s.data.record_type()))),
        "deleted sets must be gone"
    );
    assert_eq!(listed.len(), 3, "other sets must survive a delete");
}

/// A batch with a set outside the zone, an empty set or a CNAME beside other data changes nothing.
pub async fn a_batch_with_one_bad_set_applies_nothing(dns: &dyn Dns, ns: &Namespace) {
    let zone = ns.zone();
    ok("ensure_zone", dns.ensure_zone(&zone).await);
    let before = ok("list", dns.list_records(&zone).await);
    let good = a(&ns.host("batch"), [127, 0, 0, 3]);
    let outside = a(&DomainName::parse("elsewhere.example").unwrap_or_else(|e| panic!("{e}")), [127, 0, 0, 4]);
    let empty = RecordSet { name: ns.host("empty"), ttl: 60, data: RecordData::A(Vec::new()) };
    for bad in [outside, empty] {
        expect_kind("batch with a bad set", dns.upsert_records(&zone, &[good.clone(), bad]).await, ErrorKind::Invalid);
        assert_eq!(ok("list", dns.list_records(&zone).await), before, "a refused batch must apply nothing");
    }
    let alias = ns.host("alias");
    let cname = RecordSet { name: alias.clone(), ttl: 60, data: RecordData::Cname(good.name.clone()) };
    let clash = a(&alias, [127, 0, 0, 5]);
    expect_kind("CNAME beside A", dns.upsert_records(&zone, &[good.clone(), cname, clash]).await, ErrorKind::Invalid);
    assert_eq!(ok("list", dns.list_records(&zone).await), before, "a refused batch must apply nothing");
}

/// An SRV set reads back as written, one upsert re-points it at another
/// port (a cutover), and a target that reads as an address is `Invalid`.
pub async fn an_srv_set_is_re_pointed_in_one_upsert(dns: &dyn Dns, ns: &Namespace) {
    let zone = ns.zone();
    ok("ensure_zone", dns.ensure_zone(&zone).await);
    let (app, server) = (ns.host("app.upstreams"), ns.host("local.servers"));
    let srv_at = |target: &DomainName, port: u16| {
        let record = SrvRecord { priority: 0, weight: 0, port: Port::new(port).unwrap(), target: target.clone() };
        RecordSet { name: app.clone(), ttl: 1, data: RecordData::Srv(vec![record]) }
    };
    let srv = |port: u16| srv_at(&server, port);
    let address = DomainName::parse("127.0.0.1").unwrap();
    expect_kind(
        "an SRV target that is an address",
        dns.upsert_records(&zone, &[srv_at(&address, 4001)]).await,
        ErrorKind::Invalid,
    );
    ok("upsert an SRV set and its target", dns.upsert_records(&zone, &[srv(4001), a(&server, [127, 0, 0, 1])]).await);
    ok("re-point the SRV set", dns.upsert_records(&zone, &[srv(4002)]).await);
    let listed = ok("list_records", dns.list_records(&zone).await);
    let app_srv: Vec<_> = listed.iter().filter(|s| s.name == app).collect();
    assert_eq!(app_srv, vec![&srv(4002)], "the SRV set names the new port alone");
    ok(
        "delete the SRV set",
        dns.delete_records(&zone, &[(app.clone(), RecordType::Srv), (server, RecordType::A)]).await,
    );
}
