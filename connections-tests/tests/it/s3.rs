//! `type = "files"` on a real S3-protocol server when
//! `CONNECTIONS_TEST_S3_URL` is set: `.ci/run` installs `s3s-fs` from the
//! Rust package registry, starts it with an access key, and sets the
//! variable to `http://<key id>:<secret>@127.0.0.1:<port>/<bucket>`. Each
//! test says it skipped when it is not set, and fails if it is set and the
//! server cannot be reached.

use std::sync::Arc;
use std::time::{Duration, Instant};

use connections::files::FilesConnection;
use connections::{Connection as _, Error, Registry};
use futures_util::TryStreamExt as _;
use tokio_rustls::rustls::version::{TLS12, TLS13};

use super::files::registry_with;
use super::relay::Relay;
use super::sql::{runtime, server_url};
use super::tls::Pki;

/// The test server: where, its bucket and its access key.
pub(crate) struct Server {
    /// `127.0.0.1:port`.
    pub(crate) address: String,
    pub(crate) bucket: String,
    pub(crate) key_id: String,
    pub(crate) secret: String,
}

impl Server {
    /// The server `CONNECTIONS_TEST_S3_URL` names, or `None` after saying the test skipped.
    pub(crate) fn from_env() -> Option<Server> {
        let url = url::Url::parse(&server_url("CONNECTIONS_TEST_S3_URL")?).expect("CONNECTIONS_TEST_S3_URL is a URL");
        Some(Server {
            address: format!("{}:{}", url.host_str().unwrap(), url.port().unwrap()),
            bucket: url.path().trim_matches('/').to_owned(),
            key_id: url.username().to_owned(),
            secret: url.password().unwrap().to_owned(),
        })
    }

    /// A section's keys for a root `prefix` in the bucket (unique per run),
    /// through `endpoint` (the server's own address unless given).
    pub(crate) fn section(&self, prefix: &str, endpoint: Option<&str>) -> String {
        format!(
            "url = 's3://{}/{prefix}-{}'\nendpoint_url = '{}'\nallow_http = true\naccess_key_id = '{}'\nsecret_access_key = '{}'\nregion = 'us-east-1'\n",
            self.bucket,
            std::process::id(),
            endpoint.map_or_else(|| format!("http://{}", self.address), str::to_owned),
            self.key_id,
            self.secret,
        )
    }
}

#[test]
fn every_call_round_trips_on_the_s3_server() {
    let Some(server) = Server::from_env() else { return };
    runtime().block_on(async {
        let registry = registry_with("s3_calls", &server.section("calls", None));
        let files = registry.connection::<FilesConnection>("s3_calls").unwrap();
        println!("{}", files.describe().unwrap());
        files.write("raw/blob.bin", vec![0_u8, 1, 2, 255]).await.unwrap();
        assert_eq!(&files.read("raw/blob.bin").bytes().await.unwrap()[..], [0, 1, 2, 255]);
        files.write("pets.csv", "name,age\nRex,3\nTom,5\n").await.unwrap();
        assert_eq!(files.read("pets.csv").text().await.unwrap(), "name,age\nRex,3\nTom,5\n");
        files.copy("pets.csv", "copies/pets.csv").await.unwrap();
        assert_eq!(files.head("copies/pets.csv").await.unwrap().size, 21);
        assert_eq!(
            files.list("").await.unwrap(),
            ["copies/pets.csv", "pets.csv", "raw/blob.bin"]
        );
        assert_eq!(files.list("copies").await.unwrap(), ["copies/pets.csv"]);

        // Read, write through the connection, read again: the write is seen.
        let minute = Duration::from_mins(1);
        assert_eq!(
            files.read("pets.csv").ttl(minute).text().await.unwrap().lines().count(),
            3
        );
        files.write("pets.csv", "name,age\nRex,3\n").await.unwrap();
        assert_eq!(
            files.read("pets.csv").ttl(minute).text().await.unwrap().lines().count(),
            2
        );
        files.delete("pets.csv").await.unwrap();
        let err = files.read("pets.csv").ttl(minute).bytes().await.unwrap_err();
        println!("{err}");
        assert!(
            err.to_string()
                .contains(&format!("`pets.csv` was not found under s3://{}/calls-", server.bucket)),
            "{err}"
        );
        let checks = registry.check().await;
        assert!(checks.iter().all(|check| check.ok), "{checks:?}");
        for path in files.list("").await.unwrap() {
            files.delete(&path).await.unwrap();
        }
    });
}

