//! The create request of Podman's own API (`/libpod/containers/create`),
//! for containers that get secret files or secret variables: the
//! Docker-compatible create ignores secrets, and Podman 4.3 shows a secret
//! delivered as an env var in plain in `podman inspect` and in the
//! container's OCI config, while a secret file appears in neither (only the
//! secret's name does). Secret variables become files too (see [`super::envexec`]).
//!
//! Pure: a validated spec in, the JSON body out (the secrets themselves are
//! created beforehand, see [`secret_mounts`]).

use serde_json::{Map, Value, json};

use codeb::model::EnvValue;
use codeb::runtime::ContainerSpec;
use codeb::{Error, Result};

use super::config::Ulimit;
use super::envexec::{Launch, SECRET_ENV_SUBDIR, secret_vars};
use super::request::mount_target;

/// The mode of a secret file inside the container: readable by every user,
/// since an image's entrypoint may read it after dropping root (the
/// PostgreSQL image reads `POSTGRES_PASSWORD_FILE` as `postgres`).
const SECRET_MODE: u32 = 0o444;

/// One Podman secret a container mounts as a file.
#[derive(Debug)]
pub(crate) struct SecretMount<'a> {
    /// The Podman secret: `<container>.<file>` for a secret file,
    /// `<container>.env.<VAR>` for a secret variable.
    pub(crate) name: String,
    /// Its file inside the container, relative to `/run/secrets`.
    pub(crate) target: String,
    /// What it holds.
    pub(crate) value: &'a EnvValue,
}

/// The Podman secrets the container of `spec` mounts: its secret files, then
/// its secret variables (which [`Launch`] reads into its environment).
pub(crate) fn secret_mounts(spec: &ContainerSpec) -> Vec<SecretMount<'_>> {
    let container = spec.name.as_str();
    let files = spec.secret_files.iter().map(|file| SecretMount {
        name: format!("{container}.{}", file.name),
        target: file.name.to_string(),
        value: &file.value,
    });
    let vars = secret_vars(spec).map(|var| SecretMount {
        name: format!("{container}.env.{}", var.key),
        target: format!("{SECRET_ENV_SUBDIR}/{}", var.key),
        value: &var.value,
    });
    files.chain(vars).collect()
}

/// Whether the Podman secret `name` belongs to the container `container`.
pub(crate) fn is_secret_of(name: &str, container: &str) -> bool {
    name.strip_prefix(container).is_some_and(|rest| rest.starts_with('.'))
}

