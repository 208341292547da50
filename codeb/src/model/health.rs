//! What "healthy" means for a release: the path to probe, the statuses and
//! body that count, and the timings of the probes.

use std::time::Duration;

use crate::model::ValidationError;

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
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
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
    #[cfg_attr(feature = "schemars", schemars(with = "u64"))]
    pub interval: Duration,
    /// Time one probe may take.
    #[serde(with = "millis", rename = "timeout_ms")]
    #[cfg_attr(feature = "schemars", schemars(with = "u64"))]
    pub timeout: Duration,
    /// Time to wait after start before the first probe.
    #[serde(with = "millis", rename = "start_period_ms")]
    #[cfg_attr(feature = "schemars", schemars(with = "u64"))]
    pub start_period: Duration,
    /// Time after which a release that never answered healthy fails.
    #[serde(with = "millis", rename = "deadline_ms")]
    #[cfg_attr(feature = "schemars", schemars(with = "u64"))]
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

impl HealthCheck {
    /// Refuses a check that cannot judge a release: an empty status range,
    /// no pause between probes (a busy loop), no time for a probe, or a
    /// failure threshold of zero (the watch would never count a failure).
    pub fn check(&self) -> Result<(), ValidationError> {
        if self.min_status > self.max_status {
            let range = format!("{}-{}", self.min_status, self.max_status);
            return Err(ValidationError::new(
                "healthcheck.status",
                &range,
                "is a range whose low end is at most its high end",
            ));
        }
        for (field, value) in [("healthcheck.interval", self.interval), ("healthcheck.timeout", self.timeout)] {
            if value.is_zero() {
                return Err(ValidationError::new(field, "0s", "is longer than 0s"));
            }
        }
        if self.failure_threshold == 0 {
            return Err(ValidationError::new("healthcheck.failure_threshold", "0", "is at least 1"));
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_that_cannot_judge_is_refused_naming_its_field() {
        assert!(HealthCheck::default().check().is_ok());
        let zero = |f: fn(&mut HealthCheck)| {
            let mut check = HealthCheck::default();
            f(&mut check);
            check.check().unwrap_err().field()
        };
        assert_eq!(zero(|c| c.interval = Duration::ZERO), "healthcheck.interval");
        assert_eq!(zero(|c| c.timeout = Duration::ZERO), "healthcheck.timeout");
        assert_eq!(zero(|c| c.failure_threshold = 0), "healthcheck.failure_threshold");
        assert_eq!(zero(|c| (c.min_status, c.max_status) = (500, 200)), "healthcheck.status");
    }

    #[test]
    fn health_paths_are_validated() {
        assert!(HealthPath::parse("/healthz?full=1").is_ok());
        for bad in ["healthz", "/a b", "/\n", "/\u{7f}", ""] {
            assert!(HealthPath::parse(bad).is_err(), "{bad:?}");
        }
    }
}
