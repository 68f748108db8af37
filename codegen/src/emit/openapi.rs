//! The OpenAPI document of the REST surface: `openapi/openapi.json` and
//! `openapi/openapi.yaml`, both written from one [`serde_json::Value`].
//!
//! It describes exactly what the REST routes speak (proto3 JSON), from the model
//! only:
//!
//! - **Operations.** One per HTTP binding (the main rule, then its
//!   `additional_bindings`); `operationId` is `Service_Method`, additional
//!   bindings add `_1`, `_2`, … A clash of two ids, or an HTTP method OpenAPI
//!   has no operation for (`custom { kind: "REPORT" }`, `*`), is an error: an
//!   operation is never dropped silently. Methods without a binding have no
//!   REST route and are not in the document.
//! - **Paths.** The template with `{field.path}` for each single-segment
//!   variable and `:verb` kept. A variable with a sub-template
//!   (`{name=shelves/*/books/*}`) is written out segment by segment
//!   (`/shelves/{shelves}/books/{books}`): its URL really has those segments,
//!   `/` unescaped, which is how the router matches it, and as one
//!   `{name}` parameter a client would escape the `/` and several templates
//!   would collapse onto one path (`/v1/{name}` for shelves, books and archive
//!   files alike). Each wildcard of a variable is named after the literal before
//!   it (or the field), a wildcard outside variables `segment` (`*`) or `rest`
//!   (`**`), made unique within the path with `_2`, `_3`, …; the description
//!   gives the field and the whole pattern.
//! - **Parameters.** Path parameters are required, with the field's schema.
//!   Without `body: "*"`, every other leaf field is a query parameter, named by
//!   JSON names joined with `.` through singular message fields (the router
//!   also accepts proto names); repeated scalars are `form` arrays with
//!   `explode: true`. Maps, repeated messages, non-scalar well-known types and
//!   message cycles are not query parameters (the router rejects them too).
//! - **Bodies.** A `google.api.HttpBody` (the input with `body: "*"`, or the
//!   body field) is raw bytes of any media type (`*/*`, `format: binary`), and
//!   so is a `google.api.HttpBody` output or `response_body` field (a server
//!   stream of them: the chunks in turn). Otherwise `body: "*"` is the input
//!   message, or, when top-level fields are bound by the path, a separate
//!   `<Input>_Body` schema without them (with a suffix naming the left-out
//!   fields when bindings of one input leave out different fields);
//!   `body: "field"` is that field's schema.
//! - **Responses.** `200` is the output (or `response_body` field) as
//!   `application/json`; a server stream is `application/x-ndjson` lines of
//!   `{result, error}` or `text/event-stream`. `default` is `google.rpc.Status`,
//!   defined here whether or not `google/rpc/status.proto` is imported.
//! - **Security.** `bearerAuth` (HTTP bearer); non-public methods require it
//!   and list their scopes in the description and in `x-dotlanth-scopes`;
//!   public methods have `security: []`.
//! - **Schemas** are named by full proto name and only those reachable from an
//!   operation are written. Property names are JSON names. int64/uint64 are
//!   strings (`format`, and a `pattern` of exactly the type's range); uint32
//!   is `integer`/`int64` with `minimum: 0` and `maximum: 4294967295` (OpenAPI
//!   has no uint32 format); float/double are numbers whose description notes
//!   the `"NaN"`/`"Infinity"` strings; enums are string enums of the value
//!   names; well-known types are inlined in their JSON form. Oneofs keep every
//!   member as a property and add `x-oneof` plus a sentence on the
//!   exclusivity; proto3 `optional` is `nullable`, and so is every field of a
//!   message a request body can hold, unless REQUIRED (proto3 JSON reads `null`
//!   as the default value); `(dotlanth.api.v1.field_rule).pattern` is
//!   `pattern`; `REQUIRED` is `required`, and a REQUIRED string or bytes field
//!   without presence has `minLength: 1` (a repeated one `minItems`, a map
//!   `minProperties`), as proto3 cannot tell an empty value from a missing
//!   one; `OUTPUT_ONLY` is `readOnly`, `INPUT_ONLY` `writeOnly`; `deprecated`
//!   is kept; comments (AIP-192
//!   `(-- … --)` parts removed) become descriptions, an operation's first
//!   paragraph its summary (`Service.Method` for an uncommented method).
//!
//! Output is deterministic: object keys are written sorted (both writers sort,
//! whatever map type `serde_json` was built with), arrays follow declaration
//! order. The version-dependent parts (nullability, `$ref` siblings) are methods
//! of [`Version`], so OpenAPI 3.1 is one more variant.

use crate::emit::GENERATED_MARKER;
use crate::model::{
    Api, BodyMapping, Cardinality, Comments, Enum, Field, FieldBehavior, FieldType, HttpBinding,
    HttpMethod, Message, Method, MethodKind, Service,
};
use crate::template::{PathTemplate, Segment};
use crate::{Diagnostic, Error, GeneratedFile, Options};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Where the JSON document goes, relative to the generated crate.
pub const JSON_PATH: &str = "openapi/openapi.json";
/// Where the YAML document goes, relative to the generated crate.
pub const YAML_PATH: &str = "openapi/openapi.yaml";

/// Name of the error schema, defined by the generator itself.
const STATUS: &str = "google.rpc.Status";
/// Name of the bearer-token security scheme.
const BEARER: &str = "bearerAuth";
/// Key of the root member that carries the generated-file marker.
const MARKER_KEY: &str = "x-dotlanth-generated";

/// The OpenAPI version written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Version {
    /// OpenAPI 3.0.3: `nullable`, `format: byte`, no siblings next to `$ref`.
    #[default]
    V3_0_3,
    /// OpenAPI 3.1.0 (JSON Schema 2020-12): `null` in `type` arrays,
    /// `contentEncoding: base64`, keywords beside `$ref`.
    V3_1_0,
}

impl std::str::FromStr for Version {
    type Err = String;

    /// `3.0`/`3.0.3` or `3.1`/`3.1.0`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "3.0" | "3.0.3" => Ok(Version::V3_0_3),
            "3.1" | "3.1.0" => Ok(Version::V3_1_0),
            _ => Err(format!(
                "unknown OpenAPI version `{s}` (known: 3.0 (3.0.3, the default), 3.1 (3.1.0))"
            )),
        }
    }
}

impl Version {
    /// The `openapi` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V3_0_3 => "3.0.3",
            Version::V3_1_0 => "3.1.0",
        }
    }

    /// `schema`, also accepting `null`.
    fn nullable(self, schema: Value) -> Value {
        match self {
            Version::V3_0_3 => {
                let mut notes = Map::new();
                notes.insert("nullable".into(), true.into());
                self.with(schema, notes)
            }
            Version::V3_1_0 => {
                let Value::Object(mut map) = schema else {
                    return schema;
                };
                match map.get("type").cloned() {
                    // A typed schema: `null` joins the type (and the enum, if any).
                    Some(Value::String(t)) => {
                        map.insert("type".into(), json!([t, "null"]));
                        if let Some(Value::Array(values)) = map.get_mut("enum") {
                            values.push(Value::Null);
                        }
                        Value::Object(map)
                    }
                    // A reference or an untyped schema: either it or `null`.
                    _ if map.is_empty() => Value::Object(map),
                    _ => json!({ "anyOf": [Value::Object(map), { "type": "null" }] }),
                }
            }
        }
    }

    /// A schema accepting only `null` (`google.protobuf.NullValue`).
    fn null_only(self) -> Value {
        match self {
            // 3.0's `nullable` wants a `type` beside it; `enum` allows `null` only.
            Version::V3_0_3 => json!({ "type": "string", "nullable": true, "enum": [null] }),
            Version::V3_1_0 => json!({ "type": "null" }),
        }
    }

    /// A base64 string (`bytes`).
    fn base64(self) -> Value {
        match self {
            Version::V3_0_3 => json!({ "type": "string", "format": "byte" }),
            Version::V3_1_0 => json!({ "type": "string", "contentEncoding": "base64" }),
        }
    }

    /// `schema` with more keywords (description, readOnly, …). 3.0 ignores the
    /// siblings of a `$ref`, so a reference is wrapped in `allOf`; 3.1 keeps
    /// them beside it.
    fn with(self, schema: Value, notes: Map<String, Value>) -> Value {
        if notes.is_empty() {
            return schema;
        }
        let Value::Object(mut map) = schema else {
            return schema;
        };
        match self {
            Version::V3_0_3 if map.contains_key("$ref") => {
                let mut wrapped = notes;
                wrapped.insert("allOf".into(), Value::Array(vec![Value::Object(map)]));
                Value::Object(wrapped)
            }
            Version::V3_0_3 | Version::V3_1_0 => {
                map.extend(notes);
                Value::Object(map)
            }
        }
    }
}

