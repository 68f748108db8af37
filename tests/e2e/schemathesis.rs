//! Property-based black-box test of the REST surface with schemathesis (a tool we
//! did not write): it reads the document the server serves at `/openapi.json`,
//! generates valid and invalid requests for every operation, and checks that
//! every answer is described by that document.
//!
//! Every check schemathesis has is on (`[checks] enabled = true` in
//! tests/e2e/schemathesis.toml, which also says what is narrowed for which
//! operation and why): no 5xx, status codes, content types, response bodies and
//! headers as documented, schema-valid requests accepted, invalid ones refused,
//! 405 with `Allow` for undeclared methods, auth enforced (the same request
//! without the token, or with a wrong one, must fail). `use_after_free` and
//! `ensure_resource_availability` (stateful) and `object_level_authorization`
//! run too but have little to act on: the API has no delete operation and the
//! run uses one identity.

use crate::grpc::example;
use crate::harness::{DEV_TOKEN, Server, ServerOpts, within, workspace};
use crate::rest::base64;
use std::path::PathBuf;

/// The `st` command of the Python test environment: next to `$DOTLANTH_PYTHON`
/// (set by `cargo xtask test`), else in the project's `.venv`. `None` (skip) only
/// when `DOTLANTH_PYTHON` is unset and there is no `.venv` with schemathesis.
fn schemathesis() -> Option<PathBuf> {
    let (python, required) = match std::env::var_os("DOTLANTH_PYTHON") {
        Some(p) => (PathBuf::from(p), true),
        None => (workspace().join(".venv/bin/python"), false),
    };
    let st = python.with_file_name("st");
    if st.is_file() {
        return Some(st);
    }
    assert!(
        !required,
        "{} not found: DOTLANTH_PYTHON is set, so the environment must have schemathesis \
         (tests/python/requirements.txt; `cargo xtask test` installs it)",
        st.display()
    );
    None
}

/// The operation schemathesis leaves out: a server stream that never ends by
/// itself (`GET /api/v1/monitoring/events`), so no request to it would finish.
/// tests/e2e/rest.rs and tests/e2e/events.rs cover it.
const STREAMING: &str = "MonitoringService_StreamEvents";

/// Examples per operation and phase: enough to reach every parameter and body
/// field, small enough for the whole run to stay well under a minute.
const MAX_EXAMPLES: &str = "25";

#[tokio::test]
async fn schemathesis_finds_nothing_the_document_does_not_describe() {
    let Some(st) = schemathesis() else {
        eprintln!(
            "SKIPPED schemathesis: DOTLANTH_PYTHON is unset and .venv has no `st`; \
             run `cargo xtask test` (it installs tests/python/requirements.txt)"
        );
        return;
    };
    let server = Server::start(ServerOpts::default()).await;

    // The operations of the served document; its server streams must all be
    // left out explicitly (a new one would hang the run).
    let doc: serde_json::Value = reqwest::get(format!("{}/openapi.json", server.http_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let operations: Vec<&serde_json::Value> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .collect();
    let streams: Vec<&str> = operations
        .iter()
        .filter(|op| op.get("x-dotlanth-streaming").is_some())
        .map(|op| op["operationId"].as_str().unwrap())
        .collect();
    assert_eq!(
        streams,
        [STREAMING],
        "every server stream must be excluded from the schemathesis run (and covered elsewhere)"
    );

    // A dot for GetDot and ExecuteDot to find (schemathesis.toml offers its name).
    let module = example("counter.wat");
    let deployed = reqwest::Client::new()
        .post(format!("{}/api/v1/vm/dots/deploy", server.http_url()))
        .bearer_auth(DEV_TOKEN)
        .json(&serde_json::json!({ "name": "counter", "module": base64(&module) }))
        .send()
        .await
        .unwrap();
    assert_eq!(deployed.status(), 200, "{}", deployed.text().await.unwrap());

    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(&st);
    cmd.arg("--config-file")
        .arg(workspace().join("tests/e2e/schemathesis.toml"))
        .arg("run")
        .arg(format!("{}/openapi.json", server.http_url()))
        .args(["--header", &format!("Authorization: Bearer {DEV_TOKEN}")])
        .args(["--exclude-operation-id", STREAMING])
        .args(["--max-examples", MAX_EXAMPLES])
        // Same requests every run (no random seed, no example database).
        .arg("--generation-deterministic")
        // One worker: requests in a fixed order, so the server's state is too.
        .args(["--workers", "1"])
        .args(["--request-timeout", "10"])
        .arg("--continue-on-failure")
        .arg("--no-color")
        // Hypothesis and reports write nothing into the source tree.
        .current_dir(scratch.path())
        .kill_on_drop(true);
    let out = within(150, "schemathesis run", cmd.output())
        .await
        .expect("running schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = format!(
        "schemathesis:\n{stdout}\n{}\nserver log (tail):\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail(&server.logs(), 40)
    );
    assert!(out.status.success(), "{report}");
    // Not a vacuous pass: every operation but the stream was tested.
    let (total, tested) = (operations.len(), operations.len() - streams.len());
    assert!(
        stdout.contains(&format!("{tested} selected / {total} total")),
        "{report}"
    );
    assert!(stdout.contains(&format!("Tested: {tested}")), "{report}");
    assert!(!stdout.contains("❌"), "{report}");
    // Shown with `--nocapture`: what was run and how many cases.
    println!("{}", tail(&stdout, 12));
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