#[test]
fn every_format_round_trips_on_the_s3_server() {
    let Some(server) = Server::from_env() else { return };
    runtime().block_on(async {
        let registry = registry_with("s3_formats", &server.section("formats", None));
        let files = registry.connection::<FilesConnection>("s3_formats").unwrap();
        super::files::every_format_round_trips(&files).await;
        for path in files.list("").await.unwrap() {
            files.delete(&path).await.unwrap();
        }
    });
}

#[test]
fn a_wrong_secret_key_is_an_auth_error_naming_the_bucket_and_key_id_never_the_secret() {
    let Some(server) = Server::from_env() else { return };
    runtime().block_on(async {
        let wrong = "wrong-secret-Zq81xv";
        let section = server.section("auth", None).replace(
            &format!("secret_access_key = '{}'", server.secret),
            &format!("secret_access_key = '{wrong}'"),
        ) + "retries = 0\n";
        let registry = registry_with("s3_auth", &section);
        let files = registry.connection::<FilesConnection>("s3_auth").unwrap();
        for err in [
            files.read("any.txt").bytes().await.unwrap_err(),
            files.write("any.txt", "x").await.unwrap_err(),
        ] {
            let (text, debug) = (err.to_string(), format!("{err:?}"));
            println!("{text}");
            assert!(text.contains(&format!("access key id `{}`", server.key_id)), "{text}");
            assert!(text.contains(&format!("bucket `{}`", server.bucket)), "{text}");
            assert!(!text.contains(wrong) && !debug.contains(wrong), "{text}\n{debug}");
        }
        // The health check's listing is refused the same way and says so (the
        // registry's check redaction masks every value of a `key` name, the id too).
        let checks = registry.check().await;
        assert!(!checks[0].ok);
        let said = format!("{checks:?}");
        assert!(
            said.contains(&format!("refused access key id `***` for bucket `{}`", server.bucket)),
            "{said}"
        );
        assert!(!said.contains(wrong), "{said}");
        let err = files.list("").await.unwrap_err();
        assert!(
            err.to_string().contains(&format!("bucket `{}`", server.bucket)),
            "{err}"
        );
    });
}

#[test]
fn a_streamlit_files_connection_section_is_read_unchanged() {
    let Some(server) = Server::from_env() else { return };
    runtime().block_on(async {
        // The server behind TLS, its certificate signed by a private CA that
        // botocore's `verify` names, as a Streamlit app's section would.
        let pki = Pki::new();
        let port = pki.front(server.address.clone(), &[&TLS13, &TLS12], false).await;
        let section = format!(
            "[connections.s3]\nkey = '{}'\nsecret = '{}'\nendpoint_url = 'https://localhost:{port}'\nclient_kwargs = {{ region_name = 'us-east-1', verify = '{}' }}\n",
            server.key_id,
            server.secret,
            pki.ca_file.display(),
        );
        println!("{section}");
        let registry = Registry::builder().secrets_toml("secrets.toml", section).build();
        // `st.connection("s3", type=FilesConnection)`: the type in the code,
        // the protocol from the name, the bucket in each path.
        let files = registry.connection::<FilesConnection>("s3").unwrap();
        println!("{}", files.describe().unwrap());
        let path = format!("{}/streamlit-{}/myfile.csv", server.bucket, std::process::id());
        files.write(&path, "first,second\n1,2\n").await.unwrap();
        let rows = files.read(&path).csv::<std::collections::HashMap<String, u32>>().await.unwrap();
        assert_eq!(rows[0]["second"], 2);
        let prefix = format!("{}/streamlit-{}", server.bucket, std::process::id());
        assert_eq!(files.list(&prefix).await.unwrap(), [path.as_str()]);
        files.delete(&path).await.unwrap();

        let err = files.read(&server.bucket).bytes().await.unwrap_err();
        println!("{err}");
        assert!(err.to_string().contains("names a bucket alone"), "{err}");
    });
}

