//! Fixed support code that the generated crate needs besides the proto types.

use crate::registry::SCALAR_JSON_WKTS;
use crate::{
    GeneratedFile,
    emit::{RUST_HEADER, lit},
};

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

/// Emits the support files. `meta.rs` also gets the generator's list of
/// well-known types with a scalar JSON form, so the runtime decides what a path or
/// query value can set from the same list the generator validates with.
pub fn emit() -> Vec<GeneratedFile> {
    FILES
        .iter()
        .map(|(path, body)| {
            let mut text = format!("{RUST_HEADER}{body}");
            if *path == "src/meta.rs" {
                text.push_str(&scalar_json_wkts());
            }
            GeneratedFile::text(*path, text)
        })
        .collect()
}

fn scalar_json_wkts() -> String {
    let mut out = String::from(
        "\n/// Well-known types whose proto3 JSON form is a string or a scalar: path and\n\
         /// query parameters can set them.\npub const SCALAR_JSON_WKTS: &[&str] = &[\n",
    );
    for name in SCALAR_JSON_WKTS {
        out.push_str(&format!("    {},\n", lit(name)));
    }
    out.push_str("];\n");
    out
}
