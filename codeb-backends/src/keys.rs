//! Keys a platform file names (API keys, registry passwords): read from a
//! file or an environment variable, never written inline.

use codeb::config::KeySource;
use codeb::{Error, ErrorKind, Result};

/// A key named by the platform file: the trimmed content of a file, or an environment variable.
pub(crate) fn read_key(what: &str, source: &KeySource) -> Result<String> {
    let key = match source {
        KeySource::File(path) => std::fs::read_to_string(path).map_err(|e| {
            Error::new(ErrorKind::Unavailable, format!("cannot read the {what} file {}", path.display())).with_source(e)
        })?,
        KeySource::Env(var) => std::env::var(var)
            .map_err(|_| Error::new(ErrorKind::Unauthenticated, format!("the {what} variable {var} is not set")))?,
    };
    let key = key.trim().to_owned();
    if key.is_empty() {
        return Err(Error::new(ErrorKind::Unauthenticated, format!("the {what} is empty")));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_files_or_variables_and_are_never_empty() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "s3cret\n").unwrap();
        assert_eq!(read_key("k", &KeySource::File(file.clone())).unwrap(), "s3cret");
        std::fs::write(&file, "  \n").unwrap();
        assert_eq!(read_key("k", &KeySource::File(file)).unwrap_err().kind(), ErrorKind::Unauthenticated);
        let missing = read_key("k", &KeySource::Env("CODEB_TEST_SURELY_UNSET_VARIABLE".into())).unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::Unauthenticated);
    }
}
