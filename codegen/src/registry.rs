//! Descriptor registry: reads a descriptor pool into the [`Api`] model and checks
//! every annotation, collecting all problems of a run as [`Diagnostic`]s.

use crate::model::*;
use crate::template::{PathTemplate, Segment};
use prost_reflect::{
    DescriptorPool, DynamicMessage, EnumDescriptor, ExtensionDescriptor, FieldDescriptor, Kind,
    MessageDescriptor, MethodDescriptor, Value,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

/// One problem found in the protos, naming the file and the element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The proto file.
    pub file: String,
    /// The element, e.g. `service a.v1.S, method M, binding GET /v1/x`.
    pub element: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.element, self.message)
    }
}

/// Well-known types whose JSON form is a single string or scalar, so a path or
/// query parameter can carry them.
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

/// The field a `PATCH` binding with `body: "<body>"` fills from the body's keys:
/// the one top-level singular `google.protobuf.FieldMask` field of `input`
/// besides `body`, when `body` is a singular message field (not a well-known
/// type). None when there is no such field or more than one (which one the
/// keys would be for is then unclear).
fn update_mask_field(input: &MessageDescriptor, body: &str) -> Option<String> {
    let body_field = input.get_field_by_name(body)?;
    match body_field.kind() {
        Kind::Message(m)
            if !body_field.is_list()
                && !body_field.is_map()
                && m.package_name() != "google.protobuf" => {}
        _ => return None,
    }
    let mut masks = input.fields().filter(|f| {
        f.name() != body
            && !f.is_list()
            && matches!(f.kind(), Kind::Message(m) if m.full_name() == "google.protobuf.FieldMask")
    });
    let mask = masks.next()?;
    masks.next().is_none().then(|| mask.name().to_string())
}

/// Builds the model for `files` (the files to generate) out of `pool` (which holds
/// them and all their imports).
pub fn build(pool: &DescriptorPool, files: &[String]) -> Result<Api, Vec<Diagnostic>> {
    let mut b = Builder {
        pool,
        diags: Vec::new(),
        comments: HashMap::new(),
        ext_http: pool.get_extension_by_name("google.api.http"),
        ext_auth: pool.get_extension_by_name("dotlanth.api.v1.auth"),
        ext_graphql: pool.get_extension_by_name("dotlanth.api.v1.graphql"),
        ext_behavior: pool.get_extension_by_name("google.api.field_behavior"),
        ext_field_rule: pool.get_extension_by_name("dotlanth.api.v1.field_rule"),
    };
    let mut files: Vec<String> = files.to_vec();
    files.sort();
    files.dedup();

    let mut api = Api {
        files: files.clone(),
        ..Api::default()
    };
    let mut roots_msgs = Vec::new();
    let mut roots_enums = Vec::new();
    let mut packages = BTreeSet::new();
    // Rust modules and JSON impls are named after packages (pbjson-build cannot
    // even read a file without one), so every file of the set needs a package.
    let mut unpackaged: Vec<String> = pool
        .files()
        .filter(|f| f.package_name().is_empty())
        .map(|f| f.name().to_string())
        .collect();
    unpackaged.sort();
    for name in unpackaged {
        b.error(
            &name,
            "file".into(),
            "declares no `package`; every proto file needs one (Rust modules are named after packages)".into(),
        );
    }
    for name in &files {
        let Some(file) = pool.get_file_by_name(name) else {
            b.diags.push(Diagnostic {
                file: name.clone(),
                element: "file".into(),
                message: "not found in the descriptor set".into(),
            });
            continue;
        };
        packages.insert(file.package_name().to_string());
        roots_msgs.extend(file.messages());
        roots_enums.extend(file.enums());
        for svc in file.services() {
            // Request and response types belong to the model even when they live
            // in an imported file (`google.protobuf.Empty`, a shared package).
            for m in svc.methods() {
                roots_msgs.push(m.input());
                roots_msgs.push(m.output());
            }
            let service = b.service(&svc);
            api.services.push(service);
        }
    }
    api.services.sort_by(|a, b| a.full_name.cmp(&b.full_name));

    // Closure of the types the generated files define or use.
    let mut stack = roots_msgs;
    let mut enums: Vec<EnumDescriptor> = roots_enums;
    while let Some(m) = stack.pop() {
        if api.messages.contains_key(m.full_name()) {
            continue;
        }
        stack.extend(m.child_messages());
        enums.extend(m.child_enums());
        for f in m.fields() {
            match f.kind() {
                Kind::Message(sub) => stack.push(sub),
                Kind::Enum(e) => enums.push(e),
                _ => {}
            }
        }
        let msg = b.message(&m);
        api.messages.insert(msg.full_name.clone(), msg);
    }
    for e in enums {
        if !api.enums.contains_key(e.full_name()) {
            let en = b.enumeration(&e);
            api.enums.insert(en.full_name.clone(), en);
        }
    }
    for m in api.messages.values() {
        packages.insert(m.package.clone());
    }
    for e in api.enums.values() {
        if let Some(d) = pool.get_enum_by_name(&e.full_name) {
            packages.insert(d.package_name().to_string());
        }
    }
    packages.remove("google.protobuf");
    api.packages = packages.into_iter().collect();

    b.check_duplicate_routes(&api);
    if b.diags.is_empty() {
        Ok(api)
    } else {
        Err(b.diags)
    }
}

