//! Health checks: what "healthy" means for a release, and the HTTP probe that asks.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;

use crate::Result;
use crate::model::{Port, ValidationError};

/// Longest body excerpt kept as evidence, in bytes.
pub const BODY_EXCERPT_BYTES: usize = 512;

/// The path a health check requests: starts with `/`, printable ASCII without spaces, at most 1024 bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HealthPath(String);

impl HealthPath {
    /// Validates `s` as a health check path.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let err = |rule: &str| Err(ValidationError::new("health path", s, rule));
        if !s.starts_with('/') {
            return err("must start with '/'");
        }
        if s.len() > 1024 {
            return err("is at most 1024 characters");
        }
        if !s.chars().all(|c| c.is_ascii_graphic()) {
            return err("must be printable ASCII without spaces");
        }
        Ok(HealthPath(s.to_owned()))
    }

    /// The root path `/`.
    pub fn root() -> Self {
        HealthPath("/".to_owned())
    }
}
crate::model::string_newtype!(HealthPath);

/// When a release counts as healthy. The defaults follow Kamal's.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// The path to request.
    pub path: HealthPath,
    /// The lowest status that counts as healthy.
    pub min_status: u16,
    /// The highest status that counts as healthy.
    pub max_status: u16,
    /// A substring the body must contain, if any.
    pub body_contains: Option<String>,
    /// Time between probes.
    #[serde(with = "millis", rename = "interval_ms")]
    pub interval: Duration,
    /// Time one probe may take.
    #[serde(with = "millis", rename = "timeout_ms")]
    pub timeout: Duration,
    /// Time to wait after start before the first probe.
    #[serde(with = "millis", rename = "start_period_ms")]
    pub start_period: Duration,
    /// Time after which a release that never answered healthy fails.
    #[serde(with = "millis", rename = "deadline_ms")]
    pub deadline: Duration,
    /// Consecutive failed probes that make a live release unhealthy during the watch window.
    pub failure_threshold: u32,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            path: HealthPath::root(),
            min_status: 200,
            max_status: 399,
            body_contains: None,
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
            start_period: Duration::ZERO,
            deadline: Duration::from_secs(30),
            failure_threshold: 3,
        }
    }
}

/// Serialises a duration as whole milliseconds.
pub(crate) mod millis {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        <u64 as serde::Deserialize>::deserialize(d).map(Duration::from_millis)
    }
}

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
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
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

    #[test]
    fn health_paths_are_validated() {
        assert!(HealthPath::parse("/healthz?full=1").is_ok());
        for bad in ["healthz", "/a b", "/\n", "/\u{7f}", ""] {
            assert!(HealthPath::parse(bad).is_err(), "{bad:?}");
        }
    }
}
