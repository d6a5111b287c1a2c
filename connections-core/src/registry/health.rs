//! Health: each cached connection's state and counts, and the `_check` hooks
//! run for a readiness probe.

use std::sync::Arc;
use std::time::Instant;

use super::Registry;
use crate::connection::DynConnection;
use crate::health::{CheckOutcome, ConnectionState, Health, Labels, ScopeTally, ScopedChecks, record_check};

impl Registry {
    /// The health of every cached connection, sorted by name (then type and
    /// scope key, which a session-scoped connection's row carries): its state
    /// (connected, not connected, failing), generation, last connect and its
    /// duration, last error (redacted), and counts of connects, failures,
    /// resets and closes. It connects nothing and calls no hook.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{BoxError, BaseConnection, Config, Connection, ConnectionState, Registry};
    ///
    /// #[derive(Connection)]
    /// #[connection(type_name = "health-doc")]
    /// struct Service { base: BaseConnection<u16> }
    /// impl Service {
    ///     fn _connect(&self, config: &Config) -> Result<u16, BoxError> { Ok(config.get("port")?) }
    /// }
    ///
    /// let registry = Registry::builder()
    ///     .secrets_toml("s", "[connections.up]\ntype = 'health-doc'\nport = 80\n[connections.down]\ntype = 'health-doc'\n")
    ///     .build();
    /// registry.connection::<Service>("up")?.instance()?;
    /// assert!(registry.connection::<Service>("down")?.instance().is_err());
    /// let health = registry.health();
    /// assert_eq!((health[0].name.as_str(), health[0].state), ("down", ConnectionState::Failing));
    /// assert!(health[0].last_error.as_deref().unwrap().starts_with("missing key `port`"));
    /// assert_eq!((health[1].name.as_str(), health[1].state, health[1].connects), ("up", ConnectionState::Connected, 1));
    /// # Ok::<(), connections_core::Error>(())
    /// ```
    pub fn health(&self) -> Vec<Health> {
        let mut health: Vec<Health> = self.shared.live().iter().map(|c| c.dyn_health()).collect();
        health.sort_by(|a, b| (&a.name, a.type_path, &a.scope).cmp(&(&b.name, b.type_path, &b.scope)));
        health
    }

    /// Runs the `_check` hook of every cached connection whose type has one,
    /// one after another, and reports each, sorted by name: what a readiness
    /// probe (`/healthz`) serves. A hook may connect (a `SqlConnection`'s runs
    /// `SELECT 1`, with a timeout); a connection whose type has no `_check` is
    /// healthy unless its last connect failed. A hook that panics is a
    /// failed check, not a panic here; errors are redacted.
    ///
    /// A connection whose check failed while it was connected is reset
    /// (the `reset` event says `reason = "check"`, and
    /// [`CheckOutcome::reset`] is set), so its next use reconnects: a
    /// connection heals once its server is back, rather than fail until
    /// someone resets it. A type opts out with
    /// `#[connection(check_resets = false)]` (`SqlConnection` does: its pool
    /// replaces broken sessions itself).
    ///
    /// Sync hooks run on the calling task; async ones are awaited here, so an
    /// async hook needs the runtime its connection uses.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    ///
    /// #[derive(Connection)]
    /// #[connection(type_name = "check-doc")]
    /// struct Queue { base: BaseConnection<Vec<String>> }
    /// impl Queue {
    ///     fn _connect(&self, _: &Config) -> Result<Vec<String>, BoxError> { Ok(Vec::new()) }
    ///     fn _check(&self) -> Result<(), BoxError> {
    ///         let queue = self.instance()?;
    ///         if queue.len() > 100 { Err("backlog over 100".into()) } else { Ok(()) }
    ///     }
    /// }
    ///
    /// let registry = Registry::builder().secrets_toml("s", "[connections.jobs]\ntype = 'check-doc'").build();
    /// registry.connection::<Queue>("jobs")?;
    /// let checked = futures_executor::block_on(registry.check());
    /// assert!(checked[0].ok && checked[0].checked, "{checked:?}");
    /// # Ok::<(), connections_core::Error>(())
    /// ```
    pub async fn check(&self) -> Vec<CheckOutcome> {
        self.check_with(ScopedChecks::Each).await
    }

