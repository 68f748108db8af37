//! The GraphQL schema of the API: `graphql/schema.graphql` (SDL), from the model
//! only. The runtime that serves it comes later; this is its contract.
//!
//! - **Root fields.** Every method placed in `Query`, `Mutation` or
//!   `Subscription` (see [`crate::model::GraphqlPlacement`]) is one field of that
//!   type, named by the method's name with its first letter lowercased
//!   (`ExecuteDot` → `executeDot`), services in full-name order, methods in
//!   declaration order. Hidden, client- and bidi-streaming methods are not in
//!   the schema. When methods of several services would take one name in one
//!   root type (as mixins like `GetIamPolicy` do), each of them is prefixed
//!   with its service's name, first letter lowercased
//!   (`jobsGetIamPolicy`, `servicesGetIamPolicy`): all of them, so no field's
//!   name depends on declaration order. A clash left after that (services of
//!   one name in two packages) is a generation error naming both. A field takes one argument
//!   `input: <Request>Input!`, none when the request has no input field (an
//!   empty message, `google.protobuf.Empty`); it returns the response type,
//!   nullable (a failed call is `null` plus an error). A subscription field's
//!   type is one streamed message. A schema without queries has
//!   `type Query { _: Boolean }` (GraphQL needs a `Query` type);
//!   `Mutation` and `Subscription` exist only when used.
//! - **Type names.** The package's last component (and the one before it when
//!   the last is a version such as `v1` or `v2beta1`), in PascalCase, then the
//!   message's or enum's nesting path: `dotlanth.vm.v1.Dot` → `VmV1Dot`,
//!   `google.rpc.Status` → `RpcStatus`, `a.v1.Outer.Inner` → `V1OuterInner`.
//!   Names derived from a type add `_` parts: its input object `VmV1Dot_Input`,
//!   a map field's entry `<Type>_<Field>Entry` (`…Entry_Input`), a oneof's
//!   union `<Type>_<oneof>` with the oneof's proto name (its input object
//!   `<Type>_<oneof>_Input`), a member's wrapper `<Type>_<oneof>_<member>`
//!   (`VmV1Dot_source_wasm`). A name depends only on its own type, so it never
//!   changes when other types come and go; as PascalCase proto names have no
//!   `_` and oneof and field names are lowercase, a derived name never meets
//!   another (`Intent_Input` and a message `IntentInput`, a oneof `input`'s
//!   `WidgetTool_input` and `WidgetTool_Input` coexist). A clash left
//!   (`Control.Family` and `ControlFamily`, or a type named like a scalar or a
//!   root type) is a generation error naming both.
//! - **Which types.** Output `type`s of the messages reachable from root
//!   field results, `input`s of those reachable from arguments, each only on
//!   the side that uses it; enums (shared by both sides) and custom scalars
//!   only when used.
//! - **Fields.** JSON names (`json_name`); a declared `json_name` GraphQL
//!   cannot spell (`page-size`) gives way to the default one (`pageSize`),
//!   and two fields of one name are a generation error. Singular fields are
//!   nullable unless `REQUIRED`; repeated fields are `[T!]!` (an input one
//!   defaults to `[]` unless `REQUIRED`); maps are entry lists `[<Entry>!]!`
//!   of `{ key: K!, value: V! }` (a wrapper or `Value` value stays nullable,
//!   as does a oneof wrapper's field of those types). `OUTPUT_ONLY` fields
//!   are left out of inputs, `INPUT_ONLY` ones out of outputs. `deprecated`
//!   fields, enum values and methods are `@deprecated` (not a required input
//!   field, which GraphQL forbids). Comments of the generated files (AIP-192
//!   `(-- … --)` parts removed) are descriptions.
//! - **Scalars** never lose data: `Int64`/`UInt64` (decimal strings, as
//!   proto3 JSON), `UInt32` (GraphQL `Int` is signed 32-bit), `Base64` for
//!   bytes, `DateTime` for `Timestamp`, `Duration`, `FieldMask`, `JSON` for
//!   `Struct`, `Value`, `ListValue`, `Any` and `NullValue`; the wrappers are
//!   their nullable scalars, `Empty` is `Boolean`. Each declared scalar has a
//!   description, and `@specifiedBy` when a specification defines its form.
//! - **Oneofs.** On output, one field named after the oneof (lowerCamel)
//!   whose type is a union of one wrapper object per member, holding that
//!   member as its single field (`type VmV1Dot_source_wasm { wasm: Base64! }`):
//!   the wrapper says which member is set, even when two members share a type.
//!   On input, a `@oneOf` input object with every member as a nullable field
//!   (`directive @oneOf on INPUT_OBJECT` is declared when used).
//! - **Empty types.** GraphQL forbids a type without fields: a message left
//!   with none (after the behaviour filters) gets the placeholder `_: Boolean`,
//!   which is always `null`.
//!
//! Output is deterministic: the directives, the scalars (by name), the root
//! types, then every other type sorted by name; fields in declaration order.

