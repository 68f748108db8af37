//! The binary parses its command line. Also makes `cargo test` build the binary,
//! which the runtime's `conformance` end-to-end tests start.

use std::process::Command;

#[test]
fn usage_names_every_option() {
    let out = Command::new(env!("CARGO_BIN_EXE_conformance-echo"))
        .arg("--help")
        .output()
        .expect("run conformance-echo");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for option in ["--port", "--grpc-port", "--config", "--auth", "--backend"] {
        assert!(err.contains(option), "{option} missing from: {err}");
    }
}
