//! `codeb.toml`, the project file: what an app is and how it deploys.
//!
//! The vocabulary borrows from fly.toml and Kamal's deploy.yml:
//!
//! ```toml
//! name = "shop"
//! image = "localhost/shop:v1"        # or a [build] section
//! port = 8080                        # the port the app listens on (fly: internal_port)
//! command = ["node", "server.js"]    # optional; the image's default otherwise
//! release_command = ["npx", "prisma", "migrate", "deploy"]  # optional; once per deploy, before the release starts
//! release_command_timeout = "5m"     # the default
//!
//! [build]
//! context = "."
//! containerfile = "Containerfile"
//!
//! [healthcheck]                      # Kamal's names and defaults
//! path = "/up"
//! status = "200-399"
//! body = "ok"
//! interval = "1s"
//! timeout = "5s"
//! start_period = "0s"
//! deadline = "30s"
//!
//! [env]                              # plain values; secrets go through `we env set --secret`
//! NODE_ENV = "production"
//!
//! [accessories]
//! postgres = true
//! redis = false
//!
//! [resources]
//! memory = "512M"                    # or "512MB", "512MiB", "1.5G": powers of 1024
//! cpus = 1.5
//!
//! [environments.staging]
//! domains = ["shop-staging.codeb.test"]
//! ```
//!
//! Unknown keys are errors that name the key and its line; so is every
//! refused value, with what to write when its meaning is plain (see `raw`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::engine::{Accessories, DeployRequest, ReleaseCommand};
use crate::model::{DomainName, EnvVar, Environment, HealthCheck, ImageRef, Port, ProjectName, ServerName, Service};
use crate::project::containerfile::{self, DEFAULT_BASE_IMAGE, Recipe};
use crate::project::raw::Raw;
use crate::project::{ProjectFiles, analyze};
use crate::runtime::{BuildSpec, Resources, build_containerfile, managed_labels};
use crate::{Error, Result};

/// The parsed and validated project file.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectFile {
    /// The project's name.
    pub name: ProjectName,
    /// The image to deploy, when it is not built here.
    pub image: Option<ImageRef>,
    /// How to build the image, when it is built here.
    pub build: Option<BuildSection>,
    /// The port the app listens on inside its container.
    pub port: Port,
    /// The command to run instead of the image's default.
    pub command: Option<Vec<String>>,
    /// The command run once before each new release starts (a migration).
    pub release_command: Option<ReleaseCommand>,
    /// When the app counts as healthy.
    pub health: HealthCheck,
    /// Plain env vars.
    pub env: Vec<EnvVar>,
    /// Accessories wanted.
    pub accessories: Accessories,
    /// Resource limits.
    pub resources: Resources,
    /// Domains per environment.
    pub domains: BTreeMap<Environment, Vec<DomainName>>,
    /// The server each environment that names one runs on.
    pub servers: BTreeMap<Environment, ServerName>,
}

/// How to build the app's image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildSection {
    /// The build context, relative to the project file's directory.
    pub context: PathBuf,
    /// The Containerfile, relative to the context.
    pub containerfile: Option<PathBuf>,
    /// The base image of a generated Containerfile (`[build] base_image`).
    pub base_image: Option<ImageRef>,
    /// Whether a generated Containerfile installs the dependencies (`[build]
    /// install`, on by default); off when the context brings `node_modules`.
    pub install: bool,
    /// The Containerfile codeb generated, when the context has none of its
    /// own (set by [`ProjectFile::read_under`], which reads the context).
    pub generated: Option<String>,
}

/// The file name codeb looks for in a project directory.
pub const PROJECT_FILE: &str = "codeb.toml";

impl ProjectFile {
    /// Parses project file text. Syntax errors, unknown keys and refused
    /// values name their line (context `line`), a refused value its field
    /// and, when its meaning is plain, a `hint` with what to write.
    pub fn parse(text: &str) -> Result<Self> {
        let raw: Raw = crate::tomlfile::parse(PROJECT_FILE, text)?;
        raw.validate(text).map_err(|e| e.with_context("file", PROJECT_FILE))
    }

