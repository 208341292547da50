//! Who owns a domain: exactly one project environment, as the SSOT records it.
//!
//! A domain is one [`DomainName`] (lowercase, no trailing dot), so two
//! spellings of a name are one domain and one owner. Taking a domain another
//! environment owns is a `Conflict` naming the owner; only an explicit, forced
//! move hands it over.

use crate::model::{DomainName, Environment, ProjectName};
use crate::ssot::Ssot;
use crate::{Error, Result};

/// The project environment a domain belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DomainOwner {
    /// The project.
    pub project: ProjectName,
    /// The environment.
    pub env: Environment,
}

impl DomainOwner {
    /// The owner `project`/`env`.
    pub fn new(project: &ProjectName, env: &Environment) -> Self {
        DomainOwner { project: project.clone(), env: env.clone() }
    }
}

impl std::fmt::Display for DomainOwner {
    /// `project/env`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.project, self.env)
    }
}

impl Ssot {
    /// The environment that `domain` belongs to, if any records it.
    pub fn domain_owner(&self, domain: &DomainName) -> Option<DomainOwner> {
        self.domain_owners(domain).next()
    }

    /// Every environment that records `domain`: one at most, but a document
    /// written before domains were owned may hold more.
    pub fn domain_owners<'a>(&'a self, domain: &'a DomainName) -> impl Iterator<Item = DomainOwner> + 'a {
        self.projects.iter().flat_map(move |(project, p)| {
            p.environments
                .iter()
                .filter(move |(_, e)| e.domains.contains(domain))
                .map(move |(env, _)| DomainOwner::new(project, env))
        })
    }

    /// Whether an environment of another project than `project` records `domain` too.
    pub fn domain_shared_beyond(&self, project: &ProjectName, domain: &DomainName) -> bool {
        self.domain_owners(domain).any(|owner| owner.project != *project)
    }

    /// Refuses, as `Conflict` naming the owner, any of `domains` that another
    /// environment than `project`/`env` owns.
    pub fn check_domains_free(&self, project: &ProjectName, env: &Environment, domains: &[DomainName]) -> Result<()> {
        let me = DomainOwner::new(project, env);
        for domain in domains {
            if let Some(owner) = self.domain_owner(domain).filter(|owner| *owner != me) {
                return Err(taken(domain, &owner));
            }
        }
        Ok(())
    }
}

/// `domain` belongs to `owner`: taking it needs a forced move.
pub(crate) fn taken(domain: &DomainName, owner: &DomainOwner) -> Error {
    Error::conflict(format!("{domain} belongs to {owner}; set it up with force to move it from there"))
        .with_context("domain", domain)
        .with_context("owner", owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_recorded_on_one_environment_is_refused_to_every_other_in_any_spelling() {
        let (shop, blog) = (ProjectName::parse("shop").unwrap(), ProjectName::parse("blog").unwrap());
        let mut doc = Ssot::default();
        doc.environment_mut(&shop, &Environment::Production).domains.push(DomainName::parse("shop.example").unwrap());
        let spelled = DomainName::parse("SHOP.Example.").unwrap();

        let err = doc.check_domains_free(&blog, &Environment::Staging, std::slice::from_ref(&spelled)).unwrap_err();

        assert_eq!(err.kind(), crate::ErrorKind::Conflict);
        assert_eq!(err.context_value("owner"), Some("shop/production"), "{err}");
        doc.check_domains_free(&shop, &Environment::Production, std::slice::from_ref(&spelled)).unwrap();
        let other_env = doc.check_domains_free(&shop, &Environment::Staging, &[spelled]);
        assert!(other_env.is_err(), "another environment of the same project does not own it either");
    }
}
