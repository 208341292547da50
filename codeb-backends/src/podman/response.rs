//! Pure mapping of API answers to codeb's runtime types.

use std::net::{IpAddr, Ipv4Addr};

use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary, ContainerSummaryStateEnum, PortMap, Volume,
};
use codeb::model::{ContainerName, ImageRef, Port, VolumeName};
use codeb::runtime::{ContainerInfo, ContainerState, Labels, PortBinding, VolumeInfo};
use codeb::{Error, Result};

/// An answer that breaks what codeb relies on (a name or reference it cannot parse).
fn unexpected(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::internal(format!("the Podman API returned {what} codeb cannot use: {detail}"))
        .with_context("backend", "podman")
}

/// The state of an inspected container.
pub(crate) fn inspect_state(status: Option<ContainerStateStatusEnum>, exit_code: Option<i64>) -> ContainerState {
    use ContainerStateStatusEnum as S;
    match status {
        Some(S::CREATED) => ContainerState::Created,
        Some(S::RUNNING) => ContainerState::Running,
        Some(S::EXITED | S::DEAD) => ContainerState::Exited { code: exit_code },
        _ => ContainerState::Other,
    }
}

/// The state of a listed container (a list reports no exit code).
pub(crate) fn summary_state(state: Option<ContainerSummaryStateEnum>) -> ContainerState {
    use ContainerSummaryStateEnum as S;
    match state {
        Some(S::CREATED) => ContainerState::Created,
        Some(S::RUNNING) => ContainerState::Running,
        Some(S::EXITED | S::DEAD) => ContainerState::Exited { code: None },
        _ => ContainerState::Other,
    }
}

/// The published ports of a port map (`{"8080/tcp": [{"HostIp": .., "HostPort": ..}]}`), ordered.
pub(crate) fn ports_from_map(map: Option<&PortMap>) -> Result<Vec<PortBinding>> {
    let mut ports = Vec::new();
    for (key, bindings) in map.into_iter().flatten() {
        let Some(container_port) = key.strip_suffix("/tcp") else { continue };
        let container_port = parse_port(container_port)?;
        for binding in bindings.iter().flatten() {
            let Some(host_port) = binding.host_port.as_deref().filter(|p| !p.is_empty()) else { continue };
            ports.push(PortBinding {
                host_ip: parse_ip(binding.host_ip.as_deref())?,
                host_port: parse_port(host_port)?,
                container_port,
            });
        }
    }
    ports.sort_by_key(|p| (p.container_port, p.host_port, p.host_ip));
    Ok(ports)
}

fn parse_port(text: &str) -> Result<Port> {
    text.parse::<u16>().ok().and_then(|n| Port::new(n).ok()).ok_or_else(|| unexpected("a port", text))
}

/// A host address; Podman reports "all addresses" as an empty string.
fn parse_ip(text: Option<&str>) -> Result<IpAddr> {
    match text {
        None | Some("") => Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        Some(text) => text.parse().map_err(|_| unexpected("a host address", text)),
    }
}

fn labels_of(labels: Option<std::collections::HashMap<String, String>>) -> Labels {
    labels.unwrap_or_default().into_iter().collect()
}

fn name_of(name: &str) -> Result<ContainerName> {
    ContainerName::parse(name.trim_start_matches('/')).map_err(|e| unexpected("a container name", e))
}

pub(crate) fn image_of(image: &str) -> Result<ImageRef> {
    ImageRef::parse(image).map_err(|e| unexpected("an image reference", e))
}

/// A container as `inspect` describes it.
pub(crate) fn container_info(inspect: ContainerInspectResponse) -> Result<ContainerInfo> {
    let config = inspect.config.unwrap_or_default();
    let state = inspect.state.unwrap_or_default();
    let host_config = inspect.host_config.unwrap_or_default();
    Ok(ContainerInfo {
        name: name_of(inspect.name.as_deref().unwrap_or_default())?,
        id: inspect.id.unwrap_or_default(),
        image: image_of(config.image.as_deref().unwrap_or_default())?,
        state: inspect_state(state.status, state.exit_code),
        labels: labels_of(config.labels),
        ports: ports_from_map(host_config.port_bindings.as_ref())?,
    })
}

