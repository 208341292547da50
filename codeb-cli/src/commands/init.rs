//! `we init`.

use codeb::project::InitOptions;

use crate::args::InitArgs;
use crate::context::Context;
use crate::exit::OK;
use crate::printer::Tone;
use crate::render;

pub fn run(args: InitArgs, ctx: &Context) -> codeb::Result<u8> {
    let report = codeb::project::init(&args.dir, &InitOptions { force: args.force, dry_run: args.dry_run })?;
    ctx.printer.result(&report, |p| {
        let mut lines = render::text(p, Tone::Good, &report);
        lines.extend(args.dry_run.then(|| report.project_file.clone()));
        lines
    });
    Ok(OK)
}
