//! `buf generate` (a driver we did not write) running `protoc-gen-dotlanth` writes
//! exactly what `cargo xtask gen` checked in, for every proto tree of the project.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn buf() -> PathBuf {
    let path = std::env::var_os("DOTLANTH_BUF")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("tools/node_modules/.bin/buf"));
    assert!(
        path.exists(),
        "buf not found at {}: run `cargo xtask test`, which installs the pinned tools",
        path.display()
    );
    path
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.push(
                    path.strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn buf_generate_matches(protos: &str, checked_in: &str, crate_name: &str) {
    let out = tempfile::tempdir().unwrap();
    let template = template(
        env!("CARGO_BIN_EXE_protoc-gen-dotlanth"),
        out.path(),
        crate_name,
        protos,
    );
    let result = Command::new(buf())
        .args(["generate", "--template", &template])
        .current_dir(workspace())
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "buf generate failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    let expected_dir = workspace().join(checked_in);
    let expected = files(&expected_dir);
    let actual = files(out.path());
    assert_eq!(
        actual, expected,
        "buf generate wrote a different set of files"
    );
    for f in &expected {
        let a = fs::read(out.path().join(f)).unwrap();
        let e = fs::read(expected_dir.join(f)).unwrap();
        assert!(
            a == e,
            "{checked_in}/{f} differs between buf generate and cargo xtask gen"
        );
    }
}

/// A buf.gen.yaml v2 template (JSON is YAML) using our plugin binary.
fn template(plugin: &str, out: &Path, crate_name: &str, protos: &str) -> String {
    format!(
        r#"{{"version":"v2","plugins":[{{"local":"{plugin}","out":"{}","strategy":"all","opt":["crate_name={crate_name}"]}}],"inputs":[{{"directory":"{protos}","exclude_paths":["{protos}/google"]}}]}}"#,
        out.display()
    )
}

#[test]
fn buf_generate_writes_the_checked_in_api_crate() {
    buf_generate_matches("proto", "generated", "dotlanth-api");
}

#[test]
fn buf_generate_writes_the_checked_in_fixture_crate() {
    buf_generate_matches("tests/protos", "tests/library-api", "library-api");
}

#[test]
fn buf_generate_writes_the_checked_in_conformance_crate() {
    buf_generate_matches(
        "tests/conformance/protos",
        "tests/conformance-api",
        "conformance-api",
    );
}
