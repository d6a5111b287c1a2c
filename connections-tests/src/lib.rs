//! The connections crates' integration tests (`tests/`), benchmarks
//! (`benches/`) and server-backed examples (`examples/`), with every
//! dependency they need; nothing here is published.
//!
//! The README's Rust blocks compile as doctests of this crate, where every
//! feature of `connections` is on, so the README cannot drift from the API.

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
mod readme {}
