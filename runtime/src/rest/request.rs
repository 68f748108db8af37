//! HTTP request → request message: path variables, query parameters and body are
//! gathered into one proto3-JSON object and parsed once, so every value goes
//! through the same proto3 JSON rules as a body would.

use dotlanth_meta::{HttpBinding, SCALAR_JSON_WKTS};
use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage,
    Value as ReflectValue,
};
use serde_json::{Map, Value};

/// A client mistake in the request, answered with 400.
#[derive(Debug, PartialEq, Eq)]
pub struct BadRequest(pub String);

fn bad<T>(msg: impl Into<String>) -> Result<T, BadRequest> {
    Err(BadRequest(msg.into()))
}

/// How lenient the parser is.
#[derive(Clone, Copy, Debug, Default)]
pub struct Strictness {
    /// Reject unknown JSON fields and unknown query parameters with 400.
    pub strict: bool,
    /// Decode `+` in query strings as a space (off: `+` is a literal plus).
    pub plus_as_space: bool,
}

/// Builds the request message of `binding` for `input`.
pub fn build(
    input: &MessageDescriptor,
    binding: &HttpBinding,
    variables: &[(&'static [&'static str], String)],
    query: Option<&str>,
    body: &[u8],
    strictness: Strictness,
) -> Result<DynamicMessage, BadRequest> {
    // The body first: `*` is the whole message, a field name is that field.
    let mut mask_paths = Vec::new();
    let mut root = match binding.body {
        "" => Map::new(),
        "*" => parse_body_object(body)?,
        field => {
            let mut root = Map::new();
            if !body.iter().all(u8::is_ascii_whitespace) {
                let value: Value = serde_json::from_slice(body)
                    .map_err(|e| BadRequest(format!("malformed JSON body: {e}")))?;
                let descriptor = input.get_field_by_name(field).ok_or_else(|| {
                    BadRequest(format!("the body field `{field}` is not a field"))
                })?;
                check_field(&descriptor, &value, strictness.strict)
                    .map_err(|e| BadRequest(format!("the body (field `{field}`): {e}")))?;
                if !binding.update_mask.is_empty() {
                    mask_paths = body_mask_paths(input, field, &value);
                }
                root.insert(field.to_string(), value);
            }
            root
        }
    };

    // Path variables win over the body.
    let mut bound: Vec<Vec<String>> = Vec::new();
    for (path, raw) in variables {
        let names: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        let leaf = resolve(input, &names).ok_or_else(|| {
            BadRequest(format!("path variable {} is not a field", names.join(".")))
        })?;
        let value = scalar(&leaf, raw)
            .map_err(|e| BadRequest(format!("path variable {}: {e}", names.join("."))))?;
        insert(&mut root, input, &names, value, true)?;
        bound.push(names);
    }

    // Query parameters fill what the path and a field body leave; none with `*`.
    match query.filter(|q| !q.is_empty()) {
        // With `body: "*"` there are no query parameters; strict mode says so.
        Some(q) if binding.body == "*" && strictness.strict => {
            return bad(format!("this route takes no query parameters (got `{q}`)"));
        }
        Some(q) if binding.body != "*" => {
            apply_query(&mut root, input, binding, &bound, q, strictness)?
        }
        _ => {}
    }

    check_float_strings(input, &root, "")?;
    let options = DeserializeOptions::new().deny_unknown_fields(strictness.strict);
    // The error names the field it is about (`maxMessages`, `topic.labels`).
    let mut track = serde_path_to_error::Track::new();
    let tracked = serde_path_to_error::Deserializer::new(Value::Object(root), &mut track);
    let mut message = DynamicMessage::deserialize_with_options(input.clone(), tracked, &options)
        .map_err(|e| {
            let path = track.path().to_string();
            if path.is_empty() || path == "." || path.ends_with('?') {
                BadRequest(format!("invalid request: {e}"))
            } else {
                BadRequest(format!("invalid request: `{path}`: {e}"))
            }
        })?;
    fill_update_mask(&mut message, binding.update_mask, mask_paths);
    Ok(message)
}

/// Where a raw HTTP body goes: the request is a `google.api.HttpBody` (with
/// `body: "*"`), or the body field is one.
#[derive(Clone, Copy, Debug)]
pub enum RawTarget {
    /// The whole request.
    Whole,
    /// This field of the request (by number).
    Field(u32),
}