#[test]
fn tls_to_the_store_is_checked_never_turned_off() {
    let Some(server) = Server::from_env() else { return };
    runtime().block_on(async {
        let pki = Pki::new();
        let port = pki.front(server.address.clone(), &[&TLS13], false).await;
        let https = format!("https://localhost:{port}");
        let base = server.section("tls", Some(&https)).replace("allow_http = true\n", "") + "retries = 0\n";
        // Without the CA, the server's certificate is refused, not ignored.
        let registry = registry_with("s3_tls_plain", &base);
        let files = registry.connection::<FilesConnection>("s3_tls_plain").unwrap();
        let err = files.write("t.txt", "x").await.unwrap_err();
        println!("{err}");
        assert!(err.to_string().to_lowercase().contains("certificate"), "{err}");
        // With it, the same server is reached.
        let section = format!("{base}ca_file = '{}'\n", pki.ca_file.display());
        let registry = registry_with("s3_tls_ca", &section);
        let files = registry.connection::<FilesConnection>("s3_tls_ca").unwrap();
        files.write("t.txt", "over tls").await.unwrap();
        assert_eq!(files.read("t.txt").text().await.unwrap(), "over tls");
        files.delete("t.txt").await.unwrap();
    });
}

#[test]
fn a_silent_network_is_bounded_by_the_sections_timeout() {
    let Some(server) = Server::from_env() else { return };
    runtime().block_on(async {
        let relay = Relay::start(server.address.clone()).await;
        let endpoint = format!("http://127.0.0.1:{}", relay.port);
        let section = server.section("silent", Some(&endpoint)) + "timeout = 0.5\nretries = 1\nretry_timeout = 5\n";
        let registry = registry_with("s3_silent", &section);
        let files = registry.connection::<FilesConnection>("s3_silent").unwrap();
        files.write("s.txt", "before").await.unwrap();
        relay.set_silent(true);
        let started = Instant::now();
        let err = files.read("s.txt").bytes().await.unwrap_err();
        let took = started.elapsed();
        println!("silent for {took:?}: {err}");
        // Two attempts of 0.5 s and one backoff, well within 3 s.
        assert!(took < Duration::from_secs(3), "{took:?}");
        assert!(err.to_string().contains("`s.txt` under s3://"), "{err}");
        relay.set_silent(false);
        assert_eq!(files.read("s.txt").text().await.unwrap(), "before");
        files.delete("s.txt").await.unwrap();
    });
}

