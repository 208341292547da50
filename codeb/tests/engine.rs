//! The deploy engine on the in-memory fakes: cutover, failures at every step,
//! automatic and manual rollback, locks, plans and crash recovery.

use codeb::runtime::StopOptions;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use codeb::dns::Dns;
use codeb::engine::{
    Change, DeployEvent, DeployOptions, DeployReport, DeployRequest, EventSink, Identity, PlannedChange, Platform,
    Settings, accessory_container, release_container,
};
use codeb::fake::{AppBehaviour, FakeBackends};
use codeb::fleet::{Fleet, HostAddresses};
use codeb::model::{
    ContainerName, DomainName, EnvKey, EnvValue, EnvVar, Environment, HealthCheck, ImageRef, Port, ProjectName,
    ReleaseId, Role, ServerName, Service, Step,
};
use codeb::ops::DriftItem;
use codeb::ports::ListenerOwner;
use codeb::proxy::{Proxy, Upstream, Upstreams};
use codeb::runtime::{ContainerRuntime, ContainerState};
use codeb::secrets::{Scope, SecretStore};
use codeb::ssot::{DeployLock, EnvironmentRecord, ReleaseStatus, StateStore, StateStoreExt};
use codeb::{Error, ErrorKind};

const FAKE_PID: u32 = 4242;

fn settings() -> Settings {
    let mut s = Settings::local("tester", "test");
    s.zone = Some(DomainName::parse("codeb.test").unwrap());
    s.drain_grace = Duration::ZERO;
    s.stop_grace = Duration::ZERO;
    s.watch_window = Duration::ZERO;
    s.identity = Identity { user: "tester".into(), front_end: "test".into(), host: "localhost".into(), pid: FAKE_PID };
    s
}

fn platform(fakes: &FakeBackends, settings: Settings) -> Platform {
    Platform::new(fakes.backends(), settings)
}

fn image(tag: &str) -> ImageRef {
    ImageRef::parse(&format!("localhost/shop:{tag}")).unwrap()
}

fn fakes() -> FakeBackends {
    let fakes = FakeBackends::new();
    for tag in ["v1", "v2", "v3"] {
        fakes.runtime.add_registry_image(&image(tag));
    }
    fakes
}

fn project() -> ProjectName {
    ProjectName::parse("shop").unwrap()
}

fn domain() -> DomainName {
    DomainName::parse("shop.codeb.test").unwrap()
}

fn quick_health() -> HealthCheck {
    HealthCheck {
        interval: Duration::from_millis(5),
        timeout: Duration::from_millis(20),
        deadline: Duration::from_millis(100),
        failure_threshold: 2,
        ..HealthCheck::default()
    }
}

fn request(tag: &str) -> DeployRequest {
    let mut r = DeployRequest::new(project(), Environment::Staging, image(tag), Port::new(8080).unwrap());
    r.domains = vec![domain()];
    r.health = quick_health();
    r
}

fn var(key: &str, value: &str, secret: bool) -> EnvVar {
    EnvVar { key: EnvKey::parse(key).unwrap(), value: EnvValue::parse(value).unwrap(), secret }
}

fn env_record(fakes: &FakeBackends) -> EnvironmentRecord {
    fakes.state.load().unwrap().environment(&project(), &Environment::Staging).cloned().unwrap_or_default()
}

fn release(id: &str) -> ReleaseId {
    ReleaseId::parse(id).unwrap()
}

async fn routed_port(fakes: &FakeBackends) -> Option<Port> {
    let route = fakes.proxy.get_route(&domain()).await.unwrap()?;
    assert_eq!(route.upstreams.fixed().len(), 1);
    Some(route.upstreams.fixed()[0].port)
}

async fn state_of(fakes: &FakeBackends, id: &str) -> Option<ContainerState> {
    let name = release_container(&project(), &Environment::Staging, &release(id)).unwrap();
    fakes.runtime.inspect_container(&name).await.ok().map(|c| c.state)
}

/// Collects every event, and runs `on_event` on each (to inject faults at a precise moment).
fn recorder(on_event: impl Fn(&DeployEvent) + Send + Sync + 'static) -> (EventSink, Arc<Mutex<Vec<DeployEvent>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink_seen = seen.clone();
    let sink: EventSink = Arc::new(move |e: &DeployEvent| {
        on_event(e);
        sink_seen.lock().unwrap().push(e.clone());
    });
    (sink, seen)
}

/// The steps `seen` says started, in order.
fn steps_started(seen: &Mutex<Vec<DeployEvent>>) -> Vec<Step> {
    let seen = seen.lock().unwrap();
    seen.iter()
        .filter_map(|e| match e {
            DeployEvent::StepStarted { step } => Some(*step),
            _ => None,
        })
        .collect()
}

fn with_events(sink: EventSink) -> DeployOptions {
    DeployOptions { events: Some(sink), ..DeployOptions::default() }
}

async fn deploy_ok(p: &Platform, tag: &str) -> DeployReport {
    p.deploy(&request(tag), &DeployOptions::default()).await.unwrap_or_else(|e| panic!("deploy {tag}: {e}"))
}

#[tokio::test]
async fn a_first_deploy_starts_the_release_routes_it_names_it_and_records_it() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    let report = deploy_ok(&p, "v1").await;
    assert_eq!(report.release, release("v1"));
    assert_eq!(report.port.get(), 3000, "the first app port of staging");
    assert_eq!(routed_port(&fakes).await, Some(report.port));
    assert_eq!(state_of(&fakes, "v1").await, Some(ContainerState::Running));
    let records = fakes.dns.list_records(&DomainName::parse("codeb.test").unwrap()).await.unwrap();
    assert!(records.iter().any(|r| r.name == domain()), "an A record for the domain");
    let env = env_record(&fakes);
    assert_eq!(env.current_release, Some(release("v1")));
    assert_eq!(env.ports.get(&Service::App), Some(&report.port), "the SSOT shows the port that serves");
    assert!(env.release_ports.is_empty() && env.lock.is_none());
    assert_eq!(env.releases[0].status, ReleaseStatus::Live);
    assert_eq!(env.releases[0].config.domains, vec![domain()]);
    assert!(env.releases[0].image_digest.is_some(), "the image id the runtime reported is recorded");
}

#[tokio::test]
async fn a_second_deploy_switches_with_one_proxy_change_and_stops_the_first() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    let v1 = deploy_ok(&p, "v1").await;
    let changes_before = fakes.proxy.changes();
    let v2 = deploy_ok(&p, "v2").await;
    assert_eq!(fakes.proxy.changes() - changes_before, 1, "exactly one proxy change for the cutover");
    assert_ne!(v1.port, v2.port, "the new release runs beside the old one on its own port");
    assert_eq!(routed_port(&fakes).await, Some(v2.port));
    assert_eq!(v2.previous, Some(release("v1")));
    assert!(
        matches!(state_of(&fakes, "v1").await, Some(ContainerState::Exited { .. })),
        "the old release is kept stopped"
    );
    let env = env_record(&fakes);
    assert_eq!(env.ports.get(&Service::App), Some(&v2.port));
    assert!(env.release_ports.is_empty(), "the old port is freed after the cutover");
    let statuses: Vec<_> = env.releases.iter().map(|r| (r.id.to_string(), r.status.clone())).collect();
    assert_eq!(statuses, vec![("v1".into(), ReleaseStatus::Retired), ("v2".into(), ReleaseStatus::Live)]);
}

/// How a failure-table row makes its step fail, triggered when the step starts.
type Inject = fn(&FakeBackends);

/// When to inject a fault for `step`: ports are probed and reserved in the commit that takes the lock.
fn trigger_at(step: Step) -> Step {
    if step == Step::AllocatePorts { Step::Lock } else { step }
}

