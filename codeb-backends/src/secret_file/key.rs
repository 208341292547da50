//! The 256-bit key that encrypts the secret files, and where it comes from.

use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use base64::Engine as _;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{KeyInit, OsRng};
use codeb::{Error, ErrorKind, Result};
use zeroize::Zeroizing;

/// Length of the key in bytes.
pub const KEY_BYTES: usize = 32;

/// A secret-store key. `Debug` never shows it, and it is wiped from memory when dropped.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<[u8; KEY_BYTES]>);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Where a [`SecretKey`] comes from: the platform file's [`KeySource`]. A key
/// file holds 32 raw bytes or 64 hex digits, is created (0600, 32 random bytes)
/// on first use if absent, and is refused if group or others may read it; an
/// environment variable holds 64 hex digits or the standard base64 of 32 bytes.
pub use codeb::config::KeySource;

/// Loads (or, for a missing key file, creates) the key `source` names.
pub fn load_key(source: &KeySource) -> Result<SecretKey> {
    match source {
        KeySource::File(path) => SecretKey::from_file(path),
        KeySource::Env(var) => SecretKey::from_env(var),
    }
}

fn key_error(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error::new(kind, message).with_context("backend", "secret-file")
}

impl SecretKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let mut bytes = Zeroizing::new([0; KEY_BYTES]);
        bytes.copy_from_slice(&key);
        SecretKey(bytes)
    }

    /// The key written as text: 64 hex digits, or the standard base64 of 32 bytes.
    /// Surrounding whitespace is ignored. A rejection never echoes the text.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let decoded = if text.len() == 2 * KEY_BYTES && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            decode_hex(text)
        } else {
            base64::engine::general_purpose::STANDARD.decode(text).ok().map(Zeroizing::new)
        };
        match decoded {
            Some(bytes) if bytes.len() == KEY_BYTES => Ok(SecretKey::from_slice(&bytes)),
            _ => Err(key_error(ErrorKind::Invalid, "a secret key must be 64 hex digits or the base64 of 32 bytes")),
        }
    }

    /// The key in environment variable `var`.
    pub fn from_env(var: &str) -> Result<Self> {
        let text = Zeroizing::new(std::env::var(var).map_err(|_| {
            key_error(ErrorKind::NotFound, "the secret key variable is not set (or not UTF-8)")
                .with_context("variable", var)
        })?);
        SecretKey::parse(&text).map_err(|e| e.with_context("variable", var))
    }

    /// The key in the file at `path`, created with a fresh random key if there is none.
    ///
    /// A key file that group or others may read (or write) is refused
    /// (`Forbidden`), as ssh refuses such private keys: the key is only as
    /// safe as its file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let io_error = |what: &str, e: io::Error| {
            key_error(ErrorKind::Unavailable, format!("cannot {what} the secret key file"))
                .with_context("path", path.display())
                .with_source(e)
        };
        let mut file = match fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                create_key_file(path).map_err(|e| io_error("create", e))?;
                fs::File::open(path).map_err(|e| io_error("open", e))?
            }
            Err(e) => return Err(io_error("open", e)),
        };
        let mode = file.metadata().map_err(|e| io_error("inspect", e))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(key_error(
                ErrorKind::Forbidden,
                format!("the secret key file is accessible by group or others (mode {:o}); chmod 600 it", mode & 0o777),
            )
            .with_context("path", path.display()));
        }
        let mut bytes = Zeroizing::new(Vec::new());
        file.read_to_end(&mut bytes).map_err(|e| io_error("read", e))?;
        if bytes.len() == KEY_BYTES {
            return Ok(SecretKey::from_slice(&bytes));
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            key_error(ErrorKind::Invalid, "the secret key file holds neither 32 bytes nor a hex key")
                .with_context("path", path.display())
        })?;
        SecretKey::parse(text).map_err(|e| e.with_context("path", path.display()))
    }

    fn from_slice(bytes: &[u8]) -> Self {
        let mut key = Zeroizing::new([0; KEY_BYTES]);
        key.copy_from_slice(bytes);
        SecretKey(key)
    }

    /// The cipher keyed with this key.
    pub(crate) fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.as_ref().into())
    }
}

fn decode_hex(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let digits = text.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(digits.len() / 2));
    for pair in digits.chunks(2) {
        let pair = std::str::from_utf8(pair).ok()?;
        out.push(u8::from_str_radix(pair, 16).ok()?);
    }
    Some(out)
}

/// Writes a fresh key to `path` (0600) without ever replacing one: the key is
/// written to a private temp file, synced, then hard-linked into place, which
/// fails if another process made the key first (theirs is then used).
fn create_key_file(path: &Path) -> io::Result<()> {
    crate::atomic_file::create_dir_of(path, crate::atomic_file::Access::OwnerOnly)?;
    let tmp = crate::atomic_file::sibling(path, &format!(".new-{}", std::process::id()));
    let key = SecretKey::generate();
    let written = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).and_then(|mut file| {
        file.write_all(key.0.as_ref())?;
        file.sync_all()
    });
    let linked = written.and_then(|()| match fs::hard_link(&tmp, path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    });
    let _ = fs::remove_file(&tmp);
    linked?;
    crate::atomic_file::sync_dir(crate::atomic_file::dir_of(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_hex_and_base64_and_never_echo_bad_text() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let from_hex = SecretKey::parse(&format!(" {hex}\n")).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(from_hex.0.as_ref());
        assert_eq!(SecretKey::parse(&b64).unwrap().0.as_ref(), from_hex.0.as_ref());
        for bad in ["", "00112233", "zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "c2hvcnQ="] {
            let err = SecretKey::parse(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid);
            if !bad.is_empty() {
                assert!(!err.to_string().contains(bad), "{err}");
            }
        }
        assert_eq!(format!("{from_hex:?}"), "SecretKey(<redacted>)");
    }

    #[test]
    fn a_missing_key_file_is_created_0600_with_32_random_bytes_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("secrets.key");
        let first = SecretKey::from_file(&path).unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), KEY_BYTES as u64);
        assert_eq!(SecretKey::from_file(&path).unwrap().0.as_ref(), first.0.as_ref());
        assert_ne!(SecretKey::generate().0.as_ref(), first.0.as_ref());
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temp file is left");
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.key");
        SecretKey::from_file(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = SecretKey::from_file(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
        assert_eq!(err.context_value("path"), Some(path.display().to_string().as_str()));
    }

    #[test]
    fn a_hex_key_file_is_accepted_and_a_malformed_one_is_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.key");
        fs::write(&path, "ab".repeat(KEY_BYTES) + "\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(SecretKey::from_file(&path).unwrap().0.as_ref(), &[0xab; KEY_BYTES]);
        fs::write(&path, "too short").unwrap();
        assert_eq!(SecretKey::from_file(&path).unwrap_err().kind(), ErrorKind::Invalid);
    }

    #[test]
    fn an_unset_variable_is_not_found_and_a_set_non_key_is_invalid() {
        let err = SecretKey::from_env("CODEB_TEST_SURELY_UNSET_SECRET_KEY_VAR").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(err.context_value("variable"), Some("CODEB_TEST_SURELY_UNSET_SECRET_KEY_VAR"));
        // PATH is set in every test environment and is no key.
        let err = load_key(&KeySource::Env("PATH".to_owned())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        let path = std::env::var("PATH").unwrap();
        assert!(!err.to_string().contains(&path), "the variable's value is never echoed");
    }
}
