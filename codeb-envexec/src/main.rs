//! `codeb-envexec DIR NAME... -- PROGRAM [ARG...]`: sets each environment
//! variable `NAME` to the contents of the file `DIR/NAME`, then replaces
//! itself with `PROGRAM ARG...`.
//!
//! It is how a container gets secret environment variables that inspecting
//! it never shows: Podman shows a container's whole environment (an
//! env-type Podman secret included) in `podman inspect` and in its OCI
//! config, but a secret file only by name. So codeb delivers each secret as
//! a file and runs this program first, with the image's own entrypoint and
//! command after the `--`. It needs nothing from the image (no shell, no
//! libc: codeb-backends builds it static), and prints a failure to stderr
//! with the exit codes of env(1): 125 when it fails itself (bad arguments,
//! an unreadable secret), 126 when the program cannot run, 127 when it is
//! not there. A secret's value is never printed.

mod invocation;

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::ExitCode;

use invocation::{Failure, Invocation};

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let failure = run(&args);
    eprintln!("codeb-envexec: {failure}");
    ExitCode::from(failure.exit_code())
}

/// Runs what `args` ask for; returns only with why it could not.
fn run(args: &[OsString]) -> Failure {
    let invocation = match Invocation::parse(args) {
        Ok(invocation) => invocation,
        Err(failure) => return failure,
    };
    match invocation.command() {
        // `exec` returns only when the program could not be run.
        Ok((program, mut command)) => Failure::exec(program, command.exec()),
        Err(failure) => failure,
    }
}