    /// As [`check`](Registry::check), choosing how session-scoped connections
    /// are reported: each on its own row ([`ScopedChecks::Each`]), summed per
    /// connection name and type ([`ScopedChecks::Summary`]: one row however
    /// many scopes are live, with the first failure's error), or left out
    /// ([`ScopedChecks::Skip`]: a readiness probe that should not fail for
    /// one user's token). A `/healthz` for a service with thousands of
    /// sessions stays small either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{BoxError, BaseConnection, Config, Connection, Registry, ScopedChecks};
    ///
    /// #[derive(Connection)]
    /// #[connection(type_name = "check-with-doc", scope = "session")]
    /// struct UserApi { base: BaseConnection<String> }
    /// impl UserApi {
    ///     fn _connect(&self, _: &Config) -> Result<String, BoxError> { Ok("token".into()) }
    ///     fn _check(&self) -> Result<(), BoxError> {
    ///         if self.scope_key() == Some("mallory") { Err("token revoked".into()) } else { Ok(()) }
    ///     }
    /// }
    ///
    /// let registry = Registry::builder().secrets_toml("s", "").build();
    /// let scopes: Vec<_> = ["alice", "bob", "mallory"].map(|user| registry.scope(user)).into();
    /// for scope in &scopes {
    ///     scope.connection::<UserApi>("api")?.instance()?;
    /// }
    /// let each = futures_executor::block_on(registry.check());
    /// assert_eq!(each.len(), 3);
    /// assert_eq!(each[2].scope.as_deref(), Some("mallory"));
    ///
    /// let summed = futures_executor::block_on(registry.check_with(ScopedChecks::Summary));
    /// assert_eq!(summed.len(), 1);
    /// let tally = summed[0].scopes.unwrap();
    /// assert_eq!((tally.checked, tally.failed, summed[0].ok), (3, 1, false));
    /// assert_eq!(summed[0].error.as_deref(), Some("in scope `mallory`: token revoked"));
    ///
    /// assert!(futures_executor::block_on(registry.check_with(ScopedChecks::Skip)).is_empty());
    /// # Ok::<(), connections_core::Error>(())
    /// ```
    pub async fn check_with(&self, scoped: ScopedChecks) -> Vec<CheckOutcome> {
        let mut live = if scoped == ScopedChecks::Skip {
            self.shared.live_global()
        } else {
            self.shared.live()
        };
        live.sort_by(|a, b| row_order(a).cmp(&row_order(b)));
        let mut outcomes: Vec<CheckOutcome> = Vec::with_capacity(live.len());
        for conn in live {
            let outcome = check_one(&*conn).await;
            match (scoped, &outcome.scope) {
                (ScopedChecks::Summary, Some(_)) => add_to_summary(&mut outcomes, outcome),
                _ => outcomes.push(outcome),
            }
        }
        outcomes
    }
}

/// What rows are sorted by: name, type and scope (a global one, with none, first).
fn row_order(conn: &Arc<dyn DynConnection>) -> (&str, &str, Option<&str>) {
    (conn.dyn_name(), conn.dyn_type_path(), conn.dyn_scope_key())
}

/// Runs one connection's check, counts and traces it, and resets the
/// connection if the check failed on a connected instance.
async fn check_one(conn: &dyn DynConnection) -> CheckOutcome {
    let started = Instant::now();
    // The generation checked: a failed check resets it, and no newer one.
    let generation = conn.dyn_generation();
    let (checked, error) = if let Some(outcome) = conn.run_check().await {
        (true, outcome.err())
    } else {
        // No hook: its last connect says it (that error was redacted when it was made).
        let health = conn.dyn_health();
        let failing = health.state == ConnectionState::Failing;
        (false, health.last_error.filter(|_| failing))
    };
    let elapsed = started.elapsed();
    // A connected instance whose check failed is broken: reset it, so the
    // next use reconnects (unless the type heals on its own).
    let reset = checked && error.is_some() && conn.dyn_reset_after_failed_check(generation);
    let outcome = CheckOutcome {
        name: conn.dyn_name().to_owned(),
        scope: conn.dyn_scope_key().map(str::to_owned),
        scopes: None,
        type_path: conn.dyn_type_path(),
        ok: error.is_none(),
        checked,
        elapsed,
        error,
        reset,
    };
    let labels = Labels {
        name: conn.dyn_name(),
        type_name: conn.dyn_type_name(),
    };
    record_check(labels, &outcome);
    if let Some(error) = &outcome.error {
        tracing::warn!(
            connection = conn.dyn_name(),
            type_path = conn.dyn_type_path(),
            scope = conn.dyn_scope_key(),
            error,
            "check failed"
        );
    }
    outcome
}

/// Adds a session-scoped connection's outcome to the row that sums its name
/// and type (the rows arrive sorted, so that row is the last one, if any).
fn add_to_summary(outcomes: &mut Vec<CheckOutcome>, outcome: CheckOutcome) {
    let failed = usize::from(!outcome.ok);
    let error = outcome
        .error
        .map(|e| format!("in scope `{}`: {e}", outcome.scope.unwrap_or_default()));
    if let Some(row) = outcomes.last_mut()
        && row.scopes.is_some()
        && (row.name.as_str(), row.type_path) == (outcome.name.as_str(), outcome.type_path)
    {
        let tally = row.scopes.get_or_insert_default();
        tally.checked += 1;
        tally.failed += failed;
        row.ok &= outcome.ok;
        row.checked |= outcome.checked;
        row.elapsed += outcome.elapsed;
        row.reset |= outcome.reset;
        if row.error.is_none() {
            row.error = error;
        }
        return;
    }
    outcomes.push(CheckOutcome {
        scope: None,
        scopes: Some(ScopeTally { checked: 1, failed }),
        error,
        ..outcome
    });
}
