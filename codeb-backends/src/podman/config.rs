//! How to reach one Podman API service and what every container it creates gets.

use std::path::PathBuf;
use std::time::Duration;

use codeb::Result;
use codeb::config::{KeySource, RegistrySection, Section};
use codeb::model::EnvValue;

use crate::keys::read_key;

/// One resource limit applied to every container (`nofile`, `nproc`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ulimit {
    /// The limit's name as Podman spells it (`nofile`, `nproc`).
    pub name: String,
    /// The soft limit.
    pub soft: i64,
    /// The hard limit.
    pub hard: i64,
}

impl Ulimit {
    /// A limit with equal soft and hard values.
    pub fn new(name: impl Into<String>, value: i64) -> Self {
        Ulimit { name: name.into(), soft: value, hard: value }
    }
}

/// The credentials of one registry, sent (in Podman's registry-auth header,
/// never on argv) when an image of that registry is pulled. `Debug` never
/// shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryLogin {
    /// The registry, as images name it (`ghcr.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// The user.
    pub username: String,
    /// The password or token.
    pub password: EnvValue,
}

impl std::fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLogin")
            .field("registry", &self.registry)
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

/// Where the Podman API listens and the defaults codeb applies to what it creates.
///
/// Podman's own `containers.conf` may carry rlimits a host cannot grant
/// (`setrlimit RLIMIT_NOFILE: Operation not permitted`); sending
/// [`PodmanConfig::ulimits`] with every container makes creation independent
/// of that file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodmanConfig {
    /// Path of the API's unix socket (`podman system service unix://PATH`).
    pub socket: PathBuf,
    /// The credentials of the registries images are pulled from.
    pub logins: Vec<RegistryLogin>,
    /// Resource limits sent with every container.
    pub ulimits: Vec<Ulimit>,
    /// The longest one API request may take (pulls and builds included).
    pub timeout: Duration,
}

impl PodmanConfig {
    /// The defaults for the socket at `socket`: no registry credentials,
    /// `nofile=1024` and `nproc=1000`, requests of at most 10 minutes.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        PodmanConfig {
            socket: socket.into(),
            logins: Vec::new(),
            ulimits: vec![Ulimit::new("nofile", 1024), Ulimit::new("nproc", 1000)],
            timeout: Duration::from_secs(600),
        }
    }

    /// The configuration of the platform file's `[podman]` section: `socket`,
    /// and `registries` (each `{ registry, username, password_file | password_env }`),
    /// whose passwords are read now.
    pub fn from_section(section: &Section) -> Result<Self> {
        let raw: RawPodman = section.parse()?;
        let mut config = PodmanConfig::new(raw.socket);
        for login in raw.registries {
            let source = KeySource::from_keys("podman.registries.password", login.password_file, login.password_env)?;
            let what = format!("password of registry {}", login.registry);
            let password = EnvValue::parse(&read_key(&what, &source)?)?;
            config = config.with_login(RegistryLogin { registry: login.registry, username: login.username, password });
        }
        Ok(config)
    }

    /// Adds the credentials of the platform file's `[registry]` (`username`,
    /// and `password_file` or `password_env`, read now), with which images
    /// are pushed there and pulled from there; a registry without `username`
    /// is reached without credentials.
    pub fn with_registry(self, registry: &RegistrySection) -> Result<Self> {
        let raw: RawRegistryLogin = registry.credentials.parse()?;
        let Some(username) = raw.username else {
            return match KeySource::from_keys("registry.password", raw.password_file, raw.password_env) {
                Ok(_) => Err(codeb::Error::invalid("platform file, [registry]: a password needs its username")
                    .with_context("field", "registry.username")),
                Err(_) => Ok(self),
            };
        };
        let source = KeySource::from_keys("registry.password", raw.password_file, raw.password_env)?;
        let address = &registry.registry.address;
        let password = EnvValue::parse(&read_key(&format!("password of registry {address}"), &source)?)?;
        Ok(self.with_login(RegistryLogin { registry: address.clone(), username, password }))
    }

    /// Pulls images of `login.registry` with `login`'s credentials.
    pub fn with_login(mut self, login: RegistryLogin) -> Self {
        self.logins.push(login);
        self
    }

    /// The credentials for pulling `image`, if its registry has any.
    pub(crate) fn login_for(&self, image: &codeb::model::ImageRef) -> Option<&RegistryLogin> {
        let registry = image.registry()?;
        self.logins.iter().find(|l| l.registry == registry)
    }

    /// Replaces the resource limits sent with every container.
    pub fn with_ulimits(mut self, ulimits: Vec<Ulimit>) -> Self {
        self.ulimits = ulimits;
        self
    }

    /// Sets the longest one API request may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// The `[podman]` section as written.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPodman {
    socket: PathBuf,
    #[serde(default)]
    registries: Vec<RawLogin>,
}

