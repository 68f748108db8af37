//! Fixed support code that the generated crate needs besides the proto types.

use crate::{GeneratedFile, emit::RUST_HEADER};

/// Support files and their templates.
const FILES: &[(&str, &str)] = &[
    // The stubs' protobuf codec (malformed input is INVALID_ARGUMENT).
    (
        "src/codec.rs",
        include_str!("../../templates/codec.rs.tmpl"),
    ),
    // Well-known types whose canonical JSON pbjson-types gets wrong.
    ("src/wkt.rs", include_str!("../../templates/wkt.rs.tmpl")),
];

/// Emits the support files. (The metadata table's types are not emitted: they
/// live in the `dotlanth-meta` crate, shared by every generated crate and the
/// runtime.)
pub fn emit() -> Vec<GeneratedFile> {
    FILES
        .iter()
        .map(|(path, body)| GeneratedFile::text(*path, format!("{RUST_HEADER}{body}")))
        .collect()
}

#[cfg(test)]
mod tests {
    /// The runtime decides what a path or query value can set from the list the
    /// generator validates with.
    #[test]
    fn scalar_json_wkts_agree_with_the_runtime() {
        assert_eq!(
            crate::registry::SCALAR_JSON_WKTS,
            dotlanth_meta::SCALAR_JSON_WKTS
        );
    }
}
