//! TLS wherever browserfarm traffic leaves the host: the server side of every
//! listener (`--tls-cert`, `--tls-key`, and `--tls-client-ca` for mutual TLS)
//! and the client side of every outgoing call (gateway → agent, agent →
//! registry, `browserfarm status`): the system's roots plus `--ca-file`, and a
//! client certificate (`--tls-client-cert`, `--tls-client-key`) for agents that
//! require one. rustls with the aws-lc-rs provider throughout, no OpenSSL.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// A listener's certificate and key, and the CA its clients must present a
/// certificate from (mutual TLS), as files re-read when they change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Only clients with a certificate from this CA may connect.
    pub client_ca: Option<PathBuf>,
}

/// What this process trusts and presents when it calls a TLS listener.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// CA certificates trusted besides the system's (a farm's own CA).
    pub ca_file: Option<PathBuf>,
    /// This process's certificate and key, for listeners that require one.
    pub identity: Option<(PathBuf, PathBuf)>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    // The I/O error in the message and not as a `source`, so a report of the
    // chain does not say it twice.
    #[error("cannot read {what} {}: {error}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{} holds no {what} in PEM form", path.display())]
    Empty { what: &'static str, path: PathBuf },
    #[error("{} holds a {what} rustls cannot use: {reason}", path.display())]
    Unusable {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The system's CA certificates, read once: every node client, registrar and
/// node joining later builds a configuration, and the bundle is hundreds of
/// files. A machine without one (a slim container) still trusts `--ca-file`.
fn native_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: std::sync::OnceLock<Vec<CertificateDer<'static>>> = std::sync::OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Read {
        what,
        path: path.to_owned(),
        error,
    })
}

fn certificates(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path, what)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Unusable {
            what,
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            what,
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path, "private key")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::Empty {
            what: "private key",
            path: path.to_owned(),
        },
        other => TlsError::Unusable {
            what: "private key",
            path: path.to_owned(),
            reason: other.to_string(),
        },
    })
}

fn roots(path: &Path, into: &mut RootCertStore) -> Result<(), TlsError> {
    for cert in certificates(path, "CA certificate")? {
        into.add(cert).map_err(|e| TlsError::Unusable {
            what: "CA certificate",
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

impl ServerTls {
    /// Reads the files into a rustls server configuration (HTTP/1.1).
    pub fn load(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let certs = certificates(&self.cert, "certificate")?;
        let key = private_key(&self.key)?;
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = match &self.client_ca {
            Some(ca) => {
                let mut store = RootCertStore::empty();
                roots(ca, &mut store)?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider())
                        .build()
                        .map_err(|e| TlsError::Config(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_single_cert(certs, key).map_err(|e| {
            TlsError::Config(format!(
                "the certificate {} and the key {} do not go together: {e}",
                self.cert.display(),
                self.key.display()
            ))
        })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// The files whose change means a reload.
    pub(crate) fn files(&self) -> Vec<&Path> {
        let mut files = vec![self.cert.as_path(), self.key.as_path()];
        files.extend(self.client_ca.as_deref());
        files
    }
}

impl ClientTls {
    /// A rustls client configuration: the system's roots and `ca_file`'s, and
    /// the identity when there is one.
    pub fn config(&self) -> Result<ClientConfig, TlsError> {
        let mut store = RootCertStore::empty();
        for cert in native_roots() {
            let _ = store.add(cert.clone());
        }
        if let Some(ca) = &self.ca_file {
            roots(ca, &mut store)?;
        }
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_root_certificates(store);
        let mut config = match &self.identity {
            Some((cert, key)) => builder
                .with_client_auth_cert(certificates(cert, "client certificate")?, private_key(key)?)
                .map_err(|e| {
                    TlsError::Config(format!(
                        "the client certificate {} and the key {} do not go together: {e}",
                        cert.display(),
                        key.display()
                    ))
                })?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    /// A reqwest client builder that speaks TLS this way (and plain HTTP to
    /// `http://` URLs).
    pub fn reqwest(&self) -> Result<reqwest::ClientBuilder, TlsError> {
        Ok(reqwest::Client::builder().tls_backend_preconfigured(self.config()?))
    }
}

/// Words for a failed call that a person can act on: a TLS failure named for
/// what it is (untrusted certificate, wrong name, a required client
/// certificate missing) rather than reqwest's "error sending request".
pub fn describe_failure(error: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut chain = String::new();
    while let Some(e) = source {
        chain.push_str(&e.to_string());
        chain.push('\n');
        source = e.source();
    }
    let says = |needle: &str| chain.contains(needle);
    Some(
        if says("UnknownIssuer") || says("invalid peer certificate: BadSignature") {
            "its TLS certificate is not signed by a CA this process trusts (pass the farm's CA \
         with --ca-file)"
                .to_owned()
        } else if says("NotValidForName") || says("not valid for name") {
            // rustls names both sides: "certificate not valid for name
            // "127.0.0.1"; certificate is only valid for DnsName("localhost")".
            let detail = chain
                .lines()
                .find_map(|l| l.find("not valid for name").map(|at| &l[at..]))
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            format!(
                "its TLS certificate is not issued for the address used to reach it (the \
                 certificate needs it as a subject alternative name{detail})"
            )
        } else if says("Expired")
            || says("certificate expired")
            || says("NotValidYet")
            || says("not valid yet")
        {
            "its TLS certificate has expired or is not valid yet".to_owned()
        } else if says("CertificateRequired") || says("certificate required") {
            "it requires a client certificate (pass --tls-client-cert and --tls-client-key)"
                .to_owned()
        } else if says("UnknownCA") || says("unknown ca") || says("BadCertificate") {
            "it refused this process's client certificate (not from the CA it trusts)".to_owned()
        } else if says("InvalidContentType") || says("CorruptMessage") {
            "it does not speak TLS (use an http:// URL for it)".to_owned()
        } else {
            return None;
        },
    )
}
