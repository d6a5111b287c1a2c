//! The first-party HTTP connection, `type = "http"`, configured by
//! `[connections.weather]` in a Streamlit-style `.streamlit/secrets.toml`.
//!
//! Run it with `cargo run -p connections-tests --example http`. It needs no
//! network: it starts a small weather API of its own on a free local port,
//! which wants a bearer token, and points the secrets at it.

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use connections::http::HttpConnection;
use connections::prelude::*;
use connections::{Error, Secret};
use serde::Deserialize;

#[derive(Deserialize, Debug, Clone)]
#[allow(dead_code)]
struct Forecast {
    city: String,
    celsius: f64,
    asked_by: String,
}

/// The API: `GET /v2/forecast?city=` for a known bearer token, else 401.
async fn start_api() -> Result<String, BoxError> {
    async fn forecast(headers: HeaderMap, query: axum::extract::Query<Vec<(String, String)>>) -> (StatusCode, String) {
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let asked_by = match token {
            "Bearer service-token" => "the service",
            "Bearer ada-token" => "ada",
            _ => return (StatusCode::UNAUTHORIZED, "{\"error\":\"unknown token\"}".to_owned()),
        };
        let city = query
            .0
            .iter()
            .find(|(k, _)| k == "city")
            .map_or("nowhere", |(_, v)| v.as_str());
        (
            StatusCode::OK,
            format!("{{\"city\":\"{city}\",\"celsius\":21.5,\"asked_by\":\"{asked_by}\"}}"),
        )
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let app = axum::Router::new().route("/v2/forecast", axum::routing::get(forecast));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{address}/v2/"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let base_url = start_api().await?;
    let secrets = format!(
        "# .streamlit/secrets.toml, as a Streamlit app has it
[connections.weather]
type = \"http\"
base_url = \"{base_url}\"
token = \"service-token\"     # never printed: see `describe` below
timeout = 10                # seconds for a whole request (default 30)
"
    );
    // Work in a fresh directory so `./.streamlit/secrets.toml` is ours.
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join(".streamlit"))?;
    std::fs::write(dir.path().join(".streamlit/secrets.toml"), &secrets)?;
    std::env::set_current_dir(dir.path())?;
    println!("wrote .streamlit/secrets.toml in {}:\n{secrets}", dir.path().display());

    let weather = connections::connection::<HttpConnection>("weather")?;
    println!("1. describe, without a request: {}", weather.describe()?);

    let forecast: Forecast = weather
        .get("forecast")
        .query(&[("city", "Lisbon")])
        .send()
        .await?
        .json()?;
    println!("2. GET forecast?city=Lisbon with the section's token: {forecast:?}");

    let ttl = Duration::from_mins(1);
    let cold = Instant::now();
    weather.get("forecast?city=Oslo").ttl(ttl).send().await?;
    let cold = cold.elapsed();
    let hit = Instant::now();
    let cached: Forecast = weather.get("forecast?city=Oslo").ttl(ttl).send().await?.json()?;
    println!(
        "3. with .ttl(60 s): the first read took {cold:?}, the second {:?} from the cache: {cached:?}",
        hit.elapsed()
    );

    let ada = weather.with_token(Secret::new("ada-token".to_owned()));
    let hers: Forecast = ada.get_json("forecast?city=Porto").await?;
    println!("4. a viewer's own token replaces the section's for her requests: {hers:?}");

    let stranger = weather.with_token(Secret::new("stolen-token".to_owned()));
    let err = stranger.get_json::<Forecast>("forecast?city=Porto").await.unwrap_err();
    println!("5. a refused token is an error that names what to check, not the token:\n    {err}");
    assert!(!err.to_string().contains("stolen-token"));

    let err = weather.get("../admin").send().await.unwrap_err();
    assert!(matches!(err, Error::InvalidCall { .. }));
    println!("6. a path that climbs out of base_url is refused before it is sent:\n    {err}");

    let checks = connections::Registry::global().check().await;
    println!(
        "7. the health check (a HEAD of base_url): ok = {}",
        checks.iter().all(|c| c.ok)
    );
    Ok(())
}