/// The libpod create body for `spec`, with `ulimits` applied, each of its
/// [`secret_mounts`] mounted, and run as `launch` says (which a spec with
/// secret variables needs: they are not in the body's env).
///
/// Plain env values are exposed here: they go into the request body and nowhere else.
pub(crate) fn create_body(spec: &ContainerSpec, ulimits: &[Ulimit], launch: Option<&Launch>) -> Result<Value> {
    let mut body = Map::new();
    body.insert("name".into(), json!(spec.name.as_str()));
    body.insert("image".into(), json!(spec.image.as_str()));
    match launch {
        Some(launch) => {
            body.insert("entrypoint".into(), json!(launch.entrypoint));
            body.insert("command".into(), json!(launch.command));
        }
        None if secret_vars(spec).next().is_some() => {
            return Err(Error::internal("a container with secret variables needs codeb-envexec to launch it")
                .with_context("backend", "podman")
                .with_context("container", &spec.name));
        }
        None => {
            if let Some(command) = &spec.command {
                body.insert("command".into(), json!(command));
            }
        }
    }
    let env: Map<String, Value> =
        spec.env.iter().filter(|var| !var.secret).map(|var| (var.key.to_string(), json!(var.value.expose()))).collect();
    body.insert("env".into(), Value::Object(env));
    body.insert("labels".into(), json!(spec.labels));
    let ports: Vec<Value> = spec
        .ports
        .iter()
        .map(|p| {
            json!({
                "host_ip": p.host_ip.to_string(),
                "host_port": p.host_port.get(),
                "container_port": p.container_port.get(),
                "protocol": "tcp",
            })
        })
        .collect();
    body.insert("portmappings".into(), json!(ports));
    let mut volumes = Vec::with_capacity(spec.volumes.len());
    for mount in &spec.volumes {
        volumes.push(json!({ "Name": mount.volume.as_str(), "Dest": mount_target(spec, mount)?, "Options": [] }));
    }
    body.insert("volumes".into(), json!(volumes));
    body.insert("netns".into(), json!({ "nsmode": "bridge" }));
    if let Some(network) = &spec.network {
        body.insert("Networks".into(), json!({ network.as_str(): {} }));
    }
    body.insert("init".into(), json!(spec.init));
    let rlimits: Vec<Value> = ulimits
        .iter()
        // Podman names the limit `RLIMIT_<NAME>` itself.
        .map(|u| json!({ "type": u.name, "soft": u.soft, "hard": u.hard }))
        .collect();
    body.insert("r_limits".into(), json!(rlimits));
    let mut limits = Map::new();
    if let Some(bytes) = spec.resources.memory_bytes {
        limits.insert("memory".into(), json!({ "limit": bytes }));
    }
    if let Some(millis) = spec.resources.cpu_millis {
        limits.insert("cpu".into(), json!({ "quota": i64::from(millis) * 100, "period": 100_000 }));
    }
    body.insert("resource_limits".into(), Value::Object(limits));
    let secrets: Vec<Value> = secret_mounts(spec)
        .into_iter()
        .map(|mount| json!({ "Source": mount.name, "Target": mount.target, "Mode": SECRET_MODE }))
        .collect();
    body.insert("secrets".into(), json!(secrets));
    Ok(Value::Object(body))
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use codeb::model::{ContainerName, EnvKey, EnvValue, EnvVar, ImageRef, NetworkName, Port, VolumeName};
    use codeb::runtime::{PortBinding, Resources, SecretFile, VolumeMount};

    use super::super::envexec::launch;

    use super::*;

    fn spec() -> ContainerSpec {
        ContainerSpec {
            name: ContainerName::parse("codeb-shop-staging-postgres").unwrap(),
            image: ImageRef::parse("localhost/pg:15").unwrap(),
            command: Some(vec!["postgres".to_owned()]),
            env: Vec::new(),
            labels: Default::default(),
            ports: vec![PortBinding {
                host_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                host_port: Port::new(15432).unwrap(),
                container_port: Port::new(5432).unwrap(),
            }],
            volumes: vec![VolumeMount {
                volume: VolumeName::parse("codeb-shop-staging-postgres-data").unwrap(),
                target: "/var/lib/postgresql/data".to_owned(),
            }],
            network: Some(NetworkName::parse("codeb-shop-staging").unwrap()),
            resources: Resources { memory_bytes: Some(1 << 20), cpu_millis: Some(1500) },
            init: true,
            secret_files: vec![SecretFile {
                name: EnvKey::parse("POSTGRES_PASSWORD").unwrap(),
                value: EnvValue::parse("s3cret").unwrap(),
            }],
        }
    }

    #[test]
    fn a_secret_file_is_mounted_by_name_and_its_value_stays_out_of_the_body() {
        let body = create_body(&spec(), &[Ulimit::new("nofile", 1024)], None).unwrap();
        assert_eq!(
            body["secrets"],
            json!([{ "Source": "codeb-shop-staging-postgres.POSTGRES_PASSWORD", "Target": "POSTGRES_PASSWORD", "Mode": 0o444 }])
        );
        assert!(!body.to_string().contains("s3cret"), "{body}");
        assert_eq!(body["portmappings"][0]["host_port"], 15432);
        assert_eq!(body["volumes"][0]["Dest"], "/var/lib/postgresql/data");
        assert_eq!(body["Networks"], json!({ "codeb-shop-staging": {} }));
        assert_eq!(body["r_limits"], json!([{ "type": "nofile", "soft": 1024, "hard": 1024 }]));
        assert_eq!(body["resource_limits"]["cpu"], json!({ "quota": 150_000, "period": 100_000 }));
        assert_eq!(body["init"], true);
        assert_eq!(body["command"], json!(["postgres"]));
        assert!(body.get("entrypoint").is_none(), "without secret variables the image's entrypoint runs");
    }

    #[test]
    fn a_secret_variable_is_a_secret_file_read_by_envexec_and_only_plain_ones_are_env() {
        let mut spec = spec();
        spec.env = vec![
            EnvVar::secret(EnvKey::parse("DATABASE_URL").unwrap(), EnvValue::parse("postgres://u:pw9@db/x").unwrap()),
            EnvVar::plain(EnvKey::parse("MODE").unwrap(), EnvValue::parse("fast").unwrap()),
        ];
        assert_eq!(create_body(&spec, &[], None).unwrap_err().kind(), codeb::ErrorKind::Internal);
        let launch = launch(&spec, &["/entry".to_owned()], &[]).unwrap().unwrap();
        let body = create_body(&spec, &[], Some(&launch)).unwrap();
        assert_eq!(body["env"], json!({ "MODE": "fast" }));
        assert_eq!(body["entrypoint"], json!(["/.codeb/envexec", "/run/secrets/codeb-env", "DATABASE_URL", "--"]));
        assert_eq!(body["command"], json!(["/entry", "postgres"]));
        assert_eq!(
            body["secrets"][1],
            json!({ "Source": "codeb-shop-staging-postgres.env.DATABASE_URL", "Target": "codeb-env/DATABASE_URL", "Mode": 0o444 })
        );
        assert!(!body.to_string().contains("pw9"), "{body}");
    }

    #[test]
    fn a_containers_secrets_are_told_apart_from_those_of_a_longer_name() {
        assert!(is_secret_of("codeb-shop-staging-postgres.POSTGRES_PASSWORD", "codeb-shop-staging-postgres"));
        assert!(!is_secret_of("codeb-shop-staging-postgres2.POSTGRES_PASSWORD", "codeb-shop-staging-postgres"));
        assert!(!is_secret_of("codeb-shop-staging-postgres", "codeb-shop-staging-postgres"));
    }
}