struct Builder<'a> {
    pool: &'a DescriptorPool,
    diags: Vec<Diagnostic>,
    comments: HashMap<String, HashMap<Vec<i32>, Comments>>,
    ext_http: Option<ExtensionDescriptor>,
    ext_auth: Option<ExtensionDescriptor>,
    ext_graphql: Option<ExtensionDescriptor>,
    ext_behavior: Option<ExtensionDescriptor>,
    ext_field_rule: Option<ExtensionDescriptor>,
}

fn bool_option(options: &DynamicMessage, name: &str) -> bool {
    options
        .get_field_by_name(name)
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

fn extension<'m>(
    options: &'m DynamicMessage,
    ext: &Option<ExtensionDescriptor>,
) -> Option<std::borrow::Cow<'m, Value>> {
    let ext = ext.as_ref()?;
    options
        .has_extension(ext)
        .then(|| options.get_extension(ext))
}

impl Builder<'_> {
    fn comments(&mut self, file: &str, path: &[i32]) -> Comments {
        let pool = self.pool;
        let map = self.comments.entry(file.to_string()).or_insert_with(|| {
            let mut map = HashMap::new();
            if let Some(fd) = pool.get_file_by_name(file)
                && let Some(info) = &fd.file_descriptor_proto().source_code_info
            {
                for loc in &info.location {
                    let c = Comments {
                        leading: clean_comment(loc.leading_comments()),
                        trailing: clean_comment(loc.trailing_comments()),
                    };
                    if !c.leading.is_empty() || !c.trailing.is_empty() {
                        map.entry(loc.path.clone()).or_insert(c);
                    }
                }
            }
            map
        });
        map.get(path).cloned().unwrap_or_default()
    }

    fn error(&mut self, file: &str, element: String, message: String) {
        self.diags.push(Diagnostic {
            file: file.to_string(),
            element,
            message,
        });
    }

    fn service(&mut self, svc: &prost_reflect::ServiceDescriptor) -> Service {
        let file = svc.parent_file().name().to_string();
        let mut methods = Vec::new();
        for m in svc.methods() {
            methods.push(self.method(&file, svc.full_name(), &m));
        }
        Service {
            full_name: svc.full_name().to_string(),
            name: svc.name().to_string(),
            package: svc.package_name().to_string(),
            comments: self.comments(&file, svc.path()),
            deprecated: bool_option(&svc.options(), "deprecated"),
            file,
            methods,
        }
    }

    fn method(&mut self, file: &str, service: &str, m: &MethodDescriptor) -> Method {
        let element = format!("service {service}, method {}", m.name());
        let options = m.options();
        let kind = match (m.is_client_streaming(), m.is_server_streaming()) {
            (false, false) => MethodKind::Unary,
            (false, true) => MethodKind::ServerStreaming,
            (true, false) => MethodKind::ClientStreaming,
            (true, true) => MethodKind::BidiStreaming,
        };
        let idempotency = match options
            .get_field_by_name("idempotency_level")
            .and_then(|v| v.as_enum_number())
        {
            Some(1) => Idempotency::NoSideEffects,
            Some(2) => Idempotency::Idempotent,
            _ => Idempotency::Unknown,
        };

        let mut http = Vec::new();
        if let Some(rule) = extension(&options, &self.ext_http)
            && let Some(rule) = rule.as_message()
        {
            if kind == MethodKind::ClientStreaming || kind == MethodKind::BidiStreaming {
                self.error(
                    file,
                    element.clone(),
                    "unsupported construct: an HTTP binding on a client- or bidi-streaming method (REST cannot carry a request stream)".into(),
                );
            } else {
                self.http_rule(file, &element, m, rule, true, &mut http);
            }
        }

        let auth = match extension(&options, &self.ext_auth) {
            Some(v) => {
                let msg = v.as_message().cloned();
                let public = msg.as_ref().is_some_and(|r| bool_option(r, "public"));
                let scopes: Vec<String> = msg
                    .as_ref()
                    .and_then(|r| r.get_field_by_name("scopes").map(|v| v.into_owned()))
                    .and_then(|v| {
                        v.as_list().map(|l| {
                            l.iter()
                                .filter_map(|s| s.as_str().map(str::to_string))
                                .collect()
                        })
                    })
                    .unwrap_or_default();
                if public && !scopes.is_empty() {
                    self.error(
                        file,
                        element.clone(),
                        "auth option is both `public` and has `scopes`".into(),
                    );
                }
                if scopes
                    .iter()
                    .any(|s| s.trim().is_empty() || s.contains(char::is_whitespace))
                {
                    self.error(
                        file,
                        element.clone(),
                        "auth scopes must be non-empty and contain no whitespace".into(),
                    );
                }
                if scopes.iter().any(|s| s == "*") {
                    self.error(
                        file,
                        element.clone(),
                        "auth scope `*` is the wildcard a token may be granted, not a requirement; \
                         name the scope(s) the method needs"
                            .into(),
                    );
                }
                Auth { public, scopes }
            }
            None => Auth::default(),
        };

        let streaming_out = kind == MethodKind::ServerStreaming;
        let client_streams = matches!(
            kind,
            MethodKind::ClientStreaming | MethodKind::BidiStreaming
        );
        let declared = extension(&options, &self.ext_graphql).and_then(|v| v.as_enum_number());
        if let Some(n) = declared
            && !(0..=4).contains(&n)
        {
            self.error(
                file,
                element.clone(),
                format!(
                    "unknown (dotlanth.api.v1.graphql) value {n}: this generator knows \
                     GRAPHQL_OPERATION_UNSPECIFIED (0), _QUERY (1), _MUTATION (2), \
                     _SUBSCRIPTION (3) and _HIDDEN (4)"
                ),
            );
        }
        let graphql = match declared {
            Some(1) => GraphqlPlacement::Query,
            Some(2) => GraphqlPlacement::Mutation,
            Some(3) => GraphqlPlacement::Subscription,
            Some(4) => GraphqlPlacement::Hidden,
            _ if client_streams => GraphqlPlacement::Hidden,
            _ if streaming_out => GraphqlPlacement::Subscription,
            _ if idempotency == Idempotency::NoSideEffects
                || ["Get", "List", "Search", "BatchGet"].iter().any(|p| {
                    m.name()
                        .strip_prefix(p)
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_uppercase))
                }) =>
            {
                GraphqlPlacement::Query
            }
            _ => GraphqlPlacement::Mutation,
        };
        match (graphql, kind) {
            (GraphqlPlacement::Hidden, _) => {}
            (_, MethodKind::ClientStreaming | MethodKind::BidiStreaming) => self.error(
                file,
                element.clone(),
                "unsupported construct: a GraphQL placement on a client- or bidi-streaming method (use GRAPHQL_OPERATION_HIDDEN)".into(),
            ),
            (GraphqlPlacement::Subscription, MethodKind::Unary) => self.error(
                file,
                element.clone(),
                "GRAPHQL_OPERATION_SUBSCRIPTION needs a server-streaming method".into(),
            ),
            (GraphqlPlacement::Query | GraphqlPlacement::Mutation, MethodKind::ServerStreaming) => self.error(
                file,
                element.clone(),
                "a server-streaming method can only be a GraphQL subscription (or hidden)".into(),
            ),
            _ => {}
        }

        Method {
            name: m.name().to_string(),
            full_name: m.full_name().to_string(),
            grpc_path: format!("/{service}/{}", m.name()),
            input: m.input().full_name().to_string(),
            output: m.output().full_name().to_string(),
            kind,
            idempotency,
            http,
            auth,
            graphql,
            deprecated: bool_option(&options, "deprecated"),
            comments: self.comments(file, m.path()),
        }
    }

    fn http_rule(
        &mut self,
        file: &str,
        element: &str,
        m: &MethodDescriptor,
        rule: &DynamicMessage,
        top: bool,
        out: &mut Vec<HttpBinding>,
    ) {
        let s = |name: &str| {
            rule.get_field_by_name(name)
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        let mut pattern = None;
        for (name, method) in [
            ("get", HttpMethod::Get),
            ("put", HttpMethod::Put),
            ("post", HttpMethod::Post),
            ("delete", HttpMethod::Delete),
            ("patch", HttpMethod::Patch),
        ] {
            if rule.has_field_by_name(name) {
                pattern = Some((method, s(name)));
            }
        }
        if rule.has_field_by_name("custom") {
            let custom = rule
                .get_field_by_name("custom")
                .and_then(|v| v.as_message().cloned());
            if let Some(c) = custom {
                let kind = c
                    .get_field_by_name("kind")
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let path = c
                    .get_field_by_name("path")
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                if kind.is_empty()
                    || !(kind == "*" || kind.chars().all(|ch| ch.is_ascii_alphabetic()))
                {
                    self.error(
                        file,
                        element.to_string(),
                        format!("custom HTTP binding has an invalid kind `{kind}`"),
                    );
                    return;
                }
                pattern = Some((HttpMethod::Custom(kind.to_ascii_uppercase()), path));
            }
        }
        let Some((method, path)) = pattern else {
            self.error(
                file,
                element.to_string(),
                "HTTP rule sets no pattern (get, put, post, delete, patch or custom)".into(),
            );
            return;
        };
        let at = format!("{element}, binding {} {path}", method.as_str());
        let template = match PathTemplate::parse(&path) {
            Ok(t) => Some(t),
            Err(e) => {
                self.error(file, at.clone(), e.0);
                None
            }
        };
        let input = m.input();
        if let Some(t) = &template {
            for v in t.variables() {
                match path_field(&input, &v.field_path) {
                    Err(msg) => self.error(
                        file,
                        at.clone(),
                        format!("path variable `{}`: {msg}", v.field_path_str()),
                    ),
                    // What anything but a single `*` matches is path text, `/` and
                    // literals included: only a string can hold it.
                    Ok(field) if v.is_multi_segment() && field.kind() != Kind::String => self
                        .error(
                            file,
                            at.clone(),
                            format!(
                                "path variable `{}` has the sub-template `{}`, which matches path text \
                                 (more than a single `*` segment), so it must bind a `string` field; \
                                 `{}` is {}",
                                v.field_path_str(),
                                v.sub_template(),
                                field.name(),
                                kind_name(&field.kind())
                            ),
                        ),
                    Ok(_) => {}
                }
            }
            if t.segments.iter().any(|s| matches!(s, Segment::Variable(v) if v.segments.iter().any(|x| matches!(x, Segment::Variable(_))))) {
                self.error(file, at.clone(), "nested variables".into());
            }
        }

        let body_str = s("body");
        let body = match body_str.as_str() {
            "" => BodyMapping::None,
            "*" => BodyMapping::All,
            f if f.contains('.') => {
                self.error(
                    file,
                    at.clone(),
                    format!(
                        "body `{f}` must name a top-level field of {}",
                        input.full_name()
                    ),
                );
                BodyMapping::None
            }
            f => {
                if input.get_field_by_name(f).is_none() {
                    self.error(
                        file,
                        at.clone(),
                        format!("body `{f}` is not a field of {}", input.full_name()),
                    );
                }
                BodyMapping::Field(f.to_string())
            }
        };
        // `custom { kind: "get" }` is a GET too.
        if body != BodyMapping::None && method.as_str().eq_ignore_ascii_case("GET") {
            self.error(
                file,
                at.clone(),
                "a GET binding must not have a body".into(),
            );
        }
        let response_body = match s("response_body") {
            r if r.is_empty() => None,
            r => {
                if r.contains('.') || m.output().get_field_by_name(&r).is_none() {
                    self.error(
                        file,
                        at.clone(),
                        format!(
                            "response_body `{r}` must name a top-level field of {}",
                            m.output().full_name()
                        ),
                    );
                }
                Some(r)
            }
        };
        let update_mask = match (&method, &body) {
            (HttpMethod::Patch, BodyMapping::Field(f)) => update_mask_field(&input, f),
            _ => None,
        };
        if let Some(template) = template {
            out.push(HttpBinding {
                method,
                template,
                body,
                response_body,
                update_mask,
            });
        }

        let additional = rule
            .get_field_by_name("additional_bindings")
            .map(|v| v.into_owned())
            .and_then(|v| v.as_list().map(|l| l.to_vec()))
            .unwrap_or_default();
        if !additional.is_empty() && !top {
            self.error(
                file,
                at,
                "additional_bindings must not be nested inside an additional binding".into(),
            );
            return;
        }
        for extra in additional {
            if let Some(r) = extra.as_message() {
                self.http_rule(file, element, m, r, false, out);
            }
        }
    }

    fn message(&mut self, m: &MessageDescriptor) -> Message {
        let file = m.parent_file().name().to_string();
        let mut fields = Vec::new();
        for f in m.fields() {
            fields.push(self.field(&file, &f));
        }
        let mut oneofs = Vec::new();
        for o in m.oneofs().filter(|o| !o.is_synthetic()) {
            oneofs.push(Oneof {
                name: o.name().to_string(),
                fields: o.fields().map(|f| f.name().to_string()).collect(),
                comments: self.comments(&file, o.path()),
            });
        }
        Message {
            full_name: m.full_name().to_string(),
            name: m.name().to_string(),
            package: m.package_name().to_string(),
            fields,
            oneofs,
            map_entry: m.is_map_entry(),
            deprecated: bool_option(&m.options(), "deprecated"),
            comments: self.comments(&file, m.path()),
            file,
        }
    }

    fn field(&mut self, file: &str, f: &FieldDescriptor) -> Field {
        let cardinality = if f.is_map() {
            let value = match f.kind() {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other,
            };
            Cardinality::Map(field_type(&value))
        } else if f.is_list() {
            Cardinality::Repeated
        } else if f.supports_presence() {
            Cardinality::Optional
        } else {
            Cardinality::Single
        };
        let ty = if let Cardinality::Map(_) = cardinality {
            match f.kind() {
                Kind::Message(entry) => field_type(&entry.map_entry_key_field().kind()),
                other => field_type(&other),
            }
        } else {
            field_type(&f.kind())
        };
        let behaviors = extension(&f.options(), &self.ext_behavior)
            .and_then(|v| {
                v.as_list().map(|l| {
                    l.iter()
                        .filter_map(|x| x.as_enum_number())
                        .collect::<Vec<_>>()
                })
            })
            .unwrap_or_default()
            .into_iter()
            .filter_map(|n| match n {
                1 => Some(FieldBehavior::Optional),
                2 => Some(FieldBehavior::Required),
                3 => Some(FieldBehavior::OutputOnly),
                4 => Some(FieldBehavior::InputOnly),
                5 => Some(FieldBehavior::Immutable),
                6 => Some(FieldBehavior::UnorderedList),
                7 => Some(FieldBehavior::NonEmptyDefault),
                8 => Some(FieldBehavior::Identifier),
                _ => None,
            })
            .collect();
        let pattern = self.field_pattern(file, f, &ty, &cardinality);
        Field {
            name: f.name().to_string(),
            json_name: f.json_name().to_string(),
            number: f.number(),
            ty,
            cardinality,
            behaviors,
            pattern,
            oneof: f
                .containing_oneof()
                .filter(|o| !o.is_synthetic())
                .map(|o| o.name().to_string()),
            deprecated: bool_option(&f.options(), "deprecated"),
            comments: self.comments(file, f.path()),
        }
    }

    /// The `field_rule` pattern of a field: only on string fields (singular or
    /// repeated), non-empty, and a valid regular expression.
    fn field_pattern(
        &mut self,
        file: &str,
        f: &FieldDescriptor,
        ty: &FieldType,
        cardinality: &Cardinality,
    ) -> Option<String> {
        let options = f.options();
        let rule = extension(&options, &self.ext_field_rule)?;
        let pattern = rule
            .as_message()
            .and_then(|r| r.get_field_by_name("pattern"))
            .and_then(|v| v.as_str().map(str::to_string))
            .filter(|p| !p.is_empty())?;
        let element = format!(
            "message {}, field {}",
            f.parent_message().full_name(),
            f.name()
        );
        if *ty != FieldType::String || matches!(cardinality, Cardinality::Map(_)) {
            self.error(
                file,
                element,
                "field_rule `pattern` applies to string fields (singular or repeated) only".into(),
            );
            return None;
        }
        if let Err(e) = regex::Regex::new(&pattern) {
            self.error(
                file,
                element,
                format!("field_rule `pattern` is not a valid regular expression: {e}"),
            );
            return None;
        }
        Some(pattern)
    }

    fn enumeration(&mut self, e: &EnumDescriptor) -> Enum {
        let file = e.parent_file().name().to_string();
        let mut values = Vec::new();
        for v in e.values() {
            values.push(EnumValue {
                name: v.name().to_string(),
                number: v.number(),
                deprecated: bool_option(&v.options(), "deprecated"),
                comments: self.comments(&file, v.path()),
            });
        }
        Enum {
            full_name: e.full_name().to_string(),
            name: e.name().to_string(),
            values,
            deprecated: bool_option(&e.options(), "deprecated"),
            comments: self.comments(&file, e.path()),
            file,
        }
    }

    /// Two bindings with the same HTTP method and template shape would be
    /// ambiguous: reject them, naming both methods.
    fn check_duplicate_routes(&mut self, api: &Api) {
        let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
        for (svc, m) in api.methods() {
            for b in &m.http {
                let key = (b.method.as_str().to_string(), b.template.shape());
                let here = format!("{}.{}", svc.full_name, m.name);
                if let Some(first) = seen.get(&key) {
                    let first = first.clone();
                    self.error(
                        &svc.file,
                        format!(
                            "service {}, method {}, binding {} {}",
                            svc.full_name,
                            m.name,
                            b.method.as_str(),
                            b.template
                        ),
                        format!(
                            "duplicate HTTP route: {first} already binds {} {}",
                            key.0, key.1
                        ),
                    );
                } else {
                    seen.insert(key, here);
                }
            }
        }
    }
}

