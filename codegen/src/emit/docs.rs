//! The HTML reference documentation: `docs/index.html`, one self-contained page
//! (inline CSS and a few lines of inline JavaScript, no external assets),
//! rendered with askama from the model only.
//!
//! - **Layout.** A header (crate name and proto files), a search box that
//!   filters the sidebar and the sections by name as you type, a sidebar of
//!   packages → services → methods, messages and enums, and one section per
//!   package.
//! - **Services** show their comment and their methods; a **method** shows its
//!   gRPC path (`/package.Service/Method`), streaming kind, idempotency, every
//!   REST binding (`POST /api/v1/…` with `body` and `response_body`), who may
//!   call it (public, the scopes required, or any authenticated caller), its
//!   GraphQL placement, the deprecated flag, its comment and its request and
//!   response types.
//! - **Messages** show their comment and a table of fields: proto name, JSON
//!   name, type, label (`repeated`, `map`, `optional` or `oneof <name>`),
//!   behaviours (`REQUIRED`, `OUTPUT_ONLY`, …) and `field_rule` pattern,
//!   deprecated, comment; then their oneofs. Map entries are not listed: a map
//!   field's type reads `map<K, V>`. **Enums** show their values with numbers and comments.
//! - **Links.** Services, methods, messages and enums are anchored by full proto
//!   name (`id="dotlanth.vm.v1.Dot"`), packages by `package-<name>`; every
//!   message or enum type named on the page links to its anchor.
//! - **Text.** Comments are the leading (else trailing) comment with AIP-192
//!   internal parts `(-- … --)` removed, split into paragraphs at blank lines;
//!   all text goes through askama's HTML escaping. Only elements of the files
//!   being generated show comments (imported ones, like the well-known types,
//!   are listed without: drivers differ in passing their source info).
//!
//! Output is deterministic: packages, services, messages and enums are sorted by
//! full name; methods, fields, oneofs and enum values keep declaration order.

use crate::emit::GENERATED_MARKER;
use crate::model::{
    Api, BodyMapping, Cardinality, Comments, Enum, Field, FieldBehavior, FieldType,
    GraphqlPlacement, Idempotency, Message, Method, MethodKind, Service,
};
use crate::{GeneratedFile, Options};
use askama::Template;
use std::collections::{BTreeMap, BTreeSet};

/// Where the page goes, relative to the generated crate.
pub const PATH: &str = "docs/index.html";

/// The whole page.
#[derive(Template)]
#[template(path = "docs.html")]
struct Page {
    crate_name: String,
    files: Vec<String>,
    packages: Vec<PackageView>,
}

struct PackageView {
    name: String,
    services: Vec<ServiceView>,
    messages: Vec<MessageView>,
    enums: Vec<EnumView>,
}

struct ServiceView {
    full_name: String,
    name: String,
    file: String,
    deprecated: bool,
    doc: Vec<String>,
    methods: Vec<MethodView>,
}

struct MethodView {
    full_name: String,
    name: String,
    grpc_path: String,
    kind: &'static str,
    idempotency: &'static str,
    input: TypeRef,
    output: TypeRef,
    http: Vec<BindingView>,
    public: bool,
    scopes: Vec<String>,
    graphql: &'static str,
    deprecated: bool,
    doc: Vec<String>,
}

struct BindingView {
    method: String,
    path: String,
    body: String,
    response_body: String,
}

/// A type as written on the page: `key` is set for maps (`map<key, name>`);
/// `href` is the anchor of a message or enum listed on the page.
struct TypeRef {
    key: String,
    name: String,
    href: String,
}

struct MessageView {
    full_name: String,
    name: String,
    file: String,
    deprecated: bool,
    doc: Vec<String>,
    fields: Vec<FieldView>,
    oneofs: Vec<OneofView>,
}

struct FieldView {
    name: String,
    json_name: String,
    number: u32,
    ty: TypeRef,
    label: String,
    behaviors: Vec<&'static str>,
    /// The `field_rule` pattern.
    pattern: Option<String>,
    deprecated: bool,
    doc: Vec<String>,
}

