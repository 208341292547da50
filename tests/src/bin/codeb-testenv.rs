//! The test harness's command line: starts and stops the local stack the
//! live tests run against.
//!
//! ```text
//! codeb-testenv up <DIR>      start the stack in DIR, build the test images,
//!                             remove what killed test runs left in Podman,
//!                             print `export CODEB_TEST_...=...` lines
//! codeb-testenv env <DIR>     print the export lines of the stack running in DIR
//! codeb-testenv status <DIR>  show each part, its PID and whether it answers
//! codeb-testenv down <DIR>    stop exactly what `up` started
//! ```
//!
//! Only the export lines go to stdout (so `eval "$(codeb-testenv up DIR)"`
//! works); progress and errors go to stderr. The PowerDNS API key appears
//! only in the export lines.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use codeb::Result;
use codeb_devstack::LocalStack;
use codeb_tests::{reap, testenv};

const USAGE: &str = "usage: codeb-testenv <up|env|status|down> <DIR>";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let (command, dir) = match args.as_slice() {
        [command, dir] => (command.to_string_lossy().into_owned(), PathBuf::from(dir)),
        _ => return usage(),
    };
    let outcome = match command.as_str() {
        "up" => up(&dir),
        "env" => env(&dir),
        "status" => status(&dir),
        "down" => down(&dir),
        _ => return usage(),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("codeb-testenv {command}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}

fn up(dir: &Path) -> Result<ExitCode> {
    eprintln!("codeb-testenv: starting the local stack in {} and building the test images", dir.display());
    let stack = testenv::up(dir)?;
    match reap::reap_orphans(&stack.endpoints().podman_socket) {
        Ok(reaped) if reaped.projects.is_empty() => {}
        Ok(reaped) => eprintln!(
            "codeb-testenv: removed what killed test runs left in Podman: {} objects of {}",
            reaped.removed,
            reaped.projects.join(", ")
        ),
        Err(e) => eprintln!("codeb-testenv: WARNING: could not clear what killed test runs left in Podman: {e}"),
    }
    for process in stack.processes() {
        eprintln!(
            "codeb-testenv:   {:<9} pid {:<7} {}",
            process.part,
            process.pid,
            stack.endpoints().describe(process.part)
        );
    }
    print_exports(&stack)
}

fn env(dir: &Path) -> Result<ExitCode> {
    print_exports(&LocalStack::open(dir)?)
}

fn print_exports(stack: &LocalStack) -> Result<ExitCode> {
    let lines = testenv::export_lines(&testenv::variables(stack.endpoints()));
    let mut stdout = std::io::stdout().lock();
    if stdout.write_all(lines.as_bytes()).and_then(|()| stdout.flush()).is_err() {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn status(dir: &Path) -> Result<ExitCode> {
    let status = LocalStack::status(dir)?;
    for part in &status.parts {
        let state = match (part.running, part.answering) {
            (true, true) => "up",
            (true, false) => "running, not answering",
            (false, _) => "not running",
        };
        println!("{:<9} pid {:<7} {:<23} {}  (log: {})", part.part, part.pid, state, part.endpoint, part.log.display());
    }
    Ok(if status.is_up() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn down(dir: &Path) -> Result<ExitCode> {
    let report = LocalStack::down(dir)?;
    if report.parts.is_empty() {
        eprintln!("codeb-testenv: no local stack was running in {}", dir.display());
    }
    for p in &report.parts {
        eprintln!("codeb-testenv: {} (pid {}) {}", p.part, p.pid, p.outcome);
    }
    Ok(ExitCode::SUCCESS)
}
