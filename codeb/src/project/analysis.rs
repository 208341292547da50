//! Project analysis: what a directory holds, and what deploying it needs.
//!
//! The seed's first deploy step: read package.json, detect the framework,
//! the package manager (from the lock file), Prisma and its datasource
//! (PostgreSQL needs an accessory), Redis clients (need Redis), the start
//! script and the port, Next.js's standalone output, and whether a
//! Containerfile or Dockerfile builds the image. [`ProjectFiles::read`]
//! reads the files; [`analyze`] is pure.

mod files;
mod text;

use std::fmt;

pub use files::{PrismaSchema, ProjectFiles};

use crate::model::Port;
use crate::{Error, Result};

/// The file analysis starts from.
pub const PACKAGE_JSON: &str = "package.json";

/// The kind of app a directory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Framework {
    /// A Next.js app (`next` in its dependencies).
    Nextjs,
    /// Another Node.js app (a package.json).
    Node,
    /// No package.json: anything a Containerfile builds.
    Other,
}

/// The package manager a Node app's lock file names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PackageManager {
    /// npm (`package-lock.json`, or no lock file).
    Npm,
    /// pnpm (`pnpm-lock.yaml`).
    Pnpm,
    /// Yarn (`yarn.lock`).
    Yarn,
}

impl PackageManager {
    /// Each lock file and the package manager it belongs to, in the order they are looked for.
    pub const LOCK_FILES: [(&'static str, PackageManager); 3] = [
        ("package-lock.json", PackageManager::Npm),
        ("pnpm-lock.yaml", PackageManager::Pnpm),
        ("yarn.lock", PackageManager::Yarn),
    ];

    /// Its command's name.
    pub fn command(self) -> &'static str {
        match self {
            PackageManager::Npm => "npm",
            PackageManager::Pnpm => "pnpm",
            PackageManager::Yarn => "yarn",
        }
    }
}

/// Prisma, as the app uses it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Prisma {
    /// The schema file, relative to the project directory, if one was found.
    pub schema: Option<String>,
    /// The `provider` of the schema's `datasource` block (`postgresql`, `mysql`, `sqlite`, ...), if it names one.
    pub provider: Option<String>,
    /// Prisma's config file (`prisma.config.ts`, ...), relative to the project directory, if it has one.
    pub config: Option<String>,
}

impl Prisma {
    /// Whether its database is PostgreSQL, the database codeb runs as an
    /// accessory: the provider says so, or no schema says otherwise.
    pub fn uses_postgres(&self) -> bool {
        self.provider.as_deref().is_none_or(|p| matches!(p, "postgresql" | "postgres"))
    }
}

/// Where the port an app listens on comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PortSource {
    /// The start script's `-p`, `--port` or `PORT=`.
    StartScript,
    /// The framework's default (3000 for Next.js and for Node apps, which read `PORT`).
    Default,
}

/// What analysis found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Analysis {
    /// The package name, if package.json gives one.
    pub package_name: Option<String>,
    /// The framework.
    pub framework: Framework,
    /// The package manager, for a Node app.
    pub package_manager: Option<PackageManager>,
    /// The lock file the package manager was read from, if any.
    pub lock_file: Option<String>,
    /// Prisma, if the app uses it.
    pub prisma: Option<Prisma>,
    /// The PostgreSQL clients among its dependencies (`pg`, `postgres`).
    pub postgres_clients: Vec<String>,
    /// The Redis clients among its dependencies (`ioredis`, `redis`, `bullmq`, ...).
    pub redis_clients: Vec<String>,
    /// Whether it needs a PostgreSQL accessory (Prisma on PostgreSQL, or a PostgreSQL client).
    pub needs_postgres: bool,
    /// Whether it needs a Redis accessory (a Redis client).
    pub needs_redis: bool,
    /// The Containerfile or Dockerfile that builds it, if the directory has one.
    pub containerfile: Option<String>,
    /// The `start` script of package.json, if any.
    pub start_script: Option<String>,
    /// Whether package.json has a `build` script (run when the image is built).
    pub build_script: bool,
    /// Whether next.config sets `output: 'standalone'`.
    pub standalone: bool,
    /// Whether the directory has a `public` directory (a Next.js app's static files).
    pub public_dir: bool,
    /// The port the app listens on, for a Node app.
    pub port: Option<Port>,
    /// Where `port` comes from.
    pub port_source: Option<PortSource>,
}

/// Packages whose presence means the app talks to Redis.
const REDIS_CLIENTS: &[&str] = &["ioredis", "redis", "bullmq", "bull", "@redis/client", "@upstash/redis"];

/// Packages whose presence means the app talks to PostgreSQL.
const POSTGRES_CLIENTS: &[&str] = &["pg", "postgres"];

/// The port Next.js and, by convention, Node apps (reading `PORT`) listen on.
const DEFAULT_NODE_PORT: u16 = 3000;