use crate::emit::{GENERATED_MARKER, openapi::doc_text};
use crate::model::{
    Api, Cardinality, Comments, Field, FieldBehavior, FieldType, GraphqlPlacement, Message,
    MethodKind,
};
use crate::{Diagnostic, Error, GeneratedFile};
use std::collections::{BTreeMap, BTreeSet};

/// Where the SDL goes, relative to the generated crate.
pub const PATH: &str = "graphql/schema.graphql";

/// Emits `graphql/schema.graphql`.
pub fn emit(api: &Api) -> Result<GeneratedFile, Error> {
    Ok(GeneratedFile::text(PATH, schema(api)?))
}

/// The custom scalars: name, description, specification.
const SCALARS: &[(&str, &str, Option<&str>)] = &[
    (
        "Base64",
        "Bytes in base64 (RFC 4648, section 4, with padding); input also accepts the URL-safe \
         alphabet of section 5. The JSON form of proto `bytes`.",
        Some("https://www.rfc-editor.org/rfc/rfc4648"),
    ),
    (
        "DateTime",
        "A point in time as an RFC 3339 string; output is in UTC with `Z` and 0, 3, 6 or 9 \
         fractional digits, e.g. `2024-01-02T03:04:05.678Z`. The JSON form of \
         `google.protobuf.Timestamp`.",
        Some("https://www.rfc-editor.org/rfc/rfc3339"),
    ),
    (
        "Duration",
        "A signed span of time as seconds with an `s` suffix and up to 9 fractional digits, \
         e.g. `1.5s` or `-0.000001s`. The JSON form of `google.protobuf.Duration`.",
        Some("https://protobuf.dev/programming-guides/json/"),
    ),
    (
        "FieldMask",
        "Field paths separated by commas, each path JSON names joined by `.`, e.g. \
         `displayName,owner.email`. The JSON form of `google.protobuf.FieldMask`.",
        Some("https://protobuf.dev/programming-guides/json/"),
    ),
    (
        "Int64",
        "A signed 64-bit integer as a decimal string, e.g. `\"-9007199254740993\"` (GraphQL \
         `Int` holds 32 bits only). The JSON form of proto `int64`, `sint64` and `sfixed64`.",
        None,
    ),
    (
        "JSON",
        "Any JSON value: the JSON form of `google.protobuf.Struct`, `Value`, `ListValue`, \
         `NullValue` and `Any` (an object with `@type`).",
        Some("https://www.rfc-editor.org/rfc/rfc8259"),
    ),
    (
        "UInt32",
        "An unsigned 32-bit integer, 0 to 4294967295, as a JSON number (GraphQL `Int` is \
         signed 32-bit). The JSON form of proto `uint32` and `fixed32`.",
        None,
    ),
    (
        "UInt64",
        "An unsigned 64-bit integer as a decimal string, e.g. `\"18446744073709551615\"`. The \
         JSON form of proto `uint64` and `fixed64`.",
        None,
    ),
];

/// Names no generated type may take.
const RESERVED: &[&str] = &[
    "Boolean",
    "Float",
    "ID",
    "Int",
    "String",
    "Query",
    "Mutation",
    "Subscription",
];

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Side {
    Output,
    Input,
}

