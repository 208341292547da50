//! Human renderings of SDK results: one function per result type, returning lines.

use codeb::engine::{DeployReport, LockStatus, Plan, RecoverReport, RollbackPlan};
use codeb::ops::{DriftItem, DriftReport, HealthReport, ProjectSummary, Removal, SsotStatus};
use codeb::ports::{PortAllocation, PortConflict, PortDrift, PortReport};
use codeb::ssot::{ReleaseRecord, ReleaseStatus};

use crate::printer::{Printer, Tone};

fn names(keys: &[impl std::fmt::Display]) -> String {
    keys.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", ")
}

fn upstreams(list: &[codeb::proxy::Upstream]) -> String {
    if list.is_empty() { "nothing".to_owned() } else { names(list) }
}

/// A deploy plan.
pub fn plan(p: &Printer, plan: &Plan) -> Vec<String> {
    let mut lines = vec![format!("{} {plan} (at SSOT revision {})", p.paint(Tone::Warn, "plan:"), plan.revision)];
    lines.extend(plan.changes.iter().map(|c| format!("  + {c}")));
    lines.push(p.paint(Tone::Dim, "nothing was changed (dry run)"));
    lines
}

/// A rollback plan.
pub fn rollback_plan(p: &Printer, plan: &RollbackPlan) -> Vec<String> {
    let mut lines =
        vec![format!("{} roll back from {} to {} ({})", p.paint(Tone::Warn, "plan:"), plan.from, plan.to, plan.image)];
    lines.extend(plan.changes.iter().map(|c| format!("  + {c}")));
    lines.push(p.paint(Tone::Dim, "nothing was changed (dry run)"));
    lines
}

/// A finished deploy or rollback.
pub fn report(p: &Printer, r: &DeployReport) -> Vec<String> {
    let replaced = r.previous.as_ref().map(|prev| format!(", replacing {prev}")).unwrap_or_default();
    let mut lines = vec![format!(
        "{} {}/{} serves {} ({}) on port {}{replaced} in {} ms",
        p.paint(Tone::Good, "live:"),
        r.project,
        r.env,
        r.release,
        r.image,
        r.port,
        r.elapsed_ms
    )];
    lines.extend(r.domains.iter().map(|d| format!("  http://{d}/")));
    lines
}

/// A release list.
pub fn releases(p: &Printer, list: &[ReleaseRecord]) -> Vec<String> {
    if list.is_empty() {
        return vec!["no releases".to_owned()];
    }
    list.iter()
        .map(|r| {
            let status = match &r.status {
                ReleaseStatus::Live => p.paint(Tone::Good, "live"),
                ReleaseStatus::Retired => p.paint(Tone::Dim, "retired"),
                ReleaseStatus::Pending => p.paint(Tone::Warn, "pending"),
                ReleaseStatus::Failed { step, .. } => p.paint(Tone::Bad, &format!("failed at {step}")),
            };
            let reason = match &r.status {
                ReleaseStatus::Failed { reason, .. } => format!("\n      {reason}"),
                _ => String::new(),
            };
            format!("{:<6} {:<24} {}  {}{reason}", r.id, status, r.image, r.created_at.format("%Y-%m-%d %H:%M:%S"))
        })
        .collect()
}

/// What a destructive command did or would do.
pub fn removal(p: &Printer, r: &Removal) -> Vec<String> {
    let head =
        if r.applied { p.paint(Tone::Good, "done:") } else { p.paint(Tone::Warn, "would (pass --force to do it):") };
    let mut lines = vec![head];
    lines.extend(r.changes.iter().map(|c| format!("  - {c}")));
    lines
}

