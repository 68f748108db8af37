//! The one model of an API that every emitter reads.
//!
//! Built from a descriptor set by [`crate::registry`]; protocol-neutral apart from
//! the HTTP bindings and GraphQL placement, which are annotations on methods.
//!
//! The metadata table reads services and methods; the OpenAPI emitter also reads
//! messages, fields, enums, comments and field behaviours, as the GraphQL SDL, docs
//! and client emitters will.

use crate::template::PathTemplate;
use std::collections::BTreeMap;

/// Everything the emitters need to know about the generated part of a proto tree.
#[derive(Clone, Debug, Default)]
pub struct Api {
    /// Proto files to generate, sorted.
    pub files: Vec<String>,
    /// Proto packages whose Rust types are emitted (the generated files' packages
    /// and packages of the types they use, except `google.protobuf`), sorted.
    pub packages: Vec<String>,
    /// Services of the generated files, sorted by full name.
    pub services: Vec<Service>,
    /// Every message defined in or reachable from the generated files, by full name.
    pub messages: BTreeMap<String, Message>,
    /// Every enum defined in or reachable from the generated files, by full name.
    pub enums: BTreeMap<String, Enum>,
}

impl Api {
    /// All methods of all services, in order.
    pub fn methods(&self) -> impl Iterator<Item = (&Service, &Method)> {
        self.services
            .iter()
            .flat_map(|s| s.methods.iter().map(move |m| (s, m)))
    }
}

/// Leading and trailing comments of an element (source info), trimmed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comments {
    /// The comment block just before the element.
    pub leading: String,
    /// The comment just after the element on the same or next line.
    pub trailing: String,
}

impl Comments {
    /// The text readers should see: the leading comment (else the trailing one)
    /// without AIP-192 internal parts `(-- … --)`.
    pub fn public_text(&self) -> String {
        let raw = if self.leading.is_empty() {
            &self.trailing
        } else {
            &self.leading
        };
        let mut text = String::new();
        let mut rest = raw.as_str();
        while let Some(start) = rest.find("(--") {
            text.push_str(&rest[..start]);
            rest = match rest[start..].find("--)") {
                Some(end) => &rest[start + end + 3..],
                None => "",
            };
        }
        text.push_str(rest);
        text
    }
}

/// A gRPC service.
#[derive(Clone, Debug)]
pub struct Service {
    /// `package.Service`.
    pub full_name: String,
    /// `Service`.
    pub name: String,
    /// `package`.
    pub package: String,
    /// The defining proto file.
    pub file: String,
    /// Source comments.
    pub comments: Comments,
    /// `option deprecated = true`.
    pub deprecated: bool,
    /// Methods in declaration order.
    pub methods: Vec<Method>,
}

/// How many messages flow each way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodKind {
    /// One request, one response.
    Unary,
    /// One request, a stream of responses.
    ServerStreaming,
    /// A stream of requests, one response.
    ClientStreaming,
    /// Streams both ways.
    BidiStreaming,
}

/// `google.protobuf.MethodOptions.idempotency_level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// Not stated.
    Unknown,
    /// Safe: no side effects.
    NoSideEffects,
    /// Repeating the call has the effect of calling once.
    Idempotent,
}

/// Who may call a method (`dotlanth.api.v1.auth`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Auth {
    /// Anyone may call it.
    pub public: bool,
    /// Scopes an authenticated caller must hold (all of them).
    pub scopes: Vec<String>,
}

/// Where a method appears in the GraphQL schema (ordered as the root types are written).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GraphqlPlacement {
    /// A field of `Query`.
    Query,
    /// A field of `Mutation`.
    Mutation,
    /// A field of `Subscription`.
    Subscription,
    /// Not exposed.
    Hidden,
}

impl GraphqlPlacement {
    /// Variant name, for emitted code.
    pub fn name(self) -> &'static str {
        match self {
            GraphqlPlacement::Query => "Query",
            GraphqlPlacement::Mutation => "Mutation",
            GraphqlPlacement::Subscription => "Subscription",
            GraphqlPlacement::Hidden => "Hidden",
        }
    }
}

/// An RPC.
#[derive(Clone, Debug)]
pub struct Method {
    /// `Method`.
    pub name: String,
    /// `package.Service.Method`.
    pub full_name: String,
    /// The gRPC request path, `/package.Service/Method`.
    pub grpc_path: String,
    /// Full name of the request message (no leading dot).
    pub input: String,
    /// Full name of the response message (no leading dot).
    pub output: String,
    /// Streaming kind.
    pub kind: MethodKind,
    /// Declared idempotency.
    pub idempotency: Idempotency,
    /// HTTP bindings: the main rule first, then its `additional_bindings`.
    pub http: Vec<HttpBinding>,
    /// Authentication requirements.
    pub auth: Auth,
    /// GraphQL placement, resolved from the option or the derivation rules.
    pub graphql: GraphqlPlacement,
    /// `option deprecated = true`.
    pub deprecated: bool,
    /// Source comments.
    pub comments: Comments,
}

/// An HTTP verb of a binding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HttpMethod {
    /// GET
    Get,
    /// PUT
    Put,
    /// POST
    Post,
    /// DELETE
    Delete,
    /// PATCH
    Patch,
    /// `custom { kind }`, upper-cased; `*` means any method.
    Custom(String),
}

