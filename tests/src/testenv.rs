//! The test environment: the local stack plus the images the live tests
//! use, and the environment variables that tell each test where they are.
//!
//! `scripts/test` runs `codeb-testenv up DIR`, evaluates the `export` lines
//! it prints and runs `cargo test --workspace`; every live test then reads
//! its service from these variables through `codeb::testkit::live_env`.

use std::path::Path;

use codeb::Result;
use codeb::model::ImageRef;
use codeb_devstack::images::debian::{DataImages, DebianRootfs, NodeImage};
use codeb_devstack::images::{BusyboxImage, PodmanCli};
use codeb_devstack::{Endpoints, LocalStack, LocalStackOptions};

/// The busybox httpd image that serves "v1" at `/` on port 8080.
pub const IMAGE_V1: &str = "localhost/codeb-test/httpd:v1";
/// The same server serving "v2".
pub const IMAGE_V2: &str = "localhost/codeb-test/httpd:v2";
/// The same root filesystem, but it never listens (`sleep 3600`): a release that never becomes healthy.
pub const IMAGE_BROKEN: &str = "localhost/codeb-test/httpd:broken";
/// The PostgreSQL image made of Debian's postgresql-15 (the official image's env interface).
pub const IMAGE_POSTGRES: &str = "localhost/codeb-test/postgres:15";
/// The Redis image made of Debian's redis-server.
pub const IMAGE_REDIS: &str = "localhost/codeb-test/redis:7";
/// The Node.js base image made of Debian's nodejs and npm: what a Node app's Containerfile builds `FROM` here.
pub const IMAGE_NODE: &str = "localhost/codeb-test/node:bookworm";
/// Where v1 is pushed in the stack's registry, after `<registry>/`.
pub const REGISTRY_REPOSITORY: &str = "codeb-test/httpd:v1";

/// Starts the stack in `dir`, builds the test images and pushes v1 to the
/// stack's registry. When the images cannot be made, the stack is brought
/// down again, so a failed `up` leaves nothing running.
pub fn up(dir: &Path) -> Result<LocalStack> {
    let stack = LocalStack::up(&LocalStackOptions::new(dir))?;
    match build_images(&stack) {
        Ok(()) => Ok(stack),
        Err(e) => {
            let _ = LocalStack::down(stack.dir());
            Err(e)
        }
    }
}

/// The three busybox test images, v1 in the registry, and the PostgreSQL,
/// Redis and Node.js images (their Debian root filesystems cached outside
/// the clone, made by debootstrap when missing).
fn build_images(stack: &LocalStack) -> Result<()> {
    let podman = PodmanCli::new(&stack.endpoints().podman_socket)?;
    let scratch = stack.dir().join("images");
    let v1 = ImageRef::parse(IMAGE_V1)?;
    BusyboxImage::httpd(v1.clone(), "v1").build(&podman, &scratch)?;
    BusyboxImage::httpd(ImageRef::parse(IMAGE_V2)?, "v2").build(&podman, &scratch)?;
    BusyboxImage::httpd(ImageRef::parse(IMAGE_BROKEN)?, "broken")
        .with_cmd(["/bin/busybox", "sleep", "3600"])
        .build(&podman, &scratch)?;
    podman.push(&v1, &ImageRef::parse(&registry_image(stack.endpoints()))?, &stack.registry_auth_file())?;
    let cache = DebianRootfs::default_cache_dir()?;
    let data = DataImages { postgres: ImageRef::parse(IMAGE_POSTGRES)?, redis: ImageRef::parse(IMAGE_REDIS)? };
    data.build(&podman, &cache, &scratch)?;
    NodeImage { tag: ImageRef::parse(IMAGE_NODE)? }.build(&podman, &cache, &scratch)
}

/// `<registry>/codeb-test/httpd:v1`.
pub fn registry_image(endpoints: &Endpoints) -> String {
    format!("{}/{REGISTRY_REPOSITORY}", endpoints.registry)
}

