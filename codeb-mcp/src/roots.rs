//! Which project directories the server may read.
//!
//! `deploy` and `plan` read `codeb.toml` from a directory the client names.
//! A local stdio client runs as the same user and could read the file
//! itself, but an HTTP client is a network peer: it must not make the server
//! read files elsewhere. Paths are resolved (symlinks and `..` included)
//! before they are compared, so neither can lead out of a root.

use std::path::{Path, PathBuf};

use codeb::{Error, Result};

use crate::failure::ToolFailure;

/// The directories under which project directories may be read; empty means any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectRoots {
    roots: Vec<PathBuf>,
}

impl ProjectRoots {
    /// Any directory the server's user can read.
    pub fn any() -> Self {
        ProjectRoots::default()
    }

    /// Only directories under `dirs`, each of which must exist.
    pub fn only(dirs: &[PathBuf]) -> Result<Self> {
        let roots = dirs
            .iter()
            .map(|dir| {
                dir.canonicalize().map_err(|e| {
                    Error::invalid("a project root must be an existing directory")
                        .with_context("path", dir.display())
                        .with_source(e)
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ProjectRoots { roots })
    }

    /// The resolved roots; empty when any directory is allowed.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.roots
    }

    /// `dir` resolved, if it lies under a root; a refusal names the argument, not the roots.
    pub fn admit(&self, argument: &str, dir: &Path) -> std::result::Result<PathBuf, ToolFailure> {
        if self.roots.is_empty() {
            return Ok(dir.to_owned());
        }
        let resolved = dir
            .canonicalize()
            .map_err(|_| ToolFailure::bad_argument(argument, "is not a directory this server can read"))?;
        if self.roots.iter().any(|root| resolved.starts_with(root)) {
            Ok(resolved)
        } else {
            Err(ToolFailure::bad_argument(argument, "lies outside the project roots this server was started with"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_admitted_only_when_it_resolves_under_a_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("projects");
        let app = root.join("shop");
        let outside = tmp.path().join("secrets");
        for dir in [&app, &outside] {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        let roots = ProjectRoots::only(std::slice::from_ref(&root)).unwrap();

        assert_eq!(roots.admit("path", &app).unwrap(), app.canonicalize().unwrap());
        assert!(roots.admit("path", &root.join("shop/../shop")).is_ok());
        for escape in [outside.clone(), root.join("../secrets"), root.join("link"), root.join("missing")] {
            let refused = roots.admit("path", &escape).unwrap_err();
            assert_eq!(refused.kind(), "invalid", "{escape:?}");
        }
        assert_eq!(ProjectRoots::any().admit("path", &outside).unwrap(), outside, "no roots: any directory");
        assert!(ProjectRoots::only(&[tmp.path().join("nope")]).is_err(), "a root must exist");
    }
}
