//! The encoded `FileDescriptorSet` served by gRPC reflection.
//!
//! It holds the generated files and everything they import, dependencies first,
//! with source info stripped (comments are for docs, not for reflection clients)
//! and extension options kept byte for byte. It is emitted as a Rust byte-string
//! literal so the output stays text (a protoc plugin can only return text).
//!
//! Compilers bundle different revisions of the well-known types, so a
//! `google/protobuf/*.proto` file comes from the generator's own copy (prost-reflect's
//! global pool: `any`, `api`, `compiler/plugin`, `descriptor`, `duration`, `empty`,
//! `field_mask`, `source_context`, `struct`, `timestamp`, `type`, `wrappers`) and
//! every driver emits the same bytes. A `google/protobuf/` file the generator does
//! not bundle (the editions feature files, say) can only come from the compiler,
//! whose copy may differ between drivers: it is used, but named in the generated
//! file's documentation, so the difference shows in review and in `gen --check`
//! instead of creeping in silently. The tests pin that our trees need no such file.

use crate::{GeneratedFile, emit::RUST_HEADER};
use prost::encoding::{WireType, decode_key, decode_varint};
use prost_reflect::{DescriptorPool, FileDescriptor};
use std::collections::BTreeSet;

/// Emits `src/descriptor_set.rs` defining `FILE_DESCRIPTOR_SET`.
pub fn emit(pool: &DescriptorPool, files: &[String]) -> Result<GeneratedFile, String> {
    let mut ordered = Vec::new();
    let mut seen = BTreeSet::new();
    for name in files {
        let file = pool
            .get_file_by_name(name)
            .ok_or_else(|| format!("{name}: not in the descriptor set"))?;
        visit(&file, &mut seen, &mut ordered);
    }
    let mut set = Vec::new();
    let mut from_compiler = Vec::new();
    for file in &ordered {
        let encoded = match source(file) {
            Source::Bundled(own) => own.encode_to_vec(),
            Source::Compiler => {
                if is_well_known(file.name()) {
                    from_compiler.push(file.name().to_string());
                }
                file.encode_to_vec()
            }
        };
        let bytes = strip_field(&encoded, SOURCE_CODE_INFO)?;
        prost::encoding::bytes::encode(1, &bytes, &mut set);
    }
    let mut code = String::from(RUST_HEADER);
    code.push_str(
        "/// Encoded `google.protobuf.FileDescriptorSet` of the API and its imports, for reflection.\n",
    );
    if !from_compiler.is_empty() {
        code.push_str(
            "///\n/// Well-known files the generator does not bundle, so taken from the compiler\n\
             /// (their bytes may differ between drivers):\n",
        );
        for name in &from_compiler {
            code.push_str(&format!("/// - `{name}`\n"));
        }
    }
    code.push_str("pub const FILE_DESCRIPTOR_SET: &[u8] = b\"\\\n");
    code.push_str(&byte_string_body(&set));
    code.push_str("\";\n");
    Ok(GeneratedFile::text("src/descriptor_set.rs", code))
}

/// Where the bytes of a file of the set come from.
enum Source {
    /// The generator's own copy of a well-known file.
    Bundled(FileDescriptor),
    /// The descriptor set the driver passed in.
    Compiler,
}

/// Whether a file is one of protobuf's well-known files.
fn is_well_known(name: &str) -> bool {
    name.starts_with("google/protobuf/")
}

/// The generator's own copy of a well-known file, if it bundles one.
pub fn bundled(name: &str) -> Option<FileDescriptor> {
    if is_well_known(name) {
        DescriptorPool::global().get_file_by_name(name)
    } else {
        None
    }
}

fn source(file: &FileDescriptor) -> Source {
    match bundled(file.name()) {
        Some(own) => Source::Bundled(own),
        // Not a well-known file, or one the generator does not bundle: see the
        // module documentation.
        None => Source::Compiler,
    }
}

/// `FileDescriptorProto.source_code_info`.
const SOURCE_CODE_INFO: u64 = 9;

/// Depth-first, dependencies before dependants, in name order.
fn visit(file: &FileDescriptor, seen: &mut BTreeSet<String>, out: &mut Vec<FileDescriptor>) {
    if !seen.insert(file.name().to_string()) {
        return;
    }
    let mut deps: Vec<FileDescriptor> = file.dependencies().collect();
    deps.sort_by(|a, b| a.name().cmp(b.name()));
    for dep in &deps {
        visit(dep, seen, out);
    }
    out.push(file.clone());
}

