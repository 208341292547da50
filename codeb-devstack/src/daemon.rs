//! The stack's processes: started detached from the caller, identified by
//! more than their PID, and stopped only while they are still the process
//! that was started.
//!
//! A PID alone is not an identity: once a daemon exits, the kernel may give
//! its PID to any new process. Every started process is therefore recorded
//! with its start time (in clock ticks since boot, from `/proc/<pid>/stat`)
//! and its command line, and is signalled only through a pidfd opened while
//! both still match, so a recycled PID is never signalled.
//!
//! The system calls (pidfd_open, pidfd_send_signal, poll, waitpid) go
//! through rustix's safe wrappers: this crate has no `unsafe` of its own.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, Signal, WaitOptions};

/// How long a new process may take to show its command line.
const EXEC_SETTLE: Duration = Duration::from_secs(2);

/// How to start one daemon.
#[derive(Clone, Debug)]
pub(crate) struct DaemonSpec {
    /// The program, as an absolute path.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Variables set in its environment.
    pub env: Vec<(OsString, OsString)>,
    /// Variables removed from the inherited environment (a `*` suffix removes every variable with that prefix).
    pub env_remove: Vec<&'static str>,
    /// Its working directory.
    pub cwd: PathBuf,
}

/// Who a process is: its PID, when it started and what it runs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ProcessId {
    /// The PID at start.
    pub pid: u32,
    /// Its start time in clock ticks since boot (field 22 of `/proc/<pid>/stat`).
    pub start_time: u64,
    /// Its command line as `/proc/<pid>/cmdline` showed it after start.
    pub cmdline: Vec<String>,
}

/// Whether a recorded process still runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// The recorded process is running.
    Running,
    /// It has exited (no process has its PID, or only its zombie is left).
    Exited,
    /// Its PID now belongs to another process.
    Replaced,
}

/// What stopping a recorded process did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopOutcome {
    /// It was running and is gone now; `forced` when it ignored SIGTERM and took a SIGKILL.
    Stopped {
        /// Whether SIGKILL was needed.
        forced: bool,
    },
    /// It had already exited; nothing was signalled.
    AlreadyExited,
    /// Its PID belongs to another process now; nothing was signalled.
    PidReused,
}

impl StopOutcome {
    /// A stable name for machines: `stopped`, `killed`, `already_exited` or `pid_reused`.
    pub fn as_str(self) -> &'static str {
        match self {
            StopOutcome::Stopped { forced: false } => "stopped",
            StopOutcome::Stopped { forced: true } => "killed",
            StopOutcome::AlreadyExited => "already_exited",
            StopOutcome::PidReused => "pid_reused",
        }
    }
}

impl std::fmt::Display for StopOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopOutcome::Stopped { forced: false } => "stopped",
            StopOutcome::Stopped { forced: true } => "killed (it ignored SIGTERM)",
            StopOutcome::AlreadyExited => "had already exited",
            StopOutcome::PidReused => "had exited; its PID now belongs to another process, left alone",
        })
    }
}

/// Starts `spec` in its own process group, with stdin from `/dev/null` and
/// stdout and stderr appended to `log`, so it outlives the caller and a
/// Ctrl-C in the caller's terminal does not reach it.
pub(crate) fn spawn(spec: &DaemonSpec, log: &Path) -> io::Result<(Child, ProcessId)> {
    let out = File::options().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    let mut command = Command::new(&spec.program);
    command.args(&spec.args).current_dir(&spec.cwd).stdin(Stdio::null()).stdout(out).stderr(err).process_group(0);
    for pattern in &spec.env_remove {
        match pattern.strip_suffix('*') {
            Some(prefix) => {
                for (name, _) in std::env::vars_os() {
                    if name.to_string_lossy().starts_with(prefix) {
                        command.env_remove(name);
                    }
                }
            }
            None => {
                command.env_remove(pattern);
            }
        }
    }
    command.envs(spec.env.iter().map(|(k, v)| (k, v)));
    let mut child = command.spawn()?;
    match identify_after_exec(child.id()) {
        Ok(Some(id)) => Ok((child, id)),
        Ok(None) => Err(exited_at_once(&mut child)),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(e)
        }
    }
}

/// The identity of a child just spawned. `spawn` returns as soon as the
/// kernel has switched the child to the new program's memory, a moment
/// before it lays out the new arguments, so `/proc/<pid>/cmdline` may still
/// read empty: look again until it shows them.
fn identify_after_exec(pid: u32) -> io::Result<Option<ProcessId>> {
    let deadline = Instant::now() + EXEC_SETTLE;
    loop {
        match identify(pid)? {
            Some(id) if id.cmdline.iter().all(String::is_empty) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Some(id) if id.cmdline.iter().all(String::is_empty) => {
                return Err(io::Error::other(format!("process {pid} shows no command line after exec")));
            }
            other => return Ok(other),
        }
    }
}

/// The error for a child that was gone before it could be identified.
fn exited_at_once(child: &mut Child) -> io::Error {
    let status = child.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
    io::Error::other(format!("exited at once ({status})"))
}

