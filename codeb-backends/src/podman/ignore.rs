//! The ignore file of a build context, read with Docker's rules (which
//! Podman's builds follow too): `.containerignore`, else `.dockerignore`.
//!
//! One pattern a line; `#` starts a comment line; leading and trailing
//! space is trimmed; a pattern is cleaned as a path (`./a//b/` is `a/b`, a
//! leading `/` dropped) and is relative to the context's root, so `*.md`
//! matches `README.md` but not `docs/a.md` (write `**/*.md` for that). `*`
//! and `?` never match `/`, `**` matches any number of directories, `[...]`
//! is a class and `\` escapes. A pattern that matches a directory matches
//! everything under it. A line starting with `!` is an exception, and the
//! last pattern that matches a path decides. Unlike Docker, `{a,b}` is an
//! alternation (globset's syntax).

use std::path::Path;

use codeb::{Error, Result};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// The ignore files, in the order Podman looks for them: the first that exists is used.
pub(crate) const IGNORE_FILES: [&str; 2] = [".containerignore", ".dockerignore"];

/// The patterns of one ignore file.
#[derive(Debug)]
pub(crate) struct IgnoreRules {
    set: GlobSet,
    /// Per pattern, whether it is an exception (`!`).
    exceptions: Vec<bool>,
    /// The exceptions' cleaned patterns, each with a trailing `/`.
    exception_dirs: Vec<String>,
}

/// Whether a path is sent, given what its parent directory's rules were.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// The last pattern that matched the path or any directory above it.
    last_match: Option<usize>,
}

impl IgnoreRules {
    /// Rules that ignore nothing.
    pub(crate) fn none() -> Self {
        IgnoreRules { set: GlobSet::empty(), exceptions: Vec::new(), exception_dirs: Vec::new() }
    }

    /// Parses the text of the ignore file `name`; a pattern that is not a
    /// glob is refused naming its line, never quoting it.
    pub(crate) fn parse(name: &str, text: &str) -> Result<Self> {
        let mut set = GlobSetBuilder::new();
        let (mut exceptions, mut exception_dirs) = (Vec::new(), Vec::new());
        for (number, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
            if line.starts_with('#') {
                continue;
            }
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, clean(rest.trim())),
                None => (false, clean(line)),
            };
            let glob =
                GlobBuilder::new(&pattern).literal_separator(true).backslash_escape(true).build().map_err(|_| {
                    Error::invalid(format!("{name}: line {}: not a valid pattern", number + 1))
                        .with_context("file", name)
                        .with_context("line", number + 1)
                })?;
            set.add(glob);
            exceptions.push(exception);
            if exception {
                exception_dirs.push(format!("{pattern}/"));
            }
        }
        let set = set.build().map_err(|e| Error::invalid(format!("{name}: too many patterns")).with_source(e))?;
        Ok(IgnoreRules { set, exceptions, exception_dirs })
    }

    /// The verdict on `path` (relative to the context, `/`-separated), whose
    /// parent directory's verdict was `parent`.
    pub(crate) fn judge(&self, path: &Path, parent: Verdict) -> Verdict {
        let own = self.set.matches(path).into_iter().max();
        Verdict { last_match: parent.last_match.max(own) }
    }

    /// Whether a path with `verdict` is left out of the context.
    pub(crate) fn excludes(&self, verdict: Verdict) -> bool {
        verdict.last_match.is_some_and(|i| !self.exceptions[i])
    }

    /// Whether an excluded directory may be skipped whole: Docker's rule,
    /// unless an exception's pattern starts with the directory's path.
    pub(crate) fn skips_dir(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        !self.exception_dirs.iter().any(|pattern| pattern.starts_with(&prefix))
    }
}

/// `pattern` cleaned as Go's `filepath.Clean` does, then made relative
/// (a leading `/` dropped): `.` parts go, `..` takes the part before it.
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if pattern.starts_with('/') => {}
            _ => parts.push(part),
        }
    }
    if parts.is_empty() { ".".to_owned() } else { parts.join("/") }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `path` is sent under `rules`, judged as the walk judges it: each directory above it first.
    fn sent(rules: &IgnoreRules, path: &str) -> bool {
        let mut verdict = Verdict::default();
        let mut so_far = String::new();
        for part in path.split('/') {
            if !so_far.is_empty() {
                so_far.push('/');
            }
            so_far.push_str(part);
            verdict = rules.judge(Path::new(&so_far), verdict);
        }
        !rules.excludes(verdict)
    }

    #[test]
    fn patterns_are_relative_to_the_root_and_a_directory_takes_its_contents() {
        let rules = IgnoreRules::parse(".dockerignore", "# secrets\n.env\n*.md\n/dist/\n./tmp//cache\n").unwrap();
        for (path, expected) in [
            (".env", false),
            ("config/.env", true),
            ("README.md", false),
            ("docs/guide.md", true),
            ("dist", false),
            ("dist/app.js", false),
            ("tmp/cache/x", false),
            ("tmp/other", true),
            ("src/index.js", true),
        ] {
            assert_eq!(sent(&rules, path), expected, "{path}");
        }
    }

    #[test]
    fn double_stars_span_directories_and_the_last_match_decides() {
        let rules = IgnoreRules::parse(".dockerignore", "**/*.log\nnode_modules\n!node_modules/keep\n!important.log\n")
            .unwrap();
        for (path, expected) in [
            ("a.log", false),
            ("deep/er/b.log", false),
            ("important.log", true),
            ("node_modules/left/x.js", false),
            ("node_modules/keep/y.js", true),
            ("node_modules/keep/z.log", true),
        ] {
            assert_eq!(sent(&rules, path), expected, "{path} (z.log: the exception for its directory comes last)");
        }
        let order = IgnoreRules::parse(".dockerignore", "!keep.txt\n*.txt\n").unwrap();
        assert!(!sent(&order, "keep.txt"), "an exception before the pattern it excepts from has no effect");
    }

    #[test]
    fn an_excluded_directory_is_skipped_unless_an_exception_reaches_into_it() {
        let rules = IgnoreRules::parse(".dockerignore", "node_modules\ncache\n!cache/keep\n!**/wanted\n").unwrap();
        assert!(rules.skips_dir("node_modules"), "Docker skips it: `!**/wanted` does not start with it");
        assert!(!rules.skips_dir("cache"));
    }

    #[test]
    fn comments_blank_lines_and_a_byte_order_mark_are_no_patterns() {
        let rules =
            IgnoreRules::parse(".dockerignore", "\u{feff}# a comment\n\n   \n  # not a comment: a pattern\n").unwrap();
        assert_eq!(rules.exceptions.len(), 1);
        assert!(!sent(&rules, "# not a comment: a pattern"));
    }

    #[test]
    fn a_broken_pattern_is_refused_by_its_line_unquoted() {
        let err = IgnoreRules::parse(".containerignore", "ok\n[hunter2\n").unwrap_err();
        assert_eq!(err.context_value("line"), Some("2"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn paths_are_cleaned_like_go_does() {
        for (pattern, cleaned) in [("./a//b/", "a/b"), ("/a/../b", "b"), ("../x", "../x"), ("/..", "."), ("", ".")] {
            assert_eq!(clean(pattern), cleaned, "{pattern}");
        }
    }
}
