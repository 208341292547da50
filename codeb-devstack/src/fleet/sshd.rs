//! A host's OpenSSH server: its own host key and config, key-only logins
//! with the fleet's client key, started as a daemon of the host's namespace.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use codeb::{Error, ErrorKind, Result};

use crate::daemon::{self, DaemonSpec, ProcessId};
use crate::images::run_command;

/// How long sshd may take to listen.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// A fresh ed25519 key pair at `path` and `path.pub`.
pub(crate) fn keygen(path: &Path) -> Result<()> {
    let mut command = Command::new("ssh-keygen");
    command.args(["-q", "-t", "ed25519", "-N", "", "-C", "codeb-fleet", "-f"]).arg(path);
    run_command(command, "ssh-keygen").map(drop)
}

/// The config of an sshd in `dir` listening on `listen`: key-only, root by
/// key, forwarding of TCP and unix sockets, sshd's own session limit (10),
/// and an SFTP subsystem, as Debian's sshd has.
pub(crate) fn config(dir: &Path, listen: SocketAddr) -> String {
    let d = dir.display();
    format!(
        "ListenAddress {listen}\nHostKey {d}/host_ed25519\nAuthorizedKeysFile {d}/authorized_keys\n\
         PidFile none\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
         StrictModes no\nPermitRootLogin prohibit-password\nAllowTcpForwarding yes\n\
         AllowStreamLocalForwarding yes\nMaxSessions 10\nSubsystem sftp internal-sftp\nLogLevel ERROR\n"
    )
}

/// The files of a host's sshd: its config and host key under `dir`, with
/// `client_public` (an OpenSSH public key line) as the one authorized key.
pub(crate) fn prepare(dir: &Path, listen: SocketAddr, client_public: &str) -> Result<()> {
    let io = |what: &str, e: std::io::Error| {
        Error::new(ErrorKind::Unavailable, format!("cannot write {what}"))
            .with_context("dir", dir.display())
            .with_source(e)
    };
    std::fs::create_dir_all(dir).map_err(|e| io("the sshd directory", e))?;
    keygen(&dir.join("host_ed25519"))?;
    std::fs::write(dir.join("authorized_keys"), client_public).map_err(|e| io("authorized_keys", e))?;
    std::fs::write(dir.join("sshd_config"), config(dir, listen)).map_err(|e| io("sshd_config", e))?;
    // sshd's privilege separation needs its empty directory.
    std::fs::create_dir_all("/run/sshd").map_err(|e| io("/run/sshd", e))
}

/// Starts the sshd of `dir` (call it inside the host's namespace), logging
/// to `dir/sshd.log`, and waits until it accepts connections at `listen`.
pub(crate) fn start(program: &Path, dir: &Path, listen: SocketAddr) -> Result<ProcessId> {
    let spec = DaemonSpec {
        program: program.to_owned(),
        args: vec!["-D".into(), "-e".into(), "-f".into(), dir.join("sshd_config").into_os_string()],
        env: Vec::new(),
        env_remove: Vec::new(),
        cwd: dir.to_owned(),
    };
    let log = dir.join("sshd.log");
    let (mut child, process) = daemon::spawn(&spec, &log).map_err(|e| {
        Error::new(ErrorKind::Unavailable, "cannot start sshd").with_context("log", log.display()).with_source(e)
    })?;
    let deadline = Instant::now() + LISTEN_TIMEOUT;
    while TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_err() {
        let exited = child.try_wait().ok().flatten();
        if exited.is_some() || Instant::now() >= deadline {
            let _ = daemon::stop(&process, Duration::from_secs(1), Duration::from_secs(1));
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(Error::new(ErrorKind::Unavailable, format!("sshd does not listen on {listen}: {said}"))
                .with_context("log", log.display()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(process)
}
