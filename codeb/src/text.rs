//! What the `Display` impls of the SDK's results share: the way they join
//! lists, so every sentence about a result names things the same way.

use std::fmt::Display;

use crate::proxy::Upstream;

/// Items joined by commas.
pub(crate) fn list(items: &[impl Display]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// Upstreams joined by commas, or `nothing`.
pub(crate) fn upstreams(list: &[Upstream]) -> String {
    if list.is_empty() { "nothing".to_owned() } else { self::list(list) }
}