/// A field's element type in GraphQL: its name and whether it is always
/// nullable (wrappers and `JSON` null values).
struct Element {
    name: String,
    nullable: bool,
}

struct Builder<'a> {
    api: &'a Api,
    diags: Vec<Diagnostic>,
    scalars: BTreeSet<&'static str>,
    one_of: bool,
    /// GraphQL type name → what it names (`message a.B (input)`), for collisions.
    names: BTreeMap<String, String>,
    /// Definitions by GraphQL type name.
    defs: BTreeMap<String, String>,
    /// Messages (and sides) already queued or written.
    seen: BTreeSet<(String, Side)>,
    queue: Vec<(String, Side)>,
    enums: BTreeSet<String>,
}

/// The SDL of `api`; problems (name clashes, names GraphQL cannot spell) are
/// [`Error::Invalid`], all of them at once.
pub fn schema(api: &Api) -> Result<String, Error> {
    let mut b = Builder {
        api,
        diags: Vec::new(),
        scalars: BTreeSet::new(),
        one_of: false,
        names: BTreeMap::new(),
        defs: BTreeMap::new(),
        seen: BTreeSet::new(),
        queue: Vec::new(),
        enums: BTreeSet::new(),
    };
    for name in RESERVED.iter().chain(SCALARS.iter().map(|s| &s.0)) {
        b.names.insert(
            name.to_string(),
            "a built-in type (a GraphQL or custom scalar, or a root type)".into(),
        );
    }

    let exposed = || {
        api.methods().filter(|(_, m)| {
            m.graphql != GraphqlPlacement::Hidden
                && !matches!(
                    m.kind,
                    MethodKind::ClientStreaming | MethodKind::BidiStreaming
                )
        })
    };
    // How many methods want each name in each root type.
    let mut wanted: BTreeMap<(GraphqlPlacement, String), usize> = BTreeMap::new();
    for (_, m) in exposed() {
        *wanted.entry((m.graphql, lower_first(&m.name))).or_default() += 1;
    }
    let mut roots: BTreeMap<GraphqlPlacement, (String, BTreeMap<String, String>)> = BTreeMap::new();
    for (svc, m) in exposed() {
        let mut name = lower_first(&m.name);
        if wanted[&(m.graphql, name.clone())] > 1 {
            name = format!("{}{}", lower_first(&svc.name), m.name);
        }
        let (text, taken) = roots.entry(m.graphql).or_default();
        let here = format!("service {}, method {}", svc.full_name, m.name);
        if let Some(first) = taken.get(&name) {
            let message = format!(
                "GraphQL field `{}.{name}` is also the field of {first} (even with the \
                     service prefix); rename one method or hide one with \
                     `(dotlanth.api.v1.graphql) = GRAPHQL_OPERATION_HIDDEN`",
                m.graphql.name()
            );
            b.error(&svc.file, here, message);
            continue;
        }
        taken.insert(name.clone(), here);
        let comments = b.comments_of(&svc.file, &m.comments);
        description(text, &comments, "  ");
        text.push_str(&format!("  {name}"));
        if let Some(arg) = b.argument(&m.input) {
            text.push_str(&format!("(input: {arg}!)"));
        }
        let out = b.result(&m.output);
        text.push_str(&format!(": {out}"));
        if m.deprecated {
            text.push_str(" @deprecated");
        }
        text.push('\n');
    }
    while let Some((full, side)) = b.queue.pop() {
        b.message(&full, side);
    }
    let enums: Vec<String> = b.enums.iter().cloned().collect();
    for full in enums {
        b.enumeration(&full);
    }
    if !b.diags.is_empty() {
        return Err(Error::Invalid(b.diags));
    }

    let mut out = format!(
        "# {GENERATED_MARKER} from the proto sources. Do not edit by hand: run `cargo xtask gen`.\n"
    );
    if b.one_of {
        out.push_str(
            "\n\"\"\"\nExactly one field of the input object is given (and not null).\n\"\"\"\n\
             directive @oneOf on INPUT_OBJECT\n",
        );
    }
    for (name, text, spec) in SCALARS {
        if b.scalars.contains(name) {
            out.push('\n');
            description(&mut out, text, "");
            out.push_str(&format!("scalar {name}"));
            if let Some(url) = spec {
                out.push_str(&format!(" @specifiedBy(url: \"{url}\")"));
            }
            out.push('\n');
        }
    }
    roots.entry(GraphqlPlacement::Query).or_insert_with(|| {
        (
            "  \"\"\"\n  Placeholder: this API has no queries (GraphQL needs a `Query` type); always null.\n  \"\"\"\n  _: Boolean\n".into(),
            BTreeMap::new(),
        )
    });
    for (placement, (text, _)) in &roots {
        out.push_str(&format!("\ntype {} {{\n{text}}}\n", placement.name()));
    }
    for def in b.defs.values() {
        out.push('\n');
        out.push_str(def);
    }
    Ok(out)
}

