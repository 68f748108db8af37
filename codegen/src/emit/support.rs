//! Fixed support code that the generated crate needs besides the proto types.

use crate::{GeneratedFile, emit::RUST_HEADER};

/// Support files and their templates.
const FILES: &[(&str, &str)] = &[
    // The stubs' protobuf codec (malformed input is INVALID_ARGUMENT).
    (
        "src/codec.rs",
        include_str!("../../templates/codec.rs.tmpl"),
    ),
    // The types of the method metadata table.
    ("src/meta.rs", include_str!("../../templates/meta.rs.tmpl")),
    // Well-known types whose canonical JSON pbjson-types gets wrong.
    ("src/wkt.rs", include_str!("../../templates/wkt.rs.tmpl")),
];

/// Emits the support files.
pub fn emit() -> Vec<GeneratedFile> {
    FILES
        .iter()
        .map(|(path, body)| GeneratedFile::text(*path, format!("{RUST_HEADER}{body}")))
        .collect()
}
