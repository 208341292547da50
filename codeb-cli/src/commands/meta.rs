//! `we local ...`, `we completions`, `we man`.

use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs, LocalCommand};
use crate::context::Context;
use crate::exit::OK;

pub async fn local(cmd: LocalCommand, ctx: &Context) -> codeb::Result<u8> {
    crate::local::run(cmd, ctx).await
}

pub fn completions(args: CompletionsArgs) -> codeb::Result<u8> {
    clap_complete::generate(args.shell, &mut Cli::command(), "we", &mut std::io::stdout());
    Ok(OK)
}

pub fn man() -> codeb::Result<u8> {
    clap_mangen::Man::new(Cli::command())
        .render(&mut std::io::stdout())
        .map_err(|e| codeb::Error::internal("cannot write the man page").with_source(e))?;
    Ok(OK)
}
