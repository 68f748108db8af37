//! The GraphQL schemas against a validator we did not write (`graphql-core`'s
//! `build_schema` + `validate_schema`, from the test virtualenv): the checked-in
//! ones, and those of googleapis packages (`google-proto-files`), generated in
//! memory: the services the echo harness serves, and every package with
//! `google.api.http` annotations that generates.

mod common;

use common::googleapis::{
    SELECTED, annotated_packages, compile, package_files, python, root as googleapis, workspace,
};
use dotlanth_codegen::emit::graphql::PATH;
use dotlanth_codegen::{Error, Options};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Parses and validates every schema in one Python run; panics with the
/// problems of each failing file.
fn validate(schemas: &[PathBuf]) {
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

/// Generates `files` of `root` and returns the SDL, or the refusal (whose
/// diagnostics must name a proto file).
fn generate(root: &Path, files: &[String]) -> Result<Vec<u8>, String> {
    let set = compile(root, files).map_err(|e| format!("does not compile: {e}"))?;
    let options = Options::new("real-world").unwrap();
    match dotlanth_codegen::generate(&set, files, &options) {
        Ok(out) => Ok(out.into_iter().find(|f| f.path == PATH).unwrap().contents),
        Err(Error::Invalid(diags)) => {
            for d in &diags {
                assert!(
                    d.to_string().contains(".proto"),
                    "a diagnostic must name its file: {d}"
                );
            }
            Err(diags
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "))
        }
        Err(e) => panic!("{files:?}: generation failed without a diagnostic: {e}"),
    }
}

#[test]
fn checked_in_schemas_validate() {
    let schemas: Vec<PathBuf> = ["generated", "tests/library-api", "tests/conformance-api"]
        .iter()
        .map(|c| workspace().join(c).join(PATH))
        .collect();
    validate(&schemas);
}

#[test]
fn selected_googleapis_schemas_validate() {
    let root = googleapis();
    let out = tempfile::tempdir().unwrap();
    let mut schemas = Vec::new();
    for package in SELECTED {
        let sdl = generate(&root, &package_files(&root, package))
            .unwrap_or_else(|e| panic!("{package}: {e}"));
        let path = out
            .path()
            .join(format!("{}.graphql", package.replace('/', "_")));
        fs::write(&path, sdl).unwrap();
        schemas.push(path);
    }
    validate(&schemas);
}

/// Every annotated googleapis package `i % of == shard` either generates a
/// valid schema or is refused with diagnostics naming files; most generate.
/// Two shards run on two test threads.
fn sweep(shard: usize, of: usize) {
    let root = googleapis();
    let packages: Vec<_> = annotated_packages(&root)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % of == shard)
        .collect();
    assert!(packages.len() > 50, "only {} packages", packages.len());
    let out = tempfile::tempdir().unwrap();
    let mut schemas = Vec::new();
    let mut refused = Vec::new();
    for (i, (package, files)) in &packages {
        match generate(&root, files) {
            Ok(sdl) => {
                let path = out
                    .path()
                    .join(format!("{i}-{}.graphql", package.replace('/', "_")));
                fs::write(&path, sdl).unwrap();
                schemas.push(path);
            }
            Err(e) => refused.push(format!("{package}: {e}")),
        }
    }
    eprintln!(
        "shard {shard}/{of}: {} annotated packages, {} generated, {} refused",
        packages.len(),
        schemas.len(),
        refused.len()
    );
    for r in &refused {
        eprintln!("  refused: {r}");
    }
    assert!(
        refused.len() * 10 <= packages.len(),
        "too many packages refused:\n{}",
        refused.join("\n")
    );
    validate(&schemas);
}

#[test]
fn googleapis_schemas_validate_or_name_their_problem_shard_0() {
    sweep(0, 2);
}

#[test]
fn googleapis_schemas_validate_or_name_their_problem_shard_1() {
    sweep(1, 2);
}