struct OneofView {
    name: String,
    fields: Vec<String>,
    doc: Vec<String>,
}

struct EnumView {
    full_name: String,
    name: String,
    file: String,
    deprecated: bool,
    doc: Vec<String>,
    values: Vec<ValueView>,
}

struct ValueView {
    name: String,
    number: i32,
    deprecated: bool,
    doc: Vec<String>,
}

/// Emits `docs/index.html`.
pub fn emit(api: &Api, options: &Options) -> Result<GeneratedFile, String> {
    let page = page(api, options);
    let body = page
        .render()
        .map_err(|e| format!("docs.html template: {e}"))?;
    Ok(GeneratedFile::text(
        PATH,
        format!(
            "<!-- {GENERATED_MARKER} from the proto sources. Do not edit by hand: run `cargo xtask gen`. -->\n{body}\n"
        ),
    ))
}

fn page(api: &Api, options: &Options) -> Page {
    let listed = |name: &str| {
        api.messages.get(name).is_some_and(|m| !m.map_entry) || api.enums.contains_key(name)
    };
    let mut known: BTreeSet<&str> = BTreeSet::new();
    known.extend(api.services.iter().map(|s| s.package.as_str()));
    known.extend(api.messages.values().map(|m| m.package.as_str()));
    known.extend(api.packages.iter().map(String::as_str));

    let mut packages: BTreeMap<String, PackageView> = BTreeMap::new();
    for s in &api.services {
        package(&mut packages, &s.package)
            .services
            .push(service_view(s, &listed));
    }
    // Comments only of the files being generated: whether a driver passes the
    // source info of imported files differs (protox's built-in well-known
    // types have none, buf's do), and the page must not.
    let generated = |file: &str| api.files.iter().any(|f| f == file);
    for m in api.messages.values().filter(|m| !m.map_entry) {
        package(&mut packages, &m.package)
            .messages
            .push(message_view(m, generated(&m.file), &listed));
    }
    for e in api.enums.values() {
        let pkg = enum_package(e, &known);
        package(&mut packages, &pkg)
            .enums
            .push(enum_view(e, &pkg, generated(&e.file)));
    }
    Page {
        crate_name: options.crate_name.clone(),
        files: api.files.clone(),
        packages: packages.into_values().collect(),
    }
}

fn package<'a>(packages: &'a mut BTreeMap<String, PackageView>, name: &str) -> &'a mut PackageView {
    packages
        .entry(name.to_string())
        .or_insert_with(|| PackageView {
            name: name.to_string(),
            services: Vec::new(),
            messages: Vec::new(),
            enums: Vec::new(),
        })
}

