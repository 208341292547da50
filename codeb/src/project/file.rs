//! `codeb.toml`, the project file: what an app is and how it deploys.
//!
//! The vocabulary borrows from fly.toml and Kamal's deploy.yml:
//!
//! ```toml
//! name = "shop"
//! image = "localhost/shop:v1"        # or a [build] section
//! port = 8080                        # the port the app listens on (fly: internal_port)
//! command = ["node", "server.js"]    # optional; the image's default otherwise
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
//! memory = "512M"
//! cpus = 1.5
//!
//! [environments.staging]
//! domains = ["shop-staging.codeb.test"]
//! ```
//!
//! Unknown keys are errors that name the key and its line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::engine::{Accessories, DeployRequest};
use crate::model::{
    DomainName, EnvKey, EnvValue, EnvVar, Environment, ImageRef, Port, ProjectName, Service, ValidationError,
};
use crate::model::{HealthCheck, HealthPath, check_command};
use crate::project::units::{parse_duration, parse_size};
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
}

/// How to build the app's image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildSection {
    /// The build context, relative to the project file's directory.
    pub context: PathBuf,
    /// The Containerfile, relative to the context.
    pub containerfile: Option<PathBuf>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: String,
    image: Option<String>,
    build: Option<RawBuild>,
    port: u16,
    command: Option<Vec<String>>,
    #[serde(default)]
    healthcheck: RawHealth,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    accessories: RawAccessories,
    #[serde(default)]
    resources: RawResources,
    #[serde(default)]
    environments: BTreeMap<String, RawEnvironment>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    #[serde(default = "dot")]
    context: PathBuf,
    containerfile: Option<PathBuf>,
}

fn dot() -> PathBuf {
    PathBuf::from(".")
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    path: Option<String>,
    status: Option<String>,
    body: Option<String>,
    interval: Option<String>,
    timeout: Option<String>,
    start_period: Option<String>,
    deadline: Option<String>,
    failure_threshold: Option<u32>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAccessories {
    #[serde(default)]
    postgres: bool,
    #[serde(default)]
    redis: bool,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawResources {
    memory: Option<String>,
    cpus: Option<f64>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    #[serde(default)]
    domains: Vec<String>,
}

/// The file name codeb looks for in a project directory.
pub const PROJECT_FILE: &str = "codeb.toml";

impl ProjectFile {
    /// Parses project file text. Syntax errors and unknown keys name the line.
    pub fn parse(text: &str) -> Result<Self> {
        let raw: Raw = crate::tomlfile::parse(PROJECT_FILE, text)?;
        raw.validate().map_err(|e| Error::from(e).with_context("file", PROJECT_FILE))
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
        confine(roots, PROJECT_FILE, &path)?;
        let text = crate::tomlfile::read_capped(&path, "the project file")?;
        let mut file = ProjectFile::parse(&text)?;
        if let Some(build) = &mut file.build {
            build.context = dir.join(&build.context);
            confine(roots, "build.context", &build.context)?;
            let containerfile = build.context.join(build_containerfile(&build.context, build.containerfile.as_deref()));
            confine(roots, "build.containerfile", &containerfile)?;
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
        request.env_vars = self.env.clone();
        request.domains = self.domains.get(env).cloned().unwrap_or_default();
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
            tag,
            labels: managed_labels(&self.name, env, Service::App, None),
        })
    }
}

/// Refuses `path` (the project file's `field`) when it resolves outside every
/// one of `roots` (none: anywhere). A path that does not resolve reads
/// nothing, so it is left to whoever reads it to say it is missing.
fn confine(roots: &[PathBuf], field: &'static str, path: &Path) -> Result<()> {
    let Ok(resolved) = path.canonicalize() else { return Ok(()) };
    let inside = |root: &PathBuf| root.canonicalize().is_ok_and(|root| resolved.starts_with(root));
    if roots.is_empty() || roots.iter().any(inside) {
        return Ok(());
    }
    let what = if field == PROJECT_FILE { field.to_owned() } else { format!("{field} in {PROJECT_FILE}") };
    Err(Error::new(crate::ErrorKind::Forbidden, format!("{what} resolves outside the project roots"))
        .with_context("field", field))
}

impl Raw {
    fn validate(self) -> Result<ProjectFile, ValidationError> {
        let name = ProjectName::parse(&self.name)?;
        let image = self.image.as_deref().map(ImageRef::parse).transpose()?;
        if image.is_none() && self.build.is_none() {
            return Err(ValidationError::new("image", "", "give an image or a [build] section"));
        }
        let env = self
            .env
            .iter()
            .map(|(k, v)| Ok(EnvVar::plain(EnvKey::parse(k)?, EnvValue::parse(v)?)))
            .collect::<Result<Vec<_>, ValidationError>>()?;
        if let Some(command) = &self.command {
            check_command(command)?;
        }
        let mut domains = BTreeMap::new();
        for (env_name, section) in self.environments {
            let env = Environment::parse(&env_name)?;
            let list = section.domains.iter().map(|d| DomainName::parse(d)).collect::<Result<Vec<_>, _>>()?;
            domains.insert(env, list);
        }
        Ok(ProjectFile {
            name,
            image,
            build: self.build.map(|b| BuildSection { context: b.context, containerfile: b.containerfile }),
            port: Port::new(self.port)?,
            command: self.command,
            health: self.healthcheck.validate()?,
            env,
            accessories: Accessories { postgres: self.accessories.postgres, redis: self.accessories.redis },
            resources: self.resources.validate()?,
            domains,
        })
    }
}

impl RawHealth {
    fn validate(self) -> Result<HealthCheck, ValidationError> {
        let mut check = HealthCheck::default();
        if let Some(path) = &self.path {
            check.path = HealthPath::parse(path)?;
        }
        if let Some(status) = &self.status {
            let rule = "is a status or a range like 200-399";
            let (min, max) = status.split_once('-').unwrap_or((status, status));
            let parse = |s: &str| s.trim().parse::<u16>().ok().filter(|n| (100..=599).contains(n));
            match (parse(min), parse(max)) {
                (Some(min), Some(max)) if min <= max => (check.min_status, check.max_status) = (min, max),
                _ => return Err(ValidationError::new("healthcheck.status", status, rule)),
            }
        }
        check.body_contains = self.body;
        for (field, value, slot) in [
            ("healthcheck.interval", &self.interval, &mut check.interval),
            ("healthcheck.timeout", &self.timeout, &mut check.timeout),
            ("healthcheck.start_period", &self.start_period, &mut check.start_period),
            ("healthcheck.deadline", &self.deadline, &mut check.deadline),
        ] {
            if let Some(value) = value {
                *slot = parse_duration(field, value)?;
            }
        }
        if let Some(n) = self.failure_threshold {
            check.failure_threshold = n;
        }
        check.check()?;
        Ok(check)
    }
}

impl RawResources {
    fn validate(self) -> Result<Resources, ValidationError> {
        let memory_bytes = self.memory.as_deref().map(|m| parse_size("resources.memory", m)).transpose()?;
        let cpu_millis = match self.cpus {
            None => None,
            Some(c) if c > 0.0 && c <= 1024.0 => Some((c * 1000.0).round() as u32),
            Some(c) => {
                return Err(ValidationError::new("resources.cpus", &c.to_string(), "is a number of CPUs above 0"));
            }
        };
        Ok(Resources { memory_bytes, cpu_millis })
    }
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
