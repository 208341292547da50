//! `we mcp serve`: the MCP server of `codeb-mcp`, started from the CLI.
//!
//! On stdio the protocol owns stdout, so nothing here prints there; the
//! server logs to stderr.

use crate::args::McpCommand;
use crate::context::Context;
use crate::exit::OK;

pub async fn run(cmd: McpCommand, ctx: &Context) -> codeb::Result<u8> {
    match cmd {
        McpCommand::Serve(args) => {
            codeb_mcp::serve(args.options(ctx.explicit_config())?).await?;
            Ok(OK)
        }
    }
}