/// Emits `openapi/openapi.json` and `openapi/openapi.yaml`.
pub fn emit(api: &Api, options: &Options) -> Result<Vec<GeneratedFile>, Error> {
    let doc = document(api, options, options.openapi)?;
    Ok(vec![
        GeneratedFile::text(JSON_PATH, to_json(&doc)),
        GeneratedFile::text(YAML_PATH, to_yaml(&doc)),
    ])
}

/// The OpenAPI document of `api`. Problems of the protos (an HTTP method
/// OpenAPI cannot express, clashing operation ids, …) are
/// [`Error::Invalid`], all of them at once.
pub fn document(api: &Api, options: &Options, version: Version) -> Result<Value, Error> {
    let mut b = Builder {
        api,
        version,
        diags: Vec::new(),
        missing: BTreeSet::new(),
        wanted: Vec::new(),
        referenced: BTreeSet::new(),
        schemas: BTreeMap::new(),
        body_names: BTreeMap::new(),
        inputs: BTreeSet::new(),
    };
    b.name_bodies();
    b.find_inputs();

    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    // Path shape (parameter names erased) → the path written for it first.
    let mut shapes: BTreeMap<String, String> = BTreeMap::new();
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut tags = Vec::new();
    let mut versions = BTreeSet::new();
    for svc in &api.services {
        let mut any = false;
        for m in &svc.methods {
            for (index, binding) in m.http.iter().enumerate() {
                any = true;
                let at = format!(
                    "service {}, method {}, binding {} {}",
                    svc.full_name,
                    m.name,
                    binding.method.as_str(),
                    binding.template
                );
                let id = if index == 0 {
                    format!("{}_{}", svc.name, m.name)
                } else {
                    format!("{}_{}_{index}", svc.name, m.name)
                };
                if let Some(first) = ids.get(&id) {
                    let message = format!(
                        "OpenAPI operationId `{id}` is already taken by {first}; rename a \
                         service or method so that `Service_Method[_n]` is unique"
                    );
                    b.error(&svc.file, at.clone(), message);
                    continue;
                }
                ids.insert(id.clone(), at.clone());
                let Some(key) = method_key(&binding.method) else {
                    let message = format!(
                        "the HTTP method {} has no OpenAPI operation (OpenAPI {} knows get, put, \
                         post, delete, options, head, patch and trace); use one of those",
                        binding.method.as_str(),
                        version.as_str()
                    );
                    b.error(&svc.file, at, message);
                    continue;
                };
                let (path, mut operation) = b.operation(svc, m, binding, &id);
                // OpenAPI has one path item per shape: a template that differs
                // from an earlier one only in its variables' names (`/v1/photo/{photo_id}`,
                // `/v1/photo/{photo.photo_id.id}`) takes the earlier names.
                let path = match shapes.get(&path_shape(&path)) {
                    Some(first) if *first != path => {
                        rename_path_params(&mut operation, &path, first);
                        first.clone()
                    }
                    _ => {
                        shapes.insert(path_shape(&path), path.clone());
                        path
                    }
                };
                let item = paths.entry(path.clone()).or_default();
                if item.contains_key(key) {
                    b.error(
                        &svc.file,
                        at,
                        format!("OpenAPI path `{path}` already has a `{key}` operation"),
                    );
                    continue;
                }
                item.insert(key.to_string(), operation);
            }
        }
        if any {
            let mut tag = Map::new();
            tag.insert("name".into(), svc.full_name.clone().into());
            let text = doc_text(&svc.comments);
            if !text.is_empty() {
                tag.insert("description".into(), text.into());
            }
            tags.push(Value::Object(tag));
            if let Some(v) = svc
                .package
                .rsplit('.')
                .next()
                .filter(|v| is_version_component(v))
            {
                versions.insert(v.to_string());
            }
        }
    }

    b.write_components();
    if !b.missing.is_empty() {
        let names: Vec<String> = b.missing.into_iter().collect();
        return Err(Error::Emit(format!(
            "openapi: the model lacks the type(s) {}",
            names.join(", ")
        )));
    }
    if !b.diags.is_empty() {
        return Err(Error::Invalid(b.diags));
    }

    let version_text = if versions.is_empty() {
        "unversioned".to_string()
    } else {
        versions.into_iter().collect::<Vec<_>>().join(", ")
    };
    let mut root = Map::new();
    root.insert(
        MARKER_KEY.into(),
        format!(
            "{GENERATED_MARKER} from the proto sources. Do not edit by hand: run `cargo xtask gen`."
        )
        .into(),
    );
    root.insert("openapi".into(), version.as_str().into());
    root.insert(
        "info".into(),
        json!({
            "title": options.crate_name,
            "version": version_text,
            "description": INFO_DESCRIPTION,
        }),
    );
    // Relative to wherever the document is served from: the server serves both.
    root.insert("servers".into(), json!([{ "url": "/" }]));
    root.insert("tags".into(), Value::Array(tags));
    root.insert(
        "paths".into(),
        Value::Object(
            paths
                .into_iter()
                .map(|(k, v)| (k, Value::Object(v)))
                .collect(),
        ),
    );
    root.insert(
        "components".into(),
        json!({
            "schemas": Value::Object(b.schemas.into_iter().collect()),
            "securitySchemes": {
                BEARER: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token in `Authorization: Bearer <token>`. An operation's \
                                    `x-dotlanth-scopes` lists the scopes the token must hold.",
                }
            },
        }),
    );
    Ok(Value::Object(root))
}

const INFO_DESCRIPTION: &str = "The REST/JSON surface of the API, generated from the proto files.\n\n\
Bodies are proto3 JSON: 64-bit integers are strings, enums are value names, bytes are base64, \
`Timestamp`s are RFC 3339 strings and `Duration`s are strings like `\"1.5s\"`; fields may also be \
given by their proto names, and a field given as `null` is unset. Errors are `google.rpc.Status` \
JSON with the HTTP status mapped from the gRPC code. A server stream is newline-delimited JSON, one \
`{\"result\": …}` per message and a final `{\"error\": …}` on failure, or, with \
`Accept: text/event-stream`, server-sent events (`data:` per message, `event: error` on failure).";

/// The names of an OpenAPI path's parameters, in order.
fn path_param_names(path: &str) -> Vec<&str> {
    path.split('{')
        .skip(1)
        .filter_map(|part| part.split_once('}').map(|(name, _)| name))
        .collect()
}

/// An OpenAPI path with its parameter names erased (`/v1/photo/{}`).
fn path_shape(path: &str) -> String {
    let mut shape = path.to_string();
    for name in path_param_names(path) {
        shape = shape.replacen(&format!("{{{name}}}"), "{}", 1);
    }
    shape
}

/// Renames the path parameters of `operation` (written for `from`) to the names
/// of the same positions in `to`, noting the original name in each description.
fn rename_path_params(operation: &mut Value, from: &str, to: &str) {
    let renames: BTreeMap<&str, &str> = path_param_names(from)
        .into_iter()
        .zip(path_param_names(to))
        .collect();
    let Some(params) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for p in params {
        if p["in"] != "path" {
            continue;
        }
        let Some(new) = p["name"].as_str().and_then(|old| renames.get(old)) else {
            continue;
        };
        let old = p["name"].as_str().unwrap_or_default().to_string();
        p["name"] = (*new).into();
        let note = format!("The path template names this `{old}`.");
        let description = match p["description"].as_str() {
            Some(d) if !d.is_empty() => format!("{d}\n\n{note}"),
            _ => note,
        };
        p["description"] = description.into();
    }
}

