//! Every `quote!` of the derive lives here.
//!
//! Each check in the expansion is spanned at the user's tokens it is about, so
//! that rustc underlines them and not the `#[derive]`: the raw type for the
//! raw-type checks, the struct name (or the `connect = path`) for the connect
//! function, a field's type for its `Default`.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::Type;
use syn::spanned::Spanned;

use crate::ast::{FieldKind, Input};
use crate::attr::Spanned as Keyed;

/// The name the expansion gives `#krate::__private` inside its `const _` block,
/// so that a helper's path can carry the span of the user's tokens.
fn private_alias(span: Span) -> Ident {
    Ident::new("__connections_private", span)
}

/// The runtime as the calling crate's Cargo.toml names it: the `connections`
/// facade (renamed or not), else `connections-core` itself; `connections`
/// when neither is found (the error then names the crate to add).
fn runtime_crate() -> Ident {
    use proc_macro_crate::{FoundCrate, crate_name};
    let name = match crate_name("connections") {
        Ok(FoundCrate::Name(name)) => name,
        // The facade's own tests and examples see it as `connections`.
        Ok(FoundCrate::Itself) => "connections".to_owned(),
        Err(_) => match crate_name("connections-core") {
            Ok(FoundCrate::Name(name)) => name,
            // The core's doctests and tests: `connections_core` is there by name
            // (and inside the core, `extern crate self as connections_core`).
            Ok(FoundCrate::Itself) => "connections_core".to_owned(),
            Err(_) => "connections".to_owned(),
        },
    };
    Ident::new(&name, Span::call_site())
}

/// `__private` of the runtime: under the `crate = path` the user gave (a
/// path that does not lead to it is an error at the path), else under the
/// crate their Cargo.toml names.
fn private_path(input: &Input<'_>) -> TokenStream {
    input.attrs.krate.as_ref().map_or_else(
        || {
            let krate = runtime_crate();
            quote!(::#krate::__private)
        },
        |k| {
            let path = &k.value;
            quote_spanned!(path.span()=> #path::__private)
        },
    )
}

pub fn expand(input: &Input<'_>) -> TokenStream {
    let ident = input.ident;
    let private = private_path(input);
    let alias = private_alias(Span::call_site());

    let Some(base) = input.base_fields().next() else {
        return syn::Error::new_spanned(ident, "no `BaseConnection<Raw>` field").into_compile_error();
    };
    let FieldKind::Base(raw) = base.kind else {
        return syn::Error::new_spanned(base.ty, "write `BaseConnection<Raw>`").into_compile_error();
    };
    let base_member = &base.member;

    let (type_path, type_name) = type_names(input);

    // Every other field takes its `Default`; a field that has none is underlined.
    let others = input.fields.iter().filter(|f| !f.is_base()).map(|f| {
        let member = &f.member;
        let ty = f.ty;
        let p = private_alias(ty.span());
        quote_spanned!(ty.span()=> #member: <#ty as #p::ExtraField<Self>>::extra_default())
    });

    let raw_gate = raw_gate(raw);
    let register = register(ident, raw);
    // The parameter and the locals of `connect_raw` are hygienic: a `connect =
    // path` cannot name them by accident.
    let config = Ident::new("config", Span::mixed_site());
    let Mode {
        instance_type,
        instance_body,
        fallback,
        connect_trait,
        connect_items,
    } = mode(input, raw, &alias, &config);

    let close_hook = close_hook(input, raw);
    let session = input.attrs.session.as_ref().is_some_and(|s| s.value);
    let check_resets = input.attrs.check_resets.as_ref().is_none_or(|s| s.value);
    let check_body = check_body(input);
    let settings = settings_hooks(input);
    let diagnose = path_hook(input.attrs.diagnose.as_ref(), "diagnose_hook");
    let block_on = path_hook(input.attrs.block_on.as_ref(), "block_on_hook");
    let reconfigure_body = reconfigure_body(input);
    let connection_items = quote! {
        type Raw = #raw;
        type Instance<'__connection> = #instance_type;
        const TYPE_NAME: &'static str = #type_name;
        const TYPE_PATH: &'static str = #type_path;
        const SESSION_SCOPED: bool = #session;
        const CHECK_RESETS: bool = #check_resets;
        const DIAGNOSE: ::core::option::Option<#alias::Diagnose> = #diagnose;
        const BLOCK_ON: ::core::option::Option<#alias::BlockOn> = #block_on;
        const SETTINGS: ::core::option::Option<#alias::SettingsHooks> = #settings;

        #[inline]
        fn from_base(base: #alias::BaseConnection<#raw>) -> Self {
            let base = #alias::with_close(base, #close_hook);
            Self { #base_member: base, #(#others,)* }
        }

        #[inline]
        fn base(&self) -> &#alias::BaseConnection<#raw> {
            &self.#base_member
        }

        #[inline]
        fn instance(&self) -> Self::Instance<'_> {
            #instance_body
        }

        #[inline]
        fn check_hook(&self) -> ::core::option::Option<#alias::Checking<'_>> {
            #check_body
        }

        #[inline]
        fn reconfigure_hook(&self, old: &#alias::Config, new: &#alias::Config) -> bool {
            #reconfigure_body
        }
    };

    // One `use` names the runtime: a wrong `crate = path` is one error.
    // Each impl is written twice, with and without the raw-type where clause:
    // rustdoc sees the second, so the user's docs show a plain impl.
    quote! {
        const _: () = {
            use #private as #alias;
            #[allow(unused_imports)]
            use #fallback;
            #[allow(unused_imports)]
            use #alias::{CloseFallback as _, ProbeClose as _, ProbeNoClose as _, ProbeAsyncOutput as _, ProbeSyncOutput as _, CheckFallback as _, ProbeCheck as _, ProbeNoCheck as _, ReconfigureFallback as _, ProbeReconfigure as _, ProbeNoReconfigure as _};

            #[cfg(not(doc))]
            #[automatically_derived]
            impl #alias::Connection for #ident where #raw_gate {
                #connection_items
            }

            #[cfg(doc)]
            #[automatically_derived]
            impl #alias::Connection for #ident {
                #connection_items
            }

            #[cfg(not(doc))]
            #[automatically_derived]
            impl #connect_trait for #ident where #raw_gate {
                #connect_items
            }

            #[cfg(doc)]
            #[automatically_derived]
            impl #connect_trait for #ident {
                #connect_items
            }

            #alias::inventory::submit! {
                #register
            }
        };
    }
}

