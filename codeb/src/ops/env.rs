//! Env vars and secrets of an environment.

use crate::Result;
use crate::engine::{Change, PlannedChange, Platform};
use crate::model::{EnvKey, EnvVar, Environment, ProjectName};
use crate::ops::Removal;
use crate::secrets::{EnvSet, EnvVersion, Scope};
use crate::ssot::StateStoreExt;

/// Env vars of an environment as every front end shows them: secret values masked.
///
/// Masking happens when the listing is made, so a listing can be printed,
/// serialised or returned to an agent whole; it holds no secret value.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct EnvListing {
    /// The project.
    pub project: ProjectName,
    /// The environment.
    pub env: Environment,
    /// The version of the environment's variable set; the next deploy runs with it.
    pub version: EnvVersion,
    /// The variables, ordered by name.
    pub vars: Vec<ListedVar>,
}

/// One variable of an [`EnvListing`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ListedVar {
    /// The name.
    pub key: EnvKey,
    /// The value of a plain variable; the mask (`********`) for a secret.
    pub value: String,
    /// Whether it is secret.
    pub secret: bool,
}

impl std::fmt::Display for ListedVar {
    /// `KEY=value`, the value as listed (a secret's masked).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

impl EnvListing {
    /// The listing of `vars` at `version`, masked and ordered by name: what
    /// [`Platform::env_listing`] returns, or what an [`Platform::env_set`] just stored.
    pub fn new(project: ProjectName, env: Environment, version: EnvVersion, vars: &[EnvVar]) -> Self {
        let mut vars: Vec<ListedVar> = vars
            .iter()
            .map(|v| ListedVar { key: v.key.clone(), value: v.listed_value().to_owned(), secret: v.secret })
            .collect();
        vars.sort_by(|a, b| a.key.cmp(&b.key));
        EnvListing { project, env, version, vars }
    }
}

impl Platform {
    /// Sets env vars (plain or secret) of an environment; the next deploy runs
    /// with them, and their values win over the project file's `[env]` (the
    /// SSOT records their names) until [`Platform::env_unset`]. Refused while
    /// the SSOT cannot be read whole.
    pub async fn env_set(&self, project: &ProjectName, env: &Environment, vars: &[EnvVar]) -> Result<EnvVersion> {
        self.check_ssot().await?;
        // The value first: an override is recorded only for a value that is stored.
        let version = self.backends.secrets.set(&Scope::new(project.clone(), env.clone()), vars).await?;
        let keys: Vec<EnvKey> = vars.iter().map(|v| v.key.clone()).collect();
        self.edit_overrides(project, env, move |overrides| overrides.extend(keys)).await?;
        Ok(version)
    }

    /// The env vars of an environment. Secret values stay masked wherever they are printed;
    /// use [`EnvVar::listed_value`] to show a listing.
    pub async fn env_list(&self, project: &ProjectName, env: &Environment) -> Result<EnvSet> {
        self.backends.secrets.list(&Scope::new(project.clone(), env.clone())).await
    }

    /// The env vars of an environment as a listing shows them, secret values masked.
    pub async fn env_listing(&self, project: &ProjectName, env: &Environment) -> Result<EnvListing> {
        let set = self.env_list(project, env).await?;
        Ok(EnvListing::new(project.clone(), env.clone(), set.version, &set.vars))
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

    /// Removes env vars; without `force` nothing changes and the report says
    /// what would. Refused while the SSOT cannot be read whole.
    pub async fn env_unset(
        &self,
        project: &ProjectName,
        env: &Environment,
        keys: &[EnvKey],
        force: bool,
    ) -> Result<Removal> {
        self.check_ssot().await?;
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
            // The override first: a key whose value goes takes the project file's again.
            let gone = present.clone();
            self.edit_overrides(project, env, move |overrides| overrides.retain(|k| !gone.contains(k))).await?;
            self.backends.secrets.unset(&scope, &present).await?;
        }
        Ok(Removal { changes, applied: force })
    }

    /// Changes the names of the environment's env vars set with `we env set`, in one SSOT commit.
    async fn edit_overrides(
        &self,
        project: &ProjectName,
        env: &Environment,
        edit: impl FnOnce(&mut std::collections::BTreeSet<EnvKey>) + Send + 'static,
    ) -> Result<()> {
        let (project, env) = (project.clone(), env.clone());
        self.blocking_state(move |s| {
            s.modify(|doc| {
                edit(&mut doc.environment_mut(&project, &env).env_overrides);
                Ok(())
            })
        })
        .await
    }
}
