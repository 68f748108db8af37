//! Fixed support code that the generated crate needs besides the proto types.

use crate::{GeneratedFile, emit::RUST_HEADER};

/// `wkt.rs` (well-known types whose canonical JSON pbjson-types gets wrong) and
/// `meta.rs` (the types of the method metadata table).
pub fn emit() -> Vec<GeneratedFile> {
    vec![
        GeneratedFile::text(
            "src/wkt.rs",
            format!(
                "{RUST_HEADER}{}",
                include_str!("../../templates/wkt.rs.tmpl")
            ),
        ),
        GeneratedFile::text(
            "src/meta.rs",
            format!(
                "{RUST_HEADER}{}",
                include_str!("../../templates/meta.rs.tmpl")
            ),
        ),
    ]
}
