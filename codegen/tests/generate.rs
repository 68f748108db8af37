//! Determinism and generality of the whole generator: the repository's proto
//! tree and a second, test-only tree (`tests/protos`, an example library API).

mod common;

use common::{Compiled, compile_tree, generate, repo_protos, test_protos};
use dotlanth_codegen::GeneratedFile;
use dotlanth_codegen::emit::RUST_HEADER;
use prost::Message;
use std::collections::BTreeMap;

/// A `FileDescriptorSet` with its files kept encoded, so reordering them keeps
/// every extension option byte for byte.
#[derive(Clone, PartialEq, Message)]
struct RawSet {
    #[prost(bytes = "vec", repeated, tag = "1")]
    file: Vec<Vec<u8>>,
}

fn reorder(c: &Compiled, order: impl Fn(&mut Vec<Vec<u8>>)) -> Compiled {
    let mut raw = RawSet::decode(c.set.as_slice()).unwrap();
    order(&mut raw.file);
    Compiled {
        set: raw.encode_to_vec(),
        files: c.files.clone(),
    }
}

/// A fixed pseudo-random permutation (no dependency on a RNG crate).
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let j = (seed >> 33) as usize % (i + 1);
        v.swap(i, j);
    }
}

fn ok(c: &Compiled) -> Vec<GeneratedFile> {
    generate(c).unwrap_or_else(|e| panic!("{e}"))
}

fn text(files: &[GeneratedFile], path: &str) -> String {
    let f = files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} not generated"));
    String::from_utf8(f.contents.clone()).unwrap()
}

fn paths(files: &[GeneratedFile]) -> Vec<&str> {
    files.iter().map(|f| f.path.as_str()).collect()
}

/// Asserts two runs wrote the same files, naming the first that differs.
fn assert_same(a: &[GeneratedFile], b: &[GeneratedFile], what: &str) {
    assert_eq!(paths(a), paths(b), "{what}: different file lists");
    for (x, y) in a.iter().zip(b) {
        assert!(x.contents == y.contents, "{what}: {} differs", x.path);
    }
}

/// Asserts the generated crate's layout: the manifest, the fixed modules, and a
/// `src/<pkg>.rs` / `src/<pkg>.serde.rs` pair for exactly these packages.
fn assert_layout(files: &[GeneratedFile], packages: &[&str]) {
    let paths = paths(files);
    let mut expected: Vec<String> = [
        "Cargo.toml",
        "src/codec.rs",
        "src/descriptor_set.rs",
        "src/lib.rs",
        "src/methods.rs",
        "src/wkt.rs",
    ]
    .map(String::from)
    .to_vec();
    for p in packages {
        expected.push(format!("src/{p}.rs"));
        expected.push(format!("src/{p}.serde.rs"));
    }
    for e in &expected {
        assert!(paths.contains(&e.as_str()), "{e} not generated: {paths:?}");
    }
    let serde: Vec<&str> = paths
        .iter()
        .filter_map(|p| p.strip_prefix("src/")?.strip_suffix(".serde.rs"))
        .collect();
    assert_eq!(serde, packages, "packages with code");
    // The table's types come from `dotlanth-meta`; the crate exports one `API` value.
    assert!(!paths.contains(&"src/meta.rs"));
    let lib = files.iter().find(|f| f.path == "src/lib.rs").unwrap();
    let lib = String::from_utf8_lossy(&lib.contents);
    assert!(lib.contains("pub use dotlanth_meta as meta;"), "{lib}");
    assert!(
        lib.contains("pub static API: meta::Api = meta::Api {"),
        "{lib}"
    );
    let mut sorted = paths.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(paths, sorted, "sorted by path, no duplicates");
}

fn assert_headers(files: &[GeneratedFile]) {
    let header_line = RUST_HEADER.lines().next().unwrap();
    assert!(header_line.contains("@generated"));
    for f in files {
        let text = String::from_utf8(f.contents.clone()).unwrap();
        let first = text.lines().next().unwrap_or_default();
        if f.path.ends_with(".rs") {
            assert_eq!(first, header_line, "{}", f.path);
        } else {
            assert!(first.contains("@generated"), "{}: {first}", f.path);
        }
    }
}

// ----------------------------------------------------------------------------
// Determinism.

#[test]
fn generating_twice_gives_identical_output() {
    let c = compile_tree(&repo_protos());
    assert_same(&ok(&c), &ok(&c), "second run");
    // A fresh compilation too.
    assert_same(&ok(&c), &ok(&compile_tree(&repo_protos())), "recompiled");
}

