//! What every command gets: the printer, and the platform built from the platform file.

use std::path::PathBuf;

use codeb::engine::{DeployEvent, DeployOptions, EventSink, Platform};
use indicatif::{ProgressBar, ProgressStyle};

use crate::printer::Printer;

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

    /// Options for a long operation: progress on a terminal, fed by the engine's events.
    pub fn progress(&self, message: &str) -> Progress {
        let bar = if self.printer.shows_progress() { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        bar.set_message(message.to_owned());
        let sink_bar = bar.clone();
        let sink: EventSink = std::sync::Arc::new(move |event: &DeployEvent| match event {
            // The step's name as the spinner's message, a probe in its place; what changed course on a line.
            DeployEvent::StepStarted { step } => sink_bar.set_message(step.to_string()),
            DeployEvent::HealthProbe { .. } => sink_bar.set_message(event.to_string()),
            DeployEvent::RouteSwitched { .. }
            | DeployEvent::RolledBack { .. }
            | DeployEvent::Note { .. }
            | DeployEvent::ChangeUndone { .. } => sink_bar.println(format!("  {event}")),
            DeployEvent::StepFinished { .. } | DeployEvent::StepFailed { .. } | DeployEvent::ChangeApplied { .. } => {}
        });
        // The lock records what the operation does; its owner names `we`.
        let options = DeployOptions { events: Some(sink), ..DeployOptions::default() };
        Progress { bar, options }
    }
}

/// A spinner and the options whose events drive it.
pub struct Progress {
    bar: ProgressBar,
    /// The options to pass to the SDK call.
    pub options: DeployOptions,
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
