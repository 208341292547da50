//! Support for the workspace-level tests: the test environment (the local
//! stack, the test images and the variables that point the live tests at
//! them), run by `scripts/test` through the `codeb-testenv` binary, and the
//! clearing away of what killed test runs left in Podman; and the load that
//! counts failed requests while deploys run (`load`, `cutover`: issue 15);
//! a fleet in network namespaces with its platform file (`fleet_site`); and
//! each change of a run timed from the executor's events (`timing`).
#![deny(missing_docs)]

pub mod cutover;
pub mod fleet_site;
pub mod load;
pub mod reap;
pub mod testenv;
pub mod timing;
