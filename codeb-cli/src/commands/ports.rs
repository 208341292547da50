//! `we port ...`

use codeb::ports::{PortFilter, PortKey};

use crate::args::PortCommand;
use crate::commands::applied_code;
use crate::context::Context;
use crate::exit::OK;
use crate::render;

pub async fn run(cmd: PortCommand, ctx: &Context) -> codeb::Result<u8> {
    let platform = ctx.platform().await?;
    match cmd {
        PortCommand::Allocate { scope, service } => {
            let key = PortKey::new(scope.project, scope.env, service);
            let port = platform.port_allocate(&key).await?;
            let doc = serde_json::json!({ "key": key, "port": port });
            ctx.printer.result(&doc, |_| vec![format!("{key} -> {port}")]);
        }
        PortCommand::List { project, env } => {
            let list = platform.port_list(&PortFilter { project, env }).await?;
            ctx.printer.result(&list, |_| render::ports(&list));
        }
        PortCommand::Release { scope, service, force } => {
            let removal = platform.port_release(&PortKey::new(scope.project, scope.env, service), force).await?;
            ctx.printer.result(&removal, |p| render::removal(p, &removal));
            return Ok(applied_code(removal.applied));
        }
        PortCommand::Check => {
            let report = platform.port_check().await?;
            ctx.printer.result(&report, |p| render::port_report(p, &report));
        }
    }
    Ok(OK)
}