/// A container as `list` describes it.
pub(crate) fn summary_info(summary: ContainerSummary) -> Result<ContainerInfo> {
    let name = summary.names.as_ref().and_then(|names| names.first()).map(String::as_str).unwrap_or_default();
    let mut ports = Vec::new();
    for port in summary.ports.iter().flatten() {
        let Some(host_port) = port.public_port else { continue };
        ports.push(PortBinding {
            host_ip: parse_ip(port.ip.as_deref())?,
            host_port: parse_port(&host_port.to_string())?,
            container_port: parse_port(&port.private_port.to_string())?,
        });
    }
    ports.sort_by_key(|p| (p.container_port, p.host_port, p.host_ip));
    Ok(ContainerInfo {
        name: name_of(name)?,
        id: summary.id.unwrap_or_default(),
        image: image_of(summary.image.as_deref().unwrap_or_default())?,
        state: summary_state(summary.state),
        labels: labels_of(summary.labels),
        ports,
    })
}

/// A volume as the API describes it.
pub(crate) fn volume_info(volume: Volume) -> Result<VolumeInfo> {
    Ok(VolumeInfo {
        name: VolumeName::parse(&volume.name).map_err(|e| unexpected("a volume name", e))?,
        labels: volume.labels.into_iter().collect(),
    })
}

/// Rewrites Podman's transient `stopped` state, which bollard cannot decode, as `exited`.
///
/// Podman reports `stopped` for a moment after a container's process ends and
/// before its cleanup runs; for codeb both mean the container is not running.
/// Works on an inspect answer (`State.Status`) and on each entry of a list (`State`).
pub(crate) fn rewrite_stopped(value: &mut serde_json::Value) {
    fn fix(state: &mut serde_json::Value) {
        if state.as_str() == Some("stopped") {
            *state = serde_json::Value::from("exited");
        }
    }
    match value {
        serde_json::Value::Array(entries) => {
            for entry in entries {
                if let Some(state) = entry.get_mut("State") {
                    fix(state);
                }
            }
        }
        serde_json::Value::Object(object) => {
            if let Some(status) = object.get_mut("State").and_then(|s| s.get_mut("Status")) {
                fix(status);
            }
        }
        _ => {}
    }
}

