//! A small axum service: each request looks up the SQL connection `db` by
//! name (a cached lookup, nanoseconds after the first), `/healthz` serves
//! `Registry::check()`, and Ctrl-C or SIGTERM shuts down gracefully, closing
//! the connections with `Registry::shutdown()`.
//!
//! Configure `db` as an application would, in `.streamlit/secrets.toml`:
//!
//! ```toml
//! [connections.db]
//! type = "sql"
//! url = "postgresql://app@localhost:5432/app"
//! ```
//!
//! or from the environment, with no file at all:
//!
//! ```sh
//! CONNECTIONS__DB__TYPE=sql CONNECTIONS__DB__URL=sqlite::memory: cargo run --example axum
//! curl localhost:3000/           # a query on `db`
//! curl localhost:3000/healthz    # 200 with every check, or 503
//! ```
//!
//! `PORT` sets the port (3000).

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use connections_core::Registry;
use connections_core::sql::SqlConnection;

#[tokio::main]
async fn main() -> Result<(), connections_core::BoxError> {
    // The global registry: what `connections_core::connection` uses. Set up
    // here so that an edit of the secrets reloads the pool while serving.
    let registry = Registry::init_global(Registry::builder().watch(true))?;
    let port: u16 = std::env::var("PORT").map_or(Ok(3000), |p| p.parse())?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    println!("listening on http://{}", listener.local_addr()?);

    let app = Router::new()
        .route("/", get(query))
        .route("/healthz", get(healthz))
        .with_state(registry);
    axum::serve(listener, app).with_graceful_shutdown(stopped()).await?;

    // In-flight requests are done: close every connection (the pool's sessions).
    registry.shutdown().await;
    println!("shut down: connections closed");
    Ok(())
}

/// `GET /`: looks `db` up per request and runs a query on it.
async fn query() -> Result<String, AppError> {
    let db = connections_core::connection::<SqlConnection>("db")?;
    let table = db.query("SELECT 1 + 1 AS two").fetch_table().await?;
    Ok(format!("{table}\n"))
}

/// `GET /healthz`: every cached connection's check, 200 if all pass, else 503.
async fn healthz(State(registry): State<&'static Registry>) -> Response {
    let checks = registry.check().await;
    let ok = checks.iter().all(|c| c.ok);
    let body = serde_json::json!({
        "ok": ok,
        "checks": checks,
        "connections": registry.health(),
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// A failed request: 500 with the error's message, which names the
/// connection and its cause, with its secrets masked.
struct AppError(connections_core::Error);

impl From<connections_core::Error> for AppError {
    fn from(error: connections_core::Error) -> Self {
        Self(error)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, format!("{}\n", self.0)).into_response()
    }
}

/// Resolves on Ctrl-C or (Unix) SIGTERM.
async fn stopped() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    println!("stopping: finishing in-flight requests");
}
