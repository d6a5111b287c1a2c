//! `#[connection(...)]`: every key keeps its span; every mistake is collected.

use proc_macro2::{Span, TokenTree};
use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitBool, LitStr, Meta, Path, Token, Type};

/// The keys `#[connection(...)]` accepts, for "expected one of" messages.
const KEYS: &str = "`type_name`, `async`, `scope`, `settings`, `connect`, `close`, `check`, `check_resets`, `diagnose`, `block_on`, `crate`";

/// A value with the span of the key that set it.
pub struct Spanned<T> {
    pub value: T,
    pub key: Span,
}

#[derive(Default)]
pub struct Attrs {
    pub type_name: Option<Spanned<LitStr>>,
    pub connect: Option<Spanned<Path>>,
    /// `close = path`: the close hook, instead of `_close`.
    pub close: Option<Spanned<Path>>,
    /// `scope = "session"`: cached per scope (`"global"`, the default, is `false`).
    pub session: Option<Spanned<bool>>,
    /// `check = path`: the health check hook, instead of `_check`.
    pub check: Option<Spanned<Path>>,
    /// `check_resets = false`: a failed check leaves the instance alone.
    pub check_resets: Option<Spanned<bool>>,
    /// `settings = Type`: the typed settings, checked before a connect.
    pub settings: Option<Spanned<Type>>,
    /// `diagnose = path`: the settings diagnostics hook, `fn(&Config) -> Vec<Diagnostic>`.
    pub diagnose: Option<Spanned<Path>>,
    /// `block_on = path`: drives the type's futures where no runtime runs.
    pub block_on: Option<Spanned<Path>>,
    pub krate: Option<Spanned<Path>>,
    /// `async`: the connect function is an `async fn`.
    pub asyncness: Option<Span>,
}

/// Reads every `#[connection(...)]` on the item: the keys that are right,
/// and every mistake, combined into one error. The keys that are right still
/// count, so the derive can emit its impl beside the errors and no cascade of
/// "not a connection type" errors follows at the type's uses.
pub fn parse(attrs: &[Attribute]) -> (Attrs, Option<syn::Error>) {
    let mut out = Attrs::default();
    let mut errors: Option<syn::Error> = None;
    let mut push = |e: syn::Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };
    for attr in attrs.iter().filter(|a| a.path().is_ident("connection")) {
        if !matches!(attr.meta, Meta::List(_)) {
            push(syn::Error::new_spanned(
                attr,
                format!(
                    "`#[connection]` takes a list of keys: write e.g. `#[connection(type_name = \"sqlite\")]`; the keys are {KEYS}"
                ),
            ));
            continue;
        }
        let result = attr.parse_nested_meta(|meta| {
            if let Err(e) = parse_key(&meta, &mut out) {
                push(e);
                skip_value(&meta)?;
            }
            Ok(())
        });
        if let Err(e) = result {
            push(e);
        }
    }
    (out, errors)
}

fn parse_key(meta: &ParseNestedMeta<'_>, out: &mut Attrs) -> syn::Result<()> {
    let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
    let span = meta.path.get_ident().map_or_else(Span::call_site, syn::Ident::span);
    match key.as_str() {
        "type_name" => {
            reject_duplicate(out.type_name.as_ref().map(|s| s.key), meta, "type_name")?;
            let lit = string_value(meta, "type_name", "type_name = \"sqlite\"")?;
            check_type_name(&lit)?;
            out.type_name = Some(Spanned { value: lit, key: span });
        }
        "async" => {
            reject_duplicate(out.asyncness, meta, "async")?;
            // Meant as async even when written with a value: the expansion
            // stays async, so the only error is this one.
            out.asyncness = Some(span);
            if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                return Err(meta
                    .error("`async` takes no value: write `#[connection(async)]` and make `_connect` an `async fn`"));
            }
        }
        "connect" => {
            reject_duplicate(out.connect.as_ref().map(|s| s.key), meta, "connect")?;
            let path = path_value(meta, "connect", "connect = Self::open")?;
            out.connect = Some(Spanned { value: path, key: span });
        }
        "close" => {
            reject_duplicate(out.close.as_ref().map(|s| s.key), meta, "close")?;
            let path = path_value(meta, "close", "close = Self::shut")?;
            out.close = Some(Spanned { value: path, key: span });
        }
        "scope" => {
            reject_duplicate(out.session.as_ref().map(|s| s.key), meta, "scope")?;
            let lit = string_value(meta, "scope", "scope = \"session\"")?;
            let session = match lit.value().as_str() {
                "session" => true,
                "global" => false,
                other => {
                    return Err(syn::Error::new(
                        lit.span(),
                        format!(
                            "unknown scope {other:?}: write `scope = \"session\"` for a connection cached per `registry.scope(key)`, or `scope = \"global\"` (the default) for one shared by the whole registry"
                        ),
                    ));
                }
            };
            out.session = Some(Spanned {
                value: session,
                key: span,
            });
        }
        "check" => {
            reject_duplicate(out.check.as_ref().map(|s| s.key), meta, "check")?;
            let path = path_value(meta, "check", "check = Self::ping")?;
            out.check = Some(Spanned { value: path, key: span });
        }
        "check_resets" => {
            reject_duplicate(out.check_resets.as_ref().map(|s| s.key), meta, "check_resets")?;
            let value = bool_value(meta, "check_resets", "check_resets = false")?;
            out.check_resets = Some(Spanned { value, key: span });
        }
        "settings" => {
            reject_duplicate(out.settings.as_ref().map(|s| s.key), meta, "settings")?;
            let ty = type_value(meta, "settings", "settings = MySettings")?;
            out.settings = Some(Spanned { value: ty, key: span });
        }
        "diagnose" => {
            reject_duplicate(out.diagnose.as_ref().map(|s| s.key), meta, "diagnose")?;
            let path = path_value(meta, "diagnose", "diagnose = Self::diagnose")?;
            out.diagnose = Some(Spanned { value: path, key: span });
        }
        "block_on" => {
            reject_duplicate(out.block_on.as_ref().map(|s| s.key), meta, "block_on")?;
            let path = path_value(meta, "block_on", "block_on = my_runtime::block_on")?;
            out.block_on = Some(Spanned { value: path, key: span });
        }
        "crate" => {
            reject_duplicate(out.krate.as_ref().map(|s| s.key), meta, "crate")?;
            let path = path_value(meta, "crate", "crate = ::my_facade::connections")?;
            out.krate = Some(Spanned { value: path, key: span });
        }
        _ => {
            let shown = if key.is_empty() {
                let path = &meta.path;
                quote::quote!(#path).to_string().replace(' ', "")
            } else {
                key
            };
            return Err(meta.error(format!(
                "unknown connection attribute `{shown}`; expected one of {KEYS}"
            )));
        }
    }
    Ok(())
}

