//! The configuration files of the stack's services, as pure functions of
//! paths, addresses and keys, so each is checked without starting anything.
//!
//! Paths come from a data directory that `existing_dir` (in the crate root)
//! has checked to be UTF-8 without control characters, so they fit on one
//! line of any format.

use std::net::SocketAddr;
use std::path::Path;

use serde_json::json;

use codeb::{Error, Result};

use super::api_key::ApiKey;

/// The first line of every file the stack writes.
const HEADER: &str = "# Written by codeb's local stack on every `up`; edits are lost.";

/// Podman's `containers.conf`: runc as the runtime (crun fails on these
/// machines), found at `runc`, and rlimits a container may actually set here.
pub(crate) fn containers_conf(runc: &Path) -> String {
    format!(
        "{HEADER}\n\
         [containers]\n\
         default_ulimits = [\"nofile=1024:1024\", \"nproc=1000:1000\"]\n\
         \n\
         [engine]\n\
         runtime = \"runc\"\n\
         \n\
         [engine.runtimes]\n\
         runc = [{}]\n",
        toml_string(&runc.to_string_lossy())
    )
}

/// Podman's `registries.conf`: the stack's registry speaks plain HTTP
/// unless it has `tls` (then Podman verifies it as any registry), and short
/// names are never sent to a public registry.
pub(crate) fn registries_conf(registry: SocketAddr, tls: bool) -> String {
    let port = registry.port();
    let mut text = format!("{HEADER}\nunqualified-search-registries = []\n");
    let plain = if tls { Vec::new() } else { vec![registry.to_string(), format!("localhost:{port}")] };
    for location in plain {
        text.push_str(&format!("\n[[registry]]\nlocation = {}\ninsecure = true\n", toml_string(&location)));
    }
    text
}

/// Caddy's JSON config: only the admin API on `admin`, no apps, and no
/// autosave, so every start begins empty and nothing is written under `$HOME`.
pub(crate) fn caddy_json(admin: SocketAddr) -> String {
    let config = json!({ "admin": { "listen": admin.to_string(), "config": { "persist": false } } });
    format!("{config:#}\n")
}

/// The settings of PowerDNS that differ per stack.
pub(crate) struct PdnsSettings<'a> {
    /// The SQLite database made from the gsqlite3 schema.
    pub database: &'a Path,
    /// Where DNS (UDP and TCP) listens.
    pub dns: SocketAddr,
    /// Where the webserver and its HTTP API listen.
    pub api: SocketAddr,
    /// The key the API requires.
    pub api_key: &'a ApiKey,
    /// Where the control socket goes.
    pub socket_dir: &'a Path,
}

/// `pdns.conf`: the SQLite backend, DNS and the API on loopback only, and no
/// security poll (these machines cannot reach the internet).
pub(crate) fn pdns_conf(s: &PdnsSettings<'_>) -> String {
    let lines = [
        ("launch", "gsqlite3".to_owned()),
        ("gsqlite3-database", s.database.display().to_string()),
        ("local-address", s.dns.ip().to_string()),
        ("local-port", s.dns.port().to_string()),
        ("api", "yes".to_owned()),
        ("api-key", s.api_key.expose().to_owned()),
        ("webserver", "yes".to_owned()),
        ("webserver-address", s.api.ip().to_string()),
        ("webserver-port", s.api.port().to_string()),
        ("webserver-allow-from", "127.0.0.0/8".to_owned()),
        ("socket-dir", s.socket_dir.display().to_string()),
        ("security-poll-suffix", String::new()),
    ];
    let mut text = format!("{HEADER}\n");
    for (key, value) in lines {
        text.push_str(&format!("{key}={value}\n"));
    }
    text
}

/// Where the registry keeps its data and whom it lets in.
pub(crate) struct RegistrySettings<'a> {
    pub storage: &'a Path,
    pub addr: SocketAddr,
    pub http_secret: &'a str,
    /// The htpasswd file of its users ([`htpasswd`]).
    pub htpasswd: &'a Path,
    /// Its certificate and key, when it speaks TLS.
    pub tls: Option<&'a crate::tls::TlsFiles>,
}

/// The registry's config. It is JSON, which is also YAML (the format the
/// registry reads), so no value ever needs YAML quoting rules. Every request
/// needs a user of the htpasswd file (HTTP basic auth).
pub(crate) fn registry_config(s: &RegistrySettings<'_>) -> String {
    let mut http = json!({ "addr": s.addr.to_string(), "secret": s.http_secret });
    if let Some(tls) = s.tls {
        http["tls"] =
            json!({ "certificate": tls.certificate.display().to_string(), "key": tls.key.display().to_string() });
    }
    let config = json!({
        "version": "0.1",
        "log": { "level": "info" },
        "storage": {
            "filesystem": { "rootdirectory": s.storage.display().to_string() },
            "delete": { "enabled": true },
        },
        "http": http,
        "auth": { "htpasswd": { "realm": "codeb", "path": s.htpasswd.display().to_string() } },
    });
    format!("{config:#}\n")
}

/// The htpasswd line of `user` with `password`, bcrypt at cost 5 (as
/// `htpasswd -B` makes it: the registry checks it on every request).
pub(crate) fn htpasswd(user: &str, password: &ApiKey) -> Result<String> {
    let hash = bcrypt::hash(password.expose(), 5)
        .map_err(|e| Error::internal(format!("cannot hash the registry's password: {e}")))?;
    Ok(format!("{user}:{hash}\n"))
}

