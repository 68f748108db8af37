//! The generated crate's manifest and root module.

use crate::emit::{RUST_HEADER, docs, graphql, openapi, rust_types::module_parts};
use crate::model::Api;
use crate::{GeneratedFile, Options};
use askama::Template;
use std::collections::BTreeMap;

/// The manifest. `crate_name` is a validated package name ([`Options::validate`]),
/// so it needs no TOML escaping.
#[derive(Template)]
#[template(path = "Cargo.toml.tmpl", escape = "none")]
struct CargoToml<'a> {
    crate_name: &'a str,
}

/// Emits `Cargo.toml` and `src/lib.rs`.
pub fn emit(
    api: &Api,
    options: &Options,
    packages_with_code: &[String],
) -> Result<Vec<GeneratedFile>, String> {
    let manifest = CargoToml {
        crate_name: &options.crate_name,
    }
    .render()
    .map_err(|e| format!("Cargo.toml template: {e}"))?;

    let mut tree = Node::default();
    for package in packages_with_code {
        let mut node = &mut tree;
        for part in module_parts(package) {
            node = node.children.entry(part).or_default();
        }
        node.packages.push(package.clone());
    }
    let mut lib = String::from(RUST_HEADER);
    lib.push_str(
        "//! Types, gRPC stubs, metadata and descriptors generated from the proto files:\n",
    );
    for file in &api.files {
        lib.push_str(&format!("//! `{file}`,\n"));
    }
    lib.push_str(
        "//! by `cargo xtask gen` (or `buf generate` with `protoc-gen-dotlanth`).\n\
         #![allow(clippy::all, clippy::pedantic, rustdoc::all, missing_docs)]\n\n\
         #[rustfmt::skip]\npub mod codec;\npub use dotlanth_meta as meta;\n#[rustfmt::skip]\npub mod methods;\n#[rustfmt::skip]\npub mod wkt;\n\n\
         #[rustfmt::skip]\nmod descriptor_set;\npub use descriptor_set::FILE_DESCRIPTOR_SET;\n",
    );
    lib.push_str(&format!(
        "\n/// The REST surface as an OpenAPI document (JSON), `{json}` in this crate.\n\
         pub const OPENAPI_JSON: &str = include_str!(\"../{json}\");\n\
         /// The same OpenAPI document as YAML, `{yaml}` in this crate.\n\
         pub const OPENAPI_YAML: &str = include_str!(\"../{yaml}\");\n\
         /// The HTML API reference (one self-contained page), `{docs}` in this crate.\n\
         pub const DOCS_HTML: &str = include_str!(\"../{docs}\");\n\
         /// The GraphQL schema (SDL), `{graphql}` in this crate.\n\
         pub const GRAPHQL_SDL: &str = include_str!(\"../{graphql}\");\n\n\
         /// Everything this crate exports for serving, as one value (`dotlanth-runtime`\n\
         /// serves any such value).\n\
         pub static API: meta::Api = meta::Api {{\n\
         \x20   crate_name: \"{crate_name}\",\n\
         \x20   methods: methods::METHODS,\n\
         \x20   services: methods::SERVICES,\n\
         \x20   file_descriptor_set: FILE_DESCRIPTOR_SET,\n\
         \x20   openapi_json: OPENAPI_JSON,\n\
         \x20   openapi_yaml: OPENAPI_YAML,\n\
         \x20   docs_html: DOCS_HTML,\n\
         \x20   graphql_sdl: GRAPHQL_SDL,\n\
         }};\n",
        crate_name = options.crate_name,
        json = openapi::JSON_PATH,
        yaml = openapi::YAML_PATH,
        docs = docs::PATH,
        graphql = graphql::PATH,
    ));
    lib.push('\n');
    write_tree(&tree, 0, &mut lib);
    Ok(vec![
        // askama drops the template's final newline.
        GeneratedFile::text("Cargo.toml", format!("{manifest}\n")),
        GeneratedFile::text("src/lib.rs", lib),
    ])
}

#[derive(Default)]
struct Node {
    packages: Vec<String>,
    children: BTreeMap<String, Node>,
}

fn write_tree(node: &Node, depth: usize, out: &mut String) {
    let indent = "    ".repeat(depth);
    for package in &node.packages {
        out.push_str(&format!(
            "{indent}include!(\"{package}.rs\");\n{indent}include!(\"{package}.serde.rs\");\n"
        ));
    }
    for (i, (name, child)) in node.children.iter().enumerate() {
        if i > 0 || !node.packages.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("{indent}pub mod {name} {{\n"));
        write_tree(child, depth + 1, out);
        out.push_str(&format!("{indent}}}\n"));
    }
}
