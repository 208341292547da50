//! `we init`: a commented `codeb.toml` written from the analysis of a
//! directory, never over an existing one unless forced.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::model::{ImageRef, Port, ProjectName};
use crate::project::analysis::{Analysis, Framework, PortSource, ProjectFiles, analyze};
use crate::project::containerfile::{self, DEFAULT_BASE_IMAGE, Recipe};
use crate::project::file::{PROJECT_FILE, ProjectFile, confine};
use crate::{Error, ErrorKind, Result};

/// How `init` goes about it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InitOptions {
    /// Write over an existing codeb.toml.
    pub force: bool,
    /// Analyse and show the file, write nothing.
    pub dry_run: bool,
}

/// What `init` found and wrote.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct InitReport {
    /// The project directory.
    pub dir: String,
    /// The project's name in codeb.toml: package.json's name (without its scope), else the directory's, made a valid project name.
    pub name: ProjectName,
    /// What analysis found.
    pub analysis: Analysis,
    /// The codeb.toml written (in a dry run: the one that would be).
    pub project_file: String,
    /// The Containerfile a deploy builds with, generated because the directory has none (on the default base image).
    pub containerfile: Option<String>,
    /// Whether codeb.toml was written (not in a dry run).
    pub written: bool,
    /// Whether a codeb.toml was there before (written over only with `force`).
    pub replaced: bool,
}

/// The port written for an app analysis cannot read one from (an image built by its own Containerfile).
const FALLBACK_PORT: u16 = 8080;

/// Analyses `dir` and writes its `codeb.toml`; see [`init_under`].
pub fn init(dir: &Path, options: &InitOptions) -> Result<InitReport> {
    init_under(dir, &[], options)
}

/// Analyses `dir` and writes its `codeb.toml` (atomically; a symlink in its
/// place is replaced, never followed). Everything is checked before anything
/// is written: bad input (a package.json that is not JSON, a Node app with
/// no start script and no Containerfile) is `Invalid`, an existing
/// codeb.toml without `force` is `Conflict` naming it, and `dir` or any file
/// read resolving outside `roots` is `Forbidden` (no roots: anywhere).
pub fn init_under(dir: &Path, roots: &[PathBuf], options: &InitOptions) -> Result<InitReport> {
    if !dir.is_dir() {
        return Err(Error::invalid(format!("{} is not a directory", dir.display())).with_context("field", "dir"));
    }
    confine(roots, "dir", "the project directory", dir)?;
    let analysis = analyze(&ProjectFiles::read_under(dir, roots)?)?;
    let port = match analysis.port {
        Some(port) => port,
        None => Port::new(FALLBACK_PORT)?,
    };
    let containerfile = match &analysis.containerfile {
        Some(_) => None,
        None => {
            let recipe = Recipe::new(ImageRef::parse(DEFAULT_BASE_IMAGE)?, port);
            Some(containerfile::generate(&analysis, &recipe)?)
        }
    };
    let name = project_name(analysis.package_name.as_deref(), dir)?;
    let project_file = render(&name, port, &analysis);
    ProjectFile::parse(&project_file)
        .map_err(|e| Error::internal(format!("init wrote a codeb.toml it cannot read: {e}")))?;
    let target = dir.join(PROJECT_FILE);
    let replaced = target.symlink_metadata().is_ok();
    if replaced && !options.force {
        return Err(Error::conflict(format!("{} exists; init writes over it only when forced", target.display()))
            .with_context("file", PROJECT_FILE)
            .with_context("hint", "give force (`we init --force`) to write over it"));
    }
    if !options.dry_run {
        write_atomically(dir, PROJECT_FILE, &project_file)?;
    }
    let dir = dir.display().to_string();
    Ok(InitReport { dir, name, analysis, project_file, containerfile, written: !options.dry_run, replaced })
}

/// A valid project name from the package's name (its scope dropped), else
/// the directory's: lowercase, runs of other characters made one `-`.
fn project_name(package: Option<&str>, dir: &Path) -> Result<ProjectName> {
    let dir_name = dir.canonicalize().ok().and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()));
    let candidates = [package.map(|p| p.rsplit('/').next().unwrap_or(p).to_owned()), dir_name];
    let valid = candidates.into_iter().flatten().find_map(|c| ProjectName::parse(&label(&c)).ok());
    valid.map_or_else(|| ProjectName::parse("app").map_err(Error::from), Ok)
}

