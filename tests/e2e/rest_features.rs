//! REST gateway features over the conformance tree (`tests/conformance/protos`),
//! served by the echo backend (`conformance-echo`, which answers a unary call
//! with the request it parsed): a `PATCH` field mask filled from the body's keys,
//! raw `google.api.HttpBody` requests and replies (streams too), and status
//! details (`grpc-status-details-bin`) in error bodies.
//! Every case runs in process (the echo server's own HTTP port) and in remote
//! mode (a second `conformance-echo --backend` forwarding over gRPC).

use crate::harness::{Mode, both_modes};
use crate::harness::{free_ports, within};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn echo_binary() -> PathBuf {
    crate::conformance::binary()
}

/// One `conformance-echo` process, killed when dropped.
struct EchoProcess {
    child: Child,
    http_port: u16,
    grpc_port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl EchoProcess {
    /// Starts an echo server (`backend: None`) or a remote-mode gateway in front
    /// of one, and waits until `/readyz` answers.
    async fn start(backend: Option<&str>) -> EchoProcess {
        let mut last = String::new();
        for _ in 0..4 {
            let dir = tempfile::tempdir().expect("tempdir");
            let log = dir.path().join("echo.log");
            let out = File::create(&log).expect("create log");
            let (http_port, grpc_port) = free_ports();
            let mut cmd = Command::new(echo_binary());
            cmd.arg("--port").arg(http_port.to_string());
            match backend {
                None => cmd.arg("--grpc-port").arg(grpc_port.to_string()),
                Some(url) => cmd.arg("--backend").arg(url),
            };
            cmd.stdin(Stdio::null())
                .stdout(Stdio::from(out.try_clone().expect("clone log")))
                .stderr(Stdio::from(out))
                .env_remove("RUST_LOG");
            for (key, _) in std::env::vars_os() {
                if key.to_string_lossy().starts_with("DOTLANTH__") {
                    cmd.env_remove(key);
                }
            }
            let mut echo = EchoProcess {
                child: cmd.spawn().expect("spawn conformance-echo"),
                http_port,
                grpc_port,
                log,
                _dir: dir,
            };
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Some(status) = echo.child.try_wait().expect("try_wait") {
                    last = format!("[exited with {status}]\n{}", echo.logs());
                    break;
                }
                let ready = reqwest::Client::new()
                    .get(format!("{}/readyz", echo.http_url()))
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await;
                if matches!(&ready, Ok(r) if r.status() == 200) {
                    return echo;
                }
                if Instant::now() > deadline {
                    panic!("conformance-echo not ready:\n{}", echo.logs());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        panic!("conformance-echo did not start: {last}");
    }

    fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for EchoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An echo server and, in remote mode, a gateway in front of it.
struct Setup {
    server: EchoProcess,
    _gateway: Option<EchoProcess>,
    base: String,
    http: Client,
}

async fn setup(mode: Mode) -> Setup {
    let server = EchoProcess::start(None).await;
    let (gateway, base) = match mode {
        Mode::InProcess => (None, server.http_url()),
        Mode::Remote => {
            let g = EchoProcess::start(Some(&server.grpc_url())).await;
            let base = g.http_url();
            (Some(g), base)
        }
    };
    Setup {
        server,
        _gateway: gateway,
        base,
        http: Client::new(),
    }
}

both_modes!(patch_fills_the_update_mask_from_the_body_keys);
both_modes!(http_body_requests_and_replies_are_raw);
both_modes!(http_body_streams_are_raw_chunks);
both_modes!(status_details_render_as_proto3_json);

/// A raw reply: status, content type, bytes (`Err` with the bytes received when
/// the body broke off).
type RawReply = (StatusCode, String, Result<Vec<u8>, Vec<u8>>);

impl Setup {
    /// A GET answered with newline-delimited JSON: status and lines.
    async fn ndjson(&self, path: &str, headers: &[(&str, &str)]) -> (StatusCode, Vec<Value>) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = within(20, path, req.send()).await.expect("request");
        let status = resp.status();
        let text = within(20, path, resp.text()).await.expect("body");
        let lines = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect();
        (status, lines)
    }

    /// A call with a raw body.
    async fn raw(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        content_type: Option<&str>,
        body: &[u8],
    ) -> RawReply {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .body(body.to_vec());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = within(20, path, req.send())
            .await
            .unwrap_or_else(|e| panic!("{path}: {e:?}"));
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().expect("ascii").to_string())
            .unwrap_or_default();
        let mut resp = resp;
        let mut bytes = Vec::new();
        loop {
            match within(20, path, resp.chunk()).await {
                Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                Ok(None) => return (status, ct, Ok(bytes)),
                Err(_) => return (status, ct, Err(bytes)),
            }
        }
    }

    /// A JSON call: exact status and body.
    async fn json(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = within(20, path, req.send()).await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text:?}"));
        (status, value)
    }
}

async fn patch_fills_the_update_mask_from_the_body_keys(mode: Mode) {
    let s = &setup(mode).await;
    let patch = |path: String, body: Value| async move {
        s.json(Method::PATCH, &path, &[], Some(&body)).await
    };

    // Top-level keys only (JSON or proto names, sorted, each once): a nested
    // message, a map and a repeated field are leaves; the key the lenient parser
    // ignores is not a path; the name from the URL path is not a body key.
    let got = patch(
        "/v1/widgets/w1".into(),
        json!({
            "displayName": "Gizmo",
            "size": 3,
            "style": {"color": "red", "lineWeight": 2},
            "labels": {"env": "prod"},
            "tags": ["a", "b"],
            "no_such_field": true,
        }),
    )
    .await;
    assert_eq!(
        got,
        (
            StatusCode::OK,
            json!({
                "widget": {
                    "name": "widgets/w1",
                    "displayName": "Gizmo",
                    "size": 3,
                    "style": {"color": "red", "lineWeight": 2},
                    "labels": {"env": "prod"},
                    "tags": ["a", "b"],
                },
                "updateMask": "displayName,labels,size,style,tags",
            })
        )
    );

    // Proto names work too; a default value and a `null` (clear it) still name
    // their field.
    let got = patch(
        "/v1/widgets/w2".into(),
        json!({"display_name": null, "size": 0, "style": {"line_weight": 1}}),
    )
    .await;
    assert_eq!(
        got,
        (
            StatusCode::OK,
            json!({
                "widget": {"name": "widgets/w2", "style": {"lineWeight": 1}},
                "updateMask": "displayName,size,style",
            })
        )
    );

    // A mask the caller gives (either spelling) is kept as it is.
    for query in ["update_mask=size", "updateMask=size"] {
        let path = format!("/v1/widgets/w3?{query}");
        let got = patch(path, json!({"displayName": "Gizmo", "size": 4})).await;
        assert_eq!(
            got,
            (
                StatusCode::OK,
                json!({
                    "widget": {"name": "widgets/w3", "displayName": "Gizmo", "size": 4},
                    "updateMask": "size",
                })
            ),
            "{query}"
        );
    }
    let got = patch(
        "/v1/widgets/w3?updateMask=displayName,style.color".into(),
        json!({"size": 4}),
    )
    .await;
    assert_eq!(
        got,
        (
            StatusCode::OK,
            json!({
                "widget": {"name": "widgets/w3", "size": 4},
                "updateMask": "displayName,style.color",
            })
        )
    );

    // An empty object (or no body) names no field: no mask.
    let got = patch("/v1/widgets/w4".into(), json!({})).await;
    assert_eq!(
        got,
        (StatusCode::OK, json!({"widget": {"name": "widgets/w4"}}))
    );

    // `body: "*"` never fills the mask.
    let got = patch(
        "/v2/widgets/w5".into(),
        json!({"widget": {"displayName": "Gizmo", "size": 1}}),
    )
    .await;
    assert_eq!(
        got,
        (
            StatusCode::OK,
            json!({"widget": {"name": "widgets/w5", "displayName": "Gizmo", "size": 1}})
        )
    );
    let got = patch(
        "/v2/widgets/w5".into(),
        json!({"widget": {"size": 1}, "updateMask": "size"}),
    )
    .await;
    assert_eq!(
        got,
        (
            StatusCode::OK,
            json!({"widget": {"name": "widgets/w5", "size": 1}, "updateMask": "size"})
        )
    );
}

fn ok_raw(ct: &str, body: &[u8]) -> RawReply {
    (StatusCode::OK, ct.to_string(), Ok(body.to_vec()))
}

fn json_error(status: StatusCode, value: Value) -> RawReply {
    (
        status,
        "application/json".to_string(),
        Ok(value.to_string().into_bytes()),
    )
}

async fn http_body_requests_and_replies_are_raw(mode: Mode) {
    let s = &setup(mode).await;
    let binary: Vec<u8> = (0..=255u8).rev().collect();

    // The request is the raw body and its content type, and so is the reply: no
    // JSON parsing, no 415, any bytes.
    assert_eq!(
        s.raw("/v1/raw", &[], Some("image/png"), &binary).await,
        ok_raw("image/png", &binary)
    );
    assert_eq!(
        s.raw("/v1/raw", &[], Some("application/json"), b"{not json")
            .await,
        ok_raw("application/json", b"{not json")
    );
    assert_eq!(
        s.raw("/v1/raw", &[], Some("text/plain; charset=utf-8"), b"")
            .await,
        ok_raw("text/plain; charset=utf-8", b"")
    );
    // No content type in, none in the reply: octet-stream.
    assert_eq!(
        s.raw("/v1/raw", &[], None, b"abc").await,
        ok_raw("application/octet-stream", b"abc")
    );

    // `body: "content"` (an HttpBody field) and `response_body: "content"`; the
    // name comes from the path.
    assert_eq!(
        s.raw("/v1/uploads/u1", &[], Some("text/csv"), b"a,b\n1,2\n")
            .await,
        ok_raw("text/csv", b"a,b\n1,2\n")
    );

    // Errors are still JSON.
    assert_eq!(
        s.raw(
            "/v1/raw",
            &[("x-echo-error", "NOT_FOUND"), ("x-echo-message", "gone")],
            Some("text/plain"),
            b"x",
        )
        .await,
        json_error(
            StatusCode::NOT_FOUND,
            json!({"code": 5, "message": "gone", "details": []})
        )
    );
}

async fn http_body_streams_are_raw_chunks(mode: Mode) {
    let s = &setup(mode).await;

    // Each message's bytes in turn, with the first one's content type.
    assert_eq!(
        s.raw(
            "/v1/downloads",
            &[("x-echo-count", "3")],
            Some("text/csv"),
            b"a,b\n"
        )
        .await,
        ok_raw("text/csv", b"a,b\na,b\na,b\n")
    );
    // No message: an empty body.
    assert_eq!(
        s.raw(
            "/v1/downloads",
            &[("x-echo-count", "0")],
            Some("text/csv"),
            b"x"
        )
        .await,
        ok_raw("application/octet-stream", b"")
    );
    // A failure before the first message is an error reply ...
    assert_eq!(
        s.raw(
            "/v1/downloads",
            &[("x-echo-count", "0"), ("x-echo-error", "UNAVAILABLE")],
            Some("text/plain"),
            b"x",
        )
        .await,
        json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"code": 14, "message": "echo: UNAVAILABLE", "details": []})
        )
    );
    // ... after it, the body breaks off (raw bytes have no room for an error).
    assert_eq!(
        s.raw(
            "/v1/downloads",
            &[("x-echo-count", "2"), ("x-echo-error", "INTERNAL")],
            Some("text/plain"),
            b"chunk",
        )
        .await,
        (
            StatusCode::OK,
            "text/plain".into(),
            Err(b"chunkchunk".to_vec())
        )
    );
}

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

