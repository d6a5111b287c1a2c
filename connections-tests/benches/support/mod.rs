//! What the benches share: a connection per tenant, a connection per
//! session scope, the names of `n` tenants, and the 64 of them the lookups
//! cycle through.

use connections::prelude::*;

/// A connection whose connect does nothing, so a figure is the registry's.
#[derive(Connection)]
#[connection(type_name = "tenant")]
pub struct Tenant {
    base: BaseConnection<u64>,
}

impl Tenant {
    #[allow(
        clippy::unused_self,
        clippy::unnecessary_wraps,
        reason = "the derive's `_connect` signature"
    )]
    fn _connect(&self, _: &Config) -> Result<u64, BoxError> {
        Ok(7)
    }
}

/// A session-scoped connection whose connect does nothing.
#[derive(Connection)]
#[connection(type_name = "session", scope = "session")]
pub struct Session {
    base: BaseConnection<u64>,
}

impl Session {
    #[allow(
        clippy::unused_self,
        clippy::unnecessary_wraps,
        reason = "the derive's `_connect` signature"
    )]
    fn _connect(&self, _: &Config) -> Result<u64, BoxError> {
        Ok(11)
    }
}

/// `tenant_0` .. `tenant_{n-1}`.
pub fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("tenant_{i}")).collect()
}

/// 64 of `names`, spread evenly (every `n/64`-th; all of them when fewer), so
/// a figure is the map's cost at that size rather than the memory latency of
/// touching every name at random.
pub fn probe(names: &[String]) -> Vec<&str> {
    let step = (names.len() / 64).max(1);
    names.iter().step_by(step).take(64).map(String::as_str).collect()
}
