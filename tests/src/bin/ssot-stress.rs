//! A child process for the SSOT process tests: it writes the file-backed SSOT
//! in a loop (to be killed at random instants) or allocates ports through it
//! (to be run fifty at a time), so the tests can check what crashes and
//! concurrent processes leave in the file.
//!
//! ```text
//! ssot-stress write-loop <STATE_PATH>
//! ssot-stress allocate <STATE_PATH> <PROJECT>
//! ```

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use codeb::model::{Environment, ProjectName, Service};
use codeb::ports::{PortKey, PortRanges, PortRegistry, SsotPortRegistry};
use codeb::ssot::{Ssot, StateStore};
use codeb::{Error, ErrorKind, Result};
use codeb_backends::transport::LocalTransport;
use codeb_backends::{FileStateStore, ProcPortProbe};

/// How many `p<revision>` projects the write loop keeps, so the document spans
/// several pages (a torn write would show) without growing forever.
const WINDOW: u64 = 100;

const USAGE: &str = "usage: ssot-stress write-loop <STATE_PATH>\n       ssot-stress allocate <STATE_PATH> <PROJECT>";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let args: Option<Vec<&str>> = args.iter().map(|a| a.to_str()).collect();
    let outcome = match args.as_deref() {
        Some(["write-loop", path]) => write_loop(PathBuf::from(path)),
        Some(["allocate", path, project]) => allocate(PathBuf::from(path), project),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ssot-stress: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Commits a change forever, printing each committed revision once it is committed.
fn write_loop(path: PathBuf) -> Result<()> {
    let store = FileStateStore::new(path);
    let mut stdout = std::io::stdout().lock();
    loop {
        let commit = store.update(&mut roll_window)?;
        if !commit.changed {
            return Err(Error::internal("the write loop's update changed nothing"));
        }
        writeln!(stdout, "{}", commit.revision)
            .and_then(|()| stdout.flush())
            .map_err(|e| Error::new(ErrorKind::Unavailable, "cannot print").with_source(e))?;
    }
}

/// Adds project `p<next revision>` and drops the one [`WINDOW`] revisions older.
fn roll_window(doc: &mut Ssot) -> Result<()> {
    let next = doc.revision.checked_add(1).ok_or_else(|| Error::conflict("the revision cannot grow any further"))?;
    let mut project = codeb::ssot::ProjectRecord::default();
    project.environments.insert(Environment::Staging, Default::default());
    doc.projects.insert(ProjectName::parse(&format!("p{next}"))?, project);
    if let Some(old) = next.checked_sub(WINDOW).filter(|old| *old > 0) {
        doc.projects.remove(&ProjectName::parse(&format!("p{old}"))?);
    }
    Ok(())
}

/// Allocates `project`'s staging app and postgres ports and prints them.
fn allocate(path: PathBuf, project: &str) -> Result<()> {
    let project = ProjectName::parse(project)?;
    let store: Arc<dyn StateStore> = Arc::new(FileStateStore::new(path));
    let registry = SsotPortRegistry::new(
        store,
        Arc::new(ProcPortProbe::new(Arc::new(LocalTransport::new()))),
        PortRanges::default(),
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| Error::internal("cannot start the async runtime").with_source(e))?;
    let (app, postgres) = runtime.block_on(async {
        let key = |service| PortKey::new(project.clone(), Environment::Staging, service);
        let app = registry.allocate(&key(Service::App)).await?;
        let postgres = registry.allocate(&key(Service::Postgres)).await?;
        Ok::<_, Error>((app, postgres))
    })?;
    writeln!(std::io::stdout(), "app={app} postgres={postgres}")
        .map_err(|e| Error::new(ErrorKind::Unavailable, "cannot print").with_source(e))
}
