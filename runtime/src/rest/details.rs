//! `grpc-status-details-bin` → the `details` of the REST error body.
//!
//! The header holds a serialized `google.rpc.Status` whose `details` are
//! `google.protobuf.Any`s. Each becomes its proto3 JSON form with an `@type`
//! (`{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations":
//! [...]}`) when its type is known: a message of the served API, else one of the
//! `google.rpc` error details (`BadRequest`, `ErrorInfo`, `RetryInfo`, ...,
//! compiled in from `proto/google/rpc` by `cargo xtask gen`). Any other type, or
//! bytes that do not decode, fall back to `{"@type": ..., "value": <base64>}`;
//! details never turn an error into a 500.

use base64::Engine as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use serde_json::{Map, Value};

/// `google.rpc.Status`, as far as the details go.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

/// The pools detail types are looked up in.
#[derive(Clone, Debug)]
pub struct DetailTypes {
    api: DescriptorPool,
    rpc: DescriptorPool,
}

impl DetailTypes {
    /// The served API's types, then the compiled-in `google.rpc` ones.
    pub fn new(api: DescriptorPool) -> anyhow::Result<DetailTypes> {
        let rpc = DescriptorPool::decode(super::rpc_descriptor_set::FILE_DESCRIPTOR_SET)?;
        Ok(DetailTypes { api, rpc })
    }

    fn message(&self, type_url: &str) -> Option<MessageDescriptor> {
        let name = type_url.rsplit('/').next().unwrap_or(type_url);
        self.api
            .get_message_by_name(name)
            .or_else(|| self.rpc.get_message_by_name(name))
    }

    /// The `details` list for a status's `grpc-status-details-bin` bytes (empty
    /// when there are none or they are not a `google.rpc.Status`).
    pub fn render(&self, details_bin: &[u8]) -> Vec<Value> {
        if details_bin.is_empty() {
            return Vec::new();
        }
        let Ok(status) = <RpcStatus as prost::Message>::decode(details_bin) else {
            tracing::warn!("grpc-status-details-bin is not a google.rpc.Status; details dropped");
            return Vec::new();
        };
        status
            .details
            .iter()
            .map(|any| self.any_json(any))
            .collect()
    }

    /// One `Any` as proto3 JSON, or the base64 fallback.
    fn any_json(&self, any: &prost_types::Any) -> Value {
        let rendered = self.message(&any.type_url).and_then(|desc| {
            let message = DynamicMessage::decode(desc, any.value.as_slice()).ok()?;
            message
                .serialize_with_options(serde_json::value::Serializer, &super::response::SERIALIZE)
                .ok()
        });
        let mut out = Map::new();
        out.insert("@type".into(), Value::String(any.type_url.clone()));
        match rendered {
            Some(Value::Object(fields)) => out.extend(fields),
            // Well-known types with a scalar JSON form go under `value`.
            Some(other) => {
                out.insert("value".into(), other);
            }
            None => {
                out.insert(
                    "value".into(),
                    Value::String(base64::engine::general_purpose::STANDARD.encode(&any.value)),
                );
            }
        }
        Value::Object(out)
    }
}

/// Whether a `grpc-status-details-bin` value is base64 that tonic can read
/// (tonic panics on anything else).
pub fn valid_details_header(value: &[u8]) -> bool {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT.decode(value).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn any(type_url: &str, value: Vec<u8>) -> prost_types::Any {
        prost_types::Any {
            type_url: type_url.into(),
            value,
        }
    }

    #[test]
    fn known_unknown_and_broken_details() {
        let types = DetailTypes::new(DescriptorPool::global()).unwrap();
        // RetryInfo { retry_delay: 1.5s }: a Duration inside.
        let retry = prost_types::Duration {
            seconds: 1,
            nanos: 500_000_000,
        };
        let mut retry_info = Vec::new();
        prost::encoding::message::encode(1, &retry, &mut retry_info);
        let status = RpcStatus {
            code: 14,
            message: "later".into(),
            details: vec![
                any("type.googleapis.com/google.rpc.RetryInfo", retry_info),
                any("type.googleapis.com/x.Unknown", vec![1, 2, 3]),
                // A known type whose bytes do not decode.
                any("type.googleapis.com/google.rpc.RetryInfo", vec![0xff]),
                any(
                    "type.googleapis.com/google.protobuf.Duration",
                    retry.encode_to_vec(),
                ),
            ],
        };
        assert_eq!(
            Value::Array(types.render(&status.encode_to_vec())),
            serde_json::json!([
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.500s"},
                {"@type": "type.googleapis.com/x.Unknown", "value": "AQID"},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "value": "/w=="},
                {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "1.500s"},
            ])
        );
        assert!(types.render(b"").is_empty());
        assert!(types.render(&[0xff, 0xff]).is_empty());
    }

    #[test]
    fn details_header_check() {
        assert!(valid_details_header(b"CAE"));
        assert!(valid_details_header(b"CAE="));
        assert!(valid_details_header(b""));
        assert!(!valid_details_header(b"not base64!"));
    }
}
