//! A certificate authority of a test fleet's own, and the server
//! certificates it issues: a registry served over TLS at a host's address,
//! which every host's Podman verifies, as a real fleet's would.
//!
//! The authority's key lives in memory only; its certificate is the one
//! file of its trust directory, which a Podman service is pointed at with
//! `SSL_CERT_DIR` (Go reads every certificate of each directory named
//! there, besides the system's).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use codeb::{Error, Result};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::atomic::replace_owner_only;
use crate::io_error;

/// The file name of the authority's certificate in its trust directory.
const CA_FILE: &str = "ca.crt";

/// A server certificate and its key, as PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate.
    pub certificate: PathBuf,
    /// Its private key (mode 0600).
    pub key: PathBuf,
}

/// A certificate authority made for one run.
pub struct TestAuthority {
    issuer: Issuer<'static, KeyPair>,
    trust_dir: PathBuf,
}

impl std::fmt::Debug for TestAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestAuthority").field("trust_dir", &self.trust_dir).finish_non_exhaustive()
    }
}

impl TestAuthority {
    /// A new authority, its certificate written to `<trust_dir>/ca.crt`.
    pub fn create(trust_dir: &Path) -> Result<TestAuthority> {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, "codeb test fleet CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().map_err(tls_error)?;
        let certificate = params.self_signed(&key).map_err(tls_error)?;
        std::fs::create_dir_all(trust_dir).map_err(|e| io_error("cannot create the trust directory", trust_dir, e))?;
        write(&trust_dir.join(CA_FILE), &certificate.pem())?;
        Ok(TestAuthority { issuer: Issuer::new(params, key), trust_dir: trust_dir.to_owned() })
    }

    /// The directory holding only the authority's certificate.
    pub fn trust_dir(&self) -> &Path {
        &self.trust_dir
    }

    /// A server certificate for `ip`, written with its key under `dir` as
    /// `server.crt` and `server.key`.
    pub fn issue(&self, ip: IpAddr, dir: &Path) -> Result<TlsFiles> {
        let mut params = CertificateParams::new(vec![ip.to_string()]).map_err(tls_error)?;
        params.distinguished_name.push(DnType::CommonName, ip.to_string());
        let key = KeyPair::generate().map_err(tls_error)?;
        let certificate = params.signed_by(&key, &self.issuer).map_err(tls_error)?;
        std::fs::create_dir_all(dir).map_err(|e| io_error("cannot create the certificate's directory", dir, e))?;
        let files = TlsFiles { certificate: dir.join("server.crt"), key: dir.join("server.key") };
        write(&files.certificate, &certificate.pem())?;
        write(&files.key, &key.serialize_pem())?;
        Ok(files)
    }
}

fn write(path: &Path, pem: &str) -> Result<()> {
    replace_owner_only(path, pem.as_bytes()).map_err(|e| io_error("cannot write a certificate", path, e))
}

fn tls_error(e: rcgen::Error) -> Error {
    Error::internal(format!("cannot make a test certificate: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authority_writes_only_its_certificate_and_issues_one_for_an_address() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestAuthority::create(&dir.path().join("trust")).unwrap();
        let names: Vec<_> = std::fs::read_dir(ca.trust_dir()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["ca.crt"], "its key never reaches the disk");
        let files = ca.issue("10.231.7.2".parse().unwrap(), &dir.path().join("tls")).unwrap();
        let certificate = std::fs::read_to_string(&files.certificate).unwrap();
        assert!(certificate.starts_with("-----BEGIN CERTIFICATE-----"), "{certificate}");
        assert!(std::fs::read_to_string(&files.key).unwrap().contains("PRIVATE KEY"));
    }
}
