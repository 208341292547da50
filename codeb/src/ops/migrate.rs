//! Moving a platform: an exported SSOT document imported into another
//! platform's truth (a control server's, typically), with the secrets of its
//! environments copied from the platform it came from.

use std::collections::{BTreeMap, BTreeSet};

use crate::engine::Platform;
use crate::model::EnvKey;
use crate::secrets::{EnvVersion, Scope, SecretStore};
use crate::ssot::{Ssot, StateStoreExt};
use crate::{Error, Result};

/// What an import did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct SsotImport {
    /// The revision of this platform's SSOT after the import.
    pub revision: u64,
    /// The projects imported.
    pub projects: usize,
    /// The environments whose variables were copied.
    pub environments_with_secrets: usize,
    /// The variable set versions written here.
    pub secret_versions: usize,
}

impl std::fmt::Display for SsotImport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "imported {} projects at revision {}; copied {} variable set versions of {} environments",
            self.projects, self.revision, self.secret_versions, self.environments_with_secrets
        )
    }
}

impl Platform {
    /// Makes `document` (another platform's [`Platform::ssot_export`]) this
    /// platform's SSOT, and copies every variable set version that `from`'s
    /// secret store still keeps for each environment the document records,
    /// in order, so each release still names the variables it ran with.
    ///
    /// Refused before any change when this SSOT already records a project
    /// (unless `force`), or when the document holds a deploy lock (a deploy
    /// is running where it came from). The secrets are copied first: a
    /// failure leaves this SSOT as it was.
    pub async fn ssot_import(&self, mut document: Ssot, from: Option<&Platform>, force: bool) -> Result<SsotImport> {
        if let Some((project, env)) = document
            .projects
            .iter()
            .flat_map(|(p, r)| r.environments.iter().map(move |(e, rec)| (p, e, rec)))
            .find_map(|(p, e, rec)| rec.lock.as_ref().map(|_| (p.clone(), e.clone())))
        {
            return Err(Error::conflict(format!(
                "the document holds the deploy lock of {project}/{env}: let that deploy finish, or release the lock, and export again"
            )));
        }
        refuse_replacing(&self.ssot_export().await?, force)?;
        let mut copied = (0, 0);
        if let Some(from) = from {
            for (project, record) in &mut document.projects {
                for (env, environment) in &mut record.environments {
                    let scope = Scope::new(project.clone(), env.clone());
                    let versions = copy_versions(&*from.backends.secrets, &*self.backends.secrets, &scope).await?;
                    if versions.is_empty() {
                        continue;
                    }
                    for release in &mut environment.releases {
                        if let Some(version) = versions.get(&release.config.env_version) {
                            release.config.env_version = *version;
                        }
                    }
                    copied = (copied.0 + 1, copied.1 + versions.len());
                }
            }
        }
        let projects = document.projects.len();
        let commit = self
            .blocking_state(move |s| {
                s.modify(|doc| {
                    // Checked again under the store's lock: another client may have deployed meanwhile.
                    refuse_replacing(doc, force)?;
                    *doc = document;
                    Ok(())
                })?;
                s.view(|doc| Ok(doc.revision))
            })
            .await?;
        Ok(SsotImport { revision: commit, projects, environments_with_secrets: copied.0, secret_versions: copied.1 })
    }
}

/// Refuses to replace an SSOT that records projects, unless `force`.
fn refuse_replacing(here: &Ssot, force: bool) -> Result<()> {
    if here.projects.is_empty() || force {
        return Ok(());
    }
    Err(Error::conflict(format!(
        "this platform's SSOT already records {} projects: import with force to replace it",
        here.projects.len()
    )))
}

/// Writes each version of `scope` that `from` keeps into `to`, oldest first,
/// and answers which version here each one became.
async fn copy_versions(
    from: &dyn SecretStore,
    to: &dyn SecretStore,
    scope: &Scope,
) -> Result<BTreeMap<EnvVersion, EnvVersion>> {
    let current = from.list(scope).await?.version;
    let mut mapping = BTreeMap::new();
    let here = to.list(scope).await?;
    let mut written = here.version;
    let mut previous: BTreeSet<EnvKey> = here.vars.into_iter().map(|v| v.key).collect();
    for version in 1..=current {
        let set = match from.list_at(scope, version).await {
            Ok(set) => set,
            Err(e) if e.kind() == crate::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let keys: BTreeSet<EnvKey> = set.vars.iter().map(|v| v.key.clone()).collect();
        let gone: Vec<EnvKey> = previous.difference(&keys).cloned().collect();
        if !gone.is_empty() {
            written = to.unset(scope, &gone).await?;
        }
        if !set.vars.is_empty() {
            written = to.set(scope, &set.vars).await?;
        }
        mapping.insert(version, written);
        previous = keys;
    }
    Ok(mapping)
}
