//! How the SDK's results read as text: the sentences every front end shows
//! (the CLI's human output, Python's `str()`), checked once here.

use std::time::Duration;

use chrono::TimeZone;

use crate::dns::SrvRecord;
use crate::engine::ProbeVerdict;
use crate::engine::{
    Change, DeployEvent, DeployReport, LockStatus, PlannedChange, ReconcileReport, Reconciled, RecoverReport,
    RollbackPlan,
};
use crate::model::{
    ContainerName, DomainName, EnvKey, Environment, ImageRef, Port, ProjectName, ReleaseId, ServerName, Service, Step,
};
use crate::ops::{DomainReport, DriftItem, DriftReport, HealthReport, ListedVar, Removal, SsotStatus};
use crate::ports::{PortConflict, PortDrift, PortKey, PortReport};
use crate::proxy::{Upstream, Upstreams};
use crate::ssot::{DeployLock, ReleaseStatus};
use crate::text::{list, upstreams};

fn shop() -> ProjectName {
    ProjectName::parse("shop").unwrap()
}

fn release(id: &str) -> ReleaseId {
    ReleaseId::parse(id).unwrap()
}

fn port(n: u16) -> Port {
    Port::new(n).unwrap()
}

fn upstream(n: u16) -> Upstream {
    Upstream { host: "127.0.0.1".parse().unwrap(), port: port(n) }
}

fn container(name: &str) -> ContainerName {
    ContainerName::parse(name).unwrap()
}

fn key() -> PortKey {
    PortKey::new(shop(), Environment::Staging, Service::App)
}

fn holder(message: Option<&str>) -> DeployLock {
    DeployLock {
        owner: "ci".into(),
        host: "build-1".into(),
        pid: 42,
        started_at: chrono::Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap(),
        message: message.map(str::to_owned),
        lease_until: None,
    }
}

#[test]
fn lists_join_with_commas_and_no_upstream_reads_as_nothing() {
    assert_eq!(list(&["a", "b"]), "a, b");
    assert_eq!(upstreams(&[]), "nothing");
    let v6 = Upstream { host: "::1".parse().unwrap(), port: port(3000) };
    assert_eq!(upstreams(&[upstream(3000), v6]), "127.0.0.1:3000, [::1]:3000");
}

#[test]
fn a_deploy_report_says_what_serves_what_it_replaced_and_where_each_domain_answers() {
    let mut report = DeployReport {
        project: shop(),
        env: Environment::Staging,
        server: ServerName::local(),
        release: release("v2"),
        image: ImageRef::parse("localhost/shop:v2").unwrap(),
        port: port(3001),
        previous: None,
        domains: Vec::new(),
        elapsed_ms: 120,
        recovered: None,
        retiring: None,
    };
    assert_eq!(report.to_string(), "shop/staging serves v2 (localhost/shop:v2) on port 3001 in 120 ms");
    report.previous = Some(release("v1"));
    report.domains = vec![DomainName::parse("shop.codeb.test").unwrap()];
    assert_eq!(
        report.to_string(),
        "shop/staging serves v2 (localhost/shop:v2) on port 3001, replacing v1 in 120 ms\n  http://shop.codeb.test/"
    );
    report.recovered = Some(RecoverReport::default());
    assert!(report.to_string().contains("in 120 ms, after recovering from an interrupted deploy\n"), "{report}");
}

#[test]
fn a_rollback_plan_names_both_releases_the_image_and_the_server() {
    let plan = RollbackPlan {
        project: shop(),
        env: Environment::Production,
        server: ServerName::parse("app-1").unwrap(),
        revision: 7,
        from: release("v3"),
        to: release("v2"),
        image: ImageRef::parse("localhost/shop:v2").unwrap(),
        changes: Vec::new(),
    };
    assert_eq!(plan.to_string(), "roll back shop/production from v3 to v2 (localhost/shop:v2) on app-1");
}