#[tokio::test]
async fn a_failure_at_any_step_keeps_the_old_release_serving_and_leaves_nothing_running() {
    let rows: Vec<(&str, Step, Inject)> = vec![
        ("port probe", Step::AllocatePorts, |f| {
            f.ports.probe().faults().fail_next("listeners", 1, ErrorKind::Unavailable)
        }),
        ("image", Step::Image, |f| f.runtime.faults().fail_next("ensure_image", 1, ErrorKind::NotFound)),
        ("container start", Step::StartRelease, |f| {
            f.runtime.faults().fail_next("start_container", 1, ErrorKind::Conflict)
        }),
        ("health never healthy", Step::HealthCheck, |f| {
            f.runtime.set_app_behaviour(&image("v2"), AppBehaviour::Serve { status: 500, body: "boom".into() })
        }),
        ("health times out", Step::HealthCheck, |f| f.runtime.set_app_behaviour(&image("v2"), AppBehaviour::Hang)),
        ("proxy switch", Step::SwitchRoute, |f| {
            f.proxy.faults().fail_next("switch_upstreams", 1, ErrorKind::Unavailable)
        }),
        ("dns", Step::Dns, |f| f.dns.faults().fail_next("upsert_records", 1, ErrorKind::Unavailable)),
        ("ssot write", Step::Record, |f| f.state.faults().fail_next("update", 1, ErrorKind::Unavailable)),
    ];
    for (name, step, inject) in rows {
        let fakes = fakes();
        let p = platform(&fakes, settings());
        let v1 = deploy_ok(&p, "v1").await;
        let trigger = fakes.clone();
        let (sink, _) = recorder(move |e| {
            if *e == (DeployEvent::StepStarted { step: trigger_at(step) }) {
                inject(&trigger);
            }
        });
        let err = p.deploy(&request("v2"), &with_events(sink)).await.expect_err(name);
        assert_eq!(err.context_value("step"), Some(step.as_str()), "{name}: {err}");
        assert_eq!(routed_port(&fakes).await, Some(v1.port), "{name}: the proxy must still route to v1");
        assert_eq!(state_of(&fakes, "v1").await, Some(ContainerState::Running), "{name}: v1 must run");
        assert_eq!(state_of(&fakes, "v2").await, None, "{name}: nothing of v2 may be left");
        let env = env_record(&fakes);
        assert_eq!(env.current_release, Some(release("v1")), "{name}");
        assert_eq!(env.ports.get(&Service::App), Some(&v1.port), "{name}: the SSOT keeps v1's port");
        assert!(env.release_ports.is_empty(), "{name}: v2's port must be released");
        assert!(env.lock.is_none(), "{name}: the lock must be released");
        if step == Step::AllocatePorts {
            // Ports are reserved in the commit that takes the lock and records the release: it never happened.
            assert!(env.release(&release("v2")).is_none(), "{name}: nothing of v2 is recorded");
            continue;
        }
        match &env.release(&release("v2")).unwrap().status {
            ReleaseStatus::Failed { step: failed, reason } => {
                assert_eq!(*failed, step, "{name}");
                assert!(!reason.is_empty());
            }
            other => panic!("{name}: v2 must be recorded failed, is {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_failed_release_whose_undo_could_not_reach_the_server_is_removed_by_the_next_good_deploy() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    deploy_ok(&p, "v1").await;
    // v2 never answers healthy, and its server is gone before the undo can remove it.
    fakes.runtime.set_app_behaviour(&image("v2"), AppBehaviour::Serve { status: 500, body: "boom".into() });
    let trigger = fakes.clone();
    let (sink, _) = recorder(move |e| {
        if *e == (DeployEvent::StepStarted { step: Step::HealthCheck }) {
            for op in ["stop_container", "remove_container"] {
                trigger.runtime.faults().fail_next(op, 10, ErrorKind::Unavailable);
            }
        }
    });
    p.deploy(&request("v2"), &with_events(sink)).await.unwrap_err();
    assert_eq!(state_of(&fakes, "v2").await, Some(ContainerState::Running), "the undo could not remove it");
    fakes.runtime.faults().clear();

    deploy_ok(&p, "v3").await;
    assert_eq!(state_of(&fakes, "v2").await, None, "the good deploy removed what the failed one left");
}

#[tokio::test]
async fn an_unhealthy_release_fails_with_the_status_and_body_as_evidence() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    fakes.runtime.set_app_behaviour(&image("v1"), AppBehaviour::Serve { status: 503, body: "database down".into() });
    let err = p.deploy(&request("v1"), &DeployOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unhealthy);
    let text = err.to_string();
    assert!(text.contains("503") && text.contains("database down"), "{text}");
    assert_eq!(routed_port(&fakes).await, None, "a failed first deploy creates no route");
}

/// Events that crash release v2 at its second health probe (the first of the watch window).
fn crash_v2_on_its_second_probe(fakes: &FakeBackends) -> (EventSink, Arc<Mutex<Vec<DeployEvent>>>) {
    let trigger = fakes.clone();
    recorder(move |e| {
        if let DeployEvent::HealthProbe { release, attempt: 2, .. } = e
            && release.as_str() == "v2"
        {
            let name = release_container(&project(), &Environment::Staging, release).unwrap();
            let _ = trigger.runtime.crash(&name, 137);
        }
    })
}

#[tokio::test]
async fn a_secret_the_app_echoes_is_masked_in_the_error_the_events_and_the_failed_release() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    let scope = Scope::new(project(), Environment::Staging);
    fakes.secrets.set(&scope, &[var("API_TOKEN", "tok-31337-secret", true), var("MODE", "fast", false)]).await.unwrap();
    let body = "MODE=fast API_TOKEN=tok-31337-secret \"quoted tok-31337-secret\"".to_owned();
    fakes.runtime.set_app_behaviour(&image("v1"), AppBehaviour::Serve { status: 503, body });
    let (sink, seen) = recorder(|_| {});

    let err = p.deploy(&request("v1"), &with_events(sink)).await.unwrap_err();

    let shown = format!("{err} {err:?}");
    assert!(shown.contains("MODE=fast API_TOKEN=********"), "the evidence stays, masked: {shown}");
    assert!(!shown.contains("tok-31337"), "{shown}");
    let events = format!("{:?}", seen.lock().unwrap());
    assert!(!events.contains("tok-31337"), "{events}");
    let record = format!("{:?}", fakes.state.load().unwrap());
    assert!(record.contains("API_TOKEN=********") && !record.contains("tok-31337"), "{record}");
}

#[tokio::test]
async fn a_release_that_turns_unhealthy_inside_the_watch_window_is_rolled_back() {
    let fakes = fakes();
    let mut s = settings();
    s.watch_window = Duration::from_millis(300);
    let p = platform(&fakes, s);
    let v1 = deploy_ok(&p, "v1").await;
    let (sink, seen) = crash_v2_on_its_second_probe(&fakes);
    let err = p.deploy(&request("v2"), &with_events(sink)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unhealthy);
    assert_eq!(err.context_value("step"), Some("watch"));
    assert!(err.to_string().contains("rolled back to v1"), "{err}");
    assert_eq!(routed_port(&fakes).await, Some(v1.port), "traffic is back on v1");
    assert_eq!(state_of(&fakes, "v1").await, Some(ContainerState::Running));
    assert_eq!(state_of(&fakes, "v2").await, None);
    let env = env_record(&fakes);
    assert_eq!(env.current_release, Some(release("v1")));
    assert_eq!(env.ports.get(&Service::App), Some(&v1.port));
    assert!(matches!(&env.release(&release("v2")).unwrap().status, ReleaseStatus::Failed { step: Step::Watch, .. }));
    assert!(seen.lock().unwrap().iter().any(|e| matches!(e, DeployEvent::RolledBack { .. })));
}

#[tokio::test]
async fn a_watch_rollback_makes_the_previous_release_again_when_its_container_is_gone() {
    let fakes = fakes();
    let mut s = settings();
    s.watch_window = Duration::from_millis(300);
    let p = platform(&fakes, s);
    let v1 = deploy_ok(&p, "v1").await;
    let v1_container = release_container(&project(), &Environment::Staging, &release("v1")).unwrap();
    fakes.runtime.remove_container(&v1_container, codeb::runtime::RemoveContainerOptions::FORCE).await.unwrap();
    let (sink, _) = crash_v2_on_its_second_probe(&fakes);

    let err = p.deploy(&request("v2"), &with_events(sink)).await.unwrap_err();

    assert!(err.to_string().contains("rolled back to v1"), "{err}");
    assert_eq!(state_of(&fakes, "v1").await, Some(ContainerState::Running), "v1 was made again");
    assert_eq!(routed_port(&fakes).await, Some(v1.port));
}

#[tokio::test]
async fn a_release_that_turns_unhealthy_after_the_watch_window_is_not_rolled_back() {
    let fakes = fakes();
    let mut s = settings();
    s.watch_window = Duration::from_millis(50);
    let p = platform(&fakes, s);
    deploy_ok(&p, "v1").await;
    let v2 = deploy_ok(&p, "v2").await;
    let name = release_container(&project(), &Environment::Staging, &release("v2")).unwrap();
    fakes.runtime.crash(&name, 1).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(routed_port(&fakes).await, Some(v2.port), "no watcher acts after the window");
    assert_eq!(env_record(&fakes).current_release, Some(release("v2")));
}

#[tokio::test]
async fn a_port_taken_between_the_probe_and_the_start_is_replaced_by_the_next_free_one() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    let first = Port::new(3000).unwrap();
    // Another process binds the reserved port after the lock: the start fails on it once.
    fakes.runtime.faults().fail_next("start_container", 1, ErrorKind::Conflict);
    let probe = fakes.ports.probe().clone();
    let (sink, _) = recorder(move |e| {
        if let DeployEvent::StepStarted { step: Step::StartRelease } = e {
            let owner = ListenerOwner::Foreign { description: "a squatter".into() };
            probe.listen(&ServerName::local(), first, owner);
        }
    });

    let report = p.deploy(&request("v1"), &with_events(sink)).await.unwrap();

    assert_eq!(report.port.get(), 3001, "the next free port");
    assert_eq!(routed_port(&fakes).await, Some(report.port));
    assert_eq!(env_record(&fakes).ports.get(&Service::App), Some(&report.port), "the SSOT holds the new port");
    assert!(env_record(&fakes).release_ports.is_empty(), "{:?}", env_record(&fakes));
}

/// The value of `key` in the environment of the container of release `tag`.
fn running_value(fakes: &FakeBackends, tag: &str, key: &str) -> String {
    let name = release_container(&project(), &Environment::Staging, &release(tag)).unwrap();
    let spec = fakes.runtime.container_spec(&name).unwrap();
    spec.env.iter().find(|v| v.key.as_str() == key).unwrap().value.expose().to_owned()
}

#[tokio::test]
async fn a_value_set_with_env_set_wins_over_the_project_file_and_the_plan_says_so_until_it_is_unset() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    let from_file = |tag: &str, value: &str| {
        let mut r = request(tag);
        r.env_vars = vec![var("GREETING", value, false)];
        r
    };
    p.deploy(&from_file("v1", "hello"), &DeployOptions::default()).await.unwrap();
    let greeting = EnvKey::parse("GREETING").unwrap();
    p.env_set(&project(), &Environment::Staging, &[var("GREETING", "hi", false)]).await.unwrap();

    let plan = p.plan(&from_file("v2", "hello")).await.unwrap();
    let kept = Change::KeepEnv { keys: vec![greeting.clone()] };
    assert!(plan.changes.iter().any(|c| c.change == kept), "the plan says the file's value is overridden: {plan}");
    assert!(!plan.changes.iter().any(|c| matches!(c.change, Change::SetEnv { .. })), "{plan}");
    p.deploy(&from_file("v2", "hello"), &DeployOptions::default()).await.unwrap();
    assert_eq!(running_value(&fakes, "v2", "GREETING"), "hi", "the value set with env set runs");

    p.env_unset(&project(), &Environment::Staging, std::slice::from_ref(&greeting), true).await.unwrap();
    p.deploy(&from_file("v3", "hello"), &DeployOptions::default()).await.unwrap();
    assert_eq!(running_value(&fakes, "v3", "GREETING"), "hello", "once unset, the file's value runs again");
    p.deploy(&from_file("v1", "bonjour"), &DeployOptions::default()).await.unwrap();
    assert_eq!(running_value(&fakes, "v4", "GREETING"), "bonjour", "a changed file value runs");
}

