//! Env vars and secrets of an environment.

use crate::Result;
use crate::engine::{Change, PlannedChange, Platform};
use crate::model::{EnvKey, EnvVar, Environment, ProjectName};
use crate::ops::Removal;
use crate::secrets::{EnvSet, EnvVersion, Scope};

impl Platform {
    /// Sets env vars (plain or secret) of an environment; the next deploy runs with them.
    pub async fn env_set(&self, project: &ProjectName, env: &Environment, vars: &[EnvVar]) -> Result<EnvVersion> {
        self.backends.secrets.set(&Scope::new(project.clone(), env.clone()), vars).await
    }

    /// The env vars of an environment. Secret values stay masked wherever they are printed;
    /// use [`EnvVar::listed_value`] to show a listing.
    pub async fn env_list(&self, project: &ProjectName, env: &Environment) -> Result<EnvSet> {
        self.backends.secrets.list(&Scope::new(project.clone(), env.clone())).await
    }

    /// One env var, to be revealed only when explicitly asked for.
    pub async fn env_get(&self, project: &ProjectName, env: &Environment, key: &EnvKey) -> Result<EnvVar> {
        let scope = Scope::new(project.clone(), env.clone());
        self.backends
            .secrets
            .get(&scope, key)
            .await?
            .ok_or_else(|| crate::Error::not_found(format!("{key} is not set on {scope}")))
    }

    /// Removes env vars; without `force` nothing changes and the report says what would.
    pub async fn env_unset(
        &self,
        project: &ProjectName,
        env: &Environment,
        keys: &[EnvKey],
        force: bool,
    ) -> Result<Removal> {
        let scope = Scope::new(project.clone(), env.clone());
        let current = self.backends.secrets.list(&scope).await?;
        let present: Vec<EnvKey> = keys.iter().filter(|k| current.vars.iter().any(|v| &v.key == *k)).cloned().collect();
        if present.len() < keys.len() {
            let missing: Vec<String> = keys.iter().filter(|k| !present.contains(k)).map(|k| k.to_string()).collect();
            return Err(crate::Error::not_found(format!("not set on {scope}: {}", missing.join(", "))));
        }
        let change = Change::UnsetEnv { project: project.clone(), env: env.clone(), keys: present.clone() };
        let changes = vec![PlannedChange { server: self.servers().control, change }];
        if force {
            self.backends.secrets.unset(&scope, &present).await?;
        }
        Ok(Removal { changes, applied: force })
    }
}
