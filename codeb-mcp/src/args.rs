//! The command-line options of the server, shared by `codeb-mcp` and `we mcp serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::http::HttpOptions;
use crate::http::token::BearerToken;
use crate::launch::{PlatformSource, ServeOptions, Transport};

/// How to serve: stdio by default, `--http ADDR` for streamable HTTP.
#[derive(Clone, Debug, Args)]
pub struct ServeArgs {
    /// Serve streamable HTTP on this address (e.g. 127.0.0.1:8765) instead of stdio.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// Read the HTTP bearer token from this file (default: $CODEB_MCP_TOKEN, else generate one and print it once to stderr).
    #[arg(long, value_name = "PATH", requires = "http")]
    pub token_file: Option<PathBuf>,
    /// Accept this Origin (scheme://host:port) besides none; repeat for more (default: http://127.0.0.1:PORT, http://localhost:PORT).
    #[arg(long, value_name = "ORIGIN", requires = "http")]
    pub allowed_origin: Vec<String>,
    /// Accept this Host (name:port, or name for any port); repeat for more (default: 127.0.0.1:PORT, localhost:PORT, [::1]:PORT).
    #[arg(long, value_name = "HOST", requires = "http")]
    pub allowed_host: Vec<String>,
    /// Serve Platform::memory(): everything on in-memory fakes, nothing leaves the process (to try it out).
    #[arg(long)]
    pub memory: bool,
}

impl ServeArgs {
    /// The options these arguments describe; `config` is the platform file given with `--config`.
    pub fn options(self, config: Option<PathBuf>) -> codeb::Result<ServeOptions> {
        let platform = if self.memory { PlatformSource::Memory } else { PlatformSource::Config(config) };
        let transport = match self.http {
            None => Transport::Stdio,
            Some(addr) => {
                let token = match (&self.token_file, std::env::var("CODEB_MCP_TOKEN")) {
                    (Some(path), _) => Some(BearerToken::read(path)?),
                    (None, Ok(text)) if !text.is_empty() => Some(BearerToken::parse(&text)?),
                    _ => None,
                };
                Transport::Http(HttpOptions {
                    addr,
                    token,
                    allowed_hosts: self.allowed_host,
                    allowed_origins: self.allowed_origin,
                })
            }
        };
        Ok(ServeOptions { platform, transport })
    }
}
