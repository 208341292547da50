//! The `we` CLI over the codeb SDK: clap parsing ([`args`]), one SDK call per
//! command ([`commands`]), one [`printer`] that knows `--json` and `--quiet`,
//! and documented exit codes ([`exit`]).
#![deny(missing_docs)]

pub mod args;
mod commands;
mod complete;
mod context;
pub mod exit;
mod local;
mod man;
pub mod printer;
mod render;

use std::process::ExitCode;

use clap::Parser;

use crate::args::Cli;
use crate::context::Context;
use crate::printer::{Mode, Printer};

/// Parses the command line, runs the command, prints, and returns the exit code.
pub fn main() -> ExitCode {
    complete::answer_if_asked();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // clap quotes the arguments it refuses: escape what they hold.
            let message = codeb::model::escape_controls(e.render().to_string().trim_end());
            if std::env::args().any(|a| a == "--json") {
                // Even a usage error is one JSON document on stdout when JSON was asked for.
                let error = codeb::Error::invalid(message).with_context("step", "parse");
                return exit::report(&Printer::new(Mode::Json, clap::ColorChoice::Never), &error);
            }
            eprintln!("{message}");
            return ExitCode::from(exit::USAGE);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(exit::OK);
        }
    };
    let mode = if cli.json {
        Mode::Json
    } else if cli.quiet {
        Mode::Quiet
    } else {
        Mode::Human
    };
    let printer = Printer::new(mode, cli.color);
    trace_backends(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            return exit::report(&printer, &codeb::Error::internal("cannot start the async runtime").with_source(e));
        }
    };
    let ctx = Context::new(printer.clone(), cli.config);
    match runtime.block_on(commands::run(cli.command, &ctx)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => exit::report(&printer, &e),
    }
}

/// With `-v`, writes codeb's backend events (see
/// [`codeb_backends::transport::trace`]) to stderr, coloured as the printer
/// decided for it; the libraries' own events stay off, as they may show
/// bodies that carry secrets.
fn trace_backends(verbosity: u8) {
    use tracing_subscriber::layer::SubscriberExt;
    let level = match verbosity {
        0 => return,
        1 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    let only_codeb =
        tracing_subscriber::filter::Targets::new().with_target(codeb_backends::transport::trace::TARGET, level);
    let to_stderr = tracing_subscriber::fmt::layer().with_writer(anstream::stderr).with_target(false);
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(to_stderr).with(only_codeb));
}