/// Every variable the live tests read, with its value for this stack.
pub fn variables(endpoints: &Endpoints) -> Vec<(&'static str, String)> {
    vec![
        ("CODEB_TEST_PODMAN_SOCKET", endpoints.podman_socket.display().to_string()),
        ("CODEB_TEST_IMAGE_V1", IMAGE_V1.to_owned()),
        ("CODEB_TEST_IMAGE_V2", IMAGE_V2.to_owned()),
        ("CODEB_TEST_IMAGE_BROKEN", IMAGE_BROKEN.to_owned()),
        ("CODEB_TEST_POSTGRES_IMAGE", IMAGE_POSTGRES.to_owned()),
        ("CODEB_TEST_REDIS_IMAGE", IMAGE_REDIS.to_owned()),
        ("CODEB_TEST_NODE_IMAGE", IMAGE_NODE.to_owned()),
        ("CODEB_TEST_REGISTRY", endpoints.registry.to_string()),
        ("CODEB_TEST_REGISTRY_USER", codeb_devstack::REGISTRY_USER.to_owned()),
        ("CODEB_TEST_REGISTRY_PASSWORD", endpoints.registry_password.expose().to_owned()),
        ("CODEB_TEST_CADDY_ADMIN", endpoints.caddy_admin_url()),
        ("CODEB_TEST_CADDY_HTTP", endpoints.http.to_string()),
        ("CODEB_TEST_PDNS_API", endpoints.pdns_api_url()),
        ("CODEB_TEST_PDNS_API_KEY", endpoints.pdns_api_key.expose().to_owned()),
        ("CODEB_TEST_PDNS_DNS", endpoints.pdns_dns.to_string()),
    ]
}

/// `export NAME='value'` lines for a POSIX shell to evaluate.
pub fn export_lines(variables: &[(&'static str, String)]) -> String {
    variables.iter().map(|(name, value)| format!("export {name}={}\n", shell_quote(value))).collect()
}

/// `value` in single quotes, each `'` inside written as `'\''`: the shell
/// takes every other character literally.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_every_character_literal() {
        assert_eq!(shell_quote("plain"), "'plain'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$HOME `x` \"y\" \\ ;\n"), "'$HOME `x` \"y\" \\ ;\n'");
    }

    #[test]
    fn exported_values_come_back_unchanged_through_a_real_shell() {
        let hostile = "a'b \"c\" $d `e` \\ ; f\ng";
        let lines = export_lines(&[("CODEB_TEST_X", hostile.to_owned())]);
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", "eval \"$1\"; printf %s \"$CODEB_TEST_X\"", "sh", &lines])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8(out.stdout).unwrap(), hostile);
    }

    #[test]
    fn every_variable_the_live_tests_read_is_exported_with_its_endpoint() {
        let addr = |port| std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let endpoints = Endpoints {
            podman_socket: "/d/podman.sock".into(),
            caddy_admin: addr(1),
            http: addr(2),
            pdns_api: addr(3),
            pdns_api_key: codeb_devstack::ApiKey::generate().unwrap(),
            pdns_dns: addr(4),
            registry: addr(5),
            registry_tls: false,
            registry_password: codeb_devstack::ApiKey::generate().unwrap(),
        };
        let vars = variables(&endpoints);
        let get = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("CODEB_TEST_PODMAN_SOCKET"), Some("/d/podman.sock"));
        assert_eq!(get("CODEB_TEST_IMAGE_V1"), Some(IMAGE_V1));
        assert_eq!(get("CODEB_TEST_IMAGE_V2"), Some(IMAGE_V2));
        assert_eq!(get("CODEB_TEST_IMAGE_BROKEN"), Some(IMAGE_BROKEN));
        assert_eq!(get("CODEB_TEST_POSTGRES_IMAGE"), Some(IMAGE_POSTGRES));
        assert_eq!(get("CODEB_TEST_REDIS_IMAGE"), Some(IMAGE_REDIS));
        assert_eq!(get("CODEB_TEST_NODE_IMAGE"), Some(IMAGE_NODE));
        assert_eq!(get("CODEB_TEST_REGISTRY"), Some("127.0.0.1:5"));
        assert_eq!(get("CODEB_TEST_REGISTRY_USER"), Some(codeb_devstack::REGISTRY_USER));
        assert_eq!(get("CODEB_TEST_REGISTRY_PASSWORD"), Some(endpoints.registry_password.expose()));
        assert_eq!(get("CODEB_TEST_CADDY_ADMIN"), Some("http://127.0.0.1:1"));
        assert_eq!(get("CODEB_TEST_CADDY_HTTP"), Some("127.0.0.1:2"));
        assert_eq!(get("CODEB_TEST_PDNS_API"), Some("http://127.0.0.1:3"));
        assert_eq!(get("CODEB_TEST_PDNS_API_KEY"), Some(endpoints.pdns_api_key.expose()));
        assert_eq!(get("CODEB_TEST_PDNS_DNS"), Some("127.0.0.1:4"));
        assert_eq!(vars.len(), 15);
        assert_eq!(registry_image(&endpoints), "127.0.0.1:5/codeb-test/httpd:v1");
    }

    #[test]
    fn the_image_names_are_valid_references() {
        for image in [IMAGE_V1, IMAGE_V2, IMAGE_BROKEN, IMAGE_POSTGRES, IMAGE_REDIS, IMAGE_NODE] {
            ImageRef::parse(image).unwrap();
        }
    }
}
