//! What every command gets: the printer, and the platform built from the platform file.

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;

use codeb::engine::progress::{LineKind, ProgressFeed, ProgressLine};
use codeb::engine::{DeployOptions, Platform, Retirement};
use indicatif::{ProgressBar, ProgressStyle};

use crate::printer::{Mode, Printer};

/// The printer and how to reach the platform.
pub struct Context {
    /// Where output goes.
    pub printer: Printer,
    config: Option<PathBuf>,
}

impl Context {
    /// A context for one invocation.
    pub fn new(printer: Printer, config: Option<PathBuf>) -> Self {
        Context { printer, config }
    }

    /// The platform file given with `--config`, if any.
    pub fn explicit_config(&self) -> Option<PathBuf> {
        self.config.clone()
    }

    /// Builds the platform from the platform file, through the one constructor every front end uses.
    pub async fn platform(&self) -> codeb::Result<Platform> {
        codeb_backends::connect_discovered(self.config.as_deref(), "we").map(|(platform, _)| platform)
    }

    /// Starts `we retire` for what a deploy left (`retirement`), in a process
    /// of its own that outlives this one: a process group of its own (a
    /// terminal's Ctrl-C after the prompt returns does not reach it), no
    /// standard streams (whoever reads this one's output sees it end with
    /// this one), the same platform file.
    pub fn spawn_retire(&self, retirement: &Retirement) -> std::io::Result<()> {
        use std::os::unix::process::CommandExt;
        let mut retire = std::process::Command::new(std::env::current_exe()?);
        if let Some(config) = &self.config {
            retire.arg("--config").arg(config);
        }
        retire.arg("retire").arg(serde_json::to_string(retirement)?);
        retire.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).process_group(0);
        retire.spawn().map(drop)
    }

    /// Shows the progress of a long call on stderr (human output only): on a
    /// terminal a spinner with the running step, above which finished steps
    /// stay; otherwise (a CI log, a pipe) one line per step and change as it
    /// happens, health probes left out.
    /// Pass `options` to the call, then [`Progress::finish`] it.
    pub fn progress(&self, what: &str) -> Progress {
        let human = self.printer.mode() == Mode::Human;
        let bar = if self.printer.shows_progress() { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        bar.set_message(what.to_owned());
        let shown = bar.clone();
        let feed = human.then(|| {
            ProgressFeed::start(what, move |line: ProgressLine| {
                match (shown.is_hidden(), line.kind) {
                    (true, LineKind::Probe) => {}
                    (true, _) => {
                        let _ = writeln!(std::io::stderr().lock(), "{}", line.message);
                    }
                    (false, LineKind::Record) => shown.println(&line.message),
                    (false, _) => shown.set_message(line.message),
                }
                std::future::ready(true)
            })
        });
        let options = DeployOptions { events: feed.as_ref().map(ProgressFeed::sink), ..DeployOptions::default() };
        Progress { bar, feed, options }
    }
}

/// The progress shown for one long call.
pub struct Progress {
    bar: ProgressBar,
    feed: Option<ProgressFeed>,
    /// The options to pass to the SDK call.
    pub options: DeployOptions,
}

impl Progress {
    /// Prints what is left of the call's progress and clears the spinner.
    pub async fn finish(mut self) {
        if let Some(feed) = self.feed.take() {
            feed.finish().await;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
