//! The platform file of a local stack: what `we local up` writes so that every
//! front end finds the stack it started.

use std::path::{Path, PathBuf};

use codeb::config::PlatformConfig;
use codeb::model::ImageRef;
use codeb::{Error, ErrorKind, Result};

use crate::atomic::replace_owner_only;
use crate::{LocalStack, REGISTRY_USER};

/// The zone a local stack's apps are named in.
pub const LOCAL_ZONE: &str = "codeb.test";

/// The zone of the local stack's upstream records, which its routes discover releases from.
pub const UPSTREAM_ZONE: &str = "codeb.internal";
/// The platform file's name in the stack's data directory.
pub const PLATFORM_FILE: &str = "platform.toml";
/// The PowerDNS key file's name in the stack's data directory (0600).
pub const PDNS_KEY_FILE: &str = "pdns.key";
/// The registry password file's name in the stack's data directory (0600).
pub const REGISTRY_PASSWORD_FILE: &str = "registry.password";
/// The name of the stack's registry credentials for the podman CLI (`--authfile`, 0600).
pub const REGISTRY_AUTH_FILE: &str = "registry-auth.json";

/// The first line of every platform file `we local up` writes.
pub const MARKER: &str = "# Written by `we local up`";

/// The accessory images a platform file sets (`[deploy] postgres_image` and
/// `redis_image`): the keys a user adds to the file `we local up` wrote, which
/// the next `up` keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessoryImages {
    /// The PostgreSQL image, if set.
    pub postgres: Option<ImageRef>,
    /// The Redis image, if set.
    pub redis: Option<ImageRef>,
}

impl AccessoryImages {
    /// The images set in the platform file `text`; none when it does not parse.
    pub fn of(text: &str) -> Self {
        PlatformConfig::parse(text)
            .map(|c| AccessoryImages { postgres: c.postgres_image, redis: c.redis_image })
            .unwrap_or_default()
    }

    /// The images set in the files `we local up` wrote before, first found
    /// first: the stack's own file, then the default platform file when
    /// `we local up` wrote it.
    fn kept(paths: &[PathBuf]) -> Self {
        let mut kept = AccessoryImages::default();
        for text in paths.iter().filter_map(|p| std::fs::read_to_string(p).ok()) {
            if !text.starts_with(MARKER) {
                continue;
            }
            let found = AccessoryImages::of(&text);
            kept.postgres = kept.postgres.or(found.postgres);
            kept.redis = kept.redis.or(found.redis);
        }
        kept
    }

    /// The `[deploy]` lines that set them.
    fn lines(&self) -> String {
        let line = |key: &str, image: &Option<ImageRef>| {
            image.as_ref().map(|i| format!("{key} = {}\n", quoted(i.as_str()))).unwrap_or_default()
        };
        format!("{}{}", line("postgres_image", &self.postgres), line("redis_image", &self.redis))
    }
}

/// A TOML basic string holding `s` (JSON's string escapes are valid TOML).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

fn path(p: &Path) -> Result<String> {
    p.to_str()
        .map(quoted)
        .ok_or_else(|| Error::new(ErrorKind::Invalid, format!("the path {} is not UTF-8", p.display())))
}

