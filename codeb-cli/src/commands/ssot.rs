//! `we ssot ...` and `we health check`.

use crate::args::{HealthCommand, SsotCommand};
use crate::context::Context;
use crate::exit::{DRIFT, OK, UNHEALTHY};
use crate::printer::Tone;
use crate::render;

pub async fn run(cmd: SsotCommand, ctx: &Context) -> codeb::Result<u8> {
    let platform = ctx.platform().await?;
    match cmd {
        SsotCommand::Status => {
            let status = platform.ssot_status().await?;
            ctx.printer.result(&status, |_| vec![status.to_string()]);
        }
        SsotCommand::Show { project } => ctx.printer.json_or_pretty(&platform.project_show(&project).await?),
        SsotCommand::Export => ctx.printer.json_or_pretty(&platform.ssot_export().await?),
        SsotCommand::Import { file, secrets_from, force } => {
            let document = codeb::ssot::Ssot::read_file(&file)?;
            let from = secrets_from.map(|p| codeb_backends::connect_discovered(Some(&p), "we")).transpose()?;
            let imported = platform.ssot_import(document, from.as_ref().map(|(p, _)| p), force).await?;
            ctx.printer.result(&imported, |_| vec![imported.to_string()]);
        }
        SsotCommand::Diff => {
            let report = platform.drift().await?;
            ctx.printer.result(&report, |p| render::drift(p, &report));
            return Ok(if report.is_clean() { OK } else { DRIFT });
        }
    }
    Ok(OK)
}

pub async fn health(cmd: HealthCommand, ctx: &Context) -> codeb::Result<u8> {
    let HealthCommand::Check(target) = cmd;
    let report = ctx.platform().await?.health_check(&target.project, &target.env).await?;
    ctx.printer
        .result(&report, |p| render::text(p, if report.verdict.healthy { Tone::Good } else { Tone::Bad }, &report));
    Ok(if report.verdict.healthy { OK } else { UNHEALTHY })
}
