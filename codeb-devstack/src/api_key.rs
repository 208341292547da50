//! The PowerDNS API key of a stack: random, and never printed by accident.

use std::fmt;
use std::io::{self, Read};

/// Random bytes in a generated key (printed as twice as many hex digits).
const KEY_BYTES: usize = 24;

/// A secret token (the PowerDNS API key) whose `Debug` and `Display` print a mask.
///
/// The plaintext is reached only through [`ApiKey::expose`], so every place
/// that handles it is visible in review.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// A fresh key of random hex digits from the kernel's random source.
    pub fn generate() -> io::Result<Self> {
        Ok(ApiKey(random_hex(KEY_BYTES)?))
    }

    /// Wraps a key read back from the stack's record.
    pub(crate) fn from_recorded(key: String) -> Self {
        ApiKey(key)
    }

    /// The key itself, for the one header or file that must carry it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(********)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

/// `bytes` random bytes from `/dev/urandom`, as lowercase hex.
pub(crate) fn random_hex(bytes: usize) -> io::Result<String> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_masked_in_debug_and_display() {
        let key = ApiKey::generate().unwrap();
        assert_eq!(key.expose().len(), 2 * KEY_BYTES);
        assert!(!format!("{key:?}").contains(key.expose()));
        assert!(!key.to_string().contains(key.expose()));
    }

    #[test]
    fn two_keys_differ() {
        assert_ne!(ApiKey::generate().unwrap(), ApiKey::generate().unwrap());
    }
}
