//! TCP ports, ranges of them, and the services that get one.

use std::fmt;
use std::num::NonZeroU16;
use std::str::FromStr;

use super::validation::ValidationError;

/// A TCP port number, 1-65535.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct Port(NonZeroU16);

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for Port {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Port".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "integer", "minimum": 1, "maximum": 65535 })
    }
}

impl Port {
    /// Validates `n` as a port (0 is refused).
    pub fn new(n: u16) -> Result<Self, ValidationError> {
        NonZeroU16::new(n).map(Port).ok_or_else(|| ValidationError::new("port", "0", "must be 1-65535"))
    }

    /// The port number.
    pub fn get(self) -> u16 {
        self.0.get()
    }
}

impl TryFrom<u16> for Port {
    type Error = ValidationError;
    fn try_from(n: u16) -> Result<Self, Self::Error> {
        Port::new(n)
    }
}

impl From<Port> for u16 {
    fn from(p: Port) -> u16 {
        p.get()
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.get())
    }
}

impl fmt::Debug for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Port({})", self.get())
    }
}

impl FromStr for Port {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let n: u16 = s.parse().map_err(|_| ValidationError::new("port", s, "must be a number 1-65535"))?;
        Port::new(n)
    }
}

/// An inclusive range of ports, `start..=end`, with `start <= end`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(try_from = "RawRange", into = "RawRange")]
pub struct PortRange {
    start: Port,
    end: Port,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
struct RawRange {
    start: Port,
    end: Port,
}

impl PortRange {
    /// The range `start..=end`; refused when `start > end`.
    pub fn new(start: u16, end: u16) -> Result<Self, ValidationError> {
        let (s, e) = (Port::new(start)?, Port::new(end)?);
        if s > e {
            return Err(ValidationError::new("port range", &format!("{start}-{end}"), "start must not exceed end"));
        }
        Ok(PortRange { start: s, end: e })
    }

    /// The first port of the range.
    pub fn start(self) -> Port {
        self.start
    }

    /// The last port of the range.
    pub fn end(self) -> Port {
        self.end
    }

    /// Whether `port` lies within the range.
    pub fn contains(self, port: Port) -> bool {
        self.start <= port && port <= self.end
    }

    /// How many ports the range holds.
    pub fn len(self) -> usize {
        usize::from(self.end.get() - self.start.get()) + 1
    }

    /// Always false: a range holds at least one port. Present for symmetry with `len`.
    pub fn is_empty(self) -> bool {
        false
    }

    /// Every port of the range in ascending order.
    pub fn iter(self) -> impl Iterator<Item = Port> {
        (self.start.get()..=self.end.get()).filter_map(|n| Port::new(n).ok())
    }
}

impl TryFrom<RawRange> for PortRange {
    type Error = ValidationError;
    fn try_from(r: RawRange) -> Result<Self, Self::Error> {
        PortRange::new(r.start.get(), r.end.get())
    }
}

impl From<PortRange> for RawRange {
    fn from(r: PortRange) -> RawRange {
        RawRange { start: r.start, end: r.end }
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

impl fmt::Debug for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PortRange({self})")
    }
}

/// A service of a project environment that listens on a host port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// The application itself.
    App,
    /// The environment's PostgreSQL accessory.
    Postgres,
    /// The environment's Redis accessory.
    Redis,
}

impl Service {
    /// Every service.
    pub const ALL: [Service; 3] = [Service::App, Service::Postgres, Service::Redis];

    /// The lowercase name (`app`, `postgres`, `redis`).
    pub fn as_str(self) -> &'static str {
        match self {
            Service::App => "app",
            Service::Postgres => "postgres",
            Service::Redis => "redis",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Service {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Service::ALL
            .into_iter()
            .find(|svc| svc.as_str() == s)
            .ok_or_else(|| ValidationError::new("service", s, "must be app, postgres or redis"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_inclusive_and_ordered() {
        let r = PortRange::new(3000, 3499).unwrap();
        assert_eq!(r.len(), 500);
        assert!(r.contains(Port::new(3499).unwrap()));
        assert!(!r.contains(Port::new(3500).unwrap()));
        assert!(PortRange::new(10, 9).is_err());
        assert!(serde_json::from_str::<PortRange>(r#"{"start":10,"end":9}"#).is_err());
    }

    #[test]
    fn zero_and_junk_are_not_ports() {
        assert!(Port::new(0).is_err());
        assert!("65536".parse::<Port>().is_err());
        assert!("80;rm".parse::<Port>().is_err());
        assert!(serde_json::from_str::<Port>("0").is_err());
        assert_eq!("443".parse::<Port>().unwrap().get(), 443);
    }
}