#[tokio::test]
async fn rollback_restores_the_earlier_image_and_env_vars() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    let mut first = request("v1");
    first.env_vars = vec![var("GREETING", "hello", false)];
    p.deploy(&first, &DeployOptions::default()).await.unwrap();
    let mut second = request("v2");
    second.env_vars = vec![var("GREETING", "bonjour", false)];
    p.deploy(&second, &DeployOptions::default()).await.unwrap();

    let revision = fakes.state.load().unwrap().revision;
    let plan = p.plan_rollback(&project(), &Environment::Staging, None).await.unwrap();
    assert_eq!((plan.from.as_str(), plan.to.as_str()), ("v2", "v1"));
    assert_eq!(fakes.state.load().unwrap().revision, revision, "planning a rollback writes nothing");
    let report = p.rollback(&project(), &Environment::Staging, None, &DeployOptions::default()).await.unwrap();
    assert_eq!(report.release, release("v1"));
    assert_eq!(report.image, image("v1"));
    assert_eq!(routed_port(&fakes).await, Some(report.port));
    let name = release_container(&project(), &Environment::Staging, &release("v1")).unwrap();
    let spec = fakes.runtime.container_spec(&name).unwrap();
    let greeting = spec.env.iter().find(|v| v.key.as_str() == "GREETING").unwrap();
    assert_eq!(greeting.value.expose(), "hello", "the rolled-back release runs with its own env vars");
    assert_eq!(spec.image, image("v1"));
    let env = env_record(&fakes);
    assert_eq!(env.current_release, Some(release("v1")));
    assert_eq!(env.release(&release("v2")).unwrap().status, ReleaseStatus::Retired);
    let current = fakes.secrets.list(&Scope::new(project(), Environment::Staging)).await.unwrap();
    assert_eq!(current.vars[0].value.expose(), "bonjour", "rollback does not rewrite the stored variables");

    let err = p
        .rollback(&project(), &Environment::Staging, Some(&release("v9")), &DeployOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = p
        .rollback(&project(), &Environment::Staging, Some(&release("v1")), &DeployOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "v1 already serves: {err}");
}

#[tokio::test]
async fn a_guarded_rollback_changes_nothing_without_force_and_runs_its_plan_with_it() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    deploy_ok(&p, "v1").await;
    let v2 = deploy_ok(&p, "v2").await;
    let revision = fakes.state.load().unwrap().revision;

    let refused = p.rollback_guarded(&project(), &Environment::Staging, None, false, &DeployOptions::default()).await;
    let refused = refused.unwrap();
    assert!(!refused.applied && refused.report.is_none(), "{refused:?}");
    assert_eq!((refused.plan.from.as_str(), refused.plan.to.as_str()), ("v2", "v1"));
    assert_eq!(fakes.state.load().unwrap().revision, revision, "nothing changed without force");
    assert_eq!(routed_port(&fakes).await, Some(v2.port));

    let done = p.rollback_guarded(&project(), &Environment::Staging, None, true, &DeployOptions::default()).await;
    let done = done.unwrap();
    let report = done.report.as_ref().expect("a report once it ran");
    assert!(done.applied);
    assert_eq!((report.release.as_str(), report.previous.as_ref().map(|r| r.as_str())), ("v1", Some("v2")));
    assert_eq!(done.plan.changes, refused.plan.changes, "what ran is what was shown");
    assert_eq!(routed_port(&fakes).await, Some(report.port));
}

#[tokio::test]
async fn rollback_refuses_a_release_whose_tag_now_names_other_content() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    deploy_ok(&p, "v1").await;
    let v2 = deploy_ok(&p, "v2").await;
    fakes.runtime.move_tag(&image("v1")).unwrap();

    let err = p.rollback(&project(), &Environment::Staging, None, &DeployOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert_eq!(err.context_value("step"), Some("image"), "{err}");
    assert!(err.to_string().contains("the tag was moved"), "{err}");
    assert_eq!(routed_port(&fakes).await, Some(v2.port), "v2 keeps serving");
    let env = env_record(&fakes);
    assert_eq!(env.current_release, Some(release("v2")));
    assert_eq!(env.release(&release("v1")).unwrap().status, ReleaseStatus::Retired, "v1 is kept as it was");
    let v1 = release_container(&project(), &Environment::Staging, &release("v1")).unwrap();
    let state = fakes.runtime.inspect_container(&v1).await.unwrap().state;
    assert_ne!(state, ContainerState::Running, "nothing of v1 was started");
}

#[tokio::test]
async fn two_deploys_of_one_environment_never_interleave_but_two_environments_both_run() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    let slow = fakes.clone();
    slow.runtime.faults().add_latency("start_container", Duration::from_millis(50));
    let (r1, r2, none) = (request("v1"), request("v2"), DeployOptions::default());
    let (a, b) = tokio::join!(p.deploy(&r1, &none), p.deploy(&r2, &none));
    let results = [a, b];
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "exactly one deploy runs");
    let locked = results.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert_eq!(locked.kind(), ErrorKind::Locked);
    assert!(locked.to_string().contains("tester (test)@localhost"), "the error names the holder: {locked}");
    assert!(locked.message().contains(": deploy shop/staging;"), "and what it is doing, by default: {locked}");
    assert!(locked.message().ends_with("; its lease runs 60 more s unless renewed"), "and its lease: {locked}");

    let mut production = request("v1");
    production.env = Environment::Production;
    production.domains = vec![DomainName::parse("shop-prod.codeb.test").unwrap()];
    let r3 = request("v3");
    let (a, b) = tokio::join!(p.deploy(&r3, &none), p.deploy(&production, &none));
    a.unwrap();
    b.unwrap();
}

#[tokio::test]
async fn a_deploy_told_to_wait_runs_after_the_holder_finishes() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    fakes.runtime.faults().add_latency("start_container", Duration::from_millis(100));
    let waiting = DeployOptions { wait_for_lock: Some(Duration::from_secs(5)), ..DeployOptions::default() };
    let (r1, r2, none) = (request("v1"), request("v2"), DeployOptions::default());
    let (a, b) = tokio::join!(p.deploy(&r1, &none), async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        p.deploy(&r2, &waiting).await
    });
    a.unwrap();
    assert_eq!(b.unwrap().previous, Some(release("v1")));
}

#[tokio::test]
async fn a_plan_changes_nothing_and_is_refused_once_the_ssot_moved() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    deploy_ok(&p, "v1").await;
    let revision = fakes.state.load().unwrap().revision;
    let changes = fakes.proxy.changes();
    let plan = p.plan(&request("v2")).await.unwrap();
    assert_eq!(plan.release, release("v2"));
    assert_eq!(plan.previous, Some(release("v1")));
    let json = serde_json::to_value(&plan).unwrap();
    let kinds: Vec<&str> = json["changes"].as_array().unwrap().iter().map(|c| c["change"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "allocate_port",
            "ensure_image",
            "start_release",
            "health_check",
            "switch_route",
            "upsert_record",
            "record_release",
            "stop_release"
        ]
    );
    assert_eq!(fakes.state.load().unwrap().revision, revision, "planning writes nothing");
    assert_eq!(fakes.proxy.changes(), changes);
    assert_eq!(state_of(&fakes, "v2").await, None);

    let stale = plan.clone();
    p.apply(&plan, &DeployOptions::default()).await.unwrap();
    let err = p.apply(&stale, &DeployOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
}

#[tokio::test]
async fn the_app_starts_only_once_its_database_and_cache_answer() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    let r = with_accessories("v1", &fakes, &p);
    fakes.runtime.faults().fail_next("exec", 1, ErrorKind::Unavailable);

    let err = p.deploy(&r, &DeployOptions::default()).await.unwrap_err();
    assert_eq!(err.context_value("step"), Some("accessories"), "{err}");
    assert_eq!(state_of(&fakes, "v1").await, None, "no release starts while a readiness probe fails");

    deploy_ok_with(&p, &r).await;
    let postgres = accessory_container(&project(), &Environment::Staging, Service::Postgres).unwrap();
    let probe = fakes.runtime.execs(&postgres).pop().expect("PostgreSQL was probed");
    assert_eq!(probe.argv[..4], ["pg_isready", "-q", "-h", "127.0.0.1"], "over TCP, as the app connects");
    let redis = accessory_container(&project(), &Environment::Staging, Service::Redis).unwrap();
    let probe = fakes.runtime.execs(&redis).pop().expect("Redis was probed");
    assert_eq!(probe.argv.last().map(String::as_str), Some("ping"));
    assert!(probe.env.iter().all(|v| v.secret), "the password reaches redis-cli as a secret");
}

#[tokio::test]
async fn an_accessorys_password_reaches_its_container_only_as_a_secret_file() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    let r = with_accessories("v1", &fakes, &p);
    deploy_ok_with(&p, &r).await;
    for (service, key) in [(Service::Postgres, "POSTGRES_PASSWORD"), (Service::Redis, "REDIS_PASSWORD")] {
        let password = p.env_get(&project(), &Environment::Staging, &EnvKey::parse(key).unwrap()).await.unwrap();
        let container = accessory_container(&project(), &Environment::Staging, service).unwrap();
        let spec = fakes.runtime.container_spec(&container).unwrap();
        let shown = format!("{:?} {:?}", spec.env.iter().map(|v| v.value.expose()).collect::<Vec<_>>(), spec.command);
        assert!(!shown.contains(password.value.expose()), "{service}: its env and command hold no password: {shown}");
        assert!(
            spec.secret_files.iter().any(|f| f.value.expose().contains(password.value.expose())),
            "{service}: its password is in a secret file"
        );
    }
}

#[tokio::test]
async fn the_apps_container_gets_every_secret_of_its_environment_marked_secret_and_plain_values_plain() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    p.env_set(&project(), &Environment::Staging, &[var("API_TOKEN", "t0ken", true)]).await.unwrap();
    let r = with_accessories("v1", &fakes, &p);
    let report = deploy_ok_with(&p, &r).await;
    let app = release_container(&project(), &Environment::Staging, &report.release).unwrap();
    let spec = fakes.runtime.container_spec(&app).unwrap();
    let marked = |key: &str| spec.env.iter().find(|v| v.key.as_str() == key).map(|v| v.secret);
    // The runtime keeps a variable marked secret out of what inspecting the container shows.
    for key in ["API_TOKEN", "DATABASE_URL", "REDIS_URL", "POSTGRES_PASSWORD", "REDIS_PASSWORD"] {
        assert_eq!(marked(key), Some(true), "{key} reaches the app as a secret");
    }
    assert_eq!(marked("GREETING"), Some(false), "a plain value stays plain");
}

/// A platform on `fakes` with v1 deployed beside PostgreSQL, and PostgreSQL's container.
async fn deployed_with_postgres(fakes: &FakeBackends) -> (Platform, ContainerName) {
    let p = platform(fakes, settings());
    let mut r = with_accessories("v1", fakes, &p);
    r.accessories.redis = false;
    deploy_ok_with(&p, &r).await;
    (p, accessory_container(&project(), &Environment::Staging, Service::Postgres).unwrap())
}