impl HttpMethod {
    /// The method as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Put => "PUT",
            HttpMethod::Post => "POST",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Custom(k) => k,
        }
    }
}

/// Which part of the request the HTTP body carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyMapping {
    /// No body: every field not in the path comes from the query.
    None,
    /// `*`: every field not in the path comes from the body.
    All,
    /// One top-level field is the body; the rest come from the query.
    Field(String),
}

impl BodyMapping {
    /// The value of `HttpRule.body`.
    pub fn as_str(&self) -> &str {
        match self {
            BodyMapping::None => "",
            BodyMapping::All => "*",
            BodyMapping::Field(f) => f,
        }
    }
}

/// One `google.api.http` rule (main or additional).
#[derive(Clone, Debug)]
pub struct HttpBinding {
    /// HTTP method.
    pub method: HttpMethod,
    /// Parsed path template.
    pub template: PathTemplate,
    /// Body mapping.
    pub body: BodyMapping,
    /// `response_body`: a top-level response field that is the whole HTTP body.
    pub response_body: Option<String>,
    /// The request's `google.protobuf.FieldMask` field that a REST call fills from
    /// the body's keys when the caller leaves it out: set on `PATCH` bindings
    /// whose body is a singular message field, when the request has exactly one
    /// top-level singular `FieldMask` field (other than the body field).
    pub update_mask: Option<String>,
}

/// A message type.
#[derive(Clone, Debug)]
pub struct Message {
    /// `package.Outer.Inner`.
    pub full_name: String,
    /// `Inner`.
    pub name: String,
    /// `package`.
    pub package: String,
    /// The defining proto file.
    pub file: String,
    /// Fields in declaration order.
    pub fields: Vec<Field>,
    /// Real (non-synthetic) oneofs, in declaration order, with their field names.
    pub oneofs: Vec<Oneof>,
    /// Whether this is a synthesized map entry.
    pub map_entry: bool,
    /// `option deprecated = true`.
    pub deprecated: bool,
    /// Source comments.
    pub comments: Comments,
}

/// A oneof group.
#[derive(Clone, Debug)]
pub struct Oneof {
    /// Proto name of the oneof.
    pub name: String,
    /// Proto names of its fields.
    pub fields: Vec<String>,
    /// Source comments.
    pub comments: Comments,
}

/// The scalar or reference type of a field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// `double`
    Double,
    /// `float`
    Float,
    /// `int32`, `sint32`, `sfixed32`
    Int32,
    /// `int64`, `sint64`, `sfixed64`
    Int64,
    /// `uint32`, `fixed32`
    Uint32,
    /// `uint64`, `fixed64`
    Uint64,
    /// `bool`
    Bool,
    /// `string`
    String,
    /// `bytes`
    Bytes,
    /// An enum, by full name.
    Enum(String),
    /// A message, by full name.
    Message(String),
}

/// How many values a field holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cardinality {
    /// A single value with implicit presence (proto3 default).
    Single,
    /// A single value with explicit presence (`optional`, message fields, oneof members).
    Optional,
    /// `repeated`.
    Repeated,
    /// `map<K, V>`: holds the value type; the field's `ty` is the key type.
    Map(FieldType),
}

/// `google.api.field_behavior` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldBehavior {
    /// OPTIONAL
    Optional,
    /// REQUIRED
    Required,
    /// OUTPUT_ONLY
    OutputOnly,
    /// INPUT_ONLY
    InputOnly,
    /// IMMUTABLE
    Immutable,
    /// UNORDERED_LIST
    UnorderedList,
    /// NON_EMPTY_DEFAULT
    NonEmptyDefault,
    /// IDENTIFIER
    Identifier,
}

/// A message field.
#[derive(Clone, Debug)]
pub struct Field {
    /// Proto name (`page_size`).
    pub name: String,
    /// JSON name (`pageSize`, or the declared `json_name`).
    pub json_name: String,
    /// Field number.
    pub number: u32,
    /// Element type (the key type for maps; see [`Cardinality::Map`]).
    pub ty: FieldType,
    /// Cardinality.
    pub cardinality: Cardinality,
    /// Declared behaviours.
    pub behaviors: Vec<FieldBehavior>,
    /// `(dotlanth.api.v1.field_rule).pattern`: a regular expression every
    /// accepted value (each element of a repeated field) matches.
    pub pattern: Option<String>,
    /// The real oneof the field belongs to, if any.
    pub oneof: Option<String>,
    /// `option deprecated = true`.
    pub deprecated: bool,
    /// Source comments.
    pub comments: Comments,
}

/// An enum type.
#[derive(Clone, Debug)]
pub struct Enum {
    /// `package.Enum`.
    pub full_name: String,
    /// `Enum`.
    pub name: String,
    /// The defining proto file.
    pub file: String,
    /// Values in declaration order.
    pub values: Vec<EnumValue>,
    /// `option deprecated = true`.
    pub deprecated: bool,
    /// Source comments.
    pub comments: Comments,
}

/// An enum value.
#[derive(Clone, Debug)]
pub struct EnumValue {
    /// Proto name.
    pub name: String,
    /// Number.
    pub number: i32,
    /// `option deprecated = true`.
    pub deprecated: bool,
    /// Source comments.
    pub comments: Comments,
}
