//! Certificates a test makes for itself (rcgen): a CA, a server certificate
//! for 127.0.0.1 and localhost signed by it, and a client certificate for
//! mutual TLS, written as PEM files into a directory of the test's own.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

/// One CA's files: `ca.pem`, `server.pem` + `server.key` (for 127.0.0.1 and
/// localhost), `client.pem` + `client.key`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl TlsFiles {
    /// Makes a CA named `name` and its certificates under `dir` (created).
    pub fn make(dir: &Path, name: &str) -> TlsFiles {
        Self::make_for(dir, name, &["127.0.0.1", "localhost"])
    }

    /// [`TlsFiles::make`] with a server certificate for `names` (host names
    /// or IP addresses) only.
    pub fn make_for(dir: &Path, name: &str, names: &[&str]) -> TlsFiles {
        std::fs::create_dir_all(dir).expect("create the certificate directory");
        let ca_key = KeyPair::generate().expect("a key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        let ca = ca_params.self_signed(&ca_key).expect("a CA certificate");

        let issue = |sans: Vec<String>, usage: ExtendedKeyUsagePurpose, cn: &str| {
            let key = KeyPair::generate().expect("a key");
            let mut params = CertificateParams::new(sans).expect("params");
            params.extended_key_usages = vec![usage];
            params.distinguished_name.push(DnType::CommonName, cn);
            let cert = params.signed_by(&key, &ca, &ca_key).expect("signed");
            (cert.pem(), key.serialize_pem())
        };
        let (server_pem, server_key) = issue(
            names.iter().map(|n| n.to_string()).collect(),
            ExtendedKeyUsagePurpose::ServerAuth,
            "browserfarm test server",
        );
        let (client_pem, client_key) = issue(
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
            "browserfarm test gateway",
        );
        let files = TlsFiles {
            dir: dir.to_owned(),
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
        };
        for (path, text) in [
            (&files.ca, ca.pem()),
            (&files.cert, server_pem),
            (&files.key, server_key),
            (&files.client_cert, client_pem),
            (&files.client_key, client_key),
        ] {
            std::fs::write(path, text).expect("write a certificate file");
        }
        files
    }

    /// Puts `other`'s server certificate and key in place of this one's (a
    /// renewal, here by another CA so a client can tell which it got).
    pub fn replace_server_with(&self, other: &TlsFiles) {
        std::fs::copy(&other.key, &self.key).expect("copy the key");
        std::fs::copy(&other.cert, &self.cert).expect("copy the certificate");
    }

    pub fn path(path: &Path) -> &str {
        path.to_str().expect("a UTF-8 path")
    }
}
