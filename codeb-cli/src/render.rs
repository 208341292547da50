//! Human output of SDK results: the SDK's own sentences (their `Display`),
//! laid out in lines and columns and coloured by how things stand.

use std::fmt::Display;

use codeb::engine::{LockStatus, PlannedChange};
use codeb::ops::{DriftReport, ProjectSummary, Removal};
use codeb::ports::{PortAllocation, PortReport};
use codeb::ssot::{ReleaseRecord, ReleaseStatus};

use crate::printer::{Printer, Tone};

/// A result's sentence, in one tone.
pub fn text(p: &Printer, tone: Tone, value: &impl Display) -> Vec<String> {
    vec![p.paint(tone, &value.to_string())]
}

/// A result's sentence after a coloured label (`live:`).
pub fn labelled(p: &Printer, tone: Tone, label: &str, value: &impl Display) -> Vec<String> {
    vec![format!("{} {value}", p.paint(tone, label))]
}

/// A plan of a dry run: its summary, then each change.
pub fn plan(p: &Printer, summary: &impl Display, revision: u64, changes: &[PlannedChange]) -> Vec<String> {
    let mut lines = vec![format!("{} {summary} (at SSOT revision {revision})", p.paint(Tone::Warn, "plan:"))];
    lines.extend(changes.iter().map(|c| format!("  + {c}")));
    lines.push(p.paint(Tone::Dim, "nothing was changed (dry run)"));
    lines
}

/// A release list.
pub fn releases(p: &Printer, list: &[ReleaseRecord]) -> Vec<String> {
    if list.is_empty() {
        return vec!["no releases".to_owned()];
    }
    list.iter()
        .map(|r| {
            let (tone, reason) = match &r.status {
                ReleaseStatus::Live => (Tone::Good, String::new()),
                ReleaseStatus::Retired => (Tone::Dim, String::new()),
                ReleaseStatus::Pending => (Tone::Warn, String::new()),
                ReleaseStatus::Failed { reason, .. } => (Tone::Bad, format!("\n      {reason}")),
            };
            let status = p.paint(tone, &r.status.to_string());
            format!("{:<6} {:<24} {}  {}{reason}", r.id, status, r.image, r.created_at.format("%Y-%m-%d %H:%M:%S"))
        })
        .collect()
}

/// What a destructive command did, or would do given `--force`.
pub fn removal(p: &Printer, r: &Removal) -> Vec<String> {
    if r.applied {
        return text(p, Tone::Good, r);
    }
    vec![p.paint(Tone::Warn, &r.to_string()), p.paint(Tone::Dim, "nothing was changed: pass --force to do it")]
}

/// A project listing.
pub fn projects(list: &[ProjectSummary]) -> Vec<String> {
    if list.is_empty() {
        return vec!["no projects".to_owned()];
    }
    list.iter()
        .map(|s| {
            let envs: Vec<String> = s
                .environments
                .iter()
                .map(|(e, r)| format!("{e}={}", r.as_ref().map_or("-".to_owned(), |r| r.to_string())))
                .collect();
            format!("{:<24} {}", s.project, envs.join(" "))
        })
        .collect()
}

/// Port allocations.
pub fn ports(list: &[PortAllocation]) -> Vec<String> {
    if list.is_empty() {
        return vec!["no ports allocated".to_owned()];
    }
    list.iter().map(|a| format!("{:<6} {} ({})", a.port, a.key, a.server)).collect()
}

/// The tone of a check: good when clean, bad with a port conflict, else a warning.
fn check_tone(clean: bool, ports: &PortReport) -> Tone {
    match (clean, ports.conflicts.is_empty()) {
        (true, _) => Tone::Good,
        (false, true) => Tone::Warn,
        (false, false) => Tone::Bad,
    }
}

/// A port check.
pub fn port_report(p: &Printer, r: &PortReport) -> Vec<String> {
    text(p, check_tone(r.is_clean(), r), r)
}

/// A drift report.
pub fn drift(p: &Printer, r: &DriftReport) -> Vec<String> {
    text(p, check_tone(r.is_clean(), &r.ports), r)
}

/// A lock's status.
pub fn lock(p: &Printer, status: Option<&LockStatus>) -> Vec<String> {
    match status {
        None => vec![p.paint(Tone::Good, "unlocked")],
        Some(s) => labelled(p, if s.stale { Tone::Bad } else { Tone::Warn }, "locked:", s),
    }
}