/// Analyses a project's files. A package.json that is not JSON is refused
/// naming its line and column, never quoting it.
pub fn analyze(files: &ProjectFiles) -> Result<Analysis> {
    let package = files.package_json.as_deref().map(parse_package_json).transpose()?;
    let has_dep = |name: &str| {
        package.as_ref().is_some_and(|p| {
            ["dependencies", "devDependencies"].iter().any(|section| p.get(section).and_then(|d| d.get(name)).is_some())
        })
    };
    let framework = match &package {
        None => Framework::Other,
        Some(_) if has_dep("next") => Framework::Nextjs,
        Some(_) => Framework::Node,
    };
    let script = |name: &str| package.as_ref().and_then(|p| p.get("scripts")?.get(name)?.as_str().map(str::to_owned));
    let start_script = script("start");
    let found = |names: &[&str]| names.iter().filter(|c| has_dep(c)).map(|c| (*c).to_owned()).collect::<Vec<_>>();
    let uses_prisma = files.prisma_schema.is_some() || has_dep("prisma") || has_dep("@prisma/client");
    let prisma = uses_prisma.then(|| Prisma {
        schema: files.prisma_schema.as_ref().map(|s| s.path.clone()),
        provider: files.prisma_schema.as_ref().and_then(|s| text::datasource_provider(&s.text)),
        config: files.prisma_config.clone(),
    });
    let (postgres_clients, redis_clients) = (found(POSTGRES_CLIENTS), found(REDIS_CLIENTS));
    let lock = PackageManager::LOCK_FILES.iter().find(|(name, _)| files.lock_files.iter().any(|f| f == name));
    let node = package.is_some();
    let script_port = start_script.as_deref().and_then(text::start_script_port);
    let (port, port_source) = match (node, script_port) {
        (false, _) => (None, None),
        (true, Some(port)) => (Some(port), Some(PortSource::StartScript)),
        (true, None) => (Port::new(DEFAULT_NODE_PORT).ok(), Some(PortSource::Default)),
    };
    Ok(Analysis {
        package_name: package.as_ref().and_then(|p| p.get("name")?.as_str().map(str::to_owned)),
        framework,
        package_manager: node.then(|| lock.map_or(PackageManager::Npm, |(_, pm)| *pm)),
        lock_file: lock.filter(|_| node).map(|(name, _)| (*name).to_owned()),
        needs_postgres: prisma.as_ref().is_some_and(Prisma::uses_postgres) || !postgres_clients.is_empty(),
        needs_redis: !redis_clients.is_empty(),
        prisma,
        postgres_clients,
        redis_clients,
        containerfile: files.containerfile.clone(),
        build_script: script("build").is_some(),
        start_script,
        standalone: framework == Framework::Nextjs && files.next_config.as_deref().is_some_and(text::standalone_output),
        public_dir: files.public_dir,
        port,
        port_source,
    })
}

/// package.json as a JSON value; a refusal names the line and column, and
/// never quotes the text (serde_json's syntax messages hold none of it).
fn parse_package_json(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| {
        let what = e.to_string();
        let what = what.split(" at line ").next().unwrap_or("not JSON");
        Error::invalid(format!("{PACKAGE_JSON}: line {}, column {}: not valid JSON: {what}", e.line(), e.column()))
            .with_context("file", PACKAGE_JSON)
            .with_context("line", e.line())
            .with_context("column", e.column())
    })
}

impl fmt::Display for Framework {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Framework::Nextjs => "a Next.js app",
            Framework::Node => "a Node.js app",
            Framework::Other => "no Node.js app (no package.json)",
        })
    }
}