/// A path variable must name, through singular message fields, a non-repeated
/// field of a scalar, an enum, or a well-known type with a scalar JSON form.
/// Returns that field.
fn path_field(input: &MessageDescriptor, path: &[String]) -> Result<FieldDescriptor, String> {
    let mut msg = input.clone();
    let mut found = None;
    for (i, name) in path.iter().enumerate() {
        let Some(f) = msg.get_field_by_name(name) else {
            return Err(format!("`{name}` is not a field of {}", msg.full_name()));
        };
        let last = i + 1 == path.len();
        if f.is_map() {
            return Err(format!("`{name}` is a map field"));
        }
        if f.is_list() {
            return Err(format!("`{name}` is a repeated field"));
        }
        match f.kind() {
            Kind::Message(sub) if !last => msg = sub,
            Kind::Message(sub) if !SCALAR_JSON_WKTS.contains(&sub.full_name()) => {
                return Err(format!(
                    "`{name}` is a message field ({}); bind a scalar field",
                    sub.full_name()
                ));
            }
            Kind::Message(_) => {}
            _ if !last => {
                return Err(format!(
                    "`{name}` is not a message field, so it has no field `{}`",
                    path[i + 1]
                ));
            }
            _ => {}
        }
        found = Some(f);
    }
    found.ok_or_else(|| "empty field path".to_string())
}

