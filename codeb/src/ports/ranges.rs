//! The port ranges of each environment kind and service.

use crate::model::{EnvironmentKind, PortRange, Service};
use crate::{Error, Result};

/// The ranges of one environment kind; `None` means the service is not offered there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ServiceRanges {
    /// The app's range.
    pub app: PortRange,
    /// PostgreSQL's range.
    #[serde(default)]
    pub postgres: Option<PortRange>,
    /// Redis's range.
    #[serde(default)]
    pub redis: Option<PortRange>,
}

/// The port ranges of every environment kind. The default is the seed's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PortRanges {
    /// Staging's ranges.
    pub staging: ServiceRanges,
    /// Production's ranges.
    pub production: ServiceRanges,
    /// Previews' ranges.
    pub preview: ServiceRanges,
}

impl Default for PortRanges {
    fn default() -> Self {
        let range = |a, b| PortRange::new(a, b).unwrap_or_else(|_| unreachable!("the seed's ranges are ordered"));
        PortRanges {
            staging: ServiceRanges {
                app: range(3000, 3499),
                postgres: Some(range(15432, 15499)),
                redis: Some(range(16379, 16399)),
            },
            production: ServiceRanges {
                app: range(4000, 4499),
                postgres: Some(range(25432, 25499)),
                redis: Some(range(26379, 26399)),
            },
            preview: ServiceRanges { app: range(5000, 5999), postgres: None, redis: None },
        }
    }
}

impl PortRanges {
    /// The range of `service` in environments of `kind`, if offered.
    pub fn get(&self, kind: EnvironmentKind, service: Service) -> Option<PortRange> {
        let ranges = match kind {
            EnvironmentKind::Staging => &self.staging,
            EnvironmentKind::Production => &self.production,
            EnvironmentKind::Preview => &self.preview,
        };
        match service {
            Service::App => Some(ranges.app),
            Service::Postgres => ranges.postgres,
            Service::Redis => ranges.redis,
        }
    }

    /// Every configured range with what it is for.
    pub fn all(&self) -> Vec<(EnvironmentKind, Service, PortRange)> {
        let kinds = [EnvironmentKind::Staging, EnvironmentKind::Production, EnvironmentKind::Preview];
        kinds
            .into_iter()
            .flat_map(|kind| Service::ALL.into_iter().filter_map(move |s| self.get(kind, s).map(|r| (kind, s, r))))
            .collect()
    }

    /// Refuses ranges that overlap: one port must belong to one kind of service.
    pub fn validate(&self) -> Result<()> {
        let all = self.all();
        for (i, (ka, sa, a)) in all.iter().enumerate() {
            for (kb, sb, b) in &all[i + 1..] {
                if a.start() <= b.end() && b.start() <= a.end() {
                    return Err(Error::invalid(format!(
                        "port range {ka}/{sa} {a} overlaps {kb}/{sb} {b}; ranges must be disjoint"
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seed_table_and_disjoint() {
        let r = PortRanges::default();
        r.validate().unwrap();
        assert_eq!(r.get(EnvironmentKind::Staging, Service::App).unwrap().to_string(), "3000-3499");
        assert_eq!(r.get(EnvironmentKind::Production, Service::Redis).unwrap().to_string(), "26379-26399");
        assert_eq!(r.get(EnvironmentKind::Preview, Service::Postgres), None);
        assert_eq!(r.all().len(), 7);
    }

    #[test]
    fn overlapping_ranges_are_refused() {
        let mut r = PortRanges::default();
        r.preview.app = PortRange::new(3400, 3600).unwrap();
        let err = r.validate().unwrap_err();
        assert!(err.message().contains("overlaps"), "{err}");
    }
}