#[tokio::test]
async fn a_dead_database_makes_the_environment_unhealthy_and_is_drift() {
    let fakes = fakes();
    let (p, postgres) = deployed_with_postgres(&fakes).await;
    assert!(p.health_check(&project(), &Environment::Staging).await.unwrap().verdict.healthy);
    assert!(p.drift().await.unwrap().items.is_empty());

    fakes.runtime.crash(&postgres, 2).unwrap();

    let health = p.health_check(&project(), &Environment::Staging).await.unwrap();
    assert!(!health.verdict.healthy, "{health:?}");
    assert!(health.verdict.evidence.contains("exited with code 2"), "{health:?}");
    assert!(!health.accessories[0].healthy);
    let drift = p.drift().await.unwrap();
    assert!(
        drift
            .items
            .iter()
            .any(|i| matches!(i, DriftItem::AccessoryNotRunning { container, .. } if *container == postgres)),
        "{drift}"
    );
}

#[tokio::test]
async fn a_database_that_runs_but_does_not_answer_is_unhealthy() {
    let fakes = fakes();
    let (p, postgres) = deployed_with_postgres(&fakes).await;
    fakes.runtime.set_exec_code(&postgres, 2);

    let health = p.health_check(&project(), &Environment::Staging).await.unwrap();
    assert!(!health.verdict.healthy, "{health:?}");
    assert!(health.verdict.evidence.contains("does not answer"), "{health:?}");
}

#[tokio::test]
async fn accessories_get_protected_data_ports_and_injected_urls() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    let r = with_accessories("v1", &fakes, &p);
    deploy_ok_with(&p, &r).await;
    let env = env_record(&fakes);
    assert_eq!(env.ports.get(&Service::Postgres).map(|p| p.get()), Some(15432));
    assert_eq!(env.ports.get(&Service::Redis).map(|p| p.get()), Some(16379));
    let volumes = fakes.runtime.list_volumes(&Default::default()).await.unwrap();
    assert!(volumes.iter().any(|v| v.name.as_str() == "codeb-shop-staging-postgres-data" && v.is_protected()));
    assert!(volumes.iter().any(|v| v.name.as_str() == "codeb-shop-staging-redis-data" && v.is_protected()));
    let app = fakes
        .runtime
        .container_spec(&release_container(&project(), &Environment::Staging, &release("v1")).unwrap())
        .unwrap();
    let url = app.env.iter().find(|v| v.key.as_str() == "DATABASE_URL").unwrap();
    assert!(url.secret && url.value.expose().starts_with("postgres://postgres:"));
    let redis = app.env.iter().find(|v| v.key.as_str() == "REDIS_URL").unwrap();
    assert!(redis.secret && redis.value.expose().starts_with("redis://:"), "Redis has a password");
    assert!(app.network.is_some(), "the app joins its accessories' network");

    let mut preview = request("v1");
    preview.env = Environment::preview("pr1").unwrap();
    preview.domains.clear();
    preview.accessories.postgres = true;
    let before = fakes.state.load().unwrap().revision;
    let err = p.deploy(&preview, &DeployOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    let after = fakes.state.load().unwrap();
    assert!(after.environment(&project(), &preview.env).is_none_or(|e| e.releases.is_empty()), "no release recorded");
    assert!(after.revision - before <= 2, "only the lock was taken and released");
}

async fn deploy_ok_with(p: &Platform, r: &DeployRequest) -> DeployReport {
    p.deploy(r, &DeployOptions::default()).await.unwrap_or_else(|e| panic!("deploy: {e}"))
}

#[tokio::test]
async fn only_the_last_releases_are_kept() {
    let fakes = fakes();
    let mut s = settings();
    s.keep_releases = 2;
    let p = platform(&fakes, s);
    for tag in ["v1", "v2", "v3"] {
        deploy_ok(&p, tag).await;
    }
    let ids: Vec<String> = env_record(&fakes).releases.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(ids, ["v2", "v3"]);
    assert_eq!(state_of(&fakes, "v1").await, None, "a pruned release's container is removed");
    assert!(matches!(state_of(&fakes, "v2").await, Some(ContainerState::Exited { .. })), "a kept one stays stopped");
}

#[tokio::test]
async fn events_report_each_step_in_order() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    deploy_ok(&p, "v1").await;
    let (sink, seen) = recorder(|_| {});
    p.deploy(&request("v2"), &with_events(sink)).await.unwrap();
    let started = steps_started(&seen);
    assert_eq!(
        started,
        [
            Step::Lock,
            Step::AllocatePorts,
            Step::Image,
            Step::StartRelease,
            Step::HealthCheck,
            Step::SwitchRoute,
            Step::Dns,
            Step::Record,
            Step::StopPrevious,
        ]
    );
    assert!(seen.lock().unwrap().iter().any(|e| matches!(e, DeployEvent::HealthProbe { healthy: true, .. })));
    let finished = seen.lock().unwrap().iter().filter(|e| matches!(e, DeployEvent::StepFinished { .. })).count();
    assert_eq!(finished, started.len(), "each step starts once and finishes once");
}

/// Makes the deploy crash (panic, as a killed process stops mid-flight) when `step` starts.
async fn crash_during(p: &Platform, fakes: &FakeBackends, step: Step) -> Result<(), Error> {
    let (sink, _) = recorder(move |e| {
        if *e == (DeployEvent::StepStarted { step }) {
            panic!("simulated crash at {step}");
        }
    });
    let p2 = p.clone();
    let outcome = tokio::spawn(async move { p2.deploy(&request("v2"), &with_events(sink)).await }).await;
    assert!(outcome.is_err_and(|e| e.is_panic()), "the deploy must have crashed at {step}");
    fakes.liveness.kill(FAKE_PID);
    Ok(())
}

#[tokio::test]
async fn an_interrupted_deploy_is_reported_stale_and_recover_restores_one_live_release() {
    let steps = [
        Step::AllocatePorts,
        Step::Image,
        Step::StartRelease,
        Step::HealthCheck,
        Step::SwitchRoute,
        Step::Dns,
        Step::Record,
        Step::StopPrevious,
    ];
    for step in steps {
        let fakes = fakes();
        let p = platform(&fakes, settings());
        let v1 = deploy_ok(&p, "v1").await;
        crash_during(&p, &fakes, step).await.unwrap();

        let status = p.lock_status(&project(), &Environment::Staging).await.unwrap().unwrap();
        assert!(status.stale && status.to_string().contains("holder process is gone"), "{step}: {status}");

        let mut fresh = settings();
        fresh.identity.pid = FAKE_PID + 1;
        let p = platform(&fakes, fresh);
        let report = p.recover(&project(), &Environment::Staging, false, &DeployOptions::default()).await.unwrap();
        assert!(report.released_lock.is_some(), "{step}");
        // A crash once the switch is recorded leaves v2 serving; before that, v1 serves on.
        let (serving, gone) = if step == Step::StopPrevious { ("v2", "v1") } else { ("v1", "v2") };
        let cleaned = if step == Step::StopPrevious { vec![] } else { vec![release("v2")] };
        assert_eq!(report.cleaned, cleaned, "{step}");

        let env = env_record(&fakes);
        let live: Vec<_> =
            env.releases.iter().filter(|r| r.status == ReleaseStatus::Live).map(|r| r.id.clone()).collect();
        assert_eq!(live, vec![release(serving)], "{step}: exactly one live release");
        assert_eq!(env.current_release, Some(release(serving)), "{step}");
        assert!(env.release_ports.is_empty() && env.lock.is_none(), "{step}");
        let serving_port = if serving == "v1" { v1.port } else { env.ports[&Service::App] };
        assert_eq!(routed_port(&fakes).await, Some(serving_port), "{step}: the route points at {serving}");
        assert_eq!(state_of(&fakes, serving).await, Some(ContainerState::Running), "{step}: {serving} runs");
        assert_ne!(state_of(&fakes, gone).await, Some(ContainerState::Running), "{step}: {gone} does not run");

        let v3 = p.deploy(&request("v3"), &DeployOptions::default()).await.unwrap();
        assert_eq!(routed_port(&fakes).await, Some(v3.port), "{step}: the next deploy works");
    }
}

#[tokio::test]
async fn recovering_an_environment_the_ssot_does_not_know_is_not_found_and_records_nothing() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    let ghost = ProjectName::parse("ghost").unwrap();
    let error = p.recover(&ghost, &Environment::Staging, false, &DeployOptions::default()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
    assert!(p.project_list().await.unwrap().is_empty(), "no empty project was recorded");
}

#[tokio::test]
async fn a_live_lock_is_not_released_without_force() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    deploy_ok(&p, "v1").await;
    crash_during(&p, &fakes, Step::HealthCheck).await.unwrap();
    // Another host holds it: never stale from here.
    let mut elsewhere = settings();
    elsewhere.identity = Identity { user: "ci".into(), front_end: "test".into(), host: "other-host".into(), pid: 1 };
    let other = platform(&fakes, elsewhere);
    let err = other.lock_release(&project(), &Environment::Staging, false).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert!(other.lock_release(&project(), &Environment::Staging, true).await.unwrap().is_some());
    assert!(other.lock_status(&project(), &Environment::Staging).await.unwrap().is_none());
}

#[tokio::test]
async fn upstreams_use_the_configured_addresses() {
    let fakes = fakes();
    let addresses = HostAddresses { upstream: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)), ..HostAddresses::loopback() };
    let p = Platform::new(fakes.backends_on(Fleet::single(fakes.host_at(addresses))), settings());
    let report = deploy_ok(&p, "v1").await;
    let route = fakes.proxy.get_route(&domain()).await.unwrap().unwrap();
    let upstream = Upstream { host: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)), port: report.port };
    assert_eq!(route.upstreams, Upstreams::Fixed(vec![upstream]));
}

#[tokio::test]
async fn a_deploy_with_a_build_builds_the_image_instead_of_pulling_it() {
    let fakes = FakeBackends::new();
    let p = platform(&fakes, settings());
    let context = tempfile::tempdir().unwrap();
    std::fs::write(context.path().join("Containerfile"), "FROM scratch\n").unwrap();
    let mut r = request("built");
    r.build = Some(codeb::runtime::BuildSpec {
        context: context.path().to_owned(),
        containerfile: None,
        generated: None,
        tag: image("built"),
        labels: Default::default(),
    });
    let report = p.deploy(&r, &DeployOptions::default()).await.unwrap();
    assert_eq!(report.image, image("built"));
    assert_eq!(fakes.runtime.faults().calls("build_image"), 1);
    assert_eq!(fakes.runtime.faults().calls("ensure_image"), 0, "nothing is pulled: the image is not in any registry");
}

