//! `we mcp serve` and `we control serve`: the servers a client talks to on
//! stdio (an MCP client; a codeb client over SSH), started from the CLI.
//!
//! The protocol owns stdout, so nothing here prints there.

use codeb_backends::control::ControlPaths;

use crate::args::{ControlCommand, McpCommand};
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

pub async fn control(cmd: ControlCommand) -> codeb::Result<u8> {
    let ControlCommand::Serve { state, secrets, key_file } = cmd;
    codeb_backends::control::serve_stdio(ControlPaths { state, secrets, key_file }).await?;
    Ok(OK)
}
