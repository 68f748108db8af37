//! The OpenAPI documents against two validators we did not write
//! (`openapi-spec-validator` and `redocly lint`): the checked-in ones, and those of
//! proto trees no one here wrote: every googleapis package with `google.api.http`
//! annotations (as shipped in the npm package `google-proto-files`) either
//! generates, with one OpenAPI operation per HTTP binding (nothing dropped), or
//! fails with a diagnostic that names the proto file. The documents that generate
//! pass `openapi-spec-validator` and `redocly lint`, in OpenAPI 3.0 and 3.1, and
//! the sweep checks the same run's GraphQL schemas with `graphql-core` (one
//! generation per package for both surfaces).
//!
//! The trees come from `tools/node_modules/google-proto-files` (installed by
//! `cargo xtask test`) or `$DOTLANTH_GOOGLEAPIS`.

mod common;

use common::googleapis::validate_graphql;
use common::googleapis::{
    SELECTED, annotated_packages, compile, package_files, python, root as googleapis, workspace,
};
use dotlanth_codegen::emit::graphql;
use dotlanth_codegen::emit::openapi::{JSON_PATH, Version, YAML_PATH};
use dotlanth_codegen::{Error, Options};
use prost_reflect::DescriptorPool;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Operations in an OpenAPI document.
fn operation_count(doc: &Value) -> usize {
    doc["paths"]
        .as_object()
        .map(|paths| {
            paths
                .values()
                .map(|item| item.as_object().map_or(0, |m| m.len()))
                .sum()
        })
        .unwrap_or(0)
}

/// The validators, from the test virtualenv and `tools/node_modules`.
fn spec_validator() -> PathBuf {
    let bin = python().with_file_name("openapi-spec-validator");
    assert!(
        bin.is_file(),
        "{} not found: run `cargo xtask test`",
        bin.display()
    );
    bin
}

fn redocly() -> PathBuf {
    let bin = workspace().join("tools/node_modules/.bin/redocly");
    assert!(
        bin.is_file(),
        "{} not found: run `cargo xtask test`",
        bin.display()
    );
    bin
}

