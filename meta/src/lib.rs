//! The shape of a generated API crate as the runtime sees it.
//!
//! Every crate written by `dotlanth-codegen` exports one [`Api`] value (`API`):
//! its per-method metadata table ([`MethodInfo`]: streaming kind, auth, HTTP
//! bindings with parsed path templates, GraphQL placement), its service names,
//! the encoded descriptor set and the generated documents. The runtime serves any
//! such value — our VM API or, in the echo harness, anyone's protos — through the
//! same code. The types live here, not in each generated crate, so one runtime can
//! read the tables of many crates. This crate has no dependencies.

/// How many messages flow each way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

impl MethodKind {
    /// The `grpc_type` metric label.
    pub const fn label(self) -> &'static str {
        match self {
            MethodKind::Unary => "unary",
            MethodKind::ServerStreaming => "server_stream",
            MethodKind::ClientStreaming => "client_stream",
            MethodKind::BidiStreaming => "bidi_stream",
        }
    }
}

/// Declared `idempotency_level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Idempotency {
    /// Not declared.
    Unknown,
    /// `NO_SIDE_EFFECTS`.
    NoSideEffects,
    /// `IDEMPOTENT`.
    Idempotent,
}

/// Where the method appears in the GraphQL schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

/// One `google.api.http` binding of a method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HttpBinding {
    /// HTTP method (`GET`, `POST`, ..., or a custom kind; `*` is any method).
    pub method: &'static str,
    /// Path template, as declared.
    pub path: &'static str,
    /// The template's segments after the leading `/`, variables replaced by
    /// their sub-templates; literals are as written (percent-encoded form).
    pub segments: &'static [PathSegment],
    /// The variables, each spanning a run of `segments`.
    pub variables: &'static [PathVariable],
    /// The custom verb without its `:`, or empty.
    pub verb: &'static str,
    /// `body`: empty, `*`, or a top-level request field.
    pub body: &'static str,
    /// `response_body`: empty, or a top-level response field.
    pub response_body: &'static str,
    /// The request's `google.protobuf.FieldMask` field to fill from the body's
    /// keys when the caller leaves it out, or empty. Set by the generator on
    /// `PATCH` bindings whose body is a message field (never `*`) when the request
    /// has exactly one other top-level `FieldMask` field.
    pub update_mask: &'static str,
}

/// One segment of a path template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PathSegment {
    /// Exactly this text.
    Literal(&'static str),
    /// `*`: one segment.
    Wildcard,
    /// `**`: zero or more segments (always the last segment).
    DoubleWildcard,
}

/// A path variable: the request field it sets, and the template segments
/// `segments[first..first + len]` whose matched text (joined by `/`) is its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PathVariable {
    /// Field names from the request message down (`["book", "name"]`).
    pub field_path: &'static [&'static str],
    /// Index of the variable's first segment.
    pub first: usize,
    /// Number of template segments the variable spans.
    pub len: usize,
    /// Whether the sub-template can match more than one segment (anything but a
    /// single `*`); such values keep `%2F` encoded when decoded.
    pub multi_segment: bool,
}

/// What the runtime knows about one RPC: enough for routing, authorization,
/// metrics and tracing on every surface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MethodInfo {
    /// `package.Service`.
    pub service: &'static str,
    /// `Method`.
    pub method: &'static str,
    /// The gRPC path, `/package.Service/Method`.
    pub grpc_path: &'static str,
    /// Full name of the request message.
    pub input_type: &'static str,
    /// Full name of the response message.
    pub output_type: &'static str,
    /// Streaming kind.
    pub kind: MethodKind,
    /// Declared idempotency.
    pub idempotency: Idempotency,
    /// Callable without credentials.
    pub public: bool,
    /// Scopes the caller must hold (all of them); empty means any authenticated caller.
    pub scopes: &'static [&'static str],
    /// HTTP bindings, the main one first.
    pub http: &'static [HttpBinding],
    /// GraphQL placement.
    pub graphql: GraphqlPlacement,
    /// Marked deprecated in the proto.
    pub deprecated: bool,
}

/// Looks a method up by gRPC path in a table sorted by path.
pub fn find(table: &'static [MethodInfo], grpc_path: &str) -> Option<&'static MethodInfo> {
    table
        .binary_search_by(|m| m.grpc_path.cmp(grpc_path))
        .ok()
        .map(|i| &table[i])
}

/// Well-known types whose proto3 JSON form is a string or a scalar: path and
/// query parameters can set them.
pub const SCALAR_JSON_WKTS: &[&str] = &[
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
    "google.protobuf.FieldMask",
    "google.protobuf.DoubleValue",
    "google.protobuf.FloatValue",
    "google.protobuf.Int64Value",
    "google.protobuf.UInt64Value",
    "google.protobuf.Int32Value",
    "google.protobuf.UInt32Value",
    "google.protobuf.BoolValue",
    "google.protobuf.StringValue",
    "google.protobuf.BytesValue",
];

/// Everything a generated API crate exports for serving, as one value.
#[derive(Clone, Copy, Debug)]
pub struct Api {
    /// The generated crate's package name.
    pub crate_name: &'static str,
    /// Every method of every generated service, sorted by gRPC path.
    pub methods: &'static [MethodInfo],
    /// Full names of the generated services, sorted.
    pub services: &'static [&'static str],
    /// Encoded `FileDescriptorSet`: the generated files and all their imports.
    pub file_descriptor_set: &'static [u8],
    /// The REST surface as an OpenAPI document, JSON.
    pub openapi_json: &'static str,
    /// The same document as YAML.
    pub openapi_yaml: &'static str,
    /// The HTML reference, one self-contained page.
    pub docs_html: &'static str,
    /// The GraphQL schema (SDL).
    pub graphql_sdl: &'static str,
}

impl Api {
    /// The method with this gRPC path (`/package.Service/Method`).
    pub fn method(&self, grpc_path: &str) -> Option<&'static MethodInfo> {
        find(self.methods, grpc_path)
    }
}
