//! The protoc plugin protocol: `CodeGeneratorRequest` in, `CodeGeneratorResponse` out.
//!
//! The request's `proto_file` entries are read as raw bytes, so extension options
//! (like `google.api.http`) reach [`crate::generate`] exactly as the compiler
//! encoded them.

use crate::{Error, Options, generate};
use prost::Message;

/// `google.protobuf.compiler.CodeGeneratorRequest`, keeping files encoded.
#[derive(Clone, PartialEq, Message)]
struct RawRequest {
    #[prost(string, repeated, tag = "1")]
    file_to_generate: Vec<String>,
    #[prost(string, optional, tag = "2")]
    parameter: Option<String>,
    #[prost(bytes = "vec", repeated, tag = "15")]
    proto_file: Vec<Vec<u8>>,
}

/// `CodeGeneratorResponse.Feature.FEATURE_PROTO3_OPTIONAL`.
const FEATURE_PROTO3_OPTIONAL: u64 = 1;

/// Runs the generator on an encoded request and returns the encoded response.
/// Failures are reported in the response's `error` field, as protoc expects.
pub fn run(request: &[u8]) -> Vec<u8> {
    use prost_types::compiler::{CodeGeneratorResponse, code_generator_response::File};
    let mut response = CodeGeneratorResponse {
        supported_features: Some(FEATURE_PROTO3_OPTIONAL),
        ..Default::default()
    };
    match respond(request) {
        Ok(files) => {
            for f in files {
                match String::from_utf8(f.contents) {
                    Ok(content) => response.file.push(File {
                        name: Some(f.path),
                        content: Some(content),
                        ..Default::default()
                    }),
                    Err(_) => {
                        response.error = Some(format!("{}: output is not text", f.path));
                        response.file.clear();
                        break;
                    }
                }
            }
        }
        Err(e) => response.error = Some(e.to_string()),
    }
    response.encode_to_vec()
}

fn respond(request: &[u8]) -> Result<Vec<crate::GeneratedFile>, Error> {
    let req = RawRequest::decode(request)
        .map_err(|e| Error::Descriptors(format!("malformed CodeGeneratorRequest: {e}")))?;
    let options = Options::parse(req.parameter.as_deref().unwrap_or(""))?;
    let mut set = Vec::new();
    for file in &req.proto_file {
        prost::encoding::bytes::encode(1, file, &mut set);
    }
    generate(&set, &req.file_to_generate, &options)
}
