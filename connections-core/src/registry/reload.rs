//! Loading and reloading the secrets: what a reload touches and what it did.

use std::collections::BTreeSet;
use std::sync::{Arc, PoisonError};

use super::Shared;
use crate::base::Reconfigured;
use crate::close::DeferSweeps;
use crate::config::{Config, Origin};
use crate::connection::DynConnection;
use crate::error::{Error, Result};
use crate::secrets::{self, Secrets, Source};

/// What [`Registry::reload_secrets`](crate::Registry::reload_secrets) did.
///
/// # Examples
///
/// ```
/// let registry = connections_core::Registry::builder().secrets_toml("s", "").build();
/// let reloaded = registry.reload_secrets().unwrap();
/// assert!(reloaded.reset().is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reloaded {
    changed: bool,
    reset: Vec<String>,
    rotated: Vec<String>,
}

impl Reloaded {
    /// Whether the merged secrets differ from the ones they replaced (or none
    /// had been read yet).
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder().secrets_toml("s", "").build();
    /// registry.secrets().unwrap();
    /// assert!(!registry.reload_secrets().unwrap().changed(), "inline secrets never change");
    /// ```
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// The names of the live connections whose configuration changed and
    /// which were therefore reset, sorted, each once (a name cached with
    /// several kwargs or types is listed once).
    ///
    /// # Examples
    ///
    /// See [`Registry::reload_secrets`](crate::Registry::reload_secrets).
    pub fn reset(&self) -> &[String] {
        &self.reset
    }

    /// The names of the live connections whose configuration changed and
    /// whose type took the change in place, without a reset (a
    /// `SqlConnection` given new credentials keeps its sessions), sorted,
    /// each once.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder().secrets_toml("s", "").build();
    /// assert!(registry.reload_secrets().unwrap().rotated().is_empty());
    /// ```
    pub fn rotated(&self) -> &[String] {
        &self.rotated
    }
}

impl Shared {
    pub(super) fn secrets(&self) -> Result<Arc<Secrets>> {
        if let Some(secrets) = self.secrets.load_full() {
            return Ok(secrets);
        }
        let _load = self.secrets_load.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(secrets) = self.secrets.load_full() {
            return Ok(secrets);
        }
        let loaded = Arc::new(secrets::load(&self.sources, self.environment)?);
        self.secrets.store(Some(Arc::clone(&loaded)));
        Ok(loaded)
    }

    /// See [`Registry::reload_secrets`](crate::Registry::reload_secrets).
    /// Reloads the secrets, then closes what the reload retired (after the
    /// reload's lock is released: hooks are user code).
    pub(crate) fn reload(&self) -> Result<Reloaded> {
        let reloaded = self.reload_locked();
        self.closes.sweep();
        reloaded
    }

    /// Drops every cached connection.
    pub(super) fn clear(&self) {
        self.default_cache.clear();
        for cache in self.caches.lock().unwrap_or_else(PoisonError::into_inner).values() {
            cache.clear();
        }
    }

    pub(super) fn reload_locked(&self) -> Result<Reloaded> {
        // Its resets run under the lock below: the caller sweeps after.
        let _defer = DeferSweeps::new();
        let _span = tracing::debug_span!("reload").entered();
        let _load = self.secrets_load.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = self.secrets.load_full();
        let loaded = secrets::load(&self.sources, self.environment)?;
        if let Some(previous) = &previous {
            self.check_nothing_removed(previous, &loaded)?;
        }
        let changed = previous
            .as_ref()
            .is_none_or(|p| !crate::config::same_tables(p.as_table(), loaded.as_table()));
        let loaded = Arc::new(loaded);
        // Stored before any reset, so a lookup that misses the cache from
        // here on builds with the new secrets.
        self.secrets.store(Some(Arc::clone(&loaded)));
        let mut reset = BTreeSet::new();
        let mut rotated = BTreeSet::new();
        for conn in self.live() {
            match conn.dyn_reconfigure(config_for_reload(&*conn, &loaded)) {
                Reconfigured::Reset => reset.insert(conn.name().to_owned()),
                Reconfigured::Rotated => rotated.insert(conn.name().to_owned()),
                Reconfigured::Unchanged => false,
            };
        }
        let reset: Vec<String> = reset.into_iter().collect();
        let rotated: Vec<String> = rotated.into_iter().collect();
        if !rotated.is_empty() {
            tracing::info!(
                rotated = ?rotated,
                reason = "rotate",
                "secrets reloaded; reconfigured in place, keeping their sessions: {}",
                rotated.join(", ")
            );
        }
        if !reset.is_empty() {
            tracing::info!(
                reset = ?reset,
                "secrets reloaded; reset the connections whose configuration changed: {}",
                reset.join(", ")
            );
        }
        Ok(Reloaded {
            changed,
            reset,
            rotated,
        })
    }

    /// A `.toml` file read last time and missing now: an editor's save
    /// midway, or a deletion. Either way, not a reason to forget its secrets.
    pub(super) fn check_nothing_removed(&self, previous: &Secrets, loaded: &Secrets) -> Result<()> {
        for source in &self.sources {
            if let Source::Path(path) = source
                && previous.files().contains(path)
                && !loaded.files().contains(path)
            {
                return Err(Error::SecretsFileRemoved { path: path.clone() });
            }
        }
        Ok(())
    }

    /// Every built, unexpired connection in every cache, scopes' included.
    pub(super) fn live(&self) -> Vec<Arc<dyn DynConnection>> {
        let mut live = self.live_global();
        // Session-scoped connections reload as global ones do.
        for scope in self.scope_states() {
            live.extend(scope.live());
        }
        live
    }

    /// Every built, unexpired connection in the registry's own caches.
    pub(super) fn live_global(&self) -> Vec<Arc<dyn DynConnection>> {
        let mut live = self.default_cache.live();
        for cache in self.caches.lock().unwrap_or_else(PoisonError::into_inner).values() {
            live.extend(cache.live());
        }
        live
    }

    /// A connection built from `used` while a reload stored newer secrets:
    /// the reload may have looked at the cache before the connection was in
    /// it, so it catches up here.
    pub(super) fn catch_up(&self, conn: &dyn DynConnection, used: &Arc<Secrets>) {
        // A reset here sweeps after the lock, in the lookup that called this.
        let _defer = DeferSweeps::new();
        let _load = self.secrets_load.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(current) = self.secrets.load_full()
            && !Arc::ptr_eq(&current, used)
        {
            conn.dyn_reconfigure(config_for_reload(conn, &current));
        }
    }
}

/// `conn`'s configuration with its section taken from `secrets` and its kwargs kept.
pub(super) fn config_for_reload(conn: &dyn DynConnection, secrets: &Secrets) -> Config {
    let name = conn.name();
    conn.config().relaid(
        secrets.section(name),
        |key| section_origin(secrets, name, key),
        Arc::new(secrets.info_for(name)),
    )
}

pub(super) fn section_origin(secrets: &Secrets, name: &str, key: &str) -> Origin {
    secrets
        .key_origin(name, key)
        .map_or(Origin::Code, |p| Origin::File(p.to_path_buf()))
}

impl Source {
    pub(super) fn label(&self) -> &std::path::Path {
        match self {
            Source::Path(p) | Source::Inline { label: p, .. } => p,
        }
    }
}

#[cfg(feature = "watch")]
impl crate::watch::Reload for Shared {
    fn reload(&self) -> Result<()> {
        Shared::reload(self).map(drop)
    }
}
