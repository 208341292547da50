//! [`Faulty`]: the fault layer over every backend trait. Each call first
//! asks the layer's [`Faults`] (count it, wait out its latency, fail it if a
//! failure is planned), then goes to the wrapped backend.

use std::collections::BTreeSet;
use std::ops::Deref;
use std::sync::Arc;

use async_trait::async_trait;

use super::Faults;
use crate::Result;
use crate::dns::{Dns, RecordSet, RecordType};
use crate::engine::{HttpProbe, ProbeRequest, ProbeResponse};
use crate::model::{ContainerName, DomainName, EnvKey, EnvVar, ImageRef, NetworkName, Port, ServerName, VolumeName};
use crate::ports::{Listener, PortAllocation, PortFilter, PortKey, PortProbe, PortRanges, PortRegistry, PortReport};
use crate::proxy::{Proxy, Route, Upstreams};
use crate::runtime::{
    BuildSpec, ContainerInfo, ContainerRuntime, ContainerSpec, ExecSpec, ImageInfo, LabelFilter, LogOptions,
    NetworkSpec, RemoveContainerOptions, RemoveVolumeOptions, StopOptions, VolumeInfo, VolumeSpec,
};
use crate::secrets::{EnvSet, EnvVersion, Scope, SecretStore};
use crate::ssot::{Commit, Ssot, StateStore};

/// The operations of [`ContainerRuntime`], as fault names.
pub const RUNTIME_OPS: &[&str] = &[
    "ping",
    "ensure_image",
    "build_image",
    "push_image",
    "list_images",
    "remove_image",
    "create_container",
    "start_container",
    "stop_container",
    "remove_container",
    "inspect_container",
    "list_containers",
    "logs",
    "exec",
    "create_volume",
    "list_volumes",
    "remove_volume",
    "ensure_network",
    "remove_network",
];
/// The operations of [`Proxy`], as fault names.
pub const PROXY_OPS: &[&str] =
    &["upsert_route", "switch_upstreams", "remove_route", "get_route", "list_routes", "in_flight"];
/// The operations of [`Dns`], as fault names.
pub const DNS_OPS: &[&str] = &["ensure_zone", "upsert_records", "delete_records", "list_records"];
/// The operations of [`SecretStore`], as fault names.
pub const SECRET_OPS: &[&str] = &["set", "unset", "get", "list", "list_at"];
/// The operations of [`PortRegistry`], as fault names.
pub const PORT_OPS: &[&str] = &["allocate", "release", "list", "check"];
/// The operations of [`PortProbe`], as fault names (`taken` counts as `listeners`: it reads the same table).
pub const PROBE_OPS: &[&str] = &["listeners"];
/// The operations of [`HttpProbe`], as fault names.
pub const HTTP_OPS: &[&str] = &["get"];
/// The operations of [`StateStore`], as fault names (`read` counts as `load`).
pub const STATE_OPS: &[&str] = &["load", "update"];

/// A backend behind a fault layer: it implements the backend's trait, and
/// derefs to the backend so a fake's own controls stay at hand.
#[derive(Debug)]
pub struct Faulty<T: ?Sized> {
    faults: Faults,
    inner: Arc<T>,
}

impl<T: ?Sized> Faulty<T> {
    /// `inner` behind a layer whose operations are `ops` (one of the `*_OPS` constants), named `backend` in errors.
    pub fn new(backend: &'static str, ops: &'static [&'static str], inner: Arc<T>) -> Self {
        Faulty { faults: Faults::new(backend, ops), inner }
    }

    /// The layer's faults: plan failures and latency, read call counts.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &Arc<T> {
        &self.inner
    }
}

impl<T: ?Sized> Deref for Faulty<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

#[async_trait]
impl<T: ContainerRuntime + ?Sized> ContainerRuntime for Faulty<T> {
    async fn ensure_image(&self, image: &ImageRef) -> Result<ImageInfo> {
        self.faults.enter("ensure_image").await?;
        self.inner.ensure_image(image).await
    }

    async fn push_image(&self, image: &ImageRef, to: &ImageRef) -> Result<String> {
        self.faults.enter("push_image").await?;
        self.inner.push_image(image, to).await
    }

    async fn build_image(&self, spec: &BuildSpec) -> Result<ImageInfo> {
        self.faults.enter("build_image").await?;
        self.inner.build_image(spec).await
    }

