//! `we server ...`

use crate::args::ServerCommand;
use crate::context::Context;
use crate::exit::{FAILURE, OK};
use crate::render;

pub async fn run(cmd: ServerCommand, ctx: &Context) -> codeb::Result<u8> {
    let platform = ctx.platform().await?;
    match cmd {
        ServerCommand::List => {
            let list = platform.server_list().await?;
            ctx.printer.result(&list, |_| render::servers(&list));
        }
        ServerCommand::Check { server } => {
            let reports = platform.server_check(server.as_ref()).await?;
            ctx.printer.result(&reports, |p| render::server_checks(p, &reports));
            return Ok(if reports.iter().all(|r| r.ok) { OK } else { FAILURE });
        }
    }
    Ok(OK)
}