#[test]
fn file_order_in_the_descriptor_set_does_not_matter() {
    for tree in [repo_protos(), test_protos()] {
        let c = compile_tree(&tree);
        let base = ok(&c);
        let reversed = reorder(&c, |f| f.reverse());
        assert_same(&base, &ok(&reversed), "reversed descriptor set");
        for seed in [1, 42] {
            let shuffled = reorder(&c, |f| shuffle(f, seed));
            assert_same(&base, &ok(&shuffled), "shuffled descriptor set");
        }
        let mut files = c.files.clone();
        files.reverse();
        let swapped = Compiled {
            set: c.set.clone(),
            files,
        };
        assert_same(&base, &ok(&swapped), "reversed files to generate");
    }
}

#[test]
fn protoc_plugin_writes_the_same_bytes() {
    use prost_types::compiler::CodeGeneratorResponse;
    for tree in [repo_protos(), test_protos()] {
        let c = compile_tree(&tree);
        let base = ok(&c);
        // A CodeGeneratorRequest: file_to_generate (1), proto_file (15).
        let mut request = Vec::new();
        for f in &c.files {
            prost::encoding::string::encode(1, f, &mut request);
        }
        for f in RawSet::decode(c.set.as_slice()).unwrap().file {
            prost::encoding::bytes::encode(15, &f, &mut request);
        }
        let response =
            CodeGeneratorResponse::decode(dotlanth_codegen::plugin::run(&request).as_slice())
                .unwrap();
        assert_eq!(response.error, None);
        let got: Vec<GeneratedFile> = response
            .file
            .into_iter()
            .map(|f| GeneratedFile::text(f.name(), f.content()))
            .collect();
        assert_same(&base, &got, "protoc plugin");
    }
}

// ----------------------------------------------------------------------------
// Layout.

#[test]
fn repository_tree_layout_and_headers() {
    let files = ok(&compile_tree(&repo_protos()));
    assert_layout(
        &files,
        &[
            "dotlanth.api.v1",
            "dotlanth.monitoring.v1",
            "dotlanth.runtime.v1",
            "dotlanth.vm.v1",
        ],
    );
    assert_headers(&files);
    let lib = text(&files, "src/lib.rs");
    assert!(lib.contains("pub mod dotlanth {"), "{lib}");
    assert!(lib.contains("include!(\"dotlanth.vm.v1.rs\");"), "{lib}");
    assert!(
        lib.contains("include!(\"dotlanth.vm.v1.serde.rs\");"),
        "{lib}"
    );
}

#[test]
fn crate_name_option_reaches_the_manifest() {
    let c = compile_tree(&test_protos());
    let options = dotlanth_codegen::Options {
        crate_name: "library-api".into(),
        ..Default::default()
    };
    let files = dotlanth_codegen::generate(&c.set, &c.files, &options).unwrap();
    let manifest = text(&files, "Cargo.toml");
    assert!(manifest.contains("name = \"library-api\""), "{manifest}");
}

// ----------------------------------------------------------------------------
// The example library tree.

/// One `MethodInfo` of `src/methods.rs`: its scalar fields and its HTTP bindings.
#[derive(Debug, Default)]
struct Row {
    fields: BTreeMap<String, String>,
    http: Vec<BTreeMap<String, String>>,
}

/// Reads the METHODS table back out of the generated source (8-space indented
/// lines are `MethodInfo` fields, 16-space ones `HttpBinding` fields).
fn methods_table(src: &str) -> Vec<Row> {
    let table = src
        .split("pub static METHODS: &[MethodInfo] = &[")
        .nth(1)
        .and_then(|rest| rest.split("\n];").next())
        .expect("METHODS table");
    let mut rows = Vec::new();
    for line in table.lines() {
        if line == "    MethodInfo {" {
            rows.push(Row::default());
        } else if line == "            HttpBinding {" {
            rows.last_mut().unwrap().http.push(BTreeMap::new());
        } else if let Some((key, value)) = line.trim().split_once(": ") {
            let value = value.trim_end_matches(',').to_string();
            let row = rows.last_mut().unwrap();
            if line.starts_with(&" ".repeat(16)) {
                row.http.last_mut().unwrap().insert(key.into(), value);
            } else if line.starts_with(&" ".repeat(8)) {
                row.fields.insert(key.into(), value);
            }
        }
    }
    rows
}

fn q(s: &str) -> String {
    format!("{s:?}")
}

