//! `we domain ...`

use crate::args::DomainCommand;
use crate::commands::applied_code;
use crate::context::Context;
use crate::exit::OK;
use crate::printer::Tone;
use crate::render;

pub async fn run(cmd: DomainCommand, ctx: &Context) -> codeb::Result<u8> {
    let platform = ctx.platform().await?;
    match cmd {
        DomainCommand::Setup { domain, scope, dry_run, force } => {
            let progress = ctx.progress(&format!("domain setup {domain}"));
            let (project, env) = (&scope.project, &scope.env);
            let report = platform.domain_setup(project, env, &domain, dry_run, force, &progress.options).await;
            progress.finish().await;
            let report = report?;
            ctx.printer
                .result(&report, |p| render::text(p, if report.applied { Tone::Good } else { Tone::Warn }, &report));
            Ok(OK)
        }
        DomainCommand::List { scope } => {
            let list = platform.domain_list(&scope.project, &scope.env).await?;
            ctx.printer.result(&list, |_| list.iter().map(|d| d.to_string()).collect());
            Ok(OK)
        }
        DomainCommand::Remove { domain, scope, force } => {
            let progress = ctx.progress(&format!("domain remove {domain}"));
            let removal = platform.domain_remove(&scope.project, &scope.env, &domain, force, &progress.options).await;
            progress.finish().await;
            let removal = removal?;
            ctx.printer.result(&removal, |p| render::removal(p, &removal));
            Ok(applied_code(removal.applied))
        }
    }
}
