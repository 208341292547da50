//! The build context: a directory packed as the tar archive the build
//! endpoint takes, less what its ignore file leaves out.

use std::io;
use std::path::{Path, PathBuf};

use codeb::runtime::CONTAINERFILE_NAMES;
use codeb::{Error, ErrorKind, Result};

use super::ignore::{IGNORE_FILES, IgnoreRules, Verdict};

/// A packed build context.
#[derive(Debug)]
pub struct PackedContext {
    /// The tar archive sent as the build request's body.
    pub archive: Vec<u8>,
    /// The files (links included) it holds.
    pub files: usize,
}

/// Packs the directory `context` into a tar archive in memory, with
/// `containerfile` (relative to it) or, when `generated` is given, that text
/// as the context's `Containerfile`.
///
/// What the context's `.containerignore` (else its `.dockerignore`) excludes
/// is left out, as Docker's client leaves it out (see `ignore` for the
/// rules); the Containerfile and the ignore file itself are always sent. An
/// excluded directory is not even read, unless an exception names a path in
/// it. Symbolic links are stored as links, never followed, so a link cannot
/// pull files from outside the context into the build; an ignore file that
/// resolves outside the context is refused. Sockets, pipes and devices are
/// left out. Entries are in name order with deterministic headers (fixed
/// owner and time), so the same files always make the same archive.
pub fn pack(context: &Path, containerfile: &str, generated: Option<&str>) -> Result<PackedContext> {
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
    if generated.is_none() && !context.join(containerfile).is_file() {
        return Err(Error::not_found(format!("the build context has no {containerfile}"))
            .with_context("backend", "podman")
            .with_context("path", context.display()));
    }
    let (rules, ignore_file) = rules_of(context)?;
    let mut always = vec![PathBuf::from(containerfile)];
    always.extend(ignore_file.map(PathBuf::from));
    let mut packer = Packer { root: context, rules, always, archive: tar::Builder::new(Vec::new()), files: 0 };
    packer.archive.follow_symlinks(false);
    packer.archive.mode(tar::HeaderMode::Deterministic);
    packer.dir(Path::new(""), Verdict::default()).map_err(|e| error(ErrorKind::Unavailable, "pack", e))?;
    if let Some(text) = generated {
        packer.generated(CONTAINERFILE_NAMES[0], text).map_err(|e| error(ErrorKind::Unavailable, "pack", e))?;
    }
    let files = packer.files;
    let archive = packer.archive.into_inner().map_err(|e| error(ErrorKind::Unavailable, "pack", e))?;
    Ok(PackedContext { archive, files })
}

/// The rules of the context's ignore file, and its name; none when it has none.
fn rules_of(context: &Path) -> Result<(IgnoreRules, Option<&'static str>)> {
    let Some(name) = IGNORE_FILES.into_iter().find(|name| context.join(name).symlink_metadata().is_ok()) else {
        return Ok((IgnoreRules::none(), None));
    };
    let path = context.join(name);
    let inside = match (path.canonicalize(), context.canonicalize()) {
        (Ok(file), Ok(root)) => file.starts_with(root) && file.is_file(),
        _ => false,
    };
    if !inside {
        return Err(Error::new(ErrorKind::Forbidden, format!("the build context's {name} is not a file inside it"))
            .with_context("backend", "podman")
            .with_context("path", context.display()));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::new(ErrorKind::Unavailable, format!("cannot read the build context's {name}")).with_source(e)
    })?;
    Ok((IgnoreRules::parse(name, &text)?, Some(name)))
}

/// One walk of a context into an archive.
struct Packer<'a> {
    root: &'a Path,
    rules: IgnoreRules,
    /// Paths sent whatever the rules say.
    always: Vec<PathBuf>,
    archive: tar::Builder<Vec<u8>>,
    files: usize,
}