impl LocalStack {
    /// The text of the platform file for this stack: the SSOT, secrets and keys
    /// under the data directory, the stack's endpoints, the zone `codeb.test`,
    /// the cutover through DNS (routes resolve [`UPSTREAM_ZONE`] at the
    /// stack's PowerDNS), plain HTTP, short watch times suited to a laptop,
    /// and the accessory images `images` (the defaults when unset).
    pub fn platform_file(&self, images: &AccessoryImages) -> Result<String> {
        let dir = self.dir();
        let e = self.endpoints();
        Ok(format!(
            "{MARKER} for the local stack in this directory.\n\
             [state]\npath = {state}\n\n\
             [secrets]\ndir = {secrets}\nkey_file = {secret_key}\n\n\
             [podman]\nsocket = {socket}\n\n\
             [caddy]\nadmin = {admin}\nlisten = [{listen}]\ntls = \"off\"\nresolver = {resolver}\n\n\
             [powerdns]\napi = {api}\napi_key_file = {pdns_key}\nzone = \"{LOCAL_ZONE}\"\nupstream_zone = \"{UPSTREAM_ZONE}\"\n\n\
             [registry]\naddress = {registry}\ntls = false\nusername = \"{REGISTRY_USER}\"\npassword_file = {registry_password}\n\n\
             [network]\nbind_address = \"127.0.0.1\"\nupstream_host = \"127.0.0.1\"\npublic_ipv4 = \"127.0.0.1\"\n\n\
             [deploy]\ndrain_grace = \"10s\"\nstop_grace = \"5s\"\nwatch_window = \"5s\"\n{images}",
            state = path(&dir.join("ssot.json"))?,
            secrets = path(&dir.join("secrets"))?,
            secret_key = path(&dir.join("secret.key"))?,
            socket = path(&e.podman_socket)?,
            admin = quoted(&e.caddy_admin_url()),
            listen = quoted(&e.http.to_string()),
            resolver = quoted(&e.pdns_dns.to_string()),
            api = quoted(&e.pdns_api_url()),
            pdns_key = path(&dir.join(PDNS_KEY_FILE))?,
            registry = quoted(&e.registry.to_string()),
            registry_password = path(&dir.join(REGISTRY_PASSWORD_FILE))?,
            images = images.lines(),
        ))
    }

