//! Zero failed requests over ten consecutive deploys (issue 15), on the live
//! stack: clients that never retry (keep-alive and new connections, requests
//! in flight for 2 s, one keep-alive connection held across every deploy)
//! send at least 100,000 requests through the real Caddy while the SDK
//! deploys one environment ten times, cutting over through the real
//! PowerDNS. Every failure is counted, none is resent.

use codeb::engine::Change;
use codeb_tests::cutover::Scenario;
use codeb_tests::load::ClientKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_deploys_under_load_fail_no_request_and_keep_the_held_connection() {
    let timings = "drain_grace = \"10s\"\nstop_grace = \"5s\"\nwatch_window = \"0s\"";
    let Some(scenario) = Scenario::start("zerofail", timings).await else { return };
    let plan = scenario.platform.plan(&scenario.requests[1]).await.unwrap();
    assert!(
        plan.changes.iter().any(|c| matches!(c.change, Change::PointUpstream { .. }))
            && !plan
                .changes
                .iter()
                .any(|c| matches!(c.change, Change::SwitchRoute { .. } | Change::CreateRoute { .. })),
        "the cutover is one DNS change and no proxy change: {:?}",
        plan.changes
    );
    let run = scenario.run(10, 100_000).await.unwrap();
    assert!(run.load.requests() >= 100_000, "{}", run.load);
    assert_eq!(run.load.failed(), 0, "{}", run.load);
    assert_eq!(run.load.sticky_connections_lost, 0, "{}", run.load);
    let slow = run.load.ok.get(&ClientKind::Slow).copied().unwrap_or(0);
    assert!(slow >= 10, "requests in flight for 2 s were answered across the cutovers: {}", run.load);
}