#[tokio::test]
async fn the_memory_platform_deploys_any_image_at_once() {
    let p = Platform::memory();
    let mut r = request("whatever");
    r.health = HealthCheck::default();
    let report = p.deploy(&r, &DeployOptions::default()).await.unwrap();
    assert_eq!(report.release, release("v1"));
    let second = p.deploy(&request("other"), &DeployOptions::default()).await.unwrap();
    assert_eq!(second.previous, Some(release("v1")));
}

// The plan is the program: what a plan shows is what runs, a failure runs a
// prefix of it and undoes that prefix in reverse, and SSOT writes are grouped.

/// The changes applied and undone, from the events.
fn applied_and_undone(seen: &Mutex<Vec<DeployEvent>>) -> (Vec<PlannedChange>, Vec<PlannedChange>) {
    let (mut applied, mut undone) = (Vec::new(), Vec::new());
    for event in seen.lock().unwrap().iter() {
        match event {
            DeployEvent::ChangeApplied { change } => applied.push(change.clone()),
            DeployEvent::ChangeUndone { change } => undone.push(change.clone()),
            _ => {}
        }
    }
    (applied, undone)
}

/// Whether undoing a change does anything (the others cannot be or need not be undone).
fn undoable(change: &Change) -> bool {
    matches!(
        change,
        Change::AllocatePort { .. }
            | Change::StartAccessory { .. }
            | Change::StartRelease { .. }
            | Change::CreateRoute { .. }
            | Change::SwitchRoute { .. }
            | Change::PointUpstream { .. }
            | Change::DeleteUpstream { .. }
            | Change::UpsertRecord { .. }
            | Change::AddDomain { .. }
    )
}

fn with_accessories(tag: &str, fakes: &FakeBackends, p: &Platform) -> DeployRequest {
    for image in [&p.settings().postgres_image, &p.settings().redis_image] {
        fakes.runtime.add_registry_image(image);
    }
    let mut r = request(tag);
    r.accessories.postgres = true;
    r.accessories.redis = true;
    r.env_vars = vec![var("GREETING", "hi", false)];
    r
}

#[tokio::test]
async fn a_deploy_runs_exactly_the_changes_its_plan_shows() {
    let fakes = fakes();
    let mut s = settings();
    s.watch_window = Duration::from_millis(20);
    let p = platform(&fakes, s);
    let first = with_accessories("v1", &fakes, &p);
    for r in [first.clone(), request("v2")] {
        let plan = p.plan(&r).await.unwrap();
        let (sink, seen) = recorder(|_| {});
        p.apply(&plan, &with_events(sink)).await.unwrap();
        let (applied, undone) = applied_and_undone(&seen);
        assert_eq!(applied, plan.changes, "{}: the changes run are the plan's", plan.release);
        assert!(undone.is_empty());
        assert!(applied.iter().all(|c| c.server == ServerName::local()), "one host: every change is on it");
    }
}

#[tokio::test]
async fn a_failed_deploy_runs_a_prefix_of_its_plan_then_undoes_it_in_reverse() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    deploy_ok(&p, "v1").await;
    let plan = p.plan(&with_accessories("v2", &fakes, &p)).await.unwrap();
    fakes.dns.faults().fail_next("upsert_records", 1, ErrorKind::Unavailable);
    let (sink, seen) = recorder(|_| {});
    let err = p.apply(&plan, &with_events(sink)).await.unwrap_err();
    assert_eq!(err.context_value("step"), Some("dns"), "{err}");
    let (applied, undone) = applied_and_undone(&seen);
    let failed_at = plan.changes.iter().position(|c| matches!(c.change, Change::UpsertRecord { .. })).unwrap();
    assert_eq!(applied, plan.changes[..failed_at], "the changes before the failed one ran, in order");
    let expected: Vec<PlannedChange> = applied.iter().rev().filter(|c| undoable(&c.change)).cloned().collect();
    assert_eq!(undone, expected, "and are undone in reverse");
    assert!(undone.iter().any(|c| matches!(c.change, Change::SwitchRoute { .. })));
    assert_eq!(state_of(&fakes, "v1").await, Some(ContainerState::Running));
    assert_eq!(state_of(&fakes, "v2").await, None);
}

#[tokio::test]
async fn a_rollback_runs_its_plan_dns_record_included() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    deploy_ok(&p, "v1").await;
    deploy_ok(&p, "v2").await;
    let zone = DomainName::parse("codeb.test").unwrap();
    fakes.dns.delete_records(&zone, &[(domain(), codeb::dns::RecordType::A)]).await.unwrap();
    let plan = p.plan_rollback(&project(), &Environment::Staging, None).await.unwrap();
    assert!(plan.changes.iter().any(|c| matches!(c.change, Change::UpsertRecord { .. })), "{:?}", plan.changes);
    let (sink, seen) = recorder(|_| {});
    p.apply_rollback(&plan, &with_events(sink)).await.unwrap();
    assert_eq!(applied_and_undone(&seen).0, plan.changes);
    let records = fakes.dns.list_records(&zone).await.unwrap();
    assert!(records.iter().any(|r| r.name == domain()), "the rollback made the record its plan showed");
}

#[tokio::test]
async fn domain_setup_and_removal_run_their_plans_and_a_failed_setup_leaves_nothing() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    deploy_ok(&p, "v1").await;
    let extra = DomainName::parse("www.codeb.test").unwrap();
    let planned = p.plan_domain_setup(&project(), &Environment::Staging, &extra, false).await.unwrap();
    let (sink, seen) = recorder(|_| {});
    p.domain_setup(&project(), &Environment::Staging, &extra, false, false, &with_events(sink)).await.unwrap();
    assert_eq!(applied_and_undone(&seen).0, planned);

    let none = DeployOptions::default();
    let planned = p.domain_remove(&project(), &Environment::Staging, &extra, false, &none).await.unwrap().changes;
    let (sink, seen) = recorder(|_| {});
    p.domain_remove(&project(), &Environment::Staging, &extra, true, &with_events(sink)).await.unwrap();
    assert_eq!(applied_and_undone(&seen).0, planned);

    fakes.dns.faults().fail_next("upsert_records", 1, ErrorKind::Unavailable);
    let err = p.domain_setup(&project(), &Environment::Staging, &extra, false, false, &DeployOptions::default()).await;
    assert_eq!(err.unwrap_err().kind(), ErrorKind::Unavailable);
    assert!(fakes.proxy.get_route(&extra).await.unwrap().is_none(), "the route is undone");
    assert!(!env_record(&fakes).domains.contains(&extra), "the SSOT entry is undone");
    assert!(env_record(&fakes).lock.is_none());
}

/// Deploys v1 to production, routed at shop-prod.codeb.test.
async fn deploy_production(p: &Platform) -> (DeployRequest, DeployReport) {
    let mut production = request("v1");
    production.env = Environment::Production;
    production.domains = vec![DomainName::parse("shop-prod.codeb.test").unwrap()];
    let report = deploy_ok_with(p, &production).await;
    (production, report)
}

#[tokio::test]
async fn project_delete_runs_its_plan_and_takes_every_environments_lock() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    deploy_ok(&p, "v1").await;
    deploy_production(&p).await;

    // A deploy holds production's lock: the delete is refused and changes nothing.
    fakes.runtime.faults().add_latency("start_container", Duration::from_millis(200));
    let p2 = p.clone();
    let holder = tokio::spawn(async move {
        let mut r = request("v2");
        r.env = Environment::Production;
        r.domains = vec![DomainName::parse("shop-prod.codeb.test").unwrap()];
        p2.deploy(&r, &DeployOptions::default()).await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = p.project_delete(&project(), true, &DeployOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Locked, "{err}");
    holder.await.unwrap().unwrap();
    fakes.runtime.faults().clear();
    assert!(fakes.state.load().unwrap().projects.contains_key(&project()));

    let planned = p.plan_project_delete(&project()).await.unwrap();
    let (sink, seen) = recorder(|_| {});
    p.project_delete(&project(), true, &with_events(sink)).await.unwrap();
    assert_eq!(applied_and_undone(&seen).0, planned);
    assert!(!fakes.state.load().unwrap().projects.contains_key(&project()));
}

#[tokio::test]
async fn a_deploy_commits_the_ssot_at_most_three_times() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    let commits = || fakes.state.faults().calls("update");
    let cases = [("first, with PostgreSQL and Redis", with_accessories("v1", &fakes, &p)), ("second", request("v2"))];
    for (name, r) in cases {
        let before = commits();
        p.deploy(&r, &DeployOptions::default()).await.unwrap();
        let made = commits() - before;
        assert!(made <= 3, "{name}: {made} SSOT commits");
    }
    let before = commits();
    fakes.runtime.faults().fail_next("start_container", 1, ErrorKind::Unavailable);
    p.deploy(&request("v3"), &DeployOptions::default()).await.unwrap_err();
    assert!(commits() - before <= 2, "a failed deploy: the lock, then the failure with the unlock");
}

#[tokio::test]
async fn a_saved_plan_round_trips_through_json_and_applies_from_another_platform() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    deploy_ok(&p, "v1").await;
    let mut r = request("v2");
    r.env_vars = vec![var("GREETING", "saved", false)];
    let text = p.plan(&r).await.unwrap().to_json().unwrap();
    let plan = codeb::engine::Plan::from_json(&text).unwrap();
    assert_eq!(plan.request.env_vars, r.env_vars, "the request travels with the plan");
    let mut other = settings();
    other.identity.pid = FAKE_PID + 7;
    let report = platform(&fakes, other).apply(&plan, &DeployOptions::default()).await.unwrap();
    assert_eq!(report.release, release("v2"));
    let scope = Scope::new(project(), Environment::Staging);
    let greeting = fakes.secrets.get(&scope, &EnvKey::parse("GREETING").unwrap()).await.unwrap().unwrap();
    assert_eq!(greeting.value.expose(), "saved");

    r.env_vars = vec![var("API_TOKEN", "do-not-save-4711", true)];
    let err = p.plan(&r).await.unwrap().to_json().unwrap_err();
    assert!(err.to_string().contains("API_TOKEN") && !err.to_string().contains("do-not-save-4711"), "{err}");
    assert!(codeb::engine::Plan::from_json("{\"project\": \"shop\"}").is_err());
}