    /// The JSON schema (draft-07, which editors' TOML tools read) of what
    /// `codeb.toml` may hold, from the very types [`ProjectFile::parse`]
    /// reads, made standard (no `null`: TOML has none; no schemars formats):
    /// `docs/codeb.schema.json` is this, and a test keeps it so.
    #[cfg(feature = "schemars")]
    pub fn json_schema() -> serde_json::Value {
        let generator = schemars::generate::SchemaSettings::draft07().into_generator();
        let schema = generator.into_root_schema_for::<Raw>();
        let object = schema.as_object().cloned().unwrap_or_default();
        serde_json::Value::Object(crate::schema::standard::input(&object))
    }

    /// Reads and parses `codeb.toml` in `dir`.
    pub fn read(dir: &Path) -> Result<Self> {
        ProjectFile::read_under(dir, &[])
    }

    /// Reads and parses `codeb.toml` in `dir`, refusing (`Forbidden`) a file
    /// that would make codeb read outside `roots`: the file itself, the
    /// build context or its Containerfile resolving (symlinks and `..`
    /// followed) outside every root. No roots: anywhere.
    pub fn read_under(dir: &Path, roots: &[PathBuf]) -> Result<Self> {
        let path = dir.join(PROJECT_FILE);
        confine(roots, PROJECT_FILE, PROJECT_FILE, &path)?;
        let text = crate::tomlfile::read_capped(&path, "the project file")?;
        let mut file = ProjectFile::parse(&text)?;
        if let Some(build) = &mut file.build {
            build.context = dir.join(&build.context);
            confine(roots, "build.context", "build.context in codeb.toml", &build.context)?;
            let containerfile = build.context.join(build_containerfile(&build.context, build.containerfile.as_deref()));
            confine(roots, "build.containerfile", "build.containerfile in codeb.toml", &containerfile)?;
            if build.containerfile.is_none() && build.context.is_dir() && !containerfile.exists() {
                build.generated = Some(generated_containerfile(build, roots, file.port)?);
            }
        }
        Ok(file)
    }

    /// The deploy of this project to `env`. `image` overrides the file's (a
    /// `--image` flag); without either, the `[build]` section builds the
    /// image as `localhost/<name>:build-<UTC time to the millisecond>-<4 random hex digits>`,
    /// a tag no two builds share.
    pub fn deploy_request(&self, env: &Environment, image: Option<ImageRef>) -> Result<DeployRequest> {
        let (image, build) = match image.or_else(|| self.image.clone()) {
            Some(image) => (image, None),
            None => {
                let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S%3f");
                let mut salt = [0u8; 2];
                getrandom::fill(&mut salt).map_err(|e| Error::internal(format!("no random bytes: {e}")))?;
                let tag =
                    ImageRef::parse(&format!("localhost/{}:build-{stamp}-{:02x}{:02x}", self.name, salt[0], salt[1]))?;
                let spec = self.build_spec(env, tag.clone()).ok_or_else(|| {
                    Error::invalid(format!("{PROJECT_FILE} names no image and has no [build] section"))
                })?;
                (tag, Some(spec))
            }
        };
        let mut request = DeployRequest::new(self.name.clone(), env.clone(), image, self.port);
        request.build = build;
        request.command = self.command.clone();
        request.release_command = self.release_command.clone();
        request.env_vars = self.env.clone();
        request.domains = self.domains.get(env).cloned().unwrap_or_default();
        request.server = self.servers.get(env).cloned();
        request.accessories = self.accessories;
        request.health = self.health.clone();
        request.resources = self.resources;
        Ok(request)
    }

    /// What building this project's image for `env` as `tag` takes, if it
    /// has a `[build]` section. The image is labelled as the project's app,
    /// so deleting the project finds it.
    pub fn build_spec(&self, env: &Environment, tag: ImageRef) -> Option<BuildSpec> {
        self.build.as_ref().map(|b| BuildSpec {
            context: b.context.clone(),
            containerfile: b.containerfile.clone(),
            generated: b.generated.clone(),
            tag,
            labels: managed_labels(&self.name, env, Service::App, None),
        })
    }
}

