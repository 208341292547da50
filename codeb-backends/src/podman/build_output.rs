//! What a build prints: each line is a `-v` event as it comes, and the last
//! lines go with the error of a build that fails, so its cause is at hand.
//!
//! A build gets no secrets (codeb sends no build arguments), so its output
//! may be shown whole.

use std::collections::VecDeque;

use codeb::Error;
use codeb::model::ImageRef;

use crate::transport::trace::TARGET;

/// How many of the last lines a failed build's error carries.
const KEPT_LINES: usize = 10;

/// The last lines of one build's output.
#[derive(Debug, Default)]
pub(crate) struct BuildOutput {
    last: VecDeque<String>,
}

impl BuildOutput {
    /// Takes one piece of the build's stream (zero or more lines).
    pub(crate) fn add(&mut self, tag: &ImageRef, piece: &str) {
        for line in piece.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
            tracing::debug!(target: TARGET, "build {tag}: {line}");
            if self.last.len() == KEPT_LINES {
                self.last.pop_front();
            }
            self.last.push_back(codeb::model::escape_controls(line));
        }
    }

    /// `error` with the last lines, as its `build_output` context.
    pub(crate) fn attach(self, error: Error) -> Error {
        if self.last.is_empty() {
            return error;
        }
        error.with_context("build_output", Vec::from(self.last).join(" | "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_build_carries_its_last_lines_without_control_characters() {
        let tag = ImageRef::parse("localhost/shop:build-1").unwrap();
        let mut output = BuildOutput::default();
        for n in 0..12 {
            output.add(&tag, &format!("STEP {n}\n"));
        }
        output.add(&tag, "\x1b[31mfailed\x1b[0m\n\n");
        let error = output.attach(Error::invalid("cannot build image localhost/shop:build-1"));
        let kept = error.context_value("build_output").unwrap();
        assert!(kept.starts_with("STEP 3 | "), "{kept}");
        assert!(kept.ends_with(" | \\u{1b}[31mfailed\\u{1b}[0m"), "{kept}");
        assert_eq!(kept.split(" | ").count(), KEPT_LINES);
    }

    #[test]
    fn a_build_that_printed_nothing_adds_no_context() {
        let error = BuildOutput::default().attach(Error::invalid("x"));
        assert_eq!(error.context_value("build_output"), None);
    }
}
