//! Starting the server: which platform, which transport. Shared by the
//! `codeb-mcp` binary and `we mcp serve`.

use std::path::PathBuf;

use codeb::engine::Platform;
use codeb::{Error, Result};
use rmcp::ServiceExt;

use crate::CodebServer;
use crate::http::{self, HttpOptions};
use crate::roots::ProjectRoots;

/// Where the platform comes from.
#[derive(Clone, Debug)]
pub enum PlatformSource {
    /// The platform file: the explicit path, else `$CODEB_CONFIG`, else the default path.
    Config(Option<PathBuf>),
    /// `Platform::memory()`: everything on in-memory fakes, for trying the server out.
    Memory,
}

/// How the server talks to its client.
#[derive(Clone, Debug)]
pub enum Transport {
    /// JSON-RPC over stdin/stdout; logs go to stderr only.
    Stdio,
    /// Streamable HTTP with a bearer token.
    Http(HttpOptions),
}

/// Everything `serve` needs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The platform.
    pub platform: PlatformSource,
    /// The transport.
    pub transport: Transport,
    /// The directories project paths must lie under; empty: see [`ServeOptions::roots`].
    pub project_roots: Vec<PathBuf>,
}

impl ServeOptions {
    /// The project roots to enforce: the ones given, else the working
    /// directory over HTTP (a network peer must not name any file), else none.
    pub fn roots(&self) -> Result<ProjectRoots> {
        match (&self.transport, self.project_roots.is_empty()) {
            (_, false) => ProjectRoots::only(&self.project_roots),
            (Transport::Http(_), true) => {
                let cwd = std::env::current_dir()
                    .map_err(|e| Error::internal("cannot read the working directory").with_source(e))?;
                ProjectRoots::only(&[cwd])
            }
            (Transport::Stdio, true) => Ok(ProjectRoots::any()),
        }
    }
}

/// Builds the platform through the one constructor every front end uses.
pub fn platform(source: &PlatformSource) -> Result<Platform> {
    match source {
        PlatformSource::Memory => Ok(Platform::memory()),
        PlatformSource::Config(explicit) => {
            codeb_backends::connect_discovered(explicit.as_deref(), "mcp").map(|(platform, _)| platform)
        }
    }
}

/// A future that completes on SIGINT (Ctrl-C) or SIGTERM; the handlers are in place when this returns.
fn stop_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let watch = |kind| signal(kind).map_err(|e| Error::internal("cannot watch for stop signals").with_source(e));
    let (mut interrupt, mut terminate) = (watch(SignalKind::interrupt())?, watch(SignalKind::terminate())?);
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Serves until the client leaves (stdio) or the process is interrupted (HTTP).
///
/// A platform that cannot be built (no platform file, a broken one) does not
/// stop the server: a client that only saw "connection closed" could not
/// say why. It serves anyway, and every tool answers with the error and how
/// to give the server a platform (see [`CodebServer::without_platform`]).
pub async fn serve(options: ServeOptions) -> Result<()> {
    let roots = options.roots()?;
    let (server, source) = match (platform(&options.platform), &options.platform) {
        (Ok(platform), PlatformSource::Memory) => (CodebServer::new(platform), "in-memory platform".to_owned()),
        (Ok(platform), PlatformSource::Config(_)) => (CodebServer::new(platform), "platform file".to_owned()),
        (Err(e), _) => {
            let source = format!("no platform: {e}; every tool answers with this error");
            (CodebServer::without_platform(e), source)
        }
    };
    let server = server.with_project_roots(roots.clone());
    match options.transport {
        Transport::Stdio => {
            eprintln!("codeb-mcp: serving {} tools over stdio ({source})", server.tools().len());
            // Lines reach rmcp through a pipe that bounds them (see `stdio`).
            let (lines_in, lines_out) = tokio::io::duplex(64 << 10);
            let stdin = tokio::io::BufReader::new(tokio::io::stdin());
            tokio::spawn(async move {
                if let Err(e) = crate::stdio::bounded_lines(stdin, lines_in).await {
                    eprintln!("codeb-mcp: cannot read stdin: {e}");
                }
            });
            let running = server
                .serve((lines_out, tokio::io::stdout()))
                .await
                .map_err(|e| Error::new(codeb::ErrorKind::Unavailable, format!("MCP handshake failed: {e}")))?;
            running.waiting().await.map_err(|e| Error::internal(format!("the MCP service stopped: {e}")))?;
            Ok(())
        }
        Transport::Http(http_options) => {
            let stop = stop_signal()?;
            let generated = http_options.token.is_none();
            let running = http::bind(server, http_options).await?;
            eprintln!("codeb-mcp: serving over streamable HTTP at {} ({source})", running.url());
            if generated {
                eprintln!("codeb-mcp: bearer token (shown once): {}", running.token().expose());
            }
            let dirs: Vec<String> = roots.dirs().iter().map(|d| d.display().to_string()).collect();
            eprintln!("codeb-mcp: reading projects only under {}", dirs.join(", "));
            running.run_until(stop).await;
            eprintln!("codeb-mcp: stopped");
            Ok(())
        }
    }
}
