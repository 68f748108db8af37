//! Real-world protos no one here wrote, served end to end: googleapis services
//! with HTTP annotations (pubsub, cloud tasks, secret manager, longrunning, cloud
//! run, as shipped in the npm package `google-proto-files`), generated without
//! edits by `cargo xtask echo`, compiled, and served by the echo backend. The
//! test calls REST (plain, custom verbs, bodies, `**` paths, errors), gRPC, and
//! checks the served OpenAPI documents with `openapi-spec-validator` and
//! `redocly lint`.
//!
//! The server binary is built by `cargo xtask test` before `cargo test` starts (a
//! nested cargo build on the same target directory would wait on `cargo test`'s
//! own lock) and handed over as `$DOTLANTH_GOOGLEAPIS_ECHO`.

use crate::harness::{free_ports, workspace};
use reqwest::Client;
use serde_json::{Value, json};
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The echo server over the googleapis services (`cargo xtask test` builds it).
fn binary() -> PathBuf {
    let bin = std::env::var_os("DOTLANTH_GOOGLEAPIS_ECHO").map(PathBuf::from);
    match bin {
        Some(bin) if bin.is_file() => bin,
        other => panic!(
            "the googleapis echo server {} not found: run `cargo xtask test` (it builds the \
             server and sets DOTLANTH_GOOGLEAPIS_ECHO)",
            other.map_or("($DOTLANTH_GOOGLEAPIS_ECHO unset)".into(), |p| p
                .display()
                .to_string())
        ),
    }
}

/// One echo server process, killed when dropped.
struct Echo {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
}

impl Drop for Echo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const READY_TIMEOUT: Duration = Duration::from_secs(30);

