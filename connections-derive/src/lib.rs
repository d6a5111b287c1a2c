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
    let input = ast::Input::from_syn(&input);
    // A shape error leaves nothing to expand; an attribute mistake does not:
    // the impl is emitted with the keys that are right, beside the errors,
    // so the type's uses compile and only the mistakes are reported.
    let mut out = valid::validate(&input).map_or_else(syn::Error::into_compile_error, |()| expand::expand(&input));
    if let Some(errors) = &input.attr_errors {
        out.extend(errors.to_compile_error());
    }
    out.into()
}
