//! The build context: a directory packed as the tar archive the build endpoint takes.

use std::io;
use std::path::Path;

use codeb::{Error, ErrorKind, Result};

/// Packs the directory `context` into a tar archive in memory.
///
/// Symbolic links are stored as links, never followed, so a link cannot pull
/// files from outside the context into the build. Headers are deterministic
/// (fixed owner and time) so the same files always make the same archive.
/// The whole context is sent: Podman applies `.containerignore` /
/// `.dockerignore` on its side when it copies files.
pub(crate) fn pack(context: &Path, containerfile: &str) -> Result<Vec<u8>> {
    let error = |kind: ErrorKind, what: &str, e: io::Error| {
        Error::new(kind, format!("cannot {what} the build context"))
            .with_context("backend", "podman")
            .with_context("path", context.display())
            .with_source(e)
    };
    let meta = std::fs::metadata(context).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => error(ErrorKind::NotFound, "find", e),
        _ => error(ErrorKind::Unavailable, "read", e),
    })?;
    if !meta.is_dir() {
        return Err(Error::invalid("the build context is not a directory")
            .with_context("backend", "podman")
            .with_context("path", context.display()));
    }
    if !context.join(containerfile).is_file() {
        return Err(Error::not_found(format!("the build context has no {containerfile}"))
            .with_context("backend", "podman")
            .with_context("path", context.display()));
    }
    let mut archive = tar::Builder::new(Vec::new());
    archive.follow_symlinks(false);
    archive.mode(tar::HeaderMode::Deterministic);
    archive.append_dir_all(".", context).map_err(|e| error(ErrorKind::Unavailable, "pack", e))?;
    archive.into_inner().map_err(|e| error(ErrorKind::Unavailable, "pack", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(archive: &[u8]) -> Vec<(String, tar::EntryType, Vec<u8>)> {
        let mut reader = tar::Archive::new(archive);
        let mut out = Vec::new();
        for entry in reader.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            let kind = entry.header().entry_type();
            let mut body = Vec::new();
            io::Read::read_to_end(&mut entry, &mut body).unwrap();
            out.push((path, kind, body));
        }
        out
    }

    #[test]
    fn a_context_is_packed_with_its_files_and_links_kept_as_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Containerfile"), "FROM scratch\nCOPY hello /hello\n").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub").join("hello"), "hi").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("escape")).unwrap();
        let archive = pack(dir.path(), "Containerfile").unwrap();
        let entries = entries(&archive);
        let find = |name: &str| entries.iter().find(|(p, _, _)| p.trim_start_matches("./") == name).unwrap();
        assert_eq!(find("Containerfile").2, b"FROM scratch\nCOPY hello /hello\n");
        assert_eq!(find("sub/hello").2, b"hi");
        let (_, kind, body) = find("escape");
        assert_eq!(*kind, tar::EntryType::Symlink, "a link must not be followed");
        assert!(body.is_empty());
        assert_eq!(pack(dir.path(), "Containerfile").unwrap(), archive, "packing is deterministic");
    }

    #[test]
    fn a_missing_context_or_containerfile_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(pack(&dir.path().join("nope"), "Containerfile").unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(pack(dir.path(), "Containerfile").unwrap_err().kind(), ErrorKind::NotFound);
        std::fs::write(dir.path().join("file"), "x").unwrap();
        assert_eq!(pack(&dir.path().join("file"), "Containerfile").unwrap_err().kind(), ErrorKind::Invalid);
    }
}
