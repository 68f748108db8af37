//! `cargo xtask gen` end to end on the test-only proto tree (`tests/protos`),
//! writing to a scratch directory: write, check, detect stale and extra files.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("run xtask")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("xtask-gen-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn gen_args<'a>(out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "gen",
        "--protos",
        "tests/protos",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn gen_then_check_then_detect_stale_files() {
    let scratch = Scratch::new("check");
    let out = scratch.0.as_path();

    let run = xtask(&gen_args(out, &["--crate-name", "library-api"]));
    assert!(run.status.success(), "gen failed: {}", text(&run.stderr));
    let manifest = fs::read_to_string(out.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"library-api\""), "{manifest}");
    let methods = fs::read_to_string(out.join("src/methods.rs")).unwrap();
    assert!(methods.contains("\"/v1/{name=shelves/*/books/*}:publish\""));
    assert!(out.join("src/example.library.v1.rs").is_file());
    assert!(out.join("src/example.library.v1.serde.rs").is_file());

    let check = xtask(&gen_args(out, &["--check", "--crate-name", "library-api"]));
    assert!(
        check.status.success(),
        "check failed: {}",
        text(&check.stderr)
    );
    assert!(text(&check.stdout).contains("up to date"));

    // Another crate name changes the manifest only.
    let other = xtask(&gen_args(out, &["--check"]));
    assert!(!other.status.success());
    assert!(text(&other.stderr).contains("stale: Cargo.toml (differs)"));

    // A hand edit and a file the generator no longer writes.
    fs::write(out.join("src/methods.rs"), "// edited\n").unwrap();
    fs::write(out.join("src/old.rs"), "// left over\n").unwrap();
    fs::remove_file(out.join("src/wkt.rs")).unwrap();
    let stale = xtask(&gen_args(out, &["--check", "--crate-name", "library-api"]));
    assert!(!stale.status.success());
    let err = text(&stale.stderr);
    assert!(err.contains("stale: src/methods.rs (differs)"), "{err}");
    assert!(err.contains("stale: src/wkt.rs (missing)"), "{err}");
    assert!(
        err.contains("stale: src/old.rs (not generated any more)"),
        "{err}"
    );
    assert!(err.contains("3 generated file(s) differ"), "{err}");

    // Generating again repairs everything.
    let run = xtask(&gen_args(out, &["--crate-name", "library-api"]));
    assert!(run.status.success(), "gen failed: {}", text(&run.stderr));
    assert!(!out.join("src/old.rs").exists());
    assert_eq!(
        fs::read_to_string(out.join("src/methods.rs")).unwrap(),
        methods
    );
    let check = xtask(&gen_args(out, &["--check", "--crate-name", "library-api"]));
    assert!(
        check.status.success(),
        "check failed: {}",
        text(&check.stderr)
    );
}

#[test]
fn gen_reports_every_problem_and_writes_nothing() {
    let scratch = Scratch::new("invalid");
    let protos = scratch.0.join("protos");
    let out = scratch.0.join("out");
    fs::create_dir_all(protos.join("bad/v1")).unwrap();
    let google = protos.join("google/api");
    fs::create_dir_all(&google).unwrap();
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/protos/google/api");
    for f in ["annotations.proto", "http.proto"] {
        fs::copy(tree.join(f), google.join(f)).unwrap();
    }
    fs::write(
        protos.join("bad/v1/bad.proto"),
        r#"syntax = "proto3";
package bad.v1;
import "google/api/annotations.proto";
message M { string name = 1; }
service S {
  rpc A(M) returns (M) { option (google.api.http) = { get: "no/slash" }; }
  rpc B(M) returns (M) { option (google.api.http) = { get: "/v1/{nope}" }; }
}
"#,
    )
    .unwrap();
    let run = xtask(&[
        "gen",
        "--protos",
        protos.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!run.status.success());
    let err = text(&run.stderr);
    assert!(err.contains("2 problem(s) in the protos"), "{err}");
    assert!(
        err.contains("bad/v1/bad.proto: service bad.v1.S, method A"),
        "{err}"
    );
    assert!(
        err.contains("bad/v1/bad.proto: service bad.v1.S, method B"),
        "{err}"
    );
    assert!(!out.exists(), "nothing is written on failure");
}