impl fmt::Display for Analysis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.framework)?;
        if let Some(name) = &self.package_name {
            write!(f, " ({name})")?;
        }
        if let Some(pm) = self.package_manager {
            match &self.lock_file {
                Some(lock) => write!(f, ", built with {} ({lock})", pm.command())?,
                None => write!(f, ", built with npm (no lock file)")?,
            }
        }
        if self.standalone {
            write!(f, ", standalone output")?;
        }
        if let Some(prisma) = &self.prisma {
            match &prisma.provider {
                Some(provider) => write!(f, "; Prisma on {provider}")?,
                None => write!(f, "; Prisma")?,
            }
        }
        for (what, clients) in [("PostgreSQL", &self.postgres_clients), ("Redis", &self.redis_clients)] {
            if !clients.is_empty() {
                write!(f, "; {what} clients: {}", crate::text::list(clients))?;
            }
        }
        match (&self.start_script, self.framework) {
            (Some(start), _) => write!(f, "; starts with `{start}`")?,
            (None, Framework::Other) => {}
            (None, _) => write!(f, "; no start script")?,
        }
        if let (Some(port), Some(source)) = (self.port, self.port_source) {
            let from = match source {
                PortSource::StartScript => "from the start script",
                PortSource::Default => "the default",
            };
            write!(f, "; listens on port {port} ({from})")?;
        }
        match &self.containerfile {
            Some(file) => write!(f, "; built by its {file}"),
            None => write!(f, "; no Containerfile"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(package_json: &str) -> ProjectFiles {
        ProjectFiles { package_json: Some(package_json.into()), ..Default::default() }
    }

    #[test]
    fn a_nextjs_app_with_prisma_on_postgres_and_ioredis_needs_both_accessories() {
        let mut files = node(
            r#"{"name":"shop","scripts":{"start":"next start","build":"next build"},
                "dependencies":{"next":"15","@prisma/client":"6","ioredis":"5"}}"#,
        );
        files.prisma_schema = Some(PrismaSchema {
            path: "prisma/schema.prisma".into(),
            text: "datasource db {\n  provider = \"postgresql\"\n  url = env(\"DATABASE_URL\")\n}\n".into(),
        });
        files.lock_files = vec!["pnpm-lock.yaml".into()];
        let a = analyze(&files).unwrap();
        assert_eq!(a.framework, Framework::Nextjs);
        assert_eq!(a.package_manager, Some(PackageManager::Pnpm));
        assert_eq!(a.prisma.as_ref().and_then(|p| p.provider.as_deref()), Some("postgresql"));
        assert!(a.needs_postgres && a.needs_redis);
        assert_eq!(a.redis_clients, ["ioredis"]);
        assert_eq!(a.start_script.as_deref(), Some("next start"));
        assert!(a.build_script);
        assert_eq!(a.package_name.as_deref(), Some("shop"));
        assert_eq!((a.port.map(Port::get), a.port_source), (Some(3000), Some(PortSource::Default)));
    }

    #[test]
    fn prisma_on_another_database_needs_no_postgres_accessory() {
        let mut files = node(r#"{"dependencies":{"@prisma/client":"6"}}"#);
        files.prisma_schema =
            Some(PrismaSchema { path: "schema.prisma".into(), text: "datasource db { provider = \"sqlite\" }".into() });
        let a = analyze(&files).unwrap();
        assert_eq!(a.prisma.unwrap().provider.as_deref(), Some("sqlite"));
        assert!(!a.needs_postgres);
        let without_schema = analyze(&node(r#"{"devDependencies":{"prisma":"6"}}"#)).unwrap();
        assert!(without_schema.needs_postgres, "Prisma with no schema found is taken to be on PostgreSQL");
    }

    #[test]
    fn the_lock_file_names_the_package_manager() {
        for (lock, pm) in [
            (None, PackageManager::Npm),
            (Some("package-lock.json"), PackageManager::Npm),
            (Some("pnpm-lock.yaml"), PackageManager::Pnpm),
            (Some("yarn.lock"), PackageManager::Yarn),
        ] {
            let mut files = node("{}");
            files.lock_files = lock.map(str::to_owned).into_iter().collect();
            let a = analyze(&files).unwrap();
            assert_eq!(a.package_manager, Some(pm), "{lock:?}");
            assert_eq!(a.lock_file.as_deref(), lock);
        }
    }

    #[test]
    fn the_port_comes_from_the_start_script_else_the_default() {
        for (start, port, source) in [
            ("next start -p 4000", 4000, PortSource::StartScript),
            ("next start --port=4100", 4100, PortSource::StartScript),
            ("PORT=8080 node server.js", 8080, PortSource::StartScript),
            ("next start -p $PORT", 3000, PortSource::Default),
            ("node server.js", 3000, PortSource::Default),
        ] {
            let a = analyze(&node(&format!(r#"{{"scripts":{{"start":"{start}"}}}}"#))).unwrap();
            assert_eq!((a.port.map(Port::get), a.port_source), (Some(port), Some(source)), "{start}");
        }
    }

    #[test]
    fn standalone_output_is_read_from_next_config() {
        let mut files = node(r#"{"dependencies":{"next":"15"}}"#);
        files.next_config = Some("module.exports = {\n  output: \"standalone\",\n}\n".into());
        assert!(analyze(&files).unwrap().standalone);
        files.next_config = Some("export default { output: 'export' }".into());
        assert!(!analyze(&files).unwrap().standalone);
    }

    #[test]
    fn a_plain_node_app_and_a_bare_containerfile_need_nothing() {
        let a = analyze(&node(r#"{"dependencies":{"express":"4"}}"#)).unwrap();
        assert_eq!((a.framework, a.needs_postgres, a.needs_redis), (Framework::Node, false, false));
        let bare = ProjectFiles { containerfile: Some("Containerfile".into()), ..Default::default() };
        let bare = analyze(&bare).unwrap();
        assert_eq!((bare.framework, bare.package_manager, bare.port), (Framework::Other, None, None));
        assert!(analyze(&node(r#"{"dependencies":{"pg":"8"}}"#)).unwrap().needs_postgres);
    }

    #[test]
    fn a_package_json_that_is_not_json_is_refused_by_line_and_column_unquoted() {
        let err = analyze(&node("{\n  \"name\": \"hunter2-secret\",\n  oops\n}")).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Invalid);
        assert_eq!((err.context_value("line"), err.context_value("column")), (Some("3"), Some("3")), "{err}");
        assert!(err.message().starts_with("package.json: line 3, column 3: "), "{err}");
        assert!(!err.to_string().contains("hunter2") && !err.to_string().contains("oops"), "{err}");
    }
}
