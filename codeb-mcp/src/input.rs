//! Arguments in, validated types out: every string an agent sends passes
//! through the SDK's own parser before anything else sees it, and a
//! rejection is a tool error naming the argument and the rule it broke.

use std::path::PathBuf;

use codeb::model::ValidationError;

use crate::failure::ToolFailure;

/// Longest project directory path accepted, in bytes.
const MAX_PATH_BYTES: usize = 4096;

/// Parses one required argument with an SDK parser (`ProjectName::parse`, `Environment::parse`, ...).
pub fn required<T>(
    argument: &str,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, ValidationError>,
) -> Result<T, ToolFailure> {
    parse(value).map_err(|e| ToolFailure::invalid_argument(argument, &e))
}

/// Parses one optional argument; absent stays `None`.
pub fn optional<T>(
    argument: &str,
    value: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, ValidationError>,
) -> Result<Option<T>, ToolFailure> {
    value.map(|v| required(argument, v, parse)).transpose()
}

/// A project directory: a non-empty path without control characters.
///
/// The directory is read only for its `codeb.toml`; what that file says is
/// validated by the SDK like any other input.
pub fn project_dir(argument: &str, value: &str) -> Result<PathBuf, ToolFailure> {
    if value.is_empty() {
        return Err(ToolFailure::bad_argument(argument, "must not be empty"));
    }
    if value.len() > MAX_PATH_BYTES {
        return Err(ToolFailure::bad_argument(argument, "is at most 4096 bytes"));
    }
    if value.chars().any(char::is_control) {
        return Err(ToolFailure::bad_argument(argument, "must not contain control characters"));
    }
    Ok(PathBuf::from(value))
}

/// An optional integer argument that says which argument it is when the
/// client sends something else (`"5"`): serde alone would answer "invalid
/// type: string, expected u32", naming neither. Its bounds are checked
/// after parsing ([`bounded`]), as a tool error naming the rule.
pub fn integer<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
    argument: &str,
    bounds: &str,
) -> Result<Option<u64>, D::Error> {
    use serde::Deserialize;
    match Option::<serde_json::Value>::deserialize(deserializer)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(other) => Err(serde::de::Error::custom(format!(
            "argument `{argument}` must be a JSON integer ({bounds}), not {other}"
        ))),
    }
}

/// A count bounded to `1..=max`, `default` when absent.
pub fn bounded(argument: &str, value: Option<u64>, default: u32, max: u32) -> Result<u32, ToolFailure> {
    match value.unwrap_or(u64::from(default)) {
        0 => Err(ToolFailure::bad_argument(argument, "must be at least 1")),
        n if n > u64::from(max) => Err(ToolFailure::bad_argument(argument, &format!("is at most {max}"))),
        n => u32::try_from(n).map_err(|_| ToolFailure::bad_argument(argument, &format!("is at most {max}"))),
    }
}

#[cfg(test)]
mod tests {
    use codeb::model::ProjectName;

    use super::*;

    #[test]
    fn a_hostile_value_is_refused_naming_the_argument() {
        let failure = required("project", "../etc", ProjectName::parse).unwrap_err();
        assert_eq!(failure.kind(), "invalid");
        assert!(optional("project", None, ProjectName::parse).unwrap().is_none());
    }

    #[test]
    fn paths_and_counts_have_bounds() {
        assert!(project_dir("path", "").is_err());
        assert!(project_dir("path", "a\nb").is_err());
        assert!(project_dir("path", "/srv/app").is_ok());
        assert_eq!(bounded("tail", None, 100, 1000).unwrap(), 100);
        assert!(bounded("tail", Some(0), 100, 1000).is_err());
        assert!(bounded("tail", Some(1001), 100, 1000).is_err());
    }

    #[test]
    fn an_integer_argument_sent_as_a_string_is_refused_naming_the_argument() {
        #[derive(Debug, serde::Deserialize)]
        struct Args {
            #[serde(default, deserialize_with = "tail")]
            tail: Option<u64>,
        }
        fn tail<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
            integer(d, "tail", "1-1000")
        }
        let refused = serde_json::from_value::<Args>(serde_json::json!({ "tail": "5" })).unwrap_err();
        assert_eq!(refused.to_string(), r#"argument `tail` must be a JSON integer (1-1000), not "5""#);
        assert_eq!(serde_json::from_value::<Args>(serde_json::json!({ "tail": 5 })).unwrap().tail, Some(5));
        assert_eq!(serde_json::from_value::<Args>(serde_json::json!({})).unwrap().tail, None);
        assert!(serde_json::from_value::<Args>(serde_json::json!({ "tail": -1 })).is_err());
    }
}
