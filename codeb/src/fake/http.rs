//! The fake HTTP probe: asks the fake runtime how the app on a port answers.

use std::sync::Arc;

use async_trait::async_trait;

use super::{AppBehaviour, FakeRuntime, Faults};
use crate::engine::{HttpProbe, ProbeRequest, ProbeResponse};
use crate::{Error, ErrorKind, Result};

/// Operation names [`FakeHttpProbe`] accepts in its [`Faults`].
pub const HTTP_OPS: &[&str] = &["get"];

/// Probes apps in a [`FakeRuntime`]: a port no running container publishes
/// refuses, an app set to hang times out after the request's timeout.
#[derive(Debug)]
pub struct FakeHttpProbe {
    runtime: Arc<FakeRuntime>,
    faults: Faults,
}

impl FakeHttpProbe {
    /// A probe of the apps in `runtime`.
    pub fn new(runtime: Arc<FakeRuntime>) -> Self {
        FakeHttpProbe { runtime, faults: Faults::new("fake-http", HTTP_OPS) }
    }

    /// The fault injection of this probe (operations: [`HTTP_OPS`]).
    pub fn faults(&self) -> &Faults {
        &self.faults
    }
}

#[async_trait]
impl HttpProbe for FakeHttpProbe {
    async fn get(&self, request: &ProbeRequest) -> Result<ProbeResponse> {
        self.faults.enter("get").await?;
        match self.runtime.app_behind(request.port) {
            AppBehaviour::Serve { status, body } => Ok(ProbeResponse { status, body }),
            AppBehaviour::Refuse => {
                Err(Error::new(ErrorKind::Unavailable, format!("connection refused on port {}", request.port)))
            }
            AppBehaviour::Hang => {
                tokio::time::sleep(request.timeout).await;
                Err(Error::new(ErrorKind::Timeout, format!("no response within {:?}", request.timeout)))
            }
        }
    }
}
