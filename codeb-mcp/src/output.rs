//! Pieces shared by the tools' structured outputs.

use codeb::engine::PlannedChange;
use codeb::ops::Removal;
use schemars::JsonSchema;
use serde::Serialize;

use crate::failure::{ToolFailure, UNTRUSTED_NOTICE};

/// What a refused destructive call tells the agent.
pub const FORCE_HINT: &str =
    "Nothing was changed. These are the changes the call would make; call again with force: true to make them.";

/// Changes as data (`{"change": "remove_route", "host": ...}`): names, ids and ports, never a secret value.
pub fn changes(list: &[PlannedChange]) -> Result<Vec<serde_json::Value>, ToolFailure> {
    list.iter()
        .map(|c| {
            serde_json::to_value(c)
                .map_err(|e| codeb::Error::internal(format!("cannot serialise a change: {e}")).into())
        })
        .collect()
}

/// What a destructive tool did, or would do without `force`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RemovalOutput {
    /// Whether the changes were made (`false`: refused without `force`, nothing changed).
    pub applied: bool,
    /// The changes, in order.
    pub changes: Vec<serde_json::Value>,
    /// What to do next, when nothing was changed.
    pub hint: Option<String>,
}

impl RemovalOutput {
    /// The output of an SDK [`Removal`].
    pub fn from_removal(removal: &Removal) -> Result<Self, ToolFailure> {
        Ok(RemovalOutput {
            applied: removal.applied,
            changes: changes(&removal.changes)?,
            hint: (!removal.applied).then(|| FORCE_HINT.to_owned()),
        })
    }
}

/// Output of the app itself (log lines, a health check's answer), quoted and marked as untrusted.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Untrusted<T> {
    /// Always the same warning: the data is the app's, not codeb's.
    pub notice: String,
    /// The app's output, as data.
    pub data: T,
}

impl<T> Untrusted<T> {
    /// Wraps `data` with the warning.
    pub fn new(data: T) -> Self {
        Untrusted { notice: UNTRUSTED_NOTICE.to_owned(), data }
    }
}
