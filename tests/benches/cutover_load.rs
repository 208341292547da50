//! Failed requests over ten consecutive deploys (issue 15): the load of
//! `codeb_tests::load` (clients that never retry, keep-alive and new
//! connections, requests in flight for 2 s, one connection held throughout)
//! through the live Caddy while the SDK deploys one environment, cutting
//! over through DNS with a drain that waits until the old release is idle
//! (grace 10 s), until the load has sent 100,000 requests.
//!
//! Needs the live stack (`codeb-testenv up DIR`, then `eval` its exports).
//! Run: `cargo bench -p codeb-tests --bench cutover_load`. Figures: docs/benchmarks.md.

use codeb_tests::cutover::Scenario;

const DEPLOYS: usize = 10;
const REQUESTS: usize = 100_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let timings = "drain_grace = \"10s\"\nstop_grace = \"5s\"\nwatch_window = \"0s\"";
    let Some(scenario) = Scenario::start("cutover", timings).await else {
        eprintln!("cutover_load: no live stack (see the header of benches/cutover_load.rs)");
        return;
    };
    let run = scenario.run(DEPLOYS, REQUESTS).await.unwrap();
    let mut deploys = run.deploys.clone();
    deploys.sort();
    println!("cutover under load, {DEPLOYS} deploys, cutover through DNS, drain until idle: {}", run.load);
    println!("deploy durations under load: median {:.0?}, max {:.0?}", deploys[DEPLOYS / 2], deploys[DEPLOYS - 1]);
}
