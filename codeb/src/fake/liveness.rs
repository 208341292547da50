//! The fake process table for stale-lock detection.

use std::collections::BTreeSet;
use std::sync::Mutex;

use crate::engine::Liveness;

/// Every process is alive until the test says it died.
#[derive(Debug, Default)]
pub struct FakeLiveness {
    dead: Mutex<BTreeSet<u32>>,
}

impl FakeLiveness {
    /// A process table where everything runs.
    pub fn new() -> Self {
        FakeLiveness::default()
    }

    /// Marks process `pid` as gone.
    pub fn kill(&self, pid: u32) {
        self.dead.lock().unwrap_or_else(|p| p.into_inner()).insert(pid);
    }
}

#[async_trait::async_trait]
impl Liveness for FakeLiveness {
    async fn is_alive(&self, pid: u32) -> crate::Result<bool> {
        Ok(!self.dead.lock().unwrap_or_else(|p| p.into_inner()).contains(&pid))
    }
}