    async fn ping(&self) -> Result<()> {
        self.faults.enter("ping").await?;
        self.inner.ping().await
    }

    async fn list_images(&self, filter: &LabelFilter) -> Result<Vec<ImageInfo>> {
        self.faults.enter("list_images").await?;
        self.inner.list_images(filter).await
    }

    async fn remove_image(&self, image: &ImageRef) -> Result<()> {
        self.faults.enter("remove_image").await?;
        self.inner.remove_image(image).await
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        self.faults.enter("create_container").await?;
        self.inner.create_container(spec).await
    }

    async fn start_container(&self, name: &ContainerName) -> Result<()> {
        self.faults.enter("start_container").await?;
        self.inner.start_container(name).await
    }

    async fn stop_container(&self, name: &ContainerName, options: StopOptions) -> Result<()> {
        self.faults.enter("stop_container").await?;
        self.inner.stop_container(name, options).await
    }

    async fn remove_container(&self, name: &ContainerName, options: RemoveContainerOptions) -> Result<()> {
        self.faults.enter("remove_container").await?;
        self.inner.remove_container(name, options).await
    }

    async fn inspect_container(&self, name: &ContainerName) -> Result<ContainerInfo> {
        self.faults.enter("inspect_container").await?;
        self.inner.inspect_container(name).await
    }

    async fn list_containers(&self, filter: &LabelFilter) -> Result<Vec<ContainerInfo>> {
        self.faults.enter("list_containers").await?;
        self.inner.list_containers(filter).await
    }

    async fn logs(&self, name: &ContainerName, options: LogOptions) -> Result<Vec<String>> {
        self.faults.enter("logs").await?;
        self.inner.logs(name, options).await
    }

    async fn exec(&self, name: &ContainerName, spec: &ExecSpec) -> Result<i64> {
        self.faults.enter("exec").await?;
        self.inner.exec(name, spec).await
    }

    async fn create_volume(&self, spec: &VolumeSpec) -> Result<VolumeInfo> {
        self.faults.enter("create_volume").await?;
        self.inner.create_volume(spec).await
    }

    async fn list_volumes(&self, filter: &LabelFilter) -> Result<Vec<VolumeInfo>> {
        self.faults.enter("list_volumes").await?;
        self.inner.list_volumes(filter).await
    }

    async fn remove_volume(&self, name: &VolumeName, options: RemoveVolumeOptions) -> Result<()> {
        self.faults.enter("remove_volume").await?;
        self.inner.remove_volume(name, options).await
    }

    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<()> {
        self.faults.enter("ensure_network").await?;
        self.inner.ensure_network(spec).await
    }

    async fn remove_network(&self, name: &NetworkName) -> Result<()> {
        self.faults.enter("remove_network").await?;
        self.inner.remove_network(name).await
    }
}

#[async_trait]
impl<T: Proxy + ?Sized> Proxy for Faulty<T> {
    async fn upsert_route(&self, route: &Route) -> Result<()> {
        self.faults.enter("upsert_route").await?;
        self.inner.upsert_route(route).await
    }

    async fn switch_upstreams(&self, host: &DomainName, upstreams: &Upstreams) -> Result<()> {
        self.faults.enter("switch_upstreams").await?;
        self.inner.switch_upstreams(host, upstreams).await
    }

    async fn remove_route(&self, host: &DomainName) -> Result<()> {
        self.faults.enter("remove_route").await?;
        self.inner.remove_route(host).await
    }

    async fn get_route(&self, host: &DomainName) -> Result<Option<Route>> {
        self.faults.enter("get_route").await?;
        self.inner.get_route(host).await
    }

    async fn list_routes(&self) -> Result<Vec<Route>> {
        self.faults.enter("list_routes").await?;
        self.inner.list_routes().await
    }

    async fn in_flight(&self, target: &DomainName, port: Port) -> Result<u64> {
        self.faults.enter("in_flight").await?;
        self.inner.in_flight(target, port).await
    }
}

#[async_trait]
impl<T: Dns + ?Sized> Dns for Faulty<T> {
    async fn ensure_zone(&self, zone: &DomainName) -> Result<()> {
        self.faults.enter("ensure_zone").await?;
        self.inner.ensure_zone(zone).await
    }

    async fn upsert_records(&self, zone: &DomainName, sets: &[RecordSet]) -> Result<()> {
        self.faults.enter("upsert_records").await?;
        self.inner.upsert_records(zone, sets).await
    }