/// The package of an enum: the longest known package its full name is in
/// (enums carry no package in the model), else everything before the last dot.
fn enum_package(e: &Enum, known: &BTreeSet<&str>) -> String {
    known
        .iter()
        .filter(|p| {
            p.is_empty()
                || e.full_name
                    .strip_prefix(**p)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
        .max_by_key(|p| p.len())
        .map(|p| p.to_string())
        .unwrap_or_else(|| {
            e.full_name
                .rsplit_once('.')
                .map(|(p, _)| p.to_string())
                .unwrap_or_default()
        })
}

/// `full_name` without `package.`.
fn relative(full_name: &str, package: &str) -> String {
    if package.is_empty() {
        return full_name.to_string();
    }
    full_name
        .strip_prefix(package)
        .and_then(|r| r.strip_prefix('.'))
        .unwrap_or(full_name)
        .to_string()
}

fn service_view(s: &Service, listed: &dyn Fn(&str) -> bool) -> ServiceView {
    ServiceView {
        full_name: s.full_name.clone(),
        name: s.name.clone(),
        file: s.file.clone(),
        deprecated: s.deprecated,
        doc: paragraphs(&s.comments),
        methods: s.methods.iter().map(|m| method_view(m, listed)).collect(),
    }
}

fn method_view(m: &Method, listed: &dyn Fn(&str) -> bool) -> MethodView {
    MethodView {
        full_name: m.full_name.clone(),
        name: m.name.clone(),
        grpc_path: m.grpc_path.clone(),
        kind: match m.kind {
            MethodKind::Unary => "unary",
            MethodKind::ServerStreaming => "server streaming",
            MethodKind::ClientStreaming => "client streaming",
            MethodKind::BidiStreaming => "bidirectional streaming",
        },
        idempotency: match m.idempotency {
            Idempotency::Unknown => "",
            Idempotency::NoSideEffects => "no side effects",
            Idempotency::Idempotent => "idempotent",
        },
        input: named(&m.input, listed),
        output: named(&m.output, listed),
        http: m
            .http
            .iter()
            .map(|h| BindingView {
                method: h.method.as_str().to_string(),
                path: h.template.to_string(),
                body: match &h.body {
                    BodyMapping::None => String::new(),
                    other => other.as_str().to_string(),
                },
                response_body: h.response_body.clone().unwrap_or_default(),
            })
            .collect(),
        public: m.auth.public,
        scopes: m.auth.scopes.clone(),
        graphql: match m.graphql {
            GraphqlPlacement::Hidden => "hidden",
            other => other.name(),
        },
        deprecated: m.deprecated,
        doc: paragraphs(&m.comments),
    }
}

fn message_view(m: &Message, comments: bool, listed: &dyn Fn(&str) -> bool) -> MessageView {
    MessageView {
        full_name: m.full_name.clone(),
        name: relative(&m.full_name, &m.package),
        file: m.file.clone(),
        deprecated: m.deprecated,
        doc: doc(&m.comments, comments),
        fields: m
            .fields
            .iter()
            .map(|f| field_view(f, comments, listed))
            .collect(),
        oneofs: m
            .oneofs
            .iter()
            .map(|o| OneofView {
                name: o.name.clone(),
                fields: o.fields.clone(),
                doc: doc(&o.comments, comments),
            })
            .collect(),
    }
}

fn field_view(f: &Field, comments: bool, listed: &dyn Fn(&str) -> bool) -> FieldView {
    // For a map, the model holds the value type in the cardinality and the key
    // type in `ty` (what `registry` builds and the OpenAPI emitter reads).
    let ty = match &f.cardinality {
        Cardinality::Map(value) => TypeRef {
            key: scalar_name(&f.ty).to_string(),
            ..type_ref(value, listed)
        },
        _ => type_ref(&f.ty, listed),
    };
    let label = match (&f.oneof, &f.cardinality) {
        (Some(o), _) => format!("oneof {o}"),
        (None, Cardinality::Repeated) => "repeated".into(),
        (None, Cardinality::Map(_)) => "map".into(),
        // Message fields always have presence; `optional` marks proto3 optional scalars.
        (None, Cardinality::Optional) if !matches!(f.ty, FieldType::Message(_)) => {
            "optional".into()
        }
        _ => String::new(),
    };
    FieldView {
        name: f.name.clone(),
        json_name: f.json_name.clone(),
        number: f.number,
        ty,
        label,
        behaviors: f.behaviors.iter().map(|b| behavior_name(*b)).collect(),
        pattern: f.pattern.clone(),
        deprecated: f.deprecated,
        doc: doc(&f.comments, comments),
    }
}

fn enum_view(e: &Enum, package: &str, comments: bool) -> EnumView {
    EnumView {
        full_name: e.full_name.clone(),
        name: relative(&e.full_name, package),
        file: e.file.clone(),
        deprecated: e.deprecated,
        doc: doc(&e.comments, comments),
        values: e
            .values
            .iter()
            .map(|v| ValueView {
                name: v.name.clone(),
                number: v.number,
                deprecated: v.deprecated,
                doc: doc(&v.comments, comments),
            })
            .collect(),
    }
}

/// A message or enum named by full name, linked when it is on the page.
fn named(full_name: &str, listed: &dyn Fn(&str) -> bool) -> TypeRef {
    TypeRef {
        key: String::new(),
        name: full_name.to_string(),
        href: if listed(full_name) {
            full_name.to_string()
        } else {
            String::new()
        },
    }
}

fn type_ref(ty: &FieldType, listed: &dyn Fn(&str) -> bool) -> TypeRef {
    match ty {
        FieldType::Enum(n) | FieldType::Message(n) => named(n, listed),
        scalar => TypeRef {
            key: String::new(),
            name: scalar_name(scalar).to_string(),
            href: String::new(),
        },
    }
}

/// The proto name of a scalar type (the model folds `sint32`, `fixed64`, … into
/// their JSON-equivalent kinds); for a reference, its full name.
fn scalar_name(ty: &FieldType) -> &str {
    match ty {
        FieldType::Double => "double",
        FieldType::Float => "float",
        FieldType::Int32 => "int32",
        FieldType::Int64 => "int64",
        FieldType::Uint32 => "uint32",
        FieldType::Uint64 => "uint64",
        FieldType::Bool => "bool",
        FieldType::String => "string",
        FieldType::Bytes => "bytes",
        FieldType::Enum(n) | FieldType::Message(n) => n,
    }
}

fn behavior_name(b: FieldBehavior) -> &'static str {
    match b {
        FieldBehavior::Optional => "OPTIONAL",
        FieldBehavior::Required => "REQUIRED",
        FieldBehavior::OutputOnly => "OUTPUT_ONLY",
        FieldBehavior::InputOnly => "INPUT_ONLY",
        FieldBehavior::Immutable => "IMMUTABLE",
        FieldBehavior::UnorderedList => "UNORDERED_LIST",
        FieldBehavior::NonEmptyDefault => "NON_EMPTY_DEFAULT",
        FieldBehavior::Identifier => "IDENTIFIER",
    }
}

/// The paragraphs of `c` if comments are shown, else none.
fn doc(c: &Comments, shown: bool) -> Vec<String> {
    if shown { paragraphs(c) } else { Vec::new() }
}

/// A comment as paragraphs: the leading (else trailing) comment, AIP-192
/// internal parts `(-- … --)` removed, split at blank lines; lines inside a
/// paragraph are kept (the page shows them with `white-space: pre-line`).
fn paragraphs(c: &Comments) -> Vec<String> {
    let text = c.public_text();
    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(current.join("\n"));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        out.push(current.join("\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_become_paragraphs() {
        let c = Comments {
            leading: "First line\nsecond line.\n\n\nNext (-- internal\nnote --)paragraph.\n(-- all internal --)\n".into(),
            trailing: "ignored".into(),
        };
        assert_eq!(
            paragraphs(&c),
            ["First line\nsecond line.", "Next paragraph."]
        );
        let t = Comments {
            leading: String::new(),
            trailing: "Trailing.".into(),
        };
        assert_eq!(paragraphs(&t), ["Trailing."]);
        assert!(paragraphs(&Comments::default()).is_empty());
    }

    #[test]
    fn enum_packages() {
        let known: BTreeSet<&str> = ["a", "a.b"].into_iter().collect();
        let e = |n: &str| Enum {
            full_name: n.into(),
            name: String::new(),
            file: String::new(),
            values: Vec::new(),
            deprecated: false,
            comments: Comments::default(),
        };
        assert_eq!(enum_package(&e("a.b.E"), &known), "a.b");
        assert_eq!(enum_package(&e("a.b.M.E"), &known), "a.b");
        assert_eq!(enum_package(&e("a.E"), &known), "a");
        assert_eq!(enum_package(&e("x.y.E"), &known), "x.y");
        assert_eq!(relative("a.b.M.E", "a.b"), "M.E");
        assert_eq!(relative("E", ""), "E");
    }
}
