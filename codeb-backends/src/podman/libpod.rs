//! The create request of Podman's own API (`/libpod/containers/create`),
//! for containers that get secret files: the Docker-compatible create ignores
//! secrets, and Podman 4.3 shows a secret delivered as an env var in plain in
//! `podman inspect` and in the container's OCI config, while a secret file
//! appears in neither (only the secret's name does).
//!
//! Pure: a validated spec in, the JSON body out (the secrets themselves are
//! created beforehand, see [`secret_name`]).

use serde_json::{Map, Value, json};

use codeb::Result;
use codeb::runtime::{ContainerSpec, SecretFile};

use super::config::Ulimit;
use super::request::mount_target;

/// The mode of a secret file inside the container: readable by every user,
/// since an image's entrypoint may read it after dropping root (the
/// PostgreSQL image reads `POSTGRES_PASSWORD_FILE` as `postgres`).
const SECRET_MODE: u32 = 0o444;

/// The name of the Podman secret that holds `file` of the container `container`.
pub(crate) fn secret_name(container: &str, file: &SecretFile) -> String {
    format!("{container}.{}", file.name)
}

/// Whether the Podman secret `name` belongs to the container `container`.
pub(crate) fn is_secret_of(name: &str, container: &str) -> bool {
    name.strip_prefix(container).is_some_and(|rest| rest.starts_with('.'))
}

/// The libpod create body for `spec`, with `ulimits` applied and each of its
/// secret files mounted from the Podman secret [`secret_name`] names.
///
/// Env values are exposed here: they go into the request body and nowhere else.
pub(crate) fn create_body(spec: &ContainerSpec, ulimits: &[Ulimit]) -> Result<Value> {
    let mut body = Map::new();
    body.insert("name".into(), json!(spec.name.as_str()));
    body.insert("image".into(), json!(spec.image.as_str()));
    if let Some(command) = &spec.command {
        body.insert("command".into(), json!(command));
    }
    let env: Map<String, Value> = spec.env.iter().map(|var| (var.key.to_string(), json!(var.value.expose()))).collect();
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
    let secrets: Vec<Value> = spec
        .secret_files
        .iter()
        .map(|file| {
            json!({ "Source": secret_name(spec.name.as_str(), file), "Target": file.name.as_str(), "Mode": SECRET_MODE })
        })
        .collect();
    body.insert("secrets".into(), json!(secrets));
    Ok(Value::Object(body))
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use codeb::model::{ContainerName, EnvKey, EnvValue, ImageRef, NetworkName, Port, VolumeName};
    use codeb::runtime::{PortBinding, Resources, VolumeMount};

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
        let body = create_body(&spec(), &[Ulimit::new("nofile", 1024)]).unwrap();
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
    }

    #[test]
    fn a_containers_secrets_are_told_apart_from_those_of_a_longer_name() {
        assert!(is_secret_of("codeb-shop-staging-postgres.POSTGRES_PASSWORD", "codeb-shop-staging-postgres"));
        assert!(!is_secret_of("codeb-shop-staging-postgres2.POSTGRES_PASSWORD", "codeb-shop-staging-postgres"));
        assert!(!is_secret_of("codeb-shop-staging-postgres", "codeb-shop-staging-postgres"));
    }
}
