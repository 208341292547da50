//! `we completions`, `we man`.

use crate::args::{CompletionsArgs, ManArgs};
use crate::context::Context;
use crate::exit::OK;

pub fn completions(args: CompletionsArgs) -> codeb::Result<u8> {
    write_out(&crate::complete::script(args.shell)?)
}

pub fn man(args: ManArgs, ctx: &Context) -> codeb::Result<u8> {
    match args.dir {
        Some(dir) => {
            let written = crate::man::write_all(&dir)?;
            ctx.printer.result(&written, |_| vec![format!("wrote {} pages into {}", written.len(), dir.display())]);
            Ok(OK)
        }
        None => write_out(&crate::man::page(&args.command)?),
    }
}

/// Writes generated text to stdout; a reader that stopped early (`| head`) is not an error.
fn write_out(bytes: &[u8]) -> codeb::Result<u8> {
    match std::io::Write::write_all(&mut std::io::stdout().lock(), bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(codeb::Error::internal("cannot write to stdout").with_source(e))
        }
        _ => Ok(OK),
    }
}