/// The identity of the running process `pid`, or `None` when there is none (or only its zombie).
pub(crate) fn identify(pid: u32) -> io::Result<Option<ProcessId>> {
    let stat = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat,
        Err(e) if vanished(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(stat) = parse_stat(&stat) else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("unexpected /proc/{pid}/stat")));
    };
    if stat.state == 'Z' || stat.state == 'X' {
        return Ok(None);
    }
    let cmdline = match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(bytes) => parse_cmdline(&bytes),
        Err(e) if vanished(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(ProcessId { pid, start_time: stat.start_time, cmdline }))
}

/// Whether a failed read of `/proc/<pid>/...` means the process is gone
/// (the directory is absent, or the process was reaped during the read).
fn vanished(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(Errno::SRCH.raw_os_error())
}

/// Whether the recorded process still runs, has exited, or lost its PID to another process.
pub(crate) fn liveness(recorded: &ProcessId) -> io::Result<Liveness> {
    Ok(match identify(recorded.pid)? {
        None => Liveness::Exited,
        Some(now) if now == *recorded => Liveness::Running,
        Some(_) => Liveness::Replaced,
    })
}

/// Stops the recorded process if it still runs: SIGTERM, up to `grace` to
/// exit, then SIGKILL and up to `kill_wait` more. A process whose PID now
/// belongs to someone else is never signalled.
pub(crate) fn stop(recorded: &ProcessId, grace: Duration, kill_wait: Duration) -> io::Result<StopOutcome> {
    // Open the pidfd first, then check the identity: if it still matches, the
    // pidfd refers to the recorded process, whatever happens to the PID later.
    let pidfd = match open_pidfd(recorded.pid) {
        Ok(fd) => fd,
        Err(Errno::SRCH) => return Ok(StopOutcome::AlreadyExited),
        Err(e) => return Err(e.into()),
    };
    match liveness(recorded)? {
        Liveness::Running => {}
        Liveness::Exited => {
            reap(recorded.pid);
            return Ok(StopOutcome::AlreadyExited);
        }
        Liveness::Replaced => return Ok(StopOutcome::PidReused),
    }
    if !send_signal(&pidfd, Signal::TERM)? || wait_exit(&pidfd, grace)? {
        reap(recorded.pid);
        return Ok(StopOutcome::Stopped { forced: false });
    }
    if !send_signal(&pidfd, Signal::KILL)? || wait_exit(&pidfd, kill_wait)? {
        reap(recorded.pid);
        return Ok(StopOutcome::Stopped { forced: true });
    }
    Err(io::Error::new(io::ErrorKind::TimedOut, format!("process {} survived SIGKILL for {kill_wait:?}", recorded.pid)))
}

/// `pid` as the kernel's type; `None` for 0 and for numbers no PID can have.
fn kernel_pid(pid: u32) -> Option<Pid> {
    i32::try_from(pid).ok().and_then(Pid::from_raw)
}

/// A pidfd for `pid` (Linux 5.3 and later); `SRCH` when no process has that PID.
fn open_pidfd(pid: u32) -> Result<OwnedFd, Errno> {
    rustix::process::pidfd_open(kernel_pid(pid).ok_or(Errno::SRCH)?, PidfdFlags::empty())
}

