//! Shape rules: a struct, not generic, with exactly one `BaseConnection<Raw>` field.

use quote::quote;
use syn::Data;

use crate::ast::{FieldKind, Input};

pub fn validate(input: &Input<'_>) -> syn::Result<()> {
    let ident = input.ident;
    match &input.original.data {
        Data::Enum(data) => {
            let token = &data.enum_token;
            return Err(syn::Error::new_spanned(
                quote!(#token #ident),
                format!(
                    "`#[derive(Connection)]` works on structs, not enums; make `{ident}` a struct with one `BaseConnection<Raw>` field"
                ),
            ));
        }
        Data::Union(data) => {
            let token = &data.union_token;
            return Err(syn::Error::new_spanned(
                quote!(#token #ident),
                format!(
                    "`#[derive(Connection)]` works on structs, not unions; make `{ident}` a struct with one `BaseConnection<Raw>` field"
                ),
            ));
        }
        Data::Struct(_) => {}
    }
    let generics = &input.original.generics;
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        return Err(syn::Error::new_spanned(
            generics,
            format!(
                "a connection type cannot be generic: it is registered and looked up by name at run time; make `{ident}` concrete (a type alias of a generic struct will not do either)"
            ),
        ));
    }
    let bases: Vec<_> = input.base_fields().collect();
    match bases.as_slice() {
        [] => Err(syn::Error::new_spanned(
            ident,
            format!(
                "`{ident}` has no `BaseConnection<Raw>` field; add one, e.g. `base: BaseConnection<MyClient>`, where `MyClient` is what `_connect` returns"
            ),
        )),
        [only] => match only.kind {
            FieldKind::Base(_) => Ok(()),
            _ => Err(syn::Error::new_spanned(
                only.ty,
                "write the raw type as the one generic argument: `BaseConnection<Raw>`, where `Raw` is what `_connect` returns",
            )),
        },
        [first, rest @ ..] => {
            let mut error: Option<syn::Error> = None;
            for extra in rest {
                let e = syn::Error::new_spanned(
                    extra.original,
                    format!(
                        "`{ident}` has more than one `BaseConnection` field; a connection has exactly one (the first is `{}`): remove this one or make it part of the raw type",
                        member_name(&first.member)
                    ),
                );
                match &mut error {
                    Some(all) => all.combine(e),
                    None => error = Some(e),
                }
            }
            Err(error.unwrap_or_else(|| syn::Error::new_spanned(ident, "more than one `BaseConnection` field")))
        }
    }
}

fn member_name(member: &syn::Member) -> String {
    match member {
        syn::Member::Named(i) => i.to_string(),
        syn::Member::Unnamed(i) => i.index.to_string(),
    }
}