/// A fleet of two servers on the fakes: `app1` runs releases, `edge` holds the proxy, DNS and the SSOT.
fn two_servers(fakes: &FakeBackends) -> Platform {
    let mut app = fakes.host();
    app.name = ServerName::parse("app1").unwrap();
    app.roles = [Role::App].into();
    let mut edge = fakes.host();
    edge.name = ServerName::parse("edge").unwrap();
    edge.roles = [Role::Proxy, Role::Dns, Role::Control].into();
    Platform::new(fakes.backends_on(Fleet::new([app, edge]).unwrap()), settings())
}

#[tokio::test]
async fn deleting_a_project_and_drift_ask_only_the_app_servers_for_containers_volumes_and_images() {
    let fakes = fakes();
    let mut app = fakes.host();
    app.name = ServerName::parse("app1").unwrap();
    app.roles = [Role::App, Role::Proxy, Role::Dns, Role::Control].into();
    // A backup server runs no Podman: any call to its runtime fails.
    let backup_fakes = FakeBackends::new();
    let mut backup = backup_fakes.host();
    backup.name = ServerName::parse("backup").unwrap();
    backup.roles = [Role::Backup].into();
    for op in ["list_containers", "list_volumes", "list_images"] {
        backup_fakes.runtime.faults().fail_next(op, 100, ErrorKind::Unavailable);
    }
    let p = Platform::new(fakes.backends_on(Fleet::new([app, backup]).unwrap()), settings());
    deploy_ok(&p, "v1").await;
    assert!(p.drift().await.unwrap().items.is_empty());
    let removed = p.project_delete(&project(), true, &DeployOptions::default()).await.unwrap();
    assert!(removed.applied);
    for op in ["list_containers", "list_volumes", "list_images"] {
        assert_eq!(backup_fakes.runtime.faults().calls(op), 0, "the backup server is never asked: {op}");
    }
}

#[tokio::test]
async fn a_plan_says_so_when_the_server_it_would_act_on_does_not_answer() {
    let fakes = fakes();
    let p = two_servers(&fakes);
    fakes.runtime.faults().fail_next("ping", 1, ErrorKind::Unavailable);
    let err = p.plan(&request("v1")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert_eq!(err.context_value("server"), Some("app1"), "it names the server: {err}");
    assert!(err.message().contains("app1"), "{err}");
    assert_eq!(fakes.runtime.faults().calls("ping"), 1);
    p.plan(&request("v1")).await.unwrap();
}

#[tokio::test]
async fn an_environment_is_placed_on_an_app_server_and_each_change_names_its_server() {
    let fakes = fakes();
    let p = two_servers(&fakes);
    let plan = p.plan(&request("v1")).await.unwrap();
    assert_eq!(plan.server, ServerName::parse("app1").unwrap());
    let on = |c: &PlannedChange| c.server.to_string();
    for change in &plan.changes {
        let expected = match change.change {
            Change::StartRelease { .. } | Change::EnsureImage { .. } | Change::HealthCheck { .. } => "app1",
            Change::CreateRoute { .. } | Change::UpsertRecord { .. } | Change::AllocatePort { .. } => "edge",
            Change::RecordRelease { .. } => "edge",
            ref other => panic!("a first deploy has no {other:?}"),
        };
        assert_eq!(on(change), expected, "{change:?}");
    }
    p.apply(&plan, &DeployOptions::default()).await.unwrap();
    assert_eq!(env_record(&fakes).server, Some(ServerName::parse("app1").unwrap()), "the placement is recorded");
    let servers = fakes.state.load().unwrap().servers;
    let app1 = &servers[&ServerName::parse("app1").unwrap()];
    assert_eq!(app1.roles, [Role::App], "and so is the server it names");

    let mut elsewhere = request("v2");
    elsewhere.server = Some(ServerName::parse("edge").unwrap());
    let err = p.plan(&elsewhere).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "an environment never moves silently: {err}");
}

#[tokio::test]
async fn container_releases_start_where_the_proxy_reaches_them_and_stop_and_go_idempotently() {
    use codeb::releases::{ContainerReleases, ReleaseDriver, ReleaseRef, ReleaseSpec, ReleaseState};
    let fakes = fakes();
    let upstream = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7));
    let driver = ContainerReleases::new(fakes.runtime.clone(), IpAddr::V4(Ipv4Addr::UNSPECIFIED), upstream);
    fakes.runtime.ensure_image(&image("v1")).await.unwrap();
    let release = ReleaseRef { project: project(), env: Environment::Staging, release: release("v1") };
    let spec = ReleaseSpec {
        release: release.clone(),
        image: image("v1"),
        command: None,
        env: vec![var("GREETING", "hi", false)],
        container_port: Port::new(8080).unwrap(),
        host_port: Port::new(3007).unwrap(),
        network: None,
        resources: Default::default(),
    };
    let endpoint = driver.start(&spec).await.unwrap();
    assert_eq!((endpoint.host, endpoint.port.get()), (upstream, 3007), "the endpoint is where the proxy reaches it");
    assert_eq!(driver.state(&release).await.unwrap(), ReleaseState::Running);
    driver.start(&spec).await.unwrap();
    assert_eq!(driver.state(&release).await.unwrap(), ReleaseState::Running, "starting again replaces what was left");
    driver.stop(&release, StopOptions { grace: Duration::ZERO }).await.unwrap();
    assert_eq!(driver.state(&release).await.unwrap(), ReleaseState::Stopped);
    assert_eq!(driver.resume(&release, spec.host_port).await.unwrap(), endpoint);
    driver.remove(&release).await.unwrap();
    assert_eq!(driver.state(&release).await.unwrap(), ReleaseState::Gone);
    driver.remove(&release).await.unwrap();
    driver.stop(&release, StopOptions { grace: Duration::ZERO }).await.unwrap();
}

#[tokio::test]
async fn an_edited_saved_plan_is_refused_and_changes_nothing() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    deploy_ok(&p, "v1").await;
    let mut other = request("v1");
    other.project = ProjectName::parse("bank").unwrap();
    other.domains = vec![DomainName::parse("bank.codeb.test").unwrap()];
    deploy_ok_with(&p, &other).await;
    let before = fakes.state.load().unwrap();

    let mut plan = p.plan(&request("v2")).await.unwrap();
    let control = plan.changes[0].server.clone();
    let forget = Change::ForgetProject { project: other.project.clone() };
    plan.changes.push(PlannedChange { server: control, change: forget });
    let text = plan.to_json().unwrap();
    let err = p.apply(&codeb::engine::Plan::from_json(&text).unwrap(), &DeployOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert_eq!(fakes.state.load().unwrap(), before, "nothing was changed, the other project least of all");

    deploy_ok(&p, "v2").await;
    let planned = p.plan_rollback(&project(), &Environment::Staging, None).await.unwrap();
    let mut edited = planned.clone();
    edited.changes.retain(|c| !matches!(c.change, Change::HealthCheck { .. }));
    let err = p.apply_rollback(&edited, &DeployOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "a rollback without its health gate is not what was planned: {err}");
    assert_eq!(p.apply_rollback(&planned, &DeployOptions::default()).await.unwrap().release, release("v1"));
}

#[tokio::test]
async fn a_serving_release_removed_out_of_band_is_recreated_by_recover_and_does_not_wedge_the_next_deploy() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    deploy_ok(&p, "v1").await;
    let v1 = release_container(&project(), &Environment::Staging, &release("v1")).unwrap();
    fakes.runtime.remove_container(&v1, codeb::runtime::RemoveContainerOptions::FORCE).await.unwrap();

    let report = p.recover(&project(), &Environment::Staging, false, &DeployOptions::default()).await.unwrap();

    assert!(report.restarted_current, "{report:?}");
    assert_eq!(state_of(&fakes, "v1").await, Some(ContainerState::Running), "v1 runs again");
    assert_eq!(routed_port(&fakes).await, Some(env_record(&fakes).ports[&Service::App]));
    fakes.runtime.remove_container(&v1, codeb::runtime::RemoveContainerOptions::FORCE).await.unwrap();
    let v2 = p.deploy(&request("v2"), &DeployOptions::default()).await.unwrap();
    assert_eq!(routed_port(&fakes).await, Some(v2.port), "a previous release already gone counts as stopped");
    assert_eq!(state_of(&fakes, "v2").await, Some(ContainerState::Running));
}

#[tokio::test]
async fn recover_restores_a_route_and_a_record_that_are_gone() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    let v1 = deploy_ok(&p, "v1").await;
    let zone = DomainName::parse("codeb.test").unwrap();
    fakes.proxy.remove_route(&domain()).await.unwrap();
    fakes.dns.delete_records(&zone, &[(domain(), codeb::dns::RecordType::A)]).await.unwrap();

    let report = p.recover(&project(), &Environment::Staging, false, &DeployOptions::default()).await.unwrap();

    assert_eq!((report.repaired_routes.clone(), report.repaired_records.clone()), (vec![domain()], vec![domain()]));
    assert_eq!(routed_port(&fakes).await, Some(v1.port), "the route is back");
    assert!(fakes.dns.list_records(&zone).await.unwrap().iter().any(|r| r.name == domain()), "the record is back");
    let again = p.recover(&project(), &Environment::Staging, false, &DeployOptions::default()).await.unwrap();
    assert!(again.repaired_routes.is_empty() && again.repaired_records.is_empty(), "nothing left to repair");
}

#[tokio::test]
async fn reconcile_restores_what_the_ssot_says_should_exist_across_the_platform() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    deploy_ok(&p, "v1").await;
    let (production, prod) = deploy_production(&p).await;
    for route in fakes.proxy.list_routes().await.unwrap() {
        fakes.proxy.remove_route(&route.host).await.unwrap();
    }

    let report = p.reconcile(&DeployOptions::default()).await.unwrap();

    assert_eq!(report.environments.len(), 2, "{report:?}");
    assert!(report.environments.iter().all(|e| e.error.is_none() && e.report.is_some()), "{report:?}");
    assert!(routed_port(&fakes).await.is_some());
    let prod_route = fakes.proxy.get_route(&production.domains[0]).await.unwrap().unwrap();
    assert_eq!(prod_route.upstreams.fixed()[0].port, prod.port);
}

