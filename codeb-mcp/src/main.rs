//! `codeb-mcp`: the MCP server of codeb on stdio (default) or streamable HTTP.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// The codeb MCP server: deploy, roll back, route domains and manage env vars from an AI agent.
#[derive(Debug, Parser)]
#[command(name = "codeb-mcp", version, about)]
struct Cli {
    /// The platform file (default: $CODEB_CONFIG, then ~/.config/codeb/platform.toml).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(flatten)]
    serve: codeb_mcp::ServeArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let run = async {
        let options = cli.serve.options(cli.config)?;
        codeb_mcp::serve(options).await
    };
    let result = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(run),
        Err(e) => Err(codeb::Error::internal("cannot start the async runtime").with_source(e)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("codeb-mcp: {e}");
            ExitCode::FAILURE
        }
    }
}
