//! Promotion: another environment runs the exact image an environment's
//! serving release runs, by its registry digest, with its own env,
//! domains and accessories, and without a build.

use crate::engine::{Accessories, DeployOptions, DeployReport, DeployRequest, Plan, Platform};
use crate::model::{Environment, ProjectName, Service};
use crate::{Error, ErrorKind, Result};

impl Platform {
    /// The deploy that promotes what `from` serves to `to`: the serving
    /// release's image by digest, its port, command, health check, resources,
    /// accessories and release command, with `to`'s own variables and domains.
    ///
    /// `Conflict` when `from` has no serving release, or when its image has
    /// no digest (built on its server, never pushed to a registry).
    pub async fn promotion(
        &self,
        project: &ProjectName,
        from: &Environment,
        to: &Environment,
    ) -> Result<DeployRequest> {
        let record = self.snapshot_environment(project, from).await?;
        let serving = record.current().ok_or_else(|| {
            Error::conflict(format!("{project}/{from} has no serving release to promote: deploy it first"))
                .with_context("environment", from)
        })?;
        if serving.image.digest().is_none() {
            return Err(Error::conflict(format!(
                "release {} of {project}/{from} runs {}, an image built on its server and never pushed to a registry, so no other environment can run that very image: add a [registry] section to the platform file, deploy {from} again, then promote",
                serving.id, serving.image
            ))
            .with_context("release", &serving.id));
        }
        let config = &serving.config;
        let port = config.container_port.ok_or_else(|| {
            Error::new(ErrorKind::Conflict, format!("release {} records no app port; deploy {from} again", serving.id))
        })?;
        let mut request = DeployRequest::new(project.clone(), to.clone(), serving.image.clone(), port);
        request.command = config.command.clone();
        request.health = config.health.clone().unwrap_or_default();
        request.resources = config.resources;
        request.accessories = Accessories {
            postgres: config.ports.contains_key(&Service::Postgres),
            redis: config.ports.contains_key(&Service::Redis),
        };
        request.release_command = config.release_command.clone();
        Ok(request)
    }

    /// What promoting `from` to `to` would change, without changing anything.
    pub async fn plan_promote(&self, project: &ProjectName, from: &Environment, to: &Environment) -> Result<Plan> {
        self.plan(&self.promotion(project, from, to).await?).await
    }

    /// Deploys to `to` the exact image `from` serves (see [`Platform::promotion`]).
    pub async fn promote(
        &self,
        project: &ProjectName,
        from: &Environment,
        to: &Environment,
        options: &DeployOptions,
    ) -> Result<DeployReport> {
        self.deploy(&self.promotion(project, from, to).await?, options).await
    }
}