/// The digest a push's status line names (`v1: digest: sha256:... size: 574`, Docker's words, which Podman's compatible push keeps).
pub(crate) fn pushed_digest(status: &str) -> Option<String> {
    let digest = status.split_once("digest: ")?.1.split_whitespace().next()?;
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| digest.to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::Ipv6Addr;

    use bollard::models::PortBinding as ApiPortBinding;
    use serde_json::json;

    use super::*;

    #[test]
    fn states_map_to_codeb_states() {
        use ContainerStateStatusEnum as S;
        assert_eq!(inspect_state(Some(S::CREATED), Some(0)), ContainerState::Created);
        assert_eq!(inspect_state(Some(S::RUNNING), Some(0)), ContainerState::Running);
        assert_eq!(inspect_state(Some(S::EXITED), Some(137)), ContainerState::Exited { code: Some(137) });
        assert_eq!(inspect_state(Some(S::DEAD), None), ContainerState::Exited { code: None });
        for other in [S::PAUSED, S::RESTARTING, S::REMOVING, S::STOPPING, S::EMPTY] {
            assert_eq!(inspect_state(Some(other), Some(0)), ContainerState::Other);
        }
        assert_eq!(inspect_state(None, None), ContainerState::Other);
        assert_eq!(summary_state(Some(ContainerSummaryStateEnum::EXITED)), ContainerState::Exited { code: None });
        assert_eq!(summary_state(Some(ContainerSummaryStateEnum::RUNNING)), ContainerState::Running);
    }

    #[test]
    fn port_maps_become_sorted_bindings_and_skip_unpublished_ports() {
        let map: PortMap = HashMap::from([
            (
                "8080/tcp".to_owned(),
                Some(vec![
                    ApiPortBinding { host_ip: Some("::1".into()), host_port: Some("3000".into()) },
                    ApiPortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some("3000".into()) },
                ]),
            ),
            ("9090/tcp".to_owned(), None),
            ("53/udp".to_owned(), Some(vec![ApiPortBinding { host_ip: None, host_port: Some("53".into()) }])),
            (
                "7070/tcp".to_owned(),
                Some(vec![ApiPortBinding { host_ip: Some(String::new()), host_port: Some("4000".into()) }]),
            ),
        ]);
        let ports = ports_from_map(Some(&map)).unwrap();
        let p = |n| Port::new(n).unwrap();
        assert_eq!(
            ports,
            [
                PortBinding { host_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED), host_port: p(4000), container_port: p(7070) },
                PortBinding { host_ip: IpAddr::V4(Ipv4Addr::LOCALHOST), host_port: p(3000), container_port: p(8080) },
                PortBinding { host_ip: IpAddr::V6(Ipv6Addr::LOCALHOST), host_port: p(3000), container_port: p(8080) },
            ]
        );
        let bad: PortMap = HashMap::from([("x/tcp".to_owned(), None)]);
        assert_eq!(ports_from_map(Some(&bad)).unwrap_err().kind(), codeb::ErrorKind::Internal);
    }

    #[test]
    fn an_inspect_answer_becomes_container_info() {
        let answer = json!({
            "Id": "abc123",
            "Name": "/codeb-shop-web",
            "State": {"Status": "exited", "ExitCode": 3, "Running": false},
            "Config": {"Image": "localhost/shop:v1", "Labels": {"io.codeb.managed": "true"}},
            "HostConfig": {"PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "3000"}]}}
        });
        let inspect: ContainerInspectResponse = serde_json::from_value(answer).unwrap();
        let info = container_info(inspect).unwrap();
        assert_eq!(info.name.as_str(), "codeb-shop-web");
        assert_eq!(info.id, "abc123");
        assert_eq!(info.image.as_str(), "localhost/shop:v1");
        assert_eq!(info.state, ContainerState::Exited { code: Some(3) });
        assert_eq!(info.labels["io.codeb.managed"], "true");
        assert_eq!(info.ports.len(), 1);
        assert_eq!(info.ports[0].host_port.get(), 3000);
    }

    #[test]
    fn a_list_entry_becomes_container_info() {
        let entry = json!({
            "Id": "abc123", "Names": ["/codeb-shop-web"], "Image": "localhost/shop:v1", "State": "running",
            "Labels": {"io.codeb.managed": "true"},
            "Ports": [{"IP": "127.0.0.1", "PrivatePort": 8080, "PublicPort": 3000, "Type": "tcp"}, {"PrivatePort": 9000, "Type": "tcp"}]
        });
        let info = summary_info(serde_json::from_value(entry).unwrap()).unwrap();
        assert_eq!(info.name.as_str(), "codeb-shop-web");
        assert_eq!(info.state, ContainerState::Running);
        assert_eq!(info.ports.len(), 1, "an unpublished port is not a binding");
        assert_eq!((info.ports[0].host_port.get(), info.ports[0].container_port.get()), (3000, 8080));
    }

    #[test]
    fn the_transient_stopped_state_decodes_as_exited() {
        let mut inspect =
            json!({"Id": "a", "Name": "/c", "State": {"Status": "stopped", "ExitCode": 3}, "Config": {"Image": "i:1"}});
        assert!(
            serde_json::from_value::<ContainerInspectResponse>(inspect.clone()).is_err(),
            "bollard refuses `stopped`"
        );
        rewrite_stopped(&mut inspect);
        let info = container_info(serde_json::from_value(inspect).unwrap()).unwrap();
        assert_eq!(info.state, ContainerState::Exited { code: Some(3) });

        let mut list = json!([{"Id": "a", "Names": ["/c"], "Image": "i:1", "State": "stopped"}, {"Id": "b", "Names": ["/d"], "Image": "i:1", "State": "running"}]);
        rewrite_stopped(&mut list);
        let entries: Vec<ContainerSummary> = serde_json::from_value(list).unwrap();
        let states: Vec<_> = entries.into_iter().map(|s| summary_info(s).unwrap().state).collect();
        assert_eq!(states, [ContainerState::Exited { code: None }, ContainerState::Running]);
    }

    #[test]
    fn volumes_keep_their_labels() {
        let volume: Volume = serde_json::from_value(json!({
            "Name": "codeb-shop-pg", "Driver": "local", "Mountpoint": "/x", "Labels": {"io.codeb.protected": "true"}, "Options": {}, "Scope": "local"
        }))
        .unwrap();
        let info = volume_info(volume).unwrap();
        assert!(info.is_protected());
        assert_eq!(info.name.as_str(), "codeb-shop-pg");
    }

    #[test]
    fn a_push_names_its_digest_in_one_status_line() {
        let hex = "475721f1389256a2e4739c7cc0b99d67e8bff1bb06f38a4659b796ba69c7f5d2";
        assert_eq!(pushed_digest(&format!("x3: digest: sha256:{hex} size: 574")), Some(format!("sha256:{hex}")));
        assert_eq!(pushed_digest("The push refers to repository [127.0.0.1:5000/shop:v1]"), None);
        assert_eq!(pushed_digest("x3: digest: sha256:abc size: 1"), None, "not a whole sha256");
    }
}