#[test]
fn a_recovery_lists_each_thing_it_did_under_one_headline() {
    assert_eq!(RecoverReport::default().to_string(), "recovered");
    let report = RecoverReport {
        released_lock: Some(holder(None).who()),
        cleaned: vec![release("v3")],
        restarted_current: true,
        repaired_upstream: true,
        repaired_routes: vec![DomainName::parse("shop.codeb.test").unwrap()],
        repaired_records: vec![DomainName::parse("shop.codeb.test").unwrap()],
    };
    assert_eq!(
        report.to_string(),
        "recovered\n  released the stale lock of ci@build-1 (pid 42)\n  cleaned up interrupted release v3\n  \
         started the serving release again\n  pointed the upstream record back at the serving release\n  \
         pointed shop.codeb.test back at the serving release\n  \
         made the DNS record of shop.codeb.test again"
    );
}

#[test]
fn a_reconcile_names_each_environment_with_what_it_did_or_why_it_failed() {
    let env = |name: &str, report, error: Option<&str>| Reconciled {
        project: ProjectName::parse(name).unwrap(),
        env: Environment::Staging,
        report,
        error: error.map(str::to_owned),
    };
    let report = ReconcileReport {
        environments: vec![env("shop", Some(RecoverReport::default()), None), env("blog", None, Some("locked"))],
    };
    assert_eq!(report.to_string(), "reconciled 2 environments\nshop/staging: recovered\nblog/staging: failed: locked");
    assert!(!report.is_complete());
}

#[test]
fn a_lock_names_its_holder_since_when_and_for_what_and_says_how_to_clear_a_stale_one() {
    assert_eq!(holder(None).to_string(), "ci@build-1 (pid 42) since 2025-01-02 03:04:05 UTC");
    let status = LockStatus {
        project: shop(),
        env: Environment::Staging,
        holder: holder(Some("we deploy")),
        stale: false,
        lease_left_ms: None,
    };
    assert_eq!(
        status.to_string(),
        "shop/staging is locked by ci@build-1 (pid 42) since 2025-01-02 03:04:05 UTC: we deploy"
    );
    let stale = LockStatus { stale: true, ..status.clone() };
    assert!(
        stale.to_string().ends_with("; the holder process is gone: release the stale lock, or recover the environment")
    );
    let leased = LockStatus { lease_left_ms: Some(41_200), ..status.clone() };
    assert!(leased.to_string().ends_with(": we deploy; its lease runs 42 more s unless renewed"), "{leased}");
    let ran_out = LockStatus { lease_left_ms: Some(0), stale: true, ..status };
    assert!(
        ran_out
            .to_string()
            .ends_with("; its lease ran out: the lock is stale and can be taken (a deploy takes it, recovering first)"),
        "{ran_out}"
    );
}

#[test]
fn a_deployer_is_user_at_host_via_front_end() {
    let by = crate::ssot::Deployer { user: "ana".into(), host: "laptop".into(), front_end: "we".into() };
    assert_eq!(by.to_string(), "ana@laptop via we");
}

#[test]
fn a_release_status_is_its_name_and_a_failure_names_its_step() {
    assert_eq!(ReleaseStatus::Live.to_string(), "live");
    let failed = ReleaseStatus::Failed { step: Step::HealthCheck, reason: "status 500".into() };
    assert_eq!(failed.to_string(), "failed at health_check");
}

#[test]
fn the_ssot_status_reads_as_three_lines() {
    let status = SsotStatus {
        schema_version: 3,
        revision: 12,
        projects: 2,
        environments: 3,
        serving: 2,
        failed_releases: 1,
        locked: 0,
    };
    assert_eq!(
        status.to_string(),
        "revision 12 (schema 3)\n2 projects, 3 environments, 2 serving\n1 failed releases, 0 locked environments"
    );
}

#[test]
fn a_health_report_gives_the_verdict_with_its_evidence() {
    let verdict = ProbeVerdict { healthy: false, evidence: "status 500".into() };
    let report = HealthReport { release: release("v2"), port: port(3001), verdict, accessories: Vec::new() };
    assert_eq!(report.to_string(), "v2 unhealthy: status 500 (port 3001)");
}

