//! A private CA, and a TLS front for a plaintext server, for the TLS tests
//! of the first-party connections: the server's certificate (for
//! `localhost`) and a client certificate, each signed by the CA, written as
//! PEM files the way a secrets file names them.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A CA and what it signed, in a temporary folder.
pub(crate) struct Pki {
    _dir: tempfile::TempDir,
    /// The CA's certificate: what a client's `ca_file` names.
    pub(crate) ca_file: PathBuf,
    /// A client certificate and its key, signed by the CA.
    pub(crate) client_cert: PathBuf,
    pub(crate) client_key: PathBuf,
    server_cert: String,
    server_key: String,
    ca_cert: String,
}

impl Pki {
    pub(crate) fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(ca, ca_key);
        let signed = |names: Vec<String>| {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(names).unwrap().signed_by(&key, &issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = signed(vec!["localhost".to_owned()]);
        let (client_cert, client_key) = signed(vec!["client.test".to_owned()]);
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        Pki {
            ca_file: write("ca.pem", &ca_cert),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client-key.pem", &client_key),
            _dir: dir,
            server_cert,
            server_key,
            ca_cert,
        }
    }

    /// Starts a TLS front for `upstream` on a free port of 127.0.0.1: it
    /// speaks only the TLS `versions`, asks for a client certificate signed
    /// by the CA if `client_auth`, and relays the plaintext both ways. Its port.
    pub(crate) async fn front(
        &self,
        upstream: String,
        versions: &[&'static rustls::SupportedProtocolVersion],
        client_auth: bool,
    ) -> u16 {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(versions)
            .unwrap();
        let builder = if client_auth {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_slice(self.ca_cert.as_bytes()).unwrap())
                .unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let chain = vec![CertificateDer::from_pem_slice(self.server_cert.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(self.server_key.as_bytes()).unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(builder.with_single_cert(chain, key).unwrap()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
                tokio::spawn(async move {
                    // A failed handshake is the client's to report.
                    let Ok(mut tls) = acceptor.accept(client).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        port
    }
}
