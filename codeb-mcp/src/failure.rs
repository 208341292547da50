//! Why a tool call failed, as the agent reads it.
//!
//! Every failure (a hostile argument, a missing project, an unhealthy
//! release, a backend that is down) reaches the client as a *tool error*:
//! a result with `isError: true` whose one text block is the evidence as
//! JSON (`{"error": {...}}`: the SDK error's kind, message, failed step and
//! context), so a model can read it and decide. Protocol errors are left for
//! what the protocol itself rejects (an unknown tool, a malformed request).
//!
//! A tool error carries no `structuredContent`. The MCP specification says
//! of a tool's output schema: "Servers MUST provide structured results that
//! conform to this schema. Clients SHOULD validate structured results
//! against this schema." The error object is not the tool's result, so it
//! would not conform; and clients do validate it (the official TypeScript
//! SDK checks `structuredContent` even when `isError` is true, and answers
//! a mismatch with protocol error -32602, hiding the error from the model).
//! The specification's own example of a tool execution error is a text
//! block with `isError: true`, which every conforming client shows.

use codeb::Error;
use codeb::error::ErrorReport;
use codeb::model::ValidationError;
use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};
use serde::Serialize;

pub use codeb::error::UNTRUSTED_NOTICE;

/// What a tool error says when the server was started without a platform.
pub const NO_PLATFORM_HINT: &str = "The MCP server must be restarted with a platform file: `--config PATH` \
(or $CODEB_CONFIG; default ~/.config/codeb/platform.toml), e.g. `claude mcp add codeb -- we mcp serve --config PATH`. \
`we local up` writes one for a local stack; `--memory` serves an in-memory platform to try codeb out.";

/// A tool's failure: `{"error": ErrorReport}`, the shape `we --json` prints too.
#[derive(Clone, Debug, Serialize)]
pub struct ToolFailure {
    error: Box<ErrorReport>,
}

impl ToolFailure {
    /// A refused argument: the SDK's validation error, named by the argument it came from.
    pub fn invalid_argument(argument: &str, error: &ValidationError) -> Self {
        let mut failure = ToolFailure::from(Error::from(error.clone()));
        failure.error.field = Some(argument.to_owned());
        failure.error.message = format!("argument `{argument}`: {error}");
        failure
    }

    /// A refused argument, with the rule it broke (`must not be empty`).
    pub fn bad_argument(argument: &str, rule: &str) -> Self {
        let error = Error::invalid(format!("argument `{argument}` {rule}"));
        let mut failure = ToolFailure::from(error);
        failure.error.field = Some(argument.to_owned());
        failure.error.rule = Some(rule.to_owned());
        failure
    }

    /// The answer of every tool of a server started without a platform.
    pub fn no_platform(error: Error) -> Self {
        let mut failure = ToolFailure::from(error);
        failure.error.message = format!("the codeb MCP server has no platform: {}", failure.error.message);
        failure.error.hint = Some(NO_PLATFORM_HINT.to_owned());
        failure
    }

    /// The message and hint in one sentence.
    pub fn summary(&self) -> String {
        match &self.error.hint {
            Some(hint) => format!("{}. {hint}", self.error.message),
            None => self.error.message.clone(),
        }
    }

    /// The error's kind (`not_found`).
    pub fn kind(&self) -> &'static str {
        self.error.kind.as_str()
    }
}

impl From<Error> for ToolFailure {
    fn from(e: Error) -> Self {
        ToolFailure { error: Box::new(ErrorReport::from(&e)) }
    }
}

impl IntoCallToolResult for ToolFailure {
    /// An `isError` result whose one text block is the failure's JSON, with no
    /// structured content: the output schema describes successes only.
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        let text = serde_json::to_string(&self)
            .map_err(|e| rmcp::ErrorData::internal_error(format!("cannot serialise a tool error: {e}"), None))?;
        Ok(CallToolResult::error(vec![ContentBlock::text(text)]).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_error_is_readable_text_without_structured_content() {
        let failure = ToolFailure::from(Error::not_found("project ghost is not in the SSOT"));
        let CallToolResponse::Complete(result) = failure.into_call_tool_result().unwrap() else {
            panic!("a tool error is a result")
        };
        assert_eq!(result.is_error, Some(true));
        assert!(result.structured_content.is_none(), "the error object is not the tool's result");
        let text = &result.content[0].as_text().unwrap().text;
        let body: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(body["error"]["kind"], "not_found");
    }

    #[test]
    fn without_a_platform_every_answer_says_why_and_how_to_give_it_one() {
        let missing =
            Error::not_found("cannot read the platform file /etc/codeb.toml").with_context("hint", "pass --config");
        let failure = serde_json::to_value(ToolFailure::no_platform(missing)).unwrap();
        assert_eq!(failure["error"]["kind"], "not_found");
        assert!(failure["error"]["message"].as_str().unwrap().ends_with("/etc/codeb.toml"), "{failure}");
        assert!(failure["error"]["hint"].as_str().unwrap().contains("--config PATH"), "{failure}");
    }

    #[test]
    fn a_refused_argument_names_the_argument_field_and_rule() {
        let err = codeb::model::ProjectName::parse("shop;id").unwrap_err();
        let failure = serde_json::to_value(ToolFailure::invalid_argument("project", &err)).unwrap();
        assert_eq!(failure["error"]["kind"], "invalid");
        assert_eq!(failure["error"]["field"], "project");
        assert_eq!(failure["error"]["context"]["field"], "project name");
        assert!(failure["error"]["rule"].as_str().unwrap().contains("a-z"), "{failure}");
        assert!(failure["error"]["message"].as_str().unwrap().starts_with("argument `project`"));
    }
}
