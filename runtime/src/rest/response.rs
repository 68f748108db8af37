//! gRPC answers → HTTP: messages as proto3 JSON, statuses as `google.rpc.Status`
//! JSON with the standard HTTP status.

use super::details::DetailTypes;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, SerializeOptions, Value};
use serde_json::{Value as Json, json};
use tonic::Code;

/// The HTTP status for a gRPC code (the table every transcoder shares).
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).expect("valid status"),
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
    }
}

/// `google.rpc.Status` as proto3 JSON.
pub fn status_json(code: Code, message: &str) -> serde_json::Value {
    json!({ "code": code as i32, "message": message, "details": [] })
}

/// A gRPC status as `google.rpc.Status` JSON, its details (from
/// `grpc-status-details-bin`) rendered by `types`.
pub fn status_details_json(status: &tonic::Status, types: &DetailTypes) -> serde_json::Value {
    json!({
        "code": status.code() as i32,
        "message": status.message(),
        "details": types.render(status.details()),
    })
}

/// The error response for a gRPC status, with its details.
pub fn status_error(status: &tonic::Status, types: &DetailTypes) -> Response {
    with_challenge(
        json_response(
            http_status(status.code()),
            &status_details_json(status, types),
        ),
        status.code(),
    )
}

/// An error response: mapped HTTP status, `google.rpc.Status` JSON body.
pub fn error(code: Code, message: &str) -> Response {
    with_challenge(
        json_response(http_status(code), &status_json(code, message)),
        code,
    )
}

