//! Reading what analysis needs from a project directory, and nothing else:
//! each file capped in size, and none read from outside the given roots.

use std::path::{Path, PathBuf};

use crate::project::analysis::PACKAGE_JSON;
use crate::project::analysis::PackageManager;
use crate::project::file::confine;
use crate::runtime::CONTAINERFILE_NAMES;
use crate::{Error, ErrorKind, Result};

/// The files analysis reads, as text, so the analysis itself is pure.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectFiles {
    /// package.json's text, if present.
    pub package_json: Option<String>,
    /// Which of the lock files of [`PackageManager::LOCK_FILES`] exist.
    pub lock_files: Vec<String>,
    /// Which of `Containerfile` and `Dockerfile` exist (in that order of preference).
    pub containerfile: Option<String>,
    /// The Prisma schema, if one was found.
    pub prisma_schema: Option<PrismaSchema>,
    /// The text of next.config (`.js`, `.mjs`, `.ts`), if present.
    pub next_config: Option<String>,
    /// Which of Prisma's config files (`prisma.config.ts`, ...) exists, if any.
    pub prisma_config: Option<String>,
    /// Whether a `public` directory exists.
    pub public_dir: bool,
}

/// A Prisma schema: where it is and what it says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrismaSchema {
    /// Its path relative to the project directory (a file, or a directory of `.prisma` files).
    pub path: String,
    /// Its text (of every `.prisma` file, for a directory).
    pub text: String,
}

/// Where Prisma looks for its schema when package.json names none.
const PRISMA_SCHEMAS: [&str; 2] = ["prisma/schema.prisma", "schema.prisma"];

/// The names Prisma's config file goes by, in the order Prisma looks for them.
const PRISMA_CONFIGS: [&str; 6] = [
    "prisma.config.ts",
    "prisma.config.mts",
    "prisma.config.cts",
    "prisma.config.js",
    "prisma.config.mjs",
    "prisma.config.cjs",
];

/// The names next.config goes by.
const NEXT_CONFIGS: [&str; 4] = ["next.config.js", "next.config.mjs", "next.config.ts", "next.config.cjs"];

impl ProjectFiles {
    /// Reads what analysis needs from `dir`.
    pub fn read(dir: &Path) -> Result<Self> {
        ProjectFiles::read_under(dir, &[])
    }

    /// Reads what analysis needs from `dir`, refusing (`Forbidden`) a file
    /// that resolves (symlinks and `..` followed) outside every one of
    /// `roots`, such as a package.json's `prisma.schema` of `../../etc`. No roots: anywhere.
    pub fn read_under(dir: &Path, roots: &[PathBuf]) -> Result<Self> {
        let reader = Reader { dir, roots };
        let package_json = reader.text(PACKAGE_JSON, PACKAGE_JSON)?;
        let configured = package_json.as_deref().and_then(prisma_schema_setting);
        let prisma_schema = match configured {
            Some(path) => reader.prisma_schema(&path, "prisma.schema in package.json")?,
            None => first(&PRISMA_SCHEMAS, |path| reader.prisma_schema(path, path))?,
        };
        let next_config = first(&NEXT_CONFIGS, |name| reader.text(name, name))?;
        Ok(ProjectFiles {
            package_json,
            lock_files: PackageManager::LOCK_FILES
                .iter()
                .map(|(name, _)| *name)
                .filter(|name| dir.join(name).is_file())
                .map(str::to_owned)
                .collect(),
            containerfile: CONTAINERFILE_NAMES.into_iter().find(|f| dir.join(f).is_file()).map(str::to_owned),
            prisma_schema,
            next_config,
            prisma_config: PRISMA_CONFIGS.into_iter().find(|f| dir.join(f).is_file()).map(str::to_owned),
            public_dir: dir.join("public").is_dir(),
        })
    }
}