#[tokio::test]
async fn a_deploy_after_its_lock_holder_died_on_this_host_recovers_first_and_proceeds() {
    for step in [Step::StartRelease, Step::SwitchRoute, Step::StopPrevious] {
        let fakes = fakes();
        let p = platform(&fakes, settings());
        deploy_ok(&p, "v1").await;
        crash_during(&p, &fakes, step).await.unwrap();
        let mut fresh = settings();
        fresh.identity.pid = FAKE_PID + 1;
        let p = platform(&fakes, fresh);

        let v3 = p.deploy(&request("v3"), &DeployOptions::default()).await.unwrap();

        let recovered = v3.recovered.as_ref().unwrap_or_else(|| panic!("{step}: the deploy says it recovered"));
        assert!(recovered.released_lock.is_some(), "{step}");
        let env = env_record(&fakes);
        assert_eq!(env.current_release, Some(v3.release.clone()), "{step}");
        assert!(env.release_ports.is_empty() && env.lock.is_none(), "{step}: nothing of the dead deploy is left");
        assert!(env.releases.iter().all(|r| r.status != ReleaseStatus::Pending), "{step}");
        assert_eq!(routed_port(&fakes).await, Some(v3.port), "{step}");
    }
}

#[tokio::test]
async fn a_deploy_never_takes_a_lock_whose_holder_may_be_alive() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    deploy_ok(&p, "v1").await;
    crash_during(&p, &fakes, Step::HealthCheck).await.unwrap();
    let mut elsewhere = settings();
    elsewhere.identity =
        Identity { user: "tester".into(), front_end: "test".into(), host: "other-host".into(), pid: FAKE_PID + 1 };

    let err = platform(&fakes, elsewhere).deploy(&request("v3"), &DeployOptions::default()).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Locked, "a holder on another host cannot be proven gone: {err}");
}

/// Settings whose deploy locks lease for 600 ms (renewed every 200 ms).
fn short_lease(mut settings: Settings) -> Settings {
    settings.lock_lease = Duration::from_millis(600);
    settings
}

/// A platform on the same backends acting for `ci` on another host.
fn from_another_host(fakes: &FakeBackends) -> Platform {
    let mut elsewhere = short_lease(settings());
    elsewhere.identity =
        Identity { user: "ci".into(), front_end: "test".into(), host: "ci-runner".into(), pid: FAKE_PID + 1 };
    platform(fakes, elsewhere)
}

#[tokio::test]
async fn a_lock_from_another_host_is_refused_while_its_lease_runs_and_taken_once_it_ran_out() {
    let fakes = fakes();
    let p = platform(&fakes, short_lease(settings()));
    deploy_ok(&p, "v1").await;
    crash_during(&p, &fakes, Step::HealthCheck).await.unwrap();
    let other = from_another_host(&fakes);

    let refused = other.deploy(&request("v3"), &DeployOptions::default()).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Locked, "{refused}");
    assert_eq!(refused.context_value("holder"), Some("tester (test)@localhost"), "{refused}");
    assert!(refused.to_string().contains("its lease runs 1 more s unless renewed"), "{refused}");

    tokio::time::sleep(Duration::from_millis(650)).await;
    let status = other.lock_status(&project(), &Environment::Staging).await.unwrap().unwrap();
    assert_eq!((status.stale, status.lease_left_ms), (true, Some(0)), "{status}");
    assert!(status.to_string().contains("its lease ran out: the lock is stale and can be taken"), "{status}");
    let v3 = other.deploy(&request("v3"), &DeployOptions::default()).await.unwrap();
    assert!(v3.recovered.is_some_and(|r| r.released_lock.is_some()), "the vanished holder's lock was taken");
    let env = env_record(&fakes);
    assert_eq!((env.current_release, env.lock), (Some(v3.release), None));
}

/// Deploys v1 with a 600 ms lease, then starts deploying v2, whose release takes `start` to start.
async fn slow_deploy_after_v1(
    fakes: &FakeBackends,
    start: Duration,
) -> (DeployReport, tokio::task::JoinHandle<Result<DeployReport, Error>>) {
    let p = platform(fakes, short_lease(settings()));
    let v1 = deploy_ok(&p, "v1").await;
    fakes.runtime.faults().add_latency("start_container", start);
    (v1, tokio::spawn(async move { p.deploy(&request("v2"), &DeployOptions::default()).await }))
}

#[tokio::test]
async fn a_long_deploy_renews_its_lease_and_keeps_its_lock() {
    let fakes = fakes();
    let (_, long) = slow_deploy_after_v1(&fakes, Duration::from_millis(2000)).await;

    tokio::time::sleep(Duration::from_millis(1300)).await;
    let refused = from_another_host(&fakes).deploy(&request("v3"), &DeployOptions::default()).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Locked, "more than two leases in, the holder still holds: {refused}");
    assert_eq!(refused.context_value("holder"), Some("tester (test)@localhost"), "{refused}");
    assert_eq!(refused.context_value("stale"), Some("false"), "{refused}");

    let v2 = long.await.unwrap().expect("the long deploy ends cleanly");
    let env = env_record(&fakes);
    assert_eq!((env.current_release, env.lock), (Some(v2.release), None));
}

#[tokio::test]
async fn a_deploy_whose_lock_was_taken_over_fails_naming_the_new_holder_and_leaves_its_lock() {
    let fakes = fakes();
    let (v1, long) = slow_deploy_after_v1(&fakes, Duration::from_millis(600)).await;

    tokio::time::sleep(Duration::from_millis(200)).await;
    let now = chrono::Utc::now();
    let theirs = DeployLock {
        owner: "ci (test)".into(),
        host: "ci-runner".into(),
        pid: 1,
        started_at: now,
        message: Some("deploy shop/staging".into()),
        lease_until: Some(now + chrono::TimeDelta::seconds(60)),
    };
    fakes
        .state
        .modify(|doc| {
            doc.environment_mut(&project(), &Environment::Staging).lock = Some(theirs.clone());
            Ok(())
        })
        .unwrap();

    let error = long.await.unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Conflict, "{error}");
    assert_eq!(error.context_value("holder"), Some("ci (test)@ci-runner"), "{error}");
    assert!(error.to_string().contains("was taken over by ci (test)@ci-runner (pid 1)"), "{error}");
    let env = env_record(&fakes);
    assert_eq!(env.lock, Some(theirs), "the new holder's lock is never written over");
    assert_eq!(env.current_release, Some(v1.release), "nothing more of the deploy was recorded");
}

#[tokio::test]
async fn each_release_records_who_deployed_it_and_a_rollback_who_made_it_serve_again() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    deploy_ok(&p, "v1").await;
    let mut ci = settings();
    ci.identity = Identity { user: "ci".into(), front_end: "mcp".into(), host: "ci-runner".into(), pid: FAKE_PID };
    deploy_ok(&platform(&fakes, ci), "v2").await;
    p.rollback(&project(), &Environment::Staging, None, &DeployOptions::default()).await.unwrap();

    let env = env_record(&fakes);
    let by = |id: &str| env.release(&release(id)).unwrap().deployed_by.clone().map(|d| d.to_string());
    assert_eq!(by("v1").as_deref(), Some("tester@localhost via test"));
    assert_eq!(by("v2").as_deref(), Some("ci@ci-runner via mcp"));
    let v1 = env.release(&release("v1")).unwrap();
    assert_eq!(v1.rolled_back_by.as_ref().map(|d| d.to_string()).as_deref(), Some("tester@localhost via test"));
    assert_eq!(env.release(&release("v2")).unwrap().rolled_back_by, None);
    assert_eq!(v1.made_by().as_deref(), Some("tester@localhost via test, rolled back to by tester@localhost via test"));
}

/// Settings that cut over through DNS: routes discover the environment's SRV record in `codeb.internal`.
fn dns_cutover() -> Settings {
    let mut s = settings();
    s.upstream_zone = Some(upstream_zone());
    s
}

fn upstream_zone() -> DomainName {
    DomainName::parse("codeb.internal").unwrap()
}

fn upstream_name() -> DomainName {
    DomainName::parse("staging.shop.env.codeb.internal").unwrap()
}

/// The port the environment's SRV record points at, and its target.
async fn pointed_port(fakes: &FakeBackends) -> Option<(Port, String)> {
    let sets = fakes.dns.list_records(&upstream_zone()).await.ok()?;
    sets.into_iter().find(|s| s.name == upstream_name()).and_then(|s| match s.data {
        codeb::dns::RecordData::Srv(records) => records.first().map(|r| (r.port, r.target.to_string())),
        _ => None,
    })
}

#[tokio::test]
async fn with_an_upstream_zone_a_cutover_is_one_dns_change_and_no_proxy_change() {
    let fakes = fakes();
    let p = platform(&fakes, dns_cutover());
    let v1 = deploy_ok(&p, "v1").await;
    let route = fakes.proxy.get_route(&domain()).await.unwrap().unwrap();
    assert_eq!(route.upstreams, Upstreams::Srv(upstream_name()), "the route discovers the environment's record");
    assert_eq!(pointed_port(&fakes).await, Some((v1.port, "local.server.codeb.internal".to_owned())));
    let sets = fakes.dns.list_records(&upstream_zone()).await.unwrap();
    let target = sets.iter().find(|s| s.name.as_str() == "local.server.codeb.internal").expect("the target's record");
    assert_eq!(target.data, codeb::dns::RecordData::A(vec![Ipv4Addr::LOCALHOST]));

    let plan = p.plan(&request("v2")).await.unwrap();
    let kinds: Vec<String> = plan.changes.iter().map(|c| c.change.kind()).collect();
    assert!(kinds.contains(&"point_upstream".to_owned()), "{kinds:?}");
    assert!(!kinds.iter().any(|k| k.ends_with("_route")), "the routes stay as they are: {kinds:?}");
    let changes_before = fakes.proxy.changes();
    let (sink, seen) = recorder(|_| {});
    let v2 = p.apply(&plan, &with_events(sink)).await.unwrap();
    assert_eq!(applied_and_undone(&seen).0, plan.changes, "the changes run are the plan's");
    assert_eq!(fakes.proxy.changes(), changes_before, "no proxy change at all");
    assert_eq!(pointed_port(&fakes).await.map(|(port, _)| port), Some(v2.port));
    assert!(p.drift().await.unwrap().items.is_empty(), "a DNS cutover leaves no drift");
    let removal = p.project_delete(&project(), true, &DeployOptions::default()).await.unwrap();
    assert!(removal.changes.iter().any(|c| matches!(c.change, Change::DeleteUpstream { .. })), "{removal}");
    assert_eq!(pointed_port(&fakes).await, None, "a deleted project leaves no upstream record");
}

