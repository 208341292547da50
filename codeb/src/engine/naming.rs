//! The names codeb gives runtime objects, built only from validated parts.
//!
//! The parts hold only `a-z 0-9 -`, so the one rule a combination can break
//! is the 128-character limit of runtime names: a very long project name with
//! a long preview id is refused here, before anything is created.

use crate::model::{
    ContainerName, DomainName, Environment, NetworkName, ProjectName, ReleaseId, ServerName, Service, ValidationError,
    VolumeName,
};

/// The container of one release: `codeb-<project>-<env>-<release>`.
pub fn release_container(
    project: &ProjectName,
    env: &Environment,
    release: &ReleaseId,
) -> Result<ContainerName, ValidationError> {
    ContainerName::parse(&format!("codeb-{project}-{env}-{release}"))
}

/// The one-off container of a release's release command: `codeb-<project>-<env>-<release>-rc`.
///
/// Short, since Podman names the secret files of a container's secret
/// variables after it (`<container>.env.<VAR>`), in at most 64 characters.
pub fn release_command_container(
    project: &ProjectName,
    env: &Environment,
    release: &ReleaseId,
) -> Result<ContainerName, ValidationError> {
    ContainerName::parse(&format!("codeb-{project}-{env}-{release}-rc"))
}

/// The container of an accessory: `codeb-<project>-<env>-<service>`.
pub fn accessory_container(
    project: &ProjectName,
    env: &Environment,
    service: Service,
) -> Result<ContainerName, ValidationError> {
    ContainerName::parse(&format!("codeb-{project}-{env}-{service}"))
}

/// The protected data volume of an accessory: `codeb-<project>-<env>-<service>-data`.
pub fn accessory_volume(
    project: &ProjectName,
    env: &Environment,
    service: Service,
) -> Result<VolumeName, ValidationError> {
    VolumeName::parse(&format!("codeb-{project}-{env}-{service}-data"))
}

/// The network an environment's app and accessories share: `codeb-<project>-<env>`.
pub fn environment_network(project: &ProjectName, env: &Environment) -> Result<NetworkName, ValidationError> {
    NetworkName::parse(&format!("codeb-{project}-{env}"))
}

/// The name of an environment's upstream record in `zone`: `<env>.<project>.env.<zone>`.
///
/// Its SRV record names the server and port of the release that serves;
/// every route of the environment discovers its upstream from it.
pub fn upstream_name(
    project: &ProjectName,
    env: &Environment,
    zone: &DomainName,
) -> Result<DomainName, ValidationError> {
    DomainName::parse(&format!("{env}.{project}.env.{zone}"))
}

/// The name of a server in the upstream `zone`, the target of SRV records: `<server>.server.<zone>`.
pub fn server_target(server: &ServerName, zone: &DomainName) -> Result<DomainName, ValidationError> {
    DomainName::parse(&format!("{server}.server.{zone}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_combine_the_parts_and_refuse_what_is_too_long() {
        let project = ProjectName::parse("shop").unwrap();
        let release = ReleaseId::parse("v3").unwrap();
        assert_eq!(
            release_container(&project, &Environment::Staging, &release).unwrap().as_str(),
            "codeb-shop-staging-v3"
        );
        assert_eq!(
            release_command_container(&project, &Environment::Staging, &release).unwrap().as_str(),
            "codeb-shop-staging-v3-rc"
        );
        assert_eq!(
            accessory_volume(&project, &Environment::Production, Service::Postgres).unwrap().as_str(),
            "codeb-shop-production-postgres-data"
        );
        let long = ProjectName::parse(&"a".repeat(63)).unwrap();
        let long_release = ReleaseId::parse(&"v".repeat(63)).unwrap();
        let env = Environment::preview("x".repeat(20).as_str()).unwrap();
        assert!(release_container(&long, &env, &long_release).is_err());
    }

    #[test]
    fn upstream_names_keep_environments_and_servers_apart() {
        let zone = DomainName::parse("codeb.internal").unwrap();
        let project = ProjectName::parse("shop").unwrap();
        let name = upstream_name(&project, &Environment::Production, &zone).unwrap();
        assert_eq!(name.as_str(), "production.shop.env.codeb.internal");
        // A project named like a server, or `server`, still gets a name of its own.
        let server = ServerName::parse("shop").unwrap();
        assert_eq!(server_target(&server, &zone).unwrap().as_str(), "shop.server.codeb.internal");
        let odd = ProjectName::parse("server").unwrap();
        assert_ne!(
            upstream_name(&odd, &Environment::Production, &zone).unwrap(),
            server_target(&ServerName::parse("production").unwrap(), &zone).unwrap()
        );
    }
}
