//! A typed, borrowing view of the derive input.

use syn::{Data, DeriveInput, Fields, GenericArgument, Member, PathArguments, Type};

use crate::attr::{self, Attrs};

pub struct Input<'a> {
    pub original: &'a DeriveInput,
    pub ident: &'a syn::Ident,
    pub attrs: Attrs,
    /// The attribute mistakes, reported beside the expansion.
    pub attr_errors: Option<syn::Error>,
    /// Every field, with the base field(s) marked.
    pub fields: Vec<Field<'a>>,
}

pub struct Field<'a> {
    pub original: &'a syn::Field,
    pub member: Member,
    pub ty: &'a Type,
    pub kind: FieldKind<'a>,
}

/// What a field is to the derive.
#[derive(Clone, Copy)]
pub enum FieldKind<'a> {
    /// `BaseConnection<Raw>`, with its raw type.
    Base(&'a Type),
    /// `BaseConnection` without exactly one type argument.
    MalformedBase,
    /// Any other field: it takes its `Default`.
    Other,
}

impl Field<'_> {
    pub fn is_base(&self) -> bool {
        !matches!(self.kind, FieldKind::Other)
    }
}

impl<'a> Input<'a> {
    pub fn from_syn(input: &'a DeriveInput) -> Self {
        let (attrs, attr_errors) = attr::parse(&input.attrs);
        let fields = match &input.data {
            Data::Struct(data) => collect_fields(&data.fields),
            Data::Enum(_) | Data::Union(_) => Vec::new(),
        };
        Self {
            original: input,
            ident: &input.ident,
            attrs,
            attr_errors,
            fields,
        }
    }

    pub fn base_fields(&self) -> impl Iterator<Item = &Field<'a>> {
        self.fields.iter().filter(|f| f.is_base())
    }
}

fn collect_fields(fields: &Fields) -> Vec<Field<'_>> {
    fields
        .iter()
        .enumerate()
        .map(|(i, field)| Field {
            original: field,
            member: field
                .ident
                .clone()
                .map_or_else(|| Member::Unnamed(i.into()), Member::Named),
            ty: &field.ty,
            kind: field_kind(&field.ty),
        })
        .collect()
}

/// Recognises `BaseConnection<Raw>` (by its last path segment, so any import
/// path works) and returns the raw type.
fn field_kind(ty: &Type) -> FieldKind<'_> {
    let Type::Path(path) = ty else { return FieldKind::Other };
    let Some(last) = path.path.segments.last() else {
        return FieldKind::Other;
    };
    if last.ident != "BaseConnection" {
        return FieldKind::Other;
    }
    match &last.arguments {
        PathArguments::AngleBracketed(args) if args.args.len() == 1 => match &args.args[0] {
            GenericArgument::Type(t) => FieldKind::Base(t),
            _ => FieldKind::MalformedBase,
        },
        _ => FieldKind::MalformedBase,
    }
}