/// `v1`, `v2beta1`, …: the version component of a package name.
fn is_version_component(s: &str) -> bool {
    s.strip_prefix('v')
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

/// The path-item key of an HTTP method, if OpenAPI has one.
fn method_key(method: &HttpMethod) -> Option<&'static str> {
    Some(match method {
        HttpMethod::Get => "get",
        HttpMethod::Put => "put",
        HttpMethod::Post => "post",
        HttpMethod::Delete => "delete",
        HttpMethod::Patch => "patch",
        HttpMethod::Custom(kind) => match kind.as_str() {
            "GET" => "get",
            "PUT" => "put",
            "POST" => "post",
            "DELETE" => "delete",
            "PATCH" => "patch",
            "HEAD" => "head",
            "OPTIONS" => "options",
            "TRACE" => "trace",
            _ => return None,
        },
    })
}

struct Builder<'a> {
    api: &'a Api,
    version: Version,
    diags: Vec<Diagnostic>,
    /// Types referenced but absent from the model.
    missing: BTreeSet<String>,
    /// Referenced components not written yet.
    wanted: Vec<String>,
    /// Every component referenced so far.
    referenced: BTreeSet<String>,
    /// Written components.
    schemas: BTreeMap<String, Value>,
    /// `body: "*"` schemas: (input, left-out top-level fields) → name.
    body_names: BTreeMap<(String, Vec<String>), String>,
    /// Messages a request body can hold (at any depth): their fields take `null`.
    inputs: BTreeSet<String>,
}

/// `schema` without the `null` that [`Version::nullable`] added (either version).
fn non_null(schema: Value) -> Value {
    let Value::Object(mut map) = schema else {
        return schema;
    };
    map.remove("nullable");
    if let Some(Value::Array(types)) = map.get("type") {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if kept.len() < types.len()
            && let Some(Value::Array(values)) = map.get_mut("enum")
        {
            values.retain(|v| !v.is_null());
        }
        let ty = match <[Value; 1]>::try_from(kept) {
            Ok([one]) => one,
            Err(many) => Value::Array(many),
        };
        map.insert("type".into(), ty);
    }
    if let Some(Value::Array(options)) = map.get("anyOf")
        && let [only, null] = options.as_slice()
        && *null == json!({ "type": "null" })
        && map.len() == 1
    {
        return only.clone();
    }
    Value::Object(map)
}

/// One path or query parameter, before it becomes a Parameter object.
struct Param {
    name: String,
    location: &'static str,
    required: bool,
    deprecated: bool,
    description: String,
    schema: Value,
}

impl Param {
    fn into_value(mut self) -> Value {
        // A parameter is never `null`: drop the nullability of wrappers and
        // `optional` fields.
        self.schema = non_null(self.schema);
        let mut p = Map::new();
        p.insert("name".into(), self.name.into());
        p.insert("in".into(), self.location.into());
        if self.required {
            p.insert("required".into(), true.into());
        }
        if self.deprecated {
            p.insert("deprecated".into(), true.into());
        }
        if !self.description.is_empty() {
            p.insert("description".into(), self.description.into());
        }
        if self.schema.get("type").and_then(Value::as_str) == Some("array") {
            p.insert("style".into(), "form".into());
            p.insert("explode".into(), true.into());
        }
        p.insert("schema".into(), self.schema);
        Value::Object(p)
    }
}

impl<'a> Builder<'a> {
    fn error(&mut self, file: &str, element: String, message: String) {
        self.diags.push(Diagnostic {
            file: file.to_string(),
            element,
            message,
        });
    }

