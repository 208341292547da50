//! Each Python method as one SDK call: the inputs validated through the SDK's
//! types first (a rejection returns here, before anything runs), then a
//! future that makes the one call and converts its result.
//!
//! `Platform` runs these futures blocking and `AsyncPlatform` as awaitables
//! (see `runtime`), so both classes share every line of this module.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use codeb::Result;
use codeb::engine::Platform as Sdk;
use codeb::ports::{PortFilter, PortKey};
use codeb::project::ProjectFile;
use pyo3::prelude::*;

use crate::events;
use crate::parse;
use crate::results::{
    DeployReport, Deployed, DomainReport, EnvSet, HealthReport, LockStatus, NamedProject, Plan, PortAllocation,
    PortReport, ProjectRecord, ProjectSummary, ReconcileReport, RecoverReport, Release, Removal, RollbackPlan,
    RolledBack, ServerCheck, ServerSummary, SsotStatus,
};

/// A validated call: the future that makes it, or the input's rejection.
type Call<T> = Result<Pin<Box<dyn Future<Output = Result<T>> + Send + 'static>>>;

/// Boxes a call's future, so every call has one type the runners take.
fn call<T>(future: impl Future<Output = Result<T>> + Send + 'static) -> Call<T> {
    Ok(Box::pin(future))
}

/// `deploy`: reads the project file in `path`, then plans (dry run) or deploys it to `env`.
pub(crate) fn deploy(
    sdk: &Sdk,
    path: PathBuf,
    env: &str,
    image: Option<&str>,
    dry_run: bool,
    progress: Option<Py<PyAny>>,
) -> Call<Deployed> {
    let env = parse::environment(env)?;
    let image = parse::image(image)?;
    let sdk = sdk.clone();
    call(async move {
        let request = ProjectFile::read(&path)?.deploy_request(&env, image)?;
        if dry_run {
            return Ok(Deployed::Plan(Plan::from(sdk.plan(&request).await?)));
        }
        let options = events::options(progress);
        Ok(Deployed::Report(DeployReport::from(sdk.deploy(&request, &options).await?)))
    })
}

/// `apply`: carries out a plan made by a dry run, if the SSOT has not moved since.
pub(crate) fn apply(sdk: &Sdk, plan: &Plan, progress: Option<Py<PyAny>>) -> Call<DeployReport> {
    let (sdk, plan) = (sdk.clone(), plan.sdk()?);
    call(async move {
        let options = events::options(progress);
        Ok(DeployReport::from(sdk.apply(&plan, &options).await?))
    })
}

/// `rollback`: plans (dry run) or rolls back to `to`, or to the previous release.
pub(crate) fn rollback(
    sdk: &Sdk,
    project: &str,
    env: &str,
    to: Option<&str>,
    dry_run: bool,
    progress: Option<Py<PyAny>>,
) -> Call<RolledBack> {
    let (project, env) = parse::target(project, env)?;
    let to = parse::release(to)?;
    let sdk = sdk.clone();
    call(async move {
        if dry_run {
            return Ok(RolledBack::Plan(RollbackPlan::from(sdk.plan_rollback(&project, &env, to.as_ref()).await?)));
        }
        let options = events::options(progress);
        Ok(RolledBack::Report(DeployReport::from(sdk.rollback(&project, &env, to.as_ref(), &options).await?)))
    })
}

/// `recover`: completes or cleans up an interrupted deploy.
pub(crate) fn recover(
    sdk: &Sdk,
    project: &str,
    env: &str,
    force: bool,
    progress: Option<Py<PyAny>>,
) -> Call<RecoverReport> {
    let (project, env) = parse::target(project, env)?;
    let sdk = sdk.clone();
    call(async move {
        let options = events::options(progress);
        Ok(RecoverReport::from(sdk.recover(&project, &env, force, &options).await?))
    })
}

/// `releases`: the releases of an environment, oldest first.
pub(crate) fn releases(sdk: &Sdk, project: &str, env: &str) -> Call<Vec<Release>> {
    let (project, env) = parse::target(project, env)?;
    let sdk = sdk.clone();
    call(async move { Ok(sdk.releases(&project, &env).await?.iter().map(Release::from).collect()) })
}

