//! The few output pieces that are the MCP server's own, each generic over
//! the SDK type it wraps: every tool answers with an SDK result type, and
//! these add only what a model needs around it (a JSON object at the top, a
//! notice on app output, a hint after a refusal).

use codeb::engine::Rollback;
use codeb::ops::Removal;
use schemars::JsonSchema;
use serde::Serialize;

use crate::failure::UNTRUSTED_NOTICE;

/// What a refused destructive call tells the agent.
pub const FORCE_HINT: &str =
    "Nothing was changed. These are the changes the call would make; call again with force: true to make them.";

/// A list as a tool's answer, which must be a JSON object.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Items<T> {
    /// The items, in the SDK's order.
    pub items: Vec<T>,
}

/// Output of the app itself (log lines, a health check's answer, a failure
/// reason quoting one), quoted and marked as untrusted.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Untrusted<T> {
    /// Always the same warning: the data quotes the app, it is not codeb's word.
    pub notice: String,
    /// The SDK's answer, as data.
    pub data: T,
}

impl<T> Untrusted<T> {
    /// Wraps `data` with the warning.
    pub fn new(data: T) -> Self {
        Untrusted { notice: UNTRUSTED_NOTICE.to_owned(), data }
    }
}

/// An SDK result that says whether its changes were made.
pub trait Applied {
    /// Whether the changes were made (`false`: refused without `force`).
    fn applied(&self) -> bool;
}

impl Applied for Removal {
    fn applied(&self) -> bool {
        self.applied
    }
}

impl Applied for Rollback {
    fn applied(&self) -> bool {
        self.applied
    }
}

/// The answer of a tool guarded by `force`: the SDK's result, with what to
/// do next when it was refused. The hint is worded for MCP (`force: true`),
/// which is why it is not in the SDK type.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Guarded<T> {
    /// The SDK's result.
    #[serde(flatten)]
    pub result: T,
    /// What to do next, when nothing was changed.
    pub hint: Option<String>,
}

impl<T: Applied> Guarded<T> {
    /// `result`, with the hint when it was refused.
    pub fn new(result: T) -> Self {
        let hint = (!result.applied()).then(|| FORCE_HINT.to_owned());
        Guarded { result, hint }
    }
}
