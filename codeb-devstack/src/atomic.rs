//! Crash-safe replacement of the stack's own files (its record, its platform
//! file and the PowerDNS key file), readable by their owner only.
//!
//! Each is written to `<path>.tmp` (0600 whatever the umask), fsynced,
//! renamed over `<path>`, and the directory fsynced, so a kill or a power
//! loss leaves the old file or the new one, never a torn one. Writers of the
//! record hold the stack's lock; the platform file is written by the one
//! caller whose `up` succeeded. (The stores of `codeb-backends` have their
//! own, with writers' locks; this crate does not depend on the backends.)

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Replaces `path` with `bytes` atomically and durably, mode 0600.
pub(crate) fn replace_owner_only(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = sibling(path, ".tmp");
    let write = || -> io::Result<()> {
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        file.set_permissions(Permissions::from_mode(0o600))?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    if let Err(e) = write().and_then(|()| fs::rename(&tmp, path)) {
        // Best effort: a leftover temp file is harmless (the next writer truncates it).
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// `<path><suffix>`, beside the file.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_file_holds_the_new_bytes_is_private_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stack.json");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        replace_owner_only(&path, b"new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(!dir.path().join("stack.json.tmp").exists());
    }

    #[test]
    fn a_failed_replace_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a directory: the rename fails after the temp file was written.
        let target = dir.path().join("busy");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("inside"), "kept").unwrap();
        assert!(replace_owner_only(&target, b"new").is_err());
        assert_eq!(fs::read_to_string(target.join("inside")).unwrap(), "kept");
        assert!(!dir.path().join("busy.tmp").exists(), "the temp file is removed");
    }
}
