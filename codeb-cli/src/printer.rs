//! The one place output is written: human text (with colour when it helps),
//! one JSON document with `--json`, nothing but errors with `--quiet`.
//!
//! Colour is decided per stream by anstream: with `--color auto` (the
//! default) a stream gets colour only when it is a terminal, `NO_COLOR` is
//! unset and `TERM` is not `dumb`; `always` and `never` decide for both.
//! Text is painted with anstyle and the stream strips what it must not show.

use std::io::{IsTerminal, Write};

use anstyle::{AnsiColor, Style};

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
    /// A printer for `mode`, colouring as `color` says (see the module doc).
    pub fn new(mode: Mode, color: clap::ColorChoice) -> Self {
        let choice = match color {
            clap::ColorChoice::Auto => anstream::ColorChoice::Auto,
            clap::ColorChoice::Always => anstream::ColorChoice::Always,
            clap::ColorChoice::Never => anstream::ColorChoice::Never,
        };
        choice.write_global();
        Printer { mode }
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
                let mut out = anstream::stdout().lock();
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
        let mut out = anstream::stdout().lock();
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
            let _ = writeln!(anstream::stdout().lock(), "{text}");
        }
    }

    /// A line of human text on stdout (nothing in JSON or quiet mode).
    pub fn line(&self, text: &str) {
        if self.mode == Mode::Human {
            let _ = writeln!(anstream::stdout().lock(), "{text}");
        }
    }

    /// A notice for people on stderr (nothing in JSON or quiet mode).
    pub fn note(&self, text: &str) {
        if self.mode == Mode::Human {
            let _ = writeln!(anstream::stderr().lock(), "{text}");
        }
    }

    /// `text` in the colour of `tone`, when colour is on.
    pub fn paint(&self, tone: Tone, text: &str) -> String {
        let style = match tone {
            Tone::Good => Style::new().fg_color(Some(AnsiColor::Green.into())),
            Tone::Warn => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
            Tone::Bad => Style::new().fg_color(Some(AnsiColor::Red.into())),
            Tone::Dim => Style::new().dimmed(),
        };
        format!("{style}{text}{style:#}")
    }
}