/// The credentials of `[registry]`, as written (the SDK took `address` and `tls`).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistryLogin {
    username: Option<String>,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
}

/// One entry of `registries`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogin {
    registry: String,
    username: String,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
}

#[cfg(test)]
mod tests {
    use codeb::ErrorKind;
    use codeb::config::PlatformConfig;

    use super::*;

    fn platform_file(podman: &str) -> PlatformConfig {
        PlatformConfig::parse(&format!(
            "[state]\npath = \"/s\"\n[secrets]\ndir = \"/d\"\nkey_env = \"K\"\n[podman]\n{podman}\n\
             [caddy]\nadmin = \"http://127.0.0.1:1\"\nlisten = []\n[powerdns]\napi = \"http://127.0.0.1:2\"\napi_key_env = \"P\"\n"
        ))
        .unwrap()
    }

    #[test]
    fn the_podman_section_names_the_socket_and_registry_logins_whose_passwords_are_read_now() {
        let dir = tempfile::tempdir().unwrap();
        let password = dir.path().join("ghcr.token");
        std::fs::write(&password, "s3cret-token\n").unwrap();
        let section = format!(
            "socket = \"/run/podman.sock\"\nregistries = [{{ registry = \"ghcr.io\", username = \"ci\", password_file = {:?} }}]",
            password.display().to_string()
        );
        let config = PodmanConfig::from_section(&platform_file(&section).podman).unwrap();
        assert_eq!(config.socket, PathBuf::from("/run/podman.sock"));
        let image = codeb::model::ImageRef::parse("ghcr.io/team/app:v1").unwrap();
        let login = config.login_for(&image).unwrap();
        assert_eq!((login.username.as_str(), login.password.expose()), ("ci", "s3cret-token"));
        assert!(!format!("{config:?}").contains("s3cret"), "Debug never shows the password");
        assert!(config.login_for(&codeb::model::ImageRef::parse("docker.io/library/redis:7").unwrap()).is_none());
    }

    #[test]
    fn the_registry_sections_credentials_are_a_login_for_its_address() {
        let dir = tempfile::tempdir().unwrap();
        let password = dir.path().join("registry.password");
        std::fs::write(&password, "r3g-pass\n").unwrap();
        let file = |credentials: &str| {
            let text = format!(
                "[state]\npath = \"/s\"\n[secrets]\ndir = \"/d\"\nkey_env = \"K\"\n[podman]\nsocket = \"/x\"\n\
                 [caddy]\nadmin = \"http://127.0.0.1:1\"\nlisten = []\n[powerdns]\napi = \"http://127.0.0.1:2\"\napi_key_env = \"P\"\n\
                 [registry]\naddress = \"127.0.0.1:5000\"\ntls = false\n{credentials}\n"
            );
            PlatformConfig::parse(&text).unwrap().registry.unwrap()
        };
        let section = file(&format!("username = \"codeb\"\npassword_file = {:?}", password.display().to_string()));
        let config = PodmanConfig::new("/x").with_registry(&section).unwrap();
        let image = codeb::model::ImageRef::parse("127.0.0.1:5000/shop:v1").unwrap();
        let login = config.login_for(&image).unwrap();
        assert_eq!((login.username.as_str(), login.password.expose()), ("codeb", "r3g-pass"));
        assert!(PodmanConfig::new("/x").with_registry(&file("")).unwrap().logins.is_empty(), "no credentials");
        let orphan = PodmanConfig::new("/x").with_registry(&file("password_env = \"R\"")).unwrap_err();
        assert_eq!(orphan.context_value("field"), Some("registry.username"), "{orphan}");
        let inline = PodmanConfig::new("/x").with_registry(&file("username = \"u\"\npassword = \"p\"")).unwrap_err();
        assert!(inline.to_string().contains("password") && !inline.to_string().contains("\"p\""), "{inline}");
    }

    #[test]
    fn an_unknown_key_or_a_login_without_a_password_is_refused() {
        let typo = PodmanConfig::from_section(&platform_file("sokcet = \"/x\"").podman).unwrap_err();
        assert_eq!(typo.kind(), ErrorKind::Invalid);
        assert!(typo.to_string().contains("[podman] (line 6)") && typo.to_string().contains("sokcet"), "{typo}");
        let no_password = "socket = \"/x\"\nregistries = [{ registry = \"ghcr.io\", username = \"ci\" }]";
        let err = PodmanConfig::from_section(&platform_file(no_password).podman).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    }
}