/// Whether the binding's body is taken raw, as a `google.api.HttpBody`.
pub fn raw_body_target(input: &MessageDescriptor, body: &str) -> Option<RawTarget> {
    const HTTP_BODY: &str = super::response::HTTP_BODY;
    match body {
        "" => None,
        "*" => (input.full_name() == HTTP_BODY).then_some(RawTarget::Whole),
        field => {
            let f = input.get_field_by_name(field)?;
            match f.kind() {
                Kind::Message(m) if m.full_name() == HTTP_BODY && !f.is_list() => {
                    Some(RawTarget::Field(f.number()))
                }
                _ => None,
            }
        }
    }
}

/// Puts the raw body and its content type into the request's
/// `google.api.HttpBody` (`data`, `content_type`).
pub fn set_raw_body(
    message: &mut DynamicMessage,
    target: RawTarget,
    content_type: String,
    data: bytes::Bytes,
) -> Result<(), String> {
    let fill = |body: &mut DynamicMessage| -> Result<(), String> {
        body.try_set_field_by_name("content_type", ReflectValue::String(content_type))
            .and_then(|()| body.try_set_field_by_name("data", ReflectValue::Bytes(data)))
            .map_err(|e| format!("google.api.HttpBody: {e}"))
    };
    match target {
        RawTarget::Whole => fill(message),
        RawTarget::Field(number) => {
            let field = message
                .descriptor()
                .get_field(number)
                .ok_or("the body field is missing")?;
            let Kind::Message(body_type) = field.kind() else {
                return Err("the body field is not a message".into());
            };
            let mut body = DynamicMessage::new(body_type);
            fill(&mut body)?;
            message.set_field(&field, ReflectValue::Message(body));
            Ok(())
        }
    }
}

/// The field mask a `PATCH` body implies (the binding's
/// [`update_mask`](HttpBinding::update_mask)): the **top-level** keys of the body
/// object that name fields of the body field's message, as proto field names
/// (a key may be the JSON or the proto name), sorted and deduplicated.
///
/// Only top-level keys: `{"style": {"color": "red"}}` gives `style`, not
/// `style.color`, so a nested message in the body replaces the stored one as a
/// whole. Map fields, `Struct`s and repeated fields are leaves like any other.
/// Keys that name no field (the lenient parser ignores them) stay out of the
/// mask; a `null` value counts (it clears the field). Anything but a JSON object
/// gives no paths.
fn body_mask_paths(input: &MessageDescriptor, body_field: &str, body: &Value) -> Vec<String> {
    let (Some(field), Value::Object(keys)) = (input.get_field_by_name(body_field), body) else {
        return Vec::new();
    };
    let Kind::Message(message) = field.kind() else {
        return Vec::new();
    };
    let paths: std::collections::BTreeSet<String> = keys
        .keys()
        .filter_map(|k| {
            message
                .get_field_by_name(k)
                .or_else(|| message.get_field_by_json_name(k))
        })
        .map(|f| f.name().to_string())
        .collect();
    paths.into_iter().collect()
}

/// Sets the `mask_field` of the request to `paths` unless the caller set it (in
/// the query or the path) or there are no paths.
fn fill_update_mask(message: &mut DynamicMessage, mask_field: &str, paths: Vec<String>) {
    if mask_field.is_empty() || paths.is_empty() || message.has_field_by_name(mask_field) {
        return;
    }
    let Some(field) = message.descriptor().get_field_by_name(mask_field) else {
        return;
    };
    let Kind::Message(mask_type) = field.kind() else {
        return;
    };
    let mut mask = DynamicMessage::new(mask_type);
    let list = paths.into_iter().map(ReflectValue::String).collect();
    if mask
        .try_set_field_by_name("paths", ReflectValue::List(list))
        .is_ok()
    {
        message.set_field(&field, ReflectValue::Message(mask));
    }
}

fn parse_body_object(body: &[u8]) -> Result<Map<String, Value>, BadRequest> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => bad("the JSON body must be an object"),
        Err(e) => bad(format!("malformed JSON body: {e}")),
    }
}