/// `WWW-Authenticate: Bearer` on 401s.
fn with_challenge(mut response: Response, code: Code) -> Response {
    if code == Code::Unauthenticated {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// A JSON response.
pub fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut response = Response::new(Body::from(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Options of every JSON we write: lowerCamel names, 64-bit integers as strings,
/// enums by name, default values left out.
pub(crate) const SERIALIZE: SerializeOptions = SerializeOptions::new()
    .stringify_64_bit_integers(true)
    .use_proto_field_name(false)
    .skip_default_fields(true);

/// Decodes one protobuf message and renders it (or its `response_body` field).
pub fn message_json(
    output: &MessageDescriptor,
    bytes: &[u8],
    response_body: &str,
) -> Result<serde_json::Value, String> {
    let message = DynamicMessage::decode(output.clone(), bytes)
        .map_err(|e| format!("undecodable response: {e}"))?;
    let mut value = message
        .serialize_with_options(serde_json::value::Serializer, &SERIALIZE)
        .map_err(|e| format!("unrenderable response: {e}"))?;
    fix_floats(&message, &mut value);
    if response_body.is_empty() {
        return Ok(value);
    }
    let field = output
        .get_field_by_name(response_body)
        .ok_or_else(|| format!("response_body `{response_body}` is not a field"))?;
    let present = value.get(field.json_name()).cloned();
    Ok(present.unwrap_or_else(|| {
        // Default values are omitted above; the body still needs a value.
        if field.is_list() {
            serde_json::Value::Array(Vec::new())
        } else if field.is_map() || matches!(field.kind(), prost_reflect::Kind::Message(_)) {
            serde_json::Value::Object(Default::default())
        } else {
            let default = DynamicMessage::new(output.clone());
            let options = SERIALIZE.skip_default_fields(false);
            default
                .serialize_with_options(serde_json::value::Serializer, &options)
                .ok()
                .and_then(|v| v.get(field.json_name()).cloned())
                .unwrap_or(serde_json::Value::Null)
        }
    }))
}

/// The type of a raw HTTP body.
pub const HTTP_BODY: &str = "google.api.HttpBody";

/// Where a reply's raw HTTP body is: the reply is a `google.api.HttpBody`, or its
/// `response_body` field is one.
#[derive(Clone, Copy, Debug)]
pub enum RawSource {
    /// The whole reply.
    Whole,
    /// This field of the reply (by number).
    Field(u32),
}

/// Whether the reply (or its `response_body` field) is written raw.
pub fn raw_body_source(output: &MessageDescriptor, response_body: &str) -> Option<RawSource> {
    if response_body.is_empty() {
        return (output.full_name() == HTTP_BODY).then_some(RawSource::Whole);
    }
    let field = output.get_field_by_name(response_body)?;
    match field.kind() {
        Kind::Message(m) if m.full_name() == HTTP_BODY && !field.is_list() => {
            Some(RawSource::Field(field.number()))
        }
        _ => None,
    }
}

/// The content type and bytes of the `google.api.HttpBody` in a reply.
pub fn raw_body(
    output: &MessageDescriptor,
    source: RawSource,
    bytes: &[u8],
) -> Result<(String, Bytes), String> {
    let message = DynamicMessage::decode(output.clone(), bytes)
        .map_err(|e| format!("undecodable response: {e}"))?;
    let body = match source {
        RawSource::Whole => message,
        RawSource::Field(number) => match message.get_field_by_number(number).as_deref() {
            Some(Value::Message(m)) => m.clone(),
            _ => return Err("the response body field is not a message".into()),
        },
    };
    let content_type = match body.get_field_by_name("content_type").as_deref() {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let data = match body.get_field_by_name("data").as_deref() {
        Some(Value::Bytes(b)) => b.clone(),
        _ => Bytes::new(),
    };
    Ok((content_type, data))
}

/// A raw response: `data` with `content_type` (`application/octet-stream` when
/// empty or not a valid header value).
pub fn raw_response(content_type: &str, data: Bytes) -> Response {
    let mut response = Response::new(Body::from(data));
    let ct = HeaderValue::from_str(content_type)
        .ok()
        .filter(|_| !content_type.trim().is_empty())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    response.headers_mut().insert(header::CONTENT_TYPE, ct);
    response
}

/// Corrects what serializing into a `serde_json::Value` gets wrong for proto3
/// JSON: a non-finite `DoubleValue`/`FloatValue` came out as `null` (it is
/// `"NaN"`, `"Infinity"` or `"-Infinity"`), and a `float` as the decimal
/// expansion of its double (`0.10000000149011612`, not `0.1`).
fn fix_floats(message: &DynamicMessage, json: &mut Json) {
    use prost_reflect::{MapKey, ReflectMessage, Value as V};
    fn non_finite(v: f64) -> Json {
        let text = if v.is_nan() {
            "NaN"
        } else if v > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        };
        Json::String(text.to_string())
    }
    fn fix(value: &V, json: &mut Json) {
        match value {
            V::F64(v) if !v.is_finite() => *json = non_finite(*v),
            V::F32(v) if !v.is_finite() => *json = non_finite(f64::from(*v)),
            V::F32(v) => {
                // The shortest decimal that reads back as this float.
                if let Some(n) = format!("{v}")
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                {
                    *json = Json::Number(n);
                }
            }
            V::Message(m) => match m.descriptor().full_name() {
                // Wrappers are written as their scalar.
                "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => {
                    if let Some(inner) = m.get_field_by_name("value") {
                        fix(&inner, json);
                    }
                }
                _ => fix_floats(m, json),
            },
            _ => {}
        }
    }
    let Json::Object(object) = json else { return };
    for (field, value) in message.fields() {
        let Some(slot) = object.get_mut(field.json_name()) else {
            continue;
        };
        match (value, slot) {
            (V::List(items), Json::Array(slots)) => {
                for (item, slot) in items.iter().zip(slots.iter_mut()) {
                    fix(item, slot);
                }
            }
            (V::Map(entries), Json::Object(slots)) => {
                for (key, item) in entries {
                    let key = match key {
                        MapKey::Bool(b) => b.to_string(),
                        MapKey::I32(n) => n.to_string(),
                        MapKey::I64(n) => n.to_string(),
                        MapKey::U32(n) => n.to_string(),
                        MapKey::U64(n) => n.to_string(),
                        MapKey::String(s) => s.clone(),
                    };
                    if let Some(slot) = slots.get_mut(&key) {
                        fix(item, slot);
                    }
                }
            }
            (value, slot) => fix(value, slot),
        }
    }
}

/// Splits a buffer of gRPC length-prefixed frames into messages.
pub fn frames(mut buf: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        if buf.len() < 5 {
            return Err("truncated gRPC frame".into());
        }
        if buf[0] != 0 {
            return Err("compressed gRPC frames are not expected".into());
        }
        let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        let end = 5usize
            .checked_add(len)
            .filter(|e| *e <= buf.len())
            .ok_or("truncated gRPC frame")?;
        out.push(&buf[5..end]);
        buf = &buf[end..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table() {
        assert_eq!(
            http_status(Code::FailedPrecondition),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(http_status(Code::Cancelled).as_u16(), 499);
        assert_eq!(http_status(Code::Unauthenticated), StatusCode::UNAUTHORIZED);
        assert_eq!(
            http_status(Code::ResourceExhausted),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(http_status(Code::Aborted), StatusCode::CONFLICT);
        assert_eq!(
            http_status(Code::Unimplemented),
            StatusCode::NOT_IMPLEMENTED
        );
        let r = error(Code::Unauthenticated, "no");
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }

    #[test]
    fn floats_as_proto3_json() {
        use prost::Message;
        let pool = prost_reflect::DescriptorPool::decode(conformance_api::FILE_DESCRIPTOR_SET)
            .expect("descriptors");
        let everything = pool
            .get_message_by_name("conformance.v1.Everything")
            .expect("Everything");
        let input = json!({
            "wrappedDouble": "-Infinity",
            "wrappedFloat": "NaN",
            "doubleValue": "Infinity",
            "floatValue": 0.1,
            "nested": {"leaf": {"value": "v"}},
            "nestedMap": {"k": {"name": "n"}},
        });
        let message = DynamicMessage::deserialize(everything.clone(), input.clone()).unwrap();
        let json = message_json(&everything, &message.encode_to_vec(), "").unwrap();
        assert_eq!(json, input);
    }

    #[test]
    fn frame_splitting() {
        assert_eq!(frames(b"").unwrap(), Vec::<&[u8]>::new());
        assert_eq!(
            frames(b"\0\0\0\0\x02ab\0\0\0\0\0").unwrap(),
            vec![&b"ab"[..], &b""[..]]
        );
        assert!(frames(b"\0\0\0\0\x05ab").is_err());
        assert!(frames(b"\x01\0\0\0\0").is_err());
        assert!(frames(b"\0\0").is_err());
    }
}
