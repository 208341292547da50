//! Finding the programs the stack runs on this machine, and naming the Debian
//! package that provides each one that is missing.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use codeb::{Error, ErrorKind, Result};

/// Directories searched after `$PATH` by default: daemons such as
/// `pdns_server` and `runc` live in `sbin`, which an unprivileged `$PATH`
/// often lacks.
const SBIN_DIRS: [&str; 3] = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/// Something the stack needs from the machine and the Debian package that provides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Needed {
    /// A program name looked up on the search path, or an absolute file path.
    pub name: &'static str,
    /// The Debian package to install when it is missing.
    pub package: &'static str,
}

/// Podman itself (the API service and the CLI that builds and pushes images).
pub(crate) const PODMAN: Needed = Needed { name: "podman", package: "podman" };
/// The OCI runtime the Podman service is configured with (crun fails on these machines).
pub(crate) const RUNC: Needed = Needed { name: "runc", package: "runc" };
/// Caddy.
pub(crate) const CADDY: Needed = Needed { name: "caddy", package: "caddy" };
/// The PowerDNS authoritative server.
pub(crate) const PDNS_SERVER: Needed = Needed { name: "pdns_server", package: "pdns-server" };
/// The schema of PowerDNS's SQLite backend (its presence means the backend module is installed too).
pub(crate) const PDNS_SQLITE_SCHEMA: Needed =
    Needed { name: "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql", package: "pdns-backend-sqlite3" };
/// The SQLite shell that creates PowerDNS's database from that schema.
pub(crate) const SQLITE3: Needed = Needed { name: "sqlite3", package: "sqlite3" };
/// The OCI registry (distribution).
pub(crate) const DOCKER_REGISTRY: Needed = Needed { name: "docker-registry", package: "docker-registry" };
/// The statically linked busybox that test and example images are made of.
pub(crate) const BUSYBOX_STATIC: Needed = Needed { name: "/bin/busybox", package: "busybox-static" };

/// debootstrap, which makes the Debian root filesystems of the PostgreSQL, Redis and Node.js test images.
pub(crate) const DEBOOTSTRAP: Needed = Needed { name: "debootstrap", package: "debootstrap" };
/// chroot, which runs apt-get inside such a root filesystem to install its packages.
pub(crate) const CHROOT: Needed = Needed { name: "chroot", package: "coreutils" };
/// tar, which packs that root filesystem for `podman import`.
pub(crate) const TAR: Needed = Needed { name: "tar", package: "tar" };

/// Everything [`resolve_stack`] checks, in the order its error lists what is missing.
pub(crate) const STACK_NEEDS: [Needed; 7] =
    [PODMAN, RUNC, CADDY, PDNS_SERVER, PDNS_SQLITE_SCHEMA, SQLITE3, DOCKER_REGISTRY];

/// The Debian package that provides `name` (a program or file the stack or its images need).
#[cfg(test)]
fn package_for(name: &str) -> Option<&'static str> {
    STACK_NEEDS
        .iter()
        .chain(&FLEET_NEEDS)
        .chain([&BUSYBOX_STATIC, &DEBOOTSTRAP, &CHROOT, &TAR])
        .find(|n| n.name == name)
        .map(|n| n.package)
}

/// `ip`, which makes a fleet's namespaces and links.
pub(crate) const IP: Needed = Needed { name: "ip", package: "iproute2" };
/// The OpenSSH server each host of a fleet runs.
pub(crate) const SSHD: Needed = Needed { name: "sshd", package: "openssh-server" };
/// ssh-keygen, which makes a fleet's host and client keys.
pub(crate) const SSH_KEYGEN: Needed = Needed { name: "ssh-keygen", package: "openssh-client" };
/// What a fleet needs besides the stack's programs.
pub(crate) const FLEET_NEEDS: [Needed; 3] = [IP, SSHD, SSH_KEYGEN];

/// The directories programs are looked up in.
#[derive(Clone, Debug)]
pub(crate) struct SearchPath(Vec<PathBuf>);

impl SearchPath {
    /// `dirs` in `$PATH` syntax, or, when `None`, `$PATH` followed by the sbin directories.
    pub fn new(dirs: Option<&OsStr>) -> Self {
        match dirs {
            Some(dirs) => SearchPath(std::env::split_paths(dirs).collect()),
            None => {
                let mut all: Vec<PathBuf> =
                    std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
                all.extend(SBIN_DIRS.iter().map(PathBuf::from));
                SearchPath(all)
            }
        }
    }