/// Sends `signal` through `pidfd`; `false` when the process had already exited.
fn send_signal(pidfd: &OwnedFd, signal: Signal) -> io::Result<bool> {
    match rustix::process::pidfd_send_signal(pidfd, signal) {
        Ok(()) => Ok(true),
        Err(Errno::SRCH) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Waits up to `timeout` for the process behind `pidfd` to exit (its pidfd
/// becomes readable); `true` when it did.
fn wait_exit(pidfd: &OwnedFd, timeout: Duration) -> io::Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // A wait too long for a timespec is as good as forever.
        let left = Timespec::try_from(left).unwrap_or(Timespec { tv_sec: i64::MAX, tv_nsec: 0 });
        let mut fds = [PollFd::new(pidfd, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&left)) {
            // A signal may end the wait early: look again until the deadline.
            Ok(0) if Instant::now() >= deadline => return Ok(false),
            Ok(0) | Err(Errno::INTR) => {}
            Ok(_) => return Ok(true),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Collects the exit status of `pid` if it is this process's exited child, so
/// no zombie is left; does nothing for anyone else's process (waitpid fails
/// with `CHILD`) or for a child that still runs (`NOHANG`).
fn reap(pid: u32) {
    if let Some(pid) = kernel_pid(pid) {
        let _ = rustix::process::waitpid(Some(pid), WaitOptions::NOHANG);
    }
}

/// The fields of `/proc/<pid>/stat` this module reads.
#[derive(Debug, PartialEq, Eq)]
struct Stat {
    state: char,
    start_time: u64,
}

/// Parses `/proc/<pid>/stat`. The command name in parentheses may hold
/// spaces and parentheses itself, so fields are counted after the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3 of the man page, starttime field 22.
    let state = fields.first()?.chars().next()?;
    let start_time = fields.get(19)?.parse().ok()?;
    Some(Stat { state, start_time })
}

/// The arguments of `/proc/<pid>/cmdline` (NUL-separated, NUL-terminated).
fn parse_cmdline(bytes: &[u8]) -> Vec<String> {
    bytes
        .strip_suffix(&[0])
        .unwrap_or(bytes)
        .split(|b| *b == 0)
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_outcomes_have_distinct_stable_names_and_plain_words() {
        let all = [
            StopOutcome::Stopped { forced: false },
            StopOutcome::Stopped { forced: true },
            StopOutcome::AlreadyExited,
            StopOutcome::PidReused,
        ];
        let names: Vec<&str> = all.iter().map(|o| o.as_str()).collect();
        assert_eq!(names, ["stopped", "killed", "already_exited", "pid_reused"]);
        for outcome in all {
            let text = outcome.to_string();
            assert!(!text.contains('{') && !text.is_empty(), "{text}");
        }
    }

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        let text = "4242 (we (ird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 100000 200 \
                    18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(parse_stat(text), Some(Stat { state: 'S', start_time: 987654 }));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn cmdline_splits_on_nul() {
        assert_eq!(
            parse_cmdline(b"caddy\0run\0--config\0/d/caddy.json\0"),
            ["caddy", "run", "--config", "/d/caddy.json"]
        );
    }

    fn sleeper(dir: &Path) -> (Child, ProcessId) {
        let spec = DaemonSpec {
            program: PathBuf::from("/bin/sleep"),
            args: vec!["30".into()],
            env: Vec::new(),
            env_remove: Vec::new(),
            cwd: dir.to_owned(),
        };
        spawn(&spec, &dir.join("sleep.log")).unwrap()
    }

    #[test]
    fn a_spawned_daemon_runs_in_its_own_process_group_with_its_identity_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let (_child, id) = sleeper(dir.path());
        assert_eq!(id.cmdline, ["/bin/sleep", "30"]);
        let pid = kernel_pid(id.pid).unwrap();
        assert_eq!(rustix::process::getpgid(Some(pid)).unwrap(), pid, "the daemon leads its own process group");
        assert_eq!(liveness(&id).unwrap(), Liveness::Running);
        assert_eq!(
            stop(&id, Duration::from_secs(5), Duration::from_secs(5)).unwrap(),
            StopOutcome::Stopped { forced: false }
        );
        assert_eq!(liveness(&id).unwrap(), Liveness::Exited);
        assert!(!Path::new(&format!("/proc/{}", id.pid)).exists(), "stop reaps its own child");
    }

    #[test]
    fn a_process_that_is_not_the_recorded_one_is_never_signalled() {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, id) = sleeper(dir.path());
        // The same PID, but started at another time: what a recycled PID looks like.
        let impostor = ProcessId { start_time: id.start_time + 1, ..id.clone() };
        assert_eq!(liveness(&impostor).unwrap(), Liveness::Replaced);
        assert_eq!(stop(&impostor, Duration::from_secs(1), Duration::from_secs(1)).unwrap(), StopOutcome::PidReused);
        let other_cmdline = ProcessId { cmdline: vec!["/bin/sleep".into(), "31".into()], ..id.clone() };
        assert_eq!(
            stop(&other_cmdline, Duration::from_secs(1), Duration::from_secs(1)).unwrap(),
            StopOutcome::PidReused
        );
        assert_eq!(child.try_wait().unwrap(), None, "the process must still run");
        assert_eq!(liveness(&id).unwrap(), Liveness::Running);
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(stop(&id, Duration::from_secs(1), Duration::from_secs(1)).unwrap(), StopOutcome::AlreadyExited);
    }

    #[test]
    fn a_process_that_ignores_sigterm_is_killed_after_the_grace_period() {
        let dir = tempfile::tempdir().unwrap();
        // `env` sets SIGTERM to ignored and execs `sleep`, which keeps that disposition.
        let spec = DaemonSpec {
            program: PathBuf::from("/usr/bin/env"),
            args: vec!["--ignore-signal=TERM".into(), "sleep".into(), "30".into()],
            env: Vec::new(),
            env_remove: Vec::new(),
            cwd: dir.path().to_owned(),
        };
        let (_child, id) = spawn(&spec, &dir.path().join("stubborn.log")).unwrap();
        // env exec's sleep: wait until the command line shows it, so the disposition is in place.
        let deadline = Instant::now() + Duration::from_secs(5);
        let id = loop {
            let now = identify(id.pid).unwrap().unwrap();
            if now.cmdline.first().map(String::as_str) == Some("sleep") || Instant::now() > deadline {
                break now;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let started = Instant::now();
        let outcome = stop(&id, Duration::from_millis(300), Duration::from_secs(5)).unwrap();
        assert_eq!(outcome, StopOutcome::Stopped { forced: true });
        assert!(started.elapsed() >= Duration::from_millis(300), "{:?} {id:?}", started.elapsed());
        assert_eq!(liveness(&id).unwrap(), Liveness::Exited);
    }
}