#[tokio::test]
async fn a_failure_after_the_dns_cutover_points_the_record_back() {
    let fakes = fakes();
    let p = platform(&fakes, dns_cutover());
    let v1 = deploy_ok(&p, "v1").await;
    let mut r = request("v2");
    r.domains.push(DomainName::parse("www.codeb.test").unwrap());
    // The new domain's route is created after the record moved; it fails.
    fakes.proxy.faults().fail_next("upsert_route", 1, ErrorKind::Unavailable);
    let (sink, seen) = recorder(|_| {});
    p.deploy(&r, &with_events(sink)).await.unwrap_err();
    let (_, undone) = applied_and_undone(&seen);
    assert!(undone.iter().any(|c| matches!(c.change, Change::PointUpstream { .. })), "{undone:?}");
    assert_eq!(pointed_port(&fakes).await.map(|(port, _)| port), Some(v1.port), "v1 serves again");
    assert_eq!(state_of(&fakes, "v1").await, Some(ContainerState::Running));
}

#[tokio::test]
async fn a_rollback_and_recover_follow_the_upstream_record_and_drift_reads_it() {
    let fakes = fakes();
    let p = platform(&fakes, dns_cutover());
    deploy_ok(&p, "v1").await;
    let v2 = deploy_ok(&p, "v2").await;
    let rolled = p.rollback_guarded(&project(), &Environment::Staging, None, true, &DeployOptions::default()).await;
    let back = rolled.unwrap().report.unwrap();
    assert_eq!(pointed_port(&fakes).await.map(|(port, _)| port), Some(back.port), "the record follows the rollback");
    assert_ne!(back.port, v2.port);

    fakes.dns.delete_records(&upstream_zone(), &[(upstream_name(), codeb::dns::RecordType::Srv)]).await.unwrap();
    let items = p.drift().await.unwrap().items;
    assert!(
        items.iter().any(
            |i| matches!(i, DriftItem::UpstreamMismatch { actual: None, expected, .. } if expected.port == back.port)
        ),
        "{items:?}"
    );
    let report = p.recover(&project(), &Environment::Staging, false, &DeployOptions::default()).await.unwrap();
    assert!(report.repaired_upstream, "{report}");
    assert_eq!(pointed_port(&fakes).await.map(|(port, _)| port), Some(back.port));
    assert!(p.drift().await.unwrap().items.is_empty());
}

fn local_target() -> DomainName {
    DomainName::parse("local.server.codeb.internal").unwrap()
}

/// v1 serving through DNS with `requests` in flight to it, and a drain grace of `grace`.
async fn serving_with_requests_in_flight(grace: Duration, requests: u64) -> (FakeBackends, Platform, DeployReport) {
    let fakes = fakes();
    let mut s = dns_cutover();
    s.drain_grace = grace;
    let p = platform(&fakes, s);
    let v1 = deploy_ok(&p, "v1").await;
    fakes.proxy.set_in_flight(&local_target(), v1.port, requests);
    (fakes, p, v1)
}

#[tokio::test]
async fn the_drain_waits_while_the_proxy_has_requests_in_flight_to_the_old_release_and_no_longer() {
    let (fakes, p, v1) = serving_with_requests_in_flight(Duration::from_secs(30), 2).await;
    let target = local_target();
    let proxy = fakes.proxy.clone();
    let (sink, seen) = recorder(move |e| {
        // The old request finishes once the drain has asked at least twice.
        if matches!(e, DeployEvent::StepStarted { step: Step::StopPrevious }) {
            let (proxy, target) = (proxy.clone(), target.clone());
            tokio::spawn(async move {
                while proxy.faults().calls("in_flight") < 2 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                proxy.set_in_flight(&target, v1.port, 0);
            });
        }
    });
    p.deploy(&request("v2"), &with_events(sink)).await.unwrap();
    assert!(fakes.proxy.faults().calls("in_flight") >= 3, "asked until nothing was in flight");
    let notes = seen.lock().unwrap().iter().filter(|e| matches!(e, DeployEvent::Note { .. })).count();
    assert_eq!(notes, 0, "it ended because the old release went idle, not at the grace");
}

#[tokio::test]
async fn the_drain_stops_waiting_at_the_grace_and_says_what_was_still_in_flight() {
    let (fakes, p, _) = serving_with_requests_in_flight(Duration::from_millis(400), 1).await;
    let (sink, seen) = recorder(|_| {});
    p.deploy(&request("v2"), &with_events(sink)).await.unwrap();
    let notes: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            DeployEvent::Note { message } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert!(notes.iter().any(|n| n.contains("1 request(s) still in flight")), "{notes:?}");
    assert!(matches!(state_of(&fakes, "v1").await, Some(ContainerState::Exited { .. })), "stopped at the grace");
}

/// Options that leave the previous release's retirement to the caller.
fn retiring_later() -> DeployOptions {
    DeployOptions { retire_later: true, ..DeployOptions::default() }
}

#[tokio::test]
async fn a_deploy_that_retires_later_leaves_the_previous_release_running_until_retire_stops_it() {
    let fakes = fakes();
    let mut s = settings();
    s.keep_releases = 2;
    let p = platform(&fakes, s);
    deploy_ok(&p, "v1").await;
    deploy_ok(&p, "v2").await;
    let report = p.deploy(&request("v3"), &retiring_later()).await.unwrap();
    assert_eq!(
        (routed_port(&fakes).await, env_record(&fakes).current_release),
        (Some(report.port), Some(release("v3")))
    );
    let retirement = report.retiring.clone().expect("the retirement is left to the caller");
    let previous = retirement.previous.clone().expect("v2 served before the switch");
    assert_eq!(previous.release, release("v2"));
    let v2 = release_container(&project(), &Environment::Staging, &release("v2")).unwrap();
    assert_eq!(previous.instance, fakes.runtime.inspect_container(&v2).await.unwrap().id);
    assert_eq!(retirement.leftovers, [release("v1")], "keep_releases = 2 pruned v1");
    assert_eq!(state_of(&fakes, "v2").await, Some(ContainerState::Running), "still draining");
    assert!(p.drift().await.unwrap().items.is_empty(), "a release retiring is not drift");
    let kept = env_record(&fakes).release_ports.get(&release("v2")).copied();
    assert_eq!(kept, Some(previous.port), "v2 keeps its port while it still listens");

    p.retire(&retirement, &DeployOptions::default()).await.unwrap();
    assert!(env_record(&fakes).release_ports.is_empty(), "stopped, v2 frees its port");
    assert!(matches!(state_of(&fakes, "v2").await, Some(ContainerState::Exited { .. })), "stopped");
    assert_eq!(state_of(&fakes, "v1").await, None, "the pruned release's container is gone");
    assert_eq!(state_of(&fakes, "v3").await, Some(ContainerState::Running));
    p.retire(&retirement, &DeployOptions::default()).await.unwrap();
    assert_eq!(state_of(&fakes, "v3").await, Some(ContainerState::Running), "retiring twice changes nothing");
}

#[tokio::test]
async fn a_late_retirement_never_stops_a_release_a_rollback_started_again() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    deploy_ok(&p, "v1").await;
    let retirement = p.deploy(&request("v2"), &retiring_later()).await.unwrap().retiring.unwrap();
    assert_eq!(retirement.previous.as_ref().map(|r| r.release.clone()), Some(release("v1")));
    let (v1, none) = (release("v1"), DeployOptions::default());
    p.rollback(&project(), &Environment::Staging, Some(&v1), &none).await.unwrap();
    p.retire(&retirement, &DeployOptions::default()).await.unwrap();
    assert_eq!(state_of(&fakes, "v1").await, Some(ContainerState::Running), "the rollback's v1 serves on");
    assert_eq!(env_record(&fakes).current_release, Some(release("v1")));
    assert!(p.drift().await.unwrap().items.is_empty());
}

#[tokio::test]
async fn a_late_retirement_comes_after_the_watch_which_watches_with_the_previous_release_running() {
    let fakes = fakes();
    let mut s = settings();
    s.watch_window = Duration::from_millis(50);
    let p = platform(&fakes, s);
    deploy_ok(&p, "v1").await;
    let (sink, seen) = recorder(|_| {});
    let options = DeployOptions { events: Some(sink), ..retiring_later() };
    let report = p.deploy(&request("v2"), &options).await.unwrap();
    let steps = steps_started(&seen);
    assert!(steps.contains(&Step::Watch) && !steps.contains(&Step::StopPrevious), "{steps:?}");
    assert_eq!(state_of(&fakes, "v1").await, Some(ContainerState::Running), "v1 runs through the watch");
    p.retire(&report.retiring.unwrap(), &DeployOptions::default()).await.unwrap();
    assert!(matches!(state_of(&fakes, "v1").await, Some(ContainerState::Exited { .. })));
    let inline = p.deploy(&request("v3"), &DeployOptions::default()).await.unwrap();
    assert_eq!(inline.retiring, None);
    assert!(matches!(state_of(&fakes, "v2").await, Some(ContainerState::Exited { .. })), "retired in the deploy");
}

#[tokio::test]
async fn a_retirement_written_by_hand_cannot_stop_or_remove_what_serves() {
    let fakes = fakes();
    let p = platform(&fakes, settings());
    deploy_ok(&p, "v1").await;
    let retirement = p.deploy(&request("v2"), &retiring_later()).await.unwrap().retiring.unwrap();
    let v2 = release_container(&project(), &Environment::Staging, &release("v2")).unwrap();
    let serving = fakes.runtime.inspect_container(&v2).await.unwrap().id;

    let removes_the_serving = codeb::engine::Retirement { leftovers: vec![release("v2")], ..retirement.clone() };
    let err = p.retire(&removes_the_serving, &DeployOptions::default()).await.unwrap_err();
    assert_eq!((err.kind(), err.context_value("release")), (ErrorKind::Conflict, Some("v2")), "{err}");
    assert_eq!(state_of(&fakes, "v1").await, Some(ContainerState::Running), "checked before anything changed");

    let mut stops_the_serving = retirement.clone();
    stops_the_serving.previous.as_mut().unwrap().instance = serving;
    let err = p.retire(&stops_the_serving, &DeployOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert_eq!(state_of(&fakes, "v2").await, Some(ContainerState::Running), "v2 serves on");

    p.retire(&retirement, &DeployOptions::default()).await.unwrap();
    assert!(matches!(state_of(&fakes, "v1").await, Some(ContainerState::Exited { .. })));
}
