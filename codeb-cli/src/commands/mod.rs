//! One module per command group: parse results in, one SDK call, print.

mod deploy;
mod domain;
mod env;
mod init;
mod lock;
mod logs;
mod mcp;
mod meta;
mod ports;
mod project;
mod servers;
mod ssot;

use crate::args::Command;
use crate::context::Context;

/// Runs one command; returns the exit code of a command that succeeded (0,
/// or 6 for a destructive command refused without --force).
pub async fn run(command: Command, ctx: &Context) -> codeb::Result<u8> {
    match command {
        Command::Local(cmd) => crate::local::run(cmd, ctx).await,
        Command::Init(args) => init::run(args, ctx),
        Command::Deploy(args) => deploy::deploy(args, ctx).await,
        Command::Rollback(args) => deploy::rollback(args, ctx).await,
        Command::Promote(args) => deploy::promote(args, ctx).await,
        Command::Releases(target) => deploy::releases(target, ctx).await,
        Command::Recover(args) => deploy::recover(args, ctx).await,
        Command::Reconcile => deploy::reconcile(ctx).await,
        Command::Retire(args) => deploy::retire(args, ctx).await,
        Command::Domain(cmd) => domain::run(cmd, ctx).await,
        Command::Env(cmd) => env::run(cmd, ctx).await,
        Command::Health(cmd) => ssot::health(cmd, ctx).await,
        Command::Ssot(cmd) => ssot::run(cmd, ctx).await,
        Command::Port(cmd) => ports::run(cmd, ctx).await,
        Command::Server(cmd) => servers::run(cmd, ctx).await,
        Command::Ssh(crate::args::SshCommand::Key(cmd)) => servers::keys(cmd, ctx).await,
        Command::Project(cmd) => project::run(cmd, ctx).await,
        Command::Lock(cmd) => lock::run(cmd, ctx).await,
        Command::Logs(args) => logs::run(args, ctx).await,
        Command::Mcp(cmd) => mcp::run(cmd, ctx).await,
        Command::Control(cmd) => mcp::control(cmd).await,
        Command::Completions(args) => meta::completions(args),
        Command::Man(args) => meta::man(args, ctx),
    }
}

/// The exit code of a destructive command: refused unless applied.
fn applied_code(applied: bool) -> u8 {
    if applied { crate::exit::OK } else { crate::exit::REFUSED }
}