#[test]
fn library_tree_generates() {
    let c = compile_tree(&test_protos());
    assert_eq!(
        c.files,
        [
            "dotlanth/api/v1/annotations.proto",
            "library/v1/library.proto",
            "library/v1/resources.proto",
        ]
    );
    let files = ok(&c);
    assert_layout(&files, &["dotlanth.api.v1", "example.library.v1"]);
    assert_headers(&files);

    let lib = text(&files, "src/lib.rs");
    assert!(lib.contains("pub mod example {"), "{lib}");
    assert!(
        lib.contains("include!(\"example.library.v1.rs\");"),
        "{lib}"
    );
    assert!(lib.contains("//! `library/v1/library.proto`,"), "{lib}");

    let types = text(&files, "src/example.library.v1.rs");
    for needle in [
        "pub struct Book {",
        "pub enum Genre {",
        "pub mod paperback {",
        "pub enum Format {",
        "::std::collections::HashMap<",
        "::core::option::Option<crate::wkt::Timestamp>",
        "::core::option::Option<::pbjson_types::Duration>",
        "::core::option::Option<::pbjson_types::Struct>",
        "::core::option::Option<::pbjson_types::FieldMask>",
        "::core::option::Option<::pbjson_types::Int64Value>",
        "::core::option::Option<::pbjson_types::StringValue>",
        "pub edition: ::core::option::Option<i32>,",
        "pub mod library_service_client {",
        "pub mod library_service_server {",
        "/// A book on a shelf.",
    ] {
        assert!(
            types.contains(needle),
            "`{needle}` not in example.library.v1.rs"
        );
    }
    let serde = text(&files, "src/example.library.v1.serde.rs");
    for needle in [
        "impl serde::Serialize for Book",
        "\"createTime\"",
        "\"GENRE_FICTION\"",
    ] {
        assert!(
            serde.contains(needle),
            "`{needle}` not in example.library.v1.serde.rs"
        );
    }
    assert!(!serde.contains("impl serde::Serialize for AuthRule"));

    // The reflection descriptor set: the generated files and all their imports,
    // dependencies first, without source info.
    let set = prost_types::FileDescriptorSet::decode(
        descriptor_bytes(&text(&files, "src/descriptor_set.rs")).as_slice(),
    )
    .unwrap();
    let names: Vec<&str> = set.file.iter().map(|f| f.name()).collect();
    for name in [
        "dotlanth/api/v1/annotations.proto",
        "google/api/annotations.proto",
        "google/api/field_behavior.proto",
        "google/api/http.proto",
        "google/protobuf/descriptor.proto",
        "google/protobuf/duration.proto",
        "google/protobuf/empty.proto",
        "google/protobuf/field_mask.proto",
        "google/protobuf/struct.proto",
        "google/protobuf/timestamp.proto",
        "google/protobuf/wrappers.proto",
        "library/v1/library.proto",
        "library/v1/resources.proto",
    ] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
    assert_eq!(names.len(), 13, "{names:?}");
    for (i, f) in set.file.iter().enumerate() {
        assert!(
            f.source_code_info.is_none(),
            "{} keeps source info",
            f.name()
        );
        for dep in &f.dependency {
            let at = names.iter().position(|n| n == dep).unwrap();
            assert!(at < i, "{} comes before its dependency {dep}", f.name());
        }
    }
}

/// Every `google/protobuf/` file our trees import is one the generator bundles, so
/// its bytes in the reflection set never depend on the driver's compiler (the
/// emitter would fall back to the compiler's copy, and name it, otherwise).
#[test]
fn well_known_files_come_from_the_generator() {
    for tree in [repo_protos(), test_protos()] {
        let files = ok(&compile_tree(&tree));
        let src = text(&files, "src/descriptor_set.rs");
        assert!(
            !src.contains("taken from the compiler"),
            "{}: a well-known file is not bundled",
            tree.display()
        );
        let set =
            prost_types::FileDescriptorSet::decode(descriptor_bytes(&src).as_slice()).unwrap();
        let mut well_known = 0;
        for f in set
            .file
            .iter()
            .filter(|f| f.name().starts_with("google/protobuf/"))
        {
            well_known += 1;
            let own = dotlanth_codegen::emit::descriptor::bundled(f.name())
                .unwrap_or_else(|| panic!("{} is not bundled with the generator", f.name()));
            let mut own = own.file_descriptor_proto().clone();
            own.source_code_info = None;
            assert_eq!(f, &own, "{} is not the generator's copy", f.name());
        }
        assert!(well_known > 0, "{}: no well-known file", tree.display());
    }
}