/// The Containerfile a build context without one builds with: generated
/// from the analysis of the context, on the section's base image, with or
/// without the install as the section says.
fn generated_containerfile(build: &BuildSection, roots: &[PathBuf], port: Port) -> Result<String> {
    let analysis = analyze(&ProjectFiles::read_under(&build.context, roots)?)?;
    let default = || ImageRef::parse(DEFAULT_BASE_IMAGE).map_err(Error::from);
    let base = build.base_image.clone().map_or_else(default, Ok)?;
    let recipe = Recipe { base, port, install: build.install };
    containerfile::generate(&analysis, &recipe).map_err(|e| e.with_context("path", build.context.display()))
}

/// Refuses `path` (the `field` people call `shown`) when it resolves outside
/// every one of `roots` (none: anywhere). A path that does not resolve reads
/// nothing, so it is left to whoever reads it to say it is missing.
pub(crate) fn confine(roots: &[PathBuf], field: &'static str, shown: &str, path: &Path) -> Result<()> {
    let Ok(resolved) = path.canonicalize() else { return Ok(()) };
    let inside = |root: &PathBuf| root.canonicalize().is_ok_and(|root| resolved.starts_with(root));
    if roots.is_empty() || roots.iter().any(inside) {
        return Ok(());
    }
    Err(Error::new(crate::ErrorKind::Forbidden, format!("{shown} resolves outside the project roots"))
        .with_context("field", field))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
name = "shop"
image = "localhost/shop:v1"
port = 8080
command = ["node", "server.js"]

[healthcheck]
path = "/up"
status = "200-299"
body = "ok"
interval = "500ms"
deadline = "1m"

[env]
NODE_ENV = "production"

[accessories]
postgres = true

[resources]
memory = "512M"
cpus = 1.5

[environments.staging]
domains = ["shop-staging.codeb.test"]
server = "app2"

[environments.preview-pr1]
domains = ["pr1.shop.codeb.test"]
"#;

    #[test]
    fn a_full_file_becomes_a_deploy_request() {
        let file = ProjectFile::parse(FULL).unwrap();
        let request = file.deploy_request(&Environment::Staging, None).unwrap();
        assert_eq!(request.project.as_str(), "shop");
        assert_eq!(request.app_port.get(), 8080);
        assert_eq!(request.health.path.as_str(), "/up");
        assert_eq!((request.health.min_status, request.health.max_status), (200, 299));
        assert_eq!(request.health.interval, std::time::Duration::from_millis(500));
        assert_eq!(request.health.deadline, std::time::Duration::from_secs(60));
        assert_eq!(request.domains, vec![DomainName::parse("shop-staging.codeb.test").unwrap()]);
        assert!(request.accessories.postgres && !request.accessories.redis);
        assert_eq!(request.resources, Resources { memory_bytes: Some(512 << 20), cpu_millis: Some(1500) });
        assert_eq!(request.env_vars[0].listed_value(), "production");
        let other = ImageRef::parse("localhost/shop:v2").unwrap();
        assert_eq!(file.deploy_request(&Environment::Production, Some(other.clone())).unwrap().image, other);
        assert!(file.deploy_request(&Environment::Production, None).unwrap().domains.is_empty());
        assert_eq!(request.server, Some(codeb_server("app2")), "the environment runs where codeb.toml says");
        assert_eq!(file.deploy_request(&Environment::Production, None).unwrap().server, None);
    }

    fn codeb_server(name: &str) -> ServerName {
        ServerName::parse(name).unwrap()
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let text = "name = \"shop\"\nimage = \"a:1\"\nport = 80\nprot = 81\n";
        let err = ProjectFile::parse(text).unwrap_err().to_string();
        assert!(err.contains("prot") && err.contains("line 4"), "{err}");
        let nested = "name = \"shop\"\nimage = \"a:1\"\nport = 80\n[healthcheck]\npaht = \"/\"\n";
        let err = ProjectFile::parse(nested).unwrap_err().to_string();
        assert!(err.contains("paht") && err.contains("line 5"), "{err}");
    }

    #[test]
    fn every_path_of_a_project_file_stays_under_the_roots_once_resolved() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, outside) = (tmp.path().join("root"), tmp.path().join("outside"));
        for dir in [&root, &outside] {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(outside.join("Containerfile"), "FROM scratch\n").unwrap();
        std::fs::write(outside.join(PROJECT_FILE), "name = \"x\"\nimage = \"a:1\"\nport = 80\n").unwrap();
        let app = |name: &str, build: &str| {
            let dir = root.join(name);
            std::fs::create_dir_all(&dir).unwrap();
            let text = format!("name = \"{name}\"\nport = 8080\n[build]\n{build}\n");
            std::fs::write(dir.join(PROJECT_FILE), text).unwrap();
            dir
        };
        let inside = app("inside", "context = \".\"");
        std::fs::write(inside.join("Containerfile"), "FROM scratch\n").unwrap();
        let relative = app("relative", "context = \"../../outside\"");
        let absolute = app("absolute", &format!("context = {:?}", outside.to_str().unwrap()));
        let named = app("named", "containerfile = \"../../outside/Containerfile\"");
        let linked_containerfile = app("linked-containerfile", "");
        std::os::unix::fs::symlink(outside.join("Containerfile"), linked_containerfile.join("Dockerfile")).unwrap();
        let linked_file = root.join("linked-file");
        std::fs::create_dir_all(&linked_file).unwrap();
        std::os::unix::fs::symlink(outside.join(PROJECT_FILE), linked_file.join(PROJECT_FILE)).unwrap();
        let roots = [root.clone()];

        assert!(ProjectFile::read_under(&inside, &roots).is_ok());
        for (dir, field) in [
            (&relative, "build.context"),
            (&absolute, "build.context"),
            (&named, "build.containerfile"),
            (&linked_containerfile, "build.containerfile"),
            (&linked_file, PROJECT_FILE),
        ] {
            let err = ProjectFile::read_under(dir, &roots).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Forbidden, "{dir:?}: {err}");
            assert_eq!(err.context_value("field"), Some(field), "{dir:?}: {err}");
            assert!(ProjectFile::read(dir).is_ok(), "without roots a project file reads anywhere: {dir:?}");
        }
    }

    #[test]
    fn hostile_values_are_refused_with_the_field() {
        for (text, field) in [
            ("name = \"shop; rm -rf /\"\nimage = \"a:1\"\nport = 80", "project name"),
            ("name = \"shop\"\nimage = \"a:1;id\"\nport = 80", "image"),
            ("name = \"shop\"\nimage = \"a:1\"\nport = 0", "port"),
            ("name = \"shop\"\nimage = \"a:1\"\nport = 80\n[env]\n\"A B\" = \"x\"", "env key"),
            ("name = \"shop\"\nimage = \"a:1\"\nport = 80\n[environments.prod]\ndomains=[]", "environment"),
            ("name = \"shop\"\nimage = \"a:1\"\nport = 80\n[environments.staging]\ndomains=[\"a b.com\"]", "domain"),
            ("name = \"shop\"\nimage = \"a:1\"\nport = 80\n[healthcheck]\ninterval = \"soon\"", "healthcheck.interval"),
            ("name = \"shop\"\nport = 80", "image"),
            ("name = \"shop\"\nimage = \"a:1\"\nport = 80\n[healthcheck]\ninterval = \"0s\"", "healthcheck.interval"),
            (
                "name = \"shop\"\nimage = \"a:1\"\nport = 80\n[healthcheck]\nfailure_threshold = 0",
                "healthcheck.failure_threshold",
            ),
            ("name = \"shop\"\nimage = \"a:1\"\nport = 80\ncommand = [\"sh\", \"a\\u0000b\"]", "command"),
            ("name = \"shop\"\nimage = \"a:1\"\nport = 80\ncommand = []", "command"),
        ] {
            let err = ProjectFile::parse(text).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Invalid);
            assert_eq!(err.context_value("field"), Some(field), "{text}: {err}");
        }
    }
}