    fn message(&mut self, name: &str) -> Option<&'a Message> {
        let api = self.api;
        let found = api.messages.get(name);
        if found.is_none() {
            self.missing.insert(name.to_string());
        }
        found
    }

    /// The field at the end of a path of proto names from `input`.
    fn resolve(&mut self, input: &str, path: &[String]) -> Option<&'a Field> {
        let api = self.api;
        let mut msg = self.message(input)?;
        for (i, name) in path.iter().enumerate() {
            let f = msg.fields.iter().find(|f| &f.name == name)?;
            if i + 1 == path.len() {
                return Some(f);
            }
            match &f.ty {
                FieldType::Message(sub) => msg = api.messages.get(sub)?,
                _ => return None,
            }
        }
        None
    }

    /// A path of proto names from `input` as JSON names joined with `.`.
    fn json_path(&self, input: &str, path: &[String]) -> String {
        let mut msg = self.api.messages.get(input);
        let mut out = Vec::new();
        for name in path {
            let field = msg.and_then(|m| m.fields.iter().find(|f| &f.name == name));
            out.push(field.map_or(name.as_str(), |f| f.json_name.as_str()));
            msg = match field.map(|f| &f.ty) {
                Some(FieldType::Message(sub)) => self.api.messages.get(sub),
                _ => None,
            };
        }
        out.join(".")
    }

    /// Top-level input fields a `body: "*"` binding takes from its path.
    fn path_bound_top_level(&self, input: &str, binding: &HttpBinding) -> Vec<String> {
        let bound: BTreeSet<&str> = binding
            .template
            .variables()
            .filter(|v| v.field_path.len() == 1)
            .map(|v| v.field_path[0].as_str())
            .collect();
        match self.api.messages.get(input) {
            Some(msg) => msg
                .fields
                .iter()
                .filter(|f| bound.contains(f.name.as_str()))
                .map(|f| f.name.clone())
                .collect(),
            None => Vec::new(),
        }
    }

    /// Names every `<Input>_Body` schema up front: `<Input>_Body` when all
    /// `body: "*"` bindings of that input leave out the same fields, otherwise
    /// `<Input>_Body_<field>-<field>…` for each variant.
    fn name_bodies(&mut self) {
        let mut variants: BTreeMap<String, BTreeSet<Vec<String>>> = BTreeMap::new();
        for (_, m) in self.api.methods() {
            if is_wkt(&m.input) {
                continue;
            }
            for b in &m.http {
                if b.body != BodyMapping::All {
                    continue;
                }
                let left_out = self.path_bound_top_level(&m.input, b);
                if !left_out.is_empty() {
                    variants
                        .entry(m.input.clone())
                        .or_default()
                        .insert(left_out);
                }
            }
        }
        for (input, sets) in variants {
            let single = sets.len() == 1;
            for set in sets {
                let name = if single {
                    format!("{input}_Body")
                } else {
                    format!("{input}_Body_{}", set.join("-"))
                };
                if let Some(msg) = self.api.messages.get(&name) {
                    let file = msg.file.clone();
                    self.error(
                        &file,
                        format!("message {name}"),
                        format!(
                            "the OpenAPI document needs the schema name `{name}` for the body of \
                             {input} without its path fields, and this message has that name"
                        ),
                    );
                }
                self.body_names.insert((input.clone(), set), name);
            }
        }
    }

    /// Finds every message a request body can hold: the input of a `body: "*"`
    /// binding or the message type of a body field, and every message reachable
    /// from those.
    fn find_inputs(&mut self) {
        let api = self.api;
        let mut todo: Vec<String> = Vec::new();
        for (_, m) in api.methods() {
            for b in &m.http {
                match &b.body {
                    BodyMapping::None => {}
                    BodyMapping::All => todo.push(m.input.clone()),
                    BodyMapping::Field(name) => {
                        let field = api
                            .messages
                            .get(&m.input)
                            .and_then(|msg| msg.fields.iter().find(|f| &f.name == name));
                        if let Some(FieldType::Message(sub)) = field.map(|f| &f.ty) {
                            todo.push(sub.clone());
                        }
                    }
                }
            }
        }
        while let Some(name) = todo.pop() {
            let Some(msg) = api.messages.get(&name) else {
                continue;
            };
            if !self.inputs.insert(name) {
                continue;
            }
            for f in &msg.fields {
                let value = match &f.cardinality {
                    Cardinality::Map(value) => value,
                    _ => &f.ty,
                };
                if let FieldType::Message(sub) = value {
                    todo.push(sub.clone());
                }
            }
        }
    }

    /// A `$ref` to a component, queueing it to be written.
    fn reference(&mut self, name: &str) -> Value {
        if self.referenced.insert(name.to_string()) {
            self.wanted.push(name.to_string());
        }
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    /// The schema of one value of `ty` (no cardinality, no annotations).
    fn type_schema(&mut self, ty: &FieldType) -> Value {
        match ty {
            FieldType::Double => json!({ "type": "number", "format": "double" }),
            FieldType::Float => json!({ "type": "number", "format": "float" }),
            FieldType::Int32 => json!({ "type": "integer", "format": "int32" }),
            FieldType::Uint32 => uint32(),
            FieldType::Int64 => int64(),
            FieldType::Uint64 => uint64(),
            FieldType::Bool => json!({ "type": "boolean" }),
            FieldType::String => json!({ "type": "string" }),
            FieldType::Bytes => self.version.base64(),
            FieldType::Enum(e) if e == "google.protobuf.NullValue" => self.version.null_only(),
            FieldType::Enum(e) => self.reference(e),
            FieldType::Message(m) if m == STATUS => self.reference(STATUS),
            FieldType::Message(m) => match self.wkt(m) {
                Some(s) => s,
                None => self.reference(m),
            },
        }
    }

    /// The JSON form of a well-known type, inlined wherever it is used.
    fn wkt(&self, name: &str) -> Option<Value> {
        let v = self.version;
        Some(match name.strip_prefix("google.protobuf.")? {
            "Timestamp" => json!({ "type": "string", "format": "date-time" }),
            "Duration" => json!({ "type": "string", "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$" }),
            "FieldMask" => json!({ "type": "string" }),
            "Struct" => json!({ "type": "object", "additionalProperties": {} }),
            "Value" => json!({}),
            "ListValue" => json!({ "type": "array", "items": {} }),
            "Empty" => json!({ "type": "object" }),
            "Any" => any_schema(),
            "DoubleValue" => v.nullable(json!({ "type": "number", "format": "double" })),
            "FloatValue" => v.nullable(json!({ "type": "number", "format": "float" })),
            "Int64Value" => v.nullable(int64()),
            "UInt64Value" => v.nullable(uint64()),
            "Int32Value" => v.nullable(json!({ "type": "integer", "format": "int32" })),
            "UInt32Value" => v.nullable(uint32()),
            "BoolValue" => v.nullable(json!({ "type": "boolean" })),
            "StringValue" => v.nullable(json!({ "type": "string" })),
            "BytesValue" => v.nullable(v.base64()),
            _ => return None,
        })
    }

    /// The schema of one value of a field (an element, for a repeated one): its
    /// type and what the server enforces beyond it. That is the field's
    /// `pattern`, and, for a REQUIRED string or bytes field without presence, a
    /// non-empty value: proto3 cannot tell `""` from unset, so the server
    /// refuses it like a missing field.
    fn value_schema(&mut self, f: &Field) -> Value {
        let mut schema = self.type_schema(&f.ty);
        if let Some(map) = schema.as_object_mut() {
            if let Some(pattern) = &f.pattern {
                map.insert("pattern".into(), pattern.clone().into());
            }
            if f.cardinality == Cardinality::Single
                && f.behaviors.contains(&FieldBehavior::Required)
                && matches!(f.ty, FieldType::String | FieldType::Bytes)
            {
                map.insert("minLength".into(), 1.into());
            }
        }
        schema
    }

    /// The schema of a field: cardinality, nullability and annotations. `input`:
    /// the field belongs to a message clients send, where proto3 JSON reads
    /// `null` as the field's default value, so every field that is not REQUIRED
    /// is nullable.
    fn field_schema(&mut self, f: &Field, input: bool) -> Value {
        let required = f.behaviors.contains(&FieldBehavior::Required);
        let base = match &f.cardinality {
            Cardinality::Map(value) => {
                let mut map =
                    json!({ "type": "object", "additionalProperties": self.type_schema(value) });
                if required {
                    map["minProperties"] = 1.into();
                }
                map
            }
            Cardinality::Repeated => {
                let mut list = json!({ "type": "array", "items": self.value_schema(f) });
                if required {
                    list["minItems"] = 1.into();
                }
                list
            }
            Cardinality::Single | Cardinality::Optional => self.value_schema(f),
        };
        // `google.protobuf.Value` and `NullValue` already take `null` as a value.
        let takes_null = matches!(
            &f.ty,
            FieldType::Enum(e) | FieldType::Message(e)
                if e == "google.protobuf.NullValue" || e == "google.protobuf.Value"
        ) && !matches!(f.cardinality, Cardinality::Repeated | Cardinality::Map(_));
        let base = if is_proto3_optional(f) || (input && !required && !takes_null) {
            match (self.version, base.get("$ref").is_some(), &f.ty) {
                // 3.0's `nullable` needs a `type` beside it; a reference has
                // none, so the wrapper states the referenced schema's type.
                (Version::V3_0_3, true, ty) => {
                    let ty = if matches!(ty, FieldType::Enum(_)) {
                        "string"
                    } else {
                        "object"
                    };
                    json!({ "type": ty, "nullable": true, "allOf": [base] })
                }
                _ => self.version.nullable(base),
            }
        } else {
            base
        };
        let mut notes = Map::new();
        let description = field_description(f);
        if !description.is_empty() {
            notes.insert("description".into(), description.into());
        }
        if f.behaviors.contains(&FieldBehavior::OutputOnly) {
            notes.insert("readOnly".into(), true.into());
        }
        if f.behaviors.contains(&FieldBehavior::InputOnly) {
            notes.insert("writeOnly".into(), true.into());
        }
        if f.deprecated {
            notes.insert("deprecated".into(), true.into());
        }
        self.version.with(base, notes)
    }

    /// The object schema of a message, leaving out the top-level fields `omit`.
    fn message_schema(&mut self, msg: &Message, omit: &[String]) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for f in &msg.fields {
            if omit.contains(&f.name) {
                continue;
            }
            if f.behaviors.contains(&FieldBehavior::OutputOnly)
                && f.behaviors.contains(&FieldBehavior::InputOnly)
            {
                self.error(
                    &msg.file,
                    format!("message {}, field {}", msg.full_name, f.name),
                    "a field cannot be both OUTPUT_ONLY and INPUT_ONLY (OpenAPI readOnly and \
                     writeOnly exclude each other)"
                        .into(),
                );
            }
            let input = self.inputs.contains(&msg.full_name);
            properties.insert(f.json_name.clone(), self.field_schema(f, input));
            if f.behaviors.contains(&FieldBehavior::Required) {
                required.push(Value::from(f.json_name.clone()));
            }
        }
        let mut schema = Map::new();
        schema.insert("type".into(), "object".into());
        let mut description = doc_text(&msg.comments);
        let mut oneofs = Map::new();
        for o in &msg.oneofs {
            let members: Vec<&Field> = o
                .fields
                .iter()
                .filter(|name| !omit.contains(name))
                .filter_map(|name| msg.fields.iter().find(|f| &f.name == name))
                .collect();
            if members.is_empty() {
                continue;
            }
            let names: Vec<String> = members
                .iter()
                .map(|f| format!("`{}`", f.json_name))
                .collect();
            push_paragraph(
                &mut description,
                &format!(
                    "At most one of {} is set (oneof `{}`).",
                    join_or(&names),
                    o.name
                ),
            );
            oneofs.insert(
                o.name.clone(),
                Value::Array(members.iter().map(|f| f.json_name.clone().into()).collect()),
            );
        }
        if !description.is_empty() {
            schema.insert("description".into(), description.into());
        }
        if !properties.is_empty() {
            schema.insert("properties".into(), Value::Object(properties));
        }
        if !required.is_empty() {
            schema.insert("required".into(), Value::Array(required));
        }
        if msg.deprecated {
            schema.insert("deprecated".into(), true.into());
        }
        if !oneofs.is_empty() {
            schema.insert("x-oneof".into(), Value::Object(oneofs));
        }
        Value::Object(schema)
    }

    /// Writes every referenced component (and what those reference in turn).
    fn write_components(&mut self) {
        let api = self.api;
        while let Some(name) = self.wanted.pop() {
            let schema = if name == STATUS {
                status_schema()
            } else if let Some(e) = api.enums.get(&name) {
                enum_schema(e)
            } else if let Some(msg) = api.messages.get(&name) {
                self.message_schema(msg, &[])
            } else if let Some(schema) = self.body_schema(&name) {
                schema
            } else {
                self.missing.insert(name.clone());
                continue;
            };
            self.schemas.insert(name, schema);
        }
    }

    /// The schema behind a `<Input>_Body` name.
    fn body_schema(&mut self, name: &str) -> Option<Value> {
        let ((input, omit), _) = self.body_names.iter().find(|(_, n)| *n == name)?;
        let (input, omit) = (input.clone(), omit.clone());
        let api = self.api;
        let msg = api.messages.get(&input)?;
        let mut schema = self.message_schema(msg, &omit);
        let names: Vec<String> = omit
            .iter()
            .map(|f| {
                let json = msg
                    .fields
                    .iter()
                    .find(|x| &x.name == f)
                    .map_or(f.as_str(), |x| x.json_name.as_str());
                format!("`{json}`")
            })
            .collect();
        let note = format!(
            "The body of `{input}`: {} {} taken from the path.",
            join_and(&names),
            if names.len() == 1 { "is" } else { "are" }
        );
        if let Some(map) = schema.as_object_mut() {
            let mut description = map
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            push_paragraph(&mut description, &note);
            map.insert("description".into(), description.into());
        }
        Some(schema)
    }

    /// The OpenAPI path of a binding and its path parameters.
    fn path(&mut self, input: &str, template: &PathTemplate) -> (String, Vec<Param>) {
        // Names taken by single-segment variables; synthesized names avoid them.
        let mut used: BTreeSet<String> = template
            .variables()
            .filter(|v| !v.is_multi_segment())
            .map(|v| v.field_path_str())
            .collect();
        let mut unique = |candidate: String| {
            let mut name = candidate.clone();
            let mut n = 2;
            while used.contains(&name) {
                name = format!("{candidate}_{n}");
                n += 1;
            }
            used.insert(name.clone());
            name
        };
        let mut path = String::new();
        let mut params = Vec::new();
        for segment in &template.segments {
            match segment {
                Segment::Literal(l) => {
                    path.push('/');
                    path.push_str(l);
                }
                Segment::Wildcard | Segment::DoubleWildcard => {
                    let multi = matches!(segment, Segment::DoubleWildcard);
                    let name = unique(if multi { "rest" } else { "segment" }.to_string());
                    path.push_str(&format!("/{{{name}}}"));
                    let description = if multi {
                        "The rest of the path: zero or more segments, `/` not escaped. Not bound \
                         to a field."
                    } else {
                        "Any one segment. Not bound to a field."
                    };
                    params.push(Param {
                        name,
                        location: "path",
                        required: true,
                        deprecated: false,
                        description: description.into(),
                        schema: json!({ "type": "string" }),
                    });
                }
                Segment::Variable(v) if !v.is_multi_segment() => {
                    let name = v.field_path_str();
                    path.push_str(&format!("/{{{name}}}"));
                    let (schema, description, deprecated) =
                        match self.resolve(input, &v.field_path).cloned() {
                            Some(f) => (self.value_schema(&f), field_description(&f), f.deprecated),
                            None => (json!({ "type": "string" }), String::new(), false),
                        };
                    params.push(Param {
                        name,
                        location: "path",
                        required: true,
                        deprecated,
                        description,
                        schema,
                    });
                }
                Segment::Variable(v) => {
                    let field = v.field_path_str();
                    let (field_doc, deprecated) = match self.resolve(input, &v.field_path) {
                        Some(f) => (field_description(f), f.deprecated),
                        None => (String::new(), false),
                    };
                    // First the names, then the pattern text that uses them.
                    let mut names = Vec::new();
                    let mut before: Option<String> = None;
                    let last = v.field_path.last().map_or("segment", String::as_str);
                    for sub in &v.segments {
                        match sub {
                            Segment::Literal(l) => before = Some(l.clone()),
                            Segment::Wildcard | Segment::DoubleWildcard => {
                                names.push(unique(param_name(before.as_deref(), last)));
                                before = None;
                            }
                            Segment::Variable(_) => {}
                        }
                    }
                    let mut pattern = Vec::new();
                    let mut wildcard = 0;
                    for sub in &v.segments {
                        match sub {
                            Segment::Literal(l) => pattern.push(l.clone()),
                            Segment::Wildcard | Segment::DoubleWildcard => {
                                pattern.push(format!("{{{}}}", names[wildcard]));
                                wildcard += 1;
                            }
                            Segment::Variable(_) => {}
                        }
                    }
                    let pattern = pattern.join("/");
                    path.push('/');
                    path.push_str(&pattern);
                    let mut wildcard = 0;
                    for sub in &v.segments {
                        let multi = match sub {
                            Segment::Wildcard => false,
                            Segment::DoubleWildcard => true,
                            _ => continue,
                        };
                        let mut description = format!(
                            "Part of `{field}`, which the path sets to `{pattern}` (template \
                             `{{{field}={}}}`).",
                            v.sub_template()
                        );
                        if multi {
                            push_paragraph(
                                &mut description,
                                "Zero or more segments, `/` not escaped.",
                            );
                        }
                        if !field_doc.is_empty() {
                            push_paragraph(&mut description, &format!("`{field}`: {field_doc}"));
                        }
                        params.push(Param {
                            name: names[wildcard].clone(),
                            location: "path",
                            required: true,
                            deprecated,
                            description,
                            schema: json!({ "type": "string" }),
                        });
                        wildcard += 1;
                    }
                }
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        if let Some(verb) = &template.verb {
            path.push(':');
            path.push_str(verb);
        }
        (path, params)
    }

    /// Query parameters: the leaf fields of `msg` not bound by the path or the
    /// body, named by JSON names joined with `.`.
    #[allow(clippy::too_many_arguments)]
    fn query_params(
        &mut self,
        msg_name: &str,
        proto_prefix: &[String],
        json_prefix: &[String],
        required_so_far: bool,
        bound: &[Vec<String>],
        body_field: Option<&str>,
        stack: &mut Vec<String>,
        out: &mut Vec<Param>,
    ) {
        let api = self.api;
        let Some(msg) = self.message(msg_name) else {
            return;
        };
        stack.push(msg_name.to_string());
        for f in &msg.fields {
            if proto_prefix.is_empty() && body_field == Some(f.name.as_str()) {
                continue;
            }
            let mut proto_path = proto_prefix.to_vec();
            proto_path.push(f.name.clone());
            if bound.contains(&proto_path) {
                continue;
            }
            let mut json_path = json_prefix.to_vec();
            json_path.push(f.json_name.clone());
            let required = required_so_far && f.behaviors.contains(&FieldBehavior::Required);
            let scalar_like = match &f.ty {
                FieldType::Enum(e) => e != "google.protobuf.NullValue",
                FieldType::Message(m) => is_scalar_wkt(m),
                _ => true,
            };
            let schema = match (&f.cardinality, &f.ty) {
                (Cardinality::Map(_), _) => continue,
                (Cardinality::Repeated, _) if scalar_like => {
                    json!({ "type": "array", "items": self.value_schema(f) })
                }
                (Cardinality::Repeated, _) => continue,
                (_, _) if scalar_like => self.value_schema(f),
                (_, FieldType::Message(m)) if m.starts_with("google.protobuf.") => continue,
                (_, FieldType::Message(m)) => {
                    if stack.contains(m) || !api.messages.contains_key(m) {
                        continue;
                    }
                    let m = m.clone();
                    self.query_params(
                        &m,
                        &proto_path,
                        &json_path,
                        required,
                        bound,
                        body_field,
                        stack,
                        out,
                    );
                    continue;
                }
                _ => continue,
            };
            out.push(Param {
                name: json_path.join("."),
                location: "query",
                required,
                deprecated: f.deprecated,
                description: field_description(f),
                schema,
            });
        }
        stack.pop();
    }

    /// One operation: its path and the Operation object.
    /// Whether `field` of `message` is a singular `google.api.HttpBody`.
    fn is_http_body_field(&self, message: &str, field: &str) -> bool {
        self.api.messages.get(message).is_some_and(|msg| {
            msg.fields.iter().any(|f| {
                f.name == field
                    && f.ty == FieldType::Message(HTTP_BODY.into())
                    && !matches!(f.cardinality, Cardinality::Repeated | Cardinality::Map(_))
            })
        })
    }

    fn operation(
        &mut self,
        svc: &Service,
        m: &Method,
        binding: &HttpBinding,
        id: &str,
    ) -> (String, Value) {
        let mut op = Map::new();
        op.insert("operationId".into(), id.into());
        op.insert("tags".into(), json!([svc.full_name]));
        let (summary, mut description) = split_summary(&doc_text(&m.comments));
        // An uncommented method is summarized by its gRPC name.
        let summary = if summary.is_empty() {
            format!("{}.{}", svc.name, m.name)
        } else {
            summary
        };
        op.insert("summary".into(), summary.into());
        if m.deprecated || svc.deprecated {
            op.insert("deprecated".into(), true.into());
        }

        // Security.
        if m.auth.public {
            op.insert("security".into(), json!([]));
            push_paragraph(&mut description, "Public: no token needed.");
        } else {
            op.insert("security".into(), json!([{ BEARER: [] }]));
            let note = if m.auth.scopes.is_empty() {
                "Requires a bearer token (any scope).".to_string()
            } else {
                let names: Vec<String> = m.auth.scopes.iter().map(|s| format!("`{s}`")).collect();
                format!(
                    "Requires a bearer token with the scope{} {}.",
                    if names.len() == 1 { "" } else { "s" },
                    join_and(&names)
                )
            };
            push_paragraph(&mut description, &note);
            if !m.auth.scopes.is_empty() {
                op.insert("x-dotlanth-scopes".into(), json!(m.auth.scopes));
            }
        }
        if !description.is_empty() {
            op.insert("description".into(), description.into());
        }

        // Path and query parameters.
        let (path, mut params) = self.path(&m.input, &binding.template);
        if binding.body != BodyMapping::All && !is_wkt(&m.input) {
            let bound: Vec<Vec<String>> = binding
                .template
                .variables()
                .map(|v| v.field_path.clone())
                .collect();
            let body_field = match &binding.body {
                BodyMapping::Field(f) => Some(f.as_str()),
                _ => None,
            };
            self.query_params(
                &m.input,
                &[],
                &[],
                true,
                &bound,
                body_field,
                &mut Vec::new(),
                &mut params,
            );
        }
        if !params.is_empty() {
            op.insert(
                "parameters".into(),
                Value::Array(params.into_iter().map(Param::into_value).collect()),
            );
        }

        // Request body.
        let raw_request = match &binding.body {
            BodyMapping::None => false,
            BodyMapping::All => m.input == HTTP_BODY,
            BodyMapping::Field(name) => self.is_http_body_field(&m.input, name),
        };
        let body = match &binding.body {
            _ if raw_request => None,
            BodyMapping::None => None,
            BodyMapping::All => {
                let left_out = self.path_bound_top_level(&m.input, binding);
                let required = self.api.messages.get(&m.input).is_some_and(|msg| {
                    msg.fields.iter().any(|f| {
                        !left_out.contains(&f.name)
                            && f.behaviors.contains(&FieldBehavior::Required)
                    })
                });
                let schema = match self.body_names.get(&(m.input.clone(), left_out)) {
                    Some(name) => {
                        let name = name.clone();
                        self.reference(&name)
                    }
                    None => self.type_schema(&FieldType::Message(m.input.clone())),
                };
                Some((schema, required, String::new()))
            }
            BodyMapping::Field(name) => self
                .resolve(&m.input, std::slice::from_ref(name))
                .cloned()
                .map(|f| {
                    let required = f.behaviors.contains(&FieldBehavior::Required);
                    let mut plain = f.clone();
                    plain.comments = Comments::default();
                    (
                        self.field_schema(&plain, true),
                        required,
                        field_description(&f),
                    )
                }),
        };
        if let Some((schema, required, mut description)) = body {
            // Nested fields the path sets inside the body.
            let inside: Vec<String> = binding
                .template
                .variables()
                .filter(|v| match &binding.body {
                    BodyMapping::All => v.field_path.len() > 1,
                    BodyMapping::Field(f) => v.field_path.first() == Some(f),
                    BodyMapping::None => false,
                })
                .map(|v| {
                    let full = self.json_path(&m.input, &v.field_path);
                    // Within a field body, paths start inside that field.
                    let within = match &binding.body {
                        BodyMapping::Field(_) => full.split_once('.').map_or(&*full, |(_, r)| r),
                        _ => &full,
                    };
                    format!("`{within}`")
                })
                .collect();
            if !inside.is_empty() {
                push_paragraph(
                    &mut description,
                    &format!(
                        "The path sets {} (a value in the body is replaced).",
                        join_and(&inside)
                    ),
                );
            }
            let mut request = Map::new();
            if !description.is_empty() {
                request.insert("description".into(), description.into());
            }
            if required {
                request.insert("required".into(), true.into());
            }
            request.insert(
                "content".into(),
                json!({ "application/json": { "schema": schema } }),
            );
            op.insert("requestBody".into(), Value::Object(request));
        }
        if raw_request {
            op.insert(
                "requestBody".into(),
                json!({
                    "description": "The raw request body, of any media type: its bytes and its \
                                    `Content-Type` are the `google.api.HttpBody`.",
                    "content": raw_content(),
                }),
            );
        }

        // Responses.
        let raw_response = match &binding.response_body {
            None => m.output == HTTP_BODY,
            Some(field) => self.is_http_body_field(&m.output, field),
        };
        let item = match &binding.response_body {
            _ if raw_response => Value::Null,
            Some(field) => match self
                .resolve(&m.output, std::slice::from_ref(field))
                .cloned()
            {
                Some(f) => self.field_schema(&f, false),
                None => json!({}),
            },
            None => self.type_schema(&FieldType::Message(m.output.clone())),
        };
        let ok = if raw_response {
            if m.kind == MethodKind::ServerStreaming {
                op.insert("x-dotlanth-streaming".into(), "server".into());
            }
            json!({
                "description": if m.kind == MethodKind::ServerStreaming {
                    "The raw bytes of every `google.api.HttpBody` of the stream in turn, with \
                     the first one's content type (`application/octet-stream` when empty). A \
                     failure before the first message is an error response; after it, the \
                     response is cut short."
                } else {
                    "The raw bytes of the `google.api.HttpBody`, with its content type \
                     (`application/octet-stream` when empty)."
                },
                "content": raw_content(),
            })
        } else if m.kind == MethodKind::ServerStreaming {
            op.insert("x-dotlanth-streaming".into(), "server".into());
            let error = self.reference(STATUS);
            json!({
                "description": "A stream of messages: newline-delimited JSON, or server-sent \
                                events with `Accept: text/event-stream`. A failure after the \
                                first message ends the stream with an error item; a failure \
                                before it is an error response.",
                "content": {
                    "application/x-ndjson": {
                        "schema": {
                            "type": "object",
                            "description": "One line of the stream: `result` holds a message; \
                                            a last line with `error` reports a failure.",
                            "properties": { "result": item, "error": error },
                        }
                    },
                    "text/event-stream": {
                        "schema": {
                            "type": "string",
                            "description": format!(
                                "Server-sent events: each `data:` is one message as JSON (the \
                                 `result` of the NDJSON form, `{}`); on failure a last \
                                 `event: error` whose data is a `google.rpc.Status`.",
                                binding
                                    .response_body
                                    .as_deref()
                                    .map_or(m.output.clone(), |f| format!("{}.{f}", m.output))
                            ),
                        }
                    }
                }
            })
        } else {
            json!({
                "description": "OK",
                "content": { "application/json": { "schema": item } }
            })
        };
        let error = self.reference(STATUS);
        op.insert(
            "responses".into(),
            json!({
                "200": ok,
                "default": {
                    "description": "An error: `google.rpc.Status` with the HTTP status mapped \
                                    from its gRPC code.",
                    "content": { "application/json": { "schema": error } }
                }
            }),
        );
        (path, Value::Object(op))
    }
}

/// A request or response message that is the raw HTTP body.
const HTTP_BODY: &str = "google.api.HttpBody";

/// The content of a raw `google.api.HttpBody` body: any media type, any bytes.
fn raw_content() -> Value {
    json!({ "*/*": { "schema": { "type": "string", "format": "binary" } } })
}

fn int64() -> Value {
    json!({ "type": "string", "format": "int64", "pattern": int64_pattern() })
}

fn uint64() -> Value {
    json!({ "type": "string", "format": "uint64", "pattern": uint64_pattern() })
}

/// The decimal strings of `-9223372036854775808..=9223372036854775807`, leading
/// zeros allowed (the server reads them); more digits are no int64 and the
/// server refuses them.
pub fn int64_pattern() -> String {
    format!(
        "^(?:0*(?:{})|-0*(?:{}))$",
        at_most(&i64::MAX.to_string()),
        at_most(&i64::MIN.unsigned_abs().to_string())
    )
}

/// The decimal strings of `0..=18446744073709551615`, leading zeros allowed.
pub fn uint64_pattern() -> String {
    format!("^0*(?:{})$", at_most(&u64::MAX.to_string()))
}

/// A regular expression (alternatives, unanchored) for the decimal numbers
/// from 0 to `max` (digits only, no leading zero) written with at most as many
/// digits as `max`: any shorter number, then for each digit of `max` the
/// numbers that share the digits before it and have a smaller one there.
fn at_most(max: &str) -> String {
    let digits = max.as_bytes();
    let n = digits.len();
    let repeat = |count: usize| match count {
        0 => String::new(),
        1 => "[0-9]".to_string(),
        c => format!("[0-9]{{{c}}}"),
    };
    let mut alternatives = Vec::new();
    if n > 1 {
        alternatives.push(format!("[0-9]{{1,{}}}", n - 1));
    }
    for (i, &d) in digits.iter().enumerate() {
        // The first digit of an n-digit number is not 0 (shorter ones are above).
        let low = if i == 0 && n > 1 { b'1' } else { b'0' };
        if d <= low {
            continue;
        }
        let high = d - 1;
        let class = if high == low {
            (high as char).to_string()
        } else {
            format!("[{}-{}]", low as char, high as char)
        };
        alternatives.push(format!("{}{class}{}", &max[..i], repeat(n - i - 1)));
    }
    alternatives.push(max.to_string());
    alternatives.join("|")
}

fn uint32() -> Value {
    json!({ "type": "integer", "format": "int64", "minimum": 0, "maximum": 4_294_967_295_u64 })
}

fn any_schema() -> Value {
    json!({
        "type": "object",
        "description": "A message of any type: `@type` names it, the other members are its \
                        proto3 JSON fields (or `value` for types with a special JSON form).",
        "required": ["@type"],
        "properties": {
            "@type": {
                "type": "string",
                "description": "URL of the message type, e.g. \
                                `type.googleapis.com/google.rpc.BadRequest`.",
            }
        },
        "additionalProperties": {},
    })
}

fn status_schema() -> Value {
    json!({
        "type": "object",
        "description": "An error, as `google.rpc.Status` in proto3 JSON.",
        "properties": {
            "code": {
                "type": "integer",
                "format": "int32",
                "description": "The gRPC status code (`google.rpc.Code`), e.g. 5 for `NOT_FOUND`.",
            },
            "message": {
                "type": "string",
                "description": "A developer-facing description of the error.",
            },
            "details": {
                "type": "array",
                "description": "Messages with more detail about the error.",
                "items": any_schema(),
            },
        },
    })
}

fn enum_schema(e: &Enum) -> Value {
    let mut schema = Map::new();
    schema.insert("type".into(), "string".into());
    schema.insert(
        "enum".into(),
        Value::Array(e.values.iter().map(|v| v.name.clone().into()).collect()),
    );
    let mut description = doc_text(&e.comments);
    let lines: Vec<String> = e
        .values
        .iter()
        .filter_map(|v| {
            let text = doc_text(&v.comments).replace('\n', " ");
            let deprecated = if v.deprecated { " (deprecated)" } else { "" };
            (!text.is_empty() || v.deprecated).then(|| {
                if text.is_empty() {
                    format!("- `{}`{deprecated}", v.name)
                } else {
                    format!("- `{}`{deprecated}: {text}", v.name)
                }
            })
        })
        .collect();
    if !lines.is_empty() {
        push_paragraph(&mut description, &lines.join("\n"));
    }
    if !description.is_empty() {
        schema.insert("description".into(), description.into());
    }
    if e.deprecated {
        schema.insert("deprecated".into(), true.into());
    }
    Value::Object(schema)
}

/// Well-known types (inlined, never components).
fn is_wkt(name: &str) -> bool {
    matches!(
        name.strip_prefix("google.protobuf."),
        Some(
            "Timestamp"
                | "Duration"
                | "FieldMask"
                | "Struct"
                | "Value"
                | "ListValue"
                | "Empty"
                | "Any"
                | "DoubleValue"
                | "FloatValue"
                | "Int64Value"
                | "UInt64Value"
                | "Int32Value"
                | "UInt32Value"
                | "BoolValue"
                | "StringValue"
                | "BytesValue"
        )
    )
}

/// Well-known types whose JSON form is one scalar (path and query values).
fn is_scalar_wkt(name: &str) -> bool {
    crate::registry::SCALAR_JSON_WKTS.contains(&name)
}

/// proto3 `optional` (or proto2 optional) on a scalar or enum: `null` is "unset".
fn is_proto3_optional(f: &Field) -> bool {
    f.cardinality == Cardinality::Optional
        && f.oneof.is_none()
        && !matches!(f.ty, FieldType::Message(_))
}

/// A field's description: its comment, plus what its JSON form needs said.
fn field_description(f: &Field) -> String {
    let mut text = doc_text(&f.comments);
    if let Cardinality::Map(_) = f.cardinality
        && f.ty != FieldType::String
    {
        push_paragraph(
            &mut text,
            "Keys are the map's key values written as JSON strings.",
        );
    }
    let element = match &f.cardinality {
        Cardinality::Map(value) => value,
        _ => &f.ty,
    };
    if matches!(element, FieldType::Float | FieldType::Double) {
        push_paragraph(
            &mut text,
            "proto3 JSON also allows the strings `\"NaN\"`, `\"Infinity\"` and `\"-Infinity\"`.",
        );
    }
    text
}

/// A parameter name from the literal before a wildcard, or `fallback`.
fn param_name(literal: Option<&str>, fallback: &str) -> String {
    let ident = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    match literal {
        Some(l) if ident(l) => l.to_string(),
        _ if ident(fallback) => fallback.to_string(),
        _ => "segment".to_string(),
    }
}

/// A comment as a description: leading (else trailing) comment, AIP-192
/// internal parts `(-- … --)` removed, blank-line runs collapsed.
pub(crate) fn doc_text(c: &Comments) -> String {
    let text = c.public_text();
    let mut out: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if line.trim().is_empty() && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(if line.trim().is_empty() { "" } else { line });
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

/// The first paragraph (its lines joined) and the rest.
fn split_summary(text: &str) -> (String, String) {
    let (first, rest) = match text.split_once("\n\n") {
        Some((first, rest)) => (first, rest.trim_matches('\n')),
        None => (text, ""),
    };
    let summary = first
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (summary, rest.to_string())
}

fn push_paragraph(text: &mut String, paragraph: &str) {
    if !text.is_empty() {
        text.push_str("\n\n");
    }
    text.push_str(paragraph);
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[String]) -> String {
    join_with(items, "and")
}

/// `a`, `a or b`, `a, b or c`.
fn join_or(items: &[String]) -> String {
    join_with(items, "or")
}

fn join_with(items: &[String], word: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {word} {last}", init.join(", ")),
    }
}

// ----------------------------------------------------------------------------
// Writers: deterministic JSON and YAML of a `serde_json::Value`.

/// Root members first, in this order; every other key of every object sorted.
const ROOT_ORDER: &[&str] = &[
    MARKER_KEY,
    "openapi",
    "info",
    "servers",
    "tags",
    "paths",
    "components",
];

fn ordered_keys(map: &Map<String, Value>, root: bool) -> Vec<&String> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    if root {
        let rank = |k: &str| {
            ROOT_ORDER
                .iter()
                .position(|r| *r == k)
                .unwrap_or(ROOT_ORDER.len())
        };
        keys.sort_by_key(|k| rank(k));
    }
    keys
}