#[test]
fn a_port_report_has_a_line_per_finding_conflicts_first_or_says_it_is_clean() {
    assert_eq!(PortReport::default().to_string(), "ports: record and reality agree");
    let other = PortKey::new(shop(), Environment::Production, Service::App);
    let report = PortReport {
        conflicts: vec![PortConflict::RecordedTwice { port: port(3000), keys: vec![key(), other] }],
        drift: vec![
            PortDrift::NotListening { server: ServerName::local(), port: port(3000), key: key() },
            PortDrift::Unrecorded { server: ServerName::local(), port: port(3005), listener: "node".into() },
        ],
    };
    assert_eq!(
        report.to_string(),
        "conflict: port 3000 is recorded for shop/staging/app, shop/production/app\n\
         drift: port 3000 of shop/staging/app on local: nothing listens\n\
         drift: port 3005 on local listens (node) but is not recorded"
    );
}

#[test]
fn a_drift_report_has_a_line_per_difference_then_the_ports_or_says_it_is_clean() {
    assert_eq!(DriftReport::default().to_string(), "no drift: the SSOT matches what runs");
    let report = DriftReport {
        items: vec![
            DriftItem::RouteMismatch {
                host: DomainName::parse("shop.codeb.test").unwrap(),
                expected: Upstreams::Fixed(vec![upstream(3001)]),
                actual: None,
            },
            DriftItem::RouteMismatch {
                host: DomainName::parse("www.codeb.test").unwrap(),
                expected: Upstreams::Srv(DomainName::parse("staging.shop.env.codeb.internal").unwrap()),
                actual: Some(Upstreams::Fixed(vec![upstream(3001)])),
            },
            DriftItem::UpstreamMismatch {
                project: shop(),
                env: Environment::Staging,
                name: DomainName::parse("staging.shop.env.codeb.internal").unwrap(),
                expected: SrvRecord {
                    priority: 0,
                    weight: 0,
                    port: port(3002),
                    target: DomainName::parse("local.server.codeb.internal").unwrap(),
                },
                actual: None,
            },
            DriftItem::StrayRunning { container: container("codeb-shop-staging-v1") },
            DriftItem::AccessoryNotRunning {
                project: shop(),
                env: Environment::Staging,
                service: Service::Postgres,
                container: container("codeb-shop-staging-postgres"),
            },
        ],
        ports: PortReport {
            conflicts: Vec::new(),
            drift: vec![PortDrift::NotListening { server: ServerName::local(), port: port(3001), key: key() }],
        },
    };
    assert_eq!(
        report.to_string(),
        "drift: shop.codeb.test: routes to nothing instead of 127.0.0.1:3001\n\
         drift: www.codeb.test: routes to 127.0.0.1:3001 instead of the SRV record staging.shop.env.codeb.internal\n\
         drift: shop/staging: upstream record staging.shop.env.codeb.internal points at nothing instead of local.server.codeb.internal:3002\n\
         drift: codeb-shop-staging-v1: runs but serves nothing\n\
         drift: shop/staging: postgres is not running (codeb-shop-staging-postgres)\n\
         drift: port 3001 of shop/staging/app on local: nothing listens"
    );
}

#[test]
fn an_event_reads_as_a_line_of_progress() {
    let change = PlannedChange {
        server: ServerName::local(),
        change: Change::RemoveContainer { name: container("codeb-shop-staging-v2") },
    };
    let cases = [
        (DeployEvent::StepStarted { step: Step::Image }, "image: started"),
        (DeployEvent::StepFinished { step: Step::Image, elapsed: Duration::from_millis(15) }, "image: done in 15 ms"),
        (DeployEvent::ChangeUndone { change }, "undid: remove container codeb-shop-staging-v2"),
        (
            DeployEvent::RouteSwitched {
                host: DomainName::parse("shop.codeb.test").unwrap(),
                to: Upstreams::Fixed(vec![upstream(3001)]),
            },
            "routed shop.codeb.test to 127.0.0.1:3001",
        ),
        (
            DeployEvent::RolledBack { from: release("v2"), to: release("v1"), reason: "status 500".into() },
            "rolled back from v2 to v1: status 500",
        ),
        (DeployEvent::Note { message: "kept v1".into() }, "kept v1"),
    ];
    for (event, text) in cases {
        assert_eq!(event.to_string(), text);
    }
}