/// The proto type of a field, for messages.
fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Double => "double".into(),
        Kind::Float => "float".into(),
        Kind::Int32 => "int32".into(),
        Kind::Int64 => "int64".into(),
        Kind::Uint32 => "uint32".into(),
        Kind::Uint64 => "uint64".into(),
        Kind::Sint32 => "sint32".into(),
        Kind::Sint64 => "sint64".into(),
        Kind::Fixed32 => "fixed32".into(),
        Kind::Fixed64 => "fixed64".into(),
        Kind::Sfixed32 => "sfixed32".into(),
        Kind::Sfixed64 => "sfixed64".into(),
        Kind::Bool => "bool".into(),
        Kind::String => "string".into(),
        Kind::Bytes => "bytes".into(),
        Kind::Enum(e) => format!("the enum {}", e.full_name()),
        Kind::Message(m) => format!("the message {}", m.full_name()),
    }
}

fn field_type(kind: &Kind) -> FieldType {
    match kind {
        Kind::Double => FieldType::Double,
        Kind::Float => FieldType::Float,
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => FieldType::Int32,
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => FieldType::Int64,
        Kind::Uint32 | Kind::Fixed32 => FieldType::Uint32,
        Kind::Uint64 | Kind::Fixed64 => FieldType::Uint64,
        Kind::Bool => FieldType::Bool,
        Kind::String => FieldType::String,
        Kind::Bytes => FieldType::Bytes,
        Kind::Enum(e) => FieldType::Enum(e.full_name().to_string()),
        Kind::Message(m) => FieldType::Message(m.full_name().to_string()),
    }
}

/// Trims each line of a comment and drops surrounding blank lines.
fn clean_comment(raw: &str) -> String {
    let lines: Vec<&str> = raw
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
        .collect();
    lines.join("\n").trim_matches('\n').to_string()
}
