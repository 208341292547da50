//! Project analysis: what a directory holds, and what deploying it needs.
//!
//! The seed's first deploy step: read package.json, detect the framework,
//! Prisma (needs PostgreSQL) and Redis clients (need Redis), and whether a
//! Containerfile or Dockerfile builds the image.

use std::path::Path;

use crate::{Error, Result};

/// The kind of app a directory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Framework {
    /// A Next.js app (`next` in its dependencies).
    Nextjs,
    /// Another Node.js app (a package.json).
    Node,
    /// No package.json: anything a Containerfile builds.
    Other,
}

/// What analysis found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Analysis {
    /// The package name, if package.json gives one.
    pub package_name: Option<String>,
    /// The framework.
    pub framework: Framework,
    /// Whether it uses Prisma (and so needs PostgreSQL).
    pub needs_postgres: bool,
    /// Whether it uses a Redis client (and so needs Redis).
    pub needs_redis: bool,
    /// The Containerfile or Dockerfile that builds it, if any.
    pub containerfile: Option<String>,
    /// The `start` script of package.json, if any.
    pub start_command: Option<String>,
    /// The port such an app listens on by default.
    pub default_port: Option<u16>,
}

/// The files analysis reads, as text, so the analysis itself is pure.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectFiles {
    /// package.json's text, if present.
    pub package_json: Option<String>,
    /// Which of `Containerfile` and `Dockerfile` exist (in that order of preference).
    pub containerfile: Option<String>,
    /// Whether `prisma/schema.prisma` exists.
    pub prisma_schema: bool,
}

impl ProjectFiles {
    /// Reads what analysis needs from `dir`.
    pub fn read(dir: &Path) -> Result<Self> {
        let read = |name: &str| match std::fs::read_to_string(dir.join(name)) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::new(crate::ErrorKind::Unavailable, format!("cannot read {name}")).with_source(e)),
        };
        Ok(ProjectFiles {
            package_json: read("package.json")?,
            containerfile: ["Containerfile", "Dockerfile"]
                .into_iter()
                .find(|f| dir.join(f).is_file())
                .map(str::to_owned),
            prisma_schema: dir.join("prisma").join("schema.prisma").is_file(),
        })
    }
}

/// Packages whose presence means the app talks to Redis.
const REDIS_CLIENTS: &[&str] = &["redis", "ioredis", "bullmq", "bull", "@upstash/redis", "@redis/client"];

/// Analyses a project's files.
pub fn analyze(files: &ProjectFiles) -> Result<Analysis> {
    let package: Option<serde_json::Value> = files
        .package_json
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| Error::invalid("package.json is not valid JSON").with_source(e))?;
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
    Ok(Analysis {
        package_name: package.as_ref().and_then(|p| p.get("name")?.as_str().map(str::to_owned)),
        framework,
        needs_postgres: files.prisma_schema || has_dep("prisma") || has_dep("@prisma/client"),
        needs_redis: REDIS_CLIENTS.iter().any(|c| has_dep(c)),
        containerfile: files.containerfile.clone(),
        start_command: package.as_ref().and_then(|p| p.get("scripts")?.get("start")?.as_str().map(str::to_owned)),
        default_port: match framework {
            Framework::Nextjs | Framework::Node => Some(3000),
            Framework::Other => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nextjs_app_with_prisma_and_ioredis_needs_both_accessories() {
        let files = ProjectFiles {
            package_json: Some(
                r#"{"name":"shop","scripts":{"start":"next start"},
                    "dependencies":{"next":"15","@prisma/client":"6","ioredis":"5"}}"#
                    .into(),
            ),
            containerfile: Some("Dockerfile".into()),
            prisma_schema: false,
        };
        let a = analyze(&files).unwrap();
        assert_eq!(a.framework, Framework::Nextjs);
        assert!(a.needs_postgres && a.needs_redis);
        assert_eq!(a.start_command.as_deref(), Some("next start"));
        assert_eq!(a.package_name.as_deref(), Some("shop"));
        assert_eq!(a.default_port, Some(3000));
    }

    #[test]
    fn a_plain_node_app_and_a_bare_containerfile_need_nothing() {
        let node =
            ProjectFiles { package_json: Some(r#"{"dependencies":{"express":"4"}}"#.into()), ..Default::default() };
        let a = analyze(&node).unwrap();
        assert_eq!((a.framework, a.needs_postgres, a.needs_redis), (Framework::Node, false, false));
        let bare = ProjectFiles { containerfile: Some("Containerfile".into()), ..Default::default() };
        assert_eq!(analyze(&bare).unwrap().framework, Framework::Other);
        let schema_only = ProjectFiles { package_json: Some("{}".into()), prisma_schema: true, ..Default::default() };
        assert!(analyze(&schema_only).unwrap().needs_postgres);
        let broken = ProjectFiles { package_json: Some("{".into()), ..Default::default() };
        assert_eq!(analyze(&broken).unwrap_err().kind(), crate::ErrorKind::Invalid);
    }

    #[test]
    fn reading_a_directory_finds_the_files() {
        let dir = std::env::temp_dir().join(format!("codeb-analysis-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("prisma")).unwrap();
        std::fs::write(dir.join("package.json"), "{}").unwrap();
        std::fs::write(dir.join("Dockerfile"), "FROM scratch").unwrap();
        std::fs::write(dir.join("prisma").join("schema.prisma"), "").unwrap();
        let files = ProjectFiles::read(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(files.containerfile.as_deref(), Some("Dockerfile"));
        assert!(files.prisma_schema && files.package_json.is_some());
    }
}
