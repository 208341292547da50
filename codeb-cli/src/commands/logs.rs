//! `we logs`

use std::collections::VecDeque;
use std::time::Duration;

use crate::args::LogsArgs;
use crate::context::Context;
use crate::exit::OK;
use crate::printer::Mode;

/// How often `--follow` asks for new lines.
const FOLLOW_INTERVAL: Duration = Duration::from_secs(1);

pub async fn run(args: LogsArgs, ctx: &Context) -> codeb::Result<u8> {
    let platform = ctx.platform().await?;
    let (project, env) = (&args.target.project, &args.target.env);
    let mut shown: VecDeque<String> = VecDeque::new();
    loop {
        let lines = platform.logs(project, env, args.tail).await?;
        let fresh = new_lines(&shown, &lines);
        for line in &fresh {
            match ctx.printer.mode() {
                Mode::Json => ctx.printer.json_line(&serde_json::json!({ "line": line })),
                _ => ctx.printer.line(&printable(line)),
            }
        }
        shown = lines.into_iter().collect();
        if !args.follow {
            return Ok(OK);
        }
        tokio::time::sleep(FOLLOW_INTERVAL).await;
    }
}

/// A log line with control characters escaped, so an app cannot drive the terminal.
fn printable(line: &str) -> String {
    line.chars()
        .flat_map(|c| if c.is_control() && c != '\t' { c.escape_default().collect::<Vec<_>>() } else { vec![c] })
        .collect()
}

/// The lines of `latest` after the longest overlap with the end of `shown`.
fn new_lines(shown: &VecDeque<String>, latest: &[String]) -> Vec<String> {
    let max = shown.len().min(latest.len());
    let overlap = (0..=max)
        .rev()
        .find(|&n| shown.iter().skip(shown.len() - n).zip(latest.iter()).all(|(a, b)| a == b))
        .unwrap_or(0);
    latest[overlap..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn following_prints_only_what_is_new() {
        let shown: VecDeque<String> = ["a", "b", "c"].map(String::from).into();
        let latest: Vec<String> = ["b", "c", "d", "e"].map(String::from).into();
        assert_eq!(new_lines(&shown, &latest), ["d", "e"]);
        assert_eq!(new_lines(&VecDeque::new(), &latest), latest);
        assert!(new_lines(&shown, &["a", "b", "c"].map(String::from)).is_empty());
    }

    #[test]
    fn terminal_escapes_in_app_output_are_neutralised() {
        assert_eq!(printable("ok\x1b[2Jgone\tx"), "ok\\u{1b}[2Jgone\tx");
    }
}
