//! A throwaway OpenSSH server on a loopback port: its own host key,
//! key-only logins with a key of its own, killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Debian's sshd.
const SSHD: &str = "/usr/sbin/sshd";

/// A running sshd.
pub struct Sshd {
    child: Child,
    /// Its files: keys, config, authorized_keys.
    pub dir: tempfile::TempDir,
    /// `user@127.0.0.1:port`.
    pub target: String,
}

impl Sshd {
    /// Starts one with an SFTP subsystem, as Debian's sshd has; `None`
    /// (said loudly) when sshd is missing, which under `CI=true` is a failure instead.
    pub fn start() -> Option<Sshd> {
        Sshd::start_with(true, true)
    }

    /// Starts one without an SFTP subsystem.
    pub fn without_sftp() -> Option<Sshd> {
        Sshd::start_with(false, true)
    }

    /// Starts one that forwards no TCP connection (a jump host that refuses to be one).
    pub fn without_forwarding() -> Option<Sshd> {
        Sshd::start_with(true, false)
    }

    fn start_with(sftp: bool, forwarding: bool) -> Option<Sshd> {
        if !Path::new(SSHD).exists() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{SSHD} is missing: scripts/install-deps installs openssh-server"
            );
            eprintln!("SKIPPED: {SSHD} is missing, so this SSH test did not run; scripts/install-deps installs it");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        keygen(&dir.path().join("host_ed25519"));
        keygen(&dir.path().join("client"));
        std::fs::copy(dir.path().join("client.pub"), dir.path().join("authorized_keys")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = dir.path().join("sshd_config");
        let d = dir.path().display();
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_ed25519\nAuthorizedKeysFile {d}/authorized_keys\n\
                 PidFile {d}/sshd.pid\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\nPermitRootLogin prohibit-password\nAllowTcpForwarding {forwarding}\n\
                 AllowStreamLocalForwarding yes\nMaxSessions 10\nLogLevel ERROR\n{sftp}",
                sftp = if sftp { "Subsystem sftp internal-sftp\n" } else { "" },
                forwarding = if forwarding { "yes" } else { "no" },
            ),
        )
        .unwrap();
        // sshd's privilege separation needs its empty directory.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let child = Command::new(SSHD).arg("-D").arg("-e").arg("-f").arg(&config).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        // sshd writes its pid file once it listens.
        while !dir.path().join("sshd.pid").exists() {
            assert!(Instant::now() < deadline, "sshd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
        Some(Sshd { child, target: format!("{}@127.0.0.1:{port}", user.trim()), dir })
    }

    /// The private key the server accepts.
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client")
    }

    /// The server's public host key, in OpenSSH's format.
    pub fn host_key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("host_ed25519.pub")).unwrap()
    }
}

impl Sshd {
    /// Kills every process serving a session (SIGKILL), as a cut connection
    /// would, but not the listener: new connections are still served.
    pub fn drop_sessions(&self) {
        let listener = self.child.id();
        let mut family = vec![listener];
        // Parents come before children in a scan only by luck: scan until no new one joins.
        loop {
            let joined: Vec<u32> = processes()
                .filter(|(pid, ppid)| family.contains(ppid) && !family.contains(pid))
                .map(|(pid, _)| pid)
                .collect();
            if joined.is_empty() {
                break;
            }
            family.extend(joined);
        }
        for pid in family.into_iter().filter(|p| *p != listener) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
    }
}

/// Every process as (pid, parent pid).
fn processes() -> impl Iterator<Item = (u32, u32)> {
    std::fs::read_dir("/proc").unwrap().filter_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let ppid = stat.rsplit_once(") ")?.1.split_whitespace().nth(1)?.parse().ok()?;
        Some((pid, ppid))
    })
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh ed25519 key pair at `path` and `path.pub`.
pub fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "codeb-test", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "ssh-keygen");
}