    /// The first executable file called `name` on the path. An absolute
    /// `name` is a fixed file that only has to exist.
    pub fn find(&self, name: &str) -> Option<PathBuf> {
        if Path::new(name).is_absolute() {
            return Path::new(name).is_file().then(|| PathBuf::from(name));
        }
        self.0.iter().filter(|dir| dir.is_absolute()).map(|dir| dir.join(name)).find(|path| is_executable(path))
    }

    /// Finds `needed`, or fails naming its package.
    pub fn require(&self, needed: Needed) -> Result<PathBuf> {
        self.find(needed.name).ok_or_else(|| missing_error(&[needed]))
    }
}

/// Whether `path` is a regular file (after symlinks) with an execute bit.
fn is_executable(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Where everything the stack runs lives on this machine.
#[derive(Clone, Debug)]
pub(crate) struct StackPrograms {
    pub podman: PathBuf,
    pub runc: PathBuf,
    pub caddy: PathBuf,
    pub pdns_server: PathBuf,
    pub pdns_sqlite_schema: PathBuf,
    pub sqlite3: PathBuf,
    pub docker_registry: PathBuf,
}

/// Finds everything the stack needs, or fails listing every missing piece with its package.
pub(crate) fn resolve_stack(search: &SearchPath) -> Result<StackPrograms> {
    let found: Vec<Option<PathBuf>> = STACK_NEEDS.iter().map(|n| search.find(n.name)).collect();
    let missing: Vec<Needed> = STACK_NEEDS.iter().zip(&found).filter(|(_, f)| f.is_none()).map(|(n, _)| *n).collect();
    if !missing.is_empty() {
        return Err(missing_error(&missing));
    }
    let mut found = found.into_iter().flatten();
    let mut next = || found.next().unwrap_or_default();
    Ok(StackPrograms {
        podman: next(),
        runc: next(),
        caddy: next(),
        pdns_server: next(),
        pdns_sqlite_schema: next(),
        sqlite3: next(),
        docker_registry: next(),
    })
}

/// The error for missing programs or files: each with its package, and the one command that installs them all.
pub(crate) fn missing_error(missing: &[Needed]) -> Error {
    let list: Vec<String> = missing.iter().map(|n| format!("{} (Debian package {})", n.name, n.package)).collect();
    let mut packages: Vec<&str> = missing.iter().map(|n| n.package).collect();
    packages.dedup();
    let packages = packages.join(" ");
    Error::new(
        ErrorKind::NotFound,
        format!("this machine lacks {}; install with: apt-get install {packages}", list.join(", ")),
    )
    .with_context("packages", packages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_program_maps_to_its_debian_package() {
        let expected = [
            ("podman", "podman"),
            ("runc", "runc"),
            ("caddy", "caddy"),
            ("pdns_server", "pdns-server"),
            ("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql", "pdns-backend-sqlite3"),
            ("sqlite3", "sqlite3"),
            ("docker-registry", "docker-registry"),
            ("/bin/busybox", "busybox-static"),
            ("debootstrap", "debootstrap"),
            ("tar", "tar"),
            ("ip", "iproute2"),
            ("sshd", "openssh-server"),
            ("ssh-keygen", "openssh-client"),
        ];
        for (name, package) in expected {
            assert_eq!(package_for(name), Some(package), "{name}");
        }
        assert_eq!(package_for("bash"), None);
    }

    #[test]
    fn the_missing_error_names_each_program_its_package_and_the_install_command() {
        let err = missing_error(&[PDNS_SERVER, DOCKER_REGISTRY]);
        assert_eq!(err.kind(), ErrorKind::NotFound);
        let text = err.to_string();
        assert!(text.contains("pdns_server (Debian package pdns-server)"), "{text}");
        assert!(text.contains("docker-registry (Debian package docker-registry)"), "{text}");
        assert!(text.contains("apt-get install pdns-server docker-registry"), "{text}");
        assert_eq!(err.context_value("packages"), Some("pdns-server docker-registry"));
    }

    #[test]
    fn find_skips_non_executable_files_and_relative_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("caddy");
        std::fs::write(&plain, "").unwrap();
        let search = SearchPath::new(Some(dir.path().as_os_str()));
        assert_eq!(search.find("caddy"), None, "a file without an execute bit is not a program");
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(search.find("caddy"), Some(plain));
        assert_eq!(SearchPath::new(Some(OsStr::new("relative/dir"))).find("caddy"), None);
    }

    #[test]
    fn resolve_lists_everything_missing_at_once() {
        let empty = tempfile::tempdir().unwrap();
        let err = resolve_stack(&SearchPath::new(Some(empty.path().as_os_str()))).unwrap_err();
        let text = err.to_string();
        for needed in STACK_NEEDS.iter().filter(|n| !Path::new(n.name).is_absolute()) {
            assert!(text.contains(needed.name), "{} missing from: {text}", needed.name);
        }
    }
}