impl Packer<'_> {
    /// Adds what the directory `dir` (relative to the root) holds, in name order.
    fn dir(&mut self, dir: &Path, verdict: Verdict) -> io::Result<()> {
        let mut entries = std::fs::read_dir(self.root.join(dir))?.collect::<io::Result<Vec<_>>>()?;
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            let path = dir.join(entry.file_name());
            let kind = entry.file_type()?;
            let judged = self.rules.judge(&path, verdict);
            let always = self.always.contains(&path);
            let excluded = self.rules.excludes(judged) && !always;
            if kind.is_dir() {
                let needed = self.always.iter().any(|a| a.starts_with(&path));
                if !excluded {
                    self.archive.append_dir(&path, entry.path())?;
                } else if !needed && path.to_str().is_none_or(|p| self.rules.skips_dir(p)) {
                    continue;
                }
                self.dir(&path, judged)?;
            } else if !excluded && (kind.is_file() || kind.is_symlink()) {
                self.archive.append_path_with_name(entry.path(), &path)?;
                self.files += 1;
            }
        }
        Ok(())
    }

    /// Adds `text` as the file `name` at the root.
    fn generated(&mut self, name: &str, text: &str) -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        self.archive.append_data(&mut header, name, text.as_bytes())?;
        self.files += 1;
        Ok(())
    }
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

    fn names(archive: &[u8]) -> Vec<String> {
        entries(archive).into_iter().map(|(p, _, _)| p.trim_end_matches('/').to_owned()).collect()
    }

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn a_context_is_packed_with_its_files_and_links_kept_as_links() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "Containerfile", "FROM scratch\nCOPY hello /hello\n");
        write(dir.path(), "sub/hello", "hi");
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("escape")).unwrap();
        let packed = pack(dir.path(), "Containerfile", None).unwrap();
        let entries = entries(&packed.archive);
        let find = |name: &str| entries.iter().find(|(p, _, _)| p.trim_start_matches("./") == name).unwrap();
        assert_eq!(find("Containerfile").2, b"FROM scratch\nCOPY hello /hello\n");
        assert_eq!(find("sub/hello").2, b"hi");
        let (_, kind, body) = find("escape");
        assert_eq!(*kind, tar::EntryType::Symlink, "a link must not be followed");
        assert!(body.is_empty());
        assert_eq!(packed.files, 3);
        assert_eq!(
            pack(dir.path(), "Containerfile", None).unwrap().archive,
            packed.archive,
            "packing is deterministic"
        );
    }

    #[test]
    fn what_the_ignore_file_excludes_is_not_sent_but_the_containerfile_and_ignore_file_are() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "Containerfile", "FROM scratch\n");
        write(dir.path(), ".dockerignore", ".env\nnode_modules\nContainerfile\n.dockerignore\n*.log\n!keep.log\n");
        for name in [".env", "node_modules/a/index.js", "debug.log", "keep.log", "src/app.js", "src/.env"] {
            write(dir.path(), name, "x");
        }
        let sent = names(&pack(dir.path(), "Containerfile", None).unwrap().archive);
        assert_eq!(sent, [".dockerignore", "Containerfile", "keep.log", "src", "src/.env", "src/app.js"]);
    }

    #[test]
    fn containerignore_wins_over_dockerignore() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "Containerfile", "FROM scratch\n");
        write(dir.path(), ".containerignore", "a\n");
        write(dir.path(), ".dockerignore", "b\n");
        write(dir.path(), "a", "x");
        write(dir.path(), "b", "x");
        let sent = names(&pack(dir.path(), "Containerfile", None).unwrap().archive);
        assert_eq!(sent, [".containerignore", ".dockerignore", "Containerfile", "b"]);
    }

    #[test]
    fn an_exception_reaches_into_an_excluded_directory_and_a_nested_containerfile_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ".dockerignore", "vendor\n!vendor/keep\nbuild\n");
        write(dir.path(), "build/App.containerfile", "FROM scratch\n");
        write(dir.path(), "build/secret", "x");
        write(dir.path(), "vendor/keep/a", "x");
        write(dir.path(), "vendor/drop", "x");
        let sent = names(&pack(dir.path(), "build/App.containerfile", None).unwrap().archive);
        assert_eq!(sent, [".dockerignore", "build/App.containerfile", "vendor/keep", "vendor/keep/a"]);
    }

    #[test]
    fn an_attackers_links_never_take_the_packer_outside_the_context() {
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "secret", "hunter2");
        write(outside.path(), "ignore", "nothing\n");
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "Containerfile", "FROM scratch\n");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("linked-dir")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("linked-file")).unwrap();
        std::os::unix::fs::symlink("../../../../../../..", dir.path().join("up")).unwrap();
        let packed = pack(dir.path(), "Containerfile", None).unwrap();
        for (path, kind, body) in entries(&packed.archive) {
            assert_ne!(body, b"hunter2", "{path} holds a file from outside");
            assert!(path.matches('/').count() <= 1, "nothing under a linked directory is packed: {path}");
            if path.contains("linked") || path.contains("up") {
                assert_eq!(kind, tar::EntryType::Symlink, "{path}");
            }
        }
        std::os::unix::fs::symlink(outside.path().join("ignore"), dir.path().join(".dockerignore")).unwrap();
        let err = pack(dir.path(), "Containerfile", None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden, "an ignore file read from outside: {err}");
    }

    #[test]
    fn a_generated_containerfile_is_sent_as_the_contexts_containerfile() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "package.json", "{}");
        let packed = pack(dir.path(), "Containerfile", Some("FROM node\n")).unwrap();
        let entries = entries(&packed.archive);
        let containerfile = entries.iter().find(|(p, _, _)| p == "Containerfile").unwrap();
        assert_eq!(containerfile.2, b"FROM node\n");
        assert_eq!(packed.files, 2);
    }

    #[test]
    fn a_missing_context_or_containerfile_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(pack(&dir.path().join("nope"), "Containerfile", None).unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(pack(dir.path(), "Containerfile", None).unwrap_err().kind(), ErrorKind::NotFound);
        write(dir.path(), "file", "x");
        assert_eq!(pack(&dir.path().join("file"), "Containerfile", None).unwrap_err().kind(), ErrorKind::Invalid);
    }
}
