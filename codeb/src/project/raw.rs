//! What people may write in `codeb.toml`, with where they wrote it: every
//! value is checked here into a [`ProjectFile`], and a refused one names its
//! line and, when its meaning is plain, what to write instead. The same
//! types are the file's JSON schema for editors (`docs/codeb.schema.json`).
//!
//! Beside codeb's own forms it takes what Kamal and fly users write: whole
//! seconds for a duration (`interval = 30`), compound durations (`1m30s`),
//! sizes with `MB`, `MiB` or a fraction (`512MB`, `1.5G`), and numbers and
//! booleans as env values, taken as written (`PORT = 3000` is `"3000"`).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use toml::{Spanned, Value};

use crate::Result;
use crate::engine::{Accessories, ReleaseCommand};
use crate::model::{
    DomainName, EnvKey, EnvValue, EnvVar, Environment, ImageRef, Port, ProjectName, ServerName, ValidationError,
};
use crate::model::{HealthCheck, HealthPath, check_command, check_release_command};
use crate::project::file::{BuildSection, PROJECT_FILE, ProjectFile};
use crate::project::units::{self, parse_duration, parse_size};
use crate::runtime::Resources;

/// The least memory a container is given: Docker's minimum (runc needs about as much to start one).
const MIN_MEMORY_BYTES: u64 = 6 << 20;

/// A value as written in codeb.toml, with where it was written.
#[derive(serde::Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(transparent)]
struct At<T>(Spanned<T>);

impl<T> At<T> {
    fn get(&self) -> &T {
        self.0.get_ref()
    }

    fn span(&self) -> Range<usize> {
        self.0.span()
    }
}

#[cfg(feature = "schemars")]
impl<T: schemars::JsonSchema> schemars::JsonSchema for At<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// codeb.toml, the project file: what an app is and how it deploys.
#[derive(serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schemars", schemars(title = "codeb.toml"))]
#[serde(deny_unknown_fields)]
pub(super) struct Raw {
    /// The project's name: a lowercase DNS label (`shop`).
    name: At<String>,
    /// The image to deploy (`localhost/shop:v1`), when it is not built from a `[build]` section.
    image: Option<At<String>>,
    /// How to build the image here, when no `image` is given.
    build: Option<RawBuild>,
    /// The port the app listens on inside its container (fly's `internal_port`).
    #[cfg_attr(feature = "schemars", schemars(range(min = 1)))]
    port: At<u16>,
    /// The program and arguments to run instead of the image's default command.
    command: Option<At<Vec<String>>>,
    /// A command run once per deploy before the new release starts, in a
    /// one-off container of its image with its env (accessories' URLs and
    /// secrets included): a migration such as `["npx", "prisma", "migrate", "deploy"]`.
    /// A non-zero exit stops the deploy before any traffic moves.
    release_command: Option<At<Vec<String>>>,
    /// How long the release command may run before it is killed and the deploy fails (default 5m).
    release_command_timeout: Option<WrittenDuration>,
    /// When the app counts as healthy: Kamal's names and defaults.
    #[serde(default)]
    healthcheck: RawHealth,
    /// Plain env vars (secrets go through `we env set --secret`). A number or
    /// boolean is taken as written: `PORT = 3000` is "3000".
    #[serde(default)]
    #[cfg_attr(feature = "schemars", schemars(schema_with = "schemas::env"))]
    env: BTreeMap<At<String>, At<Value>>,
    /// The accessories the app needs; their URLs are injected as secrets.
    #[serde(default)]
    accessories: RawAccessories,
    /// Resource limits of the app's container.
    #[serde(default)]
    resources: RawResources,
    /// Per environment (`staging`, `production`, `preview-<id>`): its domains.
    #[serde(default)]
    #[cfg_attr(feature = "schemars", schemars(schema_with = "schemas::environments"))]
    environments: BTreeMap<At<String>, RawEnvironment>,
}

/// How to build the app's image.
#[derive(serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schemars", schemars(inline))]
#[serde(deny_unknown_fields)]
struct RawBuild {
    /// The build context, relative to codeb.toml's directory.
    #[serde(default = "dot")]
    context: PathBuf,
    /// The Containerfile, relative to the context (default: its Containerfile, else its Dockerfile,
    /// else one codeb generates for a Node app).
    containerfile: Option<PathBuf>,
    /// The base image of the Containerfile codeb generates when the context has none
    /// (default: `docker.io/library/node:22-bookworm-slim`).
    base_image: Option<At<String>>,
    /// Whether the generated Containerfile installs the dependencies (default true); false when the
    /// context brings its own `node_modules` (vendored, or installed by CI), used as it is.
    #[serde(default = "yes")]
    install: bool,
}