#[test]
fn a_rotated_access_key_takes_effect_without_dropping_in_flight_reads() {
    let Some(server) = Server::from_env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets.toml");
    let good = format!(
        "[connections.s3_rot]\ntype = 'files'\n{}retries = 0\n",
        server.section("rot", None)
    );
    // The access key rotates to one this server does not know.
    let rotated = good
        .replace(&format!("'{}'", server.key_id), "'AKIDROTATED'")
        .replace(&format!("'{}'", server.secret), "'rotated-secret-Vw92'");
    std::fs::write(&file, &good).unwrap();
    runtime().block_on(async {
        let registry = Registry::builder().secrets_paths([&file]).build();
        let files = registry.connection::<FilesConnection>("s3_rot").unwrap();
        let size = 4 * 1024 * 1024;
        for n in 0..4 {
            files.write(&format!("in-flight-{n}.bin"), vec![n; size]).await.unwrap();
        }
        // Reads under way: each has its answer's head, its body still to come.
        let mut streams = Vec::new();
        for n in 0..4_u8 {
            let mut stream = files.open(&format!("in-flight-{n}.bin")).await.unwrap();
            let first = stream.try_next().await.unwrap().unwrap();
            streams.push((n, first.len(), stream));
        }
        let before = files.instance().await.unwrap();

        std::fs::write(&file, &rotated).unwrap();
        registry.reload_secrets().unwrap();
        let err = files.read("in-flight-0.bin").bytes().await.unwrap_err();
        println!("after the rotation: {err}");
        assert!(err.to_string().contains("access key id `AKIDROTATED`"), "{err}");
        assert!(!Arc::ptr_eq(&before, &files.instance().await.unwrap()));

        // The reads begun before it finish whole.
        for (n, mut total, mut stream) in streams {
            while let Some(chunk) = stream.try_next().await.unwrap() {
                assert!(chunk.iter().all(|b| *b == n));
                total += chunk.len();
            }
            assert_eq!(total, size, "in-flight read {n}");
        }

        // And back: the next read signs with the key of the secrets again.
        std::fs::write(&file, &good).unwrap();
        registry.reload_secrets().unwrap();
        assert_eq!(files.read("in-flight-1.bin").bytes().await.unwrap().len(), size);
        for n in 0..4 {
            files.delete(&format!("in-flight-{n}.bin")).await.unwrap();
        }
    });
}

#[test]
fn sections_mistakes_name_the_key_and_never_a_secret() {
    runtime().block_on(async {
        let secret = "s3cr3t-Hq27";
        for (section, says) in [
            ("url = 's3:///prefix'", "names no bucket"),
            ("url = 'https://example.com/x'", "endpoint_url"),
            ("url = 'memory://'\nkey = 'AKID'", "the memory store reads none"),
            (
                "url = 's3://b'\nendpoint_url = 'http://127.0.0.1:1'",
                "set `allow_http = true`",
            ),
            ("url = 's3://b'\nclient_kwargs = { verify = false }", "never does"),
            ("url = 's3://b'\npasword = 's3cr3t-Hq27'", "`pasword`"),
            ("url = 's3://b'\naws_allow_invalid_certificates = true", "never does"),
            ("url = 'gs://b'\nclient_kwargs = { region_name = 'x' }", "s3fs's table"),
            ("protocol = 'ftp'", "names no store"),
            ("protocol = 'file'", "file:///path/to/dir"),
            ("url = 's3://b'\nprotocol = 'gcs'", "keep one of them"),
        ] {
            let registry = registry_with("files_bad", section);
            let files = registry.connection::<FilesConnection>("files_bad").unwrap();
            let err = files.read("x").bytes().await.unwrap_err();
            let text = format!("{err} {err:?}");
            println!("{err}");
            assert!(
                matches!(err, Error::InvalidValue { .. } | Error::MissingKey { .. }),
                "{section}: {err}"
            );
            assert!(text.contains(says), "{section}: {err}");
            assert!(!text.contains(secret), "{section}: {text}");
        }
    });
}

#[test]
fn a_section_without_credentials_says_where_they_were_looked_for() {
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        println!("skipped: AWS_ACCESS_KEY_ID is set, so the store has credentials");
        return;
    }
    runtime().block_on(async {
        // The metadata service a cloud machine has, here a closed port: refused at once.
        let section = "url = 's3://b/x'\nregion = 'us-east-1'\nmetadata_endpoint = 'http://127.0.0.1:9'\nretries = 0\n";
        let registry = registry_with("s3_anonymous", section);
        let files = registry.connection::<FilesConnection>("s3_anonymous").unwrap();
        let err = files.read("a.txt").bytes().await.unwrap_err();
        println!("{err}");
        let text = err.to_string();
        assert!(text.contains("the section holds no credentials"), "{text}");
        assert!(text.contains("`key` and `secret`"), "{text}");
    });
}