    async fn delete_records(&self, zone: &DomainName, keys: &[(DomainName, RecordType)]) -> Result<()> {
        self.faults.enter("delete_records").await?;
        self.inner.delete_records(zone, keys).await
    }

    async fn list_records(&self, zone: &DomainName) -> Result<Vec<RecordSet>> {
        self.faults.enter("list_records").await?;
        self.inner.list_records(zone).await
    }
}

#[async_trait]
impl<T: SecretStore + ?Sized> SecretStore for Faulty<T> {
    async fn set(&self, scope: &Scope, vars: &[EnvVar]) -> Result<EnvVersion> {
        self.faults.enter("set").await?;
        self.inner.set(scope, vars).await
    }

    async fn unset(&self, scope: &Scope, keys: &[EnvKey]) -> Result<EnvVersion> {
        self.faults.enter("unset").await?;
        self.inner.unset(scope, keys).await
    }

    async fn get(&self, scope: &Scope, key: &EnvKey) -> Result<Option<EnvVar>> {
        self.faults.enter("get").await?;
        self.inner.get(scope, key).await
    }

    async fn list(&self, scope: &Scope) -> Result<EnvSet> {
        self.faults.enter("list").await?;
        self.inner.list(scope).await
    }

    async fn list_at(&self, scope: &Scope, version: EnvVersion) -> Result<EnvSet> {
        self.faults.enter("list_at").await?;
        self.inner.list_at(scope, version).await
    }
}

#[async_trait]
impl<T: PortRegistry + ?Sized> PortRegistry for Faulty<T> {
    async fn allocate(&self, key: &PortKey) -> Result<Port> {
        self.faults.enter("allocate").await?;
        self.inner.allocate(key).await
    }

    async fn release(&self, key: &PortKey) -> Result<Option<Port>> {
        self.faults.enter("release").await?;
        self.inner.release(key).await
    }

    async fn list(&self, filter: &PortFilter) -> Result<Vec<PortAllocation>> {
        self.faults.enter("list").await?;
        self.inner.list(filter).await
    }

    async fn check(&self) -> Result<PortReport> {
        self.faults.enter("check").await?;
        self.inner.check().await
    }

    fn ranges(&self) -> &PortRanges {
        self.inner.ranges()
    }
}

#[async_trait]
impl<T: PortProbe + ?Sized> PortProbe for Faulty<T> {
    async fn listeners(&self, server: &ServerName) -> Result<Vec<Listener>> {
        self.faults.enter("listeners").await?;
        self.inner.listeners(server).await
    }

    async fn taken(&self, server: &ServerName) -> Result<BTreeSet<Port>> {
        self.faults.enter("listeners").await?;
        self.inner.taken(server).await
    }
}

#[async_trait]
impl<T: HttpProbe + ?Sized> HttpProbe for Faulty<T> {
    async fn get(&self, request: &ProbeRequest) -> Result<ProbeResponse> {
        self.faults.enter("get").await?;
        self.inner.get(request).await
    }
}

impl<T: StateStore + ?Sized> StateStore for Faulty<T> {
    fn load(&self) -> Result<Ssot> {
        self.faults.enter_blocking("load")?;
        self.inner.load()
    }

    fn update(&self, mutate: &mut dyn FnMut(&mut Ssot) -> Result<()>) -> Result<Commit> {
        self.faults.enter_blocking("update")?;
        self.inner.update(mutate)
    }

    fn read(&self, inspect: &mut dyn FnMut(&Ssot) -> Result<()>) -> Result<()> {
        self.faults.enter_blocking("load")?;
        self.inner.read(inspect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::fake::FakeProxy;

    #[tokio::test]
    async fn the_layer_fails_the_planned_call_then_passes_through_to_the_backend() {
        let proxy = Faulty::new("proxy", PROXY_OPS, Arc::new(FakeProxy::new()));
        proxy.faults().fail_next("list_routes", 1, ErrorKind::Unavailable);
        let err = proxy.list_routes().await.unwrap_err();
        assert_eq!((err.kind(), err.context_value("backend")), (ErrorKind::Unavailable, Some("proxy")));
        assert!(proxy.list_routes().await.unwrap().is_empty());
        assert_eq!(proxy.faults().calls("list_routes"), 2);
        assert_eq!(proxy.changes(), 0, "the fake's own controls are reached through the layer");
    }
}