/// The SSOT summary.
pub fn ssot_status(s: &SsotStatus) -> Vec<String> {
    vec![
        format!("revision {} (schema {})", s.revision, s.schema_version),
        format!("{} projects, {} environments, {} serving", s.projects, s.environments, s.serving),
        format!("{} failed releases, {} locked environments", s.failed_releases, s.locked),
    ]
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

/// A health probe.
pub fn health(p: &Printer, h: &HealthReport) -> Vec<String> {
    let verdict = if h.verdict.healthy { p.paint(Tone::Good, "healthy") } else { p.paint(Tone::Bad, "unhealthy") };
    vec![format!("{} {verdict}: {} (port {})", h.release, h.verdict.evidence, h.port)]
}

/// Port allocations.
pub fn ports(list: &[PortAllocation]) -> Vec<String> {
    if list.is_empty() {
        return vec!["no ports allocated".to_owned()];
    }
    list.iter().map(|a| format!("{:<6} {} ({})", a.port, a.key, a.server)).collect()
}

/// A port check.
pub fn port_report(p: &Printer, r: &PortReport) -> Vec<String> {
    if r.is_clean() {
        return vec![p.paint(Tone::Good, "ports: record and reality agree")];
    }
    let mut lines = Vec::new();
    for c in &r.conflicts {
        lines.push(format!(
            "{} {}",
            p.paint(Tone::Bad, "conflict:"),
            match c {
                PortConflict::RecordedTwice { port, keys } => format!("port {port} is recorded for {}", names(keys)),
                PortConflict::ForeignListener { server, port, key, listener } => {
                    format!("port {port} of {key} on {server} is held by {listener}")
                }
                PortConflict::HeldByOther { server, port, key, holder } => {
                    format!("port {port} of {key} on {server} is held by {holder}")
                }
            }
        ));
    }
    for d in &r.drift {
        lines.push(format!(
            "{} {}",
            p.paint(Tone::Warn, "drift:"),
            match d {
                PortDrift::NotListening { server, port, key } =>
                    format!("port {port} of {key} on {server}: nothing listens"),
                PortDrift::Unrecorded { server, port, listener } => {
                    format!("port {port} on {server} listens ({listener}) but is not recorded")
                }
            }
        ));
    }
    lines
}

/// A drift report.
pub fn drift(p: &Printer, r: &DriftReport) -> Vec<String> {
    let mut lines: Vec<String> = r
        .items
        .iter()
        .map(|item| {
            let text = match item {
                DriftItem::ReleaseNotRunning { project, env, release, container } => {
                    format!("{project}/{env}: serving release {release} is not running ({container})")
                }
                DriftItem::RouteMismatch { host, expected, actual } => {
                    format!("{host}: routes to {} instead of {expected}", upstreams(actual))
                }
                DriftItem::UnknownContainer { container } => {
                    format!("{container}: codeb's label, but no project in the SSOT")
                }
                DriftItem::StrayRunning { container } => format!("{container}: runs but serves nothing"),
            };
            format!("{} {text}", p.paint(Tone::Warn, "drift:"))
        })
        .collect();
    let ports = port_report(p, &r.ports);
    if r.items.is_empty() && r.ports.is_clean() {
        return vec![p.paint(Tone::Good, "no drift: the SSOT matches what runs")];
    }
    if !r.ports.is_clean() {
        lines.extend(ports);
    }
    lines
}

/// A lock's status.
pub fn lock(p: &Printer, status: Option<&LockStatus>) -> Vec<String> {
    match status {
        None => vec![p.paint(Tone::Good, "unlocked")],
        Some(s) => vec![format!("{} {s}", p.paint(if s.stale { Tone::Bad } else { Tone::Warn }, "locked:"))],
    }
}

/// What recovery did.
pub fn recover(p: &Printer, r: &RecoverReport) -> Vec<String> {
    let mut lines = vec![p.paint(Tone::Good, "recovered")];
    if let Some(lock) = &r.released_lock {
        lines.push(format!("  released the stale lock of {lock}"));
    }
    lines.extend(r.cleaned.iter().map(|id| format!("  cleaned up interrupted release {id}")));
    if r.restarted_current {
        lines.push("  started the serving release again".to_owned());
    }
    lines.extend(r.repaired_routes.iter().map(|h| format!("  pointed {h} back at the serving release")));
    lines
}
