//! `<dir>/stack.json`: what `up` started and how to reach it, for `down`,
//! `status` and every client of the stack.
//!
//! The file holds the PowerDNS API key, so it is created with mode 0600, and
//! it is replaced atomically (temp file, fsync, rename, directory fsync) so a
//! crash never leaves a torn record that would strand running processes.

use std::fs::{self, File};
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::daemon::ProcessId;
use super::part::Part;

/// The record's file name inside the data directory.
pub(crate) const RECORD_FILE: &str = "stack.json";

/// The format written; a record of another format is refused rather than guessed at.
const FORMAT: u32 = 1;

/// The whole record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StackRecord {
    /// Always [`FORMAT`].
    pub format: u32,
    /// The processes `up` started, one per part.
    pub parts: Vec<PartRecord>,
    /// How to reach them.
    pub endpoints: EndpointsRecord,
}

/// One started process.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PartRecord {
    /// Which part it is.
    pub part: Part,
    /// Who it is.
    pub process: ProcessId,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
}

/// The endpoints, with the key in plain text (the file is 0600).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EndpointsRecord {
    pub podman_socket: PathBuf,
    pub caddy_admin: SocketAddr,
    pub http: SocketAddr,
    pub pdns_api: SocketAddr,
    pub pdns_api_key: String,
    pub pdns_dns: SocketAddr,
    pub registry: SocketAddr,
    /// False in the record of a stack started before its registry could speak TLS.
    #[serde(default)]
    pub registry_tls: bool,
    /// Empty in the record of a stack started before its registry had a password.
    #[serde(default)]
    pub registry_password: String,
}

impl StackRecord {
    /// A record of the current format.
    pub fn new(parts: Vec<PartRecord>, endpoints: EndpointsRecord) -> Self {
        StackRecord { format: FORMAT, parts, endpoints }
    }
}

/// Why a record could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The file cannot be read.
    Io(io::Error),
    /// The file is not a record of this format.
    Invalid(String),
}

/// The record in `dir`, or `None` when there is none.
pub(crate) fn read(dir: &Path) -> Result<Option<StackRecord>, ReadError> {
    let text = match fs::read_to_string(dir.join(RECORD_FILE)) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ReadError::Io(e)),
    };
    let record: StackRecord = serde_json::from_str(&text).map_err(|e| ReadError::Invalid(e.to_string()))?;
    if record.format != FORMAT {
        return Err(ReadError::Invalid(format!("format {} is not the supported format {FORMAT}", record.format)));
    }
    Ok(Some(record))
}

/// Replaces the record in `dir` atomically, readable by its owner only.
pub(crate) fn write(dir: &Path, record: &StackRecord) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(record).map_err(io::Error::other)?;
    text.push('\n');
    crate::atomic::replace_owner_only(&dir.join(RECORD_FILE), text.as_bytes())
}

/// Removes the record from `dir` (nothing to do when it is absent).
pub(crate) fn remove(dir: &Path) -> io::Result<()> {
    match fs::remove_file(dir.join(RECORD_FILE)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => File::open(dir)?.sync_all(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn sample(dir: &Path) -> StackRecord {
        let addr = |port| SocketAddr::from(([127, 0, 0, 1], port));
        StackRecord::new(
            vec![PartRecord {
                part: Part::Caddy,
                process: ProcessId { pid: 42, start_time: 7, cmdline: vec!["caddy".into(), "run".into()] },
                log: dir.join("logs/caddy.log"),
            }],
            EndpointsRecord {
                podman_socket: dir.join("podman.sock"),
                caddy_admin: addr(1),
                http: addr(2),
                pdns_api: addr(3),
                pdns_api_key: "secret".into(),
                pdns_dns: addr(4),
                registry: addr(5),
                registry_tls: false,
                registry_password: "r3g".into(),
            },
        )
    }

    #[test]
    fn a_written_record_reads_back_equal_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let record = sample(dir.path());
        write(dir.path(), &record).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(record));
        let mode = fs::metadata(dir.path().join(RECORD_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!dir.path().join("stack.json.tmp").exists());
    }

    #[test]
    fn no_record_is_none_and_a_foreign_one_is_invalid() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        fs::write(dir.path().join(RECORD_FILE), "{\"format\": 99}").unwrap();
        assert!(matches!(read(dir.path()), Err(ReadError::Invalid(_))));
    }

    #[test]
    fn remove_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &sample(dir.path())).unwrap();
        remove(dir.path()).unwrap();
        remove(dir.path()).unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
    }
}