/// Pretty JSON, two-space indent, sorted keys. The root object's first member
/// shares the first line with `{`, so the marker member is on line one.
pub fn to_json(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('{');
            for (i, key) in ordered_keys(map, true).into_iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n  ");
                }
                json_string(&mut out, key);
                out.push_str(": ");
                json_value(&mut out, &map[key], 1);
            }
            out.push_str("\n}");
        }
        other => json_value(&mut out, other, 0),
    }
    out.push('\n');
    out
}

fn json_string(out: &mut String, s: &str) {
    out.push_str(&Value::String(s.to_string()).to_string());
}

fn json_value(out: &mut String, value: &Value, depth: usize) {
    let indent = |out: &mut String, depth: usize| out.push_str(&"  ".repeat(depth));
    match value {
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            out.push_str("{\n");
            for (i, key) in ordered_keys(map, false).into_iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(out, depth + 1);
                json_string(out, key);
                out.push_str(": ");
                json_value(out, &map[key], depth + 1);
            }
            out.push('\n');
            indent(out, depth);
            out.push('}');
        }
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(out, depth + 1);
                json_value(out, item, depth + 1);
            }
            out.push('\n');
            indent(out, depth);
            out.push(']');
        }
        Value::String(s) => json_string(out, s),
        other => out.push_str(&other.to_string()),
    }
}

