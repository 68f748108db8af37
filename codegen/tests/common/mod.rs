//! Helpers shared by the integration tests: compile proto sources with protox
//! and run the generator on them.

#![allow(dead_code)]

pub mod googleapis;

use dotlanth_codegen::{Diagnostic, Error, GeneratedFile, Options, model::Api};
use prost_reflect::DescriptorPool;
use std::fs;
use std::path::{Path, PathBuf};

/// The repository's proto tree (vendored `google/api` and our annotations).
pub fn repo_protos() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto")
}

/// The test-only proto tree (`tests/protos`).
pub fn test_protos() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/protos")
}

/// An encoded descriptor set and the names of the files to generate.
pub struct Compiled {
    pub set: Vec<u8>,
    pub files: Vec<String>,
}

/// Writes `sources` (`(relative name, text)`) to a temporary directory and
/// compiles them with protox; the repository's proto tree is a second include
/// path, for `google/api/*.proto` and `dotlanth/api/v1/annotations.proto`.
pub fn compile_sources(sources: &[(&str, &str)]) -> Compiled {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in sources {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
    }
    let files: Vec<String> = sources.iter().map(|(n, _)| n.to_string()).collect();
    let set = compile(&[dir.path().to_path_buf(), repo_protos()], &files);
    Compiled { set, files }
}

/// Compiles `files` found under the include paths, as `cargo xtask gen` does.
pub fn compile(includes: &[PathBuf], files: &[String]) -> Vec<u8> {
    let mut compiler = protox::Compiler::new(includes).expect("protox compiler");
    compiler.include_imports(true).include_source_info(true);
    compiler
        .open_files(files)
        .unwrap_or_else(|e| panic!("protox: {e}"));
    compiler.encode_file_descriptor_set()
}

/// Every `.proto` under `dir` except vendored `google/` files, relative and sorted
/// (the file selection of `cargo xtask gen`).
pub fn proto_files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).unwrap();
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.retain(|f| f.ends_with(".proto") && !f.starts_with("google/"));
    out.sort();
    out
}

/// Compiles a whole proto tree the way `cargo xtask gen --protos DIR` does.
pub fn compile_tree(dir: &Path) -> Compiled {
    let files = proto_files(dir);
    let set = compile(&[dir.to_path_buf()], &files);
    Compiled { set, files }
}

/// Runs the generator.
pub fn generate(c: &Compiled) -> Result<Vec<GeneratedFile>, Error> {
    dotlanth_codegen::generate(&c.set, &c.files, &Options::default())
}

/// Runs the generator on sources that must be rejected and returns every diagnostic.
pub fn diagnostics(sources: &[(&str, &str)]) -> Vec<Diagnostic> {
    match generate(&compile_sources(sources)) {
        Err(Error::Invalid(diags)) => {
            assert!(!diags.is_empty(), "Error::Invalid without diagnostics");
            diags
        }
        Err(e) => panic!("expected diagnostics, got another error: {e}"),
        Ok(_) => panic!("expected diagnostics, but generation succeeded"),
    }
}

/// Builds the model of sources that must be valid (and checks that the full
/// generator accepts them too).
pub fn model(sources: &[(&str, &str)]) -> Api {
    let c = compile_sources(sources);
    let pool = DescriptorPool::decode(c.set.as_slice()).expect("descriptor set");
    let api = dotlanth_codegen::registry::build(&pool, &c.files).unwrap_or_else(|diags| {
        let list: Vec<String> = diags.iter().map(ToString::to_string).collect();
        panic!("unexpected diagnostics:\n  {}", list.join("\n  "))
    });
    if let Err(e) = generate(&c) {
        panic!("generation failed: {e}");
    }
    api
}