impl Builder<'_> {
    fn error(&mut self, file: &str, element: String, message: String) {
        self.diags.push(Diagnostic {
            file: file.to_string(),
            element,
            message,
        });
    }

    /// Comments of an element of a generated file (imported files' source
    /// info differs between drivers, so it is not used).
    fn comments_of(&self, file: &str, c: &Comments) -> String {
        if self.api.files.iter().any(|f| f == file) {
            doc_text(c)
        } else {
            String::new()
        }
    }

    /// Takes a GraphQL type name for `what`; a clash is a diagnostic.
    fn claim(&mut self, name: &str, what: String, file: &str) -> bool {
        match self.names.get(name) {
            Some(other) if *other == what => true,
            Some(other) => {
                let message = format!(
                    "the GraphQL type name `{name}` is also the name of {other}; rename one of \
                     them"
                );
                self.error(file, what, message);
                false
            }
            None => {
                self.names.insert(name.to_string(), what);
                true
            }
        }
    }

    /// The type name of a message or enum, by the package rule.
    fn type_name(&self, full: &str) -> String {
        let (package, path) = self.split(full);
        let mut name = package_prefix(&package);
        for part in path.split('.') {
            name.push_str(&pascal(part));
        }
        name
    }

    /// `(package, nesting path)` of a message or enum full name.
    fn split(&self, full: &str) -> (String, String) {
        let mut prefix = full;
        while let Some((outer, _)) = prefix.rsplit_once('.') {
            if let Some(m) = self.api.messages.get(outer) {
                let path = full
                    .strip_prefix(&m.package)
                    .map(|p| p.trim_start_matches('.'))
                    .unwrap_or(full);
                return (m.package.clone(), path.to_string());
            }
            prefix = outer;
        }
        if let Some(m) = self.api.messages.get(full) {
            let path = full
                .strip_prefix(&m.package)
                .map(|p| p.trim_start_matches('.'))
                .unwrap_or(full);
            return (m.package.clone(), path.to_string());
        }
        match full.rsplit_once('.') {
            Some((package, name)) => (package.to_string(), name.to_string()),
            None => (String::new(), full.to_string()),
        }
    }

    /// Whether a message has input fields (else a root field takes no argument).
    fn has_input_fields(&self, full: &str) -> bool {
        self.api.messages.get(full).is_some_and(|m| {
            m.fields
                .iter()
                .any(|f| !f.behaviors.contains(&FieldBehavior::OutputOnly))
        })
    }

    /// A root field's argument type (without `!`), if it takes one.
    fn argument(&mut self, input: &str) -> Option<String> {
        if input == "google.protobuf.Empty" {
            return None;
        }
        if wkt(input).is_none() && !self.has_input_fields(input) {
            return None;
        }
        Some(
            self.element(&FieldType::Message(input.to_string()), Side::Input)
                .name,
        )
    }

    /// A root field's result type.
    fn result(&mut self, output: &str) -> String {
        self.element(&FieldType::Message(output.to_string()), Side::Output)
            .name
    }

    /// The GraphQL type of one value of `ty` on `side`; queues what it needs.
    fn element(&mut self, ty: &FieldType, side: Side) -> Element {
        let builtin = |name: &str| Element {
            name: name.into(),
            nullable: false,
        };
        match ty {
            FieldType::Double | FieldType::Float => builtin("Float"),
            FieldType::Int32 => builtin("Int"),
            FieldType::Bool => builtin("Boolean"),
            FieldType::String => builtin("String"),
            FieldType::Int64 => self.scalar("Int64", false),
            FieldType::Uint64 => self.scalar("UInt64", false),
            FieldType::Uint32 => self.scalar("UInt32", false),
            FieldType::Bytes => self.scalar("Base64", false),
            FieldType::Enum(full) if full == "google.protobuf.NullValue" => {
                self.scalar("JSON", true)
            }
            FieldType::Enum(full) => {
                self.enums.insert(full.clone());
                builtin(&self.type_name(full))
            }
            FieldType::Message(full) => {
                if let Some((name, nullable)) = wkt(full) {
                    return if SCALARS.iter().any(|s| s.0 == name) {
                        self.scalar(name, nullable)
                    } else {
                        Element {
                            name: name.into(),
                            nullable,
                        }
                    };
                }
                if self.seen.insert((full.clone(), side)) {
                    self.queue.push((full.clone(), side));
                }
                let mut name = self.type_name(full);
                if side == Side::Input {
                    name.push_str("_Input");
                }
                builtin(&name)
            }
        }
    }

    fn scalar(&mut self, name: &'static str, nullable: bool) -> Element {
        self.scalars.insert(name);
        Element {
            name: name.into(),
            nullable,
        }
    }

    /// Writes the `type` or `input` of a message, with its unions, oneof
    /// inputs and map entries.
    fn message(&mut self, full: &str, side: Side) {
        let Some(m) = self.api.messages.get(full) else {
            self.error(
                "",
                format!("message {full}"),
                "the model lacks this type".into(),
            );
            return;
        };
        let m: &Message = m;
        let base = self.type_name(full);
        let (name, keyword) = match side {
            Side::Output => (base.clone(), "type"),
            Side::Input => (format!("{base}_Input"), "input"),
        };
        let what = format!(
            "message {full}{}",
            if side == Side::Input { " (input)" } else { "" }
        );
        if !self.claim(&name, what.clone(), &m.file) {
            return;
        }
        let mut body = String::new();
        let mut fields: BTreeSet<String> = BTreeSet::new();
        let mut done_oneofs = BTreeSet::new();
        for f in &m.fields {
            if !on_side(f, side) {
                continue;
            }
            if let Some(o) = &f.oneof {
                if done_oneofs.insert(o.clone()) {
                    self.oneof(m, &base, o, side, &mut body, &mut fields);
                }
                continue;
            }
            let field_name = graphql_field_name(f);
            if !self.field_name(m, &field_name, &what, &mut fields) {
                continue;
            }
            let required = f.behaviors.contains(&FieldBehavior::Required);
            let (ty, default) = match &f.cardinality {
                Cardinality::Map(value) => {
                    let entry = self.entry(m, &base, f, value, side);
                    (format!("[{entry}!]!"), side == Side::Input && !required)
                }
                Cardinality::Repeated => {
                    let e = self.element(&f.ty, side);
                    (format!("[{}!]!", e.name), side == Side::Input && !required)
                }
                _ => {
                    let e = self.element(&f.ty, side);
                    if required {
                        (format!("{}!", e.name), false)
                    } else {
                        (e.name, false)
                    }
                }
            };
            let comments = self.comments_of(&m.file, &f.comments);
            description(&mut body, &comments, "  ");
            body.push_str(&format!("  {field_name}: {ty}"));
            if default {
                body.push_str(" = []");
            }
            let required_input = side == Side::Input && ty.ends_with('!') && !default;
            if f.deprecated && !required_input {
                body.push_str(" @deprecated");
            }
            body.push('\n');
        }
        if body.is_empty() {
            body.push_str(
                "  \"\"\"\n  Placeholder: the message has no fields here (GraphQL forbids empty types); always null.\n  \"\"\"\n  _: Boolean\n",
            );
        }
        let mut def = String::new();
        let comments = self.comments_of(&m.file, &m.comments);
        description(&mut def, &comments, "");
        def.push_str(&format!("{keyword} {name} {{\n{body}}}\n"));
        self.defs.insert(name, def);
    }

    /// Checks a field name and that the type does not have it yet.
    fn field_name(
        &mut self,
        m: &Message,
        name: &str,
        what: &str,
        fields: &mut BTreeSet<String>,
    ) -> bool {
        if !is_name(name) || name.starts_with("__") {
            self.error(
                &m.file,
                format!("{what}, field {name}"),
                format!(
                    "`{name}` is not a GraphQL field name (`[_A-Za-z][_0-9A-Za-z]*`, not \
                     starting with `__`); rename the field"
                ),
            );
            return false;
        }
        if !fields.insert(name.to_string()) {
            self.error(
                &m.file,
                format!("{what}, field {name}"),
                format!("two GraphQL fields are named `{name}` (a field and a oneof?); rename one"),
            );
            return false;
        }
        true
    }

    /// Writes a oneof: a union field on output, a `@oneOf` input field on input.
    fn oneof(
        &mut self,
        m: &Message,
        base: &str,
        oneof: &str,
        side: Side,
        body: &mut String,
        fields: &mut BTreeSet<String>,
    ) {
        let Some(o) = m.oneofs.iter().find(|o| o.name == oneof) else {
            return;
        };
        let members: Vec<&Field> = m
            .fields
            .iter()
            .filter(|f| f.oneof.as_deref() == Some(oneof) && on_side(f, side))
            .collect();
        let union = format!("{base}_{}", oneof);
        let field_name = lower_camel(oneof);
        let what = format!("message {}, oneof {oneof}", m.full_name);
        if !self.field_name(m, &field_name, &what, fields) {
            return;
        }
        let comments = self.comments_of(&m.file, &o.comments);
        let mut def = String::new();
        description(&mut def, &comments, "");
        let ty = match side {
            Side::Output => {
                if !self.claim(&union, what.clone(), &m.file) {
                    return;
                }
                let mut wrappers = Vec::new();
                for f in &members {
                    let wrapper = format!("{union}_{}", f.name);
                    let wwhat = format!("message {}, oneof member {}", m.full_name, f.name);
                    if !self.claim(&wrapper, wwhat.clone(), &m.file)
                        || !self.field_name(m, &graphql_field_name(f), &wwhat, &mut BTreeSet::new())
                    {
                        continue;
                    }
                    let e = self.element(&f.ty, side);
                    let bang = if e.nullable { "" } else { "!" };
                    let mut w = String::new();
                    let fc = self.comments_of(&m.file, &f.comments);
                    description(
                        &mut w,
                        &format!("The oneof `{oneof}` holds `{}`.", graphql_field_name(f)),
                        "",
                    );
                    let dep = if f.deprecated { " @deprecated" } else { "" };
                    let mut field = String::new();
                    description(&mut field, &fc, "  ");
                    w.push_str(&format!(
                        "type {wrapper} {{\n{field}  {}: {}{bang}{dep}\n}}\n",
                        graphql_field_name(f),
                        e.name
                    ));
                    self.defs.insert(wrapper.clone(), w);
                    wrappers.push(wrapper);
                }
                if wrappers.is_empty() {
                    return;
                }
                def.push_str(&format!("union {union} = {}\n", wrappers.join(" | ")));
                self.defs.insert(union.clone(), def);
                union
            }
            Side::Input => {
                let input = format!("{union}_Input");
                if !self.claim(&input, format!("{what} (input)"), &m.file) {
                    return;
                }
                let mut inner = String::new();
                let mut names = BTreeSet::new();
                for f in &members {
                    if !self.field_name(m, &graphql_field_name(f), &what, &mut names) {
                        continue;
                    }
                    let e = self.element(&f.ty, side);
                    let fc = self.comments_of(&m.file, &f.comments);
                    description(&mut inner, &fc, "  ");
                    let dep = if f.deprecated { " @deprecated" } else { "" };
                    inner.push_str(&format!("  {}: {}{dep}\n", graphql_field_name(f), e.name));
                }
                if inner.is_empty() {
                    return;
                }
                self.one_of = true;
                def.push_str(&format!("input {input} @oneOf {{\n{inner}}}\n"));
                self.defs.insert(input.clone(), def);
                input
            }
        };
        description(body, &comments, "  ");
        body.push_str(&format!("  {field_name}: {ty}\n"));
    }

    /// Writes a map field's entry type; returns its name.
    fn entry(
        &mut self,
        m: &Message,
        base: &str,
        f: &Field,
        value: &FieldType,
        side: Side,
    ) -> String {
        let mut name = format!("{base}_{}Entry", pascal(&f.name));
        if side == Side::Input {
            name.push_str("_Input");
        }
        let what = format!(
            "message {}, map field {}{}",
            m.full_name,
            f.name,
            if side == Side::Input { " (input)" } else { "" }
        );
        if self.defs.contains_key(&name) || !self.claim(&name, what, &m.file) {
            return name;
        }
        let key = self.element(&f.ty, side);
        let value = self.element(value, side);
        let bang = if value.nullable { "" } else { "!" };
        let keyword = if side == Side::Input { "input" } else { "type" };
        self.defs.insert(
            name.clone(),
            format!(
                "\"\"\"\nAn entry of the map `{}`.\n\"\"\"\n{keyword} {name} {{\n  key: {}!\n  value: {}{bang}\n}}\n",
                graphql_field_name(f), key.name, value.name
            ),
        );
        name
    }

    /// Writes an enum.
    fn enumeration(&mut self, full: &str) {
        let Some(e) = self.api.enums.get(full) else {
            self.error(
                "",
                format!("enum {full}"),
                "the model lacks this type".into(),
            );
            return;
        };
        let name = self.type_name(full);
        if !self.claim(&name, format!("enum {full}"), &e.file) {
            return;
        }
        let mut def = String::new();
        let comments = self.comments_of(&e.file, &e.comments);
        description(&mut def, &comments, "");
        def.push_str(&format!("enum {name} {{\n"));
        for v in &e.values {
            if !is_name(&v.name) || matches!(v.name.as_str(), "true" | "false" | "null") {
                self.error(
                    &e.file,
                    format!("enum {full}, value {}", v.name),
                    format!("`{}` is not a GraphQL enum value name", v.name),
                );
                continue;
            }
            let comments = self.comments_of(&e.file, &v.comments);
            description(&mut def, &comments, "  ");
            def.push_str(&format!("  {}", v.name));
            if v.deprecated {
                def.push_str(" @deprecated");
            }
            def.push('\n');
        }
        def.push_str("}\n");
        self.defs.insert(name, def);
    }
}

