//! Images through the stack's real registry (distribution, htpasswd auth on
//! loopback), with `[registry]` in the platform file: a deploy that builds
//! pushes once and the release records and runs the digest the registry
//! gives; another environment runs that very digest without a build; a
//! digest the registry lacks and credentials it refuses are clear errors.

use std::path::Path;

use codeb::ErrorKind;
use codeb::config::PlatformConfig;
use codeb::engine::{Change, DeployOptions, Platform};
use codeb::model::{Environment, ImageRef};
use codeb::project::ProjectFile;
use codeb::testkit::{Namespace, copy_example, live_env, live_platform_file, live_registry_section};

/// One deploy at a time: every test has its own SSOT, so two would pick the same ports.
static DEPLOYING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A platform on the live stack whose `[registry]` is the stack's, logging in with `password`.
fn platform(dir: &Path, ns: &Namespace, password: &str) -> Option<Platform> {
    let registry = live_registry_section(dir, password)?;
    let extra = format!("drain_grace = \"0s\"\nstop_grace = \"2s\"\nwatch_window = \"0s\"\n{registry}");
    let file = live_platform_file(dir, ns.zone().as_str(), &extra)?;
    Some(codeb_backends::connect(&PlatformConfig::read(&file).unwrap(), "live-registry").unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_build_is_pushed_once_run_by_its_digest_and_promoted_elsewhere_without_a_build() {
    let (ns, tmp) = (Namespace::random(), tempfile::tempdir().unwrap());
    let Some(password) = live_env("CODEB_TEST_REGISTRY_PASSWORD") else { return };
    let Some(p) = platform(tmp.path(), &ns, &password) else { return };
    let _turn = DEPLOYING.lock().await;
    let project = ns.project("reg");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello");
    let app = copy_example(&example, &tmp.path().join("app"), project.as_str(), ns.host("reg").as_str());
    let file = ProjectFile::read(&app).unwrap();
    let mut staging = file.deploy_request(&Environment::Staging, None).unwrap();
    staging.domains.clear();
    let built = p.deploy(&staging, &DeployOptions::default()).await;
    let mut production = file.deploy_request(&Environment::Production, None).unwrap();
    production.domains.clear();
    let pinned = built.as_ref().map(|report| report.image.clone());
    if let Ok(image) = &pinned {
        (production.image, production.build) = (image.clone(), None);
    }
    let plan = p.plan(&production).await;
    let promoted = p.deploy(&production, &DeployOptions::default()).await;
    p.project_delete(&project, true, &DeployOptions::default()).await.unwrap();

    let pinned = pinned.expect("the build deploys");
    let registry = live_env("CODEB_TEST_REGISTRY").unwrap();
    assert_eq!(pinned.registry(), Some(registry.as_str()), "{pinned}");
    assert_eq!(pinned.repository(), project.as_str(), "{pinned}");
    assert!(pinned.digest().is_some(), "the release runs by digest: {pinned}");
    let plan = plan.expect("production plans");
    assert!(!plan.changes.iter().any(|c| matches!(c.change, Change::BuildImage { .. } | Change::PushImage { .. })));
    let promoted = promoted.expect("production runs the same digest");
    assert_eq!(promoted.image, pinned, "the very image staging runs");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_digest_the_registry_lacks_is_not_found_before_anything_changes() {
    let (ns, tmp) = (Namespace::random(), tempfile::tempdir().unwrap());
    let Some(password) = live_env("CODEB_TEST_REGISTRY_PASSWORD") else { return };
    let Some(p) = platform(tmp.path(), &ns, &password) else { return };
    let registry = live_env("CODEB_TEST_REGISTRY").unwrap();
    let missing = ImageRef::parse(&format!("{registry}/codeb-test/httpd@sha256:{}", "0".repeat(64))).unwrap();
    let project = ns.project("missing");
    let mut request = codeb::engine::DeployRequest::new(
        project.clone(),
        Environment::Staging,
        missing,
        codeb::model::Port::new(8080).unwrap(),
    );
    request.domains.clear();
    let err = p.deploy(&request, &DeployOptions::default()).await.unwrap_err();
    assert_eq!((err.kind(), err.context_value("step")), (ErrorKind::NotFound, Some("plan")), "{err}");
    assert!(err.to_string().contains(&format!("is not in the registry {registry}")), "{err}");
    assert!(p.project_show(&project).await.is_err(), "nothing was recorded");
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_the_registry_refuses_fail_the_push_naming_the_registry_never_the_password() {
    const WRONG: &str = "not-the-registry-password-77";
    let (ns, tmp) = (Namespace::random(), tempfile::tempdir().unwrap());
    let Some(p) = platform(tmp.path(), &ns, WRONG) else { return };
    let _turn = DEPLOYING.lock().await;
    let project = ns.project("refused");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello");
    let app = copy_example(&example, &tmp.path().join("app"), project.as_str(), ns.host("refused").as_str());
    let mut request = ProjectFile::read(&app).unwrap().deploy_request(&Environment::Staging, None).unwrap();
    request.domains.clear();
    let err = p.deploy(&request, &DeployOptions::default()).await.unwrap_err();
    p.project_delete(&project, true, &DeployOptions::default()).await.unwrap();

    assert_eq!((err.kind(), err.context_value("step")), (ErrorKind::Unauthenticated, Some("image")), "{err}");
    assert_eq!(err.context_value("registry"), live_env("CODEB_TEST_REGISTRY").as_deref(), "{err}");
    assert!(!format!("{err} {err:?}").contains(WRONG), "never the password: {err:?}");
}