fn reject_duplicate(previous: Option<Span>, meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<()> {
    match previous {
        Some(_) => Err(meta.error(format!("duplicate connection attribute `{key}`; give it once"))),
        None => Ok(()),
    }
}

fn string_value(meta: &ParseNestedMeta<'_>, key: &str, example: &str) -> syn::Result<LitStr> {
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format!("`{key}` needs a value: write `{example}`")));
    }
    let value = meta.value()?;
    if value.peek(LitStr) {
        value.parse()
    } else {
        Err(value.error(format!("`{key}` takes a string literal: write `{example}`")))
    }
}

/// `true` or `false`.
fn bool_value(meta: &ParseNestedMeta<'_>, key: &str, example: &str) -> syn::Result<bool> {
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format!("`{key}` needs a value: write `{example}`")));
    }
    let value = meta.value()?;
    let lit: LitBool = value
        .parse()
        .map_err(|e| syn::Error::new(e.span(), format!("`{key}` takes `true` or `false`: write `{example}`")))?;
    Ok(lit.value)
}

/// A type, written bare (`settings = MySettings`) or as a string.
fn type_value(meta: &ParseNestedMeta<'_>, key: &str, example: &str) -> syn::Result<Type> {
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format!("`{key}` needs a value: write `{example}`")));
    }
    let value = meta.value()?;
    if value.peek(LitStr) {
        let lit: LitStr = value.parse()?;
        lit.parse()
            .map_err(|_| syn::Error::new(lit.span(), format!("`{key}` takes a type: write `{example}`")))
    } else {
        value
            .parse()
            .map_err(|e| syn::Error::new(e.span(), format!("`{key}` takes a type: write `{example}`")))
    }
}

/// A path, written bare (`connect = Self::open`) or, serde-style, as a string.
fn path_value(meta: &ParseNestedMeta<'_>, key: &str, example: &str) -> syn::Result<Path> {
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format!("`{key}` needs a value: write `{example}`")));
    }
    let value = meta.value()?;
    if value.peek(LitStr) {
        let lit: LitStr = value.parse()?;
        lit.parse::<Path>()
            .map_err(|_| syn::Error::new(lit.span(), format!("`{key}` takes a path: write `{example}`")))
    } else {
        value
            .parse::<Path>()
            .map_err(|e| syn::Error::new(e.span(), format!("`{key}` takes a path: write `{example}`")))
    }
}

/// A short name: ASCII letters, digits, `_` or `-`, starting with a letter.
fn check_type_name(lit: &LitStr) -> syn::Result<()> {
    let name = lit.value();
    if name.is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            "`type_name` cannot be empty; write a short name such as `type_name = \"sqlite\"`, or leave the key out to use the full path",
        ));
    }
    if name.contains("::") || name.contains('.') {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "`type_name` is a short name, not a path: the full path is registered anyway (`type = \"my_app::db::Sqlite\"` works in secrets files); write a short name such as `type_name = \"sqlite\"`, or leave the key out; found {name:?}"
            ),
        ));
    }
    let starts_with_letter = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !starts_with_letter || !valid_chars {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "`type_name` must be a short name of ASCII letters, digits, `_` or `-`, starting with a letter (it is written as `type = \"...\"` in secrets files), e.g. `type_name = \"sqlite\"`; found {name:?}"
            ),
        ));
    }
    Ok(())
}

/// After a bad key, skips its `= value` (or `(...)`) so the next key is still read.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    meta.input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if matches!(&tt, TokenTree::Punct(p) if p.as_char() == ',') {
                break;
            }
            rest = next;
        }
        Ok(((), rest))
    })
}
