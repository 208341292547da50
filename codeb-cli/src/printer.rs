//! The one place output is written: human text (with colour when it helps),
//! one JSON document with `--json`, nothing but errors with `--quiet`.

use std::io::{IsTerminal, Write};

use serde::Serialize;

/// How output is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Text for people.
    Human,
    /// One JSON document on stdout.
    Json,
    /// Nothing but errors.
    Quiet,
}

/// Writes every command's output.
#[derive(Clone, Debug)]
pub struct Printer {
    mode: Mode,
    color: bool,
}

/// A piece of human output with a tone.
#[derive(Clone, Copy, Debug)]
pub enum Tone {
    /// Something went well.
    Good,
    /// Something needs attention.
    Warn,
    /// Something failed.
    Bad,
    /// Secondary detail.
    Dim,
}

impl Printer {
    /// A printer for `mode`; colour only on a terminal and when `NO_COLOR` is unset.
    pub fn new(mode: Mode) -> Self {
        let color = mode == Mode::Human
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Printer { mode, color }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether progress may be shown (human mode on a terminal's stderr).
    pub fn shows_progress(&self) -> bool {
        self.mode == Mode::Human && std::io::stderr().is_terminal()
    }

    /// Prints a result: `human` renders it as text lines, or it is serialised as JSON.
    pub fn result<T: Serialize>(&self, value: &T, human: impl FnOnce(&Printer) -> Vec<String>) {
        match self.mode {
            Mode::Json => self.json(value),
            Mode::Human => {
                let mut out = std::io::stdout().lock();
                for line in human(self) {
                    let _ = writeln!(out, "{line}");
                }
            }
            Mode::Quiet => {}
        }
    }

    /// Prints a document that is JSON by nature (an SSOT record): pretty JSON in
    /// human mode too, nothing in quiet mode.
    pub fn json_or_pretty<T: Serialize>(&self, value: &T) {
        if self.mode != Mode::Quiet {
            self.json(value);
        }
    }

    /// Prints one JSON document on stdout.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) {
        let mut out = std::io::stdout().lock();
        match serde_json::to_string_pretty(value) {
            Ok(text) => {
                let _ = writeln!(out, "{text}");
            }
            Err(e) => {
                let _ = writeln!(out, "{{\"error\":{{\"kind\":\"internal\",\"message\":{:?}}}}}", e.to_string());
            }
        }
    }

    /// Prints one JSON line on stdout (for streams such as `logs --follow`).
    pub fn json_line<T: Serialize>(&self, value: &T) {
        if let Ok(text) = serde_json::to_string(value) {
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
    }

    /// A line of human text on stdout (nothing in JSON or quiet mode).
    pub fn line(&self, text: &str) {
        if self.mode == Mode::Human {
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
    }

    /// A notice for people on stderr (nothing in JSON or quiet mode).
    pub fn note(&self, text: &str) {
        if self.mode == Mode::Human {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        }
    }

    /// `text` in the colour of `tone`, when colour is on.
    pub fn paint(&self, tone: Tone, text: &str) -> String {
        if !self.color {
            return text.to_owned();
        }
        let code = match tone {
            Tone::Good => "32",
            Tone::Warn => "33",
            Tone::Bad => "31",
            Tone::Dim => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}
