//! `we server ...`

use std::io::IsTerminal;

use codeb_backends::servers::{NewServer, Pinning};
use codeb_backends::ssh_keys;
use codeb_backends::transport::ssh::Identity;

use crate::args::{ServerAddArgs, ServerCommand, SshKeyCommand};
use crate::context::Context;
use crate::exit::{FAILURE, OK};
use crate::render;

pub async fn run(cmd: ServerCommand, ctx: &Context) -> codeb::Result<u8> {
    match cmd {
        ServerCommand::List => {
            let list = ctx.platform().await?.server_list().await?;
            ctx.printer.result(&list, |_| render::servers(&list));
            Ok(OK)
        }
        ServerCommand::Check { server } => {
            let reports = ctx.platform().await?.server_check(server.as_ref()).await?;
            ctx.printer.result(&reports, |p| render::server_checks(p, &reports));
            Ok(if reports.iter().all(|r| r.ok) { OK } else { FAILURE })
        }
        ServerCommand::Add(args) => add(args, ctx).await,
        ServerCommand::Remove { server } => {
            let file = codeb::config::PlatformConfig::discover(ctx.explicit_config().as_deref())?;
            let removed = codeb_backends::servers::remove_server(&file, &server).await?;
            ctx.printer.result(&removed, |_| vec![format!("removed server {server} from {}", file.display())]);
            Ok(OK)
        }
    }
}

/// `we ssh key ...`: the authorized_keys of a server's login.
pub async fn keys(cmd: SshKeyCommand, ctx: &Context) -> codeb::Result<u8> {
    let file = codeb::config::PlatformConfig::discover(ctx.explicit_config().as_deref())?;
    let config = codeb::config::PlatformConfig::read(&file)?;
    match cmd {
        SshKeyCommand::List { server } => {
            let listed = ssh_keys::list_keys(&config, &server).await?;
            ctx.printer.result(&listed, |_| render::authorized_keys(&listed));
        }
        SshKeyCommand::Add { server, file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| codeb::Error::not_found(format!("cannot read {}", file.display())).with_source(e))?;
            let added = ssh_keys::add_key(&config, &server, &text).await?;
            ctx.printer
                .result(&added, |_| vec![format!("authorized {} ({}) on {server}", added.fingerprint, added.comment)]);
        }
        SshKeyCommand::Remove { server, fingerprint, proven_by } => {
            let removed = ssh_keys::remove_key(&config, &server, &fingerprint, proven_by.as_deref()).await?;
            ctx.printer.result(&removed, |_| {
                vec![format!("removed {} ({}) from {server}", removed.fingerprint, removed.comment)]
            });
        }
    }
    Ok(OK)
}

/// `we server add`: the pinning the flags ask for, or a question on a
/// terminal; without either nothing is asked of the server.
async fn add(args: ServerAddArgs, ctx: &Context) -> codeb::Result<u8> {
    let file = codeb::config::PlatformConfig::discover(ctx.explicit_config().as_deref())?;
    let ask = |fingerprint: &str| confirm(&format!("The host key of {} is {fingerprint}. Pin it? [y/N] ", args.ssh));
    let pinning = match (&args.fingerprint, args.accept_new) {
        (Some(fingerprint), _) => Pinning::Fingerprint(fingerprint.clone()),
        (None, true) => Pinning::AcceptNew,
        (None, false) if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() => Pinning::Ask(&ask),
        (None, false) => {
            return Err(codeb::Error::invalid("no way to trust the server's host key was given")
                .with_context("field", "fingerprint")
                .with_context(
                    "hint",
                    "pass --fingerprint SHA256:... (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the server), or --accept-new",
                ));
        }
    };
    let new = NewServer {
        name: args.server.clone(),
        target: args.ssh.clone(),
        roles: args.roles.iter().copied().collect(),
        identity: args.identity.clone().map_or(Identity::Agent(None), Identity::File),
        public_ipv4: args.public_ipv4,
        podman_socket: args.podman_socket.clone(),
    };
    let added = codeb_backends::servers::add_server(&file, &new, pinning).await?;
    let pinned = if added.newly_pinned { "pinned its host key" } else { "its host key was pinned already" };
    ctx.printer.result(&added, |_| {
        vec![format!("added server {} ({}); {pinned}: {}", added.server, added.ssh, added.fingerprint)]
    });
    Ok(OK)
}

/// Asks `question` on stderr and reads the answer from stdin: yes only for `y` or `yes`.
fn confirm(question: &str) -> bool {
    eprint!("{question}");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok()
        && matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}
