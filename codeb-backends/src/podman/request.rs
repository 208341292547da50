//! Pure builders of the API requests: validated codeb specs in, bollard request values out.
//!
//! Nothing here talks to Podman, so every body is tested without a service;
//! [`super::PodmanRuntime`] only sends what these return.

use std::collections::HashMap;
use std::path::Component;
use std::time::Duration;

use bollard::auth::DockerCredentials;
use bollard::exec::CreateExecOptions;
use bollard::models::{
    ContainerCreateBody, HostConfig, Mount, MountType, PortBinding as ApiPortBinding, ResourcesUlimits,
};
use bollard::query_parameters::{BuildImageOptions, CreateImageOptions, LogsOptions, StopContainerOptions};
use codeb::model::ImageRef;
use codeb::runtime::{BuildSpec, ContainerSpec, ExecSpec, LABEL_MANAGED, LabelFilter, VolumeMount};

use super::config::RegistryLogin;
use codeb::{Error, Result};

use super::config::Ulimit;

/// The key Podman's API uses for a TCP container port (`8080/tcp`).
pub(crate) fn port_key(port: u16) -> String {
    format!("{port}/tcp")
}

/// The create request for `spec`, with `ulimits` applied: for a spec without
/// secret files or secret variables (those go through [`super::libpod`]).
///
/// Env values are exposed here and only here: they go into the request body and nowhere else.
pub(crate) fn create_body(spec: &ContainerSpec, ulimits: &[Ulimit]) -> Result<ContainerCreateBody> {
    let mut port_bindings: HashMap<String, Option<Vec<ApiPortBinding>>> = HashMap::new();
    for binding in &spec.ports {
        let api = ApiPortBinding {
            host_ip: Some(binding.host_ip.to_string()),
            host_port: Some(binding.host_port.get().to_string()),
        };
        port_bindings
            .entry(port_key(binding.container_port.get()))
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_default()
            .push(api);
    }
    let mut exposed_ports: Vec<String> = port_bindings.keys().cloned().collect();
    exposed_ports.sort();

    let mut mounts = Vec::with_capacity(spec.volumes.len());
    for mount in &spec.volumes {
        mounts.push(Mount {
            typ: Some(MountType::VOLUME),
            source: Some(mount.volume.to_string()),
            target: Some(mount_target(spec, mount)?),
            ..Default::default()
        });
    }

    let memory = spec
        .resources
        .memory_bytes
        .map(|bytes| {
            i64::try_from(bytes).map_err(|_| {
                Error::invalid(format!("a memory limit of {bytes} bytes is too large"))
                    .with_context("backend", "podman")
                    .with_context("container", &spec.name)
            })
        })
        .transpose()?;
    let nano_cpus = spec.resources.cpu_millis.map(|millis| i64::from(millis) * 1_000_000);

    let host_config = HostConfig {
        port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
        mounts: (!mounts.is_empty()).then_some(mounts),
        memory,
        nano_cpus,
        init: Some(spec.init),
        ulimits: (!ulimits.is_empty()).then(|| {
            ulimits
                .iter()
                .map(|u| ResourcesUlimits { name: Some(u.name.clone()), soft: Some(u.soft), hard: Some(u.hard) })
                .collect()
        }),
        network_mode: spec.network.as_ref().map(ToString::to_string),
        ..Default::default()
    };

    Ok(ContainerCreateBody {
        image: Some(spec.image.to_string()),
        cmd: spec.command.clone(),
        env: (!spec.env.is_empty())
            .then(|| spec.env.iter().map(|var| format!("{}={}", var.key, var.value.expose())).collect()),
        labels: Some(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        exposed_ports: (!exposed_ports.is_empty()).then_some(exposed_ports),
        host_config: Some(host_config),
        ..Default::default()
    })
}

/// The request that creates the exec session of `spec`: its argv and env,
/// its output attached (the session ends with the command; the exit code is
/// read afterwards).
pub(crate) fn exec_options(spec: &ExecSpec) -> CreateExecOptions<String> {
    CreateExecOptions {
        cmd: Some(spec.argv.clone()),
        env: (!spec.env.is_empty())
            .then(|| spec.env.iter().map(|var| format!("{}={}", var.key, var.value.expose())).collect()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    }
}

/// The body that starts an exec session attached, without a terminal.
pub(crate) const EXEC_START: &str = r#"{"Detach":false,"Tty":false}"#;

/// Where `mount` goes in the container of `spec`: an absolute path, else `Invalid`.
pub(crate) fn mount_target(spec: &ContainerSpec, mount: &VolumeMount) -> Result<String> {
    if !mount.target.starts_with('/') || mount.target.contains('\0') {
        return Err(Error::invalid(format!("volume {} must be mounted at an absolute path", mount.volume))
            .with_context("backend", "podman")
            .with_context("container", &spec.name));
    }
    Ok(mount.target.clone())
}

/// The env values and secret files of `spec`, to be masked in any error about its create request.
pub(crate) fn secrets_of(spec: &ContainerSpec) -> Vec<&str> {
    let files = spec.secret_files.iter().map(|file| file.value.expose());
    spec.env.iter().map(|var| var.value.expose()).chain(files).filter(|v| !v.is_empty()).collect()
}

/// The API's label filter for `filter`, always narrowed to codeb's own objects.
///
/// Listing never returns an object without `io.codeb.managed=true`, whatever
/// the caller asks for: cleanup built on a list cannot touch anything else.
pub(crate) fn label_filters(filter: &LabelFilter) -> HashMap<String, Vec<String>> {
    let mut labels: Vec<String> = vec![format!("{LABEL_MANAGED}=true")];
    labels.extend(filter.iter().filter(|(k, _)| k.as_str() != LABEL_MANAGED).map(|(k, v)| format!("{k}={v}")));
    if let Some(v) = filter.get(LABEL_MANAGED).filter(|v| v.as_str() != "true") {
        // A caller asking for another value gets nothing (both labels would have to hold).
        labels.push(format!("{LABEL_MANAGED}={v}"));
    }
    HashMap::from([("label".to_owned(), labels)])
}

/// Whether `labels` carry every pair of `filter` and codeb's managed label.
///
/// Applied to every list answer too, so a service that ignored a filter still returns only matches.
pub(crate) fn is_listed(labels: &codeb::runtime::Labels, filter: &LabelFilter) -> bool {
    labels.get(LABEL_MANAGED).is_some_and(|v| v == "true") && filter.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Whether `image` is pulled even when a copy is present: a registry's tag may
/// have been re-pushed since, as Kamal assumes. A digest names fixed content,
/// and a `localhost/` image lives only in local storage (codeb's builds).
pub(crate) fn pulls_when_present(image: &ImageRef) -> bool {
    image.digest().is_none() && image.registry() != Some("localhost")
}

/// The pull request for `image`: the reference as written, `latest` when it names no tag or digest.
pub(crate) fn pull_options(image: &ImageRef) -> CreateImageOptions {
    let tag = (image.tag().is_none() && image.digest().is_none()).then(|| "latest".to_owned());
    CreateImageOptions { from_image: Some(image.to_string()), tag, ..Default::default() }
}

/// The credentials for pulling `image`, sent base64-encoded in the `X-Registry-Auth` header.
pub(crate) fn credentials(login: &RegistryLogin) -> DockerCredentials {
    DockerCredentials {
        username: Some(login.username.clone()),
        password: Some(login.password.expose().to_owned()),
        serveraddress: Some(login.registry.clone()),
        ..Default::default()
    }
}

/// The Containerfile of `spec` as a path inside the context, refused if it could leave it.
pub(crate) fn containerfile(spec: &BuildSpec) -> Result<String> {
    let path = spec.containerfile();
    let inside = !path.as_os_str().is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)));
    let text = path.to_str().filter(|_| inside).ok_or_else(|| {
        Error::invalid(format!("the Containerfile {} must be a relative path inside the context", path.display()))
            .with_context("backend", "podman")
            .with_context("image", &spec.tag)
    })?;
    Ok(text.to_owned())
}

