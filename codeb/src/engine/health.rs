//! Health checks: what "healthy" means for a release, and the HTTP probe that asks.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;

use crate::Result;
use crate::model::{HealthCheck, HealthPath, Port};

/// Longest body excerpt kept as evidence, in bytes.
pub const BODY_EXCERPT_BYTES: usize = 512;

/// One HTTP GET a probe sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeRequest {
    /// The address to connect to.
    pub host: IpAddr,
    /// The port to connect to.
    pub port: Port,
    /// The path to request.
    pub path: HealthPath,
    /// Time the request may take.
    pub timeout: Duration,
}

/// What a probe got back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeResponse {
    /// The HTTP status.
    pub status: u16,
    /// The start of the body (at most [`BODY_EXCERPT_BYTES`]).
    pub body: String,
}

/// Sends health check requests. The real one speaks HTTP; the fake asks the fake runtime.
///
/// A refused connection is `Unavailable`, a request that takes longer than
/// its timeout is `Timeout`.
#[async_trait]
pub trait HttpProbe: Send + Sync + std::fmt::Debug {
    /// Sends one GET and returns the status and a body excerpt.
    async fn get(&self, request: &ProbeRequest) -> Result<ProbeResponse>;
}

/// The verdict on one probe, with the evidence for people.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ProbeVerdict {
    /// Whether the probe counts as healthy.
    pub healthy: bool,
    /// What was seen: the status and a body excerpt, or the error.
    pub evidence: String,
}

impl fmt::Display for ProbeVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.evidence)
    }
}

/// Judges one probe result against the check.
pub fn judge(check: &HealthCheck, result: &Result<ProbeResponse>) -> ProbeVerdict {
    match result {
        Err(e) => ProbeVerdict { healthy: false, evidence: format!("no answer: {e}") },
        Ok(response) => {
            let excerpt = excerpt(&response.body);
            let status_ok = (check.min_status..=check.max_status).contains(&response.status);
            let body_ok = check.body_contains.as_deref().is_none_or(|needle| response.body.contains(needle));
            let evidence = match (status_ok, body_ok) {
                (false, _) => format!(
                    "status {} outside {}-{}; body {excerpt:?}",
                    response.status, check.min_status, check.max_status
                ),
                (true, false) => format!(
                    "status {} but the body lacks {:?}; body {excerpt:?}",
                    response.status,
                    check.body_contains.as_deref().unwrap_or_default()
                ),
                (true, true) => format!("status {}", response.status),
            };
            ProbeVerdict { healthy: status_ok && body_ok, evidence }
        }
    }
}

/// The first [`BODY_EXCERPT_BYTES`] of a body, cut at a character boundary.
pub fn excerpt(body: &str) -> &str {
    let mut end = body.len().min(BODY_EXCERPT_BYTES);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    &body[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, ErrorKind};

    fn response(status: u16, body: &str) -> Result<ProbeResponse> {
        Ok(ProbeResponse { status, body: body.to_owned() })
    }

    #[test]
    fn status_range_and_body_substring_decide() {
        let mut check = HealthCheck::default();
        assert!(judge(&check, &response(200, "ok")).healthy);
        assert!(judge(&check, &response(302, "")).healthy);
        let bad = judge(&check, &response(503, "down for maintenance"));
        assert!(!bad.healthy);
        assert!(bad.evidence.contains("503") && bad.evidence.contains("down for maintenance"), "{bad}");
        check.body_contains = Some("ready".into());
        assert!(!judge(&check, &response(200, "starting")).healthy);
        assert!(judge(&check, &response(200, "ready: yes")).healthy);
        let refused = judge(&check, &Err(Error::new(ErrorKind::Unavailable, "connection refused")));
        assert!(!refused.healthy && refused.evidence.contains("connection refused"));
    }

    #[test]
    fn excerpts_are_bounded_and_cut_on_char_boundaries() {
        let body = "é".repeat(BODY_EXCERPT_BYTES);
        let cut = excerpt(&body);
        assert!(cut.len() <= BODY_EXCERPT_BYTES);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
