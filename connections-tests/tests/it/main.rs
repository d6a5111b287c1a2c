//! Integration tests, one module per topic, in one binary (one link step).
//!
//! Tests never share state by accident: each builds its own `Registry` with
//! inline secrets, or uses a connection name no other test uses.

// `_connect` has the signature the framework calls, whether or not a given
// connection uses `self` or can fail.
#![allow(clippy::unused_self, clippy::unnecessary_wraps)]

mod common;

mod asynchronous;
mod close;
mod concurrency;
mod derive;
mod diagnose;
mod environment;
mod errors;
mod factory;
mod faults;
mod files;
mod heal;
mod health;
mod http;
mod hygiene;
mod kubernetes;
mod lazy_init;
mod redaction;
mod redis;
mod registry;
mod relay;
mod reload;
mod reset;
mod rotation;
mod s3;
mod scope;
mod scope_life;
mod secret_typos;
mod secrets;
mod settings;
mod sql;
mod sql_connect;
mod sql_types;
mod tls;
