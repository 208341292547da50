//! The streamable HTTP transport: rmcp's streamable HTTP service behind
//! the [`guard::Guard`] (Host, Origin, bearer token), served by hyper,
//! bound to loopback unless told otherwise.

pub mod guard;
pub mod token;

use std::net::SocketAddr;
use std::sync::Arc;

use codeb::{Error, ErrorKind, Result};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::CodebServer;
use guard::{Guard, MCP_PATH, Policy};
use token::BearerToken;

/// The default address: loopback only.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8765";

/// How the HTTP transport listens and whom it lets in.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Where to listen (port 0: any free port).
    pub addr: SocketAddr,
    /// The bearer token; `None` generates one (shown once on stderr).
    pub token: Option<BearerToken>,
    /// Accepted `Host` values; empty means `127.0.0.1:PORT`, `localhost:PORT` and `[::1]:PORT` of the bound port
    /// (plus `IP:PORT` when bound to another specific address).
    pub allowed_hosts: Vec<String>,
    /// Accepted `Origin` values; empty means `http://127.0.0.1:PORT` and `http://localhost:PORT`.
    pub allowed_origins: Vec<String>,
}

impl HttpOptions {
    /// Loopback on `addr`'s port, a generated token, the default names.
    pub fn new(addr: SocketAddr) -> Self {
        HttpOptions { addr, token: None, allowed_hosts: Vec::new(), allowed_origins: Vec::new() }
    }
}

/// A running HTTP server.
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    token: BearerToken,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl HttpServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint's URL.
    pub fn url(&self) -> String {
        format!("http://{}{MCP_PATH}", self.addr)
    }

    /// The token requests must carry.
    pub fn token(&self) -> &BearerToken {
        &self.token
    }

    /// Stops accepting connections and ends every session.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        let _ = self.task.await;
    }

    /// Serves until `signal` completes, then shuts down.
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) {
        signal.await;
        self.shutdown().await;
    }
}

/// The names a server bound to `addr` answers to by default.
fn default_hosts(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    let mut hosts = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")];
    if !addr.ip().is_loopback() && !addr.ip().is_unspecified() {
        hosts.push(addr.to_string());
    }
    hosts
}

/// Binds and starts serving `server` over streamable HTTP.
pub async fn bind(server: CodebServer, options: HttpOptions) -> Result<HttpServer> {
    let listener = TcpListener::bind(options.addr)
        .await
        .map_err(|e| Error::new(ErrorKind::Unavailable, format!("cannot listen on {}", options.addr)).with_source(e))?;
    let addr = listener.local_addr().map_err(|e| Error::internal("no local address").with_source(e))?;
    let token = match options.token {
        Some(token) => token,
        None => BearerToken::generate()?,
    };
    let hosts = if options.allowed_hosts.is_empty() { default_hosts(addr) } else { options.allowed_hosts };
    let origins = if options.allowed_origins.is_empty() {
        vec![format!("http://127.0.0.1:{}", addr.port()), format!("http://localhost:{}", addr.port())]
    } else {
        options.allowed_origins
    };
    let cancel = CancellationToken::new();
    // rmcp's own Host check stays on as a second line behind the guard, with the same names.
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .enforce_origin_validation()
        .with_cancellation_token(cancel.child_token());
    let mcp = StreamableHttpService::new(move || Ok(server.clone()), Arc::new(LocalSessionManager::default()), config);
    let guard = Guard::new(mcp, Policy { token: token.clone() });
    let accept_cancel = cancel.clone();
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = accept_cancel.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    eprintln!("codeb-mcp: accept failed: {e}");
                    continue;
                }
            };
            let service = TowerToHyperService::new(guard.clone());
            let conn_cancel = accept_cancel.clone();
            tokio::spawn(async move {
                let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                tokio::pin!(conn);
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            eprintln!("codeb-mcp: connection ended with an error: {e}");
                        }
                    }
                    () = conn_cancel.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            });
        }
    });
    Ok(HttpServer { addr, token, cancel, task })
}