/// A field's GraphQL name: its JSON name, or, when GraphQL cannot spell that
/// (a declared `json_name` such as `page-size`), the default JSON name of its
/// proto name (`page_size` → `pageSize`).
fn graphql_field_name(f: &Field) -> String {
    if is_name(&f.json_name) && !f.json_name.starts_with("__") {
        f.json_name.clone()
    } else {
        lower_camel(&f.name)
    }
}

/// Whether a field belongs on this side (behaviour filters).
fn on_side(f: &Field, side: Side) -> bool {
    match side {
        Side::Output => !f.behaviors.contains(&FieldBehavior::InputOnly),
        Side::Input => !f.behaviors.contains(&FieldBehavior::OutputOnly),
    }
}

/// Well-known types: their GraphQL type and whether it is always nullable.
fn wkt(full: &str) -> Option<(&'static str, bool)> {
    Some(match full.strip_prefix("google.protobuf.")? {
        "Timestamp" => ("DateTime", false),
        "Duration" => ("Duration", false),
        "FieldMask" => ("FieldMask", false),
        "Struct" | "ListValue" | "Any" => ("JSON", false),
        "Value" => ("JSON", true),
        "Empty" => ("Boolean", false),
        "DoubleValue" | "FloatValue" => ("Float", true),
        "Int64Value" => ("Int64", true),
        "UInt64Value" => ("UInt64", true),
        "Int32Value" => ("Int", true),
        "UInt32Value" => ("UInt32", true),
        "BoolValue" => ("Boolean", true),
        "StringValue" => ("String", true),
        "BytesValue" => ("Base64", true),
        _ => return None,
    })
}