/// Block-style YAML, two-space indent, sorted keys, after a `#` comment line
/// carrying the marker. Strings are plain when that cannot change their type
/// or meaning, literal blocks (`|-`) when multi-line, else double-quoted.
pub fn to_yaml(value: &Value) -> String {
    let mut out = format!(
        "# {GENERATED_MARKER} from the proto sources. Do not edit by hand: run `cargo xtask gen`.\n"
    );
    match value {
        Value::Object(map) if !map.is_empty() => yaml_mapping(&mut out, map, 0, true, false),
        Value::Array(items) if !items.is_empty() => yaml_sequence(&mut out, items, 0),
        other => {
            yaml_scalar(&mut out, other, 0);
            out.push('\n');
        }
    }
    out
}

fn yaml_mapping(
    out: &mut String,
    map: &Map<String, Value>,
    indent: usize,
    root: bool,
    first_inline: bool,
) {
    for (i, key) in ordered_keys(map, root).into_iter().enumerate() {
        if i > 0 || !first_inline {
            out.push_str(&" ".repeat(indent));
        }
        yaml_key(out, key);
        out.push(':');
        match &map[key] {
            Value::Object(m) if !m.is_empty() => {
                out.push('\n');
                yaml_mapping(out, m, indent + 2, false, false);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                yaml_sequence(out, items, indent + 2);
            }
            scalar => {
                out.push(' ');
                yaml_scalar(out, scalar, indent + 2);
                out.push('\n');
            }
        }
    }
}

