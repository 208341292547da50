//! `we lock ...`

use crate::args::LockCommand;
use crate::context::Context;
use crate::exit::OK;
use crate::render;

pub async fn run(cmd: LockCommand, ctx: &Context) -> codeb::Result<u8> {
    let platform = ctx.platform().await?;
    match cmd {
        LockCommand::Status(target) => {
            let status = platform.lock_status(&target.project, &target.env).await?;
            ctx.printer.result(&status, |p| render::lock(p, status.as_ref()));
        }
        LockCommand::Release { target, force } => {
            let released = platform.lock_release(&target.project, &target.env, force).await?;
            ctx.printer.result(&released, |_| match &released {
                Some(s) => vec![format!("released the lock of {}", s.holder)],
                None => vec!["the environment was not locked".to_owned()],
            });
        }
    }
    Ok(OK)
}
