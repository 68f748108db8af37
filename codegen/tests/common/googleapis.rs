//! The googleapis trees of `google-proto-files` (installed in `tools/` by
//! `cargo xtask test`, or `$DOTLANTH_GOOGLEAPIS`), for the validator tests.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The root of `google-proto-files` (its `google/` folder inside).
pub fn root() -> PathBuf {
    let root = match std::env::var_os("DOTLANTH_GOOGLEAPIS") {
        Some(p) => PathBuf::from(p),
        None => workspace().join("tools/node_modules/google-proto-files"),
    };
    assert!(
        root.join("google/api/http.proto").is_file(),
        "{} does not hold google-proto-files: run `cargo xtask test` (it runs `npm ci` in tools/)",
        root.display()
    );
    root
}

/// Every folder under `google/` whose own `.proto` files mention
/// `google.api.http`, with those files (relative to the root), sorted.
pub fn annotated_packages(root: &Path) -> Vec<(String, Vec<String>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<String>)>) {
        let mut entries: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        let mut files = Vec::new();
        let mut annotated = false;
        for path in &entries {
            if path.is_dir() {
                walk(root, path, out);
            } else if path.extension().is_some_and(|e| e == "proto") {
                let text = fs::read_to_string(path).unwrap();
                annotated |= text.contains("(google.api.http)");
                let rel = path.strip_prefix(root).unwrap();
                files.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
        if annotated {
            let rel = dir.strip_prefix(root).unwrap();
            out.push((rel.to_string_lossy().replace('\\', "/"), files));
        }
    }
    let mut out = Vec::new();
    walk(root, &root.join("google"), &mut out);
    // The well-known types: the generator maps them, they are no API.
    out.retain(|(p, _)| p != "google/protobuf");
    out.sort();
    out
}

/// The files of one annotated package.
pub fn package_files(root: &Path, package: &str) -> Vec<String> {
    annotated_packages(root)
        .into_iter()
        .find(|(p, _)| p == package)
        .unwrap_or_else(|| panic!("{package} not in google-proto-files"))
        .1
}

/// protox over `root`, well-known types from protox itself (as `cargo xtask gen`).
pub fn compile(root: &Path, files: &[String]) -> Result<Vec<u8>, String> {
    let mut resolver = protox::file::ChainFileResolver::new();
    resolver.add(protox::file::GoogleFileResolver::new());
    resolver.add(protox::file::IncludeFileResolver::new(root.to_path_buf()));
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(files).map_err(|e| e.to_string())?;
    Ok(compiler.encode_file_descriptor_set())
}

/// The services the echo harness's real-world test serves.
pub const SELECTED: &[&str] = &[
    "google/pubsub/v1",
    "google/cloud/tasks/v2",
    "google/cloud/secretmanager/v1",
    "google/longrunning",
    "google/cloud/run/v2",
];

/// The test virtualenv's Python (`$DOTLANTH_PYTHON`, else `.venv/bin/python`).
pub fn python() -> PathBuf {
    match std::env::var_os("DOTLANTH_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => workspace().join(".venv/bin/python"),
    }
}

/// GraphQL schemas against `graphql-core` (`build_schema` + `validate_schema`).
/// All in one Python run; panics with the problems of each failing file.
pub fn validate_graphql(schemas: &[PathBuf]) {
    assert!(!schemas.is_empty());
    let script = "\
import sys
from graphql import build_schema, validate_schema
failed = 0
for path in sys.argv[1:]:
    try:
        errors = [e.message for e in validate_schema(build_schema(open(path).read()))]
    except Exception as e:
        errors = [str(e)]
    if errors:
        failed += 1
        print(path + ':\\n  ' + '\\n  '.join(errors))
sys.exit(1 if failed else 0)
";
    let python = python();
    assert!(
        python.is_file(),
        "{} not found: run `cargo xtask test`",
        python.display()
    );
    let out = Command::new(&python)
        .arg("-c")
        .arg(script)
        .args(schemas)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "graphql-core rejects schemas:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
