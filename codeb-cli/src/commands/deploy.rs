//! `we deploy`, `we rollback`, `we releases`, `we recover`, and the `we retire` a deploy leaves.

use std::path::Path;
use std::time::Duration;

use codeb::engine::{DeployOptions, DeployReport, Plan, Retirement};
use codeb::project::ProjectFile;

use crate::args::{DeployArgs, PromoteArgs, RecoverArgs, RetireArgs, RollbackArgs, Target};
use crate::context::Context;
use crate::exit::{FAILURE, OK};
use crate::printer::Tone;
use crate::render;

pub async fn deploy(args: DeployArgs, ctx: &Context) -> codeb::Result<u8> {
    if let Some(file) = &args.plan {
        return apply(file, args.wait, ctx).await;
    }
    let env = args.env.ok_or_else(|| codeb::Error::invalid("--env is required"))?;
    let file = ProjectFile::read(&args.path)?;
    let mut request = file.deploy_request(&env, args.image)?;
    request.server = args.server.or(request.server);
    let platform = ctx.platform().await?;
    if args.dry_run {
        let plan = platform.plan(&request).await?;
        ctx.printer.result(&plan, |p| render::plan(p, &plan, plan.revision, &plan.changes));
        return Ok(OK);
    }
    let what = format!("deploy {}/{}", request.project, request.env);
    live(ctx, &what, args.wait, async |options| platform.deploy(&request, options).await).await
}

/// Shows the progress of a deploy or rollback while `run` makes it (waiting
/// up to `wait` seconds for the lock), then prints what serves now.
async fn live(
    ctx: &Context,
    what: &str,
    wait: Option<u64>,
    run: impl AsyncFnOnce(&DeployOptions) -> codeb::Result<DeployReport>,
) -> codeb::Result<u8> {
    let mut progress = ctx.progress(what);
    progress.options.wait_for_lock = wait.map(Duration::from_secs);
    progress.options.retire_later = true;
    let report = run(&progress.options).await;
    progress.finish().await;
    let report = report?;
    ctx.printer.result(&report, |p| render::labelled(p, Tone::Good, "live:", &report));
    if let Some(retirement) = &report.retiring {
        // The switch is recorded: the previous release drains and stops in a
        // `we retire` that outlives this command, or here if none can start.
        if let Err(e) = ctx.spawn_retire(retirement) {
            ctx.printer.note(&format!("retiring {} here: no background `we` ({e})", report.project));
            ctx.platform().await?.retire(retirement, &DeployOptions::default()).await?;
        }
    }
    Ok(OK)
}

/// `we retire`: drains and stops what a deploy left (its report's `retiring`).
pub async fn retire(args: RetireArgs, ctx: &Context) -> codeb::Result<u8> {
    let retirement: Retirement = serde_json::from_str(&args.retirement).map_err(|e| {
        codeb::Error::invalid(format!("not a deploy's retirement: {e}")).with_context("field", "retirement")
    })?;
    ctx.platform().await?.retire(&retirement, &DeployOptions::default()).await?;
    Ok(OK)
}

/// `we deploy --plan FILE`: the saved plan, exactly as it was shown.
async fn apply(file: &Path, wait: Option<u64>, ctx: &Context) -> codeb::Result<u8> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        codeb::Error::new(codeb::ErrorKind::NotFound, format!("cannot read the plan {}: {e}", file.display()))
    })?;
    let plan = Plan::from_json(&text)?;
    let platform = ctx.platform().await?;
    let what = format!("apply the plan for {}/{}", plan.project, plan.env);
    live(ctx, &what, wait, async |options| platform.apply(&plan, options).await).await
}

pub async fn rollback(args: RollbackArgs, ctx: &Context) -> codeb::Result<u8> {
    let platform = ctx.platform().await?;
    let Target { project, env } = &args.target;
    if args.dry_run {
        let plan = platform.plan_rollback(project, env, args.to.as_ref()).await?;
        ctx.printer.result(&plan, |p| render::plan(p, &plan, plan.revision, &plan.changes));
        return Ok(OK);
    }
    let what = format!("rollback {project}/{env}");
    live(ctx, &what, None, async |options| platform.rollback(project, env, args.to.as_ref(), options).await).await
}

pub async fn promote(args: PromoteArgs, ctx: &Context) -> codeb::Result<u8> {
    let platform = ctx.platform().await?;
    let (project, from, to) = (&args.project, &args.from, &args.to);
    if args.dry_run {
        let plan = platform.plan_promote(project, from, to).await?;
        ctx.printer.result(&plan, |p| render::plan(p, &plan, plan.revision, &plan.changes));
        return Ok(OK);
    }
    let what = format!("promote {project}/{from} to {to}");
    live(ctx, &what, args.wait, async |options| platform.promote(project, from, to, options).await).await
}

pub async fn releases(target: Target, ctx: &Context) -> codeb::Result<u8> {
    let list = ctx.platform().await?.releases(&target.project, &target.env).await?;
    ctx.printer.result(&list, |p| render::releases(p, &list));
    Ok(OK)
}

pub async fn recover(args: RecoverArgs, ctx: &Context) -> codeb::Result<u8> {
    let platform = ctx.platform().await?;
    let progress = ctx.progress(&format!("recover {}/{}", args.target.project, args.target.env));
    let report = platform.recover(&args.target.project, &args.target.env, args.force, &progress.options).await;
    progress.finish().await;
    let report = report?;
    ctx.printer.result(&report, |p| render::text(p, Tone::Good, &report));
    Ok(OK)
}

pub async fn reconcile(ctx: &Context) -> codeb::Result<u8> {
    let platform = ctx.platform().await?;
    let progress = ctx.progress("reconcile");
    let report = platform.reconcile(&progress.options).await;
    progress.finish().await;
    let report = report?;
    let (tone, code) = if report.is_complete() { (Tone::Good, OK) } else { (Tone::Warn, FAILURE) };
    ctx.printer.result(&report, |p| render::text(p, tone, &report));
    Ok(code)
}
