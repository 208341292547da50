//! Crash-safe replacement of one file, and the writers' lock beside it.
//!
//! Shared by the stores that keep a document in a file ([`crate::FileStateStore`],
//! [`crate::FileSecretStore`]). Readers never lock: a writer replaces the file
//! whole by `rename`, so a reader sees the old or the new bytes, never a mix.
//! Writers serialise on an exclusive `flock` of `<path>.lock` (the kernel
//! drops it when the process dies), write `<path>.tmp`, fsync it, rename it
//! over `<path>` and fsync the directory, so a kill or power loss at any
//! instant leaves the last committed file, never a torn one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// `<path><suffix>`, beside the file.
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Who may read what the writer creates: the umask's choice, or the owner only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Files as the umask allows; directories created as the umask allows.
    Default,
    /// Files 0600 and directories 0700, whatever the umask.
    OwnerOnly,
    /// Files with exactly these permission bits, whatever the umask;
    /// directories as the umask allows.
    Mode(u32),
}

impl Access {
    fn file_mode(self) -> Option<u32> {
        match self {
            Access::Default => None,
            Access::OwnerOnly => Some(0o600),
            Access::Mode(mode) => Some(mode),
        }
    }
}

/// Creates the directory of `path` (and its parents) if missing.
pub(crate) fn create_dir_of(path: &Path, access: Access) -> io::Result<()> {
    let dir = dir_of(path);
    match access {
        Access::Default | Access::Mode(_) => fs::create_dir_all(dir),
        Access::OwnerOnly => fs::DirBuilder::new().recursive(true).mode(0o700).create(dir),
    }
}

/// Opens `path` for writing, created with `access`, truncated, and with the
/// mode forced even if the file existed with another.
pub(crate) fn open_for_write(path: &Path, access: Access) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if let Some(mode) = access.file_mode() {
        options.mode(mode);
    }
    let file = options.open(path)?;
    if let Some(mode) = access.file_mode() {
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    Ok(file)
}

/// Takes the writers' lock of `path`, waiting for it; released when the returned file is dropped.
pub(crate) fn lock(path: &Path, access: Access) -> io::Result<File> {
    create_dir_of(path, access)?;
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    if let Some(mode) = access.file_mode() {
        options.mode(mode);
    }
    let file = options.open(sibling(path, ".lock"))?;
    file.lock()?;
    Ok(file)
}

/// Replaces `path` with `bytes` atomically and durably. The caller holds the lock.
pub(crate) fn replace(path: &Path, bytes: &[u8], access: Access) -> io::Result<()> {
    replace_via(path, &sibling(path, ".tmp"), bytes, access)
}

/// Replaces `path` with `bytes` atomically and durably through the temp file
/// `tmp` (beside `path`), which no other writer may be using.
pub(crate) fn replace_via(path: &Path, tmp: &Path, bytes: &[u8], access: Access) -> io::Result<()> {
    let written = open_for_write(tmp, access).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| fs::rename(tmp, path));
    if let Err(e) = renamed {
        // Best effort: a leftover temp file is harmless (the next writer truncates it).
        let _ = fs::remove_file(tmp);
        return Err(e);
    }
    sync_dir(dir_of(path))
}

/// Makes a rename inside `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn an_owner_only_replace_makes_a_0600_file_in_a_0700_directory_even_over_a_wider_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a").join("b").join("doc");
        let _lock = lock(&path, Access::OwnerOnly).unwrap();
        fs::write(sibling(&path, ".tmp"), b"left by a crash").unwrap();
        fs::set_permissions(sibling(&path, ".tmp"), fs::Permissions::from_mode(0o644)).unwrap();
        replace(&path, b"new", Access::OwnerOnly).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&sibling(&path, ".lock")), 0o600);
        assert_eq!(mode(dir_of(&path)), 0o700);
        assert!(!sibling(&path, ".tmp").exists());
    }

    #[test]
    fn the_directory_of_a_bare_name_is_the_current_one() {
        assert_eq!(dir_of(Path::new("doc.json")), Path::new("."));
        assert_eq!(dir_of(Path::new("/x/doc.json")), Path::new("/x"));
        assert_eq!(sibling(Path::new("/x/doc.json"), ".lock"), Path::new("/x/doc.json.lock"));
    }
}