/// The type name prefix of a package: its last component, after the one before
/// it when the last is a version (`v1`, `v2beta1`), in PascalCase.
pub fn package_prefix(package: &str) -> String {
    let parts: Vec<&str> = package.split('.').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [] => String::new(),
        [.., before, last] if is_version(last) => format!("{}{}", pascal(before), pascal(last)),
        [.., last] => pascal(last),
    }
}

fn is_version(part: &str) -> bool {
    let mut chars = part.chars();
    chars.next() == Some('v')
        && chars.next().is_some_and(|c| c.is_ascii_digit())
        && part.chars().all(|c| c.is_ascii_alphanumeric())
}

/// `foo_bar` → `FooBar`; the rest of each part is kept.
fn pascal(s: &str) -> String {
    s.split('_')
        .map(|p| {
            let mut chars = p.chars();
            match chars.next() {
                Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// protoc's JSON name rule: `foo_bar` → `fooBar`.
fn lower_camel(s: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in s.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `ExecuteDot` → `executeDot`.
fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// A GraphQL name: `[_A-Za-z][_0-9A-Za-z]*`.
fn is_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Writes `text` as a description at `indent`: a block string when it reads
/// back exactly, else a quoted string.
fn description(out: &mut String, text: &str, indent: &str) {
    if text.is_empty() {
        return;
    }
    let escaped = text.replace("\"\"\"", "\\\"\"\"");
    let mut raw = String::from("\n");
    for line in escaped.split('\n') {
        if !line.is_empty() {
            raw.push_str(indent);
            raw.push_str(line);
        }
        raw.push('\n');
    }
    raw.push_str(indent);
    let printable = text
        .chars()
        .all(|c| c == '\n' || c == '\t' || !c.is_control());
    if printable && block_string_value(&raw.replace("\\\"\"\"", "\"\"\"")) == text {
        out.push_str(&format!("{indent}\"\"\"{raw}\"\"\"\n"));
    } else {
        out.push_str(&format!("{indent}{}\n", quoted(text)));
    }
}

/// A GraphQL string literal.
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The value of a block string's raw text (the GraphQL spec's
/// `BlockStringValue`): common indentation and blank first and last lines removed.
fn block_string_value(raw: &str) -> String {
    let lines: Vec<&str> = raw.split(['\n']).collect();
    let indent_of = |l: &str| l.len() - l.trim_start_matches([' ', '\t']).len();
    let common = lines
        .iter()
        .skip(1)
        .filter(|l| !l.trim_start_matches([' ', '\t']).is_empty())
        .map(|l| indent_of(l))
        .min()
        .unwrap_or(0);
    let mut out: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.to_string()
            } else {
                l.get(common.min(l.len())..).unwrap_or("").to_string()
            }
        })
        .collect();
    let blank = |l: &String| l.chars().all(|c| c == ' ' || c == '\t');
    while out.first().is_some_and(blank) {
        out.remove(0);
    }
    while out.last().is_some_and(blank) {
        out.pop();
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(package_prefix("dotlanth.vm.v1"), "VmV1");
        assert_eq!(package_prefix("google.rpc"), "Rpc");
        assert_eq!(package_prefix("google.cloud.tasks.v2beta3"), "TasksV2beta3");
        assert_eq!(package_prefix("v1"), "V1");
        assert_eq!(package_prefix(""), "");
        assert_eq!(package_prefix("a.foo_bar"), "FooBar");
        assert_eq!(lower_camel("int64_value"), "int64Value");
        assert_eq!(lower_first("ExecuteDot"), "executeDot");
    }

    #[test]
    fn descriptions_read_back() {
        let mut out = String::new();
        description(&mut out, "Say \"\"\"hi\"\"\".\n\n  indented", "  ");
        assert_eq!(
            out,
            "  \"\"\"\n  Say \\\"\"\"hi\\\"\"\".\n\n    indented\n  \"\"\"\n"
        );
        let mut out = String::new();
        description(&mut out, "  all indented\n  lines", "");
        assert_eq!(out, "\"  all indented\\n  lines\"\n");
        let mut out = String::new();
        description(&mut out, "bell \u{7}", "");
        assert_eq!(out, "\"bell \\u0007\"\n");
    }
}