#[test]
fn a_listed_variable_reads_as_an_assignment_with_a_secret_masked() {
    let listed = |secret| ListedVar { key: EnvKey::parse("TOKEN").unwrap(), value: "********".into(), secret };
    assert_eq!(listed(true).to_string(), "TOKEN=********");
}

#[test]
fn a_removal_says_whether_it_was_done_then_lists_each_change() {
    let change =
        |name| PlannedChange { server: ServerName::local(), change: Change::RemoveContainer { name: container(name) } };
    let removal = Removal { changes: vec![change("codeb-shop-staging-v1")], applied: false };
    assert_eq!(removal.to_string(), "would, given force:\n  - remove container codeb-shop-staging-v1");
    assert_eq!(Removal { applied: true, ..removal }.to_string(), "done:\n  - remove container codeb-shop-staging-v1");
}

#[test]
fn a_domain_setup_says_what_was_routed_or_would_be_then_lists_each_change() {
    let domain = DomainName::parse("www.codeb.test").unwrap();
    let change = PlannedChange { server: ServerName::local(), change: Change::CreateRoute { host: domain.clone() } };
    let report = DomainReport { domain, changes: vec![change], applied: true, taken_from: None };
    assert_eq!(report.to_string(), "routed www.codeb.test\n  + create the route of www.codeb.test");
    let dry = DomainReport { applied: false, ..report };
    assert!(dry.to_string().starts_with("would route www.codeb.test (dry run)\n"));
}

#[test]
fn a_forced_domain_setup_says_whose_the_domain_was() {
    let domain = DomainName::parse("www.codeb.test").unwrap();
    let from = crate::ssot::DomainOwner::new(&ProjectName::parse("blog").unwrap(), &Environment::Production);
    let change = Change::TakeDomain { domain: domain.clone(), from: from.clone() };
    let change = PlannedChange { server: ServerName::local(), change };
    let report = DomainReport { domain, changes: vec![change], applied: true, taken_from: Some(from) };
    assert_eq!(
        report.to_string(),
        "routed www.codeb.test, taken from blog/production\n  + move www.codeb.test from blog/production to the environment in the SSOT"
    );
}

#[test]
fn an_analysis_says_what_it_found_and_an_init_report_what_it_wrote() {
    use crate::project::{Analysis, Framework, InitReport, PackageManager, PortSource, Prisma};
    let analysis = Analysis {
        package_name: Some("@acme/shop".into()),
        framework: Framework::Nextjs,
        package_manager: Some(PackageManager::Pnpm),
        lock_file: Some("pnpm-lock.yaml".into()),
        prisma: Some(Prisma {
            schema: Some("prisma/schema.prisma".into()),
            provider: Some("postgresql".into()),
            config: None,
        }),
        postgres_clients: Vec::new(),
        redis_clients: vec!["ioredis".into()],
        needs_postgres: true,
        needs_redis: true,
        containerfile: None,
        start_script: Some("next start -p 4000".into()),
        build_script: true,
        standalone: true,
        public_dir: true,
        port: Some(port(4000)),
        port_source: Some(PortSource::StartScript),
    };
    assert_eq!(
        analysis.to_string(),
        "a Next.js app (@acme/shop), built with pnpm (pnpm-lock.yaml), standalone output; Prisma on postgresql; \
         Redis clients: ioredis; starts with `next start -p 4000`; listens on port 4000 (from the start script); \
         no Containerfile"
    );
    let report = InitReport {
        dir: "/src/shop".into(),
        name: shop(),
        analysis,
        project_file: String::new(),
        containerfile: Some(String::new()),
        written: true,
        replaced: false,
    };
    let text = report.to_string();
    assert!(text.starts_with("wrote /src/shop/codeb.toml for shop: a Next.js app (@acme/shop)"), "{text}");
    assert!(text.ends_with(
        "\naccessories: postgres, redis\nthe image builds with a Containerfile codeb generates (multi-stage, non-root)"
    ));
    let dry = InitReport { written: false, replaced: true, ..report };
    assert!(dry.to_string().starts_with("would write (dry run) /src/shop/codeb.toml for shop"), "{dry}");
}