/// The build request for `spec` (the context itself is the request body).
pub(crate) fn build_options(spec: &BuildSpec) -> Result<BuildImageOptions> {
    Ok(BuildImageOptions {
        dockerfile: containerfile(spec)?,
        t: Some(spec.tag.to_string()),
        labels: (!spec.labels.is_empty()).then(|| spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        rm: true,
        forcerm: true,
        ..Default::default()
    })
}

/// The stop request: `grace` as whole seconds, rounded up so a grace is never cut short.
pub(crate) fn stop_options(grace: Duration) -> StopContainerOptions {
    let secs = grace.as_secs().saturating_add(u64::from(grace.subsec_nanos() > 0));
    StopContainerOptions { t: Some(i32::try_from(secs).unwrap_or(i32::MAX)), signal: None }
}

/// The logs request for the last `tail` lines of stdout and stderr.
pub(crate) fn logs_options(tail: usize) -> LogsOptions {
    LogsOptions { stdout: true, stderr: true, tail: tail.to_string(), ..Default::default() }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use std::path::PathBuf;

    use codeb::ErrorKind;
    use codeb::model::{
        ContainerName, EnvKey, EnvValue, EnvVar, Environment, NetworkName, Port, ProjectName, Service, VolumeName,
    };
    use codeb::runtime::{PortBinding, Resources, VolumeMount, managed_labels};

    use super::*;

    fn spec() -> ContainerSpec {
        ContainerSpec {
            name: ContainerName::parse("codeb-shop-web").unwrap(),
            image: ImageRef::parse("localhost/shop:v1").unwrap(),
            command: None,
            env: Vec::new(),
            labels: managed_labels(&ProjectName::parse("shop").unwrap(), &Environment::Staging, Service::App, None),
            ports: Vec::new(),
            volumes: Vec::new(),
            network: None,
            resources: Resources::default(),
            init: false,
            secret_files: Vec::new(),
        }
    }

    fn binding(ip: IpAddr, host: u16, container: u16) -> PortBinding {
        PortBinding { host_ip: ip, host_port: Port::new(host).unwrap(), container_port: Port::new(container).unwrap() }
    }

    #[test]
    fn the_create_body_carries_image_command_labels_init_and_ulimits() {
        let mut spec = spec();
        spec.command = Some(vec!["sh".into(), "-c".into(), "echo hi; sleep 9".into()]);
        spec.init = true;
        let body =
            create_body(&spec, &[Ulimit::new("nofile", 1024), Ulimit { name: "nproc".into(), soft: 500, hard: 1000 }])
                .unwrap();
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["Image"], "localhost/shop:v1");
        assert_eq!(json["Cmd"], serde_json::json!(["sh", "-c", "echo hi; sleep 9"]));
        assert_eq!(json["Labels"]["io.codeb.managed"], "true");
        assert_eq!(json["Labels"]["io.codeb.project"], "shop");
        assert_eq!(json["HostConfig"]["Init"], true);
        assert_eq!(
            json["HostConfig"]["Ulimits"],
            serde_json::json!([{"Name": "nofile", "Soft": 1024, "Hard": 1024}, {"Name": "nproc", "Soft": 500, "Hard": 1000}])
        );
        assert!(json.get("Env").is_none(), "no env means no Env field");
        assert!(json["HostConfig"].get("PortBindings").is_none());
    }

    #[test]
    fn ports_are_published_on_each_bindings_own_host_address() {
        let mut spec = spec();
        spec.ports = vec![
            binding(IpAddr::V4(Ipv4Addr::LOCALHOST), 3000, 8080),
            binding(IpAddr::V6(Ipv6Addr::LOCALHOST), 3000, 8080),
            binding(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)), 3001, 9090),
        ];
        let json = serde_json::to_value(create_body(&spec, &[]).unwrap()).unwrap();
        assert_eq!(
            json["HostConfig"]["PortBindings"]["8080/tcp"],
            serde_json::json!([{"HostIp": "127.0.0.1", "HostPort": "3000"}, {"HostIp": "::1", "HostPort": "3000"}])
        );
        assert_eq!(
            json["HostConfig"]["PortBindings"]["9090/tcp"],
            serde_json::json!([{"HostIp": "10.0.0.5", "HostPort": "3001"}])
        );
        assert_eq!(json["ExposedPorts"], serde_json::json!({"8080/tcp": {}, "9090/tcp": {}}));
    }

    #[test]
    fn resources_become_memory_bytes_and_nano_cpus() {
        let mut spec = spec();
        spec.resources = Resources { memory_bytes: Some(512 * 1024 * 1024), cpu_millis: Some(1500) };
        let json = serde_json::to_value(create_body(&spec, &[]).unwrap()).unwrap();
        assert_eq!(json["HostConfig"]["Memory"], 536_870_912);
        assert_eq!(json["HostConfig"]["NanoCpus"], 1_500_000_000_i64);
        spec.resources.memory_bytes = Some(u64::MAX);
        assert_eq!(create_body(&spec, &[]).unwrap_err().kind(), ErrorKind::Invalid);
    }

    #[test]
    fn env_volumes_and_network_are_in_the_body() {
        let mut spec = spec();
        spec.env = vec![
            EnvVar::plain(EnvKey::parse("DATABASE_URL").unwrap(), EnvValue::parse("postgres://u:p@db/x").unwrap()),
            EnvVar::plain(EnvKey::parse("MODE").unwrap(), EnvValue::parse("a b=c").unwrap()),
        ];
        spec.volumes =
            vec![VolumeMount { volume: VolumeName::parse("codeb-shop-pg").unwrap(), target: "/var/lib/pg".into() }];
        spec.network = Some(NetworkName::parse("codeb-shop").unwrap());
        let body = create_body(&spec, &[]).unwrap();
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["Env"], serde_json::json!(["DATABASE_URL=postgres://u:p@db/x", "MODE=a b=c"]));
        assert_eq!(
            json["HostConfig"]["Mounts"],
            serde_json::json!([{"Type": "volume", "Source": "codeb-shop-pg", "Target": "/var/lib/pg"}])
        );
        assert_eq!(json["HostConfig"]["NetworkMode"], "codeb-shop");
        assert_eq!(secrets_of(&spec), ["postgres://u:p@db/x", "a b=c"]);
    }

    #[test]
    fn a_relative_or_odd_mount_target_is_invalid() {
        for target in ["var/lib/pg", "", "/a\0b"] {
            let mut spec = spec();
            spec.volumes = vec![VolumeMount { volume: VolumeName::parse("v").unwrap(), target: target.into() }];
            assert_eq!(create_body(&spec, &[]).unwrap_err().kind(), ErrorKind::Invalid, "{target:?}");
        }
    }

    #[test]
    fn list_filters_always_require_the_managed_label() {
        let empty = label_filters(&LabelFilter::new());
        assert_eq!(empty["label"], ["io.codeb.managed=true"]);
        let filter = managed_labels(&ProjectName::parse("shop").unwrap(), &Environment::Production, Service::App, None);
        let mut labels = label_filters(&filter)["label"].clone();
        labels.sort();
        assert_eq!(
            labels,
            ["io.codeb.env=production", "io.codeb.managed=true", "io.codeb.project=shop", "io.codeb.service=app"]
        );
        let mut unmanaged = LabelFilter::new();
        assert!(!is_listed(&unmanaged, &LabelFilter::new()), "an unlabelled object is never listed");
        unmanaged.insert(LABEL_MANAGED.into(), "true".into());
        assert!(is_listed(&unmanaged, &LabelFilter::new()));
        assert!(!is_listed(&unmanaged, &filter));
        assert!(is_listed(&filter, &filter));
    }

    #[test]
    fn pulls_name_the_reference_and_default_to_latest() {
        let plain = pull_options(&ImageRef::parse("127.0.0.1:5000/codeb-test/httpd").unwrap());
        assert_eq!(
            (plain.from_image.as_deref(), plain.tag.as_deref()),
            (Some("127.0.0.1:5000/codeb-test/httpd"), Some("latest"))
        );
        let tagged = pull_options(&ImageRef::parse("127.0.0.1:5000/codeb-test/httpd:v1").unwrap());
        assert_eq!((tagged.from_image.as_deref(), tagged.tag), (Some("127.0.0.1:5000/codeb-test/httpd:v1"), None));
    }

    #[test]
    fn credentials_name_the_logins_registry() {
        let login = RegistryLogin {
            registry: "registry.example:5000".into(),
            username: "ci".into(),
            password: EnvValue::parse("t0ken").unwrap(),
        };
        let creds = credentials(&login);
        assert_eq!(creds.username.as_deref(), Some("ci"));
        assert_eq!(creds.password.as_deref(), Some("t0ken"));
        assert_eq!(creds.serveraddress.as_deref(), Some("registry.example:5000"));
    }

    #[test]
    fn builds_name_a_containerfile_inside_the_context() {
        let mut spec = BuildSpec {
            context: PathBuf::from("/src/shop"),
            containerfile: None,
            generated: None,
            tag: ImageRef::parse("localhost/shop:v2").unwrap(),
            labels: [("io.codeb.project".to_owned(), "shop".to_owned())].into(),
        };
        let options = build_options(&spec).unwrap();
        assert_eq!(options.dockerfile, "Containerfile");
        assert_eq!(options.t.as_deref(), Some("localhost/shop:v2"));
        assert_eq!(options.labels.unwrap()["io.codeb.project"], "shop");
        spec.containerfile = Some(PathBuf::from("docker/Dockerfile.prod"));
        assert_eq!(build_options(&spec).unwrap().dockerfile, "docker/Dockerfile.prod");
        for outside in ["../Containerfile", "/etc/passwd", "a/../../b", ""] {
            spec.containerfile = Some(PathBuf::from(outside));
            assert_eq!(build_options(&spec).unwrap_err().kind(), ErrorKind::Invalid, "{outside}");
        }
    }

    #[test]
    fn a_stop_grace_is_rounded_up_to_whole_seconds() {
        assert_eq!(stop_options(Duration::from_secs(5)).t, Some(5));
        assert_eq!(stop_options(Duration::from_millis(1500)).t, Some(2));
        assert_eq!(stop_options(Duration::ZERO).t, Some(0));
        assert_eq!(stop_options(Duration::from_secs(u64::MAX)).t, Some(i32::MAX));
    }

    #[test]
    fn logs_ask_for_both_streams_and_the_tail() {
        let options = logs_options(5);
        assert!(options.stdout && options.stderr && !options.follow);
        assert_eq!(options.tail, "5");
    }

    #[test]
    fn registry_tags_are_pulled_again_but_digests_and_local_builds_are_not() {
        let pulls = |r: &str| pulls_when_present(&ImageRef::parse(r).unwrap());
        assert!(pulls("ghcr.io/team/app:latest"));
        assert!(pulls("127.0.0.1:5000/team/app:v1"));
        assert!(pulls("postgres:16"), "Docker Hub is a registry too");
        assert!(!pulls(&format!("ghcr.io/team/app@sha256:{}", "a".repeat(64))));
        assert!(!pulls("localhost/shop:build-1795698405"));
    }
}