    /// Writes the platform file and the PowerDNS key file (0600) into the data
    /// directory and returns the platform file's path (the registry's
    /// password file is the stack's own, written by `up`).
    ///
    /// A platform file an earlier `up` wrote keeps everything the user put in
    /// it: only the stack's own keys (its files and endpoints, [`STACK_KEYS`])
    /// are set to this stack's values, line by line, and a file whose values
    /// are already these is left untouched. A new file keeps the accessory
    /// images set in the default platform file an earlier `up` wrote.
    pub fn write_platform_file(&self) -> Result<PathBuf> {
        let previous: Vec<PathBuf> =
            [Some(self.dir().join(PLATFORM_FILE)), codeb::config::default_path()].into_iter().flatten().collect();
        let images = AccessoryImages::kept(&previous);
        let write = |name: &str, bytes: &[u8]| {
            let target = self.dir().join(name);
            replace_owner_only(&target, bytes).map_err(|e| {
                Error::new(ErrorKind::Unavailable, format!("cannot write {}", target.display())).with_source(e)
            })?;
            Ok::<_, Error>(target)
        };
        write(PDNS_KEY_FILE, self.endpoints().pdns_api_key.expose().as_bytes())?;
        let target = self.dir().join(PLATFORM_FILE);
        let fresh = self.platform_file(&images)?;
        match std::fs::read_to_string(&target) {
            Ok(existing) => {
                let kept =
                    with_stack_keys_of(&existing, &fresh).map_err(|e| e.with_context("path", target.display()))?;
                match kept == existing {
                    true => Ok(target),
                    false => write(PLATFORM_FILE, kept.as_bytes()),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => write(PLATFORM_FILE, fresh.as_bytes()),
            Err(e) => {
                Err(Error::new(ErrorKind::Unavailable, format!("cannot read {}", target.display())).with_source(e))
            }
        }
    }
}

/// The keys of the platform file that are the stack's own, `(section, key)`:
/// its files and endpoints, which every `up` sets to the stack it started.
pub const STACK_KEYS: &[(&str, &str)] = &[
    ("state", "path"),
    ("secrets", "dir"),
    ("secrets", "key_file"),
    ("podman", "socket"),
    ("caddy", "admin"),
    ("caddy", "listen"),
    ("powerdns", "api"),
    ("powerdns", "api_key_file"),
    ("registry", "address"),
    ("registry", "password_file"),
];

/// `existing` with each line of a [`STACK_KEYS`] key replaced by its line in
/// `fresh`; every other line (the user's keys and comments) as it was. A file
/// that lacks one of those keys is refused, naming it.
pub fn with_stack_keys_of(existing: &str, fresh: &str) -> Result<String> {
    let existing = &with_registry_of(existing, fresh);
    let has = |section: &str, key: &str| keyed_lines(existing).any(|((s, k), _)| s == section && k == key);
    if let Some((section, key)) = STACK_KEYS.iter().find(|(s, k)| !has(s, k)) {
        return Err(Error::invalid(format!(
            "the platform file has no {section}.{key}, which the local stack sets: add it back, or remove the file to have a new one written"
        )));
    }
    let fresh_lines: Vec<((String, String), &str)> = keyed_lines(fresh).filter(|(k, _)| is_stack_key(k)).collect();
    let mut out = String::with_capacity(existing.len());
    for (key, line) in keyed_or_plain_lines(existing) {
        let fresh_line = key.as_ref().and_then(|k| fresh_lines.iter().find(|(f, _)| f == k)).map(|(_, l)| *l);
        out.push_str(fresh_line.unwrap_or(line));
        out.push('\n');
    }
    Ok(out)
}

/// `existing` with the `[registry]` section of `fresh` added at its end when
/// it has none (a file an `up` wrote before the stack's registry needed a password).
fn with_registry_of(existing: &str, fresh: &str) -> String {
    if keyed_or_plain_lines(existing).any(|(_, line)| line.trim() == "[registry]") {
        return existing.to_owned();
    }
    let mut in_registry = false;
    let section: Vec<&str> = fresh
        .lines()
        .filter(|line| {
            if line.trim_start().starts_with('[') {
                in_registry = line.trim() == "[registry]";
            }
            in_registry
        })
        .collect();
    format!("{}\n{}\n", existing.trim_end(), section.join("\n").trim_end())
}

fn is_stack_key((section, key): &(String, String)) -> bool {
    STACK_KEYS.iter().any(|(s, k)| s == section && k == key)
}

/// Each line of `text`, with `(section, key)` when it sets a bare key.
fn keyed_or_plain_lines(text: &str) -> impl Iterator<Item = (Option<(String, String)>, &str)> {
    let mut section = String::new();
    text.lines().map(move |line| {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            section = name.trim().to_owned();
            return (None, line);
        }
        let key = trimmed.split_once('=').map(|(k, _)| k.trim()).filter(|k| !k.is_empty() && !k.starts_with('#'));
        (key.map(|k| (section.clone(), k.to_owned())), line)
    })
}

/// The lines of `text` that set a bare key, with their `(section, key)`.
fn keyed_lines(text: &str) -> impl Iterator<Item = ((String, String), &str)> {
    keyed_or_plain_lines(text).filter_map(|(key, line)| key.map(|k| (k, line)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApiKey, Endpoints};

    /// A stack record in `dir` with fixed endpoints (nothing runs).
    fn stack_in(dir: &Path) -> LocalStack {
        let endpoints = Endpoints {
            podman_socket: dir.join("podman.sock"),
            caddy_admin: "127.0.0.1:2100".parse().unwrap(),
            http: "127.0.0.1:2101".parse().unwrap(),
            pdns_api: "127.0.0.1:2102".parse().unwrap(),
            pdns_api_key: ApiKey::from_recorded("k3y".to_owned()),
            pdns_dns: "127.0.0.1:2103".parse().unwrap(),
            registry: "127.0.0.1:2104".parse().unwrap(),
            registry_tls: false,
            registry_password: ApiKey::from_recorded("r3g".to_owned()),
        };
        LocalStack { dir: dir.to_owned(), endpoints, processes: Vec::new() }
    }

    #[test]
    fn the_platform_file_parses_and_points_at_the_stack() {
        let dir = tempfile::tempdir().unwrap();
        let stack = stack_in(dir.path());
        let written = stack.write_platform_file().unwrap();
        let config = PlatformConfig::read(&written).unwrap();
        assert_eq!(
            codeb_backends::PodmanConfig::from_section(&config.podman).unwrap().socket,
            dir.path().join("podman.sock")
        );
        let caddy = codeb_backends::CaddyConfig::from_section(&config.caddy, &config.tls).unwrap();
        assert_eq!(caddy.listen, vec!["127.0.0.1:2101".to_owned()]);
        let pdns = codeb_backends::PowerDnsConfig::from_section(&config.powerdns).unwrap();
        assert_eq!(pdns.api, "http://127.0.0.1:2102", "and its key file was read");
        assert_eq!(config.zone.unwrap().as_str(), LOCAL_ZONE);
        assert_eq!(std::fs::read_to_string(dir.path().join(PDNS_KEY_FILE)).unwrap(), "k3y");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(PDNS_KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!std::fs::read_to_string(&written).unwrap().contains("k3y"), "the key stays out of the platform file");
        let registry = config.registry.as_ref().unwrap();
        std::fs::write(dir.path().join(REGISTRY_PASSWORD_FILE), "r3g").unwrap(); // as `up` writes it
        assert_eq!((registry.registry.address.as_str(), registry.registry.tls), ("127.0.0.1:2104", false));
        let podman =
            codeb_backends::PodmanConfig::from_section(&config.podman).unwrap().with_registry(registry).unwrap();
        assert_eq!(podman.logins[0].password.expose(), "r3g", "the password file it names is read");
        assert!(!std::fs::read_to_string(&written).unwrap().contains("r3g"), "the password stays out of it too");
    }

    #[test]
    fn the_accessory_images_a_user_set_survive_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let stack = stack_in(dir.path());
        let written = stack.write_platform_file().unwrap();
        let text = std::fs::read_to_string(&written).unwrap();
        let edited = text.replace(
            "[deploy]\n",
            "[deploy]\npostgres_image = \"localhost/mine/postgres:15\"\nredis_image = \"localhost/mine/redis:7\"\n",
        );
        std::fs::write(&written, edited).unwrap();
        stack.write_platform_file().unwrap();
        let config = PlatformConfig::read(&written).unwrap();
        assert_eq!(config.postgres_image.unwrap().as_str(), "localhost/mine/postgres:15");
        assert_eq!(config.redis_image.unwrap().as_str(), "localhost/mine/redis:7");
    }

    #[test]
    fn a_rewrite_sets_only_the_stacks_own_keys_and_keeps_the_users_lines() {
        let fresh = "[caddy]\nadmin = \"http://127.0.0.1:2\"\nlisten = [\"127.0.0.1:3\"]\ntls = \"off\"\n";
        let mut mine = String::from(
            "# mine\n[caddy]\nadmin = \"http://127.0.0.1:1\"\nlisten = [\"127.0.0.1:4\"]\ntls = \"internal\"\n",
        );
        for (section, key) in STACK_KEYS.iter().filter(|(s, _)| *s != "caddy") {
            mine.push_str(&format!("[{section}]\n{key} = \"/old\"\n"));
        }

        let kept = with_stack_keys_of(&mine, fresh).unwrap();

        assert!(
            kept.starts_with(
                "# mine\n[caddy]\nadmin = \"http://127.0.0.1:2\"\nlisten = [\"127.0.0.1:3\"]\ntls = \"internal\"\n"
            ),
            "{kept}"
        );
        let err = with_stack_keys_of("[caddy]\ntls = \"off\"\n", fresh).unwrap_err();
        assert!(err.to_string().contains("state.path"), "{err}");
    }

    #[test]
    fn a_file_written_before_the_registry_had_a_password_gets_the_registry_section() {
        let dir = tempfile::tempdir().unwrap();
        let stack = stack_in(dir.path());
        let fresh = stack.platform_file(&AccessoryImages::default()).unwrap();
        let old: String = fresh.split("[registry]").next().unwrap().to_owned() + "# mine\n";
        let kept = with_stack_keys_of(&old, &fresh).unwrap();
        assert!(kept.contains("# mine\n") && kept.contains("[registry]\naddress = \"127.0.0.1:2104\""), "{kept}");
        assert!(PlatformConfig::parse(&kept).unwrap().registry.is_some(), "{kept}");
    }
}
