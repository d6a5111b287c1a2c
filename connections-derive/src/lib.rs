//! Implementation detail of `connections-core`: use `connections_core::Connection`,
//! the re-export, not this crate directly.

mod ast;
mod attr;
mod expand;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives `connections_core::Connection` for a struct with one
/// `BaseConnection<Raw>` field and a `_connect` function.
///
/// See the documentation of `connections_core::Connection` (the derive is
/// re-exported there, under the trait's name).
#[proc_macro_derive(Connection, attributes(connection))]
pub fn derive_connection(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    ast::Input::from_syn(&input)
        .and_then(|input| {
            valid::validate(&input)?;
            Ok(expand::expand(&input))
        })
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