/// The bytes of the `FILE_DESCRIPTOR_SET` byte-string literal.
fn descriptor_bytes(src: &str) -> Vec<u8> {
    let body = src
        .split("b\"\\\n")
        .nth(1)
        .and_then(|rest| rest.rsplit_once("\";"))
        .expect("byte-string literal")
        .0;
    let mut out = Vec::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c as u8);
            continue;
        }
        match chars.next() {
            Some('\n') => {}
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&hex, 16).unwrap());
            }
            Some(c @ ('"' | '\\')) => out.push(c as u8),
            other => panic!("unexpected escape {other:?}"),
        }
    }
    out
}

#[test]
fn library_methods_table() {
    let files = ok(&compile_tree(&test_protos()));
    let src = text(&files, "src/methods.rs");
    let rows = methods_table(&src);

    let grpc: Vec<&str> = rows
        .iter()
        .map(|r| r.fields["grpc_path"].as_str())
        .collect();
    let mut sorted = grpc.clone();
    sorted.sort();
    assert_eq!(grpc, sorted, "table sorted by gRPC path");
    assert_eq!(rows.len(), 12);

    let row = |name: &str| {
        rows.iter()
            .find(|r| r.fields["method"] == q(name))
            .unwrap_or_else(|| panic!("{name} not in the table"))
    };
    let bindings = |name: &str| -> Vec<[String; 4]> {
        row(name)
            .http
            .iter()
            .map(|h| {
                [
                    h["method"].clone(),
                    h["path"].clone(),
                    h["body"].clone(),
                    h["response_body"].clone(),
                ]
            })
            .collect()
    };
    let b = |m: &str, p: &str, body: &str, resp: &str| [q(m), q(p), q(body), q(resp)];

    assert_eq!(
        bindings("CreateShelf"),
        [b("POST", "/v1/shelves", "shelf", "")]
    );
    assert_eq!(
        bindings("GetShelf"),
        [b("GET", "/v1/{name=shelves/*}", "", "")]
    );
    assert_eq!(bindings("ListShelves"), [b("GET", "/v1/shelves", "", "")]);
    assert_eq!(
        bindings("DeleteShelf"),
        [b("DELETE", "/v1/{name=shelves/*}", "", "")]
    );
    assert_eq!(
        bindings("CreateBook"),
        [b("POST", "/v1/{parent=shelves/*}/books", "book", "")]
    );
    assert_eq!(
        bindings("GetBook"),
        [
            b("GET", "/v1/{name=shelves/*/books/*}", "", ""),
            b("GET", "/v1/{name=authors/*/books/*}", "", ""),
        ]
    );
    assert_eq!(
        bindings("UpdateBook"),
        [
            b("PATCH", "/v1/{book.name=shelves/*/books/*}", "book", ""),
            b("PUT", "/v1/{book.name=shelves/*/books/*}", "*", ""),
        ]
    );
    assert_eq!(
        bindings("PublishBook"),
        [b("POST", "/v1/{name=shelves/*/books/*}:publish", "*", "")]
    );
    assert_eq!(
        bindings("GetBookCover"),
        [b("GET", "/v1/{name=shelves/*/books/*}/cover", "", "image")]
    );
    assert_eq!(
        bindings("GetArchiveFile"),
        [b("GET", "/v1/{path=archive/**}", "", "")]
    );
    assert_eq!(
        bindings("WatchShelf"),
        [b("GET", "/v1/{name=shelves/*}:watch", "", "")]
    );
    assert!(bindings("ImportBooks").is_empty());

    let field = |name: &str, key: &str| row(name).fields[key].clone();
    assert_eq!(
        field("GetBook", "grpc_path"),
        q("/example.library.v1.LibraryService/GetBook")
    );
    assert_eq!(
        field("GetBook", "service"),
        q("example.library.v1.LibraryService")
    );
    assert_eq!(
        field("GetBook", "input_type"),
        q("example.library.v1.GetBookRequest")
    );
    assert_eq!(
        field("GetBook", "output_type"),
        q("example.library.v1.Book")
    );
    assert_eq!(
        field("DeleteShelf", "output_type"),
        q("google.protobuf.Empty")
    );

    // Auth: the option, or the secure default.
    assert_eq!(field("GetShelf", "public"), "true");
    assert_eq!(field("GetShelf", "scopes"), "&[]");
    assert_eq!(field("ListShelves", "public"), "false");
    assert_eq!(field("ListShelves", "scopes"), "&[]");
    assert_eq!(
        field("UpdateBook", "scopes"),
        "&[\"library.read\", \"library.write\"]"
    );

    // Kinds, idempotency and GraphQL placement.
    assert_eq!(field("WatchShelf", "kind"), "MethodKind::ServerStreaming");
    assert_eq!(
        field("WatchShelf", "graphql"),
        "GraphqlPlacement::Subscription"
    );
    assert_eq!(field("ImportBooks", "kind"), "MethodKind::ClientStreaming");
    assert_eq!(field("ImportBooks", "graphql"), "GraphqlPlacement::Hidden");
    assert_eq!(
        field("GetShelf", "idempotency"),
        "Idempotency::NoSideEffects"
    );
    assert_eq!(
        field("DeleteShelf", "idempotency"),
        "Idempotency::Idempotent"
    );
    assert_eq!(field("GetBook", "graphql"), "GraphqlPlacement::Query");
    assert_eq!(field("ListShelves", "graphql"), "GraphqlPlacement::Query");
    assert_eq!(
        field("CreateShelf", "graphql"),
        "GraphqlPlacement::Mutation"
    );
    assert_eq!(
        field("DeleteShelf", "graphql"),
        "GraphqlPlacement::Mutation"
    );

    assert!(src.contains(
        "pub const SERVICES: &[&str] = &[\n    \"example.library.v1.LibraryService\",\n];"
    ));
}