/// What differs between a blocking and an `#[connection(async)]` connection.
struct Mode {
    /// `Connection::Instance`.
    instance_type: TokenStream,
    /// `Connection::instance`'s body.
    instance_body: TokenStream,
    /// The fallback `_connect` (and probes) the expansion imports.
    fallback: TokenStream,
    /// `BlockingConnection` or `AsyncConnection`.
    connect_trait: TokenStream,
    /// That trait's `connect_raw`.
    connect_items: TokenStream,
}

fn mode(input: &Input<'_>, raw: &Type, alias: &Ident, config: &Ident) -> Mode {
    let connect = connect_body(input, raw, config, input.attrs.asyncness.is_some());
    if input.attrs.asyncness.is_some() {
        Mode {
            instance_type: quote!(#alias::Connecting<'__connection, Self>),
            instance_body: quote!(#alias::Connecting::new(self)),
            fallback: quote!(#alias::{AsyncConnectFallback as _, ProbeFuture as _, ProbeNotFuture as _}),
            connect_trait: quote!(#alias::AsyncConnection),
            connect_items: quote! {
                fn connect_raw<'__connection>(
                    &'__connection self,
                    #config: &'__connection #alias::Config,
                ) -> #alias::ConnectFuture<'__connection, #raw> {
                    #connect
                }
            },
        }
    } else {
        Mode {
            instance_type: quote!(#alias::BlockingInstance<#raw>),
            instance_body: quote!(#alias::instance_blocking(self)),
            fallback: quote!(#alias::ConnectFallback as _),
            connect_trait: quote!(#alias::BlockingConnection),
            connect_items: quote! {
                fn connect_raw(
                    &self,
                    #config: &#alias::Config,
                ) -> ::core::result::Result<#raw, #alias::BoxError> {
                    #connect
                }
            },
        }
    }
}

/// The impl's where clause: `Raw: Send + Sync + 'static`, so that a raw type
/// without them fails once, in [`register`], and not in every item of the impl.
///
/// Higher-ranked, because rustc rejects a plain bound on concrete types that
/// does not hold ("trivially false") with its own, adviceless message.
fn raw_gate(raw: &Type) -> TokenStream {
    let p = private_alias(raw.span());
    quote_spanned!(raw.span()=> for<'__connection> #raw: #p::RawGate<'__connection>)
}

/// `TYPE_PATH` (the module path and the struct name) and `TYPE_NAME` (the
/// `type_name` key, else the path).
fn type_names(input: &Input<'_>) -> (TokenStream, TokenStream) {
    let ident = input.ident;
    let type_path = quote!(::core::concat!(
        ::core::module_path!(),
        "::",
        ::core::stringify!(#ident)
    ));
    let type_name = if let Some(name) = &input.attrs.type_name {
        let lit = &name.value;
        quote!(#lit)
    } else {
        type_path.clone()
    };
    (type_path, type_name)
}

/// The registration, through a helper whose first bounds check the raw type
/// with advice; spanned at the raw type, so the error underlines it.
fn register(ident: &Ident, raw: &Type) -> TokenStream {
    let p = private_alias(raw.span());
    let mut ident = ident.clone();
    ident.set_span(raw.span());
    quote_spanned!(raw.span()=> #p::register::<#ident, #raw>())
}

/// The function a key names (`connect = path`, `close = path`), else
/// `Self::<default>`, with the span its errors point at: the path's last
/// segment, or the struct name.
fn hook_path(input: &Input<'_>, key: Option<&Keyed<syn::Path>>, default: &str) -> (TokenStream, Span) {
    if let Some(key) = key {
        let path = &key.value;
        let span = path.segments.last().map_or_else(|| path.span(), |s| s.ident.span());
        (quote!(#path), span)
    } else {
        let span = input.ident.span();
        let name = Ident::new(default, span);
        (quote_spanned!(span=> Self::#name), span)
    }
}

/// `connect_raw`'s body: call the connect function, check what it returns,
/// box its error; each step spanned at what it checks.
fn connect_body(input: &Input<'_>, raw: &Type, config: &Ident, is_async: bool) -> TokenStream {
    // `Self::_connect` resolves to the user's inherent function; when there is
    // none, to `ConnectFallback::_connect`, whose unmet bound explains what to write.
    let (path, span) = hook_path(input, input.attrs.connect.as_ref(), "_connect");
    let [connect, output, result] = ["connect", "output", "result"].map(|name| Ident::new(name, Span::mixed_site()));
    // `self` at the call site, as the method's own `&self`: spanned at the
    // struct name, it would not resolve when the derive runs inside a `macro_rules!`.
    let this = quote!(self);
    let p = private_alias(span);
    let p_raw = private_alias(raw.span());
    // With typed settings: read them first (a section that does not fit
    // fails here, every problem named), then call with `&Config` or `&T`.
    let (read_settings, call_with) = match &input.attrs.settings {
        None => (quote!(), None),
        Some(s) => {
            let ty = &s.value;
            let settings = Ident::new("settings", Span::mixed_site());
            let p_ty = private_alias(ty.span());
            let error = Ident::new("error", Span::mixed_site());
            let read = if is_async {
                quote_spanned! {ty.span()=>
                    let #settings = match #p_ty::settings::<Self, #ty>(#config) {
                        ::core::result::Result::Ok(found) => found,
                        ::core::result::Result::Err(#error) => return #p_ty::failed_connect(#error),
                    };
                }
            } else {
                quote_spanned!(ty.span()=> let #settings = #p_ty::settings::<Self, #ty>(#config)?;)
            };
            let call = quote_spanned!(span=> #p::call_connect_with({ #connect }, #this, #config, #settings));
            (read, Some(call))
        }
    };
    // The block around `connect` keeps rustc from suggesting a closure in place
    // of the struct name when the signature is wrong.
    if is_async {
        // `box_connect` checks, with advice, that the output is a `Send`
        // future of `Result<Raw, E>` with a boxable `E`.
        let call = call_with
            .clone()
            .unwrap_or_else(|| quote_spanned!(span=> #p::call_connect_async({ #connect }, #this, #config)));
        let future = Ident::new("future", Span::mixed_site());
        let probe = quote_spanned!(span=> #p::async_probe::<Self, #raw, _>(#output).connect_future());
        let boxed = quote_spanned!(span=> #p::box_connect::<Self, #raw, _>(#future));
        return quote! {
            #read_settings
            let #connect = #path;
            #[allow(unused_braces)]
            let #output = #call;
            let #future = #probe;
            #boxed
        };
    }
    let call = call_with.unwrap_or_else(|| quote_spanned!(span=> #p::call_connect({ #connect }, #this, #config)));
    let into_result = quote_spanned!(raw.span()=> #p_raw::into_result::<Self, #raw, _>(#output));
    let boxed = quote_spanned!(span=> #p::box_error::<Self, #raw, _>(#result));
    quote! {
        #read_settings
        let #connect = #path;
        #[allow(unused_braces)]
        let #output = #call;
        let #result = #into_result;
        #boxed
    }
}

/// `SETTINGS`: the hooks of `settings = T`, or `None`; a `T` that is no
/// settings type is an error at `T`.
fn settings_hooks(input: &Input<'_>) -> TokenStream {
    input.attrs.settings.as_ref().map_or_else(
        || quote!(::core::option::Option::None),
        |s| {
            let ty = &s.value;
            let p = private_alias(ty.span());
            quote_spanned!(ty.span()=> ::core::option::Option::Some(#p::settings_hooks::<#ty>()))
        },
    )
}

/// A hook named by `key = path` (`diagnose`, `block_on`): `Some(path)`
/// through `__private::<check>`, whose parameter type is the signature, so
/// a wrong one is rustc's mismatch at the user's path; `None` without the key.
fn path_hook(hook: Option<&Keyed<syn::Path>>, check: &str) -> TokenStream {
    hook.map_or_else(
        || quote!(::core::option::Option::None),
        |hook| {
            let path = &hook.value;
            let p = private_alias(path.span());
            let check = Ident::new(check, path.span());
            quote_spanned!(path.span()=> ::core::option::Option::Some(#p::#check(#path)))
        },
    )
}

/// `check_hook`'s body: `None` when `Self::_check` resolves to the fallback
/// (the type has none), else its call, a sync hook told from an async one by
/// what it returns.
fn check_body(input: &Input<'_>) -> TokenStream {
    let (path, span) = hook_path(input, input.attrs.check.as_ref(), "_check");
    let p = private_alias(span);
    let [check, defined, checking] = ["check", "defined", "checking"].map(|name| Ident::new(name, Span::mixed_site()));
    // `self` at the call site; see `connect_body`.
    let this = quote!(self);
    let probe = quote_spanned!(span=> #p::check_probe::<Self, _>({ #check }).defines_check());
    let call = quote_spanned!(span=> #p::call_check::<Self, _>({ #check }, #this));
    let into = quote_spanned!(span=> #p::into_checking::<Self, _>(#p::close_output(#call).kind()));
    // The blocks around `check` keep rustc from suggesting a closure in place
    // of the struct name when the signature is wrong.
    quote! {{
        let #check = #path;
        #[allow(unused_braces)]
        let #defined = #probe;
        if #defined {
            #[allow(unused_braces)]
            let #checking = #into;
            ::core::option::Option::Some(#checking)
        } else {
            ::core::option::Option::None
        }
    }}
}

/// `reconfigure_hook`'s body: `false` when `Self::_reconfigure` resolves to
/// the fallback (the type has none), else what the type's own says.
fn reconfigure_body(input: &Input<'_>) -> TokenStream {
    let span = input.ident.span();
    let p = private_alias(span);
    let reconfigure = Ident::new("reconfigure", Span::mixed_site());
    // `self`, `old` and `new` at the call site, as the method's own parameters.
    let (this, old, new) = (quote!(self), quote!(old), quote!(new));
    let probe = quote_spanned!(span=> #p::reconfigure_probe::<Self, _>({ #reconfigure }).defines_reconfigure());
    let call = quote_spanned!(span=> #p::call_reconfigure::<Self, _>({ #reconfigure }, #this, #old, #new));
    let handled = quote_spanned!(span=> #p::reconfigure_handled::<Self, _>(#call));
    quote! {{
        let #reconfigure = Self::_reconfigure;
        #[allow(unused_braces)]
        if #probe {
            #[allow(unused_braces)]
            #handled
        } else {
            let _ = (#old, #new);
            false
        }
    }}
}

/// The close hook for `from_base`: `None` when `Self::_close` resolves to the
/// fallback (the type has none), else a function pointer that calls it and
/// tells a sync hook from an async one by what it returns.
fn close_hook(input: &Input<'_>, raw: &Type) -> TokenStream {
    // As for `_connect`: `Self::_close` is the user's inherent function when
    // there is one, else `CloseFallback::_close`, which returns `NoClose`.
    let (path, span) = hook_path(input, input.attrs.close.as_ref(), "_close");
    let p = private_alias(span);
    let [close, hook_raw, defined, closing_var] =
        ["close", "raw", "defined", "closing"].map(|name| Ident::new(name, Span::mixed_site()));
    let probe = quote_spanned!(span=> #p::close_probe::<#raw, _>({ #close }).defines_close());
    let call = quote_spanned!(span=> #p::call_close({ #close }, #hook_raw));
    let closing = quote_spanned!(span=> #p::into_closing::<Self, _>(#p::close_output(#call).kind()));
    // The blocks around `close` keep rustc from suggesting a closure in place
    // of the struct name when the signature is wrong.
    quote! {{
        let #close = #path;
        #[allow(unused_braces)]
        let #defined = #probe;
        if #defined {
            ::core::option::Option::Some(#p::close_hook::<#raw>(|#hook_raw| {
                let #close = #path;
                #[allow(unused_braces)]
                let #closing_var = #closing;
                #closing_var
            }))
        } else {
            ::core::option::Option::None
        }
    }}
}
