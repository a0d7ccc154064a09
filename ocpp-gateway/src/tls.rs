//! TLS termination for the OCPP websocket: security profiles 2 (TLS with Basic auth) and 3 (TLS
//! with client certificates) of the OCPP 1.6 security whitepaper and OCPP 2.0.1 part 2 A00.
//!
//! [`TlsListener`] is an [`axum::serve::Listener`]: it accepts TCP connections, runs the rustls
//! handshake for each in a task of its own (bounded by [`HANDSHAKE_TIMEOUT`], so a slow or silent
//! client never stalls the accept loop, and a failed handshake is logged and forgotten), and hands
//! axum only finished TLS streams with a [`Peer`] saying what the handshake proved. The websocket
//! handshake reads that [`Peer`] through `ConnectInfo` and passes its [`ConnectionSecurity`] to the
//! backend's admission check, which decides per station which profile it must use.
//!
//! Client certificates are optional at the TLS level (profile-2 stations use the same listener);
//! when a station sends one, it must chain to the configured CA or the TLS handshake fails.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::name::DirectoryString;

use crate::port::ConnectionSecurity;

/// How long a client has to finish the TLS handshake after its TCP connection was accepted.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Finished handshakes waiting for axum to take them. Small: axum takes each at once and spawns
/// its connection task.
const READY_QUEUE: usize = 64;

/// Where the listener's certificate, key and client CA come from (PEM files).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Server certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// Private key of the server certificate (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// CA bundle that client certificates must chain to (profile 3); `None` requests none.
    pub client_ca_file: Option<PathBuf>,
}

/// Why the TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file is missing, unreadable or holds nothing usable.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the certificate, key or CA.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// Builds the rustls server configuration from PEM files. With a client CA, client certificates
/// are requested and verified but not required, so profile-2 stations share the listener and the
/// admission check enforces profile 3 per station.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let file_error = |path: &PathBuf, reason: String| TlsError::File {
        path: path.clone(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(&files.cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| file_error(&files.cert_file, e.to_string()))?;
    if certs.is_empty() {
        return Err(file_error(&files.cert_file, "no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key_file)
        .map_err(|e| file_error(&files.key_file, e.to_string()))?;
    // An explicit provider: the process-wide default is ambiguous when several crates in the
    // build enable different rustls backends.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match &files.client_ca_file {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for ca in
                CertificateDer::pem_file_iter(path).map_err(|e| file_error(path, e.to_string()))?
            {
                let ca = ca.map_err(|e| file_error(path, e.to_string()))?;
                roots.add(ca).map_err(|e| file_error(path, e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(file_error(path, "no CA certificate".into()));
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(Arc::new(config))
}

/// Who is on the other end of a websocket connection, as far as the transport can tell.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    /// TLS or not, and the verified client certificate's CN.
    pub security: ConnectionSecurity,
}

/// Plain `ws://` connections: no TLS, no certificate.
impl Connected<IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Peer {
            addr: *stream.remote_addr(),
            security: ConnectionSecurity::default(),
        }
    }
}

/// `wss://` connections: what the TLS handshake proved.
impl Connected<IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A listener that yields TLS streams whose handshake has finished. Dropping it (axum does on
/// graceful shutdown) stops the accept task.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, Peer)>,
    local_addr: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp`, handshaking each connection with `config`.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> io::Result<TlsListener> {
        let local_addr = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), tx));
        Ok(TlsListener { ready, local_addr })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = Peer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(ready) => ready,
            // The accept task only ends when this listener is dropped, so this does not happen;
            // if it did, waiting forever is what "no more connections" means to axum.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(Peer {
            addr: self.local_addr,
            security: ConnectionSecurity {
                tls: true,
                client_cert_cn: None,
            },
        })
    }
}

/// TLS handshakes in progress at once. Each costs a task and a few KiB for up to
/// [`HANDSHAKE_TIMEOUT`]; past this many, accepting waits (the kernel's backlog holds the rest), so
/// a flood of silent connections cannot grow memory without bound.
pub const MAX_CONCURRENT_HANDSHAKES: usize = 1024;

/// Accepts TCP connections until the listener is dropped; each handshake runs in its own task.
async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, Peer)>,
) {
    let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_HANDSHAKES));
    loop {
        let permit = tokio::select! {
            _ = ready.closed() => return,
            permit = handshakes.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let (stream, addr) = tokio::select! {
            _ = ready.closed() => return,
            accepted = tcp.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning, as
                    // axum's own TCP listener does.
                    tracing::error!(error = %e, "TLS listener: accept failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
            drop(permit);
            let stream = match handshake {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::warn!(peer = %addr, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::warn!(peer = %addr, "TLS handshake timed out");
                    return;
                }
            };
            let client_cert_cn = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|leaf| {
                    let cn = subject_cn(leaf);
                    if cn.is_none() {
                        tracing::warn!(peer = %addr, "client certificate without a single readable subject CN");
                    }
                    cn
                });
            let peer = Peer {
                addr,
                security: ConnectionSecurity {
                    tls: true,
                    client_cert_cn,
                },
            };
            // Fails only when the listener is gone (shutdown): the connection is dropped.
            let _ = ready.send((stream, peer)).await;
        });
    }
}

/// The subject common name of a DER certificate, when it has exactly one. The station id is
/// compared against it (OCPP 1.6 security whitepaper and OCPP 2.0.1 part 2 A00, profile "TLS with
/// Client Side Certificates": the certificate's CN names the charging station); several CNs would
/// make that comparison ambiguous.
pub fn subject_cn(der: &CertificateDer<'_>) -> Option<String> {
    let cert = x509_cert::Certificate::from_der(der.as_ref()).ok()?;
    let mut names = cert
        .tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|attribute| attribute.oid == x509_cert::der::oid::db::rfc4519::CN);
    let (Some(cn), None) = (names.next(), names.next()) else {
        return None;
    };
    let encoded = x509_cert::der::Encode::to_der(&cn.value).ok()?;
    Some(match DirectoryString::from_der(&encoded).ok()? {
        DirectoryString::PrintableString(s) => s.to_string(),
        DirectoryString::TeletexString(s) => s.to_string(),
        DirectoryString::Utf8String(s) => s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(names: &[(rcgen::DnType, &str)]) -> CertificateDer<'static> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (kind, value) in names {
            params.distinguished_name.push(kind.clone(), *value);
        }
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn reads_the_subject_common_name() {
        let cert = certificate(&[
            (rcgen::DnType::OrganizationName, "Example CPO"),
            (rcgen::DnType::CommonName, "CP-001"),
        ]);
        assert_eq!(subject_cn(&cert).as_deref(), Some("CP-001"));
    }

    #[test]
    fn a_certificate_without_exactly_one_common_name_names_no_station() {
        let none = certificate(&[(rcgen::DnType::OrganizationName, "Example CPO")]);
        assert_eq!(subject_cn(&none), None);
        assert_eq!(subject_cn(&CertificateDer::from(vec![1, 2, 3])), None);
    }
}