/// What `read` gives for the first of `names` that gives anything.
fn first<T>(names: &[&'static str], read: impl Fn(&'static str) -> Result<Option<T>>) -> Result<Option<T>> {
    for name in names {
        if let Some(found) = read(name)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// package.json's `prisma.schema`, when it is JSON and sets one.
fn prisma_schema_setting(package_json: &str) -> Option<String> {
    let package: serde_json::Value = serde_json::from_str(package_json).ok()?;
    package.get("prisma")?.get("schema")?.as_str().map(str::to_owned)
}

/// Reads files of one directory, under the roots.
struct Reader<'a> {
    dir: &'a Path,
    roots: &'a [PathBuf],
}

impl Reader<'_> {
    /// The text of the file `path` (relative to the directory, `field` to
    /// people), or `None` when there is no such file.
    fn text(&self, path: &str, field: &'static str) -> Result<Option<String>> {
        let full = self.dir.join(path);
        if !full.is_file() {
            return Ok(None);
        }
        confine(self.roots, field, field, &full)?;
        read_capped(&full, path).map(Some)
    }

    /// The Prisma schema at `path`: a file, or a directory of `.prisma` files (read in name order).
    fn prisma_schema(&self, path: &str, field: &'static str) -> Result<Option<PrismaSchema>> {
        let full = self.dir.join(path);
        if full.is_file() {
            return Ok(self.text(path, field)?.map(|text| PrismaSchema { path: path.to_owned(), text }));
        }
        if !full.is_dir() {
            return Ok(None);
        }
        confine(self.roots, field, field, &full)?;
        let entries = std::fs::read_dir(&full).map_err(|e| unreadable(path, e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| unreadable(path, e))?;
            if entry.path().extension().is_some_and(|ext| ext == "prisma") && entry.path().is_file() {
                names.push(entry.path());
            }
        }
        names.sort();
        let mut text = String::new();
        for name in names {
            confine(self.roots, field, field, &name)?;
            text.push_str(&read_capped(&name, path)?);
            text.push('\n');
        }
        Ok(Some(PrismaSchema { path: path.to_owned(), text }))
    }
}

/// The text of `path` (`shown` to people), capped like every file codeb reads.
fn read_capped(path: &Path, shown: &str) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| unreadable(shown, e))?;
    crate::tomlfile::capped_text(file, shown, |e| unreadable(shown, e))
}

fn unreadable(shown: &str, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Unavailable, format!("cannot read {shown}")).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_a_directory_finds_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        at("package.json", "{}");
        at("yarn.lock", "");
        at("Dockerfile", "FROM scratch");
        at("prisma/schema.prisma", "datasource db {}");
        at("next.config.mjs", "export default {}");
        at("prisma.config.mjs", "export default {}");
        std::fs::create_dir(dir.path().join("public")).unwrap();
        assert_eq!(ProjectFiles::read(dir.path()).unwrap().prisma_config.as_deref(), Some("prisma.config.mjs"));
        at("prisma.config.ts", "export default {}");
        let files = ProjectFiles::read(dir.path()).unwrap();
        assert_eq!(files.prisma_config.as_deref(), Some("prisma.config.ts"), "Prisma's own order");
        assert_eq!(files.containerfile.as_deref(), Some("Dockerfile"));
        assert_eq!(files.lock_files, ["yarn.lock"]);
        assert_eq!(files.prisma_schema.unwrap().path, "prisma/schema.prisma");
        assert_eq!(files.next_config.as_deref(), Some("export default {}"));
        assert!(files.public_dir && files.package_json.is_some());
    }

    #[test]
    fn package_json_may_name_a_schema_file_or_a_directory_of_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("db/schema")).unwrap();
        std::fs::write(dir.path().join("db/schema/a.prisma"), "datasource db {\n provider = \"mysql\"\n}\n").unwrap();
        std::fs::write(dir.path().join("db/schema/b.prisma"), "model A { id Int @id }\n").unwrap();
        std::fs::write(dir.path().join("package.json"), r#"{"prisma":{"schema":"db/schema"}}"#).unwrap();
        let schema = ProjectFiles::read(dir.path()).unwrap().prisma_schema.unwrap();
        assert_eq!(schema.path, "db/schema");
        assert!(schema.text.contains("mysql") && schema.text.contains("model A"));
    }

    #[test]
    fn a_file_that_resolves_outside_the_roots_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, outside) = (tmp.path().join("root"), tmp.path().join("outside"));
        std::fs::create_dir_all(root.join("app")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("schema.prisma"), "datasource db {\n provider = \"sqlite\"\n}\n").unwrap();
        let app = root.join("app");
        let roots = [root.clone()];
        std::fs::write(app.join("package.json"), r#"{"prisma":{"schema":"../../outside/schema.prisma"}}"#).unwrap();
        let err = ProjectFiles::read_under(&app, &roots).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
        assert!(ProjectFiles::read(&app).is_ok(), "without roots the schema is read where package.json says");
        std::fs::write(app.join("package.json"), "{}").unwrap();
        std::os::unix::fs::symlink(outside.join("schema.prisma"), app.join("schema.prisma")).unwrap();
        let err = ProjectFiles::read_under(&app, &roots).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden, "a symlink out of the roots: {err}");
    }
}
