//! Human output of SDK results: the SDK's own sentences (their `Display`),
//! laid out in lines and columns and coloured by how things stand.

use std::fmt::Display;

use codeb::engine::{LockStatus, PlannedChange};
use codeb::ops::{DriftReport, ProjectSummary, Removal, ServerCheck, ServerSummary};
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

/// Rows under a header, in aligned columns without borders (cells may be painted).
fn table<R: IntoIterator<Item = String>>(header: &[&str], rows: impl IntoIterator<Item = R>) -> Vec<String> {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING).set_header(header.to_vec());
    for row in rows {
        table.add_row(row.into_iter().collect::<Vec<_>>());
    }
    table.lines().map(|line| line.trim_end().to_owned()).collect()
}

/// A release list: a table, then why each failed release failed.
pub fn releases(p: &Printer, list: &[ReleaseRecord]) -> Vec<String> {
    if list.is_empty() {
        return vec!["no releases".to_owned()];
    }
    let tone = |status: &ReleaseStatus| match status {
        ReleaseStatus::Live => Tone::Good,
        ReleaseStatus::Retired => Tone::Dim,
        ReleaseStatus::Pending => Tone::Warn,
        ReleaseStatus::Failed { .. } => Tone::Bad,
    };
    let rows = list.iter().map(|r| {
        let created = r.created_at.format("%Y-%m-%d %H:%M:%S").to_string();
        let by = r.made_by().unwrap_or_else(|| "-".to_owned());
        [r.id.to_string(), p.paint(tone(&r.status), &r.status.to_string()), r.image.to_string(), created, by]
    });
    let mut lines = table(&["RELEASE", "STATUS", "IMAGE", "CREATED", "BY"], rows);
    for r in list {
        if let ReleaseStatus::Failed { reason, .. } = &r.status {
            lines.push(format!("{} {reason}", p.paint(Tone::Bad, &format!("{}:", r.id))));
        }
    }
    lines
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
    let rows = list.iter().map(|s| {
        let serving = |r: &Option<_>| r.as_ref().map_or("-".to_owned(), ToString::to_string);
        let envs: Vec<String> = s.environments.iter().map(|(e, r)| format!("{e}={}", serving(r))).collect();
        [s.project.to_string(), envs.join(" ")]
    });
    table(&["PROJECT", "SERVING"], rows)
}

/// Port allocations.
pub fn ports(list: &[PortAllocation]) -> Vec<String> {
    if list.is_empty() {
        return vec!["no ports allocated".to_owned()];
    }
    table(
        &["PORT", "KEY", "SERVER"],
        list.iter().map(|a| [a.port.to_string(), a.key.to_string(), a.server.to_string()]),
    )
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

/// The servers of the fleet.
pub fn servers(list: &[ServerSummary]) -> Vec<String> {
    let rows = list.iter().map(|s| {
        let roles: Vec<&str> = s.roles.iter().map(|r| r.as_str()).collect();
        let envs = if s.environments.is_empty() { "-".to_owned() } else { s.environments.join(", ") };
        [s.server.to_string(), roles.join(","), s.reach.clone(), s.addresses.public_ipv4.to_string(), envs]
    });
    table(&["SERVER", "ROLES", "REACHED BY", "PUBLIC IPV4", "ENVIRONMENTS"], rows)
}

/// The authorized keys of a server.
pub fn authorized_keys(listed: &codeb_backends::ssh_keys::AuthorizedKeys) -> Vec<String> {
    let rows = listed.keys.iter().map(|k| {
        let codeb = if k.codeb_logs_in_with_it { "codeb logs in with it" } else { "" };
        [k.fingerprint.clone(), k.algorithm.clone(), k.comment.clone(), codeb.to_owned()]
    });
    let mut lines = table(&["FINGERPRINT", "TYPE", "COMMENT", ""], rows);
    if listed.other_lines > 0 {
        lines.push(format!("and {} line(s) with options, kept as they are", listed.other_lines));
    }
    lines
}

/// A doctor's reports: each server, then each of its checks.
pub fn server_checks(p: &Printer, reports: &[ServerCheck]) -> Vec<String> {
    let mut lines = Vec::new();
    for report in reports {
        let (tone, verdict) = if report.ok { (Tone::Good, "ok") } else { (Tone::Bad, "failing") };
        lines.push(format!("{} {} ({})", p.paint(tone, &format!("{verdict}:")), report.server, report.reach));
        for check in &report.checks {
            lines.push(format!("  {}", p.paint(if check.ok { Tone::Dim } else { Tone::Bad }, &check.to_string())));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::Mode;

    #[test]
    fn columns_align_whatever_the_widths_and_colours_of_the_cells() {
        let p = Printer::new(Mode::Human, clap::ColorChoice::Always);
        let rows = [
            ["v9".to_owned(), p.paint(Tone::Good, "live"), "a".to_owned()],
            ["v10".to_owned(), p.paint(Tone::Bad, "failed"), "b".to_owned()],
        ];
        let lines = table(&["RELEASE", "STATUS", "IMAGE"], rows);
        assert!(lines[1].contains('\x1b'), "cells keep their colour: {lines:?}");
        let plain: Vec<String> = lines.iter().map(|l| anstream::adapter::strip_str(l).to_string()).collect();
        let column = |row: usize, word: &str| plain[row].find(word).unwrap_or_else(|| panic!("{word} in {plain:?}"));
        assert_eq!(plain.len(), 3, "a header and a line a row: {plain:?}");
        assert_eq!(column(1, "live"), column(0, "STATUS"));
        assert_eq!(column(2, "failed"), column(0, "STATUS"));
        assert_eq!(column(1, "a"), column(0, "IMAGE"), "colour codes take no width: {plain:?}");
        assert_eq!(column(2, "b"), column(0, "IMAGE"));
    }
}