// ----------------------------------------------------------------------------
// Package shapes.

fn serde_impls(files: &[GeneratedFile], package: &str) -> Vec<String> {
    text(files, &format!("src/{package}.serde.rs"))
        .lines()
        .filter_map(|l| l.strip_prefix("impl serde::Serialize for "))
        .map(|l| l.trim_end_matches(" {").to_string())
        .collect()
}

#[test]
fn nested_and_keyword_packages() {
    let c = common::compile_sources(&[
        (
            "t/v1/a.proto",
            "syntax = \"proto3\";\npackage t.v1;\nimport \"t/v1/sub/b.proto\";\nimport \"t/type/c.proto\";\n\
             message A { t.v1.sub.B b = 1; t.type.C c = 2; t.type.Kind k = 3; }\n",
        ),
        (
            "t/v1/sub/b.proto",
            "syntax = \"proto3\";\npackage t.v1.sub;\nmessage B { string x = 1; }\n",
        ),
        (
            "t/type/c.proto",
            "syntax = \"proto3\";\npackage t.type;\n\
             message C { string x = 1; message Match { int32 y = 1; } Match m = 2; }\n\
             enum Kind { KIND_UNSPECIFIED = 0; KIND_A = 1; }\n",
        ),
    ]);
    let files = ok(&c);
    assert_layout(&files, &["t.type", "t.v1", "t.v1.sub"]);
    // `a.b` does not take the JSON impls of `a.b.c`; a keyword package (`type`)
    // keeps its own.
    assert_eq!(serde_impls(&files, "t.v1"), ["A"]);
    assert_eq!(serde_impls(&files, "t.v1.sub"), ["B"]);
    assert_eq!(serde_impls(&files, "t.type"), ["C", "c::Match", "Kind"]);
    let lib = text(&files, "src/lib.rs");
    let expected = "pub mod t {
    pub mod r#type {
        include!(\"t.type.rs\");
        include!(\"t.type.serde.rs\");
    }

    pub mod v1 {
        include!(\"t.v1.rs\");
        include!(\"t.v1.serde.rs\");

        pub mod sub {
            include!(\"t.v1.sub.rs\");
            include!(\"t.v1.sub.serde.rs\");
        }
    }
}
";
    assert!(lib.ends_with(expected), "{lib}");
}

#[test]
fn methods_table_imports_only_what_it_uses() {
    let import = |sources: &[(&str, &str)]| {
        let files = ok(&common::compile_sources(sources));
        text(&files, "src/methods.rs")
            .lines()
            .find(|l| l.starts_with("use "))
            .unwrap()
            .to_string()
    };
    let header = "syntax = \"proto3\";\npackage t.v1;\nimport \"google/api/annotations.proto\";\nmessage M {}\n";
    assert_eq!(
        import(&[("t/v1/a.proto", header)]),
        "use crate::meta::MethodInfo;"
    );
    assert_eq!(
        import(&[(
            "t/v1/a.proto",
            &format!("{header}service S {{ rpc Do(M) returns (M); }}\n")
        )]),
        "use crate::meta::{GraphqlPlacement, Idempotency, MethodInfo, MethodKind};"
    );
    assert_eq!(
        import(&[(
            "t/v1/a.proto",
            &format!(
                "{header}service S {{ rpc Do(M) returns (M) {{ option (google.api.http) = {{ post: \"/v1/do\" }}; }} }}\n"
            )
        )]),
        "use crate::meta::{GraphqlPlacement, HttpBinding, Idempotency, MethodInfo, MethodKind, PathSegment};"
    );
}
