//! The stdio transport with a bounded line: a message longer than
//! [`MAX_LINE_BYTES`] is answered with an error instead of being dropped
//! without a word (rmcp drops it, and its client waits forever).

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

/// The longest message read, newline included: rmcp's own cap, so every line
/// that passes here is one rmcp reads.
pub const MAX_LINE_BYTES: usize = rmcp::transport::async_rw::DEFAULT_MAX_LINE_LENGTH;

/// What stands in for a line over the cap: JSON that is no JSON-RPC message,
/// which rmcp answers with an Invalid Request error (it has no id to answer to).
const REFUSED: &[u8] = b"{\"refused\": \"a message longer than the server reads\"}\n";

/// Copies `input` to `output` line by line, never holding more than
/// [`MAX_LINE_BYTES`]; each longer line is skipped to its end and replaced by
/// [`REFUSED`], and said on stderr. Ends when `input` does.
pub(crate) async fn bounded_lines(
    mut input: impl AsyncBufRead + Unpin,
    mut output: impl AsyncWrite + Unpin,
) -> io::Result<()> {
    let mut line = Vec::new();
    let mut oversized = false;
    loop {
        let available = input.fill_buf().await?;
        if available.is_empty() {
            return Ok(());
        }
        let newline = available.iter().position(|b| *b == b'\n');
        let take = newline.map_or(available.len(), |at| at + 1);
        if !oversized && line.len() + take > MAX_LINE_BYTES {
            oversized = true;
            line = Vec::new();
        }
        if !oversized {
            line.extend_from_slice(&available[..take]);
        }
        input.consume(take);
        if newline.is_none() {
            continue;
        }
        if oversized {
            eprintln!("codeb-mcp: refused a message longer than {} MiB", MAX_LINE_BYTES >> 20);
            output.write_all(REFUSED).await?;
            oversized = false;
        } else {
            output.write_all(&line).await?;
            line.clear();
        }
        output.flush().await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_pass_whole_and_a_line_over_the_cap_becomes_the_refusal() {
        let long = vec![b'x'; MAX_LINE_BYTES + 10];
        let mut input = b"{\"a\":1}\n".to_vec();
        input.extend_from_slice(&long);
        input.extend_from_slice(b"\n{\"b\":2}\nno newline at the end");
        let mut out = Vec::new();
        bounded_lines(&input[..], &mut out).await.unwrap();
        let expected = [&b"{\"a\":1}\n"[..], REFUSED, b"{\"b\":2}\n"].concat();
        assert_eq!(out, expected);
    }
}
