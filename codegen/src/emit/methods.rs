//! The per-method metadata table (`src/methods.rs`), rendered with askama.

use crate::GeneratedFile;
use crate::emit::{RUST_HEADER, lit};
use crate::model::{Api, Idempotency, MethodKind};
use crate::template::{PathTemplate, Segment};
use askama::Template;

#[derive(Template)]
#[template(path = "methods.rs", escape = "none")]
struct MethodsRs {
    /// What the table uses from `crate::meta` (no unused import in any API).
    imports: String,
    methods: Vec<MethodRow>,
    services: Vec<String>,
}

/// One table row; every string is already a Rust literal.
struct MethodRow {
    service: String,
    method: String,
    grpc_path: String,
    input_type: String,
    output_type: String,
    kind: &'static str,
    idempotency: &'static str,
    public: bool,
    scopes: String,
    http: Vec<HttpRow>,
    graphql: &'static str,
    deprecated: bool,
}

struct HttpRow {
    method: String,
    path: String,
    segments: String,
    variables: Vec<VariableRow>,
    verb: String,
    body: String,
    response_body: String,
    update_mask: String,
}

struct VariableRow {
    field_path: String,
    first: usize,
    len: usize,
    multi_segment: bool,
}

/// A binding's template as rows of the table.
fn template_rows(t: &PathTemplate) -> (String, Vec<VariableRow>) {
    let mut segments = Vec::new();
    let mut variables = Vec::new();
    let flat = |s: &Segment| match s {
        Segment::Literal(l) => format!("PathSegment::Literal({})", lit(l)),
        Segment::Wildcard => "PathSegment::Wildcard".to_string(),
        Segment::DoubleWildcard => "PathSegment::DoubleWildcard".to_string(),
        Segment::Variable(_) => unreachable!("variables hold no variables"),
    };
    for s in &t.segments {
        match s {
            Segment::Variable(v) => {
                variables.push(VariableRow {
                    field_path: v
                        .field_path
                        .iter()
                        .map(|f| lit(f))
                        .collect::<Vec<_>>()
                        .join(", "),
                    first: segments.len(),
                    len: v.segments.len(),
                    multi_segment: v.is_multi_segment(),
                });
                segments.extend(v.segments.iter().map(flat));
            }
            other => segments.push(flat(other)),
        }
    }
    (segments.join(", "), variables)
}

/// Emits `src/methods.rs`.
pub fn emit(api: &Api) -> Result<GeneratedFile, String> {
    // Sorted by gRPC path so the runtime can binary-search the table.
    let mut sorted: Vec<_> = api.methods().collect();
    sorted.sort_by(|a, b| a.1.grpc_path.cmp(&b.1.grpc_path));
    let methods: Vec<MethodRow> = sorted
        .into_iter()
        .map(|(svc, m)| MethodRow {
            service: lit(&svc.full_name),
            method: lit(&m.name),
            grpc_path: lit(&m.grpc_path),
            input_type: lit(&m.input),
            output_type: lit(&m.output),
            kind: match m.kind {
                MethodKind::Unary => "Unary",
                MethodKind::ServerStreaming => "ServerStreaming",
                MethodKind::ClientStreaming => "ClientStreaming",
                MethodKind::BidiStreaming => "BidiStreaming",
            },
            idempotency: match m.idempotency {
                Idempotency::Unknown => "Unknown",
                Idempotency::NoSideEffects => "NoSideEffects",
                Idempotency::Idempotent => "Idempotent",
            },
            public: m.auth.public,
            scopes: m
                .auth
                .scopes
                .iter()
                .map(|s| lit(s))
                .collect::<Vec<_>>()
                .join(", "),
            http: m
                .http
                .iter()
                .map(|h| {
                    let (segments, variables) = template_rows(&h.template);
                    HttpRow {
                        method: lit(h.method.as_str()),
                        path: lit(&h.template.to_string()),
                        segments,
                        variables,
                        verb: lit(h.template.verb.as_deref().unwrap_or("")),
                        body: lit(h.body.as_str()),
                        response_body: lit(h.response_body.as_deref().unwrap_or("")),
                        update_mask: lit(h.update_mask.as_deref().unwrap_or("")),
                    }
                })
                .collect(),
            graphql: m.graphql.name(),
            deprecated: m.deprecated,
        })
        .collect();
    let services = api.services.iter().map(|s| lit(&s.full_name)).collect();
    let mut used = vec!["MethodInfo"];
    if !methods.is_empty() {
        used.extend(["GraphqlPlacement", "Idempotency", "MethodKind"]);
    }
    if methods.iter().any(|m| !m.http.is_empty()) {
        used.push("HttpBinding");
    }
    let bindings = || methods.iter().flat_map(|m| &m.http);
    if bindings().any(|h| !h.segments.is_empty()) {
        used.push("PathSegment");
    }
    if bindings().any(|h| !h.variables.is_empty()) {
        used.push("PathVariable");
    }
    used.sort_unstable();
    let imports = match used.as_slice() {
        [one] => (*one).to_string(),
        many => format!("{{{}}}", many.join(", ")),
    };
    let body = MethodsRs {
        imports,
        methods,
        services,
    }
    .render()
    .map_err(|e| format!("methods.rs template: {e}"))?;
    Ok(GeneratedFile::text(
        "src/methods.rs",
        format!("{RUST_HEADER}{body}\n"),
    ))
}