fn apply_query(
    root: &mut Map<String, Value>,
    input: &MessageDescriptor,
    binding: &HttpBinding,
    bound: &[Vec<String>],
    query: &str,
    strictness: Strictness,
) -> Result<(), BadRequest> {
    let mut seen: Vec<Vec<String>> = Vec::new();
    for pair in query.split('&') {
        let Some((raw_name, raw_value)) = pair.split_once('=') else {
            continue; // `?flag` without `=` carries no value
        };
        let name = decode_query(raw_name, strictness.plus_as_space)?;
        let value = decode_query(raw_value, strictness.plus_as_space)?;
        if name.is_empty() {
            continue;
        }
        let segments: Vec<&str> = name.split('.').collect();
        let Some((fields, names)) = resolve_chain(input, &segments) else {
            if through_collection(input, &segments, binding.body) {
                return bad(format!(
                    "query parameter `{name}` goes through a repeated or map field"
                ));
            }
            if strictness.strict {
                return bad(format!("unknown query parameter `{name}`"));
            }
            continue;
        };
        let leaf = fields
            .last()
            .expect("resolve_chain returns at least one field");
        // Fields taken by the path or by the body are not query parameters.
        if bound.iter().any(|b| b == &names) {
            continue;
        }
        if !binding.body.is_empty() && names.first().map(String::as_str) == Some(binding.body) {
            continue;
        }
        if leaf.is_map()
            || (leaf.is_list() && matches!(leaf.kind(), Kind::Message(_)) && !is_scalar_wkt(leaf))
        {
            return bad(format!(
                "query parameter `{name}` names a repeated message or map field"
            ));
        }
        if matches!(leaf.kind(), Kind::Message(_)) && !is_scalar_wkt(leaf) {
            return bad(format!(
                "query parameter `{name}` names a message; set its fields (`{name}.field=...`)"
            ));
        }
        let json = scalar(leaf, &value)
            .map_err(|e| BadRequest(format!("query parameter `{name}`: {e}")))?;
        if leaf.is_list() {
            append(root, input, &names, json)?;
        } else {
            if seen.contains(&names) {
                return bad(format!("query parameter `{name}` is given more than once"));
            }
            seen.push(names.clone());
            insert(root, input, &names, json, false)?;
        }
    }
    Ok(())
}

/// Percent-decodes a query name or value (one pass); `+` per the setting.
fn decode_query(raw: &str, plus_as_space: bool) -> Result<String, BadRequest> {
    // `+` is never part of an escape, so turning it into a space first is exact.
    let spaced;
    let text = if plus_as_space {
        spaced = raw.replace('+', " ");
        spaced.as_str()
    } else {
        raw
    };
    super::router::decode(text, false).map_err(|e| BadRequest(format!("query `{raw}`: {e}")))
}

/// The field at the end of a dotted path (proto names), walking singular messages.
fn resolve(input: &MessageDescriptor, path: &[String]) -> Option<FieldDescriptor> {
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    resolve_chain(input, &segments).map(|(fields, _)| fields.last().cloned().expect("non-empty"))
}

/// The fields along a dotted path, accepting proto or JSON names; also returns
/// the proto names.
fn resolve_chain(
    input: &MessageDescriptor,
    path: &[&str],
) -> Option<(Vec<FieldDescriptor>, Vec<String>)> {
    let mut msg = input.clone();
    let mut fields = Vec::new();
    let mut names = Vec::new();
    for (i, segment) in path.iter().enumerate() {
        let field = msg
            .get_field_by_name(segment)
            .or_else(|| msg.get_field_by_json_name(segment))?;
        names.push(field.name().to_string());
        if i + 1 < path.len() {
            match field.kind() {
                Kind::Message(sub) if !field.is_list() && !field.is_map() => msg = sub,
                _ => return None,
            }
        }
        fields.push(field);
    }
    (!fields.is_empty()).then_some((fields, names))
}

