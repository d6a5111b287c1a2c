//! A TLS client (`rediss://`, or a `tls` table): Mozilla's roots or
//! `ca_file`'s, and a client certificate, each honoured or refused with an
//! error naming the key; never a plaintext connection instead.

use std::path::Path;

use connections_core::{Config, Error};
use redis::{ClientTlsConfig, TlsCertificates};

use crate::options::RedisOptions;

/// The driver's client for `options`, which speak TLS.
pub(crate) fn client(config: &Config, options: &RedisOptions) -> Result<redis::Client, Error> {
    // The driver builds its rustls configuration on the process's provider:
    // ring, as the other first-party connections use it, unless the
    // application installed one (a build with two providers and none
    // installed could not choose).
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let read = |key: &str, path: &Path| {
        std::fs::read(path).map_err(|error| {
            config.invalid(
                key,
                format!(
                    "`{}` cannot be read ({error}); write the path of a PEM file",
                    path.display()
                ),
            )
        })
    };
    let root_cert = match &options.tls.ca_file {
        Some(path) => {
            let pem = read("tls.ca_file", path)?;
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(config.invalid(
                    "tls.ca_file",
                    format!(
                        "`{}` holds no certificate; write the path of a PEM file (`-----BEGIN CERTIFICATE-----`)",
                        path.display()
                    ),
                ));
            }
            Some(pem)
        }
        None => None,
    };
    let client_tls = match &options.tls.client {
        Some((cert, key)) => Some(ClientTlsConfig {
            client_cert: read("tls.client_cert", cert)?,
            client_key: read("tls.client_key", key)?,
        }),
        None => None,
    };
    redis::Client::build_with_tls(options.info.clone(), TlsCertificates { client_tls, root_cert }).map_err(|error| {
        // The driver's message names what failed to parse, never a file's contents.
        config.invalid("tls", format!("could not be used: {error}"))
    })
}