fn dot() -> PathBuf {
    PathBuf::from(".")
}

fn yes() -> bool {
    true
}

/// When the app counts as healthy. A duration is a string like `30s`,
/// `1m30s` or `500ms`, or whole seconds (`30`).
#[derive(serde::Deserialize, Default)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schemars", schemars(rename = "Healthcheck"))]
#[serde(deny_unknown_fields)]
struct RawHealth {
    /// The path probed (default `/up`).
    path: Option<At<String>>,
    /// The statuses that count as healthy: one (`200`) or a range (`200-399`, the default).
    status: Option<At<String>>,
    /// A text the answer's body must hold.
    body: Option<String>,
    /// Time between probes (default 1s).
    interval: Option<WrittenDuration>,
    /// How long one probe may take (default 5s).
    timeout: Option<WrittenDuration>,
    /// How long failures do not count after the start (default 0s).
    start_period: Option<WrittenDuration>,
    /// How long a new release may take to become healthy (default 30s).
    deadline: Option<WrittenDuration>,
    /// Failed probes in a row that roll a release back (default 3).
    #[cfg_attr(feature = "schemars", schemars(range(min = 1)))]
    failure_threshold: Option<At<u32>>,
}

/// A duration as written: whole seconds, or a string such as `1m30s`.
#[derive(serde::Deserialize)]
#[serde(transparent)]
struct WrittenDuration(At<Value>);

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for WrittenDuration {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemas::duration(generator)
    }
}

/// The accessories the app needs.
#[derive(serde::Deserialize, Default)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schemars", schemars(rename = "Accessories"))]
#[serde(deny_unknown_fields)]
struct RawAccessories {
    /// A PostgreSQL database, its URL in `DATABASE_URL`.
    #[serde(default)]
    postgres: bool,
    /// A Redis, its URL in `REDIS_URL`.
    #[serde(default)]
    redis: bool,
}

/// Resource limits of the app's container.
#[derive(serde::Deserialize, Default)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schemars", schemars(rename = "Resources"))]
#[serde(deny_unknown_fields)]
struct RawResources {
    /// Memory: `512M`, `512MB`, `512MiB`, `1.5G` (all powers of 1024, as in
    /// Docker and fly), or bytes; at least 6M.
    #[serde(default)]
    #[cfg_attr(feature = "schemars", schemars(schema_with = "schemas::size"))]
    memory: Option<At<Value>>,
    /// CPUs, a number above 0 (`1.5`).
    #[serde(default)]
    #[cfg_attr(feature = "schemars", schemars(schema_with = "schemas::cpus"))]
    cpus: Option<At<Value>>,
}

/// One environment.
#[derive(serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schemars", schemars(rename = "Environment"))]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    /// The domains routed to it (`shop.example.com`).
    #[serde(default)]
    domains: Vec<At<String>>,
    /// The server it runs on (a `[servers.NAME]` of the platform file); default: the first app server.
    server: Option<At<String>>,
}

/// Checks the values of one codeb.toml: each refusal names its line in `text`.
struct Checker<'a> {
    text: &'a str,
}

impl Checker<'_> {
    /// `check` of the value `at`, a refusal naming its line.
    fn at<T, U>(&self, at: &At<T>, check: impl FnOnce(&T) -> Result<U, ValidationError>) -> Result<U> {
        check(at.get()).map_err(|e| crate::tomlfile::refused_at(PROJECT_FILE, self.text, at.span(), e))
    }

    /// The text of `at` as written in the file.
    fn written<T>(&self, at: &At<T>) -> &str {
        self.text.get(at.span()).unwrap_or_default()
    }
}

