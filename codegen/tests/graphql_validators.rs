//! The GraphQL schemas against a validator we did not write (`graphql-core`'s
//! `build_schema` + `validate_schema`, from the test virtualenv): the checked-in
//! ones, and those of googleapis packages (`google-proto-files`), generated in
//! memory: the services the echo harness serves. Every other annotated package's
//! schema is validated by the sweep in `openapi_validators.rs`, which generates
//! each package once for both documents.

mod common;

use common::googleapis::{SELECTED, compile, package_files, root as googleapis, workspace};
use dotlanth_codegen::emit::graphql::PATH;
use dotlanth_codegen::{Error, Options};
use std::fs;
use std::path::{Path, PathBuf};

use common::googleapis::validate_graphql as validate;

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