/// Whether a dotted query name that does not resolve walks into a repeated or
/// map field before its last segment (`repeatedNested.name`, `stringMap.key`):
/// those cannot be set from the query. A name under the body field is not a
/// query parameter at all.
fn through_collection(input: &MessageDescriptor, path: &[&str], body: &str) -> bool {
    let mut msg = input.clone();
    for (i, segment) in path.iter().enumerate().take(path.len().saturating_sub(1)) {
        let Some(field) = msg
            .get_field_by_name(segment)
            .or_else(|| msg.get_field_by_json_name(segment))
        else {
            return false;
        };
        if i == 0 && field.name() == body {
            return false;
        }
        if field.is_list() || field.is_map() {
            return true;
        }
        match field.kind() {
            Kind::Message(m) => msg = m,
            _ => return false,
        }
    }
    false
}

fn is_scalar_wkt(field: &FieldDescriptor) -> bool {
    matches!(field.kind(), Kind::Message(m) if SCALAR_JSON_WKTS.contains(&m.full_name()))
}

/// A path or query string as the proto3-JSON value the field expects. Strings are
/// what proto3 JSON accepts for every scalar except `bool` (and `BoolValue`).
fn scalar(field: &FieldDescriptor, raw: &str) -> Result<Value, String> {
    let is_bool = match field.kind() {
        Kind::Bool => true,
        Kind::Message(m) => m.full_name() == "google.protobuf.BoolValue",
        _ => false,
    };
    if is_bool {
        return match raw {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("`{raw}` is not `true` or `false`")),
        };
    }
    if let Kind::Enum(e) = field.kind() {
        // By name (case-sensitive) or by the number of a declared value.
        let known = match raw.parse::<i32>() {
            Ok(n) => e.get_value(n).map(|_| Value::from(n)),
            Err(_) => e
                .get_value_by_name(raw)
                .map(|_| Value::String(raw.to_string())),
        };
        return known.ok_or_else(|| format!("`{raw}` is not a value of {}", e.full_name()));
    }
    if let Some(float) = float_type(field) {
        check_float_text(float, raw)?;
    }
    let value = Value::String(raw.to_string());
    check_value(field, &value)?;
    Ok(value)
}

/// A `double` or `float` written as text: a number in range, or `NaN`,
/// `Infinity`, `-Infinity` (Rust's parser also reads `inf`, `nan`, and turns
/// numbers out of range into infinities).
fn check_float_text((type_name, max): (&str, f64), raw: &str) -> Result<(), String> {
    if matches!(raw, "NaN" | "Infinity" | "-Infinity") {
        return Ok(());
    }
    let word = raw
        .chars()
        .any(|c| c.is_ascii_alphabetic() && !matches!(c, 'e' | 'E'));
    match raw.parse::<f64>() {
        Ok(v) if !word && v.is_finite() && v.abs() <= max => Ok(()),
        Ok(v) if !word && !v.is_nan() => Err(format!("`{raw}` is out of range for {type_name}")),
        _ => Err(format!("`{raw}` is not a number")),
    }
}

/// Checks the doubles and floats given as JSON strings anywhere in `object` (a
/// `message`), which the JSON parser reads with Rust's float parser.
fn check_float_strings(
    message: &MessageDescriptor,
    object: &Map<String, Value>,
    path: &str,
) -> Result<(), BadRequest> {
    for (key, value) in object {
        let Some(field) = message
            .get_field_by_name(key)
            .or_else(|| message.get_field_by_json_name(key))
        else {
            continue;
        };
        let here = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        let (items, element): (Vec<&Value>, FieldDescriptor) = match field.kind() {
            Kind::Message(entry) if field.is_map() => (
                value
                    .as_object()
                    .map(|o| o.values().collect())
                    .unwrap_or_default(),
                entry.map_entry_value_field(),
            ),
            _ if field.is_list() => (
                value
                    .as_array()
                    .map(|a| a.iter().collect())
                    .unwrap_or_default(),
                field.clone(),
            ),
            _ => (vec![value], field.clone()),
        };
        for item in items {
            if let Some(float) = float_type(&element) {
                if let Value::String(raw) = item {
                    check_float_text(float, raw)
                        .map_err(|e| BadRequest(format!("invalid request: `{here}`: {e}")))?;
                }
            } else if let (Kind::Message(sub), Value::Object(inner)) = (element.kind(), item)
                && !sub.full_name().starts_with("google.protobuf.")
            {
                check_float_strings(&sub, inner, &here)?;
            }
        }
    }
    Ok(())
}

