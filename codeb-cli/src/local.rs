//! `we local up | down | status`: the local stack as a user sees it.

use std::path::PathBuf;

use codeb::{Error, Result};
use codeb_devstack::{LocalStack, LocalStackOptions, default_dir};

use crate::args::{LocalArgs, LocalCommand};
use crate::context::Context;
use crate::exit::{FAILURE, OK};

/// Runs the stack's work off the async runtime: it waits on processes and sockets.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::internal("the local stack task panicked").with_source(e))?
}

/// Runs one `we local` command; `status` exits 1 unless every part is up.
pub async fn run(cmd: LocalCommand, ctx: &Context) -> Result<u8> {
    let dir = |args: LocalArgs| args.dir.map_or_else(default_dir, Ok::<PathBuf, Error>);
    match cmd {
        LocalCommand::Up(args) => {
            let dir = dir(args)?;
            let progress = ctx.progress("local up: starting Podman, Caddy, PowerDNS and a registry");
            let started = blocking(move || LocalStack::start(&LocalStackOptions::new(dir))).await;
            progress.finish().await;
            let started = started?;
            ctx.printer.result(&started, |_| vec![started.to_string()]);
            Ok(OK)
        }
        LocalCommand::Down(args) => {
            let dir = dir(args)?;
            let report = blocking(move || LocalStack::down(dir)).await?;
            ctx.printer.result(&report, |_| vec![report.to_string()]);
            Ok(OK)
        }
        LocalCommand::Status(args) => {
            let dir = dir(args)?;
            let report = blocking(move || LocalStack::report(dir)).await?;
            ctx.printer.result(&report, |_| vec![report.to_string()]);
            Ok(if report.up { OK } else { FAILURE })
        }
    }
}
