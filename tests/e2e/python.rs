//! A client from another ecosystem: Python grpcio, learning the API from
//! reflection v1alpha only (tests/python/grpc_client.py).

use crate::grpc::DEV_TOKEN;
use crate::harness::{Server, ServerOpts, within, workspace};
use serde_json::Value;
use std::path::PathBuf;

/// `$DOTLANTH_PYTHON` (set by `cargo xtask test`), else the project's `.venv`.
/// Missing Python packages fail the test: it must never pass silently.
fn python() -> PathBuf {
    let path = match std::env::var_os("DOTLANTH_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => workspace().join(".venv/bin/python"),
    };
    assert!(
        path.is_file(),
        "Python test environment not found at {}: run `cargo xtask test` (it installs tests/python/requirements.txt into .venv)",
        path.display()
    );
    path
}

#[tokio::test]
async fn python_grpcio_client_through_reflection() {
    let server = Server::start(ServerOpts::default()).await;
    let target = server.grpc_url().trim_start_matches("http://").to_string();
    let mut cmd = tokio::process::Command::new(python());
    cmd.arg(workspace().join("tests/python/grpc_client.py"))
        .arg(&target)
        .arg(DEV_TOKEN)
        .arg(workspace().join("examples/dots/counter.wat"))
        .kill_on_drop(true);
    let out = within(60, "python grpc client", cmd.output())
        .await
        .expect("running python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    let services: Vec<&str> = seen["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for s in [
        "dotlanth.monitoring.v1.MonitoringService",
        "dotlanth.runtime.v1.RuntimeService",
        "dotlanth.vm.v1.VmService",
        "grpc.health.v1.Health",
    ] {
        assert!(services.contains(&s), "{s} missing from {services:?}");
    }
    assert_eq!(seen["ping"]["payload"], "from python");
    assert!(seen["ping"]["serverTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(seen["ping_without_token"], "UNAUTHENTICATED");
    assert_eq!(seen["counter_outputs"], serde_json::json!([1, 2]));
    assert_eq!(seen["bad_module"], "INVALID_ARGUMENT");
    assert_eq!(seen["health"], "SERVING");
}
