//! The fake HTTP probe: asks the fake runtime how the app on a port answers.

use std::sync::Arc;

use async_trait::async_trait;

use super::{AppBehaviour, FakeRuntime};
use crate::engine::{HttpProbe, ProbeRequest, ProbeResponse};
use crate::{Error, ErrorKind, Result};

/// Probes apps in a [`FakeRuntime`]: a port no running container publishes
/// refuses, an app set to hang times out after the request's timeout.
#[derive(Debug)]
pub struct FakeHttpProbe {
    runtime: Arc<FakeRuntime>,
}

impl FakeHttpProbe {
    /// A probe of the apps in `runtime`.
    pub fn new(runtime: Arc<FakeRuntime>) -> Self {
        FakeHttpProbe { runtime }
    }
}

#[async_trait]
impl HttpProbe for FakeHttpProbe {
    async fn get(&self, request: &ProbeRequest) -> Result<ProbeResponse> {
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