/// Copies an encoded message, leaving out every occurrence of one field.
fn strip_field(mut buf: &[u8], field: u64) -> Result<Vec<u8>, String> {
    let bad = |e: prost::DecodeError| format!("malformed descriptor: {e}");
    let mut out = Vec::with_capacity(buf.len());
    while !buf.is_empty() {
        let start = buf;
        let (tag, wire) = decode_key(&mut buf).map_err(bad)?;
        let len = match wire {
            WireType::Varint => {
                decode_varint(&mut buf).map_err(bad)?;
                0
            }
            WireType::SixtyFourBit => 8,
            WireType::ThirtyTwoBit => 4,
            WireType::LengthDelimited => decode_varint(&mut buf).map_err(bad)? as usize,
            WireType::StartGroup | WireType::EndGroup => {
                return Err("malformed descriptor: groups are not expected".into());
            }
        };
        if len > buf.len() {
            return Err("malformed descriptor: truncated field".into());
        }
        buf = &buf[len..];
        let consumed = start.len() - buf.len();
        if u64::from(tag) != field {
            out.extend_from_slice(&start[..consumed]);
        }
    }
    Ok(out)
}

/// The inside of a byte-string literal, wrapped at about 100 columns with `\`
/// continuations. Spaces are escaped because a continuation swallows leading
/// whitespace.
fn byte_string_body(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut col = 0;
    for &b in bytes {
        let piece = match b {
            b'"' => "\\\"".to_string(),
            b'\\' => "\\\\".to_string(),
            b'!'..=b'~' => (b as char).to_string(),
            _ => format!("\\x{b:02x}"),
        };
        col += piece.len();
        out.push_str(&piece);
        if col >= 100 {
            out.push_str("\\\n");
            col = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_field_keeps_everything_else() {
        let mut msg = Vec::new();
        prost::encoding::string::encode(1, &"a.proto".to_string(), &mut msg);
        prost::encoding::bytes::encode(9, &vec![1u8, 2, 3], &mut msg);
        prost::encoding::int32::encode(3, &7, &mut msg);
        let stripped = strip_field(&msg, 9).unwrap();
        let mut expected = Vec::new();
        prost::encoding::string::encode(1, &"a.proto".to_string(), &mut expected);
        prost::encoding::int32::encode(3, &7, &mut expected);
        assert_eq!(stripped, expected);
        assert!(strip_field(&[0x0a, 0x05, 0x01], 9).is_err());
    }

    #[test]
    fn the_generator_bundles_the_usual_well_known_files() {
        for name in [
            "google/protobuf/any.proto",
            "google/protobuf/descriptor.proto",
            "google/protobuf/duration.proto",
            "google/protobuf/empty.proto",
            "google/protobuf/field_mask.proto",
            "google/protobuf/struct.proto",
            "google/protobuf/timestamp.proto",
            "google/protobuf/wrappers.proto",
        ] {
            assert!(bundled(name).is_some(), "{name} is not bundled");
        }
        assert!(bundled("google/api/http.proto").is_none());
        assert!(bundled("google/protobuf/cpp_features.proto").is_none());
    }

    /// A `google/protobuf/` file the generator does not bundle keeps the
    /// compiler's bytes and is named in the output.
    #[test]
    fn unbundled_well_known_file_is_taken_from_the_compiler_and_named() {
        use prost_types::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};
        let file = FileDescriptorProto {
            name: Some("google/protobuf/not_bundled.proto".into()),
            package: Some("google.protobuf".into()),
            syntax: Some("proto3".into()),
            message_type: vec![DescriptorProto {
                name: Some("NotBundled".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let set = FileDescriptorSet {
            file: vec![file.clone()],
        };
        let pool = DescriptorPool::decode(prost::Message::encode_to_vec(&set).as_slice()).unwrap();
        let out = emit(&pool, &["google/protobuf/not_bundled.proto".into()]).unwrap();
        let text = String::from_utf8(out.contents).unwrap();
        assert!(
            text.contains("taken from the compiler")
                && text.contains("/// - `google/protobuf/not_bundled.proto`\n"),
            "{text}"
        );
        let mut literal = Vec::new();
        prost::encoding::bytes::encode(1, &prost::Message::encode_to_vec(&file), &mut literal);
        assert!(text.contains(&byte_string_body(&literal)), "{text}");
    }

    #[test]
    fn byte_string_round_trips_through_rustc_rules() {
        let body = byte_string_body(b"a \"b\"\\\x00\xff");
        assert_eq!(body, "a\\x20\\\"b\\\"\\\\\\x00\\xff");
    }
}
