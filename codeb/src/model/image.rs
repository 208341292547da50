//! OCI image references (`registry:5000/team/app:v1@sha256:...`).

use std::fmt;

use super::validation::ValidationError;

const FIELD: &str = "image";

/// A validated OCI image reference: `[registry[:port]/]repository[:tag][@digest]`.
///
/// The grammar is the one of the distribution project's reference package:
/// lowercase path components joined by `/` with `.`, `_`, `__` or dashes
/// inside, a tag of at most 128 word characters, dots and dashes, and a digest
/// `algorithm:hex` (64 hex digits for sha256). The name is at most 255
/// characters. The reference is kept as written, without implied defaults.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageRef {
    raw: String,
    registry: Option<String>,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageRef {
    /// Validates `s` as an image reference.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let err = |rule: &str| ValidationError::new(FIELD, s, rule);
        if s.is_empty() {
            return Err(err("must not be empty"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, digest)) => {
                check_digest(digest).map_err(&err)?;
                (rest, Some(digest.to_owned()))
            }
            None => (s, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &rest[last_slash + i + 1..];
                check_tag(tag).map_err(&err)?;
                (&rest[..last_slash + i], Some(tag.to_owned()))
            }
            None => (rest, None),
        };
        if name.len() > 255 {
            return Err(err("the name is at most 255 characters"));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path)) if first.contains(['.', ':']) || first == "localhost" => {
                check_registry(first).map_err(&err)?;
                (Some(first.to_owned()), path)
            }
            _ => (None, name),
        };
        for component in repository.split('/') {
            check_path_component(component).map_err(&err)?;
        }
        Ok(ImageRef { raw: s.to_owned(), registry, repository: repository.to_owned(), tag, digest })
    }

    /// The reference exactly as validated.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The registry host (and port), when the reference names one.
    pub fn registry(&self) -> Option<&str> {
        self.registry.as_deref()
    }

    /// The repository path within the registry (`team/app`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, when given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest (`sha256:...`), when given.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The same image pinned to `digest`: `[registry/]repository@digest`, its tag dropped.
    pub fn pinned(&self, digest: &str) -> Result<Self, ValidationError> {
        let registry = self.registry.as_ref().map(|r| format!("{r}/")).unwrap_or_default();
        ImageRef::parse(&format!("{registry}{}@{digest}", self.repository))
    }
}

fn check_digest(digest: &str) -> Result<(), &'static str> {
    let (algorithm, hex) = digest.split_once(':').ok_or("a digest is algorithm:hex")?;
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.split(['+', '.', '-', '_']).all(|c| {
            c.chars().next().is_some_and(|f| f.is_ascii_alphabetic()) && c.chars().all(|x| x.is_ascii_alphanumeric())
        });
    if !algorithm_ok {
        return Err("a digest algorithm is letters and digits joined by + . - _");
    }
    if hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("a digest is at least 32 hex digits");
    }
    if algorithm == "sha256" && hex.len() != 64 {
        return Err("a sha256 digest is 64 hex digits");
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), &'static str> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let ok = tag.len() <= 128
        && tag.chars().next().is_some_and(word)
        && tag.chars().all(|c| word(c) || c == '.' || c == '-');
    if ok {
        Ok(())
    } else {
        Err("a tag is 1-128 of letters, digits, '_', '.', '-' and starts with a letter, digit or '_'")
    }
}

fn check_registry(registry: &str) -> Result<(), &'static str> {
    let (host, port) = match registry.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    };
    if let Some(port) = port
        && (port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) || port.parse::<u16>().is_err())
    {
        return Err("a registry port is a number");
    }
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.chars().all(|x| x.is_ascii_alphanumeric() || x == '-')
            && !c.starts_with('-')
            && !c.ends_with('-')
    };
    if host.split('.').all(component_ok) {
        Ok(())
    } else {
        Err("a registry is host[:port] with letters, digits, '-' and '.'")
    }
}

fn check_path_component(component: &str) -> Result<(), &'static str> {
    const RULE: &str =
        "a repository path is lowercase a-z0-9 components separated by '/', with '.', '_', '__' or '-' inside";
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err(RULE);
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-');
        if !ok {
            return Err(RULE);
        }
    }
    Ok(())
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl fmt::Debug for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageRef({:?})", self.raw)
    }
}

impl std::str::FromStr for ImageRef {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageRef::parse(s)
    }
}

super::string_schema!(ImageRef);

impl serde::Serialize for ImageRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl<'de> serde::Deserialize<'de> for ImageRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        ImageRef::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn splits_registry_repository_tag_and_digest() {
        let r = ImageRef::parse(&format!("localhost:5000/team/my_app:v1.2-rc@{SHA}")).unwrap();
        assert_eq!(r.registry(), Some("localhost:5000"));
        assert_eq!(r.repository(), "team/my_app");
        assert_eq!(r.tag(), Some("v1.2-rc"));
        assert_eq!(r.digest(), Some(SHA));

        let r = ImageRef::parse("postgres:16").unwrap();
        assert_eq!((r.registry(), r.repository(), r.tag()), (None, "postgres", Some("16")));
        let r = ImageRef::parse("ghcr.io/one-q/shop").unwrap();
        assert_eq!((r.registry(), r.tag()), (Some("ghcr.io"), None));
    }

    #[test]
    fn rejects_what_the_grammar_does_not_allow() {
        for bad in [
            "",
            "Upper/app",
            "app:",
            "app:-tag",
            "app@sha256:abc",
            "a//b",
            "a/b/",
            "-app",
            "app_-x",
            "reg.io:port/app",
            "app:tag with space",
            "app;rm -rf /",
            "$(id)",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(ImageRef::parse(&format!("app:{}", "t".repeat(129))).is_err());
    }

    #[test]
    fn accepts_separators_inside_components() {
        for ok in
            ["a__b", "a.b", "a---b", "registry.local:443/a/b.c_d:1", "busybox@sha512:0123456789abcdef0123456789abcdef"]
        {
            assert!(ImageRef::parse(ok).is_ok(), "{ok} should be accepted");
        }
    }
}