/// `text` as a DNS label that starts with a letter.
fn label(text: &str) -> String {
    let mut out = String::new();
    for c in text.to_lowercase().chars() {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            _ if !out.ends_with('-') => out.push('-'),
            _ => {}
        }
    }
    let trimmed = out.trim_matches('-');
    let named =
        if trimmed.starts_with(|c: char| c.is_ascii_digit()) { format!("app-{trimmed}") } else { trimmed.into() };
    named.chars().take(63).collect::<String>().trim_end_matches('-').to_owned()
}

/// The commented codeb.toml for the app `analysis` describes.
fn render(name: &ProjectName, port: Port, analysis: &Analysis) -> String {
    let node = analysis.framework != Framework::Other;
    let port_note = match analysis.port_source {
        Some(PortSource::StartScript) => "read from the start script",
        Some(PortSource::Default) => "the default: change it if the app listens elsewhere",
        None => "check it: the port the image listens on",
    };
    let build_note = match &analysis.containerfile {
        Some(file) => format!("# built by ./{file}, as it is"),
        None => format!(
            "# no Containerfile or Dockerfile here: codeb generates one for this Node app at each build\n\
             # (write your own to change it), on this base image:\n\
             # base_image = \"{DEFAULT_BASE_IMAGE}\"\n\
             # and without an install when this directory brings its node_modules (vendored, or from CI):\n\
             # install = false"
        ),
    };
    let mut text = format!(
        "# codeb.toml, written by `we init`: {found}.\n\
         # Every key is described in docs/cli.md; `we deploy --env staging --dry-run` shows what a deploy does.\n\
         \n\
         name = \"{name}\"\n\
         port = {port}                        # {port_note}\n\
         {release}\
         \n\
         [build]                            # the image is built from this directory\n\
         context = \".\"\n\
         {build_note}\n\
         \n\
         [healthcheck]                      # a release serves once this path answers\n\
         path = \"/\"\n\
         status = \"200-399\"\n",
        found = one_line(&analysis.to_string()),
        release = release_command(analysis),
    );
    if node {
        text.push_str(&format!(
            "\n[env]                              # plain values; secrets through `we env set --secret`\n\
             NODE_ENV = \"production\"\n\
             PORT = {port}\n"
        ));
    }
    let reason = |needed: bool, why: String| if needed { why } else { "not needed".to_owned() };
    let postgres = reason(analysis.needs_postgres, postgres_reason(analysis));
    let redis = reason(analysis.needs_redis, format!("{} found", crate::text::list(&analysis.redis_clients)));
    text.push_str(&format!(
        "\n[accessories]                      # each URL reaches the app as a secret env var\n\
         postgres = {}                   # DATABASE_URL: {postgres}\n\
         redis = {}                      # REDIS_URL: {redis}\n\
         \n\
         # [environments.staging]\n\
         # domains = [\"{name}-staging.example.com\"]\n",
        pad(analysis.needs_postgres),
        pad(analysis.needs_redis),
    ));
    text
}

/// The release command for Prisma's migrations, with the comment that says
/// when it runs; nothing without Prisma.
fn release_command(analysis: &Analysis) -> &'static str {
    match analysis.prisma {
        Some(_) => {
            "# Prisma's migrations, run once in the new image (with DATABASE_URL) before each release starts:\n\
                    release_command = [\"npx\", \"prisma\", \"migrate\", \"deploy\"]\n"
        }
        None => "",
    }
}

/// Why the app needs PostgreSQL.
fn postgres_reason(analysis: &Analysis) -> String {
    let mut why = Vec::new();
    if let Some(prisma) = analysis.prisma.as_ref().filter(|p| p.uses_postgres()) {
        why.push(format!("Prisma on {}", prisma.provider.as_deref().unwrap_or("postgresql")));
    }
    why.extend(analysis.postgres_clients.iter().cloned());
    one_line(&why.join(", "))
}

/// `true` or `false` padded to one width, so the comments after them line up.
fn pad(value: bool) -> &'static str {
    if value { "true " } else { "false" }
}

/// `text` with every control character (newlines too) escaped: what
/// package.json says can never start a line of codeb.toml.
fn one_line(text: &str) -> String {
    text.chars().flat_map(|c| if c.is_control() { c.escape_default().collect() } else { vec![c] }).collect()
}

