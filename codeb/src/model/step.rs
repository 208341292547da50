//! The steps of a deploy, rollback or removal: what progress reports and
//! what a failed release records.

use std::fmt;

/// A step of a deploy, rollback or recovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Planning: reading the SSOT and the backends to decide the changes.
    Plan,
    /// Taking the environment's deploy lock.
    Lock,
    /// Storing the environment's variables.
    Configure,
    /// Allocating ports in the SSOT.
    AllocatePorts,
    /// Creating or starting PostgreSQL and Redis.
    Accessories,
    /// Making the image present.
    Image,
    /// Running the release command once, before the new release starts.
    ReleaseCommand,
    /// Creating and starting the release's container.
    StartRelease,
    /// Waiting until the release answers healthy.
    HealthCheck,
    /// Pointing the proxy route at the release.
    SwitchRoute,
    /// Ensuring the DNS records.
    Dns,
    /// Draining and stopping the previous release.
    StopPrevious,
    /// Recording the outcome in the SSOT.
    Record,
    /// Watching the new release after the cutover.
    Watch,
    /// Removing a project's containers, networks and volumes.
    Remove,
    /// Undoing what a failed deploy created.
    Cleanup,
    /// Nothing failed in a step: the process doing the deploy stopped (a crash, a kill) and recovery cleaned up.
    Interrupted,
}

impl Step {
    /// The step's stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Plan => "plan",
            Step::Lock => "lock",
            Step::Configure => "configure",
            Step::AllocatePorts => "allocate_ports",
            Step::Accessories => "accessories",
            Step::Image => "image",
            Step::ReleaseCommand => "release_command",
            Step::StartRelease => "start_release",
            Step::HealthCheck => "health_check",
            Step::SwitchRoute => "switch_route",
            Step::Dns => "dns",
            Step::StopPrevious => "stop_previous",
            Step::Record => "record",
            Step::Watch => "watch",
            Step::Remove => "remove",
            Step::Cleanup => "cleanup",
            Step::Interrupted => "interrupted",
        }
    }

    /// Every step, in the order a deploy runs them.
    pub const ALL: [Step; 17] = [
        Step::Plan,
        Step::Lock,
        Step::AllocatePorts,
        Step::Configure,
        Step::Accessories,
        Step::Image,
        Step::ReleaseCommand,
        Step::StartRelease,
        Step::HealthCheck,
        Step::SwitchRoute,
        Step::Dns,
        Step::Record,
        Step::StopPrevious,
        Step::Watch,
        Step::Remove,
        Step::Cleanup,
        Step::Interrupted,
    ];
}

impl std::str::FromStr for Step {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        Step::ALL
            .into_iter()
            .find(|step| step.as_str() == s)
            .ok_or_else(|| crate::Error::invalid(format!("unknown deploy step {s:?}")))
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
