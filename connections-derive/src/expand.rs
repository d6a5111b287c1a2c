//! Every `quote!` of the derive lives here.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::ast::{FieldKind, Input};

pub fn expand(input: &Input<'_>) -> TokenStream {
    let ident = input.ident;
    let krate = input.attrs.krate.as_ref().map_or_else(
        || quote!(::connections_core),
        |k| {
            let path = &k.value;
            quote!(#path)
        },
    );
    let private = quote!(#krate::__private);

    let Some(base) = input.base_fields().next() else {
        return syn::Error::new_spanned(ident, "no `BaseConnection<Raw>` field").into_compile_error();
    };
    let FieldKind::Base(raw) = base.kind else {
        return syn::Error::new_spanned(base.ty, "write `BaseConnection<Raw>`").into_compile_error();
    };
    let base_member = &base.member;

    let type_path = quote!(::core::concat!(
        ::core::module_path!(),
        "::",
        ::core::stringify!(#ident)
    ));
    let type_name = if let Some(name) = &input.attrs.type_name {
        let lit = &name.value;
        quote!(#lit)
    } else {
        quote!(<Self as #private::Connection>::TYPE_PATH)
    };

    // Every other field takes its `Default`; a field that has none is underlined.
    let others = input.fields.iter().filter(|f| !f.is_base()).map(|f| {
        let member = &f.member;
        let ty = f.ty;
        quote_spanned!(ty.span()=> #member: <#ty as ::core::default::Default>::default())
    });

    // `Self::_connect` resolves to the user's inherent function; when there is
    // none, to `ConnectFallback::_connect`, whose unmet bound explains what to write.
    let connect_fn = if let Some(path) = &input.attrs.connect {
        let path = &path.value;
        quote_spanned!(path.span()=> #path)
    } else {
        quote_spanned!(ident.span()=> Self::_connect)
    };
    let call = quote_spanned! {raw.span()=>
        #private::call_connect::<Self, #raw, _>(#connect_fn, self, config)
    };

    quote! {
        const _: () = {
            #[allow(unused_imports)]
            use #private::ConnectFallback as _;

            #[automatically_derived]
            impl #private::Connection for #ident {
                type Raw = #raw;
                const TYPE_NAME: &'static str = #type_name;
                const TYPE_PATH: &'static str = #type_path;

                #[inline]
                fn from_base(base: #private::BaseConnection<#raw>) -> Self {
                    Self { #base_member: base, #(#others,)* }
                }

                #[inline]
                fn base(&self) -> &#private::BaseConnection<#raw> {
                    &self.#base_member
                }

                fn connect_raw(
                    &self,
                    config: &#private::Config,
                ) -> ::core::result::Result<#raw, #private::BoxError> {
                    #call
                }
            }

            #private::inventory::submit! {
                #private::Registration::of::<#ident>()
            }
        };
    }
}