impl Raw {
    /// The project file these values describe, or the first refusal.
    pub(super) fn validate(self, text: &str) -> Result<ProjectFile> {
        let file = Checker { text };
        let name = file.at(&self.name, |s| ProjectName::parse(s))?;
        let image = self.image.as_ref().map(|i| file.at(i, |s| ImageRef::parse(s))).transpose()?;
        if image.is_none() && self.build.is_none() {
            return Err(ValidationError::new("image", "", "give an image or a [build] section").into());
        }
        if let Some(command) = &self.command {
            file.at(command, |c| check_command(c))?;
        }
        let release_command = self.release_command(&file)?;
        let env = self
            .env
            .iter()
            .map(|(key, value)| {
                let key = file.at(key, |k| EnvKey::parse(k))?;
                let value = file.at(value, |v| env_value(v, file.written(value)))?;
                Ok(EnvVar::plain(key, value))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut domains = BTreeMap::new();
        let mut servers = BTreeMap::new();
        for (env_name, section) in &self.environments {
            let env = file.at(env_name, |s| Environment::parse(s))?;
            let list = section.domains.iter().map(|d| file.at(d, |s| DomainName::parse(s))).collect::<Result<_>>()?;
            if let Some(server) = &section.server {
                servers.insert(env.clone(), file.at(server, |s| ServerName::parse(s))?);
            }
            domains.insert(env, list);
        }
        Ok(ProjectFile {
            name,
            image,
            build: self.build.map(|b| b.validate(&file)).transpose()?,
            port: file.at(&self.port, |p| Port::new(*p))?,
            command: self.command.map(|c| c.0.into_inner()),
            release_command,
            health: self.healthcheck.validate(&file)?,
            env,
            accessories: Accessories { postgres: self.accessories.postgres, redis: self.accessories.redis },
            resources: self.resources.validate(&file)?,
            domains,
            servers,
        })
    }
}

impl Raw {
    /// `release_command` with its timeout; a timeout without a command, or of 0s, is refused.
    fn release_command(&self, file: &Checker<'_>) -> Result<Option<ReleaseCommand>> {
        const TIMEOUT: &str = "release_command_timeout";
        let timeout = self.release_command_timeout.as_ref().map(|WrittenDuration(value)| value);
        match (&self.release_command, timeout) {
            (None, None) => Ok(None),
            (None, Some(value)) => file.at(value, |_| {
                Err(ValidationError::new(TIMEOUT, file.written(value), "is given only with a release_command"))
            }),
            (Some(command), timeout) => {
                file.at(command, |c| check_release_command(c))?;
                let mut release_command = ReleaseCommand::new(command.get().clone());
                if let Some(value) = timeout {
                    release_command.timeout = file.at(value, |v| match duration(TIMEOUT, v)? {
                        zero if zero.is_zero() => Err(ValidationError::new(TIMEOUT, "0s", "is longer than 0s")),
                        timeout => Ok(timeout),
                    })?;
                }
                Ok(Some(release_command))
            }
        }
    }
}

impl RawBuild {
    fn validate(self, file: &Checker<'_>) -> Result<BuildSection> {
        let base_image = self.base_image.as_ref().map(|i| file.at(i, |s| ImageRef::parse(s))).transpose()?;
        let (context, containerfile, install) = (self.context, self.containerfile, self.install);
        Ok(BuildSection { context, containerfile, base_image, install, generated: None })
    }
}

/// An `[env]` value: a string as it is, a number, boolean or date as written
/// (`written`, its text in the file); an array or table is refused.
fn env_value(value: &Value, written: &str) -> Result<EnvValue, ValidationError> {
    match value {
        Value::String(s) => EnvValue::parse(s),
        Value::Integer(_) | Value::Float(_) | Value::Boolean(_) | Value::Datetime(_) => EnvValue::parse(written),
        Value::Array(_) | Value::Table(_) => {
            let refused = ValidationError::new("env value", value.type_str(), "is a string, a number or a boolean");
            Err(refused.with_hint("quote it: an env var holds one string"))
        }
    }
}

/// A duration field: whole seconds, or a duration string.
fn duration(field: &'static str, value: &Value) -> Result<Duration, ValidationError> {
    match value {
        Value::String(s) => parse_duration(field, s),
        Value::Integer(seconds) => units::duration_from_seconds(field, *seconds),
        Value::Float(seconds) => Err(units::duration_from_fraction(field, *seconds)),
        other => Err(ValidationError::new(field, other.type_str(), units::DURATION_RULE)),
    }
}

impl RawHealth {
    fn validate(self, file: &Checker<'_>) -> Result<HealthCheck> {
        let mut check = HealthCheck::default();
        if let Some(path) = &self.path {
            check.path = file.at(path, |p| HealthPath::parse(p))?;
        }
        if let Some(status) = &self.status {
            (check.min_status, check.max_status) = file.at(status, |s| status_range(s))?;
        }
        check.body_contains = self.body;
        for (field, value, slot) in [
            ("healthcheck.interval", &self.interval, &mut check.interval),
            ("healthcheck.timeout", &self.timeout, &mut check.timeout),
            ("healthcheck.start_period", &self.start_period, &mut check.start_period),
            ("healthcheck.deadline", &self.deadline, &mut check.deadline),
        ] {
            if let Some(WrittenDuration(value)) = value {
                *slot = file.at(value, |v| duration(field, v))?;
            }
        }
        if let Some(n) = &self.failure_threshold {
            check.failure_threshold = *n.get();
        }
        check.check().map_err(|e| {
            let written = match e.field() {
                "healthcheck.interval" => self.interval.as_ref().map(|d| d.0.span()),
                "healthcheck.timeout" => self.timeout.as_ref().map(|d| d.0.span()),
                "healthcheck.failure_threshold" => self.failure_threshold.as_ref().map(At::span),
                "healthcheck.status" => self.status.as_ref().map(At::span),
                _ => None,
            };
            match written {
                Some(span) => crate::tomlfile::refused_at(PROJECT_FILE, file.text, span, e),
                None => e.into(),
            }
        })?;
        Ok(check)
    }
}

/// `200` or `200-399`: the lowest and highest healthy status.
fn status_range(status: &str) -> Result<(u16, u16), ValidationError> {
    let (min, max) = status.split_once('-').unwrap_or((status, status));
    let parse = |s: &str| s.trim().parse::<u16>().ok().filter(|n| (100..=599).contains(n));
    match (parse(min), parse(max)) {
        (Some(min), Some(max)) if min <= max => Ok((min, max)),
        _ => Err(ValidationError::new("healthcheck.status", status, "is a status or a range like 200-399")),
    }
}

impl RawResources {
    fn validate(self, file: &Checker<'_>) -> Result<Resources> {
        let memory_bytes = self.memory.as_ref().map(|m| file.at(m, memory)).transpose()?;
        let cpu_millis = self.cpus.as_ref().map(|c| file.at(c, cpus)).transpose()?;
        Ok(Resources { memory_bytes, cpu_millis })
    }
}

/// `resources.memory`: a size, at least [`MIN_MEMORY_BYTES`]; a small bare
/// number was surely meant as megabytes, and the hint says how to write that.
fn memory(value: &Value) -> Result<u64, ValidationError> {
    const FIELD: &str = "resources.memory";
    let bytes = match value {
        Value::String(s) => parse_size(FIELD, s)?,
        Value::Integer(n) => {
            u64::try_from(*n).map_err(|_| ValidationError::new(FIELD, &n.to_string(), units::SIZE_RULE))?
        }
        other => return Err(ValidationError::new(FIELD, other.type_str(), units::SIZE_RULE)),
    };
    if bytes >= MIN_MEMORY_BYTES {
        return Ok(bytes);
    }
    let refused = ValidationError::new(FIELD, &bytes.to_string(), "is at least 6M, the least a container starts with");
    Err(match value {
        Value::Integer(n) => refused.with_hint(units::write(FIELD, &format!("\"{n}M\" for {n} MiB"))),
        _ => refused,
    })
}

/// `resources.cpus`: a number of CPUs above 0, at most 1024, in thousandths.
fn cpus(value: &Value) -> Result<u32, ValidationError> {
    const FIELD: &str = "resources.cpus";
    const RULE: &str = "is a number of CPUs above 0 (1.5)";
    let count = match value {
        Value::Float(c) => *c,
        Value::Integer(c) => *c as f64,
        Value::String(s) => {
            let refused = ValidationError::new(FIELD, s, RULE);
            return Err(match s.trim().parse::<f64>() {
                Ok(c) if c > 0.0 => refused.with_hint(units::write(FIELD, &format!("{c} (a number, not a string)"))),
                _ => refused,
            });
        }
        other => return Err(ValidationError::new(FIELD, other.type_str(), RULE)),
    };
    if count > 0.0 && count <= 1024.0 {
        Ok((count * 1000.0).round() as u32)
    } else {
        Err(ValidationError::new(FIELD, &count.to_string(), RULE))
    }
}

/// The schemas of the fields whose Rust type is looser than what they take.
#[cfg(feature = "schemars")]
mod schemas {
    use schemars::{Schema, SchemaGenerator, json_schema};

    pub fn duration(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                { "type": "integer", "minimum": 0, "description": "whole seconds" },
                { "type": "string", "pattern": "^([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$", "minLength": 2 }
            ],
            "examples": ["30s", "1m30s", "500ms", 30]
        })
    }

    pub fn size(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                { "type": "integer", "minimum": 6291456, "description": "bytes" },
                { "type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?([KkMmGgTt]([Ii]?[Bb])?|[Bb])?$" }
            ],
            "examples": ["512M", "512MB", "1.5G"]
        })
    }

    pub fn cpus(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "number", "exclusiveMinimum": 0, "maximum": 1024 })
    }

    pub fn env(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
            "additionalProperties": { "type": ["string", "integer", "number", "boolean"] }
        })
    }

    pub fn environments(generator: &mut SchemaGenerator) -> Schema {
        let environment = generator.subschema_for::<super::RawEnvironment>();
        json_schema!({
            "type": "object",
            "propertyNames": { "pattern": "^(staging|production|preview-[a-z0-9]([a-z0-9-]*[a-z0-9])?)$" },
            "additionalProperties": environment
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::ErrorKind;
    use crate::project::ProjectFile;

    /// Three lines every case starts with, so a case's own lines are 4 and on.
    const HEAD: &str = "name = \"shop\"\nimage = \"a:1\"\nport = 80\n";

    fn file(rest: &str) -> ProjectFile {
        ProjectFile::parse(&format!("{HEAD}{rest}")).unwrap_or_else(|e| panic!("{rest:?}: {e}"))
    }

    #[test]
    fn what_kamal_and_fly_users_write_is_taken() {
        let health =
            file("[healthcheck]\ninterval = 30\ntimeout = \"1m30s\"\nstart_period = \"1s500ms\"\ndeadline = 0\n")
                .health;
        assert_eq!(health.interval, Duration::from_secs(30));
        assert_eq!(health.timeout, Duration::from_secs(90));
        assert_eq!(health.start_period, Duration::from_millis(1500));
        assert_eq!(health.deadline, Duration::ZERO);
        for (memory, bytes) in [
            ("\"512MB\"", 512 << 20),
            ("\"512MiB\"", 512 << 20),
            ("\"512m\"", 512 << 20),
            ("\"1GB\"", 1 << 30),
            ("\"1.5G\"", 3 << 29),
            ("536870912", 512 << 20),
        ] {
            let resources = file(&format!("[resources]\nmemory = {memory}\ncpus = 2\n")).resources;
            assert_eq!(resources.memory_bytes, Some(bytes), "{memory}");
            assert_eq!(resources.cpu_millis, Some(2000), "an integer count of CPUs");
        }
        let env = file("[env]\nPORT = 3000\nDEBUG = true\nRATIO = 0.50\nVERSION = 1.10\nNAME = \"shop\"\n").env;
        let pairs: Vec<(&str, &str)> = env.iter().map(|v| (v.key.as_str(), v.value.expose())).collect();
        assert_eq!(
            pairs,
            [("DEBUG", "true"), ("NAME", "shop"), ("PORT", "3000"), ("RATIO", "0.50"), ("VERSION", "1.10")],
            "numbers and booleans as written, never reformatted (1.10 stays 1.10)"
        );
        assert!(env.iter().all(|v| !v.secret));
    }

    #[test]
    fn anything_else_is_refused_naming_its_line_and_what_to_write() {
        for (rest, line, field, hint) in [
            ("[healthcheck]\ninterval = \"30 seconds\"\n", 5, "healthcheck.interval", Some("write interval = \"30s\"")),
            (
                "[healthcheck]\npath = \"/\"\ntimeout = \"1.5s\"\n",
                6,
                "healthcheck.timeout",
                Some("write timeout = \"1s500ms\""),
            ),
            ("[healthcheck]\ndeadline = \"2 min\"\n", 5, "healthcheck.deadline", Some("write deadline = \"2m\"")),
            (
                "[healthcheck]\nstart_period = 1.5\n",
                5,
                "healthcheck.start_period",
                Some("write start_period = \"1s500ms\""),
            ),
            ("[healthcheck]\ninterval = \"30s1m\"\n", 5, "healthcheck.interval", Some("write interval = \"1m30s\"")),
            ("[healthcheck]\ninterval = -1\n", 5, "healthcheck.interval", None),
            ("[healthcheck]\ninterval = true\n", 5, "healthcheck.interval", None),
            ("[healthcheck]\ninterval = \"soon\"\n", 5, "healthcheck.interval", None),
            ("[healthcheck]\n\ninterval = 0\n", 6, "healthcheck.interval", None),
            ("[healthcheck]\nfailure_threshold = 0\n", 5, "healthcheck.failure_threshold", None),
            ("[healthcheck]\nstatus = \"399-200\"\n", 5, "healthcheck.status", None),
            ("[resources]\nmemory = \"512 MB\"\n", 5, "resources.memory", Some("write memory = \"512M\"")),
            ("[resources]\nmemory = \"512 megabytes\"\n", 5, "resources.memory", Some("write memory = \"512M\"")),
            ("[resources]\nmemory = 512\n", 5, "resources.memory", Some("write memory = \"512M\" for 512 MiB")),
            ("[resources]\nmemory = \"1M\"\n", 5, "resources.memory", None),
            ("[resources]\nmemory = \"lots\"\n", 5, "resources.memory", None),
            ("[resources]\ncpus = \"1.5\"\n", 5, "resources.cpus", Some("write cpus = 1.5 (a number, not a string)")),
            ("[resources]\ncpus = 0\n", 5, "resources.cpus", None),
            ("[env]\nA = 1\nLIST = [1, 2]\n", 6, "env value", Some("quote it: an env var holds one string")),
            ("[env]\n\"A B\" = \"x\"\n", 5, "env key", None),
            ("[environments.prod]\ndomains = []\n", 4, "environment", None),
            ("[environments.staging]\ndomains = [\n  \"ok.example.com\",\n  \"a b.com\",\n]\n", 7, "domain", None),
            ("[environments.staging]\nserver = \"-oProxyCommand=x\"\n", 5, "server name", None),
            ("command = []\n", 4, "command", None),
            ("release_command = [\"\", \"x\"]\n", 4, "release_command", None),
            ("release_command = [\"true\"]\nrelease_command_timeout = 0\n", 5, "release_command_timeout", None),
            ("release_command_timeout = \"1m\"\n", 4, "release_command_timeout", None),
        ] {
            let err = ProjectFile::parse(&format!("{HEAD}{rest}")).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{rest:?}: {err}");
            assert_eq!(err.context_value("line"), Some(line.to_string().as_str()), "{rest:?}: {err}");
            assert!(err.message().starts_with(&format!("codeb.toml: line {line}: ")), "{rest:?}: {err}");
            assert_eq!(err.context_value("field"), Some(field), "{rest:?}: {err}");
            assert_eq!(err.context_value("hint"), hint, "{rest:?}: {err}");
        }
        for (text, line) in [
            ("name = \"Shop!\"\nimage = \"a:1\"\nport = 80\n", 1),
            ("name = \"shop\"\n\nport = 0\nimage = \"a:1\"\n", 3),
        ] {
            let err = ProjectFile::parse(text).unwrap_err();
            assert_eq!(err.context_value("line"), Some(line.to_string().as_str()), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_release_command_is_an_argv_with_a_timeout_of_five_minutes_unless_given() {
        let command =
            file("release_command = [\"npx\", \"prisma\", \"migrate\", \"deploy\"]\n").release_command.unwrap();
        assert_eq!(command.argv, ["npx", "prisma", "migrate", "deploy"]);
        assert_eq!(command.timeout, Duration::from_secs(300));
        let quick = file("release_command = [\"true\"]\nrelease_command_timeout = \"1m30s\"\n").release_command;
        assert_eq!(quick.unwrap().timeout, Duration::from_secs(90));
        assert_eq!(file("").release_command, None);
    }

    #[test]
    fn a_deeply_nested_loose_value_is_refused_briefly() {
        for key in ["[env]\nX", "[resources]\nmemory", "[healthcheck]\ninterval"] {
            let deep = format!("{HEAD}{key} = {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
            let err = ProjectFile::parse(&deep).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{key}");
            assert!(err.to_string().len() < 400, "{key}: {err}");
        }
    }

    #[test]
    fn a_refused_env_value_is_never_quoted() {
        let err = ProjectFile::parse(&format!("{HEAD}[env]\nTOKEN = \"hunter2\\u0000\"\n")).unwrap_err();
        assert_eq!(err.context_value("line"), Some("5"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