impl Echo {
    /// Starts the binary with `args` and waits until `/readyz` on `http_port`
    /// answers 200; on failure, the process's log.
    async fn spawn(args: &[String], http_port: u16) -> Result<Echo, String> {
        let dir = tempfile::Builder::new()
            .prefix("real-world-e2e-")
            .tempdir()
            .expect("tempdir");
        let log_path = dir.path().join("echo.log");
        let log = File::create(&log_path).expect("create log");
        let mut cmd = Command::new(binary());
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("clone log")))
            .stderr(Stdio::from(log))
            .env_remove("RUST_LOG");
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("DOTLANTH__") {
                cmd.env_remove(key);
            }
        }
        let mut echo = Echo {
            child: cmd.spawn().expect("spawn the googleapis echo server"),
            base: format!("http://127.0.0.1:{http_port}"),
            dir,
        };
        let logs = || std::fs::read_to_string(&log_path).unwrap_or_default();
        let http = Client::new();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = echo.child.try_wait().expect("try_wait") {
                return Err(format!("[exited with {status}]\n{}", logs()));
            }
            let ready = http
                .get(format!("{}/readyz", echo.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if matches!(&ready, Ok(r) if r.status() == 200) {
                return Ok(echo);
            }
            if Instant::now() > deadline {
                return Err(format!("[not ready after {READY_TIMEOUT:?}]\n{}", logs()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// The echo server (REST in process) with its gRPC address, and a second one
/// as a REST gateway forwarding over gRPC to the first (remote mode).
async fn start() -> (Echo, String, Echo) {
    let mut last = String::new();
    // Picked ports can be taken between the probe and the bind: retry.
    for _ in 0..4 {
        let (http_port, grpc_port) = free_ports();
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let server = match Echo::spawn(
            &args(&[
                "--port",
                &http_port.to_string(),
                "--grpc-port",
                &grpc_port.to_string(),
            ]),
            http_port,
        )
        .await
        {
            Ok(s) => s,
            Err(log) => {
                last = log;
                continue;
            }
        };
        let grpc = format!("http://127.0.0.1:{grpc_port}");
        let (gateway_port, _) = free_ports();
        match Echo::spawn(
            &args(&["--port", &gateway_port.to_string(), "--backend", &grpc]),
            gateway_port,
        )
        .await
        {
            Ok(gateway) => return (server, grpc, gateway),
            Err(log) => last = log,
        }
    }
    panic!("the googleapis echo server did not start:\n{last}");
}

/// What came back: status, `x-echo-method`, content type, body as JSON.
struct Reply {
    status: u16,
    method: Option<String>,
    content_type: Option<String>,
    body: Value,
}

async fn send(what: &str, req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (method, content_type) = (header("x-echo-method"), header("content-type"));
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_else(|e| panic!("{what}: {e}"));
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{what}: {status} body is not JSON ({e}): {text:?}"));
    Reply {
        status,
        method,
        content_type,
        body,
    }
}

/// `google.rpc.Status` as the REST surface writes it.
fn status(code: i32, message: &str) -> Value {
    json!({ "code": code, "message": message, "details": [] })
}

#[tokio::test]
async fn googleapis_services_are_served_end_to_end() {
    let (echo, grpc, gateway) = start().await;
    let http = Client::new();
    let mut failures = Vec::new();
    for (mode, echo) in [("in process", &echo), ("remote", &gateway)] {
        // (what, request, status, method that answered, body). A response type other
        // than the request type answers as an empty message: `{}`.
        let cases: Vec<(&str, reqwest::RequestBuilder, u16, Option<&str>, Value)> = vec![
            (
                "pubsub GetTopic",
                http.get(echo.url("/v1/projects/p/topics/t")),
                200,
                Some("google.pubsub.v1.Publisher/GetTopic"),
                json!({}),
            ),
            (
                "pubsub GetTopic failing NOT_FOUND",
                http.get(echo.url("/v1/projects/p/topics/t"))
                    .header("x-echo-error", "NOT_FOUND"),
                404,
                Some("google.pubsub.v1.Publisher/GetTopic"),
                status(5, "echo: NOT_FOUND"),
            ),
            (
                "pubsub Pull (custom verb, body *)",
                http.post(echo.url("/v1/projects/p/subscriptions/s:pull"))
                    .json(&json!({"maxMessages": 10, "returnImmediately": true})),
                200,
                Some("google.pubsub.v1.Subscriber/Pull"),
                json!({}),
            ),
            (
                "pubsub CreateTopic (PUT, body *, Topic in and out: echoed; the path wins)",
                http.put(echo.url("/v1/projects/p/topics/t")).json(&json!({
                    "name": "projects/x/topics/y",
                    "labels": {"a": "b"},
                    "messageRetentionDuration": "600s",
                    "schemaSettings": {"encoding": "JSON"},
                })),
                200,
                Some("google.pubsub.v1.Publisher/CreateTopic"),
                json!({
                    "name": "projects/p/topics/t",
                    "labels": {"a": "b"},
                    "messageRetentionDuration": "600s",
                    "schemaSettings": {"encoding": "JSON"},
                }),
            ),
            (
                "pubsub Pull with a string that is no int32",
                http.post(echo.url("/v1/projects/p/subscriptions/s:pull"))
                    .json(&json!({"maxMessages": "x"})),
                400,
                None,
                status(
                    3,
                    "invalid request: `maxMessages`: invalid digit found in string",
                ),
            ),
            (
                "pubsub CreateTopic with a malformed duration",
                http.put(echo.url("/v1/projects/p/topics/t"))
                    .json(&json!({"messageRetentionDuration": "10"})),
                400,
                None,
                status(
                    3,
                    "invalid request: `messageRetentionDuration`: failed to parse duration",
                ),
            ),
            (
                "cloud tasks PauseQueue (custom verb, empty body)",
                http.post(echo.url("/v2/projects/p/locations/l/queues/q:pause"))
                    .json(&json!({})),
                200,
                Some("google.cloud.tasks.v2.CloudTasks/PauseQueue"),
                json!({}),
            ),
            (
                "secret manager AccessSecretVersion (GET with a custom verb)",
                http.get(echo.url("/v1/projects/p/secrets/s/versions/latest:access")),
                200,
                Some("google.cloud.secretmanager.v1.SecretManagerService/AccessSecretVersion"),
                json!({}),
            ),
            (
                "secret manager AccessSecretVersion (additional binding)",
                http.get(echo.url("/v1/projects/p/locations/l/secrets/s/versions/1:access")),
                200,
                Some("google.cloud.secretmanager.v1.SecretManagerService/AccessSecretVersion"),
                json!({}),
            ),
            (
                "longrunning GetOperation ({name=operations/**})",
                http.get(echo.url("/v1/operations/a/b/c")),
                200,
                Some("google.longrunning.Operations/GetOperation"),
                json!({}),
            ),
            (
                "longrunning ListOperations (query parameters)",
                http.get(echo.url("/v1/operations?filter=done&pageSize=5")),
                200,
                Some("google.longrunning.Operations/ListOperations"),
                json!({}),
            ),
            (
                "cloud run GetService",
                http.get(echo.url("/v2/projects/p/locations/l/services/s")),
                200,
                Some("google.cloud.run.v2.Services/GetService"),
                json!({}),
            ),
            (
                "an unknown path",
                http.get(echo.url("/v1/nothing/here")),
                404,
                None,
                status(5, "no route for GET /v1/nothing/here"),
            ),
        ];
        for (what, req, want_status, want_method, want_body) in cases {
            let r = send(what, req).await;
            if r.status != want_status
                || r.method.as_deref() != want_method
                || r.body != want_body
                || r.content_type.as_deref() != Some("application/json")
            {
                failures.push(format!(
                    "{mode}: {what}: {} {:?} {:?} {}, expected {want_status} {want_method:?} {}",
                    r.status, r.method, r.content_type, r.body, want_body
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // gRPC on its own port: a known method answers its (empty) response type, an
    // unknown one is UNIMPLEMENTED.
    let channel = tonic::transport::Endpoint::from_shared(grpc)
        .expect("endpoint")
        .connect()
        .await
        .expect("connect to the gRPC port");
    // `GetTopicRequest { topic: "projects/p/topics/t" }`: field 1, length 19.
    let topic = crate::grpc::raw_unary(
        channel.clone(),
        "/google.pubsub.v1.Publisher/GetTopic",
        bytes::Bytes::from_static(b"\x0a\x13projects/p/topics/t"),
        "token",
    )
    .await;
    assert!(
        matches!(&topic, Ok(b) if b.is_empty()),
        "gRPC GetTopic: {topic:?}"
    );
    let unknown = crate::grpc::raw_unary(
        channel,
        "/google.pubsub.v1.Publisher/Nope",
        bytes::Bytes::new(),
        "token",
    )
    .await;
    assert!(
        matches!(&unknown, Err(s) if s.code() == tonic::Code::Unimplemented),
        "gRPC unknown method: {unknown:?}"
    );

    // The served documents pass both validators.
    let mut docs = Vec::new();
    for (path, file) in [
        ("/openapi.json", "openapi.json"),
        ("/openapi.yaml", "openapi.yaml"),
    ] {
        let resp = http.get(echo.url(path)).send().await.expect(path);
        assert_eq!(resp.status(), 200, "{path}");
        let text = resp.text().await.expect(path);
        if path.ends_with(".json") {
            let doc: Value = serde_json::from_str(&text).expect("the JSON document");
            // A path template's resource names become one parameter per segment.
            for route in [
                "/v1/projects/{projects}/topics/{topics}",
                "/v1/projects/{projects}/subscriptions/{subscriptions}:pull",
                "/v2/projects/{projects}/locations/{locations}/queues/{queues}:pause",
                "/v1/projects/{projects}/secrets/{secrets}/versions/{versions}:access",
                "/v1/operations",
                "/v1/operations/{operations}",
                "/v2/projects/{projects}/locations/{locations}/services/{services}",
            ] {
                assert!(doc["paths"].get(route).is_some(), "{path} lacks {route}");
            }
        } else {
            assert!(text.contains("\nopenapi: "), "{path}: {text:.200}");
        }
        let out = echo.dir.path().join(file);
        std::fs::write(&out, text).expect("write the document");
        docs.push(out);
    }
    let python = match std::env::var_os("DOTLANTH_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => workspace().join(".venv/bin/python"),
    };
    let spec_validator = python.with_file_name("openapi-spec-validator");
    let redocly = workspace().join("tools/node_modules/.bin/redocly");
    for bin in [&spec_validator, &redocly] {
        assert!(
            bin.is_file(),
            "{} not found: run `cargo xtask test`",
            bin.display()
        );
    }
    let out = Command::new(&spec_validator)
        .args(&docs)
        .output()
        .expect("run openapi-spec-validator");
    assert!(
        out.status.success(),
        "openapi-spec-validator:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Recommended rules: errors fail, warnings do not.
    let out = Command::new(&redocly)
        .args(["lint", "--format=stylish"])
        .args(&docs)
        .output()
        .expect("run redocly lint");
    assert!(
        out.status.success(),
        "redocly lint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
