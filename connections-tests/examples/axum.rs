//! A small multi-tenant axum service: each request looks up the SQL
//! connection `db` by name (a cached lookup, nanoseconds after the first),
//! and `/me` uses the calling user's own session-scoped connection, kept
//! between requests for an idle time; `/healthz` serves
//! `Registry::check_with`, one row per connection however many users are
//! signed in; Ctrl-C or SIGTERM shuts down gracefully, closing every
//! connection with `Registry::shutdown()`.
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
//! curl localhost:3000/                        # a query on `db`
//! curl -H 'x-user: ada' localhost:3000/me     # ada's session: the same token on every request
//! curl localhost:3000/healthz                 # 200 with every check, or 503
//! ```
//!
//! `PORT` sets the port (3000), `SESSION_IDLE_SECS` how long a user's
//! session outlives their last request (1800).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Extension, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use connections::prelude::*;
use connections::sql::SqlConnection;
use connections::{Registry, Scope, ScopedChecks};

/// A user's own API client, one per session: what a per-user OAuth token
/// or a driver that must not be shared looks like.
#[derive(Connection)]
#[connection(type_name = "user-api", scope = "session")]
struct UserApi {
    base: BaseConnection<UserClient>,
}

/// The raw instance: a client that acts as one user.
struct UserClient {
    user: String,
    token: String,
}

/// Tokens handed out so far, so that a new one is told from an old one.
static ISSUED: AtomicU64 = AtomicU64::new(0);

impl UserApi {
    fn _connect(&self, _config: &Config) -> Result<UserClient, BoxError> {
        // The scope's key is the user this session acts as.
        let user = self
            .scope_key()
            .ok_or("a user's session is looked up through their scope")?;
        // A real client would log in here, e.g. exchange a refresh token.
        let token = format!("tok-{user}-{}", ISSUED.fetch_add(1, Ordering::Relaxed) + 1);
        Ok(UserClient {
            user: user.to_owned(),
            token,
        })
    }

    fn _check(&self) -> Result<(), BoxError> {
        let client = self.instance()?;
        if client.token.is_empty() {
            return Err(format!("{} has no token", client.user).into());
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let idle: u64 = std::env::var("SESSION_IDLE_SECS").map_or(Ok(1800), |s| s.parse())?;
    // The global registry: what `connections::connection` uses. Set up
    // here so that an edit of the secrets reloads the pool while serving, and
    // so that a user's session outlives each of their requests.
    let registry = Registry::init_global(Registry::builder().watch(true).scope_idle(Duration::from_secs(idle)))?;
    let port: u16 = std::env::var("PORT").map_or(Ok(3000), |p| p.parse())?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    println!("listening on http://{}", listener.local_addr()?);

    let app = Router::new()
        .route("/", get(query))
        .route(
            "/me",
            get(me).layer(middleware::from_fn_with_state(registry, user_session)),
        )
        .route("/healthz", get(healthz))
        .with_state(registry);
    axum::serve(listener, app).with_graceful_shutdown(stopped()).await?;

    // In-flight requests are done: close every connection (the pool's sessions, every user's).
    registry.shutdown().await;
    println!("shut down: connections closed");
    Ok(())
}

/// `GET /`: looks `db` up per request and runs a query on it.
async fn query() -> Result<String, AppError> {
    let db = connections::connection::<SqlConnection>("db")?;
    let table = db.query("SELECT 1 + 1 AS two").fetch_table().await?;
    Ok(format!("{table}\n"))
}

/// Finds the caller's session (from the `x-user` header; a real service
/// reads its sign-in cookie) and hands it to the handler: a `Scope<'static>`
/// is a plain value, so it travels in the request's extensions.
async fn user_session(State(registry): State<&'static Registry>, mut request: Request, next: Next) -> Response {
    let Some(user) = request.headers().get("x-user").and_then(|v| v.to_str().ok()) else {
        return (StatusCode::UNAUTHORIZED, "sign in: send an `x-user` header\n").into_response();
    };
    let session: Scope<'static> = registry.scope(user);
    request.extensions_mut().insert(session);
    next.run(request).await
}

/// `GET /me`: the caller's own client, the same one on every request of
/// their session.
async fn me(Extension(session): Extension<Scope<'static>>) -> Result<Json<serde_json::Value>, AppError> {
    let api = session.connection::<UserApi>("user_api")?;
    let client = api.instance()?;
    Ok(Json(serde_json::json!({ "user": client.user, "token": client.token })))
}

/// `GET /healthz`: every cached connection's check, the users' sessions
/// summed into one row, 200 if all pass, else 503.
async fn healthz(State(registry): State<&'static Registry>) -> Response {
    let checks = registry.check_with(ScopedChecks::Summary).await;
    let ok = checks.iter().all(|c| c.ok);
    let body = serde_json::json!({
        "ok": ok,
        "checks": checks,
        "sessions": registry.scope_count(),
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
struct AppError(Error);

impl From<Error> for AppError {
    fn from(error: Error) -> Self {
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
