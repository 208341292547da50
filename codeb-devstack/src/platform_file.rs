//! The platform file of a local stack: what `we local up` writes so that every
//! front end finds the stack it started.

use std::path::{Path, PathBuf};

use codeb::config::PlatformConfig;
use codeb::model::ImageRef;
use codeb::{Error, ErrorKind, Result};

use crate::LocalStack;
use crate::atomic::replace_owner_only;

/// The zone a local stack's apps are named in.
pub const LOCAL_ZONE: &str = "codeb.test";
/// The platform file's name in the stack's data directory.
pub const PLATFORM_FILE: &str = "platform.toml";
/// The PowerDNS key file's name in the stack's data directory (0600).
pub const PDNS_KEY_FILE: &str = "pdns.key";

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
    /// plain HTTP, short drain and watch times suited to a laptop, and the
    /// accessory images `images` (the defaults when unset).
    pub fn platform_file(&self, images: &AccessoryImages) -> Result<String> {
        let dir = self.dir();
        let e = self.endpoints();
        Ok(format!(
            "{MARKER} for the local stack in this directory.\n\
             [state]\npath = {state}\n\n\
             [secrets]\ndir = {secrets}\nkey_file = {secret_key}\n\n\
             [podman]\nsocket = {socket}\n\n\
             [caddy]\nadmin = {admin}\nlisten = [{listen}]\ntls = \"off\"\n\n\
             [powerdns]\napi = {api}\napi_key_file = {pdns_key}\nzone = \"{LOCAL_ZONE}\"\n\n\
             [network]\nbind_address = \"127.0.0.1\"\nupstream_host = \"127.0.0.1\"\npublic_ipv4 = \"127.0.0.1\"\n\n\
             [deploy]\ndrain_grace = \"1s\"\nstop_grace = \"5s\"\nwatch_window = \"5s\"\n{images}",
            state = path(&dir.join("ssot.json"))?,
            secrets = path(&dir.join("secrets"))?,
            secret_key = path(&dir.join("secret.key"))?,
            socket = path(&e.podman_socket)?,
            admin = quoted(&e.caddy_admin_url()),
            listen = quoted(&e.http.to_string()),
            api = quoted(&e.pdns_api_url()),
            pdns_key = path(&dir.join(PDNS_KEY_FILE))?,
            images = images.lines(),
        ))
    }

    /// Writes the platform file and the PowerDNS key file (0600) into the data
    /// directory and returns the platform file's path. The accessory images
    /// set in a platform file `we local up` wrote before (the stack's own, or
    /// the default one) are kept.
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
        write(PLATFORM_FILE, self.platform_file(&images)?.as_bytes())
    }
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
}