/// Runs both validators over `docs`; panics with their output on a failure.
pub fn validate(docs: &[PathBuf]) {
    assert!(!docs.is_empty());
    // openapi-spec-validator takes many files in one run (one Python start).
    let out = Command::new(spec_validator())
        .args(docs)
        .output()
        .expect("run openapi-spec-validator");
    assert!(
        out.status.success(),
        "openapi-spec-validator:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // `redocly lint` with its recommended rules: errors fail, warnings do not.
    let lint = |docs: &[PathBuf]| {
        Command::new(redocly())
            .args(["lint", "--format=stylish"])
            .args(docs)
            .output()
            .expect("run redocly lint")
    };
    let out = lint(docs);
    if !out.status.success() {
        // Only the errors, each under its document's name.
        let text = String::from_utf8_lossy(&out.stdout);
        let mut report = String::new();
        let mut file = "";
        for line in text.lines() {
            if line.ends_with(".yaml:") || line.ends_with(".json:") {
                file = line;
            } else if line.contains(" error ") {
                report.push_str(&format!("{file} {}\n", line.trim()));
            }
        }
        panic!(
            "redocly lint found errors:\n{report}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Generates the packages `i % of == shard` (OpenAPI 3.0) and validates their
/// documents; two shards run on two test threads.
fn sweep(shard: usize, of: usize) {
    let root = googleapis();
    let packages = annotated_packages(&root);
    assert!(
        packages.len() > 100,
        "only {} annotated packages found under {}",
        packages.len(),
        root.display()
    );
    let out = tempfile::tempdir().unwrap();
    let mut generated = Vec::new();
    let mut schemas = Vec::new();
    let mut refused = Vec::new();
    let mine: Vec<_> = packages
        .iter()
        .enumerate()
        .filter(|(i, _)| i % of == shard)
        .collect();
    for (i, (package, files)) in &mine {
        match generate_both(&root, files, Version::V3_0_3) {
            Ok((yaml, sdl)) => {
                let stem = out
                    .path()
                    .join(format!("{i}-{}", package.replace('/', "_")));
                fs::write(stem.with_extension("yaml"), yaml).unwrap();
                fs::write(stem.with_extension("graphql"), sdl).unwrap();
                generated.push(stem.with_extension("yaml"));
                schemas.push(stem.with_extension("graphql"));
            }
            Err(e) => refused.push(format!("{package}: {e}")),
        }
    }
    eprintln!(
        "shard {shard}/{of}: {} annotated packages, {} generated, {} refused",
        mine.len(),
        generated.len(),
        refused.len()
    );
    for r in &refused {
        eprintln!("  refused: {r}");
    }
    // Most of googleapis is plain HttpRule usage: it must generate.
    assert!(
        refused.len() * 10 <= mine.len(),
        "too many packages refused:\n{}",
        refused.join("\n")
    );
    validate(&generated);
    validate_graphql(&schemas);
}

/// Compiles and generates `files`; checks that every HTTP binding became an
/// operation and returns the YAML document, or the refusal, which must name a
/// proto file.
fn generate(root: &Path, files: &[String], version: Version) -> Result<Vec<u8>, String> {
    generate_both(root, files, version).map(|(yaml, _)| yaml)
}

/// [`generate`], also returning the GraphQL schema of the same run.
fn generate_both(
    root: &Path,
    files: &[String],
    version: Version,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let set = match compile(root, files) {
        Ok(set) => set,
        // The npm package's own tree does not compile (a missing import): not a
        // generator question, but the message must still say what is wrong.
        Err(e) => return Err(format!("does not compile: {e}")),
    };
    let options = Options {
        crate_name: "real-world".into(),
        openapi: version,
    };
    match dotlanth_codegen::generate(&set, files, &options) {
        Ok(out) => {
            let pool = DescriptorPool::decode(set.as_slice()).unwrap();
            let model = dotlanth_codegen::registry::build(&pool, files).unwrap();
            let bindings: usize = model
                .services
                .iter()
                .flat_map(|s| &s.methods)
                .map(|m| m.http.len())
                .sum();
            let json = out.iter().find(|f| f.path == JSON_PATH).unwrap();
            let doc: Value = serde_json::from_slice(&json.contents).unwrap();
            assert_eq!(
                operation_count(&doc),
                bindings,
                "{files:?}: every HTTP binding becomes one operation"
            );
            let file = |path: &str| {
                out.iter()
                    .find(|f| f.path == path)
                    .unwrap()
                    .contents
                    .clone()
            };
            Ok((file(YAML_PATH), file(graphql::PATH)))
        }
        Err(Error::Invalid(diags)) => {
            for d in &diags {
                let text = d.to_string();
                assert!(
                    text.contains(".proto"),
                    "a diagnostic must name its file: {text}"
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
fn checked_in_documents_pass_both_validators() {
    let docs: Vec<PathBuf> = ["generated", "tests/library-api", "tests/conformance-api"]
        .iter()
        .flat_map(|c| [YAML_PATH, JSON_PATH].map(|f| workspace().join(c).join(f)))
        .collect();
    validate(&docs);
}

#[test]
fn googleapis_packages_generate_or_name_their_problem_shard_0() {
    sweep(0, 2);
}

#[test]
fn googleapis_packages_generate_or_name_their_problem_shard_1() {
    sweep(1, 2);
}

/// A few services, as `cargo xtask echo` serves them, in OpenAPI 3.1 too.
#[test]
fn selected_googleapis_services_validate_in_openapi_3_0_and_3_1() {
    let root = googleapis();
    let out = tempfile::tempdir().unwrap();
    let mut docs = Vec::new();
    for package in SELECTED {
        let files = package_files(&root, package);
        for version in [Version::V3_0_3, Version::V3_1_0] {
            let yaml = generate(&root, &files, version)
                .unwrap_or_else(|e| panic!("{package} ({}): {e}", version.as_str()));
            let text = String::from_utf8(yaml.clone()).unwrap();
            assert!(
                text.contains(&format!("openapi: \"{}\"", version.as_str())),
                "{package}"
            );
            let path = out.path().join(format!(
                "{}-{}.yaml",
                package.replace('/', "_"),
                version.as_str()
            ));
            fs::write(&path, yaml).unwrap();
            docs.push(path);
        }
    }
    validate(&docs);
}
