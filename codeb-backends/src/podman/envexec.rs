//! Secret environment variables that no inspection shows.
//!
//! Podman 4.3 shows a container's whole environment, an env-type Podman
//! secret included, in `podman inspect` and in the container's OCI config;
//! a secret file it shows only by name. So each secret variable of a
//! [`ContainerSpec`] becomes a secret file under [`SECRET_ENV_SUBDIR`], and the
//! container starts `codeb-envexec` (the workspace crate, built static by
//! this crate's build script and copied into the container before it
//! starts), which sets the variables from their files and then runs the
//! image's own entrypoint and command. It needs nothing from the image.
//!
//! Pure: what the container runs and the archive that carries the program;
//! the backend sends them.

use codeb::model::EnvVar;
use codeb::runtime::{ContainerSpec, SECRETS_DIR};
use codeb::{Error, Result};

/// The static `codeb-envexec` program.
const PROGRAM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/codeb-envexec"));

/// Where the program lives inside a container: the directory the archive
/// makes at the root, then the file.
const PROGRAM_DIR: &str = ".codeb";
const PROGRAM_FILE: &str = "envexec";

/// The directory of a container's secret variables under [`SECRETS_DIR`], one
/// file per variable named like it (no secret file can be named so: it is
/// no variable's name).
pub(crate) const SECRET_ENV_SUBDIR: &str = "codeb-env";

/// What a container with secret variables runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Launch {
    /// `codeb-envexec`, the directory, the variables' names and `--`.
    pub(crate) entrypoint: Vec<String>,
    /// What the image would run: its entrypoint, then the spec's command or else the image's.
    pub(crate) command: Vec<String>,
}

/// The variables of `spec` marked secret.
pub(crate) fn secret_vars(spec: &ContainerSpec) -> impl Iterator<Item = &EnvVar> {
    spec.env.iter().filter(|var| var.secret)
}

/// What the container of `spec` runs, given its image's entrypoint and
/// command: `None` when it has no secret variables (it runs as the image
/// says), `Invalid` when neither the image nor the spec names a program.
pub(crate) fn launch(
    spec: &ContainerSpec,
    image_entrypoint: &[String],
    image_cmd: &[String],
) -> Result<Option<Launch>> {
    let names: Vec<String> = secret_vars(spec).map(|var| var.key.to_string()).collect();
    if names.is_empty() {
        return Ok(None);
    }
    let cmd = spec.command.as_deref().unwrap_or(image_cmd);
    let command: Vec<String> = image_entrypoint.iter().chain(cmd).cloned().collect();
    if command.is_empty() {
        return Err(Error::invalid(format!("the image {} names no command to run, and none is given", spec.image))
            .with_context("backend", "podman")
            .with_context("container", &spec.name));
    }
    let program = format!("/{PROGRAM_DIR}/{PROGRAM_FILE}");
    let entrypoint = [program, format!("{SECRETS_DIR}/{SECRET_ENV_SUBDIR}")]
        .into_iter()
        .chain(names)
        .chain(["--".to_owned()])
        .collect();
    Ok(Some(Launch { entrypoint, command }))
}

