//! Whether a process still runs, from `/proc`, for stale-lock detection.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use codeb::engine::Liveness;
use codeb::{Error, ErrorKind, Result};

use crate::transport::Transport;

/// Reads the process table of the machine its transport reaches.
///
/// A lock records the host name and process id of its holder, and the
/// engine asks only about holders on its own host: build this over the
/// transport of the machine codeb runs on (the one whose host name goes into
/// the locks), not over a remote server's.
///
/// A process is alive while `/proc/<pid>/stat` exists and does not show it
/// as a zombie (`Z`) or dead (`X`): a holder that exited but was not yet
/// reaped by its parent runs no deploy.
#[derive(Debug, Clone)]
pub struct ProcLiveness {
    transport: Arc<dyn Transport>,
}

impl ProcLiveness {
    /// Liveness of the processes on the machine `transport` reaches.
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        ProcLiveness { transport }
    }
}

#[async_trait]
impl Liveness for ProcLiveness {
    async fn is_alive(&self, pid: u32) -> Result<bool> {
        let path = PathBuf::from(format!("/proc/{pid}/stat"));
        let stat = match self.transport.read_file(&path).await {
            Ok(stat) => stat,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        match state(&stat) {
            Some(state) => Ok(!matches!(state, b'Z' | b'X')),
            None => Err(Error::internal("unexpected shape of a process's stat file")
                .with_context("server", self.transport.server())
                .with_context("path", path.display())),
        }
    }
}

/// The state letter of a `/proc/<pid>/stat` line: the first field after the
/// command name, which is in parentheses and may itself hold `)` and spaces.
fn state(stat: &[u8]) -> Option<u8> {
    let close = stat.iter().rposition(|b| *b == b')')?;
    stat[close + 1..].iter().copied().find(|b| !b.is_ascii_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::LocalTransport;

    fn liveness() -> ProcLiveness {
        ProcLiveness::new(Arc::new(LocalTransport::new()))
    }

    #[test]
    fn the_state_is_read_after_the_last_parenthesis() {
        assert_eq!(state(b"42 (sh) S 1 42 42 0 -1"), Some(b'S'));
        assert_eq!(state(b"42 (a) b) Z 1 42"), Some(b'Z'));
        assert_eq!(state(b"42 no parenthesis"), None);
        assert_eq!(state(b"42 (sh)"), None);
    }

    #[tokio::test]
    async fn this_process_is_alive_and_a_reaped_child_is_not() {
        assert!(liveness().is_alive(std::process::id()).await.unwrap());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!liveness().is_alive(pid).await.unwrap());
    }

    #[tokio::test]
    async fn a_child_that_exited_but_was_not_reaped_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while liveness().is_alive(pid).await.unwrap() {
            assert!(std::time::Instant::now() < deadline, "{pid} never became a zombie");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        child.wait().unwrap();
    }
}
