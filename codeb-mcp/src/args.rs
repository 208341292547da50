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
    /// Serve streamable HTTP at /mcp on this address instead of stdio (`--http` alone: 127.0.0.1:8765).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = crate::http::DEFAULT_ADDR)]
    pub http: Option<SocketAddr>,
    /// Read the HTTP bearer token from this file (default: $CODEB_MCP_TOKEN, else generate one and print it once to stderr).
    #[arg(long, value_name = "PATH", requires = "http")]
    pub token_file: Option<PathBuf>,
    /// Accept requests carrying this Origin (scheme://host:port); repeat for more (default: http://127.0.0.1:PORT, http://localhost:PORT).
    #[arg(long, value_name = "ORIGIN", requires = "http")]
    pub allowed_origin: Vec<String>,
    /// Accept this Host (name:port, or name for any port); repeat for more (default: 127.0.0.1:PORT, localhost:PORT, `[::1]:PORT`).
    #[arg(long, value_name = "HOST", requires = "http")]
    pub allowed_host: Vec<String>,
    /// Serve Platform::memory(): everything on in-memory fakes, nothing leaves the process (to try it out).
    #[arg(long)]
    pub memory: bool,
    /// Read project directories (deploy, plan) only under this directory; repeat for more
    /// (default over HTTP: the working directory; over stdio: anywhere).
    #[arg(long, value_name = "DIR")]
    pub project_root: Vec<PathBuf>,
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
        Ok(ServeOptions { platform, transport, project_roots: self.project_root })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::ProjectRoots;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn http_alone_binds_loopback_and_the_http_options_need_it() {
        let cli = Cli::try_parse_from(["x", "--http"]).unwrap();
        assert_eq!(cli.serve.http, Some(crate::http::DEFAULT_ADDR.parse().unwrap()));
        assert!(cli.serve.http.unwrap().ip().is_loopback());
        assert!(Cli::try_parse_from(["x"]).unwrap().serve.http.is_none(), "stdio by default");
        assert!(Cli::try_parse_from(["x", "--allowed-host", "a.example"]).is_err(), "HTTP options need --http");
        let cli = Cli::try_parse_from(["x", "--http", "127.0.0.1:0", "--allowed-origin", "http://a:1"]).unwrap();
        match cli.serve.options(None).unwrap().transport {
            Transport::Http(http) => assert_eq!(http.allowed_origins, ["http://a:1"]),
            Transport::Stdio => panic!("--http serves HTTP"),
        }
    }

    #[test]
    fn http_reads_projects_only_under_the_working_directory_unless_told_otherwise() {
        let roots = |args: &[&str]| Cli::try_parse_from(args).unwrap().serve.options(None).unwrap().roots().unwrap();
        let cwd = std::env::current_dir().unwrap().canonicalize().unwrap();
        assert_eq!(roots(&["x", "--http", "127.0.0.1:0"]).dirs(), [cwd]);
        assert_eq!(roots(&["x"]), ProjectRoots::any(), "a stdio client runs as the same user");
        let tmp = tempfile::tempdir().unwrap();
        let given = tmp.path().to_str().unwrap();
        let expected = [tmp.path().canonicalize().unwrap()];
        assert_eq!(roots(&["x", "--project-root", given]).dirs(), expected);
        assert_eq!(roots(&["x", "--http", "127.0.0.1:0", "--project-root", given]).dirs(), expected);
    }
}
