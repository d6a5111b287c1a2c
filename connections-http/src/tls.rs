//! The rustls configuration of a section: its roots, its client
//! certificate and its oldest version, each honoured or refused with an
//! error; never a weaker connection.

use std::path::Path;
use std::sync::Arc;

use connections_core::{Config, Error};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::options::TlsOptions;

/// The TLS configuration `options` asks for, on ring.
pub(crate) fn client_config(config: &Config, options: &TlsOptions) -> Result<ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = if options.min_tls13 {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|error| config.invalid("tls.min_version", format!("cannot be honoured: {error}")))?
        .with_root_certificates(roots(config, options)?);
    let mut tls = match (&options.client_cert, &options.client_key) {
        (Some(cert), Some(key)) => {
            let chain = certificates(config, "tls.client_cert", cert)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|error| {
                config.invalid(
                    "tls.client_key",
                    format!(
                        "`{}` holds no private key that can be read ({error}); write the path of a PEM file with a PKCS#8, PKCS#1 or SEC1 key",
                        key.display()
                    ),
                )
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|error| {
                config.invalid(
                    "tls.client_key",
                    format!("does not fit `client_cert` ({error}): write the key of that certificate"),
                )
            })?
        }
        _ => builder.with_no_client_auth(),
    };
    // The client speaks HTTP/1.1; say so, so that a server never picks HTTP/2 for it.
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

/// `ca_file`'s certificates, or Mozilla's roots without one.
fn roots(config: &Config, options: &TlsOptions) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    let Some(ca_file) = &options.ca_file else {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(roots);
    };
    for certificate in certificates(config, "tls.ca_file", ca_file)? {
        roots.add(certificate).map_err(|error| {
            config.invalid(
                "tls.ca_file",
                format!(
                    "`{}` holds a certificate that cannot be trusted as a root ({error})",
                    ca_file.display()
                ),
            )
        })?;
    }
    Ok(roots)
}

/// The certificates of the PEM file at `path`, at least one.
fn certificates(config: &Config, key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let unreadable = |problem: String| {
        config.invalid(
            key,
            format!(
                "`{}` {problem}; write the path of a PEM file (`-----BEGIN CERTIFICATE-----`)",
                path.display()
            ),
        )
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| unreadable(format!("cannot be read ({error})")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| unreadable(format!("is not PEM ({error})")))?;
    if certificates.is_empty() {
        return Err(unreadable("holds no certificate".to_owned()));
    }
    Ok(certificates)
}