/// `reconcile`: recovers every environment the SSOT records.
pub(crate) fn reconcile(sdk: &Sdk, progress: Option<Py<PyAny>>) -> Call<ReconcileReport> {
    let sdk = sdk.clone();
    call(async move { Ok(ReconcileReport::from(sdk.reconcile(&events::options(progress)).await?)) })
}

/// `domain_setup`: routes a domain to an environment (or says what that would change); `force` moves another's.
pub(crate) fn domain_setup(
    sdk: &Sdk,
    project: &str,
    env: &str,
    domain: &str,
    dry_run: bool,
    force: bool,
) -> Call<DomainReport> {
    let (project, env) = parse::target(project, env)?;
    let domain = parse::domain(domain)?;
    let sdk = sdk.clone();
    call(async move {
        let options = events::options(None);
        Ok(DomainReport::from(sdk.domain_setup(&project, &env, &domain, dry_run, force, &options).await?))
    })
}

/// `domain_remove`: stops routing a domain to an environment; only with `force`.
pub(crate) fn domain_remove(sdk: &Sdk, project: &str, env: &str, domain: &str, force: bool) -> Call<Removal> {
    let (project, env) = parse::target(project, env)?;
    let domain = parse::domain(domain)?;
    let sdk = sdk.clone();
    call(async move {
        let options = events::options(None);
        Ok(Removal::from(sdk.domain_remove(&project, &env, &domain, force, &options).await?))
    })
}

/// `domain_list`: the domains set up on an environment.
pub(crate) fn domain_list(sdk: &Sdk, project: &str, env: &str) -> Call<Vec<String>> {
    let (project, env) = parse::target(project, env)?;
    let sdk = sdk.clone();
    call(async move { Ok(sdk.domain_list(&project, &env).await?.iter().map(ToString::to_string).collect()) })
}

/// `env_set`: sets env vars (all plain or all secret); returns the new env version.
pub(crate) fn env_set(sdk: &Sdk, project: &str, env: &str, pairs: &[(String, String)], secret: bool) -> Call<u64> {
    let (project, env) = parse::target(project, env)?;
    let vars = parse::vars(pairs, secret)?;
    let sdk = sdk.clone();
    call(async move { sdk.env_set(&project, &env, &vars).await })
}

/// `env_list`: the env vars of an environment, secret values masked.
pub(crate) fn env_list(sdk: &Sdk, project: &str, env: &str) -> Call<EnvSet> {
    let (project, env) = parse::target(project, env)?;
    let sdk = sdk.clone();
    call(async move { Ok(EnvSet::from(sdk.env_listing(&project, &env).await?)) })
}

/// `env_unset`: removes env vars; only with `force`.
pub(crate) fn env_unset(sdk: &Sdk, project: &str, env: &str, keys: &[String], force: bool) -> Call<Removal> {
    let (project, env) = parse::target(project, env)?;
    let keys = parse::keys(keys)?;
    let sdk = sdk.clone();
    call(async move { Ok(Removal::from(sdk.env_unset(&project, &env, &keys, force).await?)) })
}

/// `health_check`: probes the serving release once.
pub(crate) fn health_check(sdk: &Sdk, project: &str, env: &str) -> Call<HealthReport> {
    let (project, env) = parse::target(project, env)?;
    let sdk = sdk.clone();
    call(async move { Ok(HealthReport::from(sdk.health_check(&project, &env).await?)) })
}

/// `logs`: the last `tail` log lines of the serving release (the app's own output: untrusted).
pub(crate) fn logs(sdk: &Sdk, project: &str, env: &str, tail: usize) -> Call<Vec<String>> {
    let (project, env) = parse::target(project, env)?;
    let sdk = sdk.clone();
    call(async move { sdk.logs(&project, &env, tail).await })
}

/// `ssot_status`: a summary of the SSOT.
pub(crate) fn ssot_status(sdk: &Sdk) -> Call<SsotStatus> {
    let sdk = sdk.clone();
    call(async move { Ok(SsotStatus::from(sdk.ssot_status().await?)) })
}