/// The podman CLI's auth file (`--authfile`) for `registry`, with basic-auth `credentials` (base64 of `user:password`).
pub(crate) fn podman_auth(registry: SocketAddr, credentials: &str) -> String {
    format!("{}\n", json!({ "auths": { registry.to_string(): { "auth": credentials } } }))
}

/// `s` as a TOML basic string, quoted and escaped.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn containers_conf_sets_runc_at_its_path_and_the_ulimits() {
        let text = containers_conf(Path::new("/usr/sbin/runc"));
        assert!(text.contains("default_ulimits = [\"nofile=1024:1024\", \"nproc=1000:1000\"]\n"), "{text}");
        assert!(text.contains("[engine]\nruntime = \"runc\"\n"), "{text}");
        assert!(text.contains("[engine.runtimes]\nrunc = [\"/usr/sbin/runc\"]\n"), "{text}");
    }

    #[test]
    fn toml_strings_escape_quotes_backslashes_and_control_characters() {
        assert_eq!(toml_string(r#"/a "b"\c"#), r#""/a \"b\"\\c""#);
        assert_eq!(toml_string("x\ny"), "\"x\\u000Ay\"");
    }

    #[test]
    fn registries_conf_marks_the_registry_insecure_by_address_and_localhost() {
        let text = registries_conf(addr(5123), false);
        assert!(text.contains("[[registry]]\nlocation = \"127.0.0.1:5123\"\ninsecure = true\n"), "{text}");
        assert!(text.contains("[[registry]]\nlocation = \"localhost:5123\"\ninsecure = true\n"), "{text}");
        assert!(text.contains("unqualified-search-registries = []\n"), "{text}");
    }

    #[test]
    fn caddy_config_has_only_an_admin_listener_and_no_apps() {
        let config: serde_json::Value = serde_json::from_str(&caddy_json(addr(2999))).unwrap();
        assert_eq!(config, json!({ "admin": { "listen": "127.0.0.1:2999", "config": { "persist": false } } }));
    }

    #[test]
    fn pdns_conf_listens_on_loopback_with_the_api_key() {
        let key = ApiKey::from_recorded("k3y".to_owned());
        let text = pdns_conf(&PdnsSettings {
            database: Path::new("/d/pdns/pdns.sqlite3"),
            dns: addr(5301),
            api: addr(5302),
            api_key: &key,
            socket_dir: Path::new("/d/pdns"),
        });
        for line in [
            "launch=gsqlite3",
            "gsqlite3-database=/d/pdns/pdns.sqlite3",
            "local-address=127.0.0.1",
            "local-port=5301",
            "api=yes",
            "api-key=k3y",
            "webserver=yes",
            "webserver-address=127.0.0.1",
            "webserver-port=5302",
            "webserver-allow-from=127.0.0.0/8",
            "socket-dir=/d/pdns",
            "security-poll-suffix=",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
    }

    #[test]
    fn registry_config_stores_under_the_dir_and_listens_on_loopback() {
        let settings = RegistrySettings {
            storage: Path::new("/d/registry/data"),
            addr: addr(5000),
            http_secret: "s",
            htpasswd: Path::new("/d/registry/htpasswd"),
            tls: None,
        };
        let config: serde_json::Value = serde_json::from_str(&registry_config(&settings)).unwrap();
        assert_eq!(config["storage"]["filesystem"]["rootdirectory"], "/d/registry/data");
        assert_eq!(config["http"]["addr"], "127.0.0.1:5000");
        assert_eq!(config["http"].get("tls"), None, "plain HTTP on loopback");
        assert_eq!(config["version"], "0.1");
        assert_eq!(config["auth"]["htpasswd"]["path"], "/d/registry/htpasswd", "every request needs a user");
    }

    #[test]
    fn a_registry_over_tls_serves_its_certificate_and_is_never_marked_insecure() {
        let tls = crate::tls::TlsFiles { certificate: "/d/tls/server.crt".into(), key: "/d/tls/server.key".into() };
        let at = SocketAddr::from(([10, 231, 7, 2], 5000));
        let settings = RegistrySettings {
            storage: Path::new("/d/registry/data"),
            addr: at,
            http_secret: "s",
            htpasswd: Path::new("/d/registry/htpasswd"),
            tls: Some(&tls),
        };
        let config: serde_json::Value = serde_json::from_str(&registry_config(&settings)).unwrap();
        assert_eq!(config["http"]["addr"], "10.231.7.2:5000");
        assert_eq!(config["http"]["tls"], json!({ "certificate": "/d/tls/server.crt", "key": "/d/tls/server.key" }));
        let conf = registries_conf(at, true);
        assert!(!conf.contains("insecure") && !conf.contains("10.231.7.2"), "Podman verifies it: {conf}");
    }

    #[test]
    fn the_htpasswd_line_is_the_user_and_a_bcrypt_hash_of_the_password() {
        let password = ApiKey::from_recorded("p4ss".to_owned());
        let line = htpasswd("codeb", &password).unwrap();
        let hash = line.trim_end().strip_prefix("codeb:").unwrap();
        assert!(bcrypt::verify("p4ss", hash).unwrap() && !line.contains("p4ss"), "{line}");
    }
}
