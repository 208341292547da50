//! The encrypted file format: a fixed header, a random nonce, and the AEAD ciphertext.
//!
//! ```text
//! "CODEBSEC" (8 bytes) | format 1 (1 byte) | nonce (24 bytes) | XChaCha20-Poly1305 ciphertext + tag
//! ```
//!
//! The associated data is the header followed by the scope (`project/env`),
//! so a file copied over another scope's file fails authentication instead
//! of handing one environment another's secrets. Any failure to open, of
//! any part of the file, is `Unauthenticated` and yields no plaintext.

use chacha20poly1305::XNonce;
use chacha20poly1305::aead::{Aead, AeadCore, OsRng, Payload};
use codeb::secrets::Scope;
use codeb::{Error, ErrorKind, Result};
use zeroize::Zeroizing;

use super::key::SecretKey;

const MAGIC: &[u8; 8] = b"CODEBSEC";
const FORMAT: u8 = 1;
const HEADER_BYTES: usize = MAGIC.len() + 1;
const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;

fn header() -> [u8; HEADER_BYTES] {
    let mut header = [0; HEADER_BYTES];
    header[..MAGIC.len()].copy_from_slice(MAGIC);
    header[MAGIC.len()] = FORMAT;
    header
}

fn associated_data(scope: &Scope) -> Vec<u8> {
    let mut aad = header().to_vec();
    aad.extend_from_slice(scope.to_string().as_bytes());
    aad
}

/// Encrypts `plaintext` for `scope` under a fresh random nonce.
pub(crate) fn seal(key: &SecretKey, scope: &Scope, plaintext: &[u8]) -> Result<Vec<u8>> {
    let nonce = chacha20poly1305::XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let aad = associated_data(scope);
    let ciphertext = key
        .cipher()
        .encrypt(&nonce, Payload { msg: plaintext, aad: &aad })
        .map_err(|_| Error::internal("encrypting the secrets failed").with_context("backend", "secret-file"))?;
    let mut out = Vec::with_capacity(HEADER_BYTES + NONCE_BYTES + ciphertext.len());
    out.extend_from_slice(&header());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Decrypts a sealed file of `scope`; any mismatch (key, scope, a changed or missing byte) is `Unauthenticated`.
pub(crate) fn open(key: &SecretKey, scope: &Scope, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let refused = || {
        Error::new(
            ErrorKind::Unauthenticated,
            format!(
                "the secrets of {scope} cannot be authenticated: a wrong key, or a damaged, truncated or swapped file"
            ),
        )
        .with_context("backend", "secret-file")
    };
    if sealed.len() < HEADER_BYTES + NONCE_BYTES + TAG_BYTES || sealed[..HEADER_BYTES] != header() {
        return Err(refused());
    }
    let (nonce, ciphertext) = sealed[HEADER_BYTES..].split_at(NONCE_BYTES);
    let aad = associated_data(scope);
    key.cipher()
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad })
        .map(Zeroizing::new)
        .map_err(|_| refused())
}

#[cfg(test)]
mod tests {
    use codeb::model::{Environment, ProjectName};

    use super::*;

    fn scope(project: &str, env: Environment) -> Scope {
        Scope::new(ProjectName::parse(project).unwrap(), env)
    }

    #[test]
    fn a_sealed_file_opens_with_its_key_and_scope_only() {
        let key = SecretKey::generate();
        let staging = scope("shop", Environment::Staging);
        let sealed = seal(&key, &staging, b"{\"the\":\"plaintext\"}").unwrap();
        assert_eq!(open(&key, &staging, &sealed).unwrap().as_slice(), b"{\"the\":\"plaintext\"}");
        assert!(!sealed.windows(9).any(|w| w == b"plaintext"), "the plaintext is not in the file");

        let unauthenticated =
            |result: Result<Zeroizing<Vec<u8>>>| result.unwrap_err().kind() == ErrorKind::Unauthenticated;
        assert!(unauthenticated(open(&SecretKey::generate(), &staging, &sealed)), "another key");
        assert!(unauthenticated(open(&key, &scope("shop", Environment::Production), &sealed)), "another scope");
        for i in 0..sealed.len() {
            let mut flipped = sealed.clone();
            flipped[i] ^= 0x01;
            assert!(unauthenticated(open(&key, &staging, &flipped)), "byte {i} flipped");
        }
        for len in 0..sealed.len() {
            assert!(unauthenticated(open(&key, &staging, &sealed[..len])), "truncated to {len}");
        }
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let key = SecretKey::generate();
        let staging = scope("shop", Environment::Staging);
        let (a, b) = (seal(&key, &staging, b"same").unwrap(), seal(&key, &staging, b"same").unwrap());
        assert_ne!(a[HEADER_BYTES..HEADER_BYTES + NONCE_BYTES], b[HEADER_BYTES..HEADER_BYTES + NONCE_BYTES]);
        assert_ne!(a, b);
    }
}
