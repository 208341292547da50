//! What `server check` asks a server, over its transport: a login (a
//! program that does nothing), Podman's versions and storage root, the free
//! space there (`df`) and the clock (`date`), each a fixed argv.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use codeb::fleet::ServerDoctor;
use codeb::{Error, ErrorKind, Result};

use crate::PodmanRuntime;
use crate::transport::{Command, Transport};

/// The doctor of a server reached through `transport`, whose Podman is `podman`.
#[derive(Debug)]
pub struct TransportDoctor {
    transport: Arc<dyn Transport>,
    podman: Arc<PodmanRuntime>,
    reach: String,
}

impl TransportDoctor {
    /// Asks the server behind `transport`; `reach` says how it is reached, for people.
    pub fn new(transport: Arc<dyn Transport>, podman: Arc<PodmanRuntime>, reach: impl Into<String>) -> Self {
        TransportDoctor { transport, podman, reach: reach.into() }
    }

    /// Runs `command`, and its standard output when it exits 0.
    async fn output(&self, command: Command) -> Result<String> {
        let program = command.program().to_owned();
        let output = self.transport.run(&command).await?;
        if !output.success() {
            let said = String::from_utf8_lossy(&output.stderr);
            return Err(Error::new(ErrorKind::Unavailable, format!("{program} failed on the server: {}", said.trim()))
                .with_context("server", self.transport.server()));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

#[async_trait]
impl ServerDoctor for TransportDoctor {
    fn reach(&self) -> String {
        self.reach.clone()
    }

    async fn login(&self) -> Result<()> {
        self.output(Command::new("true")).await.map(drop)
    }

    async fn engine(&self) -> Result<String> {
        self.podman.engine_version().await
    }

    async fn disk_free(&self) -> Result<(String, u64)> {
        let root = self.podman.storage_root().await?;
        let df = self.output(Command::new("df").args(["-Pk", "--"]).arg(root.display().to_string())).await?;
        Ok((root.display().to_string(), available_bytes(&df, &root)?))
    }

    async fn clock(&self) -> Result<DateTime<Utc>> {
        let seconds = self.output(Command::new("date").args(["-u", "+%s"])).await?;
        let seconds: i64 = seconds.trim().parse().map_err(|_| unreadable("date", &seconds))?;
        DateTime::from_timestamp(seconds, 0).ok_or_else(|| unreadable("date", &seconds.to_string()))
    }
}

/// The available bytes of `df -Pk`'s one line for `path` (the fourth column, in KiB).
fn available_bytes(df: &str, path: &Path) -> Result<u64> {
    let kib = df.lines().nth(1).and_then(|line| line.split_whitespace().nth(3)).and_then(|k| k.parse::<u64>().ok());
    kib.map(|k| k * 1024).ok_or_else(|| unreadable("df", &format!("{} for {}", df.trim(), path.display())))
}

fn unreadable(program: &str, said: &str) -> Error {
    Error::internal(format!("cannot read what {program} printed: {:?}", said.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn df_s_portable_output_gives_the_available_kib_as_bytes() {
        let df = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/vda        263174212 70000000 40000000      64% /\n";
        assert_eq!(available_bytes(df, Path::new("/")).unwrap(), 40_000_000 * 1024);
        assert!(available_bytes("garbage", Path::new("/")).is_err());
    }
}
