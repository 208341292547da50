//! The bearer token of the HTTP transport: from a file or generated with
//! the OS's randomness, compared in constant time, never printed by `Debug`.

use std::path::Path;

use codeb::{Error, ErrorKind, Result};
use subtle::ConstantTimeEq;

/// Shortest token accepted from configuration, in bytes.
pub const MIN_TOKEN_BYTES: usize = 32;

/// A secret every HTTP request must present as `Authorization: Bearer <token>`.
#[derive(Clone)]
pub struct BearerToken(String);

impl BearerToken {
    /// A fresh token: 32 bytes of OS randomness, hex-encoded.
    pub fn generate() -> Result<Self> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::internal(format!("the OS gave no random bytes for the token: {e}")))?;
        Ok(BearerToken(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// A token from configuration: visible ASCII without spaces, at least 32 bytes.
    pub fn parse(text: &str) -> Result<Self> {
        let token = text.trim();
        if token.len() < MIN_TOKEN_BYTES {
            return Err(Error::invalid(format!("the bearer token must be at least {MIN_TOKEN_BYTES} bytes")));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::invalid("the bearer token must be visible ASCII without spaces"));
        }
        Ok(BearerToken(token.to_owned()))
    }

    /// The token in a file (trimmed), as `--token-file` names it.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(ErrorKind::Unavailable, format!("cannot read the token file {}", path.display())).with_source(e)
        })?;
        BearerToken::parse(&text)
    }

    /// The token, to show once to whoever started the server.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether an `Authorization` header value carries this token, compared in constant time.
    pub fn accepts(&self, authorization: &[u8]) -> bool {
        let Some(scheme) = authorization.get(..7) else { return false };
        if !scheme.eq_ignore_ascii_case(b"bearer ") {
            return false;
        }
        let presented = authorization[7..].trim_ascii();
        presented.ct_eq(self.0.as_bytes()).into()
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(********)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_long_random_and_masked() {
        let (a, b) = (BearerToken::generate().unwrap(), BearerToken::generate().unwrap());
        assert_eq!(a.expose().len(), 64);
        assert_ne!(a.expose(), b.expose());
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn only_the_exact_token_under_the_bearer_scheme_is_accepted() {
        let token = BearerToken::parse(&"t".repeat(40)).unwrap();
        assert!(token.accepts(format!("Bearer {}", "t".repeat(40)).as_bytes()));
        assert!(token.accepts(format!("bearer {}", "t".repeat(40)).as_bytes()));
        assert!(!token.accepts(format!("Bearer {}", "t".repeat(39)).as_bytes()));
        assert!(!token.accepts(format!("Bearer {}u", "t".repeat(40)).as_bytes()));
        assert!(!token.accepts(format!("Basic {}", "t".repeat(40)).as_bytes()));
        assert!(!token.accepts(b"Bearer"));
        assert!(!token.accepts(b""));
    }

    #[test]
    fn configured_tokens_must_be_long_and_printable() {
        assert!(BearerToken::parse("short").is_err());
        assert!(BearerToken::parse(&format!("{} x", "a".repeat(40))).is_err());
        assert_eq!(BearerToken::parse(&format!("{}\n", "a".repeat(40))).unwrap().expose(), "a".repeat(40));
    }
}