/// The tar archive that puts the program at [`Launch::entrypoint`]'s path
/// when extracted at the container's root: owned by root, executable by all.
pub(crate) fn archive() -> Result<Vec<u8>> {
    let packing = |e: std::io::Error| {
        Error::internal("cannot pack codeb-envexec").with_context("backend", "podman").with_source(e)
    };
    let header = |kind: tar::EntryType, size: usize| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(0o755);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(size as u64);
        header
    };
    let mut archive = tar::Builder::new(Vec::new());
    let mut dir = header(tar::EntryType::Directory, 0);
    archive.append_data(&mut dir, PROGRAM_DIR, std::io::empty()).map_err(packing)?;
    let mut file = header(tar::EntryType::Regular, PROGRAM.len());
    archive.append_data(&mut file, format!("{PROGRAM_DIR}/{PROGRAM_FILE}"), PROGRAM).map_err(packing)?;
    archive.into_inner().map_err(packing)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use codeb::model::{ContainerName, EnvKey, EnvValue, ImageRef};
    use codeb::runtime::Resources;

    use super::*;

    fn spec(env: Vec<EnvVar>, command: Option<&[&str]>) -> ContainerSpec {
        ContainerSpec {
            name: ContainerName::parse("codeb-shop-staging-v1").unwrap(),
            image: ImageRef::parse("localhost/shop:v1").unwrap(),
            command: command.map(|c| c.iter().map(|s| (*s).to_owned()).collect()),
            env,
            labels: Default::default(),
            ports: Vec::new(),
            volumes: Vec::new(),
            network: None,
            resources: Resources::default(),
            init: true,
            secret_files: Vec::new(),
        }
    }

    fn var(key: &str, value: &str, secret: bool) -> EnvVar {
        EnvVar { key: EnvKey::parse(key).unwrap(), value: EnvValue::parse(value).unwrap(), secret }
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_container_without_secret_variables_runs_as_its_image_says() {
        let plain = spec(vec![var("GREETING", "hi", false)], None);
        assert_eq!(launch(&plain, &[], &strings(&["httpd"])).unwrap(), None);
    }

    #[test]
    fn secret_variables_are_named_before_the_images_entrypoint_and_command() {
        let env = vec![
            var("DATABASE_URL", "postgres://u:s3cret@db/x", true),
            var("MODE", "a", false),
            var("API_KEY", "k", true),
        ];
        let launched = launch(&spec(env.clone(), None), &strings(&["/entry.sh"]), &strings(&["node", "server.js"]));
        let launched = launched.unwrap().unwrap();
        assert_eq!(
            launched.entrypoint,
            ["/.codeb/envexec", "/run/secrets/codeb-env", "DATABASE_URL", "API_KEY", "--"],
            "the names of the secret variables, never a value"
        );
        assert_eq!(launched.command, ["/entry.sh", "node", "server.js"]);
        let overridden = launch(&spec(env, Some(&["node", "worker.js"])), &strings(&["/entry.sh"]), &strings(&["x"]));
        assert_eq!(
            overridden.unwrap().unwrap().command,
            ["/entry.sh", "node", "worker.js"],
            "the command replaces Cmd"
        );
    }

    #[test]
    fn an_image_that_names_no_program_is_invalid() {
        let err = launch(&spec(vec![var("API_KEY", "k", true)], None), &[], &[]).unwrap_err();
        assert_eq!(err.kind(), codeb::ErrorKind::Invalid);
        assert!(err.to_string().contains("names no command"), "{err}");
    }

    #[test]
    fn the_archive_holds_the_static_program_at_the_entrypoints_path() {
        let archive = archive().unwrap();
        let mut reader = tar::Archive::new(archive.as_slice());
        let mut entries = Vec::new();
        for entry in reader.entries().unwrap() {
            let mut entry = entry.unwrap();
            let mut body = Vec::new();
            entry.read_to_end(&mut body).unwrap();
            let header = entry.header();
            entries.push((
                entry.path().unwrap().display().to_string(),
                header.mode().unwrap(),
                header.uid().unwrap(),
                body,
            ));
        }
        assert_eq!(entries.len(), 2);
        assert_eq!((entries[0].0.as_str(), entries[0].1, entries[0].2), (".codeb", 0o755, 0));
        assert_eq!((entries[1].0.as_str(), entries[1].1, entries[1].2), (".codeb/envexec", 0o755, 0));
        let program = &entries[1].3;
        assert_eq!(program[..4], *b"\x7fELF", "an executable");
        assert!(!has_interpreter(program), "static: no program header asks for a dynamic loader");
    }

    /// Whether the ELF64 file `elf` has a `PT_INTERP` program header.
    fn has_interpreter(elf: &[u8]) -> bool {
        let number = |at: usize, len: usize| elf[at..at + len].iter().rev().fold(0, |n, b| n << 8 | usize::from(*b));
        let (offset, size, count) = (number(0x20, 8), number(0x36, 2), number(0x38, 2));
        (0..count).any(|i| number(offset + i * size, 4) == 3)
    }
}