fn yaml_sequence(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Value::Object(m) if !m.is_empty() => {
                out.push(' ');
                yaml_mapping(out, m, indent + 2, false, true);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                yaml_sequence(out, inner, indent + 2);
            }
            scalar => {
                out.push(' ');
                yaml_scalar(out, scalar, indent + 2);
                out.push('\n');
            }
        }
    }
}

/// A scalar (or an empty collection) after `key: ` or `- `; `indent` is where a
/// block scalar's lines go.
fn yaml_scalar(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) if yaml_plain(s) => out.push_str(s),
        Value::String(s) if yaml_block(s) => {
            out.push_str("|-");
            for line in s.split('\n') {
                out.push('\n');
                if !line.is_empty() {
                    out.push_str(&" ".repeat(indent));
                    out.push_str(line);
                }
            }
        }
        Value::String(s) => yaml_quoted(out, s),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
    }
}

fn yaml_key(out: &mut String, key: &str) {
    if yaml_plain(key) {
        out.push_str(key);
    } else {
        yaml_quoted(out, key);
    }
}

/// Whether `s` reads back as the same string when written plain: it starts
/// with a letter, `_`, `$` or `/`, uses a small safe set of characters, does not
/// end in a space and is not a YAML 1.1 boolean or null.
fn yaml_plain(s: &str) -> bool {
    const RESERVED: &[&str] = &["true", "false", "yes", "no", "on", "off", "y", "n", "null"];
    s.starts_with(|c: char| c.is_ascii_alphabetic() || matches!(c, '_' | '$' | '/'))
        && !s.ends_with(' ')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || " _./-$(),;+".contains(c))
        && !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s))
}

