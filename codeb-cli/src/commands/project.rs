//! `we project ...`

use crate::args::ProjectCommand;
use crate::commands::applied_code;
use crate::context::Context;
use crate::exit::OK;
use crate::render;

pub async fn run(cmd: ProjectCommand, ctx: &Context) -> codeb::Result<u8> {
    let platform = ctx.platform().await?;
    match cmd {
        ProjectCommand::List => {
            let list = platform.project_list().await?;
            ctx.printer.result(&list, |_| render::projects(&list));
        }
        ProjectCommand::Show { project } => {
            let record = platform.project_show(&project).await?;
            ctx.printer.json_or_pretty(&record);
        }
        ProjectCommand::Delete { project, force, dry_run } => {
            let progress = ctx.progress(&format!("project delete {project}"));
            let removal = platform.project_delete(&project, force && !dry_run, &progress.options).await;
            progress.finish().await;
            let removal = removal?;
            ctx.printer.result(&removal, |p| render::removal(p, &removal));
            return Ok(applied_code(removal.applied));
        }
    }
    Ok(OK)
}