/// The name and largest finite value of a `double` or `float` field (or wrapper).
fn float_type(field: &FieldDescriptor) -> Option<(&'static str, f64)> {
    match field.kind() {
        Kind::Double => Some(("double", f64::MAX)),
        Kind::Float => Some(("float", f64::from(f32::MAX))),
        Kind::Message(m) => match m.full_name() {
            "google.protobuf.DoubleValue" => Some(("double", f64::MAX)),
            "google.protobuf.FloatValue" => Some(("float", f64::from(f32::MAX))),
            _ => None,
        },
        _ => None,
    }
}

/// Parses `value` as the field's proto3 JSON on its own, so a bad value is
/// refused naming its parameter (the whole message is parsed later).
fn check_value(field: &FieldDescriptor, value: &Value) -> Result<(), String> {
    if field.is_list() {
        check_field(field, &Value::Array(vec![value.clone()]), true)
    } else {
        check_field(field, value, true)
    }
}

/// Parses `value` as the whole field's proto3 JSON; unknown fields inside it
/// are refused only when `strict`.
fn check_field(field: &FieldDescriptor, value: &Value, strict: bool) -> Result<(), String> {
    let mut object = Map::new();
    object.insert(field.name().to_string(), value.clone());
    let options = DeserializeOptions::new().deny_unknown_fields(strict);
    DynamicMessage::deserialize_with_options(
        field.parent_message().clone(),
        Value::Object(object),
        &options,
    )
    .map(drop)
    .map_err(|e| e.to_string())
}

/// Sets `root[path] = value`, creating objects on the way. With `replace`, any
/// spelling of the field already present (proto or JSON name) is replaced.
fn insert(
    root: &mut Map<String, Value>,
    input: &MessageDescriptor,
    path: &[String],
    value: Value,
    replace: bool,
) -> Result<(), BadRequest> {
    let mut map = root;
    let mut msg = input.clone();
    for (i, name) in path.iter().enumerate() {
        let field = msg
            .get_field_by_name(name)
            .ok_or_else(|| BadRequest(format!("`{name}` is not a field of {}", msg.full_name())))?;
        let json_name = field.json_name().to_string();
        if i + 1 == path.len() {
            if replace || (!map.contains_key(name) && !map.contains_key(&json_name)) {
                map.remove(&json_name);
                map.insert(name.clone(), value);
            }
            return Ok(());
        }
        // Merge into the object the body may already hold under either name.
        let existing = map.remove(&json_name).or_else(|| map.remove(name));
        let entry = map.entry(name.clone()).or_insert(Value::Object(Map::new()));
        if let Some(e) = existing {
            *entry = e;
        }
        if entry.is_null() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(next) = entry else {
            return bad(format!("`{name}` in the body is not an object"));
        };
        map = next;
        msg = match field.kind() {
            Kind::Message(m) => m,
            _ => return bad(format!("`{name}` is not a message field")),
        };
    }
    Ok(())
}

/// Appends to the repeated field at `path` (query repetition).
fn append(
    root: &mut Map<String, Value>,
    input: &MessageDescriptor,
    path: &[String],
    value: Value,
) -> Result<(), BadRequest> {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut map = root;
    let mut msg = input.clone();
    for name in parents {
        let field = msg.get_field_by_name(name).expect("resolved before");
        let entry = map.entry(name.clone()).or_insert(Value::Object(Map::new()));
        let Value::Object(next) = entry else {
            return bad(format!("`{name}` is not an object"));
        };
        map = next;
        msg = match field.kind() {
            Kind::Message(m) => m,
            _ => return bad(format!("`{name}` is not a message field")),
        };
    }
    match map.entry(last.clone()).or_insert(Value::Array(Vec::new())) {
        Value::Array(items) => items.push(value),
        _ => return bad(format!("`{last}` is given both singly and repeated")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        assert_eq!(decode_query("a%20b+c", false).unwrap(), "a b+c");
        assert_eq!(decode_query("a%20b+c", true).unwrap(), "a b c");
        assert_eq!(decode_query("%2523", false).unwrap(), "%23");
        assert!(decode_query("%zz", false).is_err());
        assert!(decode_query("%2", false).is_err());
        assert!(decode_query("%ff", false).is_err());
    }
}
