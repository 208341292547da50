//! Latency of one record upsert through `PowerDns`, over 1,000 upserts on a
//! live PowerDNS: p50, p90, p99 and the worst.
//!
//! Run (creates and deletes one zone of its own):
//!
//! ```sh
//! CODEB_TEST_PDNS_API=http://127.0.0.1:PORT CODEB_TEST_PDNS_API_KEY=KEY \
//!   cargo bench -p codeb-backends --bench powerdns_upserts
//! ```
//!
//! Each upsert is one PATCH replacing one A set; the names cycle over 100
//! hosts, so the first 100 create a set and the other 900 replace one.
//! Figures are recorded in docs/benchmarks.md.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use codeb::dns::{Dns, RecordData, RecordSet};
use codeb::model::DomainName;
use codeb_backends::transport::LocalTransport;
use codeb_backends::{PowerDns, PowerDnsConfig};

const UPSERTS: usize = 1000;
const HOSTS: usize = 100;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn main() {
    let (Ok(api), Ok(key)) = (std::env::var("CODEB_TEST_PDNS_API"), std::env::var("CODEB_TEST_PDNS_API_KEY")) else {
        eprintln!(
            "SKIPPED: CODEB_TEST_PDNS_API and CODEB_TEST_PDNS_API_KEY are not set, so the PowerDNS benchmark did not run"
        );
        return;
    };
    // `cargo bench` passes `--bench`; nothing else to parse.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dns = PowerDns::new(Arc::new(LocalTransport::new()), PowerDnsConfig::new(&api, &key)).unwrap();
    let zone = DomainName::parse(&format!("bench{}.codeb.test", fastrand::u32(..))).unwrap();
    let latencies = rt.block_on(async {
        dns.ensure_zone(&zone).await.unwrap();
        let mut latencies = Vec::with_capacity(UPSERTS);
        for i in 0..UPSERTS {
            let name = DomainName::parse(&format!("h{}.{zone}", i % HOSTS)).unwrap();
            let ip = Ipv4Addr::from(0x0a00_0000 + i as u32);
            let set = RecordSet { name, ttl: 60, data: RecordData::A(vec![ip]) };
            let start = Instant::now();
            dns.upsert_records(&zone, &[set]).await.unwrap();
            latencies.push(start.elapsed());
        }
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let url = format!("{}/api/v1/servers/localhost/zones/{}", api.trim_end_matches('/'), zone.to_fqdn());
        let status = client.delete(url).header("X-API-Key", &key).send().await.unwrap().status();
        assert!(status.is_success(), "cleanup of zone {zone}: {status}");
        latencies
    });
    let mut sorted = latencies.clone();
    sorted.sort();
    let total: Duration = latencies.iter().sum();
    println!("powerdns record upsert, {UPSERTS} upserts ({HOSTS} names, one A set each time)");
    println!("  p50  {:?}", percentile(&sorted, 0.50));
    println!("  p90  {:?}", percentile(&sorted, 0.90));
    println!("  p99  {:?}", percentile(&sorted, 0.99));
    println!("  max  {:?}", sorted[sorted.len() - 1]);
    println!("  mean {:?}", total / UPSERTS as u32);
    let creates = &latencies[..HOSTS];
    let mut creates_sorted = creates.to_vec();
    creates_sorted.sort();
    println!("  p50 of the first {HOSTS} (creating a set) {:?}", percentile(&creates_sorted, 0.50));
}