/// `ssot_project`: the SSOT record of one project.
pub(crate) fn ssot_project(sdk: &Sdk, project: &str) -> Call<ProjectRecord> {
    let project = parse::project(project)?;
    let sdk = sdk.clone();
    call(async move {
        let record = sdk.project_show(&project).await?;
        Ok(ProjectRecord::from(NamedProject { name: project, record }))
    })
}

/// `project_list`: every project with the release serving each environment.
pub(crate) fn project_list(sdk: &Sdk) -> Call<Vec<ProjectSummary>> {
    let sdk = sdk.clone();
    call(async move { Ok(sdk.project_list().await?.iter().map(ProjectSummary::from).collect()) })
}

/// `server_list`: every server of the fleet.
pub(crate) fn server_list(sdk: &Sdk) -> Call<Vec<ServerSummary>> {
    let sdk = sdk.clone();
    call(async move { Ok(sdk.server_list().await?.iter().map(ServerSummary::from).collect()) })
}

/// `server_check`: a doctor's report on one server, or on every one.
pub(crate) fn server_check(sdk: &Sdk, server: Option<&str>) -> Call<Vec<ServerCheck>> {
    let server = server.map(parse::server).transpose()?;
    let sdk = sdk.clone();
    call(async move { Ok(sdk.server_check(server.as_ref()).await?.iter().map(ServerCheck::from).collect()) })
}

/// `project_delete`: deletes a project whole; only with `force`. Protected volumes stay.
pub(crate) fn project_delete(sdk: &Sdk, project: &str, force: bool) -> Call<Removal> {
    let project = parse::project(project)?;
    let sdk = sdk.clone();
    call(async move {
        let options = events::options(None);
        Ok(Removal::from(sdk.project_delete(&project, force, &options).await?))
    })
}

/// `port_allocate`: the port of a service, allocated now if it has none.
pub(crate) fn port_allocate(sdk: &Sdk, project: &str, env: &str, service: &str) -> Call<u16> {
    let (project, env) = parse::target(project, env)?;
    let key = PortKey::new(project, env, parse::service(service)?);
    let sdk = sdk.clone();
    call(async move { Ok(sdk.port_allocate(&key).await?.get()) })
}

/// `port_list`: the allocations of a project and/or environment, or all.
pub(crate) fn port_list(sdk: &Sdk, project: Option<&str>, env: Option<&str>) -> Call<Vec<PortAllocation>> {
    let filter =
        PortFilter { project: project.map(parse::project).transpose()?, env: env.map(parse::environment).transpose()? };
    let sdk = sdk.clone();
    call(async move { Ok(sdk.port_list(&filter).await?.iter().map(PortAllocation::from).collect()) })
}

/// `port_release`: frees a service's port; only with `force`.
pub(crate) fn port_release(sdk: &Sdk, project: &str, env: &str, service: &str, force: bool) -> Call<Removal> {
    let (project, env) = parse::target(project, env)?;
    let key = PortKey::new(project, env, parse::service(service)?);
    let sdk = sdk.clone();
    call(async move { Ok(Removal::from(sdk.port_release(&key, force).await?)) })
}

/// `port_check`: compares the recorded ports with what listens.
pub(crate) fn port_check(sdk: &Sdk) -> Call<PortReport> {
    let sdk = sdk.clone();
    call(async move { Ok(PortReport::from(sdk.port_check().await?)) })
}

/// `lock_status`: the deploy lock of an environment, if held.
pub(crate) fn lock_status(sdk: &Sdk, project: &str, env: &str) -> Call<Option<LockStatus>> {
    let (project, env) = parse::target(project, env)?;
    let sdk = sdk.clone();
    call(async move { Ok(sdk.lock_status(&project, &env).await?.map(LockStatus::from)) })
}

/// `lock_release`: releases a lock whose holder is gone (any lock, with `force`).
pub(crate) fn lock_release(sdk: &Sdk, project: &str, env: &str, force: bool) -> Call<Option<LockStatus>> {
    let (project, env) = parse::target(project, env)?;
    let sdk = sdk.clone();
    call(async move { Ok(sdk.lock_release(&project, &env, force).await?.map(LockStatus::from)) })
}
