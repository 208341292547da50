//! Log frames to lines.
//!
//! The logs endpoint multiplexes stdout and stderr in frames that need not
//! end at a line break. Each stream keeps its own unfinished line, so a
//! stderr frame never splices into the middle of a stdout line; a line is
//! emitted, in arrival order, when its break arrives.

/// Which output stream a frame came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    Out,
    Err,
}

/// Collects frames into whole lines, keeping the last `tail`.
#[derive(Debug)]
pub(crate) struct Lines {
    tail: usize,
    done: std::collections::VecDeque<String>,
    partial_out: Vec<u8>,
    partial_err: Vec<u8>,
}

impl Lines {
    /// Keeps at most the last `tail` lines.
    pub(crate) fn new(tail: usize) -> Self {
        Lines { tail, done: Default::default(), partial_out: Vec::new(), partial_err: Vec::new() }
    }

    /// Adds one frame of `source`.
    pub(crate) fn push(&mut self, source: Source, frame: &[u8]) {
        let partial = match source {
            Source::Out => &mut self.partial_out,
            Source::Err => &mut self.partial_err,
        };
        partial.extend_from_slice(frame);
        let mut complete = Vec::new();
        while let Some(end) = partial.iter().position(|&b| b == b'\n') {
            let rest = partial.split_off(end + 1);
            let line = std::mem::replace(partial, rest);
            complete.push(line);
        }
        for line in complete {
            self.emit(&line);
        }
    }

    fn emit(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        self.done.push_back(String::from_utf8_lossy(line).into_owned());
        while self.done.len() > self.tail {
            self.done.pop_front();
        }
    }

    /// The lines, oldest first; an unfinished last line of either stream counts as a line.
    pub(crate) fn finish(mut self) -> Vec<String> {
        for partial in [std::mem::take(&mut self.partial_out), std::mem::take(&mut self.partial_err)] {
            if !partial.is_empty() {
                self.emit(&partial);
            }
        }
        self.done.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_become_lines_in_order_and_only_the_tail_is_kept() {
        let mut lines = Lines::new(3);
        lines.push(Source::Out, b"line1\nline2\n");
        lines.push(Source::Err, b"oops\r\n");
        lines.push(Source::Out, b"line3\n");
        assert_eq!(lines.finish(), ["line2", "oops", "line3"]);
    }

    #[test]
    fn a_line_split_across_frames_is_joined_and_other_streams_do_not_splice_in() {
        let mut lines = Lines::new(10);
        lines.push(Source::Out, b"hel");
        lines.push(Source::Err, b"warn\n");
        lines.push(Source::Out, b"lo\nlast without break");
        assert_eq!(lines.finish(), ["warn", "hello", "last without break"]);
    }

    #[test]
    fn a_zero_tail_keeps_nothing_and_invalid_utf8_is_replaced() {
        let mut lines = Lines::new(0);
        lines.push(Source::Out, b"a\nb\n");
        assert!(lines.finish().is_empty());
        let mut lines = Lines::new(5);
        lines.push(Source::Out, b"bad \xff byte\n");
        assert_eq!(lines.finish(), ["bad \u{fffd} byte"]);
    }
}