/// `google.rpc.BadRequest`.
#[derive(Clone, PartialEq, prost::Message)]
struct BadRequest {
    #[prost(message, repeated, tag = "1")]
    field_violations: Vec<FieldViolation>,
}

/// `google.rpc.BadRequest.FieldViolation`.
#[derive(Clone, PartialEq, prost::Message)]
struct FieldViolation {
    #[prost(string, tag = "1")]
    field: String,
    #[prost(string, tag = "2")]
    description: String,
}

/// `google.rpc.ErrorInfo`.
#[derive(Clone, PartialEq, prost::Message)]
struct ErrorInfo {
    #[prost(string, tag = "1")]
    reason: String,
    #[prost(string, tag = "2")]
    domain: String,
    #[prost(map = "string, string", tag = "3")]
    metadata: std::collections::HashMap<String, String>,
}

fn any(type_name: &str, message: &impl prost::Message) -> prost_types::Any {
    prost_types::Any {
        type_url: format!("type.googleapis.com/{type_name}"),
        value: message.encode_to_vec(),
    }
}

async fn status_details_render_as_proto3_json(mode: Mode) {
    use prost::Message;
    let s = &setup(mode).await;
    let status = RpcStatus {
        code: 3,
        message: "bad item".into(),
        details: vec![
            any(
                "google.rpc.BadRequest",
                &BadRequest {
                    field_violations: vec![FieldViolation {
                        field: "id".into(),
                        description: "must be a number".into(),
                    }],
                },
            ),
            any(
                "google.rpc.ErrorInfo",
                &ErrorInfo {
                    reason: "ITEM_ID".into(),
                    domain: "example.com".into(),
                    metadata: [("min".to_string(), "1".to_string())].into(),
                },
            ),
            prost_types::Any {
                type_url: "type.googleapis.com/example.v1.Unknown".into(),
                value: vec![0x08, 0x96, 0x01],
            },
        ],
    };
    let bin = status.encode_to_vec();
    let b64 = crate::rest::base64(&bin);
    let details = json!([
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": "id", "description": "must be a number"}],
        },
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ITEM_ID",
            "domain": "example.com",
            "metadata": {"min": "1"},
        },
        {"@type": "type.googleapis.com/example.v1.Unknown", "value": "CJYB"},
    ]);
    let failing = |code: &'static str| {
        [
            ("x-echo-error", code),
            ("x-echo-message", "bad item"),
            ("x-echo-status-details-bin", b64.as_str()),
        ]
    };

    // A unary call.
    assert_eq!(
        s.json(
            Method::GET,
            "/v1/items/x",
            &failing("INVALID_ARGUMENT"),
            None
        )
        .await,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 3, "message": "bad item", "details": details})
        )
    );

    // A stream that fails before its first message: an error reply with the
    // mapped HTTP status, details included.
    let mut headers = failing("FAILED_PRECONDITION").to_vec();
    headers.push(("x-echo-count", "0"));
    assert_eq!(
        s.ndjson("/v1/watch", &headers).await,
        (
            StatusCode::BAD_REQUEST,
            vec![json!({"code": 9, "message": "bad item", "details": details})]
        )
    );
    headers.pop();
    headers.push(("x-echo-count", "1"));
    assert_eq!(
        s.ndjson("/v1/watch?int32Value=7", &headers).await,
        (
            StatusCode::OK,
            vec![
                json!({"result": {"int32Value": 7}}),
                json!({"error": {"code": 9, "message": "bad item", "details": details}}),
            ]
        )
    );
    // A raw (HttpBody) stream that fails before its first message.
    let mut headers = failing("ABORTED").to_vec();
    headers.push(("x-echo-count", "0"));
    assert_eq!(
        s.raw("/v1/downloads", &headers, Some("text/plain"), b"x")
            .await,
        json_error(
            StatusCode::CONFLICT,
            json!({"code": 10, "message": "bad item", "details": details})
        )
    );

    // Details that are no google.rpc.Status are left out, never a 500.
    let not_a_status = crate::rest::base64(&[0xff, 0xff, 0xff]);
    assert_eq!(
        s.json(
            Method::GET,
            "/v1/items/x",
            &[
                ("x-echo-error", "NOT_FOUND"),
                ("x-echo-status-details-bin", &not_a_status),
            ],
            None,
        )
        .await,
        (
            StatusCode::NOT_FOUND,
            json!({"code": 5, "message": "echo: NOT_FOUND", "details": []})
        )
    );
    // The echo refuses a header that is not base64.
    assert_eq!(
        s.json(
            Method::GET,
            "/v1/items/x",
            &[
                ("x-echo-error", "NOT_FOUND"),
                ("x-echo-status-details-bin", "not base64!"),
            ],
            None,
        )
        .await,
        (
            StatusCode::BAD_REQUEST,
            json!({
                "code": 3,
                "message": "x-echo-status-details-bin is not base64",
                "details": [],
            })
        )
    );

    // A gRPC client gets the details as they were sent.
    use conformance_api::conformance::v1::{
        RouteProbe, routing_service_client::RoutingServiceClient,
    };
    let mut client = RoutingServiceClient::connect(s.server.grpc_url())
        .await
        .expect("connect");
    let mut request = tonic::Request::new(RouteProbe::default());
    let md = request.metadata_mut();
    md.insert("x-echo-error", "INVALID_ARGUMENT".parse().unwrap());
    md.insert("x-echo-message", "bad item".parse().unwrap());
    md.insert_bin(
        "x-echo-status-details-bin",
        tonic::metadata::MetadataValue::from_bytes(&bin),
    );
    let err = within(20, "GetItem", client.get_item(request))
        .await
        .expect_err("the echo fails the call");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(err.message(), "bad item");
    assert_eq!(err.details(), bin.as_slice());
}
