//! The expansion names everything by absolute path: shadowing `core`, `std`,
//! `Result`, `Option` and friends breaks nothing, and
//! `unused_qualifications` has nothing to say.
#![deny(unused_qualifications)]
#![allow(dead_code, non_camel_case_types)]

mod core {}
mod std {}
mod connections_core_shadow {}

type Result = ();
type Option = ();
type Box = ();
type Arc = ();
struct Default;
struct Send;
struct Sync;
struct Config;
struct BaseConnection;
struct Registration;
struct inventory;

#[derive(::connections::Connection)]
#[connection(type_name = "hygienic")]
struct Hygienic {
    base: ::connections::BaseConnection<u8>,
    extra: ::std::string::String,
}

impl Hygienic {
    fn _connect(&self, _config: &::connections::Config) -> ::core::result::Result<u8, ::connections::BoxError> {
        ::core::result::Result::Ok(3)
    }
}

#[test]
fn a_derived_connection_compiles_and_works_among_shadowed_names() {
    use ::connections::Connection as _;
    let registry = ::connections::Registry::builder().secrets_toml("s", "").build();
    let conn = registry.connection::<Hygienic>("hygiene").unwrap();
    assert_eq!(*conn.instance().unwrap(), 3);
}