/// Writes `name` in `dir`: a new file beside it, synced, then renamed over it.
fn write_atomically(dir: &Path, name: &str, text: &str) -> Result<()> {
    let failed = |e: std::io::Error| {
        Error::new(ErrorKind::Unavailable, format!("cannot write {name} in {}", dir.display())).with_source(e)
    };
    let mut salt = [0u8; 4];
    getrandom::fill(&mut salt).map_err(|e| Error::internal(format!("no random bytes: {e}")))?;
    let temp = dir.join(format!(".{name}.{}.tmp", u32::from_le_bytes(salt)));
    let written = std::fs::OpenOptions::new().write(true).create_new(true).open(&temp).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&temp, dir.join(name))) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(failed(e))
        }
    }
}

impl fmt::Display for InitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match (self.written, self.replaced) {
            (false, _) => "would write (dry run)",
            (true, true) => "wrote over",
            (true, false) => "wrote",
        };
        write!(f, "{verb} {}/{PROJECT_FILE} for {}: {}", self.dir, self.name, one_line(&self.analysis.to_string()))?;
        let accessories: Vec<&str> = [(self.analysis.needs_postgres, "postgres"), (self.analysis.needs_redis, "redis")]
            .into_iter()
            .filter_map(|(needed, name)| needed.then_some(name))
            .collect();
        if !accessories.is_empty() {
            write!(f, "\naccessories: {}", accessories.join(", "))?;
        }
        if self.containerfile.is_some() {
            write!(f, "\nthe image builds with a Containerfile codeb generates (multi-stage, non-root)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    const NEXT_PRISMA: &str = r#"{"name":"@acme/Shop Web","scripts":{"build":"next build","start":"next start -p 4000"},
        "dependencies":{"next":"15","@prisma/client":"6","bullmq":"5"}}"#;
    const SCHEMA: &str = "datasource db {\n  provider = \"postgresql\"\n  url = env(\"DATABASE_URL\")\n}\n";

    #[test]
    fn init_writes_a_project_file_that_the_parser_reads_back() {
        let dir = app(&[("package.json", NEXT_PRISMA), ("prisma/schema.prisma", SCHEMA), ("package-lock.json", "{}")]);
        let report = init(dir.path(), &InitOptions::default()).unwrap();
        let written = std::fs::read_to_string(dir.path().join(PROJECT_FILE)).unwrap();
        assert_eq!(written, report.project_file);
        let file = ProjectFile::parse(&written).unwrap();
        assert_eq!(file.name.as_str(), "shop-web", "the scope dropped, the name made a valid one");
        assert_eq!(file.port.get(), 4000);
        assert!(file.accessories.postgres && file.accessories.redis);
        assert_eq!(file.health.path.as_str(), "/");
        let env: Vec<(&str, &str)> = file.env.iter().map(|v| (v.key.as_str(), v.value.expose())).collect();
        assert_eq!(env, [("NODE_ENV", "production"), ("PORT", "4000")]);
        assert!(file.build.as_ref().is_some_and(|b| b.install) && file.image.is_none());
        let migrate = file.release_command.as_ref().map(|c| c.argv.join(" "));
        assert_eq!(migrate.as_deref(), Some("npx prisma migrate deploy"), "Prisma's migrations gate each release");
        assert!(report.written && !report.replaced);
        assert!(report.containerfile.as_deref().is_some_and(|c| c.contains(" npx prisma generate\n")));
        let read = ProjectFile::read(dir.path()).unwrap();
        let generated = read.build.and_then(|b| b.generated).unwrap();
        assert!(generated.contains("EXPOSE 4000"), "a deploy builds with the generated Containerfile: {generated}");
    }

    #[test]
    fn the_commented_install_switch_builds_without_an_install_once_uncommented() {
        let dir = app(&[("package.json", NEXT_PRISMA), ("package-lock.json", "{}")]);
        let report = init(dir.path(), &InitOptions::default()).unwrap();
        assert!(report.project_file.contains("\n# install = false\n"), "{}", report.project_file);
        let vendored = report.project_file.replace("\n# install = false\n", "\ninstall = false\n");
        std::fs::write(dir.path().join(PROJECT_FILE), vendored).unwrap();
        let generated = ProjectFile::read(dir.path()).unwrap().build.and_then(|b| b.generated).unwrap();
        assert!(!generated.contains("npm ci") && generated.contains("install = false"), "{generated}");
    }

    #[test]
    fn an_app_without_prisma_gets_no_release_command() {
        let dir = app(&[("package.json", r#"{"scripts":{"start":"node index.js"}}"#)]);
        let report = init(dir.path(), &InitOptions::default()).unwrap();
        assert!(!report.project_file.contains("release_command"), "{}", report.project_file);
    }

    #[test]
    fn an_existing_project_file_is_kept_unless_forced() {
        let dir = app(&[("package.json", r#"{"scripts":{"start":"node index.js"}}"#), ("codeb.toml", "mine")]);
        let err = init(dir.path(), &InitOptions::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert_eq!(err.context_value("file"), Some(PROJECT_FILE), "{err}");
        assert_eq!(std::fs::read_to_string(dir.path().join(PROJECT_FILE)).unwrap(), "mine");
        let dry = init(dir.path(), &InitOptions { force: true, dry_run: true }).unwrap();
        assert!(!dry.written && dry.replaced);
        assert_eq!(std::fs::read_to_string(dir.path().join(PROJECT_FILE)).unwrap(), "mine", "a dry run writes nothing");
        let forced = init(dir.path(), &InitOptions { force: true, dry_run: false }).unwrap();
        assert!(forced.written && forced.replaced);
        assert_eq!(std::fs::read_to_string(dir.path().join(PROJECT_FILE)).unwrap(), forced.project_file);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 2, "no temporary file left behind: {left:?}");
    }

    #[test]
    fn a_symlinked_project_file_is_replaced_not_followed() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("target"), "keep").unwrap();
        let dir = app(&[("package.json", r#"{"scripts":{"start":"node index.js"}}"#)]);
        std::os::unix::fs::symlink(outside.path().join("target"), dir.path().join(PROJECT_FILE)).unwrap();
        assert_eq!(init(dir.path(), &InitOptions::default()).unwrap_err().kind(), ErrorKind::Conflict);
        init(dir.path(), &InitOptions { force: true, dry_run: false }).unwrap();
        assert_eq!(std::fs::read_to_string(outside.path().join("target")).unwrap(), "keep");
        assert!(!dir.path().join(PROJECT_FILE).symlink_metadata().unwrap().file_type().is_symlink());
    }

    #[test]
    fn bad_input_is_refused_before_anything_is_written() {
        for (package_json, field) in [("{\"name\": ", "package.json"), (r#"{"name":"api"}"#, "scripts.start")] {
            let dir = app(&[("package.json", package_json)]);
            let err = init(dir.path(), &InitOptions::default()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
            let named = err.context_value("field").or(err.context_value("file"));
            assert_eq!(named, Some(field), "{err}");
            assert!(!dir.path().join(PROJECT_FILE).exists());
        }
        let empty = app(&[]);
        assert_eq!(init(empty.path(), &InitOptions::default()).unwrap_err().kind(), ErrorKind::Invalid);
        let own = app(&[("package.json", r#"{"name":"api"}"#), ("Dockerfile", "FROM scratch\n")]);
        let report = init(own.path(), &InitOptions::default()).unwrap();
        assert!(report.containerfile.is_none(), "a Dockerfile of its own builds it: no start script needed");
    }

    #[test]
    fn whatever_package_json_names_cannot_add_lines_to_the_project_file() {
        let hostile = r#"{"name":"x\nport = 1\n[env]\nA=\"b\"","scripts":{"start":"node a.js\n[accessories]"}}"#;
        let dir = app(&[("package.json", hostile)]);
        let report = init(dir.path(), &InitOptions { force: false, dry_run: true }).unwrap();
        let file = ProjectFile::parse(&report.project_file).unwrap();
        assert_eq!(file.port.get(), 3000);
        assert_eq!(file.env.len(), 2, "{}", report.project_file);
    }

    #[test]
    fn names_become_valid_project_names() {
        for (given, name) in
            [("shop", "shop"), ("@acme/shop_web", "shop-web"), ("My App!", "my-app"), ("2fast", "app-2fast")]
        {
            assert_eq!(project_name(Some(given), Path::new("/nonexistent")).unwrap().as_str(), name, "{given}");
        }
        assert_eq!(project_name(Some("---"), Path::new("/nonexistent")).unwrap().as_str(), "app");
    }
}
