//! Holds `tests/ui.rs`, the compile-fail tests of `#[derive(Connection)]`,
//! in a crate whose only dependencies are the ones those cases need.