/// Whether `s` can be a literal block: several lines, printable, no carriage
/// return, and a first line that does not start with whitespace (which would
/// change the detected indentation).
fn yaml_block(s: &str) -> bool {
    s.contains('\n')
        && !s.ends_with('\n')
        && s.starts_with(|c: char| !c.is_whitespace())
        && s.chars()
            .all(|c| c == '\n' || c == '\t' || yaml_printable(c))
}

fn yaml_printable(c: char) -> bool {
    !(c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}'))
}

/// A double-quoted scalar; its escapes are also valid JSON.
fn yaml_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if !yaml_printable(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_yaml_strings() {
        for s in [
            "string",
            "$ref",
            "/v1/shelves",
            "a b",
            "int64",
            "Get a book (x)",
        ] {
            assert!(yaml_plain(s), "{s}");
        }
        for s in [
            "",
            "true",
            "No",
            "null",
            "y",
            "200",
            "-1",
            "@type",
            "a: b",
            "a #b",
            "{x}",
            "/v1/{name}",
            " lead",
            "trail ",
            "`x`",
            "a\nb",
            "x'y",
            "'",
            ".inf",
            "~",
            "*",
            "&a",
            "!tag",
            "a:",
            "é",
        ] {
            assert!(!yaml_plain(s), "{s:?}");
        }
    }

    #[test]
    fn yaml_scalars_and_collections() {
        let doc = json!({
            "b": [1, "two", {"x": true, "y": null}, [], {}, ["n"]],
            "a": "multi\nline\n\n  indented",
            "c": " leading space\nx",
            "d": "tab\there \"q\" \\ \u{7f}\u{2028}",
            "200": {"e": []},
        });
        let yaml = to_yaml(&doc);
        let expected = "# @generated by dotlanth-codegen from the proto sources. Do not edit by hand: run `cargo xtask gen`.\n\
\"200\":\n  e: []\n\
a: |-\n  multi\n  line\n\n    indented\n\
b:\n  - 1\n  - two\n  - x: true\n    \"y\": null\n  - []\n  - {}\n  -\n    - \"n\"\n\
c: \" leading space\\nx\"\n\
d: \"tab\\there \\\"q\\\" \\\\ \\u007f\\u2028\"\n";
        assert_eq!(yaml, expected);
    }

    #[test]
    fn yaml_blocks_in_sequences_and_nested_mappings() {
        let doc = json!({"k": [{"d": "one\ntwo", "e": "x"}], "m": {"n": {"o": "p\nq"}}});
        let yaml = to_yaml(&doc);
        assert!(
            yaml.ends_with(
                "k:\n  - d: |-\n      one\n      two\n    e: x\nm:\n  \"n\":\n    o: |-\n      p\n      q\n"
            ),
            "{yaml}"
        );
    }

    #[test]
    fn json_puts_the_marker_on_the_first_line_and_sorts_keys() {
        let doc = json!({
            "paths": {"b": 1, "a": [true, {"z": "\"", "y": []}]},
            "openapi": "3.0.3",
            MARKER_KEY: "m",
            "zzz": {},
        });
        let text = to_json(&doc);
        assert_eq!(
            text,
            "{\"x-dotlanth-generated\": \"m\",\n  \"openapi\": \"3.0.3\",\n  \"paths\": {\n    \"a\": [\n      true,\n      {\n        \"y\": [],\n        \"z\": \"\\\"\"\n      }\n    ],\n    \"b\": 1\n  },\n  \"zzz\": {}\n}\n"
        );
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), doc);
    }

    #[test]
    fn comments_become_summaries_and_descriptions() {
        let c = Comments {
            leading: "Validates a module under a new\nname.\n\nErrors: `X`.\n(-- internal\nnote --)\n\n\nMore."
                .into(),
            trailing: String::new(),
        };
        let text = doc_text(&c);
        assert_eq!(
            text,
            "Validates a module under a new\nname.\n\nErrors: `X`.\n\nMore."
        );
        let (summary, rest) = split_summary(&text);
        assert_eq!(summary, "Validates a module under a new name.");
        assert_eq!(rest, "Errors: `X`.\n\nMore.");
        let trailing = Comments {
            leading: String::new(),
            trailing: "Trailing.".into(),
        };
        assert_eq!(doc_text(&trailing), "Trailing.");
        assert_eq!(
            split_summary("One line."),
            ("One line.".into(), String::new())
        );
    }

    #[test]
    fn joins() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(join_and(&s(&[])), "");
        assert_eq!(join_and(&s(&["a"])), "a");
        assert_eq!(join_and(&s(&["a", "b"])), "a and b");
        assert_eq!(join_or(&s(&["a", "b", "c"])), "a, b or c");
    }

    #[test]
    fn http_methods() {
        assert_eq!(method_key(&HttpMethod::Patch), Some("patch"));
        assert_eq!(method_key(&HttpMethod::Custom("HEAD".into())), Some("head"));
        assert_eq!(method_key(&HttpMethod::Custom("GET".into())), Some("get"));
        assert_eq!(method_key(&HttpMethod::Custom("REPORT".into())), None);
        assert_eq!(method_key(&HttpMethod::Custom("*".into())), None);
    }
}
