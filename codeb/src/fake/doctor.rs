//! A server that answers every doctor's question as a healthy one would.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::fleet::ServerDoctor;
use crate::{Error, Result};

/// A healthy server in memory: logins work, 1 TiB is free, its clock is
/// this machine's; [`FakeDoctor::set_clock_skew`] and
/// [`FakeDoctor::refuse_logins`] make it otherwise.
#[derive(Debug, Default)]
pub struct FakeDoctor {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    skew_seconds: i64,
    refuse_logins: bool,
}

impl FakeDoctor {
    /// A healthy server.
    pub fn new() -> Self {
        FakeDoctor::default()
    }

    /// Sets the server's clock `seconds` ahead of this machine's (behind when negative).
    pub fn set_clock_skew(&self, seconds: i64) {
        self.state().skew_seconds = seconds;
    }

    /// Makes every login fail as a refused key would.
    pub fn refuse_logins(&self) {
        self.state().refuse_logins = true;
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl ServerDoctor for FakeDoctor {
    fn reach(&self) -> String {
        "memory".to_owned()
    }

    async fn login(&self) -> Result<()> {
        if self.state().refuse_logins {
            return Err(Error::new(crate::ErrorKind::Unauthenticated, "the server refused the key"));
        }
        Ok(())
    }

    async fn engine(&self) -> Result<String> {
        Ok("fake runtime".to_owned())
    }

    async fn disk_free(&self) -> Result<(String, u64)> {
        Ok(("/var/lib/containers".to_owned(), 1 << 40))
    }

    async fn clock(&self) -> Result<DateTime<Utc>> {
        Ok(Utc::now() + chrono::Duration::seconds(self.state().skew_seconds))
    }
}
