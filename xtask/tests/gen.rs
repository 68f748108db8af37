//! `cargo xtask gen` end to end on the test-only proto tree (`tests/protos`),
//! writing to a scratch directory: write, check, detect stale and extra files,
//! and leave files the generator did not write alone.

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

    // A hand edit and a file the generator no longer writes (it carries the header).
    fs::write(out.join("src/methods.rs"), "// edited\n").unwrap();
    let header = dotlanth_codegen::emit::RUST_HEADER;
    fs::write(out.join("src/old.rs"), format!("{header}// left over\n")).unwrap();
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

/// Files under `src/` that do not start with the generator's header are somebody
/// else's: `gen` keeps them and `--check` does not report them.
#[test]
fn hand_written_files_survive_gen_and_check() {
    let scratch = Scratch::new("hand-written");
    let out = scratch.0.as_path();
    let run = xtask(&gen_args(out, &["--crate-name", "library-api"]));
    assert!(run.status.success(), "gen failed: {}", text(&run.stderr));

    let own = [
        ("src/handwritten.rs", "// Written by hand.\npub fn f() {}\n"),
        // The marker, but not on the first line.
        (
            "src/notes/readme.md",
            "Notes.\nFiles starting with `@generated by dotlanth-codegen` are regenerated.\n",
        ),
        ("src/empty.rs", ""),
        ("src/data.bin", "\u{0}\u{1}\u{2}"),
    ];
    fs::create_dir_all(out.join("src/notes")).unwrap();
    for (path, contents) in own {
        fs::write(out.join(path), contents).unwrap();
    }

    let check = xtask(&gen_args(out, &["--check", "--crate-name", "library-api"]));
    assert!(
        check.status.success(),
        "check reported hand-written files: {}",
        text(&check.stderr)
    );

    let run = xtask(&gen_args(out, &["--crate-name", "library-api"]));
    assert!(run.status.success(), "gen failed: {}", text(&run.stderr));
    for (path, contents) in own {
        assert_eq!(
            fs::read_to_string(out.join(path)).unwrap_or_else(|e| panic!("{path}: {e}")),
            contents,
            "{path} was changed or removed"
        );
    }
}

#[test]
fn gen_rejects_an_invalid_crate_name() {
    let scratch = Scratch::new("crate-name");
    let out = scratch.0.join("out");
    for bad in ["Library-API", "1lib", "lib api", "lib\"x"] {
        let run = xtask(&gen_args(&out, &["--crate-name", bad]));
        assert!(!run.status.success(), "{bad} accepted");
        let err = text(&run.stderr);
        assert!(
            err.contains(&format!("crate_name `{bad}` is not a valid crate name")),
            "{err}"
        );
        assert!(!out.exists(), "nothing is written for {bad}");
    }
}
